#!/usr/bin/env bash
# nfq_report.sh - `nfq report` rendered by headless Chromium.
#
# A capture made here (NetFlow v5 from two exporters, flows starting over
# 40 minutes from 2024-03-01 10:00 UTC, three export packets of the second
# exporter dropped) is imported by collectord -f into two trees with their
# own identifiers. nfq report writes the page; Chromium loads it (network
# names unresolvable), takes a screenshot and dumps the DOM. Checked:
#   - the screenshot is a PNG of the window's size, with the charts'
#     colours in it; the page logs nothing to the console
#   - the parsed DOM has as many bars and points per chart as the flows
#     listed by `nfq -o json` call for (bins, protocols, exporters), with
#     the same values, in 8 five-minute bins
#   - the top-talker rows are `nfq -s srcip/bytes`'s, the loss rows hold
#     the sequence failures `nfq -I` reads from each tree's footers
#   - no external URL, no script; the title is escaped; the same input
#     gives the same bytes
#   - -t and a filter narrow the charts; bad options fail with a message
#
# Environment: BIN, TOP (as for every integration test); CHROMIUM to use
# another browser binary.
set -u
. "$(dirname "$0")/lib.sh"

NFQ=$BIN/nfq
CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" >/dev/null ||
	fail "$CHROMIUM not found (Debian package chromium; make check installs it)"

# --- the data: a NetFlow v5 capture from two exporters -----------------
python3 - "$WORK/in.pcap" <<'EOF' || fail "writing the capture"
import random, struct, sys

T0 = 1709287200  # 2024-03-01 10:00:00 UTC, a 5-minute boundary
rnd = random.Random(7)
packets = []

def ip(s):
    return bytes(int(x) for x in s.split('.'))

def v5(t, seq, recs, boot):
    msg = struct.pack('!HHIIIIBBH', 5, len(recs), (t - boot) * 1000, t, 0,
                      seq, 0, 1, 0)
    for src, dst, sp, dp, proto, pkts, octets, first_s in recs:
        first = (first_s - boot) * 1000
        msg += struct.pack('!4s4s4sHHIIIIHHBBBBHHBBH', ip(src), ip(dst),
                           bytes(4), 1, 2, pkts, octets, first, first + 500,
                           sp, dp, 0, 0x18 if proto == 6 else 0, proto, 0,
                           0, 0, 24, 24, 0)
    return msg

# One export packet a minute with 6 flows that started in that minute;
# the packets of the minutes in `drop` never arrive (sequence gaps).
def exporter(addr, minutes, protos, drop, nsrc):
    seq, boot = 0, T0 - 3600
    for m in minutes:
        recs = []
        for k in range(6):
            proto = protos[(m + k) % len(protos)]
            dport = {6: rnd.choice([443, 80, 22]), 17: rnd.choice([53, 123]),
                     1: 0x0800, 47: 0}[proto]
            recs.append(('10.1.0.%d' % (rnd.randrange(nsrc) + 1),
                         '198.51.100.%d' % rnd.randrange(1, 9),
                         rnd.randrange(1024, 65535) if proto in (6, 17) else 0,
                         dport, proto, rnd.randrange(1, 50),
                         rnd.randrange(100, 90000),
                         T0 + m * 60 + rnd.randrange(0, 50)))
        t = T0 + m * 60 + 55
        if m not in drop:
            packets.append((t, addr, v5(t, seq, recs, boot)))
        seq += len(recs)

exporter('192.0.2.1', range(0, 40), [6, 6, 17], set(), 12)
exporter('192.0.2.2', range(10, 30), [6, 17, 1, 47], {14, 15, 22}, 20)
packets.sort(key=lambda p: p[0])

