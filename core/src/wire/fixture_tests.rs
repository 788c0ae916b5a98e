//! Tests against real packets: dhclient 4.4.3, udhcpc 1.35, dhcpcd 9.4.1 and perfdhcp 2.2
//! queries and kea-dhcp4 2.2.0's answers, captured into `core/tests/fixtures/*.hex` (see the
//! README there: one UDP payload per file, lowercase hex).
//!
//! The strongest check: for every query/answer pair, [`ReplyWriter`] given the query, Kea's
//! header decisions (ciaddr, yiaddr) and Kea's options staged in a scrambled order must
//! reproduce Kea's answer byte for byte — header copy rules, packing order (53 first,
//! ascending, END), no padding.

use core::net::Ipv4Addr;
use std::vec::Vec;

use super::frame::{build_udp_frame, parse_udp_frame, FrameSpec};
use super::message::{code, Message, MessageType, ReplyWriter, StagedOption};
use super::options::OptionIter;
use super::test_vectors::hex;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../tests/fixtures/", $name, ".hex")),
        )
    };
}

/// (file name, hex text).
type Fixture = (&'static str, &'static str);

const QUERIES: [Fixture; 15] = [
    fixture!("dhclient-discover"),
    fixture!("dhclient-request"),
    fixture!("dhclient-renew-request"),
    fixture!("dhclient-init-reboot-request"),
    fixture!("dhclient-release"),
    fixture!("udhcpc-discover"),
    fixture!("udhcpc-request"),
    fixture!("udhcpc-renew-request"),
    fixture!("udhcpc-release"),
    fixture!("dhcpcd-discover"),
    fixture!("dhcpcd-request"),
    fixture!("dhcpcd-renew-request"),
    fixture!("dhcpcd-release"),
    fixture!("dhcpcd-inform"),
    fixture!("perfdhcp-discover"),
];

/// (query, Kea's answer).
const PAIRS: [(Fixture, Fixture); 12] = [
    (
        fixture!("dhclient-discover"),
        fixture!("kea-offer-to-dhclient"),
    ),
    (
        fixture!("dhclient-request"),
        fixture!("kea-ack-to-dhclient"),
    ),
    (
        fixture!("dhclient-renew-request"),
        fixture!("kea-ack-renew-to-dhclient"),
    ),
    (
        fixture!("dhclient-init-reboot-request"),
        fixture!("kea-nak-init-reboot-to-dhclient"),
    ),
    (fixture!("udhcpc-discover"), fixture!("kea-offer-to-udhcpc")),
    (fixture!("udhcpc-request"), fixture!("kea-ack-to-udhcpc")),
    (
        fixture!("udhcpc-renew-request"),
        fixture!("kea-ack-renew-to-udhcpc"),
    ),
    (fixture!("dhcpcd-discover"), fixture!("kea-offer-to-dhcpcd")),
    (fixture!("dhcpcd-request"), fixture!("kea-ack-to-dhcpcd")),
    (
        fixture!("dhcpcd-renew-request"),
        fixture!("kea-ack-renew-to-dhcpcd"),
    ),
    (
        fixture!("dhcpcd-inform"),
        fixture!("kea-ack-inform-to-dhcpcd"),
    ),
    (
        fixture!("perfdhcp-discover"),
        fixture!("kea-offer-to-perfdhcp"),
    ),
];

fn bytes(text: &str) -> Vec<u8> {
    hex(&[text.trim()])
}

#[test]
fn every_fixture_parses() {
    let all = QUERIES.iter().chain(PAIRS.iter().map(|(_, a)| a));
    for (name, text) in all {
        let b = bytes(text);
        let mut scratch = [0u8; 1500];
        let m = Message::parse(&b, &mut scratch).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(m.message_type().is_some(), "{name}");
        assert_eq!(m.options().stop(), super::options::Stop::End, "{name}");
        assert_eq!(m.header().chaddr().len(), 6, "{name}");
    }
}

