//! The commands HA peers exchange, in Kea 2.2's exact shapes (kea-ha.md §1, §5), and
//! readers for the answers.
//!
//! A Kea 2.2 server talks to its partner's **Control Agent**: requests carry
//! `"service": [ "dhcp4" ]` and answers are a JSON **list** whose first element holds
//! `result`; an object body (e.g. a 401 page) is a failure. Bodies are written with keys in
//! Kea's alphabetical order and its `{ "k": v }` spacing; receivers must not care, but the
//! golden tests compare bytes.

use core::fmt::Write as _;
use core::net::{IpAddr, Ipv4Addr};

use crate::control::json_in::{parse_document, Node, Value};
use crate::control::json_out::{BufferFull, JsonOut, WriteResult};
use crate::lease::{LeaseRecord, LeaseState};
use crate::time::Timestamp;

use super::config::{HaConfig, Peer, Role};
use super::load_balance::Scopes;
use super::state::{HaService, HaState, HeartbeatInfo, PartnerState};

/// Result codes of the control API.
pub mod result {
    /// Success.
    pub const SUCCESS: i64 = 0;
    /// Error.
    pub const ERROR: i64 = 1;
    /// Command not supported.
    pub const UNSUPPORTED: i64 = 2;
    /// Empty / not found (accepted for lease4-del and lease4-get-page).
    pub const EMPTY: i64 = 3;
}

fn finish(w: JsonOut<'_>) -> Result<usize, BufferFull> {
    let c = w.finish();
    if c.done {
        Ok(c.len)
    } else {
        Err(BufferFull)
    }
}

fn tail(w: &mut JsonOut<'_>, command: &str) -> WriteResult {
    w.field_str("command", command)?;
    w.key("service")?;
    w.begin_array()?;
    w.string("dhcp4")?;
    w.end_array()?;
    w.end_object()
}

/// `{ "command": "<command>", "service": [ "dhcp4" ] }`: ha-heartbeat, ha-reset,
/// ha-sync-complete-notify, ha-continue, ha-maintenance-start, ha-maintenance-cancel.
pub fn simple_request(buf: &mut [u8], command: &str) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_object()?;
    tail(&mut w, command)?;
    finish(w)
}

/// `ha-heartbeat` request.
pub fn heartbeat_request(buf: &mut [u8]) -> Result<usize, BufferFull> {
    simple_request(buf, "ha-heartbeat")
}

/// `dhcp-disable` sent to the partner before each sync page; `max_period_secs` =
/// sync-timeout / 1000, at least 1 ([`sync_max_period`]).
pub fn dhcp_disable_request(buf: &mut [u8], max_period_secs: u64) -> Result<usize, BufferFull> {
    dhcp_disable_request_for(buf, Some(max_period_secs))
}

/// `dhcp-disable` with an optional `max-period`: an operator's `ha-sync` without
/// `max-period` sends none (Kea 2.2), so the partner stays disabled until
/// `ha-sync-complete-notify`/`dhcp-enable`.
pub fn dhcp_disable_request_for(
    buf: &mut [u8],
    max_period_secs: Option<u64>,
) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_object()?;
    w.key("arguments")?;
    w.begin_object()?;
    if let Some(p) = max_period_secs {
        w.field_u64("max-period", p)?;
    }
    w.field_str("origin", "ha-partner")?;
    w.end_object()?;
    tail(&mut w, "dhcp-disable")?;
    finish(w)
}

/// `max-period` of the sync's dhcp-disable: `sync-timeout`/1000 s, minimum 1.
pub fn sync_max_period(cfg: &HaConfig<'_, '_>) -> u64 {
    (u64::from(cfg.sync_timeout_ms) / 1000).max(1)
}

/// `dhcp-enable` (origin ha-partner), sent only when the partner answered
/// `ha-sync-complete-notify` with result 2.
pub fn dhcp_enable_request(buf: &mut [u8]) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_object()?;
    w.key("arguments")?;
    w.begin_object()?;
    w.field_str("origin", "ha-partner")?;
    w.end_object()?;
    tail(&mut w, "dhcp-enable")?;
    finish(w)
}

