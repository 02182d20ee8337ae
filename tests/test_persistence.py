"""save / load: round trips, atomic writes, and a clear error for every bad file."""

import io
import json
import re
import tracemalloc
import zipfile

import numpy as np
from numpy.lib import format as npy
import pytest

from fastwals import WALS, cli, persistence
from fastwals.idmap import IdMap
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
    with pytest.raises(ValueError, match=r"format version 3, written by a newer fastwals; "
                                         r"this version reads formats 1, 2"):
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
    with pytest.raises(ValueError, match="is a damaged fastwals model file: 'params' is "
                                         "missing"):
        WALS.load(path)
    assert zipfile.is_zipfile(path)


def test_compressed_and_version_1_files_still_load(fitted, tmp_path):
    # savez_compressed (deflated members); format 1 with string ids as one unicode array
    path = tmp_path / "model.npz"
    arrays = _saved_arrays(fitted, path)
    arrays.update(format_version=np.array(1), user_ids=np.arange(30) * 10,
                  item_ids=np.array([f"item-{i}" for i in range(20)]))
    np.savez_compressed(path, **arrays)
    loaded = WALS.load(path)
    assert np.array_equal(loaded.item_factors_, fitted.item_factors_)
    assert loaded.item_ids_.raw(19) == "item-19" and loaded.user_ids_.raw(29) == 290


def test_string_ids_are_written_in_format_2_integer_ids_in_format_1(fitted, tmp_path):
    path = tmp_path / "model.npz"
    fitted.user_ids_ = IdMap(np.arange(30) * 10)
    fitted.item_ids_ = IdMap(np.arange(20))
    assert int(_saved_arrays(fitted, path)["format_version"]) == 1  # older readers load it
    fitted.item_ids_ = IdMap([f"item-{i}" for i in range(20)])
    assert int(_saved_arrays(fitted, path)["format_version"]) == 2
    assert WALS.load(path).item_ids_ == fitted.item_ids_


def test_foreign_byte_order_and_layout_load(fitted, tmp_path):
    path = tmp_path / "model.npz"
    arrays = _saved_arrays(fitted, path)
    arrays["user_factors"] = np.asfortranarray(arrays["user_factors"]).astype(">f8")
    np.savez(path, **arrays)
    loaded = WALS.load(path)
    assert loaded.user_factors_.dtype == np.float64 and loaded.user_factors_.flags.c_contiguous
    assert np.array_equal(loaded.user_factors_, fitted.user_factors_)


# ---------------------------------------------------------------- damaged files
# Each damage is applied to the arrays of a saved model with raw ids (integer
# users, string items) in format 1's layout (which older fastwals also reads, so
# these tests show what it accepted), written back with zipfile as np.savez does,
# then loaded by WALS.load, `fastwals info` and `fastwals recommend`.

class _Declared:
    """A member whose .npy header declares `shape` (float64) over 64 bytes of data."""

    def __init__(self, shape):
        self.shape = shape


def _write(path, arrays):
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            buf = io.BytesIO()
            if isinstance(value, _Declared):
                npy.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                                 "shape": value.shape})
                buf.write(bytes(64))
            else:
                npy.write_array(buf, np.asanyarray(value), allow_pickle=False)
            archive.writestr(key + ".npy", buf.getvalue())


def _utf8(arrays, prefix, names):
    """Store `names` under prefix in format 2's layout (UTF-8 bytes and offsets)."""
    arrays.pop(prefix, None)
    encoded = [name.encode() for name in names]
    arrays[prefix + "_utf8"] = np.frombuffer(b"".join(encoded), np.uint8)
    arrays[prefix + "_offsets"] = np.cumsum([0] + [len(b) for b in encoded])
    arrays["format_version"] = np.array(2)


def _params(**changes):
    def damage(a):
        params = json.loads(str(a["params"]))
        params.update(changes)
        a["params"] = np.array(json.dumps(params))
    return damage


def _change(key, fn):
    def damage(a):
        a[key] = fn(a[key].copy())
    return damage


