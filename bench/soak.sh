#!/usr/bin/env bash
# bench/soak.sh - the full chain for a set time at a steady rate: flowgen
# sends NetFlow v9 or IPFIX over loopback to collectord, which rotates
# every 10 s. At the end every flow sent must be stored (read back block by
# block with tools/flowcount and from the footers with nfq -I; no torn, bad
# or temporary file), and resident memory must not have grown: VmRSS is
# sampled every SOAK_SAMPLE seconds; after a warm-up (the larger of two
# rotations and a tenth of the run: buffers are touched a first time), the
# mean of the last quarter of the samples may exceed that of the first
# quarter by at most SOAK_GROWTH_PCT percent plus 1 MB.
#
#   bash bench/soak.sh                   10 minutes, 5000 flows/s, IPFIX
#   SOAK_SECONDS=60 bash bench/soak.sh   a shorter run
#   make soak                            the same, built first
#
# Environment: SOAK_SECONDS (600), SOAK_RATE flows/s (5000), SOAK_VERSION
# 9 or 10 (10), SOAK_ROTATE seconds (10), SOAK_SAMPLE seconds (5),
# SOAK_GROWTH_PCT (10), and BIN, TOOLS, OUT of bench/common.sh. Writes the
# result as Markdown to $OUT/soak.md and the RSS samples to
# $OUT/soak-rss.txt. Exits 1 if a check failed.
set -uo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

SECONDS_RUN=${SOAK_SECONDS:-600}
RATE=${SOAK_RATE:-5000}
VERSION=${SOAK_VERSION:-10}
ROTATE=${SOAK_ROTATE:-10}
SAMPLE=${SOAK_SAMPLE:-5}
GROWTH=${SOAK_GROWTH_PCT:-10}

bench_need_bins collectord nfq flowgen flowcount
mkdir -p "$OUT"
WORK=$(mktemp -d "$OUT/soak.XXXXXX")
CD=
SAMPLER=
cleanup() {
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2> /dev/null
	[ -n "$CD" ] && kill "$CD" 2> /dev/null
	wait 2> /dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -S -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 0)); print(s.getsockname()[1])')
"$BIN/collectord" -p "$PORT" -w "$WORK/flows" -I soak -t "$ROTATE" -S 1 \
	--socket "$WORK/cd.sock" 2> "$WORK/cd.log" &
CD=$!
for _ in $(seq 50); do
	ss -Hlun "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
kill -0 "$CD" 2> /dev/null || bench_die "collectord: $(cat "$WORK/cd.log")"

: > "$OUT/soak-rss.txt"
(
	while kill -0 "$CD" 2> /dev/null; do
		rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' \
			"/proc/$CD/status" 2> /dev/null)
		[ -n "$rss" ] && echo "$(date +%s) $rss" >> "$OUT/soak-rss.txt"
		sleep "$SAMPLE"
	done
) &
SAMPLER=$!

FLOWS=$((RATE * SECONDS_RUN))
echo "soak: $FLOWS flows at $RATE flows/s (v$VERSION) for ${SECONDS_RUN}s," \
	"rotation every ${ROTATE}s" >&2
start=$(date +%s)
warmup=$((SECONDS_RUN / 10))
[ "$warmup" -ge $((2 * ROTATE)) ] || warmup=$((2 * ROTATE))
[ "$warmup" -le $((SECONDS_RUN / 2)) ] || warmup=$((SECONDS_RUN / 2))
sent=$("$TOOLS/flowgen" -n "127.0.0.1:$PORT" -v "$VERSION" -c "$FLOWS" \
	-r "$RATE" -s 42) || bench_die "flowgen: $sent"
took=$(($(date +%s) - start))
sleep 2
STATUS=$("$BIN/nfq" status --socket "$WORK/cd.sock" 2>&1)
kill -TERM "$CD"
wait "$CD"
rc=$?
CD=
kill "$SAMPLER" 2> /dev/null
wait "$SAMPLER" 2> /dev/null
SAMPLER=

