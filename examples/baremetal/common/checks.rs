//! The allocator checks shared by the bare-metal QEMU programs.
//!
//! Each program includes this file with
//! `#[path = "../../common/checks.rs"] mod checks;`, declares `DLMalloc` as
//! its global allocator next to `static_arena!(ARENA_BYTES)`, and hands
//! [`run`] a [`Board`]: where text goes and how to start and stop a
//! periodic interrupt whose handler calls [`on_tick`]. [`run`] prints one
//! line per check and a final `PASS <board>: ...` or `FAIL <board>: ...`
//! line, and returns whether everything held.
//!
//! What the checks prove, in order:
//! 1. the arena is the one `static_arena!` declared;
//! 2. `Vec`, `Box` (over-aligned too), `String` and `BTreeMap` work and keep
//!    their contents;
//! 3. a request far bigger than the arena fails cleanly (`try_reserve`
//!    returns an error, `alloc` returns null) and the heap stays usable;
//! 4. freed memory is reused: 1000 alloc/free rounds of 1 KiB leave the
//!    footprint and the arena's free bytes unchanged, and filling the
//!    arena with 512-byte blocks twice (freeing in between) gets the same
//!    number of blocks, using more than 90% of the arena;
//! 5. an interrupt handler allocates and frees while the main loop does the
//!    same, many times, with every block's contents verified;
//! 6. C code calls `malloc`, `calloc`, `realloc`, `free` and the aligned
//!    allocations (`c_heap.c`, through `dlmalloc-libc`) on the same heap;
//! 7. `heap_check` finds no broken invariant after each phase.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering};

use dlmalloc::DLMalloc;
use dlmalloc_platform_baremetal::arena_stats;
// malloc & co. for the C code.
use dlmalloc_libc as _;

/// The size of the static arena each program declares.
pub const ARENA_BYTES: usize = 64 * 1024;

/// Interrupt rounds the interrupt phase waits for.
const TICK_ROUNDS_WANTED: u32 = 1000;
/// Main-loop rounds the interrupt phase runs at least.
const MAIN_ROUNDS_WANTED: u32 = 1000;
/// Main-loop rounds after which the interrupt phase gives up waiting.
const MAIN_ROUNDS_LIMIT: u32 = 2_000_000;

/// What differs between the machines.
pub trait Board: Write {
    /// The name in the output lines (`cortex-m`, `riscv64`).
    const NAME: &'static str;
    /// Starts a periodic interrupt whose handler calls [`on_tick`].
    fn start_ticks(&mut self);
    /// Stops it; no [`on_tick`] call runs after this returns.
    fn stop_ticks(&mut self);
}

/// Interrupt rounds completed by [`on_tick`].
static TICK_ROUNDS: AtomicU32 = AtomicU32::new(0);
/// Blocks [`on_tick`] allocated and freed.
static TICK_ALLOCATIONS: AtomicU32 = AtomicU32::new(0);
/// Blocks whose contents [`on_tick`] found changed.
static TICK_CORRUPTIONS: AtomicU32 = AtomicU32::new(0);

/// The interrupt handler's work: allocates a `Box`, a `Vec` whose length
/// varies, and a `String`, checks their contents and frees them.
pub fn on_tick() {
    let round = TICK_ROUNDS.load(Ordering::Relaxed);
    let boxed = Box::new([round; 16]);
    let len = (round as usize * 13) % 200 + 1;
    let bytes: Vec<u8> = (0..len).map(|i| (i as u32 ^ round) as u8).collect();
    let mut text = String::new();
    let _ = write!(text, "tick {round}");
    let intact = boxed.iter().all(|&word| word == round)
        && bytes.len() == len
        && bytes
            .iter()
            .enumerate()
            .all(|(i, &byte)| byte == (i as u32 ^ round) as u8)
        && text
            .strip_prefix("tick ")
            .and_then(|n| n.parse::<u32>().ok())
            == Some(round);
    drop((boxed, bytes, text));
    if !intact {
        TICK_CORRUPTIONS.fetch_add(1, Ordering::Relaxed);
    }
    TICK_ALLOCATIONS.fetch_add(3, Ordering::Relaxed);
    TICK_ROUNDS.store(round + 1, Ordering::Relaxed);
}

