//! Owned storage for integration tests: a parsed config and a lease table, in `Vec`s
//! allocated before the engine runs (the daemon does the same once at start-up).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use wren_core::config::{self, *};
use wren_core::lease::occupancy::{OccupancySizes, OccupancyStorage, PoolBits, SortedPool};
use wren_core::lease::table::{LeaseSlot, LeaseStorage};
use wren_core::lease::LeaseTable;

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
        let cap = config::measure(text).expect("config measures");
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
        let storage = ConfigStorage {
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
        };
        config::parse(text, storage, &mut |_| {}).expect("config parses")
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
