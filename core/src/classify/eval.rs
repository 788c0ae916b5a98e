//! Evaluation of a compiled expression against one packet (kea-expressions.md §1, §4).
//!
//! A fixed value stack ([`MAX_STACK_DEPTH`] entries, on the call stack) holds byte strings
//! that are either borrowed (packet bytes, literals), booleans, or ranges of the caller's
//! scratch buffer (computed values: concatenations, integers, text). Scratch is used as a
//! stack too: when an op consumes scratch values its result is moved down over them, so
//! scratch use is bounded by the bytes live at once. Running out of scratch is an
//! [`EvalError`], never a panic; the class then does not match (Kea logs `EVAL_RESULT` at
//! ERROR and continues with the packet).

use core::fmt::{self, Write as _};
use core::net::{Ipv4Addr, Ipv6Addr};

use super::program::{
    Builtin, Expr, ExprView, Op, OptionRead, Pkt4Field, PktField, VendorOption, MAX_STACK_DEPTH,
};
use crate::wire::message::Message;
use crate::wire::relay_agent::RelayAgentInfo;

/// A scratch size that fits every realistic test (two full 255-byte options rendered as
/// `hexstring` with a separator need ~1.5 KiB).
pub const RECOMMENDED_SCRATCH: usize = 2048;

/// The packet facts an expression may read.
#[derive(Clone, Copy, Debug)]
pub struct EvalContext<'p> {
    /// The parsed query (`option[…]`, `pkt4.…`, `relay4[…]`, `vendor…`).
    pub message: &'p Message<'p>,
    /// `pkt.iface`: the receiving interface's name.
    pub interface: &'p [u8],
    /// `pkt.src`: IPv4 source address of the datagram.
    pub source: Ipv4Addr,
    /// `pkt.dst`: IPv4 destination address of the datagram.
    pub destination: Ipv4Addr,
    /// `pkt.len`: length of the DHCP payload (UDP payload) in bytes.
    pub length: u32,
}

/// The classes the packet is in so far, as `member(…)` sees them.
pub trait ClassQuery {
    /// Whether the packet is in the configured class with this index.
    fn has_class(&self, index: u32) -> bool;
    /// `Some(true)` after a host reservation was found (KNOWN), `Some(false)` after the
    /// lookup found none (UNKNOWN), `None` before the lookup (neither).
    fn known(&self) -> Option<bool>;
    /// Hook-assigned classes (`HA_…`, `AFTER_…`, `EXTERNAL_…`), by name.
    fn has_named(&self, _name: &[u8]) -> bool {
        false
    }
}

