//! Subnet commands (`libdhcp_subnet_cmds`, kea-control-api.md §4) and host commands
//! (`libdhcp_host_cmds`, §5) over the config's subnets and reservations. Reads are
//! answered here; changes become [`Action`]s that edit the config text ([`super::edit`]).

use super::args;
use super::json_in::{Node, Value};
use super::lease_cmds::PrefixText;
use super::{refuse, Action, Decision, Env, HostKey, Refusal, Reply, RESULT_EMPTY, RESULT_ERROR};
use crate::config::{values, Config, IdentifierType, Reservation};

/// `subnet4-list`.
pub(crate) fn list<'r>(_env: &Env<'_, '_, '_>) -> Decision<'r> {
    Reply::SubnetList.into()
}

/// `subnet4-get`: `{"id": N}` or `{"subnet": "prefix"}`.
pub(crate) fn get<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    let config = env.config;
    let index = if let Some(id) = args::uint(&a, "id", u64::from(u32::MAX))? {
        config
            .subnets
            .iter()
            .position(|s| u64::from(s.id) == id)
            .ok_or_else(|| {
                refuse(
                    RESULT_EMPTY,
                    format_args!("No IPv4 subnet with id {id} found"),
                )
            })?
    } else if let Some(p) = args::string(&a, "subnet")? {
        let prefix = p
            .plain()
            .and_then(|t| values::prefix(t).ok())
            .ok_or_else(|| {
                refuse(
                    RESULT_ERROR,
                    format_args!("'{}' is not a valid IPv4 prefix", p.0),
                )
            })?;
        config
            .subnets
            .iter()
            .position(|s| s.prefix.network() == prefix.network() && s.prefix.len == prefix.len)
            .ok_or_else(|| {
                refuse(
                    RESULT_EMPTY,
                    format_args!("No IPv4 subnet with prefix {} found", PrefixText(prefix)),
                )
            })?
    } else {
        return Err(refuse(
            RESULT_ERROR,
            format_args!("'id' or 'subnet' parameter required"),
        ));
    };
    Ok(Reply::Subnet { index }.into())
}

/// `subnet4-add` / `subnet4-update`: `{"subnet4": [ {…} ]}`, exactly one subnet with `id`
/// and `subnet`, without `reservations`.
pub(crate) fn add<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
    update: bool,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    let Some(Value::List(list)) = a.get("subnet4") else {
        return Err(refuse(
            RESULT_ERROR,
            format_args!("missing 'subnet4' argument: a list holding one subnet"),
        ));
    };
    let mut items = list.items();
    let (Some((Value::Map(subnet), _)), None) = (items.next(), items.next()) else {
        return Err(refuse(
            RESULT_ERROR,
            format_args!("invalid number of subnets specified, expected 1 subnet map in 'subnet4'"),
        ));
    };
    let id = match subnet.get("id") {
        Some(Value::Int(id)) if (1..=i64::from(u32::MAX)).contains(&id) => id as u32,
        _ => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("subnet 'id' is mandatory and must be a positive integer"),
            ))
        }
    };
    if !matches!(subnet.get("subnet"), Some(Value::Str(_))) {
        return Err(refuse(
            RESULT_ERROR,
            format_args!("missing parameter 'subnet'"),
        ));
    }
    if subnet.get("reservations").is_some() {
        return Err(refuse(
            RESULT_ERROR,
            format_args!(
                "'reservations' are not allowed in a subnet sent with {}: use reservation-add",
                if update {
                    "subnet4-update"
                } else {
                    "subnet4-add"
                }
            ),
        ));
    }
    let exists = env.config.subnet_by_id(id).is_some();
    match (update, exists) {
        (false, true) => Err(refuse(
            RESULT_ERROR,
            format_args!("ID of the new IPv4 subnet '{id}' is already in use"),
        )),
        (true, false) => Err(refuse(
            RESULT_ERROR,
            format_args!("Can't update subnet: no existing IPv4 subnet with ID '{id}'"),
        )),
        (false, false) => Ok(Decision::Action(Action::SubnetAdd { id, subnet })),
        (true, true) => Ok(Decision::Action(Action::SubnetUpdate { id, subnet })),
    }
}

