//! "Something about the interfaces changed": the routing socket that wakes the loop when an
//! interface appears, goes away, goes up or down, or gains or loses an address, and the
//! parser of FreeBSD's routing messages. Any change schedules a re-scan
//! ([`super::interfaces::scan`]), so a USB Ethernet unplugged and replugged (the Pi's ue0,
//! freebsd.md §8) is served again without a timer waking an idle server.
//!
//! Linux: `AF_NETLINK`/`NETLINK_ROUTE` subscribed to `RTMGRP_LINK | RTMGRP_IPV4_IFADDR`; the
//! kernel sends only those groups, so any message is a change.
//! FreeBSD: `PF_ROUTE` (freebsd.md §1.6, §7; route(4)) delivers every routing message, so
//! each is run through [`parse`] and only `RTM_IFANNOUNCE` (arrival/departure),
//! `RTM_IFINFO` (flags, link state) and `RTM_NEWADDR`/`RTM_DELADDR` count as changes.
//!
//! Why a routing socket: a BPF descriptor whose interface is detached only reports ENXIO
//! when something is queued, so no event may ever wake the loop; and `getifaddrs` is
//! unavailable after `cap_enter`. A `PF_ROUTE` socket opened before the sandbox keeps
//! delivering, and needs only CAP_READ|CAP_EVENT.
//!
//! The parsing is a pure function over the message bytes, so it is unit-tested on Linux with
//! byte vectors laid out as FreeBSD 14's `<net/if.h>`/`<net/route.h>` define them; the
//! offsets in [`layout`] are checked against libc's structs at compile time on FreeBSD
//! targets ([`crate::freebsd_sys`]).

use core::fmt;
use std::io;
#[cfg(target_os = "linux")]
use std::mem;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Offsets and constants of the messages (LP64 FreeBSD, amd64 and arm64).
pub mod layout {
    /// `RTM_VERSION`: messages of any other version are skipped.
    pub const RTM_VERSION: u8 = 5;
    /// `RTM_NEWADDR`: an address was added to an interface.
    pub const RTM_NEWADDR: u8 = 0x0c;
    /// `RTM_DELADDR`: an address was removed.
    pub const RTM_DELADDR: u8 = 0x0d;
    /// `RTM_IFINFO`: interface flags or link state changed.
    pub const RTM_IFINFO: u8 = 0x0e;
    /// `RTM_IFANNOUNCE`: interface arrival or departure.
    pub const RTM_IFANNOUNCE: u8 = 0x11;

