//! High availability (Kea 2.2's `libdhcp_ha.so`, kea-ha.md) as the daemon runs it: the
//! core's [`HaService`] state machine driven by the event loop, the partner reached through
//! a non-blocking HTTP client ([`client`]), DHCP queries filtered and replies parked until
//! the partner acknowledged the lease updates ([`engine`]), peer and administrator HA
//! commands answered on the control listeners ([`peer_commands`]).
//!
//! Decisions (states, scopes, failure detection, the sync merge rule, command shapes) are
//! the core's (`wren_core::ha`); this module moves bytes and keeps the bookkeeping of
//! requests in flight, parked replies and the sync's paging.

pub mod client;
pub mod engine;
pub mod peer_commands;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::{Registry, Token};
use wren_core::config::Config;
use wren_core::control::json_in::Value;
use wren_core::ha::admin_sync::{self, HaSyncError, HaSyncRequest, SyncFailure};
use wren_core::ha::commands::{self, LeaseScratch};
use wren_core::ha::config::{parse_ha_parameters, HaConfig, IgnoredKey, Peer, EMPTY_PEER};
use wren_core::ha::state::{Action, BackupUpdates, HaService, HaState, UpdateDecision};
use wren_core::lease::LeaseRecord;
use wren_core::time::Timestamp;

use crate::control::auth::{BasicAuth, Credential};
use crate::control::Listener;
use crate::packet_path::{Engine, Hold, Journal};
use client::{Completion, PeerClient, REQUEST_TIMEOUT};

/// The partner connection's token (between the fixed tokens and the link tokens).
pub const CLIENT_TOKEN: Token = Token(3);
/// The backup peers' connections (one token for all: every client is driven on every
/// wakeup, the token only wakes the loop).
pub const BACKUP_TOKEN: Token = Token(4);
/// Lease updates waiting for one backup at most: a down or slow backup fills its own
/// queue, then its updates are dropped (logged) while the clients are still answered.
pub const BACKUP_QUEUE_CAPACITY: usize = 1024;
/// Parallel connections to one backup.
pub const BACKUP_CONNECTIONS: usize = 2;
/// Kea's `parked-packet-limit` default: replies waiting for lease update acks at most.
pub const PARKED_LIMIT: usize = 256;
/// Requests waiting for the partner at most (lease updates of parked replies, heartbeats,
/// sync pages): a slow partner fills it, then updates fail and replies are dropped.
pub const QUEUE_CAPACITY: usize = 1024;
/// Parallel connections to the partner: several lease updates in flight at once, so the
/// update rate is not one per round trip of two busy event loops.
pub const CONNECTIONS: usize = 4;
/// Distinct clients failure detection remembers while communication is interrupted.
const FAILURE_DETECTION_CLIENTS: usize = 4096;
/// Largest request body (a lease with a large user context).
const BODY_BUFFER: usize = 64 * 1024;

/// What a request to the partner was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// `ha-heartbeat`.
    Heartbeat,
    /// A `lease4-update`/`lease4-del` of the parked reply `park`.
    Update {
        /// Park id.
        park: u32,
    },
    /// A communication-recovery backlog entry; `last` ends the backlog.
    Backlog {
        /// The backlog's last entry.
        last: bool,
    },
    /// The sync's `dhcp-disable` before the page starting after `from`.
    SyncDisable {
        /// Page start (`None` = `start`).
        from: Option<Ipv4Addr>,
    },
    /// A `lease4-get-page` starting after `from`.
    SyncPage {
        /// Page start (`None` = `start`).
        from: Option<Ipv4Addr>,
    },
    /// `ha-sync-complete-notify` at the end of the sync.
    SyncComplete,
    /// `dhcp-enable` for a partner that does not know `ha-sync-complete-notify`.
    SyncEnable,
    /// `dhcp-enable` after a failed sync that had disabled the partner (Kea's
    /// `synchronize()`: "whether or not there was an error while fetching the leases, we
    /// need to re-enable the DHCP service on the peer"); fire and forget.
    SyncRelease,
    /// `ha-reset` (fire and forget).
    Reset,
    /// `ha-maintenance-notify` (fire and forget; see [`peer_commands`]).
    MaintenanceNotify,
    /// A `lease4-update`/`lease4-del` to a backup peer: the parked reply `park` waits for
    /// it (passive-backup with `wait-backup-ack`), or nothing does.
    BackupUpdate {
        /// Park id, if the reply waits.
        park: Option<u32>,
    },
}

/// One backup peer (kea-ha.md §6): it gets every lease update over its own bounded queue,
/// so a down backup never holds up the partner's updates or the clients.
struct BackupLink {
    peer: &'static Peer<'static>,
    password: Option<String>,
    client: PeerClient<Tag>,
}

/// One reply's lease updates in flight.
#[derive(Clone, Copy, Debug, Default)]
struct Park {
    used: bool,
    generation: u16,
    pending: u32,
    failed: bool,
}

/// Where the operator's `ha-sync` is (kea-ha.md §5; one at a time, as Kea runs it
/// synchronously).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AdminSync {
    /// None asked.
    Idle,
    /// Running; the operator's connection waits for the answer under this ticket.
    Running(u64),
}

