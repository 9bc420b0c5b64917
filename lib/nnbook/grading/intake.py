"""Which submitted files are graded, how they are read, and whose they are (``nnbook grade``).

A submission arrives as a file in a folder that learners (or a zip or tar upload) filled, so
every file is hostile until read:

- **Only regular files are graded.** Symbolic links (to a file or to a folder), FIFOs, sockets,
  devices and files over the size limit get a row with 0 and a one-line reason; they are never
  opened for reading. Files are opened with ``O_NOFOLLOW | O_NONBLOCK`` from a descriptor of the
  submissions folder, one folder at a time, and checked again on the open descriptor, so a link
  swapped in after the folder was listed is refused too.
- **A notebook must be one.** UTF-8, JSON, the cells' structure (each cell a dict with a known
  ``cell_type``, text ``source``, ...), then nbformat's schema; the first problem is the reason.
- **Identity comes from the submission's place**: the first folder under the submissions folder
  (``submissions/mallory/alice.ipynb`` is mallory's), or the file's name in a flat folder (a file
  named after an exercise set takes the name of the folder that holds it). **The set comes from
  the notebook** (its grade_ids). A second notebook for the same learner and set is not graded:
  its row says which one was, and the graded one carries a note.
- Every file is read and fingerprinted (SHA-256) before any learner code runs; when its turn
  comes it is read again and refused if it changed since.
"""
import errno
import hashlib
import json
import logging
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_MB = 20                     # default size limit of a submitted notebook
MAX_DEPTH = 32                  # folders below the submissions folder that are searched
CELL_TYPES = ("code", "markdown", "raw")


class Refused(Exception):
    """The file is not graded; ``str(exc)`` is the one-line reason."""


@dataclass
class Found:
    """A file met while looking for submissions: ``root`` is the folder it was found under,
    ``rel`` its path below that folder (a tuple of names); ``refused`` is set when the file
    is not graded whatever it holds (a symbolic link, a FIFO, ...)."""
    root: Path
    rel: tuple
    refused: str = ""

    @property
    def path(self):
        return self.root.joinpath(*self.rel)


@dataclass
class Entry:
    """One row of the gradebook to be: a file, whose it is, its set, and whether it is graded."""
    found: Found
    student: str
    set_name: str = ""
    refused: str = ""            # why the file gets 0 without being graded
    sha256: str = ""
    notes: list = field(default_factory=list)

    @property
    def path(self):
        return self.found.path


def _kind(mode):
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def _link_reason(path, folder=False):
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    target = target if len(target) <= 120 else target[:117] + "..."
    what = "a folder, " if folder else ""
    return f"refused: a symbolic link (to {what}{target}); only regular files are graded"


def _file_reason(st, max_bytes):
    """Why a file with this ``lstat`` is not graded, or ''."""
    if stat.S_ISLNK(st.st_mode):
        return "refused: a symbolic link; only regular files are graded"
    if not stat.S_ISREG(st.st_mode):
        return f"refused: {_kind(st.st_mode)}, not a regular file; only regular files are graded"
    if st.st_size > max_bytes:
        return (f"refused: {st.st_size / 1e6:.1f} MB, larger than the limit of {max_bytes / 1e6:g} MB "
                "(--max-size)")
    return ""


def find(paths, max_bytes=MAX_MB * 1_000_000):
    """``(found, missing)``: the notebooks under ``paths`` (folders are searched recursively
    without following symbolic links), in order.

    A folder named on the command line is the teacher's choice and is used even when it is a
    symbolic link; below it nothing is followed: a linked folder and a linked, special or
    oversized ``*.ipynb`` are returned with ``refused`` set. Files named on the command line
    share one root, their common folder (so ``submissions/*/*.ipynb`` names learners by
    folder, as ``submissions/`` does); a named file that is a link is refused too.
    """
    found, missing, files = [], [], []
    for p in map(Path, paths):
        try:
            st = os.lstat(p)
        except OSError:
            missing.append(p)
            continue
        if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode) and p.is_dir():
            found += _walk(p, (), max_bytes)
        else:
            files.append(p)
    if files:
        files = [f for f in files if os.path.lexists(f)]
        relative = all(not f.is_absolute() for f in files)
        parents = [os.path.normpath(f.parent) if relative else os.path.abspath(f.parent) for f in files]
        root = Path(os.path.commonpath(parents) or ".")
        for f in files:
            rel = tuple(Path(os.path.relpath(os.path.normpath(f) if relative else os.path.abspath(f), root)).parts)
            try:
                st = os.lstat(f)
                reason = _link_reason(f) if stat.S_ISLNK(st.st_mode) else _file_reason(st, max_bytes)
            except OSError as exc:
                reason = f"refused: the file cannot be read ({exc.strerror})"
            found.append(Found(root, rel, reason))
    return found, missing


