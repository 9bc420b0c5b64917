"""What a graded exercise is, and the helpers every exercise set uses to define its cases.

The exercises themselves live in :mod:`nnbook.grading.sets`, one module per exercise set
(``sets/ex3_convolution.py`` holds the cases, references, hints and allowed-use rules of
``exercises/ex3_convolution.ipynb``). Both ``check()`` in the notebooks and ``nnbook grade``
run these cases.

Kinds:
    ``"forward"``: ``fn(*args, **kwargs) -> (out, cache)``; ``out`` is compared, and so is the
        cache when the exercise states its contents (:class:`CacheContract`).
    ``"backward"``: ``fn(dout, cache)`` must return the gradients named in ``outputs``. With a
        :class:`CacheContract` the cache is the reference's, in the stated format, so a right
        backward passes whatever the learner's forward does (one mistake costs once); without
        one, the learner's own forward makes the cache and only the cases where that forward is
        right are judged (the others are shown as not judged).
    ``"function"``: ``fn(*args, **kwargs)`` returns the values named in ``outputs``.
"""
import contextlib
import contextvars
import re
from dataclasses import dataclass, field

import numpy as np

from .cases import Case, materialize

VISIBLE, HIDDEN = 1000, 5000   # seed bases of the visible and the hidden cases (no grading seed)
_GRADING_SEED = contextvars.ContextVar("nnbook_grading_seed", default=None)


def hidden_base(seed=None):
    """Seed base of the hidden cases: fixed in a notebook; derived from the grading run's seed
    (``nnbook grade --seed``) when grading, so the installed library does not reveal them."""
    if seed is None:
        return HIDDEN
    return 100_000 + (int(seed) % 1_000_000_000) * 1000


@contextlib.contextmanager
def grading_seed(seed):
    """Within this block, hidden cases are drawn from ``seed`` (see :func:`hidden_base`)."""
    token = _GRADING_SEED.set(seed)
    try:
        yield
    finally:
        _GRADING_SEED.reset(token)


@dataclass
class Exercise:
    """What is graded for one function (see the module docstring for ``kind``).

    reference(case) -> dict of expected outputs (backward: also given the learner's forward out).
    alternatives(case, expected) -> list of ``(output, array, hint)``: common wrong answers;
        when the learner's output equals one of them, the hint names the mistake.
    rules: functions ``(case, problem) -> hint or None``.
    only_with: ``{tag: hint}``; the hint is shown when every failing case has the tag
        and some case without it passes.
    detectors: functions ``(case_results) -> [(hint, case names)]`` that look at all cases.
    A hint is a :class:`Hint` (a plain string is taken as a concept-only hint).
    """
    id: str
    kind: str
    outputs: tuple
    make_cases: object
    reference: object
    forward: str = None            # backward: id of the matching forward exercise
    grad_args: tuple = ()          # backward: which forward args the gradients belong to
    ref_forward: object = None     # backward: reference forward (for dout's shape)
    # forward and backward: what the cache holds (:class:`CacheContract`); the forward's check
    # compares it, the backward is judged on the reference's cache in this format
    cache: object = None
    alternatives: object = None
    rules: tuple = ()
    only_with: dict = field(default_factory=dict)
    # whole-check detectors: ``(case_results) -> list of (hint, case names)``, for patterns that
    # only show across cases (every case with stride != kernel fails on shape: stride ignored)
    detectors: tuple = ()
    gradcheck: object = None       # optional custom gradient check: (fn, case) -> list of (name, err)
    # optional custom judging of a case, replacing the comparison with ``reference``:
    # ``(fn, forward, case) -> list of Problem`` (e.g. train with the learner's loop, then
    # measure the accuracy of the weights it returned); a case it cannot judge returns
    # ``[not_judged(reason)]`` (:func:`nnbook.grading.judge.compare.not_judged`)
    judge: object = None

    def cases(self, hidden=False, seed=None):
        """The visible cases (always the same), or the hidden ones drawn from ``seed`` (default: the
        seed of the :func:`grading_seed` block, or the fixed notebook seed outside grading)."""
        if not hidden:
            return self.make_cases(VISIBLE, False)
        return self.make_cases(hidden_base(seed if seed is not None else _GRADING_SEED.get()), True)


