//! The map types of the crate. [`VecMap`] (and [`VecSet`] on top of it) is a sorted `Vec`
//! of key/value pairs with the method names and semantics of `BTreeMap` that the code base
//! uses. It exists for the size of the `.wasm`: `BTreeMap` is monomorphised per key and
//! value type into node splitting, merging and stealing code (about 37 KB), `HashMap` adds
//! hashbrown and SipHash (about 8 KB), while a sorted `Vec` needs one binary search and the
//! `Vec` insert/remove (a memmove) per type. Lookups are O(log n); insert and remove are O(n)
//! by memmove. That fits the session's tables: the in-flight ones are bounded by Receive
//! Maximum and keyed by sequence numbers or packet ids that mostly arrive in increasing
//! order (so inserts append), and the others (aliases, peers, trie children) are small or
//! filled once. Iteration is in key order, like `BTreeMap`. The client's requests waiting
//! to settle are not bounded (the offline queue, the socket backlog) and leave oldest
//! first, which costs `VecMap` a memmove of the rest each: they are a [`SeqMap`]. Pure: no
//! I/O, no clock, builds on the host and on wasm32.

use std::borrow::Borrow;
use std::fmt;

/// `Vec::insert`, except that the first element gets a buffer of one, not Rust's four:
/// most of the crate's small tables hold one element (a topic level's children and its
/// entries above all), and a topic trie of 10,000 device filters took 305 bytes a filter
/// on wasm32 with four, 161 with one (`tests/topic_memory.rs`). A second element grows the
/// buffer to four as usual.
pub fn insert_sparing<T>(v: &mut Vec<T>, index: usize, element: T) {
    if v.capacity() == 0 {
        v.reserve_exact(1);
    }
    v.insert(index, element);
}

/// A map kept as a `Vec` of `(key, value)` pairs sorted by key, keys unique.
#[derive(Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

// The methods that need no key comparison.
impl<K, V> VecMap<K, V> {
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The pairs in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values in key order, the map consumed.
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = V> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, v)| v)
    }

    /// Keeps the pairs for which `keep` returns true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }
}

// The methods that compare keys. Everything goes through `find`, so each key type adds one
// binary search, not one per method. An `Ok(i)` from `find` is in bounds: the indexing
// below cannot panic.
impl<K: Ord, V> VecMap<K, V> {
    /// `Ok(index)` of `key`, or `Err(index)` where it would be inserted to keep the order.
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        Some(&self.entries[i].1)
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        Some(&mut self.entries[i].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Inserts `value` under `key`; an existing pair keeps its key and gives back its old
    /// value, as `BTreeMap::insert` does. Appending (the largest key so far) moves nothing.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                insert_sparing(&mut self.entries, i, (key, value));
                None
            }
        }
    }

    /// Removes the pair of `key` and returns its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        Some(self.entries.remove(i).1)
    }

    /// The place of `key`, for inserting a value only when it is absent.
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        let at = self.find(&key);
        Entry { map: self, key, at }
    }
}

/// A place in a [`VecMap`], from [`VecMap::entry`].
pub struct Entry<'a, K, V> {
    map: &'a mut VecMap<K, V>,
    key: K,
    /// The result of the search for `key` in `map`.
    at: Result<usize, usize>,
}

impl<'a, K, V> Entry<'a, K, V> {
    /// The value under the key, inserted from `make` when absent (the key given to
    /// `entry` is dropped when present, as with `BTreeMap`).
    pub fn or_insert_with(self, make: impl FnOnce() -> V) -> &'a mut V {
        let i = match self.at {
            Ok(i) => i,
            Err(i) => {
                insert_sparing(&mut self.map.entries, i, (self.key, make()));
                i
            }
        };
        &mut self.map.entries[i].1
    }

    pub fn or_insert(self, value: V) -> &'a mut V {
        self.or_insert_with(|| value)
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    /// The pairs in key order.
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// A set kept as a sorted `Vec`: a [`VecMap`] with no values, the methods of `BTreeSet`
/// that the code base uses.
#[derive(Clone, PartialEq, Eq)]
pub struct VecSet<K> {
    map: VecMap<K, ()>,
}

