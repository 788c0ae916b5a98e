//! Client classification: Kea 2.2's expression language (kea-expressions.md) compiled once
//! at config load and evaluated per packet without allocation.
//!
//! * [`lexer`] and [`parser`]: `test` text → postfix [`program::Op`]s in an
//!   [`program::ExprStore`] (caller-provided `&mut [Op]` + literal byte arena).
//! * [`eval`]: one [`program::Expr`] against a [`eval::EvalContext`] (the parsed message plus
//!   interface/addresses) and the classes assigned so far, on a fixed value stack over a
//!   caller-provided scratch buffer.
//! * [`classes`] and [`config_classes`]: the configured classes compiled in config order;
//!   [`engine_glue`] hands them to the engine as its [`crate::server::ClassTests`]. Class
//!   membership and Kea's assignment order (§5: ALL → `VENDOR_CLASS_…` → host classes →
//!   pass 1 → KNOWN/UNKNOWN → pass 2 → late host classes → required) live in one place,
//!   [`crate::server::classes`].
//!
//! Errors: a parse error names the column (the caller prefixes the class name, as Kea does
//! with `client class "PXE": test: …`); an evaluation error makes the class not match and is
//! reported to the caller for logging (Kea logs `EVAL_RESULT` at ERROR and continues).

pub mod classes;
pub mod config_classes;
pub mod engine_glue;
pub mod eval;
pub(crate) mod lexer;
pub mod parser;
pub mod program;

#[cfg(test)]
mod tests;

pub use classes::{CompiledClass, EarlierClasses};
pub use config_classes::{compile_config_classes, storage_needed, ClassCompileError};
pub use engine_glue::CompiledClassTests;
pub use eval::{evaluate, ClassQuery, EvalContext, EvalError};
pub use parser::{compile, ClassRef, Resolver};
pub use program::{Expr, ExprStore, ExprView, Op};

use core::fmt;

/// Whether a class `test` uses the keywords `known` / `unknown`, which wren accepts (as
/// `member('KNOWN')` / `not member('KNOWN')`, their Kea ARM meaning) but Kea 2.2's lexer
/// rejects (`Invalid character: k`, kea-expressions.md §2 **\[checked\]**): the config
/// loader warns that Kea 2.2 would refuse such a config. A word inside `option[…]` (an
/// option name) does not count. Text that does not lex is not scanned further.
pub fn uses_known_keyword(test: &[u8]) -> bool {
    let mut lexer = lexer::Lexer::new(test);
    let mut previous = lexer::TokenKind::End;
    while let Ok(token) = lexer.next_token() {
        match token.kind {
            lexer::TokenKind::End => return false,
            lexer::TokenKind::Word if previous != lexer::TokenKind::LeftBracket => {
                let word = test.get(token.start..token.end).unwrap_or(&[]);
                if word == b"known" || word == b"unknown" {
                    return true;
                }
            }
            _ => {}
        }
        previous = token.kind;
    }
    false
}

/// Deepest nesting of parentheses, `not`s and function calls a test may have. Deeper
/// input is rejected with [`ParseErrorKind::TooDeep`] (the parser recurses once per
/// level, so this bounds its stack use).
pub const MAX_NESTING: usize = 32;

/// Why a `test` expression does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// A byte that starts no token (Kea: `Invalid character: k`). (This is also how Kea 2.2
    /// rejects `known` / `unknown`, which wren accepts: [`uses_known_keyword`].)
    InvalidCharacter(u8),
    /// A word that is not a keyword here (e.g. an option name outside `option[…]`).
    UnexpectedWord,
    /// `'…` without the closing quote (or with a newline inside).
    UnterminatedString,
    /// An integer outside 0..4294967295 (negative ones only in substring/split numbers).
    IntegerOutOfRange,
    /// Text that looks like an IP address but is not one.
    InvalidAddress,
    /// Something else was required here; the text names it (`"']'"`, `"a string"`, …).
    Expected(&'static str),
    /// An option code above 255 (Kea: `Allowed range: 0..255`).
    OptionCodeOutOfRange,
    /// `option[name]` with a name neither standard nor defined by `option-def` (Kea:
    /// `option 'x' is not defined`); [`ParseError::token`] gives the name.
    UnknownOptionName,
    /// `member('X')` where X is no built-in and no class defined earlier (Kea rejects
    /// forward references); [`ParseError::token`] gives the quoted name.
    UnknownClass,
    /// A DHCPv6-only token (`relay6`, `pkt6`, `peeraddr`, `linkaddr`).
    Dhcp6Only,
    /// The `test` is a string expression, not a boolean one.
    NotBoolean,
    /// More than [`MAX_NESTING`] nested levels.
    TooDeep,
    /// The compiled program would need more than [`program::MAX_STACK_DEPTH`] stack slots.
    TooComplex,
    /// The caller's op storage is full.
    OpStorageFull,
    /// The caller's literal storage is full.
    LiteralStorageFull,
    /// Text after a complete expression.
    TrailingInput,
    /// The caller's [`CompiledClass`] storage has fewer slots than the config has classes.
    ClassStorageFull,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::InvalidCharacter(b) => {
                write!(f, "Invalid character: {}", char::from(*b).escape_default())
            }
            ParseErrorKind::UnexpectedWord => f.write_str("unexpected word"),
            ParseErrorKind::UnterminatedString => f.write_str("unterminated string literal"),
            ParseErrorKind::IntegerOutOfRange => {
                f.write_str("integer out of range (0..4294967295)")
            }
            ParseErrorKind::InvalidAddress => f.write_str("invalid IP address"),
            ParseErrorKind::Expected(what) => write!(f, "expected {what}"),
            ParseErrorKind::OptionCodeOutOfRange => {
                f.write_str("option code out of range: Allowed range: 0..255")
            }
            ParseErrorKind::UnknownOptionName => f.write_str("option is not defined"),
            ParseErrorKind::UnknownClass => {
                f.write_str("class is not defined (classes must be defined before use)")
            }
            ParseErrorKind::Dhcp6Only => f.write_str("only valid in DHCPv6"),
            ParseErrorKind::NotBoolean => f.write_str("the test must be a boolean expression"),
            ParseErrorKind::TooDeep => {
                write!(f, "expression nested deeper than {MAX_NESTING} levels")
            }
            ParseErrorKind::TooComplex => f.write_str("expression needs too deep a value stack"),
            ParseErrorKind::OpStorageFull => f.write_str("expression storage full (ops)"),
            ParseErrorKind::LiteralStorageFull => f.write_str("expression storage full (literals)"),
            ParseErrorKind::TrailingInput => f.write_str("unexpected text after the expression"),
            ParseErrorKind::ClassStorageFull => f.write_str("class storage full"),
        }
    }
}

/// A compile error: what, and where (1-based column = byte offset + 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// 1-based column of the offending token.
    pub column: u32,
    /// Byte range of the offending token in the source.
    pub token: (usize, usize),
}

impl ParseError {
    /// The offending token's text (e.g. the undefined option or class name).
    pub fn token<'s>(&self, source: &'s str) -> &'s str {
        source.get(self.token.0..self.token.1).unwrap_or("")
    }
}

impl fmt::Display for ParseError {
    /// `column 17: expected ']'` — the caller prefixes `client class "X": test: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.kind)
    }
}
