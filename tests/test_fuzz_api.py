"""Fuzz the public transforms over inputs a user can produce.

Every group runs in a child process (tests/fuzz_support.py), so a crash fails
the test and names the case.  Each case must give the right answer -- against
the analytic derivative of the reference functions below -- or a TypeError /
ValueError whose message names the argument at fault; exceptions raised by f
propagate unchanged, and the caller's x is never modified.
"""

import copy
import pickle

import numpy as np
import pytest
from hypothesis import strategies as st

import dualfd as dfd
import fuzz_support as fz
from fuzz_support import Named, Wrong, close, expect_named

MOD = "test_fuzz_api"
EXAMPLES = 150

# Accuracy of each method on the reference functions (x in [-3, 3], n <= 6),
# relative to 1 + max|reference|: generous for the stencils, whose errors are
# ~1e-10 (central) and ~1e-7 (one-sided); the bars are there to catch wrong
# answers, not to grade the stencils (test_fd*.py does that).
TOL = {"dual": 1e-12, "complex": 1e-12, "central": 1e-7, "forward": 1e-5,
       "backward": 1e-5}
HESS_TOL = {"dual": 1e-7, "complex": 1e-7, "central": 1e-5}
METHODS = ("central", "forward", "backward", "complex", "dual")
HESS_METHODS = ("dual", "complex", "central")
TRANSFORMS = ("grad", "value_and_grad", "jacobian", "jvp", "hessian", "check_grad")
SCALAR_OUT = {"grad", "value_and_grad", "hessian"}


# --- reference functions with analytic derivatives ----------------------------------
# Each takes nd = x's own ndim so that it also works vectorized (a trailing axis
# of points): reductions run over x's axes only.

def _axes(nd):
    return tuple(range(nd))


class Ref:
    """A reference function: value, Jacobian (f.shape + x.shape), Hessian."""

    def __init__(self, name, scalar):
        self.name, self.scalar = name, scalar

    def __repr__(self):
        return self.name

    def f(self, nd):
        if self.name == "sum(x*sin(x))":
            return lambda x: np.sum(x * np.sin(x), axis=_axes(nd))
        if self.name == "sum(x*x)**2/4":
            return lambda x: 0.25 * np.sum(x * x, axis=_axes(nd)) ** 2
        if self.name == "sin(x)":
            return np.sin
        if self.name == "x*sum(x)":
            return lambda x: x * np.sum(x, axis=_axes(nd))
        raise AssertionError(self.name)

    def value(self, x):
        return np.asarray(self.f(x.ndim)(x), dtype=np.float64)

    def jac(self, x):
        n, s = x.size, x.shape
        if self.name == "sum(x*sin(x))":
            return x * np.cos(x) + np.sin(x)
        if self.name == "sum(x*x)**2/4":
            return np.sum(x * x) * x
        if self.name == "sin(x)":
            return (np.diag(np.cos(x).reshape(-1))).reshape(s + s)
        if self.name == "x*sum(x)":
            J = np.eye(n) * np.sum(x) + x.reshape(-1)[:, None]
            return J.reshape(s + s)
        raise AssertionError(self.name)

    def hess(self, x):
        n, s = x.size, x.shape
        v = x.reshape(-1)
        if self.name == "sum(x*sin(x))":
            H = np.diag(2 * np.cos(v) - v * np.sin(v))
        elif self.name == "sum(x*x)**2/4":
            H = 2 * np.outer(v, v) + np.sum(v * v) * np.eye(n)
        else:
            raise AssertionError(self.name)
        return H.reshape(s + s)


SCALAR_REFS = [Ref("sum(x*sin(x))", True), Ref("sum(x*x)**2/4", True)]
VECTOR_REFS = [Ref("sin(x)", False), Ref("x*sum(x)", False)]


# --- x as users pass it ---------------------------------------------------------------

REAL_DTYPES = ["f8", "f4", "f2", "g", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8",
               "?", ">f4", ">i4", ">u2"]   # a big-endian '>f8' has a group of its own
SHAPES = [(), (1,), (3,), (5,), (2, 3), (3, 1), (0,), (2, 0)]
LAYOUTS = ["c", "fortran", "strided", "reversed", "readonly", "list", "scalar"]


class X:
    """A test point: the object handed to dualfd and its float64 reading."""

    def __init__(self, obj, desc, x64):
        self.obj, self.desc, self.x64 = obj, desc, x64
        self.snapshot = copy.deepcopy(obj)
        self.writeable = obj.flags.writeable if isinstance(obj, np.ndarray) else None

    def __repr__(self):
        return self.desc

    def assert_unmodified(self):
        a, b = self.obj, self.snapshot
        if isinstance(a, np.ndarray):
            if (a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes()
                    or a.flags.writeable != self.writeable):
                raise Wrong(f"x was modified: {b!r} became {a!r}")
        elif a != b:
            raise Wrong(f"x was modified: {b!r} became {a!r}")


def _values(draw, shape, dtype):
    n = int(np.prod(shape, dtype=np.int64))
    kind = np.dtype(dtype).kind
    if kind == "b":
        elems = st.booleans()
    elif kind == "u":
        elems = st.integers(0, 3)
    elif kind == "i":
        elems = st.integers(-3, 3)
    else:   # exactly representable in float16, so every dtype reads the same number
        elems = st.integers(-96, 96).map(lambda i: i / 32)
    return np.array(draw(st.lists(elems, min_size=n, max_size=n)),
                    dtype=dtype).reshape(shape)


