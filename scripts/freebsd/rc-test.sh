#!/bin/sh
# Tests the rc.d script (port/files/wrend.in) on Linux: renders it as the port would, then
# runs it under dash with a stub rc.subr that implements the parts of FreeBSD's rc.subr the
# script relies on (load_rc_config, checkyesno, run_rc_command: rcvar gate, one- prefix,
# required_files, *_precmd, "$command $rc_flags $command_args", pidfile-based stop and
# reload, extra_commands, configtest_cmd) and a fake wrend that records its argv.
#
# Checked: syntax (sh -n, dash -n, shellcheck when installed), the header rcorder reads,
# refusal without wrend_enable, start argv (-D -f pidfile -u -g -c, wrend_flags first,
# -C by default, none with wrend_capsicum=NO, no -u when wrend_user is empty), rc.subr never sees wrend_user
# (no su), lease directory creation, configtest status, reload = configtest then SIGHUP to
# the pidfile's process and no SIGHUP when the config is bad, restart refusing a bad
# config, stop = SIGTERM, missing required file refusing start.
#
# Usage: scripts/freebsd/rc-test.sh   (exit 0 = all passed)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/wrend-rc-test.XXXXXX")
daemon_pids=""
cleanup() {
	for pid in $daemon_pids; do
		kill "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

failures=0
pass() { echo "ok - $1"; }
fail() { echo "FAIL - $1"; failures=$((failures + 1)); }
check() { # description, command...
	desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# ---- syntax -------------------------------------------------------------------------
check "sh -n port/files/wrend.in" sh -n "$root/port/files/wrend.in"
check "dash -n rc.d/wrend" dash -n "$root/rc.d/wrend"
if command -v posh >/dev/null 2>&1; then
	check "posh -n rc.d/wrend" posh -n "$root/rc.d/wrend"
fi
if command -v shellcheck >/dev/null 2>&1; then
	check "shellcheck -s sh" shellcheck -s sh "$root/port/files/wrend.in" "$root/rc.d/wrend"
fi
check "rc.d/wrend is render-rc.sh's output" \
	sh -c "'$root/scripts/freebsd/render-rc.sh' | cmp -s - '$root/rc.d/wrend'"
check "rcorder header" sh -c "
	grep -qx '# PROVIDE: wrend' '$root/rc.d/wrend' &&
	grep -qx '# REQUIRE: DAEMON' '$root/rc.d/wrend' &&
	grep -qx '# BEFORE: LOGIN' '$root/rc.d/wrend' &&
	grep -qx '# KEYWORD: shutdown' '$root/rc.d/wrend'"
check "no %%VAR%% left after rendering" sh -c "! grep -q '%%' '$root/rc.d/wrend'"

# ---- sandbox ------------------------------------------------------------------------
prefix=$work/prefix
mkdir -p "$prefix/sbin" "$prefix/etc/wren" "$work/bin"
pidfile=$work/run/wrend.pid
mkdir -p "$work/run"
argv_log=$work/argv.log
hup_log=$work/hup.log
rc_log=$work/rcsubr.log
install_log=$work/install.log
conf=$prefix/etc/wren/wrend.conf
echo '{ "Dhcp4": { } }' >"$conf"

sed -e "s|%%PREFIX%%|$prefix|g" -e "s|%%PIDFILE%%|$pidfile|g" \
	-e "s|^\. /etc/rc.subr$|. $work/rc.subr|" \
	"$root/port/files/wrend.in" >"$work/wrend"

# The fake server: -t checks for the word BAD; otherwise it "daemonises" a process that
# logs SIGHUP and exits on SIGTERM, and writes its PID to the -f file.
cat >"$prefix/sbin/wrend" <<EOF
#!/bin/sh
echo "\$*" >>"$argv_log"
if [ "\$1" = -t ]; then
	if grep -q BAD "\$2"; then echo "Syntax check failed with: BAD"; exit 1; fi
	exit 0
fi
pf=
while [ \$# -gt 0 ]; do
	case \$1 in -f) pf=\$2; shift ;; esac
	shift
done
rm -f "$work/ready"
sh -c 'trap "echo HUP >>$hup_log" HUP; trap "exit 0" TERM; : >"$work/ready"; while :; do sleep 1 & wait \$!; done' \
	</dev/null >/dev/null 2>&1 &
# Like wrend -D: return only once the server is ready (its traps are set).
while [ ! -e "$work/ready" ]; do sleep 0.05; done
echo \$! >"\$pf"
EOF
chmod +x "$prefix/sbin/wrend"

# install(1) would chown to a user this host lacks: record it instead.
cat >"$work/bin/install" <<EOF
#!/bin/sh
echo "\$*" >>"$install_log"
EOF
chmod +x "$work/bin/install"

cat >"$work/rc.subr" <<'EOF'
# Stub of FreeBSD's /etc/rc.subr: only what rc.d/wrend uses, with rc.subr's semantics.
checkyesno() {
	eval "_value=\${$1}"
	case $_value in
	[Yy][Ee][Ss] | [Tt][Rr][Uu][Ee] | [Oo][Nn] | 1) return 0 ;;
	*) return 1 ;;
	esac
}
load_rc_config() {
	if [ -r "$RC_CONF" ]; then . "$RC_CONF"; fi
}
run_rc_command() {
	rc_arg=$1
	_one=
	case $rc_arg in
	one*) rc_arg=${rc_arg#one}; _one=yes ;;
	esac
	eval "rc_flags=\${${name}_flags}"
	eval "_user=\${${name}_user-}"
	echo "rcsubr_user=[$_user]" >>"$RC_LOG"
	case " start stop restart status rcvar $extra_commands " in
	*" $rc_arg "*) ;;
	*) echo "$0: unknown directive '$rc_arg'"; return 1 ;;
	esac
	if [ "$rc_arg" = rcvar ]; then
		eval "echo \"$rcvar=\${$rcvar}\""
		return 0
	fi
	if [ -z "$_one" ] && ! checkyesno "$rcvar"; then
		echo "Cannot '$rc_arg' $name. Set $rcvar to YES in /etc/rc.conf or use 'one$rc_arg' instead of '$rc_arg'."
		return 0
	fi
	case $rc_arg in
	start)
		[ -x "$command" ] || return 1
		for _f in $required_files; do
			if [ ! -r "$_f" ]; then
				echo "${name}: WARNING: $_f is not readable." >&2
				return 1
			fi
		done
		if [ -n "${start_precmd-}" ]; then eval "$start_precmd" || return 1; fi
		echo "Starting ${name}."
		eval "$command $rc_flags $command_args"
		;;
	stop)
		_pid=$(cat "$pidfile" 2>/dev/null) || { echo "${name} not running?"; return 1; }
		echo "Stopping ${name}."
		kill -TERM "$_pid"
		while kill -0 "$_pid" 2>/dev/null; do sleep 0.1; done
		;;
	restart)
		if [ -n "${restart_precmd-}" ]; then eval "$restart_precmd" || return 1; fi
		run_rc_command "${_one:+one}stop" && run_rc_command "${_one:+one}start"
		;;
	reload)
		if [ -n "${reload_precmd-}" ]; then eval "$reload_precmd" || return 1; fi
		_pid=$(cat "$pidfile")
		echo "Reloading ${name} config files."
		kill -HUP "$_pid"
		;;
	configtest)
		eval "$configtest_cmd"
		;;
	*) return 1 ;;
	esac
}
EOF

