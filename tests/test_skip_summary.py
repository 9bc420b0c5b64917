"""The one-line summary of skipped tests at the end of a run (the repository's conftest.py)."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_skips_are_summed_up_in_one_line_with_what_to_install():
    import importlib.util
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)

    class Rep:
        def __init__(self, reason):
            self.longrepr = ("file.py", 1, reason)
    reports = [Rep("could not import 'torch': No module named 'torch'")] * 5 + [
        Rep("--sandbox needs /usr/bin/bwrap (Debian/Ubuntu: sudo apt-get install bubblewrap); nothing was graded")] * 3 + [
        Rep("browser tests need Chromium at /usr/bin/chromium (Debian: apt-get install chromium)"),
        Rep("Skipped: not a git checkout")]
    line = conftest.skip_summary(reports)
    assert line == ("skipped 10: 5 need PyTorch (.venv/bin/pip install torch==2.13.0); 3 need bubblewrap "
                    "(apt-get install bubblewrap); 1 need Chromium (apt-get install chromium); 1 (not a git checkout)")
    assert conftest.skip_summary([]) is None


def test_a_run_where_every_test_was_skipped_says_so(tmp_path):
    """pytest ends with exit status 5 when no test ran (a file skipped whole): the last lines say why."""
    import shutil
    import subprocess
    import sys
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_needs_torch.py").write_text('import pytest\ntorch = pytest.importorskip("no_such_torch_module")\n\n\n'
                                                 'def test_x():\n    pass\n')
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                          "test_needs_torch.py"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 5, run.stdout
    assert "skipped 1: 1 (could not import 'no_such_torch_module'" in run.stdout
    assert "no test ran: every selected test was skipped" in run.stdout
    (tmp_path / "test_runs.py").write_text("def test_y():\n    pass\n")
    both = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert both.returncode == 0 and "no test ran" not in both.stdout
