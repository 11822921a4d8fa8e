#!/usr/bin/env python3
"""unit_sandbox.py UNIT -- PROGRAM [ARGS...]

Run PROGRAM under the seccomp filter systemd 252 installs for UNIT's
MemoryDenyWriteExecute=, RestrictAddressFamilies= (an allow list) and
RestrictNamespaces=yes (src/shared/seccomp-util.c), so tests can start the
daemon the way the unit restricts it without systemd as PID 1. x86_64 only.
Sets no_new_privs (as NoNewPrivileges=yes does). Standard library only: it
runs as the unit's account, from a copy outside the source tree.
"""
import ctypes
import os
import socket
import sys

# x86_64 system call numbers and the constants the filters test
NR = {"mmap": 9, "mprotect": 10, "shmat": 30, "socket": 41, "clone": 56, "unshare": 272,
      "setns": 308, "pkey_mprotect": 329, "clone3": 435}
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
CLONE_NS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 \
    | 0x40000000
CLONE_NEWTIME = 0x80  # unshare() only: for clone() this bit is CSIGNAL's
EPERM, ENOSYS, EAFNOSUPPORT = 1, 38, 97
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
LD_W_ABS, JEQ, JGE, JSET, AND, RET = 0x20, 0x15, 0x35, 0x45, 0x54, 0x06
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000


def settings(text, section):
    """[(key, value)] of one section of a unit file, in order (repeated
    keys kept; dict() of it keeps the last, as systemd does for most)."""
    out, cur = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            cur = line.strip("[]")
        elif cur == section and "=" in line:
            k, _, v = line.partition("=")
            out.append((k.strip(), v.strip()))
    return out


def ret(action):
    return (RET, 0, 0, action)


def arg(i):
    """Load the low 32 bits of args[i] (struct seccomp_data, little endian)."""
    return (LD_W_ABS, 0, 0, 16 + 8 * i)


def when(nr, body):
    """body (which ends in a return) for system call nr only."""
    return [(LD_W_ABS, 0, 0, 0), (JEQ, 0, len(body), nr)] + body


def deny_if_set(argi, mask, err):
    return [arg(argi), (JSET, 0, 1, mask), ret(RET_ERRNO | err), ret(RET_ALLOW)]


def program(unit_text):
    """The filter as a list of (code, jt, jf, k)."""
    s = dict(settings(unit_text, "Service"))
    prog = [(LD_W_ABS, 0, 0, 4), (JEQ, 1, 0, AUDIT_ARCH_X86_64), ret(RET_ERRNO | EPERM),
            (LD_W_ABS, 0, 0, 0), (JGE, 0, 1, X32_SYSCALL_BIT), ret(RET_ERRNO | EPERM)]
    if s.get("MemoryDenyWriteExecute") == "yes":
        prog += when(NR["mmap"], [arg(2), (AND, 0, 0, PROT_WRITE | PROT_EXEC),
                                  (JEQ, 0, 1, PROT_WRITE | PROT_EXEC),
                                  ret(RET_ERRNO | EPERM), ret(RET_ALLOW)])
        prog += when(NR["mprotect"], deny_if_set(2, PROT_EXEC, EPERM))
        prog += when(NR["pkey_mprotect"], deny_if_set(2, PROT_EXEC, EPERM))
        prog += when(NR["shmat"], deny_if_set(2, SHM_EXEC, EPERM))
    families = s.get("RestrictAddressFamilies", "").split()
    if families and not families[0].startswith("~"):
        allowed = [int(getattr(socket, f)) for f in families]
        body = [arg(0)]
        for i, fam in enumerate(allowed):
            body.append((JEQ, len(allowed) - i, 0, fam))  # to the final allow
        body += [ret(RET_ERRNO | EAFNOSUPPORT), ret(RET_ALLOW)]
        prog += when(NR["socket"], body)
    if s.get("RestrictNamespaces") == "yes":
        prog += when(NR["unshare"], deny_if_set(0, CLONE_NS | CLONE_NEWTIME, EPERM))
        prog += when(NR["clone"], deny_if_set(0, CLONE_NS, EPERM))
        prog += when(NR["setns"], [ret(RET_ERRNO | EPERM)])
        # clone3's flags sit behind a pointer a filter cannot read: ENOSYS,
        # so that libc falls back to clone()
        prog += when(NR["clone3"], [ret(RET_ERRNO | ENOSYS)])
    return prog + [ret(RET_ALLOW)]


def main(argv):
    if len(argv) < 4 or argv[2] != "--":
        sys.exit(__doc__)

    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                    ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Insn))]

    with open(argv[1]) as f:
        insns = program(f.read())
    arr = (Insn * len(insns))(*[Insn(*i) for i in insns])
    prog = Prog(len(insns), arr)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                           ctypes.c_ulong]
    if libc.prctl(38, 1, None, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        sys.exit("unit_sandbox: no_new_privs: " + os.strerror(ctypes.get_errno()))
    if libc.prctl(22, 2, ctypes.addressof(prog), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
        sys.exit("unit_sandbox: seccomp: " + os.strerror(ctypes.get_errno()))
    os.execv(argv[3], argv[3:])


if __name__ == "__main__":
    main(sys.argv)
