//! Whole exchanges through [`Engine::handle`] with real client packets captured against
//! Kea 2.2 (core/tests/fixtures, see its README), compared byte for byte with Kea's
//! replies where wren matches Kea, plus the decision-table rows that need a whole engine.

use core::net::Ipv4Addr;
use std::string::String;
use std::vec::Vec;

use crate::assign::address::{NakReason, SilenceReason};
use crate::assign::fixture::*;
use crate::assign::store::{ArrayLeaseStore, StoredLease};
use crate::config::IdentifierType;
use crate::lease::{LeaseRecord, LeaseState};
use crate::server::destination::BROADCAST_MAC;
use crate::server::engine::{DropReason, Engine, Event, Outcome};
use crate::server::{Interface, LeaseSink, MessageType, Query, Transport};
use crate::time::Timestamp;

fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

macro_rules! fixture {
    ($name:literal) => {
        hex(include_str!(concat!(
            "../../tests/fixtures/",
            $name,
            ".hex"
        )))
    };
}

/// An owned copy of a reported lease.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    address: Ipv4Addr,
    hwaddr: Vec<u8>,
    client_id: Vec<u8>,
    valid_lifetime: u32,
    cltt: u64,
    subnet_id: u32,
    hostname: String,
    state: LeaseState,
    user_context: String,
}

#[derive(Default)]
struct Sink(Vec<Seen>);

impl LeaseSink for Sink {
    fn lease_changed(&mut self, r: &LeaseRecord<'_>) {
        self.0.push(Seen {
            address: r.address,
            hwaddr: r.hwaddr.to_vec(),
            client_id: r.client_id.to_vec(),
            valid_lifetime: r.valid_lifetime,
            cltt: r.cltt.0,
            subnet_id: r.subnet_id,
            hostname: r.hostname.into(),
            state: r.state,
            user_context: r.user_context.into(),
        });
    }
}

const SERVER_MAC: [u8; 6] = [0x02, 0x57, 0x52, 0, 0, 1];
const CLIENT_MAC: [u8; 6] = [0x02, 0x57, 0x52, 0, 0, 2];
const SERVER_ADDRS: [Ipv4Addr; 1] = [Ipv4Addr::new(198, 18, 0, 1)];

/// The configuration of core/tests/fixtures/kea-fixtures.conf.in, by hand.
fn kea_fixture_config() -> Fixture {
    let mut f = Fixture::new();
    let mut p = DEFAULT_PARAMS;
    p.authoritative = true;
    p.lifetimes.valid = 600;
    p.lifetimes.min = 600;
    p.lifetimes.max = 600;
    p.renew_timer = Some(3);
    p.rebind_timer = Some(500);
    f.globals.params = p;
    let s = f.subnet(1, "198.18.0.0/24");
    f.pool(s, "198.18.0.100", "198.18.0.199");
    f.option(Level::Subnet(s), 3, &[198, 18, 0, 1], false);
    f.option(
        Level::Subnet(s),
        6,
        &[198, 18, 0, 53, 198, 18, 0, 54],
        false,
    );
    f.option(Level::Subnet(s), 15, b"wren.test", false);
    f.option(
        Level::Subnet(s),
        119,
        &[4, b'w', b'r', b'e', b'n', 4, b't', b'e', b's', b't', 0],
        false,
    );
    f
}

struct Rig {
    fixture: Fixture,
    slots: Vec<StoredLease>,
    cursors: Vec<Ipv4Addr>,
}

impl Rig {
    fn new(fixture: Fixture) -> Self {
        let n = fixture.subnets.len();
        Rig {
            fixture,
            slots: std::vec![StoredLease::EMPTY; 16],
            cursors: std::vec![Ipv4Addr::UNSPECIFIED; n],
        }
    }
}

fn broadcast_query(payload: &[u8]) -> Query<'_> {
    Query {
        payload,
        interface: Interface {
            name: "veth-srv",
            addresses: &SERVER_ADDRS,
            mac: SERVER_MAC,
        },
        source_ip: Ipv4Addr::UNSPECIFIED,
        source_port: 68,
        destination_ip: Ipv4Addr::BROADCAST,
        source_mac: CLIENT_MAC,
        transport: Transport::Raw,
    }
}

fn unicast_query(payload: &[u8], from: Ipv4Addr) -> Query<'_> {
    Query {
        source_ip: from,
        destination_ip: SERVER_ADDRS[0],
        ..broadcast_query(payload)
    }
}

