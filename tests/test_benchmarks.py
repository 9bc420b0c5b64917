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
