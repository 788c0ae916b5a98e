#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! HA administrator commands end to end (issue 6, kea-ha.md §5): `ha-sync` between two
//! peers. Each check runs first against a Kea 2.2 pair (kea-dhcp4 + kea-ctrl-agent +
//! libdhcp_ha.so + libdhcp_lease_cmds.so), which proves the check and pins Kea's texts,
//! then against wrend + wrend and mixed pairs.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use wren_tests::ha::{HaPeer, HaSpec, PeerKind};
use wren_tests::ha_checks::{admin_command, lb_owner, load_and_capture, HaPair};
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
    require_root();
    let dir = TestDir::new("hac-sync-ww");
    let pair = HaPair::start(HaSpec::pair("load-balancing"), [W, W], dir.path());
    scenario_ha_sync(&pair);
    scenario_sync_waits_without_blocking(&pair);
}

/// wrend only (Kea 2.2 runs `ha-sync` synchronously and answers nothing meanwhile): while
/// server2's `ha-sync` waits for a stopped server1, server2 still answers other control
/// commands; once server1 runs again the waiting operator gets Kea's success answer.
fn scenario_sync_waits_without_blocking(pair: &HaPair) {
    pair.wait_formed();
    let pid = pair.peers[0].pid().expect("server1 runs") as libc::pid_t;
    // SAFETY: signalling the test's own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let s2 = &pair.peers[1];
    let (code, body, heartbeat, still_waiting, sync) = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            s2.command(&ha_sync_body(
                r#", "arguments": { "server-name": "server1" }"#,
            ))
        });
        // The sync cannot end while server1 is stopped: these answers come while it waits.
        std::thread::sleep(Duration::from_millis(300));
        let (code, body) = s2.command(r#"{ "command": "status-get", "service": [ "dhcp4" ] }"#);
        let heartbeat = s2.ha_state();
        let still_waiting = !waiting.is_finished();
        // SAFETY: as above.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
        (
            code,
            body,
            heartbeat,
            still_waiting,
            waiting.join().unwrap(),
        )
    });
    assert!(
        code == 200 && body.contains("\"result\": 0") && heartbeat.is_some(),
        "{}: server2 must answer while its ha-sync waits: {code} {body} {heartbeat:?}",
        pair.describe()
    );
    assert!(
        still_waiting,
        "{}: ha-sync answered before server1 could answer: {sync:?}",
        pair.describe()
    );
    assert_eq!(
        (sync.0, sync.1.as_str()),
        (
            200,
            r#"[ { "result": 0, "text": "Lease database synchronization complete." } ]"#
        ),
        "{}: ha-sync after server1 resumed; logs:\n{}",
        pair.describe(),
        pair.logs()
    );
    pair.wait_formed();
}

/// wrend pulls from Kea.
#[test]
fn ha_sync_wrend_from_kea() {
    run([K, W], "hac-sync-kw");
}

/// Times server2 went from waiting to syncing, in its log (Kea's and wrend's
/// `HA_STATE_TRANSITION` lines say it the same way).
fn syncs_started(pair: &HaPair) -> usize {
    pair.peers[1]
        .server
        .log()
        .matches("transitions from WAITING to SYNCING")
        .count()
}

/// SIGHUPs server2 and waits until its log shows `marker` more often than `before` times.
fn reload_and_wait(pair: &HaPair, marker: &str, before: usize) {
    assert!(pair.peers[1].server.reload(), "SIGHUP server2");
    let seen = wren_tests::wait_for(Duration::from_secs(20), || {
        (pair.peers[1].server.log().matches(marker).count() > before).then_some(())
    });
    assert!(
        seen.is_some(),
        "{}: no '{marker}' after the reload; logs:\n{}",
        pair.describe(),
        pair.logs()
    );
}

