//! Real DHCP clients (ISC dhclient, busybox udhcpc, dhcpcd) and the perfdhcp load generator,
//! run inside a client namespace with per-test state files, deadlines and a recording script.
//!
//! Every client runs a generated hook script that appends one record per event (the reason and
//! the whole environment the client passes) to `<name>-events.log`, and configures the offered
//! address as a /24 on the interface so that unicast renewals and releases can be sent.

use crate::netns::{NetPair, Netns};
use crate::process::{self, Background};
use std::collections::BTreeMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub const DHCLIENT: &str = "/usr/sbin/dhclient";
pub const UDHCPC: &str = "/usr/sbin/udhcpc";
pub const DHCPCD: &str = "/usr/sbin/dhcpcd";
pub const PERFDHCP: &str = "/usr/sbin/perfdhcp";

/// A fresh dhclient in `net`'s client namespace (state files in `dir`), run until bound
/// (30 s at most) and then stopped without a release: the lease stays on the server.
pub fn dhclient_lease(net: &NetPair, dir: &Path) -> ClientLease {
    let mut c = Client::start(
        ClientKind::Dhclient,
        &net.client,
        &net.client_if,
        dir,
        &ClientOptions::default(),
    );
    let lease = c.wait_bound(Duration::from_secs(30));
    c.stop();
    lease
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    Dhclient,
    Udhcpc,
    Dhcpcd,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Dhclient => "dhclient",
            ClientKind::Udhcpc => "udhcpc",
            ClientKind::Dhcpcd => "dhcpcd",
        }
    }
}

/// Per-client settings.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Hostname the client sends (option 12).
    pub hostname: Option<String>,
    /// Raw option-61 payload as hex (no separators), e.g. "08006907dce8". udhcpc and dhclient.
    pub client_id_hex: Option<String>,
    /// dhclient only: the lease database to start from (`@IFACE@` is replaced), e.g. a lease
    /// on a foreign network to provoke an INIT-REBOOT NAK.
    pub dhclient_leases: Option<String>,
    /// dhclient only: seconds to wait in INIT-REBOOT before falling back to DISCOVER
    /// (`reboot` statement; dhclient's default is 10).
    pub dhclient_reboot_secs: Option<u32>,
    /// udhcpc only: extra options to send, as udhcpc's `-x` takes them (e.g. "0x5d:0007").
    pub udhcpc_send: Vec<String>,
    /// dhcpcd only: probe the offered address with ARP before using it (RFC 5227), declining
    /// it when another host answers. Off by default (`-A`) to keep tests fast.
    pub dhcpcd_arp_probe: bool,
    /// dhcpcd only: send a DHCPINFORM for this configured address ("a.b.c.d/len", `-s`) and
    /// exit after the answer (`-1`).
    pub dhcpcd_inform: Option<String>,
}

/// One hook-script invocation.
#[derive(Clone, Debug)]
pub struct Event {
    /// Upper-cased reason: BOUND, RENEW, REBOOT, RELEASE, EXPIRE, NAK, PREINIT, DECONFIG, ...
    pub reason: String,
    pub vars: BTreeMap<String, String>,
}

/// What a client was told, normalised across the three clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientLease {
    pub address: Ipv4Addr,
    pub routers: Vec<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub domain: Option<String>,
    pub lease_time: Option<u32>,
    pub server_id: Option<Ipv4Addr>,
    pub hostname: Option<String>,
    pub boot_file: Option<String>,
}