/// Runs `queries` through one engine; returns each outcome with its reply bytes.
fn run(rig: &mut Rig, queries: &[(Query<'_>, u64)], sink: &mut Sink) -> Vec<(Outcome, Vec<u8>)> {
    let config = rig.fixture.config();
    let mut store = ArrayLeaseStore::new(&mut rig.slots);
    let mut engine = Engine::new(&config, &mut store, &mut rig.cursors);
    let mut out = Vec::new();
    for (q, now) in queries {
        let mut buf = [0u8; 1500];
        let o = engine.handle(q, Timestamp(*now), &mut buf, sink);
        let bytes = match o {
            Outcome::Reply { len, .. } => buf[..len].to_vec(),
            _ => Vec::new(),
        };
        out.push((o, bytes));
    }
    out
}

fn reply_of(o: &Outcome) -> (MessageType, crate::server::Destination, Event) {
    match o {
        Outcome::Reply {
            kind,
            destination,
            summary,
            ..
        } => (*kind, *destination, summary.event),
        other => panic!("expected a reply, got {other:?}"),
    }
}

/// Options of a reply as (code, payload) in wire order.
fn options(reply: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut v = Vec::new();
    let mut i = 240;
    while i < reply.len() {
        let c = reply[i];
        if c == 255 {
            break;
        }
        let l = reply[i + 1] as usize;
        v.push((c, reply[i + 2..i + 2 + l].to_vec()));
        i += 2 + l;
    }
    v
}

fn codes(reply: &[u8]) -> Vec<u8> {
    options(reply).iter().map(|(c, _)| *c).collect()
}

const T0: u64 = 1_800_000_000;

#[test]
fn dhclient_dora_renew_release_match_kea_byte_for_byte() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let discover = fixture!("dhclient-discover");
    let request = fixture!("dhclient-request");
    let renew = fixture!("dhclient-renew-request");
    let release = fixture!("dhclient-release");
    let leased = Ipv4Addr::new(198, 18, 0, 100);
    let r = run(
        &mut rig,
        &[
            (broadcast_query(&discover), T0),
            (broadcast_query(&request), T0 + 1),
            (unicast_query(&renew, leased), T0 + 4),
            (unicast_query(&release, leased), T0 + 10),
        ],
        &mut sink,
    );
    let (kind, dest, event) = reply_of(&r[0].0);
    assert_eq!((kind, event), (MessageType::Offer, Event::Offered));
    assert_eq!(r[0].1, fixture!("kea-offer-to-dhclient"));
    // Kea: 198.18.0.1:67 -> 198.18.0.100:68, to the client's MAC, as a frame.
    assert_eq!((dest.ip, dest.port, dest.mac), (leased, 68, CLIENT_MAC));
    assert_eq!(dest.source_ip, SERVER_ADDRS[0]);
    assert!(dest.raw_frame);

    let (kind, _, event) = reply_of(&r[1].0);
    assert_eq!((kind, event), (MessageType::Ack, Event::Allocated));
    assert_eq!(r[1].1, fixture!("kea-ack-to-dhclient"));

    let (kind, dest, event) = reply_of(&r[2].0);
    assert_eq!((kind, event), (MessageType::Ack, Event::Renewed));
    assert_eq!(r[2].1, fixture!("kea-ack-renew-to-dhclient"));
    assert_eq!((dest.ip, dest.port), (leased, 68));

    match r[3].0 {
        Outcome::Done(s) => assert_eq!((s.event, s.address), (Event::Released, Some(leased))),
        ref o => panic!("{o:?}"),
    }
    // DISCOVER stored nothing; REQUEST and renew stored; RELEASE removed (lifetime 0,
    // cltt of the renewal).
    let lifetimes: Vec<(u32, u64)> = sink.0.iter().map(|s| (s.valid_lifetime, s.cltt)).collect();
    assert_eq!(lifetimes, [(600, T0 + 1), (600, T0 + 4), (0, T0 + 4)]);
    assert_eq!(sink.0[0].hwaddr, CLIENT_MAC);
    assert_eq!(sink.0[0].hostname, "wren-dhclient");
    assert!(sink.0[0].client_id.is_empty());
    assert_eq!(sink.0[0].subnet_id, 1);
}

#[test]
fn udhcpc_and_dhcpcd_exchanges_match_kea() {
    for (discover, offer, request, ack, renew, renew_ack) in [
        (
            fixture!("udhcpc-discover"),
            fixture!("kea-offer-to-udhcpc"),
            fixture!("udhcpc-request"),
            fixture!("kea-ack-to-udhcpc"),
            fixture!("udhcpc-renew-request"),
            fixture!("kea-ack-renew-to-udhcpc"),
        ),
        (
            fixture!("dhcpcd-discover"),
            fixture!("kea-offer-to-dhcpcd"),
            fixture!("dhcpcd-request"),
            fixture!("kea-ack-to-dhcpcd"),
            fixture!("dhcpcd-renew-request"),
            fixture!("kea-ack-renew-to-dhcpcd"),
        ),
    ] {
        let mut rig = Rig::new(kea_fixture_config());
        let mut sink = Sink::default();
        let leased = Ipv4Addr::new(198, 18, 0, 100);
        let r = run(
            &mut rig,
            &[
                (broadcast_query(&discover), T0),
                (broadcast_query(&request), T0 + 1),
                (unicast_query(&renew, leased), T0 + 4),
            ],
            &mut sink,
        );
        assert_eq!(r[0].1, offer);
        assert_eq!(r[1].1, ack);
        assert_eq!(r[2].1, renew_ack);
        assert_eq!(sink.0.len(), 2);
    }
}

#[test]
fn udhcpc_lease_keeps_client_id_and_release_matches_it() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let leased = Ipv4Addr::new(198, 18, 0, 100);
    let (d, q, rel) = (
        fixture!("udhcpc-discover"),
        fixture!("udhcpc-request"),
        fixture!("udhcpc-release"),
    );
    let r = run(
        &mut rig,
        &[
            (broadcast_query(&d), T0),
            (broadcast_query(&q), T0),
            (unicast_query(&rel, leased), T0 + 5),
        ],
        &mut sink,
    );
    assert!(matches!(r[2].0, Outcome::Done(s) if s.event == Event::Released));
    assert_eq!(sink.0[0].client_id, [1, 2, 0x57, 0x52, 0, 0, 2]);
    assert_eq!(sink.0[1].valid_lifetime, 0);
}

#[test]
fn dhcpcd_inform_matches_kea_no_mask_no_lifetime() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let inform = fixture!("dhcpcd-inform");
    let r = run(&mut rig, &[(broadcast_query(&inform), T0)], &mut sink);
    let (kind, dest, event) = reply_of(&r[0].0);
    assert_eq!((kind, event), (MessageType::Ack, Event::Informed));
    assert_eq!(r[0].1, fixture!("kea-ack-inform-to-dhcpcd"));
    // INFORM with ciaddr → ciaddr:68.
    assert_eq!((dest.ip, dest.port), (Ipv4Addr::new(198, 18, 0, 250), 68));
    assert!(sink.0.is_empty());
}

#[test]
fn init_reboot_for_a_foreign_address_authoritative_naks_like_kea() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let q = fixture!("dhclient-init-reboot-request");
    let r = run(&mut rig, &[(broadcast_query(&q), T0)], &mut sink);
    let (kind, dest, event) = reply_of(&r[0].0);
    assert_eq!(
        (kind, event),
        (MessageType::Nak, Event::Nak(NakReason::NoLease))
    );
    assert_eq!(r[0].1, fixture!("kea-nak-init-reboot-to-dhclient"));
    // Kea: 255.255.255.255:68; wren uses the Ethernet broadcast (documented improvement).
    assert_eq!(
        (dest.ip, dest.port, dest.mac),
        (Ipv4Addr::BROADCAST, 68, BROADCAST_MAC)
    );
}

#[test]
fn init_reboot_not_authoritative_is_silent() {
    let mut f = kea_fixture_config();
    f.subnets[0].params.authoritative = false;
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    let q = fixture!("dhclient-init-reboot-request");
    let r = run(&mut rig, &[(broadcast_query(&q), T0)], &mut sink);
    assert_eq!(
        r[0].0,
        Outcome::Drop(DropReason::Silence(SilenceReason::UnknownClient))
    );
}

#[test]
fn perfdhcp_relayed_offer_matches_kea_and_goes_to_giaddr() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let q = fixture!("perfdhcp-discover");
    let query = Query {
        source_port: 67,
        source_mac: [2, 0, 0, 0, 0, 0xee],
        ..unicast_query(&q, Ipv4Addr::new(198, 18, 0, 2))
    };
    let r = run(&mut rig, &[(query, T0)], &mut sink);
    let (_, dest, _) = reply_of(&r[0].0);
    assert_eq!(r[0].1, fixture!("kea-offer-to-perfdhcp"));
    assert_eq!(
        (dest.ip, dest.port, dest.mac),
        (Ipv4Addr::new(198, 18, 0, 2), 67, [2, 0, 0, 0, 0, 0xee])
    );
    assert!(!dest.raw_frame);
}

/// A DHCP request built by hand: chaddr 02:57:52:00:00:02, `options` then END.
fn packet(ciaddr: [u8; 4], giaddr: [u8; 4], options: &[u8]) -> Vec<u8> {
    let mut p = std::vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&[0xab, 0xcd, 0, 1]);
    p[12..16].copy_from_slice(&ciaddr);
    p[24..28].copy_from_slice(&giaddr);
    p[28..34].copy_from_slice(&CLIENT_MAC);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(options);
    p.push(255);
    p
}

const RAI: &[u8] = &[82, 8, 1, 2, b'p', b'7', 2, 2, b'r', b'1'];

