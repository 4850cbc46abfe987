//! The allocator on a Cortex-M4 under QEMU (machine `mps2-an386`).
//!
//! `DLMalloc` is the global allocator over a 64 KiB static arena; the
//! platform's heap lock is a critical section, so the SysTick handler may
//! allocate while the main loop does. The checks live in
//! `../common/checks.rs`; this file supplies the board: semihosting output
//! and exit status, SysTick, and fault and panic handlers that exit with
//! failure (cortex-m-rt's default HardFault handler would spin forever).
//!
//! Run it with `cargo run --release` from this folder.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "../../common/checks.rs"]
mod checks;

use core::fmt;
use core::panic::PanicInfo;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, hio, hprintln};
use dlmalloc::DLMalloc;

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

dlmalloc_platform_baremetal::static_arena!(64 * 1024);

/// SysTick reload value: at the board's 25 MHz core clock, an interrupt
/// every 160 µs.
const SYSTICK_RELOAD: u32 = 4_000;

/// The board: semihosting stdout and the SysTick timer.
struct Mps2 {
    out: hio::HostStream,
    syst: SYST,
}

impl fmt::Write for Mps2 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.out.write_all(s.as_bytes()).map_err(|()| fmt::Error)
    }
}

impl checks::Board for Mps2 {
    const NAME: &'static str = "cortex-m";

    fn start_ticks(&mut self) {
        self.syst.set_clock_source(SystClkSource::Core);
        self.syst.set_reload(SYSTICK_RELOAD);
        self.syst.clear_current();
        self.syst.enable_interrupt();
        self.syst.enable_counter();
    }

    fn stop_ticks(&mut self) {
        self.syst.disable_interrupt();
        self.syst.disable_counter();
    }
}

#[entry]
fn main() -> ! {
    let peripherals = cortex_m::Peripherals::take().expect("peripherals taken once");
    let Ok(out) = hio::hstdout() else {
        exit(debug::EXIT_FAILURE)
    };
    let mut board = Mps2 {
        out,
        syst: peripherals.SYST,
    };
    if checks::run(&mut board) {
        exit(debug::EXIT_SUCCESS)
    } else {
        exit(debug::EXIT_FAILURE)
    }
}

/// Ends the QEMU run with `status` through semihosting.
fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    // Only reached without a semihosting host; nothing else to do.
    loop {
        cortex_m::asm::wfi();
    }
}

#[exception]
fn SysTick() {
    checks::on_tick();
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("FAIL cortex-m: HardFault: {:?}", frame);
    exit(debug::EXIT_FAILURE)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    hprintln!("FAIL cortex-m: unexpected exception or interrupt {}", irqn);
    exit(debug::EXIT_FAILURE)
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    cortex_m::interrupt::disable();
    hprintln!("FAIL cortex-m: panic: {}", info);
    exit(debug::EXIT_FAILURE)
}
