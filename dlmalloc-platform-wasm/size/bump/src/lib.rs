//! The size-comparison baseline: the same program over a bump allocator
//! that never frees. (Module size with an allocator) - (this module's size)
//! is that allocator's own bytes.
#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32::memory_grow;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Hands out [next, end) of memory grown one region at a time.
struct Bump {
    next: AtomicUsize,
    end: AtomicUsize,
}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let mut start = (self.next.load(Relaxed) + l.align() - 1) & !(l.align() - 1);
        if start + l.size() > self.end.load(Relaxed) || start == 0 {
            let pages = (l.size() + l.align()) / 65536 + 1;
            let old = memory_grow(0, pages);
            if old == usize::MAX {
                return core::ptr::null_mut();
            }
            start = (old * 65536 + l.align() - 1) & !(l.align() - 1);
            self.end.store((old + pages) * 65536, Relaxed);
        }
        self.next.store(start + l.size(), Relaxed);
        start as *mut u8
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

#[global_allocator]
static A: Bump = Bump {
    next: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
};

include!("../../common.rs");