@st.composite
def points(draw, dtypes=REAL_DTYPES, layouts=LAYOUTS, shapes=SHAPES):
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(st.sampled_from(shapes))
    a = _values(draw, shape, dtype)
    layout = draw(st.sampled_from(layouts))
    x64 = a.astype(np.float64)
    if layout == "fortran" and a.ndim:     # asfortranarray makes a 0-d array 1-d
        obj = np.asfortranarray(a)
    elif layout == "strided" and a.ndim:
        big = np.zeros((2 * a.shape[0],) + a.shape[1:], dtype=a.dtype)
        big[::2] = a
        obj = big[::2]
    elif layout == "reversed" and a.ndim:
        obj = a[::-1].copy()[::-1]
    elif layout == "readonly":
        obj = a.copy()
        obj.flags.writeable = False
    elif layout == "list":
        obj = a.tolist()
    elif layout == "scalar" and a.ndim == 0:
        obj = draw(st.sampled_from(["numpy", "python"]))
        obj = a[()] if obj == "numpy" else a.item()
    else:
        layout = "c"
        obj = a
    return X(obj, f"x = {obj!r} ({layout}, dtype {np.dtype(dtype).str})", x64)


# --- running one transform and checking its answer --------------------------------------

def _options(draw, transform, method, x64, scalar_x_options=True):
    """Valid options for the transform (bounds that x lies within, steps)."""
    opts = {}
    fd = method in ("central", "forward", "backward", "complex")
    if transform == "hessian":
        if method != "dual" and draw(st.booleans()):
            opts["vectorized"] = True
    elif transform in ("grad", "value_and_grad", "jacobian", "check_grad") and fd:
        if draw(st.booleans()):
            opts["vectorized"] = True
    if method == "dual" and transform != "jvp" and draw(st.booleans()):
        opts["chunk"] = draw(st.integers(1, 4))
    scalar_ok = scalar_x_options or x64.ndim > 0
    if fd and scalar_ok and draw(st.integers(0, 3)) == 0 and transform != "jvp":
        opts["step"] = {"complex": 1e-15, "central": 1e-5,
                        "forward": 1e-8, "backward": 1e-8}[method]
        if transform == "hessian":
            opts["step"] = 1e-4 if method == "central" else 1e-5
    if scalar_ok and draw(st.integers(0, 2)) == 0:
        # a box x lies in, touching it at some entries: stencils there turn one-sided
        touch = draw(st.sampled_from(["none", "lower", "upper", "both"]))
        lb, ub = x64 - 1.0, x64 + 1.0
        if touch in ("lower", "both"):
            lb = np.where(np.arange(x64.size).reshape(x64.shape) % 2 == 0, x64, lb)
        if touch in ("upper", "both"):
            ub = np.where(np.arange(x64.size).reshape(x64.shape) % 2 == 1, x64, ub)
        opts["bounds"] = (lb, ub)
    return opts


class Counted:
    """Wraps f: records that every real point f sees lies within bounds."""

    def __init__(self, f, bounds, nd):
        self.f, self.nd, self.outside = f, nd, None
        self.lb, self.ub = bounds if bounds is not None else (None, None)

    def __call__(self, x, *args, **kwargs):
        if self.lb is not None and isinstance(x, np.ndarray) and self.outside is None:
            p = x.real
            extra = p.ndim - self.nd    # vectorized: a trailing axis of points
            lb = np.reshape(self.lb, np.shape(self.lb) + (1,) * extra)
            ub = np.reshape(self.ub, np.shape(self.ub) + (1,) * extra)
            if not np.all((lb <= p) & (p <= ub)):
                self.outside = p.copy()
        return self.f(x, *args, **kwargs)


def _call(transform, method, f, opts, x, v=None):
    if transform == "grad":
        return dfd.grad(f, method=method, **opts)(x)
    if transform == "value_and_grad":
        return dfd.value_and_grad(f, method=method, **opts)(x)
    if transform == "jacobian":
        return dfd.jacobian(f, method=method, **opts)(x)
    if transform == "jvp":
        return dfd.jvp(f, method=method, **opts)(x, v)
    if transform == "hessian":
        return dfd.hessian(f, method=method, **opts)(x)
    raise AssertionError(transform)


