"""Shared pieces of the event_lister tests that need long lists (patterns,
stall): a generated --fs-root machine with tracefs mounted and 3000
tracepoints, and a daemon loading only event_lister. Standard library
only."""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("SMCP_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")), "tests", "lib"))
import smcp_test as T  # noqa: E402

TRACEPOINTS = 3000


def words(rng, n):
    """n kernel-looking words joined by '_'."""
    parts = ["sched", "wake", "task", "rq", "irq", "timer", "clock", "mm", "page", "lock",
             "fair", "rt", "dl", "cpu", "idle", "tick", "work", "queue", "bpf", "io"]
    return "_".join(rng.choice(parts) for _ in range(n))


def make_tracefs(rng, prefix):
    """A fresh --fs-root tree whose /proc/mounts has tracefs at
    /sys/kernel/tracing, holding TRACEPOINTS made-up events drawn from rng.
    Returns (the tree, its tracing directory); the tree is removed at exit."""
    root = T.temp_dir(prefix)
    tr = os.path.join(root, "sys", "kernel", "tracing")
    os.makedirs(tr)
    os.makedirs(os.path.join(root, "proc"))
    with open(os.path.join(root, "proc", "mounts"), "w") as f:
        f.write("tracefs /sys/kernel/tracing tracefs rw,nosuid,nodev,noexec,relatime 0 0\n")
    events = set()
    while len(events) < TRACEPOINTS:
        events.add(f"{words(rng, 1)}{rng.randrange(40)}:{words(rng, rng.randrange(1, 6))}")
    with open(os.path.join(tr, "available_events"), "w") as f:
        f.write("".join(e + "\n" for e in sorted(events)))
    return root, tr


def start(fs_root, cache_ttl_s):
    """A daemon (smcp_test.Daemon) with only event_lister, its lists kept
    for cache_ttl_s, on fs_root (None: the live system)."""
    args = ["--enable", "event_lister", "--log-level", "error",
            "--config", T.write_config(f"[plugin event_lister]\ncache_ttl_s = {cache_ttl_s}\n")]
    if fs_root:
        args += ["--fs-root", fs_root]
    plugins = T.plugin_dir(nested=[os.path.join(T.BUILD, "plugins", "event_lister",
                                                "event_lister.so")])
    return T.Daemon(args, plugin_dir_=plugins)
