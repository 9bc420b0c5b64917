"""How a graded kernel is started: the default mode, or ``--sandbox`` (bubblewrap).

Both modes give every kernel a fresh private folder (its working directory, HOME, temporary
folder, IPython profile and matplotlib cache) and put the overlay copy of nnbook
(:func:`.guard.build_overlay`) first on its path, so what the exercise set does not allow raises
when an answer calls it.

``--sandbox`` (Linux on x86_64 or aarch64; ``/usr/bin/bwrap``, ``prlimit`` and, when the grader runs
as root, ``setpriv``) runs the kernel in new namespaces, whatever user runs the grader:

- **no network** (its own network namespace); the kernel talks to the grader over ZeroMQ's ``ipc``
  transport, through Unix sockets in the kernel's own ``/tmp``, which the grader reaches through
  ``/proc/<pid>/root`` of the sandbox: nothing on the host's disk is writable by the kernel. The
  grader connects once, before any learner code runs, and never reconnects
  (:meth:`SandboxLaunch.configure`), so the kernel cannot point it at another socket;
- **a cleared environment**: only the variables listed in :data:`KERNEL_ENV` and the thread
  settings (:data:`PASSED_ENV`) reach it, so the grader's tokens and passwords do not;
- **an unprivileged user**: when the grader runs as root, the kernel runs as a user id of its own
  (:func:`kernel_uid`: no account has it, no file belongs to it, and two kernels never share it),
  with no capabilities; otherwise as the grader's user in a user namespace (uid 65534 inside);
- **a read-only view of only what Python needs**: ``/usr``, the interpreter's and the virtual
  environment's folders, and of ``/etc`` only the few files the kernel reads (:data:`ETC_FILES`;
  ``passwd`` and ``group`` are written fresh, naming only root and the kernel's user). The
  solutions, the submissions, the grader's files and the repository are not there at all, and of
  the installed Python packages only those the kernel, numpy, matplotlib and the exercise set need
  (:func:`packages_for`): PyTorch, SciPy, scikit-learn (unless the set declares it) and every other
  installed library are hidden;
- the overlay mounted over the real nnbook package where that package lies in a visible folder,
  so the source of what is not allowed cannot be read and ``exec``'d;
- **size-capped writable places only**: a private ``/tmp`` (HOME, the sockets) and ``/dev/shm``,
  each a size-limited tmpfs; everything else is read-only;
- **one process per submission**: a seccomp filter refuses ``fork``, ``vfork`` and ``clone``
  without ``CLONE_THREAD`` (:func:`no_fork_filter`), so the limits of that one process bind the
  whole submission: its memory (address space of all its threads), its CPU time, and the number
  of its threads (``RLIMIT_NPROC``, counted for the kernel's own user id as root, or in its own
  user namespace otherwise); written file size and open files are limited too (``prlimit``).

Why not cgroups: a grader without root rarely may create them (this machine's cgroup v1 is writable
by root only), while a filter, limits and namespaces bind the same way for every user. What remains
shared: CPU time and memory bandwidth with the other jobs, and the memory of ``--jobs`` kernels
together (each up to ``memory_mb`` + ``tmp_mb`` + ``shm_mb``).
"""
import functools
import json
import os
import platform
import re
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BWRAP = "/usr/bin/bwrap"
PRLIMIT = "/usr/bin/prlimit"
SETPRIV = "/usr/bin/setpriv"
SH = "/bin/sh"

