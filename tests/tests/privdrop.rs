#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! wrend started as root with `-u nobody -g nogroup` ends up running as that user and group
//! (real, effective and saved ids; no supplementary groups; no capabilities; no_new_privs),
//! and still does everything a server does after start: answers DISCOVER/REQUEST on the raw
//! socket, answers a unicast renewal, appends to the lease file, and compacts it (the
//! compacted file is created by the unprivileged user in the lease directory). With `-D` the
//! start command returns once the server is up, the locked PID file names the server, and a
//! failed start is reported by the start command's exit status.
//!
//! wrend only (`-u`/`-g`/`-D` are wren flags that kea-dhcp4 does not have).

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use wren_tests::clients::{run_perfdhcp, Client, ClientKind, ClientOptions, PerfdhcpOptions};
use wren_tests::netns::{NetPair, Netns};
use wren_tests::process::{self, Background};
use wren_tests::server::{listening_on, render, ServerKind, BASIC_CONFIG, RELAY_CONFIG};
use wren_tests::{require_root, wait_for, TestDir};

const NOBODY: u32 = 65534;
const NOGROUP: u32 = 65534;

/// BASIC_CONFIG with compaction every 2 s, in a directory the unprivileged user owns.
fn setup(dir: &TestDir, net: &NetPair) -> PathBuf {
    let config = render(BASIC_CONFIG, &net.server_if, dir.path())
        .replace("\"lfc-interval\": 0", "\"lfc-interval\": 2");
    assert!(config.contains("\"lfc-interval\": 2"));
    let path = dir.join("server.conf");
    std::fs::write(&path, config).unwrap();
    // The lease directory must be writable by the user the server becomes (rc.d creates
    // /var/db/wrend owned by wrend:wrend for the same reason).
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOGROUP)).unwrap();
    path
}

/// The `Name:\tvalue` line of /proc/<pid>/status, whitespace-normalised.
fn status_field(pid: u32, name: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
}

fn assert_unprivileged(pid: u32, log: &dyn Fn() -> String) {
    let ids = format!("{NOBODY} {NOBODY} {NOBODY} {NOBODY}");
    assert_eq!(status_field(pid, "Uid"), ids, "uids\n{}", log());
    let gids = format!("{NOGROUP} {NOGROUP} {NOGROUP} {NOGROUP}");
    assert_eq!(status_field(pid, "Gid"), gids, "gids\n{}", log());
    assert_eq!(status_field(pid, "Groups"), NOGROUP.to_string(), "groups");
    assert_eq!(
        status_field(pid, "CapEff"),
        "0000000000000000",
        "capabilities"
    );
    assert_eq!(
        status_field(pid, "CapPrm"),
        "0000000000000000",
        "capabilities"
    );
    assert_eq!(status_field(pid, "NoNewPrivs"), "1", "no_new_privs");
}

/// A dhclient in the client namespace gets a lease, renews it (unicast to the server), and
/// is stopped without releasing.
fn lease_and_renew(net: &NetPair, dir: &TestDir) -> std::net::Ipv4Addr {
    net.flush_client();
    let mut client = Client::start(
        ClientKind::Udhcpc,
        &net.client,
        &net.client_if,
        dir.path(),
        &ClientOptions::default(),
    );
    let lease = client.wait_bound(Duration::from_secs(30));
    let renewed = client.renew(Duration::from_secs(30));
    assert_eq!(renewed.address, lease.address, "renewal keeps the address");
    client.stop();
    lease.address
}

/// The leases as Kea reads a memfile: the last compaction's output (`<name>.2`), then the
/// journal (`<name>`).
fn lease_rows(lease_file: &Path) -> Vec<wren_tests::leases::LeaseRow> {
    let mut compacted = lease_file.as_os_str().to_owned();
    compacted.push(".2");
    let mut rows = wren_tests::leases::read_rows_or_empty(Path::new(&compacted));
    rows.extend(wren_tests::leases::read_rows_or_empty(lease_file));
    rows
}

