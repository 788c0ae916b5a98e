//! The control API (kea-control-api.md): commands in, Kea-shaped JSON answers out.
//!
//! Core decides, the daemon moves bytes. One request goes through four steps:
//! 1. [`command::parse_request`] reads the request text into a [`Request`] (or a
//!    [`RequestError`], answered with [`Reply::from_request_error`]);
//! 2. [`execute`] runs it against the core state in an [`Env`]: lease commands change the
//!    [`LeaseTable`] and report every change through the [`LeaseSink`] (the daemon writes
//!    them durably before answering, like DHCP traffic); statistics commands change
//!    [`Stats`]. The result is a [`Decision`]: a [`Reply`] to render, or an [`Action`] the
//!    daemon carries out (config changes, shutdown), using [`edit`] to change config text;
//! 3. the daemon sorts the lease ids if [`Reply::needs_lease_order`] says so
//!    ([`LeaseTable::ids_by_address`] into a scratch of [`LeaseTable::capacity`] `u32`s);
//! 4. [`render`] writes the answer into a caller buffer, chunk by chunk if it is large
//!    (a [`Cursor`] continues where the previous chunk stopped; see [`json_out`]).
//!
//! Answers are JSON objects (the UNIX-socket shape); the HTTP front end wraps them in `[ … ]`.
//!
//! # Daemon usage
//! ```text
//! let reply = match control::parse_request_bytes(&body) {
//!     Err(e) => Reply::from_request_error(&e),
//!     Ok(req) => match control::execute(&req, &mut Env { config, config_text, leases, stats, now }, &mut sink) {
//!         Decision::Reply(r) => r,
//!         Decision::Action(a) => carry_out(a),     // config/subnet/host edits, shutdown, …
//!     },
//! };
//! sink.sync()?;                                    // lease rows durable before the answer
//! let order = if reply.needs_lease_order() { leases.ids_by_address(&mut scratch) } else { &[] };
//! let view = View { config, config_text, leases, stats, info, lease_order: order };
//! let mut cursor = Cursor::default();
//! loop {
//!     let chunk = control::render(&reply, &view, cursor, &mut buf);   // any buf size ≥ 1
//!     socket.write_all(&buf[..chunk.len])?;
//!     if chunk.done { break }
//!     cursor = chunk.next;
//! }
//! ```
//! `carry_out` for the config-changing actions: edit the running text with [`edit`] into a
//! new buffer, run `config::measure` + `config::parse` on it, and on success swap it in
//! (lease table pools, `Stats::configure`) and answer [`Reply::SubnetChanged`] /
//! [`texts`]; on a parse error answer `Reply::Status { result: 1, text: <the error> }`.

// Errors and refusals carry their text inline (no `alloc`): a few hundred bytes by value.
// Commands are not a hot path, so the size of the `Err` variants does not matter.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

pub mod command;
pub mod edit;
pub mod json_in;
pub mod json_out;
mod lease_cmds;
mod render;
mod subnet_cmds;
#[cfg(test)]
mod tests;
pub mod trace_cmd;

use core::fmt::Write as _;
use core::net::Ipv4Addr;

pub use command::{parse_request, parse_request_bytes, Command, Request, RequestError, COMMANDS};
pub use json_in::{JsonStr, Node, Value};
pub use json_out::{BufferFull, Chunk, Cursor, JsonOut};
pub use lease_cmds::LeaseFilter;
pub use render::{compact_text, render};

use crate::config::{Config, Ipv4Prefix};
use crate::lease::LeaseTable;
use crate::server::LeaseSink;
use crate::stats::{SampleLimit, StatName, Stats};
use crate::time::Timestamp;

/// Result 0: success.
pub const RESULT_SUCCESS: u16 = 0;
/// Result 1: error.
pub const RESULT_ERROR: u16 = 1;
/// Result 2: command not supported.
pub const RESULT_UNSUPPORTED: u16 = 2;
/// Result 3: the query worked but found nothing.
pub const RESULT_EMPTY: u16 = 3;
/// HTTP front end only (an object, not an array): `{ "result": 400, "text": "Bad Request" }`.
pub const RESULT_BAD_REQUEST: u16 = 400;
/// HTTP front end only: `{ "result": 401, "text": "Unauthorized" }` with `WWW-Authenticate`.
pub const RESULT_UNAUTHORIZED: u16 = 401;

/// Longest `text` of a status answer (longer texts are cut).
pub const TEXT_CAPACITY: usize = 400;
/// The `text` of a status answer.
pub type Text = heapless::String<TEXT_CAPACITY>;