    /// Common header: `u_short msglen; u_char version; u_char type`.
    pub const MSGLEN: usize = 0;
    /// Version byte.
    pub const VERSION: usize = 2;
    /// Type byte.
    pub const TYPE: usize = 3;
    /// `ifm_addrs` / `ifam_addrs` (int): which sockaddrs follow.
    pub const ADDRS: usize = 4;
    /// `ifm_flags` (int): the interface's `if_flags`.
    pub const FLAGS: usize = 8;
    /// `ifm_index` / `ifam_index` (u_short).
    pub const INDEX: usize = 12;
    /// `ifm_data`: `struct if_data` in `if_msghdr`.
    pub const IF_DATA: usize = 16;
    /// `ifi_link_state` inside `if_data`.
    pub const IFI_LINK_STATE: usize = 4;
    /// The bytes of an `if_msghdr` this module reads.
    pub const IF_MSGHDR_MIN: usize = IF_DATA + IFI_LINK_STATE + 1;
    /// `sizeof(struct ifa_msghdr)`: the sockaddrs start here.
    pub const IFA_MSGHDR_LEN: usize = 20;
    /// `ifan_index` (u_short).
    pub const IFAN_INDEX: usize = 4;
    /// `ifan_name[IFNAMSIZ]`.
    pub const IFAN_NAME: usize = 6;
    /// `ifan_what` (u_short).
    pub const IFAN_WHAT: usize = 22;
    /// `sizeof(struct if_announcemsghdr)`.
    pub const IF_ANNOUNCEMSGHDR_LEN: usize = 24;
    /// `IFNAMSIZ`.
    pub const IFNAMSIZ: usize = 16;
    /// `IFAN_ARRIVAL`.
    pub const IFAN_ARRIVAL: u16 = 0;
    /// `IFAN_DEPARTURE`.
    pub const IFAN_DEPARTURE: u16 = 1;
    /// `RTA_NETMASK`.
    pub const RTA_NETMASK: i32 = 0x4;
    /// `RTA_IFA`: the interface address.
    pub const RTA_IFA: i32 = 0x20;
    /// `RTA_BRD`: broadcast or point-to-point destination.
    pub const RTA_BRD: i32 = 0x80;
    /// `RTAX_MAX`: number of sockaddr slots.
    pub const RTAX_MAX: u32 = 8;
    /// `AF_INET`.
    pub const AF_INET: u8 = 2;
    /// `sin_addr` in `struct sockaddr_in` (after len, family, port).
    pub const SIN_ADDR: usize = 4;
    /// `IFF_UP`.
    pub const IFF_UP: i32 = 0x1;
    /// `IFF_RUNNING` (`IFF_DRV_RUNNING`).
    pub const IFF_RUNNING: i32 = 0x40;
    /// `LINK_STATE_DOWN`.
    pub const LINK_STATE_DOWN: u8 = 1;
    /// `LINK_STATE_UP`.
    pub const LINK_STATE_UP: u8 = 2;
    /// `sizeof(long)`: sockaddrs in routing messages are padded to it (`SA_SIZE`).
    pub const SA_ALIGN: usize = 8;
}

/// An interface name from an announcement (at most `IFNAMSIZ - 1` bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InterfaceName {
    bytes: [u8; layout::IFNAMSIZ],
    len: usize,
}

impl InterfaceName {
    /// The name as text (lossy for non-UTF-8 bytes, which FreeBSD does not produce).
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..self.len).unwrap_or(&[]);
        core::str::from_utf8(bytes).unwrap_or("?")
    }
}