/// wrend started in the server namespace with `user_args` (`-u nobody`, `-g nogroup`),
/// `-c config`, its PID file in `dir`, stdout and stderr in `<dir>/wrend.log`, and `env`
/// added to its environment. Returns the process and the log's path.
fn spawn_wrend(
    net: &NetPair,
    dir: &TestDir,
    config: &Path,
    user_args: &[&str],
    env: &[(&str, &str)],
) -> (Background, PathBuf) {
    let log = dir.join("wrend.log");
    let out = File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let mut cmd = net
        .server
        .command(&ServerKind::Wrend.binary().display().to_string());
    cmd.args(user_args)
        .arg("-c")
        .arg(config)
        .env("KEA_PIDFILE_DIR", dir.path())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    (Background::new(cmd.spawn().unwrap(), "wrend"), log)
}

fn wait_for_log(path: &Path, needle: &str) -> bool {
    wait_for(Duration::from_secs(15), || {
        wren_tests::read_text(path).contains(needle).then_some(())
    })
    .is_some()
}

#[test]
fn foreground_server_drops_to_nobody_and_keeps_serving() {
    require_root();
    let dir = TestDir::new("privdrop-fg");
    let net = NetPair::basic();
    let config = setup(&dir, &net);
    let (mut server, log) =
        spawn_wrend(&net, &dir, &config, &["-u", "nobody", "-g", "nogroup"], &[]);
    let pid = server.pid().unwrap();
    let show_log = || wren_tests::read_text(&log);
    assert!(
        wait_for_log(&log, "WREN_PRIVILEGES_DROPPED"),
        "no privilege drop logged:\n{}",
        show_log()
    );
    assert!(listening_on(&net.server, 67), "not bound:\n{}", show_log());
    assert_unprivileged(pid, &show_log);

    // The journal was opened (and created) as root, before the drop.
    let lease_file = dir.join("leases4.csv");
    let address = lease_and_renew(&net, &dir);
    assert!(server.is_running(), "server died:\n{}", show_log());

    // Compaction (every 2 s) replaces the journal with a file the unprivileged user
    // created in the lease directory, and the lease is in it.
    let compacted = wait_for(Duration::from_secs(15), || {
        let meta = std::fs::metadata(&lease_file).ok()?;
        (meta.uid() == NOBODY).then_some(())
    });
    assert!(
        compacted.is_some(),
        "lease file never rewritten by the unprivileged server (owner uid {:?}):\n{}",
        std::fs::metadata(&lease_file).map(|m| m.uid()),
        show_log()
    );
    // The snapshot becomes `.2` in the compaction's last step, after the journal is
    // replaced (and every later compaction briefly unlinks it): wait for it too.
    let output = dir.join("leases4.csv.2");
    let output_owned = wait_for(Duration::from_secs(15), || {
        let meta = std::fs::metadata(&output).ok()?;
        (meta.uid() == NOBODY).then_some(())
    });
    assert!(
        output_owned.is_some(),
        "compaction output {} not written by the unprivileged server (owner uid {:?})",
        output.display(),
        std::fs::metadata(&output).map(|m| m.uid())
    );
    let rows = lease_rows(&lease_file);
    assert!(
        rows.iter().any(|r| r.address == address),
        "lease {address} missing after compaction: {rows:?}"
    );
    assert!(
        !show_log().contains("DHCPSRV_MEMFILE_LFC_FAIL"),
        "compaction failed:\n{}",
        show_log()
    );

    // Still serving after compaction: a second client, then a clean SIGTERM exit.
    net.set_client_mac("02:57:52:00:0c:01");
    let second = lease_and_renew(&net, &dir);
    assert_ne!(second, address);
    let status = server.stop(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "exit status {status:?}:\n{}", show_log());
    assert!(!show_log().contains("panicked at"), "{}", show_log());
}

