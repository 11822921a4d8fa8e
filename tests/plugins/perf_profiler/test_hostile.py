#!/usr/bin/env python3
"""Files a hostile local user controls, read by the root profiler (issue 20).
The daemon runs as root; an unprivileged user controls the files its
processes map. Each case failed on the code before the fix:

  test_truncated_library      nobody's process spins in its own library,
      profiled; 1.5 s in, nobody truncates the library to 0 bytes. The
      daemon used to map the files it reads and died of SIGBUS at its next
      read (3 of 3 tries); it reads with pread now: it keeps serving, the
      results answer and say the file shrank.
  test_planted_symlinks       nobody's process dlopens u/lib.so once the
      profile runs (so the kernel's record names that path), renames it away
      and puts a symlink in its place to a root-only file (think
      /etc/shadow), a FIFO and a character device. The daemon must read the
      mapped file itself (/proc/PID/map_files): the library's frames resolve
      and inotify sees no target opened. It used to follow the symlink and
      open the target.
  test_planted_symlinks_by_path  the same with map_files out of reach (the
      daemon without CAP_CHECKPOINT_RESTORE and CAP_SYS_ADMIN, as on kernels
      before 5.9): the path is all there is, and a symlink in it is refused,
      said in the answer, and no target is opened.
  test_compressed_debug_bomb  a library whose compressed .debug_frame (or
      legacy .zdebug_frame) claims 512 MiB and truly inflates to it from
      ~0.5 MB: symbolising it used to take the reader past 512 MiB and ~2 s;
      now the claim is refused before inflating (the bound is 32 MiB), the
      symbols still resolve and the reader's peak RSS stays small. Runs the
      reader directly (pp-symtool), so it needs no root.
  test_compressed_string_table_bomb  the same bomb as a compressed .strtab
      (symbol names) or .shstrtab (section names): libelf's elf_strptr
      inflates a string table on first use, to whatever size its header
      claims (up to 1032 times the section), so the bounds on the tables'
      sizes in the file did not hold. It took the reader to 526 MB and 1.4
      to 3 s (every libelf handle on the file inflated .shstrtab again); now
      a table claiming more than its bound (1 MiB section names, 128 MiB
      symbol names) is refused before libelf inflates it.
  test_many_note_sections  a library whose section table names the same
      32 KiB as 8000 SHT_NOTE sections: libdw's build-id lookup reads every
      note section whole and libelf keeps each until the handle ends, so a
      bound per note was not enough (256 MiB held); the notes are bounded
      together (64 KiB), past which the file has no build-id for us. Guards
      the libdw reader of issue 17 (the code before read only PT_NOTE and
      .note.gnu.build-id).

The daemon cases need root, setpriv and perf_event_open (77 otherwise).
"""
import ctypes
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
import smcp_test  # noqa: E402
from smcp_test import BUILD, Checker, Daemon, Skip, is_root, result  # noqa: E402

T = Checker("perf_profiler/hostile")
BIN = os.environ.get("PP_TEST_BIN", os.path.join(BUILD, "tests", "plugins", "perf_profiler"))
PLUGINS = os.path.join(BUILD, "plugins")
SPINHOST = os.path.join(BIN, "pp-spinhost")
SPINLIB = os.path.join(BIN, "pp-spinlib.so")
SYMTOOL = os.path.join(BIN, "pp-symtool")
NOBODY = 65534
SETPRIV = shutil.which("setpriv")
_wrappers = []


# ------------------------------------------------------------ ELF patching

def elf_sections(path):
    """{name: (shdr file offset, sh_offset, sh_size, sh_flags)} of an ELF64 file."""
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    hdrs = []
    for i in range(shnum):
        at = shoff + i * shentsize
        name, _typ, flags, _addr, off, size = struct.unpack_from("<IIQQQQ", data, at)
        hdrs.append((at, name, flags, off, size))
    stroff = hdrs[shstrndx][3]
    out = {}
    for at, name, flags, off, size in hdrs:
        end = data.index(b"\0", stroff + name)
        out[data[stroff + name:end].decode()] = (at, off, size, flags)
    return out


def patch(path, offset, raw):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(raw)


def new_build_id(path, salt):
    """Change the build-id (one byte of it): each copy is a file of its own,
    not a cache hit of the one loaded before."""
    _at, off, size, _flags = elf_sections(path)[".note.gnu.build-id"]
    namesz, descsz = struct.unpack_from("<II", open(path, "rb").read(off + 8), off)
    patch(path, off + 12 + ((namesz + 3) & ~3) + descsz - 1, bytes([salt & 0xff]))


# ------------------------------------------------------------ inotify

