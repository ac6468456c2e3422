"""`python -m dualfd` runs, explains its terms, compares with SciPy and says where to go
next.  Structure only: no timing assertions (the machine may be slow and noisy)."""

import pathlib
import re
import subprocess
import sys

import pytest

import dualfd

ROOT = pathlib.Path(__file__).resolve().parents[1]
TIME = r"\d+(?:\.\d+)? (?:us|ms)"
# Run the demo as `python -m dualfd`; the variant hides SciPy as if not installed.
RUN = "import runpy; runpy.run_module('dualfd', run_name='__main__', alter_sys=True)"
NO_SCIPY = "import sys; sys.modules['scipy'] = None; " + RUN


def demo(code):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # An editable install may print its rebuild first: the demo starts at its banner.
    start = [i for i, line in enumerate(lines)
             if line.startswith(f"dualfd {dualfd.__version__}:")]
    assert len(start) == 1, proc.stdout
    return lines[start[0]:]


@pytest.fixture(scope="module")
def output():
    pytest.importorskip("scipy")
    return demo(RUN)


def section(lines, title):
    """The indented lines under the heading starting with `title`."""
    i = next(i for i, line in enumerate(lines) if line.startswith(title))
    body = []
    for line in lines[i + 1:]:
        if not line.startswith("  "):
            break
        body.append(line.strip())
    return body


def test_sections_in_order(output):
    titles = ["Terms", "1. Gradient", "2. Jacobian", "3. Time per Jacobian", "Read next"]
    where = [next(i for i, line in enumerate(output) if line.startswith(t))
             for t in titles]
    assert where == sorted(where)
    assert output[-1].startswith("  ")  # ends with the pointers, nothing after


def test_every_term_explained_once_before_use(output):
    terms = section(output, "Terms")
    for term in ("forward", "central", "complex", "dual", "loop", "vectorized",
                 "Broyden tridiagonal"):
        explained = [line for line in terms if line.startswith(term + " ")]
        assert len(explained) == 1, term
        assert len(explained[0]) > len(term) + 10, term  # a real explanation
    first_use = next(i for i, line in enumerate(output) if line.startswith("1."))
    assert output.index("Terms") < first_use


def test_accuracy_lines_meet_each_methods_bar(output):
    # Errors the demo prints against analytic derivatives: each method's known
    # accuracy (FD truncation and rounding; exact for complex step and duals).
    bar = {"forward": 1e-6, "central": 1e-9, "complex": 1e-14, "dual": 1e-14}
    for title in ("1. Gradient", "2. Jacobian"):
        rows = [line for line in section(output, title) if "max rel error" in line]
        assert {row.split()[0] for row in rows} == set(bar)
        for row in rows:
            err = float(row.rsplit(None, 1)[1])
            assert err <= bar[row.split()[0]], row


def test_timing_table_side_by_side_with_scipy(output):
    rows = section(output, "3. Time per Jacobian")
    assert rows[0].startswith("library, method")
    timed = [row for row in rows if re.search(rf"\s{TIME}\s+\S+$", row)]
    names = [re.split(rf"\s{{2,}}(?={TIME})", row)[0] for row in timed]
    assert {"dualfd dual", "dualfd central, vectorized", "dualfd central, loop",
            "SciPy approx_derivative 2-point",
            "SciPy approx_derivative 3-point"} <= set(names)
    for row in timed:  # the same problem: every row agrees with the analytic J
        assert float(row.split()[-1]) < 1e-6, row
    ratios = [row for row in rows if " vs SciPy " in row]
    assert ratios and all(re.search(r": \d+(\.\d+)?x$", row) for row in ratios)
    assert "median of" in next(line for line in output if line.startswith("3."))


def test_pointers_lead_somewhere(output):
    text = "\n".join(section(output, "Read next"))
    readme = (ROOT / "README.md").read_text()
    headings = [line.lstrip("#").strip() for line in readme.splitlines()
                if line.startswith("## ")]
    named = re.findall(r'"([^"]+)"', text)
    assert len(named) >= 4
    for name in named:  # each quoted README section exists
        assert any(h.startswith(name) for h in headings), name
    assert "python benchmarks/run.py --quick" in text
    assert "--quick" in (ROOT / "benchmarks" / "run.py").read_text()
    assert "docs" in text and (ROOT / "docs" / "conf.py").exists()


def test_runs_without_scipy():
    lines = demo(NO_SCIPY)
    rows = section(lines, "3. Time per Jacobian")
    assert not any(row.startswith("SciPy approx") for row in rows)
    assert any("SciPy is not installed" in row for row in rows)
    assert any(row.startswith("dualfd dual") for row in rows)
    assert section(lines, "Read next")
