//! Tests of the logger: Kea message texts, line layouts, level selection, syslog datagrams
//! and reconnection.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

// ----- capturing the message helpers -----

thread_local! {
    static CAPTURED: RefCell<Vec<(Level, String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Called by `emit`: records the calling thread's messages, whatever logger the process
/// has, so parallel tests see only their own.
pub(super) fn capture(level: Level, target: &str, message: &fmt::Arguments<'_>) {
    CAPTURED.with(|c| {
        c.borrow_mut()
            .push((level, target.to_string(), message.to_string()))
    });
}

fn captured(f: impl FnOnce()) -> Vec<(Level, String, String)> {
    CAPTURED.with(|c| c.borrow_mut().clear());
    f();
    CAPTURED.with(|c| c.borrow_mut().drain(..).collect())
}

fn one(f: impl FnOnce()) -> (Level, String, String) {
    let mut v = captured(f);
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

/// A message helper call, its level, target and text.
type Case = (Box<dyn Fn()>, Level, &'static str, String);

const HW: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
const CID: [u8; 7] = [0x01, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];

fn client<'a>(hostname: &'a str) -> ClientLabel<'a> {
    ClientLabel {
        htype: 1,
        hwaddr: &HW,
        client_id: &CID,
        xid: 0x1234_abcd,
        hostname,
    }
}

const ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 20);

#[test]
fn client_label_matches_kea() {
    assert_eq!(
        client("").to_string(),
        "[hwtype=1 02:aa:bb:cc:dd:ee], cid=[01:02:aa:bb:cc:dd:ee], tid=0x1234abcd"
    );
    assert_eq!(
        client("lap-mc").to_string(),
        "[hwtype=1 02:aa:bb:cc:dd:ee], cid=[01:02:aa:bb:cc:dd:ee], tid=0x1234abcd, hostname=lap-mc"
    );
    let no_cid = ClientLabel {
        client_id: &[],
        xid: 0x1,
        ..client("")
    };
    // Kea prints the xid without leading zeros.
    assert_eq!(
        no_cid.to_string(),
        "[hwtype=1 02:aa:bb:cc:dd:ee], cid=[no info], tid=0x1"
    );
}

#[test]
fn lease_messages_match_kea_catalogue() {
    let c = client("lap-mc");
    let label = c.to_string();
    let cases: Vec<Case> = vec![
        (
            Box::new(move || lease_alloc(&c, ADDR, 172_800)),
            Level::Info,
            TARGET_LEASES,
            format!("DHCP4_LEASE_ALLOC {label}: lease 198.18.0.20 has been allocated for 172800 seconds"),
        ),
        (
            Box::new(move || lease_alloc(&c, ADDR, u32::MAX)),
            Level::Info,
            TARGET_LEASES,
            format!("DHCP4_LEASE_ALLOC {label}: lease 198.18.0.20 has been allocated for infinity seconds"),
        ),
        (
            Box::new(move || lease_advert(&c, ADDR)),
            Level::Info,
            TARGET_LEASES,
            format!("DHCP4_LEASE_ADVERT {label}: lease 198.18.0.20 will be advertised"),
        ),
        (
            Box::new(move || lease_reuse(&c, ADDR, 3000)),
            Level::Info,
            TARGET_LEASES,
            format!("DHCP4_LEASE_REUSE {label}: lease 198.18.0.20 has been reused for 3000 seconds"),
        ),
        (
            Box::new(move || release(&c, ADDR)),
            Level::Info,
            TARGET_LEASES,
            format!("DHCP4_RELEASE {label}: address 198.18.0.20 was released properly."),
        ),
        (
            Box::new(move || decline_lease(&c, ADDR, 86_400)),
            Level::Info,
            TARGET_LEASES,
            format!("DHCP4_DECLINE_LEASE Received DHCPDECLINE for addr 198.18.0.20 from client {label}. The lease will be unavailable for 86400 seconds."),
        ),
        (
            Box::new(move || nak_no_subnet(&c, Ipv4Addr::new(198, 18, 5, 1), "DHCPREQUEST")),
            Level::Error,
            TARGET_BAD_PACKETS,
            format!("DHCP4_PACKET_NAK_0001 {label}: failed to select a subnet for incoming packet, src 198.18.5.1, type DHCPREQUEST"),
        ),
        (
            Box::new(move || nak_init_reboot(&c, ADDR)),
            Level::Trace,
            TARGET_BAD_PACKETS,
            format!("DHCP4_PACKET_NAK_0002 {label}: invalid address 198.18.0.20 requested by INIT-REBOOT"),
        ),
        (
            Box::new(move || nak_advertise_failed(&c, Ipv4Addr::UNSPECIFIED, None)),
            Level::Trace,
            TARGET_BAD_PACKETS,
            format!("DHCP4_PACKET_NAK_0003 {label}: failed to advertise a lease, client sent ciaddr 0.0.0.0, requested-ip-address (no address)"),
        ),
        (
            Box::new(move || nak_grant_failed(&c, Ipv4Addr::UNSPECIFIED, Some(ADDR))),
            Level::Trace,
            TARGET_BAD_PACKETS,
            format!("DHCP4_PACKET_NAK_0004 {label}: failed to grant a lease, client sent ciaddr 0.0.0.0, requested-ip-address 198.18.0.20"),
        ),
    ];
    for (f, level, target, text) in cases {
        assert_eq!(one(f), (level, target.to_string(), text));
    }
}

#[test]
fn server_messages_match_kea_catalogue() {
    let file = Path::new("/etc/kea/kea-dhcp4.conf");
    let reason = "unsupported parameter 'foo' (kea-dhcp4.conf:3:5)";
    let cases: Vec<Case> = vec![
        (
            Box::new(|| started("2.2.0")),
            Level::Info,
            TARGET_DHCP4,
            "DHCP4_STARTED Kea DHCPv4 server version 2.2.0 started".into(),
        ),
        (
            Box::new(|| starting("2.2.0", "wren 0.1.0")),
            Level::Info,
            TARGET_DHCP4,
            "DHCP4_STARTING Kea DHCPv4 server version 2.2.0 (wren 0.1.0) starting".into(),
        ),
        (
            Box::new(shutdown_request),
            Level::Info,
            TARGET_DHCP4,
            "DHCP4_SHUTDOWN_REQUEST shutdown of server requested".into(),
        ),
        (
            Box::new(shutdown),
            Level::Info,
            TARGET_DHCP4,
            "DHCP4_SHUTDOWN server shutdown".into(),
        ),
        (
            Box::new(move || config_load_fail(file, &reason)),
            Level::Error,
            TARGET_DHCP4,
            format!("DHCP4_CONFIG_LOAD_FAIL configuration error using file: /etc/kea/kea-dhcp4.conf, reason: {reason}"),
        ),
        (
            Box::new(move || dynamic_reconfiguration(file)),
            Level::Info,
            TARGET_DHCP4,
            "DHCP4_DYNAMIC_RECONFIGURATION initiate server reconfiguration using file: /etc/kea/kea-dhcp4.conf, after receiving SIGHUP signal or config-reload command".into(),
        ),
        (
            Box::new(move || dynamic_reconfiguration_success(file)),
            Level::Info,
            TARGET_DHCP4,
            "DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS dynamic server reconfiguration succeeded with file: /etc/kea/kea-dhcp4.conf".into(),
        ),
        (
            Box::new(move || dynamic_reconfiguration_fail(file)),
            Level::Error,
            TARGET_DHCP4,
            "DHCP4_DYNAMIC_RECONFIGURATION_FAIL dynamic server reconfiguration failed with file: /etc/kea/kea-dhcp4.conf".into(),
        ),
        (
            Box::new(|| memfile_row_error(7, "invalid address")),
            Level::Error,
            TARGET_DHCPSRV,
            "DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR discarding row 7, error: invalid address".into(),
        ),
        (
            Box::new(memfile_no_storage),
            Level::Warn,
            TARGET_DHCPSRV,
            "DHCPSRV_MEMFILE_NO_STORAGE running in non-persistent mode, leases will be lost after restart".into(),
        ),
        (
            Box::new(|| memfile_file_load(Path::new("/var/db/kea/kea-leases4.csv.2"))),
            Level::Info,
            TARGET_DHCPSRV,
            "DHCPSRV_MEMFILE_LEASE_FILE_LOAD loading leases from file /var/db/kea/kea-leases4.csv.2".into(),
        ),
    ];
    for (f, level, target, text) in cases {
        assert_eq!(one(f), (level, target.to_string(), text));
    }
}

#[test]
fn client_text_cannot_forge_lines() {
    let c = client("evil\nDHCP4_FAKE x");
    let (_, _, text) = one(|| release(&c, ADDR));
    assert!(!text.contains('\n'));
    assert!(text.contains("hostname=evil\\x0aDHCP4_FAKE x:"));
    let (_, _, text) = one(|| memfile_row_error(1, "bad\r\nrow"));
    assert!(text.ends_with("error: bad\\x0d\\x0arow"));
}

// ----- configuration -----

#[test]
fn outputs_parse_like_kea() {
    assert_eq!(OutputSpec::parse("stdout"), (OutputSpec::Stdout, None));
    assert_eq!(OutputSpec::parse("stderr"), (OutputSpec::Stderr, None));
    let daemon = OutputSpec::Syslog {
        facility: 3 << 3,
        socket: None,
    };
    assert_eq!(OutputSpec::parse("syslog"), (daemon.clone(), None));
    assert_eq!(OutputSpec::parse("syslog:"), (daemon.clone(), None));
    assert_eq!(
        OutputSpec::parse("syslog:local7"),
        (
            OutputSpec::Syslog {
                facility: 23 << 3,
                socket: None
            },
            None
        )
    );
    assert_eq!(
        OutputSpec::parse("syslog:kea-dhcp4"),
        (daemon, Some("kea-dhcp4".to_string()))
    );
    assert_eq!(
        OutputSpec::parse("/var/log/kea-dhcp4.log"),
        (
            OutputSpec::File(PathBuf::from("/var/log/kea-dhcp4.log")),
            None
        )
    );
}

fn spec(name: &str, severity: Severity, debuglevel: u8) -> LoggerSpec {
    LoggerSpec {
        name: name.to_string(),
        severity,
        debuglevel,
        outputs: Vec::new(),
    }
}

#[test]
fn severities_map_to_levels() {
    let cases = [
        (Severity::None, 0, LevelFilter::Off),
        (Severity::Fatal, 0, LevelFilter::Error),
        (Severity::Error, 0, LevelFilter::Error),
        (Severity::Warn, 0, LevelFilter::Warn),
        (Severity::Info, 99, LevelFilter::Info),
        (Severity::Debug, 0, LevelFilter::Info),
        (Severity::Debug, 39, LevelFilter::Info),
        (Severity::Debug, 40, LevelFilter::Debug),
        (Severity::Debug, 49, LevelFilter::Debug),
        (Severity::Debug, 50, LevelFilter::Trace),
        (Severity::Debug, 99, LevelFilter::Trace),
    ];
    for (severity, level, filter) in cases {
        assert_eq!(
            spec(ROOT, severity, level).level_filter(),
            filter,
            "{severity:?}/{level}"
        );
    }
    let mut specs = vec![
        spec(ROOT, Severity::Warn, 0),
        spec(TARGET_LEASES, Severity::None, 0),
    ];
    force_debug(&mut specs);
    assert!(specs
        .iter()
        .all(|s| s.level_filter() == LevelFilter::Trace && s.debuglevel == 99));
}

// ----- line layout -----

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("wren-logging-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn emit(
    loggers: &mut Loggers,
    level: Level,
    target: &str,
    text: &str,
    at: SystemTime,
    mono: Instant,
) {
    loggers.log_at(
        &Record::builder()
            .level(level)
            .target(target)
            .args(format_args!("{text}"))
            .build(),
        at,
        mono,
    );
}

/// 2026-11-28 10:11:28.123 UTC.
fn when() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_795_860_688_123)
}

