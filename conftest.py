"""Root pytest configuration: one BLAS thread for tests and for the notebook kernels they start, and
one line at the end of a run saying why tests were skipped (and one more when nothing else ran).

On 2 cores, oversubscribed BLAS threads made the notebooks about 4x slower.
"""
import os
import re

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

# What a skip's reason is about -> how to say it, with what to install (first match wins).
SKIP_CAUSES = (
    (re.compile(r"\btorch\b", re.I), "PyTorch (.venv/bin/pip install torch==2.13.0)"),
    (re.compile(r"chromium", re.I), "Chromium (apt-get install chromium)"),
    (re.compile(r"playwright", re.I), "Playwright (python3 dev.py test installs it)"),
    (re.compile(r"bubblewrap|bwrap|prlimit|--sandbox", re.I), "bubblewrap (apt-get install bubblewrap)"),
)


def skip_cause(reason):
    """``"need <what to install>"`` from a skip's reason, else ``"(<the reason>)"``."""
    for pattern, cause in SKIP_CAUSES:
        if pattern.search(reason):
            return f"need {cause}"
    return f"({reason.removeprefix('Skipped: ').strip()})"


def skip_summary(reports):
    """``"skipped 9: 5 need PyTorch (...); 4 need bubblewrap (...)"``, or None without skips."""
    counts = {}
    for rep in reports:
        longrepr = getattr(rep, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        cause = skip_cause(reason)
        counts[cause] = counts.get(cause, 0) + 1
    if not counts:
        return None
    parts = [f"{n} {cause}" for cause, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return f"skipped {sum(counts.values())}: " + "; ".join(parts)


def pytest_terminal_summary(terminalreporter, exitstatus):
    skipped = terminalreporter.stats.get("skipped", [])
    line = skip_summary(skipped)
    if line:
        terminalreporter.write_line(line, yellow=True)
    if exitstatus == 5 and skipped:          # pytest.ExitCode.NO_TESTS_COLLECTED
        terminalreporter.write_line("no test ran: every selected test was skipped, for the reasons above (a file "
                                    "skipped whole counts once); pytest ends with exit status 5", yellow=True)
