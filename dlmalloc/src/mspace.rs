//! `Mspace`: an owned, independent heap, in memory of its own or in a
//! region the caller supplies.

use core::ffi::c_int;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use crate::check::HeapCheckError;
use crate::heap::{MspaceHandle, RawHeap};
use crate::raw;
use crate::stats::Stats;

/// An independent heap that the value owns: dropping it returns every page
/// the heap mapped, whatever is still allocated in it.
///
/// Allocate from it through the `Allocator` trait of
/// [`allocator-api2`](allocator_api2) (on stable Rust), which `&Mspace`
/// implements, so the collections of that crate and of crates built on it
/// (`hashbrown`) live in the heap:
///
/// ```
/// use allocator_api2::{boxed::Box, vec::Vec};
/// use dlmalloc::Mspace;
/// use dlmalloc_platform_std as _;
///
/// let heap = Mspace::new(1 << 20);
/// let mut numbers = Vec::new_in(&heap);
/// numbers.extend(0..1000u32);
/// let name = Box::new_in(*b"mspace", &heap);
/// assert_eq!(numbers[999], 999);
/// assert_eq!(&*name, b"mspace");
/// assert!(heap.stats().in_use_bytes >= 4000);
/// drop((numbers, name));
/// drop(heap); // every page the heap mapped goes back to the system
/// ```
///
/// With the `nightly` feature, `&Mspace` also implements the standard
/// library's unstable `core::alloc::Allocator`, so `std`'s own `Vec::new_in`
/// and `Box::new_in` take it.
///
/// # Locked or not: the type parameter `L`
///
/// An `Mspace` (that is `Mspace<Unlocked>`) takes no lock: it is the
/// fastest, and it is [`Send`] but not [`Sync`], so one thread at a time
/// uses it (a per-thread heap, a heap per request). An `Mspace<Locked>`
/// takes the heap's lock on every call and is `Sync`: share `&heap` between
/// threads. The choice is a type parameter, not two types, so all the
/// methods and the `Allocator` impls are written once and code can be
/// generic over [`Locking`]; `Sync` is then a plain fact of the type, which
/// the compiler checks:
///
/// ```compile_fail,E0277
/// use dlmalloc::Mspace;
/// use dlmalloc_platform_std as _;
///
/// fn share<T: Sync>(_: &T) {}
/// share(&Mspace::new(1 << 20)); // error: `Mspace<Unlocked>` is not `Sync`
/// ```
///
/// ```
/// use dlmalloc::Mspace;
/// use dlmalloc_platform_std as _;
///
/// fn share<T: Sync>(_: &T) {}
/// share(&Mspace::new_locked(1 << 20)); // `Mspace<Locked>` is `Sync`
/// ```
///
/// The locked constructors carry a `_locked` suffix: Rust does not use a
/// type parameter's default to choose between same-named functions, so
/// `Mspace::new` could not otherwise mean the unlocked heap.
///
/// # Where the memory comes from
///
/// [`new`](Mspace::new) maps a first segment of at least `capacity` bytes
/// from the platform and grows with more mappings. [`from_static`] builds
/// the heap inside a `'static` buffer and [`from_raw_region`] inside any
/// region the caller owns (shared memory, a range the bootloader handed
/// over); with [`Growth::Fixed`] such a heap never maps memory, and
/// allocation fails cleanly once the region is full.
///
/// [`from_static`]: Mspace::from_static
/// [`from_raw_region`]: Mspace::from_raw_region
pub struct Mspace<L: Locking = Unlocked> {
    heap: MspaceHandle,
    locking: PhantomData<L>,
}

/// The [`Mspace`] type parameter for a heap that takes no lock: fastest,
/// used by one thread at a time (`Send`, not `Sync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unlocked {}

/// The [`Mspace`] type parameter for a heap that takes its lock on every
/// call, so that threads can share it (`Sync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Locked {}

/// Whether an [`Mspace`] takes a lock: [`Unlocked`] or [`Locked`]. Sealed.
pub trait Locking: sealed::Sealed {}

impl Locking for Unlocked {}
impl Locking for Locked {}

mod sealed {
    /// What the crate needs to know of a [`Locking`](super::Locking) type.
    pub trait Sealed {
        /// The `locked` argument of `create_mspace`.
        const LOCKED: bool;
    }

