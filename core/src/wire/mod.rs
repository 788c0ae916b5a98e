//! Bytes ↔ values, smoltcp style.
//!
//! | module | holds |
//! |---|---|
//! | [`bootp`] | the fixed 236-byte BOOTP header and the DHCP magic cookie: [`BootpPacket`] |
//! | [`options`] | option TLVs: [`OptionIter`], [`ParsedOptions`] (RFC 3396 concatenation, overload), [`OptionWriter`] |
//! | [`relay_agent`] | option 82 sub-options: [`RelayAgentInfo`] |
//! | [`message`] | a parsed request [`Message`] with typed accessors, and the reply emitter [`ReplyWriter`] |
//! | [`frame`] | Ethernet/IPv4/UDP in and out through `smoltcp::wire`: [`parse_udp_frame`], [`build_udp_frame`] |
//!
//! Receiving: `frame::parse_udp_frame` (raw sockets only) → [`Message::parse`] → engine.
//! Replying: [`ReplyWriter::new`] → header setters → [`ReplyWriter::finish`] with the staged
//! options → `frame::build_udp_frame` (raw sockets only).
//!
//! # Example: a query in, an OFFER out
//!
//! ```
//! use core::net::Ipv4Addr;
//! use wren_core::wire::{bootp, BootpPacket, Message, MessageType, OptionWriter, ReplyWriter,
//!                       StagedOption};
//!
//! // Build a DISCOVER (as a test would): header setters, then options.
//! let mut query = [0u8; 300];
//! let mut p = BootpPacket::new_unchecked(&mut query[..]);
//! p.set_op(bootp::OP_BOOTREQUEST);
//! p.set_htype(bootp::HTYPE_ETHERNET);
//! p.set_hlen(6);
//! p.set_xid(0x1234_5678);
//! p.set_chaddr(&[0x02, 0, 0, 0, 0, 0x01]).unwrap();
//! p.set_magic_cookie();
//! let mut w = OptionWriter::new(p.options_mut());
//! w.write(53, &[1]).unwrap();
//! w.write(55, &[1, 3, 6]).unwrap();
//! w.finish().unwrap();
//!
//! // Parse it: the scratch buffer receives the concatenated option payloads.
//! let mut scratch = [0u8; 300];
//! let request = Message::parse(&query, &mut scratch).unwrap();
//! assert_eq!(request.message_type(), Some(MessageType::Discover));
//!
//! // Answer it.
//! let mut out = [0u8; 1500];
//! let mut reply = ReplyWriter::new(&request, MessageType::Offer, &mut out).unwrap();
//! reply.header().set_yiaddr(Ipv4Addr::new(198, 18, 0, 100));
//! let server_id = [198, 18, 0, 1];
//! let lease = 600u32.to_be_bytes();
//! let mut staged = [
//!     StagedOption::new(54, &server_id, 0),
//!     StagedOption::new(51, &lease, 0),
//!     StagedOption::new(1, &[255, 255, 255, 0], 0),
//!     StagedOption::new(15, b"wren.test", 5), // optional: may be dropped if too big
//! ];
//! let summary = reply.finish(&mut staged).unwrap();
//! assert_eq!(&out[240..summary.len], &[
//!     53, 1, 2, 1, 4, 255, 255, 255, 0, 15, 9, b'w', b'r', b'e', b'n', b'.', b't', b'e',
//!     b's', b't', 51, 4, 0, 0, 2, 88, 54, 4, 198, 18, 0, 1, 255,
//! ]);
//! ```
//!
//! # Panic contract
//!
//! Everything here is meant for untrusted input and `panic = "abort"` builds:
//!
//! * A view over untrusted bytes must be made with `new_checked` ([`BootpPacket::new_checked`])
//!   or through [`Message::parse`] / [`parse_udp_frame`]. After `new_checked` succeeded, no
//!   accessor panics. (Ours go further: every accessor uses checked slicing and reads zeros
//!   or an empty slice on a short buffer, so even `new_unchecked` views cannot panic.)
//! * Iterators ([`OptionIter`], [`relay_agent::SubOptionIter`]) stop at a short TLV; they
//!   never index past the end.
//! * Writers ([`OptionWriter`], [`ReplyWriter`], [`build_udp_frame`]) check room first and
//!   return `Err` when the buffer is too small; they never panic and never write a partial
//!   option.
//! * `smoltcp::wire` views are only created after their own `new_checked`, or, when
//!   emitting, over a slice whose exact length was checked beforehand.
//!
//! Short names inside the modules (`Packet`, `Error`), prefixed on re-export.

pub mod bootp;
#[cfg(test)]
mod fixture_tests;
pub mod frame;
pub mod message;
pub mod options;
pub mod relay_agent;
#[cfg(test)]
mod test_vectors;

pub use bootp::{Error as BootpError, Packet as BootpPacket};
pub use frame::{
    build_udp_frame, parse_udp_frame, write_udp_headers, FrameError, FrameSpec, UdpDatagram,
};
pub use message::{
    reply_size_limit, ClientFqdn, Error as MessageError, Message, MessageType, ReplyError,
    ReplySummary, ReplyWriter, StagedOption,
};
pub use options::{
    DhcpOption, OptionIter, OptionWriter, ParseError as OptionsParseError, ParsedOptions,
    WriteError as OptionWriteError,
};
pub use relay_agent::RelayAgentInfo;

