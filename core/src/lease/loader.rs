//! Loading a Kea memfile lease file into the [`LeaseTable`], with Kea 2.2's rules
//! (kea-memfile.md §3): the first line is the header; then per data row, in file order:
//! * a row that does not parse is discarded and counted (`DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR
//!   discarding row N`); when `max-row-errors` > 0 and the count exceeds it, loading fails
//!   (and Kea fails to start or reconfigure);
//! * a valid row goes through the `sanity-checks.lease-checks` policy (§3.6), which may
//!   change its subnet id or drop it (memory only: the file keeps the row);
//! * then: address not in memory → insert if `valid_lifetime` > 0, else ignore; address in
//!   memory → `valid_lifetime` 0 removes, anything else replaces (last line wins).
//!
//! No I/O: the daemon feeds lines (or whole buffers) of each file, one [`Loader`] per file
//! (`.2`/`.completed`, `.1`, then the current file, into the same table). Row numbers and the
//! error count are per file, as in Kea's `LeaseFileLoader::load`.

use core::net::Ipv4Addr;

use super::csv::{self, HeaderError, HeaderShape, RowError, SchemaConversion};
use super::record::LeaseRecord;
use super::table::{Applied, LeaseTable, TableError};
use crate::config::{Config, LeaseChecks};

/// Which subnets exist, for the lease sanity checks.
pub trait SubnetLookup {
    /// Whether subnet `subnet_id` is configured and contains `address`.
    fn contains(&self, subnet_id: u32, address: Ipv4Addr) -> bool;
    /// The id of the subnet Kea would pick for `address` (the first, in configuration
    /// order, whose prefix contains it: `CfgSubnets4::selectSubnet(address)`).
    fn containing(&self, address: Ipv4Addr) -> Option<u32>;
}

/// The config's subnets (linear scans: O(subnets) per lease; pass your own
/// [`SubnetLookup`] with an index for very large configs).
impl SubnetLookup for Config<'_> {
    fn contains(&self, subnet_id: u32, address: Ipv4Addr) -> bool {
        self.subnets
            .iter()
            .any(|s| s.id == subnet_id && s.prefix.contains(address))
    }

    fn containing(&self, address: Ipv4Addr) -> Option<u32> {
        self.subnets
            .iter()
            .find(|s| s.prefix.contains(address))
            .map(|s| s.id)
    }
}

/// No subnets at all (for `lease-checks: none`, or a cleanup tool without a config).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSubnets;

impl SubnetLookup for NoSubnets {
    fn contains(&self, _: u32, _: Ipv4Addr) -> bool {
        false
    }
    fn containing(&self, _: Ipv4Addr) -> Option<u32> {
        None
    }
}

/// Subnets described by two closures: `(subnet_id, address) -> contains` and
/// `address -> first containing subnet id`.
pub struct SubnetFns<C, S>(pub C, pub S);

impl<C, S> SubnetLookup for SubnetFns<C, S>
where
    C: Fn(u32, Ipv4Addr) -> bool,
    S: Fn(Ipv4Addr) -> Option<u32>,
{
    fn contains(&self, subnet_id: u32, address: Ipv4Addr) -> bool {
        (self.0)(subnet_id, address)
    }
    fn containing(&self, address: Ipv4Addr) -> Option<u32> {
        (self.1)(address)
    }
}

/// What the sanity check decided for one lease (Kea's `SanityChecker::checkLeaseInternal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SanityVerdict {
    /// The lease's subnet exists and contains the address, or checks are `none`.
    Keep,
    /// Mismatch, kept as is (`warn`, or `fix` with no subnet to move it to).
    KeepWithWarning,
    /// Moved to the subnet containing the address (`fix`, `fix-del`).
    Fixed {
        /// The subnet id it now has.
        subnet_id: u32,
    },
    /// Dropped from memory (`del`, or `fix-del` with no subnet containing it).
    Drop,
}

