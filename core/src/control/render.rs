//! Rendering a [`Reply`] into Kea's JSON, chunk by chunk (see [`super::json_out`]).

use super::edit;
use super::json_in::{parse_document, Value};
use super::json_out::{render_all, Chunk, Cursor, JsonOut, WriteResult};
use super::lease_cmds::{write_lease, PrefixText};
use super::{Reply, SubnetChange, View, COMMANDS, RESULT_EMPTY, RESULT_SUCCESS};
use crate::config::{Config, Reservation};
use crate::lease::LeaseId;
use crate::stats::{format_timestamp, StatName};

/// Renders the chunk of `reply` that starts at `cursor` into `out`. Call again with
/// `chunk.next` until `chunk.done`. A buffer of any size ≥ 1 byte makes progress; list
/// answers resume at the item that was cut, so the whole answer costs O(answer).
/// `config-get`, `subnet4-get` and the `reservation-*` answers re-read the config text once
/// per chunk: give them large chunks (3 × the config text holds `config-get` in one).
pub fn render(reply: &Reply<'_>, view: &View<'_, '_, '_>, cursor: Cursor, out: &mut [u8]) -> Chunk {
    let mut w = JsonOut::resume(out, cursor);
    let _ = write_reply(&mut w, reply, view);
    w.finish()
}

fn result_text(w: &mut JsonOut<'_>, result: u16, text: core::fmt::Arguments<'_>) -> WriteResult {
    w.field_u64("result", u64::from(result))?;
    w.key("text")?;
    w.string_fmt(text)?;
    w.end_object()
}

