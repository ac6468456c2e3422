"""The NumPy functions, operators and variants that HIPS/autograd's own tests
differentiate, plus the extra items our issue asks for, as DATA.

Each entry is one function-and-variant, for a checklist test that runs every
entry on the Dual type and fails on any entry that is missing.

    ENTRIES = [(id, source, call, inputs, note), ...]

  id      unique, kebab-case, starting with the function name (names keep
          their own spelling: nan_to_num, r_, method.T); prefixes:
          "linalg." numpy.linalg, "special." scipy.special, "op." Python
          operators, "method." ndarray methods/attributes, "index." indexing
          forms, "builtin." Python builtins (sum, len).
  source  the autograd test file the variant comes from
          ("test_numpy.py", "test_scalar_ops.py", "test_systematic.py",
          "test_linalg.py"), or "issue" for the issue's extra items that
          those four files do not already cover.
  call    takes the differentiable inputs positionally; constants are inside
          the lambda.  Returns an ndarray (possibly 0-d), or a tuple/list of
          ndarrays (linalg.eigh*, linalg.eig, linalg.svd*, the split family,
          gradient on n-d input): a checklist should check every element.
  inputs  list of (kind, shape); `make_input(kind, shape, rng)` below builds
          one.  Kinds: "r" standard normal; "pos" uniform [0.5, 2]; "unit"
          uniform (-0.9, 0.9); "gt1" uniform [1.5, 3]; "sorted-distinct"
          distinct values at least 0.3 apart, in shuffled order (so sort,
          max, argmax... have no ties); "spd" symmetric positive definite
          (batched if ndim > 2), distinct eigenvalues; "sq" 3*I + 0.5*noise;
          "int-like" (not used).
  note    judgement calls, kinks, what a derivative check should expect.

WHICH VERSIONS WERE READ
  Of the many revisions of each file, the newest available was read
  (ruff-formatted, pytest, NumPy-2-aware where there is one):
    tests/test_numpy.py      ruff-era revision (has test_gradient,
                             test_*_list_of_boxes, test_simple_append_list_2D)
    tests/test_scalar_ops.py ruff-era revision (has test_absolute)
    tests/test_systematic.py revision b7b4a5f4 (the newest in the index: has
                             diff, tile, kron, inner, matmul, fmax/fmin,
                             tensordot_5/6, the split family, stacks, select)
    tests/test_linalg.py     ruff-era revision (has pinv, eig, the NumPy-2
                             branch of test_solve_arg1_3d, complex variants)
  Older revisions name a few more things that the newest ones dropped
  (test_systematic's op.div / op.pow; older test_numpy's np.split smuggled in
  under a second `def test_trace`); those are covered here through their
  newer equivalents (op.truediv / op.pow from test_numpy's `x / 2.0`,
  `x ** 2`; split from test_systematic).

HOW THE ENTRIES ARE COUNTED
  * One entry per differentiable function-and-variant named by a test, where a
    variant is an argument form that takes a different code path: axis=int,
    axis=tuple, keepdims, ddof, ord, offset/k, int vs pair axes, positional vs
    keyword, list vs array argument, 1-D vs 2-D vs batched shapes for linalg,
    scalar-and-array mixing, broadcasting.  Pure shape repetitions of the same
    path (e.g. prod of a 1-D vs a 2-D array, combo_check's shape grids) are
    folded into one entry.
  * A variant named by several files is listed once, under the first file in
    the order test_numpy, test_scalar_ops, test_systematic, test_linalg (the
    note says "also in ...").
  * Left out, by rule: comparisons and boolean reductions (np.all, np.any);
    complex-input tests (*_complex, the complex halves of stat_check /
    unary_ufunc_check) -- the Dual is real; but np.real/imag/conj/angle/
    real_if_close are kept, applied to real input, as autograd tests them;
    tie-breaking tests (max/min/maximum "equal_values", "3_way_equality":
    not differentiable at the sampled point); autograd-only API
    (np.make_diagonal, np.linalg._dot, autograd.tuple); constant-only tests
    (test_no_relation, test_r_no_relation, test_numpy_version,
    test_scalar_array_box_attributes); compositions already covered by their
    parts (test_cholesky_reparameterization_trick); numpy.random;
    scipy.linalg (sqrtm, solve_triangular: only in older test_linalg
    revisions).  Kept although composite: test_index_dot_slices (slicing and
    dot on one Dual) and test_nan_to_num (as autograd writes it).
  * Not in NumPy 2.4 any more: np.msort (test_msort) -> listed as
    np.sort(x, axis=0), which is what msort was.  np.row_stack is deprecated
    in NumPy 2 -> called through getattr(np, "row_stack", np.vstack).
  * NumPy 2 changed np.linalg.solve's batched-vector rule; like autograd's
    NumPy-2 branch, the batched-vector entry passes b[..., None].

TOTALS (the self-check at the bottom recomputes and prints them)
    test_numpy.py       101
    test_scalar_ops.py   37
    test_systematic.py   86
    test_linalg.py       36
    -----------------------
    autograd total      260   function-and-variant entries
    issue extras         24   (issue items the four files do not cover)
    -----------------------
    ENTRIES             284
  The issue's "141" is not reproducible as a count of variants: by the rule
  above the four files give 260.  Counting distinct *callables* instead
  (functions, ufuncs, operators, methods, indexing forms, ignoring argument
  variants; `callable_name()` below) gives 149, close to 141; the gap is
  within what alias folding (abs/absolute, divide/true_divide, mod/remainder,
  deg2rad/radians, rad2deg/degrees, ravel/x.ravel, reshape/x.reshape,
  squeeze/x.squeeze ...), the five operator spellings added here (op.truediv,
  op.pow, op.rmul, op.radd, op.matmul) or an older file revision would
  explain.  So the issue probably counted callables (not confirmed); a checklist needs the variants, so ENTRIES holds those.

  ISSUE_ITEMS maps every item of the issue's list to the entry ids that cover
  it, so a test can assert that each issue item is present.
"""

import numpy as np


# ----------------------------------------------------------------------------
# helpers (numpy only; scipy.special is imported lazily, inside calls)
# ----------------------------------------------------------------------------

def _sp():
    import scipy.special  # lazy: only entries that need it pay for it
    return scipy.special


def _sym(a):
    """Symmetrize the last two axes, so eigh/eigvalsh/cholesky (which read one
    triangle only) have a derivative that matches finite differences for ANY
    perturbation direction, not only symmetric ones.  autograd does the same
    through check_symmetric_matrix_grads."""
    return 0.5 * (a + np.swapaxes(a, -1, -2))


_C34 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)      # constant operand
_C32 = np.linspace(-1.0, 1.0, 6).reshape(3, 2)       # constant for r_/c_
_C3 = np.array([0.3, -1.2, 2.0])
_MASK34 = np.array([[True, False, True, False],
                    [False, False, True, True],
                    [True, True, False, False]])
_NANS = np.array([0.0, np.nan, np.inf, -np.inf])
_XP = np.linspace(-1.0, 1.0, 5)                      # interp knots


def make_input(kind, shape, rng):
    """Build one float64 input of the given kind and shape."""
    shape = tuple(shape)
    n = int(np.prod(shape)) if shape else 1
    if kind == "r":
        return rng.standard_normal(shape)
    if kind == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "unit":
        return rng.uniform(-0.9, 0.9, shape)
    if kind == "gt1":
        return rng.uniform(1.5, 3.0, shape)
    if kind == "int-like":
        return rng.integers(-3, 4, shape).astype(float)
    if kind == "sorted-distinct":
        vals = 0.4 * np.arange(n) + rng.uniform(0.0, 0.1, n)   # gaps >= 0.3
        vals = vals - vals.mean()
        return rng.permutation(vals).reshape(shape)
    if kind == "sq":
        m = shape[-1]
        return 3.0 * np.eye(m) + 0.5 * rng.standard_normal(shape)
    if kind == "spd":
        m = shape[-1]
        a = rng.standard_normal(shape)
        s = a @ np.swapaxes(a, -1, -2) / m + np.diag(np.linspace(1.0, 2.0, m))
        return 0.5 * (s + np.swapaxes(s, -1, -2))
    raise ValueError("unknown kind %r" % (kind,))


