#!/usr/bin/env bash
# The same flows in a real nfcapd and in collectord (softflowd exporting
# three traffic captures to both at once); nfdump and nfq must then agree
# on totals, top-N statistics, aggregation and 30+ filters
# (tests/integration/nfq_vs_nfdump.sh does the comparing). NetFlow v9:
# nfdump 1.7.1 turns the durations of softflowd's IPFIX records into
# garbage (-2147483648d), which would fail every duration, pps and bps
# filter on nfdump's side.
set -u
. "$(dirname "$0")/lib.sh"

command -v softflowd > /dev/null || fail "softflowd not installed (make deps)"
command -v nfcapd > /dev/null || fail "nfcapd not installed (make deps)"
P1=$(free_udp_port)
P2=$(free_udp_port)
mkdir -p "$WORK/nf"
nfcapd -p "$P1" -w "$WORK/nf" -y -t 3600 > "$WORK/nflog" 2>&1 &
NF=$!
PIDS+=($NF)
"$BIN/collectord" -p "$P2" -w "$WORK/cd" -I sf -t 3600 \
	--socket "$WORK/cd.sock" 2> "$WORK/cdlog" &
CD=$!
PIDS+=($CD)
wait_udp "$P1"
wait_udp "$P2"
for cap in ndpi/alexa-app.pcapng ndpi/1kxun.pcap tcpreplay/test.pcap \
	ipfixprobe/mixed.pcap; do
	softflowd -r "$TOP/tests/data/traffic/$cap" -6 \
		-n "127.0.0.1:$P1,127.0.0.1:$P2" -v 9 -d > /dev/null 2>&1 ||
		fail "softflowd $cap"
done
sleep 0.5
stop "$NF"
stop "$CD"
bash "$(dirname "$0")/nfq_vs_nfdump.sh" "$WORK/nf" "$WORK/cd/sf" ||
	fail "nfq and nfdump disagree"
ok "nfq and nfdump agree on the same flows"
