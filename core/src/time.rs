//! Time as the core sees it: a value the caller passes in, never a clock it reads.

/// Seconds since the Unix epoch, as written in Kea's lease file (`expire` = cltt + lifetime).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The timestamp `secs` seconds later, saturating instead of overflowing.
    pub const fn plus(self, secs: u32) -> Timestamp {
        Timestamp(self.0.saturating_add(secs as u64))
    }

    /// Seconds from `earlier` to `self`, or 0 if `earlier` is later.
    pub const fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