fn addrs(s: Option<&String>) -> Vec<Ipv4Addr> {
    s.map(|v| {
        v.split([' ', ','])
            .filter_map(|a| a.trim().parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

impl Event {
    /// The lease this event reports, if it carries an address.
    pub fn lease(&self) -> Option<ClientLease> {
        let v = &self.vars;
        let get = |a: &str, b: &str| {
            v.get(a)
                .or_else(|| v.get(b))
                .filter(|s| !s.is_empty())
                .cloned()
        };
        let address: Ipv4Addr = get("new_ip_address", "ip")?.parse().ok()?;
        Some(ClientLease {
            address,
            routers: addrs(v.get("new_routers").or_else(|| v.get("router"))),
            dns: addrs(v.get("new_domain_name_servers").or_else(|| v.get("dns"))),
            domain: get("new_domain_name", "domain"),
            lease_time: get("new_dhcp_lease_time", "lease").and_then(|s| s.parse().ok()),
            server_id: get("new_dhcp_server_identifier", "serverid").and_then(|s| s.parse().ok()),
            hostname: get("new_host_name", "hostname"),
            boot_file: get("new_filename", "boot_file"),
        })
    }
}

/// Parses the records written by the hook script.
pub fn parse_events(text: &str) -> Vec<Event> {
    text.split("\n----\n")
        .filter_map(|rec| {
            let mut vars = BTreeMap::new();
            let mut reason = None;
            for line in rec.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    if k == "wren_reason" {
                        reason = Some(v.to_ascii_uppercase());
                    } else if !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        vars.insert(k.to_string(), v.to_string());
                    }
                }
            }
            reason.map(|reason| Event { reason, vars })
        })
        .collect()
}

fn write_hook_script(path: &Path, events: &Path, iface: &str) {
    let script = format!(
        r#"#!/bin/sh
# wren harness hook: record the event, then configure the address (/24) for unicast renewals.
# Clients run hooks with a scrubbed environment, so paths are written in here.
R="${{reason:-$1}}"
# one file per event, renamed into place so a reader never sees half a record
T="{events}/.tmp-$$"
{{ echo "wren_reason=$R"; env | sort; }} > "$T"
mv "$T" "{events}/ev-$(date +%s%N)-$$"
case "$R" in
  BOUND|RENEW|REBIND|REBOOT) [ -n "$new_ip_address" ] && ip addr replace "$new_ip_address/24" dev "{iface}" ;;
  bound|renew) [ -n "$ip" ] && ip addr replace "$ip/24" dev "{iface}" ;;
  deconfig|EXPIRE|RELEASE|STOP|NAK|nak) ip -4 addr flush dev "{iface}" ;;
esac
exit 0
"#,
        events = events.display()
    );
    std::fs::write(path, script).unwrap_or_else(|e| panic!("write hook: {e}"));
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
}

/// A running DHCP client. Stopped by PID on drop (without a release).
pub struct Client {
    pub kind: ClientKind,
    ns: String,
    iface: String,
    name: String,
    dir: PathBuf,
    proc: Option<Background>,
    opts: ClientOptions,
}

