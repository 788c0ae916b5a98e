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

/// Which classification pass [`run_class_pass`] runs (kea-expressions.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Step 3 (and its re-run in step 8 once a host's `client-classes` are known): every
    /// class that has a `test`, is not `only-if-required` and does not depend on
    /// KNOWN/UNKNOWN. Its earlier results are cleared first ("remove every class added by
    /// a test, add the host's classes, re-run pass 1").
    One,
    /// Step 9: the classes that depend on KNOWN/UNKNOWN.
    Two,
}

/// Runs one pass of class tests in configuration order; "later classes see earlier
/// matches". Matches are recorded in `bits` (bit `i` = `config.classes[i]`).
pub fn run_class_pass(
    config: &Config<'_>,
    tests: &dyn ClassTests,
    query: &Query<'_>,
    base: &PacketClasses<'_>,
    bits: &mut [u64],
    pass: Pass,
) {
    if pass == Pass::One {
        for i in 0..config.classes.len() {
            if !tests.depends_on_known(i) {
                if let Some(w) = bits.get_mut(i / 64) {
                    *w &= !(1 << (i % 64));
                }
            }
        }
    }
    for (i, class) in config.classes.iter().enumerate() {
        if class.test.is_empty()
            || class.only_if_required
            || tests.depends_on_known(i) != (pass == Pass::Two)
        {
            continue;
        }
        let view = PacketClasses {
            tested: bits,
            tests: Some(tests),
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

/// Where a class enters the packet's class list. Kea keeps the list in insertion order
/// (a class is listed once, at its first insertion) and consults class option-data, boot
/// fields and lifetimes in that order (kea-expressions.md §5, §6.1: "HA_/ALL/VENDOR_CLASS_
/// first, then pass-1 matches in config order, KNOWN/UNKNOWN, reservation classes, pass-2
/// matches, required classes last"). Observed on Kea 2.2 (tests/tests/differential.rs): a
/// host's `client-classes` precede the pass-1 matches when the host is global or its
/// subnet is in no shared network (step 8 re-runs pass 1 after adding them), and follow
/// pass 2 when the subnet is in a shared network (step 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    All,
    VendorClass,
    EarlyHost,
    PassOne,
    Known,
    PassTwo,
    LateHost,
    Required,
}

const STAGES: [Stage; 8] = [
    Stage::All,
    Stage::VendorClass,
    Stage::EarlyHost,
    Stage::PassOne,
    Stage::Known,
    Stage::PassTwo,
    Stage::LateHost,
    Stage::Required,
];

/// The classes of the packet being served.
#[derive(Clone, Copy)]
pub struct PacketClasses<'c> {
    config: &'c Config<'c>,
    /// Option 60 with trailing NULs stripped; empty if absent.
    vendor_class: &'c [u8],
    /// `Some(true)` once a host reservation was found, `Some(false)` once the lookup found
    /// none; `None` before the lookup (subnet selection cannot use KNOWN/UNKNOWN).
    known: Option<bool>,
    /// The host's `client-classes` added before pass 1 (global host, or a subnet in no
    /// shared network), names in `config.names`.
    reservation_classes: IndexRange,
    /// The host's `client-classes` added after the allocation (subnet-level host in a
    /// shared network, §5 step 12).
    late_reservation_classes: IndexRange,
    /// Classes whose test matched (bit `i` = `config.classes[i]`).
    tested: &'c [u64],
    /// The evaluator, which tells pass-1 classes from pass-2 ones.
    tests: Option<&'c dyn ClassTests>,
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
            late_reservation_classes: IndexRange::EMPTY,
            tested: &[],
            tests: None,
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

    /// The class-name list of required stage position `pos` (network, subnet, pool lists
    /// concatenated).
    fn required_name(&self, pos: usize) -> Option<&'c [u8]> {
        let req = self.required?;
        let config = self.config;
        let mut pos = pos;
        for r in req.lists {
            let names = config.names.get(r.as_range()).unwrap_or(&[]);
            match names.get(pos) {
                Some(&n) => return Some(config.bytes(n)),
                None => pos -= names.len(),
            }
        }
        None
    }

    fn required_len(&self) -> usize {
        self.required.map_or(0, |req| {
            req.lists
                .iter()
                .map(|r| self.config.names.get(r.as_range()).map_or(0, <[_]>::len))
                .sum()
        })
    }

    /// Whether `name` is a required class of this reply whose test is true.
    fn required_member(&self, name: &[u8]) -> bool {
        let Some(req) = self.required else {
            return false;
        };
        let listed = (0..self.required_len()).any(|p| self.required_name(p) == Some(name));
        if !listed {
            return false;
        }
        let Some(index) = self.index_of(name) else {
            return false;
        };
        match self.config.classes.get(index) {
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

    /// The same classes plus the test results in `tested` of the evaluator `tests` (which
    /// tells pass-2 classes, those depending on KNOWN/UNKNOWN, from pass-1 ones).
    pub fn with_tested(self, tested: &'c [u64], tests: Option<&'c dyn ClassTests>) -> Self {
        PacketClasses {
            tested,
            tests,
            ..self
        }
    }

    fn in_pass_two(&self, index: usize) -> bool {
        self.tests.is_some_and(|t| t.depends_on_known(index))
    }

    /// Classes after the host lookup: `known` when a host was found (in the selected
    /// subnet, any subnet of its shared network, or globally); `early` is the host whose
    /// `client-classes` join before pass 1 (a global host, or one of a subnet in no shared
    /// network; an index into `config.reservations`).
    pub fn with_host(mut self, known: bool, early: Option<usize>) -> Self {
        self.known = Some(known);
        self.reservation_classes = early
            .and_then(|r| self.config.reservations.get(r))
            .map_or(IndexRange::EMPTY, |r| r.client_classes);
        self
    }

    /// Adds the `client-classes` of `reservation` after the allocation (§5 step 12: "add
    /// the reservation's classes when the subnet is in a shared network and the host is
    /// subnet-level", only for replies carrying an address and INFORM ACKs).
    pub fn with_late_host(mut self, reservation: Option<usize>) -> Self {
        self.late_reservation_classes = reservation
            .and_then(|r| self.config.reservations.get(r))
            .map_or(IndexRange::EMPTY, |r| r.client_classes);
        self
    }

    /// Whether the packet has host classes that join before pass 1 (then pass 1 is run
    /// again so its tests see them).
    pub fn has_early_host_classes(&self) -> bool {
        self.reservation_classes.len != 0
    }

    fn index_of(&self, name: &[u8]) -> Option<usize> {
        let config = self.config;
        config
            .classes
            .iter()
            .position(|c| config.bytes(c.name) == name)
    }

    fn in_list(&self, list: IndexRange, name: &[u8]) -> bool {
        self.config
            .names
            .get(list.as_range())
            .is_some_and(|names| names.iter().any(|&n| self.config.bytes(n) == name))
    }

    /// The first stage at which class `name` (configured at `index`, if it is) enters the
    /// packet's class list; `None` if the packet is not in it.
    fn stage_of(&self, name: &[u8], index: Option<usize>) -> Option<Stage> {
        if name == b"ALL" {
            return Some(Stage::All);
        }
        if let Some(v) = name.strip_prefix(b"VENDOR_CLASS_") {
            if !self.vendor_class.is_empty() && v == self.vendor_class {
                return Some(Stage::VendorClass);
            }
        }
        if self.in_list(self.reservation_classes, name) {
            return Some(Stage::EarlyHost);
        }
        if index.is_some_and(|i| bit(self.tested, i) && !self.in_pass_two(i)) {
            return Some(Stage::PassOne);
        }
        if (name == b"KNOWN" && self.known == Some(true))
            || (name == b"UNKNOWN" && self.known == Some(false))
        {
            return Some(Stage::Known);
        }
        if index.is_some_and(|i| bit(self.tested, i) && self.in_pass_two(i)) {
            return Some(Stage::PassTwo);
        }
        if self.in_list(self.late_reservation_classes, name) {
            return Some(Stage::LateHost);
        }
        self.required_member(name).then_some(Stage::Required)
    }

    /// The configured class (index into `config.classes`) at position `pos` of `stage`'s
    /// candidates, if it enters the class list there (and not earlier).
    fn candidate(&self, stage: Stage, pos: usize) -> Option<usize> {
        let config = self.config;
        let name_at = |list: IndexRange, pos: usize| -> Option<&'c [u8]> {
            let names = config.names.get(list.as_range())?;
            let &n = names.get(pos)?;
            // Listed twice: only the first counts.
            let earlier = names.get(..pos).unwrap_or(&[]);
            (!earlier.iter().any(|&e| config.bytes(e) == config.bytes(n))).then(|| config.bytes(n))
        };
        let (index, name) = match stage {
            Stage::PassOne | Stage::PassTwo => {
                let c = config.classes.get(pos)?;
                (pos, config.bytes(c.name))
            }
            _ => {
                let name: &[u8] = match stage {
                    Stage::All => b"ALL",
                    Stage::Known => {
                        if self.known? {
                            b"KNOWN"
                        } else {
                            b"UNKNOWN"
                        }
                    }
                    Stage::VendorClass => {
                        // Found by scanning for a configured VENDOR_CLASS_<option 60>.
                        let c = config.classes.get(pos)?;
                        let n = config.bytes(c.name);
                        n.strip_prefix(b"VENDOR_CLASS_")
                            .filter(|v| !self.vendor_class.is_empty() && *v == self.vendor_class)?;
                        n
                    }
                    Stage::EarlyHost => name_at(self.reservation_classes, pos)?,
                    Stage::LateHost => name_at(self.late_reservation_classes, pos)?,
                    Stage::Required => {
                        let n = self.required_name(pos)?;
                        if (0..pos).any(|p| self.required_name(p) == Some(n)) {
                            return None;
                        }
                        n
                    }
                    Stage::PassOne | Stage::PassTwo => return None,
                };
                (self.index_of(name)?, name)
            }
        };
        (self.stage_of(name, Some(index)) == Some(stage)).then_some(index)
    }

    fn stage_len(&self, stage: Stage) -> usize {
        let list_len = |r: IndexRange| self.config.names.get(r.as_range()).map_or(0, <[_]>::len);
        match stage {
            Stage::All | Stage::Known => 1,
            Stage::VendorClass | Stage::PassOne | Stage::PassTwo => self.config.classes.len(),
            Stage::EarlyHost => list_len(self.reservation_classes),
            Stage::LateHost => list_len(self.late_reservation_classes),
            Stage::Required => self.required_len(),
        }
    }

    /// Indices into `config.classes` of the configured classes the packet is in, in the
    /// order Kea assigned them (see [`Stage`]): the order their option-data, boot fields
    /// and lifetimes are consulted.
    pub fn configured(&self) -> impl Iterator<Item = usize> + '_ {
        STAGES.into_iter().flat_map(move |stage| {
            (0..self.stage_len(stage)).filter_map(move |pos| self.candidate(stage, pos))
        })
    }
}