/// Applies `lease-checks` to a lease of `subnet_id` at `address` (kea-memfile.md §3.6).
pub fn sanity_check(
    checks: LeaseChecks,
    subnets: &impl SubnetLookup,
    subnet_id: u32,
    address: Ipv4Addr,
) -> SanityVerdict {
    if checks == LeaseChecks::None || subnets.contains(subnet_id, address) {
        return SanityVerdict::Keep;
    }
    match checks {
        LeaseChecks::None => SanityVerdict::Keep,
        LeaseChecks::Warn => SanityVerdict::KeepWithWarning,
        LeaseChecks::Fix => match subnets.containing(address) {
            Some(id) => SanityVerdict::Fixed { subnet_id: id },
            None => SanityVerdict::KeepWithWarning,
        },
        LeaseChecks::FixDel => match subnets.containing(address) {
            Some(id) => SanityVerdict::Fixed { subnet_id: id },
            None => SanityVerdict::Drop,
        },
        LeaseChecks::Del => SanityVerdict::Drop,
    }
}

/// A discarded row: its 1-based data row number (the header is not counted) and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// 1-based data row number.
    pub row: u64,
    /// What is wrong.
    pub error: RowError,
}

/// Something the daemon should log while loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadEvent {
    /// The header is an older or newer schema (Kea runs LFC once after loading so the
    /// files are rewritten in its own schema).
    SchemaConversion(SchemaConversion),
    /// A row was discarded (`DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR`).
    RowDiscarded(BadRow),
    /// The lease's subnet does not match; kept (`DHCPSRV_LEASE_SANITY_FAIL`).
    SanityWarning {
        /// Data row number.
        row: u64,
        /// Lease address.
        address: Ipv4Addr,
        /// The subnet id in the row.
        subnet_id: u32,
    },
    /// The lease was moved to the subnet containing it (`DHCPSRV_LEASE_SANITY_FIXED`).
    SanityFixed {
        /// Data row number.
        row: u64,
        /// Lease address.
        address: Ipv4Addr,
        /// The subnet id in the row.
        from: u32,
        /// The subnet id it now has.
        to: u32,
    },
    /// The lease was not loaded (`DHCPSRV_LEASE_SANITY_FAIL_DISCARD`).
    SanityDropped {
        /// Data row number.
        row: u64,
        /// Lease address.
        address: Ipv4Addr,
        /// The subnet id in the row.
        subnet_id: u32,
    },
}

/// Why loading a file failed (the server must not start / reconfigure with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The header is not a Kea v4 lease file header.
    Header(HeaderError),
    /// More row errors than `max-row-errors` allows.
    TooManyRowErrors {
        /// Errors counted so far.
        errors: u64,
        /// The configured limit.
        max_row_errors: u32,
    },
    /// The table could not take a lease (full, or out of text space): leases would be lost.
    Table {
        /// Data row number.
        row: u64,
        /// What the table said.
        error: TableError,
    },
}

/// Counters of one file's load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Data rows seen (valid or not).
    pub rows: u64,
    /// Rows discarded as unparsable.
    pub row_errors: u64,
    /// Rows that inserted a lease.
    pub inserted: u64,
    /// Rows that replaced a lease.
    pub replaced: u64,
    /// Rows that removed a lease.
    pub removed: u64,
    /// Removal rows for addresses without a lease (ignored).
    pub ignored_removals: u64,
    /// Rows whose subnet id was fixed.
    pub fixed: u64,
    /// Rows dropped by the sanity checks.
    pub dropped: u64,
}

/// Loads one lease file into a table, line by line.
#[derive(Debug)]
pub struct Loader {
    shape: Option<HeaderShape>,
    max_row_errors: u32,
    checks: LeaseChecks,
    stats: LoadStats,
}

impl Loader {
    /// A loader for one file: `max_row_errors` from `lease-database` (0 = unlimited),
    /// `checks` from `sanity-checks.lease-checks`.
    pub fn new(max_row_errors: u32, checks: LeaseChecks) -> Self {
        Loader {
            shape: None,
            max_row_errors,
            checks,
            stats: LoadStats::default(),
        }
    }

