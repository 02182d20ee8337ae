"""The `fastwals` command line (thin: parses arguments, calls the library).

Exit codes: 0 ok, 1 a data error (unreadable or bad input, a numerical
failure), 2 a usage error (bad arguments, an output that exists without
--overwrite, that cannot be written or that the command reads). Every usage
error is found before any data is read. Progress goes to stderr (only on a
terminal, never with --quiet); results go to files, summaries to stdout (JSON
with --json).
"""

import argparse
import json
import os
import stat
import sys
import time

import numpy as np

from ._atomic import atomic_file

# users (or items) ranked per chunk by `recommend --all` / `similar --all`: bounds
# the memory of the ids and scores held before they are written
CHUNK = 65536


class UsageError(Exception):
    """Bad arguments the parser cannot see (exit code 2)."""


# ---------------------------------------------------------------- shared options

HYPERPARAMETERS = [
    # flag, WALS parameter, type, default
    ("--factors", "factors", int, 64),
    ("--iterations", "iterations", int, 15),
    ("--regularization", "regularization", float, 0.01),
    ("--alpha", "alpha", float, 1.0),
    ("--unobserved-weight", "unobserved_weight", float, 1.0),
    ("--confidence", "confidence", str, "linear"),
    ("--epsilon", "epsilon", float, 1.0),
    ("--feedback", "feedback", str, "implicit"),
    ("--reg-exponent", "reg_exponent", float, 0.0),
    ("--solver", "solver", str, "cholesky"),
    ("--cg-steps", "cg_steps", int, 3),
    ("--block-size", "block_size", int, 16),
    ("--dtype", "dtype", str, "float32"),
    ("--seed", "random_state", int, None),
]


def _add_common(p):
    p.add_argument("--threads", type=int, default=None, help="Numba threads (default: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or loss lines")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def _add_output(p, what):
    p.add_argument("-o", "--output", required=True,
                   help=f"{what} (written atomically: a temporary file, then a rename)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")


def _add_input_columns(p, required=True):
    p.add_argument("--user-col", required=required, help="column of user ids")
    p.add_argument("--item-col", required=required, help="column of item ids")
    p.add_argument("--value-col", default=None, help="column of values (default: 1 per row)")
    p.add_argument("--time-col", default=None, help="column of timestamps (for --split time)")
    p.add_argument("--format", choices=("csv", "tsv", "parquet"), default=None,
                   help="input format (default: from the file extension)")
    p.add_argument("--delimiter", default=None, help="CSV field delimiter")
    p.add_argument("--aggregate", choices=("sum", "max", "last", "count"), default="sum",
                   help="how duplicate user-item rows combine")
    p.add_argument("--min-value", type=float, default=None, help="drop rows below this value")
    p.add_argument("--min-user-interactions", type=int, default=1)
    p.add_argument("--min-item-interactions", type=int, default=1)
    p.add_argument("--on-bad-rows", choices=("error", "skip"), default="error")
    p.add_argument("--id-type", choices=("auto", "str", "int"), default="auto",
                   help="how ids are read (default: auto): auto keeps integer columns as "
                        "integers (in CSV, \"007\" and \"7\" are then one id), str reads "
                        "every id as text exactly as written, int needs 64-bit integer ids")


def _add_hyperparameters(p):
    for flag, _, kind, default in HYPERPARAMETERS:
        p.add_argument(flag, type=kind, default=default, help=f"(default: {default})")


def _model_params(args):
    params = {name: getattr(args, flag[2:].replace("-", "_")) for flag, name, _, _ in
              HYPERPARAMETERS}
    params["dtype"] = {"float32": np.float32, "float64": np.float64}.get(params["dtype"],
                                                                          params["dtype"])
    params["n_threads"] = args.threads
    return _validated(params)


def _validated(params):
    """Hyperparameters checked as WALS.fit checks them (a usage error here)."""
    from ._validation import check_params, check_random_state
    from .model import WALS
    _usage(check_params, WALS(**params).get_params())
    _usage(check_random_state, params.get("random_state"))
    return params