impl Client {
    /// Starts `kind` on `iface` inside `ns`; files go to `dir` prefixed by a unique name.
    pub fn start(
        kind: ClientKind,
        ns: &Netns,
        iface: &str,
        dir: &Path,
        opts: &ClientOptions,
    ) -> Client {
        let name = format!("{}-{}", kind.name(), crate::unique_tag());
        let mut c = Client {
            kind,
            ns: ns.name().to_string(),
            iface: iface.to_string(),
            name,
            dir: dir.to_path_buf(),
            proc: None,
            opts: opts.clone(),
        };
        let hook = c.file("hook.sh");
        std::fs::create_dir_all(c.file("events")).unwrap_or_else(|e| panic!("events dir: {e}"));
        write_hook_script(&hook, &c.file("events"), iface);
        let log = File::create(c.file("client.log")).unwrap_or_else(|e| panic!("client log: {e}"));
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("client log: {e}"));
        let mut cmd = match kind {
            ClientKind::Dhclient => {
                crate::require_program(DHCLIENT, "isc-dhcp-client");
                std::fs::write(c.file("dhclient.conf"), c.dhclient_conf())
                    .unwrap_or_else(|e| panic!("{e}"));
                if let Some(leases) = &opts.dhclient_leases {
                    std::fs::write(c.file("dhclient.leases"), leases.replace("@IFACE@", iface))
                        .unwrap_or_else(|e| panic!("{e}"));
                }
                let mut cmd = ns.command(DHCLIENT);
                cmd.args(c.dhclient_args()).arg("-d").arg(iface);
                cmd
            }
            ClientKind::Udhcpc => {
                crate::require_program(UDHCPC, "udhcpc");
                let mut cmd = ns.command(UDHCPC);
                cmd.args([
                    "-f", "-R", "-n", "-t", "5", "-T", "1", "-A", "1", "-i", iface, "-s",
                ])
                .arg(&hook);
                if let Some(h) = &opts.hostname {
                    cmd.arg("-x").arg(format!("hostname:{h}"));
                }
                if let Some(id) = &opts.client_id_hex {
                    cmd.arg("-x").arg(format!("0x3d:{id}"));
                }
                for x in &opts.udhcpc_send {
                    cmd.arg("-x").arg(x);
                }
                cmd
            }
            ClientKind::Dhcpcd => {
                crate::require_program(DHCPCD, "dhcpcd-base");
                let mut cmd = ns.command(DHCPCD);
                cmd.args(["-4", "-B", "-L", "-K", "-f", "/dev/null", "-t", "30"]);
                if !opts.dhcpcd_arp_probe {
                    cmd.arg("-A");
                }
                cmd.arg("-c").arg(&hook);
                if let Some(h) = &opts.hostname {
                    cmd.arg("-h").arg(h);
                }
                if let Some(cidr) = &opts.dhcpcd_inform {
                    crate::netns::parse_cidr(cidr);
                    cmd.arg("-1").arg("-s").arg(cidr);
                }
                cmd.arg(iface);
                cmd
            }
        };
        cmd.stdin(Stdio::null()).stdout(log).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", kind.name()));
        c.proc = Some(Background::new(child, kind.name()));
        c
    }

    fn file(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}-{suffix}", self.name))
    }

    fn dhclient_conf(&self) -> String {
        let mut s = String::from(
            "initial-interval 1;\nbackoff-cutoff 2;\ntimeout 30;\n\
             request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, \
             domain-search, host-name, ntp-servers;\n",
        );
        if let Some(h) = &self.opts.hostname {
            s.push_str(&format!("send host-name \"{h}\";\n"));
        }
        if let Some(secs) = self.opts.dhclient_reboot_secs {
            s.push_str(&format!("reboot {secs};\n"));
        }
        if let Some(id) = &self.opts.client_id_hex {
            let pairs: Vec<String> = id
                .as_bytes()
                .chunks(2)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            s.push_str(&format!(
                "send dhcp-client-identifier {};\n",
                pairs.join(":")
            ));
        }
        s
    }

    fn dhclient_args(&self) -> Vec<String> {
        vec![
            "-4".into(),
            "-v".into(),
            "-cf".into(),
            self.file("dhclient.conf").display().to_string(),
            "-lf".into(),
            self.file("dhclient.leases").display().to_string(),
            "-pf".into(),
            self.file("dhclient.pid").display().to_string(),
            "-sf".into(),
            self.file("hook.sh").display().to_string(),
        ]
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().and_then(|p| p.pid())
    }

    /// Every hook invocation so far, oldest first.
    pub fn events(&self) -> Vec<Event> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.file("events"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("ev-"))
        });
        names.sort();
        names
            .iter()
            .flat_map(|p| parse_events(&crate::read_text(p)))
            .collect()
    }

    pub fn log(&self) -> String {
        crate::read_text(&self.file("client.log"))
    }

    fn describe(&self) -> String {
        let evs: Vec<String> = self.events().iter().map(|e| e.reason.clone()).collect();
        format!("{} events {:?}; log:\n{}", self.name, evs, self.log())
    }

    /// Waits for an event whose reason is in `reasons` at index >= `from`.
    pub fn wait_event(
        &self,
        from: usize,
        reasons: &[&str],
        timeout: Duration,
    ) -> Result<(usize, Event), String> {
        crate::wait_for(timeout, || {
            self.events()
                .into_iter()
                .enumerate()
                .skip(from)
                .find(|(_, e)| reasons.iter().any(|r| e.reason.eq_ignore_ascii_case(r)))
        })
        .ok_or_else(|| format!("timed out waiting for {reasons:?}: {}", self.describe()))
    }

    /// Waits for the first lease (BOUND / REBOOT); panics with the client log on timeout.
    pub fn wait_bound(&self, timeout: Duration) -> ClientLease {
        let (_, ev) = self
            .wait_event(0, &["BOUND", "REBOOT"], timeout)
            .unwrap_or_else(|e| panic!("{e}"));
        ev.lease()
            .unwrap_or_else(|| panic!("bound event without an address: {ev:?}"))
    }

    /// Triggers a renewal where the client needs it (udhcpc: SIGUSR1; dhclient and dhcpcd renew
    /// by themselves at T1 = renew-timer) and waits for the RENEW event after the current ones.
    pub fn renew(&self, timeout: Duration) -> ClientLease {
        let from = self.events().len();
        if self.kind == ClientKind::Udhcpc {
            if let Some(p) = &self.proc {
                p.signal(libc::SIGUSR1);
            }
        }
        let (_, ev) = self
            .wait_event(from, &["RENEW"], timeout)
            .unwrap_or_else(|e| panic!("{e}"));
        ev.lease()
            .unwrap_or_else(|| panic!("renew event without an address: {ev:?}"))
    }

    /// Releases the lease (DHCPRELEASE) and waits for the client to exit.
    pub fn release(&mut self) {
        match self.kind {
            ClientKind::Dhclient => {
                // `dhclient -r` with the same pid file stops the running instance, then sends
                // the DHCPRELEASE itself from the lease file.
                let out = crate::process::run(
                    std::process::Command::new("/usr/sbin/ip")
                        .args(["netns", "exec", &self.ns, DHCLIENT])
                        .args(self.dhclient_args())
                        .arg("-r")
                        .arg(&self.iface),
                    Duration::from_secs(20),
                );
                assert!(out.success(), "dhclient -r failed: {}", out.combined());
            }
            ClientKind::Udhcpc => {
                // -R: release on SIGTERM
                if let Some(p) = &self.proc {
                    p.signal(libc::SIGTERM);
                }
            }
            ClientKind::Dhcpcd => {
                let out = crate::process::run(
                    std::process::Command::new("/usr/sbin/ip").args([
                        "netns",
                        "exec",
                        &self.ns,
                        DHCPCD,
                        "-4",
                        "-k",
                        &self.iface,
                    ]),
                    Duration::from_secs(20),
                );
                assert!(out.success(), "dhcpcd -k failed: {}", out.combined());
            }
        }
        if let Some(p) = self.proc.as_mut() {
            // `dhclient -r` stops the old instance through the pid file, which it occasionally
            // misses (the RELEASE itself was sent by `-r`): stop it by our own PID then.
            let mut exited = p.wait(Duration::from_secs(3)).is_some();
            if !exited && self.kind == ClientKind::Dhclient {
                p.signal(libc::SIGTERM);
            }
            if !exited {
                exited = p.wait(Duration::from_secs(10)).is_some();
            }
            if !exited {
                let pid = p.pid().unwrap_or(0);
                let status = crate::read_text(Path::new(&format!("/proc/{pid}/status")));
                let state = status
                    .lines()
                    .find(|l| l.starts_with("State"))
                    .unwrap_or("gone");
                let cmdline = crate::read_text(Path::new(&format!("/proc/{pid}/cmdline")));
                panic!(
                    "{} (pid {pid}, {state}, {cmdline:?}) did not exit after release: {}",
                    self.name,
                    self.describe()
                );
            }
        }
        self.proc = None;
    }

    /// Stops the client by PID without releasing, as a crashed or powered-off client would
    /// (udhcpc runs with -R, which releases on SIGTERM, so it gets SIGKILL; dhcpcd gets SIGTERM
    /// so that its privilege-separation helpers exit with it).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            if self.kind == ClientKind::Udhcpc {
                p.kill_hard();
            } else {
                p.stop(Duration::from_secs(5));
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop();
        if self.kind == ClientKind::Dhcpcd {
            // dhcpcd keeps per-interface state in fixed places; the interface name is unique.
            for p in [
                format!("/var/lib/dhcpcd/{}.lease", self.iface),
                format!("/run/dhcpcd/{}-4.pid", self.iface),
            ] {
                let _ = std::fs::remove_file(p);
            }
            kill_dhcpcd_helpers(&self.iface);
        }
        if std::thread::panicking() {
            eprintln!("[harness] client {}", self.describe());
        }
    }
}

