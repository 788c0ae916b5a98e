//! Borrowed, lazy navigation of JSON text: a value is a slice of the input, maps are
//! searched by key on demand. Built on the config module's lexer
//! ([`crate::config::json::Lexer`]), so commands accept Kea's dialect (comments are allowed
//! in commands, kea-control-api.md §1) and nothing is copied or allocated.

use core::ops::Range;

use crate::config::json::{unescape_small, Lexer, Token, TokenKind};
use crate::config::{ConfigErrorKind, Position};

/// Why a JSON text could not be read.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    /// Where.
    pub pos: Position,
    /// What (the config lexer's error kinds, or `Expected`).
    pub kind: ConfigErrorKind,
}

impl core::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} at line {}, column {}",
            self.kind, self.pos.line, self.pos.column
        )
    }
}

fn expected(pos: Position, what: &'static str, found: TokenKind) -> SyntaxError {
    SyntaxError {
        pos,
        kind: ConfigErrorKind::Expected {
            expected: what,
            found: found.describe(),
        },
    }
}

/// Deepest nesting accepted.
pub const MAX_NESTING: usize = 64;

/// A JSON string still escaped as in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonStr<'t>(pub &'t str);

impl<'t> JsonStr<'t> {
    /// The text when it has no escapes (the common case), else `None`.
    pub fn plain(&self) -> Option<&'t str> {
        (!self.0.contains('\\')).then_some(self.0)
    }

    /// The unescaped text, into `buf` if it has escapes; `None` if `buf` is too small.
    pub fn unescape<'b>(&self, buf: &'b mut [u8]) -> Option<&'b str>
    where
        't: 'b,
    {
        unescape_small(self.0, buf)
    }

    /// Compares with unescaped text.
    pub fn eq_str(&self, s: &str) -> bool {
        match self.plain() {
            Some(p) => p == s,
            None => {
                let mut buf = [0u8; 256];
                self.unescape(&mut buf) == Some(s)
            }
        }
    }
}

/// A JSON value: scalars decoded, containers kept as text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'t> {
    /// A string.
    Str(JsonStr<'t>),
    /// An integer literal.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// `true`/`false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A map.
    Map(Node<'t>),
    /// A list.
    List(Node<'t>),
}

impl Value<'_> {
    /// How error texts name the value's type (Kea's element type names).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "integer",
            Value::Float(_) => "real",
            Value::Bool(_) => "boolean",
            Value::Null => "null",
            Value::Map(_) => "map",
            Value::List(_) => "list",
        }
    }
}

/// A container value: its text (from the bracket to the matching bracket) inside the whole
/// document, so positions and byte ranges stay meaningful for splicing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node<'t> {
    doc: &'t str,
    start: usize,
    end: usize,
    pos: Position,
}

/// Byte offset of a token's text in the document (tokens are slices of it).
fn offset_in(doc: &str, token: &Token<'_>) -> usize {
    (token.text.as_ptr() as usize).saturating_sub(doc.as_ptr() as usize)
}

/// Reads the value starting at the lexer; returns it and the byte range it covers.
fn read_value<'t>(
    doc: &'t str,
    lexer: &mut Lexer<'t>,
) -> Result<(Value<'t>, Range<usize>), SyntaxError> {
    let t = next(lexer)?;
    let start = offset_in(doc, &t);
    let scalar_end = start + t.text.len();
    let v = match t.kind {
        TokenKind::String => {
            // The token text excludes the quotes.
            return Ok((
                Value::Str(JsonStr(t.text)),
                start.saturating_sub(1)..scalar_end + 1,
            ));
        }
        TokenKind::Integer => Value::Int(t.text.parse().unwrap_or(0)),
        TokenKind::Float => Value::Float(t.text.parse().unwrap_or(0.0)),
        TokenKind::True => Value::Bool(true),
        TokenKind::False => Value::Bool(false),
        TokenKind::Null => Value::Null,
        TokenKind::BeginMap | TokenKind::BeginList => {
            let end = skip_container(doc, lexer)?;
            let node = Node {
                doc,
                start,
                end,
                pos: t.pos,
            };
            let v = if t.kind == TokenKind::BeginMap {
                Value::Map(node)
            } else {
                Value::List(node)
            };
            return Ok((v, start..end));
        }
        other => return Err(expected(t.pos, "a value", other)),
    };
    Ok((v, start..scalar_end))
}

fn next<'t>(lexer: &mut Lexer<'t>) -> Result<Token<'t>, SyntaxError> {
    lexer
        .next_token()
        .map_err(|(pos, kind)| SyntaxError { pos, kind })
}

/// Skips to the bracket closing the one just read; returns the offset after it.
fn skip_container(doc: &str, lexer: &mut Lexer<'_>) -> Result<usize, SyntaxError> {
    let mut depth = 1usize;
    loop {
        let t = next(lexer)?;
        match t.kind {
            TokenKind::BeginMap | TokenKind::BeginList => depth += 1,
            TokenKind::EndMap | TokenKind::EndList => {
                depth -= 1;
                if depth == 0 {
                    return Ok(offset_in(doc, &t) + 1);
                }
            }
            TokenKind::End => return Err(expected(t.pos, "'}' or ']'", t.kind)),
            _ => {}
        }
    }
}

