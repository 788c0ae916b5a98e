//! Statistics with Kea 2.2's names (kea-control-api.md §6.1), in fixed storage, updated from
//! the engine's [`Outcome`]s and the control commands' lease changes, read by the
//! `statistic-*` commands and exported as Prometheus text for `GET /metrics`.
//!
//! Every change adds a timestamped sample, kept as Kea 2.2 keeps them (up to 20 per
//! statistic by default, `statistic-sample-count-set` / `-age-set` change it) in the
//! caller's [`History`] storage ([`history`] explains the bound).
//!
//! Counting rules (§6.1): `pkt4-received` counts every datagram; a parse failure adds
//! `pkt4-parse-failed` and `pkt4-receive-drop`; a packet dropped by the server's checks adds
//! `pkt4-receive-drop`; `pkt4-<type>-received` after a successful parse; `pkt4-sent` and
//! `pkt4-<type>-sent` per reply. `assigned-addresses` +1 on a new lease, −1 on release,
//! reclamation or removal; a DECLINE adds to `declined-addresses` (subnet and global)
//! and the declined lease stays counted in `assigned-addresses` until it is reclaimed or
//! removed (Kea: "Declined leases also count as assigned"; `lease4-add` of a declined
//! lease adds to both).

use core::fmt::{self, Write as _};
use core::net::Ipv4Addr;

use crate::config::Config;
use crate::lease::{LeaseRecord, LeaseState, LeaseTable};
use crate::server::{DropReason, Event, MessageType, Outcome};
use crate::time::Timestamp;

pub mod history;
pub use history::{History, SampleLimit, SampleRing, StoredSample, DEFAULT_SAMPLE_COUNT};

macro_rules! names {
    ($(#[$m:meta])* $enum:ident, $all:ident, $( $variant:ident = $name:literal, )*) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        pub enum $enum { $( #[doc = concat!("`", $name, "`")] $variant, )* }

        impl $enum {
            /// Every statistic of this kind, in Kea's (alphabetical) order.
            pub const $all: &'static [$enum] = &[ $( $enum::$variant, )* ];

            /// Kea's name.
            pub const fn name(self) -> &'static str {
                match self { $( $enum::$variant => $name, )* }
            }

            /// The statistic called `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $( $name => Some($enum::$variant), )* _ => None }
            }

            const fn index(self) -> usize { self as usize }
        }
    };
}

names! {
    /// Global statistics (created at startup with value 0).
    GlobalStat, ALL,
    CumulativeAssignedAddresses = "cumulative-assigned-addresses",
    DeclinedAddresses = "declined-addresses",
    Pkt4AckReceived = "pkt4-ack-received",
    Pkt4AckSent = "pkt4-ack-sent",
    Pkt4DeclineReceived = "pkt4-decline-received",
    Pkt4DiscoverReceived = "pkt4-discover-received",
    Pkt4InformReceived = "pkt4-inform-received",
    Pkt4NakReceived = "pkt4-nak-received",
    Pkt4NakSent = "pkt4-nak-sent",
    Pkt4OfferReceived = "pkt4-offer-received",
    Pkt4OfferSent = "pkt4-offer-sent",
    Pkt4ParseFailed = "pkt4-parse-failed",
    Pkt4ReceiveDrop = "pkt4-receive-drop",
    Pkt4Received = "pkt4-received",
    Pkt4ReleaseReceived = "pkt4-release-received",
    Pkt4RequestReceived = "pkt4-request-received",
    Pkt4Sent = "pkt4-sent",
    Pkt4UnknownReceived = "pkt4-unknown-received",
    ReclaimedDeclinedAddresses = "reclaimed-declined-addresses",
    ReclaimedLeases = "reclaimed-leases",
    V4AllocationFail = "v4-allocation-fail",
    V4AllocationFailClasses = "v4-allocation-fail-classes",
    V4AllocationFailNoPools = "v4-allocation-fail-no-pools",
    V4AllocationFailSharedNetwork = "v4-allocation-fail-shared-network",
    V4AllocationFailSubnet = "v4-allocation-fail-subnet",
    V4ReservationConflicts = "v4-reservation-conflicts",
}

names! {
    /// Per-subnet statistics (`subnet[<id>].<name>`).
    SubnetStat, ALL,
    AssignedAddresses = "assigned-addresses",
    CumulativeAssignedAddresses = "cumulative-assigned-addresses",
    DeclinedAddresses = "declined-addresses",
    ReclaimedDeclinedAddresses = "reclaimed-declined-addresses",
    ReclaimedLeases = "reclaimed-leases",
    TotalAddresses = "total-addresses",
    V4AllocationFail = "v4-allocation-fail",
    V4AllocationFailClasses = "v4-allocation-fail-classes",
    V4AllocationFailNoPools = "v4-allocation-fail-no-pools",
    V4AllocationFailSharedNetwork = "v4-allocation-fail-shared-network",
    V4AllocationFailSubnet = "v4-allocation-fail-subnet",
    V4ReservationConflicts = "v4-reservation-conflicts",
}

const GLOBAL_COUNT: usize = GlobalStat::ALL.len();

impl SubnetStat {
    /// The per-subnet statistics Kea 2.2 creates only when an allocation fails in the
    /// subnet (the other seven exist from the configuration on).
    pub const CREATED_ON_FAILURE: [SubnetStat; 5] = [
        SubnetStat::V4AllocationFail,
        SubnetStat::V4AllocationFailClasses,
        SubnetStat::V4AllocationFailNoPools,
        SubnetStat::V4AllocationFailSharedNetwork,
        SubnetStat::V4AllocationFailSubnet,
    ];
}

/// The history slot of statistic `stat` of the subnet at `index` (by id) of the configured
/// subnets: after the globals' slots.
fn subnet_slot(index: usize, stat: SubnetStat) -> usize {
    GLOBAL_COUNT
        .saturating_add(index.saturating_mul(SUBNET_STAT_COUNT))
        .saturating_add(stat.index())
}
/// Statistics per subnet.
pub const SUBNET_STAT_COUNT: usize = SubnetStat::ALL.len();

/// A statistic's name, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatName {
    /// A global statistic.
    Global(GlobalStat),
    /// `subnet[id].name`.
    Subnet {
        /// Kea subnet id.
        id: u32,
        /// Which one.
        stat: SubnetStat,
    },
}