/// dhcpcd's privilege-separation helpers can outlive the main process (they get reparented to
/// init). They are found by PID: processes named `dhcpcd: ...` whose command line holds this
/// test's unique interface name, plus their children; each gets SIGKILL.
fn kill_dhcpcd_helpers(iface: &str) {
    let procs: Vec<(u32, u32, String)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
                .filter_map(|pid| {
                    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                    // "pid (comm) state ppid ...": the ppid follows the closing parenthesis
                    let ppid = stat
                        .rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse()
                        .ok()?;
                    Some((pid, ppid, String::from_utf8_lossy(&cmd).replace('\0', " ")))
                })
                .collect()
        })
        .unwrap_or_default();
    let roots: Vec<u32> = procs
        .iter()
        .filter(|(_, _, cmd)| {
            cmd.starts_with("dhcpcd:") && cmd.split_whitespace().any(|w| w == iface)
        })
        .map(|(pid, _, _)| *pid)
        .collect();
    for (pid, ppid, cmd) in &procs {
        if roots.contains(pid) || (roots.contains(ppid) && cmd.starts_with("dhcpcd:")) {
            process::signal(*pid, libc::SIGKILL);
        }
    }
}

/// Settings for a bounded perfdhcp run (relayed: perfdhcp acts as a relay agent, giaddr = its
/// address, ports 67 <-> 67).
#[derive(Clone, Debug)]
pub struct PerfdhcpOptions {
    /// Exchanges initiated per second (-r).
    pub rate: u32,
    /// Distinct simulated clients (-R).
    pub clients: u32,
    /// Stop after this many exchanges (-n).
    pub max_exchanges: u32,
    /// Stop after this many seconds (-p).
    pub period_secs: u32,
    /// perfdhcp's own (relay) port, -L; 67 when `None`.
    pub local_port: Option<u16>,
    /// The server's port, -N; 67 when `None`.
    pub remote_port: Option<u16>,
    /// First simulated MAC (-b mac=...), for reproducible chaddrs.
    pub base_mac: Option<String>,
}

