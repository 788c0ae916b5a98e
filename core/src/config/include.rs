//! `<?include "path"?>`: splicing included files into one text, and mapping positions in
//! that text back to the file and line they came from.
//!
//! Kea 2.2 handles the directive in its lexer: the named file's content replaces the
//! directive, as text, wherever a token may start (not inside strings or comments), and
//! included files may include others, up to 10 levels ("Too many nested include.").
//! The path is opened as written (relative paths against the process's working directory).
//!
//! The core does no I/O, so [`splice`] takes a `read` closure that copies a file into a
//! buffer it is given, and writes the spliced text into a caller buffer; a caller slice of
//! [`Segment`]s records which byte ranges came from which file, so that [`SourceMap`] can
//! turn the line and column of a [`ConfigError`](super::ConfigError) or
//! [`ConfigWarning`](super::ConfigWarning) (which count in the spliced text) into a
//! [`SourceLocation`]: file index, line and column in that file.
//!
//! ```text
//! let mut paths = vec![main_path];                         // file 0 is the main text
//! let mut out = vec![0u8; 1 << 20];                         // grow and retry on BufferTooSmall
//! let mut segments = vec![Segment::EMPTY; 64];              // 1 + 2 per include
//! let (text, map) = include::splice(&main, &mut out, &mut segments, |path, _from, dst| {
//!     let bytes = std::fs::read(path)?;                     // file `paths.len()`
//!     paths.push(path.to_owned());
//!     if let Some(d) = dst.get_mut(..bytes.len()) { d.copy_from_slice(&bytes) }
//!     Ok(bytes.len())                                       // > dst.len(): BufferTooSmall
//! })?;
//! // … config::measure(text), config::parse(text, …); on an error e:
//! if let Some(at) = map.locate(text, e.line, e.column) { /* paths[at.file], at.line, at.column */ }
//! ```

use super::json::next_include;

/// Deepest nesting of included files: Kea's lexer refuses an 11th level ("Too many nested
/// include.").
pub const MAX_INCLUDE_DEPTH: u8 = 10;

/// A line and column in one file of a spliced text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceLocation {
    /// Which file: 0 is the main text, then files in the order `read` was called.
    pub file: u32,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters (as [`super::Position`]).
    pub column: u32,
}

/// One run of the spliced text that comes unbroken from one file. Segments are in text
/// order; a run ends where the next one starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Byte offset of the run in the spliced text.
    pub start: usize,
    /// Where the run starts in its file.
    pub source: SourceLocation,
    /// Include depth of the file (0: the main text).
    pub depth: u8,
}

impl Segment {
    /// An unused slot, to size the caller's slice with.
    pub const EMPTY: Segment = Segment {
        start: 0,
        source: SourceLocation {
            file: 0,
            line: 1,
            column: 1,
        },
        depth: 0,
    };
}

/// Why [`splice`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpliceError<E> {
    /// The output buffer is too small: at least `needed` bytes are needed to go on (retry
    /// with a larger one; the total is not known until every file has been read).
    BufferTooSmall {
        /// Bytes needed at the point of failure.
        needed: usize,
    },
    /// The segment slice is full (each include takes two more).
    TooManySegments,
    /// An include nested deeper than [`MAX_INCLUDE_DEPTH`]; `at` is the directive.
    TooDeep {
        /// Where the directive is.
        at: SourceLocation,
    },
    /// The file read for the directive at `at` is not UTF-8.
    NotUtf8 {
        /// Where the directive is.
        at: SourceLocation,
    },
    /// `read` failed for the directive at `at`.
    Read {
        /// Where the directive is.
        at: SourceLocation,
        /// The caller's error.
        error: E,
    },
}

