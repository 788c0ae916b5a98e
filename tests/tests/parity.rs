#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! Drop-in parity on the wire: the same client, config and MAC against Kea 2.2 and against the
//! server under test; every reply the server decides (OFFER, ACK, renewal ACK, INIT-REBOOT NAK,
//! INFORM ACK) must match Kea's byte for byte apart from xid and secs, and go to the same
//! IP address, port and MAC.

use std::collections::BTreeMap;
use std::time::Duration;
use wren_tests::capture::{mac_string, Capture, Dhcp, DHCPACK, DHCPNAK, DHCPOFFER, DHCPREQUEST};
use wren_tests::clients::{Client, ClientKind, ClientOptions};
use wren_tests::netns::{NetPair, PairOptions};
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG, RELAY_CONFIG};
use wren_tests::{require_root, TestDir};

const CLIENT_MAC: &str = "02:57:52:00:00:02";

/// A lease on a network foreign to the server's: dhclient starts in INIT-REBOOT with it.
const FOREIGN_LEASE: &str = "lease {\n  interface \"@IFACE@\";\n  fixed-address 198.18.7.7;\n  \
    option subnet-mask 255.255.255.0;\n  option dhcp-lease-time 600;\n  \
    option dhcp-server-identifier 198.18.7.1;\n  renew 4 2037/01/01 00:00:00;\n  \
    rebind 4 2037/01/01 00:00:00;\n  expire 4 2037/01/01 00:00:00;\n}\n";

/// One client session to compare.
struct Flow<'a> {
    config: &'a str,
    mac: &'a str,
    client: ClientKind,
    opts: ClientOptions,
    /// Wait for a renewal (needs T1 short enough: BASIC_CONFIG's renew-timer is 2 s).
    renew: bool,
    /// dhcpcd only: an INFORM for 198.18.0.250 afterwards.
    inform: bool,
    /// Seconds to keep capturing after the lease (to see whether something is, or is not, sent).
    linger_secs: u64,
}

/// The first reply of each kind the server sent during one client session.
fn session(kind: ServerKind, flow: &Flow) -> BTreeMap<&'static str, String> {
    let dir = TestDir::new(&format!("parity-{}-{}", flow.client.name(), kind.name()));
    let net = NetPair::new(&PairOptions {
        client_mac: Some(flow.mac.into()),
        ..Default::default()
    });
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(flow.config, &net.server_if, dir.path()),
    );
    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "parity");
    let mut c = Client::start(
        flow.client,
        &net.client,
        &net.client_if,
        dir.path(),
        &flow.opts,
    );
    c.wait_bound(Duration::from_secs(30));
    if flow.renew {
        c.renew(Duration::from_secs(20));
    }
    std::thread::sleep(Duration::from_secs(flow.linger_secs));
    c.release();
    if flow.inform {
        net.flush_client();
        net.client
            .ip(&["addr", "add", "198.18.0.250/24", "dev", &net.client_if]);
        let inform = ClientOptions {
            dhcpcd_inform: Some("198.18.0.250/24".into()),
            ..Default::default()
        };
        let i = Client::start(
            flow.client,
            &net.client,
            &net.client_if,
            dir.path(),
            &inform,
        );
        i.wait_event(0, &["INFORM"], Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let packets = capture.stop();
    server.assert_no_panic();
    let mut replies = BTreeMap::new();
    // What the client asked matters for the comparison too: an INIT-REBOOT REQUEST (50, no 54,
    // no ciaddr) must have been sent for a NAK or its absence to mean anything.
    for p in packets.iter().filter(|p| p.src_port == 68) {
        let Some(d) = Dhcp::parse(&p.payload) else {
            continue;
        };
        if d.message_type() == Some(DHCPREQUEST)
            && d.option(50).is_some()
            && d.option(54).is_none()
            && d.ciaddr().is_unspecified()
        {
            replies.insert("client INIT-REBOOT", "sent".to_string());
        }
    }
    for p in packets.iter().filter(|p| p.src_port == 67) {
        let Some(d) = Dhcp::parse(&p.payload) else {
            continue;
        };
        let what = match d.message_type() {
            Some(DHCPOFFER) => "OFFER",
            Some(DHCPNAK) => "NAK",
            Some(DHCPACK) if d.yiaddr().is_unspecified() => "INFORM-ACK",
            Some(DHCPACK) if !d.ciaddr().is_unspecified() => "RENEW-ACK",
            Some(DHCPACK) => "ACK",
            _ => "OTHER",
        };
        // Accepted divergence (documented in core/src/server/destination.rs): for an IP
        // broadcast wren uses the Ethernet broadcast address (RFC 2131 §4.1, RFC 1122 §3.3.6)
        // where Kea uses the query's source MAC. Clients accept either; any other MAC differs.
        let mac = if p.dst_ip.is_broadcast() && (p.dst_mac == [0xff; 6] || p.dst_mac == d.chaddr())
        {
            "client-or-broadcast (IP broadcast)".to_string()
        } else {
            mac_string(&p.dst_mac)
        };
        let view = format!(
            "to {}:{} mac {}\n  {}",
            p.dst_ip,
            p.dst_port,
            mac,
            d.server_view()
        );
        replies.entry(what).or_insert(view);
    }
    replies
}

/// Runs `flow` against Kea and the server under test and compares every reply kind either sent.
/// Returns Kea's replies.
fn compare(flow: &Flow, must_have: &[&str]) -> BTreeMap<&'static str, String> {
    let (expected, diffs) = compare_collect(flow, must_have);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    expected
}

