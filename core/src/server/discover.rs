//! DHCPDISCOVER → DHCPOFFER (RFC 2131 §4.3.1; dhcpv4-server-behaviour.md §4). "Nothing is
//! stored; offers are not reserved \[checked\]."

use crate::assign::address::{choose_for_discover, ClientContext};
use crate::assign::LeaseStore;
use crate::server::client_name::NameBuffers;
use crate::server::destination::ReplyKind;
use crate::server::engine::{Ctx, DropReason, Engine, Event, Outcome, ReplyPlan};
use crate::server::MessageType;

impl<S: LeaseStore + ?Sized> Engine<'_, S> {
    /// Chooses an address and writes the OFFER. No subnet → no reply (§10 "No subnet for a
    /// DISCOVER: silence"); nothing available → no reply (`v4-allocation-fail`).
    pub(crate) fn discover(&mut self, ctx: &Ctx<'_, '_>, reply: &mut [u8]) -> Outcome {
        let Some(selected) = ctx.selected else {
            return Outcome::Drop(DropReason::NoSubnet);
        };
        let actx = ClientContext {
            identity: self.identity(ctx, Some(selected)),
            host_ids: ctx.host_ids,
            classes: &ctx.classes,
            now: ctx.now,
        };
        let requested = ctx.q.requested_address();
        let Some(alloc) = choose_for_discover(
            &self.config,
            &*self.leases,
            &actx,
            selected,
            requested,
            self.cursors,
        ) else {
            return Outcome::Drop(DropReason::AllocationFailed);
        };
        self.record.choose(&alloc);
        let lifetime = self.lifetime(ctx, &ctx.classes, alloc.subnet);
        let mut names = NameBuffers::default();
        let name = self.client_name(ctx, alloc.reservation, &mut names);
        let plan = ReplyPlan {
            kind: ReplyKind::Offer,
            yiaddr: alloc.address,
            ciaddr: ctx.q.header().ciaddr(),
            allocation: Some(&alloc),
            subnet: Some(alloc.subnet),
            reservation: alloc.reservation,
            lifetime: Some(lifetime),
            name_option: name.option,
            bare: false,
        };
        let subnet_id = self.config.subnets.get(alloc.subnet).map(|s| s.id);
        match self.build_reply(ctx, &plan, reply) {
            Ok((len, destination)) => Outcome::Reply {
                len,
                destination,
                kind: MessageType::Offer,
                summary: ctx.summary(Event::Offered, Some(alloc.address), subnet_id, lifetime),
            },
            Err(e) => Outcome::Drop(e),
        }
    }
}
