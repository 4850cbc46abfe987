//! Eight threads (more than the machine's cores) hammer a heap with mixed
//! operations: malloc, calloc, memalign, free, realloc, and either a hand-over
//! of a block to the next thread or a realloc_in_place. Every block carries
//! a pattern derived from its owner, verified before every free or resize;
//! a thread that receives a block verifies it and frees it or resizes it
//! and keeps it (frees and reallocs from a thread that did not allocate the
//! block). Some threads run the heap checker while the others keep working.
//!
//! The one worker runs on three setups: the global heap shared by all
//! threads; one locked mspace shared by all threads; and one unlocked
//! mspace per thread (half created by the thread, half handed over by the
//! main thread), destroyed by that thread. For the mspaces, the platform's
//! mapped bytes are back at their start level afterwards; the tests hold
//! the per-binary lock so that each sees only its own mappings.

// Every unsafe block below is a call into the raw C API with handles and
// pointers this test got from the same API (or null); a SAFETY line on each
// would repeat that sentence dozens of times.
#![allow(clippy::undocumented_unsafe_blocks)]

use dlmalloc_platform_std as _;
use dlmalloc_platform_std::mapped_bytes;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;

use dlmalloc_sys::*;
use dlmalloc_test_support::{Heap, Rng, all_zero, assert_pattern, fill, serial};

const THREADS: usize = 8;

/// How a run goes: its length, its sizes, its seeds and who checks.
#[derive(Clone, Copy)]
struct Plan {
    ops_per_thread: usize,
    max_live: usize,
    /// The largest request.
    largest: usize,
    /// Thread `id` seeds its generator with `seed + id`.
    seed: u64,
    /// Which threads run the heap checker, every `check_every` operations.
    checkers: fn(usize) -> bool,
    check_every: usize,
}

/// The global heap: 50 000 operations per thread, blocks up to 1 MiB (past
/// the mmap threshold), thread 0 checks. A tenth of the operations under
/// `debug-heap-walk`, where every operation walks the whole heap with the
/// lock held.
const GLOBAL: Plan = Plan {
    ops_per_thread: if cfg!(feature = "debug-heap-walk") {
        5_000
    } else {
        50_000
    },
    max_live: 500,
    largest: 1 << 20,
    seed: 0x7EAD_0000,
    checkers: |id| id == 0,
    check_every: 5000,
};

/// The mspaces: 20 000 operations per thread, blocks up to 400 KiB.
const MSPACE: Plan = Plan {
    ops_per_thread: if cfg!(feature = "debug-heap-walk") {
        2_000
    } else {
        20_000
    },
    max_live: 400,
    largest: 400 << 10,
    seed: 0x7B5A_0000,
    checkers: |id| id % 4 == 0,
    check_every: 2500,
};

/// A heap that may cross threads.
#[derive(Clone, Copy)]
struct SendHeap(Heap);

// SAFETY: the global heap and a locked mspace may be used from any thread;
// each unlocked mspace here is used by the one thread it is handed to.
unsafe impl Send for SendHeap {}

/// A block in a thread's table or in flight. The address is an integer so
/// the block can cross threads.
struct Block {
    addr: usize,
    size: usize,
    /// The pattern seed; its top byte is the allocating thread's number.
    seed: u64,
    /// The thread that sent it, once it travels.
    from: usize,
}

impl Block {
    fn ptr(&self) -> *mut u8 {
        self.addr as *mut u8
    }

    fn verify(&self, what: &str) {
        unsafe { assert_pattern(self.ptr(), 0, self.size, self.seed, what) };
    }
}

/// The channels of a shared heap: a sender to the next thread and this
/// thread's receiver, which gets blocks from the previous one.
struct Mail {
    to_next: Sender<Block>,
    inbox: Receiver<Block>,
}

/// Counters a worker returns.
#[derive(Default)]
struct Tally {
    sent: usize,
    received: usize,
}

fn random_size(rng: &mut Rng, largest: usize) -> usize {
    match rng.below(1000) {
        0..=849 => rng.range(1, 512),
        850..=989 => rng.range(513, 32 << 10),
        _ => rng.range((32 << 10) + 1, largest),
    }
}

/// Resizes `b` to `new` bytes with realloc, checking the kept prefix and
/// patterning the rest.
fn resize(heap: Heap, b: &mut Block, new: usize, what: &str) {
    let q = unsafe { heap.realloc(b.ptr(), new) };
    assert!(!q.is_null(), "{what}: realloc returned null");
    let kept = b.size.min(new);
    unsafe { assert_pattern(q, 0, kept, b.seed, &format!("{what}: prefix after realloc")) };
    unsafe { fill(q, kept, new, b.seed) };
    b.addr = q as usize;
    b.size = new;
}

