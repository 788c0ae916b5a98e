//! wren-core: the DHCPv4 engine of wren, a drop-in replacement for ISC Kea's `kea-dhcp4`.
//!
//! `#![no_std]`, no `alloc`, no `unsafe`, and no clock: the caller passes the time in and
//! provides every byte of storage (slices sized once from the config, in the spirit of
//! smoltcp's caller-owned buffers).
//!
//! Map of a packet's life:
//! 1. the daemon hands a received UDP payload to [`server::Engine::handle`]
//!    (frames are unwrapped by [`wire::frame`]);
//! 2. [`wire::message`] parses it into a typed view;
//! 3. [`server`] runs RFC 2131 (DISCOVER/REQUEST/DECLINE/RELEASE/INFORM), asking
//!    [`assign`] to select the subnet and decide the address against [`lease::LeaseTable`];
//! 4. every lease change is reported as a [`lease::LeaseRecord`] through a
//!    [`server::LeaseSink`] (the daemon writes it with [`lease::csv`] and syncs it);
//! 5. the reply bytes and a [`server::Destination`] go back to the daemon, which sends them
//!    only after the lease is durable.
//!
//! Configuration: [`config`] reads a Kea `Dhcp4` JSON file into [`config::Config`], with
//! option payloads encoded by [`option_data`] from the definitions in [`option_def`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod assign;
pub mod classify;
pub mod config;
pub mod control;
pub mod ha;
pub mod index;
pub mod lease;
pub mod option_data;
pub mod option_def;
pub mod server;
pub mod stats;
pub mod time;
pub mod wire;

#[cfg(test)]
extern crate std;
