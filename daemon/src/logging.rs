//! Logging the way Kea 2.2 does it: Kea's logger names, message IDs and texts, line layouts
//! and `loggers` configuration (kea-config.md §2.11), through the `log` crate.
//!
//! # Loggers and outputs
//! Every message has a Kea logger name as its `log` target (`kea-dhcp4.leases`,
//! `kea-dhcp4.dhcp4`, `kea-dhcp4.bad-packets`, `kea-dhcp4.dhcpsrv`, …). A record goes to the
//! most specific configured `loggers` entry: the entry named exactly like the target, else
//! `kea-dhcp4`, else the default (INFO to stdout). As in Kea (additivity off), a child entry
//! replaces its parent's outputs. Targets that are not Kea names (plain `log::info!` in daemon
//! modules) use the `kea-dhcp4` entry and print as `kea-dhcp4`.
//!
//! Outputs: `stdout`, `stderr`, `syslog` (facility `daemon`), `syslog:<facility>` (Kea passes
//! the name to log4cplus as the facility; `local0`…`local7`, `daemon`, `user`, …; an unknown
//! name falls back to `daemon` with a warning), or a file path (opened for appending, each
//! line written with one `write(2)`, which is Kea's `flush: true`; `maxsize`/`maxver`
//! rotation is left to newsyslog/logrotate). Note: Kea's own default facility for plain
//! `syslog` is `local0`; wren uses `daemon`, the facility of ISC dhcpd and of FreeBSD's stock
//! `daemon.info` rule (freebsd.md §6). Write `syslog:local0` to get Kea's.
//!
//! Severities: `FATAL`/`ERROR` → `log::Level::Error`, `WARN` → `Warn`, `INFO` → `Info`,
//! `DEBUG` → `Debug` when `debuglevel` ≥ 40 (Kea's DBGLVL_TRACE_BASIC) and `Trace` when
//! `debuglevel` ≥ 50 (DBGLVL_TRACE_DETAIL); `NONE` → nothing. `-d` forces DEBUG/99 on every
//! entry, as Kea's `verbose` mode.
//!
//! # Line layouts (Kea's default patterns)
//! * stdout, stderr, file: `%D{%Y-%m-%d %H:%M:%S.%q} %-5p [%c/%i.%t] %m` →
//!   `2026-11-28 10:11:28.123 INFO  [kea-dhcp4.leases/4242.4242] DHCP4_LEASE_ALLOC …`
//!   (local time; wren has one thread, so `%t` is the PID too).
//! * syslog: `%-5p [%c.%t] %m` inside an RFC 3164 datagram
//!   `<PRI>Mmm dd hh:mm:ss wrend[pid]: …` with PRI = facility × 8 + severity (FATAL 2, ERROR 3,
//!   WARN 4, INFO 6, DEBUG 7).
//!
//! The syslog timestamp is **local time** in RFC 3164 form, as glibc's and FreeBSD's libc
//! `syslog(3)` send it: FreeBSD's syslogd and rsyslog read an RFC 3164 timestamp as local time,
//! so the `syslog` crate's Formatter3164, which stamps UTC, shows wrong times unless TZ is UTC
//! (spec README trap 11). RFC 5424 would carry an offset but systemd-journald does not parse
//! it. Local time comes from `localtime_r` (call `tzset` before `cap_enter` on FreeBSD).
//!
//! # Syslog reconnection
//! The socket is non-blocking (a slow syslogd drops lines instead of stalling DHCP service).
//! When a send fails for another reason (syslogd restarted: `ECONNREFUSED`, `ENOTCONN`,
//! `ENOENT`), the line is dropped and the socket is reconnected at most once every
//! [`SYSLOG_RECONNECT_INTERVAL`]; the line that triggers a successful reconnection is sent.
//! The `syslog` crate never reconnects (trap 11), so wren does its own sending and uses the
//! crate only for facility names.
//!
//! # No allocation per line
//! A line is formatted into a fixed buffer on the stack ([`LINE_MAX`] bytes; longer lines are
//! cut and end in `...`), and written with one system call per output. The message helpers
//! below take borrowed data and format through `Display` wrappers.

use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};
use syslog::Facility;
use wren_core::config::{Config, Severity};

/// Longest line written; longer ones are cut (Kea has no limit, syslog datagrams do).
pub const LINE_MAX: usize = 2048;

/// Minimum time between two syslog reconnection attempts.
pub const SYSLOG_RECONNECT_INTERVAL: Duration = Duration::from_secs(10);

/// Kea's root logger name (`loggers[].name` of the server).
pub const ROOT: &str = "kea-dhcp4";
/// Logger of server start/stop/configuration messages.
pub const TARGET_DHCP4: &str = "kea-dhcp4.dhcp4";
/// Logger of lease allocation messages.
pub const TARGET_LEASES: &str = "kea-dhcp4.leases";
/// Logger of dropped and NAKed packets.
pub const TARGET_BAD_PACKETS: &str = "kea-dhcp4.bad-packets";
/// Logger of packet traces.
pub const TARGET_PACKETS: &str = "kea-dhcp4.packets";
/// Logger of the lease database (libdhcpsrv).
pub const TARGET_DHCPSRV: &str = "kea-dhcp4.dhcpsrv";

