"""Exercises with autograding: graded cases, the in-notebook ``check``, release and grading.

- :func:`check` / :func:`evaluate`: run an exercise's graded cases (defined once, in
  :mod:`nnbook.grading.sets`, one module per exercise set) against a learner's function.
- :mod:`nnbook.grading.notebooks.release`: make ``exercises/`` from ``solutions/`` (``nnbook release``).
- :mod:`nnbook.grading.grade`: grade submitted notebooks (``nnbook grade``).
"""
from .judge.checker import ExerciseFailed, Report, check, evaluate
from .judge.registry import EXERCISES

__all__ = ["check", "evaluate", "Report", "ExerciseFailed", "EXERCISES"]