impl<K> Default for VecSet<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: fmt::Debug> fmt::Debug for VecSet<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<K> VecSet<K> {
    pub const fn new() -> Self {
        Self { map: VecMap::new() }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// The keys in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.map.keys()
    }
}

impl<K: Ord> VecSet<K> {
    pub fn contains<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.contains_key(key)
    }

    /// Adds `key`; false when it was there already (and then the set is unchanged).
    pub fn insert(&mut self, key: K) -> bool {
        match self.map.find(&key) {
            Ok(_) => false,
            Err(i) => {
                self.map.entries.insert(i, (key, ()));
                true
            }
        }
    }

    /// Removes `key`; false when it was not there.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.remove(key).is_some()
    }
}

impl<K: Ord> Extend<K> for VecSet<K> {
    fn extend<I: IntoIterator<Item = K>>(&mut self, keys: I) {
        for k in keys {
            self.insert(k);
        }
    }
}

/// A map whose keys are inserted in increasing order and mostly removed in that order: the
/// client's publishes waiting to settle, by session token. Its `Vec` of `(key, value)`
/// starts at `head`: a removed value leaves a hole, and the holes at the front are skipped
/// by moving `head`, then dropped in one move once they are half the `Vec`. Removing the
/// oldest is O(log n) amortized, where [`VecMap::remove`] moves every later entry: a burst
/// of 200,000 QoS 0 publishes spent 7% of the page's CPU in that memmove. Keys out of
/// order are still correct, at `VecMap`'s cost. Holes stay while an older entry does, so
/// memory follows the oldest entry's age, not the count.
pub struct SeqMap<K, V> {
    entries: Vec<(K, Option<V>)>,
    head: usize,
}

impl<K, V> Default for SeqMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> SeqMap<K, V> {
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
            head: 0,
        }
    }

    /// The entries kept, holes included (what the map's memory follows).
    pub fn slots(&self) -> usize {
        self.entries.len()
    }
}

