//! High-availability pairs: each server in its own namespace on one shared bridge (the "LAN"),
//! DHCP clients in further namespaces on the same bridge, and the peer-to-peer HTTP traffic
//! between the servers on that bridge too (kea-ha.md §1).
//!
//! A peer is either `wrend` (its own HTTP control listener is the peer URL) or Kea 2.2:
//! `kea-dhcp4` with `libdhcp_lease_cmds.so` + `libdhcp_ha.so`, and `kea-ctrl-agent` listening
//! on the peer URL and forwarding to kea-dhcp4's unix socket, as Kea 2.2 HA peers talk.
//!
//! Addresses: the LAN is 198.18.0.0/24 (servers 198.18.0.1 and .2; load generators from
//! .240; pool 198.18.0.10-.119 for the primary's scope, .120-.229 for the secondary's; DHCP
//! clients configure their address as a /24, so unicast renewals and releases reach the
//! servers). Every namespace and process created here goes on drop, by name and PID.

// Test-side code reading its own captures: a malformed capture is a test failure, so indexing
// panics are acceptable here (the pcap walker checks lengths before slicing).
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use crate::netns::{check_test_address, ip, parse_cidr, Netns};
use crate::process::{self, Background, RunOutput};
use crate::server::{Server, ServerKind};
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const KEA_CTRL_AGENT: &str = "/usr/sbin/kea-ctrl-agent";
pub const HOOKS_DIR: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks";
pub const CURL: &str = "/usr/bin/curl";
/// The port every peer's HTTP listener (wrend's control listener or Kea's CA) uses.
pub const PEER_PORT: u16 = 8000;
/// Credentials the tests use for their own `status-get` etc. (accepted by every listener).
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-pw";

/// A bridge in its own namespace; members attach with a veth pair each.
pub struct Lan {
    members: Vec<String>,
    pub bridge: Netns,
}

/// One namespace attached to the LAN.
pub struct Member {
    /// The member's end of its veth pair (inside `ns`).
    pub iface: String,
    /// Its address, if it was given one.
    pub ip: Option<Ipv4Addr>,
    pub ns: Netns,
}

impl Lan {
    pub const BRIDGE: &'static str = "br0";

    pub fn new() -> Lan {
        let bridge = Netns::create("b");
        bridge.ip(&["link", "add", Lan::BRIDGE, "type", "bridge"]);
        bridge.ip(&["link", "set", Lan::BRIDGE, "up"]);
        Lan {
            members: Vec::new(),
            bridge,
        }
    }

    /// A new namespace on the bridge; `cidr` (198.18.0.0/15 only) on its end when given,
    /// `mac` on its end when given.
    pub fn attach(&mut self, role: &str, cidr: Option<&str>, mac: Option<&str>) -> Member {
        let ns = Netns::create(role);
        let tag = crate::unique_tag();
        let br_if = format!("hb{tag}");
        let iface = format!("hm{tag}");
        assert!(br_if.len() <= 15, "interface name too long: {br_if}");
        ip(&[
            "link",
            "add",
            &br_if,
            "netns",
            self.bridge.name(),
            "type",
            "veth",
            "peer",
            "name",
            &iface,
            "netns",
            ns.name(),
        ]);
        self.bridge
            .ip(&["link", "set", &br_if, "master", Lan::BRIDGE]);
        self.bridge.ip(&["link", "set", &br_if, "up"]);
        if let Some(m) = mac {
            ns.ip(&["link", "set", &iface, "address", m]);
        }
        let addr = cidr.map(|c| {
            let (a, _) = parse_cidr(c);
            ns.ip(&["addr", "add", c, "dev", &iface]);
            a
        });
        ns.ip(&["link", "set", &iface, "up"]);
        self.members.push(br_if);
        Member {
            iface,
            ip: addr,
            ns,
        }
    }

