"""Interactive figures for the book (ipywidgets + matplotlib), one module per chapter.

Each ``*_figure`` function draws one static figure (used in the text and by the tests);
each ``*_playground`` function wraps it in widgets and returns the widget to display as
the last line of a notebook cell. Sliders redraw when released (``continuous_update=False``)
and every redraw takes well under a second.

- :mod:`.fully_connected` (chapter 1): ``spiral_figure``, ``spiral_playground``
- :mod:`.training` (chapter 2): ``SURFACES``, ``OPTIMIZERS``, ``Point``, ``run_optimizer``,
  ``race_figure``, ``race_playground``, ``INIT_SCHEMES``, ``init_activations``, ``init_figure``,
  ``init_playground``
- :mod:`.convolution` (chapter 3): ``KERNELS``, ``filter_image``, ``kernel_figure``,
  ``kernel_playground``, ``conv_geometry_playground``
- :mod:`.pooling` (chapter 4): ``pool_image``, ``pooling_figure``, ``pooling_playground``
- :mod:`.batch_norm` (chapter 6): ``train_eval_gap``, ``train_eval_curves``, ``train_eval_figure``,
  ``train_eval_playground``
- :mod:`.putting_it_together` (chapter 8): ``filter_responses``, ``top_patches``, ``filter_figure``,
  ``filter_playground``
"""
from .batch_norm import train_eval_curves, train_eval_figure, train_eval_gap, train_eval_playground  # noqa: F401
from .convolution import KERNELS, conv_geometry_playground, filter_image, kernel_figure, kernel_playground  # noqa: F401
from .fully_connected import spiral_figure, spiral_playground  # noqa: F401
from .training import (INIT_SCHEMES, OPTIMIZERS, SURFACES, Point, init_activations, init_figure,  # noqa: F401
                       init_playground, race_figure, race_playground, run_optimizer)
from .pooling import pool_image, pooling_figure, pooling_playground  # noqa: F401
from .putting_it_together import filter_figure, filter_playground, filter_responses, top_patches  # noqa: F401