def _nan_at(i, j, value=np.nan):
    def put(F):
        F[i, j] = value
        return F
    return put


DAMAGES = {
    # name: (damage to the arrays, what the error says)
    "k-mismatch": (_change("user_factors", lambda F: np.hstack([F, F[:, :1]])),
                   r"'user_factors' has 6 factors per row \(shape \(30, 6\)\), the "
                   r"hyperparameters say factors=5"),
    "k-mismatch-both": (lambda a: a.update(user_factors=a["user_factors"][:, :4],
                                           item_factors=a["item_factors"][:, :4]),
                        r"'user_factors' has 4 factors per row"),
    "integer-factors": (_change("user_factors", lambda F: F.astype(np.int64)),
                        r"'user_factors' must be a 2-D array of float64 factors, got dtype "
                        r"int64 and shape \(30, 5\)"),
    "float32-factors": (_change("item_factors", lambda F: F.astype(np.float32)),
                        r"'item_factors' holds float32 values, the hyperparameters say "
                        r"dtype=float64"),
    "1-D-factors": (_change("user_factors", np.ravel), r"'user_factors' must be a 2-D array"),
    "nan-factor": (_change("item_factors", _nan_at(2, 3)),
                   r"'item_factors' holds 1 NaN or infinite values, the first at index "
                   r"\(2, 3\) \(nan\)"),
    "inf-factor": (_change("user_factors", _nan_at(29, 0, -np.inf)),
                   r"'user_factors' holds 1 NaN or infinite values, the first at index "
                   r"\(29, 0\) \(-inf\)"),
    "short-user-ids": (_change("user_ids", lambda ids: ids[:-1]),
                       r"'user_ids' holds 29 ids for the 30 rows of 'user_factors'"),
    "long-item-ids": (lambda a: a.update(item_ids=np.array([f"i{j}" for j in range(21)])),
                      r"'item_ids' holds 21 ids for the 20 rows of 'item_factors'"),
    "duplicate-user-ids": (_change("user_ids", lambda ids: np.r_[ids[:1], ids[:-1]]),
                           r"'user_ids': ids must be unique; 1 repeat, the first 0"),
    "duplicate-item-ids": (lambda a: a.update(item_ids=np.array(["x", "x"] + ["y"] * 18)),
                           r"'item_ids': ids must be unique"),
    "duplicate-utf8-ids": (lambda a: _utf8(a, "item_ids", [f"i{j % 19}" for j in range(20)]),
                           r"ids must be unique; 1 repeat, the first 'i0'"),
    "item-ids-alone": (lambda a: a.pop("user_ids"),
                       r"raw-id maps need both 'user_ids' and 'item_ids'"),
    "no-item-factors": (lambda a: a.pop("item_factors"),
                        r"it holds 'user_factors', 'n_iter', 'loss_history' without "
                        r"'item_factors'"),
    "negative-n_iter": (lambda a: a.update(n_iter=np.array(-1)), r"'n_iter' must be >= 0"),
    "n_iter-array": (lambda a: a.update(n_iter=np.arange(3)),
                     r"'n_iter' must be one integer, got dtype int64 and shape \(3,\)"),
    "long-loss-history": (lambda a: a.update(loss_history=np.ones(4)),
                          r"'loss_history' has 4 values for n_iter=3 iterations"),
    "nan-loss": (_change("loss_history", lambda h: h * np.nan), r"'loss_history' holds 3 NaN"),
    "bad-factors-param": (_params(factors=0), r"factors must be >= 1, got 0"),
    "integer-dtype-param": (_params(dtype="int32"),
                            r"dtype must be numpy.float32 or numpy.float64, got 'int32'"),
    "text-param": (_params(regularization="a lot"),
                   r"regularization must be a real number, got 'a lot'"),
    "unknown-param": (_params(colour="blue"), r"'params' has unknown hyperparameters"),
    "short-row-weights": (_change("param_row_weights", lambda w: w[:-1]),
                          r"row_weights must have one entry per user .*expected shape "
                          r"\(30,\), got \(29,\)"),
    "negative-row-weight": (_change("param_row_weights", lambda w: -w),
                            r"row_weights must be finite and >= 0"),
    "huge-declared-shape": (lambda a: a.update(user_factors=_Declared((10**12, 5))),
                            r"'user_factors' declares shape \(1000000000000, 5\) of float64 "
                            r"\(40,000,000,000,000 bytes\) but its member holds at most 64 "
                            r"bytes"),
    "format-version-text": (lambda a: a.update(format_version=np.array("abc")),
                            r"has an unreadable model format version: 'format_version' must "
                            r"be one integer, got 'abc'"),
    "format-version-2-D": (lambda a: a.update(format_version=np.ones((2, 2), np.int64)),
                           r"unreadable model format version: .* got dtype int64 and shape "
                           r"\(2, 2\)"),
    "format-version-float": (lambda a: a.update(format_version=np.array(1.0)),
                             r"unreadable model format version: .* got 1.0 \(dtype float64\)"),
}


