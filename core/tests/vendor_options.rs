//! Vendor options through the parser and the engine: option 43 with sub-options of its
//! encapsulated space, and option 125 (V-I vendor-specific information) with `vendor-<N>`
//! sub-options, from Kea 2.2's own example configs (doc/examples/kea4/vendor-specific.json
//! and vivso.json, addresses moved to 198.18.0.0/15) and the DOCSIS exchange of
//! kea-options.md §3.3 \[checked\] `0000118b 06 02 04 c6120a05`.

// Test code: a failed index or unwrap is a failed test.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use wren_core::lease::LeaseRecord;
use wren_core::server::{Engine, Interface, LeaseSink, MessageType, Outcome, Transport};
use wren_core::time::Timestamp;

mod common;

struct NoSink;

impl LeaseSink for NoSink {
    fn lease_changed(&mut self, _: &LeaseRecord<'_>) {}
}

/// kea4-examples/vendor-specific.json: 43 encapsulating the custom space "339" for
/// clients of class VENDOR_CLASS_339 (option 60 "339").
const VENDOR_SPECIFIC: &str = r#"{ "Dhcp4": {
  "option-def": [
    { "array": false, "code": 2, "name": "vlanid", "space": "339", "type": "uint32" },
    { "array": false, "code": 3, "name": "dls", "space": "339", "type": "string" } ],
  "client-classes": [ {
    "name": "VENDOR_CLASS_339",
    "option-def": [ { "code": 43, "encapsulate": "339", "name": "vendor-encapsulated-options",
                      "type": "empty" } ],
    "option-data": [
      { "name": "vendor-encapsulated-options" },
      { "always-send": true, "data": "123", "name": "vlanid", "space": "339" },
      { "always-send": true, "data": "sdlp://198.18.0.11:18443", "name": "dls",
        "space": "339" } ] } ],
  "interfaces-config": { "interfaces": [ "eth0" ] },
  "lease-database": { "type": "memfile" },
  "subnet4": [ { "interface": "eth0", "pools": [ { "pool": "198.18.0.50-198.18.0.50" } ],
                 "subnet": "198.18.0.0/24" } ] } }"#;

/// kea4-examples/vivso.json: the same sub-options as enterprise 339's option 125.
const VIVSO: &str = r#"{ "Dhcp4": {
  "option-def": [
    { "array": false, "code": 2, "name": "vlanid", "space": "vendor-339", "type": "uint32" },
    { "array": false, "code": 3, "name": "dls", "space": "vendor-339", "type": "string" } ],
  "client-classes": [ {
    "name": "VENDOR_CLASS_339",
    "option-data": [
      { "data": "339", "name": "vivso-suboptions" },
      { "always-send": true, "data": "123", "name": "vlanid", "space": "vendor-339" },
      { "always-send": true, "data": "sdlp://198.18.0.11:18443", "name": "dls",
        "space": "vendor-339" } ] } ],
  "interfaces-config": { "interfaces": [ "eth0" ] },
  "lease-database": { "type": "memfile" },
  "subnet4": [ { "interface": "eth0", "pools": [ { "pool": "198.18.0.50-198.18.0.50" } ],
                 "subnet": "198.18.0.0/24" } ] } }"#;

/// A cable modem's TFTP server: `tftp-servers` (standard `vendor-4491` sub-option 2).
const DOCSIS: &str = r#"{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "eth0" ] },
  "option-data": [ { "name": "tftp-servers", "space": "vendor-4491", "data": "198.18.10.5" } ],
  "subnet4": [ { "interface": "eth0", "pools": [ { "pool": "198.18.0.50-198.18.0.59" } ],
                 "subnet": "198.18.0.0/24" } ] } }"#;

fn discover(options: &[u8]) -> Vec<u8> {
    let mut all = vec![53, 1, 1];
    all.extend_from_slice(options);
    common::client_packet(0x5eed_002b, [2, 0, 0, 0, 0x01, 0x53], &all)
}