NUM, SCA, SYS, LIN, ISS, REG = ("test_numpy.py", "test_scalar_ops.py",
                                "test_systematic.py", "test_linalg.py", "issue",
                                "registry")

R = "r"; POS = "pos"; UNIT = "unit"; GT1 = "gt1"; SD = "sorted-distinct"
SPD = "spd"; SQ = "sq"

ENTRIES = [
    # (id, source, call, inputs, note)

    # ======================================================================
    # tests/test_numpy.py
    # ======================================================================
    # test_dot, test_dot_with_floats
    ("dot-mat-vec", NUM, lambda a, b: np.dot(a, b), [(R, (3, 4)), (R, (4,))], ""),
    ("dot-mat-mat", NUM, lambda a, b: np.dot(a, b), [(R, (3, 4)), (R, (4, 2))], ""),
    ("dot-vec-mat", NUM, lambda a, b: np.dot(a, b), [(R, (3,)), (R, (3, 4))], ""),
    ("dot-vec-vec", NUM, lambda a, b: np.dot(a, b), [(R, (4,)), (R, (4,))], "0-d result"),
    ("dot-mat-scalar", NUM, lambda a, b: np.dot(a, b), [(R, (3, 4)), (R, ())], "test_dot_with_floats"),
    ("dot-scalar-vec", NUM, lambda a, b: np.dot(a, b), [(R, ()), (R, (3,))], "test_dot_with_floats"),
    # test_outer
    ("outer", NUM, lambda a, b: np.outer(a, b), [(R, (3,)), (R, (4,))], ""),
    # test_max*, test_min*
    ("max", NUM, lambda x: np.max(x), [(SD, (3, 4))], "also in test_systematic.py (stat_check)"),
    ("max-axis1", NUM, lambda x: np.max(x, axis=1), [(SD, (2, 3, 2))], ""),
    ("max-axis1-keepdims", NUM, lambda x: np.max(x, axis=1, keepdims=True), [(SD, (2, 3, 2))], ""),
    ("min", NUM, lambda x: np.min(x), [(SD, (3, 4))], "also in test_systematic.py (stat_check)"),
    ("min-axis1", NUM, lambda x: np.min(x, axis=1), [(SD, (2, 3, 2))], ""),
    ("min-axis1-keepdims", NUM, lambda x: np.min(x, axis=1, keepdims=True), [(SD, (2, 3, 2))], ""),
    # test_sum_*
    ("sum", NUM, lambda x: np.sum(x), [(R, (3, 4))], "also in test_systematic.py (stat_check)"),
    ("sum-axis0", NUM, lambda x: np.sum(x, axis=0), [(R, (3, 4))], ""),
    ("sum-axis0-keepdims", NUM, lambda x: np.sum(x, axis=0, keepdims=True), [(R, (3, 4))], ""),
    ("sum-axis-tuple", NUM, lambda x: np.sum(x, axis=(1, 2)), [(R, (2, 3, 2))], ""),
    # test_flipud, test_fliplr, test_rot90
    ("flipud", NUM, lambda x: np.flipud(x), [(R, (3, 4))], ""),
    ("fliplr", NUM, lambda x: np.fliplr(x), [(R, (3, 4))], ""),
    ("rot90", NUM, lambda x: np.rot90(x), [(R, (3, 4))], ""),
    # test_cumsum_*
    ("cumsum", NUM, lambda x: np.cumsum(x), [(R, (6,))], "test_cumsum_1d"),
    ("cumsum-axis0", NUM, lambda x: np.cumsum(x, axis=0), [(R, (3, 4))], ""),
    ("cumsum-axis1", NUM, lambda x: np.cumsum(x, axis=1), [(R, (3, 4))], ""),
    ("cumsum-2d-noaxis", NUM, lambda x: np.cumsum(x), [(R, (3, 4))], "flattens"),
    # test_non_numpy_sum
    ("builtin.sum-list", NUM, lambda x, y: sum([x, y]), [(R, (3, 4)), (R, (3, 4))], "Python's sum: 0 + x + y"),
    # test_mean_*
    ("mean", NUM, lambda x: np.mean(x), [(R, (3, 4))], "also in test_systematic.py (stat_check)"),
    ("mean-axis0", NUM, lambda x: np.mean(x, axis=0), [(R, (3, 4))], ""),
    ("mean-axis0-keepdims", NUM, lambda x: np.mean(x, axis=0, keepdims=True), [(R, (3, 4))], ""),
    # test_mean/std/var_list_of_boxes
    ("mean-list", NUM, lambda x: np.mean([x, x + 2.0]), [(R, (3,))], "argument is a Python list of arrays"),
    ("std-list", NUM, lambda x: np.std([x, x + 2.0]), [(R, (3,))], "argument is a Python list of arrays"),
    ("var-list", NUM, lambda x: np.var([x, x + 2.0]), [(R, (3,))], "argument is a Python list of arrays"),
    # indexing
    ("index.ints", NUM, lambda x: x[3, 1, 0], [(R, (4, 3, 1))], "test_index_ints: scalar result"),
    ("index.slice", NUM, lambda x: x[::-1, 1:3, :], [(R, (4, 3, 1))], "test_index_slice: negative step"),
    ("index.list", NUM, lambda x: x[[0, 1, 2], :, :], [(R, (4, 3, 1))], "test_index_lists"),
    ("index.mixed", NUM, lambda x: x[1, 1:, [0, 1]], [(R, (2, 3, 2))], "test_index_mixed: int + slice + list"),
    ("index.vector-slice", NUM, lambda x: x[2:4], [(R, (5,))], "test_vector_slice"),
    ("index.slice-fanout", NUM, lambda x: x[::-1, 0:2, :] + x[::-1, 1:3, :], [(R, (4, 3, 1))], "test_index_slice_fanout"),
    ("index.nested-slices", NUM, lambda x: x[2:6][1:3], [(R, (7,))], "test_index_multiple_slices"),
    ("index.repeated-list", NUM, lambda x: np.sum(x[[0, 1, 0]]), [(R, (3,))], "test_multi_index(2): repeated indices must accumulate"),
    ("index.slice-dot", NUM, lambda x: np.dot(x[:2], x[2:]), [(R, (4,))], "test_index_dot_slices"),
    ("index.int64-cast", NUM, lambda w: w[:, :-1][np.int64(w[:, -1])].sum(), [(UNIT, (4, 3))],
     "test_cast_to_int: np.int64() of a Dual column used as an index (truncates to 0 for 'unit')"),
    # reshape / ravel / flatten
    ("method.reshape-tuple", NUM, lambda x: x.reshape((4, 3)), [(R, (2, 3, 2))], "x.reshape((a, b))"),
    ("reshape", NUM, lambda x: np.reshape(x, (4, 3)), [(R, (2, 3, 2))], ""),
    ("method.reshape-args", NUM, lambda x: x.reshape(4, 3), [(R, (2, 3, 2))], "x.reshape(a, b)"),
    ("method.ravel", NUM, lambda x: x.ravel(), [(R, (2, 3, 2))], ""),
    ("ravel", NUM, lambda x: np.ravel(x), [(R, (2, 3, 2))], ""),
    ("method.flatten", NUM, lambda x: x.flatten(), [(R, (2, 3, 2))], ""),
    # append
    ("append-list", NUM, lambda a, b: np.append(list(a), b), [(R, (3,)), (R, ())],
     "first argument is a Python list of 0-d Duals"),
    ("append", NUM, lambda a, b: np.append(a, b), [(R, (3,)), (R, ())], "also named by the issue"),
    ("append-2d-axis0", NUM, lambda a, b: np.append(a, b, axis=0), [(R, (2, 3)), (R, (1, 3))], "test_simple_append_list_2D"),
    # concatenate
    ("concatenate", NUM, lambda x: np.concatenate((_C34, x)), [(R, (2, 4))], "constant first, Dual second"),
    ("concatenate-three", NUM, lambda x: np.concatenate((_C34, x, _C34)), [(R, (3, 4))], "test_concatenate_axis_0"),
    ("concatenate-axis1", NUM, lambda x: np.concatenate((_C34, x, _C34), axis=1), [(R, (3, 4))], ""),
    ("concatenate-axis1-positional", NUM, lambda x: np.concatenate((_C34, x, _C34), 1), [(R, (3, 4))], "axis passed positionally"),
    # trace
    ("trace-offset", NUM, lambda x: np.trace(x, offset=1), [(R, (3, 4))], "test_trace (random offset there)"),
    ("trace-tall", NUM, lambda x: np.trace(x, offset=-1), [(R, (4, 3))], "test_trace2"),
    ("trace-4d", NUM, lambda x: np.trace(x, offset=1), [(R, (2, 3, 2, 1))], "test_trace_extradims: traces axes 0,1"),
    # diag, T, roll, triu, tril, clip
    ("diag", NUM, lambda x: np.diag(x), [(R, (3, 3))], "2-D in, diagonal out"),
    ("method.T", NUM, lambda x: x.T, [(R, (3, 4))], ""),
    ("roll-axis1", NUM, lambda x: np.roll(x, 2, axis=1), [(R, (3, 4))],
     "test_roll / test_roll_no_axis (the latter also passes axis=1: a no-axis roll is untested)"),
    ("triu-k", NUM, lambda x: np.triu(x, k=1), [(R, (3, 4))], "autograd uses k=2 on 5x5"),
    ("tril-k", NUM, lambda x: np.tril(x, k=1), [(R, (3, 4))], "also in test_systematic.py (k=-1,0,1)"),
    ("clip", NUM, lambda x: np.clip(x, a_min=0.1, a_max=1.1), [(R, (3, 4))],
     "kinks at 0.1 and 1.1 (measure zero for 'r'); derivative 1 inside, 0 outside"),
    # prod
    ("prod", NUM, lambda x: np.prod(x), [(POS, (2, 3))], "'pos': gradient unstable near zeros; also in test_systematic.py"),
    ("prod-axis0", NUM, lambda x: np.prod(x, axis=0), [(POS, (2, 3))], ""),
    ("prod-axis0-keepdims", NUM, lambda x: np.prod(x, axis=0, keepdims=True), [(POS, (2, 3))], ""),
    # array construction
    ("array-from-scalars", NUM, lambda x: np.array([x, x * 1.0, x + 2.5]), [(R, ())], "test_1d_array(_fanout)"),
    ("array-from-scalars-2d", NUM, lambda x: np.array([[x, x * 1.0, x + 2.5], [x ** 2, x, x / 2.0]]), [(R, ())],
     "test_2d_array(_fanout)"),
    ("array-from-scalar", NUM, lambda x: np.array(x), [(R, ())], "0-d"),
    ("array-from-arrays", NUM, lambda x: np.array([x, x]), [(R, (3, 2))], ""),
    ("array-from-arrays-nested", NUM, lambda x: np.array([[2 * x, x + 1], [x, x]]), [(R, (3, 2))], "test_array_from_arrays_2"),
    ("builtin.len", NUM, lambda x: x * float(len(x)), [(R, (3, 2))], "len() of a Dual; derivative is just len(x)"),
    # r_ / c_
    ("r_", NUM, lambda x: np.r_[x, _C32, x], [(R, (3, 2))], "test_r_basic/_double/_node_and_const/_mixed"),
    ("r_-range", NUM, lambda x: np.r_[x, _C3, 1:4], [(R, (3,))], "test_r_slicing: slice becomes arange"),
    ("c_", NUM, lambda x: np.c_[x, _C32, x], [(R, (3, 2))], "test_c_, test_c_mixed"),
    # var / std (test_var_ddof, test_std_ddof; plain ddof=0 is also stat_check)
    ("var", NUM, lambda x: np.var(x), [(R, (3, 4))], "also in test_systematic.py"),
    ("var-ddof1", NUM, lambda x: np.var(x, ddof=1), [(R, (3, 4))], ""),
    ("var-axis1-ddof2-keepdims", NUM, lambda x: np.var(x, axis=1, keepdims=True, ddof=2), [(R, (3, 4))], ""),
    ("std", NUM, lambda x: np.std(x), [(R, (3, 4))], "also in test_systematic.py"),
    ("std-ddof1", NUM, lambda x: np.std(x, ddof=1), [(R, (3, 4))], ""),
    ("std-axis1-ddof2-keepdims", NUM, lambda x: np.std(x, axis=1, keepdims=True, ddof=2), [(R, (3, 4))], ""),
    # where, squeeze, repeat, expand_dims, tensordot
    ("where", NUM, lambda x, y: np.where(_MASK34, x, y), [(R, (3, 4)), (R, (3, 4))], "constant boolean condition"),
    ("squeeze", NUM, lambda x: np.squeeze(x), [(R, (3, 1, 4))], ""),
    ("method.squeeze", NUM, lambda x: x.squeeze(), [(R, (3, 1, 4))], ""),
    ("repeat-axis1", NUM, lambda x: np.repeat(x, 2, axis=1), [(R, (2, 3, 2))], ""),
    ("repeat-1d", NUM, lambda x: np.repeat(x, 2, axis=0), [(R, (5,))], "test_repeat_1d_axis0 / test_repeat_axis0"),
    ("repeat-rep1", NUM, lambda x: np.repeat(x, 1, axis=1), [(R, (2, 3, 2))], "repeats=1 (identity path)"),
    ("expand_dims", NUM, lambda x: np.expand_dims(x, 2), [(R, (3, 1, 4))], ""),
    ("tensordot-axes2-positional", NUM, lambda a, b: np.tensordot(a, b, 2), [(R, (2, 2)), (R, (2, 2))],
     "test_tensordot_kwargs_by_position: axes passed positionally"),
    # diagonal, nan_to_num, linspace, astype, gradient
    ("diagonal-last-axes", NUM, lambda x: np.diagonal(x, axis1=-1, axis2=-2), [(R, (3, 3))], "test_diagonal"),
    ("diagonal-batched", NUM, lambda x: np.diagonal(x, axis1=-1, axis2=-2), [(R, (2, 2, 2))], "test_diagonal"),
    ("nan_to_num", NUM, lambda x: np.sum(np.sin(np.nan_to_num(x + _NANS))), [(R, (4,))],
     "derivative is 0 in the nan/inf slots, cos(x) elsewhere"),
    ("linspace", NUM, lambda a, b: np.linspace(a, b, 5), [(R, ()), (R, ())], "autograd also checks num=0,1"),
    ("method.astype-float64", NUM, lambda x: np.sin(x.astype("float64")), [(R, (3,))], "test_astype; issue's x.astype(float)"),
    ("gradient", NUM, lambda x: np.gradient(x), [(R, (6,))], "test_gradient"),
    ("gradient-2d", NUM, lambda x: np.gradient(x), [(R, (3, 4))], "returns a list of 2 arrays"),
    ("gradient-axis-tuple", NUM, lambda x: np.gradient(x, axis=(0, -1)), [(R, (2, 3, 2))], "returns a list of 2 arrays"),
    # operators used by test_numpy's array tests (x * 1.0, x + 2.5, x ** 2, x / 2.0, 2 * x)
    ("op.truediv", NUM, lambda x, y: x / y, [(R, (3, 2)), (POS, (3, 2))],
     "test_2d_array uses x / 2.0; older test_systematic had test_op_div"),
    ("op.pow", NUM, lambda x, y: x ** y, [(POS, (3, 2)), (R, (3, 2))],
     "test_2d_array uses x ** 2; older test_systematic had test_op_pow (lims_A=[0.7, 2])"),
    ("op.rmul-scalar", NUM, lambda x: 2 * x, [(R, (3, 2))], "reflected operator with a Python scalar on the left"),
    ("op.radd-scalar", NUM, lambda x: 1 + x, [(R, (3, 2))], "reflected operator with a Python scalar on the left"),

    # ======================================================================
    # tests/test_scalar_ops.py  (scalar tests; here on small arrays)
    # ======================================================================
    ("abs", SCA, lambda x: 3.0 * np.abs(x), [(R, (4,))], "kink at 0 (measure zero); also test_systematic.py"),
    ("absolute", SCA, lambda x: 3.0 * np.absolute(x), [(R, (4,))], "alias of abs; also test_systematic.py"),
    ("sin", SCA, lambda x: np.sin(x), [(R, (4,))], "also test_systematic.py"),
    ("sign", SCA, lambda x: np.sign(x), [(R, (4,))], "derivative 0 away from 0"),
    ("exp", SCA, lambda x: np.exp(x), [(R, (4,))], ""),
    ("log", SCA, lambda x: np.log(x), [(POS, (4,))], ""),
    ("log2", SCA, lambda x: np.log2(x), [(POS, (4,))], ""),
    ("log10", SCA, lambda x: np.log10(x), [(POS, (4,))], ""),
    ("log1p", SCA, lambda x: np.log1p(x), [(POS, (4,))], ""),
    ("expm1", SCA, lambda x: np.expm1(x), [(R, (4,))], ""),
    ("exp2", SCA, lambda x: np.exp2(x), [(R, (4,))], ""),
    ("op.neg", SCA, lambda x: -x, [(R, (4,))], "test_neg: unary minus"),
    ("cos", SCA, lambda x: np.cos(x), [(R, (4,))], ""),
    ("tan", SCA, lambda x: np.tan(x), [(UNIT, (4,))], ""),
    ("cosh", SCA, lambda x: np.cosh(x), [(R, (4,))], ""),
    ("sinh", SCA, lambda x: np.sinh(x), [(R, (4,))], ""),
    ("tanh", SCA, lambda x: np.tanh(x), [(R, (4,))], ""),
    ("arccos", SCA, lambda x: np.arccos(x), [(UNIT, (4,))], ""),
    ("arcsin", SCA, lambda x: np.arcsin(x), [(UNIT, (4,))], ""),
    ("arctan", SCA, lambda x: np.arctan(x), [(R, (4,))], ""),
    ("arccosh", SCA, lambda x: np.arccosh(x), [(GT1, (4,))], ""),
    ("arcsinh", SCA, lambda x: np.arcsinh(x), [(R, (4,))], ""),
    ("arctanh", SCA, lambda x: np.arctanh(x), [(UNIT, (4,))], ""),
    ("sqrt", SCA, lambda x: np.sqrt(x), [(POS, (4,))], ""),
    ("power", SCA, lambda x, y: np.power(x, y), [(POS, (4,)), (R, (4,))],
     "test_power_arg0 / test_power_arg1 (both arguments)"),
    ("power-zero-base", SCA, lambda y: np.power(0.0, y), [(POS, (4,))],
     "test_power_arg1_zero: d/dy 0**y must be 0 (not nan from log(0))"),
    ("mod", SCA, lambda x, y: np.mod(x, y), [(UNIT, (4,)), (GT1, (4,))],
     "d/dx = 1, d/dy = -floor(x/y) (= 1 where x < 0); jump only at x == 0; also test_systematic.py"),
    ("divide", SCA, lambda x, y: np.divide(x, y), [(R, (4,)), (POS, (4,))], ""),
    ("multiply", SCA, lambda x, y: np.multiply(x, y), [(R, (4,)), (R, (4,))], ""),
    ("true_divide", SCA, lambda x, y: np.true_divide(x, y), [(R, (4,)), (POS, (4,))], "also test_systematic.py"),
    ("reciprocal", SCA, lambda x: np.reciprocal(x), [(POS, (4,))], ""),
    ("negative", SCA, lambda x: np.negative(x), [(R, (4,))], ""),
    ("rad2deg", SCA, lambda x: np.rad2deg(x), [(R, (4,))], "also test_systematic.py"),
    ("deg2rad", SCA, lambda x: np.deg2rad(x), [(R, (4,))], "also test_systematic.py"),
    ("radians", SCA, lambda x: np.radians(x), [(R, (4,))], "also test_systematic.py; issue"),
    ("degrees", SCA, lambda x: np.degrees(x), [(R, (4,))], "also test_systematic.py; issue"),
    ("sinc", SCA, lambda x: np.sinc(x), [(R, (4,))], "issue; sinc(0) = 1 with derivative 0"),

    # ======================================================================
    # tests/test_systematic.py
    # ======================================================================
    # stat_check axis variants not already above (np.all / np.any skipped)
    ("var-axis0", SYS, lambda x: np.var(x, axis=0), [(R, (3, 4))], "stat_check"),
    ("std-axis0", SYS, lambda x: np.std(x, axis=0), [(R, (3, 4))], "stat_check"),
    ("max-scalar", SYS, lambda x: np.max(x), [(R, ())], "stat_check also reduces 0-d / Python-scalar input"),
    # unary ufuncs not in test_scalar_ops
    ("ceil", SYS, lambda x: np.ceil(x), [(R, (3, 2))], "derivative 0 away from integers"),
    ("fabs", SYS, lambda x: np.fabs(x), [(R, (3, 2))], "kink at 0 (measure zero)"),
    ("floor", SYS, lambda x: np.floor(x), [(R, (3, 2))], "derivative 0 away from integers"),
    ("square", SYS, lambda x: np.square(x), [(R, (3, 2))], ""),
    ("real", SYS, lambda x: np.real(x), [(R, (3, 2))], "identity on real input"),
    ("real_if_close", SYS, lambda x: np.real_if_close(x), [(R, (3, 2))], "identity on real input"),
    ("imag", SYS, lambda x: np.imag(x), [(R, (3, 2))], "zero on real input (derivative 0)"),
    ("conj", SYS, lambda x: np.conj(x), [(R, (3, 2))], "identity on real input"),
    ("angle", SYS, lambda x: np.angle(x), [(R, (3, 2))], "0 or pi on real input; derivative 0 away from 0"),
    # binary ufuncs and operators
    ("add", SYS, lambda x, y: np.add(x, y), [(R, (3, 2)), (R, (3, 2))], ""),
    ("logaddexp", SYS, lambda x, y: np.logaddexp(x, y), [(R, (3, 2)), (R, (3, 2))], "issue"),
    ("logaddexp2", SYS, lambda x, y: np.logaddexp2(x, y), [(R, (3, 2)), (R, (3, 2))], "issue"),
    ("remainder", SYS, lambda x, y: np.remainder(x, y), [(UNIT, (3, 2)), (GT1, (3, 2))],
     "alias of mod; autograd lims_A=[-0.9,0.9], lims_B=[0.7,1.9]; issue"),
    ("mod-neg-divisor", SYS, lambda x, y: np.mod(x, -y), [(UNIT, (3, 2)), (GT1, (3, 2))],
     "test_mod_neg (and test_op_mod_neg, folded here): result takes the divisor's sign"),
    ("op.mul", SYS, lambda x, y: x * y, [(R, (3, 2)), (R, (3, 2))], ""),
    ("op.add", SYS, lambda x, y: x + y, [(R, (3, 2)), (R, (3, 2))], ""),
    ("op.sub", SYS, lambda x, y: x - y, [(R, (3, 2)), (R, (3, 2))], ""),
    ("op.mod", SYS, lambda x, y: x % y, [(UNIT, (3, 2)), (GT1, (3, 2))], "derivative wrt y is -floor(x/y); issue"),
    ("op.mul-broadcast", SYS, lambda x, y: x * y, [(R, (3, 2)), (R, (1, 2))],
     "binary_ufunc_check mixes (3,2) with (1,2) and scalars"),
    # misc
    ("transpose", SYS, lambda x: np.transpose(x), [(R, (2, 3, 2))], "axes=None"),
    ("transpose-axes", SYS, lambda x: np.transpose(x, axes=[2, 0, 1]), [(R, (2, 3, 2))], ""),
    ("repeat-noaxis", SYS, lambda x: np.repeat(x, 2), [(R, (2, 3))], "axis=None flattens; issue"),
    ("diff", SYS, lambda x: np.diff(x), [(R, (3, 4))], ""),
    ("diff-n2-axis0", SYS, lambda x: np.diff(x, n=2, axis=0), [(R, (4, 3))], ""),
    ("tile", SYS, lambda x: np.tile(x, (2, 3)), [(R, (1, 2))], "issue"),
    ("tile-more-reps-dims", SYS, lambda x: np.tile(x, (3, 2, 1)), [(R, (1, 2))], "reps longer than ndim"),
    ("kron", SYS, lambda a, b: np.kron(a, b), [(R, (2, 2)), (R, (3, 3))], "issue"),
    ("inner", SYS, lambda a, b: np.inner(a, b), [(R, (3,)), (R, (3,))], ""),
    ("inner-mat", SYS, lambda a, b: np.inner(a, b), [(R, (2, 3)), (R, (4, 3))], ""),
    ("dot-nd", SYS, lambda a, b: np.dot(a, b), [(R, (2, 2, 3)), (R, (2, 3, 2))], "N-d dot (not matmul broadcasting)"),
    ("matmul-vec", SYS, lambda a, b: np.matmul(a, b), [(R, (3,)), (R, (3,))], ""),
    ("matmul", SYS, lambda a, b: np.matmul(a, b), [(R, (2, 3)), (R, (3, 4))], ""),
    ("matmul-batched", SYS, lambda a, b: np.matmul(a, b), [(R, (2, 2, 3)), (R, (2, 3, 2))], ""),
    ("op.matmul", SYS, lambda a, b: a @ b, [(R, (2, 3)), (R, (3, 4))],
     "tests name np.matmul; the @ spelling is listed with it (different dunder on a Dual)"),
    ("tensordot-axes-pairs", SYS, lambda a, b: np.tensordot(a, b, axes=[(0, 1), (1, 2)]), [(R, (2, 3)), (R, (1, 2, 3))],
     "test_tensordot_1..3; issue"),
    ("tensordot-axes1", SYS, lambda a, b: np.tensordot(a, b, axes=1), [(R, (2, 2)), (R, (2, 2, 3))], "test_tensordot_4"),
    ("tensordot-axes0", SYS, lambda a, b: np.tensordot(a, b, axes=0), [(R, (4,)), (R, ())], "test_tensordot_5: outer product"),
    ("tensordot-negative-axes", SYS, lambda a, b: np.tensordot(a, b, axes=[[-1], [0]]), [(R, (2, 4)), (R, (4, 3))],
     "test_tensordot_6"),
    ("maximum", SYS, lambda x, y: np.maximum(x, y), [(R, (3, 4)), (R, (1, 4))], "no ties for 'r'"),
    ("fmax", SYS, lambda x, y: np.fmax(x, y), [(R, (3, 4)), (R, (1, 4))], ""),
    ("minimum", SYS, lambda x, y: np.minimum(x, y), [(R, (3, 4)), (R, (1, 4))], ""),
    ("fmin", SYS, lambda x, y: np.fmin(x, y), [(R, (3, 4)), (R, (1, 4))], ""),
    ("sort", SYS, lambda x: np.sort(x), [(SD, (7,))], "issue"),
    ("sort-axis0", SYS, lambda x: np.sort(x, axis=0), [(SD, (4, 3))], "test_msort: np.msort was removed in NumPy 2"),
    ("partition", SYS, lambda x: np.partition(x, 3), [(SD, (7,))], "kth=0,3,6 in autograd"),
    ("atleast_1d", SYS, lambda x: np.atleast_1d(x), [(R, ())], ""),
    ("atleast_2d", SYS, lambda x: np.atleast_2d(x), [(R, (3,))], "issue"),
    ("atleast_3d", SYS, lambda x: np.atleast_3d(x), [(R, (2, 3))], "issue"),
    ("einsum-transpose", SYS, lambda a: np.einsum("ij->ji", a), [(R, (3, 4))], "issue"),
    ("einsum-matmul", SYS, lambda a, b: np.einsum("ij,jk->ik", a, b), [(R, (2, 3)), (R, (3, 4))], ""),
    ("einsum-matmul-broadcast", SYS, lambda a, b: np.einsum("...ij,...jk->...ik", a, b), [(R, (2, 2, 3)), (R, (3, 4))], ""),
    ("einsum-covsum", SYS, lambda a, b: np.einsum("ijk,lji->lki", a, b), [(R, (2, 3, 2)), (R, (2, 3, 2))], ""),
    ("einsum-ellipsis", SYS, lambda a, b: np.einsum("...jk,...lj->...lk", a, b), [(R, (2, 2, 2)), (R, (2, 2, 2))], ""),
    ("einsum-ellipsis-elementwise", SYS, lambda a, b: np.einsum("...,...->...", a, b), [(R, (3, 4)), (R, (3, 4))], ""),
    ("einsum-ellipsis-tail", SYS, lambda a, b: np.einsum("jk...,lj...->lk...", a, b), [(R, (3, 2, 2)), (R, (2, 3, 2))], ""),
    ("einsum-ellipsis-center", SYS, lambda a, b: np.einsum("j...k,lj...->lk...", a, b), [(R, (2, 2, 2)), (R, (2, 2, 2))], ""),
    ("einsum-three-operands", SYS, lambda a, b, c: np.einsum("ijk,lji,lli->lki", a, b, c),
     [(R, (2, 3, 2)), (R, (2, 3, 2)), (R, (2, 2, 2))], ""),
    ("einsum-sublist", SYS, lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), [(R, (2, 3)), (R, (3, 4))],
     "test_einsum2_*: operand/sublist calling form"),
    ("trace", SYS, lambda x: np.trace(x), [(R, (3, 3))], "offset=0; issue"),
    ("diag-k", SYS, lambda x: np.diag(x, k=1), [(R, (3, 3))], "issue"),
    ("diag-flat", SYS, lambda x: np.diag(x, k=-1), [(R, (3,))], "1-D in, matrix out"),
    ("tril-3d", SYS, lambda x: np.tril(x, k=-1), [(R, (2, 3, 2))],
     "acts on the last two axes (test_triu/test_triu_3d also call np.tril: triu is only tested 2-D)"),
    ("swapaxes", SYS, lambda x: np.swapaxes(x, 0, 2), [(R, (2, 3, 2))], "issue"),
    ("rollaxis", SYS, lambda x: np.rollaxis(x, 2, 0), [(R, (2, 3, 2))], ""),
    ("cross", SYS, lambda a, b: np.cross(a, b), [(R, (3, 3)), (R, (3, 3))], "issue"),
    ("cross-axis0", SYS, lambda a, b: np.cross(a, b, axisa=0, axisb=0, axisc=0), [(R, (3, 3)), (R, (3, 3))], ""),
    ("vsplit", SYS, lambda x: np.vsplit(x, 2), [(R, (4, 3))], "returns a list; issue"),
    ("hsplit", SYS, lambda x: np.hsplit(x, [1, 2]), [(R, (3, 4))], "returns a list; issue"),
    ("dsplit", SYS, lambda x: np.dsplit(x, 2), [(R, (2, 2, 2))], "returns a list; issue"),
    ("split", SYS, lambda x: np.split(x, 2), [(R, (6,))], "returns a list; issue"),
    ("split-indices-axis1", SYS, lambda x: np.split(x, [1, 3], axis=1), [(R, (2, 4))], "returns a list"),
    ("array_split", SYS, lambda x: np.array_split(x, 3), [(R, (7,))], "uneven pieces; returns a list; issue"),
    ("concatenate-list", SYS, lambda x, y: np.concatenate([x, y], axis=0), [(R, (1,)), (R, (3,))],
     "list of Duals (test_concatenate_1ist/_tuple/_2d/_3d)"),
    ("vstack", SYS, lambda x, y: np.vstack((x, y)), [(R, (2, 3)), (R, (1, 3))], ""),
    ("vstack-1d", SYS, lambda x, y: np.vstack((x, y)), [(R, (3,)), (R, (3,))], ""),
    ("hstack", SYS, lambda x, y: np.hstack((x, y)), [(R, (3, 2)), (R, (3, 1))], ""),
    ("hstack-1d", SYS, lambda x, y: np.hstack((x, y)), [(R, (2,)), (R, (3,))], ""),
    ("stack", SYS, lambda x, y: np.stack((x, y)), [(R, (3,)), (R, (3,))], "axis=0"),
    ("stack-axis1", SYS, lambda x, y: np.stack((x, y), axis=1), [(R, (3,)), (R, (3,))], ""),
    ("row_stack", SYS, lambda x, y: getattr(np, "row_stack", np.vstack)((x, y)), [(R, (2, 3)), (R, (1, 3))],
     "deprecated alias of vstack in NumPy 2"),
    ("column_stack", SYS, lambda x, y: np.column_stack((x, y)), [(R, (3, 2)), (R, (3, 2))], "issue"),
    ("column_stack-1d", SYS, lambda x, y: np.column_stack((x, y)), [(R, (3,)), (R, (3,))], ""),
    ("select", SYS, lambda a, b: np.select([_MASK34, ~_MASK34], [a, b], default=1.1), [(R, (3, 4)), (R, (3, 4))],
     "autograd differentiates the choicelist"),

    # ======================================================================
    # tests/test_linalg.py  (real-input tests only)
    # ======================================================================
    ("linalg.inv", LIN, lambda a: np.linalg.inv(a), [(SQ, (3, 3))], ""),
    ("linalg.inv-batched", LIN, lambda a: np.linalg.inv(a), [(SQ, (2, 2, 2))], "test_inv_3d; issue (batched inv)"),
    ("linalg.inv-batched-4d", LIN, lambda a: np.linalg.inv(a), [(SQ, (2, 1, 2, 2))], "test_inv_3d, second half"),
    ("linalg.pinv", LIN, lambda a: np.linalg.pinv(a), [(R, (4, 2))], "tall; issue"),
    ("linalg.pinv-wide", LIN, lambda a: np.linalg.pinv(a), [(R, (2, 4))], ""),
    ("linalg.pinv-batched", LIN, lambda a: np.linalg.pinv(a), [(R, (2, 3, 2))], "stacked"),
    ("linalg.pinv-low-rank", LIN, lambda x: np.linalg.pinv(np.swapaxes(x, -1, -2) @ x), [(R, (2, 3))],
     "pinv of a rank-2 3x3 matrix (fixed rank, so differentiable)"),
    ("linalg.solve", LIN, lambda a, b: np.linalg.solve(a, b), [(SQ, (3, 3)), (R, (3, 2))],
     "test_solve_arg1 / test_solve_arg2 (both arguments)"),
    ("linalg.solve-vec", LIN, lambda a, b: np.linalg.solve(a, b), [(SQ, (3, 3)), (R, (3,))], "test_solve_arg1_1d"),
    ("linalg.solve-batched-vec", LIN, lambda a, b: np.linalg.solve(a, b[..., None])[..., 0], [(SQ, (2, 2, 2)), (R, (2, 2))],
     "test_solve_arg1_3d, NumPy-2 form; issue (batched solve)"),
    ("linalg.solve-batched", LIN, lambda a, b: np.linalg.solve(a, b), [(SQ, (2, 2, 2)), (R, (2, 2, 3))], "test_solve_arg1_3d_3d"),
    ("linalg.det", LIN, lambda a: np.linalg.det(a), [(SQ, (3, 3))], ""),
    ("linalg.det-batched", LIN, lambda a: np.linalg.det(a), [(SQ, (2, 2, 2))], "test_det_3d; issue (batched det)"),
    ("linalg.slogdet", LIN, lambda a: np.linalg.slogdet(a)[1], [(SQ, (3, 3))], "logdet part; issue"),
    ("linalg.slogdet-negdet", LIN, lambda a: np.linalg.slogdet(-a)[1], [(SQ, (3, 3))],
     "test_slogdet checks -mat too: negative determinant"),
    ("linalg.slogdet-batched", LIN, lambda a: np.sum(np.linalg.slogdet(a)[1]), [(SPD, (3, 2, 2))], "test_slogdet_3d"),
    ("linalg.norm", LIN, lambda x: np.linalg.norm(x), [(R, (6,))], "vector 2-norm"),
    ("linalg.norm-fro", LIN, lambda x: np.linalg.norm(x), [(R, (3, 4))], "matrix Frobenius"),
    ("linalg.norm-axis-tuple", LIN, lambda x: np.linalg.norm(x, axis=(0, 1)), [(R, (2, 3, 2))], "test_frobenius_norm_axis"),
    ("linalg.norm-ord", LIN, lambda x: np.linalg.norm(x, ord=3), [(R, (6,))], "test_vector_norm_ord (ord=2,3,4)"),
    ("linalg.norm-axis", LIN, lambda x: np.linalg.norm(x, axis=1), [(R, (2, 3, 2))], "test_norm_axis (axis=0,1,2)"),
    ("linalg.norm-nuc", LIN, lambda x: np.linalg.norm(x, ord="nuc"), [(R, (4, 3))], "sum of singular values"),
    ("linalg.norm-nuc-axis", LIN, lambda x: np.linalg.norm(x, ord="nuc", axis=(0, 1)), [(R, (3, 2, 2))], ""),
    ("linalg.norm-list", LIN, lambda x: np.linalg.norm([x, x + 2.0]), [(R, ())], "test_norm_list_of_boxes"),
    ("linalg.eigh", LIN, lambda a: np.linalg.eigh(_sym(a)), [(SPD, (3, 3))],
     "returns (w, v); input symmetrized inside so any perturbation works; eigenvector signs are LAPACK's; issue"),
    ("linalg.eigh-upper", LIN, lambda a: np.linalg.eigh(_sym(a), "U"), [(SPD, (3, 3))], "UPLO='U'"),
    ("linalg.eigh-batched", LIN, lambda a: np.linalg.eigh(_sym(a)), [(SPD, (2, 1, 2, 2))],
     "test_eigvalh_*_broadcasting (two batch axes)"),
    ("linalg.eig", LIN, lambda a: (np.abs(np.linalg.eig(a)[0]), np.abs(np.linalg.eig(a)[1])), [(SPD, (3, 3))],
     "test_eig_real takes abs of both outputs (phase/sign); 'spd' keeps eigenvalues real and distinct"),
    ("linalg.cholesky", LIN, lambda a: np.linalg.cholesky(_sym(a)), [(SPD, (3, 3))],
     "input symmetrized inside (autograd: check_symmetric_matrix_grads); issue"),
    ("linalg.cholesky-batched", LIN, lambda a: np.linalg.cholesky(_sym(a)), [(SPD, (3, 2, 2))], "test_cholesky_broadcast"),
    ("linalg.svd", LIN, lambda x: np.linalg.svd(x, full_matrices=False), [(R, (3, 4))], "wide; returns (u, s, vh); issue"),
    ("linalg.svd-tall", LIN, lambda x: np.linalg.svd(x, full_matrices=False), [(R, (4, 3))], ""),
    ("linalg.svd-square", LIN, lambda x: np.linalg.svd(x, full_matrices=False), [(R, (3, 3))], ""),
    ("linalg.svd-batched", LIN, lambda x: np.linalg.svd(x, full_matrices=False), [(R, (2, 2, 3))], "test_svd_*_3d"),
    ("linalg.svd-only-s", LIN, lambda x: np.linalg.svd(x, full_matrices=False, compute_uv=False), [(R, (4, 3))], ""),
    ("linalg.svd-only-s-batched", LIN, lambda x: np.linalg.svd(x, full_matrices=False, compute_uv=False), [(R, (2, 3, 2))], ""),

    # ======================================================================
    # issue extras: items of the issue that the four files do not cover
    # ======================================================================
    ("linalg.eigvalsh", ISS, lambda a: np.linalg.eigvalsh(_sym(a)), [(SPD, (3, 3))], "input symmetrized inside"),
    ("linalg.lstsq", ISS, lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], [(R, (4, 2)), (R, (4,))],
     "solution part only (residuals/rank/sv not differentiated)"),
    ("argsort", ISS, lambda x: x[np.argsort(x)], [(SD, (6,))], "integer output used as an index"),
    ("argmax", ISS, lambda x: x[np.argmax(x)], [(SD, (6,))], "the issue's x[np.argmax(x)]"),
    ("argmin", ISS, lambda x: x[np.argmin(x)], [(SD, (6,))], ""),
    ("pad", ISS, lambda x: np.pad(x, ((1, 0), (0, 2))), [(R, (2, 3))], "constant mode"),
    ("flip", ISS, lambda x: np.flip(x, axis=0), [(R, (3, 4))], ""),
    ("take", ISS, lambda x: np.take(x, [0, 2, 2], axis=1), [(R, (2, 3))], "repeated index accumulates"),
    ("interp", ISS, lambda x, fp: np.interp(x, _XP, fp), [(UNIT, (4,)), (R, (5,))],
     "differentiable in x and fp (xp constant, knots at -1,-0.5,0,0.5,1: kinks measure zero)"),
    ("polyval", ISS, lambda p, x: np.polyval(p, x), [(R, (3,)), (R, (4,))], "both arguments"),
    ("cumprod", ISS, lambda x: np.cumprod(x), [(POS, (5,))], ""),
    ("round", ISS, lambda x: np.round(x), [(R, (4,))], "derivative 0 away from half-integers"),
    ("moveaxis", ISS, lambda x: np.moveaxis(x, 0, -1), [(R, (2, 3, 2))], ""),
    ("special.expit", ISS, lambda x: _sp().expit(x), [(R, (4,))], ""),
    ("special.logit", ISS, lambda p: _sp().logit(0.4 * p), [(POS, (4,))], "0.4*p keeps the argument in [0.2, 0.8]"),
    ("special.erf", ISS, lambda x: _sp().erf(x), [(R, (4,))], ""),
    ("special.erfc", ISS, lambda x: _sp().erfc(x), [(R, (4,))], ""),
    ("special.gammaln", ISS, lambda x: _sp().gammaln(x), [(POS, (4,))], ""),
    ("special.digamma", ISS, lambda x: _sp().digamma(x), [(POS, (4,))], ""),
    ("special.xlogy", ISS, lambda x, y: _sp().xlogy(x, y), [(R, (4,)), (POS, (4,))], ""),
    ("special.xlog1py", ISS, lambda x, y: _sp().xlog1py(x, y), [(R, (4,)), (POS, (4,))], ""),
    ("special.logsumexp", ISS, lambda x: _sp().logsumexp(x), [(R, (3, 4))], ""),
    ("special.logsumexp-axis1-keepdims", ISS, lambda x: _sp().logsumexp(x, axis=1, keepdims=True), [(R, (3, 4))], ""),
    ("special.softmax", ISS, lambda x: _sp().softmax(x, axis=-1), [(R, (3, 4))], ""),

    # ======================================================================
    # registry: functions the Dual registers beyond the lists above, so that
    # every registration is exercised (tests/test_dual_coverage.py checks it)
    # ======================================================================
    ("subtract", REG, lambda x, y: np.subtract(x, y), [(R, (3,)), (R, (2, 3))], "broadcast"),
    ("positive", REG, lambda x: np.positive(x), [(R, (3,))], ""),
    ("arctan2", REG, lambda x, y: np.arctan2(x, y), [(R, (4,)), (POS, (4,))], ""),
    ("hypot", REG, lambda x, y: np.hypot(x, y), [(R, (4,)), (R, (4,))], ""),
    ("cbrt", REG, lambda x: np.cbrt(x), [(POS, (4,))], ""),
    ("rint", REG, lambda x: x * np.rint(3.0 * x), [(R, (4,))], "zero derivative"),
    ("trunc", REG, lambda x: x * np.trunc(3.0 * x), [(R, (4,))], "zero derivative"),
    ("amax", REG, lambda x: np.amax(x, axis=0), [(SD, (3, 4))], ""),
    ("amin", REG, lambda x: np.amin(x, axis=1), [(SD, (3, 4))], ""),
    ("ptp", REG, lambda x: np.ptp(x, axis=1), [(SD, (3, 4))], ""),
    ("average", REG, lambda x, w: np.average(x, axis=0, weights=w), [(R, (3, 4)), (POS, (3,))], ""),
    ("all", REG, lambda x: x * np.all(x > -100.0), [(R, (4,))], "values only"),
    ("any", REG, lambda x: x * np.any(x > 100.0), [(R, (4,))], "values only"),
    ("count_nonzero", REG, lambda x: x * np.count_nonzero(x > 0), [(R, (4,))], "values only"),
    ("nonzero", REG, lambda x: x[np.nonzero(x > 0)], [(SD, (6,))], "values only"),
    ("flatnonzero", REG, lambda x: x.ravel()[np.flatnonzero(x > 0)], [(SD, (2, 3))], "values only"),
    ("argwhere", REG, lambda x: x[tuple(np.argwhere(x > 0).T)], [(SD, (2, 3))], "values only"),
    ("argpartition", REG, lambda x: x[np.argpartition(x, 2)], [(SD, (5,))], "values only"),
    ("delete", REG, lambda x: np.delete(x, [0, 2], axis=1), [(R, (3, 4))], ""),
    ("insert", REG, lambda x, v: np.insert(x, 1, v, axis=0), [(R, (3, 2)), (R, (2,))], ""),
    ("dstack", REG, lambda x, y: np.dstack([x, y]), [(R, (2, 3)), (R, (2, 3))], ""),
    ("row_stack", REG, lambda x, y: getattr(np, "row_stack", np.vstack)([x, y]), [(R, (3,)), (R, (3,))], ""),
    ("meshgrid", REG, lambda x, y: np.meshgrid(x, y), [(R, (3,)), (R, (2,))], "a list of arrays"),
    ("take_along_axis", REG, lambda x: np.take_along_axis(x, np.array([[2, 0], [1, 1]]), axis=1), [(R, (2, 3))], ""),
    ("vdot", REG, lambda x, y: np.vdot(x, y), [(R, (2, 3)), (R, (2, 3))], ""),
    ("linalg.multi_dot", REG, lambda a, b, c: np.linalg.multi_dot([a, b, c]), [(R, (2, 3)), (R, (3, 3)), (R, (3, 2))], ""),
    ("linalg.matrix_power", REG, lambda a: np.linalg.matrix_power(a, 3), [(SQ, (3, 3))], ""),
    ("linalg.matrix_power-neg", REG, lambda a: np.linalg.matrix_power(a, -2), [(SQ, (3, 3))], ""),
    ("linalg.eigvals", REG, lambda a: np.linalg.eigvals(_sym(a)), [(SPD, (3, 3))], "real distinct eigenvalues"),
    ("linalg.qr", REG, lambda a: np.linalg.qr(a), [(R, (4, 3))], "reduced"),
    ("linalg.svdvals", REG, lambda a: np.linalg.svdvals(a), [(R, (4, 3))], ""),
    ("linalg.cond", REG, lambda a: np.linalg.cond(a, 2), [(SQ, (3, 3))], ""),
    ("linalg.matrix_rank", REG, lambda a: a * np.linalg.matrix_rank(a), [(SQ, (3, 3))], "values only"),
    ("linalg.tensorinv", REG, lambda a: np.linalg.tensorinv(a.reshape(2, 2, 4), ind=2), [(SQ, (4, 4))], ""),
    ("linalg.tensorsolve", REG, lambda a, b: np.linalg.tensorsolve(a.reshape(2, 2, 4), b), [(SQ, (4, 4)), (R, (2, 2))], ""),
    ("linalg.vecdot", REG, lambda x, y: np.linalg.vecdot(x, y), [(R, (2, 3)), (R, (2, 3))], ""),
    ("linalg.vector_norm", REG, lambda x: np.linalg.vector_norm(x, ord=3, axis=1), [(POS, (2, 3))], ""),
    ("linalg.matrix_norm", REG, lambda a: np.linalg.matrix_norm(a, ord="fro"), [(R, (2, 3, 3))], ""),
    ("around", REG, lambda x: x * np.around(0.5 * x), [(R, (4,))], "zero derivative; jumps 2 apart"),
    ("fix", REG, lambda x: x * np.fix(3.0 * x), [(R, (4,))], "zero derivative"),
    ("conjugate", REG, lambda x: np.conjugate(x), [(R, (4,))], ""),
    ("copysign", REG, lambda x, y: np.copysign(x, y), [(POS, (4,)), (R, (4,))], ""),
    ("floor_divide", REG, lambda x, y: x * np.floor_divide(x, y), [(R, (4,)), (GT1, (4,))], "zero derivative of //"),
    ("op.floordiv", REG, lambda x, y: x * (x // y), [(R, (4,)), (GT1, (4,))], ""),
    ("fmod", REG, lambda x, y: np.fmod(x, y), [(UNIT, (4,)), (GT1, (4,))], ""),
    ("heaviside", REG, lambda x, y: x * np.heaviside(x, y), [(R, (4,)), (UNIT, (4,))], ""),
    ("special.log_expit", REG, lambda x: _sp().log_expit(x), [(R, (4,))], ""),
    ("special.psi", REG, lambda x: _sp().psi(x), [(POS, (4,))], "digamma's other name"),
    ("method.put", REG, lambda x, v: _put(x, v), [(R, (5,)), (R, (2,))], "in place"),
    ("method.fill", REG, lambda x, v: _fill(x, v), [(R, (4,)), (R, ())], "in place"),
]


def _put(x, v):
    y = x * 1.0
    y.put([0, 3], v)
    return y


def _fill(x, v):
    y = x * 1.0
    y[1:3].fill(v)       # through a view
    return y


# Every item of the issue's list -> the entry ids that cover it.
ISSUE_ITEMS = {
    "var": ["var", "var-ddof1", "var-axis0"],
    "std": ["std", "std-ddof1", "std-axis0"],
    "%": ["op.mod"],
    "mod": ["mod", "mod-neg-divisor"],
    "remainder": ["remainder"],
    "einsum": ["einsum-transpose", "einsum-matmul", "einsum-sublist"],
    "tensordot": ["tensordot-axes-pairs", "tensordot-axes1", "tensordot-axes2-positional"],
    "logaddexp": ["logaddexp"],
    "logaddexp2": ["logaddexp2"],
    "atleast_2d": ["atleast_2d"],
    "atleast_3d": ["atleast_3d"],
    "roll": ["roll-axis1"],
    "repeat": ["repeat-axis1", "repeat-noaxis"],
    "tile": ["tile"],
    "tril": ["tril-k", "tril-3d"],
    "triu": ["triu-k"],
    "diag": ["diag", "diag-k", "diag-flat"],
    "diagonal": ["diagonal-last-axes", "diagonal-batched"],
    "trace": ["trace", "trace-offset"],
    "linalg.slogdet": ["linalg.slogdet", "linalg.slogdet-batched"],
    "cholesky": ["linalg.cholesky"],
    "eigh": ["linalg.eigh"],
    "eigvalsh": ["linalg.eigvalsh"],
    "lstsq": ["linalg.lstsq"],
    "pinv": ["linalg.pinv"],
    "svd": ["linalg.svd"],
    "batched inv": ["linalg.inv-batched"],
    "batched det": ["linalg.det-batched"],
    "batched solve": ["linalg.solve-batched", "linalg.solve-batched-vec"],
    "sort": ["sort"],
    "argsort": ["argsort"],
    "argmax": ["argmax"],
    "argmin": ["argmin"],
    "x[np.argmax(x)]": ["argmax"],
    "pad": ["pad"],
    "flip": ["flip"],
    "take": ["take"],
    "interp": ["interp"],
    "polyval": ["polyval"],
    "cumprod": ["cumprod"],
    "round": ["round"],
    "sinc": ["sinc"],
    "degrees": ["degrees"],
    "radians": ["radians"],
    "swapaxes": ["swapaxes"],
    "moveaxis": ["moveaxis"],
    "x.astype(float)": ["method.astype-float64"],
    "split": ["split", "split-indices-axis1"],
    "array_split": ["array_split"],
    "hsplit": ["hsplit"],
    "vsplit": ["vsplit"],
    "dsplit": ["dsplit"],
    "column_stack": ["column_stack"],
    "append": ["append"],
    "kron": ["kron"],
    "cross": ["cross"],
    "special.expit": ["special.expit"],
    "special.logit": ["special.logit"],
    "special.erf": ["special.erf"],
    "special.erfc": ["special.erfc"],
    "special.gammaln": ["special.gammaln"],
    "special.digamma": ["special.digamma"],
    "special.xlogy": ["special.xlogy"],
    "special.xlog1py": ["special.xlog1py"],
    "special.logsumexp": ["special.logsumexp"],
    "special.softmax": ["special.softmax"],
}


def callable_name(entry_id):
    """The function/operator an id names, without its variant suffix
    (e.g. "linalg.norm-nuc-axis" -> "linalg.norm")."""
    prefix, _, rest = entry_id.rpartition(".")
    head = rest.split("-")[0]
    return prefix + "." + head if prefix else head


def counts():
    by_source = {}
    for e in ENTRIES:
        by_source[e[1]] = by_source.get(e[1], 0) + 1
    autograd = [e for e in ENTRIES if e[1] not in (ISS, REG)]
    return by_source, len(autograd), len({callable_name(e[0]) for e in autograd})


if __name__ == "__main__":
    ids = [e[0] for e in ENTRIES]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    bad_ids = [i for i in ids if i != i.strip() or " " in i]
    missing_issue = sorted({t for v in ISSUE_ITEMS.values() for t in v} - set(ids))

    rng = np.random.default_rng(0)
    failures = []
    big = []
    for eid, source, call, inputs, note in ENTRIES:
        try:
            args = [make_input(kind, shape, rng) for kind, shape in inputs]
            if any(a.size > 12 for a in args):
                big.append((eid, [a.shape for a in args]))
            with np.errstate(all="raise"):   # overflow/invalid/divide -> error
                out = call(*args)
            outs = out if isinstance(out, (tuple, list)) else [out]
            for o in outs:
                o = np.asarray(o)
                if not np.issubdtype(o.dtype, np.floating):
                    raise TypeError("non-float output dtype %s" % o.dtype)
                if not np.all(np.isfinite(o)):
                    raise ValueError("non-finite output")
        except Exception as exc:  # noqa: BLE001 - report every failure
            failures.append((eid, "%s: %s" % (type(exc).__name__, exc)))

    by_source, n_autograd, n_callables = counts()
    print("entries:", len(ENTRIES))
    for s in (NUM, SCA, SYS, LIN, ISS):
        print("  %-20s %d" % (s, by_source.get(s, 0)))
    print("autograd entries:", n_autograd)
    print("distinct callables named by the autograd entries:", n_callables)
    print("issue items:", len(ISSUE_ITEMS), "all covered" if not missing_issue else missing_issue)
    if dup:
        print("DUPLICATE IDS:", dup)
    if bad_ids:
        print("BAD IDS:", bad_ids)
    for eid, shapes in big:
        print("note: over 12 elements:", eid, shapes)
    for eid, msg in failures:
        print("FAIL", eid, msg)
    print("failures:", len(failures))