/// Like [`compare`], returning the differences instead of failing on the first.
fn compare_collect(
    flow: &Flow,
    must_have: &[&str],
) -> (BTreeMap<&'static str, String>, Vec<String>) {
    require_root();
    let expected = session(ServerKind::Kea, flow);
    let actual = session(ServerKind::from_env(), flow);
    for what in must_have {
        assert!(
            expected.contains_key(what),
            "Kea sent no {what} (the test is wrong): {expected:#?}"
        );
    }
    let kinds: std::collections::BTreeSet<_> = expected.keys().chain(actual.keys()).collect();
    let mut diffs = Vec::new();
    for what in kinds {
        if actual.get(what) != expected.get(what) {
            diffs.push(format!(
                "{} {what} differs from Kea's:\n  server under test: {:?}\n  Kea:               {:?}",
                flow.client.name(),
                actual.get(what),
                expected.get(what)
            ));
        }
    }
    (expected, diffs)
}

fn basic_flow(client: ClientKind) -> Flow<'static> {
    let mut opts = ClientOptions {
        hostname: Some("wren-parity".into()),
        ..Default::default()
    };
    if client == ClientKind::Dhclient {
        opts.dhclient_leases = Some(FOREIGN_LEASE.into());
        opts.dhclient_reboot_secs = Some(4);
    }
    Flow {
        config: BASIC_CONFIG,
        mac: CLIENT_MAC,
        client,
        opts,
        renew: true,
        inform: client == ClientKind::Dhcpcd,
        linger_secs: 0,
    }
}

fn parity(client: ClientKind) {
    let mut want = vec!["ACK", "OFFER", "RENEW-ACK"];
    match client {
        ClientKind::Dhclient => want.extend(["NAK", "client INIT-REBOOT"]),
        ClientKind::Dhcpcd => want.push("INFORM-ACK"),
        ClientKind::Udhcpc => {}
    }
    compare(&basic_flow(client), &want);
}

#[test]
fn dhclient_replies_match_kea() {
    parity(ClientKind::Dhclient);
}

#[test]
fn udhcpc_replies_match_kea() {
    parity(ClientKind::Udhcpc);
}

#[test]
fn dhcpcd_replies_match_kea() {
    parity(ClientKind::Dhcpcd);
}

const SEED_198: &str = include_str!("../configs/seed-198.conf.in");

