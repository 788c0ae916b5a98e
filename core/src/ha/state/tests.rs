use std::string::String;
use std::vec::Vec;

use super::*;
use crate::ha::config::tests::SEED;
use crate::ha::config::{parse_ha_parameters, Peer, EMPTY_PEER};

const T0: u64 = 1_795_000_000;

fn hb(state: HaState) -> HeartbeatInfo {
    HeartbeatInfo {
        state,
        date_time: T0,
        unsent_update_count: 0,
        scopes: Scopes::NONE,
    }
}

fn drain(s: &mut HaService<'_, '_, '_, '_>, now: u64) -> Vec<Action> {
    let mut v = Vec::new();
    while let Some(a) = s.poll(now) {
        v.push(a);
        assert!(v.len() < 32);
    }
    v
}

fn secondary() -> String {
    SEED.replace(
        "\"this-server-name\":\"infra-1\"",
        "\"this-server-name\":\"infra-2\"",
    )
}

/// Runs `f` with a service built from `text` at t=0, started (first poll drained).
fn with(text: &str, f: impl FnOnce(&mut HaService<'_, '_, '_, '_>)) {
    let mut peers: [Peer<'_>; 4] = [EMPTY_PEER; 4];
    let cfg = parse_ha_parameters(text, &mut peers).unwrap();
    let mut clients = [0u64; 16];
    let mut s = HaService::new(&cfg, &mut clients, 0);
    f(&mut s)
}

/// Polls (discarding other actions) until the heartbeat is out.
fn await_heartbeat(s: &mut HaService<'_, '_, '_, '_>, now: u64) {
    let mut n = 0;
    while !s.heartbeat_in_flight() {
        assert!(s.poll(now).is_some(), "heartbeat due at {now}");
        n += 1;
        assert!(n < 32);
    }
}

fn ok(s: &mut HaService<'_, '_, '_, '_>, now: u64, st: HaState) {
    await_heartbeat(s, now);
    s.on_heartbeat_ok(now, T0, hb(st));
}

fn fail(s: &mut HaService<'_, '_, '_, '_>, now: u64) {
    await_heartbeat(s, now);
    s.on_heartbeat_failed(now);
}

/// Brings a server to its normal state with a partner in `load-balancing`.
fn to_normal(s: &mut HaService<'_, '_, '_, '_>) {
    drain(s, 0);
    ok(s, 0, HaState::LoadBalancing);
    assert_eq!(s.state(), HaState::Syncing);
    assert!(drain(s, 0).contains(&Action::Synchronize));
    s.on_sync_done(0, true);
    // ready + partner load-balancing → load-balancing at once.
    assert_eq!(s.state(), HaState::LoadBalancing);
    drain(s, 0);
}

fn client(i: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, i]
}

#[test]
fn primary_start_sequence() {
    with(SEED, |s| {
        assert_eq!(drain(s, 0), [Action::DisableDhcp, Action::SendHeartbeat]);
        assert!(!s.dhcp_enabled());
        s.on_heartbeat_ok(5, T0, hb(HaState::Waiting));
        assert_eq!(s.state(), HaState::Syncing);
        let acts = drain(s, 5);
        assert_eq!(
            acts,
            [
                Action::StateChanged {
                    from: HaState::Waiting,
                    to: HaState::Syncing
                },
                Action::Synchronize
            ]
        );
        // No heartbeats during the sync.
        assert_eq!(s.poll(20_000), None);
        s.on_sync_done(20_000, true);
        assert_eq!(s.state(), HaState::Ready);
        assert!(!s.dhcp_enabled());
        drain(s, 20_000);
        ok(s, 20_000, HaState::Ready);
        assert_eq!(s.state(), HaState::LoadBalancing);
        assert_eq!(
            drain(s, 20_000),
            [
                Action::StateChanged {
                    from: HaState::Ready,
                    to: HaState::LoadBalancing
                },
                Action::EnableDhcp
            ]
        );
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: true,
                secondary: false
            }
        );
    });
}