#[test]
fn relayed_exchange_echoes_82_last_and_nak_carries_only_53_54_61_82() {
    let mut f = kea_fixture_config();
    f.subnets[0].params.authoritative = false;
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    let giaddr = [198, 18, 0, 2];
    let mut d_opts = std::vec![53, 1, 1, 61, 3, 1, 0xaa, 0xbb, 55, 2, 3, 6];
    d_opts.extend_from_slice(RAI);
    let discover = packet([0; 4], giaddr, &d_opts);
    // SELECTING for an address leased to nobody but outside the pool → silence even
    // though relayed; for one leased to someone else → NAK.
    let mut out_of_pool =
        std::vec![53, 1, 3, 54, 4, 198, 18, 0, 1, 50, 4, 198, 18, 0, 20, 61, 3, 1, 0xaa, 0xbb];
    out_of_pool.extend_from_slice(RAI);
    let out_of_pool = packet([0; 4], giaddr, &out_of_pool);
    let relay = |p: &'static [u8]| Query {
        source_port: 67,
        ..unicast_query(p, Ipv4Addr::new(198, 18, 0, 2))
    };
    let discover: &'static [u8] = discover.leak();
    let out_of_pool: &'static [u8] = out_of_pool.leak();
    let r = run(
        &mut rig,
        &[(relay(discover), T0), (relay(out_of_pool), T0)],
        &mut sink,
    );
    let offer = &r[0].1;
    let c = codes(offer);
    assert_eq!(c.first(), Some(&53));
    assert_eq!(c.last(), Some(&82));
    assert_eq!(options(offer).last().unwrap().1, RAI[2..].to_vec());
    assert_eq!(
        r[1].0,
        Outcome::Drop(DropReason::Silence(SilenceReason::AddressNotInPool))
    );

    // Another client holds .150: a SELECTING request for it is NAKed via the relay.
    let mut rig = Rig::new(kea_fixture_config());
    let other = LeaseRecord {
        address: Ipv4Addr::new(198, 18, 0, 150),
        hwaddr: &[2, 0, 0, 0, 0, 9],
        client_id: &[],
        valid_lifetime: 600,
        cltt: Timestamp(T0),
        subnet_id: 1,
        fqdn_fwd: false,
        fqdn_rev: false,
        hostname: "",
        state: LeaseState::Default,
        user_context: "",
    };
    let config = rig.fixture.config();
    let mut store = ArrayLeaseStore::new(&mut rig.slots);
    crate::assign::LeaseStore::put(&mut store, &other).unwrap();
    let mut engine = Engine::new(&config, &mut store, &mut rig.cursors);
    let mut taken = std::vec![
        53, 1, 3, 54, 4, 198, 18, 0, 1, 50, 4, 198, 18, 0, 150, 61, 3, 1, 0xaa, 0xbb, 55, 2, 3, 6,
        12, 1, b'x'
    ];
    taken.extend_from_slice(RAI);
    let taken = packet([0; 4], giaddr, &taken);
    let mut buf = [0u8; 600];
    let o = engine.handle(&relay(taken.leak()), Timestamp(T0 + 1), &mut buf, &mut sink);
    let Outcome::Reply {
        len,
        destination,
        kind,
        summary,
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(kind, MessageType::Nak);
    assert_eq!(summary.event, Event::Nak(NakReason::LeasedToAnother));
    assert_eq!(codes(&buf[..len]), [53, 54, 61, 82]);
    // Relayed NAK: to giaddr:67, broadcast bit not set (Kea), yiaddr/ciaddr 0.
    assert_eq!(
        (destination.ip, destination.port),
        (Ipv4Addr::new(198, 18, 0, 2), 67)
    );
    assert_eq!(&buf[10..12], &[0, 0]);
    assert_eq!(&buf[12..20], &[0; 8]);
}

#[test]
fn relay_port_sub_option_19_sends_to_the_source_port() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let p = packet(
        [0; 4],
        [198, 18, 0, 2],
        &[53, 1, 1, 82, 4, 19, 2, 0x08, 0x13],
    );
    let q = Query {
        source_port: 2067,
        ..unicast_query(&p, Ipv4Addr::new(198, 18, 0, 2))
    };
    let r = run(&mut rig, &[(q, T0)], &mut sink);
    let (_, dest, _) = reply_of(&r[0].0);
    assert_eq!((dest.ip, dest.port), (Ipv4Addr::new(198, 18, 0, 2), 2067));
}

#[test]
fn moved_ports_send_relayed_and_direct_offers_to_the_client_port() {
    // tests/tests/cli.rs port_flags_match_kea: kea-dhcp4 -p 1067 -P 1068 answers the relayed
    // perfdhcp DISCOVER at giaddr:1068 and the direct dhclient one at 255.255.255.255:1068.
    let mut rig = Rig::new(kea_fixture_config());
    let config = rig.fixture.config();
    let mut store = ArrayLeaseStore::new(&mut rig.slots);
    let mut engine = Engine::new(&config, &mut store, &mut rig.cursors).with_ports(1067, 1068);
    assert_eq!(engine.ports(), (1067, 1068));
    let mut sink = Sink::default();
    let relayed = fixture!("perfdhcp-discover");
    let direct = fixture!("dhclient-discover");
    let from_relay = Query {
        source_port: 1067,
        ..unicast_query(&relayed, Ipv4Addr::new(198, 18, 0, 2))
    };
    let from_client = Query {
        source_port: 1068,
        ..broadcast_query(&direct)
    };
    let mut buf = [0u8; 1500];
    let o = engine.handle(&from_relay, Timestamp(T0), &mut buf, &mut sink);
    let (_, dest, _) = reply_of(&o);
    assert_eq!((dest.ip, dest.port), (Ipv4Addr::new(198, 18, 0, 2), 1068));
    let o = engine.handle(&from_client, Timestamp(T0), &mut buf, &mut sink);
    // (raw transport, no broadcast bit: unicast to yiaddr)
    let (_, dest, _) = reply_of(&o);
    assert_eq!((dest.ip, dest.port), (Ipv4Addr::new(198, 18, 0, 101), 1068));
    // Default ports: relay at 67, client at 68.
    let mut engine = engine.with_ports(67, 68);
    let o = engine.handle(&from_relay, Timestamp(T0), &mut buf, &mut sink);
    assert_eq!(reply_of(&o).1.port, 67);
    let o = engine.handle(&from_client, Timestamp(T0), &mut buf, &mut sink);
    assert_eq!(reply_of(&o).1.port, 68);
}

#[test]
fn request_matching_no_subnet_is_naked_to_ciaddr() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    // RENEWING from 198.19.0.5 (no subnet contains it).
    let p = packet([198, 19, 0, 5], [0; 4], &[53, 1, 3]);
    let r = run(
        &mut rig,
        &[(unicast_query(&p, Ipv4Addr::new(198, 19, 0, 5)), T0)],
        &mut sink,
    );
    let (kind, dest, event) = reply_of(&r[0].0);
    assert_eq!(
        (kind, event),
        (MessageType::Nak, Event::Nak(NakReason::NoSubnet))
    );
    assert_eq!((dest.ip, dest.port), (Ipv4Addr::new(198, 19, 0, 5), 68));
    assert_eq!(codes(&r[0].1), [53, 54]);
}

