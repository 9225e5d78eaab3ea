#!/usr/bin/env bash
# exporterd_ctl.sh - exporterd's control socket, against a live capture on
# lo exporting to a collectord, driven by $TOOLS/ctlcall.
#
#   BIN=build/bin TOOLS=build/tools TOP=. tests/integration/exporterd_ctl.sh
#
# Needs root (a live capture); says so and passes otherwise. The traffic is
# this script's own UDP, to ports it picked, and the capture filter keeps
# only it. Checks:
#  1. status: packets captured, the 6 test flows active, the collector;
#  2. dump-flows: the 6 flows with their addresses, ports and counters;
#     a filter narrows them, a maximum cuts the list but not "matched",
#     a bad filter is an invalid argument naming its column;
#  3. send-templates, loglevel, and NOT_SUPPORTED for collectord's rotate;
#  4. permissions: nobody cannot connect (socket mode 0660); with the file
#     made world-writable the daemon itself refuses nobody (peer
#     credentials); a member of --socket-group is served;
#  5. 20000 more flows: a dump of them all comes in many parts;
#  6. expire-all: the count, the cache empty, the counters by reason; the
#     collector's files (collectord stopped before exporterd) hold exactly
#     these flows, with end reason forced when nfq can show it;
#  7. -r from a pipe with --socket: served between batches of packets;
#  8. a socket that cannot be made is logged and the capture goes on.
set -u
if [ -z "${EXPORTERD_CTL_TIMED:-}" ]; then
	limit=30
	# sanitized programs (tests/check.sh asan-integration) are slower
	[ -n "${FY_SANITIZED:-}" ] && limit=90
	EXPORTERD_CTL_TIMED=1 exec timeout -k 5 "$limit" bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "exporterd_ctl: not root, no live capture: skipped"
	exit 0
fi
CTL=$TOOLS/ctlcall
GROUP=4242 # a group of no user: only the --regid test is in it

# Sockets in a directory everyone may traverse, so that only the socket
# file's own mode and the daemon's credential check keep nobody out.
chmod 0711 "$WORK"
mkdir -m 0755 "$WORK/run"
ESOCK=$WORK/run/ex.sock
CSOCK=$WORK/run/cd.sock

# flows: the flow lines of $OUT.
flows()
{
	echo "$OUT" | grep '^flow='
}

# Four free UDP ports at once (python starts slowly on a loaded machine).
read -r CP DP1 DP2 DP3 < <(python3 -S -c '
import socket
s = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(4)]
for x in s:
    x.bind(("::", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))') || fail "free ports"
"$BIN/collectord" -p "$CP" -w "$WORK/flows" -I x --socket "$CSOCK" \
	2> "$WORK/cd.log" &
CD=$!
PIDS+=($CD)
wait_udp "$CP"

"$BIN/exporterd" -i lo -n "127.0.0.1:$CP" --verbose -d 120 -e 300 \
	--socket "$ESOCK" --socket-group "$GROUP" \
	-f "udp and (dst port $DP1 or dst port $DP2 or dst port $DP3)" \
	2> "$WORK/ex.log" &
EX=$!
PIDS+=($EX)
wait_log "$WORK/ex.log" "capturing on"
[ -S "$ESOCK" ] || fail "no socket $ESOCK: $(cat "$WORK/ex.log")"
sleep 0.3 # libpcap's socket is ready a moment after activation

# Three source ports, each sending 4 datagrams of 100 bytes (IP length
# 128) to DP1 and DP2: 6 flows of 4 packets and 512 bytes.
SPORTS=$(python3 -S - "$DP1" "$DP2" <<'EOF'
import socket, sys
socks = []
for _ in range(3):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    for dp in sys.argv[1:]:
        for _ in range(4):
            s.sendto(b'x' * 100, ('127.0.0.1', int(dp)))
    socks.append(s)
print(' '.join(str(s.getsockname()[1]) for s in socks))
EOF
) || fail "traffic"
sleep 0.5

# ---- 1. status ----
ctl "$ESOCK" status
[ "$(line daemon)" = exporterd ] || fail "status daemon: $OUT"
[ "$(line capture.source)" = lo ] || fail "status capture.source: $OUT"
[ "$(line capture.recv)" -ge 24 ] || fail "status capture.recv: $OUT"
[ "$(line active_flows)" = 6 ] || fail "status active_flows: $OUT"
[ "$(line pid)" = "$EX" ] || fail "status pid: $OUT"
[ "$(line destinations)" = 1 ] || fail "status destinations: $OUT"
echo "$OUT" | grep -q "^destination=0 address=127.0.0.1:$CP version=10 " ||
	fail "status destination: $OUT"
