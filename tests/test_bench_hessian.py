"""The Hessian / hvp benchmark (benchmarks/hessian.py) runs end to end without the optional
peers, reports what it skips, and refuses to pass with a wrong dualfd Hessian."""

import json
import sys

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_hess, rosen_hess_prod

import bench_support

import dualfd   # noqa: F401  (imported here, not first inside main() under capsys)

PEERS = {"jax": "jax", "torch": "torch", "num-dual": "num_dual", "fastdual": "fastdual"}
DUAL = 'hessian(method="dual")'


@pytest.fixture(scope="module")
def bench():
    with bench_support.loaded("hessian") as module:
        yield module


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("hessian")
    proc = bench_support.run("hessian", "--smoke", "--out", out, timeout=300)
    return proc, out


def rows_of(out):
    data = json.loads((out / "hessian.json").read_text())
    return data, {(r["section"], r["library"], r["method"]): r for r in data["rows"]}


def without_peers(bench, monkeypatch):
    """Each optional peer's factory fails its import as it would where it is absent
    (None in sys.modules instead would break SciPy's own probing for torch)."""
    for library, module in PEERS.items():
        def factory(module=module):
            raise ImportError(f"No module named {module!r}", name=module)
        install, _ = bench.LIBRARIES[library]
        monkeypatch.setitem(bench.LIBRARIES, library, (install, factory))


def test_smoke_exits_0_and_writes_the_dualfd_rows(smoke):
    proc, out = smoke
    assert proc.returncode == 0, proc.stderr
    data, by = rows_of(out)
    for method in (DUAL, 'hessian(method="central")', 'hessian(method="adaptive")'):
        r = by[("hessian", "dualfd", method)]
        assert r["status"] == "ok", r
        assert r["n"] == 10 and r["error"] <= 1e-6 and r["q1"] <= r["median"] <= r["q3"]
    assert by[("hessian", "dualfd", DUAL)]["x_dual"] == 1.0
    assert by[("hvp", "dualfd", DUAL + " @ v")]["error"] <= 1e-6
    text = (out / "hessian.md").read_text()
    assert f"| rosenbrock | 10 | dualfd {DUAL} |" in text
    assert "| rosenbrock | 10 | f(x), one plain call |" in text
    assert "WRONG" not in text and "## Targets" in text
    assert data["targets"][-1]["status"] == "PASS"   # no dualfd result off by > 1e-6
    assert text.strip() in proc.stdout   # the table is also printed


def test_smoke_plot_when_matplotlib_is_there(smoke):
    pytest.importorskip("matplotlib")
    _, out = smoke
    assert (out / "hessian.png").stat().st_size > 0