    /// The header shape, once the header line has been fed.
    pub fn shape(&self) -> Option<HeaderShape> {
        self.shape
    }

    /// Counters so far.
    pub fn stats(&self) -> LoadStats {
        self.stats
    }

    /// Feeds one line (with or without its `\n`): the header first, then data rows.
    /// `scratch` needs [`csv::scratch_len`]`(line.len())` bytes.
    pub fn feed_line(
        &mut self,
        line: &[u8],
        scratch: &mut [u8],
        table: &mut LeaseTable<'_>,
        subnets: &impl SubnetLookup,
        mut events: impl FnMut(LoadEvent),
    ) -> Result<(), LoadError> {
        let Some(shape) = self.shape else {
            let shape = csv::parse_header(line).map_err(LoadError::Header)?;
            if shape.conversion() != SchemaConversion::Current {
                events(LoadEvent::SchemaConversion(shape.conversion()));
            }
            self.shape = Some(shape);
            return Ok(());
        };
        self.stats.rows += 1;
        let row = self.stats.rows;
        let record = match csv::parse_row_with(shape, line, scratch) {
            Ok(r) => r,
            Err(error) => {
                self.stats.row_errors += 1;
                events(LoadEvent::RowDiscarded(BadRow { row, error }));
                if self.max_row_errors > 0 && self.stats.row_errors > u64::from(self.max_row_errors)
                {
                    return Err(LoadError::TooManyRowErrors {
                        errors: self.stats.row_errors,
                        max_row_errors: self.max_row_errors,
                    });
                }
                return Ok(());
            }
        };
        let address = record.address;
        let record = match sanity_check(self.checks, subnets, record.subnet_id, address) {
            SanityVerdict::Keep => record,
            SanityVerdict::KeepWithWarning => {
                events(LoadEvent::SanityWarning {
                    row,
                    address,
                    subnet_id: record.subnet_id,
                });
                record
            }
            SanityVerdict::Fixed { subnet_id } => {
                self.stats.fixed += 1;
                events(LoadEvent::SanityFixed {
                    row,
                    address,
                    from: record.subnet_id,
                    to: subnet_id,
                });
                LeaseRecord {
                    subnet_id,
                    ..record
                }
            }
            SanityVerdict::Drop => {
                self.stats.dropped += 1;
                events(LoadEvent::SanityDropped {
                    row,
                    address,
                    subnet_id: record.subnet_id,
                });
                return Ok(());
            }
        };
        match table.apply(&record) {
            Ok(Applied::Inserted(_)) => self.stats.inserted += 1,
            Ok(Applied::Replaced(_)) => self.stats.replaced += 1,
            Ok(Applied::Removed) => self.stats.removed += 1,
            Ok(Applied::IgnoredRemoval) => self.stats.ignored_removals += 1,
            Err(error) => return Err(LoadError::Table { row, error }),
        }
        Ok(())
    }

    /// Feeds a buffer of whole lines (e.g. a whole file): splits on `\n`; an empty piece
    /// after the final `\n` is not a row, an unterminated last line is (Kea parses it; a
    /// line truncated by a crash usually fails as one row error). `scratch` needs
    /// [`csv::scratch_len`] of the longest line.
    pub fn feed_text(
        &mut self,
        text: &[u8],
        scratch: &mut [u8],
        table: &mut LeaseTable<'_>,
        subnets: &impl SubnetLookup,
        mut events: impl FnMut(LoadEvent),
    ) -> Result<(), LoadError> {
        let body = text.strip_suffix(b"\n").unwrap_or(text);
        if body.is_empty() && text.is_empty() {
            return Ok(());
        }
        for line in body.split(|&b| b == b'\n') {
            self.feed_line(line, scratch, table, subnets, &mut events)?;
        }
        Ok(())
    }

    /// The final counters.
    pub fn finish(self) -> LoadStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::table::testutil::Owned;
    use crate::lease::LeaseState;
    use crate::time::Timestamp;
    use std::vec;
    use std::vec::Vec;