class OpenWatch:
    """Which of some paths anybody opens (inotify IN_OPEN): the daemon must
    open none of the targets a planted symlink points at."""
    IN_OPEN = 0x20

    def __init__(self, paths):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise Skip("inotify_init1: %s" % os.strerror(ctypes.get_errno()))
        self.wds = {}
        for p in paths:
            wd = self.libc.inotify_add_watch(self.fd, p.encode(), self.IN_OPEN)
            if wd < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch", p)
            self.wds[wd] = p

    def opened(self):
        out = set()
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return out
            off = 0
            while off + 16 <= len(buf):
                wd, mask, _cookie, ln = struct.unpack_from("iIII", buf, off)
                if mask & self.IN_OPEN:
                    out.add(self.wds.get(wd))
                off += 16 + ln

    def close(self):
        os.close(self.fd)


# ------------------------------------------------------------ the hostile user

def need_daemon_case():
    if not is_root():
        raise Skip("needs root (the daemon profiles another user's process)")
    if not SETPRIV:
        raise Skip("no setpriv (util-linux) to run the user's process as nobody")
    for p in (SPINHOST, SPINLIB, os.path.join(PLUGINS, "perf_profiler")):
        if not os.path.exists(p):
            raise Skip("%s not built" % p)


class World:
    """A fresh 0755 directory under /tmp (nobody must reach it; the build
    dir may sit in a 0700 home) with the user's program, libraries in
    nobody's own folders, and root-only targets for planted symlinks."""

    def __init__(self, n_libs, salt):
        self.top = tempfile.mkdtemp(prefix="pp-hostile-", dir="/tmp")
        os.chmod(self.top, 0o755)
        self.host = os.path.join(self.top, "pp-spinhost")
        shutil.copy(SPINHOST, self.host)
        os.chmod(self.host, 0o755)
        self.libs = []
        for i in range(n_libs):
            d = os.path.join(self.top, "u%d" % i)
            os.mkdir(d, 0o755)
            lib = os.path.join(d, "lib.so")
            shutil.copy(SPINLIB, lib)
            new_build_id(lib, salt * 16 + i)
            os.chown(d, NOBODY, NOBODY)
            os.chown(lib, NOBODY, NOBODY)
            self.libs.append(lib)
        self.private = os.path.join(self.top, "private")
        os.mkdir(self.private, 0o700)

    def targets(self):
        """A root-only regular file, a FIFO, a character device (null's)."""
        out = []
        secret = os.path.join(self.private, "shadow")
        with open(secret, "w") as f:
            f.write("root:$6$secret:19000:0:99999:7:::\n")
        os.chmod(secret, 0o600)
        out.append(secret)
        fifo = os.path.join(self.private, "fifo")
        os.mkfifo(fifo, 0o600)
        out.append(fifo)
        dev = os.path.join(self.private, "chardev")
        try:
            os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
            out.append(dev)
        except OSError:
            pass  # no CAP_MKNOD here: the other two still tell
        return out

    def spinner(self, pairs):
        """nobody's program: dlopen each lib on "go", plant, spin."""
        args = [SETPRIV, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                self.host]
        for lib, target in pairs:
            args += [lib, target or "-"]
        # in a sanitizer build the program is instrumented too: its SIGBUS
        # (its own code truncated away) is not a finding, and nobody cannot
        # write to the build's report folder anyway
        env = dict(os.environ, ASAN_OPTIONS="handle_sigbus=0:detect_leaks=0")
        env.pop("UBSAN_OPTIONS", None)
        return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    def close(self):
        shutil.rmtree(self.top, ignore_errors=True)


def go(spin):
    spin.stdin.write("go\n")
    spin.stdin.flush()
    line = spin.stdout.readline()
    if line.strip() != "spinning":
        raise AssertionError("the user's program did not start: %r %s"
                             % (line, spin.stderr.read() if spin.poll() is not None else ""))


def stop(spin):
    if spin and spin.poll() is None:
        spin.kill()
    if spin:
        spin.wait()


def tool_body(r):
    res = result(r)
    body = res.get("structuredContent")
    if body is None:
        body = json.loads(res["content"][0]["text"])
    return bool(res.get("isError")), body


def require_perf(d):
    st = d.read_json("profiling://perf/status")
    caps = st.get("capabilities", {})
    if not caps.get("perf_event_open"):
        raise Skip("perf_event_open is unavailable here: %s" % caps.get("perf_error"))


