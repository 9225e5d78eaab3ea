#!/usr/bin/env bash
# collectord_diskfull.sh - a full disk: collectord's base directory is a
# 4 MB tmpfs, most of it taken by a filler file. Flows are sent until the
# writes fail with ENOSPC; then the filler is deleted and more flows are
# sent. Then the same with a rotation while the disk is full to the last
# page, so that a file's footer cannot be written. Asserts:
#  - a log line names the file and says "No space left on device", once per
#    episode (not once per block), and another says when writing works again;
#  - nfq status counts the write errors and the flows not written; the
#    daemon never dies;
#  - collection resumes by itself: the flows sent after the space came
#    back are all stored;
#  - a file whose footer could not be written never takes a final name:
#    it is kept as a temporary file (logged, counted as unfinished) and
#    completed by itself once there is room;
#  - no file is left damaged: every final file reads cleanly (flowcount:
#    no torn or bad file; nfq reads the tree without a warning), no
#    temporary file remains, and every flow sent is either stored or
#    counted as not written.
# Needs a mount namespace of its own (root, or unshare -r): the tmpfs
# lives and dies with the test.
set -u
if [ -z "${COLLECTORD_DISKFULL_NS:-}" ]; then
	export COLLECTORD_DISKFULL_NS=1
	if [ "$(id -u)" = 0 ]; then
		exec timeout -k 5 90 unshare -m --propagation private bash "$0" "$@"
	fi
	exec timeout -k 5 90 unshare -r -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

MNT=$WORK/mnt
mkdir -p "$MNT"
mount -t tmpfs -o size=4m,mode=0755 flowyard-test "$MNT" ||
	fail "cannot mount a tmpfs on $MNT"
trap 'umount -l "$MNT" 2> /dev/null; cleanup' EXIT
# leave about 400 kB: some blocks, then ENOSPC
dd if=/dev/zero of="$MNT/filler" bs=1k count=3700 status=none 2> /dev/null
df -k "$MNT" | tail -1

SOCK=$WORK/cd.sock
P=$(free_udp_port)
"$BIN/collectord" -p "$P" -w "$MNT/flows" -I full -t 300 -S 0 \
	--flush-ms 10 --socket "$SOCK" 2> "$WORK/cd.log" &
CD=$!
PIDS+=($CD)
wait_udp "$P"

status()
{
	ST=$("$BIN/nfq" status --socket "$SOCK") || fail "nfq status: $ST"
}
sline()
{
	echo "$ST" | sed -n "s/^$1: *//p"
}

# ---- fill the disk, and keep sending while it is full ----
"$TOOLS/flowgen" -n "127.0.0.1:$P" -v 9 -c 150000 -r 25000 -s 3 \
	> "$WORK/gen1" || fail "flowgen 1"
sleep 1
kill -0 "$CD" 2> /dev/null || fail "collectord died: $(cat "$WORK/cd.log")"
status
werr=$(sline "Write errors" | awk '{ print $1 }')
notw=$(sline "Write errors" | sed -n 's/.*(\([0-9]*\) flows not written.*/\1/p')
echo "while full: write errors $werr, flows not written $notw"
[ "$werr" -gt 0 ] && [ "$notw" -gt 0 ] ||
	fail "no write error counted on a full disk: $ST"
grep -E "tree full: .*$MNT/flows/full/[^ ]*: .*No space left on device" \
	"$WORK/cd.log" > /dev/null ||
	fail "no log line naming the file and ENOSPC: $(cat "$WORK/cd.log")"
n=$(grep -c "No space left on device" "$WORK/cd.log")
[ "$n" -le 10 ] || fail "$n ENOSPC lines: the log is flooded: $(head -20 "$WORK/cd.log")"
ok "disk full: logged ($n lines), $werr write errors, $notw flows not written"

# ---- space comes back: collection resumes by itself ----
rm -f "$MNT/filler"
"$TOOLS/flowgen" -n "127.0.0.1:$P" -v 9 -c 20000 -r 20000 -s 4 \
	> "$WORK/gen2" || fail "flowgen 2"