@dataclass(frozen=True)
class CacheContract:
    """What a forward's cache holds, stated in the exercise, so that its backward can be judged on
    the reference's cache: a right backward then keeps its points whatever the forward does.

    Attributes:
        fields: the names of the cache's entries, in order (``("x", "W", "b")``); with one name the
            cache is that value itself, not a 1-tuple.
        build: ``build(*args, **kwargs) -> cache`` from the forward's arguments as they come in
            (fresh copies; it may consume a random generator argument as the forward would).
        also: optional ``(args, kwargs) -> list of other caches`` that mean the same (dropout with
            ``p = 0``: ``None`` as well as a mask of ones).
    """
    fields: tuple
    build: object
    also: object = None

    @property
    def text(self):
        """``(x, W, b)`` or, for a single entry, ``x``."""
        return self.fields[0] if len(self.fields) == 1 else "(" + ", ".join(self.fields) + ")"

    def make(self, case):
        """The reference's cache for ``case``, in this format (new arrays on every call)."""
        return self.build(*materialize(case.args), **materialize(case.kwargs))

    def alternatives(self, case):
        if self.also is None:
            return []
        return list(self.also(materialize(case.args), materialize(case.kwargs)))


@dataclass(frozen=True)
class Hint:
    """A tiered hint for one named mistake: the concept first, then the formula, code only on request.

    Attributes:
        id: stable name of the mistake (e.g. ``"conv_backward_overwrites"``); the class report
            counts learners by it.
        concept: level 1, the idea that was missed, in words ("overlapping windows add up").
        formula: level 2, the formula that expresses it.
        code: level 3, a line of code; shown only when asked (``check(..., hints=3)``).
        label: a few words naming the mistake for a class report ("overwrote instead of
            accumulating"); defaults to ``concept``.
        fallback: a generic guess (e.g. "output size off by one"), dropped for a case that a
            more specific hint explains.
    """
    id: str
    concept: str
    formula: str = ""
    code: str = ""
    label: str = ""
    fallback: bool = False

    def __str__(self):
        return self.concept

    @property
    def name(self):
        """What the mistake is called in a class report."""
        return self.label or self.concept

    def levels(self, level=2):
        """``[(kind, text)]`` for hint level 1 (concept), 2 (+ formula) or 3 (+ code)."""
        parts = [("concept", self.concept)]
        if level >= 2 and self.formula:
            parts.append(("formula", self.formula))
        if level >= 3 and self.code:
            parts.append(("code", self.code))
        return parts


def as_hint(hint):
    """A :class:`Hint` from a hint rule's answer: Hint objects as they are, a plain string
    (an old-style rule) as a concept-only hint whose id is derived from its text; None stays None."""
    if hint is None or isinstance(hint, Hint):
        return hint
    text = str(hint)
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48]
    return Hint(f"text:{slug}", text)


@dataclass
class ExerciseSet:
    """One exercise notebook's rules.

    Attributes:
        name: the notebook's stem, e.g. ``"ex3_convolution"``.
        exercises: ids of the graded functions, in notebook order.
        allowed: what of nnbook an answer may call while this set is graded: dotted names of
            functions, classes or whole modules (``"nnbook.functional.conv2d_forward"``,
            ``"nnbook.data"``). Everything else of nnbook raises in the graded kernel and is refused
            by ``check`` (:mod:`nnbook.grading.run.guard`).
        packages: installed distributions, beyond the kernel's own, numpy and matplotlib, that the
            set's kernel may import under ``--sandbox`` (``"scikit-learn"``); every other installed
            library is hidden there (:mod:`nnbook.grading.run.sandbox`).
    """
    name: str
    exercises: tuple
    allowed: tuple = ()
    packages: tuple = ()

    def allows(self, dotted):
        """Whether an answer may call ``dotted`` (a function or class of nnbook) in this set."""
        from ..run.guard import _definition, kept, package_dir, resolve
        file, name = _definition(resolve(dotted))
        return (file.relative_to(package_dir()).as_posix(), name) in kept(self.name, self.allowed)


EXERCISES = {}
SETS = {}


def register(ex):
    EXERCISES[ex.id] = ex
    return ex


def register_set(exercise_set):
    unknown = [e for e in exercise_set.exercises if e not in EXERCISES]
    if unknown:
        raise KeyError(f"exercise set {exercise_set.name}: unknown exercises {unknown}")
    SETS[exercise_set.name] = exercise_set
    return exercise_set


def dout_rng(seed):
    """The generator of a case's upstream gradient: another stream than the one its inputs were drawn
    from (``default_rng(seed)``), or dout would repeat x's numbers (a ReLU backward gated on dout's sign
    instead of x's would pass)."""
    return np.random.default_rng([seed, 2])


def dout_for(case, out):
    """Seeded upstream gradient of the shape and dtype of ``out``."""
    return dout_rng(case.seed).standard_normal(out.shape).astype(out.dtype)


def numbered(base, specs):
    """Turn ``(name, builder, tags)`` specs into Cases with seeds ``base, base+1, ...``."""
    cases = []
    for i, (name, build, tags) in enumerate(specs):
        rng = np.random.default_rng(base + i)
        args, kwargs = build(rng)
        cases.append(Case(name, tuple(args), kwargs, frozenset(tags), seed=base + i))
    return cases


