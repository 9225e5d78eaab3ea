"""exporterd vs softflowd: packets per second reading the same capture.

Run by bench/exporter.sh. The capture comes from bench/pcapgen.py (seeded,
known flows: PACKETS packets, default 2 M). Both probes read it with -r and
export NetFlow v9 to a collectord on loopback (a sink with a big buffer, so
that nothing exported is lost; it counts the records that arrive). Each
probe runs under /usr/bin/time -v: wall time, user+system CPU time and peak
RSS. Same flow cache size for both (-m CACHE, 65536). The runs alternate
between the probes; figures are medians of REPEAT (3) runs.

Then the cost of the flow cache size: each probe once per size in
CACHE_SIZES (8192, 65536, 262144); a cache smaller than the capture's
concurrent flows forces early exports, hence more records.

Environment: PACKETS (2000000), SEED (1), REPEAT (3), CACHE (65536),
CACHE_SIZES ("8192,65536,262144"; empty to skip; synthetic capture only),
CAPTURES ("synthetic,echo25": the generated capture, and the tests' zeek
echo-connections capture replicated 25 times; or paths of pcaps).
"""

import json
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

PACKETS = bl.env_int("PACKETS", 2000000)
SEED = bl.env_int("SEED", 1)
REPEAT = bl.env_int("REPEAT", 3)
CACHE = bl.env_int("CACHE", 65536)
CACHE_SIZES = bl.env_list("CACHE_SIZES", [8192, 65536, 262144])
if os.environ.get("CACHE_SIZES") == "":
    CACHE_SIZES = []
CAPTURES = (os.environ.get("CAPTURES") or "synthetic,echo25").split(",")


def capture(kind):
    """(path, truth) of a capture: "synthetic" (bench/pcapgen.py, PACKETS
    packets, truth known), "echo25" (tests' echo-connections capture, 1000
    flows, replicated 25 times by bench/pcaprep.py) or a path."""
    here = os.path.dirname(os.path.abspath(__file__))
    if kind == "echo25":
        path = os.path.join(bl.OUT, "echo-connections-x25.pcap")
        if not os.path.exists(path):
            bl.log("bench exporter: writing %s" % path)
            os.makedirs(bl.OUT, exist_ok=True)
            subprocess.run([sys.executable, os.path.join(here, "pcaprep.py"),
                            "-n", "25", os.path.join(
                                bl.TOP, "tests", "data", "traffic", "zeek",
                                "echo-connections.pcap.gz"), path + ".tmp"],
                           check=True, stdout=subprocess.DEVNULL)
            os.rename(path + ".tmp", path)
        return path, {"packets": 82582 * 25, "flows": 1000 * 25,
                      "what": "tests/data/traffic/zeek/echo-connections "
                      "x25: 500 TCP connections a copy, 1000 flows"}
    if kind != "synthetic":
        return kind, None
    path = os.path.join(bl.OUT, "capture-%d-%d.pcap" % (PACKETS, SEED))
    if not (os.path.exists(path) and os.path.exists(path + ".json")):
        bl.log("bench exporter: writing %s" % path)
        os.makedirs(bl.OUT, exist_ok=True)
        subprocess.run([sys.executable, os.path.join(here, "pcapgen.py"),
                        "-p", str(PACKETS), "-s", str(SEED), path + ".tmp"],
                       check=True, stdout=subprocess.DEVNULL)
        os.rename(path + ".tmp.json", path + ".json")
        os.rename(path + ".tmp", path)
    with open(path + ".json") as f:
        t = json.load(f)
    t["what"] = ("bench/pcapgen.py seed %d: %d conversations, %d "
                 "unidirectional flows, ~30 k concurrent" %
                 (SEED, t["conversations"], t["flows"]))
    return path, t


def probe_argv(name, pcap, port, cache):
    if name == "exporterd":
        return [os.path.join(bl.BIN, "exporterd"), "-r", pcap,
                "-n", "127.0.0.1:%d" % port, "-v", "9", "-m", str(cache)]
    return ["softflowd", "-r", pcap, "-d", "-n", "127.0.0.1:%d" % port,
            "-v", "9", "-m", str(cache),
            "-p", os.path.join(bl.OUT, "softflowd.pid")]


def time_v(text):
    def grab(pat, conv=float):
        m = re.search(pat, text, re.M)
        return conv(m.group(1)) if m else None
    el = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)",
                   text)
    wall = None
    if el:
        wall = (int(el.group(1) or 0) * 3600 + int(el.group(2)) * 60 +
                float(el.group(3)))
    return {"wall": wall,
            "user": grab(r"User time \(seconds\): ([\d.]+)"),
            "sys": grab(r"System time \(seconds\): ([\d.]+)"),
            "rss_kb": grab(r"Maximum resident set size \(kbytes\): (\d+)",
                           int)}


