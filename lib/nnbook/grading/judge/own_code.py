"""In a notebook: does the learner's function call what of nnbook its exercise set does not allow?

:class:`OwnCodeWatch` (used by ``check``/``evaluate``) watches the learner's function while it runs,
for calls into the definitions of nnbook that the exercise's set does not keep
(:func:`nnbook.grading.run.guard.kept`: what the set's ``allowed`` names, and everything those
mention, so an allowed ``F.conv2d_forward`` calling its helpers is fine). Whoever makes the call —
the learner's code, or nnbook code the learner handed a function to — it is what a graded run's
kernel does not have: there it raises (:mod:`nnbook.grading.run.guard`); here every case fails with
the same sentence.
"""
import sys
import types

from ..run.guard import kept, message, package_dir
from .compare import Problem
from .exercise import SETS


_HERE = "grading/judge/own_code.py"
# the grader's own wrappers around the learner's function (they run while the watch is on)
_MACHINERY = {("grading/judge/checker.py", "CallCounter")}


def sets_of(exercise_id):
    return [s for s in SETS.values() if exercise_id in s.exercises]


def _codes(obj):
    """Every code object of a function or class (methods, nested functions, lambdas)."""
    found = []
    if isinstance(obj, type):
        for value in vars(obj).values():
            value = getattr(value, "__func__", value)
            if isinstance(value, property):
                found += [c for f in (value.fget, value.fset, value.fdel) if f is not None for c in _codes(f)]
            elif isinstance(value, types.FunctionType) and value.__qualname__.startswith(obj.__qualname__ + "."):
                found += _codes(value)
        return found
    code = getattr(getattr(obj, "__wrapped__", obj), "__code__", None)
    stack = [code] if code is not None else []
    while stack:
        code = stack.pop()
        found.append(code)
        stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return found


def _loaded_definitions():
    """``{(rel, name): (object, public dotted name)}`` for the top-level definitions of the nnbook
    modules loaded in this process (their files lie in the package folder)."""
    root = package_dir()
    found, names = {}, {}
    for modname, module in list(sys.modules.items()):
        if not (modname == "nnbook" or modname.startswith("nnbook.")) or module is None:
            continue
        file = getattr(module, "__file__", None)
        if not file:
            continue
        try:
            rel = type(root)(file).resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        for attr, obj in list(vars(module).items()):
            if not isinstance(obj, (types.FunctionType, type)):
                continue
            names.setdefault(id(obj), []).append(f"{modname}.{attr}")
            if getattr(obj, "__module__", None) == modname and obj.__qualname__ == attr:
                found[(rel, attr)] = obj
    return {key: (obj, min(names[id(obj)], key=lambda n: (len(n), n))) for key, obj in found.items()}


class OwnCodeWatch:
    """Watches the learner's function while it runs for calls into what of nnbook the exercise's set
    does not allow (see the module docstring)."""

    enabled = True     # tests that use nnbook's own code as a stand-in for a learner's switch it off

    def __init__(self, exercise_id):
        self.exercise_id = exercise_id
        self.codes = {}                     # code object -> (public dotted name, set name)
        self.classes = {}                   # nnbook class -> (public dotted name, set name or None)
        self.set_names = []
        sets = sets_of(exercise_id) if self.enabled else []
        if sets:
            keeps = {s.name: kept(s.name, s.allowed) for s in sets}
            for key, (obj, dotted) in _loaded_definitions().items():
                if key[0] == _HERE or key in _MACHINERY:
                    continue                    # the watch itself, or a counter, calls the learner's function
                refused = [name for name, keep in keeps.items() if key not in keep]
                if isinstance(obj, type):
                    self.classes[obj] = (dotted, refused[0] if refused else None)
                if refused:
                    for code in _codes(obj):
                        self.codes.setdefault(code, (dotted, refused[0]))
            self.set_names = [s.name for s in sets]
        self.used = {}

    def wrap(self, fn):
        """``fn`` wrapped so that what it calls is watched (``None`` stays ``None``)."""
        if fn is None or not self.codes or not callable(fn) or not self.enabled:
            return fn
        watch = self

        def watched(*args, **kwargs):
            previous = sys.getprofile()

            def profile(frame, event, arg):
                if event == "call":
                    found = watch.codes.get(frame.f_code)
                    caller = frame.f_back
                    # name where it was entered, not the helpers it calls in turn
                    if found is not None and (caller is None or caller.f_code not in watch.codes):
                        found = watch._named(frame, found)
                        watch.used.setdefault(found[0], found[1])
                if previous is not None:
                    previous(frame, event, arg)
            sys.setprofile(profile)
            try:
                return fn(*args, **kwargs)
            finally:
                sys.setprofile(previous)
        watched.__name__ = getattr(fn, "__name__", "function")
        watched.__wrapped_learner__ = fn
        return watched

    def _named(self, frame, found):
        """A method inherited from a base class is reported under the class the learner used
        (``nnbook.ReLU()``, not its base ``Module``)."""
        self_ = frame.f_locals.get("self") if frame.f_code.co_varnames[:1] == ("self",) else None
        named = self.classes.get(type(self_))
        return (named[0], named[1] or found[1]) if named else found

    def verdict(self):
        """A plain sentence when the learner's code called what its set does not allow, else None."""
        if not self.used:
            return None
        said = "; ".join(message(set_name, dotted.rsplit(".", 1)[-1]) for dotted, set_name in sorted(self.used.items()))
        names = ", ".join(sorted(self.used))
        return f"{self.exercise_id}: your function is, or calls, {names}. {said}"

    def finish(self, report):
        """Fail every case of ``report`` when the learner's code called what its set does not allow."""
        text = self.verdict()
        if text is None:
            return report
        for r in report.results:
            r.problems.append(Problem("own", "call", text))
        return report
