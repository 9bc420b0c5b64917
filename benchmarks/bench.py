#!/usr/bin/env python3
"""Speed of nnbook's layers next to a naive loop version and PyTorch (CPU), in one run.

    python3 dev.py bench                 # all shapes, one BLAS/torch thread (as in the book)
    python3 dev.py bench --threads 2     # both libraries on 2 threads
    python3 dev.py bench --quick         # tiny shapes, to check that the script runs
    python3 dev.py bench --check         # only: how long check() takes on loop-style answers

Each cell is the best of several forward+backward passes, float32, every library given
the same random upstream gradient; nnbook and PyTorch take turns within each round. The
naive loop version (nnbook.naive, written as a learner first writes it) is timed on one
image and scaled by the batch size. PyTorch is optional (``pip install torch==2.13.0``).
Compare the ratios, not the absolute times: the machine may be shared.

``--check`` times ``nnbook.grading.evaluate`` (what ``check()`` runs, plus rendering its text
and HTML tables) on the mistake catalog of tests/catalog: for every graded function of ex1-ex7,
the correct answer written as a learner writes it (loops), on the visible and the hidden cases,
and each catalog mistake (one slip), whose failing cases also run the mistake detectors. It
exits non-zero when a correct answer fails or a mistake passes. The target is under about 2 s
per check on the 2-core development machine.
"""
import argparse
import os
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed rounds per cell, the best is kept (default 15; 3 with --check)")
    p.add_argument("--quick", action="store_true",
                   help="tiny shapes and no training (smoke test); with --check, one mistake per function")
    p.add_argument("--no-train", action="store_true", help="skip the ResNet training benchmark")
    p.add_argument("--check", action="store_true", help="only the latency of check() on loop-style answers")
    return p.parse_args()


ARGS = parse()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402  (after the thread settings)

import nnbook  # noqa: E402
from nnbook import functional as F  # noqa: E402
from nnbook import naive  # noqa: E402

try:
    import torch
    torch.set_num_threads(ARGS.threads)
except ImportError:
    torch = None

# name, op, input shape, op arguments
CASES = [
    ("conv 3x3, 32x64x32x32 -> 64", "conv", (32, 64, 32, 32), dict(F=64, k=3, stride=1, padding=1)),
    ("conv 3x3, 64x16x14x14 -> 32", "conv", (64, 16, 14, 14), dict(F=32, k=3, stride=1, padding=1)),
    ("conv 3x3, 64x1x28x28 -> 16", "conv", (64, 1, 28, 28), dict(F=16, k=3, stride=1, padding=1)),
    ("conv 1x1/2 proj, 32x64x32x32 -> 128", "conv", (32, 64, 32, 32), dict(F=128, k=1, stride=2, padding=0)),
    ("maxpool 2x2, 64x16x28x28", "maxpool", (64, 16, 28, 28), dict(k=2)),
    ("linear, 128x784 -> 256", "linear", (128, 784), dict(M=256)),
]
QUICK = [
    ("conv 3x3, 2x3x8x8 -> 4", "conv", (2, 3, 8, 8), dict(F=4, k=3, stride=1, padding=1)),
    ("maxpool 2x2, 2x3x8x8", "maxpool", (2, 3, 8, 8), dict(k=2)),
    ("linear, 4x10 -> 3", "linear", (4, 10), dict(M=3)),
]


def best_times(fns, repeat):
    """Best wall time of each function over ``repeat`` rounds, the functions taking turns
    within a round, so that a slow spell of a shared machine hits all of them alike."""
    for fn in fns:
        fn()                                                   # warm-up: caches, work arrays
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def make_inputs(op, shape, a, rng):
    x = rng.standard_normal(shape, dtype=np.float32)
    if op == "conv":
        W = rng.standard_normal((a["F"], shape[1], a["k"], a["k"]), dtype=np.float32)
        return x, W, rng.standard_normal(a["F"], dtype=np.float32)
    if op == "linear":
        return x, rng.standard_normal((shape[1], a["M"]), dtype=np.float32), rng.standard_normal(a["M"], dtype=np.float32)
    return (x,)


