//! Tests of the expression language and class assignment against kea-expressions.md, the
//! seed config's four PXE classes, real client captures (`core/tests/fixtures`) and PXE
//! queries built with the wire writers.

use core::net::Ipv4Addr;
use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use super::classes::compile_class;
use super::eval::{evaluate, ClassQuery, EvalContext, EvalError};
use super::parser::{compile, NoClasses, Resolver};
use super::program::{ExprStore, Op};
use super::{CompiledClass, ParseError, ParseErrorKind};
use crate::wire::message::Message;
use crate::wire::options::OptionWriter;

const DHCLIENT_DISCOVER: &str = include_str!("../../tests/fixtures/dhclient-discover.hex");
const UDHCPC_DISCOVER: &str = include_str!("../../tests/fixtures/udhcpc-discover.hex");
const DHCPCD_DISCOVER: &str = include_str!("../../tests/fixtures/dhcpcd-discover.hex");
const PERFDHCP_DISCOVER: &str = include_str!("../../tests/fixtures/perfdhcp-discover.hex");
const DHCPCD_INFORM: &str = include_str!("../../tests/fixtures/dhcpcd-inform.hex");

fn hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// A DISCOVER with dhclient's real header (xid c1f60551, chaddr 02:57:52:00:00:02) and
/// the given options after option 53, written with the wire option writer.
fn query(options: &[(u8, &[u8])]) -> Vec<u8> {
    let mut bytes = hex(DHCLIENT_DISCOVER);
    bytes.truncate(240);
    let mut area = vec![0u8; 1200];
    let mut writer = OptionWriter::new(&mut area);
    writer.write(53, &[1]).unwrap();
    for (code, value) in options {
        writer.write(*code, value).unwrap();
    }
    let len = writer.finish().unwrap();
    bytes.extend_from_slice(&area[..len]);
    bytes
}

struct Classes {
    members: u64,
    known: Option<bool>,
}

impl ClassQuery for Classes {
    fn has_class(&self, index: u32) -> bool {
        index < 64 && self.members & (1 << index) != 0
    }
    fn known(&self) -> Option<bool> {
        self.known
    }
    fn has_named(&self, name: &[u8]) -> bool {
        name == b"HA_server1"
    }
}

const NOBODY: Classes = Classes {
    members: 0,
    known: None,
};

/// Compile `test` alone and evaluate it on `packet`.
fn eval_with(test: &str, packet: &[u8], classes: &Classes) -> Result<bool, EvalError> {
    let mut ops = vec![Op::Concat; 256];
    let mut literals = vec![0u8; 2048];
    let mut store = ExprStore::new(&mut ops, &mut literals);
    let expr = compile(test, &mut store, &NoClasses)
        .unwrap_or_else(|e| panic!("{test}: {e} ({})", e.token(test)));
    let mut option_scratch = vec![0u8; packet.len()];
    let message = Message::parse(packet, &mut option_scratch).unwrap();
    let ctx = EvalContext {
        message: &message,
        interface: b"veth-wren0",
        source: Ipv4Addr::new(198, 18, 0, 2),
        destination: Ipv4Addr::BROADCAST,
        length: u32::try_from(packet.len()).unwrap(),
    };
    let mut scratch = [0u8; 2048];
    evaluate(store.view(), &expr, &ctx, classes, &mut scratch)
}

fn eval(test: &str) -> Result<bool, EvalError> {
    eval_with(test, &query(&[]), &NOBODY)
}

fn is_true(test: &str) {
    assert_eq!(eval(test), Ok(true), "{test}");
}

fn is_false(test: &str) {
    assert_eq!(eval(test), Ok(false), "{test}");
}

fn on(packet: &[u8], test: &str) -> bool {
    eval_with(test, packet, &NOBODY).unwrap_or_else(|e| panic!("{test}: {e}"))
}

fn parse_error(test: &str) -> ParseError {
    let mut ops = vec![Op::Concat; 256];
    let mut literals = vec![0u8; 2048];
    let mut store = ExprStore::new(&mut ops, &mut literals);
    let err = compile(test, &mut store, &NoClasses).expect_err(test);
    assert_eq!(store.ops_used(), 0, "rolled back: {test}");
    assert_eq!(store.literals_used(), 0, "rolled back: {test}");
    err
}

#[test]
fn literals_are_byte_strings() {
    is_true("'abc' == 0x616263");
    is_true("0x7 == 0x07");
    is_true("0X0a == 0x0A");
    // spec trap 3: an integer literal is 4 big-endian bytes.
    is_true("7 == 0x00000007");
    is_false("7 == 0x0007");
    is_true("4294967295 == 0xffffffff");
    is_true("0 == 0x00000000");
    is_true("10.0.0.1 == 0x0a000001");
    is_true("198.18.0.1 == 0xc6120001");
    is_true("::1 == 0x00000000000000000000000000000001");
    is_true("fe80::1 == 0xfe800000000000000000000000000001");
    is_true("'' == ''");
    is_false("'' == 0x00");
    is_true("('a' + 'b') == 'ab'");
    is_true("'a' + 'b' + 'c' == 'abc'");
    is_true("concat('a', concat('b', 'c')) == 'abc'");
    is_true(" \t'a'\n==\n'a' ");
}

#[test]
fn substring_matches_the_spec_examples() {
    for (args, want) in [
        ("0,6", "foobar"),
        ("3,3", "bar"),
        ("3,all", "bar"),
        ("1,4", "ooba"),
        ("-5,4", "ooba"),
        ("-1,-3", "oba"),
        ("4,-2", "ob"),
        ("10,2", ""),
        ("0,all", "foobar"),
        ("-6,all", "foobar"),
        ("-7,all", ""),
        ("6,1", ""),
        ("2,100", "obar"),
        ("0,0", ""),
    ] {
        is_true(&format!("substring('foobar',{args}) == '{want}'"));
    }
    is_true("substring('abc',0,-1) == ''");
    is_true("substring('',0,all) == ''");
    is_true("substring(substring('foobar',1,all),1,2) == 'ob'");
    // Kea converts with lexical_cast<int>: beyond int range is an evaluation error.
    assert_eq!(
        eval("substring('foobar',4294967295,1) == ''"),
        Err(EvalError::NumberOutOfRange)
    );
}

#[test]
fn split_matches_the_spec() {
    is_true("split('a.b..c', '.', 1) == 'a'");
    is_true("split('a.b..c', '.', 2) == 'b'");
    is_true("split('a.b..c', '.', 3) == ''");
    is_true("split('a.b..c', '.', 4) == 'c'");
    is_true("split('a.b..c', '.', 5) == ''");
    is_true("split('a.b..c', '.', 0) == ''");
    is_true("split('a.b..c', '.', -1) == ''");
    is_true("split('a:b.c', '.:', 2) == 'b'");
    is_true("split('a:b.c', '.:', 3) == 'c'");
    is_true("split('', '.', 1) == ''");
    is_true("split('abc', '', 1) == 'abc'");
    is_true("split('abc', '', 9) == 'abc'");
    is_true("split('abc', '.', 1) == 'abc'");
    is_true("split('.', '.', 2) == ''");
}

