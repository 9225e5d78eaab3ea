#!/usr/bin/env python3
"""fuzz_seeds.py OUTDIR CAPTURE...

Writes one libFuzzer seed per capture for tests/fuzz/fuzz_nf_decode.c: the
capture's UDP payloads in order, each as [selector][u16 length][payload],
the selector telling the exporters of the capture apart. Classic pcap with
Ethernet (802.1Q too) or Linux SLL framing, IPv4 or IPv6.
"""
import os
import struct
import sys


def udp_payloads(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:
            et, p = struct.unpack(">H", frame[12:14])[0], 14
            while et == 0x8100 and len(frame) >= p + 4:
                et, p = struct.unpack(">H", frame[p + 2:p + 4])[0], p + 4
        elif linktype == 113:
            et, p = struct.unpack(">H", frame[14:16])[0], 16
        else:
            continue
        if et == 0x0800 and len(frame) >= p + 20 and frame[p + 9] == 17:
            src = frame[p + 12:p + 16]
            p += (frame[p] & 15) * 4
        elif et == 0x86DD and len(frame) >= p + 40 and frame[p + 6] == 17:
            src = frame[p + 8:p + 24]
            p += 40
        else:
            continue
        sport, _, ulen = struct.unpack(">HHH", frame[p:p + 6])
        yield (src, sport), frame[p + 8:p + ulen]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for cap in sys.argv[2:]:
        sources = {}
        seed = bytearray()
        for key, payload in udp_payloads(cap):
            sel = sources.setdefault(key, len(sources)) & 7
            seed += struct.pack(">BH", sel, len(payload)) + payload
        name = "%s_%s" % (os.path.basename(os.path.dirname(cap)),
                          os.path.basename(cap)[:-5])
        with open(os.path.join(out, name), "wb") as f:
            f.write(seed)


if __name__ == "__main__":
    main()