fn stamp(secs: i64) -> LocalTime {
    local_time(secs)
}

#[test]
fn file_lines_use_keas_console_pattern_and_logger_selection() {
    let dir = TempDir::new("file");
    let root_file = dir.0.join("root.log");
    let lease_file = dir.0.join("leases.log");
    let specs = vec![
        LoggerSpec {
            outputs: vec![OutputSpec::File(root_file.clone())],
            ..spec(ROOT, Severity::Info, 0)
        },
        LoggerSpec {
            outputs: vec![OutputSpec::File(lease_file.clone())],
            ..spec(TARGET_LEASES, Severity::Debug, 99)
        },
    ];
    let mut loggers = Loggers::open(&specs).unwrap();
    assert_eq!(loggers.max_level(), LevelFilter::Trace);
    let now = Instant::now();
    emit(
        &mut loggers,
        Level::Info,
        TARGET_LEASES,
        "DHCP4_LEASE_ALLOC x",
        when(),
        now,
    );
    emit(
        &mut loggers,
        Level::Trace,
        TARGET_LEASES,
        "DHCP4_TRACE y",
        when(),
        now,
    );
    emit(
        &mut loggers,
        Level::Warn,
        TARGET_DHCP4,
        "DHCP4_W z",
        when(),
        now,
    );
    emit(
        &mut loggers,
        Level::Debug,
        TARGET_DHCP4,
        "DHCP4_D dropped",
        when(),
        now,
    );
    emit(
        &mut loggers,
        Level::Info,
        "wrend::event_loop",
        "plain",
        when(),
        now,
    );
    let t = stamp(1_795_860_688);
    let date = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.123",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    let pid = std::process::id();
    assert_eq!(
        std::fs::read_to_string(&lease_file).unwrap(),
        format!(
            "{date} INFO  [kea-dhcp4.leases/{pid}.{pid}] DHCP4_LEASE_ALLOC x\n\
             {date} DEBUG [kea-dhcp4.leases/{pid}.{pid}] DHCP4_TRACE y\n"
        )
    );
    // The child entry replaces the root's outputs; other targets use the root; plain
    // module targets print as the root logger.
    assert_eq!(
        std::fs::read_to_string(&root_file).unwrap(),
        format!(
            "{date} WARN  [kea-dhcp4.dhcp4/{pid}.{pid}] DHCP4_W z\n\
             {date} INFO  [kea-dhcp4/{pid}.{pid}] plain\n"
        )
    );
}

