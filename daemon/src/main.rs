//! wrend: flags → build → run (kea-config.md §4). Everything else is in the library.

use std::process::ExitCode;

use wrend::cli::{self, Command};
use wrend::daemonize;
use wrend::service;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("wrend: {e}");
            eprint!("{}", cli::USAGE);
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Version => println!("{}", cli::version()),
        Command::ExtendedVersion => println!("{}", cli::extended_version()),
        Command::BuildReport => print!("{}", cli::build_report()),
        Command::Check(options) => match service::check(&options) {
            Ok(warnings) => {
                for w in warnings {
                    eprintln!("warning: {w}");
                }
            }
            Err(e) => {
                // Kea prints this on stdout (kea-config.md §4).
                println!("Syntax check failed with: {e}");
                return ExitCode::FAILURE;
            }
        },
        Command::Run(options) => {
            // [freebsd branch] -D: lock the PID file and fork; only the child returns.
            if options.daemonize {
                if let Err(e) = daemonize::daemonize(&daemonize::pid_file_path(&options)) {
                    eprintln!("wrend: {e}");
                    return ExitCode::FAILURE;
                }
            }
            if let Err(e) = service::serve(&options) {
                log::error!("DHCP4_INIT_FAIL failed to initialize Kea server: {e}");
                eprintln!("wrend: {e}");
                daemonize::notify_failure(&e.to_string()); // [freebsd branch]
                return ExitCode::FAILURE;
            }
            daemonize::finish(); // [freebsd branch] remove the -D PID file
        }
    }
    ExitCode::SUCCESS
}