/// syslog sockets tried in order when no path is given: Linux, macOS, FreeBSD.
#[cfg(not(target_os = "freebsd"))]
const SYSLOG_SOCKETS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];
/// FreeBSD's syslogd serves `/var/run/log` (0666) and `/var/run/logpriv` (0600, root
/// only); there is no `/dev/log` (freebsd.md §6). Every reconnect attempt after the
/// sandbox point is a broker round trip, so only the one that can exist is tried.
#[cfg(target_os = "freebsd")]
const SYSLOG_SOCKETS: [&str; 1] = ["/var/run/log"];

/// The program name in syslog lines.
const SYSLOG_TAG: &str = "wrend";

// ===================================================================================
// Configuration
// ===================================================================================

/// One output of a logger (`output_options[].output`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputSpec {
    /// `stdout`.
    Stdout,
    /// `stderr`.
    Stderr,
    /// `syslog` or `syslog:<facility>`.
    Syslog {
        /// Facility, already shifted (`LOG_DAEMON` = 3 << 3 = 24), as `syslog::Facility as u8`.
        facility: u8,
        /// The syslogd socket; `None` = the platform's (`/dev/log`, `/var/run/log`).
        socket: Option<PathBuf>,
    },
    /// A file path.
    File(PathBuf),
}

impl OutputSpec {
    /// Parses a Kea `output` value. An unknown `syslog:<name>` facility gives `daemon` and
    /// `Err` with the name, for a warning.
    pub fn parse(output: &str) -> (OutputSpec, Option<String>) {
        match output {
            "stdout" => (OutputSpec::Stdout, None),
            "stderr" => (OutputSpec::Stderr, None),
            "syslog" | "syslog:" => (
                OutputSpec::Syslog {
                    facility: Facility::LOG_DAEMON as u8,
                    socket: None,
                },
                None,
            ),
            _ => match output.strip_prefix("syslog:") {
                Some(name) => match Facility::from_str(name) {
                    Ok(facility) => (
                        OutputSpec::Syslog {
                            facility: facility as u8,
                            socket: None,
                        },
                        None,
                    ),
                    Err(()) => (
                        OutputSpec::Syslog {
                            facility: Facility::LOG_DAEMON as u8,
                            socket: None,
                        },
                        Some(name.to_string()),
                    ),
                },
                None => (OutputSpec::File(PathBuf::from(output)), None),
            },
        }
    }
}

/// One `loggers` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggerSpec {
    /// `kea-dhcp4` or `kea-dhcp4.<sub>`.
    pub name: String,
    /// `severity`.
    pub severity: Severity,
    /// `debuglevel` (0–99).
    pub debuglevel: u8,
    /// Outputs.
    pub outputs: Vec<OutputSpec>,
}

impl LoggerSpec {
    /// Kea's default: `kea-dhcp4`, INFO, stdout.
    pub fn default_root() -> LoggerSpec {
        LoggerSpec {
            name: ROOT.to_string(),
            severity: Severity::Info,
            debuglevel: 0,
            outputs: vec![OutputSpec::Stdout],
        }
    }

    /// The most verbose `log` level this entry lets through.
    pub fn level_filter(&self) -> LevelFilter {
        match self.severity {
            Severity::None => LevelFilter::Off,
            Severity::Fatal | Severity::Error => LevelFilter::Error,
            Severity::Warn => LevelFilter::Warn,
            Severity::Info => LevelFilter::Info,
            Severity::Debug if self.debuglevel >= 50 => LevelFilter::Trace,
            Severity::Debug if self.debuglevel >= 40 => LevelFilter::Debug,
            Severity::Debug => LevelFilter::Info,
        }
    }
}

/// The `loggers` of a configuration as specs (the default when there are none). Unknown
/// syslog facility names are returned for a warning.
pub fn specs_from_config(config: &Config<'_>) -> (Vec<LoggerSpec>, Vec<String>) {
    let mut specs = Vec::with_capacity(config.loggers.len());
    let mut unknown = Vec::new();
    for logger in config.loggers {
        let names = config.names.get(logger.outputs.as_range()).unwrap_or(&[]);
        let mut outputs = Vec::with_capacity(names.len());
        for &n in names {
            let (spec, bad) = OutputSpec::parse(config.str(n));
            outputs.extend(Some(spec));
            unknown.extend(bad);
        }
        if outputs.is_empty() {
            // Kea: an entry without output_options logs to stdout... of the root's default.
            outputs.push(OutputSpec::Stdout);
        }
        specs.push(LoggerSpec {
            name: config.str(logger.name).to_string(),
            severity: logger.severity,
            debuglevel: logger.debuglevel,
            outputs,
        });
    }
    if !specs.iter().any(|s| s.name == ROOT) {
        // Kea's root logger keeps its default when only children are configured.
        specs.push(LoggerSpec::default_root());
    }
    (specs, unknown)
}

/// Forces DEBUG/99 on every entry (`-d`).
pub fn force_debug(specs: &mut [LoggerSpec]) {
    for s in specs {
        s.severity = Severity::Debug;
        s.debuglevel = 99;
    }
}

