//! The engine allocates nothing: 1,000 DORA exchanges, a renewal and a release per client,
//! through `Engine::handle` with preallocated storage, under a counting global allocator.
//! The packet trace is on: every query's decision record is filled (classes included) and
//! its whole trace line formatted into a stack buffer.

// Test code: a failed index or unwrap is a failed test.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use wren_core::lease::LeaseRecord;
use wren_core::server::trace::write_bounded;
use wren_core::server::{Engine, Interface, LeaseSink, Outcome, Query, TraceLine, Transport};
use wren_core::time::Timestamp;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter only
// observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct CountingSink(usize);

impl LeaseSink for CountingSink {
    fn lease_changed(&mut self, _record: &LeaseRecord<'_>) {
        self.0 += 1;
    }
}

/// A /22 with a 1,009-address pool, three options, calculated T1/T2 and classes whose
/// tests are evaluated for every packet (pass 1, pass 2 after the host lookup, required).
const CONFIG: &str = r#"{ "Dhcp4": {
    "valid-lifetime": 3600,
    "calculate-tee-times": true,
    "client-classes": [
        { "name": "pxe", "test": "substring(option[60].hex,0,9) == 'PXEClient'",
          "boot-file-name": "undionly.kpxe" },
        { "name": "new-pxe", "test": "member('pxe') and member('UNKNOWN')" },
        { "name": "arch", "test": "option[93].hex == 0x0007 or pkt4.mac == 0x020000000000",
          "only-if-required": true }
    ],
    "subnet4": [ {
        "require-client-classes": [ "arch" ],
        "id": 1,
        "subnet": "198.18.0.0/22",
        "pools": [ { "pool": "198.18.0.10 - 198.18.3.250" } ],
        "option-data": [
            { "name": "routers", "data": "198.18.0.1" },
            { "name": "domain-name-servers", "data": "198.18.0.53" },
            { "name": "domain-name", "data": "wren.test" }
        ]
    } ]
} }"#;

/// chaddr 02:00:00:00:hi:lo, xid n, `options` then END, padded to 300 bytes like clients.
fn packet(n: u16, ciaddr: Ipv4Addr, options: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&u32::from(n).to_be_bytes());
    p[12..16].copy_from_slice(&ciaddr.octets());
    p[28..34].copy_from_slice(&[2, 0, 0, 0, (n >> 8) as u8, n as u8]);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(options);
    p.push(255);
    p.resize(300, 0);
    p
}

