//! The HA state machine of Kea 2.2 (kea-ha.md §4, §6, §7) as a pure, time-driven value.
//!
//! No clock and no sockets: the daemon passes monotonic milliseconds (`now_ms`) and, for
//! clock-skew checks, wall-clock Unix seconds; it performs the [`Action`]s returned by
//! [`HaService::poll`] (send a heartbeat, run a sync, …) and reports their outcome back
//! through the `on_*` methods, which run the transitions of the spec's table.

use super::config::{HaConfig, HaMode, Pause, Role, STATE_COUNT};
use super::load_balance::{scope_of, QueryFacts, Scopes};

/// An HA state (kea-ha.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaState {
    /// `waiting`
    Waiting,
    /// `syncing`
    Syncing,
    /// `ready`
    Ready,
    /// `load-balancing`
    LoadBalancing,
    /// `hot-standby`
    HotStandby,
    /// `communication-recovery` (load-balancing with `delayed-updates-limit` > 0)
    CommunicationRecovery,
    /// `partner-down`
    PartnerDown,
    /// `partner-in-maintenance`
    PartnerInMaintenance,
    /// `in-maintenance`
    InMaintenance,
    /// `terminated`
    Terminated,
    /// `backup`
    Backup,
    /// `passive-backup`
    PassiveBackup,
}

impl HaState {
    /// Every state, in index order.
    pub const ALL: [HaState; STATE_COUNT] = [
        HaState::Waiting,
        HaState::Syncing,
        HaState::Ready,
        HaState::LoadBalancing,
        HaState::HotStandby,
        HaState::CommunicationRecovery,
        HaState::PartnerDown,
        HaState::PartnerInMaintenance,
        HaState::InMaintenance,
        HaState::Terminated,
        HaState::Backup,
        HaState::PassiveBackup,
    ];

    /// Position in [`HaState::ALL`] (and in [`HaConfig::pauses`]).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Kea's lower-case name (heartbeat `state`, `status-get`).
    pub const fn name(self) -> &'static str {
        match self {
            HaState::Waiting => "waiting",
            HaState::Syncing => "syncing",
            HaState::Ready => "ready",
            HaState::LoadBalancing => "load-balancing",
            HaState::HotStandby => "hot-standby",
            HaState::CommunicationRecovery => "communication-recovery",
            HaState::PartnerDown => "partner-down",
            HaState::PartnerInMaintenance => "partner-in-maintenance",
            HaState::InMaintenance => "in-maintenance",
            HaState::Terminated => "terminated",
            HaState::Backup => "backup",
            HaState::PassiveBackup => "passive-backup",
        }
    }

    /// The state named `name`.
    pub fn from_name(name: &str) -> Option<HaState> {
        HaState::ALL.iter().copied().find(|s| s.name() == name)
    }
}

/// What we know of the partner's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartnerState {
    /// No heartbeat answered yet.
    Unknown,
    /// The last heartbeat / lease update / command failed.
    Unavailable,
    /// The `state` of its last heartbeat reply.
    Known(HaState),
}

/// Something the daemon must do (from [`HaService::poll`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `ha-heartbeat` to the partner, then call [`HaService::on_heartbeat_ok`] or
    /// [`HaService::on_heartbeat_failed`].
    SendHeartbeat,
    /// Run the page-wise sync of kea-ha.md §6 (dhcp-disable before each page, pages, then
    /// ha-sync-complete-notify), then call [`HaService::on_sync_done`].
    Synchronize,
    /// Send the communication-recovery backlog, then call [`HaService::on_backlog_sent`].
    SendBacklog,
    /// Send `ha-reset` to the partner, then call [`HaService::on_reset_sent`]: as Kea's
    /// communication-recovery handler, the move to `waiting` waits for its success (a
    /// failed reset leaves the server in communication-recovery, retried on the next run).
    SendReset,
    /// Enable the local DHCP service (origin "HA").
    EnableDhcp,
    /// Disable the local DHCP service (origin "HA").
    DisableDhcp,
    /// Lift the partner's `dhcp-disable` (origin `ha-partner`) after its sync completed.
    EnablePartnerDisabled,
    /// The state changed (for the log).
    StateChanged {
        /// Old state.
        from: HaState,
        /// New state.
        to: HaState,
    },
}

/// What to do with a query (from [`HaService::on_query`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Process it.
    Serve,
    /// Drop it (Kea counts `pkt4-receive-drop`).
    Drop(DropReason),
}

/// Why a query is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The HA state disables the DHCP service.
    ServiceDisabled,
    /// The query belongs to a scope this server does not serve now.
    NotInScope,
    /// Neither option 61 nor `chaddr`: no load-balancing key.
    NoKey,
}