@pytest.fixture(params=list(DAMAGES))
def damaged(request, fitted, tmp_path):
    """(path of a damaged model file, the expected error)"""
    path = tmp_path / "model.npz"
    fitted.user_ids_ = IdMap(np.arange(30) * 10)
    fitted.item_ids_ = IdMap([f"item-{i}" for i in range(20)])
    arrays = _saved_arrays(fitted, path)
    for key in ("item_ids", "item_ids_utf8", "item_ids_offsets"):
        arrays.pop(key, None)
    arrays.update(format_version=np.array(1), item_ids=np.array([f"item-{i}" for i in range(20)]))
    damage, message = DAMAGES[request.param]
    damage(arrays)
    _write(path, arrays)
    return path, message


def test_load_refuses_a_damaged_file(damaged):
    path, message = damaged
    with pytest.raises(ValueError, match=r"model\.npz' .*" + message):
        WALS.load(path)


def test_info_refuses_a_damaged_file(damaged, capsys):
    path, message = damaged
    assert cli.main(["info", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert re.search(r"fastwals info: error: '.*model\.npz' .*" + message, err), err


def test_recommend_refuses_a_damaged_file(damaged, capsys, tmp_path):
    path, message = damaged
    output = tmp_path / "recommendations.csv"
    assert cli.main(["recommend", str(path), "--all", "-o", str(output)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and not output.exists()
    assert re.search(r"fastwals recommend: error: '.*model\.npz' .*" + message, err), err


def test_a_declared_size_is_checked_before_allocating(fitted, tmp_path):
    # 40 MB declared in a file of a few KB: refused without allocating it
    path = tmp_path / "model.npz"
    arrays = _saved_arrays(fitted, path)
    arrays["item_factors"] = _Declared((10**6, 5))
    _write(path, arrays)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"'item_factors' declares shape \(1000000, 5\)"):
            WALS.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 10**6


@pytest.mark.parametrize("change, message", [
    (dict(factors=6), r"'user_factors' has 5 factors per row .* factors=6"),
    (dict(dtype=np.float32), r"'user_factors' holds float64 values, .* dtype=float32"),
    (dict(row_weights=np.ones(29)), r"row_weights must have one entry per user"),
    (dict(regularization=-1.0), r"regularization must be a finite number >= 0"),
])
def test_save_refuses_what_load_would_refuse(fitted, tmp_path, change, message):
    # hyperparameters changed after the fit: the file would never load back
    path = tmp_path / "model.npz"
    path.write_bytes(b"previous contents")
    fitted.set_params(**change)
    with pytest.raises(ValueError, match=r"cannot save to '.*model\.npz': the model would "
                                         r"not load back: " + message):
        fitted.save(path)
    assert path.read_bytes() == b"previous contents" and len(list(tmp_path.iterdir())) == 1


def test_save_refuses_id_maps_of_the_wrong_length(fitted, tmp_path):
    fitted.user_ids_, fitted.item_ids_ = IdMap(np.arange(29)), IdMap(np.arange(20))
    with pytest.raises(ValueError, match=r"user_ids_ holds 29 ids for the 30 rows"):
        fitted.save(tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()
