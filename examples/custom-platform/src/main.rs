//! A program that brings its own platform: the dlmalloc core as the global
//! allocator, on hooks defined in `src/hooks/` (pages from a fixed 8 MiB
//! pool, a counting spin lock, an abort that does not allocate), with no
//! platform crate in the build.
//!
//! It runs a small workload (a large block that gets a mapping of its own,
//! a request the pool cannot serve, collections, threads, a trim), prints
//! the pool's usage log and counters, the lock counters and the heap
//! statistics, runs the heap check, and cross-checks the platform's view
//! against the core's. It prints "all checks passed" and exits 0, or lists
//! the failed checks and exits 1.
//!
//! `custom-platform-example --double-free` frees a block twice instead, to
//! show `custom_abort` at work: the process prints one line and dies by
//! `SIGABRT`.

mod hooks;

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::thread;

use hooks::pages::{self, EventKind, PAGE_SIZE, POOL_BYTES, POOL_PAGES};
use hooks::{lock, pages::PoolReport};

#[global_allocator]
static GLOBAL: dlmalloc::DLMalloc = dlmalloc::DLMalloc;

/// Size of the block that must get a mapping of its own: above the core's
/// default mmap threshold (256 KiB).
const LARGE_BLOCK: usize = 1 << 20;
/// Worker threads; more than this machine's cores, so they contend.
const THREADS: u32 = 4;
/// Events of the usage log printed at the end.
const SHOWN_EVENTS: usize = 16;

/// Failed checks, collected so that one run reports all of them.
#[derive(Default)]
struct Checks {
    failures: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }
}

/// Offset of `addr` in the pool, for printing.
fn in_pool(addr: usize) -> String {
    format!("pool+{:#09x}", addr.wrapping_sub(pages::pool_base()))
}

/// Events recorded since `since` (a `total_events` value), oldest first.
fn events_since(report: &PoolReport, since: u64) -> impl Iterator<Item = pages::Event> + '_ {
    report.events().filter(move |event| event.seq >= since)
}

/// A block above the mmap threshold gets a mapping of its own, which goes
/// straight back to the pool when the block is freed. Runs first, while the
/// heap is small: a request the heap's free memory can serve is served
/// there instead.
fn large_block(checks: &mut Checks) {
    let since = pages::report().total_events();
    let block = vec![0x5au8; LARGE_BLOCK];
    let addr = block.as_ptr().addr();
    let stats = GLOBAL.stats();
    let mapping = events_since(&pages::report(), since).find(|event| {
        event.kind == EventKind::Map && (event.addr..event.addr + event.len).contains(&addr)
    });
    checks.check(stats.mmapped_chunks >= 1, || {
        format!("a {LARGE_BLOCK}-byte block made no directly mapped chunk:\n{stats}")
    });
    checks.check(block.iter().all(|&byte| byte == 0x5a), || {
        "the large block lost its contents".to_string()
    });
    let Some(mapping) = mapping else {
        checks.check(false, || {
            format!("no map event covers the large block at {}", in_pool(addr))
        });
        return;
    };
    drop(block);
    let returned = events_since(&pages::report(), mapping.seq).any(|event| {
        event.kind == EventKind::Unmap && event.addr == mapping.addr && event.len == mapping.len
    });
    checks.check(returned, || {
        format!(
            "freeing the large block did not unmap {} ({} bytes)",
            in_pool(mapping.addr),
            mapping.len
        )
    });
    println!(
        "large block: {LARGE_BLOCK} bytes got a mapping of its own at {} ({} bytes); \
         freeing it {} the mapping",
        in_pool(mapping.addr),
        mapping.len,
        if returned {
            "unmapped"
        } else {
            "did NOT unmap"
        },
    );
}