    impl Sealed for super::Unlocked {
        const LOCKED: bool = false;
    }

    impl Sealed for super::Locked {
        const LOCKED: bool = true;
    }
}

/// Whether a heap over a caller's region may grow beyond it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Growth {
    /// The heap lives in the region only. Once the region is full,
    /// allocations fail (return null, or `AllocError`) instead of mapping
    /// memory. Implemented as a footprint limit equal to the region, so
    /// [`Mspace::set_footprint_limit`] can lift it later.
    Fixed,
    /// Once the region is full the heap grows with new mappings from the
    /// platform, which dropping the heap releases (the region itself is
    /// never given to the platform).
    Grow,
}

/// Why an [`Mspace`] could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CreateError {
    /// The platform could not map the heap's first segment: the system is
    /// out of memory, or the capacity is too large.
    OutOfMemory,
    /// The region cannot hold the heap's own state (which lives at its
    /// start, a few hundred bytes) and one block.
    RegionTooSmall,
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CreateError::OutOfMemory => "the system has no memory for a new heap",
            CreateError::RegionTooSmall => "the region is too small to hold a heap",
        })
    }
}

impl core::error::Error for CreateError {}

impl<L: Locking> Mspace<L> {
    /// A heap in a fresh mapping of at least `capacity` bytes.
    fn create(capacity: usize) -> Result<Self, CreateError> {
        // SAFETY: create_mspace only maps memory through the platform hooks
        // and returns null on failure.
        let msp = unsafe { raw::create_mspace(capacity, c_int::from(L::LOCKED)) };
        Self::adopt(msp, CreateError::OutOfMemory)
    }

    /// A heap in `[base, base + len)`.
    ///
    /// # Safety
    ///
    /// That of [`Mspace::from_raw_region`].
    unsafe fn create_in(
        base: NonNull<u8>,
        len: usize,
        growth: Growth,
    ) -> Result<Self, CreateError> {
        // SAFETY: the caller guarantees the region is valid and this heap's
        // alone until the heap is dropped; create_mspace_with_base returns
        // null if the region is too small.
        let msp = unsafe {
            raw::create_mspace_with_base(base.as_ptr().cast(), len, c_int::from(L::LOCKED))
        };
        let heap = Self::adopt(msp, CreateError::RegionTooSmall)?;
        if growth == Growth::Fixed {
            // The footprint of a fresh heap is its region; a limit of that
            // many bytes (rounded up to a page, less than any mapping) leaves
            // no room for a mapping.
            heap.heap.raw_set_footprint_limit(heap.heap.footprint());
        }
        Ok(heap)
    }

    /// Takes ownership of a heap just created, or reports `error` for null.
    fn adopt(msp: raw::Mspace, error: CreateError) -> Result<Self, CreateError> {
        let msp = NonNull::new(msp).ok_or(error)?;
        Ok(Mspace {
            // SAFETY: `msp` is a fresh heap created with L's locking; this
            // value owns it and destroys it only on drop, after every borrow
            // (and so every use through `&self`) has ended. An unlocked heap
            // is !Sync, so only one thread at a time reaches it.
            heap: unsafe { MspaceHandle::new(msp) },
            locking: PhantomData,
        })
    }

    /// Whether this heap takes a lock (is an `Mspace<Locked>`).
    pub const fn is_locked(&self) -> bool {
        <L as sealed::Sealed>::LOCKED
    }

    /// The heap's raw `mspace` handle, for the `mspace_*` functions of
    /// [`raw`](crate::raw) that have no safe counterpart here (such as
    /// `mspace_inspect_all`). It is valid until `self` is dropped; the
    /// `Sync` rules of the heap apply to calls through it.
    ///
    /// ```
    /// use dlmalloc::{Mspace, raw};
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = Mspace::new(1 << 20);
    /// // SAFETY: the heap is live.
    /// let footprint = unsafe { raw::mspace_footprint(heap.as_raw()) };
    /// assert_eq!(footprint, heap.stats().footprint);
    /// ```
    pub fn as_raw(&self) -> raw::Mspace {
        self.heap.as_ptr()
    }

