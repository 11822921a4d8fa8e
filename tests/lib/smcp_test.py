"""Shared pieces of schedmcp's Python tests (ABI and integration suites).

- Checker: named test cases, counted assertions, "N passed, N failed",
  exit code 0 / 1 / 77 (skip) for meson's exitcode protocol.
- Daemon: mcp_client.Client with stderr kept in a file (a full stderr pipe
  would block the daemon) and every received line checked: strict UTF-8,
  no NaN/Infinity, one JSON-RPC 2.0 object.
- plugin_dir(): a private, root-owned 0755 directory of plugin copies, as the
  loader insists on.
Standard library only.
"""
import atexit
import json
import os
import shutil
import socket
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mcp_client  # noqa: E402

SKIP = 77
BUILD = mcp_client.BUILD
# scripts/test-sanitizers sets SMCP_SANITIZED=1: ASan adds shadow memory and
# redzones and keeps freed blocks in a (16 MiB) quarantine, so a memory
# bound gets room for that (rss_limit_kb); time limits are the meson
# time-out multiplier's business.
SANITIZED = os.environ.get("SMCP_SANITIZED") == "1"
# The core's default max_result_bytes: no answer a plugin gives may be longer.
MAX_RESULT_BYTES = 98304


def rss_limit_kb(kb):
    """A bound on RSS growth of kb KiB, widened in sanitizer builds."""
    return kb * 2 + 32 * 1024 if SANITIZED else kb


def daemon_path():
    return mcp_client.daemon_path()


# --------------------------------------------------------------- checking

class Skip(Exception):
    """Raise inside a case to skip it (the program exits 77 if nothing ran)."""


class Checker:
    def __init__(self, name=None):
        # by default the script's folder and file: sched_latency/test_live.py
        self.name = name or "/".join(os.path.abspath(sys.argv[0]).split(os.sep)[-2:])
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.cases = []
        self.current = "-"

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def check(self, cond, msg=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            here = os.path.abspath(__file__)
            frames = [f for f in traceback.extract_stack()[:-1]
                      if os.path.abspath(f.filename) != here]
            where = f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else "?"
            print(f"FAIL [{self.current}] {where}: {msg}", file=sys.stderr, flush=True)
        return bool(cond)

    def eq(self, got, want, msg=""):
        return self.check(got == want, f"{msg}: got {got!r}, expected {want!r}")

    def run(self, only=None):
        for fn in self.cases:
            if only and fn.__name__ not in only:
                continue
            self.current = fn.__name__
            t0 = time.monotonic()
            try:
                fn()
                status = "ok"
            except Skip as e:
                self.skipped += 1
                status = f"skipped ({e})"
            except Exception:  # a crash in a case is a failure of that case
                self.failed += 1
                status = "ERROR"
                print(f"ERROR [{fn.__name__}]\n{traceback.format_exc()}", file=sys.stderr,
                      flush=True)
            print(f"  {fn.__name__}: {status} ({time.monotonic() - t0:.2f}s)", flush=True)
        return self.done()

    def done(self):
        """Print the count line and return the exit code; what run() ends
        with, and what a script that calls check() without cases ends with."""
        print(f"{self.name}: {self.passed} passed, {self.failed} failed"
              + (f", {self.skipped} cases skipped" if self.skipped else ""), flush=True)
        if self.failed:
            return 1
        if self.skipped and not self.passed:
            return SKIP
        return 0

    def small(self, resp, what):
        """resp, a whole answer, stays under the core's max_result_bytes."""
        self.check(len(json.dumps(resp)) < MAX_RESULT_BYTES, f"{what} under the size limit")
        return resp

    def entry_only(self, so):
        """so exports the plugin ABI's entry point and nothing else (not
        checked where binutils' nm is missing)."""
        syms = exported_symbols(so)
        if syms is not None:
            self.check(syms == ["schedmcp_plugin_entry"], f"only the entry is exported: {syms}")

    def main(self):
        only = [a for a in sys.argv[1:] if a.startswith("test_")]
        sys.exit(self.run(only or None))


# --------------------------------------------------------------- valgrind

# the exit status valgrind is told to give (--error-exitcode) when it found
# errors: no program under test exits with it
VG_ERROR = 99


def valgrind_or_skip():
    """valgrind's path; exits 77 with the reason where valgrind is missing
    or cannot run this build (SMCP_VALGRIND=0: a sanitizer build)."""
    path = shutil.which("valgrind")
    if not path:
        print("valgrind not found")
        sys.exit(SKIP)
    if os.environ.get("SMCP_VALGRIND") == "0":
        print("SMCP_VALGRIND=0: a sanitizer build, which valgrind cannot run")
        sys.exit(SKIP)
    return path


# ---------------------------------------------------------------- plugins

def exported_symbols(so):
    """The names so's dynamic symbol table defines (nm -D), or None where
    nm is missing."""
    nm = shutil.which("nm")
    if not nm:
        return None
    out = subprocess.run([nm, "-D", "--defined-only", so], capture_output=True, text=True).stdout
    return [ln.split()[-1] for ln in out.splitlines() if ln.strip()]


_made = []


def _on_sigterm(signum, frame):
    # meson's time-out sends SIGTERM: leave through SystemExit so that the
    # daemons are stopped (with-blocks) and temp files removed (atexit)
    sys.exit(1)


signal.signal(signal.SIGTERM, _on_sigterm)


@atexit.register
def _cleanup():
    for d in _made:
        shutil.rmtree(d, ignore_errors=True)


def temp_dir(prefix="smcp-"):
    """A fresh private directory, removed at exit."""
    d = tempfile.mkdtemp(prefix=prefix)
    _made.append(d)
    return d


def plugin_dir(files=(), nested=(), mode=0o755):
    """A fresh directory holding copies of the given .so files (DIR/x.so),
    and of `nested` ones in the build-tree layout (DIR/x/x.so). Removed at
    exit."""
    d = temp_dir("smcp-plugins-")
    os.chmod(d, mode)
    for f in files:
        dst = os.path.join(d, os.path.basename(f))
        shutil.copyfile(f, dst)
        os.chmod(dst, 0o755)
    for f in nested:
        name = os.path.basename(f)[:-3]
        os.mkdir(os.path.join(d, name), 0o755)
        dst = os.path.join(d, name, name + ".so")
        shutil.copyfile(f, dst)
        os.chmod(dst, 0o755)
    return d


def empty_dir():
    return plugin_dir()


def fixture(name, folder="integration"):
    """A test plugin meson passed on the command line (or built in the
    usual place, BUILD/tests/folder)."""
    for a in sys.argv[1:]:
        if os.path.basename(a) == name + ".so":
            return a
    return os.path.join(BUILD, "tests", folder, name + ".so")


_fixture_dirs = {}


def fixture_dir(name, folder="integration"):
    """A plugin directory holding only the test plugin fixture(name, folder),
    made once; raises Skip when that plugin was not built."""
    so = fixture(name, folder)
    if so not in _fixture_dirs:
        if not os.path.isfile(so):
            raise Skip(f"no {name} plugin at {so}")
        _fixture_dirs[so] = plugin_dir([so])
    return _fixture_dirs[so]


_itest = None


def itest_dir():
    """A plugin directory holding only the itest plugin."""
    global _itest
    if _itest is None:
        _itest = plugin_dir([fixture("itest")])
    return _itest


def build_plugins(*names):
    """The build's plugin directory (BUILD/plugins/NAME/NAME.so), for tests
    of the stock plugins; raises Skip when one of names was not built."""
    d = os.path.join(BUILD, "plugins")
    for name in names:
        if not os.path.isfile(os.path.join(d, name, name + ".so")):
            raise Skip(f"the {name} plugin is not built")
    return d


def remove_dir(d):
    shutil.rmtree(d, ignore_errors=True)


def run_cli(args, plugin_dir_=None, timeout=20, input_=None):
    cmd = [daemon_path()]
    if plugin_dir_ is not None:
        # that directory's plugins only, as mcp_client.Client does
        cmd += ["--plugin-dir", plugin_dir_, "--no-default-plugins"]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          input=input_ if input_ is not None else "",
                          errors="replace")


