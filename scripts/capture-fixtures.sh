#!/usr/bin/env bash
# Capture real DHCPv4 packets between dhclient / udhcpc / dhcpcd and Kea 2.2 inside a private
# network-namespace pair (198.18.0.0/24 only) and write each UDP payload as a hex file into
# core/tests/fixtures/. Needs root, kea-dhcp4-server, isc-dhcp-client, udhcpc, dhcpcd-base,
# tcpdump, python3 (only to split the pcap). Re-running overwrites the files it owns.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "capture-fixtures.sh: must run as root (network namespaces)" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${FIXTURES_OUT:-$ROOT/core/tests/fixtures}  # FIXTURES_OUT: write elsewhere (a dry run)
mkdir -p "$OUT"
TAG=$$
NS_S=wrenfx-s-$TAG
NS_C=wrenfx-c-$TAG
IF_S=fxs$TAG
IF_C=fxc$TAG
WORK=$(mktemp -d /tmp/wren-fixtures.XXXXXX)
PIDS=()

cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -f "/var/lib/dhcpcd/$IF_C.lease"
  ip netns del "$NS_S" 2>/dev/null
  ip netns del "$NS_C" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C"
ip -n "$NS_S" link set lo up
ip -n "$NS_C" link set lo up
ip -n "$NS_S" link set "$IF_S" address 02:57:52:00:00:01
ip -n "$NS_C" link set "$IF_C" address 02:57:52:00:00:02
ip -n "$NS_S" addr add 198.18.0.1/24 dev "$IF_S"
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_C" link set "$IF_C" up

# The Kea config (also committed as kea-fixtures.conf with the interface name as "ws0").
sed -e "s|@IFACE@|$IF_S|g" -e "s|@DIR@|$WORK|g" "$OUT/kea-fixtures.conf.in" > "$WORK/kea.conf"
KEA_PIDFILE_DIR=$WORK KEA_LOCKFILE_DIR=$WORK ip netns exec "$NS_S" kea-dhcp4 -t "$WORK/kea.conf" >/dev/null

start_kea() {
  KEA_PIDFILE_DIR=$WORK KEA_LOCKFILE_DIR=$WORK ip netns exec "$NS_S" kea-dhcp4 -c "$WORK/kea.conf" >"$WORK/kea-$1.log" 2>&1 &
  KEA_PID=$!
  PIDS+=("$KEA_PID")
  for _ in $(seq 50); do grep -q DHCP4_STARTED "$WORK/kea-$1.log" && return 0; sleep 0.1; done
  echo "kea did not start:"; cat "$WORK/kea-$1.log"; exit 1
}
stop_pid() { [ "$1" != "${TCPDUMP_PID:-}" ] || sleep 1; kill -TERM "$1" 2>/dev/null || true; for _ in $(seq 30); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; }

start_tcpdump() {
  ip netns exec "$NS_S" tcpdump -i "$IF_S" -U -n -s 0 -w "$WORK/$1.pcap" 'udp port 67 or udp port 68' >"$WORK/tcpdump-$1.log" 2>&1 &
  TCPDUMP_PID=$!
  PIDS+=("$TCPDUMP_PID")
  for _ in $(seq 50); do grep -q listening "$WORK/tcpdump-$1.log" && return 0; sleep 0.1; done
  echo "tcpdump did not start"; exit 1
}

# Record-only client script: configures the address (so unicast renewals work) and logs env.
cat > "$WORK/client-script" <<SCRIPT
#!/bin/sh
# clients run scripts with a scrubbed environment: paths are baked in here
env | sort >> "$WORK/script-env.log"; echo ---- >> "$WORK/script-env.log"
IF=\${interface:-$IF_C}
case "\${reason:-\$1}" in
  BOUND|RENEW|REBIND|REBOOT) ip addr replace "\$new_ip_address/24" dev "\$IF" ;;
  bound|renew) ip addr replace "\$ip/24" dev "\$IF" ;;
  deconfig|EXPIRE|RELEASE|STOP|NAK) ip addr flush dev "\$IF" ;;
esac
exit 0
SCRIPT
chmod +x "$WORK/client-script"
export WORK_DIR=$WORK IFACE=$IF_C

