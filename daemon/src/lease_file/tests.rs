//! Tests of the lease file set. A tiny sink stands in for the core loader: it checks the
//! column count, address and numbers like Kea's loader and keeps the last line per address.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

use wren_core::lease::loader::NoSubnets;
use wren_core::lease::table::LeaseSlot;
use wren_core::lease::{LeaseState, LeaseStorage, OccupancyStorage};
use wren_core::time::Timestamp;

use super::*;

// ----- test directory -----

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("wren-lease-file-{}-{tag}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn lease_path(&self) -> PathBuf {
        self.0.join("kea-leases4.csv")
    }

    fn member(&self, suffix: &str) -> PathBuf {
        self.0.join(format!("kea-leases4.csv{suffix}"))
    }

    fn write(&self, suffix: &str, content: &str) {
        fs::write(self.member(suffix), content).unwrap();
    }

    fn read(&self, suffix: &str) -> String {
        fs::read_to_string(self.member(suffix)).unwrap()
    }

    fn exists(&self, suffix: &str) -> bool {
        self.member(suffix).exists()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ----- a minimal loader -----

#[derive(Debug, PartialEq, Eq)]
enum SinkError {
    Columns(usize),
    Address,
    Ids,
    Number(&'static str),
    Utf8,
    Header,
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Last line per address, like Kea's loader.
#[derive(Debug, Default)]
struct MemSink {
    columns: usize,
    leases: BTreeMap<Ipv4Addr, String>,
}

impl RowSink for MemSink {
    type Error = SinkError;

    fn header(&mut self, line: &[u8]) -> Result<HeaderFit, SinkError> {
        let line = std::str::from_utf8(line).map_err(|_| SinkError::Utf8)?;
        let ours: Vec<&str> = HEADER.split(',').collect();
        let theirs: Vec<&str> = line.split(',').collect();
        let common = ours.len().min(theirs.len());
        if common < 9 || ours[..common] != theirs[..common] {
            return Err(SinkError::Header);
        }
        self.columns = theirs.len();
        Ok(if theirs.len() == ours.len() {
            HeaderFit::Current
        } else {
            HeaderFit::NeedsConversion
        })
    }

    fn row(&mut self, line: &[u8]) -> Result<(), SinkError> {
        let line = std::str::from_utf8(line).map_err(|_| SinkError::Utf8)?;
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() != self.columns {
            return Err(SinkError::Columns(cols.len()));
        }
        let addr: Ipv4Addr = cols[0].parse().map_err(|_| SinkError::Address)?;
        let valid: u32 = cols[3].parse().map_err(|_| SinkError::Number("valid"))?;
        cols[4]
            .parse::<u64>()
            .map_err(|_| SinkError::Number("expire"))?;
        cols[5]
            .parse::<u32>()
            .map_err(|_| SinkError::Number("subnet"))?;
        for c in &cols[6..8] {
            if *c != "0" && *c != "1" {
                return Err(SinkError::Number("fqdn"));
            }
        }
        let state: u32 = match cols.get(9) {
            Some(s) => s.parse().map_err(|_| SinkError::Number("state"))?,
            None => 0,
        };
        if cols[1].is_empty() && cols[2].is_empty() && state != 1 {
            return Err(SinkError::Ids);
        }
        if valid == 0 {
            self.leases.remove(&addr);
        } else {
            self.leases.insert(addr, line.to_string());
        }
        Ok(())
    }

    fn lease_count(&self) -> usize {
        self.leases.len()
    }
}

/// A parsed canonical row, owning its data.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OwnedLease {
    address: Ipv4Addr,
    hwaddr: Vec<u8>,
    client_id: Vec<u8>,
    valid: u32,
    expire: u64,
    subnet: u32,
    fwd: bool,
    rev: bool,
    hostname: String,
    state: LeaseState,
    context: String,
}

fn unhex(s: &str) -> Vec<u8> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&#x2c", ",").replace("&#x26", "&")
}

impl OwnedLease {
    fn parse(line: &str) -> OwnedLease {
        let c: Vec<&str> = line.split(',').collect();
        OwnedLease {
            address: c[0].parse().unwrap(),
            hwaddr: unhex(c[1]),
            client_id: unhex(c[2]),
            valid: c[3].parse().unwrap(),
            expire: c[4].parse().unwrap(),
            subnet: c[5].parse().unwrap(),
            fwd: c[6] == "1",
            rev: c[7] == "1",
            hostname: unescape(c[8]),
            state: LeaseState::from_code(c.get(9).map_or(0, |s| s.parse().unwrap())).unwrap(),
            context: unescape(c.get(10).copied().unwrap_or("")),
        }
    }

    fn record(&self) -> LeaseRecord<'_> {
        LeaseRecord {
            address: self.address,
            hwaddr: &self.hwaddr,
            client_id: &self.client_id,
            valid_lifetime: self.valid,
            cltt: Timestamp(self.expire - u64::from(self.valid)),
            subnet_id: self.subnet,
            fqdn_fwd: self.fwd,
            fqdn_rev: self.rev,
            hostname: &self.hostname,
            state: self.state,
            user_context: &self.context,
        }
    }
}

/// The address column of a row.
fn row_address(row: &[u8]) -> Option<Ipv4Addr> {
    let end = row.iter().position(|&b| b == b',').unwrap_or(row.len());
    std::str::from_utf8(&row[..end]).ok()?.parse().ok()
}

fn write_row(record: &LeaseRecord<'_>, out: &mut Vec<u8>) {
    let mut len = out.len();
    push_row(out, &mut len, record);
    out.truncate(len);
}

fn owned(sink: &MemSink) -> Vec<OwnedLease> {
    sink.leases.values().map(|l| OwnedLease::parse(l)).collect()
}

fn options(dir: &TempDir) -> PathBuf {
    dir.lease_path()
}

fn open(dir: &TempDir) -> (LeaseFile, LoadReport, MemSink) {
    open_max(dir, 0).unwrap()
}

