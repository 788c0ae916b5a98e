#!/bin/sh
# Writes the port's distinfo in the format `make makesum` writes (freebsd.md §5): a
# TIMESTAMP line, then SHA256 and SIZE for every distfile in DISTFILES order — the release
# tarball first, then one rust/crates/NAME-VERSION.crate per crates.io package of
# Cargo.lock, in Cargo.lock order (the CARGO_CRATES order of port/Makefile.crates).
#
#   scripts/freebsd/make-distinfo.sh [REF] > port/distinfo    # REF: default v$DISTVERSION
#   scripts/freebsd/make-distinfo.sh --check [port/distinfo]   # the CI check, no network
#
# The release tarball is what USE_GITHUB fetches, named
# GH_ACCOUNT-GH_PROJECT-DISTVERSIONPREFIX+DISTVERSION_GH0.tar.gz: `git archive
# --format=tar.gz` of REF with GitHub's top directory (PROJECT-VERSION/, the tag without its
# leading v). git's built-in gzip is what GitHub uses for its archives, so the checksum
# matches the download for the same commit; after tagging a release, confirm once with
# `make makesum` in the port. TIMESTAMP is REF's commit time (SOURCE_DATE_EPOCH overrides),
# so the output is reproducible.
#
# Crate SHA256 sums are Cargo.lock's `checksum` fields (crates.io's own .crate sums); each
# SIZE is the byte count of the .crate from the local cargo cache, else downloaded from
# static.crates.io, and every file is hashed against Cargo.lock before its size is used.
#
# --check compares an existing distinfo with Cargo.lock and port/Makefile without network
# or git: the crate names, order and SHA256 sums must equal Cargo.lock's, every crate must
# have a positive SIZE, and the release tarball's name must follow the Makefile's version
# (its checksum changes with every commit, so it is not compared).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
lock=Cargo.lock
makefile=port/Makefile

makevar() { # the value of NAME= in the port Makefile (first assignment)
	sed -n "s/^$1=[[:space:]]*//p" "$makefile" | head -n 1
}
portname=$(makevar PORTNAME)
prefix=$(makevar DISTVERSIONPREFIX)
version=$(makevar DISTVERSION)
account=$(makevar GH_ACCOUNT)
project=$(makevar GH_PROJECT)
[ -n "$project" ] || project=$portname
if [ -z "$portname" ] || [ -z "$version" ] || [ -z "$account" ]; then
	echo "make-distinfo.sh: PORTNAME, DISTVERSION or GH_ACCOUNT missing in $makefile" >&2
	exit 1
fi
distfile="$account-$project-$prefix${version}_GH0.tar.gz"

