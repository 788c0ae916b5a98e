//! High availability end to end (issue 6, kea-ha.md): pairs of peers on one bridge, real
//! clients, bounded perfdhcp load, and Kea 2.2 as the reference and as a partner. The checks
//! (wren_tests::ha_checks) run first against Kea + Kea (`ha_kea_reference_*`, which proves
//! the checks themselves), then against wrend + wrend and wrend + Kea in both roles.

use wren_tests::ha::{HaSpec, PeerKind};
use wren_tests::ha_checks::{
    scenario_bad_credentials, scenario_failover, scenario_hot_standby, scenario_load_balancing,
    scenario_maintenance, scenario_wire, start_bad_credentials, BadCreds, HaPair,
};
use wren_tests::{require_root, TestDir};

/// Kea + Kea in load-balancing: the peer traffic has the shapes `scenario_wire` checks (this
/// is also where core/tests/fixtures/ha/ came from: run with `WREN_KEEP=1` and read
/// `peers-http.txt` / `peers.pcap` in the kept directory).
#[test]
fn ha_kea_reference_wire() {
    require_root();
    let dir = TestDir::new("ha-kea-wire");
    let mut pair = HaPair::start(
        HaSpec::pair("load-balancing"),
        [PeerKind::Kea; 2],
        dir.path(),
    );
    scenario_wire(&mut pair);
}

// ----- The issue-6 checks against Kea + Kea: the reference that proves the checks -----

#[test]
fn ha_kea_reference_load_balancing() {
    require_root();
    let dir = TestDir::new("ha-kea-lb");
    let mut pair = HaPair::start(
        HaSpec::pair("load-balancing"),
        [PeerKind::Kea; 2],
        dir.path(),
    );
    scenario_load_balancing(&mut pair);
}

#[test]
fn ha_kea_reference_failover() {
    require_root();
    let dir = TestDir::new("ha-kea-fail");
    let mut pair = HaPair::start(
        HaSpec::pair("load-balancing"),
        [PeerKind::Kea; 2],
        dir.path(),
    );
    scenario_failover(&mut pair, 1, "02:00:00:21");
    // The same clients again (their leases come back, the pools do not run out).
    scenario_failover(&mut pair, 0, "02:00:00:21");
}

#[test]
fn ha_kea_reference_hot_standby() {
    require_root();
    let dir = TestDir::new("ha-kea-hs");
    let mut pair = HaPair::start(HaSpec::pair("hot-standby"), [PeerKind::Kea; 2], dir.path());
    scenario_hot_standby(&mut pair);
}

#[test]
fn ha_kea_reference_wrong_password() {
    require_root();
    let dir = TestDir::new("ha-kea-badpw");
    let pair = start_bad_credentials(
        "load-balancing",
        [PeerKind::Kea; 2],
        BadCreds::WrongPassword,
        dir.path(),
    );
    scenario_bad_credentials(&pair, BadCreds::WrongPassword);
}

#[test]
fn ha_kea_reference_missing_password() {
    require_root();
    let dir = TestDir::new("ha-kea-nopw");
    let pair = start_bad_credentials(
        "load-balancing",
        [PeerKind::Kea; 2],
        BadCreds::Missing,
        dir.path(),
    );
    scenario_bad_credentials(&pair, BadCreds::Missing);
}

// ----- The same checks against wrend, and wrend with Kea 2.2 as its partner -----

const W: PeerKind = PeerKind::Wrend;
const K: PeerKind = PeerKind::Kea;

fn pair(mode: &str, kinds: [PeerKind; 2], dir: &TestDir) -> HaPair {
    HaPair::start(HaSpec::pair(mode), kinds, dir.path())
}

// ----- wrend + wrend -----

#[test]
fn ha_wrend_load_balancing() {
    require_root();
    let dir = TestDir::new("ha-w-lb");
    scenario_load_balancing(&mut pair("load-balancing", [W, W], &dir));
}

#[test]
fn ha_wrend_failover() {
    require_root();
    let dir = TestDir::new("ha-w-fail");
    let mut p = pair("load-balancing", [W, W], &dir);
    scenario_failover(&mut p, 1, "02:00:00:21");
    scenario_failover(&mut p, 0, "02:00:00:21");
}

#[test]
fn ha_wrend_hot_standby() {
    require_root();
    let dir = TestDir::new("ha-w-hs");
    scenario_hot_standby(&mut pair("hot-standby", [W, W], &dir));
}