    /// Cuts (or restores) a member's link on the bridge side: the member keeps running but
    /// sees no traffic (a "partner unreachable" without killing it).
    pub fn set_member_link(&self, member: &Member, up: bool) {
        let ifindex_peer = member
            .ns
            .ip(&["-o", "link", "show", "dev", &member.iface])
            .stdout;
        // "N: hmX@ifM: ..." — the bridge end is ifindex M inside the bridge namespace.
        let peer_index = ifindex_peer
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.split("@if").nth(1))
            .map(|s| s.trim_end_matches(':').to_string())
            .unwrap_or_default();
        let list = self.bridge.ip(&["-o", "link", "show"]).stdout;
        let name = list
            .lines()
            .find(|l| l.starts_with(&format!("{peer_index}:")))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(|n| n.split('@').next().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("no bridge port for {}", member.iface));
        self.bridge
            .ip(&["link", "set", &name, if up { "up" } else { "down" }]);
    }
}

impl Default for Lan {
    fn default() -> Self {
        Lan::new()
    }
}

/// Which daemon a peer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerKind {
    Wrend,
    Kea,
}

impl PeerKind {
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Wrend => "wrend",
            PeerKind::Kea => "kea",
        }
    }
}

/// One peer of the relationship, as every server's config lists it.
#[derive(Clone, Debug)]
pub struct PeerSpec {
    pub name: String,
    pub ip: Ipv4Addr,
    /// `primary`, `secondary`, `standby`, `backup`.
    pub role: String,
    /// The user and password this peer's listener accepts from its partner (its
    /// `authentication` client), which the partner sends (`basic-auth-user`/`-password`).
    pub user: String,
    pub password: String,
}

/// The `high-availability` relationship every peer's config carries (kea-ha.md §2).
#[derive(Clone, Debug)]
pub struct HaSpec {
    /// `load-balancing` or `hot-standby`.
    pub mode: String,
    pub heartbeat_delay_ms: u32,
    pub max_response_delay_ms: u32,
    pub max_ack_delay_ms: u32,
    pub max_unacked_clients: u32,
    /// `delayed-updates-limit`; `None` leaves Kea's default.
    pub delayed_updates_limit: Option<u32>,
    pub sync_page_limit: u32,
    pub sync_timeout_ms: u32,
    pub peers: Vec<PeerSpec>,
    /// `wait-backup-ack` (written only in passive-backup, the one mode Kea accepts it in).
    pub wait_backup_ack: bool,
    /// DHCP timers for the subnet (clients renew quickly so failover shows up).
    pub valid_lifetime: u32,
    pub renew_timer: u32,
    pub rebind_timer: u32,
    /// Every peer's `auto-failover` (kea-ha.md §2; default true).
    pub auto_failover: bool,
    /// The `state-machine` value (JSON), e.g. `{ "states": [ { "state": "ready", "pause":
    /// "once" } ] }`; `None` leaves it out.
    pub state_machine: Option<String>,
}

/// Server addresses on the LAN, in peer order.
pub const SERVER_IPS: [&str; 2] = ["198.18.0.1", "198.18.0.2"];
pub const LAN_PREFIX: u8 = 24;
/// The backup server's address on the LAN.
pub const BACKUP_IP: &str = "198.18.0.3";

impl HaSpec {
    /// A two-peer relationship: `server1` (primary) at 198.18.0.1 and `server2` (secondary or
    /// standby) at 198.18.0.2, small timers (heartbeat 1 s, max-response-delay 3 s,
    /// max-ack-delay 1 s, max-unacked-clients 0), sync pages of 3 leases.
    pub fn pair(mode: &str) -> HaSpec {
        let second_role = if mode == "hot-standby" {
            "standby"
        } else {
            "secondary"
        };
        let peer = |i: usize, role: &str| PeerSpec {
            name: format!("server{}", i + 1),
            ip: SERVER_IPS[i].parse().unwrap(),
            role: role.to_string(),
            user: format!("peer{}", i + 1),
            password: format!("pw-{}-secret", i + 1),
        };
        HaSpec {
            mode: mode.to_string(),
            heartbeat_delay_ms: 1000,
            max_response_delay_ms: 3000,
            max_ack_delay_ms: 1000,
            max_unacked_clients: 0,
            delayed_updates_limit: None,
            sync_page_limit: 3,
            sync_timeout_ms: 10000,
            peers: vec![peer(0, "primary"), peer(1, second_role)],
            wait_backup_ack: false,
            valid_lifetime: 600,
            renew_timer: 300,
            rebind_timer: 500,
            auto_failover: true,
            state_machine: None,
        }
    }

