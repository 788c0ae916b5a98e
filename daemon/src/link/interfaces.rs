//! Which interfaces to serve: the host's interfaces (getifaddrs: index, MAC, IPv4
//! addresses; freebsd.md §7) matched against `interfaces-config.interfaces`
//! (kea-config.md §2.2: `"eth0"`, `"eth0/198.18.0.1"`, `"*"`).

use std::fmt;
use std::io;
use std::net::Ipv4Addr;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

/// The loopback interface's name (for tests and examples).
pub const LOOPBACK: &str = if cfg!(target_os = "linux") {
    "lo"
} else {
    "lo0"
};

/// One host interface as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInterface {
    /// Name (`eth0`, `ue0`).
    pub name: String,
    /// Kernel interface index.
    pub ifindex: u32,
    /// Ethernet address (zeros when the link layer has none, e.g. loopback).
    pub mac: [u8; 6],
    /// IPv4 addresses in the kernel's order (the first is the primary).
    pub addresses: Vec<Ipv4Addr>,
    /// IFF_UP and IFF_RUNNING.
    pub up: bool,
    /// IFF_LOOPBACK.
    pub loopback: bool,
}

/// Reads the host's interfaces. Called at start, on reload and by the re-detect timer,
/// never per packet.
pub fn scan() -> io::Result<Vec<HostInterface>> {
    let mut found: Vec<HostInterface> = Vec::new();
    for entry in getifaddrs().map_err(io::Error::from)? {
        let position = match found.iter().position(|i| i.name == entry.interface_name) {
            Some(p) => p,
            None => {
                found.push(HostInterface {
                    name: entry.interface_name.clone(),
                    ifindex: 0,
                    mac: [0; 6],
                    addresses: Vec::new(),
                    up: false,
                    loopback: false,
                });
                found.len() - 1
            }
        };
        let Some(interface) = found.get_mut(position) else {
            continue;
        };
        interface.up |= entry.flags.contains(InterfaceFlags::IFF_UP)
            && entry.flags.contains(InterfaceFlags::IFF_RUNNING);
        interface.loopback |= entry.flags.contains(InterfaceFlags::IFF_LOOPBACK);
        let Some(address) = entry.address else {
            continue;
        };
        if let Some(link) = address.as_link_addr() {
            interface.ifindex = u32::try_from(link.ifindex()).unwrap_or(0);
            if let Some(mac) = link.addr() {
                interface.mac = mac;
            }
        } else if let Some(inet) = address.as_sockaddr_in() {
            interface.addresses.push(inet.ip());
        }
    }
    // Linux reports AF_PACKET entries only for interfaces it can, FreeBSD AF_LINK ones for
    // all: fill any gap from if_nametoindex.
    for interface in &mut found {
        if interface.ifindex == 0 {
            interface.ifindex = nix::net::if_::if_nametoindex(interface.name.as_str()).unwrap_or(0);
        }
    }
    Ok(found)
}

/// One entry of `interfaces-config.interfaces`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterfaceSpec<'a> {
    /// `"*"`: every non-loopback interface that is up.
    All,
    /// `"eth0"` or `"eth0/198.18.0.1"` (serve on that address only).
    Named {
        /// Interface name.
        name: &'a str,
        /// The one address to use, if given.
        address: Option<Ipv4Addr>,
    },
}

/// A malformed `interfaces` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadInterfaceSpec(pub String);

impl fmt::Display for BadInterfaceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid interface specification '{}' (expected NAME, NAME/IPv4 or *)",
            self.0
        )
    }
}

impl<'a> InterfaceSpec<'a> {
    /// Parses one entry.
    pub fn parse(text: &'a str) -> Result<InterfaceSpec<'a>, BadInterfaceSpec> {
        let bad = || BadInterfaceSpec(text.to_owned());
        if text == "*" {
            return Ok(InterfaceSpec::All);
        }
        let (name, address) = match text.split_once('/') {
            Some((name, address)) => (name, Some(address.parse().map_err(|_| bad())?)),
            None => (text, None),
        };
        if name.is_empty() || name.len() > 15 || name.contains(['*', ' ']) {
            return Err(bad());
        }
        Ok(InterfaceSpec::Named { name, address })
    }
}

/// An interface wrend serves, with the address(es) it uses there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedInterface {
    /// Name.
    pub name: String,
    /// Kernel index.
    pub ifindex: u32,
    /// Ethernet address.
    pub mac: [u8; 6],
    /// IPv4 addresses the engine may use (one when the spec named it).
    pub addresses: Vec<Ipv4Addr>,
    /// Loopback (served only through UDP).
    pub loopback: bool,
}

/// The outcome of matching the config against the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Interfaces present and usable, in config order, no duplicates.
    pub served: Vec<ServedInterface>,
    /// Configured names that are absent or down, or whose named address is not on the
    /// interface (retried by re-detect).
    pub missing: Vec<String>,
}