#[test]
fn secondary_waits_for_primary() {
    with(&secondary(), |s| {
        drain(s, 0);
        ok(s, 0, HaState::Waiting);
        assert_eq!(s.state(), HaState::Waiting);
        ok(s, 10_000, HaState::Syncing);
        assert_eq!(s.state(), HaState::Waiting);
        ok(s, 20_000, HaState::Terminated);
        assert_eq!(s.state(), HaState::Waiting);
        ok(s, 30_000, HaState::Ready);
        assert_eq!(s.state(), HaState::Syncing);
        drain(s, 30_000);
        s.on_sync_done(30_000, true);
        // Secondary stays ready while the partner is only ready.
        assert_eq!(s.state(), HaState::Ready);
        ok(s, 40_000, HaState::Ready);
        assert_eq!(s.state(), HaState::Ready);
        ok(s, 50_000, HaState::LoadBalancing);
        assert_eq!(s.state(), HaState::LoadBalancing);
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: false,
                secondary: true
            }
        );
    });
}

#[test]
fn heartbeat_timer_is_one_shot_after_completion() {
    with(SEED, |s| {
        drain(s, 0);
        ok(s, 0, HaState::Syncing);
        assert_eq!(s.poll(9_999), None);
        assert_eq!(s.next_deadline(), Some(10_000));
        assert_eq!(s.poll(10_000), Some(Action::SendHeartbeat));
        // In flight: nothing more until it completes.
        assert_eq!(s.poll(30_000), None);
        s.on_heartbeat_failed(30_000);
        assert_eq!(s.poll(39_999), None);
        assert_eq!(s.poll(40_000), Some(Action::SendHeartbeat));
    });
}

#[test]
fn sync_disabled_and_sync_failure() {
    let text = SEED.replace("\"sync-leases\":true", "\"sync-leases\":false");
    with(&text, |s| {
        drain(s, 0);
        ok(s, 0, HaState::Waiting);
        assert_eq!(s.state(), HaState::Ready);
    });
    with(SEED, |s| {
        drain(s, 0);
        ok(s, 0, HaState::Waiting);
        drain(s, 0);
        s.on_sync_done(100, false);
        assert_eq!(s.state(), HaState::Syncing);
        assert_eq!(s.partner_state(), PartnerState::Unavailable);
        ok(s, 10_100, HaState::Waiting);
        assert!(drain(s, 10_100).contains(&Action::Synchronize));
        s.on_sync_done(10_200, false);
        ok(s, 20_100, HaState::Terminated);
        assert_eq!(s.state(), HaState::Terminated);
    });
}

#[test]
fn load_balancing_to_communication_recovery_to_partner_down() {
    with(SEED, |s| {
        to_normal(s);
        ok(s, 10_000, HaState::LoadBalancing);
        fail(s, 20_000);
        // delayed-updates-limit defaults to 100 in load-balancing.
        assert_eq!(s.state(), HaState::CommunicationRecovery);
        assert_eq!(s.on_lease_committed(), UpdateDecision::Backlog);
        // Interrupted only after max-response-delay (60 s) since the last success.
        assert!(!s.communication_interrupted(70_000));
        assert!(s.communication_interrupted(70_001));
        // Secondary-scope clients (hash bucket 1) waiting long: 6 > max-unacked-clients 5.
        for i in [1u8, 2] {
            let c = client(i);
            let q = QueryFacts {
                message_type: Some(1),
                client_id: &[],
                chaddr: &c,
                secs: 6,
            };
            // Before the interruption, not analysed.
            assert_eq!(
                s.on_query(&q, 60_000),
                Verdict::Drop(DropReason::NotInScope)
            );
        }
        assert_eq!(s.analyzed_packets(), 0);
        let secondary_clients: Vec<[u8; 6]> = (1..=40u8)
            .map(client)
            .filter(|c| crate::ha::load_balance::rfc3074_hash(c) % 2 == 1)
            .take(6)
            .collect();
        for (n, c) in secondary_clients.iter().enumerate() {
            let q = QueryFacts {
                message_type: Some(1),
                client_id: &[],
                chaddr: c,
                secs: 6,
            };
            assert_eq!(
                s.on_query(&q, 75_000),
                Verdict::Drop(DropReason::NotInScope)
            );
            // Repeats do not count twice.
            s.on_query(&q, 75_000);
            assert_eq!(s.unacked_clients(), n as u32 + 1);
            assert_eq!(s.failure_detected(), n == 5);
            // Kea's `unacked-clients-left`: max - unacked + 1, 0 once passed.
            assert_eq!(s.unacked_clients_left(75_000), 5 - n.min(5) as u32);
        }
        assert_eq!(s.connecting_clients(), 6);
        fail(s, 80_000);
        assert_eq!(s.state(), HaState::PartnerDown);
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: true,
                secondary: true
            }
        );
        assert_eq!(s.on_lease_committed(), UpdateDecision::NotSent);
        assert_eq!(s.unsent_update_count(), 1);
    });
}

