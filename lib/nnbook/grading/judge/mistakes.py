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


GENERIC = (first_window_only, all_zeros, transposed)
"""Tried in this order when no exercise-specific hint explains a problem."""


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
