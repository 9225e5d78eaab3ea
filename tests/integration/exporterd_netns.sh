#!/usr/bin/env bash
# exporterd_netns.sh - live capture between two network namespaces.
#
#   BIN=build/bin TOOLS=build/tools TOP=. tests/integration/exporterd_netns.sh
#
# Needs root (namespaces, a live capture); says so and passes otherwise.
# Creates two namespaces of its own (names with this shell's pid), joined by
# a veth pair with IPv4 and IPv6 addresses. In namespace A, on its own
# loopback, a collectord listens; exporterd captures on A's end of the veth
# (filter "tcp or udp": the namespaces' IPv6 neighbour discovery is not
# ours) and exports IPFIX to it; dumpcap records the same end at the same
# time as a reference. Traffic, between A and B:
#  - 50 UDP datagrams of 100 bytes A -> B, B answering the first 20 with
#    200 bytes each; 10 UDP datagrams of 300 bytes over IPv6 A -> B;
#  - one TCP connection A -> B: 5 requests of 100 bytes, each echoed, then
#    a FIN close.
# Once exporterd has exported everything on SIGTERM, nfq reads collectord's
# files. Checks:
#  1. the UDP flows have exactly the packets and IP bytes sent (known by
#     construction) and end reason 4 (forced, at SIGTERM);
#  2. the TCP flows, whose ACKs the kernel decides, equal the reference
#     capture's packets, bytes and flags exactly, carry SYN, ACK, PSH and
#     FIN, at least the payload sent, and end reason 3 (FIN);
#  3. no other flow: collectord's flows are the reference capture's.
# Everything is removed on exit, failure included; the script is bounded to
# 60 s.
set -u
if [ -z "${EXPORTERD_NETNS_TIMED:-}" ]; then
	EXPORTERD_NETNS_TIMED=1 exec timeout -k 5 60 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "exporterd_netns: not root, no namespaces: skipped"
	exit 0
fi
for t in ip python3 tshark dumpcap; do
	command -v "$t" >/dev/null || fail "$t not found (make deps)"
done

NSA=fyns$$a
NSB=fyns$$b
VA=fyv$$a
VB=fyv$$b
X=$(($$ % 200 + 20))
A4=10.$X.0.1
B4=10.$X.0.2
A6=fd6e:$X::1
B6=fd6e:$X::2
CPORT=2055

netns_cleanup()
{
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	ip link del "$VA" 2>/dev/null
	rm -rf "$WORK"
}
trap netns_cleanup EXIT

ina() { ip netns exec "$NSA" "$@"; }
inb() { ip netns exec "$NSB" "$@"; }

# wait_for FILE TEXT: at most 5 s.
wait_for()
{
	local i
	for i in $(seq 50); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no '$2' in $1: $(cat "$1" 2>/dev/null)"
}

ip netns add "$NSA" || fail "ip netns add $NSA"
ip netns add "$NSB" || fail "ip netns add $NSB"
ip link add "$VA" type veth peer name "$VB" || fail "veth pair"
ip link set "$VA" netns "$NSA" || fail "veth to $NSA"
ip link set "$VB" netns "$NSB" || fail "veth to $NSB"
ina ip addr add "$A4/24" dev "$VA" || fail "address $A4"
inb ip addr add "$B4/24" dev "$VB" || fail "address $B4"
ina ip -6 addr add "$A6/64" dev "$VA" nodad || fail "address $A6"
inb ip -6 addr add "$B6/64" dev "$VB" nodad || fail "address $B6"
ina ip link set lo up
inb ip link set lo up
ina ip link set "$VA" up || fail "link $VA up"
inb ip link set "$VB" up || fail "link $VB up"

# Background commands run by ip itself, not through ina/inb: $! must be the
# program's pid (ip netns exec execs it), not a subshell's.
# collectord on A's loopback
ip netns exec "$NSA" "$BIN/collectord" -p "$CPORT" -b 127.0.0.1 -w "$WORK/flows" \
	-I ns --socket "$WORK/cd.sock" \
	2> "$WORK/cd.log" &
CD=$!
PIDS+=($CD)
for i in $(seq 50); do
	ina ss -Hlun "sport = :$CPORT" | grep -q . && break
	sleep 0.1
done
ina ss -Hlun "sport = :$CPORT" | grep -q . ||
	fail "collectord does not listen: $(cat "$WORK/cd.log")"

