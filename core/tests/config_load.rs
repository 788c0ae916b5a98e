#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::result_large_err
)]
//! Loading whole configuration files: the founding user's seed config, Kea 2.2's own
//! examples, and a datacenter-sized synthetic config.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use wren_core::config::{
    self, Config, ConfigError, ConfigErrorKind, IdentifierType, Lifetimes, OptionSpace,
};

mod common;

/// Measures, allocates, parses; hands the config and its warnings to `f`.
fn load<R>(text: &str, f: impl FnOnce(&Config<'_>, &[String]) -> R) -> Result<R, ConfigError> {
    let cap = config::measure(text)?;
    let mut bufs = common::ConfigStore::for_capacity(&cap);
    let mut warnings = Vec::new();
    let cfg = config::parse(text, bufs.storage(), &mut |w| warnings.push(w.to_string()))?;
    Ok(f(&cfg, &warnings))
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_seed(cfg: &Config<'_>, warnings: &[String], net: [u8; 3]) {
    let a = |last: u8| Ipv4Addr::new(net[0], net[1], net[2], last);
    let g = &cfg.globals;
    assert_eq!(cfg.str(g.server_tag), "infra-1");
    assert_eq!(
        g.params.lifetimes,
        Lifetimes {
            valid: 172_800,
            min: 300,
            max: 216_000
        }
    );
    assert!(!g.params.match_client_id);
    assert!(!g.params.authoritative);
    assert!(!g.params.calculate_tee_times);
    assert_eq!(g.params.next_server, None, "0.0.0.0 means unset");
    assert_eq!(g.interfaces.socket_type, wren_core::config::SocketType::Udp);
    assert_eq!(
        cfg.name_list(g.interfaces.interfaces).collect::<Vec<_>>(),
        ["ue0"]
    );
    assert_eq!(
        cfg.str(g.control_socket.unwrap().socket_name),
        "/tmp/kea-dhcp4-ctrl.sock"
    );
    assert!(g.lease_database.persist);
    assert_eq!(g.lease_database.lfc_interval, 3600);
    assert_eq!(
        cfg.identifier_order(),
        [
            IdentifierType::HwAddress,
            IdentifierType::Duid,
            IdentifierType::CircuitId,
            IdentifierType::ClientId
        ]
    );
    // reservation-mode "all" = in-subnet only.
    assert!(g.params.reservations_in_subnet && !g.params.reservations_global);
    assert!(!g.params.reservations_out_of_pool);

    // Classes, tests kept as text.
    assert_eq!(cfg.classes.len(), 4);
    let legacy = cfg.class_by_name("Legacy PXE").unwrap();
    assert_eq!(cfg.str(legacy.boot_file_name), "/ipxe/undionly.kpxe");
    assert_eq!(cfg.str(legacy.test), "option[client-system].hex == 0x0000");
    assert_eq!(legacy.next_server, None);
    let pxe = cfg.class_by_name("PXE Host").unwrap();
    assert!(pxe.only_if_required);
    assert_eq!(
        cfg.str(pxe.test),
        "member('Legacy PXE') or member('EFI x86_64') or member('iPXE')"
    );

    // HA hook, parameters as compact JSON.
    assert_eq!(cfg.hooks.len(), 1);
    let ha = cfg.hook_library("libdhcp_ha.so").unwrap();
    assert!(cfg.hook_library("libdhcp_lease_cmds.so").is_none());
    assert_eq!(
        cfg.str(ha.library),
        "/usr/local/lib/kea/hooks/libdhcp_ha.so"
    );
    let params = cfg.str(ha.parameters);
    assert!(
        params.starts_with(r#"{"high-availability":[{"heartbeat-delay":10000,"#),
        "{params}"
    );
    assert!(params.contains(&format!(
        r#""url":"http://{}.{}.{}.2:8080/""#,
        net[0], net[1], net[2]
    )));
    assert!(!params.contains(' ') || params.contains("load-balancing"));

    // The subnet.
    assert_eq!(cfg.subnets.len(), 1);
    let s = cfg.subnet_by_id(1).unwrap();
    assert_eq!(s.prefix.network(), a(0));
    assert_eq!(s.prefix.len, 24);
    let pools = cfg.pools_of(s);
    assert_eq!(
        (pools.len(), pools[0].first, pools[0].last),
        (1, a(20), a(250))
    );
    // valid-lifetime 172800 at subnet level: min and max default to it (Kea's triplet).
    assert_eq!(
        s.params.lifetimes,
        Lifetimes {
            valid: 172_800,
            min: 172_800,
            max: 172_800
        }
    );
    assert_eq!((s.params.t1_percent, s.params.t2_percent), (0.5, 0.875));
    assert!(!s.params.match_client_id);
    assert_eq!(cfg.address_list(s.relay_addresses), &[] as &[Ipv4Addr]);

    // Options as wire bytes.
    let opts = cfg.options_of(s.options);
    let by_code = |c: u8| {
        let o = opts.iter().find(|o| o.code == c).unwrap();
        assert_eq!(o.space, OptionSpace::Dhcp4);
        assert!(!o.always_send);
        cfg.payload(o)
    };
    assert_eq!(by_code(3), a(1).octets());
    assert_eq!(by_code(15), b"home.michaelc.dev");
    assert_eq!(by_code(119), b"\x04home\x08michaelc\x03dev\x00");
    assert_eq!(by_code(42), [a(2).octets(), a(3).octets()].concat());
    assert_eq!(by_code(6).len(), 16);
    assert_eq!(by_code(6)[..8], [a(2).octets(), a(3).octets()].concat());

    // 13 reservations, found through both indexes.
    assert_eq!(cfg.reservations_of(s).len(), 13);
    let r = cfg
        .find_reservation(
            1,
            IdentifierType::HwAddress,
            &[0xa4, 0x77, 0x33, 0x48, 0x18, 0xae],
        )
        .unwrap();
    assert_eq!(
        (r.address, cfg.str(r.hostname)),
        (Some(a(50)), "chromecast")
    );
    let octane = cfg.reservation_for_address(1, a(206)).unwrap();
    assert_eq!(octane.identifier_type, IdentifierType::ClientId);
    assert_eq!(
        cfg.bytes(octane.identifier),
        [0x08, 0x00, 0x69, 0x12, 0x5d, 0xcd]
    );
    assert_eq!(cfg.str(octane.server_hostname), "octane");
    assert_eq!(
        cfg.str(octane.boot_file_name),
        "/data/irix/i/30/disc1/stand/fx.64"
    );
    for r in cfg.reservations_of(s) {
        let again = cfg
            .find_reservation(1, r.identifier_type, cfg.bytes(r.identifier))
            .unwrap();
        assert!(std::ptr::eq(again, r));
        assert!(s.prefix.contains(r.address.unwrap()));
    }

    // reservation-mode is deprecated: one warning per use (global and subnet).
    let deprecated = warnings
        .iter()
        .filter(|w| w.contains("reservation-mode"))
        .count();
    assert_eq!(deprecated, 2, "{warnings:?}");
}

#[test]
fn the_seed_config_loads_with_its_values_in_the_model() {
    let text = fixture("seed-kea-dhcp4.conf");
    load(&text, |cfg, warnings| {
        check_seed(cfg, warnings, [192, 168, 1])
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_seed_moved_to_198_18_loads_the_same() {
    let text = fixture("seed-198.conf");
    load(&text, |cfg, warnings| {
        check_seed(cfg, warnings, [198, 18, 0])
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// The seed as the blog post assembles it repeats four keys in `Dhcp4` with the same value.
/// Kea 2.2 rejects that; wren loads it with one warning per repeat (reader.rs `next_key`).
#[test]
fn the_seed_verbatim_loads_with_a_warning_per_repeated_key() {
    let text = fixture("seed-verbatim.conf");
    let repeats = load(&text, |cfg, warnings| {
        check_seed(cfg, warnings, [192, 168, 1]);
        warnings
            .iter()
            .filter(|w| w.contains("entries with the same value"))
            .cloned()
            .collect::<Vec<_>>()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let expected = [
        (66, "match-client-id", 16),
        (67, "max-valid-lifetime", 15),
        (68, "min-valid-lifetime", 13),
        (77, "server-tag", 4),
    ];
    assert_eq!(repeats.len(), expected.len(), "{repeats:#?}");
    for ((line, key, previous), warning) in expected.iter().zip(&repeats) {
        assert_eq!(
            warning,
            &format!(
                "line {line} col 6: Dhcp4.{key}: duplicate \"{key}\" entries with the same value \
                 (previous at line {previous} col 5); the later one is ignored"
            )
        );
    }
}

/// A repeated key with a different value is an error, as in Kea, naming the first entry.
#[test]
fn a_repeated_key_with_another_value_is_rejected() {
    let text = fixture("seed-verbatim.conf");
    let needle = "\"max-valid-lifetime\"";
    let last = text.rfind(needle).unwrap();
    let colon = last + text[last..].find(':').unwrap();
    let end = colon + text[colon..].find(',').unwrap();
    let changed = format!("{} 12345{}", &text[..=colon], &text[end..]);
    let e = load(&changed, |_, _| ()).unwrap_err();
    assert!(
        matches!(&e.kind, ConfigErrorKind::DuplicateKey { key, .. } if key == "max-valid-lifetime"),
        "{e}"
    );
    assert_eq!(e.path.as_str(), "Dhcp4.max-valid-lifetime");
}

/// Kea 2.2's own examples: each loads, or fails naming a feature wren does not support.
#[test]
fn kea_2_2_example_configs_load_or_name_the_unsupported_feature() {
    // The corpus lives in `../shared/corpus/kea4-examples` relative to the repository root
    // (next to the checkout); `WREN_CORPUS` names another place. When `WREN_CORPUS` is set
    // (`.ci/run` sets it whenever ../shared/corpus exists) a missing directory is a failure.
    let (dir, required) = match std::env::var_os("WREN_CORPUS") {
        Some(d) => (std::path::PathBuf::from(d), true),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/kea4-examples"),
            false,
        ),
    };
    if !dir.is_dir() {
        assert!(
            !required,
            "WREN_CORPUS={} is not a directory",
            dir.display()
        );
        println!(
            "NOTE: no Kea example corpus at {} (the repository's ../shared/corpus; set \
             WREN_CORPUS); corpus test not run",
            dir.display()
        );
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "corpus has {} files", files.len());
    // Files wren rejects as using a feature it does not implement: hook libraries it has
    // not built in (libdhcp_mysql_cb.so; libdhcp_flex_id.so and libdhcp_radius.so;
    // security.so and charging.so), each named in the error (core/src/config/hooks.rs).
    const EXPECTED_UNSUPPORTED: &[&str] =
        &["config-backend.json", "hooks-radius.json", "hooks.json"];
    let mut summary = String::new();
    let mut loaded = 0;
    let mut failures = Vec::new();
    let mut unsupported_files = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        match load(&text, |cfg, warnings| {
            (cfg.subnets.len(), cfg.reservations.len(), warnings.len())
        }) {
            Ok((subnets, reservations, warnings)) => {
                loaded += 1;
                writeln!(
                    summary,
                    "{name}: loaded ({subnets} subnets, {reservations} reservations, {warnings} warnings)"
                )
                .unwrap();
            }
            Err(e) => {
                let unsupported = e.kind.is_unsupported_feature();
                writeln!(summary, "{name}: rejected: {e}").unwrap();
                if unsupported {
                    unsupported_files.push(name.clone());
                } else {
                    failures.push(format!("{name}: {e}"));
                }
            }
        }
    }
    println!("{summary}");
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(unsupported_files, EXPECTED_UNSUPPORTED, "{summary}");
    assert_eq!(
        loaded,
        files.len() - EXPECTED_UNSUPPORTED.len(),
        "{summary}"
    );
}

/// A datacenter-sized config: 2,000 subnets, 50,000 reservations.
#[test]
fn two_thousand_subnets_and_fifty_thousand_reservations_load() {
    let mut text = String::from("{ \"Dhcp4\": { \"valid-lifetime\": 3600, \"subnet4\": [\n");
    let mut count = 0u32;
    for s in 0..2000u32 {
        // 198.18.0.0/15 holds 2,048 /26s.
        let base = 0xc612_0000u32 + (s << 6);
        let ip = |x: u32| Ipv4Addr::from(base + x);
        if s > 0 {
            text.push_str(",\n");
        }
        write!(
            text,
            "{{ \"id\": {}, \"subnet\": \"{}/26\", \"pools\": [ {{ \"pool\": \"{} - {}\" }} ], \"reservations\": [",
            s + 1,
            ip(0),
            ip(30),
            ip(62)
        )
        .unwrap();
        for r in 0..25u32 {
            if r > 0 {
                text.push(',');
            }
            let mac = count.to_be_bytes();
            write!(
                text,
                "{{ \"hw-address\": \"02:00:{:02x}:{:02x}:{:02x}:{:02x}\", \"ip-address\": \"{}\", \"hostname\": \"h{count}\" }}",
                mac[0],
                mac[1],
                mac[2],
                mac[3],
                ip(1 + r)
            )
            .unwrap();
            count += 1;
        }
        text.push_str("] }");
    }
    text.push_str("] } }\n");
    let start = std::time::Instant::now();
    let cap = config::measure(&text).unwrap();
    assert_eq!(
        (cap.subnets, cap.reservations, cap.pools),
        (2000, 50_000, 2000)
    );
    assert_eq!(cap.reservation_id_slots, 131_072);
    let mut bufs = common::ConfigStore::for_capacity(&cap);
    let cfg = config::parse(&text, bufs.storage(), &mut |w| panic!("{w}")).unwrap();
    let elapsed = start.elapsed();
    println!(
        "2,000 subnets / 50,000 reservations: {} bytes of text in {elapsed:?}",
        text.len()
    );
    let r = cfg
        .find_reservation(2000, IdentifierType::HwAddress, &[2, 0, 0, 0, 0xc3, 0x4f])
        .unwrap();
    assert_eq!(cfg.str(r.hostname), "h49999");
    assert_eq!(
        r.address,
        Some(Ipv4Addr::from(0xc612_0000u32 + (1999 << 6) + 25))
    );
    assert!(cfg
        .reservation_for_address(1000, Ipv4Addr::from(0xc612_0000u32 + (999 << 6) + 3))
        .is_some());
}

/// Mutated seed configs never panic, and whenever `measure` accepts a text, `parse` into
/// the measured storage never runs out of room.
#[test]
fn mutated_configs_never_panic_and_measure_is_always_enough() {
    mutate(&fixture("seed-kea-dhcp4.conf"));
    mutate(RICH);
}

/// Shared networks, carriers with sub-options, class option-defs, global reservations.
const RICH: &str = r#"{ "Dhcp4": {
  "option-def": [ { "name": "vlan", "code": 1, "type": "uint16", "space": "vendor-encapsulated-options-space" } ],
  "option-data": [ { "name": "vendor-encapsulated-options" },
    { "name": "vlan", "space": "vendor-encapsulated-options-space", "data": "100" },
    { "name": "vivso-suboptions", "data": "4491" },
    { "name": "tftp-servers", "space": "vendor-4491", "data": "198.18.10.5, 198.18.10.6" } ],
  "client-classes": [ { "name": "c", "test": "member('ALL')", "option-def": [ { "name": "p", "code": 240, "type": "record", "record-types": "uint8, ipv4-address, string" } ],
    "option-data": [ { "name": "p", "data": "7, 198.18.10.9, hello" } ], "valid-lifetime": 60 } ],
  "reservations": [ { "client-id": "01:02:03", "ip-address": "198.18.5.5", "comment": "global" } ],
  "shared-networks": [ { "name": "n", "relay": { "ip-addresses": [ "198.18.9.1" ] },
    "subnet4": [ { "subnet": "198.18.1.0/24", "pools": [ { "pool": "198.18.1.10-198.18.1.20" } ],
                   "reservations": [ { "hw-address": "02:00:00:00:00:01", "ip-address": "198.18.1.5" } ] } ] } ],
  "subnet4": [ { "id": 9, "subnet": "198.18.0.0/24", "user-context": { "a": [ 1, { "b": null } ] },
                 "option-data": [ { "code": 3, "data": "198.18.0.1" } ] } ]
} }"#;

fn mutate(seed: &str) {
    load(seed, |_, _| ()).unwrap_or_else(|e| panic!("the unmutated text must load: {e}"));
    let bytes = seed.as_bytes();
    let alphabet: &[u8] = b"{}[]:,\"\\ 0123456789.-/#*abcdefxyz\n";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut measured = 0;
    for _ in 0..1500 {
        let mut text = bytes.to_vec();
        for _ in 0..1 + next() % 3 {
            let at = (next() as usize) % text.len();
            match next() % 3 {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                _ => text[at] = alphabet[(next() as usize) % alphabet.len()],
            }
        }
        let Ok(text) = String::from_utf8(text) else {
            continue;
        };
        let Ok(cap) = config::measure(&text) else {
            continue;
        };
        measured += 1;
        let mut bufs = common::ConfigStore::for_capacity(&cap);
        if let Err(e) = config::parse(&text, bufs.storage(), &mut |_| {}) {
            assert!(
                !matches!(e.kind, ConfigErrorKind::StorageFull(_)),
                "measured storage too small: {e}\n{text}"
            );
        }
    }
    assert!(measured > 100, "only {measured} mutants measured");
}
