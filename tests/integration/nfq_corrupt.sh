#!/usr/bin/env bash
# nfq_corrupt.sh - a tree with damaged files. collectord writes four files
# of 10000 flows (an -M tree: blocks of 4096); then one byte in the middle of block 1
# of the second file is flipped, and the third file is cut in the middle
# of its block 1. The block offsets come from each file's footer (block
# index, docs/file-format.md).
#  1. nfq (a query, -s, -I) names on stderr the file and block that are
#     bad: "file F: block 1 at offset O: checksum mismatch" for the flip,
#     "file F: no footer, read 1 blocks up to offset O" for the cut (block 1,
#     at O, is the one cut), and exits 0 (nfq.1, EXIT STATUS: damaged
#     blocks and torn files are reported and the rest is read);
#  2. it answers from the rest: the flows it prints are exactly those of
#     the good files plus the readable blocks (compared flow by flow with
#     the pristine files, whose blocks are isolated by cutting copies at
#     block boundaries), and -s totals agree;
#  3. -I reads footers only: the cut file is reported, its readable blocks
#     counted; a flipped byte inside a block is not seen there;
#  4. a file cut inside its header cannot be read at all: it is named,
#     the rest is still answered, and the exit status is 255.
set -u
. "$(dirname "$0")/lib.sh"

T=$WORK/t/127.0.0.1
SOCK=$WORK/cd.sock
P=$(free_udp_port)
"$BIN/collectord" -p "$P" -M "$WORK/t" -S 0 -t 300 --socket "$SOCK" \
	2> "$WORK/cd.log" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
for s in 1 2 3 4; do
	"$TOOLS/flowgen" -n "127.0.0.1:$P" -v 10 -c 10000 -s $s > /dev/null ||
		fail flowgen
	sleep 0.3
	"$BIN/nfq" rotate --socket "$SOCK" > /dev/null || fail "nfq rotate"
done
stop "$CD"
mapfile -t F < <(find "$T" -name 'flows.2*' -size +1k | sort)
[ ${#F[@]} = 4 ] || fail "want 4 files, got ${F[*]}"
cp -r "$T" "$WORK/pristine"

# blocks.py FILE: "offset length flows" of each block, from the footer
cat > "$WORK/blocks.py" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
foot, flen, _ = struct.unpack('>QII', d[-24:-8])
f = d[foot:foot + flen]
o = 160                         # fixed part, up to the exporter count
o += 1 + f[o] * 28              # exporters
n = struct.unpack('>I', f[o:o + 4])[0]
o += 4
for i in range(n):
    off, ln, cnt = struct.unpack('>QII', f[o:o + 16])
    print(off, ln, cnt)
    o += 32
PY
blk()
{
	# blk FILE I FIELD: field 1 offset, 2 length, 3 flows of block I
	python3 "$WORK/blocks.py" "$1" | sed -n "$(($2 + 1))p" | cut -d' ' -f"$3"
}
A=${F[1]}
B=${F[2]}
[ "$(python3 "$WORK/blocks.py" "$A" | wc -l)" -ge 3 ] || fail "$A: want 3 blocks"
a_off=$(blk "$A" 1 1)
a_len=$(blk "$A" 1 2)
b_off=$(blk "$B" 1 1)
b_len=$(blk "$B" 1 2)
# flip one byte in the middle of A's block 1; cut B in its block 1
python3 - "$A" $((a_off + a_len / 2)) <<'PY'
import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as f:
    f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0x5a]))
PY
truncate -s $((b_off + b_len / 2)) "$B"

