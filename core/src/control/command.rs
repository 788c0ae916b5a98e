//! Reading a control request: `{"command": "...", "service": ["dhcp4"], "arguments": {...}}`
//! (kea-control-api.md §1) into a [`Request`] with a typed [`Command`] and the arguments
//! left borrowed in the request text.

use super::json_in::{parse_document, JsonStr, Node, SyntaxError, Value};

macro_rules! commands {
    ($( $variant:ident = $name:literal, )*) => {
        /// Every command wren answers. Names in Kea's sorted order (`list-commands`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Command {
            $( #[doc = concat!("`", $name, "`")] $variant, )*
        }

        /// All commands, sorted by name.
        pub const COMMANDS: &[Command] = &[ $( Command::$variant, )* ];

        impl Command {
            /// The command's name on the wire.
            pub const fn name(self) -> &'static str {
                match self { $( Command::$variant => $name, )* }
            }

            /// The command called `name`.
            pub fn from_name(name: &str) -> Option<Command> {
                match name { $( $name => Some(Command::$variant), )* _ => None }
            }
        }
    };
}

commands! {
    BuildReport = "build-report",
    ConfigGet = "config-get",
    ConfigReload = "config-reload",
    ConfigSet = "config-set",
    ConfigTest = "config-test",
    ConfigWrite = "config-write",
    DhcpDisable = "dhcp-disable",
    DhcpEnable = "dhcp-enable",
    Lease4Add = "lease4-add",
    Lease4Del = "lease4-del",
    Lease4Get = "lease4-get",
    Lease4GetAll = "lease4-get-all",
    Lease4GetByClientId = "lease4-get-by-client-id",
    Lease4GetByHostname = "lease4-get-by-hostname",
    Lease4GetByHwAddress = "lease4-get-by-hw-address",
    Lease4GetPage = "lease4-get-page",
    Lease4ResendDdns = "lease4-resend-ddns",
    Lease4Update = "lease4-update",
    Lease4Wipe = "lease4-wipe",
    LeasesReclaim = "leases-reclaim",
    ListCommands = "list-commands",
    ReservationAdd = "reservation-add",
    ReservationDel = "reservation-del",
    ReservationGet = "reservation-get",
    ReservationGetAll = "reservation-get-all",
    ReservationGetPage = "reservation-get-page",
    ServerTagGet = "server-tag-get",
    Shutdown = "shutdown",
    StatLease4Get = "stat-lease4-get",
    StatisticGet = "statistic-get",
    StatisticGetAll = "statistic-get-all",
    StatisticRemove = "statistic-remove",
    StatisticRemoveAll = "statistic-remove-all",
    StatisticReset = "statistic-reset",
    StatisticResetAll = "statistic-reset-all",
    StatisticSampleAgeSet = "statistic-sample-age-set",
    StatisticSampleAgeSetAll = "statistic-sample-age-set-all",
    StatisticSampleCountSet = "statistic-sample-count-set",
    StatisticSampleCountSetAll = "statistic-sample-count-set-all",
    StatusGet = "status-get",
    Subnet4Add = "subnet4-add",
    Subnet4Del = "subnet4-del",
    Subnet4Get = "subnet4-get",
    Subnet4List = "subnet4-list",
    Subnet4Update = "subnet4-update",
    VersionGet = "version-get",
    WrenTrace = "wren-trace",
}

/// A well-formed request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request<'t> {
    /// The command.
    pub command: Command,
    /// The `arguments` map, if present.
    pub arguments: Option<Node<'t>>,
    /// The `service` list, if present (ignored by the DHCP server; the HTTP front end
    /// forwards per service).
    pub service: Option<Node<'t>>,
}

impl<'t> Request<'t> {
    /// The names listed in `service`.
    pub fn services(&self) -> impl Iterator<Item = JsonStr<'t>> + 't {
        self.service
            .into_iter()
            .flat_map(|n| n.items())
            .filter_map(|(v, _)| match v {
                Value::Str(s) => Some(s),
                _ => None,
            })
    }
}

/// Why a request was refused before any command ran. Each maps to Kea's reply.
#[derive(Clone, Debug, PartialEq)]
pub enum RequestError<'t> {
    /// The text is not JSON (Kea's dialect).
    Syntax(SyntaxError),
    /// The request is not a map.
    NotAMap,
    /// No `command` key.
    NoCommand,
    /// `command` is not a string.
    CommandNotAString,
    /// A top-level key other than `command`, `arguments`, `service`.
    UnsupportedParameter(JsonStr<'t>),
    /// `arguments` is not a map.
    ArgumentsNotAMap,
    /// `service` is not a list (kea-control-api.md §1: "service value must be a list").
    ServiceNotAList,
    /// A command wren does not know: result 2.
    Unsupported(JsonStr<'t>),
    /// The request bytes are not UTF-8 (JSON text must be, RFC 8259 §8.1).
    NotUtf8,
}

impl RequestError<'_> {
    /// Kea's result code: 2 for an unknown command, else 1.
    pub const fn result(&self) -> u16 {
        match self {
            RequestError::Unsupported(_) => super::RESULT_UNSUPPORTED,
            _ => super::RESULT_ERROR,
        }
    }
}