field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
fails=()
[ "$rc" = 0 ] || fails+=("collectord exited with $rc")
got=$("$TOOLS/flowcount" "$WORK/flows/soak") || fails+=("flowcount: $got")
info=$("$BIN/nfq" -I -R "$WORK/flows/soak" 2>&1) || fails+=("nfq -I: $info")
nfq_flows=$(echo "$info" | sed -n 's/^Flows: *//p')
temps=$(find "$WORK/flows" -name '*.current.*' | wc -l)
for k in flows packets bytes; do
	[ "$(field "$k" "$got")" = "$(field "$k" "$sent")" ] ||
		fails+=("$k: sent $(field "$k" "$sent"), stored $(field "$k" "$got")")
done
[ "$nfq_flows" = "$(field flows "$sent")" ] ||
	fails+=("nfq -I: $nfq_flows flows, sent $(field flows "$sent")")
[ "$(field torn "$got")" = 0 ] && [ "$(field bad "$got")" = 0 ] ||
	fails+=("damaged files: $got")
[ "$temps" = 0 ] || fails+=("$temps temporary files left")
files=$(field files "$got")
[ "$files" -ge $((SECONDS_RUN / ROTATE)) ] ||
	fails+=("$files files, want >= $((SECONDS_RUN / ROTATE))")
drops=$(echo "$STATUS" | sed -n 's/^Kernel drops: *//p')

# RSS: mean of the first and of the last quarter of the samples
read -r n q1 q4 min max < <(awk -v from=$((start + warmup)) -v to=$((start + took)) \
	'$1 >= from && $1 <= to { v[++n] = $2 } END {
	if (n == 0) { print "0 0 0 0 0"; exit }
	q = int(n / 4); if (q < 1) q = 1
	for (i = 1; i <= q; i++) a += v[i]
	for (i = n - q + 1; i <= n; i++) b += v[i]
	mn = v[1]; mx = v[1]
	for (i = 1; i <= n; i++) { if (v[i] < mn) mn = v[i]; if (v[i] > mx) mx = v[i] }
	printf "%d %d %d %d %d\n", n, a / q, b / q, mn, mx }' "$OUT/soak-rss.txt")
limit=$((q1 + q1 * GROWTH / 100 + 1024))
[ "$n" -ge 4 ] || fails+=("only $n RSS samples")
[ "$q4" -le "$limit" ] ||
	fails+=("RSS grew: first quarter $q1 kB, last quarter $q4 kB (limit $limit kB)")

verdict=clean
[ ${#fails[@]} -eq 0 ] || verdict="FAILED: $(printf '%s; ' "${fails[@]}")"
{
	echo "## Soak (bench/soak.sh)"
	echo
	echo "$(date -u +%FT%RZ), $(git -C "$TOP" describe --always --dirty 2> /dev/null || echo 'no git'):"
	echo "flowgen -> collectord over loopback, NetFlow v$VERSION at" \
		"$RATE flows/s for ${SECONDS_RUN} s (sent in ${took} s), rotation" \
		"every ${ROTATE} s."
	echo
	echo "| measure | value |"
	echo "|---|---|"
	echo "| flows sent / stored (flowcount) / nfq -I | $(field flows "$sent") / $(field flows "$got") / $nfq_flows |"
	echo "| packets, bytes equal | $([ "$(field packets "$got")" = "$(field packets "$sent")" ] && [ "$(field bytes "$got")" = "$(field bytes "$sent")" ] && echo yes || echo no) |"
	echo "| files, torn, bad, temporary left | $files, $(field torn "$got"), $(field bad "$got"), $temps |"
	echo "| kernel drops | ${drops:-?} |"
	echo "| VmRSS samples (every ${SAMPLE} s, after ${warmup} s of warm-up) | $n, min $min kB, max $max kB |"
	echo "| VmRSS mean, first / last quarter | $q1 kB / $q4 kB (limit $limit kB) |"
	echo "| verdict | $verdict |"
} > "$OUT/soak.md"
cat "$OUT/soak.md"
[ ${#fails[@]} -eq 0 ]