/// An operator's deferred answer, ready: (ticket, result, text).
pub type DeferredAnswer = (u64, u16, &'static str);

/// The lease changes of the query being handled, formatted as request bodies.
#[derive(Debug, Default)]
pub struct Staging {
    bodies: Vec<u8>,
    ranges: Vec<(usize, usize)>,
    tmp: Vec<u8>,
}

impl Staging {
    fn clear(&mut self) {
        self.bodies.clear();
        self.ranges.clear();
    }

    /// Formats `record` as `lease4-del` (a removal) or `lease4-update`.
    pub fn push(&mut self, record: &LeaseRecord<'_>) {
        if self.tmp.len() < BODY_BUFFER {
            self.tmp.resize(BODY_BUFFER, 0);
        }
        let written = if record.is_removal() {
            commands::lease4_del_request(&mut self.tmp, record)
        } else {
            commands::lease4_update_request(&mut self.tmp, record)
        };
        match written {
            Ok(n) => {
                let start = self.bodies.len();
                self.bodies
                    .extend_from_slice(self.tmp.get(..n).unwrap_or(&[]));
                self.ranges.push((start, self.bodies.len()));
            }
            Err(_) => log::error!(
                "HA_LEASE_UPDATE_FAILED lease {} too large for a lease update",
                record.address
            ),
        }
    }

    fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// The HA relationship of this server, shared by the event loop, the engine wrapper and
/// the control hook (one thread: `Rc<RefCell<…>>`).
pub type Shared = Rc<RefCell<HaRuntime>>;

/// The HA runtime.
pub struct HaRuntime {
    svc: HaService<'static, 'static, 'static, 'static>,
    params: &'static str,
    partner: Option<&'static Peer<'static>>,
    password: Option<String>,
    client: Option<PeerClient<Tag>>,
    /// The backup peers' connections (none on a backup itself).
    backups: Vec<BackupLink>,
    epoch: Instant,
    parks: Vec<Park>,
    completed: Vec<(u32, bool)>,
    /// The query being handled.
    pub staging: Staging,
    /// Communication-recovery backlog (request bodies), ≤ `delayed-updates-limit`.
    backlog: VecDeque<Vec<u8>>,
    /// Reused backlog buffers (nothing allocated per query once warm).
    backlog_free: Vec<Vec<u8>>,
    outbox: VecDeque<Tag>,
    body: Vec<u8>,
    lease_scratch: Box<LeaseScratch>,
    sync_leases: u64,
    lift_partner_disable: bool,
    /// An `ha-maintenance-start` waits for its notify's outcome (the operator's ticket).
    pending_maintenance: Option<u64>,
    /// Deferred answers ready for the control server.
    answers: VecDeque<DeferredAnswer>,
    /// The next deferred answer's ticket.
    next_ticket: u64,
    /// A sync (the state machine's, an operator's, or both) is running.
    sync_running: bool,
    /// The state machine waits for the running sync (`on_sync_done`).
    sync_for_machine: bool,
    /// The partner's `dhcp-disable` `max-period` of the running sync.
    sync_period: Option<u64>,
    /// The running sync's `dhcp-disable` was accepted (re-enable it if the sync fails).
    partner_disabled: bool,
    /// The operator's `ha-sync`.
    admin_sync: AdminSync,
    /// `HA_<name>` of the primary's and the secondary/standby's scope.
    scope_classes: [&'static [u8]; 2],
}

fn monotonic_ms(epoch: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The `parameters` text of the `libdhcp_ha.so` hook library, if configured.
pub fn ha_parameters<'c>(config: &'c Config<'_>) -> Option<&'c str> {
    config.hooks.iter().find_map(|h| {
        let library = config.str(h.library);
        let file = library.rsplit('/').next().unwrap_or(library);
        (file == "libdhcp_ha.so").then(|| config.str(h.parameters))
    })
}

/// Checks the HA parameters of `config` as the start would (for `-t` and reloads).
pub fn check(config: &Config<'_>) -> Result<(), String> {
    let Some(params) = ha_parameters(config) else {
        return Ok(());
    };
    let mut peers = vec![EMPTY_PEER; peer_slots(params)];
    let cfg = parse_ha_parameters(params, &mut peers)
        .map_err(|e| format!("libdhcp_ha.so parameters: {e}"))?;
    partner_reachable(&cfg)
}

/// The partner must be reachable over plain HTTP: an `https://` partner would never
/// answer, so the start is refused (as by `-t`) rather than running half an HA pair.
fn partner_reachable(cfg: &HaConfig<'_, '_>) -> Result<(), String> {
    match cfg.partner() {
        Some(p) if p.tls => Err(format!(
            "libdhcp_ha.so: peer '{}' uses https, which wren does not support yet",
            p.name
        )),
        _ => Ok(()),
    }
}

/// One warning per HA key wren accepts but does not act on (TLS keys, `multi-threading`,
/// `restrict-commands`, `require-client-certs`, this server's or a backup's `https://`
/// url): `file:line: key path: what wren does instead`. Nothing is ignored silently
/// (issue 6); the line is that of the key's first occurrence in the relationship (or in
/// the peer's entry), when it can be found in `text`.
pub fn ignored_key_warnings(
    config: &Config<'_>,
    path: &std::path::Path,
    text: &str,
) -> Vec<String> {
    let Some(params) = ha_parameters(config) else {
        return Vec::new();
    };
    let mut peers = vec![EMPTY_PEER; peer_slots(params)];
    let Ok(cfg) = parse_ha_parameters(params, &mut peers) else {
        return Vec::new();
    };
    let partner = cfg.partner().map(|p| p.name);
    let start = text.find("\"high-availability\"").unwrap_or(0);
    cfg.ignored_keys()
        .filter(|(peer, key)| {
            // An https partner is refused by `check`, not warned about.
            !(*key == IgnoredKey::HttpsUrl && peer.map(|p| p.name) == partner)
        })
        .map(|(peer, key)| {
            let from = match peer {
                Some(p) => peer_entry_start(text, start, p.name).unwrap_or(start),
                None => start,
            };
            let line = text
                .get(from..)
                .and_then(|t| t.find(&format!("\"{}\"", key.name())))
                .map(|at| 1 + text.get(..from + at).unwrap_or("").matches('\n').count());
            let place = match peer {
                Some(p) => format!("high-availability[0].peers[name={}].{}", p.name, key.name()),
                None => format!("high-availability[0].{}", key.name()),
            };
            let location = match line {
                Some(l) => format!("{}:{l}", path.display()),
                None => path.display().to_string(),
            };
            format!(
                "{location}: hooks-libraries libdhcp_ha.so {place} ignored: {}",
                key.consequence()
            )
        })
        .collect()
}

/// Where the `peers[]` entry named `name` starts in `text` (the `{` before its name).
fn peer_entry_start(text: &str, from: usize, name: &str) -> Option<usize> {
    let tail = text.get(from..)?;
    let quoted = format!("\"{name}\"");
    let mut at = 0;
    while let Some(i) = tail.get(at..)?.find(&quoted) {
        let hit = at + i;
        // The value of a "name" key: `"name"`, optional blanks, `:`, optional blanks.
        let before = tail.get(..hit)?.trim_end();
        if before.ends_with(':')
            && before
                .trim_end_matches(':')
                .trim_end()
                .ends_with("\"name\"")
        {
            return tail.get(..hit)?.rfind('{').map(|b| from + b);
        }
        at = hit + quoted.len();
    }
    None
}

fn peer_slots(params: &str) -> usize {
    // Every peer is a map with a "url": more slots than peers is harmless.
    params.matches("\"url\"").count().max(2)
}

fn read_password_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|e| format!("basic-auth-password-file {path}: {e}"))
}

/// The password this server sends to `peer` (its `basic-auth-password` or the file's).
fn peer_password(peer: &Peer<'_>) -> Result<Option<String>, String> {
    match (peer.basic_auth_password, peer.basic_auth_password_file) {
        (Some(pw), _) => Ok(Some(pw.to_owned())),
        (None, Some(file)) => read_password_file(file).map(Some),
        (None, None) => Ok(None),
    }
}

impl HaRuntime {
    /// Builds the HA runtime when `config` loads `libdhcp_ha.so`. The parameter text and
    /// the peers are kept for the life of the process (the state machine borrows them).
    pub fn from_config(config: &Config<'_>) -> Result<Option<HaRuntime>, String> {
        let Some(params) = ha_parameters(config) else {
            return Ok(None);
        };
        let params: &'static str = Box::leak(params.to_owned().into_boxed_str());
        let peers: &'static mut [Peer<'static>] =
            Box::leak(vec![EMPTY_PEER; peer_slots(params)].into_boxed_slice());
        let cfg = parse_ha_parameters(params, peers)
            .map_err(|e| format!("libdhcp_ha.so parameters: {e}"))?;
        let cfg: &'static HaConfig<'static, 'static> = Box::leak(Box::new(cfg));
        let clients: &'static mut [u64] =
            Box::leak(vec![0u64; FAILURE_DETECTION_CLIENTS].into_boxed_slice());
        let partner = cfg.partner();
        let password = match partner {
            Some(p) => peer_password(p)?,
            None => None,
        };
        partner_reachable(cfg)?;
        // A backup's https url is only warned about (`ignored_key_warnings`): its updates
        // go out as plain HTTP and fail, logged, without delaying any client.
        // A backup sends nothing (`HaConfig::backups` is empty there).
        let mut backups = Vec::new();
        for peer in cfg.backups() {
            backups.push(BackupLink {
                peer,
                password: peer_password(peer)?,
                client: PeerClient::new(
                    SocketAddr::new(peer.address, peer.port),
                    BACKUP_TOKEN,
                    BACKUP_QUEUE_CAPACITY,
                    BACKUP_CONNECTIONS,
                ),
            });
        }
        let epoch = Instant::now();
        let client = partner.map(|p| {
            PeerClient::new(
                SocketAddr::new(p.address, p.port),
                CLIENT_TOKEN,
                QUEUE_CAPACITY,
                CONNECTIONS,
            )
        });
        log::info!(
            "HA_SERVICE_STARTED {} ({}), mode {}, partner {}, backups [{}]{}",
            cfg.this_server_name,
            cfg.this_role().name(),
            cfg.mode.name(),
            partner.map_or("none", |p| p.url),
            backups
                .iter()
                .map(|b| b.peer.url)
                .collect::<Vec<_>>()
                .join(", "),
            if cfg.wait_backup_ack {
                ", replies wait for the backups' acks"
            } else {
                ""
            }
        );
        Ok(Some(HaRuntime {
            svc: HaService::new(cfg, clients, 0),
            params,
            partner,
            password,
            client,
            backups,
            epoch,
            parks: vec![Park::default(); PARKED_LIMIT],
            completed: Vec::with_capacity(PARKED_LIMIT),
            staging: Staging::default(),
            backlog: VecDeque::with_capacity(cfg.delayed_updates_limit as usize),
            backlog_free: Vec::new(),
            outbox: VecDeque::with_capacity(16),
            body: vec![0; BODY_BUFFER],
            lease_scratch: Box::default(),
            sync_leases: 0,
            lift_partner_disable: false,
            pending_maintenance: None,
            answers: VecDeque::with_capacity(4),
            next_ticket: 1,
            sync_running: false,
            sync_for_machine: false,
            sync_period: Some(commands::sync_max_period(cfg)),
            partner_disabled: false,
            admin_sync: AdminSync::Idle,
            scope_classes: [0, 1].map(|i| -> &'static [u8] {
                match cfg.scope_owner(i) {
                    Some(p) => Box::leak(format!("HA_{}", p.name).into_bytes().into_boxed_slice()),
                    None => &[],
                }
            }),
        }))
    }

    /// Wraps the runtime for sharing.
    pub fn shared(self) -> Shared {
        Rc::new(RefCell::new(self))
    }

    /// Whether a reloaded config carries the same HA parameters (otherwise a restart is
    /// needed to apply them; the running relationship stays).
    pub fn same_parameters(&self, config: &Config<'_>) -> bool {
        ha_parameters(config) == Some(self.params)
    }

    /// The state machine.
    pub fn service(&self) -> &HaService<'static, 'static, 'static, 'static> {
        &self.svc
    }

    /// The state machine, mutable (commands).
    pub fn service_mut(&mut self) -> &mut HaService<'static, 'static, 'static, 'static> {
        &mut self.svc
    }

    /// Monotonic milliseconds for the state machine.
    pub fn now_ms(&self) -> u64 {
        monotonic_ms(self.epoch, Instant::now())
    }

    /// The listener this server must offer its partner: this peer's `url`, unless a
    /// control socket already listens there. Its credentials are this peer's
    /// `basic-auth-user`/`-password` (what the partner sends, since both configs share the
    /// peer list). `None` when covered or when there is no partner.
    pub fn listener(&self, existing: &[Listener]) -> Result<Option<Listener>, String> {
        let cfg = self.svc.config();
        let Some(this) = cfg.this() else {
            return Ok(None);
        };
        // A backup has no partner but receives every lease update; a passive-backup
        // primary gets nothing from its backups but answers admin commands there as Kea's
        // Control Agent would.
        if cfg.peers.len() < 2 {
            return Ok(None);
        }
        let address = SocketAddr::new(this.address, this.port);
        let covered = existing.iter().any(|l| match l {
            Listener::Http { address: a, .. } => {
                a.port() == address.port() && (a.ip() == address.ip() || a.ip().is_unspecified())
            }
            Listener::Unix(_) => false,
        });
        if covered {
            return Ok(None);
        }
        let auth = match this.basic_auth_user {
            Some(user) => {
                let password = match (this.basic_auth_password, this.basic_auth_password_file) {
                    (Some(p), _) => p.to_owned(),
                    (None, Some(f)) => read_password_file(f)?,
                    (None, None) => String::new(),
                };
                Some(BasicAuth {
                    realm: "kea-control-agent".to_owned(),
                    clients: vec![Credential::new(user, &password)],
                })
            }
            None => {
                log::warn!(
                    "HA_LISTENER_UNAUTHENTICATED the HA listener http://{address}/ checks no credentials: set basic-auth-user/basic-auth-password on peer '{}' (the partner sends them)",
                    this.name
                );
                None
            }
        };
        Ok(Some(Listener::Http { address, auth }))
    }

    // ----- the packet path -----

    /// A reply's lease changes were committed (REQUEST/RELEASE/DECLINE with changes in
    /// [`HaRuntime::staging`]): send them to the partner and park the reply, keep them for
    /// the backlog, or count them unsent; and send them to every backup (the reply waits
    /// for the backups only with `wait-backup-ack`). Returns what happens to the reply:
    /// parked under an id, sent, or dropped (no room to park it or to queue its waited
    /// updates).
    pub fn lease_committed(&mut self) -> Hold {
        if self.staging.is_empty() {
            return Hold::Send;
        }
        let changes = u32::try_from(self.staging.ranges.len()).unwrap_or(u32::MAX);
        let partner = self.svc.on_lease_changes_committed(changes);
        let backups = self.svc.backup_updates();
        if partner == UpdateDecision::Backlog {
            for &(a, b) in &self.staging.ranges {
                let mut entry = self.backlog_free.pop().unwrap_or_default();
                entry.clear();
                entry.extend_from_slice(self.staging.bodies.get(a..b).unwrap_or(&[]));
                self.backlog.push_back(entry);
            }
        }
        if backups == BackupUpdates::FireAndForget {
            self.send_to_backups(None);
        }
        let partner_waits = partner == UpdateDecision::SendAndPark
            && self.client.is_some()
            && self.partner.is_some();
        let backups_wait = backups == BackupUpdates::SendAndPark && !self.backups.is_empty();
        if !partner_waits && !backups_wait {
            return Hold::Send;
        }
        let needed = self.staging.ranges.len();
        if partner_waits && self.client.as_ref().map_or(0, PeerClient::room) < needed {
            log::warn!("HA_LEASE_UPDATE_FAILED request queue to the partner full: reply dropped");
            let now = monotonic_ms(self.epoch, Instant::now());
            self.svc.on_lease_update_result(now, false);
            return Hold::Drop;
        }
        if backups_wait {
            if let Some(full) = self.backups.iter().find(|b| b.client.room() < needed) {
                // Kea drops the exchange when a waited backup update fails; the backup
                // itself is not marked (it has no state to mark).
                log::warn!(
                    "HA_LEASE_UPDATE_FAILED request queue to backup {} full: reply dropped",
                    full.peer.name
                );
                return Hold::Drop;
            }
        }
        let Some(index) = self.parks.iter().position(|p| !p.used) else {
            log::warn!("HA_LEASE_UPDATE_FAILED {PARKED_LIMIT} replies parked: reply dropped");
            return Hold::Drop;
        };
        let Some(park) = self.parks.get_mut(index) else {
            return Hold::Drop;
        };
        park.used = true;
        park.generation = park.generation.wrapping_add(1);
        park.failed = false;
        park.pending = 0;
        let id = (u32::from(park.generation) << 16) | index as u32;
        if partner_waits {
            if let (Some(client), Some(peer)) = (self.client.as_mut(), self.partner) {
                for &(a, b) in &self.staging.ranges {
                    let body = self.staging.bodies.get(a..b).unwrap_or(&[]);
                    let queued = enqueue(
                        client,
                        peer,
                        self.password.as_deref(),
                        Tag::Update { park: id },
                        body,
                        REQUEST_TIMEOUT,
                    );
                    if queued {
                        park.pending += 1;
                    } else {
                        park.failed = true;
                    }
                }
            }
        }
        if backups_wait {
            let queued = self.send_to_backups(Some(id));
            if let Some(park) = self.parks.get_mut(index) {
                park.pending += queued.0;
                park.failed |= queued.1;
            }
        }
        let Some(park) = self.parks.get_mut(index) else {
            return Hold::Drop;
        };
        if park.pending == 0 {
            park.used = false;
            return Hold::Drop;
        }
        if park.failed {
            // Some update could not even be queued: the reply is dropped once the queued
            // ones answered (they still update the peers).
            log::warn!("HA_LEASE_UPDATE_FAILED a lease update could not be queued");
        }
        Hold::Park(id)
    }

    /// Queues the staged changes to every backup (`park`: the reply waiting for them).
    /// Returns (requests queued, whether any could not be queued). A backup whose queue
    /// is full loses these updates (logged); the others still get them.
    fn send_to_backups(&mut self, park: Option<u32>) -> (u32, bool) {
        let mut queued = 0u32;
        let mut refused = false;
        for link in &mut self.backups {
            if link.client.room() < self.staging.ranges.len() {
                log::warn!(
                    "HA_LEASE_UPDATE_FAILED {}: request queue to backup {} full: {} lease updates not sent",
                    self.svc.config().this_server_name,
                    link.peer.name,
                    self.staging.ranges.len()
                );
                refused = true;
                continue;
            }
            for &(a, b) in &self.staging.ranges {
                let body = self.staging.bodies.get(a..b).unwrap_or(&[]);
                if enqueue(
                    &mut link.client,
                    link.peer,
                    link.password.as_deref(),
                    Tag::BackupUpdate { park },
                    body,
                    REQUEST_TIMEOUT,
                ) {
                    queued += 1;
                } else {
                    refused = true;
                }
            }
        }
        (queued, refused)
    }

    /// The class Kea's HA hook puts `query` in: `HA_<owner of its scope>`.
    pub fn hook_class(&self, query: &wren_core::ha::load_balance::QueryFacts<'_>) -> &'static [u8] {
        wren_core::ha::load_balance::scope_of(query, self.svc.config().mode)
            .ok()
            .and_then(|i| self.scope_classes.get(i).copied())
            .unwrap_or(&[])
    }

    /// Replies whose updates all answered since the last call: `(park id, acked)`.
    pub fn take_completed(&mut self, out: &mut Vec<(u32, bool)>) {
        out.clear();
        out.append(&mut self.completed);
    }

    /// Whether the partner's `dhcp-disable` must be lifted (its sync completed).
    pub fn take_lift_partner_disable(&mut self) -> bool {
        std::mem::take(&mut self.lift_partner_disable)
    }

    /// Queues a `ha-maintenance-notify` to the partner.
    pub fn send_maintenance_notify(&mut self, cancel: bool) -> bool {
        let (Some(client), Some(peer)) = (self.client.as_mut(), self.partner) else {
            return false;
        };
        let n = commands::maintenance_notify_request(&mut self.body, cancel).unwrap_or(0);
        enqueue(
            client,
            peer,
            self.password.as_deref(),
            Tag::MaintenanceNotify,
            self.body.get(..n).unwrap_or(&[]),
            REQUEST_TIMEOUT,
        )
    }

    /// The nearest time the runtime needs a wakeup.
    pub fn next_deadline(&self) -> Option<Instant> {
        let svc = self
            .svc
            .next_deadline()
            .map(|ms| self.epoch + Duration::from_millis(ms));
        let client = self
            .client
            .iter()
            .chain(self.backups.iter().map(|b| &b.client))
            .filter_map(PeerClient::next_deadline)
            .min();
        // Failure detection: partner-down may become due without any event.
        let interrupt = (!self.svc.communication_interrupted(self.now_ms())).then(|| {
            self.epoch
                + Duration::from_millis(
                    self.now_ms()
                        .saturating_sub(self.svc.contact_age_ms(self.now_ms()))
                        .saturating_add(u64::from(self.svc.config().max_response_delay_ms) + 1),
                )
        });
        [svc, client, interrupt].into_iter().flatten().min()
    }

    /// Once per loop wakeup (and on the client token's events): runs the state machine's
    /// actions, moves the partner connection's bytes and handles the answers. The sync's
    /// leases go into the engine's table and the lease file.
    pub fn tick<E: Engine, J: Journal>(
        &mut self,
        registry: &Registry,
        engine: &mut E,
        journal: &mut J,
    ) {
        for _ in 0..8 {
            let now = Instant::now();
            let now_ms = monotonic_ms(self.epoch, now);
            while let Some(action) = self.svc.poll(now_ms) {
                self.act(action, now_ms);
            }
            self.flush_outbox();
            let mut progressed = self.drive_backups(registry, now);
            let Some(mut client) = self.client.take() else {
                if progressed {
                    continue;
                }
                return;
            };
            client.drive(registry, now, &mut |c, body| {
                progressed = true;
                self.complete(c, body, engine, journal);
            });
            self.client = Some(client);
            if !progressed && self.outbox.is_empty() {
                let more = self.svc.poll(now_ms);
                match more {
                    Some(a) => self.act(a, now_ms),
                    None => return,
                }
            }
        }
    }

    /// Moves the backups' bytes and settles their answers: a failure is logged as Kea
    /// logs it and, only when the reply waits for the backups (`wait-backup-ack`), drops
    /// that reply; no state changes (kea-ha.md §6). True when any request finished.
    fn drive_backups(&mut self, registry: &Registry, now: Instant) -> bool {
        let this = self.svc.config().this_server_name;
        let mut progressed = false;
        for link in &mut self.backups {
            let name = link.peer.name;
            let (parks, completed) = (&mut self.parks, &mut self.completed);
            link.client.drive(registry, now, &mut |c, body| {
                progressed = true;
                let ok = match &c.result {
                    Err(f) => {
                        log::warn!(
                            "HA_LEASE_UPDATE_COMMUNICATIONS_FAILED {this}: failed to communicate with {name}: {f}"
                        );
                        false
                    }
                    Ok(_) => {
                        let text = std::str::from_utf8(body).unwrap_or("");
                        let ok = commands::expect_success(text, true).is_ok();
                        if !ok {
                            log::warn!(
                                "HA_LEASE_UPDATE_FAILED {this}: lease update to {name} failed: {text}"
                            );
                        }
                        ok
                    }
                };
                if let Tag::BackupUpdate { park: Some(id) } = c.tag {
                    settle(parks, completed, id, ok);
                }
            });
        }
        progressed
    }

    fn act(&mut self, action: Action, now_ms: u64) {
        match action {
            Action::SendHeartbeat => self.outbox.push_back(Tag::Heartbeat),
            Action::Synchronize => {
                self.sync_for_machine = true;
                if !self.sync_running {
                    self.begin_sync(Some(commands::sync_max_period(self.svc.config())));
                }
            }
            Action::SendBacklog => {
                if self.backlog.is_empty() {
                    self.svc.on_backlog_sent(now_ms, true);
                } else {
                    let n = self.backlog.len();
                    for i in 0..n {
                        self.outbox.push_back(Tag::Backlog { last: i + 1 == n });
                    }
                }
            }
            Action::SendReset => self.outbox.push_back(Tag::Reset),
            Action::EnableDhcp => log::info!("HA_LOCAL_DHCP_ENABLE local DHCP service is enabled"),
            Action::DisableDhcp => {
                log::info!("HA_LOCAL_DHCP_DISABLE local DHCP service is disabled")
            }
            Action::EnablePartnerDisabled => self.lift_partner_disable = true,
            Action::StateChanged { from, to } => {
                let partner = match self.svc.partner_state() {
                    wren_core::ha::state::PartnerState::Known(s) => s.name(),
                    wren_core::ha::state::PartnerState::Unavailable => "unavailable",
                    wren_core::ha::state::PartnerState::Unknown => "unknown",
                };
                log::info!(
                    "HA_STATE_TRANSITION {}: server transitions from {} to {} state, partner state is {}",
                    self.svc.config().this_server_name,
                    from.name().to_uppercase(),
                    to.name().to_uppercase(),
                    partner.to_uppercase()
                );
                // Kea clears the backlog when leaving communication-recovery.
                if to == HaState::Waiting || from == HaState::CommunicationRecovery {
                    self.backlog_free.extend(self.backlog.drain(..));
                }
            }
        }
    }

    /// Starts the sync exchange (kea-ha.md §6) with the partner's `dhcp-disable` for
    /// `period` seconds.
    fn begin_sync(&mut self, period: Option<u64>) {
        self.sync_leases = 0;
        self.sync_running = true;
        self.sync_period = period;
        self.partner_disabled = false;
        log::info!(
            "HA_SYNC_START {}: starting lease database synchronization with {}",
            self.svc.config().this_server_name,
            self.partner.map_or("", |p| p.name)
        );
        self.outbox.push_back(Tag::SyncDisable { from: None });
    }

    /// The operator's `ha-sync` (kea-ha.md §5): runs the start-up sync's exchange with
    /// the partner (or joins the state machine's, already running); its outcome is taken
    /// with [`HaRuntime::take_answer`] under the returned ticket.
    pub fn start_admin_sync(
        &mut self,
        request: &HaSyncRequest<'_>,
    ) -> Result<u64, HaSyncError<'static>> {
        if self.admin_sync != AdminSync::Idle {
            return Err(HaSyncError::InProgress);
        }
        let ticket = self.ticket();
        self.admin_sync = AdminSync::Running(ticket);
        if !self.sync_running {
            self.begin_sync(admin_sync::disable_period(request.max_period_secs));
        }
        Ok(ticket)
    }

    fn ticket(&mut self) -> u64 {
        let t = self.next_ticket;
        self.next_ticket = self.next_ticket.wrapping_add(1).max(1);
        t
    }

    /// The next operator answer that became ready (`ha-sync`, `ha-maintenance-start`).
    pub fn take_answer(&mut self) -> Option<DeferredAnswer> {
        self.answers.pop_front()
    }

    /// `ha-maintenance-start` accepted by the state: sends the partner
    /// `ha-maintenance-notify` and returns the ticket of the operator's answer, which Kea
    /// gives once the partner answered (kea-ha.md §5: partner OK → partner-in-maintenance,
    /// unreachable → partner-down). `Err` with Kea's refusal text when one is pending or the
    /// notify cannot be queued.
    pub fn start_maintenance(&mut self) -> Result<u64, &'static str> {
        if self.pending_maintenance.is_some() {
            return Err("A maintenance request is already in progress.");
        }
        if !self.send_maintenance_notify(false) {
            return Err("Unable to send the maintenance notification to the partner.");
        }
        let ticket = self.ticket();
        self.pending_maintenance = Some(ticket);
        Ok(ticket)
    }

    /// Turns the queued tags into requests.
    fn flush_outbox(&mut self) {
        let (Some(client), Some(peer)) = (self.client.as_mut(), self.partner) else {
            self.outbox.clear();
            return;
        };
        let cfg = self.svc.config();
        let mut sync_unsent = false;
        while let Some(tag) = self.outbox.pop_front() {
            let mut timeout = REQUEST_TIMEOUT;
            let written = match tag {
                Tag::Heartbeat => commands::heartbeat_request(&mut self.body),
                Tag::SyncDisable { .. } => {
                    commands::dhcp_disable_request_for(&mut self.body, self.sync_period)
                }
                Tag::SyncPage { from } => {
                    commands::lease4_get_page_request(&mut self.body, from, cfg.sync_page_limit)
                }
                Tag::SyncComplete => {
                    commands::simple_request(&mut self.body, "ha-sync-complete-notify")
                }
                Tag::SyncEnable | Tag::SyncRelease => commands::dhcp_enable_request(&mut self.body),
                Tag::Reset => commands::simple_request(&mut self.body, "ha-reset"),
                Tag::MaintenanceNotify => Ok(0),
                Tag::Backlog { .. } => {
                    let Some(entry) = self.backlog.pop_front() else {
                        continue;
                    };
                    let n = entry.len().min(self.body.len());
                    if let (Some(dst), Some(src)) = (self.body.get_mut(..n), entry.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    self.backlog_free.push(entry);
                    Ok(n)
                }
                Tag::Update { .. } | Tag::BackupUpdate { .. } => Ok(0),
            };
            if let Tag::SyncDisable { .. } | Tag::SyncPage { .. } = tag {
                timeout = Duration::from_millis(u64::from(cfg.sync_timeout_ms.max(1000)));
            }
            let Ok(n) = written else {
                continue;
            };
            let body = self.body.get(..n).unwrap_or(&[]);
            if !enqueue(client, peer, self.password.as_deref(), tag, body, timeout) {
                let now = monotonic_ms(self.epoch, Instant::now());
                sync_unsent |= matches!(
                    tag,
                    Tag::SyncDisable { .. }
                        | Tag::SyncPage { .. }
                        | Tag::SyncComplete
                        | Tag::SyncEnable
                );
                fail_tag(
                    &mut self.svc,
                    tag,
                    now,
                    &mut self.parks,
                    &mut self.completed,
                );
            }
        }
        // A sync request that could not even be queued ends the sync (a waiting operator's
        // `ha-sync` is answered instead of waiting for an answer that never comes).
        if sync_unsent {
            let now = monotonic_ms(self.epoch, Instant::now());
            self.sync_failed(now, SyncFailure::Unreachable);
        }
    }

    fn complete<E: Engine, J: Journal>(
        &mut self,
        c: Completion<Tag>,
        body: &[u8],
        engine: &mut E,
        journal: &mut J,
    ) {
        let now = monotonic_ms(self.epoch, Instant::now());
        let text = std::str::from_utf8(body).unwrap_or("");
        let name = self.partner.map_or("", |p| p.name);
        if let Err(f) = &c.result {
            if c.tag == Tag::Heartbeat {
                log::warn!(
                    "HA_HEARTBEAT_COMMUNICATIONS_FAILED failed to send heartbeat to {name}: {f}"
                );
            } else {
                log::warn!("HA_COMMAND_FAILED {:?} to {name} failed: {f}", c.tag);
            }
            fail_tag(
                &mut self.svc,
                c.tag,
                now,
                &mut self.parks,
                &mut self.completed,
            );
            if c.tag == Tag::MaintenanceNotify {
                if let Some(ticket) = self.pending_maintenance.take() {
                    self.maintenance_outcome(ticket, None);
                }
            }
            if matches!(
                c.tag,
                Tag::SyncDisable { .. }
                    | Tag::SyncPage { .. }
                    | Tag::SyncComplete
                    | Tag::SyncEnable
            ) {
                let why = match f {
                    client::Failure::Connect(e) if e.contains("Connection refused") => {
                        SyncFailure::ConnectionRefused
                    }
                    _ => SyncFailure::Unreachable,
                };
                self.sync_failed(now, why);
            }
            return;
        }
        match c.tag {
            Tag::Heartbeat => match commands::parse_heartbeat(text, self.svc.config()) {
                Ok(hb) => self.svc.on_heartbeat_ok(now, unix_secs(), hb),
                Err(e) => {
                    log::warn!("HA_HEARTBEAT_FAILED heartbeat answer of {name} rejected: {e:?}");
                    self.svc.on_heartbeat_failed(now);
                }
            },
            Tag::Update { park } => {
                let ok = commands::expect_success(text, true).is_ok();
                if !ok {
                    log::warn!("HA_LEASE_UPDATE_FAILED {name} refused a lease update: {text}");
                    self.svc.on_lease_update_result(now, false);
                }
                settle(&mut self.parks, &mut self.completed, park, ok);
            }
            Tag::Backlog { last } => {
                let ok = commands::expect_success(text, true).is_ok();
                if !ok {
                    self.backlog_free.extend(self.backlog.drain(..));
                    self.outbox.retain(|t| !matches!(t, Tag::Backlog { .. }));
                    self.svc.on_backlog_sent(now, false);
                } else if last {
                    self.svc.on_backlog_sent(now, true);
                }
            }
            Tag::SyncDisable { from } => {
                if commands::expect_success(text, false).is_err() {
                    log::warn!("HA_SYNC_FAILED {name} refused dhcp-disable: {text}");
                    self.sync_failed(now, SyncFailure::DisableRefused);
                    return;
                }
                self.partner_disabled = true;
                self.outbox.push_back(Tag::SyncPage { from });
            }
            Tag::SyncPage { .. } => self.apply_page(text, engine, journal, now),
            Tag::SyncComplete => match commands::parse_answer(text) {
                Ok(a) if a.result == commands::result::UNSUPPORTED => {
                    self.outbox.push_back(Tag::SyncEnable)
                }
                Ok(a) if a.result == commands::result::SUCCESS => self.sync_succeeded(now),
                _ => {
                    log::warn!("HA_SYNC_FAILED {name} refused ha-sync-complete-notify: {text}");
                    self.sync_failed(now, SyncFailure::EnableRefused);
                }
            },
            Tag::SyncEnable => {
                if commands::expect_success(text, false).is_ok() {
                    self.sync_succeeded(now);
                } else {
                    self.sync_failed(now, SyncFailure::EnableRefused);
                }
            }
            Tag::SyncRelease => {}
            Tag::Reset => {
                let ok = commands::expect_success(text, false).is_ok();
                if !ok {
                    log::warn!("HA_RESET_FAILED {name} refused ha-reset: {text}");
                }
                self.svc.on_reset_sent(now, ok);
            }
            // Answered on the backups' own connections (`drive_backups`).
            Tag::BackupUpdate { .. } => {}
            Tag::MaintenanceNotify => {
                if let Some(ticket) = self.pending_maintenance.take() {
                    let result = commands::parse_answer(text).map(|a| a.result).unwrap_or(1);
                    self.maintenance_outcome(ticket, Some(u16::try_from(result).unwrap_or(1)));
                }
            }
        }
    }

    fn maintenance_outcome(&mut self, ticket: u64, partner_result: Option<u16>) {
        match self.svc.on_maintenance_start_result(partner_result) {
            Ok(t) => {
                log::info!("HA_MAINTENANCE_STARTED {t}");
                self.answers.push_back((ticket, 0, t));
            }
            Err(r) => {
                log::warn!("HA_MAINTENANCE_START_FAILED {}", r.text);
                self.answers.push_back((ticket, r.result, r.text));
            }
        }
    }

    fn apply_page<E: Engine, J: Journal>(
        &mut self,
        text: &str,
        engine: &mut E,
        journal: &mut J,
        now_ms: u64,
    ) {
        let page = match commands::parse_lease_page(text) {
            Ok(p) => p,
            Err(e) => {
                log::warn!("HA_SYNC_FAILED lease page rejected: {e:?}");
                self.sync_failed(now_ms, SyncFailure::BadPage);
                return;
            }
        };
        let mut last: Option<Ipv4Addr> = None;
        let mut taken = 0u64;
        let mut skipped = 0u64;
        let scratch = &mut *self.lease_scratch;
        if let Some(list) = page.leases {
            engine.with_control(&mut |_config, table, _stats| {
                for (value, _) in list.items() {
                    if let Value::Map(m) = value {
                        if let Some(Value::Str(s)) = m.get("ip-address") {
                            if let Some(a) = s.plain().and_then(|t| t.parse().ok()) {
                                last = Some(a);
                            }
                        }
                    }
                    let Some(record) = commands::parse_lease(&value, scratch) else {
                        skipped += 1;
                        continue;
                    };
                    let local = table.get(record.address);
                    if commands::sync_should_take(local.as_ref(), &record) {
                        match table.apply(&record) {
                            Ok(_) => {
                                journal.lease_changed(&record);
                                taken += 1;
                            }
                            Err(e) => {
                                skipped += 1;
                                log::warn!("HA_SYNC lease {} not stored: {e:?}", record.address);
                            }
                        }
                    }
                }
            });
        }
        if let Err(e) = journal.sync_batch() {
            log::error!("HA_SYNC_FAILED lease file write failed: {e}");
            self.sync_failed(now_ms, SyncFailure::LeaseFile);
            return;
        }
        self.sync_leases += taken;
        if skipped > 0 {
            log::warn!("HA_SYNC {skipped} leases of the partner's page skipped");
        }
        let limit = self.svc.config().sync_page_limit;
        match last {
            Some(from) if page.more(limit) => {
                // kea-ha.md §6: dhcp-disable again before every page.
                self.outbox.push_back(Tag::SyncDisable { from: Some(from) });
            }
            _ => self.outbox.push_back(Tag::SyncComplete),
        }
    }

    fn sync_failed(&mut self, now_ms: u64, why: SyncFailure) {
        self.outbox.retain(|t| {
            !matches!(
                t,
                Tag::SyncDisable { .. }
                    | Tag::SyncPage { .. }
                    | Tag::SyncComplete
                    | Tag::SyncEnable
            )
        });
        if !std::mem::take(&mut self.sync_running) {
            return;
        }
        if std::mem::take(&mut self.partner_disabled) {
            self.outbox.push_back(Tag::SyncRelease);
        }
        self.sync_over(now_ms, Err(why));
    }

    /// The running sync ended: the state machine and the operator learn the outcome.
    fn sync_over(&mut self, now_ms: u64, outcome: Result<(), SyncFailure>) {
        self.sync_running = false;
        self.partner_disabled = false;
        if std::mem::take(&mut self.sync_for_machine) {
            self.svc.on_sync_done(now_ms, outcome.is_ok());
        }
        if let AdminSync::Running(ticket) = self.admin_sync {
            let (result, text) = admin_sync::answer(outcome);
            self.answers.push_back((ticket, result, text));
            self.admin_sync = AdminSync::Idle;
        }
    }

    fn sync_succeeded(&mut self, now_ms: u64) {
        log::info!(
            "HA_SYNC_SUCCESSFUL {}: lease database synchronization with {} complete, {} leases taken",
            self.svc.config().this_server_name,
            self.partner.map_or("", |p| p.name),
            self.sync_leases
        );
        self.sync_over(now_ms, Ok(()));
    }
}