def alive(d, what):
    try:
        pong = d.request("ping", timeout=5).get("result")
    except (TimeoutError, BrokenPipeError, OSError) as ex:
        pong = ex
    T.eq(pong, {}, "%s: ping answers" % what)
    time.sleep(0.2)  # a dying daemon's exit status, if it is dying
    T.check(d.proc.poll() is None, "%s: the daemon is alive (exit status %s; stderr: %s)"
            % (what, d.proc.poll(), d.stderr_text()[-2000:]))


def profile(d, pid, seconds, unwind="auto"):
    r = d.call_tool("start_perf_profiling", {"pid": pid, "duration_secs": seconds,
                                             "frequency_hz": 199, "unwind": unwind}, timeout=20)
    e, b = tool_body(r)
    if e:
        raise AssertionError("start_perf_profiling: %s" % b)


def results(d, what):
    """Waits for the profile's end, then the symbols; None if unanswered."""
    try:
        d.call_tool("get_perf_results", {"wait": True}, timeout=30)
        r = d.call_tool("get_perf_results", {"group_by": "symbol", "limit": 100}, timeout=30)
    except (TimeoutError, BrokenPipeError, OSError) as ex:
        T.check(False, "%s: get_perf_results was not answered (%r)" % (what, ex))
        return None
    if not T.check("result" in r, "%s: get_perf_results answers: %s" % (what, str(r)[:300])):
        return None
    e, b = tool_body(r)
    T.check(not e, "%s: results, not an error: %s" % (what, str(b)[:300]))
    return b


def unresolved_why(body, path):
    for u in body.get("unresolved", []):
        if u.get("file") == path:
            return u.get("why", "")
    return None


def daemon(wrapper=None):
    """The daemon with only the profiler, optionally started through a
    wrapper script (capabilities taken away)."""
    old = os.environ.get("SMCP_DAEMON")
    if wrapper:
        os.environ["SMCP_DAEMON"] = wrapper  # read when the client starts it
    try:
        return Daemon(plugin_dir_=PLUGINS, args=["--enable", "perf_profiler"])
    finally:
        if old is None:
            os.environ.pop("SMCP_DAEMON", None)
        else:
            os.environ["SMCP_DAEMON"] = old


def wrapper(prefix):
    fd, path = tempfile.mkstemp(prefix="pp-wrap-", suffix=".sh")
    with os.fdopen(fd, "w") as f:
        f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (" ".join(prefix), smcp_test.daemon_path()))
    os.chmod(path, 0o755)
    _wrappers.append(path)
    return path


# ------------------------------------------------------------ cases

@T.case
def test_truncated_library():
    need_daemon_case()
    w = World(1, salt=1)
    spin = None
    try:
        with daemon() as d:
            require_perf(d)
            lib = w.libs[0]
            spin = w.spinner([(lib, None)])
            profile(d, spin.pid, 4)
            go(spin)
            time.sleep(1.5)
            subprocess.run([SETPRIV, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                            "--clear-groups", "truncate", "-s", "0", lib], check=True)
            T.eq(os.path.getsize(lib), 0, "nobody truncated its library")
            body = results(d, "truncated")
            alive(d, "truncated library")
            if body is not None:
                T.check(body.get("samples", 0) > 0, "samples were taken: %s" % str(body)[:300])
                why = unresolved_why(body, lib)
                syms = {s["symbol"] for s in body.get("symbols", [])}
                # the symbols load when results are first built, after the
                # truncation: what the file no longer holds is said
                T.check((why is not None and "shrank" in why) or "pp_spin_ms" in syms,
                        "the library's frames: resolved or said why (%r): %s"
                        % (why, str(body.get("unresolved"))[:500]))
            if d.proc.poll() is None:
                st = d.read_json("profiling://perf/status")
                T.check(isinstance(st, dict), "the status resource answers")
    finally:
        stop(spin)
        w.close()


