//! Option 82, Relay Agent Information (RFC 3046): a view over its sub-options.
//!
//! The payload is a sequence of (code, len, value) sub-options. RFC 3046 §2.0 defines no
//! PAD or END inside option 82, so codes 0 and 255 are ordinary sub-options here (Kea 2.2
//! parses `dhcp-agent-options-space` the same way). The sub-options wren consumes
//! (kea-options.md §2, dhcpv4-server-behaviour.md §8) have typed accessors; the first
//! instance of a code wins.

use core::net::Ipv4Addr;

/// Sub-option 1: Agent Circuit ID (RFC 3046 §3.1).
pub const CIRCUIT_ID: u8 = 1;
/// Sub-option 2: Agent Remote ID (RFC 3046 §3.2).
pub const REMOTE_ID: u8 = 2;
/// Sub-option 5: Link Selection (RFC 3527 §3).
pub const LINK_SELECTION: u8 = 5;
/// Sub-option 11: Server Identifier Override (RFC 5107 §4).
pub const SERVER_ID_OVERRIDE: u8 = 11;
/// Sub-option 19: Relay Source Port (RFC 8357 §5.1).
pub const RELAY_PORT: u8 = 19;

/// One sub-option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubOption<'a> {
    /// Sub-option code.
    pub code: u8,
    /// Its value.
    pub data: &'a [u8],
}

/// Iterator over the sub-options of an option 82 payload; stops at a sub-option whose
/// length runs past the end (never panics).
#[derive(Clone, Debug)]
pub struct SubOptionIter<'a> {
    data: &'a [u8],
    pos: usize,
    truncated: bool,
}

impl<'a> SubOptionIter<'a> {
    /// True when iteration stopped at a sub-option that runs past the end of the payload.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl<'a> Iterator for SubOptionIter<'a> {
    type Item = SubOption<'a>;

    fn next(&mut self) -> Option<SubOption<'a>> {
        let code = *self.data.get(self.pos)?;
        let Some(&len) = self.data.get(self.pos + 1) else {
            self.truncated = true;
            self.pos = self.data.len();
            return None;
        };
        let start = self.pos + 2;
        let end = start + usize::from(len);
        let Some(data) = self.data.get(start..end) else {
            self.truncated = true;
            self.pos = self.data.len();
            return None;
        };
        self.pos = end;
        Some(SubOption { code, data })
    }
}

/// A view over the payload of option 82.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayAgentInfo<'a> {
    data: &'a [u8],
}

impl<'a> RelayAgentInfo<'a> {
    /// View the payload of option 82 (without the option's own code/length).
    pub fn new(data: &'a [u8]) -> Self {
        RelayAgentInfo { data }
    }

    /// The raw payload, as echoed in replies (RFC 3046 §2.2: "copy ... unchanged").
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// True for an empty option 82, which is not echoed (behaviour §8).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Every sub-option, in order.
    pub fn sub_options(&self) -> SubOptionIter<'a> {
        SubOptionIter {
            data: self.data,
            pos: 0,
            truncated: false,
        }
    }

    /// The first sub-option with `code`.
    pub fn get(&self, code: u8) -> Option<&'a [u8]> {
        self.sub_options().find(|s| s.code == code).map(|s| s.data)
    }

    /// Sub-option 1, circuit id (opaque; used for `circuit-id` reservations and
    /// `relay4[1]` classification).
    pub fn circuit_id(&self) -> Option<&'a [u8]> {
        self.get(CIRCUIT_ID)
    }

    /// Sub-option 2, remote id (opaque).
    pub fn remote_id(&self) -> Option<&'a [u8]> {
        self.get(REMOTE_ID)
    }

    /// Sub-option 5, link selection: the subnet to select from (RFC 3527 §3: "length 4").
    /// A value of any other length is ignored, as Kea does.
    pub fn link_selection(&self) -> Option<Ipv4Addr> {
        self.get(LINK_SELECTION).and_then(ipv4)
    }

    /// Sub-option 11, server identifier override (RFC 5107 §4: length 4).
    pub fn server_id_override(&self) -> Option<Ipv4Addr> {
        self.get(SERVER_ID_OVERRIDE).and_then(ipv4)
    }

    /// Whether sub-option 19 (relay source port, RFC 8357) is present. Its presence is what
    /// matters: the reply then goes to the query's UDP source port (observed on Kea 2.2).
    pub fn has_relay_port(&self) -> bool {
        self.get(RELAY_PORT).is_some()
    }

    /// Sub-option 19's value when it is the 2-byte port RFC 8357 §5.1 describes.
    pub fn relay_port(&self) -> Option<u16> {
        let bytes: [u8; 2] = self.get(RELAY_PORT)?.try_into().ok()?;
        Some(u16::from_be_bytes(bytes))
    }
}