/// Formats a [`Text`], cutting what does not fit.
pub fn text(args: core::fmt::Arguments<'_>) -> Text {
    struct Cut(Text);
    impl core::fmt::Write for Cut {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for c in s.chars() {
                if self.0.push(c).is_err() {
                    break;
                }
            }
            Ok(())
        }
    }
    let mut cut = Cut(Text::new());
    let _ = cut.write_fmt(args);
    cut.0
}

/// Kea's success texts for the commands the daemon carries out.
pub mod texts {
    /// `config-test` success.
    pub const CONFIG_TEST_OK: &str = "Configuration seems sane. Control-socket, hook-libraries, and D2 configuration were sanity checked, but not applied.";
    /// `config-set` / `config-reload` success.
    pub const CONFIG_SET_OK: &str = "Configuration successful.";
    /// `shutdown`.
    pub const SHUTTING_DOWN: &str = "Shutting down.";
    /// `reservation-add` success.
    pub const HOST_ADDED: &str = "Host added.";
    /// `reservation-del` success.
    pub const HOST_DELETED: &str = "Host deleted.";
    /// `reservation-del` of a missing host.
    pub const HOST_NOT_DELETED: &str = "Host not deleted (not found).";
    /// `dhcp-enable`.
    pub const DHCP_ENABLED: &str = "DHCP service successfully enabled";
    /// `leases-reclaim`.
    pub const RECLAIM_DONE: &str = "Reclamation of expired leases is complete.";
}

/// Facts about the running process that only the daemon knows.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerInfo<'a> {
    /// `version-get` text (Kea: `2.2.0`).
    pub version: &'a str,
    /// `version-get` `extended` (version, newline, build details).
    pub extended: &'a str,
    /// `build-report` text.
    pub build_report: &'a str,
    /// Process id (`status-get`).
    pub pid: u32,
    /// Seconds since start.
    pub uptime: u64,
    /// Seconds since the last (re)configuration.
    pub reload: u64,
    /// Seconds east of UTC, for statistics timestamps (Kea prints local time).
    pub utc_offset: i32,
}

/// What [`execute`] reads and changes.
pub struct Env<'e, 'l, 's> {
    /// The running config.
    pub config: &'e Config<'e>,
    /// The running config's text (as parsed, includes spliced in).
    pub config_text: &'e str,
    /// The leases.
    pub leases: &'e mut LeaseTable<'l>,
    /// The statistics.
    pub stats: &'e mut Stats<'s>,
    /// Now.
    pub now: Timestamp,
}

/// What [`render`] reads.
#[derive(Clone, Copy)]
pub struct View<'v, 'l, 's> {
    /// The running config.
    pub config: &'v Config<'v>,
    /// Its text.
    pub config_text: &'v str,
    /// The leases.
    pub leases: &'v LeaseTable<'l>,
    /// The statistics.
    pub stats: &'v Stats<'s>,
    /// Process facts.
    pub info: ServerInfo<'v>,
    /// Lease ids sorted by address when [`Reply::needs_lease_order`] (else empty).
    pub lease_order: &'v [u32],
}

/// Which subnet change a [`Reply::SubnetChanged`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubnetChange {
    /// `subnet4-add`: "IPv4 subnet added", arguments `subnet4`.
    Added,
    /// `subnet4-update`: "IPv4 subnet updated", arguments `subnet4`.
    Updated,
    /// `subnet4-del`: "IPv4 subnet P (id N) deleted", arguments `subnets`.
    Deleted,
}

