//! Client-class expressions: `wren_core::classify::compile` on arbitrary `test` text (with a
//! resolver that knows a custom string option `wren-note` (224) and two earlier classes),
//! then `evaluate` of what compiles against a packet, under each KNOWN state.
//!
//! Input: the expression, a NUL byte, then the packet (UDP payload); with no NUL the whole
//! input is the expression and a captured dhclient DISCOVER is the packet.
//! Checked: nothing panics, a failed compile leaves the store empty for the next one, and
//! evaluation is deterministic (same answer twice).
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use wren_core::classify::{
    compile, evaluate, ClassQuery, ClassRef, EvalContext, ExprStore, Op, Resolver,
};
use wren_core::wire::message::Message;

const DISCOVER: &str = include_str!("../../core/tests/fixtures/dhclient-discover.hex");

struct Config;
impl Resolver for Config {
    fn custom_option(&self, name: &str) -> Option<(u8, bool)> {
        (name == "wren-note").then_some((224, true))
    }
    fn custom_option_is_string(&self, code: u8) -> Option<bool> {
        (code == 224).then_some(true)
    }
    fn class(&self, name: &[u8]) -> Option<ClassRef> {
        match name {
            b"A" => Some(ClassRef {
                index: 0,
                depends_on_known: false,
            }),
            b"B" => Some(ClassRef {
                index: 1,
                depends_on_known: true,
            }),
            _ => None,
        }
    }
}

struct Classes(Option<bool>);
impl ClassQuery for Classes {
    fn has_class(&self, index: u32) -> bool {
        index == 0
    }
    fn known(&self) -> Option<bool> {
        self.0
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let (expr_bytes, packet) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], data[i + 1..].to_vec()),
        None => (data, hex(DISCOVER)),
    };
    let Ok(source) = std::str::from_utf8(expr_bytes) else {
        return;
    };
    let mut ops = vec![Op::Concat; 256];
    let mut literals = vec![0u8; 4096];
    let mut store = ExprStore::new(&mut ops, &mut literals);
    let Ok(expr) = compile(source, &mut store, &Config) else {
        assert_eq!(store.ops_used(), 0, "a failed compile left ops behind");
        return;
    };
    let mut option_scratch = vec![0u8; packet.len()];
    let Ok(message) = Message::parse(&packet, &mut option_scratch) else {
        return;
    };
    let ctx = EvalContext {
        message: &message,
        interface: b"fz0",
        source: Ipv4Addr::new(198, 18, 0, 2),
        destination: Ipv4Addr::BROADCAST,
        length: packet.len() as u32,
    };
    for known in [None, Some(true), Some(false)] {
        let mut scratch = [0u8; 2048];
        let first = evaluate(store.view(), &expr, &ctx, &Classes(known), &mut scratch);
        let mut scratch = [0u8; 2048];
        let second = evaluate(store.view(), &expr, &ctx, &Classes(known), &mut scratch);
        assert_eq!(first, second, "evaluation is not deterministic");
    }
});
