//! HA administrator commands end to end (kea-ha.md §5, §6): `ha-sync` on a Kea + Kea pair
//! first (the reference that proves the check: the leases really are missing on the
//! operator's peer before, and Kea's answers are the texts asserted), then wrend + wrend and
//! both mixed pairs.
//!
//! `lease4-add` stores a lease on one peer only (the HA hook sends lease updates for DHCP
//! traffic, never for lease commands), so `ha-sync` sent to the other peer is the only way
//! those leases get there.

// Test code: a malformed answer is a test failure.
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use wren_tests::clients::ClientKind;
use wren_tests::ha::{lb_bucket, HaPeer, HaSpec, PeerKind};
use wren_tests::ha_checks::{load_and_capture, mac_in_bucket, real_client, HaPair};
use wren_tests::{require_root, TestDir};

/// `result` and `text` of the first answer object in `body`.
fn result_text(body: &str) -> (Option<i64>, Option<String>) {
    let result = body
        .find("\"result\"")
        .map(|i| &body[i + 8..])
        .and_then(|r| r.trim_start().strip_prefix(':'))
        .and_then(|r| {
            let digits: String = r
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            digits.parse().ok()
        });
    (result, wren_tests::ha::json_string_after(body, "\"text\""))
}

/// One command over HTTP with the admin credentials: (result, text, body).
fn http_command(peer: &HaPeer, body: &str) -> (Option<i64>, Option<String>, String) {
    let (code, answer) = peer.command(body);
    assert_eq!(code, 200, "{}: {body}: HTTP {code}: {answer}", peer.name);
    let (r, t) = result_text(&answer);
    (r, t, answer)
}

/// One command over the peer's unix control socket (kea-dhcp4's own, or wrend's).
fn unix_command(peer: &HaPeer, body: &str, timeout: Duration) -> String {
    let path = peer.dir.join("ctrl.sock");
    let mut s = UnixStream::connect(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Kea answers and closes; so does wrend. A whole JSON object is enough either way.
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if balanced(&answer) {
                    break;
                }
            }
            Err(e) => panic!(
                "{}: {body}: {e} after {:?}",
                peer.name,
                String::from_utf8_lossy(&answer)
            ),
        }
    }
    String::from_utf8(answer).unwrap()
}

fn balanced(b: &[u8]) -> bool {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut esc = false;
    let mut seen = false;
    for &c in b {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                seen = true
            }
            b'}' | b']' => depth -= 1,
            _ => {}
        }
    }
    seen && depth == 0
}

fn lease_json(i: u8) -> String {
    format!(
        r#"{{ "ip-address": "198.18.0.{}", "hw-address": "02:00:00:5c:00:{:02x}", "subnet-id": 1, "valid-lft": 3600, "hostname": "sync{i}" }}"#,
        230 + i,
        i
    )
}

fn lease4_get(peer: &HaPeer, i: u8) -> (Option<i64>, String) {
    let (r, _, body) = http_command(
        peer,
        &format!(
            r#"{{ "command": "lease4-get", "service": [ "dhcp4" ], "arguments": {{ "ip-address": "198.18.0.{}" }} }}"#,
            230 + i
        ),
    );
    (r, body)
}

/// The answers Kea 2.2's HA hook gives to `ha-sync` (read off the Kea + Kea run).
const SYNC_COMPLETE: &str = "Lease database synchronization complete.";
/// `ha-sync`'s text when the partner's port refuses the connection.
const PARTNER_REFUSED: &str = "Connection refused";
const ARGUMENT_ERRORS: &[(&str, &str)] = &[
    ("", "arguments not found in the 'ha-sync' command"),
    (
        r#", "arguments": { }"#,
        "'server-name' is mandatory for the 'ha-sync' command",
    ),
    (
        r#", "arguments": { "server-name": 7 }"#,
        "'server-name' must be a string in the 'ha-sync' command",
    ),
    (
        r#", "arguments": { "server-name": "server1", "max-period": 0 }"#,
        "'max-period' must be a positive integer in the 'ha-sync' command",
    ),
];

