//! One failing `custom_mmap` call, at every position of a fixed workload.
//!
//! The workload (small, medium and directly mapped blocks, calloc,
//! memalign, growing realloc, realloc_in_place, independent_calloc and
//! comalloc, frees) is first run without faults to count its mmap calls.
//! Then it is run once per call index `i` with only call `i` failing. In
//! every run: an operation returns failure only if the system refused memory
//! during that very operation, at most one operation fails (the next call
//! succeeds again), a failed realloc leaves its block intact, every live
//! block keeps its contents, the heap checks clean after the failure and at
//! the end, and the platform's mapped bytes equal the heaps' footprints.
//! On the global heap, and on a fresh mspace per run (where call 0 is
//! create_mspace itself, which must then return null).

mod common;

use common::workload::{Run, Sweep, workload};
use common::*;
use dlmalloc_fault_injection as faults;
use dlmalloc_sys::*;

/// Checks one run of `sweep` with call `i` (of the workload's calls)
/// armed; returns whether the caller saw a failure.
fn check_run(sweep: Sweep, i: u64, run: &Run) -> bool {
    let reached = run.mmap_calls > i;
    match sweep {
        Sweep::OneCall => {
            assert!(
                run.failed_ops <= 1,
                "call {i}: one failed mmap made {} ops fail",
                run.failed_ops
            );
            assert_eq!(
                run.injected,
                u64::from(reached),
                "call {i}: injected failures"
            );
        }
        Sweep::FromCall => {
            assert_eq!(reached, run.injected > 0, "call {i}: injected failures");
        }
    }
    run.failed_ops > 0
}

/// Runs the sweep on the global heap; returns (runs where the caller saw
/// a failure, runs where the core absorbed it).
fn sweep_global(sweep: Sweep, calls: u64) -> (u32, u32) {
    let (mut visible, mut absorbed) = (0, 0);
    for i in 0..calls {
        sweep.arm_mmap(i);
        let run = workload(Heap::GLOBAL, &[Heap::GLOBAL]);
        faults::stop_failing_mmap();
        if check_run(sweep, i, &run) {
            visible += 1;
        } else {
            absorbed += 1;
        }
        // Memory is available again: the same workload runs without a
        // failure.
        let again = workload(Heap::GLOBAL, &[Heap::GLOBAL]);
        assert_eq!(again.failed_ops, 0, "{sweep:?} {i}: no recovery");
    }
    (visible, absorbed)
}

#[test]
fn global_heap_sweep() {
    let _only_me = faults::exclusive();
    let reference = workload(Heap::GLOBAL, &[Heap::GLOBAL]);
    assert_eq!(reference.failed_ops, 0, "the workload fails without faults");
    assert!(
        reference.mmap_calls >= 10,
        "the workload makes only {} mmap calls",
        reference.mmap_calls
    );
    for sweep in [Sweep::OneCall, Sweep::FromCall] {
        let (visible, absorbed) = sweep_global(sweep, reference.mmap_calls);
        eprintln!(
            "global heap, {sweep:?}: {} mmap calls; the caller saw a failure in {visible} \
             runs, the core absorbed it in {absorbed}",
            reference.mmap_calls
        );
        if sweep == Sweep::FromCall {
            assert!(
                visible > 0,
                "running out of memory never reached the caller"
            );
        }
    }
}

#[test]
fn mspace_sweep() {
    let _only_me = faults::exclusive();
    let space = Space::create(0, true);
    let reference = workload(space.heap(), &[Heap::GLOBAL, space.heap()]);
    assert_eq!(reference.failed_ops, 0, "the workload fails without faults");
    space.destroy();
    for sweep in [Sweep::OneCall, Sweep::FromCall] {
        let (mut visible, mut absorbed) = (0, 0);
        // Call 0 is create_mspace's; call i > 0 is the workload's call i - 1.
        for i in 0..=reference.mmap_calls {
            sweep.arm_mmap(i);
            // SAFETY: create_mspace has no preconditions.
            let msp = unsafe { create_mspace(0, 1) };
            if i == 0 {
                assert!(
                    msp.is_null(),
                    "create_mspace succeeded although its mmap failed"
                );
                assert_accounting(&[Heap::GLOBAL], 0, "after a failed create_mspace");
                continue;
            }
            assert!(!msp.is_null());
            // SAFETY: live until destroyed after its last use below.
            let heap = unsafe { Heap::mspace(msp) };
            let run = workload(heap, &[Heap::GLOBAL, heap]);
            faults::stop_failing_mmap();
            if check_run(sweep, i - 1, &run) {
                visible += 1;
            } else {
                absorbed += 1;
            }
            let again = workload(heap, &[Heap::GLOBAL, heap]);
            assert_eq!(again.failed_ops, 0, "{sweep:?} {i}: no recovery");
            let footprint = heap.footprint();
            // SAFETY: `msp` is live, and none of its blocks is used again.
            assert_eq!(unsafe { destroy_mspace(msp) }, footprint);
        }
        eprintln!(
            "mspace, {sweep:?}: {} mmap calls; the caller saw a failure in {visible} runs, \
             the core absorbed it in {absorbed}",
            reference.mmap_calls + 1
        );
        if sweep == Sweep::FromCall {
            assert!(
                visible > 0,
                "running out of memory never reached the caller"
            );
        }
    }
}