/// Why the logging configuration could not be applied.
#[derive(Debug)]
pub enum LogError {
    /// A log file could not be opened.
    OpenFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::OpenFile { path, source } => {
                write!(f, "cannot open log file {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for LogError {}

// ===================================================================================
// Outputs
// ===================================================================================

/// How a syslog socket is connected: a `connect(2)` of a new datagram socket unless the
/// daemon installs another way with [`set_syslog_connector`].
type SyslogConnector = Box<dyn Fn(&Path) -> io::Result<UnixDatagram> + Send + Sync>;

static SYSLOG_CONNECTOR: std::sync::OnceLock<SyslogConnector> = std::sync::OnceLock::new();

/// Installs how syslog sockets are (re)connected, once per process. Under Capsicum
/// `connect(2)` fails after `cap_enter` (freebsd.md §2), so a sandboxed daemon passes a
/// function that asks its unsandboxed broker for a connected socket (SCM_RIGHTS). Returns
/// false if one was already installed.
pub fn set_syslog_connector(
    connector: impl Fn(&Path) -> io::Result<UnixDatagram> + Send + Sync + 'static,
) -> bool {
    SYSLOG_CONNECTOR.set(Box::new(connector)).is_ok()
}

/// A syslog connection that reconnects after syslogd restarts.
struct SyslogSink {
    facility: u8,
    /// The configured socket, or `None` for the platform's.
    socket_path: Option<PathBuf>,
    socket: Option<UnixDatagram>,
    last_attempt: Option<Instant>,
    /// Lines lost to send errors or a full socket.
    dropped: u64,
}

impl SyslogSink {
    fn new(facility: u8, socket_path: Option<PathBuf>) -> SyslogSink {
        let mut sink = SyslogSink {
            facility,
            socket_path,
            socket: None,
            last_attempt: None,
            dropped: 0,
        };
        sink.connect(Instant::now());
        sink
    }

    fn connect(&mut self, now: Instant) -> bool {
        self.last_attempt = Some(now);
        self.socket = None;
        let candidates: Vec<&Path> = match &self.socket_path {
            Some(p) => vec![p.as_path()],
            None => SYSLOG_SOCKETS.iter().map(Path::new).collect(),
        };
        for path in candidates {
            let connected = match SYSLOG_CONNECTOR.get() {
                Some(connector) => connector(path),
                None => UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s)),
            };
            if let Ok(sock) = connected {
                if sock.set_nonblocking(true).is_ok() {
                    self.socket = Some(sock);
                    return true;
                }
            }
        }
        false
    }

    fn send(&mut self, datagram: &[u8], now: Instant) {
        if let Some(sock) = &self.socket {
            match sock.send(datagram) {
                Ok(_) => return,
                // syslogd is slow: drop the line rather than block DHCP service.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.dropped += 1;
                    return;
                }
                Err(_) => {}
            }
        }
        let due = match self.last_attempt {
            None => true,
            Some(t) => now.duration_since(t) >= SYSLOG_RECONNECT_INTERVAL,
        };
        if due && self.connect(now) {
            if let Some(sock) = &self.socket {
                if sock.send(datagram).is_ok() {
                    return;
                }
            }
        }
        self.dropped += 1;
    }
}

enum Sink {
    Stdout,
    Stderr,
    Syslog(SyslogSink),
    /// An open log file and the name it was configured as.
    File(File, PathBuf),
}

struct Entry {
    name: String,
    filter: LevelFilter,
    sinks: Vec<Sink>,
}

/// The configured loggers with their open outputs: what [`WrenLogger`] holds.
pub struct Loggers {
    entries: Vec<Entry>,
    pid: u32,
    clock: LocalClock,
}