    /// This relationship plus a backup peer `backup1` at [`BACKUP_IP`] (kea-ha.md §2: any
    /// number of backups in every mode).
    pub fn with_backup(mut self) -> HaSpec {
        self.peers.push(PeerSpec {
            name: "backup1".to_string(),
            ip: BACKUP_IP.parse().unwrap(),
            role: "backup".to_string(),
            user: "peer3".to_string(),
            password: "pw-3-secret".to_string(),
        });
        self
    }

    /// passive-backup: `server1` (primary, 198.18.0.1) and `backup1` (backup, [`BACKUP_IP`]).
    pub fn passive_backup(wait_backup_ack: bool) -> HaSpec {
        let mut spec = HaSpec::pair("passive-backup");
        spec.peers.truncate(1);
        spec.wait_backup_ack = wait_backup_ack;
        spec.with_backup()
    }

    pub fn peer(&self, name: &str) -> &PeerSpec {
        self.peers
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no peer {name}"))
    }

    pub fn url(p: &PeerSpec) -> String {
        format!("http://{}:{}/", p.ip, PEER_PORT)
    }

    /// The `high-availability` list for `this` server. `creds_for(peer)` gives the user and
    /// password `this` sends to `peer` (`None`: no basic-auth keys at all).
    pub fn ha_json(
        &self,
        this: &str,
        creds_for: &dyn Fn(&PeerSpec) -> Option<(String, String)>,
    ) -> String {
        let peers: Vec<String> = self
            .peers
            .iter()
            .map(|p| {
                let auth = if p.name == this {
                    String::new()
                } else {
                    match creds_for(p) {
                        Some((u, pw)) => {
                            format!(r#", "basic-auth-user": "{u}", "basic-auth-password": "{pw}""#)
                        }
                        None => String::new(),
                    }
                };
                format!(
                    r#"{{ "name": "{}", "url": "{}", "role": "{}", "auto-failover": {}{auth} }}"#,
                    p.name,
                    HaSpec::url(p),
                    p.role,
                    self.auto_failover
                )
            })
            .collect();
        let mut dul = self
            .delayed_updates_limit
            .map(|d| format!(r#""delayed-updates-limit": {d},"#))
            .unwrap_or_default();
        if self.mode == "passive-backup" {
            dul.push_str(&format!(r#""wait-backup-ack": {},"#, self.wait_backup_ack));
        }
        let dul = match &self.state_machine {
            Some(sm) => format!(r#"{dul} "state-machine": {sm},"#),
            None => dul,
        };
        format!(
            r#"[ {{
            "this-server-name": "{this}",
            "mode": "{}",
            "heartbeat-delay": {},
            "max-response-delay": {},
            "max-ack-delay": {},
            "max-unacked-clients": {},
            {dul}
            "sync-page-limit": {},
            "sync-timeout": {},
            "peers": [ {} ]
          }} ]"#,
            self.mode,
            self.heartbeat_delay_ms,
            self.max_response_delay_ms,
            self.max_ack_delay_ms,
            self.max_unacked_clients,
            self.sync_page_limit,
            self.sync_timeout_ms,
            peers.join(",\n              ")
        )
    }

    /// The whole `Dhcp4` config of `this` server. The subnet 198.18.0.0/24 has one pool per
    /// active scope: .10-.119 for `HA_server1`, .120-.229 for `HA_server2` in load-balancing
    /// (hot-standby: one pool .10-.229 for everyone).
    pub fn dhcp4_config(
        &self,
        kind: PeerKind,
        this: &str,
        iface: &str,
        dir: &Path,
        creds_for: &dyn Fn(&PeerSpec) -> Option<(String, String)>,
    ) -> String {
        let me = self.peer(this);
        let d = dir.display();
        let control = match kind {
            PeerKind::Kea => format!(
                r#""control-socket": {{ "socket-type": "unix", "socket-name": "{d}/ctrl.sock" }},"#
            ),
            PeerKind::Wrend => format!(
                r#""control-sockets": [
              {{ "socket-type": "unix", "socket-name": "{d}/ctrl.sock" }},
              {{ "socket-type": "http", "socket-address": "{}", "socket-port": {PEER_PORT},
                 "authentication": {} }}
            ],"#,
                me.ip,
                self.authentication_json(me)
            ),
        };
        // `WREN_HA_SHARED_POOL=1`: one pool for both scopes (as the seed's pair runs), to
        // exercise a daemon that cannot yet classify queries into `HA_<server>`.
        let split = std::env::var_os("WREN_HA_SHARED_POOL").is_none();
        let pools = if self.mode == "load-balancing" && split {
            format!(
                r#"{{ "pool": "198.18.0.10 - 198.18.0.119", "client-class": "HA_{}" }},
                  {{ "pool": "198.18.0.120 - 198.18.0.229", "client-class": "HA_{}" }}"#,
                self.peers[0].name, self.peers[1].name
            )
        } else {
            r#"{ "pool": "198.18.0.10 - 198.18.0.229" }"#.to_string()
        };
        format!(
            r#"{{
  "Dhcp4": {{
    "interfaces-config": {{ "interfaces": [ "{iface}" ], "dhcp-socket-type": "raw" }},
    {control}
    "lease-database": {{ "type": "memfile", "persist": true, "name": "{d}/leases4.csv", "lfc-interval": 0 }},
    "hooks-libraries": [
      {{ "library": "{HOOKS_DIR}/libdhcp_lease_cmds.so" }},
      {{ "library": "{HOOKS_DIR}/libdhcp_ha.so",
        "parameters": {{ "high-availability": {} }} }}
    ],
    "authoritative": true,
    "valid-lifetime": {},
    "renew-timer": {},
    "rebind-timer": {},
    "subnet4": [
      {{
        "id": 1,
        "subnet": "198.18.0.0/24",
        "pools": [ {pools} ],
        "option-data": [ {{ "name": "routers", "data": "198.18.0.1" }} ]
      }}
    ],
    "loggers": [
      {{ "name": "kea-dhcp4", "output_options": [ {{ "output": "stdout" }} ], "severity": "DEBUG", "debuglevel": 40 }}
    ]
  }}
}}
"#,
            self.ha_json(this, creds_for),
            self.valid_lifetime,
            self.renew_timer,
            self.rebind_timer,
        )
    }

