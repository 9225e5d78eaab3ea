#!/usr/bin/env python3
"""capgen - a seeded capture whose flow records are known, for tests.

usage: capgen.py [-s SEED] [--snaplen N] [--tcp MS] [--udp MS] [--icmp MS]
                 [--general MS] [--fin MS] [--rst MS] [--active MS]
                 OUT.pcap [TRUTH.json]

Writes a pcap (Ethernet, microsecond time stamps on whole milliseconds,
frames cut at --snaplen, short frames padded to 60 bytes) and, next to it
(OUT.pcap.json unless TRUTH.json is given), the ground truth: every
unidirectional flow record a flow meter must export from the capture with
the given timeouts, with its addresses, ports (ICMP: sport 0, dport type *
256 + code, and icmp_type, icmp_code), protocol, VLAN id, packets, IP bytes
(never link-layer bytes nor padding), OR of the TCP flags, first and last
packet time (ms since the epoch) and flowEndReason (RFC 5102: 1 idle, 2
active, 3 end of flow, 4 forced end; 5, lack of resources, never happens
with a cache large enough for the ~80 flows). The same seed and options
always give the same files, byte for byte.

The JSON object: "records" (flows keyed by VLAN id too, as exporterd
--with-vlan), "records_without_vlan" (a meter that ignores VLAN tags: one
5-tuple on two VLANs is one flow, vlan 0), "totals", "reasons" (records by
end reason), "timeouts_ms", "exporterd_timeouts" (the same as exporterd's
-t argument), "frames", "start_ms", "end_ms", "seed", "snaplen".

The capture holds, at seeded times, sizes and counts:
  - TCP over IPv4, IPv6 and 802.1Q VLANs: handshake, data both ways and a
    FIN close; ended by a client RST, a server RST, or refused (SYN
    answered by RST); a port reused for a second connection right after
    the first one closed (two records per direction);
  - UDP exchanges (some with an IPv6 hop-by-hop header), a datagram to a
    closed port answered by ICMP port unreachable, the same 5-tuple on two
    VLANs, and ESP (the "general" timeout class);
  - ICMP and ICMPv6 echo request/reply;
  - IPv4 fragments (a UDP datagram and an echo request/reply, the first
    fragment carrying the ports or type, the later ones joining its flow),
    a later fragment whose first fragment is missing (a flow of its own,
    ports 0) and fragmented UDP over IPv6;
  - flows that fall idle and come back after more than the idle timeout
    (two records), flows that fall idle before the end (reason 1), flows
    still running at the end (reason 4), a UDP stream over the whole
    capture and a long TCP connection that the active timeout splits
    (reason 2), the TCP one ending by FIN (reason 3).

The truth follows these rules, for each direction of each conversation
(key: addresses, protocol, ports or ICMP type/code, VLAN id):
  - a record ends with reason 1 once the capture clock (the latest packet
    time) reaches its last packet + the idle timeout of its class;
  - with reason 2 once the clock reaches its first packet + the active
    timeout;
  - with reason 3 once it saw FIN or RST: when the clock reaches its last
    packet + the FIN (RST) linger, or at once when a SYN opens a new
    connection on its key, or at any other of the ends above;
  - with reason 4 if it is still open at the end of the capture.
Packets are placed so that no packet is within 50 ms of a deadline: the
result does not depend on rounding, nor on < versus <=; the generator
checks this and stops with an error otherwise.
"""

import argparse
import hashlib
import ipaddress
import json
import random
import struct
import sys

MARGIN = 50  # ms between any packet and any deadline
T0_MS = 1700000000000
DURATION = 100000  # ms: the UDP stream runs over the whole capture

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Ambiguous(Exception):
    pass


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s >> 16) + (s & 0xFFFF)
    return ~s & 0xFFFF


def mac_of(addr):
    return b"\x02" + hashlib.sha256(addr.packed).digest()[:5]


