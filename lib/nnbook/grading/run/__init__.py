"""Running untrusted code: a submitted notebook's kernel and the calls into it.

- :mod:`.kernel`: run a notebook cell by cell in a fresh kernel (timeouts, output caps, restarts).
- :mod:`.channel`: call the learner's functions in that kernel and get validated plain data back.
- :mod:`.sandbox`: how the kernel is started (default mode, or ``--sandbox`` with bubblewrap).
- :mod:`.guard`: the overlay copy of nnbook in which what a set does not allow answers to call raises.
"""