    /// The founding user's lease file (seed blog post, "Since I am using a flat file…"):
    /// 192.168.1.29 appears twice, so 9 rows give 8 leases.
    const SEED: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
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

    fn load(
        text: &str,
        max_row_errors: u32,
        checks: LeaseChecks,
        table: &mut LeaseTable<'_>,
        subnets: &impl SubnetLookup,
    ) -> (Result<LoadStats, LoadError>, Vec<LoadEvent>) {
        let mut events = Vec::new();
        let mut scratch = vec![0u8; csv::scratch_len(1024)];
        let mut loader = Loader::new(max_row_errors, checks);
        let r = loader.feed_text(text.as_bytes(), &mut scratch, table, subnets, |e| {
            events.push(e)
        });
        (r.map(|()| loader.finish()), events)
    }

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn seed_lease_file_loads_eight_leases_last_row_wins() {
        let mut owned = Owned::new(16, 4096, &[]);
        let mut t = owned.table();
        let (stats, events) = load(SEED, 0, LeaseChecks::Warn, &mut t, &NoSubnets);
        let stats = stats.unwrap();
        assert_eq!(t.len(), 8);
        assert_eq!(stats.rows, 9);
        assert_eq!(stats.inserted, 8);
        assert_eq!(stats.replaced, 1);
        assert_eq!(stats.row_errors, 0);
        // `warn` with no subnets configured: every lease is kept with a warning.
        assert_eq!(events.len(), 9);
        let r = t.get(a("192.168.1.107")).unwrap();
        assert_eq!(r.hwaddr, &[0xb8, 0x27, 0xeb, 0xbe, 0xa7, 0x8f]);
        assert_eq!(r.hostname, "retropi");
        assert!(r.fqdn_fwd && r.fqdn_rev);
        assert_eq!(r.cltt, Timestamp(1_580_691_195 - 172_800));
        assert_eq!(r.expire(), Timestamp(1_580_691_195));
        let r = t.get(a("192.168.1.135")).unwrap();
        assert_eq!(r.valid_lifetime, 216_000);
        assert_eq!(r.hostname, "c02xk346jg5m");
        assert_eq!(
            t.by_hwaddr(&[0x80, 0x2a, 0xa8, 0x93, 0xbe, 0xb8]).count(),
            1
        );
    }

    #[test]
    fn zero_lifetime_removes_and_absent_removal_is_ignored() {
        let text = format_rows(&[
            "198.18.0.10,02:00:00:00:00:01,,3600,2000003600,1,0,0,a,0,",
            "198.18.0.11,02:00:00:00:00:02,,0,2000000000,1,0,0,,0,",
            "198.18.0.10,02:00:00:00:00:01,,7200,2000007200,1,0,0,b,0,",
            "198.18.0.12,02:00:00:00:00:03,,3600,2000003600,1,0,0,,0,",
            "198.18.0.12,02:00:00:00:00:03,,0,2000000000,1,0,0,,0,",
        ]);
        let mut owned = Owned::new(16, 4096, &[]);
        let mut t = owned.table();
        let (stats, _) = load(&text, 0, LeaseChecks::None, &mut t, &NoSubnets);
        let stats = stats.unwrap();
        assert_eq!(stats.ignored_removals, 1);
        assert_eq!(stats.removed, 1);
        assert_eq!(t.len(), 1);
        let r = t.get(a("198.18.0.10")).unwrap();
        assert_eq!((r.hostname, r.valid_lifetime), ("b", 7200));
        assert!(t.get(a("198.18.0.11")).is_none());
        assert!(t.get(a("198.18.0.12")).is_none());
    }

    fn format_rows(rows: &[&str]) -> std::string::String {
        let mut s = std::string::String::from(csv::HEADER);
        s.push('\n');
        for r in rows {
            s.push_str(r);
            s.push('\n');
        }
        s
    }