    /// The heap, for the allocator implementations.
    #[inline]
    pub(crate) fn handle(&self) -> MspaceHandle {
        self.heap
    }

    /// A snapshot of the heap's statistics.
    ///
    /// ```
    /// use allocator_api2::vec::Vec;
    /// use dlmalloc::Mspace;
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = Mspace::new(1 << 20);
    /// let buffer: Vec<u8, _> = Vec::with_capacity_in(100_000, &heap);
    /// let stats = heap.stats();
    /// assert!(stats.in_use_bytes >= buffer.capacity());
    /// println!("{stats}");
    /// ```
    pub fn stats(&self) -> Stats {
        self.heap.stats()
    }

    /// Gives unused memory back to the system: the free top of the heap
    /// beyond `pad` bytes, and segments that are wholly free. Returns `true`
    /// if anything was released. Memory of a caller's region stays in the
    /// heap.
    ///
    /// ```
    /// use allocator_api2::vec::Vec;
    /// use dlmalloc::Mspace;
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = Mspace::new(0);
    /// let blocks: Vec<Vec<u8, _>> = (0..100)
    ///     .map(|_| Vec::with_capacity_in(64 << 10, &heap))
    ///     .collect();
    /// drop(blocks);
    /// heap.trim(0);
    /// assert!(heap.stats().footprint < heap.stats().max_footprint);
    /// ```
    pub fn trim(&self, pad: usize) -> bool {
        self.heap.trim(pad)
    }

    /// The footprint limit in force: the most system memory the heap may
    /// hold (a caller's region counts). `None` when there is no limit.
    pub fn footprint_limit(&self) -> Option<usize> {
        self.heap.footprint_limit()
    }

    /// Limits the memory the heap may hold to `limit` bytes (rounded up to
    /// whole pages), or removes the limit with `None`. Returns the limit now
    /// in force.
    ///
    /// Once the limit is reached, allocations that would need more system
    /// memory fail instead of growing the heap. As in the C API, `Some(0)`
    /// also removes the limit; on a heap made with [`Growth::Fixed`] that
    /// lets it grow beyond its region.
    ///
    /// ```
    /// use allocator_api2::alloc::{Allocator, Layout};
    /// use dlmalloc::Mspace;
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = Mspace::new(1 << 20);
    /// heap.set_footprint_limit(Some(4 << 20));
    /// let big = Layout::from_size_align(8 << 20, 8).unwrap();
    /// assert!((&heap).allocate(big).is_err());
    /// ```
    pub fn set_footprint_limit(&self, limit: Option<usize>) -> Option<usize> {
        self.heap.set_footprint_limit(limit)
    }

    /// Walks the whole heap and verifies every invariant the core maintains
    /// (see [`DLMalloc::heap_check`](crate::DLMalloc::heap_check)).
    ///
    /// ```
    /// use allocator_api2::vec::Vec;
    /// use dlmalloc::Mspace;
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = Mspace::new(1 << 20);
    /// let squares: Vec<u64, _> = {
    ///     let mut v = Vec::new_in(&heap);
    ///     v.extend((0..1000u64).map(|i| i * i));
    ///     v
    /// };
    /// heap.heap_check().expect("heap is consistent");
    /// drop(squares);
    /// ```
    #[allow(
        clippy::result_large_err,
        reason = "the error cannot be boxed: the crate has no allocator of its own and the \
                  report is built under the heap lock; a failed check is rare"
    )]
    pub fn heap_check(&self) -> Result<(), HeapCheckError> {
        self.heap.heap_check()
    }
}

/// The unlocked heap's constructors.
impl Mspace {
    /// A heap that takes no lock, in a fresh mapping with room for at least
    /// `capacity` bytes (0 means one granule, 2 MiB by default); it grows
    /// with more mappings as needed.
    ///
    /// # Panics
    ///
    /// If the system cannot provide the memory. [`try_new`](Mspace::try_new)
    /// returns an error instead.
    ///
    /// ```
    /// use dlmalloc::Mspace;
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = Mspace::new(1 << 20);
    /// assert!(heap.stats().footprint >= 1 << 20);
    /// assert!(!heap.is_locked());
    /// ```
    pub fn new(capacity: usize) -> Mspace {
        Self::try_new(capacity).unwrap_or_else(|error| creation_failed(capacity, error))
    }

