//! Tests of the HA runtime's bookkeeping.
use super::*;

#[test]
fn settle_completes_once_every_update_answered() {
    let mut parks = vec![Park::default(); 4];
    parks[2] = Park {
        used: true,
        generation: 5,
        pending: 2,
        failed: false,
    };
    let id = (5 << 16) | 2;
    let mut done = Vec::new();
    settle(&mut parks, &mut done, id, true);
    assert!(done.is_empty());
    settle(&mut parks, &mut done, id, true);
    assert_eq!(done, vec![(id, true)]);
    assert!(!parks[2].used);
    // A stale id (old generation) is ignored.
    settle(&mut parks, &mut done, id, true);
    assert_eq!(done.len(), 1);
}

#[test]
fn one_failed_update_drops_the_reply() {
    let mut parks = vec![Park::default(); 1];
    parks[0] = Park {
        used: true,
        generation: 1,
        pending: 2,
        failed: false,
    };
    let id = 1 << 16;
    let mut done = Vec::new();
    settle(&mut parks, &mut done, id, false);
    settle(&mut parks, &mut done, id, true);
    assert_eq!(done, vec![(id, false)]);
}

use crate::packet_path::tests::{EchoEngine, MemoryJournal};
use crate::packet_path::Engine;
use std::net::Ipv4Addr;
use std::path::Path;
use wren_core::ha::load_balance::Scopes;
use wren_core::ha::state::HeartbeatInfo;
use wren_core::server::{Interface, Query, Transport};

const PARAMS: &str = r#"{ "high-availability": [ { "this-server-name": "server1", "mode": "load-balancing",
    "heartbeat-delay": 1000, "max-response-delay": 3000, "max-unacked-clients": 0,
    "peers": [ { "name": "server1", "url": "http://198.18.0.1:8001/", "role": "primary",
                 "basic-auth-user": "ha", "basic-auth-password": "one" },
               { "name": "server2", "url": "http://198.18.0.2:8001/", "role": "secondary" } ] } ] }"#;

fn runtime() -> HaRuntime {
    runtime_with(PARAMS)
}

fn runtime_with(params: &str) -> HaRuntime {
    let text = format!(
        r#"{{ "Dhcp4": {{ "subnet4": [ {{ "id": 1, "subnet": "198.18.0.0/24" }} ],
            "hooks-libraries": [ {{ "library": "/usr/lib/kea/hooks/libdhcp_ha.so", "parameters": {params} }} ] }} }}"#
    );
    let path = Path::new("ha-test.json");
    let mut storage = crate::config_load::allocate(path, &text).unwrap();
    let config = crate::config_load::parse(path, &text, &mut storage, &mut Vec::new()).unwrap();
    check(&config).unwrap();
    HaRuntime::from_config(&config).unwrap().unwrap()
}

/// Drives the state machine to load-balancing as a partner in load-balancing would.
fn to_load_balancing(rt: &mut HaRuntime) {
    let hb = |state| HeartbeatInfo {
        state,
        date_time: unix_secs(),
        unsent_update_count: 0,
        scopes: Scopes::NONE,
    };
    let svc = rt.service_mut();
    while svc.poll(0).is_some() {}
    svc.on_heartbeat_ok(1, unix_secs(), hb(HaState::LoadBalancing));
    while svc.poll(1).is_some() {}
    svc.on_sync_done(2, true);
    while svc.poll(2).is_some() {}
    assert_eq!(svc.state(), HaState::LoadBalancing);
}

/// A DHCP message of `message_type` from `chaddr`.
fn dhcp(message_type: u8, chaddr: [u8; 6]) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&[0, 0, 0x12, 0x34]);
    p[28..34].copy_from_slice(&chaddr);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, message_type, 255]);
    p
}

