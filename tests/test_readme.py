"""The README's Python snippets run as written and show what they say they show."""

import contextlib
import io
import pathlib
import re

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _snippet(text, heading):
    """The first ```python block after `heading`."""
    return re.search(re.escape(heading) + r".*?```python\n(.*?)```", text, re.S).group(1)


def _printed_block(text, heading):
    """The indented block after the first 'prints' line following `heading`'s first snippet."""
    after = text[text.index(heading):]
    after = after[after.index("```\n", after.index("```python")) + 4:]
    block = re.search(r"prints[^\n]*:\n\n((?:    [^\n]*\n)+)", after).group(1)
    return [line[4:] for line in block.splitlines()]


def _run(code, namespace):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README", "exec"), namespace)
    return out.getvalue().splitlines()


def test_quick_start_and_the_evaluation_example_run_and_show_learning():
    text = README.read_text()
    namespace = {}
    quick = _run(_snippet(text, "## Quick start"), namespace)
    R, model = namespace["R"], namespace["model"]
    ids, scores = namespace["ids"], namespace["scores"]
    assert ids.shape == (5,) and np.all(np.diff(scores) <= 0)
    assert not set(ids) & set(R[[0]].indices)  # the user's own items are hidden
    assert namespace["all_ids"].shape == (R.shape[0], 20)
    assert namespace["x_new"].shape == (model.factors,)
    # the printed lines agree with the README's, loosely: same ids and shapes
    shown = _printed_block(text, "## Quick start")
    assert quick[0].split("]")[0] == shown[0].split("]")[0]  # the same five ids
    assert quick[1] == shown[1]

    evaluation = _run(_snippet(text, "## Serving, fold-in and evaluation"), namespace)
    wals, pop = namespace["wals"], namespace["pop"]
    assert wals["recall"] > 2 * pop["recall"] and wals["ndcg"] > 2 * pop["ndcg"]
    assert wals["auc"] > pop["auc"]
    best = namespace["model"].best_iteration_
    assert 5 <= best < namespace["model"].n_iter_  # learned for a while, then stopped early
    shown = _printed_block(text, "## Serving, fold-in and evaluation")
    assert len(evaluation) == len(shown)
    for got, want in zip(evaluation[1:], shown[1:]):  # metrics within 0.01 of the README's
        g = [float(x) for x in re.findall(r"\d\.\d{4}", got)]
        w = [float(x) for x in re.findall(r"\d\.\d{4}", want)]
        assert got.split()[0] == want.split()[0] and np.allclose(g, w, atol=0.01)


def _all_snippets(text):
    """(heading, code) of every ```python block, the heading being the last ## line above it."""
    out = []
    for m in re.finditer(r"```python\n(.*?)```", text, re.S):
        heading = re.findall(r"^## .*$", text[:m.start()], re.M)[-1]
        out.append((heading, m.group(1)))
    return out


def test_every_python_snippet_is_run_by_a_test():
    # a new ```python block must get its runner here (the ones below) or be ```text
    headings = [h for h, _ in _all_snippets(README.read_text())]
    assert headings == ["## Quick start", "## Coming from implicit",
                        "## Serving, fold-in and evaluation", "## scikit-learn",
                        "## Tuning: `fastwals.tune`", "## Batch use: files in, files out", "## Scaling out on a Dask cluster",
                        "## Scaling out on a Dask cluster"]


def test_the_estimators_signature_is_the_codes():
    import inspect

    from fastwals import WALS
    text = README.read_text()
    block = re.search(r"## The estimator\s+```text\n(.*?)```", text, re.S).group(1)
    shown = re.findall(r"(\w+)=", block)
    assert shown == [p for p in inspect.signature(WALS).parameters]


def test_coming_from_implicit_import_line():
    namespace = {}
    _run(_snippet(README.read_text(), "## Coming from implicit"), namespace)
    from fastwals.implicit.als import AlternatingLeastSquares
    assert namespace["AlternatingLeastSquares"] is AlternatingLeastSquares


def test_the_scikit_learn_search_runs():
    from fastwals.datasets import synthetic_implicit
    X, _ = synthetic_implicit(600, 300, 12000, random_state=0)
    namespace = {"X": X}
    _run(_snippet(README.read_text(), "## scikit-learn"), namespace)
    search = namespace["search"]
    assert len(search.cv_results_["params"]) == 9
    assert search.best_params_ == search.cv_results_["params"][
        int(np.argmax(search.cv_results_["mean_test_ndcg@20"]))]


def test_the_tuning_example_runs(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    printed = _run(_snippet(README.read_text(), "## Tuning"), namespace)
    result = namespace["result"]
    assert printed[0].split() == [f"{result.best_score:.4f}", str(result.best_params["factors"]),
                                  str(len(result.trials))]
    assert sum(t["phase"] == "search" for t in result.trials) == 16
    assert namespace["model"].user_factors_.shape[1] == result.best_params["factors"]
    assert (tmp_path / "trials.png").exists() and (tmp_path / "trials.csv").exists()


def test_the_batch_use_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events").mkdir()
    rng = np.random.default_rng(0)
    users = ["alice", "bob", "carol", "dave"] + [f"u{i}" for i in range(60)]
    lines = ["user,item,plays"]
    for u in users:
        for item in rng.choice(40, size=6, replace=False):
            lines.append(f"{u},item{item},{rng.integers(1, 9)}")
    lines.append("erin,,3")  # a bad row: skipped and counted, as the example says
    (tmp_path / "events" / "part-0.csv").write_text("\n".join(lines) + "\n")
    namespace = {}
    printed = _run(_snippet(README.read_text(), "## Batch use"), namespace)
    assert namespace["data"].report["bad_rows_skipped"] == 1
    raw = namespace["model"].item_ids_.raw(namespace["ids"])
    assert len(raw) == 10 and all(str(r).startswith("item") for r in raw)  # ten raw item ids
    assert "item" in printed[-1]
    assert (tmp_path / "model.npz").exists()


def test_the_dask_examples_run(tmp_path):
    import dask
    import distributed
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = README.read_text()
    fit_code, config_code = [code for h, code in _all_snippets(text) if "Dask" in h]
    parts = tmp_path / "events"
    parts.mkdir()
    rng = np.random.default_rng(0)
    for p in range(2):
        n = 400
        pq.write_table(pa.table({"user_id": rng.integers(0, 80, n), "item_id": rng.integers(0, 50, n),
                                 "plays": rng.integers(1, 9, n).astype(np.float64)}),
                       parts / f"part-{p}.parquet")
    saved = dask.config.get("distributed.nanny.pre-spawn-environ")
    try:
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster:
            # as written, but for the cluster's address and the shared paths
            code = (fit_code.replace("tcp://scheduler-host:8786", cluster.scheduler_address)
                    .replace("/shared/ckpt/run1", str(tmp_path / "ckpt"))
                    .replace("/shared/events/", str(parts) + "/")
                    .replace("/shared/recs/run1/", str(tmp_path / "recs") + "/"))
            namespace = {}
            _run(code, namespace)
            namespace["client"].close()
            assert namespace["wals"].user_factors_.shape[1] == 64
            assert list((tmp_path / "recs").glob("*.parquet"))
        _run(config_code, {})
        env = dask.config.get("distributed.nanny.pre-spawn-environ")
        assert env["MALLOC_MMAP_THRESHOLD_"] == "134217728" and "MALLOC_TRIM_THRESHOLD_" in env
    finally:
        dask.config.set({"distributed.nanny.pre-spawn-environ": saved})
