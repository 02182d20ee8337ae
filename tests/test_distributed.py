"""fastwals.distributed on a LocalCluster (2 worker processes, 1 thread each).

Factors are defined up to the rotation the fit leaves them in, so the
distributed fit is compared with the single-machine fit after mapping both to
one basis (orthogonal Procrustes on the stacked factors), and on scores X Yᵀ.
"""

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from fastwals import WALS  # noqa: E402
from fastwals.distributed import DistributedWALS  # noqa: E402
from fastwals.idmap import IdMap  # noqa: E402
from conftest import random_ratings  # noqa: E402
from test_solve import MODES, _materialise  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # killed workers are restarted by their nanny; on a busy machine that may take
    # longer than the 15 s after which the cluster would give up on them
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "120s"}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def R():
    return random_ratings(60, 40, seed=21)


def aligned(model, ref):
    """model's factors rotated onto ref's basis (the best orthogonal map), and ref's."""
    A = np.vstack([model.user_factors_, model.item_factors_]).astype(np.float64)
    B = np.vstack([ref.user_factors_, ref.item_factors_]).astype(np.float64)
    return A @ rotation_onto(A, B), B


def rotation_onto(A, B):
    """The orthogonal M minimising ‖A M − B‖ (orthogonal Procrustes)."""
    U, _, Vt = np.linalg.svd(A.T @ B)
    return U @ Vt


def assert_same_fit(model, ref, rtol):
    A, B = aligned(model, ref)
    scale = np.abs(B).max()
    assert scale > 0
    assert_allclose(A, B, rtol=rtol, atol=rtol * scale)
    S, Sr = (m.user_factors_ @ m.item_factors_.T for m in (model, ref))
    assert_allclose(S, Sr, rtol=rtol, atol=rtol * np.abs(Sr).max())


def kill_one_worker(client):
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    os.kill(pids[victim], signal.SIGKILL)
    return victim


def kill_every_worker(client):
    for pid in client.run(os.getpid).values():
        os.kill(pid, signal.SIGKILL)


def within(seconds, call):
    """call() in a thread, failing the test (instead of hanging it) after `seconds`."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(call).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)


def frame_of(R):
    """R's entries as rows with raw ids: int users 1000+u, str items 'i007'."""
    pd = pytest.importorskip("pandas")
    u, i = np.nonzero(R)
    return pd.DataFrame({"user": u + 1000, "item": [f"i{j:03d}" for j in i], "plays": R[u, i]})


# ---------------------------------------------------------------- equality with WALS

@pytest.mark.parametrize("solver", ["cholesky", "cg", "subspace"])
@pytest.mark.parametrize("mode", ["hkv-default", "log-confidence", "row-col-weights",
                                  "explicit-weighted", "w0-zero-implicit"])
def test_equals_the_single_machine_fit(client, R, solver, mode):
    params = _materialise(MODES[mode], R.shape)
    kw = dict(iterations=4, dtype=np.float64, random_state=0, solver=solver, block_size=3,
              calculate_loss=True, **params)
    model = DistributedWALS(client, 6, **kw).fit(R)
    ref = WALS(6, **kw).fit(R)
    local = model.to_wals()
    assert_same_fit(local, ref, 1e-5)
    assert model.n_iter_ == ref.n_iter_ == 4
    assert_allclose(model.loss_history_, ref.loss_history_, rtol=1e-9)


def test_the_workers_are_counted_while_the_client_refreshes_its_view(client, R):
    # a client's periodic refresh of scheduler_info() fetches no per-worker entries
    # and could land between the fit's fetch and its read: "no workers" with two;
    # a refresh every millisecond made scheduler_info()["workers"] empty 1 time in 8
    from fastwals.distributed import _cluster
    with dask.config.set({"distributed.client.scheduler-info-interval": "1ms"}), \
            distributed.Client(client.scheduler.address) as fast:
        assert [_cluster.worker_count(fast) for _ in range(400)] == [2] * 400
        model = DistributedWALS(fast, 4, iterations=2, random_state=0).fit(R)
    assert model.n_iter_ == 2


