//! Each statistic's recent samples, as Kea 2.2 keeps them (`isc::stats::Observation`): every
//! change of a value adds a sample `[value, timestamp]`; `statistic-get` lists them newest
//! first. What is kept is bounded by one of two limits, per statistic:
//! - a count (`statistic-sample-count-set`; Kea's default `statistic-default-sample-count`
//!   is 20): after a change, the oldest sample goes while there are more than the count;
//! - an age (`statistic-sample-age-set`): the oldest samples go while the span between the
//!   newest and the oldest exceeds the duration.
//!
//! Setting one limit switches the other off (Kea: "deactivating the max_sample_count_
//! limit"). `statistic-sample-*-set-all` also changes the default that statistics created
//! later start with.
//!
//! # Storage
//! No allocation: the caller gives a [`History`] made of one [`SampleRing`] per statistic
//! slot ([`crate::stats::Stats::history_slots`]: the 26 global statistics and 12 per
//! configured subnet) and `depth` × that many [`StoredSample`]s (12 bytes each). `depth`
//! is the most samples any statistic can keep, whatever its limit says: a count above
//! `depth`, or an age span holding more than `depth` samples, keeps `depth` (a documented
//! difference from Kea, whose lists grow without a bound of their own).
//!
//! The bound, for the largest config wren is sized for (2,000 subnets) with Kea's default
//! depth of 20: (26 + 2,000 × 12) slots × 20 samples × 12 bytes ≈ 5.8 MB of samples plus
//! 8 bytes × 24,026 rings ≈ 0.2 MB. A 50-subnet home config needs 150 KB. Kea itself keeps
//! each sample in a `std::list` node (about 48 bytes with the allocator's overhead), so the
//! same history costs it four times as much once full. A daemon that wants less gives a
//! smaller depth (or none: [`History::none`] keeps only the current value, one sample).

/// Kea 2.2's default: 20 samples per statistic (`statistic-default-sample-count`).
pub const DEFAULT_SAMPLE_COUNT: u32 = 20;

/// Which bound a statistic's samples follow (Kea keeps exactly one of the two active).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleLimit {
    /// At most this many samples (0 is treated as 1: the current value stays).
    Count(u32),
    /// Only samples at most this many seconds older than the newest.
    Age(u32),
}

impl Default for SampleLimit {
    fn default() -> Self {
        SampleLimit::Count(DEFAULT_SAMPLE_COUNT)
    }
}

/// One kept sample: its value and its time (seconds since the epoch; a `u32` lasts until
/// 2106), stored as bytes so a slice of them has no padding (12 bytes, not 16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoredSample {
    value: [u8; 8],
    at: [u8; 4],
}

impl StoredSample {
    fn new(value: i64, at: u64) -> Self {
        StoredSample {
            value: value.to_le_bytes(),
            at: u32::try_from(at).unwrap_or(u32::MAX).to_le_bytes(),
        }
    }

    /// The value.
    pub fn value(&self) -> i64 {
        i64::from_le_bytes(self.value)
    }

    /// Seconds since the epoch.
    pub fn at(&self) -> u64 {
        u64::from(u32::from_le_bytes(self.at))
    }
}

/// The bookkeeping of one statistic's samples (which live in [`History`]'s shared slice).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleRing {
    /// Index of the newest sample within the statistic's `depth` samples.
    newest: u16,
    /// Samples kept.
    len: u16,
    /// The bound.
    limit: SampleLimit,
}

impl SampleRing {
    /// The bound this statistic follows.
    pub fn limit(&self) -> SampleLimit {
        self.limit
    }
}

/// The caller's storage for every statistic's samples (see the module documentation).
#[derive(Debug)]
pub struct History<'a> {
    rings: &'a mut [SampleRing],
    samples: &'a mut [StoredSample],
    depth: usize,
}

impl<'a> History<'a> {
    /// Storage for `rings.len()` statistics of `samples.len() / rings.len()` samples each
    /// (at most 65,535).
    pub fn new(rings: &'a mut [SampleRing], samples: &'a mut [StoredSample]) -> Self {
        let depth = samples
            .len()
            .checked_div(rings.len())
            .unwrap_or(0)
            .min(usize::from(u16::MAX));
        History {
            rings,
            samples,
            depth,
        }
    }