fn write_reply(w: &mut JsonOut<'_>, reply: &Reply<'_>, view: &View<'_, '_, '_>) -> WriteResult {
    let config = view.config;
    match reply {
        Reply::Status { result, text } => {
            w.begin_object()?;
            result_text(w, *result, format_args!("{text}"))
        }
        Reply::Commands => {
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_array()?;
            for c in COMMANDS {
                w.string(c.name())?;
            }
            w.end_array()?;
            w.field_u64("result", 0)?;
            w.end_object()
        }
        Reply::Version => {
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_object()?;
            w.field_str("extended", view.info.extended)?;
            w.end_object()?;
            result_text(w, RESULT_SUCCESS, format_args!("{}", view.info.version))
        }
        Reply::BuildReport => {
            w.begin_object()?;
            result_text(
                w,
                RESULT_SUCCESS,
                format_args!("{}", view.info.build_report),
            )
        }
        Reply::ServerStatus => {
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_object()?;
            w.field_bool("multi-threading-enabled", false)?;
            w.field_u64("pid", u64::from(view.info.pid))?;
            w.field_u64("reload", view.info.reload)?;
            w.key("sockets")?;
            w.begin_object()?;
            w.field_str("status", "ready")?;
            w.end_object()?;
            w.field_u64("uptime", view.info.uptime)?;
            w.end_object()?;
            w.field_u64("result", 0)?;
            w.end_object()
        }
        Reply::ConfigGet => {
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_object()?;
            w.key("Dhcp4")?;
            match edit::dhcp4_map(view.config_text) {
                Ok(m) => copy_value_redacted(w, Value::Map(m))?,
                Err(_) => {
                    w.begin_object()?;
                    w.end_object()?
                }
            }
            w.end_object()?;
            w.field_u64("result", 0)?;
            w.end_object()
        }
        Reply::ConfigWritten { filename, size } => {
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_object()?;
            w.field_str("filename", filename)?;
            w.field_u64("size", *size)?;
            w.end_object()?;
            result_text(
                w,
                RESULT_SUCCESS,
                format_args!("Configuration written to {filename} successful"),
            )
        }
        Reply::Lease { address } => {
            w.begin_object()?;
            match view.leases.get(*address) {
                Some(lease) => {
                    w.key("arguments")?;
                    write_lease(w, &lease)?;
                    result_text(w, RESULT_SUCCESS, format_args!("IPv4 lease found."))
                }
                None => result_text(w, RESULT_EMPTY, format_args!("Lease not found.")),
            }
        }
        Reply::Leases { filter, count } => paged_list(
            w,
            List::Named("leases"),
            0,
            |_| Ok(()),
            |w, start| {
                for (i, id) in view.lease_order.iter().enumerate().skip(start) {
                    let Some(lease) = view.leases.record(LeaseId(*id)) else {
                        continue;
                    };
                    if filter.matches(&lease) {
                        w.item(i as u64);
                        write_lease(w, &lease)?;
                    }
                }
                Ok(())
            },
            |_| Ok(()),
            Outcome::Text(
                found_or_empty(*count),
                format_args!("{count} IPv4 lease(s) found."),
            ),
        ),
        Reply::LeasePage { after, count } => {
            let order = view.lease_order;
            let first = match after {
                None => 0,
                Some(a) => order.partition_point(|id| {
                    view.leases
                        .record(LeaseId(*id))
                        .is_some_and(|r| r.address <= *a)
                }),
            };
            paged_list(
                w,
                List::Named("leases"),
                first,
                |w| w.field_u64("count", *count),
                |w, start| {
                    let end = first.saturating_add(*count as usize).min(order.len());
                    for i in start..end {
                        let Some(lease) =
                            order.get(i).and_then(|id| view.leases.record(LeaseId(*id)))
                        else {
                            continue;
                        };
                        w.item(i as u64);
                        write_lease(w, &lease)?;
                    }
                    Ok(())
                },
                |_| Ok(()),
                Outcome::Text(
                    found_or_empty(*count),
                    format_args!("{count} IPv4 lease(s) found."),
                ),
            )
        }
        Reply::SubnetList => {
            let n = config.subnets.len();
            paged_list(
                w,
                List::Named("subnets"),
                0,
                |_| Ok(()),
                |w, start| {
                    for (i, s) in config.subnets.iter().enumerate().skip(start) {
                        w.item(i as u64);
                        brief(w, s.id, s.prefix)?;
                    }
                    Ok(())
                },
                |_| Ok(()),
                Outcome::Text(
                    found_or_empty(n as u64),
                    format_args!("{n} IPv4 subnets found"),
                ),
            )
        }
        Reply::Subnet { index } => {
            w.begin_object()?;
            let Some(s) = config.subnets.get(*index) else {
                return result_text(w, RESULT_EMPTY, format_args!("No IPv4 subnet found"));
            };
            w.key("arguments")?;
            w.begin_object()?;
            w.key("subnets")?;
            w.begin_array()?;
            if let Ok(Some(found)) = edit::find_subnet(view.config_text, s.id) {
                copy_value(w, Value::Map(found.node))?;
            }
            w.end_array()?;
            w.end_object()?;
            result_text(
                w,
                RESULT_SUCCESS,
                format_args!(
                    "Info about IPv4 subnet {} (id {}) returned",
                    PrefixText(s.prefix),
                    s.id
                ),
            )
        }
        Reply::SubnetChanged { change, id, prefix } => {
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_object()?;
            w.key(if *change == SubnetChange::Deleted {
                "subnets"
            } else {
                "subnet4"
            })?;
            w.begin_array()?;
            brief(w, *id, *prefix)?;
            w.end_array()?;
            w.end_object()?;
            match change {
                SubnetChange::Added => result_text(w, 0, format_args!("IPv4 subnet added")),
                SubnetChange::Updated => result_text(w, 0, format_args!("IPv4 subnet updated")),
                SubnetChange::Deleted => result_text(
                    w,
                    0,
                    format_args!("IPv4 subnet {} (id {id}) deleted", PrefixText(*prefix)),
                ),
            }
        }
        Reply::Host { index } => {
            w.begin_object()?;
            match config.reservations.get(*index) {
                Some(r) => {
                    w.key("arguments")?;
                    let mut texts = edit::HostTexts::new(view.config_text);
                    write_host(w, view, &mut texts, *index, r, false)?;
                    result_text(w, RESULT_SUCCESS, format_args!("Host found."))
                }
                None => result_text(w, RESULT_SUCCESS, format_args!("Host not found.")),
            }
        }
        Reply::Hosts {
            subnet_id,
            from,
            count,
            page_next,
        } => paged_list(
            w,
            List::Named("hosts"),
            *from,
            |w| match page_next {
                Some(_) => w.field_u64("count", *count),
                None => Ok(()),
            },
            |w, start| {
                let mut left = *count;
                // Hosts already delivered before the resumed item still count.
                if start > *from {
                    left = left
                        .saturating_sub(hosts_matching(config, *subnet_id, *from, start) as u64);
                }
                let mut texts = edit::HostTexts::new(view.config_text);
                for (i, r) in config.reservations.iter().enumerate().skip(start) {
                    if left == 0 {
                        break;
                    }
                    if subnet_id.is_some_and(|id| id != r.subnet_id) {
                        continue;
                    }
                    w.item(i as u64);
                    write_host(w, view, &mut texts, i, r, subnet_id.is_none())?;
                    left -= 1;
                }
                Ok(())
            },
            |w| match page_next {
                Some(next) => {
                    w.key("next")?;
                    w.begin_object()?;
                    w.field_u64("from", *next)?;
                    w.field_u64("source-index", 0)?;
                    w.end_object()
                }
                None => Ok(()),
            },
            Outcome::Text(
                found_or_empty(*count),
                format_args!("{count} IPv4 host(s) found."),
            ),
        ),
        Reply::Statistic { name } => {
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_object()?;
            if let Some(n) = name {
                if view.stats.get(*n).is_some() {
                    write_stat(w, view, *n)?;
                }
            }
            w.end_object()?;
            w.field_u64("result", 0)?;
            w.end_object()
        }
        Reply::NoData { text } => {
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_object()?;
            w.end_object()?;
            result_text(w, RESULT_EMPTY, format_args!("{text}"))
        }
        Reply::ServerTag => {
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_object()?;
            w.field_str("server-tag", config.str(config.globals.server_tag))?;
            w.end_object()?;
            w.field_u64("result", 0)?;
            w.end_object()
        }
        Reply::StatLease4 {
            first,
            last,
            at,
            rows,
            text,
        } => {
            use crate::stats::SubnetStat as S;
            w.begin_object()?;
            w.key("arguments")?;
            w.begin_object()?;
            w.key("result-set")?;
            w.begin_object()?;
            w.key("columns")?;
            w.begin_array()?;
            for c in [
                "subnet-id",
                "total-addresses",
                "cumulative-assigned-addresses",
                "assigned-addresses",
                "declined-addresses",
            ] {
                w.string(c)?;
            }
            w.end_array()?;
            w.key("rows")?;
            w.begin_array()?;
            for s in view.stats.subnets() {
                if !(*first..=*last).contains(&s.id) {
                    continue;
                }
                w.begin_array()?;
                w.u64(u64::from(s.id))?;
                for stat in [
                    S::TotalAddresses,
                    S::CumulativeAssignedAddresses,
                    S::AssignedAddresses,
                    S::DeclinedAddresses,
                ] {
                    let v = view
                        .stats
                        .get(StatName::Subnet { id: s.id, stat })
                        .map_or(0, |x| x.value);
                    w.i64(v)?;
                }
                w.end_array()?;
            }
            w.end_array()?;
            let mut ts: heapless::String<40> = heapless::String::new();
            let _ = format_timestamp(*at, view.info.utc_offset, &mut ts);
            w.field_str("timestamp", &ts)?;
            w.end_object()?;
            w.end_object()?;
            let result = if *rows > 0 {
                RESULT_SUCCESS
            } else {
                RESULT_EMPTY
            };
            result_text(w, result, format_args!("{text}"))
        }
        Reply::Statistics => paged_list(
            w,
            List::Arguments,
            0,
            |_| Ok(()),
            |w, start| {
                for (i, (n, _)) in view.stats.iter().enumerate().skip(start) {
                    w.item(i as u64);
                    write_stat(w, view, n)?;
                }
                Ok(())
            },
            |_| Ok(()),
            Outcome::ResultOnly(RESULT_SUCCESS),
        ),
    }
}

