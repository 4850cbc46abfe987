//! The hooks called directly: page size, `custom_mmap` failures as
//! `(void*)-1`, refused `custom_munmap` calls returning -1 and changing
//! nothing, the static arena registered once on first use, and the lock
//! hooks excluding each other.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use dlmalloc_platform_baremetal::{
    ArenaStats, PAGE_SIZE, StaticArena, acquire_lock, add_region, arena_stats, custom_mmap,
    custom_munmap, custom_page_size, final_lock, init_lock, release_lock,
};
// The tests share the global page allocator: one at a time (`serial`).
use dlmalloc_test_support::serial;

const ARENA: usize = 256 * 1024;
dlmalloc_platform_baremetal::static_arena!(ARENA);

/// The failure value of `custom_mmap`: `(void*)-1`.
const MMAP_FAILED: *mut c_void = usize::MAX as *mut c_void;

#[test]
fn page_size_is_4096() {
    assert_eq!(custom_page_size(), PAGE_SIZE);
    assert_eq!(PAGE_SIZE, 4096);
}

#[test]
fn the_static_arena_is_registered_once() {
    let _serial = serial();
    unsafe extern "C" {
        // Defined by `static_arena!` above.
        safe fn __dlmalloc_baremetal_static_arena() -> StaticArena;
    }
    let arena = __dlmalloc_baremetal_static_arena();
    assert_eq!(arena.len, ARENA);
    assert_eq!(
        arena.start as usize % PAGE_SIZE,
        0,
        "the arena is page aligned"
    );

    // Registered on first use (this call or an earlier test's), as the
    // first region; `regions_add_to_the_arena` may have added one more.
    let stats = arena_stats();
    assert!(
        stats.total_bytes >= ARENA && stats.regions >= 1,
        "{stats:?}"
    );
    let a = custom_mmap(PAGE_SIZE);
    assert_ne!(a, MMAP_FAILED);
    assert_eq!(a as usize % PAGE_SIZE, 0);
    // SAFETY: handed out above, not used.
    assert_eq!(unsafe { custom_munmap(a, PAGE_SIZE) }, 0);
    assert_eq!(arena_stats().regions, stats.regions, "registered once only");
}

#[test]
fn mappings_are_adjacent_writable_and_come_back() {
    let _serial = serial();
    let before = arena_stats();
    let a = custom_mmap(3 * PAGE_SIZE);
    let b = custom_mmap(1); // rounded up to a page
    assert_ne!(a, MMAP_FAILED);
    assert_eq!(
        b as usize,
        a as usize + 3 * PAGE_SIZE,
        "adjacent, lowest first"
    );
    assert_eq!(arena_stats().free_bytes, before.free_bytes - 4 * PAGE_SIZE);
    // SAFETY: four fresh pages.
    unsafe { a.cast::<u8>().write_bytes(0xEE, 4 * PAGE_SIZE) };
    // Tail first, then the rest: the core trims this way.
    // SAFETY: handed out above, each part freed once, no longer used.
    unsafe {
        assert_eq!(
            custom_munmap(a.cast::<u8>().add(2 * PAGE_SIZE).cast(), 2 * PAGE_SIZE),
            0
        );
        assert_eq!(custom_munmap(a, 2 * PAGE_SIZE), 0);
    }
    assert_eq!(arena_stats(), before);
    // Reused: the same address comes back.
    let again = custom_mmap(PAGE_SIZE);
    assert_eq!(again, a);
    // SAFETY: handed out above, not used.
    assert_eq!(unsafe { custom_munmap(again, PAGE_SIZE) }, 0);
}

#[test]
fn failures_are_minus_one_never_null() {
    let _serial = serial();
    let before = arena_stats();
    assert_eq!(custom_mmap(0), MMAP_FAILED);
    assert_eq!(custom_mmap(ARENA + PAGE_SIZE), MMAP_FAILED);
    assert_eq!(custom_mmap(usize::MAX), MMAP_FAILED);
    // Exhaustion, then recovery.
    let mut pages = Vec::new();
    loop {
        let page = custom_mmap(PAGE_SIZE);
        assert!(!page.is_null());
        if page == MMAP_FAILED {
            break;
        }
        pages.push(page);
    }
    assert_eq!(pages.len() * PAGE_SIZE, before.free_bytes);
    assert_eq!(arena_stats().free_bytes, 0);
    for page in pages {
        // SAFETY: handed out above, freed once, not used.
        assert_eq!(unsafe { custom_munmap(page, PAGE_SIZE) }, 0);
    }
    assert_eq!(arena_stats(), before);
}

