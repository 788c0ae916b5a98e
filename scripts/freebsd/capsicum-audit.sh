#!/bin/sh
# Capsicum readiness audit, on Linux (freebsd.md §9): runs wrend -u nobody under strace in
# a private network namespace pair (198.18.0.0/24 only), drives one client through
# DISCOVER/REQUEST, a unicast renewal, a lease-file compaction, a SIGHUP reload (file
# logger reopened), config-write and config-reload on the control socket and an exit
# (socket removed), with the broker on (WREN_BROKER=1), then
# lists every system call made after the privilege drop that capability mode would refuse
# (ECAPMODE): path-based open/stat/unlink (AT_FDCWD), connect, bind, sendto/sendmsg with a
# destination address, socket creation for lookups (netlink ≈ getifaddrs), execve.
#
# Exits 1 when such calls remain or the run did not exercise renewal, reload and exit;
# bounded (about 12 s, `timeout` in freebsd-checks.sh). Needs root, strace, udhcpc, python3
# (busybox) and iproute2.
#
#   sudo scripts/freebsd/capsicum-audit.sh [path/to/wrend]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
wrend=${1:-$root/target/debug/wrend}
[ -x "$wrend" ] || { echo "build first: cargo build -p wrend" >&2; exit 2; }
for p in strace udhcpc ip python3; do
	command -v $p >/dev/null 2>&1 || { echo "missing $p" >&2; exit 2; }
done

tag=$$
ns_s=wcap-s-$tag
ns_c=wcap-c-$tag
work=$(mktemp -d /tmp/wren-capaudit.XXXXXX)
client_pid=
cleanup() {
	if [ -n "$client_pid" ]; then kill "$client_pid" 2>/dev/null || true; fi
	if [ -r "$work/server.kea-dhcp4.pid" ]; then
		kill "$(cat "$work/server.kea-dhcp4.pid")" 2>/dev/null || true
	fi
	ip netns del "$ns_s" 2>/dev/null || true
	ip netns del "$ns_c" 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$ns_s"
ip netns add "$ns_c"
ip link add "wcs$tag" type veth peer name "wcc$tag"
ip link set "wcs$tag" netns "$ns_s"
ip link set "wcc$tag" netns "$ns_c"
ip -n "$ns_s" addr add 198.18.0.1/24 dev "wcs$tag"
ip -n "$ns_s" link set "wcs$tag" up
ip -n "$ns_s" link set lo up
ip -n "$ns_c" link set "wcc$tag" up
chown nobody "$work"

# dhcp-socket-type: raw (frames for every reply) or, with WREN_AUDIT_SOCKET_TYPE=udp,
# udp (replies by sendmsg to an address, which the broker makes for the server).
socket_type=${WREN_AUDIT_SOCKET_TYPE:-raw}
: >"$work/wrend-file.log"
chown nobody "$work/wrend-file.log"

cat >"$work/server.conf" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "wcs$tag" ], "dhcp-socket-type": "$socket_type" },
    "control-socket": { "socket-type": "unix", "socket-name": "$work/ctrl.sock" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$work/leases4.csv", "lfc-interval": 2 },
    "valid-lifetime": 600, "renew-timer": 300, "rebind-timer": 500,
    "subnet4": [ { "id": 1, "subnet": "198.18.0.0/24", "pools": [ { "pool": "198.18.0.100 - 198.18.0.199" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" }, { "output": "$work/wrend-file.log" } ], "severity": "INFO" } ]
  }
}
EOF

# One control command over the unix socket; prints the answer.
control() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
print(out.decode())' "$work/ctrl.sock" "$1"
}

# WREN_BROKER=1: the broker runs on Linux too, so connects and addressed sends leave the
# server process exactly as in FreeBSD capability mode.
KEA_PIDFILE_DIR=$work WREN_BROKER=1 ip netns exec "$ns_s" \
	strace -f -s 200 -o "$work/strace.log" "$wrend" -u nobody -c "$work/server.conf" \
	>"$work/wrend.log" 2>&1 &
i=0
until grep -q DHCP4_STARTED "$work/wrend.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$work/wrend.log"; exit 2; }
	sleep 0.1
done

# The client configures its lease, so the renewal is a real unicast to the server.
cat >"$work/client-script" <<'EOF'
#!/bin/sh
case "$1" in bound | renew) ip addr replace "$ip/24" dev "$interface" ;; esac
EOF
chmod 755 "$work/client-script"
ip netns exec "$ns_c" udhcpc -f -i "wcc$tag" -s "$work/client-script" -t 5 >"$work/udhcpc.log" 2>&1 &
client_pid=$!
sleep 2
kill -USR1 "$client_pid" # renew: unicast REQUEST, unicast ACK
sleep 3                  # a compaction runs
server_pid=$(cat "$work/server.kea-dhcp4.pid")
kill -HUP "$server_pid"
sleep 2
# The control channel's file work: config-write (temp file, fsync, rename, backup) and
# config-reload (re-read by name).
control '{ "command": "config-write" }' >"$work/config-write.json"
control '{ "command": "config-reload" }' >"$work/config-reload.json"
sleep 1
kill "$client_pid"
client_pid=
kill -TERM "$server_pid"
sleep 1

