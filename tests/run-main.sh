#!/usr/bin/env bash
# The main job of `make run`: a collector with two listeners, two sources
# feeding it, and what landed in each exporter's tree. Everything goes
# under one directory, printed at the start; no process is left running.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$TOP/build/bin}
TOOLS=${TOOLS:-$TOP/build/tools}
OUT=$(mktemp -d /tmp/flowyard-run.XXXXXX)
CD=
trap '[ -n "$CD" ] && kill -TERM "$CD" 2>/dev/null; wait 2>/dev/null || true' EXIT

echo "== flowyard main job; everything is under $OUT"
free_port()
{
	python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 0)); print(s.getsockname()[1])'
}
P1=$(free_port)
P2=$(free_port)
cat > "$OUT/collectord.conf" <<CONF
base $OUT/flows
rotate 300
listen port=$P1 bind=127.0.0.1 ident=Exporter_#1
listen port=$P2 bind=::1 ident=Exporter_#2
CONF
echo "== collectord, effective configuration"
"$BIN/collectord" -c "$OUT/collectord.conf" -T
"$BIN/collectord" -c "$OUT/collectord.conf" 2> "$OUT/collectord.log" &
CD=$!
for i in $(seq 50); do
	ss -Hlun "sport = :$P2" | grep -q . && break
	sleep 0.1
done

echo "== Exporter_#1: a Cisco ASR9k's IPFIX capture, replayed over UDP"
python3 - "$TOP/tests/data/netflow/pmacct/400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources/traffic-00.pcap" "$P1" <<'PY'
import socket, struct, sys
data = open(sys.argv[1], "rb").read()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
off, n = 24, 0
while off + 16 <= len(data):
    incl = struct.unpack("<I", data[off + 8:off + 12])[0]
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    et = struct.unpack(">H", frame[12:14])[0]
    if et == 0x0800 and frame[23] == 17:
        p = 14 + (frame[14] & 15) * 4
    elif et == 0x86DD and frame[20] == 17:
        p = 54
    else:
        continue
    dport, ulen = struct.unpack(">HH", frame[p + 2:p + 6])
    if dport != 9991:
        continue
    s.sendto(frame[p + 8:p + ulen], ("127.0.0.1", int(sys.argv[2])))
    n += 1
print(f"   {n} export packets sent")
PY
echo "== Exporter_#2: generated NetFlow v9, IPv4 and IPv6, over ::1"
"$TOOLS/flowgen" -n "[::1]:$P2" -v 9 -c 20000 -r 100000 -6 25
sleep 1
kill -TERM "$CD"
wait "$CD" || true
CD=
echo "== collectord's log"
cat "$OUT/collectord.log"
echo "== the trees"
(cd "$OUT/flows" && find . -type f | sort)
for t in "Exporter_#1" "Exporter_#2"; do
	echo "   $t: $("$TOOLS/flowcount" "$OUT/flows/$t")"
done
echo "== done: $OUT (nfq, exporterd and the status socket join as they land)"