/// The seed config: a MAC reservation (address, hostname), its options (42, 119, four DNS
/// servers), no T1/T2 (calculate-tee-times false).
#[test]
fn seed_reserved_mac_replies_match_kea() {
    let flow = Flow {
        config: SEED_198,
        mac: "80:2a:a8:93:be:b8",
        client: ClientKind::Dhclient,
        opts: ClientOptions::default(),
        renew: false,
        inform: false,
        linger_secs: 0,
    };
    compare(&flow, &["OFFER", "ACK"]);
}

/// The seed config: a client-id reservation with server-hostname and boot-file-name.
#[test]
fn seed_client_id_reservation_replies_match_kea() {
    let flow = Flow {
        config: SEED_198,
        mac: "02:57:52:00:00:05",
        client: ClientKind::Udhcpc,
        opts: ClientOptions {
            client_id_hex: Some("08006907dce8".into()),
            ..Default::default()
        },
        renew: true,
        inform: false,
        linger_secs: 0,
    };
    compare(&flow, &["OFFER", "ACK", "RENEW-ACK"]);
}

/// The seed config is not authoritative: an INIT-REBOOT for a foreign address gets silence,
/// not a NAK (dhclient then falls back to DISCOVER).
#[test]
fn seed_not_authoritative_init_reboot_is_silent() {
    let flow = Flow {
        config: SEED_198,
        mac: "02:57:52:00:00:06",
        client: ClientKind::Dhclient,
        opts: ClientOptions {
            dhclient_leases: Some(FOREIGN_LEASE.into()),
            dhclient_reboot_secs: Some(3),
            ..Default::default()
        },
        renew: false,
        inform: false,
        linger_secs: 0,
    };
    let kea = compare(&flow, &["OFFER", "ACK", "client INIT-REBOOT"]);
    // compare() already fails if the server under test NAKs where Kea did not; make the
    // expectation explicit for Kea as well.
    assert!(
        !kea.contains_key("NAK"),
        "Kea NAKed while not authoritative"
    );
}

/// The lease file rows one session writes, with `expire` checked against the clock and then
/// left out (everything else compared verbatim, including columns the harness does not parse).
fn lease_rows(kind: ServerKind, client: ClientKind, config: &str) -> Vec<String> {
    let dir = TestDir::new(&format!("parity-rows-{}-{}", client.name(), kind.name()));
    let net = NetPair::new(&PairOptions {
        client_mac: Some(CLIENT_MAC.into()),
        ..Default::default()
    });
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(config, &net.server_if, dir.path()),
    );
    let start = now_secs();
    let opts = ClientOptions {
        hostname: Some("Wren,Parity&Co".into()),
        ..Default::default()
    };
    let mut c = Client::start(client, &net.client, &net.client_if, dir.path(), &opts);
    c.wait_bound(Duration::from_secs(30));
    c.renew(Duration::from_secs(20));
    c.release();
    std::thread::sleep(Duration::from_millis(300));
    let end = now_secs();
    server.assert_no_panic();
    let text = std::fs::read_to_string(server.lease_file()).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(wren_tests::leases::HEADER));
    lines
        .map(|l| {
            let mut cols: Vec<&str> = l.split(',').collect();
            assert_eq!(cols.len(), 11, "row {l:?}");
            let valid: u64 = cols[3].parse().unwrap();
            let expire: u64 = cols[4].parse().unwrap();
            let cltt = expire - valid;
            assert!(
                (start..=end).contains(&cltt),
                "row {l:?}: cltt {cltt} outside {start}..={end}"
            );
            cols[4] = "<expire>";
            cols.join(",")
        })
        .collect()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Lease-file rows (allocation, renewal, release) match Kea's, column for column: hostname
