//! The grammar-facing side of the JSON reader: maps and lists with paths, duplicate-key
//! detection, trailing-comma warnings, strictly typed values, and generic values (skipped
//! or copied as compact JSON for `user-context` and hook `parameters`).

use core::fmt::Write as _;

use super::error::{
    path_copy, ConfigError, ConfigErrorKind, ConfigPath, ConfigWarning, ConfigWarningKind, Position,
};
use super::json::{same_value, Lexer, Token, TokenKind};
use super::storage::TextArena;

/// Deepest nesting of maps and lists followed (Kea configs nest about 8 deep; hook
/// parameters a few more).
pub const MAX_DEPTH: u32 = 48;

/// Keys remembered per map for duplicate detection. Schema maps have fewer keys than
/// this; a free-form map (`user-context`) with more is checked for its first ones only.
const SEEN_KEYS: usize = 128;

/// A key already read in a map: its text, where it is, and where its value starts (byte
/// offset) so that a repeated key's value can be compared with it.
struct SeenKey<'t> {
    key: &'t str,
    pos: Position,
    value_offset: usize,
}

/// Iteration state of one map.
pub(crate) struct MapIter<'t> {
    base: usize,
    first: bool,
    seen: heapless::Vec<SeenKey<'t>, SEEN_KEYS>,
    /// Where the map starts.
    pub pos: Position,
}

impl MapIter<'_> {
    /// Sets the path length the map's keys are appended to.
    pub(crate) fn set_base(&mut self, base: usize) {
        self.base = base;
    }
}

/// Iteration state of one list.
pub(crate) struct ListIter {
    base: usize,
    first: bool,
    index: u32,
    /// Where the list starts.
    pub pos: Position,
}

/// A token reader that knows where it is.
pub(crate) struct Reader<'t, 'w> {
    lex: Lexer<'t>,
    before_peek: Lexer<'t>,
    peeked: Option<Token<'t>>,
    /// The JSON path of the value being read.
    pub path: ConfigPath,
    depth: u32,
    warn: &'w mut dyn FnMut(&ConfigWarning),
}

impl<'t, 'w> Reader<'t, 'w> {
    pub(crate) fn new(text: &'t str, warn: &'w mut dyn FnMut(&ConfigWarning)) -> Self {
        let lex = Lexer::new(text);
        Reader {
            lex,
            before_peek: lex,
            peeked: None,
            path: ConfigPath::new(),
            depth: 0,
            warn,
        }
    }