impl StatName {
    /// Parses `pkt4-received` or `subnet[3].assigned-addresses`.
    pub fn parse(name: &str) -> Option<StatName> {
        if let Some(rest) = name.strip_prefix("subnet[") {
            let (id, stat) = rest.split_once("].")?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            return Some(StatName::Subnet {
                id: id.parse().ok()?,
                stat: SubnetStat::from_name(stat)?,
            });
        }
        GlobalStat::from_name(name).map(StatName::Global)
    }
}

impl fmt::Display for StatName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatName::Global(g) => f.write_str(g.name()),
            StatName::Subnet { id, stat } => write!(f, "subnet[{id}].{}", stat.name()),
        }
    }
}

/// One statistic's current value and when it was last set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// The value.
    pub value: i64,
    /// When it last changed (or was created/reset).
    pub at: Timestamp,
    /// Removed by `statistic-remove` (recreated by the next change).
    pub removed: bool,
}

/// The statistics of one subnet (allocate `SubnetStats::default()` × number of subnets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubnetStats {
    /// Kea subnet id.
    pub id: u32,
    /// The subnet's prefix (a Prometheus label).
    pub prefix: (Ipv4Addr, u8),
    samples: [Sample; SUBNET_STAT_COUNT],
}

impl Default for SubnetStats {
    fn default() -> Self {
        SubnetStats {
            id: 0,
            prefix: (Ipv4Addr::UNSPECIFIED, 0),
            samples: [Sample::default(); SUBNET_STAT_COUNT],
        }
    }
}

/// Why the statistics cannot follow a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsError {
    /// The storage has fewer entries than the config has subnets.
    TooManySubnets {
        /// Subnets in the config.
        needed: usize,
    },
}

/// Drop reasons counted for `/metrics` (labels of `wren_pkt4_dropped_total`).
const DROP_LABELS: [&str; 15] = [
    "parse_failed",
    "bootp_not_supported",
    "unknown_message_type",
    "not_for_us",
    "discover_with_server_id",
    "no_client_identity",
    "bad_client_id",
    "direct_broadcast_no_subnet",
    "no_subnet",
    "allocation_failed",
    "silence",
    "decline_without_address",
    "drop_class",
    "lease_store_failed",
    "reply_buffer_too_small",
];

fn drop_index(reason: &DropReason) -> usize {
    match reason {
        DropReason::ParseFailed(_) => 0,
        DropReason::BootpNotSupported => 1,
        DropReason::UnknownMessageType(_) => 2,
        DropReason::NotForUs => 3,
        DropReason::DiscoverWithServerId => 4,
        DropReason::NoClientIdentity => 5,
        DropReason::BadClientId => 6,
        DropReason::DirectBroadcastNoSubnet => 7,
        DropReason::NoSubnet => 8,
        DropReason::AllocationFailed => 9,
        DropReason::Silence(_) => 10,
        DropReason::DeclineWithoutAddress => 11,
        DropReason::DropClass => 12,
        DropReason::LeaseStoreFailed(_) => 13,
        DropReason::ReplyBufferTooSmall => 14,
    }
}

/// All statistics.
#[derive(Debug)]
pub struct Stats<'a> {
    global: [Sample; GLOBAL_COUNT],
    subnets: &'a mut [SubnetStats],
    used: usize,
    drops: [u64; DROP_LABELS.len()],
    history: History<'a>,
    /// The limit statistics start with (`statistic-sample-*-set-all` change it).
    default_limit: SampleLimit,
    /// [`Stats::configure`] ran once (Kea creates `declined-addresses` then).
    configured: bool,
}

impl<'a> Stats<'a> {
    /// Storage entries to allocate for a config of `subnets` subnets: twice as many, so a
    /// reconfiguration keeps the counters of the subnets that stay ([`Stats::configure`]).
    pub const fn storage_len(subnets: usize) -> usize {
        subnets.saturating_mul(2)
    }

    /// [`SampleRing`]s a [`History`] needs for a config of `subnets` subnets: one per
    /// statistic (26 global, 12 per subnet). Give it `depth` times as many
    /// [`StoredSample`]s to keep `depth` samples per statistic.
    pub const fn history_slots(subnets: usize) -> usize {
        GLOBAL_COUNT.saturating_add(subnets.saturating_mul(SUBNET_STAT_COUNT))
    }

    /// Statistics with room for `storage.len()` subnets, all global counters at 0, each
    /// showing its current value only (no history).
    pub fn new(storage: &'a mut [SubnetStats], now: Timestamp) -> Self {
        Self::with_history(storage, History::none(), now)
    }

    /// Statistics keeping up to [`History::depth`] samples each (for the subnets
    /// [`History::slots`] has room for; the others show their current value only).
    pub fn with_history(
        storage: &'a mut [SubnetStats],
        history: History<'a>,
        now: Timestamp,
    ) -> Self {
        let zero = Sample {
            value: 0,
            at: now,
            removed: false,
        };
        let mut stats = Stats {
            global: [zero; GLOBAL_COUNT],
            subnets: storage,
            used: 0,
            drops: [0; DROP_LABELS.len()],
            history,
            default_limit: SampleLimit::default(),
            configured: false,
        };
        for g in GlobalStat::ALL {
            stats.history.restart(g.index(), stats.default_limit);
            stats.history.push(g.index(), 0, now.0);
        }
        stats
    }

