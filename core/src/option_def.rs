//! The one table of DHCPv4 option definitions (PLACEHOLDER: to be written).

/// The value layout of an option (kea-options.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// Placeholder.
    Binary,
}
