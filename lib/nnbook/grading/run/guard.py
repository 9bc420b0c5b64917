"""Answers may call only what their exercise set allows of nnbook.

Each exercise set declares, in ``ExerciseSet.allowed``, what of nnbook an answer may call: dotted names
of functions, classes or whole modules (``"nnbook.functional.conv2d_forward"``, ``"nnbook.data"``).
Everything else of nnbook is not available to answers while grading: the functional operations the
set does not allow (``leaky_relu_forward(x, 0.0)`` is a ReLU, ``conv2d_forward`` with a constant kernel
an average pooling), the layers, optimizers, models, training loop, the loops of ``nnbook.naive``, and
the grader's own package with its references. It is enforced by what is *called*, not by reading the
answer's text:

- **Graded runs** (:func:`build_overlay`): the learner's kernel imports a copy of the nnbook package
  in which the body of every top-level function (every method, for a class) is replaced by a
  ``raise`` of :class:`NotAvailableError` ("grading ex3_convolution: nnbook's own conv2d_forward is
  not available to answers — write your own"), except what the kernel needs (:func:`kept`): what the
  set allows, what runs while the kernel imports nnbook (``Hint(...)``, ``register(...)`` at module
  level), and what those call in turn. Every route ends there: ``import``, ``importlib``,
  ``sys.modules``, ``reload``, layer classes, helpers of the grader. With ``--sandbox`` the copy is
  mounted over the real package, so the real source cannot be read either.
- **In a notebook**: :class:`nnbook.grading.judge.own_code.OwnCodeWatch` watches the learner's
  function while ``check`` runs it, for calls *made by the learner's code* into the same
  definitions (:func:`kept` decides both).

What is kept is found by reading the source (:mod:`ast`), by name: a kept definition keeps every
top-level definition whose name it mentions (a function reached only because it runs at import keeps
only what that run calls, not the bodies of the closures it returns). Reading by name may keep a few
harmless helpers too many; it never keeps what nothing mentions.
"""
import ast
import functools
import importlib
import os
import shutil
import sys
import types
from pathlib import Path

NOT_AVAILABLE_MODULE = '''"""Raised (in graded runs only) by what of nnbook the set does not allow in answers."""


class NotAvailableError(RuntimeError):
    """An answer called something of nnbook that its exercise set does not allow."""
'''


def message(set_name, short_name):
    return f"grading {set_name}: nnbook's own {short_name} is not available to answers — write your own"


def grader_message(set_name, short_name):
    return (f"grading {set_name}: nnbook.grading's {short_name} does not run in the graded kernel "
            "(the grader runs the checks itself)")


def package_dir():
    """The folder of the nnbook package this process runs (``.../nnbook``)."""
    import nnbook
    return Path(nnbook.__file__).resolve().parent


