#!/usr/bin/env python3
"""The Debian packages, end to end (issue 19): build them with
dpkg-buildpackage from a copy of the sources, run lintian, install them,
use them from the installed paths, build an out-of-tree plugin against
schedmcp-dev, purge, and check that nothing is left.

Not in `meson test` (it takes minutes): `SMCP_PACKAGE=1 scripts/test` runs it,
or run it directly as root. Needs root, unshare(1) and overlayfs; exits 77
with the reason without them.

The machine is shared, so the install happens in a throwaway root: an
overlay over this machine's / (its packages, libraries and kernel; every
write goes to a tmpfs), in a private mount namespace, with this machine's
/proc, /sys and /dev, and /run and /tmp of its own, so another engineer's
schedmcp (a source install in /usr/local, a service on
/run/schedmcp/mcp.sock, the schedmcp account scripts/deps made) is neither
seen nor touched. The overlay's upper layer is exactly what the install, the
use and the purge changed, which makes "nothing is left" a precise check.

  test_package.py [--keep DIR]    keep the build (sources, .debs, logs) in DIR
"""
import glob
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import smcp_test  # noqa: E402

SRC = os.environ.get("SMCP_SOURCE_DIR",
                     os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
ARCH = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                      text=True).stdout.strip() if shutil.which("dpkg-architecture") else ""
PLUGINDIR = f"/usr/lib/{ARCH}/schedmcp/plugins"
PLUGINS = ["bpf_inventory", "event_lister", "fleet", "perf_profiler", "sched_latency",
           "scheduler", "scx_stats", "sysstat", "topology", "trace_analysis",
           "trace_record"]
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
MARK = "schedmcp daemon (Debian package)"  # debian/schedmcp.postinst's GECOS
# What an install and purge may leave changed in the throwaway root without
# it being schedmcp's: dpkg's and the tools' own records and caches. Paths
# (prefixes) that existed before are compared by existence only.
VOLATILE = ("/var/lib/dpkg/", "/var/log/", "/var/cache/man/", "/var/cache/debconf/",
            "/var/cache/ldconfig/", "/etc/ld.so.cache", "/etc/passwd-", "/etc/group-",
            "/etc/shadow-", "/etc/gshadow-", "/etc/subuid-", "/etc/subgid-", "/root/.cache/")

# What `meson install` of a checkout puts on the machine (with its default
# prefix /usr/local, or systemd's unit directory)
SOURCE_INSTALL = ("/usr/local/bin/schedmcp", "/usr/local/lib/*/schedmcp",
                  "/usr/local/lib/*/pkgconfig/schedmcp.pc", "/usr/local/include/schedmcp",
                  "/usr/local/share/man/man*/schedmcp*", "/usr/local/share/doc/schedmcp",
                  "/usr/local/share/bash-completion/completions/schedmcp",
                  "/usr/local/lib/systemd/system/schedmcp.*", "/lib/systemd/system/schedmcp.*",
                  "/usr/lib/systemd/system/schedmcp.*", "/etc/systemd/system/schedmcp.*",
                  "/etc/systemd/system/*.wants/schedmcp.*")

T = smcp_test.Checker("package/test_package.py")


def log(msg):
    print(f"package: {msg}", flush=True)


def sh(cmd, cwd=None, timeout=900, check_rc=True, what=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check_rc:
        T.check(p.returncode == 0, f"{what or ' '.join(cmd)}: exit {p.returncode}\n"
                f"{p.stdout[-3000:]}{p.stderr[-3000:]}")
    return p


# ----------------------------------------------------------- outside: build

def build(work):
    """The packages, built from a copy of the working tree (committed or not,
    minus what git ignores), as a user would from a checkout."""
    src = os.path.join(work, "src")
    os.makedirs(src)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=SRC,
                           check=True, capture_output=True).stdout.split(b"\0")
    for f in files:
        if not f or not os.path.lexists(os.path.join(SRC.encode(), f)):
            continue
        dst = os.path.join(src.encode(), f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(SRC.encode(), f), dst, follow_symlinks=False)
    t0 = time.monotonic()
    p = sh(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, timeout=1800,
           check_rc=False)
    with open(os.path.join(work, "build.log"), "w") as f:
        f.write(p.stdout + p.stderr)
    T.check(p.returncode == 0, f"dpkg-buildpackage -us -uc -b: exit {p.returncode} "
            f"(log: {work}/build.log)\n{(p.stdout + p.stderr)[-4000:]}")
    log(f"dpkg-buildpackage: {time.monotonic() - t0:.0f} s")
    debs = {}
    for name in os.listdir(work):
        if name.endswith(".deb") and "-dbgsym_" not in name:
            debs[name.split("_")[0]] = os.path.join(work, name)
    T.eq(sorted(debs), ["schedmcp", "schedmcp-dev"], "the binary packages built")
    return debs


