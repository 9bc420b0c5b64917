"""The ``nnbook`` command: ``nnbook release`` and ``nnbook grade``."""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]     # the repository (lib/nnbook/cli.py -> repo)

DESCRIPTION = """\
nnbook: exercises with autograding.

  nnbook release                               regenerate exercises/ from solutions/
  nnbook grade submissions/ --csv grades.csv   grade submitted notebooks

Run 'nnbook COMMAND --help' for the options of a command."""

GRADE_HELP = """\
Grade submitted exercise notebooks (files, or folders searched for *.ipynb).

Each submission runs in a fresh kernel with every test cell restored from solutions/
(by grade_id), so hidden tests come back and edited or deleted tests change nothing.
A test cell earns its points when it runs without an error; a cell that runs longer
than --timeout is interrupted and scores 0. Invalid notebooks and notebooks of another
exercise set get an error line and 0. Submitted files are never modified.

Prints a table per submission and a summary; with --csv writes a gradebook; writes one
feedback report per submission into --feedback (Markdown or HTML).

The student's name is the file's name, or its folder's name when the file is named after
its exercise set (submissions/alice/ex3_convolution.ipynb -> alice).

examples:
  nnbook grade submissions/ --csv grades.csv
  nnbook grade alice.ipynb bob.ipynb --timeout 20 --format html --feedback reports"""

RELEASE_HELP = """\
Regenerate the learners' notebooks (exercises/) from the solutions (solutions/):
solution regions become '# YOUR CODE HERE' + 'raise NotImplementedError()', hidden tests
are removed, outputs are cleared, and cells that raise NotImplementedError when the
unanswered notebook runs are tagged raises-exception. Any other error aborts."""


def _release(args):
    from .grading.release import ReleaseError, release
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


def _grade(args):
    from .grading.grader import expand, grade_notebook, load_sets, write_csv
    from .grading.report import table, write_feedback
    try:
        sets = load_sets(args.solutions)
    except FileNotFoundError as exc:
        print(f"nnbook grade: error: {exc}", file=sys.stderr)
        return 2
    if args.set and args.set not in sets:
        print(f"nnbook grade: error: unknown exercise set {args.set!r}; known: {', '.join(sets)}", file=sys.stderr)
        return 2
    files, missing = expand(args.paths)
    for m in missing:
        print(f"nnbook grade: error: {m}: no such file or folder", file=sys.stderr)
    if not files:
        print("nnbook grade: error: no notebooks to grade", file=sys.stderr)
        return 2
    subs, taken = [], set()
    for path in files:
        sub = grade_notebook(path, sets, timeout=args.timeout, expected_set=args.set)
        subs.append(sub)
        print(table(sub), flush=True)
        if args.feedback:
            write_feedback(sub, args.feedback, args.format, taken)
    if args.csv:
        write_csv(subs, args.csv, sets)
    errors = sum(bool(s.error) for s in subs)
    total = sum(s.total for s in subs)
    top = sum(s.max_points for s in subs)
    print(f"graded {len(subs)} notebook(s): {total:g}/{top:g} points in all"
          + (f", {errors} with errors" if errors else "")
          + (f"; gradebook {args.csv}" if args.csv else "")
          + (f"; feedback in {args.feedback}/" if args.feedback else ""))
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
    g.add_argument("--solutions", default=str(ROOT / "solutions"), metavar="DIR",
                   help="solution notebooks (default: the repository's solutions/)")
    g.set_defaults(run=_grade)

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
