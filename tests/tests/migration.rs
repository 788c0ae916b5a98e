#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! The drop-in scenario: a site running Kea stops it and starts wrend on the same config and
//! the same lease file; every client keeps its address. And back (rollback): Kea reads the rows
//! wrend appended.

use std::net::Ipv4Addr;
use std::time::Duration;
use wren_tests::clients::{Client, ClientKind, ClientOptions};
use wren_tests::leases;
use wren_tests::netns::NetPair;
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_root, TestDir};

const MACS: [&str; 3] = [
    "02:57:52:00:1a:01",
    "02:57:52:00:1a:02",
    "02:57:52:00:1a:03",
];

/// A fresh client (no remembered lease) for `mac`; killed afterwards, so its lease stays.
fn fresh_lease(net: &NetPair, dir: &TestDir, mac: &str, hostname: &str) -> Ipv4Addr {
    net.flush_client();
    net.set_client_mac(mac);
    let opts = ClientOptions {
        hostname: Some(hostname.into()),
        ..Default::default()
    };
    let mut c = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &opts,
    );
    let lease = c.wait_bound(Duration::from_secs(30));
    c.stop();
    lease.address
}

#[test]
fn kea_to_wrend_and_back_keeps_every_address() {
    require_root();
    let target = ServerKind::from_env();
    let dir = TestDir::new(&format!("migration-{}", target.name()));
    let net = NetPair::basic();
    let config = render(BASIC_CONFIG, &net.server_if, dir.path());

    // 1. Kea hands out three leases (in reverse MAC order, so a server that forgot them would
    //    give different addresses to fresh DISCOVERs).
    let mut kea = Server::start(ServerKind::Kea, &net.server, dir.path(), &config);
    let mut given = Vec::new();
    for (i, mac) in MACS.iter().enumerate().rev() {
        given.push((*mac, fresh_lease(&net, &dir, mac, &format!("host-{i}"))));
    }
    assert!(kea.stop(), "Kea did not stop on SIGTERM");
    let kea_rows = leases::read_rows(&kea.lease_file()).unwrap();
    drop(kea);

    // 2. The server under test on Kea's files.
    let mut wren = Server::start(target, &net.server, dir.path(), &config);
    for (mac, addr) in &given {
        assert_eq!(
            fresh_lease(&net, &dir, mac, "after"),
            *addr,
            "{mac} after switching to {}",
            target.name()
        );
    }
    // a new client gets an address none of them holds
    let newcomer = fresh_lease(&net, &dir, "02:57:52:00:1a:99", "new");
    assert!(
        given.iter().all(|(_, a)| *a != newcomer),
        "{newcomer} was already leased"
    );
    assert!(wren.stop(), "{} did not stop on SIGTERM", target.name());
    wren.assert_no_panic();
    let rows = leases::read_rows(&wren.lease_file()).unwrap();
    assert!(rows.len() > kea_rows.len(), "no rows appended");
    assert_eq!(
        &rows[..kea_rows.len()],
        &kea_rows[..],
        "Kea's rows were rewritten"
    );
    drop(wren);

    // 3. Rollback: Kea reads what the server under test appended.
    let _kea = Server::start(ServerKind::Kea, &net.server, dir.path(), &config);
    for (mac, addr) in &given {
        assert_eq!(
            fresh_lease(&net, &dir, mac, "back"),
            *addr,
            "{mac} after rolling back to Kea"
        );
    }
    assert_eq!(
        fresh_lease(&net, &dir, "02:57:52:00:1a:99", "new"),
        newcomer,
        "newcomer after rollback"
    );
}