/// Sends one control command over the unix socket; the answer without whitespace.
fn control(socket: &Path, json: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)
        .unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(json.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.chars().filter(|c| !c.is_whitespace()).collect()
}

fn count(path: &Path, needle: &str) -> usize {
    wren_tests::read_text(path).matches(needle).count()
}

/// After the drop every file is reached through a directory opened at start (the code path
/// Capsicum needs, daemon/src/sandbox/dirs.rs; the same on Linux): SIGHUP re-reads the
/// configuration and an `<?include?>` in another directory, a file logger is reopened,
/// `config-write` replaces the file with a timestamped backup, `config-reload` re-reads it,
/// an include in a directory not opened at start is refused with a clear error while the
/// old configuration keeps serving, and the control socket is removed at exit.
#[test]
fn after_the_drop_files_are_reached_through_directories_opened_at_start() {
    require_root();
    let dir = TestDir::new("privdrop-dirs");
    let net = NetPair::basic();
    // The configuration in its own directory (writable by the server's user, for
    // config-write), the include in another; leases, log and socket in the test directory.
    let first = setup(&dir, &net);
    let etc = dir.join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::os::unix::fs::chown(&etc, Some(NOBODY), Some(NOGROUP)).unwrap();
    let config = etc.join("server.conf");
    std::fs::rename(&first, &config).unwrap();
    let include_dir = dir.join("inc");
    std::fs::create_dir(&include_dir).unwrap();
    let include = include_dir.join("lifetime.json");
    std::fs::write(&include, "600").unwrap();
    // The log file exists and belongs to the server's user (it is reopened after the drop).
    let file_log = dir.join("wrend-file.log");
    std::fs::write(&file_log, "").unwrap();
    std::os::unix::fs::chown(&file_log, Some(NOBODY), Some(NOGROUP)).unwrap();
    // This one the server creates as root at start: the unprivileged server cannot reopen
    // it on a reload and keeps writing to the descriptor it has.
    let root_log = dir.join("wrend-root.log");
    let text = std::fs::read_to_string(&config).unwrap();
    let with_include = text
        .replace(
            "\"valid-lifetime\": 600,",
            &format!("\"valid-lifetime\": <?include \"{}\"?>,", include.display()),
        )
        .replace(
            "{ \"output\": \"stdout\" }",
            &format!(
                "{{ \"output\": \"stdout\" }}, {{ \"output\": \"{}\" }}, \
                 {{ \"output\": \"{}\" }}",
                file_log.display(),
                root_log.display()
            ),
        );
    assert!(with_include.contains("<?include") && with_include.contains("wrend-file.log"));
    std::fs::write(&config, &with_include).unwrap();

    let (mut server, log) =
        spawn_wrend(&net, &dir, &config, &["-u", "nobody", "-g", "nogroup"], &[]);
    let pid = server.pid().unwrap();
    let show_log = || wren_tests::read_text(&log);
    assert!(wait_for_log(&log, "DHCP4_STARTED"), "{}", show_log());
    assert_unprivileged(pid, &show_log);
    // The directories kept, and for what.
    let kept = show_log();
    for (path, uses) in [
        (&etc, "reading, writing"),
        (&include_dir, "reading"),
        (&dir.path().to_path_buf(), "appending, removing"),
    ] {
        let line = format!(
            "WREN_SANDBOX_DIRECTORY {} kept open for {uses}\n",
            path.display()
        );
        assert!(kept.contains(&line), "{line}{kept}");
    }
    let hup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };

    // SIGHUP: the include is re-read (its new value is in effect), the file logger reopened.
    std::fs::write(&include, "700").unwrap();
    hup();
    assert!(
        wait_for_log(&log, "DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS"),
        "{}",
        show_log()
    );
    // The loggers were reopened by the reload (a failed reopen keeps the old ones and
    // says so).
    assert!(
        wait_for(Duration::from_secs(15), || {
            (count(&file_log, "DHCP4_CONFIG_COMPLETE") >= 2).then_some(())
        })
        .is_some(),
        "file log: {}",
        wren_tests::read_text(&file_log)
    );
    assert!(
        !show_log().contains("DHCP4_CONFIG_LOAD_FAIL loggers"),
        "{}",
        show_log()
    );
    assert_eq!(std::fs::metadata(&root_log).unwrap().uid(), 0);
    assert!(
        show_log().contains(&format!(
            "WREN_LOG_FILE_KEPT {}: cannot reopen",
            root_log.display()
        )),
        "{}",
        show_log()
    );
    assert!(
        !show_log().contains(&format!("WREN_LOG_FILE_KEPT {}", file_log.display())),
        "{}",
        show_log()
    );
    assert!(
        count(&root_log, "DHCP4_CONFIG_COMPLETE") >= 2,
        "{}",
        wren_tests::read_text(&root_log)
    );
    let sock = dir.join("ctrl.sock");
    let answer = control(&sock, r#"{ "command": "config-get" }"#);
    assert!(answer.contains("\"valid-lifetime\":700"), "{answer}");

    // config-write: the file is replaced (by the unprivileged user), the old one kept.
    let answer = control(&sock, r#"{ "command": "config-write" }"#);
    assert!(answer.contains("\"result\":0"), "{answer}\n{}", show_log());
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(!written.contains("<?include"), "{written}");
    assert_eq!(std::fs::metadata(&config).unwrap().uid(), NOBODY);
    let backups: Vec<_> = std::fs::read_dir(&etc)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("server.conf.") && n.ends_with(".bak"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(
        std::fs::read_to_string(etc.join(&backups[0])).unwrap(),
        with_include
    );

    // config-reload re-reads the written file.
    let reloads = count(&log, "DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS");
    let answer = control(&sock, r#"{ "command": "config-reload" }"#);
    assert!(answer.contains("\"result\":0"), "{answer}\n{}", show_log());
    // The answer comes after the check; the reload itself follows in the loop.
    assert!(
        wait_for(Duration::from_secs(15), || {
            (count(&log, "DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS") > reloads).then_some(())
        })
        .is_some(),
        "{}",
        show_log()
    );

    // An include in a directory the server did not open before the drop: refused, named,
    // and the server keeps serving its configuration.
    let late_dir = dir.join("late");
    std::fs::create_dir(&late_dir).unwrap();
    std::fs::write(late_dir.join("lifetime.json"), "800").unwrap();
    let failures = count(&log, "DHCP4_DYNAMIC_RECONFIGURATION_FAIL");
    std::fs::write(
        &config,
        written.replace(
            "\"valid-lifetime\": 700",
            &format!(
                "\"valid-lifetime\": <?include \"{}\"?>",
                late_dir.join("lifetime.json").display()
            ),
        ),
    )
    .unwrap();
    hup();
    assert!(
        wait_for(Duration::from_secs(15), || {
            (count(&log, "DHCP4_DYNAMIC_RECONFIGURATION_FAIL") > failures).then_some(())
        })
        .is_some(),
        "{}",
        show_log()
    );
    assert!(show_log().contains("restart wrend"), "{}", show_log());
    let answer = control(&sock, r#"{ "command": "config-get" }"#);
    assert!(answer.contains("\"valid-lifetime\":700"), "{answer}");
    lease_and_renew(&net, &dir);

    // Exit: the control socket is removed through its directory.
    let status = server.stop(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "exit status {status:?}:\n{}", show_log());
    assert!(!sock.exists(), "control socket left behind");
    assert!(!show_log().contains("panicked at"), "{}", show_log());
}

/// `dhcp-socket-type: udp` with the broker (`WREN_BROKER=1`, what `-C` starts on FreeBSD):
/// every reply is a `sendmsg` to an address, which capability mode refuses, so the broker
/// process makes it on its copy of the port-67 socket. The server, as nobody, still answers
/// DISCOVER/REQUEST (broadcast) and a unicast renewal; the broker runs as nobody too, outside
/// the server process, and exits with it.
#[test]
fn udp_mode_replies_through_the_broker_as_nobody() {
    require_root();
    let dir = TestDir::new("privdrop-udp-broker");
    let net = NetPair::basic();
    let config = setup(&dir, &net);
    let text = std::fs::read_to_string(&config).unwrap();
    let udp = text.replace(
        "\"dhcp-socket-type\": \"raw\"",
        "\"dhcp-socket-type\": \"udp\"",
    );
    assert_ne!(udp, text);
    std::fs::write(&config, udp).unwrap();
    let (mut server, log) = spawn_wrend(
        &net,
        &dir,
        &config,
        &["-u", "nobody", "-g", "nogroup"],
        &[("WREN_BROKER", "1")],
    );
    let pid = server.pid().unwrap();
    let show_log = || wren_tests::read_text(&log);
    assert!(wait_for_log(&log, "DHCP4_STARTED"), "{}", show_log());
    assert!(show_log().contains("WREN_BROKER_STARTED"), "{}", show_log());
    assert_unprivileged(pid, &show_log);

    // The broker: another wrend process, same user, holding a UDP socket the server gave it.
    let exe = ServerKind::Wrend.binary().canonicalize().unwrap();
    let brokers: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| *p != pid)
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/exe")).ok().as_deref() == Some(exe.as_path())
                && std::fs::read_to_string(format!("/proc/{p}/environ"))
                    .map(|e| e.contains(&format!("KEA_PIDFILE_DIR={}", dir.path().display())))
                    .unwrap_or(false)
        })
        .collect();
    assert_eq!(brokers.len(), 1, "brokers {brokers:?}");
    let broker = brokers[0];
    assert_eq!(status_field(broker, "Uid"), status_field(pid, "Uid"));
    // It holds the server's port-67 socket (the inode /proc/net/udp lists for :0043).
    let udp_table = std::fs::read_to_string(format!("/proc/{pid}/net/udp")).unwrap();
    let inode = udp_table
        .lines()
        .find(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(":0043"))
        })
        .and_then(|l| l.split_whitespace().nth(9))
        .unwrap_or_else(|| panic!("no :67 socket in\n{udp_table}"))
        .to_owned();
    let holds = std::fs::read_dir(format!("/proc/{broker}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|l| l.to_string_lossy() == format!("socket:[{inode}]"));
    assert!(holds, "the broker does not hold the port-67 socket {inode}");

    let address = lease_and_renew(&net, &dir);
    let rows = lease_rows(&dir.join("leases4.csv"));
    assert!(rows.iter().any(|r| r.address == address), "{rows:?}");
    let c = show_log();
    assert!(!c.contains("panicked at"), "{c}");

    let status = server.stop(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "exit status {status:?}:\n{}", show_log());
    // The broker saw its channel close and exited.
    assert!(
        wait_for(Duration::from_secs(10), || (!process_alive(broker))
            .then_some(()))
        .is_some(),
        "broker {broker} outlived the server"
    );
}

/// Stops a daemonised server (not our child) by the PID in its file, on drop as well —
/// including when the test fails between the start and the stop, so no `wrend -D` outlives
/// a test. Created before the first start (and declared after the namespaces, so it is
/// dropped first): whatever PID the file ever named is remembered, because the server
/// removes the file when it exits.
struct DaemonGuard {
    pid_file: PathBuf,
    pid: std::cell::Cell<Option<u32>>,
}

/// Whether `pid` is a live (not zombie) process. Never panics: used from `Drop`.
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
        !status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'))
    })
}

