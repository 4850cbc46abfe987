//! `MspaceAlloc` as the global allocator of a test binary: the standard
//! library's collections, strings and threads all live in its heap, which
//! stays consistent; the core's global heap is never touched.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::thread;

use dlmalloc::{DLMalloc, MspaceAlloc};
use dlmalloc_platform_std as _;

#[global_allocator]
static GLOBAL: MspaceAlloc = MspaceAlloc::new(16 << 20);

#[test]
fn std_workloads_run_in_the_mspace() {
    let shared: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let mut map: HashMap<u64, Vec<u64>> = HashMap::new();
                let mut tree: BTreeMap<String, Box<[u8]>> = BTreeMap::new();
                let mut queue: VecDeque<String> = VecDeque::new();
                for i in 0..3000u64 {
                    map.insert(i, (0..i % 97).map(|x| x * t).collect());
                    tree.insert(
                        format!("{t}:{i}"),
                        vec![(i % 251) as u8; (i % 300) as usize].into(),
                    );
                    queue.push_back("q".repeat((i % 50) as usize));
                    if queue.len() > 100 {
                        queue.pop_front();
                    }
                    if i % 500 == 0 {
                        shared.lock().unwrap().push(format!("thread {t} at {i}"));
                    }
                }
                for (i, v) in &map {
                    assert_eq!(v.len() as u64, i % 97);
                    assert!(v.iter().enumerate().all(|(x, &y)| y == x as u64 * t));
                }
                for (key, value) in &tree {
                    let i: u64 = key.split(':').nth(1).unwrap().parse().unwrap();
                    assert!(value.iter().all(|&b| b == (i % 251) as u8));
                }
                map.len() + tree.len()
            })
        })
        .collect();
    let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total, 4 * 6000);
    assert_eq!(shared.lock().unwrap().len(), 4 * 6);

    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str(&i.to_string());
    }
    assert!(text.len() > 38_000);

    assert!(GLOBAL.is_created());
    let stats = GLOBAL.stats();
    assert!(stats.max_footprint >= 16 << 20, "{stats}");
    assert!(stats.in_use_bytes >= text.len());
    GLOBAL.heap_check().expect("the mspace is consistent");
    assert_eq!(
        DLMalloc.stats().footprint,
        0,
        "the core's global heap was used"
    );
}
