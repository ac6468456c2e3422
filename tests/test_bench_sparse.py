"""The sparse-Jacobian benchmark (benchmarks/sparse.py) runs end to end at n = 100 and
checks what it times: every result against the analytic Jacobian, evaluation counts
against the colors."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

import bench_support
import problems


@pytest.fixture(scope="module")
def bench():
    with bench_support.loaded("sparse") as module:
        yield module


@pytest.fixture(scope="module")
def smoke(bench, tmp_path_factory):
    out = tmp_path_factory.mktemp("sparse")
    bench.main(["--smoke", "--out", str(out)])
    return out, json.loads((out / "sparse.json").read_text())


@pytest.mark.parametrize("name, dense", [
    ("broyden", problems.broyden_tridiagonal_jacobian),
    ("bratu2d", problems.bratu2d_jacobian)])
def test_analytic_sparse_jacobians_match_the_dense_ones(bench, name, dense):
    # the benchmark's own sparse references against tests/problems.py's dense ones
    f, x, pattern, exact = bench.PROBLEMS[name][1]((49, 7))
    J = exact(x)
    np.testing.assert_allclose(J.toarray(), dense(x), rtol=1e-15, atol=0)
    assert not (dense(x) != 0)[~pattern.toarray()].any()   # the pattern holds every non-zero


def test_smoke_run_has_every_row_and_each_is_right(bench, smoke):
    out, data = smoke
    rows = data["rows"]
    assert {(r["problem"], r["case"]) for r in rows} == {
        (p, c) for p in bench.PROBLEMS for c in bench.CASES}
    for r in rows:
        assert r["status"] == "ok", r
        assert r["error"] <= r["tol"] and r["correct"], r
        assert r["median"] > 0 and r["q1"] <= r["median"] <= r["q3"]
        assert r["f_call"] > 0 and r["x_floor"] > 0
        assert r["peak_mb"] is None   # in-process: no per-case peak
        if r["sparsity"] in ("given", "auto"):
            longest_row = 3 if r["problem"] == "broyden" else 5
            assert r["colors"] >= longest_row   # a row's columns all need distinct colors
    by = {(r["problem"], r["case"]): r for r in rows}
    for p in bench.PROBLEMS:
        for s in ("given", "auto"):
            fwd, cen = by[p, f"dualfd forward {s}"], by[p, f"dualfd central {s}"]
            vec, dual = by[p, f"dualfd central vec {s}"], by[p, f"dualfd dual {s}"]
            assert fwd["evals"] == fwd["calls"] == fwd["colors"] + 1
            assert cen["evals"] == cen["calls"] == 2 * cen["colors"]
            assert vec["evals"] == 2 * vec["colors"] and vec["calls"] < vec["evals"]
            assert dual["calls"] == 1
        # SciPy evaluates f(x0), then one (2-point) or two (3-point) points per group
        assert by[p, "scipy 2-point"]["evals"] == by[p, "scipy 2-point"]["colors"] + 1
        assert by[p, "scipy 3-point"]["evals"] == 2 * by[p, "scipy 3-point"]["colors"] + 1
        assert by[p, "dualfd central dense"]["evals"] == 2 * 100

    text = (out / "sparse.md").read_text()
    assert "## Broyden tridiagonal (MGH 30), n = 100" in text
    assert "## 2-D Bratu, 5-point stencil, N x N grid, n = 100" in text
    assert "## Targets" in text and "WRONG" not in text
    targets = {t["target"]: t["status"] for t in data["targets"]}
    assert targets["results off the analytic Jacobian by more than the method's "
                   "tolerance"] == "PASS"
    assert any(t.startswith("sparse FD loop forward, n ~ 1e2: worst") for t in targets)


def test_a_wrong_jacobian_is_reported_not_timed_as_fine(bench, monkeypatch):
    build = bench.build

    def off_by_a_little(case, f, pattern):
        jac, colors = build(case, f, pattern)
        return (lambda x: jac(x) * (1 + 1e-6)), colors

    monkeypatch.setattr(bench, "build", off_by_a_little)
    row = bench.run_case("broyden", "1e2", "dualfd central given", bench.house.MODES["smoke"],
                         in_process=True)
    assert row["status"] == "wrong" and not row["correct"]
    assert row["note"].startswith("error ")


def test_missing_tracer_prints_auto_not_available(bench, monkeypatch):
    monkeypatch.setattr(bench, "tracer_available", lambda: False)
    row = bench.run_case("bratu2d", "1e2", "dualfd dual auto", bench.house.MODES["smoke"],
                         in_process=True)
    assert row["status"] == "unavailable" and row["note"] == "auto: not available"


def test_one_case_in_a_subprocess_reports_its_peak_memory(bench):
    proc = bench_support.run("sparse", "--case", "bratu2d", "1e2", "dualfd dual auto",
                             "--smoke", timeout=120)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    assert row["status"] == "ok" and row["correct"]
    assert row["colors"] >= 5 and row["calls"] == 1
    assert isinstance(row["peak_mb"], float) and 0 <= row["peak_mb"] < 1024
