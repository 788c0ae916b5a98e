//! Where the daemon's traits meet the core and the lease file: the lease table in storage
//! the daemon allocates, the lease file opened and loaded into it, and the core engine as
//! the packet path's [`Engine`], with Kea's log line per decision. (The lease file itself
//! is the packet path's `Journal`: `lease_file` implements it.)

use std::io;
use std::net::Ipv4Addr;

use wren_core::assign::LeaseStore;
use wren_core::classify::{self, CompiledClass, CompiledClassTests, ExprStore, ExprView, Op};
use wren_core::config::Config;
use wren_core::lease::occupancy::{PoolBits, SortedPool};
use wren_core::lease::{
    LeaseRecord, LeaseSlot, LeaseStorage, LeaseTable, OccupancySizes, OccupancyStorage,
};
use wren_core::server::trace::{ArrivalText, PacketText};
use wren_core::server::{
    self, Destination, Event, LeaseSink, MessageType, Outcome, Query, Summary, TraceLine,
};
use wren_core::stats::Stats;
use wren_core::time::Timestamp;
use wren_core::wire::Message;

use crate::lease_file::{self, LeaseFile, OpenOptions, TableSink};
use crate::logging::{self, ClientLabel};
use crate::packet_path::Engine;
use crate::trace::{Tracer, Verdict};

/// Leases beyond the pools' addresses the table keeps room for: out-of-pool reservations
/// and leases of subnets a reload removed.
const LEASE_HEADROOM: usize = 1024;

/// The lease table capacity a configuration needs: every pool address plus headroom.
pub fn lease_capacity(config: &Config<'_>) -> usize {
    let pool_addresses: u64 = config.pools.iter().map(|p| p.size()).sum();
    usize::try_from(pool_addresses)
        .unwrap_or(usize::MAX)
        .saturating_add(config.reservations.len())
        .saturating_add(LEASE_HEADROOM)
        .min(wren_core::lease::table::CAPACITY_MAX)
}

/// The lease table's storage, one `Vec` per slice.
#[derive(Debug)]
pub struct OwnedLeaseStorage {
    leases: Vec<LeaseSlot>,
    by_address: Vec<u32>,
    by_client_id: Vec<u32>,
    by_hwaddr: Vec<u32>,
    expiry: Vec<u32>,
    text: Vec<u8>,
    pools: Vec<PoolBits>,
    sorted: Vec<SortedPool>,
    held: Vec<u64>,
    reserved: Vec<u64>,
}

/// `n` lease slots in zeroed memory (`calloc`: for a table of any real size, fresh pages
/// the kernel maps on first touch). The table writes a slot only when it first holds a lease
/// ([`LeaseTable::new`]), so resident memory follows the leases held, not the pools' size:
/// the benchmark's /15 pool costs 11.6 MB of address space and nothing resident until used.
/// The other slices (`vec![0; n]`) are zeroed the same way by `vec!`'s own `calloc` path.
fn zeroed_slots(n: usize) -> Vec<LeaseSlot> {
    let Ok(layout) = std::alloc::Layout::array::<LeaseSlot>(n) else {
        return vec![LeaseSlot::default(); n]; // unreachable size: let `vec!` report it
    };
    if layout.size() == 0 {
        return Vec::new();
    }
    // SAFETY: `layout` has a non-zero size. The memory is zeroed, and all-zero bytes are a
    // valid `LeaseSlot` (every field is an integer or an array of integers, as its
    // documentation guarantees). `Vec::from_raw_parts` gets the pointer from the global
    // allocator with exactly the layout `Vec<LeaseSlot>` uses for `n` elements (so it frees
    // it correctly), with length = capacity = `n`, all initialised.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout).cast::<LeaseSlot>();
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Vec::from_raw_parts(ptr, n, n)
    }
}

