"""checks.py -- the Python twin of tests/check.h for the harness's own tests.

check() and eq() count results and report each failure on stderr with what
was expected and what came; done(name) prints "name: N passed, N failed"
and returns the exit status for main."""

import sys

_counts = {"passed": 0, "failed": 0}


def check(cond, what):
    if cond:
        _counts["passed"] += 1
    else:
        _counts["failed"] += 1
        print("FAILED: " + what, file=sys.stderr, flush=True)


def eq(got, want, what):
    check(got == want, "%s: expected %r, got %r" % (what, want, got))


def done(name):
    print("%s: %d passed, %d failed" % (name, _counts["passed"], _counts["failed"]))
    return 1 if _counts["failed"] else 0