/// Scenario "ha-sync": leases added on `source` only, `ha-sync` sent to the other peer
/// (HTTP with `max-period`, then the unix socket without), the leases appear there, both
/// answers are Kea's, and the pair stays in its normal state.
fn scenario_ha_sync(pair: &mut HaPair, source: usize) {
    let target = 1 - source;
    pair.wait_formed();
    let src = &pair.peers[source];
    let dst = &pair.peers[target];
    // Argument errors: Kea 2.2's texts (read off the Kea + Kea run).
    for (args, want) in ARGUMENT_ERRORS {
        let (r, t, body) = http_command(
            dst,
            &format!(r#"{{ "command": "ha-sync", "service": [ "dhcp4" ]{args} }}"#),
        );
        assert_eq!(
            (r, t.as_deref()),
            (Some(1), Some(*want)),
            "{}: ha-sync{args}: {body}",
            pair.describe()
        );
    }
    if dst.kind == PeerKind::Wrend {
        // Kea 2.2 drops the connection here (its exception escapes the handler); wren
        // refuses with a reason.
        let (r, t, body) = http_command(
            dst,
            r#"{ "command": "ha-sync", "service": [ "dhcp4" ], "arguments": { "server-name": "nosuch" } }"#,
        );
        assert_eq!(r, Some(1), "{}: ha-sync nosuch: {body}", pair.describe());
        assert!(t.unwrap().contains("'nosuch'"), "{body}");
    }
    // Seven leases (more than two pages of sync-page-limit 3) on the source only.
    for i in 0..7u8 {
        let (r, t, body) = http_command(
            src,
            &format!(
                r#"{{ "command": "lease4-add", "service": [ "dhcp4" ], "arguments": {} }}"#,
                lease_json(i)
            ),
        );
        assert_eq!(r, Some(0), "{}: lease4-add: {t:?} {body}", pair.describe());
    }
    // Not there yet: lease commands are not HA updates (else this check would be vacuous).
    std::thread::sleep(Duration::from_secs(2));
    for i in 0..7u8 {
        let (r, body) = lease4_get(dst, i);
        assert_eq!(
            r,
            Some(3),
            "{}: {} has lease {i} before ha-sync: {body}",
            pair.describe(),
            dst.name
        );
    }
    let started = Instant::now();
    let (r, t, body) = http_command(
        dst,
        &format!(
            r#"{{ "command": "ha-sync", "service": [ "dhcp4" ], "arguments": {{ "server-name": "{}", "max-period": 30 }} }}"#,
            src.name
        ),
    );
    eprintln!("[ha-sync over HTTP] {:?}: {body}", started.elapsed());
    assert_eq!(
        (r, t.as_deref()),
        (Some(0), Some(SYNC_COMPLETE)),
        "{}: ha-sync to {}: {body}\nlogs:\n{}",
        pair.describe(),
        dst.name,
        pair.logs()
    );
    for i in 0..7u8 {
        let (r, body) = lease4_get(dst, i);
        assert_eq!(
            r,
            Some(0),
            "{}: lease {i} after ha-sync: {body}",
            pair.describe()
        );
        assert!(
            body.contains(&format!("02:00:00:5c:00:{i:02x}")),
            "{}: lease {i} after ha-sync: {body}",
            pair.describe()
        );
    }
    // More leases, then the unix socket without max-period.
    for i in 7..9u8 {
        let (r, t, body) = http_command(
            src,
            &format!(
                r#"{{ "command": "lease4-add", "service": [ "dhcp4" ], "arguments": {} }}"#,
                lease_json(i)
            ),
        );
        assert_eq!(r, Some(0), "{}: lease4-add: {t:?} {body}", pair.describe());
    }
    let started = Instant::now();
    let answer = unix_command(
        dst,
        &format!(
            r#"{{ "command": "ha-sync", "arguments": {{ "server-name": "{}" }} }}"#,
            src.name
        ),
        Duration::from_secs(30),
    );
    eprintln!("[ha-sync over unix] {:?}: {answer}", started.elapsed());
    let (r, t) = result_text(&answer);
    assert_eq!(
        (r, t.as_deref()),
        (Some(0), Some(SYNC_COMPLETE)),
        "{}: ha-sync over unix to {}: {answer}",
        pair.describe(),
        dst.name
    );
    for i in 7..9u8 {
        let (r, body) = lease4_get(dst, i);
        assert_eq!(
            r,
            Some(0),
            "{}: lease {i} after ha-sync: {body}",
            pair.describe()
        );
    }
    // The partner's service came back and the relationship is untouched.
    pair.wait_formed();
    // On the wire: the HTTP ha-sync's dhcp-disable carried `max-period` 30, the one
    // without `max-period` none (the start-up sync's carries sync-timeout / 1000 = 10).
    let mut disables = Vec::new();
    let seen = wren_tests::wait_for(Duration::from_secs(10), || {
        disables = pair
            .peer_messages()
            .into_iter()
            .filter(|m| m.is_request() && m.command().as_deref() == Some("dhcp-disable"))
            .map(|m| m.body)
            .collect();
        (disables.iter().any(|b| b.contains(r#""max-period": 30"#))
            && disables.iter().any(|b| !b.contains("max-period")))
        .then_some(())
    });
    assert!(
        seen.is_some(),
        "{}: dhcp-disable bodies: {disables:#?}",
        pair.describe()
    );
}

/// wren only (Kea 2.2 blocks the whole server while it syncs): while `ha-sync` waits for a
/// partner that does not answer (SIGSTOP), the operator's peer answers other commands;
/// once the partner runs again the sync completes and the waiting connection gets Kea's
/// answer.
fn scenario_ha_sync_does_not_block(pair: &mut HaPair) {
    pair.wait_formed();
    let partner = pair.peers[0].pid().unwrap();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(partner.to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} {partner}");
    };
    signal("STOP");
    let dst_dir = pair.peers[1].dir.clone();
    let sync = std::thread::spawn(move || {
        let mut s = UnixStream::connect(dst_dir.join("ctrl.sock")).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(br#"{ "command": "ha-sync", "arguments": { "server-name": "server1" } }"#)
            .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    });
    std::thread::sleep(Duration::from_millis(300));
    let (r, _, body) = http_command(
        &pair.peers[1],
        r#"{ "command": "status-get", "service": [ "dhcp4" ] }"#,
    );
    let still_waiting = !sync.is_finished();
    signal("CONT");
    assert_eq!(r, Some(0), "status-get during ha-sync: {body}");
    assert!(
        still_waiting,
        "ha-sync answered before its partner could: {:?}",
        sync.join()
    );
    let answer = sync.join().unwrap();
    let (r, t) = result_text(&answer);
    assert_eq!(
        (r, t.as_deref()),
        (Some(0), Some(SYNC_COMPLETE)),
        "ha-sync after the partner resumed: {answer}\nlogs:\n{}",
        pair.logs()
    );
}

/// `ha-scopes` with `names` (a JSON list's items) to peer `peer`: Kea's answer.
fn set_scopes(pair: &HaPair, peer: usize, names: &str) {
    let (r, t, body) = http_command(
        &pair.peers[peer],
        &format!(
            r#"{{ "command": "ha-scopes", "service": [ "dhcp4" ], "arguments": {{ "scopes": [ {names} ] }} }}"#
        ),
    );
    assert_eq!(
        (r, t.as_deref()),
        (Some(0), Some("New HA scopes configured.")),
        "{}: ha-scopes [{names}] to server{}: {body}",
        pair.describe(),
        peer + 1
    );
}

/// `ha-scopes` (kea-ha.md §5): server2 told to serve no scope and server1 both; every
/// client of both buckets (perfdhcp and a real udhcpc of server2's bucket) is answered by
/// server1 only. Then the scopes go back and the pair stays formed.
fn scenario_ha_scopes(pair: &mut HaPair) {
    pair.wait_formed();
    set_scopes(pair, 1, "");
    set_scopes(pair, 0, r#""server1", "server2""#);
    let only = pair.server_ip(0);
    let (report, seen) = load_and_capture(pair, 20, "02:00:00:5d:00:00", &|_| only);
    assert!(
        seen.wrong.is_empty() && seen.by_server.keys().eq([&only]),
        "{}: with every scope on server1, replies came from {:?}:\n{}",
        pair.describe(),
        seen.by_server,
        seen.wrong.join("\n")
    );
    // Every DISCOVER of both buckets is answered by server1, and clients of both buckets
    // are ACKed. (Not "all 20 ACKed": wren's allocator may offer one free address to two
    // clients whose DISCOVERs arrive together, and the second REQUEST then fails; Kea's
    // iterative allocator does not. That is the allocator's, not ha-scopes'.)
    let acked_buckets = acked_per_bucket(&seen);
    assert!(
        report.offer_received == 20 && acked_buckets[0] > 0 && acked_buckets[1] > 0,
        "{}: server1 serves both scopes (ACKed per bucket {acked_buckets:?}, {report:?}); logs:\n{}",
        pair.describe(),
        pair.logs()
    );
    let mac = mac_in_bucket(ClientKind::Udhcpc, 1, 0x300);
    let (_client, _member, lease) = real_client(pair, ClientKind::Udhcpc, &mac);
    assert_eq!(
        lease.server_id,
        Some(only),
        "{}: udhcpc {mac} of server2's bucket: {lease:?}",
        pair.describe()
    );
    set_scopes(pair, 0, r#""server1""#);
    set_scopes(pair, 1, r#""server2""#);
    pair.wait_formed();
}

fn run_scopes(name: &str, kinds: [PeerKind; 2]) {
    require_root();
    let dir = TestDir::new(name);
    let mut pair = HaPair::start(HaSpec::pair("load-balancing"), kinds, dir.path());
    scenario_ha_scopes(&mut pair);
}

#[test]
fn ha_scopes_kea_reference() {
    run_scopes("hacmd-scopes-kea", [PeerKind::Kea; 2]);
}

#[test]
fn ha_scopes_wrend_pair() {
    run_scopes("hacmd-scopes-wrend", [PeerKind::Wrend; 2]);
}

#[test]
fn ha_scopes_wrend_takes_both_from_kea() {
    run_scopes("hacmd-scopes-mixed", [PeerKind::Wrend, PeerKind::Kea]);
}

/// ACKed clients per load-balancing bucket (perfdhcp sends client-id 01 + MAC).
fn acked_per_bucket(seen: &wren_tests::ha_checks::Answered) -> [usize; 2] {
    let mut acked = [0usize; 2];
    for mac in &seen.acked_clients {
        acked[lb_bucket(&[&[1u8][..], &mac[..]].concat())] += 1;
    }
    acked
}

/// `auto-failover: false` (kea-ha.md §2): server2 is killed, server1 reaches partner-down
/// but keeps serving its own scope only (server2's clients get nothing) until the
/// administrator hands it server2's scope with `ha-scopes`.
fn scenario_no_auto_failover(pair: &mut HaPair) {
    pair.wait_formed();
    pair.peers[1].kill();
    pair.peers[0].wait_state("partner-down", pair.partner_down_limit());
    let only = pair.server_ip(0);
    let (report, seen) = load_and_capture(pair, 20, "02:00:00:5f:00:00", &|_| only);
    let acked = acked_per_bucket(&seen);
    let asked = seen
        .clients
        .iter()
        .filter(|mac| lb_bucket(&[&[1u8][..], &mac[..]].concat()) == 1)
        .count();
    assert!(
        seen.wrong.is_empty() && acked[0] > 0 && acked[1] == 0 && asked > 0,
        "{}: partner-down without auto-failover serves its own scope only: ACKed per bucket {acked:?}, {asked} clients of server2's bucket asked ({report:?}); logs:\n{}",
        pair.describe(),
        pair.logs()
    );
    set_scopes(pair, 0, r#""server1", "server2""#);
    let (report, seen) = load_and_capture(pair, 20, "02:00:00:5f:01:00", &|_| only);
    let acked = acked_per_bucket(&seen);
    assert!(
        seen.wrong.is_empty() && report.offer_received == 20 && acked[0] > 0 && acked[1] > 0,
        "{}: after ha-scopes both buckets are served: ACKed per bucket {acked:?} ({report:?}); logs:\n{}",
        pair.describe(),
        pair.logs()
    );
}

fn run_no_auto_failover(name: &str, kinds: [PeerKind; 2]) {
    require_root();
    let dir = TestDir::new(name);
    let mut spec = HaSpec::pair("load-balancing");
    spec.auto_failover = false;
    let mut pair = HaPair::start(spec, kinds, dir.path());
    scenario_no_auto_failover(&mut pair);
}

#[test]
fn no_auto_failover_kea_reference() {
    run_no_auto_failover("hacmd-noauto-kea", [PeerKind::Kea; 2]);
}

#[test]
fn no_auto_failover_wrend_pair() {
    run_no_auto_failover("hacmd-noauto-wrend", [PeerKind::Wrend; 2]);
}

#[test]
fn no_auto_failover_wrend_survives_kea() {
    run_no_auto_failover("hacmd-noauto-mixed", [PeerKind::Wrend, PeerKind::Kea]);
}

/// `ha-sync` while the partner is down: result 1 at once (the connection is refused), and
/// the server stays usable.
fn scenario_ha_sync_partner_down(pair: &mut HaPair) {
    pair.wait_formed();
    pair.peers[0].kill();
    let (r, t, body) = http_command(
        &pair.peers[1],
        r#"{ "command": "ha-sync", "service": [ "dhcp4" ], "arguments": { "server-name": "server1" } }"#,
    );
    eprintln!("[ha-sync, partner dead] {body}");
    assert_eq!(
        r,
        Some(1),
        "{}: ha-sync to a dead partner: {body}",
        pair.describe()
    );
    assert_eq!(
        t.as_deref(),
        Some(PARTNER_REFUSED),
        "{}: {body}",
        pair.describe()
    );
    let (r, _, body) = http_command(
        &pair.peers[1],
        r#"{ "command": "status-get", "service": [ "dhcp4" ] }"#,
    );
    assert_eq!(r, Some(0), "{body}");
}

fn run_partner_down(name: &str, kinds: [PeerKind; 2]) {
    require_root();
    let dir = TestDir::new(name);
    let mut pair = HaPair::start(HaSpec::pair("load-balancing"), kinds, dir.path());
    scenario_ha_sync_partner_down(&mut pair);
}

#[test]
fn ha_sync_partner_down_kea_reference() {
    run_partner_down("hacmd-syncdown-kea", [PeerKind::Kea; 2]);
}

#[test]
fn ha_sync_partner_down_wrend() {
    run_partner_down("hacmd-syncdown-wrend", [PeerKind::Kea, PeerKind::Wrend]);
}

fn run(name: &str, kinds: [PeerKind; 2], source: usize) {
    require_root();
    let dir = TestDir::new(name);
    let mut pair = HaPair::start(HaSpec::pair("load-balancing"), kinds, dir.path());
    scenario_ha_sync(&mut pair, source);
}

#[test]
fn ha_sync_kea_reference() {
    run("hacmd-sync-kea", [PeerKind::Kea; 2], 0);
}

#[test]
fn ha_sync_wrend_pair() {
    run("hacmd-sync-wrend", [PeerKind::Wrend; 2], 0);
}

#[test]
fn ha_sync_wrend_does_not_block() {
    require_root();
    let dir = TestDir::new("hacmd-sync-nonblocking");
    let mut pair = HaPair::start(
        HaSpec::pair("load-balancing"),
        [PeerKind::Kea, PeerKind::Wrend],
        dir.path(),
    );
    scenario_ha_sync_does_not_block(&mut pair);
}

#[test]
fn ha_sync_wrend_from_kea() {
    run(
        "hacmd-sync-wrend-from-kea",
        [PeerKind::Kea, PeerKind::Wrend],
        0,
    );
}

#[test]
fn ha_sync_kea_from_wrend() {
    run(
        "hacmd-sync-kea-from-wrend",
        [PeerKind::Kea, PeerKind::Wrend],
        1,
    );
}