    /// The lexer positioned before the next token (to re-read a value later).
    pub(crate) fn checkpoint(&self) -> Lexer<'t> {
        if self.peeked.is_some() {
            self.before_peek
        } else {
            self.lex
        }
    }

    /// Continues reading at `lexer` with `path`; returns the state to come back to.
    pub(crate) fn jump(&mut self, lexer: Lexer<'t>, path: &str) -> (Lexer<'t>, ConfigPath) {
        let back = (self.checkpoint(), self.path.clone());
        self.lex = lexer;
        self.before_peek = lexer;
        self.peeked = None;
        self.path = path_copy(path);
        back
    }

    /// Returns to a state saved by [`Self::jump`].
    pub(crate) fn restore(&mut self, back: (Lexer<'t>, ConfigPath)) {
        self.lex = back.0;
        self.before_peek = back.0;
        self.peeked = None;
        self.path = back.1;
    }

    /// An error at `pos` for the current path.
    pub(crate) fn error(&self, pos: Position, kind: ConfigErrorKind) -> ConfigError {
        ConfigError {
            line: pos.line,
            column: pos.column,
            path: self.path.clone(),
            kind,
        }
    }

    /// An error at `pos` for `<current path>.<key>`.
    pub(crate) fn error_at_key(
        &self,
        pos: Position,
        key: &str,
        kind: ConfigErrorKind,
    ) -> ConfigError {
        let mut e = self.error(pos, kind);
        let _ = write!(e.path, ".{key}");
        e
    }

    /// Reports a warning for the current path.
    pub(crate) fn warn(&mut self, pos: Position, kind: ConfigWarningKind) {
        let w = ConfigWarning {
            line: pos.line,
            column: pos.column,
            path: self.path.clone(),
            kind,
        };
        (self.warn)(&w);
    }

    pub(crate) fn peek(&mut self) -> Result<Token<'t>, ConfigError> {
        if let Some(t) = self.peeked {
            return Ok(t);
        }
        self.before_peek = self.lex;
        let t = self
            .lex
            .next_token()
            .map_err(|(pos, kind)| self.error(pos, kind))?;
        self.peeked = Some(t);
        Ok(t)
    }

    pub(crate) fn next(&mut self) -> Result<Token<'t>, ConfigError> {
        let t = self.peek()?;
        self.peeked = None;
        Ok(t)
    }

    fn wrong_type(&self, t: &Token<'t>, expected: &'static str) -> ConfigError {
        self.error(
            t.pos,
            ConfigErrorKind::WrongType {
                expected,
                found: t.kind.describe(),
            },
        )
    }

    fn enter(&mut self, pos: Position) -> Result<(), ConfigError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(pos, ConfigErrorKind::TooDeep));
        }
        Ok(())
    }

    /// Reads `{`.
    pub(crate) fn open_map(&mut self) -> Result<MapIter<'t>, ConfigError> {
        let t = self.next()?;
        if t.kind != TokenKind::BeginMap {
            return Err(self.wrong_type(&t, "a map"));
        }
        self.enter(t.pos)?;
        Ok(MapIter {
            base: self.path.len(),
            first: true,
            seen: heapless::Vec::new(),
            pos: t.pos,
        })
    }

    fn truncate_path(&mut self, len: usize) {
        self.path.truncate(len);
    }

    /// The next key of the map (the path then ends in `.key`), or `None` after `}`.
    ///
    /// A key given twice in one map: Kea 2.2 rejects every repeat ("duplicate … entries").
    /// wren rejects a repeat whose value differs (naming the first position), but accepts
    /// one whose value is the same token stream ([`same_value`]: white space and comments
    /// aside) with a [`ConfigWarningKind::DuplicateKeyIgnored`] and skips it, because the
    /// founding user's config repeats `match-client-id`, `min-valid-lifetime`,
    /// `max-valid-lifetime` and `server-tag` with equal values and must load as written.
    pub(crate) fn next_key(
        &mut self,
        it: &mut MapIter<'t>,
    ) -> Result<Option<Token<'t>>, ConfigError> {
        loop {
            let Some(t) = self.next_key_token(it)? else {
                return Ok(None);
            };
            let colon = self.next()?;
            if colon.kind != TokenKind::Colon {
                return Err(self.error(
                    colon.pos,
                    ConfigErrorKind::Expected {
                        expected: "':'",
                        found: colon.kind.describe(),
                    },
                ));
            }
            let here = self.checkpoint();
            let value_offset = here.offset();
            if let Some(previous) = it.seen.iter().find(|s| s.key == t.text) {
                let previous_pos = previous.pos;
                if !same_value(here.text(), previous.value_offset, value_offset) {
                    return Err(self.error_at_key(
                        t.pos,
                        t.text,
                        ConfigErrorKind::DuplicateKey {
                            key: super::error::snippet(t.text),
                            previous: previous_pos,
                        },
                    ));
                }
                let _ = write!(self.path, ".{}", t.text);
                self.warn(
                    t.pos,
                    ConfigWarningKind::DuplicateKeyIgnored {
                        key: super::error::snippet(t.text),
                        previous: previous_pos,
                    },
                );
                self.skip()?;
                continue;
            }
            let _ = it.seen.push(SeenKey {
                key: t.text,
                pos: t.pos,
                value_offset,
            });
            let _ = write!(self.path, ".{}", t.text);
            return Ok(Some(t));
        }
    }

    /// Reads the separator and the next key (`None` after `}`), with the path at the map.
    fn next_key_token(&mut self, it: &mut MapIter<'t>) -> Result<Option<Token<'t>>, ConfigError> {
        self.truncate_path(it.base);
        let mut t = self.next()?;
        if it.first {
            it.first = false;
        } else {
            match t.kind {
                TokenKind::EndMap => {}
                TokenKind::Comma => {
                    if self.peek()?.kind == TokenKind::EndMap {
                        self.warn(t.pos, ConfigWarningKind::ExtraneousComma);
                        t = self.next()?;
                    } else {
                        t = self.next()?;
                        if t.kind != TokenKind::String {
                            return Err(self.error(
                                t.pos,
                                ConfigErrorKind::Expected {
                                    expected: "a key",
                                    found: t.kind.describe(),
                                },
                            ));
                        }
                    }
                }
                TokenKind::String => {
                    return Err(self.error(
                        t.pos,
                        ConfigErrorKind::MissingComma {
                            before: super::error::snippet(t.text),
                        },
                    ))
                }
                _ => {
                    return Err(self.error(
                        t.pos,
                        ConfigErrorKind::Expected {
                            expected: "',' or '}'",
                            found: t.kind.describe(),
                        },
                    ))
                }
            }
        }
        match t.kind {
            TokenKind::EndMap => {
                self.depth = self.depth.saturating_sub(1);
                Ok(None)
            }
            TokenKind::String => Ok(Some(t)),
            _ => Err(self.error(
                t.pos,
                ConfigErrorKind::Expected {
                    expected: "a key",
                    found: t.kind.describe(),
                },
            )),
        }
    }

    /// Reads `[`.
    pub(crate) fn open_list(&mut self) -> Result<ListIter, ConfigError> {
        let t = self.next()?;
        if t.kind != TokenKind::BeginList {
            return Err(self.wrong_type(&t, "a list"));
        }
        self.enter(t.pos)?;
        Ok(ListIter {
            base: self.path.len(),
            first: true,
            index: 0,
            pos: t.pos,
        })
    }

    /// Whether another item follows (the path then ends in `[i]`); consumes `]` at the end.
    pub(crate) fn next_item(&mut self, it: &mut ListIter) -> Result<bool, ConfigError> {
        self.truncate_path(it.base);
        if it.first {
            it.first = false;
            if self.peek()?.kind == TokenKind::EndList {
                self.next()?;
                self.depth = self.depth.saturating_sub(1);
                return Ok(false);
            }
        } else {
            let t = self.next()?;
            match t.kind {
                TokenKind::EndList => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(false);
                }
                TokenKind::Comma => {
                    if self.peek()?.kind == TokenKind::EndList {
                        self.warn(t.pos, ConfigWarningKind::ExtraneousComma);
                        self.next()?;
                        self.depth = self.depth.saturating_sub(1);
                        return Ok(false);
                    }
                }
                _ => {
                    return Err(self.error(
                        t.pos,
                        ConfigErrorKind::Expected {
                            expected: "',' or ']'",
                            found: t.kind.describe(),
                        },
                    ))
                }
            }
        }
        let _ = write!(self.path, "[{}]", it.index);
        it.index = it.index.saturating_add(1);
        Ok(true)
    }

    /// A string value (escapes not processed).
    pub(crate) fn string(&mut self) -> Result<Token<'t>, ConfigError> {
        let t = self.next()?;
        if t.kind != TokenKind::String {
            return Err(self.wrong_type(&t, "a string"));
        }
        Ok(t)
    }

    /// A boolean value.
    pub(crate) fn boolean(&mut self) -> Result<bool, ConfigError> {
        let t = self.next()?;
        match t.kind {
            TokenKind::True => Ok(true),
            TokenKind::False => Ok(false),
            _ => Err(self.wrong_type(&t, "a boolean")),
        }
    }

    /// An integer in `min..=max`.
    pub(crate) fn integer(&mut self, min: i64, max: i64) -> Result<(i64, Position), ConfigError> {
        let t = self.next()?;
        if t.kind != TokenKind::Integer {
            return Err(self.wrong_type(&t, "an integer"));
        }
        let v: i64 = t
            .text
            .parse()
            .map_err(|_| self.error(t.pos, ConfigErrorKind::OutOfRange { min, max }))?;
        if v < min || v > max {
            return Err(self.error(t.pos, ConfigErrorKind::OutOfRange { min, max }));
        }
        Ok((v, t.pos))
    }

    /// A `u32` (0..=u32::MAX).
    pub(crate) fn uint32(&mut self) -> Result<(u32, Position), ConfigError> {
        let (v, pos) = self.integer(0, i64::from(u32::MAX))?;
        Ok((u32::try_from(v).unwrap_or(u32::MAX), pos))
    }

    /// A float literal (Kea rejects `1` where a float is expected: kea-config.md §1).
    pub(crate) fn float(&mut self) -> Result<(f64, Position), ConfigError> {
        let t = self.next()?;
        if t.kind != TokenKind::Float {
            return Err(self.wrong_type(&t, "a floating-point number such as 0.5"));
        }
        let v: f64 = t.text.parse().map_err(|_| {
            self.error(
                t.pos,
                ConfigErrorKind::BadNumber(super::error::snippet(t.text)),
            )
        })?;
        Ok((v, t.pos))
    }

    /// Skips any value (maps still checked for duplicate keys).
    pub(crate) fn skip(&mut self) -> Result<(), ConfigError> {
        self.generic(None)
    }

    /// Copies any value as compact JSON into `out`.
    pub(crate) fn copy(&mut self, out: &mut TextArena<'_>) -> Result<(), ConfigError> {
        self.generic(Some(out))
    }

    fn emit(
        &self,
        out: &mut Option<&mut TextArena<'_>>,
        bytes: &[u8],
        pos: Position,
    ) -> Result<(), ConfigError> {
        if let Some(o) = out.as_deref_mut() {
            o.push(bytes).map_err(|k| self.error(pos, k))?;
        }
        Ok(())
    }

    fn generic(&mut self, mut out: Option<&mut TextArena<'_>>) -> Result<(), ConfigError> {
        let t = self.peek()?;
        match t.kind {
            TokenKind::BeginMap => {
                let mut it = self.open_map()?;
                self.emit(&mut out, b"{", t.pos)?;
                let mut first = true;
                while let Some(k) = self.next_key(&mut it)? {
                    if !first {
                        self.emit(&mut out, b",", k.pos)?;
                    }
                    first = false;
                    self.emit(&mut out, b"\"", k.pos)?;
                    self.emit(&mut out, k.text.as_bytes(), k.pos)?;
                    self.emit(&mut out, b"\":", k.pos)?;
                    self.generic(out.as_deref_mut())?;
                }
                self.emit(&mut out, b"}", t.pos)?;
            }
            TokenKind::BeginList => {
                let mut it = self.open_list()?;
                self.emit(&mut out, b"[", t.pos)?;
                let mut first = true;
                while self.next_item(&mut it)? {
                    if !first {
                        self.emit(&mut out, b",", t.pos)?;
                    }
                    first = false;
                    self.generic(out.as_deref_mut())?;
                }
                self.emit(&mut out, b"]", t.pos)?;
            }
            TokenKind::String => {
                self.next()?;
                self.emit(&mut out, b"\"", t.pos)?;
                self.emit(&mut out, t.text.as_bytes(), t.pos)?;
                self.emit(&mut out, b"\"", t.pos)?;
            }
            TokenKind::Integer
            | TokenKind::Float
            | TokenKind::True
            | TokenKind::False
            | TokenKind::Null => {
                self.next()?;
                self.emit(&mut out, t.text.as_bytes(), t.pos)?;
            }
            _ => {
                return Err(self.error(
                    t.pos,
                    ConfigErrorKind::Expected {
                        expected: "a value",
                        found: t.kind.describe(),
                    },
                ))
            }
        }
        Ok(())
    }
}