/// Parses a whole document: one value, then nothing but white space and comments.
pub fn parse_document(doc: &str) -> Result<Value<'_>, SyntaxError> {
    let mut lexer = Lexer::new(doc);
    let (v, _) = read_value(doc, &mut lexer)?;
    let t = next(&mut lexer)?;
    if t.kind != TokenKind::End {
        return Err(expected(t.pos, "the end of the text", t.kind));
    }
    // Containers were only skipped: validate their structure now.
    if let Value::Map(n) | Value::List(n) = v {
        n.validate()?;
    }
    Ok(v)
}

impl<'t> Node<'t> {
    /// The container's text (`{…}` or `[…]`).
    pub fn text(&self) -> &'t str {
        self.doc.get(self.start..self.end).unwrap_or("")
    }

    /// The byte range of the container in the whole document.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The whole document the container is part of.
    pub fn document(&self) -> &'t str {
        self.doc
    }

    /// Where it starts (line and column in the document).
    pub fn pos(&self) -> Position {
        self.pos
    }

    fn lexer_inside(&self) -> Lexer<'t> {
        // Lex the container's own text: positions are then relative to the container,
        // which is why `pos` is kept separately.
        let mut l = Lexer::new(self.text());
        let _ = l.next_token(); // the opening bracket
        l
    }

    fn sub_doc(&self) -> &'t str {
        self.text()
    }

    /// Shifts a range in the container's text to the whole document.
    fn shift(&self, r: Range<usize>) -> Range<usize> {
        r.start + self.start..r.end + self.start
    }

    /// Checks the container's grammar (maps of `"key": value` with commas, lists of values;
    /// Kea's trailing commas are accepted).
    pub fn validate(&self) -> Result<(), SyntaxError> {
        self.validate_depth(0)
    }

    /// Maps a position in the container's own text to the document.
    fn absolute(&self, e: SyntaxError) -> SyntaxError {
        let pos = Position {
            line: self.pos.line.saturating_add(e.pos.line).saturating_sub(1),
            column: if e.pos.line == 1 {
                self.pos
                    .column
                    .saturating_add(e.pos.column)
                    .saturating_sub(1)
            } else {
                e.pos.column
            },
        };
        SyntaxError { pos, ..e }
    }

    fn validate_depth(&self, depth: usize) -> Result<(), SyntaxError> {
        // Deeper nesting than any Kea config or command uses is refused, so a hostile
        // `[[[[…` cannot exhaust the stack.
        if depth > MAX_NESTING {
            return Err(SyntaxError {
                pos: self.pos,
                kind: ConfigErrorKind::Expected {
                    expected: "at most 64 levels of nesting",
                    found: "deeper nesting",
                },
            });
        }
        let is_map = self.text().starts_with('{');
        let doc = self.sub_doc();
        let mut l = self.lexer_inside();
        let close = if is_map {
            TokenKind::EndMap
        } else {
            TokenKind::EndList
        };
        loop {
            let t = {
                let mut probe = l;
                next(&mut probe).map_err(|e| self.absolute(e))?
            };
            if t.kind == close {
                return Ok(());
            }
            if is_map {
                let k = next(&mut l).map_err(|e| self.absolute(e))?;
                if k.kind != TokenKind::String {
                    return Err(self.absolute(expected(k.pos, "a key string", k.kind)));
                }
                let c = next(&mut l).map_err(|e| self.absolute(e))?;
                if c.kind != TokenKind::Colon {
                    return Err(self.absolute(expected(c.pos, "':'", c.kind)));
                }
            }
            let (v, _) = read_value(doc, &mut l).map_err(|e| self.absolute(e))?;
            if let Value::Map(n) | Value::List(n) = rebase(v, self) {
                n.validate_depth(depth + 1)?;
            }
            let sep = next(&mut l).map_err(|e| self.absolute(e))?;
            match sep.kind {
                TokenKind::Comma => {}
                k if k == close => return Ok(()),
                k => return Err(self.absolute(expected(sep.pos, "',' or the closing bracket", k))),
            }
        }
    }

    /// The entries of a map, in text order: (key, value, byte range of the whole
    /// `"key": value` entry in the document).
    pub fn entries(&self) -> Entries<'t> {
        Entries {
            node: *self,
            lexer: self.lexer_inside(),
            done: !self.text().starts_with('{'),
        }
    }

    /// The items of a list, in order, with their byte ranges in the document.
    pub fn items(&self) -> Items<'t> {
        Items {
            node: *self,
            lexer: self.lexer_inside(),
            done: !self.text().starts_with('['),
        }
    }

    /// The value of `key` in a map (the first one; Kea rejects duplicates elsewhere).
    pub fn get(&self, key: &str) -> Option<Value<'t>> {
        self.entries()
            .find(|(k, _, _)| k.eq_str(key))
            .map(|(_, v, _)| v)
    }

    /// The value of `key` with the byte range of its entry.
    pub fn get_entry(&self, key: &str) -> Option<(Value<'t>, Range<usize>)> {
        self.entries()
            .find(|(k, _, _)| k.eq_str(key))
            .map(|(_, v, r)| (v, r))
    }
}