#[test]
fn functions() {
    is_true("hexstring(0x0a1b, ':') == '0a:1b'");
    is_true("hexstring(0x0a1b, '') == '0a1b'");
    is_true("hexstring('', ':') == ''");
    is_true("hexstring(0xff, '--') == 'ff'");
    is_true("ifelse('a' == 'a', 'yes', 'no') == 'yes'");
    is_true("ifelse('a' == 'b', 'yes', 'no') == 'no'");
    is_true("addrtotext(10.0.0.1) == '10.0.0.1'");
    is_true("addrtotext(0xc6120001) == '198.18.0.1'");
    is_true("addrtotext(::1) == '::1'");
    is_true("addrtotext(2001:db8::ff00:42:8329) == '2001:db8::ff00:42:8329'");
    is_true("addrtotext('') == ''");
    assert_eq!(
        eval("addrtotext(0x0102) == ''"),
        Err(EvalError::BadAddressLength(2))
    );
    is_true("uint8totext(0xff) == '255'");
    is_true("int8totext(0xff) == '-1'");
    is_true("int8totext(0x7f) == '127'");
    is_true("uint16totext(0x0102) == '258'");
    is_true("int16totext(0xffff) == '-1'");
    is_true("uint32totext(0xffffffff) == '4294967295'");
    is_true("int32totext(0x80000000) == '-2147483648'");
    is_true("uint32totext(7) == '7'");
    is_true("uint32totext('') == ''");
    assert_eq!(
        eval("uint16totext(0x01) == ''"),
        Err(EvalError::BadIntegerLength {
            expected: 2,
            got: 1
        })
    );
}

#[test]
fn booleans_precedence_and_no_short_circuit() {
    // and binds tighter than or: true or (false and false) = true
    is_true("'a' == 'a' or 'a' == 'b' and 'b' == 'c'");
    is_false("('a' == 'a' or 'a' == 'b') and 'b' == 'c'");
    // not binds tighter than and
    is_true("not 'a' == 'b' and 'a' == 'a'");
    is_false("not ('a' == 'a' and 'b' == 'b')");
    is_true("not not 'a' == 'a'");
    is_true("(('a' == 'a'))");
    is_true("'a' == 'b' or 'c' == 'd' or 'e' == 'e'");
    // RPN: both sides always evaluate, so an error on the right fails even `true or …`.
    assert_eq!(
        eval("'a' == 'a' or addrtotext(0x01) == ''"),
        Err(EvalError::BadAddressLength(1))
    );
}

#[test]
fn options_on_real_captures() {
    let dhclient = hex(DHCLIENT_DISCOVER);
    assert!(on(&dhclient, "option[12].text == 'wren-dhclient'"));
    assert!(on(&dhclient, "option[host-name].text == 'wren-dhclient'"));
    assert!(on(&dhclient, "option[12].hex == 'wren-dhclient'"));
    assert!(on(&dhclient, "option[55].exists"));
    assert!(on(
        &dhclient,
        "option[dhcp-parameter-request-list].hex == 0x011c02030f06770c2a1a"
    ));
    assert!(on(&dhclient, "option[53].hex == 0x01"));
    assert!(!on(&dhclient, "option[60].exists"));
    assert!(on(&dhclient, "option[60].hex == ''"));
    assert!(on(&dhclient, "option[60].text == ''"));
    assert!(on(&dhclient, "option[93].text == ''"));
    assert!(on(&dhclient, "not option[61].exists"));

    let udhcpc = hex(UDHCPC_DISCOVER);
    assert!(on(
        &udhcpc,
        "option[vendor-class-identifier].text == 'udhcp 1.35.0'"
    ));
    assert!(on(&udhcpc, "substring(option[60].hex, 0, 5) == 'udhcp'"));
    // string options are unpacked by Kea as OptionString: trailing NULs go for every view,
    // and an all-NUL one is absent.
    let nuls = query(&[(12, b"pi\0\0"), (15, b"\0\0"), (77, b"iPXE\0")]);
    assert!(on(&nuls, "option[12].hex == 'pi'"));
    assert!(on(&nuls, "option[host-name].text == 'pi'"));
    assert!(!on(&nuls, "option[domain-name].exists"));
    assert!(on(&nuls, "option[15].hex == ''"));
    assert!(
        on(&nuls, "option[77].hex == 0x6950584500"),
        "77 is binary: NUL kept"
    );
    // 61 is binary: .text is Kea's generic rendering.
    assert!(on(
        &udhcpc,
        "option[61].text == 'type=061, len=007: 01:02:57:52:00:00:02'"
    ));
    assert!(on(
        &udhcpc,
        "option[dhcp-client-identifier].hex == 0x01025752000002"
    ));
    assert!(on(&udhcpc, "substring(option[61].hex, 1, all) == pkt4.mac"));

    let dhcpcd = hex(DHCPCD_DISCOVER);
    assert!(on(&dhcpcd, "split(option[60].text, ':', 3) == 'x86_64'"));
    assert!(on(&dhcpcd, "split(option[60].text, ':-', 2) == '9.4.1'"));
    assert!(on(&dhcpcd, "option[57].hex == 0x05c0"));
    assert!(on(&dhcpcd, "uint16totext(option[57].hex) == '1472'"));

    let inform = hex(DHCPCD_INFORM);
    assert!(on(&inform, "pkt4.msgtype == 8"));
    assert!(on(&inform, "pkt4.transid == 0x5c6978b5"));

    let perfdhcp = hex(PERFDHCP_DISCOVER);
    assert!(on(&perfdhcp, "pkt4.mac == 0x000c01020304"));
    assert!(on(
        &perfdhcp,
        "hexstring(pkt4.mac, ':') == '00:0c:01:02:03:04'"
    ));
}

#[test]
fn header_and_datagram_fields() {
    let packet = hex(DHCLIENT_DISCOVER);
    assert!(on(&packet, "pkt4.mac == 0x025752000002"));
    assert!(on(&packet, "pkt4.hlen == 6"));
    assert!(on(&packet, "pkt4.htype == 1"));
    assert!(on(&packet, "pkt4.msgtype == 1"));
    assert!(!on(&packet, "pkt4.msgtype == 0x01"));
    assert!(on(&packet, "pkt4.transid == 0xc1f60551"));
    assert!(on(&packet, "pkt4.ciaddr == 0.0.0.0"));
    assert!(on(&packet, "pkt4.giaddr == 0.0.0.0"));
    assert!(on(&packet, "pkt4.yiaddr == 0.0.0.0"));
    assert!(on(&packet, "pkt4.siaddr == 0.0.0.0"));
    assert!(on(&packet, "pkt.iface == 'veth-wren0'"));
    assert!(on(&packet, "pkt.src == 198.18.0.2"));
    assert!(on(&packet, "pkt.dst == 255.255.255.255"));
    assert!(on(&packet, "pkt.len == 300"));
    assert!(on(&packet, "addrtotext(pkt.src) == '198.18.0.2'"));

    let mut relayed = packet.clone();
    relayed[24..28].copy_from_slice(&[198, 18, 1, 1]);
    relayed[12..16].copy_from_slice(&[198, 18, 1, 50]);
    assert!(on(&relayed, "pkt4.giaddr == 198.18.1.1"));
    assert!(on(&relayed, "pkt4.ciaddr == 198.18.1.50"));
}