class Gen:
    def __init__(self, seed, to, snaplen):
        self.rnd = random.Random(seed)
        self.seed = seed
        self.to = to
        self.snaplen = snaplen
        self.events = []  # (ts, n, frame, event dict or None)
        self.n = 0
        self.ipid = self.rnd.randrange(1 << 16)
        self.fragid = self.rnd.randrange(1 << 32)
        self.used = set()
        self.host = 0
        self.net = 16 + seed % 200

    # ---- addresses and unique keys ----

    def hosts(self, fam):
        """A fresh client/server address pair."""
        self.host += 1
        h = self.host
        if fam == 4:
            return (ipaddress.IPv4Address("10.%d.%d.%d" %
                                          (self.net, h // 200, h % 200 + 2)),
                    ipaddress.IPv4Address("192.0.%d.%d" %
                                          (2 + h // 200, h % 200 + 2)))
        return (ipaddress.IPv6Address("fd00:%x::%x" % (self.net, h + 1)),
                ipaddress.IPv6Address("2001:db8:%x::%x" % (self.net, h + 1)))

    def port(self):
        return self.rnd.randrange(20000, 60000)

    # ---- packet building ----

    def l4sum(self, src, dst, proto, seg):
        if src.version == 4:
            ph = src.packed + dst.packed + struct.pack("!BBH", 0, proto,
                                                      len(seg))
        else:
            ph = src.packed + dst.packed + struct.pack("!IxxxB", len(seg),
                                                      proto)
        return csum(ph + seg)

    def tcp_seg(self, src, dst, sp, dp, seq, ack, flags, plen):
        payload = bytes((seq + i) & 0xFF for i in range(plen))
        h = bytearray(struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF,
                                  ack & 0xFFFFFFFF, 0x50, flags, 64240, 0, 0)
                      + payload)
        struct.pack_into("!H", h, 16, self.l4sum(src, dst, 6, bytes(h)))
        return bytes(h)

    def udp_dgram(self, src, dst, sp, dp, plen):
        payload = bytes((sp + i) & 0xFF for i in range(plen))
        h = bytearray(struct.pack("!HHHH", sp, dp, 8 + plen, 0) + payload)
        c = self.l4sum(src, dst, 17, bytes(h))
        struct.pack_into("!H", h, 6, c or 0xFFFF)
        return bytes(h)

    def icmp_msg(self, src, dst, typ, code, rest):
        h = bytearray(struct.pack("!BBH", typ, code, 0) + rest)
        if src.version == 4:
            c = csum(bytes(h))
        else:
            c = self.l4sum(src, dst, 58, bytes(h))
        struct.pack_into("!H", h, 2, c)
        return bytes(h)

    def ipv4(self, src, dst, proto, payload, ident=None, off=0x4000):
        if ident is None:
            self.ipid = (self.ipid + 1) & 0xFFFF
            ident = self.ipid
        h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0,
                                  20 + len(payload), ident, off, 64, proto, 0,
                                  src.packed, dst.packed))
        struct.pack_into("!H", h, 10, csum(bytes(h)))
        return bytes(h) + payload

    def ipv6(self, src, dst, nh, payload):
        return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, 64,
                           src.packed, dst.packed) + payload

    def ip(self, src, dst, proto, l4):
        if src.version == 4:
            return self.ipv4(src, dst, proto, l4)
        return self.ipv6(src, dst, proto, l4)

    def frame(self, src, dst, ip, vlan):
        eth = mac_of(dst) + mac_of(src)
        et = b"\x08\x00" if src.version == 4 else b"\x86\xdd"
        if vlan:
            eth += struct.pack("!HH", 0x8100, vlan)
        f = eth + et + ip
        if len(f) < 60:
            f += b"\0" * (60 - len(f))  # Ethernet padding: not IP bytes
        return f

    def emit(self, ts, src, dst, ip, vlan, proto, sport, dport, flags=0):
        """One frame; the event is what a flow meter accounts for it."""
        ts = int(ts)
        ev = {"key": (src.version, str(src), str(dst), proto, sport, dport,
                      vlan),
              "len": len(ip), "flags": flags, "ts": ts}
        self.events.append((ts, self.n, self.frame(src, dst, ip, vlan), ev))
        self.n += 1

    def claim(self, *keys):
        for k in keys:
            if k in self.used:
                raise ValueError("key used twice: %s" % (k,))
            self.used.add(k)

    # ---- conversations ----

    def tcp_conn(self, t, fam, end="fin", n_data=None, vlan=0, pair=None,
                 sport=None, dport=None, gap=(5, 400), claim=True):
        """A TCP connection from t (ms). Returns the time of its last
        packet."""
        c, s = pair or self.hosts(fam)
        sp = sport or self.port()
        dp = dport or self.rnd.choice((80, 443, 22, 8080, 25))
        if claim:
            self.claim((fam, c, s, 6, sp, dp, vlan), (fam, s, c, 6, dp, sp,
                                                      vlan))
        cs = self.rnd.randrange(1 << 32)
        ss = self.rnd.randrange(1 << 32)
        rnd = self.rnd

        def send(fwd, flags, plen=0):
            nonlocal t, cs, ss
            a, b = (c, s) if fwd else (s, c)
            pa, pb = (sp, dp) if fwd else (dp, sp)
            seq, ack = (cs, ss) if fwd else (ss, cs)
            seg = self.tcp_seg(a, b, pa, pb, seq, ack if flags & ACK else 0,
                               flags, plen)
            self.emit(t, a, b, self.ip(a, b, 6, seg), vlan, 6, pa, pb, flags)
            adv = plen + (1 if flags & (SYN | FIN) else 0)
            if fwd:
                cs += adv
            else:
                ss += adv
            t += rnd.randint(*gap)

        send(True, SYN)
        if end == "refused":
            send(False, RST | ACK)
            return t
        send(False, SYN | ACK)
        send(True, ACK)
        for _ in range(n_data if n_data is not None else rnd.randint(1, 8)):
            send(True, PSH | ACK, rnd.randint(1, 600))
            for _ in range(rnd.randint(0, 3)):
                send(False, ACK, 1448)
            send(False, PSH | ACK, rnd.randint(1, 1448))
            if rnd.random() < 0.5:
                send(True, ACK)
        if end == "fin":
            send(True, FIN | ACK)
            send(False, FIN | ACK)
            send(True, ACK)
        elif end == "rst-client":
            send(True, RST | ACK)
        elif end == "rst-server":
            send(False, RST)
        return t

    def udp_conv(self, t, fam, n=None, vlan=0, pair=None, ports=None,
                 gap=(5, 1500), hbh=False, claim=True):
        c, s = pair or self.hosts(fam)
        sp, dp = ports or (self.port(), self.rnd.choice((53, 123, 514, 161)))
        if claim:
            self.claim((fam, c, s, 17, sp, dp, vlan),
                       (fam, s, c, 17, dp, sp, vlan))
        for i in range(n or self.rnd.randint(1, 6)):
            for fwd in (True, False):
                a, b = (c, s) if fwd else (s, c)
                pa, pb = (sp, dp) if fwd else (dp, sp)
                l4 = self.udp_dgram(a, b, pa, pb, self.rnd.randint(0, 900))
                if hbh and fam == 6:
                    # hop-by-hop options: PadN to 8 bytes
                    ip = self.ipv6(a, b, 0,
                                   struct.pack("!BBBB4x", 17, 0, 1, 4) + l4)
                else:
                    ip = self.ip(a, b, 17, l4)
                self.emit(t, a, b, ip, vlan, 17, pa, pb)
                t += self.rnd.randint(*gap)
        return t

    def ping(self, t, fam, n=None, vlan=0, size=None):
        c, s = self.hosts(fam)
        req, rep = (8, 0) if fam == 4 else (128, 129)
        proto = 1 if fam == 4 else 58
        self.claim((fam, c, s, proto, 0, req << 8, vlan),
                   (fam, s, c, proto, 0, rep << 8, vlan))
        ident = self.rnd.randrange(1 << 16)
        for i in range(n or self.rnd.randint(1, 5)):
            data = bytes(range(56)) if size is None else bytes(size)
            for a, b, typ in ((c, s, req), (s, c, rep)):
                msg = self.icmp_msg(a, b, typ, 0,
                                    struct.pack("!HH", ident, i) + data)
                self.emit(t, a, b, self.ip(a, b, proto, msg), vlan, proto, 0,
                          typ << 8)
                t += self.rnd.randint(1, 50)
            t += self.rnd.randint(200, 1500)
        return t

    def unreachable(self, t):
        """A UDP datagram to a closed port, answered by ICMP 3/3."""
        c, s = self.hosts(4)
        sp, dp = self.port(), 33434 + self.rnd.randrange(30)
        self.claim((4, c, s, 17, sp, dp, 0), (4, s, c, 1, 0, 3 << 8 | 3, 0))
        orig = self.ipv4(c, s, 17, self.udp_dgram(c, s, sp, dp, 32))
        self.emit(t, c, s, orig, 0, 17, sp, dp)
        t += self.rnd.randint(1, 20)
        msg = self.icmp_msg(s, c, 3, 3, b"\0\0\0\0" + orig[:28])
        self.emit(t, s, c, self.ipv4(s, c, 1, msg), 0, 1, 0, 3 << 8 | 3)
        return t

    def frag4(self, t, a, b, proto, l4, sport, dport, vlan=0, skip_first=False,
              chunk=1480):
        """An IPv4 datagram in fragments; the later ones are accounted
        under the first one's ports (or ports 0 if it is left out)."""
        self.ipid = (self.ipid + 1) & 0xFFFF
        ident = self.ipid
        for off in range(0, len(l4), chunk):
            part = l4[off:off + chunk]
            mf = 0x2000 if off + chunk < len(l4) else 0
            if off == 0 and skip_first:
                continue
            ip = self.ipv4(a, b, proto, part, ident, mf | off // 8)
            sp, dp = (sport, dport) if not skip_first else (0, 0)
            self.emit(t, a, b, ip, vlan, proto, sp, dp)
            t += self.rnd.randint(0, 3)
        return t

    def frag6(self, t, a, b, proto, l4, sport, dport, chunk=1232):
        self.fragid = (self.fragid + 1) & 0xFFFFFFFF
        for off in range(0, len(l4), chunk):
            part = l4[off:off + chunk]
            m = 1 if off + chunk < len(l4) else 0
            fh = struct.pack("!BBHI", proto, 0, off | m, self.fragid)
            self.emit(t, a, b, self.ipv6(a, b, 44, fh + part), 0, proto,
                      sport, dport)
            t += self.rnd.randint(0, 3)
        return t

    def frag_udp(self, t, fam):
        c, s = self.hosts(fam)
        sp, dp = self.port(), 7001 if fam == 4 else 2049
        self.claim((fam, c, s, 17, sp, dp, 0), (fam, s, c, 17, dp, sp, 0))
        for i in range(self.rnd.randint(1, 3)):
            for a, b, pa, pb in ((c, s, sp, dp), (s, c, dp, sp)):
                l4 = self.udp_dgram(a, b, pa, pb, self.rnd.randint(1600,
                                                                  4000))
                if fam == 4:
                    t = self.frag4(t, a, b, 17, l4, pa, pb)
                else:
                    t = self.frag6(t, a, b, 17, l4, pa, pb)
                t += self.rnd.randint(10, 300)
        return t

    def frag_ping(self, t):
        c, s = self.hosts(4)
        self.claim((4, c, s, 1, 0, 8 << 8, 0), (4, s, c, 1, 0, 0, 0))
        for i in range(self.rnd.randint(1, 3)):
            for a, b, typ in ((c, s, 8), (s, c, 0)):
                msg = self.icmp_msg(a, b, typ, 0,
                                    struct.pack("!HH", 7, i) + bytes(3000))
                t = self.frag4(t, a, b, 1, msg, 0, typ << 8)
                t += self.rnd.randint(1, 100)
            t += self.rnd.randint(300, 1000)
        return t

    def orphan_fragment(self, t):
        """Only the later fragments of a datagram: no ports to join."""
        c, s = self.hosts(4)
        self.claim((4, c, s, 17, 0, 0, 0))
        l4 = self.udp_dgram(c, s, self.port(), 9999, 3000)
        return self.frag4(t, c, s, 17, l4, 0, 0, skip_first=True)

    def esp(self, t, n=None):
        c, s = self.hosts(4)
        spi = self.rnd.randrange(1, 1 << 32)
        self.claim((4, c, s, 50, 0, 0, 0))
        for i in range(n or self.rnd.randint(2, 6)):
            body = struct.pack("!II", spi, i + 1) + bytes(
                self.rnd.randint(16, 300))
            self.emit(t, c, s, self.ipv4(c, s, 50, body), 0, 50, 0, 0)
            t += self.rnd.randint(100, 2000)
        return t

    def stream(self, t, end):
        """UDP over the whole capture: the clock keeps running, and the
        active timeout splits it."""
        c, s = self.hosts(4)
        self.claim((4, c, s, 17, 5004, 5004, 0))
        start = t
        while t <= end:
            t = self.avoid_active(t, [start], self.to["active"])
            if t >= start + self.to["active"]:
                start = t
            self.emit(t, c, s, self.ipv4(c, s, 17, self.udp_dgram(
                c, s, 5004, 5004, self.rnd.randint(100, 200))), 0, 17, 5004,
                5004)
            t += self.rnd.randint(300, 1500)
        return t - 1

    def avoid_active(self, t, starts, active):
        for st in starts:
            if abs(t - (st + active)) < MARGIN:
                t = st + active + MARGIN
        return t

    def long_tcp(self, t, until):
        """A TCP connection longer than the active timeout, data both ways
        in turn until `until`, then a FIN close away from any active
        deadline."""
        c, s = self.hosts(4)
        sp, dp = self.port(), 873
        self.claim((4, c, s, 6, sp, dp, 0), (4, s, c, 6, dp, sp, 0))
        A = self.to["active"]
        linger = self.to["fin"]
        starts = {True: None, False: None}
        seqs = {True: self.rnd.randrange(1 << 32),
                False: self.rnd.randrange(1 << 32)}
        closing = [(True, FIN | ACK), (False, FIN | ACK), (True, ACK)]
        k = 0
        while True:
            if k < 3:
                fwd, flags, plen = (True, SYN, 0) if k == 0 else \
                    (False, SYN | ACK, 0) if k == 1 else (True, ACK, 0)
            elif t < until:
                fwd, flags, plen = k % 2 == 1, PSH | ACK, \
                    self.rnd.randint(1, 1000)
            elif closing:
                fwd, flags = closing.pop(0)
                plen = 0
                # the close and its final ACK inside one record of each
                # direction, the linger ending before an active deadline
                for st in starts.values():
                    if st + A - 3 * linger < t < st + A + MARGIN:
                        t = st + A + MARGIN
            else:
                return t
            st = starts[fwd]
            if st is None:
                starts[fwd] = t
            else:
                t = self.avoid_active(t, [st], A)
                if t >= st + A:
                    starts[fwd] = t
            a, b = (c, s) if fwd else (s, c)
            pa, pb = (sp, dp) if fwd else (dp, sp)
            seg = self.tcp_seg(a, b, pa, pb, seqs[fwd], seqs[not fwd]
                               if flags & ACK else 0, flags, plen)
            seqs[fwd] += plen + (1 if flags & (SYN | FIN) else 0)
            self.emit(t, a, b, self.ip(a, b, 6, seg), 0, 6, pa, pb, flags)
            t += self.rnd.randint(5, 400) if k < 3 or t >= until else \
                self.rnd.randint(200, 1800)
            k += 1

    # ---- the capture ----

    def build(self):
        r = self.rnd
        to = self.to
        end = T0_MS + DURATION
        mid = (T0_MS + 1000, T0_MS + 55000)  # idle well before the end
        late = (end - 5000, end - 2500)  # still open at the end

        def at(win):
            return r.randint(*win)

        self.stream(T0_MS, end)
        self.long_tcp(T0_MS + r.randint(500, 3000),
                      T0_MS + r.randint(65000, 85000))
        for fam, vlan in ((4, 0), (4, 0), (4, 10), (6, 0), (6, 30)):
            self.tcp_conn(at(mid), fam, "fin", vlan=vlan)
        self.tcp_conn(at(late), 4, "fin", gap=(2, 60))
        for end_how in ("rst-client", "rst-server", "refused"):
            self.tcp_conn(at(mid), r.choice((4, 6)), end_how)
            self.tcp_conn(at(late), 4, end_how, n_data=2, gap=(2, 60))
        # the same ports again after a FIN: a new connection, new records
        pair, sport = self.hosts(4), self.port()
        t = self.tcp_conn(at(mid), 4, "fin", pair=pair, sport=sport,
                          dport=80, gap=(5, 100))
        self.tcp_conn(t + r.randint(100, 500), 4, "fin", pair=pair,
                      sport=sport, dport=80, gap=(5, 100), claim=False)
        for fam, vlan in ((4, 0), (4, 0), (4, 20), (6, 0)):
            self.udp_conv(at(mid), fam, vlan=vlan)
        self.udp_conv(at(mid), 6, hbh=True)
        self.udp_conv(at(late), 4, n=2, gap=(5, 500))
        self.udp_conv(at(late), 6, n=2, gap=(5, 500), vlan=40)
        # one 5-tuple on two VLANs: two flows per direction
        pair, ports = self.hosts(4), (self.port(), 53)
        t = at(mid)
        self.udp_conv(t, 4, n=2, vlan=100, pair=pair, ports=ports)
        self.udp_conv(t + r.randint(1, 3000), 4, n=2, vlan=200, pair=pair,
                      ports=ports)
        # idle, then back after more than the idle timeout: two records
        pair, ports = self.hosts(4), (self.port(), 514)
        t = self.udp_conv(at((T0_MS + 1000, T0_MS + 20000)), 4, n=2,
                          pair=pair, ports=ports, gap=(5, 500))
        self.udp_conv(t + to["udp"] + r.randint(1000, 5000), 4, n=2,
                      pair=pair, ports=ports, gap=(5, 500), claim=False)
        self.ping(at(mid), 4)
        self.ping(at(mid), 6)
        self.ping(at(mid), 4, vlan=10)
        self.ping(at(late), 4, n=1)
        self.unreachable(at(mid))
        self.frag_udp(at(mid), 4)
        self.frag_udp(at(mid), 6)
        self.frag_ping(at(mid))
        self.orphan_fragment(at(mid))
        self.esp(at(mid))
        self.esp(at(late), n=2)
        self.events.sort(key=lambda e: (e[0], e[1]))

    # ---- the truth ----

    def idle_of(self, proto):
        return {6: self.to["tcp"], 17: self.to["udp"], 1: self.to["icmp"],
                58: self.to["icmp"]}.get(proto, self.to["general"])

    def truth(self, key_vlan=True):
        """The records; without key_vlan, as a meter that does not key
        flows by VLAN id (nor exports it) sees them."""
        end = self.events[-1][0]
        open_recs = {}
        records = []
        A = self.to["active"]

        def check(ts, deadline, what, key):
            if abs(ts - deadline) < MARGIN:
                raise Ambiguous("%s: packet at %d is %d ms from the %s "
                                "deadline" % (key, ts, ts - deadline, what))

        def deadlines(rec):
            """(time, reason) of the ends that may come to rec."""
            if rec["ended"]:
                linger = self.to["rst"] if rec["rst"] else self.to["fin"]
                return [(rec["last_ms"] + linger, 3), (rec["first_ms"] + A,
                                                       3)]
            return [(rec["last_ms"] + self.idle_of(rec["proto"]), 1),
                    (rec["first_ms"] + A, 2)]

        def close(rec, reason):
            rec["reason"] = reason
            del rec["ended"], rec["rst"]
            records.append(rec)

        for ts, _, _, ev in self.events:
            key = ev["key"] if key_vlan else ev["key"][:6] + (0,)
            rec = open_recs.get(key)
            if rec is not None:
                dl = deadlines(rec)
                for d, _ in dl:
                    check(ts, d, "expiry", key)
                due = sorted(x for x in dl if x[0] <= ts)
                if due:
                    close(rec, due[0][1])
                    rec = None
                elif rec["ended"] and ev["flags"] & SYN:
                    close(rec, 3)  # a new connection on the same ports
                    rec = None
            if rec is None:
                fam, src, dst, proto, sport, dport, vlan = key
                rec = {"family": fam, "src": src, "dst": dst,
                       "proto": proto, "sport": sport, "dport": dport,
                       "vlan": vlan, "packets": 0, "bytes": 0,
                       "tcp_flags": 0, "first_ms": ts, "last_ms": ts,
                       "ended": False, "rst": False}
                if proto in (1, 58):
                    rec["icmp_type"], rec["icmp_code"] = dport >> 8, \
                        dport & 0xFF
                open_recs[key] = rec
            rec["packets"] += 1
            rec["bytes"] += ev["len"]
            rec["tcp_flags"] |= ev["flags"]
            rec["last_ms"] = ts
            if ev["flags"] & (FIN | RST):
                rec["ended"] = True
            if ev["flags"] & RST:
                rec["rst"] = True
        for key, rec in open_recs.items():
            if "reason" in rec:
                continue
            if rec["ended"]:
                close(rec, 3)
                continue
            dl = deadlines(rec)
            for d, _ in dl:
                check(end, d, "end-of-capture", key)
            due = sorted(x for x in dl if x[0] <= end)
            close(rec, due[0][1] if due else 4)
        records.sort(key=lambda x: (x["first_ms"], x["family"], x["src"],
                                    x["dst"], x["proto"], x["sport"],
                                    x["dport"], x["vlan"]))
        return records

    # ---- output ----

    def write(self, pcap_path, json_path):
        records = self.truth()
        novlan = self.truth(key_vlan=False)
        with open(pcap_path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0,
                                self.snaplen, 1))
            for ts, _, frame, _ in self.events:
                cap = frame[:self.snaplen]
                f.write(struct.pack("<IIII", ts // 1000, ts % 1000 * 1000,
                                    len(cap), len(frame)) + cap)
        reasons = {}
        for rec in records:
            reasons[str(rec["reason"])] = reasons.get(str(rec["reason"]),
                                                      0) + 1
        to = self.to
        truth = {
            "generator": "tests/tools/capgen.py",
            "seed": self.seed,
            "snaplen": self.snaplen,
            "timeouts_ms": to,
            "exporterd_timeouts": (
                "tcp=%dms,udp=%dms,icmp=%dms,general=%dms,tcp.fin=%dms,"
                "tcp.rst=%dms,maxlife=%dms" %
                (to["tcp"], to["udp"], to["icmp"], to["general"], to["fin"],
                 to["rst"], to["active"])),
            "frames": len(self.events),
            "start_ms": self.events[0][0],
            "end_ms": self.events[-1][0],
            "totals": {"flows": len(records),
                       "packets": sum(x["packets"] for x in records),
                       "bytes": sum(x["bytes"] for x in records),
                       "ipv4_flows": sum(x["family"] == 4 for x in records),
                       "ipv4_packets": sum(x["packets"] for x in records
                                           if x["family"] == 4),
                       "ipv4_bytes": sum(x["bytes"] for x in records
                                         if x["family"] == 4)},
            "reasons": reasons,
            "records": records,
            "records_without_vlan": novlan,
        }
        with open(json_path, "w") as f:
            json.dump(truth, f, indent=1, sort_keys=True)
            f.write("\n")
        return truth


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-s", "--seed", type=int, default=1)
    ap.add_argument("--snaplen", type=int, default=65535)
    ap.add_argument("--tcp", type=int, default=12000, help="idle, ms")
    ap.add_argument("--udp", type=int, default=8000, help="idle, ms")
    ap.add_argument("--icmp", type=int, default=6000, help="idle, ms")
    ap.add_argument("--general", type=int, default=8000, help="idle, ms")
    ap.add_argument("--fin", type=int, default=2000, help="FIN linger, ms")
    ap.add_argument("--rst", type=int, default=1000, help="RST linger, ms")
    ap.add_argument("--active", type=int, default=30000, help="ms")
    ap.add_argument("out")
    ap.add_argument("truth", nargs="?")
    a = ap.parse_args()
    to = {"tcp": a.tcp, "udp": a.udp, "icmp": a.icmp, "general": a.general,
          "fin": a.fin, "rst": a.rst, "active": a.active}
    # the scenarios' time windows assume these orders of magnitude
    if max(a.tcp, a.udp, a.icmp, a.general) > 15000 or \
            min(a.tcp, a.udp, a.icmp, a.general) < 4000 or \
            a.active < 25000 or a.active > 45000 or a.fin > 3000 or \
            a.rst > 3000 or a.snaplen < 96:
        ap.error("timeouts: idle 4-15 s, active 25-45 s, FIN/RST linger "
                 "at most 3 s; snaplen at least 96")
    g = Gen(a.seed, to, a.snaplen)
    g.build()
    try:
        t = g.write(a.out, a.truth or a.out + ".json")
    except Ambiguous as e:
        print("capgen: seed %d: %s" % (a.seed, e), file=sys.stderr)
        return 1
    print(json.dumps({k: t[k] for k in ("seed", "frames", "totals",
                                        "reasons")}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
