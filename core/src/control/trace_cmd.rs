//! `wren-trace` (a wren command, no Kea counterpart): switches the packet trace on at run
//! time, for the next N packets, for one client's hardware address, or both, and off again
//! (issue 5, point 6). The daemon carries it out ([`super::Action::Trace`]); the line
//! format is [`crate::server::trace`]'s.
//!
//! ```text
//! {"command": "wren-trace", "arguments": {"packets": 20}}            next 20 packets
//! {"command": "wren-trace", "arguments": {"hw-address": "02:00:00:00:00:01"}}
//!                                                                    that client, until off
//! {"command": "wren-trace", "arguments": {"hw-address": "…", "packets": 5}}
//!                                                                    that client's next 5
//! {"command": "wren-trace", "arguments": {"off": true}}              off
//! {"command": "wren-trace"}                                          state only
//! ```

use super::json_in::{Node, Value};
use super::{refuse, Refusal, RESULT_ERROR};

/// Longest hardware address a trace filter holds (the BOOTP `chaddr` field).
pub const HW_ADDRESS_MAX: usize = 16;

/// Largest `packets` count accepted (a trace is for looking, not for logging forever).
pub const PACKETS_MAX: u32 = 1_000_000;

/// A client hardware address to trace (compared with the first `hlen` bytes of `chaddr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HwAddress {
    bytes: [u8; HW_ADDRESS_MAX],
    len: u8,
}

impl HwAddress {
    /// Reads `aa:bb:cc:dd:ee:ff` (also `-` or no separator; 1 to 16 bytes).
    pub fn parse(text: &str) -> Option<HwAddress> {
        let mut out = HwAddress::default();
        if text.contains([':', '-']) {
            // Groups of one or two digits between separators.
            for group in text.split([':', '-']) {
                let v = match group.as_bytes() {
                    [a] => hex(*a)?,
                    [a, b] => hex(*a)? << 4 | hex(*b)?,
                    _ => return None,
                };
                out.push(v)?;
            }
        } else {
            let mut high: Option<u8> = None;
            for d in text.bytes() {
                let v = hex(d)?;
                match high.take() {
                    Some(h) => out.push(h << 4 | v)?,
                    None => high = Some(v),
                }
            }
            if high.is_some() {
                return None;
            }
        }
        (out.len > 0).then_some(out)
    }

    fn push(&mut self, b: u8) -> Option<()> {
        let slot = self.bytes.get_mut(usize::from(self.len))?;
        *slot = b;
        self.len += 1;
        Some(())
    }

    /// The address bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// What `wren-trace` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceRequest {
    /// No arguments: answer with the current state.
    Status,
    /// `{"off": true}`: stop the run-time trace (the debug-level trace follows the loggers).
    Off,
    /// Trace the next `packets` packets (of `hw_address` when given), or every packet of
    /// `hw_address` until switched off.
    On {
        /// How many packets; `None` = no count (only with `hw_address`).
        packets: Option<u32>,
        /// Only this client's packets.
        hw_address: Option<HwAddress>,
    },
}