wait_for() { # file pattern seconds
  for _ in $(seq $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timeout waiting for '$2' in $1"; exit 1
}

##### dhclient: DISCOVER/OFFER/REQUEST/ACK, renewal, release; then INIT-REBOOT NAK
start_kea dhclient
start_tcpdump dhclient
cat > "$WORK/dhclient.conf" <<CONF
send host-name "wren-dhclient";
request subnet-mask, broadcast-address, time-offset, routers, domain-name, domain-name-servers, domain-search, host-name, ntp-servers, interface-mtu;
CONF
timeout 60 ip netns exec "$NS_C" dhclient -4 -d -v -cf "$WORK/dhclient.conf" -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid" -sf "$WORK/client-script" "$IF_C" >"$WORK/dhclient.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/dhclient.log" "bound to" 20
wait_for "$WORK/dhclient.log" "DHCPACK of .* from 198.18.0.1.*" 5
# renewal: renew-timer is 3 s; wait for a second ACK
for _ in $(seq 100); do [ "$(grep -c DHCPACK "$WORK/dhclient.log")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c DHCPACK "$WORK/dhclient.log")" -ge 2 ] || { echo "no renewal seen"; cat "$WORK/dhclient.log"; exit 1; }
timeout 20 ip netns exec "$NS_C" dhclient -4 -r -v -cf "$WORK/dhclient.conf" -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid" -sf "$WORK/client-script" "$IF_C" >>"$WORK/dhclient.log" 2>&1
sleep 0.5
# INIT-REBOOT for a foreign address: authoritative true -> NAK
ip -n "$NS_C" addr flush dev "$IF_C"
cat > "$WORK/dhclient-foreign.leases" <<LEASE
lease {
  interface "$IF_C";
  fixed-address 198.18.7.7;
  option subnet-mask 255.255.255.0;
  option dhcp-lease-time 600;
  option dhcp-server-identifier 198.18.7.1;
  renew 4 2037/01/01 00:00:00;
  rebind 4 2037/01/01 00:00:00;
  expire 4 2037/01/01 00:00:00;
}
LEASE
timeout 60 ip netns exec "$NS_C" dhclient -4 -d -v -cf "$WORK/dhclient.conf" -lf "$WORK/dhclient-foreign.leases" -pf "$WORK/dhclient2.pid" -sf "$WORK/client-script" "$IF_C" >"$WORK/dhclient2.log" 2>&1 &
DH2=$!
PIDS+=("$DH2")
wait_for "$WORK/dhclient2.log" "DHCPNAK" 20
wait_for "$WORK/dhclient2.log" "bound to" 20
stop_pid "$DH2"
sleep 0.3
stop_pid "$TCPDUMP_PID"
stop_pid "$KEA_PID"
cp "$WORK/kea-dhclient.log" "$WORK/kea-dhclient.keep"

##### udhcpc: DORA, renewal (SIGUSR1), release (-R on exit)
ip -n "$NS_C" addr flush dev "$IF_C"
rm -f "$WORK/leases4.csv"*
start_kea udhcpc
start_tcpdump udhcpc
timeout 60 ip netns exec "$NS_C" busybox udhcpc -f -R -i "$IF_C" -t 5 -T 1 -x hostname:wren-udhcpc -s "$WORK/client-script" >"$WORK/udhcpc.log" 2>&1 &
UD=$!
PIDS+=("$UD")
wait_for "$WORK/udhcpc.log" "lease of .* obtained" 20
sleep 0.5
# busybox udhcpc runs as a child of `timeout`/`ip netns exec`: find its pid via the process tree
UPID=$(pgrep -P "$(pgrep -P "$UD" | head -1)" | head -1 || true)
[ -n "$UPID" ] || UPID=$(pgrep -P "$UD" | head -1)
echo "udhcpc pid $UPID"
kill -USR1 "$UPID"
for _ in $(seq 50); do [ "$(grep -c 'obtained' "$WORK/udhcpc.log")" -ge 2 ] && break; sleep 0.1; done
kill -TERM "$UPID"
sleep 1
stop_pid "$TCPDUMP_PID"
stop_pid "$KEA_PID"

##### dhcpcd: DORA, renewal (T1 = 3 s), release (-k); then INFORM (-s)
ip -n "$NS_C" addr flush dev "$IF_C"
rm -f "$WORK/leases4.csv"*
start_kea dhcpcd
start_tcpdump dhcpcd
: > "$WORK/script-env.log"
DHCPCD_OPTS=(-4 -B -A -L -K -h wren-dhcpcd -f /dev/null -c "$WORK/client-script" -t 20)
timeout 60 ip netns exec "$NS_C" dhcpcd "${DHCPCD_OPTS[@]}" "$IF_C" >"$WORK/dhcpcd.log" 2>&1 &
DC=$!
PIDS+=("$DC")
wait_for "$WORK/script-env.log" "reason=BOUND" 20
for _ in $(seq 100); do grep -q "reason=RENEW" "$WORK/script-env.log" && break; sleep 0.1; done
timeout 20 ip netns exec "$NS_C" dhcpcd -4 -k "$IF_C" >>"$WORK/dhcpcd.log" 2>&1 || true
sleep 1
stop_pid "$DC"
ip -n "$NS_C" addr flush dev "$IF_C"
ip -n "$NS_C" addr add 198.18.0.250/24 dev "$IF_C"
timeout 30 ip netns exec "$NS_C" dhcpcd -4 -B -A -L -K -1 -f /dev/null -c "$WORK/client-script" -t 10 -s 198.18.0.250/24 "$IF_C" >"$WORK/dhcpcd-inform.log" 2>&1 || true
sleep 0.5
stop_pid "$TCPDUMP_PID"
stop_pid "$KEA_PID"

##### perfdhcp: one relayed DORA (giaddr = 198.18.0.2, server and relay ports 67)
ip -n "$NS_C" addr flush dev "$IF_C"
ip -n "$NS_C" addr add 198.18.0.2/24 dev "$IF_C"
rm -f "$WORK/leases4.csv"*
start_kea perfdhcp
start_tcpdump perfdhcp
timeout 30 ip netns exec "$NS_C" perfdhcp -4 -l 198.18.0.2 -r 1 -n 1 -p 3 -x l 198.18.0.1 >"$WORK/perfdhcp.log" 2>&1 || true
stop_pid "$TCPDUMP_PID"
stop_pid "$KEA_PID"

##### split the captures into one hex file per packet
python3 - "$WORK" "$OUT" <<'PY'
import struct, sys, os
work, out = sys.argv[1], sys.argv[2]
NAMES = {1: "discover", 2: "offer", 3: "request", 4: "decline", 5: "ack", 6: "nak", 7: "release", 8: "inform"}
def packets(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    e = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        frame = data[off + 16: off + 16 + incl]
        off += 16 + incl
        assert linktype == 1
        if frame[12:14] != b"\x08\x00": continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17: continue
        udp = ip[ihl:]
        sport, dport, ulen = struct.unpack(">HHH", udp[:6])
        yield (ip[12:16], ip[16:20], sport, dport, frame[0:6], udp[8:ulen])
def msgtype(p):
    i = 240
    while i < len(p):
        c = p[i]
        if c == 0: i += 1; continue
        if c == 255: break
        l = p[i + 1]
        if c == 53: return p[i + 2]
        i += 2 + l
    return None
def is_renewal(p):  # REQUEST with ciaddr set
    return p[12:16] != b"\0\0\0\0"
def has_opt(p, code):
    i = 240
    while i < len(p):
        c = p[i]
        if c == 0: i += 1; continue
        if c == 255: break
        if c == code: return True
        i += 2 + p[i + 1]
    return False
written = []
def write(name, payload, note):
    with open(os.path.join(out, name + ".hex"), "w") as f:
        f.write(payload.hex() + "\n")
    written.append((name, note))
for client in ("dhclient", "udhcpc", "dhcpcd", "perfdhcp"):
    seen = {}
    for src, dst, sport, dport, dmac, p in packets(os.path.join(work, client + ".pcap")):
        t = msgtype(p)
        if t is None: continue
        kind = NAMES.get(t, "type%d" % t)
        op = p[0]
        dst_s = ".".join(str(b) for b in dst)
        if op == 1:
            if kind == "request":
                if is_renewal(p): kind = "renew-request"
                elif not has_opt(p, 54): kind = "init-reboot-request"
            name = "%s-%s" % (client, kind)
        else:
            # name the server reply after what it answers
            prev = seen.get("last_request_kind", "")
            suffix = {"renew-request": "-renew", "init-reboot-request": "-init-reboot", "inform": "-inform"}.get(prev, "")
            if kind == "ack" and prev == "inform": suffix = "-inform"
            name = "kea-%s%s-to-%s" % (kind, suffix, client)
        if op == 1: seen["last_request_kind"] = kind
        if name in seen: continue   # keep the first of each kind
        seen[name] = True
        write(name, p, "%s %s:%d -> %s:%d" % (client, ".".join(str(b) for b in src), sport, dst_s, dport))
with open(os.path.join(work, "written.txt"), "w") as f:
    for n, note in written: f.write("%s.hex  %s\n" % (n, note))
PY
cat "$WORK/written.txt"
cp "$WORK/written.txt" "$OUT/.captured-list.txt"
echo "Kea log excerpt:"; grep -E 'DHCP4_(LEASE|PACKET|INIT)' "$WORK"/kea-*.log | head -20 || true
