#!/usr/bin/env bash
# wrend vs kea-dhcp4 2.2, one after the other in the same run, on the same config:
#
#   sudo tests/bench/run.sh            # ~17 minutes; writes tests/bench/results.md and results.png
#
# What it measures (each server pinned to CPU $SERVER_CPU with taskset, the load on $LOAD_CPU):
#   1. perfdhcp relayed DORA (perfdhcp as relay agent 198.18.0.2 -> server 198.18.0.1) at each
#      offered rate in $RATES for $PERIOD s, a fresh server and an empty lease file per rate:
#      achieved rate, drops, avg/max latency, server CPU seconds per 1,000 exchanges
#      (utime+stime from /proc/<pid>/stat before/after); the highest rate with < 1 % drops.
#   1b. Direct clients: wren-loadgen's broadcast DORA over AF_PACKET on the client veth at each
#      rate in $DIRECT_RATES (the servers' raw-socket path): rate, drops, latency, CPU.
#   2. RSS (VmRSS, VmHWM) idle, after 10 exchanges, after 10,000 and after 50,000 leases.
#   3. Start-up time from exec to the first OFFER (wren-loadgen --probe, a DISCOVER every
#      1 ms) with an empty lease file and
#      with a generated 100,000-lease Kea CSV file.
#   4. Stripped binary size and shared libraries (ldd).
#   The throughput part also measures `wren-floor` (tests/loadgen/src/floor.rs), the cheapest
#   stateless responder that completes a relayed DORA (no state, no disk, no log): `floor`
#   with recvfrom + sendto per query, `floor-batch` with recvmmsg + sendmmsg (up to 32 per
#   wakeup) and 1 ms between batches, wrend's own I/O pattern: the CPU per exchange any server
#   pays on this machine (the kernel's per-packet and per-wakeup cost), the floor below which
#   no server's figure can go.
#
# Safety: everything runs in two network namespaces this script creates (veth pair, addresses
# in 198.18.0.0/15 only); every load is bounded in count (-n) and time (-p, timeout); every
# process is stopped by its PID and both namespaces are deleted on exit (trap).
#
# Knobs (environment): RATES="250 500 ..." PERIOD=4 SERVERS="wrend kea floor floor-batch"
# (the floors: the throughput part only) DIRECT_RATES="1000 4000" WREND_BIN=path
# WREND_TARGET=host (measure the glibc build; default: the static x86_64-unknown-linux-musl one)
# SERVER_CPU=0 LOAD_CPU=1 NICE=-20 OUT=tests/bench SKIP_BUILD=1 SKIP_MEMORY=1 SKIP_STARTUP=1
# BENCH_TMP=/tmp (where the work directory and lease files live; /dev/shm takes the disk out)
# REPEAT=3 (rounds of each throughput load per server; the report takes medians)
# PARTS="throughput memory startup size" (the parts to run; the rows of the parts not run are
#   kept from the previous $OUT/results.tsv, so `PARTS=throughput` refreshes only that table)
# CLIENT_RCVBUF=8388608 (bytes; the load generator's socket receive buffer, see below; 0 leaves
#   the system default) PROFILE=stat|record|strace (attach `perf stat` (CPU, context switches,
#   system calls, fdatasyncs), `perf record -g` or `strace -c` to the server during each
#   throughput load; output kept in the work directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

RATES="${RATES:-250 500 1000 2000 4000 8000 16000}"
PERIOD="${PERIOD:-4}"
SERVERS="${SERVERS:-wrend kea floor floor-batch}"
# The memory, start-up and size parts measure real servers only: the floor has nothing to
# compare there (no leases, no config).
DAEMONS=$(for s in $SERVERS; do [[ "$s" == floor* ]] || printf '%s ' "$s"; done)
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
# Scheduling priority of both servers and the load generators. On a machine shared with other
# work (builds), -20 keeps the neighbours from taking the pinned CPUs' time during the bounded
# runs, for wrend and Kea alike; NICE=0 measures at normal priority.
NICE="${NICE:--20}"
OUT="${OUT:-$ROOT/tests/bench}"
KEA_BIN=/usr/sbin/kea-dhcp4
PERFDHCP=/usr/sbin/perfdhcp
CLK_TCK=$(getconf CLK_TCK)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

