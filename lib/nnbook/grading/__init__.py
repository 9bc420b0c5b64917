"""Exercises with autograding: graded cases, the in-notebook ``check``, release and grading.

- :func:`check` / :func:`evaluate`: run an exercise's graded cases (defined once, in
  :mod:`nnbook.grading.sets`, one module per exercise set) against a learner's function.
- :mod:`nnbook.grading.release`: make ``exercises/`` from ``solutions/`` (``nnbook release``).
- :mod:`nnbook.grading.grader`: grade submitted notebooks (``nnbook grade``).
"""
from .checker import ExerciseFailed, Report, check, evaluate
from .exercises import EXERCISES

__all__ = ["check", "evaluate", "Report", "ExerciseFailed", "EXERCISES"]
