//! Blocks that carry a pattern derived from a seed, written when the block
//! is allocated (or grown) and checked before it is freed, resized or
//! handed on, so a lost, shifted, truncated or foreign copy is caught.
//!
//! The pattern is made of tiles of [`TILE`] bytes: word `k` of every tile
//! (byte `8k..8k+8`, little-endian) is word `k` of the pattern for the seed,
//! except word 0, which stands for the tile's number. So no two words of
//! one tile are alike, no two tiles are alike, the seed is mixed in before
//! the offset (a neighbour's copy does not match either), and any sub-range
//! can be written or checked on its own (the grown tail after a realloc,
//! the kept prefix after a shrink). Filling and checking copy and compare
//! whole tiles, which stays fast in an unoptimised test build.
//!
//! [`fill`] and [`assert_pattern`] cover every byte. The `*_sampled`
//! variants cover every byte of a block up to [`FULL_UP_TO`] bytes and, in
//! a larger one, the first and last [`EDGE`] bytes and one word every
//! [`STRIDE`] bytes between: a multi-megabyte block then costs microseconds
//! in a fuzzing iteration, and a moved or shifted copy still shows. A block
//! filled sampled must be checked sampled.

/// Blocks up to this size are patterned in full by the sampled variants.
pub const FULL_UP_TO: usize = 64 << 10;
/// Bytes patterned in full at each end of a larger block.
pub const EDGE: usize = 4 << 10;
/// Distance between two patterned words in the middle of a larger block.
pub const STRIDE: usize = 256;
/// The pattern repeats in tiles of this many bytes, but for each tile's
/// first word.
pub const TILE: usize = 4096;
/// Ranges up to this long are written and checked a byte at a time, without
/// preparing a tile.
const SHORT: usize = 64;

