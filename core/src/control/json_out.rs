//! A JSON writer into a caller buffer, in Kea's layout, that can be resumed chunk by chunk.
//!
//! Kea prints maps as `{ "k": v, … }` and lists as `[ a, b ]` (empty: `{  }`, `[  ]`;
//! kea-control-api.md §1 "Serialisation"). Clients must not depend on it, but matching it
//! costs nothing and keeps `diff`s against Kea quiet.
//!
//! # Chunks and resumption
//! A reply can be far larger than any buffer worth keeping (`lease4-get-all` over 100,000
//! leases is ~25 MB). The writer therefore renders a *window* of the document: bytes before
//! [`Cursor::delivered`] are discarded, bytes after the end of the buffer stop the writer
//! with [`BufferFull`]. The renderer is re-run for the next window. To keep that linear, a
//! list renderer marks each item with [`JsonOut::item`]: the writer remembers the last item
//! boundary it reached (position and nesting state), and the next run jumps straight there
//! with [`JsonOut::resume_item`] instead of re-rendering the items already sent. Only the
//! item cut in two is rendered twice.
//!
//! The renderer must be deterministic between chunks (same state, same bytes); the daemon
//! renders all chunks of a reply before it handles the next packet.

use core::fmt::{self, Write as _};
use core::net::Ipv4Addr;

/// The buffer is full: the chunk is complete, continue with the returned [`Cursor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferFull;

/// Result of every write.
pub type WriteResult = Result<(), BufferFull>;

/// Deepest nesting the writer tracks (control replies nest at most 5 levels).
pub const MAX_DEPTH: u8 = 31;

/// An item boundary the writer reached: where a resumed render can jump to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The renderer's item number (for example the position in the address-sorted list).
    pub item: u64,
    /// Document position of the boundary.
    pos: u64,
    depth: u8,
    /// Bit `d` set: the container at depth `d` already has an element (a comma is due).
    has_items: u32,
    after_key: bool,
}

/// Where the next chunk of a reply starts. `Cursor::default()` is the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Bytes of the document already delivered.
    pub delivered: u64,
    /// The last item boundary before `delivered`, if the renderer marked items.
    pub resume: Option<Checkpoint>,
}

/// One rendered chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Bytes written at the start of the buffer.
    pub len: usize,
    /// True when the document is complete; otherwise call again with `next`.
    pub done: bool,
    /// The cursor for the next chunk.
    pub next: Cursor,
}

/// The writer.
#[derive(Debug)]
pub struct JsonOut<'b> {
    buf: &'b mut [u8],
    len: usize,
    pos: u64,
    skip: u64,
    full: bool,
    depth: u8,
    has_items: u32,
    after_key: bool,
    resume: Option<Checkpoint>,
    last: Option<Checkpoint>,
}