    /// The `authentication` block of `me`'s listener: its partner's user (`me.user`) and the
    /// tests' admin user.
    pub fn authentication_json(&self, me: &PeerSpec) -> String {
        format!(
            r#"{{ "type": "basic", "realm": "wren-ha-test",
                 "clients": [ {{ "user": "{}", "password": "{}" }},
                              {{ "user": "{ADMIN_USER}", "password": "{ADMIN_PASSWORD}" }} ] }}"#,
            me.user, me.password
        )
    }

    /// kea-ctrl-agent's config for a Kea peer: HTTP on the peer URL with `authentication`,
    /// forwarding `dhcp4` commands to kea-dhcp4's unix socket.
    pub fn ctrl_agent_config(&self, this: &str, dir: &Path) -> String {
        let me = self.peer(this);
        format!(
            r#"{{
  "Control-agent": {{
    "http-host": "{}",
    "http-port": {PEER_PORT},
    "authentication": {},
    "control-sockets": {{ "dhcp4": {{ "socket-type": "unix", "socket-name": "{}/ctrl.sock" }} }},
    "loggers": [ {{ "name": "kea-ctrl-agent", "output_options": [ {{ "output": "stdout" }} ], "severity": "DEBUG", "debuglevel": 40 }} ]
  }}
}}
"#,
            me.ip,
            self.authentication_json(me),
            dir.display()
        )
    }
}

/// The credentials a peer normally sends to `p`: exactly what `p`'s listener accepts.
pub fn right_credentials(p: &PeerSpec) -> Option<(String, String)> {
    Some((p.user.clone(), p.password.clone()))
}

