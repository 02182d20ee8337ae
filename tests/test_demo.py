import io
import subprocess
import sys

import numpy as np

from fastwals.datasets import synthetic_implicit
from fastwals.demo import run


def test_synthetic_data_shape_values_and_planted_structure():
    X, (U, V) = synthetic_implicit(400, 300, 8000, random_state=1)
    assert X.shape == (400, 300) and U.shape == (400, 8) and V.shape == (300, 8)
    assert X.data.min() >= 1 and X.data.max() <= 9 and np.all(X.data == np.round(X.data))
    assert 3000 < X.nnz <= 8000
    Y, _ = synthetic_implicit(400, 300, 8000, random_state=1)
    assert (X != Y).nnz == 0  # seeded


def test_demo_beats_popularity():
    out = io.StringIO()
    result = run(n_users=800, n_items=400, n_draws=16000, factors=16, iterations=5, out=out)
    text = out.getvalue()
    assert "iteration   5" in text and "popularity" in text
    assert result["wals"]["recall"] > 1.5 * result["popularity"]["recall"]
    assert all(b <= a for a, b in zip(result["loss"], result["loss"][1:]))


def test_cli_demo_runs_and_reports_bad_arguments():
    cmd = [sys.executable, "-m", "fastwals", "demo", "--users", "300", "--items", "200",
           "--draws", "4000", "--iterations", "2", "--factors", "8"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "recall@10" in done.stdout
    bad = subprocess.run(cmd[:-1] + ["0"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "factors must be >= 1, got 0" in bad.stderr
