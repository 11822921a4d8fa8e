"""Helpers for the scx_stats tests: the fake stats server and a daemon with only
the plugins under test, configured to use the fake server's socket."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SMCP_SOURCE_DIR", os.path.join(HERE, "..", "..", ".."))
BUILD = os.environ.get("SMCP_BUILD_DIR", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import smcp_test  # noqa: E402

FAKE = os.path.join(HERE, "fake_scx_server.py")
_tmp = []


def plugin_so(name):
    return os.path.join(BUILD, "plugins", name, name + ".so")


def sockdir():
    d = tempfile.mkdtemp(prefix="sx-")
    _tmp.append(d)
    return d


def cleanup():
    for d in _tmp:
        shutil.rmtree(d, ignore_errors=True)


class Server:
    """The fake stats server on path; stopped on exit of the with-block."""

    def __init__(self, path, *args):
        self.path = path
        self.proc = subprocess.Popen([sys.executable, FAKE, path] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError("fake server did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def daemon(socket_path, plugins=("scx_stats",), extra_conf="", args=(), **kw):
    """A daemon with only these plugins, scx_stats pointed at socket_path."""
    conf = smcp_test.write_config(
        "[plugin scx_stats]\nsocket_path = %s\n%s" % (socket_path, extra_conf))
    d = smcp_test.plugin_dir(nested=[plugin_so(p) for p in plugins])
    return smcp_test.Daemon(args=["--config", conf] + list(args), plugin_dir_=d, **kw)


def read_json(c, uri, timeout=10):
    import json
    r = c.request("resources/read", {"uri": uri}, timeout=timeout)
    if "result" not in r:
        raise AssertionError("read %s: %r" % (uri, r))
    return json.loads(r["result"]["contents"][0]["text"])


def timed(fn):
    t0 = time.monotonic()
    v = fn()
    return v, time.monotonic() - t0
