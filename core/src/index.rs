//! Open-addressing hash indexes over caller-provided slots (owned by the lease-table work;
//! used by the lease table and the reservation lookups).
//!
//! PLACEHOLDER API (to be implemented): see the helper brief.

/// A read-only view of a built index.
#[derive(Clone, Copy, Debug, Default)]
pub struct HashIndexView<'a> {
    /// The slots; `u32::MAX` marks an empty slot.
    pub slots: &'a [u32],
}