/// A request larger than the pool fails cleanly: the pool says "no pages",
/// the core returns null, and Rust sees an error instead of an abort.
fn exhaustion(checks: &mut Checks) {
    let before = pages::report();
    let footprint = GLOBAL.stats().footprint;
    let mut buffer: Vec<u8> = Vec::new();
    let result = buffer.try_reserve_exact(2 * POOL_BYTES);
    let after = pages::report();
    let failed_maps = after.exhausted - before.exhausted;
    checks.check(result.is_err(), || {
        format!(
            "reserving {} bytes from an 8 MiB pool succeeded",
            2 * POOL_BYTES
        )
    });
    checks.check(failed_maps >= 1, || {
        "the oversized request never reached custom_mmap".to_string()
    });
    checks.check(GLOBAL.stats().footprint == footprint, || {
        "a failed request changed the footprint".to_string()
    });
    println!(
        "exhaustion: reserving {} bytes failed cleanly; {failed_maps} custom_mmap calls found no pages",
        2 * POOL_BYTES
    );
}

/// Ordinary collections on the global allocator.
fn collections(checks: &mut Checks) {
    let numbers: Vec<u64> = (0..100_000).collect();
    checks.check(numbers.iter().sum::<u64>() == 4_999_950_000, || {
        "Vec<u64> sum is wrong".to_string()
    });
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&i.to_string());
        text.push(',');
    }
    checks.check(text.len() == 3890 && text.starts_with("0,1,2,"), || {
        "String contents are wrong".to_string()
    });
    let squares: BTreeMap<u32, String> = (0..5000).map(|i| (i, (i * i).to_string())).collect();
    checks.check(squares[&4999] == "24990001", || {
        "BTreeMap contents are wrong".to_string()
    });
    let lengths: HashMap<String, usize> = squares.values().map(|s| (s.clone(), s.len())).collect();
    checks.check(lengths.len() == 5000 && lengths["24990001"] == 8, || {
        "HashMap contents are wrong".to_string()
    });
    println!("collections: Vec, String, BTreeMap, HashMap ok");
}

/// Threads allocating and freeing at once, so the lock hooks see contention.
/// Every block's contents are verified.
fn threads(checks: &mut Checks) {
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || {
                let mut verified = 0u32;
                for round in 0..40u32 {
                    let tag = t * 1_000_000 + round * 1000;
                    let blocks: Vec<Vec<u32>> = (0..250u32)
                        .map(|i| vec![tag + i; (i % 97 + 1) as usize])
                        .collect();
                    for (i, block) in (0u32..).zip(&blocks) {
                        if block.len() != (i % 97 + 1) as usize
                            || block.iter().any(|&x| x != tag + i)
                        {
                            return Err(format!("thread {t} round {round}: block {i} changed"));
                        }
                        verified += 1;
                    }
                }
                Ok(verified)
            })
        })
        .collect();
    let mut verified = 0;
    for worker in workers {
        match worker.join() {
            Ok(Ok(count)) => verified += count,
            Ok(Err(failure)) => checks.check(false, || failure),
            Err(_) => checks.check(false, || "a worker thread panicked".to_string()),
        }
    }
    println!("threads: {THREADS} threads, {verified} blocks verified");
}

/// Grows the heap with many small blocks, frees them, and trims: the freed
/// top goes back to the pool.
fn trim(checks: &mut Checks) {
    let blocks: Vec<Vec<u8>> = (0..1500).map(|i| vec![i as u8; 1000]).collect();
    let grown = pages::report().pages_in_use;
    drop(blocks);
    let before = pages::report().pages_in_use;
    let released = GLOBAL.trim(0);
    let after = pages::report().pages_in_use;
    checks.check(released, || "trim(0) released nothing".to_string());
    checks.check(after < before, || {
        format!("trim(0) left the pool at {after} pages in use (from {before})")
    });
    println!(
        "trim: pages in use {grown} with 1500 blocks, {before} after freeing them, {after} after trim(0)"
    );
}