/// An answer, rendered by [`render`] from the state in a [`View`]. Borrows only the request.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply<'r> {
    /// `{ "result": r, "text": "…" }`.
    Status {
        /// Result code.
        result: u16,
        /// Text.
        text: Text,
    },
    /// `list-commands`.
    Commands,
    /// `version-get`.
    Version,
    /// `build-report`.
    BuildReport,
    /// `status-get`.
    ServerStatus,
    /// `config-get`: the running config text, normalised.
    ConfigGet,
    /// `config-write` success.
    ConfigWritten {
        /// The file written.
        filename: Text,
        /// Its size in bytes.
        size: u64,
    },
    /// One lease (`lease4-get`): "IPv4 lease found."
    Lease {
        /// Its address.
        address: Ipv4Addr,
    },
    /// A list of leases (`lease4-get-all`, `-by-*`): "N IPv4 lease(s) found."
    Leases {
        /// Which leases.
        filter: LeaseFilter<'r>,
        /// How many match (counted by `execute`).
        count: u64,
    },
    /// `lease4-get-page`.
    LeasePage {
        /// Leases with an address strictly greater (None = from the start).
        after: Option<Ipv4Addr>,
        /// Leases in the page.
        count: u64,
    },
    /// `subnet4-list`.
    SubnetList,
    /// `subnet4-get`: the subnet at this index of `config.subnets`.
    Subnet {
        /// Index in `config.subnets`.
        index: usize,
    },
    /// `subnet4-add/update/del` done by the daemon.
    SubnetChanged {
        /// Which.
        change: SubnetChange,
        /// Subnet id.
        id: u32,
        /// Its prefix.
        prefix: Ipv4Prefix,
    },
    /// `reservation-get`: the reservation at this index of `config.reservations`.
    Host {
        /// Index in `config.reservations`.
        index: usize,
    },
    /// `reservation-get-all` / `reservation-get-page`.
    Hosts {
        /// Subnet filter (None: every subnet, hosts then carry `subnet-id`).
        subnet_id: Option<u32>,
        /// First index of `config.reservations` to look at.
        from: usize,
        /// Hosts to list.
        count: u64,
        /// For `reservation-get-page`: the `next.from` value (None for get-all).
        page_next: Option<u64>,
    },
    /// `statistic-get` (None: unknown name, empty arguments).
    Statistic {
        /// The statistic.
        name: Option<StatName>,
    },
    /// `statistic-get-all`.
    Statistics,
    /// `{ "arguments": { }, "result": 3, "text": … }` (`stat-lease4-get` of an unknown
    /// subnet).
    NoData {
        /// The `text`.
        text: Text,
    },
    /// `server-tag-get`.
    ServerTag,
    /// `stat-lease4-get`: rows of the subnets with ids in `first..=last`.
    StatLease4 {
        /// Lowest subnet id.
        first: u32,
        /// Highest subnet id.
        last: u32,
        /// When (the `timestamp` of the result set).
        at: Timestamp,
        /// Rows found.
        rows: u64,
        /// The `text`.
        text: Text,
    },
}

impl Reply<'_> {
    /// A status answer.
    pub fn status(result: u16, text: &str) -> Reply<'static> {
        Reply::Status {
            result,
            text: self::text(format_args!("{text}")),
        }
    }

    /// The answer to a request that could not be read.
    pub fn from_request_error(e: &RequestError<'_>) -> Reply<'static> {
        Reply::Status {
            result: e.result(),
            text: text(format_args!("{e}")),
        }
    }

    /// `dhcp-disable`'s answer.
    pub fn dhcp_disabled(max_period: Option<u32>) -> Reply<'static> {
        Reply::Status {
            result: RESULT_SUCCESS,
            text: match max_period {
                Some(s) => text(format_args!("DHCPv4 service disabled for {s} seconds")),
                None => text(format_args!("DHCPv4 service disabled")),
            },
        }
    }

    /// Result 1 with an error's text (a config parser error, an I/O error, …).
    pub fn error(e: &dyn core::fmt::Display) -> Reply<'static> {
        Reply::Status {
            result: RESULT_ERROR,
            text: text(format_args!("{e}")),
        }
    }

    /// Whether [`View::lease_order`] must hold the address-sorted lease ids.
    pub fn needs_lease_order(&self) -> bool {
        matches!(self, Reply::Leases { .. } | Reply::LeasePage { .. })
    }
}

/// Who disabled the DHCP service (`dhcp-disable`'s `origin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `user` (default).
    User,
    /// `ha-partner`.
    HaPartner,
}

/// How a reservation is named in `reservation-del`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKey<'r> {
    /// By reserved address.
    Address(Ipv4Addr),
    /// By identifier (`identifier-type`, `identifier` still as text).
    Identifier {
        /// Kea's identifier type name.
        kind: crate::config::IdentifierType,
        /// The identifier text (`aa:bb:…`).
        identifier: JsonStr<'r>,
    },
}

