//! DHCPRELEASE (RFC 2131 §4.3.4; dhcpv4-server-behaviour.md §9).

use crate::assign::LeaseStore;
use crate::lease::LeaseState;
use crate::server::engine::{Ctx, Engine, Event, Outcome, Summary};
use crate::server::LeaseSink;

impl<S: LeaseStore + ?Sized> Engine<'_, S> {
    /// "Lease looked up by **ciaddr**; must exist and belong to the client (else ignored).
    /// Lease deleted (CSV line with lifetime 0) \[checked\] … (RFC 2131 allows keeping the
    /// binding for affinity; Kea deletes it.)" No reply.
    pub(crate) fn release(&mut self, ctx: &Ctx<'_, '_>, sink: &mut dyn LeaseSink) -> Outcome {
        let address = ctx.q.header().ciaddr();
        let found = self.leases.by_address(address).map(|l| {
            let subnet = self.config.subnets.iter().position(|s| s.id == l.subnet_id);
            let owned = l.state != LeaseState::Declined && self.identity(ctx, subnet).owns(&l);
            (owned, l.subnet_id)
        });
        match found {
            Some((true, subnet_id)) => {
                let replaced = self.remove_lease(address, ctx.now, sink);
                Outcome::Done(Summary {
                    replaced,
                    ..ctx.summary(Event::Released, Some(address), Some(subnet_id), 0)
                })
            }
            _ => Outcome::Done(ctx.summary(
                Event::ReleaseIgnored,
                Some(address),
                found.map(|f| f.1),
                0,
            )),
        }
    }
}
