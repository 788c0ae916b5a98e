//! The seed's four client classes (core/tests/fixtures/seed-198.conf) compiled by the
//! classification module and evaluated by the engine ([`CompiledClassTests`]) on real
//! PXE-style DISCOVER/REQUEST packets, plus class restrictions, DROP, KNOWN/UNKNOWN,
//! required classes and option/boot-field precedence (kea-expressions.md §5, §6).

// Test code: a failed index or unwrap is a failed test.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use wren_core::classify::{compile_config_classes, storage_needed, CompiledClass};
use wren_core::classify::{CompiledClassTests, ExprStore, Op};
use wren_core::lease::LeaseRecord;
use wren_core::server::{
    class_words, DropReason, Engine, Interface, LeaseSink, MessageType, Outcome, Transport,
};
use wren_core::time::Timestamp;

mod common;

const SEED: &str = include_str!("fixtures/seed-198.conf");

struct Sink;

impl LeaseSink for Sink {
    fn lease_changed(&mut self, _r: &LeaseRecord<'_>) {}
}

fn packet(mac: [u8; 6], options: &[u8]) -> Vec<u8> {
    common::client_packet(0x5eed_0002, mac, options)
}

fn c_string(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// What a reply said: `None` when the query was dropped.
#[derive(Debug)]
struct Reply {
    kind: MessageType,
    yiaddr: Ipv4Addr,
    sname: Vec<u8>,
    file: Vec<u8>,
    options: Vec<(u8, Vec<u8>)>,
}

/// DISCOVER then (if offered) a SELECTING REQUEST from `mac` with `extra` options through
/// the engine over `text` with its classes compiled; returns the OFFER and the ACK, or the
/// drop reason of the DISCOVER.
fn dora(text: &str, mac: [u8; 6], extra: &[u8]) -> Result<(Reply, Reply), DropReason> {
    let mut store = common::ConfigStore::for_text(text);
    let config = store.parse(text);
    let (ops_needed, literals_needed) = storage_needed(&config);
    let mut ops = vec![Op::And; ops_needed];
    let mut literals = vec![0u8; literals_needed];
    let mut compiled = vec![
        CompiledClass {
            name: &[],
            test: None,
            only_if_required: false,
        };
        config.classes.len()
    ];
    let mut expr_store = ExprStore::new(&mut ops, &mut literals);
    compile_config_classes(&config, &mut expr_store, &mut compiled).unwrap();
    let tests = CompiledClassTests {
        view: expr_store.into_view(),
        classes: &compiled,
    };
    let mut bits = vec![0u64; class_words(config.classes.len())];
    let mut leases = common::LeaseStore::new(64, config.pools);
    let mut table = leases.table(config.pools);
    let mut cursors = vec![Ipv4Addr::UNSPECIFIED; config.subnets.len()];
    let mut engine =
        Engine::new(&config, &mut table, &mut cursors).with_class_tests(&tests, &mut bits);
    let server = [Ipv4Addr::new(198, 18, 0, 2)];
    let ue0 = Interface {
        name: "ue0",
        addresses: &server,
        mac: [2, 0, 0, 0, 0, 2],
    };
    let q = |payload| common::broadcast_query(payload, ue0, [0; 6], Transport::Udp);
    let reply = |buf: &[u8], kind| Reply {
        kind,
        yiaddr: Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]),
        sname: c_string(&buf[44..108]).to_vec(),
        file: c_string(&buf[108..236]).to_vec(),
        options: common::reply_options(buf),
    };
    let mut buf = [0u8; 1500];
    let now = Timestamp(1_800_000_000);
    let mut discover = vec![53, 1, 1, 55, 4, 1, 3, 6, 66];
    discover.extend_from_slice(extra);
    let discover = packet(mac, &discover);
    let o = engine.handle(&q(&discover), now, &mut buf, &mut Sink);
    let offer = match o {
        Outcome::Reply { len, kind, .. } => reply(&buf[..len], kind),
        Outcome::Drop(reason) => return Err(reason),
        other => panic!("DISCOVER: {other:?}"),
    };
    let mut request = vec![53, 1, 3, 54, 4, 198, 18, 0, 2, 50, 4];
    request.extend_from_slice(&offer.yiaddr.octets());
    request.extend_from_slice(&[55, 4, 1, 3, 6, 66]);
    request.extend_from_slice(extra);
    let request = packet(mac, &request);
    let o = engine.handle(&q(&request), now, &mut buf, &mut Sink);
    let Outcome::Reply { len, kind, .. } = o else {
        panic!("REQUEST: {o:?}")
    };
    Ok((offer, reply(&buf[..len], kind)))
}

