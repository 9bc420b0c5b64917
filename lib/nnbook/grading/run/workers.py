"""Worker processes that may die: one submission cannot stop the grading run.

Every notebook is graded in a worker process (with ``--jobs 1`` too); the main process only
hands out work and collects results. A kernel that kills its parent kills a worker, not the
run: the main process sees the worker's end, gives that notebook a row with the reason, ends the
kernels the worker had started (their process groups, reported by the worker) and starts a new
worker for the next notebook. A worker also sends a heartbeat every few seconds (from a thread);
one that falls silent (stopped with SIGSTOP, or hung in C code) or runs far past its task's
deadline is killed the same way.

Workers are started with ``spawn``, in their own process group, and die with the main process
(``PR_SET_PDEATHSIG`` on Linux), so killing the main process leaves no worker grading on.

What this cannot stop: in the default mode the kernel runs as the same user as the grader and can
find and kill the main process itself (``--sandbox`` puts it in its own PID namespace).
"""
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait

BOOT_SECONDS = 300.0       # a worker that has not begun its task by then (starting, importing) is replaced
HEARTBEAT = 5.0            # seconds between a worker's heartbeats
SILENCE = 60.0             # a worker that sent nothing for this long is taken to be stopped


@dataclass
class Task:
    """``key`` names the task in the results, ``payload`` goes to the worker's function,
    ``deadline`` is seconds from the task's start after which its worker is killed, ``alone``:
    run it with no other task at the same time. ``payload`` may be a function that makes it when
    the task is handed out; if that raises, the task fails with the message."""
    key: object
    payload: object
    deadline: float
    alone: bool = False


@dataclass
class Outcome:
    """What became of a task: ``value`` (the worker function's result) when ``ok``, else ``reason``."""
    task: Task
    ok: bool
    value: object = None
    reason: str = ""
    seconds: float = 0.0


def _die_with_parent():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)              # PR_SET_PDEATHSIG
    except Exception:                              # not Linux: the worker ends when its pipe closes
        pass


def _worker_main(conn, init, init_args, work, parent, heartbeat):
    os.setpgrp()
    _die_with_parent()
    if os.getppid() != parent:                     # the main process died before prctl
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the main process's to handle
    lock, busy = threading.Lock(), threading.Event()

    def send(msg):
        with lock:
            conn.send(msg)

    def beat():                                    # only while a task runs (an idle pipe is not read)
        while True:
            time.sleep(heartbeat)
            if busy.is_set():
                try:
                    send(("alive", None, None))
                except Exception:
                    return
    threading.Thread(target=beat, daemon=True).start()
    init(*init_args)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        key, payload = msg
        send(("begin", key, None))
        busy.set()

        def report(pgid, key=key):
            try:
                send(("kernel", key, pgid))
            except Exception:
                pass
        try:
            result = ("done", key, work(payload, report))
        except BaseException as exc:               # the grader's own failure: this task only
            result = ("failed", key, f"{type(exc).__name__}: {str(exc)[:300]}")
        busy.clear()
        try:
            send(result)
        except Exception as exc:
            send(("failed", key, f"the result could not be sent back: {type(exc).__name__}: {exc}"))


def _kill_group(pgid):
    if not pgid or pgid <= 1:
        return
    try:
        if pgid in (os.getpgid(0), os.getpid()):
            return
        os.killpg(pgid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


def _death(exitcode):
    if exitcode is None:
        return "ended"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


class _Worker:
    def __init__(self, ctx, init, init_args, work, heartbeat):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, init, init_args, work, os.getpid(), heartbeat),
                                daemon=True)
        self.proc.start()
        child.close()
        self.task, self.kernels = None, set()
        self.started = self.seen = time.monotonic()
        self.begun = False

    def give(self, task, payload):
        self.task, self.kernels = task, set()
        self.started, self.begun = time.monotonic(), False      # the clock restarts when the worker begins
        self.conn.send((task.key, payload))

    def overdue(self, silence):
        """Seconds from now until the task overruns or the worker counts as silent (<= 0: now)."""
        now = time.monotonic()
        if not self.begun:
            return self.started + BOOT_SECONDS - now
        return min(self.started + self.task.deadline, self.seen + silence) - now

    def kill(self):
        _kill_group(self.proc.pid)
        try:
            self.proc.kill()
        except Exception:
            pass
        for pgid in self.kernels:
            _kill_group(pgid)
        self.proc.join(5)
        self.conn.close()

    def stop(self):
        try:
            self.conn.send(None)
        except Exception:
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.kill()


