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


# ---------------------------------------------------------------- ids of any length and character

def test_one_long_id_costs_its_own_length(tmp_path):
    """Fixed-width unicode gave all 2,000 ids the width of one 10,000-character id
    (80 MB); variable-length strings hold about the text itself."""
    import tracemalloc

    from fastwals.io import read_interactions

    path = tmp_path / "long.csv"
    users = [f"u{k}" for k in range(2000)]
    users[7] = "x" * 10_000
    path.write_text("user,item\n" + "".join(f"{u},{k % 13}\n" for k, u in enumerate(users)))
    read_interactions(path, user_col="user", item_col="item")  # compile the kernels first
    tracemalloc.start()
    try:
        data = read_interactions(path, user_col="user", item_col="item")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.users.index("x" * 10_000) == data.users.ids.tolist().index("x" * 10_000)
    assert peak < 8e6, f"{peak / 1e6:.0f} MB traced while reading 2,000 short ids and one long"


CONTROL_IDS = ["a\0", "a", "\0", "b\x01c", "\tx\x7f", "d\r", "\u2028e", "f\0\0"]


def test_control_characters_round_trip_through_fit_save_load(tmp_path):
    from fastwals import WALS
    from fastwals.io import read_interactions

    rng = np.random.default_rng(0)
    users = np.array(CONTROL_IDS * 3, dtype=object)
    items = rng.integers(0, 5, users.size)
    data = read_interactions({"u": users, "i": items}, user_col="u", item_col="i")
    assert sorted(data.users.ids.tolist()) == sorted(CONTROL_IDS)
    assert data.users.index("a\0") != data.users.index("a")
    model = WALS(factors=2, iterations=1, random_state=0).fit(data)
    model.save(tmp_path / "m.npz")
    loaded = WALS.load(tmp_path / "m.npz")
    assert loaded.user_ids_ == data.users
    assert loaded.user_ids_.raw(loaded.user_ids_.index(CONTROL_IDS)).tolist() == CONTROL_IDS


def test_idmap_keeps_trailing_nuls_in_lookups_pickles_and_repr():
    import pickle

    m = IdMap(["a", "a\0", "a\0\0"])
    assert m.index(["a\0\0", "a", "a\0"]).tolist() == [2, 0, 1]
    assert m.index("a\0") == 1 and m.raw(2) == "a\0\0"
    assert m.raw([1, -1], fill="z\0").tolist() == ["a\0", "z\0"]
    assert pickle.loads(pickle.dumps(m)) == m and IdMap(["a", "a\0"]) != IdMap(["a", "a\0\0"])
    assert repr(m) == r"IdMap(3 str ids: ['a', 'a\x00', 'a\x00\x00'])"
    assert m.extend(["a\0\0\0"]).ids.tolist()[-1] == "a\0\0\0"
