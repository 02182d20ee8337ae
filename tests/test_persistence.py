"""save / load: round trips, atomic writes, and a clear error for every bad file."""

import json
import zipfile

import numpy as np
import pytest

from fastwals import WALS, persistence
from fastwals.metrics import split_random
from conftest import random_ratings


@pytest.fixture
def fitted():
    R = random_ratings(seed=31)
    return WALS(5, iterations=3, regularization=0.2, alpha=2.0, confidence="log",
                row_weights=np.linspace(0.5, 2, 30), random_state=4, calculate_loss=True,
                dtype=np.float64).fit(R)


def test_round_trip_keeps_params_and_fitted_state(fitted, tmp_path):
    path = tmp_path / "model.npz"
    fitted.save(path)
    loaded = WALS.load(path)
    a, b = fitted.get_params(), loaded.get_params()
    assert np.array_equal(a.pop("row_weights"), b.pop("row_weights"))
    assert a == b
    assert loaded.dtype is np.float64
    assert np.array_equal(loaded.user_factors_, fitted.user_factors_)
    assert np.array_equal(loaded.item_factors_, fitted.item_factors_)
    assert loaded.user_factors_.dtype == np.float64
    assert loaded.n_iter_ == 3 and loaded.loss_history_ == fitted.loss_history_
    # and it goes on fitting where it stopped
    R = random_ratings(seed=31)
    loaded.set_params(iterations=1).fit(R, warm_start=True)
    assert loaded.n_iter_ == 4


def test_round_trip_keeps_the_validation_state(tmp_path):
    R = random_ratings(seed=31)
    train, test = split_random(R, 0.3, random_state=0)
    model = WALS(4, iterations=3, random_state=0).fit(train, validation=(test, "ndcg", 5))
    model.save(tmp_path / "m.npz")
    loaded = WALS.load(tmp_path / "m.npz")
    assert loaded.best_iteration_ == model.best_iteration_
    assert loaded.validation_history_ == model.validation_history_
    assert np.array_equal(loaded.recommend_all(3, R)[0], model.recommend_all(3, R)[0])


def test_unfitted_model_and_unsavable_values(tmp_path):
    path = tmp_path / "m.npz"
    # a numpy scalar parameter, a Generator (not part of the model) and a callback (code)
    WALS(np.int64(7), random_state=np.random.default_rng(0), callback=print).save(path)
    loaded = WALS.load(path)
    assert loaded.factors == 7 and loaded.random_state is None and loaded.callback is None
    assert not hasattr(loaded, "user_factors_")


def test_save_is_atomic(fitted, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    path.write_bytes(b"previous contents")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(persistence.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(path)
    assert path.read_bytes() == b"previous contents"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary left


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at .*absent.npz"):
        WALS.load(tmp_path / "absent.npz")


def test_truncated_file(fitted, tmp_path):
    path = tmp_path / "model.npz"
    fitted.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"model.npz' is not a readable fastwals model: "
                                         r"truncated, corrupt or not an .npz archive"):
        WALS.load(path)


def test_not_an_archive(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user,item\n1,2\n")
    with pytest.raises(ValueError, match="ratings.csv' is not a readable fastwals model"):
        WALS.load(path)


def test_foreign_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ValueError, match="other.npz' is not a fastwals model file"):
        WALS.load(path)


def _saved_arrays(model, path):
    model.save(path)
    with np.load(path) as archive:
        return dict(archive)


def test_newer_format_version(fitted, tmp_path):
    path = tmp_path / "model.npz"
    arrays = _saved_arrays(fitted, path)
    arrays["format_version"] = np.array(persistence.FORMAT_VERSION + 1)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"format version 2, written by a newer fastwals; "
                                         r"this version reads format 1"):
        WALS.load(path)


def test_damaged_contents(fitted, tmp_path):
    path = tmp_path / "model.npz"
    arrays = _saved_arrays(fitted, path)
    params = json.loads(str(arrays["params"]))
    params["dtype"] = "complex64-ish"
    arrays["params"] = np.array(json.dumps(params))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="model.npz' is a damaged fastwals model file"):
        WALS.load(path)
    del arrays["params"]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="is a damaged fastwals model file: KeyError"):
        WALS.load(path)
    assert zipfile.is_zipfile(path)
