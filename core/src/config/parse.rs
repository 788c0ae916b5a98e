//! The Kea 2.2 `Dhcp4` grammar (kea-config.md §2) onto the model.
//!
//! One forward pass over the text, writing into [`Store`]; [`crate::config::measure`] runs
//! the same pass in counting mode. Look-aheads (a key scan of one map, no storage) keep it
//! single-pass without losing error positions:
//! * each `subnet4` map is pre-scanned for its `subnet` and `id`: Kea configs (the seed
//!   among them) often list `pools` and `reservations` before `subnet`, and pool and
//!   reservation checks need the prefix, reservation indexes the id;
//! * the `Dhcp4` map for `ip-reservations-unique`, `authoritative`, `calculate-tee-times`
//!   (checks of inner levels depend on them) and `option-def`, which is parsed first, as
//!   Kea does, so `option-data` anywhere can use the definitions; a client class's own
//!   `option-def` likewise comes before its `option-data`.
//!
//! Decisions:
//! * Subnet order (documented on [`super::Config::subnets`]): top-level `subnet4` first in
//!   file order, then each shared network's members, network by network; members are
//!   stored consecutively.
//! * Auto ids (`id` absent or 0) are 1, 2, 3… in file order over all subnets without an
//!   id (kea-config.md §2.3); an explicit id equal to an auto one is a duplicate.
//! * Inheritable parameters are resolved when the whole text is read (the global map may
//!   follow `subnet4`); lifetimes follow Kea's triplet rule per level.
//! * Checks that compare a new item with stored ones (duplicate subnet ids/prefixes, class
//!   and network names, pool overlap, reservation identifiers/addresses) run in `parse`
//!   only: `measure` stores nothing. Duplicate subnet ids/prefixes are found by a scan of
//!   the earlier subnets (quadratic: 2 million comparisons for 2,000 subnets).

use core::net::Ipv4Addr;

use super::error::ConfigPath as ConfigPathBuf;
use super::error::{
    snippet, ConfigError, ConfigErrorKind, ConfigWarningKind, PoolProblem, Position, StorageKind,
};
use super::json::{unescape, unescape_small, Lexer, Token, TokenKind};
use super::model::*;
use super::reader::{prescan, MapIter, Reader};
use super::storage::{Slots, TextArena};
use super::unsupported::{self, Scope};
use super::values;
use crate::index::{hash_parts, HashIndex};
use crate::option_data::{self, OptionDataError};
use crate::option_def::{self, OptionDefError, OptionKind, OptionType};

/// What a carrier option encapsulates.
#[derive(Clone, Copy)]
enum Encapsulation {
    /// Option 125 for this enterprise (space `vendor-<n>`).
    Vivso(u32),
    /// A named space: from a custom definition (text) or a standard one (static).
    Named(TextRef, Option<&'static str>),
}

/// Whether `space` is the space named `name` (for `encapsulate`); custom space names are
/// in `text`.
fn space_is(space: OptionSpace, name: &[u8], text: &[u8]) -> bool {
    match space {
        OptionSpace::Dhcp4 => name == b"dhcp4",
        OptionSpace::VendorEncapsulated => name == option_def::VENDOR_ENCAPSULATED_SPACE.as_bytes(),
        OptionSpace::AgentOptions => name == option_def::AGENT_OPTIONS_SPACE.as_bytes(),
        OptionSpace::Vendor(n) => {
            name.strip_prefix(b"vendor-")
                .and_then(|d| core::str::from_utf8(d).ok())
                .and_then(|d| d.parse::<u32>().ok())
                == Some(n)
        }
        OptionSpace::Custom(r) => {
            let start = r.offset as usize;
            text.get(start..start.saturating_add(r.len as usize)) == Some(name)
        }
    }
}

/// A `Display` value as a [`super::error::Snippet`] (cut when too long).
fn display_snippet(value: &dyn core::fmt::Display) -> super::error::Snippet {
    struct Cut(super::error::Snippet);
    impl core::fmt::Write for Cut {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for ch in s.chars() {
                if self.0.push(ch).is_err() {
                    return Err(core::fmt::Error);
                }
            }
            Ok(())
        }
    }
    let mut out = Cut(super::error::Snippet::new());
    let _ = core::fmt::write(&mut out, format_args!("{value}"));
    out.0
}

/// Hash key of a reservation in [`Config::reservations_by_identifier`].
pub fn identifier_hash(subnet_id: u32, kind: IdentifierType, identifier: &[u8]) -> u64 {
    hash_parts(&[&subnet_id.to_be_bytes(), &[kind as u8], identifier])
}

/// Hash key of a reservation in [`Config::reservations_by_address`].
pub fn address_hash(subnet_id: u32, address: Ipv4Addr) -> u64 {
    hash_parts(&[&subnet_id.to_be_bytes(), &address.octets()])
}

/// Where everything goes.
pub(crate) struct Store<'s> {
    pub subnets: Slots<'s, Subnet>,
    pub shared_networks: Slots<'s, SharedNetwork>,
    pub pools: Slots<'s, Pool>,
    pub reservations: Slots<'s, Reservation>,
    pub options: Slots<'s, OptionValue>,
    pub option_defs: Slots<'s, CustomOptionDef>,
    pub classes: Slots<'s, ClientClass>,
    pub loggers: Slots<'s, Logger>,
    pub hooks: Slots<'s, HookLibrary>,
    pub addresses: Slots<'s, Ipv4Addr>,
    pub names: Slots<'s, TextRef>,
    pub text: TextArena<'s>,
    pub by_identifier: Option<HashIndex<'s>>,
    pub by_address: Option<HashIndex<'s>>,
}

impl<'s> Store<'s> {
    pub(crate) fn new(storage: ConfigStorage<'s>, counting: bool) -> Result<Self, ConfigErrorKind> {
        let (by_identifier, by_address) =
            if counting {
                (None, None)
            } else {
                (
                    Some(HashIndex::new(storage.reservation_id_slots).map_err(|_| {
                        ConfigErrorKind::StorageFull(StorageKind::ReservationIdSlots)
                    })?),
                    Some(HashIndex::new(storage.reservation_addr_slots).map_err(|_| {
                        ConfigErrorKind::StorageFull(StorageKind::ReservationAddrSlots)
                    })?),
                )
            };
        Ok(Store {
            subnets: Slots::new(storage.subnets, counting, StorageKind::Subnets),
            shared_networks: Slots::new(
                storage.shared_networks,
                counting,
                StorageKind::SharedNetworks,
            ),
            pools: Slots::new(storage.pools, counting, StorageKind::Pools),
            reservations: Slots::new(storage.reservations, counting, StorageKind::Reservations),
            options: Slots::new(storage.options, counting, StorageKind::Options),
            option_defs: Slots::new(storage.option_defs, counting, StorageKind::OptionDefs),
            classes: Slots::new(storage.classes, counting, StorageKind::Classes),
            loggers: Slots::new(storage.loggers, counting, StorageKind::Loggers),
            hooks: Slots::new(storage.hooks, counting, StorageKind::Hooks),
            addresses: Slots::new(storage.addresses, counting, StorageKind::Addresses),
            names: Slots::new(storage.names, counting, StorageKind::Names),
            text: TextArena::new(storage.text, counting),
            by_identifier,
            by_address,
        })
    }
}

/// Positions of a level's keys, for the checks made when the level's map ends.
#[derive(Default)]
struct LevelKeys {
    valid: Option<Position>,
    min: Option<(Position, u32)>,
    max: Option<(Position, u32)>,
    t1: Option<Position>,
    t2: Option<Position>,
    renew: Option<Position>,
    reservation_mode: Option<(Position, &'static str)>,
    reservation_flag: Option<(Position, &'static str)>,
}

const DEFAULT_IDENTIFIERS: [IdentifierType; 5] = [
    IdentifierType::HwAddress,
    IdentifierType::Duid,
    IdentifierType::CircuitId,
    IdentifierType::ClientId,
    IdentifierType::FlexId,
];

fn default_globals() -> Globals {
    Globals {
        params: SubnetParams::KEA_DEFAULT,
        declared: DeclaredParams::NONE,
        echo_client_id: true,
        decline_probation_period: 86_400,
        statistic_sample_count: None,
        statistic_sample_age: None,
        host_reservation_identifiers: DEFAULT_IDENTIFIERS,
        identifier_count: 4,
        ip_reservations_unique: true,
        lease_checks: LeaseChecks::Warn,
        lease_database: LeaseDatabase {
            persist: true,
            name: TextRef::EMPTY,
            lfc_interval: 3600,
            max_row_errors: 0,
        },
        interfaces: InterfacesConfig {
            interfaces: IndexRange::EMPTY,
            socket_type: SocketType::Raw,
            use_routing: false,
            re_detect: true,
            require_all: false,
            retry_wait_ms: 5000,
            max_retries: 0,
        },
        control_socket: None,
        expired_leases: ExpiredLeasesProcessing {
            reclaim_timer_wait_time: 10,
            flush_reclaimed_timer_wait_time: 25,
            hold_reclaimed_time: 3600,
            max_reclaim_leases: 100,
            max_reclaim_time: 250,
            unwarned_reclaim_cycles: 5,
        },
        server_tag: TextRef::EMPTY,
        options: IndexRange::EMPTY,
        option_defs: IndexRange::EMPTY,
        reservations: IndexRange::EMPTY,
        classes: IndexRange::EMPTY,
        loggers: IndexRange::EMPTY,
        hooks: IndexRange::EMPTY,
        user_context: TextRef::EMPTY,
    }
}

/// The subnet a reservation belongs to, as far as it matters while parsing it.
#[derive(Clone, Copy)]
struct ReservationOwner {
    subnet_id: u32,
    prefix: Option<Ipv4Prefix>,
    /// Index of the first reservation of the owner's list.
    list_start: u32,
}

/// `user-context` and `comment` of one map, merged when the map ends.
#[derive(Default)]
struct Context<'t> {
    user_context: Option<TextRef>,
    comment: Option<&'t str>,
}

pub(crate) struct Parser<'t, 's, 'w> {
    r: Reader<'t, 'w>,
    st: Store<'s>,
    counting: bool,
    globals: Globals,
    global_keys: LevelKeys,
    next_auto_id: u32,
    /// Top-level `subnet4` range and whether shared networks were stored before it.
    top_subnets: Option<IndexRange>,
    networks_first: bool,
    option_defs_done: bool,
    /// `authoritative` and `calculate-tee-times` of the `Dhcp4` map, found by pre-scan
    /// (levels are checked against them before the global map ends).
    global_authoritative: Option<bool>,
    global_calculate_tee_times: Option<bool>,
    /// `option-def` of the client class being parsed (empty outside classes).
    class_defs: IndexRange,
}

