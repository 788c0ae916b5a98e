#!/usr/bin/env bash
# The whole wren suite: formatting, lints, the no_std core build, the FreeBSD check, unit tests,
# and the end-to-end tests (real DHCP clients against wrend in network namespaces; root needed).
#
#   sudo scripts/test.sh                 # everything, e2e against wrend
#   sudo WREN_SERVER=kea scripts/test.sh # e2e against kea-dhcp4 2.2 (proves the harness)
#   WREN_E2E_THREADS=1                   # e2e tests one at a time (default 2)
#   WREN_FUZZ_SECONDS=600                # each fuzz target longer (default 20 s)
set -euo pipefail
cd "$(dirname "$0")/.."

# Under sudo, PATH loses ~/.cargo/bin: look for the invoking user's toolchain.
if ! command -v cargo >/dev/null 2>&1; then
  for d in "${CARGO_HOME:-}/bin" "/home/${SUDO_USER:-nobody}/.cargo/bin" /root/.cargo/bin; do
    if [ -x "$d/cargo" ]; then export PATH="$d:$PATH"; break; fi
  done
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

# Every step runs even when an earlier one failed (one broken lint must not hide the e2e
# results); the script exits 1 at the end, listing what failed.
FAILED=()
step() {
  printf '\n==> %s\n' "$*"
  if ! "$@"; then
    FAILED+=("$*")
    printf '==> FAILED: %s\n' "$*"
  fi
}
start=$(date +%s)

step cargo fmt --all --check
step cargo clippy --workspace --all-targets -- -D warnings
# core stays no_std
step cargo build -p wren-core --target x86_64-unknown-none
# FreeBSD: x86_64 check + clippy, aarch64 (nightly build-std), core tests on arm64 under qemu,
# the rc.d script, the port's crate list (scripts/freebsd-checks.sh says what each step needs).
step scripts/freebsd-checks.sh
# the binaries the e2e tests run (wrend; wren-loadgen for tests/tests/storm.rs)
step cargo build -p wrend -p wren-loadgen
# the static build (musl: no libc.so/ld.so mapped; what tests/bench/run.sh measures) still builds
step cargo build -p wrend --target x86_64-unknown-linux-musl
step cargo test --workspace --exclude wren-tests
# cargo-fuzz targets (fuzz/README.md), each for WREN_FUZZ_SECONDS (default 20): a crash,
# leak or timeout fails the suite, its input left in fuzz/artifacts/<target>/.
step fuzz/run.sh "${WREN_FUZZ_SECONDS:-20}"

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: the end-to-end tests need root (network namespaces): run sudo scripts/test.sh" >&2
  FAILED+=("e2e tests (not root)")
else
  echo
  echo "e2e server: ${WREN_SERVER:-wrend}; ${WREN_E2E_THREADS:-2} tests at a time"
  step timeout 60m cargo test -p wren-tests --no-fail-fast -- --test-threads "${WREN_E2E_THREADS:-2}"
fi

echo
if [ ${#FAILED[@]} -eq 0 ]; then
  echo "All checks passed in $(( $(date +%s) - start )) s."
else
  echo "FAILED after $(( $(date +%s) - start )) s:"
  printf '  %s\n' "${FAILED[@]}"
  exit 1
fi