impl DaemonGuard {
    fn watching(pid_file: &Path) -> DaemonGuard {
        DaemonGuard {
            pid_file: pid_file.to_path_buf(),
            pid: std::cell::Cell::new(None),
        }
    }

    /// The PID the file names now, or the last one it named.
    fn pid(&self) -> Option<u32> {
        let named = std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        if named.is_some() {
            self.pid.set(named);
        }
        self.pid.get()
    }

    fn alive(&self) -> bool {
        self.pid().is_some_and(process_alive)
    }

    fn stop(&self) -> bool {
        let Some(pid) = self.pid() else {
            return true;
        };
        process::signal(pid, libc::SIGTERM);
        wait_for(Duration::from_secs(10), || {
            (!process_alive(pid)).then_some(())
        })
        .is_some()
    }
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            if process_alive(pid) && !self.stop() {
                process::signal(pid, libc::SIGKILL);
            }
        }
    }
}

fn start_daemon(ns: &Netns, config: &Path, pid_file: &Path, user: &str) -> process::RunOutput {
    let mut cmd = ns.command(&ServerKind::Wrend.binary().display().to_string());
    cmd.args(["-D", "-f"])
        .arg(pid_file)
        .args(["-u", user, "-c"])
        .arg(config);
    process::run(&mut cmd, Duration::from_secs(30))
}

