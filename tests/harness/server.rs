//! The DHCP server under test: `wrend` (the workspace's binary) or the reference `kea-dhcp4`,
//! started inside a namespace with the same Kea command line and the same config file.

use crate::netns::Netns;
use crate::process::{self, Background, RunOutput};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const KEA_DHCP4: &str = "/usr/sbin/kea-dhcp4";

/// Which server a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// wren's daemon, built from this workspace.
    Wrend,
    /// ISC kea-dhcp4 2.2 from Debian (the behaviour wren matches).
    Kea,
}

impl ServerKind {
    /// `WREN_SERVER=kea` selects Kea; anything else (or unset) selects wrend.
    pub fn from_env() -> ServerKind {
        match std::env::var("WREN_SERVER").as_deref() {
            Ok("kea") | Ok("kea-dhcp4") => ServerKind::Kea,
            _ => ServerKind::Wrend,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Wrend => "wrend",
            ServerKind::Kea => "kea-dhcp4",
        }
    }

    /// The executable: for wrend `WREND_BIN`, else the newest of `target/{debug,release}/wrend`
    /// (honouring `CARGO_TARGET_DIR`). Panics with a build hint when none exists.
    pub fn binary(self) -> PathBuf {
        match self {
            ServerKind::Kea => {
                crate::require_program(KEA_DHCP4, "kea-dhcp4-server");
                PathBuf::from(KEA_DHCP4)
            }
            ServerKind::Wrend => wrend_binary(),
        }
    }
}

fn wrend_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("WREND_BIN") {
        let p = PathBuf::from(p);
        assert!(p.exists(), "WREND_BIN={} does not exist", p.display());
        return p;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    let newest = ["debug", "release"]
        .iter()
        .map(|profile| target.join(profile).join("wrend"))
        .filter_map(|p| {
            std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .ok()
                .map(|t| (t, p))
        })
        .max();
    match newest {
        Some((_, p)) => p,
        None => panic!(
            "no wrend binary under {}: run `cargo build -p wrend` first (scripts/test.sh does), \
             or set WREND_BIN, or run against Kea with WREN_SERVER=kea",
            target.display()
        ),
    }
}

/// Replaces `@IFACE@` and `@DIR@` in a config template.
/// Runs wrend with `-c config` in `ns` (PID and lock files in `dir`) until it exits, for
/// a start it must refuse: the output, with `status: None` when it was still running after
/// `timeout` (then stopped by PID).
pub fn run_wrend_to_exit(
    ns: &Netns,
    dir: &Path,
    config: &Path,
    timeout: std::time::Duration,
) -> crate::process::RunOutput {
    crate::process::run(
        ns.command(&ServerKind::Wrend.binary().display().to_string())
            .arg("-c")
            .arg(config)
            .env("KEA_PIDFILE_DIR", dir)
            .env("KEA_LOCKFILE_DIR", dir),
        timeout,
    )
}

pub fn render(template: &str, iface: &str, dir: &Path) -> String {
    template
        .replace("@IFACE@", iface)
        .replace("@DIR@", &dir.display().to_string())
}

/// The default test config: subnet 198.18.0.0/24 (id 1), pool .100-.199, authoritative,
/// valid-lifetime 600 s, renew-timer 2 s (so clients renew quickly), rebind-timer 500 s, options
/// routers 198.18.0.1, DNS 198.18.0.53 and .54, domain-name `wren.test`. Lease file
/// `@DIR@/leases4.csv`, control socket `@DIR@/ctrl.sock`, logs on stdout.
pub const BASIC_CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "@IFACE@" ], "dhcp-socket-type": "raw" },
    "control-socket": { "socket-type": "unix", "socket-name": "@DIR@/ctrl.sock" },
    "lease-database": { "type": "memfile", "persist": true, "name": "@DIR@/leases4.csv", "lfc-interval": 0 },
    "authoritative": true,
    "valid-lifetime": 600,
    "renew-timer": 2,
    "rebind-timer": 500,
    "subnet4": [
      {
        "id": 1,
        "subnet": "198.18.0.0/24",
        "pools": [ { "pool": "198.18.0.100 - 198.18.0.199" } ],
        "option-data": [
          { "name": "routers", "data": "198.18.0.1" },
          { "name": "domain-name-servers", "data": "198.18.0.53, 198.18.0.54" },
          { "name": "domain-name", "data": "wren.test" }
        ]
      }
    ],
    "loggers": [
      { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "INFO" }
    ]
  }
}
"#;

