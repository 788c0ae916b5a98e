#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! Drop-in parity on the wire: the same client, config and MAC against Kea 2.2 and against the
//! server under test; every reply the server decides (OFFER, ACK, renewal ACK, INIT-REBOOT NAK,
//! INFORM ACK) must match Kea's byte for byte apart from xid and secs, and go to the same
//! IP address, port and MAC.

use std::collections::BTreeMap;
use std::time::Duration;
use wren_tests::capture::{mac_string, Capture, Dhcp, DHCPACK, DHCPNAK, DHCPOFFER};
use wren_tests::clients::{Client, ClientKind, ClientOptions};
use wren_tests::netns::{NetPair, PairOptions};
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_root, TestDir};

const CLIENT_MAC: &str = "02:57:52:00:00:02";

/// A lease on a network foreign to the server's: dhclient starts in INIT-REBOOT with it.
const FOREIGN_LEASE: &str = "lease {\n  interface \"@IFACE@\";\n  fixed-address 198.18.7.7;\n  \
    option subnet-mask 255.255.255.0;\n  option dhcp-lease-time 600;\n  \
    option dhcp-server-identifier 198.18.7.1;\n  renew 4 2037/01/01 00:00:00;\n  \
    rebind 4 2037/01/01 00:00:00;\n  expire 4 2037/01/01 00:00:00;\n}\n";

/// The first reply of each kind the server sent during one client session.
fn session(kind: ServerKind, client: ClientKind) -> BTreeMap<&'static str, String> {
    let dir = TestDir::new(&format!("parity-{}-{}", client.name(), kind.name()));
    let net = NetPair::new(&PairOptions {
        client_mac: Some(CLIENT_MAC.into()),
        ..Default::default()
    });
    let server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(BASIC_CONFIG, &net.server_if, dir.path()),
    );
    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "parity");
    let mut opts = ClientOptions {
        hostname: Some("wren-parity".into()),
        ..Default::default()
    };
    if client == ClientKind::Dhclient {
        opts.dhclient_leases = Some(FOREIGN_LEASE.into());
        opts.dhclient_reboot_secs = Some(4);
    }
    let mut c = Client::start(client, &net.client, &net.client_if, dir.path(), &opts);
    c.wait_bound(Duration::from_secs(30));
    c.renew(Duration::from_secs(20));
    c.release();
    if client == ClientKind::Dhcpcd {
        net.flush_client();
        net.client
            .ip(&["addr", "add", "198.18.0.250/24", "dev", &net.client_if]);
        let inform = ClientOptions {
            dhcpcd_inform: Some("198.18.0.250/24".into()),
            ..Default::default()
        };
        let i = Client::start(client, &net.client, &net.client_if, dir.path(), &inform);
        i.wait_event(0, &["INFORM"], Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let packets = capture.stop();
    server.assert_no_panic();
    let mut replies = BTreeMap::new();
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
        let view = format!(
            "to {}:{} mac {}\n  {}",
            p.dst_ip,
            p.dst_port,
            mac_string(&p.dst_mac),
            d.server_view()
        );
        replies.entry(what).or_insert(view);
    }
    replies
}

fn parity(client: ClientKind) {
    require_root();
    let expected = session(ServerKind::Kea, client);
    let actual = session(ServerKind::from_env(), client);
    let mut want = vec!["ACK", "OFFER", "RENEW-ACK"];
    match client {
        ClientKind::Dhclient => want.push("NAK"),
        ClientKind::Dhcpcd => want.push("INFORM-ACK"),
        ClientKind::Udhcpc => {}
    }
    for what in want {
        let e = expected
            .get(what)
            .unwrap_or_else(|| panic!("Kea sent no {what}: {expected:#?}"));
        let a = actual
            .get(what)
            .unwrap_or_else(|| panic!("no {what} from the server: {actual:#?}"));
        assert_eq!(
            a,
            e,
            "{} {what} differs from Kea's (left: server under test, right: Kea)",
            client.name()
        );
    }
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
