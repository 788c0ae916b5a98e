#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! A `config-set` of a config at the size wren is built for: 50,000 reservations in one
//! 198.18.0.0/15 subnet (a 4 MB body, four times the old 1 MiB request limit), sent over
//! the HTTP control API with curl. wrend answers "Configuration successful.", serves a real
//! DHCP client (dhclient, in its own namespace, with one of the reserved MAC addresses) its
//! reserved address, and still refuses a body over its limit with 413.

use std::net::Ipv4Addr;
use std::process::Stdio;
use std::time::Duration;
use wren_tests::clients::dhclient_lease;
use wren_tests::netns::{NetPair, Netns, PairOptions};
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_program, require_root, TestDir};

const URL: &str = "http://127.0.0.1:8080/";
const RESERVATIONS: u32 = 50_000;
/// The reservation the client holds (any of them would do; one near the end of the list).
const CLIENT: u32 = 42_424;

/// Reservation `i`: MAC 02:00:<i as 4 bytes>, address 198.18.1.0 + i (all inside /15).
fn reservation(i: u32) -> (String, Ipv4Addr) {
    let b = i.to_be_bytes();
    let mac = format!("02:00:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3]);
    let address = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 1, 0)) + i);
    (mac, address)
}

/// The `config-set` command: BASIC_CONFIG's sockets and logging, one /15 subnet whose pool
/// lies above the reservations, 50,000 reservations by MAC.
fn config_set_command(iface: &str, dir: &std::path::Path) -> String {
    let mut hosts = String::with_capacity(RESERVATIONS as usize * 80);
    for i in 0..RESERVATIONS {
        let (mac, address) = reservation(i);
        if i > 0 {
            hosts.push_str(",\n");
        }
        hosts.push_str(&format!(
            r#"          {{ "hw-address": "{mac}", "ip-address": "{address}" }}"#
        ));
    }
    let dhcp4 = format!(
        r#"{{
    "interfaces-config": {{ "interfaces": [ "{iface}" ], "dhcp-socket-type": "raw" }},
    "control-sockets": [ {{ "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8080 }} ],
    "lease-database": {{ "type": "memfile", "persist": true, "name": "{dir}/leases4.csv", "lfc-interval": 0 }},
    "valid-lifetime": 600,
    "subnet4": [ {{
        "id": 7,
        "subnet": "198.18.0.0/15",
        "pools": [ {{ "pool": "198.19.128.0 - 198.19.255.254" }} ],
        "reservations": [
{hosts}
        ]
    }} ],
    "loggers": [ {{ "name": "kea-dhcp4", "output_options": [ {{ "output": "stdout" }} ], "severity": "INFO" }} ]
}}"#,
        dir = dir.display()
    );
    format!(r#"{{ "command": "config-set", "arguments": {{ "Dhcp4": {dhcp4} }} }}"#)
}

/// curl in `ns` POSTing the file `body`: (HTTP status, body).
fn post_file(ns: &Netns, body: &std::path::Path) -> (u16, String) {
    let out = ns
        .command("curl")
        .args(["-s", "--max-time", "120", "-w", "\n%{http_code}"])
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .arg(URL)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (answer, code) = text.rsplit_once('\n').unwrap_or((&text, "0"));
    (code.trim().parse().unwrap_or(0), answer.to_string())
}

#[test]
fn config_set_with_50000_reservations_serves_a_reserved_client() {
    require_root();
    require_program("/usr/bin/curl", "curl");
    let dir = TestDir::new("ctl-large-config");
    let (client_mac, reserved) = reservation(CLIENT);
    let net = NetPair::new(&PairOptions {
        client_mac: Some(client_mac.clone()),
        ..Default::default()
    });
    let start = BASIC_CONFIG.replace(
        r#""control-socket": { "socket-type": "unix", "socket-name": "@DIR@/ctrl.sock" },"#,
        r#""control-sockets": [ { "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8080 } ],"#,
    );
    assert!(start.contains("control-sockets"), "template changed");
    let server = Server::start(
        ServerKind::Wrend,
        &net.server,
        dir.path(),
        &render(&start, &net.server_if, dir.path()),
    );
    let body = dir.join("config-set.json");
    std::fs::write(&body, config_set_command(&net.server_if, dir.path())).unwrap();
    let size = std::fs::metadata(&body).unwrap().len();
    eprintln!("config-set body: {size} bytes");
    assert!(
        size > 3 * 1024 * 1024,
        "the body is meant to exceed the old 1 MiB limit"
    );

    // The listener may take a moment after start.
    let (code, answer) = wren_tests::wait_for(Duration::from_secs(10), || {
        let (code, answer) = post_file(&net.server, &body);
        (code != 0).then_some((code, answer))
    })
    .expect("the HTTP control API answers");
    assert_eq!(code, 200, "{answer}");
    assert!(
        answer.contains(r#""result": 0"#) && answer.contains("Configuration successful."),
        "{answer}"
    );

    let lease = dhclient_lease(&net, dir.path());
    assert_eq!(
        lease.address, reserved,
        "reservation {CLIENT} ({client_mac}) of the config set over the API"
    );

    // A body over the limit is still refused, from its Content-Length alone.
    let over = net.server.run_inside(|| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect("127.0.0.1:8080").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{")
            .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    });
    assert!(over.starts_with("HTTP/1.1 413 "), "oversized body: {over}");
    server.assert_no_panic();
}
