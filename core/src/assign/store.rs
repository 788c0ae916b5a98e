//! What the engine needs from the lease table, as a trait, so the decisions in
//! [`crate::server`] and [`crate::assign`] are written once against a small contract: the
//! daemon passes [`crate::lease::LeaseTable`], tests and tiny deployments may pass
//! [`ArrayLeaseStore`].

use core::net::Ipv4Addr;

use crate::assign::ClientIdentity;
use crate::config::Pool;
use crate::lease::{LeaseRecord, LeaseState, LeaseTable, TableError};
use crate::time::Timestamp;

/// Why a lease could not be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// No room for another lease.
    Full,
    /// A field is longer than the store can keep (hardware address, client-id, hostname).
    FieldTooLong,
}

/// The lease table as the engine uses it.
pub trait LeaseStore {
    /// The lease of `address` in any state (assigned, declined, expired-reclaimed), if the
    /// table holds one.
    fn by_address(&self, address: Ipv4Addr) -> Option<LeaseRecord<'_>>;

    /// The client's lease in subnet `subnet_id`, as Kea's allocation engine finds it: by
    /// client-id first (when `client.client_id` is not empty), then by hardware address
    /// among the leases of that subnet that [`ClientIdentity::owns`].
    fn by_client(&self, subnet_id: u32, client: &ClientIdentity<'_>) -> Option<LeaseRecord<'_>>;

    /// Stores `record`, replacing any lease of the same address.
    fn put(&mut self, record: &LeaseRecord<'_>) -> Result<(), StoreError>;

    /// Removes the lease of `address`; returns whether there was one.
    fn remove(&mut self, address: Ipv4Addr) -> bool;

    /// A fast hint for the iterative allocator: the next address of `pool` (index
    /// `pool_index` in `config.pools`) after `after` (wrapping within the pool) that the
    /// store knows is neither leased nor reserved. The allocator still checks every hint
    /// with [`LeaseStore::by_address`] and the reservations, and falls back to scanning
    /// address by address when the hints run out (expired leases not yet reclaimed are
    /// reusable but still marked). The default has no occupancy to offer.
    fn next_unheld(&self, pool_index: usize, pool: &Pool, after: Option<Ipv4Addr>) -> FreeSearch {
        let _ = (pool_index, pool, after);
        FreeSearch::Unsupported
    }
}

/// Answer of [`LeaseStore::next_unheld`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeSearch {
    /// The store keeps no occupancy for this pool.
    Unsupported,
    /// This address is not marked.
    Found(Ipv4Addr),
    /// Every address of the pool is marked.
    Exhausted,
}

/// Whether `address` may be handed to a new owner at `now` as far as the lease table is
/// concerned: no lease, or an expired one that is not a declined address still in
/// probation ("Declined addresses in probation are skipped", "expired leases reusable";
/// a declined lease's lifetime *is* the probation period, so it becomes usable when it
/// expires, as Kea's reclamation would make it).
pub fn is_free<S: LeaseStore + ?Sized>(store: &S, address: Ipv4Addr, now: Timestamp) -> bool {
    match store.by_address(address) {
        None => true,
        Some(lease) => lease.is_removal() || lease.is_expired(now),
    }
}

/// The daemon's lease table: O(1) lookups through its address, client-id and hardware
/// address indexes, and its pool occupancy bitmaps as allocation hints.
impl LeaseStore for LeaseTable<'_> {
    fn by_address(&self, address: Ipv4Addr) -> Option<LeaseRecord<'_>> {
        self.get(address)
    }

    /// Client-id first, then hardware address among the subnet's leases the client owns;
    /// declined leases (no identity left) never match.
    fn by_client(&self, subnet_id: u32, client: &ClientIdentity<'_>) -> Option<LeaseRecord<'_>> {
        let usable =
            |l: &LeaseRecord<'_>| l.subnet_id == subnet_id && l.state != LeaseState::Declined;
        if !client.client_id.is_empty() {
            if let Some((_, l)) = self.by_client_id(client.client_id).find(|(_, l)| usable(l)) {
                return Some(l);
            }
        }
        self.by_hwaddr(client.hwaddr)
            .find(|(_, l)| usable(l) && client.owns(l))
            .map(|(_, l)| l)
    }

    fn put(&mut self, record: &LeaseRecord<'_>) -> Result<(), StoreError> {
        self.upsert(record).map(|_| ()).map_err(|e| match e {
            TableError::HwAddrTooLong | TableError::ClientIdTooLong | TableError::TextTooLong => {
                StoreError::FieldTooLong
            }
            TableError::Full | TableError::TextFull | TableError::Occupancy(_) => StoreError::Full,
        })
    }

    fn remove(&mut self, address: Ipv4Addr) -> bool {
        LeaseTable::remove(self, address)
    }

    /// The table's pool occupancy bitmaps (installed with [`LeaseTable::set_pools`]); a pool
    /// the bitmaps do not know as the config has it is `Unsupported`.
    fn next_unheld(&self, pool_index: usize, pool: &Pool, after: Option<Ipv4Addr>) -> FreeSearch {
        let occupancy = self.occupancy();
        if occupancy.pool_range(pool_index) != Some((pool.first, pool.last)) {
            return FreeSearch::Unsupported;
        }
        occupancy
            .next_free(pool_index, after)
            .map_or(FreeSearch::Exhausted, FreeSearch::Found)
    }
}