[ "$(id -u)" = 0 ] || { echo "run.sh needs root (network namespaces): sudo $0" >&2; exit 1; }
# One benchmark at a time: two would share the pinned CPUs, and the receive-buffer sysctl of
# the throughput part must be restored to what it was before either of them.
LOCK_DIR=/run/lock; [ -d "$LOCK_DIR" ] || LOCK_DIR=/tmp
exec 9>"$LOCK_DIR/wren-bench.lock"
if ! flock -n 9; then echo "==> waiting for another tests/bench/run.sh to finish"; flock 9; fi
for p in "$KEA_BIN:kea-dhcp4-server" "$PERFDHCP:kea-admin" "/usr/bin/taskset:util-linux" "/usr/sbin/ip:iproute2"; do
  [ -x "${p%%:*}" ] || { echo "missing ${p%%:*}: apt-get install ${p##*:}" >&2; exit 1; }
done
if ! command -v cargo >/dev/null 2>&1; then
  for d in "${CARGO_HOME:-}/bin" "/home/${SUDO_USER:-nobody}/.cargo/bin" /root/.cargo/bin; do
    if [ -x "$d/cargo" ]; then export PATH="$d:$PATH"; break; fi
  done
fi
# wrend is measured as the static build (x86_64-unknown-linux-musl: one static-pie file, no
# libc.so or ld.so mapped, as it is meant to be installed on a small board) when that Rust
# target is installed (`.ci/run` installs it); WREND_TARGET=host measures the ordinary glibc
# build instead. The report says which one ran.
if [ -z "${WREND_TARGET:-}" ]; then
  if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
    WREND_TARGET=x86_64-unknown-linux-musl
  else
    WREND_TARGET=host
    echo "note: x86_64-unknown-linux-musl not installed (rustup target add x86_64-unknown-linux-musl): measuring the glibc build" >&2
  fi
fi
if [ "$WREND_TARGET" = host ]; then WREND_TARGET_ARGS=(); else WREND_TARGET_ARGS=(--target "$WREND_TARGET"); fi
if [ -z "${SKIP_BUILD:-}" ]; then
  echo "==> cargo build --release ${WREND_TARGET_ARGS[*]} -p wrend; cargo build --release -p wren-loadgen"
  cargo build --release "${WREND_TARGET_ARGS[@]}" -p wrend
  cargo build --release -p wren-loadgen
fi
PARTS="${PARTS:-throughput direct memory startup size}"
[ -n "${SKIP_MEMORY:-}" ] && PARTS="${PARTS//memory/}"
[ -n "${SKIP_STARTUP:-}" ] && PARTS="${PARTS//startup/}"
part() { [[ " $PARTS " == *" $1 "* ]]; }
# perfdhcp has no option for its socket receive buffer, and at a few thousand replies per
# second its default (net.core.rmem_default, 208 KiB) overflows before either server is
# saturated: the load generator, not the server, would set the ceiling. The default is a
# global sysctl (read-only inside a network namespace), so it is raised only for the
# throughput loads and restored on exit (trap), for both servers alike: Kea's own sockets,
# which set no size, get the same default; wrend asks for 4 MiB itself (SO_RCVBUFFORCE).
CLIENT_RCVBUF="${CLIENT_RCVBUF:-8388608}"
RMEM_DEFAULT_SAVED=""
PROFILE="${PROFILE:-}"
REPEAT="${REPEAT:-3}"
[ -n "$PROFILE" ] && KEEP=1
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "$WREND_TARGET" = host ]; then WREND_BIN="${WREND_BIN:-$TARGET/release/wrend}"
else WREND_BIN="${WREND_BIN:-$TARGET/$WREND_TARGET/release/wrend}"; fi
LOADGEN="$TARGET/release/wren-loadgen"
FLOOR_BIN="$TARGET/release/wren-floor"
[ -x "$WREND_BIN" ] || { echo "no $WREND_BIN" >&2; exit 1; }
[ -x "$LOADGEN" ] || { echo "no $LOADGEN" >&2; exit 1; }
if [[ " $SERVERS " == *" floor"* ]]; then [ -x "$FLOOR_BIN" ] || { echo "no $FLOOR_BIN" >&2; exit 1; }; fi

