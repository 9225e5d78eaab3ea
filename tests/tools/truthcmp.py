"""truthcmp - flow records read back by nfq or nfdump, compared with the
ground truth of tests/tools/capgen.py. Imported by the exporterd_*.sh
integration scripts (not a program).

A record, in the truth's terms, is a dict with family (4/6), src, dst
(text as Python's ipaddress prints it: RFC 5952 for IPv6), proto, sport,
dport (ICMP: 0 and type << 8 | code), vlan, packets, bytes, tcp_flags
(int), first_ms, last_ms (ms since the epoch) and reason (flowEndReason,
0 when the reader cannot show it).
"""

import atexit
import datetime
import ipaddress
import shutil
import tempfile

KEY = ('family', 'src', 'dst', 'proto', 'sport', 'dport', 'vlan')
VALS = ('packets', 'bytes', 'tcp_flags', 'last_ms', 'reason')


def scratch(prefix):
    """A temporary directory and a list for child processes; at exit,
    also when a script stops early, the live ones are killed and the
    directory removed. Returns (tmp, procs)."""
    procs = []
    tmp = tempfile.mkdtemp(prefix=prefix)

    @atexit.register
    def cleanup():
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    return tmp, procs


def ms(text):
    """nfq's "...T12:00:00.123Z" (UTC) or nfdump's "...T12:00:00.123"
    (run with TZ=UTC)."""
    d = datetime.datetime.strptime(text.rstrip('Z'), '%Y-%m-%dT%H:%M:%S.%f')
    d = d.replace(tzinfo=datetime.timezone.utc)
    return round(d.timestamp() * 1000)


def flags_of(text):
    """nfdump's flag string "CEUAPRSF" with dots, to bits."""
    return sum(0x80 >> i for i, c in enumerate(text) if c != '.')


def from_json(r):
    """One record of `nfq -o ndjson` or `nfdump -o json`."""
    fam = 4 if 'src4_addr' in r else 6
    proto = r['proto']
    if proto in (1, 58):
        sport, dport = 0, r['icmp_type'] << 8 | r['icmp_code']
        flags = 0
    else:
        sport, dport = r['src_port'], r['dst_port']
        flags = flags_of(r['tcp_flags'])
    return {'family': fam,
            'src': str(ipaddress.ip_address(r['src%d_addr' % fam])),
            'dst': str(ipaddress.ip_address(r['dst%d_addr' % fam])),
            'proto': proto, 'sport': sport, 'dport': dport,
            'vlan': r.get('src_vlan', 0), 'packets': r['in_packets'],
            'bytes': r['in_bytes'], 'tcp_flags': flags,
            'first_ms': ms(r['first']), 'last_ms': ms(r['last']),
            'reason': r.get('end_reason', 0)}


def show(r):
    return '%s %s:%d > %s:%d p%d vlan %d: %d pkts %d bytes flags 0x%02x ' \
        '%d..%d reason %d' % (('v4', 'v6')[r['family'] == 6], r['src'],
                              r['sport'], r['dst'], r['dport'], r['proto'],
                              r['vlan'], r['packets'], r['bytes'],
                              r['tcp_flags'], r['first_ms'], r['last_ms'],
                              r['reason'])


def compare(got, want, key=KEY, vals=VALS, limit=12):
    """Record by record, matched by key and first time. Returns None if
    equal, else a text naming the differences."""
    def index(recs):
        d = {}
        for r in recs:
            d.setdefault(tuple(r[k] for k in key) + (r['first_ms'],),
                         []).append(r)
        return d
    g, w = index(got), index(want)
    bad = []
    for k in sorted(set(g) | set(w), key=str):
        gl, wl = g.get(k, []), w.get(k, [])
        gv = sorted(tuple(r[v] for v in vals) for r in gl)
        wv = sorted(tuple(r[v] for v in vals) for r in wl)
        if gv != wv:
            bad.append('    want %s\n    got  %s' % (
                '; '.join(show(r) for r in wl) or '-',
                '; '.join(show(r) for r in gl) or '-'))
    if len(got) == len(want) and not bad:
        return None
    return '%d records, want %d; %d differ:\n%s' % (
        len(got), len(want), len(bad), '\n'.join(bad[:limit]))


def per_key(recs, key=KEY):
    """{key: [packets, bytes, OR of flags]} over every record of a key."""
    d = {}
    for r in recs:
        t = d.setdefault(tuple(r[k] for k in key), [0, 0, 0])
        t[0] += r['packets']
        t[1] += r['bytes']
        t[2] |= r['tcp_flags']
    return d


def wait_drained(port, timeout=10.0):
    """Waits (at most `timeout` s) until the UDP socket listening on `port`
    has nothing left in its receive queue: what a finished exporter sent
    has been read by the collector. Returns whether it drained."""
    import subprocess
    import time
    end = time.time() + timeout
    while True:
        out = subprocess.run(['ss', '-Hlun', 'sport = :%d' % port],
                             capture_output=True, text=True).stdout.split()
        # State Recv-Q Send-Q Local Peer
        if len(out) >= 2 and out[1] == '0':
            time.sleep(0.1)  # the datagram last read is being handled
            return True
        if time.time() > end:
            return False
        time.sleep(0.05)
