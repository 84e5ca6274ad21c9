//! Topic names, topic filters and the dispatch trie that routes incoming messages to local
//! subscriptions.
//!
//! This module validates topic names (for PUBLISH) and topic filters (for SUBSCRIBE, including
//! `$share/{group}/{filter}` shared subscriptions), matches a filter against a topic name with
//! the `+` and `#` wildcards, and keeps a [`TopicTrie`] that finds every subscribed filter
//! matching a topic by walking its levels. It must never panic on any input (topics arrive from
//! the network), never recurse to a depth chosen by a peer, never normalise a topic before
//! comparing it, and never touch I/O, a clock or randomness.
//!
//! Normative statement IDs are those of MQTT 5.0. MQTT 3.1.1 has the same rules: there the
//! "no wildcard in a topic name" rule is [MQTT-4.7.1-1] and the `#` and `+` rules are
//! [MQTT-4.7.1-2] and [MQTT-4.7.1-3].

use std::fmt;

use crate::map::VecMap;

/// The longest topic name or filter, in bytes: a UTF-8 string's length is a 16-bit
/// integer [MQTT-4.7.3-3].
pub const MAX_TOPIC_LEN: usize = 65_535;

/// What a shared-subscription filter starts with [MQTT-4.8.2-1].
pub const SHARED_PREFIX: &str = "$share/";

const LEVEL_SEPARATOR: char = '/';
const SINGLE_LEVEL_WILDCARD: &str = "+";
const MULTI_LEVEL_WILDCARD: &str = "#";

/// Why a topic name or topic filter is not acceptable.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicError {
    /// The topic is zero characters long [MQTT-4.7.3-1].
    Empty,
    /// The topic encodes to more than 65,535 bytes [MQTT-4.7.3-3].
    TooLong,
    /// The topic contains the null character U+0000 [MQTT-4.7.3-2].
    NullCharacter,
    /// A topic name contains `+` or `#` [MQTT-4.7.0-1].
    WildcardInTopicName,
    /// A `#` is not alone in the last level of a filter [MQTT-4.7.1-1].
    InvalidMultiLevelWildcard,
    /// A `+` does not occupy a whole level of a filter [MQTT-4.7.1-2].
    InvalidSingleLevelWildcard,
    /// A `$share/` filter lacks a share name, has `+` or `#` in it, or lacks the inner filter [MQTT-4.8.2-1] [MQTT-4.8.2-2].
    InvalidSharedSubscription,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = match self {
            Self::Empty => "topic is empty",
            Self::TooLong => "topic is longer than 65535 bytes",
            Self::NullCharacter => "topic contains the null character",
            Self::WildcardInTopicName => "topic name contains a wildcard character",
            Self::InvalidMultiLevelWildcard => {
                "multi-level wildcard '#' must be alone in the last level of a filter"
            }
            Self::InvalidSingleLevelWildcard => {
                "single-level wildcard '+' must occupy a whole level of a filter"
            }
            Self::InvalidSharedSubscription => {
                "shared subscription must be $share/{group}/{filter} with a non-empty group free of '+' and '#' and a non-empty filter"
            }
        };
        f.write_str(message)
    }
}

impl std::error::Error for TopicError {}

/// Rules shared by topic names and filters: length and the null character.
fn validate_common(topic: &str) -> Result<(), TopicError> {
    // [MQTT-4.7.3-1]
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    // [MQTT-4.7.3-3]
    if topic.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong);
    }
    // [MQTT-4.7.3-2] [MQTT-1.5.4-2]
    if topic.contains('\0') {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

/// Whether `s` holds a `+` or `#`. A byte scan: both are ASCII, which no byte of a longer
/// UTF-8 sequence is, and `str::contains` with a set of chars decodes every char (it was
/// most of the topic checks of a received message and of a publish).
fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|b| b == b'+' || b == b'#')
}

/// Checks a topic name as carried by PUBLISH (or a will or response topic).
///
/// A zero-length topic name that stands for a Topic Alias is not a topic name: resolve the
/// alias first and validate what it stands for.
pub fn validate_topic_name(topic: &str) -> Result<(), TopicError> {
    validate_common(topic)?;
    // [MQTT-4.7.0-1] [MQTT-3.3.2-2]
    if has_wildcard(topic) {
        return Err(TopicError::WildcardInTopicName);
    }
    Ok(())
}

/// Checks a topic filter as carried by SUBSCRIBE or UNSUBSCRIBE, including the
/// `$share/{group}/{filter}` form of a shared subscription.
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    validate_common(filter)?;
    match parse_shared(filter) {
        Some(shared) => {
            // [MQTT-4.8.2-1] a share name of at least one character;
            // [MQTT-4.8.2-2] no '+' or '#' in it (no '/' holds by construction), then a
            // '/' and a topic filter.
            if shared.group.is_empty() || has_wildcard(shared.group) || shared.filter.is_empty() {
                return Err(TopicError::InvalidSharedSubscription);
            }
            validate_filter_levels(shared.filter)
        }
        None => validate_filter_levels(filter),
    }
}