def test_a_failed_fit_leaves_the_previous_model_intact(client, R):
    kw = dict(dtype=np.float64, random_state=6, regularization=0.1)
    model = DistributedWALS(client, 4, iterations=2, **kw).fit(R)
    before = model.to_wals()

    def boom(it, seconds, loss):
        raise RuntimeError("stop here")

    model.wals.set_params(iterations=3, callback=boom)
    with pytest.raises(RuntimeError, match="stop here"):
        model.fit(R)
    assert model.n_iter_ == 2
    after = model.to_wals()
    assert np.array_equal(after.user_factors_, before.user_factors_)
    assert np.array_equal(after.item_factors_, before.item_factors_)


def test_float32_close_to_the_single_machine_fit(client, R):
    kw = dict(iterations=3, random_state=1, regularization=0.1)
    model = DistributedWALS(client, 6, **kw).fit(R).to_wals()
    assert model.user_factors_.dtype == np.float32
    assert_same_fit(model, WALS(6, **kw).fit(R), 1e-3)


def test_exchange_modes_agree_and_blocks_do_not_matter(client, R):
    kw = dict(iterations=3, dtype=np.float64, random_state=2, regularization=0.1)
    fits = {ex: DistributedWALS(client, 5, exchange=ex, **kw).fit(R)
            for ex in ("broadcast", "needed", "auto")}
    assert fits["broadcast"].exchange_ == {"user": "broadcast", "item": "broadcast"}
    assert fits["needed"].exchange_ == {"user": "needed", "item": "needed"}
    assert fits["auto"].exchange_ == {"user": "broadcast", "item": "broadcast"}  # small factors
    ref = fits["broadcast"].to_wals()
    other = fits["needed"].to_wals()  # the same rows, cut differently: the same arithmetic
    assert np.array_equal(ref.user_factors_, other.user_factors_)
    assert np.array_equal(ref.item_factors_, other.item_factors_)
    three = DistributedWALS(client, 5, blocks=3, exchange="needed", **kw).fit(R)
    assert three.user_factors_.numblocks == (3, 1)
    assert_same_fit(three.to_wals(), ref, 1e-9)


@pytest.mark.parametrize("exchange", ["broadcast", "needed"])
def test_rows_fetched_early_or_late_give_identical_factors(client, R, exchange, monkeypatch):
    from fastwals.distributed import _sweep
    kw = dict(iterations=2, dtype=np.float64, random_state=2, solver="cg", exchange=exchange)
    early = DistributedWALS(client, 5, **kw).fit(R).to_wals()
    monkeypatch.setattr(_sweep, "PREFETCH_TASKS", 0)  # as with many blocks and workers
    late = DistributedWALS(client, 5, **kw).fit(R).to_wals()
    assert np.array_equal(early.user_factors_, late.user_factors_)
    assert np.array_equal(early.item_factors_, late.item_factors_)


def test_factors_are_dask_arrays_of_the_blocks(client, R):
    model = DistributedWALS(client, 4, iterations=2, random_state=0).fit(R)
    local = model.to_wals()
    assert model.user_factors_.shape == (60, 4) and model.item_factors_.shape == (40, 4)
    assert model.user_factors_.numblocks == (2, 1)
    assert np.array_equal(model.user_factors_.compute(), local.user_factors_)
    assert np.array_equal(model.item_factors_.compute(), local.item_factors_)


# ---------------------------------------------------------------- sources