impl<E: core::fmt::Display> core::fmt::Display for SpliceError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SpliceError::BufferTooSmall { needed } => {
                write!(f, "included text needs at least {needed} bytes of buffer")
            }
            SpliceError::TooManySegments => f.write_str("too many included files"),
            SpliceError::TooDeep { at } => write!(
                f,
                "line {} col {}: Too many nested include (more than {MAX_INCLUDE_DEPTH} levels)",
                at.line, at.column
            ),
            SpliceError::NotUtf8 { at } => write!(
                f,
                "line {} col {}: the included file is not UTF-8 text",
                at.line, at.column
            ),
            SpliceError::Read { at, error } => {
                write!(f, "line {} col {}: {error}", at.line, at.column)
            }
        }
    }
}

/// Where the spliced text came from: the used part of the caller's [`Segment`] slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceMap<'s> {
    segments: &'s [Segment],
}

impl<'s> SourceMap<'s> {
    /// The segments, in text order.
    pub fn segments(&self) -> &'s [Segment] {
        self.segments
    }

    /// How many files the text came from (the main text included).
    pub fn files(&self) -> u32 {
        self.segments
            .iter()
            .map(|s| s.source.file.saturating_add(1))
            .max()
            .unwrap_or(1)
    }

    /// The file location of byte `offset` of `spliced` (the text [`splice`] returned with
    /// this map). `None` if `offset` is past the end.
    pub fn locate_offset(&self, spliced: &str, offset: usize) -> Option<SourceLocation> {
        if offset > spliced.len() {
            return None;
        }
        let i = self.segments.partition_point(|s| s.start <= offset);
        let seg = self.segments.get(i.checked_sub(1)?)?;
        let run = spliced.as_bytes().get(seg.start..offset)?;
        Some(advance(seg.source, run))
    }

    /// The file location of `line`/`column` (from 1) of `spliced`, as a
    /// [`ConfigError`](super::ConfigError) or [`ConfigWarning`](super::ConfigWarning)
    /// reports them. `None` if the text has no such position.
    pub fn locate(&self, spliced: &str, line: u32, column: u32) -> Option<SourceLocation> {
        self.locate_offset(spliced, offset_of(spliced, line, column)?)
    }
}

/// `from` moved over `bytes` of one file: lines and columns counted as the lexer does
/// (characters, not UTF-8 continuation bytes).
fn advance(mut from: SourceLocation, bytes: &[u8]) -> SourceLocation {
    for &b in bytes {
        if b == b'\n' {
            from.line = from.line.saturating_add(1);
            from.column = 1;
        } else if b & 0xc0 != 0x80 {
            from.column = from.column.saturating_add(1);
        }
    }
    from
}

/// The byte offset of `line`/`column` in `text`.
fn offset_of(text: &str, line: u32, column: u32) -> Option<usize> {
    let mut at = SourceLocation {
        file: 0,
        line: 1,
        column: 1,
    };
    for (i, b) in text.bytes().enumerate() {
        if (at.line, at.column) == (line, column) && b & 0xc0 != 0x80 {
            return Some(i);
        }
        at = advance(at, &[b]);
    }
    ((at.line, at.column) == (line, column)).then_some(text.len())
}