impl Membership for PacketClasses<'_> {
    fn is_member(&self, name: &[u8]) -> bool {
        // [HA] the hook-assigned class (kea-ha.md §3: `HA_<owner of the scope>`).
        if !self.hook_class.is_empty() && name == self.hook_class {
            return true;
        }
        self.stage_of(name, self.index_of(name)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::fixture::Fixture;
    use crate::config::{IdentifierType, IndexRange};

    /// Adds `names` to the fixture's name list; returns their range.
    fn names(f: &mut Fixture, list: &[&str]) -> IndexRange {
        let start = f.names.len() as u32;
        for n in list {
            let t = f.text(n.as_bytes());
            f.names.push(t);
        }
        IndexRange {
            start,
            len: list.len() as u32,
        }
    }

    fn set(bits: &mut [u64], i: usize) {
        bits[i / 64] |= 1 << (i % 64);
    }

    /// Kea's insertion order: VENDOR_CLASS_, host classes (early), pass 1, KNOWN, pass 2,
    /// host classes (late), required; each class once, at its first place.
    #[test]
    fn configured_classes_come_in_kea_insertion_order() {
        let mut f = Fixture::new();
        let pass1 = f.class("pass1");
        let legacy = f.class("legacy");
        let pass2 = f.class("pass2");
        let known = f.class("KNOWN");
        let gold = f.class("gold");
        let vendor = f.class("VENDOR_CLASS_acme");
        let late = f.class("late");
        let req = f.class("req");
        f.classes[req].test = f.text(b"t");
        let s = f.subnet(1, "198.18.0.0/24");
        let host = f.reservation(
            Some(s),
            IdentifierType::HwAddress,
            &[2, 0, 0, 0, 0, 1],
            None,
            "",
        );
        f.reservations[host].client_classes = names(&mut f, &["gold", "legacy", "gold"]);
        let other = f.reservation(
            Some(s),
            IdentifierType::HwAddress,
            &[2, 0, 0, 0, 0, 2],
            None,
            "",
        );
        f.reservations[other].client_classes = names(&mut f, &["late", "pass1"]);
        let required = names(&mut f, &["req", "pass1", "req"]);
        let config = f.config();
        let mut bits = std::vec![0u64; class_words(config.classes.len())];
        set(&mut bits, pass1);
        set(&mut bits, pass2);
        /// Every test true; only `pass2` depends on KNOWN.
        struct AlwaysTrue(usize);
        impl ClassTests for AlwaysTrue {
            fn test(&self, _: usize, _: &Query<'_>, _: &dyn Membership) -> bool {
                true
            }
            fn depends_on_known(&self, index: usize) -> bool {
                index == self.0
            }
        }
        let tests = AlwaysTrue(pass2);
        let query = Query {
            payload: &[],
            interface: crate::server::Interface {
                name: "x",
                addresses: &[],
                mac: [0; 6],
            },
            source_ip: core::net::Ipv4Addr::UNSPECIFIED,
            source_port: 68,
            destination_ip: core::net::Ipv4Addr::BROADCAST,
            source_mac: [0; 6],
            transport: crate::server::Transport::Raw,
        };
        let classes = PacketClasses::new(&config, b"acme")
            .with_host(true, Some(host))
            .with_tested(&bits, Some(&tests))
            .with_late_host(Some(other))
            .with_required(
                [IndexRange::EMPTY, required, IndexRange::EMPTY],
                &tests,
                &query,
            );
        let order: std::vec::Vec<usize> = classes.configured().collect();
        assert_eq!(
            order,
            std::vec![vendor, gold, legacy, pass1, known, pass2, late, req]
        );
        assert!(classes.is_member(b"ALL") && classes.is_member(b"late"));
        // Before the host lookup: no KNOWN, no host classes, no late or required ones.
        let before = PacketClasses::new(&config, b"").with_tested(&bits, Some(&tests));
        let order: std::vec::Vec<usize> = before.configured().collect();
        assert_eq!(order, std::vec![pass1, pass2]);
        assert!(!before.is_member(b"KNOWN") && !before.is_member(b"UNKNOWN"));
    }

    /// Random class sets (bounded, deterministic): `configured()` lists every configured
    /// class the packet is in exactly once, and nothing else; membership never panics on
    /// names that are listed twice, undefined, or built-in.
    #[test]
    fn random_class_sets_list_each_member_once() {
        const NAMES: &[&str] = &[
            "ALL",
            "KNOWN",
            "UNKNOWN",
            "VENDOR_CLASS_v",
            "a",
            "b",
            "c",
            "d",
            "e",
            "f",
            "undefined",
            "DROP",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        struct Tests(u64, u64);
        impl ClassTests for Tests {
            fn test(&self, i: usize, _: &Query<'_>, _: &dyn Membership) -> bool {
                self.0 & (1 << i) != 0
            }
            fn depends_on_known(&self, i: usize) -> bool {
                self.1 & (1 << i) != 0
            }
        }
        let query = Query {
            payload: &[],
            interface: crate::server::Interface {
                name: "x",
                addresses: &[],
                mac: [0; 6],
            },
            source_ip: core::net::Ipv4Addr::UNSPECIFIED,
            source_port: 68,
            destination_ip: core::net::Ipv4Addr::BROADCAST,
            source_mac: [0; 6],
            transport: crate::server::Transport::Raw,
        };
        for _ in 0..400 {
            let mut f = Fixture::new();
            // Configured classes: a random subset of the names (skipping "undefined").
            for name in NAMES.iter().take(NAMES.len() - 2) {
                if next(3) != 0 {
                    let c = f.class(name);
                    if next(2) == 0 {
                        f.classes[c].test = f.text(b"t");
                    }
                }
            }
            let s = f.subnet(1, "198.18.0.0/24");
            let mut list = |f: &mut Fixture| {
                let picked: std::vec::Vec<&str> =
                    (0..next(4)).map(|_| NAMES[next(NAMES.len())]).collect();
                names(f, &picked)
            };
            let h1 = f.reservation(Some(s), IdentifierType::HwAddress, &[1], None, "");
            f.reservations[h1].client_classes = list(&mut f);
            let h2 = f.reservation(Some(s), IdentifierType::HwAddress, &[2], None, "");
            f.reservations[h2].client_classes = list(&mut f);
            let required = [list(&mut f), list(&mut f), list(&mut f)];
            let config = f.config();
            let n = config.classes.len();
            let mut bits = std::vec![0u64; class_words(n)];
            for i in 0..n {
                if next(2) == 0 {
                    set(&mut bits, i);
                }
            }
            let tests = Tests(next(1 << 12) as u64, next(1 << 12) as u64);
            let known = [None, Some(true), Some(false)][next(3)];
            let mut classes = PacketClasses::new(&config, [&b""[..], b"v", b"w"][next(3)])
                .with_tested(&bits, Some(&tests));
            if let Some(k) = known {
                classes = classes.with_host(k, [None, Some(h1)][next(2)]);
            }
            if next(2) == 0 {
                classes = classes.with_late_host(Some(h2));
            }
            if next(2) == 0 {
                classes = classes.with_required(required, &tests, &query);
            }
            let order: std::vec::Vec<usize> = classes.configured().collect();
            for (i, c) in config.classes.iter().enumerate() {
                let member = classes.is_member(config.bytes(c.name));
                let listed = order.iter().filter(|&&o| o == i).count();
                assert_eq!(listed, usize::from(member), "class {i} in {order:?}");
            }
            assert!(classes.is_member(b"ALL"));
        }
    }
}
