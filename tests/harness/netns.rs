//! Private network namespaces joined by veth pairs, addressed only from 198.18.0.0/15.
//!
//! [`Netns`] is one namespace (deleted on drop); [`NetPair`] is the usual test topology: a server
//! namespace and a client namespace joined by one veth pair.

use crate::process::{run, RunOutput};
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

const IP: &str = "/usr/sbin/ip";

/// Panics unless `addr` is in 198.18.0.0/15 (RFC 2544 benchmarking space): the team rule for any
/// address that may carry traffic.
pub fn check_test_address(addr: Ipv4Addr) {
    let o = addr.octets();
    assert!(
        o[0] == 198 && (o[1] == 18 || o[1] == 19),
        "{addr} is outside 198.18.0.0/15: tests may only use benchmarking addresses"
    );
}

/// Parses "a.b.c.d/len", checking the address range.
pub fn parse_cidr(cidr: &str) -> (Ipv4Addr, u8) {
    let (a, l) = cidr.split_once('/').unwrap_or((cidr, "32"));
    let addr: Ipv4Addr = a
        .parse()
        .unwrap_or_else(|_| panic!("bad address in {cidr}"));
    let len: u8 = l
        .parse()
        .unwrap_or_else(|_| panic!("bad prefix length in {cidr}"));
    check_test_address(addr);
    (addr, len)
}

/// Runs `ip ARGS...` (host namespace unless the args say `-n`), panicking with its stderr on error.
pub fn ip(args: &[&str]) -> RunOutput {
    let out = run(Command::new(IP).args(args), Duration::from_secs(10));
    assert!(
        out.success(),
        "ip {} failed: {}",
        args.join(" "),
        out.combined()
    );
    out
}

