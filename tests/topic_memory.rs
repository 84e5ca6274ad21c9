//! What a topic trie holds per filter, counted by a global allocator of this test binary:
//! 10,000 filters whose levels mostly have one child and one entry, as a dashboard's many
//! device subscriptions do. A level's first child and first entry take a buffer of one
//! (`map::insert_sparing`), not Rust's first four, which more than doubled the trie. Runs
//! on the host and, through wasm-bindgen-test, in the browser.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use mqtt_rtc::mqtt::topic::TopicTrie;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to `System` unchanged; only the byte count is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Relaxed);
        LIVE.fetch_sub(layout.size(), Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_trie_of_10_000_device_filters_holds_about_300_bytes_a_filter() {
    let filters: Vec<String> = (0..10_000)
        .map(|i| match i % 10 {
            0..=6 => format!("site/devices/{i}/temperature"),
            7 => format!("site/devices/{i}/+"),
            8 => format!("site/devices/{i}/#"),
            _ => format!("site/+/{i}/state"),
        })
        .collect();
    let before = LIVE.load(Relaxed);
    let mut trie = TopicTrie::new();
    for f in &filters {
        trie.insert(f, 1u32);
    }
    let per_filter = (LIVE.load(Relaxed) - before) / filters.len();
    println!("{per_filter} bytes a filter");
    // 277 bytes a filter on a 64-bit host and 161 on wasm32; 541 and 305 with
    // four-element first buffers.
    let limit = if cfg!(target_pointer_width = "64") {
        350
    } else {
        220
    };
    assert!(per_filter <= limit, "{per_filter} bytes a filter");
    let mut matched = 0;
    trie.for_each_match("site/devices/42/temperature", |_, _| matched += 1);
    assert_eq!(matched, 1);
}