def check_transform(transform, method, ref, opts, x, v=None, f=None, value=None,
                    jacfn=None):
    """Run one transform on x and compare with the reference (ref's analytic
    derivatives, or value and jacfn(x) when given); raise Wrong on any difference."""
    x64 = x.x64
    nd = x64.ndim
    f = ref.f(nd) if f is None else f
    wrapped = Counted(f, opts.get("bounds"), nd)
    value = ref.value(x64) if value is None else value
    jacfn = ref.jac if jacfn is None else jacfn
    jac = jacfn(x64)
    tol = TOL[method]
    what = f"{transform}(method={method!r})"
    if transform == "check_grad":
        g = lambda p: jacfn(np.asarray(p, dtype=np.float64))   # noqa: E731
        res = dfd.check_grad(wrapped, g, x.obj, method=method, **opts)
        if not res.ok:
            raise Wrong(f"check_grad rejects the exact gradient:\n{res}")
        if jac.size:
            def bad(p):
                J = np.array(jacfn(np.asarray(p, dtype=np.float64)), dtype=np.float64,
                             order="C")   # so that reshape(-1) is a view
                J.reshape(-1)[0] += 0.5 * (1 + abs(J.reshape(-1)[0]))
                return J
            if dfd.check_grad(wrapped, bad, x.obj, method=method, **opts).ok:
                raise Wrong("check_grad accepts a gradient off by 0.5 in entry 0")
    else:
        out = _call(transform, method, wrapped, opts, x.obj, v)
        if transform == "grad":
            close(out, jac, tol, what)
        elif transform == "jacobian":
            close(out, jac, tol, what)
        elif transform == "value_and_grad":
            if not (isinstance(out, tuple) and len(out) == 2):
                raise Wrong(f"{what} returned {type(out).__name__}, not a pair")
            close(out[0], value, 1e-14, what + " value")
            close(out[1], jac, tol, what + " gradient")
        elif transform == "jvp":
            close(out[0], value, 1e-14, what + " value")
            close(out[1], np.tensordot(jac, v, axes=nd) if nd else jac * v, tol, what)
        elif transform == "hessian":
            close(out, ref.hess(x64), HESS_TOL[method], what)
        if (transform in ("grad", "jacobian", "hessian") and isinstance(x.obj, float)
                and not isinstance(out, float)):
            raise Wrong(f"{what} of a Python float x returned {type(out).__name__}")
    if wrapped.outside is not None:
        raise Wrong(f"f was evaluated outside the bounds, at {wrapped.outside!r}")
    x.assert_unmodified()


def _direction(draw, x64):
    return np.array(draw(st.lists(st.integers(-4, 4).map(lambda i: i / 4),
                                  min_size=x64.size, max_size=x64.size)),
                    dtype=np.float64).reshape(x64.shape)


class Case:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()
                         if not k.startswith("_"))


@st.composite
def transform_cases(draw, x_strategy, scalar_x_options=False, transforms=TRANSFORMS):
    transform = transforms if isinstance(transforms, str) else draw(
        st.sampled_from(transforms))
    method = draw(st.sampled_from(HESS_METHODS if transform == "hessian" else METHODS))
    x = draw(x_strategy)
    scalar_f = transform in SCALAR_OUT or (transform == "check_grad" and draw(st.booleans()))
    ref = draw(st.sampled_from(SCALAR_REFS if scalar_f else
                               SCALAR_REFS + VECTOR_REFS if transform != "hessian"
                               else SCALAR_REFS))
    if transform == "hessian" and not ref.scalar:
        ref = SCALAR_REFS[0]
    if (transform == "check_grad" and method in ("forward", "backward")
            and x.x64.ndim == 0 and not scalar_x_options):
        # check_grad estimates its reference's error with step=2h, which the
        # scalar-x defect refuses: covered by the scalar_x_options group
        method = "central"
    opts = _options(draw, transform, method, x.x64, scalar_x_options)
    v = _direction(draw, x.x64) if transform == "jvp" else None
    return Case(transform=transform, method=method, f=ref, options=opts, x=x, v=v)


def check_valid(case):
    try:
        check_transform(case.transform, case.method, case.f, case.options, case.x,
                        case.v)
    except (TypeError, ValueError) as e:
        if case.x.x64.size == 0:     # an empty x may be refused, by name
            expect_named(e, "x")
        if case.transform == "jvp" and "bounds" in case.options:
            # x on the bounds with v pointing out of them on both sides: no
            # one-sided stencil along v fits
            expect_named(e, "bounds")
        raise


# x of every real dtype and layout, every transform and method, valid options.
fz.group("x_inputs", lambda t: transform_cases(points(), transforms=t), check_valid,
         parts=TRANSFORMS)
# A big-endian x: the same cases.
# Only a C-contiguous '>f8' x is misread (others are converted); every transform.
fz.group("x_big_endian",
         lambda t: transform_cases(points(dtypes=[">f8"], layouts=["c", "readonly"],
                                          shapes=[(), (1,), (3,), (2, 3)]),
                                   transforms=t),
         check_valid, parts=TRANSFORMS)


@st.composite
def misaligned_points(draw):
    x = draw(points(dtypes=["f8"], layouts=["c"], shapes=[(1,), (3,), (2, 3)]))
    a = x.obj
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    m = np.ndarray(a.shape, dtype=a.dtype, buffer=buf, offset=1)
    m[...] = a
    assert not m.flags.aligned
    return X(m, f"x = {m!r} (misaligned by one byte)", x.x64)


fz.group("x_misaligned", transform_cases(misaligned_points()), check_valid)
# Scalar x (Python float, NumPy scalar, 0-d array) with step= and bounds=.
fz.group("scalar_x_options",
         transform_cases(points(dtypes=["f8", "f4"], shapes=[()]),
                         scalar_x_options=True,
                         transforms=("grad", "value_and_grad", "hessian", "check_grad")),
         check_valid)


# --- bad x --------------------------------------------------------------------------