#[test]
fn daemonised_start_waits_for_ready_and_reports_failures() {
    require_root();
    let dir = TestDir::new("privdrop-daemon");
    let net = NetPair::basic();
    let config = setup(&dir, &net);
    let pid_file = dir.join("wrend.pid");
    let daemon = DaemonGuard::watching(&pid_file);

    // A user that does not exist: the start command fails and says why; no server remains.
    let bad = start_daemon(&net.server, &config, &pid_file, "wren-no-such-user");
    assert!(!bad.success(), "start with an unknown user succeeded");
    assert!(
        bad.stderr.contains("unknown user 'wren-no-such-user'"),
        "{}",
        bad.combined()
    );
    assert!(
        !listening_on(&net.server, 67),
        "a server remained after a failed start"
    );

    // A good start returns 0 only once the server is up.
    let started = start_daemon(&net.server, &config, &pid_file, "nobody");
    assert!(started.success(), "start failed: {}", started.combined());
    let pid = daemon.pid().expect("no PID in the PID file");
    assert!(daemon.alive());
    assert!(listening_on(&net.server, 67), "returned before binding");
    // Its own session, no longer the start command's child.
    assert_eq!(status_field(pid, "NSsid"), pid.to_string());
    assert_unprivileged(pid, &|| started.combined());

    // A second start finds the PID file locked.
    let again = start_daemon(&net.server, &config, &pid_file, "nobody");
    assert!(!again.success(), "second start succeeded");
    assert!(
        again
            .stderr
            .contains(&format!("already running as PID {pid}")),
        "{}",
        again.combined()
    );

    let address = lease_and_renew(&net, &dir);
    let rows = lease_rows(&dir.join("leases4.csv"));
    assert!(rows.iter().any(|r| r.address == address), "{rows:?}");

    // SIGTERM: it exits and, owning the directory, removes its PID file.
    assert!(daemon.stop(), "daemon ignored SIGTERM");
    assert!(!pid_file.exists(), "PID file left behind");
}