const CLIENT: [u8; 6] = [2, 0, 0, 0, 0x33, 0x01];
/// Option 93 (client-system) = 0 (Intel x86PC, legacy BIOS PXE).
const ARCH_BIOS: [u8; 4] = [93, 2, 0, 0];
/// Option 93 = 7 (EFI x86-64).
const ARCH_EFI64: [u8; 4] = [93, 2, 0, 7];
/// Option 77 (user class) as iPXE sends it.
const USER_CLASS_IPXE: [u8; 6] = [77, 4, b'i', b'P', b'X', b'E'];

fn both(text: &str, extra: &[u8]) -> [Reply; 2] {
    let (offer, ack) = dora(text, CLIENT, extra).unwrap();
    assert_eq!(offer.kind, MessageType::Offer);
    assert_eq!(ack.kind, MessageType::Ack);
    [offer, ack]
}

#[test]
fn legacy_bios_pxe_gets_undionly() {
    for r in both(SEED, &ARCH_BIOS) {
        assert_eq!(r.file, b"/ipxe/undionly.kpxe", "{r:?}");
        assert_eq!(r.sname, b"");
    }
}

#[test]
fn efi_x86_64_gets_netboot_xyz() {
    for r in both(SEED, &ARCH_EFI64) {
        assert_eq!(r.file, b"/ipxe/netboot.xyz.efi", "{r:?}");
    }
}

#[test]
fn plain_client_gets_no_boot_file() {
    for r in both(SEED, &[]) {
        assert_eq!(r.file, b"", "{r:?}");
    }
    // Other architectures (option 93 = 6, IA32 EFI) match no class either.
    for r in both(SEED, &[93, 2, 0, 6]) {
        assert_eq!(r.file, b"", "{r:?}");
    }
}

#[test]
fn ipxe_class_sets_no_file_and_legacy_class_wins_by_order() {
    // iPXE's boot-file-name is "": it sets nothing, so a chainloaded BIOS iPXE still
    // gets the Legacy PXE file (first class in assignment order that sets one).
    let mut extra = ARCH_BIOS.to_vec();
    extra.extend_from_slice(&USER_CLASS_IPXE);
    for r in both(SEED, &extra) {
        assert_eq!(r.file, b"/ipxe/undionly.kpxe", "{r:?}");
    }
    for r in both(SEED, &USER_CLASS_IPXE) {
        assert_eq!(r.file, b"", "{r:?}");
    }
}

/// The seed with "PXE Host" given a server-hostname and a boot file (visible effects) and,
/// when `required`, listed in the subnet's `require-client-classes`.
fn seed_with_pxe_host(required: bool) -> String {
    let marked = SEED.replacen(
        r#""boot-file-name": "",
        "name": "PXE Host","#,
        r#""boot-file-name": "pxe-host.file",
        "name": "PXE Host","#,
        1,
    );
    assert_ne!(marked, SEED, "fixture layout changed");
    if !required {
        return marked;
    }
    let required = marked.replacen(
        r#""subnet": "198.18.0.0/24","#,
        r#""subnet": "198.18.0.0/24", "require-client-classes": [ "PXE Host" ],"#,
        1,
    );
    assert_ne!(required, marked, "fixture layout changed");
    required
}

#[test]
fn pxe_host_only_when_required() {
    // only-if-required: never assigned by pass 1, even though its test is true.
    let text = seed_with_pxe_host(false);
    for r in both(&text, &USER_CLASS_IPXE) {
        assert_eq!(r.file, b"", "{r:?}");
    }
    // Required by the subnet: evaluated after subnet selection and assigned.
    let text = seed_with_pxe_host(true);
    for r in both(&text, &USER_CLASS_IPXE) {
        assert_eq!(r.file, b"pxe-host.file", "{r:?}");
    }
    // Required but its test is false (no PXE class matched): not assigned.
    for r in both(&text, &[]) {
        assert_eq!(r.file, b"", "{r:?}");
    }
    // Legacy PXE precedes PXE Host in assignment order (required classes come last).
    for r in both(&text, &ARCH_BIOS) {
        assert_eq!(r.file, b"/ipxe/undionly.kpxe", "{r:?}");
    }
}

/// A minimal config over 198.18.0.0/24 with `classes` (JSON array body) and the subnet
/// carrying `subnet_extra` (JSON members ending in a comma) and a pool with `pool_extra`.
fn small(classes: &str, subnet_extra: &str, pool_extra: &str, global_extra: &str) -> String {
    format!(
        r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "ue0" ], "dhcp-socket-type": "udp" }},
  "valid-lifetime": 4000,
  {global_extra}
  "client-classes": [ {classes} ],
  "subnet4": [ {{
    "id": 1, "subnet": "198.18.0.0/24", {subnet_extra}
    "pools": [ {{ "pool": "198.18.0.100 - 198.18.0.110" {pool_extra} }} ]
  }} ]
}} }}"#
    )
}

