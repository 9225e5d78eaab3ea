#!/usr/bin/env bash
# nfq as the control client of a running collectord fed by the project's
# encoder: the numbers it reports equal what was sent (with gaps made on
# purpose), JSON parses, metrics are Prometheus text, rotate closes files
# that nfq then reads; 200 clients at once while traffic flows lose no
# flow; an unprivileged user outside the group is refused.
set -u
. "$(dirname "$0")/lib.sh"

P=$(free_udp_port)
S=$WORK/cd.sock
"$BIN/collectord" -p "$P" -w "$WORK/f" -I ctl --socket "$S" -B 16777216 \
	2> "$WORK/log" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
wait_log "$WORK/log" "control socket"
# before any exporter: said, not an empty table; JSON an empty array
"$BIN/nfq" exporters --socket "$S" > "$WORK/none" || fail "nfq exporters (none)"
grep -q "^No exporter" "$WORK/none" || fail "exporters (none): $(cat "$WORK/none")"
[ "$("$BIN/nfq" exporters --socket "$S" --json)" = "[]" ] ||
	fail "exporters --json (none)"
out=$("$TOOLS/flowgen" -n 127.0.0.1:$P -v 10 -c 9030 --per-msg 30 \
	--mtu 8000 --skip 10 -r 100000) || fail flowgen
sleep 0.3
sent=$(field flows "$out")
skipped=$(field skipped "$out")
want=$((sent - skipped * 30))

"$BIN/nfq" status --socket "$S" > "$WORK/status" || fail "nfq status"
grep -q "^Flows: *$want$" "$WORK/status" || fail "status: $(cat "$WORK/status")"
grep -q "^Seq failures: *$skipped ($((skipped * 30)) flows lost)$" \
	"$WORK/status" || fail "status gaps: $(cat "$WORK/status")"
"$BIN/nfq" status --socket "$S" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
want, lost = int(sys.argv[1]), int(sys.argv[2])
assert s["totals"]["flows"] == want, s
assert s["totals"]["lost_flows"] == lost, s
' "$want" "$((skipped * 30))" || fail "status --json"
"$BIN/nfq" exporters --socket "$S" --json | python3 -c '
import json, sys
e = json.load(sys.stdin)
assert len(e) == 1 and e[0]["identifier"] == "ctl", e
assert e[0]["flows"] == int(sys.argv[1]) and e[0]["templates"] == 2, e
' "$want" || fail "exporters --json"
"$BIN/nfq" exporters --socket "$S" | grep -q ' ctl ' || fail "exporters table"
"$BIN/nfq" templates --socket "$S" | grep -q 'sourceIPv4Address' ||
	fail "templates by name"
m=$("$BIN/nfq" metrics --socket "$S")
echo "$m" | grep -q "^flowyard_flows_total $want$" || fail "metrics: $m"
echo "$m" | grep -q '^# TYPE flowyard_exporter_flows_total counter$' ||
	fail "metrics families"
ok "status, exporters, templates, metrics report what was sent ($want flows, $skipped gaps)"

files=$("$BIN/nfq" rotate --socket "$S" | sed -n 's/^closed //p')
[ -n "$files" ] || fail "rotate closed nothing"
for f in $files; do [ -f "$f" ] || fail "rotate: $f missing"; done
got=$("$BIN/nfq" -I -r $files | sed -n 's/^Flows: //p')
[ "$got" = "$want" ] || fail "rotated files hold $got flows"
ok "rotate: the closed files hold every flow"

# a client that connects, sends half a request and never reads, and
# one that floods requests without reading replies, while 50k flows
# arrive: reception loses nothing
python3 - "$S" > "$WORK/stall" 2>&1 <<'PY' &
import socket, sys, time
a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
a.send(b"\x00\x00\x00\x10\x08")           # 16-byte frame, 1 byte of it
b = socket.socket(socket.AF_UNIX); b.connect(sys.argv[1])
b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
b.setblocking(False)
req = b"\x00\x00\x00\x04\x08\x01\x52\x00"  # Status, api_version 1
for _ in range(20000):
    try:
        b.send(req)
    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
        break
time.sleep(3)
PY
STALL=$!
"$TOOLS/flowgen" -n 127.0.0.1:$P -v 9 -c 50000 -r 50000 -s 8 > /dev/null ||
	fail "flowgen during the stall"
wait "$STALL"
sleep 0.3
got=$("$BIN/nfq" status --socket "$S" | sed -n 's/^Flows: *//p')
[ "$got" = $((want + 50000)) ] ||
	fail "a stalled client cost flows: $got, want $((want + 50000))"
want=$((want + 50000))
ok "stalled and flooding clients: reception lost nothing"

# 200 clients at once while 100k flows arrive: none lost
"$TOOLS/flowgen" -n 127.0.0.1:$P -v 9 -c 100000 -r 100000 -s 9 \
	> "$WORK/gen" &
GEN=$!
CLIENTS=()
for i in $(seq 200); do
	"$BIN/nfq" status --socket "$S" > "$WORK/c$i" 2>&1 &
	CLIENTS+=($!)
done
wait "$GEN"
served=0
for c in "${CLIENTS[@]}"; do
	wait "$c" && served=$((served + 1))
done
sleep 0.5
# over the server's cap of 64 a client is told "busy": that is fine, but
# every one must get an answer
[ "$served" -ge 64 ] || fail "only $served of 200 clients served"
for i in $(seq 200); do
	grep -q 'Flows:\|busy\|Busy' "$WORK/c$i" || fail "client $i: $(cat "$WORK/c$i")"
done
stop "$CD"
total=$("$TOOLS/flowcount" "$WORK/f/ctl")
[ "$(field flows "$total")" = $((want + 100000)) ] ||
	fail "flows lost during the client storm: $total"
ok "200 concurrent clients during traffic ($served served at once): no flow lost"

# an unprivileged user outside the group is refused
"$BIN/collectord" -p "$P" -w "$WORK/f" -I ctl --socket "$S" 2> "$WORK/log2" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
chmod 0755 "$WORK" # mktemp made it 0700: nobody could not reach the socket
chmod 0666 "$S" # let the credential check, not the file mode, decide
if setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$BIN/nfq" status --socket "$S" > "$WORK/np" 2>&1; then
	fail "nobody was served"
fi
grep -qi 'permission' "$WORK/np" || fail "refusal: $(cat "$WORK/np")"
stop "$CD"
grep -q 'refus\|not allowed\|permission' "$WORK/log2" || fail "no log line"
ok "a user outside the group is refused and logged"