#[test]
fn ha_wrend_wire() {
    require_root();
    let dir = TestDir::new("ha-w-wire");
    scenario_wire(&mut pair("load-balancing", [W, W], &dir));
}

#[test]
fn ha_wrend_wrong_password() {
    require_root();
    let dir = TestDir::new("ha-w-badpw");
    let p = start_bad_credentials(
        "load-balancing",
        [W, W],
        BadCreds::WrongPassword,
        dir.path(),
    );
    scenario_bad_credentials(&p, BadCreds::WrongPassword);
}

#[test]
fn ha_wrend_missing_password() {
    require_root();
    let dir = TestDir::new("ha-w-nopw");
    let p = start_bad_credentials("load-balancing", [W, W], BadCreds::Missing, dir.path());
    scenario_bad_credentials(&p, BadCreds::Missing);
}

// ----- wrend + Kea 2.2, both roles -----

#[test]
fn ha_mixed_wrend_primary_load_balancing() {
    require_root();
    let dir = TestDir::new("ha-wk-lb");
    let mut p = pair("load-balancing", [W, K], &dir);
    scenario_load_balancing(&mut p);
    scenario_failover(&mut p, 1, "02:00:00:23");
    scenario_failover(&mut p, 0, "02:00:00:23");
}

#[test]
fn ha_mixed_kea_primary_load_balancing() {
    require_root();
    let dir = TestDir::new("ha-kw-lb");
    let mut p = pair("load-balancing", [K, W], &dir);
    scenario_load_balancing(&mut p);
    scenario_failover(&mut p, 1, "02:00:00:24");
    scenario_failover(&mut p, 0, "02:00:00:24");
}

#[test]
fn ha_mixed_wrend_primary_wire() {
    require_root();
    let dir = TestDir::new("ha-wk-wire");
    scenario_wire(&mut pair("load-balancing", [W, K], &dir));
}

#[test]
fn ha_mixed_kea_primary_wire() {
    require_root();
    let dir = TestDir::new("ha-kw-wire");
    scenario_wire(&mut pair("load-balancing", [K, W], &dir));
}

#[test]
fn ha_mixed_wrend_primary_hot_standby() {
    require_root();
    let dir = TestDir::new("ha-wk-hs");
    scenario_hot_standby(&mut pair("hot-standby", [W, K], &dir));
}

#[test]
fn ha_mixed_kea_primary_hot_standby() {
    require_root();
    let dir = TestDir::new("ha-kw-hs");
    scenario_hot_standby(&mut pair("hot-standby", [K, W], &dir));
}

/// Kea (server2) sends wrend (server1) a wrong password: wrend refuses and logs it.
#[test]
fn ha_mixed_wrend_refuses_kea_wrong_password() {
    require_root();
    let dir = TestDir::new("ha-wk-badpw");
    let p = start_bad_credentials(
        "load-balancing",
        [W, K],
        BadCreds::WrongPassword,
        dir.path(),
    );
    scenario_bad_credentials(&p, BadCreds::WrongPassword);
}

/// wrend (server2) sends Kea's Control Agent (server1) a wrong password: wrend logs the 401.
#[test]
fn ha_mixed_kea_refuses_wrend_wrong_password() {
    require_root();
    let dir = TestDir::new("ha-kw-badpw");
    let p = start_bad_credentials(
        "load-balancing",
        [K, W],
        BadCreds::WrongPassword,
        dir.path(),
    );
    scenario_bad_credentials(&p, BadCreds::WrongPassword);
}

// ----- Maintenance (ha-maintenance-start / -notify / -cancel) -----

#[test]
fn ha_kea_reference_maintenance() {
    require_root();
    let dir = TestDir::new("ha-kea-maint");
    let mut p = pair("load-balancing", [K, K], &dir);
    scenario_maintenance(&mut p, 0, "02:00:00:51");
}

#[test]
fn ha_wrend_maintenance() {
    require_root();
    let dir = TestDir::new("ha-w-maint");
    let mut p = pair("load-balancing", [W, W], &dir);
    scenario_maintenance(&mut p, 0, "02:00:00:52");
    scenario_maintenance(&mut p, 1, "02:00:00:52");
}

/// wrend asks Kea to go into maintenance, then Kea asks wrend.
#[test]
fn ha_mixed_maintenance_both_ways() {
    require_root();
    let dir = TestDir::new("ha-wk-maint");
    let mut p = pair("load-balancing", [W, K], &dir);
    scenario_maintenance(&mut p, 0, "02:00:00:53");
    scenario_maintenance(&mut p, 1, "02:00:00:53");
}