/// Syslog and console stamps follow TZ (trap 11: the `syslog` crate stamps UTC). `localtime_r`
/// reads TZ once per process, so the check runs in a child test process with TZ set.
#[test]
fn timestamps_are_local_time() {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "logging::tests::local_time_in_child",
            "--ignored",
            "--quiet",
        ])
        .env("TZ", "XYZ+5")
        .env("WREN_TZ_CHILD", "1")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
#[ignore = "run by timestamps_are_local_time with TZ set"]
fn local_time_in_child() {
    assert_eq!(std::env::var("WREN_TZ_CHILD").as_deref(), Ok("1"));
    // 2026-11-28 10:11:28 UTC is 05:11:28 five hours west.
    assert_eq!(
        local_time(1_795_860_688),
        LocalTime {
            year: 2026,
            month: 11,
            day: 28,
            hour: 5,
            minute: 11,
            second: 28
        }
    );
    let dir = TempDir::new("tz");
    let sock = dir.0.join("log");
    let server = UnixDatagram::bind(&sock).unwrap();
    let mut loggers = syslog_loggers(&sock, Facility::LOG_DAEMON as u8);
    emit(&mut loggers, Level::Info, ROOT, "x", when(), Instant::now());
    assert!(receive(&server)
        .unwrap()
        .starts_with("<30>Nov 28 05:11:28 wrend["));

    // A day below 10 is padded with a space, as FreeBSD's syslogd (parsemsg_rfc3164) and
    // RFC 3164 §4.1.2 require: it takes the 15 bytes after the PRI as the time stamp only
    // when bytes 3 and 6 are spaces, 9 and 12 colons and 15 a space; otherwise it stamps
    // the line with its own clock and keeps ours as part of the message.
    let november_3rd = UNIX_EPOCH + Duration::from_secs(1_795_860_688 - 25 * 86_400);
    emit(
        &mut loggers,
        Level::Info,
        ROOT,
        "y",
        november_3rd,
        Instant::now(),
    );
    let line = receive(&server).unwrap();
    assert!(line.starts_with("<30>Nov  3 05:11:28 wrend["), "{line}");
    let stamp = line.as_bytes().get(4..).unwrap();
    assert!(stamp.len() >= 16);
    assert_eq!(
        (stamp[3], stamp[6], stamp[9], stamp[12], stamp[15]),
        (b' ', b' ', b':', b':', b' ')
    );
}