/// For relayed load (perfdhcp as relay agent at 198.18.0.2): subnet 198.18.0.0/22 (id 7) with
/// ~1,000 pool addresses (198.18.1.0-198.18.3.250) so the load never exhausts the pool,
/// valid-lifetime 3600 s, logging at WARN.
pub const RELAY_CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "@IFACE@" ], "dhcp-socket-type": "raw" },
    "control-socket": { "socket-type": "unix", "socket-name": "@DIR@/ctrl.sock" },
    "lease-database": { "type": "memfile", "persist": true, "name": "@DIR@/leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "subnet4": [
      {
        "id": 7,
        "subnet": "198.18.0.0/22",
        "pools": [ { "pool": "198.18.1.0 - 198.18.3.250" } ],
        "option-data": [ { "name": "routers", "data": "198.18.0.1" } ]
      }
    ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "WARN" } ]
  }
}
"#;

/// A running server (one process at a time; [`Server::restart`] starts a new one with the same
/// config, lease file and directory). Stopped by PID on drop.
pub struct Server {
    pub kind: ServerKind,
    ns_name: String,
    dir: PathBuf,
    config: PathBuf,
    proc: Option<Background>,
    runs: u32,
    args: Vec<String>,
    port: u16,
}

impl Server {
    /// Writes `config_text` to `<dir>/server.conf` and starts the server in `ns`; panics with the
    /// server's log when it does not come up within 15 s.
    pub fn start(kind: ServerKind, ns: &Netns, dir: &Path, config_text: &str) -> Server {
        Server::start_with(kind, ns, dir, config_text, &[], 67)
    }

    /// Like [`Server::start`] with extra command-line arguments (e.g. `-d`, `-p 1067`), waiting
    /// for a socket bound to UDP `port` (what `-p` selects).
    pub fn start_with(
        kind: ServerKind,
        ns: &Netns,
        dir: &Path,
        config_text: &str,
        args: &[&str],
        port: u16,
    ) -> Server {
        let config = dir.join("server.conf");
        std::fs::write(&config, config_text).unwrap_or_else(|e| panic!("write config: {e}"));
        let mut s = Server {
            kind,
            ns_name: ns.name().to_string(),
            dir: dir.to_path_buf(),
            config,
            proc: None,
            runs: 0,
            args: args.iter().map(|a| a.to_string()).collect(),
            port,
        };
        if let Err(e) = s.spawn(ns) {
            panic!("{e}");
        }
        s
    }

    fn log_path(&self, run: u32) -> PathBuf {
        self.dir
            .join(format!("server-{}-run{run}.log", self.kind.name()))
    }

