#!/usr/bin/env bash
# --recv-threads: several receive threads, each with its own SO_REUSEPORT
# socket and decoder. With 2 and 4 threads, NetFlow v9 and IPFIX, 20
# exporters (sources 127.0.0.1..20, which the kernel spreads over the
# sockets), one tree (-I) and a tree per exporter (-M):
#  1. every flow is stored exactly once: flows, packets and bytes in the
#     files a rotation closes equal flowgen's totals; no false loss;
#  2. with --skip, the losses are exact (each exporter's own sequence
#     numbers stay in one decoder);
#  3. `nfq exporters` lists each exporter session once, with its flows;
#  4. rotations (control socket, SIGUSR1) and reloads (SIGHUP, control)
#     while traffic flows lose nothing;
#  5. the daemon runs N receive threads on N sockets.
set -u
. "$(dirname "$0")/lib.sh"

NEXP=20
# 100 messages of 30 records per exporter; --skip 23 never drops an
# exporter's first or last message (a lost last message has no successor
# to reveal it), so every loss is visible
PER_EXP=3000
FLOWS=$((NEXP * PER_EXP))
SKIP=23

# sum NAME FILE: the sum of NAME=v over the lines of FILE
sum()
{
	sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2" | awk '{s += $1} END {print s + 0}'
}

