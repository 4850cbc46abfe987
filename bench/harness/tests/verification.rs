//! The workloads must catch a broken allocator instead of timing it: a
//! correct allocator passes every workload, and allocators that hand out
//! overlapping blocks or lose a realloc's contents make them panic.

use core::alloc::{GlobalAlloc, Layout};
use std::alloc::System;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bench_harness::workloads::{self, Scale, Workload};

/// Hands out every block twice: the second request of each pair gets the
/// block of the first.
struct Overlapping {
    calls: AtomicUsize,
    last: AtomicUsize,
}

// SAFETY: deliberately broken (overlapping blocks), only ever given to
// workloads that must detect it; the memory itself is valid (from System)
// and is never freed, so nothing is freed twice.
unsafe impl GlobalAlloc for Overlapping {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.calls.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
            return self.last.load(Ordering::Relaxed) as *mut u8;
        }
        // Room for the largest size the next request may ask.
        let big = Layout::from_size_align(layout.size().max(1 << 16), layout.align()).unwrap();
        // SAFETY: non-zero size.
        let block = unsafe { System.alloc(big) };
        self.last.store(block as usize, Ordering::Relaxed);
        block
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

/// Allocates correctly but forgets the old contents on realloc.
struct Forgetful;

// SAFETY: deliberately broken (realloc loses the contents), only given to
// workloads that must detect it; blocks are System's, freed with the
// layout they were allocated with.
unsafe impl GlobalAlloc for Forgetful {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: caller's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: caller's contract: a live block with `layout`.
        unsafe {
            let new =
                System.alloc_zeroed(Layout::from_size_align_unchecked(new_size, layout.align()));
            System.dealloc(ptr, layout);
            new
        }
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[test]
fn a_correct_allocator_passes_every_workload() {
    for workload in workloads::ALL {
        let outcome = workload.run(&System, Scale::Quick, deadline(), "System");
        assert!(outcome.steps > 0, "{} made no step", workload.name());
        assert!(
            !outcome.capped && !outcome.leaked,
            "{} stopped early",
            workload.name()
        );
    }
}

#[test]
fn overlapping_blocks_fail_the_churn() {
    let broken = Overlapping {
        calls: AtomicUsize::new(0),
        last: AtomicUsize::new(0),
    };
    let churn = Workload::Churn {
        lo: 16,
        hi: 1024,
        live: 1_000,
        realloc: false,
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        churn.run(&broken, Scale::Quick, deadline(), "broken")
    }));
    let message = *result
        .expect_err("overlapping blocks went unnoticed")
        .downcast::<String>()
        .unwrap();
    assert!(
        message.contains("was overwritten"),
        "unexpected failure: {message}"
    );
}

#[test]
fn a_realloc_that_loses_contents_fails() {
    for workload in [
        Workload::VecGrow,
        Workload::Strings,
        Workload::Churn {
            lo: 16,
            hi: 1024,
            live: 1_000,
            realloc: true,
        },
    ] {
        let result = catch_unwind(AssertUnwindSafe(|| {
            workload.run(&Forgetful, Scale::Quick, deadline(), "forgetful")
        }));
        let message = *result
            .expect_err("lost realloc contents went unnoticed")
            .downcast::<String>()
            .unwrap();
        assert!(
            message.contains("overwritten") || message.contains("lost the contents"),
            "{}: unexpected failure: {message}",
            workload.name()
        );
    }
}
