//! kea-dhcp4's command line (kea-config.md §4), so wrend drops into scripts and service
//! files written for Kea: `-c FILE` run, `-t FILE` check, `-d` debug, `-v`/`-V`/`-W`
//! version and build reports, `-p`/`-P` port overrides.
//!
//! wren additions, none of which Kea has (so Kea command lines keep their meaning):
//! `-u user` / `-g group` drop privileges once the sockets are open, `-C` enters Capsicum
//! capability mode (FreeBSD), `-D` runs in the background with a locked PID file, `-f file`
//! names that PID file ([`crate::sandbox`], [`crate::daemonize`]; the rc.d script uses them).
//!
//! Parsed by hand in getopt's manner (Kea uses `getopt(argc, argv, "dvVWc:p:P:t:")`):
//! flags may be clustered (`-dc FILE`), an option's value may be attached (`-cFILE`) or
//! the next argument, and `--` ends the options. Anything left over is an error, as in Kea
//! ("extraneous command line information").

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// The DHCPv4 server port (RFC 2131 §4.1).
pub const DEFAULT_SERVER_PORT: u16 = 67;
/// The DHCPv4 client port (RFC 2131 §4.1).
pub const DEFAULT_CLIENT_PORT: u16 = 68;

/// Kea's usage text, printed on stderr with exit status 1 after any command-line error.
pub const USAGE: &str = "\
Usage: wrend -[v|V|W] [-d] [-{c|t} cfgfile] [-p number] [-P number]
  -v: print version number and exit
  -V: print extended version information and exit
  -W: display the configuration report and exit
  -d: debug mode with extra verbosity (former -v)
  -c file: specify configuration file
  -t file: check the configuration file syntax and exit
  -p number: specify non-standard server port number 1-65535 (useful for testing only)
  -P number: specify non-standard client port number 1-65535 (useful for testing only)
  -u user: run as this user once sockets and files are open (wren)
  -g group: run as this group (default: the user's group) (wren)
  -C: enter Capsicum capability mode after start-up, FreeBSD only (wren)
  -D: run in the background; exit once the server is up or has failed (wren)
  -f file: PID file (default: Kea's <runstatedir>/kea/<config>.kea-dhcp4.pid) (wren)
";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-c FILE`: serve.
    Run(Options),
    /// `-t FILE`: check the configuration and exit 0 (valid) or 1.
    Check(Options),
    /// `-v`: print the version.
    Version,
    /// `-V`: print the extended version.
    ExtendedVersion,
    /// `-W`: print the build configuration report.
    BuildReport,
}

/// Settings shared by [`Command::Run`] and [`Command::Check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The Kea `Dhcp4` configuration file.
    pub config_file: PathBuf,
    /// `-d`: stay in the foreground and log at DEBUG level 99 (Kea's meaning of `-d`).
    pub debug: bool,
    /// `-p`: the UDP port the server listens on (67).
    pub server_port: u16,
    /// `-P`: the UDP port replies to clients go to (68).
    pub client_port: u16,
    /// `-u`, `-g`, `-C`: what to give up after start-up.
    pub sandbox: crate::sandbox::Policy,
    /// `-D`: fork into the background.
    pub daemonize: bool,
    /// `-f`: the PID file, instead of Kea's path.
    pub pid_file: Option<PathBuf>,
}

/// Why the command line was refused. Each message matches the sense of Kea's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// A flag Kea does not have.
    UnknownFlag(String),
    /// `-c`, `-t`, `-p` or `-P` as the last argument.
    MissingValue(char),
    /// A port that is not a number in 1..=65535.
    BadPort {
        /// `p` or `P`.
        flag: char,
        /// The text given.
        value: String,
    },
    /// Neither `-c` nor `-t` (nor a version flag) was given.
    NoConfigFile,
    /// Arguments after the options.
    Extraneous(String),
    /// An argument that is not valid UTF-8 where text is needed.
    NotUnicode,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::UnknownFlag(flag) => write!(f, "unknown option: {flag}"),
            CliError::MissingValue(flag) => write!(f, "option -{flag} requires an argument"),
            CliError::BadPort { flag, value } => {
                let which = if *flag == 'p' { "server" } else { "client" };
                write!(
                    f,
                    "{which} port number must be in range 1-65535, got '{value}'"
                )
            }
            CliError::NoConfigFile => f.write_str("configuration file name not specified"),
            CliError::Extraneous(arg) => write!(f, "extraneous command line information: {arg}"),
            CliError::NotUnicode => f.write_str("argument is not valid UTF-8"),
        }
    }
}

