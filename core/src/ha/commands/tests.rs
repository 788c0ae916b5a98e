use core::net::Ipv4Addr;

use super::*;
use crate::ha::config::tests::SEED;
use crate::ha::config::{parse_ha_parameters, EMPTY_PEER};
use crate::ha::state::HaService;

fn text(buf: &[u8], n: usize) -> &str {
    core::str::from_utf8(&buf[..n]).unwrap()
}

fn lease() -> LeaseRecord<'static> {
    LeaseRecord {
        address: Ipv4Addr::new(198, 18, 10, 100),
        hwaddr: &[2, 0, 0, 0, 0, 3],
        client_id: &[],
        valid_lifetime: 4000,
        cltt: Timestamp(1_795_861_498 - 4000),
        subnet_id: 1,
        fqdn_fwd: false,
        fqdn_rev: false,
        hostname: "habc",
        state: LeaseState::Default,
        user_context: "",
    }
}

/// kea-ha.md §5 request bodies, byte for byte.
#[test]
fn request_bodies_match_kea() {
    let mut b = [0u8; 1024];
    let n = heartbeat_request(&mut b).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "command": "ha-heartbeat", "service": [ "dhcp4" ] }"#
    );
    let n = dhcp_disable_request(&mut b, 60).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "max-period": 60, "origin": "ha-partner" }, "command": "dhcp-disable", "service": [ "dhcp4" ] }"#
    );
    let n = dhcp_enable_request(&mut b).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "origin": "ha-partner" }, "command": "dhcp-enable", "service": [ "dhcp4" ] }"#
    );
    let n = lease4_get_page_request(&mut b, None, 2).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "from": "start", "limit": 2 }, "command": "lease4-get-page", "service": [ "dhcp4" ] }"#
    );
    let n = lease4_get_page_request(&mut b, Some(Ipv4Addr::new(198, 18, 10, 101)), 2).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "from": "198.18.10.101", "limit": 2 }, "command": "lease4-get-page", "service": [ "dhcp4" ] }"#
    );
    let n = simple_request(&mut b, "ha-sync-complete-notify").unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "command": "ha-sync-complete-notify", "service": [ "dhcp4" ] }"#
    );
    let n = lease4_update_request(&mut b, &lease()).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "expire": 1795861498, "force-create": true, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "habc", "hw-address": "02:00:00:00:00:03", "ip-address": "198.18.10.100", "state": 0, "subnet-id": 1, "valid-lft": 4000 }, "command": "lease4-update", "service": [ "dhcp4" ] }"#
    );
    let n = lease4_del_request(&mut b, &lease()).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "expire": 1795861498, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "habc", "hw-address": "02:00:00:00:00:03", "ip-address": "198.18.10.100", "state": 0, "subnet-id": 1, "valid-lft": 4000 }, "command": "lease4-del", "service": [ "dhcp4" ] }"#
    );
    let n = maintenance_notify_request(&mut b, false).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "cancel": false }, "command": "ha-maintenance-notify", "service": [ "dhcp4" ] }"#
    );
    let n = simple_request(&mut b, "ha-reset").unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "command": "ha-reset", "service": [ "dhcp4" ] }"#
    );
    let n = ha_scopes_request(&mut b, &["infra-1"]).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "scopes": [ "infra-1" ] }, "command": "ha-scopes", "service": [ "dhcp4" ] }"#
    );
    // client-id and user-context when set.
    let mut l = lease();
    l.client_id = &[1, 2, 0, 0, 0, 0, 3];
    l.user_context = r#"{ "a": 1 }"#;
    let n = lease4_update_request(&mut b, &l).unwrap();
    let t = text(&b, n);
    assert!(
        t.starts_with(r#"{ "arguments": { "client-id": "01:02:00:00:00:00:03", "expire""#),
        "{t}"
    );
    assert!(
        t.contains(r#""subnet-id": 1, "user-context": { "a": 1 }, "valid-lft": 4000"#),
        "{t}"
    );
    // Too small a buffer is an error, not a truncated command.
    let mut small = [0u8; 20];
    assert_eq!(heartbeat_request(&mut small), Err(BufferFull));
}

#[test]
fn http_framing_with_basic_auth() {
    let text_cfg = SEED.replace(
        r#""name":"infra-2","#,
        r#""name":"infra-2","basic-auth-user":"Aladdin","basic-auth-password":"open sesame","#,
    );
    let mut peers = [EMPTY_PEER; 2];
    let cfg = parse_ha_parameters(&text_cfg, &mut peers).unwrap();
    let body = br#"{ "command": "ha-heartbeat", "service": [ "dhcp4" ] }"#;
    let mut out = [0u8; 512];
    let n = http_request(&mut out, cfg.partner().unwrap(), None, body).unwrap();
    let expected = "POST / HTTP/1.1\r\nHost: 192.168.1.3\r\nAuthorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\nContent-Length: 53\r\nContent-Type: application/json\r\n\r\n{ \"command\": \"ha-heartbeat\", \"service\": [ \"dhcp4\" ] }";
    assert_eq!(text(&out, n), expected);
    // Without auth; password from the file content given by the daemon.
    let n = http_request(&mut out, cfg.this().unwrap(), None, b"{}").unwrap();
    assert!(!text(&out, n).contains("Authorization"));
    let n = http_request(&mut out, cfg.partner().unwrap(), Some("ab"), b"").unwrap();
    // base64("Aladdin:ab")
    assert!(text(&out, n).contains("Basic QWxhZGRpbjphYg==\r\n"));
    assert_eq!(
        http_request(&mut out[..40], cfg.partner().unwrap(), None, body),
        Err(BufferFull)
    );
}

#[test]
fn http_dates() {
    // The spec's captured heartbeat date.
    let t = parse_http_date("Sat, 28 Nov 2026 09:17:57 GMT").unwrap();
    assert_eq!(t, 1_795_857_477);
    assert_eq!(
        std::format!("{}", HttpDate(t)),
        "Sat, 28 Nov 2026 09:17:57 GMT"
    );
    assert_eq!(
        std::format!("{}", HttpDate(0)),
        "Thu, 01 Jan 1970 00:00:00 GMT"
    );
    assert_eq!(
        parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT"),
        Some(1_709_251_199)
    );
    assert_eq!(
        std::format!("{}", HttpDate(1_709_251_199)),
        "Thu, 29 Feb 2024 23:59:59 GMT"
    );
    assert_eq!(parse_http_date("Sat, 28 Nov 2026 09:17:57 UTC"), None);
    assert_eq!(parse_http_date("28 Nov 2026"), None);
    assert_eq!(parse_http_date("Sat, 28 Foo 2026 09:17:57 GMT"), None);
}

#[test]
fn heartbeat_answers_both_ways() {
    let mut peers = [EMPTY_PEER; 2];
    let cfg = parse_ha_parameters(SEED, &mut peers).unwrap();
    // The spec's captured reply (scope name adapted to the seed's peer names).
    let body = r#"[ { "arguments": { "date-time": "Sat, 28 Nov 2026 09:17:57 GMT", "scopes": [ "infra-2" ], "state": "load-balancing", "unsent-update-count": 0 }, "result": 0, "text": "HA peer status returned." } ]"#;
    let hb = parse_heartbeat(body, &cfg).unwrap();
    assert_eq!(hb.state, HaState::LoadBalancing);
    assert_eq!(hb.date_time, 1_795_857_477);
    assert_eq!(
        hb.scopes,
        Scopes {
            primary: false,
            secondary: true
        }
    );
    // Failures: object body (401), result 1, missing state, unknown state.
    assert_eq!(
        parse_heartbeat(r#"{ "result": 401, "text": "Unauthorized" }"#, &cfg),
        Err(AnswerError::NotAList)
    );
    assert_eq!(
        parse_heartbeat(r#"[ { "result": 1, "text": "x" } ]"#, &cfg),
        Err(AnswerError::Result(1))
    );
    assert_eq!(
        parse_heartbeat(
            r#"[ { "arguments": { "date-time": "Sat, 28 Nov 2026 09:17:57 GMT" }, "result": 0 } ]"#,
            &cfg
        ),
        Err(AnswerError::BadArguments("state"))
    );
    assert_eq!(
        parse_heartbeat(
            r#"[ { "arguments": { "state": "dancing", "date-time": "Sat, 28 Nov 2026 09:17:57 GMT" }, "result": 0 } ]"#,
            &cfg
        ),
        Err(AnswerError::BadArguments("state"))
    );
    assert_eq!(parse_heartbeat("[", &cfg), Err(AnswerError::Syntax));

    // Our reply, in waiting: empty scopes.
    let mut clients = [0u64; 8];
    let mut s = HaService::new(&cfg, &mut clients, 0);
    while s.poll(0).is_some() {}
    let mut b = [0u8; 512];
    let n = heartbeat_reply(&mut b, &s, 1_795_857_477).unwrap();
    assert_eq!(
        text(&b, n),
        r#"[ { "arguments": { "date-time": "Sat, 28 Nov 2026 09:17:57 GMT", "scopes": [  ], "state": "waiting", "unsent-update-count": 0 }, "result": 0, "text": "HA peer status returned." } ]"#
    );
    // Round trip through our own reader.
    let back = parse_heartbeat(text(&b, n), &cfg).unwrap();
    assert_eq!(back.state, HaState::Waiting);
    let n = status_reply(&mut b, 0, "HA state machine continues.").unwrap();
    assert_eq!(
        text(&b, n),
        r#"[ { "result": 0, "text": "HA state machine continues." } ]"#
    );
}

#[test]
fn status_get_section() {
    let mut peers = [EMPTY_PEER; 2];
    let cfg = parse_ha_parameters(SEED, &mut peers).unwrap();
    let mut clients = [0u64; 8];
    let mut s = HaService::new(&cfg, &mut clients, 0);
    while s.poll(0).is_some() {}
    let mut b = [0u8; 1024];
    let mut w = JsonOut::new(&mut b);
    write_status_ha(&mut w, &s, 5_000).unwrap();
    let n = w.len();
    assert_eq!(
        text(&b, n),
        r#"[ { "ha-mode": "load-balancing", "ha-servers": { "local": { "role": "primary", "scopes": [  ], "state": "waiting" }, "remote": { "age": 5, "analyzed-packets": 0, "communication-interrupted": false, "connecting-clients": 0, "in-touch": false, "last-scopes": [  ], "last-state": "", "role": "secondary", "unacked-clients": 0, "unacked-clients-left": 0 } } } ]"#
    );
    // Kea counts `unacked-clients-left` only while communication is interrupted
    // (max-response-delay 60 s in the seed): max-unacked-clients 5 - 0 + 1.
    let mut w = JsonOut::new(&mut b);
    write_status_ha(&mut w, &s, 60_001).unwrap();
    let n = w.len();
    assert!(text(&b, n).contains(r#""communication-interrupted": true"#));
    assert!(text(&b, n).contains(r#""unacked-clients-left": 6 }"#));
}

#[test]
fn answers_and_lease_pages() {
    assert_eq!(
        expect_success(r#"[ { "result": 0, "text": "IPv4 lease added." } ]"#, false)
            .unwrap()
            .text,
        "IPv4 lease added."
    );
    assert!(expect_success(
        r#"[ { "result": 3, "text": "IPv4 lease not found." } ]"#,
        true
    )
    .is_ok());
    assert_eq!(
        expect_success(r#"[ { "result": 3 } ]"#, false),
        Err(AnswerError::Result(3))
    );
    assert_eq!(
        expect_success(r#"[ { "text": "x" } ]"#, false),
        Err(AnswerError::NoResult)
    );
    assert_eq!(expect_success("[ ]", false), Err(AnswerError::NotAList));
    assert_eq!(
        parse_answer(
            r#"[ { "result": 2, "text": "'ha-sync-complete-notify' command not supported." } ]"#
        )
        .unwrap()
        .result,
        result::UNSUPPORTED
    );

    let page = r#"[ { "arguments": { "count": 2, "leases": [ { "client-id": "01:02:00:00:00:00:03", "cltt": 1795857498, "fqdn-fwd": false, "fqdn-rev": true, "hostname": "h\u0041bc", "hw-address": "02:00:00:00:00:03", "ip-address": "198.18.10.100", "state": 0, "subnet-id": 1, "user-context": { "x": 1 }, "valid-lft": 4000 }, { "cltt": 1, "ip-address": "bogus" } ] }, "result": 0, "text": "2 IPv4 lease(s) found." } ]"#;
    let p = parse_lease_page(page).unwrap();
    assert_eq!(p.count, 2);
    assert!(p.more(2));
    assert!(!p.more(3));
    let mut items = p.leases.unwrap().items();
    let mut scratch = LeaseScratch::default();
    let (first, _) = items.next().unwrap();
    let l = parse_lease(&first, &mut scratch).unwrap();
    assert_eq!(l.address, Ipv4Addr::new(198, 18, 10, 100));
    assert_eq!(l.hwaddr, &[2, 0, 0, 0, 0, 3]);
    assert_eq!(l.client_id, &[1, 2, 0, 0, 0, 0, 3]);
    assert_eq!(l.hostname, "hAbc");
    assert_eq!(l.cltt, Timestamp(1_795_857_498));
    assert!(l.fqdn_rev && !l.fqdn_fwd);
    assert_eq!(l.user_context, r#"{ "x": 1 }"#);
    let mut older = lease();
    older.cltt = Timestamp(1);
    assert!(sync_should_take(Some(&older), &l));
    assert!(!sync_should_take(Some(&l), &l));
    assert!(sync_should_take(None, &l));
    let (second, _) = items.next().unwrap();
    let mut scratch2 = LeaseScratch::default();
    assert!(
        parse_lease(&second, &mut scratch2).is_none(),
        "bad entries are skipped"
    );
    let end = parse_lease_page(r#"[ { "arguments": { "count": 0, "leases": [ ] }, "result": 3, "text": "0 IPv4 lease(s) found." } ]"#).unwrap();
    assert_eq!(end.count, 0);
    assert!(!end.more(2));
    let mut peers = [EMPTY_PEER; 2];
    let cfg = parse_ha_parameters(SEED, &mut peers).unwrap();
    assert_eq!(sync_max_period(&cfg), 60);
}

/// An operator's `ha-sync` without `max-period`: the partner's `dhcp-disable` carries none
/// (as Kea 2.2's, seen on the wire).
#[test]
fn dhcp_disable_without_max_period() {
    let mut b = [0u8; 256];
    let n = dhcp_disable_request_for(&mut b, None).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "origin": "ha-partner" }, "command": "dhcp-disable", "service": [ "dhcp4" ] }"#
    );
    let n = dhcp_disable_request_for(&mut b, Some(30)).unwrap();
    assert_eq!(
        text(&b, n),
        r#"{ "arguments": { "max-period": 30, "origin": "ha-partner" }, "command": "dhcp-disable", "service": [ "dhcp4" ] }"#
    );
    assert!(dhcp_disable_request_for(&mut b[..20], None).is_err());
}
