"""All graded exercises, by id (``EXERCISES``) and by exercise set (``SETS``).

The definitions live in :mod:`nnbook.grading.sets` (one module per exercise notebook); importing
this module imports them all. What an exercise is: :mod:`nnbook.grading.judge.exercise`.
"""
from .. import sets  # noqa: F401  (registers every set)
from .exercise import EXERCISES, SETS, dout_for, reference_out  # noqa: F401