def with_big_case(cases, base, build, name):
    """Append a big case (tag ``"big"``, no other tag): a backward computed in one pass takes
    milliseconds on it, finite differences of the forward (two forward passes per number) take many
    minutes, more than a graded call may take (``nnbook grade --timeout``)."""
    rng = np.random.default_rng(base + 90)
    args, kwargs = build(rng)
    return cases + [Case(name, tuple(args), kwargs, frozenset({"big"}), seed=base + 90)]


def with_gradcheck(cases, base, build, name="numerical gradient (float64)"):
    rng = np.random.default_rng(base + 99)
    args, kwargs = build(rng)
    return cases + [Case(name, tuple(args), kwargs, frozenset({"gradcheck"}), seed=base + 99, gradcheck=True)]


def backward_reference(ref_forward, ref_backward, names):
    def reference(case, learner_out=None):
        args, kwargs = materialize(case.args), materialize(case.kwargs)
        out, cache = ref_forward(*args, **kwargs)
        grads = ref_backward(dout_for(case, out), cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return dict(zip(names, grads))
    return reference


def forward_reference(ref_forward):
    def reference(case, learner_out=None):
        args, kwargs = materialize(case.args), materialize(case.kwargs)
        return {"out": ref_forward(*args, **kwargs)[0]}
    return reference


def reference_out(ref_forward, case):
    args, kwargs = materialize(case.args), materialize(case.kwargs)
    return ref_forward(*args, **kwargs)[0]


HINT_DTYPE = Hint(
    "dtype_changed", "keep the input's dtype: a float32 input gives a float32 output",
    "new arrays take their dtype from the input (dtype=x.dtype); np.zeros(shape) alone gives float64",
    "np.zeros(shape, dtype=x.dtype)  # or np.zeros_like(x)", label="changed the dtype")

HINT_INPLACE = Hint(
    "input_modified", "never change the inputs: the caller (and your backward) still needs them",
    "compute into a new array instead of assigning into x (or work on x.copy())",
    "out = np.maximum(x, 0)  # a new array; not x[x < 0] = 0", label="modified an input in place")


HINT_CACHE = Hint(
    "cache_contract", "the cache must hold exactly what the exercise says: your backward is judged on a "
    "cache in that format, so one mistake in the forward never costs the backward's points",
    "cache = the entries the exercise lists, in its order and with the values they had in this call",
    label="cache not in the stated format")

HINT_CACHE_UNPACKED = Hint(
    "cache_unpacked", "your backward unpacks its cache into other names than the cache holds: the cache is "
    "exactly what the exercise states (the note above says which), whatever your forward kept",
    "names on the left of `= cache`, in the stated order; a cache of one entry is that value itself",
    "x, W, b = cache   # e.g. for linear_backward", label="unpacked the cache into other names")

HINT_NOT_ONE_PASS = Hint(
    "backward_not_one_pass", "a backward computes every gradient in one pass back through the layer, from "
    "dout and the cache; finite differences of the forward (two forward passes per number) are a check, "
    "not a backward: on a layer of realistic size they take hours",
    "each gradient is dout times the local derivative of the forward, summed over every output that used "
    "the number (the chain rule)", label="gradient by finite differences of the forward")

HINT_TOO_SLOW = Hint(
    "backward_too_slow", "this big case ran out of time: a backward computes every gradient in one pass "
    "(milliseconds here); finite differences of the forward call it twice per number, which takes many "
    "minutes on a case of this size",
    "each gradient is dout times the local derivative of the forward, summed over every output that used "
    "the number (the chain rule)", label="too slow for a backward (finite differences?)")


def dtype_rule(case, problem):
    return HINT_DTYPE if problem.kind == "dtype" else None


def inplace_rule(case, problem):
    return HINT_INPLACE if problem.kind == "inplace" else None


_UNPACK = re.compile(r"^[\w\s,()\[\]]+=\s*cache\s*$")


def cache_rule(case, problem):
    """A forward's cache not in the stated format, or a backward that unpacks the stated cache into another
    number of names (the line that raised is ``a, b = cache``)."""
    if problem.kind == "cache":
        return HINT_CACHE
    facts = problem.facts
    if problem.kind == "exception" and facts is not None and _UNPACK.match(facts.code or "") and (
            "unpack" in facts.message):
        return HINT_CACHE_UNPACKED
    return None


def one_pass_rule(case, problem):
    """A backward that differentiated the forward numerically (counted calls in a notebook) or ran out
    of time on a big case (graded)."""
    if problem.kind == "not one pass":
        return HINT_NOT_ONE_PASS
    if "big" in case.tags and problem.kind in ("exception", "timeout") and "longer than" in problem.message:
        return HINT_TOO_SLOW
    return None


COMMON_RULES = (dtype_rule, inplace_rule)
# the rules every exercise gets, before its own (see ``checker._hints``)
ALWAYS_RULES = (cache_rule, one_pass_rule)
