"""The exercise sets, one module each, named like their notebooks in ``exercises/``.

Importing this package registers every set's exercises in
:data:`nnbook.grading.judge.exercise.EXERCISES` and the sets in :data:`~nnbook.grading.judge.exercise.SETS`.
To add a set: write ``sets/exN_topic.py`` (cases, references, hints, then ``register_set``)
and import it here.
"""
from . import (ex1_fully_connected, ex2_training, ex3_convolution, ex4_pooling,  # noqa: F401
               ex5_dropout, ex6_batch_norm, ex7_residual, ex8_putting_it_together)
