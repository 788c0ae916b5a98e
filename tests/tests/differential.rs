#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! Differential test of client classification (issue 4): a table of crafted requests —
//! classes chosen by options 60/77/93/61/12/82/124/125 and by pkt4/pkt fields, every
//! expression function, vendor options 43 and 125 driven by classes, option and boot-field
//! precedence among reservation/class/pool/subnet/shared network/global, class lifetimes,
//! `only-if-required` + `require-client-classes` on subnet, pool and shared network, pool and
//! subnet `client-class` restrictions, reservation `client-classes`, a shared network whose
//! first subnet runs out, relayed and direct — sent to Kea 2.2 and to the server under test,
//! each in its own namespace pair with the same config (tests/configs/differential.conf.in).
//! Replies are compared field by field: every fixed field, every option in order with its
//! value, and where the reply went. A dynamic address only has to lie in the same pool.
//!
//! Differences wren keeps on purpose are listed in [`INTENTIONAL`] (and in the README,
//! "Where wren deliberately differs from Kea 2.2"); for those cases the test asserts wren's
//! documented reply instead of Kea's.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};
use wren_tests::capture::{mac_string, Capture, Dhcp, DHCPOFFER};
use wren_tests::inject::{build_dhcp, send_raw_frames, send_udp, udp_frame, DhcpFields};
use wren_tests::netns::{NetPair, PairOptions};
use wren_tests::server::{render, Server, ServerKind};
use wren_tests::{require_root, TestDir};

const CONFIG: &str = include_str!("../configs/differential.conf.in");

/// The parameter request list every crafted request carries: every option the config sets
/// somewhere, so precedence decides what is sent (not the PRL).
const PRL: &[u8] = &[
    1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 40, 41, 42, 43, 47, 48, 49, 66, 67, 69,
    70, 71, 72, 73, 74, 75, 119, 224,
];

/// The pools of the config, to compare dynamic addresses by pool.
const POOLS: &[(&str, [u8; 4], [u8; 4])] = &[
    ("subnet1-pool-lab", [198, 18, 0, 100], [198, 18, 0, 109]),
    ("subnet1-pool-a", [198, 18, 0, 110], [198, 18, 0, 149]),
    ("subnet10-pool", [198, 18, 4, 10], [198, 18, 4, 11]),
    ("subnet11-pool", [198, 18, 5, 10], [198, 18, 5, 60]),
    ("subnet12-pool", [198, 18, 6, 10], [198, 18, 6, 60]),
    ("subnet30-pool", [198, 18, 8, 10], [198, 18, 8, 50]),
];

fn pool_label(a: Ipv4Addr) -> String {
    let n = u32::from(a);
    POOLS
        .iter()
        .find(|(_, lo, hi)| (u32::from_be_bytes(*lo)..=u32::from_be_bytes(*hi)).contains(&n))
        .map_or_else(|| a.to_string(), |(name, _, _)| format!("<{name}>"))
}

const RELAY_NET: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 1);
const RELAY_EFI: Ipv4Addr = Ipv4Addr::new(198, 18, 8, 1);
const RELAY_UNKNOWN: Ipv4Addr = Ipv4Addr::new(198, 18, 12, 1);
const DIRECT_INFORM_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 77);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    /// A broadcast frame from 0.0.0.0:68 on the server's link (broadcast flag set).
    Direct,
    /// A relay agent at this address (UDP from it, port 67, giaddr = it, hops 1).
    Relay(Ipv4Addr),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Exchange {
    /// DISCOVER, then REQUEST (SELECTING) for the offered address if there was an OFFER.
    Dora,
    /// DHCPINFORM with this ciaddr.
    Inform(Ipv4Addr),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Kea answers (checked, so the case means something).
    Answer,
    /// Kea stays silent (checked).
    Silence,
}

struct Case {
    name: &'static str,
    /// Last two bytes of the MAC 02:57:52:00:xx:yy.
    mac: [u8; 2],
    via: Via,
    exchange: Exchange,
    /// Options after 53 (55 and, for relays, 82 are placed by the test).
    options: Vec<(u8, Vec<u8>)>,
    /// Option 82 sub-options, relayed cases only.
    relay_info: Option<Vec<u8>>,
    /// The transaction id of the first message (the REQUEST uses xid + 1).
    xid: u32,
    expect: Expect,
}