fn open_max(dir: &TempDir, max: u32) -> Result<(LeaseFile, LoadReport, MemSink), Error> {
    let path = options(dir);
    let mut sink = MemSink::default();
    let (file, report) = LeaseFile::open(
        &OpenOptions {
            path: Some(&path),
            persist: true,
            max_row_errors: max,
        },
        &mut sink,
    )?;
    Ok((file, report, sink))
}

fn row(addr: &str, last: u8, valid: u32, expire: u64) -> String {
    format!("{addr},02:00:00:00:00:{last:02x},01:02:00:00:00:00:{last:02x},{valid},{expire},1,0,0,host-{last},0,")
}

fn file_of(rows: &[String]) -> String {
    let mut s = format!("{HEADER}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

fn lines(sink: &MemSink) -> Vec<String> {
    sink.leases.values().cloned().collect()
}

// ----- loading -----

#[test]
fn missing_file_is_created_with_header() {
    let dir = TempDir::new("missing");
    let (_f, report, sink) = open(&dir);
    assert_eq!(dir.read(""), format!("{HEADER}\n"));
    assert_eq!(report.rows, 0);
    assert_eq!(sink.leases.len(), 0);
    assert_eq!(report.files.len(), 1);
}

/// A journal created at start is not synced there (no disk sync before the first answer):
/// the first batch's commit syncs its header with the rows, then its directory entry.
#[test]
fn created_journal_is_synced_by_the_first_commit() {
    let dir = TempDir::new("firstcommit");
    let (mut f, _report, _sink) = open(&dir);
    assert!(
        f.dir_sync_pending,
        "created at start: its sync waits for the first batch"
    );
    f.sync_batch().unwrap();
    assert!(f.dir_sync_pending, "an empty batch syncs nothing");
    let lease = OwnedLease::parse(&row("198.18.0.10", 1, 3600, 1_000_000));
    f.append(&lease.record());
    f.sync_batch().unwrap();
    assert!(!f.dir_sync_pending);
    assert!(dir.read("").starts_with(&format!("{HEADER}\n198.18.0.10,")));
    drop(f);
    dir.write("", &file_of(&[row("198.18.0.11", 2, 3600, 1_000_000)]));
    let (f, _report, _sink) = open(&dir);
    assert!(!f.dir_sync_pending, "an existing journal is used as it is");
}

#[test]
fn empty_file_gets_header() {
    let dir = TempDir::new("empty");
    dir.write("", "");
    let (_f, _r, _s) = open(&dir);
    assert_eq!(dir.read(""), format!("{HEADER}\n"));
}

#[test]
fn torn_header_is_rewritten() {
    let dir = TempDir::new("tornheader");
    dir.write("", "address,hwaddr,cli");
    let (_f, report, _s) = open(&dir);
    assert_eq!(dir.read(""), format!("{HEADER}\n"));
    assert!(report.errors.is_empty());
}

#[test]
fn foreign_header_is_rejected() {
    let dir = TempDir::new("badheader");
    dir.write("", "address,mac,client_id\n");
    match open_max(&dir, 0) {
        Err(Error::BadHeader { path, .. }) => assert_eq!(path, dir.lease_path()),
        other => panic!("{other:?}"),
    }
}

/// The load order for every combination of `.completed`, `.2`, `.1` and `<name>`: each file
/// holds a different version of the same lease (its lifetime says which file it came from)
/// plus a lease only it has; the last file loaded wins.
#[test]
fn load_order_for_all_file_set_combinations() {
    let a = "198.18.0.10";
    for mask in 0u8..16 {
        let dir = TempDir::new("order");
        let has = |bit: u8| mask & (1 << bit) != 0;
        // bit 0 .completed (lifetime 100), 1 .2 (200), 2 .1 (300), 3 <name> (400)
        let members = [(".completed", 100u32), (".2", 200), (".1", 300), ("", 400)];
        for (bit, (suffix, valid)) in members.iter().enumerate() {
            if has(bit as u8) {
                let own = format!("198.18.1.{}", bit + 1);
                dir.write(
                    suffix,
                    &file_of(&[
                        row(a, 1, *valid, 2_000_000_000),
                        row(&own, 2, 60, 1_900_000_000),
                    ]),
                );
            }
        }
        let (_f, report, sink) = open(&dir);
        let loaded: Vec<usize> = (0..4)
            .filter(|&bit| {
                sink.leases
                    .contains_key(&format!("198.18.1.{}", bit + 1).parse().unwrap())
            })
            .collect();
        let expected: Vec<usize> = if has(0) {
            [0, 3].into_iter().filter(|&b| has(b as u8)).collect()
        } else {
            [1, 2, 3].into_iter().filter(|&b| has(b as u8)).collect()
        };
        assert_eq!(loaded, expected, "mask {mask:04b}");
        let winner = expected.last().map(|&b| members[b].1);
        let got = sink
            .leases
            .get(&a.parse().unwrap())
            .map(|l| OwnedLease::parse(l).valid);
        assert_eq!(got, winner, "mask {mask:04b}");
        // `<name>` always exists afterwards and is always the last file read.
        assert!(dir.exists(""));
        assert_eq!(report.files.last().unwrap().path, dir.lease_path());
        assert_eq!(report.files.len(), expected.len() + usize::from(!has(3)));
    }
}

#[test]
fn last_line_wins_across_files_and_zero_lifetime_removes() {
    let dir = TempDir::new("lastline");
    dir.write(
        ".2",
        &file_of(&[
            row("198.18.0.1", 1, 100, 1_800_000_000),
            row("198.18.0.2", 2, 100, 1_800_000_000),
        ]),
    );
    dir.write(
        ".1",
        &file_of(&[
            row("198.18.0.1", 1, 200, 1_800_000_100),
            row("198.18.0.2", 2, 0, 1_800_000_000),
        ]),
    );
    dir.write(
        "",
        &file_of(&[
            row("198.18.0.2", 3, 300, 1_800_000_300),
            row("198.18.0.3", 4, 0, 1_800_000_000),
        ]),
    );
    let (_f, report, sink) = open(&dir);
    assert_eq!(
        lines(&sink),
        vec![
            row("198.18.0.1", 1, 200, 1_800_000_100),
            row("198.18.0.2", 3, 300, 1_800_000_300)
        ]
    );
    assert_eq!(report.rows, 6);
    assert_eq!(report.leases, 2);
}

#[test]
fn truncated_last_line_is_one_bad_row_and_is_cut_off() {
    let dir = TempDir::new("torn");
    let good = row("198.18.0.1", 1, 100, 1_800_000_000);
    let mut content = file_of(std::slice::from_ref(&good));
    content.push_str("198.18.0.2,02:00:00:00:00:02,,36");
    dir.write("", &content);
    let (mut f, report, sink) = open(&dir);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].row, 2);
    assert!(report.truncated_tail_removed);
    assert_eq!(sink.leases.len(), 1);
    assert_eq!(dir.read(""), file_of(std::slice::from_ref(&good)));
    // The next append starts on its own line.
    let next = OwnedLease::parse(&row("198.18.0.3", 3, 100, 1_800_000_000));
    f.append(&next.record());
    f.sync_batch().unwrap();
    drop(f);
    let (_f, report, sink) = open(&dir);
    assert!(report.errors.is_empty());
    assert_eq!(sink.leases.len(), 2);
}

