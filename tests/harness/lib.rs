//! End-to-end test harness for wren: private network namespaces, a DHCP server under test
//! (`wrend` or the reference `kea-dhcp4`), real DHCP clients, packet capture and lease-file reading.
//!
//! Network safety: everything here runs inside namespaces created by [`netns`], on veth pairs,
//! with addresses from 198.18.0.0/15 only (checked in [`netns::check_test_address`]). Every process
//! the harness starts is stopped by its PID, and every namespace is deleted on `Drop`.
//!
//! The tests need root. [`require_root`] fails (never skips) with a clear message otherwise.

pub mod capture;
pub mod clients;
pub mod ha;
pub mod ha_checks;
pub mod inject;
pub mod leases;
pub mod netns;
pub mod process;
pub mod server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Fails the calling test when not running as root: the e2e suite cannot run without network
/// namespaces, and a silent skip would make a broken CI look green.
pub fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("?");
    assert!(
        euid == "0",
        "wren e2e tests need root (they create network namespaces and veth pairs); \
         run them as root, e.g. `sudo scripts/test.sh` (effective uid is {euid})"
    );
}

static UNIQUE: AtomicU32 = AtomicU32::new(0);

/// A short string unique within this machine for the life of this process: `<pid>x<n>`.
pub fn unique_tag() -> String {
    format!(
        "{}x{}",
        std::process::id() % 1_000_000,
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// A per-test scratch directory under /tmp (short paths: unix socket names are limited to 108
/// bytes). Removed on drop, except when the test is failing (panicking) or `WREN_KEEP` is set,
/// so the logs, configs, lease files and pcaps can be inspected.
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(test_name: &str) -> TestDir {
        let short: String = test_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(20)
            .collect();
        let path = PathBuf::from(format!("/tmp/wren-e2e-{}-{}", short, unique_tag()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TestDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("WREN_KEEP").is_some() {
            eprintln!("[harness] keeping test directory {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Polls `check` every 50 ms until it returns `Some`, or `None` after `timeout`.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads a file as text; empty string if it does not exist yet.
pub fn read_text(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// True when the program exists at `path` (used for clear "install X" failures).
pub fn require_program(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install the Debian package `{package}` (see .ci/run)"
    );
}
