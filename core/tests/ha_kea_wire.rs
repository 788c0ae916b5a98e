//! Kea 2.2's real HA peer traffic (fixtures/ha/, captured between two kea-dhcp4 2.2.0 +
//! kea-ctrl-agent 2.2.0 peers in load-balancing with basic auth: the e2e test
//! `ha_kea_reference_wire` with `WREN_KEEP=1`, bodies read from its `peers.pcap`) against what
//! `wren_core::ha::commands` writes and reads: wren must write the same bytes and read every
//! answer Kea gives.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use core::net::Ipv4Addr;

use wren_core::control::json_in::parse_document;
use wren_core::control::Value;
use wren_core::ha::commands::{
    self, dhcp_disable_request, expect_success, heartbeat_request, http_request,
    lease4_del_request, lease4_get_page_request, lease4_update_request, parse_heartbeat,
    parse_lease, parse_lease_page, simple_request, AnswerError, LeaseScratch,
};
use wren_core::ha::config::{parse_ha_parameters, HaConfig, EMPTY_PEER};
use wren_core::ha::load_balance::Scopes;
use wren_core::ha::state::HaState;
use wren_core::lease::{LeaseRecord, LeaseState};
use wren_core::time::Timestamp;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("fixtures/ha/", $name)).trim_end_matches('\n')
    };
}

/// The relationship of the capture, seen from server1 (which sends as peer2 to server2).
const PARAMS: &str = r#"{ "high-availability": [ { "this-server-name": "server1", "mode": "load-balancing",
  "heartbeat-delay": 1000, "max-response-delay": 3000, "max-ack-delay": 1000, "max-unacked-clients": 0,
  "sync-page-limit": 3, "sync-timeout": 10000,
  "peers": [ { "name": "server1", "url": "http://198.18.0.1:8000/", "role": "primary" },
             { "name": "server2", "url": "http://198.18.0.2:8000/", "role": "secondary",
               "basic-auth-user": "peer2", "basic-auth-password": "pw-2-secret" } ] } ] }"#;

fn with_config<R>(f: impl FnOnce(&HaConfig<'_, '_>) -> R) -> R {
    let mut peers = [EMPTY_PEER; 2];
    let cfg = parse_ha_parameters(PARAMS, &mut peers).expect("capture's HA parameters");
    f(&cfg)
}

fn text(buf: &[u8], n: usize) -> &str {
    core::str::from_utf8(&buf[..n]).unwrap()
}

/// The lease of `request-lease4-update.json` (dhclient with hostname `ha-ref` and client id
/// 01:aa:bb:cc:dd:ee:ff; expire 1795871151 = cltt + 600).
fn captured_lease() -> LeaseRecord<'static> {
    LeaseRecord {
        address: Ipv4Addr::new(198, 18, 0, 109),
        hwaddr: &[0xfe, 0x02, 0x7b, 0xec, 0xa6, 0x0a],
        client_id: &[0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
        valid_lifetime: 600,
        cltt: Timestamp(1_795_871_151 - 600),
        subnet_id: 1,
        fqdn_fwd: false,
        fqdn_rev: false,
        hostname: "ha-ref",
        state: LeaseState::Default,
        user_context: "",
    }
}

#[test]
fn requests_are_byte_for_byte_what_kea_sends() {
    let mut b = [0u8; 2048];
    let n = heartbeat_request(&mut b).unwrap();
    assert_eq!(text(&b, n), fixture!("request-ha-heartbeat.json"));
    // sync-timeout 10000 ms → max-period 10 s.
    let n =
        with_config(|cfg| dhcp_disable_request(&mut b, commands::sync_max_period(cfg))).unwrap();
    assert_eq!(text(&b, n), fixture!("request-dhcp-disable.json"));
    let n = lease4_get_page_request(&mut b, None, 3).unwrap();
    assert_eq!(text(&b, n), fixture!("request-lease4-get-page-start.json"));
    let n = lease4_get_page_request(&mut b, Some(Ipv4Addr::new(198, 18, 0, 102)), 3).unwrap();
    assert_eq!(text(&b, n), fixture!("request-lease4-get-page-next.json"));
    let n = simple_request(&mut b, "ha-sync-complete-notify").unwrap();
    assert_eq!(
        text(&b, n),
        fixture!("request-ha-sync-complete-notify.json")
    );
    let n = lease4_update_request(&mut b, &captured_lease()).unwrap();
    assert_eq!(text(&b, n), fixture!("request-lease4-update.json"));
    let n = lease4_del_request(&mut b, &captured_lease()).unwrap();
    assert_eq!(text(&b, n), fixture!("request-lease4-del.json"));
}

#[test]
fn http_framing_is_what_kea_sends() {
    let mut body = [0u8; 1024];
    let len = lease4_update_request(&mut body, &captured_lease()).unwrap();
    let mut out = [0u8; 2048];
    let n = with_config(|cfg| http_request(&mut out, cfg.partner().unwrap(), None, &body[..len]))
        .unwrap();
    assert_eq!(
        text(&out, n),
        include_str!("fixtures/ha/request-lease4-update.http")
    );
}

