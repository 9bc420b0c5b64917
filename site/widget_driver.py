"""Render every declared state of a widget, where the notebook's cells ran (the site build's side).

``site/live_widgets.py`` runs a chapter's cells in an IPython shell and, after a cell that
displayed a widget, calls ``widget_driver.render(model_id, folder)`` in the same shell. This module

1. finds the widget and its controls (the value widgets under it, named by ``description``);
2. lists the states to render from the widget's declaration (``nnbook.widgets._base.site_states``)
   or, without one, from the controls themselves (every option or slider position, one sweep per
   control from its current value);
3. sets the controls to each state, as a reader would, and captures what the widget's redraw
   displays (figures, printed text) instead of sending it to the frontend; a figure is made a
   PNG only if it is still shown when the state is set (a state that moves two controls redraws
   twice);
4. writes ``folder/manifest.json`` (controls, states, outputs) and the raw images beside it.

Each state draws a new figure, and matplotlib lays out its text twice per picture (the inline
backend crops to a tight bounding box). While it renders, the driver lets every picture share one
cache of text sizes and of laid-out math text (``shared_text_caches``): the pictures are the same
to the byte (chapter 2's race, with math-text tick labels, draws in about a quarter less time).

It changes nothing in the library and is not imported by it.
"""
import contextlib
import functools
import hashlib
import itertools
import json
import math
import sys
from pathlib import Path

SITE_STATES = "_nnbook_site_states"
MAX_POSITIONS = 41            # a slider with more positions needs declared values
NOT_CONTROLS = ("Output", "Label", "HTML", "HTMLMath", "Valid", "FloatProgress", "IntProgress",
                "Image", "Audio", "Video", "Play", "Button")


class DriverError(RuntimeError):
    pass


# --- finding the widget and its controls -------------------------------------------------------

def find_widget(model_id):
    from ipywidgets.widgets.widget import _instances
    try:
        return _instances[model_id]
    except KeyError:
        raise DriverError(f"no live widget with model id {model_id}") from None


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from _walk(child)


def controls_of(widget):
    """The value widgets under ``widget`` that a reader can change, in display order."""
    found = []
    for w in _walk(widget):
        cls = type(w).__name__
        if w is widget or cls in NOT_CONTROLS or not hasattr(w, "value") or hasattr(w, "children"):
            continue
        found.append(w)
    return found


def _kind(w):
    cls = type(w).__name__
    if cls in ("SelectionSlider", "IntSlider", "FloatSlider", "FloatLogSlider"):
        return "slider"
    if cls in ("ToggleButtons", "RadioButtons"):
        return "buttons"
    if cls in ("Checkbox", "ToggleButton"):
        return "checkbox"
    return "select"            # Dropdown, Select, presets of free-form inputs


def _derived_values(w, name):
    """Every value control ``w`` can take, when they are few (else a declaration is needed)."""
    cls = type(w).__name__
    if hasattr(w, "_options_values") and cls != "SelectMultiple":
        return list(w._options_values)
    if cls in ("Checkbox", "ToggleButton"):
        return [False, True]
    if cls in ("IntSlider", "FloatSlider"):
        n = int(math.floor((w.max - w.min) / w.step + 1e-9)) + 1
        if n > MAX_POSITIONS:
            raise DriverError(f"control {name!r} ({cls}) has {n} positions: declare the values the site "
                              f"offers with site_states(values={{{name!r}: [...]}})")
        if cls == "IntSlider":
            return list(range(w.min, w.max + 1, w.step))
        digits = max(0, -math.floor(math.log10(w.step))) + 2 if w.step > 0 else 6
        return [round(w.min + i * w.step, digits) for i in range(n)]
    raise DriverError(f"control {name!r} ({cls}) takes free-form values: declare presets with "
                      f"site_states(values={{{name!r}: [...]}}) or leave it out with only=(...)")


