#!/usr/bin/env bash
# exporterd_nfcapd.sh - exporterd's NetFlow v5, v9 and IPFIX read by a real
# nfcapd (Debian nfdump 1.7.1) and by tshark, against a capture's ground
# truth (tests/tools/capgen.py).
#
#   BIN=build/bin TOP=. tests/integration/exporterd_nfcapd.sh
#
# For each version exporterd reads the same seeded capture with the
# timeouts of its truth and sends every record to two collectors at once:
# nfcapd on 127.0.0.1 and a socket of this script, whose datagrams become a
# pcap for tshark. Checks, per version:
#  1. nfdump -I on nfcapd's file: flows, packets and bytes equal the
#     truth's totals (v5: the IPv4 records, without VLAN keys);
#  2. nfdump -o json: record by record, the truth (addresses, ports, ICMP
#     type and code, protocol, VLAN for v9/IPFIX, packets, bytes, TCP
#     flags, first and last ms) - nfdump shows no end reason;
#  3. tshark decodes every export packet as NetFlow/IPFIX with no
#     malformed packet and no expert info at all (warning or otherwise),
#     and its records add up to the same flows, packets and bytes;
#  4. nfcapd logs no sequence error and no bad packet.
set -u
: "${BIN:?BIN not set}" "${TOP:?TOP not set}"
cd "$TOP" || exit 1
for t in python3 tshark nfcapd nfdump ss; do
	if ! command -v "$t" >/dev/null; then
		echo "exporterd_nfcapd: $t not found (make deps)" >&2
		exit 1
	fi
done
exec timeout -k 5 90 python3 - "$BIN" "$TOP/tests/tools" <<'PYEOF'
import json, os, re, select, signal, socket, struct
import subprocess, sys, threading, time

BIN, TESTTOOLS = sys.argv[1], sys.argv[2]
sys.path.insert(0, TESTTOOLS)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import truthcmp

tmp, procs = truthcmp.scratch('exporterd_nfcapd.')

failures = []
start = time.time()
ENV = dict(os.environ, TZ='UTC')

def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg, flush=True)

def note(msg):
    print(msg, flush=True)

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p

def listening(port):
    return bool(subprocess.run(['ss', '-Hlun', 'sport = :%d' % port],
                               capture_output=True, text=True).stdout.strip())

class Receiver:
    """A UDP collector socket; keeps every datagram with its time."""
    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.s.bind(('127.0.0.1', 0))
        self.port = self.s.getsockname()[1]
        self.got = []
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            if select.select([self.s], [], [], 0.05)[0]:
                self.got.append((time.time(), self.s.recv(65535)))

    def pcap(self, path):
        """The datagrams as UDP to port 2055 in a pcap, for tshark."""
        with open(path, 'wb') as f:
            f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535,
                                1))
            for t, data in self.got:
                udp = struct.pack('!HHHH', 30000, 2055, 8 + len(data),
                                  0) + data
                ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0,
                                 0, 64, 17, 0, bytes([127, 0, 0, 1]),
                                 bytes([127, 0, 0, 1])) + udp
                fr = b'\0' * 12 + b'\x08\x00' + ip
                f.write(struct.pack('<IIII', int(t), int(t % 1 * 1e6),
                                    len(fr), len(fr)) + fr)

def tshark_records(path):
    """(records, problems): tshark's flow records of the pcap, and any
    malformed packet or expert warning/error it reports."""
    p = subprocess.run(['tshark', '-r', path, '-d', 'udp.port==2055,cflow',
                        '-T', 'json', '--no-duplicate-keys'],
                       capture_output=True, text=True)
    recs, problems = [], []
    def walk(o):
        if isinstance(o, dict):
            if 'cflow.packets' in o and 'cflow.octets' in o:
                recs.append(o)
                return
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    pkts = json.loads(p.stdout or '[]')
    for pkt in pkts:
        lay = pkt['_source']['layers']
        text = json.dumps(lay)
        if '_ws.malformed' in text:
            problems.append('malformed packet')
        # any expert info at all (chat, note, warning, error)
        for msg in re.findall(r'"_ws.expert.message": "([^"]*)"', text):
            problems.append('expert info: ' + msg)
        if '_ws.expert' in text and not problems:
            problems.append('expert info')
        walk(lay.get('cflow', {}))
    if not pkts:
        problems.append('no packet decoded: ' + p.stderr[-300:])
    return recs, problems

def total(v):
    return sum(int(x) for x in v) if isinstance(v, list) else int(v)

