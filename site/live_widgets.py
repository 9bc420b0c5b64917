"""Live widgets on the website without a kernel: render every declared state at build time.

``site/build.py`` calls :func:`render_all`. For each notebook whose committed outputs show a widget
with controls (a slider, a dropdown, ...):

1. run the notebook in a worker process, in an IPython shell with the inline backend JupyterLab's
   kernel uses (no kernel process: :func:`render_notebook`), only as far as its widgets need: the first code cell (imports
   and settings) and the earlier cells each widget cell depends on (:func:`cells_to_run`: those
   that bind what it reads, or may change that data in place, and so on backwards); a widget cell
   that defines everything it uses (``race_playground()``) runs on its own;
2. after each widget cell, run ``widget_driver.render`` in the same shell: it sets the widget's
   controls to every state its declaration lists (``nnbook.widgets._base.site_states``) and keeps
   what the widget displays for each;
3. store the pictures, made smaller (a 64-color PNG for a plot, a WebP for a photograph:
   :func:`compact`), with a manifest, in ``OUT/live/cache/<notebook>/<key>/``. The key hashes
   the cells that ran, the library's source and the versions of the packages that draw, so an
   unchanged book renders nothing on the next build;
4. write ``OUT/live/<folder>/<notebook>.json``: for each committed widget (by its model id), the
   HTML that replaces its snapshot on the page (``conf.py`` swaps it in) -- the first picture,
   the note, and the states as JSON for ``_static/nnbook.js``, which draws the controls and swaps
   the picture when the reader moves one. Pictures go to ``html/_widgets/<notebook>/``.

Run ``python site/live_widgets.py NOTEBOOK OUTDIR`` to render one notebook (what the build does in
a worker process, several notebooks at a time).
"""
import ast
import builtins
import hashlib
import html
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SITE = Path(__file__).resolve().parent
REPO = SITE.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
COLORS = 64                   # of a plot's PNG
BACKGROUND = 0.5              # a picture with one color on this share of it is a plot (else a photograph)
WORKER_TIMEOUT = 1800         # seconds for one notebook
FORMAT_VERSION = "4"          # bump when the pictures (compact(), render_notebook()) or the manifests change
CONTROL_MODELS = ("Slider", "Dropdown", "ToggleButton", "Checkbox", "Select", "RadioButtons", "Text",
                  "Combobox", "ColorPicker", "DatePicker", "Play")
NOT_CONTROL_MODELS = ("HTMLModel", "HTMLMathModel", "LabelModel")
PICTURE_PACKAGES = ("numpy", "matplotlib", "matplotlib-inline", "ipywidgets", "ipython", "pillow", "scipy",
                    "scikit-learn")


READS_ONLY = "reads-only"     # cell tag: the cell changes nothing it reads (see cells_to_run)


class LiveWidgetError(RuntimeError):
    pass


# --- which widgets, and which cells to run -----------------------------------------------------

def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _views(cell):
    return [o["data"][WIDGET_VIEW]["model_id"] for o in cell.get("outputs", [])
            if WIDGET_VIEW in o.get("data", {})]


def has_controls(state, model_id, seen=None):
    """True if the saved widget ``model_id`` holds a control a reader can move (not a progress bar)."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return False
    seen.add(model_id)
    model = state[model_id]
    name = model.get("model_name", "")
    if name not in NOT_CONTROL_MODELS and any(c in name for c in CONTROL_MODELS):
        return True
    children = model.get("state", {}).get("children", []) or []
    return any(has_controls(state, c.removeprefix("IPY_MODEL_"), seen) for c in children if isinstance(c, str))


def live_cells(nb):
    """{cell index: [model ids of its widgets with controls]} for a committed notebook."""
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}) or {}
    found = {}
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code":
            ids = [m for m in _views(cell) if has_controls(state, m)]
            if ids:
                found[i] = ids
    return found


def _names(source):
    """(free, bound, code) names of a cell: the names it reads that it does not define itself, the
    names it binds, and those it binds by ``import``, ``def`` or ``class``; None if it is not plain
    Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        source = TransformerManager().transform_cell(source)
    except ImportError:
        pass
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    loaded, bound, code = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            code.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            code.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    bound |= code
    return loaded - bound - set(dir(builtins)) - {"get_ipython"}, bound, code


