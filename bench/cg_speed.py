"""CG seconds per fit iteration on Gowalla, for the fastwals this imports (run it
under PYTHONPATH=<another checkout> to compare versions side by side).

    python bench/cg_speed.py K LABEL      # e.g. 64 after

Compiles on 500 rows first, then fits 6 iterations (CG, 3 steps, float32) and
prints the median of the callback's per-iteration seconds, the first left out.
"""

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import real  # noqa: E402

from fastwals import WALS  # noqa: E402

X = real("gowalla")
X = X[0] if isinstance(X, tuple) else X
k = int(sys.argv[1])
WALS(k, iterations=1, solver="cg").fit(X[:500])
seconds = []
WALS(k, iterations=6, solver="cg", random_state=0,
     callback=lambda i, s, loss: seconds.append(s)).fit(X)
print(sys.argv[2], k, "median s/iter", round(statistics.median(seconds[1:]), 4))