/// Iterator over map entries (stops at the first syntax problem; validate first).
#[derive(Clone, Debug)]
pub struct Entries<'t> {
    node: Node<'t>,
    lexer: Lexer<'t>,
    done: bool,
}

impl<'t> Iterator for Entries<'t> {
    type Item = (JsonStr<'t>, Value<'t>, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let doc = self.node.sub_doc();
        let k = next(&mut self.lexer).ok()?;
        if k.kind != TokenKind::String {
            self.done = true;
            return None;
        }
        let key_start = offset_in(doc, &k).saturating_sub(1);
        let colon = next(&mut self.lexer).ok()?;
        if colon.kind != TokenKind::Colon {
            self.done = true;
            return None;
        }
        let Ok((v, r)) = read_value(doc, &mut self.lexer) else {
            self.done = true;
            return None;
        };
        let v = rebase(v, &self.node);
        match next(&mut self.lexer).map(|t| t.kind) {
            Ok(TokenKind::Comma) => {}
            _ => self.done = true,
        }
        Some((JsonStr(k.text), v, self.node.shift(key_start..r.end)))
    }
}

/// Iterator over list items.
#[derive(Clone, Debug)]
pub struct Items<'t> {
    node: Node<'t>,
    lexer: Lexer<'t>,
    done: bool,
}

impl<'t> Iterator for Items<'t> {
    type Item = (Value<'t>, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let doc = self.node.sub_doc();
        let mut probe = self.lexer;
        if next(&mut probe).ok()?.kind == TokenKind::EndList {
            self.done = true;
            return None;
        }
        let Ok((v, r)) = read_value(doc, &mut self.lexer) else {
            self.done = true;
            return None;
        };
        let v = rebase(v, &self.node);
        match next(&mut self.lexer).map(|t| t.kind) {
            Ok(TokenKind::Comma) => {}
            _ => self.done = true,
        }
        Some((v, self.node.shift(r)))
    }
}

/// A container read from a node's own text refers to the whole document again.
fn rebase<'t>(v: Value<'t>, parent: &Node<'t>) -> Value<'t> {
    let fix = |n: Node<'t>| Node {
        doc: parent.doc,
        start: n.start + parent.start,
        end: n.end + parent.start,
        pos: Position {
            line: parent.pos.line.saturating_add(n.pos.line).saturating_sub(1),
            column: if n.pos.line == 1 {
                parent
                    .pos
                    .column
                    .saturating_add(n.pos.column)
                    .saturating_sub(1)
            } else {
                n.pos.column
            },
        },
    };
    match v {
        Value::Map(n) => Value::Map(fix(n)),
        Value::List(n) => Value::List(fix(n)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lists_and_ranges() {
        let doc = r#"{ "a": 1, "b": [true, null, "x\"y"], /* c */ "c": { "d": -2.5 }, }"#;
        let Value::Map(m) = parse_document(doc).unwrap() else {
            panic!()
        };
        assert_eq!(m.get("a"), Some(Value::Int(1)));
        let Some(Value::List(l)) = m.get("b") else {
            panic!()
        };
        let items: std::vec::Vec<_> = l.items().map(|(v, _)| v).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[2], Value::Str(JsonStr(r#"x\"y"#)));
        let (v, r) = m.get_entry("c").unwrap();
        assert_eq!(&doc[r], r#""c": { "d": -2.5 }"#);
        let Value::Map(c) = v else { panic!() };
        assert_eq!(c.text(), r#"{ "d": -2.5 }"#);
        assert_eq!(c.get("d"), Some(Value::Float(-2.5)));
        let (_, r) = l.items().nth(1).unwrap();
        assert_eq!(&doc[r], "null");
        let (_, r) = l.items().nth(2).unwrap();
        assert_eq!(&doc[r], r#""x\"y""#);
        assert_eq!(m.get("zz"), None);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse_document("{ \"a\": 1 \"b\": 2 }").unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (1, 10));
        assert!(parse_document("{ \"a\": 1 } x").is_err());
        assert!(parse_document("{ \"a\": [1, 2 }").is_err());
        assert!(parse_document("{ 1: 2 }").is_err());
        assert!(parse_document("").is_err());
    }

    #[test]
    fn escaped_keys_compare_unescaped() {
        let Value::Map(m) = parse_document(r#"{ "com\u006dand": "x" }"#).unwrap() else {
            panic!()
        };
        assert!(m.get("command").is_some());
    }
}
