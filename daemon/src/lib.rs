//! wrend: the wren DHCPv4 server daemon, a drop-in for `kea-dhcp4`.
//!
//! Core decides, daemon moves bytes: everything here is I/O around
//! [`wren_core::server`] — command line, sockets, the event loop, the lease file, signals,
//! the PID file. Nothing in this crate interprets a DHCP message.
//!
//! Map: [`cli`] → [`service`] (start, reload, stop) → [`config_load`] → [`engine_glue`]
//! (lease table, lease file, core engine) → [`link`] sockets → [`event_loop`] (receive batch
//! → [`packet_path`]: engine → lease file sync → send replies), with [`signals`] and
//! [`pidfile`] around it.

pub mod cli;
pub mod config_load;
pub mod control;
pub mod daemonize;
pub mod engine_glue;
pub mod event_loop;
pub mod freebsd_sys;
pub mod ha;
pub mod lease_file;
pub mod link;
pub mod logging;
pub mod packet_path;
pub mod pidfile;
pub mod resident;
pub use link::route_events;
pub mod sandbox;
pub mod service;
pub mod signals;
pub mod trace;
