"""nfq vs nfdump on the same flows.

Run by bench/query.sh. For each size in FLOWS (default 10 M), the same
seeded flows (flowgen, NetFlow v9, 30 records per datagram) are sent to a
collectord (LZ4 fast, its default) and to an nfcapd -y (LZ4) at QUERY_RATE,
with
big socket buffers, and the files are checked to hold every flow (else the
send is retried at half the rate). The two trees are kept in
OUT/query-<N>/ and reused by later runs (delete them to regenerate). Then
each question is asked of both, alternating, REPEAT times, under
/usr/bin/time -v with the output to /dev/null: wall time, CPU time, peak RSS;
medians and ratios. A last untimed run of the filter compares the number of
records each prints (-q), so both answer the same question.

Environment: FLOWS (flows, comma separated: 10000000; a number under 1000
counts millions, so FLOWS=1 is a quick run on 1 M; the script's first
argument sets it too: `bench/query.sh 1,10,50` for the scaling table), QUERY_RATE (1000000),
REPEAT (3), SEED (1), QUERY_RCVBUF (268435456),
FILTER (the filter of the -o line question), THREADS (nfq --threads; empty:
its default), SLOW (60: a question whose first run takes longer than SLOW
seconds on either side is asked once), ROTATE (-t of both collectors, 3600:
one file; e.g. 2 for a tree of several files, which nfq reads in parallel),
QUESTIONS (srcip,record,recmem,filter,csv,info), NFQ_MEMORY (300: nfq's
--memory in the recmem question), CSV_MAX (20000000: above this many
flows the -o csv question is left out; nfdump needs over 10 minutes for
it at 50 M flows, and its ratio does not change with the size).
"""

import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

# FLOWS=1 means 1 M: a value under 1000 counts millions; the first
# argument, when given (`bench/query.sh 1,10,50`), wins over FLOWS
if len(sys.argv) > 1 and sys.argv[1]:
    os.environ["FLOWS"] = sys.argv[1]
SIZES = [n * 1000000 if n < 1000 else n
         for n in bl.env_list("FLOWS", [10000000])]
RATE = bl.env_int("QUERY_RATE", 1000000)
REPEAT = bl.env_int("REPEAT", 3)
SEED = bl.env_int("SEED", 1)
RCVBUF = bl.env_int("QUERY_RCVBUF", 268435456)
FILTER = os.environ.get("FILTER",
                        "src net 10.0.0.0/28 and dst port 53")
THREADS = os.environ.get("THREADS", "")
SLOW = float(os.environ.get("SLOW", "60"))
ROTATE = bl.env_int("ROTATE", 3600)
NFQ_MEMORY = bl.env_int("NFQ_MEMORY", 300)
ASK = (os.environ.get("QUESTIONS") or
       "srcip,record,recmem,filter,csv,info").split(",")
CSV_MAX = bl.env_int("CSV_MAX", 20000000)

# (key, label, nfq/nfdump arguments after the input[, nfq's own options])
QUESTIONS = [
    ("srcip", "-s srcip/bytes -n 10", ["-s", "srcip/bytes", "-n", "10"]),
    ("record", "-s record/bytes -n 10", ["-s", "record/bytes", "-n", "10"]),
    # the same with nfq's top-N tables held to NFQ_MEMORY MB (counted in
    # passes past it): the memory target is a tenth of nfdump's
    ("recmem", "-s record/bytes -n 10, nfq --memory %d" % NFQ_MEMORY,
     ["-s", "record/bytes", "-n", "10"], ["--memory", str(NFQ_MEMORY)]),
    ("filter", "filter, -o line", ["-o", "line", FILTER]),
    ("csv", "-o csv (all flows)", ["-o", "csv"]),
    ("info", "-I", ["-I"]),
]


def make_trees(n):
    base = os.path.join(bl.OUT, "query-%d" % n +
                        ("" if ROTATE == 3600 else "-t%d" % ROTATE))
    done = os.path.join(base, "complete")
    cd_dir = os.path.join(base, "collectord")
    nf_dir = os.path.join(base, "nfcapd")
    if os.path.exists(done):
        return os.path.join(cd_dir, "bench"), nf_dir
    rate = RATE
    for cls, extra in ((bl.Collectord, []), (bl.Nfcapd, ["-y"])):
        for attempt in range(3):
            port = bl.free_port()
            c = cls(os.path.join(base, cls.name), port, RCVBUF, extra,
                    rotate=ROTATE)
            c.start()
            g = bl.flowgen(port, 9, n, rate, SEED)
            c.drain(timeout=600)
            c.stop()
            stored = c.count()
            bl.log("  %s: %d of %d flows stored (sent at %.2f M/s)"
                   % (cls.name, stored, n, g["rate"] / 1e6))
            if stored == n:
                break
            rate //= 2
        else:
            raise RuntimeError("%s does not take %d flows without loss"
                               % (cls.name, n))
    open(done, "w").close()
    return os.path.join(cd_dir, "bench"), nf_dir


