//! The daemon's per-packet path allocates nothing after warm-up: frame parsing, the core
//! engine over the lease table, the lease file's row formatting and group-commit sync, the
//! reply ring and reply framing — everything between a socket's read and its write.
//!
//! A counting global allocator (tests/support) wraps the system one; the test drives many DORA exchanges
//! (distinct clients, real Ethernet/IPv4/UDP frames, a real lease file in a temp directory)
//! through [`PacketPath`] and asserts the count does not move after the first exchanges.
//! One test per binary: the counter is process-wide.
//!
//! The last scenarios run with the packet trace on (by a DEBUG `kea-dhcp4.packets` logger,
//! then by the `wren-trace` switch), every line written to a real log file.

// Test code: a failed unwrap or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use wren_core::config::Severity;
use wren_core::control::trace_cmd::TraceRequest;
use wren_core::lease::{csv, LeaseRecord};
use wren_core::server::LeaseSink;
use wren_core::time::Timestamp;
use wren_core::wire::frame::{self, FrameSpec};
use wrend::config_load;
use wrend::engine_glue::{self, CoreEngine, OwnedLeaseStorage};
use wrend::logging::{self, LoggerSpec, OutputSpec};
use wrend::packet_path::{Engine as _, Journal, LinkView, PacketPath, Transmit, BROADCAST_MAC};
use wrend::trace::SharedSwitch;

mod support;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SERVER_MAC: [u8; 6] = [0x02, 0x57, 0x52, 0x45, 0x4e, 0x01];
const ADDRESSES: [Ipv4Addr; 1] = [SERVER_IP];

const CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "veth-test" ] },
    "lease-database": { "type": "memfile", "name": "LEASES" },
    "valid-lifetime": 600,
    "subnet4": [ { "id": 1, "subnet": "198.18.0.0/20",
                   "pools": [ { "pool": "198.18.1.0 - 198.18.15.250" } ],
                   "option-data": [ { "name": "routers", "data": "198.18.0.1" },
                                    { "name": "domain-name-servers", "data": "198.18.0.1" } ] } ]
  }
}"#;

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