/// `lease4-get-page`: `from` = `None` for `"start"`, else the last address of the
/// previous page.
pub fn lease4_get_page_request(
    buf: &mut [u8],
    from: Option<Ipv4Addr>,
    limit: u32,
) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_object()?;
    w.key("arguments")?;
    w.begin_object()?;
    w.key("from")?;
    match from {
        None => w.string("start")?,
        Some(a) => w.ipv4(a)?,
    }
    w.field_u64("limit", u64::from(limit))?;
    w.end_object()?;
    tail(&mut w, "lease4-get-page")?;
    finish(w)
}

/// `ha-maintenance-notify`.
pub fn maintenance_notify_request(buf: &mut [u8], cancel: bool) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_object()?;
    w.key("arguments")?;
    w.begin_object()?;
    w.field_bool("cancel", cancel)?;
    w.end_object()?;
    tail(&mut w, "ha-maintenance-notify")?;
    finish(w)
}

/// `ha-scopes` with bare peer names.
pub fn ha_scopes_request(buf: &mut [u8], names: &[&str]) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_object()?;
    w.key("arguments")?;
    w.begin_object()?;
    w.key("scopes")?;
    w.begin_array()?;
    for n in names {
        w.string(n)?;
    }
    w.end_array()?;
    w.end_object()?;
    tail(&mut w, "ha-scopes")?;
    finish(w)
}

/// The lease object of `lease4-update`/`lease4-del` (kea-ha.md §5): Kea's lease with
/// `cltt` replaced by `expire` = cltt + valid-lft, `force-create: true` on updates only.
/// Kea 2.2 does not send `"origin": "ha-partner"` (2.4+ does), so neither does wren.
fn write_lease_arguments(w: &mut JsonOut<'_>, r: &LeaseRecord<'_>, update: bool) -> WriteResult {
    w.begin_object()?;
    if !r.client_id.is_empty() {
        w.key("client-id")?;
        w.hex(r.client_id)?;
    }
    w.field_u64("expire", r.expire().0)?;
    if update {
        w.field_bool("force-create", true)?;
    }
    w.field_bool("fqdn-fwd", r.fqdn_fwd)?;
    w.field_bool("fqdn-rev", r.fqdn_rev)?;
    w.field_str("hostname", r.hostname)?;
    w.key("hw-address")?;
    w.hex(r.hwaddr)?;
    w.key("ip-address")?;
    w.ipv4(r.address)?;
    w.field_u64("state", u64::from(r.state.code()))?;
    w.field_u64("subnet-id", u64::from(r.subnet_id))?;
    if !r.user_context.is_empty() {
        w.key("user-context")?;
        w.raw(r.user_context)?;
    }
    w.field_u64("valid-lft", u64::from(r.valid_lifetime))?;
    w.end_object()
}

/// `lease4-update` for a new or renewed lease.
pub fn lease4_update_request(buf: &mut [u8], r: &LeaseRecord<'_>) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_object()?;
    w.key("arguments")?;
    write_lease_arguments(&mut w, r, true)?;
    tail(&mut w, "lease4-update")?;
    finish(w)
}

/// `lease4-del` for a released lease or one the client left.
pub fn lease4_del_request(buf: &mut [u8], r: &LeaseRecord<'_>) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_object()?;
    w.key("arguments")?;
    write_lease_arguments(&mut w, r, false)?;
    tail(&mut w, "lease4-del")?;
    finish(w)
}

// ----- HTTP framing -----

