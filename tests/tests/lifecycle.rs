#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! Address life cycle with real clients: a full pool answers nobody, an expired lease is given
//! to the next client, and an address a client DECLINEs (dhcpcd's ARP probe finds it in use) is
//! recorded as declined and not offered again.

use std::net::Ipv4Addr;
use std::time::Duration;
use wren_tests::capture::{Capture, Dhcp};
use wren_tests::clients::{Client, ClientKind, ClientOptions};

const DHCPDECLINE: u8 = 4;
use wren_tests::leases;
use wren_tests::netns::NetPair;
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_root, wait_for, TestDir};

/// One pool address, 4-second leases.
fn one_address_config() -> String {
    BASIC_CONFIG
        .replace("198.18.0.100 - 198.18.0.199", "198.18.0.100 - 198.18.0.100")
        .replace("\"valid-lifetime\": 600", "\"valid-lifetime\": 4")
        .replace("\"renew-timer\": 2,", "")
        .replace("\"rebind-timer\": 500,", "")
}

fn expiry(kind: ServerKind) {
    require_root();
    let dir = TestDir::new(&format!("expiry-{}", kind.name()));
    let net = NetPair::basic();
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(&one_address_config(), &net.server_if, dir.path()),
    );
    let only = Ipv4Addr::new(198, 18, 0, 100);

    net.set_client_mac("02:57:52:00:0e:01");
    let mut a = Client::start(
        ClientKind::Udhcpc,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    assert_eq!(a.wait_bound(Duration::from_secs(20)).address, only);
    a.stop(); // gone without a release: the lease stays until it expires

    net.flush_client();
    net.set_client_mac("02:57:52:00:0e:02");
    let mut b = Client::start(
        ClientKind::Udhcpc,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    assert!(
        b.wait_event(0, &["BOUND"], Duration::from_millis(2500))
            .is_err(),
        "the only address was given to a second client while leased"
    );
    b.stop();

    std::thread::sleep(Duration::from_secs(3)); // A's 4-second lease has expired now
    net.flush_client();
    let mut b = Client::start(
        ClientKind::Udhcpc,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    assert_eq!(
        b.wait_bound(Duration::from_secs(20)).address,
        only,
        "expired address not reused"
    );
    b.stop();
    let last = wait_for(Duration::from_secs(5), || {
        let rows = leases::rows_for(&leases::read_rows_or_empty(&server.lease_file()), only);
        rows.last()
            .filter(|r| r.hwaddr == "02:57:52:00:0e:02")
            .cloned()
    });
    assert!(
        last.is_some(),
        "lease file does not give {only} to the second client"
    );
    server.assert_no_panic();
}

#[test]
fn expired_lease_goes_to_the_next_client() {
    expiry(ServerKind::from_env());
}

#[test]
fn expired_lease_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        expiry(ServerKind::Kea);
    }
}

fn decline(kind: ServerKind) {
    require_root();
    let dir = TestDir::new(&format!("decline-{}", kind.name()));
    let net = NetPair::basic();
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(BASIC_CONFIG, &net.server_if, dir.path()),
    );
    // The first pool address is already in use on the link (the server's namespace answers
    // ARP for it), so dhcpcd's probe finds a conflict and sends DHCPDECLINE.
    let taken = Ipv4Addr::new(198, 18, 0, 100);
    net.server
        .ip(&["addr", "add", "198.18.0.100/32", "dev", &net.server_if]);
    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "decline");
    let opts = ClientOptions {
        dhcpcd_arp_probe: true,
        ..Default::default()
    };
    let mut c = Client::start(
        ClientKind::Dhcpcd,
        &net.client,
        &net.client_if,
        dir.path(),
        &opts,
    );
    let lease = c.wait_bound(Duration::from_secs(60));
    c.stop();
    assert_ne!(
        lease.address, taken,
        "the client kept an address in use by another host"
    );
    let declines: Vec<_> = capture
        .stop()
        .into_iter()
        .filter(|p| Dhcp::parse(&p.payload).is_some_and(|d| d.message_type() == Some(DHCPDECLINE)))
        .collect();
    assert!(
        !declines.is_empty(),
        "dhcpcd sent no DHCPDECLINE: {}",
        c.log()
    );
    let rows = leases::read_rows_or_empty(&server.lease_file());
    let declined = leases::rows_for(&rows, taken);
    let last = declined
        .last()
        .unwrap_or_else(|| panic!("no lease-file row for the declined {taken}: {rows:?}"));
    assert_eq!(
        last.state, 1,
        "declined address must be stored in state 1 (declined): {last:?}"
    );
    server.assert_no_panic();
}

