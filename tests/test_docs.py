"""The Examples in the docstrings and the README's Python blocks run as written."""

import doctest
import pathlib
import warnings

import numpy as np
import pytest

import dualfd
from dualfd import _api

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("obj", [_api.jacobian, _api.grad, _api.value_and_grad, _api.jvp,
                                 *(getattr(dualfd, name) for name in ("check_grad", "hessian",
                                                                    "jacobian_sparsity",
                                                                    "hessian_sparsity")
                                   if hasattr(dualfd, name))],
                         ids=lambda o: o.__name__)
def test_docstring_examples(obj):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(obj, globs={})
    assert tests and tests[0].examples, f"{obj.__name__} has no Examples"
    for t in tests:
        runner.run(t)
    assert runner.failures == 0


def _readme_blocks():
    text = README.read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert blocks, "README has no python examples"
    return blocks


@pytest.mark.parametrize("i", range(len(_readme_blocks())))
def test_readme_python_block_runs_alone(i, capsys):
    """Each ```python block of the README runs on its own, in a fresh namespace, as
    a reader who copies just that block would run it; a block with lines starting
    '# ' prints exactly those lines."""
    block = _readme_blocks()[i]
    ns = {"__name__": "__readme__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(block, f"{README}:block{i}", "exec"), ns)
    out = capsys.readouterr().out
    shown = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    if shown:
        assert out.splitlines() == shown
    # the SciPy section's solvers reach the Rosenbrock minimum
    for name, rtol in (("fit", 1e-6), ("sol", 1e-6), ("res", 1e-5)):
        if name in ns and hasattr(ns[name], "x") and "least_squares" in block:
            np.testing.assert_allclose(ns[name].x, 1.0, rtol=rtol)


def test_readme_counts_of_supported_functions():
    text = README.read_text()
    # NumPy's own ufuncs: scipy.special's join the list once SciPy is loaded
    ufuncs = [n for n in dualfd.Dual.supported_ufuncs() if hasattr(np, n)]
    assert f"{len(ufuncs)} NumPy ufuncs" in text
    assert f"{len(dualfd.Dual.supported_functions())} NumPy functions" in text


def test_readme_development_commands_install_what_the_build_needs():
    """The Development section's commands work in a fresh venv: the editable build
    runs without isolation, so every build requirement of pyproject.toml must be
    installed by the line before it, and the test extra (pytest) by the editable
    install itself."""
    import re
    import tomllib
    pyproject = tomllib.loads((README.parent / "pyproject.toml").read_text())
    text = README.read_text()
    dev = text.split("## Development", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = dev.strip().splitlines()
    editable = [i for i, line in enumerate(lines) if "--no-build-isolation" in line]
    assert editable, "no editable install in the Development section"
    before = " ".join(lines[:editable[0]])
    for req in pyproject["build-system"]["requires"]:
        name = re.split(r"[<>=!~ \[]", req, maxsplit=1)[0]
        assert name in before, f"the Development section does not install {name}"
    assert '".[test]"' in lines[editable[0]]
    assert lines[editable[0] + 1].strip() == "python -m pytest"