/// Why an evaluation failed (the class then does not match).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// The caller's scratch buffer is too small for the values computed.
    ScratchFull,
    /// The program needs more than [`MAX_STACK_DEPTH`] values (cannot happen for programs
    /// from [`super::compile`]).
    StackOverflow,
    /// An op found too few operands (cannot happen for programs from [`super::compile`]).
    StackUnderflow,
    /// `and`/`or`/`not`/`ifelse` got an operand that is not `true`/`false`.
    NotBoolean,
    /// The whole test did not produce exactly one boolean.
    ResultNotBoolean,
    /// `addrtotext` of a value that is neither 4 nor 16 bytes long.
    BadAddressLength(usize),
    /// `(u)intNtotext` of a value of the wrong length.
    BadIntegerLength {
        /// Bytes required.
        expected: u8,
        /// Bytes given.
        got: usize,
    },
    /// A `substring`/`split` number outside Kea's `int` range.
    NumberOutOfRange,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::ScratchFull => f.write_str("scratch buffer full"),
            EvalError::StackOverflow => f.write_str("value stack overflow"),
            EvalError::StackUnderflow => f.write_str("value stack underflow"),
            EvalError::NotBoolean => f.write_str("operand is not 'true' or 'false'"),
            EvalError::ResultNotBoolean => f.write_str("expression did not produce a boolean"),
            EvalError::BadAddressLength(n) => {
                write!(
                    f,
                    "addrtotext: {n} bytes is neither an IPv4 nor an IPv6 address"
                )
            }
            EvalError::BadIntegerLength { expected, got } => {
                write!(f, "integer to text: expected {expected} bytes, got {got}")
            }
            EvalError::NumberOutOfRange => f.write_str("number out of range for an int"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Value<'a> {
    Bytes(&'a [u8]),
    Bool(bool),
    Scratch { start: usize, len: usize },
}

const TRUE: &[u8] = b"true";
const FALSE: &[u8] = b"false";

fn resolve<'x, 'a: 'x>(value: Value<'a>, live: &'x [u8]) -> &'x [u8] {
    match value {
        Value::Bytes(b) => b,
        Value::Bool(true) => TRUE,
        Value::Bool(false) => FALSE,
        Value::Scratch { start, len } => live.get(start..start.saturating_add(len)).unwrap_or(&[]),
    }
}

/// The part `offset..offset + len` of `value` (clamped), without copying.
fn sub_value(value: Value<'_>, offset: usize, len: usize) -> Value<'_> {
    match value {
        Value::Bytes(b) => {
            let end = offset.saturating_add(len).min(b.len());
            Value::Bytes(b.get(offset.min(end)..end).unwrap_or(&[]))
        }
        Value::Bool(b) => sub_value(Value::Bytes(if b { TRUE } else { FALSE }), offset, len),
        Value::Scratch { start, len: total } => {
            let offset = offset.min(total);
            Value::Scratch {
                start: start + offset,
                len: len.min(total - offset),
            }
        }
    }
}

fn as_bool(value: Value<'_>, live: &[u8]) -> Result<bool, EvalError> {
    match value {
        Value::Bool(b) => Ok(b),
        other => match resolve(other, live) {
            b"true" => Ok(true),
            b"false" => Ok(false),
            _ => Err(EvalError::NotBoolean),
        },
    }
}

/// Appends into a free region of scratch.
struct Writer<'w> {
    buf: &'w mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EvalError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(EvalError::ScratchFull)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(EvalError::ScratchFull)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

struct Machine<'a, 'b> {
    stack: [Value<'a>; MAX_STACK_DEPTH],
    depth: usize,
    scratch: &'b mut [u8],
}

impl<'a> Machine<'a, '_> {
    /// End of the highest scratch value still on the stack: everything above is free.
    fn scratch_top(&self) -> usize {
        self.stack
            .get(..self.depth)
            .unwrap_or(&[])
            .iter()
            .map(|v| match v {
                Value::Scratch { start, len } => start + len,
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    fn push(&mut self, value: Value<'a>) -> Result<(), EvalError> {
        let slot = self
            .stack
            .get_mut(self.depth)
            .ok_or(EvalError::StackOverflow)?;
        *slot = value;
        self.depth += 1;
        Ok(())
    }

    fn pop(&mut self) -> Result<Value<'a>, EvalError> {
        self.depth = self.depth.checked_sub(1).ok_or(EvalError::StackUnderflow)?;
        self.stack
            .get(self.depth)
            .copied()
            .ok_or(EvalError::StackUnderflow)
    }

    /// Pop `N` operands, let `build` write a new value from them into free scratch, and
    /// push it (moved down over the consumed scratch operands).
    fn compute<const N: usize>(
        &mut self,
        build: impl FnOnce(&[&[u8]; N], &mut Writer<'_>) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let top = self.scratch_top();
        let mut operands = [Value::Bytes(&[]); N];
        for slot in operands.iter_mut().rev() {
            *slot = self.pop()?;
        }
        let (live, free) = self.scratch.split_at_mut(top.min(self.scratch.len()));
        let bytes: [&[u8]; N] =
            core::array::from_fn(|i| operands.get(i).map_or(&[][..], |v| resolve(*v, live)));
        let mut writer = Writer { buf: free, len: 0 };
        build(&bytes, &mut writer)?;
        let len = writer.len;
        let floor = self.scratch_top();
        let from = top.min(self.scratch.len());
        if floor != from {
            self.scratch.copy_within(from..from + len, floor);
        }
        self.push(Value::Scratch { start: floor, len })
    }

    /// Push computed bytes (integers, rendered text) without operands.
    fn push_written(
        &mut self,
        build: impl FnOnce(&mut Writer<'_>) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        self.compute::<0>(|_, w| build(w))
    }

    fn live(&self) -> &[u8] {
        &self.scratch[..]
    }
}

/// Evaluate `expr` (compiled into `view`) for the packet in `ctx`, with the packet's
/// classes so far in `classes`. `scratch` holds computed values
/// ([`RECOMMENDED_SCRATCH`] bytes suffice for realistic tests).
pub fn evaluate<'a>(
    view: ExprView<'a>,
    expr: &Expr,
    ctx: &EvalContext<'a>,
    classes: &dyn ClassQuery,
    scratch: &mut [u8],
) -> Result<bool, EvalError> {
    let mut m = Machine {
        stack: [Value::Bool(false); MAX_STACK_DEPTH],
        depth: 0,
        scratch,
    };
    let message = ctx.message;
    for op in view.ops_of(expr) {
        match *op {
            Op::Literal { start, len } => m.push(Value::Bytes(view.literal(start, len)))?,
            Op::Option {
                code,
                read,
                string_typed,
            } => {
                let found = if string_typed {
                    message.string_option(code)
                } else {
                    message.option(code)
                };
                match (read, found) {
                    (OptionRead::Text, Some(text)) if string_typed => m.push(Value::Bytes(text))?,
                    _ => push_found(&mut m, code, found, read)?,
                }
            }
            Op::SubOption { code, sub, read } => {
                let found = message
                    .option(code)
                    .and_then(|parent| RelayAgentInfo::new(parent).get(sub));
                push_found(&mut m, sub, found, read)?;
            }
            Op::Pkt4(field) => pkt4(&mut m, message, field)?,
            Op::Pkt(field) => match field {
                PktField::Iface => m.push(Value::Bytes(ctx.interface))?,
                PktField::Src => m.push_written(|w| w.put(&ctx.source.octets()))?,
                PktField::Dst => m.push_written(|w| w.put(&ctx.destination.octets()))?,
                PktField::Len => m.push_written(|w| w.put(&ctx.length.to_be_bytes()))?,
            },
            Op::Substring { start, len } => {
                let value = m.pop()?;
                let total = resolve(value, m.live()).len();
                let range = substring_range(total, start, len)?;
                m.push(match range {
                    Some((offset, len)) => sub_value(value, offset, len),
                    None => Value::Bytes(&[]),
                })?;
            }
            Op::Split { field } => {
                let delims = m.pop()?;
                let value = m.pop()?;
                let live = m.live();
                let range = split_range(resolve(value, live), resolve(delims, live), field)?;
                let result = match range {
                    Some((offset, len)) => sub_value(value, offset, len),
                    None => Value::Bytes(&[]),
                };
                m.push(result)?;
            }
            Op::Concat => m.compute::<2>(|[a, b], w| {
                w.put(a)?;
                w.put(b)
            })?,
            Op::IfElse => {
                let otherwise = m.pop()?;
                let then = m.pop()?;
                let condition = m.pop()?;
                let chosen = if as_bool(condition, m.live())? {
                    then
                } else {
                    otherwise
                };
                m.push(chosen)?;
            }
            Op::HexString => m.compute::<2>(|[value, separator], w| {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                for (i, &b) in value.iter().enumerate() {
                    if i > 0 {
                        w.put(separator)?;
                    }
                    let hi = DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                    let lo = DIGITS.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
                    w.put(&[hi, lo])?;
                }
                Ok(())
            })?,
            Op::AddrToText => m.compute::<1>(|[value], w| {
                if let Ok(v4) = <[u8; 4]>::try_from(*value) {
                    write!(w, "{}", Ipv4Addr::from(v4)).map_err(|_| EvalError::ScratchFull)
                } else if let Ok(v6) = <[u8; 16]>::try_from(*value) {
                    write!(w, "{}", Ipv6Addr::from(v6)).map_err(|_| EvalError::ScratchFull)
                } else if value.is_empty() {
                    Ok(())
                } else {
                    Err(EvalError::BadAddressLength(value.len()))
                }
            })?,
            Op::IntToText { width, signed } => {
                m.compute::<1>(|[value], w| int_to_text(w, value, width, signed))?
            }
            Op::Equal => {
                let b = m.pop()?;
                let a = m.pop()?;
                let live = m.live();
                let equal = resolve(a, live) == resolve(b, live);
                m.push(Value::Bool(equal))?;
            }
            Op::Not => {
                let a = m.pop()?;
                let a = as_bool(a, m.live())?;
                m.push(Value::Bool(!a))?;
            }
            Op::And | Op::Or => {
                let b = m.pop()?;
                let a = m.pop()?;
                let (a, b) = (as_bool(a, m.live())?, as_bool(b, m.live())?);
                m.push(Value::Bool(if *op == Op::And { a && b } else { a || b }))?;
            }
            Op::MemberClass(index) => m.push(Value::Bool(classes.has_class(index)))?,
            Op::MemberBuiltin(builtin) => m.push(Value::Bool(match builtin {
                Builtin::All => true,
                Builtin::Known => classes.known() == Some(true),
                Builtin::Unknown => classes.known() == Some(false),
                Builtin::Bootp => false,
            }))?,
            Op::MemberVendorClass { start, len } => {
                let wanted = view.literal(start, len);
                let is = message.vendor_class_identifier() == Some(wanted);
                m.push(Value::Bool(is))?;
            }
            Op::MemberNamed { start, len } => {
                m.push(Value::Bool(classes.has_named(view.literal(start, len))))?
            }
            Op::VendorExists { option, enterprise } => {
                let found = vendor_block(message, option, enterprise).is_some();
                m.push(Value::Bool(found))?;
            }
            Op::VendorEnterprise(option) => match vendor_block(message, option, 0) {
                Some((id, _)) => m.push_written(|w| w.put(&id.to_be_bytes()))?,
                None => m.push(Value::Bytes(&[]))?,
            },
            Op::VendorSubOption {
                enterprise,
                sub,
                read,
            } => {
                let found = vendor_block(message, VendorOption::Vivso, enterprise)
                    .and_then(|(_, data)| RelayAgentInfo::new(data).get(sub));
                push_found(&mut m, sub, found, read)?;
            }
            Op::VendorClassData { enterprise, index } => {
                let data = vendor_block(message, VendorOption::VendorClass, enterprise)
                    .and_then(|_| message.option(VendorOption::VendorClass.code()))
                    .and_then(|payload| vendor_class_tuple(payload, usize::from(index)))
                    .unwrap_or(&[]);
                m.push(Value::Bytes(data))?;
            }
        }
    }
    if m.depth != 1 {
        return Err(EvalError::ResultNotBoolean);
    }
    let result = m.pop()?;
    match result {
        Value::Bool(b) => Ok(b),
        _ => Err(EvalError::ResultNotBoolean),
    }
}

/// Push a (sub-)option found or not, read as `read`; `code` is the code the rendering of
/// `.text` shows (Kea's `TokenSubOption`: `toString()` of the sub-option).
fn push_found<'a>(
    m: &mut Machine<'a, '_>,
    code: u8,
    found: Option<&'a [u8]>,
    read: OptionRead,
) -> Result<(), EvalError> {
    match (read, found) {
        (OptionRead::Exists, _) => m.push(Value::Bool(found.is_some())),
        (OptionRead::Text, Some(data)) => m.push_written(|w| render_option(w, code, data)),
        (_, found) => m.push(Value::Bytes(found.unwrap_or(&[]))),
    }
}

fn pkt4<'a>(
    m: &mut Machine<'a, '_>,
    message: &Message<'a>,
    field: Pkt4Field,
) -> Result<(), EvalError> {
    let header = message.header();
    let int = |v: u32| v.to_be_bytes();
    let bytes: [u8; 4] = match field {
        Pkt4Field::Mac => return m.push(Value::Bytes(header.chaddr())),
        Pkt4Field::Hlen => int(u32::from(header.hlen())),
        Pkt4Field::Htype => int(u32::from(header.htype())),
        Pkt4Field::Ciaddr => header.ciaddr().octets(),
        Pkt4Field::Giaddr => header.giaddr().octets(),
        Pkt4Field::Yiaddr => header.yiaddr().octets(),
        Pkt4Field::Siaddr => header.siaddr().octets(),
        Pkt4Field::MsgType => int(u32::from(
            message
                .option(53)
                .and_then(|t| t.first().copied())
                .unwrap_or(0),
        )),
        Pkt4Field::TransId => int(header.xid()),
    };
    m.push_written(|w| w.put(&bytes))
}

/// Kea's `Option::toText(0)` for an option read with `.text` that is not a string:
/// `type=NNN, len=NNN: hh:hh:…`.
fn render_option(w: &mut Writer<'_>, code: u8, data: &[u8]) -> Result<(), EvalError> {
    write!(w, "type={code:03}, len={:03}: ", data.len()).map_err(|_| EvalError::ScratchFull)?;
    for (i, b) in data.iter().enumerate() {
        if i > 0 {
            w.put(b":")?;
        }
        write!(w, "{b:02x}").map_err(|_| EvalError::ScratchFull)?;
    }
    Ok(())
}

fn int_to_text(w: &mut Writer<'_>, value: &[u8], width: u8, signed: bool) -> Result<(), EvalError> {
    if value.is_empty() {
        return Ok(());
    }
    let wrong = EvalError::BadIntegerLength {
        expected: width,
        got: value.len(),
    };
    if value.len() != usize::from(width) {
        return Err(wrong);
    }
    let mut raw: u32 = 0;
    for &b in value {
        raw = (raw << 8) | u32::from(b);
    }
    let result = if signed {
        let v: i64 = match width {
            1 => i64::from(raw as u8 as i8),
            2 => i64::from(raw as u16 as i16),
            _ => i64::from(raw as i32),
        };
        write!(w, "{v}")
    } else {
        write!(w, "{raw}")
    };
    result.map_err(|_| EvalError::ScratchFull)
}

/// kea-expressions.md §4 `substring` steps 1–6; `None` is the empty string.
fn substring_range(
    total: usize,
    start: i64,
    len: Option<i64>,
) -> Result<Option<(usize, usize)>, EvalError> {
    // Kea converts both numbers with lexical_cast<int>.
    let int = |v: i64| {
        i32::try_from(v)
            .map(i64::from)
            .map_err(|_| EvalError::NumberOutOfRange)
    };
    let mut start = int(start)?;
    let len = len.map(int).transpose()?;
    if total == 0 {
        return Ok(None);
    }
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    let mut len = len.unwrap_or(total);
    if start < -total || start >= total {
        return Ok(None);
    }
    if start < 0 {
        start += total;
    }
    if len < 0 {
        len = -len;
        if len <= start {
            start -= len;
        } else {
            len = start;
            start = 0;
        }
    }
    let start = usize::try_from(start).unwrap_or(0);
    let len = usize::try_from(len).unwrap_or(0);
    Ok(Some((start, len)))
}

/// kea-expressions.md §4 `split`: field `field` (1-based) of `value` cut at any byte of
/// `delims`; `None` is the empty string.
fn split_range(
    value: &[u8],
    delims: &[u8],
    field: i64,
) -> Result<Option<(usize, usize)>, EvalError> {
    let field = i32::try_from(field).map_err(|_| EvalError::NumberOutOfRange)?;
    if value.is_empty() {
        return Ok(None);
    }
    if delims.is_empty() {
        return Ok(Some((0, value.len())));
    }
    let Some(wanted) = usize::try_from(field).ok().filter(|&f| f >= 1) else {
        return Ok(None);
    };
    let mut number = 1;
    let mut start = 0;
    for (i, b) in value.iter().enumerate() {
        if delims.contains(b) {
            if number == wanted {
                return Ok(Some((start, i - start)));
            }
            number += 1;
            start = i + 1;
        }
    }
    if number == wanted {
        return Ok(Some((start, value.len() - start)));
    }
    Ok(None)
}

/// The first enterprise block of option 124/125 (RFC 3925: enterprise-number (4),
/// data-len (1), data), if its enterprise is `enterprise` (0 = any). Kea 2.2 reads only
/// the first instance (`pkt->getOption(125)`), and for 124 only the first
/// enterprise-id.
fn vendor_block<'a>(
    message: &Message<'a>,
    option: VendorOption,
    enterprise: u32,
) -> Option<(u32, &'a [u8])> {
    let payload = message.option(option.code())?;
    let id = u32::from_be_bytes(payload.get(..4)?.try_into().ok()?);
    if enterprise != 0 && id != enterprise {
        return None;
    }
    let rest = payload.get(4..).unwrap_or(&[]);
    let data = match rest.split_first() {
        Some((&len, tail)) => tail.get(..usize::from(len)).unwrap_or(tail),
        None => &[],
    };
    Some((id, data))
}

/// The `index`-th data tuple of option 124, Kea's reading (`OptionVendorClass::unpack`
/// for DHCPv4): enterprise-id, then `(data-len, vendor-class-data)` tuples each preceded
/// by another enterprise-id — so tuple *i* is the *i*-th RFC 3925 block's data. Parsing
/// stops at the first truncated tuple.
fn vendor_class_tuple(payload: &[u8], index: usize) -> Option<&[u8]> {
    let mut rest = payload.get(4..)?;
    let mut i = 0;
    while let Some((&len, tail)) = rest.split_first() {
        let data = tail.get(..usize::from(len))?;
        if i == index {
            return Some(data);
        }
        // Skip this block's data and the next block's enterprise-id.
        rest = tail.get(usize::from(len) + 4..)?;
        i += 1;
    }
    None
}