TAG="$$"
NS_S="wrenbench-s-$TAG"
NS_C="wrenbench-c-$TAG"
IF_S="wbs$TAG"
IF_C="wbc$TAG"
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/wren-bench.XXXXXX")
DATA="$WORK/data.tsv"
: >"$DATA"
SERVER_PID=""
PROBE_PID=""
LOAD_PID=""

stop_pid() { # PID: SIGTERM, up to 10 s, then SIGKILL; never a group, never by name
  local pid="$1"
  [ -n "$pid" ] && [ "$pid" -gt 1 ] 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
restore_rmem() {
  if [ -n "$RMEM_DEFAULT_SAVED" ]; then
    sysctl -q -w net.core.rmem_default="$RMEM_DEFAULT_SAVED" >/dev/null || true
    RMEM_DEFAULT_SAVED=""
  fi
}
cleanup() {
  restore_rmem
  stop_pid "$LOAD_PID"; stop_pid "$PROBE_PID"; stop_pid "$SERVER_PID"
  ip netns del "$NS_S" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> namespaces $NS_S / $NS_C (198.18.0.1/15 <-> 198.18.0.2/15)"
ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C"
ip -n "$NS_S" addr add 198.18.0.1/15 dev "$IF_S"
ip -n "$NS_C" addr add 198.18.0.2/15 dev "$IF_C"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_C" link set "$IF_C" up

# The same Kea config for both servers: one /15 subnet (relayed clients with giaddr
# 198.18.0.2 and direct clients on the veth both select it), ~130,000 pool addresses,
# memfile persist=true, no LFC, logging at WARN.
write_config() { # FILE LEASEFILE
  cat >"$1" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$IF_S" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$2", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "renew-timer": 900,
    "rebind-timer": 1800,
    "subnet4": [
      {
        "id": 1,
        "subnet": "198.18.0.0/15",
        "pools": [ { "pool": "198.18.1.0 - 198.19.255.250" } ],
        "option-data": [
          { "name": "routers", "data": "198.18.0.1" },
          { "name": "domain-name-servers", "data": "198.18.0.53" }
        ]
      }
    ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "$WORK/server.log" } ], "severity": "WARN" } ]
  }
}
EOF
}
CONF="$WORK/server.conf"
LEASES="$WORK/leases4.csv"
write_config "$CONF" "$LEASES"

binary_of() { case "$1" in kea) echo "$KEA_BIN" ;; floor*) echo "$FLOOR_BIN" ;; *) echo "$WREND_BIN" ;; esac; }
# The floor reads no config: it answers on 198.18.0.1:67 and stops by itself well after any
# load of this run (start-up wait + perfdhcp's timeout), if run.sh's stop_pid never came.
FLOOR_MAX_SECONDS=$(( PERIOD + 300 > 3600 ? 3600 : PERIOD + 300 ))
server_args() { # KIND
  case "$1" in
    floor) echo "--listen 198.18.0.1 --server-id 198.18.0.1 --max-seconds $FLOOR_MAX_SECONDS" ;;
    floor-batch) echo "--listen 198.18.0.1 --server-id 198.18.0.1 --max-seconds $FLOOR_MAX_SECONDS --batch 32 --hold-us 1000" ;;
    *) echo "-c $CONF" ;;
  esac
}

