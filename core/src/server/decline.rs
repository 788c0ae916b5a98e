//! DHCPDECLINE (RFC 2131 §4.3.3; dhcpv4-server-behaviour.md §9): the client found the
//! address in use.

use crate::assign::LeaseStore;
use crate::lease::{LeaseRecord, LeaseState};
use crate::server::engine::{Ctx, DropReason, Engine, Event, Outcome, Summary};
use crate::server::LeaseSink;

impl<S: LeaseStore + ?Sized> Engine<'_, S> {
    /// "Requires option 50 (else dropped as RFC violation). Lease for that address must
    /// exist and belong to the client (else warning, ignored). Lease becomes *declined*:
    /// hwaddr/client-id/hostname cleared, state 1, lifetime = `decline-probation-period`
    /// (86400 s), cltt = now \[checked\] … ciaddr is not checked." No reply.
    pub(crate) fn decline(&mut self, ctx: &Ctx<'_, '_>, sink: &mut dyn LeaseSink) -> Outcome {
        let Some(address) = ctx.q.requested_address() else {
            return Outcome::Drop(DropReason::DeclineWithoutAddress);
        };
        let found = self.leases.by_address(address).map(|l| {
            let subnet = self.config.subnets.iter().position(|s| s.id == l.subnet_id);
            let owned = l.state != LeaseState::Declined && self.identity(ctx, subnet).owns(&l);
            (owned, l.subnet_id)
        });
        let Some((true, subnet_id)) = found else {
            return Outcome::Done(ctx.summary(
                Event::DeclineIgnored,
                Some(address),
                found.map(|f| f.1),
                0,
            ));
        };
        let replaced = self.prior_lease(address, ctx.now);
        let probation = self.config.globals.decline_probation_period;
        let record = LeaseRecord {
            address,
            hwaddr: &[],
            client_id: &[],
            valid_lifetime: probation,
            cltt: ctx.now,
            subnet_id,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: "",
            state: LeaseState::Declined,
            user_context: "",
        };
        match self.commit(&record, sink) {
            Ok(()) => Outcome::Done(Summary {
                replaced,
                ..ctx.summary(Event::Declined, Some(address), Some(subnet_id), probation)
            }),
            Err(e) => Outcome::Drop(e),
        }
    }
}