/// What to do with the lease changes of one committed query (kea-ha.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateDecision {
    /// Send `lease4-del`s then `lease4-update`s to the partner and park the reply until
    /// they answer; report with [`HaService::on_lease_update_result`].
    SendAndPark,
    /// Queue the changes in the communication-recovery backlog (the daemon keeps it).
    Backlog,
    /// Not sent (counted in `unsent-update-count`).
    NotSent,
}

/// What to do with the lease changes of one committed query for the **backup** peers
/// (kea-ha.md §4, §6: "Updates to backup peers are sent in every state when
/// `send-lease-updates` is true (not awaited unless passive-backup + wait-backup-ack)").
///
/// Kea 2.2 (`HAService::asyncSendLeaseUpdate`): a failed update to a backup never marks any
/// partner unavailable; it only fails the client's exchange (reply dropped) when the reply
/// waits for the backups' acks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupUpdates {
    /// No backup gets anything: no backup peer, `send-lease-updates: false`, or this
    /// server is itself a backup.
    None,
    /// Send to every backup; the reply does not wait (a down backup never delays clients).
    FireAndForget,
    /// Send to every backup and park the reply until each acknowledged; any failure drops
    /// the reply (`passive-backup` with `wait-backup-ack: true`).
    SendAndPark,
}

/// The partner's heartbeat reply, as parsed by [`super::commands::parse_heartbeat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatInfo {
    /// Its state.
    pub state: HaState,
    /// Its `date-time`, Unix seconds.
    pub date_time: u64,
    /// Its `unsent-update-count`.
    pub unsent_update_count: u64,
    /// Its `scopes`.
    pub scopes: Scopes,
}

/// A refused administrator/peer command: Kea result code and text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Result code (1 = error, 1001 = maintenance refused).
    pub result: u16,
    /// Text.
    pub text: &'static str,
}

/// Clock skew above which the server terminates (kea-ha.md §7).
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;

/// Action queue capacity (one transition produces at most four actions).
const QUEUE: usize = 16;

/// One HA relationship's state machine.
#[derive(Debug)]
pub struct HaService<'c, 't, 'p, 's> {
    cfg: &'c HaConfig<'t, 'p>,
    state: HaState,
    previous: HaState,
    partner: PartnerState,
    paused: bool,
    paused_once: [bool; STATE_COUNT],
    scopes: Scopes,
    dhcp_enabled: bool,
    started: bool,
    heartbeat_in_flight: bool,
    /// The heartbeat in flight when a maintenance was canceled: its answer describes the
    /// partner before the cancel (still in-maintenance / partner-in-maintenance) and must not
    /// drive the model, or the restored state falls straight back into maintenance.
    stale_heartbeat: bool,
    next_heartbeat_ms: u64,
    last_contact_ms: u64,
    sync_in_flight: bool,
    backlog_in_flight: bool,
    backlog_len: u32,
    backlog_overflowed: bool,
    reset_in_flight: bool,
    entered_by_maintenance: bool,
    partner_unsent: (u64, u64),
    partner_scopes: Scopes,
    unsent_update_count: u64,
    enable_partner_pending: bool,
    clients: &'s mut [u64],
    clients_len: usize,
    unacked: u32,
    analyzed_packets: u64,
    queue: [Option<Action>; QUEUE],
}

fn client_key(q: &QueryFacts<'_>) -> u64 {
    // FNV-1a over chaddr, a separator and the client id: Kea's key is the pair.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in q.chaddr.iter().chain(&[0xff, 0x00]).chain(q.client_id) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h >> 1
}

const UNACKED_BIT: u64 = 1 << 63;

impl<'c, 't, 'p, 's> HaService<'c, 't, 'p, 's> {
    /// A service starting in `waiting` at `now_ms`. `clients` is storage for failure
    /// detection: one slot per distinct client seen while communication is interrupted;
    /// give at least `max-unacked-clients + 1` (more for the `connecting-clients` count).
    /// When full, further unacked clients are counted without de-duplication, so failure
    /// is detected early rather than never.
    pub fn new(cfg: &'c HaConfig<'t, 'p>, clients: &'s mut [u64], now_ms: u64) -> Self {
        HaService {
            cfg,
            state: HaState::Waiting,
            previous: HaState::Waiting,
            partner: PartnerState::Unknown,
            paused: false,
            paused_once: [false; STATE_COUNT],
            scopes: Scopes::NONE,
            dhcp_enabled: true,
            started: false,
            heartbeat_in_flight: false,
            stale_heartbeat: false,
            next_heartbeat_ms: now_ms,
            last_contact_ms: now_ms,
            sync_in_flight: false,
            backlog_in_flight: false,
            backlog_len: 0,
            backlog_overflowed: false,
            reset_in_flight: false,
            entered_by_maintenance: false,
            partner_unsent: (0, 0),
            partner_scopes: Scopes::NONE,
            unsent_update_count: 0,
            enable_partner_pending: false,
            clients,
            clients_len: 0,
            unacked: 0,
            analyzed_packets: 0,
            queue: [None; QUEUE],
        }
    }

