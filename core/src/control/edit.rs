//! Config text edits for the commands the daemon carries out (`subnet4-add/update/del`,
//! `reservation-add/del`) and the file `config-write` produces.
//!
//! Kea changes its in-memory config and loses the change unless `config-write` follows
//! (the seed's pain point). wren edits the *text* of the running config instead: the new
//! text goes through the normal parser ([`crate::config::measure`] / [`crate::config::parse`])
//! before it replaces the old one, so a bad pool such as the seed's
//! `"192.168.100.20 - 192.168.100.250.254"` is refused with the parser's own message
//! (line, column, JSON path), and `config-write` writes exactly what is running.
//!
//! Every function writes the new text into a caller buffer and returns its length; the
//! input text is never modified. A buffer of `text.len() + inserted.len() + 32` always
//! suffices for the splices.

use core::ops::Range;

use super::json_in::{parse_document, Items, Node, SyntaxError, Value};
use crate::config::json::{Lexer, TokenKind};
use crate::config::Config;

/// Why an edit could not be made.
#[derive(Clone, Debug, PartialEq)]
pub enum EditError {
    /// The config text (or the inserted JSON) is not JSON.
    Syntax(SyntaxError),
    /// The config's top level is not a map.
    NotAMap,
    /// No subnet with this id in `subnet4` (top level or in a shared network).
    SubnetNotFound(u32),
    /// No reservation at this position.
    ReservationNotFound,
    /// The output buffer is too small.
    BufferFull,
}

impl core::fmt::Display for EditError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EditError::Syntax(e) => write!(f, "{e}"),
            EditError::NotAMap => f.write_str("the configuration is not a JSON map"),
            EditError::SubnetNotFound(id) => write!(f, "no IPv4 subnet with id {id} found"),
            EditError::ReservationNotFound => f.write_str("Host not deleted (not found)."),
            EditError::BufferFull => f.write_str("output buffer too small"),
        }
    }
}

impl From<SyntaxError> for EditError {
    fn from(e: SyntaxError) -> Self {
        EditError::Syntax(e)
    }
}

/// The `Dhcp4` map of a config text (`{"Dhcp4": {…}}`, or the bare map, which the config
/// parser also accepts).
pub fn dhcp4_map(text: &str) -> Result<Node<'_>, EditError> {
    let Value::Map(root) = parse_document(text)? else {
        return Err(EditError::NotAMap);
    };
    match root.get("Dhcp4") {
        Some(Value::Map(m)) => Ok(m),
        Some(_) => Err(EditError::NotAMap),
        None => Ok(root),
    }
}

/// A subnet found in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoundSubnet<'t> {
    /// The subnet's map.
    pub node: Node<'t>,
    /// The `subnet4` list holding it.
    pub list: Node<'t>,
}

/// Every subnet map of a `Dhcp4` map in text order: the top-level `subnet4` list, then the
/// `subnet4` lists of the shared networks. Yields (the subnet map, the list holding it).
#[derive(Clone, Debug)]
pub struct AllSubnets<'t> {
    top: Option<(Node<'t>, Items<'t>)>,
    networks: Option<Items<'t>>,
    inner: Option<(Node<'t>, Items<'t>)>,
}

impl<'t> AllSubnets<'t> {
    /// The subnets of `dhcp4`.
    pub fn new(dhcp4: Node<'t>) -> Self {
        let list = |v| match v {
            Some(Value::List(l)) => Some(l),
            _ => None,
        };
        AllSubnets {
            top: list(dhcp4.get("subnet4")).map(|l| (l, l.items())),
            networks: list(dhcp4.get("shared-networks")).map(|l| l.items()),
            inner: None,
        }
    }
}

impl<'t> Iterator for AllSubnets<'t> {
    type Item = FoundSubnet<'t>;