const ADDRESSES: [Ipv4Addr; 1] = [Ipv4Addr::new(198, 18, 0, 1)];
/// Hash 182: the primary's (server1's) scope (kea-ha.md §3 vector).
const OURS: [u8; 6] = [2, 0, 0, 0, 0, 3];
/// Hash 133: the secondary's scope.
const THEIRS: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn handle(engine: &mut engine::HaEngine<EchoEngine>, payload: &[u8]) -> (bool, Hold) {
    let query = Query {
        payload,
        interface: Interface {
            name: "eth0",
            addresses: &ADDRESSES,
            mac: [2, 0, 0, 0, 0, 0xaa],
        },
        source_ip: Ipv4Addr::UNSPECIFIED,
        source_port: 68,
        destination_ip: Ipv4Addr::BROADCAST,
        source_mac: [2, 0, 0, 0, 0, 3],
        transport: Transport::Raw,
    };
    let mut reply = [0u8; 1500];
    let mut journal = MemoryJournal::default();
    let answered = engine
        .handle(&query, Timestamp(1_000), &mut reply, &mut journal)
        .is_some();
    (answered, engine.hold())
}

#[test]
fn waiting_answers_nothing() {
    let shared = runtime().shared();
    let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
    shared.borrow_mut().service_mut().poll(0);
    assert_eq!(handle(&mut engine, &dhcp(1, OURS)), (false, Hold::Send));
}

#[test]
fn load_balancing_serves_its_scope_and_parks_request_replies() {
    let mut rt = runtime();
    to_load_balancing(&mut rt);
    let shared = rt.shared();
    let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
    // DISCOVER in our scope: answered, no update (never for DISCOVER).
    assert_eq!(handle(&mut engine, &dhcp(1, OURS)), (true, Hold::Send));
    // Partner's scope: dropped.
    assert!(!handle(&mut engine, &dhcp(1, THEIRS)).0);
    assert!(!handle(&mut engine, &dhcp(3, THEIRS)).0);
    // REQUEST in our scope: the lease change is queued as one lease4-update and the reply
    // is parked under an id.
    let (answered, hold) = handle(&mut engine, &dhcp(3, OURS));
    assert!(answered);
    let Hold::Park(id) = hold else {
        panic!("{hold:?}")
    };
    let rt = shared.borrow();
    let client = rt.client.as_ref().unwrap();
    assert_eq!(client.len(), 1);
    assert_eq!(rt.service().unsent_update_count(), 0);
    assert!(rt.parks[(id & 0xffff) as usize].used);
}

#[test]
fn partner_down_sends_no_update_and_counts_it() {
    let mut rt = runtime();
    {
        let svc = rt.service_mut();
        while svc.poll(0).is_some() {}
        // No heartbeat answered for longer than max-response-delay; max-unacked-clients 0.
        svc.on_heartbeat_failed(10_000);
        while svc.poll(10_000).is_some() {}
        assert_eq!(svc.state(), HaState::PartnerDown);
    }
    let shared = rt.shared();
    let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
    // Every scope is served, nothing is parked.
    assert_eq!(handle(&mut engine, &dhcp(3, THEIRS)), (true, Hold::Send));
    assert_eq!(handle(&mut engine, &dhcp(3, OURS)), (true, Hold::Send));
    let rt = shared.borrow();
    assert_eq!(rt.service().unsent_update_count(), 2);
    assert!(rt.client.as_ref().unwrap().is_empty());
}

#[test]
fn a_full_queue_drops_the_reply() {
    let mut rt = runtime();
    to_load_balancing(&mut rt);
    let client = rt.client.as_mut().unwrap();
    while client.room() > 0 {
        client
            .enqueue(Tag::Reset, REQUEST_TIMEOUT, |b| b.push(b'x'))
            .unwrap();
    }
    let shared = rt.shared();
    let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
    assert_eq!(handle(&mut engine, &dhcp(3, OURS)), (true, Hold::Drop));
}

#[test]
fn the_listener_is_this_peer_url_with_its_credentials_unless_a_control_socket_covers_it() {
    let rt = runtime();
    let Some(Listener::Http { address, auth }) = rt.listener(&[]).unwrap() else {
        panic!()
    };
    assert_eq!(address, "198.18.0.1:8001".parse().unwrap());
    let auth = auth.unwrap();
    let mut scratch = Vec::new();
    // base64("ha:one")
    assert!(auth.allows(Some("Basic aGE6b25l"), &mut scratch));
    assert!(!auth.allows(Some("Basic aGE6dHdv"), &mut scratch));
    let covering = Listener::Http {
        address: "0.0.0.0:8001".parse().unwrap(),
        auth: None,
    };
    assert_eq!(rt.listener(&[covering]).unwrap(), None);
    let elsewhere = Listener::Http {
        address: "127.0.0.1:8000".parse().unwrap(),
        auth: None,
    };
    assert!(rt.listener(&[elsewhere]).unwrap().is_some());
}

