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

fn wrapped(body: &str) -> String {
    std::format!("{{\n\"Dhcp4\": {{\n{body}\n}}\n}}\n")
}

fn err_at(body: &str) -> (u32, u32, String, ConfigErrorKind) {
    let e = error(&wrapped(body));
    (e.line, e.column, e.path.to_string(), e.kind)
}

#[test]
fn unknown_key_is_an_error_with_kea_wording() {
    let (line, col, path, kind) =
        err_at(r#""subnet4": [ { "subnet": "198.18.0.0/24", "pool": [] } ]"#);
    assert_eq!((line, col, path.as_str()), (3, 43, "Dhcp4.subnet4[0].pool"));
    assert_eq!(
        kind.to_string(),
        "got unexpected keyword \"pool\" in subnet4 map"
    );
}

#[test]
fn missing_comma_names_the_next_key() {
    let (line, col, path, kind) = err_at("\"valid-lifetime\": 600\n  \"subnet4\": [ ]");
    assert_eq!((line, col, path.as_str()), (4, 3, "Dhcp4"));
    assert_eq!(
        kind.to_string(),
        "expected ',' or '}' before \"subnet4\" (missing comma?)"
    );
}

#[test]
fn duplicate_key_names_the_previous_position() {
    let (line, col, path, kind) = err_at("\"valid-lifetime\": 10,\n  \"valid-lifetime\": 20");
    assert_eq!((line, col, path.as_str()), (4, 3, "Dhcp4.valid-lifetime"));
    assert_eq!(
        kind,
        ConfigErrorKind::DuplicateKey {
            key: error::snippet("valid-lifetime"),
            previous: Position { line: 3, column: 1 }
        }
    );
}

#[test]
fn integer_given_as_string_is_a_type_error() {
    let (line, col, path, kind) = err_at(r#""valid-lifetime": "4000""#);
    assert_eq!((line, col, path.as_str()), (3, 19, "Dhcp4.valid-lifetime"));
    assert_eq!(kind.to_string(), "expected an integer, found a string");
}

#[test]
fn t1_percent_must_be_a_float_literal() {
    let (line, col, path, kind) = err_at(r#""t1-percent": 1"#);
    assert_eq!((line, col, path.as_str()), (3, 15, "Dhcp4.t1-percent"));
    assert!(matches!(
        kind,
        ConfigErrorKind::WrongType {
            found: "an integer",
            ..
        }
    ));
    // .4 is a float literal to Kea.
    with_config(
        &wrapped(r#""t1-percent": .4, "t2-percent": 0.8"#),
        |cfg, _| {
            assert_eq!(cfg.globals.params.t1_percent, 0.4);
            assert_eq!(cfg.globals.params.t2_percent, 0.8);
        },
    );
    // Kea checks the percentages only when calculate-tee-times is on (at the level or
    // globally).
    let (.., kind) = err_at(r#""calculate-tee-times": true, "t1-percent": 0.9, "t2-percent": 0.8"#);
    assert_eq!(kind, ConfigErrorKind::T1NotBelowT2);
    let body = r#""subnet4": [ { "subnet": "198.18.0.0/24", "t2-percent": 1.5 } ], "calculate-tee-times": true"#;
    let (.., path, kind) = err_at(body);
    assert_eq!(kind, ConfigErrorKind::PercentOutOfRange);
    assert_eq!(path, "Dhcp4.subnet4[0].t2-percent");
    with_config(
        &wrapped(r#""t1-percent": 0.9, "t2-percent": 0.8"#),
        |cfg, _| {
            assert_eq!(cfg.globals.params.t1_percent, 0.9);
        },
    );
}

#[test]
fn reservation_mode_conflicts_with_reservation_flags_in_one_map() {
    let body = r#""subnet4": [ { "subnet": "198.18.0.0/24",
  "reservation-mode": "all",
  "reservations-in-subnet": true } ]"#;
    let (line, col, path, kind) = err_at(body);
    assert_eq!((line, col), (5, 3));
    assert_eq!(path, "Dhcp4.subnet4[0]");
    assert_eq!(
        kind,
        ConfigErrorKind::ReservationModeConflict {
            flag: "reservations-in-subnet"
        }
    );
    // Different scopes are fine: the subnet's flag wins over the global mode.
    let ok = wrapped(
        r#""reservation-mode": "global", "subnet4": [ { "subnet": "198.18.0.0/24", "reservations-out-of-pool": true } ]"#,
    );
    with_config(&ok, |cfg, warnings| {
        let p = cfg.subnets[0].params;
        assert!(p.reservations_global && !p.reservations_in_subnet && p.reservations_out_of_pool);
        assert!(warnings.iter().any(|w| w.contains("deprecated")));
    });
}

#[test]
fn min_lifetime_above_valid_is_an_error() {
    let (line, col, path, kind) = err_at("\"valid-lifetime\": 100,\n\"min-valid-lifetime\": 200");
    assert_eq!(
        (line, col, path.as_str()),
        (4, 23, "Dhcp4.min-valid-lifetime")
    );
    assert_eq!(
        kind,
        ConfigErrorKind::MinAboveValid {
            min: 200,
            valid: 100
        }
    );
    let (.., kind) = err_at("\"valid-lifetime\": 100,\n\"max-valid-lifetime\": 50");
    assert_eq!(
        kind,
        ConfigErrorKind::MaxBelowValid {
            max: 50,
            valid: 100
        }
    );
    let (.., kind) = err_at(r#""min-valid-lifetime": 100, "max-valid-lifetime": 500"#);
    assert_eq!(kind, ConfigErrorKind::BoundsWithoutValidLifetime);
    let (.., kind) = err_at(r#""renew-timer": 100, "rebind-timer": 50"#);
    assert_eq!(
        kind,
        ConfigErrorKind::RenewAfterRebind {
            renew: 100,
            rebind: 50
        }
    );
}

#[test]
fn lifetime_triplets_complete_per_level_and_inherit_whole() {
    // Kea's triplet: a level with only valid gets min = max = valid; min or max alone
    // sets all three; a silent level inherits the whole triplet.
    let body = r#""valid-lifetime": 1000, "min-valid-lifetime": 500, "max-valid-lifetime": 2000,
"subnet4": [ { "subnet": "198.18.0.0/24", "valid-lifetime": 1500 },
             { "subnet": "198.18.1.0/24", "max-valid-lifetime": 900 },
             { "subnet": "198.18.2.0/24" } ]"#;
    with_config(&wrapped(body), |cfg, _| {
        let l = |i: usize| cfg.subnets[i].params.lifetimes;
        assert_eq!(
            l(0),
            Lifetimes {
                valid: 1500,
                min: 1500,
                max: 1500
            }
        );
        assert_eq!(
            l(1),
            Lifetimes {
                valid: 900,
                min: 900,
                max: 900
            }
        );
        assert_eq!(
            l(2),
            Lifetimes {
                valid: 1000,
                min: 500,
                max: 2000
            }
        );
        assert_eq!(cfg.subnets[0].declared.min_valid_lifetime, Some(1500));
        assert_eq!(cfg.subnets[2].declared.valid_lifetime, None);
    });
}

#[test]
fn pool_outside_the_subnet_is_an_error_even_before_the_subnet_key() {
    let body = r#""subnet4": [ {
  "pools": [ { "pool": "198.18.1.1 - 198.18.1.9" } ],
  "subnet": "198.18.0.0/24" } ]"#;
    let (line, col, path, kind) = err_at(body);
    assert_eq!(
        (line, col, path.as_str()),
        (4, 24, "Dhcp4.subnet4[0].pools[0].pool")
    );
    assert_eq!(
        kind.to_string(),
        "invalid pool \"198.18.1.1 - 198.18.1.9\": pool is not inside subnet 198.18.0.0/24"
    );
}

#[test]
fn overlapping_pools_of_one_subnet_are_an_error() {
    let body = r#""subnet4": [ { "subnet": "198.18.0.0/24",
  "pools": [ { "pool": "198.18.0.10 - 198.18.0.20" },
             { "pool": "198.18.0.16/28" } ] } ]"#;
    let (line, col, path, kind) = err_at(body);
    assert_eq!(
        (line, col, path.as_str()),
        (5, 24, "Dhcp4.subnet4[0].pools[1].pool")
    );
    assert_eq!(
        kind.to_string(),
        "invalid pool \"198.18.0.16/28\": overlaps pool 198.18.0.10 - 198.18.0.20 of the same subnet"
    );
    // Across subnets pools may overlap (Kea allows it).
    with_config(
        &wrapped(
            r#""subnet4": [ { "subnet": "198.18.0.0/24", "pools": [ { "pool": "198.18.0.0/24" } ] },
               { "subnet": "198.18.0.0/23", "pools": [ { "pool": "198.18.0.0/24" } ] } ]"#,
        ),
        |cfg, _| assert_eq!(cfg.pools.len(), 2),
    );
}

#[test]
fn includes_must_be_resolved_by_the_caller() {
    let e = error("{ \"Dhcp4\": {\n  <?include \"subnets.json\"?> } }");
    assert_eq!((e.line, e.column), (2, 3));
    assert_eq!(
        e.kind,
        ConfigErrorKind::UnresolvedInclude(error::snippet("subnets.json"))
    );
    let e = error("{ \"Dhcp4\": {\n  <?include subnets.json ?> } }");
    assert_eq!(e.kind, ConfigErrorKind::BadInclude);
}

#[test]
fn top_level_must_be_dhcp4_only() {
    let e = error("{ \"Dhcp4\": { }, \"Logging\": { } }");
    assert_eq!(
        e.kind,
        ConfigErrorKind::UnexpectedTopLevel(error::snippet("Logging"))
    );
    let e = error("{ \"Dhcp6\": { } }");
    assert_eq!(
        e.kind,
        ConfigErrorKind::UnexpectedTopLevel(error::snippet("Dhcp6"))
    );
    // A bare Dhcp4 map loads; its paths still start with Dhcp4.
    with_config("{ \"valid-lifetime\": 60 }", |cfg, _| {
        assert_eq!(cfg.globals.params.lifetimes.valid, 60);
    });
    let e = error("{ \"valid-lifetime\": 60, \"bogus\": 1 }");
    assert_eq!(e.path.as_str(), "Dhcp4.bogus");
}

#[test]
fn unsupported_kea_keys_warn_with_their_path() {
    let body = r#""ddns-send-updates": true,
"multi-threading": { "enable-multi-threading": false },
"subnet4": [ { "subnet": "198.18.0.0/24", "4o6-subnet": "2001:db8::/64" } ],"#;
    with_config(&wrapped(body), |_, warnings| {
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(warnings[0].starts_with(
            "line 3 col 1: Dhcp4.ddns-send-updates: \"ddns-send-updates\" is not supported"
        ));
        assert!(warnings[1].contains("Dhcp4.multi-threading"));
        assert!(warnings[2].contains("Dhcp4.subnet4[0].4o6-subnet"));
        assert!(warnings[3].contains("Extraneous comma"));
    });
}

#[test]
fn sql_lease_database_is_rejected_clearly() {
    let (line, col, path, kind) = err_at(r#""lease-database": { "type": "mysql", "name": "kea" }"#);
    assert_eq!(
        (line, col, path.as_str()),
        (3, 29, "Dhcp4.lease-database.type")
    );
    assert_eq!(
        kind.to_string(),
        "database type \"mysql\" is not supported: wren supports only \"memfile\""
    );
}

#[test]
fn reservation_identifiers_and_addresses_are_checked() {
    let sub = |res: &str| {
        wrapped(&std::format!(
            r#""subnet4": [ {{ "subnet": "198.18.0.0/24", "reservations": [ {res} ] }} ]"#
        ))
    };
    let e = error(&sub(
        r#"{ "hw-address": "01:02:03:04:05:06", "client-id": "01:02" }"#,
    ));
    assert_eq!(
        e.kind,
        ConfigErrorKind::SeveralIdentifiers {
            first: "hw-address",
            second: "client-id"
        }
    );
    let e = error(&sub(r#"{ "ip-address": "198.18.0.5" }"#));
    assert_eq!(e.kind, ConfigErrorKind::NoIdentifier);
    let e = error(&sub(
        r#"{ "hw-address": "01:02:03:04:05:06", "ip-address": "198.18.1.5" }"#,
    ));
    assert_eq!(
        e.kind,
        ConfigErrorKind::ReservationOutsideSubnet {
            address: Ipv4Addr::new(198, 18, 1, 5)
        }
    );
    let e = error(&sub(
        r#"{ "hw-address": "010203040506" }, { "hw-address": "01 02 03 04 05 06" }"#,
    ));
    assert_eq!(
        e.kind,
        ConfigErrorKind::DuplicateIdentifier {
            kind: "hw-address",
            first: 0
        }
    );
    assert_eq!(
        e.path.as_str(),
        "Dhcp4.subnet4[0].reservations[1].hw-address"
    );
    let two = r#"{ "hw-address": "01:02:03:04:05:06", "ip-address": "198.18.0.5" },
                 { "circuit-id": "'port7'", "ip-address": "198.18.0.5" }"#;
    let e = error(&sub(two));
    assert_eq!(
        e.kind,
        ConfigErrorKind::DuplicateReservedAddress {
            address: Ipv4Addr::new(198, 18, 0, 5)
        }
    );
    // ip-reservations-unique false (even after subnet4 in the file) allows it.
    let text = wrapped(&std::format!(
        r#""subnet4": [ {{ "subnet": "198.18.0.0/24", "reservations": [ {two} ] }} ], "ip-reservations-unique": false"#
    ));
    with_config(&text, |cfg, _| {
        let r = cfg
            .find_reservation(1, IdentifierType::CircuitId, b"port7")
            .unwrap();
        assert_eq!(r.address, Some(Ipv4Addr::new(198, 18, 0, 5)));
    });
}

#[test]
fn shared_networks_come_after_top_level_subnets_and_inherit() {
    let body = r#""valid-lifetime": 1000,
"shared-networks": [ { "name": "net", "interface": "eth1", "valid-lifetime": 2000,
   "relay": { "ip-address": "198.18.9.1" },
   "subnet4": [ { "subnet": "198.18.1.0/24" }, { "subnet": "198.18.2.0/24", "valid-lifetime": 3000 } ] } ],
"subnet4": [ { "subnet": "198.18.0.0/24" } ]"#;
    with_config(&wrapped(body), |cfg, _| {
        let order: Vec<_> = cfg
            .subnets
            .iter()
            .map(|s| (s.id, s.prefix.address.octets()[2]))
            .collect();
        // Auto ids in file order; storage order: top-level first, then members.
        assert_eq!(order, [(3, 0), (1, 1), (2, 2)]);
        let net = &cfg.shared_networks[0];
        assert_eq!(cfg.str(net.name), "net");
        assert_eq!(net.subnets, IndexRange { start: 1, len: 2 });
        let m1 = cfg.subnet_by_id(1).unwrap();
        assert_eq!(m1.params.lifetimes.valid, 2000);
        assert_eq!(cfg.str(m1.interface), "eth1");
        assert_eq!(
            cfg.address_list(m1.relay_addresses),
            [Ipv4Addr::new(198, 18, 9, 1)]
        );
        assert!(core::ptr::eq(cfg.network_of(m1).unwrap(), net));
        assert_eq!(cfg.subnet_by_id(2).unwrap().params.lifetimes.valid, 3000);
        let top = cfg.subnet_by_id(3).unwrap();
        assert_eq!(top.params.lifetimes.valid, 1000);
        assert!(top.interface.is_empty());
    });
}

#[test]
fn comment_is_merged_into_user_context() {
    let body = r#""subnet4": [ { "subnet": "198.18.0.0/24", "comment": "lab",
  "user-context": { "floor": 3, "tags": [ "a", "b" ] } } ],
"user-context": { "x": null }"#;
    with_config(&wrapped(body), |cfg, _| {
        assert_eq!(
            cfg.str(cfg.subnets[0].user_context),
            r#"{"comment":"lab","floor":3,"tags":["a","b"]}"#
        );
        assert_eq!(cfg.str(cfg.globals.user_context), r#"{"x":null}"#);
    });
}

#[test]
fn vendor_options_are_combined_into_43_and_125() {
    let body = r#""option-def": [ { "name": "vlan", "code": 1, "type": "uint16", "space": "vendor-encapsulated-options-space" } ],
"option-data": [
  { "name": "vendor-encapsulated-options" },
  { "code": 1, "space": "vendor-encapsulated-options-space", "csv-format": false, "data": "0064" },
  { "name": "vivso-suboptions", "data": "4491" },
  { "name": "tftp-servers", "space": "vendor-4491", "data": "198.18.10.5" }
]"#;
    with_config(&wrapped(body), |cfg, _| {
        let opts = cfg.options_of(cfg.globals.options);
        let o43 = opts
            .iter()
            .find(|o| o.code == 43 && o.space == OptionSpace::Dhcp4)
            .unwrap();
        assert_eq!(cfg.payload(o43), [1, 2, 0x00, 0x64]);
        let o125 = opts.iter().find(|o| o.code == 125).unwrap();
        // kea-options.md §3.3: 0000118b 06 02 04 c6120a05
        assert_eq!(
            cfg.payload(o125),
            [0x00, 0x00, 0x11, 0x8b, 0x06, 0x02, 0x04, 0xc6, 0x12, 0x0a, 0x05]
        );
    });
}

/// The payload of the global option `code` in the dhcp4 space.
fn global_payload(body: &str, code: u8) -> Vec<u8> {
    with_config(&wrapped(body), |cfg, _| {
        let opts = cfg.options_of(cfg.globals.options);
        let o = opts
            .iter()
            .find(|o| o.code == code && o.space == OptionSpace::Dhcp4)
            .unwrap();
        cfg.payload(o).to_vec()
    })
}

#[test]
fn suboptions_are_sent_in_code_order_whatever_the_config_order() {
    // Observed from Kea 2.2: sub-options 2 then 1 configured, 43 = 01 01 01 02 03 "two".
    let body = r#""option-data": [
  { "code": 2, "space": "vendor-encapsulated-options-space", "csv-format": false, "data": "'two'" },
  { "name": "vendor-encapsulated-options" },
  { "code": 1, "space": "vendor-encapsulated-options-space", "csv-format": false, "data": "01" }
]"#;
    assert_eq!(global_payload(body, 43), b"\x01\x01\x01\x02\x03two");
    // 125: one enterprise, sub-options sorted too; equal codes keep their config order.
    let body = r#""option-data": [
  { "name": "vivso-suboptions", "data": "4491" },
  { "code": 5, "space": "vendor-4491", "csv-format": false, "data": "05" },
  { "code": 9, "space": "vendor-4491", "csv-format": false, "data": "aa" },
  { "code": 5, "space": "vendor-4491", "csv-format": false, "data": "55" }
]"#;
    assert_eq!(
        global_payload(body, 125),
        [0, 0, 0x11, 0x8b, 9, 5, 1, 5, 5, 1, 0x55, 9, 1, 0xaa]
    );
}

#[test]
fn raw_data_of_an_empty_option_is_kept_only_as_whole_suboptions() {
    // 43 encapsulates a space: its raw sub-options are kept, sorted with configured ones
    // (raw before configured for equal codes), and a cut trailing one is dropped.
    let body = r#""option-data": [
  { "name": "vendor-encapsulated-options", "csv-format": false, "data": "0301cc0101aa02" },
  { "code": 1, "space": "vendor-encapsulated-options-space", "csv-format": false, "data": "bb" }
]"#;
    assert_eq!(
        global_payload(body, 43),
        [1, 1, 0xaa, 1, 1, 0xbb, 3, 1, 0xcc]
    );
    // Without configured sub-options the raw ones are still sorted.
    let body = r#""option-data": [
  { "name": "vendor-encapsulated-options", "csv-format": false, "data": "0201aa0101bb" } ]"#;
    assert_eq!(global_payload(body, 43), [1, 1, 0xbb, 2, 1, 0xaa]);
    // Observed from Kea 2.2: 43 with 0105aabb carries no sub-option.
    let body = r#""option-data": [
  { "name": "vendor-encapsulated-options", "csv-format": false, "data": "0105aabb" } ]"#;
    assert_eq!(global_payload(body, 43), []);
    // Observed from Kea 2.2: `empty` 222 with 0102aabb is sent empty...
    let body = r#""option-def": [ { "name": "flag", "code": 222, "type": "empty" } ],
