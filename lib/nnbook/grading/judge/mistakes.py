"""Mistakes that look alike in every exercise, recognized from what a learner's function returned.

The exercise sets name their own classic mistakes (``sets/*.py``: alternatives, rules,
detectors). The patterns here are more general and are tried when no exercise-specific hint
explains a problem: an output that is zero everywhere, a forward that filled only its first
window, an output with its two spatial axes swapped. :func:`stride_ignored` is the building
block of the whole-check detectors "every case with stride != kernel fails on shape".
"""
import numpy as np

from .compare import same_values
from .exercise import Hint

ALL_ZEROS = Hint(
    "output_all_zeros", "the result is zero everywhere: nothing was ever written into it",
    "every output position must receive its value before the function returns: is the assignment "
    "inside the loop, and does it write into the array you return?",
    "out = np.zeros(shape, dtype=x.dtype)\nfor i in range(Ho):\n    for j in range(Wo):\n"
    "        out[:, :, i, j] = ...   # inside both loops\nreturn out, cache",
    label="returned all zeros")

FIRST_WINDOW = Hint(
    "first_window_only", "only the first output position was filled: the loop stopped after one window "
    "(is the return indented inside the loop?)",
    "compute out[:, :, i, j] for every 0 <= i < Ho and 0 <= j < Wo, then return once, after both loops",
    "for i in range(Ho):\n    for j in range(Wo):\n        out[:, :, i, j] = ...\nreturn out, cache   "
    "# at the function's indentation, not the loop's",
    label="returned after the first window")

TRANSPOSED = Hint(
    "transposed_axes", "the two spatial axes are swapped: your result is the expected one transposed "
    "(rows and columns exchanged)",
    "axis 2 is the height (rows, index i) and axis 3 the width (columns, index j): out[n, c, i, j]",
    "out[:, :, i, j] = ...   # i over rows (Ho), j over columns (Wo)", label="swapped rows and columns")


def _arrays(problem):
    e, g = problem.expected, problem.got
    if not (isinstance(e, np.ndarray) and isinstance(g, np.ndarray)):
        return None, None
    if not (np.issubdtype(g.dtype, np.number) and np.issubdtype(e.dtype, np.number)) or g.dtype.kind == "c":
        return None, None
    return e, g


def all_zeros(case, problem):
    e, g = _arrays(problem)
    if e is None or problem.kind != "values" or g.size == 0:     # the right shape, but nothing in it
        return None
    if np.all(g == 0) and np.any(e != 0):
        return ALL_ZEROS
    return None


def first_window_only(case, problem):
    """A 4-D forward output right at position (0, 0) and zero at every other position."""
    e, g = _arrays(problem)
    if e is None or problem.output != "out" or e.ndim != 4 or g.ndim != 4 or g.shape[:2] != e.shape[:2]:
        return None
    if g.shape[2] * g.shape[3] < 2 or e.shape[2] * e.shape[3] < 2:
        return None
    rest = g.reshape(g.shape[0], g.shape[1], -1)[:, :, 1:]
    rest_expected = e.reshape(e.shape[0], e.shape[1], -1)[:, :, 1:]
    if np.any(g[:, :, 0, 0] != 0) and same_values(e[:, :, 0, 0], g[:, :, 0, 0].astype(e.dtype)) \
            and np.all(rest == 0) and np.any(rest_expected != 0):
        return FIRST_WINDOW
    return None


def transposed(case, problem):
    """A 4-D output equal to the expected one with its last two (spatial) axes swapped."""
    e, g = _arrays(problem)
    if e is None or e.ndim != 4 or g.ndim != 4 or problem.kind not in ("values", "shape"):
        return None
    swapped = np.swapaxes(e, -1, -2)
    if g.shape == swapped.shape and same_values(swapped, g.astype(e.dtype)):
        return TRANSPOSED
    return None


LOOP_SHORT = Hint(
    "loop_stops_short", "the last row (or column, or example) was never computed: a loop stops one step "
    "short (range(n - 1)? a size computed one too small?)",
    "a loop over an axis of n entries visits the indices 0, 1, ..., n - 1: range(n)",
    "for i in range(Ho):   # not range(Ho - 1)", label="a loop stopped one step short")


def _last_slices(shape):
    """A boolean mask per axis: the positions whose index on that axis is the last one."""
    masks = []
    for axis, n in enumerate(shape):
        m = np.zeros(shape, dtype=bool)
        index = [slice(None)] * len(shape)
        index[axis] = n - 1
        m[tuple(index)] = True
        masks.append(m)
    return masks


def loop_stops_short(case, problem):
    """The output is right except on the last index of one or more axes, where it is 0 (never written).
    A zero output with an axis of one entry is left to :func:`all_zeros` (see :func:`reconcile`)."""
    e, g = _arrays(problem)
    if e is None or problem.kind != "values" or g.shape != e.shape or g.size == 0 or np.all(g == 0):
        return None
    zero = np.zeros(e.shape, dtype=bool)
    for m in _last_slices(e.shape):
        if np.all(g[m] == 0) and np.any(e[m] != 0):
            zero |= m
    if not zero.any() or zero.all():
        return None
    rest = ~zero
    if same_values(e[rest], g[rest].astype(e.dtype)):
        return LOOP_SHORT
    return None


