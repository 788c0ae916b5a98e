//! Subnet selection (dhcpv4-server-behaviour.md §2, Kea's `CfgSubnets4::selectSubnet`):
//! first match wins, subnets in configuration order, a subnet with `client-class` only for
//! members of that class.

use core::net::Ipv4Addr;

use crate::config::{Config, Subnet};

/// Class membership of the packet being served, as far as subnet and pool selection need it.
pub trait Membership {
    /// Whether the packet is in the class named `name` (bytes of the config's name).
    fn is_member(&self, name: &[u8]) -> bool;
}

/// A packet in no class at all (tests; configs without classes).
pub struct NoClasses;

impl Membership for NoClasses {
    fn is_member(&self, _name: &[u8]) -> bool {
        false
    }
}

/// What subnet selection looks at in a query.
#[derive(Clone, Copy, Debug)]
pub struct SelectionInput<'a> {
    /// Option 82 sub-option 5 (RFC 3527 link-selection), when exactly 4 bytes.
    pub link_selection: Option<Ipv4Addr>,
    /// Option 118 (RFC 3011 subnet-selection), when exactly 4 bytes.
    pub subnet_selection: Option<Ipv4Addr>,
    /// `giaddr`.
    pub giaddr: Ipv4Addr,
    /// `ciaddr`.
    pub ciaddr: Ipv4Addr,
    /// IP source address of the query.
    pub source_ip: Ipv4Addr,
    /// Whether the query was sent to 255.255.255.255 (Kea: "local address is broadcast").
    pub received_broadcast: bool,
    /// Receiving interface name.
    pub interface_name: &'a str,
    /// First IPv4 address of the receiving interface, if it has one.
    pub interface_address: Option<Ipv4Addr>,
}

/// Whether the packet may use `subnet`: "a subnet with `client-class` X is usable only if
/// the packet is in X" (kea-expressions.md §5 step 7).
pub fn class_permits(config: &Config<'_>, subnet: &Subnet, classes: &dyn Membership) -> bool {
    subnet.client_class.is_empty() || classes.is_member(config.bytes(subnet.client_class))
}

/// The first subnet (class permitting) whose prefix contains `address`: "Selection by
/// address = first subnet whose prefix contains it and whose `client-class` (if any) the
/// packet is in."
pub fn subnet_containing(
    config: &Config<'_>,
    address: Ipv4Addr,
    classes: &dyn Membership,
) -> Option<usize> {
    config
        .subnets
        .iter()
        .position(|s| s.prefix.contains(address) && class_permits(config, s, classes))
}

/// The subnet that owns `address` regardless of classes (RELEASE/DECLINE "are processed by
/// address regardless of subnet"; also the subnet whose netmask goes into option 1).
pub fn subnet_of_address(config: &Config<'_>, address: Ipv4Addr) -> Option<usize> {
    config
        .subnets
        .iter()
        .position(|s| s.prefix.contains(address))
}

/// Which rule of the selection decided (or, when nothing matched, which address was
/// looked for): the "why" of a packet trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectedBy {
    /// Option 82 sub-option 5 (RFC 3527 link-selection) named this address.
    LinkSelection(Ipv4Addr),
    /// Option 118 (RFC 3011 subnet-selection) named this address.
    SubnetSelection(Ipv4Addr),
    /// giaddr is listed in the subnet's (or its shared network's) `relay.ip-addresses`.
    RelayAddress(Ipv4Addr),
    /// The subnet's prefix contains giaddr.
    Giaddr(Ipv4Addr),
    /// The subnet's prefix contains ciaddr (a unicast renewal).
    Ciaddr(Ipv4Addr),
    /// The subnet's prefix contains the IP source address (unicast, ciaddr 0).
    SourceAddress(Ipv4Addr),
    /// The subnet's `interface` names the receiving interface.
    InterfaceName,
    /// The subnet's prefix contains the receiving interface's first address.
    InterfaceAddress(Ipv4Addr),
    /// A direct broadcast on an interface without an IPv4 address: nothing to look for.
    NoInterfaceAddress,
}

/// Selects the subnet of a query; `None` when no subnet matches. Returns an index into
/// `config.subnets`.
pub fn select_subnet(
    config: &Config<'_>,
    input: &SelectionInput<'_>,
    classes: &dyn Membership,
) -> Option<usize> {
    select_subnet_by(config, input, classes).0
}

