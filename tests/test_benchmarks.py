"""The benchmark script runs (tiny shapes) and prints its comparison table; no timing is asserted."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_script_runs_quick():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--repeat", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for fragment in ("nnbook", "naive loops", "conv 3x3", "maxpool 2x2", "linear"):
        assert fragment in result.stdout


def test_check_latency_is_measured_on_correct_answers_that_pass_and_mistakes_that_fail():
    """``bench --check`` times check() on the catalog's loop-style answers: every correct answer passes all
    its visible and hidden cases (so the times are those of a real check, not of a refusal), and the
    mistakes timed fail."""
    sys.path.insert(0, str(ROOT / "tests"))
    from catalog.slips import every_correct
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--check", "--quick",
                             "--repeat", "1"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 9 and parts[0].isidentifier() and "/" in parts[1]:
            rows[parts[0]] = parts
    correct = every_correct()
    assert set(rows) == {e.exercise for e in correct}
    for exercise, (_, visible, _, hidden, _, failed, named, *_rest) in rows.items():
        for cases in (visible, hidden, failed):
            passed, total = map(int, cases.split("/"))
            assert total > 0 and passed == total, (exercise, cases)
        assert int(named) == int(failed.split("/")[0]), exercise         # and named by their first hint
    assert "WRONG" not in result.stdout