impl OwnedLeaseStorage {
    /// Storage for `capacity` leases over the pools of `config`.
    pub fn for_config(config: &Config<'_>) -> OwnedLeaseStorage {
        let sizes = LeaseStorage::sizes_for(lease_capacity(config));
        let occupancy = OccupancySizes::for_pools(config.pools);
        OwnedLeaseStorage {
            leases: zeroed_slots(sizes.leases),
            by_address: vec![0; sizes.index_slots],
            by_client_id: vec![0; sizes.index_slots],
            by_hwaddr: vec![0; sizes.index_slots],
            expiry: vec![0; sizes.expiry],
            text: vec![0; sizes.text_bytes],
            pools: vec![PoolBits::default(); occupancy.pools],
            sorted: vec![SortedPool::default(); occupancy.pools],
            held: vec![0; occupancy.words],
            reserved: vec![0; occupancy.words],
        }
    }

    /// Builds an empty table over the storage, with `config`'s pools installed.
    pub fn table<'s>(&'s mut self, config: &Config<'_>) -> io::Result<LeaseTable<'s>> {
        let mut table = LeaseTable::new(LeaseStorage {
            leases: &mut self.leases,
            by_address: &mut self.by_address,
            by_client_id: &mut self.by_client_id,
            by_hwaddr: &mut self.by_hwaddr,
            expiry: &mut self.expiry,
            text: &mut self.text,
            occupancy: OccupancyStorage {
                pools: &mut self.pools,
                sorted: &mut self.sorted,
                held: &mut self.held,
                reserved: &mut self.reserved,
            },
        })
        .map_err(|e| io::Error::other(format!("lease table storage: {e:?}")))?;
        table
            .set_pools(config.pools)
            .map_err(|e| io::Error::other(format!("lease table pools: {e:?}")))?;
        Ok(table)
    }
}

/// A lease table together with the storage it borrows, for a server whose table outlives
/// any one configuration. The storage is boxed and turned into a raw pointer so the table
/// can borrow it for `'static`; it is freed only after that table is gone (on drop, and so
/// when [`OwnedLeaseTable::fit`] replaces a table too small for a reloaded configuration):
/// a reload may allocate, but nothing leaks and nothing is allocated per packet.
#[derive(Debug)]
pub struct OwnedLeaseTable {
    /// Borrows `*storage`; dropped before it (see `Drop`).
    table: std::mem::ManuallyDrop<LeaseTable<'static>>,
    /// From `Box::into_raw`; owned by this value.
    storage: std::ptr::NonNull<OwnedLeaseStorage>,
}

impl OwnedLeaseTable {
    /// An empty table sized for `config` ([`lease_capacity`]), with its pools installed.
    pub fn for_config(config: &Config<'_>) -> io::Result<OwnedLeaseTable> {
        let storage =
            std::ptr::NonNull::from(Box::leak(Box::new(OwnedLeaseStorage::for_config(config))));
        // SAFETY: `storage` is a live, unaliased allocation owned by the value built here
        // (or freed right below); the table is its only borrower and is dropped before it.
        // `LeaseTable` hands out nothing with its storage lifetime (only `&self`-bound
        // borrows), so no reference to the storage outlives the table.
        match unsafe { &mut *storage.as_ptr() }.table(config) {
            Ok(table) => Ok(OwnedLeaseTable {
                table: std::mem::ManuallyDrop::new(table),
                storage,
            }),
            Err(e) => {
                // SAFETY: from `Box::leak` above; the failed table borrowed nothing.
                drop(unsafe { Box::from_raw(storage.as_ptr()) });
                Err(e)
            }
        }
    }