impl fmt::Debug for Loggers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loggers")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Loggers {
    /// Opens the outputs of `specs`.
    pub fn open(specs: &[LoggerSpec]) -> Result<Loggers, LogError> {
        Loggers::open_after(specs, None, &mut Vec::new())
    }

    /// The open file of `previous` configured as `path`, duplicated (`dup` works in
    /// capability mode).
    fn reuse_file(previous: Option<&Loggers>, path: &Path) -> Option<File> {
        previous?
            .entries
            .iter()
            .flat_map(|e| e.sinks.iter())
            .find_map(|sink| match sink {
                Sink::File(f, p) if p == path => f.try_clone().ok(),
                _ => None,
            })
    }

    /// Opens the outputs of `specs` on a reload. A log file that can no longer be opened
    /// for lack of permission — typically created by root before the privilege drop, or
    /// in a directory not opened before the sandbox point — keeps the descriptor
    /// `previous` holds for the same name (a note says so), rather than failing the whole
    /// logger configuration.
    fn open_after(
        specs: &[LoggerSpec],
        previous: Option<&Loggers>,
        notes: &mut Vec<String>,
    ) -> Result<Loggers, LogError> {
        let mut entries = Vec::with_capacity(specs.len());
        for spec in specs {
            let mut sinks = Vec::with_capacity(spec.outputs.len());
            for out in &spec.outputs {
                sinks.push(match out {
                    OutputSpec::Stdout => Sink::Stdout,
                    OutputSpec::Stderr => Sink::Stderr,
                    OutputSpec::Syslog { facility, socket } => {
                        Sink::Syslog(SyslogSink::new(*facility, socket.clone()))
                    }
                    // Through the directory table: a reload reopens it after the sandbox
                    // point (crate::sandbox::dirs).
                    OutputSpec::File(path) => match crate::sandbox::dirs::open_append(path) {
                        Ok(file) => Sink::File(file, path.clone()),
                        Err(source) => match Loggers::reuse_file(previous, path)
                            .filter(|_| source.kind() == io::ErrorKind::PermissionDenied)
                        {
                            Some(file) => {
                                notes.push(format!(
                                    "{}: cannot reopen ({source}); still writing to the file \
                                     opened before",
                                    path.display()
                                ));
                                Sink::File(file, path.clone())
                            }
                            None => {
                                return Err(LogError::OpenFile {
                                    path: path.clone(),
                                    source,
                                })
                            }
                        },
                    },
                });
            }
            entries.push(Entry {
                name: spec.name.clone(),
                filter: spec.level_filter(),
                sinks,
            });
        }
        Ok(Loggers {
            entries,
            pid: std::process::id(),
            clock: LocalClock::default(),
        })
    }

    /// The most verbose level any entry lets through (for `log::set_max_level`).
    pub fn max_level(&self) -> LevelFilter {
        self.entries
            .iter()
            .map(|e| e.filter)
            .max()
            .unwrap_or(LevelFilter::Off)
    }

    /// The entry for a target: exact name, else the root, else none.
    fn entry_index(&self, target: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.name == target)
            .or_else(|| self.entries.iter().position(|e| e.name == ROOT))
    }

    fn enabled(&self, level: Level, target: &str) -> bool {
        self.entry_index(target)
            .and_then(|i| self.entries.get(i))
            .is_some_and(|e| level <= e.filter)
    }

    /// Formats and writes one record: `now` stamps the line, `mono` paces syslog
    /// reconnection.
    pub fn log_at(&mut self, record: &Record<'_>, now: SystemTime, mono: Instant) {
        let Some(index) = self.entry_index(record.target()) else {
            return;
        };
        let target = record.target();
        let logger_name = if target == ROOT || target.starts_with("kea-dhcp4.") {
            target
        } else {
            ROOT
        };
        let (secs, millis) = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
            Err(_) => (0, 0),
        };
        let tm = self.clock.at(secs);
        let pid = self.pid;
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        if record.level() > entry.filter {
            return;
        }
        let mut console: Option<LineBuf> = None;
        for sink in &mut entry.sinks {
            match sink {
                Sink::Stdout | Sink::Stderr | Sink::File(..) => {
                    let line = console.get_or_insert_with(|| {
                        let mut l = LineBuf::new();
                        let _ = write!(
                            l,
                            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} {:<5} [{}/{}.{}] {}",
                            tm.year,
                            tm.month,
                            tm.day,
                            tm.hour,
                            tm.minute,
                            tm.second,
                            millis,
                            severity_word(record.level()),
                            logger_name,
                            pid,
                            pid,
                            record.args()
                        );
                        l.finish_line();
                        l
                    });
                    let bytes = line.as_bytes();
                    let _ = match sink {
                        Sink::Stdout => io::stdout().lock().write_all(bytes),
                        Sink::Stderr => io::stderr().lock().write_all(bytes),
                        Sink::File(f, _) => f.write_all(bytes),
                        Sink::Syslog(_) => Ok(()),
                    };
                }
                Sink::Syslog(s) => {
                    let mut l = LineBuf::new();
                    let _ = write!(
                        l,
                        "<{}>{} {:>2} {:02}:{:02}:{:02} {}[{}]: {:<5} [{}.{}] {}",
                        s.facility | syslog_severity(record.level()),
                        MONTHS
                            .get(usize::from(tm.month.saturating_sub(1)))
                            .unwrap_or(&"Jan"),
                        tm.day,
                        tm.hour,
                        tm.minute,
                        tm.second,
                        SYSLOG_TAG,
                        pid,
                        severity_word(record.level()),
                        logger_name,
                        pid,
                        record.args()
                    );
                    s.send(l.as_bytes(), mono);
                }
            }
        }
    }

    fn flush(&mut self) {
        for e in &mut self.entries {
            for s in &mut e.sinks {
                let _ = match s {
                    Sink::Stdout => io::stdout().flush(),
                    Sink::Stderr => io::stderr().flush(),
                    Sink::File(f, _) => f.flush(),
                    Sink::Syslog(_) => Ok(()),
                };
            }
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Kea's `%p` word (FATAL is not a `log` level; Kea's fatal messages are logged as ERROR).
fn severity_word(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARN",
        Level::Info => "INFO",
        Level::Debug | Level::Trace => "DEBUG",
    }
}

/// syslog(3) severity, as log4cplus's SysLogAppender maps Kea's levels.
fn syslog_severity(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// A line being formatted in a fixed buffer.
struct LineBuf {
    buf: [u8; LINE_MAX],
    len: usize,
    truncated: bool,
}

impl LineBuf {
    fn new() -> LineBuf {
        LineBuf {
            buf: [0; LINE_MAX],
            len: 0,
            truncated: false,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Ends the line with `\n` (marking a cut line with `...`).
    fn finish_line(&mut self) {
        if self.truncated || self.len >= LINE_MAX {
            self.len = LINE_MAX.saturating_sub(4);
            let tail = b"...\n";
            if let Some(dst) = self.buf.get_mut(self.len..self.len + tail.len()) {
                dst.copy_from_slice(tail);
                self.len += tail.len();
            }
        } else if let Some(b) = self.buf.get_mut(self.len) {
            *b = b'\n';
            self.len += 1;
        }
    }
}

impl fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_MAX.saturating_sub(self.len);
        let take = s.len().min(room);
        if take < s.len() {
            self.truncated = true;
        }
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            dst.copy_from_slice(src);
            self.len += take;
        }
        Ok(())
    }
}

