//! A small deterministic random number generator (SplitMix64), so every
//! allocator sees exactly the same sequence of requests.

/// SplitMix64: fast, seedable, and good enough to pick sizes and slots.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`); the tiny modulo bias does not matter here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A size in `lo..=hi`, uniform over the power-of-two bands between them
    /// and then uniform within the band: programs ask for many more small
    /// blocks than large ones, and a plain uniform draw over 1 KiB..64 KiB
    /// would almost never ask for anything near 1 KiB.
    pub fn size(&mut self, lo: usize, hi: usize) -> usize {
        let lo_bits = usize::BITS - lo.leading_zeros();
        let hi_bits = usize::BITS - hi.leading_zeros();
        let band = lo_bits + self.below((hi_bits - lo_bits + 1) as usize) as u32;
        let band_lo = (1usize << (band - 1)).max(lo);
        let band_hi = ((1usize << band) - 1).min(hi);
        band_lo + self.below(band_hi - band_lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}
