//! The control listeners a config asks for, read from the config text (the core parser
//! checks the shape and keeps only the unix socket's name; the HTTP details are the
//! daemon's business).
//!
//! Kea 3.x: `"control-sockets": [ { "socket-type": "unix" | "http", … } ]`; Kea 2.2:
//! `"control-socket": { … }`, read as a one-element list. wren keys in an entry:
//! - `"wren-allow-unauthenticated": true` — serve HTTP on a non-loopback address without
//!   an `authentication` block (otherwise refused at start: anyone on that network could
//!   `config-set` the server);
//! - `"wren-auto-persist": true` — after every successful `subnet4-*`/`reservation-*`
//!   command, write the config file (as `config-write` does) so the change survives a
//!   restart. Kea keeps such changes in memory only; the default follows Kea;
//! - `"wren-max-request-bytes": N` — the largest request body accepted (413 beyond; default
//!   [`super::http::Limits::DEFAULT`]'s 32 MiB), for a `config-set` larger than that or a
//!   board that wants a tighter bound. The largest value on any entry applies.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use wren_core::control::edit;
use wren_core::control::{Node, Value};

use super::auth::{BasicAuth, Credential};

/// One listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listener {
    /// A unix stream socket at this path.
    Unix(PathBuf),
    /// HTTP on this address, with optional Basic authentication.
    Http {
        /// Address and port.
        address: SocketAddr,
        /// `authentication`.
        auth: Option<BasicAuth>,
    },
}

/// Every listener and the wren options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ControlSettings {
    /// The listeners, in config order.
    pub listeners: Vec<Listener>,
    /// `wren-auto-persist` on any entry.
    pub auto_persist: bool,
    /// `wren-max-request-bytes` (the largest on any entry).
    pub max_request_bytes: Option<usize>,
}

fn str_of(v: Option<Value<'_>>) -> Option<String> {
    match v {
        Some(Value::Str(s)) => {
            let mut buf = vec![0u8; s.0.len() + 4];
            Some(s.unescape(&mut buf).unwrap_or(s.0).to_owned())
        }
        _ => None,
    }
}

