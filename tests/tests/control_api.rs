#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! The control API over HTTP (Kea's Control Agent, built into wrend), driven with curl as the
//! seed's blog post does: authentication, config-get, lease4-get-all after a real lease,
//! subnet4-add (the seed's bad pool, then a good subnet that survives a restart with
//! `wren-auto-persist`), config-write, HTTP errors (413), command errors (results 1 and 2),
//! `/metrics` against `statistic-get-all`, and the refusal of an unauthenticated listener
//! on a routable address.

use std::process::Stdio;
use std::time::{Duration, Instant};
use wren_tests::clients::{dhclient_lease, Client, ClientKind, ClientOptions};
use wren_tests::netns::{NetPair, Netns};
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_program, require_root, TestDir};

const PORT: u16 = 8080;
const URL: &str = "http://127.0.0.1:8080/";
const USER: &str = "admin:1234";

/// BASIC_CONFIG with a unix socket and an authenticated HTTP listener on loopback.
fn config(dir: &std::path::Path, iface: &str) -> String {
    let sockets = format!(
        r#""control-sockets": [
      {{ "socket-type": "unix", "socket-name": "@DIR@/ctrl.sock" }},
      {{ "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": {PORT},
         "authentication": {{ "type": "basic", "realm": "wren-test",
                              "clients": [ {{ "user": "admin", "password": "1234" }} ] }},
         "wren-auto-persist": true }}
    ],"#
    );
    let text = BASIC_CONFIG.replace(
        r#""control-socket": { "socket-type": "unix", "socket-name": "@DIR@/ctrl.sock" },"#,
        &sockets,
    );
    assert!(text.contains("control-sockets"), "template changed");
    render(&text, iface, dir)
}

