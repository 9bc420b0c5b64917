"""Run a notebook cell by cell in a fresh kernel and record, per cell, how it ended.

The status of a cell comes from the kernel's execute reply as seen by nbclient (``ok``,
``error``) or from this process (``timeout``, ``not run``) — never from what the cell printed.

For graded runs, ``run_notebook(..., judge=...)`` does not execute the cells the judge wants
(the test cells): it hands them to the judge together with a :class:`~.channel.KernelChannel`
into the running kernel, and the judge decides their outcome in this process. ``kernel=``
(a :class:`~.sandbox.KernelLaunch`) sets how the kernel is started (environment, sandbox).
``budget=`` bounds the whole run (cells and the judge's calls) in wall-clock seconds.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import nbformat
import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

DEFAULT_OUTPUT_CAP = 1_000_000     # characters of output kept per cell
BUDGET_ENAME = "NotebookTimeout"   # the ename of cells cut or not run because the budget ran out


def budget_message(budget):
    return f"the notebook's time budget of {budget:g} s ran out (--notebook-timeout)"


@dataclass
class CellRun:
    """How one code cell ended: ``status`` is ``ok``, ``error``, ``timeout`` or ``not run``."""
    status: str
    ename: str = ""
    evalue: str = ""
    truncated: bool = False
    outputs: list = field(default_factory=list)
    broken: str = ""              # set by a judge: the kernel cannot be used any more (why)
    result: object = None         # set by a judge: what it found (e.g. the reports)


class _CurrentPython(KernelSpecManager):
    """Kernels run with this process's Python (like nbval's --nbval-current-env), whatever
    "python3" kernel a user may have installed elsewhere."""

    def get_kernel_spec(self, kernel_name):
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          display_name="Python 3 (nnbook grading)", language="python")


class _Spec(KernelSpecManager):
    """A fixed kernel command line (e.g. the sandbox's wrapper around this Python)."""

    def __init__(self, argv, **kw):
        super().__init__(**kw)
        self._argv = argv

    def get_kernel_spec(self, kernel_name):
        # interrupts as messages: a signal to the wrapper (bwrap) would not reach the kernel inside
        return KernelSpec(argv=list(self._argv), display_name="Python 3 (nnbook grading)", language="python",
                          interrupt_mode="message")


REPLY_CAP = 70_000_000      # characters a call's reply may take (see remote.MAX_REPLY_CHARS)


MAX_MESSAGE_BYTES = 96_000_000   # one message from the kernel (above REPLY_CAP: a call's reply fits)


class _CappedClient(AsyncKernelClient):
    """A kernel client whose sockets drop any message over :data:`MAX_MESSAGE_BYTES` unread (ZeroMQ's
    MAXMSGSIZE): the output cap below applies only after a message is decoded, and decoding a huge
    one (say 30 million empty dicts) costs the grader gigabytes. ZeroMQ then drops the connection: that
    kernel's output (and the replies of the grader's calls) are lost from then on, which costs only
    its own notebook; its cells still end with their execute replies."""

    def _context_default(self):
        context = super()._context_default()
        context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)  # read at each kernel start
        return context


class _Client(NotebookClient):
    """nbclient with a per-cell output cap and a record of timeouts and execute replies."""

    def create_kernel_manager(self):
        spec = _CurrentPython() if self.launch is None else _Spec(self.launch.argv())
        self.km = self.kernel_manager_class(kernel_name="python3", config=self.config, kernel_spec_manager=spec)
        self.km.client_factory = _CappedClient
        if self.launch is not None:
            self.launch.configure(self.km)
        return self.km

    def __init__(self, nb, output_cap, launch=None, **kw):
        super().__init__(nb, **kw)
        self.launch = launch
        self.rpc_mode = False
        self.output_cap = output_cap
        self._sizes = {}
        self.truncated = set()
        self.timed_out = False
        self.reply = None
        self.on_cell_executed = self._record_reply

    def _record_reply(self, cell=None, cell_index=None, execute_reply=None, **_):
        self.reply = execute_reply

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if self.rpc_mode:          # a grader's call: keep only the structured reply
            if msg["msg_type"] not in ("display_data", "execute_result"):
                return None
            size = sum(len(v) if isinstance(v, str) else len(json.dumps(v))
                       for v in (content.get("data") or {}).values())
            used = self._sizes.get(cell_index, 0)
            if used + size > REPLY_CAP:
                return None
            self._sizes[cell_index] = used + size
            return super().output(outs, msg, display_id, cell_index)
        if "text" in content:
            size = len(content.get("text") or "")
        else:
            size = sum(len(v) if isinstance(v, str) else len(json.dumps(v))
                       for v in (content.get("data") or {}).values())
        used = self._sizes.get(cell_index, 0)
        if used + size > self.output_cap and msg["msg_type"] != "error":
            self.truncated.add(cell_index)
            return None
        self._sizes[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)


