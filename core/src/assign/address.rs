//! Choosing the address for an OFFER or an ACK (dhcpv4-server-behaviour.md §4, Kea 2.2's
//! allocation engine with the iterative allocator).

use core::net::Ipv4Addr;

use crate::assign::reservation::{self, HostIdentifiers};
use crate::assign::store::is_free;
use crate::assign::subnet_select::{candidate_subnets, Membership};
use crate::assign::{ClientIdentity, LeaseStore};
use crate::config::{Config, Pool, Subnet};
use crate::time::Timestamp;

/// Who is asking, as the allocator needs it.
#[derive(Clone, Copy)]
pub struct ClientContext<'q> {
    /// Identity for lease matching (already reduced by `match-client-id`).
    pub identity: ClientIdentity<'q>,
    /// Identifiers for host reservation lookup.
    pub host_ids: HostIdentifiers<'q>,
    /// The packet's classes (pools and subnets with `client-class`).
    pub classes: &'q dyn Membership,
    /// Now.
    pub now: Timestamp,
}

/// Why the address was chosen (for logs and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressSource {
    /// The client's current lease (lease affinity).
    CurrentLease,
    /// The client's host reservation.
    Reservation,
    /// The address the client asked for (option 50 or ciaddr).
    Requested,
    /// The next free pool address (iterative allocator).
    FreePool,
}

/// An address chosen for a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// The address.
    pub address: Ipv4Addr,
    /// Index into `config.subnets` of the subnet the lease belongs to.
    pub subnet: usize,
    /// The client's reservation in that subnet (index into `config.reservations`).
    pub reservation: Option<usize>,
    /// The client's existing lease in the subnet/shared network when it is for another
    /// address (a REQUEST moving the client must delete it).
    pub previous: Option<Ipv4Addr>,
    /// Why this address.
    pub source: AddressSource,
}

/// Why a REQUEST is answered with a NAK (§4 checks, §10 table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NakReason {
    /// The requested address is reserved for another client.
    ReservedForAnother,
    /// The requested address is leased (unexpired) to another client.
    LeasedToAnother,
    /// The client has a reservation for another, currently free address.
    ClientHasOtherReservation,
    /// The address is in a pool the client's classes may not use.
    PoolNotAllowed,
    /// INIT-REBOOT: the client's lease is for another address.
    LeaseMismatch,
    /// INIT-REBOOT under `authoritative: true`: the client has no lease here.
    NoLease,
    /// No subnet matches a REQUEST.
    NoSubnet,
}

/// Why a REQUEST gets no reply at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceReason {
    /// The requested address is in no allowed pool and not reserved for the client (Kea:
    /// "the address is unknown"), whatever `authoritative` says.
    AddressNotInPool,
    /// INIT-REBOOT from a client with no lease here, `authoritative: false`.
    UnknownClient,
}

/// The answer to a requested address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestCheck {
    /// Acknowledge this allocation.
    Ack(Allocation),
    /// Refuse.
    Nak(NakReason),
    /// Say nothing.
    Silence(SilenceReason),
}

/// Whether `addr` lies in a pool of `subnet`, and whether the client may use that pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMatch {
    /// In a pool the client may use.
    Allowed,
    /// Only in pools reserved for classes the client is not in.
    Forbidden,
    /// In no pool.
    Outside,
}

fn pool_allowed(config: &Config<'_>, pool: &Pool, classes: &dyn Membership) -> bool {
    pool.client_class.is_empty() || classes.is_member(config.bytes(pool.client_class))
}

fn pools<'c>(config: &Config<'c>, subnet: &Subnet) -> &'c [Pool] {
    config.pools.get(subnet.pools.as_range()).unwrap_or(&[])
}

/// Pool membership of `addr` in `subnet` ("Pools/subnets with `client-class` are usable
/// only by members").
pub fn pool_match(
    config: &Config<'_>,
    subnet: &Subnet,
    addr: Ipv4Addr,
    classes: &dyn Membership,
) -> PoolMatch {
    let mut found = PoolMatch::Outside;
    for p in pools(config, subnet).iter().filter(|p| p.contains(addr)) {
        if pool_allowed(config, p, classes) {
            return PoolMatch::Allowed;
        }
        found = PoolMatch::Forbidden;
    }
    found
}

/// The pool of `subnet` containing `addr` (for pool-level options), if any.
pub fn pool_of(config: &Config<'_>, subnet: &Subnet, addr: Ipv4Addr) -> Option<usize> {
    let base = subnet.pools.start as usize;
    pools(config, subnet)
        .iter()
        .position(|p| p.contains(addr))
        .map(|i| base + i)
}

