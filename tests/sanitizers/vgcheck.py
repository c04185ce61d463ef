#!/usr/bin/python3
"""Runs a program under valgrind memcheck and fails on anything memcheck reports.

    vgcheck.py VALGRIND [VALGRIND-OPTIONS...] -- PROGRAM [ARGS...]

The log goes to a temporary file (--log-file is added here), which is read after the run: exit
status 1 when the program failed (valgrind's --error-exitcode counts too) or when the log holds
any report, including a descriptor left open at exit (--track-fds=yes) other than those the
program inherited. valgrind 3.19 lists the descriptors without counting them as errors, hence the
reading. The integration harness (tests/integration/conftest.py) reads its servers' logs with
log_errors() below.
"""
import os
import re
import subprocess
import sys
import tempfile


def log_errors(log):
    """The reports in a valgrind log written with -q (nothing but reports, plus --track-fds's
    list of the descriptors open at exit)."""
    bad = []
    for block in re.split(r"\n==\d+== \n", log):
        lines = [re.sub(r"^==\d+== ?", "", line) for line in block.strip().splitlines()]
        lines = [line for line in lines if line.strip() and not line.startswith("FILE DESCRIPTORS:")]
        if not lines:
            continue
        if lines[0].startswith("Open file descriptor") and any("<inherited from parent>" in line
                                                               for line in lines):
            continue
        bad.append("\n".join(lines))
    return bad


def main(argv):
    if "--" not in argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    sep = argv.index("--")
    valgrind, program = argv[:sep], argv[sep + 1:]
    if not valgrind or not program:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="memkv-vg-") as tmp:
        log = os.path.join(tmp, "valgrind.log")
        rc = subprocess.call(valgrind + ["--log-file=" + log] + program)
        with open(log) as f:
            text = f.read()
    bad = log_errors(text)
    for report in bad:
        print("valgrind: " + report.replace("\n", "\nvalgrind: "), file=sys.stderr)
    if rc != 0:
        print("exit status %d" % rc, file=sys.stderr)
    return 1 if rc != 0 or bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
