//! Packet capture with tcpdump inside a namespace, and a small pcap reader (classic libpcap
//! format, Ethernet link type) that extracts IPv4/UDP payloads, plus a DHCP message view.

use crate::netns::Netns;
use crate::process::Background;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub const TCPDUMP: &str = "/usr/bin/tcpdump";

/// One captured UDP datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpPacket {
    /// Capture time in microseconds since the epoch.
    pub time_us: u64,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PcapError {
    TooShort,
    BadMagic(u32),
    UnsupportedLinkType(u32),
    TruncatedRecord { offset: usize },
}

fn u16be(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Reads a classic pcap file (either byte order, micro- or nanosecond stamps) and returns the
/// IPv4 UDP datagrams in it; non-UDP frames, fragments and truncated frames are skipped.
pub fn read_pcap(data: &[u8]) -> Result<Vec<UdpPacket>, PcapError> {
    let header = data.get(..24).ok_or(PcapError::TooShort)?;
    let magic: [u8; 4] = header
        .get(..4)
        .and_then(|m| m.try_into().ok())
        .ok_or(PcapError::TooShort)?;
    let magic_le = u32::from_le_bytes(magic);
    let (le, nanos) = match magic_le {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        other => return Err(PcapError::BadMagic(other)),
    };
    let rd32 = |b: &[u8], at: usize| -> Option<u32> {
        let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    };
    let linktype = rd32(header, 20).ok_or(PcapError::TooShort)?;
    if linktype != 1 {
        return Err(PcapError::UnsupportedLinkType(linktype));
    }
    let mut out = Vec::new();
    let mut off = 24usize;
    while off < data.len() {
        let rec = data
            .get(off..off + 16)
            .ok_or(PcapError::TruncatedRecord { offset: off })?;
        let (Some(sec), Some(frac), Some(incl)) = (rd32(rec, 0), rd32(rec, 4), rd32(rec, 8)) else {
            return Err(PcapError::TruncatedRecord { offset: off });
        };
        let incl = incl as usize;
        let frame = data
            .get(off + 16..off + 16 + incl)
            .ok_or(PcapError::TruncatedRecord { offset: off })?;
        off += 16 + incl;
        let time_us = u64::from(sec) * 1_000_000
            + if nanos {
                u64::from(frac) / 1000
            } else {
                u64::from(frac)
            };
        if let Some(p) = parse_ethernet_udp(frame, time_us) {
            out.push(p);
        }
    }
    Ok(out)
}

fn parse_ethernet_udp(frame: &[u8], time_us: u64) -> Option<UdpPacket> {
    let dst_mac: [u8; 6] = frame.get(0..6)?.try_into().ok()?;
    let src_mac: [u8; 6] = frame.get(6..12)?.try_into().ok()?;
    if u16be(frame, 12)? != 0x0800 {
        return None;
    }
    let ip = frame.get(14..)?;
    let vihl = *ip.first()?;
    if vihl >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let frag = u16be(ip, 6)?;
    if frag & 0x3fff != 0 {
        return None; // fragment
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    let total = usize::from(u16be(ip, 2)?);
    let src_ip = Ipv4Addr::new(*ip.get(12)?, *ip.get(13)?, *ip.get(14)?, *ip.get(15)?);
    let dst_ip = Ipv4Addr::new(*ip.get(16)?, *ip.get(17)?, *ip.get(18)?, *ip.get(19)?);
    let udp = ip.get(ihl..total)?;
    let ulen = usize::from(u16be(udp, 4)?);
    Some(UdpPacket {
        time_us,
        src_mac,
        dst_mac,
        src_ip,
        dst_ip,
        src_port: u16be(udp, 0)?,
        dst_port: u16be(udp, 2)?,
        payload: udp.get(8..ulen)?.to_vec(),
    })
}

/// A read-only view of a DHCPv4 message (enough for assertions in tests).
#[derive(Clone, Copy, Debug)]
pub struct Dhcp<'a>(pub &'a [u8]);

impl<'a> Dhcp<'a> {
    /// `None` unless the payload is at least a BOOTP header with the DHCP magic cookie.
    pub fn parse(payload: &'a [u8]) -> Option<Dhcp<'a>> {
        (payload.get(236..240)? == [99, 130, 83, 99]).then_some(Dhcp(payload))
    }
    pub fn op(&self) -> u8 {
        self.0.first().copied().unwrap_or(0)
    }
    pub fn xid(&self) -> u32 {
        self.0
            .get(4..8)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .unwrap_or(0)
    }
    fn addr(&self, at: usize) -> Ipv4Addr {
        self.0
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(Ipv4Addr::from)
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    }
    pub fn ciaddr(&self) -> Ipv4Addr {
        self.addr(12)
    }
    pub fn yiaddr(&self) -> Ipv4Addr {
        self.addr(16)
    }
    pub fn giaddr(&self) -> Ipv4Addr {
        self.addr(24)
    }
    pub fn chaddr(&self) -> [u8; 6] {
        self.0
            .get(28..34)
            .and_then(|b| b.try_into().ok())
            .unwrap_or([0; 6])
    }
    /// The first instance of option `code` (no RFC 3396 concatenation, no overload).
    pub fn option(&self, code: u8) -> Option<&'a [u8]> {
        let mut i = 240usize;
        loop {
            let c = *self.0.get(i)?;
            match c {
                0 => i += 1,
                255 => return None,
                _ => {
                    let len = usize::from(*self.0.get(i + 1)?);
                    let body = self.0.get(i + 2..i + 2 + len)?;
                    if c == code {
                        return Some(body);
                    }
                    i += 2 + len;
                }
            }
        }
    }
    /// Option 53: 1 DISCOVER, 2 OFFER, 3 REQUEST, 4 DECLINE, 5 ACK, 6 NAK, 7 RELEASE, 8 INFORM.
    pub fn message_type(&self) -> Option<u8> {
        self.option(53).and_then(|b| b.first().copied())
    }
}

impl Dhcp<'_> {
    /// Every option in order as (code, value), stopping at `end` or at a truncated option.
    pub fn options(&self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut i = 240usize;
        while let Some(&c) = self.0.get(i) {
            match c {
                0 => i += 1,
                255 => break,
                _ => {
                    let Some(len) = self.0.get(i + 1).map(|&l| usize::from(l)) else {
                        break;
                    };
                    let Some(body) = self.0.get(i + 2..i + 2 + len) else {
                        break;
                    };
                    out.push((c, body.to_vec()));
                    i += 2 + len;
                }
            }
        }
        out
    }

    /// A text form of everything a server decides in a reply, for comparing wrend with Kea:
    /// all fixed fields except xid and secs, the length, and every option in order with its value.
    pub fn server_view(&self) -> String {
        let byte = |at: usize| self.0.get(at).copied().unwrap_or(0);
        let text = |r: std::ops::Range<usize>| {
            let b = self.0.get(r).unwrap_or(&[]);
            String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[])).into_owned()
        };
        let opts: Vec<String> = self
            .options()
            .iter()
            .map(|(c, v)| {
                format!(
                    "{c}={}",
                    v.iter().map(|b| format!("{b:02x}")).collect::<String>()
                )
            })
            .collect();
        format!(
            "op={} htype={} hlen={} hops={} flags={:02x}{:02x} ciaddr={} yiaddr={} siaddr={} giaddr={} \
             chaddr={} sname={:?} file={:?} len={}\n  options: {}",
            byte(0),
            byte(1),
            byte(2),
            byte(3),
            byte(10),
            byte(11),
            self.ciaddr(),
            self.yiaddr(),
            self.addr(20),
            self.giaddr(),
            mac_string(&self.chaddr()),
            text(44..108),
            text(108..236),
            self.0.len(),
            opts.join(" ")
        )
    }
}