/// A command the daemon carries out (arguments checked by [`execute`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action<'r> {
    /// `config-test`: parse `config` (the `{"Dhcp4": …}` map) without applying it; answer
    /// [`texts::CONFIG_TEST_OK`] or result 1 with the parser's error.
    ConfigTest {
        /// The arguments map (holds `Dhcp4`).
        config: Node<'r>,
    },
    /// `config-set`: parse and apply `config`; answer [`texts::CONFIG_SET_OK`].
    ConfigSet {
        /// The arguments map (holds `Dhcp4`).
        config: Node<'r>,
    },
    /// `config-write`: write the running config ([`edit::pretty`]) to `filename` or the
    /// `-c` file; answer [`Reply::ConfigWritten`] or result 1
    /// `Error during write-config:Unable to open file … for writing`.
    ConfigWrite {
        /// The file (still escaped), if given.
        filename: Option<JsonStr<'r>>,
    },
    /// `config-reload`: re-read the `-c` file; answer [`texts::CONFIG_SET_OK`].
    ConfigReload,
    /// `shutdown`: answer [`texts::SHUTTING_DOWN`], then exit with `exit_value`.
    Shutdown {
        /// Exit status (default 0).
        exit_value: i64,
    },
    /// `subnet4-add`: [`edit::add_subnet`], re-parse, apply; answer
    /// [`Reply::SubnetChanged`].
    SubnetAdd {
        /// The new subnet's id.
        id: u32,
        /// The subnet map.
        subnet: Node<'r>,
    },
    /// `subnet4-update`: [`edit::replace_subnet`], re-parse, apply.
    SubnetUpdate {
        /// The subnet's id.
        id: u32,
        /// The new subnet map.
        subnet: Node<'r>,
    },
    /// `subnet4-del`: [`edit::remove_subnet`], re-parse, apply (leases are kept).
    SubnetDel {
        /// The subnet's id.
        id: u32,
        /// Its prefix (for the answer).
        prefix: Ipv4Prefix,
    },
    /// `reservation-add`: [`edit::add_reservation`], re-parse, apply; answer
    /// [`texts::HOST_ADDED`].
    ReservationAdd {
        /// 0 = global.
        subnet_id: u32,
        /// The reservation map (with `subnet-id`, which Kea's config grammar does not
        /// have inside a subnet: [`edit::add_reservation`] drops it).
        reservation: Node<'r>,
    },
    /// `reservation-del`: [`edit::remove_reservation`] with the reservation's index
    /// (found by `execute`), re-parse, apply; answer [`texts::HOST_DELETED`].
    ReservationDel {
        /// 0 = global.
        subnet_id: u32,
        /// Its position among the subnet's (or the global) reservations.
        position: usize,
    },
    /// `dhcp-disable`.
    DhcpDisable {
        /// Re-enable after this many seconds.
        max_period: Option<u32>,
        /// Who.
        origin: Origin,
    },
    /// `dhcp-enable`.
    DhcpEnable {
        /// Who.
        origin: Origin,
    },
    /// `leases-reclaim`: run the reclamation now; answer [`texts::RECLAIM_DONE`].
    LeasesReclaim {
        /// Remove reclaimed leases instead of keeping them in state 2.
        remove: bool,
    },
    /// `wren-trace`: switch the packet trace ([`trace_cmd`]); answer with its state.
    Trace(trace_cmd::TraceRequest),
}

/// What [`execute`] decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision<'r> {
    /// Render this answer.
    Reply(Reply<'r>),
    /// The daemon carries this out and answers.
    Action(Action<'r>),
}

impl<'r> From<Reply<'r>> for Decision<'r> {
    fn from(r: Reply<'r>) -> Self {
        Decision::Reply(r)
    }
}

/// A failed argument check: the status answer to send.
pub(crate) type Refusal = Reply<'static>;

pub(crate) fn refuse(result: u16, args: core::fmt::Arguments<'_>) -> Refusal {
    Reply::Status {
        result,
        text: text(args),
    }
}