/// Splices every `<?include "path"?>` of `main` (and of the files it includes) into `out`,
/// returning the text and its [`SourceMap`] (in `segments`).
///
/// `read(path, at, dst)` is called once per directive, in text order, with the path as
/// written and where the directive is; it copies the file into `dst` and returns the
/// file's length (a length over `dst.len()` stops with [`SpliceError::BufferTooSmall`]).
/// The file it reads gets the next file index (1, 2, …). `segments` needs one slot, plus
/// two per include.
///
/// Splicing stops quietly at the first syntax error it meets while looking for directives
/// (a malformed directive included): the parser reports that error on the returned text,
/// and [`SourceMap::locate`] places it in its file.
pub fn splice<'o, 's, E, F>(
    main: &str,
    out: &'o mut [u8],
    segments: &'s mut [Segment],
    mut read: F,
) -> Result<(&'o str, SourceMap<'s>), SpliceError<E>>
where
    F: FnMut(&str, SourceLocation, &mut [u8]) -> Result<usize, E>,
{
    let mut len = main.len();
    out.get_mut(..len)
        .ok_or(SpliceError::BufferTooSmall { needed: len })?
        .copy_from_slice(main.as_bytes());
    *segments.first_mut().ok_or(SpliceError::TooManySegments)? = Segment::EMPTY;
    let mut used = 1usize;
    let mut next_file = 1u32;
    let mut scan = 0usize;
    while let Some((start, end, path_range)) = find_include(out.get(..len).unwrap_or(&[]), scan) {
        let dir_len = end - start;
        // The segment holding the directive, and where the directive is in its file.
        let index = segments
            .get(..used)
            .unwrap_or(&[])
            .partition_point(|s| s.start <= start)
            .saturating_sub(1);
        let seg = segments.get(index).copied().unwrap_or(Segment::EMPTY);
        let at = advance(seg.source, out.get(seg.start..start).unwrap_or(&[]));
        if seg.depth >= MAX_INCLUDE_DEPTH {
            return Err(SpliceError::TooDeep { at });
        }
        if used + 2 > segments.len() {
            return Err(SpliceError::TooManySegments);
        }
        // Read the file into the free space after the text.
        let (text, free) = out.split_at_mut(len);
        let path = text
            .get(path_range)
            .and_then(|p| core::str::from_utf8(p).ok())
            .unwrap_or("");
        let n = read(path, at, free).map_err(|error| SpliceError::Read { at, error })?;
        let Some(content) = free.get(..n) else {
            return Err(SpliceError::BufferTooSmall {
                needed: len.saturating_add(n),
            });
        };
        if core::str::from_utf8(content).is_err() {
            return Err(SpliceError::NotUtf8 { at });
        }
        // [directive][rest][content] -> [content][directive][rest] -> [content][rest]
        let after_dir = advance(at, out.get(start..end).unwrap_or(&[]));
        if let Some(region) = out.get_mut(start..len + n) {
            region.rotate_left(len - start);
        }
        out.copy_within(start + n + dir_len..len + n, start + n);
        len = len + n - dir_len;
        // Segments after the directive move by n - dir_len; two new ones follow `index`.
        for s in segments.get_mut(index + 1..used).unwrap_or(&mut []) {
            s.start = s.start - dir_len + n;
        }
        if let Some(tail) = segments.get_mut(index + 1..used + 2) {
            tail.rotate_right(2);
        }
        let included = Segment {
            start,
            source: SourceLocation {
                file: next_file,
                line: 1,
                column: 1,
            },
            depth: seg.depth + 1,
        };
        let rest = Segment {
            start: start + n,
            source: after_dir,
            depth: seg.depth,
        };
        if let Some(slots) = segments.get_mut(index + 1..index + 3) {
            slots.copy_from_slice(&[included, rest]);
        }
        used += 2;
        next_file = next_file.saturating_add(1);
        scan = start;
    }
    let text =
        core::str::from_utf8(out.get(..len).unwrap_or(&[])).map_err(|_| SpliceError::NotUtf8 {
            at: SourceLocation::default(),
        })?;
    let map = SourceMap {
        segments: segments.get(..used).unwrap_or(&[]),
    };
    Ok((text, map))
}

