//! `serde-json`: a JSON round trip of a document of nested derived structs
//! (strings, vectors, maps, options, numbers), as a web service or a
//! config tool does — build, serialize, parse back typed and as a
//! `serde_json::Value` tree, compare, drop.
//!
//! The document is cut into shards, each built from its own seed inside
//! the timed work, so the threads share nothing and the peak resident set
//! is the allocator's footprint under the program's working set.

use std::collections::BTreeMap;

use bench_harness::rng::Rng;
use bench_harness::workloads::Scale;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::program::Workload;

/// The program.
pub struct SerdeJson;

/// How big the document is.
pub struct Plan {
    shards: u64,
    records: usize,
}

/// Shards of a full run (a quick run does a tenth).
const SHARDS: u64 = 32;
/// Records per shard.
const RECORDS: usize = 1000;

/// Words the strings are made of; a few need escaping or are not ASCII.
const WORDS: &[&str] = &[
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "naïve",
    "café",
    "\"quoted\"",
    "tab\there",
    "line\nbreak",
    "back\\slash",
    "über",
    "façade",
    "日本",
    "emoji🙂",
];

/// A customer record, the unit of the document.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Record {
    id: u64,
    name: String,
    email: String,
    active: bool,
    score: f64,
    tags: Vec<String>,
    attributes: BTreeMap<String, String>,
    address: Address,
    orders: Vec<Order>,
    note: Option<String>,
}

/// A postal address.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Address {
    street: String,
    city: String,
    postcode: String,
    country: String,
}

/// An order of a record.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Order {
    number: u64,
    lines: Vec<Line>,
    total_cents: i64,
}

/// One line of an order.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Line {
    sku: String,
    quantity: u32,
    price: f64,
}

/// `min..=max` random words joined by `sep`.
fn phrase(rng: &mut Rng, min: usize, max: usize, sep: &str) -> String {
    let words = min + rng.below(max - min + 1);
    (0..words)
        .map(|_| WORDS[rng.below(WORDS.len())])
        .collect::<Vec<_>>()
        .join(sep)
}

/// A price-like number with two decimals.
fn amount(rng: &mut Rng) -> f64 {
    rng.below(1_000_000) as f64 / 100.0
}

/// Record `id`, drawn from `rng`.
fn record(rng: &mut Rng, id: u64) -> Record {
    let tags = (0..rng.below(6)).map(|_| phrase(rng, 1, 1, "")).collect();
    let attributes = (0..rng.below(8))
        .map(|_| (phrase(rng, 2, 2, "_"), phrase(rng, 1, 4, " ")))
        .collect();
    let orders = (0..rng.below(5))
        .map(|_| {
            let lines: Vec<Line> = (0..1 + rng.below(4))
                .map(|_| Line {
                    sku: format!("SKU-{:06}", rng.below(1_000_000)),
                    quantity: 1 + rng.below(9) as u32,
                    price: amount(rng),
                })
                .collect();
            Order {
                number: rng.next_u64() >> 20,
                total_cents: rng.below(10_000_000) as i64 - 5_000_000,
                lines,
            }
        })
        .collect();
    Record {
        id,
        name: phrase(rng, 2, 2, " "),
        email: format!("{}@example.org", phrase(rng, 2, 2, ".")),
        active: rng.chance(70),
        score: amount(rng) - 5000.0,
        tags,
        attributes,
        address: Address {
            street: format!("{} {}", 1 + rng.below(999), phrase(rng, 2, 2, " ")),
            city: phrase(rng, 1, 1, ""),
            postcode: format!("{:05}", rng.below(100_000)),
            country: phrase(rng, 1, 1, ""),
        },
        orders,
        note: rng.chance(30).then(|| phrase(rng, 3, 14, " ")),
    }
}

/// Builds shard `shard`, round-trips it and returns its JSON length.
fn round_trip(shard: u64, records: usize) -> u64 {
    let mut rng = Rng::new(0x15_0000 + shard);
    let first = shard * records as u64;
    let doc: Vec<Record> = (0..records as u64)
        .map(|i| record(&mut rng, first + i))
        .collect();
    let text = serde_json::to_string(&doc).expect("serialize");
    let typed: Vec<Record> = serde_json::from_str(&text).expect("parse typed");
    assert!(
        typed == doc,
        "serde-json: shard {shard} typed round trip differs"
    );
    let tree: serde_json::Value = serde_json::from_str(&text).expect("parse a Value");
    let expected = serde_json::to_value(&doc).expect("to a Value");
    assert!(
        tree == expected,
        "serde-json: shard {shard} Value round trip differs"
    );
    text.len() as u64
}

impl Workload for SerdeJson {
    type Input = Plan;

    fn prepare(scale: Scale) -> Plan {
        let shards = match scale {
            Scale::Full => SHARDS,
            Scale::Quick => SHARDS / 10,
        };
        Plan {
            shards,
            records: RECORDS,
        }
    }

    fn describe(plan: &Plan) -> String {
        format!("{} shards of {} records", plan.shards, plan.records)
    }

    fn run(plan: &Plan) -> u64 {
        (0..plan.shards)
            .into_par_iter()
            .map(|shard| round_trip(shard, plan.records))
            .sum()
    }
}