def test_dask_dataframe_and_parquet_parts_equal_the_matrix(client, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    R = random_ratings(50, 30, seed=22, empty_rows=(), empty_cols=())
    df = frame_of(R)
    # one pair split over two rows in different partitions: summed back to its value
    df.loc[0, "plays"] -= 1.0
    extra = df.iloc[[0]].assign(plays=1.0)
    kw = dict(iterations=3, dtype=np.float64, random_state=5, regularization=0.1)
    ref = DistributedWALS(client, 5, **kw).fit(R).to_wals()
    table = dd.concat([dd.from_pandas(df, npartitions=3), dd.from_pandas(extra, npartitions=1)])
    from_frame = DistributedWALS(client, 5, **kw).fit(table, user_col="user", item_col="item",
                                                       value_col="plays")
    assert from_frame.user_ids_ == IdMap(np.arange(50) + 1000)
    assert from_frame.item_ids_ == IdMap([f"i{j:03d}" for j in range(30)])
    parts = tmp_path / "events"
    parts.mkdir()
    for j, lo in enumerate(range(0, len(df), 200)):
        df.iloc[lo:lo + 200].to_parquet(parts / f"part-{j:03d}.parquet")
    extra.to_parquet(parts / "part-999.parquet")
    from_files = DistributedWALS(client, 5, **kw).fit(str(parts), user_col="user",
                                                       item_col="item", value_col="plays")
    for model in (from_frame, from_files):
        local = model.to_wals()
        assert_allclose(local.user_factors_, ref.user_factors_, rtol=1e-12, atol=1e-14)
        assert_allclose(local.item_factors_, ref.item_factors_, rtol=1e-12, atol=1e-14)
        assert local.user_ids_ == model.user_ids_


def test_given_id_maps_fix_rows_and_allow_weights(client, tmp_path):
    R = random_ratings(40, 20, seed=23, empty_rows=(), empty_cols=())
    df = frame_of(R)
    users = IdMap((np.arange(40) + 1000)[::-1])  # reversed order
    rw = np.linspace(0.5, 2.0, 40)
    file = tmp_path / "all.parquet"
    df.to_parquet(file)
    kw = dict(iterations=2, dtype=np.float64, random_state=3, regularization=0.1)
    model = DistributedWALS(client, 4, row_weights=rw, **kw).fit(
        str(file), user_col="user", item_col="item", value_col="plays", users=users)
    ref = WALS(4, row_weights=rw, **kw).fit(R[::-1])
    assert_same_fit(model.to_wals(), ref, 1e-5)


@pytest.mark.parametrize("solver", ["cholesky", "cg", "subspace"])
@pytest.mark.parametrize("mode", ["hkv-default", "row-col-weights"])
def test_unobserved_weights_equal_the_single_machine_fit(client, R, solver, mode):
    rng = np.random.default_rng(7)
    a = rng.uniform(0.2, 3.0, R.shape[0])
    a[::7] = 0.0
    params = _materialise(MODES[mode], R.shape)
    kw = dict(iterations=4, dtype=np.float64, random_state=0, solver=solver, block_size=3,
              calculate_loss=True, reg_exponent=0.5, unobserved_row_weights=a,
              unobserved_col_weights="popularity", unobserved_exponent=0.7, **params)
    model = DistributedWALS(client, 6, blocks=3, **kw).fit(R)
    ref = WALS(6, **kw).fit(R)
    local = model.to_wals()
    assert_same_fit(local, ref, 1e-5)
    assert_allclose(model.loss_history_, ref.loss_history_, rtol=1e-9)
    assert np.array_equal(local.unobserved_row_weights_, ref.unobserved_row_weights_)
    assert np.array_equal(local.unobserved_col_weights_, ref.unobserved_col_weights_)
    # fold-in with the fit's weights, in each model's basis
    M = rotation_onto(np.vstack([local.user_factors_, local.item_factors_]),
                      np.vstack([ref.user_factors_, ref.item_factors_]))
    want = ref.transform(R)
    assert_allclose(local.transform(R) @ M, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_unobserved_weights_from_parquet_parts(client, tmp_path):
    # "popularity" from the counts the workers send; arrays need the id maps
    R = random_ratings(40, 20, seed=23, empty_rows=(), empty_cols=())
    file = tmp_path / "all.parquet"
    frame_of(R).to_parquet(file)
    kw = dict(iterations=2, dtype=np.float64, random_state=3, regularization=0.1,
              unobserved_col_weights="popularity", unobserved_row_weights="popularity")
    source = dict(user_col="user", item_col="item", value_col="plays")
    model = DistributedWALS(client, 4, **kw).fit(str(file), **source)
    ref = WALS(4, **kw).fit(R)
    assert_same_fit(model.to_wals(), ref, 1e-5)
    b = np.linspace(0.0, 2.0, 20)
    with pytest.raises(ValueError, match="unobserved_col_weights as an array with a Dask "
                                         "DataFrame or Parquet source needs the id maps"):
        DistributedWALS(client, 4, **{**kw, "unobserved_col_weights": b}).fit(str(file),
                                                                               **source)
    items = IdMap([f"i{j:03d}" for j in range(20)])
    model = DistributedWALS(client, 4, **{**kw, "unobserved_col_weights": b}).fit(
        str(file), items=items, **source)
    assert_same_fit(model.to_wals(), WALS(4, **{**kw, "unobserved_col_weights": b}).fit(R),
                    1e-5)


def test_a_checkpoint_with_other_unobserved_weights_is_refused(client, R, tmp_path):
    path = tmp_path / "ckpt"
    kw = dict(iterations=1, checkpoint=path, checkpoint_every=1, random_state=0)
    DistributedWALS(client, 4, unobserved_col_weights="popularity", **kw).fit(R)
    with pytest.raises(ValueError, match="its unobserved_col_weights is '[0-9a-f]+', this "
                                         "fit's None"):
        DistributedWALS(client, 4, **{**kw, "iterations": 2}).fit(R)
    with pytest.raises(ValueError, match="its unobserved_col_weights is '[0-9a-f]+', this "
                                         "fit's '[0-9a-f]+'"):
        DistributedWALS(client, 4, unobserved_col_weights="popularity", unobserved_exponent=1.0,
                        **{**kw, "iterations": 2}).fit(R)
    resumed = DistributedWALS(client, 4, unobserved_col_weights="popularity",
                              **{**kw, "iterations": 2}).fit(R)
    assert resumed.n_iter_ == 2


# ---------------------------------------------------------------- checkpoints

def test_resume_from_a_checkpoint_equals_an_uninterrupted_fit(client, R, tmp_path):
    kw = dict(dtype=np.float64, random_state=4, regularization=0.1, solver="cg",
              calculate_loss=True)
    whole = DistributedWALS(client, 5, iterations=5, **kw).fit(R).to_wals()
    path = tmp_path / "ckpt"
    # stopped by its callback after 3 iterations, with a checkpoint at 2
    first = DistributedWALS(client, 5, iterations=5, checkpoint=path, checkpoint_every=2,
                            callback=lambda it, s, loss: it == 2, **kw).fit(R)
    assert first.n_iter_ == 3
    assert sorted(os.listdir(path)) == ["iter-000002", "manifest.json"]
    resumed = DistributedWALS(client, 5, iterations=5, checkpoint=path, checkpoint_every=2,
                              **kw).fit(R)
    assert resumed.n_iter_ == 5
    assert sorted(os.listdir(path)) == ["iter-000004", "manifest.json"]
    local = resumed.to_wals()
    # reading factors back from the checkpoint changes nothing: equal to the bit
    assert np.array_equal(local.user_factors_, whole.user_factors_)
    assert np.array_equal(local.item_factors_, whole.item_factors_)
    assert resumed.loss_history_ == whole.loss_history_
    # other blocks: rows are cut from the checkpoint's files
    again = DistributedWALS(client, 5, iterations=5, blocks=3, checkpoint=path, **kw).fit(R)
    assert again.n_iter_ == 5 and again.user_factors_.numblocks == (3, 1)
    assert_same_fit(again.to_wals(), whole, 1e-12)
    fresh = DistributedWALS(client, 5, iterations=1, checkpoint=path, **kw).fit(R, resume=False)
    assert fresh.n_iter_ == 1


def test_a_checkpoint_of_another_fit_is_refused(client, R, tmp_path):
    path = tmp_path / "ckpt"
    DistributedWALS(client, 4, iterations=1, checkpoint=path, checkpoint_every=1,
                    random_state=0).fit(R)
    with pytest.raises(ValueError, match="its regularization is 0.01, this fit's 0.5"):
        DistributedWALS(client, 4, iterations=2, checkpoint=path, regularization=0.5).fit(R)
    with pytest.raises(ValueError, match="its users is 60, this fit's 59"):
        DistributedWALS(client, 4, iterations=2, checkpoint=path).fit(R[:59])
    # damaged block files: refused when the resumed fit reads them, naming the file
    kw = dict(iterations=2, checkpoint=path, checkpoint_every=1, random_state=0)
    block = next(path.glob("iter-*/item-00000.npy"))  # read by the first half-sweep
    good = np.load(block)
    for damaged, message in ((good[:, :3], r"shape \(\d+, 3\), not float32 \(\d+, 4\)"),
                             (good.astype(np.float64), "float64 array"),
                             (np.full_like(good, np.nan), "NaN or infinite")):
        np.save(block, damaged)
        with pytest.raises(ValueError, match=f"item-00000.npy' is damaged: it .*{message}"):
            DistributedWALS(client, 4, **kw).fit(R)
    block.write_bytes(b"\x93NUMPY truncated")
    with pytest.raises(ValueError, match="item-00000.npy' is damaged or missing"):
        DistributedWALS(client, 4, **kw).fit(R)
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable checkpoint manifest"):
        DistributedWALS(client, 4, iterations=2, checkpoint=path).fit(R)


# ---------------------------------------------------------------- a worker lost mid-fit

@pytest.mark.parametrize("checkpoint_every", [None, 1])
def test_a_worker_killed_mid_fit_changes_nothing(client, R, tmp_path, checkpoint_every):
    # blocks fixed: blocks=None takes one block per worker present when the data
    # load starts, so a reference fit begun while the replacement had not joined
    # would sum its Gramians over another split (other last bits), kill or none
    kw = dict(iterations=4, dtype=np.float64, random_state=6, regularization=0.1, solver="cg",
              blocks=2)
    if checkpoint_every:  # Dask's recomputation then starts from the checkpoint files
        kw.update(checkpoint=tmp_path / "ckpt", checkpoint_every=checkpoint_every)
    killed = []

    def kill_after_first(iteration, seconds, loss):
        if iteration == 1:
            killed.append(kill_one_worker(client))

    try:
        model = DistributedWALS(client, 5, callback=kill_after_first, **kw).fit(R)
        assert killed and model.n_iter_ == 4
        got = model.to_wals()
    finally:
        client.wait_for_workers(2, timeout=60)  # the nanny restarts it
    kw.pop("checkpoint", None)
    ref = DistributedWALS(client, 5, **kw).fit(R).to_wals()
    assert np.array_equal(got.user_factors_, ref.user_factors_)
    assert np.array_equal(got.item_factors_, ref.item_factors_)


def test_every_worker_killed_mid_fit_and_restarted_changes_nothing(client, R):
    # tasks tied to the workers' old addresses would wait for ever for them
    kw = dict(iterations=4, dtype=np.float64, random_state=6, regularization=0.1, solver="cg",
              blocks=2, worker_timeout=60)
    killed = []

    def kill_all_after_first(iteration, seconds, loss):
        if iteration == 1:
            kill_every_worker(client)
            killed.append(iteration)

    try:
        model = DistributedWALS(client, 5, callback=kill_all_after_first, **kw)
        within(120, lambda: model.fit(R))  # the nannies restart the workers
        got = within(120, model.to_wals)
    finally:
        client.wait_for_workers(2, timeout=60)
    assert killed and model.n_iter_ == 4
    ref = DistributedWALS(client, 5, **kw).fit(R).to_wals()
    assert np.array_equal(got.user_factors_, ref.user_factors_)
    assert np.array_equal(got.item_factors_, ref.item_factors_)


def test_no_worker_coming_back_is_an_error_after_worker_timeout(R):
    # a scheduler, and one worker without a nanny: nothing restarts it
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster.scheduler_address) as c:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                   cluster.scheduler_address, "--no-nanny", "--nthreads", "1",
                                   "--no-dashboard"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            c.wait_for_workers(1, timeout=60)

            def kill_after_first(iteration, seconds, loss):
                if iteration == 1:
                    worker.kill()

            model = DistributedWALS(c, 4, iterations=3, random_state=0, worker_timeout=1,
                                    callback=kill_after_first)
            with pytest.raises(TimeoutError, match=r"no workers for 1 s \(worker_timeout=1\) "
                                                   r"while fitting"):
                within(60, lambda: model.fit(R))
            assert not hasattr(model, "n_iter_")  # nothing half-fitted is left behind
        finally:
            worker.kill()
            worker.wait(timeout=60)


# ---------------------------------------------------------------- recommend_all

def test_recommend_all_parts_equal_the_local_recommend_all(client, R, tmp_path):
    kw = dict(iterations=3, dtype=np.float64, random_state=7, regularization=0.1)
    model = DistributedWALS(client, 6, **kw).fit(R)
    files = model.recommend_all(tmp_path / "recs", N=5, filter_items=[3, 4])
    assert [os.path.basename(f) for f in files] == ["part-00000.parquet", "part-00001.parquet"]
    table = pa.concat_tables([pq.read_table(f) for f in files])
    assert table.column_names == ["user", "item", "rank", "score"]
    got = {c: table.column(c).to_numpy() for c in table.column_names}
    for local in (model.to_wals(), WALS(6, **kw).fit(R)):
        ids, scores = local.recommend_all(N=5, user_items=sp.csr_array(R), filter_items=[3, 4])
        keep = ids >= 0
        assert np.array_equal(got["user"], np.repeat(np.arange(60), 5)[keep.ravel()])
        assert np.array_equal(got["item"], ids[keep])
        assert np.array_equal(got["rank"], np.tile(np.arange(1, 6), 60)[keep.ravel()])
        assert_allclose(got["score"], scores[keep], rtol=1e-9)
    with pytest.raises(ValueError, match="already holds 2 part files"):
        model.recommend_all(tmp_path / "recs", N=5)
    again = model.recommend_all(tmp_path / "recs", N=2, overwrite=True)
    assert pq.read_table(again[0]).column("rank").to_numpy().max() == 2


def test_recommend_all_writes_raw_ids(client, tmp_path):
    R = random_ratings(30, 20, seed=24, empty_rows=(), empty_cols=())
    file = tmp_path / "all.parquet"
    frame_of(R).to_parquet(file)
    model = DistributedWALS(client, 4, iterations=2, random_state=0).fit(
        str(file), user_col="user", item_col="item", value_col="plays")
    table = pa.concat_tables([pq.read_table(f)
                              for f in model.recommend_all(tmp_path / "recs", N=3)])
    assert set(table.column("user").to_pylist()) == set(range(1000, 1030))
    assert all(s.startswith("i") for s in table.column("item").to_pylist())


# ---------------------------------------------------------------- errors

def test_errors_name_the_argument(client, R, tmp_path):
    with pytest.raises(TypeError, match="client must be a distributed.Client, got str"):
        DistributedWALS("tcp://nowhere:8786", 4).fit(R)
    with pytest.raises(TypeError, match="unexpected keyword argument 'iteration'"):
        DistributedWALS(client, 4, iteration=3)
    with pytest.raises(ValueError, match="exchange must be one of 'auto', 'broadcast', "
                                         "'needed'; got 'all'"):
        DistributedWALS(client, 4, exchange="all").fit(R)
    with pytest.raises(ValueError, match="blocks must be >= 1, got 0"):
        DistributedWALS(client, 4, blocks=0).fit(R)
    with pytest.raises(ValueError, match="checkpoint_every must be >= 1, got 0"):
        DistributedWALS(client, 4, checkpoint=tmp_path, checkpoint_every=0).fit(R)
    with pytest.raises(ValueError, match="worker_timeout must be a finite number > 0, got 0.0"):
        DistributedWALS(client, 4, worker_timeout=0).fit(R)
    with pytest.raises(ValueError, match="regularization must be a finite number >= 0"):
        DistributedWALS(client, 4, regularization=-1.0).fit(R)
    with pytest.raises(ValueError, match="Negative values in data: X has 1 value < 0"):
        DistributedWALS(client, 4).fit(np.array([[1.0, -2.0], [0.0, 3.0]]))
    with pytest.raises(ValueError, match="X has no non-zero entries"):
        DistributedWALS(client, 4).fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="user_col applies to a Dask DataFrame or Parquet"):
        DistributedWALS(client, 4).fit(R, user_col="user")
    with pytest.raises(ValueError, match="recommend_all needs a fitted model"):
        DistributedWALS(client, 4).recommend_all(tmp_path / "recs")