/// The wildcard rules of a (non-shared) filter.
fn validate_filter_levels(filter: &str) -> Result<(), TopicError> {
    let mut levels = filter.split(LEVEL_SEPARATOR).peekable();
    while let Some(level) = levels.next() {
        // [MQTT-4.7.1-1] '#' on its own in a level, and that level is the last one.
        if level.contains('#') && (level != MULTI_LEVEL_WILDCARD || levels.peek().is_some()) {
            return Err(TopicError::InvalidMultiLevelWildcard);
        }
        // [MQTT-4.7.1-2] '+' occupies an entire level.
        if level.contains('+') && level != SINGLE_LEVEL_WILDCARD {
            return Err(TopicError::InvalidSingleLevelWildcard);
        }
    }
    Ok(())
}

/// The two parts of a `$share/{group}/{filter}` shared-subscription filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedSubscription<'a> {
    /// The share name: the text between `$share/` and the next `/`.
    pub group: &'a str,
    /// The topic filter after the share name and its `/`.
    pub filter: &'a str,
}

/// Splits a shared-subscription filter into its share name and inner filter.
///
/// Returns `None` when `filter` does not start with `$share/` (the prefix is case-sensitive).
/// `Some` does not mean the filter is valid: `$share/g` yields an empty inner filter and
/// `$share//a` an empty group; [`validate_topic_filter`] rejects both.
pub fn parse_shared(filter: &str) -> Option<SharedSubscription<'_>> {
    let rest = filter.strip_prefix(SHARED_PREFIX)?;
    let (group, inner) = rest.split_once(LEVEL_SEPARATOR).unwrap_or((rest, ""));
    Some(SharedSubscription {
        group,
        filter: inner,
    })
}

/// The filter whose levels are matched: the inner filter of a shared subscription, the
/// filter itself otherwise.
fn levels_of(filter: &str) -> &str {
    parse_shared(filter).map_or(filter, |shared| shared.filter)
}

/// Whether `filter` matches the topic name `topic`.
///
/// Both must be valid ([`validate_topic_filter`], [`validate_topic_name`]); anything invalid
/// matches nothing. A `$share/{group}/{filter}` filter matches as its inner filter. Levels are
/// compared byte for byte, without any normalisation [MQTT-4.7.3-4].
pub fn matches(filter: &str, topic: &str) -> bool {
    if validate_topic_filter(filter).is_err() || validate_topic_name(topic).is_err() {
        return false;
    }
    // [MQTT-4.7.2-1] a filter whose first level is a wildcard never matches a topic
    // beginning with '$'.
    let dollar_topic = topic.starts_with('$');
    let mut filter_levels = levels_of(filter).split(LEVEL_SEPARATOR);
    let mut topic_levels = topic.split(LEVEL_SEPARATOR);
    let mut first = true;
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            // '#' matches its parent level and any number of child levels; validation put
            // it last.
            (Some(MULTI_LEVEL_WILDCARD), _) => return !(first && dollar_topic),
            // '+' matches exactly one level, an empty one included.
            (Some(SINGLE_LEVEL_WILDCARD), Some(_)) => {
                if first && dollar_topic {
                    return false;
                }
            }
            (Some(wanted), Some(level)) => {
                if wanted != level {
                    return false;
                }
            }
            (None, None) => return true,
            // One ran out of levels before the other.
            _ => return false,
        }
        first = false;
    }
}

/// One subscribed filter and its value.
struct Entry<T> {
    /// The filter exactly as inserted, `$share/{group}/` prefix included.
    filter: Box<str>,
    /// Whether `filter` passed [`validate_topic_filter`]; invalid entries never match.
    valid: bool,
    value: T,
}

