//! Open-addressing hash indexes over caller-provided slots.
//!
//! Used for every O(1) lookup the engine needs (leases by address, client-id and hardware
//! address; reservations by identifier and by address). The index stores only `u32` ids;
//! the caller keeps the items and says whether a candidate matches, so one index type
//! serves every key. Linear probing with backward-shift deletion: no tombstones, so a
//! long-running server never degrades.
//!
//! Sizing: the slot count must be a power of two and larger than the number of ids ever
//! stored; twice the item count keeps probe sequences short.
//!
//! Growth: an index may use only a power-of-two prefix of its slots ([`HashIndex::with_active`])
//! and be widened later ([`HashIndex::widen`]; the caller re-inserts every id, it keeps the
//! items). The lease table uses this so a table sized for a /15 pool touches index memory in
//! proportion to the leases it holds, not to the pool: the slots beyond the prefix are never
//! read or written, so zeroed pages the OS has not mapped yet stay unmapped.

/// Marks an empty slot.
pub const EMPTY: u32 = u32::MAX;

/// Why an index operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexError {
    /// Every slot is taken.
    Full,
    /// The slot count is zero or not a power of two.
    BadSlotCount,
}

/// 64-bit FNV-1a over several byte strings (with a separator byte so that `("ab","c")` and
/// `("a","bc")` differ). Not DoS-resistant; the keys come from a LAN segment whose clients
/// can exhaust a pool anyway.
pub fn hash_parts(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Final avalanche so the low bits (the slot) depend on every input byte.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

fn home(hash: u64, mask: usize) -> usize {
    (hash as usize) & mask
}

/// A mutable index over `slots`.
#[derive(Debug)]
pub struct HashIndex<'a> {
    slots: &'a mut [u32],
    /// Slots in use: a power of two ≤ `slots.len()`; the rest are never touched.
    active: usize,
    len: usize,
}

impl<'a> HashIndex<'a> {
    /// An empty index over `slots` (cleared here).
    pub fn new(slots: &'a mut [u32]) -> Result<Self, IndexError> {
        if slots.is_empty() || !slots.len().is_power_of_two() {
            return Err(IndexError::BadSlotCount);
        }
        slots.fill(EMPTY);
        let active = slots.len();
        Ok(HashIndex {
            slots,
            active,
            len: 0,
        })
    }

    /// An empty index that uses only the first `active` slots (a power of two; clamped to
    /// the slot count) until [`HashIndex::widen`]: only those are cleared here.
    pub fn with_active(slots: &'a mut [u32], active: usize) -> Result<Self, IndexError> {
        if slots.is_empty() || !slots.len().is_power_of_two() || !active.is_power_of_two() {
            return Err(IndexError::BadSlotCount);
        }
        let active = active.min(slots.len());
        if let Some(prefix) = slots.get_mut(..active) {
            prefix.fill(EMPTY);
        }
        Ok(HashIndex {
            slots,
            active,
            len: 0,
        })
    }

    /// Slots in use now.
    pub fn active_slots(&self) -> usize {
        self.active
    }

    /// Every slot the index may grow into.
    pub fn total_slots(&self) -> usize {
        self.slots.len()
    }

    /// Whether storing one more id would fill more than half of the slots in use while
    /// wider room is available (the caller then widens and re-inserts).
    pub fn wants_widening(&self) -> bool {
        self.active < self.slots.len() && (self.len + 1) * 2 > self.active
    }

    /// Empties the index and doubles the slots in use (up to every slot); the caller then
    /// re-inserts every id. Returns the new number of slots in use.
    pub fn widen(&mut self) -> usize {
        self.active = self.active.saturating_mul(2).min(self.slots.len());
        self.clear();
        self.active
    }

    fn active_mut(&mut self) -> &mut [u32] {
        let active = self.active;
        self.slots.get_mut(..active).unwrap_or(&mut [])
    }

    fn active_ref(&self) -> &[u32] {
        self.slots.get(..self.active).unwrap_or(&[])
    }

    /// Number of ids stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every id.
    pub fn clear(&mut self) {
        self.active_mut().fill(EMPTY);
        self.len = 0;
    }

    /// Adds `id` under `hash`. Duplicates are the caller's business (several leases may
    /// share a hardware address in different subnets).
    pub fn insert(&mut self, hash: u64, id: u32) -> Result<(), IndexError> {
        // Keep one slot empty so every probe sequence terminates.
        if self.len + 1 >= self.active {
            return Err(IndexError::Full);
        }
        let mask = self.active - 1;
        let mut i = home(hash, mask);
        let slots = self.active_mut();
        loop {
            match slots.get_mut(i) {
                Some(slot) if *slot == EMPTY => {
                    *slot = id;
                    break;
                }
                Some(_) => i = (i + 1) & mask,
                None => return Err(IndexError::Full),
            }
        }
        self.len += 1;
        Ok(())
    }

