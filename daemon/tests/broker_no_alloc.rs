//! A `dhcp-socket-type: udp` reply sent through the sandbox's broker (capability mode,
//! `daemon/src/sandbox/broker.rs`) allocates nothing in the server process: the request
//! header is on the stack and the datagram goes by `iovec`, so the packet path stays
//! allocation-free with the broker on. Real broker process, real UDP sockets on loopback.
//!
//! A counting global allocator (tests/support) wraps the system one (one test per binary:
//! the counter is process-wide).

// Test code: a failed unwrap or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use wrend::link::relay_udp::RelayUdp;
use wrend::sandbox::broker::Broker;

mod support;

#[test]
fn udp_replies_through_the_broker_allocate_nothing() {
    let server = RelayUdp::open(0).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let SocketAddr::V4(to) = client.local_addr().unwrap() else {
        panic!("IPv4 bound")
    };
    let broker = Broker::spawn(&[]).unwrap();
    broker.adopt_udp(server.as_fd()).unwrap();
    let key = server.as_raw_fd();
    let payload = [0x02u8; 300]; // a BOOTREPLY-sized datagram
    let mut received = [0u8; 512];

    // Warm-up (lazy statics, the mutex).
    broker
        .send_udp(key, &payload, to, Ipv4Addr::LOCALHOST, 0)
        .unwrap();
    assert_eq!(client.recv(&mut received).unwrap(), payload.len());

    support::start_counting();
    for _ in 0..200 {
        broker
            .send_udp(key, &payload, to, Ipv4Addr::LOCALHOST, 0)
            .unwrap();
        let n = client.recv(&mut received).unwrap();
        assert_eq!(n, payload.len());
    }
    assert_eq!(support::stop_counting(), 0);
}
