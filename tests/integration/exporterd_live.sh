#!/usr/bin/env bash
# exporterd_live.sh - exporterd capturing live on the loopback interface.
#
#   BIN=build/bin TOP=. tests/integration/exporterd_live.sh
#
# Needs root (a live capture); says so and passes otherwise. The traffic is
# this script's own, on ports it picked, and the capture filter keeps only
# it (the exports go over lo too). Checks, with tshark decoding what the
# collector socket received:
#  1. foreground, -t udp=1: a UDP flow is exported by the idle timer while
#     exporterd runs (the wall clock advances the cache clock on a quiet
#     link), with flowEndReason 1 and the exact packets and bytes;
#     a TCP connection ends by FIN (reason 3) with -t tcp.fin=0;
#     SIGUSR1 logs statistics; SIGTERM exports the rest (reason 4) and
#     exits 0;
#  2. -D -P pidfile -u nobody: the daemon writes its pid, runs as nobody,
#     still captures, and exports everything on SIGTERM.
set -u
: "${BIN:?BIN not set}" "${TOP:?TOP not set}"
cd "$TOP" || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "exporterd_live: not root, no live capture: skipped"
	exit 0
fi
for t in python3 tshark; do
	if ! command -v "$t" >/dev/null; then
		echo "exporterd_live: $t not found (make deps)" >&2
		exit 1
	fi
done
exec timeout -k 5 60 python3 - "$BIN/exporterd" <<'PYEOF'
import json, os, select, signal, socket, struct, subprocess, sys, tempfile
import threading, time

EXD = sys.argv[1]
tmp = tempfile.mkdtemp(prefix='exporterd_live.')
failures = []

def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg, flush=True)

class Collector:
    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(('127.0.0.1', 0))
        self.addr = '127.0.0.1:%d' % self.s.getsockname()[1]
        self.got = []
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            if select.select([self.s], [], [], 0.05)[0]:
                self.got.append((time.time(), self.s.recv(65535)))

    def records(self):
        """The flow records tshark decodes from what arrived."""
        path = os.path.join(tmp, 'c%d.pcap' % id(self))
        with open(path, 'wb') as f:
            f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535,
                                1))
            for t, data in self.got:
                udp = struct.pack('!HHHH', 30000, 4739, 8 + len(data),
                                  0) + data
                ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0,
                                 0, 64, 17, 0, bytes([10, 0, 0, 1]),
                                 bytes([10, 0, 0, 2])) + udp
                fr = b'\0' * 12 + b'\x08\x00' + ip
                f.write(struct.pack('<IIII', int(t), int(t % 1 * 1e6),
                                    len(fr), len(fr)) + fr)
        p = subprocess.run(['tshark', '-r', path, '-d', 'udp.port==4739,cflow',
                            '-T', 'json', '--no-duplicate-keys'],
                           capture_output=True, text=True)
        out = []
        def walk(o):
            if isinstance(o, dict):
                if 'cflow.packets' in o:
                    out.append(o)
                    return
                for v in o.values():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        for pkt in json.loads(p.stdout or '[]'):
            if '_ws.malformed' in json.dumps(pkt):
                fail('tshark: malformed export packet')
            walk(pkt['_source']['layers'].get('cflow', {}))
        return out

def one(v):
    return v[0] if isinstance(v, list) else v

def find(recs, proto, port):
    return [r for r in recs if one(r['cflow.protocol']) == str(proto) and
            port in (one(r.get('cflow.srcport')), one(r.get('cflow.dstport')))]

def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p

def wait_capturing(proc, errfile):
    # libpcap is ready once exporterd logs its first line at debug level
    for _ in range(100):
        time.sleep(0.05)
        if proc.poll() is not None:
            break
        with open(errfile) as f:
            if 'capturing on' in f.read():
                time.sleep(0.2)
                return True
    fail('exporterd did not start: ' + open(errfile).read())
    return False

