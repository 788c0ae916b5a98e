//! The engine allocates nothing: 1,000 DORA exchanges, a renewal and a release per client,
//! through `Engine::handle` with preallocated storage, under a counting global allocator.

// Test code: a failed index or unwrap is a failed test.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use wren_core::assign::store::{ArrayLeaseStore, StoredLease};
use wren_core::config::*;
use wren_core::index::HashIndexView;
use wren_core::lease::LeaseRecord;
use wren_core::server::{Engine, Interface, LeaseSink, Outcome, Query, Transport};
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

fn params() -> SubnetParams {
    SubnetParams {
        lifetimes: Lifetimes {
            valid: 3600,
            min: 3600,
            max: 3600,
        },
        renew_timer: None,
        rebind_timer: None,
        calculate_tee_times: true,
        t1_percent: 0.5,
        t2_percent: 0.875,
        authoritative: false,
        match_client_id: true,
        next_server: None,
        server_hostname: TextRef::EMPTY,
        boot_file_name: TextRef::EMPTY,
        reservations_global: false,
        reservations_in_subnet: true,
        reservations_out_of_pool: false,
        store_extended_info: false,
    }
}

fn globals(options: IndexRange) -> Globals {
    Globals {
        params: params(),
        echo_client_id: true,
        decline_probation_period: 86400,
        host_reservation_identifiers: [
            IdentifierType::HwAddress,
            IdentifierType::Duid,
            IdentifierType::CircuitId,
            IdentifierType::ClientId,
            IdentifierType::FlexId,
        ],
        identifier_count: 4,
        ip_reservations_unique: true,
        lease_checks: LeaseChecks::Warn,
        lease_database: LeaseDatabase {
            persist: false,
            name: TextRef::EMPTY,
            lfc_interval: 3600,
            max_row_errors: 0,
        },
        interfaces: InterfacesConfig {
            interfaces: IndexRange::EMPTY,
            socket_type: SocketType::Raw,
            use_routing: false,
            re_detect: true,
            require_all: false,
            retry_wait_ms: 5000,
            max_retries: 0,
        },
        control_socket: None,
        expired_leases: ExpiredLeasesProcessing {
            reclaim_timer_wait_time: 10,
            flush_reclaimed_timer_wait_time: 25,
            hold_reclaimed_time: 3600,
            max_reclaim_leases: 100,
            max_reclaim_time: 250,
            unwarned_reclaim_cycles: 5,
        },
        server_tag: TextRef::EMPTY,
        options,
        option_defs: IndexRange::EMPTY,
        reservations: IndexRange::EMPTY,
        classes: IndexRange::EMPTY,
        loggers: IndexRange::EMPTY,
        hooks: IndexRange::EMPTY,
        user_context: TextRef::EMPTY,
    }
}

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
    // 198.18.0.0/22, pool .0.10 – .3.250 (1,009 addresses).
    let mut text = Vec::new();
    text.extend_from_slice(&[198, 18, 0, 1]); // routers
    text.extend_from_slice(&[198, 18, 0, 53]); // dns
    text.extend_from_slice(b"wren.test");
    let options = [
        OptionValue {
            code: 3,
            space: OptionSpace::Dhcp4,
            always_send: false,
            payload: TextRef { offset: 0, len: 4 },
        },
        OptionValue {
            code: 6,
            space: OptionSpace::Dhcp4,
            always_send: false,
            payload: TextRef { offset: 4, len: 4 },
        },
        OptionValue {
            code: 15,
            space: OptionSpace::Dhcp4,
            always_send: false,
            payload: TextRef { offset: 8, len: 9 },
        },
    ];
    let pools = [Pool {
        first: Ipv4Addr::new(198, 18, 0, 10),
        last: Ipv4Addr::new(198, 18, 3, 250),
        options: IndexRange::EMPTY,
        client_class: TextRef::EMPTY,
        require_client_classes: IndexRange::EMPTY,
        user_context: TextRef::EMPTY,
    }];
    let subnets = [Subnet {
        id: 1,
        prefix: Ipv4Prefix {
            address: Ipv4Addr::new(198, 18, 0, 0),
            len: 22,
        },
        shared_network: None,
        pools: IndexRange { start: 0, len: 1 },
        reservations: IndexRange::EMPTY,
        options: IndexRange { start: 0, len: 3 },
        interface: TextRef::EMPTY,
        relay_addresses: IndexRange::EMPTY,
        client_class: TextRef::EMPTY,
        require_client_classes: IndexRange::EMPTY,
        params: params(),
        user_context: TextRef::EMPTY,
    }];
    let config = Config {
        globals: globals(IndexRange::EMPTY),
        subnets: &subnets,
        shared_networks: &[],
        pools: &pools,
        reservations: &[],
        options: &options,
        option_defs: &[],
        classes: &[],
        loggers: &[],
        hooks: &[],
        addresses: &[],
        names: &[],
        text: &text,
        reservations_by_identifier: HashIndexView::default(),
        reservations_by_address: HashIndexView::default(),
    };

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
    let mut slots = vec![StoredLease::EMPTY; usize::from(CLIENTS) + 8];
    let mut store = ArrayLeaseStore::new(&mut slots);
    let mut cursors = vec![Ipv4Addr::UNSPECIFIED; subnets.len()];
    let mut engine = Engine::new(&config, &mut store, &mut cursors);
    let mut reply = [0u8; 1500];
    let mut sink = CountingSink(0);
    let mut followups: Vec<Vec<u8>> = Vec::with_capacity(3);
    let interface = Interface {
        name: "veth0",
        addresses: &server,
        mac: [2, 0, 0, 0, 0, 1],
    };
    fn broadcast<'p>(payload: &'p [u8], interface: Interface<'p>) -> Query<'p> {
        Query {
            payload,
            interface,
            source_ip: Ipv4Addr::UNSPECIFIED,
            source_port: 68,
            destination_ip: Ipv4Addr::BROADCAST,
            source_mac: [2, 0, 0, 0, 0, 2],
            transport: Transport::Raw,
        }
    }

    let mut offered = Vec::with_capacity(usize::from(CLIENTS));
    for (i, discover) in exchanges.iter().enumerate() {
        // Warm-up on the first client only: anything lazily initialised happens here.
        if i == 1 {
            ALLOCATIONS.store(0, Ordering::Relaxed);
            COUNTING.with(|c| c.set(true));
        }
        let now = Timestamp(1_800_000_000 + i as u64);
        let Outcome::Reply { summary, .. } =
            engine.handle(&broadcast(discover, interface), now, &mut reply, &mut sink)
        else {
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

        let o = engine.handle(
            &broadcast(&followups[0], interface),
            now,
            &mut reply,
            &mut sink,
        );
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
}
