//! The lease commands of Kea's `libdhcp_lease_cmds` (kea-control-api.md §3), on the
//! [`crate::lease::LeaseTable`]. Every change is reported through the [`LeaseSink`] first
//! (the daemon makes it durable before it answers) and counted in the statistics.

use core::net::Ipv4Addr;

use super::args;
use super::json_in::{JsonStr, Node, Value};
use super::json_out::JsonOut;
use super::{refuse, Decision, Env, Refusal, Reply, RESULT_EMPTY, RESULT_ERROR, RESULT_SUCCESS};
use crate::config::{Config, Ipv4Prefix, Subnet};
use crate::lease::table::{CLIENT_ID_MAX, HWADDR_MAX};
use crate::lease::{LeaseId, LeaseRecord, LeaseState, TableError};
use crate::server::LeaseSink;
use crate::stats::LeaseCount;
use crate::time::Timestamp;

/// Which leases a list answer holds.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaseFilter<'r> {
    /// Every lease.
    All,
    /// Leases of the subnets listed (the request's `subnets` list of ids).
    Subnets(Node<'r>),
    /// Leases of this hardware address.
    HwAddr(heapless::Vec<u8, HWADDR_MAX>),
    /// Leases of this client-id.
    ClientId(heapless::Vec<u8, CLIENT_ID_MAX>),
    /// Leases whose hostname equals this one, ignoring ASCII case.
    Hostname(JsonStr<'r>),
}

impl LeaseFilter<'_> {
    /// Whether `lease` belongs in the answer.
    pub fn matches(&self, lease: &LeaseRecord<'_>) -> bool {
        match self {
            LeaseFilter::All => true,
            LeaseFilter::Subnets(list) => list
                .items()
                .any(|(v, _)| v == Value::Int(i64::from(lease.subnet_id))),
            LeaseFilter::HwAddr(hw) => lease.hwaddr == hw.as_slice(),
            LeaseFilter::ClientId(id) => lease.client_id == id.as_slice(),
            LeaseFilter::Hostname(h) => {
                let mut buf = [0u8; 256];
                h.unescape(&mut buf)
                    .is_some_and(|h| h.eq_ignore_ascii_case(lease.hostname))
            }
        }
    }
}

/// `a.b.c.d/len` for texts.
pub(crate) struct PrefixText(pub Ipv4Prefix);

impl core::fmt::Display for PrefixText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.0.address, self.0.len)
    }
}

/// The subnet a lease command's address goes to (Kea: subnet-id 0 or absent = the subnet
/// containing the address).
fn subnet_for<'c>(config: &Config<'c>, id: u32, address: Ipv4Addr) -> Result<&'c Subnet, Refusal> {
    if id == 0 {
        return config
            .subnets
            .iter()
            .find(|s| s.prefix.contains(address))
            .ok_or_else(|| {
                refuse(
                    RESULT_ERROR,
                    format_args!(
                        "subnet-id not specified and failed to find a subnet for address {address}"
                    ),
                )
            });
    }
    let s = config.subnet_by_id(id).ok_or_else(|| {
        refuse(
            RESULT_ERROR,
            format_args!(
                "Invalid subnet-id: No IPv4 subnet with subnet-id={id} currently configured."
            ),
        )
    })?;
    if !s.prefix.contains(address) {
        return Err(refuse(
            RESULT_ERROR,
            format_args!(
                "The address {address} does not belong to subnet {}, subnet-id={id}",
                PrefixText(s.prefix)
            ),
        ));
    }
    Ok(s)
}

fn table_error(e: TableError) -> Refusal {
    let why = match e {
        TableError::Full => "the lease table is full",
        TableError::TextFull => "the lease table's text arena is full",
        TableError::HwAddrTooLong => "hw-address is too long",
        TableError::ClientIdTooLong => "client-id is too long",
        TableError::TextTooLong => "hostname or user-context is too long",
        TableError::Occupancy(_) => "pool occupancy storage is too small",
    };
    refuse(
        RESULT_ERROR,
        format_args!("Unable to store the lease: {why}"),
    )
}

