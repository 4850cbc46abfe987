//! A DLL that uses the allocator is loaded, used, made to release its heap
//! and unloaded, 50 times over, and the address space is left as it was:
//! no private memory (committed or reserved) stays behind, and the blocks
//! the DLL leaked on purpose are free address space after each unload.
//! Twice: once with the host calling the DLL's release export before
//! `FreeLibrary`, once with the DLL's `DllMain` releasing on
//! `DLL_PROCESS_DETACH`. A control run without any release shows that the
//! check would see the leak.
//!
//! The DLL is `examples/dll` (crate `dlmalloc-windows-dll`); build it first
//! (`cargo build --target x86_64-pc-windows-gnu -p dlmalloc-windows-dll`,
//! as scripts/windows.sh does): it is looked for next to the test's own
//! executable's folder, in the target directory.
//!
//! This program keeps the system allocator, so only the DLL uses its copy
//! of the platform.

mod common;

use std::collections::BTreeMap;
use std::env;
use std::mem;
use std::os::windows::ffi::OsStrExt;
use std::path::PathBuf;

use common::query;
use windows_sys::Win32::Foundation::{FreeLibrary, HMODULE};
use windows_sys::Win32::System::LibraryLoader::{GetProcAddress, LoadLibraryW};
use windows_sys::Win32::System::Memory::{MEM_FREE, MEM_PRIVATE};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};

const LOADS: usize = 50;
const ROUNDS: u32 = 3;

/// Private memory the process holds, committed or reserved, in bytes:
/// a walk over the whole user address space with `VirtualQuery`.
fn private_bytes() -> usize {
    let top = maximum_application_address();
    let mut total = 0;
    let mut at = 0usize;
    while at <= top {
        let info = query(at);
        if info.Type == MEM_PRIVATE && info.State != MEM_FREE {
            total += info.RegionSize;
        }
        let next = (info.BaseAddress as usize).saturating_add(info.RegionSize);
        assert!(next > at, "VirtualQuery made no progress at {at:#x}");
        at = next;
    }
    total
}

/// The highest address of user space (`GetSystemInfo`).
fn maximum_application_address() -> usize {
    // SAFETY: all zero bytes are a valid SYSTEM_INFO.
    let mut info: SYSTEM_INFO = unsafe { mem::zeroed() };
    // SAFETY: `info` is a live, writable SYSTEM_INFO.
    unsafe { GetSystemInfo(&mut info) };
    info.lpMaximumApplicationAddress as usize
}

/// What `dll_work(rounds)` returns, computed here the same way.
fn expected_checksum(rounds: u32) -> u64 {
    let mut sum = 0u64;
    for round in 0..u64::from(rounds) {
        let names: BTreeMap<u64, String> = (0..500).map(|i| (i, format!("{round}:{i}"))).collect();
        sum = sum.wrapping_add(9_999 * 9_999 + round);
        sum = sum.wrapping_add(names[&499].len() as u64);
        sum = sum.wrapping_add(600_000 * (round as u8) as u64);
    }
    sum.wrapping_add(100)
}

/// The DLL's path: in the target folder, one up from `deps/`.
fn dll_path() -> PathBuf {
    let exe = env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("dlmalloc_windows_dll.dll");
    assert!(
        path.exists(),
        "{} is missing: build it first with \
         `cargo build --target x86_64-pc-windows-gnu -p dlmalloc-windows-dll`",
        path.display()
    );
    path
}

/// The loaded DLL and its exports.
struct Dll {
    module: HMODULE,
    work: extern "C" fn(u32) -> u64,
    mapped_bytes: extern "C" fn() -> usize,
    probe: extern "C" fn() -> usize,
    release_all: extern "C" fn() -> usize,
    release_on_detach: extern "C" fn(bool),
}

