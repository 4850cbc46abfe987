//! Reads the fuzzer's bytes as a stream of small decisions. Past the end
//! every read returns zero, so any input is a valid program.

/// A cursor over the fuzzer's input.
pub struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Input { bytes }
    }

    /// True once every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.byte()) | (u16::from(self.byte()) << 8)
    }

    /// A value below `n` (`n` > 0) from one byte: small choices stay cheap.
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    /// A request size: mostly small, some medium and large, a few that
    /// cross the direct-mapping threshold, and rarely an absurd one that
    /// must fail cleanly.
    pub fn size(&mut self) -> usize {
        let class = self.byte();
        let low = usize::from(self.u16());
        match class % 32 {
            0..=15 => low % 257,
            16..=24 => low % 4097,
            25..=28 => low * 4 + usize::from(self.byte()),
            29 | 30 => (low << 4) + usize::from(self.byte()),
            _ => match low % 4 {
                0 => usize::MAX - usize::from(self.byte()),
                1 => usize::MAX / 2 + 1,
                2 => isize::MAX as usize,
                _ => (low << 6) + 1,
            },
        }
    }
}