/// One level of the trie: the entries whose filter ends here and the levels below.
struct Node<T> {
    entries: Vec<Entry<T>>,
    /// Children by exact level text; never holds the keys `+` or `#`.
    children: VecMap<Box<str>, Node<T>>,
    /// The child for a `+` level.
    plus: Option<Box<Node<T>>>,
    /// The child for a `#` level.
    hash: Option<Box<Node<T>>>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Self {
            entries: Vec::new(),
            children: VecMap::new(),
            plus: None,
            hash: None,
        }
    }

    fn child(&self, level: &str) -> Option<&Self> {
        match level {
            SINGLE_LEVEL_WILDCARD => self.plus.as_deref(),
            MULTI_LEVEL_WILDCARD => self.hash.as_deref(),
            literal => self.children.get(literal),
        }
    }

    fn child_mut(&mut self, level: &str) -> Option<&mut Self> {
        match level {
            SINGLE_LEVEL_WILDCARD => self.plus.as_deref_mut(),
            MULTI_LEVEL_WILDCARD => self.hash.as_deref_mut(),
            literal => self.children.get_mut(literal),
        }
    }

    fn child_or_insert(&mut self, level: &str) -> &mut Self {
        match level {
            SINGLE_LEVEL_WILDCARD => self.plus.get_or_insert_with(|| Box::new(Self::new())),
            MULTI_LEVEL_WILDCARD => self.hash.get_or_insert_with(|| Box::new(Self::new())),
            literal => self
                .children
                .entry(literal.into())
                .or_insert_with(Self::new),
        }
    }

    fn take_child(&mut self, level: &str) -> Option<Self> {
        match level {
            SINGLE_LEVEL_WILDCARD => self.plus.take().map(|node| *node),
            MULTI_LEVEL_WILDCARD => self.hash.take().map(|node| *node),
            literal => self.children.remove(literal),
        }
    }

    fn child_count(&self) -> usize {
        self.children.len() + usize::from(self.plus.is_some()) + usize::from(self.hash.is_some())
    }

    fn entry_index(&self, filter: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|entry| &*entry.filter == filter)
    }

    /// Hands every valid entry of this node to `f`.
    fn report<'a>(&'a self, f: &mut impl FnMut(&'a str, &'a T)) {
        for entry in self.entries.iter().filter(|entry| entry.valid) {
            f(&entry.filter, &entry.value);
        }
    }

    /// Moves all children out into `out`.
    fn detach_children(&mut self, out: &mut Vec<Self>) {
        out.extend(std::mem::take(&mut self.children).into_values());
        out.extend(self.plus.take().map(|node| *node));
        out.extend(self.hash.take().map(|node| *node));
    }
}

impl<T> Drop for Node<T> {
    /// Tears the subtree down level by level on the heap: the derived, recursive drop would
    /// use one stack frame per level, and a 65,535-byte filter has up to 65,535 levels.
    fn drop(&mut self) {
        let mut pending = Vec::new();
        self.detach_children(&mut pending);
        while let Some(mut node) = pending.pop() {
            node.detach_children(&mut pending);
            // `node` drops here with no children left, so its own drop does not recurse.
        }
    }
}

/// Local dispatch of incoming messages to subscriptions: maps each filter, exactly as
/// subscribed, to a value `T`, and finds all filters matching a topic by walking its levels.
///
/// `$share/{group}/{filter}` entries are stored under their inner filter but stay distinct
/// entries: `$share/g1/a/b`, `$share/g2/a/b` and `a/b` are three entries that all match `a/b`.
/// Any string can be inserted, so that [`get`](Self::get) and [`remove`](Self::remove) mirror
/// [`insert`](Self::insert) exactly, but a filter that fails [`validate_topic_filter`] never
/// matches anything: validate before subscribing.
///
/// Every operation walks the trie with loops, never recursion, so a filter or topic with many
/// levels cannot exhaust the stack.
pub struct TopicTrie<T> {
    root: Node<T>,
    len: usize,
}

impl<T> Default for TopicTrie<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for TopicTrie<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<T> TopicTrie<T> {
    /// An empty trie.
    pub fn new() -> Self {
        Self {
            root: Node::new(),
            len: 0,
        }
    }

    /// The number of filters stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no filter is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` for `filter`; returns the value it replaces if `filter` (the exact
    /// string) was already there.
    pub fn insert(&mut self, filter: &str, value: T) -> Option<T> {
        let mut node = &mut self.root;
        for level in levels_of(filter).split(LEVEL_SEPARATOR) {
            node = node.child_or_insert(level);
        }
        if let Some(index) = node.entry_index(filter) {
            if let Some(entry) = node.entries.get_mut(index) {
                return Some(std::mem::replace(&mut entry.value, value));
            }
        }
        let entry = Entry {
            filter: filter.into(),
            valid: validate_topic_filter(filter).is_ok(),
            value,
        };
        let end = node.entries.len();
        crate::map::insert_sparing(&mut node.entries, end, entry);
        self.len += 1;
        None
    }

    fn node(&self, filter: &str) -> Option<&Node<T>> {
        let mut node = &self.root;
        for level in levels_of(filter).split(LEVEL_SEPARATOR) {
            node = node.child(level)?;
        }
        Some(node)
    }

    fn node_mut(&mut self, filter: &str) -> Option<&mut Node<T>> {
        let mut node = &mut self.root;
        for level in levels_of(filter).split(LEVEL_SEPARATOR) {
            node = node.child_mut(level)?;
        }
        Some(node)
    }

    /// The value stored for exactly `filter`.
    pub fn get(&self, filter: &str) -> Option<&T> {
        let node = self.node(filter)?;
        let index = node.entry_index(filter)?;
        node.entries.get(index).map(|entry| &entry.value)
    }

    /// The value stored for exactly `filter`, mutably.
    pub fn get_mut(&mut self, filter: &str) -> Option<&mut T> {
        let node = self.node_mut(filter)?;
        let index = node.entry_index(filter)?;
        node.entries.get_mut(index).map(|entry| &mut entry.value)
    }