def _usage(check, *args, **kwargs):
    """check(*args, **kwargs), a library check; its ValueError/TypeError is a usage error."""
    try:
        return check(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def _progress(args):
    return not args.quiet and sys.stderr.isatty()


def _read_options(args, users=None, items=None):
    return dict(user_col=args.user_col, item_col=args.item_col, value_col=args.value_col,
                time_col=args.time_col, format=args.format, delimiter=args.delimiter,
                aggregate=args.aggregate, min_value=args.min_value,
                min_user_interactions=args.min_user_interactions,
                min_item_interactions=args.min_item_interactions,
                on_bad_rows=args.on_bad_rows, users=users, items=items,
                id_type=args.id_type, progress=_progress(args))


def _check_read_options(args, users=None, items=None):
    from .io import check_read_options
    _usage(check_read_options, **_read_options(args, users, items))


def _read(args, path, users=None, items=None):
    from .io import read_interactions
    return read_interactions(path, **_read_options(args, users, items))


# ---------------------------------------------------------------- outputs

_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket")]


def _check_output(args, reads):
    """Before any work: args.output can be created in its directory, replaces an
    existing regular file only with --overwrite, and is none of the files the
    command reads. `reads` maps each option to the path it reads (None when
    absent); a directory of parts stands for its files."""
    out = args.output
    if out.endswith(("/", os.sep)):
        raise UsageError(f"-o {out!r} names a directory; give a file name")
    if os.path.exists(out):
        for option, path in reads.items():
            for read in _files_read(path, args):
                if os.path.samefile(out, read):
                    raise UsageError(f"-o {out!r} is {option} {read!r} (the same file): the "
                                     f"command reads it, so it is never replaced; write to "
                                     f"another file")
        mode = os.stat(out).st_mode
        kind = next((k for test, k in _KINDS if test(mode)), None)
        if kind is not None:
            raise UsageError(f"-o {out!r} is {kind}, not a regular file; only a regular file "
                             f"is ever replaced: give a file name")
    if os.path.lexists(out) and not args.overwrite:
        raise UsageError(f"{out!r} exists; pass --overwrite to replace it")
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise UsageError(f"the directory of the output {out!r} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write the output {out!r}: no permission to create files in "
                         f"{directory!r}")


def _files_read(path, args):
    """The files behind an input path (a directory: its part files)."""
    if path is None or not os.path.exists(path):
        return []
    if not os.path.isdir(path):
        return [path]
    from ._sources import part_files
    return part_files(path, getattr(args, "format", None))


def _say(args, summary, lines):
    if args.json:
        print(json.dumps(summary, default=_plain))
    else:
        for line in lines:
            print(line)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ---------------------------------------------------------------- fit

def _check_fit(args):
    _check_read_options(args)
    args.params = _model_params(args)
    _check_output(args, {"the input": args.input})


def _fit(args):
    from .model import WALS
    start = time.perf_counter()
    data = _read(args, args.input)
    read_seconds = time.perf_counter() - start
    params = args.params
    show_loss = args.show_loss and not args.quiet

    def report(iteration, seconds, loss):
        if show_loss:
            print(f"iteration {iteration + 1:4d}  loss {loss:.6g}  {seconds:.3f} s",
                  file=sys.stderr, flush=True)

    model = WALS(**params, calculate_loss=args.show_loss, show_progress=_progress(args),
                 callback=report)
    start = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - start
    model.set_params(callback=None)
    model.save(args.output)
    summary = {"command": "fit", "input": args.input, "output": args.output,
               "users": data.matrix.shape[0], "items": data.matrix.shape[1],
               "nnz": data.matrix.nnz, "iterations": model.n_iter_,
               "read_seconds": read_seconds, "fit_seconds": fit_seconds,
               "loss": model.loss_history_[-1] if model.loss_history_ else None,
               "read": data.report}
    _say(args, summary, [
        f"read {args.input}: {data.matrix.shape[0]:,} users × {data.matrix.shape[1]:,} items, "
        f"{data.matrix.nnz:,} interactions in {read_seconds:.2f} s",
        f"fit {model.n_iter_} iterations in {fit_seconds:.2f} s"
        + (f", loss {summary['loss']:.6g}" if summary["loss"] is not None else ""),
        f"wrote {args.output}"])
    return 0


# ---------------------------------------------------------------- recommend / similar

def _ids_from_file(path, id_map, what):
    """Raw ids, one per line (blank lines skipped), as indices of id_map."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--{what}s file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        lines = [(n, line.strip()) for n, line in enumerate(f, 1) if line.strip()]
    raw = [text for _, text in lines]
    if id_map.ids.dtype.kind in "iu":
        raw = []
        for n, text in lines:
            try:
                raw.append(int(text))
            except ValueError:
                raise ValueError(f"{path}, line {n}: {text!r} is not an integer {what} id "
                                 f"(the model's {what} ids are integers)") from None
        raw = np.array(raw, dtype=np.int64)
    return id_map.index(raw)


def _id_maps(model):
    from .idmap import IdMap
    if not hasattr(model, "user_factors_"):
        raise ValueError("the model is not fitted; fit it first (`fastwals fit`)")
    if hasattr(model, "user_ids_"):
        return model.user_ids_, model.item_ids_
    # a model fitted on a plain matrix: its ids are the row and column numbers
    return IdMap(np.arange(model.user_factors_.shape[0])), \
        IdMap(np.arange(model.item_factors_.shape[0]))


def _write_rows(args, batches, columns):
    """Write the column batches (dicts of arrays) to args.output atomically, as
    Parquet or CSV by its extension; returns the number of rows."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from ._sources import to_arrow
    out = args.output
    lower = out.lower()
    kind = _table_kind(out)
    rows = 0
    with atomic_file(out) as f:
        writer = None
        try:
            for batch in batches:
                table = pa.table({name: to_arrow(batch[name]) for name in columns})
                if writer is None:
                    if kind == "parquet":
                        writer = pq.ParquetWriter(f, table.schema)
                    else:
                        delimiter = "\t" if lower.endswith(".tsv") else ","
                        writer = pcsv.CSVWriter(
                            f, table.schema, write_options=pcsv.WriteOptions(delimiter=delimiter))
                writer.write_table(table)
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()  # leaves f open for atomic_file's fsync and rename
    return rows


def _table_kind(out):
    lower = out.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".csv", ".tsv")):
        return "csv"
    raise UsageError(f"output {out!r}: use a .parquet, .pq, .csv or .tsv name")