fn base64_into(out: &mut Cursor<'_>, input: &[u8]) -> Result<(), BufferFull> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in input.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextet = |i: u32| {
            A.get(((n >> (18 - 6 * i)) & 63) as usize)
                .copied()
                .unwrap_or(b'=')
        };
        out.put(&[sextet(0), sextet(1)])?;
        out.put(&[if chunk.len() > 1 { sextet(2) } else { b'=' }])?;
        out.put(&[if chunk.len() > 2 { sextet(3) } else { b'=' }])?;
    }
    Ok(())
}

struct Cursor<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), BufferFull> {
        let end = self.len.checked_add(bytes.len()).ok_or(BufferFull)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(BufferFull)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.put(s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

/// Writes the HTTP request that carries `body` to `peer`, headers in the order Kea 2.2's
/// HTTP client writes them (captured between two kea-dhcp4 2.2.0 + kea-ctrl-agent peers,
/// core/tests/fixtures/ha/request-lease4-update.http): `POST / HTTP/1.1`, `Host: <peer ip>`,
/// `Authorization: Basic …` when the peer has `basic-auth-user` (`password` =
/// `basic-auth-password` or the content of `basic-auth-password-file`, read by the daemon),
/// `Content-Length`, `Content-Type: application/json`. Returns the length written.
pub fn http_request(
    out: &mut [u8],
    peer: &Peer<'_>,
    password: Option<&str>,
    body: &[u8],
) -> Result<usize, BufferFull> {
    let mut c = Cursor { buf: out, len: 0 };
    let host = peer.address;
    let r = match host {
        IpAddr::V4(a) => write!(c, "POST / HTTP/1.1\r\nHost: {a}\r\n"),
        IpAddr::V6(a) => write!(c, "POST / HTTP/1.1\r\nHost: [{a}]\r\n"),
    };
    r.map_err(|_| BufferFull)?;
    if let Some(user) = peer.basic_auth_user {
        c.put(b"Authorization: Basic ")?;
        // base64("user:password") without building the joined string.
        let mut joined = [0u8; 512];
        let pw = password.or(peer.basic_auth_password).unwrap_or("");
        let total = user.len() + 1 + pw.len();
        let j = joined.get_mut(..total).ok_or(BufferFull)?;
        let (u, rest) = j.split_at_mut(user.len());
        u.copy_from_slice(user.as_bytes());
        let (colon, p) = rest.split_at_mut(1);
        colon.copy_from_slice(b":");
        p.copy_from_slice(pw.as_bytes());
        base64_into(&mut c, j)?;
        c.put(b"\r\n")?;
    }
    write!(
        c,
        "Content-Length: {}\r\nContent-Type: application/json\r\n",
        body.len()
    )
    .map_err(|_| BufferFull)?;
    c.put(b"\r\n")?;
    c.put(body)?;
    Ok(c.len)
}

// ----- dates -----

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An RFC 1123 date (`Sat, 28 Nov 2026 09:17:57 GMT`), as heartbeats carry `date-time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpDate(pub u64);

impl core::fmt::Display for HttpDate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let days = (self.0 / 86_400) as i64;
        let secs = self.0 % 86_400;
        let (y, m, d) = civil_from_days(days);
        let wd = DAYS.get((days % 7) as usize).copied().unwrap_or("Thu");
        let mon = MONTHS
            .get((m as usize).wrapping_sub(1))
            .copied()
            .unwrap_or("Jan");
        write!(
            f,
            "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// Parses an RFC 1123 date into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let rest = s.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let d: u32 = parts.next()?.parse().ok()?;
    let mon = parts.next()?;
    let m = MONTHS.iter().position(|x| *x == mon)? as u32 + 1;
    let y: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let mi: u64 = hms.next()?.parse().ok()?;
    let se: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || d == 0 || d > 31 || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(y, m, d)).ok()?;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

// ----- answers we give -----

fn write_scopes(w: &mut JsonOut<'_>, cfg: &HaConfig<'_, '_>, s: Scopes) -> WriteResult {
    w.begin_array()?;
    for i in 0..2 {
        if s.serves(i) {
            if let Some(p) = cfg.scope_owner(i) {
                w.string(p.name)?;
            }
        }
    }
    w.end_array()
}

/// Our reply to a partner's `ha-heartbeat`, wrapped in a list as a Control Agent answers:
/// `[ { "arguments": { "date-time", "scopes", "state", "unsent-update-count" }, "result": 0,
/// "text": "HA peer status returned." } ]`.
pub fn heartbeat_reply(
    buf: &mut [u8],
    svc: &HaService<'_, '_, '_, '_>,
    unix_secs: u64,
) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_array()?;
    w.begin_object()?;
    w.key("arguments")?;
    w.begin_object()?;
    w.key("date-time")?;
    w.string_fmt(format_args!("{}", HttpDate(unix_secs)))?;
    w.key("scopes")?;
    write_scopes(&mut w, svc.config(), svc.scopes())?;
    w.field_str("state", svc.state().name())?;
    w.field_u64("unsent-update-count", svc.unsent_update_count())?;
    w.end_object()?;
    w.field_u64("result", 0)?;
    w.field_str("text", "HA peer status returned.")?;
    w.end_object()?;
    w.end_array()?;
    finish(w)
}

/// A plain `[ { "result": r, "text": t } ]` answer (HA commands through a CA).
pub fn status_reply(buf: &mut [u8], result: u16, text: &str) -> Result<usize, BufferFull> {
    let mut w = JsonOut::new(buf);
    w.begin_array()?;
    w.begin_object()?;
    w.field_u64("result", u64::from(result))?;
    w.field_str("text", text)?;
    w.end_object()?;
    w.end_array()?;
    finish(w)
}

/// The `"high-availability"` value of `status-get` (the caller writes the key):
/// `[ { "ha-mode", "ha-servers": { "local": {…}, "remote": {…} } } ]`; no `remote` in
/// passive-backup or on a backup.
pub fn write_status_ha(
    w: &mut JsonOut<'_>,
    svc: &HaService<'_, '_, '_, '_>,
    now_ms: u64,
) -> WriteResult {
    let cfg = svc.config();
    w.begin_array()?;
    w.begin_object()?;
    w.field_str("ha-mode", cfg.mode.name())?;
    w.key("ha-servers")?;
    w.begin_object()?;
    w.key("local")?;
    w.begin_object()?;
    w.field_str("role", cfg.this_role().name())?;
    w.key("scopes")?;
    write_scopes(w, cfg, svc.scopes())?;
    w.field_str("state", svc.state().name())?;
    w.end_object()?;
    if let Some(partner) = cfg.partner() {
        w.key("remote")?;
        w.begin_object()?;
        w.field_u64("age", svc.contact_age_ms(now_ms) / 1000)?;
        w.field_u64("analyzed-packets", svc.analyzed_packets())?;
        w.field_bool(
            "communication-interrupted",
            svc.communication_interrupted(now_ms),
        )?;
        w.field_u64("connecting-clients", svc.connecting_clients() as u64)?;
        w.field_bool(
            "in-touch",
            matches!(svc.partner_state(), PartnerState::Known(_)),
        )?;
        w.key("last-scopes")?;
        write_scopes(w, cfg, svc.partner_scopes())?;
        let last = match svc.partner_state() {
            PartnerState::Known(s) => s.name(),
            PartnerState::Unavailable => "unavailable",
            PartnerState::Unknown => "",
        };
        w.field_str("last-state", last)?;
        w.field_str("role", partner.role.name())?;
        w.field_u64("unacked-clients", u64::from(svc.unacked_clients()))?;
        w.field_u64(
            "unacked-clients-left",
            u64::from(svc.unacked_clients_left(now_ms)),
        )?;
        w.end_object()?;
    }
    w.end_object()?;
    w.end_object()?;
    w.end_array()
}

// ----- answers we read -----

/// Why a peer's answer is not a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerError {
    /// Not JSON.
    Syntax,
    /// Not a non-empty list of maps (e.g. an object body from a 401).
    NotAList,
    /// No integer `result`.
    NoResult,
    /// `result` ≠ 0 (and not 3 where allowed).
    Result(i64),
    /// The arguments are missing or malformed.
    BadArguments(&'static str),
}

/// The first element of an answer list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Answer<'t> {
    /// `result`.
    pub result: i64,
    /// `text` (still escaped), empty if absent.
    pub text: &'t str,
    /// `arguments`, if a map.
    pub arguments: Option<Node<'t>>,
}

/// Reads an answer: a JSON list whose first element is a map with an integer `result`.
pub fn parse_answer(body: &str) -> Result<Answer<'_>, AnswerError> {
    let Value::List(list) = parse_document(body).map_err(|_| AnswerError::Syntax)? else {
        return Err(AnswerError::NotAList);
    };
    let Some((Value::Map(first), _)) = list.items().next() else {
        return Err(AnswerError::NotAList);
    };
    let Some(Value::Int(result)) = first.get("result") else {
        return Err(AnswerError::NoResult);
    };
    let text = match first.get("text") {
        Some(Value::Str(s)) => s.0,
        _ => "",
    };
    let arguments = match first.get("arguments") {
        Some(Value::Map(n)) => Some(n),
        _ => None,
    };
    Ok(Answer {
        result,
        text,
        arguments,
    })
}

/// Success check for commands where result 0 (and 3 if `empty_ok`) counts as success
/// (lease4-del, lease4-get-page accept 3).
pub fn expect_success(body: &str, empty_ok: bool) -> Result<Answer<'_>, AnswerError> {
    let a = parse_answer(body)?;
    match a.result {
        result::SUCCESS => Ok(a),
        result::EMPTY if empty_ok => Ok(a),
        r => Err(AnswerError::Result(r)),
    }
}