def free_names(source):
    """Names a cell reads that it does not define itself (None if it is not plain Python)."""
    names = _names(source)
    return None if names is None else names[0]


def cells_to_run(nb, live):
    """The indices of the code cells to run, in order, so that every widget in ``live`` is rebuilt.

    The first code cell (imports, settings, seeds) always runs; then, for each widget cell, the
    earlier cells it depends on, found backwards from it: a cell runs if it binds a name that a
    running cell later reads, or if it reads such a name that holds data (bound by an assignment,
    not by ``import``/``def``/``class``), since it may change that object in place (train a
    network, append to a list). A cell that is not plain Python runs whenever an earlier name is
    needed. Each running cell's own names are then needed too. A cell tagged ``reads-only``
    (:data:`READS_ONLY`: it changes nothing it reads, e.g. a figure, asserts, or an experiment on
    networks of its own) runs only if it binds a needed name. What it cannot see: a change made
    through a module or a function (``np.random.seed``, a plotting style set in a later cell); the
    book's chapters seed each experiment with its own generator. A wrong ``reads-only`` tag shows
    as a first picture that differs from the committed one (:func:`render_all` compares them).
    """
    code = [i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]
    names = {i: _names(_source(nb["cells"][i])) for i in code}
    reads_only = {i for i in code if READS_ONLY in nb["cells"][i].get("metadata", {}).get("tags", [])}
    code_names = set().union(*(n[2] for n in names.values() if n))
    data_names = set().union(*(n[1] - n[2] for n in names.values() if n))
    mutable = data_names - (code_names - data_names) if data_names else set()
    run = set(code[:1]) | set(live)
    for w in live:
        if names[w] is None:                      # not plain Python: everything before it
            run |= {i for i in code if i <= w}
            continue
        needed = set(names[w][0])
        for i in reversed([i for i in code if i < w]):
            if not needed:
                break
            n = names[i]
            changes = n is not None and i not in reads_only and n[0] & needed & mutable
            if n is None or n[1] & needed or changes or i in run:
                run.add(i)
                if n is not None:
                    needed |= n[0]
    return sorted(run)