impl core::fmt::Display for RequestError<'_> {
    /// Kea's texts (`isc::config::parseCommand`, wrapped in "Error during command
    /// processing: "; unknown commands: "'xyz' command not supported.").
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const PREFIX: &str = "Error during command processing: ";
        match self {
            RequestError::Syntax(e) => write!(f, "{PREFIX}invalid JSON: {e}"),
            RequestError::NotAMap => {
                write!(f, "{PREFIX}Invalid command Element specified, expected map")
            }
            RequestError::NoCommand => write!(
                f,
                "{PREFIX}Invalid answer specified, does not contain mandatory 'command'"
            ),
            RequestError::CommandNotAString => write!(
                f,
                "{PREFIX}'command' element in command message is not a string"
            ),
            RequestError::UnsupportedParameter(k) => write!(
                f,
                "{PREFIX}Received command contains unsupported parameter '{}'",
                k.0
            ),
            RequestError::ArgumentsNotAMap => write!(
                f,
                "{PREFIX}'arguments' element in command message is not a map"
            ),
            RequestError::ServiceNotAList => write!(f, "service value must be a list"),
            RequestError::Unsupported(c) => write!(f, "'{}' command not supported.", c.0),
            RequestError::NotUtf8 => write!(f, "{PREFIX}invalid JSON: the text is not UTF-8"),
        }
    }
}

/// Parses request bytes as received from a socket.
pub fn parse_request_bytes(bytes: &[u8]) -> Result<Request<'_>, RequestError<'_>> {
    let text = core::str::from_utf8(bytes).map_err(|_| RequestError::NotUtf8)?;
    parse_request(text)
}

/// Parses a request. Comments are allowed (Kea's dialect).
pub fn parse_request(text: &str) -> Result<Request<'_>, RequestError<'_>> {
    let Value::Map(map) = parse_document(text).map_err(RequestError::Syntax)? else {
        return Err(RequestError::NotAMap);
    };
    let mut command = None;
    let mut arguments = None;
    let mut service = None;
    for (key, value, _) in map.entries() {
        if key.eq_str("command") {
            command = Some(value);
        } else if key.eq_str("arguments") {
            arguments = Some(value);
        } else if key.eq_str("service") {
            service = Some(value);
        } else {
            return Err(RequestError::UnsupportedParameter(key));
        }
    }
    let name = match command {
        None => return Err(RequestError::NoCommand),
        Some(Value::Str(s)) => s,
        Some(_) => return Err(RequestError::CommandNotAString),
    };
    let arguments = match arguments {
        None => None,
        Some(Value::Map(m)) => Some(m),
        Some(_) => return Err(RequestError::ArgumentsNotAMap),
    };
    let service = match service {
        None => None,
        Some(Value::List(l)) => Some(l),
        Some(_) => return Err(RequestError::ServiceNotAList),
    };
    let command = name
        .plain()
        .and_then(Command::from_name)
        .ok_or(RequestError::Unsupported(name))?;
    Ok(Request {
        command,
        arguments,
        service,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn names_are_sorted_and_round_trip() {
        for pair in COMMANDS.windows(2) {
            assert!(pair[0].name() < pair[1].name(), "{:?}", pair);
        }
        for c in COMMANDS {
            assert_eq!(Command::from_name(c.name()), Some(*c));
        }
    }

    #[test]
    fn seed_requests_parse() {
        let r =
            parse_request(r#"{ "command": "lease4-get-all",  "service": [ "dhcp4" ] }"#).unwrap();
        assert_eq!(r.command, Command::Lease4GetAll);
        assert!(r.arguments.is_none());
        assert_eq!(r.services().next(), Some(JsonStr("dhcp4")));
        let r = parse_request(
            "{ \n    \"command\": \"config-write\",\n    \"arguments\": {\n        \"filename\": \"/etc/kea/kea-dhcp4.conf\"\n    },\n    \"service\": [ \"dhcp4\" ]\n}",
        )
        .unwrap();
        assert_eq!(r.command, Command::ConfigWrite);
        assert_eq!(
            r.arguments.unwrap().get("filename"),
            Some(Value::Str(JsonStr("/etc/kea/kea-dhcp4.conf")))
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |t| format!("{}", parse_request(t).unwrap_err());
        assert_eq!(e(r#"{"command": "xyz"}"#), "'xyz' command not supported.");
        assert_eq!(
            parse_request(r#"{"command": "xyz"}"#).unwrap_err().result(),
            2
        );
        assert_eq!(
            e(r#"{"command": "list-commands", "foo": 1}"#),
            "Error during command processing: Received command contains unsupported parameter 'foo'"
        );
        assert_eq!(
            e(r#"{"command": "list-commands", "service": "dhcp4"}"#),
            "service value must be a list"
        );
        assert_eq!(
            e(r#"{"arguments": {}}"#),
            "Error during command processing: Invalid answer specified, does not contain mandatory 'command'"
        );
        assert_eq!(
            e(r#"[1]"#),
            "Error during command processing: Invalid command Element specified, expected map"
        );
        assert_eq!(
            e(r#"{"command": 1}"#),
            "Error during command processing: 'command' element in command message is not a string"
        );
        assert_eq!(
            e(r#"{"command": "list-commands", "arguments": []}"#),
            "Error during command processing: 'arguments' element in command message is not a map"
        );
        let s = e("{\"command\": \"list-commands\",\n \"arguments\": { \"a\" 1 } }");
        assert!(
            s.starts_with("Error during command processing: invalid JSON: "),
            "{s}"
        );
        assert!(s.ends_with("line 2, column 21"), "{s}");
        assert_eq!(parse_request("{").unwrap_err().result(), 1);
        assert_eq!(
            parse_request_bytes(b"{\xff}").unwrap_err(),
            RequestError::NotUtf8
        );
        assert_eq!(
            parse_request_bytes(br#"{"command": "list-commands"}"#)
                .unwrap()
                .command,
            Command::ListCommands
        );
    }

    #[test]
    fn comments_are_allowed() {
        let r = parse_request("# c\n{ /* x */ \"command\": \"version-get\" // y\n}").unwrap();
        assert_eq!(r.command, Command::VersionGet);
    }
}