rc_conf=$work/rc.conf
run() { # rc.conf contents, then the command
	printf '%s\n' "$1" >"$rc_conf"
	: >"$argv_log"
	: >"$rc_log"
	: >"$install_log"
	RC_CONF=$rc_conf RC_LOG=$rc_log PATH="$work/bin:$PATH" dash "$work/wrend" "$2" >"$work/out" 2>&1
}
daemon_pid() { cat "$pidfile"; }
# Waits up to 5 s for a line in a file.
wait_line() { # file, line
	_i=0
	while ! grep -qx "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] || return 1
		sleep 0.05
	done
}
stop_daemon() {
	run 'wrend_enable=YES' stop || true
}

# ---- rcvar gate ---------------------------------------------------------------------
run '' rcvar
check "rcvar reports wrend_enable=NO by default" grep -qx 'wrend_enable=NO' "$work/out"
run '' start
check "start refused without wrend_enable" sh -c "grep -q \"Set wrend_enable to YES\" '$work/out' && [ ! -s '$argv_log' ]"

# ---- start --------------------------------------------------------------------------
run 'wrend_enable=YES' start
daemon_pids="$daemon_pids $(daemon_pid)"
check "start: configtest before the server" sh -c "head -n1 '$argv_log' | grep -qx -- '-t $conf'"
check "start: argv -D -f pidfile -u wrend -g wrend -C -c config (capability mode by default)" \
	grep -qx -- "-D -f $pidfile -u wrend -g wrend -C -c $conf" "$argv_log"
