"""The method="adaptive" benchmark (benchmarks/adaptive.py) runs end to end, counts what
it claims to count, and refuses to pass with a wrong dualfd Jacobian."""

import json
import sys

import numpy as np
import pytest

import bench_support

import dualfd   # noqa: F401  (imported here, not first inside main() under capsys)


@pytest.fixture(scope="module")
def bench():
    with bench_support.loaded("adaptive") as module:
        yield module


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("adaptive")
    proc = bench_support.run("adaptive", "--smoke", "--out", out, timeout=300)
    return proc, out


def rows_by_method(out):
    data = json.loads((out / "adaptive.json").read_text())
    return data, {r["method"]: r for r in data["rows"]}


def test_smoke_exits_0_with_a_right_row_for_every_dualfd_method(bench, smoke):
    proc, out = smoke
    assert proc.returncode == 0, proc.stderr
    data, by = rows_by_method(out)
    dualfd = [m for m, spec in bench.METHODS.items() if spec[0] == "dualfd"]
    assert set(dualfd) <= set(by)
    n = 2   # Powell badly scaled
    for name in dualfd:
        r = by[name]
        assert r["status"] == "ok", r
        assert r["error"] <= 1e-6
        assert r["runs"] == 2 and r["q1"] <= r["median"] <= r["q3"]
        if "adaptive" in name:
            # the counting wrapper is independent of the engine's own count; the
            # vectorized mode evaluates f(x) once more than info reports (see the report)
            extra = 1 if name.endswith(" vec") else 0
            assert r["info_nfev"] <= r["evals"] <= r["info_nfev"] + extra
            assert r["info_ncalls"] <= r["calls"] <= r["info_ncalls"] + extra
            assert 0.0 <= r["bounded"] <= 1.0 and r["converged"] == 1.0
    # fixed stencils: central 2 points per column, order p: p per column plus f(x)
    assert by["dualfd central"]["evals"] == by["dualfd central"]["calls"] == 2 * n
    assert by["dualfd central vec"]["calls"] == 1
    assert by["dualfd order=4"]["evals"] == 4 * n + 1
    assert by["dualfd order=8"]["evals"] == 8 * n + 1
    assert "WRONG" not in (out / "adaptive.md").read_text()
    assert data["targets"][-1]["status"] == "PASS"   # no dualfd result off by > 1e-6


def test_smoke_has_the_numdifftools_row(bench, smoke):
    pytest.importorskip("numdifftools")
    _, out = smoke
    data, by = rows_by_method(out)
    r = by["numdifftools Jacobian"]
    assert r["status"] == "ok" and r["error"] < 1e-8
    assert r["evals"] == r["calls"]   # one point per call
    ratio = next(x for x in data["ratios"] if x["peer"] == "numdifftools")
    assert ratio["ours"] == "dualfd adaptive"
    assert ratio["evals_ratio"] == r["evals"] / by["dualfd adaptive"]["evals"]


def test_smoke_has_the_scipy_differentiate_row(bench, smoke):
    pytest.importorskip("scipy.differentiate")
    _, out = smoke
    data, by = rows_by_method(out)
    r = by["scipy differentiate.jacobian"]
    assert r["status"] == "ok" and r["error"] < 1e-8
    assert r["evals"] > r["calls"] and r["nfev_entry_max"] >= r["nfev_entry_median"] > 0
    ratio = next(x for x in data["ratios"] if x["peer"] == "scipy.differentiate")
    assert ratio["ours"] == "dualfd adaptive vec"
    assert ratio["time_ratio"] == r["median"] / by["dualfd adaptive vec"]["median"]
    text = (out / "adaptive.md").read_text()
    assert "dualfd's scaled error <= max(peer's scaled error, 1e-13)" in text
    assert "| powell x0 | scipy.differentiate | dualfd adaptive vec |" in text


def test_smoke_plot_when_matplotlib_is_there(smoke):
    pytest.importorskip("matplotlib")
    _, out = smoke
    assert (out / "adaptive.png").stat().st_size > 0


def test_a_wrong_dualfd_jacobian_fails_the_run(bench, tmp_path, capsys):
    def off_by_a_little(name, f):
        jac = bench.build(name, f)
        if name != "dualfd central":
            return jac
        return lambda x: (jac(x)[0] * (1 + 1e-5), {})

    assert bench.main(["--smoke", "--out", str(tmp_path)], build=off_by_a_little) == 1
    err = capsys.readouterr().err
    assert "1 dualfd result(s) wrong or failed: powell x0: dualfd central: error" in err
    _, by = rows_by_method(tmp_path)
    assert by["dualfd central"]["status"] == "wrong"
    assert by["dualfd central vec"]["status"] == "ok"
    assert "WRONG" in (tmp_path / "adaptive.md").read_text()


def test_missing_peers_and_matplotlib_are_skipped_with_a_note(bench, tmp_path, monkeypatch,
                                                              capsys):
    monkeypatch.setattr(bench, "available", lambda library: library == "dualfd")
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib now fails
    assert bench.main(["--smoke", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "numdifftools: not installed, its rows are skipped" in err
    assert "scipy.differentiate: not installed, its rows are skipped" in err
    assert "matplotlib is not importable: no adaptive.png" in err
    data, by = rows_by_method(tmp_path)
    assert all(r["library"] == "dualfd" for r in data["rows"]) and data["ratios"] == []
    assert not (tmp_path / "adaptive.png").exists()


def test_counted_takes_points_from_the_trailing_shape(bench):
    counted = bench.Counted(lambda x: x[0])
    counted(np.zeros(3))
    counted(np.zeros((3, 4, 5)))
    assert (counted.calls, counted.points) == (2, 1 + 20)


def test_scaled_error_against_hand_values(bench):
    exact = np.array([[4.0, 0.0], [0.0, -0.5]])
    assert bench.scaled_error(exact + [[0.0, 2e-3], [0.0, 0.0]], exact) == pytest.approx(5e-4)
    small = np.array([[0.1, 0.0]])   # max|J| < 1: absolute error
    assert bench.scaled_error(small + 1e-3, small) == pytest.approx(1e-3)
    assert bench.scaled_error(np.array([[np.nan, 0.0], [0.0, 0.0]]), exact) == np.inf
    assert bench.scaled_error(np.zeros(3), exact) == np.inf