/// Runs a request. Lease changes go to `sink` (and into `env.stats`) as they are made.
pub fn execute<'r>(
    request: &Request<'r>,
    env: &mut Env<'_, '_, '_>,
    sink: &mut dyn LeaseSink,
) -> Decision<'r> {
    let args = request.arguments;
    let result = match request.command {
        Command::ListCommands => Ok(Reply::Commands.into()),
        Command::VersionGet => Ok(Reply::Version.into()),
        Command::BuildReport => Ok(Reply::BuildReport.into()),
        Command::StatusGet => Ok(Reply::ServerStatus.into()),
        Command::ConfigGet => Ok(Reply::ConfigGet.into()),
        Command::Lease4Add => lease_cmds::add(args, env, sink, false),
        Command::Lease4Update => lease_cmds::add(args, env, sink, true),
        Command::Lease4Get => lease_cmds::get(args, env),
        Command::Lease4GetAll => lease_cmds::get_all(args, env),
        Command::Lease4GetPage => lease_cmds::get_page(args, env),
        Command::Lease4GetByHwAddress
        | Command::Lease4GetByClientId
        | Command::Lease4GetByHostname => lease_cmds::get_by(request.command, args, env),
        Command::Lease4Del => lease_cmds::del(args, env, sink),
        Command::Lease4Wipe => lease_cmds::wipe(args, env, sink),
        Command::Lease4ResendDdns => lease_cmds::resend_ddns(args),
        Command::StatisticGet
        | Command::StatisticReset
        | Command::StatisticRemove
        | Command::StatisticSampleAgeSet
        | Command::StatisticSampleCountSet => stat_command(request.command, args, env),
        Command::StatisticSampleAgeSetAll | Command::StatisticSampleCountSetAll => {
            stat_limit_all(request.command, args, env)
        }
        Command::StatisticRemoveAll => {
            env.stats.remove_all();
            Ok(Reply::status(
                RESULT_SUCCESS,
                "Warning: statistic-remove-all command is deprecated. All statistics removed.",
            )
            .into())
        }
        Command::StatisticGetAll => Ok(Reply::Statistics.into()),
        Command::StatLease4Get => stat_lease4_get(args, env),
        Command::ServerTagGet => Ok(Reply::ServerTag.into()),
        Command::StatisticResetAll => {
            env.stats.reset_all(env.now);
            Ok(Reply::status(RESULT_SUCCESS, "All statistics reset to neutral values.").into())
        }
        Command::Subnet4List => Ok(subnet_cmds::list(env)),
        Command::Subnet4Get => subnet_cmds::get(args, env),
        Command::Subnet4Add | Command::Subnet4Update => {
            subnet_cmds::add(args, env, request.command == Command::Subnet4Update)
        }
        Command::Subnet4Del => subnet_cmds::del(args, env),
        Command::ReservationGet => subnet_cmds::host_get(args, env),
        Command::ReservationGetAll => subnet_cmds::host_get_all(args, env),
        Command::ReservationGetPage => subnet_cmds::host_get_page(args, env),
        Command::ReservationAdd => subnet_cmds::host_add(args, env),
        Command::ReservationDel => subnet_cmds::host_del(args, env),
        Command::ConfigTest | Command::ConfigSet => config_arguments(args).map(|config| {
            Decision::Action(if request.command == Command::ConfigTest {
                Action::ConfigTest { config }
            } else {
                Action::ConfigSet { config }
            })
        }),
        Command::ConfigWrite => match args.map(|a| a.get("filename")) {
            None | Some(None) => Ok(Decision::Action(Action::ConfigWrite { filename: None })),
            Some(Some(Value::Str(s))) => {
                Ok(Decision::Action(Action::ConfigWrite { filename: Some(s) }))
            }
            Some(Some(_)) => Err(refuse(
                RESULT_ERROR,
                format_args!("'filename' parameter expected to be a string."),
            )),
        },
        Command::ConfigReload => Ok(Decision::Action(Action::ConfigReload)),
        Command::Shutdown => match args.and_then(|a| a.get("exit-value")) {
            None => Ok(Decision::Action(Action::Shutdown { exit_value: 0 })),
            Some(Value::Int(v)) => Ok(Decision::Action(Action::Shutdown { exit_value: v })),
            Some(_) => Err(refuse(
                RESULT_ERROR,
                format_args!("parameter 'exit-value' is not an integer"),
            )),
        },
        Command::DhcpDisable => dhcp_disable(args),
        Command::DhcpEnable => {
            origin(args).map(|origin| Decision::Action(Action::DhcpEnable { origin }))
        }
        Command::LeasesReclaim => match args.and_then(|a| a.get("remove")) {
            Some(Value::Bool(remove)) => Ok(Decision::Action(Action::LeasesReclaim { remove })),
            None => Err(refuse(
                RESULT_ERROR,
                format_args!("Missing mandatory 'remove' parameter."),
            )),
            Some(_) => Err(refuse(
                RESULT_ERROR,
                format_args!("'remove' parameter expected to be a boolean."),
            )),
        },
        Command::WrenTrace => trace_cmd::parse(args).map(|t| Decision::Action(Action::Trace(t))),
    };
    result.unwrap_or_else(Decision::Reply)
}