impl Dll {
    fn load() -> Dll {
        let wide: Vec<u16> = dll_path().as_os_str().encode_wide().chain([0]).collect();
        // SAFETY: a NUL-terminated UTF-16 path; loading runs the DLL's
        // initialisers, which this test's DLL keeps harmless.
        let module = unsafe { LoadLibraryW(wide.as_ptr()) };
        assert!(!module.is_null(), "LoadLibraryW failed");
        /// The export `name` (NUL-terminated), as a function pointer.
        fn export(module: HMODULE, name: &[u8]) -> usize {
            // SAFETY: a loaded module and a NUL-terminated name.
            let found = unsafe { GetProcAddress(module, name.as_ptr()) };
            found.map(|f| f as usize).expect("missing export")
        }
        // SAFETY: the DLL defines these exports with exactly these C
        // signatures (examples/dll/src/lib.rs).
        unsafe {
            Dll {
                module,
                work: mem::transmute::<usize, extern "C" fn(u32) -> u64>(export(
                    module,
                    b"dll_work\0",
                )),
                mapped_bytes: mem::transmute::<usize, extern "C" fn() -> usize>(export(
                    module,
                    b"dll_mapped_bytes\0",
                )),
                probe: mem::transmute::<usize, extern "C" fn() -> usize>(export(
                    module,
                    b"dll_probe\0",
                )),
                release_all: mem::transmute::<usize, extern "C" fn() -> usize>(export(
                    module,
                    b"dll_release_all\0",
                )),
                release_on_detach: mem::transmute::<usize, extern "C" fn(bool)>(export(
                    module,
                    b"dll_release_on_detach\0",
                )),
            }
        }
    }

    /// Unloads the DLL; none of its exports may be called afterwards.
    fn unload(self) {
        // SAFETY: the module was loaded by `load` and is freed once.
        assert_ne!(unsafe { FreeLibrary(self.module) }, 0, "FreeLibrary failed");
    }
}

/// How the DLL's heap is given back before it is unloaded.
#[derive(Clone, Copy, PartialEq)]
enum Release {
    /// The host calls the DLL's release export before `FreeLibrary`.
    Export,
    /// The DLL's `DllMain` releases on `DLL_PROCESS_DETACH`.
    DllMain,
    /// Not at all: the control case, which leaks.
    Never,
}

/// One load, some work, the release as chosen, and the unload. Returns
/// the DLL's leaked block.
fn cycle(release: Release) -> usize {
    let dll = Dll::load();
    assert_eq!((dll.mapped_bytes)(), 0, "a fresh load starts with no heap");
    assert_eq!((dll.work)(ROUNDS), expected_checksum(ROUNDS));
    let mapped = (dll.mapped_bytes)();
    assert!(
        mapped >= 1 << 20,
        "the DLL's heap holds its leaked 1 MiB: {mapped}"
    );
    let probe = (dll.probe)();
    assert_ne!(query(probe).State, MEM_FREE);
    match release {
        Release::Export => {
            assert_eq!((dll.release_all)(), mapped);
            assert_eq!((dll.mapped_bytes)(), 0);
            assert_eq!(query(probe).State, MEM_FREE, "released, before the unload");
        }
        Release::DllMain => (dll.release_on_detach)(true),
        Release::Never => {}
    }
    dll.unload();
    probe
}

/// Runs `LOADS` cycles after a first one (which brings in the DLL's own
/// imports and grows the system's structures once) and checks that they
/// leave no private memory behind. Returns the private bytes at the end.
fn loads_leave_nothing(release: Release) -> usize {
    cycle(release);
    let before = private_bytes();
    for _ in 0..LOADS {
        let probe = cycle(release);
        assert_eq!(query(probe).State, MEM_FREE, "after the unload");
    }
    let after = private_bytes();
    eprintln!("private memory: {before} bytes before {LOADS} loads, {after} after");
    assert!(
        after <= before,
        "{LOADS} loads left {} bytes of private memory behind",
        after - before
    );
    after
}

/// One test: the address-space figures are process-wide.
#[test]
fn loading_and_unloading_leaves_no_memory_behind() {
    loads_leave_nothing(Release::Export);
    let after = loads_leave_nothing(Release::DllMain);

    // The control: without the release, the DLL's heap stays behind.
    let probe = cycle(Release::Never);
    assert_ne!(query(probe).State, MEM_FREE);
    let leaked = private_bytes() - after;
    assert!(
        leaked >= 1 << 20,
        "the check missed a leak of the DLL's heap: {leaked}"
    );
}
