//! DHCPREQUEST: which client state the request comes from (RFC 2131 §4.3.2) and Kea's
//! answer for INIT-REBOOT (dhcpv4-server-behaviour.md §4, §10). The address checks shared
//! by all states live in [`crate::assign::address::check_requested`].

use core::net::Ipv4Addr;

use crate::assign::address::{
    check_requested, choose_for_discover, current_lease, AddressSource, Allocation, ClientContext,
    RequestCheck,
};
use crate::assign::address::{NakReason, SilenceReason};
use crate::assign::LeaseStore;
use crate::lease::{LeaseRecord, LeaseState};
use crate::server::client_name::NameBuffers;
use crate::server::destination::ReplyKind;
use crate::server::engine::{Ctx, DropReason, Engine, Event, Outcome, ReplyPlan, Summary};
use crate::server::{LeaseSink, MessageType};

/// The client state a REQUEST comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// "54 present (must be ours, else dropped), 50 present, ciaddr 0": the client chose
    /// our offer.
    Selecting,
    /// "no 54, 50 present, ciaddr 0": a rebooted client verifying its previous address.
    InitReboot,
    /// "unicast, ciaddr set, no 50/54": extending the lease with us.
    Renewing,
    /// "broadcast, ciaddr set, no 50/54": extending with any server (Kea does not
    /// distinguish it from renewing).
    Rebinding,
    /// "neither 50 nor ciaddr": RFC 2131 says NAK; Kea allocates an address and ACKs
    /// \[checked\].
    NoAddress,
}

/// Recognises the state as Kea does: the requested address (50) is the hint when present,
/// else ciaddr. INIT-REBOOT is "no server id, a requested address"; Kea 2.2's `assignLease`
/// (`!fake_allocation && !opt_serverid && opt_requested_address`) does not look at ciaddr,
/// so neither does wren (the spec's table adds "ciaddr 0", which the code does not check).
pub fn classify(
    server_id_present: bool,
    requested: Option<Ipv4Addr>,
    ciaddr: Ipv4Addr,
    received_broadcast: bool,
) -> (RequestState, Option<Ipv4Addr>) {
    match requested {
        Some(a) if !server_id_present => (RequestState::InitReboot, Some(a)),
        Some(a) => (RequestState::Selecting, Some(a)),
        None if !ciaddr.is_unspecified() => {
            if received_broadcast {
                (RequestState::Rebinding, Some(ciaddr))
            } else {
                (RequestState::Renewing, Some(ciaddr))
            }
        }
        None => (RequestState::NoAddress, None),
    }
}

/// What to do with an INIT-REBOOT before the address checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitRebootVerdict {
    /// The client's lease is for the requested address: continue as a renewal.
    Continue,
    /// Refuse.
    Nak(NakReason),
    /// Say nothing.
    Silence(SilenceReason),
}

/// Kea's INIT-REBOOT rule (§4 table, §10 rows 1–3): "look up the client's lease (client-id,
/// then chaddr) in the selected subnet/shared network. Not found and `authoritative` false →
/// silence \[checked\]; not found and authoritative → NAK \[checked\]; found with a different
/// address → NAK \[checked\]; found and equal → continue as a renewal". An address foreign
/// to the network is a client without a lease here: silence, or NAK when authoritative.
pub fn init_reboot(
    client_lease: Option<Ipv4Addr>,
    requested: Ipv4Addr,
    authoritative: bool,
) -> InitRebootVerdict {
    match client_lease {
        None if authoritative => InitRebootVerdict::Nak(NakReason::NoLease),
        None => InitRebootVerdict::Silence(SilenceReason::UnknownClient),
        Some(a) if a != requested => InitRebootVerdict::Nak(NakReason::LeaseMismatch),
        Some(_) => InitRebootVerdict::Continue,
    }
}

