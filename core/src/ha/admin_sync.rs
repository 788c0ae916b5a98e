//! The administrator's `ha-sync` command (kea-ha.md §5: "`ha-sync` `{"server-name": str
//! (req), "max-period": s>0}` — synchronous sync from that peer; `Lease database
//! synchronization complete.`"): reading its arguments, choosing the partner's
//! `dhcp-disable` period, and the answer the operator gets when the sync ends.
//!
//! The sync itself is the one the state machine runs in `syncing` (kea-ha.md §6: Kea 2.2's
//! syncing state and `ha-sync` call the same `synchronize()`): `dhcp-disable` before every
//! `lease4-get-page` of `sync-page-limit` leases, the merge rule of
//! [`super::commands::sync_should_take`], then `ha-sync-complete-notify` (or `dhcp-enable`
//! for a partner that answers it with result 2). The daemon runs the exchange and defers
//! the operator's answer until it ends; this module decides what the answer says.
//!
//! Answer texts were checked on a Kea 2.2 pair (kea-dhcp4 + kea-ctrl-agent +
//! libdhcp_ha.so): the argument errors below are Kea's, word for word.

use core::fmt;

use crate::control::json_in::{Node, Value};

use super::config::HaConfig;

/// Kea 2.2's answer text when the sync ran to its end.
pub const SYNC_COMPLETE: &str = "Lease database synchronization complete.";

/// A valid `ha-sync` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HaSyncRequest<'t> {
    /// The peer to pull the leases from (the partner: wren keeps one connection, to it).
    pub server_name: &'t str,
    /// `max-period` (seconds) of the partner's `dhcp-disable`, if given.
    pub max_period_secs: Option<u32>,
}

/// Why an `ha-sync` request is refused before anything is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaSyncError<'t> {
    /// No `arguments` map (Kea: "arguments not found in the 'ha-sync' command").
    NoArguments,
    /// No `server-name` (Kea 2.2 requires it).
    ServerNameMissing,
    /// `server-name` is not a string.
    ServerNameNotString,
    /// `max-period` is not an integer > 0.
    MaxPeriodInvalid,
    /// `server-name` names no peer of the relationship. Kea 2.2's `getPeerConfig` throws
    /// "no configuration specified for server …" (its control agent then loses the
    /// connection, checked on 2.2); wren answers with the text.
    UnknownServer(&'t str),
    /// `server-name` is this server: Kea 2.2 would send the sync's commands to itself and
    /// block until the agent's timeout (checked); wren refuses at once.
    ThisServer(&'t str),
    /// `server-name` is a peer other than the partner (a backup): wren pulls leases only
    /// from the partner it keeps a connection to.
    NotThePartner(&'t str),
    /// A sync asked by an operator is already running; its answer is pending.
    InProgress,
}

impl fmt::Display for HaSyncError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HaSyncError::NoArguments => f.write_str("arguments not found in the 'ha-sync' command"),
            HaSyncError::ServerNameMissing => {
                f.write_str("'server-name' is mandatory for the 'ha-sync' command")
            }
            HaSyncError::ServerNameNotString => {
                f.write_str("'server-name' must be a string in the 'ha-sync' command")
            }
            HaSyncError::MaxPeriodInvalid => {
                f.write_str("'max-period' must be a positive integer in the 'ha-sync' command")
            }
            HaSyncError::UnknownServer(n) => {
                write!(f, "no configuration specified for server {n}")
            }
            HaSyncError::ThisServer(n) => write!(
                f,
                "'{n}' is this server: 'ha-sync' synchronizes from the partner"
            ),
            HaSyncError::NotThePartner(n) => write!(
                f,
                "'{n}' is not the partner of this server: wren synchronizes only from its partner"
            ),
            HaSyncError::InProgress => {
                f.write_str("a lease database synchronization is already in progress")
            }
        }
    }
}

