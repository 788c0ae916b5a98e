#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! kea-dhcp4's command line: -v/-V print a version and exit 0, an unknown flag fails, -d serves
//! with debug logging, -p/-P move the server and client ports (compared with Kea on the wire).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;
use wren_tests::capture::{Capture, Dhcp, DHCPOFFER};
use wren_tests::clients::{Client, ClientKind, ClientOptions};
use wren_tests::inject::{from_hex, send_udp};
use wren_tests::netns::NetPair;
use wren_tests::process::run;
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG, RELAY_CONFIG};
use wren_tests::{require_root, TestDir};

#[test]
fn version_flags_and_unknown_flag() {
    let kind = ServerKind::from_env();
    let bin = kind.binary();
    for flag in ["-v", "-V"] {
        let out = run(
            std::process::Command::new(&bin).arg(flag),
            Duration::from_secs(10),
        );
        assert!(out.success(), "{flag}: {}", out.combined());
        assert!(!out.stdout.trim().is_empty(), "{flag} printed nothing");
    }
    let out = run(
        std::process::Command::new(&bin).arg("-Z"),
        Duration::from_secs(10),
    );
    assert!(
        out.status.is_some() && !out.success(),
        "unknown flag accepted: {}",
        out.combined()
    );
    let out = run(
        &mut std::process::Command::new(&bin),
        Duration::from_secs(10),
    );
    assert!(
        out.status.is_some() && !out.success(),
        "no arguments accepted: {}",
        out.combined()
    );
}

#[test]
fn debug_flag_serves_and_logs_debug() {
    require_root();
    let kind = ServerKind::from_env();
    let dir = TestDir::new("cli-debug");
    let net = NetPair::basic();
    let server = Server::start_with(
        kind,
        &net.server,
        dir.path(),
        &render(BASIC_CONFIG, &net.server_if, dir.path()),
        &["-d"],
        67,
    );
    let mut c = Client::start(
        ClientKind::Udhcpc,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    c.wait_bound(Duration::from_secs(30));
    c.stop();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.log().contains("DEBUG"),
        "-d: no DEBUG lines in the log:\n{}",
        server.log()
    );
    server.assert_no_panic();
}

const RELAYED_DISCOVER: &str = include_str!("../../core/tests/fixtures/perfdhcp-discover.hex");
const DIRECT_DISCOVER: &str = include_str!("../../core/tests/fixtures/dhclient-discover.hex");

/// (message type, source port, destination port, destination address) of every DHCP packet on
/// the wire when the server runs with `-p 1067 -P 1068` and gets a relayed DISCOVER (from
/// 198.18.0.2:1067, giaddr 198.18.0.2) and a direct one (from port 1068, broadcast).
fn moved_ports(kind: ServerKind) -> Vec<String> {
    let dir = TestDir::new(&format!("cli-ports-{}", kind.name()));
    let net = NetPair::relay();
    net.client
        .ip(&["route", "add", "255.255.255.255/32", "dev", &net.client_if]);
    let server = Server::start_with(
        kind,
        &net.server,
        dir.path(),
        &render(RELAY_CONFIG, &net.server_if, dir.path()),
        &["-p", "1067", "-P", "1068"],
        1067,
    );
    let capture = Capture::start_filtered(&net.client, &net.client_if, dir.path(), "ports", "udp");
    let me = Ipv4Addr::new(198, 18, 0, 2);
    send_udp(
        &net.client,
        SocketAddrV4::new(me, 1067),
        SocketAddrV4::new(net.server_ip, 1067),
        vec![from_hex(RELAYED_DISCOVER)],
    );
    std::thread::sleep(Duration::from_millis(500));
    send_udp(
        &net.client,
        SocketAddrV4::new(me, 1068),
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 1067),
        vec![from_hex(DIRECT_DISCOVER)],
    );
    let packets = capture.stop();
    server.assert_no_panic();
    packets
        .iter()
        .filter_map(|p| {
            let t = Dhcp::parse(&p.payload)?.message_type()?;
            Some(format!(
                "type {t} {}:{} -> {}:{}",
                p.src_ip, p.src_port, p.dst_ip, p.dst_port
            ))
        })
        .collect()
}

#[test]
fn port_flags_match_kea() {
    require_root();
    let kea = moved_ports(ServerKind::Kea);
    assert!(
        kea.iter()
            .filter(|l| l.starts_with(&format!("type {DHCPOFFER} ")))
            .count()
            == 2,
        "Kea did not answer both DISCOVERs (the test is wrong): {kea:#?}"
    );
    let actual = moved_ports(ServerKind::from_env());
    assert_eq!(
        actual, kea,
        "packets on the wire differ from Kea's with -p 1067 -P 1068"
    );
}