#[test]
fn relay_agent_sub_options() {
    // option 82: circuit-id "eth0/1", remote-id 00:11:22
    let rai: &[u8] = &[
        1, 6, b'e', b't', b'h', b'0', b'/', b'1', 2, 3, 0, 0x11, 0x22,
    ];
    let packet = query(&[(82, rai)]);
    assert!(on(&packet, "relay4[1].hex == 'eth0/1'"));
    // Kea: `.text` of a binary sub-option is its generic rendering.
    assert!(on(
        &packet,
        "relay4[1].text == 'type=001, len=006: 65:74:68:30:2f:31'"
    ));
    assert!(on(&packet, "relay4[5].text == ''"));
    assert!(on(&packet, "relay4[2].hex == 0x001122"));
    assert!(on(&packet, "relay4[1].exists"));
    assert!(!on(&packet, "relay4[5].exists"));
    assert!(on(&packet, "relay4[5].hex == ''"));
    assert!(on(&packet, "option[82].option[1].hex == 'eth0/1'"));
    assert!(on(&packet, "option[dhcp-agent-options].option[2].exists"));
    assert!(!on(&packet, "option[82].option[9].exists"));
    let plain = query(&[]);
    assert!(!on(&plain, "relay4[1].exists"));
    assert!(on(&plain, "relay4[1].hex == ''"));
    assert!(!on(&plain, "option[82].option[1].exists"));
}

#[test]
fn vendor_options() {
    // 125: enterprise 4491, data-len 8, sub-options (1, "abc"), (2, 0x05)
    let vivso: &[u8] = &[0, 0, 0x11, 0x8b, 8, 1, 3, b'a', b'b', b'c', 2, 1, 5];
    // 124 (RFC 3925 §3): two blocks of enterprise 4491, data "foo" and "bar".
    let vclass: &[u8] = &[
        0, 0, 0x11, 0x8b, 3, b'f', b'o', b'o', 0, 0, 0x11, 0x8b, 3, b'b', b'a', b'r',
    ];
    let packet = query(&[(124, vclass), (125, vivso)]);
    assert!(on(&packet, "vendor[4491].exists"));
    assert!(on(&packet, "vendor[*].exists"));
    assert!(on(&packet, "vendor[0].exists"));
    assert!(!on(&packet, "vendor[1234].exists"));
    assert!(on(&packet, "vendor.enterprise == 4491"));
    assert!(on(&packet, "vendor.enterprise == 0x0000118b"));
    assert!(on(&packet, "vendor[4491].option[1].hex == 'abc'"));
    assert!(on(&packet, "vendor[*].option[2].hex == 0x05"));
    assert!(on(
        &packet,
        "vendor[*].option[2].text == 'type=002, len=001: 05'"
    ));
    assert!(on(&packet, "vendor[4491].option[1].exists"));
    assert!(!on(&packet, "vendor[4491].option[3].exists"));
    assert!(on(&packet, "vendor[9].option[1].hex == ''"));
    assert!(on(&packet, "vendor-class[4491].exists"));
    assert!(on(&packet, "vendor-class[*].exists"));
    assert!(!on(&packet, "vendor-class[1].exists"));
    assert!(on(&packet, "vendor-class.enterprise == 4491"));
    assert!(on(&packet, "vendor-class[4491].data == 'foo'"));
    assert!(on(&packet, "vendor-class[4491].data[0] == 'foo'"));
    assert!(on(&packet, "vendor-class[*].data[1] == 'bar'"));
    assert!(on(&packet, "vendor-class[4491].data[2] == ''"));
    assert!(on(&packet, "vendor-class[1].data == ''"));
    // a truncated second block: the first tuple still reads
    let truncated = query(&[(124, &vclass[..10])]);
    assert!(on(&truncated, "vendor-class[*].data == 'foo'"));
    assert!(on(&truncated, "vendor-class[*].data[1] == ''"));
    // a truncated second block: the first tuple still reads
    let truncated = query(&[(124, &vclass[..10])]);
    assert!(on(&truncated, "vendor-class[*].data == 'foo'"));
    assert!(on(&truncated, "vendor-class[*].data[1] == ''"));
    let plain = query(&[]);
    assert!(!on(&plain, "vendor[*].exists"));
    assert!(on(&plain, "vendor.enterprise == ''"));
    assert!(on(&plain, "vendor-class.enterprise == ''"));
    assert!(on(&plain, "vendor-class[*].data == ''"));
}

/// `known` / `unknown` (rejected by Kea 2.2's lexer, listed in the Kea ARM) mean
/// `member('KNOWN')` / `not member('KNOWN')`: pass 2, after the host lookup.
#[test]
fn known_and_unknown_keywords() {
    let packet = query(&[]);
    let known = Classes {
        members: 0,
        known: Some(true),
    };
    let unknown = Classes {
        members: 0,
        known: Some(false),
    };
    for (test, with_host, without_host) in [
        ("known", true, false),
        ("unknown", false, true),
        ("not known", false, true),
        ("not unknown and known", true, false),
        ("(unknown)", false, true),
        ("ifelse(known, 'a', 'b') == 'a'", true, false),
    ] {
        assert_eq!(eval_with(test, &packet, &known), Ok(with_host), "{test}");
        assert_eq!(
            eval_with(test, &packet, &unknown),
            Ok(without_host),
            "{test}"
        );
        // Same meaning as the member() spelling, in every state (before the lookup too).
        let spelled = test
            .replace("unknown", "not member('KNOWN')")
            .replace("known", "member('KNOWN')")
            .replace("not member('KNOWN')", "(not member('KNOWN'))");
        for classes in [&known, &unknown, &NOBODY] {
            assert_eq!(
                eval_with(test, &packet, classes),
                eval_with(&spelled, &packet, classes),
                "{test} vs {spelled}"
            );
        }
    }
    // Both make the class a pass-2 class.
    let compiled = compile_all(&[
        ("k", "known", false),
        ("u", "unknown and option[60].exists", false),
        ("plain", "option[60].exists", false),
    ])
    .unwrap();
    assert!(compiled.classes[0].depends_on_known());
    assert!(compiled.classes[1].depends_on_known());
    assert!(!compiled.classes[2].depends_on_known());
    // The config loader's warning trigger.
    assert!(crate::classify::uses_known_keyword(b"known"));
    assert!(crate::classify::uses_known_keyword(
        b"option[60].exists and not unknown"
    ));
    assert!(!crate::classify::uses_known_keyword(b"member('KNOWN')"));
    assert!(!crate::classify::uses_known_keyword(
        b"'known' == 'unknown'"
    ));
    assert!(!crate::classify::uses_known_keyword(
        b"option[known].exists"
    ));
    assert!(!crate::classify::uses_known_keyword(b"known-option == 'x'"));
    assert!(!crate::classify::uses_known_keyword(b"'unterminated known"));
}

/// Bracketed numbers at and beyond their ranges (option/sub-option codes 0..255,
/// enterprise ids 0..4294967295, 124 tuple index 0..255), and `all` only as a length.
#[test]
fn bracket_ranges_and_all() {
    let vivso: &[u8] = &[0xff, 0xff, 0xff, 0xff, 3, 1, 1, b'x'];
    let packet = query(&[(125, vivso), (124, &[0, 0, 0x11, 0x8b, 1, b'a'])]);
    assert!(on(&packet, "vendor[4294967295].exists"));
    assert!(on(&packet, "vendor[4294967295].option[1].hex == 'x'"));
    assert!(on(&packet, "vendor.enterprise == 4294967295"));
    assert!(on(&packet, "option[0].hex == ''"));
    assert!(on(&packet, "option[255].hex == ''"));
    assert!(on(&packet, "relay4[255].hex == ''"));
    assert!(on(&packet, "vendor-class[4491].data[255] == ''"));
    assert!(on(&packet, "vendor-class[4491].data[0] == 'a'"));
    assert!(on(&packet, "vendor-class[4491].data == 'a'"));
    assert!(on(&packet, "option[vivso-suboptions].exists"));
    assert!(on(&packet, "substring('abc', -3, all) == 'abc'"));
    for bad in [
        "vendor[4294967296].exists",
        "relay4[256].exists",
        "vendor[1].option[256].exists",
        "vendor-class[1].data[256] == ''",
        "option[-1].exists",
        "substring('abc', all, 1) == ''",
        "split('abc', '.', all) == ''",
        "vendor[].exists",
    ] {
        let e = parse_error(bad);
        assert!(e.column >= 1, "{bad}: {e}");
    }
}