#[test]
fn acceptance_drops() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let with_54 = packet([0; 4], [0; 4], &[53, 1, 1, 54, 4, 198, 18, 0, 1]);
    let other_server = packet(
        [0; 4],
        [0; 4],
        &[53, 1, 3, 54, 4, 198, 18, 0, 9, 50, 4, 198, 18, 0, 100],
    );
    let bootp = packet([0; 4], [0; 4], &[]);
    let offer = packet([0; 4], [0; 4], &[53, 1, 2]);
    let mut no_id = packet([0; 4], [0; 4], &[53, 1, 1]);
    no_id[2] = 0;
    let short_id = packet([0; 4], [0; 4], &[53, 1, 1, 61, 1, 1]);
    let r = run(
        &mut rig,
        &[
            (broadcast_query(&with_54), T0),
            (broadcast_query(&other_server), T0),
            (broadcast_query(&bootp), T0),
            (broadcast_query(&offer), T0),
            (broadcast_query(&no_id), T0),
            (broadcast_query(&short_id), T0),
            (broadcast_query(&[1, 2, 3]), T0),
        ],
        &mut sink,
    );
    let got: Vec<Outcome> = r.into_iter().map(|(o, _)| o).collect();
    assert_eq!(
        got,
        [
            Outcome::Drop(DropReason::DiscoverWithServerId),
            Outcome::Drop(DropReason::NotForUs),
            Outcome::Drop(DropReason::BootpNotSupported),
            Outcome::Drop(DropReason::UnknownMessageType(2)),
            Outcome::Drop(DropReason::NoClientIdentity),
            Outcome::Drop(DropReason::BadClientId),
            Outcome::Drop(DropReason::ParseFailed(
                crate::server::accept::ParseError::TooShort
            )),
        ]
    );
}

#[test]
fn direct_broadcast_from_an_unknown_interface_is_dropped() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let d = fixture!("dhclient-discover");
    let addrs = [Ipv4Addr::new(198, 19, 5, 1)];
    let q = Query {
        interface: Interface {
            name: "other0",
            addresses: &addrs,
            mac: SERVER_MAC,
        },
        ..broadcast_query(&d)
    };
    let r = run(&mut rig, &[(q, T0)], &mut sink);
    assert_eq!(r[0].0, Outcome::Drop(DropReason::DirectBroadcastNoSubnet));
}

#[test]
fn decline_marks_the_address_and_it_is_skipped_afterwards() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let (d, q) = (fixture!("dhclient-discover"), fixture!("dhclient-request"));
    let decline = packet(
        [0; 4],
        [0; 4],
        &[53, 1, 4, 50, 4, 198, 18, 0, 100, 54, 4, 198, 18, 0, 1],
    );
    let stranger = {
        let mut p = packet([0; 4], [0; 4], &[53, 1, 4, 50, 4, 198, 18, 0, 100]);
        p[33] = 9;
        p
    };
    let r = run(
        &mut rig,
        &[
            (broadcast_query(&d), T0),
            (broadcast_query(&q), T0),
            (broadcast_query(&stranger), T0 + 1),
            (broadcast_query(&decline), T0 + 2),
            (broadcast_query(&d), T0 + 3),
        ],
        &mut sink,
    );
    assert!(matches!(r[2].0, Outcome::Done(s) if s.event == Event::DeclineIgnored));
    assert!(matches!(r[3].0, Outcome::Done(s) if s.event == Event::Declined));
    let declined = &sink.0[1];
    assert_eq!(declined.state, LeaseState::Declined);
    assert_eq!((declined.valid_lifetime, declined.cltt), (86400, T0 + 2));
    assert!(
        declined.hwaddr.is_empty() && declined.client_id.is_empty() && declined.hostname.is_empty()
    );
    // The client comes back: .100 is in probation, it gets .101.
    let Outcome::Reply { summary, .. } = r[4].0 else {
        panic!()
    };
    assert_eq!(summary.address, Some(Ipv4Addr::new(198, 18, 0, 101)));
}

#[test]
fn decline_without_50_is_dropped() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let p = packet([0; 4], [0; 4], &[53, 1, 4]);
    let r = run(&mut rig, &[(broadcast_query(&p), T0)], &mut sink);
    assert_eq!(r[0].0, Outcome::Drop(DropReason::DeclineWithoutAddress));
}

#[test]
fn moving_client_reports_old_removal_then_new_lease() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let (d, q) = (fixture!("dhclient-discover"), fixture!("dhclient-request"));
    // A SELECTING request for .150 after holding .100.
    let mv = packet(
        [0; 4],
        [0; 4],
        &[53, 1, 3, 54, 4, 198, 18, 0, 1, 50, 4, 198, 18, 0, 150],
    );
    let r = run(
        &mut rig,
        &[
            (broadcast_query(&d), T0),
            (broadcast_query(&q), T0),
            (broadcast_query(&mv), T0 + 9),
        ],
        &mut sink,
    );
    assert!(matches!(
        r[2].0,
        Outcome::Reply {
            kind: MessageType::Ack,
            ..
        }
    ));
    let seq: Vec<(Ipv4Addr, u32)> = sink
        .0
        .iter()
        .map(|s| (s.address, s.valid_lifetime))
        .collect();
    assert_eq!(
        seq,
        [
            (Ipv4Addr::new(198, 18, 0, 100), 600),
            (Ipv4Addr::new(198, 18, 0, 100), 0),
            (Ipv4Addr::new(198, 18, 0, 150), 600)
        ]
    );
}

#[test]
fn no_timers_by_default_and_inform_without_subnet_gets_53_54() {
    let mut f = kea_fixture_config();
    f.subnets[0].params.renew_timer = None;
    f.subnets[0].params.rebind_timer = None;
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    let d = fixture!("dhclient-discover");
    let inform = packet([198, 19, 0, 7], [0; 4], &[53, 1, 8, 55, 2, 3, 6]);
    let r = run(
        &mut rig,
        &[
            (broadcast_query(&d), T0),
            (unicast_query(&inform, Ipv4Addr::new(198, 19, 0, 7)), T0),
        ],
        &mut sink,
    );
    let c = codes(&r[0].1);
    assert!(!c.contains(&58) && !c.contains(&59));
    assert!(c.contains(&51) && c.contains(&1));
    assert_eq!(codes(&r[1].1), [53, 54]);
}

#[test]
fn reserved_mac_gets_its_address_hostname_and_options() {
    let mut f = kea_fixture_config();
    let r = f.reservation(
        Some(0),
        IdentifierType::HwAddress,
        &CLIENT_MAC,
        Some("198.18.0.10"),
        "printer",
    );
    f.option(Level::Reservation(r), 3, &[198, 18, 0, 254], false);
    f.option(Level::Global, 42, &[198, 18, 0, 123], true);
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    let (d, q) = (fixture!("dhcpcd-discover"), fixture!("dhcpcd-request"));
    let r = run(
        &mut rig,
        &[(broadcast_query(&d), T0), (broadcast_query(&q), T0)],
        &mut sink,
    );
    let Outcome::Reply { summary, .. } = r[0].0 else {
        panic!()
    };
    assert_eq!(summary.address, Some(Ipv4Addr::new(198, 18, 0, 10)));
    let o = options(&r[0].1);
    assert!(o.contains(&(12, b"printer".to_vec())));
    // Reservation option beats the subnet's; always-send global option 42 is present.
    assert!(o.contains(&(3, std::vec![198, 18, 0, 254])));
    assert!(o.contains(&(42, std::vec![198, 18, 0, 123])));
    // dhcpcd's request names .100 (from Kea's capture): the client has a free reservation
    // elsewhere → NAK (pushes it back to DISCOVER).
    let (kind, _, event) = reply_of(&r[1].0);
    assert_eq!(
        (kind, event),
        (
            MessageType::Nak,
            Event::Nak(NakReason::ClientHasOtherReservation)
        )
    );
}

