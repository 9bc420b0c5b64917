"""How a graded kernel is started: the default mode, or ``--sandbox`` (bubblewrap).

Both modes give every kernel a fresh private folder (its working directory, HOME, temporary
folder, IPython profile and matplotlib cache) and put the overlay copy of nnbook (:func:`.guard.build_overlay`) first on
its path, so nnbook's own implementations of the graded functions raise when an answer calls them.

``--sandbox`` (Linux, ``/usr/bin/bwrap``) also runs the kernel in new namespaces:

- no network (``--unshare-all``; the kernel talks to the grader over ZeroMQ's ``ipc``
  transport, through Unix sockets in a folder bound into the sandbox);
- a read-only view of only what Python needs (``/usr``, ``/etc``, the interpreter's and the
  virtual environment's folders): the solutions, the submissions, the grader's files and the
  repository are not there at all;
- the overlay mounted over the real nnbook package when that package lies in a visible folder,
  so the source of the graded functions cannot be read and ``exec``'d;
- a private, empty, size-limited ``/tmp`` per kernel (nothing writable is shared);
- limits on memory (address space), CPU time, processes and the size of written files
  (``prlimit``).
"""
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

BWRAP = "/usr/bin/bwrap"
PRLIMIT = "/usr/bin/prlimit"


class SandboxUnavailable(RuntimeError):
    """``--sandbox`` was asked for but cannot be provided (the message says why)."""


def sandbox_problem():
    """None when the sandbox can run here, else a sentence saying why not."""
    if not sys.platform.startswith("linux"):
        return "--sandbox needs Linux (bubblewrap)"
    for tool, package in ((BWRAP, "bubblewrap"), (PRLIMIT, "util-linux")):
        if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
            return (f"--sandbox needs {tool} (Debian/Ubuntu: sudo apt-get install {package}); "
                    "nothing was graded")
    return None


@dataclass
class Limits:
    memory_mb: int = 4096          # address space of the kernel
    cpu_seconds: int = 1800        # CPU time of one kernel
    processes: int = 256           # processes and threads
    file_mb: int = 64              # largest file the kernel may write
    tmp_mb: int = 256              # size of its private /tmp


def _nnbook_copies():
    """Every nnbook package this Python could import: the one running and any on sys.path."""
    from .guard import package_dir
    found = {str(package_dir())}
    for entry in sys.path:
        candidate = Path(entry or ".") / "nnbook"
        if (candidate / "__init__.py").is_file():
            found.add(str(candidate.resolve()))
    return sorted(found)


def _mpl_cache():
    try:
        import matplotlib
        return Path(matplotlib.get_cachedir())
    except Exception:
        return None


class KernelLaunch:
    """The default mode: this Python, a private folder, the overlay first on the path."""

    sandboxed = False

    def __init__(self, overlay_dir):
        self.overlay_dir = Path(overlay_dir)
        self.home = None
        self.conn = None

    def prepare(self, tmp, env):
        """Called once per submission with its private folder ``tmp`` and the kernel's ``env``."""
        tmp = Path(tmp)
        self.home = tmp / "private"
        (self.home / "ipython").mkdir(parents=True, exist_ok=True)
        mpl = self.home / "matplotlib"
        mpl.mkdir(exist_ok=True)
        cache = _mpl_cache()
        if cache and cache.is_dir():
            for f in cache.glob("fontlist*.json"):
                shutil.copy(f, mpl / f.name)
        env["IPYTHONDIR"] = str(self.home / "ipython")
        env["MPLCONFIGDIR"] = str(mpl)
        env["PYTHONNOUSERSITE"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        (self.home / "tmp").mkdir(exist_ok=True)
        env["TMPDIR"] = str(self.home / "tmp")
        env["HOME"] = str(self.home)
        env.pop("JUPYTER_CONFIG_DIR", None)
        old = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = str(self.overlay_dir) + (os.pathsep + old if old else "")
        self.conn = tmp / "conn"
        self.conn.mkdir(exist_ok=True)

    def argv(self):
        return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]

    def configure(self, km):
        """Called on the kernel manager before the kernel starts."""


