#!/usr/bin/env python3
"""User symbolisation of ELF variants built from the workload:

  .symtab in the file; stripped with nothing else; stripped with a
  .gnu_debuglink to a debug file whose sections are compressed (zlib-gabi
  SHF_COMPRESSED, and legacy zlib-gnu .zdebug_*) next to it, in .debug/ and
  under DEBUG_DIR; stripped with only a build-id debug file; a debuglink
  whose CRC does not match (must be refused). For the .debug_frame-only
  build the converted CFI must come from the compressed debug file. Kernel
  symbols: a core kernel function, a module's and a BPF program's JIT
  symbol from /proc/kallsyms, when there are any.
"""
import os
import shutil
import sys
import tempfile

from pptest import BIN, Checker, build_id, run, skip, workload

TOOL = os.path.join(BIN, "pp-symtool")
FUNCS = ["leaf_a", "leaf_b", "caller_a", "caller_b", "main"]

for prog in ("objcopy", "strip", "nm", "readelf"):
    if not shutil.which(prog):
        skip("%s (binutils) is not installed" % prog)

ck = Checker()
tmp = tempfile.mkdtemp(prefix="pp-syms-")


def addrs_of(path):
    out = {}
    for line in run("nm", path).splitlines():
        f = line.split()
        if len(f) == 3 and f[2] in FUNCS and f[1] in "tT":
            out[f[2]] = int(f[0], 16) + 2  # inside the function, not its first byte
    return out


def resolve(path, addrs, debug_dir=None):
    args = [TOOL] + (["--debug-dir", debug_dir] if debug_dir else []) + ["elf", path]
    args += ["%x" % addrs[f] for f in FUNCS]
    out = run(*args).splitlines()
    names = {}
    info = {}
    for f, line in zip(FUNCS, out):
        parts = line.split(" ", 2)
        names[f] = parts[1]
        info["source"] = parts[2]
    for line in out[len(FUNCS):]:
        k, _, v = line.partition(" ")
        info[k] = v
    cfi = dict(x.split("=") for x in info.get("cfi", "").split())
    return names, info, {k: int(v) for k, v in cfi.items()}


def compressed(path, section):
    for line in run("readelf", "-S", "-W", path).splitlines():
        parts = line.split("]", 1)[-1].split()
        # Name Type Address Off Size ES Flg Lk Inf Al (Flg may be empty)
        if parts and parts[0] == section:
            return len(parts) == 10 and "C" in parts[6]
    return False


def split(orig, name, compress, where, debuglink=True):
    """Strip orig into name; its debug file (compressed as asked) goes to where."""
    os.makedirs(where, exist_ok=True)
    dbg = os.path.join(where, name + ".debug")
    run("objcopy", "--only-keep-debug", orig, dbg)
    if compress:
        run("objcopy", "--compress-debug-sections=" + compress, dbg)
    out = os.path.join(tmp, name)
    run("strip", "-o", out, orig)
    if debuglink:
        # objcopy takes the CRC of the debug file as it is now
        run("objcopy", "--add-gnu-debuglink=" + dbg, out)
    return out, dbg


