#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! HA administrator commands end to end (issue 6, kea-ha.md §5): `ha-sync` between two
//! peers. Each check runs first against a Kea 2.2 pair (kea-dhcp4 + kea-ctrl-agent +
//! libdhcp_ha.so + libdhcp_lease_cmds.so), which proves the check and pins Kea's texts,
//! then against wrend + wrend and mixed pairs.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use wren_tests::ha::{HaPeer, HaSpec, PeerKind};
use wren_tests::ha_checks::HaPair;
use wren_tests::{require_root, TestDir};

const W: PeerKind = PeerKind::Wrend;
const K: PeerKind = PeerKind::Kea;

/// Leases the scenario inserts on server1 with `lease4-add`: 7 of them, so the sync runs
/// over three pages of the harness's `sync-page-limit` 3.
const ADDED: u8 = 7;

fn added_ip(i: u8) -> String {
    format!("198.18.0.{}", 50 + i)
}

fn added_mac(i: u8) -> String {
    format!("02:aa:00:00:00:{:02x}", i + 1)
}

/// `ha-sync`'s argument errors, as Kea 2.2 answers them (checked on the reference pair by
/// `ha_sync_kea_reference`).
const ARGUMENT_ERRORS: [(&str, &str); 5] = [
    ("", "arguments not found in the 'ha-sync' command"),
    (
        r#", "arguments": { }"#,
        "'server-name' is mandatory for the 'ha-sync' command",
    ),
    (
        r#", "arguments": { "server-name": 5 }"#,
        "'server-name' must be a string in the 'ha-sync' command",
    ),
    (
        r#", "arguments": { "server-name": "server1", "max-period": 0 }"#,
        "'max-period' must be a positive integer in the 'ha-sync' command",
    ),
    (
        r#", "arguments": { "server-name": "server1", "max-period": "x" }"#,
        "'max-period' must be a positive integer in the 'ha-sync' command",
    ),
];

fn ha_sync_body(tail: &str) -> String {
    format!(r#"{{ "command": "ha-sync", "service": [ "dhcp4" ]{tail} }}"#)
}

fn lease4_get(peer: &HaPeer, ip: &str) -> String {
    let (code, body) = peer.command(&format!(
        r#"{{ "command": "lease4-get", "service": [ "dhcp4" ], "arguments": {{ "ip-address": "{ip}" }} }}"#
    ));
    assert_eq!(code, 200, "{}: lease4-get {ip}: {body}", peer.name);
    body
}

/// One command over the peer's unix control socket (kea-dhcp4's own, or wrend's): one JSON
/// object back.
fn unix_command(peer: &HaPeer, body: &str, timeout: Duration) -> String {
    let path = peer.dir.join("ctrl.sock");
    let mut s = UnixStream::connect(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Scenario "ha-sync": leases inserted on server1 with `lease4-add` (which the HA hook does
/// not send to the partner) are absent on server2 until server2's operator runs `ha-sync`
/// with `server-name: server1`; then server2 holds every one of them, and the answer is
/// Kea's, word for word, over HTTP and over the unix socket.
fn scenario_ha_sync(pair: &HaPair) {
    pair.wait_formed();
    let [s1, s2] = [&pair.peers[0], &pair.peers[1]];
    for i in 0..ADDED {
        let (code, body) = s1.command(&format!(
            r#"{{ "command": "lease4-add", "service": [ "dhcp4" ], "arguments": {{ "ip-address": "{}", "hw-address": "{}", "subnet-id": 1 }} }}"#,
            added_ip(i),
            added_mac(i)
        ));
        assert!(
            code == 200 && body.contains("\"result\": 0"),
            "{}: lease4-add on server1: {code} {body}",
            pair.describe()
        );
    }
    for i in 0..ADDED {
        let body = lease4_get(s2, &added_ip(i));
        assert!(
            body.contains("\"result\": 3"),
            "{}: lease4-add must not reach the partner by itself: {body}",
            pair.describe()
        );
    }
    for (tail, text) in ARGUMENT_ERRORS {
        let (code, body) = s2.command(&ha_sync_body(tail));
        let want = format!(r#"[ {{ "result": 1, "text": "{text}" }} ]"#);
        assert_eq!(
            (code, body.as_str()),
            (200, want.as_str()),
            "{}: ha-sync{tail}",
            pair.describe()
        );
    }
    let (code, body) = s2.command(&ha_sync_body(
        r#", "arguments": { "server-name": "server1", "max-period": 30 }"#,
    ));
    assert_eq!(
        (code, body.as_str()),
        (
            200,
            r#"[ { "result": 0, "text": "Lease database synchronization complete." } ]"#
        ),
        "{}: ha-sync; logs:\n{}",
        pair.describe(),
        pair.logs()
    );
    for i in 0..ADDED {
        let body = lease4_get(s2, &added_ip(i));
        assert!(
            body.contains("\"result\": 0") && body.contains(&added_mac(i)),
            "{}: after ha-sync server2 must hold {}: {body}",
            pair.describe(),
            added_ip(i)
        );
    }
    // The same over the unix socket (one object, no list), without max-period.
    let answer = unix_command(
        s2,
        &ha_sync_body(r#", "arguments": { "server-name": "server1" }"#),
        Duration::from_secs(30),
    );
    assert_eq!(
        answer.trim(),
        r#"{ "result": 0, "text": "Lease database synchronization complete." }"#,
        "{}: ha-sync over the unix socket",
        pair.describe()
    );
    // The pair is still formed: the partner's dhcp-disable was lifted.
    pair.wait_formed();
}

fn run(kinds: [PeerKind; 2], name: &str) {
    require_root();
    let dir = TestDir::new(name);
    let pair = HaPair::start(HaSpec::pair("load-balancing"), kinds, dir.path());
    scenario_ha_sync(&pair);
}

#[test]
fn ha_sync_kea_reference() {
    run([K, K], "hac-sync-kk");
}

#[test]
fn ha_sync_wrend() {
    run([W, W], "hac-sync-ww");
}

/// wrend pulls from Kea.
#[test]
fn ha_sync_wrend_from_kea() {
    run([K, W], "hac-sync-kw");
}