def lintian(work):
    changes = [n for n in os.listdir(work) if n.endswith(".changes")]
    if not T.eq(len(changes), 1, ".changes files"):
        return
    p = sh(["lintian", "--pedantic", "--info", "--display-experimental", "--no-tag-display-limit",
            changes[0]], cwd=work, check_rc=False)
    tags = [line for line in p.stdout.splitlines()
            if line[:2] in ("E:", "W:", "I:", "P:", "X:")]
    T.check(p.returncode == 0 and not tags,
            f"lintian --pedantic --info: clean (overrides in debian/*.lintian-overrides), "
            f"got exit {p.returncode}:\n" + "\n".join(tags) + p.stderr[-2000:])
    log(f"lintian: {len(tags)} tags")


# ---------------------------------------------------- inside: a throwaway root

class Root:
    """An overlay over / at self.dir, in this (private) mount namespace."""

    def __init__(self, base):
        self.tmpfs = os.path.join(base, "layers")
        self.dir = os.path.join(base, "root")
        os.makedirs(self.tmpfs)
        os.makedirs(self.dir)
        self.mount("-t", "tmpfs", "-o", "mode=0755", "smcp-pkg", self.tmpfs)
        self.upper = os.path.join(self.tmpfs, "upper")
        os.makedirs(self.upper)
        os.makedirs(os.path.join(self.tmpfs, "work"))
        self.mount("-t", "overlay", "-o", f"lowerdir=/,upperdir={self.upper},"
                   f"workdir={os.path.join(self.tmpfs, 'work')}", "smcp-pkg", self.dir)
        for d in ("proc", "sys", "dev"):
            self.mount("--rbind", "/" + d, self.path("/" + d))
        for d in ("run", "tmp"):
            self.mount("-t", "tmpfs", "-o", "mode=1777" if d == "tmp" else "mode=0755",
                       "smcp-pkg", self.path("/" + d))

    @staticmethod
    def mount(*args):
        subprocess.run(["mount", *args], check=True)

    def path(self, p):
        return os.path.join(self.dir, p.lstrip("/"))

    def run(self, cmd, input_=None, timeout=300, env=None):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "HOME": "/root",
             "DEBIAN_FRONTEND": "noninteractive"}
        e.update(env or {})
        return subprocess.run([CHROOT, self.dir, *cmd], input=input_, capture_output=True,
                              text=True, timeout=timeout, env=e)

    def ok(self, cmd, what=None, **kw):
        p = self.run(cmd, **kw)
        T.check(p.returncode == 0, f"{what or ' '.join(cmd)}: exit {p.returncode}\n"
                f"{p.stdout[-3000:]}{p.stderr[-3000:]}")
        return p

    def upper_entries(self):
        """{path: 'whiteout' | 'dir' | 'file'} of the upper layer."""
        out = {}
        for top, dirs, files in os.walk(self.upper):
            for name in dirs + files:
                full = os.path.join(top, name)
                p = "/" + os.path.relpath(full, self.upper)
                st = os.lstat(full)
                if (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0:
                    out[p] = "whiteout"
                else:
                    out[p] = "dir" if os.path.isdir(full) and not os.path.islink(full) else "file"
        return out

    def exists_in(self, snapshot, p):
        """Whether p existed in the root when snapshot (upper_entries()) was taken."""
        kind = snapshot.get(p)
        if kind == "whiteout":
            return False
        if kind:
            return True
        parent = os.path.dirname(p)
        while parent != "/":
            if snapshot.get(parent) == "whiteout":
                return False
            parent = os.path.dirname(parent)
        return os.path.lexists(p)  # the lower layer: this machine's /


def getent(root, db):
    p = root.run(["getent", db, "schedmcp"])
    return p.stdout.strip() if p.returncode == 0 else None


def plugin_states(list_plugins_json):
    """{plugin: state} from `schedmcp --list-plugins --json`, the core left
    out; {} when the output is not that document."""
    try:
        return {x["name"]: x["state"] for x in json.loads(list_plugins_json)["plugins"]
                if x["name"] != "core"}
    except (ValueError, KeyError, TypeError):
        return {}


def pinned_bpf():
    out = set()
    for top, dirs, files in os.walk("/sys/fs/bpf"):
        out.update(os.path.join(top, n) for n in dirs + files)
    return out


def mcp_session(root):
    """initialize, tools/list and two resource reads with `schedmcp` and no
    flags, as an MCP client runs it; returns {id: response}."""
    reqs = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "test_package", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "resources/read",
         "params": {"uri": "schedmcp://plugins"}},
        {"jsonrpc": "2.0", "id": 4, "method": "resources/list"},
    ]
    proc = subprocess.Popen([CHROOT, root.dir, "/usr/bin/schedmcp"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
    got = {}
    try:
        for r in reqs:
            proc.stdin.write((json.dumps(r) + "\n").encode())
        proc.stdin.flush()
        deadline = time.monotonic() + 30
        buf = b""
        while len(got) < 4 and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            chunk = os.read(proc.stdout.fileno(), 1 << 20) if ready else b""
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                m = json.loads(line)
                if "id" in m:
                    got[m["id"]] = m
        proc.stdin.close()
        rc = proc.wait(timeout=20)
        T.eq(rc, 0, "schedmcp exits cleanly at the end of its input")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    T.eq(sorted(got), [1, 2, 3, 4], f"answers to the session's requests; stderr:\n{err[-3000:]}")
    return got


def inside(debs_dir, debs):
    root = Root(os.path.join(debs_dir, "ns"))
    before_bpf = pinned_bpf()

    # A fresh machine: no schedmcp account, state or config (in the overlay
    # only; this machine's own stay as they are)
    if getent(root, "passwd"):
        root.ok(["userdel", "schedmcp"], "remove the inherited account (overlay only)")
    if getent(root, "group"):
        root.ok(["groupdel", "schedmcp"], "remove the inherited group (overlay only)")
    for d in ("/var/lib/schedmcp", "/etc/schedmcp"):
        shutil.rmtree(root.path(d), ignore_errors=True)
    # and no source install (meson install): /usr/local comes first in
    # pkg-config's and the shell's search paths, and its units would be
    # overwritten by the package's and then purged with them
    hidden = []
    for pattern in SOURCE_INSTALL:
        for p in glob.glob(root.path(pattern)):
            if root.run(["dpkg", "-S", "/" + os.path.relpath(p, root.dir)]).returncode != 0:
                hidden.append("/" + os.path.relpath(p, root.dir))
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
    if hidden:
        log(f"a source install, hidden in the throwaway root: {' '.join(hidden)}")
    baseline = root.upper_entries()

    os.makedirs(root.path("/mnt/smcp-debs"), exist_ok=True)
    Root.mount("--bind", debs_dir, root.path("/mnt/smcp-debs"))
    inside_debs = ["/mnt/smcp-debs/" + os.path.basename(debs[n])
                   for n in ("schedmcp", "schedmcp-dev")]

    # install
    t0 = time.monotonic()
    if not root.ok(["dpkg", "-i", *inside_debs], "dpkg -i schedmcp schedmcp-dev").returncode == 0:
        return
    log(f"dpkg -i: {time.monotonic() - t0:.1f} s")
    listed = root.run(["dpkg", "-L", "schedmcp", "schedmcp-dev"]).stdout.split()
    for f in ["/usr/bin/schedmcp", "/etc/schedmcp/schedmcp.conf",
              "/lib/systemd/system/schedmcp.service", "/lib/systemd/system/schedmcp.socket",
              "/usr/share/man/man1/schedmcp.1.gz", "/usr/share/man/man5/schedmcp.conf.5.gz",
              "/usr/share/man/man7/schedmcp-plugin.7.gz",
              "/usr/share/bash-completion/completions/schedmcp",
              "/usr/include/schedmcp/plugin.h", f"/usr/lib/{ARCH}/pkgconfig/schedmcp.pc",
              "/usr/share/doc/schedmcp/service.md", "/usr/share/doc/schedmcp/http.md"] + \
            [f"{PLUGINDIR}/{p}.so" for p in PLUGINS]:
        T.check(f in listed and os.path.exists(root.path(f)), f"installed: {f}")
    conffiles = root.run(["dpkg-query", "-W", "-f=${Conffiles}", "schedmcp"]).stdout
    T.check("/etc/schedmcp/schedmcp.conf" in conffiles, f"a conffile: {conffiles!r}")
    with open(root.path("/etc/schedmcp/schedmcp.conf")) as f:
        conf = f.read()
    T.check(f"# plugin_dir = {PLUGINDIR}\n" in conf and "/usr/local" not in conf,
            "the conffile names the package's plugin directory")

    # the account and group, as postinst made them
    pw = getent(root, "passwd")
    T.check(pw and pw.split(":")[4].startswith(MARK) and pw.split(":")[6] == "/usr/sbin/nologin"
            and int(pw.split(":")[2]) < 1000, f"postinst made the system account: {pw}")
    T.check(getent(root, "group"), "postinst made the schedmcp group")

    # installing the same version again runs the upgrade paths of the
    # maintainer scripts (prerm upgrade, postinst configure VERSION)
    root.ok(["dpkg", "-i", *inside_debs], "dpkg -i again (upgrade paths)")
    T.eq(getent(root, "passwd"), pw, "an upgrade keeps the account as it is")

    # the units: the socket enabled, the service installed but not enabled
    # (debian/rules says why); nothing started, as PID 1 is not systemd here
    dsh = {"DPKG_MAINTSCRIPT_PACKAGE": "schedmcp"}  # or it refuses to answer
    T.eq(root.run(["deb-systemd-helper", "is-enabled", "schedmcp.socket"], env=dsh).returncode,
         0, "schedmcp.socket enabled")
    T.check(root.run(["deb-systemd-helper", "is-enabled", "schedmcp.service"],
                     env=dsh).returncode == 1, "schedmcp.service not enabled at boot")
    T.check(os.path.islink(root.path("/etc/systemd/system/sockets.target.wants/schedmcp.socket")),
            "sockets.target wants schedmcp.socket")

    # manual pages render without a warning; the completion completes
    for page in ("schedmcp.1", "schedmcp.conf.5", "schedmcp-plugin.7"):
        sect = page.rsplit(".", 1)[1]
        p = root.run(["man", "--warnings", "-E", "UTF-8", "-l",
                      f"/usr/share/man/man{sect}/{page}.gz"], env={"MANWIDTH": "80"})
        T.check(p.returncode == 0 and not p.stderr.strip() and "NAME" in p.stdout,
                f"man {page}: exit {p.returncode}, {p.stderr[:500]}")
    if os.path.exists(root.path("/usr/share/bash-completion/bash_completion")):
        script = ("source /usr/share/bash-completion/bash_completion; "
                  "source /usr/share/bash-completion/completions/schedmcp; "
                  "COMP_WORDS=(schedmcp --plugin-d); COMP_CWORD=1; COMP_LINE='schedmcp --plugin-d';"
                  " COMP_POINT=${#COMP_LINE}; _schedmcp; echo \"${COMPREPLY[*]}\"; "
                  "COMP_WORDS=(schedmcp --enable sched); COMP_CWORD=2; "
                  "COMP_LINE='schedmcp --enable sched'; COMP_POINT=${#COMP_LINE}; _schedmcp; "
                  "echo \"${COMPREPLY[*]}\"; COMP_WORDS=(schedmcp re); COMP_CWORD=1; "
                  "COMP_LINE='schedmcp re'; COMP_POINT=${#COMP_LINE}; _schedmcp; "
                  "echo \"${COMPREPLY[*]}\"")
        p = root.run(["bash", "-c", script])
        T.eq(p.stdout.splitlines(), ["--plugin-dir", "sched_latency scheduler", "report"],
             f"bash completes an option, the installed plugins and a command ({p.stderr[:300]})")

    # schedmcp report from the installed paths: the plugins found with no flags
    p = root.ok(["/usr/bin/schedmcp", "--list-plugins", "--json"], "schedmcp --list-plugins")
    states = plugin_states(p.stdout)
    T.eq(sorted(states), PLUGINS, "the stock plugins, found with no flags")
    T.check(all(s in ("loaded", "degraded") for s in states.values()),
            f"every plugin loaded or degraded: {states}")
    p = root.ok(["/usr/bin/schedmcp", "report", "--interval", "0.5"], "schedmcp report")
    for section in ("(topology://info)", "(stats://aggregated/cpu)", "(scheduler://current)",
                    "(bpf://programs)", "(schedmcp://plugins)"):
        T.check(f" {section} ==" in p.stdout, f"schedmcp report has {section}")
    p = root.ok(["/usr/bin/schedmcp", "--check-config"], "schedmcp --check-config")
    T.check(p.stdout.startswith("/etc/schedmcp/schedmcp.conf: OK") and PLUGINDIR in p.stdout,
            f"the conffile read, the packaged plugin directory searched: {p.stdout}")

    # an MCP session, as an MCP client runs schedmcp
    got = mcp_session(root)
    tools = got.get(2, {}).get("result", {}).get("tools", [])
    T.check(len(tools) >= 10, f"tools/list: {len(tools)} tools")
    contents = got.get(3, {}).get("result", {}).get("contents", [{}])
    try:
        doc = json.loads(contents[0].get("text", ""))
        names = sorted(x["name"] for x in doc["plugins"] if x["name"] != "core")
    except (ValueError, KeyError, TypeError, IndexError):
        names = None
    T.eq(names, PLUGINS, "schedmcp://plugins read in the session")
    T.check(got.get(4, {}).get("result", {}).get("resources"), "resources/list")

    # an out-of-tree plugin against schedmcp-dev, with pkg-config
    p = root.ok(["pkg-config", "--variable=plugindir", "schedmcp"], "pkg-config schedmcp")
    T.eq(p.stdout.strip(), PLUGINDIR, "schedmcp.pc names the package's plugin directory")
    ex = "/usr/share/doc/schedmcp-dev/examples/plugin-hello"
    root.ok(["cp", "-r", ex, "/tmp/hello"], "copy the example")
    if root.ok(["sh", "-c", "cd /tmp/hello && meson setup build >/dev/null && ninja -C build"],
               "build examples/plugin-hello against schedmcp-dev").returncode == 0:
        p = root.ok(["/usr/bin/schedmcp", "--plugin-dir", "/tmp/hello/build", "--enable", "hello",
                     "--list-plugins", "--json"], "load the out-of-tree plugin")
        T.eq(plugin_states(p.stdout).get("hello"), "loaded", "the out-of-tree plugin loads")
    root.run(["rm", "-rf", "/tmp/hello"])

    # purge
    t0 = time.monotonic()
    root.ok(["dpkg", "--purge", "schedmcp-dev", "schedmcp"], "dpkg --purge")
    log(f"dpkg --purge: {time.monotonic() - t0:.1f} s")
    T.eq(getent(root, "passwd"), None, "the account is gone")
    T.eq(getent(root, "group"), None, "the group is gone")
    for f in listed:
        if not root.exists_in(baseline, f):
            T.check(not os.path.lexists(root.path(f)), f"purged: {f}")
    after = root.upper_entries()
    changed = []
    for p in sorted(set(after) | set(baseline)):
        if p.startswith(VOLATILE) or p.startswith("/mnt/smcp-debs"):
            continue
        was, now = root.exists_in(baseline, p), os.path.lexists(root.path(p))
        if was != now:
            changed.append(("left: " if now else "removed: ") + p)
    log(f"{len(set(after) | set(baseline))} paths the install, the use and the purge wrote to "
        f"compared with before")
    T.eq(changed, [], "the root as it was before the install (but dpkg's records and logs)")
    new_bpf = sorted(pinned_bpf() - before_bpf)
    T.eq([p for p in new_bpf if "smcp" in p or "schedmcp" in p], [],
         "no BPF object of ours left pinned in /sys/fs/bpf")

    # an account that was there before (scripts/deps for a source install)
    # is used, and kept on purge
    root.ok(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
             "/nonexistent", "--shell", "/usr/sbin/nologin", "schedmcp"], "useradd schedmcp")
    pw, gr = getent(root, "passwd"), getent(root, "group")
    root.ok(["dpkg", "-i", inside_debs[0]], "dpkg -i over an existing account")
    T.eq(getent(root, "passwd"), pw, "the existing account is used as it is")
    root.ok(["dpkg", "--purge", "schedmcp"], "dpkg --purge")
    T.eq((getent(root, "passwd"), getent(root, "group")), (pw, gr),
         "an account the package did not create stays after purge")


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (dpkg -i into an overlay root)")
        sys.exit(smcp_test.SKIP)
    for tool in ("dpkg-buildpackage", "dh", "lintian", "unshare", "chroot", "git"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} missing (scripts/deps test installs it)")
            sys.exit(smcp_test.SKIP)
    if "--inside" in sys.argv:
        i = sys.argv.index("--inside")
        inside(sys.argv[i + 1], json.loads(sys.argv[i + 2]))
        sys.exit(T.done())
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    work = keep or tempfile.mkdtemp(prefix="smcp-pkg-")
    os.makedirs(work, exist_ok=True)
    t0 = time.monotonic()
    try:
        debs = build(work)
        if T.failed:
            sys.exit(T.done())
        lintian(work)
        # the rest in a private mount namespace: its mounts vanish with it
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                            os.path.abspath(__file__), "--inside", work, json.dumps(debs)],
                           timeout=1800)
        if p.returncode not in (0, smcp_test.SKIP):
            T.failed += 1
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    log(f"{time.monotonic() - t0:.0f} s in all")
    sys.exit(T.done())


if __name__ == "__main__":
    main()
