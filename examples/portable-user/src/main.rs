//! A program written the way a user of the older `portable-dlmalloc` crate
//! writes it: its own platform hooks, `portable_dlmalloc::DLMalloc` as the
//! global allocator, and the raw API under `portable_dlmalloc::raw`. Only
//! its Cargo.toml names this project's `dlmalloc` package.
//!
//! Prints "compat ok" and exits 0 when every check passes; otherwise prints
//! the failed checks and exits 1.

use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::process::ExitCode;
use std::thread;

#[global_allocator]
static A: portable_dlmalloc::DLMalloc = portable_dlmalloc::DLMalloc;

// ---- the platform hooks, as a portable-dlmalloc user defines them --------

/// Pages from the system; `usize::MAX` as a pointer on failure.
///
/// # Safety
///
/// Called by the allocator core only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_mmap(length: usize) -> *mut c_void {
    // SAFETY: an anonymous private mapping touches no existing memory.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            length,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        usize::MAX as *mut c_void
    } else {
        p
    }
}

/// Gives pages back to the system.
///
/// # Safety
///
/// `ptr` and `length` describe pages obtained from `custom_mmap`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_munmap(ptr: *mut c_void, length: usize) -> i32 {
    // SAFETY: the core only unmaps ranges it got from custom_mmap.
    unsafe { libc::munmap(ptr, length) }
}

/// The lock slot seen as an atomic word: 0 free, 1 held.
///
/// # Safety
///
/// `sl` points to a live, pointer-aligned lock slot.
unsafe fn slot<'a>(sl: *mut *mut c_void) -> &'a AtomicUsize {
    // SAFETY: the slot is pointer-sized and pointer-aligned, as AtomicUsize
    // requires, and only these hooks access it.
    unsafe { AtomicUsize::from_ptr(sl.cast()) }
}

/// # Safety
///
/// `sl` points to a live lock slot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init_lock(sl: *mut *mut c_void) {
    // SAFETY: the core passes its lock slot.
    unsafe { slot(sl) }.store(0, Ordering::Release);
}

/// # Safety
///
/// `sl` points to a live lock slot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn final_lock(sl: *mut *mut c_void) {
    // SAFETY: the core passes its lock slot.
    unsafe { slot(sl) }.store(0, Ordering::Release);
}

/// # Safety
///
/// `sl` points to a live lock slot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn acquire_lock(sl: *mut *mut c_void) {
    // SAFETY: the core passes its lock slot.
    let lock = unsafe { slot(sl) };
    while lock
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        while lock.load(Ordering::Relaxed) != 0 {
            core::hint::spin_loop();
            // Let the holder run when there are more threads than cores.
            thread::yield_now();
        }
    }
}

/// # Safety
///
/// `sl` points to a lock slot the caller holds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn release_lock(sl: *mut *mut c_void) {
    // SAFETY: the core passes its lock slot.
    unsafe { slot(sl) }.store(0, Ordering::Release);
}

/// Reports a heap error and aborts. Writes with `write(2)`: the heap lock
/// may be held, so nothing here may allocate.
///
/// # Safety
///
/// `msg` and `file` are null or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custom_abort(msg: *const i8, file: *const i8, line: u32) -> ! {
    fn put(bytes: &[u8]) {
        // SAFETY: writes a live byte slice to stderr.
        unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
    }
    fn put_c(text: *const i8) {
        if !text.is_null() {
            // SAFETY: custom_abort's contract: a NUL-terminated string.
            put(unsafe { core::ffi::CStr::from_ptr(text) }.to_bytes());
        }
    }
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut n = line;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(b"dlmalloc abort: ");
    put_c(msg);
    put(b" (");
    put_c(file);
    put(b":");
    put(&digits[at..]);
    put(b")\n");
    std::process::abort()
}

// ---- the program ----------------------------------------------------------

fn main() -> ExitCode {
    let mut failures: Vec<String> = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            failures.push(what);
        }
    };

    // The raw API under the seed crate's module name and constants.
    // SAFETY: only changes the granularity of future system requests.
    let set = unsafe {
        portable_dlmalloc::raw::dlmallopt(portable_dlmalloc::raw::M_GRANULARITY, 0x20000)
    };
    check(
        set == 1,
        format!("dlmallopt(M_GRANULARITY, 0x20000) returned {set}, not 1"),
    );

    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    // SAFETY: the blocks are freed once, below, with dlfree.
    let (a, b) = unsafe {
        (
            portable_dlmalloc::raw::dlpvalloc(100),
            portable_dlmalloc::raw::dlpvalloc(100),
        )
    };
    check(
        !a.is_null() && !b.is_null(),
        format!("dlpvalloc(100) returned {a:p} and {b:p}"),
    );
    check(
        a as usize % page == 0,
        format!("dlpvalloc(100) = {a:p} is not {page}-aligned"),
    );
    check(
        b as usize % page == 0,
        format!("dlpvalloc(100) = {b:p} is not {page}-aligned"),
    );
    let distance = (a as usize).abs_diff(b as usize);
    // Each block is a whole page and carries a chunk header in front of it,
    // so two blocks can be neither overlapping nor exactly one page apart.
    check(
        distance > page,
        format!("two dlpvalloc(100) blocks {a:p} and {b:p} are {distance} bytes apart"),
    );
    // SAFETY: both blocks are live and written within their page.
    unsafe {
        a.cast::<u8>().write_bytes(0xaa, page);
        b.cast::<u8>().write_bytes(0xbb, page);
        let a_ok = (0..page).all(|i| a.cast::<u8>().add(i).read() == 0xaa);
        check(
            a_ok,
            "writing the second dlpvalloc block changed the first".to_string(),
        );
        portable_dlmalloc::raw::dlfree(a);
        portable_dlmalloc::raw::dlfree(b);
    }

    // Ordinary Rust code on top of the global allocator.
    let numbers: Vec<u64> = (0..100_000).collect();
    check(
        numbers.iter().sum::<u64>() == 4_999_950_000,
        "Vec<u64> sum is wrong".to_string(),
    );
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&format!("{i},"));
    }
    check(
        text.len() == 3890 && text.starts_with("0,1,2,"),
        "String content is wrong".to_string(),
    );

    // A few threads, so the spin lock above is really used.
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            thread::spawn(move || {
                let blocks: Vec<Vec<u64>> = (0..500)
                    .map(|i| vec![t * 1000 + i; (i % 50) as usize])
                    .collect();
                blocks
                    .iter()
                    .enumerate()
                    .all(|(i, v)| v.len() == i % 50 && v.iter().all(|&x| x == t * 1000 + i as u64))
            })
        })
        .collect();
    for (t, worker) in workers.into_iter().enumerate() {
        let ok = worker.join().unwrap_or(false);
        check(ok, format!("thread {t} saw wrong contents"));
    }

    if failures.is_empty() {
        println!("compat ok");
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            eprintln!("compat check failed: {failure}");
        }
        ExitCode::FAILURE
    }
}
