//! The compiled form of an expression: a postfix (RPN) sequence of small [`Op`]s in a
//! caller-provided op array, with literal bytes in a caller-provided arena.
//!
//! Kea compiles a test into a token vector evaluated on a value stack (`Expression` =
//! `vector<TokenPtr>`, `evaluate()` in `eval/evaluate.cc`); wren keeps that shape — every
//! operand is evaluated, there is no short-circuit (kea-expressions.md §4) — but stores it
//! as plain `Copy` data so a whole config's classes fit in two slices sized at load time.

use super::ParseError;

/// Which view of an option an op reads (`.hex`, `.text`, `.exists`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionRead {
    /// `.hex`: the payload (`toBinary()`); `''` when absent.
    Hex,
    /// `.text` (`toString()`): for an option defined as `string` its value; for any other
    /// option Kea's generic rendering `type=NNN, len=NNN: hh:hh:…` (`Option::toText`).
    /// kea-expressions.md §4 calls the latter "undefined, use `.hex`"; wren reproduces the
    /// binary-option form. `''` when absent.
    Text,
    /// `.exists`: `true` / `false`.
    Exists,
}

/// A field of the fixed DHCPv4 header (`pkt4.…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pkt4Field {
    /// `pkt4.mac`: chaddr, `hlen` bytes.
    Mac,
    /// `pkt4.hlen` as a 4-byte integer.
    Hlen,
    /// `pkt4.htype` as a 4-byte integer.
    Htype,
    /// `pkt4.ciaddr`, 4 bytes.
    Ciaddr,
    /// `pkt4.giaddr`, 4 bytes.
    Giaddr,
    /// `pkt4.yiaddr`, 4 bytes.
    Yiaddr,
    /// `pkt4.siaddr`, 4 bytes.
    Siaddr,
    /// `pkt4.msgtype`: option 53 as a 4-byte integer (0 when absent).
    MsgType,
    /// `pkt4.transid`: xid as a 4-byte integer.
    TransId,
}

/// A property of the received datagram (`pkt.…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PktField {
    /// `pkt.iface`: receiving interface name.
    Iface,
    /// `pkt.src`: IPv4 source, 4 bytes.
    Src,
    /// `pkt.dst`: IPv4 destination, 4 bytes.
    Dst,
    /// `pkt.len`: DHCP payload length as a 4-byte integer.
    Len,
}

/// The two vendor options the `vendor` / `vendor-class` tokens read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VendorOption {
    /// Option 125, V-I Vendor-Specific Information (RFC 3925 §4): `vendor[…]`.
    Vivso,
    /// Option 124, V-I Vendor Class (RFC 3925 §3): `vendor-class[…]`.
    VendorClass,
}

impl VendorOption {
    /// The option code.
    pub fn code(self) -> u8 {
        match self {
            VendorOption::Vivso => 125,
            VendorOption::VendorClass => 124,
        }
    }
}

/// Classes every packet can be tested for without a definition (kea-expressions.md §4
/// `member`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `ALL`: every packet.
    All,
    /// `KNOWN`: a host reservation was found.
    Known,
    /// `UNKNOWN`: the host lookup found none.
    Unknown,
    /// `BOOTP`: set only by Kea's BOOTP hook, which wren does not have: never a member.
    Bootp,
}

