"""Validators shared by every public entry point: flags, steps, chunk, bounds,
accuracy (rtol, atol, order, full_output).

Options are checked once, when a transformation is built; what depends on x's
shape (broadcasting, and which way a bounds argument reads) is settled per call
by `ParsedBounds.resolve` and `broadcast`.
"""

from __future__ import annotations

import math
import numbers
import reprlib

import numpy as np

from ._fd import index_str

__all__ = ["flag", "positive_array", "chunk_size", "broadcast", "accuracy",
           "ParsedBounds", "Pattern", "sparsity"]

# method='adaptive''s default target; the orders of the fixed central stencils
DEFAULT_RTOL = 1e-10
ORDERS = (2, 4, 6, 8)


def flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def positive_array(value, name):
    """A float or array of finite positive floats, as a private C-contiguous,
    aligned, native-order float64 array that keeps a 0-d value 0-d (so that it
    broadcasts to a scalar x) and does not change when the caller's does."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):   # ragged nested lists
        a = np.asarray(None)
    # strings and bools are not steps, though NumPy would convert them
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a positive float or an array of them; "
                        f"got {type(value).__name__}"
                        + (f" of dtype {a.dtype}" if isinstance(value, np.ndarray) else ""))
    a = np.array(a, dtype=np.float64, order="C")
    if not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError(f"{name} must be finite and positive; got {value!r}")
    return a


def chunk_size(chunk):
    """A positive int; huge values are fine (capped at n when used)."""
    if (isinstance(chunk, (bool, np.bool_)) or not isinstance(chunk, numbers.Integral)
            or chunk < 1):
        raise ValueError(f"chunk must be a positive integer; got {chunk!r}")
    return int(chunk)


def accuracy(method, rtol, atol, order, full_output):
    """(rtol, atol, order, full_output): rtol, atol and full_output belong to
    method='adaptive' (rtol and atol are None otherwise), order to 'central'."""
    if method == "adaptive":
        rtol, atol = _tolerances(DEFAULT_RTOL if rtol is None else rtol,
                                 0.0 if atol is None else atol)
    elif rtol is not None or atol is not None:
        raise ValueError(f"rtol and atol apply to method='adaptive', which meets them "
                         f"by extrapolation; method={method!r} takes a fixed step: "
                         "remove them, or pass method='adaptive'")
    full_output = flag(full_output, "full_output")
    if full_output and method != "adaptive":
        raise ValueError("full_output returns the error estimates of "
                         f"method='adaptive'; method={method!r} has none: remove it")
    if order is None or (isinstance(order, int) and order == 2):
        order = 2
    elif method != "central":
        raise ValueError(f"order applies to method='central' (2, 4, 6 or 8); got "
                         f"order={order!r} with method={method!r}")
    elif not isinstance(order, (int, np.integer)) or isinstance(order, bool) or \
            int(order) not in ORDERS:
        raise ValueError(f"order must be 2, 4, 6 or 8; got {order!r}")
    return rtol, atol, int(order), full_output


def _tolerances(rtol, atol):
    """rtol and atol as floats, or ValueError."""
    out = []
    for name, v in (("rtol", rtol), ("atol", atol)):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a non-negative finite float; got {v!r}") from None
        if not math.isfinite(f) or f < 0:
            raise ValueError(f"{name} must be a non-negative finite float; got {v!r}")
        out.append(f)
    if out[0] == 0.0 and out[1] == 0.0:
        raise ValueError("rtol and atol are both 0: no error estimate can meet that; "
                         "give one of them a positive value")
    return out


def broadcast(a, shape, name):
    if a.shape == shape:
        return a
    try:
        return np.ascontiguousarray(np.broadcast_to(a, shape))
    except ValueError:
        raise ValueError(f"{name} has shape {a.shape}, which does not broadcast to "
                         f"x's shape {shape}") from None


_FORMS = ("a pair (lb, ub) of floats or arrays broadcastable to x, a "
          "scipy.optimize.Bounds, or a sequence of n (lo, hi) pairs, one per entry "
          "of x (as scipy.optimize.minimize takes)")


def _side(value, fill, what):
    """One side of the bounds as float64: None (whole side or an entry, as in
    SciPy's pairs) means unbounded."""
    if value is None:
        return np.array(fill)
    try:
        a = np.asarray(value)
        if a.dtype == object:
            a = np.where(np.equal(a, None), fill, a)
            a = np.asarray(a.tolist())
    except (TypeError, ValueError) as e:
        raise TypeError(f"bounds: {what} must hold real numbers or None; got "
                        f"{value!r}") from e
    # not bool, str or complex: NumPy would convert them, a bound they are not
    if a.dtype.kind not in "iuf":
        raise TypeError(f"bounds: {what} must hold real numbers or None; got "
                        f"{value!r}")
    return np.array(a, dtype=np.float64, order="C")


def _is_pair(entry):
    """A (lo, hi) pair of minimize's form: a tuple or list of two scalars (or
    None).  Arrays are not pairs, so (np.array(lb), np.array(ub)) reads one way."""
    return (isinstance(entry, (tuple, list)) and len(entry) == 2
            and all(e is None or np.ndim(e) == 0 for e in entry))


def _is_array_pair(entry):
    return isinstance(entry, np.ndarray) and entry.shape == (2,)


def _check_order(lb, ub, where):
    if np.isnan(lb).any() or np.isnan(ub).any():
        raise ValueError("bounds must not contain nan; use -inf/inf or None for no "
                         "bound")
    try:
        lo, hi = np.broadcast_arrays(lb, ub)
    except ValueError:
        raise ValueError(f"bounds: lb of shape {lb.shape} and ub of shape {ub.shape} "
                         "do not broadcast together") from None
    bad = lo > hi
    if np.any(bad):
        i = int(np.argmax(bad.reshape(-1)))
        raise ValueError(f"bounds: lb must not exceed ub; lb{where(i, lo.shape)} = "
                         f"{float(lo.reshape(-1)[i])!r} > ub{where(i, lo.shape)} = "
                         f"{float(hi.reshape(-1)[i])!r}")


class ParsedBounds:
    """A bounds argument, parsed once; `resolve(shape)` gives (lb, ub) broadcast
    to x's shape, or (None, None) for no bounds.

    The forms, and how each is told apart (no argument is ever read two ways):

    * ``scipy.optimize.Bounds`` (anything with ``lb`` and ``ub`` attributes):
      ``(lb, ub)``, broadcast to x.
    * a sequence of length 2, ``(a, b)``: ``(lb, ub)`` when a and b broadcast to
      x; a pair of (lo, hi) pairs when x has 2 entries and a and b are pairs
      (tuples or lists of two numbers or None).  Where both hold (x with 2
      entries and ``[(0, 1), (2, 3)]``) the argument is ambiguous: raise and say
      how to write it.  This needs x's size, so it is decided per call.
    * any other sequence (or a 2-D array of shape (n, 2)): n (lo, hi) pairs,
      one per entry of x in its flat order.
    """

    __slots__ = ("pairs", "lohi", "text")

    def __init__(self, bounds):
        # for messages; the parsed arrays below are private copies
        self.text = _show(bounds)
        self.pairs = None    # (lo, hi) arrays of shape (N,) from N pairs
        self.lohi = None     # (lb, ub) arrays to broadcast to x
        if hasattr(bounds, "lb") and hasattr(bounds, "ub") \
                and not hasattr(bounds, "__len__"):
            lb = _side(bounds.lb, -np.inf, "Bounds.lb")
            ub = _side(bounds.ub, np.inf, "Bounds.ub")
            # Bounds stores a scalar as shape (1,): let it reach a scalar x too
            lb, ub = (a.reshape(()) if a.shape == (1,) else a for a in (lb, ub))
            _check_order(lb, ub, _flat_index)
            self.lohi = lb, ub
            return
        if isinstance(bounds, (str, bytes, dict)) or not hasattr(bounds, "__len__") \
                or not hasattr(bounds, "__getitem__") \
                or (isinstance(bounds, np.ndarray) and bounds.ndim == 0):
            raise TypeError(f"bounds must be {_FORMS}; got {type(bounds).__name__}"
                            + (" (pass list(zip(lb, ub)) for an iterator)"
                               if hasattr(bounds, "__next__") else ""))
        entries = list(bounds)
        # Pairs as minimize reads them: tuples or lists of two, maybe mixed with
        # arrays of two, or the rows of an (n, 2) array.  Two arrays alone are
        # (lb, ub): that is the unambiguous spelling the errors suggest.
        pairs = (all(_is_pair(e) or _is_array_pair(e) for e in entries)
                 and any(_is_pair(e) for e in entries)) or (
            isinstance(bounds, np.ndarray) and bounds.ndim == 2 and bounds.shape[1] == 2)
        if len(entries) == 2:
            if any(e is None for e in entries) and any(
                    isinstance(e, (tuple, list)) and len(e) == 2 for e in entries):
                # [(0, 1), None]: lb = (0, 1) and no ub, or a pair and a None
                # meant as "x[1] unbounded" (which minimize does not accept)
                raise ValueError(
                    f"bounds={self.text} is ambiguous: write (np.array(lb), None) for "
                    "lower bounds only, or [(lo, hi), (None, None)] for pairs")
            try:
                lb = _side(entries[0], -np.inf, "lb (bounds[0])")
                ub = _side(entries[1], np.inf, "ub (bounds[1])")
                _check_order(lb, ub, _flat_index)
                self.lohi = lb, ub
            except (TypeError, ValueError):
                if not pairs:
                    raise
        if len(entries) != 2 or pairs:
            self._parse_pairs(entries)

    def _parse_pairs(self, entries):
        try:
            for i, e in enumerate(entries):
                if not (_is_pair(e) or _is_array_pair(e)):
                    raise ValueError(f"bounds must be {_FORMS}; got {self.text}, "
                                     f"whose bounds[{i}] = {e!r} is not a (lo, hi) pair")
            lo = _side([e[0] for e in entries], -np.inf, "the lower ends of the pairs")
            hi = _side([e[1] for e in entries], np.inf, "the upper ends of the pairs")
            _check_order(lo, hi, lambda i, s: f" of bounds[{i}]")
        except (TypeError, ValueError):
            if self.lohi is None:
                raise
            return   # not pairs after all: (lb, ub) stands alone
        self.pairs = lo.reshape(-1), hi.reshape(-1)

    def __getstate__(self):
        # __slots__ without __getstate__ does not pickle with protocols 0 and 1
        return {name: getattr(self, name) for name in ParsedBounds.__slots__}

    def __setstate__(self, state):
        for name, value in state.items():
            setattr(self, name, value)

    def resolve(self, shape):
        """(lb, ub) as C-contiguous float64 arrays of x's shape, or (None, None)."""
        size = int(np.prod(shape))
        pairs_fit = self.pairs is not None and self.pairs[0].size == size
        lohi_fit = self.lohi is not None and _broadcasts(self.lohi, shape)
        if pairs_fit and lohi_fit:
            raise ValueError(
                f"bounds={self.text} is ambiguous for x with {size} entries: it reads "
                "as (lb, ub) and as a sequence of (lo, hi) pairs, one per entry of x. "
                "Write scipy.optimize.Bounds(lb, ub), or (np.array(lb), np.array(ub)) "
                "for the (lb, ub) form")
        if pairs_fit:
            lb, ub = (a.reshape(shape) for a in self.pairs)
        elif lohi_fit:
            lb = broadcast(self.lohi[0], shape, "bounds' lb")
            ub = broadcast(self.lohi[1], shape, "bounds' ub")
        elif self.lohi is not None:
            lb, ub = self.lohi
            bad = lb if not _broadcasts((lb,), shape) else ub
            raise ValueError(
                f"bounds[{0 if bad is lb else 1}] (the "
                f"{'lower' if bad is lb else 'upper'} bound) has shape {bad.shape}, which "
                f"does not broadcast to x's shape {shape}"
                + (f"; as (lo, hi) pairs there are {self.pairs[0].size} of them, not "
                   f"one per entry of x ({size})" if self.pairs is not None else ""))
        else:
            raise ValueError(f"bounds holds {self.pairs[0].size} (lo, hi) pairs, but x "
                             f"has {size} entries; give one pair per entry of x")
        if np.all(np.isneginf(lb)) and np.all(np.isposinf(ub)):
            return None, None
        return np.ascontiguousarray(lb), np.ascontiguousarray(ub)


def _show(bounds):
    """A short one-line repr of a bounds argument."""
    if isinstance(bounds, np.ndarray):
        return f"np.array({reprlib.repr(bounds.tolist())})"
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        return " ".join(repr(bounds).split())
    return reprlib.repr(bounds)


def _broadcasts(arrays, shape):
    try:
        for a in arrays:
            np.broadcast_to(a, shape)
    except ValueError:
        return False
    return True


def _flat_index(i, shape):
    return index_str(i, shape)


class Pattern:
    """A sparsity pattern the caller gave: a boolean array or a scipy.sparse
    matrix/array, True (stored) where the derivative may be non-zero.  Kept as
    CSR (int64 indptr/indices, sorted, unique) once its (m, n) reading is known:
    a 2-d pattern reads as (m, n); an N-d array as f(x).shape + x.shape."""

    __slots__ = ("shape", "_dense", "_csr")

    def __init__(self, value, name="sparsity"):
        self._dense = self._csr = None
        if _is_scipy_sparse(value):
            if value.dtype != np.bool_:
                raise TypeError(f"{name} must be boolean (True where the derivative "
                                f"may be non-zero); got a scipy.sparse {value.dtype} "
                                f"matrix: pass {name}=S.astype(bool) (stored zeros "
                                "then count as absent), or S != 0")
            if value.ndim != 2:
                raise ValueError(f"{name} must be 2-d; got shape {value.shape}")
            S = value.tocsr(copy=True)
            S.eliminate_zeros()          # stored False entries are not in the pattern
            S.sum_duplicates()
            S.sort_indices()
            self.shape = tuple(int(s) for s in S.shape)
            self._csr = (np.ascontiguousarray(S.indptr, dtype=np.int64),
                         np.ascontiguousarray(S.indices, dtype=np.int64))
            return
        try:
            a = np.asarray(value)
        except (TypeError, ValueError):
            a = np.asarray(None)
        if a.dtype != np.bool_:
            raise TypeError(f"{name} must be 'auto', a boolean array or a boolean "
                            f"scipy.sparse matrix; got {type(value).__name__}"
                            + (f" of dtype {a.dtype} (pass {name}=S != 0)"
                               if a.dtype.kind in "iuf" else ""))
        if a.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (m, n), or "
                             f"f(x).shape + x.shape; got shape {a.shape}")
        self._dense = np.array(a, dtype=np.bool_)   # a private copy
        self.shape = a.shape

    def csr(self, xshape):
        """(m, indptr, indices) read against x's shape, or ValueError."""
        n = int(np.prod(xshape, dtype=np.int64))
        if self._csr is not None:
            if self.shape[1] != n:
                raise ValueError(f"sparsity has shape {self.shape}: {self.shape[1]} "
                                 f"columns, but x has {n} entries (shape {xshape})")
            return self.shape[0], self._csr[0], self._csr[1]
        a = self._dense
        k = len(xshape)
        if a.ndim == 2 and a.shape[1] == n:
            A = a
        elif k and a.ndim > k and a.shape[a.ndim - k:] == tuple(xshape):
            A = a.reshape(-1, n)
        elif k == 0 and a.ndim == 2 and a.shape[1] == 1:
            A = a
        else:
            raise ValueError(f"sparsity has shape {a.shape}; for x of shape {xshape} "
                             f"it must be (m, {n}) or f(x).shape + {tuple(xshape)}")
        counts = np.count_nonzero(A, axis=1)
        indptr = np.zeros(A.shape[0] + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.ascontiguousarray(np.nonzero(A)[1], dtype=np.int64)
        return A.shape[0], indptr, indices


def _is_scipy_sparse(value):
    """A scipy.sparse matrix or array, without importing SciPy."""
    module = type(value).__module__ or ""
    return module.startswith("scipy.sparse") and hasattr(value, "tocsr")


def sparsity(value):
    """None, "auto", or a `Pattern` (validated: boolean, 2-d or more)."""
    if value is None or isinstance(value, Pattern):
        return value
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"sparsity must be 'auto', a boolean array or a boolean "
                             f"scipy.sparse matrix; got {value!r}")
        return value
    return Pattern(value)