fn config_arguments(args: Option<Node<'_>>) -> Result<Node<'_>, Refusal> {
    let Some(a) = args else {
        return Err(refuse(
            RESULT_ERROR,
            format_args!("Missing mandatory 'arguments' parameter."),
        ));
    };
    match a.get("Dhcp4") {
        Some(Value::Map(_)) => Ok(a),
        Some(_) => Err(refuse(
            RESULT_ERROR,
            format_args!("'Dhcp4' parameter expected to be a map."),
        )),
        None => Err(refuse(
            RESULT_ERROR,
            format_args!("Missing mandatory 'Dhcp4' parameter."),
        )),
    }
}

fn origin(args: Option<Node<'_>>) -> Result<Origin, Refusal> {
    match args.and_then(|a| a.get("origin")) {
        None => Ok(Origin::User),
        Some(Value::Str(s)) if s.eq_str("user") => Ok(Origin::User),
        Some(Value::Str(s)) if s.eq_str("ha-partner") => Ok(Origin::HaPartner),
        Some(Value::Str(s)) => Err(refuse(
            RESULT_ERROR,
            format_args!("invalid value used for 'origin' parameter: {}", s.0),
        )),
        Some(_) => Err(refuse(
            RESULT_ERROR,
            format_args!("'origin' argument must be a string"),
        )),
    }
}

fn dhcp_disable(args: Option<Node<'_>>) -> Result<Decision<'_>, Refusal> {
    let origin = origin(args)?;
    let max_period = match args.and_then(|a| a.get("max-period")) {
        None => None,
        Some(Value::Int(v)) if v > 0 && v <= i64::from(u32::MAX) => Some(v as u32),
        Some(Value::Int(_)) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'max-period' must be positive integer"),
            ))
        }
        Some(_) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'max-period' argument must be a number"),
            ))
        }
    };
    Ok(Decision::Action(Action::DhcpDisable { max_period, origin }))
}

/// `stat-lease4-get` (`libdhcp_stat_cmds`): `{"subnet-id": N}`, `{"subnet-range":
/// {"first-subnet-id", "last-subnet-id"}}` or nothing (all subnets). Values come from the
/// statistics (total, cumulative, assigned and declined addresses per subnet).
fn stat_lease4_get<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let id = |v: Option<Value<'_>>, name: &str| -> Result<u32, Refusal> {
        match v {
            Some(Value::Int(n)) if n > 0 && n <= i64::from(u32::MAX) => Ok(n as u32),
            Some(Value::Int(_)) => Err(refuse(
                RESULT_ERROR,
                format_args!("'{name}' parameter must be > 0"),
            )),
            None => Err(refuse(
                RESULT_ERROR,
                format_args!("'{name}' parameter missing"),
            )),
            Some(_) => Err(refuse(
                RESULT_ERROR,
                format_args!("'{name}' parameter is not integer"),
            )),
        }
    };
    let (first, last, label) = match args {
        Some(a) if a.get("subnet-id").is_some() => {
            let n = id(a.get("subnet-id"), "subnet-id")?;
            if env.config.subnet_by_id(n).is_none() {
                // Kea: result 3, an empty `arguments` map (checked on kea-dhcp4 2.2).
                return Ok(Reply::NoData {
                    text: text(format_args!(
                        "stat-lease4-get[subnet-id={n}]: no matching data, subnet-id: {n} does not exist"
                    )),
                }
                .into());
            }
            (n, n, text(format_args!("subnet-id={n}")))
        }
        Some(a) if a.get("subnet-range").is_some() => {
            let Some(Value::Map(r)) = a.get("subnet-range") else {
                return Err(refuse(
                    RESULT_ERROR,
                    format_args!("'subnet-range' parameter must be a map"),
                ));
            };
            let first = id(r.get("first-subnet-id"), "first-subnet-id")?;
            let last = id(r.get("last-subnet-id"), "last-subnet-id")?;
            if last < first {
                return Err(refuse(
                    RESULT_ERROR,
                    format_args!("'last-subnet-id' must be greater than 'first-subnet-id'"),
                ));
            }
            (
                first,
                last,
                text(format_args!("subnets {first} through {last}")),
            )
        }
        _ => (1, u32::MAX, text(format_args!("all subnets"))),
    };
    let rows = env
        .stats
        .subnets()
        .iter()
        .filter(|s| (first..=last).contains(&s.id))
        .count() as u64;
    Ok(Reply::StatLease4 {
        first,
        last,
        at: env.now,
        rows,
        text: text(format_args!("stat-lease4-get[{label}]: {rows} rows found")),
    }
    .into())
}