/// A failed check: its name and what went wrong.
struct Failure {
    check: &'static str,
    detail: String,
}

type Outcome<T = ()> = Result<T, Failure>;

/// Returns a [`Failure`] of `$check` with a formatted detail unless `$cond`.
macro_rules! ensure {
    ($check:expr, $cond:expr, $($detail:tt)+) => {
        if !$cond {
            return Err(Failure { check: $check, detail: alloc::format!($($detail)+) });
        }
    };
}

/// Figures gathered by the checks for the summary line.
#[derive(Default)]
struct Findings {
    reuse_rounds: usize,
    footprint: usize,
    fill_blocks: usize,
    fill_percent: usize,
    tick_rounds: u32,
    tick_allocations: u32,
    main_rounds: u32,
}

/// Runs every check, printing one line each and the final PASS or FAIL
/// line. Returns whether all passed.
pub fn run<B: Board>(board: &mut B) -> bool {
    let mut findings = Findings::default();
    let outcome = run_checks(board, &mut findings);
    // The ticks must not outlive a failed interrupt phase.
    board.stop_ticks();
    let passed = outcome.is_ok();
    let printed = match outcome {
        Ok(()) => {
            let stats = DLMalloc.stats();
            let arena = arena_stats();
            writeln!(
                board,
                "PASS {}: collections ok, 1 MiB request refused, {} x 1 KiB reused \
                 (footprint {} B), arena filled twice with {} x 512 B ({}% of {} KiB), \
                 {} interrupt rounds ({} allocations) during {} main rounds, \
                 heap_check clean; footprint {} B, max {} B, arena free {} B",
                B::NAME,
                findings.reuse_rounds,
                findings.footprint,
                findings.fill_blocks,
                findings.fill_percent,
                ARENA_BYTES / 1024,
                findings.tick_rounds,
                findings.tick_allocations,
                findings.main_rounds,
                stats.footprint,
                stats.max_footprint,
                arena.free_bytes,
            )
        }
        Err(failure) => writeln!(
            board,
            "FAIL {}: {}: {}",
            B::NAME,
            failure.check,
            failure.detail
        ),
    };
    passed && printed.is_ok()
}

fn run_checks<B: Board>(board: &mut B, findings: &mut Findings) -> Outcome {
    step(board, "arena", check_arena())?;
    step(board, "collections", check_collections())?;
    step(board, "heap_check after collections", check_heap())?;
    step(board, "too-big requests", check_too_big())?;
    findings.reuse_rounds = 1000;
    findings.footprint = step(
        board,
        "reuse after free",
        check_reuse(findings.reuse_rounds),
    )?;
    let (blocks, percent) = step(board, "fill the arena twice", check_fill())?;
    findings.fill_blocks = blocks;
    findings.fill_percent = percent;
    step(board, "heap_check after fill", check_heap())?;
    let interrupts = check_interrupts(board);
    let (ticks, allocations, rounds) =
        step(board, "allocations in interrupts and main", interrupts)?;
    findings.tick_rounds = ticks;
    findings.tick_allocations = allocations;
    findings.main_rounds = rounds;
    step(board, "heap_check after interrupts", check_heap())?;
    step(board, "C malloc and free (c_heap.c)", check_c_heap())?;
    step(board, "heap_check after C", check_heap())?;
    Ok(())
}

/// Prints `ok <name>` when `outcome` is a success and passes it on.
fn step<B: Board, T>(board: &mut B, name: &str, outcome: Outcome<T>) -> Outcome<T> {
    if outcome.is_ok() {
        let _ = writeln!(board, "ok   {name}");
    }
    outcome
}

