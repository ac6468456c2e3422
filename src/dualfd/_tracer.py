"""Sparsity patterns of Jacobians and Hessians, detected by tracing index sets.

f runs once on a *tracer*: an array-like whose elements carry no values, only the set of
input indices they may depend on (a global tracer, in the terms of Hill and Dalle's
SparseConnectivityTracer.jl).  Without values the pattern holds at every x, so a driver
detects it once per transform and input shape and reuses it.

Representation.  A tracer of ``size`` elements stores its sets as CSR over the flat
(C-order) elements: ``indptr`` (size + 1,) and ``indices`` int64, sorted and unique per
row.  Memory is O(number of non-zeros).  Views (basic indexing, reshape, .T, iteration)
share a *root*: each tracer holds an int64 array ``_pos`` of root positions, produced by
applying the same NumPy operation to the root's ``arange`` -- NumPy itself decides what is
a view (``_pos`` shares memory with the root's) and what is a copy, so writes through
views reach their base exactly as on arrays and on the Dual.

The rules, by family (mirroring the Dual's dispatch tables, dualfd._dual._core._registry,
so anything that runs with method="dual" runs here):

- elementwise ufuncs: the union of the arguments' sets, dropping an argument whose
  partial in csrc/rules.def is identically 0 (sign, floor, floor_divide, ...).  The
  partials are read from the rule table (``RULE_PARTIALS``), not from a second list.
  Comparisons and isfinite/isnan/isinf/signbit give *value tracers*: values unknown, no
  derivative.  Converting them to Python (``bool``, ``int``, indexing) raises.
- shape and indexing functions (reshape, concatenate, pad, take, tril, roll, ...): the
  NumPy function is applied to integer arrays of element ids (0: no dependence, else
  1 + flat position across all traced arguments) and the sets are gathered by the ids.
- reductions: the union along the axes; cumsum/cumprod: prefix unions.
- products (matmul, dot, tensordot, einsum, ...): the union over the contracted index,
  counting only the non-zero entries of a constant operand, so a banded matrix stored
  dense times x gives a banded pattern.
- value-dependent selections (maximum, where with a traced condition, clip, sort, max,
  abs, ...): the union of every branch.  This is where the pattern is a superset: control
  flow on values that the tracer cannot see.
- linear algebra (solve, inv, det, eig, ...): the union of all traced inputs.
- argmax, argsort, nonzero, ... (integer results that depend on values): refused with a
  TypeError, as are ``if x[0] > 0``, ``int()``, ``float()`` and traced masks or indices.

What the pattern depends on besides x's shape: the *values* of constants f uses as
product operands (their non-zeros) or as np.where/np.select conditions -- including
constants passed in ``args``/``kwargs``.  A cache of patterns must therefore be keyed
on those arguments too (or rebuilt when they change); constants inside f are fixed per
transform.

Hessian patterns track, besides each element's first-order set G, a global set of index
pairs that may interact nonlinearly: a unary rule whose partial is not constant on u adds
G_u x G_u; a binary rule adds G_a x G_a if its partial in a depends on a, G_a x G_b (and
the transpose) if the partial in a depends on b or that in b on a, G_b x G_b likewise;
products add the cross terms of their factors; any other nonlinear operation adds
G_out x G_out.  Linear operations add nothing.  By the chain rule,
d2 f / dx_i dx_j = sum over operations of (second derivative of the operation) x (first
derivatives of its inputs), so every non-zero of the Hessian of any output lies in that
set: a superset, exact for sums of local terms (pairs from intermediates that do not
reach the output are kept too).
"""

import functools
import re

import numpy as np

__all__ = ["TracingError", "trace_jacobian", "trace_hessian", "jacobian_sparsity",
           "hessian_sparsity"]

_I8 = np.int64
_HINT = ("pass an explicit pattern (sparsity= a boolean array or a scipy.sparse matrix) "
         "or rewrite with np.where")


class TracingError(TypeError):
    """f did something the sparsity tracer cannot follow without values."""


def _refuse(what):
    raise TracingError(f"sparsity detection: {what}; the tracer carries no values, so "
                       f"the pattern cannot be found from f: {_HINT}")


# --- index sets as CSR ------------------------------------------------------------------

class _Sets:
    """One index set per element: row r is indices[indptr[r]:indptr[r + 1]]."""
    __slots__ = ("indptr", "indices")

    def __init__(self, indptr, indices):
        self.indptr = indptr
        self.indices = indices

    @property
    def size(self):
        return len(self.indptr) - 1


def _empty_sets(size):
    return _Sets(np.zeros(size + 1, _I8), np.zeros(0, _I8))


def _expand(S, rows):
    """(owner, column): the entries of rows ``rows`` of S, owner = position in rows."""
    rows = np.asarray(rows, _I8).ravel()
    starts = S.indptr[rows]
    lens = S.indptr[rows + 1] - starts
    total = int(lens.sum())
    owner = np.repeat(np.arange(len(rows), dtype=_I8), lens)
    if total:
        first = np.cumsum(lens) - lens
        cols = S.indices[starts[owner] + (np.arange(total, dtype=_I8) - first[owner])]
    else:
        cols = np.zeros(0, _I8)
    return owner, cols, lens


def _gather(S, rows):
    """Sets of S at ``rows`` (-1: the empty set), in that order."""
    rows = np.asarray(rows, _I8).ravel()
    if S.indices.size == 0 or rows.size == 0:
        return _empty_sets(rows.size)
    r0 = rows[0]
    if r0 >= 0 and rows[-1] - r0 == rows.size - 1 and (
            rows.size == 1 or np.all(rows[1:] - rows[:-1] == 1)):
        # a contiguous run (slices, rows of a C-order view): the sets are one slice
        a, b = S.indptr[r0], S.indptr[r0 + rows.size]
        return _Sets(S.indptr[r0:r0 + rows.size + 1] - a, S.indices[a:b])
    valid = rows >= 0
    if valid.all():
        starts = S.indptr[rows]
        lens = S.indptr[rows + 1] - starts
    else:
        safe = np.where(valid, rows, 0)
        starts = S.indptr[safe]
        lens = np.where(valid, S.indptr[safe + 1] - starts, 0)
    indptr = np.zeros(rows.size + 1, _I8)
    np.cumsum(lens, out=indptr[1:])
    total = int(indptr[-1])
    if total == rows.size and np.all(lens == 1):
        return _Sets(indptr, S.indices[starts])      # one index per element
    owner = np.repeat(np.arange(rows.size, dtype=_I8), lens)
    cols = S.indices[starts[owner] + (np.arange(total, dtype=_I8) - indptr[owner])]
    return _Sets(indptr, cols)


def _unique(keys):
    """Sorted distinct keys.  A stable sort (timsort) merges the already sorted runs the
    parts mostly are in linear time; NumPy 2's hash-based np.unique was 10x slower."""
    keys = np.sort(keys, kind="stable")
    if keys.size > 1:
        keep = np.empty(keys.size, bool)
        keep[0] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        keys = keys[keep]
    return keys


def _union(size, n, parts):
    """Row o of the result is the union of S[r] over the pairs (o, r) of every part
    ``(out_rows, S, in_rows)``; None for out_rows or in_rows means 0..size-1."""
    parts = [p for p in parts if p[1].indices.size and (p[0] is None or np.size(p[0]))]
    if not parts:
        return _empty_sets(size)
    if len(parts) == 1 and parts[0][0] is None:
        # one source per element: no sort needed
        return parts[0][1] if parts[0][2] is None else _gather(parts[0][1], parts[0][2])
    keys = []
    for out_rows, S, in_rows in parts:
        if out_rows is None and in_rows is None:
            rows = np.repeat(np.arange(size, dtype=_I8), np.diff(S.indptr))
            keys.append(rows * n + S.indices)
            continue
        if in_rows is None:
            in_rows = np.arange(S.size, dtype=_I8)
        owner, cols, _ = _expand(S, in_rows)
        out_rows = np.arange(size, dtype=_I8) if out_rows is None else \
            np.asarray(out_rows, _I8).ravel()
        keys.append(out_rows[owner] * n + cols)
    keys = _unique(np.concatenate(keys))
    rows = keys // n if n else keys
    indptr = np.zeros(size + 1, _I8)
    np.cumsum(np.bincount(rows, minlength=size), out=indptr[1:])
    return _Sets(indptr, keys - rows * n)


def _stack_sets(sets):
    if len(sets) == 1:
        return sets[0]
    offs = np.cumsum([0] + [s.indices.size for s in sets[:-1]])
    indptr = np.concatenate([np.zeros(1, _I8)] + [s.indptr[1:] + o
                                                   for s, o in zip(sets, offs)])
    return _Sets(indptr, np.concatenate([s.indices for s in sets]))


def _row_union(S):
    """The union of all rows of S, as one set."""
    return _unique(S.indices)


