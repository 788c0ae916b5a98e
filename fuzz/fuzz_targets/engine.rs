//! The whole engine: `wren_core::server::Engine::handle` over a small config
//! (fuzz/engine.conf: a direct subnet with a 20-address pool and reservations, a relayed
//! subnet with 4 addresses) and a real lease table (as wrend builds it), fed a sequence of
//! packets from one input.
//!
//! Input: records `[flags][len: u16 BE][payload]`, the last one may be short. `flags`: bit 0
//! unicast from 198.18.0.`flags` (else broadcast from 0.0.0.0), bit 1 UDP transport (else
//! raw), bit 2 a 300-byte reply buffer (else 1500), bits 3–7 advance the clock by that many
//! × 31 s before the packet.
//!
//! Checked: nothing panics; a reply fits its buffer and the size limit, is a BOOTREPLY
//! with the magic cookie and ends with END; and no address is leased to a second client
//! while a first client's unexpired lease on it stands (the sink's records are the model).
//! The packet trace is on: every packet's trace line is formatted into a 700-byte buffer
//! and must stay within it as UTF-8 without a line break.
#![no_main]

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wren_core::config;
use wren_core::lease::{LeaseRecord, LeaseState};
use wren_core::server::trace::write_bounded;
use wren_core::server::{Engine, Interface, LeaseSink, Outcome, Query, TraceLine, Transport};
use wren_core::time::Timestamp;
use wrend::config_load::OwnedConfigStorage;
use wrend::engine_glue::OwnedLeaseStorage;

const CONFIG: &str = include_str!("../engine.conf");
const SERVER_ADDRS: [Ipv4Addr; 1] = [Ipv4Addr::new(198, 18, 0, 1)];
const T0: u64 = 1_800_000_000;

struct Held {
    hwaddr: Vec<u8>,
    client_id: Vec<u8>,
    expire: u64,
    state: LeaseState,
}

/// The lease model: what the engine reported, checked for double allocation.
struct ModelSink {
    now: u64,
    leases: HashMap<Ipv4Addr, Held>,
}

impl LeaseSink for ModelSink {
    fn lease_changed(&mut self, r: &LeaseRecord<'_>) {
        if r.is_removal() {
            self.leases.remove(&r.address);
            return;
        }
        if let Some(prior) = self.leases.get(&r.address) {
            let live = prior.expire > self.now && prior.state == LeaseState::Default;
            let other_hw = !prior.hwaddr.is_empty() && prior.hwaddr != r.hwaddr;
            let other_id = prior.client_id != r.client_id;
            let same_client = (!r.client_id.is_empty() && !other_id) || !other_hw;
            if live && r.state == LeaseState::Default && !same_client {
                panic!(
                    "{} leased to hw {:02x?} id {:02x?} while hw {:02x?} id {:02x?} holds it until {} (now {})",
                    r.address, r.hwaddr, r.client_id, prior.hwaddr, prior.client_id,
                    prior.expire, self.now
                );
            }
        }
        self.leases.insert(
            r.address,
            Held {
                hwaddr: r.hwaddr.to_vec(),
                client_id: r.client_id.to_vec(),
                expire: r.expire().0,
                state: r.state,
            },
        );
    }
}

/// The parsed config, once per process (its storage is leaked: it lives as long as the
/// fuzzer).
fn config() -> &'static config::Config<'static> {
    static CONFIG_ONCE: OnceLock<config::Config<'static>> = OnceLock::new();
    CONFIG_ONCE.get_or_init(|| {
        let capacity = config::measure(CONFIG).expect("engine.conf measures");
        let storage = Box::leak(Box::new(OwnedConfigStorage::for_capacity(&capacity)));
        // Kept reachable from a global (read in every run, so the optimizer keeps it), so
        // LeakSanitizer does not report this deliberate leak.
        KEEP_STORAGE.store(std::ptr::from_mut(storage), Ordering::Relaxed);
        config::parse(CONFIG, storage.storage(), &mut |_| {}).expect("engine.conf parses")
    })
}

static KEEP_STORAGE: AtomicPtr<OwnedConfigStorage> = AtomicPtr::new(std::ptr::null_mut());

fuzz_target!(|data: &[u8]| {
    let cfg = *config();
    std::hint::black_box(KEEP_STORAGE.load(Ordering::Relaxed));
    let mut lease_storage = OwnedLeaseStorage::for_config(&cfg);
    let mut table = lease_storage.table(&cfg).expect("lease table");
    let mut cursors = vec![Ipv4Addr::UNSPECIFIED; cfg.subnets.len()];
    let mut engine = Engine::new(&cfg, &mut table, &mut cursors).with_trace(true);
    let mut line = [0u8; 700];
    let mut sink = ModelSink {
        now: T0,
        leases: HashMap::new(),
    };
    let mut now = T0;
    let mut rest = data;
    let mut packets = 0;
    while let [flags, hi, lo, tail @ ..] = rest {
        if packets == 16 {
            break;
        }
        packets += 1;
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        now += u64::from(flags >> 3) * 31;
        sink.now = now;
        let unicast = flags & 1 != 0;
        let query = Query {
            payload,
            interface: Interface {
                name: "fz0",
                addresses: &SERVER_ADDRS,
                mac: [0x02, 0x57, 0x52, 0, 0, 1],
            },
            source_ip: if unicast {
                Ipv4Addr::new(198, 18, 0, *flags)
            } else {
                Ipv4Addr::UNSPECIFIED
            },
            source_port: 68,
            destination_ip: if unicast {
                SERVER_ADDRS[0]
            } else {
                Ipv4Addr::BROADCAST
            },
            source_mac: [0x02, 0x57, 0x52, 0, 0, 2],
            transport: if flags & 2 != 0 {
                Transport::Udp
            } else {
                Transport::Raw
            },
        };
        let mut buf = [0u8; 1500];
        let out: &mut [u8] = if flags & 4 != 0 {
            &mut buf[..300]
        } else {
            &mut buf
        };
        let outcome = engine.handle(&query, Timestamp(now), out, &mut sink);
        let record = *engine.decision();
        let n = write_bounded(
            &mut line,
            &TraceLine {
                query: &query,
                record: &record,
                outcome: &outcome,
                reply: out,
                config: &cfg,
            },
        );
        let text = std::str::from_utf8(&line[..n]).expect("trace line is UTF-8");
        assert!(!text.contains('\n'), "trace line breaks: {text}");
        if let Outcome::Reply { len, .. } = outcome {
            assert!(
                len <= out.len(),
                "reply of {len} bytes in a {}-byte buffer",
                out.len()
            );
            assert!(
                len >= 241,
                "reply of {len} bytes is shorter than a header + END"
            );
            assert_eq!(out[0], 2, "reply is not a BOOTREPLY");
            assert_eq!(
                &out[236..240],
                &[99, 130, 83, 99],
                "reply lost the magic cookie"
            );
            assert_eq!(out[len - 1], 255, "reply does not end with END");
        }
    }
});