def test_table_errors_name_the_file_and_column(client, tmp_path):
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="user_col and item_col .* are needed"):
        DistributedWALS(client, 4).fit(str(tmp_path), user_col="user")
    with pytest.raises(FileNotFoundError, match="no file or directory at"):
        DistributedWALS(client, 4).fit(str(tmp_path / "missing"), user_col="u", item_col="i")
    with pytest.raises(ValueError, match="holds no Parquet parts"):
        DistributedWALS(client, 4).fit(str(tmp_path), user_col="u", item_col="i")
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"u": [1, 2], "i": [3, 4], "v": [1.0, -1.0]}).to_parquet(bad)
    with pytest.raises(ValueError, match=r"bad.parquet: value column 'v' has 1 negative "
                                         r"values \(the first -1.0 for user 2, item 4\)"):
        DistributedWALS(client, 4).fit(str(bad), user_col="u", item_col="i", value_col="v")
    with pytest.raises(ValueError, match="bad.parquet: no column 'w'"):
        DistributedWALS(client, 4).fit(str(bad), user_col="u", item_col="i", value_col="w")
    pd.DataFrame({"u": [1, 2], "i": [3, 4], "v": [1.0, np.nan]}).to_parquet(bad)
    with pytest.raises(ValueError, match="column 'v' has 1 missing values"):
        DistributedWALS(client, 4).fit(str(bad), user_col="u", item_col="i", value_col="v")
    pd.DataFrame({"u": [1, 2], "i": [3, 4], "v": [1.0, 1e39]}).to_parquet(bad)
    with pytest.raises(ValueError, match=r"1 values beyond float32's largest .* the first is "
                                         r"1e\+39 at user 1, item 1"):
        DistributedWALS(client, 4).fit(str(bad), user_col="u", item_col="i", value_col="v")
    with pytest.raises(ValueError, match="need the id maps that fix their order"):
        DistributedWALS(client, 4, row_weights=[1.0, 2.0]).fit(str(bad), user_col="u",
                                                               item_col="i")
    with pytest.raises(ValueError, match="user id 2 is not in the given users map"):
        DistributedWALS(client, 4).fit(str(bad), user_col="u", item_col="i",
                                       users=IdMap([1]))