listening_67() { ip netns exec "$NS_S" cat /proc/net/udp | awk 'NR>1 && $2 ~ /:0043$/ {f=1} END {exit !f}'; }

start_server() { # KIND: sets SERVER_PID, waits until port 67 is bound (30 s max)
  local bin; bin=$(binary_of "$1")
  local args; read -r -a args <<<"$(server_args "$1")"
  KEA_PIDFILE_DIR="$WORK" KEA_LOCKFILE_DIR="$WORK" \
    ip netns exec "$NS_S" nice -n "$NICE" taskset -c "$SERVER_CPU" "$bin" "${args[@]}" >>"$WORK/server.out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "$1 exited during start-up:" >&2; tail -n 20 "$WORK/server.out" >&2; exit 1; }
    listening_67 && { sleep 0.3; return 0; }
    sleep 0.1
  done
  echo "$1 did not bind port 67 in 30 s" >&2; exit 1
}
stop_server() { stop_pid "$SERVER_PID"; SERVER_PID=""; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU time in ns of every thread of PID (the scheduler's sum_exec_runtime, exact where the
# utime/stime ticks above have 10 ms steps: a few ticks per load at the low rates).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
# UDP datagrams the server namespace's kernel dropped for a full socket receive buffer.
rcvbuf_errors() { # [NS]
  ip netns exec "${1:-$NS_S}" awk '$1 == "Udp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") col = i; n = 1 } else { print $col; exit } }' /proc/net/snmp
}
mem_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
lease_count() { [ -f "$LEASES" ] && awk -F, 'NR>1 && $4 > 0 {a[$1]=1} END {print length(a)}' "$LEASES" || echo 0; }

run_perfdhcp() { # RATE COUNT PERIOD MACBASE -> perfdhcp output on stdout
  timeout $(( $3 + 20 )) ip netns exec "$NS_C" nice -n "$NICE" taskset -c "$LOAD_CPU" "$PERFDHCP" -4 -l "$IF_C" \
    -r "$1" -R 16000000 -n "$2" -p "$3" -W 500000 -b "mac=$4" 198.18.0.1 2>&1 || true
}
perf_field() { # OUTPUT SECTION(DISCOVER-OFFER|REQUEST-ACK) KEY
  awk -v sec="$2" -v key="$3" '
    /^\*\*\*Statistics for:/ { in_sec = index($0, sec) > 0; next }
    /^\*\*\*/ { in_sec = 0 }
    in_sec && index($0, key ":") == 1 { v = substr($0, length(key) + 2); gsub(/[ a-z%]/, "", v); print v; exit }' <<<"$1"
}

# ---------------------------------------------------------------- 1. throughput per rate
profile_start() { # SERVER RATE: attaches $PROFILE to the server; sets PROFILE_PID
  PROFILE_PID=""
  local out="$WORK/profile-$1-$2"
  case "$PROFILE" in
    stat) perf stat -e task-clock,context-switches,raw_syscalls:sys_enter,syscalls:sys_enter_fdatasync \
            -p "$SERVER_PID" -o "$out.stat.txt" -- sleep "$PERIOD" >/dev/null 2>&1 & PROFILE_PID=$! ;;
    record) perf record -q -g -F 10000 -p "$SERVER_PID" -o "$out.perf.data" -- sleep "$PERIOD" >/dev/null 2>&1 & PROFILE_PID=$! ;;
    strace) strace -c -f -p "$SERVER_PID" -o "$out.strace.txt" & PROFILE_PID=$! ;;
    "") ;;
    *) echo "PROFILE=$PROFILE: stat, record or strace" >&2; exit 1 ;;
  esac
  [ -n "$PROFILE_PID" ] && sleep 0.2
  return 0
}
profile_stop() {
  [ -n "${PROFILE_PID:-}" ] || return 0
  if [ "$PROFILE" = strace ]; then kill -INT "$PROFILE_PID" 2>/dev/null || true; fi
  wait "$PROFILE_PID" 2>/dev/null || true
  PROFILE_PID=""
}
if part throughput && [ "$CLIENT_RCVBUF" != 0 ]; then
  RMEM_DEFAULT_SAVED=$(sysctl -n net.core.rmem_default)
  sysctl -q -w net.core.rmem_default="$CLIENT_RCVBUF" >/dev/null
  echo "==> net.core.rmem_default $RMEM_DEFAULT_SAVED -> $CLIENT_RCVBUF for the throughput loads"