/// One running HA peer: its namespace on the LAN, the DHCP server, and for Kea its Control Agent.
pub struct HaPeer {
    pub kind: PeerKind,
    pub name: String,
    pub ip: Ipv4Addr,
    pub dir: PathBuf,
    // Drop order: processes before the namespace.
    pub agent: Option<Background>,
    agent_runs: u32,
    pub server: Server,
    pub member: Member,
}

impl HaPeer {
    /// Attaches a namespace for peer `name` to the LAN, writes its config into `<dir>/<name>/`
    /// and starts it (Kea: kea-dhcp4 first, then the Control Agent, waiting for its port).
    pub fn start(
        lan: &mut Lan,
        spec: &HaSpec,
        kind: PeerKind,
        name: &str,
        dir: &Path,
        creds_for: &dyn Fn(&PeerSpec) -> Option<(String, String)>,
    ) -> HaPeer {
        let me = spec.peer(name).clone();
        check_test_address(me.ip);
        let member = lan.attach(name, Some(&format!("{}/{LAN_PREFIX}", me.ip)), None);
        let pdir = dir.join(name);
        std::fs::create_dir_all(&pdir).unwrap_or_else(|e| panic!("{e}"));
        let conf = spec.dhcp4_config(kind, name, &member.iface, &pdir, creds_for);
        let skind = match kind {
            PeerKind::Wrend => ServerKind::Wrend,
            PeerKind::Kea => ServerKind::Kea,
        };
        let server = Server::start(skind, &member.ns, &pdir, &conf);
        let mut peer = HaPeer {
            kind,
            name: name.to_string(),
            ip: me.ip,
            dir: pdir,
            agent: None,
            agent_runs: 0,
            server,
            member,
        };
        if kind == PeerKind::Kea {
            std::fs::write(
                peer.dir.join("ca.conf"),
                spec.ctrl_agent_config(name, &peer.dir),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            peer.start_agent();
        }
        peer.wait_http();
        peer
    }

    fn start_agent(&mut self) {
        crate::require_program(KEA_CTRL_AGENT, "kea-ctrl-agent");
        self.agent_runs += 1;
        let log = self.dir.join(format!("ca-run{}.log", self.agent_runs));
        let out = File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let child = self
            .member
            .ns
            .command(KEA_CTRL_AGENT)
            .arg("-c")
            .arg(self.dir.join("ca.conf"))
            .env("KEA_PIDFILE_DIR", &self.dir)
            .env("KEA_LOCKFILE_DIR", &self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start kea-ctrl-agent: {e}"));
        self.agent = Some(Background::new(child, "kea-ctrl-agent"));
    }

    /// Waits until something listens on the peer port (TCP) in the peer's namespace.
    fn wait_http(&self) {
        let ok = crate::wait_for(Duration::from_secs(15), || {
            tcp_listening_on(&self.member.ns, PEER_PORT).then_some(())
        });
        assert!(
            ok.is_some(),
            "{} ({}) does not listen on TCP {PEER_PORT}; logs:\n{}",
            self.name,
            self.kind.name(),
            self.logs()
        );
    }

    /// The peer's PID (the DHCP server's).
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// SIGKILL the DHCP server (and for Kea its agent): a peer that dies without a word.
    pub fn kill(&mut self) {
        self.server.kill_hard();
        if let Some(mut a) = self.agent.take() {
            a.kill_hard();
        }
    }

    /// Starts the peer again with the same config and lease file.
    pub fn restart(&mut self) {
        self.server.restart(&self.member.ns);
        if self.kind == PeerKind::Kea {
            if let Some(mut a) = self.agent.take() {
                a.stop(Duration::from_secs(3));
            }
            self.start_agent();
        }
        self.wait_http();
    }

    pub fn lease_file(&self) -> PathBuf {
        self.server.lease_file()
    }

    pub fn url(&self) -> String {
        format!("http://{}:{PEER_PORT}/", self.ip)
    }

    /// Sends one control command to this peer's HTTP listener (from inside its namespace) with
    /// the admin credentials; returns (HTTP status, body).
    pub fn command(&self, body: &str) -> (u16, String) {
        http_post(
            &self.member.ns,
            &self.url(),
            Some((ADMIN_USER, ADMIN_PASSWORD)),
            body,
        )
    }

    /// `ha-heartbeat`'s `state`, or `None` when the peer does not answer one.
    pub fn ha_state(&self) -> Option<String> {
        let (code, body) = self.command(r#"{ "command": "ha-heartbeat", "service": [ "dhcp4" ] }"#);
        if code != 200 {
            return None;
        }
        json_string_after(&body, "\"state\"")
    }

    /// Polls `ha-heartbeat` until the state is `want`; panics with both logs at `timeout`.
    pub fn wait_state(&self, want: &str, timeout: Duration) {
        let mut last = None;
        let got = crate::wait_for(timeout, || {
            last = self.ha_state();
            (last.as_deref() == Some(want)).then_some(())
        });
        assert!(
            got.is_some(),
            "{} ({}) did not reach HA state {want} within {timeout:?} (last: {last:?}); logs:\n{}",
            self.name,
            self.kind.name(),
            self.logs()
        );
    }

    /// The DHCP server's log plus (Kea) the agent's logs.
    pub fn logs(&self) -> String {
        let mut s = self.server.log();
        for r in 1..=self.agent_runs {
            s.push_str(&format!("\n----- {} ca-run{r} -----\n", self.name));
            s.push_str(&crate::read_text(&self.dir.join(format!("ca-run{r}.log"))));
        }
        s
    }
}

impl Drop for HaPeer {
    fn drop(&mut self) {
        if let Some(mut a) = self.agent.take() {
            a.stop(Duration::from_secs(3));
        }
        if std::thread::panicking() {
            eprintln!(
                "[harness] HA peer {} ({}) dir {}",
                self.name,
                self.kind.name(),
                self.dir.display()
            );
        }
    }
}

/// True when a TCP socket in `ns` listens on `port` (/proc/net/tcp, state 0A).
pub fn tcp_listening_on(ns: &Netns, port: u16) -> bool {
    let out = process::run(
        ns.command("/bin/cat").arg("/proc/net/tcp"),
        Duration::from_secs(5),
    );
    let suffix = format!(":{port:04X}");
    out.stdout.lines().skip(1).any(|l| {
        let mut f = l.split_whitespace();
        let local = f.nth(1).unwrap_or("");
        let state = f.nth(1).unwrap_or("");
        local.ends_with(&suffix) && state == "0A"
    })
}

/// `curl -s` POST of a JSON body from inside `ns`; returns (HTTP status, body). Status 0 when
/// nothing answered.
pub fn http_post(ns: &Netns, url: &str, creds: Option<(&str, &str)>, body: &str) -> (u16, String) {
    crate::require_program(CURL, "curl");
    let mut cmd: Command = ns.command(CURL);
    cmd.args(["-s", "--max-time", "5", "-w", "\n%{http_code}"])
        .args(["-H", "Content-Type: application/json", "-d", body]);
    if let Some((u, p)) = creds {
        cmd.arg("-u").arg(format!("{u}:{p}"));
    }
    cmd.arg(url);
    let out: RunOutput = process::run(&mut cmd, Duration::from_secs(10));
    let text = out.stdout;
    let (b, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    (code.trim().parse().unwrap_or(0), b.to_string())
}

/// The JSON string value after `key` (e.g. `"\"state\""`) in `text`: a small reader for
/// answers whose shape the tests know.
pub fn json_string_after(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

/// One HTTP message seen on the wire between peers.
#[derive(Clone, Debug)]
pub struct HttpMessage {
    /// Capture time of the segment that started it (µs since the epoch).
    pub time_us: u64,
    pub src: (Ipv4Addr, u16),
    pub dst: (Ipv4Addr, u16),
    /// `POST / HTTP/1.1` or `HTTP/1.1 200 OK`.
    pub start_line: String,
    /// Header lines in wire order, as (name, value).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpMessage {
    pub fn is_request(&self) -> bool {
        !self.start_line.starts_with("HTTP/")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The `command` of a request body.
    pub fn command(&self) -> Option<String> {
        json_string_after(&self.body, "\"command\"")
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Reassembles the TCP streams in a pcap (Ethernet, IPv4; in-order segments as a veth delivers
/// them, retransmissions dropped by sequence number) and splits them into HTTP messages by
/// `Content-Length`. Requests and answers come back in capture order.
pub fn http_messages(pcap: &Path) -> Vec<HttpMessage> {
    use std::collections::BTreeMap;
    let data = std::fs::read(pcap).unwrap_or_else(|e| panic!("read {}: {e}", pcap.display()));
    assert!(data.len() >= 24, "pcap too short");
    let le = data[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || data[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let rd32 = |at: usize| -> u32 {
        let b: [u8; 4] = data[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    type Key = ((Ipv4Addr, u16), (Ipv4Addr, u16));
    // Per direction: next expected sequence number, pending bytes, time of their first byte.
    let mut streams: BTreeMap<Key, (Option<u32>, Vec<u8>, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let (sec, usec, incl) = (rd32(off), rd32(off + 4), rd32(off + 8) as usize);
        let Some(frame) = data.get(off + 16..off + 16 + incl) else {
            break;
        };
        off += 16 + incl;
        let time_us = u64::from(sec) * 1_000_000 + u64::from(usec);
        let seg = (|| {
            if be16(frame, 12)? != 0x0800 {
                return None;
            }
            let ip = frame.get(14..)?;
            if *ip.get(9)? != 6 {
                return None;
            }
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(be16(ip, 2)?);
            let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            let tcp = ip.get(ihl..total)?;
            let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
            let doff = usize::from(tcp.get(12)? >> 4) * 4;
            let flags = *tcp.get(13)?;
            Some((
                ((src, be16(tcp, 0)?), (dst, be16(tcp, 2)?)),
                seq,
                flags,
                tcp.get(doff..)?.to_vec(),
            ))
        })();
        let Some((key, seq, flags, payload)) = seg else {
            continue;
        };
        let st = streams.entry(key).or_insert((None, Vec::new(), time_us));
        if flags & 0x02 != 0 {
            // SYN: a new connection on this 4-tuple.
            *st = (Some(seq.wrapping_add(1)), Vec::new(), time_us);
            continue;
        }
        if payload.is_empty() {
            continue;
        }
        match st.0 {
            Some(next) if next != seq => continue, // retransmission or gap
            _ => {}
        }
        st.0 = Some(seq.wrapping_add(payload.len() as u32));
        if st.1.is_empty() {
            st.2 = time_us;
        }
        st.1.extend_from_slice(&payload);
        // Split off every complete message.
        loop {
            let buf = &st.1;
            let Some(hend) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            let head = String::from_utf8_lossy(&buf[..hend]).into_owned();
            let mut lines = head.split("\r\n");
            let start_line = lines.next().unwrap_or("").to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            if buf.len() < hend + 4 + len {
                break;
            }
            let body = String::from_utf8_lossy(&buf[hend + 4..hend + 4 + len]).into_owned();
            out.push(HttpMessage {
                time_us: st.2,
                src: key.0,
                dst: key.1,
                start_line,
                headers,
                body,
            });
            st.1.drain(..hend + 4 + len);
            st.2 = time_us;
        }
    }
    out.sort_by_key(|m| m.time_us);
    out
}

/// RFC 3074 §5 Pearson table (also kea-ha.md §3).
const RFC3074_T: [u8; 256] = [
    251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152,
    58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223, 59, 3, 18, 140, 111, 166, 203, 196, 134, 243,
    124, 95, 222, 179, 197, 65, 180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97,
    16, 40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108, 244, 67, 207, 9, 178, 204,
    74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, 20, 113, 71, 35, 128, 13, 182, 94, 25,
    226, 227, 199, 75, 27, 41, 245, 230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241,
    73, 88, 105, 39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82,
    163, 44, 139, 228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239, 195, 42, 106, 198, 118,
    112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, 137, 185, 99, 164, 102, 147, 45, 66, 231,
    52, 141, 211, 194, 206, 246, 238, 56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171,
    72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213, 96, 235, 136,
    208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153,
    149, 80, 170, 68, 6, 169, 234, 151,
];

/// The test's own oracle for Kea's load-balancing split (kea-ha.md §3): RFC 3074 hash of the
/// key (option 61 payload if present, else chaddr), bytes from last to first; bucket = hash
/// mod 2 (0 = primary, 1 = secondary). Independent of wren's code on purpose.
pub fn lb_bucket(key: &[u8]) -> usize {
    let mut h = (key.len() % 256) as u8;
    for b in key.iter().rev() {
        h = RFC3074_T[usize::from(h ^ b)];
    }
    usize::from(h) % 2
}

/// A bounded perfdhcp run in the background (see [`PerfLoad::spawn`]).
pub struct PerfLoad {
    proc: Background,
    out: PathBuf,
    period_secs: u32,
}

impl PerfLoad {
    /// perfdhcp as a relay agent on `member` (which has an address), sending its DISCOVERs and
    /// REQUESTs to the broadcast address so that every peer on the LAN sees them (`-l iface`
    /// without a server). Bounded by `opts` (count `-n` and time `-p`).
    pub fn spawn(member: &Member, opts: &crate::clients::PerfdhcpOptions, dir: &Path) -> PerfLoad {
        crate::require_program(crate::clients::PERFDHCP, "kea-admin");
        assert!(member.ip.is_some(), "perfdhcp needs an address on its link");
        assert!(
            opts.max_exchanges > 0 && opts.period_secs > 0,
            "unbounded load"
        );
        let out = dir.join(format!("perfdhcp-{}.log", crate::unique_tag()));
        let f = File::create(&out).unwrap_or_else(|e| panic!("{e}"));
        let e = f.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = member.ns.command(crate::clients::PERFDHCP);
        cmd.args(["-4", "-l", &member.iface])
            .arg(format!("-r{}", opts.rate))
            .arg(format!("-R{}", opts.clients))
            .arg(format!("-n{}", opts.max_exchanges))
            .arg(format!("-p{}", opts.period_secs))
            .args(["-W", "1000000", "-x", "le"]);
        if let Some(m) = &opts.base_mac {
            cmd.arg("-b").arg(format!("mac={m}"));
        }
        cmd.stdin(Stdio::null()).stdout(f).stderr(e);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start perfdhcp: {e}"));
        PerfLoad {
            proc: Background::new(child, "perfdhcp"),
            out,
            period_secs: opts.period_secs,
        }
    }

    /// Waits for perfdhcp's own end (period + 30 s at most, then it is stopped by PID).
    pub fn finish(mut self) -> crate::clients::PerfdhcpReport {
        let limit = Duration::from_secs(u64::from(self.period_secs) + 30);
        let status = self.proc.wait(limit);
        if status.is_none() {
            self.proc.stop(Duration::from_secs(2));
        }
        let mut r = crate::clients::parse_perfdhcp(&crate::read_text(&self.out));
        r.exit_code = status.and_then(|s| s.code());
        r
    }
}

/// [`PerfLoad::spawn`] then [`PerfLoad::finish`].
pub fn perfdhcp_broadcast(
    member: &Member,
    opts: &crate::clients::PerfdhcpOptions,
    dir: &Path,
) -> crate::clients::PerfdhcpReport {
    PerfLoad::spawn(member, opts, dir).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// kea-ha.md §3 vectors (the ✔ ones confirmed on Kea 2.2).
    #[test]
    fn lb_bucket_matches_the_spec_vectors() {
        for (key, bucket) in [
            ("020000000001", 1),
            ("020000000002", 1),
            ("020000000003", 0),
            ("020000000004", 0),
            ("aabbccddeeff", 1),
            ("01aabbccddeeff", 0),
            ("000000000000", 0),
            ("010203040506", 1),
            ("ffffffffffff", 1),
            ("01000c29aabbcc", 1),
        ] {
            assert_eq!(lb_bucket(&hex(key)), bucket, "{key}");
        }
    }

    #[test]
    fn json_string_after_reads_a_state() {
        let body =
            r#"[ { "arguments": { "date-time": "x", "scopes": [  ], "state": "waiting" } } ]"#;
        assert_eq!(
            json_string_after(body, "\"state\"").as_deref(),
            Some("waiting")
        );
        assert_eq!(json_string_after(body, "\"nope\""), None);
    }
}