# the reference capture and exporterd, on the same veth end
ip netns exec "$NSA" dumpcap -q -P -i "$VA" -f "tcp or udp" -w "$WORK/ref.pcap" \
	2> "$WORK/dumpcap.log" &
DC=$!
PIDS+=($DC)
ip netns exec "$NSA" "$BIN/exporterd" -i "$VA" -n "127.0.0.1:$CPORT" \
	--verbose --socket "$WORK/ex.sock" -f "tcp or udp" 2> "$WORK/ex.log" &
EX=$!
PIDS+=($EX)
wait_for "$WORK/ex.log" "capturing on"
wait_for "$WORK/dumpcap.log" "$VA"
sleep 0.5 # libpcap's sockets are ready a moment after activation

# B: a UDP sink answering the first 20 datagrams, an IPv6 UDP sink, a TCP
# echo server for one connection
cat > "$WORK/server.py" <<'EOF'
import socket, sys, threading
b4, b6, ready = sys.argv[1], sys.argv[2], sys.argv[3]
u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u4.bind((b4, 0))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u6.bind((b6, 0))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.bind((b4, 0))
t.listen(1)
def udp4():
    n = 0
    while True:
        data, peer = u4.recvfrom(65535)
        n += 1
        if n <= 20:
            u4.sendto(b'r' * 200, peer)
def udp6():
    while True:
        u6.recv(65535)
def tcp():
    c, _ = t.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(65535)
        if not d:
            break
        c.sendall(d)
    c.close()
for f in (udp4, udp6, tcp):
    threading.Thread(target=f, daemon=True).start()
with open(ready, 'w') as f:
    f.write('%d %d %d\n' % (u4.getsockname()[1], u6.getsockname()[1],
                            t.getsockname()[1]))
threading.Event().wait()
EOF
ip netns exec "$NSB" python3 -S "$WORK/server.py" "$B4" "$B6" "$WORK/ports.tmp" &
SRV=$!
PIDS+=($SRV)
for i in $(seq 50); do
	[ -s "$WORK/ports.tmp" ] && break
	sleep 0.1
done
read -r U4 U6 TP < "$WORK/ports.tmp" || fail "server ports"

# A: the client; prints its own ports
ina python3 -S - "$B4" "$B6" "$U4" "$U6" "$TP" > "$WORK/client.out" <<'EOF' ||
import socket, sys, time
b4, b6, u4, u6, tp = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4.settimeout(5)
s4.bind(('0.0.0.0', 0))
for i in range(50):
    s4.sendto(b'q' * 100, (b4, u4))
    if i % 10 == 9:
        time.sleep(0.02)
for _ in range(20):
    s4.recv(65535)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.bind(('::', 0))
for _ in range(10):
    s6.sendto(b's' * 300, (b6, u6))
c = socket.create_connection((b4, tp), timeout=5)
ct = c.getsockname()[1]
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for _ in range(5):
    c.sendall(b't' * 100)
    got = b''
    while len(got) < 100:
        got += c.recv(100 - len(got))
c.shutdown(socket.SHUT_WR)
while c.recv(4096):
    pass
c.close()
print(s4.getsockname()[1], s6.getsockname()[1], ct)
EOF
	fail "client traffic"
sleep 1 # the last ACK, and both captures reading it

# term PID NAME: SIGTERM, and the program must exit 0 (the script's time
# limit bounds the wait)
term()
{
	local rc
	kill -TERM "$1" 2>/dev/null
	wait "$1"
	rc=$?
	[ "$rc" -eq 0 ] || fail "$2 exit $rc on SIGTERM: $(tail -5 "$WORK/$3")"
}
term "$EX" exporterd ex.log
grep -q "exporting every flow" "$WORK/ex.log" ||
	fail "exporterd did not export on SIGTERM: $(cat "$WORK/ex.log")"
kill -INT "$DC" 2>/dev/null
wait "$DC" 2>/dev/null
# collectord has read every message once its socket's queue is empty
for i in $(seq 100); do
	q=$(ina ss -Hlun "sport = :$CPORT" | awk '{print $2}')
	[ "$q" = 0 ] && break
	sleep 0.1
done
[ "$q" = 0 ] || fail "collectord does not read its socket (queue $q)"
sleep 0.1
term "$CD" collectord cd.log

"$BIN/nfq" -r "$WORK/flows/ns" -o ndjson -q > "$WORK/flows.json" ||
	fail "nfq -r $WORK/flows/ns"