fn settle(parks: &mut [Park], completed: &mut Vec<(u32, bool)>, id: u32, ok: bool) {
    let index = (id & 0xffff) as usize;
    let Some(park) = parks.get_mut(index) else {
        return;
    };
    if !park.used || u32::from(park.generation) != id >> 16 {
        return;
    }
    park.failed |= !ok;
    park.pending = park.pending.saturating_sub(1);
    if park.pending == 0 {
        park.used = false;
        completed.push((id, !park.failed));
    }
}

fn fail_tag(
    svc: &mut HaService<'static, 'static, 'static, 'static>,
    tag: Tag,
    now_ms: u64,
    parks: &mut [Park],
    completed: &mut Vec<(u32, bool)>,
) {
    match tag {
        Tag::Heartbeat => svc.on_heartbeat_failed(now_ms),
        Tag::Update { park } => {
            svc.on_lease_update_result(now_ms, false);
            settle(parks, completed, park, false);
        }
        Tag::Backlog { .. } => svc.on_backlog_sent(now_ms, false),
        Tag::Reset => svc.on_reset_sent(now_ms, false),
        _ => {}
    }
}

/// Frames `body` for `peer` and queues it; false when the queue is full.
fn enqueue(
    client: &mut PeerClient<Tag>,
    peer: &Peer<'_>,
    password: Option<&str>,
    tag: Tag,
    body: &[u8],
    timeout: Duration,
) -> bool {
    client
        .enqueue(tag, timeout, |out| {
            out.resize(body.len() + 1024, 0);
            let n = commands::http_request(out, peer, password, body).unwrap_or(0);
            out.truncate(n);
        })
        .is_ok()
}