/// SIGHUP after the drop: the configuration is re-read (through the directory descriptor
/// taken at start), and the server keeps serving on the raw sockets it already had open
/// (reopening them would need CAP_NET_RAW on Linux, root and a path for /dev/bpf on
/// FreeBSD).
#[test]
fn reload_after_privilege_drop_keeps_serving() {
    require_root();
    let dir = TestDir::new("privdrop-hup");
    let net = NetPair::basic();
    let config = setup(&dir, &net);
    let (mut server, log) = spawn_wrend(&net, &dir, &config, &["-u", "nobody"], &[]);
    let show_log = || wren_tests::read_text(&log);
    assert!(wait_for_log(&log, "DHCP4_STARTED"), "{}", show_log());
    assert!(server.signal(libc::SIGHUP));
    assert!(
        wait_for_log(&log, "DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS"),
        "{}",
        show_log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.is_running(), "died on SIGHUP:\n{}", show_log());
    lease_and_renew(&net, &dir);
    assert!(server.stop(Duration::from_secs(10)).is_some());
}

/// The Linux run of the code capability mode depends on (freebsd.md §2, sandbox.rs): as
/// `nobody`, a relayed exchange (replies to giaddr:67 leave as frames to the relay's MAC),
/// a direct lease and unicast renewal (reply to ciaddr:68, also a frame), a SIGHUP reload
/// that changes the lease lifetime (config re-read with `openat`, raw sockets kept), more
/// relayed exchanges after it, and a clean exit that removes the PID file with `unlinkat`.
#[test]
fn relayed_exchange_renewal_reload_and_exit_as_nobody() {
    require_root();
    let dir = TestDir::new("privdrop-relay");
    let net = NetPair::relay();
    let config_text = render(RELAY_CONFIG, &net.server_if, dir.path())
        .replace("\"severity\": \"WARN\"", "\"severity\": \"INFO\"");
    let config = dir.join("server.conf");
    std::fs::write(&config, &config_text).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOGROUP)).unwrap();
    let (mut server, log) = spawn_wrend(&net, &dir, &config, &["-u", "nobody"], &[]);
    let show_log = || wren_tests::read_text(&log);
    assert!(wait_for_log(&log, "DHCP4_STARTED"), "{}", show_log());
    assert_unprivileged(server.pid().unwrap(), &show_log);
    let pid_file = dir.join("server.kea-dhcp4.pid");
    assert!(pid_file.exists(), "no PID file");

    let relayed = |base_mac: &str| {
        let opts = PerfdhcpOptions {
            rate: 20,
            clients: 20,
            max_exchanges: 20,
            period_secs: 4,
            base_mac: Some(base_mac.into()),
            ..Default::default()
        };
        let report = run_perfdhcp(
            &net.client,
            &net.client_if,
            net.server_ip,
            &opts,
            dir.path(),
        );
        assert!(report.discover_sent >= 10, "{}", report.output);
        assert_eq!(report.drops_request_ack, 0, "{}", report.output);
        assert_eq!(
            report.ack_received,
            report.request_sent,
            "relayed ACKs missing\n{}\n{}",
            report.output,
            show_log()
        );
        assert!(report.ack_received >= 10, "{}", report.output);
    };
    relayed("02:42:00:00:01:00");
    let address = lease_and_renew(&net, &dir);

    // Reload with a changed lifetime: the new file is read and serving goes on.
    std::fs::write(
        &config,
        config_text.replace("\"valid-lifetime\": 3600", "\"valid-lifetime\": 1800"),
    )
    .unwrap();
    assert!(server.signal(libc::SIGHUP));
    assert!(
        wait_for_log(&log, "DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS"),
        "{}",
        show_log()
    );
    assert!(server.is_running(), "died on SIGHUP:\n{}", show_log());
    assert!(
        !show_log().contains("WREN_SANDBOX_RESTART_NEEDED"),
        "{}",
        show_log()
    );
    relayed("02:42:00:00:02:00");
    let table = wren_tests::leases::current(&lease_rows(&dir.join("leases4.csv")));
    assert!(
        table.contains_key(&address),
        "renewed lease missing: {table:?}"
    );
    assert!(
        table.values().any(|r| r.valid_lifetime == 1800),
        "no lease with the reloaded lifetime: {table:?}"
    );

    // SIGTERM: a clean exit that removes the PID file from the root-owned-at-start path.
    assert!(
        server.stop(Duration::from_secs(10)).is_some(),
        "{}",
        show_log()
    );
    assert!(wait_for_log(&log, "DHCP4_SHUTDOWN"), "{}", show_log());
    assert!(!pid_file.exists(), "PID file left behind\n{}", show_log());
    assert!(!show_log().contains("panicked"), "{}", show_log());
}