#[test]
fn failure_detection_secs_rules() {
    with(SEED, |s| {
        to_normal(s);
        let c = client(1); // secondary's
                           // secs 5 → 5000 ms, not > max-ack-delay 5000.
        let q = QueryFacts {
            message_type: Some(1),
            client_id: &[],
            chaddr: &c,
            secs: 5,
        };
        s.on_query(&q, 70_001);
        assert_eq!((s.analyzed_packets(), s.unacked_clients()), (1, 0));
        // Little-endian 6 (0x0600) is swapped back to 6 → unacked; same client upgraded.
        let q = QueryFacts { secs: 0x0600, ..q };
        s.on_query(&q, 70_001);
        assert_eq!((s.connecting_clients(), s.unacked_clients()), (1, 1));
        // Kea's report: 5 - 1 + 1 while interrupted; 0 when not interrupted.
        assert_eq!(s.unacked_clients_left(70_001), 5);
        assert_eq!(s.unacked_clients_left(0), 0);
        // A successful heartbeat resets the counters.
        ok(s, 70_002, HaState::LoadBalancing);
        assert_eq!((s.analyzed_packets(), s.unacked_clients()), (0, 0));
    });
}

#[test]
fn zero_unacked_limit_declares_down_on_interruption() {
    let text = SEED
        .replace("\"max-unacked-clients\":5", "\"max-unacked-clients\":0")
        .replace("\"mode\"", "\"delayed-updates-limit\":0,\"mode\"");
    with(&text, |s| {
        to_normal(s);
        fail(s, 10_000);
        assert_eq!(s.state(), HaState::LoadBalancing, "not interrupted yet");
        fail(s, 60_000);
        assert_eq!(s.state(), HaState::LoadBalancing);
        fail(s, 70_000);
        assert_eq!(s.state(), HaState::PartnerDown);
    });
}

#[test]
fn waiting_partner_unavailable_goes_down_on_interruption_alone() {
    with(SEED, |s| {
        drain(s, 0);
        fail(s, 0);
        assert_eq!(s.state(), HaState::Waiting);
        fail(s, 60_001 - 10_000 + 10_000);
        assert_eq!(s.state(), HaState::PartnerDown);
        assert!(s.dhcp_enabled());
    });
}

#[test]
fn partner_down_recovery() {
    for (unsent, expect) in [(0u64, HaState::LoadBalancing), (3, HaState::Waiting)] {
        with(SEED, |s| {
            drain(s, 0);
            fail(s, 0);
            fail(s, 70_000);
            assert_eq!(s.state(), HaState::PartnerDown);
            s.poll(80_000);
            s.on_heartbeat_ok(
                80_000,
                T0,
                HeartbeatInfo {
                    unsent_update_count: unsent,
                    ..hb(HaState::Ready)
                },
            );
            assert_eq!(s.state(), expect, "unsent {unsent}");
        });
    }
    for partner in [
        HaState::PartnerDown,
        HaState::CommunicationRecovery,
        HaState::PartnerInMaintenance,
    ] {
        with(SEED, |s| {
            drain(s, 0);
            fail(s, 0);
            fail(s, 70_000);
            ok(s, 80_000, partner);
            assert_eq!(s.state(), HaState::Waiting);
        });
    }
}

#[test]
fn normal_state_reacts_to_partner() {
    let cases = [
        (HaState::InMaintenance, HaState::PartnerInMaintenance),
        (HaState::PartnerInMaintenance, HaState::InMaintenance),
        (HaState::PartnerDown, HaState::Waiting),
        (HaState::Terminated, HaState::Terminated),
        (HaState::HotStandby, HaState::Waiting),
    ];
    for (partner, expect) in cases {
        with(SEED, |s| {
            to_normal(s);
            ok(s, 10_000, partner);
            assert_eq!(s.state(), expect, "partner {partner:?}");
        });
    }
}

#[test]
fn ready_reacts_to_partner() {
    let cases = [
        (HaState::InMaintenance, HaState::PartnerInMaintenance),
        (HaState::PartnerInMaintenance, HaState::InMaintenance),
        (HaState::Terminated, HaState::Terminated),
        (HaState::CommunicationRecovery, HaState::LoadBalancing),
    ];
    for (partner, expect) in cases {
        with(&secondary(), |s| {
            drain(s, 0);
            ok(s, 0, HaState::Ready);
            drain(s, 0);
            s.on_sync_done(0, true);
            assert_eq!(s.state(), HaState::Ready);
            ok(s, 10_000, partner);
            assert_eq!(s.state(), expect, "partner {partner:?}");
        });
    }
}