/// `lease4-add` (`update` false) and `lease4-update` (`update` true).
pub(crate) fn add<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
    sink: &mut dyn LeaseSink,
    update: bool,
) -> Result<Decision<'r>, Refusal> {
    // Kea 2.2's texts without arguments (checked on kea-dhcp4 2.2 + lease_cmds).
    let a = args.ok_or_else(|| {
        if update {
            refuse(
                RESULT_ERROR,
                format_args!("no parameters specified for lease4-update command"),
            )
        } else {
            refuse(
                RESULT_ERROR,
                format_args!("no parameters specified for the command"),
            )
        }
    })?;
    let address = args::req_address(&a, "ip-address")?;
    let hw_text = args::req_string(&a, "hw-address")?;
    let mut hw_buf = [0u8; HWADDR_MAX];
    let hwaddr = args::hex(&hw_text, &mut hw_buf)?;
    let mut cid_buf = [0u8; CLIENT_ID_MAX];
    let client_id = match args::string(&a, "client-id")? {
        Some(s) => args::hex(&s, &mut cid_buf)?,
        None => &[],
    };
    let subnet_id = args::uint(&a, "subnet-id", u64::from(u32::MAX))?.unwrap_or(0) as u32;
    let subnet = subnet_for(env.config, subnet_id, address)?;
    let valid_lifetime = args::uint(&a, "valid-lft", u64::from(u32::MAX))?
        .map_or(subnet.params.lifetimes.valid, |v| v as u32);
    let cltt = match args::uint(&a, "expire", i64::MAX as u64)? {
        // Kea: cltt = expire − valid-lft.
        Some(expire) => Timestamp(expire.saturating_sub(u64::from(valid_lifetime))),
        None => env.now,
    };
    let fqdn_fwd = args::boolean(&a, "fqdn-fwd")?.unwrap_or(false);
    let fqdn_rev = args::boolean(&a, "fqdn-rev")?.unwrap_or(false);
    let mut host_buf = [0u8; 256];
    let hostname = match args::string(&a, "hostname")? {
        Some(s) => s
            .unescape(&mut host_buf)
            .ok_or_else(|| refuse(RESULT_ERROR, format_args!("hostname is too long")))?,
        None => "",
    };
    if (fqdn_fwd || fqdn_rev) && hostname.is_empty() {
        return Err(refuse(
            RESULT_ERROR,
            format_args!(
                "No hostname specified and either forward or reverse fqdn was set to true."
            ),
        ));
    }
    let state = match args::uint(&a, "state", u64::from(u32::MAX))? {
        None => LeaseState::Default,
        Some(code) => LeaseState::from_code(code as u32).ok_or_else(|| {
            refuse(
                RESULT_ERROR,
                format_args!("Invalid state value: {code}, supported values are: 0 (default), 1 (declined) and 2 (expired-reclaimed)"),
            )
        })?,
    };
    let mut ctx_buf = [0u8; 2048];
    let user_context = match a.get("user-context") {
        None | Some(Value::Null) => "",
        Some(v @ Value::Map(_)) => super::render::compact(v, &mut ctx_buf)
            .ok_or_else(|| refuse(RESULT_ERROR, format_args!("user-context is too long")))?,
        Some(_) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!(
                    "Invalid user context '{}' is not a JSON map.",
                    "user-context"
                ),
            ))
        }
    };
    let force_create = update && args::boolean(&a, "force-create")?.unwrap_or(false);
    let before = env.leases.get(address).map(|r| LeaseCount::of(&r));
    let text = match (update, before.is_some()) {
        (false, true) => {
            return Err(refuse(RESULT_ERROR, format_args!("IPv4 lease already exists.")))
        }
        (false, false) => super::text(format_args!(
            "Lease for address {address}, subnet-id {} added.",
            subnet.id
        )),
        (true, true) => super::text(format_args!("IPv4 lease updated.")),
        (true, false) if force_create => super::text(format_args!("IPv4 lease added.")),
        (true, false) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("failed to update the lease with address {address} either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed"),
            ))
        }
    };
    let record = LeaseRecord {
        address,
        hwaddr,
        client_id,
        valid_lifetime,
        cltt,
        subnet_id: subnet.id,
        fqdn_fwd,
        fqdn_rev,
        hostname,
        state,
        user_context,
    };
    env.leases.upsert(&record).map_err(table_error)?;
    sink.lease_changed(&record);
    env.stats.record_lease_change(before, &record, env.now);
    Ok(Reply::Status {
        result: RESULT_SUCCESS,
        text,
    }
    .into())
}