/// The next directive at or after byte `scan` of `text` (a token boundary): its byte range
/// and its path's byte range. `None` at the end or at a syntax error.
fn find_include(text: &[u8], scan: usize) -> Option<(usize, usize, core::ops::Range<usize>)> {
    let rest = core::str::from_utf8(text.get(scan..)?).ok()?;
    let inc = next_include(rest).ok()??;
    let start = scan + inc.range.start;
    let end = scan + inc.range.end;
    let directive = rest.get(inc.range.clone())?;
    let quote = directive.find('"')?;
    let path_start = start + quote + 1;
    Some((start, end, path_start..path_start + inc.path.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// Files by path; records the calls.
    struct Files {
        files: Vec<(&'static str, &'static str)>,
        calls: Vec<(String, SourceLocation)>,
    }

    impl Files {
        fn new(files: &[(&'static str, &'static str)]) -> Self {
            Files {
                files: files.to_vec(),
                calls: Vec::new(),
            }
        }

        fn read(
            &mut self,
            path: &str,
            at: SourceLocation,
            dst: &mut [u8],
        ) -> Result<usize, &'static str> {
            self.calls.push((path.into(), at));
            let (_, content) = self
                .files
                .iter()
                .find(|(p, _)| *p == path)
                .ok_or("no such file")?;
            if let Some(d) = dst.get_mut(..content.len()) {
                d.copy_from_slice(content.as_bytes());
            }
            Ok(content.len())
        }
    }

    fn loc(file: u32, line: u32, column: u32) -> SourceLocation {
        SourceLocation { file, line, column }
    }

    #[test]
    fn a_text_without_includes_is_copied_with_one_segment() {
        let mut out = [0u8; 64];
        let mut segs = [Segment::EMPTY; 1];
        let mut read = |_: &str, _: SourceLocation, _: &mut [u8]| -> Result<usize, ()> {
            panic!("no read expected")
        };
        let main = "{ \"a\": \"<?include \\\"x\\\"?>\" }\n";
        let (text, map) = splice(main, &mut out, &mut segs, &mut read).unwrap();
        assert_eq!(text, main);
        assert_eq!(map.files(), 1);
        assert_eq!(map.locate(text, 1, 3), Some(loc(0, 1, 3)));
        assert_eq!(map.locate(text, 2, 1), Some(loc(0, 2, 1)));
        assert_eq!(map.locate(text, 9, 1), None);
    }

    #[test]
    fn nested_includes_are_spliced_and_positions_map_back() {
        let main = "{\n  \"Dhcp4\": <?include \"d.json\"?>,\n  \"x\": 1 }";
        let mut files = Files::new(&[
            (
                "d.json",
                "{\n \"subnet4\": [ <?include \"s.json\"?> ],\n \"y\": 2\n}",
            ),
            ("s.json", "{ \"id\": 1 }\n"),
        ]);
        let mut out = [0u8; 256];
        let mut segs = [Segment::EMPTY; 5];
        let (text, map) =
            splice(main, &mut out, &mut segs, |p, at, d| files.read(p, at, d)).unwrap();
        assert_eq!(
            text,
            "{\n  \"Dhcp4\": {\n \"subnet4\": [ { \"id\": 1 }\n ],\n \"y\": 2\n},\n  \"x\": 1 }"
        );
        assert_eq!(
            files.calls,
            [
                ("d.json".into(), loc(0, 2, 12)),
                ("s.json".into(), loc(1, 2, 15))
            ]
        );
        assert_eq!(map.files(), 3);
        // "id" (spliced line 3) is line 1 col 3 of s.json.
        assert_eq!(map.locate(text, 3, 17), Some(loc(2, 1, 3)));
        // "]" after the inner include is back in d.json, line 2 after the directive.
        let bracket = text.find("\n ],").unwrap() + 2;
        assert_eq!(map.locate_offset(text, bracket), Some(loc(1, 2, 36)));
        // "y" is d.json line 3; "x" is main line 3.
        let y = text.find("\"y\"").unwrap();
        assert_eq!(map.locate_offset(text, y), Some(loc(1, 3, 2)));
        let x = text.find("\"x\"").unwrap();
        assert_eq!(map.locate_offset(text, x), Some(loc(0, 3, 3)));
        // The "," right after the outer directive: main line 2, after it.
        let comma = text.find("},\n").unwrap() + 1;
        assert_eq!(map.locate_offset(text, comma), Some(loc(0, 2, 32)));
        assert_eq!(map.locate_offset(text, text.len() + 1), None);
    }

    #[test]
    fn a_parse_error_in_an_included_file_names_its_line() {
        let main = "{ \"Dhcp4\": {\n  <?include \"g.json\"?>\n  \"subnet4\": [] } }";
        let mut files = Files::new(&[(
            "g.json",
            "\"valid-lifetime\": 10,\n\"rebind-timer\": \"x\",",
        )]);
        let mut out = [0u8; 256];
        let mut segs = [Segment::EMPTY; 3];
        let (text, map) =
            splice(main, &mut out, &mut segs, |p, at, d| files.read(p, at, d)).unwrap();
        let e = crate::config::measure(text).unwrap_err();
        assert_eq!(
            map.locate(text, e.line, e.column),
            Some(loc(1, 2, 17)),
            "{e}"
        );
    }

    #[test]
    fn includes_at_the_edges_and_empty_files() {
        let mut files = Files::new(&[("a", "[1"), ("b", ""), ("c", "]")]);
        let mut out = [0u8; 64];
        let mut segs = [Segment::EMPTY; 7];
        let main = "<?include \"a\"?><?include \"b\"?>, 2<?include \"c\"?>";
        let (text, map) =
            splice(main, &mut out, &mut segs, |p, at, d| files.read(p, at, d)).unwrap();
        assert_eq!(text, "[1, 2]");
        assert_eq!(map.locate_offset(text, 0), Some(loc(1, 1, 1)));
        assert_eq!(map.locate_offset(text, 2), Some(loc(0, 1, 31)));
        assert_eq!(map.locate_offset(text, 5), Some(loc(3, 1, 1)));
        assert_eq!(map.locate_offset(text, 6), Some(loc(0, 1, 49)));
    }

    #[test]
    fn limits_and_failures_are_reported() {
        // A file including itself: Kea's 10 levels, then an error at the directive.
        let mut files = Files::new(&[("self", "[<?include \"self\"?>]")]);
        let mut out = [0u8; 1024];
        let mut segs = [Segment::EMPTY; 64];
        let e = splice("<?include \"self\"?>", &mut out, &mut segs, |p, at, d| {
            files.read(p, at, d)
        })
        .unwrap_err();
        assert_eq!(e, SpliceError::TooDeep { at: loc(10, 1, 2) });
        assert_eq!(files.calls.len(), 10);
        assert!(std::format!("{e}").contains("Too many nested include"));

        let mut files = Files::new(&[("big", "[1, 2, 3, 4, 5, 6, 7, 8, 9]")]);
        let mut small = [0u8; 24];
        let e = splice("<?include \"big\"?>", &mut small, &mut segs, |p, at, d| {
            files.read(p, at, d)
        })
        .unwrap_err();
        assert_eq!(e, SpliceError::BufferTooSmall { needed: 17 + 27 });
        let e = splice("[1]", &mut small[..2], &mut segs, |p, at, d| {
            files.read(p, at, d)
        })
        .unwrap_err();
        assert_eq!(e, SpliceError::BufferTooSmall { needed: 3 });

        let mut one = [Segment::EMPTY; 2];
        let e = splice("<?include \"big\"?>", &mut out, &mut one, |p, at, d| {
            files.read(p, at, d)
        })
        .unwrap_err();
        assert_eq!(e, SpliceError::TooManySegments);

        let e = splice(
            "\n <?include \"none\"?>",
            &mut out,
            &mut segs,
            |p, at, d| files.read(p, at, d),
        )
        .unwrap_err();
        assert_eq!(
            e,
            SpliceError::Read {
                at: loc(0, 2, 2),
                error: "no such file"
            }
        );

        let mut bad = |_: &str, _: SourceLocation, d: &mut [u8]| -> Result<usize, ()> {
            d[0] = 0xff;
            Ok(1)
        };
        let e = splice("<?include \"x\"?>", &mut out, &mut segs, &mut bad).unwrap_err();
        assert_eq!(e, SpliceError::NotUtf8 { at: loc(0, 1, 1) });
    }

    #[test]
    fn splicing_stops_at_a_syntax_error_for_the_parser_to_report() {
        let mut read = |_: &str, _: SourceLocation, _: &mut [u8]| -> Result<usize, ()> {
            panic!("no read expected")
        };
        let mut out = [0u8; 64];
        let mut segs = [Segment::EMPTY; 3];
        for main in ["{ @ <?include \"x\"?> }", "{ <?include \"x\" }"] {
            let (text, _) = splice(main, &mut out, &mut segs, &mut read).unwrap();
            assert_eq!(text, main);
        }
    }
}
