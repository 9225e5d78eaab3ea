#!/usr/bin/env bash
# collectord -f on every bundled export capture: the files hold as many
# flows as tshark decodes (more where data came before its template in an
# earlier packet; H3C's v9 variable-length strings, which tshark cannot
# read, give one flow). Then the two-exporter capture (v9 from an IPv4
# exporter, IPFIX from an IPv6 one) splits into two trees with -M.
set -u
. "$(dirname "$0")/lib.sh"

DATA=$TOP/tests/data/netflow
n=0
while IFS=$'\t' read -r cap flows _; do
	case $cap in '#'* | '') continue ;; esac
	want=$flows
	case $cap in *nf9_h3c_netstream_varstring*) want=1 ;; esac
	out=$WORK/imp$n
	"$BIN/collectord" -f "$DATA/$cap" -w "$out" -I x -t 60 \
		2> "$WORK/log$n" || fail "collectord -f $cap: $(cat "$WORK/log$n")"
	if [ -d "$out/x" ]; then
		got=$("$TOOLS/flowcount" "$out/x") || fail "flowcount $cap: $got"
	else
		got="flows=0"
	fi
	[ "$(field flows "$got")" = "$want" ] ||
		fail "$cap: tshark $flows (want $want), stored: $got"
	if find "$out" -name '*.current.*' | grep -q .; then
		fail "$cap: temporary file left"
	fi
	n=$((n + 1))
done < "$DATA/expected.tsv"
[ "$n" -ge 30 ] || fail "only $n captures in expected.tsv"
ok "-f: $n captures, flow counts equal tshark's"

mergecap -F pcap -w "$WORK/mix.pcap" \
	"$DATA"/pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-0[01].pcap ||
	fail mergecap
"$BIN/collectord" -f "$WORK/mix.pcap" -M "$WORK/dyn" -t 60 2> "$WORK/mixlog" ||
	fail "collectord -M: $(cat "$WORK/mixlog")"
trees=$(ls "$WORK/dyn" | wc -l)
[ "$trees" = 2 ] || fail "-M made $trees trees: $(ls "$WORK/dyn")"
total=0
for d in "$WORK"/dyn/*; do
	got=$("$TOOLS/flowcount" "$d") || fail "flowcount $d"
	echo "$(basename "$d"): $got"
	f=$(field flows "$got")
	[ "$f" -gt 0 ] || fail "tree $d is empty"
	total=$((total + f))
done
[ "$total" = 24 ] || fail "-M trees hold $total flows, tshark says 11 + 13"
ok "-M: the v9 and the IPFIX exporter each in their own tree"
