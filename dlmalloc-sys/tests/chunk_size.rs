//! The Rust mirror of the core's request-to-chunk rounding
//! ([`chunk_size_for`], [`CHUNK_OVERHEAD`], [`MIN_CHUNK_SIZE`]) matches the
//! C core, with and without the `footers` feature: blocks carved one after
//! another from a fresh heap's top lie exactly `chunk_size_for(request)`
//! apart, and each has at least `chunk_size_for(request) - CHUNK_OVERHEAD`
//! usable bytes. The safe crate's thread cache sorts blocks into size
//! classes by this rounding, so a mismatch would hand out short blocks.

use dlmalloc_platform_std as _;

use dlmalloc_sys::*;

#[test]
fn consecutive_blocks_are_chunk_size_for_apart() {
    for request in 1..=2048usize {
        // SAFETY: a fresh mspace per request (so both blocks come from the
        // top of its first segment), used only here; its blocks are left to
        // the destroy.
        unsafe {
            let msp = create_mspace(0, 0);
            assert!(!msp.is_null());
            let first = mspace_malloc(msp, request) as usize;
            let second = mspace_malloc(msp, request) as usize;
            assert!(first != 0 && second != 0, "request {request} refused");
            assert_eq!(
                second - first,
                chunk_size_for(request),
                "request {request}: the core's chunk size differs from chunk_size_for"
            );
            let usable = mspace_usable_size(first as *const _);
            assert!(
                usable >= chunk_size_for(request) - CHUNK_OVERHEAD && usable >= request,
                "request {request}: {usable} usable bytes"
            );
            assert!(destroy_mspace(msp) > 0);
        }
    }
}

#[test]
fn small_requests_get_the_minimum_chunk() {
    assert_eq!(chunk_size_for(0), MIN_CHUNK_SIZE);
    assert_eq!(chunk_size_for(1), MIN_CHUNK_SIZE);
    assert_eq!(MIN_CHUNK_SIZE % MALLOC_ALIGNMENT, 0);
    assert!(chunk_size_for(MIN_CHUNK_SIZE) > MIN_CHUNK_SIZE);
}
