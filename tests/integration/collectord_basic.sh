#!/usr/bin/env bash
# Two listeners with their own identifiers receive v5, v9 and IPFIX from
# the project's encoder on 127.0.0.1 and ::1; each tree holds exactly the
# flows sent to it, read back block by block. Two of the sends use UDP
# GSO (flowgen --gso, as the benchmarks do): the collector must still see
# each datagram on its own, in sequence.
set -u
. "$(dirname "$0")/lib.sh"

P1=$(free_udp_port)
P2=$(free_udp_port)
cat > "$WORK/c.conf" <<CONF
base $WORK/flows
rotate 300
listen port=$P1 ident=Exporter_#1
listen port=$P2 ident=Exporter_#2
CONF

"$BIN/collectord" -c "$WORK/c.conf" -T > "$WORK/effective" || fail "-T"
grep -q "listen port=$P1 ident=Exporter_#1 dir=$WORK/flows/Exporter_#1" \
	"$WORK/effective" || fail "-T does not show listener 1"

"$BIN/collectord" -c "$WORK/c.conf" -B 8388608 2> "$WORK/log" &
CD=$!
PIDS+=($CD)
wait_udp "$P1"
wait_udp "$P2"

send()
{
	"$TOOLS/flowgen" -n "$1" -v "$2" -c "$3" -s "$4" ${5:-} -r 200000 ||
		fail "flowgen $*"
}

declare -A want_f want_p want_b
add()
{
	local out=$1 tree=$2
	want_f[$tree]=$(( ${want_f[$tree]:-0} + $(field flows "$out") ))
	want_p[$tree]=$(( ${want_p[$tree]:-0} + $(field packets "$out") ))
	want_b[$tree]=$(( ${want_b[$tree]:-0} + $(field bytes "$out") ))
}

add "$(send 127.0.0.1:$P1 5 3000 1)" 1
add "$(send 127.0.0.1:$P1 9 4000 2)" 1
add "$(send "[::1]:$P1" 10 5000 3 "-6 30")" 1
add "$(send "[::1]:$P2" 9 2500 4 "-6 50")" 2
add "$(send 127.0.0.1:$P2 10 3500 5)" 2
add "$(send "[::1]:$P2" 5 1000 6)" 2
gso="--prebuild --gso --per-msg 30 --mtu 9000 --batch 64"
add "$(send 127.0.0.1:$P2 10 6000 7 "$gso")" 2
add "$(send "[::1]:$P1" 9 6000 8 "$gso -6 20")" 1

sleep 0.5
stop "$CD"

for t in 1 2; do
	dir="$WORK/flows/Exporter_#$t"
	[ -d "$dir" ] || fail "tree $dir missing"
	got=$("$TOOLS/flowcount" "$dir") || fail "flowcount $dir: $got"
	echo "tree $t: sent flows=${want_f[$t]} packets=${want_p[$t]} bytes=${want_b[$t]}; stored $got"
	[ "$(field flows "$got")" = "${want_f[$t]}" ] || fail "tree $t flows"
	[ "$(field packets "$got")" = "${want_p[$t]}" ] || fail "tree $t packets"
	[ "$(field bytes "$got")" = "${want_b[$t]}" ] || fail "tree $t bytes"
	[ "$(field torn "$got")" = 0 ] || fail "tree $t: a file without footer"
	[ "$(field seq_failures "$got")" = 0 ] || fail "tree $t: sequence failures"
	ls "$dir"/*/*/*/flows.* > /dev/null || fail "tree $t: no file in %Y/%m/%d"
	if find "$dir" -name '*.current.*' | grep -q .; then
		fail "tree $t: temporary file left after SIGTERM"
	fi
done
ok "two listeners, three versions, IPv4 and IPv6, GSO sends: every flow in its tree"