fn check_arena() -> Outcome {
    let arena = arena_stats();
    ensure!(
        "arena",
        arena.total_bytes == ARENA_BYTES && arena.regions == 1,
        "expected one region of {ARENA_BYTES} B, got {} region(s), {} B",
        arena.regions,
        arena.total_bytes
    );
    Ok(())
}

/// A type whose alignment the core's plain malloc does not give.
#[repr(align(256))]
struct Aligned([u8; 256]);

fn check_collections() -> Outcome {
    const CHECK: &str = "collections";

    // A Vec grown one push at a time: every growth is a realloc.
    let mut squares = Vec::new();
    for i in 0..1000u32 {
        squares.push(i * i);
    }
    ensure!(
        CHECK,
        squares
            .iter()
            .enumerate()
            .all(|(i, &sq)| sq == (i * i) as u32),
        "Vec<u32> lost its contents while growing"
    );

    let boxed = Box::new([0xA5A5_5A5Au32; 64]);
    ensure!(
        CHECK,
        boxed.iter().all(|&w| w == 0xA5A5_5A5A),
        "Box<[u32; 64]> contents"
    );
    let aligned = Box::new(Aligned([7; 256]));
    ensure!(
        CHECK,
        (&*aligned as *const Aligned as usize) % 256 == 0 && aligned.0.iter().all(|&b| b == 7),
        "Box of a 256-aligned type at {:p}",
        &*aligned
    );

    let mut text = String::new();
    for word in ["bare", "metal", "heap"] {
        text.push_str(word);
        text.push(' ');
    }
    let _ = write!(text, "{}", 42);
    ensure!(CHECK, text == "bare metal heap 42", "String is {text:?}");

    let mut map = BTreeMap::new();
    for key in 0..300u32 {
        map.insert(key, alloc::format!("value {key}"));
    }
    for key in (0..300u32).step_by(2) {
        map.remove(&key);
    }
    ensure!(
        CHECK,
        map.len() == 150,
        "BTreeMap has {} entries, expected 150",
        map.len()
    );
    ensure!(
        CHECK,
        map.iter()
            .all(|(key, value)| key % 2 == 1 && *value == alloc::format!("value {key}")),
        "BTreeMap entries changed"
    );

    let nested: Vec<Vec<u8>> = (0..50).map(|n| alloc::vec![n as u8; n * 3]).collect();
    ensure!(
        CHECK,
        nested
            .iter()
            .enumerate()
            .all(|(n, v)| v.len() == n * 3 && v.iter().all(|&b| b == n as u8)),
        "Vec<Vec<u8>> contents"
    );
    Ok(())
}

fn check_heap() -> Outcome {
    match DLMalloc.heap_check() {
        Ok(()) => Ok(()),
        Err(error) => Err(Failure {
            check: "heap_check",
            detail: alloc::format!("{error}"),
        }),
    }
}

unsafe extern "C" {
    /// `c_heap.c`: 0, or the line of the first failed check.
    fn c_heap_check() -> core::ffi::c_int;
}

fn check_c_heap() -> Outcome {
    let in_use = DLMalloc.stats().in_use_bytes;
    // SAFETY: the C check takes no arguments and frees what it allocates.
    let failed_line = unsafe { c_heap_check() };
    ensure!(
        "C malloc and free",
        failed_line == 0,
        "the check at c_heap.c line {failed_line} failed"
    );
    let after = DLMalloc.stats().in_use_bytes;
    ensure!(
        "C malloc and free",
        after == in_use,
        "C left {} bytes in use",
        after.abs_diff(in_use)
    );
    Ok(())
}