/// Scenario "reload": a reload whose `high-availability` parameters changed restarts the
/// relationship (Kea 2.2 re-loads its hook libraries on reconfiguration: waiting → syncing
/// → ready → load-balancing again). With `unchanged_keeps` (wrend), a reload with the same
/// parameters keeps the running state: no new sync.
fn scenario_reload(pair: &HaPair, unchanged_keeps: bool) {
    pair.wait_formed();
    let syncs = syncs_started(pair);
    assert!(syncs >= 1, "{}: no start-up sync logged", pair.describe());
    if unchanged_keeps {
        let marker = "DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS";
        let before = pair.peers[1].server.log().matches(marker).count();
        reload_and_wait(pair, marker, before);
        // One heartbeat round later the state is still the normal one and nothing synced.
        std::thread::sleep(Duration::from_millis(
            2 * u64::from(pair.spec.heartbeat_delay_ms),
        ));
        assert_eq!(
            pair.peers[1].ha_state().as_deref(),
            Some(pair.normal_state()),
            "{}: unchanged reload",
            pair.describe()
        );
        assert_eq!(
            syncs_started(pair),
            syncs,
            "{}: a reload with unchanged HA parameters must keep the relationship; logs:\n{}",
            pair.describe(),
            pair.logs()
        );
    }
    let path = pair.peers[1].server.config_path().to_path_buf();
    let text = wren_tests::read_text(&path);
    let changed = text.replace("\"heartbeat-delay\": 1000", "\"heartbeat-delay\": 1500");
    assert_ne!(text, changed, "the harness's heartbeat-delay moved");
    pair.peers[1].server.write_config(&changed);
    reload_and_wait(pair, "transitions from WAITING to SYNCING", syncs);
    pair.wait_formed();
    // ha-reset: back to waiting, a new sync, the pair forms again.
    let syncs = syncs_started(pair);
    let (result, body) = admin_command(&pair.peers[1], "ha-reset");
    assert_eq!(
        (result, body.as_str()),
        (
            Some(0),
            r#"[ { "result": 0, "text": "HA state machine reset." } ]"#
        ),
        "{}: ha-reset",
        pair.describe()
    );
    let again = wren_tests::wait_for(pair.formed_limit(), || {
        (syncs_started(pair) > syncs).then_some(())
    });
    assert!(
        again.is_some(),
        "{}: no sync after ha-reset; logs:\n{}",
        pair.describe(),
        pair.logs()
    );
    pair.wait_formed();
}

#[test]
fn ha_reload_kea_reference() {
    require_root();
    let dir = TestDir::new("hac-reload-kk");
    let pair = HaPair::start(HaSpec::pair("load-balancing"), [K, K], dir.path());
    scenario_reload(&pair, false);
}

#[test]
fn ha_reload_wrend() {
    require_root();
    let dir = TestDir::new("hac-reload-ww");
    let pair = HaPair::start(HaSpec::pair("load-balancing"), [W, W], dir.path());
    scenario_reload(&pair, true);
}

fn ha_scopes(peer: &HaPeer, scopes: &[&str]) -> String {
    let list: Vec<String> = scopes.iter().map(|s| format!("\"{s}\"")).collect();
    let (code, body) = peer.command(&format!(
        r#"{{ "command": "ha-scopes", "service": [ "dhcp4" ], "arguments": {{ "scopes": [ {} ] }} }}"#,
        list.join(", ")
    ));
    assert_eq!(code, 200, "{}: ha-scopes: {body}", peer.name);
    body
}

const SCOPES_SET: &str = r#"[ { "result": 0, "text": "New HA scopes configured." } ]"#;

