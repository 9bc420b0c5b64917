"""Keep nnbook's own implementations of the graded functions out of the answers.

Each exercise set declares, in ``ExerciseSet.not_available``, the dotted names of nnbook's own
implementations that answers may not use (``"nnbook.functional.conv2d_forward"``, a layer class
such as ``"nnbook.layers.Conv2d"``...). They are enforced by what is *called*, not by reading
the answer's text:

- **Graded runs** (:func:`build_overlay`): the learner's kernel imports a copy of the nnbook
  package in which the bodies of those functions (every method, for a class), and the private
  helpers that only they use, are replaced by a ``raise`` of :class:`NotAvailableError`
  ("grading ex3_convolution: nnbook's own conv2d_forward is not available to answers — write
  your own"). Every route ends there: ``import``, ``importlib``, ``sys.modules``, ``reload``,
  and the layer classes that call them. With ``--sandbox`` the copy is mounted over the real
  package, so the real source cannot be read either.
- **In a notebook**: :class:`nnbook.grading.judge.own_code.OwnCodeWatch` watches the learner's
  function while ``check`` runs it.
"""
import ast
import importlib
import os
import re
import shutil
import sys
from pathlib import Path

NOT_AVAILABLE_MODULE = '''"""Raised (in graded runs only) by nnbook's own implementations of the graded functions."""


class NotAvailableError(RuntimeError):
    """nnbook's own implementation of a graded function was called by an answer."""
'''


def message(set_name, short_name):
    return f"grading {set_name}: nnbook's own {short_name} is not available to answers — write your own"


def package_dir():
    """The folder of the nnbook package this process runs (``.../nnbook``)."""
    import nnbook
    return Path(nnbook.__file__).resolve().parent


def resolve(dotted):
    """The object a dotted name like ``"nnbook.functional.conv2d_forward"`` refers to."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"cannot resolve {dotted!r}")


def _definition(obj):
    """``(module file, top-level name)`` where a function or class is defined."""
    target = getattr(obj, "__wrapped__", obj)
    module = sys.modules[target.__module__]
    return Path(module.__file__).resolve(), target.__qualname__.split(".")[0]


# ---------------------------------------------------------------------------------------------
# graded runs: the overlay package
def _raise_stmt(text):
    return ast.parse(f"raise __import__('nnbook._not_available', fromlist=['NotAvailableError'])"
                     f".NotAvailableError({text!r})").body[0]


def _stub_body(node, text):
    doc = []
    if node.body and isinstance(node.body[0], ast.Expr) and isinstance(getattr(node.body[0], "value", None),
                                                                        ast.Constant) \
            and isinstance(node.body[0].value.value, str):
        doc = [node.body[0]]
    node.body = doc + [_raise_stmt(text)]


def _names_in(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
        {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def _rewrite(source, names, set_name, other_sources):
    """``source`` with the top-level definitions ``names`` (and private helpers only they use)
    turned into raises. Returns ``(new source, list of replaced names)``."""
    tree = ast.parse(source)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    blocked = {n: n for n in names if n in defs}          # name -> the public name it belongs to
    refs = {}                                             # helper -> top-level statements naming it
    for stmt in tree.body:
        owner = stmt.name if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else None
        for used in _names_in(stmt):
            refs.setdefault(used, set()).add(owner)
    changed = True
    while changed:
        changed = False
        for name in defs:
            if name in blocked or not name.startswith("_"):
                continue
            users = refs.get(name, set()) - {name}
            if users and all(u in blocked for u in users) and \
                    not any(re.search(rf"\b{re.escape(name)}\b", text) for text in other_sources):
                blocked[name] = blocked[next(iter(users))]
                changed = True
    for name, public in blocked.items():
        node = defs[name]
        text = message(set_name, public)
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    _stub_body(item, text)
        else:
            _stub_body(node, text)
    return ast.unparse(tree) + "\n", sorted(blocked)


def build_overlay(dest, set_name, not_available):
    """Copy the nnbook package into ``dest/nnbook`` with ``not_available`` turned into raises.

    Returns:
        ``(dest, {dotted name: [replaced definitions]})``.
    """
    src = package_dir()
    dest = Path(dest)
    target = dest / "nnbook"
    shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    (target / "_not_available.py").write_text(NOT_AVAILABLE_MODULE, encoding="utf-8")
    by_file = {}
    for dotted in not_available:
        try:
            file, name = _definition(resolve(dotted))
        except (ImportError, AttributeError, KeyError, TypeError) as exc:
            raise ValueError(f"exercise set {set_name}: not_available name {dotted!r} is not an nnbook "
                             f"function or class ({exc})") from None
        by_file.setdefault(file, []).append(name)
    sources = {p: p.read_text(encoding="utf-8") for p in src.rglob("*.py")}
    replaced = {}
    for file, names in by_file.items():
        try:
            rel = file.relative_to(src)
        except ValueError:
            raise ValueError(f"exercise set {set_name}: {names} are not defined inside the nnbook package") from None
        others = [text for p, text in sources.items() if p != file]
        new, done = _rewrite(sources[file], names, set_name, others)
        (target / rel).write_text(new, encoding="utf-8")
        replaced[str(rel)] = done
    return dest, replaced


def overlay_env_path(overlay_dir, env):
    """``env`` with ``overlay_dir`` first on PYTHONPATH."""
    old = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(overlay_dir) + (os.pathsep + old if old else "")
    return env