/// Finds the values of `keys` among the top-level keys of the map starting at `lexer`,
/// without reporting anything (the real pass reports errors). Returns, per key, the lexer
/// positioned before the value and the value's first token.
pub(crate) fn prescan<'t, const K: usize>(
    mut lexer: Lexer<'t>,
    keys: [&str; K],
) -> [Option<(Lexer<'t>, Token<'t>)>; K] {
    let mut found: [Option<(Lexer<'t>, Token<'t>)>; K] = [None; K];
    let Ok(open) = lexer.next_token() else {
        return found;
    };
    if open.kind != TokenKind::BeginMap {
        return found;
    }
    let mut depth = 1u32;
    let mut want_key = true;
    loop {
        let Ok(t) = lexer.next_token() else {
            return found;
        };
        match t.kind {
            TokenKind::End => return found,
            TokenKind::BeginMap | TokenKind::BeginList => depth += 1,
            TokenKind::EndMap | TokenKind::EndList => {
                depth -= 1;
                if depth == 0 {
                    return found;
                }
            }
            TokenKind::Comma if depth == 1 => want_key = true,
            TokenKind::String if depth == 1 && want_key => {
                want_key = false;
                match lexer.next_token() {
                    Ok(c) if c.kind == TokenKind::Colon => {}
                    _ => return found,
                }
                let before = lexer;
                let Ok(v) = lexer.next_token() else {
                    return found;
                };
                for (i, k) in keys.iter().enumerate() {
                    if *k == t.text {
                        if let Some(slot) = found.get_mut(i) {
                            if slot.is_none() {
                                *slot = Some((before, v));
                            }
                        }
                    }
                }
                if matches!(v.kind, TokenKind::BeginMap | TokenKind::BeginList) {
                    depth += 1;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prescan_finds_top_level_keys_only() {
        let text = r#"{ "a": { "id": 9 }, "pools": [ { "id": 8 } ], "id": 7, "subnet": "x" }"#;
        let [id, subnet, none] = prescan(Lexer::new(text), ["id", "subnet", "nope"]);
        assert_eq!(id.unwrap().1.text, "7");
        assert_eq!(subnet.unwrap().1.text, "x");
        assert!(none.is_none());
    }

    #[test]
    fn compact_copy_drops_whitespace_and_comments() {
        let text = "{ \"a\" : [ 1, 2.5 , # c\n \"x\\\"y\" ], \"b\": { }, \"c\": null, }";
        let mut warnings = 0;
        let mut warn = |_: &ConfigWarning| warnings += 1;
        let mut r = Reader::new(text, &mut warn);
        let mut buf = [0u8; 64];
        let mut arena = TextArena::new(&mut buf, false);
        r.copy(&mut arena).unwrap();
        let n = arena.len();
        assert_eq!(
            core::str::from_utf8(&buf[..n]).unwrap(),
            r#"{"a":[1,2.5,"x\"y"],"b":{},"c":null}"#
        );
        assert_eq!(warnings, 1, "the trailing comma is reported");
    }

    fn warnings_of(text: &str) -> Result<std::vec::Vec<ConfigWarning>, ConfigError> {
        let mut seen = std::vec::Vec::new();
        let mut warn = |w: &ConfigWarning| seen.push(w.clone());
        let mut r = Reader::new(text, &mut warn);
        let mut arena_buf = [0u8; 256];
        let mut arena = TextArena::new(&mut arena_buf, false);
        r.copy(&mut arena)?;
        drop(r);
        Ok(seen)
    }

    #[test]
    fn a_repeated_key_with_the_same_value_is_a_warning_and_the_repeat_is_skipped() {
        let text = "{\n \"a\": { \"x\": [1, \"s\"] },\n \"b\": 2,\n  \"a\" :{\"x\"  # c\n:[ 1 , \"s\" ]} }";
        let mut seen = std::vec::Vec::new();
        let mut warn = |w: &ConfigWarning| seen.push(w.clone());
        let mut r = Reader::new(text, &mut warn);
        let mut buf = [0u8; 64];
        let mut arena = TextArena::new(&mut buf, false);
        r.copy(&mut arena).unwrap();
        let n = arena.len();
        drop(r);
        assert_eq!(
            core::str::from_utf8(&buf[..n]).unwrap(),
            r#"{"a":{"x":[1,"s"]},"b":2}"#,
            "the repeat is not copied"
        );
        assert_eq!(seen.len(), 1);
        let w = &seen[0];
        assert_eq!((w.line, w.column, w.path.as_str()), (4, 3, ".a"));
        assert_eq!(
            w.kind,
            ConfigWarningKind::DuplicateKeyIgnored {
                key: super::super::error::snippet("a"),
                previous: Position { line: 2, column: 2 },
            }
        );
        assert_eq!(
            std::format!("{}", w.kind),
            "duplicate \"a\" entries with the same value (previous at line 2 col 2); the later one is ignored"
        );
    }

    #[test]
    fn repeated_keys_compare_tokens_not_meaning() {
        for (first, again) in [
            ("1", "1.0"),
            ("1", "2"),
            ("\"a\"", "\"\\u0061\""),
            ("true", "false"),
            ("[1, 2]", "[1, 2, 3]"),
            ("[1, 2]", "[1]"),
            ("{\"x\": 1}", "{\"x\": 1, \"y\": 2}"),
            ("{\"x\": 1}", "1"),
            ("null", "\"null\""),
        ] {
            let text = std::format!("{{ \"k\": {first}, \"k\": {again} }}");
            let e = warnings_of(&text).unwrap_err();
            assert!(
                matches!(e.kind, ConfigErrorKind::DuplicateKey { .. }),
                "{text}: {e}"
            );
            let text = std::format!("{{ \"k\": {again}, \"k\": {first} }}");
            assert!(warnings_of(&text).is_err(), "{text}");
        }
        for same in [
            "1",
            "-0.5",
            "\"a b\"",
            "null",
            "[]",
            "{}",
            "[[1], {\"q\": [true]}]",
        ] {
            let text = std::format!("{{ \"k\": {same}, \"k\": /* c */ {same} }}");
            let w = warnings_of(&text).unwrap();
            assert_eq!(w.len(), 1, "{text}");
        }
    }

    #[test]
    fn a_repeat_inside_a_skipped_repeat_is_still_checked() {
        let text = r#"{ "k": {"x": 1, "x": 1}, "k": {"x": 1, "x": 1} }"#;
        assert_eq!(warnings_of(text).unwrap().len(), 3);
        let text = r#"{ "k": 1, "k": 1, "k": 2 }"#;
        let e = warnings_of(text).unwrap_err();
        assert!(matches!(
            e.kind,
            ConfigErrorKind::DuplicateKey {
                previous: Position { line: 1, column: 3 },
                ..
            }
        ));
    }

    #[test]
    fn a_truncated_repeat_is_an_error() {
        assert!(warnings_of(r#"{ "k": [1, 2], "k": [1, 2"#).is_err());
        assert!(warnings_of(r#"{ "k": [1], "k": ]"#).is_err());
    }

    #[test]
    fn duplicate_keys_name_the_first_position() {
        let text = "{\n \"a\": 1,\n \"a\": 2 }";
        let mut warn = |_: &ConfigWarning| {};
        let mut r = Reader::new(text, &mut warn);
        let e = r.skip().unwrap_err();
        assert_eq!((e.line, e.column), (3, 2));
        assert_eq!(e.path.as_str(), ".a");
        assert!(matches!(
            e.kind,
            ConfigErrorKind::DuplicateKey {
                previous: Position { line: 2, column: 2 },
                ..
            }
        ));
    }
}
