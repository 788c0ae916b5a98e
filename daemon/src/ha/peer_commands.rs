//! The HA commands answered on the control listeners (kea-ha.md §5): what the partner sends
//! (`ha-heartbeat`, `ha-sync-complete-notify`, `ha-reset`, `ha-maintenance-notify`) and
//! what an administrator sends (`ha-scopes`, `ha-continue`, `ha-maintenance-start`,
//! `ha-maintenance-cancel`, `ha-sync` — answered once the sync is over), plus the `"high-availability"` part of
//! `status-get`. `lease4-update`, `lease4-del`, `lease4-get-page`, `dhcp-disable` and
//! `dhcp-enable` from the partner are ordinary control commands (the core's): a lease the
//! partner sends is stored and written to the lease file, and never sent back.

use wren_core::control::json_in::{parse_document, Node, Value};
use wren_core::control::json_out::JsonOut;
use wren_core::ha::load_balance::Scopes;
use wren_core::ha::{admin_sync, commands};

use super::Shared;
use crate::control::CommandHook;

/// The hook installed in the control server.
pub struct HaCommands {
    ha: Shared,
    buf: Vec<u8>,
    /// The command just taken (`ha-sync`, `ha-maintenance-start`) is answered later,
    /// under this ticket.
    deferred: Option<u64>,
}

impl HaCommands {
    /// Answers for `ha`.
    pub fn new(ha: Shared) -> HaCommands {
        HaCommands {
            ha,
            buf: vec![0; 16 * 1024],
            deferred: None,
        }
    }
}

/// `[ X ]` (the list shape the core writes for peers) → `X` (one answer object).
fn unwrap_list(bytes: &[u8]) -> &[u8] {
    let trimmed = bytes.trim_ascii();
    match trimmed
        .strip_prefix(b"[")
        .and_then(|t| t.strip_suffix(b"]"))
    {
        Some(inner) => inner.trim_ascii(),
        None => trimmed,
    }
}

fn status(out: &mut Vec<u8>, buf: &mut [u8], result: u16, text: &str) {
    let n = commands::status_reply(buf, result, text).unwrap_or(0);
    out.extend_from_slice(unwrap_list(buf.get(..n).unwrap_or(&[])));
}

/// The command name and arguments of a request body.
fn command_of(body: &str) -> Option<(&str, Option<Node<'_>>)> {
    let Ok(Value::Map(m)) = parse_document(body) else {
        return None;
    };
    let Some(Value::Str(name)) = m.get("command") else {
        return None;
    };
    let args = match m.get("arguments") {
        Some(Value::Map(a)) => Some(a),
        _ => None,
    };
    Some((name.plain()?, args))
}

impl CommandHook for HaCommands {
    fn command(&mut self, body: &[u8], out: &mut Vec<u8>) -> bool {
        let Ok(text) = std::str::from_utf8(body) else {
            return false;
        };
        let Some((name, args)) = command_of(text) else {
            return false;
        };
        let mut rt = self.ha.borrow_mut();
        let now = rt.now_ms();
        let buf = &mut self.buf;
        match name {
            "ha-heartbeat" => {
                let n = commands::heartbeat_reply(buf, rt.service(), super::wall_clock().0)
                    .unwrap_or(0);
                out.extend_from_slice(unwrap_list(buf.get(..n).unwrap_or(&[])));
            }
            "ha-sync-complete-notify" => {
                let t = rt.service_mut().ha_sync_complete_notify();
                status(out, buf, 0, t);
            }
            "ha-reset" => {
                let t = rt.service_mut().ha_reset(now);
                status(out, buf, 0, t);
            }
            "ha-continue" => {
                let t = rt.service_mut().ha_continue(now);
                status(out, buf, 0, t);
            }
            "ha-maintenance-notify" => {
                let cancel = match args.and_then(|a| a.get("cancel")) {
                    Some(Value::Bool(b)) => b,
                    None => false,
                    Some(_) => {
                        status(out, buf, 1, "'cancel' must be a boolean");
                        return true;
                    }
                };
                match rt.service_mut().ha_maintenance_notify(cancel) {
                    Ok(t) => status(out, buf, 0, t),
                    Err(r) => status(out, buf, r.result, r.text),
                }
            }
            "ha-scopes" => {
                let Some(Value::List(list)) = args.and_then(|a| a.get("scopes")) else {
                    status(
                        out,
                        buf,
                        1,
                        "'scopes' is mandatory for the 'ha-scopes' command",
                    );
                    return true;
                };
                let mut scopes = Scopes::NONE;
                for (v, _) in list.items() {
                    let Value::Str(s) = v else {
                        status(
                            out,
                            buf,
                            1,
                            "scope name must be a string in the 'scopes' argument",
                        );
                        return true;
                    };
                    let name = s.plain().unwrap_or(s.0);
                    match rt.service().scope_index(name) {
                        Some(0) => scopes.primary = true,
                        Some(_) => scopes.secondary = true,
                        None => {
                            let t = format!(
                                "invalid server name specified '{name}' while enabling/disabling HA scopes"
                            );
                            status(out, buf, 1, &t);
                            return true;
                        }
                    }
                }
                let t = rt.service_mut().ha_scopes(scopes);
                status(out, buf, 0, t);
            }
            "ha-maintenance-start" => match rt.service().ha_maintenance_start() {
                Err(r) => status(out, buf, r.result, r.text),
                // Kea answers once the partner answered the notify (kea-ha.md §5); the
                // answer is deferred to then (`poll_deferred`).
                Ok(()) => match rt.start_maintenance() {
                    Ok(ticket) => self.deferred = Some(ticket),
                    Err(text) => status(out, buf, 1, text),
                },
            },
            "ha-maintenance-cancel" => match rt.service().ha_maintenance_cancel() {
                Err(r) => status(out, buf, r.result, r.text),
                Ok(()) => {
                    let _ = rt.send_maintenance_notify(true);
                    let t = rt.service_mut().on_maintenance_cancel_sent(now);
                    status(out, buf, 0, t);
                }
            },
            "ha-sync" => {
                // kea-ha.md §5: the answer comes when the sync is over (`poll_deferred`);
                // the loop keeps serving DHCP and the other connections meanwhile.
                let request = admin_sync::parse_ha_sync(args, rt.service().config())
                    .and_then(|r| rt.start_admin_sync(&r));
                match request {
                    Ok(ticket) => self.deferred = Some(ticket),
                    Err(e) => status(out, buf, 1, &e.to_string()),
                }
            }
            _ => return false,
        }
        true
    }