/// escaping (`,` and `&`), client-id, state, the release row.
#[test]
fn lease_file_rows_match_kea() {
    require_root();
    // Kea's default hostname-char-set strips `,` and `&`; with an empty set they are kept and
    // the CSV must escape them (`&#x2c`, `&#x26`).
    let keep_all_chars = BASIC_CONFIG.replace(
        "\"authoritative\": true,",
        "\"authoritative\": true,\n    \"hostname-char-set\": \"\",",
    );
    assert_ne!(keep_all_chars, BASIC_CONFIG);
    let runs = [
        (ClientKind::Udhcpc, BASIC_CONFIG),
        (ClientKind::Dhclient, BASIC_CONFIG),
        (ClientKind::Dhclient, keep_all_chars.as_str()),
    ];
    for (client, config) in runs {
        let kea = lease_rows(ServerKind::Kea, client, config);
        assert!(kea.len() >= 3, "Kea wrote {kea:?}");
        let actual = lease_rows(ServerKind::from_env(), client, config);
        // The number of renewals in the window may differ by one; compare the first two rows
        // (allocation, first renewal) and the last (release).
        assert_eq!(
            actual.first(),
            kea.first(),
            "{}: allocation row",
            client.name()
        );
        assert_eq!(actual.get(1), kea.get(1), "{}: renewal row", client.name());
        assert_eq!(actual.last(), kea.last(), "{}: release row", client.name());
    }
}

/// The seed's client classes (PXE): option 93 (client-system) 0x0000 selects "Legacy PXE",
/// 0x0007 "EFI x86_64", whose boot-file-name goes in the BOOTP `file` field; option 77
/// starting with "iPXE" selects "iPXE" (empty boot file). Replies must match Kea's.
#[test]
fn seed_pxe_classes_match_kea() {
    require_root();
    let cases = [
        ("0x5d:0000", Some("/ipxe/undionly.kpxe")),
        ("0x5d:0007", Some("/ipxe/netboot.xyz.efi")),
        ("0x5d:0009", None),
        ("0x4d:69505845", None),
    ];
    let mut all_diffs = Vec::new();
    for (i, (send, boot_file)) in cases.iter().enumerate() {
        let mac = format!("02:57:52:00:0c:{i:02x}");
        let flow = Flow {
            config: SEED_198,
            mac: &mac,
            client: ClientKind::Udhcpc,
            opts: ClientOptions {
                udhcpc_send: vec![send.to_string()],
                ..Default::default()
            },
            renew: false,
            inform: false,
            linger_secs: 0,
        };
        let (kea, diffs) = compare_collect(&flow, &["OFFER", "ACK"]);
        all_diffs.extend(diffs.into_iter().map(|d| format!("[{send}] {d}")));
        let ack = &kea["ACK"];
        match boot_file {
            Some(f) => assert!(
                ack.contains(&format!("file={f:?}")),
                "{send}: Kea's ACK lacks {f}: {ack}"
            ),
            None => assert!(
                ack.contains("file=\"\""),
                "{send}: Kea's ACK has a boot file: {ack}"
            ),
        }
    }
    assert!(all_diffs.is_empty(), "{}", all_diffs.join("\n"));
}