impl<S: LeaseStore + ?Sized> Engine<'_, S> {
    /// DHCPREQUEST → DHCPACK / DHCPNAK / silence (§4 REQUEST table, §10).
    pub(crate) fn request(
        &mut self,
        ctx: &Ctx<'_, '_>,
        reply: &mut [u8],
        sink: &mut dyn LeaseSink,
    ) -> Outcome {
        // §2.4: "REQUEST → NAK (to giaddr for relayed, to ciaddr for unicast renewals)".
        let Some(selected) = ctx.selected else {
            return self.nak(ctx, NakReason::NoSubnet, None, reply);
        };
        let actx = ClientContext {
            identity: self.identity(ctx, Some(selected)),
            host_ids: ctx.host_ids,
            classes: &ctx.classes,
            now: ctx.now,
        };
        let authoritative = self
            .config
            .subnets
            .get(selected)
            .is_some_and(|s| s.params.authoritative);
        let (state, hint) = classify(
            ctx.q.option(54).is_some(),
            ctx.q.requested_address(),
            ctx.q.header().ciaddr(),
            ctx.received_broadcast,
        );
        self.record.request_state = Some(state);
        let check = match (state, hint) {
            (RequestState::InitReboot, Some(want)) => {
                let lease =
                    current_lease(&self.config, &*self.leases, &actx, selected).map(|(a, _)| a);
                match init_reboot(lease, want, authoritative) {
                    InitRebootVerdict::Continue => {
                        check_requested(&self.config, &*self.leases, &actx, selected, want)
                    }
                    InitRebootVerdict::Nak(r) => RequestCheck::Nak(r),
                    InitRebootVerdict::Silence(r) => RequestCheck::Silence(r),
                }
            }
            (_, Some(want)) => check_requested(&self.config, &*self.leases, &actx, selected, want),
            // "(broken) neither 50 nor ciaddr: Kea allocates an address anyway and ACKs".
            // Kea's `requestLease4` first takes the client's reserved address as the
            // request ("else if (hasAddressReservation(ctx))"), then picks like a DISCOVER.
            (_, None) => {
                let reserved = ctx
                    .reservation
                    .and_then(|r| self.config.reservations.get(r))
                    .and_then(|r| r.address);
                match reserved {
                    Some(want) => {
                        check_requested(&self.config, &*self.leases, &actx, selected, want)
                    }
                    None => match choose_for_discover(
                        &self.config,
                        &*self.leases,
                        &actx,
                        selected,
                        None,
                        self.cursors,
                    ) {
                        Some(a) => RequestCheck::Ack(a),
                        None => return Outcome::Drop(DropReason::AllocationFailed),
                    },
                }
            }
        };
        match check {
            RequestCheck::Nak(reason) => self.nak(ctx, reason, Some(selected), reply),
            RequestCheck::Silence(reason) => Outcome::Drop(DropReason::Silence(reason)),
            RequestCheck::Ack(alloc) => self.acknowledge(ctx, &alloc, reply, sink),
        }
    }

    /// Writes the ACK, then stores and reports the lease: the client's old lease first
    /// when it moved ("different → allocate it and delete the client's old lease"), then
    /// the new or renewed one ("new cltt, lifetime, possibly new hostname/client-id").
    fn acknowledge(
        &mut self,
        ctx: &Ctx<'_, '_>,
        alloc: &Allocation,
        reply: &mut [u8],
        sink: &mut dyn LeaseSink,
    ) -> Outcome {
        self.record.choose(alloc);
        let lifetime = self.lifetime(ctx, &ctx.classes, alloc.subnet);
        let mut names = NameBuffers::default();
        let name = self.client_name(ctx, alloc.reservation, &mut names);
        let plan = ReplyPlan {
            kind: ReplyKind::Ack,
            yiaddr: alloc.address,
            ciaddr: ctx.q.header().ciaddr(),
            allocation: Some(alloc),
            subnet: Some(alloc.subnet),
            reservation: alloc.reservation,
            lifetime: Some(lifetime),
            name_option: name.option,
            bare: false,
        };
        let (len, destination) = match self.build_reply(ctx, &plan, reply) {
            Ok(r) => r,
            Err(e) => return Outcome::Drop(e),
        };
        let Some(subnet_id) = self.config.subnets.get(alloc.subnet).map(|s| s.id) else {
            return Outcome::Drop(DropReason::NoSubnet);
        };
        let moved_from = alloc
            .previous
            .and_then(|previous| self.remove_lease(previous, ctx.now, sink));
        let replaced = self.prior_lease(alloc.address, ctx.now);
        let identity = self.identity(ctx, Some(alloc.subnet));
        let mut context_buf = [0u8; EXTENDED_INFO_MAX];
        let store_extended = self
            .config
            .subnets
            .get(alloc.subnet)
            .is_some_and(|s| s.params.store_extended_info);
        let user_context = if store_extended {
            ctx.q
                .option(82)
                .and_then(|rai| extended_info(rai, &mut context_buf))
                .unwrap_or("")
        } else {
            ""
        };
        let record = LeaseRecord {
            address: alloc.address,
            hwaddr: ctx.q.header().chaddr(),
            client_id: identity.client_id,
            valid_lifetime: lifetime,
            cltt: ctx.now,
            subnet_id,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: name.lease_hostname,
            state: LeaseState::Default,
            user_context,
        };
        if let Err(e) = self.commit(&record, sink) {
            return Outcome::Drop(e);
        }
        let event = if alloc.source == AddressSource::CurrentLease {
            Event::Renewed
        } else {
            Event::Allocated
        };
        Outcome::Reply {
            len,
            destination,
            kind: MessageType::Ack,
            summary: Summary {
                replaced,
                moved_from,
                ..ctx.summary(event, Some(alloc.address), Some(subnet_id), lifetime)
            },
        }
    }
}