type R<T> = Result<T, ConfigError>;

fn range(start: u32, end: u32) -> IndexRange {
    IndexRange {
        start,
        len: end.saturating_sub(start),
    }
}

impl<'t, 's, 'w> Parser<'t, 's, 'w> {
    pub(crate) fn new(
        text: &'t str,
        st: Store<'s>,
        counting: bool,
        warn: &'w mut dyn FnMut(&super::ConfigWarning),
    ) -> Self {
        Parser {
            r: Reader::new(text, warn),
            st,
            counting,
            globals: default_globals(),
            global_keys: LevelKeys::default(),
            next_auto_id: 1,
            top_subnets: None,
            networks_first: false,
            option_defs_done: false,
            global_authoritative: None,
            global_calculate_tee_times: None,
            class_defs: IndexRange::EMPTY,
        }
    }

    pub(crate) fn into_parts(self) -> (Globals, Store<'s>) {
        (self.globals, self.st)
    }

    fn err(&self, pos: Position, kind: ConfigErrorKind) -> ConfigError {
        self.r.error(pos, kind)
    }

    fn at<T>(&self, pos: Position, res: Result<T, ConfigErrorKind>) -> R<T> {
        res.map_err(|k| self.err(pos, k))
    }

    // ---------------------------------------------------------------- values

    /// Stores a string token's unescaped bytes.
    fn store_str(&mut self, t: &Token<'t>) -> R<TextRef> {
        let start = self.st.text.len();
        let mut failed = None;
        let text = &mut self.st.text;
        unescape(t.text, |bytes| {
            if failed.is_none() {
                if let Err(e) = text.push(bytes) {
                    failed = Some(e);
                }
            }
        });
        if let Some(e) = failed {
            return Err(self.err(t.pos, e));
        }
        Ok(self.st.text.since(start))
    }

    fn string_field(&mut self, max_len: Option<usize>) -> R<TextRef> {
        let t = self.r.string()?;
        let r = self.store_str(&t)?;
        if let Some(max) = max_len {
            if r.len as usize > max {
                return Err(self.err(t.pos, ConfigErrorKind::TooLong { max }));
            }
        }
        Ok(r)
    }

    fn address(&mut self) -> R<(Ipv4Addr, Position)> {
        let t = self.r.string()?;
        let a = self.at(t.pos, values::ipv4_value(t.text))?;
        Ok((a, t.pos))
    }