#[test]
fn dora_renew_release_allocate_nothing() {
    const CLIENTS: u16 = 1000;
    // The counter itself works (otherwise the final assertion could not fail).
    COUNTING.with(|c| c.set(true));
    let probe = std::hint::black_box(vec![1u8; 16]);
    COUNTING.with(|c| c.set(false));
    assert!(ALLOCATIONS.load(Ordering::Relaxed) >= 1);
    drop(probe);
    let server = [Ipv4Addr::new(198, 18, 0, 1)];
    let mut config_store = common::ConfigStore::for_text(CONFIG);
    let config = config_store.parse(CONFIG);
    let mut lease_store = common::LeaseStore::new(usize::from(CLIENTS) + 8, config.pools);
    let mut table = lease_store.table(config.pools);

    // Every packet is built before counting starts.
    let prl = [55, 3, 1, 3, 6];
    let mut exchanges = Vec::new();
    for n in 0..CLIENTS {
        let id = [61, 7, 1, 2, 0, 0, 0, (n >> 8) as u8, n as u8];
        let mut discover = vec![53, 1, 1];
        discover.extend_from_slice(&prl);
        discover.extend_from_slice(&id);
        exchanges.push(packet(n, Ipv4Addr::UNSPECIFIED, &discover));
    }
    let mut cursors = vec![Ipv4Addr::UNSPECIFIED; config.subnets.len()];
    // The class tests, compiled before counting starts (as the daemon does at load).
    let (ops_needed, literals_needed) = wren_core::classify::storage_needed(&config);
    let mut ops = vec![wren_core::classify::Op::And; ops_needed];
    let mut literals = vec![0u8; literals_needed];
    let empty = wren_core::classify::CompiledClass {
        name: &[],
        test: None,
        only_if_required: false,
    };
    let mut compiled = vec![empty; config.classes.len()];
    let mut expr_store = wren_core::classify::ExprStore::new(&mut ops, &mut literals);
    wren_core::classify::compile_config_classes(&config, &mut expr_store, &mut compiled).unwrap();
    let class_tests = wren_core::classify::CompiledClassTests {
        view: expr_store.into_view(),
        classes: &compiled,
    };
    let mut class_bits = vec![0u64; wren_core::server::class_words(config.classes.len())];
    let mut engine = Engine::new(&config, &mut table, &mut cursors)
        .with_class_tests(&class_tests, &mut class_bits)
        .with_trace(true);
    let mut reply = [0u8; 1500];
    let mut line = [0u8; 1900];
    let mut traced = 0usize;
    // Formats the trace line of the last query (as the daemon does when tracing).
    macro_rules! trace {
        ($query:expr, $outcome:expr) => {{
            let record = *engine.decision();
            let n = write_bounded(
                &mut line,
                &TraceLine {
                    query: &$query,
                    record: &record,
                    outcome: &$outcome,
                    reply: &reply,
                    config: &config,
                },
            );
            assert!(n > 100, "a trace line");
            traced += 1;
        }};
    }
    let mut sink = CountingSink(0);
    let mut followups: Vec<Vec<u8>> = Vec::with_capacity(3);
    let interface = Interface {
        name: "veth0",
        addresses: &server,
        mac: [2, 0, 0, 0, 0, 1],
    };
    fn broadcast<'p>(payload: &'p [u8], interface: Interface<'p>) -> Query<'p> {
        common::broadcast_query(payload, interface, [2, 0, 0, 0, 0, 2], Transport::Raw)
    }

    let mut offered = Vec::with_capacity(usize::from(CLIENTS));
    for (i, discover) in exchanges.iter().enumerate() {
        // Warm-up on the first client only: anything lazily initialised happens here.
        if i == 1 {
            ALLOCATIONS.store(0, Ordering::Relaxed);
            COUNTING.with(|c| c.set(true));
        }
        let now = Timestamp(1_800_000_000 + i as u64);
        let q = broadcast(discover, interface);
        let o = engine.handle(&q, now, &mut reply, &mut sink);
        trace!(q, o);
        let Outcome::Reply { summary, .. } = o else {
            panic!("no offer for client {i}");
        };
        let address = summary.address.expect("offer carries an address");
        // Building the follow-ups is the test's own work: pause counting for it.
        COUNTING.with(|c| c.set(false));
        let n = i as u16;
        let id = [61, 7, 1, 2, 0, 0, 0, (n >> 8) as u8, n as u8];
        let mut request = vec![53, 1, 3, 54, 4, 198, 18, 0, 1, 50, 4];
        request.extend_from_slice(&address.octets());
        request.extend_from_slice(&id);
        let mut renew = vec![53, 1, 3];
        renew.extend_from_slice(&id);
        let mut release = vec![53, 1, 7, 54, 4, 198, 18, 0, 1];
        release.extend_from_slice(&id);
        followups.clear();
        followups.push(packet(n, Ipv4Addr::UNSPECIFIED, &request));
        followups.push(packet(n, address, &renew));
        followups.push(packet(n, address, &release));
        offered.push(address);
        COUNTING.with(|c| c.set(i >= 1));

        let q = broadcast(&followups[0], interface);
        let o = engine.handle(&q, now, &mut reply, &mut sink);
        trace!(q, o);
        assert!(
            matches!(o, Outcome::Reply { .. }),
            "request of client {i}: {o:?}"
        );
        let unicast = Query {
            source_ip: address,
            destination_ip: server[0],
            ..broadcast(&followups[1], interface)
        };
        let o = engine.handle(&unicast, now.plus(1800), &mut reply, &mut sink);
        trace!(unicast, o);
        assert!(
            matches!(o, Outcome::Reply { .. }),
            "renewal of client {i}: {o:?}"
        );
        // Release every other client, so the table also holds leases while it grows.
        if i % 2 == 0 {
            let rel = Query {
                source_ip: address,
                destination_ip: server[0],
                ..broadcast(&followups[2], interface)
            };
            let o = engine.handle(&rel, now.plus(1900), &mut reply, &mut sink);
            trace!(rel, o);
            assert!(
                matches!(o, Outcome::Done(_)),
                "release of client {i}: {o:?}"
            );
        }
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "the engine allocated"
    );
    // request + renew per client, release for half.
    assert_eq!(sink.0, usize::from(CLIENTS) * 2 + usize::from(CLIENTS) / 2);
    assert_eq!(traced, usize::from(CLIENTS) * 3 + usize::from(CLIENTS) / 2);
}