#[test]
fn heartbeat_answers_from_kea_parse() {
    with_config(|cfg| {
        let hb = parse_heartbeat(fixture!("answer-ha-heartbeat-waiting.json"), cfg).unwrap();
        assert_eq!(hb.state, HaState::Waiting);
        assert_eq!(hb.scopes, Scopes::NONE);
        assert_eq!(hb.unsent_update_count, 0);
        // "Sat, 28 Nov 2026 12:55:49 GMT"
        assert!(hb.date_time > 1_795_860_000 && hb.date_time < 1_795_880_000);

        let hb = parse_heartbeat(fixture!("answer-ha-heartbeat-load-balancing.json"), cfg).unwrap();
        assert_eq!(hb.state, HaState::LoadBalancing);
        assert_eq!(
            hb.scopes,
            Scopes {
                primary: true,
                secondary: false
            }
        );

        let hb = parse_heartbeat(fixture!("answer-ha-heartbeat-partner-down.json"), cfg).unwrap();
        assert_eq!(hb.state, HaState::PartnerDown);
        assert_eq!(
            hb.scopes,
            Scopes {
                primary: true,
                secondary: true
            },
            "a partner-down Kea serves both scopes"
        );

        // The Control Agent's 401 is an object: a failure, never a heartbeat.
        assert_eq!(
            parse_heartbeat(fixture!("answer-401-unauthorized.json"), cfg),
            Err(AnswerError::NotAList)
        );
    });
}

#[test]
fn command_answers_from_kea_are_successes() {
    for (body, empty_ok) in [
        (fixture!("answer-dhcp-disable.json"), false),
        (fixture!("answer-ha-sync-complete-notify.json"), false),
        (fixture!("answer-lease4-update.json"), false),
        (fixture!("answer-lease4-del.json"), true),
    ] {
        let a = expect_success(body, empty_ok).unwrap_or_else(|e| panic!("{body}: {e:?}"));
        assert_eq!(a.result, 0, "{body}");
        assert!(!a.text.is_empty(), "{body}");
    }
    assert_eq!(
        expect_success(fixture!("answer-401-unauthorized.json"), true),
        Err(AnswerError::NotAList)
    );
}

#[test]
fn lease_pages_from_kea_parse() {
    let full = parse_lease_page(fixture!("answer-lease4-get-page-full.json")).unwrap();
    assert_eq!(full.count, 3);
    assert!(full.more(3), "a full page asks for the next one");
    let mut addresses = Vec::new();
    for (v, _) in full.leases.unwrap().items() {
        let mut s = LeaseScratch::default();
        let l = parse_lease(&v, &mut s).expect("Kea's lease parses");
        assert_eq!(l.valid_lifetime, 600);
        assert_eq!(l.subnet_id, 1);
        assert_eq!(l.state, LeaseState::Default);
        assert_eq!(l.hwaddr.len(), 6);
        assert_eq!(l.client_id.len(), 7, "perfdhcp's client id: 01 + chaddr");
        assert_eq!(&l.client_id[1..], l.hwaddr);
        assert!(l.cltt.0 > 1_795_860_000);
        addresses.push(l.address);
    }
    assert_eq!(
        addresses,
        [100, 101, 102].map(|h| Ipv4Addr::new(198, 18, 0, h))
    );
    // The next request starts from the page's last address, as Kea's did.
    let mut b = [0u8; 256];
    let n = lease4_get_page_request(&mut b, addresses.last().copied(), 3).unwrap();
    assert_eq!(text(&b, n), fixture!("request-lease4-get-page-next.json"));

    let last = parse_lease_page(fixture!("answer-lease4-get-page-last.json")).unwrap();
    assert_eq!(last.count, 1);
    assert!(!last.more(3), "a short page ends the sync");
    let (v, _) = last.leases.unwrap().items().next().unwrap();
    let mut s = LeaseScratch::default();
    assert_eq!(
        parse_lease(&v, &mut s).unwrap().address,
        Ipv4Addr::new(198, 18, 0, 150)
    );

    let empty = parse_lease_page(fixture!("answer-lease4-get-page-empty.json")).unwrap();
    assert_eq!(empty.count, 0);
    assert!(!empty.more(3));
}

/// Kea's `status-get` through the Control Agent: the `high-availability` keys wren's
/// `write_status_ha` writes, in the same order.
#[test]
fn status_get_from_kea_has_the_keys_wren_writes() {
    let doc = parse_document(fixture!("answer-status-get.json")).unwrap();
    let Value::List(l) = doc else { panic!() };
    let (Value::Map(first), _) = l.items().next().unwrap() else {
        panic!()
    };
    let Some(Value::Map(args)) = first.get("arguments") else {
        panic!()
    };
    let Some(Value::List(ha)) = args.get("high-availability") else {
        panic!()
    };
    let text = ha.text();
    let keys = [
        "\"ha-mode\"",
        "\"ha-servers\"",
        "\"local\"",
        "\"role\"",
        "\"scopes\"",
        "\"state\"",
        "\"remote\"",
        "\"age\"",
        "\"analyzed-packets\"",
        "\"communication-interrupted\"",
        "\"connecting-clients\"",
        "\"in-touch\"",
        "\"last-scopes\"",
        "\"last-state\"",
        "\"role\"",
        "\"unacked-clients\"",
        "\"unacked-clients-left\"",
    ];
    let mut at = 0;
    for k in keys {
        let found = text[at..]
            .find(k)
            .unwrap_or_else(|| panic!("{k} missing or out of order in {text}"));
        at += found + k.len();
    }
}
