#!/usr/bin/env python3
"""The public headers compile on their own, as C (several standards, strict
warnings) and as C++, and its macros work in both.

argv[1]: the SDK include directory.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import SKIP, Checker, Skip  # noqa: E402

T = Checker("abi/header-standalone")
INC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("SMCP_SOURCE_DIR", "."), "sdk", "include")
CC = os.environ.get("CC", "cc").split()[0]
CXX = os.environ.get("CXX", "g++").split()[0]
WARN = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-Wshadow", "-Wundef"]

ALONE = "#include <schedmcp/plugin.h>\n"
FSREAD = "#define _POSIX_C_SOURCE 200809L\n#include <schedmcp/fsread.h>\n"
CPULIST = "#include <schedmcp/cpulist.h>\nint f(void);\nint f(void) { return 0; }\n"
GLOB = ("#include <schedmcp/glob.h>\nint f(void);\n"
        "int f(void) { return smcp_glob_match(\"sched_*\", \"sched_x\"); }\n")
JSONTEXT = r"""
#include <schedmcp/jsontext.h>
#include <stdlib.h>
int f(void);
int f(void)
{
	struct smcp_json_counts sc;
	int err;
	char *r = smcp_utf8_repair("a\xff", malloc, &err);

	smcp_json_scan("[[1],{}]", 8, 0, 0, &sc);
	free(r);
	return (int)smcp_utf8_valid("x", 1) + sc.depth + (int)sc.values + err;
}
"""
HASHMAP = r"""
#include <schedmcp/hashmap.h>
int f(void);
int f(void)
{
	struct smcp_hashmap m = SMCP_HASHMAP_INIT(smcp_hashmap_str_hash, smcp_hashmap_str_equal, 0, 8);
	struct smcp_hashmap_entry *e;
	int n = smcp_hashmap_insert(&m, (uintptr_t)"cpu", 1, &e);

	smcp_hashmap_for_each(&m, e)
		n += (int)e->value;
	smcp_hashmap_free(&m);
	return n;
}
"""
SEARCH = r"""
#include <schedmcp/search.h>
static int cmp(const void *k, const void *e) { return *(const int *)k - *(const int *)e; }
int f(void);
int f(void) { static const int v[] = { 1, 2, 3 }; int k = 2; return (int)smcp_upper_bound(&k, v, 3, sizeof(int), cmp); }
"""
ARRAY = r"""
#include <schedmcp/array.h>
int f(void);
int f(void)
{
	int *v = NULL;
	size_t cap = 0;
	int err = smcp_array_grow(&v, &cap, 0, sizeof(*v), 8);

	free(v);
	return err + (int)cap;
}
"""
USES = r"""
#include <schedmcp/plugin.h>
/* the macros and types a plugin uses, after nothing else */
static const struct smcp_host_api *api;
static int f(struct smcp_host *h, const struct smcp_host_api *a)
{
	api = a;
	(void)h;
	return SMCP_API_HAS(a, completion_total) ? SMCP_PENDING : -1;
}
const char *abi_version_string = SMCP_ABI_VERSION_STR;
const char *entry_name = SMCP_PLUGIN_ENTRY_NAME;
int use_f(void);
int use_f(void) { return f(0, api) + (int)SMCP_ABI_MAJOR + (int)SMCP_ABI_MINOR; }
"""
C_INFO = r"""
static const struct smcp_plugin_info info = { SMCP_PLUGIN_INFO_INIT, .name = "x" };
SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void);
SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void) { return &info; }
"""
CXX_INFO = r"""
extern "C" SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void);
static_assert(sizeof(struct smcp_plugin_info) > sizeof(size_t), "layout");
"""


def compile_(compiler, lang, std, source):
    with tempfile.NamedTemporaryFile("w", suffix=".c" if lang == "c" else ".cc") as f:
        f.write(source)
        f.flush()
        cmd = [compiler, "-x", lang, f"-std={std}", *WARN, "-I", INC, "-fsyntax-only", f.name]
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.returncode, " ".join(cmd) + "\n" + r.stderr


def compile_each(cc, lang, label, stds, info):
    """Each header alone, then the SDK header in use (with info's checks),
    under each standard of stds: every one compiles."""
    sources = [("header alone", ALONE), ("fsread.h alone", FSREAD),
               ("cpulist.h alone", CPULIST), ("glob.h alone", GLOB),
               ("jsontext.h alone", JSONTEXT), ("hashmap.h alone", HASHMAP),
               ("search.h alone", SEARCH), ("array.h alone", ARRAY),
               ("header in use", USES + info)]
    for std in stds:
        for what, src in sources:
            rc, out = compile_(cc, lang, std, src)
            T.eq(rc, 0, f"{label} {std}, {what}: {out}")


@T.case
def test_c():
    if not shutil.which(CC):
        raise Skip(f"{CC} not found")
    compile_each(CC, "c", "C", ["c99", "c11", "c17", "gnu11"], C_INFO)


@T.case
def test_cxx():
    if not shutil.which(CXX):
        raise Skip(f"{CXX} not found")
    compile_each(CXX, "c++", "C++", ["c++11", "c++17", "c++20"], CXX_INFO)


def struct_members(text, name):
    """(member declaration, the comment that documents it) for each member
    of struct name: the member's own trailing comment when it has one that
    says Since, else the nearest comment above it (a group comment covers
    the members under it until the next comment)."""
    body = text[text.index("struct %s {\n" % name):]
    body = body[body.index("{\n") + 2:body.index("\n};")]
    out, comment, decl, in_comment = [], "", "", False
    for line in body.split("\n"):
        st = line.strip()
        if in_comment:
            comment += " " + st
            in_comment = "*/" not in st
            continue
        if not decl and st.startswith("/*"):
            comment = st
            in_comment = "*/" not in st
            continue
        if not st:
            continue
        code, _, trailing = line.partition("/*")
        decl += " " + code.strip()
        if trailing and not trailing.rstrip().endswith("*/"):
            # a trailing comment that goes on: it documents this member
            trailing += " ..."
        if ";" in code:
            doc = trailing if "Since:" in trailing else comment
            out.append((" ".join(decl.split()), doc))
            decl = ""
    return out


@T.case
def test_since_markers():
    """Every member of every struct in plugin.h says since which ABI minor it
    exists (its own comment, or the group comment above it), and no marker
    names a minor newer than the header's."""
    import re
    with open(os.path.join(INC, "schedmcp", "plugin.h")) as f:
        text = f.read()
    minor = int(re.search(r"#define SMCP_ABI_MINOR (\d+)", text).group(1))
    structs = re.findall(r"^struct (smcp_\w+) \{$", text, re.M)
    T.check(len(structs) >= 9, f"found the structs: {structs}")
    for name in structs:
        members = struct_members(text, name)
        T.check(members, f"{name}: found its members")
        for decl, doc in members:
            m = re.search(r"Since: 1\.(\d+)", doc)
            if T.check(m, f"{name}: '{decl}' says Since: 1.N (comment: {doc!r})"):
                T.check(int(m.group(1)) <= minor,
                        f"{name}: '{decl}' Since 1.{m.group(1)} is newer than 1.{minor}")


@T.case
def test_clang():
    if not shutil.which("clang"):
        raise Skip("clang not found")
    rc, out = compile_("clang", "c", "c11", USES + C_INFO)
    T.eq(rc, 0, f"clang C11: {out}")


def build_run(d, source):
    """Build a C11 program against the headers in directory d; its path."""
    src, exe = os.path.join(d, "t.c"), os.path.join(d, "t")
    with open(src, "w") as f:
        f.write(source)
    r = subprocess.run([CC, "-std=c11", *WARN, "-I", INC, src, "-o", exe],
                       capture_output=True, text=True)
    T.eq(r.returncode, 0, f"build: {r.stderr}")
    return exe


FSREAD_RUN = r"""
#define _POSIX_C_SOURCE 200809L
#include <schedmcp/fsread.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
	char big[64], small[4];
	(void)argc;
	/* root + path; trailing newlines and spaces trimmed */
	if (smcp_read_file(argv[1], "/f", big, sizeof(big)) != 5 || strcmp(big, "a b c"))
		return 1;
	/* cut to the buffer, always terminated */
	if (smcp_read_file(argv[1], "/f", small, sizeof(small)) != 3 || strcmp(small, "a b"))
		return 2;
	if (smcp_read_file(argv[1], "/missing", big, sizeof(big)) != -ENOENT)
		return 3;
	if (smcp_read_file(argv[1], "/f", big, 0) != -EINVAL)
		return 4;
	/* a FIFO with no writer must not hang the reader */
	if (smcp_read_file(argv[1], "/fifo", big, sizeof(big)) != 0)
		return 5;
	{
		/* whole files: exactly max fits, max + 1 is refused, the buffer is reused */
		char *buf = NULL, *got;
		size_t cap = 0, n;

		if (smcp_read_all(argv[1], "/big", 40000, &buf, &cap) != 40000 || buf[40000] ||
		    buf[39999] != 'x' || cap < 40001)
			return 6;
		if (smcp_read_all(argv[1], "/big", 39999, &buf, &cap) != -EFBIG)
			return 7;
		got = buf;
		if (smcp_read_all(argv[1], "/f", 10, &buf, &cap) != 8 || buf != got ||
		    strcmp(buf, "a b c \n\n"))
			return 8;
		free(buf);
		if (smcp_slurp(argv[1], "/big", 100000, &got, &n) || n != 40000 || got[n])
			return 9;
		free(got);
		if (smcp_slurp(argv[1], "/missing", 10, &got, &n) != -ENOENT || got || n)
			return 10;
		if (smcp_slurp(argv[1], "/fifo", 10, &got, &n) || n != 0 || got[0])
			return 11;
		free(got);
	}
	return 0;
}
"""


@T.case
def test_fsread_behaviour():
    if not shutil.which(CC):
        raise Skip(f"{CC} not found")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "f"), "w") as f:
            f.write("a b c \n\n")
        os.mkfifo(os.path.join(d, "fifo"))
        with open(os.path.join(d, "big"), "w") as f:
            f.write("x" * 40000)
        exe = build_run(d, FSREAD_RUN)
        r = subprocess.run([exe, d], capture_output=True, text=True, timeout=10)
        T.eq(r.returncode, 0, "smcp_read_file behaviour (exit code names the failed check)")


