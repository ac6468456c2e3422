"""argnums= and has_aux=, as in JAX: differentiate with respect to another
positional argument of f (or several), and let f return ``(value, aux)``.

Both are adapters around the one-argument transforms: f is wrapped so that the
point comes first (`_Moved`), several arguments travel as one flat vector
(`_Flat`), or only the value is differentiated (`_Value`).  The wrappers are
module-level classes, so that transforms still pickle and reach workers.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _api

__all__ = ["argnums", "wrap"]


def argnums(value):
    """An int >= 0 or a non-empty tuple of distinct ones."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"argnums must be an int or a tuple of ints; got {value!r}")
    if isinstance(value, numbers.Integral):
        if value < 0:
            raise ValueError(f"argnums must be >= 0; got {value}")
        return int(value)
    if isinstance(value, tuple) and value and all(
            isinstance(a, numbers.Integral) and not isinstance(a, (bool, np.bool_))
            for a in value):
        if min(value) < 0 or len(set(value)) != len(value):
            raise ValueError(f"argnums must hold distinct ints >= 0; got {value!r}")
        return tuple(int(a) for a in value)
    raise TypeError(f"argnums must be an int or a non-empty tuple of ints; got "
                    f"{value!r}")


class _Named:
    """A wrapper of f that messages name as f (AutoWarning, errors)."""

    def __init__(self, f):
        self.f = f
        self.__name__ = getattr(f, "__name__", type(f).__name__)
        self.__qualname__ = getattr(f, "__qualname__", self.__name__)


class _Moved(_Named):
    """f with its argument k moved to the front: the transforms' point comes first."""

    def __init__(self, f, k):
        super().__init__(f)
        self.k = k

    def __call__(self, x, *rest, **kwargs):
        k = self.k
        return self.f(*rest[:k], x, *rest[k:], **kwargs)


class _Flat(_Named):
    """f of one flat vector holding the arguments argnums (float64, in order); the
    call passes f's full argument list after it, whose entries at argnums only give
    their shapes.  A trailing axis of points (vectorized mode) is kept."""

    def __init__(self, f, nums):
        super().__init__(f)
        self.nums = nums

    def __call__(self, z, *full, **kwargs):
        args = list(full)
        shapes = [np.shape(full[a]) for a in self.nums]
        extra = z.shape[1:]          # (k,) in vectorized mode
        start = 0
        for a, shape in zip(self.nums, shapes):
            size = int(np.prod(shape, dtype=np.int64))
            args[a] = z[start:start + size].reshape(shape + extra)
            start += size
        return self.f(*args, **kwargs)


class _Value(_Named):
    """f that returns ``(value, aux)``, seen as returning its value only."""

    def __call__(self, *args, **kwargs):
        return _pair(self.f(*args, **kwargs))[0]


def _pair(r):
    if not (isinstance(r, (tuple, list)) and len(r) == 2):
        raise TypeError(f"has_aux=True: f must return a pair (value, aux); it returned "
                        f"{type(r).__name__}"
                        + (f" of length {len(r)}" if isinstance(r, (tuple, list)) else ""))
    return r


def wrap(make, kind, f, nums, has_aux, vectorized, options):
    """The transform for argnums and has_aux: `make(g, **options)` builds the
    one-argument transform of the adapted g."""
    nums = argnums(nums)
    if not isinstance(has_aux, (bool, np.bool_)):
        raise ValueError(f"has_aux must be True or False; got {has_aux!r}")
    if nums == 0 and not has_aux:
        return make(f, **options)
    if options.get("full_output"):
        raise ValueError("full_output returns (result, info) for f's first argument; "
                         "it does not combine with argnums or has_aux yet")
    if not callable(f):
        raise TypeError(f"{kind}: f must be callable; got {type(f).__name__}")
    g = f
    if isinstance(nums, tuple) and kind == "jvp":
        raise TypeError("jvp takes an int argnums: the argument that x and v stand "
                        "for")
    if isinstance(nums, tuple):
        if options.get("bounds") is not None:
            raise ValueError("bounds apply to one argument: pass an int argnums, or "
                             "bound a single array argument")
        step = options.get("step")
        if step is not None and np.ndim(step) != 0:
            raise ValueError("with a tuple argnums, step must be a float (one step "
                             "rule for all the arguments)")
        if options.get("sparsity") is not None:
            raise ValueError("sparsity applies to one argument: pass an int argnums")
        g = _Flat(g, nums)
    elif nums:
        g = _Moved(g, nums)
    if has_aux:
        g = _Value(g)
    return _Adapted(f, kind, make(g, **options), nums, has_aux, vectorized)