/// The client's reservation in `subnet`.
fn client_reservation(
    config: &Config<'_>,
    subnet: &Subnet,
    ctx: &ClientContext<'_>,
) -> Option<usize> {
    reservation::find_for_client(config, subnet, &ctx.host_ids)
}

/// Whether `addr` is reserved (in `subnet`'s view) for someone other than the client
/// whose reservation there is `own`.
fn reserved_for_another(
    config: &Config<'_>,
    subnet: &Subnet,
    addr: Ipv4Addr,
    own: Option<usize>,
) -> bool {
    match reservation::reserving(config, subnet, addr) {
        Some(r) => Some(r) != own,
        None => false,
    }
}

fn leased_to_another<S: LeaseStore + ?Sized>(
    store: &S,
    addr: Ipv4Addr,
    ctx: &ClientContext<'_>,
) -> bool {
    match store.by_address(addr) {
        Some(l) => !l.is_removal() && !l.is_expired(ctx.now) && !ctx.identity.owns(&l),
        None => false,
    }
}

/// The client's current lease in the selected subnet or its shared network (by client-id,
/// then chaddr): its address and the subnet index.
pub fn current_lease<S: LeaseStore + ?Sized>(
    config: &Config<'_>,
    store: &S,
    ctx: &ClientContext<'_>,
    selected: usize,
) -> Option<(Ipv4Addr, usize)> {
    candidate_subnets(config, selected, ctx.classes).find_map(|i| {
        let s = config.subnets.get(i)?;
        store.by_client(s.id, &ctx.identity).map(|l| (l.address, i))
    })
}

/// The candidate subnet (selected first, then the shared network) whose prefix holds
/// `addr`.
fn subnet_for(
    config: &Config<'_>,
    selected: usize,
    addr: Ipv4Addr,
    classes: &dyn Membership,
) -> Option<usize> {
    candidate_subnets(config, selected, classes).find(|&i| {
        config
            .subnets
            .get(i)
            .is_some_and(|s| s.prefix.contains(addr))
    })
}

/// The address for a DISCOVER, or `None` when nothing is available (Kea:
/// `v4-allocation-fail`, no reply). Nothing is stored, but the iterative cursor moves.
///
/// 1. "Reserved address (reservations) if not leased to someone else (else
///    `v4-reservation-conflicts`++ and continue)" — Kea 2.2's `discoverLease4` checks the
///    reservation before the client's other lease, so a client holding a pool address is
///    moved to its new reservation;
/// 2. "Client's current lease in the subnet/shared network (by client-id, then chaddr) if its
///    address is … inside an allowed pool → offer it again (also when expired but not yet
///    reclaimed — lease affinity)."
/// 3. "Requested address (option 50) if in an allowed pool, free (no lease or expired) and
///    not reserved for another client."
/// 4. "Otherwise the next free address from allowed pools of the subnet, then other subnets
///    of the shared network" (iterative allocator; declined addresses in probation skipped).
pub fn choose_for_discover<S: LeaseStore + ?Sized>(
    config: &Config<'_>,
    store: &S,
    ctx: &ClientContext<'_>,
    selected: usize,
    requested: Option<Ipv4Addr>,
    cursors: &mut [Ipv4Addr],
) -> Option<Allocation> {
    let current = current_lease(config, store, ctx, selected);
    let previous = current.map(|(a, _)| a);
    // Kea's `discoverLease4` looks at the reservation first: the reserved address when the
    // client's lease is elsewhere (a conflict with another client's lease skips it), the
    // client's lease when it already is the reserved address.
    for si in candidate_subnets(config, selected, ctx.classes) {
        let Some(subnet) = config.subnets.get(si) else {
            continue;
        };
        let Some(own) = client_reservation(config, subnet, ctx) else {
            continue;
        };
        let Some(addr) = config.reservations.get(own).and_then(|r| r.address) else {
            continue;
        };
        if !subnet.prefix.contains(addr) {
            continue;
        }
        if previous == Some(addr) {
            return Some(Allocation {
                address: addr,
                subnet: si,
                reservation: Some(own),
                previous: None,
                source: AddressSource::CurrentLease,
            });
        }
        if !leased_to_another(store, addr, ctx) {
            return Some(Allocation {
                address: addr,
                subnet: si,
                reservation: Some(own),
                previous,
                source: AddressSource::Reservation,
            });
        }
    }
    // Then the client's lease, if its address is in an allowed pool and not reserved for
    // another client ("lease affinity", expired or not).
    if let Some((addr, si)) = current {
        let subnet = config.subnets.get(si)?;
        let own = client_reservation(config, subnet, ctx);
        if pool_match(config, subnet, addr, ctx.classes) == PoolMatch::Allowed
            && !reserved_for_another(config, subnet, addr, own)
        {
            return Some(Allocation {
                address: addr,
                subnet: si,
                reservation: own,
                previous: None,
                source: AddressSource::CurrentLease,
            });
        }
    }
    if let Some(addr) = requested {
        if let Some(si) = subnet_for(config, selected, addr, ctx.classes) {
            if let Some(subnet) = config.subnets.get(si) {
                let own = client_reservation(config, subnet, ctx);
                if pool_match(config, subnet, addr, ctx.classes) == PoolMatch::Allowed
                    && is_free(store, addr, ctx.now)
                    && !reserved_for_another(config, subnet, addr, own)
                {
                    return Some(Allocation {
                        address: addr,
                        subnet: si,
                        reservation: own,
                        previous: previous.filter(|&p| p != addr),
                        source: AddressSource::Requested,
                    });
                }
            }
        }
    }
    for si in candidate_subnets(config, selected, ctx.classes) {
        let Some(subnet) = config.subnets.get(si) else {
            continue;
        };
        let own = client_reservation(config, subnet, ctx);
        if let Some(addr) = next_free(config, store, subnet, si, ctx, own, cursors) {
            return Some(Allocation {
                address: addr,
                subnet: si,
                reservation: own,
                previous: previous.filter(|&p| p != addr),
                source: AddressSource::FreePool,
            });
        }
    }
    None
}

