//! A DLL whose heap is `DLMalloc` over dlmalloc-platform-windows, for the
//! load/unload test (tests/dll.rs). It has its own copy of the core and of
//! the platform's reservation table, separate from the loading program's.
//!
//! Exports (C ABI):
//! - `dll_work(rounds)`: allocates collections, large blocks and leaked
//!   blocks, checks them, and returns a checksum;
//! - `dll_mapped_bytes()`: what the platform has committed for this DLL;
//! - `dll_probe()`: the address of a block leaked on purpose, which the
//!   loader checks is free address space after the unload;
//! - `dll_release_all()`: gives every page back; the loader calls it just
//!   before `FreeLibrary`;
//! - `dll_release_on_detach(on)`: whether `DllMain` gives every page back
//!   when `FreeLibrary` unloads the DLL (off at load), the way the README
//!   recommends for a DLL whose host calls nothing before unloading it.
//!
//! The work avoids anything that keeps heap memory behind the exports'
//! backs (thread-locals with destructors, stdout), since nothing may touch
//! the heap after `dll_release_all`.

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use dlmalloc::DLMalloc;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

/// The last block leaked on purpose by `dll_work`.
static PROBE: AtomicUsize = AtomicUsize::new(0);

/// Whether `DllMain` releases the heap when the DLL is unloaded.
static RELEASE_ON_DETACH: AtomicBool = AtomicBool::new(false);

/// Allocates and checks `rounds` rounds of work; returns a checksum that
/// the loader recomputes. Leaks a 1 MiB block and a map on purpose: only
/// `dll_release_all` gives them back.
#[unsafe(no_mangle)]
pub extern "C" fn dll_work(rounds: u32) -> u64 {
    let mut sum = 0u64;
    for round in 0..u64::from(rounds) {
        let squares: Vec<u64> = (0..10_000).map(|i| i * i + round).collect();
        let names: BTreeMap<u64, String> = (0..500).map(|i| (i, format!("{round}:{i}"))).collect();
        let large = vec![round as u8; 600_000];
        sum = sum.wrapping_add(squares[9_999]);
        sum = sum.wrapping_add(names[&499].len() as u64);
        sum = sum.wrapping_add(large.iter().map(|&b| u64::from(b)).sum::<u64>());
    }
    let leaked: &'static mut [u8] = Box::leak(vec![0xA5u8; 1 << 20].into_boxed_slice());
    PROBE.store(leaked.as_ptr() as usize, Ordering::Relaxed);
    let kept: &'static BTreeMap<u32, Vec<u8>> = Box::leak(Box::new(
        (0..100).map(|i| (i, vec![i as u8; 1000])).collect(),
    ));
    sum.wrapping_add(kept.len() as u64)
}

/// Bytes the platform has committed for this DLL's heap.
#[unsafe(no_mangle)]
pub extern "C" fn dll_mapped_bytes() -> usize {
    dlmalloc_platform_windows::mapped_bytes()
}

/// The address of the block `dll_work` leaked last (0 before).
#[unsafe(no_mangle)]
pub extern "C" fn dll_probe() -> usize {
    PROBE.load(Ordering::Relaxed)
}

/// Gives back every page this DLL's heap mapped; returns the bytes that
/// were committed. Nothing in the DLL may allocate afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn dll_release_all() -> usize {
    // SAFETY: the loader calls this last, just before FreeLibrary, from one
    // thread, with no other call into the DLL running; nothing in the DLL
    // touches its heap afterwards (see the file's comment).
    unsafe { dlmalloc_platform_windows::release_all() }
}

/// Sets whether `DllMain` gives every page back when `FreeLibrary` unloads
/// the DLL.
#[unsafe(no_mangle)]
pub extern "C" fn dll_release_on_detach(on: bool) {
    RELEASE_ON_DETACH.store(on, Ordering::Relaxed);
}

/// The DLL's entry point, called by the C runtime's own entry point after
/// its initialisers. On `DLL_PROCESS_DETACH` with a null `reserved`
/// (`FreeLibrary`, not process exit) it releases the heap when asked to.
#[unsafe(no_mangle)]
pub extern "system" fn DllMain(_module: *mut c_void, reason: u32, reserved: *mut c_void) -> i32 {
    const DLL_PROCESS_DETACH: u32 = 0;
    if reason == DLL_PROCESS_DETACH
        && reserved.is_null()
        && RELEASE_ON_DETACH.load(Ordering::Relaxed)
    {
        // SAFETY: the DLL is being unloaded; no export runs any more, and
        // nothing in the DLL touches its heap after this point.
        unsafe { dlmalloc_platform_windows::release_all() };
    }
    1
}
