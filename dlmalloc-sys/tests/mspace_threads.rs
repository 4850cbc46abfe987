//! mspaces and threads. One locked mspace shared by eight threads (more
//! than the machine's cores) doing mixed operations, with about a fifth of
//! the blocks sent to another thread over a channel, which verifies them
//! and frees or resizes them there; the heap walker runs while the others
//! work. And eight threads each with its own unlocked mspace (half created
//! by the thread, half handed over by the main thread), destroyed by that
//! thread. Every block's contents are verified; the platform's mapped bytes
//! are back at their start level afterwards.
//!
//! The two tests hold the per-binary lock so that each sees only its own
//! mappings.

// Every unsafe block below is a call into the raw C API with handles and
// pointers this test got from the same API (or null); a SAFETY line on each
// would repeat that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;
use dlmalloc_platform_std::mapped_bytes;

mod common;

use core::ffi::c_void;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;

use common::{Rng, all_zero, assert_mspace_ok, assert_pattern, fill, serial};
use dlmalloc_sys::*;

const THREADS: usize = 8;
/// Operations per thread; a tenth under `debug-heap-walk`, where every
/// operation walks the whole heap with the lock held.
const OPS_PER_THREAD: usize = if cfg!(feature = "debug-heap-walk") {
    2_000
} else {
    20_000
};
const MAX_LIVE: usize = 400;

/// An mspace handle that may cross threads: a locked mspace may be used
/// from any thread, and an unlocked one from one thread at a time.
#[derive(Clone, Copy)]
struct Handle(usize);

impl Handle {
    fn new(msp: Mspace) -> Self {
        assert!(!msp.is_null(), "mspace creation failed");
        Handle(msp as usize)
    }

    fn msp(self) -> Mspace {
        self.0 as Mspace
    }
}

/// A block in a thread's table or in flight. The address is an integer so
/// the block can cross threads.
struct Block {
    addr: usize,
    size: usize,
    /// The pattern seed; its top byte is the allocating thread's number.
    seed: u64,
}

impl Block {
    fn ptr(&self) -> *mut c_void {
        self.addr as *mut c_void
    }

    fn verify(&self, what: &str) {
        unsafe { assert_pattern(self.ptr().cast(), 0, self.size, self.seed, what) };
    }
}

fn random_size(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0..=849 => rng.range(1, 512),
        850..=989 => rng.range(513, 32 << 10),
        _ => rng.range((32 << 10) + 1, 400 << 10),
    }
}

/// The channels of the shared-heap test: a sender to every thread (its own
/// included, never used) and this thread's receiver.
struct Mail {
    to: Vec<Sender<Block>>,
    inbox: Receiver<Block>,
}

/// Counters a worker returns.
#[derive(Default)]
struct Tally {
    sent: usize,
    received: usize,
}

/// `OPS_PER_THREAD` mixed operations on `msp` by thread `id`. With `mail`,
/// some blocks go to other threads and received blocks are verified, then
/// freed or resized and kept. With `check`, runs the heap walker now and
/// then while other threads work.
fn worker(id: usize, heap: Handle, mail: Option<Mail>, check: bool) -> Tally {
    let msp = heap.msp();
    let mut rng = Rng::new(0x7B5A_0000 + id as u64);
    let mut live: Vec<Block> = Vec::new();
    let mut tally = Tally::default();
    let mut serial = 0u64;
    let mut new_seed = || {
        serial += 1;
        ((id as u64) << 56) | serial
    };
    for op in 0..OPS_PER_THREAD {
        if let Some(mail) = &mail {
            while let Ok(b) = mail.inbox.try_recv() {
                let from = b.seed >> 56;
                b.verify(&format!("thread {id}: block received from thread {from}"));
                tally.received += 1;
                if rng.chance(70) || live.len() >= MAX_LIVE {
                    unsafe { mspace_free(msp, b.ptr()) };
                } else {
                    // Resize another thread's block and keep it.
                    let new = random_size(&mut rng);
                    let q = unsafe { mspace_realloc(msp, b.ptr(), new) };
                    assert!(!q.is_null(), "thread {id}: realloc of a received block");
                    let kept = b.size.min(new);
                    let what = format!("thread {id}: received block after realloc");
                    unsafe { assert_pattern(q.cast(), 0, kept, b.seed, &what) };
                    unsafe { fill(q.cast(), kept, new, b.seed) };
                    live.push(Block {
                        addr: q as usize,
                        size: new,
                        seed: b.seed,
                    });
                }
            }
        }
        let roll = if live.len() >= MAX_LIVE {
            rng.range(50, 99)
        } else if live.is_empty() {
            rng.below(50)
        } else {
            rng.below(100)
        };
        match roll {
            0..=34 => {
                let size = random_size(&mut rng);
                let p = unsafe { mspace_malloc(msp, size) };
                assert!(!p.is_null(), "thread {id} op {op}: malloc({size})");
                assert_eq!(p as usize % MALLOC_ALIGNMENT, 0);
                let seed = new_seed();
                unsafe { fill(p.cast(), 0, size, seed) };
                live.push(Block {
                    addr: p as usize,
                    size,
                    seed,
                });
            }
            35..=42 => {
                let size = random_size(&mut rng);
                let p = unsafe { mspace_calloc(msp, 1, size) };
                assert!(!p.is_null(), "thread {id} op {op}: calloc(1, {size})");
                assert!(
                    unsafe { all_zero(p.cast(), size) },
                    "thread {id} op {op}: calloc not zeroed"
                );
                let seed = new_seed();
                unsafe { fill(p.cast(), 0, size, seed) };
                live.push(Block {
                    addr: p as usize,
                    size,
                    seed,
                });
            }
            43..=49 => {
                let align = 1usize << rng.range(4, 14);
                let size = random_size(&mut rng);
                let p = unsafe { mspace_memalign(msp, align, size) };
                assert!(!p.is_null(), "thread {id} op {op}: memalign");
                assert_eq!(p as usize % align, 0, "thread {id}: memalign({align})");
                let seed = new_seed();
                unsafe { fill(p.cast(), 0, size, seed) };
                live.push(Block {
                    addr: p as usize,
                    size,
                    seed,
                });
            }
            50..=69 => {
                let b = live.swap_remove(rng.below(live.len()));
                b.verify(&format!("thread {id} op {op}: block before free"));
                unsafe { mspace_free(msp, b.ptr()) };
            }
            70..=87 => {
                let i = rng.below(live.len());
                live[i].verify(&format!("thread {id} op {op}: block before realloc"));
                let new = random_size(&mut rng);
                let b = &mut live[i];
                let q = unsafe { mspace_realloc(msp, b.ptr(), new) };
                assert!(!q.is_null(), "thread {id} op {op}: realloc");
                let kept = b.size.min(new);
                let what = format!("thread {id} op {op}: prefix after realloc");
                unsafe { assert_pattern(q.cast(), 0, kept, b.seed, &what) };
                unsafe { fill(q.cast(), kept, new, b.seed) };
                b.addr = q as usize;
                b.size = new;
            }
            _ => match &mail {
                Some(mail) => {
                    let b = live.swap_remove(rng.below(live.len()));
                    let mut to = rng.below(THREADS - 1);
                    if to >= id {
                        to += 1;
                    }
                    mail.to[to].send(b).expect("receivers live until all send");
                    tally.sent += 1;
                }
                None => {
                    let i = rng.below(live.len());
                    let b = &mut live[i];
                    let new = rng.range(1, b.size + 1000);
                    let q = unsafe { mspace_realloc_in_place(msp, b.ptr(), new) };
                    if !q.is_null() {
                        assert_eq!(q, b.ptr(), "thread {id}: realloc_in_place moved");
                        let kept = b.size.min(new);
                        unsafe { fill(q.cast(), kept, new, b.seed) };
                        b.size = new;
                    }
                    b.verify(&format!("thread {id} op {op}: after realloc_in_place"));
                }
            },
        }
        if check && op % 2500 == 2499 {
            unsafe { assert_mspace_ok(msp, &format!("thread {id} op {op}, others running")) };
        }
    }
    for b in live {
        b.verify(&format!("thread {id}: block at the end"));
        unsafe { mspace_free(msp, b.ptr()) };
    }
    if let Some(Mail { to, inbox }) = mail {
        // Nothing more is sent from here; drain until every thread is done.
        drop(to);
        for b in inbox {
            b.verify(&format!("thread {id}: late block from {}", b.seed >> 56));
            unsafe { mspace_free(msp, b.ptr()) };
            tally.received += 1;
        }
    }
    tally
}