    /// Like [`new`](Mspace::new), but returns an error when the system
    /// cannot provide the memory.
    ///
    /// ```
    /// use dlmalloc::{CreateError, Mspace};
    /// use dlmalloc_platform_std as _;
    ///
    /// assert!(Mspace::try_new(1 << 20).is_ok());
    /// assert_eq!(Mspace::try_new(usize::MAX).unwrap_err(), CreateError::OutOfMemory);
    /// ```
    pub fn try_new(capacity: usize) -> Result<Mspace, CreateError> {
        Self::create(capacity)
    }

    /// A heap that takes no lock, inside a `'static` buffer (which it uses
    /// for ever, even after it is dropped). With [`Growth::Fixed`] it never
    /// maps memory: once the buffer is full, allocations fail.
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use allocator_api2::vec::Vec;
    /// use dlmalloc::{Growth, Mspace};
    /// use dlmalloc_platform_std as _;
    ///
    /// static mut BUFFER: [MaybeUninit<u8>; 64 << 10] = [MaybeUninit::uninit(); 64 << 10];
    ///
    /// // SAFETY: this is the only place that uses BUFFER, and it runs once.
    /// let buffer = unsafe { &mut *core::ptr::addr_of_mut!(BUFFER) };
    /// let heap = Mspace::from_static(buffer, Growth::Fixed).expect("64 KiB hold a heap");
    /// let mut bytes: Vec<u8, _> = Vec::new_in(&heap);
    /// bytes.extend_from_slice(&[1; 1000]);
    /// assert!(bytes.try_reserve(1 << 20).is_err()); // more than the buffer
    /// ```
    ///
    /// # Errors
    ///
    /// [`CreateError::RegionTooSmall`] if the buffer cannot hold the heap's
    /// state and one block.
    pub fn from_static(
        region: &'static mut [MaybeUninit<u8>],
        growth: Growth,
    ) -> Result<Mspace, CreateError> {
        let (base, len) = static_region(region);
        // SAFETY: the region is valid, and exclusively ours for ever: the
        // 'static mutable borrow is consumed here.
        unsafe { Self::create_in(base, len, growth) }
    }

    /// A heap that takes no lock, inside the memory `[base, base + len)`
    /// (shared memory, a range a bootloader handed over, ...). With
    /// [`Growth::Fixed`] it never maps memory: once the region is full,
    /// allocations fail. Dropping the heap never gives the region to the
    /// platform; from then on the caller may use it again.
    ///
    /// ```
    /// use core::ptr::NonNull;
    /// use allocator_api2::boxed::Box;
    /// use dlmalloc::{Growth, Mspace};
    /// use dlmalloc_platform_std as _;
    ///
    /// let mut memory = vec![0u64; 8192]; // 64 KiB from somewhere else
    /// let base = NonNull::new(memory.as_mut_ptr().cast::<u8>()).unwrap();
    /// // SAFETY: `memory` is valid for 64 KiB and untouched until the heap is
    /// // dropped.
    /// let heap = unsafe { Mspace::from_raw_region(base, 64 << 10, Growth::Fixed) }.unwrap();
    /// let answer = Box::new_in(42u32, &heap);
    /// assert_eq!(*answer, 42);
    /// drop(answer);
    /// drop(heap);
    /// memory[0] = 1; // the region is the caller's again
    /// ```
    ///
    /// # Errors
    ///
    /// [`CreateError::RegionTooSmall`] if the region cannot hold the heap's
    /// state and one block.
    ///
    /// # Safety
    ///
    /// `[base, base + len)` must be valid for reads and writes, and nothing
    /// but this heap may read or write it from this call until the heap is
    /// dropped (the heap keeps its state and its blocks there). Otherwise
    /// the behavior is undefined.
    pub unsafe fn from_raw_region(
        base: NonNull<u8>,
        len: usize,
        growth: Growth,
    ) -> Result<Mspace, CreateError> {
        // SAFETY: the caller's contract is create_in's.
        unsafe { Self::create_in(base, len, growth) }
    }
}

