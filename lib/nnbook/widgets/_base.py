"""Shared helpers of the book's widgets: redraw a figure inside an ``Output`` widget."""
import matplotlib.pyplot as plt


def _redraw(output, draw):
    """Run ``draw()`` (which makes one figure) inside ``output``, replacing what was there."""
    with output:
        output.clear_output(wait=True)
        draw()
        plt.show()