/// Broken-down local time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct LocalTime {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

/// Local time, converted once per second.
#[derive(Default)]
struct LocalClock {
    cached: Option<(i64, LocalTime)>,
}

impl LocalClock {
    fn at(&mut self, secs: i64) -> LocalTime {
        if let Some((s, t)) = self.cached {
            if s == secs {
                return t;
            }
        }
        let t = local_time(secs);
        self.cached = Some((secs, t));
        t
    }
}

/// `localtime_r(3)`: the C library applies TZ and the zone files, which no crate we use does
/// soundly (the `time` crate refuses local offsets in multi-threaded processes).
// The libc crate marks musl's `time_t` alias deprecated (it announces musl 1.2's 64-bit
// `time_t` on 32-bit targets); the alias is still the type `localtime_r` takes.
#[cfg_attr(target_env = "musl", allow(deprecated))]
fn local_time(secs: i64) -> LocalTime {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: `tm` is plain old data that `localtime_r` fills in; both pointers are valid
    // for the duration of the call and `localtime_r` is thread-safe (it keeps no shared
    // result buffer).
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return LocalTime::default();
        }
        tm
    };
    LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1).clamp(1, 12) as u8,
        day: tm.tm_mday.clamp(1, 31) as u8,
        hour: tm.tm_hour.clamp(0, 23) as u8,
        minute: tm.tm_min.clamp(0, 59) as u8,
        second: tm.tm_sec.clamp(0, 60) as u8,
    }
}

// ===================================================================================
// The global logger
// ===================================================================================

/// The process logger: `log::Log` over the configured [`Loggers`].
pub struct WrenLogger {
    loggers: Mutex<Option<Loggers>>,
}

static LOGGER: WrenLogger = WrenLogger {
    loggers: Mutex::new(None),
};

impl Log for WrenLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        match self.loggers.lock() {
            Ok(g) => g
                .as_ref()
                .is_some_and(|l| l.enabled(metadata.level(), metadata.target())),
            Err(_) => false,
        }
    }

    fn log(&self, record: &Record<'_>) {
        if let Ok(mut g) = self.loggers.lock() {
            if let Some(l) = g.as_mut() {
                l.log_at(record, SystemTime::now(), Instant::now());
            }
        }
    }

    fn flush(&self) {
        if let Ok(mut g) = self.loggers.lock() {
            if let Some(l) = g.as_mut() {
                l.flush();
            }
        }
    }
}

/// Installs the logger with Kea's default (INFO to stdout; DEBUG/99 with `-d`). Call once at
/// start, before the configuration is read; later calls only reset the outputs.
pub fn init(debug: bool) {
    let mut specs = vec![LoggerSpec::default_root()];
    if debug {
        force_debug(&mut specs);
    }
    // Stdout cannot fail to open.
    let _ = install(&specs);
}

/// Applies a configuration's `loggers` (start and every reload). On error the previous
/// outputs stay in place and the error says which output failed.
pub fn configure(config: &Config<'_>, debug: bool) -> Result<(), LogError> {
    let (mut specs, unknown) = specs_from_config(config);
    if debug {
        force_debug(&mut specs);
    }
    let mut notes = Vec::new();
    install_noting(&specs, &mut notes)?;
    for note in notes {
        emit(
            Level::Warn,
            TARGET_DHCP4,
            format_args!("WREN_LOG_FILE_KEPT {}", Sanitized(&note)),
        );
    }
    for name in unknown {
        emit(
            Level::Warn,
            TARGET_DHCP4,
            format_args!(
                "WREN_LOG_SYSLOG_FACILITY unknown syslog facility '{}', using daemon",
                Sanitized(&name)
            ),
        );
    }
    Ok(())
}

/// Opens `specs` and makes them the process's outputs.
pub fn install(specs: &[LoggerSpec]) -> Result<(), LogError> {
    install_noting(specs, &mut Vec::new())
}

/// [`install`], keeping a previous log file's descriptor where the file cannot be
/// reopened (see [`Loggers::open_after`]); `notes` says where.
fn install_noting(specs: &[LoggerSpec], notes: &mut Vec<String>) -> Result<(), LogError> {
    let max = {
        let mut guard = LOGGER.loggers.lock().ok();
        let previous = guard.as_deref().and_then(Option::as_ref);
        let loggers = Loggers::open_after(specs, previous, notes)?;
        let max = loggers.max_level();
        if let Some(g) = guard.as_mut() {
            **g = Some(loggers);
        }
        max
    };
    // Fails only when another logger was installed first (tests); then ours is not active.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(max);
    Ok(())
}

// ===================================================================================
// Kea messages
// ===================================================================================

/// Sends one Kea message through `log` (and, in tests, to the calling thread's capture).
fn emit(level: Level, target: &str, message: fmt::Arguments<'_>) {
    #[cfg(test)]
    tests::capture(level, target, &message);
    log::log!(target: target, level, "{message}");
}

