#!/usr/bin/env bash
# Rotation every 2 s under continuous load loses no flow; kill -9 under
# load, then a restart: every file readable, temporary files recovered,
# at most the last flush interval (2 s at the most) missing.
set -u
. "$(dirname "$0")/lib.sh"

RATE=20000

P=$(free_udp_port)
"$BIN/collectord" -p "$P" -w "$WORK/r" -I rot -t 2 -S 0 -B 8388608 \
	2> "$WORK/log1" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
out=$("$TOOLS/flowgen" -n 127.0.0.1:$P -v 10 -c $((RATE * 7)) -r $RATE) ||
	fail flowgen
sleep 0.5
stop "$CD"
got=$("$TOOLS/flowcount" "$WORK/r/rot") || fail "flowcount: $got"
files=$(field files "$got")
echo "sent $(field flows "$out") in 7 s; stored $got"
[ "$files" -ge 3 ] || fail "only $files files after 7 s with -t 2"
[ "$(field flows "$got")" = "$(field flows "$out")" ] ||
	fail "rotation lost flows"
[ "$(field packets "$got")" = "$(field packets "$out")" ] || fail packets
ok "rotation every 2 s: $files files, no flow lost"

P=$(free_udp_port)
"$BIN/collectord" -p "$P" -w "$WORK/k" -I kill -t 300 -B 8388608 \
	2> "$WORK/log2" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
"$TOOLS/flowgen" -n 127.0.0.1:$P -v 9 -c $((RATE * 6)) -r $RATE \
	> "$WORK/gen2" &
GEN=$!
sleep 3
kill -KILL "$CD"
wait "$CD" 2>/dev/null
killed_after=3
wait "$GEN"
ls "$WORK"/k/kill/*/*/*/*.current.* > /dev/null 2>&1 ||
	fail "no temporary file after kill -9"
"$BIN/collectord" -p "$P" -w "$WORK/k" -I kill -t 300 2> "$WORK/log3" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
sleep 0.5
stop "$CD"
grep -q 'recovered' "$WORK/log3" || fail "restart did not recover: $(cat "$WORK/log3")"
if find "$WORK/k" -name '*.current.*' | grep -q .; then
	fail "temporary files left after the restart"
fi
got=$("$TOOLS/flowcount" "$WORK/k/kill") || fail "unreadable file: $got"
stored=$(field flows "$got")
floor=$((RATE * (killed_after - 2) * 9 / 10))
echo "killed after ${killed_after}s at $RATE flows/s; stored $got"
[ "$stored" -ge "$floor" ] || fail "only $stored flows kept, want >= $floor"
[ "$stored" -le $((RATE * 4)) ] || fail "more flows than were sent by then"
ok "kill -9 under load: files recovered, readable, $stored flows kept"