def send_udp(port, n, size):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(n):
        s.sendto(b'u' * size, ('127.0.0.1', port))
    s.close()

def tcp_exchange(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(('127.0.0.1', port))
    srv.listen(1)
    c = socket.create_connection(('127.0.0.1', port))
    a, _ = srv.accept()
    c.sendall(b'hello')
    a.recv(16)
    c.close()
    a.close()
    srv.close()

# ---- 1. foreground ----
col = Collector()
uport, tport = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
err1 = os.path.join(tmp, 'fg.log')
proc = subprocess.Popen([EXD, '-i', 'lo', '-n', col.addr, '--verbose',
                         '-t', 'udp=1,tcp.fin=0,tcp.rst=0',
                         'udp port %d or tcp port %d' % (uport, tport)],
                        stderr=open(err1, 'w'))
if wait_capturing(proc, err1):
    send_udp(uport, 50, 100)
    tcp_exchange(tport)
    time.sleep(3)  # the idle timeout (1 s) and the 1 s timer
    early = col.records()
    u = find(early, 17, str(uport))
    if len(u) != 1 or one(u[0]['cflow.packets']) != '50' or \
            one(u[0]['cflow.octets']) != str(50 * 128) or \
            one(u[0].get('cflow.flow_end_reason')) != '1':
        fail('idle UDP flow while running: %s' % u)
    t = find(early, 6, str(tport))
    if len(t) < 2 or any(one(r.get('cflow.flow_end_reason')) != '3'
                         for r in t):
        fail('TCP flows ended by FIN (reason 3): %s' % t)
    send_udp(uport, 7, 10)
    time.sleep(0.3)
    proc.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(10)
    time.sleep(0.3)
    if rc != 0:
        fail('exporterd exit %d after SIGTERM' % rc)
    log = open(err1).read()
    if log.count('packets ') < 2:
        fail('SIGUSR1 logged no statistics: ' + log)
    u = find(col.records(), 17, str(uport))
    last = [r for r in u if one(r['cflow.packets']) == '7']
    if len(u) != 2 or not last or \
            one(last[0].get('cflow.flow_end_reason')) != '4' or \
            one(last[0]['cflow.octets']) != str(7 * 38):
        fail('flow exported on SIGTERM (reason 4): %s' % u)
    print('ok  foreground: idle, FIN and SIGTERM exports', flush=True)
else:
    proc.kill()
col.stop = True

# ---- 2. daemon ----
col = Collector()
uport = free_port(socket.SOCK_DGRAM)
pidfile = os.path.join(tmp, 'exporterd.pid')
p = subprocess.run([EXD, '-D', '-P', pidfile, '-u', 'nobody', '-i', 'lo',
                    '-n', col.addr, '-f', 'udp port %d' % uport],
                   capture_output=True, text=True, timeout=10)
if p.returncode != 0:
    fail('exporterd -D: exit %d: %s' % (p.returncode, p.stderr))
pid = None
for _ in range(50):
    try:
        pid = int(open(pidfile).read())
        break
    except (OSError, ValueError):
        time.sleep(0.1)
if pid is None:
    fail('no pidfile ' + pidfile)
else:
    time.sleep(1)
    user = subprocess.run(['ps', '-o', 'user=', '-p', str(pid)],
                          capture_output=True, text=True).stdout.strip()
    if user != 'nobody':
        fail('the daemon runs as %r, not nobody' % user)
    send_udp(uport, 20, 50)
    time.sleep(0.5)
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    else:
        fail('the daemon did not exit on SIGTERM')
    time.sleep(0.3)
    u = find(col.records(), 17, str(uport))
    if len(u) != 1 or one(u[0]['cflow.packets']) != '20':
        fail('daemon export: %s' % u)
    else:
        print('ok  daemon: pidfile, user nobody, export on SIGTERM',
              flush=True)
col.stop = True
print('exporterd_live: %d failure(s)' % len(failures))
sys.exit(1 if failures else 0)
PYEOF