fn join_all(handles: Vec<thread::JoinHandle<Tally>>) -> Vec<Tally> {
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .collect()
}

#[test]
fn eight_threads_share_one_locked_mspace() {
    let _serial = serial();
    let before = mapped_bytes();
    let heap = Handle::new(unsafe { create_mspace(0, 1) });
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| channel()).unzip();
    let mut handles = Vec::new();
    for (id, inbox) in receivers.into_iter().enumerate() {
        let mail = Mail {
            to: senders.clone(),
            inbox,
        };
        handles.push(
            thread::Builder::new()
                .name(format!("mspace-shared-{id}"))
                .spawn(move || worker(id, heap, Some(mail), id % 4 == 0))
                .expect("spawn"),
        );
    }
    drop(senders);
    let tallies = join_all(handles);
    let sent: usize = tallies.iter().map(|t| t.sent).sum();
    let received: usize = tallies.iter().map(|t| t.received).sum();
    assert_eq!(sent, received, "blocks lost in transit");
    assert!(
        sent > THREADS * OPS_PER_THREAD / 50,
        "only {sent} blocks crossed threads"
    );
    unsafe { assert_mspace_ok(heap.msp(), "after all threads finished") };
    let mi = unsafe { mspace_mallinfo(heap.msp()) };
    assert_eq!(mi.hblks, 0, "directly mapped blocks left: {mi:?}");
    let footprint = unsafe { mspace_footprint(heap.msp()) };
    assert_eq!(unsafe { destroy_mspace(heap.msp()) }, footprint);
    assert_eq!(mapped_bytes(), before, "mapped bytes after destroy_mspace");
    eprintln!("{THREADS} threads, {sent} cross-thread blocks");
}

#[test]
fn eight_threads_each_with_an_unlocked_mspace() {
    let _serial = serial();
    let before = mapped_bytes();
    let mut handles = Vec::new();
    for id in 0..THREADS {
        // Odd threads get a heap created here: an unlocked heap may move
        // to another thread as long as one thread uses it at a time.
        let given = (id % 2 == 1).then(|| Handle::new(unsafe { create_mspace(0, 0) }));
        handles.push(
            thread::Builder::new()
                .name(format!("mspace-own-{id}"))
                .spawn(move || {
                    let heap =
                        given.unwrap_or_else(|| Handle::new(unsafe { create_mspace(64 << 10, 0) }));
                    let tally = worker(id, heap, None, true);
                    unsafe { assert_mspace_ok(heap.msp(), &format!("thread {id}: end")) };
                    let footprint = unsafe { mspace_footprint(heap.msp()) };
                    let released = unsafe { destroy_mspace(heap.msp()) };
                    assert_eq!(released, footprint, "thread {id}: destroy_mspace");
                    tally
                })
                .expect("spawn"),
        );
    }
    join_all(handles);
    assert_eq!(mapped_bytes(), before, "mapped bytes after every destroy");
}
