#!/usr/bin/env bash
# exporterd_truth.sh - exporterd's flow records equal a capture's ground
# truth, record by record.
#
#   BIN=build/bin TOP=. tests/integration/exporterd_truth.sh
#
# tests/tools/capgen.py writes seeded captures (TCP with handshake and FIN,
# RST and refused connections, a reused port, UDP, ICMP echo and
# unreachable, IPv6 with a hop-by-hop header, ICMPv6, 802.1Q VLANs, IPv4
# and IPv6 fragments, an orphan later fragment, ESP, idle and active
# timeouts, flows open at the end) with the list of every unidirectional
# record a meter must export under the timeouts it states. exporterd reads
# each capture (-r, those timeouts, --with-vlan) and exports to a real
# collectord; nfq prints the stored records as ndjson. Checks:
#  1. IPFIX (seed 1), NetFlow v9 (seed 2, other timeouts, frames cut at
#     96 bytes): the same records as the truth - addresses, ports, ICMP
#     type and code, protocol, VLAN, packets, IP bytes, TCP flags, first
#     and last time (ms), flowEndReason - none missing, none extra; and
#     exporterd's own counters by end reason equal the truth's;
#  2. NetFlow v5 (seed 3, no --with-vlan: flows not keyed by VLAN): the
#     IPv4 records, the same fields but VLAN and end reason, which v5 does
#     not carry;
#  3. -m 8 (a cache too small for the capture): flows are cut short with
#     reason 5 (lack of resources), counted in exporterd's log exactly as
#     many as arrived, and still every packet, byte and TCP flag of every
#     key arrives: nothing is lost by eviction.
set -u
: "${BIN:?BIN not set}" "${TOP:?TOP not set}"
cd "$TOP" || exit 1
for t in python3 ss; do
	if ! command -v "$t" >/dev/null; then
		echo "exporterd_truth: $t not found (make deps)" >&2
		exit 1
	fi
done
exec timeout -k 5 90 python3 - "$BIN" "$TOP/tests/tools" <<'PYEOF'
import json, os, re, signal, socket, subprocess, sys
import time

BIN, TESTTOOLS = sys.argv[1], sys.argv[2]
CAPGEN = os.path.join(TESTTOOLS, 'capgen.py')
sys.path.insert(0, TESTTOOLS)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import truthcmp

tmp, procs = truthcmp.scratch('exporterd_truth.')

failures = []
start = time.time()

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
    out = subprocess.run(['ss', '-Hlun', 'sport = :%d' % port],
                         capture_output=True, text=True).stdout
    return bool(out.strip())

