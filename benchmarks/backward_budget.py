#!/usr/bin/env python3
"""A backward is a backward: how long the big hidden case of each backward takes.

    .venv/bin/python benchmarks/backward_budget.py            # every backward of ex1-ex7
    .venv/bin/python benchmarks/backward_budget.py conv2d     # only those whose id contains "conv2d"

Each graded backward has a big hidden case (``"big"`` in its name) sized so that a backward
computed in one pass, written with the loops of the exercise (the reference answers in
``solutions/``), takes milliseconds, while central differences of the forward (two forward
passes per number) take far longer than a graded call may (``nnbook grade --timeout``, 60 s by
default). For each one this prints the time of the loop-style backward, of one forward pass, and
the finite differences: measured on the first numbers of every input, then scaled to all of
them. ReLU (a case at the kink) and dropout (the cache holds only the mask) need no big case.
Compare the ratio, not the absolute times: the machine may be shared.
"""
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after the thread setting)

from nnbook.grading.judge.cases import materialize  # noqa: E402
from nnbook.grading.judge.exercise import SETS, grading_seed  # noqa: E402
from nnbook.grading.judge.registry import EXERCISES, dout_for, reference_out  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = 200          # numbers per input actually differentiated (then scaled to all of them)


def answers(set_name):
    """The reference answers of one solution notebook, run as a learner's cells would be."""
    ns = {}
    nb = json.loads((ROOT / "solutions" / f"{set_name}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") or meta.get("grade_id") == "setup":
            exec("".join(cell["source"]), ns)
    return ns


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def finite_differences(f, arrays, dout, sample):
    """Seconds per number of central differences of ``sum(f() * dout)``, over ``sample`` numbers of each array."""
    start, done = time.perf_counter(), 0
    for a in arrays:
        flat = a.reshape(-1)
        for i in range(min(sample, flat.size)):
            old = flat[i]
            flat[i] = old + 1e-6
            plus = np.sum(f() * dout)
            flat[i] = old - 1e-6
            minus = np.sum(f() * dout)
            flat[i] = old
            _ = (plus - minus) / 2e-6
            done += 1
    return (time.perf_counter() - start) / done


def main(pattern=""):
    print(f"{'backward':22s} {'big case':55s} {'numbers':>9s} {'backward':>10s} {'forward':>9s} "
          f"{'finite differences':>19s} {'ratio':>9s}")
    for set_name, exercise_set in SETS.items():
        if set_name == "ex8_putting_it_together":
            continue
        ns = None
        for exercise_id in exercise_set.exercises:
            ex = EXERCISES[exercise_id]
            with grading_seed(None):
                big = [c for c in ex.cases(hidden=True) if "big" in c.tags]
            if not big or pattern not in exercise_id:
                continue
            ns = ns or answers(set_name)
            case = big[0]
            args, kwargs = materialize(case.args), materialize(case.kwargs)
            if ex.kind == "backward":
                forward, backward = ns[ex.forward], ns[exercise_id]
                dout = dout_for(case, reference_out(ex.ref_forward, case))
                cache = ex.cache.make(case)
                t_backward = best(lambda: backward(dout, cache))
                t_forward = best(lambda: forward(*args, **kwargs))
                arrays = [args[i] for i in ex.grad_args]

                def f():
                    return forward(*args, **kwargs)[0]
            else:                      # softmax_cross_entropy: dlogits, next to the loss
                fn = ns[exercise_id]
                t_backward = best(lambda: fn(*args))
                t_forward = t_backward
                arrays, dout = [args[0]], 1.0

                def f():
                    return fn(*args)[0]
            numbers = sum(a.size for a in arrays)
            per_number = finite_differences(f, arrays, dout, SAMPLE)
            fd = per_number * numbers
            print(f"{exercise_id:22s} {case.name:55s} {numbers:9,d} {t_backward * 1e3:8.1f} ms "
                  f"{t_forward * 1e3:7.1f} ms {fd:14,.0f} s {fd / t_backward:9,.0f}x", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:2])
