#!/usr/bin/env bash
# collectord_flood.sh - bounded memory under a template flood.
#
# collectord runs with explicit caps from its -c file (sessions, templates,
# templates per session, fields per template, data waiting for a template,
# -M trees). While a legitimate exporter (flowgen, 127.0.0.1) sends flows,
# tmplflood sends, from many addresses of 127.0.0.0/8:
#   A. every template id 256..65535 with max-template-fields fields, from
#      one source (per-session cap);
#   B. data sets of never defined templates (pending-max);
#   C. templates of 65535 fields, as long as a datagram allows
#      (max-template-fields);
#   D. 1024 templates from each of 2 domains of 100 more addresses
#      (max-sessions, max-templates);
#   E. 30 addresses on the -M listener (max-exporters).
# Then: VmHWM (peak resident memory) stays under a bound computed from the
# caps; every cap was hit, and the hits show in `nfq exporters` (a table
# after the exporters; refused templates per exporter, also in --json) and
# `nfq status` (text and --json); the legitimate exporter's flows, sent before,
# during and after the flood, are all stored, intact; the daemon is still
# up and answers; a new exporter over max-sessions is refused and counted
# (the flood's sessions are seconds old, far from the default
# --session-idle of 900 s: none is evicted).
# Then a second collectord, with --session-idle 2: a short flood from more
# addresses than max-sessions fills its session table; once those sessions
# have been quiet for 2 s they are evicted (counted in nfq exporters and
# nfq status, logged; gone from the exporters and templates listed), and a
# new exporter is accepted and its flows stored.
set -u
if [ -z "${COLLECTORD_FLOOD_TIMED:-}" ]; then
	COLLECTORD_FLOOD_TIMED=1 exec timeout -k 5 120 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

SOCK=$WORK/cd.sock
MAX_SESSIONS=64
MAX_TEMPLATES=4096
MAX_PER_SESSION=1024
MAX_FIELDS=128
PENDING_KB=512
MAX_DYN=8
# flood datagrams per second: the collector must keep up, so that a loss
# of the legitimate exporter's flows is the collector's fault, not the
# kernel's; slower under AddressSanitizer
ASAN=
grep -q __asan_init "$BIN/collectord" && ASAN=1
PPS=${FLOOD_PPS:-$([ -n "$ASAN" ] && echo 150 || echo 800)}
# the legitimate exporter: 4000 flows/s from before the flood (about 2500
# datagrams) to after it
LEGIT=$((4000 * (2500 / PPS + 4)))

read -r P1 P2 < <(python3 -S -c '
import socket
s = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(2)]
for x in s:
    x.bind(("::", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))') || fail "free ports"

cat > "$WORK/c.conf" <<CONF
base $WORK/flows
rotate 300
max-sessions $MAX_SESSIONS
max-templates $MAX_TEMPLATES
max-templates-per-session $MAX_PER_SESSION
max-template-fields $MAX_FIELDS
pending-max ${PENDING_KB}K
listen port=$P1 ident=flood
source port=$P1 ident=legit ip=127.0.0.1
dynamic port=$P2 dir=$WORK/dyn max=$MAX_DYN
CONF
"$BIN/collectord" -c "$WORK/c.conf" -T > "$WORK/effective" ||
	fail "collectord -T: $(cat "$WORK/effective")"
for k in "max-sessions $MAX_SESSIONS" "max-templates $MAX_TEMPLATES" \
	"max-templates-per-session $MAX_PER_SESSION" \
	"max-template-fields $MAX_FIELDS" "pending-max ${PENDING_KB}K" \
	"max=$MAX_DYN" "session-idle 900"; do
	grep -q -- "$k" "$WORK/effective" || fail "-T lacks '$k': $(cat "$WORK/effective")"
done

"$BIN/collectord" -c "$WORK/c.conf" --socket "$SOCK" -B 16777216 \
	2> "$WORK/cd.log" &
CD=$!
PIDS+=($CD)
wait_udp "$P1"
wait_udp "$P2"
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done

kb()
{
	sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$CD/status"
}
base_kb=$(kb VmRSS)

# The legitimate exporter starts first (its session exists before the
# session table fills up) and goes on during the whole flood.
"$TOOLS/flowgen" -n "127.0.0.1:$P1" -v 9 -c "$LEGIT" -r 4000 -s 7 \
	> "$WORK/legit.out" &
GEN=$!
sleep 0.3

flood()
{
	"$TOOLS/tmplflood" -n "127.0.0.1:$1" --pps "$PPS" --seconds 20 \
		"${@:2}" >> "$WORK/flood.out" || fail "tmplflood ${*:2}"
}
t0=$(date +%s.%N)
flood "$P1" --from 127.1.0.1 --fields $MAX_FIELDS                  # A
flood "$P1" --from 127.4.0.1 --sources 24 --first 300 --last 330 \
	--fields 8 --data 30000                                     # B