fn check_too_big() -> Outcome {
    const CHECK: &str = "too-big requests";
    let mut bytes: Vec<u8> = Vec::new();
    ensure!(
        CHECK,
        bytes.try_reserve_exact(1 << 20).is_err(),
        "try_reserve_exact(1 MiB) succeeded in a {ARENA_BYTES} B arena"
    );

    let layout = Layout::from_size_align(1 << 20, 8).expect("a valid layout");
    // SAFETY: the layout has a non-zero size.
    let block = unsafe { alloc::alloc::alloc(layout) };
    if !block.is_null() {
        // SAFETY: `block` came from `alloc` with this layout.
        unsafe { alloc::alloc::dealloc(block, layout) };
    }
    ensure!(CHECK, block.is_null(), "alloc(1 MiB) returned {block:p}");

    let over_aligned = Layout::from_size_align(ARENA_BYTES, 4096).expect("a valid layout");
    // SAFETY: the layout has a non-zero size.
    let block = unsafe { alloc::alloc::alloc(over_aligned) };
    if !block.is_null() {
        // SAFETY: `block` came from `alloc` with this layout.
        unsafe { alloc::alloc::dealloc(block, over_aligned) };
    }
    ensure!(
        CHECK,
        block.is_null(),
        "alloc(the whole arena, 4 KiB aligned) returned {block:p}"
    );

    // The heap still serves ordinary requests.
    bytes.extend_from_slice(&[1, 2, 3]);
    ensure!(CHECK, bytes == [1, 2, 3], "a small Vec after the refusals");
    check_heap()
}

/// Allocates and frees a 1 KiB block `rounds` times; returns the footprint,
/// which must not have moved.
fn check_reuse(rounds: usize) -> Outcome<usize> {
    const CHECK: &str = "reuse after free";
    let layout = Layout::from_size_align(1024, 8).expect("a valid layout");
    // One round first, so that the heap holds the memory the loop needs.
    drop(alloc::vec![0u8; 1024]);
    let footprint = DLMalloc.stats().footprint;
    let arena_free = arena_stats().free_bytes;
    for round in 0..rounds {
        // SAFETY: the layout has a non-zero size.
        let block = unsafe { alloc::alloc::alloc(layout) };
        ensure!(
            CHECK,
            !block.is_null(),
            "round {round}: alloc(1 KiB) failed"
        );
        // SAFETY: `block` is a fresh 1024-byte allocation.
        let bytes = unsafe { core::slice::from_raw_parts_mut(block, 1024) };
        bytes.fill(round as u8);
        let intact = bytes.iter().all(|&b| b == round as u8);
        // SAFETY: `block` came from `alloc` with this layout; `bytes` is dead.
        unsafe { alloc::alloc::dealloc(block, layout) };
        ensure!(CHECK, intact, "round {round}: the block changed under us");
        let now = DLMalloc.stats().footprint;
        ensure!(
            CHECK,
            now == footprint,
            "round {round}: footprint grew from {footprint} B to {now} B"
        );
    }
    let arena_free_after = arena_stats().free_bytes;
    ensure!(
        CHECK,
        arena_free_after == arena_free,
        "the arena's free bytes went from {arena_free} B to {arena_free_after} B"
    );
    Ok(footprint)
}

/// Fills the arena with 512-byte blocks until allocation fails, frees them,
/// and does it again. Returns the block count and the share of the arena
/// it used, in percent.
fn check_fill() -> Outcome<(usize, usize)> {
    const CHECK: &str = "fill the arena twice";
    const BLOCK: usize = 512;
    const SLOTS: usize = 2 * ARENA_BYTES / BLOCK;
    let layout = Layout::from_size_align(BLOCK, 8).expect("a valid layout");
    let mut blocks = [core::ptr::null_mut::<u8>(); SLOTS];
    let mut counts = [0usize; 2];
    for count in &mut counts {
        let mut filled = 0;
        while filled < SLOTS {
            // SAFETY: the layout has a non-zero size.
            let block = unsafe { alloc::alloc::alloc(layout) };
            if block.is_null() {
                break;
            }
            // SAFETY: `block` is a fresh allocation of BLOCK bytes.
            unsafe { core::ptr::write_bytes(block, filled as u8, BLOCK) };
            blocks[filled] = block;
            filled += 1;
        }
        ensure!(
            CHECK,
            filled < SLOTS,
            "{SLOTS} blocks of {BLOCK} B fit in {ARENA_BYTES} B"
        );
        for (n, &block) in blocks[..filled].iter().enumerate() {
            // SAFETY: every block was filled above and is still allocated.
            let bytes = unsafe { core::slice::from_raw_parts(block, BLOCK) };
            ensure!(
                CHECK,
                bytes.iter().all(|&b| b == n as u8),
                "block {n} was overwritten"
            );
        }
        for &block in &blocks[..filled] {
            // SAFETY: each block came from `alloc` with this layout, once.
            unsafe { alloc::alloc::dealloc(block, layout) };
        }
        *count = filled;
    }
    ensure!(
        CHECK,
        counts[0] == counts[1],
        "the first fill took {} blocks, the second {}: freed memory was not all reused",
        counts[0],
        counts[1]
    );
    let percent = counts[0] * BLOCK * 100 / ARENA_BYTES;
    ensure!(
        CHECK,
        percent > 90,
        "only {} x {BLOCK} B = {percent}% of the {ARENA_BYTES} B arena was usable",
        counts[0]
    );
    Ok((counts[0], percent))
}

