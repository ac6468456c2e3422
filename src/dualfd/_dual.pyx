# cython: language_level=3
"""Forward-mode dual numbers (placeholder until the Dual engine lands)."""


class Dual:
    def __init__(self, *a, **k):
        raise NotImplementedError("Dual is not built yet")


def dual_jacobian(f, x, args, kwargs, chunk, want_value):
    raise NotImplementedError("method='dual' is not built yet")


def dual_jvp(f, x, v, args, kwargs):
    raise NotImplementedError("method='dual' is not built yet")
