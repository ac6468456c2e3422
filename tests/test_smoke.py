import numpy as np

import dualfd as dfd


def test_version():
    assert isinstance(dfd.__version__, str) and dfd.__version__.count(".") >= 1


def test_central_gradient_of_quadratic():
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(dfd.grad(lambda x: x @ x)(x), 2 * x, rtol=1e-9)
