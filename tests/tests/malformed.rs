#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! Bad input never crashes the server: truncated and garbage packets (UDP and raw frames with
//! broken IP/UDP headers), config files with errors (`-t` exits 1 naming line and key), corrupt
//! lease-file lines (dropped, the rest loaded). After each, a real client still gets a lease.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wren_tests::clients::dhclient_lease;
use wren_tests::inject::{from_hex, send_raw_frames, send_udp, udp_frame, Lcg};
use wren_tests::leases;
use wren_tests::netns::{NetPair, PairOptions};
use wren_tests::server::{check_config, render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_root, wait_for, TestDir};

const DISCOVER: &str = include_str!("../../core/tests/fixtures/dhclient-discover.hex");
const RELAYED: &str = include_str!("../../core/tests/fixtures/perfdhcp-discover.hex");

/// A real client still gets a lease from `server`.
fn still_serves(net: &NetPair, dir: &TestDir, server: &mut Server) -> Ipv4Addr {
    assert!(
        server.is_running(),
        "{} died:\n{}",
        server.kind.name(),
        server.log()
    );
    server.assert_no_panic();
    net.flush_client();
    let lease = dhclient_lease(net, dir.path());
    lease.address
}

fn garbage_payloads() -> Vec<Vec<u8>> {
    let discover = from_hex(DISCOVER);
    let relayed = from_hex(RELAYED);
    let mut v: Vec<Vec<u8>> = vec![
        vec![],
        vec![1],
        vec![0; 100],
        vec![0xff; 600],
        vec![1; 1500],
    ];
    // every truncation of a real DISCOVER (inside the header, the cookie, the options)
    for cut in (0..discover.len()).step_by(3) {
        v.push(discover[..cut].to_vec());
    }
    // header + cookie, no options at all; options without `end`
    v.push(discover[..240].to_vec());
    let mut no_end = discover[..243].to_vec();
    no_end.truncate(243);
    v.push(no_end);
    // option lengths that run past the end
    let mut long_opt = discover[..240].to_vec();
    long_opt.extend_from_slice(&[53, 1, 1, 55, 200, 1, 3]);
    v.push(long_opt);
    // message type 0, 9, 255, a zero-length 53, a 53 of length 4
    for body in [
        &[53u8, 1, 0][..],
        &[53, 1, 9],
        &[53, 1, 255],
        &[53, 0],
        &[53, 4, 1, 1, 1, 1],
    ] {
        let mut p = discover[..240].to_vec();
        p.extend_from_slice(body);
        p.push(255);
        v.push(p);
    }
    // hlen 255, htype 0, op 2 (a BOOTREPLY sent to the server), hops 255
    for (at, val) in [(2usize, 255u8), (1, 0), (0, 2), (3, 255), (0, 0), (0, 7)] {
        let mut p = discover.clone();
        p[at] = val;
        v.push(p);
    }
    // overload option (52) pointing at empty/garbage file and sname fields
    let mut ov = discover[..240].to_vec();
    ov.extend_from_slice(&[53, 1, 1, 52, 1, 3, 255]);
    v.push(ov);
    // relayed DISCOVER with a truncated option 82
    let mut r = relayed[..240].to_vec();
    r.extend_from_slice(&[53, 1, 1, 82, 10, 1, 4, 0, 0]);
    v.push(r);
    // deterministic random garbage, some with a valid cookie
    let mut rng = Lcg(0x005e_ed0f_77e7);
    for i in 0..200 {
        let len = usize::from(rng.next_u8()) * 3;
        let mut p = rng.bytes(len);
        if i % 2 == 0 && p.len() > 240 {
            p[236..240].copy_from_slice(&[99, 130, 83, 99]);
            p[0] = 1;
        }
        v.push(p);
    }
    v
}

fn garbage_frames(mac: [u8; 6]) -> Vec<Vec<u8>> {
    let src = Ipv4Addr::new(198, 18, 0, 2);
    let bcast = Ipv4Addr::BROADCAST;
    let good = udp_frame(mac, src, bcast, 68, 67, &from_hex(DISCOVER));
    let mut v = Vec::new();
    // truncated everywhere: Ethernet header, IP header, UDP header, payload
    for cut in [14usize, 20, 33, 34, 36, 41, 42, 50, 278, 300] {
        v.push(good[..cut.min(good.len())].to_vec());
    }
    let mut set = |at: usize, bytes: &[u8]| {
        let mut f = good.clone();
        f[at..at + bytes.len()].copy_from_slice(bytes);
        v.push(f);
    };
    set(14, &[0x4f]); // IHL 15: options beyond the UDP header
    set(14, &[0x43]); // IHL 3: shorter than an IP header
    set(14, &[0x65]); // version 6 in an IPv4 frame
    set(16, &[0xff, 0xff]); // IP total length 65535
    set(16, &[0x00, 0x1c]); // IP total length 28: no payload
    set(16, &[0x00, 0x05]); // IP total length below the header
    set(20, &[0x20, 0x00]); // more fragments
    set(20, &[0x00, 0x10]); // fragment offset 16
    set(24, &[0x12, 0x34]); // wrong header checksum
    set(38, &[0xff, 0xff]); // UDP length 65535
    set(38, &[0x00, 0x07]); // UDP length below 8
    set(38, &[0x00, 0x08]); // UDP length 8: empty payload
    v.push(udp_frame(mac, src, bcast, 68, 67, &[]));
    v.push(udp_frame(mac, src, bcast, 68, 67, &[1, 1, 6, 0]));
    let mut rng = Lcg(42);
    for _ in 0..50 {
        let len = usize::from(rng.next_u8());
        v.push(udp_frame(mac, src, bcast, 68, 67, &rng.bytes(len)));
    }
    v
}