/// `statistic-get`, `-reset`, `-remove`, `-sample-age-set`, `-sample-count-set`: Kea 2.2's
/// `StatsMgr` handlers (texts checked on kea-dhcp4 2.2). The name is checked first, then
/// the limit argument, then whether the statistic exists.
fn stat_command<'r>(
    command: Command,
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let name = match args.and_then(|a| a.get("name")) {
        Some(Value::Str(s)) => s,
        Some(_) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'name' parameter expected to be a string."),
            ))
        }
        None => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("Missing mandatory 'name' parameter."),
            ))
        }
    };
    let limit = match command {
        Command::StatisticSampleAgeSet => Some(sample_limit(args, Command::StatisticSampleAgeSet)?),
        Command::StatisticSampleCountSet => {
            Some(sample_limit(args, Command::StatisticSampleCountSet)?)
        }
        _ => None,
    };
    let mut buf = [0u8; 128];
    let raw = name.unescape(&mut buf).unwrap_or(name.0);
    let parsed = StatName::parse(raw).filter(|n| env.stats.get(*n).is_some());
    let now = env.now;
    let not_found = || refuse(RESULT_ERROR, format_args!("No '{raw}' statistic found")).into();
    Ok(match command {
        Command::StatisticGet => Reply::Statistic { name: parsed }.into(),
        Command::StatisticReset => match parsed {
            Some(n) if env.stats.reset(n, now) => {
                refuse(RESULT_SUCCESS, format_args!("Statistic '{raw}' reset.")).into()
            }
            _ => not_found(),
        },
        Command::StatisticRemove => match parsed {
            Some(n) if env.stats.remove(n) => {
                refuse(RESULT_SUCCESS, format_args!("Statistic '{raw}' removed.")).into()
            }
            _ => not_found(),
        },
        _ => match (parsed, limit) {
            (Some(n), Some(l)) if env.stats.set_limit(n, l) => {
                let which = match l {
                    SampleLimit::Age(_) => "duration",
                    SampleLimit::Count(_) => "count",
                };
                refuse(
                    RESULT_SUCCESS,
                    format_args!("Statistic '{raw}' {which} limit is set."),
                )
                .into()
            }
            _ => not_found(),
        },
    })
}

/// `statistic-sample-age-set-all` / `-count-set-all`: every statistic and the default.
fn stat_limit_all<'r>(
    command: Command,
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let limit = sample_limit(args, command)?;
    let text = match limit {
        // Kea refuses 0 here (but not in `statistic-sample-count-set`).
        SampleLimit::Count(0) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'max-samples' parameter must not be zero"),
            ))
        }
        SampleLimit::Count(_) => "All statistics count limit are set.",
        SampleLimit::Age(_) => "All statistics duration limit are set.",
    };
    env.stats.set_limit_all(limit);
    Ok(Reply::status(RESULT_SUCCESS, text).into())
}

/// The `max-samples` (count commands) or `duration` (age commands) argument.
///
/// Kea 2.2 reads both with `intValue()` into a `uint32_t` / seconds: `max-samples` -1
/// becomes 4294967295 and 4294967297 becomes 1 (wren does the same: both are "keep as many
/// as there is room for" and "keep one"). A `duration` that is not an integer fails in
/// `intValue()` with the value's position; a negative `duration` makes kea-dhcp4 2.2
/// abort (checked), so wren refuses it instead.
fn sample_limit(args: Option<Node<'_>>, command: Command) -> Result<SampleLimit, Refusal> {
    let count = matches!(
        command,
        Command::StatisticSampleCountSet | Command::StatisticSampleCountSetAll
    );
    let key = if count { "max-samples" } else { "duration" };
    let Some((value, range)) = args.and_then(|a| a.get_entry(key)) else {
        return Err(refuse(
            RESULT_ERROR,
            format_args!("Missing mandatory '{key}' parameter."),
        ));
    };
    match (value, count) {
        (Value::Int(n), true) => Ok(SampleLimit::Count(n as u32)),
        (_, true) => Err(refuse(
            RESULT_ERROR,
            format_args!("'max-samples' parameter expected to be an integer."),
        )),
        (Value::Int(n), false) => u32::try_from(n).map(SampleLimit::Age).map_err(|_| {
            refuse(
                RESULT_ERROR,
                format_args!("'duration' parameter must be between 0 and 4294967295 seconds"),
            )
        }),
        (_, false) => {
            // Kea's element position: the value's offset on its line.
            let doc = args.map_or("", |a| a.document());
            let entry = doc.get(range.clone()).unwrap_or("");
            let value_start = entry.find(':').map_or(range.start, |colon| {
                let after = entry.get(colon + 1..).unwrap_or("");
                range.start + colon + 1 + (after.len() - after.trim_start().len())
            });
            let line_start = doc
                .get(..value_start)
                .and_then(|d| d.rfind('\n'))
                .map_or(0, |i| i + 1);
            Err(refuse(
                RESULT_ERROR,
                format_args!(
                    "Error during command processing: intValue() called on non-integer Element in (<wire>:0:{})",
                    value_start.saturating_sub(line_start)
                ),
            ))
        }
    }
}

/// Argument helpers shared by the command modules. Kea's texts for missing or mistyped
/// parameters (`SimpleParser`): "missing parameter 'x' (<wire>:0:N)".
pub(crate) mod args {
    use super::{refuse, JsonStr, Node, Refusal, Value, RESULT_ERROR};
    use core::net::Ipv4Addr;