    /// Removes `filter` (the exact string) and returns its value, pruning the levels that no
    /// longer lead to any filter.
    pub fn remove(&mut self, filter: &str) -> Option<T> {
        let node = self.node_mut(filter)?;
        let index = node.entry_index(filter)?;
        let value = node.entries.remove(index).value;
        // Cannot underflow: `len` counts stored entries and one was just taken out.
        self.len -= 1;
        self.prune(levels_of(filter));
        Some(value)
    }

    /// Cuts off the deepest run of nodes along `path` that hold no entry and lead nowhere else.
    fn prune(&mut self, path: &str) {
        let levels: Vec<&str> = path.split(LEVEL_SEPARATOR).collect();
        // The level at which to detach a now useless subtree from its parent, found with a
        // shared walk first so the mutable walk below needs no back-tracking.
        let cut = {
            let mut nodes = Vec::with_capacity(levels.len() + 1);
            let mut node = &self.root;
            nodes.push(node);
            for level in &levels {
                match node.child(level) {
                    Some(child) => node = child,
                    None => return,
                }
                nodes.push(node);
            }
            let last = levels.len();
            let mut cut = None;
            // The root (depth 0) always stays.
            for (depth, node) in nodes.iter().enumerate().skip(1).rev() {
                let expected_children = usize::from(depth != last);
                if !node.entries.is_empty() || node.child_count() != expected_children {
                    break;
                }
                // Cannot underflow: `skip(1)` leaves depths of at least 1.
                cut = Some(depth - 1);
            }
            cut
        };
        let Some(cut) = cut else { return };
        let (Some(above), Some(level)) = (levels.get(..cut), levels.get(cut)) else {
            return;
        };
        let mut node = &mut self.root;
        for above_level in above {
            match node.child_mut(above_level) {
                Some(child) => node = child,
                None => return,
            }
        }
        // Dropped here; `Node`'s drop is iterative.
        drop(node.take_child(level));
    }

    /// Calls `f` once for every stored filter that matches `topic`, with the filter exactly as
    /// inserted and its value. An invalid topic name matches nothing.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(&'a str, &'a T)) {
        if validate_topic_name(topic).is_err() {
            return;
        }
        // [MQTT-4.7.2-1] no '+' or '#' first level for a topic beginning with '$'.
        let dollar_topic = topic.starts_with('$');
        let levels: Vec<&str> = topic.split(LEVEL_SEPARATOR).collect();
        // Each node sits at one depth and is reached by one path, so it is pushed at most
        // once and every entry is reported at most once.
        let mut pending = vec![(&self.root, 0usize)];
        while let Some((node, depth)) = pending.pop() {
            let wildcards_allowed = !(depth == 0 && dollar_topic);
            // '#' matches the parent level as well as any number of child levels.
            if wildcards_allowed {
                if let Some(hash) = node.hash.as_deref() {
                    hash.report(&mut f);
                }
            }
            let Some(level) = levels.get(depth) else {
                // All topic levels consumed: the filters ending here match.
                node.report(&mut f);
                continue;
            };
            if let Some(child) = node.children.get(*level) {
                pending.push((child, depth + 1));
            }
            if wildcards_allowed {
                if let Some(plus) = node.plus.as_deref() {
                    pending.push((plus, depth + 1));
                }
            }
        }
    }

    /// Every stored filter that matches `topic`, with its value, in no particular order.
    pub fn matching(&self, topic: &str) -> Vec<(&str, &T)> {
        let mut found = Vec::new();
        self.for_each_match(topic, |filter, value| found.push((filter, value)));
        found
    }

    /// Every stored filter, exactly as inserted, with its value, in no particular order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            pending: vec![&self.root],
            entries: [].iter(),
        }
    }
}

/// Iterator over a [`TopicTrie`]'s filters and values; see [`TopicTrie::iter`].
pub struct Iter<'a, T> {
    pending: Vec<&'a Node<T>>,
    entries: std::slice::Iter<'a, Entry<T>>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = (&'a str, &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.entries.next() {
                return Some((&entry.filter, &entry.value));
            }
            let node = self.pending.pop()?;
            self.pending.extend(node.children.values());
            self.pending.extend(node.plus.as_deref());
            self.pending.extend(node.hash.as_deref());
            self.entries = node.entries.iter();
        }
    }
}

impl<'a, T> IntoIterator for &'a TopicTrie<T> {
    type Item = (&'a str, &'a T);
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_level_wildcard_matches_the_spec_examples() {
        // Section 4.7.1.2.
        for topic in [
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon",
        ] {
            assert!(matches("sport/tennis/player1/#", topic), "{topic}");
        }
        assert!(matches("sport/#", "sport"));
        assert!(!matches("sport/tennis/player1/#", "sport/tennis"));
        assert!(!matches("sport/tennis/player1/#", "sport/tennis/player2"));
    }