run_case()
{
	local n=$1 v=$2 mode=$3 P SOCK D CD a b c out stored got nrecv
	local lost fails want_lost tree busy t
	P=$(free_udp_port)
	SOCK="$WORK/n$n-v$v.sock"
	D="$WORK/n$n-v$v"
	if [ "$mode" = dynamic ]; then
		tree=(-M "$D/dyn")
	else
		tree=(-w "$D" -I one)
	fi
	"$BIN/collectord" -p "$P" -b 127.0.0.1 "${tree[@]}" -t 3600 \
		--recv-threads "$n" --socket "$SOCK" 2> "$D.log" &
	CD=$!
	PIDS+=($CD)
	wait_udp "$P"
	wait_log "$D.log" "control socket"

	# ---- 5. N sockets, N receive threads ----
	[ "$(ss -Hlun "sport = :$P" | wc -l)" = "$n" ] ||
		fail "n=$n: $(ss -Hlun "sport = :$P")"
	nrecv=$(cat /proc/$CD/task/*/comm | grep -c '^recv-')
	[ "$nrecv" = "$n" ] || fail "n=$n: $nrecv receive threads"

	# ---- 1. no loss, no false loss ----
	a=$("$TOOLS/flowgen" -n 127.0.0.1:$P -v "$v" -c $FLOWS -s 1 \
		--exporters $NEXP --per-msg 30 --mtu 8000 -r 200000) ||
		fail "flowgen: $a"
	sleep 0.5
	# run 1 alone in the files a rotation closes: its exact totals
	ctl "$SOCK" rotate
	# shellcheck disable=SC2046
	got=$("$TOOLS/flowcount" $(echo "$OUT" | sed -n 's/^file=//p')) ||
		fail "flowcount: $got"
	for f in flows packets bytes; do
		[ "$(field $f "$got")" = "$(field $f "$a")" ] ||
			fail "n=$n v$v $mode: files hold $got, flowgen sent $a"
	done
	[ "$(field seq_failures "$got")" = 0 ] || fail "false losses: $got"
	# ---- 2. exact losses ----
	b=$("$TOOLS/flowgen" -n 127.0.0.1:$P -v "$v" -c $FLOWS -s 2 \
		--exporters $NEXP --per-msg 30 --mtu 8000 -r 200000 \
		--skip $SKIP) || fail "flowgen --skip: $b"
	want_lost=$(($(field skipped "$b") * 30))
	[ "$(field skipped "$b")" -gt 50 ] || fail "skipped too little: $b"

	# the kernel spread the exporters: more than one thread worked
	# (measured before a reload starts new threads)
	busy=0
	for t in /proc/$CD/task/*; do
		grep -q '^recv-' "$t/comm" || continue
		[ "$(awk '{print $14 + $15}' "$t/stat")" -gt 0 ] &&
			busy=$((busy + 1))
	done
	[ "$busy" -ge 2 ] || fail "n=$n: only $busy receive thread(s) had CPU time"

	# ---- 4. rotate and reload during traffic ----
	"$TOOLS/flowgen" -n 127.0.0.1:$P -v "$v" -c 200000 -s 3 \
		--exporters $NEXP --per-msg 30 --mtu 8000 -r 100000 \
		> "$D.flowgen3" &
	c=$!
	sleep 0.3
	ctl "$SOCK" rotate
	[ "$(line files)" -ge 1 ] || fail "rotate closed nothing: $OUT"
	kill -HUP "$CD"
	sleep 0.3
	kill -USR1 "$CD"
	ctl "$SOCK" reload
	sleep 0.2
	ctl "$SOCK" rotate
	wait "$c" || fail "flowgen 3: $(cat "$D.flowgen3")"
	c=$(cat "$D.flowgen3")
	sleep 0.5

	# ---- 3. every exporter once ----
	"$BIN/nfq" exporters --socket "$SOCK" > "$D.exp" ||
		fail "nfq exporters: $(cat "$D.exp")"
	ctl "$SOCK" exporters
	echo "$OUT" > "$D.ctl"
	[ "$(line exporters)" = $((3 * NEXP)) ] ||
		fail "n=$n v$v: $(line exporters) sessions, want $((3 * NEXP))"
	# one line per source address and port, no twice
	[ "$(grep -c '^exporter=' "$D.ctl")" = $((3 * NEXP)) ] ||
		fail "exporter lines: $(cat "$D.ctl")"
	[ "$(sed -n 's/^exporter=[0-9]* \(address=[^ ]* port=[0-9]*\).*/\1/p' \
		"$D.ctl" | sort -u | wc -l)" = $((3 * NEXP)) ] ||
		fail "an exporter is listed twice: $(cat "$D.ctl")"
	[ "$(grep -c '^127\.0\.0\.' "$D.exp")" = $((3 * NEXP)) ] ||
		fail "nfq exporters: $(cat "$D.exp")"
	[ "$(sum flows "$D.ctl")" = $((2 * FLOWS + 200000 - want_lost)) ] ||
		fail "exporters' flows sum to $(sum flows "$D.ctl")"
	ctl "$SOCK" status
	lost=$(line totals.lost_flows)
	fails=$(line totals.sequence_failures)
	[ "$lost" = "$want_lost" ] ||
		fail "n=$n v$v: lost $lost, want $want_lost: $OUT"
	[ "$fails" = "$(field skipped "$b")" ] ||
		fail "n=$n v$v: $fails sequence failures, want $(field skipped "$b")"
	[ "$(line kernel_drops)" = 0 ] || fail "kernel drops: $OUT"
	stop "$CD"

	# ---- 1. the files hold every flow once ----
	if [ "$mode" = dynamic ]; then
		[ "$(ls "$D/dyn" | wc -l)" = $NEXP ] ||
			fail "-M: $(ls "$D/dyn")"
		got=$("$TOOLS/flowcount" "$D"/dyn/*) || fail "flowcount: $got"
	else
		got=$("$TOOLS/flowcount" "$D/one") || fail "flowcount: $got"
	fi
	stored=$(field flows "$got")
	[ "$stored" = $((2 * FLOWS + 200000 - want_lost)) ] ||
		fail "n=$n v$v $mode: stored $stored: $got; sent $a / $b / $c"
	[ "$(field seq_failures "$got")" = "$(field skipped "$b")" ] ||
		fail "n=$n v$v: file footers count $(field seq_failures "$got")"
	grep -q "flows lost" "$D.log" || fail "no totals in the log"
	echo "n=$n v$v $mode: stored $stored of $((2 * FLOWS + 200000)) sent," \
		"lost $lost (= $(field skipped "$b") skipped x 30), " \
		"$(grep -c '^127' "$D.exp") exporters listed"
}

run_case 2 9 single
run_case 2 10 dynamic
run_case 4 10 single
run_case 4 9 dynamic
ok "--recv-threads 2 and 4: every flow once, exact losses, exporters once," \
	"rotate and reload during traffic lose nothing"
