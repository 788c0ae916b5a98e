#!/bin/sh
# Renders the rc.d script from its one source, port/files/wrend.in, the way the port's
# USE_RC_SUBR + SUB_LIST does (%%PREFIX%%, %%PIDFILE%%), for installing without the port:
#
#   scripts/freebsd/render-rc.sh [PREFIX] > rc.d/wrend
#
# rc.d/wrend in the repository is this script's output for PREFIX=/usr/local;
# scripts/freebsd-checks.sh fails when they differ.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${1:-/usr/local}
sed -e "s|%%PREFIX%%|${prefix}|g" \
    -e "s|%%PIDFILE%%|/var/run/wrend.pid|g" \
    "$root/port/files/wrend.in"