def csum(b):
    s = sum(struct.unpack('!10H', b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for t, src, payload in packets:
        udp = struct.pack('!HHHH', 2055, 9995, 8 + len(payload), 0) + payload
        iph = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64,
                          17, 0, ip(src), ip('192.0.2.100'))
        iph = iph[:10] + struct.pack('!H', csum(iph)) + iph[12:]
        frame = b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00' + iph + udp
        f.write(struct.pack('<IIII', t, 0, len(frame), len(frame)) + frame)
EOF

B=$WORK/base
"$BIN/collectord" -f "$WORK/in.pcap" -w "$B" -t 300 \
	-n "Exporter_#1,192.0.2.1,$B/Exporter_#1" \
	-n "Exporter_#2,192.0.2.2,$B/Exporter_#2" 2>"$WORK/imp.log" ||
	fail "collectord -f: $(cat "$WORK/imp.log")"
for e in 1 2; do
	"$NFQ" -r "$B/Exporter_#$e" -o json >"$WORK/flows$e.json" ||
		fail "nfq -r Exporter_#$e -o json"
	"$NFQ" -r "$B/Exporter_#$e" -I -o json >"$WORK/info$e.json" ||
		fail "nfq -I Exporter_#$e"
done
ok "capture imported: two trees"

MULTI="$B/Exporter_#1:Exporter_#2"
TITLE='Lab <b>one</b> & "two"'
"$NFQ" report -M "$MULTI" --title "$TITLE" -w "$WORK/r.html" \
	2>"$WORK/rep.err" || fail "nfq report: $(cat "$WORK/rep.err")"
[ ! -s "$WORK/rep.err" ] || fail "nfq report said: $(cat "$WORK/rep.err")"
"$NFQ" report -M "$MULTI" --title "$TITLE" >"$WORK/r2.html" ||
	fail "nfq report to stdout"
cmp -s "$WORK/r.html" "$WORK/r2.html" ||
	fail "two runs on the same input differ (-w FILE vs stdout)"
ok "report written; the same input gives the same page"

# Nothing to fetch, nothing to run.
if grep -nEi 'https?:|//|<script|src=|href=|url\(|@import' "$WORK/r.html" \
	>"$WORK/ext.txt"; then
	fail "external reference or script in the page: $(head -3 "$WORK/ext.txt")"
fi
ok "no external URL, no script"

# --- Chromium: screenshot and DOM in one run -----------------------------
mkdir -p "$WORK/home"
start=$SECONDS
HOME=$WORK/home timeout -k 5 45 "$CHROMIUM" --headless --no-sandbox \
	--disable-gpu --no-first-run --disable-extensions \
	--disable-background-networking --disable-component-update \
	--disable-sync --host-resolver-rules='MAP * ~NOTFOUND' \
	--user-data-dir="$WORK/home/profile" \
	--enable-logging=stderr --v=0 \
	--window-size=1100,3000 --screenshot="$WORK/r.png" \
	--dump-dom "file://$WORK/r.html" >"$WORK/dom.html" 2>"$WORK/chromium.log"
rc=$?
[ "$rc" = 0 ] || fail "chromium exit $rc: $(grep -v dbus "$WORK/chromium.log" | tail -5)"
echo "chromium: $((SECONDS - start)) s"
# A page without script logs nothing; anything on the console is an error
# (a resource that failed, a parse problem).
if grep -E ':CONSOLE|Uncaught' "$WORK/chromium.log" >"$WORK/console.txt"; then
	fail "console output: $(head -5 "$WORK/console.txt")"
fi
ok "chromium loaded the page, nothing on the console"

# The screenshot: a PNG of the window's size, and the charts in it (the
# bars' colours, decoded from the first rows of the image).
python3 - "$WORK/r.png" <<'EOF' || fail "screenshot check"
import struct, sys, zlib
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
assert len(d) > 20000, 'suspiciously small PNG: %d bytes' % len(d)
w, h, depth, ctype = struct.unpack('>IIBB', d[16:26])
assert (w, h) == (1100, 3000), (w, h)
assert depth == 8 and ctype in (2, 6), (depth, ctype)
idat, p = b'', 8
while p < len(d):
    n, typ = struct.unpack('>I4s', d[p:p + 8])
    if typ == b'IDAT':
        idat += d[p + 8:p + 8 + n]
    p += 12 + n
bpp = 3 if ctype == 2 else 4
stride = w * bpp
rows = 1200
raw = zlib.decompressobj().decompress(idat, rows * (stride + 1))
prev, seen = bytearray(stride), {}
for y in range(rows):
    f = raw[y * (stride + 1)]
    cur = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: cur[i] = (cur[i] + a) & 255
        elif f == 2: cur[i] = (cur[i] + b) & 255
        elif f == 3: cur[i] = (cur[i] + (a + b) // 2) & 255
        elif f == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else
                                b if pb <= pc else c)) & 255
        elif f != 0: raise AssertionError('bad filter %d' % f)
    for x in range(0, stride, bpp * 2):
        k = bytes(cur[x:x + 3])
        seen[k] = seen.get(k, 0) + 1
    prev = cur
tcp, udp = bytes.fromhex('4e79a7'), bytes.fromhex('f28e2b')
assert seen.get(tcp, 0) > 2000, 'TCP bars missing: %d' % seen.get(tcp, 0)
assert seen.get(udp, 0) > 500, 'UDP bars missing: %d' % seen.get(udp, 0)
for c in ('59a14f', '9c755f'):
    assert seen.get(bytes.fromhex(c), 0) > 20, 'colour %s missing' % c