# --- the trace context ------------------------------------------------------------------

class _Context:
    __slots__ = ("n", "hessian", "pairs", "npairs")

    def __init__(self, n, hessian):
        self.n = n
        self.hessian = hessian
        self.pairs = []
        self.npairs = 0

    def add_keys(self, keys):
        if keys.size:
            self.pairs.append(keys)
            self.npairs += keys.size
            if self.npairs > 1 << 22:       # keep memory at the number of distinct pairs
                self.pairs = [_unique(np.concatenate(self.pairs))]
                self.npairs = self.pairs[0].size

    def cross(self, Sa, ra, Sb, rb, symmetric=False):
        """Pairs u x v and v x u for u in Sa[ra[j]], v in Sb[rb[j]], for every j.
        symmetric: Sb[rb] is Sa[ra], so u x v holds both orders already.  Duplicates
        are removed when the pairs are compacted (add_keys, pattern)."""
        if not self.hessian or not Sa.indices.size or not Sb.indices.size:
            return
        ra = np.asarray(ra, _I8).ravel()
        rb = np.asarray(rb, _I8).ravel()
        ok = (ra >= 0) & (rb >= 0)
        if not ok.all():
            ra, rb = ra[ok], rb[ok]
        la = Sa.indptr[ra + 1] - Sa.indptr[ra]
        lb = Sb.indptr[rb + 1] - Sb.indptr[rb]
        cnt = la * lb
        total = int(cnt.sum())
        if not total:
            return
        rep = np.repeat(np.arange(ra.size, dtype=_I8), cnt)
        off = np.arange(total, dtype=_I8) - (np.cumsum(cnt) - cnt)[rep]
        lbr = lb[rep]
        u = Sa.indices[Sa.indptr[ra[rep]] + off // lbr]
        v = Sb.indices[Sb.indptr[rb[rep]] + off % lbr]
        self.add_keys(u * self.n + v)
        if not symmetric:
            self.add_keys(v * self.n + u)

    def square(self, S, rows=None):
        if rows is None:
            rows = np.arange(S.size, dtype=_I8)
        self.cross(S, rows, S, rows, symmetric=True)

    def pattern(self):
        n = self.n
        keys = _unique(np.concatenate(self.pairs)) if self.pairs else np.zeros(0, _I8)
        rows = keys // n if n else keys
        indptr = np.zeros(n + 1, _I8)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return indptr, keys - rows * n


# --- the tracer -------------------------------------------------------------------------

class _Root:
    """The storage a tracer and its views share: sets, and the positions 0..size-1."""
    __slots__ = ("sets", "pos")

    def __init__(self, sets, shape):
        self.sets = sets
        self.pos = np.arange(sets.size, dtype=_I8).reshape(shape)


class Tracer:
    """An array of index sets standing in for x inside f (see the module docstring).

    ``value`` tracers (``_value=True``) stand for results with unknown values and no
    derivative: comparisons, isnan, np.all, count_nonzero...; Python cannot branch on
    them and they cannot index."""

    __slots__ = ("_ctx", "_root", "_pos", "_value", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, ctx, root, pos, value=False):
        self._ctx = ctx
        self._root = root
        self._pos = pos
        self._value = value

    # construction helpers
    @classmethod
    def _new(cls, ctx, sets, shape, value=False):
        root = _Root(sets, tuple(shape))
        return cls(ctx, root, root.pos, value)

    def _sets(self):
        if self._pos is self._root.pos:
            return self._root.sets
        return _gather(self._root.sets, self._pos)

    def _derive(self, pos):
        """A tracer for ``pos`` (root positions): a view when NumPy made a view."""
        pos = np.asarray(pos)
        if pos.dtype != _I8:
            raise TypeError("internal: positions must be int64")
        if np.may_share_memory(pos, self._root.pos):
            return Tracer(self._ctx, self._root, pos, self._value)
        return Tracer._new(self._ctx, _gather(self._root.sets, pos), pos.shape,
                           self._value)

    # array attributes
    @property
    def shape(self):
        return self._pos.shape

    @property
    def ndim(self):
        return self._pos.ndim

    @property
    def size(self):
        return self._pos.size

    @property
    def dtype(self):
        # object, as the Dual's: arrays allocated "like x" in f (np.zeros(n,
        # dtype=x.dtype)) then hold tracers, and NumPy's own code that casts a result
        # with ``ret.dtype.type(...)`` (np.mean) keeps it.
        return np.dtype(object)

    @property
    def T(self):
        return self._derive(self._pos.T)

    @property
    def real(self):
        return self

    @property
    def imag(self):
        return Tracer._new(self._ctx, _empty_sets(self.size), self.shape)

    def __len__(self):
        return len(self._pos)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self):
        return f"Tracer(shape={self.shape}{', value' if self._value else ''})"

    # conversions that need values
    def __bool__(self):
        _refuse("f branches on a traced value (if/while/and/or/bool() of a comparison "
                "of x)")

    def __float__(self):
        _refuse("float() of a traced element (math.* functions and storing into a float "
                "array call it)")

    def __int__(self):
        _refuse("int() of a traced element")

    def __index__(self):
        _refuse("a traced value is used as an index or size")

    def __complex__(self):
        _refuse("complex() of a traced element")

    def __array__(self, dtype=None, copy=None):
        # np.asarray(x) inside f: an object array of 0-d tracers, as the Dual does, so
        # NumPy's object loops call the tracers' own operators.
        if dtype is not None and np.dtype(dtype) != np.dtype(object):
            _refuse(f"np.asarray(x, dtype={np.dtype(dtype)}) or storing a traced value "
                    "into a numeric array, or a traced array used as an index")
        out = np.empty(self.shape, dtype=object)
        flat = out.reshape(-1)
        for i, idx in enumerate(np.ndindex(*self.shape)):
            flat[i] = self._derive(self._pos[idx + (Ellipsis,)])
        return out

    # indexing
    def __getitem__(self, key):
        _check_key(key)
        return self._derive(self._pos[key])

    def __setitem__(self, key, value):
        if isinstance(key, Tracer) and key._value and key.shape == self.shape:
            # x[mask] = v with a traced mask: each element keeps its set or takes v's,
            # so both count (scipy.special.logsumexp does this on its shift)
            v = _lift(value)
            if _ndim(v) != 0:
                _refuse("assignment of an array through a traced boolean mask")
            self[...] = np.add(self, v) if isinstance(v, Tracer) else self + 0.0
            return
        _check_key(key)
        if not self._pos.flags.writeable:
            raise ValueError("assignment destination is read-only (a broadcast or "
                             "diagonal view, as in NumPy); copy it first")
        target = self._pos[key]
        _assign(self._root, self._ctx, target, value)

    # methods: the ndarray methods the Dual has
    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return self._derive(self._pos.reshape(shape, order=order))

    def ravel(self, order="C"):
        return self._derive(self._pos.ravel(order))

    def flatten(self, order="C"):
        return self._derive(self._pos.flatten(order))

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return self._derive(self._pos.transpose(*axes))

    def squeeze(self, axis=None):
        return self._derive(self._pos.squeeze(axis))

    def copy(self, order="C"):
        return self._derive(self._pos.copy(order))

    def fill(self, value):
        self[...] = value

    def __getattr__(self, name):
        func = _methods().get(name)
        if func is None:
            raise AttributeError(f"'Tracer' object has no attribute {name!r}")
        return functools.partial(func, self)

    # operators
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        handler = _FUNCS.get(func)
        if handler is None:
            if func in _REFUSED:
                _refuse(f"{_fname(func)} {_REFUSED[func]}")
            raise TracingError(f"{_fname(func)} is not supported by the sparsity tracer "
                               f"(nor for Dual arrays); {_HINT}")
        return handler(*args, **kwargs)

    __add__ = lambda s, o: np.add(s, o)
    __radd__ = lambda s, o: np.add(o, s)
    __sub__ = lambda s, o: np.subtract(s, o)
    __rsub__ = lambda s, o: np.subtract(o, s)
    __mul__ = lambda s, o: np.multiply(s, o)
    __rmul__ = lambda s, o: np.multiply(o, s)
    __truediv__ = lambda s, o: np.divide(s, o)
    __rtruediv__ = lambda s, o: np.divide(o, s)
    __floordiv__ = lambda s, o: np.floor_divide(s, o)
    __rfloordiv__ = lambda s, o: np.floor_divide(o, s)
    __mod__ = lambda s, o: np.remainder(s, o)
    __rmod__ = lambda s, o: np.remainder(o, s)
    __pow__ = lambda s, o, m=None: np.power(s, o)
    __rpow__ = lambda s, o, m=None: np.power(o, s)
    __matmul__ = lambda s, o: np.matmul(s, o)
    __rmatmul__ = lambda s, o: np.matmul(o, s)
    __neg__ = lambda s: np.negative(s)
    __pos__ = lambda s: np.positive(s)
    __abs__ = lambda s: np.absolute(s)
    __lt__ = lambda s, o: np.less(s, o)
    __le__ = lambda s, o: np.less_equal(s, o)
    __gt__ = lambda s, o: np.greater(s, o)
    __ge__ = lambda s, o: np.greater_equal(s, o)
    __eq__ = lambda s, o: np.equal(s, o)
    __ne__ = lambda s, o: np.not_equal(s, o)
    __invert__ = lambda s: np.invert(s)
    __and__ = lambda s, o: np.logical_and(s, o)
    __or__ = lambda s, o: np.logical_or(s, o)
    __hash__ = None

    def _inplace(self, result):
        self[...] = result
        return self

    __iadd__ = lambda s, o: s._inplace(s + o)
    __isub__ = lambda s, o: s._inplace(s - o)
    __imul__ = lambda s, o: s._inplace(s * o)
    __itruediv__ = lambda s, o: s._inplace(s / o)
    __ipow__ = lambda s, o: s._inplace(s ** o)
    __imod__ = lambda s, o: s._inplace(s % o)
    __ifloordiv__ = lambda s, o: s._inplace(s // o)
    __imatmul__ = lambda s, o: s._inplace(s @ o)


def _as_method(func):
    """t.sum(...) as np.sum(t, ...): the ndarray methods the Dual type defines itself
    (the others reach the registry through __getattr__)."""
    def method(self, *args, **kwargs):
        return func(self, *args, **kwargs)
    method.__name__ = method.__qualname__ = func.__name__
    return method


for _func in (np.sum, np.mean, np.prod, np.max, np.min, np.cumsum, np.dot):
    setattr(Tracer, _func.__name__, _as_method(_func))
del _func


def _check_key(key):
    keys = key if isinstance(key, tuple) else (key,)
    for k in keys:
        if isinstance(k, Tracer) or (isinstance(k, np.ndarray) and k.dtype == object):
            _refuse("a traced boolean mask or traced integer is used as an index")
        if isinstance(k, list) and any(isinstance(e, Tracer) for e in k):
            _refuse("a traced boolean mask or traced integer is used as an index")


def _assign(root, ctx, target, value):
    """Write value's sets into root at the root positions ``target``."""
    target = np.asarray(target)
    value = _lift(value)
    size = root.sets.size
    mp = np.arange(size, dtype=_I8)
    if isinstance(value, Tracer):
        vs = value._sets()
        src = np.broadcast_to(np.arange(value.size, dtype=_I8).reshape(value.shape),
                              target.shape)
        mp[target.ravel()] = size + src.ravel()
        both = _stack_sets([root.sets, vs])
    else:
        np.broadcast_to(np.asarray(value), target.shape)    # NumPy's shape error
        mp[target.ravel()] = -1
        both = root.sets
    root.sets = _gather(both, mp)


# --- arguments: tracers, constants, ids -------------------------------------------------

def _lift(a):
    """A (nested) list/tuple or object array holding tracers, as one Tracer."""
    if isinstance(a, Tracer):
        return a
    if isinstance(a, (list, tuple)) and any(isinstance(e, (Tracer, list, tuple))
                                            for e in a):
        items = [_lift(e) for e in a]
        if any(isinstance(e, Tracer) for e in items):
            return _stack_any(items)
        return a
    if isinstance(a, np.ndarray) and a.dtype == object:
        flat = [_lift(e) for e in a.ravel()]
        if any(isinstance(e, Tracer) for e in flat):
            t = _stack_any(flat)
            return t.reshape(a.shape + t.shape[1:])
    return a


def _stack_any(items):
    ctx = next(e._ctx for e in items if isinstance(e, Tracer))
    shapes = {_shape(e) for e in items}
    if len(shapes) != 1:
        raise ValueError(f"cannot stack traced values of shapes {sorted(shapes)}")
    sets = []
    for e in items:
        sets.append(e._sets() if isinstance(e, Tracer)
                    else _empty_sets(int(np.prod(_shape(e), dtype=_I8))))
    shape = (len(items),) + shapes.pop()
    value = all(e._value for e in items if isinstance(e, Tracer))
    return Tracer._new(ctx, _stack_sets(sets), shape, value)


class _Ids:
    """Element ids across the traced arguments of one call: tracer t maps to
    offset + 1 + flat position; constants to 0."""

    def __init__(self):
        self.sets = []
        self.offset = 0
        self.ctx = None
        self.value = True

    def of(self, a):
        a = _lift(a)
        if isinstance(a, Tracer):
            self.ctx = a._ctx
            self.value = self.value and a._value
            s = a._sets()
            self.sets.append(s)
            ids = np.arange(self.offset + 1, self.offset + 1 + a.size,
                            dtype=_I8).reshape(a.shape)
            self.offset += a.size
            return ids
        return np.zeros(_shape(a), _I8)

    def result(self, r):
        """Tracers for the id arrays in r (an array, or a list/tuple of them)."""
        if isinstance(r, (list, tuple)):
            return type(r)(self.result(e) for e in r)
        r = np.asarray(r)
        S = _stack_sets(self.sets) if self.sets else _empty_sets(0)
        return Tracer._new(self.ctx, _gather(S, r.ravel() - 1), r.shape,
                           self.value and bool(self.sets))


def _is_traced(a):
    if isinstance(a, Tracer):
        return True
    if isinstance(a, (list, tuple)):
        return any(_is_traced(e) for e in a)
    return isinstance(a, np.ndarray) and a.dtype == object and any(
        isinstance(e, Tracer) for e in a.ravel())


def _ctx_of(*args):
    for a in args:
        a = _lift(a)
        if isinstance(a, Tracer):
            return a._ctx
    return None


def _shape(a):
    return a.shape if isinstance(a, Tracer) else np.shape(a)


def _ndim(a):
    return a.ndim if isinstance(a, Tracer) else np.ndim(a)


def _fname(func):
    mod = getattr(func, "__module__", None) or "numpy"
    if mod.startswith("numpy.linalg"):
        mod = "numpy.linalg"
    elif mod.startswith("numpy"):
        mod = "numpy"
    return f"{mod}.{getattr(func, '__name__', repr(func))}"


# --- the rule table ---------------------------------------------------------------------

_VARS = {"x", "y", "a", "b"}


def _partial_info(expr, own):
    """(zero, depends) for a partial written in rules.def: zero if identically 0;
    depends: the arguments it depends on (y, the rule's value, depends on all)."""
    names = set(re.findall(r"[A-Za-z_]\w*", expr)) & _VARS
    if not names:
        try:
            zero = float(expr) == 0.0
        except ValueError:
            zero = False            # a named constant such as DFD_RAD
        return zero, set()
    if "y" in names:
        return False, set(own)
    return False, {"a" if v == "x" else v for v in names}


@functools.lru_cache(maxsize=None)
def _rules():
    """rule name -> tuple of (zero, depends) per argument ('a' is the unary argument)."""
    from dualfd._dual import _core
    out = {}
    for name, partials in _core.RULE_PARTIALS.items():
        own = ("a",) if len(partials) == 1 else ("a", "b")
        out[name] = tuple(_partial_info(p, own) for p in partials)
    return out


@functools.lru_cache(maxsize=None)
def _registry():
    from dualfd._dual import _core
    return _core._registry()


def _ufunc_entry(ufunc):
    from dualfd._dual import _core
    entry = _registry()[1].get(ufunc)
    if entry is None:
        entry = _core._special_lookup(ufunc)
    return entry


def _rule_name(entry, ufunc):
    from dualfd._dual import RULES
    kind, idx = entry
    nunary = sum(1 for r in RULES if r[1] == 1)
    if kind == 1:
        return RULES[idx][0]
    if kind == 2:
        return RULES[nunary + idx][0]
    if kind == 5:
        return "power"
    return None


def _bcast(args):
    """Shapes broadcast; per argument the row map (element of the result -> own)."""
    shapes = [_shape(a) for a in args]
    out = np.broadcast_shapes(*shapes)
    maps = [np.broadcast_to(np.arange(int(np.prod(s, dtype=_I8)), dtype=_I8).reshape(s),
                            out).ravel() if isinstance(a, Tracer) else None
            for a, s in zip(args, shapes)]
    return out, maps


def _elementwise(ctx, args, partials):
    """The result of an elementwise operation with ``partials`` as from _rules()."""
    shape, maps = _bcast(args)
    size = int(np.prod(shape, dtype=_I8))
    parts, srcs = [], {}
    for a, m, (zero, _), nm in zip(args, maps, partials, "ab"):
        if isinstance(a, Tracer) and not a._value:
            s = a._sets()
            srcs[nm] = (s, m)
            if not zero:
                parts.append((None, s, None if a.shape == shape else m))
    if ctx.hessian:
        for nm, (zero, dep) in zip("ab", partials):
            if zero or nm not in srcs:
                continue
            for other in dep:
                if other in srcs:
                    ctx.cross(srcs[nm][0], srcs[nm][1], srcs[other][0], srcs[other][1])
    return Tracer._new(ctx, _union(size, ctx.n, parts), shape)


def _value_result(ctx, args):
    shape = np.broadcast_shapes(*[_shape(a) for a in args])
    return Tracer._new(ctx, _empty_sets(int(np.prod(shape, dtype=_I8))), shape, True)


_REDUCE_METHODS = {"add": ("reduce", "sum"), "multiply": ("reduce", "prod"),
                   "maximum": ("reduce", "max"), "minimum": ("reduce", "min")}


def _ufunc(ufunc, method, inputs, kwargs):
    inputs = tuple(_lift(a) for a in inputs)
    ctx = _ctx_of(*inputs)
    out = kwargs.pop("out", None)
    if method != "__call__":
        name = ufunc.__name__
        if method == "reduce" and name in _REDUCE_METHODS:
            kwargs.setdefault("axis", 0)        # ufunc.reduce's default, not None
            kwargs.pop("dtype", None)
            if _is_traced(kwargs.pop("initial", None)):
                _refuse(f"numpy.{name}.reduce with a traced initial=")
            result = _FUNCS[getattr(np, _REDUCE_METHODS[name][1])](*inputs, **kwargs)
        elif method == "accumulate" and name == "add":
            kwargs.setdefault("axis", 0)
            result = _cumulative(*inputs, nonlinear=False, **kwargs)
        else:
            raise TracingError(f"numpy.{name}.{method} is not supported by the sparsity "
                               f"tracer (nor for Dual arrays); {_HINT}")
    else:
        kwargs.pop("dtype", None) if kwargs.get("dtype") in (None, float, np.float64) \
            else None
        if kwargs:
            raise TracingError(f"numpy.{ufunc.__name__} under the sparsity tracer does "
                               f"not take {', '.join(sorted(kwargs))}; {_HINT}")
        traced = [a for a in inputs if isinstance(a, Tracer)]
        if all(a._value for a in traced):
            result = _value_result(ctx, inputs)   # no derivative at all
        else:
            entry = _ufunc_entry(ufunc)
            if entry is None:
                raise TracingError(f"{_ufunc_fname(ufunc)} is not supported by the "
                                   f"sparsity tracer (nor for Dual arrays); {_HINT}")
            kind = entry[0]
            if kind in (3, 4):
                result = _value_result(ctx, inputs)
            elif kind == 6:
                result = _matmul(*inputs)
            else:
                rule = _rules()[_rule_name(entry, ufunc)]
                if len(inputs) != len(rule):
                    raise TracingError(f"numpy.{ufunc.__name__}: wrong number of inputs")
                result = _elementwise(ctx, inputs, rule)
    if out is not None:
        out = out if isinstance(out, tuple) else (out,)
        if len(out) != 1 or not isinstance(out[0], Tracer):
            _refuse(f"numpy.{ufunc.__name__}(..., out=) into an array that is not "
                    "traced")
        out[0][...] = result
        return out[0]
    return result


def _ufunc_fname(ufunc):
    name = ufunc.__name__
    if getattr(np, name, None) is ufunc:
        return f"numpy.{name}"
    import sys
    special = sys.modules.get("scipy.special")
    if special is not None and getattr(special, name, None) is ufunc:
        return f"scipy.special.{name}"
    return f"the ufunc {name}"


# --- shape and indexing functions: the id trick -----------------------------------------

def _id_call(func, args, kwargs, data_args):
    """func applied to element ids: ``data_args(args, kwargs, ids)`` returns args and
    kwargs with every data argument replaced by ids.of(arg)."""
    ids = _Ids()
    a2, k2 = data_args(args, kwargs, ids)
    return ids.result(func(*a2, **k2))


def _first(args, kwargs, ids):
    return (ids.of(args[0]),) + tuple(args[1:]), kwargs


def _seq_first(args, kwargs, ids):
    return ([ids.of(a) for a in args[0]],) + tuple(args[1:]), kwargs


def _all_positional(args, kwargs, ids):
    return tuple(ids.of(a) for a in args), kwargs


def _id_func(func, data_args=_first):
    def handler(*args, **kwargs):
        return _id_call(func, args, kwargs, data_args)
    return handler


def _view_func(func):
    """A function of one array that NumPy may answer with a view (reshape, transpose,
    split, diagonal, broadcast_to, ...): applied to the tracer's root positions, so that
    what NumPy makes a view stays one and writes through it reach the base."""
    def handler(a, *args, **kwargs):
        a = _lift(a)
        if not isinstance(a, Tracer):
            return _id_call(func, (a,) + args, kwargs, _first)
        r = func(a._pos, *args, **kwargs)
        if isinstance(r, (list, tuple)):
            return type(r)(a._derive(np.asarray(e)) for e in r)
        return a._derive(np.asarray(r))
    return handler


def _pad(array, pad_width, mode="constant", **kwargs):
    if "constant_values" in kwargs and _is_traced(kwargs["constant_values"]):
        _refuse("np.pad with traced constant_values")
    kwargs.pop("constant_values", None)     # constants: no dependence (id 0)
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap", "empty"):
        raise TracingError(f"numpy.pad mode={mode!r} is not supported by the sparsity "
                           f"tracer; {_HINT}")
    ids = _Ids()
    r = np.pad(ids.of(array), pad_width, mode=mode, **kwargs)
    return ids.result(r)


def _insert(arr, obj, values, axis=None):
    if _is_traced(obj):
        _refuse("np.insert at traced positions")
    ids = _Ids()
    a = ids.of(arr)
    v = ids.of(values)
    return ids.result(np.insert(a, obj, v, axis=axis))


def _append(arr, values, axis=None):
    ids = _Ids()
    a = ids.of(arr)
    return ids.result(np.append(a, ids.of(values), axis=axis))


def _put(a, ind, v, mode="raise"):
    if not isinstance(a, Tracer):
        _refuse("np.put of traced values into an array that is not traced")
    if _is_traced(ind):
        _refuse("np.put at traced positions")
    target = np.take(a._pos.reshape(-1), ind, mode=mode)
    vv = _lift(v)
    if isinstance(vv, Tracer):
        ind = np.asarray(ind).ravel()
        reps = np.resize(np.arange(vv.size), ind.size)
        vv = vv.ravel()[reps]
    else:
        vv = np.zeros(_shape(target))
    _assign(a._root, a._ctx, np.asarray(target).ravel(), vv)


def _like(value):
    def handler(a, *args, **kwargs):
        if kwargs.get("dtype") is not None and np.dtype(kwargs["dtype"]).kind != "f":
            return np.zeros(_shape(a), kwargs["dtype"])
        if "shape" in kwargs and kwargs["shape"] is not None:
            shape = kwargs["shape"]
            shape = (shape,) if _ndim(shape) == 0 else tuple(shape)
        else:
            shape = _shape(a)
        ctx = _ctx_of(a)
        return Tracer._new(ctx, _empty_sets(int(np.prod(shape, dtype=_I8))), shape)
    return handler


def _full_like(a, fill_value, *args, **kwargs):
    t = _like(0)(a, **{k: v for k, v in kwargs.items() if k == "shape"})
    if _is_traced(fill_value):
        t[...] = fill_value
    return t


def _astype(a, dtype, *args, **kwargs):
    if np.dtype(dtype).kind == "f":
        return a.copy() if kwargs.get("copy", True) else a
    return Tracer._new(a._ctx, _empty_sets(a.size), a.shape, True)


def _take(a, indices, axis=None, out=None, mode="raise"):
    if _is_traced(indices):
        _refuse("np.take with traced indices")
    return _id_call(np.take, (a, indices), dict(axis=axis, mode=mode), _first)


def _take_along_axis(arr, indices, axis):
    if _is_traced(indices):
        _refuse("np.take_along_axis with traced indices")
    return _id_call(np.take_along_axis, (arr, indices, axis), {}, _first)


def _delete(arr, obj, axis=None):
    if _is_traced(obj):
        _refuse("np.delete at traced positions")
    return _id_call(np.delete, (arr, obj, axis), {}, _first)


def _where(cond, x=None, y=None):
    if x is None and y is None:
        _refuse("np.where(condition) with one argument (an index result)")
    cond = _lift(cond)
    if isinstance(cond, Tracer):
        # which branch is taken depends on values: the union of both
        if not (_is_traced(x) or _is_traced(y)):
            return _value_result(cond._ctx, [cond, x, y])
        r = np.add(x, y)
        return np.broadcast_to(r, np.broadcast_shapes(cond.shape, r.shape)).copy()
    cond = np.asarray(cond, dtype=bool)
    ids = _Ids()
    return ids.result(np.where(cond, ids.of(x), ids.of(y)))


def _select(condlist, choicelist, default=0):
    if any(_is_traced(c) for c in condlist):
        # which choice is taken depends on values: the union of all
        acc = choicelist[0]
        for c in list(choicelist[1:]) + [default]:
            acc = np.add(acc, c)
        shape = np.broadcast_shapes(_shape(acc), *[_shape(c) for c in condlist])
        return np.broadcast_to(acc, shape).copy() if _is_traced(acc) else acc
    ids = _Ids()
    ch = [ids.of(c) for c in choicelist]
    d = ids.of(default)
    return ids.result(np.select([np.asarray(c, bool) for c in condlist], ch, d))


def _clip(a, a_min=None, a_max=None, *args, **kwargs):
    if kwargs.pop("out", None) is not None:
        _refuse("np.clip(..., out=)")
    lo = kwargs.pop("min", a_min)
    hi = kwargs.pop("max", a_max)
    r = a
    for bound in (lo, hi):
        if bound is not None:
            r = _elementwise(_ctx_of(a, lo, hi), [_lift(r), _lift(bound)],
                             _rules()["maximum"])
    if r is a:
        r = a.copy()
    return r


def _zero_derivative(func):
    def handler(a, *args, **kwargs):
        a = _lift(a)
        return Tracer._new(a._ctx, _empty_sets(a.size), a.shape)
    return handler


def _identity(func):
    def handler(a, *args, **kwargs):
        return _lift(a).copy()
    return handler


# --- reductions -------------------------------------------------------------------------

def _axes(ndim, axis):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if _ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(int(a) % max(ndim, 1) if ndim else 0 for a in axis))