BAD_X = {
    "complex": lambda: np.array([1.0 + 0j, 2.0]),
    "complex scalar": lambda: 1.0 + 2j,
    "object of None": lambda: np.array([None, None], dtype=object),
    "object of str": lambda: np.array(["a", "b"], dtype=object),
    "str": lambda: "1.5",
    "bytes": lambda: b"12",
    "None": lambda: None,
    "ragged list": lambda: [[1.0, 2.0], [3.0]],
    "dict": lambda: {"a": 1.0},
    "datetime64": lambda: np.array(["2020-01-01", "2021-01-01"], dtype="M8[D]"),
    "timedelta64": lambda: np.array([1, 2], dtype="m8[s]"),
    "structured": lambda: np.zeros(2, dtype=[("a", "f8"), ("b", "f8")]),
    "nan": lambda: np.array([1.0, np.nan]),
    "inf": lambda: np.array([np.inf, 1.0]),
    "-inf scalar": lambda: float("-inf"),
    "Dual": lambda: dfd.Dual(np.ones(2), np.eye(2)),
}
# Refused unless read as the right real numbers: an object array of floats.
MAYBE_X = {
    "object of floats": (lambda: np.array([1.0, -2.0], dtype=object),
                         np.array([1.0, -2.0])),
}


@st.composite
def bad_x_cases(draw, name):
    transform = draw(st.sampled_from(TRANSFORMS))
    method = draw(st.sampled_from(HESS_METHODS if transform == "hessian" else METHODS))
    ref = SCALAR_REFS[0] if transform != "jacobian" else VECTOR_REFS[0]
    return Case(transform=transform, method=method, x=name, f=ref)


def check_bad_x(case):
    maybe = case.x in MAYBE_X
    make, x64 = MAYBE_X[case.x] if maybe else (BAD_X[case.x], None)
    obj = make()
    snap = obj.copy() if isinstance(obj, np.ndarray) else None
    v = np.ones(np.shape(x64) if maybe else (2,))
    try:
        if maybe:
            x = X(obj, case.x, x64)
            check_transform(case.transform, case.method, case.f, {}, x, v)
            return
        f = case.f.f(1)
        if case.transform == "check_grad":
            dfd.check_grad(f, lambda p: case.f.jac(np.asarray(p, float)), obj,
                           method=case.method)
        else:
            _call(case.transform, case.method, f, {}, obj, v)
    except (TypeError, ValueError) as e:
        if not maybe and isinstance(obj, np.ndarray) and obj.tobytes() != snap.tobytes():
            raise Wrong("x was modified") from None
        expect_named(e, "x")
    raise Wrong(f"no exception for x = {obj!r}")


fz.group("x_bad", bad_x_cases, check_bad_x, parts=sorted(BAD_X) + sorted(MAYBE_X))


# --- options with wrong values ----------------------------------------------------------

class Opaque:
    def __repr__(self):
        return "Opaque()"


BAD_OPTIONS = {
    "method": ["centre", "", "Dual", "2-pt", 3, None, b"central", ("dual",), Opaque()],
    "step": [0.0, -1e-3, np.nan, np.inf, -np.inf, "-1e-3", None.__class__, 1e-3 + 1j,
             [1e-3, -1e-3, 1e-3], np.zeros(3), np.full((2, 2), 1e-3), [[1e-3]] * 4,
             Opaque()],
    "bounds": [(1.0,), (1.0, 2.0, 3.0), "ab", (2.0, 1.0), (np.nan, 1.0),
               (0.0, np.nan), (np.zeros(2), np.ones(3)), (None, None, None),
               ("a", "b"), (np.ones(3), np.zeros(3)), 5.0, Opaque(),
               (np.full(4, -9.0), np.full(4, 9.0)), ([0.0, 1.0], [-1.0, 2.0])],
    "vectorized": [1, 0, "yes", None, [True], np.array([True, False]), Opaque()],
    "check_finite": [1, "no", None, [False], Opaque()],
    "chunk": [0, -1, 1.5, True, "3", np.float64(2.0), Opaque(), [2]],
}


@st.composite
def bad_option_cases(draw, option):
    transform = draw(st.sampled_from(TRANSFORMS))
    if transform == "jvp" and option in ("vectorized", "chunk"):
        option = "method"
    method = draw(st.sampled_from(HESS_METHODS if transform == "hessian" else METHODS))
    if option == "chunk":
        method = "dual"
    value = draw(st.sampled_from(BAD_OPTIONS[option]))
    if transform == "hessian" and option == "method" and value == "dual":
        value = "forward"
    ref = SCALAR_REFS[1] if transform != "jacobian" else VECTOR_REFS[1]
    return Case(transform=transform, option=option, value=value, method=method, f=ref)


def check_bad_option(case):
    x = X(np.array([0.5, -1.0, 1.5]), "x = [0.5, -1.0, 1.5]", np.array([0.5, -1.0, 1.5]))
    opts = {case.option: case.value}
    method = opts.pop("method", case.method)
    f = case.f.f(1)
    try:
        if case.transform == "check_grad":
            dfd.check_grad(f, lambda p: case.f.jac(np.asarray(p, float)), x.obj,
                           method=method, **opts)
        else:
            _call(case.transform, method, f, opts, x.obj, np.ones(3))
    except (TypeError, ValueError) as e:
        x.assert_unmodified()
        words = {"bounds": ("bounds", "lb", "ub", "bounds[0]", "bounds[1]")}.get(
            case.option, (case.option,))
        expect_named(e, *words)
    raise Wrong(f"{case.option}={case.value!r} was accepted")