/// A reload's HA part (kea-ha.md: Kea 2.2 re-loads `libdhcp_ha.so` on reconfiguration, so
/// its state machine starts again from `waiting` and syncs): a changed parameter text
/// replaces the runtime in place (every holder of `shared` sees the new one), an unchanged
/// one keeps it running. Parameters that no longer parse, or a removed hook, keep the
/// running relationship with an error (the DHCP config is applied regardless).
pub fn reconfigure(shared: &Shared, config: &Config<'_>) {
    if shared.borrow().same_parameters(config) {
        return;
    }
    match HaRuntime::from_config(config) {
        Ok(Some(fresh)) => {
            let mut rt = shared.borrow_mut();
            rt.hand_over(fresh);
            log::info!("HA_RECONFIGURED the libdhcp_ha.so parameters changed: the HA service restarted in the waiting state");
        }
        Ok(None) => log::warn!(
            "HA_CONFIG_UNCHANGED libdhcp_ha.so was removed from the configuration: restart wrend to stop HA; the relationship keeps running"
        ),
        Err(e) => log::error!(
            "HA_CONFIG_UNCHANGED {e}: the HA relationship keeps running with the previous parameters"
        ),
    }
}

impl HaRuntime {
    /// Becomes `fresh` (a reload's new relationship): replies parked for the old
    /// partner's acks are dropped (the client retries, kea-ha.md §6), a pending operator
    /// `ha-sync` is answered as interrupted, a pending lift of the partner's `dhcp-disable`
    /// is kept. The old connections close with the old client.
    fn hand_over(&mut self, mut fresh: HaRuntime) {
        for (index, park) in self.parks.iter().enumerate() {
            if park.used {
                let id = (u32::from(park.generation) << 16) | index as u32;
                fresh.completed.push((id, false));
            }
        }
        fresh.completed.append(&mut self.completed);
        // The new parks must not reuse an id the loop still holds a reply under.
        for (new, old) in fresh.parks.iter_mut().zip(self.parks.iter()) {
            new.generation = old.generation.wrapping_add(1);
        }
        fresh.answers.append(&mut self.answers);
        if let AdminSync::Running(ticket) = self.admin_sync {
            let (result, text) = admin_sync::answer(Err(SyncFailure::Reconfigured));
            fresh.answers.push_back((ticket, result, text));
        }
        if let Some(ticket) = self.pending_maintenance.take() {
            fresh.answers.push_back((
                ticket,
                1,
                "Maintenance request interrupted: the HA configuration changed.",
            ));
        }
        fresh.next_ticket = self.next_ticket;
        fresh.lift_partner_disable |= self.lift_partner_disable;
        let listen = |rt: &HaRuntime| rt.svc.config().this().map(|p| (p.address, p.port));
        if listen(self) != listen(&fresh) {
            log::warn!(
                "HA_LISTENER_UNCHANGED this peer's url changed: the HA listener moves at the next start"
            );
        }
        *self = fresh;
    }
}