print('png %dx%d, %d bytes, tcp %d udp %d samples' %
      (w, h, len(d), seen[tcp], seen[udp]))
EOF
ok "screenshot: PNG 1100x3000 with the charts drawn"

# --- the DOM against the flows ---------------------------------------------
"$NFQ" -M "$MULTI" -s srcip/bytes -n 0 -o json >"$WORK/talkers.json" ||
	fail "nfq -s srcip/bytes"
python3 - "$WORK" "$TITLE" <<'EOF' || fail "DOM check"
import collections, datetime, json, sys
from html.parser import HTMLParser
W, title = sys.argv[1], sys.argv[2]

class Dom(HTMLParser):
    # elements with their attributes; the text of the first element of
    # each tag name (the page's <title>, not the SVG ones)
    def __init__(self):
        super().__init__()
        self.els, self.stack, self.text = [], [], {}
    def handle_starttag(self, tag, attrs):
        self.els.append((tag, dict(attrs)))
        self.stack.append((tag, tag not in self.text))
        self.text.setdefault(tag, '')
    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass
    def handle_data(self, data):
        if self.stack and self.stack[-1][1]:
            self.text[self.stack[-1][0]] += data

dom = Dom()
dom.feed(open(W + '/dom.html').read())
def els(tag, cls, chart):
    return [a for t, a in dom.els if t == tag and a.get('class') == cls
            and a.get('data-chart') == chart]

# what the flows call for, from nfq's own listing of each tree
def pclass(p):
    return {6: 'TCP', 17: 'UDP', 1: 'ICMP', 58: 'ICMP'}.get(p, 'other')
flows = []
for e in (1, 2):
    for f in json.load(open('%s/flows%d.json' % (W, e))):
        t = datetime.datetime.strptime(f['first'], '%Y-%m-%dT%H:%M:%S.%fZ')
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        port = (f['icmp_type'] << 8 | f['icmp_code'] if 'icmp_type' in f
                else f['dst_port'])
        flows.append(dict(exp='Exporter_#%d' % e, bin=int(t) // 300 * 300,
                          proto=pclass(f['proto']), bytes=f['in_bytes'],
                          port=port, conv=(f['src4_addr'], f['dst4_addr'])))
bins = sorted({f['bin'] for f in flows})
nbins = (bins[-1] - bins[0]) // 300 + 1
assert nbins == 8, 'the capture spans 8 bins, the flows %d' % nbins
for kind in ('proto', 'exp'):
    want_b, want_f = collections.Counter(), collections.Counter()
    for f in flows:
        want_b[(f['bin'], f[kind])] += f['bytes']
        want_f[(f['bin'], f[kind])] += 1
    series = {f[kind] for f in flows}
    chart = 'proto' if kind == 'proto' else 'exporter'
    got_b = {(int(a['data-bin']), a['data-series']): int(a['data-value'])
             for a in els('rect', 'bar', 'bytes-' + chart)}
    assert len(els('rect', 'bar', 'bytes-' + chart)) == len(got_b)
    assert got_b == {k: v for k, v in want_b.items() if v}, \
        ('bytes-' + chart, sorted(got_b.items())[:5], sorted(want_b.items())[:5])
    pts = els('circle', 'point', 'flows-' + chart)
    assert len(pts) == nbins * len(series), ('flows-' + chart, len(pts),
                                             nbins, series)
    for a in pts:
        k = (int(a['data-bin']), a['data-series'])
        assert int(a['data-value']) == want_f.get(k, 0), (k, a)
    print('%s: %d bars, %d points (%d bins x %d series)' %
          (chart, len(got_b), len(pts), nbins, len(series)))

# top talkers: nfq -s srcip/bytes (ties may come in either order)
ref = json.load(open(W + '/talkers.json'))['stats'][0]['top']
rows = [a for t, a in dom.els if t == 'tr' and a.get('class') == 'row'
        and a.get('data-rank')]
talk = rows[:10]
assert len(talk) == min(10, len(ref)), (len(talk), len(ref))
pairs = {(r['value'], r['bytes'], r['flows']) for r in ref}
for i, a in enumerate(talk):
    assert int(a['data-bytes']) == ref[i]['bytes'], (i, a, ref[i])
    assert (a['data-key'], int(a['data-bytes']), int(a['data-flows'])) in pairs, a
