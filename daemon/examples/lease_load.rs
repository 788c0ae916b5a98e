//! Times the start-up lease-file load the way `wrend` does it (fresh table storage,
//! `engine_glue::open_lease_file`, then the statistics recount), repeated, printing CPU
//! milliseconds per load:
//!
//! ```sh
//! cargo run --release --example lease_load -- CONFIG [ROUNDS]
//! perf record -F 20000 -g target/release/examples/lease_load CONFIG 20
//! ```
//!
//! A profiling aid (tests/bench/README.md, "Profiling"); not part of the daemon.

use std::path::Path;
use std::time::Duration;

use wrend::{config_load, engine_glue};

fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: lease_load CONFIG [ROUNDS]");
    let rounds: usize = args.next().map_or(10, |r| r.parse().expect("ROUNDS"));
    let path = Path::new(&path);
    let text = std::fs::read_to_string(path).expect("config");
    let mut times = Vec::new();
    for _ in 0..rounds {
        let t0 = cpu_time();
        let mut storage = config_load::allocate(path, &text).expect("config");
        let mut warnings = Vec::new();
        let config = config_load::parse(path, &text, &mut storage, &mut warnings).expect("config");
        let mut table = engine_glue::OwnedLeaseTable::for_config(&config).expect("table");
        let (_file, report) = engine_glue::open_lease_file(&config, table.table()).expect("load");
        let mut stats = None;
        wrend::control::fit_stats(&mut stats, &config, table.table());
        let spent = cpu_time() - t0;
        println!(
            "{} leases, {} rows: {:.2} ms CPU",
            report.leases,
            report.rows,
            spent.as_secs_f64() * 1e3
        );
        times.push(spent);
    }
    times.sort();
    if let (Some(min), Some(median)) = (times.first(), times.get(times.len() / 2)) {
        println!(
            "min {:.2} ms, median {:.2} ms",
            min.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3
        );
    }
}
