//! HA backup servers end to end (kea-ha.md §2, §4, §6): a `passive-backup` primary with a
//! backup, and a load-balancing pair with a backup, on one bridge with real clients and a
//! bounded perfdhcp load. Every check runs first with Kea 2.2 in every role (the reference
//! that proves the check can fail), then with wrend as the primary, as the backup, and as
//! both.
//!
//! What is checked: the primary answers every client, the backup answers none (its state is
//! `backup`), every lease the primary granted reaches the backup's lease file and its
//! `lease4-get`, a release reaches it as a `lease4-del`, and (`wait-backup-ack`) a down
//! backup costs the clients nothing unless the replies wait for its acks.

// Test-side code: a malformed capture or lease file is a test failure.
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use wren_tests::clients::ClientKind;
use wren_tests::ha::{HaSpec, PeerKind};
use wren_tests::ha_checks::{
    active_leases, admin_command, assert_no_double_allocation, assert_peer_traffic_authenticated,
    lb_owner, load_and_capture, mac_in_bucket, real_client, HaPair,
};
use wren_tests::{require_root, TestDir};

fn describe(group: &HaPair) -> String {
    let peers: Vec<String> = group
        .peers
        .iter()
        .map(|p| format!("{} = {}", p.name, p.kind.name()))
        .collect();
    format!("{} ({})", group.spec.mode, peers.join(", "))
}

/// (hardware address, expiry) per active address of peer `i`'s lease file.
fn view(group: &HaPair, i: usize) -> BTreeMap<Ipv4Addr, (String, u64)> {
    active_leases(&group.peers[i].lease_file())
        .into_iter()
        .map(|(a, r)| (a, (r.hwaddr, r.expire)))
        .collect()
}

/// Waits until every active lease of the `serving` peers is in the backup's lease file with
/// the same client and expiry; panics with the missing ones.
fn assert_backup_has_every_lease(group: &HaPair, serving: &[usize], backup: usize) -> usize {
    let limit = Duration::from_secs(15);
    let missing = || -> Vec<String> {
        let b = view(group, backup);
        serving
            .iter()
            .flat_map(|&s| view(group, s).into_iter().map(move |l| (s, l)))
            .filter(|(_, (a, v))| b.get(a) != Some(v))
            .map(|(s, (a, v))| format!("{a} {v:?} of {}", group.peers[s].name))
            .collect()
    };
    let ok = wren_tests::wait_for(limit, || missing().is_empty().then_some(()));
    assert!(
        ok.is_some(),
        "{}: leases missing in the backup's lease file after {limit:?}:\n{}\nlogs:\n{}",
        describe(group),
        missing().join("\n"),
        group.logs()
    );
    serving.iter().map(|&s| view(group, s).len()).sum()
}

/// `lease4-get` of `address` on peer `i`: the result code and the answer.
fn lease4_get(group: &HaPair, i: usize, address: Ipv4Addr) -> (Option<i64>, String) {
    let (code, body) = group.peers[i].command(&format!(
        r#"{{ "command": "lease4-get", "service": [ "dhcp4" ], "arguments": {{ "ip-address": "{address}" }} }}"#
    ));
    assert_eq!(code, 200, "lease4-get: HTTP {code}: {body}");
    let result = body
        .find("\"result\"")
        .map(|i| &body[i + 8..])
        .and_then(|r| r.trim_start().strip_prefix(':'))
        .and_then(|r| {
            r.trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        });
    (result, body)
}

