#!/usr/bin/env bash
# A real softflowd reads traffic captures and exports v5, v9 and IPFIX to
# collectord and to a real nfcapd at the same time: the totals of flows,
# packets and bytes agree (nfcapd's side read with nfdump -I).
set -u
. "$(dirname "$0")/lib.sh"

command -v softflowd > /dev/null || fail "softflowd not installed (make deps)"
command -v nfcapd > /dev/null || fail "nfcapd not installed (make deps)"

TRAFFIC=$TOP/tests/data/traffic
n=0
for cap in ndpi/alexa-app.pcapng tcpreplay/test.pcap ipfixprobe/mixed.pcap; do
	for v in 5 9 10; do
		n=$((n + 1))
		P1=$(free_udp_port)
		P2=$(free_udp_port)
		mkdir -p "$WORK/nf$n"
		nfcapd -p "$P1" -w "$WORK/nf$n" -y -t 60 > "$WORK/nflog$n" 2>&1 &
		NF=$!
		PIDS+=($NF)
		"$BIN/collectord" -p "$P2" -w "$WORK/cd$n" -I sf \
			2> "$WORK/cdlog$n" &
		CD=$!
		PIDS+=($CD)
		wait_udp "$P1"
		wait_udp "$P2"
		softflowd -r "$TRAFFIC/$cap" -n "127.0.0.1:$P1,127.0.0.1:$P2" \
			-v "$v" -d > "$WORK/sflog$n" 2>&1 || fail "softflowd $cap"
		sleep 0.5
		stop "$NF"
		stop "$CD"
		peer=$(nfdump -R "$WORK/nf$n" -I) || fail "nfdump -I"
		pf=$(echo "$peer" | sed -n 's/^Flows: //p')
		pp=$(echo "$peer" | sed -n 's/^Packets: //p')
		pb=$(echo "$peer" | sed -n 's/^Bytes: //p')
		ps=$(echo "$peer" | sed -n 's/^Sequence failures: //p')
		got=$("$TOOLS/flowcount" "$WORK/cd$n/sf") || fail "flowcount"
		echo "$cap v$v: nfcapd flows=$pf packets=$pp bytes=$pb seq_failures=$ps; collectord $got"
		[ "$pf" -gt 0 ] || fail "$cap v$v: nfcapd got nothing"
		[ "$(field flows "$got")" = "$pf" ] || fail "$cap v$v: flows"
		[ "$(field packets "$got")" = "$pp" ] || fail "$cap v$v: packets"
		[ "$(field bytes "$got")" = "$pb" ] || fail "$cap v$v: bytes"
		# softflowd's IPFIX sequence leaves out its options record:
		# both collectors must count the same failures
		[ "$(field seq_failures "$got")" = "$ps" ] ||
			fail "$cap v$v: sequence failures"
	done
done
ok "softflowd -> nfcapd and collectord: the same totals ($n runs)"
