//! Pool occupancy bitmaps: which pool addresses are taken, so the allocator finds the next
//! free address "without scanning the pool each time" (and without touching the lease table
//! for every candidate).
//!
//! Each configured pool gets a run of whole `u64` words in two caller-provided bitmaps:
//! * `held`: an address has a lease in state default (0) or declined (1). Kept in sync by
//!   [`crate::lease::LeaseTable`], which owns the occupancy: every upsert, removal and
//!   reclamation updates the bits, so they can never drift from the table.
//! * `reserved`: an address is reserved for some client (host reservations), so dynamic
//!   allocation must skip it. Set by the caller with [`PoolOccupancy::mark_reserved`].
//!
//! A lease in state expired-reclaimed (2) does not hold its address: Kea's allocator reuses
//! expired leases for other clients (dhcpv4-server-behaviour.md §4 step 4, §12), so such an
//! address is offered by [`PoolOccupancy::next_free`] and the engine reuses the record.
//! Expired leases not yet reclaimed still hold their bit until the reclamation timer (10 s by
//! default) turns them into state 2 or removes them.
//!
//! An address inside pools of several subnets has its bit set in every such pool. Pools are
//! also kept sorted by first address (with a running maximum of last addresses) so finding
//! the pools that contain an address is a binary search, not a walk over 2,000 subnets.
//!
//! Sizing: [`OccupancySizes::for_pools`]. A /15 pool (131,072 addresses) takes 2,048 words
//! (16 KiB) per bitmap.

use core::net::Ipv4Addr;

use crate::config::Pool;

/// Per-pool bookkeeping, in configuration order (index = the config's pool index).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolBits {
    first: u32,
    last: u32,
    word_offset: u32,
}

/// A pool in address order, with the largest `last` of it and every pool sorted before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SortedPool {
    first: u32,
    max_last: u32,
    pool: u32,
}

/// Caller-provided storage for a [`PoolOccupancy`]; size it with [`OccupancySizes`].
#[derive(Debug)]
pub struct OccupancyStorage<'a> {
    /// One entry per pool.
    pub pools: &'a mut [PoolBits],
    /// One entry per pool (the address-sorted view).
    pub sorted: &'a mut [SortedPool],
    /// Bits of addresses holding a lease.
    pub held: &'a mut [u64],
    /// Bits of reserved addresses; same length as `held`.
    pub reserved: &'a mut [u64],
}

impl OccupancyStorage<'_> {
    /// Storage for no pools at all (a table used without allocation, e.g. by kea-lfc).
    pub fn empty() -> OccupancyStorage<'static> {
        OccupancyStorage {
            pools: &mut [],
            sorted: &mut [],
            held: &mut [],
            reserved: &mut [],
        }
    }
}

/// How much storage a set of pools needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OccupancySizes {
    /// Entries of [`OccupancyStorage::pools`] and [`OccupancyStorage::sorted`].
    pub pools: usize,
    /// Words of each bitmap ([`OccupancyStorage::held`] and [`OccupancyStorage::reserved`]).
    pub words: usize,
}

impl OccupancySizes {
    /// The sizes for pools given as inclusive `(first, last)` ranges. Empty ranges
    /// (`last < first`) count as one address, as [`PoolOccupancy::set_pools`] rejects them.
    pub fn for_ranges(pools: impl IntoIterator<Item = (Ipv4Addr, Ipv4Addr)>) -> OccupancySizes {
        let mut sizes = OccupancySizes::default();
        for (first, last) in pools {
            sizes.pools = sizes.pools.saturating_add(1);
            sizes.words = sizes.words.saturating_add(words_for(first, last));
        }
        sizes
    }

    /// The sizes for the config's pools ([`crate::config::Config::pools`]).
    pub fn for_pools(pools: &[Pool]) -> OccupancySizes {
        Self::for_ranges(pools.iter().map(|p| (p.first, p.last)))
    }
}

fn words_for(first: Ipv4Addr, last: Ipv4Addr) -> usize {
    let bits = u64::from(last.to_bits().saturating_sub(first.to_bits())) + 1;
    usize::try_from(bits.div_ceil(64)).unwrap_or(usize::MAX)
}

/// Why pools could not be installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OccupancyError {
    /// More pools than [`OccupancyStorage::pools`] / [`OccupancyStorage::sorted`] entries.
    TooManyPools,
    /// The bitmaps are shorter than the pools need (or `held` and `reserved` differ).
    TooFewWords,
    /// A pool whose last address is below its first.
    InvertedPool {
        /// Index of the pool.
        pool: usize,
    },
}

