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


def test_readme_python_blocks(capsys):
    """Each ```python block of the README runs, in order in one namespace; a block
    with lines starting '# ' prints exactly those lines."""
    text = README.read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert blocks, "README has no python examples"
    ns = {}
    for block in blocks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(block, str(README), "exec"), ns)
        out = capsys.readouterr().out
        shown = [line[2:] for line in block.splitlines() if line.startswith("# ")]
        if shown:
            assert out.splitlines() == shown
    # the SciPy section's solvers reach the Rosenbrock minimum
    np.testing.assert_allclose(ns["fit"].x, 1.0, rtol=1e-6)
    np.testing.assert_allclose(ns["sol"].x, 1.0, rtol=1e-6)
    np.testing.assert_allclose(ns["res"].x, 1.0, rtol=1e-5)


def test_readme_counts_of_supported_functions():
    text = README.read_text()
    # NumPy's own ufuncs: scipy.special's join the list once SciPy is loaded
    ufuncs = [n for n in dualfd.Dual.supported_ufuncs() if hasattr(np, n)]
    assert f"{len(ufuncs)} NumPy ufuncs" in text
    assert f"{len(dualfd.Dual.supported_functions())} NumPy functions" in text