#[test]
fn small_max_message_size_drops_optional_options_first() {
    let mut f = kea_fixture_config();
    f.option(Level::Subnet(0), 43, &[0x55; 250], false);
    f.option(Level::Subnet(0), 66, &[0x66; 200], false);
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    // PRL: 3, 6, 43, 66; no option 57 → 548-byte limit.
    let d = packet([0; 4], [0; 4], &[53, 1, 1, 55, 4, 3, 6, 43, 66]);
    let r = run(&mut rig, &[(broadcast_query(&d), T0)], &mut sink);
    let reply = &r[0].1;
    assert!(reply.len() <= 548);
    let c = codes(reply);
    assert!(c.contains(&43) && !c.contains(&66), "{c:?}");
    assert!(c.contains(&1) && c.contains(&3) && c.contains(&51) && c.contains(&54));
}

#[test]
fn option_precedence_pool_subnet_network_class_global() {
    let mut f = kea_fixture_config();
    // Codes 70–74 defined at several levels; the most specific wins.
    f.network("net", 0..1);
    let pool = 0;
    f.option(Level::Subnet(0), 70, b"subnet", false);
    f.option(Level::Subnet(0), 71, b"subnet", false);
    f.option(Level::Pool(pool), 70, b"pool", false);
    f.option(Level::Network(0), 71, b"network", false);
    f.option(Level::Network(0), 72, b"network", false);
    let vendor = f.class("VENDOR_CLASS_udhcp 1.35.0");
    f.option(Level::Class(vendor), 72, b"class", false);
    f.option(Level::Class(vendor), 73, b"class", false);
    let other = f.class("not-a-member");
    f.option(Level::Class(other), 74, b"other", false);
    f.option(Level::Global, 73, b"global", false);
    f.option(Level::Global, 74, b"global", false);
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    let mut d = fixture!("udhcpc-discover");
    // Append a PRL for 70–74 after udhcpc's own options (RFC 3396 concatenates 55).
    d.truncate(d.iter().rposition(|&b| b == 255).unwrap());
    d.extend_from_slice(&[55, 5, 70, 71, 72, 73, 74, 255]);
    let r = run(&mut rig, &[(broadcast_query(&d), T0)], &mut sink);
    let o = options(&r[0].1);
    let get = |c: u8| {
        o.iter()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get(70), b"pool");
    assert_eq!(get(71), b"subnet");
    assert_eq!(get(72), b"network");
    assert_eq!(get(73), b"class");
    assert_eq!(get(74), b"global");
}

#[test]
fn store_extended_info_keeps_option_82_in_the_user_context() {
    let mut f = kea_fixture_config();
    f.subnets[0].params.store_extended_info = true;
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    let mut opts = std::vec![53, 1, 3, 54, 4, 198, 18, 0, 1, 50, 4, 198, 18, 0, 120];
    opts.extend_from_slice(RAI);
    let p = packet([0; 4], [198, 18, 0, 2], &opts);
    let q = Query {
        source_port: 67,
        ..unicast_query(&p, Ipv4Addr::new(198, 18, 0, 2))
    };
    let r = run(&mut rig, &[(q, T0)], &mut sink);
    assert!(matches!(
        r[0].0,
        Outcome::Reply {
            kind: MessageType::Ack,
            ..
        }
    ));
    assert_eq!(
        sink.0[0].user_context,
        "{ \"ISC\": { \"relay-agent-info\": \"0x0102703702027231\" } }"
    );
}

/// Fuzz-style robustness: mutated real packets (bit flips, truncation, random option
/// bytes) through a whole engine. Nothing may panic, replies stay within the buffer and
/// the size limit, and every reply starts with a BOOTREPLY header and ends with END.
#[test]
fn mutated_packets_never_panic() {
    let seeds = [
        fixture!("dhclient-discover"),
        fixture!("dhclient-request"),
        fixture!("dhclient-renew-request"),
        fixture!("dhclient-release"),
        fixture!("udhcpc-request"),
        fixture!("dhcpcd-inform"),
        fixture!("perfdhcp-discover"),
        packet(
            [0; 4],
            [198, 18, 0, 2],
            &[
                53, 1, 3, 82, 12, 1, 3, b'p', b'1', b'7', 5, 4, 198, 18, 0, 0, 19, 0,
            ],
        ),
    ];
    let mut f = kea_fixture_config();
    f.reservation(
        Some(0),
        IdentifierType::HwAddress,
        &CLIENT_MAC,
        Some("198.18.0.10"),
        "host",
    );
    let config = f.config();
    let mut slots = std::vec![StoredLease::EMPTY; 64];
    let mut store = ArrayLeaseStore::new(&mut slots);
    let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
    let mut engine = Engine::new(&config, &mut store, &mut cursors);
    let mut sink = Sink::default();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut replies = 0;
    for round in 0..20_000u64 {
        let mut p = seeds[(next() % seeds.len() as u64) as usize].clone();
        match next() % 4 {
            0 => {
                for _ in 0..1 + next() % 8 {
                    let i = (next() as usize) % p.len();
                    p[i] ^= 1 << (next() % 8);
                }
            }
            1 => {
                let keep = 200 + (next() as usize) % (p.len() - 199);
                p.truncate(keep);
            }
            2 => {
                let start = 240 + (next() as usize) % (p.len() - 240);
                for b in p.iter_mut().skip(start).take(1 + (next() as usize) % 40) {
                    *b = next() as u8;
                }
            }
            _ => {
                // Random option 55/57 values to exercise the size limit.
                let end = p
                    .iter()
                    .skip(240)
                    .position(|&b| b == 255)
                    .map_or(p.len(), |e| e + 240);
                p.truncate(end);
                p.extend_from_slice(&[57, 2, (next() % 3) as u8, next() as u8, 55, 8]);
                for _ in 0..8 {
                    p.push(next() as u8);
                }
                p.push(255);
            }
        }
        let unicast = next() % 2 == 0;
        let q = if unicast {
            unicast_query(&p, Ipv4Addr::new(198, 18, 0, (next() % 256) as u8))
        } else {
            broadcast_query(&p)
        };
        let mut buf = [0u8; 700];
        let small = next() % 16 == 0;
        let out: &mut [u8] = if small { &mut buf[..260] } else { &mut buf };
        let o = engine.handle(&q, Timestamp(T0 + round), out, &mut sink);
        if let Outcome::Reply { len, .. } = o {
            replies += 1;
            let mut scratch = [0u8; 1500];
            let limit = match crate::server::accept::read(&p, &mut scratch) {
                Ok(Some(m)) => crate::server::reply::max_message_size(m.max_message_size()),
                _ => panic!("a reply to an unreadable query"),
            };
            assert!(len <= out.len() && len <= limit, "{len} > {limit}");
            assert_eq!(out[0], 2);
            assert_eq!(out[len - 1], 255);
            assert_eq!(&out[236..240], &[99, 130, 83, 99]);
        }
    }
    assert!(
        replies > 1000,
        "the mutations still let many packets through: {replies}"
    );
}

#[test]
fn reservation_in_class_drop_is_dropped() {
    let mut f = kea_fixture_config();
    let r = f.reservation(Some(0), IdentifierType::HwAddress, &CLIENT_MAC, None, "");
    let drop = f.text(b"DROP");
    f.names.push(drop);
    f.reservations[r].client_classes = crate::config::IndexRange { start: 0, len: 1 };
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    let d = fixture!("dhclient-discover");
    let r = run(&mut rig, &[(broadcast_query(&d), T0)], &mut sink);
    assert_eq!(r[0].0, Outcome::Drop(DropReason::DropClass));
}

/// A stand-in for the expression evaluator: class `pxe` matches option 60 `PXEClient…`,
/// class `known-pxe` is `member('pxe') and member('KNOWN')` (pass 2).
struct FakeTests;