def time_v(text):
    el = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)",
                   text)
    wall = (int(el.group(1) or 0) * 3600 + int(el.group(2)) * 60 +
            float(el.group(3))) if el else None
    g = lambda p: float(re.search(p, text).group(1))
    return {"wall": wall,
            "cpu": g(r"User time \(seconds\): ([\d.]+)") +
            g(r"System time \(seconds\): ([\d.]+)"),
            "rss_kb": int(g(r"Maximum resident set size \(kbytes\): (\d+)"))}


def argv(tool, tree, args, nfq_opts=()):
    if tool == "nfq":
        a = [os.path.join(bl.BIN, "nfq"), "-R", tree, "--no-progress"]
        if THREADS:
            a += ["--threads", THREADS]
        return a + list(nfq_opts) + args
    return ["nfdump", "-R", tree] + args


def timed(tool, tree, args, nfq_opts=()):
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v"] + argv(tool, tree, args,
                                                      nfq_opts),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError("%s %s failed (%d): %s" % (
            tool, " ".join(args), r.returncode, r.stderr[-1500:]))
    t = time_v(r.stderr)
    t["wall"] = wall  # /usr/bin/time's has a 10 ms resolution
    return t


def fmt_s(s):
    return "%.1f ms" % (s * 1e3) if s < 0.1 else "%.2f s" % s


def count_lines(tool, tree, args):
    r = subprocess.run(argv(tool, tree, ["-q"] + args), capture_output=True,
                       text=True)
    return len([l for l in r.stdout.splitlines() if l.strip()])


def bench_size(n):
    bl.log("bench query: %d flows" % n)
    cd_tree, nf_tree = make_trees(n)
    trees = {"nfq": cd_tree, "nfdump": nf_tree}
    rows = []
    for key, label, args, *opt in QUESTIONS:
        if key not in ASK or (key == "csv" and n > CSV_MAX):
            continue
        nfq_opts = opt[0] if opt else ()
        res = {"nfq": [], "nfdump": []}
        for i in range(REPEAT):
            for tool in (("nfq", "nfdump") if i % 2 == 0 else
                         ("nfdump", "nfq")):
                t = timed(tool, trees[tool], args, nfq_opts)
                res[tool].append(t)
                bl.log("  %-6s %-22s %8.3f s wall %8.3f s CPU %8d KB"
                       % (tool, label, t["wall"], t["cpu"], t["rss_kb"]))
            # a question that takes a minute is not asked again: one
            # more run would not change the ratio, only the run time
            if i == 0 and max(r[0]["wall"] for r in res.values()) > SLOW:
                break
        m = {tool: {k: bl.median([r[k] for r in rs])
                    for k in ("wall", "cpu", "rss_kb")}
             for tool, rs in res.items()}
        q, d = m["nfq"], m["nfdump"]
        rows.append([label + ("" if len(res["nfq"]) == REPEAT else
                              " (1 run)"),
                     fmt_s(q["wall"]), fmt_s(d["wall"]),
                     bl.fmt_ratio(bl.ratio(d["wall"], q["wall"])),
                     "%.2f / %.2f" % (q["cpu"], d["cpu"]),
                     "%.1f / %.1f MB" % (q["rss_kb"] / 1024,
                                         d["rss_kb"] / 1024),
                     bl.fmt_ratio(bl.ratio(q["rss_kb"], d["rss_kb"]))])
    lines = {t: count_lines(t, trees[t], ["-o", "line", FILTER])
             for t in ("nfq", "nfdump")}
    sizes = {}
    for t, tree in trees.items():
        total = 0
        for root, _, files in os.walk(tree):
            total += sum(os.path.getsize(os.path.join(root, f))
                         for f in files)
        sizes[t] = total
    nfiles = {t: sum(len(f) for _, _, f in os.walk(tree))
              for t, tree in trees.items()}
    return ["### %d flows, %s" % (n, "rotation -t %d" % ROTATE), "",
            "Files: collectord %.1f MB in %d, nfcapd -y %.1f MB in %d. "
            "Filter `%s`: nfq prints %d records, nfdump %d (with -q)." % (
                sizes["nfq"] / 1e6, nfiles["nfq"], sizes["nfdump"] / 1e6,
                nfiles["nfdump"], FILTER, lines["nfq"], lines["nfdump"]),
            "",
            bl.table(["question", "nfq", "nfdump", "nfq speed-up",
                      "CPU s (nfq / nfdump)", "peak RSS (nfq / nfdump)",
                      "nfq memory share"], rows)]


def main():
    bl.log("bench query: %s" % bl.machine())
    parts = ["## Query: nfq vs nfdump, the same flows, output to /dev/null",
             "", "%s; %s; median of %d runs, alternating; warm page cache."
             % (bl.machine(), bl.version_of(["nfdump", "-V"]), REPEAT)]
    for n in SIZES:
        parts += [""] + bench_size(n)
    bl.write_result("query", "\n".join(parts))


if __name__ == "__main__":
    main()
