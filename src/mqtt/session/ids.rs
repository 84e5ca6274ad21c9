//! Packet identifier allocation: 1..=65535, never handing out one that is still in use.

/// A bitset of the 65536 possible ids (id 0 is never used) with a rotating cursor, so ids
/// are reused as late as possible (helps a broker tell a new packet from a late duplicate).
#[derive(Debug, Clone)]
pub(crate) struct PacketIds {
    used: Box<[u64; 1024]>,
    count: usize,
    cursor: u16,
}

impl PacketIds {
    pub(crate) fn new() -> Self {
        PacketIds {
            used: Box::new([0; 1024]),
            count: 0,
            cursor: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn in_use(&self) -> usize {
        self.count
    }

    pub(crate) fn is_used(&self, id: u16) -> bool {
        self.used[usize::from(id >> 6)] & (1 << (id & 63)) != 0
    }

    /// Takes the next free id after the cursor; `None` when all 65535 are in use.
    pub(crate) fn allocate(&mut self) -> Option<u16> {
        if self.count >= 65535 {
            return None;
        }
        let mut id = self.cursor;
        loop {
            id = if id == u16::MAX { 1 } else { id + 1 };
            if !self.is_used(id) {
                self.mark(id);
                self.cursor = id;
                return Some(id);
            }
        }
    }

    /// Marks an id as used (ids restored from a persisted session). False if it already was.
    pub(crate) fn mark(&mut self, id: u16) -> bool {
        if id == 0 || self.is_used(id) {
            return false;
        }
        self.used[usize::from(id >> 6)] |= 1 << (id & 63);
        self.count += 1;
        true
    }

    pub(crate) fn release(&mut self, id: u16) {
        if id != 0 && self.is_used(id) {
            self.used[usize::from(id >> 6)] &= !(1 << (id & 63));
            self.count -= 1;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.used.fill(0);
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::PacketIds;

    #[test]
    fn ids_start_at_one_and_are_never_zero() {
        let mut ids = PacketIds::new();
        assert_eq!(ids.allocate(), Some(1));
        assert_eq!(ids.allocate(), Some(2));
    }

    #[test]
    fn exhaustion_returns_none_and_a_release_frees_exactly_that_id() {
        let mut ids = PacketIds::new();
        for expected in 1..=65535u16 {
            assert_eq!(ids.allocate(), Some(expected));
        }
        assert_eq!(ids.allocate(), None);
        ids.release(4242);
        assert_eq!(ids.allocate(), Some(4242));
        assert_eq!(ids.allocate(), None);
    }

    #[test]
    fn the_cursor_wraps_past_65535_and_skips_ids_in_use() {
        let mut ids = PacketIds::new();
        for _ in 0..65535 {
            ids.allocate();
        }
        ids.release(1);
        ids.release(3);
        assert_eq!(ids.allocate(), Some(1));
        assert_eq!(ids.allocate(), Some(3));
        assert_eq!(ids.in_use(), 65535);
    }
}