def _label(w, value):
    cls = type(w).__name__
    if cls == "SelectMultiple":
        labels = dict(zip(w._options_values, w._options_labels))
        return ", ".join(labels.get(v, str(v)) for v in value) or "none"
    if hasattr(w, "_options_values"):
        for v, lab in zip(w._options_values, w._options_labels):
            if _same(v, value):
                return lab
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        fmt = getattr(w, "readout_format", "")
        try:
            return format(value, fmt) if fmt and cls != "FloatSlider" else f"{value:g}"
        except (ValueError, TypeError):
            return f"{value:g}"
    return str(value)


def _same(a, b):
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _index(values, value):
    for i, v in enumerate(values):
        if _same(v, value):
            return i
    return None


# --- the states -----------------------------------------------------------------------------

def plan(widget):
    """(controls, states): controls = [{name, widget, values, default}], states = [tuple of indices]."""
    decl = getattr(widget, SITE_STATES, None) or {"values": {}, "grid": (), "only": None, "note": ""}
    all_controls = controls_of(widget)
    if not all_controls:
        return [], []
    names = [w.description for w in all_controls]
    for name in decl["values"]:
        if name not in names:
            raise DriverError(f"the declaration names control {name!r}, but the widget's controls are {names}")
    only = decl["only"]
    if only is not None:
        missing = set(only) - set(names)
        if missing:
            raise DriverError(f"only=... names {sorted(missing)}, but the widget's controls are {names}")
    controls = []
    for w in all_controls:
        name = w.description
        if only is not None and name not in only:
            continue
        if not name:
            raise DriverError(f"a {type(w).__name__} control has no description: give it one, or list the "
                              f"shown controls with site_states(only=...)")
        if any(c["name"] == name for c in controls):
            raise DriverError(f"two controls are named {name!r}: descriptions must be unique")
        values = list(decl["values"][name]) if name in decl["values"] else _derived_values(w, name)
        if type(w).__name__ == "SelectMultiple":
            values = [tuple(v) for v in values]
        default = _value(w)
        i = _index(values, default)
        if i is None:
            values.insert(0, default)
            i = 0
        controls.append({"name": name, "widget": w, "values": values, "default": i, "kind": _kind(w)})
    grid = decl["grid"]
    grid_names = [c["name"] for c in controls] if grid == "all" else list(grid)
    unknown = set(grid_names) - {c["name"] for c in controls}
    if unknown:
        raise DriverError(f"grid=... names {sorted(unknown)}, which are not controls shown on the site")
    default = tuple(c["default"] for c in controls)
    gpos = [i for i, c in enumerate(controls) if c["name"] in grid_names]
    spos = [i for i in range(len(controls)) if i not in gpos]
    states, seen = [], set()

    def add(s):
        if s not in seen:
            seen.add(s)
            states.append(s)

    for combo in itertools.product(*(range(len(controls[i]["values"])) for i in gpos)):
        base = list(default)
        for i, v in zip(gpos, combo):
            base[i] = v
        add(tuple(base))
        for i in spos:
            for v in range(len(controls[i]["values"])):
                s = list(base)
                s[i] = v
                add(tuple(s))
    return controls, states


def _order(states, start):
    """Visit the states changing few controls at a time (each change costs a redraw)."""
    left, path, cur = list(states), [], start
    while left:
        best = min(range(len(left)), key=lambda k: (sum(a != b for a, b in zip(left[k], cur)), k))
        cur = left.pop(best)
        path.append(cur)
    return path


# --- drawing faster, the same pictures --------------------------------------------------------------