#[test]
fn clock_skew_terminates() {
    with(SEED, |s| {
        to_normal(s);
        s.poll(10_000);
        s.on_heartbeat_ok(10_000, T0 + 61, hb(HaState::LoadBalancing));
        assert_eq!(s.state(), HaState::Terminated);
        // Terminated keeps serving its own scope and stops heartbeats.
        assert!(s.dhcp_enabled());
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: true,
                secondary: false
            }
        );
        drain(s, 10_000);
        assert_eq!(s.poll(100_000), None);
    });
    with(SEED, |s| {
        to_normal(s);
        s.poll(10_000);
        s.on_heartbeat_ok(10_000, T0 + 60, hb(HaState::LoadBalancing));
        assert_eq!(s.state(), HaState::LoadBalancing);
    });
}

#[test]
fn maintenance_from_partner_and_cancel() {
    with(SEED, |s| {
        to_normal(s);
        assert!(s.ha_maintenance_notify(true).is_err());
        assert_eq!(
            s.ha_maintenance_notify(false),
            Ok("Server is in-maintenance state.")
        );
        assert_eq!(s.state(), HaState::InMaintenance);
        assert!(!s.dhcp_enabled());
        assert_eq!(
            s.ha_maintenance_notify(true),
            Ok("Server maintenance canceled.")
        );
        assert_eq!(s.state(), HaState::LoadBalancing);
        assert!(s.dhcp_enabled());
        s.ha_maintenance_start().unwrap();
        s.on_maintenance_start_result(Some(0)).unwrap();
        assert_eq!(s.state(), HaState::PartnerInMaintenance);
        assert_eq!(s.ha_maintenance_notify(false).unwrap_err().result, 1001);
        assert!(s.ha_maintenance_start().is_err());
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: true,
                secondary: true
            }
        );
        assert_eq!(s.on_lease_committed(), UpdateDecision::SendAndPark);
        // The partner's heartbeat reports in-maintenance.
        s.on_heartbeat_ok(9_000, T0, hb(HaState::InMaintenance));
        assert_eq!(s.state(), HaState::PartnerInMaintenance);
        s.ha_maintenance_cancel().unwrap();
        s.on_maintenance_cancel_sent(10_000);
        assert_eq!(s.state(), HaState::LoadBalancing);
        assert!(s.ha_maintenance_cancel().is_err());
        // The last heartbeat still said in-maintenance: the cancel event itself does not
        // send the server back; the next heartbeat (partner back in load-balancing) keeps it.
        while s.poll(10_000).is_some() {}
        assert_eq!(s.state(), HaState::LoadBalancing);
    });
}

/// Found by the e2e test `ha_wrend_maintenance`: right after `ha-maintenance-cancel` the
/// last known partner state is still `in-maintenance` (and on the partner, ours is still
/// `partner-in-maintenance`); evaluating it sent both servers straight back into maintenance.
/// Kea skips the handler on the cancel event and waits for the next heartbeat; a heartbeat
/// already in flight at the cancel is as old as the known state.
#[test]
fn maintenance_cancel_waits_for_a_fresh_partner_state() {
    // The operator's side: partner-in-maintenance → cancel.
    with(SEED, |s| {
        to_normal(s);
        s.on_maintenance_start_result(Some(0)).unwrap();
        ok(s, 10_000, HaState::InMaintenance);
        assert_eq!(s.state(), HaState::PartnerInMaintenance);
        await_heartbeat(s, 20_000);
        s.ha_maintenance_cancel().unwrap();
        s.on_maintenance_cancel_sent(20_000);
        assert_eq!(s.state(), HaState::LoadBalancing);
        // The answer to the heartbeat sent before the cancel still says in-maintenance.
        s.on_heartbeat_ok(20_001, T0, hb(HaState::InMaintenance));
        assert_eq!(s.state(), HaState::LoadBalancing);
        ok(s, 35_000, HaState::LoadBalancing);
        assert_eq!(s.state(), HaState::LoadBalancing);
        // A partner that really is in maintenance again is seen on a fresh heartbeat.
        ok(s, 50_000, HaState::InMaintenance);
        assert_eq!(s.state(), HaState::PartnerInMaintenance);
    });
    // The partner's side: in-maintenance → cancel notified, no heartbeat in flight.
    with(SEED, |s| {
        to_normal(s);
        s.ha_maintenance_notify(false).unwrap();
        ok(s, 10_000, HaState::PartnerInMaintenance);
        assert_eq!(s.state(), HaState::InMaintenance);
        s.ha_maintenance_notify(true).unwrap();
        assert_eq!(s.state(), HaState::LoadBalancing);
        ok(s, 20_000, HaState::LoadBalancing);
        assert_eq!(s.state(), HaState::LoadBalancing);
    });
}

