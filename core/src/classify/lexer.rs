//! Tokens of Kea 2.2's expression language (kea-expressions.md §2, Kea's `lexer.ll`).
//!
//! The lexer works on bytes and never allocates: a token is a kind plus the byte range of
//! its text in the source. Columns in errors are 1-based byte offsets from the start of
//! the expression (Kea reports `line.column`; a class `test` is one line in practice).

use core::net::{Ipv4Addr, Ipv6Addr};

use super::ParseErrorKind;

/// What a token is. Text-bearing tokens point back into the source by [`Token::start`] /
/// [`Token::end`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// `'text'`; the range excludes the quotes.
    String,
    /// `0x…`; the range covers the hex digits only.
    Hex,
    /// `-?[0-9]+`, already range-checked into an `i64`.
    Integer(i64),
    /// An IPv4 dotted quad.
    Ipv4([u8; 4]),
    /// IPv6 text.
    Ipv6([u8; 16]),
    /// A word: a keyword (`option`, `vendor-class`, …) or an option name; the parser
    /// decides which by context.
    Word,
    /// `==`
    Equal,
    /// `(`
    LeftParen,
    /// `)`
    RightParen,
    /// `[`
    LeftBracket,
    /// `]`
    RightBracket,
    /// `.`
    Dot,
    /// `,`
    Comma,
    /// `*`
    Star,
    /// `+`
    Plus,
    /// End of the expression.
    End,
}

/// One token and where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Byte offset of the token's text (for strings/hex: of the payload).
    pub start: usize,
    /// Byte offset just past the token's text.
    pub end: usize,
    /// Byte offset where the token begins (the quote / `0x` included): its column − 1.
    pub at: usize,
}

/// A lexer error: what and where (byte offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    pub kind: ParseErrorKind,
    pub at: usize,
}

