//! High availability: Kea 2.2's `libdhcp_ha.so` between two wrend peers or a wrend and a
//! kea-dhcp4 (kea-ha.md).
//!
//! * [`config`] reads the hook's `high-availability` parameters;
//! * [`load_balance`] decides a query's scope (RFC 3074 hash as Kea applies it);
//! * [`state`] is the state machine: the daemon polls it for [`state::Action`]s, filters
//!   queries with it and reports peer answers back;
//! * [`commands`] writes the peer commands (and their HTTP framing) and reads the answers.

pub mod commands;
pub mod config;
pub mod load_balance;
pub mod state;