@contextlib.contextmanager
def shared_text_caches():
    """While active, all of matplotlib's Agg renderers of one dpi share their caches of text sizes
    and of laid-out math text (matplotlib keeps them per renderer, and every picture gets a new
    renderer). Text sizes depend on the text, the font and the dpi only, so the pictures do not
    change. With a matplotlib whose internals differ, nothing is changed (drawing is just slower)."""
    try:
        import matplotlib.text as mtext
        from matplotlib.backends.backend_agg import RendererAgg
        from matplotlib.mathtext import MathTextParser
        original_metrics = mtext._get_text_metrics_function
        original_init = RendererAgg.__init__
        unwrapped_parse = MathTextParser._parse_cached.__wrapped__
    except (ImportError, AttributeError):
        yield None
        return
    parser = MathTextParser("path")
    # the parser's own cache holds 50 layouts (one figure's log-axis labels can take a dozen)
    parser._parse_cached = functools.lru_cache(4096)(functools.partial(unwrapped_parse, parser))
    by_dpi = {}

    def metrics_function(renderer):
        if type(renderer) is not RendererAgg:
            return original_metrics(renderer)
        dpi = renderer.dpi
        if dpi not in by_dpi:
            sizer = RendererAgg(1, 1, dpi)          # measures only: a 1x1 canvas of that dpi

            @functools.lru_cache(16384)
            def metrics(text, fontprop, ismath, _dpi):
                return sizer.get_text_width_height_descent(text, fontprop, ismath)
            by_dpi[dpi] = metrics
        return by_dpi[dpi]

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.mathtext_parser = parser

    mtext._get_text_metrics_function = metrics_function
    RendererAgg.__init__ = init
    try:
        yield by_dpi
    finally:
        mtext._get_text_metrics_function = original_metrics
        RendererAgg.__init__ = original_init


# --- capturing what a redraw displays ------------------------------------------------------------

LAZY = "application/x-nnbook-figure"      # a displayed figure, not drawn yet


def _is_figure(obj):
    figure = getattr(sys.modules.get("matplotlib.figure"), "Figure", None)
    return figure is not None and isinstance(obj, figure)


class _Capture:
    """Swap the shell's display publisher, stdout and traceback printer for recorders.

    A displayed matplotlib figure is kept as the figure and drawn only if it is still shown when
    the state is complete (:meth:`outputs`): setting two controls redraws twice, and the first
    picture, cleared by the second, would cost a PNG for nothing."""

    def __init__(self):
        self.items, self.errors = [], []

    def outputs(self):
        """What the widget shows now, figures drawn as a display would have drawn them."""
        done = []
        for kind, data in self.items:
            if kind == "display" and LAZY in data:
                figure, include, exclude = data[LAZY]
                data = self._format(figure, include=include, exclude=exclude)[0]
            done.append((kind, data))
        return done

    def _lazy_format(self, obj, include=None, exclude=None):
        if _is_figure(obj):
            return {LAZY: (obj, include, exclude)}, {}
        return self._format(obj, include=include, exclude=exclude)

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        self.items.append(("display", dict(data)))

    def clear_output(self, wait=False):
        self.items.clear()

    def write(self, text):
        if self.items and self.items[-1][0] == "stream":
            self.items[-1] = ("stream", self.items[-1][1] + text)
        elif text:
            self.items.append(("stream", text))
        return len(text)

    def flush(self):
        pass

    def set_parent(self, parent):      # ipykernel tells its publisher which request output belongs to
        pass

    def showtraceback(self, exc_tuple=None, *args, **kwargs):
        etype, value, _ = exc_tuple if exc_tuple else sys.exc_info()
        self.errors.append(f"{getattr(etype, '__name__', etype)}: {value}")

    def __enter__(self):
        from IPython import get_ipython
        self.shell = get_ipython()
        self.saved = (self.shell.display_pub, sys.stdout, self.shell.showtraceback)
        self.shell.display_pub = self
        sys.stdout = self
        self.shell.showtraceback = self.showtraceback
        formatter = self.shell.display_formatter
        self._own_format = vars(formatter).get("format")     # an instance's own, if someone set one
        self._format = formatter.format
        formatter.format = self._lazy_format
        return self

    def __exit__(self, *exc):
        self.shell.display_pub, sys.stdout, self.shell.showtraceback = self.saved
        if self._own_format is None:
            del self.shell.display_formatter.format     # the class's method again
        else:
            self.shell.display_formatter.format = self._own_format
        return False


def _value(w):
    return tuple(w.value) if isinstance(w.value, (list, tuple)) else w.value


