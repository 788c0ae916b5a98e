//! Shared helpers of the core's integration tests: owned storage for a parsed config and a
//! lease table, in `Vec`s allocated before the engine runs (the daemon does the same once
//! at start-up), and the client packets the engine tests send.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use wren_core::config::{self, *};
use wren_core::lease::occupancy::{OccupancySizes, OccupancyStorage, PoolBits, SortedPool};
use wren_core::lease::table::{LeaseSlot, LeaseStorage};
use wren_core::lease::LeaseTable;
use wren_core::server::{Interface, Query, Transport};

/// Storage for a configuration parsed from text.
pub struct ConfigStore {
    subnets: Vec<Subnet>,
    shared_networks: Vec<SharedNetwork>,
    pools: Vec<Pool>,
    reservations: Vec<Reservation>,
    options: Vec<OptionValue>,
    option_defs: Vec<CustomOptionDef>,
    classes: Vec<ClientClass>,
    loggers: Vec<Logger>,
    hooks: Vec<HookLibrary>,
    addresses: Vec<Ipv4Addr>,
    names: Vec<TextRef>,
    text: Vec<u8>,
    id_slots: Vec<u32>,
    addr_slots: Vec<u32>,
}

impl ConfigStore {
    /// Storage measured for `text`.
    pub fn for_text(text: &str) -> Self {
        Self::for_capacity(&config::measure(text).expect("config measures"))
    }

    /// Storage of exactly `cap` (what `config::measure` asked for).
    pub fn for_capacity(cap: &Capacity) -> Self {
        ConfigStore {
            subnets: vec![Subnet::EMPTY; cap.subnets],
            shared_networks: vec![SharedNetwork::EMPTY; cap.shared_networks],
            pools: vec![Pool::EMPTY; cap.pools],
            reservations: vec![Reservation::EMPTY; cap.reservations],
            options: vec![OptionValue::EMPTY; cap.options],
            option_defs: vec![CustomOptionDef::EMPTY; cap.option_defs],
            classes: vec![ClientClass::EMPTY; cap.classes],
            loggers: vec![Logger::EMPTY; cap.loggers],
            hooks: vec![HookLibrary::EMPTY; cap.hooks],
            addresses: vec![Ipv4Addr::UNSPECIFIED; cap.addresses],
            names: vec![TextRef::EMPTY; cap.names],
            text: vec![0; cap.text],
            id_slots: vec![0; cap.reservation_id_slots],
            addr_slots: vec![0; cap.reservation_addr_slots],
        }
    }

    /// Parses `text` into the storage.
    pub fn parse(&mut self, text: &str) -> Config<'_> {
        config::parse(text, self.storage(), &mut |_| {}).expect("config parses")
    }

    /// The storage as `config::parse` takes it.
    pub fn storage(&mut self) -> ConfigStorage<'_> {
        ConfigStorage {
            subnets: &mut self.subnets,
            shared_networks: &mut self.shared_networks,
            pools: &mut self.pools,
            reservations: &mut self.reservations,
            options: &mut self.options,
            option_defs: &mut self.option_defs,
            classes: &mut self.classes,
            loggers: &mut self.loggers,
            hooks: &mut self.hooks,
            addresses: &mut self.addresses,
            names: &mut self.names,
            text: &mut self.text,
            reservation_id_slots: &mut self.id_slots,
            reservation_addr_slots: &mut self.addr_slots,
        }
    }
}

/// Storage for a lease table of `capacity` leases over `pools`.
pub struct LeaseStore {
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

impl LeaseStore {
    pub fn new(capacity: usize, pools: &[Pool]) -> Self {
        let s = LeaseStorage::sizes_for(capacity);
        let o = OccupancySizes::for_pools(pools);
        LeaseStore {
            leases: vec![LeaseSlot::default(); s.leases],
            by_address: vec![0; s.index_slots],
            by_client_id: vec![0; s.index_slots],
            by_hwaddr: vec![0; s.index_slots],
            expiry: vec![0; s.expiry],
            text: vec![0; s.text_bytes],
            pools: vec![PoolBits::default(); o.pools],
            sorted: vec![SortedPool::default(); o.pools],
            held: vec![0; o.words],
            reserved: vec![0; o.words],
        }
    }

    pub fn table(&mut self, pools: &[Pool]) -> LeaseTable<'_> {
        let mut t = LeaseTable::new(LeaseStorage {
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
        .expect("lease storage fits");
        t.set_pools(pools).expect("pools fit");
        t
    }
}

/// A BOOTREQUEST from `mac` (Ethernet) with transaction id `xid`, the magic cookie,
/// `options` and END, padded to 300 bytes as dhclient pads it.
pub fn client_packet(xid: u32, mac: [u8; 6], options: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&xid.to_be_bytes());
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(options);
    p.push(255);
    p.resize(p.len().max(300), 0);
    p
}

/// The options of a reply, in order (code, value), up to END.
pub fn reply_options(reply: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut v = Vec::new();
    let mut i = 240;
    while i < reply.len() && reply[i] != 255 {
        let l = reply[i + 1] as usize;
        v.push((reply[i], reply[i + 2..i + 2 + l].to_vec()));
        i += 2 + l;
    }
    v
}

/// A query broadcast by a client without an address (0.0.0.0:68 to 255.255.255.255) from
/// `source_mac`, received on `interface` through `transport`.
pub fn broadcast_query<'a>(
    payload: &'a [u8],
    interface: Interface<'a>,
    source_mac: [u8; 6],
    transport: Transport,
) -> Query<'a> {
    Query {
        payload,
        interface,
        source_ip: Ipv4Addr::UNSPECIFIED,
        source_port: 68,
        destination_ip: Ipv4Addr::BROADCAST,
        source_mac,
        transport,
    }
}
