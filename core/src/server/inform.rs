//! DHCPINFORM → DHCPACK without an address (RFC 2131 §4.3.5; dhcpv4-server-behaviour.md §9).

use core::net::Ipv4Addr;

use crate::assign::LeaseStore;
use crate::server::destination::ReplyKind;
use crate::server::engine::{Ctx, Engine, Event, Outcome, ReplyPlan};
use crate::server::MessageType;

impl<S: LeaseStore + ?Sized> Engine<'_, S> {
    /// "Reply DHCPACK with yiaddr 0, options per PRL/always-send/basic set, fixed fields;
    /// no 51, no 1 (subnet mask) unless configured as option-data \[checked\]; no lease is
    /// touched. No subnet → ACK with only 53/54 (unicast case) \[checked\]."
    pub(crate) fn inform(&mut self, ctx: &Ctx<'_, '_>, reply: &mut [u8]) -> Outcome {
        let reservation = ctx.reservation;
        let plan = ReplyPlan {
            kind: ReplyKind::InformAck,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            ciaddr: ctx.q.header().ciaddr(),
            allocation: None,
            subnet: ctx.selected,
            reservation,
            lifetime: None,
            name_option: None,
            bare: ctx.selected.is_none(),
        };
        let subnet_id = ctx
            .selected
            .and_then(|s| self.config.subnets.get(s))
            .map(|s| s.id);
        match self.build_reply(ctx, &plan, reply) {
            Ok((len, destination)) => Outcome::Reply {
                len,
                destination,
                kind: MessageType::Ack,
                summary: ctx.summary(Event::Informed, None, subnet_id, 0),
            },
            Err(e) => Outcome::Drop(e),
        }
    }
}