    /// Follows a (new) config: one entry per subnet (sorted by id), `total-addresses` from
    /// the pools, `assigned-addresses` and `declined-addresses` recounted from the lease
    /// table (as Kea does at startup and reconfiguration). Counters of subnets that keep
    /// their id keep their values. Each subnet statistic's history starts again from its
    /// current value with the default limit (Kea removes and recreates them).
    /// The `v4-allocation-fail*` statistics of a new subnet do not exist until counted
    /// (Kea 2.2 creates seven per subnet at configuration, checked with `statistic-get-all`).
    pub fn configure(
        &mut self,
        config: &Config<'_>,
        leases: &LeaseTable<'_>,
        now: Timestamp,
    ) -> Result<(), StatsError> {
        let needed = config.subnets.len();
        if needed > self.subnets.len() {
            return Err(StatsError::TooManySubnets { needed });
        }
        // Counters of kept subnets are carried over when the storage has room for the old
        // and the new entries side by side (give it 2 × the subnets for that); otherwise
        // every counter starts again from the lease table.
        let old_used = if self.used.saturating_add(needed) <= self.subnets.len() {
            self.used
        } else {
            0
        };
        let mut fresh = 0;
        let at_now = |value| Sample {
            value,
            at: now,
            removed: false,
        };
        for s in config.subnets {
            let total: u64 = config.pools_of(s).iter().map(|p| p.size()).sum();
            let old = self
                .subnets
                .get(..old_used)
                .and_then(|o| o.binary_search_by_key(&s.id, |e| e.id).ok())
                .and_then(|i| self.subnets.get(i))
                .copied();
            let mut entry = old.unwrap_or_else(|| {
                let mut e = SubnetStats {
                    id: s.id,
                    prefix: (s.prefix.address, s.prefix.len),
                    samples: [at_now(0); SUBNET_STAT_COUNT],
                };
                for stat in SubnetStat::CREATED_ON_FAILURE {
                    if let Some(x) = e.samples.get_mut(stat.index()) {
                        x.removed = true;
                    }
                }
                e
            });
            entry.prefix = (s.prefix.address, s.prefix.len);
            for (stat, v) in [
                (SubnetStat::TotalAddresses, total as i64),
                (SubnetStat::AssignedAddresses, 0),
                (SubnetStat::DeclinedAddresses, 0),
            ] {
                if let Some(x) = entry.samples.get_mut(stat.index()) {
                    *x = at_now(v);
                }
            }
            // Entries are written after the old ones so lookups above still see them.
            if let Some(slot) = self.subnets.get_mut(old_used + fresh) {
                *slot = entry;
                fresh += 1;
            } else {
                return Err(StatsError::TooManySubnets { needed });
            }
        }
        // Move the new entries to the front and sort them by id.
        self.subnets.copy_within(old_used..old_used + fresh, 0);
        self.used = fresh;
        if let Some(used) = self.subnets.get_mut(..fresh) {
            used.sort_unstable_by_key(|e| e.id);
        }
        // Recount without a sample per lease (Kea sets each count once).
        let mut declined = 0i64;
        for (subnet_id, state) in leases.subnet_states() {
            // Kea's recount: "Declined leases also count as assigned."
            let stats: &[SubnetStat] = match state {
                LeaseState::Default => &[SubnetStat::AssignedAddresses],
                LeaseState::Declined => {
                    declined += 1;
                    &[SubnetStat::AssignedAddresses, SubnetStat::DeclinedAddresses]
                }
                LeaseState::ExpiredReclaimed => continue,
            };
            for stat in stats {
                if let Some(x) = self
                    .subnet_mut(subnet_id)
                    .and_then(|e| e.samples.get_mut(stat.index()))
                {
                    x.value = x.value.saturating_add(1);
                }
            }
        }
        for i in 0..fresh {
            for stat in SubnetStat::ALL {
                let slot = subnet_slot(i, *stat);
                self.history.restart(slot, self.default_limit);
                let current = self
                    .subnets
                    .get(i)
                    .and_then(|e| e.samples.get(stat.index()))
                    .filter(|x| !x.removed);
                if let Some(x) = current {
                    self.history.push(slot, x.value, x.at.0);
                }
            }
        }
        // Kea's recount sets `declined-addresses` (a sample at each configuration); the
        // first one creates it, so it has no earlier sample.
        // `statistic-default-sample-count` / `-age`: the default and every statistic's
        // bound (Kea 2.2 sets both at configuration: with a count of 3, a subnet's
        // `assigned-addresses` keeps 3 samples, checked on kea-dhcp4 2.2). A count of 0
        // switches to the age bound; without either key the bounds stay as they are.
        match (
            config.globals.statistic_sample_count,
            config.globals.statistic_sample_age,
        ) {
            (Some(0), age) => self.set_limit_all(SampleLimit::Age(age.unwrap_or(0))),
            (Some(n), _) => self.set_limit_all(SampleLimit::Count(n)),
            (None, _) => {}
        }
        let declined_name = StatName::Global(GlobalStat::DeclinedAddresses);
        if !self.configured {
            if let Some(slot) = self.slot(declined_name) {
                self.history.clear(slot);
            }
            self.configured = true;
        }
        self.set(declined_name, declined, now);
        Ok(())
    }

    /// The configured subnets' statistics, sorted by id.
    pub fn subnets(&self) -> &[SubnetStats] {
        self.subnets.get(..self.used).unwrap_or(&[])
    }

    fn subnet_index(&self, id: u32) -> Option<usize> {
        self.subnets().binary_search_by_key(&id, |e| e.id).ok()
    }

    fn subnet_mut(&mut self, id: u32) -> Option<&mut SubnetStats> {
        let i = self.subnet_index(id)?;
        self.subnets.get_mut(i)
    }

    /// The statistic's slot in the history.
    fn slot(&self, name: StatName) -> Option<usize> {
        match name {
            StatName::Global(g) => Some(g.index()),
            StatName::Subnet { id, stat } => Some(subnet_slot(self.subnet_index(id)?, stat)),
        }
    }

    fn sample_mut(&mut self, name: StatName) -> Option<&mut Sample> {
        match name {
            StatName::Global(g) => self.global.get_mut(g.index()),
            StatName::Subnet { id, stat } => self.subnet_mut(id)?.samples.get_mut(stat.index()),
        }
    }

    /// The current sample of a statistic (`None` if unknown or removed).
    pub fn get(&self, name: StatName) -> Option<Sample> {
        let s = match name {
            StatName::Global(g) => self.global.get(g.index()),
            StatName::Subnet { id, stat } => {
                let used = self.subnets();
                used.get(self.subnet_index(id)?)?.samples.get(stat.index())
            }
        }?;
        (!s.removed).then_some(*s)
    }