#[test]
fn maintenance_start_partner_unreachable_and_shutdown() {
    with(SEED, |s| {
        to_normal(s);
        s.on_maintenance_start_result(None).unwrap();
        assert_eq!(s.state(), HaState::PartnerDown);
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: true,
                secondary: true
            }
        );
    });
    with(SEED, |s| {
        to_normal(s);
        s.on_maintenance_start_result(Some(0)).unwrap();
        // The partner was shut down: no failure detection needed.
        fail(s, 10_000);
        assert_eq!(s.state(), HaState::PartnerDown);
    });
}

#[test]
fn no_auto_failover_serves_own_scope_until_ha_scopes() {
    let text = SEED.replacen("\"auto-failover\":true", "\"auto-failover\":false", 1);
    with(&text, |s| {
        drain(s, 0);
        fail(s, 0);
        fail(s, 70_000);
        assert_eq!(s.state(), HaState::PartnerDown);
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: true,
                secondary: false
            }
        );
        let i = s.scope_index("infra-2").unwrap();
        assert_eq!(s.scope_index("HA_infra-2"), None);
        assert_eq!(i, 1);
        s.ha_scopes(Scopes {
            primary: true,
            secondary: true,
        });
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: true,
                secondary: true
            }
        );
    });
}

#[test]
fn reset_and_continue() {
    let text = SEED.replace(
        "\"mode\"",
        "\"state-machine\":{\"states\":[{\"state\":\"ready\",\"pause\":\"once\"}]},\"mode\"",
    );
    with(&text, |s| {
        drain(s, 0);
        assert_eq!(s.ha_continue(0), "HA state machine is not paused.");
        ok(s, 0, HaState::LoadBalancing);
        drain(s, 0);
        s.on_sync_done(0, true);
        assert_eq!(s.state(), HaState::Ready);
        assert!(s.paused());
        ok(s, 10_000, HaState::LoadBalancing);
        assert_eq!(s.state(), HaState::Ready);
        assert_eq!(s.ha_continue(10_000), "HA state machine continues.");
        assert_eq!(s.state(), HaState::LoadBalancing);
        assert_eq!(s.ha_reset(10_000), "HA state machine reset.");
        assert_eq!(s.state(), HaState::Waiting);
        assert_eq!(
            s.ha_reset(10_000),
            "HA state machine already in WAITING state."
        );
    });
}

#[test]
fn communication_recovery_backlog() {
    with(SEED, |s| {
        to_normal(s);
        fail(s, 10_000);
        assert_eq!(s.state(), HaState::CommunicationRecovery);
        ok(s, 20_000, HaState::LoadBalancing);
        assert!(drain(s, 20_000).contains(&Action::SendBacklog));
        s.on_backlog_sent(20_000, true);
        assert_eq!(s.state(), HaState::LoadBalancing);
    });
    let text = SEED.replace("\"mode\"", "\"delayed-updates-limit\":1,\"mode\"");
    with(&text, |s| {
        to_normal(s);
        fail(s, 10_000);
        assert_eq!(s.on_lease_committed(), UpdateDecision::Backlog);
        assert_eq!(s.on_lease_committed(), UpdateDecision::NotSent);
        assert!(s.backlog_overflowed());
        // Kea counts neither queued nor overflowed updates as unsent; wren counts what
        // the overflow discards (the queued lease and the one that overflowed), so the
        // partner resynchronizes even if it missed the ha-reset.
        assert_eq!(s.unsent_update_count(), 2);
        ok(s, 20_000, HaState::LoadBalancing);
        // ha-reset first; waiting only once the partner accepted it.
        assert!(drain(s, 20_000).contains(&Action::SendReset));
        assert_eq!(s.state(), HaState::CommunicationRecovery);
        s.on_reset_sent(20_010, true);
        assert_eq!(s.state(), HaState::Waiting);
        assert_eq!((s.backlog_len(), s.backlog_overflowed()), (0, false));
    });
}

