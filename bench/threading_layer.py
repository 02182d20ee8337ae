"""Cost of the threading-layer policy per fit iteration, against the previous code.

    python bench/threading_layer.py [--before /tmp/fastwals-before] [--iterations 5]
                                    [--repeats 2] [--data gowalla]

Runs, each in its own process (Numba picks one layer per process) and
interleaved over `repeats` rounds so that a busy machine weighs on all alike:
the previous code under the layer it got by default (omp where libgomp exists),
this code under its default policy (tbb where the tbb wheel is installed, else
workqueue), and this code with the layer forced to workqueue and to omp. Cholesky
and CG, k = 64, float32. A cell is the median of the per-iteration seconds
(callback timings, the first iteration left out) over all rounds.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = [  # (label, code: "before" or "after", NUMBA_THREADING_LAYER or None)
    ("previous code, its default layer", "before", None),
    ("this code, default policy", "after", None),
    ("this code, workqueue", "after", "workqueue"),
    ("this code, omp", "after", "omp"),
]


def worker(data, solver, iterations):
    sys.path.insert(0, str(HERE))
    import numba
    from data import real
    from fastwals import WALS

    X = real(data)
    X = X[0] if isinstance(X, tuple) else X
    WALS(64, iterations=1, solver=solver).fit(X[:500])  # compiled before timing
    times = []
    WALS(64, iterations=iterations, solver=solver, regularization=0.1, random_state=0,
         callback=lambda it, seconds, loss: times.append(seconds)).fit(X)
    print(json.dumps({"layer": numba.threading_layer(), "times": times[1:]}))


def run(code, layer, before, data, solver, iterations):
    env = dict(os.environ)
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer is not None:
        env["NUMBA_THREADING_LAYER"] = layer
    root = before if code == "before" else str(HERE.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, __file__, "--worker", data, solver, str(iterations)],
                         env=env, cwd="/", capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["layer"], result["times"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="/tmp/fastwals-before",
                        help="a checkout of the previous code (its directory holds fastwals/)")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", default="gowalla")
    args = parser.parse_args()
    for solver in ("cholesky", "cg"):
        cells = {label: ([], set()) for label, _, _ in CONFIGS}
        for _ in range(args.repeats):
            for label, code, layer in CONFIGS:
                used, times = run(code, layer, args.before, args.data, solver, args.iterations)
                if used is None:
                    cells[label][1].add(f"failed: {' '.join(times)}")
                else:
                    cells[label][0].extend(times)
                    cells[label][1].add(used)
        base = statistics.median(cells[CONFIGS[0][0]][0]) if cells[CONFIGS[0][0]][0] else None
        print(f"\n{args.data}, solver={solver}, k=64, float32: seconds per iteration")
        for label, (times, layers) in cells.items():
            if not times:
                print(f"  {label:34s}  {', '.join(sorted(layers))}")
                continue
            med = statistics.median(times)
            ratio = f"{med / base:5.2f}x" if base else ""
            print(f"  {label:34s}  {'/'.join(sorted(layers)):10s} {med:7.3f} s  {ratio}"
                  f"  (n={len(times)}, min {min(times):.3f}, max {max(times):.3f})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
