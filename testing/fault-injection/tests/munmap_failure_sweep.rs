//! One failing `custom_munmap` call (or every call from one on), at every
//! position of a fixed workload that frees directly mapped blocks, shrinks
//! them, and trims. A failed munmap never makes an operation fail: the core
//! keeps the memory (the contract says so), every block keeps its contents,
//! the heap checks clean, the footprint still equals what the platform has
//! mapped, and once munmap works a trim gives the kept memory back. On the
//! global heap and on a fresh mspace per run.

mod common;

use common::workload::{Run, Sweep, workload};
use common::*;
use dlmalloc_fault_injection as faults;

/// Checks one run with munmap call `i` armed, then lets munmap work and
/// checks that a trim leaves the heap consistent.
fn check_run(heap: Heap, all: &[Heap], sweep: Sweep, i: u64, run: &Run) {
    let name = heap.name();
    assert_eq!(
        run.failed_ops, 0,
        "{name}, {sweep:?} {i}: a failed munmap made an operation fail"
    );
    let reached = run.munmap_calls > i;
    match sweep {
        Sweep::OneCall => assert_eq!(run.munmap_failures, u64::from(reached)),
        Sweep::FromCall => assert_eq!(reached, run.munmap_failures > 0),
    }
    faults::fail_munmap(false);
    heap.trim(0);
    assert_clean(heap, &format!("{name}, {sweep:?} {i}, trimmed"));
    assert_accounting(all, 0, &format!("{name}, {sweep:?} {i}, trimmed"));
}

/// The workload must give the sweep something to fail.
fn assert_enough_calls(reference: &Run) {
    assert!(
        reference.munmap_calls >= 3,
        "the workload makes only {} munmap calls",
        reference.munmap_calls
    );
}

#[test]
fn global_heap_sweep() {
    let _only_me = faults::exclusive();
    let reference = workload(Heap::GLOBAL, &[Heap::GLOBAL]);
    assert_enough_calls(&reference);
    for sweep in [Sweep::OneCall, Sweep::FromCall] {
        for i in 0..reference.munmap_calls {
            sweep.arm_munmap(i);
            let run = workload(Heap::GLOBAL, &[Heap::GLOBAL]);
            check_run(Heap::GLOBAL, &[Heap::GLOBAL], sweep, i, &run);
        }
    }
    eprintln!(
        "global heap: failed each of {} munmap calls in turn",
        reference.munmap_calls
    );
}

#[test]
fn mspace_sweep() {
    let _only_me = faults::exclusive();
    let space = Space::create(0, true);
    let reference = workload(space.heap(), &[Heap::GLOBAL, space.heap()]);
    space.destroy();
    assert_enough_calls(&reference);
    for sweep in [Sweep::OneCall, Sweep::FromCall] {
        for i in 0..reference.munmap_calls {
            let space = Space::create(0, true);
            let heap = space.heap();
            sweep.arm_munmap(i);
            let run = workload(heap, &[Heap::GLOBAL, heap]);
            check_run(heap, &[Heap::GLOBAL, heap], sweep, i, &run);
            let footprint = heap.footprint();
            assert_eq!(space.destroy(), footprint);
            assert_accounting(&[Heap::GLOBAL], 0, "after destroy_mspace");
        }
    }
    eprintln!(
        "mspace: failed each of {} munmap calls in turn",
        reference.munmap_calls
    );
}
