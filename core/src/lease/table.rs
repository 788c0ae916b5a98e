//! The lease table in caller-provided storage (PLACEHOLDER: to be written).

/// Index of a lease slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseId(pub u32);

/// Storage for the table.
pub struct LeaseStorage<'a> {
    /// Placeholder.
    pub slots: &'a mut [u32],
}

/// The table.
pub struct LeaseTable<'a> {
    _storage: LeaseStorage<'a>,
}

/// Table errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// No free slot.
    Full,
}