class _Adapted(_api._Transformed):
    """``t(*args, **kwargs)``: the derivative with respect to args[argnums] (a tuple
    of them for a tuple argnums), and with has_aux f's aux at args."""

    def __init__(self, f, kind, inner, nums, has_aux, vectorized):
        self.kind = kind
        super().__init__(f, inner.method)
        self.inner = inner
        self.nums = nums
        self.has_aux = has_aux
        self.vectorized = vectorized

    def close(self):
        self.inner.close()

    def __call__(self, *args, **kwargs):
        nums = self.nums
        need = (max(nums) if isinstance(nums, tuple) else nums) + 1
        if len(args) < need:
            raise TypeError(f"{self.kind}: argnums={nums!r} needs at least {need} "
                            f"positional arguments; got {len(args)}")
        if isinstance(nums, tuple):
            parts = [np.asarray(args[a]) for a in nums]
            for a, p in zip(nums, parts):
                if p.dtype.kind not in "fiub":
                    raise TypeError(f"{self.kind}: argument {a} (in argnums) must be a "
                                    f"real number or array; got dtype {p.dtype}")
            z = np.concatenate([p.astype(np.float64).reshape(-1) for p in parts])
            out = self.inner(z, *args, **kwargs)
            out = self._split(out, [args[a] for a in nums])
        elif nums and self.kind != "jvp":
            out = self.inner(args[nums], *args[:nums], *args[nums + 1:], **kwargs)
        else:
            out = self.inner(*args, **kwargs)
        return self._with_aux(out, args, kwargs)

    def into(self, out, *args, **kwargs):
        """As ``self(*args, **kwargs)``, writing the derivative into `out` (see
        `Transform.into`); an int argnums only: a tuple gives several arrays."""
        nums = self.nums
        if isinstance(nums, tuple) or not hasattr(self.inner, "into"):
            raise TypeError(f"{self.kind}: into() writes one derivative: it needs an "
                            "int argnums and a dense grad, jacobian or value_and_grad")
        if len(args) <= nums:
            raise TypeError(f"{self.kind}: argnums={nums!r} needs at least {nums + 1} "
                            f"positional arguments; got {len(args)}")
        res = self.inner.into(out, args[nums], *args[:nums], *args[nums + 1:], **kwargs)
        return self._with_aux(res, args, kwargs)

    def _with_aux(self, out, args, kwargs):
        if not self.has_aux:
            return out
        aux = self._aux(args, kwargs)
        if self.kind == "value_and_grad":
            value, g = out
            return (value, aux), g
        if self.kind == "jvp":
            value, t = out
            return value, t, aux
        return out, aux

    def _aux(self, args, kwargs):
        """f's aux at the point itself (one more call of f: the transform's calls
        are at other points, or on Duals, or on workers)."""
        if self.kind == "jvp":     # jv(x, v, *others): x stands for argument nums
            x, rest, k = args[0], args[2:], self.nums
            args = (*rest[:k], x, *rest[k:])
        if not self.vectorized:
            return _pair(self.f(*args, **kwargs))[1]
        nums = self.nums if isinstance(self.nums, tuple) else (self.nums,)
        call = list(args)
        for a in nums:      # a vectorized f takes a trailing axis of points
            call[a] = np.asarray(args[a], dtype=np.float64)[..., None]
        return _pair(self.f(*call, **kwargs))[1]

    def _split(self, out, args):
        """The flat derivative split into one per argument, shaped by it (a float
        for a Python number's gradient, as for a float x)."""
        def split(D, fshape):
            res, start = [], 0
            for a in args:
                shape = np.shape(a)
                size = int(np.prod(shape, dtype=np.int64))
                d = D[..., start:start + size].reshape(fshape + shape)
                if d.ndim == 0 and not isinstance(a, np.ndarray):
                    d = float(d)
                res.append(d)
                start += size
            return tuple(res)
        if self.kind == "value_and_grad":
            value, g = out
            return value, split(np.asarray(g), ())
        if self.kind == "jvp":
            return out
        D = np.asarray(out)
        return split(D, D.shape[:-1])
