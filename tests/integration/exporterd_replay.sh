#!/usr/bin/env bash
# exporterd_replay.sh - exporterd replays the bundled traffic captures to UDP
# collectors on 127.0.0.1 and ::1; what it exports must add up to what tshark
# counts in the captures, and to what a real softflowd exports from them.
#
#   BIN=build/bin TOP=. tests/integration/exporterd_replay.sh
#
# The collectors are sockets of this script's own receiver thread (ephemeral
# ports, so nothing collides). Every datagram received is written to a pcap,
# one synthetic source address per run, which tshark decodes as NetFlow/IPFIX
# in one pass: tshark, not our decoder, reads what exporterd sent, and any
# malformed packet or expert warning it reports fails the test.
#
# Checks:
#  1. ground truth: each capture with the timeouts off (-t ...=0, so that no
#     flow is split): flows, packets and bytes per (IP version, protocol)
#     equal tshark's own count of the capture (unidirectional 5-tuples, ICMP
#     by type and code, later fragments joining their first fragment);
#  2. softflowd 1.1.0 (-v 9) and exporterd (-v 9, default timeouts) on the
#     same captures: equal packets and bytes per (version, TCP/UDP/ICMP)
#     where the two define them alike; where they do not (MPLS, QinQ and
#     6in4 frames softflowd does not decode), the difference is expected
#     exactly and said;
#  3. options: v5 (IPv4 only), biflow, 1-in-N sampling, -m eviction with
#     flowEndReason 5, several collectors (IPv4 and IPv6) getting the same
#     records, a closed collector port (ECONNREFUSED counted, nothing lost
#     on the others), -T, -h and option errors.
set -u
: "${BIN:?BIN not set}" "${TOP:?TOP not set}"
cd "$TOP" || exit 1
for t in python3 tshark; do
	if ! command -v "$t" >/dev/null; then
		echo "exporterd_replay: $t not found (make deps)" >&2
		exit 1
	fi
done
exec timeout -k 5 120 python3 - "$BIN/exporterd" <<'PYEOF'
import concurrent.futures, gzip, json, os, select, shutil, socket, struct
import subprocess, sys, tempfile, threading, time

EXD = sys.argv[1]
SOFTFLOWD = shutil.which('softflowd')
T = 'tests/data/traffic/'
CAPS = [
    T + 'tcpreplay/test.pcap', T + 'zeek/mixed-vlan-mpls.pcap',
    T + 'zeek/q-in-q.pcap', T + 'ndpi/6in4tunnel.pcap',
    T + 'zeek/ipv6-fragmented-dns.pcap', T + 'zeek/ipv4/fragmented-3.pcap',
    T + 'ipfixprobe/mixed.pcap', T + 'ipfixprobe/vlan.pcap',
    T + 'ndpi/1kxun.pcap', T + 'ndpi/alexa-app.pcapng',
    T + 'zeek/icmp_dot1q.pcap', T + 'zeek/ftp/ipv6.pcap',
    'tests/data/netflow/pmacct/112-IPFIXv10-CISCO-options-map-reassignment/'
    'traffic-00.pcap',
]
NOSPLIT = ['-t', 'tcp=0,udp=0,icmp=0,general=0,maxlife=0,'
           'tcp.fin=49d,tcp.rst=49d']
failures = []
tmp = tempfile.mkdtemp(prefix='exporterd_replay.')

def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg, flush=True)

def note(msg):
    print(msg, flush=True)

# ---- the receiver: one socket per collector, one thread for all ----