/// Writes a client message (DISCOVER, or REQUEST for `requested` from `server`) into `out`;
/// returns its length.
fn client_message(
    out: &mut [u8; 400],
    mac: [u8; 6],
    xid: u32,
    request: Option<(Ipv4Addr, Ipv4Addr)>,
) -> usize {
    out.fill(0);
    out[0] = 1; // BOOTREQUEST
    out[1] = 1; // Ethernet
    out[2] = 6;
    out[4..8].copy_from_slice(&xid.to_be_bytes());
    out[10] = 0x80; // broadcast flag
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

/// Formats every lease change as the lease file does (the core's Kea CSV writer) into a
/// buffer allocated once, and "syncs" by forgetting it: the per-packet formatting without
/// the file I/O.
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

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wrend-no-alloc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const WARM_UP: u32 = 64;
const MEASURED: u32 = 2000;
/// Fewer with the real file: each exchange costs an fdatasync.
const MEASURED_WITH_FILE: u32 = 300;
/// Traced exchanges (each writes two log lines and more).
const MEASURED_TRACED: u32 = 300;

/// Runs `WARM_UP + measured` DORA exchanges through the packet path; returns the
/// allocations counted after warm-up.
fn run_dora<J: Journal>(
    engine: &mut CoreEngine<'_, '_, '_>,
    journal: &mut J,
    measured: u32,
) -> usize {
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
    let mut message = [0u8; 400];
    let mut frame_buf = [0u8; 600];

    for client in 0..WARM_UP + measured {
        if client == WARM_UP {
            support::start_counting();
        }
        let mac = [0x02, 0xcc, 0, 0, (client >> 8) as u8, client as u8];
        let now = Timestamp(1_800_000_000 + u64::from(client));

        let n = client_message(&mut message, mac, client, None);
        let f = client_frame(&mut frame_buf, &message[..n], mac);
        path.on_frame(engine, journal, &link, &frame_buf[..f], now)
            .expect("DISCOVER answered");
        let report = path.commit(journal, &mut tx);
        assert_eq!(report.sent, 1);
        let (offered, kind) = reply_facts(&tx);
        assert_eq!(kind, 2, "OFFER");

        let n = client_message(&mut message, mac, client, Some((offered, SERVER_IP)));
        let f = client_frame(&mut frame_buf, &message[..n], mac);
        path.on_frame(engine, journal, &link, &frame_buf[..f], now)
            .expect("REQUEST answered");
        let report = path.commit(journal, &mut tx);
        assert_eq!(report.sent, 1);
        let (acked, kind) = reply_facts(&tx);
        assert_eq!((acked, kind), (offered, 5), "ACK for the offered address");
    }
    let allocations = support::stop_counting();
    assert_eq!(tx.frames as u32, 2 * (WARM_UP + measured));
    allocations
}

/// Both scenarios in one test: the counter is process-wide, tests run in parallel threads.
#[test]
fn dora_allocates_nothing_after_warm_up() {
    // 1. Engine + framing + ring + lease row formatting.
    let dir = scratch_dir("format");
    let text = CONFIG.replace("LEASES", dir.join("unused.csv").to_str().unwrap());
    let config_path = dir.join("no-alloc.json");
    let mut storage = config_load::allocate(&config_path, &text).unwrap();
    let mut warnings = Vec::new();
    let config = config_load::parse(&config_path, &text, &mut storage, &mut warnings).unwrap();
    let mut lease_storage = OwnedLeaseStorage::for_config(&config);
    let mut table = lease_storage.table(&config).unwrap();
    let mut journal = FormattingJournal {
        batch: vec![0; 64 * 1024],
        len: 0,
        rows: 0,
    };
    let mut engine = CoreEngine::new(config, &mut table);
    let allocations = run_dora(&mut engine, &mut journal, MEASURED);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {MEASURED} DORA exchanges after warm-up"
    );
    drop(engine);
    assert_eq!(table.len(), (WARM_UP + MEASURED) as usize);
    assert_eq!(
        journal.rows,
        (WARM_UP + MEASURED) as usize,
        "one row per ACK"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // 2. The same with the real lease file (write + fdatasync per batch).
    let dir = scratch_dir("file");
    let lease_path = dir.join("leases4.csv");
    let text = CONFIG.replace("LEASES", lease_path.to_str().unwrap());
    let mut storage = config_load::allocate(&config_path, &text).unwrap();
    let config = config_load::parse(&config_path, &text, &mut storage, &mut warnings).unwrap();
    let mut lease_storage = OwnedLeaseStorage::for_config(&config);
    let mut table = lease_storage.table(&config).unwrap();
    let (mut journal, _) = engine_glue::open_lease_file(&config, &mut table).unwrap();
    let mut engine = CoreEngine::new(config, &mut table);
    let allocations = run_dora(&mut engine, &mut journal, MEASURED_WITH_FILE);
    drop(engine);
    let rows = std::fs::read_to_string(&lease_path)
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        rows,
        1 + (WARM_UP + MEASURED_WITH_FILE) as usize,
        "header + one row per ACK"
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {MEASURED_WITH_FILE} DORA exchanges with the lease file"
    );

    // 3. Packet trace on: (a) a DEBUG kea-dhcp4.packets logger, (b) the wren-trace switch
    // with the loggers at INFO. Every line goes to a real log file.
    let dir = scratch_dir("trace");
    let log_path = dir.join("wrend.log");
    let text = CONFIG.replace("LEASES", dir.join("unused.csv").to_str().unwrap());
    let config_path = dir.join("no-alloc.json");
    let traced_lines = |debug: bool| -> usize {
        let spec = |name: &str, severity| LoggerSpec {
            name: name.into(),
            severity,
            debuglevel: 99,
            outputs: vec![OutputSpec::File(log_path.clone())],
        };
        let packets = if debug {
            Severity::Debug
        } else {
            Severity::Info
        };
        let _ = std::fs::remove_file(&log_path);
        logging::install(&[
            spec("kea-dhcp4", Severity::Info),
            spec("kea-dhcp4.packets", packets),
        ])
        .unwrap();
        let mut storage = config_load::allocate(&config_path, &text).unwrap();
        let config =
            config_load::parse(&config_path, &text, &mut storage, &mut Vec::new()).unwrap();
        let mut lease_storage = OwnedLeaseStorage::for_config(&config);
        let mut table = lease_storage.table(&config).unwrap();
        let mut journal = FormattingJournal {
            batch: vec![0; 64 * 1024],
            len: 0,
            rows: 0,
        };
        let mut engine = CoreEngine::new(config, &mut table);
        if !debug {
            let switch = SharedSwitch::default();
            let mut on = switch.get();
            let _ = on.apply(TraceRequest::On {
                packets: Some(2 * (WARM_UP + MEASURED_TRACED)),
                hw_address: None,
            });
            switch.set(on);
            engine.attach_trace(switch.clone());
        }
        let allocations = run_dora(&mut engine, &mut journal, MEASURED_TRACED);
        assert_eq!(
            allocations, 0,
            "{allocations} allocations in {MEASURED_TRACED} traced DORA exchanges (debug: {debug})"
        );
        logging::install(&[LoggerSpec::default_root()]).unwrap();
        std::fs::read_to_string(&log_path)
            .unwrap()
            .lines()
            .filter(|l| l.contains("WREN_PACKET_TRACE recv DHCP"))
            .count()
    };
    let exchanges = 2 * (WARM_UP + MEASURED_TRACED) as usize;
    assert_eq!(traced_lines(true), exchanges, "one line per packet (debug)");
    assert_eq!(
        traced_lines(false),
        exchanges,
        "one line per packet (command)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