/// Fuzz-style robustness: many pseudo-random inputs through every parser and writer; the
/// only assertion that matters is "no panic", plus a few invariants of the outputs.
#[cfg(test)]
mod fuzz_tests {
    use super::*;
    use std::vec::Vec;

    /// xorshift64 (Marsaglia 2003) with a fixed seed: reproducible.
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

    /// Either pure noise, or a valid header/frame with random options and mutations, so the
    /// option and overload paths are reached often.
    fn input(rng: &mut XorShift) -> Vec<u8> {
        let mut b: Vec<u8> = match rng.below(3) {
            0 => (0..rng.below(700)).map(|_| rng.next() as u8).collect(),
            1 => test_vectors::hex(test_vectors::DISCOVER),
            _ => test_vectors::hex(test_vectors::OFFER_FRAME),
        };
        if b.len() >= 240 && rng.below(2) == 0 {
            // Random TLV soup after the cookie (or after the frame headers + cookie).
            let start = if b.len() > 300 { 282 } else { 240 };
            b.truncate(start);
            for _ in 0..rng.below(60) {
                let code = [52u8, 53, 82, 12, 61, 55, 0, 255, 118, 81][rng.below(10)];
                let code = if rng.below(3) == 0 {
                    rng.next() as u8
                } else {
                    code
                };
                b.push(code);
                let len = rng.below(20);
                b.push(if rng.below(10) == 0 {
                    rng.next() as u8
                } else {
                    len as u8
                });
                b.extend((0..len).map(|_| rng.next() as u8));
            }
            // Put options in sname/file too, half the time.
            if rng.below(2) == 0 {
                for i in 44..236 {
                    if let Some(x) = b.get_mut(i) {
                        *x = rng.next() as u8;
                    }
                }
            }
        }
        for _ in 0..rng.below(4) {
            if !b.is_empty() {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
        }
        if rng.below(4) == 0 {
            let keep = rng.below(b.len() + 1);
            b.truncate(keep);
        }
        if rng.below(2) == 0 {
            refill_ip_checksum(&mut b);
        }
        b
    }

    /// If `b` looks like Ethernet + IPv4, recompute the IP header checksum so mutated frames
    /// get past that check and exercise the UDP paths.
    fn refill_ip_checksum(b: &mut [u8]) {
        let Some(&vihl) = b.get(14) else { return };
        let ihl = usize::from(vihl & 0x0f) * 4;
        if ihl < 20 || b.len() < 14 + ihl {
            return;
        }
        b[24] = 0;
        b[25] = 0;
        let mut sum = 0u32;
        for pair in b[14..14 + ihl].chunks(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let c = !(sum as u16);
        b[24..26].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn random_inputs_never_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut parsed = 0usize;
        let mut frames = 0usize;
        for _ in 0..20_000 {
            let bytes = input(&mut rng);
            if let Ok(d) = parse_udp_frame(&bytes) {
                frames += 1;
                assert!(d.payload.len() <= bytes.len());
            }
            let _ = OptionIter::new(&bytes).count();
            let _ = RelayAgentInfo::new(&bytes).sub_options().count();
            let mut scratch = [0u8; 800];
            let Ok(m) = Message::parse(&bytes, &mut scratch) else {
                continue;
            };
            parsed += 1;
            let _ = (
                m.message_type(),
                m.requested_address(),
                m.server_identifier(),
            );
            let _ = (
                m.lease_time(),
                m.client_identifier(),
                m.parameter_request_list(),
            );
            let _ = (
                m.max_message_size(),
                m.hostname(),
                m.vendor_class_identifier(),
            );
            let _ = (
                m.user_class(),
                m.client_architectures().count(),
                m.subnet_selection(),
            );
            let _ = m.client_fqdn();
            if let Some(rai) = m.relay_agent_information() {
                let _ = (rai.circuit_id(), rai.link_selection(), rai.relay_port());
            }
            for code in m.options().codes() {
                assert!(m.option(code).is_some());
            }
            // Echo every option back in a reply, at random priorities and limits.
            let mut staged: Vec<StagedOption<'_>> = m
                .options()
                .codes()
                .filter_map(|c| Some(StagedOption::new(c, m.option(c)?, rng.next() as u8)))
                .collect();
            let mut out = [0u8; 1600];
            let out_len = 200 + rng.below(1400);
            if let Ok(mut w) = ReplyWriter::new(&m, MessageType::Ack, &mut out[..out_len]) {
                if rng.below(2) == 0 {
                    w.set_size_limit(rng.below(2000));
                }
                let limit = w.size_limit().min(out_len);
                if let Ok(summary) = w.finish(&mut staged) {
                    assert!(summary.len <= limit);
                    let mut s2 = [0u8; 1600];
                    let r = Message::parse(&out[..summary.len], &mut s2).unwrap();
                    assert_eq!(r.message_type(), Some(MessageType::Ack));
                    for e in staged.iter().filter(|e| e.emitted()) {
                        if e.code != 52 {
                            assert_eq!(r.option(e.code), Some(e.payload), "code {}", e.code);
                        }
                    }
                }
            }
        }
        // The generator must actually reach the deep paths.
        assert!(parsed > 2_000, "only {parsed} inputs parsed");
        assert!(frames > 500, "only {frames} frames parsed");
    }
}