#[test]
fn member_builtins() {
    let packet = query(&[(60, b"PXEClient:Arch:00000")]);
    assert_eq!(eval_with("member('ALL')", &packet, &NOBODY), Ok(true));
    assert_eq!(eval_with("member('KNOWN')", &packet, &NOBODY), Ok(false));
    assert_eq!(eval_with("member('UNKNOWN')", &packet, &NOBODY), Ok(false));
    let known = Classes {
        members: 0,
        known: Some(true),
    };
    assert_eq!(eval_with("member('KNOWN')", &packet, &known), Ok(true));
    assert_eq!(eval_with("not member('KNOWN')", &packet, &known), Ok(false));
    let unknown = Classes {
        members: 0,
        known: Some(false),
    };
    assert_eq!(eval_with("member('UNKNOWN')", &packet, &unknown), Ok(true));
    assert_eq!(eval_with("member('BOOTP')", &packet, &known), Ok(false));
    assert_eq!(
        eval_with(
            "member('VENDOR_CLASS_PXEClient:Arch:00000')",
            &packet,
            &NOBODY
        ),
        Ok(true)
    );
    assert_eq!(
        eval_with("member('VENDOR_CLASS_PXEClient')", &packet, &NOBODY),
        Ok(false)
    );
    assert_eq!(
        eval_with("member('HA_server1')", &packet, &NOBODY),
        Ok(true)
    );
    assert_eq!(
        eval_with("member('HA_server2')", &packet, &NOBODY),
        Ok(false)
    );
    // Trailing NULs of option 60 are stripped (kea-expressions.md §5 step 2).
    let padded = query(&[(60, b"udhcp\0\0")]);
    assert_eq!(
        eval_with("member('VENDOR_CLASS_udhcp')", &padded, &NOBODY),
        Ok(true)
    );
}

#[test]
fn parse_errors_name_the_column() {
    let e = parse_error("option[93.hex == 0x0000");
    assert_eq!(e.kind, ParseErrorKind::Expected("']'"));
    assert_eq!(e.column, 10);
    assert_eq!(
        format!("client class \"PXE\": test: {e}"),
        "client class \"PXE\": test: column 10: expected ']'"
    );
    let e = parse_error("substring(option[77].hex,0,4 == 'iPXE'");
    assert_eq!((e.kind, e.column), (ParseErrorKind::Expected("')'"), 30));

    let test = "option[no-such-option].hex == 'x'";
    let e = parse_error(test);
    assert_eq!((e.kind, e.column), (ParseErrorKind::UnknownOptionName, 8));
    assert_eq!(e.token(test), "no-such-option");

    // Words Kea 2.2's lexer has no rule for (3.0's `lcase`, `match`).
    let e = parse_error("lcase('A') == 'a'");
    assert_eq!(
        (e.kind, e.column),
        (ParseErrorKind::InvalidCharacter(b'l'), 1)
    );
    assert_eq!(format!("{e}"), "column 1: Invalid character: l");
    assert_eq!(
        parse_error("not match('x')").kind,
        ParseErrorKind::InvalidCharacter(b'm')
    );
    // `known` is a boolean: it cannot be compared or called.
    assert_eq!(
        parse_error("known == 'true'").kind,
        ParseErrorKind::Expected("a string expression")
    );
    assert_eq!(
        parse_error("known('x')").kind,
        ParseErrorKind::TrailingInput
    );

    assert_eq!(
        parse_error("option[256].exists").kind,
        ParseErrorKind::OptionCodeOutOfRange
    );
    assert_eq!(
        parse_error("relay4[300].exists").kind,
        ParseErrorKind::OptionCodeOutOfRange
    );
    assert_eq!(
        parse_error("relay6[0].exists").kind,
        ParseErrorKind::Dhcp6Only
    );
    assert_eq!(
        parse_error("pkt6.msgtype == 1").kind,
        ParseErrorKind::Dhcp6Only
    );
    assert_eq!(parse_error("'abc'").kind, ParseErrorKind::NotBoolean);
    assert_eq!(
        parse_error("option[12].hex").kind,
        ParseErrorKind::NotBoolean
    );
    assert_eq!(
        parse_error("'a' == 'abc").kind,
        ParseErrorKind::UnterminatedString
    );
    // == is non-associative
    let e = parse_error("'x' == 'x' == 'x'");
    assert_eq!((e.kind, e.column), (ParseErrorKind::TrailingInput, 12));
    assert_eq!(
        parse_error("'a' == 'a' 'b'").kind,
        ParseErrorKind::TrailingInput
    );
    assert_eq!(
        parse_error("4294967296 == 'x'").kind,
        ParseErrorKind::IntegerOutOfRange
    );
    assert_eq!(
        parse_error("-1 == 'x'").kind,
        ParseErrorKind::IntegerOutOfRange
    );
    assert_eq!(
        parse_error("1.2.3.256 == 'x'").kind,
        ParseErrorKind::InvalidAddress
    );
    assert_eq!(
        parse_error("'a' = 'a'").kind,
        ParseErrorKind::InvalidCharacter(b'=')
    );
    assert_eq!(
        parse_error("'a' and 'b'").kind,
        ParseErrorKind::Expected("a boolean expression")
    );
    assert_eq!(
        parse_error("option[1].exists == 'true'").kind,
        ParseErrorKind::Expected("a string expression")
    );
    assert_eq!(
        parse_error("substring('a', 'b', 1) == ''").kind,
        ParseErrorKind::Expected("an integer")
    );
    assert_eq!(
        parse_error("pkt4.chaddr == ''").kind,
        ParseErrorKind::Expected(
            "mac, hlen, htype, ciaddr, giaddr, yiaddr, siaddr, msgtype or transid"
        )
    );
    assert_eq!(
        parse_error("option[12].value == ''").kind,
        ParseErrorKind::Expected("hex, text or exists")
    );
    assert_eq!(
        parse_error("member('NOPE')").kind,
        ParseErrorKind::UnknownClass
    );
    assert_eq!(
        parse_error("member('DROP')").kind,
        ParseErrorKind::UnknownClass
    );
    assert_eq!(
        parse_error("").kind,
        ParseErrorKind::Expected("an expression")
    );
    assert_eq!(
        parse_error("(").kind,
        ParseErrorKind::Expected("an expression")
    );
    assert_eq!(
        parse_error("('a' == 'a'").kind,
        ParseErrorKind::Expected("')'")
    );
}