impl fmt::Debug for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Link state from `if_data.ifi_link_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// `LINK_STATE_UNKNOWN` (drivers without link detection).
    Unknown,
    /// `LINK_STATE_DOWN`: cable out.
    Down,
    /// `LINK_STATE_UP`.
    Up,
}

/// What one routing message says about interfaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterfaceEvent {
    /// `RTM_IFANNOUNCE` / `IFAN_ARRIVAL`: a new interface (needs a new BPF descriptor).
    Arrival {
        /// Interface index.
        index: u16,
        /// Its name.
        name: InterfaceName,
    },
    /// `RTM_IFANNOUNCE` / `IFAN_DEPARTURE`: the interface is gone; close its BPF descriptor.
    Departure {
        /// Interface index.
        index: u16,
        /// Its name.
        name: InterfaceName,
    },
    /// `RTM_IFINFO`: flags or link state changed.
    Link {
        /// Interface index.
        index: u16,
        /// `IFF_UP`.
        up: bool,
        /// `IFF_RUNNING`.
        running: bool,
        /// Carrier.
        link_state: LinkState,
    },
    /// `RTM_NEWADDR` / `RTM_DELADDR`: an address came or went (`address` is `None` for
    /// non-IPv4 families, which wrend ignores but still counts as a change).
    Address {
        /// True for `RTM_NEWADDR`.
        added: bool,
        /// Interface index.
        index: u16,
        /// The IPv4 address (`RTA_IFA`).
        address: Option<Ipv4Addr>,
        /// Its netmask (`RTA_NETMASK`).
        netmask: Option<Ipv4Addr>,
    },
}

impl InterfaceEvent {
    /// The interface the event concerns.
    pub fn index(&self) -> u16 {
        match *self {
            InterfaceEvent::Arrival { index, .. }
            | InterfaceEvent::Departure { index, .. }
            | InterfaceEvent::Link { index, .. }
            | InterfaceEvent::Address { index, .. } => index,
        }
    }
}

/// Why a message could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteMessageError {
    /// Fewer bytes than the common header or than `msglen` says.
    Short {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// `msglen` is smaller than the message type's fixed header.
    BadLength(usize),
}

impl fmt::Display for RouteMessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteMessageError::Short { needed, got } => {
                write!(f, "routing message truncated: {got} of {needed} bytes")
            }
            RouteMessageError::BadLength(len) => {
                write!(f, "routing message length {len} below its header size")
            }
        }
    }
}

impl std::error::Error for RouteMessageError {}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

fn i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(i32::from_ne_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// `SA_SIZE(sa)`: a sockaddr's footprint in a routing message (its `sa_len` rounded up to
/// `sizeof(long)`, and `sizeof(long)` for a zero length).
pub const fn sa_size(sa_len: u8) -> usize {
    if sa_len == 0 {
        layout::SA_ALIGN
    } else {
        1 + ((sa_len as usize - 1) | (layout::SA_ALIGN - 1))
    }
}

/// The IPv4 address in a (possibly shortened) `sockaddr_in`: netmasks may come with a
/// `sa_len` that covers only their non-zero bytes; missing bytes are zero.
/// A shortened netmask may also carry family 0 (BSD's `rt_maskedcopy`), so only a sockaddr
/// long enough to hold an address *and* of another family is refused.
fn sockaddr_ipv4(sa: &[u8]) -> Option<Ipv4Addr> {
    let family = *sa.get(1)?;
    let len = usize::from(*sa.first()?);
    if family != layout::AF_INET && (family != 0 || len > layout::SIN_ADDR + 4) {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, octet) in octets.iter_mut().enumerate() {
        *octet = sa.get(layout::SIN_ADDR + i).copied().unwrap_or(0);
    }
    Some(Ipv4Addr::from(octets))
}

/// Parses one routing message. `Ok(None)` for messages that do not concern interfaces
/// (route additions, multicast, other versions); an error only for a message cut short.
pub fn parse(message: &[u8]) -> Result<Option<InterfaceEvent>, RouteMessageError> {
    let short = |needed: usize| RouteMessageError::Short {
        needed,
        got: message.len(),
    };
    let msglen = usize::from(u16_at(message, layout::MSGLEN).ok_or(short(4))?);
    let version = *message.get(layout::VERSION).ok_or(short(4))?;
    let kind = *message.get(layout::TYPE).ok_or(short(4))?;
    let message = message.get(..msglen).ok_or(short(msglen))?;
    if version != layout::RTM_VERSION {
        return Ok(None);
    }
    match kind {
        layout::RTM_IFANNOUNCE => {
            if msglen < layout::IF_ANNOUNCEMSGHDR_LEN {
                return Err(RouteMessageError::BadLength(msglen));
            }
            let index = u16_at(message, layout::IFAN_INDEX).ok_or(short(msglen))?;
            let what = u16_at(message, layout::IFAN_WHAT).ok_or(short(msglen))?;
            let raw = message
                .get(layout::IFAN_NAME..layout::IFAN_NAME + layout::IFNAMSIZ)
                .ok_or(short(msglen))?;
            let len = raw
                .iter()
                .position(|b| *b == 0)
                .unwrap_or(layout::IFNAMSIZ - 1);
            let mut name = InterfaceName {
                bytes: [0; layout::IFNAMSIZ],
                len,
            };
            for (slot, byte) in name.bytes.iter_mut().zip(raw.iter().take(len)) {
                *slot = *byte;
            }
            Ok(match what {
                layout::IFAN_ARRIVAL => Some(InterfaceEvent::Arrival { index, name }),
                layout::IFAN_DEPARTURE => Some(InterfaceEvent::Departure { index, name }),
                _ => None,
            })
        }
        layout::RTM_IFINFO => {
            if msglen < layout::IF_MSGHDR_MIN {
                return Err(RouteMessageError::BadLength(msglen));
            }
            let flags = i32_at(message, layout::FLAGS).ok_or(short(msglen))?;
            let index = u16_at(message, layout::INDEX).ok_or(short(msglen))?;
            let state = *message
                .get(layout::IF_DATA + layout::IFI_LINK_STATE)
                .ok_or(short(msglen))?;
            Ok(Some(InterfaceEvent::Link {
                index,
                up: flags & layout::IFF_UP != 0,
                running: flags & layout::IFF_RUNNING != 0,
                link_state: match state {
                    layout::LINK_STATE_UP => LinkState::Up,
                    layout::LINK_STATE_DOWN => LinkState::Down,
                    _ => LinkState::Unknown,
                },
            }))
        }
        layout::RTM_NEWADDR | layout::RTM_DELADDR => {
            if msglen < layout::IFA_MSGHDR_LEN {
                return Err(RouteMessageError::BadLength(msglen));
            }
            let addrs = i32_at(message, layout::ADDRS).ok_or(short(msglen))?;
            let index = u16_at(message, layout::INDEX).ok_or(short(msglen))?;
            let mut address = None;
            let mut netmask = None;
            let mut offset = layout::IFA_MSGHDR_LEN;
            for bit in 0..layout::RTAX_MAX {
                let flag = 1i32 << bit;
                if addrs & flag == 0 {
                    continue;
                }
                // A sockaddr the message announces but does not hold ends the walk.
                let Some(&sa_len) = message.get(offset) else {
                    break;
                };
                let end = offset.saturating_add(sa_size(sa_len)).min(msglen);
                let sa = message
                    .get(offset..offset.saturating_add(usize::from(sa_len)).min(end))
                    .unwrap_or(&[]);
                match flag {
                    layout::RTA_IFA => address = sockaddr_ipv4(sa),
                    layout::RTA_NETMASK => netmask = sockaddr_ipv4(sa),
                    _ => {}
                }
                offset = end;
            }
            Ok(Some(InterfaceEvent::Address {
                added: kind == layout::RTM_NEWADDR,
                index,
                address,
                netmask,
            }))
        }
        _ => Ok(None),
    }
}

/// Splits a read buffer into messages by their `msglen` (a routing socket returns one
/// message per read, but a larger buffer is harmless). Stops at a zero or overlong length.
pub fn messages(buffer: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = buffer;
    core::iter::from_fn(move || {
        let len = usize::from(u16_at(rest, layout::MSGLEN)?);
        if len < 4 {
            return None;
        }
        let (message, tail) = (rest.get(..len)?, rest.get(len..)?);
        rest = tail;
        Some(message)
    })
}

/// Whether a read from the routing socket reports an interface change. Netlink sends only
/// the subscribed groups; `PF_ROUTE` sends every routing message (route adds, ARP, …), so
/// those are parsed and only interface events (or unparseable ones, to be safe) count.
fn is_interface_change(read: &[u8]) -> bool {
    !cfg!(target_os = "freebsd") || any_interface_event(read)
}

/// Whether any routing message in `read` is an interface event, or is malformed (a message
/// that cannot be understood may be one, and a needless re-scan is cheap).
fn any_interface_event(read: &[u8]) -> bool {
    messages(read).any(|message| !matches!(parse(message), Ok(None)))
}

/// The routing socket.
#[derive(Debug)]
pub struct RouteEvents {
    fd: OwnedFd,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl RouteEvents {
    /// Opens and subscribes the socket (non-blocking).
    pub fn open() -> io::Result<RouteEvents> {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: plain syscall; the result is checked.
            let raw = check(unsafe {
                libc::socket(
                    libc::AF_NETLINK,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    libc::NETLINK_ROUTE,
                )
            })?;
            // SAFETY: `raw` is a fresh descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: sockaddr_nl is plain data; all-zero is valid.
            let mut address: libc::sockaddr_nl = unsafe { mem::zeroed() };
            address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            address.nl_groups = (libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR) as u32;
            // SAFETY: `address` is a valid sockaddr_nl of the size passed.
            check(unsafe {
                libc::bind(
                    raw,
                    (&address as *const libc::sockaddr_nl).cast(),
                    mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            })?;
            Ok(RouteEvents { fd })
        }
        #[cfg(target_os = "freebsd")]
        {
            // SAFETY: plain syscall; the result is checked.
            let raw = check(unsafe {
                libc::socket(
                    libc::PF_ROUTE,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    libc::AF_UNSPEC,
                )
            })?;
            // SAFETY: `raw` is a fresh descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            Ok(RouteEvents { fd })
        }
    }

    /// Reads every queued message; returns whether there was any (or the kernel dropped
    /// some: ENOBUFS means "you missed changes", which is a change too).
    pub fn drain(&self) -> bool {
        let mut buffer = [0u8; 8192];
        let mut changed = false;
        loop {
            // SAFETY: `buffer` is writable for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    0,
                )
            };
            if n > 0 {
                let read = buffer.get(..n.unsigned_abs()).unwrap_or(&[]);
                changed |= is_interface_change(read);
                continue;
            }
            if n == 0 {
                return changed;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return changed,
                io::ErrorKind::Interrupted => continue,
                _ if e.raw_os_error() == Some(libc::ENOBUFS) => changed = true,
                _ => return changed,
            }
        }
    }
}

impl AsRawFd for RouteEvents {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: usize, kind: u8) -> Vec<u8> {
        let mut m = vec![0u8; len];
        m[0..2].copy_from_slice(&(len as u16).to_ne_bytes());
        m[2] = layout::RTM_VERSION;
        m[3] = kind;
        m
    }

    fn announce(index: u16, name: &str, what: u16) -> Vec<u8> {
        let mut m = header(layout::IF_ANNOUNCEMSGHDR_LEN, layout::RTM_IFANNOUNCE);
        m[4..6].copy_from_slice(&index.to_ne_bytes());
        m[6..6 + name.len()].copy_from_slice(name.as_bytes());
        m[22..24].copy_from_slice(&what.to_ne_bytes());
        m
    }

    /// `if_msghdr` with a full 152-byte `if_data` (168 bytes, as FreeBSD 14 amd64 sends).
    fn ifinfo(index: u16, flags: i32, link_state: u8) -> Vec<u8> {
        let mut m = header(168, layout::RTM_IFINFO);
        m[4..8].copy_from_slice(&0x10i32.to_ne_bytes()); // RTA_IFP
        m[8..12].copy_from_slice(&flags.to_ne_bytes());
        m[12..14].copy_from_slice(&index.to_ne_bytes());
        m[16] = 6; // IFT_ETHER
        m[20] = link_state;
        m[24..28].copy_from_slice(&1500u32.to_ne_bytes());
        m
    }

    fn sockaddr_in(len: u8, addr: [u8; 4]) -> Vec<u8> {
        let mut sa = vec![len, layout::AF_INET, 0, 0];
        sa.extend_from_slice(&addr);
        sa.resize(usize::from(len).max(8), 0);
        sa.truncate(usize::from(len));
        while sa.len() % 8 != 0 || sa.is_empty() {
            sa.push(0);
        }
        sa
    }

    /// `ifa_msghdr` + netmask + ifa + brd, as `rtsock_addrmsg` lays them out.
    fn newaddr(kind: u8, index: u16) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(sockaddr_in(16, [255, 255, 255, 0]));
        body.extend(sockaddr_in(16, [198, 18, 0, 1]));
        body.extend(sockaddr_in(16, [198, 18, 0, 255]));
        let mut m = header(layout::IFA_MSGHDR_LEN + body.len(), kind);
        let addrs = layout::RTA_NETMASK | layout::RTA_IFA | layout::RTA_BRD;
        m[4..8].copy_from_slice(&addrs.to_ne_bytes());
        m[12..14].copy_from_slice(&index.to_ne_bytes());
        m[20..].copy_from_slice(&body);
        m
    }

    #[test]
    fn arrival_and_departure() {
        let arrival = parse(&announce(3, "ue0", 0)).unwrap().unwrap();
        match arrival {
            InterfaceEvent::Arrival { index, name } => {
                assert_eq!(index, 3);
                assert_eq!(name.as_str(), "ue0");
            }
            other => panic!("{other:?}"),
        }
        let departure = parse(&announce(3, "ue0", 1)).unwrap().unwrap();
        assert!(matches!(
            departure,
            InterfaceEvent::Departure { index: 3, .. }
        ));
        assert_eq!(departure.index(), 3);
        // An unknown announcement kind is ignored, not an error.
        assert_eq!(parse(&announce(3, "ue0", 7)), Ok(None));
    }

    #[test]
    fn full_length_name_without_nul() {
        let m = announce(9, "abcdefghijklmno", 0); // 15 bytes + NUL
        let InterfaceEvent::Arrival { name, .. } = parse(&m).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(name.as_str(), "abcdefghijklmno");
        let mut m = announce(9, "", 0);
        m[6..22].copy_from_slice(b"0123456789abcdef"); // no NUL at all: cut at 15
        let InterfaceEvent::Arrival { name, .. } = parse(&m).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(name.as_str(), "0123456789abcde");
    }

    #[test]
    fn link_changes() {
        let up = parse(&ifinfo(2, 0x8843, 2)).unwrap().unwrap();
        assert_eq!(
            up,
            InterfaceEvent::Link {
                index: 2,
                up: true,
                running: true,
                link_state: LinkState::Up
            }
        );
        let down = parse(&ifinfo(2, 0x8802, 1)).unwrap().unwrap();
        assert_eq!(
            down,
            InterfaceEvent::Link {
                index: 2,
                up: false,
                running: false,
                link_state: LinkState::Down
            }
        );
        assert!(matches!(
            parse(&ifinfo(2, 1, 0)).unwrap().unwrap(),
            InterfaceEvent::Link {
                link_state: LinkState::Unknown,
                ..
            }
        ));
    }

    #[test]
    fn addresses() {
        let added = parse(&newaddr(layout::RTM_NEWADDR, 4)).unwrap().unwrap();
        assert_eq!(
            added,
            InterfaceEvent::Address {
                added: true,
                index: 4,
                address: Some(Ipv4Addr::new(198, 18, 0, 1)),
                netmask: Some(Ipv4Addr::new(255, 255, 255, 0)),
            }
        );
        let removed = parse(&newaddr(layout::RTM_DELADDR, 4)).unwrap().unwrap();
        assert!(matches!(
            removed,
            InterfaceEvent::Address { added: false, .. }
        ));
    }

    #[test]
    fn shortened_netmask_and_ipv6() {
        // Netmask with sa_len 7 (only its non-zero bytes: 255.255.255) padded to 8; an
        // AF_INET6 address (sa_len 28 → 32 bytes).
        let mut body = vec![7, layout::AF_INET, 0, 0, 255, 255, 255, 0];
        let mut six = vec![0u8; 32];
        six[0] = 28;
        six[1] = 28; // AF_INET6
        body.extend(&six);
        let mut m = header(layout::IFA_MSGHDR_LEN + body.len(), layout::RTM_NEWADDR);
        let addrs = layout::RTA_NETMASK | layout::RTA_IFA;
        m[4..8].copy_from_slice(&addrs.to_ne_bytes());
        m[12..14].copy_from_slice(&5u16.to_ne_bytes());
        m[20..].copy_from_slice(&body);
        assert_eq!(
            parse(&m).unwrap().unwrap(),
            InterfaceEvent::Address {
                added: true,
                index: 5,
                address: None,
                netmask: Some(Ipv4Addr::new(255, 255, 255, 0)),
            }
        );
    }

    #[test]
    fn addrs_announcing_more_than_present_stop_cleanly() {
        let mut m = newaddr(layout::RTM_NEWADDR, 4);
        m.truncate(layout::IFA_MSGHDR_LEN + 16); // only the netmask is left
        let len = m.len() as u16;
        m[0..2].copy_from_slice(&len.to_ne_bytes());
        assert_eq!(
            parse(&m).unwrap().unwrap(),
            InterfaceEvent::Address {
                added: true,
                index: 4,
                address: None,
                netmask: Some(Ipv4Addr::new(255, 255, 255, 0)),
            }
        );
    }

    #[test]
    fn other_messages_and_versions_are_ignored() {
        assert_eq!(parse(&header(92, 0x1)), Ok(None)); // RTM_ADD
        let mut old = announce(1, "em0", 0);
        old[2] = 4;
        assert_eq!(parse(&old), Ok(None));
    }

    #[test]
    fn truncated_messages_are_errors() {
        assert_eq!(
            parse(&[1, 0]),
            Err(RouteMessageError::Short { needed: 4, got: 2 })
        );
        let m = announce(1, "em0", 0);
        assert_eq!(
            parse(&m[..20]),
            Err(RouteMessageError::Short {
                needed: 24,
                got: 20
            })
        );
        // msglen below the type's header.
        let mut m = header(12, layout::RTM_IFINFO);
        m.resize(12, 0);
        assert_eq!(parse(&m), Err(RouteMessageError::BadLength(12)));
        assert_eq!(
            parse(&header(8, layout::RTM_IFANNOUNCE)),
            Err(RouteMessageError::BadLength(8))
        );
    }

    #[test]
    fn sa_size_rounds_to_long() {
        assert_eq!(sa_size(0), 8);
        assert_eq!(sa_size(1), 8);
        assert_eq!(sa_size(8), 8);
        assert_eq!(sa_size(16), 16);
        assert_eq!(sa_size(28), 32);
        assert_eq!(sa_size(255), 256);
    }

    #[test]
    fn splits_a_buffer() {
        let mut buffer = announce(1, "em0", 0);
        buffer.extend(ifinfo(1, 1, 2));
        buffer.extend([0, 0, 5, 0]); // zero length ends the walk
        let parts: Vec<&[u8]> = messages(&buffer).collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].len(), 24);
        assert_eq!(parts[1].len(), 168);
        assert_eq!(messages(&[]).count(), 0);
        assert_eq!(messages(&[200, 0, 5, 0x11]).count(), 0);
    }

    /// A route added (`RTM_ADD`, type 1) is not an interface change; an arrival in the same
    /// read is.
    #[test]
    fn only_interface_events_wake_a_rescan() {
        let route_add = header(layout::IF_ANNOUNCEMSGHDR_LEN, 0x01);
        assert!(!any_interface_event(&route_add));
        let mut both = route_add.clone();
        both.extend(announce(3, "ue0", layout::IFAN_ARRIVAL));
        assert!(any_interface_event(&both));
        assert!(!any_interface_event(&[]));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod socket_tests {
    use super::*;

    /// Brings `lo` up with SIOCSIFFLAGS (in the calling thread's network namespace).
    fn loopback_up() -> io::Result<()> {
        // SAFETY: plain syscall; the result is checked.
        let raw = check(unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut request: libc::ifreq = unsafe { mem::zeroed() };
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo") {
            *slot = *byte as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write one struct ifreq.
        unsafe {
            check(libc::ioctl(
                fd.as_raw_fd(),
                libc::SIOCGIFFLAGS,
                &mut request,
            ))?;
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            check(libc::ioctl(
                fd.as_raw_fd(),
                libc::SIOCSIFFLAGS,
                &mut request,
            ))?;
        }
        Ok(())
    }

    /// In a private network namespace (a thread of its own, so the test process's
    /// namespace is untouched): nothing queued at first, then bringing `lo` up is seen.
    #[test]
    fn reports_a_link_change() {
        let outcome = std::thread::spawn(|| -> io::Result<(bool, bool)> {
            // SAFETY: affects only this thread's network namespace.
            check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
            let events = RouteEvents::open()?;
            let before = events.drain();
            loopback_up()?;
            Ok((before, events.drain()))
        })
        .join()
        .unwrap();
        match outcome {
            Ok((before, after)) => {
                assert!(!before, "a fresh namespace has no pending changes");
                assert!(after, "lo going up is reported");
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                eprintln!("skipped: cannot create a network namespace ({e})");
            }
            Err(e) => panic!("{e}"),
        }
    }
}
