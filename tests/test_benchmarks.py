"""The benchmark runner works end to end on one tiny case (dualfd only, no peers)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

RUN_PY = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_smoke_run_writes_results(run, tmp_path):
    report = run.main(["--smoke", "--out", str(tmp_path)])

    data = json.loads((tmp_path / "results.json").read_text())
    assert data["mode"] == "smoke"
    ok = [r for r in data["rows"] if r["status"] == "ok"]
    assert {r["library"] for r in data["rows"]} == {"dualfd"}
    assert {"forward", "central", "complex", "central vec"} <= {r["method"] for r in ok}
    for r in ok:
        assert r["median"] > 0 and r["q1"] <= r["median"] <= r["q3"]
        assert r["x_floor"] > 0
        assert r["error"] < 1e-6, r   # speed is never bought with wrong answers
    # a method that is not built yet, or fails, is reported, not fatal
    assert {r["status"] for r in data["rows"]} <= {"ok", "unavailable", "failed"}

    text = (tmp_path / "results.md").read_text()
    assert "## Rosenbrock gradient" in text and "## Targets" in text
    assert [t["target"] for t in data["targets"]] == [t["target"] for t in report["targets"]]
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "results.png").stat().st_size > 0


def test_missing_peer_is_skipped_with_one_line(run, monkeypatch, capsys):
    def not_installed():
        raise ImportError("No module named 'nosuchpeer'", name="nosuchpeer")

    monkeypatch.setitem(run.LIBRARIES, "nosuchpeer", ("pip install nosuchpeer", not_installed))
    methods, versions = run.load_methods(["nosuchpeer"])
    assert methods == [] and versions == {"nosuchpeer": "not installed"}
    assert capsys.readouterr().err.count("skip nosuchpeer: not installed") == 1


def test_unavailable_method_is_reported(run):
    inst = run.TASKS["rosenbrock"].make(2)

    def build(inst):
        raise NotImplementedError("method='dual' is not built yet")

    method = run.Method("dualfd", "dual", "exact", ("grad",), build)
    row = run.time_case(inst, method, run.MODES["smoke"])
    assert row["status"] == "unavailable" and "not built yet" in row["note"]
