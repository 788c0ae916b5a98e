#!/usr/bin/env bash
# Runs every wren fuzz target for SECONDS each (default 20), bounded in time and memory.
#
#   fuzz/run.sh 20            # CI: ~20 s per target after the build
#   fuzz/run.sh 600           # a longer run; figures go in fuzz/README.md
#   FUZZ_TARGETS="engine" fuzz/run.sh 60
#
# Needs a nightly toolchain and cargo-fuzz (installed here when missing). Corpora grow in
# fuzz/corpus/<target> (not committed), seeded from fuzz/seeds/<target> and, for
# config_parse, Kea's example configs when /work/shared/corpus or ../shared/corpus exists.
# Crashes land in fuzz/artifacts/<target>/; the script exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-20}"
case "$SECONDS_EACH" in ''|*[!0-9]*) echo "usage: fuzz/run.sh SECONDS" >&2; exit 2;; esac

if ! command -v cargo >/dev/null 2>&1; then
  for d in "${CARGO_HOME:-}/bin" "/home/${SUDO_USER:-nobody}/.cargo/bin" /root/.cargo/bin; do
    if [ -x "$d/cargo" ]; then export PATH="$d:$PATH"; break; fi
  done
fi
if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

TARGETS="${FUZZ_TARGETS:-message_parse engine config_parse lease_csv control classify}"
for t in $TARGETS; do
  mkdir -p "fuzz/corpus/$t"
  cp -n fuzz/seeds/"$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
done
for shared in /work/shared/corpus ../shared/corpus; do
  if [ -d "$shared" ]; then
    find "$shared" -name '*.json' -size -64k -print0 2>/dev/null |
      while IFS= read -r -d '' f; do
        cp -n "$f" "fuzz/corpus/config_parse/kea-$(basename "$(dirname "$f")")-$(basename "$f")" 2>/dev/null || true
      done
    break
  fi
done

# Built once, then each fuzzer binary runs directly: `cargo fuzz run` would rebuild first
# whenever a source changed since, eating the target's time.
echo "==> cargo +nightly fuzz build -O"
cargo +nightly fuzz build -O
BIN="fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

status=0
summary=""
for t in $TARGETS; do
  log="fuzz/artifacts/$t.log"
  mkdir -p "fuzz/artifacts/$t"
  echo "==> $t for ${SECONDS_EACH}s"
  set +e
  timeout $((SECONDS_EACH + 120)) "$BIN/$t" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=4096 -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || echo '?')
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
  ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
  crashes=$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
  line="$t: rc $rc, executions $execs, coverage $cov edges, features $ft, corpus $(find "fuzz/corpus/$t" -type f | wc -l), crash/oom/timeout files $crashes"
  echo "$line"
  summary="$summary$line"$'\n'
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    status=1
    tail -n 40 "$log"
  fi
done
echo
echo "fuzz summary (${SECONDS_EACH}s per target):"
printf '%s' "$summary"
exit $status