fz.group("options_bad", bad_option_cases, check_bad_option, parts=sorted(BAD_OPTIONS))


# Unknown keywords, non-callable f, wrong v for jvp, wrong check_grad tolerances.
MISUSE = {
    "grad(f, methd='dual')": (lambda: dfd.grad(np.sum, methd="dual"), ("methd",)),
    "jacobian(f, steps=1e-3)": (lambda: dfd.jacobian(np.sin, steps=1e-3), ("steps",)),
    "grad(None)": (lambda: dfd.grad(None), ("f",)),
    "jacobian('sin')": (lambda: dfd.jacobian("sin"), ("f",)),
    "hessian(3.0)": (lambda: dfd.hessian(3.0), ("f",)),
    "jvp(f)(x, v of wrong shape)": (lambda: dfd.jvp(np.sin)(np.ones(3), np.ones(2)),
                                    ("v",)),
    "jvp(f)(x, complex v)": (lambda: dfd.jvp(np.sin)(np.ones(2), np.ones(2) * 1j),
                             ("v",)),
    "jvp(f)(x, None)": (lambda: dfd.jvp(np.sin)(np.ones(2), None), ("v",)),
    "jvp(f)(x, nan v)": (lambda: dfd.jvp(np.sin)(np.ones(2), np.array([np.nan, 1.0])),
                         ("v",)),
    "check_grad(rtol=-1)": (lambda: dfd.check_grad(np.sin, np.cos, np.ones(2), rtol=-1.0),
                            ("rtol",)),
    "check_grad(atol='x')": (lambda: dfd.check_grad(np.sin, np.cos, np.ones(2), atol="a"),
                             ("atol",)),
    "check_grad(g of wrong shape)": (
        lambda: dfd.check_grad(np.sin, lambda x: np.ones(3), np.ones(2)), ("g",)),
    "check_grad(g returns None)": (
        lambda: dfd.check_grad(np.sin, lambda x: None, np.ones(2)), ("g",)),
    "check_grad(unknown option)": (
        lambda: dfd.check_grad(np.sin, np.cos, np.ones(2), chnk=2), ("chnk",)),
    "hessian(method='forward')": (lambda: dfd.hessian(np.sum, method="forward"),
                                  ("method",)),
    "hessian(vectorized=True, method='dual')": (
        lambda: dfd.hessian(np.sum, vectorized=True, method="dual"), ("vectorized",)),
    "grad(f)(x) for an array-valued f": (lambda: dfd.grad(np.sin)(np.ones(2)),
                                         ("f", "grad", "scalar")),
}


def check_misuse(case):
    make, words = MISUSE[case]
    try:
        make()
    except (TypeError, ValueError) as e:
        expect_named(e, *words)
    raise Wrong("accepted")


fz.group("misuse", st.sampled_from(sorted(MISUSE)), check_misuse)


# --- SciPy's form of bounds: a sequence of n (lo, hi) pairs --------------------------

@st.composite
def pair_bounds_cases(draw):
    n = draw(st.sampled_from([2, 3]))
    lo = np.array(draw(st.lists(st.integers(-8, -1), min_size=n, max_size=n))) / 4
    hi = np.array(draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))) / 4
    at = draw(st.sampled_from(["inside", "lower", "upper"]))
    x64 = {"inside": (lo + hi) / 2, "lower": lo, "upper": hi}[at]
    transform = draw(st.sampled_from(["grad", "jacobian", "hessian"]))
    method = draw(st.sampled_from(["central", "forward"] if transform != "hessian"
                                  else ["central"]))
    ref = SCALAR_REFS[1] if transform != "jacobian" else VECTOR_REFS[1]
    form = draw(st.sampled_from(["list of tuples", "array (n, 2)", "Bounds"]))
    return Case(transform=transform, method=method, f=ref, lo=lo, hi=hi, form=form,
                x=X(x64.copy(), f"x = {x64!r} ({at})", x64))


def check_pair_bounds(case):
    pairs = list(zip(case.lo.tolist(), case.hi.tolist()))
    if case.form == "array (n, 2)":
        bounds = np.array(pairs)
    elif case.form == "Bounds":
        from scipy.optimize import Bounds
        bounds = Bounds(case.lo, case.hi)
    else:
        bounds = pairs
    # right: f stays in [lo, hi]; named: a refusal that does not misread them
    x = case.x
    try:
        wrapped = Counted(case.f.f(1), (case.lo, case.hi), 1)
        out = _call(case.transform, case.method, wrapped, {"bounds": bounds}, x.obj)
    except (TypeError, ValueError) as e:
        if "outside" in str(e):
            raise Wrong(f"bounds misread: {e}") from None
        expect_named(e, "bounds")
    if wrapped.outside is not None:
        raise Wrong(f"f evaluated at {wrapped.outside!r}, outside the pairs {pairs}")
    ref = case.f.hess(x.x64) if case.transform == "hessian" else case.f.jac(x.x64)
    tol = HESS_TOL if case.transform == "hessian" else TOL
    close(out, ref, tol[case.method], case.transform)


fz.group("bounds_pairs", pair_bounds_cases(), check_pair_bounds)


# --- what f returns -----------------------------------------------------------------------

class FuzzError(Exception):
    """Raised by f: must reach the caller unchanged."""


