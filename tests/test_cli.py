"""The `fastwals` command end to end on small generated files: fit, recommend,
similar, evaluate, info; raw ids in equal raw ids out; exit codes and messages
for bad input; atomic outputs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.csv as pcsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from fastwals import WALS  # noqa: E402
from fastwals.cli import main  # noqa: E402

FIT = ["--factors", "4", "--iterations", "2", "--quiet", "--seed", "0"]


def interactions(n_users=40, n_items=25, n=600, seed=0, string_ids=True):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = rng.integers(0, n_items, n)
    if string_ids:
        users = np.array([f"user-{u:03d}" for u in users])
        items = np.array([f"item/{i}" for i in items])
    else:
        users = users.astype(np.int64) * 1_000_003 + 2**40
        items = items.astype(np.int64) * 7 + 2**33
    return {"u": users, "i": items, "v": rng.integers(1, 6, n).astype(np.float64),
            "t": rng.permutation(n).astype(np.int64)}


def write(columns, path):
    table = pa.table(columns)
    path = str(path)
    if path.endswith(".parquet"):
        pq.write_table(table, path)
    else:
        delimiter = "\t" if path.endswith(".tsv") else ","
        pcsv.write_csv(table, path, pcsv.WriteOptions(delimiter=delimiter))
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def csv_file(tmp_path):
    return write(interactions(), tmp_path / "events.csv")


@pytest.fixture
def model_file(tmp_path, csv_file, capsys):
    path = tmp_path / "model.npz"
    code, out, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i",
                         "--value-col", "v", *FIT, "-o", path)
    assert code == 0, err
    return path


def test_fit_recommend_round_trip_in_raw_ids(tmp_path, csv_file, model_file, capsys):
    data = interactions()
    code, out, err = run(capsys, "info", model_file, "--json")
    info = json.loads(out)
    assert code == 0 and info["users"] == np.unique(data["u"]).size
    assert info["items"] == np.unique(data["i"]).size and info["raw_ids"]
    recs = tmp_path / "recs.parquet"
    code, out, err = run(capsys, "recommend", model_file, "--all", "-N", "5", "--exclude-seen",
                         csv_file, "--user-col", "u", "--item-col", "i", "-o", recs, "--json")
    assert code == 0, err
    summary = json.loads(out)
    table = pq.read_table(recs).to_pydict()
    assert summary["rows"] == len(table["user"]) == 5 * info["users"]
    assert set(table["user"]) == set(data["u"]) and set(table["item"]) <= set(data["i"])
    seen = set(zip(data["u"], data["i"]))
    assert not seen & set(zip(table["user"], table["item"]))
    # the same answers as the library, mapped through the model's ids
    model = WALS.load(model_file)
    u = model.user_ids_.index(np.array(["user-003"]))
    from fastwals.io import read_interactions
    X = read_interactions(csv_file, user_col="u", item_col="i", users=model.user_ids_,
                          items=model.item_ids_).matrix
    ids, scores = model.recommend(u[0], X, N=5)
    mine = [k for k, user in enumerate(table["user"]) if user == "user-003"]
    assert [table["item"][k] for k in mine] == list(model.item_ids_.raw(ids))
    assert [table["rank"][k] for k in mine] == [1, 2, 3, 4, 5]
    assert np.allclose([table["score"][k] for k in mine], scores)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", "-parts"])
def test_int_ids_and_every_input_form(tmp_path, capsys, suffix):
    data = interactions(string_ids=False, seed=1)
    if suffix == "-parts":
        source = tmp_path / "parts"
        source.mkdir()
        half = len(data["u"]) // 2
        write({k: v[:half] for k, v in data.items()}, source / "part-0.parquet")
        write({k: v[half:] for k, v in data.items()}, source / "part-1.parquet")
    else:
        source = write(data, tmp_path / f"events{suffix}")
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "fit", source, "--user-col", "u", "--item-col", "i", *FIT,
                       "-o", model)
    assert code == 0, err
    users = tmp_path / "users.txt"
    users.write_text(f"{data['u'][0]}\n\n{data['u'][5]}\n")
    out = tmp_path / "recs.csv"
    code, _, err = run(capsys, "recommend", model, "--users", users, "-N", "3", "-o", out)
    assert code == 0, err
    table = pcsv.read_csv(out).to_pydict()
    assert table["user"] == [data["u"][0]] * 3 + [data["u"][5]] * 3
    assert set(table["item"]) <= set(data["i"].tolist())


def test_similar_items(tmp_path, model_file, capsys):
    out = tmp_path / "sims.csv"
    code, stdout, err = run(capsys, "similar", model_file, "--all", "-N", "4", "-o", out)
    assert code == 0, err
    table = pcsv.read_csv(out).to_pydict()
    assert all(a != b for a, b in zip(table["item"], table["similar_item"]))
    assert len(table["item"]) == 4 * len(set(table["item"]))


def test_all_streams_chunks_equal_to_the_library(tmp_path, capsys, monkeypatch):
    """--all on a model fitted on a plain matrix (ids: row and column numbers), in
    chunks of 7 with a short last one: every user and item once, in order, each
    chunk as the library answers it."""
    import scipy.sparse as sp

    from fastwals import cli, serving
    X = sp.random(23, 17, density=0.3, format="csr", random_state=0, dtype=np.float32)
    model = WALS(4, iterations=2, random_state=0).fit(X)
    path = tmp_path / "plain.npz"
    model.save(path)
    monkeypatch.setattr(cli, "CHUNK", 7)
    asked = []
    recommend = serving.recommend

    def spy(X_f, Y_f, user_ids, *a, **kw):
        asked.append(np.asarray(user_ids).copy())
        return recommend(X_f, Y_f, user_ids, *a, **kw)
    monkeypatch.setattr(serving, "recommend", spy)
    out = tmp_path / "recs.parquet"
    code, _, err = run(capsys, "recommend", path, "--all", "-N", "3", "-o", out)
    assert code == 0, err
    assert [a.size for a in asked] == [7, 7, 7, 2]
    assert np.array_equal(np.concatenate(asked), np.arange(23))
    table = pq.read_table(out).to_pydict()
    ids, scores = model.recommend_all(N=3, filter_already_liked_items=False)
    assert table["user"] == np.repeat(np.arange(23), 3).tolist()
    assert table["item"] == ids.ravel().tolist()
    assert np.allclose(table["score"], scores.ravel())
    out = tmp_path / "sims.parquet"
    code, _, err = run(capsys, "similar", path, "--all", "-N", "2", "-o", out)
    assert code == 0, err
    table = pq.read_table(out).to_pydict()
    ids, _ = model.similar_items(np.arange(17), N=2)
    assert table["item"] == np.repeat(np.arange(17), 2).tolist()
    assert table["similar_item"] == ids.ravel().tolist()


@pytest.mark.parametrize("split", [["--split", "random"], ["--split", "leave-k-out", "--k", "2"],
                                   ["--split", "time", "--time-col", "t", "--per-user"],
                                   ["--split", "users", "--test-users", "0.3"]])
def test_evaluate_splits(csv_file, capsys, split):
    code, out, err = run(capsys, "evaluate", csv_file, "--user-col", "u", "--item-col", "i",
                         "--value-col", "v", *split, "--metrics", "recall@10,ndcg@10,auc@5",
                         *FIT, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert set(summary["metrics"]) == {"recall@10", "ndcg@10", "auc@5"}
    assert all(0 <= v <= 1 for v in summary["metrics"].values())
    assert summary["users_evaluated"] > 0


def test_evaluate_with_a_test_file(tmp_path, capsys):
    data = interactions(seed=2)
    train = write({k: v[:500] for k, v in data.items()}, tmp_path / "train.csv")
    test = write({k: v[500:] for k, v in data.items()}, tmp_path / "test.csv")
    code, out, err = run(capsys, "evaluate", train, "--user-col", "u", "--item-col", "i",
                         "--test", test, *FIT)
    assert code == 0, err
    assert "recall@20" in out and "ndcg@20" in out


def test_existing_output_needs_overwrite(tmp_path, csv_file, capsys):
    out = tmp_path / "model.npz"
    out.write_bytes(b"keep me")
    args = ["fit", csv_file, "--user-col", "u", "--item-col", "i", *FIT, "-o", out]
    code, _, err = run(capsys, *args)
    assert code == 2 and "exists; pass --overwrite" in err
    assert out.read_bytes() == b"keep me"
    code, _, err = run(capsys, *args, "--overwrite")
    assert code == 0 and WALS.load(out).n_iter_ == 2


def test_data_errors_exit_1_and_leave_no_output(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("u,i,v\na,x,1\nb,y,oops\nc,z,2\n")
    out = tmp_path / "m.npz"
    args = ["fit", bad, "--user-col", "u", "--item-col", "i", "--value-col", "v", *FIT]
    code, _, err = run(capsys, *args, "-o", out)
    assert code == 1 and "bad.csv" in err and "v" in err
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".")]
    code, stdout, err = run(capsys, *args, "--on-bad-rows", "skip", "-o", out, "--json")
    assert code == 0, err
    assert json.loads(stdout)["read"]["bad_rows_skipped"] == 1
    code, _, err = run(capsys, "fit", bad, "--user-col", "user", "--item-col", "i", *FIT,
                       "-o", tmp_path / "m2.npz")
    assert code == 1 and "user" in err and "u" in err  # the existing columns are listed


def test_usage_errors_exit_2(tmp_path, csv_file, model_file, capsys):
    code, _, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i",
                       "--factors", "0", "-o", tmp_path / "x.npz")
    assert code == 2 and "factors must be >= 1, got 0" in err
    code, _, err = run(capsys, "evaluate", csv_file, "--user-col", "u", "--item-col", "i",
                       "--split", "random", "--metrics", "recall", *FIT)
    assert code == 2 and "NAME@K" in err
    code, _, err = run(capsys, "recommend", model_file, "--all", "-o", tmp_path / "r.txt")
    assert code == 2 and ".parquet" in err
    with pytest.raises(SystemExit) as exit_info:  # argparse: a missing required option
        main(["fit", str(csv_file), "--item-col", "i", "-o", str(tmp_path / "y.npz")])
    assert exit_info.value.code == 2
    users = tmp_path / "users.txt"
    users.write_text("user-003\nnobody\n")
    code, _, err = run(capsys, "recommend", model_file, "--users", users, "-o",
                       tmp_path / "r.csv")
    assert code == 1 and "nobody" in err


def test_the_installed_command_and_exit_codes(tmp_path, csv_file):
    cmd = [sys.executable, "-m", "fastwals", "fit", str(csv_file), "--user-col", "u",
           "--item-col", "i", *FIT, "-o", str(tmp_path / "m.npz"), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["iterations"] == 2
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2


def _lastfm():
    env = os.environ.get("FASTWALS_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return root / "hetrec2011-lastfm-2k" / "user_artists.dat"


@pytest.mark.data
@pytest.mark.skipif(not _lastfm().exists(), reason="../shared/data absent")
def test_lastfm_file_end_to_end(tmp_path, capsys):
    model = tmp_path / "lastfm.npz"
    code, out, err = run(capsys, "fit", _lastfm(), "--format", "tsv", "--user-col", "userID",
                         "--item-col", "artistID", "--value-col", "weight", "--confidence",
                         "log", *FIT, "-o", model, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["users"], summary["items"], summary["nnz"]) == (1892, 17632, 92834)
    code, out, err = run(capsys, "recommend", model, "--all", "-N", "10", "--exclude-seen",
                         _lastfm(), "--format", "tsv", "--user-col", "userID", "--item-col",
                         "artistID", "-o", tmp_path / "recs.parquet", "--json")
    assert code == 0, err
    assert json.loads(out)["rows"] == 18920


# ---------------------------------------------------------------- what the command is given

@pytest.fixture
def no_work(monkeypatch):
    """Reading data, loading a model or fitting fails the test: usage errors must
    be found before any of them (and nothing is written)."""
    import fastwals.demo
    import fastwals.io

    def forbidden(*args, **kwargs):
        raise AssertionError("data was read or a fit ran before the usage check")

    for target, name in ((fastwals.io, "read_interactions"), (WALS, "load"), (WALS, "fit"),
                         (fastwals.demo, "run")):
        monkeypatch.setattr(target, name, forbidden)


@pytest.mark.parametrize("case", ["fit-input", "fit-symlink", "fit-hardlink", "fit-part",
                                  "recommend-model",
                                  "recommend-exclude-seen", "recommend-users", "similar-items"])
def test_overwrite_never_replaces_a_file_the_command_reads(tmp_path, csv_file, model_file, capsys,
                                                           case):
    command, what = case.split("-", 1)
    if command == "fit":
        source = target = Path(csv_file)
        out = {"input": target, "symlink": tmp_path / "link.npz",
               "hardlink": tmp_path / "hard.npz", "part": target}[what]
        if what == "symlink":
            out.symlink_to(target)
        elif what == "hardlink":
            os.link(target, out)
        elif what == "part":  # a directory of parts: each part is read
            source = tmp_path  # holds events.csv (and model.npz, not a part)
        argv = ["fit", source, "--user-col", "u", "--item-col", "i", *FIT, "-o", out]
    elif command == "recommend":
        users = tmp_path / "users.csv"
        users.write_text("user-003\n")
        target = {"model": Path(model_file), "exclude-seen": Path(csv_file), "users": users}[what]
        argv = ["recommend", model_file, "--users", users, "--exclude-seen", csv_file,
                "--user-col", "u", "--item-col", "i", "-o", target]
    else:
        items = tmp_path / "items.csv"
        items.write_text("item/1\n")
        target = items
        argv = ["similar", model_file, "--items", items, "-o", items]
    before = target.read_bytes()
    code, _, err = run(capsys, *argv, "--overwrite")
    assert code == 2, err
    assert str(target) in err and "the same file" in err
    assert target.read_bytes() == before


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
def test_overwrite_replaces_only_a_regular_file(tmp_path, csv_file, capsys, no_work, kind):
    if kind == "directory":
        out = tmp_path / "out.npz"
        out.mkdir()
    elif kind == "fifo":
        out = tmp_path / "out.npz"
        os.mkfifo(out)
    else:
        out = Path("/dev/null")
    code, _, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i", *FIT,
                       "-o", out, "--overwrite")
    assert code == 2 and str(out) in err
    assert {"directory": "a directory", "fifo": "a FIFO", "device": "character device"}[kind] in err
    assert (out.is_dir() if kind == "directory" else out.exists())


USAGE_ERRORS = [
    (["fit", "{csv}", "--user-col", "u", "--item-col", "u"],
     "--user-col and --item-col must name different columns"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--delimiter", '"'],
     "--delimiter must"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--delimiter", ";", "--format",
      "parquet"], "--delimiter applies to csv/tsv files, not --format parquet"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--min-user-interactions", "0"],
     "--min-user-interactions must be >= 1, got 0"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--min-item-interactions", "0"],
     "--min-item-interactions must be >= 1, got 0"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--threads", "0"],
     "--threads must be"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--cg-steps", "0"],
     "--cg-steps must be >= 1, got 0"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--confidence", "total",
      "--feedback", "explicit"], "--confidence total is for implicit feedback"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--regularization", "-1"],
     "regularization must be a finite number >= 0"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--epsilon", "0"], "epsilon"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "i", "--seed", "-3"], "--seed must be"),
    (["fit", "{csv}", "--user-col", "u", "--item-col", "1", "--no-header"],
     "--user-col u: --no-header means the file has no header line"),
    (["fit", "{csv}", "--user-col", "0", "--item-col", "1", "--no-header", "--format",
      "parquet"], "--no-header applies to csv/tsv files, not --format parquet"),
    (["recommend", "{model}", "--all", "-N", "0"], "-N must be >= 1, got 0"),
    (["recommend", "{model}", "--all", "--threads", "-2"], "--threads must be"),
    (["recommend", "{model}", "--all", "--exclude-seen", "{csv}"], "needs --user-col"),
    (["recommend", "{model}", "--all", "--exclude-seen", "{csv}", "--user-col", "u",
      "--item-col", "i", "--delimiter", "\n"], "--delimiter must"),
    (["similar", "{model}", "--all", "-N", "-1"], "-N must be >= 1, got -1"),
    (["similar", "{model}", "--all", "--threads", "0"], "--threads must be"),
    (["evaluate", "{csv}", "--user-col", "u", "--item-col", "i", "--split", "random",
      "--test-fraction", "1"], "--test-fraction must be between 0 and 1"),
    (["evaluate", "{csv}", "--user-col", "u", "--item-col", "i", "--split", "users",
      "--test-fraction", "0"], "--test-fraction must be between 0 and 1"),
    (["evaluate", "{csv}", "--user-col", "u", "--item-col", "i", "--split", "users",
      "--test-users", "1.5"], "--test-users must be between 0 and 1"),
    (["evaluate", "{csv}", "--user-col", "u", "--item-col", "i", "--split", "leave-k-out",
      "--k", "0"], "--k must be >= 1"),
    (["evaluate", "{csv}", "--user-col", "u", "--item-col", "i", "--split", "random",
      "--threads", "0"], "--threads must be"),
    (["evaluate", "{csv}", "--user-col", "i", "--item-col", "i", "--split", "random"],
     "--user-col and --item-col must name different columns"),
    (["evaluate", "{csv}", "--user-col", "u", "--item-col", "i", "--split", "random",
      "--factors", "0"], "factors must be >= 1"),
    (["demo", "--users", "0"], "--users must be >= 1"),
    (["demo", "--threads", "0"], "--threads must be"),
]


@pytest.mark.parametrize("argv, message", USAGE_ERRORS,
                         ids=[f"{a[0]}-{'-'.join(a[-2:])}" for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_before_any_data_is_read(tmp_path, csv_file, capsys, no_work, argv,
                                                     message):
    model = tmp_path / "model.npz"
    model.write_bytes(b"a model file (never read)")
    argv = [a.format(csv=csv_file, model=model) for a in argv]
    if argv[0] in ("fit", "recommend", "similar"):
        argv += ["-o", str(tmp_path / ("out.npz" if argv[0] == "fit" else "out.csv"))]
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err, err
    assert not (tmp_path / "out.npz").exists() and not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("case", ["missing-directory", "directory-as-output", "trailing-slash",
                                  "no-permission"])
def test_an_output_that_cannot_be_written_is_found_before_the_fit(tmp_path, csv_file, capsys,
                                                                  no_work, monkeypatch, case):
    out = {"missing-directory": tmp_path / "nowhere" / "m.npz",
           "directory-as-output": tmp_path / "adir",
           "trailing-slash": f"{tmp_path}/new/",
           "no-permission": tmp_path / "locked" / "m.npz"}[case]
    if case == "directory-as-output":
        out.mkdir()
    if case == "no-permission":
        out.parent.mkdir()
        real = os.access  # root may write anywhere: pretend this directory is read-only
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
            False if os.fspath(p) == str(out.parent) else real(p, mode, **kw)))
    code, _, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i", *FIT,
                       "-o", out, "--overwrite")
    assert code == 2 and str(out).rstrip("/") in err, err


def _corrupt_parquet(path, seed=0):
    n = 3000
    table = pa.table({"u": np.arange(n) % 50, "i": np.arange(n) % 37, "v": np.ones(n)})
    pq.write_table(table, path, row_group_size=1000, compression="none")
    data = bytearray(path.read_bytes())
    data[3000:3300] = b"\xff" * 300  # inside a data page: the footer stays readable
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("case", ["corrupt-parquet-page", "gzip-in-csv", "garbage-part"])
def test_every_data_error_names_the_file(tmp_path, capsys, case):
    import gzip
    if case == "corrupt-parquet-page":
        source = bad = _corrupt_parquet(tmp_path / "events.parquet")
    elif case == "gzip-in-csv":
        source = bad = tmp_path / "events.csv"
        bad.write_bytes(gzip.compress(b"u,i\n1,2\n3,4\n" * 50))
    else:
        source = tmp_path / "parts"
        source.mkdir()
        write(interactions(string_ids=False), source / "part-0.parquet")
        bad = _corrupt_parquet(source / "part-1.parquet")
    code, _, err = run(capsys, "fit", source, "--user-col", "u", "--item-col", "i", *FIT,
                       "-o", tmp_path / "m.npz")
    assert code == 1 and f"{bad} cannot be read as" in err, err
    if case == "gzip-in-csv":
        assert "gzip-compressed" in err and "events.csv.gz" in err


def test_id_type_str_keeps_007_and_7_apart(tmp_path, capsys):
    path = tmp_path / "events.csv"
    path.write_text("u,i\n007,10\n7,20\n07,10\n7,30\n")
    out = tmp_path / "m.npz"
    code, _, err = run(capsys, "fit", path, "--user-col", "u", "--item-col", "i", *FIT,
                       "--id-type", "str", "-o", out)
    assert code == 0, err
    assert WALS.load(out).user_ids_.ids.tolist() == ["007", "07", "7"]
    users = tmp_path / "users.txt"
    users.write_text("007\n7\n")
    recs = tmp_path / "recs.csv"
    code, _, err = run(capsys, "recommend", out, "--users", users, "--exclude-seen", path,
                       "--user-col", "u", "--item-col", "i", "--id-type", "str", "-N", "1",
                       "-o", recs)
    assert code == 0, err
    table = pcsv.read_csv(recs, convert_options=pcsv.ConvertOptions(
        column_types={"user": pa.string(), "item": pa.string()})).to_pydict()
    assert table["user"] == ["007", "7"]
    assert table["item"][0] != "10" and table["item"][1] not in ("20", "30")
    code, _, err = run(capsys, "fit", path, "--user-col", "u", "--item-col", "i", *FIT,
                       "--id-type", "int", "-o", tmp_path / "m2.npz")
    assert code == 0 and WALS.load(tmp_path / "m2.npz").user_ids_.ids.tolist() == [7]
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    assert "--id-type {auto,str,int}" in capsys.readouterr().out.replace("\n", " ")
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    assert "(default: auto)" in " ".join(capsys.readouterr().out.split())


# ---------------------------------------------------------------- help, progress, words (issue 14)

def _subcommands():
    from fastwals.cli import build_parser
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return parser, action.choices


def _help(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv) + ["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_top_help_says_what_the_tool_does_with_an_example_per_command(capsys):
    text = _help(capsys)
    assert "(thin:" not in text and "calls the library" not in text
    assert "recommendation" in text.lower()
    _, commands = _subcommands()
    examples = text.split("examples:", 1)[1]
    for name in commands:
        assert f"fastwals {name}" in examples, name


@pytest.mark.parametrize("command", sorted(_subcommands()[1]))
def test_every_command_help_has_examples_and_explains_every_flag(capsys, command):
    text = _help(capsys, command)
    lines = text.splitlines()
    heads = [k for k, line in enumerate(lines) if line in ("example:", "examples:")]
    assert len(heads) == 1, text
    assert (lines[heads[0] + 1] + " ").startswith(f"  fastwals {command} "), text
    parser = _subcommands()[1][command]
    for action in parser._actions:
        assert action.help and action.help != "==SUPPRESS==", (command, action.option_strings)


def test_fit_help_lists_the_library_choices_and_defaults(capsys):
    from fastwals._validation import SOLVERS
    from fastwals.weights import CONFIDENCE, FEEDBACK
    text = " ".join(_help(capsys, "fit").split())
    assert "total" in CONFIDENCE
    for flag, choices in (("--confidence", tuple(CONFIDENCE)), ("--feedback", FEEDBACK),
                          ("--solver", SOLVERS), ("--dtype", ("float32", "float64"))):
        assert f"{flag} {{{','.join(choices)}}}" in text, flag
    for default in ("(default: 64)", "(default: 15)", "(default: 0.01)", "(default: linear)",
                    "(default: cholesky)", "(default: float32)", "(default: 1, keep every "
                    "user)", "(default: error)", "(default: none)"):
        assert default in text, default
    assert "--time-col" not in text  # the fit has no use for times
    assert "--split" not in _help(capsys, "recommend")
    assert "--time-col" not in _help(capsys, "recommend")
    evaluate = " ".join(_help(capsys, "evaluate").split())
    assert "--time-col COL" in evaluate and "needed by --split time" in evaluate
    assert "--seed N seed of the split and of the random start (default: 0)" in evaluate


def test_a_choice_outside_the_library_tuple_is_refused_by_the_parser(tmp_path, csv_file, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", str(csv_file), "--user-col", "u", "--item-col", "i", "--solver", "lu",
              "-o", str(tmp_path / "m.npz")])
    assert exit_info.value.code == 2
    assert "cholesky" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # fit has no --time-col
        main(["fit", str(csv_file), "--user-col", "u", "--item-col", "i", "--time-col", "t",
              "-o", str(tmp_path / "m.npz")])
    assert exit_info.value.code == 2


def _segments(stream):
    """What a terminal shows of each line: the text after the last carriage return."""
    import re
    return [part for part in re.split(r"[\r\n]", stream) if part.strip()]


def test_show_loss_lines_are_written_through_the_bar(tmp_path, csv_file, capsys, monkeypatch):
    import fastwals.cli
    monkeypatch.setattr(fastwals.cli, "_progress", lambda args: not args.quiet)  # a terminal
    code, out, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i",
                         "--factors", "4", "--iterations", "3", "--seed", "0", "--show-loss",
                         "-o", tmp_path / "m.npz")
    assert code == 0, err
    assert "fastwals:" in err  # the bar was drawn
    losses = [s for s in _segments(err) if "loss" in s and "fastwals:" not in s]
    assert len(losses) == 3
    # each loss line starts a line of its own: never glued to a half-drawn bar
    assert all(s.startswith("iteration") for s in _segments(err) if "iteration " in s), err
    for n, s in enumerate(losses, 1):
        assert s.startswith(f"iteration {n:4d}  loss ")


def test_show_loss_without_a_terminal_prints_plain_lines(tmp_path, csv_file, capsys):
    code, out, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i",
                         "--factors", "4", "--iterations", "3", "--seed", "0", "--show-loss",
                         "-o", tmp_path / "m.npz")
    assert code == 0, err
    assert "\r" not in err
    assert [line.split("loss")[0] for line in err.splitlines()] == [
        f"iteration {n:4d}  " for n in (1, 2, 3)]
    code, out, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i",
                         "--factors", "4", "--iterations", "3", "--seed", "0", "--show-loss",
                         "--quiet", "-o", tmp_path / "m2.npz")
    assert code == 0 and err == ""


@pytest.mark.parametrize("command", ["fit", "recommend", "similar"])
def test_every_progress_bar_clears_when_done(tmp_path, csv_file, model_file, capsys,
                                             monkeypatch, command):
    import fastwals.cli
    monkeypatch.setattr(fastwals.cli, "_progress", lambda args: not args.quiet)
    argv = {"fit": ["fit", csv_file, "--user-col", "u", "--item-col", "i", "--factors", "4",
                    "--iterations", "2", "-o", tmp_path / "m2.npz"],
            "recommend": ["recommend", model_file, "--all", "-o", tmp_path / "r.csv"],
            "similar": ["similar", model_file, "--all", "-o", tmp_path / "s.csv"]}[command]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert {"fit": "fastwals:", "recommend": "users", "similar": "items"}[command] in err
    # leave=False everywhere: a bar never ends its line and is erased when it closes
    assert "\n" not in err and err.split("\r")[-1].strip() == "", repr(err)


def test_the_read_summary_comes_before_the_fit(tmp_path, csv_file, capsys, monkeypatch):
    printed = []
    real = WALS.fit

    def fit(self, *args, **kwargs):
        printed.append(capsys.readouterr().out)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(WALS, "fit", fit)
    code, out, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i", *FIT,
                         "-o", tmp_path / "m.npz")
    assert code == 0, err
    assert printed[0].startswith(f"read {csv_file}: ") and "users × " in printed[0]
    assert out.startswith("fit 2 iterations") and "\nread " not in out
    printed.clear()
    code, out, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i", *FIT,
                         "-o", tmp_path / "m2.npz", "--json")
    assert code == 0 and printed == [""]  # --json: one object, at the end
    assert json.loads(out)["users"] > 0


def test_evaluate_is_seeded_by_default(csv_file, capsys):
    argv = ["evaluate", csv_file, "--user-col", "u", "--item-col", "i", "--split", "random",
            "--factors", "4", "--iterations", "3", "--quiet"]
    runs = []
    for _ in range(2):
        code, out, err = run(capsys, *argv, "--json")
        assert code == 0, err
        runs.append(json.loads(out))
    assert runs[0]["seed"] == runs[1]["seed"] == 0
    assert runs[0]["params"]["random_state"] == 0
    assert runs[0]["metrics"] == runs[1]["metrics"]
    assert runs[0]["test_nnz"] == runs[1]["test_nnz"]
    code, out, err = run(capsys, *argv, "--seed", "7")
    assert code == 0 and "seed 7" in out.splitlines()[0]


def test_library_messages_name_the_flags():
    from fastwals.cli import _cli_words
    cases = {
        "pass format='csv', 'tsv' or 'parquet'": "pass --format csv, tsv or parquet",
        "pass format= to read files with other names": "pass --format to read files with "
                                                       "other names",
        "x.csv, line 3, column 'v': bad. Fix or remove the row, or pass on_bad_rows='skip' to "
        "skip": "x.csv, line 3, column 'v': bad. Fix or remove the row, or pass --on-bad-rows "
                "skip to skip",
        "x.csv has no column 'user' (given as user_col); its columns are: 'u'":
            "x.csv has no column 'user' (given as --user-col); its columns are: 'u'",
        "x has no column 7 (given as item_col=7, a 0-based position)":
            "x has no column 7 (given as --item-col 7, a 0-based position)",
        "delimiter must be a single character, got '::'":
            "--delimiter must be a single character, got '::'",
        "delimiter applies to csv/tsv files, not format='parquet'":
            "--delimiter applies to csv/tsv files, not --format parquet",
        "id_type='int' but users holds str ids; pass id_type='str' or 'auto'":
            "--id-type int but the model's users have str ids; pass --id-type str or auto",
        "min_item_interactions must be >= 1, got 0": "--min-item-interactions must be >= 1, "
                                                     "got 0",
        "n_threads must be between 1 and 2, got 0": "--threads must be between 1 and 2, got 0",
        "user_col and item_col must name different columns, both are 'u'":
            "--user-col and --item-col must name different columns, both are 'u'",
        "the value_col 'v' holds text": "the --value-col 'v' holds text",
        # plain words are the flags' only as the subject, or with a value
        "cannot tell the format of events.dat; the delimiter is unclear":
            "cannot tell the format of events.dat; the delimiter is unclear",
        "delimiter=';' is not a quote": "--delimiter ';' is not a quote",
        "delimiter='\\t'": "--delimiter '\\t'",
    }
    for message, expected in cases.items():
        assert _cli_words(message) == expected, message


def test_read_errors_name_the_flags(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("u,i,v\na,x,1\nb,y,oops\n")
    code, _, err = run(capsys, "fit", bad, "--user-col", "u", "--item-col", "i", "--value-col",
                       "v", *FIT, "-o", tmp_path / "m.npz")
    assert code == 1 and "pass --on-bad-rows skip" in err and "on_bad_rows" not in err
    code, _, err = run(capsys, "fit", bad, "--user-col", "user", "--item-col", "i", *FIT,
                       "-o", tmp_path / "m.npz")
    assert code == 1 and "(given as --user-col)" in err and "user_col" not in err
    ints = tmp_path / "ints.csv"
    ints.write_text("u,i\nab,2\n")
    code, _, err = run(capsys, "fit", ints, "--user-col", "u", "--item-col", "i", "--id-type",
                       "int", *FIT, "-o", tmp_path / "m.npz")
    assert code == 1 and "(--id-type int; --id-type str reads text ids)" in err, err


def test_unknown_ids_are_an_error_or_skipped(tmp_path, model_file, capsys):
    users = tmp_path / "users.txt"
    users.write_text("user-003\nnobody\nuser-005\n")
    out = tmp_path / "r.csv"
    code, _, err = run(capsys, "recommend", model_file, "--users", users, "-o", out)
    assert code == 1 and not out.exists()
    assert f"{users}, line 2: user id 'nobody' is not in the model" in err
    assert "pass --unknown-users skip" in err and "missing=" not in err
    code, stdout, err = run(capsys, "recommend", model_file, "--users", users, "-N", "2",
                            "--unknown-users", "skip", "-o", out, "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["unknown_users_skipped"] == 1 and summary["users"] == 2
    assert pcsv.read_csv(out).to_pydict()["user"] == ["user-003"] * 2 + ["user-005"] * 2
    items = tmp_path / "items.txt"
    items.write_text("item/1\nno-such-item\n")
    code, _, err = run(capsys, "similar", model_file, "--items", items, "-o", tmp_path / "s.csv")
    assert code == 1 and "pass --unknown-items skip" in err
    code, stdout, err = run(capsys, "similar", model_file, "--items", items, "--unknown-items",
                            "skip", "-N", "3", "-o", tmp_path / "s.csv")
    assert code == 0 and "skipped 1 unknown items" in stdout


def test_unknown_integer_ids_and_text_in_an_integer_model(tmp_path, capsys):
    data = interactions(string_ids=False, seed=3)
    model = tmp_path / "m.npz"
    assert main(["fit", write(data, tmp_path / "events.csv"), "--user-col", "u", "--item-col",
                 "i", *FIT, "-o", str(model)]) == 0
    users = tmp_path / "users.txt"
    users.write_text(f"{data['u'][0]}\nabc\n12\n")
    code, _, err = run(capsys, "recommend", model, "--users", users, "-o", tmp_path / "r.csv")
    assert code == 1 and "line 2: 'abc' is not an integer user id" in err
    code, out, err = run(capsys, "recommend", model, "--users", users, "--unknown-users",
                         "skip", "-N", "1", "-o", tmp_path / "r.csv", "--json")
    assert code == 0 and json.loads(out)["unknown_users_skipped"] == 2
    code, _, err = run(capsys, "recommend", model, "--all", "--exclude-seen", tmp_path /
                       "events.csv", "--user-col", "u", "--item-col", "i", "--id-type", "str",
                       "-o", tmp_path / "r2.csv")
    assert code == 2 and "--id-type str but the model's users have int ids; pass --id-type " \
                         "int or auto" in err, err


@pytest.mark.parametrize("kind", ["csv", "npy", "pickle", "foreign-npz", "object-npz"])
def test_a_file_that_is_not_a_model_is_called_so(tmp_path, capsys, kind):
    import pickle
    path = tmp_path / {"csv": "events.csv", "npy": "x.npy", "pickle": "x.pkl"}.get(kind,
                                                                                 "other.npz")
    if kind == "csv":
        path.write_text("u,i\n1,2\n")
    elif kind == "npy":
        np.save(path, np.arange(3))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"factors": 3}))
    elif kind == "foreign-npz":
        np.savez(path, weights=np.ones(3))
    else:
        np.savez(path, meta=np.array([{"a": 1}], dtype=object))
    for argv in (["info", path], ["recommend", path, "--all", "-o", tmp_path / "r.csv"],
                 ["similar", path, "--all", "-o", tmp_path / "s.csv"]):
        code, out, err = run(capsys, *argv)
        assert code == 1 and out == ""
        assert "damaged" not in err and "pickle" not in err.replace("a Python pickle", "")
        assert "allow_pickle" not in err
        if kind.endswith("npz"):
            assert f"{str(path)!r} is not a fastwals model file: an .npz archive without the " \
                   f"format tag 'fastwals-model'" in err, err
        else:
            assert f"{str(path)!r} is not a readable fastwals model: not a model file at " \
                   f"all" in err, err
    if kind == "npy":
        assert "like a single .npy array" in err


# ---------------------------------------------------------------- files without a header

def _movielens_style(tmp_path, n=400, seed=4):
    """user::item::rating::time lines, no header (as MovieLens 1M's ratings.dat)."""
    rng = np.random.default_rng(seed)
    users, items = rng.integers(1, 30, n), rng.integers(1, 20, n) * 10
    path = tmp_path / "ratings.dat"
    path.write_text("".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in
                            zip(users, items, rng.integers(1, 6, n), rng.permutation(n))))
    return path, set(zip(users.tolist(), items.tolist()))