def _reduce(a, axis=None, keepdims=False, nonlinear=False, value=False, **ignored):
    """Union along ``axis``; nonlinear adds G_out x G_out to the Hessian pairs."""
    a = _lift(a)
    if not isinstance(a, Tracer):
        a = np.asarray(a)
    if not isinstance(a, Tracer):
        return None
    ctx = a._ctx
    ax = _axes(a.ndim, axis)
    ids = np.arange(a.size, dtype=_I8).reshape(a.shape)
    keep = [d for d in range(a.ndim) if d not in ax]
    moved = np.transpose(ids, keep + list(ax))
    out_shape = tuple(a.shape[d] for d in keep)
    osize = int(np.prod(out_shape, dtype=_I8))
    grp = moved.reshape(osize, -1) if osize else moved.reshape(0, 0)
    out_rows = np.repeat(np.arange(osize, dtype=_I8), grp.shape[1] if osize else 0)
    S = _union(osize, ctx.n, [(out_rows, a._sets(), grp.ravel())])
    if nonlinear:
        ctx.square(S)
    if keepdims:
        out_shape = tuple(1 if d in ax else a.shape[d] for d in range(a.ndim))
    return Tracer._new(ctx, S, out_shape, value or a._value)


def _reducer(nonlinear=False, value=False):
    def handler(a, axis=None, *args, keepdims=False, **kwargs):
        if kwargs.get("out") is not None:
            _refuse("a reduction with out=")
        if kwargs.get("where") not in (None, True):
            _refuse("a reduction with where=")
        a = _lift(a)
        if isinstance(a, (list, tuple)):
            a = np.asarray(a)
        return _reduce(a, axis, keepdims, nonlinear=nonlinear, value=value)
    return handler