def write_config(text):
    """A config file with this text; removed at exit."""
    fd, path = tempfile.mkstemp(prefix="smcp-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    _files.append(path)
    return path


_files = []


@atexit.register
def _cleanup_files():
    for f in _files:
        try:
            os.unlink(f)
        except OSError:
            pass


# ---------------------------------------------------------------- daemon

class ProtocolViolation(AssertionError):
    pass


def strict_loads(line: bytes):
    """Parse one line the way a strict client would."""
    try:
        text = line.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise ProtocolViolation(f"server sent invalid UTF-8: {e}: {line[:200]!r}")
    # Python's decoder accepts encoded surrogates only with surrogatepass;
    # strict decoding above already refuses them.

    def bad_constant(name):
        raise ProtocolViolation(f"server sent {name}: {line[:200]!r}")
    try:
        msg = json.loads(text, parse_constant=bad_constant)
    except ValueError as e:
        raise ProtocolViolation(f"server sent a line that is not JSON ({e}): {line[:200]!r}")
    if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
        raise ProtocolViolation(f"server sent a non-JSON-RPC-2.0 message: {line[:200]!r}")
    return msg


class Daemon(mcp_client.Client):
    """The real daemon over pipes, with a strict reader and stderr in a file."""

    def __init__(self, args=None, plugin_dir_=None, initialize=True, protocol="2025-11-25",
                 capabilities=None, env=None):
        self.stderr_file = tempfile.TemporaryFile()
        self.raw_lines = 0
        self.last_raw = b""
        super().__init__(args=args, env=env, plugin_dir_=plugin_dir_ or empty_dir_cached(),
                         stderr=self.stderr_file, initialize=initialize, protocol=protocol,
                         capabilities=capabilities)
        if initialize and (self.init_result is None or "result" not in self.init_result):
            raise AssertionError(f"initialize failed: {self.init_result}")

    @property
    def pid(self):
        return self.proc.pid

    def parse(self, line: bytes):
        self.raw_lines += 1
        self.last_raw = line
        return strict_loads(line)

    def wait_for(self, pred, timeout=5.0):
        """Read until a message satisfies pred; return it, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            m = self.recv(left)
            if m is None:
                return None
            if pred(m):
                return m

    def stderr_text(self):
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", errors="replace")

    def rss_kb(self):
        return rss_kb(self.proc.pid)

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=5.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stop_service()

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            try:
                self.close(timeout=5)
            except Exception:
                self.kill()
        self.stop_service()
        self.stderr_file.close()


# What a sanitizer build writes on stderr when it finds something: ASan,
# LSan, and UBSan's "runtime error".
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error")


class CheckedDaemon(Daemon):
    """A Daemon that, on leaving its with-block, lets the daemon exit (within
    close_timeout seconds, else kills it) and then checks with checker (a
    Checker) that its stderr holds no sanitizer report."""

    def __init__(self, checker, *args, close_timeout=5, **kw):
        self.checker = checker
        self.close_timeout = close_timeout
        super().__init__(*args, **kw)

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            try:
                self.close(timeout=self.close_timeout)
            except Exception:
                self.kill()
        text = self.stderr_text()
        self.checker.check(not any(m in text for m in SANITIZER_MARKS),
                           f"sanitizer report:\n{text[-3000:]}")
        return super().__exit__(*exc)


_empty = None


def empty_dir_cached():
    global _empty
    if _empty is None or not os.path.isdir(_empty):
        _empty = plugin_dir()
    return _empty


def proc_status(pid):
    """/proc/PID/status as {field: its text} ("VmRSS": "1234 kB", ...)."""
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}


def status_kb(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM, RssAnon...), 0 where
    the process has none (a kernel thread, a zombie)."""
    v = proc_status(pid).get(field)
    return int(v.split()[0]) if v else 0


def rss_kb(pid):
    return status_kb(pid, "VmRSS")


def free_port():
    """A loopback TCP port nobody listens on now (for a server to bind)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, sig=signal.SIGTERM, timeout=20):
    """Send sig to proc if it still runs and wait timeout seconds for it to
    exit, then kill it; its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def kill_all(procs):
    """SIGKILL each process of procs that still runs, and reap them all."""
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def file_text(f):
    """All that was written so far to f, a file open for writing (a child's
    stderr)."""
    f.flush()
    with open(f.name) as g:
        return g.read()


def wait_log(proc, log, text, timeout=30):
    """Wait until log() shows text (a service saying it serves); RuntimeError
    with the log when proc exits first or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while text not in log():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the service did not start: " + log())
        time.sleep(0.05)


class ServiceDir:
    """Base of a test's `schedmcp serve` wrapper: a private 0755 directory
    (self.dir) for its socket, state and token files, its stderr in a file
    there (self.err, read with log()). The subclass starts self.proc;
    close() (or leaving a with-block) stops it and removes the directory."""

    def __init__(self, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.dir, 0o755)
        self.err = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = None

    def log(self):
        return file_text(self.err)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stop the service with sig (SIGKILL after timeout s); its exit status."""
        return stop_process(self.proc, sig, timeout)

    def close(self):
        if self.proc:
            self.stop()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def hwm_kb(pid):
    """The peak resident size so far."""
    return status_kb(pid, "VmHWM")


def wait_until(pred, timeout=5.0, step=0.05):
    """Poll pred until it holds or timeout seconds pass; its last answer."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def is_error(resp, code=None):
    if not isinstance(resp, dict) or "error" not in resp:
        return False
    return code is None or resp["error"].get("code") == code


def result(resp):
    if not isinstance(resp, dict) or "result" not in resp:
        raise AssertionError(f"expected a result, got {resp!r}")
    return resp["result"]


def is_root():
    return os.geteuid() == 0


# ------------------------------------------------------------------- BPF

def bpftool_programs():
    """Every BPF program loaded on the machine, as bpftool lists it ({id:
    its JSON row}), or None where bpftool is missing or fails."""
    bpftool = shutil.which("bpftool") or ("/usr/sbin/bpftool"
                                          if os.path.exists("/usr/sbin/bpftool") else None)
    if not bpftool:
        return None
    out = subprocess.run([bpftool, "-j", "prog", "show"], capture_output=True, text=True)
    if out.returncode:
        return None
    try:
        return {p["id"]: p for p in json.loads(out.stdout)}
    except (ValueError, KeyError, TypeError):
        return None


def fdinfo_ids(pid, key, only_if=None):
    """The values of `key:` lines (prog_id, map_id) in process pid's
    /proc/PID/fdinfo, of the fds whose fdinfo has only_if when given:
    bpftool cannot tell which process holds what."""
    ids = set()
    d = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                text = f.read()
        except OSError:
            continue
        if only_if and only_if not in text:
            continue
        for line in text.splitlines():
            if line.startswith(key + ":"):
                ids.add(int(line.split()[1]))
    return ids


def bpf_prog_ids(pid, attached_only=False):
    """The ids of the BPF programs process pid holds an fd of, a program's
    or a link's; with attached_only, only those behind its link fds, that
    is attached now. Ids are never reused."""
    return fdinfo_ids(pid, "prog_id", "link_type:" if attached_only else None)