fn read_file(directory: &Path, name: &str) -> Result<String, String> {
    let path = directory.join(name);
    std::fs::read_to_string(&path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn authentication(node: Node<'_>) -> Result<BasicAuth, String> {
    match str_of(node.get("type")).as_deref() {
        Some("basic") => {}
        other => {
            return Err(format!(
                "unsupported 'type' {other:?} in authentication (only 'basic')"
            ))
        }
    }
    let realm = str_of(node.get("realm")).unwrap_or_else(|| "kea-control-agent".to_owned());
    let directory = PathBuf::from(str_of(node.get("directory")).unwrap_or_default());
    let mut clients = Vec::new();
    if let Some(Value::List(list)) = node.get("clients") {
        for item in list.items() {
            let (Value::Map(c), _) = item else {
                return Err("authentication 'clients' entries must be maps".into());
            };
            let user = match (str_of(c.get("user")), str_of(c.get("user-file"))) {
                (Some(u), _) => u,
                (None, Some(f)) => read_file(&directory, &f)?,
                (None, None) => String::new(),
            };
            let password = match (str_of(c.get("password")), str_of(c.get("password-file"))) {
                (Some(p), _) => p,
                (None, Some(f)) => {
                    let text = read_file(&directory, &f)?;
                    // Kea: a password-file without user holds "user:password".
                    if c.get("user").is_none() && c.get("user-file").is_none() {
                        if let Some((u, p)) = text.split_once(':') {
                            clients.push(Credential::new(u, p));
                            continue;
                        }
                    }
                    text
                }
                (None, None) => String::new(),
            };
            if user.contains(':') {
                return Err(format!("user '{user}' must not contain ':'"));
            }
            clients.push(Credential::new(&user, &password));
        }
    }
    Ok(BasicAuth { realm, clients })
}

impl ControlSettings {
    /// Reads the listeners from a config text (already accepted by the config parser).
    pub fn from_text(text: &str) -> Result<ControlSettings, String> {
        let dhcp4 = edit::dhcp4_map(text).map_err(|e| e.to_string())?;
        let mut entries = Vec::new();
        if let Some(Value::Map(m)) = dhcp4.get("control-socket") {
            entries.push(m);
        }
        if let Some(Value::List(l)) = dhcp4.get("control-sockets") {
            entries.extend(l.items().filter_map(|v| match v {
                (Value::Map(m), _) => Some(m),
                _ => None,
            }));
        }
        let mut settings = ControlSettings::default();
        for e in entries {
            if e.get("wren-auto-persist") == Some(Value::Bool(true)) {
                settings.auto_persist = true;
            }
            match e.get("wren-max-request-bytes") {
                None => {}
                Some(Value::Int(n)) if n >= 1024 && usize::try_from(n).is_ok() => {
                    let n = n as usize;
                    settings.max_request_bytes =
                        Some(settings.max_request_bytes.map_or(n, |m| m.max(n)));
                }
                Some(_) => {
                    return Err("wren-max-request-bytes must be an integer of at least 1024".into())
                }
            }
            match str_of(e.get("socket-type")).as_deref() {
                Some("http") => {
                    let address =
                        str_of(e.get("socket-address")).unwrap_or_else(|| "127.0.0.1".to_owned());
                    let ip: IpAddr = address
                        .parse()
                        .map_err(|_| format!("bad socket-address '{address}'"))?;
                    let port = match e.get("socket-port") {
                        Some(Value::Int(p)) if (0..=65535).contains(&p) => p as u16,
                        None => 8000,
                        Some(_) => return Err("bad socket-port".into()),
                    };
                    let auth = match e.get("authentication") {
                        Some(Value::Map(a)) => Some(authentication(a)?),
                        _ => None,
                    };
                    let allow_open = e.get("wren-allow-unauthenticated") == Some(Value::Bool(true));
                    if auth.is_none() && !ip.is_loopback() {
                        if !allow_open {
                            return Err(format!(
                                "control socket http://{address}:{port} is not on a loopback address and has no 'authentication': refusing to serve the control API unauthenticated (add an 'authentication' block, or set \"wren-allow-unauthenticated\": true in that control socket to accept the risk)"
                            ));
                        }
                        log::warn!(
                            "WREN_CONTROL_UNAUTHENTICATED control API on http://{address}:{port} without authentication (wren-allow-unauthenticated)"
                        );
                    }
                    settings.listeners.push(Listener::Http {
                        address: SocketAddr::new(ip, port),
                        auth,
                    });
                }
                _ => {
                    if let Some(name) = str_of(e.get("socket-name")) {
                        settings.listeners.push(Listener::Unix(PathBuf::from(name)));
                    }
                }
            }
        }
        Ok(settings)
    }
}

/// The loopback address, for tests.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<ControlSettings, String> {
        ControlSettings::from_text(&format!("{{ \"Dhcp4\": {{ {body} }} }}"))
    }

    #[test]
    fn singular_unix_socket_is_a_one_element_list() {
        let s =
            read(r#""control-socket": { "socket-type": "unix", "socket-name": "/run/k.sock" }"#)
                .unwrap();
        assert_eq!(s.listeners, vec![Listener::Unix("/run/k.sock".into())]);
        assert!(!s.auto_persist);
    }

    #[test]
    fn http_entry_defaults_and_authentication() {
        let s = read(
            r#""control-sockets": [ { "socket-type": "http", "socket-port": 8080, "wren-auto-persist": true,
               "authentication": { "type": "basic", "realm": "r", "clients": [ { "user": "a", "password": "b" } ] } } ]"#,
        )
        .unwrap();
        assert!(s.auto_persist);
        let [Listener::Http {
            address,
            auth: Some(auth),
        }] = s.listeners.as_slice()
        else {
            panic!("{s:?}")
        };
        assert_eq!(*address, SocketAddr::new(IpAddr::V4(LOOPBACK), 8080));
        assert_eq!(auth.realm, "r");
        assert_eq!(auth.clients, vec![Credential::new("a", "b")]);
    }

    #[test]
    fn max_request_bytes_takes_the_largest_and_refuses_nonsense() {
        assert_eq!(
            read(r#""control-socket": { "socket-type": "unix", "socket-name": "/k" }"#)
                .unwrap()
                .max_request_bytes,
            None
        );
        let s = read(
            r#""control-sockets": [ { "socket-type": "unix", "socket-name": "/k", "wren-max-request-bytes": 2048 },
               { "socket-type": "http", "socket-port": 8080, "wren-max-request-bytes": 67108864 } ]"#,
        )
        .unwrap();
        assert_eq!(s.max_request_bytes, Some(64 * 1024 * 1024));
        for bad in ["0", "1023", "-5", "\"big\"", "1.5"] {
            let e = read(&format!(
                r#""control-socket": {{ "socket-type": "unix", "socket-name": "/k", "wren-max-request-bytes": {bad} }}"#
            ))
            .unwrap_err();
            assert!(e.contains("wren-max-request-bytes"), "{bad}: {e}");
        }
    }

    #[test]
    fn open_http_on_a_routable_address_needs_the_opt_in() {
        let e = read(r#""control-sockets": [ { "socket-type": "http", "socket-address": "198.18.0.1", "socket-port": 8080 } ]"#)
            .unwrap_err();
        assert!(e.contains("wren-allow-unauthenticated"), "{e}");
        let s = read(r#""control-sockets": [ { "socket-type": "http", "socket-address": "198.18.0.1", "socket-port": 8080, "wren-allow-unauthenticated": true } ]"#)
            .unwrap();
        assert_eq!(s.listeners.len(), 1);
    }

    #[test]
    fn password_file_is_read_from_the_directory() {
        let dir = std::env::temp_dir().join(format!("wren-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw"), "secret\n").unwrap();
        let s = read(&format!(
            r#""control-sockets": [ {{ "socket-type": "http", "authentication": {{ "type": "basic", "directory": "{}",
               "clients": [ {{ "user": "admin", "password-file": "pw" }} ] }} }} ]"#,
            dir.display()
        ))
        .unwrap();
        let [Listener::Http {
            auth: Some(auth), ..
        }] = s.listeners.as_slice()
        else {
            panic!()
        };
        assert_eq!(auth.clients, vec![Credential::new("admin", "secret")]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