#[test]
fn nesting_is_bounded() {
    let ok = format!("{}'a' == 'a'{}", "(".repeat(32), ")".repeat(32));
    assert_eq!(eval(&ok), Ok(true));
    let deep = format!("{}'a' == 'a'{}", "(".repeat(33), ")".repeat(33));
    let e = parse_error(&deep);
    assert_eq!((e.kind, e.column), (ParseErrorKind::TooDeep, 33));
    let nots = format!("{}'a' == 'a'", "not ".repeat(40));
    assert_eq!(parse_error(&nots).kind, ParseErrorKind::TooDeep);
    let concats = format!("{}'a'{} == 'a'", "concat('x', ".repeat(40), ")".repeat(40));
    assert_eq!(parse_error(&concats).kind, ParseErrorKind::TooDeep);
    // 10 000 levels: no stack overflow, just the error.
    let huge = format!("{}'a' == 'a'{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(parse_error(&huge).kind, ParseErrorKind::TooDeep);
    // Within the nesting limit but needing more than 64 stack slots.
    let wide = format!(
        "{}'z'{} == 'z'",
        "ifelse('a' == 'a', 'x', ".repeat(32),
        ")".repeat(32)
    );
    assert_eq!(parse_error(&wide).kind, ParseErrorKind::TooComplex);
    // Long flat chains are fine (left-associative ops keep the stack shallow).
    let chain = core::iter::repeat_n("'a' == 'a'", 200)
        .collect::<Vec<_>>()
        .join(" and ");
    let mut ops = vec![Op::Concat; 1000];
    let mut literals = vec![0u8; 1000];
    let mut store = ExprStore::new(&mut ops, &mut literals);
    assert!(compile(&chain, &mut store, &NoClasses).is_ok());
}

#[test]
fn storage_limits_are_errors() {
    let test = "substring(option[77].hex,0,4) == 'iPXE'";
    assert!(ExprStore::ops_needed(test.len()) >= 4);
    let mut ops = [Op::Concat; 3];
    let mut literals = [0u8; 64];
    let mut store = ExprStore::new(&mut ops, &mut literals);
    let e = compile(test, &mut store, &NoClasses).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::OpStorageFull);
    assert_eq!((store.ops_used(), store.literals_used()), (0, 0));

    let mut ops = [Op::Concat; 8];
    let mut literals = [0u8; 3];
    let mut store = ExprStore::new(&mut ops, &mut literals);
    let e = compile(test, &mut store, &NoClasses).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::LiteralStorageFull);

    // The documented bounds always suffice, even for the densest literal.
    for test in [test, ":: == ::", "1 == 1", "'' == ''"] {
        let mut ops = vec![Op::Concat; ExprStore::ops_needed(test.len())];
        let mut literals = vec![0u8; ExprStore::literals_needed(test.len())];
        let mut store = ExprStore::new(&mut ops, &mut literals);
        compile(test, &mut store, &NoClasses).unwrap();
    }

    // Scratch too small: an evaluation error, not a panic.
    let mut ops = [Op::Concat; 8];
    let mut literals = [0u8; 64];
    let mut store = ExprStore::new(&mut ops, &mut literals);
    let expr = compile("concat('abc', 'def') == 'abcdef'", &mut store, &NoClasses).unwrap();
    let packet = query(&[]);
    let mut option_scratch = vec![0u8; packet.len()];
    let message = Message::parse(&packet, &mut option_scratch).unwrap();
    let ctx = EvalContext {
        message: &message,
        interface: b"",
        source: Ipv4Addr::UNSPECIFIED,
        destination: Ipv4Addr::UNSPECIFIED,
        length: 0,
    };
    let mut small = [0u8; 5];
    assert_eq!(
        evaluate(store.view(), &expr, &ctx, &NOBODY, &mut small),
        Err(EvalError::ScratchFull)
    );
    let mut enough = [0u8; 6];
    assert_eq!(
        evaluate(store.view(), &expr, &ctx, &NOBODY, &mut enough),
        Ok(true)
    );
}

#[test]
fn scratch_is_reused_as_values_are_consumed() {
    // Each concat result replaces its operands: 10 chained 4-byte integers peak at
    // 36 + 4 live bytes plus the 40-byte result being built (80), where keeping every
    // intermediate would need 4 + 8 + … + 40 + 10 × 4 = 260.
    let left = core::iter::repeat_n("pkt4.hlen", 10)
        .collect::<Vec<_>>()
        .join(" + ");
    let test = format!("{left} == 0x{}", "00000006".repeat(10));
    let mut ops = vec![Op::Concat; 64];
    let mut literals = vec![0u8; 64];
    let mut store = ExprStore::new(&mut ops, &mut literals);
    let expr = compile(&test, &mut store, &NoClasses).unwrap();
    let packet = query(&[]);
    let mut option_scratch = vec![0u8; packet.len()];
    let message = Message::parse(&packet, &mut option_scratch).unwrap();
    let ctx = EvalContext {
        message: &message,
        interface: b"",
        source: Ipv4Addr::UNSPECIFIED,
        destination: Ipv4Addr::UNSPECIFIED,
        length: 0,
    };
    let mut scratch = [0u8; 80];
    assert_eq!(
        evaluate(store.view(), &expr, &ctx, &NOBODY, &mut scratch),
        Ok(true)
    );
    let mut scratch = [0u8; 79];
    assert_eq!(
        evaluate(store.view(), &expr, &ctx, &NOBODY, &mut scratch),
        Err(EvalError::ScratchFull)
    );
}

struct CustomDefs;

impl Resolver for CustomDefs {
    fn custom_option(&self, name: &str) -> Option<(u8, bool)> {
        (name == "my-boot-tag").then_some((224, true))
    }
    fn custom_option_is_string(&self, code: u8) -> Option<bool> {
        (code == 224).then_some(true)
    }
    fn class(&self, _name: &[u8]) -> Option<super::ClassRef> {
        None
    }
}

#[test]
fn custom_option_names_resolve_through_the_callback() {
    let mut ops = vec![Op::Concat; 16];
    let mut literals = vec![0u8; 64];
    let mut store = ExprStore::new(&mut ops, &mut literals);
    let expr = compile("option[my-boot-tag].text == 'pi'", &mut store, &CustomDefs).unwrap();
    let packet = query(&[(224, b"pi\0")]);
    let mut option_scratch = vec![0u8; packet.len()];
    let message = Message::parse(&packet, &mut option_scratch).unwrap();
    let ctx = EvalContext {
        message: &message,
        interface: b"",
        source: Ipv4Addr::UNSPECIFIED,
        destination: Ipv4Addr::UNSPECIFIED,
        length: 0,
    };
    let mut scratch = [0u8; 64];
    assert_eq!(
        evaluate(store.view(), &expr, &ctx, &NOBODY, &mut scratch),
        Ok(true)
    );
    assert_eq!(
        compile("option[my-boot-tag].text == 'pi'", &mut store, &NoClasses)
            .unwrap_err()
            .kind,
        ParseErrorKind::UnknownOptionName
    );
}

// ---- class assignment ----------------------------------------------------------------

/// (name, test, only-if-required) in config order.
type ClassDef = (&'static str, &'static str, bool);

/// The seed config's `client-classes` (the blog post's Kea config), verbatim tests.
const SEED_CLASSES: [ClassDef; 4] = [
    ("Legacy PXE", "option[client-system].hex == 0x0000", false),
    ("EFI x86_64", "option[client-system].hex  == 0x0007", false),
    ("iPXE", "substring(option[77].hex,0,4) == 'iPXE'", false),
    (
        "PXE Host",
        "member('Legacy PXE') or member('EFI x86_64') or member('iPXE')",
        true,
    ),
];

struct Compiled {
    ops: Vec<Op>,
    literals: Vec<u8>,
    classes: Vec<CompiledClass<'static>>,
}

fn compile_all(defs: &[ClassDef]) -> Result<Compiled, (String, ParseError)> {
    let total: usize = defs.iter().map(|d| d.1.len()).sum();
    let mut ops = vec![Op::Concat; ExprStore::ops_needed(total)];
    let mut literals = vec![0u8; ExprStore::literals_needed(total)];
    let mut classes: Vec<CompiledClass<'static>> = Vec::new();
    let (ops_len, literals_len) = {
        let mut store = ExprStore::new(&mut ops, &mut literals);
        for (name, test, only) in defs {
            let class = compile_class(
                &mut store,
                &classes,
                name.as_bytes(),
                test,
                *only,
                &NoClasses,
            )
            .map_err(|e| (format!("client class \"{name}\": test: {e}"), e))?;
            classes.push(class);
        }
        (store.ops_used(), store.literals_used())
    };
    ops.truncate(ops_len);
    literals.truncate(literals_len);
    Ok(Compiled {
        ops,
        literals,
        classes,
    })
}

