#!/bin/sh
# FreeBSD checks that run on a Linux CI host (freebsd.md §9). Each step prints its name;
# the script stops at the first failure (exit 1).
#
#   scripts/freebsd-checks.sh            # all steps
#   scripts/freebsd-checks.sh STEP...    # some: x86 aarch64 arm64-tests rc crates sample capsicum
#
# Needs: rustup targets x86_64-unknown-freebsd and aarch64-unknown-linux-gnu, the nightly
# toolchain with rust-src, and apt packages gcc-aarch64-linux-gnu qemu-user-static
# (shellcheck optional). Missing tools fail with the command that installs them.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n== %s\n' "$*"; }
need() { # program, install hint
	command -v "$1" >/dev/null 2>&1 || { echo "missing $1: $2" >&2; exit 1; }
}

x86() {
	step "cargo check + clippy -D warnings, x86_64-unknown-freebsd"
	rustup target list --installed | grep -qx x86_64-unknown-freebsd ||
		{ echo "rustup target add x86_64-unknown-freebsd" >&2; exit 1; }
	cargo check -p wren-core -p wrend --lib --bins --target x86_64-unknown-freebsd
	cargo clippy -p wren-core -p wrend --lib --bins --target x86_64-unknown-freebsd -- -D warnings
	# The daemon's unit tests must compile for FreeBSD too (they run on Linux).
	cargo clippy -p wrend --lib --profile test --target x86_64-unknown-freebsd -- -D warnings
}

aarch64() {
	step "cargo +nightly check -Zbuild-std, aarch64-unknown-freebsd (Tier 3)"
	rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src' ||
		{ echo "rustup component add rust-src --toolchain nightly" >&2; exit 1; }
	cargo +nightly check -Zbuild-std -p wren-core -p wrend --lib --bins \
		--target aarch64-unknown-freebsd
}

arm64_tests() {
	step "core and pure daemon tests on arm64 (qemu-user)"
	need aarch64-linux-gnu-gcc "apt-get install gcc-aarch64-linux-gnu"
	need qemu-aarch64-static "apt-get install qemu-user-static"
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
		{ echo "rustup target add aarch64-unknown-linux-gnu" >&2; exit 1; }
	export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
	export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu"
	cargo test -p wren-core --target aarch64-unknown-linux-gnu
	# Byte-layout code shared with FreeBSD: the BPF record walk, PF_ROUTE parsing, filters.
	cargo test -p wrend --lib --target aarch64-unknown-linux-gnu -- \
		bpf_records route_events freebsd_sys link::filter
}

rc() {
	step "rc.d script (sh -n, shellcheck, stub rc.subr)"
	need dash "apt-get install dash"
	scripts/freebsd/rc-test.sh
}

crates() {
	step "port/Makefile.crates and port/distinfo match Cargo.lock; cached crates match their checksums"
	if ! scripts/freebsd/cargo-crates.sh | diff -u port/Makefile.crates -; then
		echo "stale: scripts/freebsd/cargo-crates.sh > port/Makefile.crates" >&2
		exit 1
	fi
	# Every crate cached locally must hash to its Cargo.lock checksum (what distinfo holds).
	cache=
	for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/; do
		[ -d "$d" ] && cache=$d && break
	done
	checked=0
	if [ -n "$cache" ]; then
		awk '/^name = "/{n=$3} /^version = "/{v=$3} /^checksum = "/{c=$3; gsub(/"/,"",n); gsub(/"/,"",v); gsub(/"/,"",c); print n "-" v " " c}' Cargo.lock |
			while read -r crate sum; do
				f="$cache$crate.crate"
				[ -r "$f" ] || continue
				got=$(sha256sum "$f" | cut -d' ' -f1)
				if [ "$got" != "$sum" ]; then
					echo "checksum mismatch: $f" >&2
					exit 1
				fi
			done
		checked=1
	fi
	[ "$checked" = 1 ] || echo "(no cargo cache: crate checksums not checked)"
	# port/distinfo: crate names, order and SHA256 as in Cargo.lock, a SIZE each, the
	# release tarball named after the Makefile's version (no network).
	scripts/freebsd/make-distinfo.sh --check port/distinfo
	echo "Makefile.crates: $(grep -c . port/Makefile.crates) crates, up to date"
}

sample() {
	step "port sample configuration passes wrend -t"
	cargo build -p wrend
	tmp=$(mktemp)
	# The sample names the Pi's ue0; check it against an interface this host has.
	sed 's/"ue0"/"lo"/' port/files/wrend.json.sample >"$tmp"
	if ! target/debug/wrend -t "$tmp"; then rm -f "$tmp"; exit 1; fi
	rm -f "$tmp"
	for f in port/Makefile port/pkg-plist port/pkg-descr port/files/pkg-message.in \
		port/files/wrend.in port/files/UIDs port/files/GIDs; do
		[ -s "$f" ] || { echo "missing $f" >&2; exit 1; }
	done
	if command -v groff >/dev/null 2>&1; then
		groff -mdoc -Tutf8 -ww -z port/files/wrend.8
	fi
	# Everything the plist names is installed by do-install (or is the rc script).
	for f in wrend.json.sample syslog.conf.sample newsyslog.conf.sample wrend.8; do
		grep -q "$f" port/Makefile || { echo "do-install lacks $f" >&2; exit 1; }
	done
}

capsicum() {
	step "capsicum audit: no path open, bind, connect or addressed send after the sandbox point"
	if [ "$(id -u)" != 0 ]; then
		echo "(skipped: needs root for network namespaces)"
		return
	fi
	need strace "apt-get install strace"
	need udhcpc "apt-get install udhcpc"
	cargo build -p wrend
	timeout 120 scripts/freebsd/capsicum-audit.sh target/debug/wrend
	# dhcp-socket-type udp: every reply is an addressed sendmsg, made by the broker.
	WREN_AUDIT_SOCKET_TYPE=udp timeout 120 scripts/freebsd/capsicum-audit.sh target/debug/wrend
}

steps=${*:-x86 aarch64 arm64-tests rc crates sample capsicum}
for s in $steps; do
	case $s in
	x86) x86 ;;
	aarch64) aarch64 ;;
	arm64-tests) arm64_tests ;;
	rc) rc ;;
	crates) crates ;;
	sample) sample ;;
	capsicum) capsicum ;;
	*) echo "unknown step $s" >&2; exit 2 ;;
	esac
done
printf '\nfreebsd-checks: %s passed\n' "$steps"