#[test]
fn status_get_gains_the_high_availability_part_and_heartbeats_are_answered() {
    use crate::control::CommandHook;
    let shared = runtime().shared();
    let mut hook = peer_commands::HaCommands::new(shared.clone());
    let mut out = b"[ ".to_vec();
    let start = out.len();
    out.extend_from_slice(br#"{ "arguments": { "pid": 1 }, "result": 0 }"#);
    hook.amend(br#"{ "command": "status-get" }"#, &mut out, start);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(r#"[ { "arguments": { "high-availability": [ { "ha-mode": "load-balancing", "ha-servers": { "local": { "role": "primary", "scopes": [  ], "state": "waiting" }"#),
        "{text}"
    );
    assert!(text.ends_with(r#", "pid": 1 }, "result": 0 }"#), "{text}");
    let mut out = Vec::new();
    assert!(hook.command(
        br#"{ "command": "ha-heartbeat", "service": [ "dhcp4" ] }"#,
        &mut out
    ));
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(r#"{ "arguments": { "date-time": ""#),
        "{text}"
    );
    assert!(text.contains(r#""state": "waiting""#), "{text}");
    let mut out = Vec::new();
    assert!(hook.command(
        br#"{ "command": "ha-scopes", "arguments": { "scopes": [ "HA_server1" ] } }"#,
        &mut out
    ));
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{ "result": 1, "text": "invalid server name specified 'HA_server1' while enabling/disabling HA scopes" }"#
    );
    let mut out = Vec::new();
    assert!(hook.command(
        br#"{ "command": "ha-scopes", "arguments": { "scopes": [ "server1", "server2" ] } }"#,
        &mut out
    ));
    assert_eq!(
        shared.borrow().service().scopes(),
        Scopes {
            primary: true,
            secondary: true
        }
    );
    assert!(!hook.command(br#"{ "command": "lease4-update" }"#, &mut Vec::new()));
}

#[test]
fn queries_are_put_in_the_class_of_their_scope_owner() {
    let rt = runtime();
    let facts = |chaddr: &'static [u8], message_type| wren_core::ha::load_balance::QueryFacts {
        message_type: Some(message_type),
        client_id: &[],
        chaddr,
        secs: 0,
    };
    assert_eq!(rt.hook_class(&facts(&OURS, 1)), b"HA_server1");
    assert_eq!(rt.hook_class(&facts(&THEIRS, 1)), b"HA_server2");
    // Not load balanced (DHCPLEASEQUERY-like type 10): the primary's scope.
    assert_eq!(rt.hook_class(&facts(&THEIRS, 10)), b"HA_server1");
}

#[test]
fn communication_recovery_keeps_updates_and_sends_them_when_the_partner_is_back() {
    let mut rt = runtime();
    to_load_balancing(&mut rt);
    {
        // One failed heartbeat before max-response-delay (3 s): communication-recovery.
        let svc = rt.service_mut();
        svc.on_heartbeat_failed(1_000);
        while svc.poll(1_000).is_some() {}
        assert_eq!(svc.state(), HaState::CommunicationRecovery);
    }
    let shared = rt.shared();
    let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
    // Replies go out at once; their lease updates wait in the backlog, nothing is queued
    // to the unreachable partner and nothing counts as unsent.
    for _ in 0..3 {
        assert_eq!(handle(&mut engine, &dhcp(3, OURS)), (true, Hold::Send));
    }
    {
        let rt = shared.borrow();
        assert_eq!(rt.backlog.len(), 3);
        assert_eq!(rt.service().backlog_len(), 3);
        assert!(rt.client.as_ref().unwrap().is_empty());
        assert_eq!(rt.service().unsent_update_count(), 0);
    }
    // The partner answers again: the backlog becomes three requests to it.
    let mut rt = shared.borrow_mut();
    let svc = rt.service_mut();
    svc.on_heartbeat_ok(
        2_000,
        unix_secs(),
        HeartbeatInfo {
            state: HaState::LoadBalancing,
            date_time: unix_secs(),
            unsent_update_count: 0,
            scopes: Scopes::NONE,
        },
    );
    let mut actions = Vec::new();
    while let Some(a) = rt.service_mut().poll(2_000) {
        actions.push(a);
        rt.act(a, 2_000);
    }
    assert!(actions.contains(&Action::SendBacklog), "{actions:?}");
    rt.flush_outbox();
    assert_eq!(rt.client.as_ref().unwrap().len(), 3);
    assert!(rt.backlog.is_empty());
    // All three acknowledged: back to load-balancing.
    rt.service_mut().on_backlog_sent(2_100, true);
    assert_eq!(rt.service().state(), HaState::LoadBalancing);
}

/// PARAMS plus a backup peer `server3`.
fn with_backup(this: &str) -> String {
    PARAMS
        .replace(
            r#""role": "secondary" }"#,
            r#""role": "secondary" },
               { "name": "server3", "url": "http://198.18.0.3:8001/", "role": "backup",
                 "basic-auth-user": "b", "basic-auth-password": "three" }"#,
        )
        .replace(
            r#""this-server-name": "server1""#,
            &format!(r#""this-server-name": "{this}""#),
        )
}

fn passive_backup(wait: bool) -> String {
    format!(
        r#"{{ "high-availability": [ {{ "this-server-name": "p", "mode": "passive-backup", "wait-backup-ack": {wait},
        "peers": [ {{ "name": "p", "url": "http://198.18.0.1:8001/", "role": "primary" }},
                   {{ "name": "b1", "url": "http://198.18.0.2:8001/", "role": "backup" }},
                   {{ "name": "b2", "url": "http://198.18.0.3:8001/", "role": "backup" }} ] }} ] }}"#
    )
}

fn backup_queued(rt: &HaRuntime) -> Vec<usize> {
    rt.backups.iter().map(|b| b.client.len()).collect()
}

#[test]
fn backups_get_every_update_without_holding_the_reply() {
    let mut rt = runtime_with(&with_backup("server1"));
    assert_eq!(rt.backups.len(), 1);
    assert_eq!(rt.backups[0].password.as_deref(), Some("three"));
    to_load_balancing(&mut rt);
    let shared = rt.shared();
    let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
    // DISCOVER: no update for anyone.
    assert_eq!(handle(&mut engine, &dhcp(1, OURS)), (true, Hold::Send));
    assert_eq!(backup_queued(&shared.borrow()), [0]);
    // REQUEST: parked for the partner only; the backup's update is queued beside it.
    let (answered, hold) = handle(&mut engine, &dhcp(3, OURS));
    assert!(answered);
    let Hold::Park(id) = hold else {
        panic!("{hold:?}")
    };
    {
        let rt = shared.borrow();
        assert_eq!(rt.client.as_ref().unwrap().len(), 1);
        assert_eq!(backup_queued(&rt), [1]);
        assert_eq!(
            rt.parks[(id & 0xffff) as usize].pending,
            1,
            "not waiting for the backup"
        );
    }
    // Partner down: the partner gets nothing, the backup still does, the reply goes out.
    {
        let mut rt = shared.borrow_mut();
        let svc = rt.service_mut();
        svc.on_heartbeat_failed(10_000);
        while svc.poll(10_000).is_some() {}
        assert_eq!(svc.state(), HaState::PartnerDown);
    }
    assert_eq!(handle(&mut engine, &dhcp(3, THEIRS)), (true, Hold::Send));
    let rt = shared.borrow();
    assert_eq!(rt.client.as_ref().unwrap().len(), 1);
    assert_eq!(backup_queued(&rt), [2]);
}

#[test]
fn a_full_backup_queue_loses_updates_but_never_a_reply() {
    let mut rt = runtime_with(&with_backup("server1"));
    {
        let svc = rt.service_mut();
        while svc.poll(0).is_some() {}
        svc.on_heartbeat_failed(10_000);
        while svc.poll(10_000).is_some() {}
    }
    let backup = &mut rt.backups[0].client;
    while backup.room() > 0 {
        backup
            .enqueue(Tag::BackupUpdate { park: None }, REQUEST_TIMEOUT, |b| {
                b.push(b'x')
            })
            .unwrap();
    }
    let shared = rt.shared();
    let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
    assert_eq!(handle(&mut engine, &dhcp(3, OURS)), (true, Hold::Send));
}

#[test]
fn a_backup_answers_no_dhcp_sends_nothing_and_listens_for_updates() {
    let rt = runtime_with(&with_backup("server3"));
    assert!(rt.backups.is_empty());
    assert!(rt.client.is_none(), "a backup has no partner");
    let Some(Listener::Http { address, auth }) = rt.listener(&[]).unwrap() else {
        panic!("a backup must listen for the lease updates")
    };
    assert_eq!(address, "198.18.0.3:8001".parse().unwrap());
    let mut scratch = Vec::new();
    // base64("b:three")
    assert!(auth
        .unwrap()
        .allows(Some("Basic Yjp0aHJlZQ=="), &mut scratch));
    let shared = rt.shared();
    while shared.borrow_mut().service_mut().poll(0).is_some() {}
    assert_eq!(shared.borrow().service().state(), HaState::Backup);
    let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
    for t in [1, 3] {
        for mac in [OURS, THEIRS] {
            assert_eq!(handle(&mut engine, &dhcp(t, mac)), (false, Hold::Send));
        }
    }
}

#[test]
fn passive_backup_serves_everyone_and_waits_for_backups_only_when_asked() {
    for wait in [false, true] {
        let rt = runtime_with(&passive_backup(wait));
        assert!(rt.client.is_none());
        assert_eq!(rt.backups.len(), 2);
        let shared = rt.shared();
        while shared.borrow_mut().service_mut().poll(0).is_some() {}
        assert_eq!(shared.borrow().service().state(), HaState::PassiveBackup);
        let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
        assert_eq!(handle(&mut engine, &dhcp(1, THEIRS)), (true, Hold::Send));
        let (answered, hold) = handle(&mut engine, &dhcp(3, THEIRS));
        assert!(answered);
        let rt = shared.borrow();
        assert_eq!(backup_queued(&rt), [1, 1]);
        if wait {
            let Hold::Park(id) = hold else {
                panic!("{hold:?}")
            };
            assert_eq!(rt.parks[(id & 0xffff) as usize].pending, 2);
        } else {
            assert_eq!(hold, Hold::Send);
        }
    }
}

#[test]
fn with_wait_backup_ack_a_failed_or_full_backup_drops_the_reply() {
    let rt = runtime_with(&passive_backup(true));
    let shared = rt.shared();
    while shared.borrow_mut().service_mut().poll(0).is_some() {}
    let mut engine = engine::HaEngine::new(EchoEngine { silent: false }, Some(shared.clone()));
    let Hold::Park(id) = handle(&mut engine, &dhcp(3, OURS)).1 else {
        panic!()
    };
    {
        // b1 acks, b2 fails: the reply is dropped, the state does not change.
        let mut rt = shared.borrow_mut();
        let HaRuntime {
            parks, completed, ..
        } = &mut *rt;
        settle(parks, completed, id, true);
        assert!(completed.is_empty());
        settle(parks, completed, id, false);
        assert_eq!(completed.as_slice(), [(id, false)]);
        assert_eq!(rt.service().state(), HaState::PassiveBackup);
    }
    {
        let mut rt = shared.borrow_mut();
        let b2 = &mut rt.backups[1].client;
        while b2.room() > 0 {
            b2.enqueue(Tag::BackupUpdate { park: None }, REQUEST_TIMEOUT, |b| {
                b.push(b'x')
            })
            .unwrap();
        }
    }
    assert_eq!(handle(&mut engine, &dhcp(3, OURS)), (true, Hold::Drop));
}

/// A config file (one key per line) whose HA relationship carries every key wren does not
/// act on.
const IGNORED_KEYS_CONFIG: &str = r#"{ "Dhcp4": {
  "subnet4": [ { "id": 1, "subnet": "198.18.0.0/24" } ],
  "hooks-libraries": [ { "library": "/usr/lib/kea/hooks/libdhcp_ha.so", "parameters": {
    "high-availability": [ {
      "this-server-name": "server1",
      "mode": "load-balancing",
      "trust-anchor": "/etc/kea/ca.pem",
      "cert-file": "/etc/kea/server1.pem",
      "key-file": "/etc/kea/server1.key",
      "require-client-certs": false,
      "restrict-commands": true,
      "multi-threading": { "enable-multi-threading": true, "http-dedicated-listener": true },
      "comment": "comments and user contexts are no feature: not reported",
      "peers": [
        { "name": "server1", "url": "https://198.18.0.1:8001/", "role": "primary" },
        { "name": "server2", "url": "http://198.18.0.2:8001/", "role": "secondary",
          "trust-anchor": "/etc/kea/ca2.pem" }
      ]
    } ]
  } } ]
} }"#;

