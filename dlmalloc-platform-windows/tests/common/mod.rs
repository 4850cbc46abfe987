//! What the test files share: the address-space query and block patterns.
//! (The main workspace's dlmalloc-test-support is Unix-only: it sets
//! resource limits through libc.)

#![allow(dead_code)] // each test file uses a part

use core::ffi::c_void;
use core::mem;

use windows_sys::Win32::System::Memory::{MEMORY_BASIC_INFORMATION, VirtualQuery};

/// The system's description of the region of pages that holds `address`.
pub fn query(address: usize) -> MEMORY_BASIC_INFORMATION {
    // SAFETY: all zero bytes are a valid MEMORY_BASIC_INFORMATION.
    let mut info: MEMORY_BASIC_INFORMATION = unsafe { mem::zeroed() };
    // SAFETY: VirtualQuery only writes the description into `info`, a live
    // buffer of the size passed; any address may be asked about.
    let got = unsafe {
        VirtualQuery(
            address as *const c_void,
            &mut info,
            mem::size_of::<MEMORY_BASIC_INFORMATION>(),
        )
    };
    assert_ne!(got, 0, "VirtualQuery({address:#x}) failed");
    info
}

/// The byte at offset `i` of a block stamped with `seed`.
pub fn pattern(seed: usize, i: usize) -> u8 {
    (seed.wrapping_mul(0x9E37) ^ i.wrapping_mul(31) ^ (i >> 8)) as u8
}

/// Stamps `len` bytes at `ptr` with `seed`'s pattern.
///
/// # Safety
///
/// `ptr` must be valid for `len` bytes of writes.
pub unsafe fn fill(ptr: *mut u8, len: usize, seed: usize) {
    for i in 0..len {
        // SAFETY: i < len, and the caller guarantees the range.
        unsafe { ptr.add(i).write(pattern(seed, i)) };
    }
}

/// Panics unless the first `len` bytes at `ptr` hold `seed`'s pattern.
///
/// # Safety
///
/// `ptr` must be valid for `len` bytes of reads.
#[track_caller]
pub unsafe fn check(ptr: *const u8, len: usize, seed: usize) {
    for i in 0..len {
        // SAFETY: i < len, and the caller guarantees the range.
        let byte = unsafe { ptr.add(i).read() };
        assert_eq!(byte, pattern(seed, i), "block {seed:#x}, byte {i} of {len}");
    }
}

/// A small seeded generator (xorshift64*): the same sequence every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
