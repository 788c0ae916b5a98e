//! Who the client is, for leases (dhcpv4-server-behaviour.md §4).

use crate::lease::LeaseRecord;

/// The identity a lease is keyed by.
///
/// "Client identity for leases: `match-client-id` true → client-id (opt 61) then chaddr;
/// false → chaddr only." With `match-client-id` false the query's client-id is treated as
/// absent for matching ([`ClientIdentity::for_matching`]); it is still stored in the lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIdentity<'a> {
    /// The whole option-61 payload (type byte included); empty when absent or ignored.
    pub client_id: &'a [u8],
    /// chaddr, `hlen` bytes.
    pub hwaddr: &'a [u8],
}

impl<'a> ClientIdentity<'a> {
    /// The identity used for lease matching in a subnet with `match_client_id`.
    pub fn for_matching(client_id: &'a [u8], hwaddr: &'a [u8], match_client_id: bool) -> Self {
        ClientIdentity {
            client_id: if match_client_id { client_id } else { &[] },
            hwaddr,
        }
    }

    /// Whether `lease` belongs to this client (Kea's `Lease4::belongsToClient`): the
    /// client-ids are equal, or — when either side has no client-id — the hardware
    /// addresses are equal.
    ///
    /// The spec's wording "both absent counts as equal" is corrected to Kea 2.2's code
    /// (`lease.cc` `belongsToClient` with `pointer_util.h` `equalValues`, which is
    /// `ptr1 && ptr2 && *ptr1 == *ptr2`): two absent client-ids fall through to the
    /// hardware-address comparison. Otherwise any client without a client-id would own
    /// every lease without one. Empty hardware addresses never match.
    pub fn owns(&self, lease: &LeaseRecord<'_>) -> bool {
        if !self.client_id.is_empty() && !lease.client_id.is_empty() {
            if self.client_id == lease.client_id {
                return true;
            }
            return false;
        }
        !self.hwaddr.is_empty() && self.hwaddr == lease.hwaddr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::LeaseState;
    use crate::time::Timestamp;
    use core::net::Ipv4Addr;

    fn lease<'a>(hw: &'a [u8], id: &'a [u8]) -> LeaseRecord<'a> {
        LeaseRecord {
            address: Ipv4Addr::new(198, 18, 0, 10),
            hwaddr: hw,
            client_id: id,
            valid_lifetime: 3600,
            cltt: Timestamp(1000),
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: "",
            state: LeaseState::Default,
            user_context: "",
        }
    }

    const MAC_A: &[u8] = &[2, 0, 0, 0, 0, 0xa];
    const MAC_B: &[u8] = &[2, 0, 0, 0, 0, 0xb];
    const ID_A: &[u8] = &[1, 2, 0, 0, 0, 0, 0xa];
    const ID_B: &[u8] = &[1, 2, 0, 0, 0, 0, 0xb];

    #[test]
    fn equal_client_ids_own_the_lease_even_with_another_mac() {
        let c = ClientIdentity::for_matching(ID_A, MAC_B, true);
        assert!(c.owns(&lease(MAC_A, ID_A)));
    }

    #[test]
    fn different_client_ids_do_not_own_even_with_the_same_mac() {
        let c = ClientIdentity::for_matching(ID_B, MAC_A, true);
        assert!(!c.owns(&lease(MAC_A, ID_A)));
    }

    #[test]
    fn a_missing_client_id_on_either_side_falls_back_to_the_mac() {
        assert!(ClientIdentity::for_matching(&[], MAC_A, true).owns(&lease(MAC_A, ID_A)));
        assert!(ClientIdentity::for_matching(ID_A, MAC_A, true).owns(&lease(MAC_A, &[])));
        assert!(!ClientIdentity::for_matching(&[], MAC_B, true).owns(&lease(MAC_A, &[])));
    }

    #[test]
    fn match_client_id_false_ignores_the_query_client_id() {
        let c = ClientIdentity::for_matching(ID_B, MAC_A, false);
        assert!(c.owns(&lease(MAC_A, ID_A)));
    }

    #[test]
    fn empty_hwaddrs_never_match() {
        assert!(!ClientIdentity::for_matching(&[], &[], true).owns(&lease(&[], &[])));
    }
}
