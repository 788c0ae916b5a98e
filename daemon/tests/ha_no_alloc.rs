//! The HA packet path allocates nothing once warm (issue #6): a DORA through the HA engine
//! in load-balancing — the query filtered by scope, the ACK's lease formatted as a
//! `lease4-update`, queued to the partner and written on a kept-alive connection, the
//! reply parked, the partner's answer read and parsed, the parked reply released — and the
//! heartbeat exchange running beside it (request, answer, state machine), and the same
//! `lease4-update` sent to a backup peer without waiting (kea-ha.md §6), all without a
//! single allocation after warm-up.
//!
//! A counting global allocator wraps the system one and counts only the allocations of
//! the thread that runs the server's loop (a thread-local switch): the partner runs in
//! other threads of this process and its allocations are not the server's. The partner
//! is a small HTTP responder on loopback that answers with the exact bodies Kea 2.2's
//! control agent sends (kea-ha.md §5); the e2e suite (tests/tests/ha.rs) runs the same
//! path against real kea-dhcp4 + kea-ctrl-agent peers. One test per binary.

// Test code: a failed unwrap or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::{Events, Poll};
use wren_core::ha::load_balance::rfc3074_hash;
use wren_core::ha::state::HaState;
use wren_core::lease::{csv, LeaseRecord};
use wren_core::server::LeaseSink;
use wren_core::time::Timestamp;
use wren_core::wire::frame::{self, FrameSpec};
use wrend::config_load;
use wrend::control::http::http_date;
use wrend::engine_glue::{CoreEngine, OwnedLeaseStorage};
use wrend::ha::engine::HaEngine;
use wrend::ha::HaRuntime;
use wrend::packet_path::{Journal, LinkView, PacketPath, Transmit, BROADCAST_MAC};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the server's thread while measuring.
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNT_HERE.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(new_size, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SERVER_MAC: [u8; 6] = [0x02, 0x57, 0x52, 0x45, 0x4e, 0x01];
const ADDRESSES: [Ipv4Addr; 1] = [SERVER_IP];

/// Heartbeats every 10 ms: dozens of them complete during the measured exchanges.
const CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "veth-test" ] },
    "lease-database": { "type": "memfile", "persist": false },
    "valid-lifetime": 600,
    "hooks-libraries": [
      { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" },
      { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so",
        "parameters": { "high-availability": [ {
          "this-server-name": "server1", "mode": "load-balancing",
          "heartbeat-delay": 10, "max-response-delay": 5000,
          "max-ack-delay": 5000, "max-unacked-clients": 5,
          "peers": [
            { "name": "server1", "url": "http://127.0.0.1:1/", "role": "primary" },
            { "name": "server2", "url": "http://127.0.0.1:PARTNER_PORT/", "role": "secondary" },
            { "name": "backup1", "url": "http://127.0.0.1:PARTNER_PORT/", "role": "backup" } ] } ] } }
    ],
    "subnet4": [ { "id": 1, "subnet": "198.18.0.0/20",
                   "pools": [ { "pool": "198.18.1.0 - 198.18.15.250" } ],
                   "option-data": [ { "name": "routers", "data": "198.18.0.1" } ] } ]
  }
}"#;

/// What the partner saw.
#[derive(Default)]
struct PartnerLog {
    heartbeats: AtomicUsize,
    updates: AtomicUsize,
    stop: AtomicBool,
}