/// The options of the OFFER to a DISCOVER carrying `options`, by code.
fn offer_options(config_text: &str, options: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut store = common::ConfigStore::for_text(config_text);
    let config = store.parse(config_text);
    let mut leases = common::LeaseStore::new(16, config.pools);
    let mut table = leases.table(config.pools);
    let mut cursors = vec![Ipv4Addr::UNSPECIFIED; config.subnets.len()];
    let mut engine = Engine::new(&config, &mut table, &mut cursors);
    let server = [Ipv4Addr::new(198, 18, 0, 1)];
    let payload = discover(options);
    let eth0 = Interface {
        name: "eth0",
        addresses: &server,
        mac: [2, 0, 0, 0, 0, 1],
    };
    let q = common::broadcast_query(&payload, eth0, [2, 0, 0, 0, 0x01, 0x53], Transport::Udp);
    let mut buf = [0u8; 1500];
    let o = engine.handle(&q, Timestamp(1_800_000_000), &mut buf, &mut NoSink);
    let Outcome::Reply {
        len,
        kind: MessageType::Offer,
        ..
    } = o
    else {
        panic!("no offer: {o:?}")
    };
    common::reply_options(&buf[..len])
}

fn option(options: &[(u8, Vec<u8>)], code: u8) -> Option<&[u8]> {
    options
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, v)| v.as_slice())
}

/// vlanid 123 (sub-option 2, uint32) and dls (sub-option 3, string), ascending.
fn vlan_and_dls() -> Vec<u8> {
    let mut v = vec![2, 4, 0, 0, 0, 123, 3, 24];
    v.extend_from_slice(b"sdlp://198.18.0.11:18443");
    v
}

#[test]
fn option_43_carries_the_class_suboptions_when_requested() {
    let vendor_class = [60, 3, b'3', b'3', b'9'];
    let mut asks_43 = vendor_class.to_vec();
    asks_43.extend_from_slice(&[55, 3, 1, 3, 43]);
    let o = offer_options(VENDOR_SPECIFIC, &asks_43);
    assert_eq!(option(&o, 43), Some(&vlan_and_dls()[..]), "{o:?}");
    // Not in the class: no 43.
    let o = offer_options(VENDOR_SPECIFIC, &[55, 3, 1, 3, 43]);
    assert_eq!(option(&o, 43), None);
}

#[test]
fn option_125_from_a_prl_request_or_from_the_clients_125_is_the_same() {
    let mut expected = vec![0, 0, 1, 0x53, 32];
    expected.extend_from_slice(&vlan_and_dls());
    // Requested in the PRL: the configured (combined) 125.
    let o = offer_options(VIVSO, &[60, 3, b'3', b'3', b'9', 55, 2, 1, 125]);
    assert_eq!(option(&o, 125), Some(&expected[..]), "{o:?}");
    // Sent by the client for enterprise 339: Kea builds it from the always-send
    // sub-options of vendor-339.
    let o = offer_options(VIVSO, &[60, 3, b'3', b'3', b'9', 125, 5, 0, 0, 1, 0x53, 0]);
    assert_eq!(option(&o, 125), Some(&expected[..]), "{o:?}");
    // Neither: no 125 (the sub-options need an enterprise to go with).
    let o = offer_options(VIVSO, &[60, 3, b'3', b'3', b'9']);
    assert_eq!(option(&o, 125), None);
}

#[test]
fn docsis_modem_gets_the_tftp_server_it_asks_for_in_its_vendor_oro() {
    // Client 125: enterprise 4491, data 3 bytes: ORO (sub-option 1) = [2].
    let o = offer_options(DOCSIS, &[125, 8, 0, 0, 0x11, 0x8b, 3, 1, 1, 2]);
    assert_eq!(
        option(&o, 125),
        Some(&[0, 0, 0x11, 0x8b, 6, 2, 4, 198, 18, 10, 5][..]),
        "{o:?}"
    );
    // An ORO without 2 (and no always-send): no 125.
    let o = offer_options(DOCSIS, &[125, 8, 0, 0, 0x11, 0x8b, 3, 1, 1, 32]);
    assert_eq!(option(&o, 125), None);
}
