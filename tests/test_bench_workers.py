"""The parallel-evaluation benchmark (benchmarks/workers.py) runs end to end in --smoke
mode: every parallel Jacobian equals the serial one bitwise, the evaluation and task
counts are the stencils', the report has its rows, and a mismatch fails the run.
No timing is asserted."""

import importlib.util
import json
import math

import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative

import bench_support

import dualfd._workers   # noqa: F401  (imported here, not under capsys: the benchmark uses it)

HAS_DASK = importlib.util.find_spec("distributed") is not None


@pytest.fixture(scope="module")
def bench():
    with bench_support.loaded("workers") as module:
        yield module


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    # a subprocess: its pools, its Dask cluster and its BLAS pinning are its own
    out = tmp_path_factory.mktemp("workers")
    proc = bench_support.run("workers", "--smoke", "--out", out, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc, out, json.loads((out / "workers.json").read_text())


def test_f_is_smooth_and_the_complex_step_agrees_with_scipy(bench):
    # the benchmark's f is a real function of x: its Jacobian (complex step, exact to
    # rounding here) matches SciPy's central differences and is dense
    n = 5
    consts = bench.make_constants(n, steps=10)
    x = np.linspace(-1.0, 1.0, n)
    J_cs = np.stack([bench.slow_f(x + 1e-30j * e, consts).imag / 1e-30 for e in np.eye(n)],
                    axis=1)
    J_sp = approx_derivative(bench.slow_f, x, method="3-point", args=(consts,))
    assert J_cs.shape == (bench.M_OUT, n)
    np.testing.assert_allclose(J_sp, J_cs, rtol=1e-6, atol=1e-9)
    assert np.all(J_cs != 0)


def test_smoke_run_rows_are_bitwise_equal_to_serial(smoke):
    proc, out, data = smoke
    engines = {"dualfd serial", "dualfd workers=2", "scipy serial", "scipy workers=2",
               "scipy Pool(2).map"} | ({"dualfd Dask"} if HAS_DASK else set())
    rows = data["rows"]
    assert {(r["n"], r["stencil"], r["engine"]) for r in rows} == {
        (4, s, e) for s in ("forward", "central")
        for e in engines | {"bare f, 2 processes"}}
    for r in rows:
        assert r["median"] > 0 and r["first_call"] > 0, r
        if r["workers"] and r["library"] != "none":
            assert r["equal"] is True, r
        else:
            assert r["equal"] is None, r
    by = {(r["stencil"], r["engine"]): r for r in rows}
    n = 4
    for engine in engines | {"bare f, 2 processes"}:   # the stencils' evaluation counts
        lib = engine.split()[0]
        assert by["forward", engine]["evals"] == n + 1, engine
        # SciPy always evaluates f(x0), also for '3-point'
        assert by["central", engine]["evals"] == 2 * n + (lib == "scipy"), engine
    for engine in engines - {"dualfd serial", "scipy serial"}:
        if engine.startswith("dualfd"):   # one task per worker per Jacobian
            assert by["forward", engine]["tasks"] == by["central", engine]["tasks"] == 2
    assert (data["dask_startup"] is not None) == HAS_DASK

    text = (out / "workers.md").read_text()
    assert text in proc.stdout
    for heading in ("## n = 4, forward ('2-point'), t_f = ",
                    "## n = 4, central ('3-point'), t_f = ",
                    "## Dask", "## Projection: 1,000 parameters", "## Targets"):
        assert heading in text
    assert "MISMATCH" not in text
    targets = {t["target"]: t["status"] for t in data["targets"]}
    assert targets["parallel Jacobians not bitwise equal to the serial ones"] == "PASS"


def test_projection_follows_the_formula(smoke):
    _, _, data = smoke
    proj = {p["stencil"]: p for p in data["projection"]}
    assert proj["central"]["evals"] == 2000 and proj["forward"]["evals"] == 1001
    assert proj["central"]["compute"] == 20 * 5.0      # ceil(2000 / 100) rounds of 5 s
    assert proj["forward"]["compute"] == 11 * 5.0      # ceil(1001 / 100)
    assert proj["central"]["serial"] == 2000 * 5.0
    if HAS_DASK:
        ovh = max(r["overhead_per_task"] for r in data["rows"] if r["engine"] == "dualfd Dask")
        assert math.isclose(proj["central"]["parallel"], 100.0 + max(ovh, 0.0))
    else:
        assert proj["central"]["parallel"] is None


def test_a_parallel_result_off_by_one_ulp_fails_the_run(bench, monkeypatch, tmp_path, capsys):
    real = bench.approx_derivative

    def off_when_parallel(*args, **kwargs):
        J = real(*args, **kwargs)
        return np.nextafter(J, np.inf) if kwargs.get("workers") is not None else J

    monkeypatch.setattr(bench, "approx_derivative", off_when_parallel)
    with pytest.raises(SystemExit) as exc:
        bench.main(["--smoke", "--no-dask", "--out", str(tmp_path)])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "MISMATCH: n = 4, forward, scipy workers=2" in err
    assert "MISMATCH: n = 4, central, scipy Pool(2).map" in err
    assert "dualfd workers=2" not in err.split("MISMATCH", 1)[1]
    data = json.loads((tmp_path / "workers.json").read_text())
    targets = {t["target"]: t["status"] for t in data["targets"]}
    assert targets["parallel Jacobians not bitwise equal to the serial ones"] == "MISS"