/// One connection of the partner: answers every request with Kea 2.2's agent's body.
fn serve_connection(mut stream: TcpStream, log: Arc<PartnerLog>) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut input: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if log.stop.load(Ordering::Relaxed) {
            return;
        }
        // A whole request: head, then Content-Length bytes.
        let complete = input
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .and_then(|end| {
                let head = std::str::from_utf8(&input[..end]).ok()?;
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        n.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                (input.len() >= end + 4 + length).then_some(end + 4 + length)
            });
        let Some(total) = complete else {
            match stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => input.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
            continue;
        };
        let request = String::from_utf8_lossy(&input[..total]).into_owned();
        input.drain(..total);
        let body = if request.contains("\"ha-heartbeat\"") {
            log.heartbeats.fetch_add(1, Ordering::Relaxed);
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            format!(
                r#"[ {{ "arguments": {{ "date-time": "{}", "scopes": [ "server2" ], "state": "load-balancing", "unsent-update-count": 0 }}, "result": 0, "text": "HA peer status returned." }} ]"#,
                http_date(now.as_secs())
            )
        } else if request.contains("\"lease4-update\"") {
            log.updates.fetch_add(1, Ordering::Relaxed);
            r#"[ { "result": 0, "text": "IPv4 lease added." } ]"#.to_owned()
        } else if request.contains("\"lease4-get-page\"") {
            r#"[ { "arguments": { "count": 0, "leases": [ ] }, "result": 3, "text": "0 IPv4 lease(s) found." } ]"#.to_owned()
        } else if request.contains("\"dhcp-disable\"") {
            r#"[ { "result": 0, "text": "DHCPv4 service disabled for 60 seconds" } ]"#.to_owned()
        } else if request.contains("\"ha-sync-complete-notify\"") {
            r#"[ { "result": 0, "text": "Server successfully notified about the synchronization completion." } ]"#.to_owned()
        } else {
            r#"[ { "result": 1, "text": "unexpected command" } ]"#.to_owned()
        };
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn start_partner(log: Arc<PartnerLog>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || loop {
        if log.stop.load(Ordering::Relaxed) {
            return;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                let log = log.clone();
                std::thread::spawn(move || serve_connection(stream, log));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    });
    port
}

/// Keeps the last frame sent, in a fixed buffer.
struct LastFrame {
    bytes: [u8; 1600],
    len: usize,
    frames: usize,
}