check "start: rc.subr never sees wrend_user (no su)" grep -qx 'rcsubr_user=\[\]' "$rc_log"
check "start: lease directory 0750 wrend:wrend" \
	grep -qx -- '-d -o wrend -g wrend -m 0750 /var/db/wrend' "$install_log"
check "start: server process alive" sh -c "kill -0 \$(cat '$pidfile')"

# ---- reload -------------------------------------------------------------------------
: >"$hup_log"
run 'wrend_enable=YES' reload
check "reload: configtest then SIGHUP to the pidfile's process" \
	sh -c "grep -qx -- '-t $conf' '$argv_log'"
check "reload: the server got SIGHUP" wait_line "$hup_log" HUP

echo 'BAD' >>"$conf"
: >"$hup_log"
if run 'wrend_enable=YES' reload; then fail "reload with a bad config fails"; else pass "reload with a bad config fails"; fi
sleep 0.5
check "reload: no SIGHUP when the config is bad" sh -c "[ ! -s '$hup_log' ]"

if run 'wrend_enable=YES' configtest; then fail "configtest fails on a bad config"; else pass "configtest fails on a bad config"; fi
check "configtest prints the check's output" grep -q 'Syntax check failed' "$work/out"

old_pid=$(daemon_pid)
if run 'wrend_enable=YES' restart; then fail "restart refuses a bad config"; else pass "restart refuses a bad config"; fi
check "restart with a bad config keeps the server running" kill -0 "$old_pid"

echo '{ "Dhcp4": { } }' >"$conf"
run 'wrend_enable=YES' configtest
check "configtest passes on a good config" grep -q 'Performing sanity check on wrend configuration' "$work/out"

# ---- stop ---------------------------------------------------------------------------
run 'wrend_enable=YES' stop
check "stop: SIGTERM ends the pidfile's process" sh -c "! kill -0 $old_pid 2>/dev/null"

# ---- knobs --------------------------------------------------------------------------
run 'wrend_enable=YES
wrend_flags="-d"
wrend_user=dhcpd
wrend_group=dhcpd' start
daemon_pids="$daemon_pids $(daemon_pid)"
check "wrend_flags before command_args; -C by default; custom user" \
	grep -qx -- "-d -D -f $pidfile -u dhcpd -g dhcpd -C -c $conf" "$argv_log"
stop_daemon

run 'wrend_user=""
wrend_capsicum=NO' onestart
daemon_pids="$daemon_pids $(daemon_pid)"
check "onestart works without wrend_enable; wrend_user=\"\" stays root (no -u/-g); wrend_capsicum=NO drops -C" \
	grep -qx -- "-D -f $pidfile -c $conf" "$argv_log"
check "root run: lease directory without owner" \
	grep -qx -- '-d -m 0750 /var/db/wrend' "$install_log"
run '' onestop || true

other=$work/kea-dhcp4.conf
run "wrend_enable=YES
wrend_config=$other" start || true
check "missing wrend_config refuses start" sh -c "[ ! -s '$argv_log' ] && grep -q 'is not readable' '$work/out'"

if [ "$failures" -ne 0 ]; then
	echo "rc-test: $failures failure(s)"
	exit 1
fi
echo "rc-test: all passed"