    #[test]
    fn multi_level_wildcard_must_be_alone_and_last() {
        assert_eq!(validate_topic_filter("sport/tennis/#"), Ok(()));
        assert_eq!(validate_topic_filter("#"), Ok(()));
        assert_eq!(
            validate_topic_filter("sport/tennis#"),
            Err(TopicError::InvalidMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("sport/tennis/#/ranking"),
            Err(TopicError::InvalidMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("#/"),
            Err(TopicError::InvalidMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("a/##"),
            Err(TopicError::InvalidMultiLevelWildcard)
        );
    }

    #[test]
    fn single_level_wildcard_must_occupy_a_whole_level() {
        for valid in ["+", "+/tennis/#", "sport/+/player1", "+/+", "/+", "+/"] {
            assert_eq!(validate_topic_filter(valid), Ok(()), "{valid}");
        }
        for invalid in ["sport+", "+sport", "sport/+tennis", "a/++", "+a/#"] {
            assert_eq!(
                validate_topic_filter(invalid),
                Err(TopicError::InvalidSingleLevelWildcard),
                "{invalid}"
            );
        }
    }

    #[test]
    fn single_level_wildcard_matches_the_spec_examples() {
        // Section 4.7.1.3.
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(matches("sport/tennis/+", "sport/tennis/player2"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
    }

    #[test]
    fn plus_matches_empty_levels() {
        assert!(matches("+/+", "/"));
        assert!(matches("+", "a"));
        assert!(matches("a/+/b", "a//b"));
        assert!(!matches("+/+", "a"));
    }

    #[test]
    fn plus_does_not_match_across_levels() {
        assert!(!matches("a/+", "a/b/c"));
        assert!(!matches("+", "a/b"));
        assert!(!matches("+/c", "a/b/c"));
    }

    #[test]
    fn hash_alone_matches_everything_not_starting_with_dollar() {
        for topic in ["a", "/", "a/b/c", "/finance", "x$"] {
            assert!(matches("#", topic), "{topic}");
        }
        assert!(!matches("#", "$SYS"));
        assert!(!matches("#", "$SYS/broker"));
    }

    #[test]
    fn dollar_topics_are_not_matched_by_a_leading_wildcard() {
        // Section 4.7.2.
        assert!(!matches("#", "$SYS/monitor/Clients"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS"));
        // Only the first level of the filter matters.
        assert!(matches("$SYS/+/Clients", "$SYS/monitor/Clients"));
    }

    #[test]
    fn levels_are_compared_exactly_without_normalisation() {
        assert!(!matches("Sport", "sport"));
        assert!(!matches("sport/", "sport"));
        assert!(!matches("sport", "sport/"));
        assert!(!matches("caf\u{e9}", "cafe\u{301}"));
        assert!(matches("a b/ c", "a b/ c"));
    }

    #[test]
    fn topic_names_reject_what_the_spec_forbids() {
        assert_eq!(validate_topic_name("sport/tennis"), Ok(()));
        assert_eq!(validate_topic_name("/"), Ok(()));
        assert_eq!(validate_topic_name("$SYS/x"), Ok(()));
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_name("a\0b"), Err(TopicError::NullCharacter));
        assert_eq!(
            validate_topic_name("sport/+"),
            Err(TopicError::WildcardInTopicName)
        );
        assert_eq!(
            validate_topic_name("sport#"),
            Err(TopicError::WildcardInTopicName)
        );
    }

    #[test]
    fn length_limit_is_65535_bytes_not_characters() {
        let longest = "a".repeat(MAX_TOPIC_LEN);
        assert_eq!(validate_topic_name(&longest), Ok(()));
        assert_eq!(validate_topic_filter(&longest), Ok(()));
        let too_long = "a".repeat(MAX_TOPIC_LEN + 1);
        assert_eq!(validate_topic_name(&too_long), Err(TopicError::TooLong));
        assert_eq!(validate_topic_filter(&too_long), Err(TopicError::TooLong));
        // 32,768 two-byte characters: fewer than 65,535 characters, more than 65,535 bytes.
        let wide = "\u{e9}".repeat(32_768);
        assert_eq!(validate_topic_name(&wide), Err(TopicError::TooLong));
    }

    #[test]
    fn filters_reject_empty_and_null() {
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
        assert_eq!(
            validate_topic_filter("a/\0/#"),
            Err(TopicError::NullCharacter)
        );
        assert_eq!(
            validate_topic_filter("$share/g\0/a"),
            Err(TopicError::NullCharacter)
        );
    }

    #[test]
    fn shared_subscriptions_split_at_the_first_slash_after_the_prefix() {
        assert_eq!(
            parse_shared("$share/consumer1/sport/tennis/+"),
            Some(SharedSubscription {
                group: "consumer1",
                filter: "sport/tennis/+"
            })
        );
        assert_eq!(
            parse_shared("$share/g//finance"),
            Some(SharedSubscription {
                group: "g",
                filter: "/finance"
            })
        );
        assert_eq!(
            parse_shared("$share/g"),
            Some(SharedSubscription {
                group: "g",
                filter: ""
            })
        );
        assert_eq!(parse_shared("sport/tennis"), None);
        assert_eq!(parse_shared("$SHARE/g/a"), None);
        assert_eq!(parse_shared("$share"), None);
        assert_eq!(parse_shared("$shared/g/a"), None);
    }

    #[test]
    fn shared_subscriptions_follow_the_share_name_rules() {
        for valid in [
            "$share/g/a/b",
            "$share/g/#",
            "$share/g/+",
            "$share/g//",
            "$share/g/$SYS/#",
        ] {
            assert_eq!(validate_topic_filter(valid), Ok(()), "{valid}");
        }
        for invalid in [
            "$share/g",
            "$share/g/",
            "$share//a",
            "$share/",
            "$share/g+/a",
            "$share/+/a",
            "$share/#/a",
            "$share/g#x/a",
        ] {
            assert_eq!(
                validate_topic_filter(invalid),
                Err(TopicError::InvalidSharedSubscription),
                "{invalid}"
            );
        }
        assert_eq!(
            validate_topic_filter("$share/g/a#"),
            Err(TopicError::InvalidMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("$share/g/a+"),
            Err(TopicError::InvalidSingleLevelWildcard)
        );
        // Without the exact prefix it is an ordinary filter.
        assert_eq!(validate_topic_filter("$share"), Ok(()));
        assert_eq!(validate_topic_filter("$SHARE/g"), Ok(()));
    }

    #[test]
    fn shared_subscriptions_match_on_their_inner_filter() {
        assert!(matches("$share/g/sport/+", "sport/tennis"));
        assert!(!matches("$share/g/sport/+", "$share/g/sport/tennis"));
        assert!(matches("$share/g/#", "a/b"));
        assert!(!matches("$share/g/#", "$SYS/x"));
        assert!(matches("$share/g/$SYS/#", "$SYS/x"));
        assert!(!matches("$share/g", "g"));
    }

    #[test]
    fn invalid_filters_and_topics_match_nothing() {
        assert!(!matches("sport+", "sport+"));
        assert!(!matches("a/#/b", "a/x/b"));
        assert!(!matches("#", ""));
        assert!(!matches("+", "+"));
        assert!(!matches("a/+", "a/#"));
        assert!(!matches("a", "a\0"));
    }

    #[test]
    fn errors_display_lower_case_messages() {
        for error in [
            TopicError::Empty,
            TopicError::TooLong,
            TopicError::NullCharacter,
            TopicError::WildcardInTopicName,
            TopicError::InvalidMultiLevelWildcard,
            TopicError::InvalidSingleLevelWildcard,
            TopicError::InvalidSharedSubscription,
        ] {
            let message = error.to_string();
            assert!(!message.is_empty());
            assert!(
                message.starts_with(|c: char| c.is_ascii_lowercase()),
                "{message}"
            );
            let _: &dyn std::error::Error = &error;
        }
    }

    fn sorted_matches<'a>(trie: &'a TopicTrie<u32>, topic: &str) -> Vec<(&'a str, u32)> {
        let mut found: Vec<(&str, u32)> = trie
            .matching(topic)
            .into_iter()
            .map(|(filter, value)| (filter, *value))
            .collect();
        found.sort_unstable();
        found
    }

    #[test]
    fn trie_finds_the_spec_examples() {
        let mut trie = TopicTrie::new();
        for (value, filter) in [
            "sport/tennis/player1/#",
            "sport/#",
            "sport/+",
            "+/+",
            "/+",
            "+",
            "#",
            "$SYS/#",
            "$SYS/monitor/+",
            "+/monitor/Clients",
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(trie.insert(filter, value as u32), None);
        }
        let filters = |topic: &str| -> Vec<&str> {
            sorted_matches(&trie, topic)
                .into_iter()
                .map(|(filter, _)| filter)
                .collect()
        };
        assert_eq!(filters("sport"), ["#", "+", "sport/#"]);
        assert_eq!(filters("sport/"), ["#", "+/+", "sport/#", "sport/+"]);
        assert_eq!(
            filters("sport/tennis/player1"),
            ["#", "sport/#", "sport/tennis/player1/#"]
        );
        assert_eq!(filters("/finance"), ["#", "+/+", "/+"]);
        assert_eq!(
            filters("$SYS/monitor/Clients"),
            ["$SYS/#", "$SYS/monitor/+"]
        );
        assert_eq!(filters("$SYS"), ["$SYS/#"]);
        assert_eq!(filters("x/monitor/Clients"), ["#", "+/monitor/Clients"]);
        assert!(filters("sport/+").is_empty());
    }

    #[test]
    fn trie_keeps_shared_and_plain_entries_apart() {
        let mut trie = TopicTrie::new();
        assert_eq!(trie.insert("a/b", 1), None);
        assert_eq!(trie.insert("$share/g1/a/b", 2), None);
        assert_eq!(trie.insert("$share/g2/a/b", 3), None);
        assert_eq!(trie.insert("$share/g1/a/+", 4), None);
        assert_eq!(trie.len(), 4);
        assert_eq!(
            sorted_matches(&trie, "a/b"),
            [
                ("$share/g1/a/+", 4),
                ("$share/g1/a/b", 2),
                ("$share/g2/a/b", 3),
                ("a/b", 1)
            ]
        );
        assert_eq!(trie.get("$share/g2/a/b"), Some(&3));
        assert_eq!(trie.remove("$share/g1/a/b"), Some(2));
        assert_eq!(trie.get("a/b"), Some(&1));
        assert_eq!(trie.get("$share/g1/a/b"), None);
        assert_eq!(trie.len(), 3);
        // The inner filter's levels are not a literal "$share" level.
        assert!(trie.matching("$share/g1/a/b").is_empty());
    }

    #[test]
    fn trie_insert_replaces_the_value_of_the_same_filter() {
        let mut trie = TopicTrie::new();
        assert_eq!(trie.insert("a/+", 1), None);
        assert_eq!(trie.insert("a/+", 2), Some(1));
        assert_eq!(trie.len(), 1);
        assert_eq!(trie.get("a/+"), Some(&2));
        if let Some(value) = trie.get_mut("a/+") {
            *value = 7;
        }
        assert_eq!(trie.get("a/+"), Some(&7));
        assert_eq!(sorted_matches(&trie, "a/x"), [("a/+", 7)]);
    }

    #[test]
    fn trie_remove_prunes_empty_levels() {
        let mut trie = TopicTrie::new();
        trie.insert("a/b/c/d", 1);
        trie.insert("a/b", 2);
        trie.insert("a/+/#", 3);
        assert_eq!(trie.remove("a/b/c/d"), Some(1));
        assert!(trie.root.child("a").and_then(|a| a.child("b")).is_some());
        assert!(trie
            .root
            .child("a")
            .and_then(|a| a.child("b"))
            .and_then(|b| b.child("c"))
            .is_none());
        assert_eq!(trie.remove("a/b"), Some(2));
        assert!(trie.root.child("a").and_then(|a| a.child("b")).is_none());
        assert_eq!(trie.remove("a/b"), None);
        assert_eq!(trie.remove("a/+/#"), Some(3));
        assert_eq!(trie.root.child_count(), 0);
        assert!(trie.is_empty());
    }

    #[test]
    fn trie_remove_of_a_prefix_leaves_longer_filters() {
        let mut trie = TopicTrie::new();
        trie.insert("a", 1);
        trie.insert("a/b", 2);
        assert_eq!(trie.remove("a"), Some(1));
        assert_eq!(trie.get("a/b"), Some(&2));
        assert_eq!(sorted_matches(&trie, "a/b"), [("a/b", 2)]);
        assert_eq!(trie.remove("x/y"), None);
        assert_eq!(trie.remove("a/b/c"), None);
        assert_eq!(trie.len(), 1);
    }

    #[test]
    fn trie_stores_invalid_filters_but_never_matches_them() {
        let mut trie = TopicTrie::new();
        trie.insert("sport+", 1);
        trie.insert("a/#/b", 2);
        trie.insert("$share/g", 3);
        trie.insert("", 4);
        assert_eq!(trie.len(), 4);
        assert_eq!(trie.get("a/#/b"), Some(&2));
        assert_eq!(trie.get(""), Some(&4));
        for topic in ["sport+", "a/x/b", "a/b", "g", "", "a"] {
            assert!(trie.matching(topic).is_empty(), "{topic}");
        }
        assert_eq!(trie.remove("$share/g"), Some(3));
        assert_eq!(trie.remove(""), Some(4));
        assert_eq!(trie.len(), 2);
    }

    #[test]
    fn trie_ignores_invalid_topics() {
        let mut trie = TopicTrie::new();
        trie.insert("#", 1);
        trie.insert("a/+", 2);
        for topic in ["", "a/+", "a/#", "a\0"] {
            assert!(trie.matching(topic).is_empty(), "{topic:?}");
        }
    }

    #[test]
    fn trie_iterates_every_filter_exactly_once() {
        let mut trie = TopicTrie::new();
        let filters = [
            "a",
            "a/b",
            "+",
            "#",
            "$share/g/a",
            "$share/h/a",
            "a/#",
            "",
            "/",
        ];
        for (value, filter) in filters.into_iter().enumerate() {
            trie.insert(filter, value);
        }
        let mut listed: Vec<(&str, usize)> = trie.iter().map(|(f, v)| (f, *v)).collect();
        listed.sort_unstable();
        let mut expected: Vec<(&str, usize)> = filters
            .into_iter()
            .enumerate()
            .map(|(v, f)| (f, v))
            .collect();
        expected.sort_unstable();
        assert_eq!(listed, expected);
        assert_eq!((&trie).into_iter().count(), trie.len());
        assert!(format!("{trie:?}").contains("\"$share/g/a\": 4"));
    }

    #[test]
    fn a_filter_with_the_most_levels_possible_does_not_exhaust_the_stack() {
        // 65,535 empty levels: the longest filter there can be, and the deepest trie.
        let deep = "/".repeat(MAX_TOPIC_LEN - 1);
        let mut trie = TopicTrie::new();
        trie.insert(&deep, 1);
        trie.insert("#", 2);
        let mut found = sorted_matches(&trie, &deep);
        found.sort_unstable();
        assert_eq!(found, [("#", 2), (deep.as_str(), 1)]);
        assert_eq!(trie.iter().count(), 2);
        assert_eq!(trie.remove(&deep), Some(1));
        trie.insert(&deep, 3);
        // Dropping the trie with the deep chain still in it.
        drop(trie);
        let mut plus_chain = "+/".repeat(MAX_TOPIC_LEN / 2);
        plus_chain.push('#');
        let mut trie = TopicTrie::new();
        trie.insert(&plus_chain, 4);
        assert_eq!(sorted_matches(&trie, &deep), [(plus_chain.as_str(), 4)]);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn filter_level() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "+", "#", "$x", "a", "b", "a+"])
    }

    fn topic_level() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "$x", "a", "b", "+"])
    }

    fn filter() -> impl Strategy<Value = String> {
        let share = prop::sample::select(vec!["", "", "", "$share/g/", "$share/h/", "$share/"]);
        (share, prop::collection::vec(filter_level(), 1..5))
            .prop_map(|(share, levels)| format!("{share}{}", levels.join("/")))
    }

    fn topic() -> impl Strategy<Value = String> {
        prop::collection::vec(topic_level(), 1..5).prop_map(|levels| levels.join("/"))
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, u32),
        Remove(String),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (filter(), any::<u32>()).prop_map(|(f, v)| Op::Insert(f, v)),
            1 => filter().prop_map(Op::Remove),
        ]
    }

    proptest! {
        #[test]
        fn trie_matches_exactly_the_filters_that_match(
            ops in prop::collection::vec(op(), 0..40),
            topics in prop::collection::vec(topic(), 1..8),
        ) {
            let mut trie = TopicTrie::new();
            let mut model: BTreeMap<String, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(filter, value) => {
                        prop_assert_eq!(trie.insert(&filter, value), model.insert(filter, value));
                    }
                    Op::Remove(filter) => {
                        prop_assert_eq!(trie.remove(&filter), model.remove(&filter));
                    }
                }
                prop_assert_eq!(trie.len(), model.len());
                prop_assert_eq!(trie.is_empty(), model.is_empty());
            }
            for (filter, value) in &model {
                prop_assert_eq!(trie.get(filter), Some(value));
            }
            let mut listed: Vec<(String, u32)> =
                trie.iter().map(|(f, v)| (f.to_owned(), *v)).collect();
            listed.sort_unstable();
            let everything: Vec<(String, u32)> =
                model.iter().map(|(f, v)| (f.clone(), *v)).collect();
            prop_assert_eq!(listed, everything);
            for topic in &topics {
                let mut found: Vec<(String, u32)> = Vec::new();
                trie.for_each_match(topic, |f, v| found.push((f.to_owned(), *v)));
                found.sort_unstable();
                let expected: Vec<(String, u32)> = model
                    .iter()
                    .filter(|(f, _)| matches(f, topic))
                    .map(|(f, v)| (f.clone(), *v))
                    .collect();
                prop_assert_eq!(found, expected, "topic {:?}", topic);
            }
        }

        #[test]
        fn removing_everything_leaves_an_empty_root(
            filters in prop::collection::vec(filter(), 0..20),
        ) {
            let mut trie = TopicTrie::new();
            for filter in &filters {
                trie.insert(filter, ());
            }
            for filter in &filters {
                trie.remove(filter);
            }
            prop_assert!(trie.is_empty());
            prop_assert_eq!(trie.root.child_count(), 0);
            prop_assert!(trie.root.entries.is_empty());
        }

        #[test]
        fn a_match_implies_both_sides_are_valid(f in filter(), t in topic()) {
            if matches(&f, &t) {
                prop_assert!(validate_topic_filter(&f).is_ok());
                prop_assert!(validate_topic_name(&t).is_ok());
            }
        }

        #[test]
        fn every_valid_topic_name_matches_itself_as_a_filter(t in topic()) {
            prop_assert_eq!(matches(&t, &t), validate_topic_name(&t).is_ok());
        }

        #[test]
        fn arbitrary_strings_never_panic(
            f in "[ab$/+#\u{0}]{0,12}|(\\$share/)[ab/+#]{0,8}|.{0,12}",
            t in "[ab$/+#\u{0}]{0,12}|.{0,12}",
        ) {
            let _ = validate_topic_filter(&f);
            let _ = validate_topic_name(&t);
            let _ = parse_shared(&f);
            let _ = matches(&f, &t);
            let mut trie = TopicTrie::new();
            trie.insert(&f, 0u8);
            let _ = trie.matching(&t);
            prop_assert_eq!(trie.remove(&f), Some(0));
        }
    }
}
