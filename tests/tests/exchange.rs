#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! Each real client gets a lease with the configured options, renews it by unicast, and releases
//! it; the lease file shows each step (a row per step, the release with valid_lifetime 0).

use std::net::Ipv4Addr;
use std::time::Duration;
use wren_tests::capture::{Capture, Dhcp, DHCPACK, DHCPRELEASE, DHCPREQUEST};
use wren_tests::clients::{Client, ClientKind, ClientOptions};
use wren_tests::leases;
use wren_tests::netns::NetPair;
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_root, wait_for, TestDir};

fn exchange(server_kind: ServerKind, client_kind: ClientKind) {
    require_root();
    let dir = TestDir::new(&format!(
        "exchange-{}-{}",
        client_kind.name(),
        server_kind.name()
    ));
    let net = NetPair::basic();
    let mut server = Server::start(
        server_kind,
        &net.server,
        dir.path(),
        &render(BASIC_CONFIG, &net.server_if, dir.path()),
    );
    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "client-side");
    let hostname = format!("wren-{}", client_kind.name());
    let opts = ClientOptions {
        hostname: Some(hostname.clone()),
        ..Default::default()
    };
    let mut client = Client::start(client_kind, &net.client, &net.client_if, dir.path(), &opts);

    // 1. DORA: the lease and its options.
    let lease = client.wait_bound(Duration::from_secs(30));
    let pool =
        u32::from(Ipv4Addr::new(198, 18, 0, 100))..=u32::from(Ipv4Addr::new(198, 18, 0, 199));
    assert!(
        pool.contains(&u32::from(lease.address)),
        "address {} outside the pool",
        lease.address
    );
    assert_eq!(lease.routers, vec![Ipv4Addr::new(198, 18, 0, 1)], "routers");
    assert_eq!(
        lease.dns,
        vec![Ipv4Addr::new(198, 18, 0, 53), Ipv4Addr::new(198, 18, 0, 54)],
        "DNS"
    );
    assert_eq!(lease.domain.as_deref(), Some("wren.test"), "domain-name");
    assert_eq!(lease.lease_time, Some(600), "lease time");
    assert_eq!(lease.server_id, Some(net.server_ip), "server identifier");
    let mac = net.client_mac();
    let lease_file = server.lease_file();
    let rows = wait_for(Duration::from_secs(5), || {
        let rows = leases::read_rows_or_empty(&lease_file);
        (!leases::rows_for(&rows, lease.address).is_empty()).then_some(rows)
    })
    .unwrap_or_else(|| panic!("no lease-file row for {} after the ACK", lease.address));
    let first = leases::rows_for(&rows, lease.address);
    assert_eq!(first.len(), 1, "one row after DORA: {first:?}");
    assert_eq!(first[0].hwaddr, mac);
    assert_eq!(first[0].valid_lifetime, 600);
    assert_eq!(first[0].subnet_id, 1);
    assert_eq!(first[0].state, 0);

    // 2. Renewal: unicast REQUEST with ciaddr, ACK, and a new row.
    let renewed = client.renew(Duration::from_secs(20));
    assert_eq!(renewed.address, lease.address, "renewal keeps the address");
    assert_eq!(renewed.lease_time, Some(600));
    let renew_rows = wait_for(Duration::from_secs(5), || {
        let r = leases::rows_for(&leases::read_rows_or_empty(&lease_file), lease.address);
        (r.len() >= 2).then_some(r)
    })
    .unwrap_or_else(|| panic!("no second lease-file row after the renewal"));
    assert_eq!(renew_rows[1].valid_lifetime, 600);
    assert!(
        renew_rows[1].expire >= renew_rows[0].expire,
        "renewal moves expire forward: {renew_rows:?}"
    );

    // 3. Release: a row with valid_lifetime 0.
    client.release();
    let released = wait_for(Duration::from_secs(10), || {
        let r = leases::rows_for(&leases::read_rows_or_empty(&lease_file), lease.address);
        r.last().filter(|row| row.valid_lifetime == 0).cloned()
    });
    assert!(
        released.is_some(),
        "no release row (valid_lifetime 0) for {}: {:?}",
        lease.address,
        leases::rows_for(&leases::read_rows_or_empty(&lease_file), lease.address)
    );

    // The wire: the renewal REQUEST was unicast from the leased address to the server, with
    // ciaddr set, and was ACKed by unicast; the RELEASE was unicast too.
    let packets = capture.stop();
    let renewal = packets.iter().find(|p| {
        Dhcp::parse(&p.payload)
            .is_some_and(|d| d.message_type() == Some(DHCPREQUEST) && d.ciaddr() == lease.address)
    });
    let renewal = renewal
        .unwrap_or_else(|| panic!("no renewal REQUEST captured ({} packets)", packets.len()));
    assert_eq!(
        renewal.dst_ip, net.server_ip,
        "renewal is unicast to the server"
    );
    assert_eq!(renewal.src_ip, lease.address);
    let renewal_xid = Dhcp::parse(&renewal.payload).map(|d| d.xid());
    let ack = packets.iter().find(|p| {
        Dhcp::parse(&p.payload)
            .is_some_and(|d| d.message_type() == Some(DHCPACK) && Some(d.xid()) == renewal_xid)
    });
    let ack = ack.unwrap_or_else(|| panic!("renewal not ACKed on the wire"));
    assert_eq!(ack.dst_ip, lease.address, "renewal ACK goes to ciaddr");
    let release = packets
        .iter()
        .find(|p| Dhcp::parse(&p.payload).is_some_and(|d| d.message_type() == Some(DHCPRELEASE)))
        .unwrap_or_else(|| panic!("no RELEASE captured"));
    assert_eq!(release.dst_ip, net.server_ip);
    assert!(server.is_running(), "server still running");
    server.assert_no_panic();
}

fn skip_duplicate_kea_run() -> bool {
    // With WREN_SERVER=kea every test already runs against Kea.
    ServerKind::from_env() == ServerKind::Kea
}

#[test]
fn dhclient() {
    exchange(ServerKind::from_env(), ClientKind::Dhclient);
}

#[test]
fn udhcpc() {
    exchange(ServerKind::from_env(), ClientKind::Udhcpc);
}

#[test]
fn dhcpcd() {
    exchange(ServerKind::from_env(), ClientKind::Dhcpcd);
}

#[test]
fn dhclient_kea_reference() {
    if !skip_duplicate_kea_run() {
        exchange(ServerKind::Kea, ClientKind::Dhclient);
    }
}