    fn spawn(&mut self, ns: &Netns) -> Result<(), String> {
        self.runs += 1;
        let log = self.log_path(self.runs);
        let out = File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = ns.command(&self.kind.binary().display().to_string());
        cmd.args(&self.args)
            .arg("-c")
            .arg(&self.config)
            .env("KEA_PIDFILE_DIR", &self.dir)
            .env("KEA_LOCKFILE_DIR", &self.dir)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.kind.name()))?;
        let mut bg = Background::new(child, self.kind.name());
        let ready = crate::wait_for(Duration::from_secs(15), || {
            if !bg.is_running() {
                return Some(false);
            }
            listening_on(ns, self.port).then_some(true)
        });
        match ready {
            Some(true) => {
                // Kea binds its sockets just before logging DHCP4_STARTED; give both servers a
                // moment to finish start-up work after binding.
                std::thread::sleep(Duration::from_millis(300));
                self.proc = Some(bg);
                Ok(())
            }
            Some(false) => Err(format!(
                "{} exited during start-up; log {}:\n{}",
                self.kind.name(),
                log.display(),
                crate::read_text(&log)
            )),
            None => {
                bg.stop(Duration::from_secs(3));
                Err(format!(
                    "{} did not bind UDP port {} within 15 s; log {}:\n{}",
                    self.kind.name(),
                    self.port,
                    log.display(),
                    crate::read_text(&log)
                ))
            }
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().and_then(|p| p.pid())
    }

    pub fn is_running(&mut self) -> bool {
        self.proc.as_mut().map(|p| p.is_running()).unwrap_or(false)
    }

    /// SIGTERM, then SIGKILL after 10 s. Returns true when it exited on SIGTERM by itself.
    pub fn stop(&mut self) -> bool {
        let Some(mut p) = self.proc.take() else {
            return false;
        };
        let pid = p.pid();
        if let Some(pid) = pid {
            process::signal(pid, libc::SIGTERM);
        }
        let clean = p.wait(Duration::from_secs(10)).is_some();
        if !clean {
            p.kill_hard();
        }
        clean
    }

    /// SIGKILL: no chance to flush anything (the durability test).
    pub fn kill_hard(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill_hard();
        }
    }

    /// SIGHUP: reload the config file.
    pub fn reload(&self) -> bool {
        self.proc
            .as_ref()
            .map(|p| p.signal(libc::SIGHUP))
            .unwrap_or(false)
    }

    /// Stops the running process (if any) and starts a new one with the same files.
    pub fn restart(&mut self, ns: &Netns) {
        assert_eq!(
            ns.name(),
            self.ns_name,
            "restart in the namespace it ran in"
        );
        self.stop();
        if let Err(e) = self.spawn(ns) {
            panic!("restart failed: {e}");
        }
    }

    /// Overwrites the config file (then [`Server::reload`] or [`Server::restart`]).
    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap_or_else(|e| panic!("write config: {e}"));
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// `<dir>/leases4.csv`, where the templates put the memfile.
    pub fn lease_file(&self) -> PathBuf {
        self.dir.join("leases4.csv")
    }

    /// All logs of all runs so far, oldest first.
    pub fn log(&self) -> String {
        (1..=self.runs)
            .map(|r| crate::read_text(&self.log_path(r)))
            .collect::<Vec<_>>()
            .join("\n----- restart -----\n")
    }

    /// Panics when any run's log shows a Rust panic.
    pub fn assert_no_panic(&self) {
        let log = self.log();
        assert!(
            !log.contains("panicked at"),
            "{} panicked:\n{log}",
            self.kind.name()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("[harness] {} log:\n{}", self.kind.name(), self.log());
        }
    }
}

/// True when some socket in `ns` is bound to UDP `port` (read from the namespace's
/// /proc/net/udp, where the local address is `HEXADDR:HEXPORT`).
pub fn listening_on(ns: &Netns, port: u16) -> bool {
    let out = process::run(
        ns.command("/bin/cat").arg("/proc/net/udp"),
        Duration::from_secs(5),
    );
    let suffix = format!(":{port:04X}");
    out.stdout.lines().skip(1).any(|l| {
        l.split_whitespace()
            .nth(1)
            .map(|local| local.ends_with(&suffix))
            .unwrap_or(false)
    })
}

/// Runs `<server> -t <config>` (config check only) inside `ns` (Kea checks that the interfaces
/// exist, so the check runs where they do).
pub fn check_config(kind: ServerKind, ns: &Netns, config: &Path, dir: &Path) -> RunOutput {
    let mut cmd: Command = ns.command(&kind.binary().display().to_string());
    cmd.arg("-t")
        .arg(config)
        .env("KEA_PIDFILE_DIR", dir)
        .env("KEA_LOCKFILE_DIR", dir);
    process::run(&mut cmd, Duration::from_secs(20))
}
