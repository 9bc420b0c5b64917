"""The gradebook (CSV) and the run's journal, written as each notebook finishes.

- :func:`write_csv`: one row per submission, text cells escaped against formula injection
  (:func:`.safe.csv_cell`), written atomically (:func:`atomic_write`: a temporary file in the
  same folder, then a rename), so a reader, or a run killed half-way, never sees half a file.
- :class:`Journal` (``grades.csv`` -> ``grades.progress.jsonl``): one JSON line per event, each
  flushed to disk: the run's options, each notebook handed out (with those graded at the same
  time), each notebook done (its whole result), and how the run stopped. ``nnbook grade
  --resume`` reads it to skip what is done; a torn last line (a run killed while writing it) is
  ignored.
"""
import csv
import dataclasses
import io
import json
import os
import tempfile
from pathlib import Path

from .safe import csv_cell

JOURNAL_VERSION = 1


def atomic_write(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _num(x):
    return int(x) if float(x).is_integer() else x


def csv_text(subs, sets):
    """Gradebook: student, file, set, one column per exercise (points), total, max, error, notes
    (cells that touch the grading machinery, second notebooks, for a human to look at), the
    hidden cases' seed and the grading mode (default or sandbox)."""
    ids = []
    for name in sorted({s.set_name for s in subs if s.set_name and s.set_name in sets}):
        ids += [g for g in sets[name].points if g not in ids]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["student", "file", "set", *ids, "total", "max", "error", "notes", "seed", "mode"])
    for s in subs:
        pts = {t.grade_id: t.points for t in s.tests}
        row = [s.student, str(s.path), s.set_name, *[_num(pts[g]) if g in pts else "" for g in ids],
               _num(s.total), _num(s.max_points), s.error, "; ".join(s.flags),
               "" if s.seed is None else s.seed, "sandbox" if s.sandboxed else "default"]
        w.writerow([csv_cell(c) for c in row])
    return buf.getvalue()


def write_csv(subs, path, sets):
    """Write the gradebook (:func:`csv_text`) to ``path``, atomically."""
    atomic_write(path, csv_text(subs, sets))


def journal_path(csv_path):
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.stem + ".progress.jsonl")


def sub_to_dict(sub):
    d = dataclasses.asdict(sub)
    d["path"] = str(sub.path)
    return d


def sub_from_dict(d):
    from ..grade import Submission, TestResult
    d = dict(d)
    tests = [TestResult(**{k: v for k, v in t.items() if k in TestResult.__dataclass_fields__})
             for t in d.pop("tests", [])]
    known = {k: v for k, v in d.items() if k in Submission.__dataclass_fields__}
    known["path"] = Path(known["path"])
    return Submission(**known, tests=tests)


class Journal:
    """The event log of a grading run (see the module docstring)."""

    def __init__(self, path):
        self.path = Path(path)

    def _append(self, record):
        line = json.dumps(record, ensure_ascii=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def begin(self, options, resumed=False):
        """A new run (the file starts anew) or, ``resumed``, a new session of the same run."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not resumed:
            atomic_write(self.path, "")
        self._append({"kind": "resume" if resumed else "run", "version": JOURNAL_VERSION, "options": options})

    def started(self, key, running):
        self._append({"kind": "start", "file": key, "running": list(running)})

    def done(self, key, sha256, sub):
        self._append({"kind": "done", "file": key, "sha256": sha256, "sub": sub_to_dict(sub)})

    def stopped(self, why):
        self._append({"kind": "stop", "why": why})

    def read(self):
        """``(options, done, strikes)``: the run's options (None when there is no run), ``{file:
        (sha256, Submission)}`` and, per file, the sessions killed while it was being graded as
        ``[alone?, ...]``."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return None, {}, {}
        options, done, strikes = None, {}, {}
        session = None

        def close(session):
            if session is not None and not session["stopped"]:
                running = [k for k in session["started"] if k not in session["done"]]
                for k in running:
                    strikes.setdefault(k, []).append(len(running) == 1)
        for line in lines:
            try:
                rec = json.loads(line)
                kind = rec["kind"]
            except Exception:
                continue                               # a torn line: the run was killed while writing it
            if kind in ("run", "resume"):
                close(session)
                if kind == "run":
                    options, done, strikes = rec.get("options"), {}, {}
                session = {"started": [], "done": set(), "stopped": False}
            elif session is None:
                continue
            elif kind == "start":
                session["started"].append(rec["file"])
            elif kind == "done":
                try:
                    done[rec["file"]] = (rec.get("sha256", ""), sub_from_dict(rec["sub"]))
                except Exception:
                    continue
                session["done"].add(rec["file"])
            elif kind == "stop":
                session["stopped"] = True
        close(session)
        return options, done, strikes
