//! Parser: `test` text → postfix [`Op`]s (kea-expressions.md §3), typed as Kea's grammar
//! is (`bool_expr` / `string_expr`), with Kea's precedence: `or` < `and` < `not`, `==`
//! non-associative, `+` and `concat` on strings only.
//!
//! Recursive descent with an explicit nesting counter ([`MAX_NESTING`]); the RPN stack
//! depth is tracked while emitting so evaluation can never overflow its fixed stack.

use super::lexer::{LexError, Lexer, Token, TokenKind};
use super::program::{
    column_of, Builtin, Expr, ExprStore, Op, OptionRead, Pkt4Field, PktField, VendorOption,
    MAX_STACK_DEPTH,
};
use super::{ParseError, ParseErrorKind, MAX_NESTING};
use crate::option_def::{self, OptionType};

/// A configured class that `member('X')` may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassRef {
    /// Its index in configuration order.
    pub index: u32,
    /// Whether its own test depends on `KNOWN`/`UNKNOWN` (directly or transitively).
    pub depends_on_known: bool,
}

/// What the parser needs to know about the configuration: custom option definitions
/// (global `option-def`) and the classes defined so far.
pub trait Resolver {
    /// A custom (global `option-def`) option by name: its code and whether its type is
    /// `string`. Consulted after the standard `dhcp4` table (kea-expressions.md §2).
    fn custom_option(&self, _name: &str) -> Option<(u8, bool)> {
        None
    }

    /// Whether a custom definition of `code` is typed `string` (`None`: no custom def).
    fn custom_option_is_string(&self, _code: u8) -> Option<bool> {
        None
    }

    /// A class defined **earlier** in `client-classes` (Kea rejects forward references).
    fn class(&self, name: &[u8]) -> Option<ClassRef>;
}

/// A resolver with no custom options and no classes (built-ins only).
pub struct NoClasses;

impl Resolver for NoClasses {
    fn class(&self, _name: &[u8]) -> Option<ClassRef> {
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    Bool,
    Str,
}

struct Parser<'a, 's, R: ?Sized> {
    source: &'a [u8],
    lexer: Lexer<'a>,
    token: Token,
    store: &'a mut ExprStore<'s>,
    resolver: &'a R,
    depth: usize,
    stack: usize,
    depends_on_known: bool,
}

fn lex_error(e: LexError) -> ParseError {
    ParseError {
        kind: e.kind,
        column: column_of(e.at),
        token: (e.at, e.at.saturating_add(1)),
    }
}

/// Compile `source` (a class `test`) into `store`. The expression must be boolean.
/// On error nothing is left in `store`.
pub fn compile<R: Resolver + ?Sized>(
    source: &str,
    store: &mut ExprStore<'_>,
    resolver: &R,
) -> Result<Expr, ParseError> {
    let mark = store.mark();
    let result = compile_inner(source, store, resolver);
    if result.is_err() {
        store.rollback(mark);
    }
    result
}

fn compile_inner<R: Resolver + ?Sized>(
    source: &str,
    store: &mut ExprStore<'_>,
    resolver: &R,
) -> Result<Expr, ParseError> {
    let start = store.ops_used();
    let bytes = source.as_bytes();
    let mut lexer = Lexer::new(bytes);
    let token = lexer.next_token().map_err(lex_error)?;
    let mut parser = Parser {
        source: bytes,
        lexer,
        token,
        store,
        resolver,
        depth: 0,
        stack: 0,
        depends_on_known: false,
    };
    let at = parser.token.at;
    let ty = parser.or_expr()?;
    if parser.token.kind != TokenKind::End {
        return Err(parser.error(ParseErrorKind::TrailingInput));
    }
    if ty != Type::Bool {
        return Err(ParseError {
            kind: ParseErrorKind::NotBoolean,
            column: column_of(at),
            token: (at, bytes.len()),
        });
    }
    let depends = parser.depends_on_known;
    Ok(parser.store.finish(start, depends))
}

impl<R: Resolver + ?Sized> Parser<'_, '_, R> {
    fn error(&self, kind: ParseErrorKind) -> ParseError {
        ParseError {
            kind,
            column: column_of(self.token.at),
            token: (self.token.at, self.token.end.max(self.token.at)),
        }
    }

    fn text(&self) -> &[u8] {
        self.source
            .get(self.token.start..self.token.end)
            .unwrap_or(&[])
    }

