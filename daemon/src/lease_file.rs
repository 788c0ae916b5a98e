//! Kea's memfile lease file set, made durable: load at start, a group-committed journal, and
//! in-process compaction (Kea's "Lease File Cleanup") that keeps the file set loadable by
//! Kea 2.2's `kea-dhcp4` and `kea-lfc` (kea-memfile.md §2–§4), so a user can switch back.
//!
//! # Files (suffixes appended to the lease file `name`)
//! | file | role |
//! |---|---|
//! | `<name>` | the journal wren appends to |
//! | `<name>.2` | the last compacted snapshot |
//! | `<name>.1` | a journal Kea handed to kea-lfc (wren only reads it, and removes it after compacting) |
//! | `<name>.completed` | a finished snapshot not yet renamed to `.2` |
//! | `<name>.output` | a snapshot being written (never loaded) |
//! | `<name>.new` | wren only: the next journal's header, before it is renamed over `<name>` |
//! | `<name>.pid` | kea-lfc's PID file: a live PID there means kea-lfc is running; wren refuses to start |
//!
//! # Loading (kea-memfile.md §3)
//! If `<name>.completed` exists, load it then `<name>`; else `<name>.2`, `<name>.1`, `<name>`.
//! Every data row goes to a [`RowSink`] (the core loader: last line wins, `valid_lifetime` 0
//! removes). Bad rows are counted per file and reported with their data-row number (the header
//! is not counted, as Kea's `getReads()`); more than `max-row-errors` bad rows in one file
//! (when that is > 0) aborts the load, as Kea. `<name>` is created with the header when missing
//! or empty.
//!
//! A crash in the middle of an append leaves a last line without `\n`. If it does not parse,
//! it is one bad row and is cut off the journal (the file is truncated to the last `\n`), so the
//! next append starts on a fresh line; if it parses (a hand-edited file without the final
//! newline) a `\n` is appended instead.
//!
//! # Journal: group commit
//! Kea flushes each row but never fsyncs (spec README trap 7); wren does: [`LeaseFile::append`]
//! formats a row into a buffer that is allocated once and reused, and [`LeaseFile::sync_batch`]
//! writes the whole batch with one `write(2)` (more only on a short write) and makes it durable
//! with one `fdatasync(2)`. The caller sends the batch's ACKs only after `sync_batch` returned
//! `Ok`; on `Err` it drops them (the client retries).
//!
//! # Compaction (in process, instead of spawning kea-lfc)
//! [`LeaseFile::compact`] runs inline (no appends happen while it runs) and writes the lease
//! table, not the files, so it needs no re-parse. Steps, each one a single `rename`/`unlink` or
//! a write to a name the loader never reads:
//!
//! 1. write the pending batch and `fdatasync` the journal (the table is now all on disk);
//! 2. write every lease of the table, sorted by address like kea-lfc, expired and declined ones
//!    included, to `<name>.output`; `fsync` it;
//! 3. rename `<name>.output` → `<name>.completed`; `fsync` the directory;
//! 4. write a header-only `<name>.new`; `fsync` it; rename it over `<name>`; `fsync` the
//!    directory; reopen the journal;
//! 5. unlink `<name>.2`; unlink `<name>.1`; rename `<name>.completed` → `<name>.2`; `fsync`
//!    the directory.
//!
//! Crash table (what a restart, by wren or by Kea 2.2, loads):
//!
//! | crash during / after | files | loads | complete because |
//! |---|---|---|---|
//! | 1–2 | old set (+ partial `.output`) | old set | nothing loadable changed; `.output` is never loaded and is rewritten next time |
//! | 3 (rename done) | `.completed`, old `<name>`, maybe `.2`/`.1` | `.completed` + old `<name>` | the snapshot holds the whole table; replaying the old journal over it is idempotent (every journal row was applied before the snapshot was taken, so the last row of each address in the journal is what the snapshot holds) |
//! | 4 (before or after the rename) | `.completed` + old or fresh `<name>` (+ maybe `.new`) | `.completed` + `<name>` | as above; `.new` is never loaded and is truncated next time |
//! | 5, after each unlink | `.completed` + fresh `<name>` | `.completed` + `<name>` | `.completed` still present, `.2`/`.1` are ignored |
//! | 5, after the rename | `.2` + fresh `<name>` | `.2` + `<name>` | done |
//!
//! A leftover `.completed` (an earlier crash, or a kea-lfc that died mid-rotation) needs no
//! special case: its content is already in the table, and step 3 replaces it atomically.
//! Unlike Kea's rotation (rename `<name>` → `.1`, then create the new `<name>`), the journal is
//! never missing or header-less on disk: the fresh journal arrives by rename.
//!
//! # Capsicum
//! Everything after opening goes through a directory descriptor (`openat`, `renameat`,
//! `unlinkat`, `fsync` of the directory), so the file set keeps working after `cap_enter` with
//! the rights listed in freebsd.md §2 on the directory fd.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;
use wren_core::lease::LeaseRecord;