ok "status: $(line capture.recv) packets captured, 6 flows active"

# ---- 2. dump-flows ----
ctl "$ESOCK" dump-flows
[ "$(line flows)" = 6 ] && [ "$(line matched)" = 6 ] ||
	fail "dump-flows: $OUT"
for sp in $SPORTS; do
	for dp in $DP1 $DP2; do
		flows | grep -q "proto=17 src=127.0.0.1 sport=$sp dst=127.0.0.1 dport=$dp packets=4 bytes=512 .* end_reason=0 " ||
			fail "dump-flows: no flow $sp -> $dp: $OUT"
	done
done
ok "dump-flows: the 6 flows, addresses, ports, packets and bytes"

ctl "$ESOCK" dump-flows "dst port $DP2"
[ "$(line flows)" = 3 ] && [ "$(flows | grep -c " dport=$DP2 ")" = 3 ] ||
	fail "dump-flows 'dst port $DP2': $OUT"
ctl "$ESOCK" dump-flows "src port $(echo "$SPORTS" | cut -d' ' -f1) and dst port $DP1"
[ "$(line flows)" = 1 ] || fail "dump-flows with two conditions: $OUT"
ctl "$ESOCK" dump-flows "" 2
[ "$(line flows)" = 2 ] && [ "$(line matched)" = 6 ] ||
	fail "dump-flows max 2: $OUT"
ctl_err 8 "$ESOCK" dump-flows "dst prot $DP1"
line message | grep -q "column 5" || fail "bad filter message: $OUT"
ok "dump-flows: a filter narrows, a maximum cuts, a bad filter: $(line message)"

# ---- 3. send-templates, loglevel, not supported ----
ctl "$ESOCK" send-templates
[ "$(line destinations)" = 1 ] && [ "$(line templates)" -ge 1 ] ||
	fail "send-templates: $OUT"
NTMPL=$(line templates)
ctl "$ESOCK" loglevel info
[ "$(line previous)" = debug ] && [ "$(line current)" = info ] ||
	fail "loglevel: $OUT"
ctl "$ESOCK" status
[ "$(line log_level)" = info ] || fail "status after loglevel: $OUT"
ctl_err 8 "$ESOCK" loglevel loud
ctl_err 4 "$ESOCK" rotate
ctl_err 4 "$ESOCK" exporters
ok "send-templates ($NTMPL templates), loglevel, rotate not supported"

# ---- 4. permissions ----
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
OUT=$($NOBODY "$CTL" "$ESOCK" status 2>/dev/null) &&
	fail "nobody was served: $OUT"
line message | grep -q "Permission denied" ||
	fail "nobody: no permission denied: $OUT"
chmod 0666 "$ESOCK"
OUT=$($NOBODY "$CTL" "$ESOCK" status 2>/dev/null) &&
	fail "nobody was served through a 0666 socket: $OUT"
[ "$(line error)" = 6 ] || fail "nobody through 0666: not error 6: $OUT"
chmod 0660 "$ESOCK"
OUT=$(setpriv --reuid=65534 --regid=$GROUP --clear-groups "$CTL" "$ESOCK" \
	status) || fail "a member of the socket group was refused: $OUT"
ctl "$ESOCK" status
[ "$(line control.refused_permission)" -ge 1 ] ||
	fail "refusal not counted: $OUT"
ok "permissions: nobody refused (file mode and credentials), the group served"

