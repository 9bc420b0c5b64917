#!/usr/bin/env python3
"""Vendor the site's two JavaScript dependencies from the npm registry into site/_static/.

    python3 site/fetch_assets.py        # needs `npm` (Node) and the npm registry

Sphinx and myst-nb load MathJax and the ipywidgets embed manager from CDNs by default, so an
offline reader sees raw LaTeX and no widgets. This script copies pinned npm releases into
``site/_static/`` (committed, so building the site needs neither npm nor the network):

- ``mathjax@3`` -> ``_static/mathjax/tex-chtml-full.js`` (all TeX extensions built in, so
  nothing is auto-loaded later) and its CHTML woff2 fonts;
- ``@jupyter-widgets/html-manager@1`` -> ``_static/widgets/embed.js`` (renders the widget
  snapshots stored in the notebooks) and the icon fonts it references.

Run it again after changing a version below; it rewrites both folders and ``VENDORED.txt``.
"""
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

MATHJAX = "mathjax@3.2.2"
HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"   # the ipywidgets 8.1 generation
STATIC = Path(__file__).resolve().parent / "_static"


def npm_pack(spec, workdir):
    """Download one package tarball with `npm pack` and unpack it; returns its package/ folder."""
    name = subprocess.run(["npm", "pack", "--silent", spec], cwd=workdir, check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]
    dest = Path(workdir) / name.removesuffix(".tgz")
    with tarfile.open(Path(workdir) / name) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def main():
    if shutil.which("npm") is None:
        sys.exit("fetch_assets.py needs npm (Node.js); the vendored files in site/_static/ are committed, "
                 "so you only need this to change their versions")
    with tempfile.TemporaryDirectory() as tmp:
        mj = npm_pack(MATHJAX, tmp)
        wm = npm_pack(HTML_MANAGER, tmp)
        for sub in ("mathjax", "widgets"):
            shutil.rmtree(STATIC / sub, ignore_errors=True)
        copy(mj / "es5" / "tex-chtml-full.js", STATIC / "mathjax" / "tex-chtml-full.js")
        for font in sorted((mj / "es5" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff")):
            copy(font, STATIC / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2" / font.name)
        copy(mj / "LICENSE", STATIC / "mathjax" / "LICENSE")
        dist = wm / "dist"
        copy(dist / "embed.js", STATIC / "widgets" / "embed.js")
        copy(dist / "embed.js.LICENSE.txt", STATIC / "widgets" / "embed.js.LICENSE.txt")
        for font in sorted([*dist.glob("*.woff"), *dist.glob("*.woff2")]):
            copy(font, STATIC / "widgets" / font.name)
    lines = [f"# written by site/fetch_assets.py from the npm registry: {MATHJAX}, {HTML_MANAGER}"]
    for f in sorted(p for sub in ("mathjax", "widgets") for p in (STATIC / sub).rglob("*") if p.is_file()):
        lines.append(f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.relative_to(STATIC).as_posix()}")
    (STATIC / "VENDORED.txt").write_text("\n".join(lines) + "\n")
    print(f"vendored {len(lines) - 1} files into {STATIC}")


if __name__ == "__main__":
    main()