# Where f returning a ragged list gets numpy's own ValueError ("setting an array
# element with a sequence", "all input arrays must have the same shape"), which
# names neither f nor its output: a new defect, in a group of its own.
RAGGED_UNNAMED = [(t, "dual") for t in TRANSFORMS] + [
    ("hessian", "central"), ("jvp", "central"), ("jvp", "forward"),
    ("jvp", "backward"), ("jvp", "complex")]

F_KINDS = ["None", "str", "list", "ragged", "object", "object of None", "complex",
           "shape changes", "alias", "alias view", "mutates x", "keeps x", "raises",
           "raises ValueError", "nan", "int", "bool", "numpy scalar", "0-d array",
           "1-element array"]


@st.composite
def f_output_cases(draw, kind, transforms=TRANSFORMS, methods=METHODS,
                   vectorized=None, ragged_unnamed=False):
    transform = draw(st.sampled_from(transforms))
    method = draw(st.sampled_from([m for m in methods
                                   if (m in HESS_METHODS or transform != "hessian")
                                   and not (kind == "complex" and m == "complex")
                                   and (ragged_unnamed or kind != "ragged"
                                        or (transform, m) not in RAGGED_UNNAMED)]))
    x = draw(points(dtypes=["f8"], layouts=["c", "readonly", "list"],
                    shapes=[(2,), (3,), (2, 2)]))
    opts = {}
    scalar = transform in SCALAR_OUT or transform == "check_grad"
    vectorizable = ("mutates x", "keeps x", "raises", "nan") + (() if scalar else
                                                              ("alias",))
    if method != "dual" and transform != "jvp" and kind in vectorizable:
        if vectorized if vectorized is not None else draw(st.booleans()):
            opts["vectorized"] = True
    if vectorized is None and transform == "check_grad" and kind == "mutates x":
        opts.pop("vectorized", None)    # a new defect, in a group of its own

    return Case(kind=kind, transform=transform, method=method, options=opts, x=x,
                v=_direction(draw, x.x64))


def _f_kind(kind, scalar, nd, state):
    """f returning `kind`, with its (value, derivative) at x or None when it
    must be refused."""
    ax = _axes(nd)

    def base(x):    # a smooth function: sum(x*sin(x)) or sin(x)
        return np.sum(x * np.sin(x), axis=ax) if scalar else np.sin(x)

    if kind == "None":
        return (lambda x: None), None
    if kind == "str":
        return (lambda x: "1.0"), None
    if kind == "list":
        if scalar:
            return (lambda x: [np.sum(x * np.sin(x))]), "maybe"
        return (lambda x: [np.sin(x[i]) for i in range(len(x))]), "right"
    if kind == "ragged":
        return (lambda x: [x[0], [x[0], x[1]]]), None
    if kind == "object":
        return (lambda x: np.array(base(x), dtype=object)), "maybe"
    if kind == "object of None":
        return (lambda x: np.array([None, None], dtype=object)), None
    if kind == "complex":
        return (lambda x: base(x) * (1 + 0.5j)), None
    if kind == "shape changes":
        def f(x):
            state["calls"] = state.get("calls", 0) + 1
            y = base(x)
            return y if state["calls"] == 1 else np.stack([y, y])
        return f, "first"
    if kind in ("alias", "alias view"):
        if scalar:    # a 0-d view of x
            return (lambda x: x.reshape(-1)[:1].reshape(())), "x[0]"
        if kind == "alias":
            return (lambda x: x), "identity"
        return (lambda x: x.T), "transpose"
    if kind == "mutates x":
        def f(x):
            y = base(x)
            x *= 0.5
            x += 1.0
            return y
        return f, "right"
    if kind == "keeps x":
        def f(x):
            state.setdefault("kept", []).append(
                (x, np.copy(x.value if isinstance(x, dfd.Dual) else x)))
            return base(x)
        return f, "right"
    if kind == "raises":
        def f(x):
            state["exc"] = FuzzError("raised by f")
            raise state["exc"]
        return f, "raise"
    if kind == "raises ValueError":
        def f(x):
            state["exc"] = ValueError("x is wrong, says f")
            raise state["exc"]
        return f, "raise"
    if kind == "nan":
        return (lambda x: base(x) * np.nan), None
    if kind == "int":
        return (lambda x: np.asarray(np.sum(np.ones(np.shape(x)), axis=ax)
                                     if scalar else np.ones(np.shape(x)), dtype=int)), \
            "zero"
    if kind == "bool":
        return (lambda x: (x > 100) if not scalar else np.any(x > 100)), "zero"
    if kind == "numpy scalar":
        if not scalar:
            return (lambda x: np.sin(x)), "right"
        return (lambda x: np.float64(1.0) * np.sum(x * np.sin(x))), "right"
    if kind == "0-d array":
        return (lambda x: np.asarray(base(x))), "right"
    if kind == "1-element array":
        return (lambda x: np.reshape(base(x), (1,) + np.shape(base(x)))), \
            "maybe" if scalar else "right"
    raise AssertionError(kind)