pub(crate) struct Lexer<'s> {
    src: &'s [u8],
    pos: usize,
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_address_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s [u8]) -> Self {
        Lexer { src, pos: 0 }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.src.get(i).copied()
    }

    fn run_end(&self, from: usize, pred: fn(u8) -> bool) -> usize {
        let mut i = from;
        while self.at(i).is_some_and(pred) {
            i += 1;
        }
        i
    }

    /// The next token, or the reason the text cannot be a token.
    pub fn next_token(&mut self) -> Result<Token, LexError> {
        while self.at(self.pos).is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(b) = self.at(at) else {
            return Ok(Token {
                kind: TokenKind::End,
                start: at,
                end: at,
                at,
            });
        };
        let single = |kind| Token {
            kind,
            start: at,
            end: at + 1,
            at,
        };
        let token = match b {
            b'(' => single(TokenKind::LeftParen),
            b')' => single(TokenKind::RightParen),
            b'[' => single(TokenKind::LeftBracket),
            b']' => single(TokenKind::RightBracket),
            b'.' => single(TokenKind::Dot),
            b',' => single(TokenKind::Comma),
            b'*' => single(TokenKind::Star),
            b'+' => single(TokenKind::Plus),
            b'=' if self.at(at + 1) == Some(b'=') => Token {
                kind: TokenKind::Equal,
                start: at,
                end: at + 2,
                at,
            },
            b'\'' => self.string(at)?,
            b'0' if matches!(self.at(at + 1), Some(b'x' | b'X'))
                && self.at(at + 2).is_some_and(|b| b.is_ascii_hexdigit()) =>
            {
                let end = self.run_end(at + 2, |b| b.is_ascii_hexdigit());
                Token {
                    kind: TokenKind::Hex,
                    start: at + 2,
                    end,
                    at,
                }
            }
            b'-' if self.at(at + 1).is_some_and(|b| b.is_ascii_digit()) => {
                let end = self.run_end(at + 1, |b| b.is_ascii_digit());
                self.integer(at, end)?
            }
            _ if is_address_byte(b) => self.number_address_or_word(at)?,
            _ if is_word_start(b) => self.word(at),
            _ => {
                return Err(LexError {
                    kind: ParseErrorKind::InvalidCharacter(b),
                    at,
                })
            }
        };
        // A string token's range stops before its closing quote.
        let consumed = if token.kind == TokenKind::String {
            token.end + 1
        } else {
            token.end
        };
        self.pos = consumed.max(at + 1);
        Ok(token)
    }

    /// `'…'`: no escapes, no quote and no newline inside (Kea's `lexer.ll`).
    fn string(&self, at: usize) -> Result<Token, LexError> {
        let mut i = at + 1;
        loop {
            match self.at(i) {
                Some(b'\'') => {
                    return Ok(Token {
                        kind: TokenKind::String,
                        start: at + 1,
                        end: i,
                        at,
                    })
                }
                Some(b'\n') | None => {
                    return Err(LexError {
                        kind: ParseErrorKind::UnterminatedString,
                        at,
                    })
                }
                Some(_) => i += 1,
            }
        }
    }

    fn integer(&self, at: usize, end: usize) -> Result<Token, LexError> {
        let text = self.src.get(at..end).unwrap_or(&[]);
        let (negative, digits) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let mut value: i64 = 0;
        for &d in digits {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(d - b'0')))
                .filter(|v| *v <= i64::from(u32::MAX))
                .ok_or(LexError {
                    kind: ParseErrorKind::IntegerOutOfRange,
                    at,
                })?;
        }
        Ok(Token {
            kind: TokenKind::Integer(if negative { -value } else { value }),
            start: at,
            end,
            at,
        })
    }

    /// A run of hex digits, `:` and `.`: an IPv6 address if it has a `:`, an IPv4
    /// address if it is digits with three dots, else an integer (leading digits) or a word.
    fn number_address_or_word(&self, at: usize) -> Result<Token, LexError> {
        let end = self.run_end(at, is_address_byte);
        let run = self.src.get(at..end).unwrap_or(&[]);
        let bad_address = LexError {
            kind: ParseErrorKind::InvalidAddress,
            at,
        };
        if run.contains(&b':') {
            let text = core::str::from_utf8(run).map_err(|_| bad_address)?;
            let address: Ipv6Addr = text.parse().map_err(|_| bad_address)?;
            return Ok(Token {
                kind: TokenKind::Ipv6(address.octets()),
                start: at,
                end,
                at,
            });
        }
        let dots = run.iter().filter(|&&b| b == b'.').count();
        if dots == 3 && run.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
            let text = core::str::from_utf8(run).map_err(|_| bad_address)?;
            let address: Ipv4Addr = text.parse().map_err(|_| bad_address)?;
            return Ok(Token {
                kind: TokenKind::Ipv4(address.octets()),
                start: at,
                end,
                at,
            });
        }
        match self.at(at) {
            Some(b) if b.is_ascii_digit() => {
                let end = self.run_end(at, |b| b.is_ascii_digit());
                self.integer(at, end)
            }
            _ => Ok(self.word(at)),
        }
    }

    fn word(&self, at: usize) -> Token {
        Token {
            kind: TokenKind::Word,
            start: at,
            end: self.run_end(at, is_word_byte),
            at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> std::vec::Vec<TokenKind> {
        let mut lexer = Lexer::new(src.as_bytes());
        let mut out = std::vec::Vec::new();
        loop {
            let t = lexer.next_token().unwrap();
            out.push(t.kind);
            if t.kind == TokenKind::End {
                return out;
            }
        }
    }

    #[test]
    fn punctuation_numbers_addresses() {
        use TokenKind::*;
        assert_eq!(
            kinds("option[93].hex == 0x0007"),
            [
                Word,
                LeftBracket,
                Integer(93),
                RightBracket,
                Dot,
                Word,
                Equal,
                Hex,
                End
            ]
        );
        assert_eq!(
            kinds("-5 10.0.0.1"),
            [Integer(-5), Ipv4([10, 0, 0, 1]), End]
        );
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(kinds("::1"), [Ipv6(v6), End]);
        v6[0] = 0xfe;
        v6[1] = 0x80;
        assert_eq!(kinds("fe80::1"), [Ipv6(v6), End]);
        assert_eq!(
            kinds("( ) , * + 'x'"),
            [LeftParen, RightParen, Comma, Star, Plus, String, End]
        );
        assert_eq!(kinds("deadbeef"), [Word, End]);
        assert_eq!(kinds("vendor-class"), [Word, End]);
    }

    #[test]
    fn errors_name_the_offset() {
        let mut lexer = Lexer::new(b"  'abc");
        assert_eq!(
            lexer.next_token(),
            Err(LexError {
                kind: ParseErrorKind::UnterminatedString,
                at: 2
            })
        );
        let mut lexer = Lexer::new(b"1 = 2");
        lexer.next_token().unwrap();
        assert_eq!(
            lexer.next_token(),
            Err(LexError {
                kind: ParseErrorKind::InvalidCharacter(b'='),
                at: 2
            })
        );
        let mut lexer = Lexer::new(b"4294967296");
        assert_eq!(
            lexer.next_token().map_err(|e| e.kind),
            Err(ParseErrorKind::IntegerOutOfRange)
        );
        let mut lexer = Lexer::new(b"4294967295");
        assert_eq!(
            lexer.next_token().map(|t| t.kind),
            Ok(TokenKind::Integer(4_294_967_295))
        );
    }
}