fn ipv4(bytes: &[u8]) -> Option<Ipv4Addr> {
    let octets: [u8; 4] = bytes.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Option 82 payload as a Cisco-style relay sends it: circuit-id "Gi0/1" (5 bytes),
    /// remote-id a MAC, link selection 198.18.10.0, server-id override 198.18.10.1,
    /// relay port 67.
    const PAYLOAD: [u8; 33] = [
        1, 5, b'G', b'i', b'0', b'/', b'1', // circuit id
        2, 6, 0x02, 0, 0, 0, 0, 0x09, // remote id
        5, 4, 198, 18, 10, 0, // link selection
        11, 4, 198, 18, 10, 1, // server id override
        19, 2, 0, 67, // relay port
        151, 0, // unknown, empty
    ];

    #[test]
    fn typed_accessors() {
        let rai = RelayAgentInfo::new(&PAYLOAD);
        assert_eq!(rai.circuit_id(), Some(&b"Gi0/1"[..]));
        assert_eq!(rai.remote_id(), Some(&[0x02, 0, 0, 0, 0, 0x09][..]));
        assert_eq!(rai.link_selection(), Some(Ipv4Addr::new(198, 18, 10, 0)));
        assert_eq!(
            rai.server_id_override(),
            Some(Ipv4Addr::new(198, 18, 10, 1))
        );
        assert!(rai.has_relay_port());
        assert_eq!(rai.relay_port(), Some(67));
        assert_eq!(rai.get(151), Some(&[][..]));
        assert_eq!(rai.as_bytes(), &PAYLOAD[..]);
        assert!(!rai.is_empty());
        assert!(RelayAgentInfo::new(&[]).is_empty());
        let codes: Vec<u8> = rai.sub_options().map(|s| s.code).collect();
        assert_eq!(codes, [1, 2, 5, 11, 19, 151]);
    }

    #[test]
    fn wrong_lengths_are_ignored() {
        let bytes = [5, 3, 198, 18, 10, 11, 5, 198, 18, 10, 1, 0, 19, 0];
        let rai = RelayAgentInfo::new(&bytes);
        assert_eq!(rai.link_selection(), None);
        assert_eq!(rai.server_id_override(), None);
        assert!(rai.has_relay_port());
        assert_eq!(rai.relay_port(), None);
        assert_eq!(rai.circuit_id(), None);
    }

    #[test]
    fn first_instance_wins_and_zero_code_is_plain() {
        let bytes = [0, 1, 9, 1, 1, b'a', 1, 1, b'b'];
        let rai = RelayAgentInfo::new(&bytes);
        assert_eq!(rai.get(0), Some(&[9u8][..]));
        assert_eq!(rai.circuit_id(), Some(&b"a"[..]));
    }

    #[test]
    fn truncated_stops() {
        let bytes = [1, 2, b'a', b'b', 2, 9, 1];
        let rai = RelayAgentInfo::new(&bytes);
        let mut it = rai.sub_options();
        assert_eq!(it.next().map(|s| s.code), Some(1));
        assert_eq!(it.next(), None);
        assert!(it.truncated());
        assert_eq!(rai.remote_id(), None);
        let mut it = RelayAgentInfo::new(&[1]).sub_options();
        assert_eq!(it.next(), None);
        assert!(it.truncated());
        let mut it = RelayAgentInfo::new(&[]).sub_options();
        assert_eq!(it.next(), None);
        assert!(!it.truncated());
    }
}
