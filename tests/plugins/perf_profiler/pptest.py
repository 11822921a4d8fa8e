"""Helpers for the perf_profiler tests: paths, smcp_test's Checker, the workload, the
daemon with only this plugin, and skipping (exit 77) with a reason."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SMCP_SOURCE_DIR", os.path.join(HERE, "..", "..", ".."))
BUILD = os.environ.get("SMCP_BUILD_DIR", os.path.join(SRC, "build"))
BIN = os.environ.get("PP_TEST_BIN", os.path.join(BUILD, "tests", "plugins", "perf_profiler"))
SYMBENCH = os.environ.get("PP_SYMBENCH",
                          os.path.join(BUILD, "plugins", "perf_profiler", "perf-symbench"))
PLUGIN_SO = os.path.join(BUILD, "plugins", "perf_profiler", "perf_profiler.so")

sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import mcp_client  # noqa: E402
import smcp_test  # noqa: E402


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def workload(variant):
    return os.path.join(BIN, "pp-workload-" + variant)


def run(*args):
    """stdout of a program that must succeed."""
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def build_id(path):
    """The GNU build-id readelf shows for path, or None."""
    for line in run("readelf", "-n", path).splitlines():
        if "Build ID:" in line:
            return line.split("Build ID:")[1].strip()
    return None


# counted checks with meson's exit codes, named after the script
Checker = smcp_test.Checker


class Workload:
    """A running workload process; waits for its 'ready' line."""

    def __init__(self, path, seconds):
        self.proc = subprocess.Popen([path, str(seconds)], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError("workload did not start: %r" % line)
        self.pid = self.proc.pid

    def wait(self):
        out = self.proc.stdout.read()
        self.proc.wait()
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def daemon(config_text=None, extra=None):
    """A daemon (smcp_test.Daemon: strict reader, stderr in a file) loading
    only perf_profiler from the build's plugins, optionally with a config
    file of config_text."""
    args = ["--enable", "perf_profiler"] + list(extra or [])
    if config_text is not None:
        args += ["--config", smcp_test.write_config(config_text)]
    return smcp_test.Daemon(args=args, plugin_dir_=mcp_client.plugin_dir())


def tool(c, name, args=None, timeout=30, meta=None):
    """Call a tool; returns (is_error, structured-or-text)."""
    res = c.tool(name, args, timeout, meta)
    text = res["content"][0]["text"] if res.get("content") else ""
    body = res.get("structuredContent")
    if body is None:
        try:
            body = json.loads(text)
        except ValueError:
            body = text
    return bool(res.get("isError")), body


def texts(c, name, args):
    return [x.get("text", "") for x in c.tool(name, args)["content"]]


def perf_fds(pid):
    """perf_event fds a process holds."""
    n = 0
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, fd)) == "anon_inode:[perf_event]":
                n += 1
        except OSError:
            pass
    return n


def require_perf(c):
    st = c.read_json("profiling://perf/status")
    caps = st.get("capabilities", {})
    if not caps.get("perf_event_open"):
        skip("perf_event_open is unavailable here: %s" % caps.get("perf_error"))
    return st


def symbols(body):
    return {s["symbol"]: s for s in body.get("symbols", [])}


def user_leaf_shares(body, names):
    """Share of each name among the samples whose leaf is one of names."""
    syms = symbols(body)
    tot = sum(syms[n]["self"] for n in names if n in syms)
    return {n: (100.0 * syms[n]["self"] / tot if tot and n in syms else 0.0) for n in names}


wait_until = smcp_test.wait_until