#[test]
fn declined_address_is_recorded_and_not_reused() {
    decline(ServerKind::from_env());
}

#[test]
fn declined_address_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        decline(ServerKind::Kea);
    }
}

/// A RELEASE naming another client's address (different chaddr, no client-id) must not free
/// it (Kea checks the lease's owner); the owner keeps it, and a third client gets another.
fn spoofed_release(kind: ServerKind) {
    use std::net::SocketAddrV4;
    use wren_tests::inject::{build_dhcp, send_udp, DhcpFields};
    require_root();
    let dir = TestDir::new(&format!("spoofed-release-{}", kind.name()));
    let net = NetPair::basic();
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(BASIC_CONFIG, &net.server_if, dir.path()),
    );
    net.set_client_mac("02:57:52:00:5a:01");
    let mut owner = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let held = owner.wait_bound(Duration::from_secs(30)).address;
    owner.stop();
    // the attacker: same link, another MAC, claims the address in ciaddr
    let mut r = DhcpFields::new(0x5a5a, [0x02, 0x57, 0x52, 0x00, 0x5a, 0x66], 7);
    r.ciaddr = held;
    r.options.push((54, net.server_ip.octets().to_vec()));
    send_udp(
        &net.client,
        SocketAddrV4::new(held, 68),
        SocketAddrV4::new(net.server_ip, 67),
        vec![build_dhcp(&r)],
    );
    std::thread::sleep(Duration::from_millis(500));
    let rows = leases::rows_for(&leases::read_rows_or_empty(&server.lease_file()), held);
    assert!(
        rows.iter().all(|r| r.valid_lifetime > 0),
        "a spoofed RELEASE freed {held}: {rows:?}"
    );
    net.flush_client();
    net.set_client_mac("02:57:52:00:5a:02");
    let mut third = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let other = third.wait_bound(Duration::from_secs(30)).address;
    third.stop();
    assert_ne!(
        other, held,
        "{held} was handed out again after a spoofed RELEASE"
    );
    // The same packet with the owner's chaddr does release it: the spoofed one reached the
    // server and was refused, not lost.
    net.flush_client();
    net.client
        .ip(&["addr", "add", &format!("{held}/24"), "dev", &net.client_if]);
    r.chaddr = [0x02, 0x57, 0x52, 0x00, 0x5a, 0x01];
    r.xid = 0x5a5b;
    send_udp(
        &net.client,
        SocketAddrV4::new(held, 68),
        SocketAddrV4::new(net.server_ip, 67),
        vec![build_dhcp(&r)],
    );
    let released = wait_for(Duration::from_secs(5), || {
        let rows = leases::rows_for(&leases::read_rows_or_empty(&server.lease_file()), held);
        rows.last().filter(|r| r.valid_lifetime == 0).map(|_| ())
    });
    assert!(
        released.is_some(),
        "the owner's RELEASE did not free {held}"
    );
    server.assert_no_panic();
}

#[test]
fn spoofed_release_is_ignored() {
    spoofed_release(ServerKind::from_env());
}

#[test]
fn spoofed_release_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        spoofed_release(ServerKind::Kea);
    }
}