def forward_backward(lib, op, inputs, a):
    """``(forward, backward)`` of one op from ``lib`` (the functional or the naive module)."""
    if op == "conv":
        return (lambda: lib.conv2d_forward(*inputs, a["stride"], a["padding"]), lib.conv2d_backward)
    if op == "maxpool":
        return (lambda: lib.maxpool2d_forward(inputs[0], a["k"]), lib.maxpool2d_backward)
    return (lambda: lib.linear_forward(*inputs), lib.linear_backward)


def runner(lib, op, inputs, a, dout):
    """A function running one forward+backward pass with ``lib``; ``dout`` is the upstream gradient."""
    forward, backward = forward_backward(lib, op, inputs, a)

    def run():
        out, cache = forward()
        backward(dout, cache)
    return run


def torch_runner(op, inputs, a, dout):
    ts = [torch.tensor(v, requires_grad=True) for v in inputs]
    grad = torch.tensor(dout)
    TF = torch.nn.functional

    def run():
        if op == "conv":
            out = TF.conv2d(ts[0], ts[1], ts[2], a["stride"], a["padding"])
        elif op == "maxpool":
            out = TF.max_pool2d(ts[0], a["k"])
        else:
            out = ts[0] @ ts[1] + ts[2]
        out.backward(grad)
    return run


def bench_layers(cases, repeat):
    rng = np.random.default_rng(0)
    rows = []
    for name, op, shape, a in cases:
        inputs = make_inputs(op, shape, a, rng)
        out, _ = forward_backward(F, op, inputs, a)[0]()
        dout = rng.standard_normal(out.shape, dtype=np.float32)             # the same gradient for all
        fns = [runner(F, op, inputs, a, dout)] + ([torch_runner(op, inputs, a, dout)] if torch else [])
        ours, ref = (best_times(fns, repeat) + [None])[:2]
        one = tuple(v[:1] if i == 0 else v for i, v in enumerate(inputs))      # naive: one image, scaled
        loop = best_times([runner(naive, op, one, a, dout[:1])], 1)[0] * shape[0]
        rows.append((name, ours, loop, ref))
    print(f"\nforward + backward, float32, {ARGS.threads} thread(s); best of {repeat}")
    head = f"{'operation':38s} {'nnbook':>10s} {'naive loops':>12s} {'PyTorch':>10s} {'nnbook/PyTorch':>15s} {'naive/nnbook':>13s}"
    print(head)
    print("-" * len(head))
    for name, ours, loop, ref in rows:
        ref_s = f"{ref * 1e3:8.2f}ms" if ref else "       n/a"
        ratio = f"{ours / ref:14.2f}x" if ref else "            n/a"
        print(f"{name:38s} {ours * 1e3:8.2f}ms {loop * 1e3:10.1f}ms {ref_s} {ratio} {loop / ours:12.0f}x")
    return rows


def bench_training():
    X, y, Xt, yt = nnbook.data.load_digits()
    model = nnbook.models.small_resnet(rng=np.random.default_rng(0))
    t = time.perf_counter()
    nnbook.fit(model, X, y, epochs=8, batch_size=32, lr=0.1, momentum=0.9, weight_decay=5e-4,
               lr_schedule="cosine", seed=0, progress=False)
    seconds = time.perf_counter() - t
    _, acc = nnbook.evaluate(model, Xt, yt)
    print(f"\nsmall ResNet ({model.num_parameters():,} parameters) on the 8x8 digits, 8 epochs: "
          f"test accuracy {acc:.1%} ({len(yt)} test images) in {seconds:.1f} s of training")
    return acc, seconds


# --- grading latency: check() on answers written the way a learner writes them ------------------------

def _catalog():
    """The mistake catalog (tests/catalog/): loop-style correct answers and one-slip mistakes of ex1-ex7."""
    tests = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from catalog import slips
    return slips


def _ms(seconds):
    return f"{seconds * 1e3:.0f}ms"