/// Run steps 1–3 and return the class names in assignment order.
fn classify(compiled: &Compiled, packet: &[u8]) -> Vec<&'static str> {
    classify_steps(compiled, packet, None, &[], &[])
}

fn classify_steps(
    compiled: &Compiled,
    packet: &[u8],
    known: Option<bool>,
    host_classes: &[u32],
    required: &[u32],
) -> Vec<&'static str> {
    use crate::assign::fixture::Fixture;
    use crate::config::{IdentifierType, IndexRange};
    use crate::server::classes::{run_class_pass, PacketClasses, Pass};
    use crate::server::{class_words, Interface, Query, Transport};
    // The engine's class machinery (crate::server::classes) over a config holding the
    // compiled classes, a host with `host_classes` and a subnet requiring `required`.
    let mut f = Fixture::new();
    for c in &compiled.classes {
        let i = f.class(core::str::from_utf8(c.name).unwrap());
        if c.test.is_some() {
            f.classes[i].test = f.text(b"compiled");
        }
        f.classes[i].only_if_required = c.only_if_required;
    }
    let names = |f: &mut Fixture, list: &[u32]| {
        let start = f.names.len() as u32;
        for &i in list {
            let t = f.text(compiled.classes[i as usize].name);
            f.names.push(t);
        }
        IndexRange {
            start,
            len: list.len() as u32,
        }
    };
    let s = f.subnet(1, "198.18.0.0/24");
    let host = f.reservation(Some(s), IdentifierType::HwAddress, &[1], None, "");
    f.reservations[host].client_classes = names(&mut f, host_classes);
    let required = names(&mut f, required);
    let config = f.config();
    let tests = super::CompiledClassTests {
        view: super::ExprView {
            ops: &compiled.ops,
            literals: &compiled.literals,
        },
        classes: &compiled.classes,
    };
    let query = Query {
        payload: packet,
        interface: Interface {
            name: "veth-wren0",
            addresses: &[],
            mac: [0; 6],
        },
        source_ip: Ipv4Addr::UNSPECIFIED,
        source_port: 68,
        destination_ip: Ipv4Addr::BROADCAST,
        source_mac: [0; 6],
        transport: Transport::Raw,
    };
    let mut option_scratch = vec![0u8; packet.len()];
    let message = Message::parse(packet, &mut option_scratch).unwrap();
    let vendor = message.vendor_class_identifier().unwrap_or(&[]);
    let mut bits = vec![0u64; class_words(config.classes.len())];
    let mut classes = PacketClasses::new(&config, vendor);
    run_class_pass(&config, &tests, &query, &classes, &mut bits, Pass::One);
    if let Some(known) = known {
        classes = classes.with_host(known, Some(host));
        if classes.has_early_host_classes() {
            run_class_pass(&config, &tests, &query, &classes, &mut bits, Pass::One);
        }
        run_class_pass(&config, &tests, &query, &classes, &mut bits, Pass::Two);
    }
    let classes = classes.with_tested(&bits, Some(&tests)).with_required(
        [IndexRange::EMPTY, required, IndexRange::EMPTY],
        &tests,
        &query,
    );
    classes
        .configured()
        .map(|i| {
            let name = compiled.classes[i].name;
            SEED_NAMES
                .iter()
                .chain(EXTRA_NAMES.iter())
                .find(|n| n.as_bytes() == name)
                .copied()
                .unwrap()
        })
        .collect()
}

const SEED_NAMES: [&str; 4] = ["Legacy PXE", "EFI x86_64", "iPXE", "PXE Host"];
const EXTRA_NAMES: [&str; 8] = [
    "DROP",
    "known-only",
    "unknown-only",
    "needs-known-class",
    "VENDOR_CLASS_PXEClient:Arch:00007:UNDI:003016",
    "plain",
    "raspi",
    "after-raspi",
];

/// A PXE ROM's DISCOVER (RFC 4578): 93 arch, 94 NDI, 97 UUID, 60 PXEClient.
fn pxe_discover(arch: [u8; 2], vendor: &[u8], user_class: Option<&[u8]>) -> Vec<u8> {
    let mut options: Vec<(u8, &[u8])> = vec![
        (57, &[0x05, 0xc0]),
        (93, &arch),
        (94, &[1, 3, 16]),
        (97, &[0; 17]),
        (60, vendor),
    ];
    if let Some(uc) = user_class {
        options.push((77, uc));
    }
    query(&options)
}

#[test]
fn seed_classes_on_pxe_queries() {
    let compiled = compile_all(&SEED_CLASSES).unwrap();
    assert!(!compiled.classes[3].depends_on_known());
    let legacy = pxe_discover([0, 0], b"PXEClient:Arch:00000:UNDI:002001", None);
    let efi = pxe_discover([0, 7], b"PXEClient:Arch:00007:UNDI:003016", None);
    let ipxe = pxe_discover([0, 7], b"PXEClient:Arch:00007:UNDI:003016", Some(b"iPXE"));
    let plain = hex(DHCLIENT_DISCOVER);
    assert_eq!(classify(&compiled, &legacy), ["Legacy PXE"]);
    assert_eq!(classify(&compiled, &efi), ["EFI x86_64"]);
    assert_eq!(classify(&compiled, &ipxe), ["EFI x86_64", "iPXE"]);
    assert!(classify(&compiled, &plain).is_empty());
    for fixture in [
        UDHCPC_DISCOVER,
        DHCPCD_DISCOVER,
        PERFDHCP_DISCOVER,
        DHCPCD_INFORM,
    ] {
        assert!(classify(&compiled, &hex(fixture)).is_empty());
    }
    // `PXE Host` is only-if-required: added when the subnet requires it and it matches.
    assert_eq!(
        classify_steps(&compiled, &legacy, Some(false), &[], &[3]),
        ["Legacy PXE", "PXE Host"]
    );
    assert_eq!(
        classify_steps(&compiled, &ipxe, Some(true), &[], &[3, 3]),
        ["EFI x86_64", "iPXE", "PXE Host"]
    );
    assert!(classify_steps(&compiled, &plain, Some(false), &[], &[3]).is_empty());

    // spec trap 3: the integer 7 is 4 bytes, a PXE arch is 2: never matches.
    for packet in [&legacy, &efi, &ipxe] {
        assert!(!on(packet, "option[93].hex == 7"));
        assert!(!on(packet, "option[client-system].hex == 0"));
    }
    assert!(on(&efi, "option[93].hex == 0x0007"));
    assert!(on(&efi, "uint16totext(option[93].hex) == '7'"));
    assert!(on(&efi, "option[93].text == 'type=093, len=002: 00:07'"));
    assert!(on(&ipxe, "option[user-class].hex == 'iPXE'"));
    // a user class longer than 4 bytes still matches by substring
    let ipxe_long = pxe_discover([0, 0], b"PXEClient", Some(b"iPXE-1.21"));
    assert_eq!(classify(&compiled, &ipxe_long), ["Legacy PXE", "iPXE"]);
    // user class shorter than 4 bytes: substring gives what there is, no match
    let short = pxe_discover([0, 9], b"PXEClient", Some(b"iP"));
    assert!(classify(&compiled, &short).is_empty());
}

