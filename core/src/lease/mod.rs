//! Leases: the record every layer exchanges, the table that holds them in caller-provided
//! storage, and Kea's memfile CSV codec.

pub mod csv;
mod record;
pub mod table;

pub use record::{LeaseRecord, LeaseState};
pub use table::{LeaseId, LeaseStorage, LeaseTable, TableError};