flood "$P1" -v 9 --from 127.2.0.1 --sources 10 --last 265 \
	--fields 65535                                              # C
flood "$P1" --from 127.3.0.1 --sources 100 --domains 2 --last 1279 \
	--fields $MAX_FIELDS                                        # D
flood "$P2" --from 127.5.0.1 --sources 30 --last 300 --fields 16 # E
t1=$(date +%s.%N)
wait "$GEN" || fail flowgen
legit=$(cat "$WORK/legit.out")
sleep 0.5
kill -0 "$CD" 2>/dev/null || fail "collectord died: $(tail "$WORK/cd.log")"
peak_kb=$(kb VmHWM)
now_kb=$(kb VmRSS)
awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(packets|templates|bytes)=/) {
	split($i, kv, "="); s[kv[1]] += kv[2] } }
	END { printf "flood: %d datagrams, %d templates, %d MB\n",
	s["packets"], s["templates"], s["bytes"] / 1048576 }' "$WORK/flood.out"
echo "flood took $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s; legit: $legit"

# The bound: what the caps allow, twice over for malloc's overhead, on top
# of the memory before the flood, plus 1 MB per -M tree and 24 MB for the
# writer's batches and blocks of the legitimate tree. (The second
# listener's decoder holds a few hundred small templates: in the slack.)
#   session: < 2 KB with its hash table; template: 64 + 30 bytes a field
#   (field, target, decode step; collectord.8, LIMITS); pending: counted
#   with its bookkeeping.
caps_kb=$(((MAX_SESSIONS * 2048 + MAX_TEMPLATES * (64 + 30 * MAX_FIELDS) + \
	PENDING_KB * 1024) / 1024))
bound_kb=$((base_kb + 2 * caps_kb + MAX_DYN * 1024 + 24 * 1024))
# With the default caps, flood D alone makes collectord hold 65536
# templates of 128 fields: a peak of about 85 MB, over this bound.
echo "VmRSS before ${base_kb} kB, peak ${peak_kb} kB, now ${now_kb} kB;" \
	"caps allow ${caps_kb} kB per listener; bound ${bound_kb} kB"
if [ -n "$ASAN" ]; then
	# AddressSanitizer's quarantine and shadow memory make RSS meaningless
	echo "note: collectord built with AddressSanitizer: memory bound not checked"
else
	[ "$peak_kb" -lt "$bound_kb" ] ||
		fail "peak resident memory $peak_kb kB over the bound $bound_kb kB"
	ok "peak memory ${peak_kb} kB < bound ${bound_kb} kB"
fi

# ---- every cap was hit, and says so ----
EXP=$("$BIN/nfq" exporters --socket "$SOCK") || fail "nfq exporters: $EXP"
EXPJ=$("$BIN/nfq" exporters --socket "$SOCK" --json) ||
	fail "nfq exporters --json: $EXPJ"
STJ=$("$BIN/nfq" status --socket "$SOCK" --json) ||
	fail "nfq status --json: $STJ"
echo "$EXPJ" | python3 -c '
import json, sys
e = [x for x in json.load(sys.stdin) if x["address"] == "127.1.0.1"]
assert len(e) == 1 and e[0]["templates_rejected"] > 60000, e' ||
	fail "nfq exporters --json: 127.1.0.1 and its refused templates"
STATUS=$("$BIN/nfq" status --socket "$SOCK") || fail "nfq status: $STATUS"
echo "$EXP" | sed -n '/^Limits:/,$p'
hits()
{
	# hits of a cap on a port, from the Limits table of nfq exporters
	echo "$EXP" | awk -v n="$1" -v p="$2" '$1 == p && $2 == n { print $5 }'
}
used()
{
	echo "$EXP" | awk -v n="$1" -v p="$2" '$1 == p && $2 == n { print $4 }'
}
for cap in max-sessions max-templates max-templates-per-session \
	max-template-fields pending-max; do
	h=$(hits "$cap" "$P1")
	[ -n "$h" ] && [ "$h" -gt 0 ] ||
		fail "$cap on port $P1: no hit counted: $EXP"
	echo "$STJ" | python3 -c '
import json, sys
lim = json.load(sys.stdin)["limits"]
assert [x for x in lim if x["name"] == sys.argv[1] and
	x["port"] == int(sys.argv[2]) and x["hits"] == int(sys.argv[3])], lim