/// Room for the extended-info user context: the JSON frame plus "0x" and two hex digits per
/// byte of a 255-byte option 82.
const EXTENDED_INFO_MAX: usize = 48 + 2 + 2 * 255;

/// The lease user context `store-extended-info` keeps (dhcpv4-server-behaviour.md §8):
/// `{"ISC": {"relay-agent-info": "0x<hex of 82 payload>"}}`, in Kea's compact JSON form
/// (`{ "k": "v" }`, kea-memfile.md column 11) with Kea's upper-case hex. `None` for an
/// empty option 82.
pub fn extended_info<'b>(rai: &[u8], buf: &'b mut [u8; EXTENDED_INFO_MAX]) -> Option<&'b str> {
    const HEAD: &[u8] = b"{ \"ISC\": { \"relay-agent-info\": \"0x";
    const TAIL: &[u8] = b"\" } }";
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if rai.is_empty() {
        return None;
    }
    let mut n = 0;
    let mut put = |b: u8, n: &mut usize| -> Option<()> {
        *buf.get_mut(*n)? = b;
        *n += 1;
        Some(())
    };
    for &b in HEAD {
        put(b, &mut n)?;
    }
    for &b in rai {
        put(*HEX.get(usize::from(b >> 4))?, &mut n)?;
        put(*HEX.get(usize::from(b & 0xf))?, &mut n)?;
    }
    for &b in TAIL {
        put(b, &mut n)?;
    }
    core::str::from_utf8(buf.get(..n)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn states_are_recognised() {
        let z = Ipv4Addr::UNSPECIFIED;
        let a = ip("198.18.1.5");
        assert_eq!(
            classify(true, Some(a), z, true),
            (RequestState::Selecting, Some(a))
        );
        assert_eq!(
            classify(false, Some(a), z, true),
            (RequestState::InitReboot, Some(a))
        );
        assert_eq!(
            classify(false, None, a, false),
            (RequestState::Renewing, Some(a))
        );
        assert_eq!(
            classify(false, None, a, true),
            (RequestState::Rebinding, Some(a))
        );
        assert_eq!(
            classify(false, None, z, true),
            (RequestState::NoAddress, None)
        );
        // 50 wins over ciaddr as the hint; without 54 it is INIT-REBOOT whatever ciaddr says.
        let b = ip("198.18.1.6");
        assert_eq!(
            classify(true, Some(b), a, false),
            (RequestState::Selecting, Some(b))
        );
        assert_eq!(
            classify(false, Some(b), a, false),
            (RequestState::InitReboot, Some(b))
        );
    }

    #[test]
    fn extended_info_is_kea_compact_json_with_upper_hex() {
        let mut buf = [0u8; EXTENDED_INFO_MAX];
        assert_eq!(
            extended_info(&[1, 2, 0xab, 0xcd], &mut buf),
            Some("{ \"ISC\": { \"relay-agent-info\": \"0x0102ABCD\" } }")
        );
        assert_eq!(extended_info(&[], &mut buf), None);
        assert!(extended_info(&[0xff; 255], &mut buf).is_some());
    }

    #[test]
    fn init_reboot_table() {
        let a = ip("198.18.1.5");
        let b = ip("198.18.1.6");
        assert_eq!(
            init_reboot(None, a, false),
            InitRebootVerdict::Silence(SilenceReason::UnknownClient)
        );
        assert_eq!(
            init_reboot(None, a, true),
            InitRebootVerdict::Nak(NakReason::NoLease)
        );
        assert_eq!(
            init_reboot(Some(b), a, false),
            InitRebootVerdict::Nak(NakReason::LeaseMismatch)
        );
        assert_eq!(
            init_reboot(Some(b), a, true),
            InitRebootVerdict::Nak(NakReason::LeaseMismatch)
        );
        assert_eq!(init_reboot(Some(a), a, false), InitRebootVerdict::Continue);
    }
}