    /// The table. `'static` is what the engine and the lease file are built over; the
    /// borrow of `self` keeps the storage alive while it is used. Callers never replace
    /// the table through this reference (only [`OwnedLeaseTable::fit`] does).
    pub fn table(&mut self) -> &mut LeaseTable<'static> {
        &mut self.table
    }

    /// Makes the table fit `config`'s pools: installs them, or, when they outgrow the
    /// storage, allocates a table sized for `config`, copies every lease into it and drops
    /// the old table and its storage. Returns whether the table was replaced.
    pub fn fit(&mut self, config: &Config<'_>) -> io::Result<bool> {
        let needed = lease_capacity(config);
        if needed <= self.table.capacity() && self.table.set_pools(config.pools).is_ok() {
            return Ok(false);
        }
        log::info!(
            "WREN_LEASE_TABLE_GROW lease table resized from {} to {needed} leases",
            self.table.capacity()
        );
        let mut bigger = OwnedLeaseTable::for_config(config)?;
        for (_, lease) in self.table.iter() {
            if let Err(e) = bigger.table.apply(&lease) {
                log::error!(
                    "lease {} lost while resizing the table: {e:?}",
                    lease.address
                );
            }
        }
        *self = bigger; // drops the old table, then its storage
        Ok(true)
    }
}

impl Drop for OwnedLeaseTable {
    fn drop(&mut self) {
        // SAFETY: the table is dropped exactly once, here, before the storage it borrows;
        // the storage came from `Box::leak` in `for_config` and is freed exactly once.
        unsafe {
            std::mem::ManuallyDrop::drop(&mut self.table);
            drop(Box::from_raw(self.storage.as_ptr()));
        }
    }
}

/// `expired-leases-processing` as the engine glue needs it.
#[derive(Clone, Copy, Debug)]
pub struct Reclamation {
    /// `max-reclaim-leases` (0 = no limit).
    pub max_leases: usize,
    /// `hold-reclaimed-time`, s.
    pub hold_reclaimed_time: u32,
}

impl Reclamation {
    /// From a configuration.
    pub fn from_config(config: &Config<'_>) -> Reclamation {
        let e = &config.globals.expired_leases;
        Reclamation {
            max_leases: match e.max_reclaim_leases {
                0 => usize::MAX,
                n => n as usize,
            },
            hold_reclaimed_time: e.hold_reclaimed_time,
        }
    }
}

/// The core engine over a configuration and the lease table.
pub struct CoreEngine<'c, 't, 's> {
    config: Config<'c>,
    table: &'t mut LeaseTable<'s>,
    cursors: Vec<Ipv4Addr>,
    reclamation: Reclamation,
    /// [control API] Kea's statistics, fed by every decision (`statistic-get`, `/metrics`).
    stats: Option<&'t mut Stats<'static>>,
    /// [control API] False after `dhcp-disable`.
    serving: bool,
    /// The configured classes' `test`s, compiled once per config load.
    classes: CompiledClasses<'c>,
    /// Log-line context, reused for every query (nothing allocated per packet).
    label: LabelScratch,
    /// [HA] `HA_<peer>` of the next query (set by `crate::ha::engine`), empty for none.
    hook_class: &'static [u8],
    /// `-p` / `-P`: the core decides every reply's port from them ([`server::Engine::with_ports`]).
    ports: (u16, u16),
    /// [packet trace] Whether to trace a packet, and its line buffer.
    tracer: Tracer,
}

/// The configured classes compiled by the classification module (storage sized by
/// `classify::storage_needed`), and the per-packet class bits the engine fills.
pub(crate) struct CompiledClasses<'c> {
    ops: Vec<Op>,
    literals: Vec<u8>,
    classes: Vec<CompiledClass<'c>>,
    bits: Vec<u64>,
}

impl<'c> CompiledClasses<'c> {
    /// Compiles every class `test` of `config`, or says which class's test does not
    /// compile (`Dhcp4.client-classes[i].test: client class "X": test: column N: …`). The
    /// config load runs this first ([`crate::config_load::check_class_tests`]) so a bad test
    /// fails `-t`, start and reload, as in Kea.
    pub(crate) fn try_compile(config: &Config<'c>) -> Result<Self, String> {
        let (ops_needed, literals_needed) = classify::storage_needed(config);
        let mut ops = vec![Op::And; ops_needed];
        let mut literals = vec![0u8; literals_needed];
        let empty = CompiledClass {
            name: &[],
            test: None,
            only_if_required: false,
        };
        let mut classes = vec![empty; config.classes.len()];
        let mut store = ExprStore::new(&mut ops, &mut literals);
        classify::compile_config_classes(config, &mut store, &mut classes)
            .map_err(|e| format!("Dhcp4.client-classes[{}].test: {e}", e.class))?;
        Ok(CompiledClasses {
            ops,
            literals,
            bits: vec![0; server::class_words(classes.len())],
            classes,
        })
    }