#[test]
fn communication_recovery_backlog_counts_leases_and_retries_a_failed_reset() {
    let text = SEED.replace("\"mode\"", "\"delayed-updates-limit\":3,\"mode\"");
    with(&text, |s| {
        to_normal(s);
        fail(s, 10_000);
        assert_eq!(s.state(), HaState::CommunicationRecovery);
        // A client moved to another address: a delete and an update, two leases.
        assert_eq!(s.on_lease_changes_committed(2), UpdateDecision::Backlog);
        assert_eq!(s.backlog_len(), 2);
        assert_eq!(s.on_lease_changes_committed(1), UpdateDecision::Backlog);
        assert_eq!((s.backlog_len(), s.backlog_overflowed()), (3, false));
        // The fourth lease overflows; later ones stay out even if they would fit.
        assert_eq!(s.on_lease_changes_committed(1), UpdateDecision::NotSent);
        assert!(s.backlog_overflowed());
        assert_eq!(s.unsent_update_count(), 4);
        assert_eq!(s.on_lease_changes_committed(2), UpdateDecision::NotSent);
        assert_eq!(s.unsent_update_count(), 6);
        // The partner is back: reset it; a failed reset leaves us in
        // communication-recovery with the partner unavailable, the next good heartbeat
        // tries again.
        ok(s, 20_000, HaState::LoadBalancing);
        assert!(drain(s, 20_000).contains(&Action::SendReset));
        s.on_reset_sent(20_010, false);
        assert_eq!(s.state(), HaState::CommunicationRecovery);
        assert_eq!(s.partner_state(), PartnerState::Unavailable);
        ok(s, 30_000, HaState::CommunicationRecovery);
        assert!(drain(s, 30_000).contains(&Action::SendReset));
        s.on_reset_sent(30_010, true);
        assert_eq!(s.state(), HaState::Waiting);
    });
    // Not overflowed: the backlog goes out; changes committed while it is being sent go
    // straight to the partner (it is reachable again).
    let text = SEED.replace("\"mode\"", "\"delayed-updates-limit\":3,\"mode\"");
    with(&text, |s| {
        to_normal(s);
        fail(s, 10_000);
        assert_eq!(s.on_lease_changes_committed(3), UpdateDecision::Backlog);
        ok(s, 20_000, HaState::LoadBalancing);
        assert!(drain(s, 20_000).contains(&Action::SendBacklog));
        assert_eq!(s.on_lease_committed(), UpdateDecision::SendAndPark);
        s.on_backlog_sent(20_010, true);
        assert_eq!(s.state(), HaState::LoadBalancing);
        assert_eq!(s.backlog_len(), 0);
    });
    // Leaving communication-recovery any other way clears the backlog (Kea's doOnExit).
    with(&text, |s| {
        to_normal(s);
        fail(s, 10_000);
        assert_eq!(s.on_lease_changes_committed(4), UpdateDecision::NotSent);
        ok(s, 20_000, HaState::Ready);
        assert_eq!(
            s.state(),
            HaState::Waiting,
            "partner syncing, our backlog overflowed"
        );
        assert_eq!((s.backlog_len(), s.backlog_overflowed()), (0, false));
    });
}

#[test]
fn backup_and_passive_backup() {
    let backup = SEED.replace(
        "\"url\":\"http://192.168.1.3:8080/\"}]",
        "\"url\":\"http://192.168.1.3:8080/\"},{\"name\":\"b\",\"role\":\"backup\",\"url\":\"http://198.18.0.9:8080/\"}]",
    )
    .replace("\"this-server-name\":\"infra-1\"", "\"this-server-name\":\"b\"");
    with(&backup, |s| {
        drain(s, 0);
        assert_eq!(s.state(), HaState::Backup);
        assert!(!s.dhcp_enabled());
        assert_eq!(s.poll(50_000), None, "no heartbeats on a backup");
    });
    let pb = r#"{"high-availability":[{"this-server-name":"p","mode":"passive-backup","peers":[{"name":"p","url":"http://198.18.0.1:8000/","role":"primary"},{"name":"b","url":"http://198.18.0.2:8000/","role":"backup"}]}]}"#;
    with(pb, |s| {
        let acts = drain(s, 0);
        assert_eq!(s.state(), HaState::PassiveBackup);
        assert!(acts.contains(&Action::EnableDhcp));
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: true,
                secondary: false
            }
        );
        assert_eq!(s.poll(50_000), None);
    });
}

