//! Link-layer and UDP I/O: the daemon's only contact with the network. Bytes in, bytes
//! out; what they mean is the core's business.
//!
//! * [`packet_socket`] (Linux) and [`bpf`] (FreeBSD): whole Ethernet frames per interface,
//!   for direct clients that have no address yet;
//! * [`relay_udp`]: the UDP socket on the server port, for relays and unicast renewals;
//! * [`interfaces`]: which host interfaces the config asks for;
//! * [`filter`] and [`bpf_records`]: the platform-neutral parts (BPF programs, the BPF
//!   read-buffer walk), unit-tested on every host.

pub mod bpf_records;
pub mod filter;
pub mod interfaces;
pub mod relay_udp;

#[cfg(target_os = "freebsd")]
pub mod bpf;
#[cfg(target_os = "linux")]
pub mod packet_socket;