    /// [`CompiledClasses::try_compile`] for a config the load already checked; should a test
    /// still not compile, it is logged and the engine runs with the built-in classes only.
    fn compile(config: &Config<'c>) -> Self {
        Self::try_compile(config).unwrap_or_else(|e| {
            log::error!("DHCP4_PARSER_FAIL {e}: class tests are not evaluated");
            CompiledClasses {
                ops: Vec::new(),
                literals: Vec::new(),
                classes: Vec::new(),
                bits: Vec::new(),
            }
        })
    }
}

/// What a lease event's log line names besides the [`Summary`]: Kea's client label takes
/// `htype` and the client identifier (option 61) from the query (`Pkt4::getLabel`), and wren
/// adds the hostname the lease was stored with (option 12 / 81 or a reservation's), taken
/// from the record the engine hands the [`LeaseSink`]; without a stored lease (an OFFER),
/// the query's option 12.
struct LabelScratch {
    /// [`Message::parse`] scratch: at least as long as any payload it parses.
    options: Vec<u8>,
    /// The hostname of the last lease the engine stored for this query.
    hostname: [u8; HOSTNAME_MAX],
    hostname_len: usize,
}

/// A DNS name is at most 255 bytes (RFC 1035 §2.3.4); longer hostnames are logged cut.
const HOSTNAME_MAX: usize = 255;

/// The largest UDP payload (a DHCP message never comes close; the scratch is allocated once).
const PAYLOAD_MAX: usize = 65_535;

impl LabelScratch {
    fn new() -> LabelScratch {
        LabelScratch {
            options: vec![0; PAYLOAD_MAX],
            hostname: [0; HOSTNAME_MAX],
            hostname_len: 0,
        }
    }
}

/// Forwards every record to the real sink and keeps the last stored lease's hostname.
struct HostnameTap<'a, S: LeaseSink> {
    sink: &'a mut S,
    hostname: &'a mut [u8; HOSTNAME_MAX],
    hostname_len: &'a mut usize,
}

impl<S: LeaseSink> LeaseSink for HostnameTap<'_, S> {
    fn lease_changed(&mut self, record: &LeaseRecord<'_>) {
        self.sink.lease_changed(record);
        if record.is_removal() {
            return;
        }
        let mut len = record.hostname.len().min(HOSTNAME_MAX);
        while !record.hostname.is_char_boundary(len) {
            len -= 1;
        }
        let name = record.hostname.as_bytes().get(..len).unwrap_or(&[]);
        if let Some(slot) = self.hostname.get_mut(..len) {
            slot.copy_from_slice(name);
            *self.hostname_len = len;
        }
    }
}

impl<'c, 't, 's> CoreEngine<'c, 't, 's> {
    /// An engine over `config` and `table` (allocates the allocator's per-subnet cursors).
    pub fn new(config: Config<'c>, table: &'t mut LeaseTable<'s>) -> Self {
        CoreEngine {
            cursors: vec![Ipv4Addr::UNSPECIFIED; config.subnets.len()],
            reclamation: Reclamation::from_config(&config),
            config,
            table,
            stats: None,
            serving: true,
            classes: CompiledClasses::compile(&config),
            label: LabelScratch::new(),
            hook_class: &[],
            ports: (
                wren_core::server::destination::SERVER_PORT,
                wren_core::server::destination::CLIENT_PORT,
            ),
            tracer: Tracer::default(),
        }
    }

    /// kea-dhcp4's `-p` / `-P` ports, passed to the core engine (which applies Kea's rule:
    /// a client port other than 68 receives every reply, relayed ones included).
    pub fn with_ports(mut self, server_port: u16, client_port: u16) -> Self {
        self.ports = (server_port, client_port);
        self
    }

