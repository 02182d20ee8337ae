"""Kernel compilation: a cold first fit (empty Numba cache) against a warm
first fit in a second process that finds the cache.

    python bench/compile_time.py

Each measurement is a fresh `python -c` process with NUMBA_CACHE_DIR pointing
at a new temporary directory (so the repository's own cache is not used), timing
the import and a first 1-iteration fit of every solver on a small matrix.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, time
t0 = time.perf_counter()
import numpy as np, scipy.sparse as sp
from fastwals import WALS
t1 = time.perf_counter()
X = sp.random(2000, 1000, density=0.01, format="csr", random_state=0, dtype=np.float32)
X.data[:] = 1 + np.floor(X.data * 5)
out = {"import": t1 - t0}
for solver in ("cholesky", "cg", "subspace"):
    t = time.perf_counter()
    WALS(32, iterations=1, solver=solver, calculate_loss=True).fit(X)
    out[solver] = time.perf_counter() - t
print(json.dumps(out))
"""


def run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    with tempfile.TemporaryDirectory() as cache:
        cold = run(cache)
        warm = run(cache)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  first fit per solver (k=32, 2000 x 1000, "
          f"1 iteration + loss), seconds")
    print("| process | import | cholesky | cg | subspace | total |")
    print("|---|---|---|---|---|---|")
    for name, r in (("cold (empty cache)", cold), ("warm (cache from the first)", warm)):
        print(f"| {name} | {r['import']:.2f} | {r['cholesky']:.2f} | {r['cg']:.2f} | "
              f"{r['subspace']:.2f} | {sum(r.values()):.2f} |")


if __name__ == "__main__":
    main()
