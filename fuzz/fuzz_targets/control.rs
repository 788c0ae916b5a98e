//! The control API: the daemon's HTTP request reader (`wrend::control::http::parse`, the
//! Basic-auth check, the unix socket's `json_complete` framing), then the core's command
//! parser and dispatcher `wren_core::control::parse_request_bytes` + `execute` against the
//! fuzz/engine.conf config, a lease table with a few leases and the statistics, and
//! `render` of the answer in 512-byte chunks.
//!
//! Input, two shapes:
//! - HTTP (the first request parses whole): up to 5 pipelined requests; each `POST` body is
//!   a command, run in order against the same table when its `service` list is empty or
//!   names `dhcp4` (as the daemon's Control Agent front end forwards it);
//! - otherwise raw command text: the first line may hold up to 4 tab-separated requests run
//!   first (e.g. `lease4-add`s seeding the table); the rest is the request under test.
//!
//! Checked: nothing panics; a whole HTTP request lies within the bytes received, parses the
//! same without what follows it (pipelining) and is not yet whole one byte short (the
//! daemon reads in pieces); answer chunks fit their buffer, rendering makes progress and
//! ends within 4,096 chunks (far above what 24 pool addresses can produce), and every
//! finished answer is one JSON object.
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
use wrend::control::auth::{BasicAuth, Credential};
use wrend::control::http::{self, Limits, Method, Parsed};
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

/// Tight limits, so that the fuzzer reaches the 413/431 edges with short inputs.
const SMALL: Limits = Limits {
    max_head: 200,
    max_headers: 6,
    max_body: 300,
};

/// The `POST` bodies of the pipelined HTTP requests at the start of `data` (checking the
/// reader's framing on the way), or `None` when the first request is not a whole one.
fn http_bodies(data: &[u8]) -> Option<Vec<&[u8]>> {
    let auth = BasicAuth {
        realm: "wren".into(),
        clients: vec![Credential::new("admin", "1234")],
    };
    let mut scratch = Vec::new();
    for limits in [SMALL, Limits::DEFAULT] {
        let mut rest = data;
        let mut bodies = Vec::new();
        for _ in 0..5 {
            let Parsed::Complete { request, len } = http::parse(rest, &limits) else {
                break;
            };
            assert!(len > 0 && len <= rest.len(), "request of {len} bytes");
            let (this, next) = rest.split_at(len);
            assert_eq!(
                http::parse(this, &limits),
                Parsed::Complete { request, len },
                "a request parses differently without the bytes after it"
            );
            assert!(
                !matches!(
                    http::parse(&this[..len - 1], &limits),
                    Parsed::Complete { .. }
                ),
                "a request is whole one byte short"
            );
            let _ = auth.allows(request.authorization, &mut scratch);
            if request.method == Method::Post {
                bodies.push(request.body);
            }
            rest = next;
        }
        if limits == Limits::DEFAULT && rest.len() < data.len() {
            return Some(bodies);
        }
    }
    None
}

/// Whether the daemon's HTTP front end runs this body here: no `service` list, or one
/// naming `dhcp4` (other services get the agent's "not configured" answer).
fn for_dhcp4(body: &[u8]) -> bool {
    let Ok(request) = control::parse_request_bytes(body) else {
        return true;
    };
    let mut services = request.services().peekable();
    if services.peek().is_none() {
        return true;
    }
    services.any(|s| {
        let mut buf = vec![0u8; s.0.len() + 4];
        s.unescape(&mut buf) == Some("dhcp4")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = http::json_complete(data);
    let cfg = *config();
    std::hint::black_box(KEEP_STORAGE.load(Ordering::Relaxed));
    let mut lease_storage = OwnedLeaseStorage::for_config(&cfg);
    let mut table = lease_storage.table(&cfg).expect("lease table");
    let mut subnet_stats = vec![SubnetStats::default(); cfg.subnets.len()];
    let mut stats = Stats::new(&mut subnet_stats, Timestamp(NOW));
    let requests: Vec<&[u8]> = match http_bodies(data) {
        Some(bodies) => bodies.into_iter().filter(|b| for_dhcp4(b)).collect(),
        None => {
            let (setup, request_text) = match data.iter().position(|&b| b == b'\n') {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (&[][..], data),
            };
            let mut requests: Vec<&[u8]> = setup
                .split(|&b| b == b'\t')
                .filter(|s| !s.is_empty())
                .take(4)
                .collect();
            requests.push(request_text);
            requests
        }
    };
    let mut out = [0u8; 512];
    for (i, req_text) in requests.iter().enumerate() {
        let request = control::parse_request_bytes(req_text);
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