@pytest.mark.parametrize("delimiter", [["--delimiter", "::"], []])  # given, or told from the file
def test_a_headerless_double_colon_file_end_to_end(tmp_path, capsys, delimiter):
    path, seen = _movielens_style(tmp_path)
    columns = ["--no-header", *delimiter, "--user-col", "0", "--item-col", "1"]
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "fit", path, *columns, "--value-col", "2", *FIT, "-o", model,
                         "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["read"]["rows_read"] == 400 and summary["read"]["bad_rows_skipped"] == 0
    loaded = WALS.load(model)
    assert set(loaded.user_ids_.ids.tolist()) == {u for u, _ in seen}
    assert set(loaded.item_ids_.ids.tolist()) == {i for _, i in seen}
    recs = tmp_path / "recs.csv"
    code, out, err = run(capsys, "recommend", model, "--all", "-N", "3", "--exclude-seen", path,
                         *columns, "-o", recs)
    assert code == 0, err
    table = pcsv.read_csv(recs).to_pydict()
    assert len(table["user"]) == 3 * len(loaded.user_ids_)
    assert not seen & set(zip(table["user"], table["item"]))
    code, out, err = run(capsys, "evaluate", path, *columns, "--time-col", "3", "--split",
                         "time", "--per-user", *FIT, "--json")
    assert code == 0, err
    assert json.loads(out)["users_evaluated"] > 0


