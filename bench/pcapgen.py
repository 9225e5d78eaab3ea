#!/usr/bin/env python3
"""pcapgen - a seeded capture with known flows, for the exporter benchmark.

usage: pcapgen.py [-p PACKETS] [-s SEED] [-d SECONDS] [--snaplen N] OUT.pcap

Writes a pcap (Ethernet, microsecond time stamps) of about PACKETS packets
over SECONDS of capture time, made of conversations with unique 5-tuples:
  - TCP (70%): handshake, data both ways, FIN both ways; 6 to 60 packets;
  - UDP (25%): request/response exchanges; 2 to 20 packets;
  - ICMP echo (5%): request/reply pairs; 2 to 10 packets.
A conversation lasts at most 20 s, so no active timeout splits it and every
conversation direction with a packet is exactly one unidirectional flow,
whatever the idle timeouts (the tuples are never reused). Frames are cut at
the snap length (default 128: all headers kept), the IP total length stays
the real one. Prints a JSON line with the truth: packets, conversations,
unidirectional flows (and per protocol), IP bytes; also written to
OUT.json. The same seed always gives the same file.
"""

import argparse
import heapq
import json
import random
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-p", "--packets", type=int, default=2000000)
    ap.add_argument("-s", "--seed", type=int, default=1)
    ap.add_argument("-d", "--duration", type=float, default=120.0)
    ap.add_argument("--snaplen", type=int, default=128)
    ap.add_argument("out")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    t0 = 1700000000.0

    # Conversations: (start, [(dt, dir, proto-specific kind, iplen)])
    convs = []
    used = set()
    total = 0
    while total < a.packets:
        r = rnd.random()
        while True:
            c = (10 << 24) | rnd.randrange(1 << 20)
            s = (192 << 24) | (0 << 16) | (2 << 8) | rnd.randrange(1, 255) \
                if rnd.random() < 0.5 else \
                (198 << 24) | (51 << 16) | (100 << 8) | rnd.randrange(1, 255)
            sport = rnd.randrange(1024, 65536)
            if r < 0.70:
                proto, dport = 6, rnd.choice((443, 443, 443, 80, 22, 8080))
                n = rnd.randrange(6, 61)
            elif r < 0.95:
                proto, dport = 17, rnd.choice((53, 53, 123, 443, 5353))
                n = rnd.randrange(2, 21)
            else:
                proto, dport = 1, 0
                sport = rnd.randrange(1, 65536)  # echo id
                n = 2 * rnd.randrange(1, 6)
            key = (c, s, proto, sport, dport)
            if key not in used:
                used.add(key)
                break
        dur = rnd.uniform(0.01, 20.0)
        start = rnd.uniform(0, max(0.0, a.duration - dur))
        convs.append((start, dur, c, s, proto, sport, dport, n))
        total += n

    # Events in time order: (time, conv index, packet index)
    heap = []
    for i, (start, dur, *_rest) in enumerate(convs):
        heap.append((start, i, 0))
    heapq.heapify(heap)

    truth = {"packets": 0, "conversations": len(convs), "flows": 0,
             "flows_tcp": 0, "flows_udp": 0, "flows_icmp": 0, "ip_bytes": 0,
             "seed": a.seed, "duration": a.duration}
    dirs = [set() for _ in range(1)]
    seen_dir = dirs[0]
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    eth_r = bytes.fromhex("020000000001" "020000000002" "0800")
    f = open(a.out, "wb")
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, a.snaplen, 1))
    buf = bytearray()
    ipid = 0
    while heap:
        t, i, k = heapq.heappop(heap)
        start, dur, c, s, proto, sport, dport, n = convs[i]
        if k + 1 < n:
            heapq.heappush(heap, (start + dur * (k + 1) / (n - 1), i, k + 1))
        # direction: TCP/ICMP/UDP alternate client, server
        rev = k % 2 == 1
        src, dst = (s, c) if rev else (c, s)
        ipid = (ipid + 1) & 0xFFFF
        if proto == 6:
            if k == 0:
                flags, plen = 0x02, 0
            elif k == 1:
                flags, plen = 0x12, 0
            elif k >= n - 2:
                flags, plen = 0x11, 0
            else:
                flags = 0x18
                plen = 1448 if rev and (k * 7 + i) % 3 else \
                    (k * 131 + i) % 600
            sp, dp = (dport, sport) if rev else (sport, dport)
            l4 = struct.pack("!HHIIBBHHH", sp, dp, 1000 + k, 2000 + k, 0x50,
                             flags, 65535, 0, 0)
        elif proto == 17:
            plen = 40 + (k * 37 + i) % 400
            sp, dp = (dport, sport) if rev else (sport, dport)
            l4 = struct.pack("!HHHH", sp, dp, 8 + plen, 0)
        else:
            plen = 56
            typ = 0 if rev else 8
            l4 = struct.pack("!BBHHH", typ, 0, 0, sport, k // 2)
        iplen = 20 + len(l4) + plen
        ip = bytearray(struct.pack("!BBHHHBBHII", 0x45, 0, iplen, ipid,
                                   0x4000, 64, proto, 0, src, dst))
        struct.pack_into("!H", ip, 10, csum(bytes(ip)))
        frame = (eth_r if rev else eth) + bytes(ip) + l4
        wire = 14 + iplen
        payload_cap = min(a.snaplen, wire) - len(frame)
        if payload_cap > 0:
            frame += b"\0" * payload_cap
        frame = frame[:a.snaplen]
        ts = t0 + t
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        if usec >= 1000000:
            sec, usec = sec + 1, usec - 1000000
        buf += struct.pack("<IIII", sec, usec, len(frame), wire)
        buf += frame
        if len(buf) > 1 << 22:
            f.write(buf)
            buf = bytearray()
        truth["packets"] += 1
        truth["ip_bytes"] += iplen
        d = (i, rev)
        if d not in seen_dir:
            seen_dir.add(d)
            truth["flows"] += 1
            truth["flows_" + {6: "tcp", 17: "udp", 1: "icmp"}[proto]] += 1
    f.write(buf)
    f.close()
    with open(a.out + ".json", "w") as j:
        json.dump(truth, j)
    print(json.dumps(truth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