    #[test]
    fn row_errors_are_numbered_and_limited() {
        let text = format_rows(&[
            "198.18.0.10,02:00:00:00:00:01,,3600,2000003600,1,0,0,a,0,",
            "198.18.0.300,02:00:00:00:00:01,,3600,2000003600,1,0,0,a,0,",
            "198.18.0.11,02:00:00:00:00:01,,3600,2000003600,1,true,0,a,0,",
            "198.18.0.12,02:00:00:00:00:01,,3600,2000003600,1,0,0,a,0,",
            "198.18.0.13,02:00:00:00:00:01,,3600",
        ]);
        let mut owned = Owned::new(16, 4096, &[]);
        let mut t = owned.table();
        let (stats, events) = load(&text, 0, LeaseChecks::None, &mut t, &NoSubnets);
        assert_eq!(stats.unwrap().row_errors, 3);
        assert_eq!(
            events,
            vec![
                LoadEvent::RowDiscarded(BadRow {
                    row: 2,
                    error: RowError::Address
                }),
                LoadEvent::RowDiscarded(BadRow {
                    row: 3,
                    error: RowError::FqdnFwd
                }),
                LoadEvent::RowDiscarded(BadRow {
                    row: 5,
                    error: RowError::ColumnCount {
                        found: 4,
                        expected: 11
                    }
                }),
            ]
        );
        assert_eq!(t.len(), 2);

        // max-row-errors 2: the third error aborts the load.
        let mut owned = Owned::new(16, 4096, &[]);
        let mut t = owned.table();
        let (r, _) = load(&text, 2, LeaseChecks::None, &mut t, &NoSubnets);
        assert_eq!(
            r,
            Err(LoadError::TooManyRowErrors {
                errors: 3,
                max_row_errors: 2
            })
        );
        // max-row-errors 3: tolerated.
        let mut owned = Owned::new(16, 4096, &[]);
        let mut t = owned.table();
        assert!(load(&text, 3, LeaseChecks::None, &mut t, &NoSubnets)
            .0
            .is_ok());
    }

    #[test]
    fn header_variants() {
        let mut owned = Owned::new(16, 4096, &[]);
        let mut t = owned.table();
        // Kea 1.x (9 columns): state defaults to 0, no user context.
        let old =
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname\n\
                   198.18.0.10,02:00:00:00:00:01,,3600,2000003600,1,0,0,h\n";
        let (r, events) = load(old, 0, LeaseChecks::None, &mut t, &NoSubnets);
        assert_eq!(r.unwrap().inserted, 1);
        assert_eq!(
            events,
            vec![LoadEvent::SchemaConversion(SchemaConversion::Upgrade)]
        );
        assert_eq!(t.get(a("198.18.0.10")).unwrap().state, LeaseState::Default);
        // Kea 2.4+ (pool_id): extra column ignored, rows must have 12 columns.
        let new = std::format!(
            "{},pool_id\n198.18.0.11,02:00:00:00:00:02,,3600,2000003600,1,0,0,,1,,7\n\
             198.18.0.12,02:00:00:00:00:03,,3600,2000003600,1,0,0,,0,\n",
            csv::HEADER
        );
        let (r, events) = load(&new, 0, LeaseChecks::None, &mut t, &NoSubnets);
        assert_eq!(r.unwrap().row_errors, 1);
        assert_eq!(
            events.first(),
            Some(&LoadEvent::SchemaConversion(SchemaConversion::Downgrade))
        );
        assert_eq!(t.get(a("198.18.0.11")).unwrap().state, LeaseState::Declined);
        assert!(t.get(a("198.18.0.12")).is_none());
        // A renamed column rejects the whole file.
        let bad = "address,hwaddr,client_id,valid_lifetime,expires,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n";
        let (r, _) = load(bad, 0, LeaseChecks::None, &mut t, &NoSubnets);
        assert_eq!(
            r,
            Err(LoadError::Header(HeaderError::ColumnName {
                column: 5,
                expected: "expire"
            }))
        );
    }