/// Parses the partner's heartbeat answer (§7: result 0, `state` and `date-time` strings).
pub fn parse_heartbeat(body: &str, cfg: &HaConfig<'_, '_>) -> Result<HeartbeatInfo, AnswerError> {
    let a = expect_success(body, false)?;
    let args = a.arguments.ok_or(AnswerError::BadArguments("arguments"))?;
    let state = match args.get("state") {
        Some(Value::Str(s)) => s.plain().and_then(HaState::from_name),
        _ => None,
    }
    .ok_or(AnswerError::BadArguments("state"))?;
    let date_time = match args.get("date-time") {
        Some(Value::Str(s)) => s.plain().and_then(parse_http_date),
        _ => None,
    }
    .ok_or(AnswerError::BadArguments("date-time"))?;
    let unsent_update_count = match args.get("unsent-update-count") {
        Some(Value::Int(n)) => u64::try_from(n).unwrap_or(0),
        _ => 0,
    };
    let mut scopes = Scopes::NONE;
    if let Some(Value::List(l)) = args.get("scopes") {
        for (v, _) in l.items() {
            if let Value::Str(s) = v {
                for i in 0..2 {
                    if cfg.scope_owner(i).is_some_and(|p| s.eq_str(p.name)) {
                        match i {
                            0 => scopes.primary = true,
                            _ => scopes.secondary = true,
                        }
                    }
                }
            }
        }
    }
    Ok(HeartbeatInfo {
        state,
        date_time,
        unsent_update_count,
        scopes,
    })
}