/// Word `index` of the pattern for `seed`.
#[inline]
fn word(seed: u64, index: usize) -> u64 {
    (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ 0xA5A5_5A5A_A5A5_5A5A
}

/// The word of the pattern at byte `offset`: its index in the tile, or for
/// a tile's first word, the complement of the tile's number (far from any
/// index in a tile).
#[inline]
fn word_at(seed: u64, offset: usize) -> u64 {
    let k = offset % TILE / 8;
    word(seed, if k == 0 { !(offset / TILE) } else { k })
}

/// Byte `offset` of the pattern for `seed`.
#[inline]
pub fn pattern_byte(seed: u64, offset: usize) -> u8 {
    word_at(seed, offset).to_le_bytes()[offset % 8]
}

/// The pattern for one seed, a tile at a time.
struct Tiles {
    seed: u64,
    /// The current tile (only as much of it as a range needs).
    tile: [u8; TILE],
}

impl Tiles {
    /// The tiles of `seed`, for the range `from..to` (not empty): only the
    /// words of a tile that the range covers are computed.
    fn new(seed: u64, from: usize, to: usize) -> Tiles {
        if from / TILE == (to - 1) / TILE {
            Tiles::with_words(seed, from % TILE / 8, (to - 1) % TILE / 8 + 1)
        } else {
            Tiles::with_words(seed, 0, TILE / 8)
        }
    }

    /// The tiles of `seed` with words `lo..hi` of the tile computed.
    fn with_words(seed: u64, lo: usize, hi: usize) -> Tiles {
        let mut tile = [0; TILE];
        for k in lo.max(1)..hi {
            tile[8 * k..8 * k + 8].copy_from_slice(&word(seed, k).to_le_bytes());
        }
        Tiles { seed, tile }
    }

    /// Calls `visit(at, expected)` for each piece of `from..to` within one
    /// tile, with the pattern's bytes for `at..at + expected.len()`.
    fn pieces(&mut self, from: usize, to: usize, mut visit: impl FnMut(usize, &[u8])) {
        let mut at = from;
        while at < to {
            let t = at / TILE;
            let end = to.min((t + 1) * TILE);
            self.tile[..8].copy_from_slice(&word(self.seed, !t).to_le_bytes());
            visit(at, &self.tile[at % TILE..at % TILE + (end - at)]);
            at = end;
        }
    }
}

/// Writes bytes `from..to` of the pattern for `seed` at `p + from ..`.
///
/// # Safety
///
/// `p + from .. p + to` must be valid for writes; anything else is
/// undefined behavior.
pub unsafe fn fill(p: *mut u8, from: usize, to: usize, seed: u64) {
    if to <= from + SHORT {
        for i in from..to {
            // SAFETY: i < to, inside the range the caller vouches for.
            unsafe { p.add(i).write(pattern_byte(seed, i)) };
        }
        return;
    }
    // SAFETY: the caller vouches for these bytes.
    let bytes = unsafe { core::slice::from_raw_parts_mut(p.add(from), to - from) };
    Tiles::new(seed, from, to).pieces(from, to, |at, expected| {
        bytes[at - from..at - from + expected.len()].copy_from_slice(expected);
    });
}

/// Returns the first offset in `from..to` where `p` differs from the
/// pattern for `seed`, or `None` when the whole range matches.
///
/// # Safety
///
/// `p + from .. p + to` must be valid for reads; anything else is undefined
/// behavior.
pub unsafe fn first_mismatch(p: *const u8, from: usize, to: usize, seed: u64) -> Option<usize> {
    if to <= from + SHORT {
        // SAFETY: i < to, inside the range the caller vouches for.
        return (from..to).find(|&i| unsafe { p.add(i).read() } != pattern_byte(seed, i));
    }
    // SAFETY: the caller vouches for these bytes.
    let bytes = unsafe { core::slice::from_raw_parts(p.add(from), to - from) };
    let mut first = None;
    Tiles::new(seed, from, to).pieces(from, to, |at, expected| {
        let found = &bytes[at - from..at - from + expected.len()];
        if first.is_none() && found != expected {
            first = found
                .iter()
                .zip(expected)
                .position(|(a, b)| a != b)
                .map(|i| at + i);
        }
    });
    first
}

/// Panics with `what`, the offset and the bytes found and expected when `p`
/// does not hold the pattern for `seed` over `from..to`.
///
/// # Safety
///
/// As for [`first_mismatch`].
#[track_caller]
pub unsafe fn assert_pattern(p: *const u8, from: usize, to: usize, seed: u64, what: &str) {
    // SAFETY: forwarded from the caller.
    if let Some(at) = unsafe { first_mismatch(p, from, to, seed) } {
        // SAFETY: first_mismatch only returns offsets inside from..to.
        let found = unsafe { p.add(at).read() };
        panic!(
            "{what}: block {p:?} ({from}..{to}) corrupted at offset {at}: {found:#04x} instead \
             of {:#04x}",
            pattern_byte(seed, at)
        );
    }
}

/// Returns true when all of `p .. p + len` is zero.
///
/// # Safety
///
/// `p .. p + len` must be valid for reads; anything else is undefined
/// behavior.
pub unsafe fn all_zero(p: *const u8, len: usize) -> bool {
    const ZEROS: [u8; TILE] = [0; TILE];
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { core::slice::from_raw_parts(p, len) };
    bytes.chunks(TILE).all(|c| c == &ZEROS[..c.len()])
}

/// Calls `visit(from, to)` for each patterned range of a `size`-byte block
/// sampled as the module describes, cut at `limit`, in increasing order.
fn for_each_sampled(size: usize, limit: usize, mut visit: impl FnMut(usize, usize)) {
    let mut run = |from: usize, to: usize| {
        let to = to.min(limit);
        if from < to {
            visit(from, to);
        }
    };
    if size <= FULL_UP_TO {
        run(0, size);
        return;
    }
    run(0, EDGE);
    let mut at = EDGE;
    while at + 8 <= size - EDGE {
        run(at, at + 8);
        at += STRIDE;
    }
    run(size - EDGE, size);
}

/// Writes the pattern for `seed` into the sampled ranges of a `size`-byte
/// block.
///
/// # Safety
///
/// `p .. p + size` must be valid for writes; anything else is undefined
/// behavior.
pub unsafe fn fill_sampled(p: *mut u8, size: usize, seed: u64) {
    for_each_sampled(size, size, |from, to| {
        // SAFETY: from..to lies inside 0..size.
        unsafe { fill(p, from, to, seed) }
    });
}

/// Returns the first sampled offset below `len` of a block that
/// [`fill_sampled`] filled at `size` bytes where the pattern for `seed` no
/// longer holds (`len` <= `size`: what a shrinking realloc kept).
///
/// # Safety
///
/// `p .. p + len` must be valid for reads; anything else is undefined
/// behavior.
pub unsafe fn first_sampled_mismatch(
    p: *const u8,
    size: usize,
    len: usize,
    seed: u64,
) -> Option<usize> {
    let mut first = None;
    for_each_sampled(size, len, |from, to| {
        if first.is_none() {
            // SAFETY: from..to lies inside 0..len.
            first = unsafe { first_mismatch(p, from, to, seed) };
        }
    });
    first
}

/// [`assert_pattern`] over the sampled ranges below `len` of a block that
/// [`fill_sampled`] filled at `size` bytes.
///
/// # Safety
///
/// As for [`first_sampled_mismatch`].
#[track_caller]
pub unsafe fn assert_sampled(p: *const u8, size: usize, len: usize, seed: u64, what: &str) {
    // SAFETY: forwarded from the caller.
    if let Some(at) = unsafe { first_sampled_mismatch(p, size, len, seed) } {
        // SAFETY: the offset is below len.
        let found = unsafe { p.add(at).read() };
        panic!(
            "{what}: block {p:?} ({size} bytes, {len} checked) corrupted at offset {at}: \
             {found:#04x} instead of {:#04x}",
            pattern_byte(seed, at)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block's bytes written in pieces equal the bytes written at once,
    /// and both read back as the pattern, across tile boundaries.
    #[test]
    fn pieces_and_whole_ranges_agree() {
        let len = 3 * TILE + 77;
        let mut whole = vec![0u8; len];
        let mut pieces = vec![0u8; len];
        // SAFETY: every range lies inside the vectors.
        unsafe {
            fill(whole.as_mut_ptr(), 0, len, 42);
            let cuts = [
                0,
                5,
                8,
                63,
                64,
                200,
                TILE - 1,
                TILE + 9,
                2 * TILE + 100,
                len,
            ];
            for pair in cuts.windows(2) {
                fill(pieces.as_mut_ptr(), pair[0], pair[1], 42);
            }
            assert_eq!(first_mismatch(whole.as_ptr(), 0, len, 42), None);
        }
        assert!(whole == pieces, "piecewise filling differs");
        assert!(
            (0..len).all(|i| whole[i] == pattern_byte(42, i)),
            "a byte differs from pattern_byte"
        );
        // Another seed, a shifted copy and a copy of another tile differ.
        assert_ne!(whole[..TILE], whole[TILE..2 * TILE]);
        // SAFETY: as above.
        unsafe {
            assert_eq!(first_mismatch(whole.as_ptr(), 0, len, 43), Some(0));
            assert!(first_mismatch(whole.as_ptr().add(8), 0, len - 8, 42).is_some());
        }
    }

    /// A changed byte is found at its exact offset, in full and sampled
    /// checks.
    #[test]
    fn a_changed_byte_is_found_where_it_is() {
        let len = FULL_UP_TO + 3 * TILE + 5;
        let mut block = vec![0u8; len];
        // SAFETY: every range lies inside the vector.
        unsafe {
            fill(block.as_mut_ptr(), 0, len, 7);
            for at in [0, 13, TILE, len - 1] {
                block[at] ^= 1;
                assert_eq!(first_mismatch(block.as_ptr(), 0, len, 7), Some(at));
                block[at] ^= 1;
            }
            fill_sampled(block.as_mut_ptr(), len, 9);
            assert_eq!(first_sampled_mismatch(block.as_ptr(), len, len, 9), None);
            let sampled = EDGE + 2 * STRIDE + 3;
            block[sampled] ^= 1;
            assert_eq!(
                first_sampled_mismatch(block.as_ptr(), len, len, 9),
                Some(sampled)
            );
            // A prefix that ends before the change still checks clean.
            assert_eq!(
                first_sampled_mismatch(block.as_ptr(), len, sampled, 9),
                None
            );
        }
    }
}