    /// [control API] Counts every decision and reclamation into `stats`.
    pub fn with_stats(mut self, stats: &'t mut Stats<'static>) -> Self {
        self.stats = Some(stats);
        self
    }
}

/// Kea's label for the query behind `summary` (`htype`, chaddr, option 61, xid) plus the
/// hostname: the stored lease's (`stored`) or else the query's option 12.
fn client_label<'a>(
    summary: &'a Summary,
    query: Option<&Message<'a>>,
    stored: &'a [u8],
) -> ClientLabel<'a> {
    let hwaddr = summary
        .hwaddr
        .get(..usize::from(summary.hwaddr_len))
        .unwrap_or(&[]);
    let hostname = match (stored, query.and_then(Message::hostname)) {
        ([], Some(asked)) => asked,
        (stored, _) => stored,
    };
    ClientLabel {
        htype: query.map_or(1, |q| q.header().htype()),
        hwaddr,
        client_id: query.and_then(Message::client_identifier).unwrap_or(&[]),
        xid: summary.xid,
        hostname: core::str::from_utf8(hostname).unwrap_or(""),
    }
}

/// Logs a lease event with Kea's message id and label (see [`LabelScratch`]).
fn log_summary(summary: &Summary, payload: &[u8], label: &mut LabelScratch) {
    // At Kea's usual WARN severity nothing below is written: skip the label's option parse
    // (a second parse of every query) and the formatting.
    #[cfg(not(test))]
    if !log::log_enabled!(target: logging::TARGET_LEASES, log::Level::Info) {
        return;
    }
    let stored = label.hostname.get(..label.hostname_len).unwrap_or(&[]);
    let query = label
        .options
        .get_mut(..payload.len())
        .and_then(|scratch| Message::parse(payload, scratch).ok());
    let client = client_label(summary, query.as_ref(), stored);
    let address = summary.address.unwrap_or(Ipv4Addr::UNSPECIFIED);
    match summary.event {
        Event::Offered => logging::lease_advert(&client, address),
        Event::Allocated | Event::Renewed => {
            logging::lease_alloc(&client, address, summary.lifetime)
        }
        Event::Released => logging::release(&client, address),
        Event::Declined => logging::decline_lease(&client, address, summary.lifetime),
        other => log::debug!("{client}: {:?} {other:?} {address}", summary.query),
    }
}