/// Occupancy bitmaps of every configured pool.
#[derive(Debug)]
pub struct PoolOccupancy<'a> {
    pools: &'a mut [PoolBits],
    sorted: &'a mut [SortedPool],
    held: &'a mut [u64],
    reserved: &'a mut [u64],
    pool_count: usize,
}

impl<'a> PoolOccupancy<'a> {
    /// Occupancy with no pools yet (install them with [`Self::set_pools`]).
    pub fn new(storage: OccupancyStorage<'a>) -> Self {
        PoolOccupancy {
            pools: storage.pools,
            sorted: storage.sorted,
            held: storage.held,
            reserved: storage.reserved,
            pool_count: 0,
        }
    }

    /// Number of pools installed.
    pub fn pool_count(&self) -> usize {
        self.pool_count
    }

    /// Replaces the pools (inclusive ranges, in the config's pool order) and clears every
    /// bit. Used through [`crate::lease::LeaseTable::set_pools`], which re-marks the leases.
    pub(crate) fn set_pools(
        &mut self,
        pools: impl IntoIterator<Item = (Ipv4Addr, Ipv4Addr)>,
    ) -> Result<(), OccupancyError> {
        self.pool_count = 0;
        if self.held.len() != self.reserved.len() {
            return Err(OccupancyError::TooFewWords);
        }
        let mut next_word: usize = 0;
        for (i, (first, last)) in pools.into_iter().enumerate() {
            if last < first {
                return Err(OccupancyError::InvertedPool { pool: i });
            }
            let words = words_for(first, last);
            let end = next_word
                .checked_add(words)
                .filter(|&e| e <= self.held.len())
                .ok_or(OccupancyError::TooFewWords)?;
            let offset = u32::try_from(next_word).map_err(|_| OccupancyError::TooFewWords)?;
            let index = u32::try_from(i).map_err(|_| OccupancyError::TooManyPools)?;
            let (Some(bits), Some(sorted)) = (self.pools.get_mut(i), self.sorted.get_mut(i)) else {
                return Err(OccupancyError::TooManyPools);
            };
            *bits = PoolBits {
                first: first.to_bits(),
                last: last.to_bits(),
                word_offset: offset,
            };
            *sorted = SortedPool {
                first: first.to_bits(),
                max_last: last.to_bits(),
                pool: index,
            };
            next_word = end;
            self.pool_count = i + 1;
        }
        if let Some(used) = self.held.get_mut(..next_word) {
            used.fill(0);
        }
        if let Some(used) = self.reserved.get_mut(..next_word) {
            used.fill(0);
        }
        let sorted = self.sorted.get_mut(..self.pool_count).unwrap_or(&mut []);
        sorted.sort_unstable_by_key(|s| (s.first, s.pool));
        let mut running = 0u32;
        for s in sorted.iter_mut() {
            running = running.max(s.max_last);
            s.max_last = running;
        }
        Ok(())
    }

    /// Installs the config's pools (see [`Self::set_pools`]).
    pub(crate) fn set_config_pools(&mut self, pools: &[Pool]) -> Result<(), OccupancyError> {
        self.set_pools(pools.iter().map(|p| (p.first, p.last)))
    }

    /// Calls `f(pool index, bit index)` for every installed pool containing `addr`.
    fn for_each_bit(&self, addr: Ipv4Addr, f: impl FnMut(usize, u64)) {
        for_each_bit_in(self.pools, self.sorted, self.pool_count, addr, f);
    }

    fn set_bit_in(words: &mut [u64], bit: u64, value: bool) {
        let Ok(word) = usize::try_from(bit / 64) else {
            return;
        };
        if let Some(w) = words.get_mut(word) {
            let mask = 1u64 << (bit % 64);
            if value {
                *w |= mask;
            } else {
                *w &= !mask;
            }
        }
    }

    /// Marks `addr` as holding a lease in every pool containing it.
    pub(crate) fn set_held(&mut self, addr: Ipv4Addr, held: bool) {
        let Self {
            pools,
            sorted,
            held: words,
            pool_count,
            ..
        } = self;
        for_each_bit_in(pools, sorted, *pool_count, addr, |_, bit| {
            Self::set_bit_in(words, bit, held)
        });
    }

