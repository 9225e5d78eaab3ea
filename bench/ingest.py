"""Drop-free ingest rate: collectord vs nfcapd (LZ4), NetFlow v9 and IPFIX.

Run by bench/ingest.sh (which installs nfcapd and makes a private network
namespace). For each protocol version and each repeat, a ladder search per
collector: send the same seeded flows (flowgen --prebuild, 30 records per
datagram, paced with sendmmsg) at a rate of the ladder, let the collector
drain, stop it, count the flows in its files and the kernel's UDP receive
errors. A step passes when every flow sent is in the files, the socket and
the namespace counted no receive error, and the sender reached the rate. The
search climbs from START_RATE while steps pass (or descends while they
fail); the collectors' steps are interleaved so that both see the same
machine load. The drop-free rate of a run is the highest passing rate (as
achieved by the sender); the figure is the median over the repeats.

Then two scaling figures, NetFlow v9 (SCALE_VERSION), one search each:
- exporters: the same flows from EXPORTERS concurrent exporters (flowgen
  --exporters: sources 127.0.0.1..N, each with its own encoder, templates
  and sequence numbers), into one directory for both collectors;
- cores: each collector restricted to one CPU (taskset -c 1) and free on
  both (the sender is never pinned here), from CORES_EXPORTERS exporters;
  with a third collector, collectord --recv-threads RECV_THREADS (a
  SO_REUSEPORT socket and decoder per thread: the kernel spreads the
  exporters over them). On 2 cores the sender needs CPU too, so the table
  also gives CPU per flow and the receive threads' share of it.

Environment: RATES (flows/s, comma separated), DURATION (seconds of traffic
per step, 2), MIN_FLOWS (1000000), REPEAT (3), RCVBUF (bytes, both
collectors, 4194304), VERSIONS (9,10), START_RATE (1000000), SEED (1),
PIN (1: sender on CPU 0, collector on CPU 1), EXPORTERS (1,10,100),
CORES (1,2), CORES_EXPORTERS (10), RECV_THREADS (2), SCALE_VERSION (9),
SCALE_REPEAT (1); SCALE_ONLY (cores or exporters: that scaling figure
alone, without the protocol figures); SCALING=0 skips the
scaling figures (a quick run: e.g. SCALING=0 REPEAT=1 VERSIONS=9);
GSO (1: flowgen --gso; 0 sends datagram by datagram) and BATCH (64:
datagrams per paced window), see benchlib.py.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

LADDER = bl.env_list("RATES", [250000, 500000, 750000, 1000000, 1250000,
                               1500000, 1750000, 2000000, 2500000, 3000000,
                               3500000, 4000000, 5000000])
DURATION = float(os.environ.get("DURATION", "2"))
MIN_FLOWS = bl.env_int("MIN_FLOWS", 1000000)
REPEAT = bl.env_int("REPEAT", 3)
RCVBUF = bl.env_int("RCVBUF", 4194304)
VERSIONS = bl.env_list("VERSIONS", [9, 10])
START = bl.env_int("START_RATE", 1000000)
SEED = bl.env_int("SEED", 1)
EXPORTERS = bl.env_list("EXPORTERS", [1, 10, 100])
CORES = bl.env_list("CORES", [1, 2])
CORES_EXPORTERS = bl.env_int("CORES_EXPORTERS", 10)
RECV_THREADS = bl.env_int("RECV_THREADS", 2)
SCALE_VERSION = bl.env_int("SCALE_VERSION", 9)
SCALE_REPEAT = bl.env_int("SCALE_REPEAT", 1)
SCALING = os.environ.get("SCALING", "1") not in ("", "0")
SCALE_ONLY = os.environ.get("SCALE_ONLY", "")
# The sender "reached" a rate when it achieved this share of it.
SENDER_SLACK = 0.97

COLLECTORS = [
    (bl.Collectord, []),  # LZ4 fast is its default
    (bl.Nfcapd, ["-y"]),
]


class CollectordThreads(bl.Collectord):
    """collectord --recv-threads: several sockets on the port (benchlib
    adds up their queues and drops); "receive thread" CPU = its recv-*
    threads."""
    name = "collectord-rt"

    def stop(self, timeout=120):
        recv = 0.0
        task = "/proc/%d/task" % self.proc.pid
        try:
            for tid in os.listdir(task):
                with open(os.path.join(task, tid, "comm")) as f:
                    if f.read().startswith("recv-"):
                        recv += bl.cpu_seconds(self.proc.pid,
                                               int(tid)) or 0
        except OSError:
            pass
        super().stop(timeout)
        self.cpu_main = recv


CORE_COLLECTORS = COLLECTORS + [
    (CollectordThreads, ["--recv-threads", str(RECV_THREADS)]),
]

steps = []


def on_cpus(cls, cores):
    """cls, started under taskset: 1 core = CPU 1, 2 = free (None)."""
    if cores is None or cores >= (os.cpu_count() or 1):
        return cls

    class Pinned(cls):
        def argv(self):
            return ["taskset", "-c", ",".join(
                str(1 + k) for k in range(cores))] + super().argv()
    Pinned.name = cls.name
    return Pinned


def send(port, version, flows, rate, exporters):
    """bl.flowgen, from `exporters` concurrent exporters."""
    return bl.flowgen(port, version, flows, rate, SEED, exporters=exporters)


def step(cls, extra, version, rate, exporters=1, cores=None):
    flows = max(MIN_FLOWS, int(rate * DURATION))
    port = bl.free_port()
    c = on_cpus(cls, cores)(os.path.join(bl.OUT, "ingest", cls.name), port,
                            RCVBUF, extra)
    c.start()
    s0 = bl.udp_snmp()
    g = send(port, version, flows, rate, exporters)
    c.drain()
    drops = c.socket_drops() or 0
    c.stop()
    s1 = bl.udp_snmp()
    stored = c.count()
    rcvbuf = s1["RcvbufErrors"] - s0["RcvbufErrors"]
    inerr = s1["InErrors"] - s0["InErrors"]
    res = {
        "daemon": cls.name, "version": version, "rate": rate,
        "exporters": exporters, "cores": cores,
        "flows": flows, "sent_rate": g["rate"], "stored": stored,
        "rcvbuf_errors": rcvbuf, "in_errors": inerr, "drops": drops,
        "send_errors": int(g.get("send_errors", 0)),
        "cpu_us_per_flow": (c.cpu * 1e6 / flows) if c.cpu else None,
        "main_us_per_flow": (c.cpu_main * 1e6 / flows) if c.cpu_main
        else None,
    }
    res["sender_ok"] = g["rate"] >= SENDER_SLACK * rate
    res["ok"] = (stored == flows and rcvbuf == 0 and inerr == 0 and
                 drops == 0 and res["send_errors"] == 0)
    bl.log("  %-10s v%-2d%s%s %5.2f M/s (sent %5.2f M/s) stored %d/%d "
           "rcvbuf_err %d drops %d cpu %.2f us/flow (receive thread %.2f) "
           "-> %s%s"
           % (cls.name, version,
              " x%d" % exporters if exporters > 1 else "",
              " %d core(s)" % cores if cores else "",
              rate / 1e6, g["rate"] / 1e6, stored, flows,
              rcvbuf, drops, res["cpu_us_per_flow"] or 0,
              res["main_us_per_flow"] or 0,
              "pass" if res["ok"] else "LOSS",
              "" if res["sender_ok"] else " (sender short of the rate)"))
    steps.append(res)
    return res


def search(cls, extra, version, start_idx, out, **kw):
    """Generator: yields once per step; fills out[...] at the end."""
    i, direction = start_idx, 0
    best = best_idx = None
    capped = False
    while 0 <= i < len(LADDER):
        res = step(cls, extra, version, LADDER[i], **kw)
        yield
        if res["ok"]:
            if best is None or res["sent_rate"] > best:
                best, best_idx = res["sent_rate"], i
            if not res["sender_ok"]:
                capped = True  # the sender, not the collector, is the limit
                break
            if direction < 0:
                break
            direction, i = 1, i + 1
        else:
            if direction > 0:
                break
            direction, i = -1, i - 1
    if best is not None and best_idx == len(LADDER) - 1:
        capped = True
    out.update(best=best, best_idx=best_idx, capped=capped)


def main():
    bl.log("bench ingest: %s" % bl.machine())
    start_idx = min(range(len(LADDER)), key=lambda k: abs(LADDER[k] - START))
    summary = {}
    for version in ([] if SCALE_ONLY else VERSIONS):
        prev = {cls.name: start_idx for cls, _ in COLLECTORS}
        runs = {cls.name: [] for cls, _ in COLLECTORS}
        for run in range(REPEAT):
            bl.log("v%d run %d/%d" % (version, run + 1, REPEAT))
            order = COLLECTORS if run % 2 == 0 else COLLECTORS[::-1]
            outs = {cls.name: {} for cls, _ in order}
            gens = [search(cls, extra, version, prev[cls.name],
                           outs[cls.name]) for cls, extra in order]
            while gens:
                for g in list(gens):
                    try:
                        next(g)
                    except StopIteration:
                        gens.remove(g)
            for name, o in outs.items():
                runs[name].append(o)
                if o.get("best_idx") is not None:
                    prev[name] = o["best_idx"]
        summary[version] = runs
    scale = {}
    if SCALING:
        for key, n, kw in (
                [("exporters", n, {"exporters": n}) for n in EXPORTERS] +
                [("cores", n, {"cores": n, "exporters": CORES_EXPORTERS})
                 for n in CORES]):
            if SCALE_ONLY and key != SCALE_ONLY:
                continue
            cols = CORE_COLLECTORS if key == "cores" else COLLECTORS
            prev = {cls.name: start_idx for cls, _ in cols}
            runs = {cls.name: [] for cls, _ in cols}
            for run in range(SCALE_REPEAT):
                bl.log("v%d %s %d, run %d/%d" % (SCALE_VERSION, key, n,
                                                 run + 1, SCALE_REPEAT))
                order = cols if run % 2 == 0 else cols[::-1]
                outs = {cls.name: {} for cls, _ in order}
                gens = [search(cls, extra, SCALE_VERSION, prev[cls.name],
                               outs[cls.name], **kw)
                        for cls, extra in order]
                while gens:
                    for g in list(gens):
                        try:
                            next(g)
                        except StopIteration:
                            gens.remove(g)
                for name, o in outs.items():
                    runs[name].append(o)
                    if o.get("best_idx") is not None:
                        prev[name] = o["best_idx"]
            scale[(key, n)] = runs
    report(summary, scale)


def scale_rows(scale, key):
    rows = []
    for (k, n), runs in scale.items():
        if k != key:
            continue
        med = {name: bl.median([r.get("best") for r in rs])
               for name, rs in runs.items()}
        cap = {name: any(r.get("capped") for r in rs)
               for name, rs in runs.items()}
        cpu = {}
        for name in runs:
            ok = [s for s in steps if s["daemon"] == name and s["ok"] and
                  s[key] == n and s["cpu_us_per_flow"] and
                  s["version"] == SCALE_VERSION and
                  (key == "cores" or s["cores"] is None)]
            cpu[name] = bl.median([s["cpu_us_per_flow"] for s in ok])
        rows.append([
            str(n),
            ("≥ " if cap["collectord"] else "") +
            bl.fmt_rate(med["collectord"]),
            ("≥ " if cap["nfcapd"] else "") + bl.fmt_rate(med["nfcapd"]),
            bl.fmt_ratio(bl.ratio(med["collectord"], med["nfcapd"])),
            "%.2f / %.2f" % (cpu["collectord"] or 0, cpu["nfcapd"] or 0),
        ])
    return rows


def cores_rows(scale):
    """collectord, collectord --recv-threads and nfcapd on 1 and 2 CPUs."""
    rows = []
    for (k, n), runs in scale.items():
        if k != "cores":
            continue
        med, cap, cpu, recv = {}, {}, {}, {}
        for name, rs in runs.items():
            med[name] = bl.median([r.get("best") for r in rs])
            cap[name] = any(r.get("capped") for r in rs)
            ok = [s for s in steps if s["daemon"] == name and s["ok"] and
                  s["cores"] == n and s["cpu_us_per_flow"] and
                  s["version"] == SCALE_VERSION]
            cpu[name] = bl.median([s["cpu_us_per_flow"] for s in ok])
            recv[name] = bl.median([s["main_us_per_flow"] for s in ok
                                    if s["main_us_per_flow"]])

        def rate(name):
            return ("≥ " if cap.get(name) else "") + \
                bl.fmt_rate(med.get(name))

        share = (recv["collectord-rt"] / cpu["collectord-rt"]
                 if recv.get("collectord-rt") and cpu.get("collectord-rt")
                 else None)
        rows.append([
            str(n), rate("collectord"), rate("collectord-rt"),
            rate("nfcapd"),
            bl.fmt_ratio(bl.ratio(med.get("collectord-rt"),
                                  med.get("collectord"))),
            bl.fmt_ratio(bl.ratio(med.get("collectord-rt"),
                                  med.get("nfcapd"))),
            "%.2f / %.2f / %.2f" % (cpu.get("collectord") or 0,
                                    cpu.get("collectord-rt") or 0,
                                    cpu.get("nfcapd") or 0),
            "%.2f / %.2f" % (recv.get("collectord") or 0,
                             recv.get("collectord-rt") or 0),
            "%.0f%%" % (100 * share) if share else "-",
        ])
    return rows


def report(summary, scale):
    rows = []
    for version, runs in summary.items():
        med = {}
        for name, rs in runs.items():
            med[name] = bl.median([r.get("best") for r in rs])
        cap = {name: any(r.get("capped") for r in rs)
               for name, rs in runs.items()}
        cpu, main = {}, {}
        for name in runs:
            ok = [s for s in steps
                  if s["daemon"] == name and s["version"] == version and
                  s["ok"] and s["cpu_us_per_flow"] and
                  s["exporters"] == 1 and s["cores"] is None]
            cpu[name] = bl.median([s["cpu_us_per_flow"] for s in ok])
            main[name] = bl.median([s["main_us_per_flow"] for s in ok])
        rows.append([
            "NetFlow v9" if version == 9 else "IPFIX",
            ("≥ " if cap["collectord"] else "") +
            bl.fmt_rate(med["collectord"]),
            ("≥ " if cap["nfcapd"] else "") + bl.fmt_rate(med["nfcapd"]),
            ("≥ " if cap["collectord"] and not cap["nfcapd"] else "") +
            bl.fmt_ratio(bl.ratio(med["collectord"], med["nfcapd"])),
            " / ".join(bl.fmt_rate(r.get("best"))
                       for r in runs["collectord"]),
            " / ".join(bl.fmt_rate(r.get("best")) for r in runs["nfcapd"]),
            "%.2f / %.2f" % (cpu["collectord"] or 0, cpu["nfcapd"] or 0),
            "%.2f / %.2f" % (main["collectord"] or 0, main["nfcapd"] or 0),
        ])
    text = ["## Ingest: drop-free flows/s, 30 records per datagram",
            "",
            "%s; socket buffer -B %d for both (kernel rb %d); %.0f s of "
            "traffic per step (at least %d flows); median of %d runs; "
            "'≥' = the sender's ceiling was reached without loss; %s." % (
                bl.machine(), RCVBUF, 2 * RCVBUF, DURATION, MIN_FLOWS,
                REPEAT, "sender pinned to CPU 0, collector to CPU 1"
                if bl.PIN else "sender and collector share both cores"),
            "",
            bl.table(["protocol", "collectord", "nfcapd -y", "ratio",
                      "collectord runs", "nfcapd runs",
                      "CPU µs/flow (cd / nfcapd)",
                      "receive thread µs/flow"], rows),
            ""]
    if scale:
        text += ["### Exporters (NetFlow v%d, %d run(s) each)" % (
                     SCALE_VERSION, SCALE_REPEAT),
                 "",
                 bl.table(["exporters", "collectord", "nfcapd -y", "ratio",
                           "CPU µs/flow (cd / nfcapd)"],
                          scale_rows(scale, "exporters")),
                 "",
                 "### Cores: each collector on 1 CPU (taskset) or both "
                 "(NetFlow v%d, %d exporters, %d run(s) each)" % (
                     SCALE_VERSION, CORES_EXPORTERS, SCALE_REPEAT),
                 "",
                 "cd-rt = collectord --recv-threads %d. Receive CPU: the "
                 "receive thread (cd) or the %d receive threads (cd-rt); "
                 "share: of cd-rt's CPU." % (RECV_THREADS, RECV_THREADS),
                 "",
                 bl.table(["collector cores", "collectord", "cd-rt",
                           "nfcapd -y", "cd-rt / cd", "cd-rt / nfcapd",
                           "CPU µs/flow (cd / cd-rt / nfcapd)",
                           "receive µs/flow (cd / cd-rt)",
                           "receive share"],
                          cores_rows(scale)),
                 ""]
    text += ["Steps:",
             "",
             bl.table(["daemon", "v", "exporters", "cores", "target/s",
                       "sent/s", "stored/sent",
                       "rcvbuf err", "sock drops", "CPU µs/flow",
                       "recv thread", "result"],
                      [[s["daemon"], s["version"], s["exporters"],
                        s["cores"] or "-", bl.fmt_rate(s["rate"]),
                        bl.fmt_rate(s["sent_rate"]),
                        "%d/%d" % (s["stored"], s["flows"]),
                        s["rcvbuf_errors"], s["drops"],
                        "%.2f" % (s["cpu_us_per_flow"] or 0),
                        "%.2f" % (s["main_us_per_flow"] or 0),
                        ("pass" if s["ok"] else "loss") +
                        ("" if s["sender_ok"] else " (sender short)")]
                       for s in steps])]
    bl.write_result("ingest", "\n".join(text))


if __name__ == "__main__":
    main()