class Receiver:
    def __init__(self):
        self.socks = {}          # fd -> (socket, run index)
        self.got = []            # (run, time, payload)
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def collector(self, run, family=socket.AF_INET):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        host = '127.0.0.1' if family == socket.AF_INET else '::1'
        s.bind((host, 0))
        with self.lock:
            self.socks[s.fileno()] = (s, run)
        port = s.getsockname()[1]
        return ('[::1]:%d' if family == socket.AF_INET6 else
                '127.0.0.1:%d') % port

    def loop(self):
        while not self.stop:
            with self.lock:
                fds = list(self.socks)
            r, _, _ = select.select(fds, [], [], 0.05)
            for fd in r:
                s, run = self.socks[fd]
                while True:
                    try:
                        data = s.recv(65535, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    self.got.append((run, time.time(), data))

    def drain(self):
        # exporterd has exited: what it sent is in the socket buffers
        n = -1
        while n != len(self.got):
            n = len(self.got)
            time.sleep(0.15)

receiver = Receiver()
runs = []   # run index -> description

def new_run(desc):
    runs.append(desc)
    return len(runs) - 1

def exporterd(cap, args, run=None, collectors=None, check_rc=True):
    """Runs exporterd on a capture; returns (run, stderr)."""
    if run is None:
        run = new_run('exporterd ' + ' '.join(args) + ' ' + cap)
    if collectors is None:
        collectors = [receiver.collector(run)]
    cmd = [EXD, '-r', cap, '-n', ','.join(collectors)] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check_rc and p.returncode != 0:
        fail('%s: exit %d: %s' % (' '.join(cmd), p.returncode, p.stderr))
    return run, p.stderr

def softflowd(cap):
    run = new_run('softflowd ' + cap)
    col = receiver.collector(run)
    # no -c: with a control socket and -r, softflowd 1.1.0 waits for a
    # client before it reads the file
    pid = os.path.join(tmp, 'sfd%d.pid' % run)
    p = subprocess.run([SOFTFLOWD, '-r', cap, '-n', col, '-v', '10',
                        '-p', pid], capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        fail('softflowd -r %s: exit %d' % (cap, p.returncode))
    return run

# ---- tshark: the ground truth of a capture ----

TRUTH_FIELDS = ['frame.protocols', 'ip.src', 'ip.dst', 'ip.proto', 'ip.len',
                'ip.id', 'ip.flags.mf', 'ip.frag_offset', 'ipv6.src',
                'ipv6.dst', 'ipv6.nxt', 'ipv6.plen', 'ipv6.fraghdr.nxt',
                'ipv6.fraghdr.offset', 'ipv6.fraghdr.ident', 'tcp.srcport',
                'tcp.dstport', 'udp.srcport', 'udp.dstport', 'sctp.srcport',
                'sctp.dstport', 'icmp.type', 'icmp.code', 'icmpv6.type',
                'icmpv6.code', 'eth.padding', 'eth.trailer']
L4 = {'tcp': 6, 'udp': 17, 'sctp': 132, 'icmp': 1, 'icmpv6': 58}
V6_EXT = {0, 43, 44, 51, 60, 135, 139, 140}

def tshark_fields(cap):
    # no reassembly: flows see packets as they are on the wire; no TCP
    # analysis: not needed, and it is most of tshark's time
    cmd = ['tshark', '-r', cap, '-o', 'ip.defragment:FALSE',
           '-o', 'ipv6.defragment:FALSE', '-o',
           'tcp.desegment_tcp_streams:FALSE', '-o',
           'tcp.analyze_sequence_numbers:FALSE', '-o',
           'tcp.calculate_timestamps:FALSE', '-T', 'fields', '-E',
           'occurrence=f', '-E', 'separator=/t']
    for f in TRUTH_FIELDS:
        cmd += ['-e', f]
    return subprocess.run(cmd, capture_output=True, text=True).stdout

def truth(lines, sample_every=1):
    """{(version, proto): [flows, packets, bytes, padding]} from tshark's
    fields; padding is the Ethernet padding and trailer bytes of the
    frames (not IP bytes: softflowd counts them). With sample_every N,
    only frames 1, N+1, 2N+1... (exporterd's 1-in-N)."""
    flows, frags, tot = set(), {}, {}
    for i, line in enumerate(lines.splitlines()):
        if i % sample_every:
            continue
        v = dict(zip(TRUTH_FIELDS, line.split('\t')))
        layers = v['frame.protocols'].split(':')
        ips = [k for k, l in enumerate(layers) if l in ('ip', 'ipv6')]
        if not ips:
            continue
        k = ips[0]
        # a tunnel: the inner header is the flow
        if layers[k] == 'ip' and len(ips) > 1 and v['ip.proto'] in ('41',):
            k = ips[1]
        fam = 4 if layers[k] == 'ip' else 6
        nxt = [l for l in layers[k + 1:] if l in L4 or l in ('ip', 'ipv6')]
        if fam == 4:
            src, dst = v['ip.src'], v['ip.dst']
            proto, length = int(v['ip.proto']), int(v['ip.len'])
            fid = v['ip.id']
            later = int(v['ip.frag_offset'] or 0) > 0
            first = not later and v['ip.flags.mf'] in ('1', 'True')
        else:
            src, dst = v['ipv6.src'], v['ipv6.dst']
            length = int(v['ipv6.plen']) + 40
            if nxt and nxt[0] in L4:
                proto = L4[nxt[0]]
            elif v['ipv6.fraghdr.nxt']:
                proto = int(v['ipv6.fraghdr.nxt'])
            else:
                proto = int(v['ipv6.nxt'])
            fid = v['ipv6.fraghdr.ident']
            later = int(v['ipv6.fraghdr.offset'] or 0) > 0
            first = bool(fid) and not later
        ports = (0, 0)
        if proto in (1, 58) and not later:
            p = 'icmp' if proto == 1 else 'icmpv6'
            ports = (int(v[p + '.type']), int(v[p + '.code']))
        elif proto in (6, 17, 132) and not later:
            p = {6: 'tcp', 17: 'udp', 132: 'sctp'}[proto]
            if v[p + '.srcport']:
                ports = (int(v[p + '.srcport']), int(v[p + '.dstport']))
        fkey = (src, dst, proto, fid)
        if first:
            frags[fkey] = ports
        elif later:
            ports = frags.get(fkey, (0, 0))
        flows.add((fam, src, dst, proto) + ports)
        t = tot.setdefault((fam, proto), [0, 0, 0, 0])
        t[1] += 1
        t[2] += length
        t[3] += (len(v['eth.padding']) + len(v['eth.trailer'])) // 2
    for f in flows:
        tot[(f[0], f[3])][0] += 1
    return tot

# ---- tshark: what the collectors received ----

def write_pcap(path):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for run, t, data in receiver.got:
            # one source address and destination port per run: tshark
            # keeps templates apart per exporter
            src = bytes([10, 9, run >> 8, run & 255])
            udp = struct.pack('!HHHH', 30000, 20000 + run, 8 + len(data),
                              0) + data
            ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0,
                             64, 17, 0, src, bytes([127, 0, 0, 1])) + udp
            fr = b'\0' * 12 + b'\x08\x00' + ip
            f.write(struct.pack('<IIII', int(t), int(t % 1 * 1e6), len(fr),
                                len(fr)) + fr)

def records(obj, out):
    """Every flow record dict in tshark's JSON tree."""
    if isinstance(obj, dict):
        if 'cflow.packets' in obj and 'cflow.octets' in obj:
            out.append(obj)
            return
        for v in obj.values():
            records(v, out)
    elif isinstance(obj, list):
        for v in obj:
            records(v, out)

def decode_all():
    """{run: {'recs': [...], 'msgs': n, 'opts': [...]}} via tshark."""
    path = os.path.join(tmp, 'received.pcap')
    write_pcap(path)
    p = subprocess.run(['tshark', '-r', path, '-d',
                        'udp.port==20000-20999,cflow', '-T', 'json',
                        '--no-duplicate-keys'], capture_output=True,
                       text=True)
    res = {}
    for pkt in json.loads(p.stdout or '[]'):
        lay = pkt['_source']['layers']
        run = int(lay['udp']['udp.dstport']) - 20000
        r = res.setdefault(run, {'recs': [], 'msgs': 0, 'raw': []})
        r['msgs'] += 1
        r['raw'].append(lay.get('cflow', {}))
        for bad in ('_ws.malformed', '_ws.expert'):
            if bad not in json.dumps(lay):
                continue
            if runs[run].startswith('softflowd'):
                # softflowd 1.1.0's IPFIX sequence numbers are off
                r['expert'] = True
            else:
                fail('run %d (%s): tshark reports %s' % (run, runs[run],
                                                          bad))
        records(lay.get('cflow', {}), r['recs'])
    return res

def one(v):
    return v[0] if isinstance(v, list) else v

def total(v):
    # a biflow record has the reverse counter under the same name
    return sum(int(x) for x in v) if isinstance(v, list) else int(v)

def totals(recs):
    """{(version, proto): [flows, packets, bytes]} of exported records,
    both directions of a biflow counted."""
    tot = {}
    for r in recs:
        fam = 6 if 'cflow.srcaddrv6' in r else 4
        t = tot.setdefault((fam, int(one(r['cflow.protocol']))), [0, 0, 0])
        t[0] += 1
        t[1] += total(r['cflow.packets'])
        t[2] += total(r['cflow.octets'])
    return tot

def fmt(tot):
    return ' '.join('v%d/%d:%s' % (k[0], k[1], '/'.join(map(str, v)))
                    for k, v in sorted(tot.items()))

def compare(what, got, want, cols=(0, 1, 2)):
    g = {k: [v[c] for c in cols] for k, v in got.items()}
    w = {k: [v[c] for c in cols] for k, v in want.items()}
    if g != w:
        fail('%s:\n  got  %s\n  want %s' % (what, fmt(g), fmt(w)))
        return False
    return True

# ---- the runs ----

start = time.time()
echo = os.path.join(tmp, 'echo-connections.pcap')
with gzip.open(T + 'zeek/echo-connections.pcap.gz') as src, \
        open(echo, 'wb') as dst:
    shutil.copyfileobj(src, dst)
caps = CAPS + [echo]

# tshark works while exporterd runs
pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
fields = {cap: pool.submit(tshark_fields, cap) for cap in caps}
nosplit = {cap: exporterd(cap, NOSPLIT)[0] for cap in caps}
v9 = {cap: exporterd(cap, ['-v', '9'])[0] for cap in caps}
sfd = {}
if SOFTFLOWD:
    sfd = {cap: softflowd(cap) for cap in caps}
else:
    note('softflowd not found: the comparison with it is skipped')
nodecap = exporterd(T + 'ndpi/6in4tunnel.pcap', ['-v', '9', '--no-decap'])[0]

mixed = T + 'ipfixprobe/mixed.pcap'
alexa = T + 'ndpi/alexa-app.pcapng'
v5 = exporterd(alexa, ['-v', '5'] + NOSPLIT)[0]
bi = exporterd(alexa, ['-b'] + NOSPLIT)[0]
samp = exporterd(alexa, ['-s', '10'] + NOSPLIT)[0]
evict_run, evict_err = exporterd(alexa, ['-m', '16'] + NOSPLIT)
macs = exporterd(T + 'zeek/mixed-vlan-mpls.pcap',
                 ['-v', '9', '--with-macs', '--with-vlan'] + NOSPLIT)[0]
multi = [new_run('multi %d' % i) for i in range(3)]
cols = [receiver.collector(multi[0]), receiver.collector(multi[1]),
        receiver.collector(multi[2], socket.AF_INET6)]
exporterd(mixed, NOSPLIT, run=multi[0], collectors=cols)
# a closed port first: ICMP port unreachable comes back as ECONNREFUSED
closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
closed.bind(('127.0.0.1', 0))
closed_port = closed.getsockname()[1]
closed.close()
ref_run = new_run('refused')
ref_col = receiver.collector(ref_run)
_, ref_err = exporterd(alexa, ['--mtu', '600'], run=ref_run,
                       collectors=['127.0.0.1:%d' % closed_port, ref_col])
receiver.drain()
receiver.stop = True
note('runs done in %.1fs' % (time.time() - start))
res = decode_all()
note('exports decoded by tshark at %.1fs' % (time.time() - start))
truths = {cap: truth(f.result()) for cap, f in fields.items()}
pool.shutdown()
note('runs done in %.1fs, %d export packets' % (time.time() - start,
                                               len(receiver.got)))

def got(run):
    return res.get(run, {'recs': [], 'msgs': 0, 'raw': []})

# 1. ground truth
for cap in caps:
    t = totals(got(nosplit[cap])['recs'])
    if compare('ground truth ' + cap, t, truths[cap]):
        note('ok  %-60s %s' % (os.path.basename(cap), fmt(t)))

# 2. softflowd. It counts the bytes of the frame after the Ethernet header,
# so the padding of short frames too (we count IP bytes, as tshark's
# ip.len); it does not decode pseudowires nor QinQ, skips IPv6 later
# fragments and counts 6in4 by the outer IPv4 header. Elsewhere the
# definitions agree.
SFD_DIFFERS = {
    T + 'tcpreplay/test.pcap': 'EoMPLS pseudowire frames not decoded',
    T + 'zeek/mixed-vlan-mpls.pcap':
        'counts frame bytes after the Ethernet header: F5 trailers, MPLS '
        'labels',
    T + 'zeek/q-in-q.pcap': 'QinQ frames not decoded',
    T + 'zeek/ipv6-fragmented-dns.pcap': 'IPv6 later fragments not counted',
    T + 'ndpi/6in4tunnel.pcap': '6in4 counted as IPv4 protocol 41',
}
TUI = (1, 6, 17, 58) # ICMP, TCP, UDP, ICMPv6
def sfd_expect(tot):
    return {k: [0, v[1], v[2] + v[3]] for k, v in tot.items() if k[1] in TUI}
def tui(tot):
    return {k: [0] + v[1:3] for k, v in tot.items() if k[1] in TUI}
for cap in sfd:
    ours = tui(totals(got(v9[cap])['recs']))
    theirs = tui(totals(got(sfd[cap])['recs']))
    want = sfd_expect(truths[cap])
    if cap in SFD_DIFFERS:
        if theirs == want:
            fail('softflowd now agrees on %s: update SFD_DIFFERS' % cap)
        note('--  softflowd differs on %s (%s): ours %s, softflowd %s' %
             (os.path.basename(cap), SFD_DIFFERS[cap], fmt(ours),
              fmt(theirs)))
        continue
    if compare('softflowd on ' + cap, theirs, want, (1, 2)):
        note('ok  softflowd = exporterd (+ Ethernet padding) on %s' %
             os.path.basename(cap))
if sfd:
    # 6in4 counted by the outer header, as softflowd does
    cap = T + 'ndpi/6in4tunnel.pcap'
    if compare('--no-decap vs softflowd on ' + cap,
               totals(got(nodecap)['recs']), totals(got(sfd[cap])['recs']),
               (1, 2)):
        note('ok  softflowd = exporterd --no-decap on ' +
             os.path.basename(cap))
    bad = [os.path.basename(runs[r]) for r in sfd.values()
           if got(r).get('expert')]
    if bad:
        note('--  tshark warns about softflowd\'s IPFIX sequence numbers '
             'on ' + ', '.join(bad))
for cap in v9:
    compare('v9 default timeouts ' + cap, totals(got(v9[cap])['recs']),
            truths[cap], (1, 2))

# 3. options
compare('v5 ' + alexa, totals(got(v5)['recs']),
        {k: v for k, v in truths[alexa].items() if k[0] == 4})
compare('biflow ' + alexa, totals(got(bi)['recs']), truths[alexa], (1, 2))
if len(got(bi)['recs']) >= sum(v[0] for v in truths[alexa].values()):
    fail('biflow: %d records, no fewer than unidirectional flows' %
         len(got(bi)['recs']))
compare('sampling 1-in-10 ' + alexa, totals(got(samp)['recs']),
        truth(fields[alexa].result(), 10), (1, 2))
raw = json.dumps(got(samp)['raw'])
if '"cflow.sampling_packet_space": "9"' not in raw:
    fail('sampling: no options record saying 1 packet in 10')

reasons = {}
for r in got(evict_run)['recs']:
    k = int(one(r.get('cflow.flow_end_reason', '0')))
    reasons[k] = reasons.get(k, 0) + 1
compare('-m 16 ' + alexa, totals(got(evict_run)['recs']), truths[alexa],
        (1, 2))
if reasons.get(5, 0) == 0 or 'evicted 0 ' in evict_err:
    fail('-m 16: no flow ended for lack of resources: %s' % reasons)
else:
    note('ok  -m 16: end reasons %s' % reasons)

mrec = got(macs)['recs']
if not mrec or not all('cflow.src_mac' in r or 'cflow.srcmac' in r
                       for r in mrec):
    fail('--with-macs: records without a source MAC')
if not any(one(r.get('cflow.vlanid', '0')) != '0' for r in mrec):
    fail('--with-vlan: no VLAN id exported')

m = [totals(got(r)['recs']) for r in multi]
if not (m[0] == m[1] == m[2] and compare('multi ' + mixed, m[0],
                                          truths[mixed])):
    fail('several collectors did not get the same records: %s' %
         [fmt(x) for x in m])
else:
    note('ok  3 collectors (one IPv6) got the same records')

compare('refused ' + alexa, totals(got(ref_run)['recs']), truths[alexa],
        (1, 2))
line = [l for l in ref_err.splitlines() if ':%d:' % closed_port in l]
if not line or ' refused 0 ' in line[0]:
    fail('closed collector port: no ECONNREFUSED counted: ' + ref_err)
else:
    note('ok  closed collector port counted, other collector complete')

# 4. command line
def cli(args, rc):
    p = subprocess.run([EXD] + args, capture_output=True, text=True)
    if p.returncode != rc:
        fail('exporterd %s: exit %d, want %d' % (' '.join(args),
                                                  p.returncode, rc))
    return p.stdout + p.stderr
h = cli(['-h'], 0)
for flag in ('-i', '-r', '-f', '-n', '-v', '-s', '-b', '-m', '-t', '-e',
             '-d', '-T', '-D', '-P', '-u', '-C', '-B', '--no-promisc',
             '--immediate', '--mtu', '--sampling-random', '--with-macs',
             '--with-vlan', '--domain', '--engine-id'):
    if flag + ' ' not in h and flag + ',' not in h:
        fail('-h does not list ' + flag)
t = cli(['-r', mixed, '-n', '127.0.0.1:9', '-t', 'udp=45', '-T'], 0)
if 'timeout udp 45s' not in t or 'collector 127.0.0.1:9' not in t:
    fail('-T: ' + t)
for args, word in ((['-r', mixed, '-n', 'x'], '-n/--collector'),
                   (['-r', mixed, '-n', '127.0.0.1:9', '-m', 'lots'],
                    '-m/--max-flows'),
                   (['-r', mixed, '-n', '127.0.0.1:9', '-t', 'tcp=x'],
                    '-t/--timeout'),
                   (['-r', mixed, '-n', '127.0.0.1:9', '-v', '7'],
                    '-v/--nf-version'),
                   (['-r', mixed, '-n', '127.0.0.1:9', '-b', '-v', '9'],
                    '-b/--biflow')):
    e = cli(args, 2)
    if word not in e:
        fail('exporterd %s: message does not name %s: %s' %
             (' '.join(args), word, e))
e = cli(['-r', '/nonexistent.pcap', '-n', '127.0.0.1:9'], 1)
if '/nonexistent.pcap' not in e:
    fail('a missing capture file is not named: ' + e)
# a filter's syntax is checked with the options, before the capture opens
e = cli(['-r', mixed, '-n', '127.0.0.1:9', 'tcp', 'port'], 2)
if '-f/--filter' not in e:
    fail('a bad filter is not reported: ' + e)

shutil.rmtree(tmp, ignore_errors=True)
note('exporterd_replay: %d failure(s) in %.1fs' % (len(failures),
                                                  time.time() - start))
sys.exit(1 if failures else 0)
PYEOF