    /// Excludes `addr` from dynamic allocation in every pool containing it (a host
    /// reservation: Kea never hands a reserved address to another client, §4 step 3/4).
    /// Addresses outside every pool are ignored. Cleared by the next pool installation.
    pub fn mark_reserved(&mut self, addr: Ipv4Addr) {
        let Self {
            pools,
            sorted,
            reserved,
            pool_count,
            ..
        } = self;
        for_each_bit_in(pools, sorted, *pool_count, addr, |_, bit| {
            Self::set_bit_in(reserved, bit, true)
        });
    }

    /// Clears every reservation mark (before re-marking after a reservation change).
    pub fn clear_reserved(&mut self) {
        self.reserved.fill(0);
    }

    /// The `(first, last)` range of pool `pool_index`.
    pub fn pool_range(&self, pool_index: usize) -> Option<(Ipv4Addr, Ipv4Addr)> {
        if pool_index >= self.pool_count {
            return None;
        }
        let p = self.pools.get(pool_index)?;
        Some((Ipv4Addr::from_bits(p.first), Ipv4Addr::from_bits(p.last)))
    }

    fn word(&self, index: u64) -> u64 {
        let Ok(i) = usize::try_from(index) else {
            return u64::MAX;
        };
        let held = self.held.get(i).copied().unwrap_or(u64::MAX);
        let reserved = self.reserved.get(i).copied().unwrap_or(u64::MAX);
        held | reserved
    }

    /// Whether `addr` is neither leased nor reserved in pool `pool_index` (false outside it).
    pub fn is_free(&self, pool_index: usize, addr: Ipv4Addr) -> bool {
        let mut free = false;
        self.for_each_bit(addr, |pool, bit| {
            if pool == pool_index {
                free = self.word(bit / 64) & (1u64 << (bit % 64)) == 0;
            }
        });
        free
    }

    /// Whether `addr` is marked reserved in some pool.
    pub fn is_reserved(&self, addr: Ipv4Addr) -> bool {
        let mut reserved = false;
        self.for_each_bit(addr, |_, bit| {
            let word = usize::try_from(bit / 64)
                .ok()
                .and_then(|i| self.reserved.get(i))
                .copied()
                .unwrap_or(0);
            reserved |= word & (1u64 << (bit % 64)) != 0;
        });
        reserved
    }

    /// Whether `addr` holds a lease in some pool (state default or declined).
    pub fn is_held(&self, addr: Ipv4Addr) -> bool {
        let mut held = false;
        self.for_each_bit(addr, |_, bit| {
            let word = usize::try_from(bit / 64)
                .ok()
                .and_then(|i| self.held.get(i))
                .copied()
                .unwrap_or(0);
            held |= word & (1u64 << (bit % 64)) != 0;
        });
        held
    }

    /// Number of addresses of pool `pool_index` that are leased or reserved.
    pub fn used(&self, pool_index: usize) -> u64 {
        let Some((first, last)) = self.pool_range(pool_index) else {
            return 0;
        };
        let Some(p) = self.pools.get(pool_index) else {
            return 0;
        };
        let size = u64::from(last.to_bits() - first.to_bits()) + 1;
        let base = u64::from(p.word_offset);
        let mut count = 0u64;
        for w in 0..size.div_ceil(64) {
            let mut word = self.word(base + w);
            let valid_bits = (size - w * 64).min(64);
            if valid_bits < 64 {
                word &= (1u64 << valid_bits) - 1;
            }
            count += u64::from(word.count_ones());
        }
        count
    }

    /// First free bit offset in `[from, to)` of the pool whose bitmap starts at word `base`.
    fn first_free_in(&self, base: u64, from: u64, to: u64) -> Option<u64> {
        let mut pos = from;
        while pos < to {
            let word_index = pos / 64;
            let shift = pos % 64;
            // Free bits are zeros; invert, and drop the bits below `pos`.
            let free = !self.word(base + word_index) & (u64::MAX << shift);
            if free != 0 {
                let found = word_index * 64 + u64::from(free.trailing_zeros());
                return (found < to).then_some(found);
            }
            pos = (word_index + 1) * 64;
        }
        None
    }

