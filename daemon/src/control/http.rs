//! A minimal HTTP/1.1 request reader for the control API (Kea's Control Agent answers
//! `POST` with a JSON body on any path). Pure functions over the bytes received so far:
//! [`parse`] says whether a whole request is there, how long it is (pipelined requests
//! follow it in the same buffer), or which error status to answer.
//!
//! RFC 9112 §6.3: without `Content-Length` a request has no body; a `Transfer-Encoding`
//! we do not implement is answered 411 (Length Required, the client may retry with a
//! length), as Kea's agent does not accept chunked requests either.

/// Limits a request must stay within.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Request line plus headers, bytes (431 beyond).
    pub max_head: usize,
    /// Header lines (431 beyond).
    pub max_headers: usize,
    /// Body bytes (413 beyond).
    pub max_body: usize,
}

impl Limits {
    /// The control API's limits: 8 KiB of head, 64 headers, 32 MiB body.
    ///
    /// The body bound is set by `config-set`: the largest config wren is sized for (2,000
    /// subnets, 50,000 reservations, a /15 pool) is 4–8 MB of JSON as Kea's tools write it
    /// (the 50,000-reservation `config-set` of tests/tests/control_large_config.rs is 4 MB), so
    /// 32 MiB leaves room for pretty-printing and comments. Memory: a body is held in its
    /// connection's buffer only while it arrives, and the buffers of all connections
    /// together may grow by at most twice this bound beyond their 16 KiB start
    /// (`control::GROWTH_BUDGET_FACTOR`), so a Pi 3B's 1 GiB is never at the mercy of 64
    /// clients each sending 32 MiB. `"wren-max-request-bytes"` in the control socket's
    /// entry changes it.
    pub const DEFAULT: Limits = Limits {
        max_head: 8 * 1024,
        max_headers: 64,
        max_body: 32 * 1024 * 1024,
    };

    /// The default limits with another body bound.
    pub const fn with_max_body(max_body: usize) -> Limits {
        Limits {
            max_body,
            ..Limits::DEFAULT
        }
    }
}

/// The request method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// Anything else (answered 405).
    Other,
}

/// A whole request, borrowing the receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// Method.
    pub method: Method,
    /// Request target (path and query).
    pub path: &'a str,
    /// `Content-Type` value.
    pub content_type: Option<&'a str>,
    /// `Authorization` value.
    pub authorization: Option<&'a str>,
    /// Whether the connection stays open after the answer (HTTP/1.1 default unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`).
    pub keep_alive: bool,
    /// The body (`Content-Length` bytes).
    pub body: &'a [u8],
}

/// Why a request cannot be served; each maps to one status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// 400: malformed request line or header.
    BadRequest(&'static str),
    /// 411: a `Transfer-Encoding` body (chunked is not supported).
    LengthRequired,
    /// 413: the body exceeds [`Limits::max_body`].
    PayloadTooLarge,
    /// 431: the head exceeds [`Limits::max_head`] or [`Limits::max_headers`].
    HeadersTooLarge,
    /// 505: not HTTP/1.x.
    VersionNotSupported,
}

impl HttpError {
    /// The status code and reason phrase.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            HttpError::BadRequest(_) => (400, "Bad Request"),
            HttpError::LengthRequired => (411, "Length Required"),
            HttpError::PayloadTooLarge => (413, "Payload Too Large"),
            HttpError::HeadersTooLarge => (431, "Request Header Fields Too Large"),
            HttpError::VersionNotSupported => (505, "HTTP Version Not Supported"),
        }
    }
}