pub const DHCPDISCOVER: u8 = 1;
pub const DHCPOFFER: u8 = 2;
pub const DHCPREQUEST: u8 = 3;
pub const DHCPACK: u8 = 5;
pub const DHCPNAK: u8 = 6;
pub const DHCPRELEASE: u8 = 7;
pub const DHCPINFORM: u8 = 8;

/// A running tcpdump writing `<dir>/<name>.pcap` (DHCP ports only). Stop with [`Capture::stop`].
pub struct Capture {
    proc: Background,
    path: PathBuf,
    log: PathBuf,
}

impl Capture {
    pub fn start(ns: &Netns, iface: &str, dir: &Path, name: &str) -> Capture {
        Capture::start_filtered(ns, iface, dir, name, "udp port 67 or udp port 68")
    }

    /// Like [`Capture::start`] with another tcpdump filter (e.g. "udp" for moved ports).
    pub fn start_filtered(
        ns: &Netns,
        iface: &str,
        dir: &Path,
        name: &str,
        filter: &str,
    ) -> Capture {
        crate::require_program(TCPDUMP, "tcpdump");
        let path = dir.join(format!("{name}.pcap"));
        let log = dir.join(format!("{name}.tcpdump.log"));
        let f = File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let e = f.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = ns.command(TCPDUMP);
        cmd.args([
            "-i",
            iface,
            "-n",
            "-U",
            "-s",
            "0",
            "-Z",
            "root",
            "--immediate-mode",
            "-w",
        ])
        .arg(&path)
        .arg(filter)
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(e);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start tcpdump: {e}"));
        let mut proc = Background::new(child, "tcpdump");
        let started = crate::wait_for(Duration::from_secs(10), || {
            crate::read_text(&log)
                .contains("listening on")
                .then_some(())
        });
        if started.is_none() {
            proc.stop(Duration::from_secs(1));
            panic!("tcpdump did not start: {}", crate::read_text(&log));
        }
        Capture { proc, path, log }
    }