sleep 1
grep -q "again" "$WORK/cd.log" ||
	fail "no log line saying that writing works again: $(cat "$WORK/cd.log")"
status
notw2=$(sline "Write errors" | sed -n 's/.*(\([0-9]*\) flows not written.*/\1/p')
[ "$notw2" = "$notw" ] ||
	fail "flows still lost after the space came back: $notw -> $notw2"
ok "space back: writing again, nothing more lost"

# ---- a footer that cannot be written ----
# Many small blocks make a footer (its block index) longer than a page;
# then the disk is filled to the last page and the file rotated: it must
# not take a final name without its footer. It is kept as a temporary
# file and completed once there is room again.
"$TOOLS/flowgen" -n "127.0.0.1:$P" -v 10 -c 3000 -r 1500 -s 5 \
	> "$WORK/gen3" || fail "flowgen 3"
sleep 0.3
dd if=/dev/zero of="$MNT/filler" bs=4k status=none 2> /dev/null
"$BIN/nfq" rotate --socket "$SOCK" > /dev/null || fail "nfq rotate"
status
echo "after a rotation on a full disk: $(sline Unfinished)"
grep -q "kept as" "$WORK/cd.log" ||
	fail "no 'kept as' log line: $(cat "$WORK/cd.log")"
[ "$(sline Unfinished | awk '{ print $1 }')" -ge 1 ] ||
	fail "no unfinished file counted: $ST"
got=$("$TOOLS/flowcount" "$MNT/flows/full") || fail "flowcount: $got"
[ "$(field torn "$got")" = 0 ] || fail "a final file without footer: $got"
rm -f "$MNT/filler"
"$TOOLS/flowgen" -n "127.0.0.1:$P" -v 10 -c 5000 -r 10000 -s 6 \
	> "$WORK/gen4" || fail "flowgen 4"
sleep 1
status
[ "$(sline Unfinished | awk '{ print $1 }')" = 0 ] &&
	sline Unfinished | grep -q "([1-9][0-9]* recovered)" ||
	fail "the unfinished file was not completed: $ST $(cat "$WORK/cd.log")"
grep -q "recovered .*flows.current" "$WORK/cd.log" ||
	fail "no recovery logged: $(cat "$WORK/cd.log")"
ok "a footer that did not fit: kept aside, completed when space came back"
notw2=$(sline "Write errors" | sed -n 's/.*(\([0-9]*\) flows not written.*/\1/p')
stop "$CD"
grep -v "closed\|listening\|control socket" "$WORK/cd.log" | head -20

# ---- nothing damaged, nothing unaccounted for ----
if find "$MNT/flows" -name '*.current.*' | grep -q .; then
	fail "temporary files left: $(find "$MNT/flows" -name '*.current.*')"
fi
got=$("$TOOLS/flowcount" "$MNT/flows/full") || fail "flowcount: $got"
echo "stored: $got"
[ "$(field torn "$got")" = 0 ] && [ "$(field bad "$got")" = 0 ] ||
	fail "a damaged or footerless file: $got"
"$BIN/nfq" -R "$MNT/flows/full" -q -o csv > "$WORK/all.csv" 2> "$WORK/nfq.err" ||
	fail "nfq: $(cat "$WORK/nfq.err")"
[ -s "$WORK/nfq.err" ] && fail "nfq warned: $(cat "$WORK/nfq.err")"
sent=0
for g in gen1 gen2 gen3 gen4; do
	sent=$((sent + $(field flows "$(cat "$WORK/$g")")))
done
stored=$(field flows "$got")
# every flow is either in a file or counted as not written
[ $((stored + notw2)) = "$sent" ] ||
	fail "sent $sent, stored $stored, counted as not written $notw2"
ok "no damaged file; $stored stored + $notw2 counted as not written = $sent sent"
exit 0