impl Engine for CoreEngine<'_, '_, '_> {
    fn handle<S: LeaseSink>(
        &mut self,
        query: &Query<'_>,
        now: Timestamp,
        reply: &mut [u8],
        sink: &mut S,
    ) -> Option<(usize, Destination)> {
        let tracing = self.tracer.decide(query.payload); // [packet trace]
        if !self.serving {
            log::debug!("DHCP4_PACKET_DROP_0008 DHCP service is disabled (dhcp-disable)");
            self.tracer.write(tracing, &NotServed(query));
            return None; // [control API]
        }
        // The table is the engine's LeaseStore (core: indexes and pool occupancy bitmaps).
        let store: &mut dyn LeaseStore = &mut *self.table;
        let (server_port, client_port) = self.ports;
        let mut engine = server::Engine::new(&self.config, store, &mut self.cursors)
            .with_ports(server_port, client_port)
            .with_hook_class(self.hook_class); // [HA]
        let tests = CompiledClassTests {
            view: ExprView {
                ops: &self.classes.ops,
                literals: &self.classes.literals,
            },
            classes: &self.classes.classes,
        };
        if !self.classes.classes.is_empty() {
            engine = engine.with_class_tests(&tests, &mut self.classes.bits);
        }
        engine = engine.with_trace(tracing != Verdict::Off);
        self.label.hostname_len = 0;
        let mut tap = HostnameTap {
            sink,
            hostname: &mut self.label.hostname,
            hostname_len: &mut self.label.hostname_len,
        };
        let outcome = engine.handle(query, now, reply, &mut tap);
        if tracing != Verdict::Off {
            let record = *engine.decision();
            self.tracer.write(
                tracing,
                &TraceLine {
                    query,
                    record: &record,
                    outcome: &outcome,
                    reply,
                    config: &self.config,
                },
            );
        }
        if let Some(stats) = self.stats.as_deref_mut() {
            stats.record_outcome(&outcome, query.payload, now); // [control API]
        }
        match outcome {
            Outcome::Reply {
                len,
                destination,
                kind,
                summary,
            } => {
                if kind == MessageType::Nak {
                    log::info!(
                        "DHCP4_PACKET_NAK xid=0x{:x}: NAK for {:?}",
                        summary.xid,
                        summary.address
                    );
                } else {
                    log_summary(&summary, query.payload, &mut self.label);
                }
                Some((len, destination))
            }
            Outcome::Done(summary) => {
                log_summary(&summary, query.payload, &mut self.label);
                None
            }
            Outcome::Drop(reason) => {
                log::debug!("DHCP4_PACKET_DROP_0001 dropped: {reason:?}");
                None
            }
        }
    }

    fn reclaim_expired<S: LeaseSink>(&mut self, now: Timestamp, sink: &mut S) -> usize {
        let r = self.reclamation;
        let mut stats = self.stats.as_deref_mut();
        let reclaimed =
            self.table
                .reclaim_expired(now, r.max_leases, r.hold_reclaimed_time, |record| {
                    if let Some(s) = stats.as_deref_mut() {
                        s.record_reclaimed(record, now); // [control API]
                    }
                    sink.lease_changed(record)
                });
        let flushed =
            self.table
                .flush_reclaimed(now, r.max_leases, r.hold_reclaimed_time, |record| {
                    sink.lease_changed(record)
                });
        reclaimed + flushed
    }

    fn with_leases(&self, f: &mut dyn FnMut(&mut dyn Iterator<Item = LeaseRecord<'_>>)) {
        f(&mut self.table.iter().map(|(_, record)| record));
    }

    // [HA]
    fn set_hook_class(&mut self, class: &'static [u8]) {
        self.hook_class = class;
    }

    // [control API]
    fn set_serving(&mut self, serving: bool) {
        self.serving = serving;
    }

    // [packet trace]
    fn attach_trace(&mut self, switch: crate::trace::SharedSwitch) {
        self.tracer.attach(switch);
    }

    // [control API]
    fn with_control(
        &mut self,
        f: &mut dyn FnMut(&Config<'_>, &mut LeaseTable<'_>, Option<&mut Stats<'_>>),
    ) {
        f(&self.config, self.table, self.stats.as_deref_mut());
    }
}

/// [packet trace] The line of a query dropped because `dhcp-disable` is in force.
struct NotServed<'a>(&'a Query<'a>);

impl std::fmt::Display for NotServed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "recv {} {} | decision: result=drop (DHCP service disabled by dhcp-disable)",
            PacketText(self.0.payload),
            ArrivalText(self.0)
        )
    }
}

/// Kea's shortest lease row (no client-id, hostname or user context) is about 56 bytes.
const SHORTEST_ROW_BYTES: u64 = 56;

/// At most how many rows the lease file set at `path` holds (the journal, `.1`, `.2`,
/// `.completed`): its size over the shortest row. The table widens its indexes for that many
/// before the load ([`LeaseTable::reserve`]) instead of rehashing as they fill; a file of
/// long rows or of many rewrites of the same address only makes the estimate generous.
fn estimated_rows(path: &std::path::Path) -> usize {
    let bytes: u64 = ["", ".1", ".2", ".completed"]
        .iter()
        .filter_map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(name).ok()
        })
        .map(|m| m.len())
        .sum();
    usize::try_from(bytes / SHORTEST_ROW_BYTES).unwrap_or(usize::MAX)
}