    fn keyword<const N: usize>(
        &mut self,
        allowed: [&'static str; N],
        list: &'static str,
    ) -> R<(usize, Position)> {
        let t = self.r.string()?;
        match allowed.iter().position(|a| *a == t.text) {
            Some(i) => Ok((i, t.pos)),
            None => Err(self.err(
                t.pos,
                ConfigErrorKind::BadKeyword {
                    value: snippet(t.text),
                    allowed: list,
                },
            )),
        }
    }

    fn name_list(&mut self) -> R<IndexRange> {
        let mut it = self.r.open_list()?;
        let start = self.st.names.len_u32();
        while self.r.next_item(&mut it)? {
            let r = self.string_field(None)?;
            let pos = it.pos;
            let res = self.st.names.push(r);
            self.at(pos, res)?;
        }
        Ok(range(start, self.st.names.len_u32()))
    }

    fn address_list(&mut self) -> R<IndexRange> {
        let mut it = self.r.open_list()?;
        let start = self.st.addresses.len_u32();
        while self.r.next_item(&mut it)? {
            let (a, pos) = self.address()?;
            let res = self.st.addresses.push(a);
            self.at(pos, res)?;
        }
        Ok(range(start, self.st.addresses.len_u32()))
    }

    fn unknown(&mut self, key: &Token<'t>, scope: Option<Scope>, map: &'static str) -> R<()> {
        if let Some(scope) = scope {
            if let Some((k, note)) = unsupported::lookup(scope, key.text) {
                self.r
                    .warn(key.pos, ConfigWarningKind::Unsupported { key: k, note });
                return self.r.skip();
            }
        }
        Err(self.err(
            key.pos,
            ConfigErrorKind::UnknownKey {
                key: snippet(key.text),
                map,
            },
        ))
    }

    /// Handles `user-context` and `comment`; returns whether `key` was one of them.
    fn context_key(&mut self, key: &Token<'t>, ctx: &mut Context<'t>) -> R<bool> {
        match key.text {
            "user-context" => {
                let t = self.r.peek()?;
                if t.kind != TokenKind::BeginMap {
                    return Err(self.err(
                        t.pos,
                        ConfigErrorKind::WrongType {
                            expected: "a map",
                            found: t.kind.describe(),
                        },
                    ));
                }
                let start = self.st.text.len();
                self.r.copy(&mut self.st.text)?;
                ctx.user_context = Some(self.st.text.since(start));
                Ok(true)
            }
            "comment" => {
                ctx.comment = Some(self.r.string()?.text);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The merged user-context (Kea moves `comment` into `user-context`).
    fn finish_context(&mut self, ctx: Context<'t>, pos: Position) -> R<TextRef> {
        let Some(comment) = ctx.comment else {
            return Ok(ctx.user_context.unwrap_or(TextRef::EMPTY));
        };
        let start = self.st.text.len();
        let mut res = self.st.text.push(b"{\"comment\":\"");
        res = res.and_then(|_| self.st.text.push(comment.as_bytes()));
        res = res.and_then(|_| self.st.text.push(b"\""));
        if let Some(uc) = ctx.user_context {
            // Inner part of the copied map, without braces.
            if uc.len > 2 {
                res = res.and_then(|_| self.st.text.push(b","));
                let inner = TextRef {
                    offset: uc.offset + 1,
                    len: uc.len - 2,
                };
                res = res.and_then(|_| self.copy_within_text(inner));
            }
        }
        res = res.and_then(|_| self.st.text.push(b"}"));
        self.at(pos, res)?;
        Ok(self.st.text.since(start))
    }

    fn copy_within_text(&mut self, r: TextRef) -> Result<(), ConfigErrorKind> {
        if self.counting {
            return self.st.text.commit(r.len as usize).map(|_| ());
        }
        // Copy in small steps through a stack buffer (source and destination are both in
        // the arena).
        let mut done = 0u32;
        while done < r.len {
            let mut buf = [0u8; 64];
            let n = (r.len - done).min(64);
            let src = TextRef {
                offset: r.offset + done,
                len: n,
            };
            let bytes = self.st.text.get(src);
            let chunk = buf
                .get_mut(..bytes.len())
                .ok_or(ConfigErrorKind::StorageFull(StorageKind::Text))?;
            chunk.copy_from_slice(bytes);
            self.st.text.push(chunk)?;
            done += n;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- inheritable parameters

    /// Reads an inheritable parameter (kea-config.md §3) into `d`; false if `key` is not one.
    fn inheritable(
        &mut self,
        key: &Token<'t>,
        d: &mut DeclaredParams,
        k: &mut LevelKeys,
    ) -> R<bool> {
        match key.text {
            "valid-lifetime" => {
                d.valid_lifetime = Some(self.r.uint32()?.0);
                k.valid = Some(key.pos);
            }
            "min-valid-lifetime" => {
                let (v, pos) = self.r.uint32()?;
                d.min_valid_lifetime = Some(v);
                k.min = Some((pos, v));
            }
            "max-valid-lifetime" => {
                let (v, pos) = self.r.uint32()?;
                d.max_valid_lifetime = Some(v);
                k.max = Some((pos, v));
            }
            "renew-timer" => {
                let (v, pos) = self.r.uint32()?;
                d.renew_timer = Some(v);
                k.renew = Some(pos);
            }
            "rebind-timer" => d.rebind_timer = Some(self.r.uint32()?.0),
            "calculate-tee-times" => d.calculate_tee_times = Some(self.r.boolean()?),
            "t1-percent" | "t2-percent" => {
                // Range checked when the level ends (only with calculate-tee-times).
                let (v, pos) = self.r.float()?;
                if key.text == "t1-percent" {
                    d.t1_percent = Some(v as f32);
                    k.t1 = Some(pos);
                } else {
                    d.t2_percent = Some(v as f32);
                    k.t2 = Some(pos);
                }
            }
            "authoritative" => d.authoritative = Some(self.r.boolean()?),
            "match-client-id" => d.match_client_id = Some(self.r.boolean()?),
            "store-extended-info" => d.store_extended_info = Some(self.r.boolean()?),
            "next-server" => d.next_server = Some(self.address()?.0),
            "server-hostname" => d.server_hostname = Some(self.string_field(Some(63))?),
            "boot-file-name" => d.boot_file_name = Some(self.string_field(Some(128))?),
            "hostname-char-set" => d.hostname_char_set = Some(self.string_field(None)?),
            "hostname-char-replacement" => {
                d.hostname_char_replacement = Some(self.string_field(None)?)
            }
            "reservation-mode" => {
                let (i, pos) = self.keyword(
                    ["all", "out-of-pool", "global", "disabled"],
                    "all, out-of-pool, global, disabled",
                )?;
                // kea-config.md §2.5: all = (global false, in-subnet true, oop false);
                // out-of-pool = (false, true, true); global = (true, false, —);
                // disabled = (false, false, —).
                let (g, s, o) = match i {
                    0 => (false, true, Some(false)),
                    1 => (false, true, Some(true)),
                    2 => (true, false, None),
                    _ => (false, false, None),
                };
                d.reservations_global = Some(g);
                d.reservations_in_subnet = Some(s);
                if o.is_some() {
                    d.reservations_out_of_pool = o;
                }
                k.reservation_mode = Some((pos, "reservation-mode"));
                self.r
                    .warn(key.pos, ConfigWarningKind::DeprecatedReservationMode);
            }
            "reservations-global" | "reservations-in-subnet" | "reservations-out-of-pool" => {
                let v = self.r.boolean()?;
                let name = match key.text {
                    "reservations-global" => {
                        d.reservations_global = Some(v);
                        "reservations-global"
                    }
                    "reservations-in-subnet" => {
                        d.reservations_in_subnet = Some(v);
                        "reservations-in-subnet"
                    }
                    _ => {
                        d.reservations_out_of_pool = Some(v);
                        "reservations-out-of-pool"
                    }
                };
                if k.reservation_flag.is_none() {
                    k.reservation_flag = Some((key.pos, name));
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks made when a level's map ends; defaults min/max to the level's valid.
    fn finish_level(&self, d: &mut DeclaredParams, k: &LevelKeys) -> R<()> {
        if let (Some((mode_pos, _)), Some((flag_pos, flag))) =
            (k.reservation_mode, k.reservation_flag)
        {
            let later = if (mode_pos.line, mode_pos.column) > (flag_pos.line, flag_pos.column) {
                mode_pos
            } else {
                flag_pos
            };
            return Err(self.err(later, ConfigErrorKind::ReservationModeConflict { flag }));
        }
        // Kea's lifetime triplet (BaseNetworkParser::parseLifetime): a level that sets any
        // of valid/min/max gets all three; min or max alone sets the other two; min and max
        // without valid is an error.
        let key = |name: &'static str, pos: Position, kind| self.r.error_at_key(pos, name, kind);
        match (d.valid_lifetime, k.min, k.max) {
            (None, None, None) => {}
            (Some(valid), min, max) => {
                if let Some((pos, min)) = min {
                    if min > valid {
                        let kind = ConfigErrorKind::MinAboveValid { min, valid };
                        return Err(key("min-valid-lifetime", pos, kind));
                    }
                }
                if let Some((pos, max)) = max {
                    if max < valid {
                        let kind = ConfigErrorKind::MaxBelowValid { max, valid };
                        return Err(key("max-valid-lifetime", pos, kind));
                    }
                }
                d.min_valid_lifetime = Some(min.map_or(valid, |m| m.1));
                d.max_valid_lifetime = Some(max.map_or(valid, |m| m.1));
            }
            (None, Some((pos, _)), Some(_)) => {
                let kind = ConfigErrorKind::BoundsWithoutValidLifetime;
                return Err(key("min-valid-lifetime", pos, kind));
            }
            (None, Some((_, v)), None) | (None, None, Some((_, v))) => {
                d.valid_lifetime = Some(v);
                d.min_valid_lifetime = Some(v);
                d.max_valid_lifetime = Some(v);
            }
        }
        // BaseNetworkParser::parseCommon: renew-timer above rebind-timer is an error.
        if let (Some(renew), Some(rebind), Some(pos)) = (d.renew_timer, d.rebind_timer, k.renew) {
            if renew > rebind {
                let kind = ConfigErrorKind::RenewAfterRebind { renew, rebind };
                return Err(key("renew-timer", pos, kind));
            }
        }
        // BaseNetworkParser::parseTeePercents: the percentages are checked only when
        // calculate-tee-times is on (declared at this level, else globally).
        let calculate = d
            .calculate_tee_times
            .or(self.global_calculate_tee_times)
            .unwrap_or(false);
        if calculate {
            for (value, pos, name) in [
                (d.t2_percent, k.t2, "t2-percent"),
                (d.t1_percent, k.t1, "t1-percent"),
            ] {
                if let (Some(v), Some(pos)) = (value, pos) {
                    if !(v > 0.0 && v < 1.0) {
                        return Err(key(name, pos, ConfigErrorKind::PercentOutOfRange));
                    }
                }
            }
            if let (Some(t1), Some(t2), Some(pos)) = (d.t1_percent, d.t2_percent, k.t1) {
                if t1 >= t2 {
                    return Err(key("t1-percent", pos, ConfigErrorKind::T1NotBelowT2));
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- top level

    /// Parses the whole text.
    pub(crate) fn run(&mut self) -> R<()> {
        let start = self.r.checkpoint();
        let mut outer = self.r.open_map()?;
        let Some(first) = self.r.next_key(&mut outer)? else {
            return Err(self.err(outer.pos, ConfigErrorKind::MissingDhcp4));
        };
        self.r.path.clear();
        let _ = self.r.path.push_str("Dhcp4");
        if first.text == "Dhcp4" {
            let inner = self.r.checkpoint();
            let mut it = self.r.open_map()?;
            self.dhcp4_map(inner, &mut it, None)?;
            self.r.path.clear();
            // Kea 2.2: "Dhcp4" must be the only top-level key.
            if let Some(k) = self.r.next_key(&mut outer)? {
                self.r.path.clear();
                return Err(self.err(k.pos, ConfigErrorKind::UnexpectedTopLevel(snippet(k.text))));
            }
        } else if matches!(
            first.text,
            "Dhcp6" | "DhcpDdns" | "Control-agent" | "Logging" | "Netconf" | "Dhcp4o6"
        ) {
            self.r.path.clear();
            return Err(self.err(
                first.pos,
                ConfigErrorKind::UnexpectedTopLevel(snippet(first.text)),
            ));
        } else {
            // A bare Dhcp4 map (as config-set arguments and many tools write it).
            outer_fix_base(&mut outer, "Dhcp4".len());
            self.dhcp4_map(start, &mut outer, Some(first))?;
        }
        let t = self.r.next()?;
        if t.kind != TokenKind::End {
            return Err(self.err(t.pos, ConfigErrorKind::TrailingText));
        }
        self.finish()
    }

    fn dhcp4_map(
        &mut self,
        map_start: Lexer<'t>,
        it: &mut MapIter<'t>,
        first: Option<Token<'t>>,
    ) -> R<()> {
        let [unique, defs, authoritative, calculate] = prescan(
            map_start,
            [
                "ip-reservations-unique",
                "option-def",
                "authoritative",
                "calculate-tee-times",
            ],
        );
        let flag = |t: Option<(Lexer<'t>, Token<'t>)>| match t.map(|(_, t)| t.kind) {
            Some(TokenKind::True) => Some(true),
            Some(TokenKind::False) => Some(false),
            _ => None,
        };
        self.global_authoritative = flag(authoritative);
        self.global_calculate_tee_times = flag(calculate);
        if let Some((_, t)) = unique {
            if t.kind == TokenKind::False {
                self.globals.ip_reservations_unique = false;
            }
        }
        if let Some((lexer, _)) = defs {
            // Custom definitions first, as Kea does.
            let back = self.r.jump(lexer, "Dhcp4.option-def");
            let res = self.option_def_list(false);
            self.r.restore(back);
            self.globals.option_defs = res?;
            self.option_defs_done = true;
        }
        let mut declared = DeclaredParams::NONE;
        let mut keys = LevelKeys::default();
        let mut ctx = Context::default();
        let mut pending = first;
        loop {
            let key = match pending.take() {
                Some(k) => {
                    let _ =
                        core::fmt::Write::write_fmt(&mut self.r.path, format_args!(".{}", k.text));
                    k
                }
                None => match self.r.next_key(it)? {
                    Some(k) => k,
                    None => break,
                },
            };
            self.dhcp4_key(&key, &mut declared, &mut keys, &mut ctx)?;
        }
        self.finish_level(&mut declared, &keys)?;
        self.globals.declared = declared;
        self.global_keys = keys;
        self.globals.user_context = self.finish_context(ctx, it.pos)?;
        Ok(())
    }

    fn dhcp4_key(
        &mut self,
        key: &Token<'t>,
        declared: &mut DeclaredParams,
        keys: &mut LevelKeys,
        ctx: &mut Context<'t>,
    ) -> R<()> {
        if self.inheritable(key, declared, keys)? || self.context_key(key, ctx)? {
            return Ok(());
        }
        match key.text {
            "subnet4" => {
                let start = self.st.subnets.len_u32();
                self.networks_first = start > 0;
                self.subnet_list(None)?;
                self.top_subnets = Some(range(start, self.st.subnets.len_u32()));
            }
            "shared-networks" => {
                let mut it = self.r.open_list()?;
                while self.r.next_item(&mut it)? {
                    self.shared_network()?;
                }
            }
            "reservations" => {
                self.globals.reservations = self.reservation_list(None)?;
            }
            "option-data" => self.globals.options = self.option_data_list()?,
            "option-def" => {
                if self.option_defs_done {
                    self.r.skip()?;
                } else {
                    self.globals.option_defs = self.option_def_list(false)?;
                }
            }
            "client-classes" => {
                let mut it = self.r.open_list()?;
                let start = self.st.classes.len_u32();
                while self.r.next_item(&mut it)? {
                    self.client_class()?;
                }
                self.globals.classes = range(start, self.st.classes.len_u32());
            }
            "echo-client-id" => self.globals.echo_client_id = self.r.boolean()?,
            "decline-probation-period" => {
                self.globals.decline_probation_period = self.r.uint32()?.0
            }
            "statistic-default-sample-count" => {
                self.globals.statistic_sample_count = Some(self.r.uint32()?.0)
            }
            "statistic-default-sample-age" => {
                self.globals.statistic_sample_age = Some(self.r.uint32()?.0)
            }
            "ip-reservations-unique" => self.globals.ip_reservations_unique = self.r.boolean()?,
            "host-reservation-identifiers" => self.host_reservation_identifiers()?,
            "server-tag" => self.globals.server_tag = self.string_field(None)?,
            "sanity-checks" => {
                let mut it = self.r.open_map()?;
                while let Some(k) = self.r.next_key(&mut it)? {
                    match k.text {
                        "lease-checks" => {
                            let (i, _) = self.keyword(
                                ["none", "warn", "fix", "fix-del", "del"],
                                "none, warn, fix, fix-del, del",
                            )?;
                            self.globals.lease_checks = [
                                LeaseChecks::None,
                                LeaseChecks::Warn,
                                LeaseChecks::Fix,
                                LeaseChecks::FixDel,
                                LeaseChecks::Del,
                            ]
                            .get(i)
                            .copied()
                            .unwrap_or_default();
                        }
                        _ => self.unknown(&k, None, "sanity-checks")?,
                    }
                }
            }
            "expired-leases-processing" => self.expired_leases()?,
            "lease-database" => self.lease_database()?,
            "interfaces-config" => self.interfaces_config()?,
            "control-socket" => self.control_socket()?,
            "control-sockets" => {
                let mut list = self.r.open_list()?;
                while self.r.next_item(&mut list)? {
                    self.control_socket()?;
                }
            }
            "hooks-libraries" => self.hooks_libraries()?,
            "loggers" => self.loggers()?,
            _ => self.unknown(key, Some(Scope::Global), "Dhcp4")?,
        }
        Ok(())
    }

    fn host_reservation_identifiers(&mut self) -> R<()> {
        let mut it = self.r.open_list()?;
        let mut ids = DEFAULT_IDENTIFIERS;
        let mut positions = [Position::default(); 5];
        let mut n = 0usize;
        while self.r.next_item(&mut it)? {
            let (i, pos) = self.keyword(
                ["hw-address", "duid", "circuit-id", "client-id", "flex-id"],
                "hw-address, duid, circuit-id, client-id, flex-id",
            )?;
            let t = DEFAULT_IDENTIFIERS
                .get(i)
                .copied()
                .unwrap_or(IdentifierType::HwAddress);
            if let Some(j) = ids.get(..n).and_then(|s| s.iter().position(|x| *x == t)) {
                let previous = positions.get(j).copied().unwrap_or_default();
                let key = snippet(t.keyword());
                return Err(self.err(pos, ConfigErrorKind::DuplicateKey { key, previous }));
            }
            if let (Some(slot), Some(p)) = (ids.get_mut(n), positions.get_mut(n)) {
                *slot = t;
                *p = pos;
            }
            n += 1;
            if t == IdentifierType::FlexId {
                self.r.warn(pos, ConfigWarningKind::FlexIdNeverMatches);
            }
        }
        // Unlisted kinds stay after the valid ones, in default order, so the array holds
        // each kind once.
        let mut rest = n;
        for t in DEFAULT_IDENTIFIERS {
            if !ids.get(..n).is_some_and(|s| s.contains(&t)) {
                if let Some(slot) = ids.get_mut(rest) {
                    *slot = t;
                }
                rest += 1;
            }
        }
        self.globals.host_reservation_identifiers = ids;
        self.globals.identifier_count = u8::try_from(n).unwrap_or(5);
        Ok(())
    }

    /// Kea 2.2's grammar has no `user-context`/`comment` here (nor in `hooks-libraries`).
    fn expired_leases(&mut self) -> R<()> {
        let mut it = self.r.open_map()?;
        while let Some(k) = self.r.next_key(&mut it)? {
            const KEYS: [&str; 6] = [
                "reclaim-timer-wait-time",
                "flush-reclaimed-timer-wait-time",
                "hold-reclaimed-time",
                "max-reclaim-leases",
                "max-reclaim-time",
                "unwarned-reclaim-cycles",
            ];
            if !KEYS.contains(&k.text) {
                self.unknown(&k, None, "expired-leases-processing")?;
                continue;
            }
            let v = self.r.uint32()?.0;
            let e = &mut self.globals.expired_leases;
            match k.text {
                "reclaim-timer-wait-time" => e.reclaim_timer_wait_time = v,
                "flush-reclaimed-timer-wait-time" => e.flush_reclaimed_timer_wait_time = v,
                "hold-reclaimed-time" => e.hold_reclaimed_time = v,
                "max-reclaim-leases" => e.max_reclaim_leases = v,
                "max-reclaim-time" => e.max_reclaim_time = v,
                _ => e.unwarned_reclaim_cycles = v,
            }
        }
        Ok(())
    }

    fn lease_database(&mut self) -> R<()> {
        let mut it = self.r.open_map()?;
        let mut have_type = false;
        while let Some(k) = self.r.next_key(&mut it)? {
            match k.text {
                "type" => {
                    let t = self.r.string()?;
                    if t.text != "memfile" {
                        return Err(
                            self.err(t.pos, ConfigErrorKind::UnsupportedDatabase(snippet(t.text)))
                        );
                    }
                    have_type = true;
                }
                "persist" => {
                    let v = self.r.boolean()?;
                    self.globals.lease_database.persist = v;
                    if !v {
                        self.r.warn(k.pos, ConfigWarningKind::LeasesNotPersisted);
                    }
                }
                "name" => self.globals.lease_database.name = self.string_field(None)?,
                "lfc-interval" => self.globals.lease_database.lfc_interval = self.r.uint32()?.0,
                "max-row-errors" => self.globals.lease_database.max_row_errors = self.r.uint32()?.0,
                _ => self.unknown(&k, Some(Scope::LeaseDatabase), "lease-database")?,
            }
        }
        if !have_type {
            return Err(self.err(it.pos, ConfigErrorKind::MissingKey { key: "type" }));
        }
        Ok(())
    }

    fn interfaces_config(&mut self) -> R<()> {
        let mut it = self.r.open_map()?;
        let mut ctx = Context::default();
        while let Some(k) = self.r.next_key(&mut it)? {
            if self.context_key(&k, &mut ctx)? {
                continue;
            }
            match k.text {
                "interfaces" => self.globals.interfaces.interfaces = self.name_list()?,
                "dhcp-socket-type" => {
                    let (v, _) = self.keyword(["raw", "udp"], "raw, udp")?;
                    self.globals.interfaces.socket_type = if v == 0 {
                        SocketType::Raw
                    } else {
                        SocketType::Udp
                    };
                }
                "outbound-interface" => {
                    let (v, _) = self.keyword(
                        ["same-as-inbound", "use-routing"],
                        "same-as-inbound, use-routing",
                    )?;
                    self.globals.interfaces.use_routing = v == 1;
                }
                "re-detect" => self.globals.interfaces.re_detect = self.r.boolean()?,
                "service-sockets-require-all" => {
                    self.globals.interfaces.require_all = self.r.boolean()?
                }
                "service-sockets-retry-wait-time" => {
                    self.globals.interfaces.retry_wait_ms = self.r.uint32()?.0
                }
                "service-sockets-max-retries" => {
                    self.globals.interfaces.max_retries = self.r.uint32()?.0
                }
                _ => self.unknown(&k, Some(Scope::Interfaces), "interfaces-config")?,
            }
        }
        Ok(())
    }

    fn control_socket(&mut self) -> R<()> {
        let mut it = self.r.open_map()?;
        let mut ctx = Context::default();
        let mut name = None;
        let mut http = false;
        while let Some(k) = self.r.next_key(&mut it)? {
            if self.context_key(&k, &mut ctx)? {
                continue;
            }
            match k.text {
                "socket-type" => {
                    // Kea 3.x `control-sockets` entries: `unix` or `http` (the daemon's
                    // own HTTP listener replaces the Control Agent); `https` needs TLS,
                    // which wren does not have.
                    http = self.keyword(["unix", "http"], "unix, http")?.0 == 1;
                }
                "socket-name" => name = Some(self.string_field(None)?),
                // Read by the daemon's control listener from the config text
                // (wrend::control::settings); here only accepted.
                "socket-address"
                | "socket-port"
                | "authentication"
                | "http-headers"
                | "wren-allow-unauthenticated"
                | "wren-auto-persist"
                | "wren-max-request-bytes" => self.r.skip()?,
                _ => self.unknown(&k, Some(Scope::ControlSocket), "control-socket")?,
            }
        }
        if http {
            return Ok(());
        }
        let Some(socket_name) = name else {
            return Err(self.err(it.pos, ConfigErrorKind::MissingKey { key: "socket-name" }));
        };
        if self.globals.control_socket.is_none() {
            self.globals.control_socket = Some(ControlSocket { socket_name });
        }
        Ok(())
    }

    fn hooks_libraries(&mut self) -> R<()> {
        let mut list = self.r.open_list()?;
        let start = self.st.hooks.len_u32();
        while self.r.next_item(&mut list)? {
            let mut it = self.r.open_map()?;
            let mut library = None;
            let mut parameters = TextRef::EMPTY;
            while let Some(k) = self.r.next_key(&mut it)? {
                match k.text {
                    "library" => {
                        // Only the hooks wren has built in (core/src/config/hooks.rs).
                        let t = self.r.peek()?;
                        let (pos, text) = (t.pos, t.text);
                        let file = super::hooks::file_name(text);
                        let name = snippet(file);
                        library = Some(self.string_field(None)?);
                        if super::hooks::BuiltinHook::from_library(file).is_none() {
                            return Err(self.err(pos, ConfigErrorKind::UnknownHookLibrary(name)));
                        }
                    }
                    "parameters" => {
                        let t = self.r.peek()?;
                        if t.kind != TokenKind::BeginMap {
                            return Err(self.err(
                                t.pos,
                                ConfigErrorKind::WrongType {
                                    expected: "a map",
                                    found: t.kind.describe(),
                                },
                            ));
                        }
                        let s = self.st.text.len();
                        self.r.copy(&mut self.st.text)?;
                        parameters = self.st.text.since(s);
                    }
                    _ => self.unknown(&k, None, "hooks-libraries")?,
                }
            }
            let Some(library) = library else {
                return Err(self.err(it.pos, ConfigErrorKind::MissingKey { key: "library" }));
            };
            let res = self.st.hooks.push(HookLibrary {
                library,
                parameters,
            });
            self.at(it.pos, res)?;
        }
        self.globals.hooks = range(start, self.st.hooks.len_u32());
        Ok(())
    }

    fn loggers(&mut self) -> R<()> {
        let mut list = self.r.open_list()?;
        let start = self.st.loggers.len_u32();
        while self.r.next_item(&mut list)? {
            let mut it = self.r.open_map()?;
            let mut ctx = Context::default();
            let mut logger = Logger {
                name: TextRef::EMPTY,
                severity: Severity::Info,
                debuglevel: 0,
                outputs: IndexRange::EMPTY,
            };
            let mut have_name = false;
            while let Some(k) = self.r.next_key(&mut it)? {
                if self.context_key(&k, &mut ctx)? {
                    continue;
                }
                match k.text {
                    "name" => {
                        logger.name = self.string_field(None)?;
                        have_name = true;
                    }
                    "severity" => {
                        let (i, _) = self.keyword(
                            ["DEBUG", "INFO", "WARN", "ERROR", "FATAL", "NONE"],
                            "DEBUG, INFO, WARN, ERROR, FATAL, NONE",
                        )?;
                        logger.severity = [
                            Severity::Debug,
                            Severity::Info,
                            Severity::Warn,
                            Severity::Error,
                            Severity::Fatal,
                            Severity::None,
                        ]
                        .get(i)
                        .copied()
                        .unwrap_or(Severity::Info);
                    }
                    "debuglevel" => {
                        logger.debuglevel = u8::try_from(self.r.integer(0, 99)?.0).unwrap_or(0)
                    }
                    "output_options" => {
                        let mut outs = self.r.open_list()?;
                        let s = self.st.names.len_u32();
                        while self.r.next_item(&mut outs)? {
                            let mut om = self.r.open_map()?;
                            let mut octx = Context::default();
                            while let Some(ok) = self.r.next_key(&mut om)? {
                                if self.context_key(&ok, &mut octx)? {
                                    continue;
                                }
                                match ok.text {
                                    "output" => {
                                        let r = self.string_field(None)?;
                                        let res = self.st.names.push(r);
                                        self.at(ok.pos, res)?;
                                    }
                                    _ => self.unknown(
                                        &ok,
                                        Some(Scope::LoggerOutput),
                                        "output-options",
                                    )?,
                                }
                            }
                        }
                        logger.outputs = range(s, self.st.names.len_u32());
                    }
                    _ => self.unknown(&k, Some(Scope::Logger), "loggers")?,
                }
            }
            if !have_name {
                return Err(self.err(it.pos, ConfigErrorKind::MissingKey { key: "name" }));
            }
            let res = self.st.loggers.push(logger);
            self.at(it.pos, res)?;
        }
        self.globals.loggers = range(start, self.st.loggers.len_u32());
        Ok(())
    }

    // ---------------------------------------------------------------- classes and option-def

    fn client_class(&mut self) -> R<()> {
        // Kea parses a class's option-def before its option-data.
        let [defs] = prescan(self.r.checkpoint(), ["option-def"]);
        let mut it = self.r.open_map()?;
        let mut ctx = Context::default();
        let mut c = ClientClass::EMPTY;
        if let Some((lexer, _)) = defs {
            let mut path = ConfigPathBuf::new();
            let _ =
                core::fmt::Write::write_fmt(&mut path, format_args!("{}.option-def", self.r.path));
            let back = self.r.jump(lexer, &path);
            let res = self.option_def_list(true);
            self.r.restore(back);
            c.option_defs = res?;
            self.class_defs = c.option_defs;
        }
        let mut name_pos = None;
        let mut declared = DeclaredParams::NONE;
        let mut keys = LevelKeys::default();
        let mut test_pos = None;
        let mut required_pos = None;
        while let Some(k) = self.r.next_key(&mut it)? {
            if self.context_key(&k, &mut ctx)? {
                continue;
            }
            match k.text {
                "name" => {
                    let t = self.r.string()?;
                    c.name = self.store_str(&t)?;
                    name_pos = Some(t.pos);
                }
                "test" => {
                    test_pos = Some(k.pos);
                    let t = self.r.string()?;
                    if crate::classify::uses_known_keyword(t.text.as_bytes()) {
                        self.r
                            .warn(t.pos, ConfigWarningKind::KnownKeywordRejectedByKea);
                    }
                    c.test = self.store_str(&t)?;
                }
                "only-if-required" => {
                    required_pos = Some(k.pos);
                    c.only_if_required = self.r.boolean()?;
                }
                "option-data" => c.options = self.option_data_list()?,
                "option-def" => {
                    if defs.is_some() {
                        self.r.skip()?;
                    } else {
                        c.option_defs = self.option_def_list(true)?;
                        self.class_defs = c.option_defs;
                    }
                }
                "next-server" => {
                    let (a, pos) = self.address()?;
                    if a.is_broadcast() {
                        return Err(
                            self.err(pos, ConfigErrorKind::BadAddress(snippet("255.255.255.255")))
                        );
                    }
                    c.next_server = Some(a).filter(|a| !a.is_unspecified());
                }
                "server-hostname" => c.server_hostname = self.string_field(Some(63))?,
                "boot-file-name" => c.boot_file_name = self.string_field(Some(128))?,
                "valid-lifetime" | "min-valid-lifetime" | "max-valid-lifetime" => {
                    self.inheritable(&k, &mut declared, &mut keys)?;
                }
                _ => self.unknown(&k, None, "client-classes")?,
            }
        }
        // kea-config.md §2.7: built-in classes may be declared only without test and
        // only-if-required; DROP must not be only-if-required.
        if let Some(name_pos) = name_pos {
            let name = self.st.text.get(c.name);
            let builtin = [b"ALL".as_slice(), b"KNOWN", b"UNKNOWN", b"BOOTP"].contains(&name);
            if builtin && (test_pos.is_some() || c.only_if_required) {
                let pos = test_pos.or(required_pos).unwrap_or(name_pos);
                return Err(self.err(pos, ConfigErrorKind::BadClass { reason: "a built-in class (ALL, KNOWN, UNKNOWN, BOOTP) cannot have test or only-if-required" }));
            }
            if name == b"DROP" && c.only_if_required {
                let pos = required_pos.unwrap_or(name_pos);
                return Err(self.err(
                    pos,
                    ConfigErrorKind::BadClass {
                        reason: "the DROP class cannot be only-if-required",
                    },
                ));
            }
        }
        let Some(name_pos) = name_pos else {
            return Err(self.err(it.pos, ConfigErrorKind::MissingKey { key: "name" }));
        };
        self.finish_level(&mut declared, &keys)?;
        if let Some(valid) = declared.valid_lifetime {
            c.lifetimes = Some(Lifetimes {
                valid,
                min: declared.min_valid_lifetime.unwrap_or(valid),
                max: declared.max_valid_lifetime.unwrap_or(valid),
            });
        }
        c.user_context = self.finish_context(ctx, it.pos)?;
        if !self.counting {
            let name = self.st.text.get(c.name);
            let dup = self
                .st
                .classes
                .filled()
                .iter()
                .any(|o| self.st.text.get(o.name) == name);
            if dup {
                return Err(self.r.error_at_key(
                    name_pos,
                    "name",
                    ConfigErrorKind::DuplicateClass(snippet(
                        core::str::from_utf8(name).unwrap_or(""),
                    )),
                ));
            }
        }
        self.class_defs = IndexRange::EMPTY;
        let res = self.st.classes.push(c);
        self.at(it.pos, res)?;
        Ok(())
    }

    /// `in_class`: class option-defs may define only option 43 and the private codes 224–254
    /// in `dhcp4` (kea-config.md §2.7).
    fn option_def_list(&mut self, in_class: bool) -> R<IndexRange> {
        let mut list = self.r.open_list()?;
        let start = self.st.option_defs.len_u32();
        while self.r.next_item(&mut list)? {
            let mut it = self.r.open_map()?;
            let mut ctx = Context::default();
            let mut name: Option<Token<'t>> = None;
            let mut code = None;
            let mut type_keyword: Option<Token<'t>> = None;
            let mut record_types: Option<Token<'t>> = None;
            let mut array = false;
            let mut space = OptionSpace::Dhcp4;
            let mut encapsulate: Option<Token<'t>> = None;
            while let Some(k) = self.r.next_key(&mut it)? {
                if self.context_key(&k, &mut ctx)? {
                    continue;
                }
                match k.text {
                    "name" => name = Some(self.r.string()?),
                    "code" => code = Some(self.r.integer(0, 255)?),
                    "type" => type_keyword = Some(self.r.string()?),
                    "record-types" => record_types = Some(self.r.string()?),
                    "space" => space = self.option_space()?,
                    "array" => array = self.r.boolean()?,
                    "encapsulate" => encapsulate = Some(self.r.string()?),
                    _ => self.unknown(&k, None, "option-def")?,
                }
            }
            let (Some(name), Some((code, code_pos)), Some(ty)) = (name, code, type_keyword) else {
                let missing = if name.is_none() {
                    "name"
                } else if code.is_none() {
                    "code"
                } else {
                    "type"
                };
                return Err(self.err(it.pos, ConfigErrorKind::MissingKey { key: missing }));
            };
            let code = u8::try_from(code).unwrap_or(0);
            if in_class && space == OptionSpace::Dhcp4 && code != 43 && !(224..=254).contains(&code)
            {
                let reason =
                    snippet("a class may define only option 43 and codes 224-254 in dhcp4");
                return Err(self.err(code_pos, ConfigErrorKind::BadOptionDef { reason }));
            }
            let record_text = record_types.map_or("", |t| t.text);
            let kind = OptionKind::from_def(ty.text, record_text, array).map_err(|e| {
                let pos = record_types
                    .filter(|_| e != OptionDefError::UnknownType)
                    .map_or(ty.pos, |t| t.pos);
                let reason = display_snippet(&e);
                let kind = if matches!(e, OptionDefError::TooManyRecordFields { .. }) {
                    // A limit of wren's fixed-size record layout, not a Kea rule.
                    ConfigErrorKind::UnsupportedOptionDef { reason }
                } else {
                    ConfigErrorKind::BadOptionDef { reason }
                };
                self.err(pos, kind)
            })?;
            let encapsulate_text = encapsulate.map_or("", |t| t.text);
            option_def::check_custom_def(&space, name.text, code, encapsulate_text).map_err(
                |e| {
                    let pos = match e {
                        OptionDefError::InvalidName => name.pos,
                        OptionDefError::InvalidEncapsulatedSpace => {
                            encapsulate.map_or(it.pos, |t| t.pos)
                        }
                        _ => code_pos,
                    };
                    self.err(
                        pos,
                        ConfigErrorKind::BadOptionDef {
                            reason: display_snippet(&e),
                        },
                    )
                },
            )?;
            let name_ref = self.store_str(&name)?;
            let encapsulate = match encapsulate {
                Some(t) => self.store_str(&t)?,
                None => TextRef::EMPTY,
            };
            self.finish_context(ctx, it.pos)?;
            let res = self.st.option_defs.push(CustomOptionDef {
                name: name_ref,
                code,
                space,
                kind,
                encapsulate,
            });
            self.at(it.pos, res)?;
        }
        Ok(range(start, self.st.option_defs.len_u32()))
    }

    fn option_space(&mut self) -> R<OptionSpace> {
        let t = self.r.string()?;
        Ok(match t.text {
            "dhcp4" => OptionSpace::Dhcp4,
            option_def::VENDOR_ENCAPSULATED_SPACE => OptionSpace::VendorEncapsulated,
            option_def::AGENT_OPTIONS_SPACE => OptionSpace::AgentOptions,
            s => match s
                .strip_prefix("vendor-")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(n) => OptionSpace::Vendor(n),
                None => {
                    if !option_def::is_valid_name(s) {
                        return Err(
                            self.err(t.pos, ConfigErrorKind::UnknownOptionSpace(snippet(s)))
                        );
                    }
                    OptionSpace::Custom(self.store_str(&t)?)
                }
            },
        })
    }

    /// The standard definitions of `space`, including named spaces Kea predefines
    /// ([`option_def::standard_defs_named`]).
    fn standard_defs(&self, space: OptionSpace) -> &'static [option_def::OptionDef] {
        match space {
            OptionSpace::Custom(name) => core::str::from_utf8(self.st.text.get(name))
                .map_or(&[], option_def::standard_defs_named),
            _ => option_def::standard_defs(&space),
        }
    }

    fn same_space(&self, a: OptionSpace, b: OptionSpace) -> bool {
        match (a, b) {
            (OptionSpace::Custom(x), OptionSpace::Custom(y)) => {
                self.st.text.get(x) == self.st.text.get(y)
            }
            _ => a == b,
        }
    }

    /// The custom definition matching space and name and/or code that is in scope: the
    /// current class's `option-def` first (inside a class), then the global ones.
    fn find_custom_def(
        &self,
        space: OptionSpace,
        name: Option<&str>,
        code: Option<u8>,
    ) -> Option<CustomOptionDef> {
        let defs = self.st.option_defs.filled();
        let scope = |r: IndexRange| defs.get(r.as_range()).unwrap_or(&[]).iter();
        scope(self.class_defs)
            .chain(scope(self.globals.option_defs))
            .copied()
            .find(|d| {
                self.same_space(d.space, space)
                    && name.is_none_or(|n| self.st.text.get(d.name) == n.as_bytes())
                    && code.is_none_or(|c| d.code == c)
            })
    }

    // ---------------------------------------------------------------- option-data

    fn option_data_list(&mut self) -> R<IndexRange> {
        let mut list = self.r.open_list()?;
        let start = self.st.options.len_u32();
        while self.r.next_item(&mut list)? {
            self.option_data()?;
        }
        let end = self.st.options.len_u32();
        let r = range(start, end);
        self.combine_encapsulated(r, list.pos)?;
        Ok(r)
    }

    fn option_data(&mut self) -> R<()> {
        let mut it = self.r.open_map()?;
        let mut ctx = Context::default();
        let mut name: Option<Token<'t>> = None;
        let mut code: Option<(u8, Position)> = None;
        let mut space = OptionSpace::Dhcp4;
        let mut csv_format = true;
        let mut data: Option<Token<'t>> = None;
        let mut always_send = false;
        while let Some(k) = self.r.next_key(&mut it)? {
            if self.context_key(&k, &mut ctx)? {
                continue;
            }
            match k.text {
                "name" => name = Some(self.r.string()?),
                "code" => {
                    // kea-config.md §2.8: 1..254 in dhcp4 (0 and 255 are PAD and END).
                    let (c, pos) = self.r.integer(0, 255)?;
                    code = Some((u8::try_from(c).unwrap_or(0), pos));
                }
                "space" => space = self.option_space()?,
                "csv-format" => csv_format = self.r.boolean()?,
                "data" => data = Some(self.r.string()?),
                "always-send" => always_send = self.r.boolean()?,
                _ => self.unknown(&k, None, "option-data")?,
            }
        }
        if let (OptionSpace::Dhcp4, Some((c @ (0 | 255), pos))) = (space, code) {
            let _ = c;
            return Err(self.err(pos, ConfigErrorKind::OutOfRange { min: 1, max: 254 }));
        }
        // The definition: standard (of the space), else custom (option-def), else none.
        let custom = |p: &Self| p.find_custom_def(space, name.map(|n| n.text), code.map(|c| c.0));
        // (code, definition's kind, whether the definition encapsulates a space, resolved)
        let (code, kind, encapsulates, resolved) = match (name, code) {
            (None, None) => return Err(self.err(it.pos, ConfigErrorKind::OptionWithoutNameOrCode)),
            (Some(n), c) => match option_def::name_in(self.standard_defs(space), n.text) {
                Some(d) => {
                    if let Some((c, _)) = c.filter(|(c, _)| *c != d.code) {
                        let kind = ConfigErrorKind::OptionNameCodeMismatch {
                            name: snippet(n.text),
                            code: c,
                        };
                        return Err(self.err(n.pos, kind));
                    }
                    (d.code, Some(d.kind), !d.encapsulate.is_empty(), true)
                }
                None => match custom(self) {
                    Some(d) => (d.code, Some(d.kind), !d.encapsulate.is_empty(), true),
                    None => match c {
                        // Kea: a code-only option without definition is opaque bytes.
                        Some((c, _)) if self.counting => (c, None, false, false),
                        Some((c, _)) => (c, None, false, true),
                        None if self.counting => (0, None, false, false),
                        None => {
                            return Err(
                                self.err(n.pos, ConfigErrorKind::UnknownOption(snippet(n.text)))
                            )
                        }
                    },
                },
            },
            (None, Some((c, _))) => match option_def::code_in(self.standard_defs(space), c) {
                Some(d) => (c, Some(d.kind), !d.encapsulate.is_empty(), true),
                None => match custom(self) {
                    Some(d) => (c, Some(d.kind), !d.encapsulate.is_empty(), true),
                    None => (c, None, false, !self.counting),
                },
            },
        };
        let payload = if resolved {
            let mut payload = self.encode_payload(kind, csv_format, data, it.pos)?;
            let raw_for_empty =
                !csv_format && kind.is_some_and(|k| k.value_type() == OptionType::Empty);
            // (Counting keeps the full length: the room reserved below for combining must
            // cover the kept bytes, which only the storing pass can see.)
            if raw_for_empty && !self.counting {
                // Raw bytes for an `empty` option: Kea drops them, or keeps the whole
                // sub-options when the option encapsulates a space (option_data docs).
                let bytes = self.st.text.get(payload);
                let kept = option_data::empty_option_payload_len(encapsulates, bytes);
                payload.len = u32::try_from(kept).unwrap_or(0).min(payload.len);
            }
            payload
        } else {
            // Counting mode cannot see custom definitions (nothing is stored): reserve an
            // upper bound (the densest encoding is an IPv6 address, 16 bytes from "::").
            let bound = data
                .map_or(0, |d| d.text.len())
                .saturating_mul(8)
                .saturating_add(16);
            let res = self.st.text.commit(bound);
            self.at(it.pos, res)?
        };
        // Validated and merged like every level's, but the model keeps no user-context
        // for option values.
        self.finish_context(ctx, it.pos)?;
        let v = OptionValue {
            code,
            space,
            always_send,
            payload,
        };
        let res = self.st.options.push(v);
        self.at(it.pos, res)?;
        if self.counting {
            // Room for combining this option with sub-options (combine_encapsulated): a
            // carrier's payload is copied once more, a sub-option's gets a 2-byte header.
            let extra = payload.len as usize + 8;
            let res = self.st.text.commit(extra);
            self.at(it.pos, res)?;
        }
        Ok(())
    }

    fn encode_payload(
        &mut self,
        kind: Option<OptionKind>,
        csv_format: bool,
        data: Option<Token<'t>>,
        pos: Position,
    ) -> R<TextRef> {
        let (raw, dpos) = match data {
            Some(t) => (t.text, t.pos),
            None => ("", pos),
        };
        let mut unescaped = [0u8; 2048];
        let Some(text) = unescape_small(raw, &mut unescaped) else {
            return Err(self.err(dpos, ConfigErrorKind::TooLong { max: 2048 }));
        };
        let mut scratch = [0u8; 4096];
        let result = {
            let out: &mut [u8] = match self.st.text.tail() {
                Some(t) => t,
                None => &mut scratch,
            };
            option_data::encode_detailed(kind.as_ref(), csv_format, text, out)
                .map_err(|e| (e == OptionDataError::OutputTooSmall, display_snippet(&e)))
        };
        let encoded = match result {
            Ok(e) => e,
            Err((true, _)) if self.st.text.tail().is_none() => {
                // Counting, and the payload outgrew the scratch buffer: reserve an upper
                // bound (16 bytes per input byte covers the densest type, IPv6 from "::").
                let bound = text.len().saturating_mul(16).saturating_add(16);
                let res = self.st.text.commit(bound);
                return self.at(dpos, res);
            }
            Err((true, _)) => {
                return Err(self.err(dpos, ConfigErrorKind::StorageFull(StorageKind::Text)))
            }
            Err((false, reason)) => {
                return Err(self.err(dpos, ConfigErrorKind::BadOptionData { reason }))
            }
        };
        if encoded.ignored_values > 0 {
            self.r.warn(
                dpos,
                ConfigWarningKind::IgnoredOptionValues {
                    count: u32::try_from(encoded.ignored_values).unwrap_or(u32::MAX),
                },
            );
        }
        let res = self.st.text.commit(encoded.len);
        self.at(dpos, res)
    }

    /// The encapsulated space of an option of this level, if its definition has one
    /// (kea-options.md §2: 43 carries `vendor-encapsulated-options-space` unless a custom
    /// definition names another space; 125 carries `vendor-<enterprise>`).
    ///
    /// Also says whether the carrier's own payload is sub-options (an `empty` definition:
    /// raw `data` kept by [`option_data::empty_option_payload_len`]) rather than values.
    fn encapsulated_space_of(&self, opt: &OptionValue) -> Option<(Encapsulation, bool)> {
        if opt.space != OptionSpace::Dhcp4 {
            return None;
        }
        if opt.code == option_def::VIVSO_SUBOPTIONS {
            return match self.st.text.get(opt.payload) {
                [a, b, c, d] => Some((
                    Encapsulation::Vivso(u32::from_be_bytes([*a, *b, *c, *d])),
                    false,
                )),
                _ => None,
            };
        }
        let own_are_suboptions = |kind: OptionKind| kind.value_type() == OptionType::Empty;
        if let Some(d) = self.find_custom_def(OptionSpace::Dhcp4, None, Some(opt.code)) {
            return (!d.encapsulate.is_empty()).then_some((
                Encapsulation::Named(d.encapsulate, None),
                own_are_suboptions(d.kind),
            ));
        }
        option_def::by_code(opt.code)
            .filter(|d| !d.encapsulate.is_empty())
            .map(|d| {
                (
                    Encapsulation::Named(TextRef::EMPTY, Some(d.encapsulate)),
                    own_are_suboptions(d.kind),
                )
            })
    }

    /// Carriers of sub-options (43, 125, custom `encapsulate` definitions) get the
    /// sub-options of their space *at the same level* appended to their payload
    /// (kea-options.md §2, §3.3: encapsulation is per configuration scope), in ascending
    /// code order whatever the config order, as Kea packs them
    /// ([`option_data::in_code_order`]). An `empty` carrier's own raw sub-options are
    /// sorted in with them (before configured ones of the same code); a carrier with
    /// values (a custom definition of another type) keeps its values first.
    fn combine_encapsulated(&mut self, r: IndexRange, pos: Position) -> R<()> {
        if self.counting {
            return Ok(());
        }
        for i in r.as_range() {
            let Some(opt) = self.st.options.get(i).copied() else {
                continue;
            };
            let Some((enc, own_are_suboptions)) = self.encapsulated_space_of(&opt) else {
                continue;
            };
            let options = self.st.options.filled();
            let Some((written, tail)) = self.st.text.split_for_append() else {
                continue;
            };
            let get = |r: TextRef| {
                let start = r.offset as usize;
                written
                    .get(start..start.saturating_add(r.len as usize))
                    .unwrap_or(&[])
            };
            let in_space = |o: &OptionValue| match enc {
                Encapsulation::Vivso(n) => o.space == OptionSpace::Vendor(n),
                Encapsulation::Named(name, None) => space_is(o.space, get(name), written),
                Encapsulation::Named(_, Some(name)) => space_is(o.space, name.as_bytes(), written),
            };
            let subs = r
                .as_range()
                .filter(|&j| options.get(j).is_some_and(in_space));
            let own = get(opt.payload);
            // Own sub-options need sorting even without configured ones.
            let sort_own = own_are_suboptions && !own.is_empty();
            if subs.clone().next().is_none() && !sort_own {
                continue;
            }
            let sub_iter = subs
                .filter_map(|j| options.get(j))
                .map(|o| (o.code, get(o.payload)));
            let result = match enc {
                Encapsulation::Vivso(n) => {
                    option_data::encode_vivso(n, option_data::in_code_order(sub_iter), tail)
                }
                Encapsulation::Named(..) if own_are_suboptions => {
                    let all = option_data::suboption_tlvs(own).chain(sub_iter);
                    option_data::encode_suboptions(option_data::in_code_order(all), tail)
                }
                Encapsulation::Named(..) => {
                    // The carrier's own values first, then the sub-options.
                    match tail.get_mut(..own.len()) {
                        Some(dst) => {
                            dst.copy_from_slice(own);
                            let rest = tail.get_mut(own.len()..).unwrap_or(&mut []);
                            option_data::encode_suboptions(
                                option_data::in_code_order(sub_iter),
                                rest,
                            )
                            .map(|n| n + own.len())
                        }
                        None => Err(OptionDataError::OutputTooSmall),
                    }
                }
            };
            let n = match result {
                Ok(n) => n,
                Err(OptionDataError::OutputTooSmall) => {
                    return Err(self.err(pos, ConfigErrorKind::StorageFull(StorageKind::Text)))
                }
                Err(e) => {
                    let reason = display_snippet(&e);
                    return Err(self.err(pos, ConfigErrorKind::BadOptionData { reason }));
                }
            };
            let payload = {
                let res = self.st.text.commit(n);
                self.at(pos, res)?
            };
            if let Some(o) = self.st.options.get_mut(i) {
                o.payload = payload;
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- networks and subnets

    fn shared_network(&mut self) -> R<()> {
        let index = self.st.shared_networks.len_u32();
        let mut it = self.r.open_map()?;
        let mut ctx = Context::default();
        let mut net = SharedNetwork::EMPTY;
        let mut declared = DeclaredParams::NONE;
        let mut keys = LevelKeys::default();
        let mut name_pos = None;
        let mut members = IndexRange::EMPTY;
        while let Some(k) = self.r.next_key(&mut it)? {
            if self.inheritable(&k, &mut declared, &mut keys)? || self.context_key(&k, &mut ctx)? {
                continue;
            }
            match k.text {
                "name" => {
                    let t = self.r.string()?;
                    net.name = self.store_str(&t)?;
                    name_pos = Some(t.pos);
                }
                "subnet4" => {
                    let start = self.st.subnets.len_u32();
                    self.subnet_list(Some(index))?;
                    members = range(start, self.st.subnets.len_u32());
                }
                "interface" => net.interface = self.string_field(None)?,
                "relay" => net.relay_addresses = self.relay()?,
                "client-class" => net.client_class = self.string_field(None)?,
                "require-client-classes" => net.require_client_classes = self.name_list()?,
                "option-data" => net.options = self.option_data_list()?,
                _ => self.unknown(&k, Some(Scope::SharedNetwork), "shared-networks")?,
            }
        }
        let Some(name_pos) = name_pos else {
            return Err(self.err(it.pos, ConfigErrorKind::MissingKey { key: "name" }));
        };
        self.finish_level(&mut declared, &keys)?;
        net.declared = declared;
        net.subnets = members;
        net.user_context = self.finish_context(ctx, it.pos)?;
        if !self.counting {
            let name = self.st.text.get(net.name);
            if self
                .st
                .shared_networks
                .filled()
                .iter()
                .any(|n| self.st.text.get(n.name) == name)
            {
                let s = snippet(core::str::from_utf8(name).unwrap_or(""));
                return Err(self.r.error_at_key(
                    name_pos,
                    "name",
                    ConfigErrorKind::DuplicateSharedNetwork(s),
                ));
            }
            // kea-config.md §2.4: members may not name another interface or differ in
            // authoritative.
            let net_iface = self.st.text.get(net.interface);
            let global_auth = self.global_authoritative;
            for m in members.as_range() {
                let Some(s) = self.st.subnets.get(m) else {
                    continue;
                };
                let iface = self.st.text.get(s.interface);
                if !iface.is_empty() && !net_iface.is_empty() && iface != net_iface {
                    return Err(self.err(
                        it.pos,
                        ConfigErrorKind::SharedNetworkConflict { key: "interface" },
                    ));
                }
                if let Some(a) = s.declared.authoritative {
                    let net_auth = declared.authoritative.or(global_auth).unwrap_or(false);
                    if a != net_auth {
                        return Err(self.err(
                            it.pos,
                            ConfigErrorKind::SharedNetworkConflict {
                                key: "authoritative",
                            },
                        ));
                    }
                }
            }
        }
        let res = self.st.shared_networks.push(net);
        self.at(it.pos, res)?;
        Ok(())
    }

    fn relay(&mut self) -> R<IndexRange> {
        let mut it = self.r.open_map()?;
        let mut r = IndexRange::EMPTY;
        let mut seen_list = false;
        while let Some(k) = self.r.next_key(&mut it)? {
            match k.text {
                "ip-addresses" => {
                    r = self.address_list()?;
                    seen_list = true;
                }
                "ip-address" => {
                    let (a, pos) = self.address()?;
                    if seen_list {
                        return Err(self.err(
                            k.pos,
                            ConfigErrorKind::UnknownKey {
                                key: snippet("ip-address"),
                                map: "relay (with ip-addresses)",
                            },
                        ));
                    }
                    let start = self.st.addresses.len_u32();
                    if !a.is_unspecified() {
                        let res = self.st.addresses.push(a);
                        self.at(pos, res)?;
                    }
                    r = range(start, self.st.addresses.len_u32());
                }
                _ => self.unknown(&k, None, "relay")?,
            }
        }
        Ok(r)
    }

    fn subnet_list(&mut self, network: Option<u32>) -> R<()> {
        let mut it = self.r.open_list()?;
        while self.r.next_item(&mut it)? {
            self.subnet(network)?;
        }
        Ok(())
    }

    fn subnet(&mut self, network: Option<u32>) -> R<()> {
        // Look ahead for the prefix and id (see the module doc).
        let [pre_subnet, pre_id] = prescan(self.r.checkpoint(), ["subnet", "id"]);
        let prefix = pre_subnet
            .filter(|(_, t)| t.kind == TokenKind::String)
            .and_then(|(_, t)| values::prefix(t.text).ok());
        let explicit_id = pre_id
            .filter(|(_, t)| t.kind == TokenKind::Integer)
            .and_then(|(_, t)| t.text.parse::<u32>().ok())
            .filter(|&id| id != 0);
        let id = match explicit_id {
            Some(id) => id,
            None => {
                let id = self.next_auto_id;
                self.next_auto_id = self.next_auto_id.saturating_add(1);
                id
            }
        };
        let mut it = self.r.open_map()?;
        let mut ctx = Context::default();
        let mut s = Subnet::EMPTY;
        s.id = id;
        s.shared_network = network;
        let mut declared = DeclaredParams::NONE;
        let mut keys = LevelKeys::default();
        let mut have_prefix = false;
        let mut id_pos = it.pos;
        let mut prefix_pos = it.pos;
        while let Some(k) = self.r.next_key(&mut it)? {
            if self.inheritable(&k, &mut declared, &mut keys)? || self.context_key(&k, &mut ctx)? {
                continue;
            }
            match k.text {
                "id" => {
                    // The value was taken by the pre-scan; this checks type and range.
                    id_pos = self.r.integer(0, 4_294_967_294)?.1;
                }
                "subnet" => {
                    let t = self.r.string()?;
                    s.prefix = self.at(t.pos, values::prefix(t.text))?;
                    have_prefix = true;
                    prefix_pos = t.pos;
                }
                "pools" => s.pools = self.pool_list(prefix)?,
                "reservations" => {
                    let owner = ReservationOwner {
                        subnet_id: id,
                        prefix,
                        list_start: self.st.reservations.len_u32(),
                    };
                    s.reservations = self.reservation_list(Some(owner))?;
                }
                "option-data" => s.options = self.option_data_list()?,
                "interface" => s.interface = self.string_field(None)?,
                "relay" => s.relay_addresses = self.relay()?,
                "client-class" => s.client_class = self.string_field(None)?,
                "require-client-classes" => s.require_client_classes = self.name_list()?,
                _ => self.unknown(&k, Some(Scope::Subnet), "subnet4")?,
            }
        }
        if !have_prefix {
            return Err(self.err(it.pos, ConfigErrorKind::MissingKey { key: "subnet" }));
        }
        self.finish_level(&mut declared, &keys)?;
        s.declared = declared;
        s.user_context = self.finish_context(ctx, it.pos)?;
        if !self.counting {
            for other in self.st.subnets.filled() {
                if other.id == s.id {
                    return Err(self.r.error_at_key(
                        id_pos,
                        "id",
                        ConfigErrorKind::DuplicateSubnetId(s.id),
                    ));
                }
                if other.prefix == s.prefix {
                    let mut text = heapless::String::<24>::new();
                    let _ = core::fmt::Write::write_fmt(
                        &mut text,
                        format_args!("{}/{}", s.prefix.address, s.prefix.len),
                    );
                    return Err(self.r.error_at_key(
                        prefix_pos,
                        "subnet",
                        ConfigErrorKind::DuplicateSubnet(snippet(&text)),
                    ));
                }
            }
        }
        let res = self.st.subnets.push(s);
        self.at(it.pos, res)?;
        Ok(())
    }

    fn pool_list(&mut self, prefix: Option<Ipv4Prefix>) -> R<IndexRange> {
        let mut list = self.r.open_list()?;
        let start = self.st.pools.len_u32();
        while self.r.next_item(&mut list)? {
            let mut it = self.r.open_map()?;
            let mut ctx = Context::default();
            let mut pool = Pool::EMPTY;
            let mut have_pool = false;
            while let Some(k) = self.r.next_key(&mut it)? {
                if self.context_key(&k, &mut ctx)? {
                    continue;
                }
                match k.text {
                    "pool" => {
                        let t = self.r.string()?;
                        let (first, last) = self.at(t.pos, values::pool(t.text))?;
                        let bad = |problem| ConfigErrorKind::BadPool {
                            pool: snippet(t.text),
                            problem,
                        };
                        if let Some(p) = prefix {
                            if !p.contains(first) || !p.contains(last) {
                                let mut text = heapless::String::<24>::new();
                                let _ = core::fmt::Write::write_fmt(
                                    &mut text,
                                    format_args!("{}/{}", p.address, p.len),
                                );
                                return Err(self.err(
                                    t.pos,
                                    bad(PoolProblem::OutsideSubnet {
                                        subnet: snippet(&text),
                                    }),
                                ));
                            }
                        }
                        if let Some(o) =
                            self.st.pools.filled().get(start as usize..).and_then(|ps| {
                                ps.iter().find(|o| first <= o.last && o.first <= last)
                            })
                        {
                            let problem = PoolProblem::Overlaps {
                                first: o.first,
                                last: o.last,
                            };
                            return Err(self.err(t.pos, bad(problem)));
                        }
                        pool.first = first;
                        pool.last = last;
                        have_pool = true;
                    }
                    "option-data" => pool.options = self.option_data_list()?,
                    "client-class" => pool.client_class = self.string_field(None)?,
                    "require-client-classes" => pool.require_client_classes = self.name_list()?,
                    _ => self.unknown(&k, None, "pools")?,
                }
            }
            if !have_pool {
                return Err(self.err(it.pos, ConfigErrorKind::MissingKey { key: "pool" }));
            }
            pool.user_context = self.finish_context(ctx, it.pos)?;
            let res = self.st.pools.push(pool);
            self.at(it.pos, res)?;
        }
        Ok(range(start, self.st.pools.len_u32()))
    }

    fn reservation_list(&mut self, owner: Option<ReservationOwner>) -> R<IndexRange> {
        let mut list = self.r.open_list()?;
        let start = self.st.reservations.len_u32();
        let owner = owner.unwrap_or(ReservationOwner {
            subnet_id: 0,
            prefix: None,
            list_start: start,
        });
        while self.r.next_item(&mut list)? {
            self.reservation(owner)?;
        }
        Ok(range(start, self.st.reservations.len_u32()))
    }

    fn reservation(&mut self, owner: ReservationOwner) -> R<()> {
        let mut it = self.r.open_map()?;
        let mut ctx = Context::default();
        let mut res = Reservation::EMPTY;
        res.subnet_id = owner.subnet_id;
        let mut ident: Option<(IdentifierType, &'static str, Position)> = None;
        while let Some(k) = self.r.next_key(&mut it)? {
            if self.context_key(&k, &mut ctx)? {
                continue;
            }
            let kind = match k.text {
                "hw-address" => Some((IdentifierType::HwAddress, "hw-address")),
                "duid" => Some((IdentifierType::Duid, "duid")),
                "circuit-id" => Some((IdentifierType::CircuitId, "circuit-id")),
                "client-id" => Some((IdentifierType::ClientId, "client-id")),
                "flex-id" => Some((IdentifierType::FlexId, "flex-id")),
                _ => None,
            };
            if let Some((kind, name)) = kind {
                if let Some((_, first, _)) = ident {
                    return Err(self.err(
                        k.pos,
                        ConfigErrorKind::SeveralIdentifiers {
                            first,
                            second: name,
                        },
                    ));
                }
                let t = self.r.string()?;
                let mut buf = [0u8; 256];
                let n = self.at(t.pos, values::identifier(t.text, &mut buf))?;
                // Kea's limits: a hardware address has at most 20 bytes, other
                // identifiers at most 128.
                let max = if kind == IdentifierType::HwAddress {
                    20
                } else {
                    128
                };
                if n > max {
                    return Err(self.err(t.pos, ConfigErrorKind::TooLong { max }));
                }
                let bytes = buf.get(..n).unwrap_or(&[]);
                res.identifier = {
                    let r = self.st.text.store(bytes);
                    self.at(t.pos, r)?
                };
                res.identifier_type = kind;
                ident = Some((kind, name, t.pos));
                if kind == IdentifierType::FlexId {
                    self.r.warn(k.pos, ConfigWarningKind::FlexIdNeverMatches);
                }
                continue;
            }
            match k.text {
                "ip-address" => {
                    let (a, pos) = self.address()?;
                    if let Some(p) = owner.prefix {
                        if !p.contains(a) {
                            return Err(self.err(
                                pos,
                                ConfigErrorKind::ReservationOutsideSubnet { address: a },
                            ));
                        }
                    }
                    res.address = Some(a).filter(|a| !a.is_unspecified());
                }
                "hostname" => res.hostname = self.string_field(None)?,
                "next-server" => {
                    res.next_server = Some(self.address()?.0).filter(|a| !a.is_unspecified())
                }
                "server-hostname" => res.server_hostname = self.string_field(Some(63))?,
                "boot-file-name" => res.boot_file_name = self.string_field(Some(128))?,
                "option-data" => res.options = self.option_data_list()?,
                "client-classes" => res.client_classes = self.name_list()?,
                _ => self.unknown(&k, None, "reservations")?,
            }
        }
        let Some((kind, kind_name, ident_pos)) = ident else {
            return Err(self.err(it.pos, ConfigErrorKind::NoIdentifier));
        };
        res.user_context = self.finish_context(ctx, it.pos)?;
        let index = {
            let r = self.st.reservations.push(res);
            self.at(it.pos, r)?
        };
        // Index it, checking duplicates within the subnet (kea-config.md §2.6).
        if !self.counting {
            let ident_bytes = self.st.text.get(res.identifier);
            let h = identifier_hash(owner.subnet_id, kind, ident_bytes);
            let reservations = &self.st.reservations;
            let text = &self.st.text;
            let dup = self.st.by_identifier.as_ref().and_then(|ix| {
                ix.find(h, |c| {
                    reservations.get(c as usize).is_some_and(|o| {
                        o.subnet_id == owner.subnet_id
                            && o.identifier_type == kind
                            && text.get(o.identifier) == ident_bytes
                    })
                })
            });
            if let Some(first) = dup {
                return Err(self.r.error_at_key(
                    ident_pos,
                    kind_name,
                    ConfigErrorKind::DuplicateIdentifier {
                        kind: kind_name,
                        first: first.saturating_sub(owner.list_start),
                    },
                ));
            }
            if let Some(ix) = self.st.by_identifier.as_mut() {
                if ix.insert(h, index).is_err() {
                    return Err(self.err(
                        it.pos,
                        ConfigErrorKind::StorageFull(StorageKind::ReservationIdSlots),
                    ));
                }
            }
            if let Some(a) = res.address {
                let h = address_hash(owner.subnet_id, a);
                let reservations = &self.st.reservations;
                let dup = self.st.by_address.as_ref().and_then(|ix| {
                    ix.find(h, |c| {
                        reservations
                            .get(c as usize)
                            .is_some_and(|o| o.subnet_id == owner.subnet_id && o.address == Some(a))
                    })
                });
                if dup.is_some() && self.globals.ip_reservations_unique {
                    return Err(self.err(
                        it.pos,
                        ConfigErrorKind::DuplicateReservedAddress { address: a },
                    ));
                }
                if let Some(ix) = self.st.by_address.as_mut() {
                    if ix.insert(h, index).is_err() {
                        return Err(self.err(
                            it.pos,
                            ConfigErrorKind::StorageFull(StorageKind::ReservationAddrSlots),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- the end

    fn finish(&mut self) -> R<()> {
        let global = self.globals.declared;
        self.globals.params = SubnetParams::resolve(&[&global]);
        if self.counting {
            return Ok(());
        }
        // Kea's selection order: top-level subnet4 first, then the networks' members.
        if let (true, Some(top)) = (self.networks_first, self.top_subnets) {
            let shift = top.start;
            let end = top.start.saturating_add(top.len) as usize;
            if let Some(all) = self.st.subnets.filled_mut().get_mut(..end) {
                all.rotate_left(shift as usize);
            }
            for n in self.st.shared_networks.filled_mut() {
                if n.subnets.start < shift {
                    n.subnets.start = n.subnets.start.saturating_add(top.len);
                }
            }
        }
        let networks = self.st.shared_networks.filled();
        for s in self.st.subnets.filled_mut() {
            let net = s.shared_network.and_then(|i| networks.get(i as usize));
            let params = match net {
                Some(n) => {
                    if s.interface.is_empty() {
                        s.interface = n.interface;
                    }
                    if s.relay_addresses.len == 0 {
                        s.relay_addresses = n.relay_addresses;
                    }
                    if s.client_class.is_empty() {
                        s.client_class = n.client_class;
                    }
                    SubnetParams::resolve(&[&s.declared, &n.declared, &global])
                }
                None => SubnetParams::resolve(&[&s.declared, &global]),
            };
            s.params = params;
        }
        Ok(())
    }
}

/// Makes a bare Dhcp4 map's key paths start with `Dhcp4.` (its iterator was opened before
/// the path was set).
fn outer_fix_base(it: &mut MapIter<'_>, base: usize) {
    it.set_base(base);
}
