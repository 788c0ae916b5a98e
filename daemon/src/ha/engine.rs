//! The HA filter around the DHCP engine (Kea's `buffer4_receive` and `leases4_committed`
//! hooks): every query is first shown to the state machine, which serves it or drops it
//! (scope, disabled service, failure detection); the lease changes of a served
//! REQUEST/RELEASE/DECLINE are formatted as `lease4-update`/`lease4-del` while the engine
//! makes them, and the reply is parked until the partner acknowledges them.
//!
//! Nothing is allocated per packet: the option scratch and the staging buffers are reused.

use wren_core::ha::load_balance::QueryFacts;
use wren_core::ha::state::{DropReason, Verdict};
use wren_core::lease::{LeaseRecord, LeaseTable};
use wren_core::server::{Destination, LeaseSink, Query};
use wren_core::stats::Stats;
use wren_core::time::Timestamp;
use wren_core::wire::Message;

use super::{Shared, Staging};
use crate::packet_path::{Engine, Hold};

/// DHCPREQUEST, DHCPDECLINE, DHCPRELEASE: the queries whose lease changes the partner gets
/// (kea-ha.md §6: `leases4_committed`, never DISCOVER).
fn sends_updates(message_type: Option<u8>) -> bool {
    matches!(message_type, Some(3 | 4 | 7))
}

/// Forwards every lease change to the lease file and stages it for the partner.
struct UpdateTap<'a, S: LeaseSink> {
    sink: &'a mut S,
    staging: Option<&'a mut Staging>,
}

impl<S: LeaseSink> LeaseSink for UpdateTap<'_, S> {
    fn lease_changed(&mut self, record: &LeaseRecord<'_>) {
        self.sink.lease_changed(record);
        if let Some(s) = self.staging.as_deref_mut() {
            s.push(record);
        }
    }
}

/// An [`Engine`] with the HA relationship in front of it.
pub struct HaEngine<E> {
    inner: E,
    ha: Option<Shared>,
    options: Vec<u8>,
    hold: Hold,
}

impl<E: Engine> HaEngine<E> {
    /// `inner` behind the HA filter of `ha` (none: a plain pass-through).
    pub fn new(inner: E, ha: Option<Shared>) -> HaEngine<E> {
        HaEngine {
            inner,
            ha,
            options: vec![0; 65_535],
            hold: Hold::Send,
        }
    }

    /// The wrapped engine.
    pub fn inner_mut(&mut self) -> &mut E {
        &mut self.inner
    }
}

impl<E: Engine> Engine for HaEngine<E> {
    fn handle<S: LeaseSink>(
        &mut self,
        query: &Query<'_>,
        now: Timestamp,
        reply: &mut [u8],
        sink: &mut S,
    ) -> Option<(usize, Destination)> {
        self.hold = Hold::Send;
        let Some(ha) = self.ha.as_ref() else {
            return self.inner.handle(query, now, reply, sink);
        };
        let scratch = self.options.get_mut(..query.payload.len())?;
        // A query that does not parse is the engine's to drop (and count).
        let Ok(message) = Message::parse(query.payload, scratch) else {
            return self.inner.handle(query, now, reply, sink);
        };
        let header = message.header();
        let facts = QueryFacts {
            message_type: message.option(53).and_then(|v| v.first().copied()),
            client_id: message.client_identifier().unwrap_or(&[]),
            chaddr: header.chaddr(),
            secs: header.secs(),
        };
        let mut rt = ha.borrow_mut();
        let now_ms = rt.now_ms();
        match rt.service_mut().on_query(&facts, now_ms) {
            Verdict::Serve => {}
            Verdict::Drop(reason) => {
                match reason {
                    DropReason::ServiceDisabled => log::debug!(
                        "HA_BUFFER4_RECEIVE_PACKET_DROPPED DHCP service disabled by the HA state {}",
                        rt.service().state().name()
                    ),
                    DropReason::NotInScope => log::debug!(
                        "HA_BUFFER4_RECEIVE_NOT_FOR_US xid=0x{:x}: in the partner's scope",
                        header.xid()
                    ),
                    DropReason::NoKey => log::debug!(
                        "HA_BUFFER4_RECEIVE_PACKET_DROPPED no client identifier and no chaddr"
                    ),
                }
                return None;
            }
        }
        // kea-ha.md §3: the packet is in the class of its scope's owner, `HA_<name>`.
        let class = rt.hook_class(&facts);
        self.inner.set_hook_class(class);
        let updates = sends_updates(facts.message_type);
        rt.staging.clear();
        let result = {
            let mut tap = UpdateTap {
                sink,
                staging: updates.then_some(&mut rt.staging),
            };
            self.inner.handle(query, now, reply, &mut tap)
        };
        if updates {
            self.hold = rt.lease_committed();
        }
        result
    }

    fn hold(&mut self) -> Hold {
        std::mem::replace(&mut self.hold, Hold::Send)
    }

    fn reclaim_expired<S: LeaseSink>(&mut self, now: Timestamp, sink: &mut S) -> usize {
        // Each server reclaims its own copy; Kea sends no updates for reclamation.
        self.inner.reclaim_expired(now, sink)
    }

    fn with_leases(&self, f: &mut dyn FnMut(&mut dyn Iterator<Item = LeaseRecord<'_>>)) {
        self.inner.with_leases(f)
    }

    fn with_control(
        &mut self,
        f: &mut dyn FnMut(
            &wren_core::config::Config<'_>,
            &mut LeaseTable<'_>,
            Option<&mut Stats<'_>>,
        ),
    ) {
        self.inner.with_control(f)
    }

    fn set_serving(&mut self, serving: bool) {
        self.inner.set_serving(serving)
    }

    fn set_hook_class(&mut self, class: &'static [u8]) {
        self.inner.set_hook_class(class)
    }

    // [packet trace] The `wren-trace` switch reaches the engine that decides (without this
    // the HA wrapper's default dropped it and the command traced nothing).
    fn attach_trace(&mut self, switch: crate::trace::SharedSwitch) {
        self.inner.attach_trace(switch)
    }
}