/// Runs curl in `ns`; returns (HTTP status, headers and body). `extra` are curl arguments.
fn curl(ns: &Netns, extra: &[&str]) -> (u16, String) {
    let out = ns
        .command("curl")
        .args(["-s", "-i", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// POSTs a command with the right credentials; returns the body with whitespace removed.
fn command(ns: &Netns, json: &str) -> String {
    let (code, text) = curl(
        ns,
        &[
            "-u",
            USER,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            json,
            URL,
        ],
    );
    assert_eq!(code, 200, "{json}: {text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    body.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Checks every sample line of a Prometheus text exposition (format 0.0.4) and returns the
/// samples as (name with labels, value).
fn prometheus_samples(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        assert!(!line.starts_with('#'), "bad comment line: {line}");
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .enumerate()
                    .all(|(i, c)| c.is_ascii_alphabetic()
                        || c == '_'
                        || c == ':'
                        || (i > 0 && c.is_ascii_digit())),
            "bad metric name: {line}"
        );
        if name_end < series.len() {
            let labels = &series[name_end..];
            assert!(
                labels.starts_with('{') && labels.ends_with('}'),
                "bad labels: {line}"
            );
            for pair in labels[1..labels.len() - 1].split(',') {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad label: {line}"));
                assert!(
                    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert!(
                    v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                    "{line}"
                );
            }
        }
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        samples.push((series.to_string(), v));
    }
    samples
}

/// Fetches `/metrics` and `statistic-get-all` (argv: URL, user, password), parses the
/// metrics with prometheus_client's text parser and checks each counter and per-subnet
/// gauge against the newest sample of its Kea statistic. Exits 1 on any difference.
const METRICS_CHECK: &str = r#"
import sys, requests
from prometheus_client.parser import text_string_to_metric_families
url, auth = sys.argv[1], (sys.argv[2], sys.argv[3])
text = requests.get(url + "metrics", auth=auth, timeout=10)
text.raise_for_status()
assert text.headers["Content-Type"].startswith("text/plain"), text.headers
samples = {}
for family in text_string_to_metric_families(text.text):
    for s in family.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
stats = requests.post(url, json={"command": "statistic-get-all", "service": ["dhcp4"]},
                      auth=auth, timeout=10).json()[0]
assert stats["result"] == 0, stats
kea = {name: values[0][0] for name, values in stats["arguments"].items()}
pairs = [("wren_pkt4_received_total", (("type", "all"),), "pkt4-received"),
         ("wren_pkt4_sent_total", (("type", "all"),), "pkt4-sent"),
         ("wren_pkt4_parse_failed_total", (), "pkt4-parse-failed"),
         ("wren_pkt4_receive_drop_total", (), "pkt4-receive-drop"),
         ("wren_v4_allocation_fail_total", (), "v4-allocation-fail"),
         ("wren_reclaimed_leases_total", (), "reclaimed-leases")]
for t in ["discover", "offer", "request", "ack", "nak", "release", "decline", "inform", "unknown"]:
    pairs.append(("wren_pkt4_received_total", (("type", t),), "pkt4-%s-received" % t))
for t in ["offer", "ack", "nak"]:
    pairs.append(("wren_pkt4_sent_total", (("type", t),), "pkt4-%s-sent" % t))
subnets = sorted({dict(l)["subnet_id"] for (n, l) in samples if n == "wren_subnet_addresses_total"})
assert subnets, samples
for sid in subnets:
    for metric, stat in [("total", "total-addresses"), ("assigned", "assigned-addresses"),
                         ("declined", "declined-addresses")]:
        labels = next(l for (n, l) in samples if n == "wren_subnet_addresses_" + metric
                      and dict(l)["subnet_id"] == sid)
        pairs.append(("wren_subnet_addresses_" + metric, labels, "subnet[%s].%s" % (sid, stat)))
bad = []
for name, labels, stat in pairs:
    got = samples.get((name, tuple(sorted(labels))))
    want = kea.get(stat)
    if got is None or want is None or got != want:
        bad.append("%s%s = %s, %s = %s" % (name, dict(labels), got, stat, want))
assert samples[("wren_pkt4_received_total", (("type", "all"),))] > 0
assert samples[("wren_uptime_seconds", ())] >= 0
# Lease-file sync latency: the leases above were synced, each batch in well under 10 s.
assert samples[("wren_lease_file_syncs", ())] > 0, samples
assert 0 < samples[("wren_lease_file_sync_max_seconds", ())] < 10, samples
assert 0 < samples[("wren_lease_file_sync_mean_seconds", ())] <= samples[("wren_lease_file_sync_max_seconds", ())]
print("compared %d samples (%d subnets)" % (len(pairs), len(subnets)))
if bad:
    print("\n".join(bad))
    sys.exit(1)
"#;

#[test]
fn http_control_api() {
    require_root();
    require_program("/usr/bin/curl", "curl");
    let dir = TestDir::new("control-api");
    let net = NetPair::basic();
    let mut server = Server::start(
        ServerKind::Wrend,
        &net.server,
        dir.path(),
        &config(dir.path(), &net.server_if),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while curl(&net.server, &[URL]).0 == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }

    // Authentication: missing and wrong credentials → 401 with the challenge.
    let post = [
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{ "command": "config-get", "service": [ "dhcp4" ] }"#,
        URL,
    ];
    let (code, text) = curl(&net.server, &post);
    assert_eq!(code, 401, "{text}");
    assert!(
        text.contains("WWW-Authenticate: Basic realm=\"wren-test\""),
        "{text}"
    );
    assert!(
        text.contains(r#"{ "result": 401, "text": "Unauthorized" }"#),
        "{text}"
    );
    let mut wrong = vec!["-u", "admin:wrong"];
    wrong.extend_from_slice(&post);
    assert_eq!(curl(&net.server, &wrong).0, 401);
    let mut right = vec!["-u", USER];
    right.extend_from_slice(&post);
    let (code, text) = curl(&net.server, &right);
    assert_eq!(code, 200, "{text}");

    // config-get as the seed asks it: a list with one dhcp4 answer.
    let a = command(
        &net.server,
        r#"{ "command": "config-get", "service": [ "dhcp4" ] }"#,
    );
    assert!(a.starts_with("[{") && a.ends_with("}]"), "{a}");
    assert!(
        a.contains("\"result\":0") && a.contains("\"Dhcp4\":{") && a.contains("198.18.0.0/24"),
        "{a}"
    );
    // The password is redacted in config-get (and kept in the file: see the restart below).
    assert!(
        a.contains(r#"{"user":"admin","password":"*****"}"#) && !a.contains("1234"),
        "config-get shows the password: {a}"
    );

    // lease4-get-all after a real client lease.
    let lease = dhclient_lease(&net, dir.path());
    let a = command(
        &net.server,
        r#"{ "command": "lease4-get-all", "service": [ "dhcp4" ] }"#,
    );
    assert!(
        a.contains(&format!("\"ip-address\":\"{}\"", lease.address)),
        "{a}"
    );

    // subnet4-add with the seed's bad pool (its typo "…250.254", in test addresses).
    let bad = r#"{ "command": "subnet4-add", "service": [ "dhcp4" ], "arguments": { "subnet4": [ {
        "id": 2, "subnet": "198.18.1.0/24",
        "pools": [ { "pool": "198.18.1.20 - 198.18.1.250.254" } ] } ] } }"#;
    let a = command(&net.server, bad);
    assert!(
        a.contains("\"result\":1") && a.contains("198.18.1.250.254"),
        "bad pool: {a}"
    );
    let a = command(
        &net.server,
        r#"{ "command": "subnet4-get", "arguments": { "id": 2 } }"#,
    );
    assert!(
        !a.contains("\"result\":0"),
        "the bad subnet must not be there: {a}"
    );

    let good = r#"{ "command": "subnet4-add", "service": [ "dhcp4" ], "arguments": { "subnet4": [ {
        "id": 2, "subnet": "198.18.1.0/24",
        "pools": [ { "pool": "198.18.1.20 - 198.18.1.250" } ] } ] } }"#;
    let a = command(&net.server, good);
    assert!(
        a.contains("\"result\":0") && a.contains("IPv4subnetadded"),
        "good subnet: {a}"
    );
    let a = command(
        &net.server,
        r#"{ "command": "subnet4-get", "arguments": { "id": 2 } }"#,
    );
    assert!(
        a.contains("\"result\":0") && a.contains("198.18.1.0/24"),
        "subnet4-get after add: {a}"
    );

    // The DHCP side still works after the swap.
    let mut c = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    c.wait_bound(Duration::from_secs(30));
    c.stop();

    // config-write (atomic, previous file kept as a backup).
    let written = dir.join("written.json");
    let a = command(
        &net.server,
        &format!(
            r#"{{ "command": "config-write", "arguments": {{ "filename": "{}" }} }}"#,
            written.display()
        ),
    );
    assert!(a.contains("\"result\":0"), "config-write: {a}");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(
        text.contains("\"Dhcp4\"") && text.contains("198.18.1.0/24"),
        "{text}"
    );
    assert!(
        text.contains("\"password\": \"1234\""),
        "config-write must keep the password: {text}"
    );

    // Services: one answer per listed service, dhcp6 is not here.
    let a = command(
        &net.server,
        r#"{ "command": "status-get", "service": [ "dhcp4", "dhcp6" ] }"#,
    );
    assert!(
        a.contains("\"pid\":")
            && a.ends_with(
                r#"{"result":1,"text":"forwardingsocketisnotconfiguredfortheservertypedhcp6"}]"#
            ),
        "{a}"
    );
    let a = command(
        &net.server,
        r#"{ "command": "status-get", "service": "dhcp4" }"#,
    );
    assert!(a.contains("servicevaluemustbealist"), "{a}");

    // Command errors: invalid JSON → HTTP 400 (as Kea's agent), a JSON text that is not a
    // command → 1, unknown command → 2.
    let (code, text) = curl(
        &net.server,
        &[
            "-u",
            USER,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{ "command": "#,
            URL,
        ],
    );
    assert!(
        code == 400 && text.contains(r#"{ "result": 400, "text": "Bad Request: invalid JSON"#),
        "invalid JSON: {text}"
    );
    let a = command(&net.server, "[ 1 ]");
    assert!(a.contains("\"result\":1"), "not a map: {a}");
    let a = command(&net.server, r#"{ "command": "no-such-command" }"#);
    assert!(a.contains("\"result\":2"), "unknown command: {a}");

    // HTTP errors: oversized body (over the 32 MiB default) → 413; GET elsewhere → 404; PUT → 405; text body → 415.
    let big = dir.join("big.json");
    std::fs::write(&big, vec![b' '; 33 * 1024 * 1024]).unwrap();
    let at = format!("@{}", big.display());
    let (code, _) = curl(
        &net.server,
        &[
            "-u",
            USER,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &at,
            URL,
        ],
    );
    assert_eq!(code, 413);
    assert_eq!(
        curl(&net.server, &["-u", USER, "http://127.0.0.1:8080/nothing"]).0,
        404
    );
    assert_eq!(curl(&net.server, &["-u", USER, "-X", "PUT", URL]).0, 405);
    assert_eq!(
        curl(
            &net.server,
            &[
                "-u",
                USER,
                "-H",
                "Content-Type: text/plain",
                "-d",
                "{}",
                URL
            ]
        )
        .0,
        415
    );

    // /metrics: authenticated too; every line parses; counters match statistic-get-all.
    assert_eq!(curl(&net.server, &["http://127.0.0.1:8080/metrics"]).0, 401);
    let (code, text) = curl(&net.server, &["-u", USER, "http://127.0.0.1:8080/metrics"]);
    assert_eq!(code, 200, "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let samples = prometheus_samples(body);
    assert!(!samples.is_empty(), "{body}");
    let stats = command(&net.server, r#"{ "command": "statistic-get-all" }"#);
    let received = samples
        .iter()
        .find(|(n, _)| n == "wren_pkt4_received_total{type=\"all\"}")
        .map(|(_, v)| *v as i64)
        .unwrap_or_else(|| panic!("no pkt4 received sample: {body}"));
    assert!(
        received >= 4,
        "two clients, at least DISCOVER+REQUEST each: {received}"
    );
    assert!(
        stats.contains(&format!("\"pkt4-received\":[[{received},")),
        "statistic-get-all pkt4-received != metrics {received}: {stats}"
    );

    // The same, through Python's prometheus_client text parser (what a Prometheus server
    // accepts), every wren_* family against its Kea statistic.
    let out = net
        .server
        .command("/usr/bin/python3")
        .args([
            "-c",
            METRICS_CHECK,
            "http://127.0.0.1:8080/",
            "admin",
            "1234",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "metrics vs statistic-get-all: {report}"
    );
    assert!(
        report.contains("compared 24 samples (2 subnets)"),
        "{report}"
    );

    // dhcp-disable: no answers until dhcp-enable.
    let a = command(&net.server, r#"{ "command": "dhcp-disable" }"#);
    assert!(a.contains("\"result\":0") && a.contains("disabled"), "{a}");
    net.flush_client();
    let mut c = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    std::thread::sleep(Duration::from_secs(4));
    let leased: Vec<_> = c.events().iter().filter_map(|e| e.lease()).collect();
    assert!(leased.is_empty(), "a lease while disabled: {leased:?}");
    c.stop();
    let a = command(&net.server, r#"{ "command": "dhcp-enable" }"#);
    assert!(a.contains("\"result\":0"), "{a}");
    let mut c = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    c.wait_bound(Duration::from_secs(30));
    c.stop();

    // Survives a restart (wren-auto-persist wrote the -c file).
    server.restart(&net.server);
    let deadline = Instant::now() + Duration::from_secs(5);
    while curl(&net.server, &[URL]).0 == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let a = command(
        &net.server,
        r#"{ "command": "subnet4-get", "arguments": { "id": 2 } }"#,
    );
    assert!(
        a.contains("\"result\":0") && a.contains("198.18.1.0/24"),
        "after restart: {a}"
    );
    server.assert_no_panic();
}

#[test]
fn unauthenticated_http_on_a_routable_address_refuses_to_start() {
    require_root();
    let dir = TestDir::new("control-api-open");
    let net = NetPair::basic();
    let text = BASIC_CONFIG.replace(
        r#""control-socket": { "socket-type": "unix", "socket-name": "@DIR@/ctrl.sock" },"#,
        r#""control-sockets": [ { "socket-type": "http", "socket-address": "198.18.0.1", "socket-port": 8080 } ],"#,
    );
    let conf = dir.join("open.conf");
    std::fs::write(&conf, render(&text, &net.server_if, dir.path())).unwrap();
    let out = wren_tests::server::run_wrend_to_exit(
        &net.server,
        dir.path(),
        &conf,
        Duration::from_secs(15),
    );
    let status = out
        .status
        .unwrap_or_else(|| panic!("wrend served an unauthenticated control API on 198.18.0.1"));
    let stderr = out.combined();
    assert!(!status.success());
    assert!(
        stderr.contains("wren-allow-unauthenticated") && stderr.contains("198.18.0.1"),
        "{stderr}"
    );
}
