#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! SIGKILL the server in the middle of a perfdhcp load, restart it, and check that every address
//! ACKed before the kill (seen on the wire by tcpdump on the client side) is in the reloaded
//! lease table: it is in the lease file with the same client, the restarted server never hands
//! it to another client, and a new client afterwards gets a different address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wren_tests::capture::{mac_string, Capture, Dhcp, DHCPACK};
use wren_tests::clients::{dhclient_lease, Perfdhcp, PerfdhcpOptions};
use wren_tests::leases;
use wren_tests::netns::NetPair;
use wren_tests::server::{render, Server, ServerKind, RELAY_CONFIG};
use wren_tests::{require_root, TestDir};

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn kill_during_load(kind: ServerKind) {
    require_root();
    let dir = TestDir::new(&format!("durability-{}", kind.name()));
    let net = NetPair::relay();
    let mut server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(RELAY_CONFIG, &net.server_if, dir.path()),
    );
    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "durability");
    // 600 clients: fewer than the ~760 pool addresses, so a new client still gets one afterwards.
    let opts = PerfdhcpOptions {
        rate: 80,
        clients: 600,
        max_exchanges: 600,
        period_secs: 9,
        ..Default::default()
    };
    let load = Perfdhcp::spawn(
        &net.client,
        &net.client_if,
        net.server_ip,
        &opts,
        dir.path(),
    );
    std::thread::sleep(Duration::from_millis(2500));
    server.kill_hard();
    let killed_at = now_us();
    std::thread::sleep(Duration::from_millis(300));
    server.restart(&net.server);
    let restarted_at = now_us();
    let report = load.finish(Duration::from_secs(40));
    let packets = capture.stop();

    // Who was ACKed what, before and after the kill.
    let mut before: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    let mut owners: BTreeMap<Ipv4Addr, BTreeSet<String>> = BTreeMap::new();
    let mut after = 0usize;
    for p in &packets {
        let Some(d) = Dhcp::parse(&p.payload) else {
            continue;
        };
        if d.message_type() != Some(DHCPACK) {
            continue;
        }
        let mac = mac_string(&d.chaddr());
        owners.entry(d.yiaddr()).or_default().insert(mac.clone());
        if p.time_us < killed_at {
            before.insert(d.yiaddr(), mac);
        } else if p.time_us > restarted_at {
            after += 1;
        }
    }
    assert!(
        before.len() >= 100,
        "only {} ACKs before the kill:\n{}",
        before.len(),
        report.output
    );
    assert!(
        after >= 50,
        "only {after} ACKs after the restart:\n{}\n{}",
        report.output,
        server.log()
    );

    // 1. Every address ACKed before the kill is in the lease file, still with its client.
    let table = leases::current(&leases::read_rows(&server.lease_file()).unwrap());
    let lost: Vec<_> = before
        .iter()
        .filter(|(a, m)| table.get(*a).map(|r| &r.hwaddr) != Some(*m))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} pre-kill leases lost or reassigned: {:?}",
        lost.len(),
        before.len(),
        &lost[..lost.len().min(10)]
    );
    // 2. The restarted server never handed an address to a second client.
    let doubled: Vec<_> = owners.iter().filter(|(_, m)| m.len() > 1).collect();
    assert!(
        doubled.is_empty(),
        "addresses ACKed to two clients: {doubled:?}"
    );
    // 3. A new real client gets an address nobody holds.
    net.flush_client();
    let lease = dhclient_lease(&net, dir.path());
    assert!(
        !owners.contains_key(&lease.address),
        "new client got {} which was ACKed to {:?}",
        lease.address,
        owners.get(&lease.address)
    );
    server.assert_no_panic();
}

#[test]
fn sigkill_under_load_loses_no_acked_lease() {
    kill_during_load(ServerKind::from_env());
}

#[test]
fn sigkill_under_load_kea_reference() {
    if ServerKind::from_env() != ServerKind::Kea {
        kill_during_load(ServerKind::Kea);
    }
}