fn garbage(kind: ServerKind) {
    require_root();
    let dir = TestDir::new(&format!("garbage-{}", kind.name()));
    let net = NetPair::new(&PairOptions {
        client_cidr: Some("198.18.0.2/24".into()),
        ..Default::default()
    });
    net.client
        .ip(&["route", "add", "255.255.255.255/32", "dev", &net.client_if]);
    let mut server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(BASIC_CONFIG, &net.server_if, dir.path()),
    );
    let payloads = garbage_payloads();
    let n = payloads.len();
    let from = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 68);
    for dst in [Ipv4Addr::BROADCAST, net.server_ip] {
        let sent = send_udp(
            &net.client,
            from,
            SocketAddrV4::new(dst, 67),
            payloads.clone(),
        );
        assert_eq!(sent, n, "the kernel refused some datagrams");
    }
    // relayed garbage, from port 67
    let relay_from = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 67);
    send_udp(
        &net.client,
        relay_from,
        SocketAddrV4::new(net.server_ip, 67),
        payloads,
    );
    let mac: Vec<u8> = net
        .client_mac()
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    let frames = garbage_frames(mac.try_into().unwrap());
    let sent = send_raw_frames(&net.client, &net.client_if, frames);
    assert!(sent > 50, "raw frames refused");
    std::thread::sleep(Duration::from_millis(500));
    net.client
        .ip(&["route", "del", "255.255.255.255/32", "dev", &net.client_if]);
    let addr = still_serves(&net, &dir, &mut server);
    assert_ne!(addr, Ipv4Addr::new(198, 18, 0, 2));
}

#[test]
fn garbage_packets_do_not_stop_service() {
    garbage(ServerKind::from_env());
}

#[test]
fn garbage_packets_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        garbage(ServerKind::Kea);
    }
}

/// True when `out` names line `line` in a `L:C` or `L.C` (bison-style, as Kea prints) form.
fn names_line(out: &str, line: u32) -> bool {
    let needle_colon = format!(":{line}:");
    let needle_dot = format!(":{line}.");
    out.contains(&needle_colon)
        || out.contains(&needle_dot)
        || out.contains(&format!("line {line}"))
}

/// Bad configs, each with the error on line 5: (name, text, the key the message must name,
/// whether Kea 2.2 names it too: for a type error Kea only says "expecting integer"; wrend must
/// name the key).
const BAD_CONFIGS: &[(&str, &str, &str, bool)] = &[
    (
        "unknown key",
        "{\n  \"Dhcp4\": {\n    \"interfaces-config\": { \"interfaces\": [ \"@IFACE@\" ] },\n    \"valid-lifetime\": 600,\n    \"valid-lifetim\": 600,\n    \"subnet4\": [ ]\n  }\n}\n",
        "valid-lifetim",
        true,
    ),
    (
        "missing comma",
        "{\n  \"Dhcp4\": {\n    \"interfaces-config\": { \"interfaces\": [ \"@IFACE@\" ] },\n    \"valid-lifetime\": 600\n    \"subnet4\": [ ]\n  }\n}\n",
        "subnet4",
        true,
    ),
    (
        "duplicate key",
        "{\n  \"Dhcp4\": {\n    \"interfaces-config\": { \"interfaces\": [ \"@IFACE@\" ] },\n    \"subnet4\": [\n      { \"id\": 1, \"subnet\": \"198.18.0.0/24\", \"valid-lifetime\": 600, \"valid-lifetime\": 700 } ]\n  }\n}\n",
        "valid-lifetime",
        true,
    ),
    (
        "wrong type",
        "{\n  \"Dhcp4\": {\n    \"interfaces-config\": { \"interfaces\": [ \"@IFACE@\" ] },\n    \"subnet4\": [ ],\n    \"valid-lifetime\": \"forever\"\n  }\n}\n",
        "valid-lifetime",
        false,
    ),
];

