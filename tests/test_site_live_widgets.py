"""Live widgets on the website (site/widget_driver.py, site/live_widgets.py), without a browser.

The declarations (``nnbook.widgets._base.site_states``) expand into the states the build renders;
the driver sets a widget's controls to each state and keeps what the widget displays; the build
runs a notebook's cells in an IPython shell, caches the pictures and writes the HTML that replaces the
snapshot. The pages are driven in Chromium by tests/browser/test_site_browser.py.
"""
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from nnbook.widgets._base import site_states  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(f"nnbook_site_{name}", REPO / "site" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


driver = _load("widget_driver")
live = _load("live_widgets")
W = ipywidgets


def _box(*controls):
    return W.VBox([W.HBox(list(controls)), W.Output()])


def _three():
    a = W.IntSlider(value=1, min=0, max=3, description="a")
    b = W.Dropdown(options=["x", "y", "z"], value="x", description="b")
    c = W.Checkbox(value=True, description="c")
    return a, b, c


# --- the states a declaration lists ------------------------------------------------------------

def test_default_is_one_sweep_per_control_from_the_defaults():
    controls, states = driver.plan(_box(*_three()))
    assert [c["name"] for c in controls] == ["a", "b", "c"]
    assert [c["values"] for c in controls] == [[0, 1, 2, 3], ["x", "y", "z"], [False, True]]
    default = (1, 0, 1)
    assert states[0] == default and len(states) == 1 + 3 + 2 + 1 == len(set(states))
    assert all(sum(s != d for s, d in zip(state, default)) <= 1 for state in states)


def test_grid_controls_combine_with_every_sweep_and_all_means_every_combination():
    box = _box(*_three())
    site_states(box, grid=("c",))
    assert len(driver.plan(box)[1]) == 2 * (1 + 3 + 2)
    site_states(box, grid="all")
    assert sorted(driver.plan(box)[1]) == [(a, b, c) for a in range(4) for b in range(3) for c in range(2)]


def test_declared_values_and_only():
    a, b, c = _three()
    box = site_states(_box(a, b, c), values={"a": [0, 3]}, only=("a", "c"))
    controls, states = driver.plan(box)
    assert [c["name"] for c in controls] == ["a", "c"]
    # the default (1) is not among the declared values: it is added, first
    assert controls[0]["values"] == [1, 0, 3] and controls[0]["default"] == 0
    assert len(states) == 1 + 2 + 1


@pytest.mark.parametrize("make, message", [
    (lambda: _box(W.FloatText(description="t")), "free-form values: declare presets"),
    (lambda: _box(W.SelectMultiple(options=["p", "q"], description="m")), "free-form values"),
    (lambda: _box(W.IntSlider(min=0, max=100, description="n")), "has 101 positions"),
    (lambda: _box(W.IntSlider(max=2), W.IntSlider(max=2, description="n")), "has no description"),
    (lambda: _box(W.IntSlider(max=2, description="n"), W.Dropdown(options=[1], description="n")), "two controls are named"),
    (lambda: site_states(_box(*_three()), values={"nope": [1]}), "names control 'nope'"),
    (lambda: site_states(_box(*_three()), grid=("nope",)), "grid=... names"),
    (lambda: site_states(_box(*_three()), only=("nope",)), "only=... names"),
])
def test_declarations_that_cannot_be_rendered_are_refused(make, message):
    with pytest.raises(driver.DriverError, match=message.replace("(", r"\(").replace(".", r"\.")):
        driver.plan(make())


def test_presets_of_a_multiple_selection():
    m = W.SelectMultiple(options=["p", "q", "r"], value=("p", "q"), description="m")
    controls, states = driver.plan(site_states(_box(m), values={"m": [("p", "q"), ("r",)]}))
    assert controls[0]["values"] == [("p", "q"), ("r",)] and len(states) == 2
    assert driver._label(m, ("p", "q")) == "p, q"


def test_a_progress_bar_has_no_controls():
    assert driver.plan(W.HBox([W.HTML("x"), W.FloatProgress(value=1), W.HTML("1/1")])) == ([], [])


# --- the driver in an IPython shell ------------------------------------------------------------

@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    return InteractiveShell.instance()


def _drawing_widget(draw):
    """A widget like the book's: controls a, b, c; every change redraws ``draw(a, b, c)`` in an Output."""
    a, b, c = _three()
    out = W.Output()

    def update(_=None):
        with out:
            out.clear_output(wait=True)
            draw(a.value, b.value, c.value)

    for w in (a, b, c):
        w.observe(update, "value")
    update()
    return W.VBox([W.HBox([a, b, c]), out])


def test_render_keeps_what_each_state_displays(shell, tmp_path):
    from IPython.display import display
    box = _drawing_widget(lambda a, b, c: (print(f"a={a}"), display({"text/plain": f"b={b} c={c}"}, raw=True)))
    manifest = driver.render(box.model_id, tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    names = [c["name"] for c in manifest["controls"]]
    assert names == ["a", "b", "c"] and manifest["controls"][2]["labels"] == ["off", "on"]
    shown = {tuple(s["state"]): s["outputs"] for s in manifest["states"]}
    assert len(shown) == 7
    for (ia, ib, ic), outputs in shown.items():     # the output of a redraw, and only the last one
        a, b, c = [0, 1, 2, 3][ia], "xyz"[ib], [False, True][ic]
        assert outputs == [{"text": f"a={a}\n"}, {"text": f"b={b} c={c}"}]
    assert [w.value for w in box.children[0].children] == [1, "x", True]   # left at its defaults


def test_render_refuses_a_state_that_raises(shell, tmp_path):
    def draw(a, b, c):
        if a == 3:
            raise ValueError("a is too large")
        print(a)
    with pytest.raises(driver.DriverError, match=r"a=3.*raised ValueError: a is too large"):
        driver.render(_drawing_widget(draw).model_id, tmp_path)


def test_render_refuses_a_state_that_shows_nothing(shell, tmp_path):
    with pytest.raises(driver.DriverError, match="displayed nothing"):
        driver.render(_drawing_widget(lambda a, b, c: print(a) if a < 2 else None).model_id, tmp_path)


def test_render_refuses_a_declared_value_the_widget_never_keeps(shell, tmp_path):
    """An observer that moves a control back (as "stride = window" does) makes a declared value
    unreachable: the page would offer a value whose picture does not exist."""
    box = _drawing_widget(lambda a, b, c: print(a, b, c))
    a, b, c = box.children[0].children
    b.observe(lambda ch: setattr(b, "value", "x") if ch["new"] == "z" else None, "value")
    with pytest.raises(driver.DriverError, match="never showed the declared value 'z'"):
        driver.render(box.model_id, tmp_path)


def test_a_disabled_control_is_left_alone_and_costs_no_redraw(shell, tmp_path):
    """Like pooling's stride while "stride = window" is ticked: a reader cannot move a disabled
    control, so the driver does not either, and spends no redraw on states it would lead to."""
    box = site_states(_drawing_widget(lambda a, b, c: print(a, b, c)), grid=("c",))
    a, b, c = box.children[0].children
    b.disabled = c.value

    def lock(ch):            # ticking c puts b back to "x" and disables it (as "stride = window" does)
        if ch["new"]:
            b.value = "x"
        b.disabled = ch["new"]
    c.observe(lock, "value")
    moved_while_disabled = []
    b.observe(lambda ch: moved_while_disabled.append(ch["new"]) if b.disabled else None, "value")
    manifest = driver.render(box.model_id, tmp_path)
    shown = {tuple(s["state"]) for s in manifest["states"]}
    assert shown == {(ia, 0, ic) for ia in range(4) for ic in (0, 1)} | {(1, 1, 0), (1, 2, 0)}   # b only when c is off
    assert moved_while_disabled == []                          # the driver never moved b while disabled


def test_a_figure_cleared_by_the_next_redraw_is_never_drawn(shell, tmp_path):
    """A state that moves two controls redraws twice; only the figure still shown is made a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.display import display
    from matplotlib.figure import Figure
    png = shell.display_formatter.formatters["image/png"]
    drawn, redraws = [], []

    def to_png(fig):
        drawn.append(fig._suptitle.get_text())
        return "cG5n"                                       # what the formatter would return (base64)
    png.for_type(Figure, to_png)
    try:
        def draw(a, b, c):
            redraws.append((a, b, c))
            fig = plt.figure()
            fig.suptitle(f"{a} {b} {c}")
            display(fig)
            plt.close(fig)
        box = site_states(_drawing_widget(draw), grid=("c",))
        del drawn[:], redraws[:]                                # the widget's first picture, shown when made
        manifest = driver.render(box.model_id, tmp_path)
        restored = drawn.pop()                                  # the widget put back, shown in the notebook
    finally:
        png.pop(Figure)
    states = [tuple(s["state"]) for s in manifest["states"]]
    assert len(states) == 12 and len(drawn) == len(states)      # one PNG per state ...
    assert len(redraws) > len(states) + 1                       # ... though some states took two redraws
    labels = [[c["labels"][i] for c, i in zip(manifest["controls"], st)] for st in states]
    assert drawn == [" ".join(x.replace("on", "True").replace("off", "False") for x in lab) for lab in labels]
    assert all(s["outputs"] == [{"image": s["outputs"][0]["image"]}] for s in manifest["states"])
    assert restored == "1 x True"
    assert "format" not in vars(shell.display_formatter)        # the shell's formatter is itself again


def test_shared_text_caches_change_no_pixel():
    """While rendering, every picture shares matplotlib's caches of text sizes and math text; the
    PNG is the same byte for byte, and the second picture is measured from the cache."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    def picture():
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot(np.logspace(-6, 2, 50), label="loss $\\alpha^2$")
        ax.set_yscale("log")                                  # tick labels in math text: 10^-6 ...
        ax.set_title("a title")
        ax.legend()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)
        return buf.getvalue()

    plain = picture()
    with driver.shared_text_caches() as caches:
        first, second = picture(), picture()
    assert first == plain and second == plain
    (metrics,) = caches.values()                              # one dpi
    assert metrics.cache_info().hits > metrics.cache_info().misses > 0
    assert picture() == plain                                 # and matplotlib is as it was


# --- the build: cells to run, pictures, the page ----------------------------------------------

def test_free_names_and_the_cells_to_run():
    assert live.free_names("from nnbook.widgets import race_playground\nrace_playground()") == set()
    assert live.free_names("kernel_playground(photo)") == {"kernel_playground", "photo"}
    assert live.free_names("%matplotlib inline\nimport numpy as np\nx = np.ones(3)\n[i for i in x]") == set()
    assert live.free_names("def f(p):\n    return p + q\n_ = f(1)") == {"q"}
    cells = [{"cell_type": "code", "source": s} for s in ("import x", "a = 1", "b = 2", "f(a)", "c = 3", "g()",
                                                              "import h\nh.w()")]
    assert live.cells_to_run({"cells": cells}, {3: ["m"]}) == [0, 1, 3]       # b = 2 is not needed
    assert live.cells_to_run({"cells": cells}, {6: ["m"]}) == [0, 6]          # defines all it uses
    assert live.cells_to_run({"cells": cells}, {3: ["m"], 6: ["n"]}) == [0, 1, 3, 6]


def test_the_cells_to_run_are_what_the_widget_depends_on():
    """Backwards from the widget cell: the cells binding what it reads, the cells that may change
    that data in place, and what those read in turn; not cells that only use modules or functions."""
    sources = ("import numpy as np\nimport nnbook",            # 0 always
               "def helper(n):\n    return np.ones(n)",        # 1 read by 3
               "X = helper(3)",                                  # 2 binds X
               "print(X.shape)",                                 # 3 reads X (data): may change it
               "net = nnbook.mlp()",                             # 4 binds net
               "nnbook.fit(net, X)",                             # 5 trains net in place
               "np.random.seed(1)\nunused = np.zeros(9)",       # 6 only a module and its own name
               "%time slow = 1",                                 # 7 a magic: plain Python once transformed
               "nnbook.show(net)",                               # 8 the widget
               "!ls\nnot python(",                              # 9 not Python
               "nnbook.show(X)")                                 # 10 a widget after a cell it cannot read
    nb = {"cells": [{"cell_type": "code", "source": s} for s in sources]}
    assert live.cells_to_run(nb, {8: ["m"]}) == [0, 1, 2, 3, 4, 5, 8]
    assert live.cells_to_run(nb, {10: ["m"]}) == [0, 1, 2, 3, 4, 5, 9, 10]    # 5 runs, so net is needed


def test_a_cell_tagged_reads_only_runs_only_for_the_names_it_binds():
    """``reads-only`` (a figure, asserts, an experiment on networks of its own): the cell is not run
    just because it reads the widget's data; it still runs when it binds a name that is needed."""
    sources = ("import nnbook", "X = nnbook.data()", "print(X.mean())", "net = nnbook.mlp()",
               "scores = [nnbook.fit(nnbook.mlp(), X) for _ in range(3)]\nprint(net)", "nnbook.show(net, X)",
               "nnbook.show(scores)")
    cells = [{"cell_type": "code", "source": s, "metadata": {}} for s in sources]
    assert live.cells_to_run({"cells": cells}, {5: ["m"]}) == [0, 1, 2, 3, 4, 5]   # 2 and 4 may change X, net
    for i in (2, 4):
        cells[i]["metadata"]["tags"] = [live.READS_ONLY]
    assert live.cells_to_run({"cells": cells}, {5: ["m"]}) == [0, 1, 3, 5]
    assert live.cells_to_run({"cells": cells}, {6: ["m"]}) == [0, 1, 3, 4, 6]      # 4 binds scores


def test_pictures_are_made_smaller(tmp_path):
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(np.sin(np.linspace(0, 9, 200)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    raw = buf.getvalue()
    data, ext, w, h = live.compact(raw, ".png")
    assert ext in (".png", ".webp") and len(data) < len(raw) and (w, h) == (600, 300)
    photo = (np.random.default_rng(0).random((200, 300)) * 255).astype(np.uint8)
    from PIL import Image
    Image.fromarray(photo).filter(__import__("PIL.ImageFilter").ImageFilter.GaussianBlur(2)).save(buf := io.BytesIO(), "PNG")
    data, ext, w, h = live.compact(buf.getvalue(), ".png")
    assert ext == ".webp" and len(data) < len(buf.getvalue()) / 2


def test_the_fragment_shows_the_first_picture_and_carries_every_state():
    manifest = {"controls": [{"name": "a", "kind": "slider", "default": 1, "labels": ["0", "1"], "values": [0, 1]}],
                "states": [{"state": [1], "outputs": [{"image": "p1.png", "width": 10, "height": 5}]},
                           {"state": [0], "outputs": [{"text": "<zero>"}]}], "note": "More in JupyterLab."}
    html = live.fragment(manifest, "_widgets/book/01_x/")
    assert '<img src="{root}_widgets/book/01_x/p1.png" width="10" height="5" alt="a 1">' in html
    assert "the 2 settings rendered when the site was built; in JupyterLab the widget takes any value." in html
    assert "More in JupyterLab." in html
    data = json.loads(html.split('class="nnbook-live-data">')[1].split("</script>")[0])
    assert data["states"] == [[1], [0]] and data["pictures"][1] == [{"text": "<zero>"}]


def _executed_notebook(path, sources):
    """Write and execute a notebook (saving its widget state, as nbconvert --execute does)."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)
    return nb


def test_render_all_runs_the_notebook_and_caches_the_pictures(tmp_path):
    """A chapter with a drawing widget (interact, defined in the notebook), a progress bar and a
    widget cell that needs an earlier cell's data: the build renders every state once, caches it,
    and leaves the progress bar alone."""
    pytest.importorskip("nbclient")
    root = tmp_path / "repo"
    _executed_notebook(root / "book" / "01_x.ipynb", [
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport ipywidgets as widgets",
        "scale = 2.0",
        "def show(k=1, kind='line'):\n    fig, ax = plt.subplots(figsize=(3, 2))\n"
        "    ax.plot([0, 1], [0, k * scale]) if kind == 'line' else ax.bar([0], [k * scale])\n"
        "    ax.set_title(f'{kind} {k}')\n    plt.show()\n\n"
        "_ = widgets.interact(show, k=widgets.IntSlider(value=1, min=0, max=2), kind=['line', 'bar'])",
        "widgets.HBox([widgets.HTML('bar'), widgets.FloatProgress(value=3, max=3)])",
    ])
    out, cache = tmp_path / "out", tmp_path / "cache"
    logged = []
    pages = live.render_all(out, root, jobs=1, log=logged.append, cache_root=cache)
    assert list(pages) == ["book/01_x"] and len(pages["book/01_x"]) == 1
    assert "rendering (runs 3 of its cells" in logged[0] and "rendered in" in logged[1]
    assert re.fullmatch(r"live widgets: book/01_x.ipynb: 1 widget, 4 pictures, \d+\.\d MB", logged[-1])
    html = next(iter(pages["book/01_x"].values()))
    data = json.loads(html.split('class="nnbook-live-data">')[1].split("</script>")[0])
    assert [c["name"] for c in data["controls"]] == ["k", "kind"]
    assert sorted(map(tuple, data["states"])) == [(0, 0), (1, 0), (1, 1), (2, 0)]
    files = [p[0]["image"] for p in data["pictures"]]
    assert len(set(files)) == 4                    # every state looks different
    for f in files:
        assert (out / "live" / "pictures" / "book" / "01_x" / f).is_file()
    # second build: from the cache, same page
    logged_first = list(logged)
    logged.clear()
    again = live.render_all(tmp_path / "out2", root, jobs=1, log=logged.append, cache_root=cache)
    assert len(logged) == 1 and logged[0] == logged_first[-1] + " (from the cache)"
    assert again == pages
    html_dir = tmp_path / "html"
    live.publish(tmp_path / "out2", html_dir)
    assert sorted(p.name for p in (html_dir / "_widgets" / "book" / "01_x").iterdir()) == sorted(files)


def test_a_cell_that_raises_when_the_site_runs_it_stops_the_build(tmp_path):
    """The cells run again for the site (in the worker's IPython shell): one that raises there stops
    the build with the notebook, the cell and the error, and nothing is cached."""
    pytest.importorskip("nbclient")
    import nbformat
    root = tmp_path / "repo"
    path = root / "book" / "01_x.ipynb"
    nb = _executed_notebook(path, [
        "import ipywidgets as widgets",
        "limit = 3",
        "widgets.interact(lambda k=1: print(k * limit), k=widgets.IntSlider(value=1, min=0, max=2));",
    ])
    nb.cells[1].source = "limit = 3 / 0"                  # changed after it was executed
    nbformat.write(nb, path)
    with pytest.raises(live.LiveWidgetError, match=r"book/01_x.ipynb: cell 1 raised ZeroDivisionError: division by zero"):
        live.render_all(tmp_path / "out", root, jobs=1, log=lambda *_: None, cache_root=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("done"))


def test_a_first_picture_unlike_the_committed_one_stops_the_build(tmp_path):
    """The guard behind ``reads-only`` (and against a notebook changed without re-executing): the
    widget's first rendered state must show what the committed notebook shows. Here a cell tagged
    ``reads-only`` does change the widget's data, so the site would have drawn another picture."""
    pytest.importorskip("nbclient")
    import nbformat
    root = tmp_path / "repo"
    path = root / "book" / "01_x.ipynb"
    _executed_notebook(path, [
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport ipywidgets as widgets",
        "scale = [2.0]",
        "scale[0] = 5.0",
        "def show(k=1):\n    fig, ax = plt.subplots(figsize=(3, 2))\n    ax.bar([0], [k * scale[0]])\n"
        "    ax.set_ylim(0, 12)\n    plt.show()\n\n"
        "_ = widgets.interact(show, k=widgets.IntSlider(value=1, min=0, max=2))",
    ])
    pages = live.render_all(tmp_path / "out", root, jobs=1, log=lambda m: None, cache_root=tmp_path / "c1")
    assert len(pages["book/01_x"]) == 1            # untagged: cell 2 runs, the pictures agree
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].metadata["tags"] = [live.READS_ONLY]
    nbformat.write(nb, path)
    with pytest.raises(live.LiveWidgetError, match=r"book/01_x.ipynb: the widget \w+ rendered for the site is not "
                                                    r"the one the notebook shows: picture 1 differs .*reads-only"):
        live.render_all(tmp_path / "out", root, jobs=1, log=lambda m: None, cache_root=tmp_path / "c2")
    assert not any((tmp_path / "c2").rglob("done"))     # nothing was cached
