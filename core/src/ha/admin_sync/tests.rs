use super::*;
use crate::control::json_in::parse_document;
use crate::ha::config::tests::SEED;
use crate::ha::config::{parse_ha_parameters, EMPTY_PEER};

/// The `arguments` map of a whole command text (`None` without one).
fn args(doc: &str) -> Option<Node<'_>> {
    match parse_document(doc).unwrap() {
        Value::Map(m) => match m.get("arguments") {
            Some(Value::Map(a)) => Some(a),
            _ => None,
        },
        _ => panic!("not a map"),
    }
}

fn text(e: HaSyncError<'_>) -> String {
    format!("{e}")
}

extern crate std;
use std::format;
use std::string::String;

#[test]
fn kea_argument_errors_word_for_word() {
    let mut peers = [EMPTY_PEER; 2];
    let cfg = parse_ha_parameters(SEED, &mut peers).unwrap();
    let cases = [
        (
            r#"{ "command": "ha-sync" }"#,
            "arguments not found in the 'ha-sync' command",
        ),
        (
            r#"{ "command": "ha-sync", "arguments": { } }"#,
            "'server-name' is mandatory for the 'ha-sync' command",
        ),
        (
            r#"{ "command": "ha-sync", "arguments": { "server-name": 5 } }"#,
            "'server-name' must be a string in the 'ha-sync' command",
        ),
        (
            r#"{ "command": "ha-sync", "arguments": { "server-name": "infra-2", "max-period": 0 } }"#,
            "'max-period' must be a positive integer in the 'ha-sync' command",
        ),
        (
            r#"{ "command": "ha-sync", "arguments": { "server-name": "infra-2", "max-period": "x" } }"#,
            "'max-period' must be a positive integer in the 'ha-sync' command",
        ),
        (
            r#"{ "command": "ha-sync", "arguments": { "server-name": "infra-2", "max-period": -4 } }"#,
            "'max-period' must be a positive integer in the 'ha-sync' command",
        ),
        (
            r#"{ "command": "ha-sync", "arguments": { "server-name": "nope" } }"#,
            "no configuration specified for server nope",
        ),
    ];
    for (doc, want) in cases {
        let got = parse_ha_sync(args(doc), &cfg).unwrap_err();
        assert_eq!(text(got), want, "{doc}");
    }
    assert_eq!(
        parse_ha_sync(
            args(r#"{ "arguments": { "server-name": "infra-1" } }"#),
            &cfg
        ),
        Err(HaSyncError::ThisServer("infra-1"))
    );
}

#[test]
fn valid_requests_and_the_disable_period() {
    let mut peers = [EMPTY_PEER; 2];
    let cfg = parse_ha_parameters(SEED, &mut peers).unwrap();
    let r = parse_ha_sync(
        args(r#"{ "arguments": { "server-name": "infra-2", "max-period": 30 } }"#),
        &cfg,
    )
    .unwrap();
    assert_eq!(r.server_name, "infra-2");
    assert_eq!(r.max_period_secs, Some(30));
    assert_eq!(disable_period(&cfg, r.max_period_secs), 30);
    let r = parse_ha_sync(
        args(r#"{ "arguments": { "server-name": "infra-2" } }"#),
        &cfg,
    )
    .unwrap();
    assert_eq!(r.max_period_secs, None);
    // The seed's sync-timeout is 60000 ms.
    assert_eq!(disable_period(&cfg, None), 60);
    // Larger than u32: refused, not wrapped.
    assert_eq!(
        parse_ha_sync(
            args(r#"{ "arguments": { "server-name": "infra-2", "max-period": 4294967296 } }"#),
            &cfg
        ),
        Err(HaSyncError::MaxPeriodInvalid)
    );
}

#[test]
fn answers() {
    assert_eq!(
        answer(Ok(())),
        (0, "Lease database synchronization complete.")
    );
    let (result, text) = answer(Err(SyncFailure::Unreachable));
    assert_eq!(result, 1);
    assert!(text.contains("sync-timeout"));
}
