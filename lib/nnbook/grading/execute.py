"""Run a notebook cell by cell in a fresh kernel and record, per cell, how it ended.

The status of a cell comes from the kernel's execute reply as seen by nbclient (``ok``,
``error``) or from this process (``timeout``, ``not run``) — never from what the cell printed.
"""
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

DEFAULT_OUTPUT_CAP = 1_000_000     # characters of output kept per cell


@dataclass
class CellRun:
    """How one code cell ended: ``status`` is ``ok``, ``error``, ``timeout`` or ``not run``."""
    status: str
    ename: str = ""
    evalue: str = ""
    truncated: bool = False
    outputs: list = field(default_factory=list)


class _Client(NotebookClient):
    """nbclient with a per-cell output cap and a record of timeouts and execute replies."""

    def __init__(self, nb, output_cap, **kw):
        super().__init__(nb, **kw)
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


def run_notebook(nb, timeout=30, output_cap=DEFAULT_OUTPUT_CAP, env=None, cwd=None, max_timeouts=2):
    """Execute every code cell of ``nb`` (changed in place: outputs are filled in).

    Args:
        timeout: seconds per cell; a cell that takes longer is interrupted and counts as ``timeout``.
        output_cap: characters of output kept per cell; the rest is dropped.
        env: environment of the kernel (default: this process's).
        cwd: the kernel's working directory (default: a new temporary directory).
        max_timeouts: after this many timeouts in a row, the remaining cells are not run.
    Returns:
        dict {cell index: CellRun} for every code cell.
    """
    runs = {}
    with tempfile.TemporaryDirectory(prefix="nnbook-grade-") as tmp:
        timeout = max(1, int(round(timeout)))
        client = _Client(nb, output_cap, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
                         error_on_timeout={"ename": "Timeout", "evalue": f"cell took longer than {timeout} s",
                                           "traceback": []},
                         kernel_name="python3", record_timing=False,
                         resources={"metadata": {"path": cwd or tmp}})
        stop_reason = None
        in_a_row = 0
        kernel_env = dict(os.environ if env is None else env)
        with client.setup_kernel(env=kernel_env, stderr=subprocess.DEVNULL):
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if stop_reason:
                    runs[i] = CellRun("not run", evalue=stop_reason)
                    continue
                client.timed_out, client.reply = False, None
                try:
                    client.execute_cell(cell, i)
                except DeadKernelError:
                    runs[i] = CellRun("error", "DeadKernelError", "the kernel died while running this cell")
                    stop_reason = "the kernel died in an earlier cell"
                    continue
                except CellTimeoutError:
                    client.timed_out = True
                run = _classify(client, cell, timeout)
                run.truncated = i in client.truncated
                if run.truncated:
                    cell.outputs.append({"output_type": "stream", "name": "stderr",
                                         "text": f"[output cut: more than {output_cap} characters]\n"})
                run.outputs = cell.outputs
                runs[i] = run
                in_a_row = in_a_row + 1 if run.status == "timeout" else 0
                if in_a_row >= max_timeouts:
                    stop_reason = "the kernel was still busy after timeouts"
    return runs


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