/// A `lease4-get-page` answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeasePage<'t> {
    /// `count` (0 with result 3 at the end).
    pub count: u64,
    /// The `leases` list (iterate with `items()`, read each with [`parse_lease`]).
    pub leases: Option<Node<'t>>,
}

impl LeasePage<'_> {
    /// Whether another page must be fetched: this one was full (§6.4).
    pub fn more(&self, limit: u32) -> bool {
        self.count >= u64::from(limit) && limit > 0
    }
}

/// Reads a `lease4-get-page` answer.
pub fn parse_lease_page(body: &str) -> Result<LeasePage<'_>, AnswerError> {
    let a = expect_success(body, true)?;
    if a.result == result::EMPTY {
        return Ok(LeasePage {
            count: 0,
            leases: None,
        });
    }
    let args = a.arguments.ok_or(AnswerError::BadArguments("arguments"))?;
    let count = match args.get("count") {
        Some(Value::Int(n)) => u64::try_from(n).map_err(|_| AnswerError::BadArguments("count"))?,
        _ => return Err(AnswerError::BadArguments("count")),
    };
    let leases = match args.get("leases") {
        Some(Value::List(l)) => Some(l),
        _ => return Err(AnswerError::BadArguments("leases")),
    };
    Ok(LeasePage { count, leases })
}

