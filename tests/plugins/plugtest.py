"""Helpers for the topology/sysstat/scheduler plugin tests.

Mock: drives tests/plugins/mockhost (one plugin, fake clock, fixture root).
Paths come from the environment meson sets (see meson.build); run by hand:
  SMCP_BUILD_DIR=build python3 tests/plugins/test_x.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SMCP_SOURCE_DIR", os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("SMCP_BUILD_DIR", os.path.join(SRC, "build"))
MOCKHOST = os.environ.get("SMCP_MOCKHOST", os.path.join(BUILD, "tests", "plugins", "mockhost"))
FIXTURES = os.environ.get("SMCP_FIXTURES", os.path.join(SRC, "tests", "fixtures"))
GEN_FIXTURES = os.environ.get("SMCP_GEN_FIXTURES",
                              os.path.join(BUILD, "tests", "plugins", "fixtures"))

sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "fixtures"))
import smcp_test  # noqa: E402


def plugin_so(name):
    return os.path.join(BUILD, "plugins", name, name + ".so")


def fixture(name):
    """Path of a fixture tree: committed (vm-2cpu) or generated at build time."""
    committed = os.path.join(FIXTURES, name)
    if os.path.isdir(committed):
        return committed
    gen = os.path.join(GEN_FIXTURES, name)
    if not os.path.isdir(gen):
        import gen_fixtures
        gen_fixtures.generate(GEN_FIXTURES, [name])
    return gen


def copy_fixture(name):
    """A private, writable copy of a fixture tree (caller removes it)."""
    dst = tempfile.mkdtemp(prefix="smcp-fx-")
    shutil.copytree(fixture(name), os.path.join(dst, "root"), symlinks=True)
    return os.path.join(dst, "root")


def write(root, path, text):
    """Replace a fixture file atomically, as the kernel's files change whole."""
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    tmp = full + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, full)


class Mock:
    """One plugin in the mock host. Every command returns its JSON answer;
    notifications and events the plugin produced meanwhile are collected in
    self.notified and self.events."""

    def __init__(self, plugin, root, valgrind=False):
        cmd = [MOCKHOST, plugin_so(plugin), root]
        # SMCP_VALGRIND=0: sanitizer builds, which cannot run under valgrind
        if valgrind and shutil.which("valgrind") and os.environ.get("SMCP_VALGRIND") != "0":
            cmd = ["valgrind", "-q", "--leak-check=full", "--error-exitcode=99"] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.notified, self.events = [], []
        hello = self._line()
        assert hello.get("init") == 0, "plugin init failed: %r" % hello

    def _line(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read()
                raise RuntimeError("mockhost exited: " + err)
            msg = json.loads(line)
            if "notify" in msg:
                self.notified.append(msg["notify"])
            elif "event" in msg:
                self.events.append(msg)
            else:
                return msg

    def cmd(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self._line()

    def read(self, uri):
        r = self.cmd("read " + uri)
        assert r["rc"] == 0 and not r["isError"], "read %s: %r" % (uri, r)
        assert "writer_error" not in r, r
        return r["json"]

    def call(self, tool, args=None):
        r = self.cmd("call %s %s" % (tool, json.dumps(args or {})))
        assert "writer_error" not in r, r
        return r

    def call_json(self, tool, args=None):
        r = self.call(tool, args)
        assert r["rc"] == 0 and not r["isError"], "call %s: %r" % (tool, r)
        return r["json"]

    def advance(self, ms):
        return self.cmd("advance %d" % ms)

    def steps(self, args=None):
        """The plugin's prompt steps, renders called with args: {topic: [step]}
        where a step has its order, text (static or rendered), rc (renders)."""
        out = {}
        for st in self.cmd("steps %s" % json.dumps(args or {}))["steps"]:
            out.setdefault(st["topic"], []).append(st)
        return out

    def step_text(self, topic, args=None):
        """The texts its steps of topic show for args, in order ("" when none)."""
        shown = sorted((s for s in self.steps(args).get(topic, [])
                        if "text" in s and s.get("rc", 1) > 0), key=lambda s: s["order"])
        return " ".join(s["text"] for s in shown)

    def complete(self, arg, prefix=""):
        return self.cmd("complete %s %s" % (arg, prefix))

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=60)
        err = self.proc.stderr.read()
        assert rc == 0, "mockhost exit %d: %s" % (rc, err)
        return err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            if exc[0] is None:
                self.close()
            else:
                self.proc.kill()
                self.proc.wait()


def cpulist(text):
    """Kernel cpulist text to a sorted list of ints."""
    out = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


# counted checks with meson's exit codes, named after the script
Checker = smcp_test.Checker