/// Reads the arguments of `wren-trace`.
pub fn parse(args: Option<Node<'_>>) -> Result<TraceRequest, Refusal> {
    let Some(args) = args else {
        return Ok(TraceRequest::Status);
    };
    let mut packets = None;
    let mut hw_address = None;
    let mut off = false;
    for (key, value, _) in args.entries() {
        if key.eq_str("packets") {
            packets = Some(match value {
                Value::Int(n) if n >= 1 && n <= i64::from(PACKETS_MAX) => n as u32,
                _ => {
                    return Err(refuse(
                        RESULT_ERROR,
                        format_args!("'packets' must be an integer from 1 to {PACKETS_MAX}"),
                    ))
                }
            });
        } else if key.eq_str("hw-address") {
            let Value::Str(s) = value else {
                return Err(refuse(
                    RESULT_ERROR,
                    format_args!("'hw-address' must be a string"),
                ));
            };
            hw_address = Some(s.plain().and_then(HwAddress::parse).ok_or_else(|| {
                refuse(
                    RESULT_ERROR,
                    format_args!(
                        "'hw-address' '{}' is not a hardware address (aa:bb:cc:dd:ee:ff)",
                        s.0
                    ),
                )
            })?);
        } else if key.eq_str("off") {
            off = match value {
                Value::Bool(b) => b,
                _ => {
                    return Err(refuse(
                        RESULT_ERROR,
                        format_args!("'off' must be a boolean"),
                    ))
                }
            };
        } else {
            return Err(refuse(
                RESULT_ERROR,
                format_args!(
                    "unknown argument '{}' (wren-trace takes 'packets', 'hw-address' or 'off')",
                    key.0
                ),
            ));
        }
    }
    match (off, packets, hw_address) {
        (true, None, None) => Ok(TraceRequest::Off),
        (true, _, _) => Err(refuse(
            RESULT_ERROR,
            format_args!("'off' cannot be combined with 'packets' or 'hw-address'"),
        )),
        (false, None, None) => Ok(TraceRequest::Status),
        (false, packets, hw_address) => Ok(TraceRequest::On {
            packets,
            hw_address,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{parse_request, Reply};
    use std::vec;

    fn run(body: &str) -> Result<TraceRequest, Refusal> {
        let request = parse_request(body).unwrap();
        parse(request.arguments)
    }

    fn refused(body: &str) -> std::string::String {
        match run(body) {
            Err(Reply::Status { result, text }) => {
                assert_eq!(result, RESULT_ERROR);
                text.as_str().into()
            }
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn counts_addresses_and_off() {
        assert_eq!(
            run(r#"{"command": "wren-trace"}"#),
            Ok(TraceRequest::Status)
        );
        assert_eq!(
            run(r#"{"command": "wren-trace", "arguments": {}}"#),
            Ok(TraceRequest::Status)
        );
        assert_eq!(
            run(r#"{"command": "wren-trace", "arguments": {"packets": 20}}"#),
            Ok(TraceRequest::On {
                packets: Some(20),
                hw_address: None
            })
        );
        let Ok(TraceRequest::On {
            packets: Some(5),
            hw_address: Some(hw),
        }) = run(
            r#"{"command": "wren-trace", "arguments": {"hw-address": "02:0A:00:00:00:01", "packets": 5}}"#,
        )
        else {
            panic!("both");
        };
        assert_eq!(hw.as_bytes(), [2, 10, 0, 0, 0, 1]);
        assert_eq!(
            run(r#"{"command": "wren-trace", "arguments": {"off": true}}"#),
            Ok(TraceRequest::Off)
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        assert!(
            refused(r#"{"command": "wren-trace", "arguments": {"packets": 0}}"#)
                .contains("'packets' must be an integer from 1")
        );
        assert!(
            refused(r#"{"command": "wren-trace", "arguments": {"packets": "3"}}"#)
                .contains("'packets'")
        );
        assert!(
            refused(r#"{"command": "wren-trace", "arguments": {"packets": 1000001}}"#)
                .contains("1000000")
        );
        assert!(
            refused(r#"{"command": "wren-trace", "arguments": {"hw-address": "02:zz"}}"#)
                .contains("'02:zz' is not a hardware address")
        );
        assert!(
            refused(r#"{"command": "wren-trace", "arguments": {"off": true, "packets": 2}}"#)
                .contains("cannot be combined")
        );
        assert!(
            refused(r#"{"command": "wren-trace", "arguments": {"off": 1}}"#)
                .contains("'off' must be a boolean")
        );
        assert!(
            refused(r#"{"command": "wren-trace", "arguments": {"mac": "x"}}"#)
                .contains("unknown argument 'mac'")
        );
    }

    #[test]
    fn hardware_address_forms() {
        let p = |t: &str| HwAddress::parse(t).map(|h| h.as_bytes().to_vec());
        assert_eq!(p("02:00:00:00:00:01"), Some(vec![2, 0, 0, 0, 0, 1]));
        assert_eq!(p("2-0-a-b"), Some(vec![2, 0, 10, 11]));
        assert_eq!(p("020000000001"), Some(vec![2, 0, 0, 0, 0, 1]));
        assert_eq!(p("02000"), None, "odd digit count");
        assert_eq!(p("02::01"), None, "empty group");
        assert_eq!(p(""), None);
        assert_eq!(p("00:".repeat(16).trim_end_matches(':')), Some(vec![0; 16]));
        assert_eq!(p(&"00:".repeat(17)[..50]), None, "17 bytes");
    }
}