fn config_errors(kind: ServerKind) {
    require_root();
    let dir = TestDir::new(&format!("config-errors-{}", kind.name()));
    let net = NetPair::basic();
    let good = dir.join("good.conf");
    std::fs::write(&good, render(BASIC_CONFIG, &net.server_if, dir.path())).unwrap();
    let ok = check_config(kind, &net.server, &good, dir.path());
    assert!(
        ok.success(),
        "-t rejected the good config: {}",
        ok.combined()
    );
    for (i, (what, text, key, kea_names_key)) in BAD_CONFIGS.iter().enumerate() {
        let path = dir.join(&format!("bad{i}.conf"));
        std::fs::write(&path, render(text, &net.server_if, dir.path())).unwrap();
        let out = check_config(kind, &net.server, &path, dir.path());
        let all = out.combined();
        assert_eq!(
            out.code(),
            Some(1),
            "{what}: `-t` must exit 1, got {:?}: {all}",
            out.status
        );
        assert!(
            names_line(&all, 5),
            "{what}: message must name line 5 (line:col): {all}"
        );
        if kind == ServerKind::Wrend || *kea_names_key {
            assert!(
                all.contains(key),
                "{what}: message must name `{key}`: {all}"
            );
        }
        assert!(!all.contains("panicked at"), "{what}: panic: {all}");
    }
    // `-c` with a bad config: refuses to start, exits non-zero, names the problem.
    let bad = dir.join("bad0.conf");
    let out = wren_tests::process::run(
        net.server
            .command(&kind.binary().display().to_string())
            .arg("-c")
            .arg(&bad)
            .env("KEA_PIDFILE_DIR", dir.path())
            .env("KEA_LOCKFILE_DIR", dir.path()),
        Duration::from_secs(15),
    );
    assert!(
        out.status.is_some(),
        "-c with a bad config did not exit within 15 s"
    );
    assert!(
        !out.success(),
        "-c with a bad config exited 0: {}",
        out.combined()
    );
    assert!(
        out.combined().contains("valid-lifetim"),
        "{}",
        out.combined()
    );
}

#[test]
fn config_errors_are_reported_with_line_and_key() {
    config_errors(ServerKind::from_env());
}

#[test]
fn config_errors_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        config_errors(ServerKind::Kea);
    }
}

fn corrupt_lease_file(kind: ServerKind) {
    require_root();
    let dir = TestDir::new(&format!("corrupt-leases-{}", kind.name()));
    let net = NetPair::basic();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = now + 600;
    let text = format!(
        "{header}\n\
         198.18.0.150,02:57:52:00:cc:01,,600,{exp},1,0,0,keep-one,0,\n\
         this is not a lease row\n\
         198.18.0.300,02:57:52:00:cc:09,,600,{exp},1,0,0,,0,\n\
         198.18.0.152,02:57\n\
         ,,,,,,,,,,\n\
         198.18.0.153,zz:zz:zz:zz:zz:zz,,600,{exp},1,0,0,,0,\n\
         198.18.0.154,02:57:52:00:cc:04,,sixhundred,{exp},1,0,0,,0,\n\
         198.18.0.151,02:57:52:00:cc:02,,600,{exp},1,0,0,keep-two,0,\n",
        header = leases::HEADER
    );
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"198.18.0.155,\xff\xfe\x00,,600,1,1,0,0,,0,\n");
    std::fs::write(dir.join("leases4.csv"), bytes).unwrap();
    let mut server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(BASIC_CONFIG, &net.server_if, dir.path()),
    );
    // The good rows were loaded: their clients get their addresses back...
    net.set_client_mac("02:57:52:00:cc:01");
    assert_eq!(
        still_serves(&net, &dir, &mut server),
        Ipv4Addr::new(198, 18, 0, 150)
    );
    // ...and nobody else gets them.
    net.set_client_mac("02:57:52:00:dd:01");
    let other = still_serves(&net, &dir, &mut server);
    assert!(
        ![150u8, 151].contains(&other.octets()[3]),
        "{other} was leased to a loaded client"
    );
    let rows = wait_for(Duration::from_secs(5), || {
        let text = std::fs::read(dir.join("leases4.csv")).ok()?;
        String::from_utf8_lossy(&text)
            .lines()
            .filter_map(leases::parse_row)
            .find(|r| r.address == other)
            .map(|_| ())
    });
    assert!(
        rows.is_some(),
        "the new lease was not appended to the lease file"
    );
}

#[test]
fn corrupt_lease_lines_are_dropped() {
    corrupt_lease_file(ServerKind::from_env());
}

#[test]
fn corrupt_lease_lines_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        corrupt_lease_file(ServerKind::Kea);
    }
}