/// Longest hardware address kept (Kea: ≤ 20 bytes).
pub const MAX_HWADDR: usize = 20;
/// Longest client-id kept (an option payload).
pub const MAX_CLIENT_ID: usize = 255;
/// Longest hostname kept (an option payload).
pub const MAX_HOSTNAME: usize = 255;

/// One slot of an [`ArrayLeaseStore`]: a lease with its byte fields inline.
#[derive(Clone, Copy, Debug)]
pub struct StoredLease {
    used: bool,
    address: Ipv4Addr,
    hwaddr: [u8; MAX_HWADDR],
    hwaddr_len: u8,
    client_id: [u8; MAX_CLIENT_ID],
    client_id_len: u8,
    hostname: [u8; MAX_HOSTNAME],
    hostname_len: u8,
    valid_lifetime: u32,
    cltt: Timestamp,
    subnet_id: u32,
    fqdn_fwd: bool,
    fqdn_rev: bool,
    state: LeaseState,
}

impl StoredLease {
    /// An unused slot.
    pub const EMPTY: StoredLease = StoredLease {
        used: false,
        address: Ipv4Addr::UNSPECIFIED,
        hwaddr: [0; MAX_HWADDR],
        hwaddr_len: 0,
        client_id: [0; MAX_CLIENT_ID],
        client_id_len: 0,
        hostname: [0; MAX_HOSTNAME],
        hostname_len: 0,
        valid_lifetime: 0,
        cltt: Timestamp(0),
        subnet_id: 0,
        fqdn_fwd: false,
        fqdn_rev: false,
        state: LeaseState::Default,
    };

    fn record(&self) -> LeaseRecord<'_> {
        LeaseRecord {
            address: self.address,
            hwaddr: self
                .hwaddr
                .get(..usize::from(self.hwaddr_len))
                .unwrap_or(&[]),
            client_id: self
                .client_id
                .get(..usize::from(self.client_id_len))
                .unwrap_or(&[]),
            valid_lifetime: self.valid_lifetime,
            cltt: self.cltt,
            subnet_id: self.subnet_id,
            fqdn_fwd: self.fqdn_fwd,
            fqdn_rev: self.fqdn_rev,
            hostname: core::str::from_utf8(
                self.hostname
                    .get(..usize::from(self.hostname_len))
                    .unwrap_or(&[]),
            )
            .unwrap_or(""),
            state: self.state,
            user_context: "",
        }
    }

    fn fill(&mut self, r: &LeaseRecord<'_>) -> Result<(), StoreError> {
        fn copy<const N: usize>(dst: &mut [u8; N], src: &[u8]) -> Result<u8, StoreError> {
            let len = u8::try_from(src.len()).map_err(|_| StoreError::FieldTooLong)?;
            dst.get_mut(..src.len())
                .ok_or(StoreError::FieldTooLong)?
                .copy_from_slice(src);
            Ok(len)
        }
        self.hwaddr_len = copy(&mut self.hwaddr, r.hwaddr)?;
        self.client_id_len = copy(&mut self.client_id, r.client_id)?;
        self.hostname_len = copy(&mut self.hostname, r.hostname.as_bytes())?;
        self.used = true;
        self.address = r.address;
        self.valid_lifetime = r.valid_lifetime;
        self.cltt = r.cltt;
        self.subnet_id = r.subnet_id;
        self.fqdn_fwd = r.fqdn_fwd;
        self.fqdn_rev = r.fqdn_rev;
        self.state = r.state;
        Ok(())
    }
}