def test_a_header_line_read_as_data_and_a_missing_position(tmp_path, capsys, csv_file):
    code, _, err = run(capsys, "fit", csv_file, "--no-header", "--user-col", "0", "--item-col",
                       "9", *FIT, "-o", tmp_path / "m.npz")
    assert code == 1 and "(given as --item-col 9, a 0-based position)" in err, err
    assert "item_col" not in err


def test_fit_with_popularity_weighted_unobserved_entries(tmp_path, csv_file, capsys):
    out_file = tmp_path / "eals.npz"
    code, out, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i",
                         "--unobserved-col-weights", "popularity", "--unobserved-exponent",
                         "0.3", "--factors", "4", "--iterations", "3", "--seed", "0",
                         "-o", out_file, "--quiet")
    assert code == 0, err
    model = WALS.load(out_file)
    assert model.unobserved_col_weights == "popularity" and model.unobserved_exponent == 0.3
    assert model.unobserved_row_weights is None
    # the library's own fit of the same data and settings
    from fastwals.io import read_interactions
    data = read_interactions(csv_file, user_col="u", item_col="i")
    mine = WALS(4, iterations=3, random_state=0, unobserved_col_weights="popularity",
                unobserved_exponent=0.3).fit(data)
    assert np.allclose(mine.user_factors_, model.user_factors_)
    code, out, err = run(capsys, "fit", csv_file, "--user-col", "u", "--item-col", "i",
                         "--unobserved-exponent", "nan", "-o", tmp_path / "bad.npz")
    assert code == 2 and "--unobserved-exponent" in err
