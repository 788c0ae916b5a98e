//! High availability end to end (issue 6, kea-ha.md): pairs of peers on one bridge, real
//! clients, bounded perfdhcp load, and Kea 2.2 as the reference and as a partner.

use wren_tests::ha::{HaSpec, PeerKind};
use wren_tests::ha_checks::{
    scenario_bad_credentials, scenario_failover, scenario_hot_standby, scenario_load_balancing,
    scenario_wire, start_bad_credentials, BadCreds, HaPair,
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