use crate::logging;

/// The header Kea 2.2 writes (schema 2.1, 11 columns; kea-memfile.md §1).
pub const HEADER: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context";

/// Kea's default lease file on Linux (Debian's `localstatedir`).
pub const DEFAULT_PATH_LINUX: &str = "/var/lib/kea/kea-leases4.csv";
/// Kea's default lease file in the FreeBSD port.
pub const DEFAULT_PATH_FREEBSD: &str = "/var/db/kea/kea-leases4.csv";

/// Initial size of the journal's row buffer: a few hundred rows, so a burst of packets in one
/// loop iteration never allocates. It only grows (and stays grown) for larger batches.
const BATCH_BUFFER_BYTES: usize = 64 * 1024;

/// Mode of files wren creates (Kea creates its lease files 0644; wren keeps client data
/// away from other users).
const FILE_MODE: u32 = 0o640;

/// The platform's default lease file path (kea-config.md §2.10: `name` default).
pub fn default_path() -> &'static Path {
    if cfg!(target_os = "freebsd") {
        Path::new(DEFAULT_PATH_FREEBSD)
    } else {
        Path::new(DEFAULT_PATH_LINUX)
    }
}

/// What a [`RowSink`] says about a file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFit {
    /// Exactly wren's (Kea 2.2's) columns.
    Current,
    /// An older or newer Kea schema the sink can read (kea-memfile.md §3.5: "needs upgrade" /
    /// "needs downgrade"); the files must be rewritten in wren's schema by compacting before
    /// the first append.
    NeedsConversion,
}

/// Receives the lines of the lease files in load order: the core loader (CSV codec + table,
/// last line wins) in the daemon, a simple map in tests.
pub trait RowSink {
    /// Why a header or a row was rejected.
    type Error: fmt::Display;

    /// The first line of each file (without `\n`). `Err` rejects the whole file set: Kea refuses
    /// to start on a header column it does not know.
    fn header(&mut self, line: &[u8]) -> Result<HeaderFit, Self::Error>;

    /// One data row (without `\n`), in file order. `Err` counts the row as bad and skips it.
    fn row(&mut self, line: &[u8]) -> Result<(), Self::Error>;

    /// Number of leases held after loading, for the report.
    fn lease_count(&self) -> usize;
}

/// Where the lease file is and how to treat it (from `Dhcp4.lease-database`).
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions<'a> {
    /// `name`; `None` = [`default_path`].
    pub path: Option<&'a Path>,
    /// `persist`: false = nothing is read or written (Kea does not load either).
    pub persist: bool,
    /// `max-row-errors`: abort when one file has more bad rows than this; 0 = unlimited.
    pub max_row_errors: u32,
}

/// One rejected row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The file it is in.
    pub file: PathBuf,
    /// Data row number in that file (1 = the line after the header), as Kea reports it.
    pub row: u64,
    /// Why it was rejected.
    pub reason: String,
}

/// One file read at load time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLoad {
    /// The file.
    pub path: PathBuf,
    /// Data rows read (good and bad).
    pub rows: u64,
    /// Bad rows.
    pub errors: u64,
}

/// What loading found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Files read, in load order.
    pub files: Vec<FileLoad>,
    /// Data rows read in all files.
    pub rows: u64,
    /// Leases in the sink after loading.
    pub leases: usize,
    /// Every bad row (each was also logged as `DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR`).
    pub errors: Vec<RowError>,
    /// A file had another Kea schema: call [`LeaseFile::compact`] before the first append so
    /// the set is rewritten in wren's schema (Kea runs LFC at once in this case).
    pub needs_compaction: bool,
    /// The journal ended in an unterminated line that was cut off (a crash mid-write).
    pub truncated_tail_removed: bool,
    /// `persist` was false: nothing was loaded and nothing will be written.
    pub in_memory_only: bool,
}

