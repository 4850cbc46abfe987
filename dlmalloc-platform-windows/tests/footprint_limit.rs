//! A footprint limit makes allocations that would need more system memory
//! return null (or `Err` from `try_reserve`), never crash; the footprint
//! stays within the limit, and removing the limit makes allocation work
//! again. One test: the limit is process-wide.

use std::alloc::{GlobalAlloc, Layout};

use dlmalloc::DLMalloc;
use dlmalloc::raw::{
    dlfree, dlmalloc, dlmalloc_footprint, dlmalloc_footprint_limit, dlmalloc_set_footprint_limit,
};
use dlmalloc_platform_windows as _;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const MIB: usize = 1 << 20;
const BLOCK: usize = 64 << 10;

#[test]
fn over_the_limit_is_null_not_a_crash() {
    // SAFETY: plain calls into the C API; blocks are used within their
    // sizes and freed once.
    unsafe {
        let limit = dlmalloc_footprint() + 2 * MIB;
        let set = dlmalloc_set_footprint_limit(limit);
        assert!(set >= limit && set < limit + MIB, "{set}");
        assert_eq!(dlmalloc_footprint_limit(), set);

        // A direct mapping beyond the limit.
        assert!(dlmalloc(8 * MIB).is_null());
        let layout = Layout::from_size_align(8 * MIB, 8).unwrap();
        assert!(GLOBAL.alloc(layout).is_null());
        let mut vec: Vec<u8> = Vec::new();
        assert!(vec.try_reserve_exact(8 * MIB).is_err());

        // Heap growth up to the limit, then null.
        let mut blocks = Vec::with_capacity(1000);
        let mut refused = false;
        for _ in 0..1000 {
            let block = dlmalloc(BLOCK);
            assert!(dlmalloc_footprint() <= set, "footprint over the limit");
            if block.is_null() {
                refused = true;
                break;
            }
            block.cast::<u8>().write_bytes(0xAB, BLOCK);
            blocks.push(block);
        }
        assert!(refused, "2 MiB of room held 1000 blocks of 64 KiB");
        assert!(blocks.len() >= 8, "{} blocks", blocks.len());
        GLOBAL.heap_check().unwrap();

        // Without the limit the same requests work.
        dlmalloc_set_footprint_limit(usize::MAX);
        assert_eq!(GLOBAL.footprint_limit(), None);
        let big = dlmalloc(8 * MIB);
        assert!(!big.is_null());
        big.cast::<u8>().write_bytes(1, 8 * MIB);
        dlfree(big);
        for block in blocks {
            dlfree(block);
        }
        GLOBAL.heap_check().unwrap();
    }
}