fn case(name: &'static str, mac: [u8; 2], via: Via, options: Vec<(u8, Vec<u8>)>) -> Case {
    Case {
        name,
        mac,
        via,
        exchange: Exchange::Dora,
        options,
        relay_info: None,
        xid: 0x0d00_0000 | (u32::from(mac[0]) << 16) | (u32::from(mac[1]) << 8),
        expect: Expect::Answer,
    }
}

fn text(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// The table. Order matters only for the shared network: the first two clients through
/// 198.18.4.1 fill subnet 10 (two addresses), later ones must move to subnet 11.
fn cases() -> Vec<Case> {
    use Via::*;
    let mut v = vec![
        case("plain direct client", [0x01, 0x01], Direct, vec![]),
        case(
            "PXE legacy (93 = 0x0000)",
            [0x01, 0x02],
            Direct,
            vec![(93, vec![0, 0])],
        ),
        case(
            "PXE EFI (93 = 0x0007)",
            [0x01, 0x03],
            Direct,
            vec![(93, vec![0, 7])],
        ),
        case(
            "93 as 4 bytes matches the integer literal 7",
            [0x01, 0x04],
            Direct,
            vec![(93, vec![0, 0, 0, 7])],
        ),
        case(
            "iPXE user class (77)",
            [0x01, 0x05],
            Direct,
            vec![(77, text("iPXE"))],
        ),
        case(
            "iPXE on EFI: member() chain, first class setting file wins",
            [0x01, 0x06],
            Direct,
            vec![(77, text("iPXE")), (93, vec![0, 7])],
        ),
        case(
            "client-id tail (61, substring negative start, all)",
            [0x01, 0x07],
            Direct,
            vec![(61, vec![1, 2, 0x57, 0x52, 0xc0, 0xff, 0xee])],
        ),
        case(
            "VENDOR_CLASS_acme-box, split(60), required pool class sets file",
            [0x01, 0x08],
            Direct,
            vec![(60, text("acme-box"))],
        ),
        case(
            "concat(12) == 'kiosk.lab'",
            [0x01, 0x09],
            Direct,
            vec![(12, text("kiosk"))],
        ),
        case(
            "12 + '!' == 'printer!'",
            [0x01, 0x0a],
            Direct,
            vec![(12, text("printer"))],
        ),
        case("hexstring(pkt4.mac)", [0xd0, 0x0d], Direct, vec![]),
        case(
            "option 124 vendor-class[4491].data",
            [0x01, 0x0b],
            Direct,
            vec![(124, {
                let mut b = vec![0, 0, 0x11, 0x8b, 10, 9];
                b.extend_from_slice(b"docsis3.0");
                b
            })],
        ),
        case(
            "option 124 without tuple lengths (Kea's reading): vendor-class[4491].data",
            [0x01, 0x16],
            Direct,
            vec![(124, {
                let mut b = vec![0, 0, 0x11, 0x8b, 9];
                b.extend_from_slice(b"docsis3.0");
                b
            })],
        ),
        case(
            "option 125 with ORO: class-driven vivso sub-options",
            [0x01, 0x0c],
            Direct,
            vec![(125, vec![0, 0, 0x11, 0x8b, 3, 1, 1, 2])],
        ),
        case(
            "option 125 sub-option 3 and vendor.enterprise",
            [0x01, 0x0d],
            Direct,
            vec![(125, {
                let mut b = vec![0, 0, 0x11, 0x8b, 7, 3, 5];
                b.extend_from_slice(b"turbo");
                b
            })],
        ),
        case(
            "PXEClient: class-driven option 43 sub-options",
            [0x01, 0x0e],
            Direct,
            vec![
                (60, text("PXEClient:Arch:00000:UNDI:002001")),
                (93, vec![0, 0]),
            ],
        ),
        case(
            "class valid-lifetime, client asks more than max",
            [0x01, 0x0f],
            Direct,
            vec![(60, text("short")), (51, 100_000u32.to_be_bytes().to_vec())],
        ),
        case(
            "class valid-lifetime, client asks less than min",
            [0x01, 0x10],
            Direct,
            vec![(60, text("short")), (51, 30u32.to_be_bytes().to_vec())],
        ),
        case(
            "not member('KNOWN') in pass 2",
            [0x01, 0x11],
            Direct,
            vec![(60, text("anon"))],
        ),
        case(
            "pool client-class restriction: member uses the lab pool",
            [0x01, 0x12],
            Direct,
            vec![(77, text("lab-only"))],
        ),
        case(
            "reservation (hw) with class gold: reservation > pool > class > global",
            [0xa0, 0x01],
            Direct,
            vec![],
        ),
        case(
            "reservation by client-id, hostname",
            [0xa0, 0x02],
            Direct,
            vec![(61, vec![1, 2, 0x57, 0x52, 0, 0xa0, 0x02])],
        ),
        case(
            "reservation classes in listed order (gold, pxe-legacy)",
            [0xa0, 0x03],
            Direct,
            vec![],
        ),
        Case {
            xid: 0x0ea0_0100,
            ..case(
                "reservation class and a pass-1 class both set an option",
                [0xa0, 0x01],
                Direct,
                vec![(77, text("iPXE")), (93, vec![0, 7])],
            )
        },
        Case {
            expect: Expect::Silence,
            ..case(
                "DROP class",
                [0x01, 0x13],
                Direct,
                vec![(60, text("drop-me"))],
            )
        },
        Case {
            exchange: Exchange::Inform(DIRECT_INFORM_ADDR),
            ..case(
                "direct INFORM: pkt4.ciaddr, boot file on INFORM ACK",
                [0x01, 0x14],
                Direct,
                vec![],
            )
        },
        Case {
            xid: 0x0000_bee5,
            ..case("pkt4.transid/siaddr/yiaddr", [0x01, 0x15], Direct, vec![])
        },
        // The shared network, through the relay 198.18.4.1: subnet 10 has two addresses.
        case(
            "shared network client 1 (subnet 10)",
            [0x02, 0x01],
            Relay(RELAY_NET),
            vec![],
        ),
        case(
            "shared network client 2 (subnet 10, now full)",
            [0x02, 0x02],
            Relay(RELAY_NET),
            vec![(93, vec![0, 7])],
        ),
        case(
            "shared network client 3 moves to subnet 11",
            [0x02, 0x03],
            Relay(RELAY_NET),
            vec![(60, text("acme-box"))],
        ),
        Case {
            relay_info: Some(vec![1, 6, b'p', b'o', b'r', b't', b'-', b'7']),
            ..case(
                "relay4[1] circuit-id class: lifetime, subnet 11 or 12",
                [0x02, 0x04],
                Relay(RELAY_NET),
                vec![],
            )
        },
        Case {
            relay_info: Some(vec![2, 5, b'r', b'i', b'd', b'-', b'9']),
            ..case(
                "relay4[2] and option[82].option[2] without circuit-id",
                [0x02, 0x05],
                Relay(RELAY_NET),
                vec![],
            )
        },
        case(
            "shared-network reservation with class gold (subnet 11)",
            [0xb0, 0x01],
            Relay(RELAY_NET),
            vec![],
        ),
        case(
            "addrtotext/uint16totext through the relay",
            [0x02, 0x06],
            Relay(RELAY_NET),
            vec![(93, vec![0, 7])],
        ),
        Case {
            exchange: Exchange::Inform(Ipv4Addr::new(198, 18, 5, 77)),
            ..case(
                "relayed INFORM in the shared network",
                [0x02, 0x07],
                Relay(RELAY_NET),
                vec![],
            )
        },
        case(
            "subnet client-class: EFI client through 198.18.8.1",
            [0x03, 0x01],
            Relay(RELAY_EFI),
            vec![(93, vec![0, 7])],
        ),
        Case {
            expect: Expect::Silence,
            ..case(
                "subnet client-class: other client through 198.18.8.1",
                [0x03, 0x02],
                Relay(RELAY_EFI),
                vec![(93, vec![0, 0])],
            )
        },
        Case {
            expect: Expect::Silence,
            ..case(
                "relay on no subnet",
                [0x03, 0x03],
                Relay(RELAY_UNKNOWN),
                vec![],
            )
        },
    ];
    for c in &mut v {
        if c.relay_info.is_some() {
            assert!(
                matches!(c.via, Via::Relay(_)),
                "{}: 82 only via a relay",
                c.name
            );
        }
    }
    v
}

/// Reply views of one server for the whole table: "<case> / <step>" → view, plus "silent"
/// entries for requests that got nothing.
fn session(kind: ServerKind) -> BTreeMap<String, String> {
    let dir = TestDir::new(&format!("differential-{}", kind.name()));
    let net = NetPair::new(&PairOptions {
        server_cidr: "198.18.0.1/24".into(),
        client_cidr: Some("198.18.0.2/24".into()),
        client_mac: Some("02:57:52:00:ff:fe".into()),
    });
    for a in [RELAY_NET, RELAY_EFI, RELAY_UNKNOWN, DIRECT_INFORM_ADDR] {
        net.client
            .ip(&["addr", "add", &format!("{a}/32"), "dev", &net.client_if]);
    }
    net.server
        .ip(&["route", "add", "198.18.0.0/15", "via", "198.18.0.2"]);
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(CONFIG, &net.server_if, dir.path()),
    );
    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "differential");
    let mut out = BTreeMap::new();
    for (n, c) in cases().iter().enumerate() {
        let key = format!("{n:02} {}", c.name);
        let first = match c.exchange {
            Exchange::Dora => 1,
            Exchange::Inform(_) => 8,
        };
        let step1 = exchange(&net, &capture, c, first, c.xid, None);
        let label = if first == 1 { "DISCOVER" } else { "INFORM" };
        let Some(reply) = step1 else {
            out.insert(format!("{key} / {label}"), "silent".to_string());
            continue;
        };
        out.insert(format!("{key} / {label}"), view(&reply));
        let d = Dhcp::parse(&reply.payload).unwrap();
        if c.exchange == Exchange::Dora && d.message_type() == Some(DHCPOFFER) {
            let offered = d.yiaddr();
            let sid = d.option(54).unwrap_or(&[]).to_vec();
            let r = exchange(&net, &capture, c, 3, c.xid + 1, Some((offered, sid)));
            out.insert(
                format!("{key} / REQUEST"),
                r.as_ref().map_or_else(|| "silent".to_string(), view),
            );
        }
    }
    capture.stop();
    server.assert_no_panic();
    out
}