    /// No history: each statistic shows its current value only.
    pub fn none() -> History<'static> {
        History {
            rings: &mut [],
            samples: &mut [],
            depth: 0,
        }
    }

    /// Samples each statistic can keep.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Statistic slots.
    pub fn slots(&self) -> usize {
        self.rings.len()
    }

    fn parts(&mut self, slot: usize) -> Option<(&mut SampleRing, &mut [StoredSample])> {
        let start = slot.checked_mul(self.depth)?;
        let end = start.checked_add(self.depth)?;
        let ring = self.rings.get_mut(slot)?;
        let samples = self.samples.get_mut(start..end)?;
        (!samples.is_empty()).then_some((ring, samples))
    }

    /// Forgets the slot's samples and gives it `limit` (a statistic created anew).
    pub fn restart(&mut self, slot: usize, limit: SampleLimit) {
        if let Some(ring) = self.rings.get_mut(slot) {
            *ring = SampleRing {
                newest: 0,
                len: 0,
                limit,
            };
        }
    }

    /// Forgets the slot's samples, keeping its limit (`statistic-reset`).
    pub fn clear(&mut self, slot: usize) {
        if let Some(ring) = self.rings.get_mut(slot) {
            ring.len = 0;
        }
    }

    /// The slot's limit (the default for a slot without storage).
    pub fn limit(&self, slot: usize) -> Option<SampleLimit> {
        self.rings.get(slot).map(|r| r.limit)
    }

    /// Adds the newest sample, then drops the oldest ones the limit no longer allows.
    pub fn push(&mut self, slot: usize, value: i64, at: u64) {
        let Some((ring, samples)) = self.parts(slot) else {
            return;
        };
        let depth = samples.len();
        let newest = if ring.len == 0 {
            0
        } else {
            (usize::from(ring.newest) + 1) % depth
        };
        if let Some(s) = samples.get_mut(newest) {
            *s = StoredSample::new(value, at);
        }
        ring.newest = newest as u16;
        ring.len = (usize::from(ring.len) + 1).min(depth) as u16;
        trim(ring, samples);
    }

    /// Gives the slot a new limit and drops what it no longer allows. False for a slot
    /// without storage.
    pub fn set_limit(&mut self, slot: usize, limit: SampleLimit) -> bool {
        if let Some(ring) = self.rings.get_mut(slot) {
            ring.limit = limit;
        } else {
            return false;
        }
        if let Some((ring, samples)) = self.parts(slot) {
            trim(ring, samples);
        }
        true
    }

    /// The slot's samples, newest first.
    pub fn samples(&self, slot: usize) -> impl Iterator<Item = StoredSample> + '_ {
        let ring = self.rings.get(slot).copied().unwrap_or_default();
        let depth = self.depth;
        let samples = slot
            .checked_mul(depth)
            .and_then(|start| self.samples.get(start..start.checked_add(depth)?))
            .unwrap_or(&[]);
        let len = if samples.is_empty() {
            0
        } else {
            usize::from(ring.len)
        };
        (0..len).filter_map(move |k| samples.get(nth(&ring, depth, k)).copied())
    }
}

/// Index of the `k`-th newest sample (0 = newest).
fn nth(ring: &SampleRing, depth: usize, k: usize) -> usize {
    (usize::from(ring.newest) + depth - k % depth) % depth
}