impl Default for PerfdhcpOptions {
    fn default() -> Self {
        PerfdhcpOptions {
            rate: 50,
            clients: 200,
            max_exchanges: 200,
            period_secs: 10,
            local_port: None,
            remote_port: None,
            base_mac: None,
        }
    }
}

/// perfdhcp's final report.
#[derive(Clone, Debug, Default)]
pub struct PerfdhcpReport {
    pub exit_code: Option<i32>,
    pub discover_sent: u64,
    pub offer_received: u64,
    pub request_sent: u64,
    pub ack_received: u64,
    pub drops_discover_offer: u64,
    pub drops_request_ack: u64,
    /// Addresses perfdhcp saw ACKed (`-x l`).
    pub acked: Vec<Ipv4Addr>,
    pub output: String,
}

/// Parses perfdhcp's text report.
pub fn parse_perfdhcp(output: &str) -> PerfdhcpReport {
    let mut r = PerfdhcpReport {
        output: output.to_string(),
        ..Default::default()
    };
    let mut section = "";
    for line in output.lines() {
        let line = line.trim();
        if line.starts_with("***Statistics for: DISCOVER-OFFER") {
            section = "do";
            continue;
        }
        if line.starts_with("***Statistics for: REQUEST-ACK") {
            section = "ra";
            continue;
        }
        if line.starts_with("***Leases for REQUEST-ACK") {
            section = "leases";
            continue;
        }
        if line.starts_with("***") {
            section = "";
            continue;
        }
        let num = |prefix: &str| {
            line.strip_prefix(prefix)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        match section {
            "do" | "ra" => {
                let ra = section == "ra";
                if let Some(n) = num("sent packets:") {
                    if ra {
                        r.request_sent = n
                    } else {
                        r.discover_sent = n
                    }
                } else if let Some(n) = num("received packets:") {
                    if ra {
                        r.ack_received = n
                    } else {
                        r.offer_received = n
                    }
                } else if let Some(n) = num("drops:") {
                    if ra {
                        r.drops_request_ack = n
                    } else {
                        r.drops_discover_offer = n
                    }
                }
            }
            "leases" => {
                if let Some(a) = line.split(',').nth(1).and_then(|a| a.trim().parse().ok()) {
                    r.acked.push(a);
                }
            }
            _ => {}
        }
    }
    r
}

/// A perfdhcp run in the background.
pub struct Perfdhcp {
    proc: Background,
    out: PathBuf,
}

impl Perfdhcp {
    /// Starts perfdhcp on `iface` (which must have an address) in `ns` against `server`.
    pub fn spawn(
        ns: &Netns,
        iface: &str,
        server: Ipv4Addr,
        opts: &PerfdhcpOptions,
        dir: &Path,
    ) -> Perfdhcp {
        crate::require_program(PERFDHCP, "kea-admin");
        crate::netns::check_test_address(server);
        let out = dir.join(format!("perfdhcp-{}.log", crate::unique_tag()));
        let f = File::create(&out).unwrap_or_else(|e| panic!("{e}"));
        let e = f.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = ns.command(PERFDHCP);
        cmd.args(["-4", "-g", "single", "-l", iface])
            .arg(format!("-r{}", opts.rate))
            .arg(format!("-R{}", opts.clients))
            .arg(format!("-n{}", opts.max_exchanges))
            .arg(format!("-p{}", opts.period_secs))
            .args(["-W", "1000000", "-x", "le"]);
        if let Some(p) = opts.local_port {
            cmd.arg(format!("-L{p}"));
        }
        if let Some(p) = opts.remote_port {
            cmd.arg(format!("-N{p}"));
        }
        if let Some(m) = &opts.base_mac {
            cmd.arg("-b").arg(format!("mac={m}"));
        }
        cmd.arg(server.to_string())
            .stdin(Stdio::null())
            .stdout(f)
            .stderr(e);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start perfdhcp: {e}"));
        Perfdhcp {
            proc: Background::new(child, "perfdhcp"),
            out,
        }
    }

    /// Waits for perfdhcp to finish (it is bounded by -n and -p; killed at `timeout`).
    pub fn finish(mut self, timeout: Duration) -> PerfdhcpReport {
        let status = self.proc.wait(timeout);
        if status.is_none() {
            self.proc.stop(Duration::from_secs(2));
        }
        let mut r = parse_perfdhcp(&crate::read_text(&self.out));
        r.exit_code = status.and_then(|s| s.code());
        r
    }
}

/// Runs perfdhcp to completion.
pub fn run_perfdhcp(
    ns: &Netns,
    iface: &str,
    server: Ipv4Addr,
    opts: &PerfdhcpOptions,
    dir: &Path,
) -> PerfdhcpReport {
    let limit = Duration::from_secs(u64::from(opts.period_secs) + 30);
    Perfdhcp::spawn(ns, iface, server, opts, dir).finish(limit)
}

/// Kills by PID any process still holding the pid file `path` (dhclient leftovers).
pub fn kill_pidfile(path: &Path) {
    if let Ok(s) = std::fs::read_to_string(path) {
        if let Ok(pid) = s.trim().parse::<u32>() {
            process::signal(pid, libc::SIGKILL);
        }
    }
}