#[test]
fn seed_class_error_message_names_the_class() {
    let defs: [ClassDef; 1] = [("PXE", "option[client-system.hex == 0x0000", false)];
    let (message, error) = compile_all(&defs).err().unwrap();
    assert_eq!(error.column, 21);
    assert_eq!(
        message,
        "client class \"PXE\": test: column 21: expected ']'"
    );
}

#[test]
fn forward_references_are_rejected() {
    let defs: [ClassDef; 2] = [
        ("iPXE", "member('PXE Host')", false),
        ("PXE Host", "'a' == 'a'", false),
    ];
    let (message, error) = compile_all(&defs).err().unwrap();
    assert_eq!(error.kind, ParseErrorKind::UnknownClass);
    assert_eq!(error.column, 8);
    assert_eq!(error.token("member('PXE Host')"), "PXE Host");
    assert!(message.starts_with("client class \"iPXE\": test: column 8: "));
    // self reference
    let defs: [ClassDef; 1] = [("iPXE", "member('iPXE')", false)];
    assert_eq!(
        compile_all(&defs).err().unwrap().1.kind,
        ParseErrorKind::UnknownClass
    );
    // DROP is not built in: it must be defined before use
    let defs: [ClassDef; 2] = [
        ("DROP", "pkt4.hlen == 0", false),
        ("plain", "member('DROP')", false),
    ];
    assert!(compile_all(&defs).is_ok());
}

#[test]
fn assignment_order_known_unknown_drop_and_host_classes() {
    let defs: [ClassDef; 8] = [
        ("raspi", "substring(pkt4.mac, 0, 3) == 0x025752", false),
        ("known-only", "member('KNOWN')", false),
        (
            "needs-known-class",
            "member('known-only') and member('raspi')",
            false,
        ),
        (
            "unknown-only",
            "not member('KNOWN') and member('UNKNOWN')",
            false,
        ),
        ("after-raspi", "member('raspi')", false),
        ("VENDOR_CLASS_PXEClient:Arch:00007:UNDI:003016", "", false),
        ("plain", "", false),
        ("DROP", "option[60].text == 'evil'", false),
    ];
    let compiled = compile_all(&defs).unwrap();
    assert!(compiled.classes[1].depends_on_known());
    assert!(
        compiled.classes[2].depends_on_known(),
        "transitive through member()"
    );
    assert!(!compiled.classes[4].depends_on_known());
    let packet = hex(DHCLIENT_DISCOVER);
    // Before the host lookup: only pass 1.
    assert_eq!(classify(&compiled, &packet), ["raspi", "after-raspi"]);
    // KNOWN: pass 2 adds the KNOWN-dependent classes, in config order, after pass 1.
    assert_eq!(
        classify_steps(&compiled, &packet, Some(true), &[], &[]),
        ["raspi", "after-raspi", "known-only", "needs-known-class"]
    );
    assert_eq!(
        classify_steps(&compiled, &packet, Some(false), &[], &[]),
        ["raspi", "after-raspi", "unknown-only"]
    );
    // A host with client-classes: test-added classes are dropped, the host's classes
    // come first, pass 1 re-runs, then pass 2.
    assert_eq!(
        classify_steps(&compiled, &packet, Some(true), &[6], &[]),
        [
            "plain",
            "raspi",
            "after-raspi",
            "known-only",
            "needs-known-class"
        ]
    );
    // Required: a class without a test is not added (Kea 2.2); a tested one is.
    assert_eq!(
        classify_steps(&compiled, &packet, Some(false), &[], &[6, 4]),
        ["raspi", "after-raspi", "unknown-only"]
    );
    // VENDOR_CLASS_<60> defined in the config: assigned right after ALL.
    let efi = pxe_discover([0, 7], b"PXEClient:Arch:00007:UNDI:003016", None);
    assert_eq!(
        classify(&compiled, &efi),
        [
            "VENDOR_CLASS_PXEClient:Arch:00007:UNDI:003016",
            "raspi",
            "after-raspi"
        ]
    );
    // DROP: a pass-1 class like any other; the engine drops a packet in it.
    for (vendor, dropped) in [(&b"evil"[..], true), (&b"good"[..], false)] {
        let packet = query(&[(60, vendor)]);
        assert_eq!(classify(&compiled, &packet).contains(&"DROP"), dropped);
    }
}

#[test]
fn evaluation_errors_are_reported_and_do_not_match() {
    let defs: [ClassDef; 2] = [
        ("raspi", "addrtotext(option[93].hex) == '0.0.0.7'", false),
        ("plain", "member('raspi') or 'a' == 'a'", false),
    ];
    let compiled = compile_all(&defs).unwrap();
    let packet = pxe_discover([0, 7], b"PXEClient", None);
    let mut option_scratch = vec![0u8; packet.len()];
    let message = Message::parse(&packet, &mut option_scratch).unwrap();
    let ctx = EvalContext {
        message: &message,
        interface: b"",
        source: Ipv4Addr::UNSPECIFIED,
        destination: Ipv4Addr::UNSPECIFIED,
        length: 0,
    };
    let view = super::ExprView {
        ops: &compiled.ops,
        literals: &compiled.literals,
    };
    let mut scratch = [0u8; 256];
    let raspi = compiled.classes[0].test.unwrap();
    assert_eq!(
        evaluate(view, &raspi, &ctx, &NOBODY, &mut scratch),
        Err(EvalError::BadAddressLength(2))
    );
    // Through the engine's path the error is "not a member"; the next class still runs.
    assert_eq!(classify(&compiled, &packet), ["plain"]);
}

// ---- fuzz ----------------------------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random well-formed string expression of nesting depth ≤ `depth`.
fn gen_str(rng: &mut XorShift, depth: usize) -> String {
    const LEAVES: &[&str] = &[
        "'iPXE'",
        "''",
        "'a.b:c'",
        "0x0007",
        "0x0",
        "7",
        "10.0.0.1",
        "::1",
        "option[93].hex",
        "option[77].hex",
        "option[60].text",
        "option[61].text",
        "option[host-name].text",
        "option[82].option[1].hex",
        "relay4[1].hex",
        "relay4[2].text",
        "pkt4.mac",
        "pkt4.hlen",
        "pkt4.htype",
        "pkt4.ciaddr",
        "pkt4.giaddr",
        "pkt4.yiaddr",
        "pkt4.siaddr",
        "pkt4.msgtype",
        "pkt4.transid",
        "pkt.iface",
        "pkt.src",
        "pkt.dst",
        "pkt.len",
        "vendor.enterprise",
        "vendor[4491].option[1].hex",
        "vendor[*].option[2].text",
        "vendor-class.enterprise",
        "vendor-class[*].data",
        "vendor-class[4491].data[1]",
    ];
    if depth == 0 || rng.below(3) == 0 {
        return String::from(LEAVES[rng.below(LEAVES.len())]);
    }
    let d = depth - 1;
    let n = |rng: &mut XorShift| format!("{}", rng.below(9) as i64 - 4);
    match rng.below(11) {
        0 => {
            let len = if rng.below(3) == 0 {
                String::from("all")
            } else {
                n(rng)
            };
            format!("substring({}, {}, {len})", gen_str(rng, d), n(rng))
        }
        1 => format!(
            "split({}, {}, {})",
            gen_str(rng, d),
            gen_str(rng, d),
            n(rng)
        ),
        2 => format!("concat({}, {})", gen_str(rng, d), gen_str(rng, d)),
        3 => format!("{} + {}", gen_str(rng, d), gen_str(rng, d)),
        4 => format!(
            "ifelse({}, {}, {})",
            gen_bool(rng, d),
            gen_str(rng, d),
            gen_str(rng, d)
        ),
        5 => format!("hexstring({}, {})", gen_str(rng, d), gen_str(rng, d)),
        6 => format!("addrtotext({})", gen_str(rng, d)),
        7 => format!("uint16totext({})", gen_str(rng, d)),
        8 => format!("int8totext({})", gen_str(rng, d)),
        9 => format!("uint32totext({})", gen_str(rng, d)),
        _ => format!("({})", gen_str(rng, d)),
    }
}

