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
//! 4. write a header-only `<name>.new`; `fsync` it; open it for appending; rename it over
//!    `<name>` (the open descriptor follows it); `fsync` the directory;
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
//! Files compaction creates take the mode, owner and group the journal had at start (best
//! effort: giving a file away needs root), so a Kea running as its own user can take the set
//! back.
//!
//! # Capsicum
//! Everything after opening goes through a directory descriptor (`openat`, `renameat`,
//! `unlinkat`, `fsync` of the directory), so the file set keeps working after `cap_enter` with
//! the rights listed in freebsd.md §2 on the directory fd.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;
use wren_core::config::LeaseChecks;
use wren_core::lease::csv::{self, HeaderError, SchemaConversion, WriteError};
use wren_core::lease::loader::{LoadError, LoadEvent, Loader, SubnetLookup};
use wren_core::lease::{LeaseRecord, LeaseTable, TableError};
use wren_core::server::LeaseSink;

use crate::packet_path::Journal;

use crate::logging;

/// The header Kea 2.2 writes (schema 2.1, 11 columns; kea-memfile.md §1).
pub use wren_core::lease::csv::HEADER;

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

    /// One data row (without `\n`), in file order. `Err` counts the row as bad and skips it,
    /// unless [`RowSink::is_fatal`] says loading must stop.
    fn row(&mut self, line: &[u8]) -> Result<(), Self::Error>;

    /// Whether a row error stops loading (e.g. the table is full: leases would be lost).
    fn is_fatal(&self, error: &Self::Error) -> bool {
        let _ = error;
        false
    }

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