def _check_serving(args, reads):
    """recommend / similar: -N, --threads and the output, before any work."""
    from ._validation import check_int, check_n_threads
    _usage(check_int, "N", args.N, 1)
    _usage(check_n_threads, args.threads)
    _check_output(args, {"the model": args.model, **reads})
    _table_kind(args.output)


def _ranked_rows(query_raw, ids, scores, target_map):
    """serving.ranked_rows with the targets' raw ids."""
    from .serving import ranked_rows
    query, target, rank, score = ranked_rows(query_raw, ids, scores)
    return query, target_map.ids[target], rank, score


def _chunks(args, queries, what):
    bar = None
    if _progress(args):
        from tqdm import tqdm
        bar = tqdm(total=queries.size, desc=what, unit=" " + what, file=sys.stderr)
    for lo in range(0, queries.size, CHUNK):
        yield queries[lo:lo + CHUNK]
        if bar is not None:
            bar.update(min(CHUNK, queries.size - lo))
    if bar is not None:
        bar.close()


def _serving_model(args):
    """The saved model, with --threads applied."""
    from .model import WALS
    model = WALS.load(args.model)
    if args.threads is not None:
        model.set_params(n_threads=args.threads)
    return model


def _check_recommend(args):
    if args.exclude_seen:
        if not (args.user_col and args.item_col):
            raise UsageError("--exclude-seen needs --user-col and --item-col for its file")
        _check_read_options(args)
    _check_serving(args, {"--users": args.users, "--exclude-seen": args.exclude_seen})