/// Kea 2.2's iterative allocator: "continues after the last address handed out, wraps;
/// first boot starts at the first pool address". `cursors[subnet_index]` holds the last
/// address handed out in that subnet (UNSPECIFIED: none yet); a missing entry means the
/// search always starts at the first pool address (still correct, slower).
fn next_free<S: LeaseStore + ?Sized>(
    config: &Config<'_>,
    store: &S,
    subnet: &Subnet,
    subnet_index: usize,
    ctx: &ClientContext<'_>,
    own: Option<usize>,
    cursors: &mut [Ipv4Addr],
) -> Option<Ipv4Addr> {
    let pools = pools(config, subnet);
    let total: u64 = pools.iter().map(Pool::size).sum();
    let last = cursors
        .get(subnet_index)
        .copied()
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let usable = |addr: Ipv4Addr| {
        is_free(store, addr, ctx.now) && !reserved_for_another(config, subnet, addr, own)
    };
    if let Some(addr) = next_free_by_occupancy(config, store, subnet, ctx, last, &usable) {
        if let Some(c) = cursors.get_mut(subnet_index) {
            *c = addr;
        }
        return Some(addr);
    }
    // Position: (pool index, address) of the first candidate.
    let (mut p, mut addr) = match pools.iter().position(|pl| pl.contains(last)) {
        Some(i) => match pools.get(i) {
            Some(pl) if last < pl.last => (i, Ipv4Addr::from_bits(last.to_bits().wrapping_add(1))),
            _ => {
                let n = (i + 1) % pools.len().max(1);
                (n, pools.get(n)?.first)
            }
        },
        None => (0, pools.first()?.first),
    };
    let mut tried: u64 = 0;
    while tried < total {
        let pool = pools.get(p)?;
        if !pool_allowed(config, pool, ctx.classes) {
            tried = tried.saturating_add(pool.size());
            p = (p + 1) % pools.len();
            addr = pools.get(p)?.first;
            continue;
        }
        tried += 1;
        let usable =
            is_free(store, addr, ctx.now) && !reserved_for_another(config, subnet, addr, own);
        if usable {
            if let Some(c) = cursors.get_mut(subnet_index) {
                *c = addr;
            }
            return Some(addr);
        }
        if addr >= pool.last {
            p = (p + 1) % pools.len();
            addr = pools.get(p)?.first;
        } else {
            addr = Ipv4Addr::from_bits(addr.to_bits().wrapping_add(1));
        }
    }
    None
}

/// Which part of a pool a search phase accepts (see [`next_free_by_occupancy`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// After the cursor, in the cursor's pool.
    Above,
    /// Anywhere, in the other pools.
    Any,
    /// Up to the cursor, in the cursor's pool (the wrap-around).
    UpTo,
}