def resolve(dotted):
    """The object a dotted name like ``"nnbook.functional.conv2d_forward"`` refers to."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
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
# reading the package: which definitions exist, what runs at import, what mentions what
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DEFS = _FUNCS + (ast.ClassDef,)


def _targets(expr):
    """Names an expression may call: ``f`` -> f, ``F.conv2d_forward`` -> conv2d_forward."""
    if isinstance(expr, ast.Name):
        return {expr.id}
    if isinstance(expr, ast.Attribute):
        return {expr.attr}
    if isinstance(expr, ast.Starred):
        return _targets(expr.value)
    return set()


def _all_names(node):
    """Every name and attribute mentioned anywhere in ``node``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
        {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


class _Runs(ast.NodeVisitor):
    """Names called when a block of code runs (at import, or in a function that runs at import).
    Functions merely passed along (``Exercise(..., reference=f)``, ``return run``) do not count, nor
    do lambdas, base classes (subclassing calls nothing of them) or nested functions that the block
    does not call."""

    def __init__(self):
        self.names, self.nested = set(), {}

    def _signature(self, node):
        for expr in node.decorator_list + node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.names |= _targets(expr)
            self.visit(expr)

    def visit_FunctionDef(self, node):
        self.nested[node.name] = node
        self._signature(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        for expr in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(expr)

    def visit_ClassDef(self, node):
        for expr in node.decorator_list + [k.value for k in node.keywords]:
            self.names |= _targets(expr)
            self.visit(expr)
        for stmt in node.body:
            self.visit(stmt)

    def visit_Call(self, node):
        self.names |= _targets(node.func)
        self.generic_visit(node)

    def run(self, stmts):
        for stmt in stmts:
            self.visit(stmt)
        done = set()
        while True:
            todo = [n for n in self.nested if n in self.names and n not in done]
            if not todo:
                return self.names
            for name in todo:
                done.add(name)
                for stmt in self.nested[name].body:
                    self.visit(stmt)


def _is_main_guard(stmt):
    return isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test)


def _import_time(tree):
    """Names called while a module is imported: its module-level code, class bodies, decorators and
    default values (not function bodies, not ``if __name__ == "__main__":``)."""
    runs = _Runs()
    for stmt in tree.body:
        if _is_main_guard(stmt):
            continue
        if isinstance(stmt, _FUNCS):
            runs._signature(stmt)
        else:
            runs.visit(stmt)
    return runs.names


class _Package:
    """The parsed source of an nnbook package folder."""

    def __init__(self, src):
        self.src = Path(src)
        self.sources, self.trees, self.defs = {}, {}, {}
        self.by_name = {}                               # top-level name -> [(rel, name)]
        self.aliases = {}                               # `import x as y` inside nnbook: y -> {x}
        for path in sorted(self.src.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(self.src).as_posix()
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
            self.sources[rel], self.trees[rel] = text, tree
            for node in tree.body:
                if isinstance(node, _DEFS):
                    self.defs[(rel, node.name)] = node
                    self.by_name.setdefault(node.name, []).append((rel, node.name))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("nnbook")):
                    for a in node.names:
                        if a.asname and a.asname != a.name:
                            self.aliases.setdefault(a.asname, set()).add(a.name)

    def module_rel(self, dotted):
        """``"nnbook.functional.conv"`` -> ``"functional/conv.py"`` (or its ``__init__.py``)."""
        parts = dotted.split(".")[1:]
        for rel in ("/".join(parts) + ".py", "/".join(parts + ["__init__.py"])):
            if rel.lstrip("/") in self.trees:
                return rel.lstrip("/")
        return None

    def lookup(self, names):
        found = set()
        for name in names:
            for real in {name} | self.aliases.get(name, set()):
                found.update(self.by_name.get(real, ()))
        return found


@functools.lru_cache(maxsize=4)
def _package(src):
    return _Package(src)


def _static_key(package, dotted, depth=0):
    """``(rel, name)`` of a dotted name read from the source (following ``from .x import name``), a
    module's ``rel`` for a module, or None when the source does not say."""
    parts = dotted.split(".")
    if parts[0] != "nnbook" or depth > 5:
        return None
    if package.module_rel(dotted) is not None:
        return package.module_rel(dotted)
    rel = package.module_rel(".".join(parts[:-1])) if len(parts) > 1 else None
    if rel is None:
        return None
    name = parts[-1]
    if (rel, name) in package.defs:
        return (rel, name)
    here = parts[:-1] if rel.endswith("__init__.py") else parts[:-2]
    for node in package.trees[rel].body:
        if isinstance(node, ast.ImportFrom) and node.level:
            for a in node.names:
                if (a.asname or a.name) == name:
                    base = here[:len(here) - node.level + 1] + (node.module.split(".") if node.module else [])
                    return _static_key(package, ".".join(base + [a.name]), depth + 1)
    return None


def _allowed_keys(package, set_name, allowed):
    """The definitions named by ``allowed`` (functions, classes, modules), as ``(rel, name)`` keys."""
    keys = set()
    for dotted in allowed:
        found = _static_key(package, dotted)
        if isinstance(found, tuple):
            keys.add(found)
            continue
        if isinstance(found, str):
            keys |= {k for k in package.defs if k[0] == found}
            continue
        try:
            obj = resolve(dotted)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"exercise set {set_name}: allowed name {dotted!r} is not part of nnbook "
                             f"({exc})") from None
        if isinstance(obj, types.ModuleType):
            rel = package.module_rel(obj.__name__)
            if rel is None:
                raise ValueError(f"exercise set {set_name}: allowed module {dotted!r} is not part of nnbook")
            keys |= {k for k in package.defs if k[0] == rel}
            continue
        try:
            file, name = _definition(obj)
            rel = file.relative_to(package_dir()).as_posix()
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ValueError(f"exercise set {set_name}: allowed name {dotted!r} is not an nnbook function, "
                             "class or module") from None
        if (rel, name) not in package.defs:
            raise ValueError(f"exercise set {set_name}: allowed name {dotted!r} is not defined in nnbook")
        keys.add((rel, name))
    return keys


def kept(set_name, allowed, src=None):
    """The top-level definitions of nnbook (``(rel, name)`` keys) that keep working while ``set_name``
    is graded: what ``allowed`` names, what runs when the kernel imports nnbook, and everything those
    mention or call (see the module docstring). Everything else raises."""
    return _kept(str(src or package_dir()), set_name, tuple(allowed))