    fn next(&mut self) -> Option<FoundSubnet<'t>> {
        let take = |slot: &mut Option<(Node<'t>, Items<'t>)>| {
            let (list, items) = slot.as_mut()?;
            let list = *list;
            items.find_map(|(v, _)| match v {
                Value::Map(node) => Some(FoundSubnet { node, list }),
                _ => None,
            })
        };
        if let Some(found) = take(&mut self.top) {
            return Some(found);
        }
        self.top = None;
        loop {
            if let Some(found) = take(&mut self.inner) {
                return Some(found);
            }
            let network = self.networks.as_mut()?.next()?;
            self.inner = match network.0 {
                Value::Map(m) => match m.get("subnet4") {
                    Some(Value::List(l)) => Some((l, l.items())),
                    _ => None,
                },
                _ => None,
            };
        }
    }
}

fn has_id(node: &Node<'_>, id: u32) -> bool {
    node.get("id") == Some(Value::Int(i64::from(id)))
}

/// The subnet with `"id": id`.
pub fn find_subnet(text: &str, id: u32) -> Result<Option<FoundSubnet<'_>>, EditError> {
    let dhcp4 = dhcp4_map(text)?;
    Ok(AllSubnets::new(dhcp4).find(|f| has_id(&f.node, id)))
}

/// The map of reservation `index` of `config.reservations` in the config text (the parser
/// stores each subnet's and the global reservations in text order).
pub fn reservation_node<'t>(text: &'t str, config: &Config<'_>, index: usize) -> Option<Node<'t>> {
    HostTexts::new(text).reservation(config, index)
}

/// Finds reservation maps in the config text for a run of hosts: consecutive hosts of one
/// subnet cost one step each, and the next subnet is searched from the last one found, so
/// a whole `reservation-get-all` / `-get-page` reads the text about once.
#[derive(Clone, Debug)]
pub struct HostTexts<'t> {
    dhcp4: Option<Node<'t>>,
    subnets: Option<AllSubnets<'t>>,
    /// (subnet id, next model index, the remaining items of its reservations list).
    current: Option<(u32, usize, Items<'t>)>,
}

impl<'t> HostTexts<'t> {
    /// A finder over `text` (the running config's text).
    pub fn new(text: &'t str) -> Self {
        let dhcp4 = dhcp4_map(text).ok();
        HostTexts {
            dhcp4,
            subnets: dhcp4.map(AllSubnets::new),
            current: None,
        }
    }

    fn subnet_map(&mut self, id: u32) -> Option<Node<'t>> {
        let dhcp4 = self.dhcp4?;
        // Forward from the last subnet found, then once from the start.
        if let Some(found) = self.subnets.as_mut()?.find(|f| has_id(&f.node, id)) {
            return Some(found.node);
        }
        let mut fresh = AllSubnets::new(dhcp4);
        let found = fresh.find(|f| has_id(&f.node, id))?;
        self.subnets = Some(fresh);
        Some(found.node)
    }

    /// The map of reservation `index` of `config.reservations`.
    pub fn reservation(&mut self, config: &Config<'_>, index: usize) -> Option<Node<'t>> {
        let r = config.reservations.get(index)?;
        let reuse =
            matches!(&self.current, Some((id, next, _)) if *id == r.subnet_id && *next == index);
        if !reuse {
            let (range, holder) = if r.subnet_id == 0 {
                (config.globals.reservations, self.dhcp4?)
            } else {
                let s = config.subnet_by_id(r.subnet_id)?;
                (s.reservations, self.subnet_map(r.subnet_id)?)
            };
            let position = index.checked_sub(range.start as usize)?;
            let Some(Value::List(list)) = holder.get("reservations") else {
                return None;
            };
            let mut items = list.items();
            for _ in 0..position {
                items.next()?;
            }
            self.current = Some((r.subnet_id, index, items));
        }
        let (_, next, items) = self.current.as_mut()?;
        *next += 1;
        match items.next()? {
            (Value::Map(m), _) => Some(m),
            _ => None,
        }
    }
}

/// Writes `parts` into `out` in order.
struct Out<'o> {
    buf: &'o mut [u8],
    len: usize,
}

