"""`fastwals compile` covers what a first job calls: after it, the README's quick
start, the CLI's fit and recommend, an evaluation and a cg fit as on large data
add no kernel to a fresh process (nothing left to compile or even to look up)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fastwals.cli import main

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, re, sys
import numba
from fastwals.warmup import compile_kernels

def kernels():
    out = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("fastwals._kernels."):
            for attr, value in vars(module).items():
                if isinstance(value, numba.core.registry.CPUDispatcher):
                    out[f"{name}.{attr}"] = len(value.overloads)
    return out

compile_kernels(["float32"], ["int32"])
before = kernels()
readme = open(sys.argv[1]).read()
code = re.search(r"## Quick start.*?```python\n(.*?)```", readme, re.S).group(1)
exec(compile(code, "README", "exec"), {})
from fastwals import WALS
from fastwals.cli import main
from fastwals.metrics import ranking_metrics, split_random
from fastwals.datasets import synthetic_implicit
R, _ = synthetic_implicit(2000, 800, 30000, random_state=1)
train, test = split_random(R, 0.2, random_state=0)
for solver in ("cholesky", "cg", "subspace"):
    model = WALS(16, iterations=2, solver=solver, random_state=0).fit(train)
    ranking_metrics(model, train, test, K=10)
from fastwals import _problem
_problem.GATHER_ORDER_BYTES = 0  # as a cg fit on large data: the item side in activity order
WALS(16, iterations=2, solver="cg", random_state=0).fit(train)
csv = sys.argv[2]
with open(csv, "w") as f:
    f.write("user,item\n" + "".join(f"u{u},i{i}\n" for u, i in zip(*train.nonzero())))
assert main(["fit", csv, "--user-col", "user", "--item-col", "item", "--quiet",
             "-o", csv + ".npz"]) == 0
assert main(["recommend", csv + ".npz", "--all", "-o", csv + ".recs.csv", "--quiet"]) == 0
after = kernels()
added = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
print(json.dumps({"added": added, "loaded": sum(before.values())}))
"""


def test_after_compile_a_first_job_adds_no_kernel(tmp_path):
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "README.md"),
                           str(tmp_path / "events.csv")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=1800,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] >= 15  # the compile step did load or build the kernels
    assert report["added"] == {}, report["added"]


def test_compile_command_reports_where_it_cached(capsys):
    assert main(["compile", "--dtypes", "float32", "--index-types", "int32", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["combinations"] == ["float32/int32"]
    assert summary["cache_dirs"] and all(os.path.isdir(d) for d in summary["cache_dirs"])


@pytest.mark.parametrize("flags, says", [(["--dtypes", "float16"], "--dtypes: float16"),
                                         (["--index-types", "int8,int32"], "--index-types: int8"),
                                         (["--dtypes", ""], "--dtypes")])
def test_compile_usage_errors(capsys, flags, says):
    assert main(["compile", *flags]) == 2
    assert says in capsys.readouterr().err
