"""benchlib - helpers shared by the bench/*.py drivers.

Starting and stopping the collectors (collectord and nfcapd), sending with
flowgen, reading the kernel's UDP counters, counting what landed in the
files, and printing tables. Every figure is measured; nothing is assumed.
"""

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

TOP = os.environ.get("TOP") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN") or os.path.join(TOP, "build", "bin")
TOOLS = os.environ.get("TOOLS") or os.path.join(TOP, "build", "tools")
OUT = os.environ.get("OUT") or "/tmp/flowyard-bench"
# PIN=1: the sender on CPU 0, the collector (all its threads) on CPU 1, so
# that each side has one core of its own (the "1 core" figure).
PIN = os.environ.get("PIN", "") not in ("", "0")
# The sender: GSO=1 (default) sends each run of equal datagrams as one
# UDP_SEGMENT buffer (the collector still receives separate datagrams, the
# same bytes); BATCH datagrams per sendmmsg. On loopback the kernel's
# receive path runs in the sender's system calls, so without GSO a 2-core
# machine cannot offer much more than 2-2.5 M flows/s at 30 per datagram.
GSO = os.environ.get("GSO", "1") not in ("", "0")
BATCH = int(os.environ.get("BATCH") or 64)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def env_int(name, default):
    v = os.environ.get(name)
    return int(float(v)) if v else default


def env_list(name, default):
    v = os.environ.get(name)
    if not v:
        return default
    return [int(float(x)) for x in v.replace(",", " ").split()]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_rate(r):
    if r is None:
        return "-"
    return "%.2f M" % (r / 1e6)


def fmt_ratio(r):
    return "-" if r is None else "%.2fx" % r


_machine = None


def machine():
    """The machine, with the load average of the first call (the start)."""
    global _machine
    if _machine is None:
        _machine = _describe_machine()
    return _machine


def _describe_machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.0f GiB" % (kb / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    load = open("/proc/loadavg").read().split()[:3]
    return ("%d cores, %s, %s, kernel %s, load %s at start"
            % (os.cpu_count(), model, mem, os.uname().release,
               " ".join(load)))


def version_of(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


# --------------------------------------------------------------------------
# Kernel counters

def udp_snmp():
    """The Udp: line of /proc/net/snmp as a dict (this namespace)."""
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Udp:")]
    return dict(zip(lines[0][1:], (int(x) for x in lines[1][1:])))


def udp_socket(port):
    """(rx_queue bytes, drops) of the UDP socket(s) bound to port, or None;
    several sockets on one port (SO_REUSEPORT) are added up."""
    found = None
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if int(p[1].rsplit(":", 1)[1], 16) == port:
                        rxq, drops = found or (0, 0)
                        found = (rxq + int(p[4].split(":")[1], 16),
                                 drops + int(p[12]))
        except OSError:
            pass
    return found


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid, tid=None):
    """utime + stime of a process (all its threads), or of one of its
    threads, in seconds."""
    try:
        path = "/proc/%d/stat" % pid if tid is None else \
            "/proc/%d/task/%d/stat" % (pid, tid)
        with open(path) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------
# Collectors

