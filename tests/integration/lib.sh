# Shared helpers for the integration scripts (sourced, not run).
# BIN and TOOLS point at build/bin and build/tools (set by make test).

: "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${BIN:=$TOP/build/bin}"
: "${TOOLS:=$TOP/build/tools}"

WORK=$(mktemp -d /tmp/flowyard-test.XXXXXX)
PIDS=()

cleanup()
{
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

ok()
{
	echo "ok: $*"
}

# A free UDP port: the kernel picks one, we read it back.
free_udp_port()
{
	python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 0)); print(s.getsockname()[1])'
}

# Waits until the UDP port has a listener (at most 5 s).
wait_udp()
{
	local port=$1 i
	for i in $(seq 50); do
		ss -Hlun "sport = :$port" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on UDP port $port"
}

# Stops a daemon with SIGTERM and waits for it (at most 10 s).
stop()
{
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	fail "process $pid did not stop on SIGTERM"
}

# field NAME "k=v k=v ..." prints v of NAME.
field()
{
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# For the control-socket tests: $CTL is tests/tools' ctlcall.
: "${CTL:=$TOOLS/ctlcall}"

# ctl ARGS...: runs ctlcall, its output in $OUT; fails unless it replied.
ctl()
{
	OUT=$("$CTL" "$@") || fail "ctlcall $*: $OUT"
}

# ctl_err CODE ARGS...: ctlcall must fail with error CODE.
ctl_err()
{
	local code=$1
	shift
	OUT=$("$CTL" "$@" 2>/dev/null) && fail "ctlcall $*: no error: $OUT"
	[ "$(line error)" = "$code" ] || fail "ctlcall $*: want error $code: $OUT"
}

# line KEY: the value of the first line KEY=... of $OUT.
line()
{
	echo "$OUT" | sed -n "s/^$1=//p" | head -1
}

# wait_log FILE TEXT: until FILE holds TEXT, at most 5 s.
wait_log()
{
	local i
	for i in $(seq 50); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no '$2' in $1: $(cat "$1")"
}