/// Prints the usage log, the counters and the heap statistics, and checks
/// that the platform's and the core's accounts agree.
fn report(checks: &mut Checks) {
    // Copy everything out first: printing allocates, and the pool lock
    // must not be held then.
    let pool = pages::report();
    let locks = lock::counters();
    let stats = GLOBAL.stats();

    let total = pool.total_events();
    let shown = pool.events().rev().take(SHOWN_EVENTS).count();
    println!("usage log: last {shown} of {total} events");
    let mut newest: Vec<_> = pool.events().rev().take(SHOWN_EVENTS).collect();
    newest.reverse();
    for event in newest {
        println!("  {event}");
    }
    println!(
        "pages: {} in use ({} bytes), peak {} ({} bytes); {} maps, {} unmaps, {} exhausted, {} refused",
        pool.pages_in_use,
        pool.bytes_in_use(),
        pool.peak_pages,
        pool.peak_pages * PAGE_SIZE,
        pool.maps,
        pool.unmaps,
        pool.exhausted,
        pool.refused,
    );
    println!(
        "lock: {} acquisitions, {} contended, {} locks initialised, {} finalised",
        locks.acquisitions, locks.contended, locks.initialised, locks.finalised,
    );
    println!("heap statistics:\n{stats}");

    checks.check(total > 0, || "the usage log is empty".to_string());
    checks.check(pool.maps > 0 && pool.unmaps > 0, || {
        format!(
            "{} maps and {} unmaps: both must happen",
            pool.maps, pool.unmaps
        )
    });
    checks.check(pool.refused == 0, || {
        format!(
            "{} hook calls broke the contract (see the refused events in the log)",
            pool.refused
        )
    });
    // The global heap is the pool's only user, so the two accounts of the
    // memory it holds must agree exactly.
    checks.check(pool.bytes_in_use() == stats.footprint, || {
        format!(
            "pool says {} bytes in use, the heap's footprint is {}",
            pool.bytes_in_use(),
            stats.footprint
        )
    });
    checks.check(pool.peak_pages * PAGE_SIZE == stats.max_footprint, || {
        format!(
            "pool peak {} bytes, the heap's max footprint {}",
            pool.peak_pages * PAGE_SIZE,
            stats.max_footprint
        )
    });
    checks.check(locks.acquisitions > 0, || {
        "acquire_lock was never called".to_string()
    });
    checks.check(locks.initialised > 0, || {
        "init_lock was never called".to_string()
    });
}

/// Frees one block twice through the raw API; the core detects it and
/// calls `custom_abort`, which never returns.
fn double_free() -> ExitCode {
    // SAFETY: this deliberately breaks dlfree's contract (a second free of
    // `block`) to show the core's check; the core aborts the process before
    // any memory is misused. `guard` keeps `block` out of the top chunk.
    unsafe {
        let block = dlmalloc_sys::dlmalloc(100);
        let guard = dlmalloc_sys::dlmalloc(100);
        dlmalloc_sys::dlfree(block);
        dlmalloc_sys::dlfree(block);
        dlmalloc_sys::dlfree(guard);
    }
    eprintln!("the double free was not detected");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--double-free") {
        return double_free();
    }
    println!(
        "custom platform: a pool of {POOL_BYTES} bytes ({POOL_PAGES} pages of {PAGE_SIZE} bytes) at {:#x}",
        pages::pool_base()
    );
    let mut checks = Checks::default();
    large_block(&mut checks);
    exhaustion(&mut checks);
    collections(&mut checks);
    threads(&mut checks);
    trim(&mut checks);
    report(&mut checks);
    match GLOBAL.heap_check() {
        Ok(()) => println!("heap check: ok"),
        Err(error) => checks.check(false, || error.to_string()),
    }

    if checks.failures.is_empty() {
        println!("all checks passed");
        ExitCode::SUCCESS
    } else {
        for failure in &checks.failures {
            eprintln!("check failed: {failure}");
        }
        eprintln!("{} checks failed", checks.failures.len());
        ExitCode::FAILURE
    }
}