def _recommend(args):
    model = _serving_model(args)
    users_map, items_map = _id_maps(model)
    if args.exclude_seen:  # the model's id maps agree with --id-type
        _check_read_options(args, users_map, items_map)
    queries = (np.arange(len(users_map)) if args.all
               else _ids_from_file(args.users, users_map, "user"))
    seen = None
    if args.exclude_seen:
        seen = _read(args, args.exclude_seen, users=users_map, items=items_map).matrix

    def batches():
        for chunk in _chunks(args, queries, "users"):
            ids, scores = model.recommend(chunk, None if seen is None else seen[chunk], N=args.N,
                                          filter_already_liked_items=seen is not None)
            user, item, rank, score = _ranked_rows(users_map.ids[chunk], ids, scores, items_map)
            yield {"user": user, "item": item, "rank": rank, "score": score}

    rows = _write_rows(args, batches(), ("user", "item", "rank", "score"))
    _say(args, {"command": "recommend", "model": args.model, "output": args.output,
                "users": int(queries.size), "rows": rows, "N": args.N,
                "excluded_seen": args.exclude_seen},
         [f"wrote {rows:,} recommendations for {queries.size:,} users to {args.output}"])
    return 0


def _check_similar(args):
    _check_serving(args, {"--items": args.items})


def _similar(args):
    model = _serving_model(args)
    _, items_map = _id_maps(model)
    queries = (np.arange(len(items_map)) if args.all
               else _ids_from_file(args.items, items_map, "item"))

    def batches():
        for chunk in _chunks(args, queries, "items"):
            ids, scores = model.similar_items(chunk, N=args.N)
            item, similar, rank, score = _ranked_rows(items_map.ids[chunk], ids, scores,
                                                      items_map)
            yield {"item": item, "similar_item": similar, "rank": rank, "score": score}

    rows = _write_rows(args, batches(), ("item", "similar_item", "rank", "score"))
    _say(args, {"command": "similar", "model": args.model, "output": args.output,
                "items": int(queries.size), "rows": rows, "N": args.N},
         [f"wrote {rows:,} neighbours for {queries.size:,} items to {args.output}"])
    return 0


# ---------------------------------------------------------------- evaluate

def _metric_list(text):
    """"recall@20,ndcg@20" -> {20: ["recall", "ndcg"]} in the order given."""
    from .metrics import METRICS
    wanted = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, k = part.partition("@")
        if name not in METRICS or not k.isdigit() or int(k) < 1:
            raise UsageError(f"--metrics: {part!r} is not NAME@K with NAME one of "
                             f"{', '.join(METRICS)} and K >= 1 (e.g. recall@20)")
        wanted.setdefault(int(k), []).append(name)
    if not wanted:
        raise UsageError("--metrics is empty; e.g. --metrics recall@20,ndcg@20")
    return wanted


def _check_evaluate(args):
    from ._validation import check_int
    from .metrics import _fraction
    args.wanted = _metric_list(args.metrics)
    if (args.test is None) == (args.split is None):
        raise UsageError("give exactly one of --test FILE and --split METHOD")
    if args.split == "time" and not args.time_col:
        raise UsageError("--split time needs --time-col")
    for flag in ("--test-fraction", "--test-users"):
        _usage(_fraction, flag, getattr(args, flag[2:].replace("-", "_")))
    _usage(check_int, "--k", args.k, 1)
    _check_read_options(args)
    args.params = _model_params(args)