def _walk(root, rel, max_bytes):
    folder = root.joinpath(*rel)
    if len(rel) > MAX_DEPTH:
        return [Found(root, rel, f"refused: more than {MAX_DEPTH} folders deep; not searched")]
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        return [Found(root, rel, f"refused: the folder cannot be read ({exc.strerror})")] if rel else []
    out = []
    for e in entries:
        if e.name == ".ipynb_checkpoints":
            continue
        sub = rel + (e.name,)
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            try:
                to_folder = stat.S_ISDIR(os.stat(e.path).st_mode)      # stat only: nothing is opened
            except OSError:
                to_folder = False
            if to_folder or e.name.endswith(".ipynb"):
                out.append(Found(root, sub, _link_reason(e.path, to_folder)))
        elif stat.S_ISDIR(st.st_mode):
            out += _walk(root, sub, max_bytes)
        elif e.name.endswith(".ipynb"):
            out.append(Found(root, sub, _file_reason(st, max_bytes)))
    return out


def read_bytes(found, max_bytes=MAX_MB * 1_000_000):
    """The file's bytes, opened folder by folder from its root without following any link
    (``O_NOFOLLOW``), without blocking (``O_NONBLOCK``: a FIFO is never waited on) and checked
    on the open descriptor; raises :class:`Refused`."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    flags_dir = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = None
    try:
        fd = os.open(found.root, flags_dir)
        for part in found.rel[:-1]:
            try:
                nxt = os.open(part, flags_dir | nofollow, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise Refused(f"refused: {part} is a symbolic link or not a folder; "
                                  "only regular files are graded") from None
                raise
            os.close(fd)
            fd = nxt
        try:
            st = os.stat(found.rel[-1], dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            raise Refused(f"refused: the file cannot be read ({exc.strerror})") from None
        reason = _file_reason(st, max_bytes)
        if reason:
            raise Refused(reason)
        try:
            ffd = os.open(found.rel[-1], os.O_RDONLY | nofollow | getattr(os, "O_NONBLOCK", 0)
                          | getattr(os, "O_CLOEXEC", 0), dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Refused("refused: a symbolic link; only regular files are graded") from None
            raise Refused(f"refused: the file cannot be read ({exc.strerror})") from None
        try:
            st2 = os.fstat(ffd)
            reason = _file_reason(st2, max_bytes)
            if reason or (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino):
                raise Refused(reason or "refused: the file was replaced while it was being read")
            chunks, size = [], 0
            while size <= max_bytes:
                chunk = os.read(ffd, min(1 << 20, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > max_bytes:
                raise Refused(f"refused: larger than the limit of {max_bytes / 1e6:g} MB (--max-size)")
            return b"".join(chunks)
        finally:
            os.close(ffd)
    except Refused:
        raise
    except OSError as exc:
        raise Refused(f"refused: the file cannot be read ({exc.strerror or exc})") from None
    finally:
        if fd is not None:
            os.close(fd)


def _type_name(value):
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _structure(data):
    """The first structural problem of a notebook's JSON (as nbformat 4 expects it), or ''."""
    if not isinstance(data, dict):
        return f"the file holds {_type_name(data)}, not a notebook object"
    version = data.get("nbformat")
    if type(version) is not int or version not in (3, 4):
        return f"'nbformat' is {version!r}; expected 4 (or 3)"
    if version == 3:
        return ""                                  # old format: nbformat's own schema decides
    cells = data.get("cells")
    if not isinstance(cells, list):
        return f"'cells' is {_type_name(cells)}, not a list of cells"
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            return f"cell {i} is {_type_name(cell)}, not a cell object"
        kind = cell.get("cell_type")
        if kind not in CELL_TYPES:
            return f"cell {i} has cell_type {str(kind)[:40]!r}; expected code, markdown or raw"
        src = cell.get("source")
        if not (isinstance(src, str) or isinstance(src, list) and all(isinstance(s, str) for s in src)):
            return f"cell {i}: 'source' is {_type_name(src)}, not text (a string or a list of strings)"
        if not isinstance(cell.get("metadata"), dict):
            return f"cell {i}: 'metadata' is {_type_name(cell.get('metadata'))}, not an object"
        if kind == "code" and not isinstance(cell.get("outputs"), list):
            return f"cell {i}: a code cell without a list of 'outputs'"
    if not isinstance(data.get("metadata"), dict):
        return f"'metadata' is {_type_name(data.get('metadata'))}, not an object"
    return ""