fn parsed(text: &str, f: impl FnOnce(&Config<'_>)) {
    let path = Path::new("/etc/wren/ha.json");
    let mut storage = crate::config_load::allocate(path, text).unwrap();
    let config = crate::config_load::parse(path, text, &mut storage, &mut Vec::new()).unwrap();
    f(&config)
}

#[test]
fn every_ha_key_wren_does_not_implement_gets_a_warning_with_file_and_line() {
    parsed(IGNORED_KEYS_CONFIG, |config| {
        check(config).unwrap();
        let w = ignored_key_warnings(config, Path::new("/etc/wren/ha.json"), IGNORED_KEYS_CONFIG);
        let expected = [
            (
                "/etc/wren/ha.json:7: ",
                "high-availability[0].trust-anchor ignored: TLS",
            ),
            (
                "/etc/wren/ha.json:8: ",
                "high-availability[0].cert-file ignored: TLS",
            ),
            (
                "/etc/wren/ha.json:9: ",
                "high-availability[0].key-file ignored: TLS",
            ),
            (
                "/etc/wren/ha.json:10: ",
                "high-availability[0].require-client-certs ignored",
            ),
            (
                "/etc/wren/ha.json:11: ",
                "high-availability[0].restrict-commands ignored",
            ),
            (
                "/etc/wren/ha.json:12: ",
                "high-availability[0].multi-threading ignored: wren is single-threaded",
            ),
            (
                "/etc/wren/ha.json:15: ",
                "peers[name=server1].url ignored: https",
            ),
            (
                "/etc/wren/ha.json:17: ",
                "peers[name=server2].trust-anchor ignored: TLS",
            ),
        ];
        assert_eq!(w.len(), expected.len(), "{w:#?}");
        for (got, (location, what)) in w.iter().zip(expected) {
            assert!(
                got.starts_with(location) && got.contains(what),
                "{got:?} is not {location}…{what}…"
            );
        }
    });
}

#[test]
fn an_https_partner_is_refused_by_the_check_and_the_start() {
    let text = IGNORED_KEYS_CONFIG
        .replace("https://198.18.0.1", "http://198.18.0.1")
        .replace("http://198.18.0.2", "https://198.18.0.2");
    parsed(&text, |config| {
        let e = check(config).unwrap_err();
        assert!(e.contains("peer 'server2' uses https"), "{e}");
        assert!(HaRuntime::from_config(config).is_err());
        // Not also warned about: it is an error.
        let w = ignored_key_warnings(config, Path::new("x.json"), &text);
        assert!(w.iter().all(|w| !w.contains(".url ")), "{w:#?}");
    });
}

#[test]
fn a_plain_relationship_has_no_warning() {
    let text = format!(
        r#"{{ "Dhcp4": {{ "subnet4": [ {{ "id": 1, "subnet": "198.18.0.0/24" }} ],
            "hooks-libraries": [ {{ "library": "/usr/lib/kea/hooks/libdhcp_ha.so", "parameters": {PARAMS} }} ] }} }}"#
    );
    parsed(&text, |config| {
        assert!(ignored_key_warnings(config, Path::new("x.json"), &text).is_empty());
    });
}