def test_missing_peers_are_listed_not_fatal(bench, tmp_path, monkeypatch, capsys):
    without_peers(bench, monkeypatch)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert bench.main(["--smoke", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    for library in ("jax", "torch", "num-dual", "fastdual"):
        assert f"skip {library}: not installed" in err
    assert "matplotlib is not importable: no hessian.png" in err
    data, _ = rows_of(tmp_path)
    # numdifftools and scipy.differentiate (SciPy >= 1.15) may be missing too in CI
    assert {"jax", "torch", "num-dual", "fastdual"} <= {lib for lib, _ in data["missing"]}
    assert not {"jax", "torch", "num-dual", "fastdual"} & {r["library"] for r in data["rows"]}
    text = (tmp_path / "hessian.md").read_text()
    assert "Not installed (rows skipped): jax: not installed (jax)" in text
    # the jit goal has no JAX to compare with: n/a, not a crash or a PASS
    jit = next(t for t in data["targets"] if "jax.jit" in t["target"])
    assert jit["status"] == "n/a"
    assert not (tmp_path / "hessian.png").exists()


def test_a_wrong_dualfd_hessian_fails_the_run(bench, tmp_path, capsys):
    def off_by_a_little(method):
        if method.label != 'hessian(method="central")':
            return method.make
        return lambda case: (lambda thunk: lambda: thunk() * (1 + 1e-5))(method.make(case))

    assert bench.main(["--smoke", "--libs", "dualfd", "--out", str(tmp_path)],
                      build=off_by_a_little) == 1
    err = capsys.readouterr().err
    assert ('1 dualfd result(s) wrong: hessian rosenbrock n=10: hessian(method="central"): '
            "error") in err
    _, by = rows_of(tmp_path)
    assert by[("hessian", "dualfd", 'hessian(method="central")')]["status"] == "wrong"
    assert by[("hessian", "dualfd", DUAL)]["status"] == "ok"
    assert "WRONG" in (tmp_path / "hessian.md").read_text()


def test_a_dualfd_method_writing_into_x_fails_the_run(bench, tmp_path, capsys):
    def scribbling(method):
        if method.label != 'hessian(method="central")':
            return method.make

        def make(case):
            thunk = method.make(case)

            def call():
                H = thunk()
                case.x[0] += 1.0
                return H
            return call
        return make

    assert bench.main(["--smoke", "--libs", "dualfd", "--out", str(tmp_path)],
                      build=scribbling) == 1
    assert "modified the caller's x or v" in capsys.readouterr().err
    _, by = rows_of(tmp_path)
    assert by[("hessian", "dualfd", 'hessian(method="central")')]["status"] == "wrong"
    # x restored: the methods after it still see the point and get it right
    assert by[("hessian", "dualfd", 'hessian(method="adaptive")')]["status"] == "ok"


def test_dualfd_raising_is_refused_not_a_crash(bench, tmp_path, capsys):
    def refusing(method):
        if method.label != DUAL:
            return method.make

        def make(case):
            raise ValueError("hessian: no such luck")
        return make

    assert bench.main(["--smoke", "--libs", "dualfd", "--out", str(tmp_path)],
                      build=refusing) == 0
    _, by = rows_of(tmp_path)
    r = by[("hessian", "dualfd", DUAL)]
    assert r["status"] == "refused" and r["note"] == "ValueError: hessian: no such luck"
    assert "| rosenbrock | 10 | dualfd hessian(method=\"dual\") | refused |" in (
        tmp_path / "hessian.md").read_text()
    capsys.readouterr()


def test_hvp_rows_appear_when_dualfd_has_hvp(bench, tmp_path, monkeypatch, capsys):
    # a stand-in with the announced signature, exact by construction (SciPy's product)
    def hvp(f, *, method="dual", chunk=None):
        return lambda x, v: rosen_hess_prod(x, v)

    monkeypatch.setattr(dualfd, "hvp", hvp, raising=False)
    assert bench.main(["--smoke", "--libs", "dualfd", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    data, by = rows_of(tmp_path)
    r = by[("hvp", "dualfd", 'hvp(method="dual")')]
    assert r["status"] == "ok" and r["error"] == 0.0 and r["x_dual"] == 1.0
    target = next(t for t in data["targets"] if t["target"].startswith("dualfd hvp"))
    assert target["status"] == "PASS" and target["measured"] == "0.0e+00"


def test_without_hvp_its_rows_are_skipped(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.delattr(dualfd, "hvp", raising=False)
    assert bench.main(["--smoke", "--libs", "dualfd", "--out", str(tmp_path)]) == 0
    assert "dualfd has no hvp yet: its hvp rows are skipped" in capsys.readouterr().err
    data, by = rows_of(tmp_path)
    assert ("hvp", "dualfd", 'hvp(method="dual")') not in by
    target = next(t for t in data["targets"] if t["target"].startswith("dualfd hvp"))
    assert target["status"] == "n/a"


def test_a_call_predicted_too_slow_is_skipped_and_said(bench):
    case = next(c for c in bench.cases("smoke") if c.section == "hessian")
    methods, _ = bench.load_methods(["dualfd"])
    central = 'dualfd hessian(method="central")'
    rows = bench.run_case(case, methods, "smoke", {("rosenbrock", central): [(5, 0.2)]})
    r = next(r for r in rows if r["method"] == 'hessian(method="central")')
    assert r["status"] == "skipped" and "predicted ~800 ms (> 0.5 s)" in r["note"]
    assert next(r for r in rows if r["method"] == DUAL)["status"] == "ok"


def test_predicted_scales_by_the_observed_slope_at_least_the_floor(bench):
    assert bench.predicted([], 100) is None
    assert bench.predicted([(10, 1e-3)], 100) == pytest.approx(0.1)
    assert bench.predicted([(10, 1e-3), (100, 2e-3)], 1000) == pytest.approx(0.2)   # slope 2
    assert bench.predicted([(10, 1e-3), (100, 1.0)], 1000) == pytest.approx(1000.0)  # slope 3
    assert bench.predicted([(10, 1e-3), (100, 2e-3)], 1000, least=0.5) == pytest.approx(
        2e-3 * 10 ** 0.5)
    assert bench.predicted([(10, 1e-3)], 1000, least=1.0) == pytest.approx(0.1)


def test_problems_match_their_references(bench):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=7)
    assert bench.rosen(x) == pytest.approx(rosen(x), rel=1e-15)
    X = rng.uniform(-2, 2, size=(7, 3))   # scipy.differentiate's batches on trailing axes
    np.testing.assert_allclose(bench.rosen(X), [rosen(X[:, k]) for k in range(3)], rtol=1e-15)
    case = next(c for c in bench.cases("quick") if c.problem == "gauss")
    # the analytic Gaussian Hessian against central differences of a complex-step
    # gradient (SciPy >= 1.11, which the test extra asks for)
    from scipy.optimize._numdiff import approx_derivative

    def gradient(t):
        return approx_derivative(case.f, t, method="cs")

    reference = approx_derivative(gradient, case.x, method="3-point")
    np.testing.assert_allclose(reference, case.exact, rtol=1e-6,
                               atol=1e-7 * np.abs(case.exact).max())
    assert np.count_nonzero(case.exact) == 4 * bench.GAUSS_P   # mu-mu, s-s, mu-s twice
    np.testing.assert_array_equal(
        next(c for c in bench.cases("smoke") if c.section == "hessian").exact,
        rosen_hess(bench.rosen_point(10)))


def test_relative_error_against_hand_values(bench):
    exact = np.array([[4.0, 0.0], [0.0, -0.5]])
    assert bench.relative_error(exact + [[0.0, 2e-3], [0.0, 0.0]], exact) == pytest.approx(5e-4)
    small = np.array([0.1, 0.0])   # relative to max|exact| even below 1
    assert bench.relative_error(small + [1e-3, 0.0], small) == pytest.approx(1e-2)
    assert bench.relative_error(np.array([[np.nan, 0.0], [0.0, 0.0]]), exact) == np.inf
    assert bench.relative_error(np.zeros(3), exact) == np.inf
