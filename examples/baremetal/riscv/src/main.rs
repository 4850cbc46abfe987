//! The allocator on RISC-V 64 under QEMU (machine `virt`, `-bios none`).
//!
//! `DLMalloc` is the global allocator over a 64 KiB static arena; the
//! platform's heap lock is a critical section (machine interrupts off), so
//! the machine-timer handler may allocate while the main loop does. The
//! checks live in `../common/checks.rs`; this file supplies the board: the
//! ns16550 UART for output, the CLINT timer for the ticks, the test device
//! for the exit status, and trap and panic handlers that exit with failure
//! (riscv-rt's defaults would spin forever).
//!
//! Run it with `cargo run --release` from this folder.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "../../common/checks.rs"]
mod checks;

use core::fmt::{self, Write};
use core::panic::PanicInfo;
use core::ptr;

use dlmalloc::DLMalloc;
use riscv::interrupt::Interrupt;
use riscv_rt::{TrapFrame, core_interrupt, entry};

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

dlmalloc_platform_baremetal::static_arena!(64 * 1024);

/// The virt machine's ns16550 UART: transmit register at +0, line status at +5.
const UART: usize = 0x1000_0000;
/// Line status bit: the transmit holding register is empty.
const UART_LSR_THRE: u8 = 1 << 5;
/// The virt machine's test device (sifive_test): a write ends the run.
const TEST_DEVICE: usize = 0x10_0000;
/// The CLINT's machine timer compare register of hart 0.
const CLINT_MTIMECMP: usize = 0x0200_4000;
/// The CLINT's free-running machine timer (10 MHz on virt).
const CLINT_MTIME: usize = 0x0200_BFF8;
/// Timer period in mtime ticks: 200 µs at 10 MHz.
const TIMER_PERIOD: u64 = 2_000;

/// Ends the QEMU run: exit status 0 for `code == 0`, else `code`.
fn exit(code: u16) -> ! {
    let value = if code == 0 {
        0x5555
    } else {
        (u32::from(code) << 16) | 0x3333
    };
    // SAFETY: TEST_DEVICE is the virt machine's sifive_test MMIO register;
    // writing it ends the emulation.
    unsafe { ptr::write_volatile(TEST_DEVICE as *mut u32, value) };
    loop {
        riscv::asm::wfi();
    }
}

/// Writes `bytes` to the UART, waiting for room before each byte.
fn uart_write(bytes: &[u8]) {
    for &byte in bytes {
        // SAFETY: UART is the virt machine's ns16550 MMIO block; the line
        // status register (+5) is readable and the transmit register (+0)
        // writable at any time.
        unsafe {
            while ptr::read_volatile((UART + 5) as *const u8) & UART_LSR_THRE == 0 {}
            ptr::write_volatile(UART as *mut u8, byte);
        }
    }
}

/// The UART as a `fmt::Write`; usable from any context (it keeps no state).
struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        uart_write(s.as_bytes());
        Ok(())
    }
}

/// Sets the next timer interrupt one period from now.
fn arm_timer() {
    // SAFETY: CLINT_MTIME and CLINT_MTIMECMP are the virt machine's CLINT
    // registers of hart 0, 64 bits wide; this program runs on hart 0 only.
    unsafe {
        let now = ptr::read_volatile(CLINT_MTIME as *const u64);
        ptr::write_volatile(CLINT_MTIMECMP as *mut u64, now + TIMER_PERIOD);
    }
}

/// The board: the UART and the machine timer.
struct Virt;

impl Write for Virt {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        Uart.write_str(s)
    }
}

impl checks::Board for Virt {
    const NAME: &'static str = "riscv64";

    fn start_ticks(&mut self) {
        arm_timer();
        // SAFETY: the machine-timer handler below only touches the heap
        // (guarded by the critical-section lock) and atomics, so enabling
        // it cannot break a critical section of the main code.
        unsafe {
            riscv::interrupt::enable_interrupt(Interrupt::MachineTimer);
            riscv::interrupt::enable();
        }
    }

    fn stop_ticks(&mut self) {
        riscv::interrupt::disable_interrupt(Interrupt::MachineTimer);
        riscv::interrupt::disable();
    }
}

#[entry]
fn main() -> ! {
    if checks::run(&mut Virt) {
        exit(0)
    } else {
        exit(1)
    }
}

#[core_interrupt(Interrupt::MachineTimer)]
fn machine_timer() {
    arm_timer();
    checks::on_tick();
}

/// Any exception (an access fault, an illegal instruction...) ends the run.
#[unsafe(export_name = "ExceptionHandler")]
fn exception_handler(frame: &TrapFrame) -> ! {
    let _ = writeln!(
        Uart,
        "FAIL riscv64: exception: mcause {:#x}, mepc {:#x}, mtval {:#x}, ra {:#x}",
        riscv::register::mcause::read().bits(),
        riscv::register::mepc::read(),
        riscv::register::mtval::read(),
        frame.ra,
    );
    exit(2)
}

/// An interrupt other than the machine timer ends the run.
#[unsafe(export_name = "DefaultHandler")]
fn default_handler() -> ! {
    let _ = writeln!(
        Uart,
        "FAIL riscv64: unexpected interrupt: mcause {:#x}",
        riscv::register::mcause::read().bits()
    );
    exit(3)
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    riscv::interrupt::disable();
    let _ = writeln!(Uart, "FAIL riscv64: panic: {info}");
    exit(1)
}
