"""Bytes per flow on disk: nfcapd (uncompressed, -z LZO, -y LZ4, -j bz2) vs
collectord (default LZ4 fast, -z lz4:9), the same seeded flows to each.

Run by bench/disk.sh. Each configuration gets its own collector process; the
flows are sent with flowgen (NetFlow v9, 30 records per datagram) at a rate
every one takes without loss: the socket buffer (DISK_RCVBUF, 512 MiB) holds all
the datagrams, so even the slow compressors (bzip2, LZ4-HC) catch up after
the sender is done. That every flow is in the files is checked (a short
figure is marked). Bytes are the sizes of all files the collector wrote; CPU
is the collector's user+system time per flow stored.

Environment: DISK_FLOWS (2000000), DISK_RATE (flows/s, 400000), VERSION (9),
SEED (1), DISK_RCVBUF (536870912).
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

FLOWS = bl.env_int("DISK_FLOWS", 2000000)
RATE = bl.env_int("DISK_RATE", 400000)
VERSION = bl.env_int("VERSION", 9)
SEED = bl.env_int("SEED", 1)
RCVBUF = bl.env_int("DISK_RCVBUF", 536870912)

CONFIGS = [
    ("nfcapd", bl.Nfcapd, [], "uncompressed"),
    ("nfcapd -z", bl.Nfcapd, ["-z"], "LZO"),
    ("nfcapd -y", bl.Nfcapd, ["-y"], "LZ4"),
    ("nfcapd -j", bl.Nfcapd, ["-j"], "bzip2"),
    ("collectord", bl.Collectord, [], "columnar, LZ4 fast (default)"),
    ("collectord -z lz4:9", bl.Collectord, ["-z", "lz4:9"],
     "columnar, LZ4-HC 9"),
]


def run(label, cls, extra):
    port = bl.free_port()
    safe = label.replace(" ", "_").replace(":", "")
    c = cls(os.path.join(bl.OUT, "disk", safe), port, RCVBUF, extra)
    c.start()
    g = bl.flowgen(port, VERSION, FLOWS, RATE, SEED)
    c.drain(timeout=600)
    c.stop()
    stored = c.count()
    size = c.disk_bytes()
    res = {"label": label, "stored": stored, "bytes": size,
           "bpf": size / stored if stored else None,
           "cpu": c.cpu * 1e6 / stored if stored and c.cpu else None,
           "complete": stored == FLOWS, "sent_rate": g["rate"]}
    bl.log("  %-22s %d/%d flows, %d bytes, %.2f bytes/flow, %.2f CPU us/flow"
           % (label, stored, FLOWS, size, res["bpf"] or 0, res["cpu"] or 0))
    return res


def main():
    bl.log("bench disk: %s" % bl.machine())
    res = {}
    for label, cls, extra, _ in CONFIGS:
        res[label] = run(label, cls, extra)
    ref = res["nfcapd -y"]["bpf"]
    rows = []
    for label, _, _, what in CONFIGS:
        r = res[label]
        rows.append([label, what,
                     "%d" % r["stored"] + ("" if r["complete"] else
                                           " (of %d!)" % FLOWS),
                     r["bytes"], "%.2f" % r["bpf"] if r["bpf"] else None,
                     bl.fmt_ratio(bl.ratio(r["bpf"], ref)),
                     "%.2f" % r["cpu"] if r["cpu"] else None])
    text = ["## Disk: bytes per flow, the same %d flows (flowgen seed %d, "
            "NetFlow v%d)" % (FLOWS, SEED, VERSION), "",
            bl.machine(), "",
            bl.table(["writer", "format", "flows stored", "bytes",
                      "bytes/flow", "vs nfcapd -y", "writer CPU µs/flow"],
                     rows)]
    bl.write_result("disk", "\n".join(text))


if __name__ == "__main__":
    main()