/// Opens the lease file named by `config` and loads it into `table` (Kea's journal rules
/// and `sanity-checks.lease-checks`, through [`TableSink`]). A file set in another Kea
/// schema is rewritten at once, as Kea runs LFC in that case.
pub fn open_lease_file(
    config: &Config<'_>,
    table: &mut LeaseTable<'_>,
) -> Result<(LeaseFile, lease_file::LoadReport), lease_file::Error> {
    let options = OpenOptions::from_config(config);
    let expected_rows = if options.persist {
        estimated_rows(options.path.unwrap_or(lease_file::default_path()))
    } else {
        0
    };
    // The address index is widened up front for the file's rows; the client-id and
    // hardware-address indexes are built once after the load instead of row by row
    // (LeaseTable::begin_bulk_load), also when the load fails.
    table.begin_bulk_load(expected_rows);
    let opened = LeaseFile::open(
        &options,
        &mut TableSink::new(table, config, config.globals.lease_checks),
    );
    table.finish_bulk_load();
    let (mut file, report) = opened?;
    if report.needs_compaction {
        file.compact(table.iter().map(|(_, r)| r))?;
    }
    Ok((file, report))
}

#[cfg(test)]
mod label_tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.trim().len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../core/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        hex(&std::fs::read_to_string(path).unwrap())
    }

    fn summary(payload: &[u8]) -> Summary {
        let mut hwaddr = [0u8; 16];
        hwaddr[..6].copy_from_slice(&payload[28..34]);
        Summary {
            query: MessageType::Request,
            event: Event::Allocated,
            address: Some(Ipv4Addr::new(198, 18, 0, 20)),
            subnet_id: Some(1),
            lifetime: 172_800,
            xid: u32::from_be_bytes(payload[4..8].try_into().unwrap()),
            hwaddr,
            hwaddr_len: 6,
            replaced: None,
            moved_from: None,
        }
    }

    /// udhcpc's REQUEST carries option 61 and a hostname: both are in the label, and a
    /// stored lease's hostname wins over the query's.
    #[test]
    fn label_names_client_id_and_hostname() {
        let payload = fixture("udhcpc-request.hex");
        let mut scratch = vec![0u8; payload.len()];
        let query = Message::parse(&payload, &mut scratch).unwrap();
        let cid = query.client_identifier().unwrap();
        let asked = core::str::from_utf8(query.hostname().unwrap()).unwrap();
        let summary = summary(&payload);
        let text = client_label(&summary, Some(&query), &[]).to_string();
        let cid_text: Vec<String> = cid.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            text.contains(&format!("cid=[{}]", cid_text.join(":"))),
            "{text}"
        );
        assert!(text.ends_with(&format!(", hostname={asked}")), "{text}");
        assert!(text.starts_with("[hwtype=1 "), "{text}");
        let stored = client_label(&summary, Some(&query), b"pi-kitchen").to_string();
        assert!(stored.ends_with(", hostname=pi-kitchen"), "{stored}");
        let unparsed = client_label(&summary, None, &[]).to_string();
        assert!(unparsed.contains("cid=[no info]"), "{unparsed}");
        assert!(!unparsed.contains("hostname="), "{unparsed}");
    }

    /// [packet trace] A query dropped under `dhcp-disable` still gets its whole packet and
    /// the reason.
    #[test]
    fn not_served_trace_line() {
        let payload = fixture("udhcpc-request.hex");
        let addresses = [Ipv4Addr::new(198, 18, 0, 1)];
        let query = Query {
            payload: &payload,
            interface: wren_core::server::Interface {
                name: "eth0",
                addresses: &addresses,
                mac: [2, 0, 0, 0, 0, 1],
            },
            source_ip: Ipv4Addr::UNSPECIFIED,
            source_port: 68,
            destination_ip: Ipv4Addr::BROADCAST,
            source_mac: [2, 0, 0, 0, 0, 2],
            transport: wren_core::server::Transport::Raw,
        };
        let line = NotServed(&query).to_string();
        assert!(line.starts_with("recv DHCPREQUEST xid=0x"), "{line}");
        assert!(line.contains("options: message-type=REQUEST"), "{line}");
        assert!(line.contains("via=eth0 src=0.0.0.0:68"), "{line}");
        assert!(
            line.ends_with("| decision: result=drop (DHCP service disabled by dhcp-disable)"),
            "{line}"
        );
    }

    /// The tap passes every record on and keeps the last stored lease's hostname.
    #[test]
    fn tap_keeps_the_stored_hostname() {
        struct Count(usize);
        impl LeaseSink for Count {
            fn lease_changed(&mut self, _: &LeaseRecord<'_>) {
                self.0 += 1;
            }
        }
        let (mut sink, mut name, mut len) = (Count(0), [0u8; HOSTNAME_MAX], 0);
        let mut tap = HostnameTap {
            sink: &mut sink,
            hostname: &mut name,
            hostname_len: &mut len,
        };
        let mut record = LeaseRecord {
            address: Ipv4Addr::new(198, 18, 0, 20),
            hwaddr: &[2, 0, 0, 0, 0, 1],
            client_id: &[],
            valid_lifetime: 600,
            cltt: Timestamp(0),
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: "pi",
            state: wren_core::lease::LeaseState::Default,
            user_context: "",
        };
        tap.lease_changed(&record);
        record.valid_lifetime = 0; // a removal does not replace it
        record.hostname = "";
        tap.lease_changed(&record);
        assert_eq!(sink.0, 2);
        assert_eq!(&name[..len], b"pi");
    }
}