# ---- the reference: pristine flows minus what was damaged ----
csv()
{
	"$BIN/nfq" "$@" -q -o csv 2> /dev/null | grep -v '^ts,'
}
cut_copy()
{
	# cut_copy FILE BYTES: the flows of FILE's first blocks
	head -c "$2" "$1" > "$WORK/cut"
	csv -r "$WORK/cut"
}
pa=$WORK/pristine/${A##*/}
pb=$WORK/pristine/${B##*/}
{
	csv -r "$WORK/pristine/${F[0]##*/}"
	csv -r "$WORK/pristine/${F[3]##*/}"
	csv -r "$pa"
	cut_copy "$pb" "$b_off"
} > "$WORK/ref.pos"
# A's block 1 alone: blocks 0..1 minus block 0
cut_copy "$pa" $((a_off + a_len)) > "$WORK/a01"
cut_copy "$pa" "$a_off" > "$WORK/a0"
python3 - "$WORK/ref.pos" "$WORK/a01" "$WORK/a0" > "$WORK/ref" <<'PY'
import collections, sys
lines = lambda p: open(p).read().splitlines()
ref = collections.Counter(lines(sys.argv[1]))
blk1 = collections.Counter(lines(sys.argv[2])) - collections.Counter(lines(sys.argv[3]))
assert sum(blk1.values()) > 0
ref -= blk1
for l in sorted(ref.elements()):
    print(l)
PY
want=$(wc -l < "$WORK/ref")
a1=$(blk "$pa" 1 3)
echo "reference: $want flows (4 x 10000 - $a1 in A's block 1 - B from block 1 on)"

check_msgs()
{
	# check_msgs STDERR-FILE WHAT
	grep -qF "file $A: block 1 at offset $a_off: checksum mismatch" "$1" ||
		fail "$2: the flipped block is not named: $(cat "$1")"
	grep -qF "file $B: no footer, read 1 blocks up to offset $b_off" "$1" ||
		fail "$2: the cut file is not named: $(cat "$1")"
}

# ---- 1, 2: a query ----
"$BIN/nfq" -R "$T" -q -o csv > "$WORK/q.out" 2> "$WORK/q.err"
rc=$?
[ "$rc" = 0 ] || fail "query: exit $rc: $(cat "$WORK/q.err")"
check_msgs "$WORK/q.err" query
grep -v '^ts,' "$WORK/q.out" | sort > "$WORK/q.sorted"
cmp -s "$WORK/q.sorted" "$WORK/ref" ||
	fail "query: $(wc -l < "$WORK/q.sorted") flows, not the $want expected"
ok "query: both damages named (file, block, offset), the $want readable flows printed, exit 0"

# ---- -s ----
"$BIN/nfq" -R "$T" -s proto > "$WORK/s.out" 2> "$WORK/s.err"
rc=$?
[ "$rc" = 0 ] || fail "-s: exit $rc: $(cat "$WORK/s.err")"
check_msgs "$WORK/s.err" "-s"
got=$(sed -n 's/^Summary: total flows: \([0-9]*\),.*/\1/p' "$WORK/s.out")
[ "$got" = "$want" ] || fail "-s: total flows $got, want $want: $(cat "$WORK/s.out")"
ok "-s proto: total flows $got, the damages named"

# ---- 3: -I ----
"$BIN/nfq" -I -R "$T" > "$WORK/i.out" 2> "$WORK/i.err"
rc=$?
[ "$rc" = 0 ] || fail "-I: exit $rc: $(cat "$WORK/i.err")"
grep -qF "file $B: no footer, read 1 blocks up to offset $b_off" "$WORK/i.err" ||
	fail "-I: the cut file is not named: $(cat "$WORK/i.err")"
got=$(sed -n 's/^Flows: //p' "$WORK/i.out")
b0=$(blk "$pb" 0 3)
[ "$got" = $((3 * 10000 + b0)) ] ||
	fail "-I: $got flows, want 3 x 10000 (footers) + $b0 (B's block 0)"
ok "-I: the cut file named; footers plus its readable block: $got flows"

# ---- 4: a file cut inside its header ----
H=$T/flows.209901010000
head -c 10 "${F[0]}" > "$H"
"$BIN/nfq" -R "$T" -q -o csv > "$WORK/h.out" 2> "$WORK/h.err"
rc=$?
[ "$rc" = 255 ] || fail "header cut: exit $rc, want 255"
grep -qF "file $H: damaged or truncated header" "$WORK/h.err" ||
	fail "header cut: not named: $(cat "$WORK/h.err")"
check_msgs "$WORK/h.err" "header cut"
grep -v '^ts,' "$WORK/h.out" | sort | cmp -s - "$WORK/ref" ||
	fail "header cut: the rest was not answered the same"
ok "a file cut in its header: named, exit 255, the rest answered"
exit 0