/// Finds the lease a `lease4-get`/`lease4-del` names: by `ip-address`, or by
/// `identifier-type` + `identifier` + `subnet-id`. `Ok(None)`: no such lease.
fn find(a: &Node<'_>, env: &Env<'_, '_, '_>) -> Result<Option<Ipv4Addr>, Refusal> {
    if let Some(address) = args::address(a, "ip-address")? {
        return Ok(env.leases.get(address).map(|r| r.address));
    }
    // Kea checks `subnet-id` before the identifier (checked: `{}` answers this).
    let subnet_id = match a.get("subnet-id") {
        Some(Value::Int(v)) if (0..=i64::from(u32::MAX)).contains(&v) => v as u32,
        _ => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("Mandatory 'subnet-id' parameter missing."),
            ))
        }
    };
    let kind = match a.get("identifier-type") {
        Some(Value::Str(s)) => s,
        _ => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!(
                "No 'ip-address' provided and 'identifier-type' is either missing or not a string."
            ),
            ))
        }
    };
    let identifier = match a.get("identifier") {
        Some(Value::Str(s)) => s,
        _ => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!(
                    "No 'ip-address' provided and 'identifier' is either missing or not a string."
                ),
            ))
        }
    };
    let mut buf = [0u8; CLIENT_ID_MAX];
    if kind.eq_str("hw-address") {
        let hw = args::hex(&identifier, &mut buf)?;
        Ok(env
            .leases
            .find_by_hwaddr(hw, subnet_id)
            .map(|(_, r)| r.address))
    } else if kind.eq_str("client-id") {
        let id = args::hex(&identifier, &mut buf)?;
        Ok(env
            .leases
            .find_by_client_id(id, subnet_id)
            .map(|(_, r)| r.address))
    } else if kind.eq_str("duid") {
        Err(refuse(
            RESULT_ERROR,
            format_args!("Query by duid is not allowed in v4."),
        ))
    } else {
        Err(refuse(
            RESULT_ERROR,
            format_args!(
                "Incorrect identifier type: {}, the only supported values are: address, hw-address, duid",
                kind.0
            ),
        ))
    }
}

/// `lease4-get`.
pub(crate) fn get<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    Ok(match find(&a, env)? {
        Some(address) => Reply::Lease { address }.into(),
        None => Reply::status(RESULT_EMPTY, "Lease not found.").into(),
    })
}

fn count(env: &Env<'_, '_, '_>, filter: &LeaseFilter<'_>) -> u64 {
    match filter {
        LeaseFilter::All => env.leases.len() as u64,
        LeaseFilter::HwAddr(hw) => env.leases.by_hwaddr(hw).count() as u64,
        LeaseFilter::ClientId(id) => env.leases.by_client_id(id).count() as u64,
        _ => env.leases.iter().filter(|(_, r)| filter.matches(r)).count() as u64,
    }
}

/// `lease4-get-all`, optionally `{"subnets": [ids]}`.
pub(crate) fn get_all<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    // Kea: no arguments = every lease; arguments without `subnets` are an error.
    let filter = match args.map(|a| a.get("subnets")) {
        None => LeaseFilter::All,
        Some(None) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'subnets' parameter not specified"),
            ))
        }
        Some(Some(Value::List(l))) => {
            if l.items().any(|(v, _)| !matches!(v, Value::Int(_))) {
                return Err(refuse(
                    RESULT_ERROR,
                    format_args!("listed subnet identifiers must be numbers"),
                ));
            }
            LeaseFilter::Subnets(l)
        }
        Some(Some(_)) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'subnets' parameter must be a list"),
            ))
        }
    };
    let count = count(env, &filter);
    Ok(Reply::Leases { filter, count }.into())
}

