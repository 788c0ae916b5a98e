//! The event loop end to end on loopback (`dhcp-socket-type: udp`, an unprivileged port):
//! a datagram goes through the engine, its lease change is synced, the reply comes back;
//! SIGHUP ends `run` with `Exit::Reload`, SIGTERM with `Exit::Terminate`, after the batch
//! is committed. Its own test binary: it installs process-wide signal handlers.

// Test code: a failed unwrap or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use wren_core::config::SocketType;
use wren_core::lease::{LeaseRecord, LeaseState};
use wren_core::server::{Destination, LeaseSink, Query, Transport};
use wren_core::time::Timestamp;
use wrend::event_loop::{EventLoop, Exit, Settings};
use wrend::link::interfaces::LOOPBACK;
use wrend::packet_path::{Engine, Journal};
use wrend::signals::Signals;

/// Replies "ack:<payload>" to the sender, over UDP; one lease change per query.
struct Echo;

impl Engine for Echo {
    fn handle<S: LeaseSink>(
        &mut self,
        query: &Query<'_>,
        now: Timestamp,
        reply: &mut [u8],
        sink: &mut S,
    ) -> Option<(usize, Destination)> {
        assert_eq!(query.transport, Transport::Udp);
        assert_eq!(query.interface.name, LOOPBACK);
        sink.lease_changed(&LeaseRecord {
            address: Ipv4Addr::new(198, 18, 0, 10),
            hwaddr: &[2, 0, 0, 0, 0, 1],
            client_id: &[],
            valid_lifetime: 600,
            cltt: now,
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: "",
            state: LeaseState::Default,
            user_context: "",
        });
        let prefix = b"ack:";
        let len = prefix.len() + query.payload.len();
        reply.get_mut(..prefix.len())?.copy_from_slice(prefix);
        reply
            .get_mut(prefix.len()..len)?
            .copy_from_slice(query.payload);
        Some((
            len,
            Destination {
                ip: query.source_ip,
                port: query.source_port,
                mac: [0; 6],
                source_ip: Ipv4Addr::LOCALHOST,
                raw_frame: false,
            },
        ))
    }

    fn reclaim_expired<S: LeaseSink>(&mut self, _now: Timestamp, _sink: &mut S) -> usize {
        0
    }

    fn with_leases(&self, f: &mut dyn FnMut(&mut dyn Iterator<Item = LeaseRecord<'_>>)) {
        f(&mut std::iter::empty());
    }
}

/// Counts appended rows and syncs; shared with the test body.
#[derive(Default)]
struct Log {
    appended: usize,
    synced: usize,
    syncs: usize,
}

struct SharedJournal(Arc<Mutex<Log>>);

impl LeaseSink for SharedJournal {
    fn lease_changed(&mut self, _record: &LeaseRecord<'_>) {
        if let Ok(mut log) = self.0.lock() {
            log.appended += 1;
        }
    }
}

impl Journal for SharedJournal {
    fn sync_batch(&mut self) -> io::Result<()> {
        let mut log = self.0.lock().map_err(|_| io::Error::other("poisoned"))?;
        log.syncs += 1;
        log.synced = log.appended;
        Ok(())
    }
}

fn exchange(server: SocketAddr, text: &[u8]) -> Vec<u8> {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.send_to(text, server).unwrap();
    let mut buffer = [0u8; 256];
    let (n, from) = client.recv_from(&mut buffer).expect("a reply");
    assert_eq!(from, server, "reply from the server port");
    buffer[..n].to_vec()
}

#[test]
fn serves_reloads_and_terminates() {
    let port = 20000 + (std::process::id() % 20000) as u16;
    let settings = Settings {
        server_port: port,
        client_port: 68,
        socket_type: SocketType::Udp,
        interfaces: vec![LOOPBACK.to_owned()],
        re_detect: false,
        retry_wait: Duration::from_secs(5),
        require_all: true,
        reclaim_every: Some(Duration::from_millis(200)),
        compact_every: None,
    };
    let signals = Signals::install().unwrap();
    let mut event_loop = EventLoop::new(settings, signals).unwrap();
    assert_eq!(event_loop.served().count(), 1);
    let log = Arc::new(Mutex::new(Log::default()));
    let mut journal = SharedJournal(Arc::clone(&log));
    let mut engine = Echo;
    let server: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();

    // The second exchange waits until the loop has returned for the reload: a signal is
    // delivered asynchronously, so without the wait SIGHUP and SIGTERM could meet in one
    // wakeup (where terminating wins, as it should).
    let (reloaded, wait_reload) = std::sync::mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        let first = exchange(server, b"one");
        kill(Pid::this(), Signal::SIGHUP).unwrap();
        wait_reload.recv().unwrap();
        let second = exchange(server, b"two");
        kill(Pid::this(), Signal::SIGTERM).unwrap();
        (first, second)
    });

    assert_eq!(
        event_loop.run(&mut engine, &mut journal).unwrap(),
        Exit::Reload
    );
    reloaded.send(()).unwrap();
    assert_eq!(
        event_loop.run(&mut engine, &mut journal).unwrap(),
        Exit::Terminate
    );
    let (first, second) = client.join().unwrap();
    assert_eq!(first, b"ack:one");
    assert_eq!(second, b"ack:two");
    let log = log.lock().unwrap();
    assert_eq!(log.appended, 2);
    assert_eq!(log.synced, 2, "every lease change synced before exit");
    let counters = event_loop.counters();
    assert_eq!(counters.received, 2);
    assert_eq!(counters.sent, 2);
    assert_eq!(counters.dropped, 0);
}
