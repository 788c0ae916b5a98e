//! The packet trace, daemon side: whether a packet is traced, and writing its line.
//!
//! A packet is traced when the `kea-dhcp4.packets` logger lets DEBUG through (`-d`, or a
//! `loggers` entry with `severity: DEBUG` for `kea-dhcp4.packets` or `kea-dhcp4`), or
//! when the `wren-trace` control command switched the trace on for it ([`TraceSwitch`]: the
//! next N packets, one hardware address, or both). The line itself is core's
//! ([`wren_core::server::trace`]); here it is only written into a buffer allocated once and
//! logged as `WREN_PACKET_TRACE <line>`: at DEBUG when the logger asked for it, at INFO
//! when a command did (so it shows with the default INFO loggers).

use std::cell::Cell;
use std::rc::Rc;

use log::Level;
use wren_core::control::trace_cmd::{HwAddress, TraceRequest};
use wren_core::control::{self, Text};
use wren_core::server::trace::{self as core_trace, HexBytes};
use wren_core::wire::bootp::Packet;

use crate::logging::{self, TARGET_PACKETS};

/// Longest trace line (the log prefix, about 80 bytes, comes on top within
/// [`logging::LINE_MAX`]); longer lines end in [`core_trace::TRUNCATED_MARKER`].
pub const TRACE_LINE_MAX: usize = logging::LINE_MAX - 160;

/// What `wren-trace` switched on. `Copy`, kept in a [`SharedSwitch`] that the control
/// server and the engine share (one thread: a `Cell`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceSwitch {
    /// Packets still to trace; `None` = no count (with `hw_address`: until switched off).
    remaining: Option<u32>,
    /// Only this client's packets.
    hw_address: Option<HwAddress>,
    /// Whether the switch is on at all.
    on: bool,
}

/// The switch as the control server and the engine share it.
pub type SharedSwitch = Rc<Cell<TraceSwitch>>;

impl TraceSwitch {
    /// Applies a `wren-trace` request; answers with the state after it.
    pub fn apply(&mut self, request: TraceRequest) -> Text {
        match request {
            TraceRequest::Status => {}
            TraceRequest::Off => *self = TraceSwitch::default(),
            TraceRequest::On {
                packets,
                hw_address,
            } => {
                *self = TraceSwitch {
                    remaining: packets,
                    hw_address,
                    on: true,
                };
            }
        }
        self.describe()
    }

    /// The state in words (the command's answer).
    pub fn describe(&self) -> Text {
        match (self.on, self.remaining, self.hw_address) {
            (false, _, _) => control::text(format_args!(
                "packet trace off (a DEBUG kea-dhcp4.packets logger still traces every packet)"
            )),
            (true, Some(n), None) => {
                control::text(format_args!("packet trace on for the next {n} packets"))
            }
            (true, Some(n), Some(h)) => control::text(format_args!(
                "packet trace on for the next {n} packets of hw-address {}",
                HexBytes(h.as_bytes())
            )),
            (true, None, Some(h)) => control::text(format_args!(
                "packet trace on for hw-address {} until switched off",
                HexBytes(h.as_bytes())
            )),
            (true, None, None) => control::text(format_args!("packet trace on")),
        }
    }

    /// Whether a packet from `chaddr` is to be traced.
    pub fn wants(&self, chaddr: &[u8]) -> bool {
        self.on
            && self.remaining != Some(0)
            && self.hw_address.is_none_or(|h| h.as_bytes() == chaddr)
    }

    /// Counts one traced packet; the switch turns off after the last one.
    pub fn consume(&mut self) {
        if let Some(n) = self.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                *self = TraceSwitch::default();
            }
        }
    }
}

/// The engine's side: the shared switch and the line buffer.
#[derive(Debug)]
pub struct Tracer {
    switch: SharedSwitch,
    line: Vec<u8>,
}

/// How one packet is traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not at all.
    Off,
    /// Because the logger lets DEBUG through.
    Debug,
    /// Because `wren-trace` asked for it.
    Command,
}

impl Default for Tracer {
    fn default() -> Self {
        Tracer::new(SharedSwitch::default())
    }
}