/// Matches `specs` against `host`.
pub fn select(specs: &[InterfaceSpec<'_>], host: &[HostInterface]) -> Selection {
    let mut selection = Selection::default();
    let add = |selection: &mut Selection, interface: &HostInterface, only: Option<Ipv4Addr>| {
        let addresses = match only {
            Some(a) => vec![a],
            None => interface.addresses.clone(),
        };
        if let Some(existing) = selection
            .served
            .iter_mut()
            .find(|s| s.ifindex == interface.ifindex)
        {
            // "eth0/addr" narrows a "*" match; a second plain name changes nothing.
            if only.is_some() {
                existing.addresses = addresses;
            }
            return;
        }
        selection.served.push(ServedInterface {
            name: interface.name.clone(),
            ifindex: interface.ifindex,
            mac: interface.mac,
            addresses,
            loopback: interface.loopback,
        });
    };
    for spec in specs {
        match *spec {
            InterfaceSpec::All => {
                for interface in host
                    .iter()
                    .filter(|i| i.up && !i.loopback && i.ifindex != 0)
                {
                    add(&mut selection, interface, None);
                }
            }
            InterfaceSpec::Named { name, address } => {
                let usable = host.iter().find(|i| {
                    i.name == name
                        && i.up
                        && i.ifindex != 0
                        && address.is_none_or(|a| i.addresses.contains(&a))
                });
                match usable {
                    Some(interface) => add(&mut selection, interface, address),
                    None => selection.missing.push(name.to_owned()),
                }
            }
        }
    }
    selection
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Vec<HostInterface> {
        vec![
            HostInterface {
                name: "lo".into(),
                ifindex: 1,
                mac: [0; 6],
                addresses: vec![Ipv4Addr::LOCALHOST],
                up: true,
                loopback: true,
            },
            HostInterface {
                name: "eth0".into(),
                ifindex: 2,
                mac: [2, 0, 0, 0, 0, 2],
                addresses: vec![Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 1, 1)],
                up: true,
                loopback: false,
            },
            HostInterface {
                name: "eth1".into(),
                ifindex: 3,
                mac: [2, 0, 0, 0, 0, 3],
                addresses: vec![],
                up: false,
                loopback: false,
            },
        ]
    }

    #[test]
    fn parses_specs() {
        assert_eq!(InterfaceSpec::parse("*"), Ok(InterfaceSpec::All));
        assert_eq!(
            InterfaceSpec::parse("eth0"),
            Ok(InterfaceSpec::Named {
                name: "eth0",
                address: None
            })
        );
        assert_eq!(
            InterfaceSpec::parse("eth0/198.18.1.1"),
            Ok(InterfaceSpec::Named {
                name: "eth0",
                address: Some(Ipv4Addr::new(198, 18, 1, 1))
            })
        );
        for bad in [
            "",
            "/198.18.0.1",
            "eth0/x",
            "eth0/198.18.0.1/24",
            "a-very-long-name-x",
        ] {
            assert!(InterfaceSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn star_takes_up_non_loopback() {
        let s = select(&[InterfaceSpec::All], &host());
        assert_eq!(s.served.len(), 1);
        assert_eq!(s.served[0].name, "eth0");
        assert_eq!(s.served[0].addresses.len(), 2);
        assert!(s.missing.is_empty());
    }

    #[test]
    fn named_with_address_and_missing() {
        let specs = [
            InterfaceSpec::parse("eth0/198.18.1.1").unwrap(),
            InterfaceSpec::parse("eth1").unwrap(),
            InterfaceSpec::parse("eth9").unwrap(),
            InterfaceSpec::parse("eth0").unwrap(),
        ];
        let s = select(&specs, &host());
        assert_eq!(s.served.len(), 1);
        assert_eq!(s.served[0].addresses, vec![Ipv4Addr::new(198, 18, 1, 1)]);
        assert_eq!(s.missing, vec!["eth1".to_owned(), "eth9".to_owned()]);
    }

    #[test]
    fn address_not_on_interface_is_missing() {
        let s = select(&[InterfaceSpec::parse("eth0/198.18.9.9").unwrap()], &host());
        assert!(s.served.is_empty());
        assert_eq!(s.missing, vec!["eth0".to_owned()]);
    }

    #[test]
    fn explicit_loopback_is_allowed() {
        let s = select(&[InterfaceSpec::parse("lo").unwrap()], &host());
        assert!(s.served[0].loopback);
    }

    #[test]
    fn scan_finds_loopback() {
        let all = scan().unwrap();
        let lo = all
            .iter()
            .find(|i| i.loopback)
            .expect("a loopback interface");
        assert!(lo.ifindex > 0);
    }
}