def capgen(name, seed, *opts):
    pcap = os.path.join(tmp, name + '.pcap')
    p = subprocess.run([sys.executable, CAPGEN, '-s', str(seed)] +
                       list(opts) + [pcap], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit('capgen -s %d: %s' % (seed, p.stderr))
    with open(pcap + '.json') as f:
        return pcap, json.load(f)

def run(name, pcap, args):
    """exporterd -r pcap -> collectord; returns (nfq records, stderr)."""
    port = free_port()
    base = os.path.join(tmp, name)
    log = open(base + '.cd.log', 'w')
    cd = subprocess.Popen([BIN + '/collectord', '-p', str(port), '-w', base,
                           '-I', 'x', '-B', '8388608', '--socket',
                           base + '.sock'], stderr=log)
    procs.append(cd)
    for _ in range(100):
        if listening(port) or cd.poll() is not None:
            break
        time.sleep(0.05)
    if not listening(port):
        fail('%s: collectord does not listen on %d' % (name, port))
    ex = subprocess.run([BIN + '/exporterd', '-r', pcap, '-n',
                         '127.0.0.1:%d' % port] + args, capture_output=True,
                        text=True, timeout=30)
    if ex.returncode != 0:
        fail('%s: exporterd exit %d: %s' % (name, ex.returncode, ex.stderr))
    if not truthcmp.wait_drained(port):
        fail('%s: collectord does not read its socket' % name)
    cd.send_signal(signal.SIGTERM)
    try:
        if cd.wait(10) != 0:
            fail('%s: collectord exit %d: %s' % (
                name, cd.returncode, open(base + '.cd.log').read()[-2000:]))
    except subprocess.TimeoutExpired:
        fail('%s: collectord did not stop' % name)
        cd.kill()
    q = subprocess.run([BIN + '/nfq', '-r', os.path.join(base, 'x'), '-o',
                        'ndjson', '-q'], capture_output=True, text=True)
    if q.returncode != 0:
        fail('%s: nfq exit %d: %s' % (name, q.returncode, q.stderr))
    recs = [json.loads(l) for l in q.stdout.splitlines() if l.strip()]
    return recs, ex.stderr

def compare(name, got, want):
    d = truthcmp.compare(got, want)
    if d:
        fail('%s: %s' % (name, d))
        return False
    note('ok  %s: %d records equal the truth' % (name, len(want)))
    return True

def log_reasons(err):
    m = re.search(r'ends idle (\d+) active (\d+) eof (\d+) forced (\d+) '
                  r'resources (\d+)', err)
    if not m:
        fail('no end reason counters in exporterd\'s log: ' + err)
        return {}
    return {str(i + 1): int(v) for i, v in enumerate(m.groups()) if int(v)}

def check_run(name, pcap, truth, args, v5=False):
    vlan = [] if v5 else ['--with-vlan']
    recs, err = run(name, pcap, vlan + ['-t', truth['exporterd_timeouts']] +
                    args)
    got = [truthcmp.from_json(r) for r in recs]
    want = truth['records']
    if v5:
        # without --with-vlan: one 5-tuple on two VLANs is one flow
        want = [dict(r, reason=0) for r in truth['records_without_vlan']
                if r['family'] == 4]
        for r in got:
            r['reason'] = 0  # v5 has no end reason: nothing to see
        return compare(name, got, want)
    ok = compare(name, got, want)
    lr = log_reasons(err)
    if lr != truth['reasons']:
        fail('%s: exporterd counted end reasons %s, truth %s' %
             (name, lr, truth['reasons']))
    elif ok:
        note('ok  %s: end reasons %s' % (name, lr))
    return ok

cap1, truth1 = capgen('s1', 1)
cap2, truth2 = capgen('s2', 2, '--snaplen', '96', '--tcp', '10000',
                      '--udp', '6000', '--icmp', '5000', '--general',
                      '7000', '--fin', '1500', '--rst', '500', '--active',
                      '28000')
cap3, truth3 = capgen('s3', 3)
for t in (truth1, truth2):
    if sorted(t['reasons']) != ['1', '2', '3', '4']:
        fail('seed %d: the truth lacks an end reason: %s' %
             (t['seed'], t['reasons']))

# 1. IPFIX and v9
check_run('IPFIX seed 1', cap1, truth1, ['-v', '10'])
check_run('v9 seed 2 snaplen 96', cap2, truth2, ['-v', '9'])
# 2. v5
check_run('v5 seed 3', cap3, truth3, ['-v', '5'], v5=True)

# 3. a cache of 8 flows
recs, err = run('m8', cap1, ['-m', '8', '--with-vlan', '-t',
                             truth1['exporterd_timeouts']])
got = [truthcmp.from_json(r) for r in recs]
evicted = sum(r['reason'] == 5 for r in got)
lr = log_reasons(err)
if evicted == 0:
    fail('-m 8: no record with reason 5 (lack of resources)')
elif lr.get('5') != evicted:
    fail('-m 8: exporterd counted %s records for lack of resources, %d '
         'arrived' % (lr.get('5'), evicted))
if len(got) <= len(truth1['records']):
    fail('-m 8: %d records, no more than the %d of a large cache' %
         (len(got), len(truth1['records'])))
pg, pw = truthcmp.per_key(got), truthcmp.per_key(truth1['records'])
if pg != pw:
    diff = [k for k in set(pg) | set(pw) if pg.get(k) != pw.get(k)]
    fail('-m 8: %d keys lost packets, bytes or flags, e.g. %s: got %s '
         'want %s' % (len(diff), diff[0], pg.get(diff[0]),
                      pw.get(diff[0])))
elif evicted:
    note('ok  -m 8: %d records, %d for lack of resources (as counted), '
         'every key\'s packets, bytes and flags intact' %
         (len(got), evicted))

note('exporterd_truth: %d failure(s) in %.1fs' % (len(failures),
                                                 time.time() - start))
sys.exit(1 if failures else 0)
PYEOF