/// Most candidates a search phase checks against the table before giving up on the hints
/// (only reservations not marked in the occupancy make a hint fail).
const HINT_TRIES: u32 = 256;

/// The iterative order of [`next_free`] through the store's occupancy hints: the cursor's
/// pool after the cursor, the following pools (wrapping), then the cursor's pool up to the
/// cursor. `None` when the store has no hints or they ran out; the caller then scans.
fn next_free_by_occupancy<S: LeaseStore + ?Sized>(
    config: &Config<'_>,
    store: &S,
    subnet: &Subnet,
    ctx: &ClientContext<'_>,
    last: Ipv4Addr,
    usable: &dyn Fn(Ipv4Addr) -> bool,
) -> Option<Ipv4Addr> {
    let base = subnet.pools.start as usize;
    let list = pools(config, subnet);
    let n = list.len();
    let current = list.iter().position(|p| p.contains(last));
    let start = current.unwrap_or(0);
    let phases = (0..=n).filter_map(|k| {
        let i = (start + k) % n.max(1);
        match (k, current) {
            (0, Some(_)) => Some((i, Phase::Above)),
            (0, None) => Some((i, Phase::Any)),
            (k, Some(_)) if k == n => Some((i, Phase::UpTo)),
            (k, _) if k == n => None,
            _ => Some((i, Phase::Any)),
        }
    });
    for (i, phase) in phases {
        let pool = list.get(i)?;
        if !pool_allowed(config, pool, ctx.classes) {
            continue;
        }
        let mut after = if phase == Phase::Above {
            Some(last)
        } else {
            None
        };
        let mut tries = 0;
        loop {
            let a = match store.next_unheld(base + i, pool, after) {
                crate::assign::store::FreeSearch::Unsupported => return None,
                crate::assign::store::FreeSearch::Exhausted => break,
                crate::assign::store::FreeSearch::Found(a) => a,
            };
            let in_phase = match phase {
                Phase::Above => a > last,
                Phase::UpTo => a <= last,
                Phase::Any => true,
            };
            // A hint at or before the previous one means the search wrapped in the pool.
            if !in_phase || (tries > 0 && after.is_some_and(|p| a <= p)) {
                break;
            }
            if usable(a) {
                return Some(a);
            }
            tries += 1;
            if tries >= HINT_TRIES {
                return None;
            }
            after = Some(a);
        }
    }
    None
}