/// `lease4-get-page`: `{"from": "start"|"<ipv4>", "limit": N}`.
pub(crate) fn get_page<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let a = args.ok_or_else(|| {
        refuse(
            RESULT_ERROR,
            format_args!("no parameters specified for the lease4-get-page command"),
        )
    })?;
    let after = match a.get("from") {
        None => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'from' parameter not specified"),
            ))
        }
        Some(Value::Str(s)) if s.eq_str("start") => None,
        Some(Value::Str(s)) => match s.plain().and_then(crate::config::values::ipv4) {
            Some(a) => Some(a),
            None => {
                return Err(refuse(
                    RESULT_ERROR,
                    format_args!(
                    "'from' parameter value is neither 'start' keyword nor a valid IPv4 address"
                ),
                ))
            }
        },
        Some(_) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'from' parameter must be a string"),
            ))
        }
    };
    let limit = match a.get("limit") {
        None => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'limit' parameter not specified"),
            ))
        }
        Some(Value::Int(0)) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("page size of retrieved leases must not be 0"),
            ))
        }
        Some(Value::Int(n)) if n > 0 && n <= i64::from(u32::MAX) => n as u64,
        Some(Value::Int(_)) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("page size of retrieved leases must not be greater than 4294967295"),
            ))
        }
        Some(_) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'limit' parameter must be a number"),
            ))
        }
    };
    let after_bits = after.map_or(-1i64, |a| i64::from(a.to_bits()));
    let available = env
        .leases
        .iter()
        .filter(|(_, r)| i64::from(r.address.to_bits()) > after_bits)
        .count() as u64;
    Ok(Reply::LeasePage {
        after,
        count: available.min(limit),
    }
    .into())
}

/// `lease4-get-by-hw-address`, `-by-client-id`, `-by-hostname`.
pub(crate) fn get_by<'r>(
    command: super::Command,
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    use super::Command as C;
    let a = args.ok_or_else(|| {
        refuse(
            RESULT_ERROR,
            format_args!("Command arguments missing or a not a map."),
        )
    })?;
    let key = match command {
        C::Lease4GetByHwAddress => "hw-address",
        C::Lease4GetByClientId => "client-id",
        _ => "hostname",
    };
    let value = match a.get(key) {
        Some(Value::Str(s)) => s,
        None => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'{key}' parameter not specified"),
            ))
        }
        Some(_) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'{key}' parameter must be a string"),
            ))
        }
    };
    if command == C::Lease4GetByClientId && value.0.is_empty() {
        // Kea parses the client-id as a DUID-like identifier (its text, checked).
        return Err(refuse(
            RESULT_ERROR,
            format_args!("Empty DUIDs are not allowed"),
        ));
    }
    let filter = match command {
        C::Lease4GetByHwAddress | C::Lease4GetByClientId => {
            let mut buf = [0u8; CLIENT_ID_MAX];
            let bytes = args::hex(&value, &mut buf)?;
            if command == C::Lease4GetByHwAddress {
                LeaseFilter::HwAddr(
                    heapless::Vec::from_slice(bytes).map_err(|_| {
                        refuse(RESULT_ERROR, format_args!("hw-address is too long"))
                    })?,
                )
            } else {
                LeaseFilter::ClientId(
                    heapless::Vec::from_slice(bytes)
                        .map_err(|_| refuse(RESULT_ERROR, format_args!("client-id is too long")))?,
                )
            }
        }
        _ => {
            if value.0.is_empty() {
                return Err(refuse(
                    RESULT_ERROR,
                    format_args!("'hostname' parameter is empty"),
                ));
            }
            LeaseFilter::Hostname(value)
        }
    };
    let count = count(env, &filter);
    Ok(Reply::Leases { filter, count }.into())
}