/// What a compaction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactionReport {
    /// Leases written to the snapshot.
    pub leases: usize,
    /// Snapshot size in bytes.
    pub bytes: u64,
    /// Time spent formatting rows (service is blocked while compacting).
    pub format_time: Duration,
    /// Time spent writing, syncing and renaming.
    pub io_time: Duration,
}

/// Lease file errors.
#[derive(Debug)]
pub enum Error {
    /// A system call on a file of the set failed.
    Io {
        /// What was being done (`"open"`, `"write"`, `"fdatasync"`, `"rename"`, …).
        op: &'static str,
        /// The file (or directory) concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `<name>.pid` names a live process: kea-lfc is still cleaning the files (Kea refuses to
    /// open the lease database in that case too).
    CleanupInProgress {
        /// The PID file.
        path: PathBuf,
        /// The live PID it holds.
        pid: i32,
    },
    /// A file's header was rejected by the loader.
    BadHeader {
        /// The file.
        path: PathBuf,
        /// The loader's reason.
        reason: String,
    },
    /// More bad rows in one file than `max-row-errors` allows (Kea: "exceeded maximum number
    /// of failures"); the server must not start.
    TooManyRowErrors {
        /// The file.
        path: PathBuf,
        /// The configured `max-row-errors`.
        limit: u32,
    },
    /// The lease file path has no file name part (e.g. `/` or `..`).
    BadPath(PathBuf),
    /// A file of another Kea schema was loaded and [`LeaseFile::compact`] has not rewritten
    /// it yet: appending wren's rows to it would make them unreadable to Kea.
    ConversionPending,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => {
                write!(f, "{op} of lease file {} failed: {source}", path.display())
            }
            Error::CleanupInProgress { path, pid } => write!(
                f,
                "lease file cleanup is in progress (process {pid} in {})",
                path.display()
            ),
            Error::BadHeader { path, reason } => {
                write!(f, "invalid header in lease file {}: {reason}", path.display())
            }
            Error::TooManyRowErrors { path, limit } => write!(
                f,
                "exceeded maximum number of failures {limit} to read a lease from the lease file {}",
                path.display()
            ),
            Error::BadPath(p) => write!(f, "lease file name {} has no file name", p.display()),
            Error::ConversionPending => {
                write!(f, "lease files need conversion to the current schema first")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The member files of the set, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Member {
    Journal,
    Copy,
    Previous,
    Output,
    Completed,
    NewJournal,
    Pid,
}

impl Member {
    const fn suffix(self) -> &'static str {
        match self {
            Member::Journal => "",
            Member::Copy => ".1",
            Member::Previous => ".2",
            Member::Output => ".output",
            Member::Completed => ".completed",
            Member::NewJournal => ".new",
            Member::Pid => ".pid",
        }
    }
}

/// Compaction steps, for the crash tests: the test stops after step k and reloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Flushed,
    OutputWritten,
    CompletedRenamed,
    NewJournalWritten,
    JournalReplaced,
    PreviousRemoved,
    CopyRemoved,
    PreviousRenamed,
}

#[cfg(test)]
const ALL_STEPS: [Step; 8] = [
    Step::Flushed,
    Step::OutputWritten,
    Step::CompletedRenamed,
    Step::NewJournalWritten,
    Step::JournalReplaced,
    Step::PreviousRemoved,
    Step::CopyRemoved,
    Step::PreviousRenamed,
];

/// The lease file set: the open journal plus the directory it lives in.
pub struct LeaseFile {
    /// The `name` as configured (for messages).
    path: PathBuf,
    /// The directory holding the set; `None` when not persisting.
    dir: Option<OwnedFd>,
    /// File name of `<name>` inside `dir`.
    name: OsString,
    /// The journal, opened `O_WRONLY | O_APPEND`.
    journal: Option<File>,
    /// Bytes of the journal known to end with a complete row.
    journal_len: u64,
    /// A failed write may have left a partial row that could not be cut off: start the next
    /// batch with `\n` so it stays one bad row instead of corrupting the next one.
    journal_needs_newline: bool,
    /// Rows formatted since the last sync.
    batch: Vec<u8>,
    /// Rows in `batch`.
    batch_rows: usize,
    /// A file of another schema was loaded; appends wait for a compaction.
    conversion_pending: bool,
    /// Test hook: stop compaction after this step (a simulated crash).
    #[cfg(test)]
    crash_after: Option<Step>,
}

impl fmt::Debug for LeaseFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseFile")
            .field("path", &self.path)
            .field("persist", &self.dir.is_some())
            .field("journal_len", &self.journal_len)
            .field("batch_rows", &self.batch_rows)
            .finish()
    }
}