impl Out<'_> {
    fn push(&mut self, s: &str) -> Result<(), EditError> {
        let end = self.len.checked_add(s.len()).ok_or(EditError::BufferFull)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(EditError::BufferFull)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `text` with `range` replaced by the concatenation of `insert`.
fn splice(
    text: &str,
    range: Range<usize>,
    insert: &[&str],
    out: &mut [u8],
) -> Result<usize, EditError> {
    let mut o = Out { buf: out, len: 0 };
    o.push(text.get(..range.start).ok_or(EditError::BufferFull)?)?;
    for part in insert {
        o.push(part)?;
    }
    o.push(text.get(range.end..).ok_or(EditError::BufferFull)?)?;
    Ok(o.len)
}

/// Appends `item` to a list.
fn append(text: &str, list: Node<'_>, item: &str, out: &mut [u8]) -> Result<usize, EditError> {
    match list.items().last() {
        Some((_, r)) => splice(text, r.end..r.end, &[", ", item], out),
        None => {
            let at = list.range().start + 1;
            splice(text, at..at, &[" ", item, " "], out)
        }
    }
}

/// Adds `"key": [ item ]` at the start of a map.
fn add_key(
    text: &str,
    map: Node<'_>,
    key: &str,
    item: &str,
    out: &mut [u8],
) -> Result<usize, EditError> {
    let at = map.range().start + 1;
    let comma = if map.entries().next().is_some() {
        ","
    } else {
        ""
    };
    splice(
        text,
        at..at,
        &[" \"", key, "\": [ ", item, " ]", comma],
        out,
    )
}

/// Removes item `position` of a list (with one neighbouring comma).
fn remove_item(
    text: &str,
    list: Node<'_>,
    position: usize,
    out: &mut [u8],
) -> Result<usize, EditError> {
    let mut prev_end = None;
    let mut items = list.items();
    for _ in 0..position {
        let (_, r) = items.next().ok_or(EditError::ReservationNotFound)?;
        prev_end = Some(r.end);
    }
    let (_, r) = items.next().ok_or(EditError::ReservationNotFound)?;
    let range = match (items.next(), prev_end) {
        (Some((_, next)), _) => r.start..next.start,
        (None, Some(end)) => end..r.end,
        (None, None) => r,
    };
    splice(text, range, &[], out)
}

/// `subnet4-add`: appends `subnet` (a JSON map, as sent) to the top-level `subnet4` list,
/// creating the list if the config has none.
pub fn add_subnet(text: &str, subnet: &str, out: &mut [u8]) -> Result<usize, EditError> {
    let dhcp4 = dhcp4_map(text)?;
    match dhcp4.get("subnet4") {
        Some(Value::List(l)) => append(text, l, subnet, out),
        _ => add_key(text, dhcp4, "subnet4", subnet, out),
    }
}

/// `subnet4-update`: replaces the subnet with `"id": id` by `subnet`.
pub fn replace_subnet(
    text: &str,
    id: u32,
    subnet: &str,
    out: &mut [u8],
) -> Result<usize, EditError> {
    let found = find_subnet(text, id)?.ok_or(EditError::SubnetNotFound(id))?;
    splice(text, found.node.range(), &[subnet], out)
}

/// `subnet4-del`: removes the subnet with `"id": id`.
pub fn remove_subnet(text: &str, id: u32, out: &mut [u8]) -> Result<usize, EditError> {
    let found = find_subnet(text, id)?.ok_or(EditError::SubnetNotFound(id))?;
    let position = found
        .list
        .items()
        .position(|(_, r)| r == found.node.range())
        .ok_or(EditError::SubnetNotFound(id))?;
    remove_item(text, found.list, position, out)
}

fn reservations_holder(text: &str, subnet_id: u32) -> Result<Node<'_>, EditError> {
    if subnet_id == 0 {
        dhcp4_map(text)
    } else {
        Ok(find_subnet(text, subnet_id)?
            .ok_or(EditError::SubnetNotFound(subnet_id))?
            .node)
    }
}