/// Relay-agent traffic built by hand (from 198.18.0.2:67, as a relay sends it), compared with
/// Kea's answers: DISCOVER/REQUEST with option 82 (echoed last), a giaddr on no configured
/// subnet (DISCOVER: silence; REQUEST: NAK to the relay), and a relayed INFORM with ciaddr
/// (answered directly to ciaddr).
fn relay_session(kind: ServerKind) -> BTreeMap<String, String> {
    use std::net::{Ipv4Addr, SocketAddrV4};
    use wren_tests::inject::{build_dhcp, send_udp, DhcpFields};
    let dir = TestDir::new(&format!("parity-relay-{}", kind.name()));
    let net = NetPair::new(&PairOptions {
        client_mac: Some(CLIENT_MAC.into()),
        ..PairOptions::relay()
    });
    // A second relay address on a network the server has no subnet for, routed back, and the
    // INFORM client's address (so the direct answer is deliverable).
    net.client
        .ip(&["addr", "add", "198.19.0.2/24", "dev", &net.client_if]);
    net.client
        .ip(&["addr", "add", "198.18.1.77/22", "dev", &net.client_if]);
    net.server
        .ip(&["route", "add", "198.19.0.0/24", "via", "198.18.0.2"]);
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(RELAY_CONFIG, &net.server_if, dir.path()),
    );
    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "relay-parity");
    let relay = Ipv4Addr::new(198, 18, 0, 2);
    let foreign_relay = Ipv4Addr::new(198, 19, 0, 2);
    let opt82 = vec![
        1, 6, b'p', b'o', b'r', b't', b'-', b'7', 2, 4, b'r', b'i', b'd', b'1',
    ];
    let send = |from: Ipv4Addr, f: &DhcpFields| {
        send_udp(
            &net.client,
            SocketAddrV4::new(from, 67),
            SocketAddrV4::new(net.server_ip, 67),
            vec![build_dhcp(f)],
        );
        std::thread::sleep(Duration::from_millis(400));
    };
    let mac = |n: u8| [0x02, 0x57, 0x52, 0x00, 0x0d, n];

    // 1. DISCOVER with option 82
    let mut d = DhcpFields::new(0x1001, mac(1), 1);
    d.giaddr = relay;
    d.hops = 1;
    d.options.push((55, vec![1, 3, 6, 15, 51, 54]));
    d.options.push((82, opt82.clone()));
    send(relay, &d);
    // 2. REQUEST for what was offered
    let offered = capture
        .packets_so_far()
        .iter()
        .filter_map(|p| {
            Dhcp::parse(&p.payload)
                .filter(|d| d.xid() == 0x1001 && d.message_type() == Some(DHCPOFFER))
                .map(|d| d.yiaddr())
        })
        .next();
    if let Some(addr) = offered {
        let mut r = DhcpFields::new(0x1002, mac(1), 3);
        r.giaddr = relay;
        r.hops = 1;
        r.options.push((50, addr.octets().to_vec()));
        r.options.push((54, net.server_ip.octets().to_vec()));
        r.options.push((55, vec![1, 3, 6, 15, 51, 54]));
        r.options.push((82, opt82.clone()));
        send(relay, &r);
    }
    // 3. DISCOVER through a relay on no configured subnet: dropped
    let mut d = DhcpFields::new(0x1003, mac(3), 1);
    d.giaddr = foreign_relay;
    d.hops = 1;
    send(foreign_relay, &d);
    // 4. REQUEST through that relay: NAK to the relay
    let mut r = DhcpFields::new(0x1004, mac(4), 3);
    r.giaddr = foreign_relay;
    r.hops = 1;
    r.options.push((50, vec![198, 19, 0, 50]));
    send(foreign_relay, &r);
    // 5. INFORM relayed with ciaddr: answered directly to ciaddr
    let mut i = DhcpFields::new(0x1005, mac(5), 8);
    i.giaddr = relay;
    i.hops = 1;
    i.ciaddr = Ipv4Addr::new(198, 18, 1, 77);
    i.options.push((55, vec![1, 3, 6, 15]));
    i.options.push((82, opt82));
    send(relay, &i);

    let packets = capture.stop();
    server.assert_no_panic();
    let mut out = BTreeMap::new();
    for p in packets.iter().filter(|p| p.src_ip == net.server_ip) {
        let Some(d) = Dhcp::parse(&p.payload) else {
            continue;
        };
        let key = format!("reply to xid {:#x}", d.xid());
        let view = format!(
            "to {}:{} mac {}\n  {}",
            p.dst_ip,
            p.dst_port,
            mac_string(&p.dst_mac),
            d.server_view()
        );
        out.entry(key).or_insert(view);
    }
    out
}

#[test]
fn relayed_replies_match_kea() {
    require_root();
    let kea = relay_session(ServerKind::Kea);
    for xid in ["0x1001", "0x1002", "0x1004", "0x1005"] {
        assert!(
            kea.contains_key(&format!("reply to xid {xid}")),
            "Kea did not answer {xid} (the test is wrong): {kea:#?}"
        );
    }
    assert!(
        !kea.contains_key("reply to xid 0x1003"),
        "Kea answered a DISCOVER from an unknown relay: {kea:#?}"
    );
    let actual = relay_session(ServerKind::from_env());
    let keys: std::collections::BTreeSet<_> = kea.keys().chain(actual.keys()).collect();
    for k in keys {
        assert_eq!(
            actual.get(k),
            kea.get(k),
            "{k} differs from Kea's (left: server under test, right: Kea)"
        );
    }
}