impl<'a> OpenOptions<'a> {
    /// The options of a configuration's `lease-database` (an empty `name` means the
    /// platform default).
    pub fn from_config(config: &wren_core::config::Config<'a>) -> OpenOptions<'a> {
        let db = &config.globals.lease_database;
        let name = config.str(db.name);
        OpenOptions {
            path: (!name.is_empty()).then(|| Path::new(name)),
            persist: db.persist,
            max_row_errors: db.max_row_errors,
        }
    }
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
    /// The loader could not keep a valid row (the lease table is full): starting would lose
    /// leases.
    Load {
        /// The file.
        path: PathBuf,
        /// Data row number.
        row: u64,
        /// The loader's reason.
        reason: String,
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
            Error::Load { path, row, reason } => write!(
                f,
                "cannot load row {row} of lease file {}: {reason}",
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
    /// A failed write may have left a partial row that could not be cut off: before the next
    /// batch, cut it (or, if that still fails, end it with `\n` so it stays one bad row
    /// instead of swallowing the next one).
    journal_needs_newline: bool,
    /// The journal was created (or its header rewritten) at start without a sync: its header
    /// and directory entry are made durable by the first batch's commit instead (a journal
    /// without rows needs no durability: a lost or torn header is recreated at the next
    /// start), which keeps two disk syncs off the start-up path.
    dir_sync_pending: bool,
    /// Rows formatted since the last sync: `batch[..batch_len]` (the vector's length is its
    /// usable size, so formatting never zero-fills or reallocates per row).
    batch: Vec<u8>,
    batch_len: usize,
    /// Rows in `batch`.
    batch_rows: usize,
    /// A file of another schema was loaded; appends wait for a compaction.
    conversion_pending: bool,
    /// Mode, owner and group of the journal found at start: the files compaction creates
    /// get them too, so a Kea running as its own user can take the set back.
    ownership: Option<Ownership>,
    /// [control API] Write + fdatasync times of the batches (`/metrics`).
    timing: crate::packet_path::SyncTiming,
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
            dir_sync_pending: false,
            journal_needs_newline: false,
            batch: Vec::new(),
            batch_len: 0,
            batch_rows: 0,
            conversion_pending: false,
            ownership: None,
            timing: crate::packet_path::SyncTiming::default(),
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
        file.batch = vec![0; BATCH_BUFFER_BYTES];

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

    /// Whether a file of another Kea schema was loaded and [`LeaseFile::compact`] must run
    /// before anything is appended (also [`LoadReport::needs_compaction`]).
    pub fn conversion_pending(&self) -> bool {
        self.conversion_pending
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
        push_row(&mut self.batch, &mut self.batch_len, lease);
        self.batch_rows += 1;
    }

    /// Drops the rows appended since the last sync (the caller gave up on the batch).
    pub fn discard_batch(&mut self) {
        self.batch_len = 0;
        self.batch_rows = 0;
    }

    /// Group commit: writes the batch to the journal with one `write(2)` (more only if the
    /// kernel takes part of it) and makes it durable with one `fdatasync(2)`. Send the
    /// batch's replies only after `Ok`.
    ///
    /// On `Err` the batch is dropped (its replies must not be sent: the client retries), and a
    /// partial write is cut off the journal, so later rows are not glued to a broken one.
    pub fn sync_batch(&mut self) -> Result<(), Error> {
        if self.batch_len == 0 || self.dir.is_none() {
            self.discard_batch();
            return Ok(());
        }
        if self.conversion_pending {
            self.discard_batch();
            return Err(Error::ConversionPending);
        }
        let mut result = self.write_batch();
        if result.is_ok() && self.dir_sync_pending {
            // The first commit after the journal was created: its directory entry too
            // (`write_batch` has just fdatasynced the header with the rows).
            result = self.sync_dir();
            self.dir_sync_pending = result.is_err();
        }
        self.discard_batch();
        result
    }

    /// Writes and syncs the pending batch. Borrows the fields apart instead of cloning the
    /// path for error messages: a clone would allocate once per synced batch, and the
    /// per-packet path allocates nothing after warm-up (daemon/tests/no_alloc.rs).
    fn write_batch(&mut self) -> Result<(), Error> {
        let Self {
            path,
            journal,
            journal_needs_newline,
            journal_len,
            batch,
            batch_len,
            ..
        } = self;
        let path: &Path = path;
        let journal = journal
            .as_mut()
            .ok_or_else(|| io_err("write", path, io::Error::from(io::ErrorKind::NotFound)))?;
        if *journal_needs_newline {
            match cut_tail(journal, *journal_len) {
                Tail::Clean => {}
                Tail::Partial(len) => {
                    // A partial row we could not cut off: end it, so it stays one bad row
                    // instead of swallowing the next one (an empty line would be a bad row
                    // too, so this is done only when bytes are really there).
                    journal
                        .write_all(b"\n")
                        .map_err(|e| io_err("write", path, e))?;
                    *journal_len = len + 1;
                }
            }
            *journal_needs_newline = false;
        }
        let batch = batch.get(..*batch_len).unwrap_or(&[]);
        if let Err(e) = journal.write_all(batch) {
            // Cut the partial batch off; if that fails too, the next batch repairs the tail.
            if let Tail::Partial(_) = cut_tail(journal, *journal_len) {
                *journal_needs_newline = true;
            }
            return Err(io_err("write", path, e));
        }
        *journal_len += batch.len() as u64;
        journal
            .sync_data()
            .map_err(|e| io_err("fdatasync", path, e))
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
        // Opened before the rename, so the descriptor follows the file: after the rename no
        // row can go to the replaced (unlinked) journal.
        let fresh = self.open_member(Member::NewJournal, OFlag::O_WRONLY | OFlag::O_APPEND)?;
        self.rename(Member::NewJournal, Member::Journal)?;
        self.journal = Some(fresh);
        self.journal_len = header.len() as u64;
        self.journal_needs_newline = false;
        self.conversion_pending = false;
        self.sync_dir()?;
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
        if self.crashed_after(Step::PreviousRenamed) {
            return Ok(zero);
        }
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
            self.ownership = f.metadata().ok().map(|m| Ownership {
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
            });
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
                .map_err(|e| io_err("write header", &path, e))?;
            self.dir_sync_pending = true;
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
        if let Some(o) = self.ownership {
            // Best effort: only root may give a file away (and Capsicum needs CAP_FCHOWN /
            // CAP_FCHMOD on the directory); the content matters more than the owner.
            let _ = nix::unistd::fchown(
                &f,
                Some(nix::unistd::Uid::from_raw(o.uid)),
                Some(nix::unistd::Gid::from_raw(o.gid)),
            );
            let _ = nix::sys::stat::fchmod(&f, Mode::from_bits_truncate(o.mode as _));
        }
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

/// Mode and owner of a lease file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ownership {
    mode: u32,
    uid: u32,
    gid: u32,
}

/// The journal's end after a failed write.
enum Tail {
    /// It ends where the last complete row ended.
    Clean,
    /// It has this many bytes, the last ones a partial row that could not be cut off.
    Partial(u64),
}

/// Truncates the journal back to `len` bytes (the end of its last complete row).
fn cut_tail(journal: &File, len: u64) -> Tail {
    let target = i64::try_from(len).unwrap_or(i64::MAX);
    if nix::unistd::ftruncate(journal, target).is_ok() {
        return Tail::Clean;
    }
    match journal.metadata() {
        Ok(m) if m.len() == len => Tail::Clean,
        Ok(m) => Tail::Partial(m.len()),
        // Unknown: assume the worst.
        Err(_) => Tail::Partial(len),
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

/// Bytes read per `read` while loading (a buffer that grows only for a longer line).
const SCAN_CHUNK: usize = 256 * 1024;

/// Feeds one file's lines to the sink: header first, then data rows.
///
/// The file is read in [`SCAN_CHUNK`]s and each line is handed to the sink in place
/// (found with [`csv::find_newline`]): no copy per line, which a `read_until` into a line
/// buffer cost (a search and a copy per row: a tenth of a 100,000-row load).
fn scan_rows<S: RowSink>(
    mut file: File,
    path: &Path,
    sink: &mut S,
    max_row_errors: u32,
    report: &mut LoadReport,
) -> Result<ScanResult, Error> {
    let mut buf: Vec<u8> = vec![0; SCAN_CHUNK];
    // `buf[..filled]` holds the file's bytes from offset `buf_offset` on.
    let mut filled = 0usize;
    let mut buf_offset: u64 = 0;
    let mut eof = false;
    let mut result = ScanResult::default();
    let mut header_seen = false;
    'scan: while !(eof && filled == 0) {
        if !eof {
            if filled == buf.len() {
                // One line longer than the buffer: make room for the rest of it.
                buf.resize(buf.len().saturating_mul(2), 0);
            }
            let n = loop {
                match file.read(buf.get_mut(filled..).unwrap_or(&mut [])) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_err("read", path, e)),
                }
            };
            if n == 0 {
                eof = true;
            }
            filled += n;
        }
        let mut pos = 0usize;
        loop {
            let rest = buf.get(pos..filled).unwrap_or(&[]);
            let (content, terminated) = match csv::find_newline(rest) {
                Some(end) => (rest.get(..end).unwrap_or(&[]), true),
                // The last line of the file, without its `\n`.
                None if eof && !rest.is_empty() => (rest, false),
                None => break,
            };
            let start = buf_offset + pos as u64;
            pos += content.len() + usize::from(terminated);
            if !header_seen {
                header_seen = true;
                if !terminated && HEADER.as_bytes().starts_with(content) {
                    result.torn_header = true;
                    break 'scan;
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
                if sink.is_fatal(&e) {
                    return Err(Error::Load {
                        path: path.to_path_buf(),
                        row: result.rows,
                        reason: e.to_string(),
                    });
                }
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
        // Keep the unfinished line for the next read.
        buf.copy_within(pos..filled, 0);
        filled -= pos;
        buf_offset += pos as u64;
    }
    result.size = file
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
    // Rows are formatted once into `rows`; `order` sorts their spans by address when the
    // table did not hand them over in order.
    let mut rows: Vec<u8> = vec![0; lower.saturating_mul(96) + HEADER.len() + 1];
    let mut len = 0;
    push_bytes(&mut rows, &mut len, HEADER.as_bytes());
    push_bytes(&mut rows, &mut len, b"\n");
    let mut order: Vec<(u32, usize, usize)> = Vec::with_capacity(lower);
    let mut sorted = true;
    for lease in leases {
        let start = len;
        push_row(&mut rows, &mut len, &lease);
        let key = lease.address.to_bits();
        if order.last().is_some_and(|&(last, _, _)| key < last) {
            sorted = false;
        }
        order.push((key, start, len));
    }
    let count = order.len();
    rows.truncate(len);
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

/// Formats `lease` (core CSV codec) at `buf[*len..]`, growing `buf` when it is too short
/// (rare: the buffer keeps its largest size).
fn push_row(buf: &mut Vec<u8>, len: &mut usize, lease: &LeaseRecord<'_>) {
    loop {
        let spare = buf.get_mut(*len..).unwrap_or_default();
        match csv::write_row(lease, spare) {
            Ok(n) => {
                *len += n;
                return;
            }
            Err(WriteError::BufferTooSmall { needed }) => {
                let grown = buf.len().saturating_mul(2).max(*len + needed).max(4096);
                buf.resize(grown, 0);
            }
        }
    }
}

fn push_bytes(buf: &mut Vec<u8>, len: &mut usize, bytes: &[u8]) {
    let end = *len + bytes.len();
    if buf.len() < end {
        buf.resize(end.max(buf.len().saturating_mul(2)), 0);
    }
    if let Some(dst) = buf.get_mut(*len..end) {
        dst.copy_from_slice(bytes);
    }
    *len = end;
}

// ----- the daemon's side -----

impl LeaseSink for LeaseFile {
    /// The engine's lease changes go to the current batch.
    fn lease_changed(&mut self, record: &LeaseRecord<'_>) {
        self.append(record);
    }
}

impl Journal for LeaseFile {
    fn sync_batch(&mut self) -> io::Result<()> {
        // [control API] Time the batches that reach the disk (no allocation: Instant only).
        let started = (self.batch_len > 0 && self.dir.is_some() && !self.conversion_pending)
            .then(std::time::Instant::now);
        let result = LeaseFile::sync_batch(self).map_err(Error::into_io);
        if let (Some(started), true) = (started, result.is_ok()) {
            self.timing.record(started.elapsed());
        }
        result
    }

    fn sync_timing(&self) -> Option<crate::packet_path::SyncTiming> {
        self.dir.is_some().then_some(self.timing)
    }

    fn batch_pending(&self) -> bool {
        self.batch_len > 0 && self.dir.is_some()
    }

    fn compact(&mut self, leases: &mut dyn Iterator<Item = LeaseRecord<'_>>) -> io::Result<()> {
        match LeaseFile::compact(self, leases) {
            Ok(_) => Ok(()),
            Err(e) => {
                logging::memfile_lfc_fail(&e);
                Err(e.into_io())
            }
        }
    }
}

impl Error {
    /// The error as an `io::Error` (the OS error when there is one), for the event loop.
    pub fn into_io(self) -> io::Error {
        match self {
            Error::Io { op, path, source } => io::Error::new(
                source.kind(),
                format!("{op} of lease file {} failed: {source}", path.display()),
            ),
            other => io::Error::other(other.to_string()),
        }
    }
}

/// A [`RowSink`] that feeds the core [`Loader`] (Kea's journal rules and `lease-checks`) into
/// the [`LeaseTable`], logging the sanity-check outcomes as Kea does.
pub struct TableSink<'t, 'a, S: SubnetLookup> {
    table: &'t mut LeaseTable<'a>,
    subnets: &'t S,
    checks: LeaseChecks,
    loader: Loader,
    scratch: Vec<u8>,
}

impl<'t, 'a, S: SubnetLookup> TableSink<'t, 'a, S> {
    /// Loads into `table`; `subnets` and `checks` (`sanity-checks.lease-checks`) decide what
    /// happens to leases whose subnet id does not fit.
    pub fn new(table: &'t mut LeaseTable<'a>, subnets: &'t S, checks: LeaseChecks) -> Self {
        TableSink {
            table,
            subnets,
            checks,
            loader: Loader::new(0, checks),
            scratch: vec![0; csv::scratch_len(1024)],
        }
    }
}

/// Why the core loader rejected a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableSinkError {
    /// Not a Kea v4 lease file header.
    Header(HeaderError),
    /// A row Kea would discard.
    Row(csv::RowError),
    /// A valid row the table cannot hold (fatal).
    Table(TableError),
}

impl fmt::Display for TableSinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableSinkError::Header(HeaderError::TooFewColumns { found }) => {
                write!(f, "the header has {found} columns, at least 9 are needed")
            }
            TableSinkError::Header(HeaderError::ColumnName { column, expected }) => {
                write!(f, "column {column} of the header is not '{expected}'")
            }
            TableSinkError::Row(csv::RowError::ColumnCount { found, expected }) => write!(
                f,
                "the row has {found} columns but the header has {expected}"
            ),
            TableSinkError::Row(e) => write!(f, "{e:?}"),
            TableSinkError::Table(e) => write!(f, "the lease table cannot hold the lease: {e:?}"),
        }
    }
}

impl<S: SubnetLookup> RowSink for TableSink<'_, '_, S> {
    type Error = TableSinkError;

    fn header(&mut self, line: &[u8]) -> Result<HeaderFit, TableSinkError> {
        // One loader per file: row numbers and error counts are per file, as Kea.
        self.loader = Loader::new(0, self.checks);
        match self
            .loader
            .feed_line(line, &mut self.scratch, self.table, self.subnets, |_| {})
        {
            Ok(()) => {}
            Err(LoadError::Header(e)) => return Err(TableSinkError::Header(e)),
            Err(LoadError::Table { error, .. }) => return Err(TableSinkError::Table(error)),
            Err(LoadError::TooManyRowErrors { .. }) => {}
        }
        Ok(match self.loader.shape().map(|s| s.conversion()) {
            Some(SchemaConversion::Current) | None => HeaderFit::Current,
            Some(_) => HeaderFit::NeedsConversion,
        })
    }

    fn row(&mut self, line: &[u8]) -> Result<(), TableSinkError> {
        let need = csv::scratch_len(line.len());
        if self.scratch.len() < need {
            self.scratch.resize(need, 0);
        }
        let mut rejected = None;
        let subnets = self.subnets;
        let result =
            self.loader.feed_line(
                line,
                &mut self.scratch,
                self.table,
                subnets,
                |event| match event {
                    LoadEvent::RowDiscarded(bad) => rejected = Some(bad.error),
                    LoadEvent::SanityWarning {
                        address, subnet_id, ..
                    } => {
                        logging::lease_sanity_fail(address, subnet_id, subnets.containing(address))
                    }
                    LoadEvent::SanityFixed {
                        address, from, to, ..
                    } => logging::lease_sanity_fixed(address, from, to),
                    LoadEvent::SanityDropped {
                        address, subnet_id, ..
                    } => logging::lease_sanity_discard(
                        address,
                        subnet_id,
                        subnets.containing(address),
                    ),
                    LoadEvent::SchemaConversion(_) => {}
                },
            );
        match result {
            Err(LoadError::Table { error, .. }) => Err(TableSinkError::Table(error)),
            Err(LoadError::Header(e)) => Err(TableSinkError::Header(e)),
            Err(LoadError::TooManyRowErrors { .. }) | Ok(()) => match rejected {
                Some(e) => Err(TableSinkError::Row(e)),
                None => Ok(()),
            },
        }
    }

    fn is_fatal(&self, error: &TableSinkError) -> bool {
        matches!(error, TableSinkError::Table(_))
    }

    fn lease_count(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests;
