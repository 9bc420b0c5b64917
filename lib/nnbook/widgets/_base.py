"""Shared helpers of the book's widgets: redraw a figure inside an ``Output`` widget, and say
which pictures the book's website shows for a widget."""
import matplotlib.pyplot as plt

SITE_STATES = "_nnbook_site_states"   # the attribute that carries a widget's declaration


def _redraw(output, draw):
    """Run ``draw()`` (which makes one figure) inside ``output``, replacing what was there."""
    with output:
        output.clear_output(wait=True)
        draw()
        plt.show()


def site_states(widget, values=None, grid=(), only=None, note=""):
    """Declare the control values the book's website offers for ``widget``; returns ``widget``.

    No Python runs in a reader's browser, so the website shows pictures rendered when it is
    built (``python3 dev.py site``): the build runs the chapter, finds this widget, sets its
    controls to every declared state and keeps the picture of each; on the page the controls
    step through those states only. In JupyterLab the widget is unchanged and takes any value.

    Args:
        widget: the widget a playground returns. Its controls are named by their ``description``.
        values: ``{description: [value, ...]}``, the values the site offers for a control. A
            control not named here offers every value it can take: a dropdown's or toggle's
            options, a checkbox's two states, every position of a slider with at most 41.
            Free-form inputs (text and number boxes, multiple selections) must be named here
            (their list is the presets the site offers) or left out with ``only``.
        grid: descriptions of the controls that are combined with every state of the others, or
            ``"all"`` for every combination. The other controls are swept one at a time from
            their default values (the values the playground starts with), which is enough when
            each one changes its own part of the picture.
        only: descriptions of the controls the site shows (default: all of them); the others
            keep the values the shown ones give them.
        note: one sentence the page adds under the controls (e.g. what else JupyterLab allows).

    The states are listed by the site build (``site/widget_driver.py``); keep them to a few
    dozen per widget (each costs one redraw at build time and one picture, about 10-40 KB).
    """
    setattr(widget, SITE_STATES, {"values": dict(values or {}), "grid": grid,
                                  "only": None if only is None else tuple(only), "note": note})
    return widget