    /// The next address of pool `pool_index` that is neither leased nor reserved, in Kea
    /// 2.2's iterative order (dhcpv4-server-behaviour.md §4 step 4: "continues after the last
    /// address handed out, wraps; first boot starts at the first pool address"): the search
    /// starts just after `after` (the last address handed out from this pool; `None`, or an
    /// address outside the pool, starts at the pool's first address), runs to the pool's end,
    /// then wraps to its start. Whole words of taken addresses are skipped 64 at a time.
    pub fn next_free(&self, pool_index: usize, after: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        let (first, last) = self.pool_range(pool_index)?;
        let p = self.pools.get(pool_index)?;
        let base = u64::from(p.word_offset);
        let size = u64::from(last.to_bits() - first.to_bits()) + 1;
        let start = match after {
            Some(a) if first <= a && a <= last => {
                let next = u64::from(a.to_bits() - first.to_bits()) + 1;
                if next == size {
                    0
                } else {
                    next
                }
            }
            _ => 0,
        };
        let offset = self
            .first_free_in(base, start, size)
            .or_else(|| self.first_free_in(base, 0, start))?;
        let offset = u32::try_from(offset).ok()?;
        Some(Ipv4Addr::from_bits(first.to_bits().checked_add(offset)?))
    }
}

/// [`PoolOccupancy::for_each_bit`] over borrowed parts (so the bitmaps can be borrowed
/// mutably at the same time).
fn for_each_bit_in(
    pools: &[PoolBits],
    sorted: &[SortedPool],
    pool_count: usize,
    addr: Ipv4Addr,
    mut f: impl FnMut(usize, u64),
) {
    let a = addr.to_bits();
    let sorted = sorted.get(..pool_count).unwrap_or(&[]);
    let end = sorted.partition_point(|s| s.first <= a);
    for s in sorted.get(..end).unwrap_or(&[]).iter().rev() {
        if s.max_last < a {
            break;
        }
        let pool = s.pool as usize;
        if let Some(p) = pools.get(pool) {
            if p.first <= a && a <= p.last {
                f(pool, u64::from(p.word_offset) * 64 + u64::from(a - p.first));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    struct Owned {
        pools: Vec<PoolBits>,
        sorted: Vec<SortedPool>,
        held: Vec<u64>,
        reserved: Vec<u64>,
    }

    impl Owned {
        fn for_ranges(ranges: &[(Ipv4Addr, Ipv4Addr)]) -> Owned {
            let sizes = OccupancySizes::for_ranges(ranges.iter().copied());
            Owned {
                pools: vec![PoolBits::default(); sizes.pools],
                sorted: vec![SortedPool::default(); sizes.pools],
                held: vec![0; sizes.words],
                reserved: vec![0; sizes.words],
            }
        }
        fn occupancy(&mut self) -> PoolOccupancy<'_> {
            PoolOccupancy::new(OccupancyStorage {
                pools: &mut self.pools,
                sorted: &mut self.sorted,
                held: &mut self.held,
                reserved: &mut self.reserved,
            })
        }
    }

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn iterative_order_wraps_and_skips_taken_and_reserved() {
        let ranges = [(a("198.18.0.100"), a("198.18.0.104"))];
        let mut owned = Owned::for_ranges(&ranges);
        let mut occ = owned.occupancy();
        occ.set_pools(ranges).unwrap();
        // First boot starts at the pool's first address.
        assert_eq!(occ.next_free(0, None), Some(a("198.18.0.100")));
        // Continues after the last address handed out.
        assert_eq!(
            occ.next_free(0, Some(a("198.18.0.100"))),
            Some(a("198.18.0.101"))
        );
        occ.set_held(a("198.18.0.101"), true);
        occ.mark_reserved(a("198.18.0.102"));
        assert_eq!(
            occ.next_free(0, Some(a("198.18.0.100"))),
            Some(a("198.18.0.103"))
        );
        // After the last address, wrap to the first.
        assert_eq!(
            occ.next_free(0, Some(a("198.18.0.104"))),
            Some(a("198.18.0.100"))
        );
        occ.set_held(a("198.18.0.100"), true);
        occ.set_held(a("198.18.0.104"), true);
        // Wraps past the end and past taken addresses to the only free one.
        assert_eq!(
            occ.next_free(0, Some(a("198.18.0.103"))),
            Some(a("198.18.0.103"))
        );
        occ.set_held(a("198.18.0.103"), true);
        assert_eq!(occ.next_free(0, None), None);
        assert_eq!(occ.used(0), 5);
        occ.set_held(a("198.18.0.101"), false);
        assert_eq!(
            occ.next_free(0, Some(a("198.18.0.104"))),
            Some(a("198.18.0.101"))
        );
        // A hint outside the pool starts at the first address.
        assert_eq!(
            occ.next_free(0, Some(a("198.18.9.9"))),
            Some(a("198.18.0.101"))
        );
        assert!(occ.is_free(0, a("198.18.0.101")));
        assert!(!occ.is_free(0, a("198.18.0.102")));
        assert!(!occ.is_free(0, a("198.18.0.99")));
        assert_eq!(occ.next_free(1, None), None);
    }

    #[test]
    fn slash_15_pool_skips_whole_words() {
        let ranges = [(a("198.18.0.0"), a("198.19.255.255"))];
        let mut owned = Owned::for_ranges(&ranges);
        assert_eq!(owned.held.len(), 2048); // 131,072 bits = 16 KiB.
        let mut occ = owned.occupancy();
        occ.set_pools(ranges).unwrap();
        // Fill all but the very last address.
        let first = a("198.18.0.0").to_bits();
        for i in 0..131_071u32 {
            occ.set_held(Ipv4Addr::from_bits(first + i), true);
        }
        assert_eq!(occ.next_free(0, None), Some(a("198.19.255.255")));
        assert_eq!(
            occ.next_free(0, Some(a("198.19.255.255"))),
            Some(a("198.19.255.255"))
        );
        occ.set_held(a("198.18.128.7"), false);
        assert_eq!(
            occ.next_free(0, Some(a("198.19.0.0"))),
            Some(a("198.19.255.255"))
        );
        assert_eq!(
            occ.next_free(0, Some(a("198.19.255.255"))),
            Some(a("198.18.128.7"))
        );
        occ.set_held(a("198.19.255.255"), true);
        assert_eq!(
            occ.next_free(0, Some(a("198.18.128.7"))),
            Some(a("198.18.128.7"))
        );
        assert_eq!(occ.used(0), 131_071);
    }

    #[test]
    fn address_in_overlapping_pools_is_marked_in_each() {
        let ranges = [
            (a("198.18.0.10"), a("198.18.0.200")),
            (a("198.18.1.0"), a("198.18.1.20")),
            (a("198.18.0.50"), a("198.18.0.60")),
        ];
        let mut owned = Owned::for_ranges(&ranges);
        let mut occ = owned.occupancy();
        occ.set_pools(ranges).unwrap();
        occ.set_held(a("198.18.0.55"), true);
        assert!(!occ.is_free(0, a("198.18.0.55")));
        assert!(!occ.is_free(2, a("198.18.0.55")));
        assert_eq!(occ.used(1), 0);
        assert_eq!(
            occ.next_free(2, Some(a("198.18.0.54"))),
            Some(a("198.18.0.56"))
        );
        // 198.18.1.5 is past pool 2's first but only pool 1 contains it.
        occ.set_held(a("198.18.1.5"), true);
        assert_eq!(occ.used(0), 1);
        assert_eq!(occ.used(1), 1);
        assert_eq!(occ.used(2), 1);
        assert!(occ.is_held(a("198.18.1.5")));
        assert!(!occ.is_held(a("198.18.1.6")));
    }

    #[test]
    fn rejects_storage_too_small_and_inverted_pools() {
        let ranges = [(a("198.18.0.0"), a("198.18.0.255"))];
        let mut owned = Owned::for_ranges(&ranges);
        owned.held.truncate(3);
        owned.reserved.truncate(3);
        let mut occ = owned.occupancy();
        assert_eq!(occ.set_pools(ranges), Err(OccupancyError::TooFewWords));
        let mut owned = Owned::for_ranges(&ranges);
        let mut occ = owned.occupancy();
        assert_eq!(
            occ.set_pools([ranges[0], ranges[0]]),
            Err(OccupancyError::TooFewWords)
        );
        assert_eq!(
            occ.set_pools([(a("198.18.0.9"), a("198.18.0.1"))]),
            Err(OccupancyError::InvertedPool { pool: 0 })
        );
        let mut owned = Owned::for_ranges(&ranges);
        owned.held.push(0);
        owned.reserved.push(0);
        let mut occ = owned.occupancy();
        let two = [ranges[0], (a("198.18.1.0"), a("198.18.1.0"))];
        assert_eq!(occ.set_pools(two), Err(OccupancyError::TooManyPools));
    }
}