fn ha_sync_request(max_period_secs: Option<u32>) -> HaSyncRequest<'static> {
    HaSyncRequest {
        server_name: "server2",
        max_period_secs,
    }
}

#[test]
fn an_operator_sync_runs_the_sync_exchange_and_is_answered_once() {
    let mut rt = runtime();
    to_load_balancing(&mut rt);
    assert_eq!(rt.start_admin_sync(&ha_sync_request(Some(30))), Ok(1));
    assert_eq!(rt.outbox.front(), Some(&Tag::SyncDisable { from: None }));
    assert_eq!(rt.sync_period, Some(30));
    // One at a time, as Kea's synchronous command.
    assert_eq!(
        rt.start_admin_sync(&ha_sync_request(None)),
        Err(HaSyncError::InProgress)
    );
    assert_eq!(rt.take_answer(), None);
    rt.sync_succeeded(5);
    assert_eq!(
        rt.take_answer(),
        Some((1, 0, "Lease database synchronization complete."))
    );
    assert_eq!(rt.take_answer(), None);
    // The state machine did not ask for this sync: it stays in load-balancing.
    assert_eq!(rt.service().state(), HaState::LoadBalancing);
    // Without max-period the partner's dhcp-disable carries none (Kea 2.2).
    rt.start_admin_sync(&ha_sync_request(None)).unwrap();
    assert_eq!(rt.sync_period, None);
}

