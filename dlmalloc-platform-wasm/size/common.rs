// The program every size-comparison module runs, included by each crate's
// lib.rs after its `#[global_allocator]`. No core::fmt: the module's size
// should be about the allocator, so the text is pushed char by char.

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// A panic (an allocation failure included) traps.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// Builds a `Vec<u32>` of `n` items, a `String` of about 1.5 `n` bytes and
/// a `BTreeMap<u32, u32>` of `n` entries, removes every other entry, and
/// returns a checksum of what is left (size-comparison.mjs computes the
/// same value).
#[unsafe(no_mangle)]
pub extern "C" fn run(n: u32) -> u32 {
    let mut v: Vec<u32> = Vec::new();
    for i in 0..n {
        v.push(i.wrapping_mul(2654435761));
    }
    let mut s = String::new();
    for i in 0..n {
        s.push(char::from(b'a' + (i % 26) as u8));
        if i % 10 == 9 {
            s.push_str(" word ");
        }
    }
    let mut m: BTreeMap<u32, u32> = BTreeMap::new();
    for (i, k) in v.iter().enumerate() {
        m.insert(*k, i as u32);
    }
    for k in v.iter().step_by(2) {
        m.remove(k);
    }
    let mut sum = m.len() as u32;
    for (k, x) in &m {
        sum = sum.wrapping_mul(31).wrapping_add(k ^ x);
    }
    for b in s.bytes() {
        sum = sum.wrapping_mul(31).wrapping_add(b as u32);
    }
    sum
}