/// A lease store over a caller-provided slice with linear lookups: for tests and for tiny
/// deployments (a home network's few dozen leases). User contexts are not kept.
pub struct ArrayLeaseStore<'a> {
    slots: &'a mut [StoredLease],
}

impl<'a> ArrayLeaseStore<'a> {
    /// A store over `slots` (cleared here).
    pub fn new(slots: &'a mut [StoredLease]) -> Self {
        slots.fill(StoredLease::EMPTY);
        ArrayLeaseStore { slots }
    }

    /// Number of leases held.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.used).count()
    }

    /// Whether the store holds no lease.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every lease held, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = LeaseRecord<'_>> {
        self.slots
            .iter()
            .filter(|s| s.used)
            .map(StoredLease::record)
    }
}

impl LeaseStore for ArrayLeaseStore<'_> {
    fn by_address(&self, address: Ipv4Addr) -> Option<LeaseRecord<'_>> {
        self.slots
            .iter()
            .find(|s| s.used && s.address == address)
            .map(StoredLease::record)
    }

    fn by_client(&self, subnet_id: u32, client: &ClientIdentity<'_>) -> Option<LeaseRecord<'_>> {
        let in_subnet = || {
            self.slots
                .iter()
                .filter(move |s| {
                    s.used && s.subnet_id == subnet_id && s.state != LeaseState::Declined
                })
                .map(StoredLease::record)
        };
        if !client.client_id.is_empty() {
            if let Some(l) = in_subnet().find(|l| l.client_id == client.client_id) {
                return Some(l);
            }
        }
        in_subnet().find(|l| l.hwaddr == client.hwaddr && client.owns(l))
    }

    fn put(&mut self, record: &LeaseRecord<'_>) -> Result<(), StoreError> {
        let pos = self
            .slots
            .iter()
            .position(|s| s.used && s.address == record.address)
            .or_else(|| self.slots.iter().position(|s| !s.used))
            .ok_or(StoreError::Full)?;
        let slot = self.slots.get_mut(pos).ok_or(StoreError::Full)?;
        let mut fresh = StoredLease::EMPTY;
        fresh.fill(record)?;
        *slot = fresh;
        Ok(())
    }

    fn remove(&mut self, address: Ipv4Addr) -> bool {
        match self
            .slots
            .iter_mut()
            .find(|s| s.used && s.address == address)
        {
            Some(slot) => {
                slot.used = false;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(addr: u8, hw: &'a [u8], id: &'a [u8]) -> LeaseRecord<'a> {
        LeaseRecord {
            address: Ipv4Addr::new(198, 18, 0, addr),
            hwaddr: hw,
            client_id: id,
            valid_lifetime: 100,
            cltt: Timestamp(1000),
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: "h",
            state: LeaseState::Default,
            user_context: "",
        }
    }

    #[test]
    fn put_replaces_by_address_and_reports_full() {
        let mut slots = [StoredLease::EMPTY; 2];
        let mut s = ArrayLeaseStore::new(&mut slots);
        s.put(&rec(1, &[1], &[])).unwrap();
        s.put(&rec(1, &[2], &[])).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(
            s.by_address(Ipv4Addr::new(198, 18, 0, 1)).unwrap().hwaddr,
            &[2]
        );
        s.put(&rec(2, &[3], &[])).unwrap();
        assert_eq!(s.put(&rec(3, &[4], &[])), Err(StoreError::Full));
        assert!(s.remove(Ipv4Addr::new(198, 18, 0, 1)));
        assert!(!s.remove(Ipv4Addr::new(198, 18, 0, 1)));
        s.put(&rec(3, &[4], &[])).unwrap();
    }

    #[test]
    fn by_client_prefers_client_id_then_owned_hwaddr() {
        let mut slots = [StoredLease::EMPTY; 4];
        let mut s = ArrayLeaseStore::new(&mut slots);
        s.put(&rec(1, &[9], &[1, 7])).unwrap();
        s.put(&rec(2, &[9], &[])).unwrap();
        let by_id = ClientIdentity {
            client_id: &[1, 7],
            hwaddr: &[8],
        };
        assert_eq!(
            s.by_client(1, &by_id).unwrap().address,
            Ipv4Addr::new(198, 18, 0, 1)
        );
        let other_id = ClientIdentity {
            client_id: &[1, 6],
            hwaddr: &[9],
        };
        assert_eq!(
            s.by_client(1, &other_id).unwrap().address,
            Ipv4Addr::new(198, 18, 0, 2)
        );
        assert!(s.by_client(2, &by_id).is_none());
    }

    #[test]
    fn lease_table_implements_the_store() {
        use crate::lease::occupancy::OccupancyStorage;
        use crate::lease::table::{LeaseSlot, LeaseStorage};
        let sizes = LeaseStorage::sizes_for(8);
        let mut leases = std::vec![LeaseSlot::default(); sizes.leases];
        let mut a = std::vec![0u32; sizes.index_slots];
        let mut b = std::vec![0u32; sizes.index_slots];
        let mut c = std::vec![0u32; sizes.index_slots];
        let mut e = std::vec![0u32; sizes.expiry];
        let mut t = std::vec![0u8; sizes.text_bytes];
        let mut table = LeaseTable::new(LeaseStorage {
            leases: &mut leases,
            by_address: &mut a,
            by_client_id: &mut b,
            by_hwaddr: &mut c,
            expiry: &mut e,
            text: &mut t,
            occupancy: OccupancyStorage::empty(),
        })
        .unwrap();
        let store: &mut dyn LeaseStore = &mut table;
        store.put(&rec(1, &[9], &[1, 7])).unwrap();
        store.put(&rec(2, &[9], &[])).unwrap();
        let by_id = ClientIdentity {
            client_id: &[1, 7],
            hwaddr: &[8],
        };
        assert_eq!(
            store.by_client(1, &by_id).unwrap().address,
            Ipv4Addr::new(198, 18, 0, 1)
        );
        let other_id = ClientIdentity {
            client_id: &[1, 6],
            hwaddr: &[9],
        };
        assert_eq!(
            store.by_client(1, &other_id).unwrap().address,
            Ipv4Addr::new(198, 18, 0, 2)
        );
        assert_eq!(
            store
                .by_address(Ipv4Addr::new(198, 18, 0, 2))
                .unwrap()
                .hostname,
            "h"
        );
        assert!(store.remove(Ipv4Addr::new(198, 18, 0, 2)));
        assert!(store.by_client(1, &other_id).is_none());
        let long = [0u8; 21];
        assert_eq!(
            store.put(&rec(3, &long, &[])),
            Err(StoreError::FieldTooLong)
        );
    }

    #[test]
    fn free_means_absent_expired_or_removed() {
        let mut slots = [StoredLease::EMPTY; 2];
        let mut s = ArrayLeaseStore::new(&mut slots);
        s.put(&rec(1, &[1], &[])).unwrap();
        let a = Ipv4Addr::new(198, 18, 0, 1);
        assert!(!is_free(&s, a, Timestamp(1100)));
        assert!(is_free(&s, a, Timestamp(1101)));
        assert!(is_free(&s, Ipv4Addr::new(198, 18, 0, 2), Timestamp(0)));
    }
}