#[test]
fn a_failed_operator_sync_re_enables_the_partner_and_says_why() {
    let mut rt = runtime();
    to_load_balancing(&mut rt);
    rt.start_admin_sync(&ha_sync_request(None)).unwrap();
    rt.outbox.clear();
    // dhcp-disable was accepted, then a page was not a page.
    rt.partner_disabled = true;
    rt.sync_failed(7, SyncFailure::BadPage);
    assert_eq!(rt.outbox.back(), Some(&Tag::SyncRelease));
    let (_, result, text) = rt.take_answer().unwrap();
    assert_eq!(result, 1);
    assert_eq!(text, SyncFailure::BadPage.text());
    // A second failure report of the same sync changes nothing.
    rt.sync_failed(8, SyncFailure::Unreachable);
    assert_eq!(rt.take_answer(), None);
}

#[test]
fn an_operator_sync_joins_the_state_machine_sync_already_running() {
    let mut rt = runtime();
    rt.act(Action::Synchronize, 0);
    assert_eq!(rt.outbox.len(), 1);
    rt.start_admin_sync(&ha_sync_request(Some(9))).unwrap();
    // No second exchange, the running one's period.
    assert_eq!(rt.outbox.len(), 1);
    assert_eq!(rt.sync_period, Some(60));
    rt.sync_succeeded(3);
    assert!(!rt.sync_for_machine);
    assert_eq!(rt.take_answer().map(|a| a.1), Some(0));
}