/// Where a list answer's items go.
enum List<'k> {
    /// A JSON list under this key of `arguments` (`"leases": [ … ]`).
    Named(&'k str),
    /// The `arguments` map itself, one key per item (`statistic-get-all`).
    Arguments,
}

/// How a list answer ends after `arguments`.
enum Outcome<'t> {
    /// `"result": r, "text": "…"`.
    Text(u16, core::fmt::Arguments<'t>),
    /// `"result": r` only (Kea's statistics answers have no text).
    ResultOnly(u16),
}

/// Kea's result for a list: 0 with items, 3 (empty) without.
fn found_or_empty(count: u64) -> u16 {
    if count > 0 {
        RESULT_SUCCESS
    } else {
        RESULT_EMPTY
    }
}

/// The resumable skeleton every list answer shares (leases, lease pages, subnets, hosts,
/// statistics): `{ "arguments": { <head> "<key>": [ <items> ] <tail> }, <outcome> }`.
/// A long list spans several render chunks: on a resumed chunk ([`JsonOut::resume_item`])
/// the opening and `head` are not written again and `items` gets the index of the item
/// the previous chunk stopped at; on the first chunk it gets `first`. `items` marks each
/// item with [`JsonOut::item`] (its index) so that the next chunk can resume there.
#[allow(clippy::too_many_arguments)] // each part of the skeleton is one argument
fn paged_list(
    w: &mut JsonOut<'_>,
    list: List<'_>,
    first: usize,
    head: impl FnOnce(&mut JsonOut<'_>) -> WriteResult,
    items: impl FnOnce(&mut JsonOut<'_>, usize) -> WriteResult,
    tail: impl FnOnce(&mut JsonOut<'_>) -> WriteResult,
    outcome: Outcome<'_>,
) -> WriteResult {
    w.begin_object()?;
    let start = match w.resume_item() {
        Some(i) => i as usize,
        None => {
            w.key("arguments")?;
            w.begin_object()?;
            head(w)?;
            if let List::Named(key) = list {
                w.key(key)?;
                w.begin_array()?;
            }
            first
        }
    };
    items(w, start)?;
    if let List::Named(_) = list {
        w.end_array()?;
    }
    tail(w)?;
    w.end_object()?;
    match outcome {
        Outcome::Text(result, text) => result_text(w, result, text),
        Outcome::ResultOnly(result) => {
            w.field_u64("result", u64::from(result))?;
            w.end_object()
        }
    }
}

fn hosts_matching(config: &Config<'_>, subnet: Option<u32>, from: usize, to: usize) -> usize {
    config
        .reservations
        .get(from..to)
        .unwrap_or(&[])
        .iter()
        .filter(|r| subnet.is_none_or(|id| id == r.subnet_id))
        .count()
}

fn brief(w: &mut JsonOut<'_>, id: u32, prefix: crate::config::Ipv4Prefix) -> WriteResult {
    w.begin_object()?;
    w.field_u64("id", u64::from(id))?;
    w.key("subnet")?;
    w.string_fmt(format_args!("{}", PrefixText(prefix)))?;
    w.end_object()
}

/// `"name": [ [ value, "YYYY-MM-DD HH:MM:SS.ffffff" ], … ]`, the kept samples newest
/// first.
fn write_stat(w: &mut JsonOut<'_>, view: &View<'_, '_, '_>, name: StatName) -> WriteResult {
    let mut key: heapless::String<96> = heapless::String::new();
    let _ = core::fmt::write(&mut key, format_args!("{name}"));
    w.key(&key)?;
    w.begin_array()?;
    for s in view.stats.samples(name) {
        w.begin_array()?;
        w.i64(s.value)?;
        let mut ts: heapless::String<40> = heapless::String::new();
        let _ = format_timestamp(s.at, view.info.utc_offset, &mut ts);
        w.string(&ts)?;
        w.end_array()?;
    }
    w.end_array()
}

/// A host object (kea-control-api.md §5): keys sorted, the identifier under its type's
/// name, `option-data` copied from the reservation's text in the config.
fn write_host(
    w: &mut JsonOut<'_>,
    view: &View<'_, '_, '_>,
    texts: &mut edit::HostTexts<'_>,
    index: usize,
    r: &Reservation,
    with_subnet_id: bool,
) -> WriteResult {
    use crate::config::IdentifierType as T;
    let config = view.config;
    let ident = |w: &mut JsonOut<'_>, here: T| -> WriteResult {
        if r.identifier_type == here {
            w.key(here.keyword())?;
            w.hex(config.bytes(r.identifier))?;
        }
        Ok(())
    };
    w.begin_object()?;
    w.field_str("boot-file-name", config.str(r.boot_file_name))?;
    ident(w, T::CircuitId)?;
    w.key("client-classes")?;
    w.begin_array()?;
    for name in config.name_list(r.client_classes) {
        w.string(name)?;
    }
    w.end_array()?;
    ident(w, T::ClientId)?;
    ident(w, T::Duid)?;
    ident(w, T::FlexId)?;
    w.field_str("hostname", config.str(r.hostname))?;
    ident(w, T::HwAddress)?;
    w.key("ip-address")?;
    w.ipv4(r.address.unwrap_or(core::net::Ipv4Addr::UNSPECIFIED))?;
    w.key("next-server")?;
    w.ipv4(r.next_server.unwrap_or(core::net::Ipv4Addr::UNSPECIFIED))?;
    w.key("option-data")?;
    match texts.reservation(config, index) {
        Some(node) => match node.get("option-data") {
            Some(v @ Value::List(_)) => copy_value(w, v)?,
            _ => {
                w.begin_array()?;
                w.end_array()?
            }
        },
        None => {
            w.begin_array()?;
            w.end_array()?
        }
    }
    w.field_str("server-hostname", config.str(r.server_hostname))?;
    if with_subnet_id {
        w.field_u64("subnet-id", u64::from(r.subnet_id))?;
    }
    if !r.user_context.is_empty() {
        w.key("user-context")?;
        w.raw(config.str(r.user_context))?;
    }
    w.end_object()
}

/// Re-emits a JSON value in Kea's layout (comments and trailing commas gone, strings kept
/// as escaped in the input).
pub(crate) fn copy_value(w: &mut JsonOut<'_>, v: Value<'_>) -> WriteResult {
    match v {
        Value::Str(s) => w.string_escaped(s.0),
        Value::Int(i) => w.i64(i),
        Value::Float(f) => w.f64(f),
        Value::Bool(b) => w.bool(b),
        Value::Null => w.null(),
        Value::Map(n) => {
            w.begin_object()?;
            for (k, v, _) in n.entries() {
                w.key_escaped(k.0)?;
                copy_value(w, v)?;
            }
            w.end_object()
        }
        Value::List(n) => {
            w.begin_array()?;
            for (v, _) in n.items() {
                copy_value(w, v)?;
            }
            w.end_array()
        }
    }
}

/// What `config-get` shows instead of a secret.
pub const REDACTED: &str = "*****";

/// [`copy_value`] with secrets hidden, for `config-get` (issue 5: "config-get (passwords
/// redacted)"): the string value of every key ending in `password` or `secret` at any depth
/// (the control socket's `authentication.clients[].password`, a database `password`)
/// becomes `"*****"`, the rule and mark of Kea's own `redactConfig` (which Kea 2.2 applies
/// to logged configurations, not yet to `config-get`). `password-file` and `user` stay: a
/// path and a name are no secrets. `config-write` writes the unredacted text.
pub(crate) fn copy_value_redacted(w: &mut JsonOut<'_>, v: Value<'_>) -> WriteResult {
    match v {
        Value::Map(n) => {
            w.begin_object()?;
            for (k, v, _) in n.entries() {
                w.key_escaped(k.0)?;
                let secret = k.0.ends_with("password") || k.0.ends_with("secret");
                match v {
                    Value::Str(_) if secret => w.string(REDACTED)?,
                    other => copy_value_redacted(w, other)?,
                }
            }
            w.end_object()
        }
        Value::List(n) => {
            w.begin_array()?;
            for (v, _) in n.items() {
                copy_value_redacted(w, v)?;
            }
            w.end_array()
        }
        other => copy_value(w, other),
    }
}

/// A value in Kea's compact form (`{ "k": "v" }`, as the lease file stores user contexts),
/// or `None` if it does not fit `buf`.
pub(crate) fn compact<'b>(v: Value<'_>, buf: &'b mut [u8]) -> Option<&'b str> {
    render_all(buf, |w| copy_value(w, v)).ok()
}

/// Parses `text` (whole) and re-emits it compact; for tests and callers holding raw JSON.
pub fn compact_text<'b>(text: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    let v = parse_document(text).ok()?;
    compact(v, buf)
}