/// [`select_subnet`], and the rule that decided ([`SelectedBy`]).
pub fn select_subnet_by(
    config: &Config<'_>,
    input: &SelectionInput<'_>,
    classes: &dyn Membership,
) -> (Option<usize>, SelectedBy) {
    // §2.1: "If option 82 has sub-option 5 link-selection (RFC 3527, exactly 4 bytes) →
    // select by that address. Else if option 118 subnet-selection (RFC 3011) is present →
    // select by that address. … No match → no subnet (no fallback to giaddr or interface)."
    // Kea's `initSelector`: a 0.0.0.0 selection address counts as absent.
    let chosen = match (
        input.link_selection.filter(|a| !a.is_unspecified()),
        input.subnet_selection.filter(|a| !a.is_unspecified()),
    ) {
        (Some(a), _) => Some(SelectedBy::LinkSelection(a)),
        (None, Some(a)) => Some(SelectedBy::SubnetSelection(a)),
        (None, None) => None,
    };
    if let Some(by @ (SelectedBy::LinkSelection(a) | SelectedBy::SubnetSelection(a))) = chosen {
        return (subnet_containing(config, a, classes), by);
    }
    if !input.giaddr.is_unspecified() {
        // §2.2: "If giaddr ≠ 0: first subnet that lists giaddr in its relay.ip-addresses
        // (or whose shared network does), class permitting." The model already holds the
        // shared network's relay list in each member subnet.
        let by_relay = config.subnets.iter().position(|s| {
            config
                .addresses
                .get(s.relay_addresses.as_range())
                .is_some_and(|list| list.contains(&input.giaddr))
                && class_permits(config, s, classes)
        });
        if by_relay.is_some() {
            return (by_relay, SelectedBy::RelayAddress(input.giaddr));
        }
        // §2.3: "Address to match: giaddr if ≠ 0".
        return (
            subnet_containing(config, input.giaddr, classes),
            SelectedBy::Giaddr(input.giaddr),
        );
    }
    // §2.3: "else ciaddr if ≠ 0 and the packet was not received as broadcast; else IP
    // source address if ≠ 0 and not broadcast-received".
    if !input.received_broadcast {
        if !input.ciaddr.is_unspecified() {
            return (
                subnet_containing(config, input.ciaddr, classes),
                SelectedBy::Ciaddr(input.ciaddr),
            );
        }
        if !input.source_ip.is_unspecified() {
            return (
                subnet_containing(config, input.source_ip, classes),
                SelectedBy::SourceAddress(input.source_ip),
            );
        }
    }
    // "else (direct, broadcast): first subnet whose `interface` equals the receiving
    // interface, else the first IPv4 address of that interface."
    let by_interface = config.subnets.iter().position(|s| {
        !s.interface.is_empty()
            && config.bytes(s.interface) == input.interface_name.as_bytes()
            && class_permits(config, s, classes)
    });
    if by_interface.is_some() {
        return (by_interface, SelectedBy::InterfaceName);
    }
    match input.interface_address {
        Some(a) => (
            subnet_containing(config, a, classes),
            SelectedBy::InterfaceAddress(a),
        ),
        None => (None, SelectedBy::NoInterfaceAddress),
    }
}