/// One block the main loop keeps alive across rounds.
struct Live {
    seed: u32,
    words: Vec<u32>,
}

impl Live {
    fn new(seed: u32) -> Live {
        let len = (seed as usize * 7) % 300 + 1;
        Live {
            seed,
            words: (0..len as u32)
                .map(|i| i.wrapping_mul(seed) ^ seed)
                .collect(),
        }
    }

    fn intact(&self) -> bool {
        self.words.len() == (self.seed as usize * 7) % 300 + 1
            && self
                .words
                .iter()
                .enumerate()
                .all(|(i, &w)| w == (i as u32).wrapping_mul(self.seed) ^ self.seed)
    }
}

/// Runs the main loop's allocations with the ticks on, until the interrupt
/// handler has done [`TICK_ROUNDS_WANTED`] rounds and the main loop
/// [`MAIN_ROUNDS_WANTED`]. Returns the interrupt rounds, their allocations
/// and the main rounds.
fn check_interrupts<B: Board>(board: &mut B) -> Outcome<(u32, u32, u32)> {
    const CHECK: &str = "allocations in interrupts and main";
    const LIVE: usize = 16;
    let mut live: Vec<Live> = (0..LIVE as u32).map(Live::new).collect();
    let mut main_rounds = 0u32;
    board.start_ticks();
    while (TICK_ROUNDS.load(Ordering::Relaxed) < TICK_ROUNDS_WANTED
        || main_rounds < MAIN_ROUNDS_WANTED)
        && main_rounds < MAIN_ROUNDS_LIMIT
    {
        let slot = main_rounds as usize % LIVE;
        let seed = main_rounds + LIVE as u32;
        let old = core::mem::replace(&mut live[slot], Live::new(seed));
        ensure!(
            CHECK,
            old.intact(),
            "main round {main_rounds}: a live Vec changed"
        );
        if main_rounds % 64 == 0 {
            let mut map = BTreeMap::new();
            for key in 0..20u32 {
                map.insert(key, Box::new(key ^ seed));
            }
            ensure!(
                CHECK,
                map.iter().all(|(k, v)| **v == k ^ seed),
                "main round {main_rounds}: a BTreeMap changed"
            );
        }
        main_rounds += 1;
    }
    board.stop_ticks();
    let ticks = TICK_ROUNDS.load(Ordering::Relaxed);
    let allocations = TICK_ALLOCATIONS.load(Ordering::Relaxed);
    let corruptions = TICK_CORRUPTIONS.load(Ordering::Relaxed);
    ensure!(
        CHECK,
        ticks >= TICK_ROUNDS_WANTED,
        "only {ticks} interrupt rounds in {main_rounds} main rounds: do the ticks fire?"
    );
    ensure!(
        CHECK,
        corruptions == 0,
        "{corruptions} interrupt rounds found changed blocks"
    );
    ensure!(
        CHECK,
        live.iter().all(Live::intact),
        "a live Vec changed during the interrupt phase"
    );
    Ok((ticks, allocations, main_rounds))
}