#[test]
fn long_lines_are_cut_with_an_ellipsis() {
    let dir = TempDir::new("long");
    let f = dir.0.join("long.log");
    let specs = vec![LoggerSpec {
        outputs: vec![OutputSpec::File(f.clone())],
        ..spec(ROOT, Severity::Info, 0)
    }];
    let mut loggers = Loggers::open(&specs).unwrap();
    let text = "x".repeat(LINE_MAX * 2);
    emit(
        &mut loggers,
        Level::Info,
        ROOT,
        &text,
        when(),
        Instant::now(),
    );
    let written = std::fs::read_to_string(&f).unwrap();
    assert_eq!(written.len(), LINE_MAX);
    assert!(written.ends_with("xxx...\n"));
}

#[test]
fn unopenable_file_is_an_error() {
    let specs = vec![LoggerSpec {
        outputs: vec![OutputSpec::File(PathBuf::from("/nonexistent-dir/x.log"))],
        ..spec(ROOT, Severity::Info, 0)
    }];
    assert!(matches!(
        Loggers::open(&specs),
        Err(LogError::OpenFile { .. })
    ));
}

// ----- syslog -----

fn syslog_loggers(socket: &Path, facility: u8) -> Loggers {
    Loggers::open(&[LoggerSpec {
        outputs: vec![OutputSpec::Syslog {
            facility,
            socket: Some(socket.to_path_buf()),
        }],
        ..spec(ROOT, Severity::Debug, 99)
    }])
    .unwrap()
}