def _set(controls, state):
    """Set the controls to ``state`` (indices); returns the indices they hold afterwards."""
    for _ in range(3):          # a control's observer may move another one; set what moved again
        for c, i in zip(controls, state):
            # a reader cannot move a disabled control (pooling's stride while "stride = window"):
            # leave it, and the state is one the widget cannot show (no redraw is spent on it)
            if not _same(_value(c["widget"]), c["values"][i]) and not getattr(c["widget"], "disabled", False):
                c["widget"].value = c["values"][i]
        now = tuple(_index(c["values"], _value(c["widget"])) for c in controls)
        if now == tuple(state):
            break
    return now


def _render_states(controls, states, folder, files, rendered):
    """Set the controls to each of ``states`` in turn; ``rendered[state reached] = its outputs``."""
    for state in states:
        with _Capture() as cap:
            now = _set(controls, state)
            if not cap.items and not cap.errors:    # nothing changed (the first state): redraw it
                c = next((c for c in controls if len(c["values"]) > 1), None)
                if c is not None:
                    k = controls.index(c)
                    other = list(now)
                    other[k] = (now[k] + 1) % len(c["values"])
                    _set(controls, other)
                    now = _set(controls, now)
        if cap.errors:
            raise DriverError(f"state {_describe(controls, state)} raised {cap.errors[0]}")
        if None in now:
            raise DriverError(f"state {_describe(controls, state)}: a control moved to a value the site "
                              f"does not offer: {[c['widget'].value for c in controls]}")
        if now in rendered:
            continue
        rendered[now] = [_output(item, folder, files) for item in cap.outputs()]
        if not rendered[now]:
            raise DriverError(f"state {_describe(controls, now)} displayed nothing")


def render(model_id, folder):
    """Render every state of the widget ``model_id`` into ``folder``; returns the manifest."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    widget = find_widget(model_id)
    controls, states = plan(widget)
    manifest = {"model_id": model_id, "widget": type(widget).__name__, "controls": [], "states": []}
    if not controls:
        (folder / "manifest.json").write_text(json.dumps(manifest))
        return manifest
    decl = getattr(widget, SITE_STATES, None) or {}
    manifest["note"] = decl.get("note", "")
    manifest["declared"] = bool(decl)
    start = tuple(c["default"] for c in controls)
    files = {}
    rendered = {}
    with shared_text_caches():
        _render_states(controls, _order(states, start), folder, files, rendered)
    _set(controls, start)           # leave the widget as the notebook left it
    reached = {(k, s[k]) for s in rendered for k in range(len(controls))}
    for k, c in enumerate(controls):
        for i, v in enumerate(c["values"]):
            if (k, i) not in reached:
                raise DriverError(f"control {c['name']!r} never showed the declared value {v!r}: the widget "
                                  f"moved it elsewhere in every state that asked for it")
    manifest["controls"] = [{"name": c["name"], "kind": c["kind"], "default": c["default"],
                             "labels": [_label(c["widget"], v) for v in c["values"]],
                             "values": [_jsonable(v) for v in c["values"]]} for c in controls]
    manifest["states"] = [{"state": list(s), "outputs": outs} for s, outs in rendered.items()]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def _describe(controls, state):
    return ", ".join(f"{c['name']}={c['values'][i]!r}" if i is not None else f"{c['name']}=?"
                     for c, i in zip(controls, state))


def _jsonable(v):
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)


def _output(item, folder, files):
    """One captured output as {"image": file} / {"html": ...} / {"text": ...}."""
    import base64
    kind, data = item
    if kind == "stream":
        return {"text": data}
    for mime, ext in (("image/png", ".png"), ("image/jpeg", ".jpg")):
        if mime in data:
            raw = base64.b64decode(data[mime])
            name = hashlib.sha1(raw).hexdigest()[:20] + ext
            if name not in files:
                (folder / name).write_bytes(raw)
                files[name] = True
            return {"image": name}
    if "image/svg+xml" in data:
        raw = data["image/svg+xml"].encode("utf-8")
        name = hashlib.sha1(raw).hexdigest()[:20] + ".svg"
        (folder / name).write_bytes(raw)
        return {"image": name}
    if "text/html" in data:
        return {"html": data["text/html"]}
    if "text/plain" in data:
        return {"text": data["text/plain"]}
    raise DriverError(f"an output with none of the mime types the site shows: {sorted(data)}")