def _stat(nonlinear):
    def handler(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
        return _reducer(nonlinear)(a, axis, keepdims=keepdims, out=out)
    return handler


def _average(a, axis=None, weights=None, returned=False, keepdims=False):
    r = _reduce(a, axis, keepdims) if _is_traced(a) else None
    if weights is not None and _is_traced(weights):
        w = _reduce(weights, None, False)
        ctx = _ctx_of(a, weights)
        shape = _shape(r) if r is not None else _shape(
            np.average(np.zeros(_shape(a)), axis=axis, keepdims=keepdims))
        wsets = w._sets()
        rr = r._sets() if r is not None else _empty_sets(int(np.prod(shape, dtype=_I8)))
        size = rr.size
        S = _union(size, ctx.n, [(np.arange(size), rr, np.arange(size)),
                                 (np.arange(size), wsets, np.zeros(size, _I8))])
        ctx.square(S)
        r = Tracer._new(ctx, S, shape)
    if returned:
        _refuse("np.average(..., returned=True)")
    return r


def _cumulative(a, axis=None, dtype=None, out=None, nonlinear=False):
    a = _lift(a)
    if axis is None:
        a = a.ravel()
        axis = 0
    ctx = a._ctx
    ids = np.moveaxis(np.arange(a.size, dtype=_I8).reshape(a.shape), axis, -1)
    L = ids.shape[-1]
    # element j along the axis depends on elements 0..j: pairs (out j, in i <= j)
    jj, ii = np.tril_indices(L)
    flat = ids.reshape(-1, L)
    out_rows = flat[:, jj].ravel()
    in_rows = flat[:, ii].ravel()
    S = _union(a.size, ctx.n, [(out_rows, a._sets(), in_rows)])
    if nonlinear:
        ctx.square(S)
    return Tracer._new(ctx, S, a.shape)


def _sorter(func):
    def handler(a, *args, axis=-1, **kwargs):
        if func is np.partition and args:
            args = args[1:]            # kth
        if args:
            axis = args[0]
        a = _lift(a)
        if axis is None:
            a = a.ravel()
            axis = 0
        r = _reduce(a, axis, keepdims=True)
        return np.broadcast_to(r, a.shape).copy()
    return handler


def _window(a, axis, radius):
    """Each element depends on the elements within ``radius`` along ``axis``."""
    ctx = a._ctx
    ids = np.moveaxis(np.arange(a.size, dtype=_I8).reshape(a.shape), axis, -1)
    L = ids.shape[-1]
    j = np.arange(L)
    outs, ins = [], []
    for d in range(-radius, radius + 1):
        ok = (j + d >= 0) & (j + d < L)
        outs.append(ids[..., j[ok]].ravel())
        ins.append(ids[..., j[ok] + d].ravel())
    return Tracer._new(ctx, _union(a.size, ctx.n, [(np.concatenate(outs), a._sets(),
                                                   np.concatenate(ins))]), a.shape)


def _gradient(f, *varargs, axis=None, edge_order=1):
    if any(_is_traced(v) for v in varargs):
        _refuse("np.gradient with traced spacings")
    f = _lift(f)
    axes = _axes(f.ndim, axis) if axis is not None else tuple(range(f.ndim))
    if axis is not None and _ndim(axis) == 0:
        return _window(f, axes[0], 2)
    outs = [_window(f, ax, 2) for ax in axes]
    return outs[0] if len(outs) == 1 else tuple(outs)


def _diff(a, n=1, axis=-1, prepend=None, append=None):
    a = _lift(a)
    if prepend is not None or append is not None:
        edge = list(a.shape)
        edge[axis] = 1

        def grow(e):        # a scalar prepend/append is one slice along axis
            e = _lift(e)
            return np.broadcast_to(e, tuple(edge)) if _ndim(e) == 0 else e
        a = np.concatenate([grow(e) if e is not None and e is not a else e
                            for e in (prepend, a, append) if e is not None], axis=axis)
    for _ in range(n):
        sl1 = [slice(None)] * a.ndim
        sl2 = [slice(None)] * a.ndim
        sl1[axis] = slice(1, None)
        sl2[axis] = slice(None, -1)
        a = a[tuple(sl1)] - a[tuple(sl2)]
    return a


def _trace_fn(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return np.sum(np.diagonal(a, offset, axis1, axis2), axis=-1)


# --- products ---------------------------------------------------------------------------

def _mask(a):
    """Where an operand may be non-zero: everywhere for a tracer, else its non-zeros."""
    if isinstance(a, Tracer):
        return np.ones(a.shape, bool)
    return np.asarray(a) != 0


def _matmul2(A, B):
    """C = A @ B for 2-D operands (at least one traced), by joining the non-zeros of A
    and B on the contracted index: memory and time O(number of products)."""
    ctx = _ctx_of(A, B)
    m, k = _shape(A)
    k2, p = _shape(B)
    if k != k2:
        raise ValueError(f"matmul: mismatch in the contracted dimension ({k} != {k2})")
    ai, ak = np.nonzero(_mask(A))
    bk, bj = np.nonzero(_mask(B))            # row-major: sorted by bk
    lo = np.searchsorted(bk, ak, "left")
    cnt = np.searchsorted(bk, ak, "right") - lo
    total = int(cnt.sum())
    rep = np.repeat(np.arange(ai.size, dtype=_I8), cnt)
    posb = lo[rep] + (np.arange(total, dtype=_I8) - (np.cumsum(cnt) - cnt)[rep])
    out = ai[rep] * p + bj[posb]
    ida = ai[rep] * k + ak[rep]
    idb = bk[posb] * p + bj[posb]
    parts = []
    if isinstance(A, Tracer):
        parts.append((out, A._sets(), ida))
    if isinstance(B, Tracer):
        parts.append((out, B._sets(), idb))
    if isinstance(A, Tracer) and isinstance(B, Tracer):
        ctx.cross(A._sets(), ida, B._sets(), idb)
    return Tracer._new(ctx, _union(m * p, ctx.n, parts), (m, p))


def _einsum_general(subscripts, *operands):
    """einsum on index sets: for each traced operand, the einsum of a one-hot encoding of
    its elements with the non-zero masks of the others (non-negative, so nothing
    cancels) gives which of its elements each output depends on.  Chunked over the
    operand's elements; the Hessian gets G_out x G_out (the products' cross terms are
    within it)."""
    ctx = _ctx_of(*operands)
    masks = [_mask(o).astype(np.float64) for o in operands]
    out_shape = np.einsum(subscripts, *masks).shape
    osize = int(np.prod(out_shape, dtype=_I8))
    ins, outs = subscripts.split("->") if "->" in subscripts else (subscripts, None)
    labels = ins.split(",")
    used = set(subscripts) - set(",->.")
    free = next(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                if c not in used)
    if outs is None:
        # implicit mode: the labels that occur once, in order, after any ellipsis
        flat = "".join(labels).replace(".", "")
        outs = ("..." if "..." in ins else "") + "".join(
            sorted(c for c in set(flat) if flat.count(c) == 1))
    parts = []
    for i, op in enumerate(operands):
        if not isinstance(op, Tracer):
            continue
        s = op.size
        chunk = max(1, min(s, (1 << 22) // max(osize, s, 1)))   # one-hot <= 4M
        S = op._sets()
        for c0 in range(0, s, chunk):
            c1 = min(s, c0 + chunk)
            onehot = np.zeros((s, c1 - c0))
            onehot[np.arange(c0, c1), np.arange(c1 - c0)] = 1.0
            ms = list(masks)
            ms[i] = onehot.reshape(op.shape + (c1 - c0,))
            labs = list(labels)
            labs[i] = labs[i] + free
            spec = ",".join(labs) + "->" + outs + free
            dep = np.einsum(spec, *ms).reshape(osize, c1 - c0)
            o, e = np.nonzero(dep)
            parts.append((o, S, e + c0))
    R = _union(osize, ctx.n, parts)
    if sum(isinstance(o, Tracer) for o in operands) > 1:
        ctx.square(R)
    return Tracer._new(ctx, R, out_shape)


def _contract2(spec, a, b):
    """A two-operand einsum that is a matrix product after transposing and reshaping
    (tensordot, dot, inner, outer, kron, vdot, matrix-vector): the sparse join of
    _matmul2, O(number of products) instead of the one-hot einsum.  None for other
    forms (batch labels, repeated labels, labels summed in one operand only)."""
    ins, out = spec.split("->")
    la, lb = ins.split(",")
    if len(set(la)) != len(la) or len(set(lb)) != len(lb) or len(set(out)) != len(out):
        return None
    shared = [c for c in la if c in lb]
    fa = [c for c in la if c not in lb]
    fb = [c for c in lb if c not in la]
    if any(c in out for c in shared) or sorted(out) != sorted(fa + fb):
        return None
    sa, sb = _shape(a), _shape(b)
    if len(sa) != len(la) or len(sb) != len(lb):
        return None
    dim = {c: sa[i] for i, c in enumerate(la)}
    for i, c in enumerate(lb):
        if c in dim and dim[c] != sb[i]:
            raise ValueError(f"einsum: operands disagree on the size of {c!r}")
        dim[c] = sb[i]
    prod = lambda labels: int(np.prod([dim[c] for c in labels], dtype=_I8))

    def arrange(x, labels, order, shape):
        perm = [labels.index(c) for c in order]
        return np.reshape(np.transpose(x, perm), shape)
    A = arrange(a, la, fa + shared, (prod(fa), prod(shared)))
    B = arrange(b, lb, shared + fb, (prod(shared), prod(fb)))
    C = _matmul2(A, B).reshape(tuple(dim[c] for c in fa + fb))
    return np.transpose(C, [(fa + fb).index(c) for c in out])


def _einsum(*operands, **kwargs):
    kwargs.pop("optimize", None)
    if kwargs:
        raise TracingError(f"numpy.einsum under the sparsity tracer does not take "
                           f"{', '.join(sorted(kwargs))}; {_HINT}")
    if isinstance(operands[0], str):
        spec, ops = operands[0], [_lift(o) for o in operands[1:]]
    else:       # sublist form: op, sublist, op, sublist, ..., [out]
        ops, subs = [], []
        items = list(operands)
        out = items.pop() if len(items) % 2 else None
        for o, s in zip(items[::2], items[1::2]):
            ops.append(_lift(o))
            subs.append(s)

        def lab(s):
            return "".join("..." if e is Ellipsis else chr(ord("a") + e) for e in s)
        spec = ",".join(lab(s) for s in subs) + ("->" + lab(out) if out is not None
                                                 else "")
    spec = spec.replace(" ", "")
    if not any(isinstance(o, Tracer) for o in ops):
        return np.einsum(spec, *ops)
    if len(ops) == 2 and "..." not in spec and "->" in spec:
        r = _contract2(spec, ops[0], ops[1])
        if r is not None:
            return r
    return _einsum_general(spec, *ops)


def _matmul(a, b):
    a, b = _lift(a), _lift(b)
    if _ndim(a) == 0 or _ndim(b) == 0:
        raise ValueError("matmul: input operand does not have enough dimensions")
    if _ndim(a) == 2 and _ndim(b) in (1, 2):
        return _einsum("ij,j->i" if _ndim(b) == 1 else "ij,jk->ik", a, b)
    if _ndim(a) == 1 and _ndim(b) == 2:
        return _einsum("ij,jk->ik", a.reshape(1, -1) if isinstance(a, Tracer)
                       else np.reshape(a, (1, -1)), b).reshape(-1)
    if _ndim(a) == 1 and _ndim(b) == 1:
        return _einsum("i,i->", a, b)
    sa = "...ij" if _ndim(a) > 1 else "j"
    sb = "...jk" if _ndim(b) > 1 else "j"
    so = "..." + ("i" if _ndim(a) > 1 else "") + ("k" if _ndim(b) > 1 else "")
    return _einsum(f"{sa},{sb}->{so}", a, b)


def _tensordot(a, b, axes=2):
    a, b = _lift(a), _lift(b)
    na, nb = _ndim(a), _ndim(b)
    if _ndim(axes) == 0:
        axes = int(axes)
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if _ndim(ax_a) == 0 else list(ax_a)
        ax_b = [ax_b] if _ndim(ax_b) == 0 else list(ax_b)
    ax_a = [x % na for x in ax_a]
    ax_b = [x % nb for x in ax_b]
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    la = [next(letters) for _ in range(na)]
    lb = [next(letters) for _ in range(nb)]
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    out = [la[i] for i in range(na) if i not in ax_a] + [lb[j] for j in range(nb)
                                                          if j not in ax_b]
    return _einsum("".join(la) + "," + "".join(lb) + "->" + "".join(out), a, b)


def _dot(a, b, out=None):
    a, b = _lift(a), _lift(b)
    if _ndim(a) == 0 or _ndim(b) == 0:
        return np.multiply(a, b)
    if _ndim(b) == 1:
        return _tensordot(a, b, ([-1], [0]))
    return _tensordot(a, b, ([-1], [-2]))


def _inner(a, b):
    a, b = _lift(a), _lift(b)
    if _ndim(a) == 0 or _ndim(b) == 0:
        return np.multiply(a, b)
    return _tensordot(a, b, ([-1], [-1]))


def _outer(a, b, out=None):
    return _einsum("i,j->ij", np.ravel(_lift(a)), np.ravel(_lift(b)))


def _vdot(a, b):
    return _einsum("i,i->", np.ravel(_lift(a)), np.ravel(_lift(b)))


def _kron(a, b):
    a, b = _lift(a), _lift(b)
    nd = max(_ndim(a), _ndim(b))
    a = np.reshape(a, (1,) * (nd - _ndim(a)) + _shape(a))
    b = np.reshape(b, (1,) * (nd - _ndim(b)) + _shape(b))
    la = "abcdefghij"[:nd]
    lb = "klmnopqrst"[:nd]
    r = _einsum(f"{la},{lb}->" + "".join(x + y for x, y in zip(la, lb)), a, b)
    return r.reshape(tuple(_shape(a)[i] * _shape(b)[i] for i in range(nd)))


def _vecdot(x1, x2, /, *, axis=-1):
    x1, x2 = _lift(x1), _lift(x2)
    x1 = np.moveaxis(x1, axis, -1)
    x2 = np.moveaxis(x2, axis, -1)
    return _einsum("...i,...i->...", x1, x2)


def _multi_dot(arrays, *, out=None):
    r = arrays[0]
    for a in arrays[1:]:
        r = _matmul(r, a)
    return r


def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _lift(a), _lift(b)
    ra = _reduce(a, axisa, keepdims=True) if isinstance(a, Tracer) else None
    rb = _reduce(b, axisb, keepdims=True) if isinstance(b, Tracer) else None
    shape = np.cross(np.zeros(_shape(a)), np.zeros(_shape(b)), axisa=axisa,
                     axisb=axisb, axisc=axisc).shape
    ctx = _ctx_of(a, b)
    pa = np.moveaxis(ra, axisa, -1) if ra is not None else np.zeros(_shape(a))[..., :1]
    pb = np.moveaxis(rb, axisb, -1) if rb is not None else np.zeros(_shape(b))[..., :1]
    # every component of a x b is a product of one component of each: multiply's rule
    r = _elementwise(ctx, [_lift(pa), _lift(pb)], _rules()["multiply"])
    return np.moveaxis(np.broadcast_to(r, r.shape[:-1] + (shape[axisc],)).copy()
                       if r.ndim else r, -1, axisc).reshape(shape)


def _polyval(p, x):
    p, x = _lift(p), _lift(x)
    r = np.zeros(_shape(x)) if not isinstance(x, Tracer) else x * 0.0
    for i in range(_shape(p)[0]):
        r = r * x + p[i]
    return r


def _interp(x, xp, fp, left=None, right=None, period=None):
    x, xp, fp = _lift(x), _lift(xp), _lift(fp)
    ctx = _ctx_of(x, xp, fp, left, right)
    shape = _shape(x)
    size = int(np.prod(shape, dtype=_I8))
    rows = np.arange(size, dtype=_I8)
    parts = []
    for a, whole in ((x, False), (xp, True), (fp, True), (left, True), (right, True)):
        a = _lift(a)
        if isinstance(a, Tracer):
            S = _Sets(np.array([0, _row_union(a._sets()).size], _I8),
                      _row_union(a._sets())) if whole else a._sets()
            parts.append((rows, S, np.zeros(size, _I8) if whole else rows))
    S = _union(size, ctx.n, parts)
    ctx.square(S)
    return Tracer._new(ctx, S, shape)


def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    ids = _Ids()
    a, b = ids.of(start), ids.of(stop)
    shape = np.linspace(np.zeros(_shape(a)), np.zeros(_shape(b)), num,
                        endpoint=endpoint, axis=axis).shape
    ctx = ids.ctx
    ta = _lift(start) if isinstance(_lift(start), Tracer) else np.zeros(_shape(a))
    tb = _lift(stop) if isinstance(_lift(stop), Tracer) else np.zeros(_shape(b))
    r = _elementwise(ctx, [ta, tb], _rules()["add"])
    r = np.broadcast_to(np.expand_dims(r, axis), shape).copy()
    if retstep:
        return r, _elementwise(ctx, [ta, tb], _rules()["add"])
    return r


def _meshgrid(*xi, **kwargs):
    ids = _Ids()
    return list(ids.result(np.meshgrid(*[ids.of(x) for x in xi], **kwargs)))


# --- linear algebra: dense unions -------------------------------------------------------

def _probe(a):
    """A well-conditioned stand-in of a's shape, to learn output shapes and types."""
    shape = _shape(a)
    r = 0.1 * np.random.default_rng(0).standard_normal(shape)
    if len(shape) >= 2:
        m, n = shape[-2:]
        r += max(m, n) * np.eye(m, n)   # diagonally dominant: nonsingular, and SPD in
    return r                            # the triangle cholesky and eigh read


def _dense(func):
    """Every output depends on every traced input (nonlinear)."""
    def handler(*args, **kwargs):
        lifted = [_lift(a) for a in args]
        klifted = {k: _lift(v) for k, v in kwargs.items()}
        traced = [a for a in lifted + list(klifted.values()) if isinstance(a, Tracer)]
        ctx = traced[0]._ctx
        allset = _unique(np.concatenate([t._sets().indices for t in traced]))
        probe = func(*[_probe(a) if isinstance(a, Tracer) else a for a in lifted],
                     **{k: _probe(v) if isinstance(v, Tracer) else v
                        for k, v in klifted.items()})
        if ctx.hessian:
            ctx.square(_Sets(np.array([0, allset.size], _I8), allset))

        def conv(r):
            if isinstance(r, tuple):
                items = [conv(e) for e in r]
                return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
            if isinstance(r, list):
                return [conv(e) for e in r]
            r = np.asarray(r)
            if r.dtype.kind not in "fc":
                return Tracer._new(ctx, _empty_sets(r.size), r.shape, True)
            size = r.size
            indptr = np.arange(size + 1, dtype=_I8) * allset.size
            return Tracer._new(ctx, _Sets(indptr, np.tile(allset, size)), r.shape)
        return conv(probe)
    return handler


def _norm_reduce(func):
    """Vector and matrix norms: reductions over their axes (nonlinear)."""
    def handler(x, *args, **kwargs):
        x = _lift(x)
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        axis = kwargs.get("axis")
        if func is np.linalg.norm and len(args) >= 2:
            axis = args[1]
        if func is getattr(np.linalg, "matrix_norm", None):
            axis = kwargs.get("axis", (-2, -1))
        keep = kwargs.get("keepdims", False)
        if func is np.linalg.norm and len(args) >= 3:
            keep = args[2]
        return _reduce(x, axis, keep, nonlinear=True)
    return handler


# --- the function table -----------------------------------------------------------------

def _values_only(func):
    """Results that depend on values only (np.all, count_nonzero): value tracers."""
    def handler(a, *args, **kwargs):
        r = _reduce(a, kwargs.get("axis", args[0] if args else None),
                    kwargs.get("keepdims", False), value=True)
        return Tracer._new(r._ctx, _empty_sets(r.size), r.shape, True)
    return handler


_REFUSED = {
    np.argmax: "returns positions that depend on values",
    np.argmin: "returns positions that depend on values",
    np.argsort: "returns positions that depend on values",
    np.argpartition: "returns positions that depend on values",
    np.argwhere: "returns positions that depend on values",
    np.nonzero: "returns positions that depend on values",
    np.flatnonzero: "returns positions that depend on values",
}


def _shape_fn(func):
    def handler(a, *args, **kwargs):
        return func(np.empty(_shape(_lift(a)), dtype=bool), *args, **kwargs)
    return handler


def _build():
    id1 = ["atleast_1d", "atleast_2d", "atleast_3d", "broadcast_to", "copy", "diag",
           "diagonal", "expand_dims", "flip", "fliplr", "flipud", "moveaxis", "ravel",
           "repeat", "reshape", "roll", "rollaxis", "rot90", "squeeze", "swapaxes",
           "tile", "transpose", "tril", "triu", "array_split", "split", "hsplit",
           "vsplit", "dsplit"]
    seq = ["concatenate", "stack", "hstack", "vstack", "dstack", "column_stack",
           "row_stack"]
    t = {}
    for name in id1:
        f = getattr(np, name, None)
        if f is not None:
            # diag, tril, triu write zeros: those need the ids (0 = no dependence)
            t[f] = (_id_func(f, _all_positional) if name.startswith("atleast")
                    else _id_func(f) if name in ("diag", "tril", "triu")
                    else _view_func(f))
    for name in seq:
        f = getattr(np, name, None)
        if f is not None:
            t[f] = _id_func(f, _seq_first)
    t.update({
        np.pad: _pad, np.insert: _insert, np.append: _append, np.put: _put,
        np.take: _take, np.take_along_axis: _take_along_axis, np.delete: _delete,
        np.where: _where, np.select: _select, np.clip: _clip,
        np.zeros_like: _like(0), np.ones_like: _like(1), np.empty_like: _like(None),
        np.full_like: _full_like,
        np.real: _identity(np.real), np.real_if_close: _identity(np.real_if_close),
        np.nan_to_num: _identity(np.nan_to_num),
        np.imag: _zero_derivative(np.imag), np.angle: _zero_derivative(np.angle),
        np.round: _zero_derivative(np.round), np.around: _zero_derivative(np.around),
        np.fix: _zero_derivative(np.fix),
        np.sum: _reducer(), np.mean: _reducer(), np.max: _reducer(),
        np.amax: _reducer(), np.min: _reducer(), np.amin: _reducer(),
        np.ptp: _reducer(), np.prod: _reducer(True),
        np.std: _stat(True), np.var: _stat(True), np.average: _average,
        np.all: _values_only(np.all), np.any: _values_only(np.any),
        np.count_nonzero: _values_only(np.count_nonzero),
        np.cumsum: lambda a, axis=None, dtype=None, out=None: _cumulative(a, axis),
        np.cumprod: lambda a, axis=None, dtype=None, out=None: _cumulative(
            a, axis, nonlinear=True),
        np.sort: _sorter(np.sort), np.partition: _sorter(np.partition),
        np.gradient: _gradient, np.diff: _diff, np.trace: _trace_fn,
        np.dot: _dot, np.inner: _inner, np.outer: _outer, np.vdot: _vdot,
        np.kron: _kron, np.tensordot: _tensordot, np.einsum: _einsum,
        np.cross: _cross, np.polyval: _polyval, np.interp: _interp,
        np.linspace: _linspace, np.meshgrid: _meshgrid,
        np.ndim: _ndim, np.shape: _shape,
        np.size: lambda a, axis=None: (_lift(a).size if axis is None
                                               else _shape(_lift(a))[axis]),
        np.sinc: lambda x: _elementwise(_lift(x)._ctx, [_lift(x)], _rules()["sinc"]),
    })
    la = np.linalg
    # NumPy 2.x names (np.astype, the array-API linalg functions): only where they exist
    newer = {(np, "astype"): _astype, (la, "matmul"): _matmul, (la, "outer"): _outer,
             (la, "tensordot"): _tensordot, (la, "vecdot"): _vecdot,
             (la, "multi_dot"): _multi_dot, (la, "cross"): _cross,
             (la, "norm"): _norm_reduce(la.norm)}
    for name in ("vector_norm", "matrix_norm"):
        if hasattr(la, name):
            newer[(la, name)] = _norm_reduce(getattr(la, name))
    for name in ("cholesky", "cond", "det", "eig", "eigh", "eigvals", "eigvalsh", "inv",
                 "lstsq", "matrix_power", "matrix_rank", "pinv", "qr", "slogdet",
                 "solve", "svd", "svdvals", "tensorinv", "tensorsolve"):
        if hasattr(la, name):
            newer[(la, name)] = _dense(getattr(la, name))
    for (mod, name), handler in newer.items():
        f = getattr(mod, name, None)
        if f is not None:
            t[f] = handler
    return t


_FUNCS = _build()


@functools.lru_cache(maxsize=None)
def _methods():
    """ndarray methods the Dual resolves through its registry (d.var(), d.clip(), ...),
    and ufuncs by name for NumPy's object loops."""
    out = {}
    for name, func in _registry()[3].items():
        if isinstance(func, np.ufunc):
            out[name] = func
        elif func in _FUNCS or func in _REFUSED:
            out[name] = func
    out.update({"sort": lambda a, axis=-1, **k: _assign_self(a, np.sort(a, axis)),
                "partition": lambda a, kth, axis=-1, **k: _assign_self(
                    a, np.partition(a, kth, axis)),
                "astype": lambda a, dtype, **k: _astype(a, dtype, **k),
                "put": lambda a, ind, v, mode="raise": _put(a, ind, v, mode),
                "item": _refuse_method("item"), "tolist": _refuse_method("tolist")})
    for u in _registry()[1]:
        out.setdefault(u.__name__, u)
    return out


def _assign_self(a, r):
    a[...] = r


def _refuse_method(name):
    def handler(*args, **kwargs):
        _refuse(f"x.{name}() of a traced array (it needs values)")
    return handler


# --- entry points -----------------------------------------------------------------------

def _shape_tuple(xshape):
    return tuple(int(s) for s in (xshape if _ndim(xshape) else (xshape,))) \
        if not isinstance(xshape, tuple) else tuple(int(s) for s in xshape)


def _run(f, xshape, args, kwargs, hessian):
    xshape = _shape_tuple(xshape)
    n = int(np.prod(xshape, dtype=_I8))
    ctx = _Context(n, hessian)
    eye = _Sets(np.arange(n + 1, dtype=_I8), np.arange(n, dtype=_I8))
    x = Tracer._new(ctx, eye, xshape)
    r = _lift(f(x, *args, **(kwargs or {})))
    if isinstance(r, Tracer):
        if r._value:
            r = Tracer._new(ctx, _empty_sets(r.size), r.shape)
        return ctx, r.shape, r._sets()
    try:
        a = np.asarray(r, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"f must return a number, an array or a traced array (or a "
                        f"list of them that forms a rectangular array); it returned "
                        f"a {type(r).__name__} that does not: {e}") from None
    return ctx, a.shape, _empty_sets(a.size)


def trace_jacobian(f, xshape, args=(), kwargs=None):
    """The pattern of d f / d x at every x of shape ``xshape``, by one traced call of f.

    Returns ``(fshape, indptr, indices)``: f's output shape and the CSR pattern of the
    flattened (m, n) Jacobian, m = prod(fshape), n = prod(xshape); int64 arrays, indices
    sorted and unique per row."""
    _, fshape, S = _run(f, xshape, tuple(args), kwargs, False)
    return fshape, S.indptr, S.indices


def trace_hessian(f, xshape, args=(), kwargs=None):
    """A symmetric n x n CSR pattern ``(indptr, indices)`` holding every entry of the
    Hessian of scalar f that may be non-zero at some x of shape ``xshape``."""
    ctx, fshape, _ = _run(f, xshape, tuple(args), kwargs, True)
    if int(np.prod(fshape, dtype=_I8)) != 1:
        raise ValueError(f"the Hessian needs a scalar f; f returned shape {fshape}")
    return ctx.pattern()


def jacobian_sparsity(f, x, *args, **kwargs):
    """Sparsity pattern of the Jacobian of f, detected by tracing f once.

    f runs on a tracer array that carries, per element, the set of inputs it may depend
    on, and no values: the pattern holds at every x of this shape.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar or an array of shape ``fshape``,
        written with NumPy functions (anything that runs with ``method="dual"``).
    x : array_like
        Only its shape is used.
    *args, **kwargs
        Passed to f unchanged, as constants.

    Returns
    -------
    scipy.sparse.csr_array of bool, shape (m, n)
        ``m = prod(fshape)``, ``n = x.size``; True where ``d f_i / d x_j`` may be
        non-zero for some x.  Where f selects by value (``np.where`` on a traced
        condition, ``np.maximum``, ``abs``, ``sort``) every branch counts.

    Raises
    ------
    TypeError
        f branches on or converts a traced value, indexes with one, or calls a function
        the tracer does not support; the message names it.  Pass an explicit pattern
        (``sparsity=``) or rewrite with ``np.where``.

    See Also
    --------
    jacobian : ``sparsity='auto'`` detects this pattern and evaluates per color.
    hessian_sparsity

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> P = dfd.jacobian_sparsity(lambda x: x[1:] - x[:-1] ** 2, np.zeros(4))
    >>> P.toarray().astype(int)
    array([[1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    from ._sparse import scipy_sparse   # ImportError saying why SciPy is needed
    csr_array = scipy_sparse().csr_array
    xshape = _shape(x)
    fshape, indptr, indices = trace_jacobian(f, xshape, args, kwargs)
    m = int(np.prod(fshape, dtype=_I8))
    n = int(np.prod(xshape, dtype=_I8))
    return csr_array((np.ones(indices.size, bool), indices, indptr), shape=(m, n))


def hessian_sparsity(f, x, *args, **kwargs):
    """Sparsity pattern of the Hessian of scalar f, detected by tracing f once.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar, written with NumPy functions.
    x : array_like
        Only its shape is used.
    *args, **kwargs
        Passed to f unchanged, as constants.

    Returns
    -------
    scipy.sparse.csr_array of bool, shape (n, n)
        Symmetric; True wherever ``d2 f / dx_i dx_j`` may be non-zero for some x.  A
        superset: pairs that interact nonlinearly anywhere in f count, exact for sums of
        local terms.

    Raises
    ------
    TypeError
        As for `jacobian_sparsity`.
    ValueError
        f does not return a scalar.

    See Also
    --------
    hessian : ``sparsity='auto'`` detects this pattern and uses a star coloring.
    jacobian_sparsity

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> f = lambda x: np.sum((x[1:] - x[:-1] ** 2) ** 2)
    >>> dfd.hessian_sparsity(f, np.zeros(4)).toarray().astype(int)
    array([[1, 1, 0, 0],
           [1, 1, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 1, 1]])
    """
    from ._sparse import scipy_sparse   # ImportError saying why SciPy is needed
    csr_array = scipy_sparse().csr_array
    xshape = _shape(x)
    indptr, indices = trace_hessian(f, xshape, args, kwargs)
    n = int(np.prod(xshape, dtype=_I8))
    return csr_array((np.ones(indices.size, bool), indices, indptr), shape=(n, n))