    /// Packets written so far (tcpdump -U flushes per packet).
    pub fn packets_so_far(&self) -> Vec<UdpPacket> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|d| read_pcap(&d).ok())
            .unwrap_or_default()
    }

    /// Lets in-flight packets drain, stops tcpdump and returns every UDP packet captured.
    pub fn stop(mut self) -> Vec<UdpPacket> {
        std::thread::sleep(Duration::from_millis(700));
        self.proc.stop(Duration::from_secs(5));
        let data = std::fs::read(&self.path)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.path.display()));
        read_pcap(&data).unwrap_or_else(|e| {
            panic!(
                "bad pcap {}: {e:?} ({})",
                self.path.display(),
                crate::read_text(&self.log)
            )
        })
    }
}

/// Formats a MAC as Kea writes it: lowercase, colon-separated.
pub fn mac_string(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn reads_a_little_endian_pcap_with_one_dhcp_packet() {
        let payload =
            hex(include_str!("../../core/tests/fixtures/kea-offer-to-dhclient.hex").trim());
        let mut frame = vec![2, 0x57, 0x52, 0, 0, 2, 2, 0x57, 0x52, 0, 0, 1, 8, 0];
        let total = (20 + 8 + payload.len()) as u16;
        frame.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        frame.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 100]);
        let ulen = (8 + payload.len()) as u16;
        frame.extend_from_slice(&[0, 67, 0, 68, (ulen >> 8) as u8, ulen as u8, 0, 0]);
        frame.extend_from_slice(&payload);
        let mut file = Vec::new();
        file.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        file.extend_from_slice(&[
            2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
        ]);
        for v in [7u32, 9, frame.len() as u32, frame.len() as u32] {
            file.extend_from_slice(&v.to_le_bytes());
        }
        file.extend_from_slice(&frame);
        let pkts = read_pcap(&file).unwrap();
        assert_eq!(pkts.len(), 1);
        let p = &pkts[0];
        assert_eq!((p.src_port, p.dst_port), (67, 68));
        assert_eq!(p.dst_ip, Ipv4Addr::new(198, 18, 0, 100));
        assert_eq!(p.time_us, 7_000_009);
        let d = Dhcp::parse(&p.payload).unwrap();
        assert_eq!(d.message_type(), Some(DHCPOFFER));
        assert_eq!(d.yiaddr(), Ipv4Addr::new(198, 18, 0, 100));
        assert_eq!(d.option(51), Some(&[0, 0, 2, 0x58][..]));
        assert_eq!(mac_string(&d.chaddr()), "02:57:52:00:00:02");
        // a record cut short is an error, not a panic
        assert!(matches!(
            read_pcap(&file[..file.len() - 3]),
            Err(PcapError::TruncatedRecord { .. })
        ));
        assert_eq!(read_pcap(&file[..10]), Err(PcapError::TooShort));
    }

    #[test]
    fn option_walk_stops_at_truncation() {
        let mut p = hex(include_str!("../../core/tests/fixtures/dhclient-discover.hex").trim());
        assert_eq!(Dhcp::parse(&p).unwrap().message_type(), Some(DHCPDISCOVER));
        p.truncate(242); // option 53 header without its value
        assert_eq!(Dhcp::parse(&p).unwrap().message_type(), None);
    }
}
