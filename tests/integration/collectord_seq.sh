#!/usr/bin/env bash
# Sequence accounting: every 7th message is dropped before it is sent; the
# collector must report exactly the flows of those messages as lost, by
# each version's own rule (v5: flows, v9: packets, IPFIX: data records).
set -u
. "$(dirname "$0")/lib.sh"

for v in 5 9 10; do
	P=$(free_udp_port)
	"$BIN/collectord" -p "$P" -w "$WORK/v$v" -I seq 2> "$WORK/log$v" &
	CD=$!
	PIDS+=($CD)
	wait_udp "$P"
	out=$("$TOOLS/flowgen" -n 127.0.0.1:$P -v $v -c 30000 -s $v \
		--per-msg 30 --mtu 8000 --skip 7 -r 100000) || fail "flowgen v$v"
	sleep 0.3
	stop "$CD"
	skipped=$(field skipped "$out")
	sent=$(field flows "$out")
	lost_want=$((skipped * 30))
	got=$("$TOOLS/flowcount" "$WORK/v$v/seq") || fail "flowcount v$v"
	stored=$(field flows "$got")
	line=$(grep 'tree seq:' "$WORK/log$v") || fail "v$v: no totals line"
	lost=$(echo "$line" | sed -n 's/.* \([0-9]*\) flows lost.*/\1/p')
	fails=$(echo "$line" | sed -n 's/.* \([0-9]*\) sequence failures.*/\1/p')
	echo "v$v: sent $sent, skipped $skipped messages; stored $stored, reported lost $lost in $fails failures; files say $(field seq_failures "$got")"
	[ "$skipped" -gt 100 ] || fail "v$v: the generator skipped too little"
	[ "$stored" = $((sent - lost_want)) ] || fail "v$v: stored $stored"
	[ "$lost" = "$lost_want" ] || fail "v$v: lost $lost, want $lost_want"
	[ "$fails" = "$skipped" ] || fail "v$v: $fails sequence failures"
	[ "$(field seq_failures "$got")" = "$skipped" ] ||
		fail "v$v: file footers count $(field seq_failures "$got")"
done
ok "sequence loss counted exactly for v5, v9 and IPFIX"