def run(name, pcap, cache):
    port = bl.free_port()
    sink = bl.Collectord(os.path.join(bl.OUT, "exporter", "sink"), port,
                         64 << 20)
    sink.start()
    argv = ["/usr/bin/time", "-v"] + probe_argv(name, pcap, port, cache)
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        sink.stop()
        raise RuntimeError("%s failed (%d): %s" % (name, r.returncode,
                                                   r.stderr[-2000:]))
    sink.drain()
    sink.stop()
    t = time_v(r.stderr)
    t["records"] = sink.count()
    t["cpu"] = (t["user"] or 0) + (t["sys"] or 0)
    bl.log("  %-10s -m %-7d %.3f s wall, %.3f s CPU, %d KB peak RSS, "
           "%d records" % (name, cache, t["wall"], t["cpu"], t["rss_kb"],
                           t["records"]))
    return t


def bench_capture(kind):
    pcap, truth = capture(kind)
    npk = truth["packets"] if truth else None
    if npk is None:
        r = subprocess.run(["capinfos", "-c", "-M", pcap],
                           capture_output=True, text=True)
        m = re.search(r"Number of packets:\s*(\d+)", r.stdout)
        npk = int(m.group(1)) if m else None
    # warm the page cache so that neither probe pays the first read
    with open(pcap, "rb") as f:
        while f.read(1 << 24):
            pass
    bl.log("capture %s" % pcap)
    names = ["exporterd", "softflowd"]
    res = {n: [] for n in names}
    for i in range(REPEAT):
        for n in (names if i % 2 == 0 else names[::-1]):
            res[n].append(run(n, pcap, CACHE))
    med = {}
    for n in names:
        med[n] = {k: bl.median([r[k] for r in res[n]])
                  for k in ("wall", "cpu", "rss_kb", "records")}
        med[n]["pps"] = npk / med[n]["wall"] if npk else None
        med[n]["pps_cpu"] = npk / med[n]["cpu"] if npk else None
    e, s = med["exporterd"], med["softflowd"]
    rows = [
        ["packets/s (wall)", "%.2f M" % (e["pps"] / 1e6),
         "%.2f M" % (s["pps"] / 1e6), bl.fmt_ratio(bl.ratio(e["pps"],
                                                            s["pps"]))],
        ["packets per CPU-second", "%.2f M" % (e["pps_cpu"] / 1e6),
         "%.2f M" % (s["pps_cpu"] / 1e6),
         bl.fmt_ratio(bl.ratio(e["pps_cpu"], s["pps_cpu"]))],
        ["wall s (runs)", " / ".join("%.3f" % r["wall"]
                                     for r in res["exporterd"]),
         " / ".join("%.3f" % r["wall"] for r in res["softflowd"]), ""],
        ["peak RSS", "%.1f MB" % (e["rss_kb"] / 1024),
         "%.1f MB" % (s["rss_kb"] / 1024),
         bl.fmt_ratio(bl.ratio(e["rss_kb"], s["rss_kb"]))],
        ["records exported", "%d" % e["records"], "%d" % s["records"],
         "truth %d" % truth["flows"] if truth else ""],
    ]
    text = ["### %s: %s packets, NetFlow v9, -m %d" % (kind, npk, CACHE), "",
            "%s (%s); median of %d runs, alternating." % (
                os.path.basename(pcap),
                truth["what"] if truth else "given", REPEAT), "",
            bl.table(["measure", "exporterd", "softflowd", "ratio"], rows)]
    if CACHE_SIZES and kind == "synthetic":
        crow = []
        for size in CACHE_SIZES:
            a = run("exporterd", pcap, size)
            b = run("softflowd", pcap, size)
            crow.append([size, "%.3f" % a["wall"], "%.1f" % (a["rss_kb"] /
                                                             1024),
                         a["records"], "%.3f" % b["wall"],
                         "%.1f" % (b["rss_kb"] / 1024), b["records"]])
        text += ["", "Flow cache size (one run each):", "",
                 bl.table(["-m", "exporterd s", "exporterd MB",
                           "exporterd records", "softflowd s",
                           "softflowd MB", "softflowd records"], crow)]
    return "\n".join(text)


def main():
    bl.log("bench exporter: %s" % bl.machine())
    parts = ["## Exporter: packets/s reading a capture, exporterd vs "
             "softflowd", "", bl.machine()]
    for kind in CAPTURES:
        parts += ["", bench_capture(kind)]
    bl.write_result("exporter", "\n".join(parts))


if __name__ == "__main__":
    main()