def _lib_digest():
    h = hashlib.sha256()
    lib = REPO / "lib" / "nnbook"
    for p in sorted(lib.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(p.relative_to(lib).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _versions():
    from importlib import metadata
    out = {"python": sys.version.split()[0]}
    for name in PICTURE_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cache_key(nb, run, lib_digest=None, versions=None):
    parts = {"format": FORMAT_VERSION, "driver": (SITE / "widget_driver.py").read_text(encoding="utf-8"),
             "cells": [[i, _source(nb["cells"][i]), nb["cells"][i].get("metadata", {}).get("tags", [])] for i in run],
             "lib": lib_digest or _lib_digest(), "versions": versions or _versions()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


# --- running a notebook (in a worker process) ----------------------------------------------------

def _recorder(shell):
    """A display publisher for the shell while the cells run: keeps what each cell displays."""
    from IPython.core.displaypub import DisplayPublisher

    class Recorder(DisplayPublisher):
        items = []

        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            self.items.append(dict(data))

        def clear_output(self, wait=False):
            pass

    recorder = Recorder(shell=shell)
    recorder.items = []
    return recorder


def render_notebook(path, out_dir, run, widgets):
    """Run cells ``run`` of notebook ``path`` and render its live widgets into ``out_dir``.

    The cells run in an IPython shell of this process, with the inline backend a kernel uses
    (same formatters, same settings) but no kernel: the pictures are the ones JupyterLab shows
    (the first one is compared with the committed notebook's), without a kernel process to start
    and every message to it. ``widgets``: {cell index: (every committed widget view of the cell,
    those with controls)}. ``out_dir/<committed model id>/`` gets each widget's manifest and raw
    pictures.
    """
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"     # what ipykernel sets
    from IPython.core.interactiveshell import InteractiveShell
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out_dir = Path(out_dir)

    class Shell(InteractiveShell):
        def enable_gui(self, gui=None):           # "%matplotlib inline" needs no event loop
            pass

    shell = Shell.instance()
    recorder = _recorder(shell)
    shell.display_pub = recorder
    sys.path[:0] = ["", str(SITE)]                        # the notebook's folder first, as in a kernel
    import widget_driver
    for i in run:
        recorder.items.clear()
        result = shell.run_cell(_source(nb["cells"][i]), store_history=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            raise LiveWidgetError(f"cell {i} raised {type(error).__name__}: {error}")
        if result.result is not None:                     # the cell's value, shown as its result
            recorder.publish(shell.display_formatter.format(result.result)[0])
        if i not in widgets:
            continue
        committed, live = widgets[i]
        new_ids = [d[WIDGET_VIEW]["model_id"] for d in recorder.items if WIDGET_VIEW in d]
        if len(new_ids) != len(committed):
            raise LiveWidgetError(f"cell {i} showed {len(new_ids)} widgets when run, {len(committed)} in "
                                  f"the committed notebook (re-execute the notebook)")
        for old, new in zip(committed, new_ids):
            if old in live:
                try:
                    widget_driver.render(new, out_dir / old)
                except Exception as e:   # noqa: BLE001 - a widget that cannot be rendered stops the build
                    raise LiveWidgetError(f"the widget of cell {i}: {type(e).__name__}: {e}") from None
    return out_dir


def _die_with_parent():
    """In the worker before it starts: a SIGTERM when the build that started it dies (even by
    SIGKILL), so no worker renders on for a build that is gone (Linux only)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)      # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker(argv):
    """``python live_widgets.py NOTEBOOK OUTDIR RUN_JSON WIDGETS_JSON`` (used by :func:`render_all`)."""
    path, out_dir, run = argv[0], argv[1], json.loads(argv[2])
    widgets = {int(k): v for k, v in json.loads(argv[3]).items()}
    try:
        render_notebook(path, out_dir, run, widgets)
    except LiveWidgetError as e:            # says what went wrong already
        print(str(e)[-3000:], file=sys.stderr)
        return 1
    except Exception as e:   # noqa: BLE001 - the build prints it and fails
        print(f"{type(e).__name__}: {str(e)[-3000:]}", file=sys.stderr)
        return 1
    return 0


# --- the first picture must be the committed one ---------------------------------------------------

def _committed_outputs(state, model_id, seen=None):
    """The outputs the committed notebook saved in the Output widget(s) inside widget ``model_id``."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    if model.get("model_name") == "OutputModel":
        return list(model.get("state", {}).get("outputs", []))
    children = model.get("state", {}).get("children", []) or []
    return [o for c in children if isinstance(c, str)
            for o in _committed_outputs(state, c.removeprefix("IPY_MODEL_"), seen)]


def _pixels(raw):
    import numpy as np
    from PIL import Image
    im = Image.open(io.BytesIO(raw))
    if "A" in im.getbands():
        white = Image.new("RGB", im.size, (255, 255, 255))
        white.paste(im, mask=im.getchannel("A"))
        im = white
    return np.asarray(im.convert("RGB"), dtype=np.int16)


def first_state_differs(nb, raw_dir, model_id):
    """Why the rendered first state of ``model_id`` (in ``raw_dir/<model_id>/``) is not what the
    committed notebook shows, or None when it is (or the notebook saved nothing to compare).

    Pictures may differ in rounding only (at most 1 % of the pixels by more than 16 levels): the
    same cells on another machine can round a trained weight differently."""
    import base64
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}) or {}
    saved = _committed_outputs(state, model_id)
    manifest = json.loads((Path(raw_dir) / model_id / "manifest.json").read_text())
    if not manifest["controls"] or not saved:
        return None
    start = [c["default"] for c in manifest["controls"]]
    first = next((s["outputs"] for s in manifest["states"] if s["state"] == start), None)
    if first is None:
        return None
    old_images = [base64.b64decode(o["data"]["image/png"]) for o in saved if "image/png" in o.get("data", {})]
    new_images = [(Path(raw_dir) / model_id / o["image"]).read_bytes() for o in first
                  if o.get("image", "").endswith(".png")]
    if old_images or new_images:
        if len(old_images) != len(new_images):
            return f"{len(new_images)} pictures, the committed notebook {len(old_images)}"
        for k, (old, new) in enumerate(zip(old_images, new_images)):
            a, b = _pixels(old), _pixels(new)
            if a.shape != b.shape:
                return f"picture {k + 1} is {b.shape[1]}x{b.shape[0]} pixels, the committed one {a.shape[1]}x{a.shape[0]}"
            changed = (abs(a - b).max(axis=2) > 16).mean()
            if changed > 0.01:
                return f"picture {k + 1} differs from the committed one in {changed:.1%} of its pixels"
        return None
    old_text = "".join(o.get("text", "") for o in saved if o.get("output_type") == "stream")
    new_text = "".join(o.get("text", "") for o in first)
    if old_text.strip() != new_text.strip():
        return "its text differs from the committed one"
    return None


# --- pictures ------------------------------------------------------------------------------------

def compact(raw, ext):
    """(bytes, ext, width, height) of a smaller picture: a 64-color PNG for a plot (one background
    color on at least :data:`BACKGROUND` of it, lines and text: it looks the same), a WebP for a
    photograph, a heat map or a plot mostly made of one (a PNG of those is twice the size); the
    original when that is smaller. One encoding per picture: trying both on every picture took a
    third of the rendering time."""
    from PIL import Image
    if ext not in (".png", ".jpg"):
        return raw, ext, None, None
    im = Image.open(io.BytesIO(raw))
    im.load()
    width, height = im.size
    rgb = im.convert("RGB") if im.mode != "RGB" else im
    if im.mode in ("RGBA", "LA", "P") and "A" in im.getbands():      # flatten on white, as the page shows it
        white = Image.new("RGB", im.size, (255, 255, 255))
        white.paste(im, mask=im.getchannel("A"))
        rgb = white
    counts = rgb.getcolors(1 << 16)               # None: more colors than that
    background = max(n for n, _ in counts) / (width * height) if counts else 0.0
    out = io.BytesIO()
    if background >= BACKGROUND:
        rgb.quantize(COLORS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, "PNG", compress_level=8)
        new = ".png"
    else:
        rgb.save(out, "WEBP", quality=80, method=4)
        new = ".webp"
    if out.tell() >= len(raw):
        return raw, ext, width, height
    return out.getvalue(), new, width, height


def _store(raw_dir, cache_dir):
    """Compact the pictures of ``raw_dir/<widget>/`` into ``cache_dir/<widget>/``; rewrite manifests."""
    for wdir in sorted(p for p in raw_dir.iterdir() if p.is_dir()):
        manifest = json.loads((wdir / "manifest.json").read_text())
        target = cache_dir / wdir.name
        target.mkdir(parents=True, exist_ok=True)
        renamed = {}
        for state in manifest["states"]:
            for out in state["outputs"]:
                if "image" not in out:
                    continue
                name = out["image"]
                if name not in renamed:
                    raw = (wdir / name).read_bytes()
                    data, ext, w, h = compact(raw, Path(name).suffix)
                    new = hashlib.sha1(data).hexdigest()[:16] + ext
                    (target / new).write_bytes(data)
                    renamed[name] = (new, w, h)
                out["image"], out["width"], out["height"] = renamed[name]
        (target / "manifest.json").write_text(json.dumps(manifest))


# --- the whole book -------------------------------------------------------------------------------

def plan(root=REPO, sections=("book", "exercises")):
    """[(path, nb, live, run)] for the notebooks with live widgets."""
    todo = []
    for folder in sections:
        for path in sorted((root / folder).glob("*.ipynb")):
            nb = json.loads(path.read_text(encoding="utf-8"))
            live = live_cells(nb)
            if live:
                todo.append((path, nb, live, cells_to_run(nb, live)))
    return todo


CACHE = SITE / "_build" / "live-cache"


def render_all(out, root=REPO, jobs=None, log=print, cache_root=None):
    """Render (or take from the cache) every live widget; returns {page docname: {model id: html}}.

    Writes ``out/live/pages/<docname>.json`` (read by conf.py) and the pictures to
    ``out/live/pictures/`` (copied into the html folder by :func:`publish`). The cache
    (default ``site/_build/live-cache``, shared by every build of this checkout) is keyed by
    content, so builds into other folders (the tests') reuse it.
    """
    out = Path(out)
    cache_root = Path(cache_root or os.environ.get("NNBOOK_SITE_CACHE") or CACHE)
    pictures = out / "live" / "pictures"
    todo = plan(root)
    lib_digest, versions = _lib_digest(), _versions()
    jobs = max(1, min(len(todo), jobs or min(os.cpu_count() or 1, 4)))
    keys = {path: cache_key(nb, run, lib_digest, versions) for path, nb, live, run in todo}

    def one(item):
        path, nb, live, run = item
        rel = path.relative_to(root)
        home = cache_root / rel.parent / path.stem
        cache = home / keys[path]
        if (cache / "done").is_file():
            return rel, cache, None
        t0 = time.monotonic()
        log(f"live widgets: {rel}: rendering (runs {len(run)} of its cells, then every declared setting) ...")
        work = home / f".tmp-{os.getpid()}-{keys[path]}"
        shutil.rmtree(work, ignore_errors=True)
        widgets = {i: (_views(nb["cells"][i]), ids) for i, ids in live.items()}
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        env.pop("MPLBACKEND", None)       # the worker draws with the inline backend, as in JupyterLab
        try:
            proc = subprocess.run([sys.executable, __file__, str(path), str(work / "raw"), json.dumps(run),
                                   json.dumps(widgets)], capture_output=True, text=True, env=env,
                                  cwd=str(path.parent), stdin=subprocess.DEVNULL, timeout=WORKER_TIMEOUT,
                                  preexec_fn=_die_with_parent)
        except subprocess.TimeoutExpired:
            raise LiveWidgetError(f"{rel}: rendering its widgets took more than {WORKER_TIMEOUT} s") from None
        if proc.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise LiveWidgetError(f"{rel}: " + (proc.stderr.strip()[-4000:] or "the worker failed"))
        for wid in (m for ids in live.values() for m in ids):
            why = first_state_differs(nb, work / "raw", wid)
            if why:
                shutil.rmtree(work, ignore_errors=True)
                raise LiveWidgetError(
                    f"{rel}: the widget {wid} rendered for the site is not the one the notebook shows: {why}. "
                    f"Re-execute the notebook; if it is current, a cell the widget depends on did not run "
                    f"(a cell tagged {READS_ONLY!r} that changes what it reads?)")
        _store(work / "raw", work / "pictures")
        (work / "pictures" / "done").write_text("")
        for old in home.iterdir():         # earlier keys of this notebook
            if old.name != work.name and not old.name.startswith(".tmp-"):
                shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(work / "pictures", cache)
        except OSError:                    # another build stored the same key meanwhile
            pass
        shutil.rmtree(work, ignore_errors=True)
        log(f"live widgets: {rel}: rendered in {time.monotonic() - t0:.0f} s")
        return rel, cache, time.monotonic() - t0

    pages = {}
    if pictures.exists():
        shutil.rmtree(pictures)
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(one, todo))
    for rel, cache, seconds in results:
        docname = rel.with_suffix("").as_posix()
        fragments, n_pictures, size = {}, 0, 0
        dest = pictures / rel.parent / rel.stem
        for wdir in sorted(p for p in cache.iterdir() if p.is_dir()):
            manifest = json.loads((wdir / "manifest.json").read_text())
            if not manifest["controls"]:
                continue
            dest.mkdir(parents=True, exist_ok=True)
            for f in wdir.iterdir():
                if f.name != "manifest.json":
                    shutil.copy2(f, dest / f.name)
                    n_pictures += 1
                    size += f.stat().st_size
            fragments[wdir.name] = fragment(manifest, f"_widgets/{rel.parent.as_posix()}/{rel.stem}/")
        pages[docname] = fragments
        page_file = out / "live" / "pages" / f"{docname}.json"
        page_file.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(fragments, sort_keys=True)
        if not page_file.exists() or page_file.read_text() != text:
            page_file.write_text(text)
        how = " (from the cache)" if seconds is None else ""
        log(f"live widgets: {rel}: {len(fragments)} widget{'s' * (len(fragments) != 1)}, {n_pictures} pictures, "
            f"{size / 1e6:.1f} MB{how}")
    pages_dir = out / "live" / "pages"
    if pages_dir.exists():          # notebooks that no longer have live widgets
        for f in pages_dir.rglob("*.json"):
            if f.relative_to(pages_dir).with_suffix("").as_posix() not in pages:
                f.unlink()
    return pages


def publish(out, html_dir):
    """Copy the pictures into the built site (``html/_widgets/``), replacing what was there."""
    src, dst = Path(out) / "live" / "pictures", Path(html_dir) / "_widgets"
    if dst.exists():
        shutil.rmtree(dst)
    if src.exists():
        shutil.copytree(src, dst)


# --- the page -------------------------------------------------------------------------------------

def _picture_html(outputs, root_rel, alt):
    parts = []
    for o in outputs:
        if "image" in o:
            size = f' width="{o["width"]}" height="{o["height"]}"' if o.get("width") else ""
            parts.append(f'<img src="{root_rel}{o["image"]}"{size} alt="{html.escape(alt)}">')
        elif "html" in o:
            parts.append(o["html"])
        else:
            parts.append(f"<pre>{html.escape(o['text'])}</pre>")
    return "".join(parts)


def fragment(manifest, pictures_rel):
    """The HTML that stands for one widget on its page. ``{root}`` is the page's way to the site root
    (conf.py fills it in). The first picture is in the HTML; nnbook.js adds the controls."""
    controls = manifest["controls"]
    states = manifest["states"]
    default = [c["default"] for c in controls]
    first = next((s for s in states if s["state"] == default), states[0])

    def alt(state):
        return "; ".join(f"{c['name']} {c['labels'][i]}" for c, i in zip(controls, state))

    data = {"controls": [{"name": c["name"], "kind": c["kind"], "labels": c["labels"], "default": c["default"]}
                         for c in controls],
            "states": [s["state"] for s in states],
            "pictures": [[{k: v for k, v in o.items()} for o in s["outputs"]] for s in states],
            "base": pictures_rel}
    n = len(states)
    note = (f"On this page the controls step through the {n} settings rendered when the site was built; "
            f"in JupyterLab the widget takes any value.")
    if manifest.get("note"):
        note += " " + manifest["note"]
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (f'<div class="nnbook-live" data-root="{{root}}" data-states="{n}">'
            f'<div class="nnbook-live-controls"></div>'
            f'<div class="nnbook-live-picture">{_picture_html(first["outputs"], "{root}" + pictures_rel, alt(first["state"]))}</div>'
            f'<p class="nnbook-live-note">{html.escape(note)}</p>'
            f'<script type="application/json" class="nnbook-live-data">{payload}</script></div>')


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
