#!/usr/bin/env python3
"""Set up and run nnbook with nothing but Python 3.

    python3 dev.py lab     # create .venv if needed, install, open the book in JupyterLab
    python3 dev.py lab book/03_convolution.ipynb   # the same, opened at that notebook
    python3 dev.py test    # create .venv if needed, install, run every test (pytest + nbval)
    python3 dev.py bench   # run the speed benchmarks
    python3 dev.py site    # build the book as an offline website in site/_build/html

The first run creates ``.venv`` and installs the project (about a minute); later runs
reinstall only when pyproject.toml changed. Extra arguments are passed to the tool,
e.g. ``python3 dev.py test -k conv``.
"""
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".nnbook-installed"
THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def ensure_env():
    """Create .venv and install the project (editable, with test extras) if out of date."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PY.exists():
        return
    if not PY.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    print("installing nnbook and its dependencies into .venv (first run: about a minute) ...", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev,site]"], check=True)
    STAMP.write_text(wanted)


def run(cmd):
    env = {**os.environ, **THREADS}
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def main(argv):
    if not argv or argv[0] not in ("lab", "test", "bench", "site", "setup"):
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    ensure_env()
    if task == "setup":
        return 0
    if task == "test":
        return run([PY, "-m", "pytest", *rest])
    if task == "site":
        return run([PY, ROOT / "site" / "build.py", *rest])
    if task == "bench":
        return run([PY, ROOT / "benchmarks" / "bench.py", *rest])
    return run(lab_command(rest))


def lab_command(rest):
    """JupyterLab's command line for ``dev.py lab [NOTEBOOK] [JUPYTER ARGUMENTS]``: it opens at
    NOTEBOOK (a path in the repository, as the website's pages show it), else at chapter 0."""
    start = "book/00_start_here.ipynb"
    if rest and rest[0].endswith(".ipynb") and not rest[0].startswith("-"):
        given = Path(rest[0])
        full = given if given.is_absolute() else Path.cwd() / given
        if not full.exists():
            full = ROOT / given
        try:
            start = full.resolve().relative_to(ROOT).as_posix()
        except ValueError:
            raise SystemExit(f"dev.py lab: {rest[0]} is not inside the repository ({ROOT})") from None
        if not full.is_file():
            raise SystemExit(f"dev.py lab: there is no notebook {start} in the repository")
        rest = rest[1:]
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [BIN / "jupyter", "lab", f"--ServerApp.root_dir={ROOT}", f"--LabApp.default_url=/lab/tree/{start}",
            *as_root, *rest]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
