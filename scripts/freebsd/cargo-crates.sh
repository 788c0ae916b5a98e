#!/bin/sh
# Prints the port's CARGO_CRATES list from Cargo.lock, byte for byte what the ports tree's
# `make cargo-crates` prints for this workspace (crates.io packages in Cargo.lock order,
# NAME-VERSION, "CARGO_CRATES=<TAB>first \", then "<TAB><TAB>next \", the last without
# the backslash; path members and other sources left out), so port/Makefile.crates can be
# regenerated and checked without a ports tree:
#
#   scripts/freebsd/cargo-crates.sh > port/Makefile.crates
#   scripts/freebsd/cargo-crates.sh | diff -u port/Makefile.crates -   # the CI check
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
lock=${1:-$root/Cargo.lock}
[ -r "$lock" ] || { echo "cargo-crates.sh: no $lock" >&2; exit 1; }
awk '
function flush() {
	if (source == "registry+https://github.com/rust-lang/crates.io-index")
		list[n++] = name "-" version
	name = ""; version = ""; source = ""
}
function unquote(s) { gsub(/"/, "", s); return s }
/^\[\[package\]\]$/ { flush(); next }
/^\[/ { flush(); next }
/^name = "/ { name = unquote($3) }
/^version = "/ { version = unquote($3) }
/^source = "/ { source = unquote($3) }
END {
	flush()
	for (i = 0; i < n; i++) {
		printf "%s\t%s%s", (i == 0 ? "CARGO_CRATES=" : "\t"), list[i], (i == n - 1 ? "\n" : " \\\n")
	}
}
' "$lock"
