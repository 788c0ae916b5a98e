//! Class membership the engine decides by itself (kea-expressions.md §5): `ALL`,
//! `VENDOR_CLASS_<option 60>`, `KNOWN`/`UNKNOWN` after the host lookup, and the classes a
//! host reservation lists (`client-classes`), plus the classes whose `test` expression a
//! [`ClassTests`] implementation (the classification module) found true.

use crate::assign::subnet_select::Membership;
use crate::config::{Config, IndexRange};
use crate::server::Query;

/// Evaluates the `test` expressions of configured classes (kea-expressions.md §4); the
/// classification module implements it and the daemon hands it to
/// [`crate::server::Engine::with_class_tests`].
pub trait ClassTests {
    /// Whether the test of `config.classes[index]` is true for `query`. `member` answers
    /// `member('name')` (and `KNOWN`/`UNKNOWN` in pass 2) from the classes decided so far:
    /// "Later classes see earlier matches".
    fn test(&self, index: usize, query: &Query<'_>, member: &dyn Membership) -> bool;

    /// Whether the test depends (directly or through other classes) on `KNOWN`/`UNKNOWN`:
    /// such classes are evaluated in pass 2, after the host lookup (§5 steps 3 and 9).
    fn depends_on_known(&self, index: usize) -> bool;
}

/// Number of `u64` words of class bits [`crate::server::Engine::with_class_tests`] needs for
/// `classes` configured classes.
pub const fn class_words(classes: usize) -> usize {
    classes.div_ceil(64)
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

/// Runs one pass of class tests (kea-expressions.md §5): pass 1 (`known` is `None`) tests
/// every class that has a `test`, is not `only-if-required` and does not depend on
/// KNOWN/UNKNOWN, in configuration order; pass 2 (`known` set) tests the ones that do.
/// Matches are recorded in `bits` (bit `i` = `config.classes[i]`).
pub fn run_class_pass(
    config: &Config<'_>,
    tests: &dyn ClassTests,
    query: &Query<'_>,
    base: &PacketClasses<'_>,
    bits: &mut [u64],
) {
    let pass_two = base.known.is_some();
    for (i, class) in config.classes.iter().enumerate() {
        if class.test.is_empty() || class.only_if_required || tests.depends_on_known(i) != pass_two
        {
            continue;
        }
        let view = PacketClasses {
            tested: bits,
            ..*base
        };
        let matched = tests.test(i, query, &view);
        if matched {
            if let Some(w) = bits.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        }
    }
}

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
    /// Classes whose test matched (bit `i` = `config.classes[i]`).
    tested: &'c [u64],
    /// Required classes to evaluate on demand (§5 step 13), once the address is known.
    required: Option<Required<'c>>,
    /// [HA] A hook-assigned class (`HA_<peer>`); empty for none.
    hook_class: &'c [u8],
}

/// The required-class lists of a reply (`require-client-classes` of the shared network,
/// the subnet and the pool holding yiaddr) and how to evaluate them.
#[derive(Clone, Copy)]
struct Required<'c> {
    lists: [IndexRange; 3],
    tests: &'c dyn ClassTests,
    query: &'c Query<'c>,
}

impl<'c> PacketClasses<'c> {
    /// Classes before the host lookup.
    pub fn new(config: &'c Config<'c>, vendor_class: &'c [u8]) -> Self {
        PacketClasses {
            config,
            vendor_class,
            known: None,
            reservation_classes: IndexRange::EMPTY,
            tested: &[],
            required: None,
            hook_class: &[],
        }
    }

    /// [HA] The same classes plus the hook-assigned class `name` (empty: none).
    pub fn with_hook_class(self, name: &'c [u8]) -> Self {
        PacketClasses {
            hook_class: name,
            ..self
        }
    }

    /// The same classes plus the required classes of a reply (kea-expressions.md §5 step
    /// 13: "classes required by … the shared network's `require-client-classes`, then the
    /// subnet's, then the pool that contains yiaddr; evaluate each one's `test` against the
    /// packet; add on `true`. A required class **without** a `test` is *not* added in 2.2").
    pub fn with_required(
        self,
        lists: [IndexRange; 3],
        tests: &'c dyn ClassTests,
        query: &'c Query<'c>,
    ) -> Self {
        PacketClasses {
            required: Some(Required {
                lists,
                tests,
                query,
            }),
            ..self
        }
    }

    /// Whether `name` is a required class of this reply whose test is true.
    fn required_member(&self, name: &[u8]) -> bool {
        let Some(req) = self.required else {
            return false;
        };
        let config = self.config;
        let listed = req.lists.iter().any(|r| {
            config
                .names
                .get(r.as_range())
                .is_some_and(|names| names.iter().any(|&n| config.bytes(n) == name))
        });
        if !listed {
            return false;
        }
        let Some(index) = config
            .classes
            .iter()
            .position(|c| config.bytes(c.name) == name)
        else {
            return false;
        };
        match config.classes.get(index) {
            Some(c) if !c.test.is_empty() => {}
            _ => return false,
        }
        // The test sees the classes decided before the required ones (no recursion into
        // other required classes).
        let before = PacketClasses {
            required: None,
            ..*self
        };
        req.tests.test(index, req.query, &before)
    }

    /// The same classes plus the test results in `tested`.
    pub fn with_tested(self, tested: &'c [u64]) -> Self {
        PacketClasses { tested, ..self }
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
        if name == b"ALL" || (!self.hook_class.is_empty() && name == self.hook_class) {
            return true;
        }
        if !self.tested.is_empty() {
            let config = self.config;
            if let Some(i) = config
                .classes
                .iter()
                .position(|c| config.bytes(c.name) == name)
            {
                if bit(self.tested, i) {
                    return true;
                }
            }
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
            || self.required_member(name)
    }
}
