//! The deadline a workload stops at, as the native harness's workloads do:
//! an allocator whose cost grows with the number of live blocks would
//! otherwise hold the whole run hostage. wasm32-unknown-unknown has no
//! clock, so the driver lends its own (`performance.now()`).

#[link(wasm_import_module = "bench")]
unsafe extern "C" {
    /// Milliseconds since some fixed moment, from the driver.
    fn now_ms() -> f64;
}

/// A moment in the driver's clock.
#[derive(Clone, Copy)]
pub struct Deadline(f64);

impl Deadline {
    /// `ms` milliseconds from now.
    pub fn after(ms: f64) -> Deadline {
        // SAFETY: the import takes nothing and touches no memory.
        Deadline(unsafe { now_ms() } + ms)
    }

    /// The same deadline `ms` milliseconds later.
    pub fn later(self, ms: f64) -> Deadline {
        Deadline(self.0 + ms)
    }

    /// Whether the moment has passed.
    pub fn passed(self) -> bool {
        // SAFETY: as in `after`.
        unsafe { now_ms() > self.0 }
    }
}