#[test]
fn option_93_compared_to_integer_never_matches() {
    // `option[93].hex == 7`: the integer literal is the string "7", never the 2-byte
    // option value (kea-expressions.md: integers are not converted for `==`).
    let text = small(
        r#"{ "name": "never", "test": "option[93].hex == 7", "boot-file-name": "never.efi" }"#,
        "",
        "",
        "",
    );
    for extra in [&ARCH_EFI64[..], &[93, 1, 7], &[93, 1, b'7'][..1]] {
        for r in both(&text, extra) {
            assert_eq!(r.file, b"", "{r:?}");
        }
    }
}

#[test]
fn drop_class_drops_the_query() {
    let text = small(
        r#"{ "name": "DROP", "test": "option[93].hex == 0x0007" }"#,
        "",
        "",
        "",
    );
    assert_eq!(
        dora(&text, CLIENT, &ARCH_EFI64).unwrap_err(),
        DropReason::DropClass
    );
    assert!(dora(&text, CLIENT, &ARCH_BIOS).is_ok());
}

#[test]
fn pool_and_subnet_client_class_restrictions() {
    let classes = r#"{ "name": "efi", "test": "option[93].hex == 0x0007" }"#;
    // A pool restricted to `efi`: only EFI clients get an address.
    let text = small(classes, "", r#", "client-class": "efi""#, "");
    assert!(dora(&text, CLIENT, &ARCH_EFI64).is_ok());
    assert!(dora(&text, CLIENT, &ARCH_BIOS).is_err());
    // A subnet restricted to `efi`.
    let text = small(classes, r#""client-class": "efi","#, "", "");
    assert!(dora(&text, CLIENT, &ARCH_EFI64).is_ok());
    assert!(dora(&text, CLIENT, &ARCH_BIOS).is_err());
}

#[test]
fn known_and_unknown_classes_follow_the_host_lookup() {
    let classes = r#"
      { "name": "k", "test": "member('KNOWN')", "server-hostname": "known-host" },
      { "name": "u", "test": "member('UNKNOWN')", "server-hostname": "unknown-host" }"#;
    let reservations = r#""reservations": [ { "hw-address": "02:00:00:00:33:02",
        "ip-address": "198.18.0.50" } ],"#;
    let text = small(classes, reservations, "", "");
    for r in both(&text, &[]) {
        assert_eq!(r.sname, b"unknown-host", "{r:?}");
    }
    let (offer, ack) = dora(&text, [2, 0, 0, 0, 0x33, 0x02], &[]).unwrap();
    for r in [offer, ack] {
        assert_eq!(r.yiaddr, Ipv4Addr::new(198, 18, 0, 50));
        assert_eq!(r.sname, b"known-host", "{r:?}");
    }
}

#[test]
fn class_option_precedence() {
    // Option 66 (tftp-server-name): subnet beats class beats global; among classes the
    // first assigned wins.
    let classes = r#"
      { "name": "a", "test": "option[93].hex == 0x0000",
        "option-data": [ { "name": "tftp-server-name", "data": "from-a" } ] },
      { "name": "b", "test": "option[93].exists",
        "option-data": [ { "name": "tftp-server-name", "data": "from-b" } ] }"#;
    let global = r#""option-data": [ { "name": "tftp-server-name", "data": "global" } ],"#;
    let text = small(classes, "", "", global);
    let tftp = |r: &Reply| {
        r.options
            .iter()
            .find(|(c, _)| *c == 66)
            .map(|(_, v)| v.clone())
    };
    for r in both(&text, &[]) {
        assert_eq!(tftp(&r).as_deref(), Some(&b"global"[..]), "{r:?}");
    }
    for r in both(&text, &ARCH_BIOS) {
        assert_eq!(tftp(&r).as_deref(), Some(&b"from-a"[..]), "{r:?}");
    }
    for r in both(&text, &ARCH_EFI64) {
        assert_eq!(tftp(&r).as_deref(), Some(&b"from-b"[..]), "{r:?}");
    }
    let subnet = r#""option-data": [ { "name": "tftp-server-name", "data": "subnet" } ],"#;
    let text = small(classes, subnet, "", global);
    for r in both(&text, &ARCH_BIOS) {
        assert_eq!(tftp(&r).as_deref(), Some(&b"subnet"[..]), "{r:?}");
    }
}

#[test]
fn class_valid_lifetime_beats_the_subnet() {
    let classes = r#"{ "name": "efi", "test": "option[93].hex == 0x0007",
        "valid-lifetime": 600 }"#;
    let text = small(classes, "", "", "");
    let lifetime = |r: &Reply| r.options.iter().find(|(c, _)| *c == 51).unwrap().1.clone();
    for r in both(&text, &ARCH_EFI64) {
        assert_eq!(lifetime(&r), 600u32.to_be_bytes(), "{r:?}");
    }
    for r in both(&text, &ARCH_BIOS) {
        assert_eq!(lifetime(&r), 4000u32.to_be_bytes(), "{r:?}");
    }
}
