#!/usr/bin/env bash
# wren in one minute: two private network namespaces joined by a veth pair (198.18.0.0/24 only),
# wrend on a small Kea-format config in one, a real ISC dhclient in the other. Prints the lease
# the client got, the lease-file row and wrend's log lines, then removes everything it made.
#
#   sudo scripts/demo.sh                   # wrend (built with cargo if needed)
#   sudo WREN_SERVER=kea scripts/demo.sh   # the same with kea-dhcp4 2.2, for comparison
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it creates network namespaces): sudo scripts/demo.sh" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)

need() { # program package
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ]; then
    echo "demo.sh: installing $2 (for $1)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
  fi
}
need ip iproute2
need dhclient isc-dhcp-client

case "${WREN_SERVER:-wrend}" in
  kea|kea-dhcp4)
    need kea-dhcp4 kea-dhcp4-server
    SERVER_BIN=/usr/sbin/kea-dhcp4 ;;
  *)
    SERVER_BIN=${WREND_BIN:-$ROOT/target/debug/wrend}
    if [ ! -x "$SERVER_BIN" ]; then
      CARGO=$(command -v cargo || true)
      [ -n "$CARGO" ] || for d in "/home/${SUDO_USER:-nobody}/.cargo/bin" /root/.cargo/bin; do [ -x "$d/cargo" ] && CARGO=$d/cargo && break; done
      [ -n "$CARGO" ] || { echo "demo.sh: cargo not found; install Rust (https://rustup.rs) and run cargo build -p wrend" >&2; exit 1; }
      echo "demo.sh: building wrend (cargo build -p wrend)"
      if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        (cd "$ROOT" && sudo -u "$SUDO_USER" env "PATH=$(dirname "$CARGO"):$PATH" "$CARGO" build -q -p wrend)
      else
        (cd "$ROOT" && "$CARGO" build -q -p wrend)
      fi
    fi ;;
esac

TAG=$$
NS_S=wren-demo-s-$TAG
NS_C=wren-demo-c-$TAG
IF_S=wds$TAG
IF_C=wdc$TAG
WORK=$(mktemp -d /tmp/wren-demo.XXXXXX)
SERVER_PID=""
CLIENT_PID=""

cleanup() {
  set +e
  for pid in $CLIENT_PID $SERVER_PID; do
    kill -TERM "$pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
  done
  ip netns del "$NS_C" 2>/dev/null
  ip netns del "$NS_S" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C"
ip -n "$NS_S" addr add 198.18.0.1/24 dev "$IF_S"
for ns_if in "$NS_S $IF_S" "$NS_C $IF_C"; do
  set -- $ns_if
  ip -n "$1" link set lo up
  ip -n "$1" link set "$2" up
done

cat > "$WORK/wren.conf" <<CONF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$IF_S" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "$WORK/leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "subnet4": [
      {
        "id": 1,
        "subnet": "198.18.0.0/24",
        "pools": [ { "pool": "198.18.0.100 - 198.18.0.199" } ],
        "option-data": [
          { "name": "routers", "data": "198.18.0.1" },
          { "name": "domain-name-servers", "data": "198.18.0.53" },
          { "name": "domain-name", "data": "demo.wren.test" }
        ]
      }
    ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "INFO" } ]
  }
}
CONF

echo "== $(basename "$SERVER_BIN") -c wren.conf in namespace $NS_S (198.18.0.1 on $IF_S)"
KEA_PIDFILE_DIR=$WORK KEA_LOCKFILE_DIR=$WORK ip netns exec "$NS_S" "$SERVER_BIN" -c "$WORK/wren.conf" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  ip netns exec "$NS_S" cat /proc/net/udp | awk '{print $2}' | grep -q ':0043$' && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:"; cat "$WORK/server.log"; exit 1; }
  sleep 0.1
done

cat > "$WORK/hook" <<HOOK
#!/bin/sh
case "\$reason" in
  BOUND|RENEW|REBOOT)
    ip addr replace "\$new_ip_address/24" dev "$IF_C"
    printf 'address %s  router %s  dns %s  domain %s  lease %ss  server %s\n' \
      "\$new_ip_address" "\$new_routers" "\$new_domain_name_servers" "\$new_domain_name" \
      "\$new_dhcp_lease_time" "\$new_dhcp_server_identifier" > "$WORK/lease.txt" ;;
esac
exit 0
HOOK
chmod +x "$WORK/hook"

echo "== dhclient on $IF_C in namespace $NS_C"
timeout 60 ip netns exec "$NS_C" dhclient -4 -d -v -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid" \
  -sf "$WORK/hook" "$IF_C" >"$WORK/dhclient.log" 2>&1 &
CLIENT_PID=$!
for _ in $(seq 300); do [ -s "$WORK/lease.txt" ] && break; sleep 0.1; done
if [ ! -s "$WORK/lease.txt" ]; then
  echo "no lease within 30 s. dhclient:"; cat "$WORK/dhclient.log"; echo "server:"; cat "$WORK/server.log"; exit 1
fi
grep -E '^DHCP|bound' "$WORK/dhclient.log" | sed 's/^/   dhclient: /'
echo
echo "== the client got:"
sed 's/^/   /' "$WORK/lease.txt"
echo "   $IF_C now has: $(ip -n "$NS_C" -4 -o addr show dev "$IF_C" | awk '{print $4}')"
sleep 0.3
echo
echo "== lease file ($WORK/leases4.csv):"
sed 's/^/   /' "$WORK/leases4.csv" 2>/dev/null || echo "   (none)"
echo
echo "== server log (lease lines):"
LINES=$(grep -i -E 'lease|ack|offer|alloc' "$WORK/server.log" | tail -5 || true)
[ -n "$LINES" ] || LINES=$(tail -5 "$WORK/server.log")
printf '%s\n' "$LINES" | sed 's/^/   /'
echo
echo "== cleaning up (namespaces $NS_S $NS_C, PIDs $CLIENT_PID $SERVER_PID)"
