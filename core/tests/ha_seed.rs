//! The seed's HA hook entry, read through the real config parser (which keeps the
//! `parameters` as compact JSON text) and then by `ha::config`.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use wren_core::ha::config::{parse_ha_parameters, HaMode, Role, EMPTY_PEER};
use wren_core::ha::load_balance::Scopes;
use wren_core::ha::state::{Action, HaService, HaState};

mod common;

const SEED: &str = include_str!("fixtures/seed-kea-dhcp4.conf");

#[test]
fn seed_ha_hook_parameters_parse() {
    let mut store = common::ConfigStore::for_text(SEED);
    let config = store.parse(SEED);
    let hook = config.hook_library("libdhcp_ha.so").expect("HA hook");
    let params = config.str(hook.parameters);
    let mut peers = [EMPTY_PEER; 4];
    let ha = parse_ha_parameters(params, &mut peers).expect("HA parameters");
    assert_eq!(ha.mode, HaMode::LoadBalancing);
    assert_eq!(ha.this_server_name, "infra-1");
    assert_eq!(ha.this_role(), Role::Primary);
    assert_eq!(ha.partner().unwrap().name, "infra-2");
    assert_eq!(ha.partner().unwrap().port, 8080);
    assert_eq!(
        (ha.heartbeat_delay_ms, ha.max_ack_delay_ms),
        (10_000, 5_000)
    );
    assert_eq!(
        (ha.max_response_delay_ms, ha.max_unacked_clients),
        (60_000, 5)
    );
    assert_eq!((ha.sync_page_limit, ha.sync_timeout_ms), (10_000, 60_000));

    // The daemon's first loop iteration: disable DHCP, heartbeat.
    let mut clients = [0u64; 64];
    let mut svc = HaService::new(&ha, &mut clients, 0);
    assert_eq!(svc.poll(0), Some(Action::DisableDhcp));
    assert_eq!(svc.poll(0), Some(Action::SendHeartbeat));
    assert_eq!(svc.poll(0), None);
    assert_eq!(svc.state(), HaState::Waiting);
    assert_eq!(svc.scopes(), Scopes::NONE);
}
