//! Host reservations: which reservation is the client's, and whom an address is reserved
//! for (kea-config.md `host-reservation-identifiers`, `reservations-global`,
//! `reservations-in-subnet`, `reservations-out-of-pool`).

use core::net::Ipv4Addr;

use crate::config::{address_hash, identifier_hash, Config, IdentifierType, Subnet};

/// The identifiers a query offers for host lookup.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostIdentifiers<'a> {
    /// chaddr (`hw-address`).
    pub hwaddr: &'a [u8],
    /// The whole option-61 payload (`client-id`), type byte included; empty if absent.
    pub client_id: &'a [u8],
    /// Option 82 sub-option 1 (`circuit-id`); empty if absent.
    pub circuit_id: &'a [u8],
}

impl<'a> HostIdentifiers<'a> {
    /// The identifier bytes of `kind`, empty when the query has none.
    ///
    /// `duid`: "DUID in client-id (type 255, RFC 4361) is also usable as the `duid`
    /// reservation identifier": option 61 = type 255, IAID (4 bytes), DUID.
    /// `flex-id` needs Kea's flex_id hook and never matches.
    pub fn get(&self, kind: IdentifierType) -> &'a [u8] {
        match kind {
            IdentifierType::HwAddress => self.hwaddr,
            IdentifierType::ClientId => self.client_id,
            IdentifierType::CircuitId => self.circuit_id,
            IdentifierType::Duid => match self.client_id.split_first() {
                Some((255, rest)) => rest.get(4..).unwrap_or(&[]),
                _ => &[],
            },
            IdentifierType::FlexId => &[],
        }
    }
}

/// The reservation of scope `subnet_id` (0 = global) with identifier `kind`/`bytes`, through
/// the config's identifier index ([`crate::config::identifier_hash`]). Returns an index
/// into `config.reservations`.
fn by_identifier(
    config: &Config<'_>,
    subnet_id: u32,
    kind: IdentifierType,
    bytes: &[u8],
) -> Option<usize> {
    let reservations = config.reservations;
    config
        .reservations_by_identifier
        .find(identifier_hash(subnet_id, kind, bytes), |c| {
            reservations.get(c as usize).is_some_and(|r| {
                r.subnet_id == subnet_id
                    && r.identifier_type == kind
                    && config.bytes(r.identifier) == bytes
            })
        })
        .map(|id| id as usize)
}

/// The reservation of scope `subnet_id` (0 = global) for `address`, through the config's
/// address index.
fn by_address(config: &Config<'_>, subnet_id: u32, address: Ipv4Addr) -> Option<usize> {
    let reservations = config.reservations;
    config
        .reservations_by_address
        .find(address_hash(subnet_id, address), |c| {
            reservations
                .get(c as usize)
                .is_some_and(|r| r.subnet_id == subnet_id && r.address == Some(address))
        })
        .map(|id| id as usize)
}

/// The reservation in scope `subnet_id` (0 = global) matching the query's identifiers, trying
/// the identifier types in `host-reservation-identifiers` order. Returns an index into
/// `config.reservations`.
pub fn find_in_scope(
    config: &Config<'_>,
    subnet_id: u32,
    ids: &HostIdentifiers<'_>,
) -> Option<usize> {
    config.identifier_order().iter().find_map(|&kind| {
        let wanted = ids.get(kind);
        if wanted.is_empty() {
            None
        } else {
            by_identifier(config, subnet_id, kind, wanted)
        }
    })
}

/// The client's reservation for `subnet`, as Kea 2.2's `findReservation` looks: global
/// reservations first when `reservations-global` is on, then the subnet's own when
/// `reservations-in-subnet` is on.
pub fn find_for_client(
    config: &Config<'_>,
    subnet: &Subnet,
    ids: &HostIdentifiers<'_>,
) -> Option<usize> {
    if subnet.params.reservations_global {
        if let Some(r) = find_in_scope(config, 0, ids) {
            return Some(r);
        }
    }
    if subnet.params.reservations_in_subnet {
        return find_in_scope(config, subnet.id, ids);
    }
    None
}

/// The reservation (visible from `subnet`) that reserves `address`, if any: "reserved
/// addresses never handed to others".
pub fn reserving(config: &Config<'_>, subnet: &Subnet, address: Ipv4Addr) -> Option<usize> {
    if subnet.params.reservations_in_subnet {
        if let Some(r) = by_address(config, subnet.id, address) {
            return Some(r);
        }
    }
    if subnet.params.reservations_global {
        return by_address(config, 0, address);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::fixture::*;

    const MAC: &[u8] = &[2, 0, 0, 0, 0, 1];
    const DUID_ID: &[u8] = &[255, 0, 0, 0, 1, 0, 3, 0, 1, 2, 0, 0, 0, 0, 1];

    #[test]
    fn identifier_order_decides_between_two_matches() {
        let mut f = Fixture::three_subnets();
        let by_id = f.reservation(
            Some(0),
            IdentifierType::ClientId,
            DUID_ID,
            Some("198.18.1.20"),
            "by-id",
        );
        let by_mac = f.reservation(
            Some(0),
            IdentifierType::HwAddress,
            MAC,
            Some("198.18.1.21"),
            "by-mac",
        );
        let ids = HostIdentifiers {
            hwaddr: MAC,
            client_id: DUID_ID,
            circuit_id: &[],
        };
        let c = f.config();
        assert_eq!(find_for_client(&c, &c.subnets[0], &ids), Some(by_mac));
        f.globals.host_reservation_identifiers[0] = IdentifierType::ClientId;
        let c = f.config();
        assert_eq!(find_for_client(&c, &c.subnets[0], &ids), Some(by_id));
    }

    #[test]
    fn duid_is_the_client_id_after_type_and_iaid() {
        let ids = HostIdentifiers {
            hwaddr: MAC,
            client_id: DUID_ID,
            circuit_id: &[],
        };
        assert_eq!(
            ids.get(IdentifierType::Duid),
            &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1]
        );
        let plain = HostIdentifiers {
            hwaddr: MAC,
            client_id: &[1, 2, 0, 0, 0, 0, 1],
            circuit_id: &[],
        };
        assert!(plain.get(IdentifierType::Duid).is_empty());
    }

    #[test]
    fn global_reservations_only_when_enabled() {
        let mut f = Fixture::three_subnets();
        let g = f.reservation(
            None,
            IdentifierType::HwAddress,
            MAC,
            Some("198.18.1.30"),
            "g",
        );
        let ids = HostIdentifiers {
            hwaddr: MAC,
            ..Default::default()
        };
        let c = f.config();
        assert_eq!(find_for_client(&c, &c.subnets[0], &ids), None);
        assert_eq!(reserving(&c, &c.subnets[0], ip("198.18.1.30")), None);
        f.subnets[0].params.reservations_global = true;
        let c = f.config();
        assert_eq!(find_for_client(&c, &c.subnets[0], &ids), Some(g));
        assert_eq!(reserving(&c, &c.subnets[0], ip("198.18.1.30")), Some(g));
    }

    #[test]
    fn circuit_id_reservations_match_option_82_sub_option_1() {
        let mut f = Fixture::three_subnets();
        let r = f.reservation(
            Some(2),
            IdentifierType::CircuitId,
            b"port7",
            Some("198.18.3.7"),
            "",
        );
        let c = f.config();
        let ids = HostIdentifiers {
            hwaddr: MAC,
            client_id: &[],
            circuit_id: b"port7",
        };
        assert_eq!(find_for_client(&c, &c.subnets[2], &ids), Some(r));
        assert_eq!(find_for_client(&c, &c.subnets[0], &ids), None);
    }
}