@functools.lru_cache(maxsize=64)
def _kept(src, set_name, allowed):
    package = _package(src)
    everything = set()                    # reached from an allowed definition: follow all it mentions
    imports = set()                       # reached from import-time code: follow what it runs
    todo = [(k, True) for k in _allowed_keys(package, set_name, allowed)]
    for rel, tree in package.trees.items():
        todo += [(k, False) for k in package.lookup(_import_time(tree))]
    while todo:
        key, full = todo.pop()
        seen = everything if full else imports
        if key in seen:
            continue
        seen.add(key)
        node = package.defs[key]
        # a class reached from import code: any of its methods may run (follow all it mentions)
        names = _all_names(node) if full or isinstance(node, ast.ClassDef) else _Runs().run(node.body)
        todo += [(k, full) for k in package.lookup(names)]
    return frozenset(everything | imports)


# ---------------------------------------------------------------------------------------------
# graded runs: the overlay package
def _raise_line(text):
    return (f"raise __import__('nnbook._not_available', fromlist=['NotAvailableError'])"
            f".NotAvailableError({text!r})")


def _body_span(node):
    """``(first, last)`` statements of a definition's body that are replaced (a docstring stays)."""
    body = node.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body[0], body[-1]


def _splice(source, spans):
    """``source`` with each ``(first statement, last statement, text)`` replaced by ``text``, written
    where the first statement starts (positions are UTF-8 byte offsets, as :mod:`ast` gives them)."""
    lines = source.encode("utf-8").splitlines(keepends=True)
    for first, last, text in sorted(spans, key=lambda s: (s[0].lineno, s[0].col_offset), reverse=True):
        a, b = first.lineno - 1, last.end_lineno - 1
        head = lines[a][:first.col_offset]
        tail = lines[b][last.end_col_offset:]
        lines[a:b + 1] = [head + text.encode("utf-8") + tail]
    return b"".join(lines).decode("utf-8")


def _owners(tree, blocked):
    """The name each blocked definition is reported under: itself, or for a private helper the first
    blocked public definition of its module that uses it (directly or through other helpers)."""
    defs = {n.name: n for n in tree.body if isinstance(n, _DEFS)}
    mentions = {name: _all_names(node) & defs.keys() for name, node in defs.items()}
    owners = {name: name for name in blocked}
    for public in defs:
        if public not in blocked or public.startswith("_"):
            continue
        seen, todo = set(), [public]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo += mentions[current]
        for name in seen:
            if name.startswith("_") and owners.get(name) == name:
                owners[name] = public
    return owners


@functools.lru_cache(maxsize=32)
def _rewritten(src, set_name, allowed):
    """``{rel: (new source, [replaced names])}`` for every module with a definition that raises."""
    package = _package(src)
    keep = _kept(src, set_name, allowed)
    out = {}
    for rel, tree in package.trees.items():
        blocked = {n.name for n in tree.body if isinstance(n, _DEFS) and (rel, n.name) not in keep}
        if not blocked:
            continue
        spans, owners = [], _owners(tree, blocked)
        for node in tree.body:
            if not (isinstance(node, _DEFS) and node.name in blocked):
                continue
            owner = owners[node.name]
            text = grader_message(set_name, owner) if rel.startswith("grading/") else message(set_name, owner)
            functions = [node] if isinstance(node, _FUNCS) else [n for n in node.body if isinstance(n, _FUNCS)]
            spans += [(*_body_span(f), _raise_line(text)) for f in functions]
        out[rel] = (_splice(package.sources[rel], spans), sorted(blocked))
    return out


def build_overlay(dest, set_name, allowed):
    """Copy the nnbook package into ``dest/nnbook`` in which everything that ``set_name`` does not
    allow (and the kernel does not need) raises :class:`NotAvailableError`.

    Args:
        dest: an existing folder (put first on the kernel's path).
        set_name: the exercise set being graded (named in the messages).
        allowed: what of nnbook answers may call (``ExerciseSet.allowed``).
    Returns:
        ``(dest, {module file: [definitions that raise]})``.
    """
    src = package_dir()
    dest = Path(dest)
    target = dest / "nnbook"
    shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    (target / "_not_available.py").write_text(NOT_AVAILABLE_MODULE, encoding="utf-8")
    replaced = {}
    for rel, (text, names) in _rewritten(str(src), set_name, tuple(allowed)).items():
        (target / rel).write_text(text, encoding="utf-8")
        replaced[rel] = names
    return dest, replaced


def overlay_env_path(overlay_dir, env):
    """``env`` with ``overlay_dir`` first on PYTHONPATH."""
    old = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(overlay_dir) + (os.pathsep + old if old else "")
    return env