#[test]
fn bad_munmaps_are_refused_and_change_nothing() {
    let _serial = serial();
    let a = custom_mmap(2 * PAGE_SIZE);
    assert_ne!(a, MMAP_FAILED);
    let before = arena_stats();
    let mut foreign = vec![0u8; 4 * PAGE_SIZE];
    let foreign_page = foreign
        .as_mut_ptr()
        .map_addr(|x| x.next_multiple_of(PAGE_SIZE));
    let p = a.cast::<u8>();
    // SAFETY: every call is refused before the range is touched.
    unsafe {
        assert_eq!(
            custom_munmap(p.add(1).cast(), PAGE_SIZE),
            -1,
            "unaligned start"
        );
        assert_eq!(custom_munmap(a, 100), -1, "partial page");
        assert_eq!(custom_munmap(a, 0), -1, "empty");
        assert_eq!(custom_munmap(ptr::null_mut(), PAGE_SIZE), -1, "null");
        assert_eq!(
            custom_munmap(foreign_page.cast(), PAGE_SIZE),
            -1,
            "not in the arena"
        );
        assert_eq!(
            custom_munmap(p.add(2 * PAGE_SIZE).cast(), PAGE_SIZE),
            -1,
            "free pages"
        );
        assert_eq!(custom_munmap(a, 3 * PAGE_SIZE), -1, "runs into free pages");
    }
    assert_eq!(arena_stats(), before);
    // SAFETY: handed out above, no longer used; the second call is refused.
    unsafe {
        assert_eq!(custom_munmap(a, 2 * PAGE_SIZE), 0);
        assert_eq!(custom_munmap(a, 2 * PAGE_SIZE), -1, "double free");
    }
}

#[test]
fn regions_add_to_the_arena() {
    let _serial = serial();
    let before = arena_stats();
    let block: &'static mut [u8] = Box::leak(vec![0u8; 9 * PAGE_SIZE].into_boxed_slice());
    // SAFETY: leaked and used by nothing else.
    let added = unsafe { add_region(block.as_mut_ptr(), block.len()) };
    assert!(added >= 8 * PAGE_SIZE);
    // SAFETY: refused (overlaps the region just added), touches nothing.
    assert_eq!(unsafe { add_region(block.as_mut_ptr(), block.len()) }, 0);
    assert_eq!(
        arena_stats(),
        ArenaStats {
            total_bytes: before.total_bytes + added,
            free_bytes: before.free_bytes + added,
            regions: before.regions + 1,
        }
    );
}

#[test]
fn the_lock_hooks_exclude_each_other() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 20_000;
    /// A slot as the core keeps it: pointer-sized, pointer-aligned.
    struct Slot(std::cell::UnsafeCell<*mut c_void>);
    // SAFETY: the slot is only used through the lock hooks, which are meant
    // for use from several threads.
    unsafe impl Sync for Slot {}
    static LOCK: Slot = Slot(std::cell::UnsafeCell::new(ptr::null_mut()));
    // A non-atomic read-modify-write protected only by the lock.
    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    // SAFETY: the slot is valid and nobody uses it yet.
    unsafe { init_lock(LOCK.0.get()) };
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..ROUNDS {
                    // SAFETY: the slot is initialised; each acquire is
                    // paired with a release by the same thread.
                    unsafe {
                        acquire_lock(LOCK.0.get());
                        let value = COUNTER.load(Ordering::Relaxed);
                        std::hint::spin_loop();
                        COUNTER.store(value + 1, Ordering::Relaxed);
                        release_lock(LOCK.0.get());
                    }
                }
            });
        }
    });
    assert_eq!(
        COUNTER.load(Ordering::Relaxed),
        THREADS * ROUNDS,
        "an update was lost"
    );
    // SAFETY: the lock is unlocked and no longer used.
    unsafe { final_lock(LOCK.0.get()) };
}
