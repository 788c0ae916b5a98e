//! HA end to end with wrend (issue 6): the checks of `ha_checks` (proven against Kea + Kea in
//! tests/ha.rs) run against two wrend peers and against mixed wrend + Kea 2.2 pairs in both
//! roles. Tests move to tests/ha.rs once they pass.

use wren_tests::ha::{HaSpec, PeerKind};
use wren_tests::ha_checks::{
    scenario_bad_credentials, scenario_failover, scenario_hot_standby, scenario_load_balancing,
    scenario_wire, start_bad_credentials, BadCreds, HaPair,
};
use wren_tests::{require_root, TestDir};

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
