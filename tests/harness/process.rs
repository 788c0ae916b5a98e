//! Child processes with deadlines, stopped by PID (SIGTERM, then SIGKILL).

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Sends `signal` to one process by PID. Returns false if it no longer exists.
pub fn signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false; // never signal a process group or everything
    }
    // SAFETY: kill(2) with a positive PID and a valid signal number has no memory effects.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Waits up to `timeout` for the child to exit; returns its status if it did.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL; always reaps the child.
pub fn stop_child(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    signal(child.id(), libc::SIGTERM);
    if let Some(status) = wait_timeout(child, grace) {
        return Some(status);
    }
    signal(child.id(), libc::SIGKILL);
    child.wait().ok()
}

/// Output of a command run to completion (or killed at its deadline).
#[derive(Debug)]
pub struct RunOutput {
    /// `None` when the command was killed at the deadline.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.status.map(|s| s.success()).unwrap_or(false)
    }
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs a command with a deadline, capturing stdout and stderr. The command is killed (by PID)
/// when the deadline passes.
pub fn run(cmd: &mut Command, timeout: Duration) -> RunOutput {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut s);
        }
        s
    });
    let status = match wait_timeout(&mut child, timeout) {
        Some(s) => Some(s),
        None => {
            stop_child(&mut child, Duration::from_secs(2));
            None
        }
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    RunOutput {
        status,
        stdout,
        stderr,
    }
}

/// A background process whose output goes to a log file; stopped (by PID) on drop.
pub struct Background {
    child: Option<Child>,
    pub name: String,
}

impl Background {
    pub fn new(child: Child, name: &str) -> Background {
        Background {
            child: Some(child),
            name: name.to_string(),
        }
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
    pub fn signal(&self, sig: libc::c_int) -> bool {
        self.pid().map(|p| signal(p, sig)).unwrap_or(false)
    }
    /// Waits for a natural exit.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let status = wait_timeout(child, timeout);
        if status.is_some() {
            self.child = None;
        }
        status
    }
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        stop_child(&mut child, grace)
    }
    pub fn kill_hard(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        signal(child.id(), libc::SIGKILL);
        child.wait().ok()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}
