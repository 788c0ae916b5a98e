//! Start, serve, reload, stop: the order of things around the event loop.
//!
//! ```text
//! config check → PID file → signals → config storage → lease table + lease file (load)
//!   → sockets → loop ─┬─ SIGHUP: check new file; ok → rebuild config storage, reopen
//!                     │          interfaces; bad → log, keep serving the old one
//!                     └─ SIGTERM/SIGINT: last batch synced and sent → exit 0
//! ```
//!
//! Storage is allocated here, sized once from the configuration (and again on reload),
//! never per packet.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use wren_core::config::Config;

use crate::cli::{self, Options};
use crate::config_load::{self, LoadError};
use crate::engine_glue::{self, CoreEngine, OwnedLeaseTable};
use crate::event_loop::{EventLoop, Exit, Settings};
use crate::lease_file::LeaseFile;
use crate::link::interfaces::{self, InterfaceSpec};
use crate::logging;
use crate::pidfile::{PidFile, PidFileError};
use crate::signals::Signals;

/// Why the server could not start or had to stop.
#[derive(Debug)]
pub enum Fatal {
    /// The configuration is invalid.
    Config(LoadError),
    /// Another server holds the PID file.
    PidFile(PidFileError),
    /// The lease file could not be opened or loaded.
    LeaseFile(crate::lease_file::Error),
    /// A system resource (socket, poll, signal handler) failed.
    Io(std::io::Error),
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::Config(e) => write!(f, "{e}"),
            Fatal::PidFile(e) => write!(f, "{e}"),
            Fatal::LeaseFile(e) => write!(f, "lease file: {e}"),
            Fatal::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<std::io::Error> for Fatal {
    fn from(e: std::io::Error) -> Self {
        Fatal::Io(e)
    }
}

/// `-t FILE`: parse and validate, as the server would at start, including Kea's check that
/// every named interface exists.
pub fn check(options: &Options) -> Result<Vec<String>, String> {
    let path = &options.config_file;
    let (text, mut warnings) = config_load::check(path).map_err(|e| e.to_string())?;
    let mut storage = config_load::allocate(path, &text).map_err(|e| e.to_string())?;
    let mut ignored = Vec::new();
    let config =
        config_load::parse(path, &text, &mut storage, &mut ignored).map_err(|e| e.to_string())?;
    check_interfaces(path, &config)?;
    crate::control::ControlSettings::from_text(&text)?; // [control API] listener refusals
    crate::ha::check(&config)?; // [HA] libdhcp_ha.so parameters
    warnings.extend(crate::ha::ignored_key_warnings(&config, path, &text));
    Ok(warnings)
}

/// Kea: "Unknown iface name → config error (also in -t)".
fn check_interfaces(path: &Path, config: &Config<'_>) -> Result<(), String> {
    let host = interfaces::scan().map_err(|e| format!("cannot list interfaces: {e}"))?;
    let names = config
        .names
        .get(config.globals.interfaces.interfaces.as_range())
        .unwrap_or(&[]);
    for (index, name) in names.iter().enumerate() {
        let text = config.str(*name);
        let key = format!("Dhcp4.interfaces-config.interfaces[{index}]");
        match InterfaceSpec::parse(text) {
            Err(e) => return Err(format!("{}: {key}: {e}", path.display())),
            Ok(InterfaceSpec::All) => {}
            Ok(InterfaceSpec::Named { name, address }) => {
                let Some(found) = host.iter().find(|i| i.name == name) else {
                    return Err(format!(
                        "{}: {key}: interface '{name}' doesn't exist in the system",
                        path.display()
                    ));
                };
                if let Some(a) = address {
                    if !found.addresses.contains(&a) {
                        return Err(format!(
                            "{}: {key}: address {a} is not configured on interface '{name}'",
                            path.display()
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// `-c FILE`: serve until SIGTERM/SIGINT.
pub fn serve(options: &Options) -> Result<(), Fatal> {
    let path = options.config_file.as_path();
    logging::init(options.debug);
    logging::starting(cli::version(), "wren");

    let (mut text, warnings) = config_load::check(path).map_err(|e| {
        logging::config_load_fail(path, &e);
        Fatal::Config(e)
    })?;
    for w in &warnings {
        log::warn!("DHCP4_CONFIG_SYNTAX_WARNING {w}");
    }

    // [freebsd branch] -f overrides the path; under -D the daemonize module already holds
    // the (flock-locked) PID file.
    let pid_path = crate::daemonize::pid_file_path(options);
    let _pid = if crate::daemonize::pid_file_held() {
        None
    } else {
        Some(PidFile::acquire(&pid_path).map_err(Fatal::PidFile)?)
    };
    crate::resident::survey(); // before privileges are dropped (smaps)
    let mut signals = Some(Signals::install()?);
    let mut table: Option<OwnedLeaseTable> = None;
    let mut journal: Option<LeaseFile> = None;
    let mut event_loop: Option<EventLoop> = None;
    let mut stats = None; // [control API] statistics, kept across reloads
    let mut ha: Option<crate::ha::Shared> = None; // [HA] built once, at start
    let mut started = false;

    loop {
        // One configuration's lifetime: its storage lives in this iteration.
        let mut storage = config_load::allocate(path, &text).map_err(Fatal::Config)?;
        let mut ignored = Vec::new();
        let config =
            config_load::parse(path, &text, &mut storage, &mut ignored).map_err(Fatal::Config)?;
        if let Err(e) = logging::configure(&config, options.debug) {
            log::error!("DHCP4_CONFIG_LOAD_FAIL loggers: {e}");
        }

        match table.as_mut() {
            Some(t) => {
                t.fit(&config)?;
            }
            None => {
                let mut fresh = OwnedLeaseTable::for_config(&config)?;
                let (file, report) = engine_glue::open_lease_file(&config, fresh.table())
                    .map_err(Fatal::LeaseFile)?;
                log::info!(
                    "DHCPSRV_MEMFILE_LEASES_LOADED {} leases from {} rows ({} bad) in {}",
                    report.leases,
                    report.rows,
                    report.errors.len(),
                    file.path().display()
                );
                journal = Some(file);
                table = Some(fresh);
            }
        }
        let settings = Settings::from_config(&config, options.server_port, options.client_port);
        match event_loop.as_mut() {
            Some(l) => l.reconfigure(settings)?,
            None => {
                let Some(s) = signals.take() else {
                    return Err(Fatal::Io(std::io::Error::other("signals already taken")));
                };
                let mut fresh = EventLoop::new(settings, s)?;
                ha = crate::ha::HaRuntime::from_config(&config)
                    .map_err(std::io::Error::other)?
                    .map(crate::ha::HaRuntime::shared);
                for w in crate::ha::ignored_key_warnings(&config, path, &text) {
                    log::warn!("HA_CONFIG_KEY_IGNORED {w}");
                }
                match &ha {
                    // [HA] the control listeners plus this peer's URL
                    Some(shared) => {
                        crate::ha::start_control(&mut fresh, path, &text, shared)?;
                        fresh.attach_ha(shared.clone());
                    }
                    None => crate::control::start(&mut fresh, path, &text)?, // [control API]
                }
                event_loop = Some(fresh);
            }
        }
        let (Some(table), Some(journal), Some(event_loop)) = (
            table.as_mut().map(OwnedLeaseTable::table),
            journal.as_mut(),
            event_loop.as_mut(),
        ) else {
            return Err(Fatal::Io(std::io::Error::other(
                "start-up left a part unset",
            )));
        };
        if let Some(control) = event_loop.control_mut() {
            control.configure(&text); // [control API]
        }
        logging::config_complete(&summary(&config, event_loop));
        if !started {
            // [freebsd branch] Everything privileged is open (sockets, lease file, PID file,
            // syslog): drop privileges (-u/-g), Capsicum (-C); then release a -D parent.
            let policy = options.sandbox.clone();
            // dhcp-socket-type "udp" replies (sendmsg to an address) go through the
            // sandbox's broker in capability mode (crate::sandbox::broker).
            if !policy.is_empty() {
                event_loop.seal()?;
            }
            let sandboxed = crate::sandbox::enter(&policy)
                .map_err(|e| Fatal::Io(std::io::Error::other(e.to_string())))?;
            crate::sandbox::log_report(&sandboxed);
            logging::started(cli::version());
            crate::daemonize::notify_ready();
            started = true;
        }

        let stats = crate::control::fit_stats(&mut stats, &config, table); // [control API]
        if let Some(shared) = &ha {
            // [HA] Kea re-loads its hook libraries on reconfiguration: changed
            // `high-availability` parameters restart the relationship (waiting, then a sync);
            // unchanged ones keep the running state.
            crate::ha::reconfigure(shared, &config);
        }
        let mut engine = crate::ha::engine::HaEngine::new(
            CoreEngine::new(config, table)
                .with_ports(options.server_port, options.client_port)
                .with_stats(stats),
            ha.clone(), // [HA] filter and lease updates
        );
        if let Some(control) = event_loop.control_mut() {
            control.prepare(&mut engine); // [control API] dhcp-disable survives a reload
        }
        // Start-up's code pages (config parsing, the lease-file load) are not needed until
        // the next reload: unmap them (crate::resident) so the resident set is what serving uses.
        let released = crate::resident::release();
        log::debug!("WREN_RESIDENT_RELEASED {released} bytes of start-up code and stack advised");
        let next_text = loop {
            match event_loop.run(&mut engine, journal)? {
                Exit::Terminate => {
                    logging::shutdown_request();
                    let c = event_loop.counters();
                    log::info!(
                        "WREN_COUNTERS received={} skipped={} sent={} dropped={}",
                        c.received,
                        c.skipped,
                        c.sent,
                        c.dropped
                    );
                    logging::shutdown();
                    return Ok(());
                }
                Exit::Reload => {
                    // [control API] config-set / subnet4-* / reservation-*: the new text.
                    if let Some(new_text) = event_loop.take_control_text() {
                        break new_text;
                    }
                    logging::dynamic_reconfiguration(path);
                    // [freebsd branch] The file and its includes are read through the
                    // directory table (crate::sandbox::dirs), so this works after the
                    // sandbox point too.
                    match config_load::check(path) {
                        Ok((new_text, warnings)) => {
                            for w in &warnings {
                                log::warn!("DHCP4_CONFIG_SYNTAX_WARNING {w}");
                            }
                            logging::dynamic_reconfiguration_success(path);
                            break new_text;
                        }
                        Err(e) => {
                            logging::config_load_fail(path, &e);
                            logging::dynamic_reconfiguration_fail(path);
                        }
                    }
                }
            }
        };
        text = next_text;
    }
}

fn summary(config: &Config<'_>, event_loop: &EventLoop) -> String {
    let served: Vec<String> = event_loop
        .served()
        .map(|s| {
            let first = s
                .addresses
                .first()
                .copied()
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            format!("{}/{first}", s.name)
        })
        .collect();
    format!(
        "{} subnet(s), {} pool(s), {} reservation(s); interfaces: [{}]",
        config.subnets.len(),
        config.pools.len(),
        config.reservations.len(),
        served.join(", ")
    )
}