impl crate::server::classes::ClassTests for FakeTests {
    fn test(
        &self,
        index: usize,
        query: &Query<'_>,
        member: &dyn crate::assign::subnet_select::Membership,
    ) -> bool {
        let mut scratch = [0u8; 1500];
        let q = crate::wire::message::Message::parse(query.payload, &mut scratch).unwrap();
        match index {
            0 => q.option(60).is_some_and(|v| v.starts_with(b"PXEClient")),
            1 => member.is_member(b"pxe") && member.is_member(b"KNOWN"),
            2 => member.is_member(b"pxe"),
            _ => false,
        }
    }

    fn depends_on_known(&self, index: usize) -> bool {
        index == 1
    }
}

#[test]
fn class_tests_feed_options_boot_fields_and_pass_two() {
    let mut f = kea_fixture_config();
    let pxe = f.class("pxe");
    f.classes[pxe].test = f.text(b"substring(option[60].hex,0,9) == 'PXEClient'");
    f.classes[pxe].boot_file_name = f.text(b"undionly.kpxe");
    f.option(Level::Class(pxe), 66, b"198.18.0.9", false);
    let known = f.class("known-pxe");
    f.classes[known].test = f.text(b"member('pxe') and member('KNOWN')");
    f.classes[known].server_hostname = f.text(b"tftp-known");
    let config = f.config();
    let mut slots = std::vec![StoredLease::EMPTY; 8];
    let mut store = ArrayLeaseStore::new(&mut slots);
    let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
    let mut bits = std::vec![0u64; crate::server::class_words(config.classes.len())];
    let mut engine =
        Engine::new(&config, &mut store, &mut cursors).with_class_tests(&FakeTests, &mut bits);
    let mut sink = Sink::default();
    let mut buf = [0u8; 700];
    let pxe_discover = packet(
        [0; 4],
        [0; 4],
        &[
            53, 1, 1, 55, 1, 66, 60, 9, b'P', b'X', b'E', b'C', b'l', b'i', b'e', b'n', b't',
        ],
    );
    let Outcome::Reply { len, .. } = engine.handle(
        &broadcast_query(&pxe_discover),
        Timestamp(T0),
        &mut buf,
        &mut sink,
    ) else {
        panic!()
    };
    let reply = &buf[..len];
    assert!(options(reply).contains(&(66, b"198.18.0.9".to_vec())));
    assert_eq!(&reply[108..121], b"undionly.kpxe");
    // Not KNOWN (no reservation): pass 2 leaves `known-pxe` out.
    assert_eq!(reply[44], 0);
    // A plain client is in neither class.
    let plain = packet([0; 4], [0; 4], &[53, 1, 1, 55, 1, 66]);
    let Outcome::Reply { len, .. } =
        engine.handle(&broadcast_query(&plain), Timestamp(T0), &mut buf, &mut sink)
    else {
        panic!()
    };
    assert!(!codes(&buf[..len]).contains(&66));
    assert_eq!(buf[108], 0);
}

#[test]
fn class_tests_pass_two_sees_known() {
    let mut f = kea_fixture_config();
    f.reservation(Some(0), IdentifierType::HwAddress, &CLIENT_MAC, None, "");
    let pxe = f.class("pxe");
    f.classes[pxe].test = f.text(b"x");
    let known = f.class("known-pxe");
    f.classes[known].test = f.text(b"y");
    f.classes[known].server_hostname = f.text(b"tftp-known");
    let config = f.config();
    let mut slots = std::vec![StoredLease::EMPTY; 8];
    let mut store = ArrayLeaseStore::new(&mut slots);
    let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
    let mut bits = std::vec![0u64; crate::server::class_words(config.classes.len())];
    let mut engine =
        Engine::new(&config, &mut store, &mut cursors).with_class_tests(&FakeTests, &mut bits);
    let mut sink = Sink::default();
    let mut buf = [0u8; 700];
    let p = packet(
        [0; 4],
        [0; 4],
        &[
            53, 1, 1, 60, 9, b'P', b'X', b'E', b'C', b'l', b'i', b'e', b'n', b't',
        ],
    );
    let Outcome::Reply { len, .. } =
        engine.handle(&broadcast_query(&p), Timestamp(T0), &mut buf, &mut sink)
    else {
        panic!()
    };
    assert_eq!(&buf[44..54], b"tftp-known");
    assert!(len > 240);
}

#[test]
fn reserved_hostname_is_sent_lowercased_even_unrequested() {
    let mut f = kea_fixture_config();
    f.reservation(
        Some(0),
        IdentifierType::HwAddress,
        &CLIENT_MAC,
        Some("198.18.0.10"),
        "Printer-1",
    );
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    // No option 12, no PRL.
    let d = packet([0; 4], [0; 4], &[53, 1, 1]);
    let q = packet(
        [0; 4],
        [0; 4],
        &[53, 1, 3, 54, 4, 198, 18, 0, 1, 50, 4, 198, 18, 0, 10],
    );
    let r = run(
        &mut rig,
        &[(broadcast_query(&d), T0), (broadcast_query(&q), T0)],
        &mut sink,
    );
    for (_, reply) in &r {
        assert!(options(reply).contains(&(12, b"printer-1".to_vec())));
    }
    assert_eq!(sink.0[0].hostname, "printer-1");
}

/// The Kea 2.2 session in testdata/kea-fqdn-session.txt replayed through the engine: every
/// reply byte-identical (FQDN with E=1/S=1 and lower-casing, ASCII FQDN, reserved hostname
/// sent although the client sent no 12).
#[test]
fn fqdn_and_reserved_hostname_session_matches_kea() {
    let mut f = Fixture::new();
    let mut p = DEFAULT_PARAMS;
    p.lifetimes = crate::config::Lifetimes {
        valid: 600,
        min: 600,
        max: 600,
    };
    f.globals.params = p;
    let s = f.subnet(1, "198.18.20.0/24");
    f.pool(s, "198.18.20.100", "198.18.20.199");
    f.reservation(
        Some(s),
        IdentifierType::HwAddress,
        &[2, 0x57, 0x52, 0, 0x20, 3],
        Some("198.18.20.30"),
        "Printer-1",
    );
    let config = f.config();
    let mut slots = std::vec![StoredLease::EMPTY; 8];
    let mut store = ArrayLeaseStore::new(&mut slots);
    let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
    let mut engine = Engine::new(&config, &mut store, &mut cursors);
    let mut sink = Sink::default();
    let server = [Ipv4Addr::new(198, 18, 20, 1)];
    let lines: Vec<(u16, Ipv4Addr, Ipv4Addr, Vec<u8>)> =
        include_str!("testdata/kea-fqdn-session.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let v: Vec<&str> = l.split(' ').collect();
                (
                    v[0].parse().unwrap(),
                    v[1].parse().unwrap(),
                    v[2].parse().unwrap(),
                    hex(v[3]),
                )
            })
            .collect();
    let mut pending: Option<Vec<u8>> = None;
    let mut compared = 0;
    for (sport, src, dst, payload) in &lines {
        if *sport == 68 {
            assert!(
                pending.is_none(),
                "Kea answered every query that expects an answer"
            );
            let q = Query {
                payload,
                interface: Interface {
                    name: "sfq-s",
                    addresses: &server,
                    mac: SERVER_MAC,
                },
                source_ip: *src,
                source_port: 68,
                destination_ip: *dst,
                source_mac: [2, 0x57, 0x52, 0, 0x20, payload[33]],
                transport: Transport::Raw,
            };
            let mut buf = [0u8; 700];
            match engine.handle(&q, Timestamp(T0), &mut buf, &mut sink) {
                Outcome::Reply { len, .. } => pending = Some(buf[..len].to_vec()),
                Outcome::Done(_) => {}
                o => panic!("{o:?}"),
            }
        } else {
            let ours = pending.take().expect("wren answered too");
            // Kea pads nothing; secs/xid are copied; compare everything.
            assert_eq!(ours, *payload, "reply {compared}");
            compared += 1;
        }
    }
    assert_eq!(compared, 6);
    let names: Vec<&str> = sink.0.iter().map(|s| s.hostname.as_str()).collect();
    assert_eq!(
        names,
        [
            "wren-fqdn.",
            "wren-fqdn.",
            "box.example.",
            "box.example.",
            "printer-1",
            "printer-1"
        ]
    );
}