/// Checks the address a REQUEST asks for (option 50 or ciaddr) against §4, in order:
/// * "reserved for another client → NAK;"
/// * "leased (unexpired) to another client → NAK;"
/// * "the client has a reservation for a different, currently free address → NAK (pushes it
///   back to DISCOVER);"
/// * "not in any allowed pool of the shared network and not reserved for this client → no
///   reply even when authoritative (the address is "unknown"); if it is in a pool but not
///   allowed for the client's classes → NAK;"
/// * "otherwise: same address as the client's lease → renew …; different → allocate it and
///   delete the client's old lease".
pub fn check_requested<S: LeaseStore + ?Sized>(
    config: &Config<'_>,
    store: &S,
    ctx: &ClientContext<'_>,
    selected: usize,
    want: Ipv4Addr,
) -> RequestCheck {
    let current = current_lease(config, store, ctx, selected);
    // The subnet of the wanted address among the candidates; when it lies in none of them
    // the checks run against the selected subnet (and end in silence below).
    let si = subnet_for(config, selected, want, ctx.classes).unwrap_or(selected);
    let Some(subnet) = config.subnets.get(si) else {
        return RequestCheck::Nak(NakReason::NoSubnet);
    };
    let own = client_reservation(config, subnet, ctx);
    if reserved_for_another(config, subnet, want, own) {
        return RequestCheck::Nak(NakReason::ReservedForAnother);
    }
    if leased_to_another(store, want, ctx) {
        return RequestCheck::Nak(NakReason::LeasedToAnother);
    }
    // The client's reservation anywhere in the shared network.
    let reserved_elsewhere = candidate_subnets(config, selected, ctx.classes).find_map(|i| {
        let s = config.subnets.get(i)?;
        let r = client_reservation(config, s, ctx)?;
        config.reservations.get(r)?.address
    });
    if let Some(r) = reserved_elsewhere {
        if r != want && !leased_to_another(store, r, ctx) {
            return RequestCheck::Nak(NakReason::ClientHasOtherReservation);
        }
    }
    let reserved_for_client = reserved_elsewhere == Some(want);
    if !reserved_for_client {
        let mut forbidden = false;
        let mut allowed = false;
        for i in candidate_subnets(config, selected, ctx.classes) {
            let Some(s) = config.subnets.get(i) else {
                continue;
            };
            match pool_match(config, s, want, ctx.classes) {
                PoolMatch::Allowed => allowed = true,
                PoolMatch::Forbidden => forbidden = true,
                PoolMatch::Outside => {}
            }
        }
        if !allowed {
            return if forbidden {
                RequestCheck::Nak(NakReason::PoolNotAllowed)
            } else {
                RequestCheck::Silence(SilenceReason::AddressNotInPool)
            };
        }
    }
    let source = match current {
        Some((a, _)) if a == want => AddressSource::CurrentLease,
        _ if reserved_for_client => AddressSource::Reservation,
        _ => AddressSource::Requested,
    };
    RequestCheck::Ack(Allocation {
        address: want,
        subnet: si,
        reservation: own,
        previous: current.map(|(a, _)| a).filter(|&a| a != want),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::fixture::*;
    use crate::assign::store::{ArrayLeaseStore, StoredLease};
    use crate::assign::subnet_select::NoClasses;
    use crate::config::IdentifierType;
    use crate::lease::{LeaseRecord, LeaseState};
    use std::vec;

    const MAC_A: &[u8] = &[2, 0, 0, 0, 0, 0xa];
    const MAC_B: &[u8] = &[2, 0, 0, 0, 0, 0xb];

    fn ctx(mac: &'static [u8]) -> ClientContext<'static> {
        ClientContext {
            identity: ClientIdentity {
                client_id: &[],
                hwaddr: mac,
            },
            host_ids: HostIdentifiers {
                hwaddr: mac,
                client_id: &[],
                circuit_id: &[],
            },
            classes: &NoClasses,
            now: Timestamp(10_000),
        }
    }

    fn lease(addr: &str, mac: &'static [u8], cltt: u64, state: LeaseState) -> LeaseRecord<'static> {
        LeaseRecord {
            address: ip(addr),
            hwaddr: mac,
            client_id: &[],
            valid_lifetime: 3600,
            cltt: Timestamp(cltt),
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: "",
            state,
            user_context: "",
        }
    }

    fn small() -> Fixture {
        let mut f = Fixture::new();
        let s = f.subnet(1, "198.18.1.0/24");
        f.pool(s, "198.18.1.100", "198.18.1.103");
        f
    }

    #[test]
    fn iterative_allocation_continues_and_wraps() {
        let mut f = small();
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 8];
        let mut store = ArrayLeaseStore::new(&mut slots);
        let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
        let a = choose_for_discover(&c, &store, &ctx(MAC_A), 0, None, &mut cursors).unwrap();
        assert_eq!(
            (a.address, a.source),
            (ip("198.18.1.100"), AddressSource::FreePool)
        );
        // Offers are not stored, but the cursor moved: the next client gets .101.
        let b = choose_for_discover(&c, &store, &ctx(MAC_B), 0, None, &mut cursors).unwrap();
        assert_eq!(b.address, ip("198.18.1.101"));
        // Fill .102 and .103; the next search wraps to .100.
        store
            .put(&lease("198.18.1.102", &[9], 9000, LeaseState::Default))
            .unwrap();
        store
            .put(&lease("198.18.1.103", &[8], 9000, LeaseState::Default))
            .unwrap();
        let c2 = choose_for_discover(&c, &store, &ctx(MAC_B), 0, None, &mut cursors).unwrap();
        assert_eq!(c2.address, ip("198.18.1.100"));
    }

    #[test]
    fn declined_in_probation_is_skipped_and_expired_is_reused() {
        let mut f = small();
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 8];
        let mut store = ArrayLeaseStore::new(&mut slots);
        let mut declined = lease("198.18.1.100", &[], 9000, LeaseState::Declined);
        declined.valid_lifetime = 86400;
        store.put(&declined).unwrap();
        store
            .put(&lease("198.18.1.101", &[9], 1000, LeaseState::Default))
            .unwrap(); // expired
        let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
        let a = choose_for_discover(&c, &store, &ctx(MAC_A), 0, None, &mut cursors).unwrap();
        assert_eq!(a.address, ip("198.18.1.101"));
    }

    #[test]
    fn full_pool_fails() {
        let mut f = small();
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 8];
        let mut store = ArrayLeaseStore::new(&mut slots);
        for (i, a) in [
            "198.18.1.100",
            "198.18.1.101",
            "198.18.1.102",
            "198.18.1.103",
        ]
        .iter()
        .enumerate()
        {
            let mac: &'static [u8] = [&[1u8][..], &[2], &[3], &[4]][i];
            store
                .put(&lease(a, mac, 9000, LeaseState::Default))
                .unwrap();
        }
        let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
        assert_eq!(
            choose_for_discover(&c, &store, &ctx(MAC_A), 0, None, &mut cursors),
            None
        );
    }

    #[test]
    fn current_lease_then_reservation_then_requested() {
        let mut f = small();
        f.reservation(
            Some(0),
            IdentifierType::HwAddress,
            MAC_A,
            Some("198.18.1.20"),
            "a",
        );
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 8];
        let mut store = ArrayLeaseStore::new(&mut slots);
        let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
        // Reservation (out of pool) wins over the requested address.
        let a = choose_for_discover(
            &c,
            &store,
            &ctx(MAC_A),
            0,
            Some(ip("198.18.1.102")),
            &mut cursors,
        )
        .unwrap();
        assert_eq!(
            (a.address, a.source),
            (ip("198.18.1.20"), AddressSource::Reservation)
        );
        // MAC_B: requested, free, in pool.
        let b = choose_for_discover(
            &c,
            &store,
            &ctx(MAC_B),
            0,
            Some(ip("198.18.1.102")),
            &mut cursors,
        )
        .unwrap();
        assert_eq!(
            (b.address, b.source),
            (ip("198.18.1.102"), AddressSource::Requested)
        );
        // MAC_B asking for A's reserved address gets a pool address instead.
        let b2 = choose_for_discover(
            &c,
            &store,
            &ctx(MAC_B),
            0,
            Some(ip("198.18.1.20")),
            &mut cursors,
        )
        .unwrap();
        assert_eq!(b2.source, AddressSource::FreePool);
        // An expired lease of MAC_B is offered again (affinity).
        store
            .put(&lease("198.18.1.103", MAC_B, 1, LeaseState::Default))
            .unwrap();
        let b3 = choose_for_discover(&c, &store, &ctx(MAC_B), 0, None, &mut cursors).unwrap();
        assert_eq!(
            (b3.address, b3.source),
            (ip("198.18.1.103"), AddressSource::CurrentLease)
        );
    }

    #[test]
    fn a_new_reservation_beats_the_clients_pool_lease() {
        let mut f = small();
        f.reservation(
            Some(0),
            IdentifierType::HwAddress,
            MAC_A,
            Some("198.18.1.20"),
            "a",
        );
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 8];
        let mut store = ArrayLeaseStore::new(&mut slots);
        store
            .put(&lease("198.18.1.101", MAC_A, 9000, LeaseState::Default))
            .unwrap();
        let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
        let a = choose_for_discover(&c, &store, &ctx(MAC_A), 0, None, &mut cursors).unwrap();
        assert_eq!(
            (a.address, a.source, a.previous),
            (
                ip("198.18.1.20"),
                AddressSource::Reservation,
                Some(ip("198.18.1.101"))
            )
        );
        // Holding the reserved address already: that lease is offered again.
        store.remove(ip("198.18.1.101"));
        store
            .put(&lease("198.18.1.20", MAC_A, 9000, LeaseState::Default))
            .unwrap();
        let b = choose_for_discover(&c, &store, &ctx(MAC_A), 0, None, &mut cursors).unwrap();
        assert_eq!(
            (b.address, b.source),
            (ip("198.18.1.20"), AddressSource::CurrentLease)
        );
    }

    #[test]
    fn reserved_address_is_never_handed_to_others() {
        let mut f = small();
        f.reservation(
            Some(0),
            IdentifierType::HwAddress,
            MAC_A,
            Some("198.18.1.100"),
            "a",
        );
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 8];
        let store = ArrayLeaseStore::new(&mut slots);
        let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
        let b = choose_for_discover(&c, &store, &ctx(MAC_B), 0, None, &mut cursors).unwrap();
        assert_eq!(b.address, ip("198.18.1.101"));
    }

    #[test]
    fn reservation_leased_to_another_is_a_conflict() {
        let mut f = small();
        f.reservation(
            Some(0),
            IdentifierType::HwAddress,
            MAC_A,
            Some("198.18.1.20"),
            "a",
        );
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 8];
        let mut store = ArrayLeaseStore::new(&mut slots);
        store
            .put(&lease("198.18.1.20", MAC_B, 9000, LeaseState::Default))
            .unwrap();
        let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
        let a = choose_for_discover(&c, &store, &ctx(MAC_A), 0, None, &mut cursors).unwrap();
        assert_eq!(a.source, AddressSource::FreePool);
    }

    #[test]
    fn request_checks_in_order() {
        let mut f = small();
        f.reservation(
            Some(0),
            IdentifierType::HwAddress,
            &[7],
            Some("198.18.1.101"),
            "seven",
        );
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 8];
        let mut store = ArrayLeaseStore::new(&mut slots);
        store
            .put(&lease("198.18.1.102", MAC_B, 9000, LeaseState::Default))
            .unwrap();
        let a = ctx(MAC_A);
        assert_eq!(
            check_requested(&c, &store, &a, 0, ip("198.18.1.101")),
            RequestCheck::Nak(NakReason::ReservedForAnother)
        );
        assert_eq!(
            check_requested(&c, &store, &a, 0, ip("198.18.1.102")),
            RequestCheck::Nak(NakReason::LeasedToAnother)
        );
        assert_eq!(
            check_requested(&c, &store, &a, 0, ip("198.18.1.50")),
            RequestCheck::Silence(SilenceReason::AddressNotInPool)
        );
        assert_eq!(
            check_requested(&c, &store, &a, 0, ip("198.19.0.1")),
            RequestCheck::Silence(SilenceReason::AddressNotInPool)
        );
        let RequestCheck::Ack(ok) = check_requested(&c, &store, &a, 0, ip("198.18.1.103")) else {
            panic!()
        };
        assert_eq!(
            (ok.address, ok.source, ok.previous),
            (ip("198.18.1.103"), AddressSource::Requested, None)
        );
        // B renews its lease, then moves to .103: the old lease is reported as previous.
        let b = ctx(MAC_B);
        let RequestCheck::Ack(renew) = check_requested(&c, &store, &b, 0, ip("198.18.1.102"))
        else {
            panic!()
        };
        assert_eq!(renew.source, AddressSource::CurrentLease);
        let RequestCheck::Ack(moved) = check_requested(&c, &store, &b, 0, ip("198.18.1.103"))
        else {
            panic!()
        };
        assert_eq!(moved.previous, Some(ip("198.18.1.102")));
        // Client 7 asking for a pool address while its reservation is free → NAK.
        let seven = ctx(&[7]);
        assert_eq!(
            check_requested(&c, &store, &seven, 0, ip("198.18.1.103")),
            RequestCheck::Nak(NakReason::ClientHasOtherReservation)
        );
        let RequestCheck::Ack(r) = check_requested(&c, &store, &seven, 0, ip("198.18.1.101"))
        else {
            panic!()
        };
        assert_eq!(r.source, AddressSource::Reservation);
    }

    #[test]
    fn class_restricted_pool_naks_non_members() {
        let mut f = small();
        let lab = f.text(b"lab");
        f.pools[0].client_class = lab;
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 2];
        let store = ArrayLeaseStore::new(&mut slots);
        assert_eq!(
            check_requested(&c, &store, &ctx(MAC_A), 0, ip("198.18.1.100")),
            RequestCheck::Nak(NakReason::PoolNotAllowed)
        );
        let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
        assert_eq!(
            choose_for_discover(&c, &store, &ctx(MAC_A), 0, None, &mut cursors),
            None
        );
    }

    /// The occupancy hints of the real lease table give exactly the addresses of the plain
    /// scan, through pool wrap-around, releases and a reservation inside a pool.
    #[test]
    fn occupancy_hints_follow_the_iterative_order() {
        use crate::lease::occupancy::{OccupancySizes, OccupancyStorage, PoolBits, SortedPool};
        use crate::lease::table::{LeaseSlot, LeaseStorage};
        use crate::lease::LeaseTable;
        let mut f = Fixture::new();
        let s = f.subnet(1, "198.18.1.0/24");
        f.pool(s, "198.18.1.100", "198.18.1.104");
        f.pool(s, "198.18.1.200", "198.18.1.202");
        f.reservation(
            Some(0),
            IdentifierType::HwAddress,
            &[7],
            Some("198.18.1.102"),
            "",
        );
        let c = f.config();
        let sizes = LeaseStorage::sizes_for(16);
        let occ = OccupancySizes::for_pools(c.pools);
        let mut leases = vec![LeaseSlot::default(); sizes.leases];
        let (mut a, mut b, mut d) = (
            vec![0u32; sizes.index_slots],
            vec![0u32; sizes.index_slots],
            vec![0u32; sizes.index_slots],
        );
        let mut e = vec![0u32; sizes.expiry];
        let mut t = vec![0u8; sizes.text_bytes];
        let mut pb = vec![PoolBits::default(); occ.pools];
        let mut sp = vec![SortedPool::default(); occ.pools];
        let (mut held, mut reserved) = (vec![0u64; occ.words], vec![0u64; occ.words]);
        let mut table = LeaseTable::new(LeaseStorage {
            leases: &mut leases,
            by_address: &mut a,
            by_client_id: &mut b,
            by_hwaddr: &mut d,
            expiry: &mut e,
            text: &mut t,
            occupancy: OccupancyStorage {
                pools: &mut pb,
                sorted: &mut sp,
                held: &mut held,
                reserved: &mut reserved,
            },
        })
        .unwrap();
        table.set_pools(c.pools).unwrap();
        // The hints are really in use (not the fallback scan).
        assert_eq!(
            table.next_unheld(1, &c.pools[1], None),
            crate::assign::store::FreeSearch::Found(ip("198.18.1.200"))
        );
        let mut slots = vec![StoredLease::EMPTY; 16];
        let mut plain = ArrayLeaseStore::new(&mut slots);
        let mut fast_cursor = [Ipv4Addr::UNSPECIFIED; 1];
        let mut slow_cursor = [Ipv4Addr::UNSPECIFIED; 1];
        let macs: [&'static [u8]; 12] = [
            &[1],
            &[2],
            &[3],
            &[4],
            &[5],
            &[6],
            &[8],
            &[9],
            &[10],
            &[11],
            &[12],
            &[13],
        ];
        let mut got = std::vec::Vec::new();
        for (round, mac) in macs.iter().enumerate() {
            // Release the lease of client round-3 every third round.
            if round % 3 == 2 {
                let victim = got[round - 2];
                assert!(LeaseStore::remove(&mut table, victim));
                assert!(plain.remove(victim));
            }
            let cx = ctx(mac);
            let fast = choose_for_discover(&c, &table, &cx, 0, None, &mut fast_cursor);
            let slow = choose_for_discover(&c, &plain, &cx, 0, None, &mut slow_cursor);
            assert_eq!(
                fast.map(|x| x.address),
                slow.map(|x| x.address),
                "round {round}"
            );
            let Some(x) = fast else { break };
            assert_ne!(
                x.address,
                ip("198.18.1.102"),
                "the reserved address is never handed out"
            );
            let mut l = lease("198.18.1.1", mac, 9000, LeaseState::Default);
            l.address = x.address;
            table.put(&l).unwrap();
            plain.put(&l).unwrap();
            got.push(x.address);
        }
        assert_eq!(
            &got[..4],
            &[
                ip("198.18.1.100"),
                ip("198.18.1.101"),
                ip("198.18.1.103"),
                ip("198.18.1.104")
            ]
        );
        assert_eq!(got[4], ip("198.18.1.200"));
    }

    #[test]
    fn shared_network_falls_over_to_the_next_member() {
        let mut f = Fixture::new();
        let s1 = f.subnet(1, "198.18.1.0/24");
        f.pool(s1, "198.18.1.100", "198.18.1.100");
        let s2 = f.subnet(2, "198.18.2.0/24");
        f.pool(s2, "198.18.2.100", "198.18.2.100");
        f.network("net", 0..2);
        let c = f.config();
        let mut slots = vec![StoredLease::EMPTY; 4];
        let mut store = ArrayLeaseStore::new(&mut slots);
        store
            .put(&lease("198.18.1.100", MAC_B, 9000, LeaseState::Default))
            .unwrap();
        let mut cursors = [Ipv4Addr::UNSPECIFIED; 2];
        let a = choose_for_discover(&c, &store, &ctx(MAC_A), 0, None, &mut cursors).unwrap();
        assert_eq!((a.address, a.subnet), (ip("198.18.2.100"), 1));
        let RequestCheck::Ack(r) = check_requested(&c, &store, &ctx(MAC_A), 0, ip("198.18.2.100"))
        else {
            panic!()
        };
        assert_eq!(r.subnet, 1);
    }
}