fi
# Rates outer, servers inner and REPEAT rounds in between: on a shared VM the CPU time of the
# same work drifts (the host's load, where the vCPUs land) over minutes, so the servers are
# measured side by side and report.py takes each figure's median over the rounds.
part throughput && for rate in $RATES; do
  for round in $(seq "$REPEAT"); do
  for server in $SERVERS; do
    rm -f "$LEASES" "$LEASES".*
    count=$(( rate * PERIOD ))
    start_server "$server"
    profile_start "$server" "$rate-$round"
    t0=$(cpu_ticks "$SERVER_PID"); n0=$(cpu_ns "$SERVER_PID")
    e0=$(rcvbuf_errors); c0=$(rcvbuf_errors "$NS_C")
    out=$(run_perfdhcp "$rate" "$count" "$PERIOD" "00:0c:01:00:00:00")
    t1=$(cpu_ticks "$SERVER_PID"); n1=$(cpu_ns "$SERVER_PID")
    e1=$(rcvbuf_errors); c1=$(rcvbuf_errors "$NS_C")
    profile_stop
    stop_server
    # Rows written = ACKs the server sent (one lease row per ACK, written before it): with
    # perfdhcp's count of ACKs received, this tells server-side from client-side loss.
    rows=$( { [ -f "$LEASES" ] && awk -F, 'NR > 1 && $4 > 0' "$LEASES" | wc -l; } || echo 0)
    echo "$out" >"$WORK/perfdhcp-$server-$rate.txt"
    achieved=$(awk '/^Rate:/ {print $2; exit}' <<<"$out")
    do_sent=$(perf_field "$out" DISCOVER-OFFER "sent packets")
    acks=$(perf_field "$out" REQUEST-ACK "received packets")
    do_avg=$(perf_field "$out" DISCOVER-OFFER "avg delay")
    do_max=$(perf_field "$out" DISCOVER-OFFER "max delay")
    ra_avg=$(perf_field "$out" REQUEST-ACK "avg delay")
    ra_max=$(perf_field "$out" REQUEST-ACK "max delay")
    printf 'rate\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$rate" "${achieved:-0}" \
      "${do_sent:-0}" "${acks:-0}" "${do_avg:-0}" "${do_max:-0}" "${ra_avg:-0}" "${ra_max:-0}" \
      "$(( t1 - t0 ))" "$rows" "$(( e1 - e0 ))" "$(( c1 - c0 ))" "$(( n1 - n0 ))" >>"$DATA"
    echo "$server @ $rate/s (round $round): achieved ${achieved:-?}/s, discovers ${do_sent:-?}, acks ${acks:-?} (server wrote $rows), cpu $(( (n1 - n0) / 1000000 )) ms, socket buffer overflows: server side $(( e1 - e0 )), perfdhcp side $(( c1 - c0 ))"
  done
  done
done
restore_rmem

