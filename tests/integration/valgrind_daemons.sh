#!/usr/bin/env bash
# The daemons under valgrind, on real input: collectord importing a long
# IPFIX capture (templates, options, 583 packets) and a live listener fed
# over UDP then stopped by SIGTERM; exporterd replaying a traffic capture
# to that listener. No error, no leak.
set -u
. "$(dirname "$0")/lib.sh"

command -v valgrind > /dev/null || fail "valgrind not installed (make deps)"
VG=(valgrind -q --error-exitcode=99 --leak-check=full
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect)

"${VG[@]}" "$BIN/collectord" -f \
	"$TOP/tests/data/netflow/pmacct/400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources/traffic-00.pcap" \
	-w "$WORK/imp" -I vg 2> "$WORK/imp.log" ||
	fail "collectord -f under valgrind: $(grep -v notice "$WORK/imp.log" | head -20)"
ok "collectord -f: no valgrind error or leak"

P=$(free_udp_port)
"${VG[@]}" "$BIN/collectord" -p "$P" -w "$WORK/live" -I vg \
	--socket "$WORK/cd.sock" 2> "$WORK/live.log" &
CD=$!
PIDS+=($CD)
for _ in $(seq 100); do
	ss -Hlun "sport = :$P" | grep -q . && break
	sleep 0.1
done
"${VG[@]}" "$BIN/exporterd" -r "$TOP/tests/data/traffic/tcpreplay/test.pcap" \
	-n "127.0.0.1:$P" -v 9 2> "$WORK/exp.log" ||
	fail "exporterd under valgrind: $(grep -v notice "$WORK/exp.log" | head -20)"
"$TOOLS/flowgen" -n 127.0.0.1:$P -v 10 -c 2000 -r 20000 > /dev/null
"$BIN/nfq" status --socket "$WORK/cd.sock" > /dev/null || fail "nfq status"
sleep 1
kill -TERM "$CD"
wait "$CD"
rc=$?
[ "$rc" = 0 ] || fail "collectord under valgrind exit $rc: $(grep -v notice "$WORK/live.log" | head -20)"
ok "collectord live and exporterd -r: no valgrind error or leak"