impl Transmit for LastFrame {
    fn send_frame(&mut self, _link: usize, frame: &[u8]) -> io::Result<()> {
        let out = self
            .bytes
            .get_mut(..frame.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        out.copy_from_slice(frame);
        self.len = frame.len();
        self.frames += 1;
        Ok(())
    }

    fn send_datagram(&mut self, _: &[u8], _: SocketAddrV4, _: Ipv4Addr, _: u32) -> io::Result<()> {
        Err(io::Error::other("direct clients are answered with frames"))
    }
}

/// Formats every lease change as the lease file does into a buffer allocated once.
struct FormattingJournal {
    batch: Vec<u8>,
    len: usize,
    rows: usize,
}

impl LeaseSink for FormattingJournal {
    fn lease_changed(&mut self, record: &LeaseRecord<'_>) {
        let n = csv::write_row(record, &mut self.batch[self.len..]).expect("batch has room");
        self.len += n;
        self.rows += 1;
    }
}

impl Journal for FormattingJournal {
    fn sync_batch(&mut self) -> io::Result<()> {
        self.len = 0;
        Ok(())
    }
}

/// A client message (DISCOVER, or REQUEST for `requested` from `server`) in `out`.
fn client_message(
    out: &mut [u8; 400],
    mac: [u8; 6],
    xid: u32,
    request: Option<(Ipv4Addr, Ipv4Addr)>,
) -> usize {
    out.fill(0);
    out[0] = 1;
    out[1] = 1;
    out[2] = 6;
    out[4..8].copy_from_slice(&xid.to_be_bytes());
    out[10] = 0x80;
    out[28..34].copy_from_slice(&mac);
    out[236..240].copy_from_slice(&[99, 130, 83, 99]);
    let mut at = 240;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    match request {
        None => put(&[53, 1, 1]),
        Some((requested, server)) => {
            put(&[53, 1, 3]);
            put(&[50, 4]);
            put(&requested.octets());
            put(&[54, 4]);
            put(&server.octets());
        }
    }
    put(&[55, 3, 1, 3, 6]);
    put(&[255]);
    at
}

fn client_frame(out: &mut [u8; 600], payload: &[u8], mac: [u8; 6]) -> usize {
    let spec = FrameSpec {
        src_mac: mac,
        dst_mac: BROADCAST_MAC,
        src_ip: Ipv4Addr::UNSPECIFIED,
        dst_ip: Ipv4Addr::BROADCAST,
        src_port: 68,
        dst_port: 67,
    };
    frame::build_udp_frame(&spec, payload, out).expect("frame fits")
}

/// yiaddr and option 53 of the reply in `last`.
fn reply_facts(last: &LastFrame) -> (Ipv4Addr, u8) {
    let datagram = frame::parse_udp_frame(&last.bytes[..last.len]).expect("reply frame parses");
    let p = datagram.payload;
    let yiaddr = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    let mut at = 240;
    let mut kind = 0;
    while at + 1 < p.len() && p[at] != 255 {
        if p[at] == 0 {
            at += 1;
            continue;
        }
        let len = usize::from(p[at + 1]);
        if p[at] == 53 {
            kind = p[at + 2];
        }
        at += 2 + len;
    }
    (yiaddr, kind)
}

/// The `n`-th MAC in the primary's scope (kea-ha.md §3: Pearson hash of chaddr, mod 2 = 0),
/// so every client is this server's to answer.
fn primary_mac(n: u32) -> [u8; 6] {
    let mut k = 0u32;
    let mut seen = 0;
    loop {
        let mac = [0x02, 0xcc, 0, (k >> 16) as u8, (k >> 8) as u8, k as u8];
        if rfc3074_hash(&mac).is_multiple_of(2) {
            if seen == n {
                return mac;
            }
            seen += 1;
        }
        k += 1;
    }
}

const WARM_UP: u32 = 64;
const MEASURED: u32 = 400;

#[test]
fn ha_dora_allocates_nothing_after_warm_up() {
    let partner = Arc::new(PartnerLog::default());
    let port = start_partner(partner.clone());
    let text = CONFIG.replace("PARTNER_PORT", &port.to_string());
    let config_path = std::env::temp_dir().join("wrend-ha-no-alloc.json");
    let mut storage = config_load::allocate(&config_path, &text).unwrap();
    let mut warnings = Vec::new();
    let config = config_load::parse(&config_path, &text, &mut storage, &mut warnings).unwrap();
    let ha = HaRuntime::from_config(&config).unwrap().unwrap().shared();
    let mut lease_storage = OwnedLeaseStorage::for_config(&config);
    let mut table = lease_storage.table(&config).unwrap();
    let mut journal = FormattingJournal {
        batch: vec![0; 64 * 1024],
        len: 0,
        rows: 0,
    };
    let mut engine = HaEngine::new(CoreEngine::new(config, &mut table), Some(ha.clone()));
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(64);
    let mut released: Vec<(u32, bool)> = Vec::with_capacity(wrend::ha::PARKED_LIMIT);
    let mut path = PacketPath::new(8, 67);
    let link = LinkView {
        slot: 0,
        ifindex: 2,
        name: "veth-test",
        mac: SERVER_MAC,
        addresses: &ADDRESSES,
        has_raw: true,
    };
    let mut tx = LastFrame {
        bytes: [0; 1600],
        len: 0,
        frames: 0,
    };

    // One turn of the event loop's HA part (event_loop::drive_ha): the state machine, the
    // partner connection, the parked replies the partner answered.
    let mut turn = |engine: &mut HaEngine<CoreEngine<'_, '_, '_>>,
                    journal: &mut FormattingJournal,
                    path: &mut PacketPath,
                    tx: &mut LastFrame|
     -> usize {
        let _ = poll.poll(&mut events, Some(Duration::from_millis(2)));
        let mut rt = ha.borrow_mut();
        rt.tick(poll.registry(), engine, journal);
        rt.take_completed(&mut released);
        drop(rt);
        let mut acked = 0;
        for &(id, ok) in &released {
            assert!(ok, "the partner acknowledged the update");
            assert!(path.release_parked(id, ok, tx));
            acked += 1;
        }
        acked
    };

    // waiting → syncing (dhcp-disable, an empty page, sync-complete) → ready → load-balancing.
    let start = Instant::now();
    while ha.borrow().service().state() != HaState::LoadBalancing {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never reached load-balancing: {:?}",
            ha.borrow().service().state()
        );
        turn(&mut engine, &mut journal, &mut path, &mut tx);
    }

