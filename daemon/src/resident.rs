//! Giving start-up's pages back: after start-up (and after each reload) wrend unmaps the
//! pages of its own code and read-only data that start-up made resident, and the part of its
//! stack below the running frame.
//!
//! Why: on Linux a fault on a file-backed page maps the whole 64 KiB window around it
//! (`fault_around_bytes`), so parsing the configuration, loading the lease file and scanning
//! the interfaces leave most of the 1.0–1.3 MiB text mapped although the packet path runs a
//! small part of it. Those pages stay in the page cache (nothing is read from disk again);
//! `madvise(MADV_DONTNEED)` only removes them from this process's page tables, so the
//! resident set is what the server really uses and, on a 1 GB board, the kernel may reclaim
//! unused start-up code like any other unmapped cache page (mapped executable pages are
//! protected from reclaim). The packet path faults back in what it runs, on its first packets
//! (minor faults, no I/O). The benchmark reports VmRSS idle and after the first exchanges.
//!
//! Which mappings: only those of the wrend executable that are not writable and hold no
//! private (copied-on-write) page — text and read-only data, whose contents come back unchanged from
//! the file. RELRO pages (relocated, hence private-dirty) and data are never touched. The
//! ranges (and the stack's) are read once from `/proc/self/smaps` and `/proc/self/maps`
//! before privileges are dropped (a process that changed its credentials may not read its own
//! smaps, and after the sandbox point nothing may be opened) and reused after reloads.
//!
//! FreeBSD has no fault-around of this kind (and no /proc by default): nothing is done there.

#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::sync::OnceLock;

/// A page-aligned address range `[start, end)` of this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: usize,
    pub end: usize,
}

/// The clean read-only mappings of the executable, found at start.
static RANGES: OnceLock<Vec<Range>> = OnceLock::new();
/// The main thread's `[stack]` mapping as it was at start (it only grows downwards, so its
/// start then is a safe lower bound for what to release later). Surveyed once, like
/// [`RANGES`]: after the sandbox point no file may be opened (Capsicum's capability mode on
/// FreeBSD; scripts/freebsd-checks.sh audits it on Linux too).
static STACK: OnceLock<Option<Range>> = OnceLock::new();

/// Finds the executable's clean read-only mappings (once); call before dropping privileges.
pub fn survey() {
    #[cfg(target_os = "linux")]
    {
        let found = std::fs::read_to_string("/proc/self/smaps")
            .ok()
            .zip(std::fs::read_link("/proc/self/exe").ok())
            .map(|(smaps, exe)| clean_readonly_mappings(&smaps, &exe.to_string_lossy()))
            .unwrap_or_default();
        let _ = RANGES.set(found);
        let stack = std::fs::read_to_string("/proc/self/maps")
            .ok()
            .and_then(|maps| stack_mapping(&maps));
        let _ = STACK.set(stack);
    }
}

