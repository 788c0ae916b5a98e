#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! The packet trace (issue 5, point 6) with a real dhclient: switched on at run time by the
//! `wren-trace` control command over HTTP (curl), for one MAC and a packet count; and at
//! debug level with `-d`. Each trace line must name the message type, the xid (the one
//! tcpdump saw), chaddr, options by name and the decision (subnet and why, reservation,
//! address and why, result), and the count must switch the trace off by itself.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::Duration;
use wren_tests::capture::{Capture, Dhcp};
use wren_tests::clients::{Client, ClientKind, ClientOptions};
use wren_tests::netns::{NetPair, Netns, PairOptions};
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_program, require_root, wait_for, TestDir};

const URL: &str = "http://127.0.0.1:8080/";
const USER: &str = "admin:1234";
const TRACED_MAC: &str = "02:57:52:00:00:42";

/// A lease dhclient believes it holds on a network the server does not serve: its
/// INIT-REBOOT REQUEST is NAKed (authoritative).
const FOREIGN_LEASE: &str = "lease {\n  interface \"@IFACE@\";\n  fixed-address 198.18.7.7;\n  \
    option subnet-mask 255.255.255.0;\n  option dhcp-lease-time 600;\n  \
    option dhcp-server-identifier 198.18.7.1;\n  renew 4 2037/01/01 00:00:00;\n  \
    rebind 4 2037/01/01 00:00:00;\n  expire 4 2037/01/01 00:00:00;\n}\n";

/// BASIC_CONFIG with an authenticated HTTP listener on loopback and a reservation for
/// [`TRACED_MAC`].
fn config(dir: &std::path::Path, iface: &str) -> String {
    let text = BASIC_CONFIG
        .replace(
            r#""control-socket": { "socket-type": "unix", "socket-name": "@DIR@/ctrl.sock" },"#,
            r#""control-sockets": [
      { "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8080,
        "authentication": { "type": "basic", "realm": "wren-test",
                            "clients": [ { "user": "admin", "password": "1234" } ] } }
    ],"#,
        )
        .replace(
            r#""pools": [ { "pool": "198.18.0.100 - 198.18.0.199" } ],"#,
            r#""pools": [ { "pool": "198.18.0.100 - 198.18.0.199" } ],
        "reservations": [ { "hw-address": "02:57:52:00:00:42", "ip-address": "198.18.0.42",
                            "hostname": "traced-pi" } ],"#,
        );
    assert!(
        text.contains("control-sockets") && text.contains("traced-pi"),
        "template changed"
    );
    render(&text, iface, dir)
}

