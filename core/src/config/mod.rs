//! Kea `Dhcp4` configuration: [`measure`] a text, size a [`ConfigStorage`] from the
//! [`Capacity`], [`parse`] into it, then read the [`Config`].
//!
//! ```text
//! let cap = config::measure(&text)?;            // counts, no storage needed
//! let mut subnets = vec![Subnet::EMPTY; cap.subnets];  // … one Vec per field
//! let cfg = config::parse(&text, storage, &mut |w| log(w))?;
//! ```
//!
//! The text is Kea's JSON dialect (comments, trailing commas with a warning; see [`json`]),
//! with or without the outer `{"Dhcp4": …}`. `<?include "…"?>` directives must be spliced
//! in by the caller first: [`splice`] does it with a caller's `read` closure and returns a
//! [`SourceMap`] that places error positions in the included files ([`include`]). Keys Kea 2.2 has but wren does not
//! implement are accepted with a [`ConfigWarning`] ([`unsupported`]); anything else Kea
//! would reject is a [`ConfigError`] with line, column and JSON path.
//!
//! One deliberate difference: Kea 2.2 rejects a key repeated in a map; wren accepts a repeat
//! whose value is the same tokens as the first (white space and comments aside) with a
//! [`ConfigWarningKind::DuplicateKeyIgnored`] warning, because the founding user's config
//! repeats four keys that way. A repeat with another value is still an error.

// Errors are returned by value without `alloc`: a `ConfigError` carries its JSON path and
// quoted snippets inline (a few hundred bytes). Loading is not a hot path, so the size of
// the `Err` variant does not matter.
#![allow(clippy::result_large_err)]

pub mod error;
pub mod hooks;
pub mod include;
pub mod json;
pub mod model;
mod parse;
mod reader;
pub mod storage;
pub mod unsupported;
pub mod values;

use core::net::Ipv4Addr;

pub use error::{
    ConfigError, ConfigErrorKind, ConfigWarning, ConfigWarningKind, PoolProblem, Position,
    StorageKind,
};
pub use include::{splice, Segment, SourceLocation, SourceMap, SpliceError};
pub use json::{next_include, Include};
pub use model::*;
pub use parse::{address_hash, identifier_hash};
pub use storage::Capacity;

/// Counts what `text` needs: run [`parse`] with storage of (at least) these sizes. Reports
/// syntax and most semantic errors; checks that compare stored items (duplicates across
/// subnets, reservation uniqueness) are made by [`parse`] only. Warnings are not reported
/// here (they would be reported twice); [`parse`] reports them.
pub fn measure(text: &str) -> Result<Capacity, ConfigError> {
    let storage = ConfigStorage {
        subnets: &mut [],
        shared_networks: &mut [],
        pools: &mut [],
        reservations: &mut [],
        options: &mut [],
        option_defs: &mut [],
        classes: &mut [],
        loggers: &mut [],
        hooks: &mut [],
        addresses: &mut [],
        names: &mut [],
        text: &mut [],
        reservation_id_slots: &mut [],
        reservation_addr_slots: &mut [],
    };
    let store = parse::Store::new(storage, true)
        .map_err(|k| ConfigError::new(Position::default(), "", k))?;
    let mut ignore = |_: &ConfigWarning| {};
    let mut p = parse::Parser::new(text, store, true, &mut ignore);
    p.run()?;
    let (_, st) = p.into_parts();
    let reservations = st.reservations.len();
    Ok(Capacity {
        subnets: st.subnets.len(),
        shared_networks: st.shared_networks.len(),
        pools: st.pools.len(),
        reservations,
        options: st.options.len(),
        option_defs: st.option_defs.len(),
        classes: st.classes.len(),
        loggers: st.loggers.len(),
        hooks: st.hooks.len(),
        addresses: st.addresses.len(),
        names: st.names.len(),
        text: st.text.len(),
        reservation_id_slots: Capacity::index_slots(reservations),
        reservation_addr_slots: Capacity::index_slots(reservations),
    })
}

/// Parses `text` into `storage` (sized with [`measure`]), calling `warn` for every
/// warning. The returned [`Config`] borrows the storage.
pub fn parse<'a>(
    text: &str,
    storage: ConfigStorage<'a>,
    warn: &mut dyn FnMut(&ConfigWarning),
) -> Result<Config<'a>, ConfigError> {
    let store = parse::Store::new(storage, false)
        .map_err(|k| ConfigError::new(Position::default(), "", k))?;
    let mut p = parse::Parser::new(text, store, false, warn);
    p.run()?;
    let (globals, st) = p.into_parts();
    let reservations_by_identifier = st.by_identifier.map(|i| i.into_view()).unwrap_or_default();
    let reservations_by_address = st.by_address.map(|i| i.into_view()).unwrap_or_default();
    Ok(Config {
        globals,
        subnets: st.subnets.freeze(),
        shared_networks: st.shared_networks.freeze(),
        pools: st.pools.freeze(),
        reservations: st.reservations.freeze(),
        options: st.options.freeze(),
        option_defs: st.option_defs.freeze(),
        classes: st.classes.freeze(),
        loggers: st.loggers.freeze(),
        hooks: st.hooks.freeze(),
        addresses: st.addresses.freeze(),
        names: st.names.freeze(),
        text: st.text.freeze(),
        reservations_by_identifier,
        reservations_by_address,
    })
}