/// Text from the network or a file, with control characters shown as `\xNN` so a client
/// cannot forge log lines.
#[derive(Clone, Copy, Debug)]
pub struct Sanitized<'a>(pub &'a str);

impl fmt::Display for Sanitized<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "\\x{:02x}", u32::from(c) & 0xff)?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Bytes as Kea prints hardware addresses and client ids: lowercase hex joined by `:`.
#[derive(Clone, Copy, Debug)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(':')?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Kea's client label (`Pkt4::getLabel`):
/// `[hwtype=1 02:aa:bb:cc:dd:ee], cid=[01:02:aa:bb:cc:dd:ee], tid=0x1234abcd`; `cid=[no info]`
/// without option 61. wren adds `, hostname=<name>` when the client has one.
#[derive(Clone, Copy, Debug)]
pub struct ClientLabel<'a> {
    /// `htype`.
    pub htype: u8,
    /// `chaddr` (first `hlen` bytes).
    pub hwaddr: &'a [u8],
    /// Option 61 payload; empty if absent.
    pub client_id: &'a [u8],
    /// `xid`.
    pub xid: u32,
    /// The client's hostname (option 12 / 81 / reservation); empty if none.
    pub hostname: &'a str,
}

impl fmt::Display for ClientLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[hwtype={} {}], cid=[", self.htype, Hex(self.hwaddr))?;
        if self.client_id.is_empty() {
            f.write_str("no info")?;
        } else {
            write!(f, "{}", Hex(self.client_id))?;
        }
        write!(f, "], tid=0x{:x}", self.xid)?;
        if !self.hostname.is_empty() {
            write!(f, ", hostname={}", Sanitized(self.hostname))?;
        }
        Ok(())
    }
}