/// The daemon's control listeners plus the HA listener (see [`HaRuntime::listener`]),
/// opened and attached to the loop; replaces `crate::control::start` when HA is on.
pub fn start_control(
    event_loop: &mut crate::event_loop::EventLoop,
    path: &std::path::Path,
    text: &str,
    ha: &Shared,
) -> std::io::Result<()> {
    let mut settings =
        crate::control::ControlSettings::from_text(text).map_err(std::io::Error::other)?;
    let extra = ha
        .borrow()
        .listener(&settings.listeners)
        .map_err(std::io::Error::other)?;
    let extra_opened = extra.is_some();
    if let Some(l) = extra {
        if let Listener::Http { address, .. } = &l {
            log::info!("HA_LISTENER_STARTED HA peer commands on http://{address}/");
        }
        settings.listeners.push(l);
    }
    if settings.listeners.is_empty() {
        return Ok(());
    }
    let mut server = crate::control::ControlServer::open(&settings, path, text)?;
    server.set_ha_listeners(usize::from(extra_opened));
    server.set_hook(Box::new(peer_commands::HaCommands::new(ha.clone())));
    event_loop.attach_control(server)
}

/// A unix time stamp for logs.
pub fn wall_clock() -> Timestamp {
    Timestamp(unix_secs())
}

#[cfg(test)]
mod tests;