/// The backup reports state `backup` and its status-get shows no partner (`remote`).
fn assert_backup_state(group: &HaPair, backup: usize) {
    group.peers[backup].wait_state("backup", group.formed_limit());
    let (result, body) = admin_command(&group.peers[backup], "status-get");
    assert_eq!(result, Some(0), "{body}");
    assert!(
        body.contains(r#""state": "backup""#) && !body.contains("\"remote\""),
        "{}: the backup's status-get: {body}",
        describe(group)
    );
}

/// passive-backup, peer 0 primary and peer 1 backup: the primary serves a bounded load and a
/// real client, the backup answers none of them and ends with every lease; the real client's
/// release reaches the backup.
fn scenario_passive_backup(group: &mut HaPair, mac_base: &str, seed: u16) {
    let primary = group.server_ip(0);
    group.peers[0].wait_state("passive-backup", group.formed_limit());
    assert_backup_state(group, 1);
    let (report, seen) = load_and_capture(group, 20, mac_base, &|_| primary);
    assert!(
        seen.wrong.is_empty(),
        "{}: replies not from the primary: {:?}\n{}",
        describe(group),
        seen.by_server,
        seen.wrong.join("\n")
    );
    assert_eq!(
        seen.acked_clients.len(),
        20,
        "{}: the primary serves everyone ({report:?}); logs:\n{}",
        describe(group),
        group.logs()
    );
    let mac = mac_in_bucket(ClientKind::Udhcpc, 1, seed);
    let (mut client, _m, lease) = real_client(group, ClientKind::Udhcpc, &mac);
    assert_eq!(lease.server_id, Some(primary));
    if group.spec.wait_backup_ack {
        // The ACK left only after the backup acknowledged the lease: it is there already,
        // without waiting.
        let (result, body) = lease4_get(group, 1, lease.address);
        assert!(
            result == Some(0) && body.contains(&mac),
            "{}: bound with wait-backup-ack but lease4-get {} on the backup: {body}",
            describe(group),
            lease.address
        );
    }
    let n = assert_backup_has_every_lease(group, &[0], 1);
    assert!(n >= 21, "{}: {n} leases on the primary", describe(group));
    let (result, body) = lease4_get(group, 1, lease.address);
    assert!(
        result == Some(0) && body.contains(&mac),
        "{}: lease4-get {} on the backup: {body}",
        describe(group),
        lease.address
    );
    // A release: the primary sends lease4-del, the backup forgets the lease.
    client.release();
    let mut last = String::new();
    let gone = wren_tests::wait_for(Duration::from_secs(15), || {
        let (result, body) = lease4_get(group, 1, lease.address);
        last = body;
        (result == Some(3)).then_some(())
    });
    assert!(
        gone.is_some(),
        "{}: the released {} is still on the backup: {last}\nlogs:\n{}",
        describe(group),
        lease.address,
        group.logs()
    );
    assert_no_double_allocation(&[group.peers[0].lease_file()]);
    // On the primary's link: its updates to the backup, authenticated, and no heartbeat
    // (kea-ha.md §4: none in passive-backup; the test's own commands go over loopback).
    std::thread::sleep(Duration::from_secs(1));
    assert_peer_traffic_authenticated(group);
    let commands: Vec<String> = group
        .peer_messages()
        .iter()
        .filter(|m| m.is_request())
        .filter_map(|m| m.command())
        .collect();
    assert!(
        commands.iter().any(|c| c == "lease4-update")
            && commands.iter().any(|c| c == "lease4-del")
            && !commands.iter().any(|c| c == "ha-heartbeat"),
        "{}: peer commands on the primary's link: {commands:?}",
        describe(group)
    );
}

/// A load-balancing pair (peers 0, 1) with a backup (peer 2): the pair forms, the backup
/// reports `backup`; load in both buckets is answered by its owner, never by the backup, and
/// every lease of both reaches the backup.
fn scenario_load_balancing_with_backup(group: &mut HaPair) {
    let n = group.normal_state();
    group.wait_states([n, n]);
    assert_backup_state(group, 2);
    let owner = lb_owner(group);
    let (report, seen) = load_and_capture(group, 30, "02:00:00:62:00:00", &owner);
    assert!(
        seen.wrong.is_empty() && !seen.by_server.contains_key(&group.server_ip(2)),
        "{}: replies from the wrong peer: {:?}\n{}",
        describe(group),
        seen.by_server,
        seen.wrong.join("\n")
    );
    assert_eq!(
        seen.acked_clients.len(),
        30,
        "{}: {report:?}; logs:\n{}",
        describe(group),
        group.logs()
    );
    assert_eq!(seen.by_server.len(), 2, "{:?}", seen.by_server);
    assert_backup_has_every_lease(group, &[0, 1], 2);
}

/// passive-backup with the backup killed: with `wait-backup-ack: false` the clients are
/// served as before (and the primary stays in passive-backup); with `true` every REQUEST's
/// reply is dropped (kea-ha.md §6: a failed awaited update drops the reply) while DISCOVERs
/// are still answered.
fn scenario_backup_down(group: &mut HaPair, mac_base: &str) {
    let primary = group.server_ip(0);
    group.peers[0].wait_state("passive-backup", group.formed_limit());
    assert_backup_state(group, 1);
    group.peers[1].kill();
    let (report, seen) = load_and_capture(group, 10, mac_base, &|_| primary);
    assert!(seen.wrong.is_empty(), "{:?}", seen.wrong);
    if group.spec.wait_backup_ack {
        assert!(
            report.offer_received > 0 && seen.acked_clients.is_empty(),
            "{}: with wait-backup-ack and the backup down no ACK may leave ({report:?}); logs:\n{}",
            describe(group),
            group.logs()
        );
    } else {
        assert_eq!(
            seen.acked_clients.len(),
            10,
            "{}: a down backup must not cost the clients anything ({report:?}); logs:\n{}",
            describe(group),
            group.logs()
        );
    }
    assert_eq!(group.peers[0].ha_state().as_deref(), Some("passive-backup"));
}

fn passive(kinds: [PeerKind; 2], name: &str, mac_base: &str, seed: u16) {
    passive_with(kinds, false, name, mac_base, seed)
}

fn passive_with(kinds: [PeerKind; 2], wait: bool, name: &str, mac_base: &str, seed: u16) {
    require_root();
    let dir = TestDir::new(name);
    let mut group = HaPair::start_group(HaSpec::passive_backup(wait), &kinds, dir.path());
    scenario_passive_backup(&mut group, mac_base, seed);
}

#[test]
fn ha_backup_kea_reference_passive_backup() {
    passive(
        [PeerKind::Kea, PeerKind::Kea],
        "hab-kea-pb",
        "02:00:00:61:00:00",
        0x100,
    );
}

#[test]
fn ha_backup_wrend_primary_wrend_backup() {
    passive(
        [PeerKind::Wrend, PeerKind::Wrend],
        "hab-ww-pb",
        "02:00:00:61:00:00",
        0x100,
    );
}

#[test]
fn ha_backup_wrend_primary_kea_backup() {
    passive(
        [PeerKind::Wrend, PeerKind::Kea],
        "hab-wk-pb",
        "02:00:00:61:00:00",
        0x100,
    );
}

#[test]
fn ha_backup_kea_primary_wrend_backup() {
    passive(
        [PeerKind::Kea, PeerKind::Wrend],
        "hab-kw-pb",
        "02:00:00:61:00:00",
        0x100,
    );
}

#[test]
fn ha_backup_kea_reference_passive_backup_wait_ack() {
    passive_with(
        [PeerKind::Kea, PeerKind::Kea],
        true,
        "hab-kea-pbw",
        "02:00:00:64:00:00",
        0x200,
    );
}

#[test]
fn ha_backup_wrend_primary_wrend_backup_wait_ack() {
    passive_with(
        [PeerKind::Wrend, PeerKind::Wrend],
        true,
        "hab-ww-pbw",
        "02:00:00:64:00:00",
        0x200,
    );
}

#[test]
fn ha_backup_wrend_primary_kea_backup_wait_ack() {
    passive_with(
        [PeerKind::Wrend, PeerKind::Kea],
        true,
        "hab-wk-pbw",
        "02:00:00:64:00:00",
        0x200,
    );
}

fn lb_with_backup(kinds: [PeerKind; 3], name: &str) {
    require_root();
    let dir = TestDir::new(name);
    let spec = HaSpec::pair("load-balancing").with_backup();
    let mut group = HaPair::start_group(spec, &kinds, dir.path());
    scenario_load_balancing_with_backup(&mut group);
}

#[test]
fn ha_backup_kea_reference_load_balancing_with_backup() {
    lb_with_backup([PeerKind::Kea; 3], "hab-kea-lb");
}

#[test]
fn ha_backup_wrend_load_balancing_with_wrend_backup() {
    lb_with_backup([PeerKind::Wrend; 3], "hab-www-lb");
}

#[test]
fn ha_backup_kea_load_balancing_with_wrend_backup() {
    lb_with_backup(
        [PeerKind::Kea, PeerKind::Kea, PeerKind::Wrend],
        "hab-kkw-lb",
    );
}

#[test]
fn ha_backup_wrend_load_balancing_with_kea_backup() {
    lb_with_backup(
        [PeerKind::Wrend, PeerKind::Wrend, PeerKind::Kea],
        "hab-wwk-lb",
    );
}

fn backup_down(kinds: [PeerKind; 2], wait: bool, name: &str) {
    require_root();
    let dir = TestDir::new(name);
    let mut group = HaPair::start_group(HaSpec::passive_backup(wait), &kinds, dir.path());
    scenario_backup_down(&mut group, "02:00:00:63:00:00");
}

#[test]
fn ha_backup_kea_reference_backup_down() {
    backup_down([PeerKind::Kea; 2], false, "hab-kea-down");
}

#[test]
fn ha_backup_kea_reference_backup_down_wait_ack() {
    backup_down([PeerKind::Kea; 2], true, "hab-kea-downw");
}

#[test]
fn ha_backup_wrend_backup_down() {
    backup_down([PeerKind::Wrend, PeerKind::Kea], false, "hab-w-down");
}

#[test]
fn ha_backup_wrend_backup_down_wait_ack() {
    backup_down([PeerKind::Wrend, PeerKind::Kea], true, "hab-w-downw");
}