    fn take_deferred(&mut self) -> Option<u64> {
        self.deferred.take()
    }

    fn poll_deferred(&mut self, out: &mut Vec<u8>) -> Option<u64> {
        let (ticket, result, text) = self.ha.borrow_mut().take_answer()?;
        status(out, &mut self.buf, result, text);
        Some(ticket)
    }

    fn amend(&mut self, body: &[u8], out: &mut Vec<u8>, start: usize) {
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        if command_of(text).map(|(n, _)| n) != Some("status-get") {
            return;
        }
        let rt = self.ha.borrow();
        let now = rt.now_ms();
        let mut w = JsonOut::new(&mut self.buf);
        let written = w
            .begin_object()
            .and_then(|_| w.key("high-availability"))
            .and_then(|_| commands::write_status_ha(&mut w, rt.service(), now))
            .and_then(|_| w.end_object());
        let chunk = w.finish();
        if written.is_err() || !chunk.done {
            return;
        }
        // `{ "high-availability": … }` → `"high-availability": …`, spliced first into the
        // answer's `arguments` map (keys stay in Kea's alphabetical order).
        let rendered = self.buf.get(..chunk.len).unwrap_or(&[]).trim_ascii();
        let Some(inner) = rendered
            .strip_prefix(b"{")
            .and_then(|t| t.strip_suffix(b"}"))
            .map(<[u8]>::trim_ascii)
        else {
            return;
        };
        let answer = out.get(start..).unwrap_or(&[]);
        const KEY: &[u8] = b"\"arguments\": {";
        let Some(at) = answer.windows(KEY.len()).position(|w| w == KEY) else {
            return;
        };
        let mut insert_at = start + at + KEY.len();
        while out.get(insert_at) == Some(&b' ') {
            insert_at += 1;
        }
        let empty_map = out.get(insert_at) == Some(&b'}');
        let mut piece = Vec::with_capacity(inner.len() + 4);
        if empty_map {
            piece.push(b' ');
        }
        piece.extend_from_slice(inner);
        piece.extend_from_slice(if empty_map { b" " } else { b", " });
        out.splice(insert_at..insert_at, piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_answers_become_objects() {
        assert_eq!(unwrap_list(b"[ { \"result\": 0 } ]"), b"{ \"result\": 0 }");
        assert_eq!(unwrap_list(b"{ \"result\": 0 }"), b"{ \"result\": 0 }");
    }

    #[test]
    fn command_names_and_arguments() {
        let (n, a) = command_of(
            r#"{ "command": "ha-scopes", "service": [ "dhcp4" ], "arguments": { "scopes": [] } }"#,
        )
        .unwrap();
        assert_eq!(n, "ha-scopes");
        assert!(a.is_some());
        assert_eq!(
            command_of(r#"{ "command": "ha-heartbeat" }"#).unwrap().0,
            "ha-heartbeat"
        );
        assert!(command_of("[ 1 ]").is_none());
        assert!(command_of(r#"{ "command": 7 }"#).is_none());
    }
}