fn receive(server: &UnixDatagram) -> Option<String> {
    server.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    match server.recv(&mut buf) {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(_) => None,
    }
}

#[test]
fn syslog_datagram_has_priority_local_time_tag_and_text() {
    let dir = TempDir::new("syslog");
    let sock = dir.0.join("log");
    let server = UnixDatagram::bind(&sock).unwrap();
    let local7 = Facility::LOG_LOCAL7 as u8;
    let mut loggers = syslog_loggers(&sock, local7);
    let now = Instant::now();
    let pid = std::process::id();
    let t = stamp(1_795_860_688);
    let ts = format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[usize::from(t.month - 1)],
        t.day,
        t.hour,
        t.minute,
        t.second
    );
    let cases = [
        (Level::Error, 23 * 8 + 3, "ERROR"),
        (Level::Warn, 23 * 8 + 4, "WARN "),
        (Level::Info, 23 * 8 + 6, "INFO "),
        (Level::Debug, 23 * 8 + 7, "DEBUG"),
    ];
    for (level, pri, word) in cases {
        emit(
            &mut loggers,
            level,
            TARGET_LEASES,
            "DHCP4_LEASE_ALLOC hello",
            when(),
            now,
        );
        assert_eq!(
            receive(&server).unwrap(),
            format!(
                "<{pri}>{ts} wrend[{pid}]: {word} [kea-dhcp4.leases.{pid}] DHCP4_LEASE_ALLOC hello"
            )
        );
    }
    // The default facility is daemon: <30> for INFO.
    let mut loggers = syslog_loggers(&sock, Facility::LOG_DAEMON as u8);
    emit(&mut loggers, Level::Info, ROOT, "x", when(), now);
    assert!(receive(&server).unwrap().starts_with("<30>"));
}

