#!/usr/bin/env python3
"""tshark_samples.py [--max N] [--root DIR] CAPTURE... > samples.tsv

Writes, for each NetFlow v5/v9/IPFIX export capture, the field values that
tshark's cflow dissector decodes for the first N (default 3) flow data
records, so that our decoder's values can be checked against them.
Options data records (sampling tables, interface names...) are not flows and
are skipped, as in tshark_flows.py. Captures where tshark decodes no flow
are left out.

tshark runs two-pass (-2) with -T json, which keeps every flow record in its
own object, and with TZ=UTC so that absolute times print in UTC. Every UDP
destination port of the capture is decoded as cflow.

Regenerate tests/data/netflow/samples.tsv with, from tests/data/netflow/:
  ../../tools/tshark_samples.py --max 100000 \
      $(find . -name '*.pcap' | sed 's|^\./||' | LC_ALL=C sort) > samples.tsv

Columns (tab-separated, '-' where tshark shows nothing):
  capture   path as given on the command line, relative to --root if given
  frame     frame number of the export packet
  set       template id of the data set ('-' for v5)
  rec       record number within the set (or the v5 pdu), from 1
  src dst   cflow.srcaddr or cflow.srcaddrv6, cflow.dstaddr or ...v6
  sport dport proto
            cflow.srcport, cflow.dstport, cflow.protocol
  packets   cflow.packets (IE 2); if the record has none, the total count
            cflow.permanent_packets (IE 86: YAF, NSEL); if none either,
            cflow.initiator_packets (IE 298, NSEL)
  bytes     the same with cflow.octets (IE 1), cflow.permanent_octets
            (IE 85), cflow.initiator_octets (IE 231)
  first_ms last_ms
            cflow.abstimestart, cflow.abstimeend: absolute times (IE
            150-157), in ms since the Unix epoch, rounded down. The
            uptime-relative times (v5, IE 21/22) are not given: '-'; in such
            a record tshark shows an uptime of 0 as "Jan 1, 1970", which is
            left out too.
A record that carries a field more than once with different values (inner
and outer headers, IPv4 and IPv6 addresses both present) gets all of them,
separated by '|': a decoder may keep any one. An all-zero address (0.0.0.0,
::) next to a non-zero one is the family the record does not use and is
left out: a decoder must keep the real address.
"""
import calendar
import json
import os
import re
import subprocess
import sys
import time

RE_SET = re.compile(r"^(?:FlowSet|Set) \d+ \[id=(\d+)\] \((\d+) flows?\)$")
RE_TMPL = re.compile(r"^Template \(Id = (\d+), Count = \d+\)$")
RE_OPT_TMPL = re.compile(r"^Options Template \(Id = (\d+)\)")
RE_FLOW = re.compile(r"^Flow (\d+)\b")
RE_PDU = re.compile(r"^pdu (\d+)/\d+$")

# column -> groups of fields; the first group the record has gives the value
COLUMNS = [
    ("src", [["cflow.srcaddr", "cflow.srcaddrv6"]]),
    ("dst", [["cflow.dstaddr", "cflow.dstaddrv6"]]),
    ("sport", [["cflow.srcport"]]),
    ("dport", [["cflow.dstport"]]),
    ("proto", [["cflow.protocol"]]),
    ("packets", [["cflow.packets"], ["cflow.permanent_packets"],
                 ["cflow.initiator_packets"]]),
    ("bytes", [["cflow.octets"], ["cflow.permanent_octets"],
               ["cflow.initiator_octets"]]),
    ("first_ms", [["cflow.abstimestart"]]),
    ("last_ms", [["cflow.abstimeend"]]),
]
TIME_FIELDS = {"cflow.abstimestart", "cflow.abstimeend"}
ADDR_FIELDS = {"cflow.srcaddr", "cflow.dstaddr"}
ZERO_ADDRS = {"0.0.0.0", "::"}
# uptime-relative times (IE 21/22): tshark then shows a start of 0 as
# "Jan 1, 1970" absolute, which is not a time the exporter sent
RELATIVE_TIME_FIELDS = ["cflow.timestart", "cflow.timeend"]


class Obj(list):
    """A json object as the list of its (key, value) pairs, duplicates kept."""
HEADER = ["capture", "frame", "set", "rec"] + [c for c, _ in COLUMNS]


def tshark(args):
    env = dict(os.environ, TZ="UTC")
    r = subprocess.run(["tshark", "-n"] + args, capture_output=True,
                       text=True, timeout=600, env=env)
    return r.stdout