def numerical_too(results):
    """Whole-check: a failing numerical-gradient case that no hint explains fails for the reason every other
    failing case shows (its inputs are just another case): the hints those cases all share explain it too."""
    silent = [r for r in results if r.case.gradcheck and r.failed and not r.hints]
    others = [r for r in results if not r.case.gradcheck and r.failed]
    if not silent or not others:
        return []
    shared = set.intersection(*({h.id for h in r.hints} for r in others))
    hints = [h for h in others[0].hints if h.id in shared and not h.fallback]
    return [(h, [r.case.name for r in silent]) for h in hints]


def reconcile(results):
    """Whole-check: when a loop that stops one short explains some cases, a case whose output is all
    zeros because an axis has a single entry (batch 1: ``range(0)``) is the same mistake."""
    if not any(h.id == LOOP_SHORT.id for r in results for h in r.hints):
        return []
    names = []
    for r in results:
        if any(h.id == ALL_ZEROS.id for h in r.hints) and any(
                1 in np.shape(p.got) for p in r.problems if p.kind == "values"):
            r.hints = [h for h in r.hints if h.id != ALL_ZEROS.id]
            names.append(r.case.name)
    return [(LOOP_SHORT, names)] if names else []


# --- exceptions: the generic cause of a NumPy error, from the facts of the learner's line --------------------

SHAPES_MISMATCH = Hint(
    "shapes_do_not_match", "two arrays whose shapes do not fit were combined on the line that raised: compare "
    "each array's shape there (listed above) with the shape it should have in this case",
    "NumPy lines shapes up from the last axis, and each pair of sizes must be equal or 1; a per-channel "
    "array of shape (C,) lines up with the last axis unless it is given shape (C, 1, 1)",
    "b[:, None, None]   # or b.reshape(-1, 1, 1): (C,) lined up with axis 1 of (N, C, H, W)",
    label="combined arrays whose shapes do not fit", fallback=True)
MATMUL_SIZES = Hint(
    "matmul_sizes", "a matrix product A @ B needs A's last size to equal B's first: one of the two is "
    "transposed, or not flattened",
    "(n, k) @ (k, m) gives (n, m); the transpose of an (m, k) matrix is (k, m)", label="matrix product of "
    "mismatched sizes", fallback=True)
INDEX_PAST_END = Hint(
    "index_past_end", "an index ran past the end of an axis: a loop's range is larger than the array it "
    "indexes (rows and columns exchanged? a size computed too large?)",
    "an axis of n entries has the indices 0 to n - 1", label="index past the end", fallback=True)
TOO_MANY_INDICES = Hint(
    "too_many_indices", "an array was indexed with more axes than it has: the code assumes a shape (images "
    "(N, C, H, W)?) that this case's input does not have, although the function takes any shape",
    "x.ndim is the number of axes; x[..., j] indexes the last axis whatever x.ndim is, and an element-wise "
    "operation on the whole array needs no index at all", label="indexed more axes than the array has",
    fallback=True)
NONE_VALUE = Hint(
    "value_is_none", "a value was None where an array was needed: a function without a return statement "
    "returns None, and so does a variable set to None (a cache in evaluation mode?)",
    "every path through a function ends in return ...", label="used None as an array", fallback=True)

_SHAPE_WORDS = ("could not be broadcast", "could not broadcast", "non-broadcastable", "shape-mismatch for sum")


def numpy_error(case, problem):
    """The generic cause of an exception, from its message: shapes that do not fit, a matrix product of
    mismatched sizes, an index past the end, more indices than axes, None used as an array."""
    facts = problem.facts
    if problem.kind != "exception" or facts is None:
        return None
    message = facts.message
    if "matmul" in message or "not aligned" in message:
        return MATMUL_SIZES
    if any(w in message for w in _SHAPE_WORDS):
        return SHAPES_MISMATCH
    if facts.type == "IndexError" and "out of bounds" in message:
        return INDEX_PAST_END
    if facts.type == "IndexError" and "too many indices" in message:
        return TOO_MANY_INDICES
    if "NoneType" in message:
        return NONE_VALUE
    return None


GENERIC = (first_window_only, loop_stops_short, all_zeros, transposed, numpy_error)
"""Tried in this order when no exercise-specific hint explains a problem; the first that matches is used."""


def shape_failed(result, output="out"):
    """The shape that a case's failing ``output`` had, or None when it did not fail on shape."""
    for p in result.problems:
        if p.kind == "shape" and p.output == output and isinstance(p.got, np.ndarray):
            return tuple(p.got.shape)
    return None


def stride_ignored(results, hint, geometry, output="out"):
    """Whole-check detector: every case whose stride differs from what the learner used fails on
    shape, and each got exactly the shape of one ignored-stride geometry.

    ``geometry(case) -> (applies, shapes)``: whether the case has a stride that matters, and the
    output shapes that ignoring it would give (e.g. with stride 1, or with stride = kernel).
    Returns ``[(hint, case names)]`` or ``[]``.
    """
    names = []
    for r in results:
        if r.case.gradcheck:
            continue
        try:
            applies, shapes = geometry(r.case)
        except Exception:
            return []
        if not applies:
            continue
        got = shape_failed(r, output)
        if got is None or got not in {tuple(s) for s in shapes}:
            return []
        names.append(r.case.name)
    return [(hint, names)] if names else []
