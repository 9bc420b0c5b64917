"""All graded exercises, by id (``EXERCISES``) and by exercise set (``SETS``).

The definitions live in :mod:`nnbook.grading.sets` (one module per exercise notebook);
what an exercise is, in :mod:`nnbook.grading.exercise`.
"""
from . import sets  # noqa: F401  (registers every set)
from .exercise import EXERCISES, SETS, dout_for, reference_out  # noqa: F401
