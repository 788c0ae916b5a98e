#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! The unix control socket (Kea's control channel: one JSON command per connection, answer,
//! close) with the lease_cmds commands: list-commands, status-get, config-get, lease4-get-all,
//! lease4-del, shutdown.
//!
//! The same steps run against wrend and against kea-dhcp4 2.2 (the reference that proves the
//! test can fail).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;
use wren_tests::clients::dhclient_lease;
use wren_tests::leases;
use wren_tests::netns::NetPair;
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_root, wait_for, TestDir};

const LEASE_CMDS: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so";

/// Sends one command and returns the answer with all whitespace removed (for `contains`).
fn command(socket: &Path, json: &str) -> String {
    let mut s =
        UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(json.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.chars().filter(|c| !c.is_whitespace()).collect()
}

fn control(kind: ServerKind) {
    require_root();
    let dir = TestDir::new(&format!("control-{}", kind.name()));
    let net = NetPair::basic();
    let config = BASIC_CONFIG.replace(
        "\"authoritative\": true,",
        &format!("\"authoritative\": true,\n    \"hooks-libraries\": [ {{ \"library\": \"{LEASE_CMDS}\" }} ],"),
    );
    let mut server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(&config, &net.server_if, dir.path()),
    );
    let sock = dir.join("ctrl.sock");
    assert!(
        wait_for(Duration::from_secs(5), || sock.exists().then_some(())).is_some(),
        "no control socket"
    );
    let lease = dhclient_lease(&net, dir.path());
    let ip = lease.address.to_string();
    let mac = net.client_mac();

    let a = command(&sock, r#"{ "command": "list-commands" }"#);
    for cmd in [
        "\"config-get\"",
        "\"status-get\"",
        "\"lease4-get-all\"",
        "\"lease4-del\"",
        "\"shutdown\"",
    ] {
        assert!(a.contains(cmd), "list-commands lacks {cmd}: {a}");
    }
    assert!(a.contains("\"result\":0"), "{a}");

    let a = command(&sock, r#"{ "command": "status-get" }"#);
    assert!(
        a.contains(&format!("\"pid\":{}", server.pid().unwrap())),
        "status-get: {a}"
    );

    let a = command(&sock, r#"{ "command": "config-get" }"#);
    assert!(
        a.contains("\"Dhcp4\":{") && a.contains("\"198.18.0.0/24\""),
        "config-get: {a}"
    );

    let a = command(&sock, r#"{ "command": "lease4-get-all" }"#);
    assert!(
        a.contains(&format!("\"ip-address\":\"{ip}\"")),
        "lease4-get-all lacks {ip}: {a}"
    );
    assert!(
        a.contains(&format!("\"hw-address\":\"{mac}\"")),
        "lease4-get-all lacks {mac}: {a}"
    );
    assert!(a.contains("1IPv4lease(s)found."), "{a}");

    let a = command(
        &sock,
        &format!(r#"{{ "command": "lease4-del", "arguments": {{ "ip-address": "{ip}" }} }}"#),
    );
    assert!(a.contains("\"result\":0"), "lease4-del: {a}");
    let a = command(&sock, r#"{ "command": "lease4-get-all" }"#);
    assert!(
        a.contains("\"result\":3") && !a.contains(&ip),
        "lease still there after lease4-del: {a}"
    );
    let rows = leases::read_rows(&server.lease_file()).unwrap();
    assert_eq!(
        rows.last()
            .map(|r| (r.address.to_string(), r.valid_lifetime)),
        Some((ip.clone(), 0)),
        "lease4-del is a valid_lifetime 0 row"
    );

    let a = command(&sock, r#"{ "command": "no-such-command" }"#);
    assert!(a.contains("\"result\":2"), "unknown command: {a}");

    let a = command(&sock, r#"{ "command": "shutdown" }"#);
    assert!(a.contains("\"result\":0"), "shutdown: {a}");
    assert!(
        wait_for(Duration::from_secs(10), || (!server.is_running())
            .then_some(()))
        .is_some(),
        "still running after shutdown"
    );
    server.assert_no_panic();
}

#[test]
fn control_socket_commands() {
    control(ServerKind::from_env());
}

#[test]
fn control_socket_kea_reference() {
    control(ServerKind::Kea);
}