def run_notebook(nb, timeout=30, output_cap=DEFAULT_OUTPUT_CAP, env=None, cwd=None, replayable=None,
                 max_restarts=3, probe_timeout=2, judge=None, kernel=None, budget=None, on_kernel=None):
    """Execute every code cell of ``nb`` (changed in place: outputs are filled in).

    When the kernel dies, or is still busy after a timed-out cell was interrupted, a new kernel
    is started, the earlier cells that ran fine and are ``replayable`` are run again (their
    outputs are dropped), and execution goes on with the next cell.

    Args:
        timeout: seconds per cell; a cell that takes longer is interrupted and counts as ``timeout``.
        output_cap: characters of output kept per cell; the rest is dropped.
        env: environment of the kernel (default: this process's).
        cwd: the kernel's working directory (default: a new temporary directory).
        replayable: ``cell -> bool``, which cells to run again in a new kernel (default: all).
        max_restarts: after this many new kernels, the remaining cells are not run.
        probe_timeout: seconds a trivial cell may take after a timeout before the kernel counts as stuck.
        judge: ``judge.wants(cell) -> bool`` and ``judge(cell, index, channel) -> CellRun``: cells the
            judge wants are not executed; the judge gets a channel into the kernel instead.
        kernel: how to start the kernel (:class:`~.sandbox.KernelLaunch`; default: this Python, as is).
        budget: seconds of wall-clock for running cells (replays included) and a judge's calls
            (default: no limit); starting a kernel is not counted (nbclient's ``startup_timeout``,
            60 s, bounds it). A cell (or a call) gets at most what is left; when the budget runs
            out, the cell that was running counts as ``timeout`` and the cells after it as
            ``not run``, both with ename :data:`BUDGET_ENAME` and :func:`budget_message`.
        on_kernel: called with the process group id of each kernel started (so that whoever runs
            this can end the kernel if this process dies).
    Returns:
        dict {cell index: CellRun} for every code cell.
    """
    timeout = max(1, int(round(timeout)))
    replayable = replayable or (lambda cell: True)
    kernel_env = dict(os.environ if env is None else env)
    pending = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    runs, good, restarts = {}, [], 0
    deadline = None if budget is None else time.monotonic() + budget

    def left():
        return None if deadline is None else deadline - time.monotonic()

    def out_of_time():
        """Every cell not yet run counts as not run: the budget ran out."""
        for k in pending:
            runs[k] = CellRun("not run", BUDGET_ENAME, budget_message(budget))
        pending.clear()

    def seconds(limit):
        """At most ``limit`` seconds, and never more than the budget leaves (None: nothing left)."""
        rest = left()
        if rest is None:
            return limit
        return None if rest <= 0 else min(limit, rest)

    with tempfile.TemporaryDirectory(prefix="nnbook-grade-") as tmp:
        if kernel is not None:
            kernel.prepare(tmp, kernel_env)
        while pending:
            if seconds(timeout) is None:
                out_of_time()
                break
            client = _Client(nb, output_cap, launch=kernel, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
                             error_on_timeout={"ename": "Timeout", "evalue": f"cell took longer than {timeout} s",
                                               "traceback": []},
                             kernel_name="python3", record_timing=False, shutdown_kernel="immediate", iopub_timeout=2,
                             resources={"metadata": {"path": cwd or tmp}})
            broken = None
            channel = None
            starting = time.monotonic()
            with client.setup_kernel(env=kernel_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
                if deadline is not None:          # starting a kernel has its own limit (startup_timeout)
                    deadline += time.monotonic() - starting
                if on_kernel is not None:
                    on_kernel(getattr(client.km.provisioner, "pgid", None) if client.km.provisioner else None)
                for j in good:                              # a new kernel: define things again
                    rest = seconds(timeout)
                    if rest is None:
                        break
                    client.timeout = max(1, int(rest + 0.999))
                    _replay(client, nb, j)
                client.timeout = timeout
                while pending and broken is None:
                    if seconds(timeout) is None:
                        out_of_time()
                        break
                    i = pending.pop(0)
                    if judge is not None and judge.wants(nb.cells[i]):
                        if channel is None:
                            from .channel import KernelChannel

                            def run_code(src, limit):
                                rest = seconds(limit)
                                if rest is None:
                                    return [], "timeout"
                                return _run_code(client, nb, src, rest, probe_timeout)
                            channel = KernelChannel(run_code)
                        runs[i] = judge(nb.cells[i], i, channel)
                        if runs[i].status != "ok" and seconds(timeout) is None:
                            runs[i] = CellRun("timeout", BUDGET_ENAME, budget_message(budget), result=runs[i].result)
                            out_of_time()
                            break
                        if runs[i].broken:
                            broken = runs[i].broken
                        continue
                    limit = seconds(timeout)
                    client.timeout = max(1, int(limit + 0.999))
                    run = _execute(client, nb, i, timeout, output_cap)
                    client.timeout = timeout
                    runs[i] = run
                    if run.status == "timeout" and limit < timeout:
                        runs[i] = CellRun("timeout", BUDGET_ENAME, budget_message(budget), outputs=run.outputs)
                        out_of_time()
                        break
                    if run.status == "ok" and replayable(nb.cells[i]):
                        good.append(i)
                    if run.ename == "DeadKernelError":
                        broken = "the kernel died"
                    elif run.status == "timeout" and not _responsive(client, nb, probe_timeout):
                        broken = "the kernel was stuck after a timeout"
            if broken:
                restarts += 1
                if restarts > max_restarts:
                    for i in pending:
                        runs[i] = CellRun("not run", evalue=f"not run: {broken} {restarts} times")
                    break
    return runs


def _execute(client, nb, i, timeout, output_cap):
    cell = nb.cells[i]
    client.timed_out, client.reply = False, None
    try:
        client.execute_cell(cell, i)
    except DeadKernelError:
        return CellRun("error", "DeadKernelError", "the kernel died while running this cell",
                       outputs=cell.get("outputs", []))
    except CellTimeoutError:
        client.timed_out = True
    run = _classify(client, cell, timeout)
    run.truncated = i in client.truncated
    if run.truncated:
        cell.outputs.append({"output_type": "stream", "name": "stderr",
                             "text": f"[output cut: more than {output_cap} characters]\n"})
    run.outputs = cell.outputs
    return run


def _run_code(client, nb, source, seconds, probe_timeout):
    """Run ``source`` in the kernel for a judge's channel: ``(outputs, status)``, status ``ok``,
    ``error``, ``timeout`` (interrupted, the kernel answers again), ``stuck`` or ``dead``."""
    cell = nbformat.v4.new_code_cell(source)
    nb.cells.append(cell)
    index = len(nb.cells) - 1
    saved = client.timeout
    client.timeout = max(1, int(seconds + 0.999))
    client.rpc_mode, client.timed_out, client.reply = True, False, None
    client._sizes.pop(index, None)
    try:
        try:
            client.execute_cell(cell, index, store_history=False)
        except DeadKernelError:
            return [], "dead"
        except CellTimeoutError:
            client.timed_out = True
        if client.timed_out:
            client.rpc_mode = False
            return [], ("timeout" if _responsive(client, nb, probe_timeout) else "stuck")
        content = (client.reply or {}).get("content", {})
        return list(cell.outputs), ("error" if content.get("status") == "error" else "ok")
    except DeadKernelError:
        return [], "dead"
    finally:
        client.rpc_mode = False
        client.timeout = saved
        client._sizes.pop(index, None)
        if nb.cells and nb.cells[-1] is cell:
            nb.cells.pop()
        elif cell in nb.cells:
            nb.cells.remove(cell)


def _replay(client, nb, j):
    """Run cell j again in a new kernel; its first run's outputs are kept."""
    original = nb.cells[j]
    try:
        client.execute_cell(copy.deepcopy(original), j)
    except (DeadKernelError, CellTimeoutError):
        pass
    finally:
        nb.cells[j] = original


def _responsive(client, nb, probe_timeout):
    """Does the kernel answer a trivial cell within probe_timeout seconds?"""
    probe = nbformat.v4.new_code_cell("pass")
    nb.cells.append(probe)
    saved, client.timeout = client.timeout, probe_timeout
    try:
        client.timed_out, client.reply = False, None
        client.execute_cell(probe, len(nb.cells) - 1)
        return not client.timed_out
    except (DeadKernelError, CellTimeoutError):
        return False
    finally:
        client.timeout = saved
        nb.cells.pop()


def _classify(client, cell, timeout):
    if client.timed_out:
        return CellRun("timeout", "Timeout", f"took longer than {timeout} s (an endless loop?)")
    content = (client.reply or {}).get("content", {})
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    if content.get("status") == "error" or errors:
        ename = content.get("ename") or (errors[0].get("ename") if errors else "Error")
        evalue = content.get("evalue") or (errors[0].get("evalue") if errors else "")
        return CellRun("error", str(ename), str(evalue))
    if client.reply is None:
        return CellRun("error", "NoReply", "the kernel sent no reply")
    return CellRun("ok")
