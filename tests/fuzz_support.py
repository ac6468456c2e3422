"""Run groups of fuzz cases in a child process, so that a crash fails a test.

A *group* is a hypothesis strategy of cases plus a check, registered in a test
module with `group(...)`.  `run_group` starts one fresh interpreter per group
(``python -c``, which inherits the environment, so a sanitizer preloaded for the
parent covers the child); the child draws the cases (derandomized, no example
database: CI reruns the same cases), writes each case to a log *before* running
it, then its outcome:

    ok      the right answer (against the group's reference)
    named   a TypeError/ValueError whose message names what is wrong
    wrong   anything else: a wrong answer, an unnamed or unexpected exception,
            x modified

The parent fails when a case is wrong, or when the child dies (a signal, a
sanitizer report, a timeout), naming the last case started.  Checks never raise
into hypothesis, so every case runs (no shrinking); failures are reported
shortest description first, which is usually the simplest case.
"""

import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

# Set by .ci/run for the run under AddressSanitizer/UBSan: some defects (a
# misaligned pointer reaching C) are only visible there.

GROUPS = {}


class Wrong(AssertionError):
    """A case gave a wrong answer (the message says what and where)."""


class Named(Exception):
    """Raised by a check: the case ended in an acceptable named exception."""


def group(name, strategy, check, parts=None):
    """Register a group: `check(case)` returns normally for a right answer,
    raises Named for an acceptable exception, Wrong (or anything else) otherwise.

    With `parts`, `strategy(part)` gives the strategy of each part and the
    examples are shared out evenly: every part is covered, which a single
    sampled_from does not guarantee."""
    GROUPS[name] = (strategy, check, parts)


def expect_named(exc, *words, types=(TypeError, ValueError)):
    """Raise Named if exc is one of `types` and its message names one of
    `words` (as a whole word); Wrong otherwise."""
    msg = str(exc)
    if isinstance(exc, types) and any(
            re.search(r"(?<![A-Za-z0-9_])" + re.escape(w) + r"(?![A-Za-z0-9_])", msg)
            for w in words):
        raise Named(f"{type(exc).__name__}: {msg}")
    raise Wrong(f"expected a TypeError/ValueError naming {' or '.join(words)}; got "
                f"{type(exc).__name__}: {msg}")


def close(got, ref, tol, what):
    """|got - ref| <= tol * (1 + max|ref|), elementwise, same shape."""
    ref = np.asarray(ref, dtype=np.float64)
    if np.shape(got) != ref.shape:
        raise Wrong(f"{what}: shape {np.shape(got)}, expected {ref.shape}")
    g = np.asarray(got)
    if g.dtype.kind not in "fiub":
        raise Wrong(f"{what}: dtype {g.dtype}, expected real numbers")
    g = g.astype(np.float64)
    scale = 1.0 + (float(np.max(np.abs(ref))) if ref.size else 0.0)
    err = np.abs(g - ref)
    if not np.all(err <= tol * scale):   # also catches NaN
        i = int(np.argmax(np.where(np.isnan(err), np.inf, err)))
        raise Wrong(f"{what}: entry {np.unravel_index(i, ref.shape) if ref.ndim else ()}"
                    f" = {g.reshape(-1)[i]!r}, expected {ref.reshape(-1)[i]!r} "
                    f"(tolerance {tol:g} x {scale:.3g})")


# --- the child ------------------------------------------------------------------------

def _child(module, name, log, max_examples):
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import UnsatisfiedAssumption

    importlib.import_module(module)
    strategy, check, parts = GROUPS[name]
    out = open(log, "a", buffering=1)

    def emit(**record):
        out.write(json.dumps(record) + "\n")
        out.flush()
        os.fsync(out.fileno())   # the line must survive a crash of this process

    def run(case):
        emit(start=repr(case))
        try:
            check(case)
        except Named as e:
            emit(status="named", detail=str(e))
        except Wrong as e:
            emit(status="wrong", detail=str(e))
        except UnsatisfiedAssumption:    # the case was rejected (assume)
            emit(status="rejected")
            raise
        except BaseException as e:   # an unexpected exception is a wrong answer too
            emit(status="wrong", detail="unexpected " + "".join(
                traceback.format_exception_only(type(e), e)).strip()
                + "\n" + "".join(traceback.format_tb(e.__traceback__)[-3:]))
        else:
            emit(status="ok")

    for part in (None,) if parts is None else parts:
        n = max_examples if parts is None else -(-max_examples // len(parts))
        test = given(strategy if parts is None else strategy(part))(
            lambda case: run(case))
        settings(max_examples=n, derandomize=True, database=None, deadline=None,
                 phases=[Phase.explicit, Phase.generate],
                 suppress_health_check=list(HealthCheck))(test)()
    emit(done=True)


def run_group(module, name, max_examples, timeout=600):
    """Run group `name` of tests/<module>.py in a child; fail on a crash or a
    wrong case.  Returns the count of each outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        env = dict(os.environ)
        env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
        code = (f"import fuzz_support; fuzz_support._child({module!r}, {name!r}, "
                f"{log!r}, {int(max_examples)})")
        died = None
        try:
            p = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp,
                               capture_output=True, text=True, timeout=timeout)
            if p.returncode < 0:
                died = f"killed by signal {-p.returncode}"
            elif p.returncode:
                died = f"exited with status {p.returncode}"
            stderr = p.stderr
        except subprocess.TimeoutExpired as e:
            died = f"timed out after {timeout} s"
            stderr = e.stderr.decode(errors="replace") if e.stderr else ""
        with open(log) as fh:
            records = [json.loads(line) for line in fh if line.strip()]

    cases, last = [], None
    for r in records:
        if "start" in r:
            last = r["start"]
        elif "status" in r:
            cases.append((r["status"], last, r.get("detail", "")))
            last = None
    if died or not (records and records[-1].get("done")):
        pytest.fail(f"fuzz group {name!r}: the child {died or 'stopped early'} "
                    f"while running case:\n  {last}\nits stderr ends with:\n"
                    f"{stderr[-4000:]}", pytrace=False)
    wrong = sorted((c for c in cases if c[0] == "wrong"), key=lambda c: len(c[1]))
    if wrong:
        shown = "\n".join(f"- {case}\n    {detail}" for _, case, detail in wrong[:5])
        pytest.fail(f"fuzz group {name!r}: {len(wrong)} of {len(cases)} cases wrong "
                    f"(shortest first):\n{shown}", pytrace=False)
    counts = {s: sum(c[0] == s for c in cases) for s in ("ok", "named", "rejected")}
    counts["examples"] = len(cases)
    return counts
