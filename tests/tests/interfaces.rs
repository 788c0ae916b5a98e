#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! A server on two interfaces with a subnet each: a client on each link gets an address and
//! options from its own link's subnet (Kea selects the subnet by the receiving interface's
//! address), with the interfaces listed by name and with "*".

use std::net::Ipv4Addr;
use std::time::Duration;
use wren_tests::clients::{Client, ClientKind, ClientOptions};
use wren_tests::netns::NetPair;
use wren_tests::server::{render, Server, ServerKind};
use wren_tests::{require_root, TestDir};

const TWO_SUBNETS: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ @INTERFACES@ ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "@DIR@/leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 600,
    "subnet4": [
      { "id": 10, "subnet": "198.18.0.0/24", "pools": [ { "pool": "198.18.0.100 - 198.18.0.199" } ],
        "option-data": [ { "name": "routers", "data": "198.18.0.1" } ] },
      { "id": 20, "subnet": "198.18.2.0/24", "pools": [ { "pool": "198.18.2.100 - 198.18.2.199" } ],
        "option-data": [ { "name": "routers", "data": "198.18.2.1" }, { "name": "domain-name", "data": "second.wren.test" } ] }
    ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "INFO" } ]
  }
}
"#;

fn two_links(kind: ServerKind, wildcard: bool) {
    require_root();
    let dir = TestDir::new(&format!("ifaces-{}-{wildcard}", kind.name()));
    let net = NetPair::basic();
    let second = net.add_client_link("198.18.2.1/24");
    let list = if wildcard {
        "\"*\"".to_string()
    } else {
        format!("\"{}\", \"{}\"", net.server_if, second.server_if)
    };
    let config = render(
        &TWO_SUBNETS.replace("@INTERFACES@", &list),
        &net.server_if,
        dir.path(),
    );
    let server = Server::start(kind, &net.server, dir.path(), &config);

    let mut a = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let mut b = Client::start(
        ClientKind::Udhcpc,
        &second.client,
        &second.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let la = a.wait_bound(Duration::from_secs(30));
    let lb = b.wait_bound(Duration::from_secs(30));
    a.stop();
    b.stop();
    assert_eq!(
        la.address.octets()[..3],
        [198, 18, 0],
        "link 1 client got {}",
        la.address
    );
    assert_eq!(la.routers, vec![Ipv4Addr::new(198, 18, 0, 1)]);
    assert_eq!(la.domain, None);
    assert_eq!(
        lb.address.octets()[..3],
        [198, 18, 2],
        "link 2 client got {}",
        lb.address
    );
    assert_eq!(lb.routers, vec![Ipv4Addr::new(198, 18, 2, 1)]);
    assert_eq!(
        lb.server_id,
        Some(Ipv4Addr::new(198, 18, 2, 1)),
        "server id is the receiving interface's address"
    );
    assert_eq!(lb.domain.as_deref(), Some("second.wren.test"));
    let rows = wren_tests::leases::read_rows(&server.lease_file()).unwrap();
    let ids: Vec<(Ipv4Addr, u32)> = rows.iter().map(|r| (r.address, r.subnet_id)).collect();
    assert!(
        ids.contains(&(la.address, 10)) && ids.contains(&(lb.address, 20)),
        "lease rows {ids:?}"
    );
    server.assert_no_panic();
}

#[test]
fn two_interfaces_by_name() {
    two_links(ServerKind::from_env(), false);
}

#[test]
fn two_interfaces_wildcard() {
    two_links(ServerKind::from_env(), true);
}

#[test]
fn two_interfaces_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        two_links(ServerKind::Kea, false);
    }
}

/// `re-detect`: with `"*"`, a link that appears after wrend started is picked up (wrend
/// watches netlink / PF_ROUTE for new interfaces and rescans), not fatal and not ignored.
/// Kea 2.2 only re-detects interfaces on reconfiguration, so there is no Kea variant.
#[test]
fn interface_added_after_start_is_served() {
    let kind = ServerKind::from_env();
    if kind == ServerKind::Kea {
        return; // Kea needs a reconfiguration to see a new interface (see above).
    }
    require_root();
    let dir = TestDir::new("ifaces-late");
    let net = NetPair::basic();
    let config = render(
        &TWO_SUBNETS.replace("@INTERFACES@", "\"*\""),
        &net.server_if,
        dir.path(),
    );
    let server = Server::start(kind, &net.server, dir.path(), &config);
    // The second link only exists now, after the server is serving the first one.
    let second = net.add_client_link("198.18.2.1/24");
    let mut b = Client::start(
        ClientKind::Udhcpc,
        &second.client,
        &second.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let lb = b.wait_bound(Duration::from_secs(30));
    b.stop();
    assert_eq!(
        lb.address.octets()[..3],
        [198, 18, 2],
        "the late link's client got {}",
        lb.address
    );
    assert_eq!(lb.server_id, Some(Ipv4Addr::new(198, 18, 2, 1)));
    server.assert_no_panic();
}