def bench_grading(repeat, quick=False):
    """How long ``check()`` takes (``evaluate()`` and both renderings of its report) on the mistake catalog's
    answers: each graded function's correct loop-style answer (visible and hidden cases, best of ``repeat``),
    which must pass, and its catalog mistakes (visible cases, each timed once; ``quick``: the first only),
    which must fail. Returns the number of answers judged wrongly (a correct answer that fails, a mistake
    that passes)."""
    import warnings

    from nnbook.grading import evaluate
    slips = _catalog()
    warnings.simplefilter("ignore", RuntimeWarning)      # a mistake's overflow is its check's business

    def timed(entry, hidden, rounds):
        """The report of the entry's check and its best time over ``rounds`` (the first one included)."""
        fn, forward = entry.function(), slips.forward_for(entry)
        best = float("inf")
        for _ in range(rounds):
            t = time.perf_counter()
            report = evaluate(entry.exercise, fn, forward, hidden)
            report.text(), report.html()
            best = min(best, time.perf_counter() - t)
        return report, best

    print(f"\ncheck() latency on the mistake catalog (tests/catalog): evaluate() + text and HTML tables; "
          f"correct answers best of {repeat}, each mistake timed once (target: under about 2 s)")
    head = (f"{'exercise':24s} {'correct: visible':>20s} {'hidden':>16s}   "
            f"{'mistakes: failed':>16s} {'named 1st':>9s} {'median':>7s} {'max':>7s}")
    print(head)
    print("-" * len(head))
    wrong, times, counts = 0, {"correct": [], "mistake": []}, [0, 0, 0]
    for set_name in slips.SETS:
        cat = slips.load(set_name)
        for exercise, entry in cat.correct_entries.items():
            cells = []
            for hidden in (False, True):
                report, seconds = timed(entry, hidden, repeat)
                times["correct"].append(seconds)
                wrong += not report.passed
                cells.append(f"{report.n_passed}/{len(report.results)} {_ms(seconds)}")
            mistakes = [e for e in cat.mistakes if e.exercise == exercise][:1 if quick else None]
            failed = named = 0
            spent = []
            for m in mistakes:
                report, seconds = timed(m, False, 1)
                spent.append(seconds)
                failed += not report.passed
                named += report.mistake_ids[:1] == [m.cause]
            wrong += len(mistakes) - failed
            times["mistake"] += spent
            counts = [counts[0] + len(mistakes), counts[1] + failed, counts[2] + named]
            spent.sort()
            print(f"{exercise:24s} {cells[0]:>20s} {cells[1]:>16s}   {f'{failed}/{len(mistakes)}':>16s} "
                  f"{named:>9d} {_ms(spent[len(spent) // 2]):>7s} {_ms(spent[-1]):>7s}")
    c, m = sorted(times["correct"]), sorted(times["mistake"])
    print(f"correct answers: {len(c)} checks, median {_ms(c[len(c) // 2])}, max {_ms(c[-1])}; "
          f"mistakes: {counts[0]} checks, {counts[1]} failed, {counts[2]} named by their first hint, "
          f"median {_ms(m[len(m) // 2])}, max {_ms(m[-1])}")
    if wrong:
        print(f"WRONG: {wrong} answers judged wrongly (a correct answer failed or a mistake passed)")
    t = time.perf_counter()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    imported = time.perf_counter() - t
    flipped = next(e for e in slips.load("ex3_convolution").mistakes if e.id == "conv2d_backward/flipped_kernel")
    picture = min(_picture_seconds(flipped.function(), slips.forward_for(flipped)) for _ in range(max(1, repeat)))
    print(f"the difference picture of a failing check (notebook): {_ms(picture)} "
          f"(+ {imported:.1f} s to import matplotlib, the first time)")
    return wrong


def _picture_seconds(fn, forward):
    """A failing check in a notebook: evaluate() and drawing expected | got | difference as a PNG."""
    import io

    import matplotlib.pyplot as plt

    from nnbook.grading import evaluate
    from nnbook.grading.judge.checker import difference_figure
    t = time.perf_counter()
    report = evaluate("conv2d_backward", fn, forward)
    problem = next(p for r in report.results for p in r.problems if p.image_like)
    fig = difference_figure(problem, "conv2d_backward")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    return time.perf_counter() - t


def main():
    print(f"nnbook {nnbook.__version__}, numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else ", torch not installed"))
    if ARGS.check:
        return 1 if bench_grading(ARGS.repeat if ARGS.repeat is not None else 3, quick=ARGS.quick) else 0
    repeat = ARGS.repeat if ARGS.repeat is not None else 15
    bench_layers(QUICK if ARGS.quick else CASES, repeat)
    if not (ARGS.quick or ARGS.no_train):
        bench_training()
    return 0


if __name__ == "__main__":
    sys.exit(main())
