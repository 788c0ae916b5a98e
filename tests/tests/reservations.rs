#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! The founding user's config, moved to 198.18.0.0/24 (tests/configs/seed-198.conf.in), serves
//! reserved clients their reserved address, hostname and boot file.

use std::net::Ipv4Addr;
use std::time::Duration;
use wren_tests::clients::{Client, ClientKind, ClientOptions};
use wren_tests::leases;
use wren_tests::netns::{NetPair, PairOptions};
use wren_tests::server::{render, Server, ServerKind};
use wren_tests::{require_root, wait_for, TestDir};

const SEED_198: &str = include_str!("../configs/seed-198.conf.in");

fn seed_pair(mac: Option<&str>) -> NetPair {
    NetPair::new(&PairOptions {
        client_mac: mac.map(str::to_string),
        ..Default::default()
    })
}

fn reserved_by_mac(kind: ServerKind, client: ClientKind) {
    require_root();
    let dir = TestDir::new(&format!("resv-mac-{}-{}", client.name(), kind.name()));
    let net = seed_pair(Some("80:2a:a8:93:be:b8"));
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(SEED_198, &net.server_if, dir.path()),
    );
    let c = Client::start(
        client,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let lease = c.wait_bound(Duration::from_secs(30));
    assert_eq!(
        lease.address,
        Ipv4Addr::new(198, 18, 0, 29),
        "reserved address for 80:2a:a8:93:be:b8"
    );
    assert_eq!(
        lease.hostname.as_deref(),
        Some("ubnt-ap1"),
        "reserved hostname (option 12)"
    );
    assert_eq!(lease.routers, vec![Ipv4Addr::new(198, 18, 0, 1)]);
    assert_eq!(lease.domain.as_deref(), Some("home.michaelc.dev"));
    assert_eq!(
        lease.dns,
        ["198.18.0.2", "198.18.0.3", "198.18.0.8", "198.18.0.9"]
            .map(|a| a.parse::<Ipv4Addr>().unwrap())
            .to_vec()
    );
    assert_eq!(lease.lease_time, Some(172800));
    let lease_file = server.lease_file();
    let row = wait_for(Duration::from_secs(5), || {
        leases::current(&leases::read_rows_or_empty(&lease_file))
            .get(&lease.address)
            .cloned()
    })
    .expect("reserved lease in the lease file");
    assert_eq!(row.hwaddr, "80:2a:a8:93:be:b8");
    assert_eq!(
        row.hostname, "ubnt-ap1",
        "the lease row carries the reserved hostname"
    );
    assert_eq!(row.valid_lifetime, 172800);
    server.assert_no_panic();
}

#[test]
fn reserved_mac_dhclient() {
    reserved_by_mac(ServerKind::from_env(), ClientKind::Dhclient);
}

#[test]
fn reserved_mac_udhcpc() {
    reserved_by_mac(ServerKind::from_env(), ClientKind::Udhcpc);
}

#[test]
fn reserved_mac_dhclient_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        reserved_by_mac(ServerKind::Kea, ClientKind::Dhclient);
    }
}

/// A client-id reservation (indigo2): udhcpc sends option 61 = 08:00:69:07:dc:e8 and gets
/// .205 with the reserved boot file name in the BOOTP `file` field.
#[test]
fn reserved_client_id_udhcpc() {
    require_root();
    let kind = ServerKind::from_env();
    let dir = TestDir::new("resv-clientid");
    let net = seed_pair(None);
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(SEED_198, &net.server_if, dir.path()),
    );
    let opts = ClientOptions {
        client_id_hex: Some("08006907dce8".into()),
        ..Default::default()
    };
    let c = Client::start(
        ClientKind::Udhcpc,
        &net.client,
        &net.client_if,
        dir.path(),
        &opts,
    );
    let lease = c.wait_bound(Duration::from_secs(30));
    assert_eq!(lease.address, Ipv4Addr::new(198, 18, 0, 205));
    assert_eq!(
        lease.boot_file.as_deref(),
        Some("/data/irix/i/22/disc1/stand/fx.ARCS")
    );
    let (_, ev) = c.wait_event(0, &["BOUND"], Duration::from_secs(1)).unwrap();
    assert_eq!(
        ev.vars.get("sname").map(String::as_str),
        Some("indigo2"),
        "server-hostname in sname"
    );
    server.assert_no_panic();
}

/// A client without a reservation gets a pool address that is not anybody's reservation.
#[test]
fn unreserved_client_gets_pool_address() {
    require_root();
    let kind = ServerKind::from_env();
    let dir = TestDir::new("resv-none");
    let net = seed_pair(Some("02:57:52:00:aa:01"));
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(SEED_198, &net.server_if, dir.path()),
    );
    let c = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let lease = c.wait_bound(Duration::from_secs(30));
    let o = lease.address.octets();
    assert!(
        (20..=250).contains(&o[3]) && o[..3] == [198, 18, 0],
        "pool address, got {}",
        lease.address
    );
    let reserved = [29u8, 24, 35, 36, 50, 106, 107, 111, 112, 116, 204, 205, 206];
    assert!(
        !reserved.contains(&o[3]),
        "{} is reserved for another client",
        lease.address
    );
    server.assert_no_panic();
}
