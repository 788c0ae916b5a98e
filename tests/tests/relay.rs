#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! perfdhcp runs a bounded relayed DORA load (it acts as a relay agent: giaddr = its address) at
//! a modest rate; every exchange completes and every ACKed lease is in the lease file.

use std::collections::BTreeMap;
use wren_tests::capture::{mac_string, Capture, Dhcp, DHCPACK};
use wren_tests::clients::{run_perfdhcp, PerfdhcpOptions};
use wren_tests::leases;
use wren_tests::netns::NetPair;
use wren_tests::server::{render, Server, ServerKind, RELAY_CONFIG};
use wren_tests::{require_root, TestDir};

fn relayed_load(kind: ServerKind) {
    require_root();
    let dir = TestDir::new(&format!("relay-{}", kind.name()));
    let net = NetPair::relay();
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(RELAY_CONFIG, &net.server_if, dir.path()),
    );
    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "relay");
    let opts = PerfdhcpOptions {
        rate: 100,
        clients: 400,
        max_exchanges: 500,
        period_secs: 8,
        ..Default::default()
    };
    let report = run_perfdhcp(
        &net.client,
        &net.client_if,
        net.server_ip,
        &opts,
        dir.path(),
    );
    let packets = capture.stop();

    assert!(
        report.discover_sent >= 400,
        "perfdhcp sent too few DISCOVERs:\n{}",
        report.output
    );
    assert_eq!(
        report.drops_discover_offer, 0,
        "unanswered DISCOVERs:\n{}",
        report.output
    );
    assert_eq!(
        report.drops_request_ack, 0,
        "unanswered REQUESTs:\n{}",
        report.output
    );
    assert_eq!(
        report.offer_received, report.discover_sent,
        "{}",
        report.output
    );
    assert_eq!(
        report.ack_received, report.request_sent,
        "{}",
        report.output
    );

    // Every ACK on the wire went to the relay (giaddr) and its lease is in the file.
    let mut acked: BTreeMap<std::net::Ipv4Addr, String> = BTreeMap::new();
    for p in &packets {
        let Some(d) = Dhcp::parse(&p.payload) else {
            continue;
        };
        if d.message_type() == Some(DHCPACK) {
            assert_eq!(
                d.giaddr(),
                "198.18.0.2".parse::<std::net::Ipv4Addr>().unwrap(),
                "relayed ACK keeps giaddr"
            );
            assert_eq!(
                (p.dst_ip, p.dst_port),
                (d.giaddr(), 67),
                "relayed ACK goes to giaddr:67"
            );
            acked.insert(d.yiaddr(), mac_string(&d.chaddr()));
        }
    }
    assert!(
        acked.len() >= 300,
        "only {} distinct ACKed addresses captured",
        acked.len()
    );
    let table = leases::current(&leases::read_rows(&server.lease_file()).unwrap());
    for (addr, mac) in &acked {
        let row = table
            .get(addr)
            .unwrap_or_else(|| panic!("ACKed {addr} ({mac}) missing from the lease file"));
        assert_eq!(&row.hwaddr, mac, "lease row for {addr}");
        assert_eq!(row.subnet_id, 7);
        assert!(row.valid_lifetime > 0);
    }
    // No address was handed to two clients.
    let mut by_mac: BTreeMap<&str, usize> = BTreeMap::new();
    for mac in acked.values() {
        *by_mac.entry(mac.as_str()).or_default() += 1;
    }
    assert!(
        by_mac.values().all(|&n| n == 1),
        "a client got two addresses: {by_mac:?}"
    );
    server.assert_no_panic();
}

#[test]
fn perfdhcp_relayed_dora() {
    relayed_load(ServerKind::from_env());
}

#[test]
fn perfdhcp_relayed_dora_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        relayed_load(ServerKind::Kea);
    }
}