/// Storage for the bytes of one parsed lease.
#[derive(Debug)]
pub struct LeaseScratch {
    /// `hw-address` bytes.
    pub hw: [u8; 20],
    /// `client-id` bytes.
    pub client_id: [u8; 255],
    /// Unescaped `hostname`.
    pub hostname: [u8; 255],
}

impl Default for LeaseScratch {
    fn default() -> Self {
        LeaseScratch {
            hw: [0; 20],
            client_id: [0; 255],
            hostname: [0; 255],
        }
    }
}

fn hex_colon<'b>(s: &str, out: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut n = 0;
    for part in s.split(':').filter(|p| !p.is_empty()) {
        let v = u8::from_str_radix(part, 16).ok()?;
        *out.get_mut(n)? = v;
        n += 1;
    }
    out.get(..n)
}

/// Reads one lease object of a page (Kea's lease shape: `cltt`, not `expire`). `None`
/// for a bad entry, which the sync skips (§6.3).
pub fn parse_lease<'t: 'b, 'b>(
    lease: &Value<'t>,
    s: &'b mut LeaseScratch,
) -> Option<LeaseRecord<'b>> {
    let Value::Map(m) = lease else {
        return None;
    };
    let string = |k: &str| match m.get(k) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    };
    let int = |k: &str| match m.get(k) {
        Some(Value::Int(n)) => u64::try_from(n).ok(),
        _ => None,
    };
    let flag = |k: &str| matches!(m.get(k), Some(Value::Bool(true)));
    let address: Ipv4Addr = string("ip-address")?.plain()?.parse().ok()?;
    let hw_text = string("hw-address").and_then(|s| s.plain()).unwrap_or("");
    let hwaddr = hex_colon(hw_text, &mut s.hw)?;
    let client_id = match string("client-id").and_then(|s| s.plain()) {
        Some(t) => hex_colon(t, &mut s.client_id)?,
        None => &[],
    };
    let hostname = match string("hostname") {
        Some(h) => h.unescape(&mut s.hostname)?,
        None => "",
    };
    let user_context = match m.get("user-context") {
        Some(Value::Map(n)) => n.text(),
        _ => "",
    };
    Some(LeaseRecord {
        address,
        hwaddr,
        client_id,
        valid_lifetime: u32::try_from(int("valid-lft")?).ok()?,
        cltt: Timestamp(int("cltt")?),
        subnet_id: u32::try_from(int("subnet-id")?).ok()?,
        fqdn_fwd: flag("fqdn-fwd"),
        fqdn_rev: flag("fqdn-rev"),
        hostname,
        state: LeaseState::from_code(u32::try_from(int("state").unwrap_or(0)).ok()?)?,
        user_context,
    })
}

/// The sync merge rule (§6.3): take the remote lease when there is no local one or the
/// local `cltt` is older.
pub fn sync_should_take(local: Option<&LeaseRecord<'_>>, remote: &LeaseRecord<'_>) -> bool {
    local.is_none_or(|l| l.cltt < remote.cltt)
}

/// Whether `role` is an active (non-backup) server.
pub fn is_active(role: Role) -> bool {
    role != Role::Backup
}

#[cfg(test)]
mod tests;