# The only environment a sandboxed kernel gets (SandboxLaunch.environment), plus PASSED_ENV.
KERNEL_ENV = {"HOME": "/tmp/home", "IPYTHONDIR": "/tmp/home/ipython", "MPLCONFIGDIR": "/tmp/home/matplotlib",
              "TMPDIR": "/tmp", "PYTHONPATH": "/nnbook-overlay", "PYTHONNOUSERSITE": "1",
              "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "NNBOOK_GRADING": "1"}
# copied from the grader's environment when they are plain numbers (one BLAS thread, as the tests run)
PASSED_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# what the kernel reads from /etc (found with strace on a graded run): the dynamic loader's cache,
# and the time zone; passwd and group are written fresh
ETC_FILES = ("ld.so.cache", "localtime")
# distributions every sandboxed kernel may import (with what they require)
KERNEL_PACKAGES = ("ipykernel", "numpy", "matplotlib", "tqdm")
UID_BASE = 0x70000000           # user ids of sandboxed kernels when the grader is root (see kernel_uid)
INNER = "/tmp/.nnbook"          # inside the sandbox: the connection file and the kernel's sockets
NEVER_MS = 2**31 - 1            # ZeroMQ's reconnect interval for the grader's sockets: about 25 days


class SandboxUnavailable(RuntimeError):
    """``--sandbox`` was asked for but cannot be provided (the message says why)."""


def _root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def sandbox_problem():
    """None when the sandbox can run here, else a sentence saying why not."""
    if not sys.platform.startswith("linux"):
        return "--sandbox needs Linux (bubblewrap)"
    if _arch() is None:
        return (f"--sandbox needs Linux on x86_64 or aarch64 (the filter that keeps a submission to one "
                f"process), not {platform.machine()}; nothing was graded")
    tools = [(BWRAP, "bubblewrap"), (PRLIMIT, "util-linux")] + ([(SETPRIV, "util-linux")] if _root() else [])
    for tool, package in tools:
        if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
            return (f"--sandbox needs {tool} (Debian/Ubuntu: sudo apt-get install {package}); "
                    "nothing was graded")
    version = _bwrap_version()
    if version is not None and version < (0, 5):
        return (f"--sandbox needs bubblewrap 0.5 or newer (--perms, --size), found "
                f"{'.'.join(map(str, version))}; nothing was graded")
    return None


@functools.lru_cache(maxsize=1)
def _bwrap_version():
    import subprocess
    try:
        out = subprocess.run([BWRAP, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)\.(\d+)", out)
    return (int(found.group(1)), int(found.group(2))) if found else None


@dataclass
class Limits:
    """What one submission's kernel may use under ``--sandbox`` (it is one process)."""
    memory_mb: int = 4096          # address space of the kernel (all its threads)
    cpu_seconds: int = 1800        # CPU time of the kernel
    processes: int = 256           # its tasks, i.e. threads (RLIMIT_NPROC; it cannot start processes)
    file_mb: int = 64              # largest file it may write
    open_files: int = 1024         # file descriptors
    tmp_mb: int = 256              # size of its private /tmp (HOME and its sockets live there)
    shm_mb: int = 16               # size of its /dev/shm


# ---------------------------------------------------------------------------------------------
# one process per submission: a seccomp filter (classic BPF) for bwrap --seccomp
_LD, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06
_ALLOW, _ERRNO, _EPERM, _ENOSYS = 0x7FFF0000, 0x00050000, 1, 38
_CLONE_THREAD = 0x00010000
# machine -> (AUDIT_ARCH, syscalls that start a process, clone, clone3)
_ARCHES = {"x86_64": (0xC000003E, (57, 58), 56, 435),       # fork, vfork
           "aarch64": (0xC00000B7, (), 220, 435)}


def _arch():
    """``"x86_64"`` or ``"aarch64"`` (the machines the filter knows), else None."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return machine if machine in _ARCHES else None


def _assemble(program):
    """Classic BPF from ``(code, jump if true, jump if false, k)`` tuples and string labels."""
    labels, n = {}, 0
    for item in program:
        if isinstance(item, str):
            labels[item] = n
        else:
            n += 1
    out, i = [], 0
    for item in program:
        if isinstance(item, str):
            continue
        code, jt, jf, k = item
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out.append(struct.pack("=HBBI", code, jt, jf, k))
        i += 1
    return b"".join(out)


def no_fork_filter(arch=None):
    """A seccomp program that lets the kernel start threads but no process: ``fork``, ``vfork`` and
    ``clone`` without ``CLONE_THREAD`` fail with EPERM; ``clone3`` (whose flags a filter cannot read)
    fails with ENOSYS, so the C library falls back to ``clone``; system calls of another ABI
    (x32, 32-bit) fail with EPERM. Everything else is allowed."""
    arch = arch or _arch()
    audit, forks, clone, clone3 = _ARCHES[arch]
    program = [(_LD, 0, 0, 4), (_JEQ, 0, "deny", audit), (_LD, 0, 0, 0)]
    if arch == "x86_64":
        program.append((_JGE, "deny", 0, 0x40000000))                 # the x32 ABI
    program += [(_JEQ, "deny", 0, nr) for nr in forks]
    program += [(_JEQ, "nosys", 0, clone3), (_JEQ, "clone", 0, clone), (_RET, 0, 0, _ALLOW),
                "clone", (_LD, 0, 0, 16), (_JSET, "allow", "deny", _CLONE_THREAD),
                "allow", (_RET, 0, 0, _ALLOW),
                "deny", (_RET, 0, 0, _ERRNO | _EPERM),
                "nosys", (_RET, 0, 0, _ERRNO | _ENOSYS)]
    return _assemble(program)


def kernel_uid(serial=0):
    """The user id a sandboxed kernel runs as when the grader is root: a number above every account
    (``UID_BASE`` + 16 * this process's id + a serial), so no file belongs to it, its limit on
    threads counts only its own, and kernels of other grading processes never share it."""
    return UID_BASE + (os.getpid() % (1 << 22)) * 16 + serial % 16


# ---------------------------------------------------------------------------------------------
# which installed packages a sandboxed kernel sees
def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


_PACKAGES = {}


def packages_for(extra=()):
    """The installed distributions a sandboxed kernel may import: :data:`KERNEL_PACKAGES`, ``extra``
    (an exercise set's ``packages``) and everything they require (extras not included).

    Returns:
        ``{normalized name: importlib.metadata.Distribution}``.
    """
    key = tuple(extra)
    if key not in _PACKAGES:
        _PACKAGES[key] = _packages_for(key)
    return _PACKAGES[key]


def _packages_for(extra):
    from importlib import metadata
    try:
        from packaging.requirements import Requirement
    except ImportError:                       # pragma: no cover - packaging comes with ipykernel
        Requirement = None
    installed = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            installed.setdefault(_norm(name), dist)
    todo, found = [_norm(n) for n in KERNEL_PACKAGES + tuple(extra)], {}
    while todo:
        name = todo.pop()
        if name in found or name not in installed:
            continue
        found[name] = dist = installed[name]
        for req in dist.requires or ():
            if Requirement is None:
                todo.append(_norm(re.split(r"[ ;<>=!~\[(]", req, 1)[0]))
                continue
            r = Requirement(req)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(_norm(r.name))
    return found


def _site_dirs():
    """Every folder of installed Python packages this machine may have (existing ones only)."""
    import glob
    import site
    dirs = set(site.getsitepackages()) | {site.getusersitepackages()}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/usr/local"}:
        dirs |= set(glob.glob(os.path.join(prefix, "lib", "python3*", "*-packages")))
        dirs |= set(glob.glob(os.path.join(prefix, "lib", "python3", "dist-packages")))
        dirs |= set(glob.glob(os.path.join(prefix, "local", "lib", "python3*", "*-packages")))
    return sorted(os.path.realpath(d) for d in dirs if os.path.isdir(d))


def _site_entries(packages):
    """``{site folder: [top-level entries]}`` of the distributions ``packages`` (from their RECORD)."""
    entries = {}
    for dist in packages.values():
        base = Path(os.path.realpath(dist.locate_file("")))
        names = set()
        for f in dist.files or ():
            parts = Path(f).parts
            if parts and parts[0] not in ("..", "__pycache__") and not parts[0].endswith(".pth"):
                names.add(parts[0])
        info = getattr(dist, "_path", None)
        if info is not None:
            names.add(Path(info).name)
        entries.setdefault(str(base), set()).update(n for n in names if (base / n).exists())
    return {k: sorted(v) for k, v in entries.items()}


@functools.lru_cache(maxsize=16)
def _site_view(exercise_set):
    """:func:`_site_entries` of what a set's kernel may import (its ``packages`` included)."""
    from ..judge.exercise import SETS
    from ..judge import registry  # noqa: F401  (registers the sets)
    rules = SETS.get(exercise_set)
    return _site_entries(packages_for(rules.packages if rules else ()))


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


# The sandboxed kernel's first Python code (runs as the kernel's user, before any learner code):
# quiet stdout/stderr (they would go to the host), copy the prepared HOME, point the connection
# file at the sockets' place in this /tmp, and start the kernel.
_START = """\
import json, os, shutil, sys
null = os.open('/dev/null', os.O_WRONLY)
os.dup2(null, 1); os.dup2(null, 2)
inner = sys.argv[1]
os.makedirs(inner, mode=0o700, exist_ok=True)
info = json.load(open('/run/nnbook/kernel.json'))
info['ip'] = inner + '/k'
with open(inner + '/kernel.json', 'w') as f:
    json.dump(info, f)
shutil.copytree('/run/nnbook/home', os.environ['HOME'], dirs_exist_ok=True)
os.makedirs(os.environ['MPLCONFIGDIR'], exist_ok=True)
sys.argv = ['ipykernel_launcher', '-f', inner + '/kernel.json']
import runpy
runpy.run_module('ipykernel_launcher', run_name='__main__')
"""

# Outside: open the connection file, the seccomp filter and the info file for bubblewrap on the
# descriptors it is told to read and write, and keep its own error messages (the kernel's go nowhere).
_WRAP = 'conn=$1; filter=$2; info=$3; log=$4; shift 4; exec "$@" 7>"$info" 8<"$conn" 9<"$filter" 2>"$log"'


def _parents(path):
    """bubblewrap arguments that make the folders above ``path`` (traversable by the kernel's user:
    bubblewrap would make them private to root)."""
    parts = Path(path).parts[1:-1]
    out = []
    for i in range(1, len(parts) + 1):
        out += ["--perms", "0755", "--dir", "/" + "/".join(parts[:i])]
    return out


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
        self.as_root = _root()
        self._counter = 0
        self.uid = None


    @staticmethod
    def environment(grader_env):
        """The kernel's whole environment: :data:`KERNEL_ENV`, and of ``grader_env`` only the thread
        settings :data:`PASSED_ENV` when they are plain numbers."""
        env = dict(KERNEL_ENV)
        env.update({k: grader_env[k] for k in PASSED_ENV if re.fullmatch(r"\d{1,3}", grader_env.get(k, ""))})
        return env

    def prepare(self, tmp, env):
        super().prepare(tmp, env)
        kernel_env = self.environment(env)
        env.clear()                   # bubblewrap itself starts with it: nothing of the grader's goes in
        env.update(kernel_env)
        self.env = dict(env)
        self.tmp = Path(tmp)
        # the kernel's user must read what is bound into the sandbox (made by this process, 0700)
        for folder in (self.overlay_dir, self.home):
            for root, dirs, files in os.walk(folder):
                os.chmod(root, 0o755)
                for f in files:
                    os.chmod(os.path.join(root, f), 0o644)
        etc = self.tmp / "etc"
        etc.mkdir(exist_ok=True)
        self.filter = self.tmp / "no-fork.bpf"
        self.filter.write_bytes(no_fork_filter())
        self.site = _site_view(self.exercise_set)

    def _etc(self, uid, gid):
        """A fresh /etc: passwd and group naming only root and the kernel's user, and ETC_FILES."""
        etc = self.tmp / "etc"
        (etc / "passwd").write_text(f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                    f"learner:x:{uid}:{gid}:learner:{self.env['HOME']}:/usr/sbin/nologin\n")
        (etc / "group").write_text(f"root:x:0:\nlearner:x:{gid}:\n")
        for p in (etc, etc / "passwd", etc / "group"):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        binds = ["--ro-bind", str(etc), "/etc"]
        for name in ETC_FILES:
            real = Path("/etc") / name
            if real.exists():
                (etc / name).touch()
                binds += ["--ro-bind", str(real.resolve()), f"/etc/{name}"]
        return binds

    def _visible(self):
        """Read-only folders the kernel needs: the system's and Python's."""
        roots = ["/usr"]
        for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}:
            p = os.path.realpath(p)
            if not any(p == r or p.startswith(r + "/") for r in roots):
                roots.append(p)
        return [r for r in roots if os.path.isdir(r)]

    def argv(self):
        lim = self.limits
        visible = self._visible()
        self._counter += 1
        if self.as_root:
            self.uid = kernel_uid(self._counter)
            cmd = [BWRAP, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                   "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                   "--cap-add", "CAP_SETPCAP"]
            uid = gid = self.uid
        else:
            cmd = [BWRAP, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL"]
            uid = gid = 65534
        cmd += ["--die-with-parent", "--new-session", "--clearenv"]
        # folders under /tmp (e.g. a venv in a checkout there) are bound after the private /tmp
        # is mounted, or the tmpfs would hide them (/tmp itself is always the private one)
        under_tmp = [r for r in visible if r.startswith("/tmp/")]
        for r in visible:
            if r not in under_tmp and r != "/tmp":
                cmd += _parents(r) + ["--ro-bind", r, r]
        for link in ("bin", "lib", "lib64", "lib32", "sbin"):
            p = Path("/" + link)
            if p.is_symlink():
                cmd += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir() and str(p) not in visible:
                cmd += ["--ro-bind", str(p), str(p)]
        cmd += self._etc(uid, gid)
        cmd += ["--dev", "/dev", "--perms", "1777", "--size", str(lim.shm_mb << 20), "--tmpfs", "/dev/shm",
                "--remount-ro", "/dev", "--proc", "/proc",
                "--perms", "1777", "--size", str(lim.tmp_mb << 20), "--tmpfs", "/tmp"]
        for r in under_tmp:
            cmd += _parents(r) + ["--ro-bind", r, r]
        cmd += ["--dir", "/run/nnbook", "--ro-bind", str(self.home), "/run/nnbook/home",
                "--perms", "0444", "--file", "8", "/run/nnbook/kernel.json",
                "--ro-bind", str(self.overlay_dir), "/nnbook-overlay"]
        # of the installed packages, only those the kernel and the set need
        for site in _site_dirs():
            if not any(site == r or site.startswith(r + "/") for r in visible):
                continue
            cmd += ["--tmpfs", site]
            for name in self.site.get(site, ()):
                cmd += ["--ro-bind", f"{site}/{name}", f"{site}/{name}"]
            cmd += ["--remount-ro", site]
        # the real nnbook package, if it lies in a visible folder (not a hidden one), is replaced by
        # the overlay
        hidden = [site for site in _site_dirs() if any(site == r or site.startswith(r + "/") for r in visible)]
        for real in _nnbook_copies():
            if any(real.startswith(r + "/") for r in visible) and not any(real.startswith(h + "/") for h in hidden):
                cmd += ["--ro-bind", str(self.overlay_dir / "nnbook"), real]
        cmd += ["--chdir", "/tmp", "--info-fd", "7", "--seccomp", "9"]
        for key, value in self.env.items():
            cmd += ["--setenv", key, value]
        cmd += ["--"]
        if self.as_root:
            cmd += [SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
                    "--bounding-set=-all", "--no-new-privs", "--"]
        cmd += [PRLIMIT, f"--as={lim.memory_mb << 20}", f"--cpu={lim.cpu_seconds}", f"--nproc={lim.processes}",
                f"--fsize={lim.file_mb << 20}", f"--nofile={lim.open_files}", "--core=0"]
        cmd += [sys.executable, "-c", _START, INNER]
        self._info = self.tmp / f"bwrap{self._counter}.json"
        self._log = self.tmp / f"bwrap{self._counter}.log"
        return [SH, "-c", _WRAP, "nnbook-sandbox", "{connection_file}", str(self.filter), str(self._info),
                str(self._log)] + cmd

    def configure(self, km):
        """The kernel's sockets are in the sandbox's /tmp; the grader reaches them through a link to
        ``/proc/<pid>/root`` of the sandbox, made once the sandbox runs. The grader connects once,
        before any of the learner's code runs, to sockets it has checked, and never reconnects: the
        kernel cannot later point the grader's connections elsewhere (say, a symbolic link to a
        socket of the host)."""
        import zmq
        n = self._counter
        km.transport = "ipc"
        link = self.tmp / f"sock{n}"
        km.ip = str(link / "k")
        km.connection_file = str(self.conn / f"kernel{n}.json")
        km.context.setsockopt(zmq.RECONNECT_IVL, NEVER_MS)
        if not hasattr(km, "_async_post_start_kernel"):
            raise SandboxUnavailable("--sandbox needs jupyter_client 8 or newer")
        post_start, make_client, launch = km._async_post_start_kernel, km.client, self

        async def _async_post_start_kernel(**kw):      # the kernel runs; its control socket is next
            pid = await launch._child_pid(km)
            if link.is_symlink():
                link.unlink()
            os.symlink(f"/proc/{pid}/root{INNER}", link)
            await launch._bound(km)
            await post_start(**kw)

        def client(**kw):
            kc = make_client(**kw)
            kc.context.setsockopt(zmq.RECONNECT_IVL, NEVER_MS)
            start_channels = kc.start_channels

            def start_without_heartbeat(*args, **kwargs):
                # the heartbeat channel makes a new connection whenever a beat is missed; the grader
                # watches the kernel's process instead
                kwargs["hb"] = False
                return start_channels(*args, **kwargs)
            kc.start_channels = start_without_heartbeat
            return kc
        km._async_post_start_kernel = _async_post_start_kernel
        km.client = client

    async def _child_pid(self, km, wait=20.0):
        """The sandbox's first process (bubblewrap reports it on its info descriptor)."""
        import asyncio
        end = time.monotonic() + wait
        process = getattr(getattr(km, "provisioner", None), "process", None)
        while time.monotonic() < end:
            try:
                return int(json.loads(self._info.read_text())["child-pid"])
            except (OSError, ValueError, KeyError):
                pass
            if process is not None and process.poll() is not None:
                break
            await asyncio.sleep(0.01)
        raise SandboxUnavailable(f"the sandbox did not start{self._said()}")

    async def _bound(self, km, wait=60.0):
        """Wait until the kernel has made all its sockets (Unix sockets, not links) before connecting."""
        import asyncio
        import stat
        ports = [km.shell_port, km.iopub_port, km.stdin_port, km.control_port, km.hb_port]
        end = time.monotonic() + wait
        process = getattr(getattr(km, "provisioner", None), "process", None)
        while time.monotonic() < end:
            try:
                if all(stat.S_ISSOCK(os.lstat(f"{km.ip}-{port}").st_mode) for port in ports):
                    return
            except OSError:
                pass
            if process is not None and process.poll() is not None:
                raise SandboxUnavailable(f"the sandboxed kernel ended before it was ready{self._said()}")
            await asyncio.sleep(0.02)
        raise SandboxUnavailable(f"the sandboxed kernel made no sockets in {wait:g} s{self._said()}")

    def _said(self):
        try:
            said = self._log.read_text(errors="replace").strip()[:300]
        except OSError:
            said = ""
        return f": {said}" if said else ""


def make_launch(overlay_dir, sandbox=False, limits=None, exercise_set=None):
    return SandboxLaunch(overlay_dir, limits, exercise_set) if sandbox else KernelLaunch(overlay_dir)


def fresh_dir(prefix="nnbook-overlay-"):
    return Path(tempfile.mkdtemp(prefix=prefix))
