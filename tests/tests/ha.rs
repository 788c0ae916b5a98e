//! High availability end to end (issue 6, kea-ha.md): pairs of peers on one bridge, real
//! clients, bounded perfdhcp load, and Kea 2.2 as the reference and as a partner.

use std::time::Duration;
use wren_tests::capture::Capture;
use wren_tests::clients::{Client, ClientKind, ClientOptions, PerfdhcpOptions};
use wren_tests::ha::{
    http_messages, http_post, perfdhcp_broadcast, right_credentials, HaPeer, HaSpec, Lan, PeerKind,
};
use wren_tests::{require_root, TestDir};

/// Kea + Kea in load-balancing, the reference the wren tests are held to: the pair forms,
/// serves load and a real client, a restarted peer syncs by pages, and the peer traffic (kept
/// in `peers.pcap` with `WREN_KEEP=1`; core/tests/fixtures/ha/ came from it) has the shapes of
/// kea-ha.md §5.
#[test]
fn ha_kea_pair_reference() {
    require_root();
    let dir = TestDir::new("ha-kea-ref");
    let spec = HaSpec::pair("load-balancing");
    let mut lan = Lan::new();
    let s1 = HaPeer::start(
        &mut lan,
        &spec,
        PeerKind::Kea,
        "server1",
        dir.path(),
        &right_credentials,
    );
    let cap = Capture::start_filtered(
        &s1.member.ns,
        &s1.member.iface,
        dir.path(),
        "peers",
        "tcp port 8000",
    );
    let mut s2 = HaPeer::start(
        &mut lan,
        &spec,
        PeerKind::Kea,
        "server2",
        dir.path(),
        &right_credentials,
    );
    let limit = Duration::from_secs(30);
    s1.wait_state("load-balancing", limit);
    s2.wait_state("load-balancing", limit);

    let load = lan.attach("p", Some("198.18.0.50/24"), None);
    let report = perfdhcp_broadcast(
        &load,
        &PerfdhcpOptions {
            rate: 20,
            clients: 10,
            max_exchanges: 10,
            period_secs: 5,
            ..Default::default()
        },
        dir.path(),
    );
    eprintln!("perfdhcp: {} acks", report.ack_received);

    let c = lan.attach("c", None, None);
    let opts = ClientOptions {
        hostname: Some("ha-ref".into()),
        client_id_hex: Some("01aabbccddeeff".into()),
        ..Default::default()
    };
    let mut client = Client::start(ClientKind::Dhclient, &c.ns, &c.iface, dir.path(), &opts);
    let lease = client.wait_bound(Duration::from_secs(30));
    eprintln!("lease {lease:?}");
    client.release();

    let (code, body) = s1.command(r#"{ "command": "status-get", "service": [ "dhcp4" ] }"#);
    eprintln!("status-get {code} {body}");
    let (code, body) = http_post(
        &s1.member.ns,
        &s1.url(),
        Some(("peer1", "wrong")),
        r#"{ "command": "ha-heartbeat", "service": [ "dhcp4" ] }"#,
    );
    eprintln!("wrong password {code} {body}");
    let (code, body) = http_post(
        &s1.member.ns,
        &s1.url(),
        None,
        r#"{ "command": "ha-heartbeat", "service": [ "dhcp4" ] }"#,
    );
    eprintln!("no password {code} {body}");

    s2.kill();
    s1.wait_state("partner-down", limit);
    s2.restart();
    s2.wait_state("load-balancing", limit);
    s1.wait_state("load-balancing", limit);
    std::thread::sleep(Duration::from_secs(2));
    drop(cap);
    for m in http_messages(&dir.join("peers.pcap")) {
        eprintln!(
            "{} {:?}->{:?} {} | {:?}",
            m.time_us, m.src, m.dst, m.start_line, m.headers
        );
        eprintln!("   {}", m.body);
    }
}