    fn is_word(&self, word: &str) -> bool {
        self.token.kind == TokenKind::Word && self.text() == word.as_bytes()
    }

    fn advance(&mut self) -> Result<Token, ParseError> {
        let next = self.lexer.next_token().map_err(lex_error)?;
        Ok(core::mem::replace(&mut self.token, next))
    }

    fn expect(&mut self, kind: TokenKind, what: &'static str) -> Result<Token, ParseError> {
        if self.token.kind == kind {
            self.advance()
        } else {
            Err(self.error(ParseErrorKind::Expected(what)))
        }
    }

    fn expect_word(&mut self, word: &'static str, what: &'static str) -> Result<(), ParseError> {
        if self.is_word(word) {
            self.advance().map(|_| ())
        } else {
            Err(self.error(ParseErrorKind::Expected(what)))
        }
    }

    fn emit(&mut self, op: Op, at: usize) -> Result<(), ParseError> {
        let (pops, pushes) = op.stack_effect();
        self.stack = self.stack.saturating_sub(pops) + pushes;
        if self.stack > MAX_STACK_DEPTH {
            return Err(ParseError {
                kind: ParseErrorKind::TooComplex,
                column: column_of(at),
                token: (at, at),
            });
        }
        self.store.push_op(op, at)
    }

    /// One more nesting level, opened by the token at byte `at`.
    fn enter(&mut self, at: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(ParseError {
                kind: ParseErrorKind::TooDeep,
                column: column_of(at),
                token: (at, at.saturating_add(1)),
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn require(&self, got: Type, want: Type, at: usize) -> Result<(), ParseError> {
        if got == want {
            return Ok(());
        }
        Err(ParseError {
            kind: ParseErrorKind::Expected(match want {
                Type::Bool => "a boolean expression",
                Type::Str => "a string expression",
            }),
            column: column_of(at),
            token: (at, at.saturating_add(1)),
        })
    }

    // bool := bool 'or' bool (left-associative, lowest)
    fn or_expr(&mut self) -> Result<Type, ParseError> {
        let at = self.token.at;
        let mut ty = self.and_expr()?;
        while self.is_word("or") {
            self.require(ty, Type::Bool, at)?;
            let op_at = self.advance()?.at;
            let rhs_at = self.token.at;
            let rhs = self.and_expr()?;
            self.require(rhs, Type::Bool, rhs_at)?;
            self.emit(Op::Or, op_at)?;
            ty = Type::Bool;
        }
        Ok(ty)
    }

    fn and_expr(&mut self) -> Result<Type, ParseError> {
        let at = self.token.at;
        let mut ty = self.not_expr()?;
        while self.is_word("and") {
            self.require(ty, Type::Bool, at)?;
            let op_at = self.advance()?.at;
            let rhs_at = self.token.at;
            let rhs = self.not_expr()?;
            self.require(rhs, Type::Bool, rhs_at)?;
            self.emit(Op::And, op_at)?;
            ty = Type::Bool;
        }
        Ok(ty)
    }

    fn not_expr(&mut self) -> Result<Type, ParseError> {
        if self.is_word("not") {
            let op_at = self.advance()?.at;
            self.enter(op_at)?;
            let rhs_at = self.token.at;
            let ty = self.not_expr()?;
            self.leave();
            self.require(ty, Type::Bool, rhs_at)?;
            self.emit(Op::Not, op_at)?;
            return Ok(Type::Bool);
        }
        self.compare_expr()
    }

    // str '==' str, non-associative: a second '==' is left over and rejected by the caller.
    fn compare_expr(&mut self) -> Result<Type, ParseError> {
        let at = self.token.at;
        let ty = self.plus_expr()?;
        if self.token.kind == TokenKind::Equal {
            self.require(ty, Type::Str, at)?;
            let op_at = self.advance()?.at;
            let rhs_at = self.token.at;
            let rhs = self.plus_expr()?;
            self.require(rhs, Type::Str, rhs_at)?;
            self.emit(Op::Equal, op_at)?;
            return Ok(Type::Bool);
        }
        Ok(ty)
    }

    fn plus_expr(&mut self) -> Result<Type, ParseError> {
        let at = self.token.at;
        let mut ty = self.primary()?;
        while self.token.kind == TokenKind::Plus {
            self.require(ty, Type::Str, at)?;
            let op_at = self.advance()?.at;
            let rhs_at = self.token.at;
            let rhs = self.primary()?;
            self.require(rhs, Type::Str, rhs_at)?;
            self.emit(Op::Concat, op_at)?;
            ty = Type::Str;
        }
        Ok(ty)
    }

    fn literal(&mut self, bytes: &[u8], at: usize) -> Result<Type, ParseError> {
        let (start, len) = self.store.push_literal(bytes, at)?;
        self.emit(Op::Literal { start, len }, at)?;
        Ok(Type::Str)
    }

    fn primary(&mut self) -> Result<Type, ParseError> {
        let token = self.token;
        let at = token.at;
        match token.kind {
            TokenKind::String => {
                self.advance()?;
                let source = self.source;
                let text = source.get(token.start..token.end).unwrap_or(&[]);
                self.literal(text, at)
            }
            TokenKind::Hex => {
                self.advance()?;
                let digits = self.source.get(token.start..token.end).unwrap_or(&[]);
                let (start, len) =
                    self.store
                        .push_literal_with(digits.len().div_ceil(2), at, |dst| {
                            decode_hex(digits, dst)
                        })?;
                self.emit(Op::Literal { start, len }, at)?;
                Ok(Type::Str)
            }
            TokenKind::Integer(value) => {
                self.advance()?;
                // kea-expressions.md §2 / spec trap 3: an integer *value* is 4 bytes.
                let value = u32::try_from(value).map_err(|_| ParseError {
                    kind: ParseErrorKind::IntegerOutOfRange,
                    column: column_of(at),
                    token: (at, token.end),
                })?;
                self.literal(&value.to_be_bytes(), at)
            }
            TokenKind::Ipv4(octets) => {
                self.advance()?;
                self.literal(&octets, at)
            }
            TokenKind::Ipv6(octets) => {
                self.advance()?;
                self.literal(&octets, at)
            }
            TokenKind::LeftParen => {
                self.advance()?;
                self.enter(at)?;
                let ty = self.or_expr()?;
                self.expect(TokenKind::RightParen, "')'")?;
                self.leave();
                Ok(ty)
            }
            TokenKind::Word => self.keyword(),
            TokenKind::End => Err(self.error(ParseErrorKind::Expected("an expression"))),
            _ => Err(self.error(ParseErrorKind::Expected("an expression"))),
        }
    }

    fn keyword(&mut self) -> Result<Type, ParseError> {
        let at = self.token.at;
        let word = self.text();
        let ty = match word {
            b"option" => {
                self.advance()?;
                self.option()?
            }
            b"relay4" => {
                self.advance()?;
                let sub = self.bracketed_code()?;
                self.expect(TokenKind::Dot, "'.'")?;
                let read = self.representation()?;
                self.emit(
                    Op::SubOption {
                        code: 82,
                        sub,
                        read,
                    },
                    at,
                )?;
                read_type(read)
            }
            b"pkt4" => {
                self.advance()?;
                self.expect(TokenKind::Dot, "'.'")?;
                let field =
                    match self.text() {
                        b"mac" => Pkt4Field::Mac,
                        b"hlen" => Pkt4Field::Hlen,
                        b"htype" => Pkt4Field::Htype,
                        b"ciaddr" => Pkt4Field::Ciaddr,
                        b"giaddr" => Pkt4Field::Giaddr,
                        b"yiaddr" => Pkt4Field::Yiaddr,
                        b"siaddr" => Pkt4Field::Siaddr,
                        b"msgtype" => Pkt4Field::MsgType,
                        b"transid" => Pkt4Field::TransId,
                        _ => return Err(self.error(ParseErrorKind::Expected(
                            "mac, hlen, htype, ciaddr, giaddr, yiaddr, siaddr, msgtype or transid",
                        ))),
                    };
                self.advance()?;
                self.emit(Op::Pkt4(field), at)?;
                Type::Str
            }
            b"pkt" => {
                self.advance()?;
                self.expect(TokenKind::Dot, "'.'")?;
                let field = match self.text() {
                    b"iface" => PktField::Iface,
                    b"src" => PktField::Src,
                    b"dst" => PktField::Dst,
                    b"len" => PktField::Len,
                    _ => return Err(self.error(ParseErrorKind::Expected("iface, src, dst or len"))),
                };
                self.advance()?;
                self.emit(Op::Pkt(field), at)?;
                Type::Str
            }
            b"substring" => {
                self.advance()?;
                self.call(|p| {
                    p.string_arg()?;
                    p.expect(TokenKind::Comma, "','")?;
                    let start = p.number()?;
                    p.expect(TokenKind::Comma, "','")?;
                    let len = if p.is_word("all") {
                        p.advance()?;
                        None
                    } else {
                        Some(p.number()?)
                    };
                    Ok(Op::Substring { start, len })
                })?
            }
            b"split" => {
                self.advance()?;
                self.call(|p| {
                    p.string_arg()?;
                    p.expect(TokenKind::Comma, "','")?;
                    p.string_arg()?;
                    p.expect(TokenKind::Comma, "','")?;
                    let field = p.number()?;
                    Ok(Op::Split { field })
                })?
            }
            b"concat" => {
                self.advance()?;
                self.call(|p| {
                    p.string_arg()?;
                    p.expect(TokenKind::Comma, "','")?;
                    p.string_arg()?;
                    Ok(Op::Concat)
                })?
            }
            b"hexstring" => {
                self.advance()?;
                self.call(|p| {
                    p.string_arg()?;
                    p.expect(TokenKind::Comma, "','")?;
                    p.string_arg()?;
                    Ok(Op::HexString)
                })?
            }
            b"ifelse" => {
                self.advance()?;
                self.call(|p| {
                    let at = p.token.at;
                    let ty = p.or_expr()?;
                    p.require(ty, Type::Bool, at)?;
                    p.expect(TokenKind::Comma, "','")?;
                    p.string_arg()?;
                    p.expect(TokenKind::Comma, "','")?;
                    p.string_arg()?;
                    Ok(Op::IfElse)
                })?
            }
            b"addrtotext" => {
                self.advance()?;
                self.call(|p| p.string_arg().map(|()| Op::AddrToText))?
            }
            b"int8totext" | b"int16totext" | b"int32totext" | b"uint8totext" | b"uint16totext"
            | b"uint32totext" => {
                let signed = word.first() == Some(&b'i');
                let width = if word.windows(2).any(|w| w == b"16") {
                    2
                } else if word.windows(2).any(|w| w == b"32") {
                    4
                } else {
                    1
                };
                self.advance()?;
                self.call(|p| p.string_arg().map(|()| Op::IntToText { width, signed }))?
            }
            // Kea 2.2's lexer rejects `known` / `unknown` (`Invalid character: k`,
            // kea-expressions.md §2 [checked]); the Kea ARM lists them as shorthands for
            // `member('KNOWN')` / `not member('KNOWN')`, and issue 4 asks for them. wren
            // accepts them with that meaning; the config loader warns that Kea 2.2 would
            // reject the config ([`super::uses_known_keyword`]).
            b"known" | b"unknown" => {
                let negate = word == b"unknown";
                let at = self.token.at;
                self.advance()?;
                self.emit(Op::MemberBuiltin(Builtin::Known), at)?;
                if negate {
                    self.emit(Op::Not, at)?;
                }
                self.depends_on_known = true;
                Type::Bool
            }
            b"member" => {
                self.advance()?;
                self.member()?
            }
            b"vendor" => {
                self.advance()?;
                self.vendor(VendorOption::Vivso)?
            }
            b"vendor-class" => {
                self.advance()?;
                self.vendor(VendorOption::VendorClass)?
            }
            b"relay6" | b"pkt6" | b"peeraddr" | b"linkaddr" => {
                return Err(self.error(ParseErrorKind::Dhcp6Only))
            }
            b"text" | b"hex" | b"exists" | b"iface" | b"src" | b"dst" | b"len" | b"mac"
            | b"hlen" | b"htype" | b"ciaddr" | b"giaddr" | b"yiaddr" | b"siaddr" | b"msgtype"
            | b"transid" | b"data" | b"enterprise" | b"all" | b"not" | b"and" | b"or" => {
                return Err(self.error(ParseErrorKind::Expected("an expression")))
            }
            _ => {
                // Kea 2.2's lexer has no rule for other words (`lcase`, `match`, …):
                // `Invalid character: k`.
                let first = word.first().copied().unwrap_or(b'?');
                return Err(self.error(ParseErrorKind::InvalidCharacter(first)));
            }
        };
        Ok(ty)
    }

    /// `( args )` then emit the op the closure returns; strings in, string out.
    fn call(
        &mut self,
        args: impl FnOnce(&mut Self) -> Result<Op, ParseError>,
    ) -> Result<Type, ParseError> {
        let at = self.expect(TokenKind::LeftParen, "'('")?.at;
        self.enter(at)?;
        let op = args(self)?;
        self.expect(TokenKind::RightParen, "')'")?;
        self.leave();
        self.emit(op, at)?;
        Ok(Type::Str)
    }

    fn string_arg(&mut self) -> Result<(), ParseError> {
        let at = self.token.at;
        let ty = self.or_expr()?;
        self.require(ty, Type::Str, at)
    }

    /// A literal number argument of `substring`/`split` (may be negative).
    fn number(&mut self) -> Result<i64, ParseError> {
        match self.token.kind {
            TokenKind::Integer(v) => {
                self.advance()?;
                Ok(v)
            }
            _ => Err(self.error(ParseErrorKind::Expected("an integer"))),
        }
    }

    /// An integer in 0..=max (option codes, tuple indices).
    fn small_integer(&mut self, max: i64, kind: ParseErrorKind) -> Result<i64, ParseError> {
        match self.token.kind {
            TokenKind::Integer(v) if (0..=max).contains(&v) => {
                self.advance()?;
                Ok(v)
            }
            TokenKind::Integer(_) => Err(self.error(kind)),
            _ => Err(self.error(ParseErrorKind::Expected("an integer"))),
        }
    }

    /// `[ <0..255> ]`
    fn bracketed_code(&mut self) -> Result<u8, ParseError> {
        self.expect(TokenKind::LeftBracket, "'['")?;
        let code = self.small_integer(255, ParseErrorKind::OptionCodeOutOfRange)?;
        self.expect(TokenKind::RightBracket, "']'")?;
        Ok(u8::try_from(code).unwrap_or(0))
    }

    /// `.hex` | `.text` | `.exists` (after the dot).
    fn representation(&mut self) -> Result<OptionRead, ParseError> {
        let read = match self.text() {
            b"hex" => OptionRead::Hex,
            b"text" => OptionRead::Text,
            b"exists" => OptionRead::Exists,
            _ => return Err(self.error(ParseErrorKind::Expected("hex, text or exists"))),
        };
        if self.token.kind != TokenKind::Word {
            return Err(self.error(ParseErrorKind::Expected("hex, text or exists")));
        }
        self.advance()?;
        Ok(read)
    }

    /// After `option`: `[C].(hex|text|exists)` or `[C].option[S].(hex|text|exists)`.
    fn option(&mut self) -> Result<Type, ParseError> {
        let at = self.token.at;
        self.expect(TokenKind::LeftBracket, "'['")?;
        let code = match self.token.kind {
            TokenKind::Integer(_) => {
                u8::try_from(self.small_integer(255, ParseErrorKind::OptionCodeOutOfRange)?)
                    .unwrap_or(0)
            }
            TokenKind::Word => {
                let name = core::str::from_utf8(self.text()).unwrap_or("");
                let code = option_def::by_name(name)
                    .map(|d| d.code)
                    .or_else(|| self.resolver.custom_option(name).map(|(c, _)| c))
                    .ok_or_else(|| self.error(ParseErrorKind::UnknownOptionName))?;
                self.advance()?;
                code
            }
            _ => return Err(self.error(ParseErrorKind::Expected("an option code or name"))),
        };
        self.expect(TokenKind::RightBracket, "']'")?;
        self.expect(TokenKind::Dot, "'.'")?;
        if self.is_word("option") {
            self.advance()?;
            let sub = self.bracketed_code()?;
            self.expect(TokenKind::Dot, "'.'")?;
            // Sub-options have no string definitions wren tracks: `.text` renders.
            let read = self.representation()?;
            self.emit(Op::SubOption { code, sub, read }, at)?;
            return Ok(read_type(read));
        }
        let string_typed = self
            .resolver
            .custom_option_is_string(code)
            .unwrap_or_else(|| {
                option_def::by_code(code).is_some_and(|d| d.kind.value_type() == OptionType::String)
            });
        let read = self.representation()?;
        self.emit(
            Op::Option {
                code,
                read,
                string_typed,
            },
            at,
        )?;
        Ok(read_type(read))
    }

    /// After `member`: `('name')`.
    fn member(&mut self) -> Result<Type, ParseError> {
        let at = self.expect(TokenKind::LeftParen, "'('")?.at;
        let name_token = self.token;
        if name_token.kind != TokenKind::String {
            return Err(self.error(ParseErrorKind::Expected("a quoted class name")));
        }
        self.advance()?;
        self.expect(TokenKind::RightParen, "')'")?;
        let source = self.source;
        let name = source.get(name_token.start..name_token.end).unwrap_or(&[]);
        let op = match name {
            b"ALL" => Op::MemberBuiltin(Builtin::All),
            b"KNOWN" => Op::MemberBuiltin(Builtin::Known),
            b"UNKNOWN" => Op::MemberBuiltin(Builtin::Unknown),
            b"BOOTP" => Op::MemberBuiltin(Builtin::Bootp),
            _ => {
                if let Some(suffix) = name.strip_prefix(b"VENDOR_CLASS_") {
                    let (start, len) = self.store.push_literal(suffix, name_token.at)?;
                    Op::MemberVendorClass { start, len }
                } else if name.starts_with(b"HA_")
                    || name.starts_with(b"AFTER_")
                    || name.starts_with(b"EXTERNAL_")
                {
                    let (start, len) = self.store.push_literal(name, name_token.at)?;
                    Op::MemberNamed { start, len }
                } else {
                    let class = self.resolver.class(name).ok_or(ParseError {
                        kind: ParseErrorKind::UnknownClass,
                        column: column_of(name_token.at),
                        token: (name_token.start, name_token.end),
                    })?;
                    if class.depends_on_known {
                        self.depends_on_known = true;
                    }
                    Op::MemberClass(class.index)
                }
            }
        };
        if matches!(op, Op::MemberBuiltin(Builtin::Known | Builtin::Unknown)) {
            self.depends_on_known = true;
        }
        self.emit(op, at)?;
        Ok(Type::Bool)
    }

    /// After `vendor` / `vendor-class`.
    fn vendor(&mut self, option: VendorOption) -> Result<Type, ParseError> {
        let at = self.token.at;
        if self.token.kind == TokenKind::Dot {
            self.advance()?;
            self.expect_word("enterprise", "enterprise")?;
            self.emit(Op::VendorEnterprise(option), at)?;
            return Ok(Type::Str);
        }
        self.expect(TokenKind::LeftBracket, "'[' or '.'")?;
        let enterprise = match self.token.kind {
            TokenKind::Star => {
                self.advance()?;
                0
            }
            TokenKind::Integer(_) => u32::try_from(
                self.small_integer(i64::from(u32::MAX), ParseErrorKind::IntegerOutOfRange)?,
            )
            .unwrap_or(0),
            _ => return Err(self.error(ParseErrorKind::Expected("an enterprise id or '*'"))),
        };
        self.expect(TokenKind::RightBracket, "']'")?;
        self.expect(TokenKind::Dot, "'.'")?;
        if self.is_word("exists") {
            self.advance()?;
            self.emit(Op::VendorExists { option, enterprise }, at)?;
            return Ok(Type::Bool);
        }
        match option {
            VendorOption::Vivso => {
                self.expect_word("option", "exists or option")?;
                let sub = self.bracketed_code()?;
                self.expect(TokenKind::Dot, "'.'")?;
                let read = self.representation()?;
                self.emit(
                    Op::VendorSubOption {
                        enterprise,
                        sub,
                        read,
                    },
                    at,
                )?;
                Ok(read_type(read))
            }
            VendorOption::VendorClass => {
                self.expect_word("data", "exists or data")?;
                let mut index = 0;
                if self.token.kind == TokenKind::LeftBracket {
                    self.advance()?;
                    index =
                        u8::try_from(self.small_integer(255, ParseErrorKind::IntegerOutOfRange)?)
                            .unwrap_or(0);
                    self.expect(TokenKind::RightBracket, "']'")?;
                }
                self.emit(Op::VendorClassData { enterprise, index }, at)?;
                Ok(Type::Str)
            }
        }
    }
}

fn read_type(read: OptionRead) -> Type {
    if read == OptionRead::Exists {
        Type::Bool
    } else {
        Type::Str
    }
}

/// Hex digits → bytes; an odd count gets a leading `0` (`0x7` = `07`).
fn decode_hex(digits: &[u8], out: &mut [u8]) {
    let nibble = |d: u8| match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        b'A'..=b'F' => d - b'A' + 10,
        _ => 0,
    };
    let odd = digits.len() % 2;
    for (i, byte) in out.iter_mut().enumerate() {
        let hi_index = (2 * i).checked_sub(odd);
        let hi = hi_index
            .and_then(|h| digits.get(h))
            .map_or(0, |&d| nibble(d));
        let lo = digits.get(2 * i + 1 - odd).map_or(0, |&d| nibble(d));
        *byte = (hi << 4) | lo;
    }
}
