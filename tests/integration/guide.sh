#!/usr/bin/env bash
# Runs the lab of docs/guide.md as an operator would type it: every fenced
# block marked ```sh run, in order, in one shell, inside a network namespace
# made for the purpose (its own loopback, ports and firewall), with the
# programs of BIN and TOOLS on PATH. A block marked ```sh run nft runs only
# where nft is installed. Every command must succeed (bash -e), then what
# the guide claims is checked on the files the lab left. GUIDE_TRANSCRIPT=F
# keeps the commands and their output in F (to refresh the guide's output
# blocks).
set -u
. "$(dirname "$0")/lib.sh"

GUIDE=$TOP/docs/guide.md
[ -f "$GUIDE" ] || fail "no $GUIDE"
if [ "$(id -u)" != 0 ]; then
	echo "skipped: the lab needs root (network namespace, nftables)"
	exit 0
fi
NS=flowyard-guide-$$
ip netns add "$NS" || fail "ip netns add $NS"
trap 'for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done;
	ip netns del "$NS" 2>/dev/null; cleanup' EXIT

HAVE_NFT=no
command -v nft > /dev/null && HAVE_NFT=yes
# the blocks, one script; the lab's mktemp -d lands in $WORK/tmp
awk -v nft=$HAVE_NFT '
	/^```sh run/ { on = ($0 !~ / nft/ || nft == "yes"); inb = 1; next }
	/^```/ && inb { inb = 0; on = 0; next }
	on { print }
' "$GUIDE" > "$WORK/lab.sh"
[ -s "$WORK/lab.sh" ] || fail "no sh run block in $GUIDE"
mkdir "$WORK/tmp"

# the guide runs `make -C $SRC install`; build in the BUILD of BIN
BUILD_DIR=$(dirname "$BIN")
case $BUILD_DIR in
"$TOP"/*) BUILD_REL=${BUILD_DIR#"$TOP"/} ;;
*) BUILD_REL=$BUILD_DIR ;;
esac
cat > "$WORK/prelude.sh" <<EOF
make() { command make BUILD='$BUILD_REL' "\$@"; }
EOF

start=$(date +%s)
ip netns exec "$NS" env PATH="$BIN:$TOOLS:$PATH" SRC="$TOP" TMPDIR="$WORK/tmp" \
	timeout 120 bash -e -v -c ". '$WORK/prelude.sh'; . '$WORK/lab.sh'" \
	> "$WORK/transcript" 2>&1
rc=$?
[ -n "${GUIDE_TRANSCRIPT:-}" ] && cp "$WORK/transcript" "$GUIDE_TRANSCRIPT"
if [ $rc != 0 ]; then
	tail -40 "$WORK/transcript"
	fail "the guide's commands stopped with status $rc"
fi
ok "the guide's sh run blocks ran in $(($(date +%s) - start)) s (nft: $HAVE_NFT)"

LAB=$(find "$WORK/tmp" -mindepth 1 -maxdepth 1 -type d | head -1)
[ -d "$LAB" ] || fail "the lab made no directory"
flows() { "$BIN/nfq" -I -r "$1" | sed -n 's/^Flows: //p'; }

# 1: the probe's web flows reached the tree
n=$(flows "$LAB/flows/this-host")
[ "${n:-0}" -ge 2 ] || fail "this-host holds ${n:-no} flows"
ok "one server: $n flows in this-host"

# 2: each exporter in the tree its line names
for t in core-router edge-firewall sw1 sw2 servers/127.0.0.1 servers/--1; do
	n=$(flows "$LAB/central/$t")
	[ "${n:-0}" -gt 0 ] || fail "central/$t holds ${n:-no} flows"
done
[ "$(flows "$LAB/central/core-router")" = 20000 ] ||
	fail "core-router: not the 20000 flows flowgen sent"
ok "central collection: six trees, core-router has all 20000 flows"

# 5: bytes per flow as measured, in the range the guide quotes
n=$(flows "$LAB/measure/flowgen")
[ "$n" = 200000 ] || fail "measure/flowgen holds $n flows, not 200000"
size=$(find "$LAB/measure/flowgen" -type f -name 'flows.*' -printf '%s\n' |
	awk '{ s += $1 } END { print s }')
bpf=$(awk -v s="$size" -v n="$n" 'BEGIN { printf "%.2f", s / n }')
awk -v b="$bpf" 'BEGIN { exit !(b > 5 && b < 25) }' ||
	fail "flowgen flows take $bpf bytes each"
ok "disk: $bpf bytes per flowgen flow"
# retention: the 2016 files imported in section 3 expired at the rotation
[ ! -e "$LAB/imported/rtr/2016/07/21/flows.201607211350" ] ||
	fail "retention kept a 2016 file with --max-age 30d"
ok "retention removed the 2016 files"

# 7: the data sent before its templates was decoded once they came
if [ $HAVE_NFT = yes ]; then
	n=$(flows "$LAB/ts/rtr")
	[ "${n:-0}" -gt 0 ] || fail "ts/rtr holds ${n:-no} flows after send-templates"
	grep -q 'counter packets [1-9]' "$WORK/transcript" ||
		fail "the firewall rule dropped nothing"
	ok "troubleshooting: firewall drops counted, $n flows after the templates"
fi
