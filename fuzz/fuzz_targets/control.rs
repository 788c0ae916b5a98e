//! Control command parser and executor: `wren_core::control::parse_request` on arbitrary
//! text, then (when it parses) `execute` against the fuzz/engine.conf config, a lease table
//! with a few leases and the statistics, and `render` of the answer in 512-byte chunks.
//! Checked: nothing panics, chunks fit their buffer, rendering terminates, and every
//! finished answer is one JSON object.
//!
//! The input's first line may hold up to 4 `lease4-add` requests run first (seeding the
//! table); the rest is the request under test. Rendering a lease list stops after 4,096
//! chunks (a bound, far above what 24 pool addresses can produce).
#![no_main]

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wren_core::config;
use wren_core::control::{self, Cursor, Decision, Env, Reply, ServerInfo, View};
use wren_core::lease::LeaseRecord;
use wren_core::server::LeaseSink;
use wren_core::stats::{Stats, SubnetStats};
use wren_core::time::Timestamp;
use wrend::config_load::OwnedConfigStorage;
use wrend::engine_glue::OwnedLeaseStorage;

const CONFIG: &str = include_str!("../engine.conf");
const NOW: u64 = 1_800_000_000;

struct Discard;
impl LeaseSink for Discard {
    fn lease_changed(&mut self, _: &LeaseRecord<'_>) {}
}

fn config() -> &'static config::Config<'static> {
    static ONCE: OnceLock<config::Config<'static>> = OnceLock::new();
    ONCE.get_or_init(|| {
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
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cfg = *config();
    std::hint::black_box(KEEP_STORAGE.load(Ordering::Relaxed));
    let mut lease_storage = OwnedLeaseStorage::for_config(&cfg);
    let mut table = lease_storage.table(&cfg).expect("lease table");
    let mut subnet_stats = vec![SubnetStats::default(); cfg.subnets.len()];
    let mut stats = Stats::new(&mut subnet_stats, Timestamp(NOW));
    let (setup, request_text) = text.split_once('\n').unwrap_or(("", text));
    let mut requests: Vec<&str> = setup
        .split('\t')
        .filter(|s| !s.is_empty())
        .take(4)
        .collect();
    requests.push(request_text);
    let mut out = [0u8; 512];
    for (i, req_text) in requests.iter().enumerate() {
        let request = control::parse_request(req_text);
        let mut env = Env {
            config: &cfg,
            config_text: CONFIG,
            leases: &mut table,
            stats: &mut stats,
            now: Timestamp(NOW + i as u64),
        };
        let reply = match &request {
            Err(e) => Reply::from_request_error(e),
            Ok(r) => match control::execute(r, &mut env, &mut Discard) {
                Decision::Reply(reply) => reply,
                // Config changes and shutdown are the daemon's: nothing to render here.
                Decision::Action(_) => continue,
            },
        };
        let mut order = vec![0u32; table.capacity()];
        let lease_order: &[u32] = if reply.needs_lease_order() {
            table.ids_by_address(&mut order)
        } else {
            &[]
        };
        let view = View {
            config: &cfg,
            config_text: CONFIG,
            leases: &table,
            stats: &stats,
            info: ServerInfo::default(),
            lease_order,
        };
        let mut cursor = Cursor::default();
        let mut doc = Vec::new();
        for _ in 0..4096 {
            let chunk = control::render(&reply, &view, cursor, &mut out);
            assert!(chunk.len <= out.len(), "chunk of {} bytes", chunk.len);
            doc.extend_from_slice(&out[..chunk.len]);
            if chunk.done {
                assert!(
                    doc.first() == Some(&b'{') && doc.last() == Some(&b'}'),
                    "answer is not a JSON object: {}",
                    String::from_utf8_lossy(&doc)
                );
                break;
            }
            assert!(chunk.next != cursor, "render made no progress");
            cursor = chunk.next;
        }
    }
});