class WorkerPool:
    """Run tasks in up to ``jobs`` worker processes; a worker that dies, falls silent for
    ``silence`` seconds or overruns its task's deadline is killed and replaced.

    ``init(*init_args)`` runs once in each worker; ``work(payload, report)`` does one task there
    (``report(pgid)`` tells the main process about a kernel's process group). Both must be
    importable module-level functions (workers are started with ``spawn``).
    """

    def __init__(self, jobs, init, init_args, work, silence=SILENCE, heartbeat=HEARTBEAT):
        self.jobs = max(1, int(jobs))
        self.init, self.init_args, self.work = init, init_args, work
        self.silence, self.heartbeat = silence, heartbeat
        self.ctx = multiprocessing.get_context("spawn")
        self.idle, self.busy = [], []
        self.started = 0                           # workers started (replacements included)

    def _worker(self):
        if self.idle:
            return self.idle.pop()
        self.started += 1
        return _Worker(self.ctx, self.init, self.init_args, self.work, self.heartbeat)

    def run(self, tasks, on_start=None):
        """Yield an :class:`Outcome` per task, as tasks finish. ``on_start(task, running_keys)``
        is called when a task is handed out."""
        queue = deque(tasks)
        while queue or self.busy:
            alone_running = any(w.task.alone for w in self.busy)
            while queue and not alone_running and len(self.busy) < self.jobs:
                if queue[0].alone and self.busy:
                    break
                task = queue.popleft()
                try:
                    payload = task.payload() if callable(task.payload) else task.payload
                except Exception as exc:           # e.g. the file changed since it was read: this task only
                    yield Outcome(task, False, reason=str(exc))
                    continue
                worker = self._worker()
                try:
                    worker.give(task, payload)
                except Exception:                  # an idle worker that died meanwhile: a new one
                    worker.kill()
                    worker = self._worker()
                    worker.give(task, payload)
                self.busy.append(worker)
                if on_start:
                    on_start(task, [w.task.key for w in self.busy])
                alone_running = task.alone
            if not self.busy:
                continue
            wake = min(w.overdue(self.silence) for w in self.busy)
            ready = wait([w.conn for w in self.busy] + [w.proc.sentinel for w in self.busy],
                         timeout=max(0.05, wake))
            for worker in list(self.busy):
                outcome = self._collect(worker, ready)
                if outcome is not None:
                    yield outcome

    def _collect(self, worker, ready):
        """The worker's outcome if its task ended (done, failed, died, fell silent or overran), else None."""
        task = worker.task
        if worker.conn in ready or worker.proc.sentinel in ready:
            while True:
                try:
                    if not worker.conn.poll():
                        break
                    kind, key, value = worker.conn.recv()
                except (EOFError, OSError):
                    break
                except Exception as exc:           # an unreadable result: this task only
                    self._retire(worker)
                    return Outcome(task, False, reason=f"the grader's worker sent an unreadable result ({exc})",
                                   seconds=time.monotonic() - worker.started)
                worker.seen = time.monotonic()
                if kind == "alive":
                    continue
                if kind == "kernel":
                    if value:
                        worker.kernels.add(value)
                    continue
                if kind == "begin":
                    worker.started, worker.begun = time.monotonic(), True
                    continue
                elapsed = time.monotonic() - worker.started
                self.busy.remove(worker)
                worker.task = None
                self.idle.append(worker)
                if kind == "done":
                    return Outcome(task, True, value, seconds=elapsed)
                return Outcome(task, False, reason=f"the grader failed on this notebook: {value}", seconds=elapsed)
            if not worker.proc.is_alive() or worker.proc.sentinel in ready:
                worker.proc.join(1)
                self._retire(worker)
                return Outcome(task, False, seconds=time.monotonic() - worker.started,
                               reason=f"the grader's worker process {_death(worker.proc.exitcode)} while grading "
                                      "this notebook (did a cell end the process that started its kernel?)")
        if worker.overdue(self.silence) <= 0:
            now = time.monotonic()
            elapsed = now - worker.started
            self._retire(worker)
            if not worker.begun:
                why = f"the grader's worker did not start within {BOOT_SECONDS:g} s"
            elif now - worker.seen >= self.silence:
                why = (f"the grader's worker stopped answering for {now - worker.seen:.0f} s while grading this "
                       "notebook (was it stopped by a cell?); it was ended")
            else:
                why = (f"stopped by the grader after {elapsed:.0f} s: far past the notebook's time budget, "
                       "and its worker had not ended it")
            return Outcome(task, False, seconds=elapsed, reason=why)
        return None

    def _retire(self, worker):
        if worker in self.busy:
            self.busy.remove(worker)
        worker.kill()

    def close(self):
        """End every worker (and the kernels of the busy ones)."""
        for w in self.busy:
            w.kill()
        for w in self.idle:
            w.stop()
        self.busy, self.idle = [], []
