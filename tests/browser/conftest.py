"""Say in one line, at the end of every run, why the browser tests were skipped (if they were)."""
from browser_support import skip_reason


def pytest_terminal_summary(terminalreporter):
    reason = skip_reason()
    if reason:
        terminalreporter.write_line(f"browser tests skipped: {reason}", yellow=True)
