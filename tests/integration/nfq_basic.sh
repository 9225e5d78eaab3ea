#!/usr/bin/env bash
# nfq_basic.sh - nfq against a fixture of known flows.
#
# The fixture (two exporter trees, a missing slot, an open file without a
# footer) is written by the unit test program test_nfq_input, which also
# lists every flow in flows.tsv. Each check computes the expected answer
# from that list in Python and compares it with nfq's output: csv values,
# -I totals, -s srcip/bytes ordering, -A, -B, filters, -t, -c, -R, -M,
# --live, nfq ls; and every JSON output must parse.
#
# Environment: BIN (the programs), TOP (the repository), BUILD (default
# $TOP/build).
set -u
# `nfq ... | check`: check runs in this shell and keeps the counts
shopt -s lastpipe
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$TOP/build/bin}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
NFQ=$BIN/nfq
GEN=$BUILD/tests/test_nfq_input

fails=0
checks=0
tmp=$(mktemp -d /tmp/nfq_basic.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

ok() { checks=$((checks + 1)); echo "ok   $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $1"; }

for f in "$NFQ" "$GEN"; do
	if [ ! -x "$f" ]; then
		echo "nfq_basic: $f not built" >&2
		exit 1
	fi
done
if ! "$GEN" --fixture "$tmp/fx" >/dev/null; then
	echo "nfq_basic: writing the fixture failed" >&2
	exit 1
fi
B=$tmp/fx/base
TSV=$tmp/fx/flows.tsv

# check NAME PYTHON-CODE < nfq-output: the code reads `out` (stdin text)
# and `flows` (the fixture, a list of dicts) and raises/asserts on error.
check() {
	local name=$1 code=$2
	if python3 -c "
import sys, json, csv, io, collections
out = sys.stdin.read()
cols = 'tree name temp first last src dst sp dp proto flags tos pkts bytes inif outif sas das'.split()
flows = []
for line in open('$TSV'):
    v = line.rstrip('\n').split('\t')
    r = dict(zip(cols, v))
    for k in cols[2:]:
        if k not in ('src', 'dst'):
            r[k] = int(r[k])
    flows.append(r)
final = [f for f in flows if not f['temp']]
rtr1 = [f for f in final if f['tree'] == 'rtr1']
$code
" >"$tmp/err" 2>&1; then
		ok "$name"
	else
		bad "$name"
		sed 's/^/     /' "$tmp/err" | tail -15
	fi
}

# --- csv: every value of every flow of rtr1, in file order -------------
"$NFQ" -r "$B/rtr1" -o csv -q | check "csv values (rtr1)" '
import datetime
rows = list(csv.reader(io.StringIO(out)))
assert len(rows) == len(rtr1), (len(rows), len(rtr1))
pname = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMP6"}
def ts(ms): return datetime.datetime.utcfromtimestamp(ms // 1000).strftime("%Y-%m-%d %H:%M:%S")
for r, f in zip(rows, rtr1):
    assert r[0] == ts(f["first"]) and r[1] == ts(f["last"]), (r[:2], f)
    d = f["last"] - f["first"]
    assert r[2] == "%d.%03d" % (d // 1000, d % 1000), r[2]
    assert (r[3], r[4]) == (f["src"], f["dst"]), (r[3:5], f)
    assert int(r[5]) == f["sp"] and int(r[6]) == f["dp"], (r[5:7], f)
    assert r[7] == pname[f["proto"]], r[7]
    flags = "".join(c if f["flags"] & (0x80 >> i) else "." for i, c in enumerate("CEUAPRSF"))
    assert r[8] == flags, (r[8], flags)
    assert int(r[10]) == f["tos"] and int(r[11]) == f["pkts"] and int(r[12]) == f["bytes"]
    assert int(r[15]) == f["inif"] and int(r[16]) == f["outif"]
    assert int(r[17]) == f["sas"] and int(r[18]) == f["das"]
'
"$NFQ" -r "$B/rtr1" -o csv -c 1 | check "csv header is nfdump's" '
h = out.splitlines()[0].split(",")
assert h[:19] == "ts te td sa da sp dp pr flg fwd stos ipkt ibyt opkt obyt in out sas das".split(), h
assert "Summary" in out and "flows,bytes,packets,avg_bps,avg_pps,avg_bpp" in out
'

# --- -I: totals from the footers ---------------------------------------
"$NFQ" -M "$B/rtr1:rtr2" -I | check "-I totals (two trees)" '
kv = dict(l.split(": ", 1) for l in out.splitlines())
assert int(kv["Flows"]) == len(final), kv
assert int(kv["Bytes"]) == sum(f["bytes"] for f in final)
assert int(kv["Packets"]) == sum(f["pkts"] for f in final)
assert int(kv["Flows_tcp"]) == sum(1 for f in final if f["proto"] == 6)
assert int(kv["Flows_udp"]) == sum(1 for f in final if f["proto"] == 17)
assert int(kv["Flows_icmp"]) == sum(1 for f in final if f["proto"] in (1, 58))
assert int(kv["Bytes_udp"]) == sum(f["bytes"] for f in final if f["proto"] == 17)
first = min(f["first"] for f in final); last = max(f["last"] for f in final)
assert int(kv["First"]) == first // 1000 and int(kv["msec_first"]) == first % 1000
assert int(kv["Last"]) == last // 1000 and int(kv["msec_last"]) == last % 1000
# the fixture writes seq failures = file index: 0+1+2+3 + 5+6
assert int(kv["Sequence failures"]) == 17, kv["Sequence failures"]
'
"$NFQ" -r "$B/rtr1" --live -I -o json | check "-I --live, json" '
j = json.loads(out)
assert j["all"]["flows"] == len([f for f in flows if f["tree"] == "rtr1"]), j
assert j["files"] == 5 and j["files_without_footer"] == 1
'

# --- -s srcip/bytes: values and order ----------------------------------
"$NFQ" -M "$B/rtr1:rtr2" -s srcip/bytes -n 5 -N | check "-s srcip/bytes order" '
agg = collections.Counter()
for f in final: agg[f["src"]] += f["bytes"]
want = [k for k, v in sorted(agg.items(), key=lambda kv: -kv[1])][:5]
import re
lines = [re.sub(r"\(\s*", "(", l).split() for l in out.splitlines()[2:7]]
got = [l[4] for l in lines]
assert got == want, (got, want)
for l in lines:
    assert int(l[7].split("(")[0]) == agg[l[4]], l
assert out.splitlines()[0] == "Top 5 Src IP Addr ordered by bytes:"
'
"$NFQ" -M "$B/rtr1:rtr2" -s dstport/flows -s proto -o json | check "-s json: valid, values" '
j = json.loads(out)
assert [s["stat"] for s in j["stats"]] == ["dstport", "proto"]
c = collections.Counter(f["dp"] for f in final)
top = j["stats"][0]["top"]
assert [t["flows"] for t in top] == sorted(c.values(), reverse=True)[:10], top
assert all(c[t["value"]] == t["flows"] for t in top)
assert j["summary"]["flows"] == len(final)
'
"$NFQ" -M "$B/rtr1:rtr2" -s ip/bytes -s record/packets -n 3 -o ndjson | check "-s ndjson: every line parses" '
lines = [json.loads(l) for l in out.splitlines()]
assert lines[-1]["type"] == "SUMMARY" and len(lines) == 7, lines
'

# --- filters, -c, -t ---------------------------------------------------
"$NFQ" -r "$B/rtr1" -q -o csv "proto udp and dst port 53" | check "filter: proto udp and dst port 53" '
assert len(out.splitlines()) == sum(1 for f in rtr1 if f["proto"] == 17 and f["dp"] == 53)
'
"$NFQ" -r "$B/rtr1" -q -o csv "src net 10.1.2.0/24 or bytes > 10k" | check "filter: net or bytes" '
n = sum(1 for f in rtr1 if f["src"].startswith("10.1.2.") or f["bytes"] > 10000)
assert len(out.splitlines()) == n, (len(out.splitlines()), n)
'
echo "proto tcp # web only
and dst port in [ 80 443 ]" >"$tmp/filter"
"$NFQ" -r "$B/rtr1" -q -o csv -f "$tmp/filter" | check "filter from -f file" '
assert len(out.splitlines()) == sum(1 for f in rtr1 if f["proto"] == 6 and f["dp"] in (80, 443))
'
"$NFQ" -r "$B/rtr1" -Z "proto tcp and" 2>"$tmp/zerr"; rc=$?
if [ "$rc" -eq 255 ] && grep -q "filter" "$tmp/zerr"; then ok "-Z rejects a bad filter"; else bad "-Z rejects a bad filter (rc $rc)"; fi
if "$NFQ" -Z "proto tcp" && "$NFQ" -Z -f "$tmp/filter"; then ok "-Z accepts good filters"; else bad "-Z accepts good filters"; fi
"$NFQ" -r "$B/rtr1" -c 7 -o csv -q "proto tcp" | check "-c 7" '
assert len(out.splitlines()) == 7
'
"$NFQ" -r "$B/rtr1" -t 2026/11/27.10:05:00-2026/11/27.10:06:00 -o csv -q | check "-t nfdump form" '
a, z = 1795773900000, 1795773960000
n = sum(1 for f in rtr1 if f["first"] >= a and f["last"] <= z)
assert len(out.splitlines()) == n and n > 0, (len(out.splitlines()), n)
'
"$NFQ" -r "$B/rtr1" -t 2026-11-27T10:05Z/2026-11-27T10:06:00Z -o csv -q | check "-t ISO form" '
a, z = 1795773900000, 1795773960000
assert len(out.splitlines()) == sum(1 for f in rtr1 if f["first"] >= a and f["last"] <= z)
'

# --- input selection ----------------------------------------------------
"$NFQ" -R "$B/rtr1/2026/11/27/flows.202611271005:flows.202611271010" -o csv -q | check "-R first:last" '
assert len(out.splitlines()) == sum(1 for f in rtr1 if f["name"] in ("flows.202611271005", "flows.202611271010"))
'
"$NFQ" -r "$B" -o csv -q | check "open files skipped" '
assert len(out.splitlines()) == len(final)
'
"$NFQ" -r "$B" --live -o csv -q | check "--live reads the open file" '
assert len(out.splitlines()) == len(flows)
'

# --- aggregation ---------------------------------------------------------
"$NFQ" -r "$B/rtr1" -A srcip4/16,dstport -o json | check "-A srcip4/16,dstport" '
j = json.loads(out)
c = collections.Counter()
for f in rtr1:
    s = f["src"]
    key = (".".join(s.split(".")[:2]) + ".0.0" if ":" not in s else s, f["dp"])
    c[key] += f["bytes"]
got = {}
for r in j:
    s = r.get("src4_addr") or r.get("src6_addr")
    dp = r["dst_port"] if "dst_port" in r else (r["icmp_type"] << 8 | r["icmp_code"])
    got[(s, dp)] = r["in_bytes"]
assert got == dict(c), (sorted(got.items())[:5], sorted(c.items())[:5])
'
"$NFQ" -r "$B/rtr1" -A srcip,dstport -O bytes -n 3 -N | check "-A text layout and -O" '
lines = out.splitlines()
assert lines[0].split() == "Date first seen Duration Src IP Addr Dst Pt Packets Bytes bps Bpp Flows".split(), lines[0]
b = [int(l.split()[6]) for l in lines[1:4]]
assert b == sorted(b, reverse=True) and len(lines[4].split()) != 9
'
"$NFQ" -r "$B/rtr1" -B -o json | check "-B merges both directions" '
j = json.loads(out)
assert sum(r["flows"] for r in j) == len(rtr1)
assert sum(r["in_bytes"] + r.get("out_bytes", 0) for r in j) == sum(f["bytes"] for f in rtr1)
'

# --- threads and the memory budget change nothing -----------------------
same() {
	local name=$1
	shift
	if "$NFQ" "$@" --threads 1 --memory 0 >"$tmp/a" &&
		"$NFQ" "$@" --threads 3 --memory 1 >"$tmp/b" &&
		cmp -s <(grep -v '^Sys:' "$tmp/a") <(grep -v '^Sys:' "$tmp/b"); then
		ok "$name"
	else
		bad "$name"
		diff <(grep -v '^Sys:' "$tmp/a") <(grep -v '^Sys:' "$tmp/b") | head -5
	fi
}
# a 1 MB budget is exceeded at once: the keys are counted in partitions
same "-s record: 3 threads, partitions = 1 thread" -M "$B/rtr1:rtr2" -s record/bytes/flows -n 7
same "-A -n: 3 threads, partitions = 1 thread" -M "$B/rtr1:rtr2" -A srcip,dstport -O bytes -n 9
same "-s srcip: 3 threads = 1 thread" -M "$B/rtr1:rtr2" -s srcip/packets -s ip -n 0

# --- output formats -------------------------------------------------------
"$NFQ" -r "$B/rtr1" -o json | check "-o json parses (python -m json.tool)" '
assert len(json.loads(out)) == len(rtr1)
'
"$NFQ" -r "$B/rtr1" -o json "proto 99" | check "-o json with no flow is []" '
assert json.loads(out) == []
'
"$NFQ" -r "$B/rtr1" -o ndjson -q | check "-o ndjson: one object per line" '
assert len([json.loads(l) for l in out.splitlines()]) == len(rtr1)
'
for fmt in line long extended biline bilong "fmt:%ts %sa %da %pkt %byt"; do
	"$NFQ" -r "$B/rtr1" -o "$fmt" | check "-o $fmt: header, records, summary" '
lines = out.splitlines()
assert len(lines) == 1 + len(rtr1) + 4, len(lines)
assert lines[-4].startswith("Summary: total flows: %d, total bytes: " % len(rtr1)), lines[-4]
assert lines[-3].startswith("Time window: ")
assert lines[-2].startswith("Total flows processed: %d, passed: %d" % (len(rtr1), len(rtr1)))
'
done
"$NFQ" -r "$B/rtr1" -o line -q -c 3 | check "-q: no header, no summary" '
assert len(out.splitlines()) == 3
'
for args in "-o json" "-o json -s srcip" "-o json -A srcip" "-o json -I" "-o json -B" "-o json -s record"; do
	# shellcheck disable=SC2086
	if "$NFQ" -r "$B/rtr1" $args | python3 -m json.tool >/dev/null; then
		ok "json.tool accepts: $args"
	else
		bad "json.tool accepts: $args"
	fi
done

# --- nfq ls -------------------------------------------------------------
"$NFQ" ls --json "$B" | check "nfq ls --json" '
j = {t["ident"]: t for t in json.loads(out)}
assert set(j) == {"rtr1", "rtr2"}
assert j["rtr1"]["missing_slots"] == 1 and j["rtr1"]["live"] and j["rtr1"]["period"] == 300
assert j["rtr1"]["flows"] == len([f for f in flows if f["tree"] == "rtr1"])
assert j["rtr2"]["missing_slots"] == 0 and j["rtr2"]["files"] == 2
'
"$NFQ" ls "$B" | check "nfq ls table" '
assert "missing: 2026-11-27 10:15:00" in out, out
'

# --- errors name what is wrong -------------------------------------------
"$NFQ" -r "$B/nothere" 2>"$tmp/e" >/dev/null; rc=$?
if [ "$rc" -eq 255 ] && grep -q nothere "$tmp/e"; then ok "missing -r path: exit 255, named"; else bad "missing -r path (rc $rc)"; fi
"$NFQ" -r "$B/rtr1" -s nosuch 2>"$tmp/e" >/dev/null; rc=$?
if [ "$rc" -eq 255 ] && grep -q nosuch "$tmp/e"; then ok "bad -s: exit 255, named"; else bad "bad -s (rc $rc)"; fi
"$NFQ" -r "$B/rtr1" -t 2026/13/01 2>"$tmp/e" >/dev/null; rc=$?
if [ "$rc" -eq 255 ] && grep -q "month" "$tmp/e"; then ok "bad -t: exit 255, explained"; else bad "bad -t (rc $rc)"; fi
echo garbage >"$B/rtr2/2026/11/27/flows.202611271010"
"$NFQ" -r "$B/rtr2" -q -o csv 2>"$tmp/e" | check "a bad file is reported, the others read" "
assert len(out.splitlines()) == sum(1 for f in final if f['tree'] == 'rtr2')
assert 'flows.202611271010' in open('$tmp/e').read()
"

echo "nfq_basic: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