try:
    for variant in ("nofp", "dframe"):
        orig = os.path.join(tmp, "wl-" + variant)
        shutil.copy(workload(variant), orig)
        addrs = addrs_of(orig)
        ck.eq(sorted(addrs), sorted(FUNCS), variant + ": nm found the workload functions")
        want = {f: f for f in FUNCS}

        names, info, cfi = resolve(orig, addrs)
        ck.eq(names, want, variant + " .symtab: names")
        ck.eq(info["source"], "symtab", variant + " .symtab: source")
        if variant == "dframe":
            ck.check(cfi.get("debug_frame", 0) >= 5, f"dframe: .debug_frame converted: {cfi}")

        bare = os.path.join(tmp, "bare-" + variant)
        run("strip", "-o", bare, orig)
        names, info, cfi = resolve(bare, addrs, debug_dir=os.path.join(tmp, "nodebug"))
        ck.check(all(v == "-" for v in names.values()),
                 f"{variant} stripped, no debug file: static functions unresolved: {names}")
        ck.check("note" in info, f"{variant} stripped: says why: {info}")

        # debuglink next to the binary, SHF_COMPRESSED (zlib-gabi) sections
        s, dbg = split(orig, "gabi-" + variant, "zlib-gabi", tmp)
        names, info, cfi = resolve(s, addrs, debug_dir=os.path.join(tmp, "nodebug"))
        ck.eq(names, want, variant + " debuglink (same dir, zlib-gabi): names")
        ck.eq(info["source"], "debuglink debug file", variant + " debuglink: source")
        ck.eq(info.get("debug_file"), dbg, variant + " debuglink: file")
        if variant == "dframe":
            ck.check(compressed(dbg, ".debug_frame"),
                     f"dframe: debug file's .debug_frame is compressed: "
                     f"{run('readelf', '-S', '-W', dbg)}")
            ck.check(cfi.get("debug_frame", 0) >= 5,
                     f"dframe: compressed .debug_frame inflated and converted: {cfi}")

        # debuglink in .debug/, legacy .zdebug_* (zlib-gnu)
        s, dbg = split(orig, "gnu-" + variant, "zlib-gnu", os.path.join(tmp, ".debug"))
        names, info, cfi = resolve(s, addrs, debug_dir=os.path.join(tmp, "nodebug"))
        ck.eq(names, want, variant + " debuglink (.debug/, zlib-gnu): names")
        if variant == "dframe":
            ck.check(".zdebug_frame" in
                     run("readelf", "-S", "-W", dbg), "dframe: .zdebug_frame present")
            ck.check(cfi.get("debug_frame", 0) >= 5,
                     f"dframe: .zdebug_frame inflated and converted: {cfi}")

        # debuglink found under DEBUG_DIR + the binary's directory
        ddir = os.path.join(tmp, "dd")
        s, dbg = split(orig, "dd-" + variant, None, os.path.join(ddir + tmp))
        names, info, cfi = resolve(s, addrs, debug_dir=ddir)
        ck.eq(names, want, variant + " debuglink under DEBUG_DIR: names")

        # build-id only
        bid = build_id(orig)
        if bid:
            bdir = os.path.join(tmp, "bid")
            where = os.path.join(bdir, ".build-id", bid[:2])
            s, dbg = split(orig, "bid-" + variant, "zlib", where, debuglink=False)
            os.rename(dbg, os.path.join(where, bid[2:] + ".debug"))
            names, info, cfi = resolve(s, addrs, debug_dir=bdir)
            ck.eq(names, want, variant + " build-id debug file: names")
            ck.eq(info["source"], "build-id debug file", variant + " build-id: source")
        else:
            print("note: the toolchain wrote no build-id; build-id lookup not exercised")

        # a debug file that no longer matches the CRC in .gnu_debuglink
        s, dbg = split(orig, "crc-" + variant, None, tmp)
        with open(dbg, "ab") as f:
            f.write(b"\0")
        names, info, cfi = resolve(s, addrs, debug_dir=os.path.join(tmp, "nodebug"))
        ck.check(all(v == "-" for v in names.values()),
                 f"{variant} debuglink with a wrong CRC is refused: {names}")

    # C++: demangled as perf report shows them (no parameters, no clone suffix)
    if shutil.which("g++"):
        src = os.path.join(tmp, "cxx.cc")
        with open(src, "w") as f:
            f.write("namespace ns { template <class T> struct Box {\n"
                    "  __attribute__((noinline)) T spin(T x) const {\n"
                    "    for (int i = 0; i < 1000; i++) { x = x * 3 + 1; asm volatile(\"\" :: \"r\"(x)); }\n"
                    "    return x; } }; }\n"
                    "int main(int c, char **) { ns::Box<long> b; return (int)b.spin(c); }\n")
        exe = os.path.join(tmp, "cxx")
        run("g++", "-O2", "-o", exe, src)
        mangled = [line.split() for line in run("nm", exe).splitlines() if "spin" in line]
        out = run(TOOL, "elf", exe, "%x" % (int(mangled[0][0], 16) + 1)).split()
        ck.eq(out[1], "ns::Box<long>::spin",
              "C++ symbol %s demangled like perf report" % mangled[0][2])
    else:
        print("note: g++ is not installed; demangling not exercised")

    # aliases at one address resolve as perf report names them: non-weak,
    # global, fewer leading underscores, longer name (a kallsyms fixture)
    os.makedirs(os.path.join(tmp, "root", "proc"))
    with open(os.path.join(tmp, "root", "proc", "kallsyms"), "w") as f:
        f.write("ffffffff81000000 W weak_first\n"
                "ffffffff81000000 t local_name_longest\n"
                "ffffffff81000000 T __global\n"
                "ffffffff81000000 T global\n"
                "ffffffff81000000 T globl\n"
                "ffffffff81000100 t __static_a\n"
                "ffffffff81000100 t static_b\n"
                "ffffffff81000200 W only_weak\n"
                "ffffffff81000300 T tail\n")
    for addr, want in (("ffffffff81000010", "global"), ("ffffffff81000110", "static_b"),
                       ("ffffffff81000200", "only_weak")):
        out = run(TOOL, "--root", os.path.join(tmp, "root"), "kernel", addr).split()
        ck.eq(out[1:], [want, "[kernel.kallsyms]"], "kallsyms alias at %s picks %s" % (addr, want))

    # kernel: one core symbol, one module symbol and one BPF program if listed;
    # only addresses with a single name (aliases may resolve either way)
    lines = []
    with open("/proc/kallsyms") as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and p[1] in "tT" and int(p[0], 16):
                lines.append((int(p[0], 16), p[2], p[3] if len(p) > 3 else None))
    count = {}
    for a, _, _ in lines:
        count[a] = count.get(a, 0) + 1
    picks = {}
    for addr, name, mod in lines:
        kind = "bpf" if mod == "[bpf]" else "module" if mod else "core"
        if count[addr] != 1 or (kind == "core" and name != "schedule"):
            continue
        picks.setdefault(kind, (addr, name, mod or "[kernel.kallsyms]"))
    if not picks:
        print("note: /proc/kallsyms addresses are hidden here; kernel lookups not exercised")
    for kind, (addr, name, mod) in sorted(picks.items()):
        out = run(TOOL, "kernel", "%x" % (addr + 1)).split()
        ck.eq(out[1:], [name, mod], "kallsyms %s symbol %s" % (kind, name))
    if "bpf" not in picks:
        print("note: no BPF program is loaded; bpf_prog_ lookup not exercised")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(ck.done())
