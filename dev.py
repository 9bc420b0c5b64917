#!/usr/bin/env python3
"""Set up and run nnbook with nothing but Python 3.

    python3 dev.py lab     # create .venv if needed, install the reader's tools, open the book in JupyterLab
    python3 dev.py lab book/03_convolution.ipynb   # the same, opened at that notebook
    python3 dev.py test    # also install the test and website tools, run every test (pytest + nbval)
    python3 dev.py bench   # run the speed benchmarks
    python3 dev.py site    # install the website tools, build the book as an offline website
    python3 dev.py setup   # install everything (the reader's, test and website tools), run nothing

Each command installs what it needs into .venv: `lab` only the library, JupyterLab, ipywidgets and
matplotlib; `test` and `site` add their tools (pyproject.toml's extras) the first time they run.
Later runs start at once and reinstall only when pyproject.toml changed. Extra arguments are
passed to the tool, e.g. ``python3 dev.py test -k conv``.
"""
import hashlib
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".nnbook-installed"
THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# pyproject.toml's extras each command needs (the reader's tools are the base install)
EXTRAS = {"lab": (), "bench": (), "site": ("site",), "test": ("test", "site"), "setup": ("test", "site")}
TASKS = tuple(EXTRAS)
WHAT = {"": "the library, JupyterLab, ipywidgets, matplotlib",
        "site": "Sphinx and myst-nb (the website)", "test": "pytest, nbval and Playwright (the tests)"}


def _installed():
    """(pyproject hash, extras) recorded by the last install, or (None, ())."""
    try:
        stamp = json.loads(STAMP.read_text())
        return stamp["pyproject"], tuple(stamp["extras"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, ()


def _pip_install(spec, label):
    """``pip install spec``, saying on one line what it is doing (updated in place on a terminal)."""
    cmd = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", spec]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    lines, seen, tty = [], 0, sys.stdout.isatty()
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(("Collecting ", "Processing ")):
            seen += 1
            if tty:
                print(f"\r{label}: {seen} packages found ...", end="", flush=True)
        elif line.startswith("Installing collected packages") and tty:
            print(f"\r{label}: unpacking {seen} packages ...    ", end="", flush=True)
    if tty:
        print("\r" + " " * (len(label) + 40) + "\r", end="", flush=True)
    if proc.wait() != 0:
        sys.stdout.write("".join(lines[-40:]))
        raise SystemExit(f"pip failed (exit status {proc.returncode}); its last lines are above")
    installed = [line for line in lines if line.startswith("Successfully installed ")]
    return len(installed[-1].split()) - 2 if installed else 0


def ensure_env(task):
    """Create .venv if needed and install what ``task`` needs, saying what it does step by step."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    have_hash, have_extras = _installed()
    need = set(EXTRAS[task])
    if have_hash == wanted and need <= set(have_extras) and PY.exists():
        return
    extras = sorted(need | set(have_extras))       # keep the tools an earlier command installed
    steps = 1 + (not PY.exists())
    step, start = 0, time.monotonic()
    if not PY.exists():
        step += 1
        print(f"[{step}/{steps}] creating the virtual environment .venv/ (once) ...", flush=True)
        t = time.monotonic()
        venv.create(VENV, with_pip=True)
        print(f"      done in {time.monotonic() - t:.0f} s", flush=True)
    step += 1
    what = "; ".join(WHAT[e] for e in ["", *extras])
    print(f"[{step}/{steps}] installing into .venv/ from PyPI: {what} ...", flush=True)
    t = time.monotonic()
    spec = f"{ROOT}[{','.join(extras)}]" if extras else str(ROOT)
    n = _pip_install("--editable=" + spec, "      pip")
    print(f"      done in {time.monotonic() - t:.0f} s ({n} packages installed)", flush=True)
    STAMP.write_text(json.dumps({"pyproject": wanted, "extras": extras}))
    if steps > 1 or have_hash is None:
        print(f"set up in {time.monotonic() - start:.0f} s; later runs start at once", flush=True)


def run(cmd):
    """Run the tool until it ends. Ctrl-C reaches it too, and it decides (JupyterLab asks first):
    this script waits instead of killing it."""
    proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env={**os.environ, **THREADS})
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def parallel(rest):
    """pytest-xdist options for ``dev.py test``: one worker per core (at most 4), each test file or
    notebook a unit of work (a module's fixtures are made once; a notebook's cells share one kernel);
    none when the arguments choose (``-n``, ``--dist``, ``-p no:xdist``) or with one core."""
    workers = min(os.cpu_count() or 1, 4)
    chosen = any(a == "-n" or a.startswith(("-n=", "--numprocesses", "--dist")) or a == "no:xdist" for a in rest)
    if chosen or workers < 2:
        return []
    # in collection order (not biggest file first): the longest units, the browser tests, then start
    # first instead of running alone at the end
    return ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"]


def lab(rest):
    """``dev.py lab [NOTEBOOK] [JUPYTER ARGUMENTS]``: NOTEBOOK (as the website's pages give it) is a
    path in the repository, or relative to the current folder (made absolute here, as the lab runs
    from the repository)."""
    if rest and rest[0].endswith(".ipynb") and (Path.cwd() / rest[0]).exists():
        rest = [str((Path.cwd() / rest[0]).resolve()), *rest[1:]]
    print("preparing the lab ...", flush=True)
    # your workspace, the chapters trusted, JupyterLab's defaults; then JupyterLab (nnbook/lab.py)
    return run([PY, "-m", "nnbook.lab", ROOT, "--start", *rest])


def main(argv):
    if not argv or argv[0] not in TASKS:
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    ensure_env(task)
    if task == "setup":
        return 0
    if task == "test":
        return run([PY, "-m", "pytest", *parallel(rest), *rest])
    if task == "site":
        return run([PY, ROOT / "site" / "build.py", *rest])
    if task == "bench":
        return run([PY, ROOT / "benchmarks" / "bench.py", *rest])
    return lab(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
