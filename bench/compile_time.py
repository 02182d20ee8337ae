"""Kernel compilation: a cold first fit (empty Numba cache) against a warm
first fit in a second process that finds the cache; and the cold start of a
job (the README's quick start: a fit, recommend, recommend_all, similar_items,
fold-in) with and without `fastwals compile` run ahead of it.

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


QUICK_START = r"""
import json, re, sys, time
t0 = time.perf_counter()
readme = open(sys.argv[1]).read()
code = re.search(r"## Quick start.*?```python\n(.*?)```", readme, re.S).group(1)
exec(compile(code, "README", "exec"), {})
print(json.dumps({"quick_start": time.perf_counter() - t0}))
"""
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def run(cache_dir, child=CHILD, args=()):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run([sys.executable, "-c", child, *args], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compile_ahead(cache_dir, *flags):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fastwals", "compile", "--quiet", *flags], env=env,
                   check=True)
    return time.perf_counter() - start


def cold_start():
    """The quick start in a fresh cache, and after `fastwals compile` (both
    index types and dtypes, then only float32/int32, what the quick start uses)."""
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        rows.append(("no compile step (empty cache)", None,
                     run(cache, QUICK_START, [README])["quick_start"]))
    for flags in ((), ("--dtypes", "float32", "--index-types", "int32")):
        with tempfile.TemporaryDirectory() as cache:
            ahead = compile_ahead(cache, *flags)
            rows.append((f"after `{' '.join(('fastwals', 'compile') + flags)}`", ahead,
                         run(cache, QUICK_START, [README])["quick_start"]))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  cold start of the README quick start, "
          f"seconds (python + import + fit + serving)")
    print("| first job | compile step | quick start |")
    print("|---|---|---|")
    for name, ahead, seconds in rows:
        print(f"| {name} | {'-' if ahead is None else f'{ahead:.1f}'} | {seconds:.1f} |")


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
    cold_start()