# "NAME-VERSION CHECKSUM" per crates.io package, Cargo.lock order (as cargo-crates.sh).
crates() {
	awk '
	function flush() {
		if (source == "registry+https://github.com/rust-lang/crates.io-index")
			print name "-" version " " checksum
		name = ""; version = ""; source = ""; checksum = ""
	}
	function unquote(s) { gsub(/"/, "", s); return s }
	/^\[\[package\]\]$/ { flush(); next }
	/^\[/ { flush(); next }
	/^name = "/ { name = unquote($3) }
	/^version = "/ { version = unquote($3) }
	/^source = "/ { source = unquote($3) }
	/^checksum = "/ { checksum = unquote($3) }
	END { flush() }
	' "$lock"
}

check() {
	file=${1:-port/distinfo}
	[ -r "$file" ] || { echo "make-distinfo.sh: no $file" >&2; exit 1; }
	status=0
	grep -Eq '^TIMESTAMP = [0-9]+$' "$file" ||
		{ echo "$file: no TIMESTAMP line" >&2; status=1; }
	grep -Eq "^SHA256 \\($distfile\\) = [0-9a-f]{64}\$" "$file" ||
		{ echo "$file: no SHA256 for $distfile (version in $makefile?)" >&2; status=1; }
	grep -Eq "^SIZE \\($distfile\\) = [1-9][0-9]*\$" "$file" ||
		{ echo "$file: no SIZE for $distfile" >&2; status=1; }
	expected=$(crates | awk '{ print "SHA256 (rust/crates/" $1 ".crate) = " $2 }')
	found=$(grep '^SHA256 (rust/crates/' "$file" || true)
	if [ "$expected" != "$found" ]; then
		echo "$file: crate checksums differ from $lock (regenerate: scripts/freebsd/make-distinfo.sh > $file):" >&2
		printf '%s\n' "$expected" >"${TMPDIR:-/tmp}/distinfo-expected.$$"
		printf '%s\n' "$found" >"${TMPDIR:-/tmp}/distinfo-found.$$"
		diff -u "${TMPDIR:-/tmp}/distinfo-expected.$$" "${TMPDIR:-/tmp}/distinfo-found.$$" >&2 || true
		rm -f "${TMPDIR:-/tmp}/distinfo-expected.$$" "${TMPDIR:-/tmp}/distinfo-found.$$"
		status=1
	fi
	sizes=$(crates | awk '{ print $1 }')
	found=$(sed -En 's/^SIZE \(rust\/crates\/(.*)\.crate\) = [1-9][0-9]*$/\1/p' "$file")
	if [ "$sizes" != "$found" ]; then
		echo "$file: crate SIZE lines differ from $lock's crates" >&2
		status=1
	fi
	lines=$(grep -c . "$file")
	want=$((3 + 2 * $(crates | grep -c .)))
	if [ "$lines" != "$want" ]; then
		echo "$file: $lines lines, expected $want (TIMESTAMP + 2 per distfile)" >&2
		status=1
	fi
	[ $status = 0 ] && echo "distinfo: $distfile + $(crates | grep -c .) crates, matches $lock"
	return $status
}

if [ "${1:-}" = "--check" ]; then
	shift
	check "$@"
	exit $?
fi

ref=${1:-$prefix$version}
if ! git rev-parse --verify -q "$ref^{commit}" >/dev/null; then
	echo "make-distinfo.sh: no commit '$ref' (tag the release, or pass a ref such as HEAD)" >&2
	exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/wren-distinfo.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

sha256() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }

# GitHub's archive directory: the project and the tag without a leading v.
git archive --format=tar.gz --prefix="$project-${version}/" -o "$work/$distfile" "$ref"
timestamp=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct "$ref")}

cache_dirs=
for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/; do
	[ -d "$d" ] && cache_dirs="$cache_dirs $d"
done

printf 'TIMESTAMP = %s\n' "$timestamp"
printf 'SHA256 (%s) = %s\n' "$distfile" "$(sha256 "$work/$distfile")"
printf 'SIZE (%s) = %s\n' "$distfile" "$(size "$work/$distfile")"
crates | while read -r crate sum; do
	file=
	for d in $cache_dirs; do
		if [ -r "$d$crate.crate" ]; then file=$d$crate.crate; break; fi
	done
	if [ -z "$file" ]; then
		name=${crate%-[0-9]*}
		# A '+' in a version (build metadata) must be escaped in the URL path.
		url_crate=$(printf '%s' "$crate" | sed 's/+/%2B/g')
		file=$work/$crate.crate
		curl -fsSL --max-time 60 -o "$file" \
			"https://static.crates.io/crates/$name/$url_crate.crate" ||
			{ echo "make-distinfo.sh: cannot download $crate" >&2; exit 1; }
	fi
	if [ "$(sha256 "$file")" != "$sum" ]; then
		echo "make-distinfo.sh: $file does not match Cargo.lock's checksum" >&2
		exit 1
	fi
	printf 'SHA256 (rust/crates/%s.crate) = %s\n' "$crate" "$sum"
	printf 'SIZE (rust/crates/%s.crate) = %s\n' "$crate" "$(size "$file")"
done