#[test]
fn server_id_of_another_served_interface_is_ours() {
    let mut f = kea_fixture_config();
    f.option(Level::Global, 54, &[198, 18, 99, 1], false);
    let config = f.config();
    let mut slots = std::vec![StoredLease::EMPTY; 8];
    let mut store = ArrayLeaseStore::new(&mut slots);
    let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
    let all = [Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 50, 1)];
    let mut engine = Engine::new(&config, &mut store, &mut cursors).with_server_addresses(&all);
    let mut sink = Sink::default();
    let mut buf = [0u8; 600];
    let ask = |sid: [u8; 4]| {
        packet(
            [0; 4],
            [0; 4],
            &[
                53, 1, 3, 54, 4, sid[0], sid[1], sid[2], sid[3], 50, 4, 198, 18, 0, 100,
            ],
        )
    };
    for (sid, ours) in [
        ([198, 18, 50, 1], true),
        ([198, 18, 99, 1], true),
        ([198, 18, 77, 1], false),
    ] {
        let p = ask(sid);
        let o = engine.handle(&broadcast_query(&p), Timestamp(T0), &mut buf, &mut sink);
        assert_eq!(
            o != Outcome::Drop(DropReason::NotForUs),
            ours,
            "{sid:?}: {o:?}"
        );
    }
}

#[test]
fn direct_broadcast_with_unknown_118_is_dropped_even_for_a_request() {
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let d = packet([0; 4], [0; 4], &[53, 1, 1, 118, 4, 198, 19, 9, 0]);
    let q = packet(
        [0; 4],
        [0; 4],
        &[53, 1, 3, 50, 4, 198, 19, 9, 5, 118, 4, 198, 19, 9, 0],
    );
    let r = run(
        &mut rig,
        &[(broadcast_query(&d), T0), (broadcast_query(&q), T0)],
        &mut sink,
    );
    assert_eq!(r[0].0, Outcome::Drop(DropReason::DirectBroadcastNoSubnet));
    assert_eq!(r[1].0, Outcome::Drop(DropReason::DirectBroadcastNoSubnet));
}

#[test]
fn request_without_50_or_ciaddr_is_acked_anyway_reservation_first() {
    let mut f = kea_fixture_config();
    f.reservation(
        Some(0),
        IdentifierType::HwAddress,
        &CLIENT_MAC,
        Some("198.18.0.10"),
        "",
    );
    let mut rig = Rig::new(f);
    let mut sink = Sink::default();
    let broken = packet([0; 4], [0; 4], &[53, 1, 3]);
    let mut stranger = broken.clone();
    stranger[33] = 0x99;
    let r = run(
        &mut rig,
        &[
            (broadcast_query(&broken), T0),
            (broadcast_query(&stranger), T0),
        ],
        &mut sink,
    );
    let Outcome::Reply { kind, summary, .. } = r[0].0 else {
        panic!()
    };
    assert_eq!(
        (kind, summary.address),
        (MessageType::Ack, Some(Ipv4Addr::new(198, 18, 0, 10)))
    );
    let Outcome::Reply { kind, summary, .. } = r[1].0 else {
        panic!()
    };
    assert_eq!(
        (kind, summary.address),
        (MessageType::Ack, Some(Ipv4Addr::new(198, 18, 0, 100)))
    );
}

#[test]
fn empty_hostname_char_set_keeps_client_names() {
    let mut f = kea_fixture_config();
    let config = f.config();
    let mut slots = std::vec![StoredLease::EMPTY; 8];
    let mut store = ArrayLeaseStore::new(&mut slots);
    let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
    let set = crate::server::hostname_chars::CharSet::parse("").unwrap();
    let mut engine = Engine::new(&config, &mut store, &mut cursors).with_hostname_chars(set, b"");
    let mut sink = Sink::default();
    let mut buf = [0u8; 600];
    let mut opts = std::vec![53, 1, 3, 50, 4, 198, 18, 0, 100, 54, 4, 198, 18, 0, 1, 12, 14];
    opts.extend_from_slice(b"wren,parity&co");
    let p = packet([0; 4], [0; 4], &opts);
    let o = engine.handle(&broadcast_query(&p), Timestamp(T0), &mut buf, &mut sink);
    assert!(
        matches!(
            o,
            Outcome::Reply {
                kind: MessageType::Ack,
                ..
            }
        ),
        "{o:?}"
    );
    assert_eq!(sink.0[0].hostname, "wren,parity&co");
}

/// The hostname stored for a REQUEST carrying option 12 `sent`, with `f`'s config.
fn stored_hostname(f: &mut Fixture, sent: &[u8]) -> String {
    let config = f.config();
    let mut slots = std::vec![StoredLease::EMPTY; 8];
    let mut store = ArrayLeaseStore::new(&mut slots);
    let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
    let mut engine = Engine::new(&config, &mut store, &mut cursors);
    let mut sink = Sink::default();
    let mut buf = [0u8; 600];
    let mut opts = std::vec![53, 1, 3, 50, 4, 198, 18, 0, 100, 54, 4, 198, 18, 0, 1, 12];
    opts.push(sent.len() as u8);
    opts.extend_from_slice(sent);
    let p = packet([0; 4], [0; 4], &opts);
    let o = engine.handle(&broadcast_query(&p), Timestamp(T0), &mut buf, &mut sink);
    assert!(matches!(o, Outcome::Reply { .. }), "{o:?}");
    sink.0[0].hostname.clone()
}

#[test]
fn hostname_char_set_and_replacement_come_from_the_subnet_params() {
    // Kea default: `,` and `&` removed.
    assert_eq!(
        stored_hostname(&mut kea_fixture_config(), b"wren,parity&co"),
        "wrenparityco"
    );
    // Global `"hostname-char-set": ""` (resolved into every subnet): kept.
    let mut f = kea_fixture_config();
    let empty = f.text(b"");
    f.subnets[0].params.hostname_char_set = Some(empty);
    assert_eq!(stored_hostname(&mut f, b"wren,parity&co"), "wren,parity&co");
    // A replacement alone keeps Kea's default set.
    let mut f = kea_fixture_config();
    let dash = f.text(b"-");
    f.subnets[0].params.hostname_char_replacement = Some(dash);
    assert_eq!(stored_hostname(&mut f, b"wren,parity&co"), "wren-parity-co");
    // Both, subnet level.
    let mut f = kea_fixture_config();
    let set = f.text(b"[,]");
    let x = f.text(b"x");
    f.subnets[0].params.hostname_char_set = Some(set);
    f.subnets[0].params.hostname_char_replacement = Some(x);
    assert_eq!(stored_hostname(&mut f, b"wren,parity&co"), "wrenxparity&co");
}

