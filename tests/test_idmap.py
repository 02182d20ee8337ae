"""IdMap storage: id_map_arrays / id_map_from_arrays (the .npz layout of id maps)."""

import numpy as np
import pytest

from fastwals.idmap import IdMap, id_map_arrays, id_map_from_arrays


def _npz_round_trip(tmp_path, arrays):
    path = tmp_path / "m.npz"
    np.savez(path, **arrays)
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("ids", [[30, -1, 2**62], ["b", "a", "ć", "日本", "x" * 50],
                                 np.array([], np.int64), np.array([], str)])
def test_arrays_round_trip_through_npz(tmp_path, ids):
    m = IdMap(ids)
    arrays = id_map_arrays(m, "user_ids")
    assert all(k.startswith("user_ids") for k in arrays)
    assert all(a.dtype.kind != "O" for a in arrays.values())
    back = id_map_from_arrays(_npz_round_trip(tmp_path, arrays), "user_ids")
    assert back == m and back.is_str == m.is_str


def test_string_ids_are_stored_as_utf8_bytes_and_offsets():
    arrays = id_map_arrays(IdMap(["a", "x" * 10_000]), "item_ids")
    assert sorted(arrays) == ["item_ids_offsets", "item_ids_utf8"]
    assert arrays["item_ids_utf8"].dtype == np.uint8 and arrays["item_ids_utf8"].size == 10_001
    assert arrays["item_ids_offsets"].tolist() == [0, 1, 10_001]


def test_old_layout_and_absence():
    assert id_map_from_arrays({"user_ids": np.array(["b", "a"])}, "user_ids") == IdMap(["b", "a"])
    assert id_map_from_arrays({"user_ids": np.array([3, 1])}, "user_ids") == IdMap([3, 1])
    assert id_map_from_arrays({"item_ids": np.array([1])}, "user_ids") is None


@pytest.mark.parametrize("data, match", [
    ({"u_utf8": np.frombuffer(b"ab", np.uint8)}, "'u_offsets' is missing"),
    ({"u_utf8": np.frombuffer(b"ab", np.uint8), "u_offsets": np.array([0, 1, 3])},
     "must rise from 0 to the 2 bytes"),
    ({"u_utf8": np.frombuffer(b"ab", np.uint8), "u_offsets": np.array([0, 2, 1, 2])},
     "decreasing"),
    ({"u_utf8": np.frombuffer(b"\xff\xfe", np.uint8), "u_offsets": np.array([0, 2])},
     "not valid UTF-8"),
    ({"u_utf8": np.frombuffer(b"aa", np.uint8), "u_offsets": np.array([0, 1, 2])},
     "unique"),
    ({"u_utf8": np.zeros(2, np.float32), "u_offsets": np.array([0, 2])}, "uint8"),
    ({"u_utf8": np.zeros(2, np.uint8), "u_offsets": np.array([[0, 2]])}, "1-D integer"),
    ({"u": np.array([1.5])}, "int64 or unicode"),
    ({"u": np.array([1, 1])}, "unique"),
    ({"u": np.array([1]), "u_utf8": np.zeros(0, np.uint8), "u_offsets": np.array([0])},
     "stored twice"),
])
def test_invalid_arrays_are_value_errors(data, match):
    with pytest.raises(ValueError, match=match):
        id_map_from_arrays(data, "u")