/// Kea's `Lease::lifetimeToText`: `infinity` for 0xffffffff.
#[derive(Clone, Copy, Debug)]
pub struct Lifetime(pub u32);

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == u32::MAX {
            f.write_str("infinity")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// `WREN_PACKET_TRACE` (packets): one packet, its decision and reply
/// ([`crate::trace`]); DEBUG when the logger asked for it, INFO when `wren-trace` did.
pub fn packet_trace(level: Level, line: &str) {
    emit(
        level,
        TARGET_PACKETS,
        format_args!("WREN_PACKET_TRACE {line}"),
    );
}

/// `DHCP4_LEASE_ALLOC` (INFO, leases): an ACK granted a lease.
pub fn lease_alloc(client: &ClientLabel<'_>, address: Ipv4Addr, lifetime: u32) {
    emit(
        Level::Info,
        TARGET_LEASES,
        format_args!(
            "DHCP4_LEASE_ALLOC {client}: lease {address} has been allocated for {} seconds",
            Lifetime(lifetime)
        ),
    );
}

/// `DHCP4_LEASE_ADVERT` (INFO, leases): an OFFER.
pub fn lease_advert(client: &ClientLabel<'_>, address: Ipv4Addr) {
    emit(
        Level::Info,
        TARGET_LEASES,
        format_args!("DHCP4_LEASE_ADVERT {client}: lease {address} will be advertised"),
    );
}

/// `DHCP4_LEASE_REUSE` (INFO, leases): a renewal within the cache threshold.
pub fn lease_reuse(client: &ClientLabel<'_>, address: Ipv4Addr, lifetime: u32) {
    emit(
        Level::Info,
        TARGET_LEASES,
        format_args!(
            "DHCP4_LEASE_REUSE {client}: lease {address} has been reused for {} seconds",
            Lifetime(lifetime)
        ),
    );
}

/// `DHCP4_RELEASE` (INFO, leases).
pub fn release(client: &ClientLabel<'_>, address: Ipv4Addr) {
    emit(
        Level::Info,
        TARGET_LEASES,
        format_args!("DHCP4_RELEASE {client}: address {address} was released properly."),
    );
}

/// `DHCP4_DECLINE_LEASE` (INFO, leases): the address is held for `probation` seconds.
pub fn decline_lease(client: &ClientLabel<'_>, address: Ipv4Addr, probation: u32) {
    emit(Level::Info, TARGET_LEASES, format_args!("DHCP4_DECLINE_LEASE Received DHCPDECLINE for addr {address} from client {client}. The lease will be unavailable for {probation} seconds."));
}

/// `DHCP4_PACKET_NAK_0001` (ERROR, bad-packets): no subnet for a REQUEST. `src` is the
/// query's source address, `msg_type` its name (`DHCPREQUEST`).
pub fn nak_no_subnet(client: &ClientLabel<'_>, src: Ipv4Addr, msg_type: &str) {
    emit(Level::Error, TARGET_BAD_PACKETS, format_args!("DHCP4_PACKET_NAK_0001 {client}: failed to select a subnet for incoming packet, src {src}, type {msg_type}"));
}

/// `DHCP4_PACKET_NAK_0002` (DEBUG 50, bad-packets): INIT-REBOOT asked for a wrong address.
pub fn nak_init_reboot(client: &ClientLabel<'_>, requested: Ipv4Addr) {
    emit(
        Level::Trace,
        TARGET_BAD_PACKETS,
        format_args!(
            "DHCP4_PACKET_NAK_0002 {client}: invalid address {requested} requested by INIT-REBOOT"
        ),
    );
}

/// `DHCP4_PACKET_NAK_0004` (DEBUG 50, bad-packets): a REQUEST could not be granted.
pub fn nak_grant_failed(client: &ClientLabel<'_>, ciaddr: Ipv4Addr, requested: Option<Ipv4Addr>) {
    emit(Level::Trace, TARGET_BAD_PACKETS, format_args!("DHCP4_PACKET_NAK_0004 {client}: failed to grant a lease, client sent ciaddr {ciaddr}, requested-ip-address {}",
        RequestedAddress(requested)));
}

/// `DHCP4_PACKET_NAK_0003` (DEBUG 50, bad-packets): a DISCOVER could not be offered.
pub fn nak_advertise_failed(
    client: &ClientLabel<'_>,
    ciaddr: Ipv4Addr,
    requested: Option<Ipv4Addr>,
) {
    emit(Level::Trace, TARGET_BAD_PACKETS, format_args!("DHCP4_PACKET_NAK_0003 {client}: failed to advertise a lease, client sent ciaddr {ciaddr}, requested-ip-address {}",
        RequestedAddress(requested)));
}

/// `DHCP4_STARTING` (INFO, dhcp4).
pub fn starting(version: &str, extended: &str) {
    emit(
        Level::Info,
        TARGET_DHCP4,
        format_args!("DHCP4_STARTING Kea DHCPv4 server version {version} ({extended}) starting"),
    );
}

/// `DHCP4_STARTED` (INFO, dhcp4).
pub fn started(version: &str) {
    emit(
        Level::Info,
        TARGET_DHCP4,
        format_args!("DHCP4_STARTED Kea DHCPv4 server version {version} started"),
    );
}

/// `DHCP4_SHUTDOWN_REQUEST` (INFO, dhcp4): SIGTERM/SIGINT or `shutdown`.
pub fn shutdown_request() {
    emit(
        Level::Info,
        TARGET_DHCP4,
        format_args!("DHCP4_SHUTDOWN_REQUEST shutdown of server requested"),
    );
}

/// `DHCP4_SHUTDOWN` (INFO, dhcp4).
pub fn shutdown() {
    emit(
        Level::Info,
        TARGET_DHCP4,
        format_args!("DHCP4_SHUTDOWN server shutdown"),
    );
}

/// `DHCP4_CONFIG_COMPLETE` (INFO, dhcp4), e.g. `"10 subnets, 2 shared networks"`.
pub fn config_complete(summary: &str) {
    emit(
        Level::Info,
        TARGET_DHCP4,
        format_args!("DHCP4_CONFIG_COMPLETE DHCPv4 server has completed configuration: {summary}"),
    );
}

/// `DHCP4_CONFIG_LOAD_FAIL` (ERROR, dhcp4): any configuration error, at start or reload.
pub fn config_load_fail(file: &Path, reason: &dyn fmt::Display) {
    emit(
        Level::Error,
        TARGET_DHCP4,
        format_args!(
            "DHCP4_CONFIG_LOAD_FAIL configuration error using file: {}, reason: {reason}",
            file.display()
        ),
    );
}

/// `DHCP4_DYNAMIC_RECONFIGURATION` (INFO, dhcp4): SIGHUP or `config-reload`.
pub fn dynamic_reconfiguration(file: &Path) {
    emit(Level::Info, TARGET_DHCP4, format_args!("DHCP4_DYNAMIC_RECONFIGURATION initiate server reconfiguration using file: {}, after receiving SIGHUP signal or config-reload command",
        file.display()));
}

/// `DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS` (INFO, dhcp4).
pub fn dynamic_reconfiguration_success(file: &Path) {
    emit(Level::Info, TARGET_DHCP4, format_args!("DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS dynamic server reconfiguration succeeded with file: {}",
        file.display()));
}

/// `DHCP4_DYNAMIC_RECONFIGURATION_FAIL` (ERROR, dhcp4).
pub fn dynamic_reconfiguration_fail(file: &Path) {
    emit(Level::Error, TARGET_DHCP4, format_args!("DHCP4_DYNAMIC_RECONFIGURATION_FAIL dynamic server reconfiguration failed with file: {}",
        file.display()));
}

/// `WREN_LEASE_SYNC_FAIL` (ERROR, dhcpsrv): a journal batch could not be made durable; its
/// `replies` were dropped.
pub fn lease_sync_fail(error: &dyn fmt::Display, replies: usize) {
    emit(
        Level::Error,
        TARGET_DHCPSRV,
        format_args!(
            "WREN_LEASE_SYNC_FAIL writing leases failed, {replies} replies dropped: {error}"
        ),
    );
}

/// `DHCPSRV_MEMFILE_DB` (INFO, dhcpsrv).
pub fn memfile_db(path: &Path) {
    emit(Level::Info, TARGET_DHCPSRV, format_args!("DHCPSRV_MEMFILE_DB opening memory file lease database: type=memfile universe=4 name={}",
        path.display()));
}

/// `DHCPSRV_MEMFILE_NO_STORAGE` (WARN, dhcpsrv): `persist` is false.
pub fn memfile_no_storage() {
    emit(Level::Warn, TARGET_DHCPSRV, format_args!("DHCPSRV_MEMFILE_NO_STORAGE running in non-persistent mode, leases will be lost after restart"));
}

/// `DHCPSRV_MEMFILE_LEASE_FILE_LOAD` (INFO, dhcpsrv).
pub fn memfile_file_load(path: &Path) {
    emit(
        Level::Info,
        TARGET_DHCPSRV,
        format_args!(
            "DHCPSRV_MEMFILE_LEASE_FILE_LOAD loading leases from file {}",
            path.display()
        ),
    );
}

/// `DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR` (ERROR, dhcpsrv): `row` is the data row number.
pub fn memfile_row_error(row: u64, reason: &str) {
    emit(
        Level::Error,
        TARGET_DHCPSRV,
        format_args!(
            "DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR discarding row {row}, error: {}",
            Sanitized(reason)
        ),
    );
}

/// `DHCPSRV_MEMFILE_NEEDS_UPGRADING`/`_DOWNGRADING` (WARN, dhcpsrv): a file of another schema.
pub fn memfile_needs_conversion(path: &Path, header: &[u8]) {
    let columns = header.split(|&b| b == b',').count();
    let (id, relation) = if columns < 11 {
        ("DHCPSRV_MEMFILE_NEEDS_UPGRADING", "earlier")
    } else {
        ("DHCPSRV_MEMFILE_NEEDS_DOWNGRADING", "later")
    };
    emit(
        Level::Warn,
        TARGET_DHCPSRV,
        format_args!(
            "{id} version of lease file: {} schema is {relation} than version 2.1",
            path.display()
        ),
    );
}

/// Kea's reason text of a failed lease sanity check.
struct SanityReason(Option<u32>);

impl fmt::Display for SanityReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "the lease should have subnet-id {id}"),
            None => f.write_str("the lease IP address did not belong to a configured subnet"),
        }
    }
}