' "$cap" "$P1" "$h" || fail "$cap: not in nfq status --json: $STJ"
done
h=$(hits max-exporters "$P2")
[ -n "$h" ] && [ "$h" -gt 0 ] || fail "max-exporters: no hit: $EXP"
[ "$(used max-exporters "$P2")" = "$MAX_DYN" ] || fail "max-exporters used: $EXP"
[ "$(used max-sessions "$P1")" = "$MAX_SESSIONS" ] || fail "sessions used: $EXP"
[ "$(used max-templates "$P1")" -le "$MAX_TEMPLATES" ] || fail "templates: $EXP"
[ "$(used pending-max "$P1")" -le $((PENDING_KB * 1024)) ] || fail "pending: $EXP"
ndyn=$(find "$WORK/dyn" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$ndyn" = "$MAX_DYN" ] || fail "$ndyn -M trees, want $MAX_DYN"
# the exporter of flood A: 1024 templates held, the rest refused
echo "$EXP" | awk -v m=$MAX_PER_SESSION '$1 == "127.1.0.1" && $13 == m && $14 > 60000 { f = 1 } END { exit !f }' ||
	fail "127.1.0.1: want $MAX_PER_SESSION templates and > 60000 refused: $EXP"
total=$(echo "$STATUS" | sed -n 's/^Limit hits: *//p')
[ -n "$total" ] && [ "$total" -gt 0 ] || fail "nfq status: no limit hits: $STATUS"
echo "$STATUS" | grep -q "max-template-fields" || fail "nfq status: no limits: $STATUS"
for cap in max-sessions max-templates max-templates-per-session \
	max-template-fields pending-max; do
	grep -q "listener port $P1: --$cap [0-9]* reached: [0-9]* " "$WORK/cd.log" ||
		fail "no log line for $cap: $(cat "$WORK/cd.log")"
done
grep "reached:" "$WORK/cd.log"
n=$(grep -c "reached:" "$WORK/cd.log")
[ "$n" -le 20 ] || fail "$n log lines about caps: the log is flooded"
ok "every cap hit and counted: nfq exporters, nfq status ($total hits)"

# ---- the legitimate exporter lost nothing ----
"$BIN/nfq" rotate legit --socket "$SOCK" > /dev/null || fail "nfq rotate"
got=$("$TOOLS/flowcount" "$WORK/flows/legit") || fail "flowcount: $got"
drops=$(echo "$STATUS" | sed -n 's/^Kernel drops: *//p')
[ "$(field flows "$got")" = "$(field flows "$legit")" ] &&
	[ "$(field packets "$got")" = "$(field packets "$legit")" ] &&
	[ "$(field bytes "$got")" = "$(field bytes "$legit")" ] ||
	fail "legitimate exporter: sent $legit, stored $got (kernel drops: $drops)"
[ "$(field torn "$got")" = 0 ] && [ "$(field bad "$got")" = 0 ] ||
	fail "legitimate tree: $got"
ok "legitimate exporter: all $(field flows "$legit") flows stored (before, during, after the flood)"

# A new exporter after the flood finds the session table full: refused
# and counted (the caps hold; the man page says how to keep unknown
# addresses from the decoder), while the daemon keeps answering.
h0=$(hits max-sessions "$P1")
"$TOOLS/flowgen" -n "127.0.0.1:$P1" -v 10 -c 300 -s 8 > /dev/null ||
	fail "flowgen after"
sleep 0.3
EXP=$("$BIN/nfq" exporters --socket "$SOCK") || fail "nfq exporters: $EXP"
[ "$(hits max-sessions "$P1")" -gt "$h0" ] ||
	fail "a new session over the cap was not counted: $EXP"
# the default --session-idle: 900 s, and nothing was evicted
echo "$EXP" | awk -v p="$P1" '$1 == p && $2 == "session-idle" && $3 == 900 &&
	$5 == 0 { f = 1 } END { exit !f }' ||
	fail "session-idle: want 900 s and no eviction: $EXP"
ok "a new exporter over max-sessions: refused and counted"
stop "$CD"
grep -q "collectord\[crit\]\|AddressSanitizer\|Segmentation" "$WORK/cd.log" &&
	fail "collectord log: $(cat "$WORK/cd.log")"

# ---- --session-idle: quiet sessions make room ----
SOCK2=$WORK/cd2.sock
MAX2=16
IDLE=2
cat > "$WORK/c2.conf" <<CONF
base $WORK/flows2
rotate 300
max-sessions $MAX2
session-idle 600
listen port=$P1 ident=idle
source port=$P1 ident=legit ip=127.0.0.1
CONF
# the command line wins over the file
"$BIN/collectord" -c "$WORK/c2.conf" --session-idle $IDLE -T |
	grep -qx "session-idle $IDLE" || fail "-T: session-idle $IDLE"
"$BIN/collectord" -c "$WORK/c2.conf" --session-idle $IDLE --socket "$SOCK2" \
	2> "$WORK/cd2.log" &
CD2=$!
PIDS+=($CD2)
wait_udp "$P1"
for _ in $(seq 50); do [ -S "$SOCK2" ] && break; sleep 0.1; done
# 40 sources, one datagram each (2 templates): 16 sessions, 24 refused
"$TOOLS/tmplflood" -n "127.0.0.1:$P1" --pps "$PPS" --seconds 10 \
	--from 127.6.0.1 --sources 40 --last 257 --fields 8 \
	> "$WORK/flood2.out" || fail "tmplflood (idle)"
sleep 0.3
EXP=$("$BIN/nfq" exporters --socket "$SOCK2") || fail "nfq exporters: $EXP"
[ "$(used max-sessions "$P1")" = "$MAX2" ] || fail "sessions used: $EXP"
h0=$(hits max-sessions "$P1")
[ "$h0" -gt 0 ] || fail "the flood did not fill the session table: $EXP"
# quiet for 2 s, then swept by the flush timer (every second)
for _ in $(seq 100); do
	EXP=$("$BIN/nfq" exporters --socket "$SOCK2") ||
		fail "nfq exporters: $EXP"
	[ "$(hits session-idle "$P1")" = "$MAX2" ] && break
	sleep 0.1
done
echo "$EXP" | sed -n '/^Limits:/,$p'
[ "$(hits session-idle "$P1")" = "$MAX2" ] ||
	fail "want the $MAX2 sessions of the flood evicted: $EXP"
[ "$(used max-sessions "$P1")" = 0 ] && [ "$(used max-templates "$P1")" = 0 ] ||
	fail "evicted sessions still held: $EXP"
echo "$EXP" | grep -q '^127\.6\.' && fail "evicted exporters still listed: $EXP"
T=$("$BIN/nfq" templates --socket "$SOCK2") || fail "nfq templates: $T"
echo "$T" | grep -q '127\.6\.' && fail "templates of evicted sessions: $T"
# (one line, or a few if a sweep took them in two: the first at once)
grep -q "listener port $P1: [0-9]* session(s) quiet for over --session-idle $IDLE s evicted" \
	"$WORK/cd2.log" || fail "no log line for the evictions: $(cat "$WORK/cd2.log")"
STATUS=$("$BIN/nfq" status --socket "$SOCK2") || fail "nfq status: $STATUS"
echo "$STATUS" | grep -qx "Evicted: *$MAX2 idle sessions" ||
	fail "nfq status: evictions: $STATUS"
"$BIN/nfq" status --socket "$SOCK2" --json | python3 -c '
import json, sys
st = json.load(sys.stdin)
t, lim = st["totals"], st["limits"]
assert t["sessions_evicted"] == int(sys.argv[1]), t
# evictions refuse nothing: not in limit_hits
assert t["limit_hits"] == sum(x["hits"] for x in lim
			      if x["name"] != "session-idle"), st
assert [x for x in lim if x["name"] == "session-idle" and
	x["limit"] == int(sys.argv[2]) and x["hits"] == int(sys.argv[1])], lim
' "$MAX2" "$IDLE" || fail "nfq status --json: evictions"
"$BIN/nfq" metrics --socket "$SOCK2" |
	grep -qx "flowyard_sessions_evicted_total $MAX2" || fail "metrics: evictions"
ok "the flood's $MAX2 sessions, quiet for ${IDLE} s: evicted, counted, logged"

# a new exporter is now accepted, and all its flows stored
want=$("$TOOLS/flowgen" -n "127.0.0.1:$P1" -v 9 -c 300 -s 9) ||
	fail "flowgen (idle)"
sleep 0.3
EXP=$("$BIN/nfq" exporters --socket "$SOCK2") || fail "nfq exporters: $EXP"
[ "$(hits max-sessions "$P1")" = "$h0" ] ||
	fail "the new exporter was refused: $EXP"
"$BIN/nfq" rotate legit --socket "$SOCK2" > /dev/null || fail "nfq rotate"
got=$("$TOOLS/flowcount" "$WORK/flows2/legit") || fail "flowcount: $got"
[ "$(field flows "$got")" = "$(field flows "$want")" ] &&
	[ "$(field bytes "$got")" = "$(field bytes "$want")" ] ||
	fail "new exporter after the evictions: sent $want, stored $got"
ok "after the evictions a new exporter is accepted: $(field flows "$got") flows stored"
stop "$CD2"
grep -q "collectord\[crit\]\|AddressSanitizer\|Segmentation" "$WORK/cd2.log" &&
	fail "collectord log: $(cat "$WORK/cd2.log")"
exit 0
