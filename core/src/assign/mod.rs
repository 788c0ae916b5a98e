//! Subnet selection, host reservations and the choice of an address: the decisions of
//! Kea's allocation engine, named `assign` so it never reads as memory allocation.
//!
//! * [`subnet_select`]: which subnet a query belongs to (RFC 3527 link-selection, RFC 3011
//!   subnet-selection, giaddr and relay addresses, ciaddr/source, receiving interface).
//! * [`reservation`]: the client's host reservation, found by `host-reservation-identifiers`.
//! * [`address`]: the address to offer or acknowledge (lease affinity, reservation, requested
//!   address, iterative next free address).
//! * [`store`]: what the engine needs from the lease table ([`store::LeaseStore`]).
//! * [`identity`]: who the client is and whether a lease belongs to it.

pub mod address;
pub mod identity;
pub mod reservation;
pub mod store;
pub mod subnet_select;

#[cfg(test)]
pub(crate) mod fixture;

pub use identity::ClientIdentity;
pub use store::{LeaseStore, StoreError};