fn io_err(op: &'static str, path: &Path, source: io::Error) -> Error {
    Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn nix_err(op: &'static str, path: &Path, errno: Errno) -> Error {
    io_err(op, path, io::Error::from(errno))
}

impl LeaseFile {
    /// Opens the lease file set and loads it into `sink` (kea-memfile.md §3).
    ///
    /// With `persist: false` nothing is read or written and a warning is logged once
    /// (`DHCPSRV_MEMFILE_NO_STORAGE`), as Kea.
    pub fn open<S: RowSink>(
        options: &OpenOptions<'_>,
        sink: &mut S,
    ) -> Result<(LeaseFile, LoadReport), Error> {
        let path = options.path.unwrap_or_else(|| default_path()).to_path_buf();
        let mut report = LoadReport::default();
        let name = path
            .file_name()
            .map(OsStr::to_os_string)
            .ok_or_else(|| Error::BadPath(path.clone()))?;
        let mut file = LeaseFile {
            path: path.clone(),
            dir: None,
            name,
            journal: None,
            journal_len: 0,
            journal_needs_newline: false,
            batch: Vec::new(),
            batch_rows: 0,
            conversion_pending: false,
            #[cfg(test)]
            crash_after: None,
        };
        if !options.persist {
            logging::memfile_no_storage();
            report.in_memory_only = true;
            report.leases = sink.lease_count();
            return Ok((file, report));
        }
        logging::memfile_db(&path);

        let dir_path = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = nix::fcntl::open(
            &dir_path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| nix_err("open directory", &dir_path, e))?;
        file.dir = Some(dir);
        file.batch = Vec::with_capacity(BATCH_BUFFER_BYTES);

        file.check_cleanup_not_running()?;

        // Load order (kea-memfile.md §3.2).
        let sources: &[Member] = if file.exists(Member::Completed)? {
            &[Member::Completed]
        } else {
            &[Member::Previous, Member::Copy]
        };
        for &member in sources {
            if let Some(load) =
                file.load_member(member, sink, options.max_row_errors, &mut report)?
            {
                report.rows += load.rows;
                report.files.push(load);
            }
        }
        let load = file.load_journal(sink, options.max_row_errors, &mut report)?;
        report.rows += load.rows;
        report.files.push(load);
        report.leases = sink.lease_count();
        file.conversion_pending = report.needs_compaction;
        Ok((file, report))
    }

    /// The configured lease file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether rows are written at all (`persist`).
    pub fn persists(&self) -> bool {
        self.dir.is_some()
    }

    /// Rows appended since the last [`LeaseFile::sync_batch`].
    pub fn pending_rows(&self) -> usize {
        self.batch_rows
    }

    /// Formats `lease` as a Kea CSV row at the end of the current batch. Nothing reaches the
    /// disk until [`LeaseFile::sync_batch`]. No allocation unless the batch outgrows every
    /// earlier batch.
    pub fn append(&mut self, lease: &LeaseRecord<'_>) {
        if self.dir.is_none() {
            return;
        }
        write_row(lease, &mut self.batch);
        self.batch_rows += 1;
    }

    /// Drops the rows appended since the last sync (the caller gave up on the batch).
    pub fn discard_batch(&mut self) {
        self.batch.clear();
        self.batch_rows = 0;
    }

    /// Group commit: writes the batch to the journal with one `write(2)` (more only if the
    /// kernel takes part of it) and makes it durable with one `fdatasync(2)`. Send the
    /// batch's replies only after `Ok`.
    ///
    /// On `Err` the batch is dropped (its replies must not be sent: the client retries), and a
    /// partial write is cut off the journal, so later rows are not glued to a broken one.
    pub fn sync_batch(&mut self) -> Result<(), Error> {
        if self.batch.is_empty() || self.dir.is_none() {
            self.discard_batch();
            return Ok(());
        }
        if self.conversion_pending {
            self.discard_batch();
            return Err(Error::ConversionPending);
        }
        let result = self.write_batch();
        self.discard_batch();
        result
    }

    fn write_batch(&mut self) -> Result<(), Error> {
        let path = self.path.clone();
        let journal = self
            .journal
            .as_mut()
            .ok_or_else(|| io_err("write", &path, io::Error::from(io::ErrorKind::NotFound)))?;
        if self.journal_needs_newline {
            // Isolate the partial row a failed write left behind.
            journal
                .write_all(b"\n")
                .map_err(|e| io_err("write", &path, e))?;
            self.journal_len += 1;
            self.journal_needs_newline = false;
        }
        if let Err(e) = journal.write_all(&self.batch) {
            // Cut the partial batch off; if that fails too, the next batch starts with `\n`.
            let len = i64::try_from(self.journal_len).unwrap_or(i64::MAX);
            if nix::unistd::ftruncate(&*journal, len).is_err() {
                self.journal_needs_newline = true;
            }
            return Err(io_err("write", &path, e));
        }
        self.journal_len += self.batch.len() as u64;
        journal
            .sync_data()
            .map_err(|e| io_err("fdatasync", &path, e))
    }

    /// Compacts the file set from the lease table (the module doc lists the steps and the
    /// crash table). `leases` is every lease the table holds, in any order (they are
    /// written sorted by address, like kea-lfc). The pending batch is synced first.
    pub fn compact<'a, I>(&mut self, leases: I) -> Result<CompactionReport, Error>
    where
        I: IntoIterator<Item = LeaseRecord<'a>>,
    {
        let zero = CompactionReport {
            leases: 0,
            bytes: 0,
            format_time: Duration::ZERO,
            io_time: Duration::ZERO,
        };
        if self.dir.is_none() {
            return Ok(zero);
        }
        logging::memfile_lfc_start();
        // 1. everything in the table is on disk before the snapshot stands for it.
        if !self.conversion_pending {
            self.sync_batch()?;
        }
        self.discard_batch();
        if self.crashed_after(Step::Flushed) {
            return Ok(zero);
        }

        // 2. format the snapshot, sorted by address.
        let started = Instant::now();
        let (snapshot, count) = format_snapshot(leases);
        let format_time = started.elapsed();
        let started = Instant::now();
        self.write_member(Member::Output, &snapshot)?;
        if self.crashed_after(Step::OutputWritten) {
            return Ok(zero);
        }
        // 3. the snapshot now stands for the whole table.
        self.rename(Member::Output, Member::Completed)?;
        self.sync_dir()?;
        if self.crashed_after(Step::CompletedRenamed) {
            return Ok(zero);
        }
        // 4. a fresh journal replaces the old one atomically.
        let mut header = Vec::with_capacity(HEADER.len() + 1);
        header.extend_from_slice(HEADER.as_bytes());
        header.push(b'\n');
        self.write_member(Member::NewJournal, &header)?;
        if self.crashed_after(Step::NewJournalWritten) {
            return Ok(zero);
        }
        self.rename(Member::NewJournal, Member::Journal)?;
        self.sync_dir()?;
        self.journal = Some(self.open_member(Member::Journal, OFlag::O_WRONLY | OFlag::O_APPEND)?);
        self.journal_len = header.len() as u64;
        self.journal_needs_newline = false;
        self.conversion_pending = false;
        if self.crashed_after(Step::JournalReplaced) {
            return Ok(zero);
        }
        // 5. rotate: the snapshot becomes `.2`.
        self.unlink(Member::Previous)?;
        if self.crashed_after(Step::PreviousRemoved) {
            return Ok(zero);
        }
        self.unlink(Member::Copy)?;
        if self.crashed_after(Step::CopyRemoved) {
            return Ok(zero);
        }
        self.rename(Member::Completed, Member::Previous)?;
        self.sync_dir()?;
        let report = CompactionReport {
            leases: count,
            bytes: snapshot.len() as u64,
            format_time,
            io_time: started.elapsed(),
        };
        logging::memfile_lfc_done(&report);
        Ok(report)
    }

    #[cfg(test)]
    fn crashed_after(&self, step: Step) -> bool {
        self.crash_after == Some(step)
    }

    #[cfg(not(test))]
    fn crashed_after(&self, _step: Step) -> bool {
        false
    }

    // ----- loading -----

    /// Refuses to open while kea-lfc runs on the set (kea-memfile.md §3.1).
    fn check_cleanup_not_running(&self) -> Result<(), Error> {
        let Some(mut pid_file) = self.open_existing(Member::Pid)? else {
            return Ok(());
        };
        let mut text = String::new();
        // An unreadable or garbled PID file is stale: kea-lfc writes it whole.
        if pid_file.read_to_string(&mut text).is_err() {
            return Ok(());
        }
        let Ok(pid) = text.trim().parse::<i32>() else {
            return Ok(());
        };
        if pid <= 0 || pid == std::process::id() as i32 {
            return Ok(());
        }
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
            Ok(()) | Err(Errno::EPERM) => Err(Error::CleanupInProgress {
                path: self.member_path(Member::Pid),
                pid,
            }),
            Err(_) => Ok(()),
        }
    }

    /// Loads a read-only member (`.completed`, `.2`, `.1`) if it exists.
    fn load_member<S: RowSink>(
        &self,
        member: Member,
        sink: &mut S,
        max_row_errors: u32,
        report: &mut LoadReport,
    ) -> Result<Option<FileLoad>, Error> {
        let Some(f) = self.open_existing(member)? else {
            return Ok(None);
        };
        let path = self.member_path(member);
        logging::memfile_file_load(&path);
        let scan = scan_rows(f, &path, sink, max_row_errors, report)?;
        Ok(Some(FileLoad {
            path,
            rows: scan.rows,
            errors: scan.errors,
        }))
    }

    /// Loads `<name>` (creating it with the header if missing or empty), repairs a torn last
    /// line, and leaves it open for appending.
    fn load_journal<S: RowSink>(
        &mut self,
        sink: &mut S,
        max_row_errors: u32,
        report: &mut LoadReport,
    ) -> Result<FileLoad, Error> {
        let path = self.member_path(Member::Journal);
        logging::memfile_file_load(&path);
        let mut scan = ScanResult::default();
        if let Some(f) = self.open_existing(Member::Journal)? {
            scan = scan_rows(f, &path, sink, max_row_errors, report)?;
        }
        let mut journal = self.open_member(
            Member::Journal,
            OFlag::O_RDWR | OFlag::O_APPEND | OFlag::O_CREAT,
        )?;
        if scan.torn_header || scan.size == 0 {
            // Missing, empty, or a header cut short while a journal was being created.
            let header_len = (HEADER.len() + 1) as u64;
            let mut header = Vec::with_capacity(HEADER.len() + 1);
            header.extend_from_slice(HEADER.as_bytes());
            header.push(b'\n');
            journal
                .set_len(0)
                .and_then(|()| journal.write_all(&header))
                .and_then(|()| journal.sync_data())
                .map_err(|e| io_err("write header", &path, e))?;
            self.sync_dir()?;
            self.journal_len = header_len;
        } else if let Some(tail) = scan.unterminated_tail {
            if tail.parsed {
                // A complete row that only lacks its newline.
                journal
                    .write_all(b"\n")
                    .and_then(|()| journal.sync_data())
                    .map_err(|e| io_err("write", &path, e))?;
                self.journal_len = scan.size + 1;
            } else {
                // A row torn by a crash: already counted as a bad row; cut it off.
                journal
                    .set_len(tail.offset)
                    .and_then(|()| journal.sync_data())
                    .map_err(|e| io_err("truncate", &path, e))?;
                self.journal_len = tail.offset;
                report.truncated_tail_removed = true;
            }
        } else {
            self.journal_len = scan.size;
        }
        self.journal = Some(journal);
        Ok(FileLoad {
            path,
            rows: scan.rows,
            errors: scan.errors,
        })
    }

    // ----- directory-relative file operations -----

    fn member_name(&self, member: Member) -> OsString {
        let mut name = self.name.clone();
        name.push(member.suffix());
        name
    }

    /// Full path of a member (for messages).
    fn member_path(&self, member: Member) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(member.suffix());
        PathBuf::from(p)
    }

    fn dir(&self) -> Result<&OwnedFd, Error> {
        self.dir
            .as_ref()
            .ok_or_else(|| io_err("open", &self.path, io::Error::from(io::ErrorKind::NotFound)))
    }

    fn open_member(&self, member: Member, flags: OFlag) -> Result<File, Error> {
        let fd = nix::fcntl::openat(
            self.dir()?,
            self.member_name(member).as_os_str(),
            flags | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(FILE_MODE as _),
        )
        .map_err(|e| nix_err("open", &self.member_path(member), e))?;
        Ok(File::from(fd))
    }

    /// Opens a member for reading, `None` if it does not exist.
    fn open_existing(&self, member: Member) -> Result<Option<File>, Error> {
        match self.open_member(member, OFlag::O_RDONLY) {
            Ok(f) => Ok(Some(f)),
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn exists(&self, member: Member) -> Result<bool, Error> {
        match nix::sys::stat::fstatat(
            self.dir()?,
            self.member_name(member).as_os_str(),
            AtFlags::empty(),
        ) {
            Ok(_) => Ok(true),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(nix_err("stat", &self.member_path(member), e)),
        }
    }

    /// Creates or truncates a member, writes `bytes`, and `fsync`s it.
    fn write_member(&self, member: Member, bytes: &[u8]) -> Result<(), Error> {
        let path = self.member_path(member);
        let mut f = self.open_member(member, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC)?;
        f.write_all(bytes).map_err(|e| io_err("write", &path, e))?;
        f.sync_all().map_err(|e| io_err("fsync", &path, e))
    }

    fn rename(&self, from: Member, to: Member) -> Result<(), Error> {
        let dir = self.dir()?;
        nix::fcntl::renameat(
            dir,
            self.member_name(from).as_os_str(),
            dir,
            self.member_name(to).as_os_str(),
        )
        .map_err(|e| nix_err("rename", &self.member_path(from), e))
    }

    /// Removes a member; a missing one is fine.
    fn unlink(&self, member: Member) -> Result<(), Error> {
        match nix::unistd::unlinkat(
            self.dir()?,
            self.member_name(member).as_os_str(),
            UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(nix_err("unlink", &self.member_path(member), e)),
        }
    }

    /// Makes renames and creations in the directory durable.
    fn sync_dir(&self) -> Result<(), Error> {
        nix::unistd::fsync(self.dir()?.as_fd()).map_err(|e| {
            nix_err(
                "fsync directory",
                self.path.parent().unwrap_or(Path::new(".")),
                e,
            )
        })
    }
}

/// The last line of a file when it had no `\n`.
#[derive(Clone, Copy, Debug, Default)]
struct UnterminatedTail {
    /// Byte offset where the line starts.
    offset: u64,
    /// Whether the sink accepted it.
    parsed: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct ScanResult {
    rows: u64,
    errors: u64,
    size: u64,
    /// The file is only the start of the header, without `\n` (a crash while creating it).
    torn_header: bool,
    unterminated_tail: Option<UnterminatedTail>,
}

/// Feeds one file's lines to the sink: header first, then data rows.
fn scan_rows<S: RowSink>(
    file: File,
    path: &Path,
    sink: &mut S,
    max_row_errors: u32,
    report: &mut LoadReport,
) -> Result<ScanResult, Error> {
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut line: Vec<u8> = Vec::with_capacity(512);
    let mut result = ScanResult::default();
    let mut offset: u64 = 0;
    let mut header_seen = false;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| io_err("read", path, e))?;
        if n == 0 {
            break;
        }
        let start = offset;
        offset += n as u64;
        let terminated = line.last() == Some(&b'\n');
        let content = if terminated {
            line.get(..line.len() - 1).unwrap_or(&[])
        } else {
            line.as_slice()
        };
        if !header_seen {
            header_seen = true;
            if !terminated && HEADER.as_bytes().starts_with(content) {
                result.torn_header = true;
                break;
            }
            match sink.header(content) {
                Ok(HeaderFit::Current) => {}
                Ok(HeaderFit::NeedsConversion) => {
                    report.needs_compaction = true;
                    logging::memfile_needs_conversion(path, content);
                }
                Err(e) => {
                    return Err(Error::BadHeader {
                        path: path.to_path_buf(),
                        reason: e.to_string(),
                    })
                }
            }
            continue;
        }
        result.rows += 1;
        let outcome = sink.row(content);
        if !terminated {
            result.unterminated_tail = Some(UnterminatedTail {
                offset: start,
                parsed: outcome.is_ok(),
            });
        }
        if let Err(e) = outcome {
            result.errors += 1;
            let reason = e.to_string();
            logging::memfile_row_error(result.rows, &reason);
            report.errors.push(RowError {
                file: path.to_path_buf(),
                row: result.rows,
                reason,
            });
            if max_row_errors > 0 && result.errors > u64::from(max_row_errors) {
                return Err(Error::TooManyRowErrors {
                    path: path.to_path_buf(),
                    limit: max_row_errors,
                });
            }
        }
    }
    let mut reader = reader.into_inner();
    result.size = reader
        .seek(SeekFrom::End(0))
        .map_err(|e| io_err("seek", path, e))?;
    Ok(result)
}

