//! Loader tests: real config texts in, model values out.

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::*;

/// Owned storage sized from a [`Capacity`], as the daemon allocates it.
pub(crate) struct Buffers {
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

impl Buffers {
    pub(crate) fn new(c: &Capacity) -> Self {
        Buffers {
            subnets: vec![Subnet::EMPTY; c.subnets],
            shared_networks: vec![SharedNetwork::EMPTY; c.shared_networks],
            pools: vec![Pool::EMPTY; c.pools],
            reservations: vec![Reservation::EMPTY; c.reservations],
            options: vec![OptionValue::EMPTY; c.options],
            option_defs: vec![CustomOptionDef::EMPTY; c.option_defs],
            classes: vec![ClientClass::EMPTY; c.classes],
            loggers: vec![Logger::EMPTY; c.loggers],
            hooks: vec![HookLibrary::EMPTY; c.hooks],
            addresses: vec![Ipv4Addr::UNSPECIFIED; c.addresses],
            names: vec![TextRef::EMPTY; c.names],
            text: vec![0; c.text],
            id_slots: vec![0; c.reservation_id_slots],
            addr_slots: vec![0; c.reservation_addr_slots],
        }
    }

    pub(crate) fn storage(&mut self) -> ConfigStorage<'_> {
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

/// Measures and parses `text`; returns the buffers (the config borrows them) or the error.
fn load(text: &str) -> Result<(Buffers, Vec<String>), ConfigError> {
    let cap = measure(text)?;
    let mut bufs = Buffers::new(&cap);
    let mut warnings = Vec::new();
    parse(text, bufs.storage(), &mut |w| warnings.push(w.to_string()))?;
    Ok((bufs, warnings))
}

fn error(text: &str) -> ConfigError {
    match load(text) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e,
    }
}

fn with_config<R>(text: &str, f: impl FnOnce(&Config<'_>, &[String]) -> R) -> R {
    let cap = measure(text).unwrap_or_else(|e| panic!("measure: {e}"));
    let mut bufs = Buffers::new(&cap);
    let mut warnings = Vec::new();
    let cfg = parse(text, bufs.storage(), &mut |w| warnings.push(w.to_string()))
        .unwrap_or_else(|e| panic!("parse: {e}"));
    f(&cfg, &warnings)
}

const MINIMAL: &str = r#"{
  "Dhcp4": {
    "valid-lifetime": 4000,
    "renew-timer": 1000,
    "subnet4": [
      {
        "subnet": "198.18.0.0/24",
        "pools": [ { "pool": "198.18.0.10 - 198.18.0.99" }, { "pool": "198.18.0.128/26" } ],
        "reservations": [
          { "hw-address": "1a:1b:1c:1d:1e:1f", "ip-address": "198.18.0.202", "hostname": "a" },
          { "client-id": "01:11:22:33:44:55:66", "ip-address": "198.18.0.203" }
        ]
      },
      { "subnet": "198.18.1.0/24", "id": 7, "valid-lifetime": 600 }
    ]
  }
}"#;

#[test]
fn minimal_config_loads_into_the_model() {
    with_config(MINIMAL, |cfg, warnings| {
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cfg.subnets.len(), 2);
        let s = &cfg.subnets[0];
        assert_eq!(s.id, 1, "auto id");
        assert_eq!(s.prefix.network(), Ipv4Addr::new(198, 18, 0, 0));
        let pools = cfg.pools_of(s);
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[1].first, Ipv4Addr::new(198, 18, 0, 128));
        assert_eq!(pools[1].last, Ipv4Addr::new(198, 18, 0, 191));
        assert_eq!(
            s.params.lifetimes,
            Lifetimes {
                valid: 4000,
                min: 4000,
                max: 4000
            }
        );
        assert_eq!(s.params.renew_timer, Some(1000));
        let r = cfg
            .find_reservation(
                1,
                IdentifierType::HwAddress,
                &[0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f],
            )
            .unwrap();
        assert_eq!(r.address, Some(Ipv4Addr::new(198, 18, 0, 202)));
        assert_eq!(cfg.str(r.hostname), "a");
        let r = cfg
            .reservation_for_address(1, Ipv4Addr::new(198, 18, 0, 203))
            .unwrap();
        assert_eq!(
            cfg.bytes(r.identifier),
            &[1, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]
        );
        assert!(cfg
            .reservation_for_address(7, Ipv4Addr::new(198, 18, 0, 203))
            .is_none());
        let s7 = cfg.subnet_by_id(7).unwrap();
        assert_eq!(s7.params.lifetimes.valid, 600);
        assert_eq!(s7.params.renew_timer, Some(1000));
    });
}

#[test]
fn seed_subnet4_add_pool_typo_is_a_clear_error() {
    // The subnet of the blog post's `subnet4-add` command, pool typo included.
    let text = r#"{
  "Dhcp4": {
    "subnet4": [
      {
        "id": 2,
        "subnet": "192.168.100.0/24",
        "pools": [
          {
            "pool": "192.168.100.20 - 192.168.100.250.254"
          }
        ],
        "option-data": [
          {
            "name": "routers",
            "data": "192.168.100.1",
            "always-send": false
          }
        ]
      }
    ]
  }
}"#;
    let e = error(text);
    assert_eq!(
        e.to_string(),
        "line 9 col 21: Dhcp4.subnet4[0].pools[0].pool: invalid pool \"192.168.100.20 - 192.168.100.250.254\": \"192.168.100.250.254\" is not an IPv4 address"
    );
}
