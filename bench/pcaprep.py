#!/usr/bin/env python3
"""pcaprep - replicate a capture N times with shifted time and addresses.

usage: pcaprep.py [-n COPIES] [--gap SECONDS] IN.pcap[.gz] OUT.pcap

Copy k (0..N-1) of every packet is written k * (capture duration + gap)
seconds later, and every IPv4 address of an Ethernet/IPv4 packet gets k
added to its second octet (the IP header checksum is fixed), so each copy's
flows are new flows: a capture with F flows becomes one with N*F. Other
packets are copied unchanged. Classic pcap (microsecond or nanosecond) only.
"""

import argparse
import gzip
import struct
import sys


def csum(b):
    s = sum(struct.unpack("!10H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--copies", type=int, default=25)
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("inp")
    ap.add_argument("out")
    a = ap.parse_args()
    op = gzip.open if a.inp.endswith(".gz") else open
    with op(a.inp, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit("pcaprep: %s: not a little-endian classic pcap" % a.inp)
    div = 1e6 if magic == 0xA1B2C3D4 else 1e9
    linktype = struct.unpack("<I", data[20:24])[0]
    pkts = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack_from("<IIII", data, off)
        pkts.append((sec + frac / div, data[off + 16:off + 16 + incl], orig))
        off += 16 + incl
    if not pkts:
        sys.exit("pcaprep: %s: no packets" % a.inp)
    span = pkts[-1][0] - pkts[0][0] + a.gap
    with open(a.out, "wb") as o:
        o.write(data[:24])
        buf = bytearray()
        for k in range(a.copies):
            for ts, frame, orig in pkts:
                if k and linktype == 1 and len(frame) >= 34 and \
                        frame[12:14] == b"\x08\x00" and frame[14] >> 4 == 4:
                    fr = bytearray(frame)
                    fr[27] = (fr[27] + k) & 0xFF  # source, 2nd octet
                    fr[31] = (fr[31] + k) & 0xFF  # destination
                    fr[24:26] = b"\0\0"
                    fr[24:26] = struct.pack("!H", csum(bytes(fr[14:34])))
                    frame = bytes(fr)
                t = ts + k * span
                sec = int(t)
                frac = int(round((t - sec) * div))
                if frac >= div:
                    sec, frac = sec + 1, frac - int(div)
                buf += struct.pack("<IIII", sec, frac, len(frame), orig)
                buf += frame
                if len(buf) > 1 << 22:
                    o.write(buf)
                    buf = bytearray()
        o.write(buf)
    print("packets=%d copies=%d" % (len(pkts) * a.copies, a.copies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