impl Tracer {
    /// A tracer over `switch` (the line buffer is allocated here, once).
    pub fn new(switch: SharedSwitch) -> Tracer {
        Tracer {
            switch,
            line: vec![0; TRACE_LINE_MAX],
        }
    }

    /// Follows another switch (the control server's, after start or a reload).
    pub fn attach(&mut self, switch: SharedSwitch) {
        self.switch = switch;
    }

    /// Decides whether the query in `payload` is traced, counting it against the switch.
    pub fn decide(&mut self, payload: &[u8]) -> Verdict {
        let chaddr = Packet::new_checked(payload)
            .map(|p| p.chaddr())
            .unwrap_or(&[]);
        let mut switch = self.switch.get();
        if switch.wants(chaddr) {
            switch.consume();
            self.switch.set(switch);
            return Verdict::Command;
        }
        if log::log_enabled!(target: TARGET_PACKETS, Level::Debug) {
            Verdict::Debug
        } else {
            Verdict::Off
        }
    }

    /// Writes `line` (bounded) and logs it.
    pub fn write(&mut self, verdict: Verdict, line: &dyn std::fmt::Display) {
        let level = match verdict {
            Verdict::Off => return,
            Verdict::Debug => Level::Debug,
            Verdict::Command => Level::Info,
        };
        let n = core_trace::write_bounded(&mut self.line, line);
        let text = self
            .line
            .get(..n)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("");
        logging::packet_trace(level, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(packets: Option<u32>, hw: Option<&str>) -> TraceRequest {
        TraceRequest::On {
            packets,
            hw_address: hw.map(|h| HwAddress::parse(h).unwrap()),
        }
    }

    #[test]
    fn counts_down_and_turns_off() {
        let mut s = TraceSwitch::default();
        assert!(!s.wants(&[2, 0, 0, 0, 0, 1]));
        assert_eq!(
            s.apply(on(Some(2), None)).as_str(),
            "packet trace on for the next 2 packets"
        );
        assert!(s.wants(&[2, 0, 0, 0, 0, 1]));
        s.consume();
        assert!(s.wants(&[]));
        s.consume();
        assert!(!s.wants(&[2, 0, 0, 0, 0, 1]));
        assert!(s
            .apply(TraceRequest::Status)
            .starts_with("packet trace off"));
    }

    #[test]
    fn one_address_until_off() {
        let mut s = TraceSwitch::default();
        let text = s.apply(on(None, Some("02:00:00:00:00:01")));
        assert_eq!(
            text.as_str(),
            "packet trace on for hw-address 02:00:00:00:00:01 until switched off"
        );
        assert!(!s.wants(&[2, 0, 0, 0, 0, 2]));
        for _ in 0..100 {
            assert!(s.wants(&[2, 0, 0, 0, 0, 1]));
            s.consume();
        }
        assert!(s.apply(TraceRequest::Off).starts_with("packet trace off"));
        assert!(!s.wants(&[2, 0, 0, 0, 0, 1]));
        let text = s.apply(on(Some(3), Some("02:00:00:00:00:01")));
        assert!(text.contains("next 3 packets of hw-address 02:00:00:00:00:01"));
    }

    /// The tracer counts only the packets it traces, through the shared switch.
    #[test]
    fn tracer_counts_through_the_shared_switch() {
        let switch = SharedSwitch::default();
        let mut tracer = Tracer::new(switch.clone());
        let mut packet = vec![0u8; 300];
        packet[0] = 1;
        packet[2] = 6;
        packet[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        packet[236..240].copy_from_slice(&[99, 130, 83, 99]);
        let mut s = switch.get();
        s.apply(on(Some(1), Some("02:00:00:00:00:09")));
        switch.set(s);
        let mut other = packet.clone();
        other[33] = 8;
        assert_ne!(tracer.decide(&other), Verdict::Command);
        assert_eq!(tracer.decide(&packet), Verdict::Command);
        assert_ne!(tracer.decide(&packet), Verdict::Command, "count used up");
        assert!(!switch.get().on);
    }
}
