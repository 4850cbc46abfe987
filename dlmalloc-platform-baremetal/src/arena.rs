//! The static arena: the macros a binary uses to choose it, and how the
//! platform finds it.
//!
//! [`static_arena!`](crate::static_arena) and
//! [`no_static_arena!`](crate::no_static_arena) define the function
//! `__dlmalloc_baremetal_static_arena` in the user's binary. The platform
//! calls it once, on first use, and registers what it returns as the first
//! region. Because the hooks refer to it, a binary that uses neither macro
//! fails to link, naming that symbol.

use core::cell::UnsafeCell;
use core::mem::{MaybeUninit, align_of};
use core::ptr;

use crate::PAGE_SIZE;

/// A memory range given to the platform by `__dlmalloc_baremetal_static_arena`:
/// `len` bytes at `start`, or null and 0 for none.
///
/// The return type of the function the arena macros define; user code
/// rarely needs it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticArena {
    /// The first byte, or null.
    pub start: *mut u8,
    /// The length in bytes (0 when `start` is null).
    pub len: usize,
}

impl StaticArena {
    /// No static arena: memory only comes from [`add_region`](crate::add_region).
    pub const NONE: StaticArena = StaticArena {
        start: ptr::null_mut(),
        len: 0,
    };
}

/// A page-aligned buffer of `N` bytes to be used as a static arena.
///
/// [`static_arena!`](crate::static_arena) declares one in a `static`; it
/// lives in `.bss` (it is not initialised, so it takes no space in the
/// program image). The buffer is only ever accessed through the
/// [`StaticArena`] it gives out, by the page allocator.
#[repr(C, align(4096))]
pub struct ArenaBuffer<const N: usize>(UnsafeCell<MaybeUninit<[u8; N]>>);

// The `align(4096)` above is PAGE_SIZE.
const _: () = assert!(align_of::<ArenaBuffer<0>>() == PAGE_SIZE);

// SAFETY: the buffer's bytes are accessed only through the raw pointer that
// `as_arena` gives out, by the page allocator, under its lock (and by the
// code it hands pages to); the type itself never reads or writes them.
unsafe impl<const N: usize> Sync for ArenaBuffer<N> {}

impl<const N: usize> Default for ArenaBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ArenaBuffer<N> {
    /// A new, uninitialised buffer.
    pub const fn new() -> Self {
        ArenaBuffer(UnsafeCell::new(MaybeUninit::uninit()))
    }

    /// The buffer as a [`StaticArena`].
    pub const fn as_arena(&'static self) -> StaticArena {
        StaticArena {
            start: self.0.get().cast::<u8>(),
            len: N,
        }
    }
}

unsafe extern "C" {
    /// Defined in the user's binary by [`static_arena!`](crate::static_arena)
    /// or [`no_static_arena!`](crate::no_static_arena).
    fn __dlmalloc_baremetal_static_arena() -> StaticArena;
}

/// The static arena the binary declared (or [`StaticArena::NONE`]).
pub(crate) fn declared() -> StaticArena {
    // SAFETY: both macros define this function with exactly this signature;
    // it has no preconditions and only returns the address of a static.
    unsafe { __dlmalloc_baremetal_static_arena() }
}

/// Gives the platform a static arena of `SIZE` bytes and links the platform.
///
/// Write it once, at the root of the binary crate (not in a library):
///
/// ```rust,standalone_crate
/// dlmalloc_platform_baremetal::static_arena!(64 * 1024);
///
/// #[global_allocator]
/// static GLOBAL: dlmalloc::DLMalloc = dlmalloc::DLMalloc;
///
/// fn main() {
///     let squares: Vec<u32> = (0..100).map(|i| i * i).collect();
///     assert_eq!(squares[99], 9801);
///     assert_eq!(dlmalloc_platform_baremetal::arena_stats().total_bytes, 64 * 1024);
/// }
/// ```
///
/// The arena is a page-aligned, uninitialised `static` (in `.bss`), handed
/// to the page allocator as its first region on first use (the first
/// allocation, [`add_region`](crate::add_region) or
/// [`arena_stats`](crate::arena_stats)). `SIZE` is a constant expression; a
/// size that is not a multiple of [`PAGE_SIZE`](crate::PAGE_SIZE) is
/// rounded down. More memory can still be added with
/// [`add_region`](crate::add_region).
///
/// The macro defines the `#[no_mangle]` function
/// `__dlmalloc_baremetal_static_arena`; a second use in the same binary is a
/// duplicate-symbol error.
#[macro_export]
macro_rules! static_arena {
    ($size:expr $(,)?) => {
        const _: () = {
            static DLMALLOC_BAREMETAL_ARENA: $crate::ArenaBuffer<{ $size }> =
                $crate::ArenaBuffer::new();

            #[unsafe(no_mangle)]
            extern "C" fn __dlmalloc_baremetal_static_arena() -> $crate::StaticArena {
                DLMALLOC_BAREMETAL_ARENA.as_arena()
            }
        };
    };
}

/// Links the platform without a static arena: memory comes only from
/// [`add_region`](crate::add_region) (the style of a kernel that learns its
/// memory map at boot).
///
/// Write it once, at the root of the binary crate, instead of
/// [`static_arena!`](crate::static_arena). Until the first region is added,
/// every allocation fails (returns null).
///
/// ```rust,standalone_crate
/// use dlmalloc_platform_baremetal::{PAGE_SIZE, add_region, arena_stats};
///
/// dlmalloc_platform_baremetal::no_static_arena!();
///
/// fn main() {
///     // Stands for RAM the boot loader reported free.
///     let ram: &'static mut [u8] = Box::leak(vec![0u8; 256 * 1024].into_boxed_slice());
///     // SAFETY: the leaked block is valid forever and used by nothing else.
///     let added = unsafe { add_region(ram.as_mut_ptr(), ram.len()) };
///     assert!(added >= 256 * 1024 - PAGE_SIZE); // trimmed inward to whole pages
///     assert_eq!(arena_stats().regions, 1);
///
///     // SAFETY: plain calls to the allocator's C API.
///     unsafe {
///         let block = dlmalloc_sys::dlmalloc(10_000);
///         assert!(!block.is_null());
///         dlmalloc_sys::dlfree(block);
///     }
/// }
/// ```
#[macro_export]
macro_rules! no_static_arena {
    () => {
        const _: () = {
            #[unsafe(no_mangle)]
            extern "C" fn __dlmalloc_baremetal_static_arena() -> $crate::StaticArena {
                $crate::StaticArena::NONE
            }
        };
    };
}