CPULIST_RUN = r"""
#include <schedmcp/cpulist.h>
#include <stdio.h>
#include <string.h>
static int show(void *ctx, int lo, int hi)
{
	(void)ctx;
	printf(" %d-%d", lo, hi);
	return lo == 13 ? -EPERM : 0; /* a callback's error stops the parse */
}
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		unsigned char map[8];
		int err;

		printf("[");
		err = smcp_cpulist_parse(argv[i], show, NULL);
		memset(map, 0, sizeof(map));
		printf(" ] %d %d ", err, smcp_cpulist_map(argv[i], map, 8));
		for (int c = 0; c < 8; c++)
			putchar(map[c] ? '1' : '0');
		putchar('\n');
	}
	return 0;
}
"""

# text: (ranges reported, parse result, map of CPUs 0-7)
CPULIST_CASES = {
    "0-3,8,10-11\n": ("0-3 8-8 10-11", 0, "11110000"),
    "": ("", 0, "00000000"),
    " \n": ("", 0, "00000000"),
    "5": ("5-5", 0, "00000100"),
    " 1 , 3-4 ": ("1-1 3-4", 0, "01011000"),  # blanks around items (client input)
    "3-1": ("", -22, "00000000"),
    "x": ("", -22, "00000000"),
    "1,": ("1-1", -22, "01000000"),  # what came before an error is reported
    ",1": ("", -22, "00000000"),
    "1-": ("", -22, "00000000"),
    "-1": ("", -22, "00000000"),
    "+1": ("", -22, "00000000"),
    "1 2": ("1-1", -22, "01000000"),
    "1-2-3": ("1-2", -22, "01100000"),
    "2147483647": ("2147483647-2147483647", 0, "00000000"),
    "2147483648": ("", -34, "00000000"),
    "99999999999999999999": ("", -34, "00000000"),
    "13,1": ("13-13", -1, "01000000"),  # the callback's -EPERM
}


@T.case
def test_cpulist_behaviour():
    if not shutil.which(CC):
        raise Skip(f"{CC} not found")
    with tempfile.TemporaryDirectory() as d:
        exe = build_run(d, CPULIST_RUN)
        cases = list(CPULIST_CASES)
        r = subprocess.run([exe, *cases], capture_output=True, text=True, timeout=10)
        for text, line in zip(cases, r.stdout.splitlines()):
            ranges, rest = line[1:].split("]")
            err, map_err, bits = rest.split()
            want = CPULIST_CASES[text]
            got = (ranges.strip(), int(err), bits)
            # the map never sees the callback's error
            T.eq(got, want, f"cpulist {text!r}")
            T.eq(int(map_err), want[1] if want[1] != -1 else 0, f"cpulist map {text!r}")


if __name__ == "__main__":
    if not os.path.isfile(os.path.join(INC, "schedmcp", "plugin.h")):
        print(f"no header under {INC}")
        sys.exit(SKIP)
    T.main()