def ports_of(cap):
    out = tshark(["-r", cap, "-T", "fields", "-e", "udp.dstport"])
    return sorted({p for p in out.split() if p.isdigit()})


def abs_ms(text):
    """'Feb  9, 2023 14:22:23.123456789 UTC' -> ms since the epoch."""
    parts = text.split()
    if parts[-1] != "UTC":
        raise ValueError("not a UTC time: " + text)
    stamp = " ".join(parts[:-1])
    whole, _, frac = stamp.partition(".")
    secs = calendar.timegm(time.strptime(whole, "%b %d, %Y %H:%M:%S"))
    return secs * 1000 + int((frac + "000")[:3])


def pairs(node):
    """(key, value) pairs of a json object; nothing for anything else."""
    return node if isinstance(node, Obj) else []


def values(node, field, out):
    """All values of `field` anywhere under a record, in document order."""
    for k, v in pairs(node):
        if isinstance(v, Obj):
            values(v, field, out)
        elif k == field and isinstance(v, str):
            out.append(v)
        elif k == field and isinstance(v, list):
            out += [x for x in v if isinstance(x, str)]
    return out


def column(record, groups):
    for fields in groups:
        if fields[0] in TIME_FIELDS and any(
                values(record, f, []) for f in RELATIVE_TIME_FIELDS):
            return "-"
        vals = []
        for f in fields:
            for v in values(record, f, []):
                if f in TIME_FIELDS:
                    v = str(abs_ms(v))
                if v not in vals:
                    vals.append(v)
        if fields[0] in ADDR_FIELDS and len(vals) > 1:
            # an all-zero address next to a real one is the unused family
            vals = [v for v in vals if v not in ZERO_ADDRS] or vals
        if vals:
            return "|".join(vals)
    return "-"


def templates_of(cflow, frame, kinds):
    """Notes every template a packet defines: (frame, id) -> opt|data."""
    for k, v in pairs(cflow):
        m = RE_TMPL.match(k)
        if m:
            kinds[(frame, m.group(1))] = "data"
            continue
        m = RE_OPT_TMPL.match(k)
        if m:
            kinds[(frame, m.group(1))] = "opt"
            continue
        if isinstance(v, Obj):
            templates_of(v, frame, kinds)


def records_of(cflow, frame, kinds):
    """Yields (set id, record number, record) for the flow records."""
    for k, v in pairs(cflow):
        m = RE_PDU.match(k)
        if m:
            yield "-", m.group(1), v
            continue
        m = RE_SET.match(k)
        if not m or int(m.group(1)) < 256:
            continue
        tid = m.group(1)
        tframe = dict((a, b) for a, b in pairs(v)).get("cflow.template_frame")
        if kinds.get((tframe, tid)) == "opt":
            continue
        for k2, rec in pairs(v):
            m2 = RE_FLOW.match(k2)
            if m2:
                yield tid, m2.group(1), rec


def cflow_layers(frame_obj):
    for k, v in pairs(frame_obj):
        if k == "_source":
            for k2, layers in pairs(v):
                if k2 == "layers":
                    for name, layer in pairs(layers):
                        if name == "cflow":
                            yield layer


def frame_number(frame_obj):
    for layer in values(frame_obj, "frame.number", []):
        return layer
    return "?"


def samples(cap, maxn):
    args = ["-2", "-r", cap, "-T", "json"]
    for p in ports_of(cap):
        args += ["-d", f"udp.port=={p},cflow"]
    frames = json.loads(tshark(args) or "[]", object_pairs_hook=Obj)
    kinds = {}
    for fr in frames:
        for cf in cflow_layers(fr):
            templates_of(cf, frame_number(fr), kinds)
    out = []
    for fr in frames:
        for cf in cflow_layers(fr):
            for tid, n, rec in records_of(cf, frame_number(fr), kinds):
                out.append([frame_number(fr), tid, n] +
                           [column(rec, f) for _, f in COLUMNS])
                if len(out) >= maxn:
                    return out
    return out


def main():
    args = sys.argv[1:]
    maxn, root = 3, None
    if "--max" in args:
        i = args.index("--max")
        maxn = int(args[i + 1])
        del args[i:i + 2]
    if "--root" in args:
        i = args.index("--root")
        root = args[i + 1]
        del args[i:i + 2]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    ver = re.search(r"\d+\.\d+\.\d+", tshark(["-v"]))
    print("# made by tests/tools/tshark_samples.py with tshark "
          + (ver.group(0) if ver else "?"))
    print("#" + "\t".join(HEADER))
    for cap in args:
        name = os.path.relpath(cap, root) if root else cap
        for row in samples(cap, maxn):
            print("\t".join([name] + row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