def planted(wrap, salt, expect_resolved):
    need_daemon_case()
    w = World(3, salt=salt)
    spin = None
    watch = None
    try:
        targets = w.targets()
        watch = OpenWatch(targets)
        # the watch must see an open (else the check below proves nothing)
        for t in targets:
            os.close(os.open(t, os.O_RDONLY | os.O_NONBLOCK))
        T.eq(watch.opened(), set(targets), "inotify sees the targets opened")
        with daemon(wrap) as d:
            require_perf(d)
            pairs = list(zip(w.libs, targets))
            spin = w.spinner(pairs)
            profile(d, spin.pid, 2)
            go(spin)
            for lib, t in pairs:
                T.eq(os.readlink(lib), t, "%s now a symlink to %s" % (lib, t))
            body = results(d, "planted")
            alive(d, "planted symlinks")
            T.eq(sorted(watch.opened()), [], "the daemon opened none of the targets")
            if body is None:
                return
            T.check(body.get("samples", 0) > 0, "samples were taken: %s" % str(body)[:300])
            syms = {(s["symbol"], s.get("module")): s for s in body.get("symbols", [])}
            spun = syms.get(("pp_spin_ms", "lib.so"))
            if expect_resolved:
                # loaded through map_files: the mapped file, not the path
                T.check(spun is not None and spun["self"] > 0,
                        "the libraries' frames resolve (read through map_files): %s"
                        % sorted(syms)[:20])
            else:
                whys = [unresolved_why(body, lib) for lib, _ in pairs]
                T.check(spun is None, "nothing resolved through the planted paths")
                T.check(any(y and "symbolic link" in y for y in whys),
                        "the answer says the path is a symlink now: %r (%s)"
                        % (whys, str(body.get("unresolved"))[:500]))
    finally:
        stop(spin)
        if watch:
            watch.close()
        w.close()


@T.case
def test_planted_symlinks():
    planted(None, salt=2, expect_resolved=True)


@T.case
def test_planted_symlinks_by_path():
    need_daemon_case()
    caps = subprocess.run([SETPRIV, "--list-caps"], capture_output=True, text=True).stdout.split()
    if "checkpoint_restore" not in caps:
        raise Skip("this setpriv cannot drop CAP_CHECKPOINT_RESTORE")
    wrap = wrapper([SETPRIV, "--bounding-set", "-checkpoint_restore,-sys_admin"])
    planted(wrap, salt=3, expect_resolved=False)


# ------------------------------------------------------------ the reader alone