impl std::error::Error for CliError {}

/// Parses the arguments after the program name.
///
/// Like Kea, `-v`, `-V` and `-W` win over everything else on the line (Kea prints and exits
/// as soon as getopt returns them), and when both `-c` and `-t` are given the last file wins
/// while `-t` keeps the check mode.
pub fn parse<I>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = OsString>,
{
    let mut args = args.into_iter();
    let mut debug = false;
    let mut check = false;
    let mut config_file: Option<PathBuf> = None;
    let mut server_port = DEFAULT_SERVER_PORT;
    let mut client_port = DEFAULT_CLIENT_PORT;
    let mut sandbox = crate::sandbox::Policy::default();
    let mut daemonize = false;
    let mut pid_file: Option<PathBuf> = None;

    while let Some(arg) = args.next() {
        let text = arg.to_str().ok_or(CliError::NotUnicode)?;
        if text == "--" {
            if let Some(rest) = args.next() {
                return Err(CliError::Extraneous(rest.to_string_lossy().into_owned()));
            }
            break;
        }
        let Some(cluster) = text.strip_prefix('-').filter(|c| !c.is_empty()) else {
            return Err(CliError::Extraneous(text.to_owned()));
        };
        for (position, flag) in cluster.char_indices() {
            match flag {
                'v' => return Ok(Command::Version),
                'V' => return Ok(Command::ExtendedVersion),
                'W' => return Ok(Command::BuildReport),
                'd' => debug = true,
                'C' => sandbox.capability_mode = true,
                'D' => daemonize = true,
                'c' | 't' | 'p' | 'P' | 'u' | 'g' | 'f' => {
                    // getopt: the value is the rest of this argument, else the next one.
                    let attached = cluster.get(position + flag.len_utf8()..).unwrap_or("");
                    let value: OsString = if attached.is_empty() {
                        args.next().ok_or(CliError::MissingValue(flag))?
                    } else {
                        OsString::from(attached)
                    };
                    match flag {
                        'c' => config_file = Some(PathBuf::from(value)),
                        't' => {
                            check = true;
                            config_file = Some(PathBuf::from(value));
                        }
                        'p' => server_port = parse_port(flag, &value)?,
                        'u' => sandbox.user = Some(text_value(&value)?),
                        'g' => sandbox.group = Some(text_value(&value)?),
                        'f' => pid_file = Some(PathBuf::from(value)),
                        _ => client_port = parse_port(flag, &value)?,
                    }
                    break;
                }
                other => return Err(CliError::UnknownFlag(format!("-{other}"))),
            }
        }
    }

    let config_file = config_file.ok_or(CliError::NoConfigFile)?;
    let options = Options {
        config_file,
        debug,
        server_port,
        client_port,
        sandbox,
        daemonize,
        pid_file,
    };
    Ok(if check {
        Command::Check(options)
    } else {
        Command::Run(options)
    })
}

fn text_value(value: &OsString) -> Result<String, CliError> {
    value
        .to_str()
        .map(str::to_owned)
        .ok_or(CliError::NotUnicode)
}

fn parse_port(flag: char, value: &OsString) -> Result<u16, CliError> {
    let text = value.to_string_lossy();
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(CliError::BadPort {
            flag,
            value: text.into_owned(),
        }),
    }
}

/// `-v` output: the version alone, as Kea prints it.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// `-V` output.
pub fn extended_version() -> String {
    format!(
        "{} (wren {}, a drop-in for kea-dhcp4 2.2)\nlinked with: wren-core {} (no_std engine)\nlease backend: memfile (Kea CSV)",
        version(),
        version(),
        version(),
    )
}