# Everything after the sandbox point that capability mode refuses. The drop's own checks
# (getgroups reads /proc/sys/kernel/ngroups_max) run before cap_enter on FreeBSD, so the
# audit starts at the DHCP4_STARTED log line, written right after the sandbox is entered.
# Only the server process: the broker (forked at the sandbox point, outside capability
# mode) is there to make exactly these calls.
awk -v pid="$server_pid" '/DHCP4_STARTED/ { after = 1; next } after && $1 == pid' "$work/strace.log" |
	grep -v 'resumed>' |
	grep -E 'openat\(AT_FDCWD|[^a-z]open\(|[^a-z]stat\(|statx\(AT_FDCWD|newfstatat\(AT_FDCWD|[^a-z]unlink\(|[^a-z]rename\(|connect\(|[^a-z]bind\(|execve\(|socket\(AF_NETLINK|socket\(AF_PACKET|sendto\([0-9]+, .*, \{sa_family|sendmsg\([0-9]+, \{msg_name=\{' |
	sed -E 's/^[0-9]+ +//' | cut -c1-160 >"$work/violations" || true

# The run must have exercised what it audits: a lease, a unicast renewal answered, a
# reload and a clean exit.
if ! grep -q 'sending renew to server' "$work/udhcpc.log" ||
	grep -q 'broadcasting renew' "$work/udhcpc.log"; then
	echo "capsicum-audit: the unicast renewal was not answered"
	cat "$work/udhcpc.log"
	exit 1
fi
grep -q DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS "$work/wrend.log" ||
	{ echo "capsicum-audit: the reload failed"; cat "$work/wrend.log"; exit 1; }
grep -q '"result": 0' "$work/config-write.json" ||
	{ echo "capsicum-audit: config-write failed"; cat "$work/config-write.json"; exit 1; }
ls "$work"/server.conf.*.bak >/dev/null 2>&1 ||
	{ echo "capsicum-audit: config-write left no backup"; exit 1; }
grep -q '"result": 0' "$work/config-reload.json" ||
	{ echo "capsicum-audit: config-reload failed"; cat "$work/config-reload.json"; exit 1; }
[ "$(grep -c DHCP4_CONFIG_COMPLETE "$work/wrend-file.log")" -ge 3 ] ||
	{ echo "capsicum-audit: the file logger was not reopened"; cat "$work/wrend.log"; exit 1; }
grep -q WREN_BROKER_STARTED "$work/wrend.log" ||
	{ echo "capsicum-audit: no broker"; cat "$work/wrend.log"; exit 1; }
[ ! -e "$work/ctrl.sock" ] ||
	{ echo "capsicum-audit: control socket left behind"; exit 1; }
grep -q DHCP4_SHUTDOWN "$work/wrend.log" ||
	{ echo "capsicum-audit: no clean exit"; cat "$work/wrend.log"; exit 1; }

if [ -s "$work/violations" ]; then
	echo "calls after the privilege drop that capability mode would refuse:"
	sort "$work/violations" | uniq -c | sort -rn
	exit 1
fi
echo "capsicum-audit ($socket_type): no path, connect, bind or addressed send after the drop"