impl<'b> JsonOut<'b> {
    /// A writer for the first chunk of a document.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self::resume(buf, Cursor::default())
    }

    /// A writer for the chunk that starts at `cursor`.
    pub fn resume(buf: &'b mut [u8], cursor: Cursor) -> Self {
        JsonOut {
            buf,
            len: 0,
            pos: 0,
            skip: cursor.delivered,
            full: false,
            depth: 0,
            has_items: 0,
            after_key: false,
            resume: cursor.resume,
            last: cursor.resume,
        }
    }

    /// If this chunk resumes inside a marked list, jumps to that item and returns its
    /// number: the renderer skips everything before it. Returns `None` (once and for all)
    /// otherwise, and the renderer starts from the top.
    pub fn resume_item(&mut self) -> Option<u64> {
        let cp = self.resume.take()?;
        self.pos = cp.pos;
        self.depth = cp.depth;
        self.has_items = cp.has_items;
        self.after_key = cp.after_key;
        Some(cp.item)
    }

    /// Marks the boundary before item `item` of a list.
    pub fn item(&mut self, item: u64) {
        if !self.full {
            self.last = Some(Checkpoint {
                item,
                pos: self.pos,
                depth: self.depth,
                has_items: self.has_items,
                after_key: self.after_key,
            });
        }
    }

    /// Bytes written into the buffer so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written into the buffer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The written bytes.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Ends the chunk: how much was written and where the next chunk starts.
    pub fn finish(self) -> Chunk {
        let delivered = self.skip.saturating_add(self.len as u64);
        Chunk {
            len: self.len,
            done: !self.full,
            next: Cursor {
                delivered,
                resume: if self.full { self.last } else { None },
            },
        }
    }

    /// Appends raw bytes (already valid JSON text in context).
    fn put(&mut self, bytes: &[u8]) -> WriteResult {
        if self.full {
            return Err(BufferFull);
        }
        let start = self.pos;
        self.pos = start.saturating_add(bytes.len() as u64);
        // The part before `skip` was delivered in an earlier chunk.
        let drop = self.skip.saturating_sub(start).min(bytes.len() as u64) as usize;
        let rest = bytes.get(drop..).unwrap_or(&[]);
        if rest.is_empty() {
            return Ok(());
        }
        let room = self.buf.len().saturating_sub(self.len);
        let n = rest.len().min(room);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.len += n;
        if n < rest.len() {
            self.full = true;
            return Err(BufferFull);
        }
        Ok(())
    }

    /// The separator due before a value or key at the current depth.
    fn separate(&mut self) -> WriteResult {
        if self.after_key {
            self.after_key = false;
            return Ok(());
        }
        let bit = 1u32 << (self.depth & 31);
        if self.depth > 0 && self.has_items & bit != 0 {
            self.put(b", ")?;
        }
        self.has_items |= bit;
        Ok(())
    }

    fn open(&mut self, bracket: &'static [u8]) -> WriteResult {
        self.separate()?;
        self.put(bracket)?;
        self.depth = self.depth.saturating_add(1).min(MAX_DEPTH);
        self.has_items &= !(1u32 << (self.depth & 31));
        Ok(())
    }

    fn close(&mut self, bracket: &'static [u8]) -> WriteResult {
        self.has_items &= !(1u32 << (self.depth & 31));
        self.depth = self.depth.saturating_sub(1);
        self.put(bracket)
    }

    /// `{ `
    pub fn begin_object(&mut self) -> WriteResult {
        self.open(b"{ ")
    }

    /// ` }`
    pub fn end_object(&mut self) -> WriteResult {
        self.close(b" }")
    }

    /// `[ `
    pub fn begin_array(&mut self) -> WriteResult {
        self.open(b"[ ")
    }

    /// ` ]`
    pub fn end_array(&mut self) -> WriteResult {
        self.close(b" ]")
    }

    /// `"key": ` inside an object (the caller writes keys in Kea's sorted order).
    pub fn key(&mut self, key: &str) -> WriteResult {
        self.separate()?;
        self.quoted(key)?;
        self.put(b": ")?;
        self.after_key = true;
        Ok(())
    }

    /// A key given still escaped (from JSON text the lexer accepted).
    pub fn key_escaped(&mut self, raw: &str) -> WriteResult {
        self.separate()?;
        self.put(b"\"")?;
        self.put(raw.as_bytes())?;
        self.put(b"\": ")?;
        self.after_key = true;
        Ok(())
    }

    /// A floating-point number as Rust's `Debug` prints it (always with a `.` or an
    /// exponent, so it reads back as a float: Kea's `t1-percent` must be one).
    pub fn f64(&mut self, v: f64) -> WriteResult {
        if !v.is_finite() {
            return self.null();
        }
        self.separate()?;
        let mut esc = Escaper {
            out: self,
            full: false,
        };
        let r = esc.write_fmt(format_args!("{v:?}"));
        if esc.full || r.is_err() {
            self.full = true;
            return Err(BufferFull);
        }
        Ok(())
    }

    fn quoted(&mut self, s: &str) -> WriteResult {
        self.put(b"\"")?;
        self.escaped(s)?;
        self.put(b"\"")
    }

    /// Escapes `"`, `\` and control characters (RFC 8259 §7).
    fn escaped(&mut self, s: &str) -> WriteResult {
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short: Option<&[u8]> = match b {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0x08 => Some(b"\\b"),
                0x0c => Some(b"\\f"),
                _ => None,
            };
            if short.is_none() && b >= 0x20 {
                continue;
            }
            self.put(bytes.get(start..i).unwrap_or(&[]))?;
            match short {
                Some(e) => self.put(e)?,
                None => {
                    let e = [
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        hex_digit(b >> 4),
                        hex_digit(b & 15),
                    ];
                    self.put(&e)?;
                }
            }
            start = i + 1;
        }
        self.put(bytes.get(start..).unwrap_or(&[]))
    }

    /// A string value.
    pub fn string(&mut self, s: &str) -> WriteResult {
        self.separate()?;
        self.quoted(s)
    }

    /// A string value formatted with `format_args!`.
    pub fn string_fmt(&mut self, args: fmt::Arguments<'_>) -> WriteResult {
        self.separate()?;
        self.put(b"\"")?;
        let mut esc = Escaper {
            out: self,
            full: false,
        };
        let r = esc.write_fmt(args);
        if esc.full || r.is_err() {
            self.full = true;
            return Err(BufferFull);
        }
        self.put(b"\"")
    }

    /// An unsigned number.
    pub fn u64(&mut self, v: u64) -> WriteResult {
        self.separate()?;
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = v;
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (v % 10) as u8;
            }
            v /= 10;
            if v == 0 || i == 0 {
                break;
            }
        }
        self.put(digits.get(i..).unwrap_or(&[]))
    }

    /// A signed number.
    pub fn i64(&mut self, v: i64) -> WriteResult {
        if v < 0 {
            self.separate()?;
            self.put(b"-")?;
            // The separator is written; the digits follow without another one.
            self.after_key = true;
        }
        self.u64(v.unsigned_abs())
    }

    /// `true` / `false`.
    pub fn bool(&mut self, v: bool) -> WriteResult {
        self.separate()?;
        self.put(if v { b"true" } else { b"false" })
    }

    /// `null`.
    pub fn null(&mut self) -> WriteResult {
        self.separate()?;
        self.put(b"null")
    }

    /// A pre-rendered JSON value (compact text the caller vouches for).
    pub fn raw(&mut self, json: &str) -> WriteResult {
        self.separate()?;
        self.put(json.as_bytes())
    }

    /// A string value given still escaped, as it appears between the quotes of JSON text
    /// the lexer accepted (its escapes are valid JSON).
    pub fn string_escaped(&mut self, raw: &str) -> WriteResult {
        self.separate()?;
        self.put(b"\"")?;
        self.put(raw.as_bytes())?;
        self.put(b"\"")
    }

    /// An address as a string value.
    pub fn ipv4(&mut self, a: Ipv4Addr) -> WriteResult {
        self.string_fmt(format_args!("{a}"))
    }

    /// Bytes as Kea prints identifiers: lowercase hex pairs joined by `:` (`"aa:bb:cc"`).
    pub fn hex(&mut self, bytes: &[u8]) -> WriteResult {
        self.separate()?;
        self.put(b"\"")?;
        for (i, &b) in bytes.iter().enumerate() {
            if i > 0 {
                self.put(b":")?;
            }
            self.put(&[hex_digit(b >> 4), hex_digit(b & 15)])?;
        }
        self.put(b"\"")
    }

    /// `"key": "value"`.
    pub fn field_str(&mut self, key: &str, v: &str) -> WriteResult {
        self.key(key)?;
        self.string(v)
    }

    /// `"key": 123`.
    pub fn field_u64(&mut self, key: &str, v: u64) -> WriteResult {
        self.key(key)?;
        self.u64(v)
    }

    /// `"key": true`.
    pub fn field_bool(&mut self, key: &str, v: bool) -> WriteResult {
        self.key(key)?;
        self.bool(v)
    }
}