/// POSTs a command with curl inside `ns`; returns the body without white space.
fn command(ns: &Netns, json: &str) -> String {
    require_program("/usr/bin/curl", "curl");
    let out = ns
        .command("curl")
        .args(["-s", "--max-time", "10", "-u", USER, "-X", "POST"])
        .args(["-H", "Content-Type: application/json", "-d", json, URL])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "curl failed: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The server's packet-trace lines (the part after the message id).
fn trace_lines(server: &Server) -> Vec<String> {
    server
        .log()
        .lines()
        .filter_map(|l| {
            l.split_once("WREN_PACKET_TRACE recv ")
                .map(|(_, t)| t.to_string())
        })
        .collect()
}

fn has(line: &str, parts: &[&str]) {
    for p in parts {
        assert!(line.contains(p), "trace line lacks {p:?}:\n{line}");
    }
}

/// The xid of the first captured client message of DHCP type `kind`.
fn captured_xid(capture: &Capture, kind: u8) -> u32 {
    wait_for(Duration::from_secs(5), || {
        capture.packets_so_far().iter().find_map(|p| {
            let d = Dhcp::parse(&p.payload)?;
            (d.op() == 1 && d.message_type() == Some(kind)).then(|| d.xid())
        })
    })
    .unwrap_or_else(|| panic!("no DHCP message of type {kind} captured"))
}

#[test]
fn trace_switched_on_by_command_for_one_mac_and_a_count() {
    require_root();
    let dir = TestDir::new("trace-command");
    let net = NetPair::new(&PairOptions {
        client_mac: Some(TRACED_MAC.into()),
        ..Default::default()
    });
    let server = Server::start(
        ServerKind::Wrend,
        &net.server,
        dir.path(),
        &config(dir.path(), &net.server_if),
    );
    let ns = &net.server;

    let list = command(ns, r#"{"command": "list-commands"}"#);
    assert!(list.contains(r#""wren-trace""#), "{list}");
    let bad = command(
        ns,
        r#"{"command": "wren-trace", "arguments": {"packets": 0}}"#,
    );
    assert!(
        bad.contains(r#""result":1"#) && bad.contains("'packets'"),
        "{bad}"
    );
    let off = command(ns, r#"{"command": "wren-trace"}"#);
    assert!(off.contains(r#""text":"packettraceoff"#), "{off}");
    // Three packets of this MAC: DISCOVER, REQUEST, the first renewal.
    let on = command(
        ns,
        r#"{"command": "wren-trace", "arguments": {"hw-address": "02:57:52:00:00:42", "packets": 3}}"#,
    );
    assert_eq!(
        on,
        r#"[{"result":0,"text":"packettraceonforthenext3packetsofhw-address02:57:52:00:00:42"}]"#
    );

    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "trace");
    let client = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let lease = client.wait_bound(Duration::from_secs(30));
    assert_eq!(lease.address.to_string(), "198.18.0.42");
    client.renew(Duration::from_secs(20));
    let lines = wait_for(Duration::from_secs(5), || {
        let l = trace_lines(&server);
        (l.len() >= 3).then_some(l)
    })
    .unwrap_or_else(|| panic!("three trace lines expected:\n{}", server.log()));
    let discover_xid = captured_xid(&capture, 1);
    let request_xid = captured_xid(&capture, 3);
    drop(capture);

    let xid = format!("xid=0x{discover_xid:08x}");
    has(
        &lines[0],
        &[
            &format!("DHCPDISCOVER {xid} chaddr={TRACED_MAC}"),
            "ciaddr=0.0.0.0 giaddr=0.0.0.0 options: message-type=DISCOVER",
            "parameter-request-list=[subnet-mask,",
            &format!("via={} src=0.0.0.0:68 dst=255.255.255.255", net.server_if),
            "| decision: subnet=1 198.18.0.0/24 by=interface-address(198.18.0.1)",
            "classes=[ALL,KNOWN]",
            "reservation=hw-address(198.18.0.42) hostname=traced-pi",
            "address=198.18.0.42(reserved)",
            "result=OFFER lifetime=600",
            &format!("| send DHCPOFFER {xid} chaddr={TRACED_MAC}"),
            "yiaddr=198.18.0.42",
            "message-type=OFFER",
            "server-identifier=198.18.0.1",
            "routers=198.18.0.1",
            "domain-name-servers=198.18.0.53,198.18.0.54",
        ],
    );
    has(
        &lines[1],
        &[
            &format!("DHCPREQUEST xid=0x{request_xid:08x} chaddr={TRACED_MAC}"),
            "message-type=REQUEST",
            "requested-address=198.18.0.42",
            "server-identifier=198.18.0.1",
            "state=selecting",
            "address=198.18.0.42(reserved)",
            "result=ACK lifetime=600",
            "| send DHCPACK",
        ],
    );
    has(
        &lines[2],
        &[
            "DHCPREQUEST",
            "ciaddr=198.18.0.42",
            "by=ciaddr(198.18.0.42)",
            "state=renewing",
            "result=ACK",
        ],
    );
    // The count is used up: the switch is off and the next renewal is not traced.
    let state = command(ns, r#"{"command": "wren-trace"}"#);
    assert!(state.contains("packettraceoff"), "{state}");
    client.renew(Duration::from_secs(20));
    assert_eq!(
        trace_lines(&server).len(),
        3,
        "no trace after the count:\n{}",
        server.log()
    );
    // On for any client, then off again.
    let any = command(
        ns,
        r#"{"command": "wren-trace", "arguments": {"packets": 5}}"#,
    );
    assert!(any.contains("packettraceonforthenext5packets"), "{any}");
    let off = command(
        ns,
        r#"{"command": "wren-trace", "arguments": {"off": true}}"#,
    );
    assert!(
        off.contains(r#""result":0,"text":"packettraceoff"#),
        "{off}"
    );
    assert!(
        server.log().contains("INFO  [kea-dhcp4.packets/"),
        "command traces log at INFO on kea-dhcp4.packets"
    );
    server.assert_no_panic();
}

#[test]
fn trace_at_debug_level_with_d_names_the_nak() {
    require_root();
    let dir = TestDir::new("trace-debug");
    let net = NetPair::basic();
    let server = Server::start_with(
        ServerKind::Wrend,
        &net.server,
        dir.path(),
        &render(BASIC_CONFIG, &net.server_if, dir.path()),
        &["-d"],
        67,
    );
    // The unix control socket answers wren-trace too (Kea's socket shape: one object).
    let mut socket = UnixStream::connect(dir.join("ctrl.sock")).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket
        .write_all(br#"{"command": "wren-trace", "arguments": {"packets": 2}}"#)
        .unwrap();
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    assert!(
        answer.starts_with('{')
            && answer.contains(r#""result": 0"#)
            && answer.contains("packet trace on for the next 2 packets"),
        "{answer}"
    );
    let mac = net.client_mac();
    let client = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions {
            dhclient_leases: Some(FOREIGN_LEASE.into()),
            dhclient_reboot_secs: Some(4),
            ..Default::default()
        },
    );
    let lease = client.wait_bound(Duration::from_secs(40));
    let address = lease.address.to_string();
    let lines = wait_for(Duration::from_secs(5), || {
        let l = trace_lines(&server);
        l.iter()
            .any(|l| l.starts_with("DHCPREQUEST") && l.contains("result=ACK"))
            .then_some(l)
    })
    .unwrap_or_else(|| panic!("no traced ACK:\n{}", server.log()));
    let log = server.log();
    assert!(
        log.contains("DEBUG [kea-dhcp4.packets/"),
        "-d traces at DEBUG (beyond the 2 packets the command asked for)"
    );
    assert_eq!(
        log.matches("INFO  [kea-dhcp4.packets/").count(),
        2,
        "the command's 2 packets at INFO"
    );
    let nak = lines
        .iter()
        .find(|l| l.contains("result=NAK"))
        .unwrap_or_else(|| panic!("no traced NAK:\n{}", lines.join("\n")));
    has(
        nak,
        &[
            "DHCPREQUEST xid=0x",
            &format!("chaddr={mac}"),
            "requested-address=198.18.7.7",
            "decision: subnet=1 198.18.0.0/24 by=interface-address(198.18.0.1)",
            "reservation=none",
            "state=init-reboot",
            "result=NAK (INIT-REBOOT from a client without a lease (authoritative))",
            "| send DHCPNAK",
            "message-type=NAK",
        ],
    );
    let discover = lines
        .iter()
        .find(|l| l.starts_with("DHCPDISCOVER"))
        .unwrap_or_else(|| panic!("no traced DISCOVER:\n{}", lines.join("\n")));
    has(
        discover,
        &[
            &format!("chaddr={mac}"),
            "classes=[ALL,UNKNOWN]",
            &format!("address={address}(allocated)"),
            "result=OFFER",
            &format!("yiaddr={address}"),
        ],
    );
    server.assert_no_panic();
}
