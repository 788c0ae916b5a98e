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
    len: usize,
}

impl<'a> HashIndex<'a> {
    /// An empty index over `slots` (cleared here).
    pub fn new(slots: &'a mut [u32]) -> Result<Self, IndexError> {
        if slots.is_empty() || !slots.len().is_power_of_two() {
            return Err(IndexError::BadSlotCount);
        }
        slots.fill(EMPTY);
        Ok(HashIndex { slots, len: 0 })
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
        self.slots.fill(EMPTY);
        self.len = 0;
    }

    /// Adds `id` under `hash`. Duplicates are the caller's business (several leases may
    /// share a hardware address in different subnets).
    pub fn insert(&mut self, hash: u64, id: u32) -> Result<(), IndexError> {
        // Keep one slot empty so every probe sequence terminates.
        if self.len + 1 >= self.slots.len() {
            return Err(IndexError::Full);
        }
        let mask = self.slots.len() - 1;
        let mut i = home(hash, mask);
        loop {
            match self.slots.get_mut(i) {
                Some(slot) if *slot == EMPTY => {
                    *slot = id;
                    self.len += 1;
                    return Ok(());
                }
                Some(_) => i = (i + 1) & mask,
                None => return Err(IndexError::Full),
            }
        }
    }

    /// Removes `id` stored under `hash`; `hash_of` recomputes the hash of any stored id (for
    /// the backward shift). Returns whether it was found.
    pub fn remove(&mut self, hash: u64, id: u32, hash_of: impl Fn(u32) -> u64) -> bool {
        let mask = self.slots.len() - 1;
        let mut i = home(hash, mask);
        loop {
            match self.slots.get(i).copied() {
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
            let v = match self.slots.get(j).copied() {
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
                if let Some(s) = self.slots.get_mut(hole) {
                    *s = v;
                }
                hole = j;
            }
        }
        if let Some(s) = self.slots.get_mut(hole) {
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
        HashIndexView { slots: self.slots }
    }

    /// Gives the slots back as a read-only view with the index's lifetime.
    pub fn into_view(self) -> HashIndexView<'a> {
        HashIndexView { slots: self.slots }
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