/// One network namespace, named `wren-<role>-<pid>x<n>`; deleted (with its veth ends) on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn create(role: &str) -> Netns {
        let name = format!("wren-{role}-{}", crate::unique_tag());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> ARGS...`, panicking on failure.
    pub fn ip(&self, args: &[&str]) -> RunOutput {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// A command that runs `program` inside this namespace (`ip netns exec` execs it directly,
    /// so the child's PID is the program's PID).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(IP);
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `f` on a fresh thread that has joined this namespace (setns(2) is per thread), so a
    /// test can open sockets inside the namespace directly.
    pub fn run_inside<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            use std::os::fd::AsRawFd;
            // SAFETY: setns(2) on a valid namespace fd; affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert!(
                rc == 0,
                "setns({path}) failed: {}",
                std::io::Error::last_os_error()
            );
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// The IPv4 addresses currently on `iface` (as `a.b.c.d/len` strings).
    pub fn addresses(&self, iface: &str) -> Vec<String> {
        let out = self.ip(&["-4", "-o", "addr", "show", "dev", iface]);
        out.stdout
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                it.position(|w| w == "inet")?;
                it.next().map(str::to_string)
            })
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run(
            Command::new(IP).args(["netns", "del", &self.name]),
            Duration::from_secs(10),
        );
    }
}

/// Options for [`NetPair::new`].
#[derive(Clone, Debug)]
pub struct PairOptions {
    /// The server's address on its veth end, e.g. "198.18.0.1/24".
    pub server_cidr: String,
    /// A MAC for the client's veth end (e.g. a reserved MAC); random when `None`.
    pub client_mac: Option<String>,
    /// An address for the client's veth end (perfdhcp, raw senders); none when `None`
    /// (a real DHCP client configures it).
    pub client_cidr: Option<String>,
}

impl PairOptions {
    /// [`NetPair::relay`]'s options (add a `client_mac` to them as needed).
    pub fn relay() -> PairOptions {
        PairOptions {
            server_cidr: "198.18.0.1/22".into(),
            client_cidr: Some("198.18.0.2/22".into()),
            ..PairOptions::default()
        }
    }
}

impl Default for PairOptions {
    fn default() -> Self {
        PairOptions {
            server_cidr: "198.18.0.1/24".into(),
            client_mac: None,
            client_cidr: None,
        }
    }
}

/// A server namespace and a client namespace joined by one veth pair.
pub struct NetPair {
    // Field order matters for Drop: namespaces go last, after everything that used them.
    pub server_if: String,
    pub client_if: String,
    pub server_ip: Ipv4Addr,
    pub prefix_len: u8,
    pub client: Netns,
    pub server: Netns,
}

impl NetPair {
    pub fn new(opts: &PairOptions) -> NetPair {
        let (server_ip, prefix_len) = parse_cidr(&opts.server_cidr);
        let server = Netns::create("s");
        let client = Netns::create("c");
        let tag = crate::unique_tag();
        let server_if = format!("ws{tag}");
        let client_if = format!("wc{tag}");
        assert!(
            client_if.len() <= 15,
            "interface name too long: {client_if}"
        );
        ip(&[
            "link",
            "add",
            &server_if,
            "netns",
            server.name(),
            "type",
            "veth",
            "peer",
            "name",
            &client_if,
            "netns",
            client.name(),
        ]);
        server.ip(&["addr", "add", &opts.server_cidr, "dev", &server_if]);
        server.ip(&["link", "set", &server_if, "up"]);
        if let Some(mac) = &opts.client_mac {
            client.ip(&["link", "set", &client_if, "address", mac]);
        }
        if let Some(cidr) = &opts.client_cidr {
            parse_cidr(cidr);
            client.ip(&["addr", "add", cidr, "dev", &client_if]);
        }
        client.ip(&["link", "set", &client_if, "up"]);
        NetPair {
            server_if,
            client_if,
            server_ip,
            prefix_len,
            client,
            server,
        }
    }

    /// The default pair: server 198.18.0.1/24, client unaddressed with a random MAC.
    pub fn basic() -> NetPair {
        NetPair::new(&PairOptions::default())
    }

    /// The pair RELAY_CONFIG is written for: the server on 198.18.0.1/22, the client end at
    /// 198.18.0.2/22 (the relay agent perfdhcp plays, `-A 1`, and raw senders).
    pub fn relay() -> NetPair {
        NetPair::new(&PairOptions::relay())
    }

    /// Changes the client's MAC (link down, set, up), e.g. to act as a second client.
    pub fn set_client_mac(&self, mac: &str) {
        self.client.ip(&["link", "set", &self.client_if, "down"]);
        self.client
            .ip(&["link", "set", &self.client_if, "address", mac]);
        self.client.ip(&["link", "set", &self.client_if, "up"]);
    }

    /// Removes all IPv4 addresses from the client's veth end.
    pub fn flush_client(&self) {
        self.client.ip(&["addr", "flush", "dev", &self.client_if]);
    }

    pub fn client_mac(&self) -> String {
        read_mac(&self.client, &self.client_if)
    }
}

fn read_mac(ns: &Netns, iface: &str) -> String {
    let out = ns.ip(&["-o", "link", "show", "dev", iface]);
    out.stdout
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// A further client namespace linked to the server namespace of a [`NetPair`] by its own veth
/// pair (a server on several interfaces). The namespace (and the veth) go on drop.
pub struct ExtraLink {
    pub server_if: String,
    pub client_if: String,
    pub client: Netns,
}

impl NetPair {
    /// Adds a second link: the server end gets `server_cidr`, the client end no address.
    pub fn add_client_link(&self, server_cidr: &str) -> ExtraLink {
        parse_cidr(server_cidr);
        let client = Netns::create("c");
        let tag = crate::unique_tag();
        let server_if = format!("ws{tag}");
        let client_if = format!("wc{tag}");
        ip(&[
            "link",
            "add",
            &server_if,
            "netns",
            self.server.name(),
            "type",
            "veth",
            "peer",
            "name",
            &client_if,
            "netns",
            client.name(),
        ]);
        self.server
            .ip(&["addr", "add", server_cidr, "dev", &server_if]);
        self.server.ip(&["link", "set", &server_if, "up"]);
        client.ip(&["link", "set", &client_if, "up"]);
        ExtraLink {
            server_if,
            client_if,
            client,
        }
    }
}