/// The locked heap's constructors: those of [`Mspace<Unlocked>`](Mspace)
/// with a `_locked` suffix.
impl Mspace<Locked> {
    /// Like [`Mspace::new`], but the heap takes its lock on every call and
    /// may be shared between threads.
    ///
    /// # Panics
    ///
    /// If the system cannot provide the memory.
    ///
    /// ```
    /// use allocator_api2::vec::Vec;
    /// use dlmalloc::Mspace;
    /// use dlmalloc_platform_std as _;
    ///
    /// let heap = Mspace::new_locked(1 << 20);
    /// std::thread::scope(|s| {
    ///     for t in 0..4u32 {
    ///         let heap = &heap;
    ///         s.spawn(move || {
    ///             let mut v = Vec::new_in(heap);
    ///             v.extend(t * 1000..(t + 1) * 1000);
    ///             assert_eq!(v[999], t * 1000 + 999);
    ///         });
    ///     }
    /// });
    /// heap.heap_check().unwrap();
    /// ```
    pub fn new_locked(capacity: usize) -> Mspace<Locked> {
        Self::try_new_locked(capacity).unwrap_or_else(|error| creation_failed(capacity, error))
    }

    /// Like [`Mspace::try_new`], for a locked heap.
    pub fn try_new_locked(capacity: usize) -> Result<Mspace<Locked>, CreateError> {
        Self::create(capacity)
    }

    /// Like [`Mspace::from_static`], for a locked heap.
    ///
    /// # Errors
    ///
    /// [`CreateError::RegionTooSmall`] if the buffer cannot hold the heap's
    /// state and one block.
    pub fn from_static_locked(
        region: &'static mut [MaybeUninit<u8>],
        growth: Growth,
    ) -> Result<Mspace<Locked>, CreateError> {
        let (base, len) = static_region(region);
        // SAFETY: the region is valid, and exclusively ours for ever: the
        // 'static mutable borrow is consumed here.
        unsafe { Self::create_in(base, len, growth) }
    }

    /// Like [`Mspace::from_raw_region`], for a locked heap.
    ///
    /// # Errors
    ///
    /// [`CreateError::RegionTooSmall`] if the region cannot hold the heap's
    /// state and one block.
    ///
    /// # Safety
    ///
    /// As for [`Mspace::from_raw_region`]: `[base, base + len)` must be
    /// valid for reads and writes, and nothing but this heap may read or
    /// write it from this call until the heap is dropped. Otherwise the
    /// behavior is undefined.
    pub unsafe fn from_raw_region_locked(
        base: NonNull<u8>,
        len: usize,
        growth: Growth,
    ) -> Result<Mspace<Locked>, CreateError> {
        // SAFETY: the caller's contract is create_in's.
        unsafe { Self::create_in(base, len, growth) }
    }
}

/// The base and length of a `'static` buffer.
fn static_region(region: &'static mut [MaybeUninit<u8>]) -> (NonNull<u8>, usize) {
    let len = region.len();
    (NonNull::from(region).cast::<u8>(), len)
}

/// The panic of `new` and `new_locked`.
#[cold]
#[track_caller]
fn creation_failed(capacity: usize, error: CreateError) -> ! {
    panic!("cannot create an mspace of {capacity} bytes: {error}")
}

impl<L: Locking> Drop for Mspace<L> {
    fn drop(&mut self) {
        // SAFETY: this value owns the heap; every borrow of it, and so every
        // collection allocating through `&self`, has ended, and by the
        // Allocator contract its blocks die with it. The heap is not used
        // again.
        unsafe { raw::destroy_mspace(self.heap.as_ptr()) };
    }
}

impl<L: Locking> fmt::Debug for Mspace<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mspace")
            .field("handle", &self.heap.as_ptr())
            .field("locked", &self.is_locked())
            .finish()
    }
}

// SAFETY: the heap has no tie to a thread (its state is in its own memory,
// reached through the handle), and moving the owner moves the only way to
// reach it: an unlocked heap is still used by one thread at a time.
unsafe impl<L: Locking> Send for Mspace<L> {}

// SAFETY: a locked heap takes its lock in every mspace_* call, so threads may
// call it at once through `&Mspace<Locked>`.
unsafe impl Sync for Mspace<Locked> {}