"option-data": [ { "name": "flag", "csv-format": false, "data": "0102aabb" } ]"#;
    assert_eq!(global_payload(body, 222), []);
    // ...and with `encapsulate` as 0102aabb (here with a configured sub-option 3 after it).
    let body = r#""option-def": [ { "name": "box", "code": 222, "type": "empty", "encapsulate": "box-space" } ],
"option-data": [
  { "code": 3, "space": "box-space", "csv-format": false, "data": "cc" },
  { "name": "box", "csv-format": false, "data": "0102aabb" }
]"#;
    assert_eq!(global_payload(body, 222), [1, 2, 0xaa, 0xbb, 3, 1, 0xcc]);
}

#[test]
fn a_carrier_with_values_keeps_them_before_its_sorted_suboptions() {
    let body = r#""option-def": [ { "name": "tagged", "code": 223, "type": "uint8", "encapsulate": "tag-space" } ],
"option-data": [
  { "name": "tagged", "data": "7" },
  { "code": 9, "space": "tag-space", "csv-format": false, "data": "99" },
  { "code": 8, "space": "tag-space", "csv-format": false, "data": "88" }
]"#;
    assert_eq!(global_payload(body, 223), [7, 8, 1, 0x88, 9, 1, 0x99]);
}

#[test]
fn docsis3_v4_space_has_kea_s_definitions() {
    // Kea 2.2's all-options.json: DOCSIS3 options by name in the `docsis3-v4` space.
    let body = r#""option-data": [
  { "code": 1, "name": "oro", "space": "docsis3-v4", "data": "32, 42" },
  { "name": "tftp-servers", "space": "docsis3-v4", "data": "198.18.0.7" }
]"#;
    with_config(&wrapped(body), |cfg, _| {
        let opts = cfg.options_of(cfg.globals.options);
        assert_eq!(opts.len(), 2);
        assert!(opts
            .iter()
            .all(|o| matches!(o.space, OptionSpace::Custom(_))));
        assert_eq!(cfg.payload(&opts[0]), [32, 42]);
        assert_eq!(cfg.payload(&opts[1]), [198, 18, 0, 7]);
    });
    // Another custom space has no standard definitions.
    let (.., kind) = err_at(
        r#""option-data": [ { "code": 1, "name": "oro", "space": "docsis3-v5", "data": "1" } ]"#,
    );
    assert!(
        matches!(
            kind,
            ConfigErrorKind::UnknownOption(_) | ConfigErrorKind::BadOptionData { .. }
        ),
        "{kind}"
    );
}