    /// A statistic's kept samples, newest first (`statistic-get`); empty if it does not
    /// exist. Without history storage for it, its current value alone.
    pub fn samples(&self, name: StatName) -> impl Iterator<Item = Sample> + '_ {
        let current = self.get(name);
        let slot = current.and(self.slot(name));
        let kept = slot.map_or(0, |s| self.history.samples(s).count());
        let fallback = current.filter(|_| kept == 0);
        slot.into_iter()
            .flat_map(|s| self.history.samples(s))
            .map(|s| Sample {
                value: s.value(),
                at: Timestamp(s.at()),
                removed: false,
            })
            .chain(fallback)
    }

    /// Writes a statistic's new value (recreating a removed one with the default limit)
    /// and records the sample.
    fn write(&mut self, name: StatName, value: impl FnOnce(i64) -> i64, now: Timestamp) {
        let Some(slot) = self.slot(name) else {
            return;
        };
        let Some(s) = self.sample_mut(name) else {
            return;
        };
        let recreated = s.removed;
        let v = value(if s.removed { 0 } else { s.value });
        *s = Sample {
            value: v,
            at: now,
            removed: false,
        };
        if recreated {
            self.history.restart(slot, self.default_limit);
        }
        self.history.push(slot, v, now.0);
    }

    /// Adds `delta` (recreating a removed statistic).
    pub fn add(&mut self, name: StatName, delta: i64, now: Timestamp) {
        self.write(name, |v| v.saturating_add(delta), now);
    }

    /// Sets a value.
    pub fn set(&mut self, name: StatName, value: i64, now: Timestamp) {
        self.write(name, |_| value, now);
    }

    fn add_global(&mut self, g: GlobalStat, delta: i64, now: Timestamp) {
        self.add(StatName::Global(g), delta, now);
    }

    fn add_subnet(&mut self, id: u32, stat: SubnetStat, delta: i64, now: Timestamp) {
        self.add(StatName::Subnet { id, stat }, delta, now);
    }

    /// `statistic-reset`: value back to 0, earlier samples forgotten (Kea:
    /// `Observation::reset`), limit kept. False if there is no such statistic.
    pub fn reset(&mut self, name: StatName, now: Timestamp) -> bool {
        if self.get(name).is_none() {
            return false;
        }
        if let Some(slot) = self.slot(name) {
            self.history.clear(slot);
        }
        self.set(name, 0, now);
        true
    }

    /// `statistic-remove`. False if there is no such statistic.
    pub fn remove(&mut self, name: StatName) -> bool {
        if self.get(name).is_none() {
            return false;
        }
        if let Some(s) = self.sample_mut(name) {
            s.removed = true;
        }
        if let Some(slot) = self.slot(name) {
            self.history.restart(slot, self.default_limit);
        }
        true
    }

    /// Every statistic's name, existing or not, in `statistic-get-all` order.
    fn all_names(&self) -> impl Iterator<Item = StatName> + '_ {
        let before = GlobalStat::ALL.iter().take_while(|g| g.name() < "subnet[");
        let after = GlobalStat::ALL.iter().skip_while(|g| g.name() < "subnet[");
        before
            .map(|g| StatName::Global(*g))
            .chain(self.subnets().iter().flat_map(|e| {
                SubnetStat::ALL
                    .iter()
                    .map(move |s| StatName::Subnet { id: e.id, stat: *s })
            }))
            .chain(after.map(|g| StatName::Global(*g)))
    }

    /// `statistic-reset-all`: every statistic that exists back to 0.
    pub fn reset_all(&mut self, now: Timestamp) {
        for i in 0..GLOBAL_COUNT.saturating_add(self.used.saturating_mul(SUBNET_STAT_COUNT)) {
            if let Some(name) = self.name_of_slot(i) {
                self.reset(name, now);
            }
        }
    }

    /// `statistic-remove-all`: every statistic removed (the next change recreates it).
    pub fn remove_all(&mut self) {
        for i in 0..GLOBAL_COUNT.saturating_add(self.used.saturating_mul(SUBNET_STAT_COUNT)) {
            if let Some(name) = self.name_of_slot(i) {
                self.remove(name);
            }
        }
    }

    fn name_of_slot(&self, slot: usize) -> Option<StatName> {
        if let Some(g) = GlobalStat::ALL.get(slot) {
            return Some(StatName::Global(*g));
        }
        let rest = slot.checked_sub(GLOBAL_COUNT)?;
        let e = self.subnets().get(rest / SUBNET_STAT_COUNT)?;
        let stat = *SubnetStat::ALL.get(rest % SUBNET_STAT_COUNT)?;
        Some(StatName::Subnet { id: e.id, stat })
    }

    /// `statistic-sample-count-set` / `-age-set`: the statistic's new limit (its oldest
    /// samples beyond it go at once). False if there is no such statistic.
    pub fn set_limit(&mut self, name: StatName, limit: SampleLimit) -> bool {
        if self.get(name).is_none() {
            return false;
        }
        if let Some(slot) = self.slot(name) {
            self.history.set_limit(slot, limit);
        }
        true
    }

    /// `statistic-sample-count-set-all` / `-age-set-all`: every statistic's limit, and the
    /// one statistics created later start with.
    pub fn set_limit_all(&mut self, limit: SampleLimit) {
        self.default_limit = limit;
        for slot in 0..self.history.slots() {
            self.history.set_limit(slot, limit);
        }
    }

    /// A statistic's limit (`None` if it does not exist).
    pub fn limit(&self, name: StatName) -> Option<SampleLimit> {
        self.get(name)?;
        Some(
            self.slot(name)
                .and_then(|s| self.history.limit(s))
                .unwrap_or(self.default_limit),
        )
    }

    /// Every existing statistic in `statistic-get-all` order: globals alphabetically, with
    /// the per-subnet ones (by id) where Kea's sort puts `subnet[…]`. The sample is the
    /// current one ([`Stats::samples`] lists the kept ones).
    pub fn iter(&self) -> impl Iterator<Item = (StatName, Sample)> + '_ {
        self.all_names().filter_map(|n| self.get(n).map(|s| (n, s)))
    }

    /// Counts one handled query from the engine's outcome; `query` is the UDP payload it
    /// came from (only its message type is read, for the drops the outcome does not type).
    /// Call after the reply was sent.
    pub fn record_outcome(&mut self, outcome: &Outcome, query: &[u8], now: Timestamp) {
        use GlobalStat as G;
        self.add_global(G::Pkt4Received, 1, now);
        match outcome {
            Outcome::Reply { kind, summary, .. } => {
                self.count_received(Some(summary.query), now);
                self.add_global(G::Pkt4Sent, 1, now);
                match kind {
                    MessageType::Offer => self.add_global(G::Pkt4OfferSent, 1, now),
                    MessageType::Ack => self.add_global(G::Pkt4AckSent, 1, now),
                    MessageType::Nak => self.add_global(G::Pkt4NakSent, 1, now),
                    _ => {}
                }
                self.count_event(summary.event, summary.subnet_id, now);
            }
            Outcome::Done(summary) => {
                self.count_received(Some(summary.query), now);
                self.count_event(summary.event, summary.subnet_id, now);
            }
            Outcome::Drop(reason) => {
                if let Some(d) = self.drops.get_mut(drop_index(reason)) {
                    *d = d.saturating_add(1);
                }
                match reason {
                    DropReason::ParseFailed(_) => {
                        self.add_global(G::Pkt4ParseFailed, 1, now);
                        self.add_global(G::Pkt4ReceiveDrop, 1, now);
                    }
                    DropReason::BootpNotSupported => self.add_global(G::Pkt4ReceiveDrop, 1, now),
                    DropReason::UnknownMessageType(_) => {
                        self.add_global(G::Pkt4UnknownReceived, 1, now);
                        self.add_global(G::Pkt4ReceiveDrop, 1, now);
                    }
                    DropReason::AllocationFailed => {
                        self.count_received(message_type(query), now);
                        self.add_global(G::V4AllocationFail, 1, now);
                    }
                    DropReason::NoSubnet | DropReason::Silence(_) => {
                        self.count_received(message_type(query), now)
                    }
                    // Dropped by the server's checks (accept, sanity, DROP class).
                    _ => {
                        self.count_received(message_type(query), now);
                        self.add_global(G::Pkt4ReceiveDrop, 1, now);
                    }
                }
            }
        }
    }

    fn count_received(&mut self, kind: Option<MessageType>, now: Timestamp) {
        use GlobalStat as G;
        let stat = match kind {
            Some(MessageType::Discover) => G::Pkt4DiscoverReceived,
            Some(MessageType::Offer) => G::Pkt4OfferReceived,
            Some(MessageType::Request) => G::Pkt4RequestReceived,
            Some(MessageType::Ack) => G::Pkt4AckReceived,
            Some(MessageType::Nak) => G::Pkt4NakReceived,
            Some(MessageType::Release) => G::Pkt4ReleaseReceived,
            Some(MessageType::Decline) => G::Pkt4DeclineReceived,
            Some(MessageType::Inform) => G::Pkt4InformReceived,
            Some(MessageType::Unknown(_)) | None => G::Pkt4UnknownReceived,
        };
        self.add_global(stat, 1, now);
    }

    fn count_event(&mut self, event: Event, subnet: Option<u32>, now: Timestamp) {
        let Some(id) = subnet else { return };
        match event {
            Event::Allocated => {
                self.add_subnet(id, SubnetStat::AssignedAddresses, 1, now);
                self.add_subnet(id, SubnetStat::CumulativeAssignedAddresses, 1, now);
                self.add_global(GlobalStat::CumulativeAssignedAddresses, 1, now);
            }
            Event::Released => self.add_subnet(id, SubnetStat::AssignedAddresses, -1, now),
            Event::Declined => {
                self.add_subnet(id, SubnetStat::DeclinedAddresses, 1, now);
                self.add_global(GlobalStat::DeclinedAddresses, 1, now);
            }
            _ => {}
        }
    }

    /// Counts a lease change made outside the packet path (control commands, reclamation,
    /// HA updates): `before` is the address's lease before the change, if any; `after` the
    /// record written (`valid_lifetime` 0 for a removal). Only `assigned-addresses` and
    /// `declined-addresses` move: Kea's lease_cmds (`lease4-add`, `-update`, which HA lease
    /// updates use too) leave `cumulative-assigned-addresses` alone, which counts the
    /// allocation engine's assignments only (checked on kea-dhcp4 2.2: after `lease4-add`,
    /// `cumulative-assigned-addresses` stays 0 while `subnet[1].assigned-addresses` is 1).
    pub fn record_lease_change(
        &mut self,
        before: Option<LeaseCount>,
        after: &LeaseRecord<'_>,
        now: Timestamp,
    ) {
        if let Some(b) = before {
            self.count_lease(b.subnet_id, b.state, -1, now);
        }
        if !after.is_removal() {
            self.count_lease(after.subnet_id, after.state, 1, now);
        }
    }

    /// A declined lease counts in `assigned-addresses` too, as everywhere in Kea 2.2 (a
    /// DECLINE leaves `assigned-addresses` alone; `lease4-add` of a state-1 lease adds to
    /// both, checked on kea-dhcp4 2.2; the recount counts declined leases as assigned).
    fn count_lease(&mut self, subnet: u32, state: LeaseState, delta: i64, now: Timestamp) {
        match state {
            LeaseState::Default => {
                self.add_subnet(subnet, SubnetStat::AssignedAddresses, delta, now)
            }
            LeaseState::Declined => {
                self.add_subnet(subnet, SubnetStat::AssignedAddresses, delta, now);
                self.add_subnet(subnet, SubnetStat::DeclinedAddresses, delta, now);
                self.add_global(GlobalStat::DeclinedAddresses, delta, now);
            }
            LeaseState::ExpiredReclaimed => {}
        }
    }

    /// Counts a lease reclaimed by the expiration cycle (`reclaimed-leases`, and for a
    /// declined one `reclaimed-declined-addresses`; Kea §6.1).
    pub fn record_reclaimed(&mut self, lease: &LeaseRecord<'_>, now: Timestamp) {
        let id = lease.subnet_id;
        self.add_subnet(id, SubnetStat::ReclaimedLeases, 1, now);
        self.add_global(GlobalStat::ReclaimedLeases, 1, now);
        match lease.state {
            LeaseState::Default => self.add_subnet(id, SubnetStat::AssignedAddresses, -1, now),
            // Kea's reclamation takes every reclaimed lease off `assigned-addresses`,
            // a declined one too (it stayed counted as assigned since its DECLINE).
            LeaseState::Declined => {
                self.add_subnet(id, SubnetStat::AssignedAddresses, -1, now);
                self.add_subnet(id, SubnetStat::DeclinedAddresses, -1, now);
                self.add_global(GlobalStat::DeclinedAddresses, -1, now);
                self.add_subnet(id, SubnetStat::ReclaimedDeclinedAddresses, 1, now);
                self.add_global(GlobalStat::ReclaimedDeclinedAddresses, 1, now);
            }
            // The table reports a lease it keeps as state 2 after reclaiming it; only a
            // lease in state 0 is kept that way (a declined one is removed, reported with
            // its state 1), so it was an assigned address (core/src/lease/table.rs
            // `reclaim_expired`). Without this, `assigned-addresses` never fell when
            // `hold-reclaimed-time` (default 3600 s) keeps reclaimed leases.
            LeaseState::ExpiredReclaimed => {
                self.add_subnet(id, SubnetStat::AssignedAddresses, -1, now)
            }
        }
    }

    /// Writes the Prometheus text exposition (format 0.0.4) into `out`: packet counters by
    /// type, drops by reason, per-subnet total/assigned/declined addresses, then the
    /// caller's gauges (lease-file sync latency, uptime, …). Returns the length, or
    /// `Err(BufferFull)`: retry with a larger buffer (~100 bytes per subnet suffice).
    pub fn prometheus(&self, gauges: &[Gauge<'_>], out: &mut [u8]) -> Result<usize, BufferFull> {
        let mut w = TextOut { buf: out, len: 0 };
        self.write_prometheus(gauges, &mut w)
            .map_err(|_| BufferFull)?;
        Ok(w.len)
    }

    fn write_prometheus(&self, gauges: &[Gauge<'_>], w: &mut TextOut<'_>) -> fmt::Result {
        use GlobalStat as G;
        let g = |s: G| self.global.get(s.index()).map_or(0, |x| x.value);
        header(w, "wren_pkt4_received_total", "counter", "DHCPv4 packets received, by message type (Kea pkt4-<type>-received; all = pkt4-received).")?;
        for (label, s) in [
            ("all", G::Pkt4Received),
            ("discover", G::Pkt4DiscoverReceived),
            ("offer", G::Pkt4OfferReceived),
            ("request", G::Pkt4RequestReceived),
            ("ack", G::Pkt4AckReceived),
            ("nak", G::Pkt4NakReceived),
            ("release", G::Pkt4ReleaseReceived),
            ("decline", G::Pkt4DeclineReceived),
            ("inform", G::Pkt4InformReceived),
            ("unknown", G::Pkt4UnknownReceived),
        ] {
            writeln!(w, "wren_pkt4_received_total{{type=\"{label}\"}} {}", g(s))?;
        }
        header(
            w,
            "wren_pkt4_sent_total",
            "counter",
            "DHCPv4 replies sent, by message type (Kea pkt4-<type>-sent; all = pkt4-sent).",
        )?;
        for (label, s) in [
            ("all", G::Pkt4Sent),
            ("offer", G::Pkt4OfferSent),
            ("ack", G::Pkt4AckSent),
            ("nak", G::Pkt4NakSent),
        ] {
            writeln!(w, "wren_pkt4_sent_total{{type=\"{label}\"}} {}", g(s))?;
        }
        header(
            w,
            "wren_pkt4_dropped_total",
            "counter",
            "Queries answered with no reply, by reason.",
        )?;
        for (label, n) in DROP_LABELS.iter().zip(self.drops.iter()) {
            writeln!(w, "wren_pkt4_dropped_total{{reason=\"{label}\"}} {n}")?;
        }
        for (name, help, s) in [
            (
                "wren_pkt4_parse_failed_total",
                "Packets that could not be parsed (Kea pkt4-parse-failed).",
                G::Pkt4ParseFailed,
            ),
            (
                "wren_pkt4_receive_drop_total",
                "Packets dropped (Kea pkt4-receive-drop).",
                G::Pkt4ReceiveDrop,
            ),
            (
                "wren_v4_allocation_fail_total",
                "Address allocation failures (Kea v4-allocation-fail).",
                G::V4AllocationFail,
            ),
            (
                "wren_reclaimed_leases_total",
                "Expired leases reclaimed (Kea reclaimed-leases).",
                G::ReclaimedLeases,
            ),
        ] {
            header(w, name, "counter", help)?;
            writeln!(w, "{name} {}", g(s))?;
        }
        for (name, help, s) in [
            (
                "wren_subnet_addresses_total",
                "Addresses in the subnet's pools (Kea subnet[id].total-addresses).",
                SubnetStat::TotalAddresses,
            ),
            (
                "wren_subnet_addresses_assigned",
                "Leased addresses (Kea subnet[id].assigned-addresses).",
                SubnetStat::AssignedAddresses,
            ),
            (
                "wren_subnet_addresses_declined",
                "Declined addresses (Kea subnet[id].declined-addresses).",
                SubnetStat::DeclinedAddresses,
            ),
        ] {
            header(w, name, "gauge", help)?;
            for e in self.subnets() {
                let v = e.samples.get(s.index()).map_or(0, |x| x.value);
                writeln!(
                    w,
                    "{name}{{subnet_id=\"{}\",subnet=\"{}/{}\"}} {v}",
                    e.id, e.prefix.0, e.prefix.1
                )?;
            }
        }
        for gauge in gauges {
            header(w, gauge.name, "gauge", gauge.help)?;
            writeln!(w, "{} {}", gauge.name, gauge.value)?;
        }
        Ok(())
    }
}

/// What the statistics need of a lease that is about to change (copied out of the table
/// before the change).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseCount {
    /// Its subnet.
    pub subnet_id: u32,
    /// Its state.
    pub state: LeaseState,
}

