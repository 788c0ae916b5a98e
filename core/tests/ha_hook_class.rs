//! Kea's HA hook puts every served query in `HA_<server whose scope it is in>` before
//! processing (kea-ha.md §3), and Kea's load-balancing configs give each server its own pools
//! with `"client-class": "HA_server1"` / `"HA_server2"`. The engine must treat that class like
//! any other when selecting pools: `Engine::with_hook_class`.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use wren_core::lease::LeaseRecord;
use wren_core::server::{Engine, Interface, LeaseSink, MessageType, Outcome, Query, Transport};
use wren_core::time::Timestamp;

mod common;

struct NoSink;

impl LeaseSink for NoSink {
    fn lease_changed(&mut self, _: &LeaseRecord<'_>) {}
}

/// The Kea ARM's load-balancing layout: one pool per scope.
const LB: &str = r#"{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "eth0" ] },
  "subnet4": [ { "id": 1, "interface": "eth0", "subnet": "198.18.0.0/24",
    "pools": [ { "pool": "198.18.0.100 - 198.18.0.149", "client-class": "HA_server1" },
               { "pool": "198.18.0.150 - 198.18.0.199", "client-class": "HA_server2" } ] } ] } }"#;

fn discover() -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&[0x5e, 0xed, 0, 44]);
    p[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 3]);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, 1, 255]);
    p
}

/// The address offered with `hook_class` (`None` when the DISCOVER is not answered).
fn offered(hook_class: &[u8]) -> Option<Ipv4Addr> {
    let mut store = common::ConfigStore::for_text(LB);
    let config = store.parse(LB);
    let mut leases = common::LeaseStore::new(16, config.pools);
    let mut table = leases.table(config.pools);
    let mut cursors = vec![Ipv4Addr::UNSPECIFIED; config.subnets.len()];
    let mut engine = Engine::new(&config, &mut table, &mut cursors).with_hook_class(hook_class);
    let server = [Ipv4Addr::new(198, 18, 0, 1)];
    let payload = discover();
    let q = Query {
        payload: &payload,
        interface: Interface {
            name: "eth0",
            addresses: &server,
            mac: [2, 0, 0, 0, 0, 1],
        },
        source_ip: Ipv4Addr::UNSPECIFIED,
        source_port: 68,
        destination_ip: Ipv4Addr::BROADCAST,
        source_mac: [2, 0, 0, 0, 0, 3],
        transport: Transport::Udp,
    };
    let mut buf = [0u8; 1500];
    match engine.handle(&q, Timestamp(1_800_000_000), &mut buf, &mut NoSink) {
        Outcome::Reply {
            kind: MessageType::Offer,
            ..
        } => Some(Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19])),
        _ => None,
    }
}

#[test]
fn ha_class_selects_the_scope_pool() {
    assert_eq!(offered(b"HA_server1"), Some(Ipv4Addr::new(198, 18, 0, 100)));
    assert_eq!(offered(b"HA_server2"), Some(Ipv4Addr::new(198, 18, 0, 150)));
}

#[test]
fn without_the_ha_class_no_pool_admits_the_client() {
    assert_eq!(offered(b""), None);
    assert_eq!(offered(b"HA_server3"), None);
    // The prefix alone is not the class.
    assert_eq!(offered(b"HA_"), None);
}