class Collector:
    """One collector process listening on 127.0.0.1:port, writing to dir."""

    name = "?"

    def __init__(self, workdir, port, rcvbuf, extra=(), rotate=3600):
        self.rotate = rotate
        self.dir = workdir
        self.port = port
        self.rcvbuf = rcvbuf
        self.extra = list(extra)
        self.proc = None
        self.logf = None
        self.cpu = None
        self.cpu_main = None

    def argv(self):
        raise NotImplementedError

    def start(self):
        subprocess.run(["rm", "-rf", self.dir], check=True)
        os.makedirs(self.dir)
        self.logf = open(self.dir + ".log", "w")
        argv = self.argv()
        if PIN:
            argv = ["taskset", "-c", "1"] + argv
        self.proc = subprocess.Popen(argv, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while udp_socket(self.port) is None:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start: see %s.log"
                                   % (self.name, self.dir))
            if time.time() > deadline:
                raise RuntimeError("%s does not listen on %d"
                                   % (self.name, self.port))
            time.sleep(0.02)
        time.sleep(0.1)

    def drain(self, timeout=60):
        """Waits until the socket's receive queue has stayed empty a while
        and the daemon's CPU time stops moving (decoding done)."""
        deadline = time.time() + timeout
        quiet = 0
        last = cpu_seconds(self.proc.pid)
        while time.time() < deadline:
            time.sleep(0.05)
            q = udp_socket(self.port)
            c = cpu_seconds(self.proc.pid)
            if q is not None and q[0] == 0 and (c is None or last is None or
                                              c - last < 0.015):
                quiet += 1
                if quiet >= 4:
                    return
            else:
                quiet = 0
            last = c

    def socket_drops(self):
        q = udp_socket(self.port)
        return q[1] if q else None

    def stop(self, timeout=120):
        self.cpu = cpu_seconds(self.proc.pid)
        # the main thread receives, in collectord and in nfcapd
        self.cpu_main = cpu_seconds(self.proc.pid, self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("%s did not stop on SIGTERM" % self.name)
        self.logf.close()

    def count(self):
        raise NotImplementedError

    def disk_bytes(self):
        total = 0
        for root, _, files in os.walk(self.dir):
            for f in files:
                total += os.path.getsize(os.path.join(root, f))
        return total


class Collectord(Collector):
    name = "collectord"

    def argv(self):
        return [os.path.join(BIN, "collectord"), "-p", str(self.port),
                "-b", "127.0.0.1", "-w", self.dir, "-I", "bench",
                "-B", str(self.rcvbuf), "-t", str(self.rotate),
                "--socket", self.dir + ".sock"] + self.extra

    def count(self):
        r = subprocess.run([os.path.join(TOOLS, "flowcount"),
                            os.path.join(self.dir, "bench")],
                           capture_output=True, text=True)
        m = re.search(r"\bflows=(\d+)", r.stdout)
        if not m:
            raise RuntimeError("flowcount: %s %s" % (r.stdout, r.stderr))
        return int(m.group(1))


class Nfcapd(Collector):
    name = "nfcapd"

    def argv(self):
        return ["nfcapd", "-b", "127.0.0.1", "-p", str(self.port),
                "-w", self.dir, "-B", str(self.rcvbuf), "-t",
                str(self.rotate)] + self.extra

    def count(self):
        return nfdump_flows(self.dir)


def nfdump_flows(path):
    """Flows in nfcapd files, from `nfdump -R dir -I` (nfdump reads each
    file's statistics record)."""
    r = subprocess.run(["nfdump", "-R", path, "-I"], capture_output=True,
                       text=True)
    m = re.search(r"^Flows:\s*(\d+)", r.stdout, re.M)
    if not m:
        if "Empty file list" in r.stdout + r.stderr or \
                "No such file" in r.stdout + r.stderr:
            return 0
        raise RuntimeError("nfdump -I: %s %s" % (r.stdout, r.stderr))
    return int(m.group(1))


def flowgen(port, version, flows, rate, seed, per_msg=30, mtu=9000,
            exporters=1):
    """Sends with flowgen --prebuild; returns its fields as a dict."""
    argv = [os.path.join(TOOLS, "flowgen"), "-n", "127.0.0.1:%d" % port,
            "-v", str(version), "-c", str(flows), "-r", str(rate),
            "-s", str(seed), "--per-msg", str(per_msg), "--mtu", str(mtu),
            "--prebuild", "--batch", str(BATCH)]
    if GSO:
        argv.append("--gso")
    if exporters > 1:
        argv += ["--exporters", str(exporters)]
    if PIN:
        argv = ["taskset", "-c", "0"] + argv
    r = subprocess.run(argv, capture_output=True, text=True)
    out = dict(re.findall(r"(\w+)=([\d.]+)", r.stdout))
    if "flows" not in out or "rate" not in out:
        raise RuntimeError("flowgen failed (%d): %s %s\n(is %s/flowgen built "
                           "with --prebuild?)" % (r.returncode, r.stdout,
                                                  r.stderr, TOOLS))
    return {k: float(v) for k, v in out.items()}


# --------------------------------------------------------------------------
# Output

def table(header, rows):
    """A Markdown table as a string."""
    w = [len(h) for h in header]
    rows = [[("-" if c is None else str(c)) for c in r] for r in rows]
    for r in rows:
        for i, c in enumerate(r):
            w[i] = max(w[i], len(c))
    line = lambda r: "| " + " | ".join(c.ljust(w[i])
                                       for i, c in enumerate(r)) + " |"
    s = [line(header), "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    s += [line(r) for r in rows]
    return "\n".join(s)


def write_result(name, text):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".md")
    with open(path, "w") as f:
        f.write(text + "\n")
    print(text, flush=True)
    log("bench: written to %s" % path)