tshark -r "$WORK/ref.pcap" -T fields -E separator=/t -e ip.src -e ip.dst \
	-e ipv6.src -e ipv6.dst -e ip.proto -e ipv6.nxt -e ip.len -e ipv6.plen \
	-e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport \
	-e tcp.flags > "$WORK/ref.txt" 2>/dev/null || fail "tshark -r ref.pcap"

python3 - "$TOP/tests/tools" "$WORK" "$A4" "$B4" "$A6" "$B6" "$U4" "$U6" \
	"$TP" <<'EOF' || fail "flows differ (above)"
import ipaddress, json, sys
sys.path.insert(0, sys.argv[1])
sys.dont_write_bytecode = True
import truthcmp
work, a4, b4, a6, b6 = sys.argv[2:7]
u4, u6, tp = map(int, sys.argv[7:10])
a6, b6 = str(ipaddress.ip_address(a6)), str(ipaddress.ip_address(b6))
cp4, cp6, ct = map(int, open(work + '/client.out').read().split())
bad = []

got = [truthcmp.from_json(json.loads(l))
       for l in open(work + '/flows.json') if l.strip()]
gk = {}
for r in got:
    gk.setdefault(tuple(r[k] for k in truthcmp.KEY), []).append(r)

# the reference capture, per key
ref = {}
for line in open(work + '/ref.txt'):
    v = (line.rstrip('\n').split('\t') + [''] * 13)[:13]
    if v[0]:
        fam, src, dst, proto, length = 4, v[0], v[1], int(v[4]), int(v[6])
    else:
        fam, src, dst = 6, v[2], v[3]
        proto, length = int(v[5]), int(v[7]) + 40
    sp, dp = (v[8], v[9]) if proto == 6 else (v[10], v[11])
    key = (fam, str(ipaddress.ip_address(src)),
           str(ipaddress.ip_address(dst)), proto, int(sp), int(dp), 0)
    t = ref.setdefault(key, [0, 0, 0])
    t[0] += 1
    t[1] += length
    t[2] |= int(v[12], 16) & 0xff if v[12] else 0

def one(key, what):
    recs = gk.get(key, [])
    if len(recs) != 1:
        bad.append('%s: %d records for %s' % (what, len(recs), key))
        return None
    return recs[0]

# 1. UDP: known by construction
for key, pk, by, what in (
        ((4, a4, b4, 17, cp4, u4, 0), 50, 50 * 128, 'UDP A>B'),
        ((4, b4, a4, 17, u4, cp4, 0), 20, 20 * 228, 'UDP B>A'),
        ((6, a6, b6, 17, cp6, u6, 0), 10, 10 * 348, 'UDP6 A>B')):
    r = one(key, what)
    if r and (r['packets'], r['bytes'], r['reason']) != (pk, by, 4):
        bad.append('%s: %s, want %d packets %d bytes reason 4' %
                   (what, truthcmp.show(r), pk, by))
    elif r:
        print('ok  %s: %d packets, %d bytes, reason 4' % (what, pk, by))

# 2. TCP: the reference capture
tcp = [k for k in ref if k[3] == 6]
if sorted(tcp) != sorted([(4, a4, b4, 6, ct, tp, 0), (4, b4, a4, 6, tp, ct,
                                                     0)]):
    bad.append('the reference capture\'s TCP flows: %s' % tcp)
for key in tcp:
    r = one(key, 'TCP')
    if not r:
        continue
    want = ref[key]
    if [r['packets'], r['bytes'], r['tcp_flags']] != want or \
            r['reason'] != 3 or r['tcp_flags'] & 0x1b != 0x1b or \
            r['bytes'] < r['packets'] * 52 + 500:
        bad.append('TCP: %s, the capture has %s packets/bytes/flags, '
                   'want reason 3, flags SAPF, >= 500 payload bytes' %
                   (truthcmp.show(r), want))
    else:
        print('ok  TCP %s:%d > %s:%d: %d packets, %d bytes, flags 0x%02x '
              '= the reference capture, reason 3' % (key[1], key[4], key[2],
                                                     key[5], *want))

# 3. nothing else
if set(gk) != set(ref):
    bad.append('flows not in both: collectord %s, capture %s' %
               (sorted(set(gk) - set(ref)), sorted(set(ref) - set(gk))))
for b in bad:
    print('FAIL: ' + b)
sys.exit(1 if bad else 0)
EOF
ok "namespaces $NSA/$NSB: UDP exact, TCP = the reference capture"