def parse(data):
    """A validated nbformat-4 notebook from a file's bytes; raises :class:`Refused` with the reason."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("not a notebook: the file is not UTF-8 text") from None
    try:
        raw = json.loads(text)
    except RecursionError:
        raise Refused("not a valid notebook (JSON): nested too deeply") from None
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Refused(f"not a valid notebook (JSON): {first[:200]}") from None
    problem = _structure(raw)
    if problem:
        raise Refused(f"not a valid notebook: {problem}")
    quiet = logging.getLogger("traitlets")
    level = quiet.level
    try:
        quiet.setLevel(logging.CRITICAL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
            nbformat.validate(nb)
    except RecursionError:
        raise Refused("not a valid notebook (nbformat): nested too deeply") from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = getattr(exc, "path", None) or getattr(exc, "absolute_path", None)
        at = "".join(f"[{p!r}]" for p in list(where or [])[:6])
        raise Refused(f"not a valid notebook (nbformat): {first[:160]}" + (f" at {at}" if at else "")) from None
    finally:
        quiet.setLevel(level)
    return nb


def student_of(found, set_names=()):
    """Whose submission: the first folder under the root, else the file's name (a file named
    after an exercise set: the name of the root folder that holds it)."""
    if len(found.rel) > 1:
        return found.rel[0]
    stem = Path(found.rel[0]).stem if found.rel[0].endswith(".ipynb") else found.rel[0]
    if stem in set_names and found.root.name:
        return Path(os.path.abspath(found.root)).name
    return stem


def examine(found, sets, expected_set=None, max_bytes=MAX_MB * 1_000_000, detect=None):
    """One :class:`Entry` per found file, in order: read, parse, identify, detect the set, and
    mark the second and later notebooks of the same (learner, set).

    ``detect(nb, sets) -> name or None`` finds the exercise set; ``expected_set`` (``--set``),
    or a file named after a set, must match it.
    """
    entries, first = [], {}
    for f in found:
        entry = Entry(f, student_of(f, sets))
        entries.append(entry)
        if f.refused:
            entry.refused = f.refused
            continue
        try:
            data = read_bytes(f, max_bytes)
            entry.sha256 = hashlib.sha256(data).hexdigest()
            nb = parse(data)
        except Refused as exc:
            entry.refused = str(exc)
            continue
        except Exception as exc:                   # never stop the run for one file
            entry.refused = f"not graded: the file could not be read ({type(exc).__name__}: {str(exc)[:150]})"
            continue
        name = detect(nb, sets) if detect else None
        if name is None:
            entry.refused = "not one of the exercise sets (none of its cells has a grade_id from solutions/)"
            continue
        entry.set_name = name
        stem = Path(f.rel[-1]).stem
        wanted = expected_set or (stem if stem in sets else None)
        if wanted and wanted != name:
            entry.refused = f"wrong exercise set: expected {wanted}, but the notebook is {name}"
            continue
        key = (entry.student, name)
        if key in first:
            other = first[key]
            entry.refused = (f"a second notebook for {entry.student} and {name}: not graded; "
                             f"{'/'.join(other.found.rel)} is (look at both by hand)")
            other.notes.append(f"{entry.student} also handed in {'/'.join(f.rel)} for {name} (not graded)")
        else:
            first[key] = entry
    return entries


def load(entry, max_bytes=MAX_MB * 1_000_000):
    """The entry's notebook, read again when its turn comes (refused if it changed since)."""
    data = read_bytes(entry.found, max_bytes)
    if entry.sha256 and hashlib.sha256(data).hexdigest() != entry.sha256:
        raise Refused("refused: the file changed while the class was being graded")
    return data
