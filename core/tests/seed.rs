//! The founding user's configuration (198.18 version, core/tests/fixtures/seed-198.conf)
//! through the parser and the engine: reserved clients get their address, hostname and boot
//! fields; others get pool addresses with the seed's options and lifetimes.

// Test code: a failed index or unwrap is a failed test.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use wren_core::lease::LeaseRecord;
use wren_core::server::{Engine, Event, Interface, LeaseSink, MessageType, Outcome, Transport};
use wren_core::time::Timestamp;

mod common;

const SEED: &str = include_str!("fixtures/seed-198.conf");

#[derive(Default)]
struct Sink(Vec<(Ipv4Addr, u32, String)>);

impl LeaseSink for Sink {
    fn lease_changed(&mut self, r: &LeaseRecord<'_>) {
        self.0
            .push((r.address, r.valid_lifetime, r.hostname.into()));
    }
}

fn packet(mac: [u8; 6], options: &[u8]) -> Vec<u8> {
    common::client_packet(0x5eed_0001, mac, options)
}

struct Exchange {
    offer: Vec<u8>,
    ack: Vec<u8>,
    offered: Ipv4Addr,
    destination_ip: Ipv4Addr,
    sink: Sink,
}

/// DISCOVER then SELECTING REQUEST from `mac` (with extra `options`), through a UDP socket
/// on `ue0` (the seed's `dhcp-socket-type: udp`, interface `ue0`).
fn dora(mac: [u8; 6], extra: &[u8]) -> Exchange {
    let mut store = common::ConfigStore::for_text(SEED);
    let config = store.parse(SEED);
    let mut leases = common::LeaseStore::new(64, config.pools);
    let mut table = leases.table(config.pools);
    let mut cursors = vec![Ipv4Addr::UNSPECIFIED; config.subnets.len()];
    let mut engine = Engine::new(&config, &mut table, &mut cursors);
    let server = [Ipv4Addr::new(198, 18, 0, 2)];
    let mut sink = Sink::default();
    let mut discover = vec![53, 1, 1, 55, 5, 1, 3, 6, 12, 15];
    discover.extend_from_slice(extra);
    let discover = packet(mac, &discover);
    let ue0 = Interface {
        name: "ue0",
        addresses: &server,
        mac: [2, 0, 0, 0, 0, 2],
    };
    let q = |payload| common::broadcast_query(payload, ue0, [0; 6], Transport::Udp);
    let mut buf = [0u8; 1500];
    let now = Timestamp(1_800_000_000);
    let o = engine.handle(&q(&discover), now, &mut buf, &mut sink);
    let Outcome::Reply {
        len,
        destination,
        kind: MessageType::Offer,
        summary,
    } = o
    else {
        panic!("no offer: {o:?}")
    };
    let offer = buf[..len].to_vec();
    let offered = summary.address.unwrap();
    let mut request = vec![53, 1, 3, 54, 4, 198, 18, 0, 2, 50, 4];
    request.extend_from_slice(&offered.octets());
    request.extend_from_slice(&[55, 5, 1, 3, 6, 12, 15]);
    request.extend_from_slice(extra);
    let request = packet(mac, &request);
    let o = engine.handle(&q(&request), now, &mut buf, &mut sink);
    let Outcome::Reply {
        len,
        kind: MessageType::Ack,
        summary,
        ..
    } = o
    else {
        panic!("no ack: {o:?}")
    };
    assert_eq!(summary.event, Event::Allocated);
    Exchange {
        offer,
        ack: buf[..len].to_vec(),
        offered,
        destination_ip: destination.ip,
        sink,
    }
}

#[test]
fn reserved_mac_gets_its_address_and_hostname() {
    let x = dora([0x80, 0x2a, 0xa8, 0x93, 0xbe, 0xb8], &[]);
    assert_eq!(x.offered, Ipv4Addr::new(198, 18, 0, 29));
    for reply in [&x.offer, &x.ack] {
        let o = common::reply_options(reply);
        assert!(o.contains(&(12, b"ubnt-ap1".to_vec())), "{o:?}");
        assert!(o.contains(&(1, vec![255, 255, 255, 0])));
        assert!(o.contains(&(3, vec![198, 18, 0, 1])));
        assert!(o.contains(&(15, b"home.michaelc.dev".to_vec())));
        assert!(o.contains(&(
            6,
            vec![198, 18, 0, 2, 198, 18, 0, 3, 198, 18, 0, 8, 198, 18, 0, 9]
        )));
        // valid-lifetime 172800; calculate-tee-times false and no timers: no 58/59.
        assert!(o.contains(&(51, 172_800u32.to_be_bytes().to_vec())));
        assert!(!o.iter().any(|(c, _)| *c == 58 || *c == 59));
        // 119 and 42 are configured but not requested.
        assert!(!o.iter().any(|(c, _)| *c == 119 || *c == 42));
    }
    // UDP socket: the OFFER cannot be unicast to an address the client lacks.
    assert_eq!(x.destination_ip, Ipv4Addr::BROADCAST);
    assert_eq!(
        x.sink.0,
        [(
            Ipv4Addr::new(198, 18, 0, 29),
            172_800,
            "ubnt-ap1".to_string()
        )]
    );
}

#[test]
fn client_id_reservation_sets_the_boot_fields() {
    // The SGI Indigo2 sends its MAC as a 6-byte client-id.
    let x = dora(
        [8, 0, 0x69, 7, 0xdc, 0xe8],
        &[61, 6, 8, 0, 0x69, 7, 0xdc, 0xe8],
    );
    assert_eq!(x.offered, Ipv4Addr::new(198, 18, 0, 205));
    assert_eq!(&x.ack[44..51], b"indigo2");
    assert_eq!(x.ack[51], 0);
    let file = b"/data/irix/i/22/disc1/stand/fx.ARCS";
    assert_eq!(&x.ack[108..108 + file.len()], file);
}

#[test]
fn unknown_client_gets_the_first_pool_address_and_the_subnet_lifetime() {
    // Asks for 10 s. The subnet declares only `valid-lifetime`, so its min and max are that
    // same value (kea-config.md: min/max default to "`valid-lifetime` of the same level");
    // the global 300/216000 bounds do not apply.
    let x = dora([2, 0, 0, 0, 0, 0x77], &[51, 4, 0, 0, 0, 10]);
    assert_eq!(x.offered, Ipv4Addr::new(198, 18, 0, 20));
    let o = common::reply_options(&x.ack);
    assert!(o.contains(&(51, 172_800u32.to_be_bytes().to_vec())));
    assert!(!o.iter().any(|(c, _)| *c == 12));
}