def reader_case(*progs):
    """Skip unless pp-symtool, the library and progs are there; the address
    of pp_spin_ms in the library (inside it)."""
    for prog in progs + ("nm",):
        if not shutil.which(prog):
            raise Skip("%s (binutils) is not installed" % prog)
    if not os.path.exists(SYMTOOL) or not os.path.exists(SPINLIB):
        raise Skip("pp-symtool or pp-spinlib.so not built")
    for line in subprocess.run(["nm", SPINLIB], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == "pp_spin_ms":
            return int(f[0], 16) + 4
    T.check(False, "pp_spin_ms in the library's symbols")
    return 0


def symbolise(lib, addr, what):
    """pp-symtool on addr of lib: checks that it answers; its output lines,
    its own peak RSS (KiB) and how long it took."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as fo, tempfile.TemporaryFile(mode="w+") as fe:
        p = subprocess.Popen([SYMTOOL, "elf", lib, "%x" % addr], stdout=fo, stderr=fe)
        _pid, status, ru = os.wait4(p.pid, 0)  # its own peak RSS
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    T.eq(os.waitstatus_to_exitcode(status), 0, "%s: the reader answers (%s)" % (what, err.strip()))
    # the reader itself is ~20 MiB; inflating a 512 MiB claim took 530
    T.check(ru.ru_maxrss < smcp_test.rss_limit_kb(64 * 1024),
            "%s: the reader's peak RSS stays small: %d KiB" % (what, ru.ru_maxrss))
    return out.splitlines(), ru.ru_maxrss, time.monotonic() - t0


@T.case
def test_compressed_debug_bomb():
    addr = reader_case("objcopy")
    tmp = tempfile.mkdtemp(prefix="pp-bomb-")
    try:
        claim = 512 << 20
        z = zlib.compressobj(9)
        zero = bytes(1 << 20)
        stream = b"".join(z.compress(zero) for _ in range(claim >> 20)) + z.flush()
        variants = {
            # Elf64_Chdr: ELFCOMPRESS_ZLIB, reserved, ch_size, ch_addralign
            ".debug_frame": struct.pack("<IIQQ", 1, 0, claim, 8) + stream,
            # legacy: "ZLIB" and the size, big-endian
            ".zdebug_frame": b"ZLIB" + struct.pack(">Q", claim) + stream,
        }
        for name, blob in variants.items():
            src = os.path.join(tmp, name.strip(".") + ".bin")
            with open(src, "wb") as f:
                f.write(blob)
            lib = os.path.join(tmp, "bomb" + name + ".so")
            subprocess.run(["objcopy", "--add-section", "%s=%s" % (name, src), SPINLIB, lib],
                           check=True, capture_output=True)
            at, _off, size, flags = elf_sections(lib)[name]
            T.eq(size, len(blob), "%s: the section holds the %d-byte stream" % (name, len(blob)))
            if name == ".debug_frame":
                patch(lib, at + 8, struct.pack("<Q", flags | 0x800))  # SHF_COMPRESSED
            lines, rss, secs = symbolise(lib, addr, name)
            T.check(lines and lines[0].split()[1:2] == ["pp_spin_ms"],
                    "%s: the symbol still resolves: %r" % (name, lines))
            notes = [x for x in lines if x.startswith("note ")]
            T.check(notes and "bound" in notes[0],
                    "%s: the note says .debug_frame was over the bound: %r" % (name, notes))
            print("  %s claiming %d MiB from %d KB: peak RSS %d KiB, %.2f s"
                  % (name, claim >> 20, len(blob) >> 10, rss, secs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def strtab_bomb(src, dst, name, claim):
    """src with its string table name moved to the end of the file, zlib
    compressed (SHF_COMPRESSED): its real strings, then zeros up to claim."""
    shutil.copy(src, dst)
    at, off, size, flags = elf_sections(dst)[name]
    with open(dst, "rb") as f:
        data = f.read()
    z = zlib.compressobj(9)
    parts = [z.compress(data[off:off + size])]
    zero = bytes(1 << 20)
    left = claim - size
    while left > 0:
        parts.append(z.compress(zero[:min(left, len(zero))]))
        left -= len(zero)
    blob = struct.pack("<IIQQ", 1, 0, claim, 1) + b"".join(parts) + z.flush()
    at_blob = (len(data) + 7) & ~7
    with open(dst, "ab") as f:
        f.write(bytes(at_blob - len(data)) + blob)
    patch(dst, at + 8, struct.pack("<Q", flags | 0x800))  # SHF_COMPRESSED
    patch(dst, at + 24, struct.pack("<QQ", at_blob, len(blob)))  # sh_offset, sh_size
    return len(blob)


@T.case
def test_compressed_string_table_bomb():
    addr = reader_case()
    tmp = tempfile.mkdtemp(prefix="pp-strbomb-")
    try:
        claim = 512 << 20
        # section names: only section lookups need them, .symtab still serves;
        # symbol names: .symtab is refused, the exported pp_spin_ms is in .dynsym
        for name, source in ((".shstrtab", "symtab"), (".strtab", "dynsym")):
            lib = os.path.join(tmp, "bomb" + name + ".so")
            n = strtab_bomb(SPINLIB, lib, name, claim)
            lines, rss, secs = symbolise(lib, addr, name)
            T.eq(lines[0].split()[1:3] if lines else None, ["pp_spin_ms", source],
                 "%s: pp_spin_ms resolves from %s" % (name, source))
            print("  compressed %s claiming %d MiB from %d KB: peak RSS %d KiB, %.2f s"
                  % (name, claim >> 20, n >> 10, rss, secs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def many_notes(src, dst, count, size):
    """src with count more section headers, each an SHT_NOTE of the same size
    zero bytes appended to the file, in a new section table at its end. Its
    own notes become SHT_PROGBITS: no build-id is found before the last."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3a)
    table = bytearray(data[shoff:shoff + shentsize * shnum])
    for i in range(shnum):
        if struct.unpack_from("<I", table, i * shentsize + 4)[0] == 7:  # SHT_NOTE
            struct.pack_into("<I", table, i * shentsize + 4, 1)  # SHT_PROGBITS
    notes_at = (len(data) + 7) & ~7
    data += bytes(notes_at - len(data) + size)
    new_shoff = (len(data) + 7) & ~7
    data += bytes(new_shoff - len(data))
    # sh_name 0, SHT_NOTE, no flags, addr 0, offset, size, link, info, align 4, entsize 0
    note = struct.pack("<IIQQQQIIQQ", 0, 7, 0, 0, notes_at, size, 0, 0, 4, 0)
    data += bytes(table) + note * count
    struct.pack_into("<Q", data, 0x28, new_shoff)
    struct.pack_into("<H", data, 0x3c, shnum + count)
    with open(dst, "wb") as f:
        f.write(data)


@T.case
def test_many_note_sections():
    addr = reader_case()
    tmp = tempfile.mkdtemp(prefix="pp-notes-")
    try:
        lib = os.path.join(tmp, "notes.so")
        count, size = 8000, 32 << 10
        many_notes(SPINLIB, lib, count, size)
        lines, rss, secs = symbolise(lib, addr, "%d note sections" % count)
        T.eq(lines[0].split()[1:3] if lines else None, ["pp_spin_ms", "symtab"],
             "pp_spin_ms still resolves")
        print("  %d note sections of %d KiB (%d MiB named): peak RSS %d KiB, %.2f s"
              % (count, size >> 10, count * size >> 20, rss, secs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        T.main()
    finally:
        for p in _wrappers:
            try:
                os.unlink(p)
            except OSError:
                pass
