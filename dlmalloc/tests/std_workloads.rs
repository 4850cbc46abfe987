//! The standard collections work on top of `DLMalloc` as the global
//! allocator, across threads, and leave a consistent heap.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::thread;

use dlmalloc::DLMalloc;
use dlmalloc_platform_std as _;
// The tests compare heap statistics, so they run one at a time (`serial`).
use dlmalloc_test_support::{Rng, serial};

#[global_allocator]
static GLOBAL: DLMalloc = DLMalloc;

trait Shape {
    fn area(&self) -> f64;
}

struct Square(f64);
struct Rect(f64, f64);

impl Shape for Square {
    fn area(&self) -> f64 {
        self.0 * self.0
    }
}

impl Shape for Rect {
    fn area(&self) -> f64 {
        self.0 * self.1
    }
}

#[test]
fn collections_in_one_thread() {
    let _guard = serial();

    let v: Vec<u64> = (0..100_000).collect();
    assert_eq!(v.iter().sum::<u64>(), 99_999 * 100_000 / 2);

    let mut s = String::new();
    for i in 0..10_000 {
        s.push_str(&i.to_string());
    }
    assert!(s.starts_with("0123456789101112"));
    assert_eq!(s.len(), 38_890);

    let formatted = format!("{:?} {} {:>8}", vec![1, 2, 3], "text", 42);
    assert_eq!(formatted, "[1, 2, 3] text       42");

    let mut map = HashMap::new();
    for i in 0..20_000u32 {
        map.insert(format!("key{i}"), vec![i as u8; (i % 97) as usize]);
    }
    for i in (0..20_000u32).step_by(3) {
        map.remove(&format!("key{i}"));
    }
    for i in 0..20_000u32 {
        match map.get(&format!("key{i}")) {
            Some(value) => {
                assert_ne!(i % 3, 0);
                assert_eq!(value.len(), (i % 97) as usize);
                assert!(value.iter().all(|&b| b == i as u8));
            }
            None => assert_eq!(i % 3, 0),
        }
    }

    let tree: BTreeMap<u64, String> = (0..10_000)
        .map(|i| (i * 7 % 10_007, i.to_string()))
        .collect();
    assert_eq!(tree.len(), 10_000);
    for (key, value) in &tree {
        let i: u64 = value.parse().unwrap();
        assert_eq!(i * 7 % 10_007, *key);
    }

    let mut queue = VecDeque::new();
    for i in 0..50_000u32 {
        queue.push_back(i);
        if i % 3 == 0 {
            queue.pop_front();
        }
    }
    assert_eq!(queue.len(), 50_000 - 16_667);
    assert!(
        queue
            .iter()
            .zip(queue.iter().skip(1))
            .all(|(a, b)| a + 1 == *b)
    );

    let shapes: Vec<Box<dyn Shape>> = (0..1000)
        .map(|i| -> Box<dyn Shape> {
            if i % 2 == 0 {
                Box::new(Square(i as f64))
            } else {
                Box::new(Rect(i as f64, 2.0))
            }
        })
        .collect();
    let total: f64 = shapes.iter().map(|shape| shape.area()).sum();
    let expected: f64 = (0..1000)
        .map(|i| {
            if i % 2 == 0 {
                (i * i) as f64
            } else {
                (2 * i) as f64
            }
        })
        .sum();
    assert_eq!(total, expected);

    GLOBAL.heap_check().unwrap();
}

#[test]
fn arc_shared_across_threads() {
    let _guard = serial();

    let shared: Arc<Vec<String>> = Arc::new((0..1000).map(|i| format!("item {i}")).collect());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let mine: Vec<String> = shared.iter().map(|s| format!("{t}:{s}")).collect();
                assert_eq!(mine[999], format!("{t}:item 999"));
                mine.len()
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 1000);
    }
    assert_eq!(Arc::strong_count(&shared), 1);
    GLOBAL.heap_check().unwrap();
}

#[test]
fn eight_threads_build_and_check_collections() {
    let _guard = serial();

    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            thread::spawn(move || {
                let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15 ^ (t + 1));
                let mut checked = 0usize;
                for round in 0..30 {
                    let vecs: Vec<Vec<u64>> = (0..20)
                        .map(|_| {
                            let len = rng.below(5000);
                            (0..len as u64).map(|i| i ^ t).collect()
                        })
                        .collect();
                    let mut map: HashMap<String, Vec<u8>> = HashMap::new();
                    for i in 0..200 {
                        let len = rng.below(300);
                        map.insert(format!("{t}-{round}-{i}"), vec![(i % 251) as u8; len]);
                    }
                    let tree: BTreeMap<u64, Box<[u8]>> = (0..200)
                        .map(|i| (i, vec![t as u8; (i % 64) as usize + 1].into_boxed_slice()))
                        .collect();

                    for v in &vecs {
                        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 ^ t));
                        checked += v.len();
                    }
                    for i in 0..200 {
                        let value = &map[&format!("{t}-{round}-{i}")];
                        assert!(value.iter().all(|&b| b == (i % 251) as u8));
                        checked += value.len();
                    }
                    for (i, value) in &tree {
                        assert_eq!(value.len(), (*i % 64) as usize + 1);
                        assert!(value.iter().all(|&b| b == t as u8));
                    }
                }
                checked
            })
        })
        .collect();
    let checked: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(checked > 0);
    GLOBAL.heap_check().unwrap();
}

#[test]
fn stats_follow_the_workload() {
    let _guard = serial();

    let before = GLOBAL.stats();
    assert!(
        before.footprint > 0,
        "the test harness has allocated already"
    );

    let big = vec![0x5au8; 16 << 20];
    let during = GLOBAL.stats();
    assert!(
        during.in_use_bytes >= before.in_use_bytes + big.len() - (1 << 20),
        "in use grew by less than the 16 MiB held:\nbefore:\n{before}\nduring:\n{during}"
    );
    assert!(during.footprint >= big.len());
    assert!(during.max_footprint >= during.footprint);

    drop(big);
    let after = GLOBAL.stats();
    assert!(
        after.in_use_bytes + (15 << 20) <= during.in_use_bytes,
        "in use did not drop after freeing 16 MiB:\nduring:\n{during}\nafter:\n{after}"
    );
    GLOBAL.heap_check().unwrap();
}