/// Formats all leases as one snapshot (header + rows sorted by address, as kea-lfc writes).
fn format_snapshot<'a, I>(leases: I) -> (Vec<u8>, usize)
where
    I: IntoIterator<Item = LeaseRecord<'a>>,
{
    let leases = leases.into_iter();
    let (lower, _) = leases.size_hint();
    // Rows are formatted once into `rows`; `order` sorts their spans by address.
    let mut rows: Vec<u8> = Vec::with_capacity(lower.saturating_mul(96) + HEADER.len() + 1);
    rows.extend_from_slice(HEADER.as_bytes());
    rows.push(b'\n');
    let mut order: Vec<(u32, usize, usize)> = Vec::with_capacity(lower);
    let mut sorted = true;
    let mut last = 0u32;
    for lease in leases {
        let start = rows.len();
        write_row(&lease, &mut rows);
        let key = lease.address.to_bits();
        if !order.is_empty() && key < last {
            sorted = false;
        }
        last = key;
        order.push((key, start, rows.len()));
    }
    let count = order.len();
    if sorted {
        return (rows, count);
    }
    order.sort_unstable_by_key(|&(key, _, _)| key);
    let mut out = Vec::with_capacity(rows.len());
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    for (_, start, end) in order {
        out.extend_from_slice(rows.get(start..end).unwrap_or(&[]));
    }
    (out, count)
}