#[test]
fn a_reload_hand_over_drops_parked_replies_and_answers_the_waiting_operator() {
    let mut rt = runtime();
    to_load_balancing(&mut rt);
    rt.parks[3] = Park {
        used: true,
        generation: 7,
        pending: 1,
        failed: false,
    };
    let ticket = rt.start_admin_sync(&ha_sync_request(None)).unwrap();
    let fresh = runtime();
    rt.hand_over(fresh);
    assert_eq!(rt.service().state(), HaState::Waiting);
    assert_eq!(rt.completed, vec![((7 << 16) | 3, false)]);
    // The new parks never reuse the old ids.
    assert_eq!(rt.parks[3].generation, 8);
    assert_eq!(
        rt.take_answer(),
        Some((ticket, 1, SyncFailure::Reconfigured.text()))
    );
    // Tickets keep counting across the hand-over.
    assert_eq!(rt.next_ticket, ticket + 1);
}

#[test]
fn maintenance_start_is_answered_with_kea_text_once_the_partner_answered() {
    let mut rt = runtime();
    to_load_balancing(&mut rt);
    let ticket = rt.start_maintenance().unwrap();
    assert_eq!(
        rt.start_maintenance(),
        Err("A maintenance request is already in progress.")
    );
    assert_eq!(rt.take_answer(), None);
    let taken = rt.pending_maintenance.take().unwrap();
    assert_eq!(taken, ticket);
    rt.maintenance_outcome(ticket, Some(0));
    assert_eq!(
        rt.take_answer(),
        Some((ticket, 0, "Server is now in the partner-in-maintenance state and its partner is in-maintenance state. The partner can be now safely shut down."))
    );
    assert_eq!(rt.service().state(), HaState::PartnerInMaintenance);
}