/// Sends one message of `case` and waits (up to 1.5 s) for the server's reply with its xid.
fn exchange(
    net: &NetPair,
    capture: &Capture,
    c: &Case,
    message_type: u8,
    xid: u32,
    selecting: Option<(Ipv4Addr, Vec<u8>)>,
) -> Option<wren_tests::capture::UdpPacket> {
    let chaddr = [0x02, 0x57, 0x52, 0x00, c.mac[0], c.mac[1]];
    let mut f = DhcpFields::new(xid, chaddr, message_type);
    if let Some((addr, sid)) = &selecting {
        f.options.push((50, addr.octets().to_vec()));
        f.options.push((54, sid.clone()));
    }
    f.options.extend(c.options.iter().cloned());
    f.options.push((55, PRL.to_vec()));
    if let Exchange::Inform(ciaddr) = c.exchange {
        f.ciaddr = ciaddr;
    }
    match c.via {
        Via::Direct => {
            f.flags = 0x8000;
            if let Exchange::Inform(ciaddr) = c.exchange {
                send_udp(
                    &net.client,
                    SocketAddrV4::new(ciaddr, 68),
                    SocketAddrV4::new(net.server_ip, 67),
                    vec![build_dhcp(&f)],
                );
            } else {
                let frame = udp_frame(
                    chaddr,
                    Ipv4Addr::UNSPECIFIED,
                    Ipv4Addr::BROADCAST,
                    68,
                    67,
                    &build_dhcp(&f),
                );
                send_raw_frames(&net.client, &net.client_if, vec![frame]);
            }
        }
        Via::Relay(relay) => {
            f.giaddr = relay;
            f.hops = 1;
            if let Some(sub) = &c.relay_info {
                f.options.push((82, sub.clone()));
            }
            send_udp(
                &net.client,
                SocketAddrV4::new(relay, 67),
                SocketAddrV4::new(net.server_ip, 67),
                vec![build_dhcp(&f)],
            );
        }
    }
    let deadline = Instant::now() + Duration::from_millis(1500);
    loop {
        let found = capture.packets_so_far().into_iter().find(|p| {
            p.src_port == 67
                && p.src_ip == net.server_ip
                && Dhcp::parse(&p.payload).is_some_and(|d| d.op() == 2 && d.xid() == xid)
        });
        if found.is_some() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Everything the server decided in a reply, with a dynamic yiaddr replaced by its pool.
fn view(p: &wren_tests::capture::UdpPacket) -> String {
    let d = Dhcp::parse(&p.payload).unwrap();
    let yiaddr = d.yiaddr();
    let label = pool_label(yiaddr);
    // Accepted divergence (parity.rs, core/src/server/destination.rs): an IP broadcast goes to
    // Ethernet broadcast in wren, to the client's MAC in Kea.
    let mac = if p.dst_ip.is_broadcast() && (p.dst_mac == [0xff; 6] || p.dst_mac == d.chaddr()) {
        "client-or-broadcast".to_string()
    } else {
        mac_string(&p.dst_mac)
    };
    let dst = if p.dst_ip == yiaddr {
        label.clone()
    } else {
        p.dst_ip.to_string()
    };
    format!(
        "to {dst}:{} mac {mac}\n  {}",
        p.dst_port,
        d.server_view()
            .replace(&format!("yiaddr={yiaddr} "), &format!("yiaddr={label} "))
    )
}

/// Differences kept on purpose: (case name, step, why). For these the test asserts that
/// wren's reply differs from Kea's only as documented (README, "Where wren deliberately
/// differs from Kea 2.2").
const INTENTIONAL: &[(&str, &str, &str)] = &[];

#[test]
fn classified_replies_match_kea() {
    require_root();
    let kea = session(ServerKind::Kea);
    let table = cases();
    // The test is only meaningful if Kea answered (or ignored) each case as the table says.
    for (n, c) in table.iter().enumerate() {
        let first = if matches!(c.exchange, Exchange::Dora) {
            "DISCOVER"
        } else {
            "INFORM"
        };
        let key = format!("{n:02} {} / {first}", c.name);
        let got = kea.get(&key).map(String::as_str);
        match c.expect {
            Expect::Answer => assert!(
                got.is_some_and(|v| v != "silent"),
                "Kea did not answer {key:?} (the test is wrong): {got:?}"
            ),
            Expect::Silence => {
                assert_eq!(
                    got,
                    Some("silent"),
                    "Kea answered {key:?} (the test is wrong)"
                )
            }
        }
    }
    let actual = session(ServerKind::from_env());
    if let Some(path) = std::env::var_os("WREN_DIFF_DUMP") {
        let dump = |m: &BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| format!("{k}\n  {v}\n"))
                .collect::<String>()
        };
        let path = std::path::PathBuf::from(path);
        std::fs::write(path.join("kea.txt"), dump(&kea)).unwrap();
        std::fs::write(path.join("actual.txt"), dump(&actual)).unwrap();
    }
    let keys: std::collections::BTreeSet<_> = kea.keys().chain(actual.keys()).collect();
    let mut diffs = Vec::new();
    for k in keys {
        if actual.get(k) == kea.get(k) {
            continue;
        }
        if INTENTIONAL
            .iter()
            .any(|(name, step, _)| k.contains(name) && k.ends_with(step))
        {
            continue;
        }
        diffs.push(format!(
            "{k}:\n  server under test: {}\n  Kea:               {}",
            actual.get(k).map_or("<none>", String::as_str),
            kea.get(k).map_or("<none>", String::as_str)
        ));
    }
    assert!(
        diffs.is_empty(),
        "{} difference(s) from Kea 2.2:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