/// `plan.ops_per_thread` mixed operations on `heap` by thread `id`. With
/// `mail`, some blocks go to the next thread and received blocks are
/// verified, then freed or resized and kept; without, those operations are
/// realloc_in_place.
fn worker(id: usize, heap: Heap, mail: Option<Mail>, plan: Plan) -> Tally {
    let name = heap.name();
    let mut rng = Rng::new(plan.seed + id as u64);
    let mut live: Vec<Block> = Vec::new();
    let mut tally = Tally::default();
    let mut serial = 0u64;
    let mut new_seed = || {
        serial += 1;
        ((id as u64) << 56) | serial
    };
    let mut adopt = |p: *mut u8, size: usize, live: &mut Vec<Block>| {
        let seed = new_seed();
        unsafe { fill(p, 0, size, seed) };
        live.push(Block {
            addr: p as usize,
            size,
            seed,
            from: id,
        });
    };
    let check = (plan.checkers)(id);
    for op in 0..plan.ops_per_thread {
        if let Some(mail) = &mail {
            // What the previous thread handed over, after checking that
            // its owner's pattern survived the trip.
            while let Ok(mut b) = mail.inbox.try_recv() {
                assert_eq!(b.from, (id + THREADS - 1) % THREADS);
                let what = format!("{name}: thread {id}: block received from thread {}", b.from);
                b.verify(&what);
                tally.received += 1;
                if rng.chance(70) || live.len() >= plan.max_live {
                    unsafe { heap.free(b.ptr()) };
                } else {
                    let new = random_size(&mut rng, plan.largest);
                    resize(heap, &mut b, new, &what);
                    live.push(b);
                }
            }
        }
        let roll = if live.len() >= plan.max_live {
            rng.range(50, 99)
        } else if live.is_empty() {
            rng.below(50)
        } else {
            rng.below(100)
        };
        let what = format!("{name}: thread {id} op {op}");
        match roll {
            0..=34 => {
                let size = random_size(&mut rng, plan.largest);
                let p = heap.malloc(size);
                assert!(!p.is_null(), "{what}: malloc({size}) returned null");
                assert_eq!(p as usize % MALLOC_ALIGNMENT, 0);
                adopt(p, size, &mut live);
            }
            35..=42 => {
                let size = random_size(&mut rng, plan.largest);
                let p = heap.calloc(1, size);
                assert!(!p.is_null(), "{what}: calloc(1, {size}) returned null");
                assert!(unsafe { all_zero(p, size) }, "{what}: calloc not zeroed");
                adopt(p, size, &mut live);
            }
            43..=49 => {
                let align = 1usize << rng.range(4, 14);
                let size = random_size(&mut rng, plan.largest);
                let p = heap.memalign(align, size);
                assert!(!p.is_null(), "{what}: memalign returned null");
                assert_eq!(
                    p as usize % align,
                    0,
                    "{what}: memalign({align}) misaligned"
                );
                adopt(p, size, &mut live);
            }
            50..=69 => {
                let b = live.swap_remove(rng.below(live.len()));
                b.verify(&format!("{what}: own block before free"));
                unsafe { heap.free(b.ptr()) };
            }
            70..=87 => {
                let i = rng.below(live.len());
                live[i].verify(&format!("{what}: block before realloc"));
                let new = random_size(&mut rng, plan.largest);
                resize(heap, &mut live[i], new, &what);
            }
            _ => match &mail {
                Some(mail) => {
                    // Hand a block to the next thread, which frees or
                    // resizes it.
                    let mut b = live.swap_remove(rng.below(live.len()));
                    b.from = id;
                    mail.to_next.send(b).expect("the next thread hung up early");
                    tally.sent += 1;
                }
                None => {
                    let i = rng.below(live.len());
                    let b = &mut live[i];
                    let new = rng.range(1, b.size + 1000);
                    let q = unsafe { heap.realloc_in_place(b.ptr(), new) };
                    if !q.is_null() {
                        assert_eq!(q, b.ptr(), "{what}: realloc_in_place moved");
                        let kept = b.size.min(new);
                        unsafe { fill(q, kept, new, b.seed) };
                        b.size = new;
                    }
                    b.verify(&format!("{what}: after realloc_in_place"));
                }
            },
        }
        if check && op % plan.check_every == plan.check_every - 1 {
            // Concurrent with the other threads' operations.
            heap.assert_ok(&format!("{what}, others running"));
        }
    }
    for b in live {
        b.verify(&format!("{name}: thread {id}: block at the end"));
        unsafe { heap.free(b.ptr()) };
    }
    if let Some(Mail { to_next, inbox }) = mail {
        // Nothing more is sent from here; drain until the previous thread
        // is done.
        drop(to_next);
        for b in inbox {
            b.verify(&format!("{name}: thread {id}: late block from {}", b.from));
            unsafe { heap.free(b.ptr()) };
            tally.received += 1;
        }
    }
    tally
}