/// A random well-formed boolean expression of nesting depth ≤ `depth`.
fn gen_bool(rng: &mut XorShift, depth: usize) -> String {
    const LEAVES: &[&str] = &[
        "option[93].exists",
        "relay4[1].exists",
        "option[82].option[2].exists",
        "vendor[*].exists",
        "vendor[4491].exists",
        "vendor-class[*].exists",
        "vendor[4491].option[1].exists",
        "member('ALL')",
        "member('KNOWN')",
        "member('UNKNOWN')",
        "member('VENDOR_CLASS_PXEClient')",
        "member('HA_a')",
        "known",
        "unknown",
    ];
    if depth == 0 || rng.below(4) == 0 {
        return String::from(LEAVES[rng.below(LEAVES.len())]);
    }
    let d = depth - 1;
    match rng.below(5) {
        0 => format!("not {}", gen_bool(rng, d)),
        1 => format!("{} and {}", gen_bool(rng, d), gen_bool(rng, d)),
        2 => format!("{} or {}", gen_bool(rng, d), gen_bool(rng, d)),
        3 => format!("({})", gen_bool(rng, d)),
        _ => format!("{} == {}", gen_str(rng, d), gen_str(rng, d)),
    }
}

const SOUP: &[&str] = &[
    "option",
    "relay4",
    "pkt4",
    "vendor-class",
    "substring",
    "member",
    "not",
    "and",
    "or",
    "all",
    "hex",
    "exists",
    "==",
    "(",
    ")",
    "[",
    "]",
    ".",
    ",",
    "*",
    "+",
    "'",
    "0x",
    "-3",
    "256",
    "4294967296",
    "1.2.3",
    "::",
    "known",
    "unknown",
    "=",
    "#",
    "é",
    "relay6",
    "option[",
];

/// Generated expressions, half of them mutated (a byte range deleted or a soup token
/// inserted), compiled and evaluated against real and mutated packets.
#[test]
fn fuzz_expressions_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let vivso: &[u8] = &[0, 0, 0x11, 0x8b, 5, 1, 3, b'a', b'b', b'c'];
    let mut packets = vec![
        hex(DHCLIENT_DISCOVER),
        hex(UDHCPC_DISCOVER),
        hex(DHCPCD_DISCOVER),
        hex(PERFDHCP_DISCOVER),
        pxe_discover([0, 7], b"PXEClient", Some(b"iPXE")),
        query(&[(82, &[1, 2, b'a']), (125, vivso), (124, vivso)]),
        query(&[(124, &[0, 0]), (125, &[0, 0, 0, 1, 9, 1]), (82, &[1, 9])]),
    ];
    for _ in 0..12 {
        let mut p = query(&[
            (82, &[1, 2, b'a', 2, 1, 0]),
            (125, vivso),
            (124, vivso),
            (93, &[0, 7]),
        ]);
        for _ in 0..4 {
            let at = 240 + rng.below(p.len() - 240);
            p[at] = rng.next() as u8;
        }
        packets.push(p);
    }
    let mut compiled = 0;
    let mut outcomes = [0usize; 3];
    for _ in 0..6_000 {
        let depth = 1 + rng.below(6);
        let mut text = gen_bool(&mut rng, depth);
        if rng.below(2) == 0 {
            let cut = rng.below(text.len() + 1);
            let boundary = |t: &String, mut i: usize| {
                while !t.is_char_boundary(i) {
                    i -= 1;
                }
                i
            };
            let cut = boundary(&text, cut);
            if rng.below(2) == 0 {
                let end = boundary(&text, (cut + 1 + rng.below(6)).min(text.len()));
                text.replace_range(cut..end.max(cut), "");
            } else {
                text.insert_str(cut, SOUP[rng.below(SOUP.len())]);
            }
        }
        let mut ops = [Op::Concat; 96];
        let mut literals = [0u8; 512];
        let mut store = ExprStore::new(&mut ops, &mut literals);
        let Ok(expr) = compile(&text, &mut store, &NoClasses) else {
            continue;
        };
        compiled += 1;
        for packet in &packets {
            let mut option_scratch = vec![0u8; packet.len()];
            let Ok(message) = Message::parse(packet, &mut option_scratch) else {
                continue;
            };
            let ctx = EvalContext {
                message: &message,
                interface: b"eth0",
                source: Ipv4Addr::UNSPECIFIED,
                destination: Ipv4Addr::BROADCAST,
                length: 300,
            };
            let mut eval_scratch = [0u8; 256];
            let classes = Classes {
                members: rng.next(),
                known: [None, Some(true), Some(false)][rng.below(3)],
            };
            match evaluate(store.view(), &expr, &ctx, &classes, &mut eval_scratch) {
                Ok(true) => outcomes[0] += 1,
                Ok(false) => outcomes[1] += 1,
                Err(_) => outcomes[2] += 1,
            }
        }
    }
    assert!(compiled > 3_000, "most generated tests compile: {compiled}");
    assert!(
        outcomes.iter().all(|&n| n > 0),
        "true, false and errors all seen: {outcomes:?}"
    );
}

#[test]
fn fuzz_random_op_programs_never_panic() {
    // Ops straight into the evaluator (not from the compiler): underflow, non-booleans
    // and bad literal ranges are errors, never panics.
    let mut rng = XorShift(42);
    let packet = query(&[(82, &[1, 1, 1]), (93, &[0, 7])]);
    let mut option_scratch = vec![0u8; packet.len()];
    let message = Message::parse(&packet, &mut option_scratch).unwrap();
    let ctx = EvalContext {
        message: &message,
        interface: b"eth0",
        source: Ipv4Addr::UNSPECIFIED,
        destination: Ipv4Addr::UNSPECIFIED,
        length: 0,
    };
    let pool = [
        Op::Literal { start: 0, len: 4 },
        Op::Literal { start: 2, len: 900 },
        Op::Option {
            code: 93,
            read: super::program::OptionRead::Text,
            string_typed: false,
        },
        Op::SubOption {
            code: 82,
            sub: 1,
            read: super::program::OptionRead::Exists,
        },
        Op::Pkt4(super::program::Pkt4Field::Mac),
        Op::Substring {
            start: -2,
            len: Some(-9),
        },
        Op::Split { field: 2 },
        Op::Concat,
        Op::IfElse,
        Op::HexString,
        Op::AddrToText,
        Op::IntToText {
            width: 2,
            signed: true,
        },
        Op::Equal,
        Op::Not,
        Op::And,
        Op::Or,
        Op::MemberClass(7),
    ];
    let literals = b"true";
    for _ in 0..20_000 {
        let n = 1 + rng.below(80);
        let ops: Vec<Op> = (0..n).map(|_| pool[rng.below(pool.len())]).collect();
        let view = super::ExprView {
            ops: &ops,
            literals,
        };
        let expr = super::Expr {
            start: 0,
            len: n as u32,
            depends_on_known: false,
        };
        let mut scratch = [0u8; 40];
        let _ = evaluate(view, &expr, &ctx, &NOBODY, &mut scratch);
    }
}