/// One step of a compiled expression. Operands are popped from the value stack, the
/// result is pushed; the comment gives (pops → pushes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Literal bytes `literals[start..start + len]` (0 → 1).
    Literal {
        /// Offset into the literal arena.
        start: u32,
        /// Length in bytes.
        len: u32,
    },
    /// `option[code].…` (0 → 1).
    Option {
        /// Option code.
        code: u8,
        /// Which view.
        read: OptionRead,
        /// The option is defined as `string` (standard table or global `option-def`):
        /// Kea unpacks it as `OptionString` — trailing NULs removed, and an empty or
        /// all-NUL one skipped as absent (kea-options.md §4.3) — for every view.
        string_typed: bool,
    },
    /// `option[code].option[sub].…` and `relay4[sub].…` (code 82) (0 → 1).
    SubOption {
        /// Parent option code.
        code: u8,
        /// Sub-option code.
        sub: u8,
        /// Which view (`.text` is the generic rendering, as Kea's `toString()`).
        read: OptionRead,
    },
    /// `pkt4.…` (0 → 1).
    Pkt4(Pkt4Field),
    /// `pkt.…` (0 → 1).
    Pkt(PktField),
    /// `substring(s, start, len)` with literal numbers; `len: None` is `all` (1 → 1).
    Substring {
        /// Start (negative counts from the end).
        start: i64,
        /// Length (negative counts backwards); `None` for `all`.
        len: Option<i64>,
    },
    /// `split(s, delims, field)` (2 → 1).
    Split {
        /// 1-based field number.
        field: i64,
    },
    /// `concat(a, b)` and `a + b` (2 → 1).
    Concat,
    /// `ifelse(c, a, b)` (3 → 1).
    IfElse,
    /// `hexstring(s, sep)` (2 → 1).
    HexString,
    /// `addrtotext(s)` (1 → 1).
    AddrToText,
    /// `(u)int{8,16,32}totext(s)` (1 → 1).
    IntToText {
        /// Bytes the operand must have: 1, 2 or 4.
        width: u8,
        /// `int…` (two's complement) rather than `uint…`.
        signed: bool,
    },
    /// `a == b` (2 → 1).
    Equal,
    /// `not b` (1 → 1).
    Not,
    /// `a and b` (2 → 1).
    And,
    /// `a or b` (2 → 1).
    Or,
    /// `member('X')`, X a configured class: index in config order (0 → 1).
    MemberClass(u32),
    /// `member('ALL' | 'KNOWN' | 'UNKNOWN' | 'BOOTP')` (0 → 1).
    MemberBuiltin(Builtin),
    /// `member('VENDOR_CLASS_<x>')`: literal `x` compared with option 60 (0 → 1).
    MemberVendorClass {
        /// Offset of `x` in the literal arena.
        start: u32,
        /// Its length.
        len: u32,
    },
    /// `member('HA_…' | 'AFTER_…' | 'EXTERNAL_…')`: the whole name as a literal, asked
    /// of the caller (0 → 1).
    MemberNamed {
        /// Offset of the name in the literal arena.
        start: u32,
        /// Its length.
        len: u32,
    },
    /// `vendor[E].exists` / `vendor-class[E].exists`; E = 0 is `*` (0 → 1).
    VendorExists {
        /// Which option.
        option: VendorOption,
        /// Enterprise id, 0 = any.
        enterprise: u32,
    },
    /// `vendor.enterprise` / `vendor-class.enterprise` (0 → 1).
    VendorEnterprise(VendorOption),
    /// `vendor[E].option[sub].…` (0 → 1).
    VendorSubOption {
        /// Enterprise id, 0 = any.
        enterprise: u32,
        /// Sub-option code.
        sub: u8,
        /// Which view (`.text` is the generic rendering, as Kea's `toString()`).
        read: OptionRead,
    },
    /// `vendor-class[E].data` / `.data[index]` (0 → 1).
    VendorClassData {
        /// Enterprise id, 0 = any.
        enterprise: u32,
        /// Tuple index (0 for `.data`).
        index: u8,
    },
}

impl Op {
    /// (operands popped, values pushed).
    pub fn stack_effect(&self) -> (usize, usize) {
        match self {
            Op::Literal { .. }
            | Op::Option { .. }
            | Op::SubOption { .. }
            | Op::Pkt4(_)
            | Op::Pkt(_)
            | Op::MemberClass(_)
            | Op::MemberBuiltin(_)
            | Op::MemberVendorClass { .. }
            | Op::MemberNamed { .. }
            | Op::VendorExists { .. }
            | Op::VendorEnterprise(_)
            | Op::VendorSubOption { .. }
            | Op::VendorClassData { .. } => (0, 1),
            Op::Substring { .. } | Op::AddrToText | Op::IntToText { .. } | Op::Not => (1, 1),
            Op::Split { .. } | Op::Concat | Op::HexString | Op::Equal | Op::And | Op::Or => (2, 1),
            Op::IfElse => (3, 1),
        }
    }
}

/// Deepest value stack any compiled expression may need; deeper programs are rejected at
/// compile time ([`super::ParseErrorKind::TooComplex`]) so evaluation never runs out.
pub const MAX_STACK_DEPTH: usize = 64;

/// A compiled expression: a range of ops in an [`ExprStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expr {
    pub(crate) start: u32,
    pub(crate) len: u32,
    /// Whether the expression tests `KNOWN`/`UNKNOWN`, directly or through `member` of a
    /// class that does (Kea evaluates such classes after the host lookup, §5 step 9).
    pub depends_on_known: bool,
}

/// Read-only view of compiled programs: what evaluation needs.
#[derive(Clone, Copy, Debug)]
pub struct ExprView<'s> {
    /// All ops.
    pub ops: &'s [Op],
    /// All literal bytes.
    pub literals: &'s [u8],
}