/// The file is read in chunks and rows are handed over in place: rows that straddle chunk
/// boundaries, a bad row longer than a whole chunk, and an unterminated torn last row after
/// them all load (or fail) with the right row numbers, and the torn row is cut off at its
/// own offset.
#[test]
fn rows_across_read_chunks_and_a_row_longer_than_a_chunk() {
    let dir = TempDir::new("chunks");
    let rows: Vec<String> = (0..8000u32)
        .map(|i| {
            let a = Ipv4Addr::from(0xc612_0000 + i);
            row(&a.to_string(), (i % 251) as u8, 100 + i, 1_800_000_000)
        })
        .collect();
    let long_bad = format!(
        "198.19.0.1,02:00:00:00:00:01,,{}x,1800000000,1,0,0,,0,",
        "0".repeat(SCAN_CHUNK + 1000)
    );
    let mut content = file_of(&rows[..3000]);
    content.push_str(&long_bad);
    content.push('\n');
    for r in &rows[3000..] {
        content.push_str(r);
        content.push('\n');
    }
    let good_len = content.len() as u64;
    content.push_str("198.19.0.2,02:00:00:00:00:02,,36");
    assert!(content.len() > 3 * SCAN_CHUNK);
    dir.write("", &content);
    let (_f, report, sink) = open(&dir);
    assert_eq!(report.rows, 8002);
    assert_eq!(
        report.errors.iter().map(|e| e.row).collect::<Vec<_>>(),
        vec![3001, 8002]
    );
    assert!(report.truncated_tail_removed);
    assert_eq!(sink.leases.len(), 8000);
    for (i, r) in rows.iter().enumerate() {
        let a = Ipv4Addr::from(0xc612_0000 + i as u32);
        assert_eq!(sink.leases.get(&a), Some(r), "row {}", i + 1);
    }
    assert_eq!(fs::metadata(dir.member("")).unwrap().len(), good_len);
}

#[test]
fn complete_last_line_without_newline_is_kept() {
    let dir = TempDir::new("nonl");
    let good = row("198.18.0.1", 1, 100, 1_800_000_000);
    dir.write("", &format!("{HEADER}\n{good}"));
    let (mut f, report, sink) = open(&dir);
    assert!(report.errors.is_empty());
    assert!(!report.truncated_tail_removed);
    assert_eq!(sink.leases.len(), 1);
    let next = OwnedLease::parse(&row("198.18.0.3", 3, 100, 1_800_000_000));
    f.append(&next.record());
    f.sync_batch().unwrap();
    assert_eq!(
        dir.read(""),
        file_of(&[good, row("198.18.0.3", 3, 100, 1_800_000_000)])
    );
}