/// Scenario "ha-scopes" (kea-ha.md §5): with server2 serving no scope and server1 both,
/// every client is answered by server1 (perfdhcp, captured); back to one scope each, the
/// clients split by the load-balancing hash again.
fn scenario_ha_scopes(pair: &mut HaPair) {
    pair.wait_formed();
    assert_eq!(
        ha_scopes(&pair.peers[0], &["server9"]),
        r#"[ { "result": 1, "text": "invalid server name specified 'server9' while enabling/disabling HA scopes" } ]"#,
        "{}",
        pair.describe()
    );
    assert_eq!(
        ha_scopes(&pair.peers[1], &[]),
        SCOPES_SET,
        "{}",
        pair.describe()
    );
    assert_eq!(
        ha_scopes(&pair.peers[0], &["server1", "server2"]),
        SCOPES_SET,
        "{}",
        pair.describe()
    );
    let only = pair.server_ip(0);
    let (report, seen) = load_and_capture(pair, 20, "02:00:00:61:00:00", &|_| only);
    assert!(
        seen.wrong.is_empty() && seen.acked_clients.len() == 20,
        "{}: server1 serving both scopes must answer all 20 clients alone ({report:?}): {:?}\n{}",
        pair.describe(),
        seen.by_server,
        seen.wrong.join("\n")
    );
    assert_eq!(ha_scopes(&pair.peers[0], &["server1"]), SCOPES_SET);
    assert_eq!(ha_scopes(&pair.peers[1], &["server2"]), SCOPES_SET);
    let owner = lb_owner(pair);
    let (report, seen) = load_and_capture(pair, 20, "02:00:00:62:00:00", &owner);
    assert!(
        seen.wrong.is_empty() && seen.acked_clients.len() == 20 && seen.by_server.len() == 2,
        "{}: one scope each again: both serve their bucket ({report:?}): {:?}\n{}",
        pair.describe(),
        seen.by_server,
        seen.wrong.join("\n")
    );
}

#[test]
fn ha_scopes_kea_reference() {
    require_root();
    let dir = TestDir::new("hac-scopes-kk");
    let mut pair = HaPair::start(HaSpec::pair("load-balancing"), [K, K], dir.path());
    scenario_ha_scopes(&mut pair);
}

#[test]
fn ha_scopes_wrend() {
    require_root();
    let dir = TestDir::new("hac-scopes-ww");
    let mut pair = HaPair::start(HaSpec::pair("load-balancing"), [W, W], dir.path());
    scenario_ha_scopes(&mut pair);
}

/// Scenario "pause" (kea-ha.md §2 `state-machine`): with `pause: once` on `ready`, both
/// peers stop in ready and stay there until the operator's `ha-continue`; a second
/// `ha-continue` finds nothing paused.
fn scenario_pause(pair: &HaPair) {
    pair.wait_states(["ready", "ready"]);
    std::thread::sleep(Duration::from_millis(
        3 * u64::from(pair.spec.heartbeat_delay_ms),
    ));
    for p in &pair.peers {
        assert_eq!(
            p.ha_state().as_deref(),
            Some("ready"),
            "{}: {} must stay paused in ready",
            pair.describe(),
            p.name
        );
    }
    for p in &pair.peers {
        let (_, body) = admin_command(p, "ha-continue");
        assert_eq!(
            body,
            r#"[ { "result": 0, "text": "HA state machine continues." } ]"#,
            "{}: {}",
            pair.describe(),
            p.name
        );
    }
    pair.wait_formed();
    let (_, body) = admin_command(&pair.peers[0], "ha-continue");
    assert_eq!(
        body,
        r#"[ { "result": 0, "text": "HA state machine is not paused." } ]"#,
        "{}",
        pair.describe()
    );
    scenario_maintenance_texts(pair);
}

/// `ha-maintenance-start` is answered once the partner took the notify, with Kea's text;
/// `ha-maintenance-cancel` likewise (kea-ha.md §5).
fn scenario_maintenance_texts(pair: &HaPair) {
    let (_, body) = admin_command(&pair.peers[1], "ha-maintenance-start");
    assert_eq!(
        body,
        r#"[ { "result": 0, "text": "Server is now in the partner-in-maintenance state and its partner is in-maintenance state. The partner can be now safely shut down." } ]"#,
        "{}",
        pair.describe()
    );
    // The answer came after the transition.
    assert_eq!(
        pair.peers[1].ha_state().as_deref(),
        Some("partner-in-maintenance"),
        "{}",
        pair.describe()
    );
    let (_, body) = admin_command(&pair.peers[1], "ha-maintenance-cancel");
    assert_eq!(
        body,
        r#"[ { "result": 0, "text": "Server maintenance successfully canceled." } ]"#,
        "{}",
        pair.describe()
    );
    pair.wait_formed();
}