# ---- 5. a long dump ----
python3 -S - "$DP3" <<'EOF' || fail "traffic to 20000 addresses"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
port = int(sys.argv[1])
for i in range(20000):
    s.sendto(b'y', ('127.2.%d.%d' % (i // 250, 1 + i % 250), port))
EOF
sleep 0.5
ctl "$ESOCK" status
ACTIVE=$(line active_flows)
[ "$ACTIVE" -ge 19000 ] || fail "20000 flows sent, $ACTIVE active"
ctl "$ESOCK" dump-flows
[ "$(line flows)" = "$ACTIVE" ] || fail "dump of $ACTIVE flows: $(line flows)"
[ "$(line parts)" -ge 10 ] || fail "dump of $ACTIVE flows in $(line parts) parts"
[ "$(flows | cut -d' ' -f2- | sort -u | wc -l)" = "$ACTIVE" ] ||
	fail "duplicates in the dump"
ctl "$ESOCK" dump-flows "dst net 127.2.0.0/16"
[ "$(line flows)" = $((ACTIVE - 6)) ] || fail "dump of 127.2/16: $(line flows)"
ok "dump-flows: $ACTIVE flows in $(line parts) parts"

# ---- 6. expire-all ----
ctl "$ESOCK" expire-all
[ "$(line flows_expired)" = "$ACTIVE" ] || fail "expire-all: $OUT"
ctl "$ESOCK" status
[ "$(line active_flows)" = 0 ] && [ "$(line expired.forced)" = "$ACTIVE" ] &&
	[ "$(line expired.idle)" = 0 ] && [ "$(line records_exported)" = "$ACTIVE" ] ||
	fail "status after expire-all: $OUT"
ctl "$ESOCK" dump-flows
[ "$(line flows)" = 0 ] || fail "flows left after expire-all: $OUT"
sleep 0.5
# collectord first: whatever exporterd exports at its exit is not counted
stop "$CD"
got=$("$TOOLS/flowcount" "$WORK/flows/x") || fail "flowcount: $got"
[ "$(field flows "$got")" = "$ACTIVE" ] ||
	fail "collectord stored $got, $ACTIVE flows expired"
[ "$(field packets "$got")" = $((ACTIVE - 6 + 24)) ] ||
	fail "collectord stored $got: packets"
if [ -x "$BIN/nfq" ] &&
	"$BIN/nfq" -r "$WORK/flows/x" -o ndjson -q > "$WORK/nfq.out" 2>&1 &&
	grep -q '"end_reason"' "$WORK/nfq.out"; then
	n=$(grep -c '"end_reason": *4' "$WORK/nfq.out")
	[ "$n" = "$ACTIVE" ] || fail "nfq: $n of $ACTIVE flows with end reason 4"
	ok "expire-all: $ACTIVE flows, all in collectord's files, reason forced (nfq)"
else
	ok "expire-all: $ACTIVE flows, all in collectord's files (no nfq ndjson: reason not checked)"
fi
stop "$EX"
grep -q "flow(s) expired at the request of uid 0" "$WORK/ex.log" ||
	fail "expire-all not logged"
[ -e "$ESOCK" ] && fail "socket file left after exit"

# ---- 7. -r from a pipe ----
mkfifo "$WORK/pipe"
python3 -S - "$WORK/pipe" <<'EOF' &
import struct, sys, time
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
    udp = struct.pack('!HHHH', 1234, 5678, 8 + 10, 0) + b'z' * 10
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64,
                     17, 0, bytes([10, 1, 1, 1]), bytes([10, 2, 2, 2])) + udp
    rec = struct.pack('<IIII', 1700000000, 0, len(ip), len(ip)) + ip
    for _ in range(40):  # 8 s at most: a batch of 1024 every 0.2 s
        f.write(rec * 1024)
        f.flush()
        time.sleep(0.2)
EOF
GEN=$!
PIDS+=($GEN)
RSOCK=$WORK/run/r.sock
"$BIN/exporterd" -r "$WORK/pipe" -n "127.0.0.1:$CP" --socket "$RSOCK" \
	2> "$WORK/r.log" &
RX=$!
PIDS+=($RX)
for i in $(seq 50); do
	[ -S "$RSOCK" ] && break
	sleep 0.1
done
ctl -t 3000 "$RSOCK" status
[ "$(line capture.source)" = "$WORK/pipe" ] && [ "$(line active_flows)" = 1 ] ||
	fail "-r status: $OUT"
ctl -t 3000 "$RSOCK" dump-flows
flows | grep -q "src=10.1.1.1 sport=1234 dst=10.2.2.2 dport=5678" ||
	fail "-r dump-flows: $OUT"
kill "$GEN" 2>/dev/null
stop "$RX"
ok "-r with --socket: served between batches"
# ---- 8. no socket: the capture goes on ----
touch "$WORK/run/file"
"$BIN/exporterd" -i lo -n "127.0.0.1:$CP" --verbose --socket "$WORK/run/file" \
	-f "udp and dst port $DP1" 2> "$WORK/nosock.log" &
NX=$!
PIDS+=($NX)
wait_log "$WORK/nosock.log" "capturing on"
grep -q "running without a control socket" "$WORK/nosock.log" ||
	fail "no warning without a socket: $(cat "$WORK/nosock.log")"
sleep 0.3
python3 -S -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"n", ("127.0.0.1", int(sys.argv[1])))' "$DP1"
sleep 0.3
stop "$NX"
grep -q "packets 3 accounted 3 " "$WORK/nosock.log" ||
	fail "without a socket: $(cat "$WORK/nosock.log")"
ok "a socket that cannot be made: logged, the capture goes on"

# Built with sanitizers, the daemons report into their logs.
if grep -E "Sanitizer|runtime error" "$WORK"/*.log; then
	fail "sanitizer report in a daemon's log"
fi
echo "exporterd_ctl: all passed"
