//! Hand-built configurations for the tests of `assign` and `server` (the model is plain data;
//! the tests do not wait for the parser).

use core::net::Ipv4Addr;
use std::vec::Vec;

use crate::config::*;
use crate::index::HashIndex;

/// Kea's defaults for the inheritable parameters (kea-config.md §2).
pub(crate) const DEFAULT_PARAMS: SubnetParams = SubnetParams::KEA_DEFAULT;

pub(crate) fn default_globals() -> Globals {
    Globals {
        params: DEFAULT_PARAMS,
        echo_client_id: true,
        decline_probation_period: 86400,
        statistic_sample_count: None,
        statistic_sample_age: None,
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
        options: IndexRange::EMPTY,
        option_defs: IndexRange::EMPTY,
        reservations: IndexRange::EMPTY,
        classes: IndexRange::EMPTY,
        loggers: IndexRange::EMPTY,
        hooks: IndexRange::EMPTY,
        user_context: TextRef::EMPTY,
        declared: DeclaredParams::NONE,
    }
}

trait TextRange {
    fn as_range_in_text(&self) -> core::ops::Range<usize>;
}

impl TextRange for TextRef {
    fn as_range_in_text(&self) -> core::ops::Range<usize> {
        self.offset as usize..(self.offset + self.len) as usize
    }
}

pub(crate) fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Where an option or reservation is attached.
#[derive(Clone, Copy)]
pub(crate) enum Level {
    Global,
    Subnet(usize),
    Pool(usize),
    Network(usize),
    Class(usize),
    Reservation(usize),
}

fn extend(range: &mut IndexRange, index: usize) {
    if range.len == 0 {
        range.start = index as u32;
    }
    assert_eq!(
        range.start as usize + range.len as usize,
        index,
        "fixture items of one owner must be added consecutively"
    );
    range.len += 1;
}

