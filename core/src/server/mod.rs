//! The server state machine: one call per received packet.
//!
//! ```text
//! Engine::handle(query, now, reply_buf, sink) -> Outcome
//! ```
//! `query` is the UDP payload plus where it came from; the engine parses it, decides
//! (RFC 2131 and Kea 2.2's behaviour, ../shared/spec/dhcpv4-server-behaviour.md), updates the
//! lease table, reports every lease change to `sink` (for the lease file and HA), and writes
//! the reply into `reply_buf`. The caller sends the reply to [`Destination`] only after the
//! lease changes of its batch are durable.
//!
//! # Using the engine
//!
//! ```text
//! // once per configuration:
//! let mut cursors = vec![Ipv4Addr::UNSPECIFIED; config.subnets.len()]; // iterative allocator
//! table.set_pools(config.pools)?;            // occupancy hints for the allocator
//! // per packet (or per batch; construction only stores borrows):
//! let mut engine = Engine::new(&config, &mut table, &mut cursors)
//!     .with_ports(cli.server_port, cli.client_port)        // kea-dhcp4 -p / -P (67 / 68)
//!     .with_server_addresses(&all_served_addresses)       // optional (option 54 check)
//!     .with_hostname_chars(CharSet::parse(set)?, repl)     // optional fallback; the config's
//!                                                          // hostname-char-* win per subnet
//!     .with_class_tests(&evaluator, &mut class_bits);      // optional (class `test`s)
//! match engine.handle(&query, now, &mut reply_buf, &mut journal) {
//!     Outcome::Reply { len, destination, kind, summary } => queue(&reply_buf[..len], destination),
//!     Outcome::Done(summary) => log(summary),     // RELEASE, DECLINE: no reply by design
//!     Outcome::Drop(reason) => debug(reason),     // silence, and why
//! }
//! ```
//! * `table` is anything implementing [`crate::assign::LeaseStore`]: the daemon's
//!   [`crate::lease::LeaseTable`] (indexes + occupancy hints) or, for tests,
//!   [`crate::assign::store::ArrayLeaseStore`]. [`Engine::leases_mut`] gives it back.
//! * `cursors` (one `Ipv4Addr` per subnet, `0.0.0.0` initially) is the only state the engine
//!   keeps between packets; keep it across engines (reset it on reconfiguration).
//! * `reply_buf`: at least 548 bytes (RFC 2131's 576-byte datagram); replies are kept within
//!   max(576, option 57) − 28 and within the buffer.
//! * Nothing is allocated; the stack use per call is about 14 KiB (the query's options as
//!   [`crate::wire::message::Message`] with a 4 KiB concatenation scratch, and the reply's
//!   option table).
//! * `sink` receives, in order: a removal (`valid_lifetime` 0) of the client's old lease
//!   when it moves, then the new/renewed lease (REQUEST); the release removal (RELEASE); the
//!   declined record (DECLINE). DISCOVER and INFORM store nothing.
//!
//! Modules, one decision each: [`engine`] (acceptance, dispatch, reply assembly),
//! [`discover`], [`request`], [`decline`], [`release`], [`inform`] (one message type each),
//! [`reply`] (which options, packing), [`vendor`] (option 125), [`destination`] (RFC 2131 §4.1), [`lifetime`]
//! (T1/T2), [`accept`] (reading the query with the wire codec under Kea's rules), [`classes`] (class
//! membership the engine can decide without expressions), [`trace`] (the decision record and
//! the packet-trace line).

use core::net::Ipv4Addr;

use crate::lease::LeaseRecord;

pub mod accept;
pub mod classes;
pub mod client_name;
pub mod decline;
pub mod destination;
pub mod discover;
pub mod engine;
pub mod hostname_chars;
pub mod inform;
pub mod lifetime;
pub mod release;
pub mod reply;
pub mod request;
pub mod trace;
pub mod vendor;

#[cfg(test)]
mod engine_tests;

pub use classes::{class_words, ClassTests};
pub use engine::{DropReason, Engine, Event, Outcome, PriorLease, Summary};
pub use trace::{DecisionRecord, TraceLine};

/// The interface a packet arrived on, as the daemon knows it.
#[derive(Clone, Copy, Debug)]
pub struct Interface<'a> {
    /// Interface name (`eth0`, `ue0`), matched against subnets' `interface`.
    pub name: &'a str,
    /// Its IPv4 addresses, first one first (used for subnet selection of direct clients and
    /// as the server identifier).
    pub addresses: &'a [Ipv4Addr],
    /// Its MAC address (source of raw replies).
    pub mac: [u8; 6],
}

/// How the query arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A whole Ethernet frame from a packet socket / BPF: the reply may go out as a frame.
    Raw,
    /// A UDP socket: the reply must go out through the kernel (no unicast to an address
    /// the client does not have yet).
    Udp,
}

/// A received DHCP query.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The UDP payload (the BOOTP/DHCP message).
    pub payload: &'a [u8],
    /// Receiving interface.
    pub interface: Interface<'a>,
    /// IP source address.
    pub source_ip: Ipv4Addr,
    /// UDP source port (RFC 8357 relay-port replies go back to it).
    pub source_port: u16,
    /// IP destination address (255.255.255.255 for broadcasts).
    pub destination_ip: Ipv4Addr,
    /// Ethernet source address (raw transport), or zeros.
    pub source_mac: [u8; 6],
    /// Raw or UDP.
    pub transport: Transport,
}

/// Where the reply goes (RFC 2131 §4.1 as Kea 2.2 decides it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Destination {
    /// IP destination.
    pub ip: Ipv4Addr,
    /// UDP destination port (68 to clients, 67 or the relay's port to relays).
    pub port: u16,
    /// Ethernet destination for raw replies (Kea: the query's source MAC; wren uses
    /// ff:ff:ff:ff:ff:ff when `ip` is 255.255.255.255).
    pub mac: [u8; 6],
    /// IP source address to use (the receiving interface's address or the server id).
    pub source_ip: Ipv4Addr,
    /// True when the reply must be sent as an Ethernet frame (raw transport and the client
    /// has no usable address yet); false when a UDP socket can carry it.
    pub raw_frame: bool,
}

/// Receives lease changes as the engine makes them, in order.
pub trait LeaseSink {
    /// A lease was created, renewed, changed or (with `valid_lifetime == 0`) removed.
    fn lease_changed(&mut self, record: &LeaseRecord<'_>);
}

/// DHCP message types (RFC 2132 §9.6, option 53): the wire codec's enum.
pub use crate::wire::MessageType;

/// Kea's name of a message type (`DHCPDISCOVER`, …) for log lines.
pub const fn message_name(t: MessageType) -> &'static str {
    match t {
        MessageType::Discover => "DHCPDISCOVER",
        MessageType::Offer => "DHCPOFFER",
        MessageType::Request => "DHCPREQUEST",
        MessageType::Decline => "DHCPDECLINE",
        MessageType::Ack => "DHCPACK",
        MessageType::Nak => "DHCPNAK",
        MessageType::Release => "DHCPRELEASE",
        MessageType::Inform => "DHCPINFORM",
        MessageType::Unknown(_) => "UNKNOWN",
    }
}