/// Reads the `arguments` of an `ha-sync` command against the relationship `cfg`, in Kea's
/// order of checks (arguments, server-name, max-period, then the peer lookup).
pub fn parse_ha_sync<'t>(
    args: Option<Node<'t>>,
    cfg: &HaConfig<'_, '_>,
) -> Result<HaSyncRequest<'t>, HaSyncError<'t>> {
    let args = args.ok_or(HaSyncError::NoArguments)?;
    let server_name = match args.get("server-name") {
        None => return Err(HaSyncError::ServerNameMissing),
        Some(Value::Str(s)) => s.plain().ok_or(HaSyncError::ServerNameNotString)?,
        Some(_) => return Err(HaSyncError::ServerNameNotString),
    };
    let max_period_secs = match args.get("max-period") {
        None => None,
        Some(Value::Int(n)) if n > 0 => {
            Some(u32::try_from(n).map_err(|_| HaSyncError::MaxPeriodInvalid)?)
        }
        Some(_) => return Err(HaSyncError::MaxPeriodInvalid),
    };
    let index = cfg
        .peers
        .iter()
        .position(|p| p.name == server_name)
        .ok_or(HaSyncError::UnknownServer(server_name))?;
    if index == cfg.this_index {
        return Err(HaSyncError::ThisServer(server_name));
    }
    if cfg.partner().map(|p| p.name) != Some(server_name) {
        return Err(HaSyncError::NotThePartner(server_name));
    }
    Ok(HaSyncRequest {
        server_name,
        max_period_secs,
    })
}

/// The partner's `dhcp-disable` `max-period`: the operator's, else `sync-timeout` in
/// seconds (Kea's `synchronize()` with `max_period` 0 uses the sync timeout).
pub fn disable_period(cfg: &HaConfig<'_, '_>, requested: Option<u32>) -> u64 {
    match requested {
        Some(secs) if secs > 0 => u64::from(secs),
        _ => super::commands::sync_max_period(cfg),
    }
}

/// Why a sync (the state machine's or an operator's) failed; the operator's answer text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncFailure {
    /// The partner could not be reached or did not answer within `sync-timeout`.
    Unreachable,
    /// The partner refused `dhcp-disable`.
    DisableRefused,
    /// A `lease4-get-page` answer was not a lease page.
    BadPage,
    /// The leases could not be written to the lease file.
    LeaseFile,
    /// The partner refused `ha-sync-complete-notify` / `dhcp-enable`.
    EnableRefused,
    /// The HA configuration changed while the sync ran (the relationship restarted).
    Reconfigured,
}

impl SyncFailure {
    /// The operator's answer text.
    pub fn text(self) -> &'static str {
        match self {
            SyncFailure::Unreachable => {
                "lease database synchronization failed: the partner did not answer within sync-timeout"
            }
            SyncFailure::DisableRefused => {
                "lease database synchronization failed: the partner refused dhcp-disable"
            }
            SyncFailure::BadPage => {
                "lease database synchronization failed: the partner's lease4-get-page answer was not a lease page"
            }
            SyncFailure::LeaseFile => {
                "lease database synchronization failed: the leases could not be written to the lease file"
            }
            SyncFailure::EnableRefused => {
                "lease database synchronization failed: the partner refused ha-sync-complete-notify and dhcp-enable"
            }
            SyncFailure::Reconfigured => {
                "lease database synchronization interrupted: the HA configuration changed"
            }
        }
    }
}

/// The operator's answer to `ha-sync`: result 0 and [`SYNC_COMPLETE`], or result 1 and why
/// (Kea 2.2's `processSynchronize`: `createAnswer(sync_status, message)`).
pub fn answer(outcome: Result<(), SyncFailure>) -> (u16, &'static str) {
    match outcome {
        Ok(()) => (0, SYNC_COMPLETE),
        Err(f) => (1, f.text()),
    }
}

#[cfg(test)]
mod tests;