impl LeaseCount {
    /// The counting facts of `lease`.
    pub fn of(lease: &LeaseRecord<'_>) -> LeaseCount {
        LeaseCount {
            subnet_id: lease.subnet_id,
            state: lease.state,
        }
    }
}

/// A gauge the caller measures (`wren_lease_file_sync_seconds`, `wren_uptime_seconds`).
#[derive(Clone, Copy, Debug)]
pub struct Gauge<'a> {
    /// Metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    pub name: &'a str,
    /// One-line help text.
    pub help: &'a str,
    /// Value.
    pub value: f64,
}

/// The output buffer is too small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferFull;

fn header(w: &mut TextOut<'_>, name: &str, kind: &str, help: &str) -> fmt::Result {
    writeln!(w, "# HELP {name} {help}")?;
    writeln!(w, "# TYPE {name} {kind}")
}

struct TextOut<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl fmt::Write for TextOut<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The DHCP message type (option 53) of a BOOTP payload, if it has one (a plain scan of the
/// options field; overloaded options are not followed, 53 is never overloaded in practice).
fn message_type(payload: &[u8]) -> Option<MessageType> {
    if payload.get(236..240)? != [99, 130, 83, 99] {
        return None;
    }
    let mut i = 240usize;
    loop {
        let code = *payload.get(i)?;
        match code {
            0 => i += 1,
            255 => return None,
            _ => {
                let len = usize::from(*payload.get(i + 1)?);
                if code == 53 && len == 1 {
                    return payload.get(i + 2).map(|&t| MessageType::from(t));
                }
                i += 2 + len;
            }
        }
    }
}

/// Formats a timestamp as Kea's statistics do: `YYYY-MM-DD HH:MM:SS.ffffff`, shifted by
/// `utc_offset` seconds (Kea prints local time; the daemon knows the zone).
pub fn format_timestamp(at: Timestamp, utc_offset: i32, out: &mut impl fmt::Write) -> fmt::Result {
    let secs = (at.0 as i64).saturating_add(i64::from(utc_offset));
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    write!(
        out,
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.000000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{Destination, Summary};
    use std::string::String;
    use std::vec::Vec;

    fn summary(query: MessageType, event: Event, subnet: u32) -> Summary {
        Summary {
            query,
            event,
            address: Some(Ipv4Addr::new(198, 18, 0, 10)),
            subnet_id: Some(subnet),
            lifetime: 3600,
            xid: 1,
            hwaddr: [0; 16],
            hwaddr_len: 6,
            replaced: None,
            moved_from: None,
        }
    }

    fn reply(kind: MessageType, s: Summary) -> Outcome {
        Outcome::Reply {
            len: 300,
            destination: Destination {
                ip: Ipv4Addr::BROADCAST,
                port: 68,
                mac: [0xff; 6],
                source_ip: Ipv4Addr::new(198, 18, 0, 1),
                raw_frame: false,
            },
            kind,
            summary: s,
        }
    }

    fn stats_with(ids: &[u32], storage: &mut [SubnetStats]) -> usize {
        for (i, id) in ids.iter().enumerate() {
            storage[i] = SubnetStats {
                id: *id,
                prefix: (Ipv4Addr::new(198, 18, *id as u8, 0), 24),
                samples: [Sample::default(); SUBNET_STAT_COUNT],
            };
            storage[i].samples[SubnetStat::TotalAddresses.index()].value = 100;
        }
        ids.len()
    }

    #[test]
    fn names_parse_and_print() {
        assert_eq!(
            StatName::parse("subnet[12].assigned-addresses"),
            Some(StatName::Subnet {
                id: 12,
                stat: SubnetStat::AssignedAddresses
            })
        );
        assert_eq!(
            StatName::parse("pkt4-received"),
            Some(StatName::Global(GlobalStat::Pkt4Received))
        );
        assert_eq!(StatName::parse("subnet[].total-addresses"), None);
        assert_eq!(StatName::parse("subnet[x].total-addresses"), None);
        assert_eq!(StatName::parse("assigned-addresses"), None);
        assert_eq!(
            std::format!("{}", StatName::parse("subnet[7].total-addresses").unwrap()),
            "subnet[7].total-addresses"
        );
        for pair in GlobalStat::ALL.windows(2) {
            assert!(pair[0].name() < pair[1].name());
        }
        for pair in SubnetStat::ALL.windows(2) {
            assert!(pair[0].name() < pair[1].name());
        }
    }

    #[test]
    fn outcomes_count_like_kea() {
        let mut storage = [SubnetStats::default(); 2];
        let mut st = Stats::new(&mut storage, Timestamp(0));
        st.used = stats_with(&[1, 2], st.subnets);
        let t = Timestamp(1_000);
        st.record_outcome(
            &reply(
                MessageType::Offer,
                summary(MessageType::Discover, Event::Offered, 1),
            ),
            &[],
            t,
        );
        st.record_outcome(
            &reply(
                MessageType::Ack,
                summary(MessageType::Request, Event::Allocated, 1),
            ),
            &[],
            t,
        );
        st.record_outcome(
            &reply(
                MessageType::Nak,
                summary(
                    MessageType::Request,
                    Event::Nak(crate::assign::address::NakReason::LeasedToAnother),
                    1,
                ),
            ),
            &[],
            t,
        );
        st.record_outcome(
            &Outcome::Done(summary(MessageType::Decline, Event::Declined, 2)),
            &[],
            t,
        );
        st.record_outcome(
            &Outcome::Done(summary(MessageType::Release, Event::Released, 1)),
            &[],
            t,
        );
        st.record_outcome(&Outcome::Drop(DropReason::UnknownMessageType(42)), &[], t);
        let mut discover = [0u8; 244];
        discover[236..240].copy_from_slice(&[99, 130, 83, 99]);
        discover[240..243].copy_from_slice(&[53, 1, 1]);
        discover[243] = 255;
        st.record_outcome(&Outcome::Drop(DropReason::NotForUs), &discover, t);
        st.record_outcome(&Outcome::Drop(DropReason::AllocationFailed), &discover, t);
        let g = |s| st.get(StatName::Global(s)).unwrap().value;
        use GlobalStat as G;
        assert_eq!(g(G::Pkt4Received), 8);
        assert_eq!(g(G::Pkt4DiscoverReceived), 3);
        assert_eq!(g(G::Pkt4RequestReceived), 2);
        assert_eq!(g(G::Pkt4DeclineReceived), 1);
        assert_eq!(g(G::Pkt4ReleaseReceived), 1);
        assert_eq!(g(G::Pkt4UnknownReceived), 1);
        assert_eq!(g(G::Pkt4Sent), 3);
        assert_eq!(g(G::Pkt4OfferSent), 1);
        assert_eq!(g(G::Pkt4AckSent), 1);
        assert_eq!(g(G::Pkt4NakSent), 1);
        assert_eq!(g(G::Pkt4ReceiveDrop), 2);
        assert_eq!(g(G::V4AllocationFail), 1);
        assert_eq!(g(G::DeclinedAddresses), 1);
        assert_eq!(g(G::CumulativeAssignedAddresses), 1);
        let sub = |id, stat| st.get(StatName::Subnet { id, stat }).unwrap().value;
        assert_eq!(sub(1, SubnetStat::AssignedAddresses), 0); // +1 ACK, −1 RELEASE
        assert_eq!(sub(1, SubnetStat::CumulativeAssignedAddresses), 1);
        assert_eq!(sub(2, SubnetStat::DeclinedAddresses), 1);
        assert_eq!(
            st.get(StatName::Subnet {
                id: 3,
                stat: SubnetStat::AssignedAddresses
            }),
            None
        );
        assert_eq!(st.get(StatName::Global(G::Pkt4Received)).unwrap().at, t);
    }

    #[test]
    fn reset_remove_and_iteration_order() {
        let mut storage = [SubnetStats::default(); 2];
        let mut st = Stats::new(&mut storage, Timestamp(0));
        st.used = stats_with(&[1, 2], st.subnets);
        let n = StatName::Global(GlobalStat::Pkt4Received);
        st.add(n, 5, Timestamp(1));
        assert!(st.reset(n, Timestamp(2)));
        assert_eq!(
            st.get(n).unwrap(),
            Sample {
                value: 0,
                at: Timestamp(2),
                removed: false
            }
        );
        assert!(st.remove(n));
        assert_eq!(st.get(n), None);
        assert!(!st.remove(n));
        assert!(!st.reset(n, Timestamp(3)));
        let names: Vec<String> = st.iter().map(|(n, _)| std::format!("{n}")).collect();
        assert_eq!(
            names.len(),
            GlobalStat::ALL.len() - 1 + 2 * SUBNET_STAT_COUNT
        );
        assert_eq!(names[0], "cumulative-assigned-addresses");
        let first_subnet = names.iter().position(|n| n.starts_with("subnet[")).unwrap();
        assert_eq!(names[first_subnet - 1], "reclaimed-leases");
        assert_eq!(names[first_subnet], "subnet[1].assigned-addresses");
        assert_eq!(names.last().unwrap(), "v4-reservation-conflicts");
        st.add(n, 1, Timestamp(4));
        assert_eq!(st.get(n).unwrap().value, 1);
        st.reset_all(Timestamp(5));
        assert!(st.iter().all(|(_, s)| s.value == 0 && s.at == Timestamp(5)));
    }

    /// A declined lease counts in `assigned-addresses` as well as `declined-addresses`
    /// (Kea 2.2: lease_cmds, recount and reclamation agree), so reclaiming it takes it off
    /// both and nothing is left counted.
    #[test]
    fn declined_leases_count_as_assigned_until_reclaimed() {
        let mut storage = [SubnetStats::default(); 1];
        let mut st = Stats::new(&mut storage, Timestamp(0));
        st.used = stats_with(&[1], st.subnets);
        let lease = LeaseRecord {
            address: Ipv4Addr::new(198, 18, 1, 9),
            hwaddr: &[],
            client_id: &[],
            valid_lifetime: 600,
            cltt: Timestamp(10),
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: "",
            state: LeaseState::Declined,
            user_context: "",
        };
        let t = Timestamp(20);
        let sub = |st: &Stats<'_>, stat| st.get(StatName::Subnet { id: 1, stat }).unwrap().value;
        st.record_lease_change(None, &lease, t);
        assert_eq!(sub(&st, SubnetStat::AssignedAddresses), 1);
        assert_eq!(sub(&st, SubnetStat::DeclinedAddresses), 1);
        st.record_reclaimed(&lease, t);
        assert_eq!(sub(&st, SubnetStat::AssignedAddresses), 0);
        assert_eq!(sub(&st, SubnetStat::DeclinedAddresses), 0);
        assert_eq!(sub(&st, SubnetStat::ReclaimedDeclinedAddresses), 1);
        // lease4-del of a declined lease.
        st.record_lease_change(None, &lease, t);
        let removal = LeaseRecord {
            valid_lifetime: 0,
            ..lease
        };
        st.record_lease_change(Some(LeaseCount::of(&lease)), &removal, t);
        assert_eq!(sub(&st, SubnetStat::AssignedAddresses), 0);
        assert_eq!(sub(&st, SubnetStat::DeclinedAddresses), 0);
        assert_eq!(
            st.get(StatName::Global(GlobalStat::DeclinedAddresses))
                .unwrap()
                .value,
            0
        );
    }

    #[test]
    fn timestamps_are_kea_shaped() {
        let mut s = String::new();
        format_timestamp(Timestamp(1_580_517_612), 0, &mut s).unwrap();
        assert_eq!(s, "2020-02-01 00:40:12.000000");
        s.clear();
        format_timestamp(Timestamp(0), -3600, &mut s).unwrap();
        assert_eq!(s, "1969-12-31 23:00:00.000000");
        s.clear();
        format_timestamp(Timestamp(951_782_400), 0, &mut s).unwrap();
        assert_eq!(s, "2000-02-29 00:00:00.000000");
    }

    /// Every line is a comment (`# HELP name text` / `# TYPE name counter|gauge`) or a
    /// sample `name{label="v",…} value`, and every sample's family was declared.
    #[test]
    fn prometheus_text_is_valid_exposition() {
        let mut storage = [SubnetStats::default(); 2];
        let mut st = Stats::new(&mut storage, Timestamp(0));
        st.used = stats_with(&[1, 2], st.subnets);
        st.record_outcome(&Outcome::Drop(DropReason::NotForUs), &[], Timestamp(1));
        let gauges = [Gauge {
            name: "wren_uptime_seconds",
            help: "Seconds since start.",
            value: 12.5,
        }];
        let mut buf = std::vec![0u8; 16 * 1024];
        let n = st.prometheus(&gauges, &mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let mut declared = std::collections::HashSet::new();
        let mut samples = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(kind == "counter" || kind == "gauge");
                declared.insert(std::string::String::from(name));
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
            let name = series.split('{').next().unwrap();
            assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{line}"
            );
            assert!(declared.contains(name), "{line}");
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                let inner = labels.strip_prefix('{').unwrap().strip_suffix('}').unwrap();
                for pair in inner.split(',') {
                    let (k, v) = pair.split_once('=').unwrap();
                    assert!(k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
                    assert!(v.starts_with('"') && v.ends_with('"'));
                }
            }
            samples += 1;
        }
        assert!(samples > 30);
        assert!(text.contains("wren_pkt4_dropped_total{reason=\"not_for_us\"} 1\n"));
        assert!(text.contains(
            "wren_subnet_addresses_total{subnet_id=\"2\",subnet=\"198.18.2.0/24\"} 100\n"
        ));
        assert!(text.contains("wren_uptime_seconds 12.5\n"));
        let mut small = [0u8; 100];
        assert_eq!(st.prometheus(&gauges, &mut small), Err(BufferFull));
    }
}