/// Unmaps the surveyed ranges and the unused stack below the caller's frame; returns how many
/// bytes of address space were advised (not all of it was resident).
pub fn release() -> usize {
    #[cfg(target_os = "linux")]
    {
        let mut advised = 0;
        for r in RANGES.get().map(Vec::as_slice).unwrap_or(&[]) {
            if dont_need(*r) {
                advised += r.end - r.start;
            }
        }
        advised + release_stack()
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// `madvise(MADV_DONTNEED)` over `r`; false when the kernel refused.
#[cfg(target_os = "linux")]
fn dont_need(r: Range) -> bool {
    if r.end <= r.start {
        return false;
    }
    // SAFETY: `r` is a whole mapping of the executable that is not writable and holds no
    // private page (checked in the survey), or stack below the live frames: dropping its
    // pages changes no value the program can read (file pages come back from the page cache,
    // the stack below the stack pointer is dead).
    let rc = unsafe {
        libc::madvise(
            r.start as *mut libc::c_void,
            r.end - r.start,
            libc::MADV_DONTNEED,
        )
    };
    rc == 0
}

/// Stack kept below the current frame: this function's own frame, the libc call, signal
/// frames that may arrive meanwhile (an alternate signal stack is not used).
#[cfg(target_os = "linux")]
const STACK_MARGIN: usize = 64 * 1024;

/// Releases the main thread's stack pages more than [`STACK_MARGIN`] below this frame.
#[cfg(target_os = "linux")]
fn release_stack() -> usize {
    let here = 0u8;
    let sp = std::ptr::addr_of!(here) as usize;
    let Some(stack) = STACK.get().copied().flatten() else {
        return 0;
    };
    // Only when this frame is on the main thread's stack (it always is: service::serve).
    if !(stack.start..stack.end).contains(&sp) {
        return 0;
    }
    let page = 4096;
    let top = sp.saturating_sub(STACK_MARGIN) & !(page - 1);
    let r = Range {
        start: stack.start,
        end: top,
    };
    if r.end > r.start && dont_need(r) {
        r.end - r.start
    } else {
        0
    }
}

/// The `[stack]` line of `/proc/self/maps`.
fn stack_mapping(maps: &str) -> Option<Range> {
    maps.lines()
        .find(|l| l.ends_with("[stack]"))
        .and_then(|l| parse_range(l.split_whitespace().next()?))
}

fn parse_range(text: &str) -> Option<Range> {
    let (a, b) = text.split_once('-')?;
    Some(Range {
        start: usize::from_str_radix(a, 16).ok()?,
        end: usize::from_str_radix(b, 16).ok()?,
    })
}

/// From `/proc/self/smaps` text: the mappings of `exe` without `w` permission whose
/// `Anonymous` is 0 kB, i.e. no page was copied on write (RELRO after its relocations is).
/// `Private_Dirty` is no test: a freshly written binary's page-cache pages are dirty too.
pub fn clean_readonly_mappings(smaps: &str, exe: &str) -> Vec<Range> {
    let mut out = Vec::new();
    // (range, candidate) of the mapping whose fields are being read.
    let mut current: Option<(Range, bool)> = None;
    let mut finish = |current: &mut Option<(Range, bool)>| {
        if let Some((r, true)) = current.take() {
            out.push(r);
        }
    };
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some(range) = first.contains('-').then(|| parse_range(first)).flatten() {
            finish(&mut current);
            let perms = words.next().unwrap_or("");
            let path = line.split_whitespace().nth(5).unwrap_or("");
            let candidate = !perms.contains('w') && perms.starts_with('r') && path == exe;
            current = Some((range, candidate));
        } else if let Some((_, candidate)) = current.as_mut() {
            let value = words.next().unwrap_or("");
            if first == "Anonymous:" && value != "0" {
                *candidate = false;
            }
        }
    }
    finish(&mut current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
555555554000-555555560000 r--p 00000000 fd:00 42 /usr/sbin/wrend
Size:                 48 kB
Rss:                  48 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
555555560000-555555660000 r-xp 0000c000 fd:00 42 /usr/sbin/wrend
Size:               1024 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
555555660000-555555670000 r--p 0010c000 fd:00 42 /usr/sbin/wrend
Size:                 64 kB
Private_Dirty:        12 kB
Anonymous:            12 kB
555555670000-555555672000 rw-p 0011c000 fd:00 42 /usr/sbin/wrend
Private_Dirty:         0 kB
Anonymous:             0 kB
7ffff7fc0000-7ffff7fc4000 r-xp 00000000 fd:00 43 /usr/lib/other.so
Private_Dirty:         0 kB
Anonymous:             0 kB
7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]
Private_Dirty:        88 kB
";

    #[test]
    fn only_clean_readonly_mappings_of_the_executable_are_chosen() {
        let got = clean_readonly_mappings(SMAPS, "/usr/sbin/wrend");
        assert_eq!(
            got,
            vec![
                Range {
                    start: 0x5555_5555_4000,
                    end: 0x5555_5556_0000
                },
                Range {
                    start: 0x5555_5556_0000,
                    end: 0x5555_5566_0000
                },
            ],
            "text and rodata; not RELRO (dirty), data (writable) or another file"
        );
        assert!(clean_readonly_mappings(SMAPS, "/usr/sbin/other").is_empty());
        assert!(clean_readonly_mappings("garbage\n-\n", "x").is_empty());
    }

    #[test]
    fn the_stack_line_is_found() {
        assert_eq!(
            stack_mapping(SMAPS),
            Some(Range {
                start: 0x7fff_fffd_e000,
                end: 0x7fff_ffff_f000
            })
        );
    }

    /// In this very process: releasing the test binary's clean mappings leaves it running
    /// and its code and constants intact (they come back from the page cache).
    #[cfg(target_os = "linux")]
    #[test]
    fn releasing_this_process_keeps_it_working() {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let ranges = clean_readonly_mappings(&smaps, &exe.to_string_lossy());
        assert!(
            !ranges.is_empty(),
            "the test binary has a clean text mapping"
        );
        let constant: &'static str = "a constant from read-only data";
        for r in &ranges {
            assert!(dont_need(*r), "madvise refused {r:?}");
        }
        assert_eq!(constant.len(), 30);
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