def _evaluate(args):
    from . import metrics
    from .model import WALS
    wanted = args.wanted
    data = _read(args, args.input)
    X = data.matrix
    params = args.params
    model = WALS(**params, show_progress=_progress(args))
    rows = None
    if args.test is not None:
        train = X
        test = _read(args, args.test, users=data.users, items=data.items).matrix
    elif args.split == "random":
        train, test = metrics.split_random(X, args.test_fraction, random_state=args.seed)
    elif args.split == "leave-k-out":
        train, test = metrics.split_leave_k_out(X, args.k, random_state=args.seed)
    elif args.split == "time":
        coo = X.tocoo()
        order = np.lexsort((coo.col, coo.row))  # canonical CSR order, as timestamps are
        triplet = (coo.row[order], coo.col[order], coo.data[order])
        train, test = metrics.split_by_time(triplet, data.timestamps, args.test_fraction,
                                            per_user=args.per_user, shape=X.shape)
    else:  # users
        train, fold_in, test = metrics.split_users(X, args.test_users, args.test_fraction,
                                                   random_state=args.seed)
        rows = np.flatnonzero(np.diff(fold_in.indptr) + np.diff(test.indptr))
    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    if rows is None:
        target, exclude, scored = model, train, test
    else:  # held-out users: fold them in from their fold-in part
        target = (model.transform(fold_in[rows]), model.item_factors_)
        exclude, scored = fold_in[rows], test[rows]
    results = {}
    for K, names in wanted.items():
        found = metrics.ranking_metrics(target, exclude, scored, K, metrics=names,
                                        n_threads=args.threads)
        for name in names:
            results[f"{name}@{K}"] = found[name]
        evaluated = found["users"]
    summary = {"command": "evaluate", "input": args.input,
               "split": args.split or "test file", "train_nnz": int(train.nnz),
               "test_nnz": int(test.nnz), "users_evaluated": evaluated,
               "fit_seconds": fit_seconds, "metrics": results,
               "params": {k: (np.dtype(v).name if k == "dtype" else v)
                          for k, v in params.items()}}
    width = max(len(k) for k in results)
    _say(args, summary, [f"train {train.nnz:,} / test {test.nnz:,} interactions; "
                         f"{evaluated:,} users evaluated; fit {fit_seconds:.2f} s",
                         f"{'metric':<{width}}  value"]
         + [f"{k:<{width}}  {v:.4f}" for k, v in results.items()])
    return 0


# ---------------------------------------------------------------- info

def _info(args):
    from .model import WALS
    model = WALS.load(args.model)
    fitted = hasattr(model, "user_factors_")
    params = {k: (np.dtype(v).name if k == "dtype" else
                  ("<array>" if isinstance(v, np.ndarray) else v))
              for k, v in model.get_params().items() if k != "callback"}
    summary = {"command": "info", "model": args.model, "fitted": fitted, "params": params}
    lines = [f"{args.model}: {'fitted' if fitted else 'not fitted'}"]
    if fitted:
        summary.update(users=model.user_factors_.shape[0], items=model.item_factors_.shape[0],
                       iterations=model.n_iter_,
                       loss=model.loss_history_[-1] if model.loss_history_ else None,
                       raw_ids=hasattr(model, "user_ids_"))
        lines.append(f"{summary['users']:,} users × {summary['items']:,} items, "
                     f"{model.user_factors_.shape[1]} factors, {model.n_iter_} iterations"
                     + (f", loss {summary['loss']:.6g}" if summary["loss"] is not None else ""))
        if hasattr(model, "user_ids_"):
            lines.append(f"raw ids: users {model.user_ids_.ids.dtype}, "
                         f"items {model.item_ids_.ids.dtype}")
        if hasattr(model, "best_iteration_"):
            summary["best_iteration"] = model.best_iteration_
            lines.append(f"best validation iteration {model.best_iteration_}")
    lines += [f"  {k} = {v}" for k, v in params.items()]
    _say(args, summary, lines)
    return 0


# ---------------------------------------------------------------- demo

def _check_demo(args):
    from ._validation import check_int
    for flag in ("--users", "--items", "--draws", "-k"):
        _usage(check_int, flag, getattr(args, flag.lstrip("-")), 1)
    _validated(dict(factors=args.factors, iterations=args.iterations,
                    regularization=args.regularization, alpha=args.alpha,
                    n_threads=args.threads))


def _demo(args):
    from .demo import run
    run(n_users=args.users, n_items=args.items, n_draws=args.draws, factors=args.factors,
        iterations=args.iterations, regularization=args.regularization, alpha=args.alpha,
        K=args.k, random_state=args.seed, n_threads=args.threads)
    return 0


# ---------------------------------------------------------------- the parser

