//! `deflate`: gzip and gunzip generated text with `flate2` on its default
//! pure-Rust backend (miniz_oxide), as a log shipper or an archiver does.
//! Few, large blocks: the compressor's state and window, and output
//! buffers grown by doubling — the control row where the allocator should
//! matter least.
//!
//! The data is cut into chunks, each generated from its own seed inside
//! the timed work (cheap next to compressing it), so the threads share
//! nothing and the peak resident set is the program's working set.

use std::io::{Read, Write};

use bench_harness::rng::Rng;
use bench_harness::workloads::Scale;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use rayon::prelude::*;

use crate::program::Workload;

/// The program.
pub struct Deflate;

/// How much data there is.
pub struct Plan {
    chunks: u64,
    chunk_bytes: usize,
}

/// Chunks of a full run (a quick run does a tenth).
const CHUNKS: u64 = 48;
/// Bytes of text per chunk.
const CHUNK_BYTES: usize = 256 << 10;

/// Words the text is made of.
const WORDS: &[&str] = &[
    "the",
    "allocator",
    "returned",
    "a",
    "block",
    "of",
    "memory",
    "to",
    "thread",
    "request",
    "served",
    "from",
    "cache",
    "after",
    "free",
    "list",
    "was",
    "empty",
    "page",
    "mapped",
    "error",
    "warning",
    "info",
    "debug",
    "connection",
    "closed",
    "by",
    "peer",
    "retry",
    "in",
    "seconds",
];

/// `len` bytes of log-like text: words, numbers, line breaks.
fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        match rng.below(16) {
            0 => out.extend_from_slice(format!("{} ", rng.below(100_000)).as_bytes()),
            1 => out.push(b'\n'),
            _ => {
                out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
                out.push(b' ');
            }
        }
    }
    out.truncate(len);
    out
}

/// Generates chunk `chunk`, gzips and gunzips it and returns the gzip
/// length.
fn round_trip(chunk: u64, len: usize) -> u64 {
    let data = text(&mut Rng::new(0xdef1_a7e0 + chunk), len);
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(&data).expect("gzip into a Vec");
    let packed = encoder.finish().expect("gzip into a Vec");
    let mut unpacked = Vec::new();
    GzDecoder::new(packed.as_slice())
        .read_to_end(&mut unpacked)
        .expect("gunzip what was just gzipped");
    assert!(
        unpacked == data,
        "deflate: chunk {chunk} differs after the round trip"
    );
    packed.len() as u64
}

impl Workload for Deflate {
    type Input = Plan;

    fn prepare(scale: Scale) -> Plan {
        let chunks = match scale {
            Scale::Full => CHUNKS,
            Scale::Quick => CHUNKS / 10,
        };
        Plan {
            chunks,
            chunk_bytes: CHUNK_BYTES,
        }
    }

    fn describe(plan: &Plan) -> String {
        format!("{} chunks of {} KiB", plan.chunks, plan.chunk_bytes >> 10)
    }

    fn run(plan: &Plan) -> u64 {
        (0..plan.chunks)
            .into_par_iter()
            .map(|chunk| round_trip(chunk, plan.chunk_bytes))
            .sum()
    }
}
