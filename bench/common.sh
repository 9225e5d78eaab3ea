# shellcheck shell=bash
# bench/common.sh - sourced by the bench/*.sh scripts.
#
# Finds the binaries, installs the peers that are missing (Debian packages,
# as root), raises net.core.rmem_max for the run when a bench asks for a
# bigger socket buffer (and puts it back afterwards), and re-runs the calling
# script inside a network namespace of its own: the UDP counters of
# /proc/net/snmp are then the benchmark's alone (other jobs on the machine do
# not count in them), loopback traffic stays private, and no port is shared
# with anything else.
#
# Environment a caller may set:
#   BIN, TOOLS      flowyard's build/bin and build/tools (default: the repo's)
#   OUT             where results and scratch files go (default
#                   /tmp/flowyard-bench); each script writes OUT/<name>.md
#   NO_NETNS=1      run in the current network namespace
#   NICE            scheduling priority of the run (default -10 as root;
#                   0 to leave it)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
BIN=${BIN:-$TOP/build/bin}
TOOLS=${TOOLS:-$TOP/build/tools}
OUT=${OUT:-/tmp/flowyard-bench}
export BENCH_DIR TOP BIN TOOLS OUT

bench_die() {
	echo "bench: $*" >&2
	exit 1
}

# bench_need_bins NAME... : each must exist in BIN or TOOLS.
bench_need_bins() {
	local b
	for b in "$@"; do
		[ -x "$BIN/$b" ] || [ -x "$TOOLS/$b" ] ||
			bench_die "$b not found in $BIN or $TOOLS: run 'make' first"
	done
}

# bench_install CMD:PACKAGE... : apt-get install the packages whose command
# is missing.
bench_install() {
	local want=() spec
	for spec in "$@"; do
		command -v "${spec%%:*}" > /dev/null 2>&1 ||
			[ -x "/usr/sbin/${spec%%:*}" ] || want+=("${spec#*:}")
	done
	[ ${#want[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || bench_die "missing ${want[*]}: install as root"
	echo "bench: installing ${want[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq > /dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${want[@]}" > /dev/null ||
		bench_die "apt-get install ${want[*]} failed"
}

# bench_rmem BYTES : make net.core.rmem_max at least BYTES (a peer such as
# nfcapd sets its buffer with plain SO_RCVBUF, which that limit caps) and
# restore the old value when the script exits. Must run before bench_netns:
# a namespace may not raise the limit above the initial namespace's.
bench_rmem() {
	local cur
	cur=$(cat /proc/sys/net/core/rmem_max 2> /dev/null) || return 0
	[ "$cur" -ge "$1" ] && return 0
	[ "$(id -u)" = 0 ] || bench_die "net.core.rmem_max=$cur < $1: run as root"
	echo "$1" > /proc/sys/net/core/rmem_max ||
		bench_die "cannot raise net.core.rmem_max to $1"
	BENCH_RMEM_OLD=$cur
	trap 'echo "$BENCH_RMEM_OLD" > /proc/sys/net/core/rmem_max' EXIT
}

# bench_netns "$0" "$@" : re-run the script in a new network namespace with
# loopback up (no-op inside one already, or with NO_NETNS=1).
bench_netns() {
	local self=$1
	shift
	[ -n "${NO_NETNS:-}" ] && return 0
	[ -n "${FY_BENCH_IN_NETNS:-}" ] && return 0
	if ! command -v unshare > /dev/null || [ "$(id -u)" != 0 ]; then
		echo "bench: no unshare or not root: running in the host" \
			"namespace (UDP counters shared with other jobs)" >&2
		return 0
	fi
	FY_BENCH_IN_NETNS=1 unshare -n -- bash -c \
		'ip link set lo up 2>/dev/null ||
		 python3 -c "import socket,fcntl,struct
s=socket.socket();f=fcntl.ioctl(s,0x8913,struct.pack(\"16sH\",b\"lo\",0))
fl=struct.unpack(\"16sH\",f)[1]|1
fcntl.ioctl(s,0x8914,struct.pack(\"16sH\",b\"lo\",fl))"; exec bash "$0" "$@"' \
		"$self" "$@"
	exit $?
}

# bench_exec COMMAND... : run the driver at a higher scheduling priority
# (NICE, default -10, root only; NICE=0 to leave it) so that other jobs on a
# shared machine disturb the figures less. Both sides of every comparison
# run under the driver, so both get the same priority.
bench_exec() {
	local n=${NICE:--10}
	if [ "$n" != 0 ] && [ "$(id -u)" = 0 ]; then
		exec nice -n "$n" "$@"
	fi
	exec "$@"
}