#[test]
fn syslog_reconnects_at_most_once_per_interval() {
    let dir = TempDir::new("reconnect");
    let sock = dir.0.join("log");
    let server = UnixDatagram::bind(&sock).unwrap();
    let mut loggers = syslog_loggers(&sock, Facility::LOG_DAEMON as u8);
    let t0 = Instant::now();
    emit(&mut loggers, Level::Info, ROOT, "one", when(), t0);
    assert!(receive(&server).unwrap().ends_with("one"));

    // syslogd restarts: the old socket goes away and a new one is bound at the same path.
    drop(server);
    std::fs::remove_file(&sock).unwrap();
    emit(
        &mut loggers,
        Level::Info,
        ROOT,
        "lost while down",
        when(),
        t0 + Duration::from_secs(11),
    );
    let server = UnixDatagram::bind(&sock).unwrap();
    // The failed attempt at t0+11 s was the last one: no new attempt before t0+21 s.
    emit(
        &mut loggers,
        Level::Info,
        ROOT,
        "too soon",
        when(),
        t0 + Duration::from_secs(15),
    );
    assert_eq!(receive(&server), None);
    emit(
        &mut loggers,
        Level::Info,
        ROOT,
        "back",
        when(),
        t0 + Duration::from_secs(22),
    );
    assert!(receive(&server).unwrap().ends_with("back"));
    emit(
        &mut loggers,
        Level::Info,
        ROOT,
        "steady",
        when(),
        t0 + Duration::from_secs(22),
    );
    assert!(receive(&server).unwrap().ends_with("steady"));
}

#[test]
fn syslog_missing_at_start_connects_later() {
    let dir = TempDir::new("late");
    let sock = dir.0.join("log");
    let mut loggers = syslog_loggers(&sock, Facility::LOG_DAEMON as u8);
    let t0 = Instant::now();
    emit(&mut loggers, Level::Info, ROOT, "early", when(), t0);
    let server = UnixDatagram::bind(&sock).unwrap();
    emit(
        &mut loggers,
        Level::Info,
        ROOT,
        "later",
        when(),
        t0 + SYSLOG_RECONNECT_INTERVAL,
    );
    assert!(receive(&server).unwrap().ends_with("later"));
}

// ----- from a Kea configuration -----

fn with_config(text: &str, f: impl FnOnce(&Config<'_>)) {
    let path = Path::new("test.json");
    let mut storage = crate::config_load::allocate(path, text).unwrap();
    let mut warnings = Vec::new();
    let config = crate::config_load::parse(path, text, &mut storage, &mut warnings).unwrap();
    f(&config);
}

#[test]
fn loggers_come_from_the_config() {
    let text = r#"{ "Dhcp4": {
        "loggers": [
            { "name": "kea-dhcp4", "severity": "WARN",
              "output_options": [ { "output": "syslog:local7" }, { "output": "/var/log/kea.log" } ] },
            { "name": "kea-dhcp4.leases", "severity": "DEBUG", "debuglevel": 45,
              "output_options": [ { "output": "stderr" } ] }
        ]
    } }"#;
    with_config(text, |config| {
        let (specs, unknown) = specs_from_config(config);
        assert!(unknown.is_empty());
        assert_eq!(
            specs,
            vec![
                LoggerSpec {
                    name: ROOT.into(),
                    severity: Severity::Warn,
                    debuglevel: 0,
                    outputs: vec![
                        OutputSpec::Syslog {
                            facility: Facility::LOG_LOCAL7 as u8,
                            socket: None
                        },
                        OutputSpec::File(PathBuf::from("/var/log/kea.log")),
                    ],
                },
                LoggerSpec {
                    name: TARGET_LEASES.into(),
                    severity: Severity::Debug,
                    debuglevel: 45,
                    outputs: vec![OutputSpec::Stderr],
                },
            ]
        );
        assert_eq!(specs[1].level_filter(), LevelFilter::Debug);
    });
}

#[test]
fn only_child_loggers_keep_the_default_root() {
    let text = r#"{ "Dhcp4": { "loggers": [
        { "name": "kea-dhcp4.bad-packets", "severity": "ERROR",
          "output_options": [ { "output": "syslog:nonsense" } ] } ] } }"#;
    with_config(text, |config| {
        let (specs, unknown) = specs_from_config(config);
        assert_eq!(unknown, vec!["nonsense".to_string()]);
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1], LoggerSpec::default_root());
    });
    with_config(r#"{ "Dhcp4": { } }"#, |config| {
        assert_eq!(
            specs_from_config(config).0,
            vec![LoggerSpec::default_root()]
        );
    });
}
