#!/usr/bin/env python3
"""Every C unit test program again under valgrind: no invalid access, no
uninitialised read, no definite leak in the core code they exercise.
Assertion failures inside a program are its own test's business; here only
valgrind's verdict counts. argv: the unit test executables."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import VG_ERROR, Checker, valgrind_or_skip  # noqa: E402

T = Checker("unit/memcheck")
VALGRIND = None  # valgrind_or_skip() finds it


@T.case
def test_unit_programs_clean_under_valgrind():
    progs = [p for p in sys.argv[1:] if os.access(p, os.X_OK)]
    T.check(len(progs) >= 5, f"unit programs given: {progs}")
    for p in progs:
        r = subprocess.run([VALGRIND, "-q", "--error-exitcode=%d" % VG_ERROR, "--leak-check=full",
                            "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                            p], capture_output=True, text=True, timeout=300)
        report = "\n".join(ln for ln in r.stderr.splitlines() if ln.startswith("=="))
        T.check(r.returncode != VG_ERROR, f"{os.path.basename(p)}: valgrind found errors:\n{report}")


if __name__ == "__main__":
    VALGRIND = valgrind_or_skip()
    T.main()
