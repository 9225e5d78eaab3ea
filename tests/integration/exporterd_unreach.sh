#!/usr/bin/env bash
# exporterd live on lo while its collector's port is closed, then open.
#
# Two probes (IPFIX and v9, domains 1 and 2) capture generated UDP traffic
# (a new flow every 50 ms, idle timeout 1 s) and export to a UDP port with
# no listener: the kernel answers with ICMP port unreachable, which the
# connected socket reports as ECONNREFUSED. Template refresh is pushed out
# to an hour and a million messages, so only the resend after an error
# can bring a late collector its templates.
#
#  1. collector down: the errors are counted (control status send_errors,
#     SIGUSR1 line "refused N") and logged once; capture goes on (its
#     counters rise) and so do the exports tried.
#  2. collectord starts on that port: within 5 s it decodes flows of both
#     probes (the templates came again by themselves); the errors stop
#     and the end of the spell is logged.
#  3. from then on nothing is lost: every record exported after the first
#     decode is stored; every packet sent was captured (no stall, no
#     kernel drop); the tree holds what collectord counted.
set -u
if [ -z "${EXPORTERD_UNREACH_TIMED:-}" ]; then
	EXPORTERD_UNREACH_TIMED=1 exec timeout -k 5 90 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "exporterd_unreach: not root, no live capture: skipped"
	exit 0
fi
CTL=$TOOLS/ctlcall

# sum KEY: KEY summed over both probes' status.
sum()
{
	local s=0 v x
	for x in 1 2; do
		ctl "$WORK/ex$x.sock" status
		v=$(line "$1")
		[ -n "$v" ] || fail "no $1 in the status of probe $x: $OUT"
		s=$((s + v))
	done
	echo "$s"
}

read -r CP DP < <(python3 -S -c '
import socket
s = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(2)]
for x in s:
    x.bind(("::", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))') || fail "free ports"

EXOPTS=(-i lo -n "127.0.0.1:$CP" --verbose -d 1 -e 60
	--template-refresh-packets 1000000 --template-refresh-time 1h
	-f "udp and dst port $DP")
"$BIN/exporterd" "${EXOPTS[@]}" -v 10 -o 1 --socket "$WORK/ex1.sock" \
	2> "$WORK/ex1.log" &
EX1=$!
PIDS+=($EX1)
"$BIN/exporterd" "${EXOPTS[@]}" -v 9 -o 2 --socket "$WORK/ex2.sock" \
	2> "$WORK/ex2.log" &
EX2=$!
PIDS+=($EX2)
wait_log "$WORK/ex1.log" "capturing on"
wait_log "$WORK/ex2.log" "capturing on"
sleep 0.3 # libpcap's socket is ready a moment after activation

# The traffic: one datagram from a new source port every 50 ms to DP,
# where a socket takes them (so no ICMP for them), for at most 60 s or
# until $WORK/stop appears; the count goes to $WORK/sent.
python3 -S - "$DP" "$WORK" <<'EOF' &
import os, socket, sys, time
port, work = int(sys.argv[1]), sys.argv[2]
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(('127.0.0.1', port))
sink.setblocking(False)
n, end = 0, time.time() + 60
while time.time() < end and not os.path.exists(work + '/stop'):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b'u' * 64, ('127.0.0.1', port))
    s.close()
    n += 1
    try:
        while sink.recv(2048):
            pass
    except BlockingIOError:
        pass
    time.sleep(0.05)
with open(work + '/sent.tmp', 'w') as f:
    f.write('%d\n' % n)
os.rename(work + '/sent.tmp', work + '/sent')
EOF
GEN=$!
PIDS+=($GEN)

# ---- 1. the collector's port is closed ----
for i in $(seq 80); do
	ERR1=$(sum send_errors)
	[ "$ERR1" -ge 2 ] && break
	sleep 0.1
done
RECV1=$(sum capture.recv)
PKT1=$(sum packets_exported)
sleep 2
RECV2=$(sum capture.recv)
ERR2=$(sum send_errors)
PKT2=$(sum packets_exported)
[ "$ERR1" -ge 2 ] && [ "$ERR2" -gt "$ERR1" ] ||
	fail "send errors not counted: $ERR1 then $ERR2"
[ "$RECV2" -ge $((RECV1 + 40)) ] ||
	fail "capture stalled: $RECV1 then $RECV2 packets (40/s sent)"
[ "$PKT2" -gt "$PKT1" ] || fail "exports stopped: $PKT1 then $PKT2 messages"
for x in 1 2; do
	grep -q "collector 127.0.0.1:$CP: Connection refused; still sending" \
		"$WORK/ex$x.log" || fail "probe $x: refusal not logged"
	[ "$(grep -c 'Connection refused; still sending' "$WORK/ex$x.log")" = 1 ] ||
		fail "probe $x: refusal logged more than once"