/// Removes the lease of `address`: the removal record (lifetime 0, Kea's journal row) goes
/// to the sink first.
fn remove(env: &mut Env<'_, '_, '_>, sink: &mut dyn LeaseSink, address: Ipv4Addr) -> bool {
    let Some(lease) = env.leases.get(address) else {
        return false;
    };
    let removal = LeaseRecord {
        valid_lifetime: 0,
        ..lease
    };
    sink.lease_changed(&removal);
    env.stats
        .record_lease_change(Some(LeaseCount::of(&lease)), &removal, env.now);
    env.leases.remove(address)
}

/// `lease4-del`.
pub(crate) fn del<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
    sink: &mut dyn LeaseSink,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    Ok(match find(&a, env)? {
        Some(address) if remove(env, sink, address) => {
            Reply::status(RESULT_SUCCESS, "IPv4 lease deleted.").into()
        }
        _ => Reply::status(RESULT_EMPTY, "IPv4 lease not found.").into(),
    })
}

/// `lease4-wipe`: `{"subnet-id": N}`, absent or 0 = every subnet. No reclamation, no DDNS.
pub(crate) fn wipe<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
    sink: &mut dyn LeaseSink,
) -> Result<Decision<'r>, Refusal> {
    let subnet = match args {
        Some(a) => args::uint(&a, "subnet-id", u64::from(u32::MAX))?.unwrap_or(0) as u32,
        None => 0,
    };
    let mut deleted = 0u64;
    for id in 0..env.leases.capacity() {
        let address = match env.leases.record(LeaseId(id as u32)) {
            Some(r) if subnet == 0 || r.subnet_id == subnet => r.address,
            _ => continue,
        };
        if remove(env, sink, address) {
            deleted += 1;
        }
    }
    let mut text = super::text(format_args!(
        "Deleted {deleted} IPv4 lease(s) from subnet(s)"
    ));
    if subnet != 0 {
        text = super::text(format_args!("{text} {subnet}"));
    } else {
        for s in env.config.subnets {
            text = super::text(format_args!("{text} {}", s.id));
        }
    }
    Ok(Reply::Status {
        result: if deleted > 0 {
            RESULT_SUCCESS
        } else {
            RESULT_EMPTY
        },
        text,
    }
    .into())
}

/// A lease object in Kea's shape (keys sorted; `client-id` and `user-context` only when
/// set; `expire` is not returned).
pub(crate) fn write_lease(
    w: &mut JsonOut<'_>,
    r: &LeaseRecord<'_>,
) -> super::json_out::WriteResult {
    w.begin_object()?;
    if !r.client_id.is_empty() {
        w.key("client-id")?;
        w.hex(r.client_id)?;
    }
    w.field_u64("cltt", r.cltt.0)?;
    w.field_bool("fqdn-fwd", r.fqdn_fwd)?;
    w.field_bool("fqdn-rev", r.fqdn_rev)?;
    w.field_str("hostname", r.hostname)?;
    w.key("hw-address")?;
    w.hex(r.hwaddr)?;
    w.key("ip-address")?;
    w.ipv4(r.address)?;
    w.field_u64("state", u64::from(r.state.code()))?;
    w.field_u64("subnet-id", u64::from(r.subnet_id))?;
    if !r.user_context.is_empty() {
        w.key("user-context")?;
        w.raw(r.user_context)?;
    }
    w.field_u64("valid-lft", u64::from(r.valid_lifetime))?;
    w.end_object()
}

/// `lease4-resend-ddns`: wren has no DDNS (no D2 client), so it answers as Kea 2.2 does
/// with DDNS updates off, after the same argument checks (texts checked on kea-dhcp4 2.2;
/// Kea itself aborts on this command without arguments, wren answers).
pub(crate) fn resend_ddns<'r>(args: Option<Node<'r>>) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    match a.get("ip-address") {
        Some(Value::Str(s)) => {
            if s.plain().and_then(crate::config::values::ipv4).is_none() {
                return Err(refuse(
                    RESULT_ERROR,
                    format_args!("'{}' is not a valid IP address.", s.0),
                ));
            }
        }
        _ => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'ip-address' parameter is missing."),
            ))
        }
    }
    Err(refuse(
        RESULT_ERROR,
        format_args!("DDNS updating is not enabled"),
    ))
}