// ----- row formatting (Kea 2.2 CSV, kea-memfile.md §1) -----

/// Appends `lease` as one Kea 2.2 CSV row with its `\n`. Only `,` and `&` are escaped in the
/// text columns (as `&#x2c` / `&#x26`), hex is lowercase with `:`, `expire` = cltt + lifetime.
pub fn write_row(lease: &LeaseRecord<'_>, out: &mut Vec<u8>) {
    let [a, b, c, d] = lease.address.octets();
    for (i, octet) in [a, b, c, d].into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        write_decimal(u64::from(octet), out);
    }
    out.push(b',');
    write_hex(lease.hwaddr, out);
    out.push(b',');
    write_hex(lease.client_id, out);
    out.push(b',');
    write_decimal(u64::from(lease.valid_lifetime), out);
    out.push(b',');
    write_decimal(lease.expire().0, out);
    out.push(b',');
    write_decimal(u64::from(lease.subnet_id), out);
    out.extend_from_slice(if lease.fqdn_fwd { b",1" } else { b",0" });
    out.extend_from_slice(if lease.fqdn_rev { b",1," } else { b",0," });
    write_escaped(lease.hostname, out);
    out.push(b',');
    write_decimal(u64::from(lease.state.code()), out);
    out.push(b',');
    write_escaped(lease.user_context, out);
    out.push(b'\n');
}

/// Appends `n` in decimal (the `fmt` machinery costs more than the rest of a row).
fn write_decimal(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or(&[]));
}

fn write_hex(bytes: &[u8], out: &mut Vec<u8>) {
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 0x0f));
    }
}

/// Lowercase hex digit of a nibble (Kea writes lowercase).
fn hex_digit(nibble: u8) -> u8 {
    b"0123456789abcdef"
        .get(usize::from(nibble))
        .copied()
        .unwrap_or(b'0')
}

fn write_escaped(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| b == b',' || b == b'&') {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b',' => out.extend_from_slice(b"&#x2c"),
            b'&' => out.extend_from_slice(b"&#x26"),
            _ => out.push(b),
        }
    }
}

/// The address column of a row (for callers that index rows without parsing them).
pub fn row_address(row: &[u8]) -> Option<Ipv4Addr> {
    let end = row.iter().position(|&b| b == b',').unwrap_or(row.len());
    std::str::from_utf8(row.get(..end)?).ok()?.parse().ok()
}

#[cfg(test)]
mod tests;