    /// The arguments map, or Kea's "Parameters missing or are not a map."
    pub fn map(args: Option<Node<'_>>) -> Result<Node<'_>, Refusal> {
        args.ok_or_else(|| {
            refuse(
                RESULT_ERROR,
                format_args!("Parameters missing or are not a map."),
            )
        })
    }

    fn missing(args: &Node<'_>, key: &str) -> Refusal {
        refuse(
            RESULT_ERROR,
            format_args!("missing parameter '{key}' (<wire>:0:{})", args.pos().column),
        )
    }

    fn mistyped(args: &Node<'_>, key: &str) -> Refusal {
        refuse(
            RESULT_ERROR,
            format_args!(
                "invalid type specified for parameter '{key}' (<wire>:0:{})",
                args.pos().column
            ),
        )
    }

    pub fn string<'r>(args: &Node<'r>, key: &str) -> Result<Option<JsonStr<'r>>, Refusal> {
        match args.get(key) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(_) => Err(mistyped(args, key)),
        }
    }

    pub fn req_string<'r>(args: &Node<'r>, key: &str) -> Result<JsonStr<'r>, Refusal> {
        string(args, key)?.ok_or_else(|| missing(args, key))
    }

    pub fn uint(args: &Node<'_>, key: &str, max: u64) -> Result<Option<u64>, Refusal> {
        match args.get(key) {
            None => Ok(None),
            Some(Value::Int(v)) if v >= 0 && (v as u64) <= max => Ok(Some(v as u64)),
            Some(Value::Int(v)) => Err(refuse(
                RESULT_ERROR,
                format_args!(
                    "out of range value ({v}) specified for parameter '{key}' (<wire>:0:{})",
                    args.pos().column
                ),
            )),
            Some(_) => Err(mistyped(args, key)),
        }
    }

    pub fn boolean(args: &Node<'_>, key: &str) -> Result<Option<bool>, Refusal> {
        match args.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(mistyped(args, key)),
        }
    }

    pub fn address(args: &Node<'_>, key: &str) -> Result<Option<Ipv4Addr>, Refusal> {
        let Some(s) = string(args, key)? else {
            return Ok(None);
        };
        s.plain()
            .and_then(crate::config::values::ipv4)
            .map(Some)
            .ok_or_else(|| {
                refuse(
                    RESULT_ERROR,
                    format_args!(
                        "Failed to convert string to address '{}': Invalid argument",
                        s.0
                    ),
                )
            })
    }

    pub fn req_address(args: &Node<'_>, key: &str) -> Result<Ipv4Addr, Refusal> {
        address(args, key)?.ok_or_else(|| missing(args, key))
    }

    /// Kea's `HWAddr::fromText` / client-id text: hex bytes separated by `:` (groups of 1–2
    /// digits), or contiguous hex. Errors name the bad digit as Kea does.
    pub fn hex<'b>(s: &JsonStr<'_>, buf: &'b mut [u8]) -> Result<&'b [u8], Refusal> {
        let text = s.plain().unwrap_or(s.0);
        let mut n = 0usize;
        let mut push = |b: u8, n: &mut usize| -> Result<(), Refusal> {
            let slot = buf.get_mut(*n).ok_or_else(|| {
                refuse(
                    RESULT_ERROR,
                    format_args!("identifier '{text}' is too long"),
                )
            })?;
            *slot = b;
            *n += 1;
            Ok(())
        };
        let digit = |c: u8, group: &str| -> Result<u8, Refusal> {
            (c as char).to_digit(16).map(|d| d as u8).ok_or_else(|| {
                refuse(
                    RESULT_ERROR,
                    format_args!(
                        "'{}' is not a valid hexadecimal digit in decoded string '{group}'",
                        c as char
                    ),
                )
            })
        };
        let groups: &mut dyn Iterator<Item = &str> = &mut text.split(':');
        let separated = text.contains(':');
        for group in groups {
            let g = group.as_bytes();
            if separated {
                match g {
                    [a] => push(digit(*a, group)?, &mut n)?,
                    [a, b] => push(digit(*a, group)? << 4 | digit(*b, group)?, &mut n)?,
                    _ => {
                        return Err(refuse(
                            RESULT_ERROR,
                            format_args!("invalid identifier '{text}'"),
                        ))
                    }
                }
            } else {
                if g.len() % 2 == 1 {
                    return Err(refuse(
                        RESULT_ERROR,
                        format_args!("invalid identifier '{text}'"),
                    ));
                }
                for pair in g.chunks(2) {
                    if let [a, b] = pair {
                        push(digit(*a, group)? << 4 | digit(*b, group)?, &mut n)?;
                    }
                }
            }
        }
        Ok(buf.get(..n).unwrap_or(&[]))
    }
}