impl<K: Ord, V> SeqMap<K, V> {
    /// The place of `key` in `entries`, searched from `head`.
    fn find(&self, key: &K) -> Result<usize, usize> {
        let live = &self.entries[self.head..];
        match live.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => Ok(self.head + i),
            Err(i) => Err(self.head + i),
        }
    }

    /// Adds `key` (at the back when it is the largest, as it is in use); returns the value
    /// it replaces. A key below the last drops the skipped holes first: it may belong
    /// among them.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if self.entries.last().is_some_and(|(last, _)| *last >= key) {
            self.entries.drain(..self.head);
            self.head = 0;
        }
        match self.find(&key) {
            Ok(i) => self.entries[i].1.replace(value),
            Err(i) => {
                self.entries.insert(i, (key, Some(value)));
                None
            }
        }
    }

    /// Removes the value of `key`, then skips the holes at the front.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.find(key).ok()?;
        let value = self.entries[i].1.take();
        while self
            .entries
            .get(self.head)
            .is_some_and(|(_, v)| v.is_none())
        {
            self.head += 1;
        }
        if self.head * 2 >= self.entries.len() {
            self.entries.drain(..self.head);
            self.head = 0;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_keeps_key_order_and_returns_the_old_value() {
        let mut m = VecMap::new();
        assert_eq!(m.insert(3, "c"), None);
        assert_eq!(m.insert(1, "a"), None);
        assert_eq!(m.insert(2, "b"), None);
        assert_eq!(m.insert(1, "A"), Some("a"));
        assert_eq!(
            m.iter().collect::<Vec<_>>(),
            [(&1, &"A"), (&2, &"b"), (&3, &"c")]
        );
        assert_eq!(m.keys().rev().copied().collect::<Vec<_>>(), [3, 2, 1]);
        assert_eq!(m.len(), 3);
        assert_eq!(format!("{m:?}"), r#"{1: "A", 2: "b", 3: "c"}"#);
    }

    #[test]
    fn boxed_str_keys_are_found_by_str() {
        let mut m: VecMap<Box<str>, u32> = VecMap::new();
        m.insert("b".into(), 2);
        *m.entry("a".into()).or_insert_with(|| 0) += 1;
        *m.entry("a".into()).or_insert_with(|| 100) += 1;
        assert_eq!(m.get("a"), Some(&2));
        assert!(m.contains_key("b"));
        *m.get_mut("b").unwrap() = 20; // the key was inserted just above
        assert_eq!(m.remove("b"), Some(20));
        assert_eq!(m.remove("b"), None);
        assert!(!m.contains_key("b"));
    }

    #[test]
    fn an_existing_key_is_kept_by_insert_and_entry() {
        // Keys equal by `Ord` but distinguishable: the first one inserted stays.
        #[derive(Debug, Clone)]
        struct K(u8, &'static str);
        impl PartialEq for K {
            fn eq(&self, o: &Self) -> bool {
                self.0 == o.0
            }
        }
        impl Eq for K {}
        impl PartialOrd for K {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for K {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                self.0.cmp(&o.0)
            }
        }
        let mut m = VecMap::new();
        m.insert(K(1, "first"), 1);
        m.insert(K(1, "second"), 2);
        m.entry(K(1, "third")).or_insert(3);
        assert_eq!(m.keys().map(|k| k.1).collect::<Vec<_>>(), ["first"]);
        assert_eq!(m.values().copied().collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn set_extends_and_ignores_duplicates() {
        let mut s: VecSet<String> = VecSet::new();
        s.extend(Some("b".to_string()));
        s.extend(None);
        s.extend(["a".to_string(), "b".to_string()]);
        assert_eq!(s.len(), 2);
        assert!(s.contains("a"));
        assert!(!s.insert("a".to_string()));
        assert!(s.remove("a"));
        assert!(!s.remove("a"));
        assert_eq!(format!("{s:?}"), r#"{"b"}"#);
    }

    #[test]
    fn seq_map_drops_the_holes_in_front_once_they_are_half() {
        let mut m = SeqMap::new();
        for k in 1..=5 {
            assert_eq!(m.insert(k, k * 10), None);
        }
        // Out of order: 3 leaves a hole behind the live 1 and 2.
        assert_eq!(m.remove(&3), Some(30));
        assert_eq!(m.remove(&3), None);
        assert_eq!(m.slots(), 5);
        // 1 is skipped, not yet moved out: one hole in front of five slots.
        assert_eq!(m.remove(&1), Some(10));
        assert_eq!(m.slots(), 5);
        // 2 and the hole of 3 make three of five: the front goes.
        assert_eq!(m.remove(&2), Some(20));
        assert_eq!(m.slots(), 2);
        assert_eq!(m.remove(&5), Some(50));
        assert_eq!(m.remove(&4), Some(40));
        assert_eq!(m.slots(), 0);
        // A key below the back goes in its place; an equal one replaces.
        m.insert(7, 70);
        m.insert(6, 60);
        assert_eq!(m.insert(7, 71), Some(70));
        assert_eq!(m.remove(&6), Some(60));
        assert_eq!(m.remove(&7), Some(71));
        assert_eq!(m.slots(), 0);
        // A key below a skipped hole goes in front of the live ones, the hole dropped.
        for k in [10, 11, 12] {
            m.insert(k, k);
        }
        assert_eq!(m.remove(&10), Some(10));
        assert_eq!(m.slots(), 3);
        assert_eq!(m.insert(9, 9), None);
        assert_eq!(m.slots(), 3);
        for k in [9, 11, 12] {
            assert_eq!(m.remove(&k), Some(k));
        }
        assert_eq!(m.slots(), 0);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        Get(u8),
        GetMut(u8, u32),
        Entry(u8, u32),
        Retain(u8),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Keys from a small range so that hits, misses and replacements all happen.
        let key = 0u8..40;
        prop_oneof![
            6 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => key.clone().prop_map(Op::Remove),
            2 => key.clone().prop_map(Op::Get),
            1 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
            2 => (key, any::<u32>()).prop_map(|(k, v)| Op::Entry(k, v)),
            1 => (1u8..5).prop_map(Op::Retain),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// Any sequence of operations gives the same results and the same contents, in the
        /// same order, as `BTreeMap` (and `BTreeSet` for the set).
        #[test]
        fn behaves_like_btreemap(ops in prop::collection::vec(op(), 0..200)) {
            let mut m: VecMap<u8, u32> = VecMap::new();
            let mut model: BTreeMap<u8, u32> = BTreeMap::new();
            let mut s: VecSet<u8> = VecSet::new();
            let mut set_model: BTreeSet<u8> = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(m.insert(k, v), model.insert(k, v));
                        prop_assert_eq!(s.insert(k), set_model.insert(k));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(m.remove(&k), model.remove(&k));
                        prop_assert_eq!(s.remove(&k), set_model.remove(&k));
                    }
                    Op::Get(k) => {
                        prop_assert_eq!(m.get(&k), model.get(&k));
                        prop_assert_eq!(m.contains_key(&k), model.contains_key(&k));
                        prop_assert_eq!(s.contains(&k), set_model.contains(&k));
                    }
                    Op::GetMut(k, v) => {
                        if let Some(x) = m.get_mut(&k) {
                            *x = v;
                        }
                        if let Some(x) = model.get_mut(&k) {
                            *x = v;
                        }
                    }
                    Op::Entry(k, v) => {
                        let a = *m.entry(k).or_insert(v);
                        prop_assert_eq!(a, *model.entry(k).or_insert(v));
                    }
                    Op::Retain(d) => {
                        m.retain(|k, v| (u32::from(*k) + *v) % u32::from(d) == 0);
                        model.retain(|k, v| (u32::from(*k) + *v) % u32::from(d) == 0);
                    }
                    Op::Clear => {
                        m.clear();
                        model.clear();
                        s.clear();
                        set_model.clear();
                    }
                }
                prop_assert_eq!(m.len(), model.len());
                prop_assert_eq!(m.is_empty(), model.is_empty());
                prop_assert!(m.iter().eq(model.iter()));
                prop_assert!(s.iter().eq(set_model.iter()));
            }
            prop_assert!(m.keys().rev().eq(model.keys().rev()));
            prop_assert!(m.values().eq(model.values()));
            prop_assert!(m.clone().into_values().rev().eq(model.clone().into_values().rev()));
            prop_assert!(m.into_iter().eq(model));
        }

        /// `SeqMap` gives `BTreeMap`'s results for any inserts and removes, the keys mostly
        /// increasing as tokens do; once everything is removed it keeps nothing.
        #[test]
        fn seq_map_behaves_like_btreemap(ops in prop::collection::vec((any::<bool>(), 0u8..8, any::<bool>()), 0..300)) {
            let mut m: SeqMap<u32, u32> = SeqMap::new();
            let mut model: BTreeMap<u32, u32> = BTreeMap::new();
            let mut next = 0u32;
            for (insert, back, rewind) in ops {
                if insert {
                    // Mostly the next token; sometimes one already handed out.
                    let k = if rewind { next.saturating_sub(u32::from(back)) } else { next };
                    next += 1;
                    prop_assert_eq!(m.insert(k, next), model.insert(k, next));
                } else {
                    let k = next.saturating_sub(u32::from(back) * 2);
                    prop_assert_eq!(m.remove(&k), model.remove(&k));
                }
                // Keys strictly increasing, the live ones the model's, `head` at the first
                // live one or the end, and the holes before it fewer than half.
                prop_assert!(m.entries.iter().zip(m.entries.iter().skip(1)).all(|(a, b)| a.0 < b.0));
                let live = m.entries.iter().filter_map(|(k, v)| Some((*k, (*v)?)));
                prop_assert!(live.eq(model.iter().map(|(k, v)| (*k, *v))));
                prop_assert!(m.entries[..m.head].iter().all(|(_, v)| v.is_none()));
                prop_assert!(m.entries.get(m.head).map_or(true, |(_, v)| v.is_some()));
                prop_assert!(m.head == 0 || m.head * 2 < m.entries.len());
            }
            for k in model.keys().copied().collect::<Vec<_>>() {
                prop_assert_eq!(m.remove(&k), model.remove(&k));
            }
            prop_assert_eq!(m.slots(), 0);
        }
    }
}