def check_f_output(case):
    transform, method, x = case.transform, case.method, case.x
    scalar = transform in SCALAR_OUT or transform == "check_grad"
    ref = SCALAR_REFS[0] if scalar else VECTOR_REFS[0]
    state = {}
    f, expect = _f_kind(case.kind, scalar, x.x64.ndim, state)
    x64, s = x.x64, x.x64.shape
    value = jacfn = None
    if expect == "identity":
        value, jacfn = x64, lambda p: np.eye(p.size).reshape(s + s)
    elif expect == "transpose":
        value = x64.T
        jacfn = lambda p: np.eye(p.size).reshape(s + s).transpose(   # noqa: E731
            tuple(reversed(range(len(s)))) + tuple(range(len(s), 2 * len(s))))
    elif expect == "x[0]":
        value = x64.reshape(-1)[0]

        def jacfn(p):
            J = np.zeros(s)
            J.reshape(-1)[0] = 1.0
            return J
    elif expect == "zero":
        value = np.asarray(f(x64), dtype=float)
        jacfn = lambda p: np.zeros(value.shape + s)   # noqa: E731
    elif expect == "first" and not (
            method == "dual" or (transform == "jvp" and (
                method == "complex" or not np.any(case.v)))):
        expect = None      # f is called more than once: the change must be caught
    elif case.kind == "1-element array" and not scalar:
        value = np.sin(x64)[None]
        jacfn = lambda p: ref.jac(p)[None]   # noqa: E731
    # a refusal (naming f) is right for these; for the others only the answer is
    lenient = expect in (None, "maybe", "first", "raise") or (
        expect == "zero" and method == "complex") or (
        # np.asarray of a Dual is refused by the Dual type: it would drop derivatives
        method == "dual" and case.kind == "0-d array")
    try:
        if transform == "hessian" and expect in ("x[0]", "zero"):
            out = dfd.hessian(f, method=method, **case.options)(x.obj)
            close(out, np.zeros(s + s), HESS_TOL[method], "hessian")
            x.assert_unmodified()
        else:
            check_transform(transform, method, ref, case.options, x, case.v, f=f,
                            value=value, jacfn=jacfn)
    except Named:
        raise
    except Exception as e:
        if expect == "raise":
            if e is not state.get("exc"):
                raise Wrong(f"f's exception did not propagate unchanged: got "
                            f"{type(e).__name__}: {e}") from None
            raise Named("f's own exception") from None
        if not lenient or not isinstance(e, (TypeError, ValueError)):
            raise
        x.assert_unmodified()
        # inside f, the Dual type itself may refuse (naming itself)
        words = ("f", "complex") if case.kind == "complex" else ("f",)
        expect_named(e, *words, *(("Dual",) if method == "dual" else ()))
    if expect == "raise":
        raise Wrong("f raised, but the transform returned")
    if expect is None:
        raise Wrong(f"f returning {case.kind} was accepted")
    for kept, saved in state.get("kept", []):
        now = kept.value if isinstance(kept, dfd.Dual) else kept
        if not np.array_equal(np.asarray(now), saved):
            raise Wrong("an array f received was modified after f returned")


# Ragged lists under method='dual' (a new defect) and complex output under the
# FD jvp (a known one) have groups of their own.
fz.group("f_outputs",
         lambda kind: f_output_cases(kind, transforms=(
             "grad", "value_and_grad", "jacobian", "hessian", "check_grad"),
             methods=("central", "forward", "backward", "complex")),
         check_f_output, parts=F_KINDS)
# ragged output under hessian(method='central'), the FD jvp and method='dual':
# numpy's own ValueError, naming neither f nor its output (a new defect, below).
# (Not fuzzed: a complex-valued f under method='complex'.  Complex step reads
# Im f(x + ih) / h, so it cannot tell f's own imaginary part from the step's.)
fz.group("f_outputs_jvp",
         lambda kind: f_output_cases(kind, transforms=("jvp",)),
         check_f_output, parts=[k for k in F_KINDS if k not in ("complex", "ragged")])
fz.group("f_outputs_dual", lambda kind: f_output_cases(kind, methods=("dual",)),
         check_f_output, parts=[k for k in F_KINDS if k != "ragged"])
fz.group("f_complex_jvp",
         lambda kind: f_output_cases(kind, transforms=("jvp",),
                                     methods=("central", "forward", "backward")),
         check_f_output, parts=["complex"])

@st.composite
def ragged_unnamed_cases(draw, where):
    transform, method = where
    return draw(f_output_cases("ragged", transforms=(transform,), methods=(method,),
                               ragged_unnamed=True))

fz.group("f_ragged_unnamed", ragged_unnamed_cases, check_f_output,
         parts=RAGGED_UNNAMED)
fz.group("check_grad_vectorized_mutating_f",
         lambda kind: f_output_cases(kind, transforms=("check_grad",),
                                     methods=("forward", "central", "backward"),
                                     vectorized=True),
         check_f_output, parts=["mutates x"])


# f that writes its result into one buffer it reuses on every call.
@st.composite
def reused_buffer_cases(draw, transforms):
    transform = draw(st.sampled_from(transforms))
    method = draw(st.sampled_from(HESS_METHODS if transform == "hessian" else METHODS))
    x = draw(points(dtypes=["f8"], layouts=["c"], shapes=[(2,), (3,), (2, 2)]))
    return Case(transform=transform, method=method, x=x,
                v=_direction(draw, x.x64), shape=draw(st.sampled_from(["()", "(n,)"])))