    /// Subnet 1 = 198.18.0.0/24, subnet 2 = 198.18.1.0/24.
    fn two_subnets() -> SubnetFns<impl Fn(u32, Ipv4Addr) -> bool, impl Fn(Ipv4Addr) -> Option<u32>>
    {
        fn subnet_of(addr: Ipv4Addr) -> Option<u32> {
            match addr.octets() {
                [198, 18, 0, _] => Some(1),
                [198, 18, 1, _] => Some(2),
                _ => None,
            }
        }
        SubnetFns(|id, addr| subnet_of(addr) == Some(id), subnet_of)
    }

    #[test]
    fn lease_checks_policies() {
        let text = format_rows(&[
            "198.18.0.10,02:00:00:00:00:01,,3600,2000003600,1,0,0,,0,", // fine
            "198.18.1.10,02:00:00:00:00:02,,3600,2000003600,1,0,0,,0,", // wrong subnet, fixable
            "198.18.9.10,02:00:00:00:00:03,,3600,2000003600,1,0,0,,0,", // no subnet fits
        ]);
        let cases = [
            (LeaseChecks::None, [Some(1), Some(1), Some(1)], 0),
            (LeaseChecks::Warn, [Some(1), Some(1), Some(1)], 2),
            (LeaseChecks::Fix, [Some(1), Some(2), Some(1)], 2),
            (LeaseChecks::FixDel, [Some(1), Some(2), None], 2),
            (LeaseChecks::Del, [Some(1), None, None], 2),
        ];
        for (checks, expect, event_count) in cases {
            let mut owned = Owned::new(16, 4096, &[]);
            let mut t = owned.table();
            let (r, events) = load(&text, 0, checks, &mut t, &two_subnets());
            r.unwrap();
            assert_eq!(events.len(), event_count, "{checks:?}");
            for (addr, want) in ["198.18.0.10", "198.18.1.10", "198.18.9.10"]
                .iter()
                .zip(expect)
            {
                assert_eq!(
                    t.get(a(addr)).map(|r| r.subnet_id),
                    want,
                    "{checks:?} {addr}"
                );
            }
        }
        let mut owned = Owned::new(16, 4096, &[]);
        let mut t = owned.table();
        let (_, events) = load(&text, 0, LeaseChecks::FixDel, &mut t, &two_subnets());
        assert_eq!(
            events,
            vec![
                LoadEvent::SanityFixed {
                    row: 2,
                    address: a("198.18.1.10"),
                    from: 1,
                    to: 2
                },
                LoadEvent::SanityDropped {
                    row: 3,
                    address: a("198.18.9.10"),
                    subnet_id: 1
                },
            ]
        );
    }

    #[test]
    fn full_table_fails_the_load() {
        let mut owned = Owned::new(1, 4096, &[]);
        let mut t = owned.table();
        let text = format_rows(&[
            "198.18.0.10,02:00:00:00:00:01,,3600,2000003600,1,0,0,,0,",
            "198.18.0.11,02:00:00:00:00:02,,3600,2000003600,1,0,0,,0,",
        ]);
        let (r, _) = load(&text, 0, LeaseChecks::None, &mut t, &NoSubnets);
        assert_eq!(
            r,
            Err(LoadError::Table {
                row: 2,
                error: TableError::Full
            })
        );
    }

    #[test]
    fn truncated_last_line_is_one_row_error_and_empty_text_is_nothing() {
        let mut text = format_rows(&["198.18.0.10,02:00:00:00:00:01,,3600,2000003600,1,0,0,,0,"]);
        text.push_str("198.18.0.11,02:00:00:00:00:02,,36");
        let mut owned = Owned::new(4, 4096, &[]);
        let mut t = owned.table();
        let (r, _) = load(&text, 0, LeaseChecks::None, &mut t, &NoSubnets);
        let stats = r.unwrap();
        assert_eq!((stats.rows, stats.row_errors, stats.inserted), (2, 1, 1));
        let (r, events) = load("", 0, LeaseChecks::None, &mut t, &NoSubnets);
        assert_eq!(r.unwrap().rows, 0);
        assert!(events.is_empty());
    }
}
