//! `DLMalloc` as the global allocator of a real multi-threaded workload.
//!
//! Run with `cargo run --release -p examples --bin global_heap`. Four
//! threads build and verify collections of varied sizes, one buffer grows by
//! doubling to 64 MiB, then the program prints what it did and the heap's
//! statistics, trims the heap, and checks its consistency (exit status 1 if
//! the check fails).

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::thread;
use std::time::Instant;

use dlmalloc::DLMalloc;
use dlmalloc_platform_std as _; // the hosted platform: pages, locks, abort

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

const THREADS: u64 = 4;
const ROUNDS: u64 = 400;
const BUFFER_TARGET: usize = 64 << 20;

/// A xorshift generator: varied sizes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// What one worker did.
#[derive(Default)]
struct Work {
    allocations: u64,
    bytes: u64,
}

/// Builds, verifies and drops collections; keeps a fraction alive across
/// rounds so the heap holds a changing mix of block sizes.
fn worker(id: u64) -> Work {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ ((id + 1) * 0x9e37_79b9));
    let mut work = Work::default();
    let mut kept: Vec<Vec<u64>> = Vec::new();

    for round in 0..ROUNDS {
        let vectors: Vec<Vec<u64>> = (0..32)
            .map(|_| {
                let len = rng.below(20_000) as usize;
                work.allocations += 1;
                work.bytes += len as u64 * 8;
                (0..len as u64).map(|i| i.wrapping_mul(id + 3)).collect()
            })
            .collect();

        let strings: Vec<String> = (0..500)
            .map(|i| {
                let s = format!(
                    "worker {id} round {round} string {i} {}",
                    "x".repeat(i % 64)
                );
                work.allocations += 1;
                work.bytes += s.len() as u64;
                s
            })
            .collect();

        let mut map: HashMap<String, Vec<u8>> = HashMap::new();
        for i in 0..400u64 {
            let len = rng.below(2_000) as usize;
            work.allocations += 2;
            work.bytes += len as u64;
            map.insert(format!("{id}/{round}/{i}"), vec![(i % 251) as u8; len]);
        }

        let tree: BTreeMap<u64, Box<[u32]>> = (0..300u64)
            .map(|i| {
                let len = 1 + rng.below(100) as usize;
                work.allocations += 1;
                work.bytes += len as u64 * 4;
                (i * 7919 % 10_007, vec![i as u32; len].into_boxed_slice())
            })
            .collect();

        for v in &vectors {
            assert!(
                v.iter()
                    .enumerate()
                    .all(|(i, &x)| x == (i as u64).wrapping_mul(id + 3))
            );
        }
        for (i, s) in strings.iter().enumerate() {
            assert!(s.starts_with(&format!("worker {id} round {round} string {i} ")));
            assert_eq!(s.matches('x').count(), i % 64);
        }
        for i in 0..400u64 {
            assert!(
                map[&format!("{id}/{round}/{i}")]
                    .iter()
                    .all(|&b| b == (i % 251) as u8)
            );
        }
        for (key, value) in &tree {
            let i = value[0] as u64;
            assert_eq!(i * 7919 % 10_007, *key);
            assert!(value.iter().all(|&x| x as u64 == i));
        }

        // Keep every fourth vector for a while; drop the oldest ones.
        kept.extend(vectors.into_iter().step_by(4));
        if kept.len() > 64 {
            kept.drain(..32);
        }
    }
    work
}

/// Grows one buffer by doubling (each step a `realloc`) and verifies it.
fn grow_buffer() -> (usize, u32) {
    let mut buffer: Vec<u8> = Vec::with_capacity(4096);
    let mut reallocations = 0;
    while buffer.len() < BUFFER_TARGET {
        let capacity = buffer.capacity();
        let old_len = buffer.len();
        buffer.extend((old_len..capacity.max(4096)).map(|i| (i % 253) as u8));
        if buffer.len() == buffer.capacity() && buffer.len() < BUFFER_TARGET {
            buffer.reserve_exact(buffer.capacity());
            reallocations += 1;
        }
    }
    assert!(
        buffer
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 253) as u8)
    );
    (buffer.len(), reallocations)
}

fn main() -> ExitCode {
    let start = Instant::now();

    let handles: Vec<_> = (0..THREADS)
        .map(|id| thread::spawn(move || worker(id)))
        .collect();
    let mut allocations = 0;
    let mut bytes = 0;
    for handle in handles {
        let work = handle.join().expect("a worker panicked");
        allocations += work.allocations;
        bytes += work.bytes;
    }
    let workers_done = start.elapsed();

    let (buffer_len, reallocations) = grow_buffer();
    let elapsed = start.elapsed();

    println!(
        "{THREADS} threads built, verified and dropped Vecs, Strings, HashMaps and BTreeMaps:"
    );
    println!(
        "  {allocations} allocations, {:.1} MiB of payload, in {workers_done:.2?}",
        bytes as f64 / (1 << 20) as f64
    );
    println!(
        "one buffer grown to {} MiB by {reallocations} doubling reallocs and verified",
        buffer_len >> 20
    );
    println!("total time {elapsed:.2?}");

    println!("\nheap statistics:\n{}", GLOBAL.stats());
    let released = GLOBAL.trim(0);
    println!(
        "\nafter trim ({}):\n{}",
        if released {
            "memory released"
        } else {
            "nothing to release"
        },
        GLOBAL.stats()
    );

    match GLOBAL.heap_check() {
        Ok(()) => {
            println!("\nheap check: ok");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("\n{error}");
            ExitCode::FAILURE
        }
    }
}