/// `subnet4-del`: `{"id": N}`.
pub(crate) fn del<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    let id = args::uint(&a, "id", u64::from(u32::MAX))?
        .ok_or_else(|| refuse(RESULT_ERROR, format_args!("missing parameter 'id'")))?
        as u32;
    let subnet = env
        .config
        .subnet_by_id(id)
        .ok_or_else(|| refuse(RESULT_EMPTY, format_args!("no subnet with id {id} found")))?;
    Ok(Decision::Action(Action::SubnetDel {
        id,
        prefix: subnet.prefix,
    }))
}

fn subnet_id(a: &Node<'_>) -> Result<u32, Refusal> {
    match a.get("subnet-id") {
        Some(Value::Int(v)) if (0..=i64::from(u32::MAX)).contains(&v) => Ok(v as u32),
        _ => Err(refuse(
            RESULT_ERROR,
            format_args!("Mandatory 'subnet-id' parameter missing."),
        )),
    }
}

fn identifier_type(name: &str) -> Option<IdentifierType> {
    [
        IdentifierType::HwAddress,
        IdentifierType::Duid,
        IdentifierType::CircuitId,
        IdentifierType::ClientId,
        IdentifierType::FlexId,
    ]
    .into_iter()
    .find(|t| t.keyword() == name)
}

/// Reads the host key: `ip-address`, or `identifier-type` + `identifier`.
fn host_key<'r>(a: &Node<'r>) -> Result<HostKey<'r>, Refusal> {
    if let Some(address) = args::address(a, "ip-address")? {
        return Ok(HostKey::Address(address));
    }
    let (Some(Value::Str(kind)), Some(Value::Str(identifier))) =
        (a.get("identifier-type"), a.get("identifier"))
    else {
        return Err(refuse(
            RESULT_ERROR,
            format_args!(
                "Either 'ip-address' or 'identifier-type' and 'identifier' must be specified"
            ),
        ));
    };
    let kind = kind.plain().and_then(identifier_type).ok_or_else(|| {
        refuse(
            RESULT_ERROR,
            format_args!("invalid identifier type '{}'", kind.0),
        )
    })?;
    Ok(HostKey::Identifier { kind, identifier })
}

/// The index in `config.reservations` of the host `key` names in `subnet_id`.
fn find_host(
    config: &Config<'_>,
    subnet_id: u32,
    key: &HostKey<'_>,
) -> Result<Option<usize>, Refusal> {
    let found = match key {
        HostKey::Address(a) => config.reservation_for_address(subnet_id, *a),
        HostKey::Identifier { kind, identifier } => {
            let mut buf = [0u8; 256];
            let text = identifier.plain().unwrap_or(identifier.0);
            let n = values::identifier(text, &mut buf)
                .map_err(|e| refuse(RESULT_ERROR, format_args!("{e}")))?;
            config.find_reservation(subnet_id, *kind, buf.get(..n).unwrap_or(&[]))
        }
    };
    Ok(found.and_then(|r| index_of(config, r)))
}

fn index_of(config: &Config<'_>, r: &Reservation) -> Option<usize> {
    let base = config.reservations.as_ptr() as usize;
    let at = r as *const Reservation as usize;
    let size = core::mem::size_of::<Reservation>().max(1);
    let i = at.checked_sub(base)? / size;
    config
        .reservations
        .get(i)
        .filter(|x| core::ptr::eq(*x, r))
        .map(|_| i)
}

/// `reservation-get`.
pub(crate) fn host_get<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    let subnet = subnet_id(&a)?;
    let key = host_key(&a)?;
    Ok(match find_host(env.config, subnet, &key)? {
        Some(index) => Reply::Host { index }.into(),
        // Kea 2.2 answers result 0 here.
        None => Reply::status(0, "Host not found.").into(),
    })
}