class SandboxLaunch(KernelLaunch):
    """``--sandbox``: the kernel runs under bubblewrap (see the module docstring)."""

    sandboxed = True

    def __init__(self, overlay_dir, limits=None, exercise_set=None):
        super().__init__(overlay_dir)
        self.exercise_set = exercise_set
        problem = sandbox_problem()
        if problem:
            raise SandboxUnavailable(problem)
        self.limits = limits or Limits()
        self._counter = 0

    def prepare(self, tmp, env):
        super().prepare(tmp, env)
        # inside the sandbox: a fresh /tmp; the overlay and the private folder are bound read-only
        self.inner_home = "/tmp/home"
        env["HOME"] = self.inner_home
        env["IPYTHONDIR"] = self.inner_home + "/ipython"
        env["MPLCONFIGDIR"] = self.inner_home + "/matplotlib"
        env["TMPDIR"] = "/tmp"
        env["PYTHONPATH"] = "/nnbook-overlay"
        for key in ("JPY_PARENT_PID", "VIRTUAL_ENV_PROMPT"):
            env.pop(key, None)
        self.env = env

    def _visible(self):
        """Read-only folders the kernel needs: the system's and Python's."""
        roots = ["/usr", "/etc", "/opt"]
        for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}:
            p = os.path.realpath(p)
            if not any(p == r or p.startswith(r + "/") for r in roots):
                roots.append(p)
        return [r for r in roots if os.path.isdir(r)]

    def argv(self):
        lim = self.limits
        visible = self._visible()
        cmd = [BWRAP, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
        # folders under /tmp (e.g. a venv in a checkout there) are bound after the private /tmp
        # is mounted, or the tmpfs would hide them (/tmp itself is always the private one)
        under_tmp = [r for r in visible if r.startswith("/tmp/")]
        for r in visible:
            if r not in under_tmp and r != "/tmp":
                cmd += ["--ro-bind", r, r]
        for link in ("bin", "lib", "lib64", "lib32", "sbin"):
            p = Path("/" + link)
            if p.is_symlink():
                cmd += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir() and str(p) not in visible:
                cmd += ["--ro-bind", str(p), str(p)]
        cmd += ["--dev", "/dev", "--proc", "/proc", "--size", str(lim.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp",
                "--ro-bind", str(self.home), "/tmp/.home-template",
                "--ro-bind", str(self.overlay_dir), "/nnbook-overlay"]
        for r in under_tmp:
            cmd += ["--ro-bind", r, r]
        # the real nnbook package, if it lies in a visible folder, is replaced by the overlay
        for real in _nnbook_copies():
            if any(real.startswith(r + "/") for r in visible):
                cmd += ["--ro-bind", str(self.overlay_dir / "nnbook"), real]
        cmd += ["--bind", str(self.conn), str(self.conn), "--chdir", "/tmp"]
        for key in ("HOME", "IPYTHONDIR", "MPLCONFIGDIR", "TMPDIR", "PYTHONPATH", "PYTHONNOUSERSITE",
                    "PYTHONDONTWRITEBYTECODE"):
            cmd += ["--setenv", key, self.env[key]]
        cmd += ["--unsetenv", "JPY_PARENT_PID", "--"]
        cmd += [PRLIMIT, f"--as={lim.memory_mb * 1024 * 1024}", f"--cpu={lim.cpu_seconds}",
                f"--nproc={lim.processes}", f"--fsize={lim.file_mb * 1024 * 1024}", "--core=0"]
        # copy the prepared matplotlib cache into the private home, then start the kernel
        start = ("import os, shutil, sys; h = os.environ['HOME']; "
                 "shutil.copytree('/tmp/.home-template', h, dirs_exist_ok=True); "
                 "os.makedirs(os.environ['MPLCONFIGDIR'], exist_ok=True); "
                 "sys.argv = ['ipykernel_launcher'] + sys.argv[1:]; "
                 "import runpy; runpy.run_module('ipykernel_launcher', run_name='__main__')")
        return cmd + [sys.executable, "-c", start, "-f", "{connection_file}"]

    def configure(self, km):
        self._counter += 1
        km.transport = "ipc"
        km.ip = str(self.conn / f"k{self._counter}")
        km.connection_file = str(self.conn / f"kernel{self._counter}.json")


def make_launch(overlay_dir, sandbox=False, limits=None, exercise_set=None):
    return SandboxLaunch(overlay_dir, limits, exercise_set) if sandbox else KernelLaunch(overlay_dir)


def fresh_dir(prefix="nnbook-overlay-"):
    return Path(tempfile.mkdtemp(prefix=prefix))