# ---------------------------------------------------------------- 1b. direct clients (raw path)
# wren-loadgen (tests/loadgen): broadcast DORA from distinct MACs over an AF_PACKET socket on
# the client's veth, as clients on the server's own link do. This is the servers' raw-socket
# path (wrend: AF_PACKET here, BPF on FreeBSD; Kea: its raw packet filter), which perfdhcp's
# relayed load never touches. Fresh server and empty lease file per rate and round; the
# loadgen stops by itself (--duration, then --timeout-ms for the last answers).
DIRECT_RATES="${DIRECT_RATES:-1000 4000}"
part direct && for rate in $DIRECT_RATES; do
  for round in $(seq "$REPEAT"); do
  for server in $SERVERS; do
    case "$server" in floor*) continue ;; esac # wren-floor answers relayed queries only
    rm -f "$LEASES" "$LEASES".*
    start_server "$server"
    n0=$(cpu_ns "$SERVER_PID")
    timeout $(( PERIOD + 30 )) ip netns exec "$NS_C" nice -n "$NICE" taskset -c "$LOAD_CPU" "$LOADGEN" \
      --iface "$IF_C" --clients $(( rate * PERIOD )) --rate "$rate" --duration "$PERIOD" \
      --timeout-ms 1000 --seed $(( (rate / 100 + round) % 250 )) --json - >"$WORK/direct-$server-$rate-$round.txt" 2>&1 || true
    json=$(grep '^{' "$WORK/direct-$server-$rate-$round.txt" || true)
    n1=$(cpu_ns "$SERVER_PID")
    fields=$(printf '%s' "$json" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("\t".join(str(d[k]) for k in ("started", "acks", "drops", "achieved_rate", "latency_avg_ms", "latency_p99_ms", "latency_max_ms")))' 2>/dev/null \
      || printf '0\t0\t0\t0\t0\t0\t0')
    printf 'direct\t%s\t%s\t%s\t%s\t%s\n' "$server" "$rate" "$round" "$fields" "$(( n1 - n0 ))" >>"$DATA"
    echo "$server direct @ $rate/s (round $round): started/acks/drops/rate/avg/p99/max $(echo "$fields" | tr '\t' ' '), cpu $(( (n1 - n0) / 1000000 )) ms"
    stop_server
  done
  done
done

# ---------------------------------------------------------------- 2. memory
if part memory; then
  for server in $DAEMONS; do
    rm -f "$LEASES" "$LEASES".*
    start_server "$server"
    sleep 1
    printf 'mem\t%s\t0\t%s\t%s\t0\t%s\n' "$server" "$(mem_kb "$SERVER_PID" VmRSS)" "$(mem_kb "$SERVER_PID" VmHWM)" "$(mem_kb "$SERVER_PID" RssAnon)" >>"$DATA"
    chunk=0
    for target in 10 10000 50000; do
      deadline=$(( $(date +%s) + 150 ))
      while [ "$(lease_count)" -lt "$target" ] && [ "$(date +%s)" -lt "$deadline" ]; do
        chunk=$(( chunk + 1 ))
        need=$(( target - $(lease_count) ))
        run_perfdhcp 800 "$need" $(( need / 800 + 2 )) "00:0d:$(printf %02x "$chunk"):00:00:00" >/dev/null
      done
      sleep 0.5
      printf 'mem\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$target" "$(mem_kb "$SERVER_PID" VmRSS)" \
        "$(mem_kb "$SERVER_PID" VmHWM)" "$(lease_count)" "$(mem_kb "$SERVER_PID" RssAnon)" >>"$DATA"
      echo "$server with $(lease_count) leases: VmRSS $(mem_kb "$SERVER_PID" VmRSS) kB VmHWM $(mem_kb "$SERVER_PID" VmHWM) kB"
    done
    stop_server
  done
fi

# ---------------------------------------------------------------- 3. start-up time
make_lease_file() { # N FILE: N valid leases in Kea 2.2's CSV format
  awk -v n="$1" -v now="$(date +%s)" 'BEGIN {
    print "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context"
    for (i = 0; i < n; i++) {
      a = 256 + i                       # from 198.18.1.0 upward
      printf "198.%d.%d.%d,02:be:%02x:%02x:%02x:%02x,,3600,%d,1,0,0,,0,\n", 18 + int(a / 65536), int(a / 256) % 256, a % 256, int(i / 16777216) % 256, int(i / 65536) % 256, int(i / 256) % 256, i % 256, now + 3600
    }
  }' >"$2"
}
startup_ms() { # KIND: sets STARTUP_MS (exec to the first OFFER the probe sees; -1: none) and STARTUP_RSS
  ip netns exec "$NS_C" nice -n "$NICE" taskset -c "$LOAD_CPU" "$LOADGEN" --iface "$IF_C" --probe --duration 60 --seed 201 >"$WORK/probe.out" 2>&1 &
  PROBE_PID=$!
  sleep 0.3
  # t0 is taken by the shell that then execs the server (inside the namespace, on its CPU):
  # the figure is exec -> first OFFER, without `ip netns exec` and `taskset` start-up (10-25
  # ms on a loaded machine), which would otherwise dominate a few-millisecond start.
  rm -f "$WORK/t0"
  # shellcheck disable=SC2016 # the inner shell expands its own variables
  KEA_PIDFILE_DIR="$WORK" KEA_LOCKFILE_DIR="$WORK" \
    ip netns exec "$NS_S" nice -n "$NICE" taskset -c "$SERVER_CPU" bash -c 'read -r c w _ </proc/self/schedstat; printf "%s %s %s\n" "${EPOCHREALTIME/[.,]/}" "$c" "$w" >"$1"; shift; exec "$@"' \
    t0 "$WORK/t0" "$(binary_of "$1")" -c "$CONF" >>"$WORK/server.out" 2>&1 &
  SERVER_PID=$!
  wait "$PROBE_PID" || true
  PROBE_PID=""
  local t0; t0=$(awk '{print $1}' "$WORK/t0" 2>/dev/null || echo 0)
  # CPU time the launching shell (same PID: ip netns exec, nice, taskset, bash, then exec) had
  # used before the exec, subtracted below so the CPU figure is the server's own.
  local c0; c0=$(awk '{print $2}' "$WORK/t0" 2>/dev/null || echo 0)
  local w0; w0=$(awk '{print $3}' "$WORK/t0" 2>/dev/null || echo 0)
  local t1; t1=$(awk '/first answer/ {print $5}' "$WORK/probe.out")
  STARTUP_OFFER=$(awk '/first answer/ {print $10}' "$WORK/probe.out")
  sleep 0.5
  STARTUP_RSS=$(mem_kb "$SERVER_PID" VmRSS || true)
  # The server's CPU time since its exec (ns on CPU, /proc/PID/schedstat): start-up plus answering the
  # probe's few DISCOVERs. Unlike the wall time it does not count waiting for a CPU that
  # neighbours hold, so it is the fairer start-up figure on a shared machine.
  STARTUP_CPU=$(awk -v c0="${c0:-0}" '{printf "%.1f", ($1 - c0) / 1e6}' "/proc/$SERVER_PID/schedstat" 2>/dev/null || echo -1)
  # ... and the time it spent runnable but waiting for its CPU (schedstat's second field):
  # what other jobs' load adds to the wall time.
  STARTUP_WAIT=$(awk -v w0="${w0:-0}" '{printf "%.1f", ($2 - w0) / 1e6}' "/proc/$SERVER_PID/schedstat" 2>/dev/null || echo -1)
  stop_server
  if [ -n "$t1" ] && [ "$t0" != 0 ]; then STARTUP_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1000}'); else STARTUP_MS=-1; fi
}
if part startup; then
  make_lease_file 100000 "$WORK/leases-100k.csv"
  for server in $DAEMONS; do
    for run in 1 2 3; do
      rm -f "$LEASES" "$LEASES".*
      startup_ms "$server"
      printf 'start\t%s\tempty\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$run" "$STARTUP_MS" "${STARTUP_RSS:-0}" "${STARTUP_OFFER:-none}" "${STARTUP_CPU:--1}" "${STARTUP_WAIT:--1}" >>"$DATA"
      cp "$WORK/leases-100k.csv" "$LEASES"
      startup_ms "$server"
      printf 'start\t%s\t100k\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$run" "$STARTUP_MS" "${STARTUP_RSS:-0}" "${STARTUP_OFFER:-none}" "${STARTUP_CPU:--1}" "${STARTUP_WAIT:--1}" >>"$DATA"
      echo "$server start-up run $run: $(tail -n 2 "$DATA" | awk -F'\t' '{printf "%s %s ms (RSS %s kB)  ", $3, $5, $6}')"
    done
  done