#[test]
fn hot_standby_roles() {
    let hs = SEED
        .replace("\"load-balancing\"", "\"hot-standby\"")
        .replace("\"secondary\"", "\"standby\"")
        .replace(
            "\"this-server-name\":\"infra-1\"",
            "\"this-server-name\":\"infra-2\"",
        );
    with(&hs, |s| {
        drain(s, 0);
        ok(s, 0, HaState::HotStandby);
        drain(s, 0);
        s.on_sync_done(0, true);
        assert_eq!(s.state(), HaState::HotStandby);
        assert!(s.dhcp_enabled());
        assert_eq!(s.scopes(), Scopes::NONE);
        // The standby sees all traffic; it is the primary's.
        let c = client(1);
        let q = QueryFacts {
            message_type: Some(1),
            client_id: &[],
            chaddr: &c,
            secs: 10,
        };
        assert_eq!(s.on_query(&q, 1), Verdict::Drop(DropReason::NotInScope));
        assert_eq!(s.on_lease_committed(), UpdateDecision::SendAndPark);
        // Partner gone: standby needs failure detection (6 unacked clients).
        fail(s, 10_000);
        fail(s, 70_000);
        assert_eq!(s.state(), HaState::HotStandby);
        for i in 0..6 {
            let c = client(i);
            let q = QueryFacts {
                message_type: Some(3),
                client_id: &[],
                chaddr: &c,
                secs: 10,
            };
            s.on_query(&q, 75_000);
        }
        fail(s, 80_000);
        assert_eq!(s.state(), HaState::PartnerDown);
        assert_eq!(
            s.scopes(),
            Scopes {
                primary: true,
                secondary: false
            }
        );
        let c = client(1);
        let q = QueryFacts {
            message_type: Some(1),
            client_id: &[],
            chaddr: &c,
            secs: 0,
        };
        assert_eq!(s.on_query(&q, 80_000), Verdict::Serve);
    });
}

#[test]
fn queries_while_disabled_and_without_key() {
    with(SEED, |s| {
        drain(s, 0);
        let c = client(3);
        let q = QueryFacts {
            message_type: Some(1),
            client_id: &[],
            chaddr: &c,
            secs: 0,
        };
        assert_eq!(
            s.on_query(&q, 0),
            Verdict::Drop(DropReason::ServiceDisabled)
        );
        assert_eq!(s.on_lease_committed(), UpdateDecision::NotSent);
        assert_eq!(s.unsent_update_count(), 1);
        to_normal(s);
        assert_eq!(s.on_query(&q, 0), Verdict::Serve);
        let q = QueryFacts {
            message_type: Some(1),
            client_id: &[],
            chaddr: &[],
            secs: 0,
        };
        assert_eq!(s.on_query(&q, 0), Verdict::Drop(DropReason::NoKey));
    });
}

#[test]
fn sync_complete_notify_in_partner_down_waits() {
    with(SEED, |s| {
        to_normal(s);
        s.ha_sync_complete_notify();
        assert_eq!(drain(s, 0), [Action::EnablePartnerDisabled]);
        s.on_maintenance_start_result(None).unwrap();
        drain(s, 0);
        s.ha_sync_complete_notify();
        assert_eq!(drain(s, 0), []);
        fail(s, 10_000);
        assert!(drain(s, 10_000).contains(&Action::EnablePartnerDisabled));
    });
}

#[test]
fn waiting_table() {
    // Primary: every listed partner state leads to syncing.
    for partner in [
        HaState::LoadBalancing,
        HaState::HotStandby,
        HaState::CommunicationRecovery,
        HaState::InMaintenance,
        HaState::PartnerDown,
        HaState::PartnerInMaintenance,
        HaState::Ready,
        HaState::Waiting,
    ] {
        with(SEED, |s| {
            drain(s, 0);
            ok(s, 0, partner);
            assert_eq!(s.state(), HaState::Syncing, "partner {partner:?}");
        });
    }
    for partner in [HaState::Syncing, HaState::Terminated] {
        with(SEED, |s| {
            drain(s, 0);
            ok(s, 0, partner);
            assert_eq!(s.state(), HaState::Waiting, "partner {partner:?}");
        });
    }
}

