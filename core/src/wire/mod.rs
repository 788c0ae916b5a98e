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
pub mod frame;
pub mod message;
pub mod options;
pub mod relay_agent;

pub use bootp::{Error as BootpError, Packet as BootpPacket};
pub use frame::{build_udp_frame, parse_udp_frame, FrameError, FrameSpec, UdpDatagram};
pub use message::{
    reply_size_limit, ClientFqdn, Error as MessageError, Message, MessageType, ReplyError,
    ReplySummary, ReplyWriter, StagedOption,
};
pub use options::{
    DhcpOption, OptionIter, OptionWriter, ParseError as OptionsParseError, ParsedOptions,
    WriteError as OptionWriteError,
};
pub use relay_agent::RelayAgentInfo;