#[test]
fn required_classes_are_evaluated_for_address_bearing_replies() {
    let mut f = kea_fixture_config();
    let pxe = f.class("pxe");
    f.classes[pxe].test = f.text(b"pxe test");
    let known = f.class("known-pxe");
    f.classes[known].test = f.text(b"known test");
    let host = f.class("pxe-host");
    f.classes[host].test = f.text(b"member('pxe')");
    f.classes[host].only_if_required = true;
    f.option(Level::Class(host), 67, b"pxelinux.0", false);
    let name = f.text(b"pxe-host");
    f.names.push(name);
    f.subnets[0].require_client_classes = crate::config::IndexRange { start: 0, len: 1 };
    let config = f.config();
    let mut slots = std::vec![StoredLease::EMPTY; 8];
    let mut store = ArrayLeaseStore::new(&mut slots);
    let mut cursors = [Ipv4Addr::UNSPECIFIED; 1];
    let mut bits = std::vec![0u64; crate::server::class_words(config.classes.len())];
    let mut engine =
        Engine::new(&config, &mut store, &mut cursors).with_class_tests(&FakeTests, &mut bits);
    let mut sink = Sink::default();
    let mut buf = [0u8; 700];
    let pxe = packet(
        [0; 4],
        [0; 4],
        &[
            53, 1, 1, 55, 1, 67, 60, 9, b'P', b'X', b'E', b'C', b'l', b'i', b'e', b'n', b't',
        ],
    );
    let Outcome::Reply { len, .. } =
        engine.handle(&broadcast_query(&pxe), Timestamp(T0), &mut buf, &mut sink)
    else {
        panic!()
    };
    assert!(options(&buf[..len]).contains(&(67, b"pxelinux.0".to_vec())));
    let plain = packet([0; 4], [0; 4], &[53, 1, 1, 55, 1, 67]);
    let Outcome::Reply { len, .. } =
        engine.handle(&broadcast_query(&plain), Timestamp(T0), &mut buf, &mut sink)
    else {
        panic!()
    };
    assert!(!codes(&buf[..len]).contains(&67));
}

fn summary_of(o: &Outcome) -> crate::server::Summary {
    match o {
        Outcome::Reply { summary, .. } | Outcome::Done(summary) => *summary,
        other => panic!("expected a summary, got {other:?}"),
    }
}

#[test]
fn summaries_say_which_lease_was_replaced_or_moved_from() {
    use crate::server::PriorLease;
    let mut rig = Rig::new(kea_fixture_config());
    let mut sink = Sink::default();
    let select = |addr: u8| {
        packet(
            [0; 4],
            [0; 4],
            &[53, 1, 3, 54, 4, 198, 18, 0, 1, 50, 4, 198, 18, 0, addr],
        )
    };
    let mut other = select(102);
    other[28..34].copy_from_slice(&[2, 0x57, 0x52, 0, 0, 0x99]);
    let (a100, a101, a102) = (select(100), select(101), select(102));
    let release = packet([198, 18, 0, 102], [0; 4], &[53, 1, 7]);
    let prior = |n: u8, expired: bool| PriorLease {
        address: Ipv4Addr::new(198, 18, 0, n),
        subnet_id: 1,
        state: LeaseState::Default,
        expired,
    };
    let r = run(
        &mut rig,
        &[
            (broadcast_query(&a100), T0),
            (broadcast_query(&a101), T0 + 10),
            (broadcast_query(&a101), T0 + 20),
            (broadcast_query(&other), T0 + 30),
            // The other client's 600 s lease on .102 has expired: reused.
            (broadcast_query(&a102), T0 + 700),
            (
                unicast_query(&release, Ipv4Addr::new(198, 18, 0, 102)),
                T0 + 710,
            ),
        ],
        &mut sink,
    );
    let s: Vec<_> = r.iter().map(|(o, _)| summary_of(o)).collect();
    assert_eq!(
        (s[0].event, s[0].replaced, s[0].moved_from),
        (Event::Allocated, None, None)
    );
    assert_eq!(
        (s[1].event, s[1].replaced, s[1].moved_from),
        (Event::Allocated, None, Some(prior(100, false)))
    );
    assert_eq!(
        (s[2].event, s[2].replaced, s[2].moved_from),
        (Event::Renewed, Some(prior(101, false)), None)
    );
    assert_eq!((s[3].event, s[3].replaced), (Event::Allocated, None));
    assert_eq!(
        (s[4].event, s[4].replaced, s[4].moved_from),
        // (the client's own .101 lease had expired too, at T0 + 620)
        (
            Event::Allocated,
            Some(prior(102, true)),
            Some(prior(101, true))
        )
    );
    assert_eq!(
        (s[5].event, s[5].replaced),
        (Event::Released, Some(prior(102, false)))
    );
}

#[test]
fn overloaded_file_is_read_only_when_asked() {
    // A DISCOVER whose host name sits in `file` (option 52 = 1).
    let mut p = packet([0; 4], [0; 4], &[53, 1, 1, 52, 1, 1]);
    p[108..114].copy_from_slice(&[12, 3, b'b', b'o', b'x', 255]);
    let mut rig = Rig::new(kea_fixture_config());
    let config = rig.fixture.config();
    let mut store = ArrayLeaseStore::new(&mut rig.slots);
    let mut sink = Sink::default();
    let mut buf = [0u8; 1500];
    let mut engine = Engine::new(&config, &mut store, &mut rig.cursors);
    let Outcome::Reply { len, .. } =
        engine.handle(&broadcast_query(&p), Timestamp(T0), &mut buf, &mut sink)
    else {
        panic!()
    };
    assert!(
        !codes(&buf[..len]).contains(&12),
        "Kea 2.2 ignores overload"
    );
    let mut engine = engine.with_overload_parsing(true);
    let Outcome::Reply { len, .. } =
        engine.handle(&broadcast_query(&p), Timestamp(T0), &mut buf, &mut sink)
    else {
        panic!()
    };
    assert!(codes(&buf[..len]).contains(&12));
}

/// kea-ha.md §3: Kea's HA hook puts the packet in `HA_<scope owner>` before
/// classification; a pool restricted to `HA_server1` serves only packets the hook put there
/// (the load-balancing split of the address space Kea's manual recommends).
#[test]
fn hook_class_opens_the_pool_of_its_ha_scope() {
    let mut f = kea_fixture_config();
    let class = f.text(b"HA_server1");
    f.pools[0].client_class = class;
    let mut rig = Rig::new(f);
    let discover = packet([0; 4], [0; 4], &[53, 1, 1]);
    let query = broadcast_query(&discover);
    let mut sink = Sink::default();
    for (hook, offered) in [
        (&b""[..], false),
        (b"HA_server2", false),
        (b"HA_server1", true),
    ] {
        let config = rig.fixture.config();
        let mut store = ArrayLeaseStore::new(&mut rig.slots);
        let mut engine = Engine::new(&config, &mut store, &mut rig.cursors).with_hook_class(hook);
        let mut buf = [0u8; 1500];
        let o = engine.handle(&query, Timestamp(T0), &mut buf, &mut sink);
        assert_eq!(
            matches!(
                o,
                Outcome::Reply {
                    kind: MessageType::Offer,
                    ..
                }
            ),
            offered,
            "hook class {:?}: {o:?}",
            core::str::from_utf8(hook)
        );
    }
}