fi

# ---------------------------------------------------------------- 4. size and libraries
part size && for server in $DAEMONS; do
  bin=$(binary_of "$server")
  strip -s -o "$WORK/$server.stripped" "$bin" 2>/dev/null || cp "$bin" "$WORK/$server.stripped"
  libs=$(ldd "$bin" | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | sort -u)
  libs_bytes=0
  for l in $libs; do libs_bytes=$(( libs_bytes + $(stat -L -c %s "$l") )); done
  names=$(for l in $libs; do basename "$l"; done | tr '\n' ' ')
  printf 'size\t%s\t%s\t%s\t%s\t%s\n' "$server" "$(stat -c %s "$WORK/$server.stripped")" \
    "$(echo "$libs" | grep -c . || true)" "$libs_bytes" "$names" >>"$DATA"
done

# ---------------------------------------------------------------- report
{
  echo "cpu	$(awk -F: '/model name/ {sub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)"
  echo "kernel	$(uname -r)"
  echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "kea	$($KEA_BIN -v 2>/dev/null | head -n 1)"
  echo "wrend	$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  if [ "$WREND_TARGET" = host ]; then echo "wrend_build	glibc, dynamically linked (cargo build --release)"
  else echo "wrend_build	static, $WREND_TARGET (cargo build --release --target $WREND_TARGET)"; fi
  echo "period	$PERIOD"
  echo "cpus	$(nproc)"
  echo "nice	$NICE"
  echo "load_start	$LOAD_START"
  echo "load_end	$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "clk_tck	$CLK_TCK"
  echo "client_rcvbuf	$CLIENT_RCVBUF"
  echo "cpu_unit	ns"
  echo "repeat	$REPEAT"
  for name in $PARTS; do echo "part_$name	$(date -u '+%Y-%m-%d %H:%M UTC') $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"; done
} >"$WORK/env.tsv"
# The parts not run this time keep their rows (and their date) from the previous results.
for pair in throughput:rate direct:direct memory:mem startup:start size:size; do
  name=${pair%%:*} kind=${pair##*:}
  part "$name" && continue
  [ -f "$OUT/results.tsv" ] || continue
  awk -F'\t' -v k="$kind" '$1 == k' "$OUT/results.tsv" >>"$DATA"
  if grep -q "^part_$name	" "$OUT/results.env.tsv" 2>/dev/null; then
    grep "^part_$name	" "$OUT/results.env.tsv" >>"$WORK/env.tsv"
  elif [ -f "$OUT/results.env.tsv" ]; then
    awk -F'\t' -v n="$name" '$1 == "date" {d = $2} $1 == "wrend" {w = $2} END {if (d) print "part_" n "\t" d " " w}' "$OUT/results.env.tsv" >>"$WORK/env.tsv"
  fi
done
cp "$DATA" "$OUT/results.tsv"
cp "$WORK/env.tsv" "$OUT/results.env.tsv"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
# (report.py can be rerun on results.tsv + results.env.tsv alone)
"$PY" "$ROOT/tests/bench/report.py" "$OUT/results.tsv" "$OUT/results.env.tsv" "$OUT/results.md" "$OUT/results.png"
echo
cat "$OUT/results.md"
