//! High availability: Kea 2.2's `libdhcp_ha.so` between two wrend peers or a wrend and a
//! kea-dhcp4 (kea-ha.md).
//!
//! * [`config`] reads the hook's `high-availability` parameters;
//! * [`load_balance`] decides a query's scope (RFC 3074 hash as Kea applies it);
//! * [`state`] is the state machine: the daemon polls it for [`state::Action`]s, filters
//!   queries with it and reports peer answers back;
//! * [`admin_sync`] reads the operator's `ha-sync` and words its answer;
//! * [`commands`] writes the peer commands (and their HTTP framing) and reads the answers.

pub mod admin_sync;
pub mod commands;
pub mod config;
pub mod load_balance;
pub mod state;

// Daemon contract (kea-ha.md §4–§7), in the order the daemon meets it:
// * start: `config::parse_ha_parameters(config.str(hook.parameters), &mut peers)`, then
//   `state::HaService::new(&ha, &mut clients, now_ms)`;
// * every loop iteration: `while let Some(a) = svc.poll(now_ms) { … }` and sleep until
//   `svc.next_deadline()` at most;
// * every DHCP query, before the engine: `svc.on_query(&facts, now_ms)`;
// * every committed REQUEST/RELEASE/DECLINE: `svc.on_lease_committed()`, then for
//   `SendAndPark` one `commands::lease4_del_request`/`lease4_update_request` per change,
//   parked reply released or dropped by `svc.on_lease_update_result(now_ms, ok)`;
// * every peer answer: `commands::parse_heartbeat` → `on_heartbeat_ok`/`on_heartbeat_failed`,
//   sync pages with `commands::parse_lease_page` → `on_sync_done`, backlog → `on_backlog_sent`.