done
kill -USR1 "$EX1" "$EX2"
for x in 1 2; do
	wait_log "$WORK/ex$x.log" "collector 127.0.0.1:$CP: records"
	n=$(sed -n "s/.*collector 127.0.0.1:$CP: records .* refused \([0-9]*\) .*/\1/p" \
		"$WORK/ex$x.log" | tail -1)
	[ -n "$n" ] && [ "$n" -ge 1 ] ||
		fail "probe $x: SIGUSR1 line without refusals: $(tail -3 "$WORK/ex$x.log")"
done
ok "port closed: $ERR2 send errors (ICMP port unreachable), captured $RECV1 -> $RECV2 packets, exports tried $PKT1 -> $PKT2"

# ---- 2. collectord starts on the port ----
"$BIN/collectord" -p "$CP" -b 127.0.0.1 -w "$WORK/f" -I unreach \
	--socket "$WORK/cd.sock" 2> "$WORK/cd.log" &
CD=$!
PIDS+=($CD)
wait_udp "$CP"
T0=$(date +%s%N)
for i in $(seq 50); do
	OUT=$("$CTL" "$WORK/cd.sock" exporters 2>/dev/null) || OUT=
	d1=$(echo "$OUT" | sed -n 's/^exporter=.* domain=1 version=10 .* flows=\([0-9]*\) .*/\1/p')
	d2=$(echo "$OUT" | sed -n 's/^exporter=.* domain=2 version=9 .* flows=\([0-9]*\) .*/\1/p')
	[ "${d1:-0}" -gt 0 ] && [ "${d2:-0}" -gt 0 ] && break
	sleep 0.1
done
[ "${d1:-0}" -gt 0 ] && [ "${d2:-0}" -gt 0 ] ||
	fail "no decoded flows 5 s after the collector came (templates not resent?): $OUT"
MS=$((($(date +%s%N) - T0) / 1000000))
ctl "$WORK/cd.sock" status
FA=$(line totals.flows)
RB=$(sum records_exported)
ok "collector listening: flows of both probes decoded after ${MS} ms"

sleep 1.5 # an error from before the start is taken by the next tick
ERR3=$(sum send_errors)
sleep 2
ERR4=$(sum send_errors)
[ "$ERR4" = "$ERR3" ] || fail "send errors go on with a listener: $ERR3 then $ERR4"
for x in 1 2; do
	grep -q "collector 127.0.0.1:$CP: messages sent for a tick without an error" \
		"$WORK/ex$x.log" || fail "probe $x: end of the refusals not logged"
done
ok "errors stopped at $ERR4; the end of the spell is logged"

# ---- 3. nothing lost from then on ----
touch "$WORK/stop"
wait "$GEN" || fail "the traffic generator failed"
SENT=$(cat "$WORK/sent")
sleep 2 # the last flows go idle and are exported
ctl "$WORK/ex1.sock" status
[ "$(line capture.drop)" = 0 ] || fail "kernel drops: $OUT"
stop "$EX1"
stop "$EX2"
sleep 0.5
ctl "$WORK/cd.sock" status
FEND=$(line totals.flows)
stop "$CD"
REND=0
for x in 1 2; do
	got=$(sed -n 's/.*exporterd\[notice\]: packets \([0-9]*\) .*/\1/p' \
		"$WORK/ex$x.log" | tail -1)
	[ "$got" = "$SENT" ] || fail "probe $x captured $got of $SENT packets"
	r=$(sed -n "s/.*collector 127.0.0.1:$CP: records \([0-9]*\) .*/\1/p" \
		"$WORK/ex$x.log" | tail -1)
	REND=$((REND + r))
done
[ $((FEND - FA)) -ge $((REND - RB)) ] ||
	fail "lost after the first decode: $((REND - RB)) records exported, $((FEND - FA)) stored"
got=$("$TOOLS/flowcount" "$WORK/f/unreach") || fail "flowcount: $got"
[ "$(field flows "$got")" = "$FEND" ] || fail "tree: $got, collectord counted $FEND"
for f in "$WORK"/ex1.log "$WORK"/ex2.log "$WORK"/cd.log; do
	if grep -E "Sanitizer|runtime error" "$f"; then
		fail "sanitizer report in $f"
	fi
done
ok "$SENT packets captured by each probe; $((REND - RB)) records exported after the first decode, $((FEND - FA)) stored; $FEND flows in the tree"
echo "exporterd_unreach: all passed"
