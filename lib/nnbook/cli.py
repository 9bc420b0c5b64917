"""The ``nnbook`` command: ``workspace``, ``progress``, ``release`` and ``grade``."""
import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]     # the repository (lib/nnbook/cli.py -> repo), if a checkout

DESCRIPTION = """\
nnbook: exercises with autograding.

  nnbook workspace                             copy the exercise sets you do not have yet into workspace/
  nnbook workspace --fresh ex3                 start a set afresh (your copy is kept under a new name)
  nnbook progress                              each set in workspace/: passed, failed, not started
  nnbook release                               regenerate exercises/ from solutions/
  nnbook grade submissions/ --csv grades.csv   grade submitted notebooks

Run 'nnbook COMMAND --help' for the options of a command."""

GRADE_HELP = """\
Grade submitted exercise notebooks (files, or folders searched for *.ipynb).

Each submission's answer cells run in a fresh kernel; its test cells are restored from
solutions/ (by grade_id, so hidden tests come back and edited or deleted tests change
nothing) and run by the grader itself: it calls the learner's functions in the kernel
through a narrow channel, gets plain data back, and compares it with its own references.
A test cell earns its points when every check in it passes; a test cell whose calls take
longer than --timeout in all scores 0. nnbook's own implementations of the graded functions
raise when an answer calls them. Invalid notebooks and notebooks of another exercise set get
an error line and 0. Submitted files are never modified.

--sandbox runs each kernel under bubblewrap: no network, a read-only system, a private
/tmp, no view of the solutions, the submissions, the grader's files or nnbook's source of the
graded functions, and limits on memory, CPU time, processes and file size. Recommended for a
class. Without bubblewrap it stops with an error (it never grades unsandboxed).

Hidden cases are drawn from --seed (default: a new random seed per run, written to the
gradebook); the same --seed reproduces a run.

Prints a table per submission and a summary; with --csv writes a gradebook and, next to it,
a class report (class_report.md and .html); writes one feedback report per submission into
--feedback (Markdown or HTML).

The student's name is the file's name, or its folder's name when the file is named after
its exercise set (submissions/alice/ex3_convolution.ipynb -> alice).

examples:
  nnbook grade submissions/ --csv grades.csv --sandbox
  nnbook grade alice.ipynb bob.ipynb --timeout 20 --format html --feedback reports
  nnbook grade submissions/ --solutions course/solutions --seed 1234 --jobs 4"""

RELEASE_HELP = """\
Regenerate the learners' notebooks (exercises/) from the solutions (solutions/):
solution regions become '# YOUR CODE HERE' + 'raise NotImplementedError()', hidden tests
are removed, outputs are cleared, and cells that raise NotImplementedError when the
unanswered notebook runs are tagged raises-exception. Any other error aborts."""


WORKSPACE_HELP = """\
Your own copies of the exercise sets live in workspace/ (git ignores it; python3 dev.py lab
makes it). This copies every released set (exercises/) that workspace/ does not have yet and
never overwrites a file there. --fresh SET starts one set afresh: your copy is renamed (kept,
e.g. ex3_convolution.2025-01-31_142500.ipynb) and a fresh copy takes its place."""

PROGRESS_HELP = """\
For each exercise set in workspace/, each graded function: passed, failed (with the check's
verdict) or not started. The same checks as the notebooks' check cells (their visible cases),
run as 'nnbook grade' runs them: your notebook's cells in a fresh kernel, the checks here.
Notebooks that are still as released are not run; results of notebooks that did not change
since the last run are reused (workspace/.nnbook-progress.json)."""


def _workspace(args):
    from .workspace import main
    return main(args)


def _progress(args):
    from .grading.progress import main
    return main(args)


def _release(args):
    from .grading.notebooks.release import ReleaseError, release
    try:
        changed = release(args.solutions, args.exercises, timeout=args.timeout, check=args.check)
    except ReleaseError as exc:
        print(f"nnbook release: error: {exc}", file=sys.stderr)
        return 1
    if args.check and changed:
        print(f"nnbook release: {len(changed)} notebook(s) in {args.exercises} are out of date; "
              "run 'nnbook release' to regenerate them", file=sys.stderr)
        return 1
    return 0


def _solutions_dir(given):
    """The solutions folder: --solutions, else the checkout's solutions/, else ./solutions."""
    if given:
        return Path(given), [Path(given)]
    tried = [ROOT / "solutions", Path.cwd() / "solutions"]
    for p in tried:
        if any(p.glob("*.ipynb")):
            return p, tried
    return tried[0], tried


