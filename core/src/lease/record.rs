use core::net::Ipv4Addr;

use crate::time::Timestamp;

/// Kea's lease `state` column (kea-memfile.md §1, column 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LeaseState {
    /// 0: assigned to a client.
    #[default]
    Default,
    /// 1: declined by a client (DHCPDECLINE); unusable until probation ends.
    Declined,
    /// 2: expired and reclaimed, kept for `hold-reclaimed-time` (lease affinity).
    ExpiredReclaimed,
}

impl LeaseState {
    /// The number Kea writes in the CSV and the control API.
    pub const fn code(self) -> u32 {
        match self {
            LeaseState::Default => 0,
            LeaseState::Declined => 1,
            LeaseState::ExpiredReclaimed => 2,
        }
    }

    /// The state for a CSV/API number, `None` for numbers Kea does not define.
    pub const fn from_code(code: u32) -> Option<LeaseState> {
        match code {
            0 => Some(LeaseState::Default),
            1 => Some(LeaseState::Declined),
            2 => Some(LeaseState::ExpiredReclaimed),
            _ => None,
        }
    }
}

/// One lease as every layer exchanges it: the engine reports changes as records, the lease
/// file writes them as Kea CSV rows, the loader feeds parsed rows back, HA sends them to the
/// partner. Borrowed fields point into the table, a CSV line, or a packet.
///
/// A record with `valid_lifetime == 0` means "this address's lease is gone" (Kea's removal
/// row: release, lease4-del, reclamation with removal, a client moved to another address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseRecord<'a> {
    /// The leased address (the table's primary key).
    pub address: Ipv4Addr,
    /// Client hardware address (chaddr, `hlen` bytes); empty for declined leases.
    pub hwaddr: &'a [u8],
    /// The whole option-61 payload (type byte included); empty if the client sent none.
    pub client_id: &'a [u8],
    /// Lease lifetime in seconds; 0 marks a removal.
    pub valid_lifetime: u32,
    /// Client last transaction time. The CSV stores `expire` = cltt + valid_lifetime.
    pub cltt: Timestamp,
    /// Kea subnet id the lease belongs to.
    pub subnet_id: u32,
    /// Forward DNS update done (Kea's `fqdn_fwd`).
    pub fqdn_fwd: bool,
    /// Reverse DNS update done (Kea's `fqdn_rev`).
    pub fqdn_rev: bool,
    /// Client hostname, possibly empty.
    pub hostname: &'a str,
    /// Lease state.
    pub state: LeaseState,
    /// Kea `user_context`: a JSON map in Kea's compact text form, or empty.
    pub user_context: &'a str,
}

impl<'a> LeaseRecord<'a> {
    /// When the lease expires: cltt + valid_lifetime (Kea's `expire` column).
    pub const fn expire(&self) -> Timestamp {
        self.cltt.plus(self.valid_lifetime)
    }

    /// Whether the record removes the address's lease (Kea writes lifetime 0 for removals).
    pub const fn is_removal(&self) -> bool {
        self.valid_lifetime == 0
    }

    /// Whether the lease has expired at `now` (Kea: expired when now > cltt + valid).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now > self.expire()
    }
}