#[test]
fn a_ten_field_record_definition_loads_and_encodes() {
    // Kea 2.2's all-options.json defines this record (there as an array).
    let body = r#""option-def": [ { "name": "every-type", "code": 254, "type": "record",
  "record-types": "int8, int16, int32, uint8, uint16, uint32, ipv4-address, psid, tuple, fqdn" } ],
"option-data": [ { "name": "every-type", "data": "-1, -2, -3, 4, 5, 6, 198.18.0.1, 1/1, x, a.b" } ]"#;
    let payload = global_payload(body, 254);
    assert_eq!(
        payload,
        [
            0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xfd, 4, 0, 5, 0, 0, 0, 6, 198, 18, 0, 1, 1, 0x80,
            0x00, 1, b'x', 1, b'a', 1, b'b', 0
        ]
    );
}

#[test]
fn option_name_and_code_must_agree() {
    let (.., kind) =
        err_at(r#""option-data": [ { "name": "routers", "code": 6, "data": "198.18.0.1" } ]"#);
    assert_eq!(
        kind,
        ConfigErrorKind::OptionNameCodeMismatch {
            name: error::snippet("routers"),
            code: 6
        }
    );
}

#[test]
fn measured_storage_is_exactly_enough_and_less_fails_cleanly() {
    let cap = measure(MINIMAL).unwrap();
    assert_eq!((cap.subnets, cap.pools, cap.reservations), (2, 2, 2));
    let mut small = cap;
    small.text -= 1;
    let mut bufs = Buffers::new(&small);
    let e = parse(MINIMAL, bufs.storage(), &mut |_| {}).unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::StorageFull(StorageKind::Text));
    let mut small = cap;
    small.reservations = 1;
    let mut bufs = Buffers::new(&small);
    let e = parse(MINIMAL, bufs.storage(), &mut |_| {}).unwrap_err();
    assert_eq!(
        e.kind,
        ConfigErrorKind::StorageFull(StorageKind::Reservations)
    );
}