/// What the bytes so far hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// Not a whole request yet: read more.
    Incomplete,
    /// A request of `len` bytes (the next one starts after it).
    Complete {
        /// The request.
        request: Request<'a>,
        /// Its length in the buffer.
        len: usize,
    },
    /// Answer this error and close.
    Error(HttpError),
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads the request at the start of `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Parsed<'a> {
    // Leading empty lines before a request are ignored (RFC 9112 §2.2).
    let mut start = 0;
    while buf.get(start..start + 2) == Some(b"\r\n") {
        start += 2;
    }
    let rest = buf.get(start..).unwrap_or(&[]);
    let Some(head_len) = find(rest, b"\r\n\r\n") else {
        if rest.len() > limits.max_head {
            return Parsed::Error(HttpError::HeadersTooLarge);
        }
        return Parsed::Incomplete;
    };
    if head_len > limits.max_head {
        return Parsed::Error(HttpError::HeadersTooLarge);
    }
    let Some(head) = rest
        .get(..head_len)
        .and_then(|h| core::str::from_utf8(h).ok())
    else {
        return Parsed::Error(HttpError::BadRequest("head is not UTF-8"));
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Error(HttpError::BadRequest("malformed request line"));
    };
    if method.is_empty() || path.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Parsed::Error(HttpError::BadRequest("malformed request line"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => return Parsed::Error(HttpError::VersionNotSupported),
        _ => return Parsed::Error(HttpError::BadRequest("malformed request line")),
    };
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    let mut content_type = None;
    let mut authorization = None;
    let mut content_length: Option<usize> = None;
    let mut keep_alive = !http10;
    let mut count = 0;
    for line in lines {
        count += 1;
        if count > limits.max_headers {
            return Parsed::Error(HttpError::HeadersTooLarge);
        }
        let Some((name, value)) = line.split_once(':') else {
            return Parsed::Error(HttpError::BadRequest("header without ':'"));
        };
        // RFC 9112 §5.1: no whitespace between the name and the colon; no obs-fold.
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Parsed::Error(HttpError::BadRequest("bad header name"));
        }
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        if name.eq_ignore_ascii_case("content-length") {
            let Some(n) = value
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| value.parse::<usize>().ok())
                .flatten()
            else {
                return Parsed::Error(HttpError::BadRequest("bad Content-Length"));
            };
            if content_length.is_some_and(|old| old != n) {
                return Parsed::Error(HttpError::BadRequest("conflicting Content-Length"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Error(HttpError::LengthRequired);
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value);
        } else if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let body_len = content_length.unwrap_or(0);
    if body_len > limits.max_body {
        return Parsed::Error(HttpError::PayloadTooLarge);
    }
    let body_start = start + head_len + 4;
    let Some(body) = buf.get(body_start..body_start + body_len) else {
        return Parsed::Incomplete;
    };
    Parsed::Complete {
        request: Request {
            method,
            path,
            content_type,
            authorization,
            keep_alive,
            body,
        },
        len: body_start + body_len,
    }
}

/// Appends a whole response: status line, `Content-Type`, `Content-Length`, `Connection`,
/// any `extra` header lines (each ending in CRLF), then the body.
pub fn write_response(
    out: &mut Vec<u8>,
    status: (u16, &str),
    content_type: &str,
    extra: &str,
    keep_alive: bool,
    body: &[u8],
) {
    use std::io::Write as _;
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nDate: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {}\r\n{extra}\r\n",
        status.0,
        status.1,
        http_date(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        ),
        body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    out.extend_from_slice(body);
}

/// RFC 9110 §5.6.7 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) of a Unix time, for the
/// `Date` header Kea's agent sends.
pub fn http_date(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS.get((days % 7) as usize).unwrap_or(&"Thu"),
        MONTHS.get((month - 1) as usize).unwrap_or(&"Jan"),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `text` made safe inside a JSON string: quotes and backslashes escaped, control
/// characters as `\u00XX`.
pub fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Whether `buf` holds one whole JSON value (object or list): brackets balanced outside
/// strings. The unix socket has no framing; Kea reads until the command parses.
pub fn json_complete(buf: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut started = false;
    for &b in buf {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                started = true;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && started {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits::DEFAULT;
    const POST: &[u8] = b"POST / HTTP/1.1\r\nHost: infra-1:8080\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n{ \"command\": \"config-get\" }";

    fn complete(buf: &[u8]) -> (Request<'_>, usize) {
        match parse(buf, &L) {
            Parsed::Complete { request, len } => (request, len),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn curl_post_is_read_whole() {
        let body = br#"{ "command": "config-get" }"#;
        let text = format!(
            "POST / HTTP/1.1\r\nHost: infra-1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut buf = text.into_bytes();
        buf.extend_from_slice(body);
        let (r, len) = complete(&buf);
        assert_eq!(len, buf.len());
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/");
        assert_eq!(r.content_type, Some("application/json"));
        assert!(r.keep_alive);
        assert_eq!(r.body, body);
    }

    #[test]
    fn split_reads_are_incomplete_until_the_last_byte() {
        let body = br#"{"command":"x"}"#;
        let mut buf =
            format!("POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        buf.extend_from_slice(body);
        for cut in 0..buf.len() {
            assert_eq!(parse(&buf[..cut], &L), Parsed::Incomplete, "cut at {cut}");
        }
        assert_eq!(complete(&buf).1, buf.len());
    }

    #[test]
    fn pipelined_requests_follow_each_other() {
        let one = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}".to_vec();
        let two = b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec();
        let mut buf = one.clone();
        buf.extend_from_slice(&two);
        let (r1, len1) = complete(&buf);
        assert_eq!((r1.body, len1), (&b"{}"[..], one.len()));
        let (r2, len2) = complete(&buf[len1..]);
        assert_eq!(
            (r2.method, r2.path, r2.keep_alive, len2),
            (Method::Get, "/metrics", false, two.len())
        );
    }

    #[test]
    fn oversize_body_is_413_before_it_arrives() {
        let buf = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            L.max_body + 1
        );
        assert_eq!(
            parse(buf.as_bytes(), &L),
            Parsed::Error(HttpError::PayloadTooLarge)
        );
        assert_eq!(HttpError::PayloadTooLarge.status().0, 413);
    }

    #[test]
    fn oversize_head_and_too_many_headers_are_431() {
        let long = vec![b'a'; L.max_head + 1];
        assert_eq!(parse(&long, &L), Parsed::Error(HttpError::HeadersTooLarge));
        let mut many = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=L.max_headers {
            many.push_str(&format!("X-{i}: y\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(
            parse(many.as_bytes(), &L),
            Parsed::Error(HttpError::HeadersTooLarge)
        );
    }

    #[test]
    fn bad_heads_are_400_chunked_411_and_http2_505() {
        fn bad(s: &str) -> Parsed<'_> {
            parse(s.as_bytes(), &L)
        }
        assert!(matches!(
            bad("POST /\r\n\r\n"),
            Parsed::Error(HttpError::BadRequest(_))
        ));
        assert!(matches!(
            bad("POST / HTTP/1.1\r\nNoColon\r\n\r\n"),
            Parsed::Error(HttpError::BadRequest(_))
        ));
        assert!(matches!(
            bad("POST / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
            Parsed::Error(HttpError::BadRequest(_))
        ));
        assert!(matches!(
            bad("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            Parsed::Error(HttpError::BadRequest(_))
        ));
        assert!(matches!(
            bad("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Parsed::Error(HttpError::BadRequest(_))
        ));
        assert_eq!(
            bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Parsed::Error(HttpError::LengthRequired)
        );
        assert_eq!(
            bad("POST / HTTP/2.0\r\n\r\n"),
            Parsed::Error(HttpError::VersionNotSupported)
        );
    }

    #[test]
    fn http10_closes_unless_asked_and_11_closes_when_asked() {
        assert!(!complete(b"GET / HTTP/1.0\r\n\r\n").0.keep_alive);
        assert!(
            complete(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .0
                .keep_alive
        );
        assert!(
            !complete(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
                .0
                .keep_alive
        );
        assert_eq!(complete(b"PUT / HTTP/1.1\r\n\r\n").0.method, Method::Other);
        assert_eq!(complete(POST).0.body.len(), 25);
    }

    #[test]
    fn response_has_length_and_connection() {
        let mut out = Vec::new();
        write_response(&mut out, (200, "OK"), "application/json", "", false, b"[]");
        let text = String::from_utf8(out).unwrap();
        let (status, rest) = text.split_once("\r\nDate: ").unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK");
        let (date, rest) = rest.split_once("\r\n").unwrap();
        assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
        assert_eq!(
            rest,
            "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"
        );
    }

    #[test]
    fn http_date_matches_rfc9110_example_and_leap_days() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(1_798_761_599), "Thu, 31 Dec 2026 23:59:59 GMT");
    }

    #[test]
    fn json_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\u000ad");
        assert_eq!(json_escape("plain"), "plain");
    }

    #[test]
    fn json_completeness_ignores_brackets_in_strings() {
        assert!(!json_complete(b""));
        assert!(!json_complete(br#"{ "command": "a}" "#));
        assert!(json_complete(br#"{ "command": "a}\"" }"#));
        assert!(!json_complete(br#"{ "a": [ 1, 2 ] "#));
        assert!(json_complete(b"{}\n"));
    }
}