impl<'a> Config<'a> {
    /// The subnet with Kea id `id`.
    pub fn subnet_by_id(&self, id: u32) -> Option<&'a Subnet> {
        self.subnets.iter().find(|s| s.id == id)
    }

    /// The pools of `subnet`.
    pub fn pools_of(&self, subnet: &Subnet) -> &'a [Pool] {
        self.pools.get(subnet.pools.as_range()).unwrap_or(&[])
    }

    /// The reservations of `subnet`.
    pub fn reservations_of(&self, subnet: &Subnet) -> &'a [Reservation] {
        self.reservations
            .get(subnet.reservations.as_range())
            .unwrap_or(&[])
    }

    /// The options of a range (a level's `options` field).
    pub fn options_of(&self, range: IndexRange) -> &'a [OptionValue] {
        self.options.get(range.as_range()).unwrap_or(&[])
    }

    /// The wire payload of an option.
    pub fn payload(&self, option: &OptionValue) -> &'a [u8] {
        self.bytes(option.payload)
    }

    /// The names of a name-list range (class names, interfaces, logger outputs).
    pub fn name_list(&self, range: IndexRange) -> impl Iterator<Item = &'a str> + 'a {
        let names = self.names.get(range.as_range()).unwrap_or(&[]);
        let text = self.text;
        names.iter().map(move |r| {
            let start = r.offset as usize;
            text.get(start..start.saturating_add(r.len as usize))
                .and_then(|b| core::str::from_utf8(b).ok())
                .unwrap_or("")
        })
    }

    /// The addresses of an address-list range (relay addresses).
    pub fn address_list(&self, range: IndexRange) -> &'a [Ipv4Addr] {
        self.addresses.get(range.as_range()).unwrap_or(&[])
    }

    /// The reservation of `subnet_id` (0 = global) for the identifier, if any.
    pub fn find_reservation(
        &self,
        subnet_id: u32,
        kind: IdentifierType,
        identifier: &[u8],
    ) -> Option<&'a Reservation> {
        let h = identifier_hash(subnet_id, kind, identifier);
        let reservations = self.reservations;
        let id = self.reservations_by_identifier.find(h, |c| {
            reservations.get(c as usize).is_some_and(|r| {
                r.subnet_id == subnet_id
                    && r.identifier_type == kind
                    && self.bytes(r.identifier) == identifier
            })
        })?;
        reservations.get(id as usize)
    }

    /// The (first) reservation of `address` in `subnet_id` (0 = global), if any.
    pub fn reservation_for_address(
        &self,
        subnet_id: u32,
        address: Ipv4Addr,
    ) -> Option<&'a Reservation> {
        let h = address_hash(subnet_id, address);
        let reservations = self.reservations;
        let id = self.reservations_by_address.find(h, |c| {
            reservations
                .get(c as usize)
                .is_some_and(|r| r.subnet_id == subnet_id && r.address == Some(address))
        })?;
        reservations.get(id as usize)
    }

    /// The valid `host-reservation-identifiers`, in lookup order.
    pub fn identifier_order(&self) -> &[IdentifierType] {
        let n = usize::from(self.globals.identifier_count);
        self.globals
            .host_reservation_identifiers
            .get(..n)
            .unwrap_or(&self.globals.host_reservation_identifiers)
    }

    /// The client class named `name`.
    pub fn class_by_name(&self, name: &str) -> Option<&'a ClientClass> {
        self.classes
            .iter()
            .find(|c| self.bytes(c.name) == name.as_bytes())
    }

    /// The hook library whose file name (last path component) is `file_name`, e.g.
    /// `"libdhcp_ha.so"` (wren implements Kea's free hooks natively and recognises them by
    /// file name).
    pub fn hook_library(&self, file_name: &str) -> Option<&'a HookLibrary> {
        self.hooks.iter().find(|h| {
            let path = self.str(h.library);
            path.rsplit('/').next() == Some(file_name)
        })
    }

    /// The shared network a subnet belongs to.
    pub fn network_of(&self, subnet: &Subnet) -> Option<&'a SharedNetwork> {
        subnet
            .shared_network
            .and_then(|i| self.shared_networks.get(i as usize))
    }
}

#[cfg(test)]
mod tests;
