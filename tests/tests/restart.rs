#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! Leases survive a server restart (SIGTERM, start again) and a SIGHUP reload: a client that had
//! an address before gets the same one after, even starting from scratch (a fresh DISCOVER
//! without any remembered address).

use std::time::Duration;
use wren_tests::clients::{dhclient_lease, Client, ClientKind, ClientOptions};
use wren_tests::netns::NetPair;
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_root, TestDir};

const MAC_B: &str = "02:57:52:00:0b:01";
const MAC_A: &str = "02:57:52:00:0a:01";

/// A fresh client process (new state files) for `mac`; returns its address, leaving the lease
/// on the server (the client is killed, not released).
fn fresh_lease(net: &NetPair, dir: &TestDir, mac: &str) -> std::net::Ipv4Addr {
    net.flush_client();
    net.set_client_mac(mac);
    let lease = dhclient_lease(net, dir.path());
    lease.address
}

fn same_address_after(kind: ServerKind, how: &str) {
    require_root();
    let dir = TestDir::new(&format!("restart-{how}-{}", kind.name()));
    let net = NetPair::basic();
    let mut server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(BASIC_CONFIG, &net.server_if, dir.path()),
    );
    // B takes the first address a fresh allocator would hand out, A the next one: if the server
    // forgot its leases, A would be offered B's old address after the restart.
    let b_before = fresh_lease(&net, &dir, MAC_B);
    let a_before = fresh_lease(&net, &dir, MAC_A);
    assert_ne!(a_before, b_before);
    match how {
        "sigterm" => {
            assert!(
                server.stop(),
                "{} did not exit on SIGTERM within 10 s",
                kind.name()
            );
            server.restart(&net.server);
        }
        "sighup" => {
            assert!(server.reload(), "SIGHUP not delivered");
            std::thread::sleep(Duration::from_secs(1));
            assert!(
                server.is_running(),
                "{} died on SIGHUP:\n{}",
                kind.name(),
                server.log()
            );
        }
        _ => unreachable!(),
    }
    let a_after = fresh_lease(&net, &dir, MAC_A);
    assert_eq!(a_after, a_before, "client A's address after {how}");
    let b_after = fresh_lease(&net, &dir, MAC_B);
    assert_eq!(b_after, b_before, "client B's address after {how}");
    server.assert_no_panic();
}

#[test]
fn same_address_after_restart() {
    same_address_after(ServerKind::from_env(), "sigterm");
}

#[test]
fn same_address_after_sighup_reload() {
    same_address_after(ServerKind::from_env(), "sighup");
}

#[test]
fn same_address_after_restart_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        same_address_after(ServerKind::Kea, "sigterm");
    }
}

/// SIGHUP re-reads the config file: a changed option reaches the next client.
#[test]
fn sighup_applies_a_changed_config() {
    require_root();
    let kind = ServerKind::from_env();
    let dir = TestDir::new("reload-config");
    let net = NetPair::basic();
    let config = render(BASIC_CONFIG, &net.server_if, dir.path());
    let mut server = Server::start(kind, &net.server, dir.path(), &config);
    server.write_config(&config.replace("\"wren.test\"", "\"reloaded.wren.test\""));
    assert!(server.reload());
    std::thread::sleep(Duration::from_secs(1));
    assert!(server.is_running(), "died on SIGHUP:\n{}", server.log());
    let mut c = Client::start(
        ClientKind::Udhcpc,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let lease = c.wait_bound(Duration::from_secs(30));
    c.stop();
    assert_eq!(lease.domain.as_deref(), Some("reloaded.wren.test"));
    server.assert_no_panic();
}

/// A SIGHUP with a broken config file keeps the server running on the old config (Kea logs the
/// error and carries on), and a later SIGHUP with a fixed file applies it.
#[test]
fn sighup_with_a_broken_config_keeps_the_old_one() {
    require_root();
    let kind = ServerKind::from_env();
    let dir = TestDir::new("reload-broken");
    let net = NetPair::basic();
    let config = render(BASIC_CONFIG, &net.server_if, dir.path());
    let mut server = Server::start(kind, &net.server, dir.path(), &config);
    server.write_config(&config.replace("\"valid-lifetime\": 600,", "\"valid-lifetime\": 600\n"));
    assert!(server.reload());
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        server.is_running(),
        "died on SIGHUP with a broken config:\n{}",
        server.log()
    );
    let mut c = Client::start(
        ClientKind::Udhcpc,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let lease = c.wait_bound(Duration::from_secs(30));
    c.stop();
    assert_eq!(
        lease.domain.as_deref(),
        Some("wren.test"),
        "old config still served"
    );
    assert_eq!(lease.lease_time, Some(600));
    server.write_config(&config.replace("\"valid-lifetime\": 600,", "\"valid-lifetime\": 900,"));
    assert!(server.reload());
    std::thread::sleep(Duration::from_secs(1));
    net.flush_client();
    net.set_client_mac("02:57:52:00:0f:01");
    let mut c = Client::start(
        ClientKind::Udhcpc,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let lease = c.wait_bound(Duration::from_secs(30));
    c.stop();
    assert_eq!(lease.lease_time, Some(900), "the fixed config was applied");
    server.assert_no_panic();
}
