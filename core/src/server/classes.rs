//! Class membership the engine decides by itself (kea-expressions.md §5): `ALL`,
//! `VENDOR_CLASS_<option 60>`, `KNOWN`/`UNKNOWN` after the host lookup, and the classes a
//! host reservation lists (`client-classes`). Classes defined by `test` expressions need
//! the expression evaluator and are not members here.

use crate::assign::subnet_select::Membership;
use crate::config::{Config, IndexRange};

/// The classes of the packet being served.
#[derive(Clone, Copy)]
pub struct PacketClasses<'c> {
    config: &'c Config<'c>,
    /// Option 60 with trailing NULs stripped; empty if absent.
    vendor_class: &'c [u8],
    /// `Some(true)` once a host reservation was found, `Some(false)` once the lookup found
    /// none; `None` before the lookup (subnet selection cannot use KNOWN/UNKNOWN).
    known: Option<bool>,
    /// The matched reservation's `client-classes`, names in `config.names`.
    reservation_classes: IndexRange,
}

impl<'c> PacketClasses<'c> {
    /// Classes before the host lookup.
    pub fn new(config: &'c Config<'c>, vendor_class: &'c [u8]) -> Self {
        PacketClasses {
            config,
            vendor_class,
            known: None,
            reservation_classes: IndexRange::EMPTY,
        }
    }

    /// Classes after the host lookup found `reservation` (an index into
    /// `config.reservations`) or none.
    pub fn with_host(mut self, reservation: Option<usize>) -> Self {
        self.known = Some(reservation.is_some());
        self.reservation_classes = reservation
            .and_then(|r| self.config.reservations.get(r))
            .map_or(IndexRange::EMPTY, |r| r.client_classes);
        self
    }

    /// Indices into `config.classes` of the configured classes the packet is in, in
    /// configuration order (the order their option-data is consulted).
    pub fn configured(&self) -> impl Iterator<Item = usize> + '_ {
        let config = self.config;
        config
            .classes
            .iter()
            .enumerate()
            .filter(move |(_, c)| self.is_member(config.bytes(c.name)))
            .map(|(i, _)| i)
    }
}

impl Membership for PacketClasses<'_> {
    fn is_member(&self, name: &[u8]) -> bool {
        if name == b"ALL" {
            return true;
        }
        if name == b"KNOWN" {
            return self.known == Some(true);
        }
        if name == b"UNKNOWN" {
            return self.known == Some(false);
        }
        if let Some(v) = name.strip_prefix(b"VENDOR_CLASS_") {
            if !self.vendor_class.is_empty() && v == self.vendor_class {
                return true;
            }
        }
        self.config
            .names
            .get(self.reservation_classes.as_range())
            .is_some_and(|names| names.iter().any(|&n| self.config.bytes(n) == name))
    }
}