/// Runs the worker on `heap` in eight threads that pass blocks around a
/// ring, checks that every block sent arrived, and that enough crossed.
fn shared_heap(heap: Heap, plan: Plan) {
    let heap = SendHeap(heap);
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| channel()).unzip();
    let mut handles = Vec::new();
    for (id, inbox) in receivers.into_iter().enumerate() {
        // Thread `id` sends to thread `id + 1` and receives on its own
        // channel.
        let mail = Mail {
            to_next: senders[(id + 1) % THREADS].clone(),
            inbox,
        };
        handles.push(
            thread::Builder::new()
                .name(format!("dl-stress-{id}"))
                .spawn(move || {
                    let heap = heap;
                    worker(id, heap.0, Some(mail), plan)
                })
                .expect("spawn"),
        );
    }
    drop(senders);
    let tallies = join_all(handles);
    let sent: usize = tallies.iter().map(|t| t.sent).sum();
    let received: usize = tallies.iter().map(|t| t.received).sum();
    assert_eq!(sent, received, "blocks lost in transit");
    assert!(
        sent > THREADS * plan.ops_per_thread / 50,
        "only {sent} blocks crossed threads"
    );
    eprintln!(
        "{}: {THREADS} threads, {sent} cross-thread blocks",
        heap.0.name()
    );
    heap.0.assert_ok("after all threads finished");
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
fn threads_allocate_and_free_across_each_other() {
    // The global heap's mappings would upset the mspace tests' counts.
    let _serial = serial();
    shared_heap(Heap::GLOBAL, GLOBAL);
}

#[test]
fn eight_threads_share_one_locked_mspace() {
    let _serial = serial();
    let before = mapped_bytes();
    let msp = unsafe { create_mspace(0, 1) };
    assert!(!msp.is_null(), "create_mspace failed");
    // SAFETY: locked, so any thread may use it; destroyed after the threads.
    let heap = unsafe { Heap::mspace(msp) };
    shared_heap(heap, MSPACE);
    let mi = heap.mallinfo();
    assert_eq!(mi.hblks, 0, "directly mapped blocks left: {mi:?}");
    let footprint = heap.footprint();
    assert_eq!(unsafe { destroy_mspace(msp) }, footprint);
    assert_eq!(mapped_bytes(), before, "mapped bytes after destroy_mspace");
}

#[test]
fn eight_threads_each_with_an_unlocked_mspace() {
    let _serial = serial();
    let before = mapped_bytes();
    let create = |capacity| {
        let msp = unsafe { create_mspace(capacity, 0) };
        assert!(!msp.is_null(), "create_mspace failed");
        // SAFETY: used by the one thread it goes to, destroyed there.
        SendHeap(unsafe { Heap::mspace(msp) })
    };
    let mut handles = Vec::new();
    for id in 0..THREADS {
        // Odd threads get a heap created here: an unlocked heap may move
        // to another thread as long as one thread uses it at a time.
        let given = (id % 2 == 1).then(|| create(0));
        handles.push(
            thread::Builder::new()
                .name(format!("mspace-own-{id}"))
                .spawn(move || {
                    let heap = given.unwrap_or_else(|| create(64 << 10)).0;
                    let plan = Plan {
                        checkers: |_| true,
                        ..MSPACE
                    };
                    let tally = worker(id, heap, None, plan);
                    heap.assert_ok(&format!("thread {id}: end"));
                    let footprint = heap.footprint();
                    let msp = heap.as_mspace().expect("an mspace");
                    let released = unsafe { destroy_mspace(msp) };
                    assert_eq!(released, footprint, "thread {id}: destroy_mspace");
                    tally
                })
                .expect("spawn"),
        );
    }
    join_all(handles);
    assert_eq!(mapped_bytes(), before, "mapped bytes after every destroy");
}