#[test]
fn communication_recovery_table() {
    let cases = [
        (HaState::InMaintenance, HaState::PartnerInMaintenance),
        (HaState::PartnerInMaintenance, HaState::InMaintenance),
        (HaState::PartnerDown, HaState::Waiting),
        (HaState::Terminated, HaState::Terminated),
        (HaState::Ready, HaState::CommunicationRecovery),
    ];
    for (partner, expect) in cases {
        with(SEED, |s| {
            to_normal(s);
            fail(s, 10_000);
            assert_eq!(s.state(), HaState::CommunicationRecovery);
            ok(s, 20_000, partner);
            assert_eq!(s.state(), expect, "partner {partner:?}");
        });
    }
    // Backlog sending failed → ha-reset and waiting.
    with(SEED, |s| {
        to_normal(s);
        fail(s, 10_000);
        ok(s, 20_000, HaState::CommunicationRecovery);
        assert!(drain(s, 20_000).contains(&Action::SendBacklog));
        s.on_backlog_sent(20_000, false);
        assert!(drain(s, 20_000).contains(&Action::SendReset));
        assert_eq!(s.state(), HaState::CommunicationRecovery);
        s.on_reset_sent(20_010, true);
        assert_eq!(s.state(), HaState::Waiting);
    });
}

#[test]
fn failed_lease_update_marks_partner_unavailable() {
    with(SEED, |s| {
        to_normal(s);
        assert_eq!(s.on_lease_committed(), UpdateDecision::SendAndPark);
        s.on_lease_update_result(1_000, true);
        assert_eq!(
            s.partner_state(),
            PartnerState::Known(HaState::LoadBalancing)
        );
        s.on_lease_update_result(1_000, false);
        assert_eq!(s.partner_state(), PartnerState::Unavailable);
        assert_eq!(s.state(), HaState::CommunicationRecovery);
    });
}

/// kea-ha.md §4/§6: backups get every update (fire and forget) in any mode and state;
/// only passive-backup + wait-backup-ack parks the reply; a backup sends nothing; without
/// a backup peer or with `send-lease-updates: false` nothing goes to backups.
#[test]
fn backup_update_decisions() {
    let lb_with_backup = SEED.replace(
        "\"url\":\"http://192.168.1.3:8080/\"}]",
        "\"url\":\"http://192.168.1.3:8080/\"},{\"name\":\"b\",\"role\":\"backup\",\"url\":\"http://198.18.0.9:8080/\"}]",
    );
    with(&lb_with_backup, |s| {
        assert_eq!(
            s.config().backups().map(|p| p.name).collect::<Vec<_>>(),
            ["b"]
        );
        // Still waiting (the partner is unknown): the partner gets nothing, the backup does.
        assert_eq!(s.state(), HaState::Waiting);
        assert_eq!(s.on_lease_committed(), UpdateDecision::NotSent);
        assert_eq!(s.backup_updates(), BackupUpdates::FireAndForget);
    });
    with(SEED, |s| {
        assert_eq!(s.config().backups().count(), 0);
        assert_eq!(s.backup_updates(), BackupUpdates::None);
    });
    let off = lb_with_backup.replace(
        "\"this-server-name\":\"infra-1\"",
        "\"this-server-name\":\"infra-1\",\"send-lease-updates\":false",
    );
    with(&off, |s| {
        assert_eq!(s.backup_updates(), BackupUpdates::None)
    });
    let on_backup = lb_with_backup.replace(
        "\"this-server-name\":\"infra-1\"",
        "\"this-server-name\":\"b\"",
    );
    with(&on_backup, |s| {
        assert_eq!(s.config().backups().count(), 0, "a backup has no backups");
        assert_eq!(s.backup_updates(), BackupUpdates::None);
    });
    let pb = |wait: &str| {
        std::format!(
            r#"{{"high-availability":[{{"this-server-name":"p","mode":"passive-backup","wait-backup-ack":{wait},"peers":[{{"name":"p","url":"http://198.18.0.1:8000/","role":"primary"}},{{"name":"b1","url":"http://198.18.0.2:8000/","role":"backup"}},{{"name":"b2","url":"http://198.18.0.3:8000/","role":"backup"}}]}}]}}"#
        )
    };
    with(&pb("false"), |s| {
        drain(s, 0);
        assert_eq!(s.state(), HaState::PassiveBackup);
        assert_eq!(s.config().backups().count(), 2);
        // No active partner: nothing for it, and nothing counted unsent.
        assert_eq!(s.on_lease_committed(), UpdateDecision::NotSent);
        assert_eq!(s.unsent_update_count(), 0);
        assert_eq!(s.backup_updates(), BackupUpdates::FireAndForget);
    });
    with(&pb("true"), |s| {
        drain(s, 0);
        assert_eq!(s.backup_updates(), BackupUpdates::SendAndPark);
    });
}