def _grade(args):
    from .grading.grade import SolutionsError, expand, grade_all, load_sets, new_seed, write_csv
    from .grading.report.learner import table, write_feedback
    from .grading.run.sandbox import sandbox_problem
    folder, tried = _solutions_dir(args.solutions)
    try:
        sets = load_sets(folder)
    except FileNotFoundError:
        where = ", ".join(str(p.resolve()) for p in tried)
        print(f"nnbook grade: error: no solution notebooks found (looked in {where}); "
              "pass the folder of the solution notebooks with --solutions DIR", file=sys.stderr)
        return 2
    except SolutionsError as exc:
        print(f"nnbook grade: error: {exc}", file=sys.stderr)
        return 2
    if args.set and args.set not in sets:
        print(f"nnbook grade: error: unknown exercise set {args.set!r}; known: {', '.join(sets)}", file=sys.stderr)
        return 2
    if args.sandbox:
        problem = sandbox_problem()
        if problem:
            print(f"nnbook grade: error: {problem}", file=sys.stderr)
            return 2
    files, missing = expand(args.paths)
    for m in missing:
        print(f"nnbook grade: error: {m}: no such file or folder", file=sys.stderr)
    if not files:
        print("nnbook grade: error: no notebooks to grade", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else new_seed()
    jobs = args.jobs if args.jobs else (os.cpu_count() or 1)
    start = time.monotonic()
    subs, taken = [], set()
    for sub in grade_all(files, folder, sets=sets, jobs=jobs, timeout=args.timeout, expected_set=args.set,
                         seed=seed, sandbox=args.sandbox):
        subs.append(sub)
        print(table(sub), flush=True)
        if args.feedback:
            write_feedback(sub, args.feedback, args.format, taken)
    elapsed = time.monotonic() - start
    reports = []
    if args.csv:
        from .grading.report.classreport import write_class_report
        write_csv(subs, args.csv, sets)
        reports = write_class_report(subs, sets, Path(args.csv).parent)
    errors = sum(bool(s.error) for s in subs)
    total = sum(s.total for s in subs)
    top = sum(s.max_points for s in subs)
    print(f"graded {len(subs)} notebook(s): {total:g}/{top:g} points in all"
          + (f", {errors} with errors" if errors else "")
          + (f"; gradebook {args.csv}" if args.csv else "")
          + (f"; class report {reports[0]}" if reports else "")
          + (f"; feedback in {args.feedback}/" if args.feedback else ""))
    print(f"seed {seed} ({'sandbox' if args.sandbox else 'default'} mode, {jobs} job(s), {elapsed:.1f} s)")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="nnbook", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser("grade", help="grade submitted notebooks", description=GRADE_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("paths", nargs="+", metavar="PATH", help="submitted notebook(s), or folder(s) of them")
    g.add_argument("--csv", metavar="FILE", help="write a gradebook (student, file, set, points per exercise, "
                   "total, max, error, notes)")
    g.add_argument("--timeout", type=float, default=60, metavar="SECONDS",
                   help="time limit per cell (default: 60)")
    g.add_argument("--feedback", metavar="DIR", default="feedback",
                   help="folder for the per-submission feedback reports (default: feedback; '' for none)")
    g.add_argument("--format", choices=("md", "html"), default="md",
                   help="feedback format: Markdown or HTML with pictures (default: md)")
    g.add_argument("--set", metavar="NAME", help="expected exercise set, e.g. ex3_convolution "
                   "(default: recognized from the notebook; a file named after a set must be that set)")
    g.add_argument("--solutions", default=None, metavar="DIR",
                   help="solution notebooks (default: the repository's solutions/ when run from a checkout, "
                   "else ./solutions; needed when nnbook is installed as a package)")
    g.add_argument("--sandbox", action="store_true",
                   help="run each kernel under bubblewrap (no network, read-only system, private /tmp, "
                   "no view of solutions/ or nnbook's source, resource limits); recommended for a class")
    g.add_argument("--seed", type=int, default=None, metavar="N",
                   help="seed of the hidden cases (default: random, written to the gradebook; "
                   "the same seed reproduces a run)")
    g.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="notebooks graded in parallel (default: the number of cores)")
    g.set_defaults(run=_grade)

    w = sub.add_parser("workspace", help="copy the exercise sets into your workspace/ (never overwrites)",
                       description=WORKSPACE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("--fresh", metavar="SET", help="start SET afresh, e.g. ex3 or ex3_convolution "
                   "(your copy is renamed, not deleted)")
    w.add_argument("--workspace", default=str(ROOT / "workspace"), metavar="DIR",
                   help="your workspace (default: the repository's workspace/)")
    w.add_argument("--exercises", default=str(ROOT / "exercises"), metavar="DIR",
                   help="the released sets (default: the repository's exercises/)")
    w.set_defaults(run=_workspace)

    p = sub.add_parser("progress", help="each set in workspace/: passed, failed, not started",
                       description=PROGRESS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workspace", default=str(ROOT / "workspace"), metavar="DIR",
                   help="your workspace (default: the repository's workspace/)")
    p.add_argument("--solutions", default=str(ROOT / "solutions"), metavar="DIR",
                   help="the solution notebooks, for the checks (default: the repository's solutions/)")
    p.add_argument("--exercises", default=str(ROOT / "exercises"), metavar="DIR",
                   help="the released sets (default: the repository's exercises/)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="notebooks run at a time (default: the number of cores)")
    p.add_argument("--no-cache", action="store_true", help="run every changed notebook again")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=_progress)

    r = sub.add_parser("release", help="regenerate exercises/ from solutions/", description=RELEASE_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--solutions", default=str(ROOT / "solutions"), metavar="DIR",
                   help="solution notebooks (default: the repository's solutions/)")
    r.add_argument("--exercises", default=str(ROOT / "exercises"), metavar="DIR",
                   help="where to write the learners' notebooks (default: the repository's exercises/)")
    r.add_argument("--check", action="store_true", help="only report whether exercises/ is up to date "
                   "(exit status 1 if not); write nothing")
    r.add_argument("--timeout", type=float, default=120, metavar="SECONDS",
                   help="time limit per cell when running the unanswered notebooks (default: 120)")
    r.set_defaults(run=_release)

    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
