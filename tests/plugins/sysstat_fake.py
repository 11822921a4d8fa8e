"""A fake kernel for the sysstat tests: /proc/stat, /proc/pressure/*,
/proc/vmstat, /proc/net/dev, loadavg and meminfo under a fixture root, with
counters the test advances at known rates."""
from plugtest import write

HZ = 100


class FakeKernel:
    """Counters integrated second by second from per-second rates."""

    FIELDS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]

    def __init__(self, root, ncpu, ifaces=("lo", "eth0")):
        self.root, self.ncpu, self.t = root, ncpu, 0
        self.cpu = [[0] * 8 for _ in range(ncpu)]
        self.ctxt = self.forks = 0
        self.psi = {"cpu": [0, 0], "memory": [0, 0]}
        self.vm = {"pgfault": 0, "pgmajfault": 0, "pswpin": 0, "pswpout": 0}
        self.net = {i: [0] * 16 for i in ifaces}
        self.running = 3
        write(root, "sys/devices/system/cpu/possible", "0-%d\n" % (ncpu - 1))
        write(root, "proc/loadavg", "2.50 1.75 1.00 4/321 4242\n")
        write(root, "proc/meminfo", "MemTotal:       16000000 kB\nMemFree:         2000000 kB\n"
              "MemAvailable:    4000000 kB\nBuffers:          100000 kB\n"
              "Cached:          3000000 kB\nSwapTotal:       1000000 kB\n"
              "SwapFree:         750000 kB\nDirty:               123 kB\n")

    def tick(self, rates, seconds=1, running=None):
        """Advance the fake counters by `seconds` at `rates` and write them."""
        for _ in range(seconds):
            self.t += 1
            for c in range(self.ncpu):
                for f, v in enumerate(rates["cpu"](c)):
                    self.cpu[c][f] += v
            self.ctxt += rates.get("ctxt", 0)
            self.forks += rates.get("forks", 0)
            for r in self.psi:
                for k in range(2):
                    self.psi[r][k] += rates.get("psi_" + r, (0, 0))[k]
            for k in self.vm:
                self.vm[k] += rates.get(k, 0)
            for i, (rx, tx) in rates.get("net", {}).items():
                self.net[i][0] += rx
                self.net[i][1] += rx // 100
                self.net[i][8] += tx
                self.net[i][9] += tx // 100
        self.running = running if running is not None else 3 + self.t % 2
        self.write()

    def write(self):
        total = [sum(c[f] for c in self.cpu) for f in range(8)]
        lines = ["cpu  " + " ".join(map(str, total)) + " 0 0"]
        lines += ["cpu%d " % i + " ".join(map(str, c)) + " 0 0" for i, c in enumerate(self.cpu)]
        lines += ["intr 1 0 0", "ctxt %d" % self.ctxt, "btime 1700000000",
                  "processes %d" % self.forks, "procs_running %d" % self.running,
                  "procs_blocked 1", "softirq 0 0"]
        write(self.root, "proc/stat", "\n".join(lines) + "\n")
        for r, (some, full) in self.psi.items():
            write(self.root, "proc/pressure/" + r,
                  "some avg10=1.50 avg60=2.50 avg300=3.50 total=%d\n"
                  "full avg10=0.10 avg60=0.20 avg300=0.30 total=%d\n" % (some, full))
        write(self.root, "proc/vmstat", "".join("%s %d\n" % kv for kv in self.vm.items()))
        head = ("Inter-|   Receive                                                |  Transmit\n"
                " face |bytes    packets errs drop fifo frame compressed multicast|bytes    "
                "packets errs drop fifo colls carrier compressed\n")
        body = "".join("%6s: %s\n" % (i, " ".join(map(str, v))) for i, v in self.net.items())
        write(self.root, "proc/net/dev", head + body)