/// The lowercase hex digit of a nibble (`n` < 16).
const fn hex_digit(n: u8) -> u8 {
    match n & 15 {
        x @ 0..=9 => b'0' + x,
        x => b'a' + x - 10,
    }
}

/// `fmt::Write` adapter that escapes into the writer.
struct Escaper<'w, 'b> {
    out: &'w mut JsonOut<'b>,
    full: bool,
}

impl fmt::Write for Escaper<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.out.escaped(s).is_err() {
            self.full = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// Renders a whole document into `buf` with `render`, or `Err(BufferFull)` (convenience for
/// small replies and tests).
pub fn render_all(
    buf: &mut [u8],
    render: impl FnOnce(&mut JsonOut<'_>) -> WriteResult,
) -> Result<&str, BufferFull> {
    let mut w = JsonOut::new(&mut *buf);
    render(&mut w)?;
    let len = w.finish().len;
    buf.get(..len)
        .and_then(|b| core::str::from_utf8(b).ok())
        .ok_or(BufferFull)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn doc(w: &mut JsonOut<'_>, n: u64) -> WriteResult {
        w.begin_object()?;
        let start = match w.resume_item() {
            Some(i) => i,
            None => {
                w.key("arguments")?;
                w.begin_object()?;
                w.key("leases")?;
                w.begin_array()?;
                0
            }
        };
        for i in start..n {
            w.item(i);
            w.begin_object()?;
            w.field_u64("i", i)?;
            w.field_str("name", "a\"b\\c\n\u{1}")?;
            w.end_object()?;
        }
        w.end_array()?;
        w.end_object()?;
        w.field_u64("result", 0)?;
        w.end_object()
    }

    #[test]
    fn kea_layout_and_escapes() {
        let mut buf = [0u8; 512];
        let s = render_all(&mut buf, |w| doc(w, 2)).unwrap();
        assert_eq!(
            s,
            r#"{ "arguments": { "leases": [ { "i": 0, "name": "a\"b\\c\n\u0001" }, { "i": 1, "name": "a\"b\\c\n\u0001" } ] }, "result": 0 }"#
        );
        let s = render_all(&mut buf, |w| doc(w, 0)).unwrap();
        assert_eq!(s, r#"{ "arguments": { "leases": [  ] }, "result": 0 }"#);
    }

    #[test]
    fn numbers_bools_null_hex() {
        let mut buf = [0u8; 128];
        let s = render_all(&mut buf, |w| {
            w.begin_array()?;
            w.u64(0)?;
            w.u64(u64::MAX)?;
            w.i64(-42)?;
            w.i64(i64::MIN)?;
            w.bool(true)?;
            w.null()?;
            w.hex(&[0x0a, 0xff])?;
            w.hex(&[])?;
            w.ipv4(Ipv4Addr::new(198, 18, 0, 1))?;
            w.end_array()
        })
        .unwrap();
        assert_eq!(
            s,
            r#"[ 0, 18446744073709551615, -42, -9223372036854775808, true, null, "0a:ff", "", "198.18.0.1" ]"#
        );
    }

    #[test]
    fn buffer_full_is_an_error_not_a_panic() {
        let mut buf = [0u8; 10];
        assert_eq!(render_all(&mut buf, |w| doc(w, 3)), Err(BufferFull));
        let mut empty = [0u8; 0];
        assert_eq!(render_all(&mut empty, |w| doc(w, 0)), Err(BufferFull));
    }

    /// Every chunk size from 1 byte up reassembles the same document.
    #[test]
    fn chunks_of_any_size_reassemble_the_document() {
        let mut big = [0u8; 4096];
        let whole = String::from(render_all(&mut big, |w| doc(w, 20)).unwrap());
        for size in [1usize, 2, 3, 7, 16, 33, 64, 100, 1000, 5000] {
            let mut out = Vec::new();
            let mut cursor = Cursor::default();
            let mut buf = std::vec![0u8; size];
            let mut rounds = 0;
            loop {
                let mut w = JsonOut::resume(&mut buf, cursor);
                let _ = doc(&mut w, 20);
                let chunk = w.finish();
                out.extend_from_slice(&buf[..chunk.len]);
                rounds += 1;
                assert!(rounds < 10_000);
                if chunk.done {
                    break;
                }
                assert!(chunk.len > 0 || size == 0);
                cursor = chunk.next;
            }
            assert_eq!(String::from_utf8(out).unwrap(), whole, "chunk size {size}");
        }
    }

    /// Resumption jumps to the last item boundary: rendering work per chunk stays bounded.
    #[test]
    fn resume_starts_at_the_cut_item() {
        let mut buf = [0u8; 100];
        let mut w = JsonOut::new(&mut buf);
        assert!(doc(&mut w, 1000).is_err());
        let chunk = w.finish();
        assert!(!chunk.done);
        let cp = chunk.next.resume.unwrap();
        assert!(cp.item >= 1 && cp.item <= 3, "{cp:?}");
        let mut buf2 = [0u8; 100];
        let mut w = JsonOut::resume(&mut buf2, chunk.next);
        assert_eq!(w.resume_item(), Some(cp.item));
        assert_eq!(w.resume_item(), None);
    }

    #[test]
    fn formatted_strings_are_escaped() {
        let mut buf = [0u8; 64];
        let s = render_all(&mut buf, |w| w.string_fmt(format_args!("'{}' x", "a\"b"))).unwrap();
        assert_eq!(s, r#""'a\"b' x""#);
    }
}
