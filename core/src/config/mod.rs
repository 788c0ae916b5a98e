//! Kea `Dhcp4` configuration: parsing (PLACEHOLDER: to be written) into [`model`].

pub mod model;
pub use model::*;
