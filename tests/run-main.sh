#!/usr/bin/env bash
# The main job of `make run`: the classic fprobe -> nfcapd -> nfdump chain
# rebuilt on one host. collectord listens for two exporters, exporterd
# replays two bundled traffic captures to them, the status socket rotates
# the files and reports, and nfq answers questions about what landed.
# Everything goes under one directory, printed first; nothing is left
# running.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$TOP/build/bin}
OUT=$(mktemp -d /tmp/flowyard-run.XXXXXX)
CD=
trap '[ -n "$CD" ] && kill -TERM "$CD" 2>/dev/null; wait 2>/dev/null || true' EXIT

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "flowyard main job; everything is under $OUT"
free_port()
{
	python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 0)); print(s.getsockname()[1])'
}
P1=$(free_port)
P2=$(free_port)
SOCK=$OUT/collectord.sock
cat > "$OUT/collectord.conf" <<CONF
# two exporters, each on its own port and in its own tree
base $OUT/flows
rotate 300
socket $SOCK
listen port=$P1 bind=127.0.0.1 ident=Exporter_#1
listen port=$P2 bind=::1 ident=Exporter_#2
CONF
say "collectord: the effective configuration (-T)"
run "$BIN/collectord" -c "$OUT/collectord.conf" -T
"$BIN/collectord" -c "$OUT/collectord.conf" 2> "$OUT/collectord.log" &
CD=$!
for _ in $(seq 50); do
	[ -S "$SOCK" ] && ss -Hlun "sport = :$P2" | grep -q . && break
	sleep 0.1
done

say "exporterd replays a browsing capture (IPFIX) to Exporter_#1"
run "$BIN/exporterd" -r "$TOP/tests/data/traffic/ndpi/alexa-app.pcapng" \
	-n "127.0.0.1:$P1" -v 10
say "exporterd replays a mixed IPv4/IPv6 capture (NetFlow v9) to Exporter_#2"
run "$BIN/exporterd" -r "$TOP/tests/data/traffic/ndpi/1kxun.pcap" \
	-n "[::1]:$P2" -v 9
sleep 1.5

say "rotate through the status socket: the open files get their final names"
run "$BIN/nfq" rotate --socket "$SOCK"
say "the collector's status, through its control socket"
run "$BIN/nfq" status --socket "$SOCK"
say "what the collector says about its exporters"
run "$BIN/nfq" exporters --socket "$SOCK"
say "totals of both trees, from the file footers"
run "$BIN/nfq" -M "$OUT/flows/Exporter_#1:Exporter_#2" -I
say "top talkers by bytes"
run "$BIN/nfq" -M "$OUT/flows/Exporter_#1:Exporter_#2" -s srcip/bytes -n 5
say "top destination ports of Exporter_#1's TCP flows"
run "$BIN/nfq" -R "$OUT/flows/Exporter_#1" -s dstport/flows -n 5 'proto tcp'
say "the per-exporter trees"
run "$BIN/nfq" ls "$OUT/flows"
(cd "$OUT/flows" && find . -type f | sort)

kill -TERM "$CD"
wait "$CD" || true
CD=
say "collectord's log"
cat "$OUT/collectord.log"
say "done: everything is in $OUT"