#[test]
fn row_errors_are_numbered_and_max_row_errors_aborts() {
    let dir = TempDir::new("maxerr");
    let content = format!(
        "{HEADER}\n{}\nnot-an-address,,,1,1,1,0,0,,0,\n{}\n198.18.0.9,02:00:00:00:00:09,,x,1,1,0,0,,0,\n198.18.0.8,,,100,1,1,0,0,,0,\n",
        row("198.18.0.1", 1, 100, 1_800_000_000),
        row("198.18.0.2", 2, 100, 1_800_000_000),
    );
    dir.write("", &content);
    let (_f, report, sink) = open_max(&dir, 3).unwrap();
    let rows: Vec<u64> = report.errors.iter().map(|e| e.row).collect();
    assert_eq!(rows, vec![2, 4, 5]);
    assert_eq!(report.errors[0].reason, "Address");
    assert_eq!(report.errors[1].reason, "Number(\"valid\")");
    assert_eq!(report.errors[2].reason, "Ids");
    assert_eq!(sink.leases.len(), 2);
    // Unlimited by default.
    assert_eq!(open_max(&dir, 0).unwrap().1.errors.len(), 3);
    // More than the limit aborts (Kea: "exceeded maximum number of failures").
    match open_max(&dir, 2) {
        Err(Error::TooManyRowErrors { limit: 2, path }) => assert_eq!(path, dir.lease_path()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn max_row_errors_counts_per_file() {
    let dir = TempDir::new("perfile");
    let bad = "bad,,,1,1,1,0,0,,0,";
    dir.write(".2", &format!("{HEADER}\n{bad}\n"));
    dir.write("", &format!("{HEADER}\n{bad}\n"));
    let (_f, report, _s) = open_max(&dir, 1).unwrap();
    assert_eq!(report.errors.len(), 2);
    assert_eq!(report.errors[0].file, dir.member(".2"));
    assert_eq!(report.errors[1].file, dir.lease_path());
}

#[test]
fn older_and_newer_schemas_ask_for_compaction() {
    for header in [
        "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname",
        "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id",
    ] {
        let dir = TempDir::new("schema");
        let cols = header.split(',').count();
        let r: Vec<&str> = "198.18.0.1,02:00:00:00:00:01,,100,1800000000,1,0,0,h,0,,0"
            .split(',')
            .take(cols)
            .collect();
        dir.write("", &format!("{header}\n{}\n", r.join(",")));
        let (mut f, report, sink) = open(&dir);
        assert!(report.needs_compaction);
        assert_eq!(sink.leases.len(), 1);
        // Appending wren rows to a file of another schema is refused until compaction.
        let l = OwnedLease::parse(&row("198.18.0.2", 2, 100, 1_800_000_000));
        f.append(&l.record());
        assert!(matches!(f.sync_batch(), Err(Error::ConversionPending)));
        let leases: Vec<OwnedLease> = owned(&sink);
        f.compact(leases.iter().map(OwnedLease::record)).unwrap();
        assert_eq!(dir.read(""), format!("{HEADER}\n"));
        assert!(dir.read(".2").starts_with(&format!("{HEADER}\n198.18.0.1,")));
        f.append(&l.record());
        f.sync_batch().unwrap();
        drop(f);
        let (_f, report, sink) = open(&dir);
        assert!(!report.needs_compaction);
        assert_eq!(sink.leases.len(), 2);
    }
}

#[test]
fn live_cleanup_pid_refuses_open_and_stale_one_does_not() {
    let dir = TempDir::new("pid");
    // PID 1 is always alive.
    dir.write(".pid", "1\n");
    assert!(matches!(
        open_max(&dir, 0),
        Err(Error::CleanupInProgress { pid: 1, .. })
    ));
    dir.write(".pid", "garbage");
    assert!(open_max(&dir, 0).is_ok());
}

#[test]
fn not_persisting_reads_and_writes_nothing() {
    let dir = TempDir::new("nopersist");
    dir.write("", &file_of(&[row("198.18.0.1", 1, 100, 1_800_000_000)]));
    let path = dir.lease_path();
    let mut sink = MemSink::default();
    let (mut f, report) = LeaseFile::open(
        &OpenOptions {
            path: Some(&path),
            persist: false,
            max_row_errors: 0,
        },
        &mut sink,
    )
    .unwrap();
    assert!(report.in_memory_only);
    assert_eq!(sink.leases.len(), 0);
    let l = OwnedLease::parse(&row("198.18.0.2", 2, 100, 1_800_000_000));
    f.append(&l.record());
    assert_eq!(f.pending_rows(), 0);
    f.sync_batch().unwrap();
    f.compact([l.record()]).unwrap();
    assert_eq!(
        dir.read(""),
        file_of(&[row("198.18.0.1", 1, 100, 1_800_000_000)])
    );
    assert!(!dir.exists(".2"));
}

#[test]
fn kea_written_rows_load() {
    // kea-memfile.md §1 examples (checked against Kea 2.2), as Kea wrote them.
    let dir = TempDir::new("kea");
    let content = format!(
        "{HEADER}\n\
198.18.10.130,02:00:00:00:00:11,01:02:00:00:00:00:11,4000,1795861696,1,0,0,,0,\n\
198.18.0.150,1a:1b:1c:1d:1e:1f,01:1a:1b:1c:1d:1e:1f,1000,1795858110,1,0,0,host-a.example.,0,{{ \"k\": \"v&#x2c with comma\" }}\n\
198.18.1.10,3a:3b:3c:3d:3e:3f,,3600,1900000000,2,1,1,x&#x2cy,1,\n\
198.18.10.50,,,86400,1795943814,1,0,0,,1,\n\
198.18.10.150,02:00:00:00:00:02,,0,1795857378,1,0,0,,0,\n"
    );
    dir.write("", &content);
    let (_f, report, sink) = open(&dir);
    assert!(report.errors.is_empty());
    assert_eq!(report.rows, 5);
    assert_eq!(sink.leases.len(), 4);
    let ctx = OwnedLease::parse(&sink.leases[&"198.18.0.150".parse().unwrap()]);
    assert_eq!(ctx.context, "{ \"k\": \"v, with comma\" }");
    let decl = OwnedLease::parse(&sink.leases[&"198.18.10.50".parse().unwrap()]);
    assert_eq!(decl.state, LeaseState::Declined);
}

/// The seed's lease file (the founding user's Kea 2.x on FreeBSD): a duplicate line, FQDN
/// flags, hostnames with a trailing dot.
const SEED_FILE: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
192.168.1.107,b8:27:eb:be:a7:8f,,172800,1580691195,1,1,1,retropi,0,
192.168.1.21,70:bc:10:04:3d:59,,172800,1580691435,1,0,0,xboxone.,0,
192.168.1.36,0c:fe:45:99:e1:d4,,172800,1580691448,1,0,0,,0,
192.168.1.94,e0:d5:5e:6f:ce:58,,172800,1580691859,1,0,0,desktop-ke7rahc.,0,
192.168.1.20,58:cb:52:7b:4e:d8,,172800,1580692153,1,0,0,,0,
192.168.1.35,88:41:fc:98:38:a7,,172800,1580692171,1,1,1,airi-ap,0,
192.168.1.29,80:2a:a8:93:be:b8,,172800,1580692412,1,1,1,ubnt-ap1,0,
192.168.1.29,80:2a:a8:93:be:b8,,172800,1580692412,1,1,1,ubnt-ap1,0,
192.168.1.135,38:f9:d3:3a:7a:a3,,216000,1580737632,1,1,1,c02xk346jg5m,0,
";

#[test]
fn seed_file_loads_and_compacts_byte_identical() {
    let dir = TempDir::new("seed");
    dir.write("", SEED_FILE);
    let (mut f, report, sink) = open(&dir);
    assert!(report.errors.is_empty());
    assert_eq!(report.rows, 9);
    assert_eq!(sink.leases.len(), 8);
    // Written back: the same canonical rows, deduplicated, sorted by address (kea-lfc order).
    let leases = owned(&sink);
    // Feed them unsorted: compaction sorts.
    let report = f
        .compact(leases.iter().rev().map(OwnedLease::record))
        .unwrap();
    assert_eq!(report.leases, 8);
    let mut expected: Vec<&str> = SEED_FILE.lines().skip(1).collect();
    expected.dedup();
    expected.sort_by_key(|l| row_address(l.as_bytes()).unwrap());
    let expected = format!("{HEADER}\n{}\n", expected.join("\n"));
    assert_eq!(dir.read(".2"), expected);
    assert_eq!(dir.read(""), format!("{HEADER}\n"));
}

#[test]
fn canonical_rows_round_trip_byte_identical() {
    let rows = [
        "198.18.10.130,02:00:00:00:00:11,01:02:00:00:00:00:11,4000,1795861696,1,0,0,,0,",
        "198.18.0.150,1a:1b:1c:1d:1e:1f,01:1a:1b:1c:1d:1e:1f,1000,1795858110,1,0,0,host-a.example.,0,{ \"k\": \"v&#x2c with comma\" }",
        "198.18.1.10,3a:3b:3c:3d:3e:3f,,3600,1900000000,2,1,1,x&#x2cy&#x26z,1,",
        "198.18.10.50,,,86400,1795943814,1,0,0,,1,",
        "198.18.0.7,ff:ee:dd:cc:bb:aa,01:ff:ee:dd:cc:bb:aa,4294967295,6089934591,7,1,0,a,2,",
    ];
    for r in rows {
        let mut out = Vec::new();
        write_row(&OwnedLease::parse(r).record(), &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), format!("{r}\n"));
    }
}

// ----- journal -----

#[test]
fn batch_is_written_once_and_survives_reopen() {
    let dir = TempDir::new("batch");
    let (mut f, _r, _s) = open(&dir);
    let leases: Vec<OwnedLease> = (1..=50)
        .map(|i| OwnedLease::parse(&row(&format!("198.18.0.{i}"), i, 3600, 1_800_000_000)))
        .collect();
    for l in &leases {
        f.append(&l.record());
    }
    assert_eq!(f.pending_rows(), 50);
    // Nothing on disk before the sync.
    assert_eq!(dir.read(""), format!("{HEADER}\n"));
    f.sync_batch().unwrap();
    assert_eq!(f.pending_rows(), 0);
    // An empty batch is a no-op.
    f.sync_batch().unwrap();
    drop(f);
    let (_f, report, sink) = open(&dir);
    assert_eq!(report.rows, 50);
    assert_eq!(owned(&sink), {
        let mut l = leases.clone();
        l.sort_by_key(|l| l.address);
        l
    });
}

#[test]
fn discarded_batch_is_not_written() {
    let dir = TempDir::new("discard");
    let (mut f, _r, _s) = open(&dir);
    let l = OwnedLease::parse(&row("198.18.0.1", 1, 100, 1_800_000_000));
    f.append(&l.record());
    f.discard_batch();
    f.sync_batch().unwrap();
    assert_eq!(dir.read(""), format!("{HEADER}\n"));
}

#[test]
fn failed_write_drops_the_batch_and_leaves_no_stray_line() {
    let dir = TempDir::new("writefail");
    let (mut f, _r, _s) = open(&dir);
    let first = row("198.18.0.1", 1, 100, 1_800_000_000);
    let second = row("198.18.0.2", 2, 100, 1_800_000_000);
    // A read-only descriptor in place of the journal: write(2) fails (EBADF), and so does
    // the truncation, but nothing reached the file.
    let writable = f.journal.take();
    f.journal = Some(File::open(dir.lease_path()).unwrap());
    f.append(&OwnedLease::parse(&first).record());
    match f.sync_batch() {
        Err(Error::Io { op: "write", .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(f.pending_rows(), 0);
    assert!(!f.journal_needs_newline);
    f.journal = writable;
    f.append(&OwnedLease::parse(&second).record());
    f.sync_batch().unwrap();
    assert_eq!(dir.read(""), file_of(std::slice::from_ref(&second)));

    // A partial row that could not be cut off is ended before the next batch.
    fs::OpenOptions::new()
        .append(true)
        .open(dir.lease_path())
        .unwrap()
        .write_all(b"198.18.0.3,02:0")
        .unwrap();
    f.journal_needs_newline = true;
    let third = row("198.18.0.4", 4, 100, 1_800_000_000);
    f.append(&OwnedLease::parse(&third).record());
    f.sync_batch().unwrap();
    // ftruncate works on the writable journal, so the partial row is cut instead.
    assert_eq!(dir.read(""), file_of(&[second.clone(), third.clone()]));
}

// ----- compaction -----

/// A file set with history in every member Kea may leave: `.2`, `.1` and the journal, plus a
/// new batch appended by wren.
fn history(dir: &TempDir) -> (LeaseFile, MemSink) {
    dir.write(
        ".2",
        &file_of(&[
            row("198.18.0.1", 1, 100, 1_800_000_000),
            row("198.18.0.2", 2, 100, 1_800_000_000),
            row("198.18.0.3", 3, 100, 1_800_000_000),
        ]),
    );
    dir.write(
        ".1",
        &file_of(&[
            row("198.18.0.2", 2, 0, 1_800_000_000),
            row("198.18.0.4", 4, 200, 1_800_000_200),
        ]),
    );
    dir.write(
        "",
        &file_of(&[
            row("198.18.0.3", 3, 300, 1_800_000_300),
            "198.18.0.5,,,86400,1800086400,1,0,0,,1,".to_string(),
        ]),
    );
    let (mut f, _r, mut sink) = open(dir);
    // wren appends: a new lease, a renewal, a release.
    for r in [
        row("198.18.0.6", 6, 600, 1_800_000_600),
        row("198.18.0.1", 1, 700, 1_800_000_700),
        row("198.18.0.4", 4, 0, 1_800_000_200),
    ] {
        f.append(&OwnedLease::parse(&r).record());
        sink.row(r.as_bytes()).unwrap();
    }
    f.sync_batch().unwrap();
    (f, sink)
}

#[test]
fn compaction_leaves_snapshot_and_fresh_journal() {
    let dir = TempDir::new("compact");
    let (mut f, sink) = history(&dir);
    let before = lines(&sink);
    let leases = owned(&sink);
    let report = f.compact(leases.iter().map(OwnedLease::record)).unwrap();
    assert_eq!(report.leases, before.len());
    assert!(!dir.exists(".1") && !dir.exists(".completed") && !dir.exists(".output"));
    assert!(!dir.exists(".new"));
    assert_eq!(dir.read(".2"), file_of(&before));
    assert_eq!(dir.read(""), format!("{HEADER}\n"));
    // Appends go to the fresh journal.
    let r = row("198.18.0.9", 9, 900, 1_800_000_900);
    f.append(&OwnedLease::parse(&r).record());
    f.sync_batch().unwrap();
    assert_eq!(dir.read(""), file_of(std::slice::from_ref(&r)));
    drop(f);
    let (_f, _r, sink2) = open(&dir);
    let mut expected = before;
    expected.push(r);
    expected.sort_by_key(|l| row_address(l.as_bytes()).unwrap());
    assert_eq!(lines(&sink2), expected);
}

#[test]
fn compaction_keeps_the_mode_of_the_existing_journal() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    dir.write("", &file_of(&[row("198.18.0.1", 1, 100, 1_800_000_000)]));
    fs::set_permissions(dir.lease_path(), fs::Permissions::from_mode(0o604)).unwrap();
    let (mut f, _r, sink) = open(&dir);
    let leases = owned(&sink);
    f.compact(leases.iter().map(OwnedLease::record)).unwrap();
    for suffix in ["", ".2"] {
        let mode = fs::metadata(dir.member(suffix))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o604, "{suffix}");
    }
}

/// A crash after every step of compaction leaves a set that loads to the same leases, and
/// the next compaction (or Kea's order of loading) recovers from it.
#[test]
fn crash_at_every_compaction_step_loses_nothing() {
    for step in ALL_STEPS {
        let dir = TempDir::new("crash");
        let (mut f, sink) = history(&dir);
        let before = lines(&sink);
        let leases = owned(&sink);
        // A stale `.output` from an earlier crash must not matter either.
        dir.write(".output", "garbage");
        f.crash_after = Some(step);
        f.compact(leases.iter().map(OwnedLease::record)).unwrap();
        drop(f); // the process dies here
        let (mut f, report, sink) = open(&dir);
        assert!(report.errors.is_empty(), "{step:?}: {:?}", report.errors);
        assert_eq!(lines(&sink), before, "after crash at {step:?}");
        // The restarted server appends and compacts normally.
        let r = row("198.18.0.9", 9, 900, 1_800_000_900);
        f.append(&OwnedLease::parse(&r).record());
        f.sync_batch().unwrap();
        let mut expected = before.clone();
        expected.push(r.clone());
        expected.sort_by_key(|l| row_address(l.as_bytes()).unwrap());
        let leases: Vec<OwnedLease> = expected.iter().map(|l| OwnedLease::parse(l)).collect();
        f.compact(leases.iter().map(OwnedLease::record)).unwrap();
        drop(f);
        let (_f, _r, sink) = open(&dir);
        assert_eq!(lines(&sink), expected, "after recovery from {step:?}");
        assert_eq!(dir.read(".2"), file_of(&expected));
        assert!(!dir.exists(".completed") && !dir.exists(".1"));
    }
}

/// Kea's kea-lfc died after `output → completed` (kea-memfile.md §4 crash table): wren loads
/// `.completed` + `<name>` and its compaction finishes the rotation.
#[test]
fn leftover_kea_completed_is_finished() {
    let dir = TempDir::new("kealeft");
    let snap = [row("198.18.0.1", 1, 100, 1_800_000_000)];
    dir.write(".completed", &file_of(&snap));
    dir.write(".2", &file_of(&[row("198.18.0.7", 7, 100, 1_800_000_000)]));
    dir.write(".1", &file_of(&[row("198.18.0.8", 8, 100, 1_800_000_000)]));
    dir.write("", &file_of(&[row("198.18.0.2", 2, 100, 1_800_000_000)]));
    let (mut f, _r, sink) = open(&dir);
    let expected = vec![
        row("198.18.0.1", 1, 100, 1_800_000_000),
        row("198.18.0.2", 2, 100, 1_800_000_000),
    ];
    assert_eq!(lines(&sink), expected);
    let leases = owned(&sink);
    f.compact(leases.iter().map(OwnedLease::record)).unwrap();
    assert!(!dir.exists(".completed") && !dir.exists(".1"));
    assert_eq!(dir.read(".2"), file_of(&expected));
}

/// How long compaction blocks service for 100,000 leases (printed with `--nocapture`).
#[test]
fn compaction_of_100k_leases_is_timed() {
    let dir = TempDir::new("big");
    let (mut f, _r, _s) = open(&dir);
    let leases: Vec<OwnedLease> = (0..100_000u32)
        .map(|i| {
            let a = Ipv4Addr::from(0xc612_0000 + i); // 198.18.0.0/15
            OwnedLease {
                address: a,
                hwaddr: i.to_be_bytes().into_iter().chain([0x02, 0x42]).collect(),
                client_id: Vec::new(),
                valid: 86_400,
                expire: 1_800_000_000 + u64::from(i),
                subnet: 1 + i / 4096,
                fwd: false,
                rev: false,
                hostname: format!("host-{i}.example.org"),
                state: LeaseState::Default,
                context: String::new(),
            }
        })
        .collect();
    let started = Instant::now();
    let report = f.compact(leases.iter().map(OwnedLease::record)).unwrap();
    let total = started.elapsed();
    eprintln!(
        "compaction of {} leases, {} bytes: format {:?}, io {:?}, total {:?}",
        report.leases, report.bytes, report.format_time, report.io_time, total
    );
    assert_eq!(report.leases, 100_000);
    drop(f);
    let (_f, report, sink) = open(&dir);
    assert_eq!(report.leases, 100_000);
    assert_eq!(sink.leases.len(), 100_000);
}

// ----- with the core loader and lease table -----

/// Storage for a real lease table.
struct Store {
    leases: Vec<LeaseSlot>,
    by_address: Vec<u32>,
    by_client_id: Vec<u32>,
    by_hwaddr: Vec<u32>,
    expiry: Vec<u32>,
    text: Vec<u8>,
}

impl Store {
    fn new(capacity: usize) -> Store {
        let sizes = LeaseStorage::sizes_for(capacity);
        Store {
            leases: vec![LeaseSlot::default(); sizes.leases],
            by_address: vec![0; sizes.index_slots],
            by_client_id: vec![0; sizes.index_slots],
            by_hwaddr: vec![0; sizes.index_slots],
            expiry: vec![0; sizes.expiry],
            text: vec![0; sizes.text_bytes],
        }
    }

    fn table(&mut self) -> LeaseTable<'_> {
        LeaseTable::new(LeaseStorage {
            leases: &mut self.leases,
            by_address: &mut self.by_address,
            by_client_id: &mut self.by_client_id,
            by_hwaddr: &mut self.by_hwaddr,
            expiry: &mut self.expiry,
            text: &mut self.text,
            occupancy: OccupancyStorage::empty(),
        })
        .unwrap()
    }
}

fn open_table(dir: &TempDir, table: &mut LeaseTable<'_>) -> Result<(LeaseFile, LoadReport), Error> {
    let path = dir.lease_path();
    let mut sink = TableSink::new(table, &NoSubnets, LeaseChecks::None);
    LeaseFile::open(
        &OpenOptions {
            path: Some(&path),
            persist: true,
            max_row_errors: 0,
        },
        &mut sink,
    )
}

/// Kea's own files (kea-memfile.md §1 examples and the seed's file) load into the real table
/// through the core codec, and written back from the table they are byte-identical to the
/// canonical rows, sorted by address.
#[test]
fn kea_files_round_trip_through_the_core_table() {
    let examples = format!(
        "{HEADER}\n\
198.18.10.130,02:00:00:00:00:11,01:02:00:00:00:00:11,4000,1795861696,1,0,0,,0,\n\
198.18.0.150,1a:1b:1c:1d:1e:1f,01:1a:1b:1c:1d:1e:1f,1000,1795858110,1,0,0,host-a.example.,0,{{ \"k\": \"v&#x2c with comma\" }}\n\
198.18.1.10,3a:3b:3c:3d:3e:3f,,3600,1900000000,2,1,1,x&#x2cy,1,\n\
198.18.10.50,,,86400,1795943814,1,0,0,,1,\n"
    );
    for content in [examples.as_str(), SEED_FILE] {
        let dir = TempDir::new("core");
        dir.write("", content);
        let mut store = Store::new(64);
        let mut table = store.table();
        let (mut f, report) = open_table(&dir, &mut table).unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let mut expected: Vec<&str> = content.lines().skip(1).collect();
        expected.dedup();
        expected.sort_by_key(|l| row_address(l.as_bytes()).unwrap());
        assert_eq!(report.leases, expected.len());
        assert_eq!(table.len(), expected.len());
        f.compact(table.iter().map(|(_, r)| r)).unwrap();
        assert_eq!(
            dir.read(".2"),
            format!("{HEADER}\n{}\n", expected.join("\n"))
        );
    }
}

#[test]
fn core_loader_errors_are_reported_with_row_numbers() {
    let dir = TempDir::new("coreerr");
    dir.write(
        "",
        &format!(
            "{HEADER}\n{}\n198.18.0.2,02:00:00:00:00:02,,3600,1800000000,1,true,0,,0,\n198.18.0.3,,,3600,1800000000,1,0,0,,0,\n{}\n198.18.0.5,02:00",
            row("198.18.0.1", 1, 3600, 1_800_000_000),
            row("198.18.0.4", 4, 3600, 1_800_000_000),
        ),
    );
    let mut store = Store::new(16);
    let mut table = store.table();
    let (mut f, report) = open_table(&dir, &mut table).unwrap();
    let rows: Vec<u64> = report.errors.iter().map(|e| e.row).collect();
    assert_eq!(rows, vec![2, 3, 5]);
    assert_eq!(report.errors[0].reason, "FqdnFwd");
    assert_eq!(report.errors[1].reason, "NoIdentifier");
    assert_eq!(
        report.errors[2].reason,
        "the row has 2 columns but the header has 11"
    );
    assert!(report.truncated_tail_removed);
    assert_eq!(table.len(), 2);
    // The engine's changes reach the file through the daemon's traits.
    let new = OwnedLease::parse(&row("198.18.0.6", 6, 3600, 1_800_000_000));
    LeaseSink::lease_changed(&mut f, &new.record());
    Journal::sync_batch(&mut f).unwrap();
    drop(f);
    let mut store = Store::new(16);
    let mut table = store.table();
    let (_f, report) = open_table(&dir, &mut table).unwrap();
    assert_eq!(report.errors.len(), 2);
    assert_eq!(table.len(), 3);
}

#[test]
fn full_table_stops_loading() {
    let dir = TempDir::new("full");
    let rows: Vec<String> = (1..=5)
        .map(|i| row(&format!("198.18.0.{i}"), i, 3600, 1_800_000_000))
        .collect();
    dir.write("", &file_of(&rows));
    let mut store = Store::new(3);
    let mut table = store.table();
    match open_table(&dir, &mut table) {
        Err(Error::Load { row: 4, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn journal_trait_compacts_from_the_table() {
    let dir = TempDir::new("journal");
    let rows: Vec<String> = (1..=5)
        .rev()
        .map(|i| row(&format!("198.18.0.{i}"), i, 3600, 1_800_000_000))
        .collect();
    dir.write("", &file_of(&rows));
    let mut store = Store::new(8);
    let mut table = store.table();
    let (mut f, _) = open_table(&dir, &mut table).unwrap();
    Journal::compact(&mut f, &mut table.iter().map(|(_, r)| r)).unwrap();
    let mut sorted = rows.clone();
    sorted.reverse();
    assert_eq!(dir.read(".2"), file_of(&sorted));
    assert_eq!(dir.read(""), format!("{HEADER}\n"));
}

// ----- against Kea 2.2's own tools (skipped when they are not installed) -----

const KEA_LFC: &str = "/usr/sbin/kea-lfc";

/// Runs kea-lfc on the set as kea-dhcp4 would after its rotation (`<name>` → `.1`).
fn run_kea_lfc(dir: &TempDir) {
    fs::rename(dir.lease_path(), dir.member(".1")).unwrap();
    dir.write("", &format!("{HEADER}\n"));
    let status = std::process::Command::new(KEA_LFC)
        .arg("-4")
        .arg("-x")
        .arg(dir.member(".2"))
        .arg("-i")
        .arg(dir.member(".1"))
        .arg("-o")
        .arg(dir.member(".output"))
        .arg("-f")
        .arg(dir.member(".completed"))
        .arg("-p")
        .arg(dir.member(".pid"))
        .arg("-c")
        .arg("ignored-path")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A user switches back to Kea: kea-lfc takes wren's snapshot and journal and produces the
/// same lease set, and its snapshot is byte-identical to the one wren writes.
#[test]
fn kea_lfc_compacts_wren_files_to_the_same_bytes() {
    if !Path::new(KEA_LFC).exists() {
        eprintln!("kea-lfc not installed: skipped");
        return;
    }
    let dir = TempDir::new("kealfc");
    let (mut f, mut sink) = history(&dir);
    let leases = owned(&sink);
    f.compact(leases.iter().map(OwnedLease::record)).unwrap();
    // More changes after wren's compaction: a new lease, a renewal, a release, a decline,
    // text that needs escaping.
    for r in [
        row("198.18.0.20", 20, 600, 1_800_000_600),
        row("198.18.0.3", 3, 900, 1_800_000_900),
        row("198.18.0.6", 6, 0, 1_800_000_600),
        "198.18.0.30,,,86400,1800086400,1,0,0,,1,".to_string(),
        "198.18.0.31,02:00:00:00:00:31,,3600,1800003600,1,1,1,a&#x2cb&#x26c,0,{ \"k\": \"v&#x2c w\" }".to_string(),
    ] {
        f.append(&OwnedLease::parse(&r).record());
        sink.row(r.as_bytes()).unwrap();
    }
    f.sync_batch().unwrap();
    drop(f);
    let expected = lines(&sink);

    run_kea_lfc(&dir);
    assert!(!dir.exists(".1") && !dir.exists(".completed") && !dir.exists(".pid"));
    let kea_snapshot = dir.read(".2");
    assert_eq!(kea_snapshot, file_of(&expected));

    // wren loads Kea's result and writes the very same bytes.
    let (mut f, report, sink) = open(&dir);
    assert!(report.errors.is_empty());
    assert_eq!(lines(&sink), expected);
    let leases = owned(&sink);
    f.compact(leases.iter().map(OwnedLease::record)).unwrap();
    assert_eq!(dir.read(".2"), kea_snapshot);
}

/// wren stopped by a crash right after writing `.completed`: kea-lfc finishes the rotation
/// (kea-memfile.md §4) and nothing is lost.
#[test]
fn kea_lfc_finishes_a_rotation_wren_left() {
    if !Path::new(KEA_LFC).exists() {
        eprintln!("kea-lfc not installed: skipped");
        return;
    }
    let dir = TempDir::new("kealfc2");
    let (mut f, sink) = history(&dir);
    let expected = lines(&sink);
    let leases = owned(&sink);
    f.crash_after = Some(Step::CompletedRenamed);
    f.compact(leases.iter().map(OwnedLease::record)).unwrap();
    drop(f);
    // kea-dhcp4's tick sees `.completed`, does not rotate, and runs kea-lfc.
    let status = std::process::Command::new(KEA_LFC)
        .args(["-4", "-c", "ignored-path"])
        .arg("-x")
        .arg(dir.member(".2"))
        .arg("-i")
        .arg(dir.member(".1"))
        .arg("-o")
        .arg(dir.member(".output"))
        .arg("-f")
        .arg(dir.member(".completed"))
        .arg("-p")
        .arg(dir.member(".pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!dir.exists(".completed") && !dir.exists(".1"));
    let (_f, _r, sink) = open(&dir);
    assert_eq!(lines(&sink), expected);
}

#[test]
fn options_come_from_the_config() {
    let path = Path::new("test.json");
    for (text, expected_path, persist, max) in [
        (
            r#"{ "Dhcp4": { "lease-database": { "type": "memfile", "name": "/tmp/x.csv", "persist": false, "max-row-errors": 5 } } }"#,
            Some(Path::new("/tmp/x.csv")),
            false,
            5,
        ),
        (r#"{ "Dhcp4": { } }"#, None, true, 0),
    ] {
        let mut storage = crate::config_load::allocate(path, text).unwrap();
        let mut warnings = Vec::new();
        let config = crate::config_load::parse(path, text, &mut storage, &mut warnings).unwrap();
        let o = OpenOptions::from_config(&config);
        assert_eq!(o.path, expected_path);
        assert_eq!(o.persist, persist);
        assert_eq!(o.max_row_errors, max);
    }
}
