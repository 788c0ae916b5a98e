//! A zero-copy pull reader for Kea's JSON dialect (kea-config.md §1).
//!
//! Kea's configuration files are JSON plus `#`, `//` and `/* */` comments, trailing commas
//! (accepted with a warning), strict types and no duplicate keys, and every error names a
//! line and column. `serde-json-core` deserialises into fixed structs and knows none of
//! this, so this module reads tokens straight out of the text: strings stay escaped slices of
//! the input (unescaped only when stored, with `serde_json_core::str::EscapedStr`), and
//! lists of any length stream by, so a 50,000-reservation list needs no buffer here.

use serde_json_core::str::{EscapedStr, EscapedStringFragment};

use super::error::{snippet, ConfigErrorKind, Position};

/// The kind of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `{`
    BeginMap,
    /// `}`
    EndMap,
    /// `[`
    BeginList,
    /// `]`
    EndList,
    /// `:`
    Colon,
    /// `,`
    Comma,
    /// A string; the token text is the still-escaped content between the quotes.
    String,
    /// An integer literal (no `.`, `e` or `E`).
    Integer,
    /// A float literal (`0.5`, `.5`, `1e3`).
    Float,
    /// `true`
    True,
    /// `false`
    False,
    /// `null`
    Null,
    /// End of text.
    End,
}

impl TokenKind {
    /// How error messages name the token.
    pub const fn describe(self) -> &'static str {
        match self {
            TokenKind::BeginMap => "a map",
            TokenKind::EndMap => "'}'",
            TokenKind::BeginList => "a list",
            TokenKind::EndList => "']'",
            TokenKind::Colon => "':'",
            TokenKind::Comma => "','",
            TokenKind::String => "a string",
            TokenKind::Integer => "an integer",
            TokenKind::Float => "a floating-point number",
            TokenKind::True | TokenKind::False => "a boolean",
            TokenKind::Null => "null",
            TokenKind::End => "the end of the text",
        }
    }
}

/// One token: kind, text (escaped string content or the literal) and where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'t> {
    /// Kind.
    pub kind: TokenKind,
    /// The token's text (for strings: between the quotes, escapes not processed).
    pub text: &'t str,
    /// Where the token starts.
    pub pos: Position,
}

/// A lexer error with its position.
pub type LexError = (Position, ConfigErrorKind);

