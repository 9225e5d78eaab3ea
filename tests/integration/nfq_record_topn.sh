#!/usr/bin/env bash
# nfq_record_topn.sh - `-s record` on more than 100 k flows takes the
# bounded-memory path (bucket sums, then an exact count of the candidate
# buckets); its top N must be exactly what one unbounded table gives
# (--memory 0), for each order it serves, with a filter and without.
#
#   BIN=build/bin TOOLS=build/tools TOP=. tests/integration/nfq_record_topn.sh
#
# The tree: flowgen seed 1 sent twice (each of its keys counted twice)
# and seed 2 once, 120000 flows each: mostly single keys, a third of them
# doubled, so the top N is decided among near ties.
set -u
. "$(dirname "$0")/lib.sh"

P=$(free_udp_port)
"$BIN/collectord" -p "$P" -w "$WORK/t" -I rtr -t 3600 -S 0 \
	--socket "$WORK/cd.sock" 2> "$WORK/cd.log" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
for s in 1 1 2; do
	"$TOOLS/flowgen" -n 127.0.0.1:$P -v 10 -c 120000 -s $s -r 400000 \
		> /dev/null || fail "flowgen seed $s"
done
stop "$CD"
n=$("$BIN/nfq" -r "$WORK/t" -I | sed -n 's/^Flows: *//p')
[ "$n" = 360000 ] || fail "the tree holds $n flows, not 360000"

checks=0
for order in bytes packets flows; do
	for top in 10 50; do
		for filter in "" "proto udp" "src net 10.0.0.0/25"; do
			a=$("$BIN/nfq" -r "$WORK/t" -q -s "record/$order" -n $top \
				-o csv $filter) || fail "nfq -s record/$order"
			b=$("$BIN/nfq" -r "$WORK/t" -q -s "record/$order" -n $top \
				-o csv --memory 0 $filter) ||
				fail "nfq --memory 0 -s record/$order"
			rows=$(echo "$a" | grep -c .)
			[ "$rows" -eq "$top" ] ||
				fail "-s record/$order -n $top '$filter': $rows lines"
			[ "$a" = "$b" ] || {
				diff <(echo "$a") <(echo "$b") | head -20 >&2
				fail "-s record/$order -n $top '$filter': the bounded" \
					"count differs from one table"
			}
			checks=$((checks + 1))
		done
	done
done
ok "-s record over 360000 flows: $checks top-N lists equal one table's"