#[test]
fn query_contents() {
    let mut s = [0u8; 1500];
    let b = bytes(QUERIES[0].1);
    let m = Message::parse(&b, &mut s).unwrap();
    assert_eq!(m.message_type(), Some(MessageType::Discover));
    assert_eq!(m.hostname(), Some(&b"wren-dhclient"[..]));
    assert_eq!(m.header().chaddr(), &[0x02, 0x57, 0x52, 0, 0, 0x02]);
    assert_eq!(m.client_identifier(), None);

    let b = bytes(QUERIES[1].1);
    let m = Message::parse(&b, &mut s).unwrap();
    assert_eq!(m.message_type(), Some(MessageType::Request));
    assert_eq!(m.server_identifier(), Some(Ipv4Addr::new(198, 18, 0, 1)));
    assert_eq!(m.requested_address(), Some(Ipv4Addr::new(198, 18, 0, 100)));

    let b = bytes(QUERIES[3].1);
    let m = Message::parse(&b, &mut s).unwrap();
    assert_eq!(m.requested_address(), Some(Ipv4Addr::new(198, 18, 7, 7)));
    assert!(!m.has_server_identifier());

    let b = bytes(QUERIES[5].1);
    let m = Message::parse(&b, &mut s).unwrap();
    assert_eq!(m.max_message_size(), Some(576));
    assert_eq!(
        m.client_identifier(),
        Some(&[1, 0x02, 0x57, 0x52, 0, 0, 0x02][..])
    );
    assert_eq!(m.vendor_class_identifier(), Some(&b"udhcp 1.35.0"[..]));

    let b = bytes(QUERIES[9].1);
    let m = Message::parse(&b, &mut s).unwrap();
    assert_eq!(m.max_message_size(), Some(1472));
    assert_eq!(
        m.parameter_request_list(),
        Some(&[1, 3, 28, 33, 51, 58, 59][..])
    );
    assert!(m
        .vendor_class_identifier()
        .unwrap()
        .starts_with(b"dhcpcd-9.4.1"));

    let b = bytes(QUERIES[13].1);
    let m = Message::parse(&b, &mut s).unwrap();
    assert_eq!(m.message_type(), Some(MessageType::Inform));
    assert_eq!(m.header().ciaddr(), Ipv4Addr::new(198, 18, 0, 250));

    let b = bytes(QUERIES[14].1);
    let m = Message::parse(&b, &mut s).unwrap();
    assert_eq!(m.header().giaddr(), Ipv4Addr::new(198, 18, 0, 2));
    assert_eq!(m.header().hops(), 1);
}

/// Rebuild each Kea answer from its query and compare byte for byte.
#[test]
fn reply_writer_reproduces_kea() {
    for ((qname, qtext), (aname, atext)) in PAIRS {
        let query = bytes(qtext);
        let answer = bytes(atext);
        let mut s1 = [0u8; 1500];
        let q = Message::parse(&query, &mut s1).unwrap();
        let mut s2 = [0u8; 1500];
        let a = Message::parse(&answer, &mut s2).unwrap();

        let mut buf = [0x5au8; 1500];
        let mut w = ReplyWriter::new(&q, a.message_type().unwrap(), &mut buf).unwrap();
        {
            let mut h = w.header();
            h.set_ciaddr(a.header().ciaddr());
            h.set_yiaddr(a.header().yiaddr());
            h.set_siaddr(a.header().siaddr());
        }
        // Kea's options in reverse wire order, lowest priority on the mandatory ones to
        // show priority never reorders the bytes.
        let mut staged: Vec<StagedOption<'_>> = OptionIter::new(a.header().options())
            .filter(|o| o.code != code::MESSAGE_TYPE)
            .map(|o| StagedOption::new(o.code, o.data, o.code))
            .collect();
        staged.reverse();
        let summary = w.finish(&mut staged).unwrap();
        assert_eq!(summary.dropped, 0, "{qname} -> {aname}");
        assert_eq!(&buf[..summary.len], &answer[..], "{qname} -> {aname}");
    }
}

/// Frame each fixture as it travelled (README table), parse the frame back.
#[test]
fn frames_round_trip() {
    let server_mac = [0x02, 0x57, 0x52, 0, 0, 0x01];
    let client_mac = [0x02, 0x57, 0x52, 0, 0, 0x02];
    let all = QUERIES.iter().chain(PAIRS.iter().map(|(_, a)| a));
    for (name, text) in all {
        let payload = bytes(text);
        let mut scratch = [0u8; 1500];
        let m = Message::parse(&payload, &mut scratch).unwrap();
        let from_server = m.header().op() == 2;
        let spec = if from_server {
            FrameSpec {
                src_mac: server_mac,
                dst_mac: client_mac,
                src_ip: Ipv4Addr::new(198, 18, 0, 1),
                dst_ip: Ipv4Addr::new(198, 18, 0, 100),
                src_port: 67,
                dst_port: 68,
            }
        } else {
            FrameSpec {
                src_mac: client_mac,
                dst_mac: [0xff; 6],
                src_ip: m.header().ciaddr(),
                dst_ip: Ipv4Addr::BROADCAST,
                src_port: 68,
                dst_port: 67,
            }
        };
        let mut out = [0u8; 1514];
        let n = build_udp_frame(&spec, &payload, &mut out).unwrap();
        let d = parse_udp_frame(&out[..n]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.payload, &payload[..], "{name}");
        assert_eq!(
            (d.src_mac, d.dst_mac),
            (spec.src_mac, spec.dst_mac),
            "{name}"
        );
        assert_eq!((d.src_ip, d.dst_ip), (spec.src_ip, spec.dst_ip), "{name}");
        assert_eq!(
            (d.src_port, d.dst_port),
            (spec.src_port, spec.dst_port),
            "{name}"
        );
        // Any single-bit flip in the UDP part is caught by the checksum (or the length).
        let mut bad = out;
        bad[n - 2] ^= 0x01;
        assert!(parse_udp_frame(&bad[..n]).is_err(), "{name}");
    }
}