/// The tokenizer. `Copy`, so a caller can remember a position and re-read a value later
/// (used to copy `user-context` maps once the whole enclosing map has been seen).
#[derive(Clone, Copy, Debug)]
pub struct Lexer<'t> {
    text: &'t str,
    offset: usize,
    line: u32,
    column: u32,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'t> Lexer<'t> {
    /// A lexer at the start of `text`.
    pub fn new(text: &'t str) -> Self {
        Lexer {
            text,
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    /// A lexer over `text` starting at byte `offset` (a value remembered with
    /// [`Self::offset`]). Its positions count from that point, so it is only meant for
    /// comparing tokens ([`same_value`]), not for error messages.
    pub(crate) fn resume(text: &'t str, offset: usize) -> Self {
        Lexer {
            text,
            offset,
            line: 1,
            column: 1,
        }
    }

    /// The byte offset of the next unread character.
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// The whole text being read.
    pub(crate) fn text(&self) -> &'t str {
        self.text
    }

    fn pos(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn peek_byte(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.offset + ahead).copied()
    }

    fn bump(&mut self) {
        if let Some(b) = self.peek_byte(0) {
            self.offset += 1;
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if b & 0xc0 != 0x80 {
                // Count characters, not UTF-8 continuation bytes.
                self.column += 1;
            }
        }
    }

    /// Skips white space and comments.
    fn skip_trivia(&mut self) -> Result<(), LexError> {
        loop {
            match (self.peek_byte(0), self.peek_byte(1)) {
                (Some(b), _) if is_space(b) => self.bump(),
                (Some(b'#'), _) | (Some(b'/'), Some(b'/')) => {
                    while let Some(b) = self.peek_byte(0) {
                        if b == b'\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                (Some(b'/'), Some(b'*')) => {
                    let start = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match (self.peek_byte(0), self.peek_byte(1)) {
                            (Some(b'*'), Some(b'/')) => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            (Some(_), _) => self.bump(),
                            (None, _) => return Err((start, ConfigErrorKind::UnterminatedComment)),
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// The next token.
    pub fn next_token(&mut self) -> Result<Token<'t>, LexError> {
        self.skip_trivia()?;
        let pos = self.pos();
        let start = self.offset;
        let Some(b) = self.peek_byte(0) else {
            return Ok(Token {
                kind: TokenKind::End,
                text: "",
                pos,
            });
        };
        let single = |kind| Some(kind);
        let punct = match b {
            b'{' => single(TokenKind::BeginMap),
            b'}' => single(TokenKind::EndMap),
            b'[' => single(TokenKind::BeginList),
            b']' => single(TokenKind::EndList),
            b':' => single(TokenKind::Colon),
            b',' => single(TokenKind::Comma),
            _ => None,
        };
        if let Some(kind) = punct {
            self.bump();
            return Ok(Token {
                kind,
                text: self.text.get(start..self.offset).unwrap_or(""),
                pos,
            });
        }
        match b {
            b'"' => self.string(pos),
            b'-' | b'.' | b'0'..=b'9' => self.number(pos),
            b'<' if self
                .text
                .get(start..)
                .is_some_and(|t| t.starts_with("<?include")) =>
            {
                Err((pos, include_error(self.text.get(start..).unwrap_or(""))))
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                while self.peek_byte(0).is_some_and(|c| c.is_ascii_alphanumeric()) {
                    self.bump();
                }
                let word = self.text.get(start..self.offset).unwrap_or("");
                let kind = match word {
                    "true" => TokenKind::True,
                    "false" => TokenKind::False,
                    "null" => TokenKind::Null,
                    _ => {
                        return Err((
                            pos,
                            ConfigErrorKind::Expected {
                                expected: "a value (true, false and null are lowercase)",
                                found: "a bare word",
                            },
                        ))
                    }
                };
                Ok(Token {
                    kind,
                    text: word,
                    pos,
                })
            }
            _ => {
                let ch = self
                    .text
                    .get(start..)
                    .and_then(|t| t.chars().next())
                    .unwrap_or('?');
                Err((pos, ConfigErrorKind::UnexpectedCharacter(ch)))
            }
        }
    }

    fn string(&mut self, pos: Position) -> Result<Token<'t>, LexError> {
        self.bump(); // opening quote
        let start = self.offset;
        loop {
            match self.peek_byte(0) {
                None | Some(b'\n') => return Err((pos, ConfigErrorKind::UnterminatedString)),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.bump();
                    if self.peek_byte(0).is_none() {
                        return Err((pos, ConfigErrorKind::UnterminatedString));
                    }
                    self.bump();
                }
                Some(c) if c < 0x20 => {
                    return Err((self.pos(), ConfigErrorKind::ControlCharacterInString))
                }
                Some(_) => self.bump(),
            }
        }
        let text = self.text.get(start..self.offset).unwrap_or("");
        self.bump(); // closing quote
                     // Validate escapes now so that every later unescape succeeds.
        for fragment in EscapedStr(text).fragments() {
            if fragment.is_err() {
                return Err((pos, ConfigErrorKind::BadEscape));
            }
        }
        Ok(Token {
            kind: TokenKind::String,
            text,
            pos,
        })
    }

    fn number(&mut self, pos: Position) -> Result<Token<'t>, LexError> {
        let start = self.offset;
        let mut float = false;
        while let Some(c) = self.peek_byte(0) {
            match c {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => float = true,
                _ => break,
            }
            self.bump();
        }
        let text = self.text.get(start..self.offset).unwrap_or("");
        let ok = if float {
            text.parse::<f64>().is_ok()
        } else {
            text.parse::<i64>().is_ok()
        };
        if !ok {
            return Err((pos, ConfigErrorKind::BadNumber(snippet(text))));
        }
        Ok(Token {
            kind: if float {
                TokenKind::Float
            } else {
                TokenKind::Integer
            },
            text,
            pos,
        })
    }
}

fn include_error(rest: &str) -> ConfigErrorKind {
    match parse_include(rest) {
        Some((_, path)) => ConfigErrorKind::UnresolvedInclude(snippet(path)),
        None => ConfigErrorKind::BadInclude,
    }
}

/// Parses `<?include "path"?>` at the start of `text`: (directive length, path).
fn parse_include(text: &str) -> Option<(usize, &str)> {
    let rest = text.strip_prefix("<?include")?;
    let trimmed = rest.trim_start_matches([' ', '\t']);
    let after_quote = trimmed.strip_prefix('"')?;
    let end = after_quote.find('"')?;
    let path = after_quote.get(..end)?;
    let tail = after_quote.get(end + 1..)?;
    let tail_trimmed = tail.trim_start_matches([' ', '\t']);
    let close = tail_trimmed.strip_prefix("?>")?;
    if path.is_empty() || path.contains('\n') {
        return None;
    }
    Some((text.len() - close.len(), path))
}

/// Whether the JSON values starting at byte offsets `a` and `b` of `text` are the same token
/// stream: equal kinds and equal token text (strings compared still escaped, numbers as
/// written), so white space, comments and line breaks do not matter but `1` vs `1.0` or
/// `"a"` vs `"\u0061"` do. A lexical error in either value makes them different.
pub(crate) fn same_value(text: &str, a: usize, b: usize) -> bool {
    let mut left = Lexer::resume(text, a);
    let mut right = Lexer::resume(text, b);
    let mut depth = 0u32;
    loop {
        let (Ok(l), Ok(r)) = (left.next_token(), right.next_token()) else {
            return false;
        };
        if l.kind != r.kind || l.text != r.text {
            return false;
        }
        match l.kind {
            TokenKind::BeginMap | TokenKind::BeginList => depth += 1,
            TokenKind::EndMap | TokenKind::EndList => match depth.checked_sub(1) {
                Some(d) => depth = d,
                // A closing bracket where a value should start: not a value.
                None => return false,
            },
            TokenKind::End => return false,
            _ => {}
        }
        if depth == 0 {
            return true;
        }
    }
}

/// An `<?include "path"?>` directive found by [`next_include`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include<'t> {
    /// Byte range of the whole directive in the text (replace it with the file's content).
    pub range: core::ops::Range<usize>,
    /// The path, as written (Kea resolves it against the process's working directory).
    pub path: &'t str,
    /// Where the directive starts.
    pub pos: Position,
}

/// Finds the first `<?include "path"?>` outside strings and comments, so a caller with a file
/// system can splice the file in (textually, as Kea) before [`crate::config::parse`]. Kea
/// limits nesting to about 10 levels; the caller should too.
pub fn next_include(text: &str) -> Result<Option<Include<'_>>, super::ConfigError> {
    let mut lexer = Lexer::new(text);
    loop {
        let before = lexer;
        match lexer.next_token() {
            Ok(t) if t.kind == TokenKind::End => return Ok(None),
            Ok(_) => {}
            Err((pos, kind)) => {
                let mut probe = before;
                let _ = probe.skip_trivia();
                let start = probe.offset;
                let rest = text.get(start..).unwrap_or("");
                if rest.starts_with("<?include") {
                    return match parse_include(rest) {
                        Some((len, path)) => Ok(Some(Include {
                            range: start..start + len,
                            path,
                            pos,
                        })),
                        None => Err(super::ConfigError::new(
                            pos,
                            "",
                            ConfigErrorKind::BadInclude,
                        )),
                    };
                }
                return Err(super::ConfigError::new(pos, "", kind));
            }
        }
    }
}

/// Calls `out` with the bytes of the unescaped string (validated by the lexer).
pub fn unescape(raw: &str, mut out: impl FnMut(&[u8])) {
    if !raw.contains('\\') {
        out(raw.as_bytes());
        return;
    }
    for fragment in EscapedStr(raw).fragments() {
        match fragment {
            Ok(EscapedStringFragment::NotEscaped(s)) => out(s.as_bytes()),
            Ok(EscapedStringFragment::Escaped(c)) => {
                let mut buf = [0u8; 4];
                out(c.encode_utf8(&mut buf).as_bytes());
            }
            Err(_) => {}
        }
    }
}

/// Unescapes `raw` into `buf`, returning the string, or `None` if it does not fit. Most
/// config strings have no escapes and are returned as they are.
pub fn unescape_small<'b>(raw: &'b str, buf: &'b mut [u8]) -> Option<&'b str> {
    if !raw.contains('\\') {
        return Some(raw);
    }
    let mut len = 0usize;
    let mut overflow = false;
    unescape(raw, |bytes| {
        for &b in bytes {
            match buf.get_mut(len) {
                Some(slot) => {
                    *slot = b;
                    len += 1;
                }
                None => overflow = true,
            }
        }
    });
    if overflow {
        return None;
    }
    core::str::from_utf8(buf.get(..len)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> std::vec::Vec<TokenKind> {
        let mut l = Lexer::new(text);
        let mut v = std::vec::Vec::new();
        loop {
            let t = l.next_token().unwrap();
            v.push(t.kind);
            if t.kind == TokenKind::End {
                return v;
            }
        }
    }

    #[test]
    fn comments_of_all_three_kinds_are_skipped() {
        use TokenKind::*;
        let text = "# hash\n{ // slashes\n /* multi\n line */ \"a#b//c\": 1 }";
        assert_eq!(kinds(text), [BeginMap, String, Colon, Integer, EndMap, End]);
    }

    #[test]
    fn unterminated_comment_is_an_error_at_its_start() {
        let mut l = Lexer::new("{\n  /* open");
        l.next_token().unwrap();
        let (pos, kind) = l.next_token().unwrap_err();
        assert_eq!((pos.line, pos.column), (2, 3));
        assert_eq!(kind, ConfigErrorKind::UnterminatedComment);
    }

    #[test]
    fn numbers_are_integers_or_floats() {
        use TokenKind::*;
        assert_eq!(
            kinds("1 -3 0.5 .5 1e3"),
            [Integer, Integer, Float, Float, Float, End]
        );
        assert!(Lexer::new("1-2").next_token().is_err());
        assert_eq!(".5".parse::<f64>().ok(), Some(0.5));
    }

    #[test]
    fn positions_are_line_and_column() {
        let mut l = Lexer::new("{\n   \"k\" : true}");
        l.next_token().unwrap();
        let t = l.next_token().unwrap();
        assert_eq!((t.pos.line, t.pos.column, t.text), (2, 4, "k"));
        let t = l.next_token().unwrap();
        assert_eq!((t.pos.line, t.pos.column), (2, 8));
    }

    #[test]
    fn strings_keep_escapes_until_unescaped() {
        let mut l = Lexer::new(r#""a\"b\\c\u0041\n""#);
        let t = l.next_token().unwrap();
        assert_eq!(t.text, r#"a\"b\\c\u0041\n"#);
        let mut buf = [0u8; 16];
        assert_eq!(unescape_small(t.text, &mut buf), Some("a\"b\\cA\n"));
        assert_eq!(
            Lexer::new(r#""\q""#).next_token().unwrap_err().1,
            ConfigErrorKind::BadEscape
        );
        assert_eq!(
            Lexer::new("\"abc\n\"").next_token().unwrap_err().1,
            ConfigErrorKind::UnterminatedString
        );
    }

    #[test]
    fn capitalised_literals_are_rejected() {
        assert!(Lexer::new("True").next_token().is_err());
        assert_eq!(kinds("null")[0], TokenKind::Null);
    }

    #[test]
    fn includes_are_found_outside_strings_and_comments() {
        let text =
            "{ \"a\": \"<?include \\\"x\\\"?>\", # <?include \"y\"?>\n <?include \"z.json\"?> }";
        let inc = next_include(text).unwrap().unwrap();
        assert_eq!(inc.path, "z.json");
        assert_eq!(text.get(inc.range.clone()), Some("<?include \"z.json\"?>"));
        assert_eq!(inc.pos.line, 2);
        assert_eq!(next_include("{ }").unwrap(), None);
        let bad = next_include("{ <?include \"z.json\" }").unwrap_err();
        assert_eq!(bad.kind, ConfigErrorKind::BadInclude);
        assert_eq!((bad.line, bad.column), (1, 3));
    }
}