    // ----- observers -----

    /// Current state.
    pub fn state(&self) -> HaState {
        self.state
    }
    /// Last known partner state.
    pub fn partner_state(&self) -> PartnerState {
        self.partner
    }
    /// Scopes served now.
    pub fn scopes(&self) -> Scopes {
        self.scopes
    }
    /// The partner's last reported scopes.
    pub fn partner_scopes(&self) -> Scopes {
        self.partner_scopes
    }
    /// Whether the state enables the DHCP service.
    pub fn dhcp_enabled(&self) -> bool {
        self.dhcp_enabled
    }
    /// Whether the state machine is paused (`state-machine` pause).
    pub fn paused(&self) -> bool {
        self.paused
    }
    /// `unsent-update-count` for heartbeat replies.
    pub fn unsent_update_count(&self) -> u64 {
        self.unsent_update_count
    }
    /// The configuration.
    pub fn config(&self) -> &'c HaConfig<'t, 'p> {
        self.cfg
    }
    /// Communication interrupted: more than `max-response-delay` since the last
    /// successful heartbeat (or the start).
    pub fn communication_interrupted(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_contact_ms) > u64::from(self.cfg.max_response_delay_ms)
    }
    /// Milliseconds since the last successful heartbeat (`age` in status-get is seconds).
    pub fn contact_age_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.last_contact_ms)
    }
    /// Whether a heartbeat is out (sent, no outcome reported yet).
    pub fn heartbeat_in_flight(&self) -> bool {
        self.heartbeat_in_flight
    }
    /// Packets analysed by failure detection since the last successful heartbeat.
    pub fn analyzed_packets(&self) -> u64 {
        self.analyzed_packets
    }
    /// Distinct clients seen by failure detection.
    pub fn connecting_clients(&self) -> usize {
        self.clients_len
    }
    /// Distinct unacked clients.
    pub fn unacked_clients(&self) -> u32 {
        self.unacked
    }
    /// How many more unacked clients before failure is detected, as Kea 2.2 reports it
    /// (`CommunicationState::getReport`): `max-unacked-clients - unacked + 1` while
    /// communication is interrupted and the limit is not yet passed, else 0. (With a limit
    /// of 0 and no unacked client that is 1, as in Kea, although failure is already
    /// "detected" by the zero limit.)
    pub fn unacked_clients_left(&self, now_ms: u64) -> u32 {
        let max = self.cfg.max_unacked_clients;
        if self.communication_interrupted(now_ms) && max >= self.unacked {
            (max - self.unacked).saturating_add(1)
        } else {
            0
        }
    }
    /// Failure detected (kea-ha.md §7): unacked clients > `max-unacked-clients`, or that
    /// limit is 0.
    pub fn failure_detected(&self) -> bool {
        self.cfg.max_unacked_clients == 0 || self.unacked > self.cfg.max_unacked_clients
    }

    // ----- the loop -----

    /// Advances timers and returns the next action, or `None`. Call until `None` each loop
    /// iteration (and after every `on_*` call).
    pub fn poll(&mut self, now_ms: u64) -> Option<Action> {
        if !self.started {
            self.started = true;
            // Waiting disables the service.
            self.apply_service();
            self.run_model(now_ms);
        }
        if let Some(a) = self.pop() {
            return Some(a);
        }
        if self.heartbeats_active() && !self.heartbeat_in_flight && now_ms >= self.next_heartbeat_ms
        {
            self.heartbeat_in_flight = true;
            return Some(Action::SendHeartbeat);
        }
        None
    }

    /// The time at which `poll` has something to do next (for the daemon's sleep), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        (self.heartbeats_active() && !self.heartbeat_in_flight).then_some(self.next_heartbeat_ms)
    }

    fn heartbeats_active(&self) -> bool {
        self.cfg.heartbeat_delay_ms > 0
            && self.cfg.partner().is_some()
            && !self.sync_in_flight
            && !matches!(
                self.state,
                HaState::Terminated | HaState::Backup | HaState::PassiveBackup
            )
    }

    fn push(&mut self, a: Action) {
        if let Some(slot) = self.queue.iter_mut().find(|s| s.is_none()) {
            *slot = Some(a);
        }
    }

    fn pop(&mut self) -> Option<Action> {
        let first = self.queue.first_mut()?.take()?;
        self.queue.rotate_left(1);
        Some(first)
    }

    // ----- events -----

    /// The partner answered our heartbeat. `local_unix_secs` is our wall clock now.
    pub fn on_heartbeat_ok(&mut self, now_ms: u64, local_unix_secs: u64, hb: HeartbeatInfo) {
        self.heartbeat_in_flight = false;
        self.next_heartbeat_ms = now_ms.saturating_add(u64::from(self.cfg.heartbeat_delay_ms));
        self.last_contact_ms = now_ms;
        if core::mem::take(&mut self.stale_heartbeat) {
            // Sent before a maintenance cancel: contact, but no state from it.
            return;
        }
        self.clients_len = 0;
        self.unacked = 0;
        self.analyzed_packets = 0;
        self.partner = PartnerState::Known(hb.state);
        self.partner_unsent = (self.partner_unsent.1, hb.unsent_update_count);
        self.partner_scopes = hb.scopes;
        if self.enable_partner_pending && hb.state == HaState::Ready {
            self.enable_partner_pending = false;
            self.push(Action::EnablePartnerDisabled);
        }
        if local_unix_secs.abs_diff(hb.date_time) > MAX_CLOCK_SKEW_SECS
            && !matches!(self.state, HaState::Terminated | HaState::InMaintenance)
        {
            self.transition(HaState::Terminated);
            return;
        }
        self.run_model(now_ms);
    }

    /// Our heartbeat failed (transport error, non-200, bad body, result ≠ 0).
    pub fn on_heartbeat_failed(&mut self, now_ms: u64) {
        self.heartbeat_in_flight = false;
        self.next_heartbeat_ms = now_ms.saturating_add(u64::from(self.cfg.heartbeat_delay_ms));
        self.partner = PartnerState::Unavailable;
        if self.enable_partner_pending {
            self.enable_partner_pending = false;
            self.push(Action::EnablePartnerDisabled);
        }
        self.run_model(now_ms);
    }

    /// The sync started by [`Action::Synchronize`] finished.
    pub fn on_sync_done(&mut self, now_ms: u64, ok: bool) {
        self.sync_in_flight = false;
        if self.state != HaState::Syncing {
            return;
        }
        if ok {
            self.transition(HaState::Ready);
            self.run_model(now_ms);
        } else {
            // §6.6: partner unavailable, retried on the next run.
            self.partner = PartnerState::Unavailable;
        }
    }

    /// The lease changes of one committed query (REQUEST/RELEASE/DECLINE, never DISCOVER):
    /// whether to send them to the active partner. One lease change; see
    /// [`HaService::on_lease_changes_committed`].
    pub fn on_lease_committed(&mut self) -> UpdateDecision {
        self.on_lease_changes_committed(1)
    }

    /// The `changes` lease changes (deletes and updates) of one committed query: whether
    /// to send them to the active partner.
    ///
    /// In communication-recovery they go to the backlog, which Kea 2.2 counts per lease
    /// (`LeaseUpdateBacklog::push` for each deleted then each new lease): past
    /// `delayed-updates-limit` queued leases the backlog is marked overflowed and the
    /// partner will be reset (§4). Queued, Kea does not count them in
    /// `unsent-update-count` (`shouldQueueLeaseUpdates` skips that); overflowed, wren does
    /// (a deliberate deviation, see below). While the backlog is
    /// being sent the partner is reachable again, so new changes go to it directly (Kea
    /// sends the backlog synchronously and handles no query meanwhile).
    pub fn on_lease_changes_committed(&mut self, changes: u32) -> UpdateDecision {
        if !self.cfg.send_lease_updates || self.cfg.partner().is_none() {
            return UpdateDecision::NotSent;
        }
        match self.state {
            HaState::LoadBalancing | HaState::HotStandby | HaState::PartnerInMaintenance => {
                UpdateDecision::SendAndPark
            }
            HaState::CommunicationRecovery if self.backlog_in_flight => UpdateDecision::SendAndPark,
            HaState::CommunicationRecovery => match self.backlog_len.checked_add(changes) {
                Some(n) if n <= self.cfg.delayed_updates_limit && !self.backlog_overflowed => {
                    self.backlog_len = n;
                    UpdateDecision::Backlog
                }
                _ => {
                    // wren deviation (durability): Kea 2.2 does not count overflowed
                    // updates as unsent, so a partner that reaches `partner-down` before
                    // the `ha-reset` lands goes back to load-balancing without a sync and
                    // never learns these leases (seen on a Kea pair, tests/tests/ha_failure.rs).
                    // Counting every change the overflow throws away (the discarded backlog
                    // once, then each new change) makes the partner's `partner-down` handler
                    // see new unsent updates and resynchronize through `waiting`.
                    let dropped = if self.backlog_overflowed {
                        changes
                    } else {
                        self.backlog_len.saturating_add(changes)
                    };
                    self.backlog_overflowed = true;
                    self.unsent_update_count =
                        self.unsent_update_count.saturating_add(u64::from(dropped));
                    UpdateDecision::NotSent
                }
            },
            _ => {
                self.unsent_update_count = self.unsent_update_count.saturating_add(1);
                UpdateDecision::NotSent
            }
        }
    }

    /// Whether (and how) the lease changes of a committed query go to the backup peers
    /// ([`HaConfig::backups`]). Kea's `shouldSendLeaseUpdates`: never when updates are
    /// globally off, always to a backup (whatever the local state: a query that was served
    /// is enough), never from a backup.
    pub fn backup_updates(&self) -> BackupUpdates {
        if !self.cfg.send_lease_updates
            || self.cfg.this_role() == Role::Backup
            || self.cfg.backups().next().is_none()
        {
            return BackupUpdates::None;
        }
        // `wait-backup-ack` is only accepted in passive-backup (config.rs rejects it
        // elsewhere); checking the mode too keeps the rule local.
        if self.cfg.mode == HaMode::PassiveBackup && self.cfg.wait_backup_ack {
            BackupUpdates::SendAndPark
        } else {
            BackupUpdates::FireAndForget
        }
    }

    /// The partner's answers to the updates of one parked query: `ok` = every update had
    /// result 0 (or 3 for a delete). On failure the reply must be dropped (§6) and the
    /// partner is marked unavailable.
    pub fn on_lease_update_result(&mut self, now_ms: u64, ok: bool) {
        if !ok {
            self.partner = PartnerState::Unavailable;
            self.run_model(now_ms);
        }
    }

    /// The backlog requested by [`Action::SendBacklog`] was sent (`ok`) or not. Sent:
    /// back to load-balancing. Not sent (or overflowed meanwhile): reset the partner, and
    /// go to `waiting` once it accepted ([`HaService::on_reset_sent`]).
    pub fn on_backlog_sent(&mut self, now_ms: u64, ok: bool) {
        self.backlog_in_flight = false;
        if self.state != HaState::CommunicationRecovery {
            return;
        }
        if ok && !self.backlog_overflowed {
            self.backlog_len = 0;
            self.transition(HaState::LoadBalancing);
        } else {
            if !ok && !self.backlog_overflowed {
                // The backlog is lost with the failed send: counted as unsent for the
                // same reason as an overflow (see on_lease_changes_committed).
                self.unsent_update_count = self
                    .unsent_update_count
                    .saturating_add(u64::from(self.backlog_len));
            }
            self.request_reset();
        }
        let _ = now_ms; // the next heartbeat drives the model on
    }

    /// The `ha-reset` requested by [`Action::SendReset`] was accepted (`ok`: result 0) or
    /// not. Kea (`communicationRecoveryHandler`): `if (sendHAReset()) → waiting`; a failed
    /// reset marks the partner unavailable and the server stays in communication-recovery.
    pub fn on_reset_sent(&mut self, now_ms: u64, ok: bool) {
        self.reset_in_flight = false;
        if self.state != HaState::CommunicationRecovery {
            return;
        }
        if ok {
            self.transition(HaState::Waiting);
        } else {
            self.partner = PartnerState::Unavailable;
        }
        let _ = now_ms; // the next heartbeat drives the model on
    }

    fn request_reset(&mut self) {
        if !self.reset_in_flight {
            self.reset_in_flight = true;
            self.push(Action::SendReset);
        }
    }

    /// Leases queued in the communication-recovery backlog (Kea counts each lease).
    pub fn backlog_len(&self) -> u32 {
        self.backlog_len
    }

    /// Whether the backlog overflowed `delayed-updates-limit` (the partner will be reset).
    pub fn backlog_overflowed(&self) -> bool {
        self.backlog_overflowed
    }

    /// A DHCP query arrived: serve it or drop it (Kea's `buffer4_receive` filter), feeding
    /// dropped partner-scope queries to failure detection while communication is interrupted.
    pub fn on_query(&mut self, q: &QueryFacts<'_>, now_ms: u64) -> Verdict {
        if !self.dhcp_enabled {
            return Verdict::Drop(DropReason::ServiceDisabled);
        }
        let scope = match scope_of(q, self.cfg.mode) {
            Ok(s) => s,
            Err(_) => return Verdict::Drop(DropReason::NoKey),
        };
        if self.scopes.serves(scope) {
            return Verdict::Serve;
        }
        if self.communication_interrupted(now_ms) {
            self.analyze(q);
        }
        Verdict::Drop(DropReason::NotInScope)
    }

    fn analyze(&mut self, q: &QueryFacts<'_>) {
        self.analyzed_packets = self.analyzed_packets.saturating_add(1);
        // §7: a little-endian `secs` shows as > 255 with a zero low byte.
        let secs = if q.secs > 255 && q.secs & 0xff == 0 {
            q.secs.swap_bytes()
        } else {
            q.secs
        };
        let unacked = u64::from(secs) * 1000 > u64::from(self.cfg.max_ack_delay_ms);
        let key = client_key(q);
        let seen = self.clients.get_mut(..self.clients_len).unwrap_or(&mut []);
        if let Some(slot) = seen.iter_mut().find(|k| **k & !UNACKED_BIT == key) {
            if unacked && *slot & UNACKED_BIT == 0 {
                *slot |= UNACKED_BIT;
                self.unacked = self.unacked.saturating_add(1);
            }
            return;
        }
        if let Some(slot) = self.clients.get_mut(self.clients_len) {
            *slot = key | if unacked { UNACKED_BIT } else { 0 };
            self.clients_len += 1;
        }
        if unacked {
            self.unacked = self.unacked.saturating_add(1);
        }
    }

    // ----- commands received -----

    /// `ha-continue`.
    pub fn ha_continue(&mut self, now_ms: u64) -> &'static str {
        if !self.paused {
            return "HA state machine is not paused.";
        }
        self.paused = false;
        self.run_model(now_ms);
        "HA state machine continues."
    }

    /// `ha-reset` (from the partner).
    pub fn ha_reset(&mut self, now_ms: u64) -> &'static str {
        if self.state == HaState::Waiting {
            return "HA state machine already in WAITING state.";
        }
        // Kea moves to waiting; the next heartbeat drives the model on.
        let _ = now_ms;
        self.transition(HaState::Waiting);
        "HA state machine reset."
    }

    /// `ha-scopes` (scopes already resolved from names with [`HaService::scope_index`]).
    pub fn ha_scopes(&mut self, scopes: Scopes) -> &'static str {
        self.scopes = scopes;
        "New HA scopes configured."
    }

    /// The scope index of a bare peer name (`"server1"`, not `"HA_server1"`).
    pub fn scope_index(&self, name: &str) -> Option<usize> {
        (0..2).find(|&i| self.cfg.scope_owner(i).is_some_and(|p| p.name == name))
    }

    /// `ha-sync-complete-notify` from the partner: lift its `dhcp-disable` now, or in
    /// partner-down after its next heartbeat fails or it shows up `ready`.
    pub fn ha_sync_complete_notify(&mut self) -> &'static str {
        if self.state == HaState::PartnerDown {
            self.enable_partner_pending = true;
        } else {
            self.push(Action::EnablePartnerDisabled);
        }
        "Server successfully notified about the synchronization completion."
    }

    /// `ha-maintenance-notify` from the partner.
    pub fn ha_maintenance_notify(&mut self, cancel: bool) -> Result<&'static str, Refusal> {
        if cancel {
            if self.state != HaState::InMaintenance {
                return Err(Refusal {
                    result: 1,
                    text: "Unable to cancel the maintenance for the server not in the in-maintenance state.",
                });
            }
            let back = self.previous;
            self.transition(back);
            self.stale_heartbeat = self.heartbeat_in_flight;
            return Ok("Server maintenance canceled.");
        }
        match self.state {
            HaState::Backup | HaState::PartnerInMaintenance | HaState::Terminated => Err(Refusal {
                result: 1001,
                text: "Unable to transition the server from the current state to the in-maintenance state.",
            }),
            HaState::InMaintenance => Ok("Server is in-maintenance state."),
            s => {
                self.previous = s;
                self.transition(HaState::InMaintenance);
                Ok("Server is in-maintenance state.")
            }
        }
    }

    /// `ha-maintenance-start` (administrator): checks the state; the daemon then sends
    /// `ha-maintenance-notify {cancel:false}` and reports with
    /// [`HaService::on_maintenance_start_result`].
    pub fn ha_maintenance_start(&self) -> Result<(), Refusal> {
        match self.state {
            HaState::Backup
            | HaState::InMaintenance
            | HaState::PartnerInMaintenance
            | HaState::Terminated => Err(Refusal {
                result: 1,
                text: "Unable to transition the server from the current state to the partner-in-maintenance state.",
            }),
            _ => Ok(()),
        }
    }

    /// Outcome of the maintenance notify sent for `ha-maintenance-start`: `Some(result)` =
    /// the partner answered with that result, `None` = unreachable. Returns the reply.
    pub fn on_maintenance_start_result(
        &mut self,
        partner_result: Option<u16>,
    ) -> Result<&'static str, Refusal> {
        match partner_result {
            Some(0) => {
                self.previous = self.state;
                self.transition(HaState::PartnerInMaintenance);
                Ok("Server is now in the partner-in-maintenance state and its partner is in-maintenance state. The partner can be now safely shut down.")
            }
            None => {
                self.previous = self.state;
                self.partner = PartnerState::Unavailable;
                self.entered_by_maintenance = true;
                self.transition(HaState::PartnerDown);
                Ok("Server is now in the partner-down state as its partner appears to be offline for maintenance.")
            }
            Some(_) => Err(Refusal {
                result: 1,
                text: "Unable to transition to the partner-in-maintenance state. The partner server responded with an error.",
            }),
        }
    }

    /// `ha-maintenance-cancel` (administrator): only in partner-in-maintenance. The daemon
    /// sends `ha-maintenance-notify {cancel:true}` and on success calls
    /// [`HaService::on_maintenance_cancel_sent`].
    pub fn ha_maintenance_cancel(&self) -> Result<(), Refusal> {
        if self.state == HaState::PartnerInMaintenance {
            Ok(())
        } else {
            Err(Refusal {
                result: 1,
                text: "Unable to cancel maintenance request because the server is not in the partner-in-maintenance state.",
            })
        }
    }

    /// The cancel was sent to the partner: back to the state before maintenance. As in Kea
    /// (the restored state's handler sees `HA_MAINTENANCE_CANCEL_EVT` and does nothing), the
    /// model does not run again until the next heartbeat answer: the partner state known now
    /// is the one from before the cancel (`in-maintenance`), which would send this server
    /// straight back to `partner-in-maintenance`. A heartbeat already in flight is stale too.
    pub fn on_maintenance_cancel_sent(&mut self, now_ms: u64) -> &'static str {
        let _ = now_ms;
        let back = self.previous;
        self.transition(back);
        self.stale_heartbeat = self.heartbeat_in_flight;
        "Server maintenance successfully canceled."
    }

    // ----- transitions -----

    fn normal_state(&self) -> HaState {
        match self.cfg.mode {
            HaMode::LoadBalancing => HaState::LoadBalancing,
            HaMode::HotStandby => HaState::HotStandby,
            HaMode::PassiveBackup => HaState::PassiveBackup,
        }
    }

    fn own_scopes(&self) -> Scopes {
        match self.cfg.this_role() {
            Role::Primary => Scopes {
                primary: true,
                secondary: false,
            },
            Role::Secondary => Scopes {
                primary: false,
                secondary: true,
            },
            Role::Standby | Role::Backup => Scopes::NONE,
        }
    }

    fn all_scopes(&self) -> Scopes {
        Scopes {
            primary: true,
            secondary: self.cfg.mode == HaMode::LoadBalancing,
        }
    }

    fn apply_service(&mut self) {
        let (enabled, scopes) = match self.state {
            HaState::Waiting
            | HaState::Syncing
            | HaState::Ready
            | HaState::InMaintenance
            | HaState::Backup => (false, Scopes::NONE),
            HaState::LoadBalancing
            | HaState::HotStandby
            | HaState::CommunicationRecovery
            | HaState::Terminated => (true, self.own_scopes()),
            HaState::PartnerDown => {
                let auto = self.cfg.this().is_some_and(|p| p.auto_failover);
                let s = if auto || self.entered_by_maintenance {
                    self.all_scopes()
                } else {
                    self.own_scopes()
                };
                (true, s)
            }
            HaState::PartnerInMaintenance | HaState::PassiveBackup => (true, self.all_scopes()),
        };
        self.scopes = scopes;
        if enabled != self.dhcp_enabled {
            self.dhcp_enabled = enabled;
            self.push(if enabled {
                Action::EnableDhcp
            } else {
                Action::DisableDhcp
            });
        }
    }

    fn transition(&mut self, to: HaState) {
        let from = self.state;
        if to != HaState::PartnerDown {
            self.entered_by_maintenance = false;
        }
        if from == HaState::CommunicationRecovery && to != from {
            // Kea clears the backlog when leaving communication-recovery (`doOnExit`).
            self.backlog_len = 0;
            self.backlog_overflowed = false;
        }
        self.state = to;
        if from != to {
            self.push(Action::StateChanged { from, to });
        }
        self.apply_service();
        let i = to.index();
        match self.cfg.pauses.get(i) {
            Some(Pause::Always) => self.paused = true,
            Some(Pause::Once) => {
                if let Some(done) = self.paused_once.get_mut(i) {
                    if !*done {
                        *done = true;
                        self.paused = true;
                    }
                }
            }
            _ => {}
        }
        if to == HaState::Syncing {
            self.sync_in_flight = false;
            if !self.paused && matches!(self.partner, PartnerState::Known(_)) {
                self.sync_in_flight = true;
                self.push(Action::Synchronize);
            }
        }
    }

    /// Partner-down criteria (`shouldPartnerDown`, §7).
    pub fn should_partner_down(&self, now_ms: u64) -> bool {
        if !self.communication_interrupted(now_ms) {
            return false;
        }
        let watches = self.dhcp_enabled
            && (self.cfg.mode == HaMode::LoadBalancing || self.cfg.this_role() == Role::Standby);
        if watches {
            self.failure_detected()
        } else {
            true
        }
    }

    fn enter_sync_or_ready(&mut self) {
        if self.cfg.sync_leases {
            self.transition(HaState::Syncing);
        } else {
            self.transition(HaState::Ready);
        }
    }

    /// One step of the model, as Kea runs one handler per event (heartbeat completion,
    /// sync completion, commands); the next step waits for the next event.
    fn run_model(&mut self, now_ms: u64) {
        if !self.paused {
            self.step(now_ms);
        }
    }

    fn step(&mut self, now_ms: u64) {
        use HaState::*;
        let partner = self.partner;
        let known = match partner {
            PartnerState::Known(s) => Some(s),
            _ => None,
        };
        let primary = self.cfg.this_role() == Role::Primary;
        // Partner state contradicting our mode → waiting.
        if matches!(
            self.state,
            Ready | LoadBalancing | HotStandby | CommunicationRecovery | PartnerDown
        ) {
            let contradicts = match known {
                Some(LoadBalancing | CommunicationRecovery) => {
                    self.cfg.mode != HaMode::LoadBalancing
                }
                Some(HotStandby) => self.cfg.mode != HaMode::HotStandby,
                _ => false,
            };
            if contradicts {
                self.transition(Waiting);
                return;
            }
        }
        match self.state {
            Waiting => {
                if self.cfg.this_role() == Role::Backup {
                    return self.transition(Backup);
                }
                if self.cfg.mode == HaMode::PassiveBackup {
                    return self.transition(PassiveBackup);
                }
                match partner {
                    PartnerState::Known(
                        LoadBalancing
                        | HotStandby
                        | CommunicationRecovery
                        | InMaintenance
                        | PartnerDown
                        | PartnerInMaintenance
                        | Ready,
                    ) => self.enter_sync_or_ready(),
                    PartnerState::Known(Waiting) if primary => self.enter_sync_or_ready(),
                    PartnerState::Unavailable if self.should_partner_down(now_ms) => {
                        self.transition(PartnerDown)
                    }
                    _ => {}
                }
            }
            Syncing => match partner {
                PartnerState::Known(Terminated) => self.transition(Terminated),
                PartnerState::Unavailable => {
                    if self.should_partner_down(now_ms) {
                        self.transition(PartnerDown)
                    }
                }
                PartnerState::Known(_) => {
                    if !self.sync_in_flight {
                        self.sync_in_flight = true;
                        self.push(Action::Synchronize);
                    }
                }
                PartnerState::Unknown => {}
            },
            Ready => match known {
                Some(LoadBalancing | HotStandby | CommunicationRecovery) => {
                    self.transition(self.normal_state())
                }
                Some(Ready) if primary => self.transition(self.normal_state()),
                Some(InMaintenance) => self.transition(PartnerInMaintenance),
                Some(PartnerInMaintenance) => self.transition(InMaintenance),
                Some(Terminated) => self.transition(Terminated),
                _ => {
                    if partner == PartnerState::Unavailable && self.should_partner_down(now_ms) {
                        self.transition(PartnerDown)
                    }
                }
            },
            LoadBalancing | HotStandby => match known {
                Some(InMaintenance) => self.transition(PartnerInMaintenance),
                Some(PartnerInMaintenance) => self.transition(InMaintenance),
                Some(PartnerDown) => self.transition(Waiting),
                Some(Terminated) => self.transition(Terminated),
                _ => {
                    if partner == PartnerState::Unavailable {
                        if self.should_partner_down(now_ms) {
                            self.transition(PartnerDown)
                        } else if self.state == LoadBalancing && self.cfg.delayed_updates_limit > 0
                        {
                            self.backlog_len = 0;
                            self.backlog_overflowed = false;
                            self.transition(CommunicationRecovery)
                        }
                    }
                }
            },
            CommunicationRecovery => match partner {
                PartnerState::Known(InMaintenance) => self.transition(PartnerInMaintenance),
                PartnerState::Known(PartnerInMaintenance) => self.transition(InMaintenance),
                PartnerState::Known(PartnerDown) => self.transition(Waiting),
                PartnerState::Known(Terminated) => self.transition(Terminated),
                PartnerState::Unavailable if self.should_partner_down(now_ms) => {
                    self.transition(PartnerDown)
                }
                // The partner is synchronizing already: no reset needed.
                PartnerState::Known(Waiting | Syncing | Ready) if self.backlog_overflowed => {
                    self.transition(Waiting)
                }
                PartnerState::Known(LoadBalancing | CommunicationRecovery)
                    if !self.backlog_in_flight && !self.reset_in_flight =>
                {
                    if self.backlog_overflowed {
                        self.request_reset();
                    } else {
                        self.backlog_in_flight = true;
                        self.push(Action::SendBacklog);
                    }
                }
                _ => {}
            },
            PartnerDown => match known {
                Some(CommunicationRecovery | PartnerDown | PartnerInMaintenance) => {
                    self.transition(Waiting)
                }
                Some(Ready) => {
                    let (prev, cur) = self.partner_unsent;
                    if cur > 0 && cur != prev {
                        self.transition(Waiting)
                    } else {
                        self.transition(self.normal_state())
                    }
                }
                Some(Terminated) => self.transition(Terminated),
                _ => {}
            },
            PartnerInMaintenance => {
                if partner == PartnerState::Unavailable {
                    self.transition(PartnerDown)
                }
            }
            InMaintenance | Terminated | Backup | PassiveBackup => {}
        }
    }
}

#[cfg(test)]
mod tests;