/// `DHCPSRV_LEASE_SANITY_FAIL` (WARN, dhcpsrv): a loaded lease's subnet id does not fit and
/// `lease-checks` is `warn` (or `fix` found no subnet); `should` is the subnet containing the
/// address, if any.
pub fn lease_sanity_fail(address: Ipv4Addr, subnet_id: u32, should: Option<u32>) {
    emit(Level::Warn, TARGET_DHCPSRV, format_args!("DHCPSRV_LEASE_SANITY_FAIL The lease {address} with subnet-id {subnet_id} failed subnet-id checks ({})."
        , SanityReason(should)));
}

/// `DHCPSRV_LEASE_SANITY_FIXED` (INFO, dhcpsrv).
pub fn lease_sanity_fixed(address: Ipv4Addr, from: u32, to: u32) {
    emit(Level::Info, TARGET_DHCPSRV, format_args!("DHCPSRV_LEASE_SANITY_FIXED The lease {address} with subnet-id {from} failed subnet-id checks, but was corrected to subnet-id {to}."));
}

/// `DHCPSRV_LEASE_SANITY_FAIL_DISCARD` (INFO, dhcpsrv).
pub fn lease_sanity_discard(address: Ipv4Addr, subnet_id: u32, should: Option<u32>) {
    emit(Level::Info, TARGET_DHCPSRV, format_args!("DHCPSRV_LEASE_SANITY_FAIL_DISCARD The lease {address} with subnet-id {subnet_id} failed subnet-id checks ({}) and was dropped."
        , SanityReason(should)));
}

/// `DHCPSRV_MEMFILE_LFC_SETUP` (INFO, dhcpsrv): compaction every `seconds` (not logged by
/// Kea when `lfc-interval` is 0).
pub fn memfile_lfc_setup(seconds: u32) {
    emit(
        Level::Info,
        TARGET_DHCPSRV,
        format_args!(
            "DHCPSRV_MEMFILE_LFC_SETUP setting up the Lease File Cleanup interval to {seconds} sec"
        ),
    );
}

/// `DHCPSRV_MEMFILE_LFC_START` (INFO, dhcpsrv).
pub fn memfile_lfc_start() {
    emit(
        Level::Info,
        TARGET_DHCPSRV,
        format_args!("DHCPSRV_MEMFILE_LFC_START starting Lease File Cleanup"),
    );
}

/// `WREN_MEMFILE_LFC_DONE` (INFO, dhcpsrv): compaction finished.
pub fn memfile_lfc_done(report: &crate::lease_file::CompactionReport) {
    emit(Level::Info, TARGET_DHCPSRV, format_args!("WREN_MEMFILE_LFC_DONE lease file cleanup wrote {} leases ({} bytes): {} ms formatting, {} ms writing",
        report.leases,
        report.bytes,
        report.format_time.as_millis(),
        report.io_time.as_millis()));
}

/// `WREN_MEMFILE_LFC_FAIL` (ERROR, dhcpsrv): compaction failed; the file set is unchanged
/// or still loadable (see `lease_file`), and the next tick retries.
pub fn memfile_lfc_fail(error: &dyn fmt::Display) {
    emit(
        Level::Error,
        TARGET_DHCPSRV,
        format_args!("WREN_MEMFILE_LFC_FAIL lease file cleanup failed: {error}"),
    );
}

struct RequestedAddress(Option<Ipv4Addr>);

impl fmt::Display for RequestedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("(no address)"),
        }
    }
}

#[cfg(test)]
mod tests;