/// Drops the oldest samples beyond the ring's limit (the newest always stays).
fn trim(ring: &mut SampleRing, samples: &[StoredSample]) {
    let depth = samples.len();
    match ring.limit {
        SampleLimit::Count(n) => {
            let keep = usize::try_from(n).unwrap_or(usize::MAX).max(1);
            if usize::from(ring.len) > keep {
                ring.len = keep as u16;
            }
        }
        SampleLimit::Age(seconds) => {
            let Some(newest) = samples.get(nth(ring, depth, 0)) else {
                return;
            };
            while ring.len > 1 {
                let oldest = nth(ring, depth, usize::from(ring.len) - 1);
                let span = samples
                    .get(oldest)
                    .map_or(0, |o| newest.at().saturating_sub(o.at()));
                if span <= u64::from(seconds) {
                    break;
                }
                ring.len -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn values(h: &History<'_>, slot: usize) -> Vec<(i64, u64)> {
        h.samples(slot).map(|s| (s.value(), s.at())).collect()
    }

    #[test]
    fn count_limit_keeps_the_newest_and_wraps() {
        let mut rings = [SampleRing::default(); 2];
        let mut samples = [StoredSample::default(); 8];
        let mut h = History::new(&mut rings, &mut samples);
        assert_eq!(h.depth(), 4);
        assert!(h.set_limit(1, SampleLimit::Count(3)));
        for v in 0..7 {
            h.push(1, v, 100 + v as u64);
        }
        assert_eq!(values(&h, 1), [(6, 106), (5, 105), (4, 104)]);
        // Slot 0 is untouched by slot 1's writes.
        assert_eq!(values(&h, 0), []);
        // A larger count than the depth keeps the depth.
        h.set_limit(1, SampleLimit::Count(u32::MAX));
        h.push(1, 7, 107);
        h.push(1, 8, 108);
        assert_eq!(values(&h, 1), [(8, 108), (7, 107), (6, 106), (5, 105)]);
        // Lowering the count drops the oldest at once; 0 keeps the current value.
        h.set_limit(1, SampleLimit::Count(2));
        assert_eq!(values(&h, 1), [(8, 108), (7, 107)]);
        h.set_limit(1, SampleLimit::Count(0));
        assert_eq!(values(&h, 1), [(8, 108)]);
        h.push(1, 9, 109);
        assert_eq!(values(&h, 1), [(9, 109)]);
    }

    #[test]
    fn age_limit_keeps_the_span() {
        let mut rings = [SampleRing::default(); 1];
        let mut samples = [StoredSample::default(); 20];
        let mut h = History::new(&mut rings, &mut samples);
        for (v, t) in [(1, 10), (2, 11), (3, 13), (4, 14)] {
            h.push(0, v, t);
        }
        h.set_limit(0, SampleLimit::Age(2));
        assert_eq!(values(&h, 0), [(4, 14), (3, 13)]);
        h.push(0, 5, 16);
        assert_eq!(values(&h, 0), [(5, 16), (4, 14)]);
        h.set_limit(0, SampleLimit::Age(0));
        assert_eq!(values(&h, 0), [(5, 16)]);
        // Samples of the same second all stay under age 0.
        h.push(0, 6, 16);
        assert_eq!(values(&h, 0), [(6, 16), (5, 16)]);
    }

    #[test]
    fn restart_clear_and_no_storage() {
        let mut rings = [SampleRing::default(); 1];
        let mut samples = [StoredSample::default(); 3];
        let mut h = History::new(&mut rings, &mut samples);
        h.set_limit(0, SampleLimit::Count(2));
        h.push(0, -1, 1);
        h.push(0, i64::MIN, u64::MAX);
        assert_eq!(values(&h, 0), [(i64::MIN, u64::from(u32::MAX)), (-1, 1)]);
        h.clear(0);
        assert_eq!(values(&h, 0), []);
        assert_eq!(h.limit(0), Some(SampleLimit::Count(2)));
        h.restart(0, SampleLimit::Age(5));
        assert_eq!(h.limit(0), Some(SampleLimit::Age(5)));
        // Out-of-range slots and empty storage are ignored, never a panic.
        h.push(7, 1, 1);
        assert!(!h.set_limit(7, SampleLimit::Count(1)));
        assert_eq!(values(&h, 7), []);
        let mut none = History::none();
        none.push(0, 1, 1);
        assert_eq!(none.depth(), 0);
        assert_eq!(values(&none, 0), []);
        let mut rings = [SampleRing::default(); 2];
        let mut short = [StoredSample::default(); 1];
        let h = History::new(&mut rings, &mut short);
        assert_eq!(h.depth(), 0);
        assert_eq!(core::mem::size_of::<StoredSample>(), 12);
    }
}