#[cfg(test)]
mod owned_table_tests {
    use super::*;
    use std::path::Path;
    use wren_core::lease::LeaseState;

    fn config_text(pool: &str) -> String {
        format!(
            r#"{{ "Dhcp4": {{ "subnet4": [ {{ "id": 1, "subnet": "198.18.0.0/15",
                 "pools": [ {{ "pool": "{pool}" }} ] }} ] }} }}"#
        )
    }

    fn lease(address: Ipv4Addr) -> LeaseRecord<'static> {
        LeaseRecord {
            address,
            hwaddr: &[0x02, 0, 0, 0, 0, 0x20],
            client_id: &[0x01, 0x02, 0, 0, 0, 0, 0x20],
            valid_lifetime: 3600,
            cltt: Timestamp(1_000),
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: "pi",
            state: LeaseState::Default,
            user_context: "",
        }
    }

    /// A reload whose pools outgrow the table hands the leases over to a larger table (the
    /// old one and its storage are dropped, not leaked); one that fits keeps the table.
    #[test]
    fn fit_hands_leases_over_to_a_larger_table() {
        let path = Path::new("test.conf");
        let small_text = config_text("198.18.0.10 - 198.18.0.20");
        let mut small_storage = crate::config_load::allocate(path, &small_text).unwrap();
        let small =
            crate::config_load::parse(path, &small_text, &mut small_storage, &mut Vec::new())
                .unwrap();
        let mut owned = OwnedLeaseTable::for_config(&small).unwrap();
        let address = Ipv4Addr::new(198, 18, 0, 12);
        owned.table().apply(&lease(address)).unwrap();
        let small_capacity = owned.table().capacity();
        assert!(!owned.fit(&small).unwrap(), "same pools: the table stays");

        let big_text = config_text("198.18.0.10 - 198.19.255.200");
        let mut big_storage = crate::config_load::allocate(path, &big_text).unwrap();
        let big =
            crate::config_load::parse(path, &big_text, &mut big_storage, &mut Vec::new()).unwrap();
        assert!(owned.fit(&big).unwrap(), "outgrown: a new table");
        assert!(owned.table().capacity() > small_capacity);
        assert_eq!(owned.table().capacity(), lease_capacity(&big));
        let kept = owned.table().get(address).unwrap();
        assert_eq!(kept.hostname, "pi");
        assert_eq!(kept.client_id, lease(address).client_id);
        assert_eq!(owned.table().iter().count(), 1);
    }
}
