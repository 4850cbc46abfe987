//! The `Display` of `Stats` on hand-built values: pure Rust, no call into
//! the C core, so `scripts/sanitizers.sh` also runs it under Miri.
//! (`stats_display.rs` checks the same report on the live global heap.)

use dlmalloc::Stats;

/// A snapshot with distinct values in every field and a limit.
fn sample(footprint_limit: Option<usize>) -> Stats {
    Stats {
        footprint: 2_097_152,
        max_footprint: 4_194_304,
        footprint_limit,
        arena_bytes: 1_048_576,
        in_use_bytes: 123_456,
        free_bytes: 1_973_696,
        free_chunks: 7,
        mmapped_chunks: 2,
        mmapped_bytes: 1_048_576,
        top_bytes: 65_536,
    }
}

#[test]
fn every_field_has_its_line_right_aligned() {
    let text = sample(Some(8 << 20)).to_string();
    assert_eq!(
        text,
        "max system bytes =    4194304\n\
         system bytes     =    2097152\n\
         in use bytes     =     123456\n\
         free bytes       =    1973696\n\
         free chunks      =          7\n\
         top bytes        =      65536\n\
         mmapped chunks   =          2\n\
         mmapped bytes    =    1048576\n\
         footprint limit  =    8388608"
    );
}

#[test]
fn no_limit_reads_none() {
    let text = sample(None).to_string();
    assert_eq!(text.lines().last(), Some("footprint limit  =       none"));
    assert_eq!(text.lines().count(), 9);
}

#[test]
fn numbers_wider_than_the_column_are_printed_whole() {
    let mut stats = sample(None);
    stats.max_footprint = usize::MAX;
    let text = stats.to_string();
    let first = text.lines().next().unwrap();
    assert_eq!(first, format!("max system bytes = {}", usize::MAX));
}