/// The range of `config.reservations` holding subnet `id`'s hosts (0: global).
fn host_range(config: &Config<'_>, id: u32) -> Option<core::ops::Range<usize>> {
    if id == 0 {
        Some(config.globals.reservations.as_range())
    } else {
        config.subnet_by_id(id).map(|s| s.reservations.as_range())
    }
}

/// `reservation-get-all`: `{"subnet-id": N}`.
pub(crate) fn host_get_all<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    let id = subnet_id(&a)?;
    let range = host_range(env.config, id).unwrap_or(0..0);
    Ok(Reply::Hosts {
        subnet_id: Some(id),
        from: range.start,
        count: range.len() as u64,
        page_next: None,
    }
    .into())
}

/// `reservation-get-page`: `{"subnet-id"?, "limit", "source-index"?, "from"?}`. `from` is
/// the `next.from` of the previous page (a position; 0 = start); source 0 is the config
/// file, the only host source wren has.
pub(crate) fn host_get_page<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    let subnet = match a.get("subnet-id") {
        None => None,
        Some(_) => Some(subnet_id(&a)?),
    };
    let limit = match args::uint(&a, "limit", u64::from(u32::MAX))? {
        Some(0) => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("page size of retrieved hosts must not be 0"),
            ))
        }
        Some(n) => n,
        None => {
            return Err(refuse(
                RESULT_ERROR,
                format_args!("'limit' parameter not specified"),
            ))
        }
    };
    let source = args::uint(&a, "source-index", u64::from(u32::MAX))?.unwrap_or(0);
    let from = args::uint(&a, "from", u64::MAX)?.unwrap_or(0);
    let config = env.config;
    let mut count = 0u64;
    let mut next = from;
    if source == 0 {
        let start = usize::try_from(from).unwrap_or(usize::MAX);
        for (i, r) in config.reservations.iter().enumerate().skip(start) {
            if count == limit {
                break;
            }
            if subnet.is_some_and(|id| id != r.subnet_id) {
                continue;
            }
            count += 1;
            next = i as u64 + 1;
        }
    }
    Ok(Reply::Hosts {
        subnet_id: subnet,
        from: usize::try_from(from).unwrap_or(usize::MAX),
        count,
        page_next: Some(next),
    }
    .into())
}

/// `reservation-add`: `{"reservation": {"subnet-id": N, …}}`.
pub(crate) fn host_add<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    let Some(Value::Map(reservation)) = a.get("reservation") else {
        return Err(refuse(
            RESULT_ERROR,
            format_args!("reservation must be specified"),
        ));
    };
    let id = subnet_id(&reservation)?;
    if id != 0 && env.config.subnet_by_id(id).is_none() {
        return Err(refuse(
            RESULT_ERROR,
            format_args!(
                "Invalid subnet-id: No IPv4 subnet with subnet-id={id} currently configured."
            ),
        ));
    }
    Ok(Decision::Action(Action::ReservationAdd {
        subnet_id: id,
        reservation,
    }))
}

/// `reservation-del`.
pub(crate) fn host_del<'r>(
    args: Option<Node<'r>>,
    env: &mut Env<'_, '_, '_>,
) -> Result<Decision<'r>, Refusal> {
    let a = args::map(args)?;
    let subnet = subnet_id(&a)?;
    let key = host_key(&a)?;
    let config = env.config;
    let index = find_host(config, subnet, &key)?
        .ok_or_else(|| refuse(RESULT_ERROR, format_args!("Host not deleted (not found).")))?;
    let range = host_range(config, subnet).unwrap_or(0..0);
    let position = index
        .checked_sub(range.start)
        .ok_or_else(|| refuse(RESULT_ERROR, format_args!("Host not deleted (not found).")))?;
    Ok(Decision::Action(Action::ReservationDel {
        subnet_id: subnet,
        position,
    }))
}
