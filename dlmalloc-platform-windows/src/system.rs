//! What the system says about its memory: the page size and the allocation
//! granularity, from `GetSystemInfo`, read once.

use core::sync::atomic::{AtomicUsize, Ordering};

use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};

/// The page size, cached; 0 until first read.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
/// The allocation granularity, cached; 0 until first read.
static GRANULARITY: AtomicUsize = AtomicUsize::new(0);

/// Reads both values from the system and caches them. Every thread reads
/// the same values, so racing first calls store the same thing.
fn load() -> (usize, usize) {
    // SAFETY: SYSTEM_INFO is plain data (integers, pointers and a union of
    // integers), for which all zero bytes are a valid value.
    let mut info: SYSTEM_INFO = unsafe { core::mem::zeroed() };
    // SAFETY: `info` is a live, writable SYSTEM_INFO; the call only fills
    // it and cannot fail.
    unsafe { GetSystemInfo(&mut info) };
    let page = info.dwPageSize as usize;
    let granularity = info.dwAllocationGranularity as usize;
    if !page.is_power_of_two() || !granularity.is_power_of_two() || granularity < page {
        crate::abort::die(b"GetSystemInfo gave no usable page size and allocation granularity");
    }
    PAGE_SIZE.store(page, Ordering::Relaxed);
    GRANULARITY.store(granularity, Ordering::Relaxed);
    (page, granularity)
}

/// The system page size in bytes (`dwPageSize` of `GetSystemInfo`): 4096
/// on every Windows machine so far, but read, not assumed.
///
/// [`custom_munmap`](crate::custom_munmap) refuses ranges that are not
/// aligned to it; [`custom_mmap`](crate::custom_mmap) rounds lengths up to
/// it.
pub fn page_size() -> usize {
    match PAGE_SIZE.load(Ordering::Relaxed) {
        0 => load().0,
        page => page,
    }
}

/// The allocation granularity in bytes (`dwAllocationGranularity` of
/// `GetSystemInfo`): 64 KiB on every Windows machine so far.
///
/// Every `VirtualAlloc` reservation starts at a multiple of it, so it is
/// the smallest unit of address space a mapping can take; the platform
/// makes it the core's granularity (see
/// [`set_granularity_from_system`](crate::set_granularity_from_system)).
pub fn allocation_granularity() -> usize {
    match GRANULARITY.load(Ordering::Relaxed) {
        0 => load().1,
        granularity => granularity,
    }
}

/// The optional page-size hook of the core: the system page size.
///
/// Defined for completeness and for C callers. The core looks it up only
/// where the target has weak symbols (ELF, Mach-O); COFF has none, so on
/// Windows the core uses its default of 4096, which is the Windows page
/// size on x86, x86_64 and ARM64. Should a system ever report a larger
/// page, [`custom_munmap`](crate::custom_munmap) refuses ranges it cannot
/// decommit and the core keeps them: memory is kept, never lost.
#[unsafe(no_mangle)]
pub extern "C" fn custom_page_size() -> usize {
    page_size()
}
