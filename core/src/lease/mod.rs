//! Leases: the record every layer exchanges, the table that holds them in caller-provided
//! storage (with pool occupancy), Kea's memfile CSV codec and the lease-file loader.

pub mod csv;
pub mod loader;
pub mod occupancy;
mod record;
pub mod table;

pub use occupancy::{OccupancySizes, OccupancyStorage, PoolOccupancy};
pub use record::{LeaseRecord, LeaseState};
pub use table::{
    Applied, LeaseId, LeaseSlot, LeaseStorage, LeaseTable, LeaseTableSizes, StorageError,
    TableError,
};