impl<'s> ExprView<'s> {
    /// The ops of `expr` (empty if `expr` does not belong to this store).
    pub fn ops_of(&self, expr: &Expr) -> &'s [Op] {
        let start = expr.start as usize;
        let end = start.saturating_add(expr.len as usize);
        self.ops.get(start..end).unwrap_or(&[])
    }

    /// Literal bytes of an op.
    pub fn literal(&self, start: u32, len: u32) -> &'s [u8] {
        let start = start as usize;
        let end = start.saturating_add(len as usize);
        self.literals.get(start..end).unwrap_or(&[])
    }
}

/// Caller-provided storage that expressions are compiled into, one after another, at
/// config load.
///
/// Sizing: an expression of `n` source bytes needs at most [`ExprStore::ops_needed`]`(n)`
/// ops and [`ExprStore::literals_needed`]`(n)` literal bytes; summing over all classes'
/// `test` strings gives storage that always suffices.
pub struct ExprStore<'s> {
    ops: &'s mut [Op],
    ops_len: usize,
    literals: &'s mut [u8],
    literals_len: usize,
}

impl<'s> ExprStore<'s> {
    /// An empty store over the caller's slices.
    pub fn new(ops: &'s mut [Op], literals: &'s mut [u8]) -> Self {
        ExprStore {
            ops,
            ops_len: 0,
            literals,
            literals_len: 0,
        }
    }

    /// Most ops an expression of `source_len` bytes compiles to: every op consumes at
    /// least one source byte.
    pub const fn ops_needed(source_len: usize) -> usize {
        source_len
    }

    /// Most literal bytes an expression of `source_len` bytes needs: the densest literal
    /// is `::` (2 bytes of text, 16 bytes of value).
    pub const fn literals_needed(source_len: usize) -> usize {
        source_len.saturating_mul(8)
    }

    /// Ops used so far.
    pub fn ops_used(&self) -> usize {
        self.ops_len
    }

    /// Literal bytes used so far.
    pub fn literals_used(&self) -> usize {
        self.literals_len
    }

    /// The compiled programs, for evaluation.
    pub fn view(&self) -> ExprView<'_> {
        ExprView {
            ops: self.ops.get(..self.ops_len).unwrap_or(&[]),
            literals: self.literals.get(..self.literals_len).unwrap_or(&[]),
        }
    }

    /// Done compiling: the programs as a view for the storage's whole lifetime (what a
    /// loaded config keeps for per-packet evaluation).
    pub fn into_view(self) -> ExprView<'s> {
        let ExprStore {
            ops,
            ops_len,
            literals,
            literals_len,
        } = self;
        let ops: &'s [Op] = ops;
        let literals: &'s [u8] = literals;
        ExprView {
            ops: ops.get(..ops_len).unwrap_or(&[]),
            literals: literals.get(..literals_len).unwrap_or(&[]),
        }
    }

    pub(crate) fn mark(&self) -> (usize, usize) {
        (self.ops_len, self.literals_len)
    }

    pub(crate) fn rollback(&mut self, mark: (usize, usize)) {
        self.ops_len = mark.0;
        self.literals_len = mark.1;
    }

    pub(crate) fn push_op(&mut self, op: Op, at: usize) -> Result<(), ParseError> {
        let slot = self.ops.get_mut(self.ops_len).ok_or(ParseError {
            kind: super::ParseErrorKind::OpStorageFull,
            column: column_of(at),
            token: (at, at),
        })?;
        *slot = op;
        self.ops_len += 1;
        Ok(())
    }

    /// Store literal bytes; returns (start, len).
    pub(crate) fn push_literal(
        &mut self,
        bytes: &[u8],
        at: usize,
    ) -> Result<(u32, u32), ParseError> {
        self.push_literal_with(bytes.len(), at, |dst| dst.copy_from_slice(bytes))
    }

    /// Reserve `len` literal bytes and let `fill` write them.
    pub(crate) fn push_literal_with(
        &mut self,
        len: usize,
        at: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(u32, u32), ParseError> {
        let full = ParseError {
            kind: super::ParseErrorKind::LiteralStorageFull,
            column: column_of(at),
            token: (at, at),
        };
        let start = self.literals_len;
        let end = start.checked_add(len).ok_or(full)?;
        let dst = self.literals.get_mut(start..end).ok_or(full)?;
        fill(dst);
        let start32 = u32::try_from(start).map_err(|_| full)?;
        let len32 = u32::try_from(len).map_err(|_| full)?;
        self.literals_len = end;
        Ok((start32, len32))
    }

    pub(crate) fn finish(&self, start: usize, depends_on_known: bool) -> Expr {
        Expr {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(self.ops_len.saturating_sub(start)).unwrap_or(0),
            depends_on_known,
        }
    }
}

/// 1-based column of a byte offset.
pub(crate) fn column_of(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX - 1).saturating_add(1)
}