pub(crate) struct Fixture {
    pub globals: Globals,
    pub subnets: Vec<Subnet>,
    pub shared_networks: Vec<SharedNetwork>,
    pub pools: Vec<Pool>,
    pub reservations: Vec<Reservation>,
    pub options: Vec<OptionValue>,
    pub classes: Vec<ClientClass>,
    pub addresses: Vec<Ipv4Addr>,
    pub names: Vec<TextRef>,
    pub text: Vec<u8>,
    id_slots: Vec<u32>,
    addr_slots: Vec<u32>,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            globals: default_globals(),
            subnets: Vec::new(),
            shared_networks: Vec::new(),
            pools: Vec::new(),
            reservations: Vec::new(),
            options: Vec::new(),
            classes: Vec::new(),
            addresses: Vec::new(),
            names: Vec::new(),
            text: Vec::new(),
            id_slots: Vec::new(),
            addr_slots: Vec::new(),
        }
    }

    pub fn text(&mut self, bytes: &[u8]) -> TextRef {
        let r = TextRef {
            offset: self.text.len() as u32,
            len: bytes.len() as u32,
        };
        self.text.extend_from_slice(bytes);
        r
    }

    /// Adds a subnet `prefix` (`"198.18.1.0/24"`) with id `id`; returns its index.
    pub fn subnet(&mut self, id: u32, prefix: &str) -> usize {
        let (a, l) = prefix.split_once('/').unwrap();
        self.subnets.push(Subnet {
            id,
            prefix: Ipv4Prefix {
                address: ip(a),
                len: l.parse().unwrap(),
            },
            params: self.globals.params,
            ..Subnet::EMPTY
        });
        self.subnets.len() - 1
    }

    pub fn pool(&mut self, subnet: usize, first: &str, last: &str) -> usize {
        let i = self.pools.len();
        self.pools.push(Pool {
            first: ip(first),
            last: ip(last),
            options: IndexRange::EMPTY,
            client_class: TextRef::EMPTY,
            require_client_classes: IndexRange::EMPTY,
            user_context: TextRef::EMPTY,
        });
        extend(&mut self.subnets[subnet].pools, i);
        i
    }

    pub fn relay(&mut self, subnet: usize, addr: &str) {
        let i = self.addresses.len();
        self.addresses.push(ip(addr));
        extend(&mut self.subnets[subnet].relay_addresses, i);
    }

    pub fn interface(&mut self, subnet: usize, name: &str) {
        self.subnets[subnet].interface = self.text(name.as_bytes());
    }

    pub fn subnet_class(&mut self, subnet: usize, class: &str) {
        self.subnets[subnet].client_class = self.text(class.as_bytes());
    }

    /// Adds a shared network over the subnets `members` (which must be consecutive).
    pub fn network(&mut self, name: &str, members: core::ops::Range<usize>) -> usize {
        let n = self.shared_networks.len();
        let name = self.text(name.as_bytes());
        self.shared_networks.push(SharedNetwork {
            name,
            subnets: IndexRange {
                start: members.start as u32,
                len: members.len() as u32,
            },
            ..SharedNetwork::EMPTY
        });
        for s in members {
            self.subnets[s].shared_network = Some(n as u32);
        }
        n
    }

    /// Adds a reservation in subnet index `subnet` (`None`: global).
    pub fn reservation(
        &mut self,
        subnet: Option<usize>,
        kind: IdentifierType,
        identifier: &[u8],
        address: Option<&str>,
        hostname: &str,
    ) -> usize {
        let i = self.reservations.len();
        let identifier = self.text(identifier);
        let hostname = self.text(hostname.as_bytes());
        let subnet_id = subnet.map_or(0, |s| self.subnets[s].id);
        self.reservations.push(Reservation {
            subnet_id,
            identifier_type: kind,
            identifier,
            address: address.map(ip),
            hostname,
            next_server: None,
            server_hostname: TextRef::EMPTY,
            boot_file_name: TextRef::EMPTY,
            options: IndexRange::EMPTY,
            client_classes: IndexRange::EMPTY,
            user_context: TextRef::EMPTY,
        });
        match subnet {
            Some(s) => extend(&mut self.subnets[s].reservations, i),
            None => extend(&mut self.globals.reservations, i),
        }
        i
    }

    pub fn class(&mut self, name: &str) -> usize {
        let i = self.classes.len();
        let name = self.text(name.as_bytes());
        self.classes.push(ClientClass {
            name,
            test: TextRef::EMPTY,
            only_if_required: false,
            options: IndexRange::EMPTY,
            option_defs: IndexRange::EMPTY,
            next_server: None,
            server_hostname: TextRef::EMPTY,
            boot_file_name: TextRef::EMPTY,
            lifetimes: None,
            user_context: TextRef::EMPTY,
        });
        extend(&mut self.globals.classes, i);
        i
    }

    pub fn option(&mut self, level: Level, code: u8, payload: &[u8], always_send: bool) {
        let i = self.options.len();
        let payload = self.text(payload);
        self.options.push(OptionValue {
            code,
            space: OptionSpace::Dhcp4,
            always_send,
            payload,
        });
        let range = match level {
            Level::Global => &mut self.globals.options,
            Level::Subnet(s) => &mut self.subnets[s].options,
            Level::Pool(p) => &mut self.pools[p].options,
            Level::Network(n) => &mut self.shared_networks[n].options,
            Level::Class(c) => &mut self.classes[c].options,
            Level::Reservation(r) => &mut self.reservations[r].options,
        };
        extend(range, i);
    }

    /// The configuration, with the reservation indexes built as the parser builds them.
    pub fn config(&mut self) -> Config<'_> {
        let slots = (self.reservations.len() * 2 + 2).next_power_of_two();
        self.id_slots = std::vec![0; slots];
        self.addr_slots = std::vec![0; slots];
        let mut by_id = HashIndex::new(&mut self.id_slots).unwrap();
        let mut by_addr = HashIndex::new(&mut self.addr_slots).unwrap();
        for (i, r) in self.reservations.iter().enumerate() {
            let ident = &self.text[r.identifier.as_range_in_text()];
            by_id
                .insert(
                    identifier_hash(r.subnet_id, r.identifier_type, ident),
                    i as u32,
                )
                .unwrap();
            if let Some(a) = r.address {
                by_addr
                    .insert(address_hash(r.subnet_id, a), i as u32)
                    .unwrap();
            }
        }
        let reservations_by_identifier = by_id.into_view();
        let reservations_by_address = by_addr.into_view();
        Config {
            globals: self.globals,
            subnets: &self.subnets,
            shared_networks: &self.shared_networks,
            pools: &self.pools,
            reservations: &self.reservations,
            options: &self.options,
            option_defs: &[],
            classes: &self.classes,
            loggers: &[],
            hooks: &[],
            addresses: &self.addresses,
            names: &self.names,
            text: &self.text,
            reservations_by_identifier,
            reservations_by_address,
        }
    }

    /// Four /24 subnets (ids 1–4, 198.18.1–4.0): 1 has pool .100–.199; 2 is on interface
    /// `ue1`; 3 has relay 198.18.9.1; 4 is for class `lab`.
    pub fn three_subnets() -> Self {
        let mut f = Fixture::new();
        let s1 = f.subnet(1, "198.18.1.0/24");
        f.pool(s1, "198.18.1.100", "198.18.1.199");
        let s2 = f.subnet(2, "198.18.2.0/24");
        f.interface(s2, "ue1");
        let s3 = f.subnet(3, "198.18.3.0/24");
        f.relay(s3, "198.18.9.1");
        let s4 = f.subnet(4, "198.18.4.0/24");
        f.subnet_class(s4, "lab");
        f
    }
}