/// Indices (into `config.subnets`) of the subnets that may serve a client selected into
/// `selected`: the subnet itself, or every member of its shared network, class permitting
/// (§2.5: "If the subnet is in a shared network, all member subnets are candidates for
/// allocation"). The selected subnet comes first, then the members after it, wrapping
/// around (Kea's `getNextSubnet` order).
pub fn candidate_subnets<'c>(
    config: &'c Config<'_>,
    selected: usize,
    classes: &'c dyn Membership,
) -> impl Iterator<Item = usize> + 'c {
    let members = config
        .subnets
        .get(selected)
        .and_then(|s| s.shared_network)
        .and_then(|n| config.shared_networks.get(n as usize))
        .map(|n| n.subnets.as_range())
        .unwrap_or(selected..selected.saturating_add(1));
    let after = (selected.saturating_add(1)..members.end).chain(members.start..selected);
    core::iter::once(selected).chain(after.filter(move |&i| {
        config
            .subnets
            .get(i)
            .is_some_and(|s| class_permits(config, s, classes))
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::assign::fixture::*;

    fn input() -> SelectionInput<'static> {
        SelectionInput {
            link_selection: None,
            subnet_selection: None,
            giaddr: Ipv4Addr::UNSPECIFIED,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            source_ip: Ipv4Addr::UNSPECIFIED,
            received_broadcast: true,
            interface_name: "eth0",
            interface_address: Some(Ipv4Addr::new(198, 18, 1, 1)),
        }
    }

    struct Only(&'static [u8]);
    impl Membership for Only {
        fn is_member(&self, name: &[u8]) -> bool {
            name == self.0
        }
    }

    #[test]
    fn link_selection_beats_118_beats_giaddr_and_has_no_fallback() {
        let mut f = Fixture::three_subnets();
        let c = f.config();
        let mut i = input();
        i.giaddr = Ipv4Addr::new(198, 18, 1, 5);
        i.subnet_selection = Some(Ipv4Addr::new(198, 18, 2, 9));
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(1));
        i.link_selection = Some(Ipv4Addr::new(198, 18, 3, 9));
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(2));
        i.link_selection = Some(Ipv4Addr::new(198, 19, 99, 9));
        assert_eq!(select_subnet(&c, &i, &NoClasses), None);
        // 0.0.0.0 counts as absent: 118 decides again, then giaddr.
        i.link_selection = Some(Ipv4Addr::UNSPECIFIED);
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(1));
        i.subnet_selection = Some(Ipv4Addr::UNSPECIFIED);
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(0));
    }

    #[test]
    fn relay_addresses_beat_the_giaddr_prefix() {
        let mut f = Fixture::three_subnets();
        let c = f.config();
        let mut i = input();
        // 198.18.9.1 is listed as a relay of subnet 3 (index 2), in no prefix.
        i.giaddr = Ipv4Addr::new(198, 18, 9, 1);
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(2));
        i.giaddr = Ipv4Addr::new(198, 18, 2, 1);
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(1));
        i.giaddr = Ipv4Addr::new(198, 19, 0, 1);
        assert_eq!(select_subnet(&c, &i, &NoClasses), None);
    }

    #[test]
    fn ciaddr_and_source_only_when_not_broadcast() {
        let mut f = Fixture::three_subnets();
        let c = f.config();
        let mut i = input();
        i.ciaddr = Ipv4Addr::new(198, 18, 2, 50);
        i.source_ip = Ipv4Addr::new(198, 18, 3, 50);
        // Broadcast: the interface decides (its address is in subnet 1).
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(0));
        i.received_broadcast = false;
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(1));
        i.ciaddr = Ipv4Addr::UNSPECIFIED;
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(2));
    }

    #[test]
    fn interface_name_beats_interface_address() {
        let mut f = Fixture::three_subnets();
        let c = f.config();
        let mut i = input();
        i.interface_name = "ue1";
        assert_eq!(select_subnet(&c, &i, &NoClasses), Some(1));
        i.interface_name = "nothing";
        i.interface_address = None;
        assert_eq!(select_subnet(&c, &i, &NoClasses), None);
    }

    /// Each rule names itself, with the address it looked for, also when nothing matched.
    #[test]
    fn the_deciding_rule_is_reported() {
        let mut f = Fixture::three_subnets();
        let c = f.config();
        let by = |i: &SelectionInput<'_>| select_subnet_by(&c, i, &NoClasses);
        let mut i = input();
        assert_eq!(
            by(&i),
            (
                Some(0),
                SelectedBy::InterfaceAddress(Ipv4Addr::new(198, 18, 1, 1))
            )
        );
        i.interface_name = "ue1";
        assert_eq!(by(&i), (Some(1), SelectedBy::InterfaceName));
        i.interface_name = "eth9";
        i.interface_address = None;
        assert_eq!(by(&i), (None, SelectedBy::NoInterfaceAddress));
        i.received_broadcast = false;
        i.source_ip = Ipv4Addr::new(198, 18, 3, 7);
        assert_eq!(by(&i), (Some(2), SelectedBy::SourceAddress(i.source_ip)));
        i.ciaddr = Ipv4Addr::new(198, 18, 2, 7);
        assert_eq!(by(&i), (Some(1), SelectedBy::Ciaddr(i.ciaddr)));
        i.giaddr = Ipv4Addr::new(198, 18, 9, 1);
        assert_eq!(by(&i), (Some(2), SelectedBy::RelayAddress(i.giaddr)));
        i.giaddr = Ipv4Addr::new(198, 19, 0, 1);
        assert_eq!(by(&i), (None, SelectedBy::Giaddr(i.giaddr)));
        i.subnet_selection = Some(Ipv4Addr::new(198, 18, 1, 9));
        assert_eq!(
            by(&i),
            (
                Some(0),
                SelectedBy::SubnetSelection(Ipv4Addr::new(198, 18, 1, 9))
            )
        );
        i.link_selection = Some(Ipv4Addr::new(198, 18, 2, 9));
        assert_eq!(
            by(&i),
            (
                Some(1),
                SelectedBy::LinkSelection(Ipv4Addr::new(198, 18, 2, 9))
            )
        );
    }

    #[test]
    fn shared_network_candidates_start_after_the_selected_member_and_wrap() {
        let mut f = Fixture::three_subnets();
        f.network("net", 0..3);
        let c = f.config();
        let order: std::vec::Vec<usize> = candidate_subnets(&c, 1, &NoClasses).collect();
        assert_eq!(order, [1, 2, 0]);
        let order: std::vec::Vec<usize> = candidate_subnets(&c, 3, &NoClasses).collect();
        assert_eq!(order, [3]);
    }

    #[test]
    fn client_class_restricts_selection() {
        let mut f = Fixture::three_subnets();
        let c = f.config();
        let mut i = input();
        i.received_broadcast = false;
        i.source_ip = Ipv4Addr::new(198, 18, 4, 5);
        // 198.18.4.0/24 is subnet 4 (index 3), for class "lab" only.
        assert_eq!(select_subnet(&c, &i, &NoClasses), None);
        assert_eq!(select_subnet(&c, &i, &Only(b"lab")), Some(3));
    }
}