# the truth
pcap = os.path.join(tmp, 'cap.pcap')
p = subprocess.run([sys.executable, os.path.join(TESTTOOLS, 'capgen.py'),
                    '-s', '4', pcap], capture_output=True, text=True)
if p.returncode != 0:
    raise SystemExit('capgen: ' + p.stderr)
truth = json.load(open(pcap + '.json'))

for v in (5, 9, 10):
    name = 'v%d' % v
    if v == 5:
        want = [dict(r, vlan=0) for r in truth['records_without_vlan']
                if r['family'] == 4]
        vlan = []
    else:
        want = truth['records']
        vlan = ['--with-vlan']
    wf, wp = len(want), sum(r['packets'] for r in want)
    wb = sum(r['bytes'] for r in want)
    d = os.path.join(tmp, name)
    os.mkdir(d)
    port = free_port()
    nflog = open(d + '.log', 'w')
    nf = subprocess.Popen(['nfcapd', '-w', d, '-p', str(port), '-b',
                           '127.0.0.1', '-t', '3600'], stdout=nflog,
                          stderr=subprocess.STDOUT, env=ENV)
    procs.append(nf)
    rx = Receiver()
    for _ in range(100):
        if listening(port) or nf.poll() is not None:
            break
        time.sleep(0.05)
    if not listening(port):
        fail('%s: nfcapd does not listen: %s' % (name, open(d + '.log').read()))
        continue
    ex = subprocess.run([BIN + '/exporterd', '-r', pcap, '-v', str(v), '-n',
                         '127.0.0.1:%d,127.0.0.1:%d' % (port, rx.port), '-t',
                         truth['exporterd_timeouts']] + vlan,
                        capture_output=True, text=True, timeout=30)
    if ex.returncode != 0:
        fail('%s: exporterd exit %d: %s' % (name, ex.returncode, ex.stderr))
    for pt, who in ((port, 'nfcapd'), (rx.port, 'the receiver')):
        if not truthcmp.wait_drained(pt):
            fail('%s: %s does not read its socket' % (name, who))
    rx.stop = True
    nf.send_signal(signal.SIGTERM)
    try:
        nf.wait(10)
    except subprocess.TimeoutExpired:
        nf.kill()
        fail('%s: nfcapd did not stop on SIGTERM' % name)
    log = open(d + '.log').read()

    # 1. totals
    info = subprocess.run(['nfdump', '-R', d, '-I'], capture_output=True,
                          text=True, env=ENV).stdout
    def num(k):
        m = re.search(r'^%s: (\d+)$' % k, info, re.M)
        return int(m.group(1)) if m else None
    got = (num('Flows'), num('Packets'), num('Bytes'))
    if got != (wf, wp, wb):
        fail('%s: nfdump -I flows/packets/bytes %s, truth %s' %
             (name, got, (wf, wp, wb)))
    else:
        note('ok  %s: nfdump -I: %d flows, %d packets, %d bytes = truth' %
             ((name,) + got))

    # 2. record by record
    js = subprocess.run(['nfdump', '-R', d, '-o', 'json'],
                        capture_output=True, text=True, env=ENV).stdout
    recs = [truthcmp.from_json(r) for r in json.loads(js or '[]')]
    for r in recs:
        r['reason'] = 0
    diff = truthcmp.compare(recs, [dict(r, reason=0) for r in want])
    if diff:
        fail('%s: nfdump -o json: %s' % (name, diff))
    else:
        note('ok  %s: nfdump shows every record of the truth' % name)

    # 3. tshark
    path = os.path.join(tmp, name + '.pcap')
    rx.pcap(path)
    trecs, problems = tshark_records(path)
    tt = (len(trecs), sum(total(r['cflow.packets']) for r in trecs),
          sum(total(r['cflow.octets']) for r in trecs))
    if problems:
        fail('%s: tshark: %s' % (name, ', '.join(sorted(set(problems)))))
    if tt != (wf, wp, wb):
        fail('%s: tshark decodes flows/packets/bytes %s, truth %s' %
             (name, tt, (wf, wp, wb)))
    if not problems and tt == (wf, wp, wb):
        note('ok  %s: tshark decodes %d export packets cleanly, same '
             'totals' % (name, len(rx.got)))

    # 4. nfcapd's own view
    m = re.search(r'Sequence Errors: (\d+), Bad Packets: (\d+)', log)
    if not m or m.groups() != ('0', '0'):
        fail('%s: nfcapd: %s' % (name, m.group(0) if m else log[-500:]))

note('exporterd_nfcapd: %d failure(s) in %.1fs' % (len(failures),
                                                  time.time() - start))
sys.exit(1 if failures else 0)
PYEOF