    /// Removes `id` stored under `hash`; `hash_of` recomputes the hash of any stored id (for
    /// the backward shift). Returns whether it was found.
    pub fn remove(&mut self, hash: u64, id: u32, hash_of: impl Fn(u32) -> u64) -> bool {
        let mask = self.active - 1;
        let slots = self.active_mut();
        let mut i = home(hash, mask);
        loop {
            match slots.get(i).copied() {
                Some(EMPTY) | None => return false,
                Some(v) if v == id => break,
                Some(_) => i = (i + 1) & mask,
            }
        }
        // Backward-shift deletion: move later members of the cluster into the hole when
        // their home position does not lie cyclically in (hole, j].
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let v = match slots.get(j).copied() {
                Some(EMPTY) | None => break,
                Some(v) => v,
            };
            let h = home(hash_of(v), mask);
            let between = if hole <= j {
                hole < h && h <= j
            } else {
                hole < h || h <= j
            };
            if !between {
                if let Some(s) = slots.get_mut(hole) {
                    *s = v;
                }
                hole = j;
            }
        }
        if let Some(s) = slots.get_mut(hole) {
            *s = EMPTY;
        }
        self.len -= 1;
        true
    }

    /// The first stored id under `hash` for which `matches` is true.
    pub fn find(&self, hash: u64, matches: impl FnMut(u32) -> bool) -> Option<u32> {
        self.view().find(hash, matches)
    }

    /// A read-only view.
    pub fn view(&self) -> HashIndexView<'_> {
        HashIndexView {
            slots: self.active_ref(),
        }
    }

    /// Gives the slots back as a read-only view with the index's lifetime.
    pub fn into_view(self) -> HashIndexView<'a> {
        let active = self.active;
        let slots: &'a [u32] = self.slots;
        HashIndexView {
            slots: slots.get(..active).unwrap_or(&[]),
        }
    }
}

/// A read-only view of a built index.
#[derive(Clone, Copy, Debug, Default)]
pub struct HashIndexView<'a> {
    slots: &'a [u32],
}

impl<'a> HashIndexView<'a> {
    /// The first stored id under `hash` for which `matches` is true.
    pub fn find(&self, hash: u64, mut matches: impl FnMut(u32) -> bool) -> Option<u32> {
        self.candidates(hash).find(|&id| matches(id))
    }

    /// Every id on `hash`'s probe sequence (a superset of the ids stored under `hash`; the
    /// caller filters by comparing keys).
    pub fn candidates(&self, hash: u64) -> Candidates<'a> {
        let mask = self.slots.len().wrapping_sub(1);
        Candidates {
            slots: self.slots,
            pos: home(hash, mask),
            mask,
            steps: 0,
        }
    }
}

/// Iterator over a probe sequence, see [`HashIndexView::candidates`].
#[derive(Clone, Debug)]
pub struct Candidates<'a> {
    slots: &'a [u32],
    pos: usize,
    mask: usize,
    steps: usize,
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.steps >= self.slots.len() {
            return None;
        }
        let v = *self.slots.get(self.pos)?;
        if v == EMPTY {
            return None;
        }
        self.pos = (self.pos + 1) & self.mask;
        self.steps += 1;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_find_remove_keeps_every_other_entry_reachable() {
        let mut slots = [0u32; 16];
        let mut idx = HashIndex::new(&mut slots).unwrap();
        // Force collisions: hash = id % 4 puts everything into 4 clusters.
        let h = |id: u32| u64::from(id % 4);
        for id in 0..12 {
            idx.insert(h(id), id).unwrap();
        }
        // 12 stored, 16 slots: three more fit (one slot always stays empty).
        for extra in 100..103 {
            idx.insert(h(extra), extra).unwrap();
        }
        assert_eq!(idx.insert(0, 200), Err(IndexError::Full));
        for extra in 100..103 {
            assert!(idx.remove(h(extra), extra, h));
        }
        for victim in [0, 5, 10] {
            assert!(idx.remove(h(victim), victim, h));
            for id in 0..12 {
                let found = idx.find(h(id), |c| c == id);
                let removed = [0, 5, 10]
                    .iter()
                    .take_while(|&&r| r != victim)
                    .any(|&r| r == id)
                    || id == victim;
                assert_eq!(found.is_some(), !removed, "id {id} after removing {victim}");
            }
        }
        assert!(!idx.remove(h(5), 5, h));
        assert_eq!(idx.len(), 9);
    }

    /// An index over a prefix touches only the prefix; widening doubles it, and every id
    /// re-inserted is found again.
    #[test]
    fn prefix_widens_and_leaves_the_rest_untouched() {
        let mut slots = [7u32; 64];
        let mut idx = HashIndex::with_active(&mut slots, 8).unwrap();
        assert_eq!(idx.active_slots(), 8);
        assert_eq!(idx.total_slots(), 64);
        let h = |id: u32| hash_parts(&[&id.to_le_bytes()]);
        let mut stored = 0u32;
        while !idx.wants_widening() {
            idx.insert(h(stored), stored).unwrap();
            stored += 1;
        }
        assert_eq!(stored, 4, "half of 8 slots");
        assert_eq!(idx.widen(), 16);
        assert!(idx.is_empty());
        for id in 0..stored {
            idx.insert(h(id), id).unwrap();
        }
        for id in 0..stored {
            assert_eq!(idx.find(h(id), |c| c == id), Some(id));
        }
        assert!(idx.remove(h(1), 1, h));
        assert_eq!(idx.find(h(1), |c| c == 1), None);
        while idx.widen() < 64 {}
        assert!(!idx.wants_widening(), "no room beyond every slot");
        assert_eq!(idx.widen(), 64);

        let mut fresh = [7u32; 64];
        HashIndex::with_active(&mut fresh, 8).unwrap();
        assert!(fresh[..8].iter().all(|&v| v == EMPTY));
        assert!(
            fresh[8..].iter().all(|&v| v == 7),
            "beyond the prefix: untouched"
        );
        assert_eq!(
            HashIndex::with_active(&mut fresh, 6).err(),
            Some(IndexError::BadSlotCount)
        );
    }

    #[test]
    fn rejects_bad_slot_counts() {
        let mut a = [0u32; 0];
        assert_eq!(HashIndex::new(&mut a).err(), Some(IndexError::BadSlotCount));
        let mut b = [0u32; 6];
        assert_eq!(HashIndex::new(&mut b).err(), Some(IndexError::BadSlotCount));
    }

    #[test]
    fn hash_parts_separates_boundaries() {
        assert_ne!(hash_parts(&[b"ab", b"c"]), hash_parts(&[b"a", b"bc"]));
    }
}