#[test]
fn class_option_defs_are_known_before_class_option_data() {
    // option-data first in the map: Kea parses option-def first all the same.
    let body = r#""client-classes": [ { "name": "voip",
  "option-data": [ { "name": "vlan", "data": "100" } ],
  "option-def": [ { "name": "vlan", "code": 240, "type": "uint16" } ] } ]"#;
    with_config(&wrapped(body), |cfg, _| {
        let class = cfg.class_by_name("voip").unwrap();
        let opts = cfg.options_of(class.options);
        assert_eq!((opts[0].code, cfg.payload(&opts[0])), (240, &[0, 100][..]));
        assert_eq!(class.option_defs.len, 1);
    });
    let (line, col, path, kind) = err_at(
        r#""client-classes": [ { "name": "x", "option-def": [ { "name": "y", "code": 200, "type": "uint8" } ] } ]"#,
    );
    assert_eq!((line, col), (3, 75));
    assert_eq!(path, "Dhcp4.client-classes[0].option-def[0]");
    assert!(matches!(kind, ConfigErrorKind::BadOptionDef { .. }));
}

#[test]
fn built_in_classes_cannot_have_tests() {
    let (.., kind) =
        err_at(r#""client-classes": [ { "name": "KNOWN", "test": "member('ALL')" } ]"#);
    assert!(matches!(kind, ConfigErrorKind::BadClass { .. }));
    let (.., kind) =
        err_at(r#""client-classes": [ { "name": "DROP", "only-if-required": true } ]"#);
    assert!(matches!(kind, ConfigErrorKind::BadClass { .. }));
    let (.., kind) = err_at(r#""client-classes": [ { "name": "a" }, { "name": "a" } ]"#);
    assert_eq!(kind, ConfigErrorKind::DuplicateClass(error::snippet("a")));
    with_config(
        &wrapped(
            r#""client-classes": [ { "name": "DROP", "test": "pkt4.mac == 0x020000000001" } ]"#,
        ),
        |cfg, _| {
            assert_eq!(cfg.str(cfg.classes[0].test), "pkt4.mac == 0x020000000001");
        },
    );
}

#[test]
fn hardware_addresses_are_at_most_20_bytes() {
    let long = "01:".repeat(20) + "01";
    let body = std::format!(r#""reservations": [ {{ "hw-address": "{long}" }} ]"#);
    let (.., kind) = err_at(&body);
    assert_eq!(kind, ConfigErrorKind::TooLong { max: 20 });
    let body = r#""reservations": [ { "flex-id": "'s0mEVaLue'", "hostname": "flex" } ]"#;
    with_config(&wrapped(body), |cfg, warnings| {
        assert!(cfg
            .find_reservation(0, IdentifierType::FlexId, b"s0mEVaLue")
            .is_some());
        assert!(
            warnings.iter().any(|w| w.contains("flex-id")),
            "{warnings:?}"
        );
    });
}

#[test]
fn a_class_definition_of_43_names_the_space_it_carries() {
    // Kea 2.2's vendor-specific.json, reduced.
    let body = r#""option-def": [ { "code": 2, "name": "vlanid", "space": "339", "type": "uint32" },
                 { "code": 3, "name": "dls", "space": "339", "type": "string" } ],
"client-classes": [ { "name": "VENDOR_CLASS_339",
    "option-def": [ { "code": 43, "encapsulate": "339", "name": "vendor-encapsulated-options", "type": "empty" } ],
    "option-data": [ { "name": "vendor-encapsulated-options" },
                     { "always-send": true, "data": "123", "name": "vlanid", "space": "339" },
                     { "always-send": true, "data": "sdlp://198.18.0.11:18443", "name": "dls", "space": "339" } ] } ],
"option-data": [ { "name": "vendor-encapsulated-options" }, { "code": 2, "space": "339", "data": "7" } ]"#;
    with_config(&wrapped(body), |cfg, _| {
        let class = cfg.class_by_name("VENDOR_CLASS_339").unwrap();
        let o43 = &cfg.options_of(class.options)[0];
        let mut expected = vec![2, 4, 0, 0, 0, 123, 3, 24];
        expected.extend_from_slice(b"sdlp://198.18.0.11:18443");
        assert_eq!(cfg.payload(o43), &expected[..]);
        // Globally, 43 has no custom definition: it carries the standard
        // vendor-encapsulated-options-space, so the "339" option stays out.
        let g43 = &cfg.options_of(cfg.globals.options)[0];
        assert_eq!(cfg.payload(g43), &[] as &[u8]);
    });
}

#[test]
fn host_reservation_identifiers_keep_their_order() {
    let body = r#""host-reservation-identifiers": [ "client-id", "hw-address" ]"#;
    with_config(&wrapped(body), |cfg, _| {
        assert_eq!(
            cfg.identifier_order(),
            [IdentifierType::ClientId, IdentifierType::HwAddress]
        );
    });
    let (.., kind) = err_at(r#""host-reservation-identifiers": [ "duid", "duid" ]"#);
    assert_eq!(
        kind,
        ConfigErrorKind::DuplicateKey {
            key: error::snippet("duid"),
            previous: Position {
                line: 3,
                column: 35
            }
        }
    );
    let (.., kind) = err_at(r#""host-reservation-identifiers": [ "mac" ]"#);
    assert!(matches!(kind, ConfigErrorKind::BadKeyword { .. }));
}

#[test]
fn hostname_char_set_and_replacement_inherit_per_key() {
    // kea-config.md §3: global → shared network → subnet, each key on its own; they are
    // carried (not "unsupported") so the engine scrubs names as Kea does.
    let body = r#""hostname-char-set": "",
"shared-networks": [ { "name": "net", "hostname-char-replacement": "x",
  "subnet4": [ { "subnet": "198.18.1.0/24", "hostname-char-set": "[^a-z]" } ] } ],
"subnet4": [ { "subnet": "198.18.0.0/24" }, { "subnet": "198.18.2.0/24", "hostname-char-replacement": "-" } ]"#;
    with_config(&wrapped(body), |cfg, warnings| {
        assert!(warnings.is_empty(), "{warnings:?}");
        let of = |prefix: [u8; 3]| {
            let s = cfg
                .subnets
                .iter()
                .find(|s| s.prefix.address.octets()[..3] == prefix)
                .unwrap();
            (
                s.params.hostname_char_set.map(|t| cfg.str(t)),
                s.params.hostname_char_replacement.map(|t| cfg.str(t)),
            )
        };
        assert_eq!(of([198, 18, 0]), (Some(""), None));
        assert_eq!(of([198, 18, 1]), (Some("[^a-z]"), Some("x")));
        assert_eq!(of([198, 18, 2]), (Some(""), Some("-")));
        assert_eq!(
            cfg.globals.params.hostname_char_set.map(|t| cfg.str(t)),
            Some("")
        );
        assert_eq!(cfg.globals.params.hostname_char_replacement, None);
    });
}

#[test]
fn control_sockets_list_and_singular_control_socket_both_load() {
    // Kea 3.x list form: an http entry with authentication and a unix entry.
    let list = wrapped(
        r#""control-sockets": [
  { "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8080,
    "authentication": { "type": "basic", "realm": "wren",
                        "clients": [ { "user": "admin", "password": "1234" } ] },
    "wren-auto-persist": true, "wren-max-request-bytes": 8388608 },
  { "socket-type": "unix", "socket-name": "/tmp/kea4-ctrl-socket" }
]"#,
    );
    with_config(&list, |cfg, warnings| {
        assert!(warnings.is_empty(), "{warnings:?}");
        let socket = cfg.globals.control_socket.expect("the unix entry");
        assert_eq!(cfg.str(socket.socket_name), "/tmp/kea4-ctrl-socket");
    });
    // An http-only list: no unix socket in the model.
    let http_only =
        wrapped(r#""control-sockets": [ { "socket-type": "http", "socket-port": 8000 } ]"#);
    with_config(&http_only, |cfg, _| {
        assert!(cfg.globals.control_socket.is_none())
    });
    // Kea 2.2 singular form keeps working.
    let single = wrapped(
        r#""control-socket": { "socket-type": "unix", "socket-name": "/tmp/kea4-ctrl-socket" }"#,
    );
    with_config(&single, |cfg, _| {
        assert_eq!(
            cfg.globals.control_socket.map(|s| cfg.str(s.socket_name)),
            Some("/tmp/kea4-ctrl-socket")
        );
    });
    // Other socket types are refused with the allowed list.
    let (_, _, _, kind) =
        err_at(r#""control-sockets": [ { "socket-type": "https", "socket-port": 8000 } ]"#);
    assert!(
        matches!(kind, ConfigErrorKind::BadKeyword { .. }),
        "{kind:?}"
    );
}

#[test]
fn builtin_hook_libraries_load_from_any_directory() {
    let text = r#"{ "Dhcp4": {
      "hooks-libraries": [
        { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" },
        { "library": "/usr/local/lib/kea/hooks/libdhcp_stat_cmds.so" },
        { "library": "/opt/kea/libdhcp_subnet_cmds.so" },
        { "library": "libdhcp_host_cmds.so" },
        { "library": "/usr/lib/kea/hooks/libdhcp_ha.so", "parameters": { "high-availability": [ ] } }
      ],
      "subnet4": [ ]
    } }"#;
    with_config(text, |cfg, warnings| {
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cfg.hooks.len(), 5);
        for name in [
            "libdhcp_lease_cmds.so",
            "libdhcp_stat_cmds.so",
            "libdhcp_subnet_cmds.so",
            "libdhcp_host_cmds.so",
            "libdhcp_ha.so",
        ] {
            assert!(cfg.hook_library(name).is_some(), "{name}");
        }
        let ha = cfg.hook_library("libdhcp_ha.so").unwrap();
        assert!(cfg.str(ha.parameters).contains("high-availability"));
    });
}

#[test]
fn an_unknown_hook_library_is_an_error_naming_it_line_column_and_key() {
    let text = "{ \"Dhcp4\": {\n  \"hooks-libraries\": [\n    { \"library\": \"/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so\" },\n    { \"library\": \"/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_flex_option.so\" }\n  ]\n} }";
    let e = error(text);
    assert_eq!(
        e.kind,
        ConfigErrorKind::UnknownHookLibrary(error::snippet("libdhcp_flex_option.so"))
    );
    assert_eq!((e.line, e.column), (4, 18));
    assert_eq!(e.path.as_str(), "Dhcp4.hooks-libraries[1].library");
    let message = e.kind.to_string();
    assert!(
        message.contains("\"libdhcp_flex_option.so\" is not built into wren")
            && message.contains("libdhcp_ha.so"),
        "{message}"
    );
    assert!(e.kind.is_unsupported_feature());
}

/// `known` / `unknown` in a class test load (as member('KNOWN') / not member('KNOWN')) with a
/// warning naming the class test's place and saying Kea 2.2 would reject the config; the
/// member() spelling and a quoted 'known' give no warning.
#[test]
fn known_keyword_in_a_test_is_a_warning() {
    let body = r#""client-classes": [
  { "name": "a", "test": "member('KNOWN')" },
  { "name": "b", "test": "'known' == 'unknown'" },
  { "name": "c", "test": "not unknown" } ]"#;
    with_config(&wrapped(body), |cfg, warnings| {
        assert_eq!(cfg.classes.len(), 3);
        assert_eq!(cfg.bytes(cfg.classes[2].test), b"not unknown");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("Kea 2.2 would refuse")
                && warnings[0].contains("line 6 col 26: Dhcp4.client-classes[2].test"),
            "{warnings:?}"
        );
    });
}