def check_reused_buffer(case):
    scalar = case.transform in SCALAR_OUT or case.transform == "check_grad"
    ref = SCALAR_REFS[0] if scalar else VECTOR_REFS[0]
    base = ref.f(case.x.x64.ndim)
    buf = {}

    def f(x):
        y = base(x)
        if isinstance(y, dfd.Dual):
            return y
        key = (np.shape(y), np.asarray(y).dtype)
        if key not in buf:
            buf[key] = np.empty(key[0], dtype=key[1])
        buf[key][...] = y
        return buf[key]
    check_transform(case.transform, case.method, ref, {}, case.x, case.v, f=f)


fz.group("f_reused_buffer",
         reused_buffer_cases(("grad", "jacobian", "hessian", "check_grad")),
         check_reused_buffer)
fz.group("f_reused_buffer_value",
         reused_buffer_cases(("value_and_grad", "jvp")), check_reused_buffer)


# --- complex step through code that is not analytic -----------------------------------

NONANALYTIC = {
    "x*abs(x)": (lambda x: np.sum(x * np.abs(x)), lambda x: 2 * np.abs(x)),
    "x*sign(x)": (lambda x: np.sum(x * np.sign(x)), lambda x: np.sign(x)),
    "abs(x)**3": (lambda x: np.sum(np.abs(x) ** 3), lambda x: 3 * x * np.abs(x)),
    "x*maximum": (lambda x: np.sum(np.maximum(x, 0.25) * x),
                            lambda x: np.where(x > 0.25, 2 * x, 0.25)),
    "x*fmin": (lambda x: np.sum(np.fmin(x, 0.25) * x),
               lambda x: np.where(x < 0.25, 2 * x, 0.25)),
}


@st.composite
def nonanalytic_cases(draw):
    name = draw(st.sampled_from(sorted(NONANALYTIC)))
    x = draw(points(dtypes=["f8"], layouts=["c"], shapes=[(2,), (3,)]))
    return Case(f=name, x=x)


def check_nonanalytic(case):
    f, g = NONANALYTIC[case.f]
    try:
        out = dfd.grad(f, method="complex")(case.x.obj)
    except (TypeError, ValueError) as e:
        expect_named(e, "f", "complex", "method")
    close(out, g(case.x.x64), 1e-12, "grad(method='complex')")


fz.group("complex_step_nonanalytic", nonanalytic_cases(), check_nonanalytic)


# --- the tests ---------------------------------------------------------------------------

def test_x_inputs():
    counts = fz.run_group(MOD, "x_inputs", 300)
    assert counts["ok"] > 200, counts


def test_x_big_endian():
    fz.run_group(MOD, "x_big_endian", 60)


# On x86 a misaligned load works, so only UBSan's alignment check would see a
# misaligned pointer reach C: this group guards the conversion under .ci/run's
# sanitizer build.
def test_x_misaligned():
    counts = fz.run_group(MOD, "x_misaligned", 40)
    assert counts["ok"] > 20, counts


def test_scalar_x_with_step_and_bounds():
    fz.run_group(MOD, "scalar_x_options", 60)


def test_x_bad():
    counts = fz.run_group(MOD, "x_bad", EXAMPLES)
    assert counts["named"] > 100, counts


def test_options_bad():
    counts = fz.run_group(MOD, "options_bad", 200)
    assert counts["named"] > 150, counts


def test_misuse():
    fz.run_group(MOD, "misuse", 40)


def test_bounds_as_pairs():
    fz.run_group(MOD, "bounds_pairs", 40)


def test_f_outputs():
    counts = fz.run_group(MOD, "f_outputs", 250)
    assert counts["ok"] > 50 and counts["named"] > 50, counts


def test_f_outputs_jvp():
    fz.run_group(MOD, "f_outputs_jvp", 80)


def test_f_outputs_dual():
    fz.run_group(MOD, "f_outputs_dual", 120)


def test_f_complex_output_jvp():
    fz.run_group(MOD, "f_complex_jvp", 15)


def test_f_ragged_output_named():
    fz.run_group(MOD, "f_ragged_unnamed", 20)


def test_check_grad_vectorized_mutating_f():
    fz.run_group(MOD, "check_grad_vectorized_mutating_f", 10)


def test_f_reused_buffer():
    fz.run_group(MOD, "f_reused_buffer", 60)


def test_f_reused_buffer_value():
    fz.run_group(MOD, "f_reused_buffer_value", 40)


def test_complex_step_through_nonanalytic_code():
    fz.run_group(MOD, "complex_step_nonanalytic", 40)


# --- pickling: the transforms are plain callables for process pools -------------------

def quartic(x):
    return 0.25 * np.sum(x * x) ** 2


@pytest.mark.parametrize("make", [
    lambda: dfd.grad(quartic), lambda: dfd.jacobian(np.sin),
    lambda: dfd.value_and_grad(quartic, method="dual"),
    pytest.param(lambda: dfd.jvp(np.sin)),
    pytest.param(lambda: dfd.hessian(quartic)),
], ids=["grad", "jacobian", "value_and_grad", "jvp", "hessian"])
def test_transforms_pickle(make, request):
    t = make()
    t2 = pickle.loads(pickle.dumps(t))
    x = np.array([0.5, -1.0, 2.0])
    args = (x, np.ones(3)) if "jvp" in request.node.name else (x,)
    a, b = t(*args), t2(*args)
    for p, q in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        assert np.array_equal(p, q)
