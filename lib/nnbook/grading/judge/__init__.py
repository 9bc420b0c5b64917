"""Judging: the graded cases of every exercise, the comparison with references, and the hints.

- :mod:`.exercise`: what an exercise, a set and a :class:`~.exercise.Hint` are.
- :mod:`.cases`, :mod:`.compare`: the calls that are graded, and how outputs are compared.
- :mod:`.checker`: ``check``/``evaluate`` (run the cases, name the mistakes).
- :mod:`.mistakes`: generic mistake detectors; :mod:`.feedback`: the report of one check.
- :mod:`.errors`: a learner's exception as one line; :mod:`.own_code`: in a notebook, refuse
  nnbook's own implementation as an answer.
- :mod:`.registry`: all exercises and sets (defined in :mod:`nnbook.grading.sets`).
"""