fn paused_spec() -> HaSpec {
    let mut spec = HaSpec::pair("load-balancing");
    spec.state_machine = Some(r#"{ "states": [ { "state": "ready", "pause": "once" } ] }"#.into());
    spec
}

#[test]
fn ha_pause_kea_reference() {
    require_root();
    let dir = TestDir::new("hac-pause-kk");
    scenario_pause(&HaPair::start(paused_spec(), [K, K], dir.path()));
}

#[test]
fn ha_pause_wrend() {
    require_root();
    let dir = TestDir::new("hac-pause-ww");
    scenario_pause(&HaPair::start(paused_spec(), [W, W], dir.path()));
}

#[test]
fn ha_pause_mixed() {
    require_root();
    let dir = TestDir::new("hac-pause-kw");
    scenario_pause(&HaPair::start(paused_spec(), [K, W], dir.path()));
}

/// Scenario "auto-failover false" (kea-ha.md §2, §8): server2 dies; server1 reaches
/// partner-down but keeps serving only its own scope until the operator's `ha-scopes`
/// hands it server2's, after which it serves every client.
fn scenario_no_auto_failover(pair: &mut HaPair) {
    pair.wait_formed();
    pair.peers[1].kill();
    pair.peers[0].wait_state("partner-down", pair.partner_down_limit());
    let owner = lb_owner(pair);
    let server1 = pair.server_ip(0);
    let (report, seen) = load_and_capture(pair, 20, "02:00:00:63:00:00", &owner);
    // Replies only from server1, only to its own bucket (`wrong` is empty), so some
    // clients (server2's bucket) get nothing.
    let acked = seen.acked_clients.len();
    assert!(
        seen.wrong.is_empty() && acked > 0 && acked < seen.clients.len(),
        "{}: without auto-failover the survivor serves only its scope ({acked} of {} clients acked; {report:?}): {:?}\n{}",
        pair.describe(),
        seen.clients.len(),
        seen.by_server,
        seen.wrong.join("\n")
    );
    assert_eq!(
        ha_scopes(&pair.peers[0], &["server1", "server2"]),
        SCOPES_SET
    );
    let (report, seen) = load_and_capture(pair, 20, "02:00:00:64:00:00", &|_| server1);
    assert!(
        seen.wrong.is_empty() && seen.acked_clients.len() == 20,
        "{}: after ha-scopes the survivor serves everyone ({report:?}): {:?}\n{}",
        pair.describe(),
        seen.by_server,
        seen.wrong.join("\n")
    );
}

fn no_failover_spec() -> HaSpec {
    let mut spec = HaSpec::pair("load-balancing");
    spec.auto_failover = false;
    spec
}

#[test]
fn ha_no_auto_failover_kea_reference() {
    require_root();
    let dir = TestDir::new("hac-noaf-kk");
    scenario_no_auto_failover(&mut HaPair::start(no_failover_spec(), [K, K], dir.path()));
}

#[test]
fn ha_no_auto_failover_wrend() {
    require_root();
    let dir = TestDir::new("hac-noaf-ww");
    scenario_no_auto_failover(&mut HaPair::start(no_failover_spec(), [W, W], dir.path()));
}

/// wrend serves as server1 with Kea as server2: each takes the other's `ha-scopes`.
#[test]
fn ha_scopes_mixed() {
    require_root();
    let dir = TestDir::new("hac-scopes-wk");
    let mut pair = HaPair::start(HaSpec::pair("load-balancing"), [W, K], dir.path());
    scenario_ha_scopes(&mut pair);
}

/// wrend as server2 reloads next to Kea: the changed parameters restart it against Kea.
#[test]
fn ha_reload_mixed() {
    require_root();
    let dir = TestDir::new("hac-reload-kw");
    let pair = HaPair::start(HaSpec::pair("load-balancing"), [K, W], dir.path());
    scenario_reload(&pair, true);
}
