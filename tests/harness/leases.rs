//! Reading Kea's memfile lease CSV (the same file wrend writes):
//! `address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context`.
//! Rows are appended; the last row for an address wins; a release is a row with valid_lifetime 0.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

pub const HEADER: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRow {
    pub address: Ipv4Addr,
    pub hwaddr: String,
    pub client_id: String,
    pub valid_lifetime: u64,
    pub expire: u64,
    pub subnet_id: u32,
    pub hostname: String,
    pub state: u32,
}

/// Kea escapes only `,` and `&` in text columns, as `&#xNN`.
fn unescape(s: &str) -> String {
    s.replace("&#x2c", ",").replace("&#x26", "&")
}

/// Parses one data row; `None` when it is not a well-formed lease row.
pub fn parse_row(line: &str) -> Option<LeaseRow> {
    let f: Vec<&str> = line.split(',').collect();
    let col = |i: usize| f.get(i).copied();
    Some(LeaseRow {
        address: col(0)?.parse().ok()?,
        hwaddr: col(1)?.to_ascii_lowercase(),
        client_id: col(2)?.to_ascii_lowercase(),
        valid_lifetime: col(3)?.parse().ok()?,
        expire: col(4)?.parse().ok()?,
        subnet_id: col(5)?.parse().ok()?,
        hostname: unescape(col(8)?),
        state: col(9)?.parse().ok()?,
    })
}

/// All rows of a lease file, in file order. Errors name the file and line.
pub fn read_rows(path: &Path) -> Result<Vec<LeaseRow>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h.trim() == HEADER => {}
        Some(h) => return Err(format!("{}: unexpected header {h:?}", path.display())),
        None => return Ok(Vec::new()),
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_row(l).ok_or_else(|| format!("{}:{}: bad row {l:?}", path.display(), i + 2))
        })
        .collect()
}

/// Rows, or an empty list when the file does not exist yet.
pub fn read_rows_or_empty(path: &Path) -> Vec<LeaseRow> {
    if !path.exists() {
        return Vec::new();
    }
    read_rows(path).unwrap_or_else(|e| panic!("{e}"))
}

/// The current table: the last row per address.
pub fn current(rows: &[LeaseRow]) -> BTreeMap<Ipv4Addr, LeaseRow> {
    rows.iter().map(|r| (r.address, r.clone())).collect()
}

/// Rows for one address, oldest first.
pub fn rows_for(rows: &[LeaseRow], addr: Ipv4Addr) -> Vec<LeaseRow> {
    rows.iter().filter(|r| r.address == addr).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_blog_rows() {
        let r = parse_row("192.168.1.21,70:bc:10:04:3d:59,,172800,1580691435,1,0,0,xboxone.,0,")
            .unwrap();
        assert_eq!(r.address, Ipv4Addr::new(192, 168, 1, 21));
        assert_eq!(r.valid_lifetime, 172800);
        assert_eq!(r.expire, 1580691435);
        assert_eq!(r.hostname, "xboxone.");
        assert!(parse_row("192.168.1.21,70:bc:10:04:3d:59,,abc,1,1,0,0,,0,").is_none());
        assert!(parse_row("garbage").is_none());
    }

    #[test]
    fn escaped_comma_in_hostname() {
        let r = parse_row("198.18.0.5,02:00:00:00:00:01,,600,100,1,0,0,a&#x2cb,0,").unwrap();
        assert_eq!(r.hostname, "a,b");
    }

    #[test]
    fn last_row_wins() {
        let a = parse_row("198.18.0.5,02:00:00:00:00:01,,600,100,1,0,0,,0,").unwrap();
        let b = parse_row("198.18.0.5,02:00:00:00:00:01,,0,40,1,0,0,,0,").unwrap();
        assert_eq!(
            current(&[a, b])[&Ipv4Addr::new(198, 18, 0, 5)].valid_lifetime,
            0
        );
    }
}