def build_parser():
    parser = argparse.ArgumentParser(prog="fastwals", description=__doc__.splitlines()[0])
    from . import __version__
    parser.add_argument("--version", action="version", version=f"fastwals {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    fit = sub.add_parser("fit", help="read interactions, fit a model, save it")
    fit.add_argument("input", help="a CSV/TSV/Parquet file or a directory of part files")
    _add_input_columns(fit)
    _add_hyperparameters(fit)
    fit.add_argument("--show-loss", action="store_true", help="the loss after each iteration")
    _add_output(fit, "the model file (.npz)")
    _add_common(fit)
    fit.set_defaults(func=_fit, check=_check_fit)

    rec = sub.add_parser("recommend", help="top-N items per user from a saved model")
    rec.add_argument("model", help="a model saved by `fastwals fit`")
    who = rec.add_mutually_exclusive_group(required=True)
    who.add_argument("--users", help="a text file of raw user ids, one per line")
    who.add_argument("--all", action="store_true", help="every user of the model")
    rec.add_argument("-N", type=int, default=10)
    rec.add_argument("--exclude-seen", metavar="INPUT",
                     help="interactions whose items are not recommended to their users "
                          "(read with the --user-col/--item-col options)")
    _add_input_columns(rec, required=False)
    _add_output(rec, "recommendations (.parquet or .csv): user, item, rank, score")
    _add_common(rec)
    rec.set_defaults(func=_recommend, check=_check_recommend)

    sim = sub.add_parser("similar", help="the N most similar items per item (cosine)")
    sim.add_argument("model")
    which = sim.add_mutually_exclusive_group(required=True)
    which.add_argument("--items", help="a text file of raw item ids, one per line")
    which.add_argument("--all", action="store_true", help="every item of the model")
    sim.add_argument("-N", type=int, default=10)
    _add_output(sim, "neighbours (.parquet or .csv): item, similar_item, rank, score")
    _add_common(sim)
    sim.set_defaults(func=_similar, check=_check_similar)

    ev = sub.add_parser("evaluate", help="fit on a training part, rank the held-out part")
    ev.add_argument("input")
    _add_input_columns(ev)
    ev.add_argument("--test", help="a held-out file (same columns); else --split")
    ev.add_argument("--split", choices=("random", "leave-k-out", "time", "users"))
    ev.add_argument("--test-fraction", type=float, default=0.2)
    ev.add_argument("--k", type=int, default=1, help="entries per user for leave-k-out")
    ev.add_argument("--per-user", action="store_true",
                    help="time split: each user's latest entries (default: a global cut)")
    ev.add_argument("--test-users", type=float, default=0.2,
                    help="users split: the share of users held out")
    ev.add_argument("--metrics", default="recall@20,ndcg@20",
                    help="NAME@K, comma-separated; NAME from precision, recall, ndcg, map, "
                         "hit_rate, auc, coverage")
    _add_hyperparameters(ev)
    _add_common(ev)
    ev.set_defaults(func=_evaluate, check=_check_evaluate)

    info = sub.add_parser("info", help="what a saved model holds")
    info.add_argument("model")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=_info, check=None)

    demo = sub.add_parser("demo", help="fit a synthetic dataset with planted structure and "
                                       "rank held-out items against popularity")
    demo.add_argument("--users", type=int, default=3000)
    demo.add_argument("--items", type=int, default=1500)
    demo.add_argument("--draws", type=int, default=60000, help="interactions drawn (about nnz)")
    demo.add_argument("--factors", type=int, default=32)
    demo.add_argument("--iterations", type=int, default=10)
    demo.add_argument("--regularization", type=float, default=10.0)
    demo.add_argument("--alpha", type=float, default=5.0)
    demo.add_argument("-k", type=int, default=10, help="cut-off of the ranking metrics")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=None)
    demo.set_defaults(func=_demo, check=_check_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.check is not None:
            args.check(args)  # every usage error, before any data is read
        return args.func(args)
    except UsageError as exc:
        print(f"fastwals {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError, ArithmeticError, ImportError,
            np.linalg.LinAlgError) as exc:
        print(f"fastwals {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