assert len(els('rect', 'bar', 'talkers')) == len(talk)
for chart, key in (('talkers', 'conv'), ('ports', 'port'),
                   ('conversations', 'conv')):
    distinct = {f[key][0] if chart == 'talkers' else f[key] for f in flows}
    bars = els('rect', 'bar', chart)
    vals = [int(a['data-value']) for a in bars]
    assert len(bars) == min(10, len(distinct)), (chart, len(bars))
    assert vals == sorted(vals, reverse=True), (chart, vals)
    assert [int(a['data-rank']) for a in bars] == list(range(1, len(bars) + 1))

# loss: each tree's footers, as nfq -I reads them
loss = {a['data-key']: a for t, a in dom.els
        if t == 'tr' and a.get('data-seq-failures') is not None}
assert sorted(loss) == ['Exporter_#1', 'Exporter_#2'], sorted(loss)
for e in (1, 2):
    info = json.load(open('%s/info%d.json' % (W, e)))
    a = loss['Exporter_#%d' % e]
    assert int(a['data-seq-failures']) == info['sequence_failures'], (a, info)
    assert int(a['data-flows']) == info['all']['flows'], (a, info)
assert int(loss['Exporter_#1']['data-seq-failures']) == 0
assert int(loss['Exporter_#2']['data-seq-failures']) > 0
assert len(els('rect', 'bar', 'loss')) == 2

# the title came through as text, not markup
assert dom.text['title'] == title, dom.text['title']
assert dom.text['h1'] == title, dom.text['h1']
assert not [t for t, a in dom.els if t == 'b'], 'title became markup'
print('talkers, loss, title: ok')
EOF
ok "DOM: bars and points per chart match the flows; tables match nfq"

# --- -t and a filter: fewer bins, fewer series ---------------------------
"$NFQ" report -M "$MULTI" -t 2024-03-01T10:10/2024-03-01T10:19:59 \
	-w "$WORK/w.html" 'proto tcp' || fail "nfq report -t ... 'proto tcp'"
"$NFQ" -M "$MULTI" -t 2024-03-01T10:10/2024-03-01T10:19:59 -o json \
	'proto tcp' >"$WORK/w.json" || fail "nfq -t ... 'proto tcp'"
python3 - "$WORK" <<'EOF' || fail "-t / filter check"
import json, re, sys, datetime
W = sys.argv[1]
page = open(W + '/w.html').read()
fl = json.load(open(W + '/w.json'))
bins = set()
for f in fl:
    t = datetime.datetime.strptime(f['first'], '%Y-%m-%dT%H:%M:%S.%fZ')
    bins.add(int(t.replace(tzinfo=datetime.timezone.utc).timestamp()) // 300)
assert fl and len(bins) == 2, len(bins)
pts = re.findall(r'<circle class="point" data-chart="flows-proto"', page)
assert len(pts) == 2, len(pts)  # 2 bins x TCP alone
series = set(re.findall(r'data-chart="bytes-proto" data-bin="\d+" '
                        r'data-series="(\w+)"', page))
assert series == {'TCP'}, series
tot = re.search(r'<dd data-flows="(\d+)" data-packets="\d+" '
                r'data-bytes="(\d+)"', page)
assert int(tot.group(1)) == len(fl), (tot.group(1), len(fl))
assert int(tot.group(2)) == sum(f['in_bytes'] for f in fl)
print('window + filter: %d flows, 2 bins, TCP only' % len(fl))
EOF
ok "-t and a filter narrow the page"

# --- bad input: a message naming the option, exit 255, no page ----------
"$NFQ" report -M "$MULTI" --bin 0 >/dev/null 2>"$WORK/e1"
[ $? = 255 ] && grep -q -- '--bin' "$WORK/e1" || fail "--bin 0: $(cat "$WORK/e1")"
"$NFQ" report -M "$MULTI" --bin 1 -w "$WORK/x.html" 2>"$WORK/e2"
[ $? = 255 ] && grep -q -- '--bin 1' "$WORK/e2" || fail "--bin 1: $(cat "$WORK/e2")"
[ ! -e "$WORK/x.html" ] || fail "--bin 1 left a page"
"$NFQ" report -M "$MULTI" -w "$WORK/no/such/dir/r.html" 2>"$WORK/e3"
[ $? = 255 ] && grep -q -- '-w' "$WORK/e3" || fail "-w bad dir: $(cat "$WORK/e3")"
"$NFQ" report -M "$MULTI" 'proto tcp and' >/dev/null 2>"$WORK/e4"
[ $? = 255 ] && grep -q 'filter' "$WORK/e4" || fail "bad filter: $(cat "$WORK/e4")"
"$NFQ" report -h | grep -q -- '--bin' || fail "nfq report -h lacks --bin"
"$NFQ" -h | grep -q '^  report ' || fail "nfq -h lacks report"
ok "bad options fail with a message; -h lists the command and its flags"