    let mut message = [0u8; 400];
    let mut frame_buf = [0u8; 600];
    let mut heartbeats_before = 0;
    for client in 0..WARM_UP + MEASURED {
        if client == WARM_UP {
            heartbeats_before = partner.heartbeats.load(Ordering::Relaxed);
            ALLOCATIONS.store(0, Ordering::Relaxed);
            BYTES.store(0, Ordering::Relaxed);
            COUNT_HERE.with(|c| c.set(true));
        }
        let mac = primary_mac(client);
        let now = Timestamp(1_800_000_000 + u64::from(client));

        let n = client_message(&mut message, mac, client, None);
        let f = client_frame(&mut frame_buf, &message[..n], mac);
        path.on_frame(&mut engine, &mut journal, &link, &frame_buf[..f], now)
            .expect("DISCOVER answered");
        let report = path.commit(&mut journal, &mut tx);
        assert_eq!(report.sent, 1, "OFFER sent at once (no lease change)");
        let (offered, kind) = reply_facts(&tx);
        assert_eq!(kind, 2, "OFFER");

        let n = client_message(&mut message, mac, client, Some((offered, SERVER_IP)));
        let f = client_frame(&mut frame_buf, &message[..n], mac);
        path.on_frame(&mut engine, &mut journal, &link, &frame_buf[..f], now)
            .expect("REQUEST answered");
        let report = path.commit(&mut journal, &mut tx);
        assert_eq!(
            report.sent, 0,
            "the ACK waits for the partner's acknowledgement"
        );
        assert_eq!(path.parked(), 1);
        let frames = tx.frames;
        let waited = Instant::now();
        while turn(&mut engine, &mut journal, &mut path, &mut tx) == 0 {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "the parked ACK was never released"
            );
        }
        assert_eq!(
            tx.frames,
            frames + 1,
            "the parked ACK sent once acknowledged"
        );
        let (acked, kind) = reply_facts(&tx);
        assert_eq!((acked, kind), (offered, 5), "ACK for the offered address");
    }
    // Heartbeats keep running between exchanges: wait for a few more inside the measured
    // window so their request/answer/state-machine path is measured even on a fast run.
    let more = partner.heartbeats.load(Ordering::Relaxed) + 3;
    let waited = Instant::now();
    while partner.heartbeats.load(Ordering::Relaxed) < more {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "heartbeats stopped"
        );
        turn(&mut engine, &mut journal, &mut path, &mut tx);
    }
    // The backup's copies are not waited for by the ACKs: wait for the last of them here,
    // still measuring (their answers are read and parsed on this thread too).
    let waited = Instant::now();
    while partner.updates.load(Ordering::Relaxed) < 2 * (WARM_UP + MEASURED) as usize {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the backup's updates never all arrived"
        );
        turn(&mut engine, &mut journal, &mut path, &mut tx);
    }
    COUNT_HERE.with(|c| c.set(false));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let bytes = BYTES.load(Ordering::Relaxed);
    let heartbeats = partner.heartbeats.load(Ordering::Relaxed) - heartbeats_before;
    partner.stop.store(true, Ordering::Relaxed);

    assert_eq!(
        ha.borrow().service().state(),
        HaState::LoadBalancing,
        "still load-balancing"
    );
    assert!(heartbeats >= 3, "{heartbeats} heartbeats while measuring");
    assert_eq!(
        partner.updates.load(Ordering::Relaxed),
        2 * (WARM_UP + MEASURED) as usize,
        "one lease4-update per ACK to the partner and one to the backup"
    );
    assert_eq!(
        journal.rows,
        (WARM_UP + MEASURED) as usize,
        "one row per ACK"
    );
    println!(
        "{MEASURED} HA DORA exchanges and {heartbeats} heartbeats after warm-up: {allocations} allocations, {bytes} bytes"
    );
    assert_eq!(
        (allocations, bytes),
        (0, 0),
        "{allocations} allocations ({bytes} bytes) in {MEASURED} HA DORA exchanges and {heartbeats} heartbeats"
    );
}