/// `reservation-add`: appends the reservation to subnet `subnet_id`'s `reservations` (0:
/// the global list). `reservation` is the command's map; its `subnet-id` entry is dropped
/// (the config grammar has none inside reservations).
pub fn add_reservation(
    text: &str,
    subnet_id: u32,
    reservation: Node<'_>,
    out: &mut [u8],
) -> Result<usize, EditError> {
    // Rebuild the map without `subnet-id` into the tail of `out`, then splice from there.
    let mut item = heapless::String::<4096>::new();
    let mut first = true;
    let _ = item.push_str("{ ");
    for (k, _, r) in reservation.entries() {
        if k.eq_str("subnet-id") {
            continue;
        }
        if !first {
            item.push_str(", ").map_err(|_| EditError::BufferFull)?;
        }
        first = false;
        let entry = reservation_text(reservation, r)?;
        item.push_str(entry).map_err(|_| EditError::BufferFull)?;
    }
    item.push_str(" }").map_err(|_| EditError::BufferFull)?;
    let holder = reservations_holder(text, subnet_id)?;
    match holder.get("reservations") {
        Some(Value::List(l)) => append(text, l, &item, out),
        _ => add_key(text, holder, "reservations", &item, out),
    }
}

/// The text of an entry range of the reservation's document.
fn reservation_text<'t>(node: Node<'t>, r: Range<usize>) -> Result<&'t str, EditError> {
    let start = node.range().start;
    node.text()
        .get(r.start.saturating_sub(start)..r.end.saturating_sub(start))
        .ok_or(EditError::ReservationNotFound)
}

/// `reservation-del`: removes reservation `position` of subnet `subnet_id` (0: global).
pub fn remove_reservation(
    text: &str,
    subnet_id: u32,
    position: usize,
    out: &mut [u8],
) -> Result<usize, EditError> {
    let holder = reservations_holder(text, subnet_id)?;
    let Some(Value::List(l)) = holder.get("reservations") else {
        return Err(EditError::ReservationNotFound);
    };
    remove_item(text, l, position, out)
}

/// `config-write`'s file: the config as `{ "Dhcp4": … }`, pretty-printed with two-space
/// indentation (comments and trailing commas are gone, as in Kea's output).
pub fn pretty(text: &str, out: &mut [u8]) -> Result<usize, EditError> {
    let dhcp4 = dhcp4_map(text)?;
    let mut o = Out { buf: out, len: 0 };
    o.push("{\n  \"Dhcp4\": ")?;
    let mut lexer = Lexer::new(dhcp4.text());
    let mut depth = 1usize;
    let indent = |o: &mut Out<'_>, depth: usize| -> Result<(), EditError> {
        o.push("\n")?;
        for _ in 0..depth {
            o.push("  ")?;
        }
        Ok(())
    };
    let mut pending_comma = false;
    let mut just_opened = false;
    loop {
        let t = lexer
            .next_token()
            .map_err(|(pos, kind)| EditError::Syntax(SyntaxError { pos, kind }))?;
        match t.kind {
            TokenKind::End => break,
            TokenKind::Comma => {
                pending_comma = true;
                continue;
            }
            TokenKind::EndMap | TokenKind::EndList => {
                // A trailing comma before a closing bracket is dropped.
                pending_comma = false;
                depth = depth.saturating_sub(1);
                if just_opened {
                    o.push(" ")?;
                } else {
                    indent(&mut o, depth)?;
                }
                o.push(t.text)?;
                just_opened = false;
                continue;
            }
            _ => {}
        }
        if pending_comma {
            o.push(",")?;
            indent(&mut o, depth)?;
            pending_comma = false;
        } else if just_opened {
            indent(&mut o, depth)?;
        }
        just_opened = false;
        match t.kind {
            TokenKind::BeginMap | TokenKind::BeginList => {
                o.push(t.text)?;
                depth += 1;
                just_opened = true;
            }
            TokenKind::Colon => o.push(": ")?,
            TokenKind::String => {
                o.push("\"")?;
                o.push(t.text)?;
                o.push("\"")?;
            }
            _ => o.push(t.text)?,
        }
    }
    o.push("\n}\n")?;
    Ok(o.len)
}