/// `-W` output: the build configuration report.
pub fn build_report() -> String {
    format!(
        "wren {}\ntarget: {}-{}\nprofile: {}\nsockets: {}\n",
        version(),
        std::env::consts::ARCH,
        std::env::consts::OS,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        if cfg!(target_os = "freebsd") {
            "bpf + udp"
        } else {
            "packet + udp"
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, CliError> {
        parse(args.iter().map(OsString::from))
    }

    fn options(file: &str) -> Options {
        Options {
            config_file: PathBuf::from(file),
            debug: false,
            server_port: 67,
            client_port: 68,
            sandbox: crate::sandbox::Policy::default(),
            daemonize: false,
            pid_file: None,
        }
    }

    #[test]
    fn wren_service_flags() {
        let mut o = options("/usr/local/etc/wren/wrend.conf");
        o.sandbox.user = Some("wrend".into());
        o.sandbox.group = Some("wrend".into());
        o.daemonize = true;
        o.pid_file = Some(PathBuf::from("/var/run/wrend.pid"));
        // As the rc.d script writes it.
        assert_eq!(
            run(&[
                "-D",
                "-f",
                "/var/run/wrend.pid",
                "-u",
                "wrend",
                "-g",
                "wrend",
                "-c",
                "/usr/local/etc/wren/wrend.conf"
            ]),
            Ok(Command::Run(o.clone()))
        );
        o.sandbox.capability_mode = true;
        assert_eq!(
            run(&[
                "-CDf/var/run/wrend.pid",
                "-uwrend",
                "-gwrend",
                "-c/usr/local/etc/wren/wrend.conf"
            ]),
            Ok(Command::Run(o))
        );
        assert_eq!(run(&["-c", "a", "-u"]), Err(CliError::MissingValue('u')));
        assert_eq!(run(&["-c", "a", "-g"]), Err(CliError::MissingValue('g')));
        assert_eq!(run(&["-c", "a", "-f"]), Err(CliError::MissingValue('f')));
    }

    #[test]
    fn config_file_runs() {
        assert_eq!(run(&["-c", "a.conf"]), Ok(Command::Run(options("a.conf"))));
    }

    #[test]
    fn attached_value_and_clusters() {
        assert_eq!(run(&["-ca.conf"]), Ok(Command::Run(options("a.conf"))));
        let mut debug = options("a.conf");
        debug.debug = true;
        assert_eq!(run(&["-dc", "a.conf"]), Ok(Command::Run(debug.clone())));
        assert_eq!(run(&["-dca.conf"]), Ok(Command::Run(debug)));
    }

    #[test]
    fn check_mode() {
        assert_eq!(
            run(&["-t", "x.json"]),
            Ok(Command::Check(options("x.json")))
        );
        // -t anywhere selects the check; the last file wins.
        assert_eq!(
            run(&["-t", "x.json", "-c", "y.json"]),
            Ok(Command::Check(options("y.json")))
        );
    }

    #[test]
    fn ports() {
        let mut o = options("a");
        o.server_port = 1067;
        o.client_port = 1068;
        assert_eq!(
            run(&["-p", "1067", "-c", "a", "-P1068"]),
            Ok(Command::Run(o))
        );
    }

    #[test]
    fn bad_ports() {
        for bad in ["0", "65536", "x", "-1", ""] {
            assert_eq!(
                run(&["-c", "a", "-p", bad]),
                Err(CliError::BadPort {
                    flag: 'p',
                    value: bad.to_owned()
                }),
                "{bad}"
            );
        }
        assert!(matches!(
            run(&["-c", "a", "-P", "70000"]),
            Err(CliError::BadPort { flag: 'P', .. })
        ));
    }

    #[test]
    fn version_flags_win() {
        assert_eq!(run(&["-v"]), Ok(Command::Version));
        assert_eq!(run(&["-c", "a", "-V"]), Ok(Command::ExtendedVersion));
        assert_eq!(run(&["-dW"]), Ok(Command::BuildReport));
    }

    #[test]
    fn errors() {
        assert_eq!(run(&[]), Err(CliError::NoConfigFile));
        assert_eq!(run(&["-d"]), Err(CliError::NoConfigFile));
        assert_eq!(run(&["-x"]), Err(CliError::UnknownFlag("-x".into())));
        assert_eq!(
            run(&["--config", "a"]),
            Err(CliError::UnknownFlag("--".into()))
        );
        assert_eq!(run(&["-c"]), Err(CliError::MissingValue('c')));
        assert_eq!(run(&["-t"]), Err(CliError::MissingValue('t')));
        assert_eq!(
            run(&["-c", "a", "extra"]),
            Err(CliError::Extraneous("extra".into()))
        );
        assert_eq!(
            run(&["-c", "a", "--", "extra"]),
            Err(CliError::Extraneous("extra".into()))
        );
        assert_eq!(run(&["-"]), Err(CliError::Extraneous("-".into())));
    }

    #[test]
    fn double_dash_alone_ends_options() {
        assert_eq!(run(&["-c", "a", "--"]), Ok(Command::Run(options("a"))));
    }
}
