"""The `fastwals` command line: fit WALS recommendation models on interaction
files, write recommendations and similar items, evaluate, inspect models.

Exit codes: 0 ok, 1 a data error (unreadable or bad input, a numerical
failure), 2 a usage error (bad arguments, an output that exists without
--overwrite, that cannot be written or that the command reads). Every usage
error is found before any data is read. Progress goes to stderr (only on a
terminal, never with --quiet); results go to files, summaries to stdout (JSON
with --json). Errors from the library name the flags that set its parameters
(--format tsv, not format='tsv').
"""

import argparse
import json
import os
import re
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

def _hyperparameters():
    """(flag, WALS parameter, type, default, metavar or choices, help) of every
    hyperparameter flag; choices come from the library's own tuples."""
    from ._validation import DTYPES, SOLVERS
    from .weights import CONFIDENCE, FEEDBACK
    return [
        ("--factors", "factors", int, 64, "K", "latent dimensions per user and item"),
        ("--iterations", "iterations", int, 15, "N",
         "alternating sweeps (all users, then all items)"),
        ("--regularization", "regularization", float, 0.01, "L",
         "λ, the L2 penalty on every user's and item's factors, scaled by --reg-exponent"),
        ("--alpha", "alpha", float, 1.0, "A",
         "confidence scale: an observed pair weighs w0 + A·f(value), f from --confidence"),
        ("--unobserved-weight", "unobserved_weight", float, 1.0, "W0",
         "w0, the weight of every unobserved user-item pair, whose target is 0"),
        ("--unobserved-row-weights", "unobserved_row_weights", str, None, ("popularity",),
         "popularity: an unobserved pair of user u weighs w0·a_u·b_i with a_u ∝ n_u^B "
         "(n_u its observed items, mean 1, B from --unobserved-exponent); none: a_u = 1"),
        ("--unobserved-col-weights", "unobserved_col_weights", str, None, ("popularity",),
         "popularity: b_i ∝ n_i^B for each item i (eALS: popular items weigh more as "
         "negatives); none: b_i = 1"),
        ("--unobserved-exponent", "unobserved_exponent", float, 0.5, "B",
         "the exponent of the popularity weights (any sign: below 0 the rarest weigh most)"),
        ("--confidence", "confidence", str, "linear", tuple(CONFIDENCE),
         "f(value) in the observed weight: linear value, log log(1 + value/epsilon), "
         "constant 1; total: A·|value| is the whole weight (implicit's ALS when w0 = 1)"),
        ("--epsilon", "epsilon", float, 1.0, "E", "the scale of --confidence log"),
        ("--feedback", "feedback", str, "implicit", FEEDBACK,
         "implicit: an observed pair's target is 1 (a preference); explicit: its value "
         "(a rating)"),
        ("--reg-exponent", "reg_exponent", float, 0.0, "P",
         "λ of a user is L·(n + w0·items)^P, n its observed items (items alike); 0: L for all"),
        ("--solver", "solver", str, "cholesky", SOLVERS,
         "cholesky: each row solved exactly; cg: --cg-steps conjugate-gradient steps from "
         "the current factors; subspace: iALS++, exact solves over --block-size dimensions "
         "at a time"),
        ("--cg-steps", "cg_steps", int, 3, "N",
         "conjugate-gradient steps per row and sweep, for --solver cg"),
        ("--block-size", "block_size", int, 16, "N",
         "dimensions solved at a time, for --solver subspace"),
        ("--dtype", "dtype", str, "float32", tuple(np.dtype(d).name for d in DTYPES),
         "the floats of the factors and of the fit"),
        ("--seed", "random_state", int, None, "N",
         "seed of the random start; without it every run starts elsewhere"),
    ]


# library parameter -> the flag that sets it: errors the library raises name its
# parameters (format='tsv'); reached through the command line they name the flags
FLAGS = {"user_col": "--user-col", "item_col": "--item-col", "value_col": "--value-col",
         "time_col": "--time-col", "format": "--format", "delimiter": "--delimiter",
         "aggregate": "--aggregate", "min_value": "--min-value",
         "min_user_interactions": "--min-user-interactions",
         "min_item_interactions": "--min-item-interactions", "on_bad_rows": "--on-bad-rows",
         "id_type": "--id-type", "n_threads": "--threads", "random_state": "--seed",
         "factors": "--factors", "iterations": "--iterations",
         "regularization": "--regularization", "alpha": "--alpha",
         "unobserved_weight": "--unobserved-weight", "confidence": "--confidence",
         "unobserved_row_weights": "--unobserved-row-weights",
         "unobserved_col_weights": "--unobserved-col-weights",
         "unobserved_exponent": "--unobserved-exponent",
         "epsilon": "--epsilon", "feedback": "--feedback", "reg_exponent": "--reg-exponent",
         "solver": "--solver", "cg_steps": "--cg-steps", "block_size": "--block-size",
         "dtype": "--dtype"}
_NAMES = "|".join(sorted(FLAGS, key=len, reverse=True))
# name=value (a quoted text, a word or nothing), then any ", 'x'" / " or 'x'" choices
_ASSIGNED = re.compile(rf"(?<![\w-])({_NAMES})=('[^']*'|\"[^\"]*\"|[\w.+-]+)?"
                       rf"((?:(?:, | or )'[^']*')*)")
# a name with an underscore anywhere; a plain word only as the subject opening the message
_SUBJECT = re.compile(rf"(?<![\w'-])({'|'.join(n for n in FLAGS if '_' in n)})(?![\w=])"
                      rf"|^({_NAMES})(?= (must|applies|and|is)\b)")


def _plain_value(text):
    """'tsv' -> tsv; a value with other characters keeps its quotes (shell-safe)."""
    inner = text[1:-1] if text[:1] in "'\"" and len(text) >= 2 else text
    return inner if re.fullmatch(r"[\w.+-]+", inner) else text


# header=True|False has a flag for one of its values; users=/items= are the model's maps
_PHRASES = [(re.compile(r"\bpass header=True\b"), "drop --no-header"),
           (re.compile(r"\bheader=True\b"), "without --no-header"),
           (re.compile(r"\bheader=False\b"), "--no-header"),
           (re.compile(r"\bbut (users|items) holds (\w+) ids"), r"but the model's \1 have \2 ids")]


def _cli_words(message):
    """A library message in the command line's words: format='tsv' -> --format tsv,
    on_bad_rows='skip' -> --on-bad-rows skip, min_user_interactions -> its flag,
    header=False -> --no-header."""
    for pattern, words in _PHRASES:
        message = pattern.sub(words, message)

    def assigned(m):
        name, value, more = m.group(1), m.group(2), m.group(3)
        flag = FLAGS[name]
        if value is None:
            return flag
        choices = re.findall(r"(, | or )('[^']*')", more or "")
        return f"{flag} {_plain_value(value)}" + "".join(sep + _plain_value(v)
                                                        for sep, v in choices)

    message = _ASSIGNED.sub(assigned, message)
    return _SUBJECT.sub(lambda m: FLAGS[m.group(1) or m.group(2)], message)


def _reworded(exc):
    """The same kind of error (ValueError or TypeError) in the command line's words."""
    kind = TypeError if isinstance(exc, TypeError) and not isinstance(exc, ValueError) \
        else ValueError
    return kind(_cli_words(str(exc)))


def _add_common(p, loss=False):
    g = p.add_argument_group("running")
    g.add_argument("--threads", type=int, default=None, metavar="N",
                   help="Numba threads (default: every core)")
    g.add_argument("--quiet", action="store_true",
                   help="no progress bars" + (" and no loss lines" if loss else "")
                   + " (bars show only when stderr is a terminal)")
    g.add_argument("--json", action="store_true",
                   help="print the summary as one JSON object on stdout")
    return g


def _add_output(p, what):
    g = p.add_argument_group("output")
    g.add_argument("-o", "--output", required=True, metavar="FILE",
                   help=f"{what} (written atomically: a temporary file, then a rename)")
    g.add_argument("--overwrite", action="store_true",
                   help="replace an existing output (never a file the command reads)")
    return g


def _add_input_columns(p, title, required=True, time=False):
    """The reading options; `time`: --time-col has a use (evaluate --split time)."""
    g = p.add_argument_group(title)
    g.add_argument("--user-col", required=required, metavar="COL",
                   help="the column of user ids: its name in the header line, or with "
                        "--no-header its 0-based position (0 is the first field)")
    g.add_argument("--item-col", required=required, metavar="COL",
                   help="the column of item ids (a name, or with --no-header a position)")
    g.add_argument("--value-col", default=None, metavar="COL",
                   help="the column of values: plays, ratings... (default: every row counts 1)")
    if time:
        g.add_argument("--time-col", default=None, metavar="COL",
                       help="the column of timestamps (numbers, date-times or ISO 8601 "
                            "text): needed by --split time")
    g.add_argument("--no-header", action="store_true",
                   help="CSV/TSV files have no header line: data starts on line 1 and the "
                        "--*-col options are 0-based column positions")
    g.add_argument("--format", choices=("csv", "tsv", "parquet"), default=None,
                   help="the format of every file (default: from each file's extension; for "
                        "another one, Parquet by the file's first bytes, else text split by "
                        "the delimiter found on its first lines: tab, ::, comma, ; or |)")
    g.add_argument("--delimiter", default=None, metavar="TEXT",
                   help="the field separator of CSV/TSV files: one character, or several "
                        "such as :: (MovieLens .dat files; then no quoting); \\t is a tab "
                        "(default: a comma "
                        "for csv, a tab for tsv, found from the first lines otherwise)")
    g.add_argument("--aggregate", choices=("sum", "max", "last", "count"), default="sum",
                   help="how rows of the same user and item combine: sum, max, last (in "
                        "file order) or count, the number of rows (default: sum)")
    g.add_argument("--min-value", type=float, default=None, metavar="X",
                   help="drop rows whose value is below X, before combining (default: "
                        "keep every row)")
    g.add_argument("--min-user-interactions", type=int, default=1, metavar="N",
                   help="after combining, drop the users with fewer than N items "
                        "(default: 1, keep every user)")
    g.add_argument("--min-item-interactions", type=int, default=1, metavar="N",
                   help="after combining, drop the items with fewer than N users "
                        "(default: 1, keep every item)")
    g.add_argument("--on-bad-rows", choices=("error", "skip"), default="error",
                   help="a bad row (a missing id, a value that is not a number, a wrong "
                        "number of fields) stops the run with its file and line (error) or "
                        "is skipped and counted (skip) (default: error)")
    g.add_argument("--id-type", choices=("auto", "str", "int"), default="auto",
                   help="how ids are read (default: auto): auto keeps integer columns as "
                        "integers (in CSV, \"007\" and \"7\" are then one id), str reads "
                        "every id as text exactly as written, int needs 64-bit integer ids")


def _add_hyperparameters(p, seed=None, seed_help=None):
    g = p.add_argument_group("model hyperparameters (as WALS takes them)")
    for flag, _, kind, default, shown, text in _hyperparameters():
        if flag == "--seed":
            default, text = seed, seed_help or text
        named = {"choices": shown} if isinstance(shown, tuple) else {"metavar": shown}
        g.add_argument(flag, type=kind, default=default, **named,
                       help=f"{text} (default: {'none' if default is None else default})")


def _model_params(args):
    params = {name: getattr(args, flag[2:].replace("-", "_"))
              for flag, name, *_ in _hyperparameters()}
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
    """check(*args, **kwargs), a library check; its ValueError/TypeError is a usage
    error, in the command line's words."""
    try:
        return check(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(_cli_words(str(exc))) from None


def _progress(args):
    return not args.quiet and sys.stderr.isatty()


def _column(args, text):
    """A --*-col value: a name, or with --no-header a 0-based position (an int)."""
    if text is not None and args.no_header and text.strip().isdigit():
        return int(text)
    return text  # with --no-header, read_interactions says why a name cannot be


def _read_options(args, users=None, items=None):
    cols = {name: _column(args, getattr(args, name, None))
            for name in ("user_col", "item_col", "value_col", "time_col")}
    delimiter = "\t" if args.delimiter == "\\t" else args.delimiter  # --delimiter '\t'
    return dict(**cols, format=args.format, delimiter=delimiter,
                header=not args.no_header, aggregate=args.aggregate, min_value=args.min_value,
                min_user_interactions=args.min_user_interactions,
                min_item_interactions=args.min_item_interactions,
                on_bad_rows=args.on_bad_rows, users=users, items=items,
                id_type=args.id_type, progress=_progress(args))


def _check_read_options(args, users=None, items=None):
    from .io import check_read_options
    _usage(check_read_options, **_read_options(args, users, items))


def _read(args, path, users=None, items=None):
    """read_interactions with the reading flags; its errors name the flags."""
    from .io import read_interactions
    try:
        return read_interactions(path, **_read_options(args, users, items))
    except (ValueError, TypeError) as exc:
        raise _reworded(exc) from None


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
    read_line = (f"read {args.input}: {data.matrix.shape[0]:,} users × "
                 f"{data.matrix.shape[1]:,} items, {data.matrix.nnz:,} interactions in "
                 f"{read_seconds:.2f} s")
    if not args.json:  # now, not after the fit
        print(read_line, flush=True)
    params = args.params
    show_loss = args.show_loss and not args.quiet
    bar = _progress(args)

    def report(iteration, seconds, loss):
        if show_loss:
            line = f"iteration {iteration + 1:4d}  loss {loss:.6g}  {seconds:.3f} s"
            if bar:  # through the bar: it is cleared, the line written, the bar redrawn
                from tqdm import tqdm
                tqdm.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr, flush=True)

    model = WALS(**params, calculate_loss=args.show_loss, show_progress=bar, callback=report)
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
        f"fit {model.n_iter_} iterations in {fit_seconds:.2f} s"
        + (f", loss {summary['loss']:.6g}" if summary["loss"] is not None else ""),
        f"wrote {args.output}"])
    return 0


# ---------------------------------------------------------------- recommend / similar

def _ids_from_file(path, id_map, what, unknown="error"):
    """Raw ids, one per line (blank lines skipped), as indices of id_map, and the
    number of ids left out: those not in the model, with unknown="skip"."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--{what}s file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        lines = [(n, line.strip()) for n, line in enumerate(f, 1) if line.strip()]
    numbers = [n for n, _ in lines]
    raw = [text for _, text in lines]
    if id_map.ids.dtype.kind in "iu":
        parsed = []
        for n, text in lines:
            try:
                parsed.append(int(text))
            except ValueError:
                if unknown == "error":
                    raise ValueError(f"{path}, line {n}: {text!r} is not an integer {what} id "
                                     f"(the model's {what} ids are integers)") from None
                parsed.append(None)  # not an id of the model: left out
        known = [k for k, v in enumerate(parsed) if v is not None]
        index = np.full(len(parsed), -1, np.int64)
        if known:
            index[known] = id_map.index(np.array([parsed[k] for k in known], np.int64),
                                        missing="ignore")
    else:
        index = np.asarray(id_map.index(raw, missing="ignore"), np.int64).reshape(-1)
    bad = np.flatnonzero(index < 0)
    if bad.size and unknown == "error":
        k = bad[0]
        raise ValueError(f"{path}, line {numbers[k]}: {what} id {raw[k]!r} is not in the model "
                         f"({bad.size:,} of the {len(raw):,} ids are unknown; the model has "
                         f"{len(id_map):,} {what}s); pass --unknown-{what}s skip to leave "
                         f"them out")
    return index[index >= 0], int(bad.size)


def _id_maps(model):
    from .idmap import IdMap
    if not hasattr(model, "user_factors_"):
        raise ValueError("the model is not fitted; fit it first (`fastwals fit`)")
    if hasattr(model, "user_ids_"):
        return model.user_ids_, model.item_ids_
    # a model fitted on a plain matrix: its ids are the row and column numbers
    # (sorted and unique: no checking sort, no copy)
    return IdMap._sorted(np.arange(model.user_factors_.shape[0])), \
        IdMap._sorted(np.arange(model.item_factors_.shape[0]))


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
    _usage(check_int, "-N", args.N, 1)
    _usage(check_n_threads, args.threads)
    _check_output(args, {"the model": args.model, **reads})
    _table_kind(args.output)


def _ranked_rows(query_raw, ids, scores, target_map):
    """serving.ranked_rows with the targets' raw ids."""
    from .serving import ranked_rows
    query, target, rank, score = ranked_rows(query_raw, ids, scores)
    return query, target_map.ids[target], rank, score


def _chunks(args, queries, what):
    """queries (an index array, or a range for --all) in arrays of at most CHUNK,
    with the progress bar."""
    from .serving import query_batches
    batches = ((chunk,) for chunk in query_batches(queries, CHUNK))
    for (chunk,) in _progress_of(args, batches, len(queries), what):
        yield chunk


def _progress_of(args, batches, total, what):
    """batches (tuples led by the batch's queries), with a progress bar of `total`
    queries where progress shows."""
    bar = None
    if _progress(args):
        from tqdm import tqdm
        # cleared when done, as the reading and fit bars are
        bar = tqdm(total=total, desc=what, unit=" " + what, file=sys.stderr, leave=False)
    for batch in batches:
        yield batch
        if bar is not None:
            bar.update(len(batch[0]))
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
    queries, skipped = ((range(len(users_map)), 0) if args.all
                        else _ids_from_file(args.users, users_map, "user", args.unknown_users))
    seen = None
    if args.exclude_seen:
        seen = _read(args, args.exclude_seen, users=users_map, items=items_map).matrix

    def batches():
        # the item side is prepared once for every chunk (recommend_batches)
        stream = model.recommend_batches(None if args.all else queries, N=args.N,
                                         user_items=seen, batch_size=CHUNK,
                                         filter_already_liked_items=seen is not None)
        for chunk, ids, scores in _progress_of(args, stream, len(queries), "users"):
            user, item, rank, score = _ranked_rows(users_map.ids[chunk], ids, scores, items_map)
            yield {"user": user, "item": item, "rank": rank, "score": score}

    rows = _write_rows(args, batches(), ("user", "item", "rank", "score"))
    _say(args, {"command": "recommend", "model": args.model, "output": args.output,
                "users": len(queries), "rows": rows, "N": args.N,
                "excluded_seen": args.exclude_seen, "unknown_users_skipped": skipped},
         [f"wrote {rows:,} recommendations for {len(queries):,} users to {args.output}"]
         + ([f"skipped {skipped:,} unknown users of {args.users}"] if skipped else []))
    return 0


def _check_similar(args):
    _check_serving(args, {"--items": args.items})


def _similar(args):
    model = _serving_model(args)
    _, items_map = _id_maps(model)
    queries, skipped = ((range(len(items_map)), 0) if args.all
                        else _ids_from_file(args.items, items_map, "item", args.unknown_items))

    def batches():
        for chunk in _chunks(args, queries, "items"):
            ids, scores = model.similar_items(chunk, N=args.N)
            item, similar, rank, score = _ranked_rows(items_map.ids[chunk], ids, scores,
                                                      items_map)
            yield {"item": item, "similar_item": similar, "rank": rank, "score": score}

    rows = _write_rows(args, batches(), ("item", "similar_item", "rank", "score"))
    _say(args, {"command": "similar", "model": args.model, "output": args.output,
                "items": len(queries), "rows": rows, "N": args.N,
                "unknown_items_skipped": skipped},
         [f"wrote {rows:,} neighbours for {len(queries):,} items to {args.output}"]
         + ([f"skipped {skipped:,} unknown items of {args.items}"] if skipped else []))
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
               "seed": args.seed, "fit_seconds": fit_seconds, "metrics": results,
               "params": {k: (np.dtype(v).name if k == "dtype" else v)
                          for k, v in params.items()}}
    width = max(len(k) for k in results)
    _say(args, summary, [f"train {train.nnz:,} / test {test.nnz:,} interactions; "
                         f"{evaluated:,} users evaluated; fit {fit_seconds:.2f} s; "
                         f"seed {args.seed}",
                         f"{'metric':<{width}}  value"]
         + [f"{k:<{width}}  {v:.4f}" for k, v in results.items()])
    return 0


# ---------------------------------------------------------------- tune

def _check_tune(args):
    from .tuning import parse_budget, parse_metric
    _usage(parse_metric, args.metric)
    args.budget_seconds = _usage(parse_budget, args.budget)
    _check_read_options(args)
    from ._validation import check_int
    from .metrics import _fraction
    _usage(_fraction, "--validation-fraction", args.validation_fraction)
    for flag in ("--trials", "--min-factors", "--max-factors", "--max-iterations"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            _usage(check_int, flag, value, 1)
    if args.min_factors > args.max_factors:
        raise UsageError(f"--min-factors {args.min_factors} is above --max-factors "
                         f"{args.max_factors}")
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install 'fastwals[plot]'") from None
    _check_output(args, {"the input": args.input})


def _tune(args):
    from .tuning import tune
    data = _read(args, args.input)
    X = data.matrix
    if not args.json:
        print(f"read {args.input}: {X.shape[0]:,} users × {X.shape[1]:,} items, "
              f"{X.nnz:,} interactions; searching for {args.budget_seconds:g} s", flush=True)
    result = tune(X, metric=args.metric, budget=args.budget_seconds, n_trials=args.trials,
                  factors=(args.min_factors, args.max_factors),
                  max_iterations=args.max_iterations, solver=args.solver,
                  validation_fraction=args.validation_fraction, pruner=args.pruner,
                  random_state=args.seed, n_threads=args.threads, refit=False,
                  item_confidence=args.item_confidence,
                  show_progress=_progress(args))
    from .model import WALS
    model = WALS(**result.best_params)
    model.fit(data)  # with the raw ids
    model.save(args.output)
    if args.trials_csv:
        result.to_csv(args.trials_csv)
    if args.plot:
        result.plot(args.plot)
    states = [t["state"] for t in result.trials]
    # as the search describes them: col_weights as their exponent, not an array
    params = {k: v for k, v in result.best_settings.items() if k not in ("n_threads",)}
    summary = {"command": "tune", "input": args.input, "output": args.output,
               "metric": result.metric, "best_score": result.best_score,
               "best_params": {k: (np.dtype(v).name if k == "dtype" else v)
                               for k, v in params.items()},
               "trials": len(states), "pruned": states.count("pruned"),
               "seconds": time.perf_counter() - args.started}
    _say(args, summary, [
        f"{len(states)} trials ({states.count('pruned')} pruned) in "
        f"{summary['seconds']:.0f} s; best validation {result.metric} "
        f"{result.best_score:.4f} with"]
        + [f"  {k} = {v}" for k, v in summary["best_params"].items()]
        + [f"wrote {args.output} (refitted on all of {args.input})"]
        + ([f"wrote {args.trials_csv}"] if args.trials_csv else [])
        + ([f"wrote {args.plot}"] if args.plot else []))
    return 0


# ---------------------------------------------------------------- compile

def _list_of(flag, text, allowed):
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise UsageError(f"{flag}: {','.join(bad) or repr(text)} is not a comma-separated "
                         f"list of {', '.join(allowed)}")
    return values


def _check_compile(args):
    from .warmup import DTYPES, INDEX_TYPES
    args.dtype_list = _list_of("--dtypes", args.dtypes, DTYPES)
    args.index_list = _list_of("--index-types", args.index_types, INDEX_TYPES)


def _compile(args):
    from .warmup import compile_kernels
    say = None if args.quiet or args.json else (lambda line: print(line, flush=True))
    report = compile_kernels(args.dtype_list, args.index_list, progress=say)
    summary = {"command": "compile", **report}
    _say(args, summary, [f"compiled {len(report['combinations'])} combinations in "
                         f"{report['seconds']:.1f} s; the kernels are cached in"]
         + [f"  {d}" for d in report["cache_dirs"]])
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

DESCRIPTION = """\
Recommendations from interaction files, by weighted alternating least squares
(WALS). `fit` learns a model from CSV, TSV or Parquet files of user-item
interactions (plays, clicks, ratings...) and saves it; `recommend` and
`similar` write the top N items per user, or the N most similar items per
item, as CSV or Parquet in the files' own ids; `evaluate` measures ranking on
held-out interactions; `info` shows what a model file holds; `demo` runs on
synthetic data, with nothing to download."""

EPILOG = """\
examples:
  fastwals fit events.csv --user-col user --item-col item --value-col plays -o model.npz
  fastwals recommend model.npz --all -N 10 --exclude-seen events.csv \\
      --user-col user --item-col item -o recs.parquet
  fastwals similar model.npz --all -N 10 -o similar.csv
  fastwals evaluate events.csv --user-col user --item-col item --split leave-k-out --k 2
  fastwals tune events.csv --user-col user --item-col item --budget 15m -o best.npz
  fastwals info model.npz
  fastwals demo
  fastwals compile

`fastwals COMMAND --help` lists a command's options. Exit codes: 0 ok, 1 a data
error (bad or unreadable input), 2 a usage error (bad arguments, an existing
output without --overwrite). Summaries go to stdout (--json: one JSON object),
progress bars to stderr (on a terminal only)."""

COMMANDS = {
    # name: (one-line help, description, examples)
    "fit": ("read interactions, fit a model, save it",
            "Read interactions (one row per user-item event) from a CSV/TSV/Parquet file or\n"
            "a directory of part files, fit a WALS model and save it with its raw ids.",
            ["fastwals fit events.csv --user-col user --item-col item -o model.npz",
             "fastwals fit plays.tsv --user-col user --item-col artist --value-col plays \\\n"
             "      --confidence log --factors 128 --iterations 20 --show-loss -o model.npz",
             "fastwals fit events/ --format parquet --user-col u --item-col i \\\n"
             "      --min-user-interactions 5 --on-bad-rows skip -o model.npz"]),
    "recommend": ("top-N items per user from a saved model",
                  "Write the N best items of each user (the given ones or all) from a saved\n"
                  "model: one row per user and item (user, item, rank, score), in raw ids.",
                  ["fastwals recommend model.npz --all -N 10 -o recs.parquet",
                   "fastwals recommend model.npz --users users.txt -N 20 --exclude-seen "
                   "events.csv \\\n      --user-col user --item-col item "
                   "--unknown-users skip -o recs.csv"]),
    "similar": ("the N most similar items per item (cosine)",
                "Write the N items most similar to each item (the given ones or all), by\n"
                "the cosine of their factors: item, similar_item, rank, score.",
                ["fastwals similar model.npz --all -N 10 -o similar.csv",
                 "fastwals similar model.npz --items items.txt -N 5 -o similar.parquet"]),
    "evaluate": ("fit on a training part, rank the held-out part",
                 "Fit on a training part of the interactions and rank the held-out part:\n"
                 "precision, recall, ndcg, map, hit_rate, auc, coverage at K. The split and\n"
                 "the fit are seeded (--seed, default 0): a run repeats exactly.",
                 ["fastwals evaluate events.csv --user-col user --item-col item "
                  "--split leave-k-out --k 2",
                  "fastwals evaluate events.csv --user-col user --item-col item "
                  "--time-col ts \\\n      --split time --per-user --metrics "
                  "recall@10,ndcg@10 --json",
                  "fastwals evaluate train.csv --test test.csv --user-col user "
                  "--item-col item"]),
    "tune": ("search the hyperparameters, save the best model",
             "Search the hyperparameters (regularization, its exponent, the unobserved\n"
             "weight and its popularity weights, the confidence, factors, iterations) on a\n"
             "validation split carved from INPUT, within a wall-clock budget, and save the\n"
             "best model refitted on all of INPUT. Seeded: --trials N repeats exactly.",
             ["fastwals tune events.csv --user-col user --item-col item --metric ndcg@20 "
              "\\\n      --budget 15m -o best.npz",
              "fastwals tune plays.tsv --user-col user --item-col artist --value-col plays "
              "\\\n      --budget 5m --trials-csv trials.csv --plot trials.png -o best.npz"]),
    "compile": ("compile the kernels ahead of the job (a Docker build step)",
                "Compile every kernel into Numba's on-disk cache by running each call a\n"
                "job makes on tiny data, for the float and index types given, so that a\n"
                "job's first fit does not wait for compilation. The cache is written where\n"
                "Numba looks: NUMBA_CACHE_DIR when set, else the package's __pycache__ when\n"
                "writable, else the user's cache directory. It serves the same CPU model\n"
                "only, and its directory must stay writable by the job.",
                ["fastwals compile",
                 "NUMBA_CACHE_DIR=/opt/numba-cache fastwals compile --dtypes float32 "
                 "--index-types int32"]),
    "info": ("what a saved model holds",
             "Show what a model file holds: users, items, factors, iterations, the last\n"
             "loss, the id types and every hyperparameter.",
             ["fastwals info model.npz", "fastwals info model.npz --json"]),
    "demo": ("fit a synthetic dataset with planted structure and rank held-out items against "
             "popularity",
             "Fit a synthetic implicit-feedback dataset with planted low-rank structure\n"
             "(no download, no data file), print the loss per iteration and rank held-out\n"
             "interactions against a popularity baseline.",
             ["fastwals demo", "fastwals demo --users 20000 --items 5000 --draws 400000 "
                               "--factors 64"]),
}


DEMO_OPTIONS = [
    # flag, type, default, metavar, help
    ("--users", int, 3000, "N", "synthetic users"),
    ("--items", int, 1500, "N", "synthetic items"),
    ("--draws", int, 60000, "N", "interactions drawn, repeats included: the data holds fewer "
                                 "distinct pairs"),
    ("--factors", int, 32, "K", "latent dimensions"),
    ("--iterations", int, 10, "N", "alternating sweeps"),
    ("--regularization", float, 10.0, "L", "λ, the L2 penalty on the factors"),
    ("--alpha", float, 5.0, "A", "confidence scale"),
    ("-k", int, 10, "K", "the cut-off of the ranking metrics"),
    ("--seed", int, 0, "N", "seed of the data, the split and the fit"),
    ("--threads", int, None, "N", "Numba threads"),
]


def _command(sub, name):
    short, description, examples = COMMANDS[name]
    label = "example:" if len(examples) == 1 else "examples:"
    return sub.add_parser(name, help=short, description=description,
                          epilog="\n".join([label] + [f"  {e}" for e in examples]),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser():
    parser = argparse.ArgumentParser(prog="fastwals", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__
    parser.add_argument("--version", action="version", version=f"fastwals {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    fit = _command(sub, "fit")
    fit.add_argument("input", help="a CSV/TSV/Parquet file or a directory of part files")
    _add_input_columns(fit, "reading the input")
    _add_hyperparameters(fit)
    _add_output(fit, "the model file (.npz), with the raw user and item ids")
    g = _add_common(fit, loss=True)
    g.add_argument("--show-loss", action="store_true",
                   help="compute the objective after each iteration and print it on stderr, "
                        "one line per iteration")
    fit.set_defaults(func=_fit, check=_check_fit)

    rec = _command(sub, "recommend")
    rec.add_argument("model", help="a model file written by `fastwals fit`")
    who = rec.add_mutually_exclusive_group(required=True)
    who.add_argument("--users", metavar="FILE",
                     help="a text file of raw user ids, one per line")
    who.add_argument("--all", action="store_true", help="every user of the model")
    rec.add_argument("-N", type=int, default=10, help="items per user (default: 10)")
    rec.add_argument("--unknown-users", choices=("error", "skip"), default="error",
                     help="a --users id the model does not have stops the run (error) or is "
                          "left out and counted (skip) (default: error)")
    rec.add_argument("--exclude-seen", metavar="INPUT",
                     help="interactions (a file or a directory of parts) whose items are not "
                          "recommended to their users; read with the options below")
    _add_input_columns(rec, "reading --exclude-seen (the same options as fit's)",
                       required=False)
    _add_output(rec, "the recommendations (.parquet, .pq, .csv or .tsv): user, item, rank, "
                     "score")
    _add_common(rec)
    rec.set_defaults(func=_recommend, check=_check_recommend)

    sim = _command(sub, "similar")
    sim.add_argument("model", help="a model file written by `fastwals fit`")
    which = sim.add_mutually_exclusive_group(required=True)
    which.add_argument("--items", metavar="FILE",
                       help="a text file of raw item ids, one per line")
    which.add_argument("--all", action="store_true", help="every item of the model")
    sim.add_argument("-N", type=int, default=10, help="similar items per item (default: 10)")
    sim.add_argument("--unknown-items", choices=("error", "skip"), default="error",
                     help="an --items id the model does not have stops the run (error) or is "
                          "left out and counted (skip) (default: error)")
    _add_output(sim, "the neighbours (.parquet, .pq, .csv or .tsv): item, similar_item, rank, "
                     "score")
    _add_common(sim)
    sim.set_defaults(func=_similar, check=_check_similar)

    ev = _command(sub, "evaluate")
    ev.add_argument("input", help="a CSV/TSV/Parquet file or a directory of part files")
    _add_input_columns(ev, "reading the input (and --test)", time=True)
    g = ev.add_argument_group("held-out part: --test FILE or --split METHOD")
    g.add_argument("--test", metavar="FILE",
                   help="a held-out file with the same columns; the model fits on INPUT")
    g.add_argument("--split", choices=("random", "leave-k-out", "time", "users"),
                   help="hold out part of INPUT: random, a --test-fraction of the "
                        "interactions; leave-k-out, --k per user; time, the latest "
                        "(--time-col); users, --test-users of the users, folded in from the "
                        "rest of their interactions")
    g.add_argument("--test-fraction", type=float, default=0.2, metavar="F",
                   help="the share held out by --split random and time, and of each held-out "
                        "user's interactions by --split users (default: 0.2)")
    g.add_argument("--k", type=int, default=1, metavar="K",
                   help="interactions held out per user by --split leave-k-out (default: 1)")
    g.add_argument("--per-user", action="store_true",
                   help="--split time: each user's latest interactions (default: one cut "
                        "in time for all)")
    g.add_argument("--test-users", type=float, default=0.2, metavar="F",
                   help="--split users: the share of users held out (default: 0.2)")
    g.add_argument("--metrics", default="recall@20,ndcg@20", metavar="NAME@K,...",
                   help="comma-separated, NAME from precision, recall, ndcg, map, hit_rate, "
                        "auc, coverage (default: recall@20,ndcg@20)")
    _add_hyperparameters(ev, seed=0, seed_help="seed of the split and of the random start")
    _add_common(ev)
    ev.set_defaults(func=_evaluate, check=_check_evaluate)

    tn = _command(sub, "tune")
    tn.add_argument("input", help="a CSV/TSV/Parquet file or a directory of part files")
    _add_input_columns(tn, "reading the input")
    g = tn.add_argument_group("the search")
    g.add_argument("--metric", default="ndcg@20", metavar="NAME@K",
                   help="the validation metric maximised (default: ndcg@20)")
    g.add_argument("--budget", default="15m", metavar="TIME",
                   help="wall-clock time of the whole search and the refit: seconds or "
                        "90s, 15m, 1h (default: 15m)")
    g.add_argument("--trials", type=int, default=None, metavar="N",
                   help="at most N sampled trials (then the same ones at every run with "
                        "the same --seed; default: as many as the budget allows)")
    g.add_argument("--min-factors", type=int, default=32, metavar="K",
                   help="the smallest factor count tried (default: 32)")
    g.add_argument("--max-factors", type=int, default=1024, metavar="K",
                   help="the largest factor count tried (default: 1024)")
    g.add_argument("--max-iterations", type=int, default=20, metavar="N",
                   help="iterations per trial at most; each stops early when the metric "
                        "stops improving (default: 20)")
    g.add_argument("--solver", choices=("cg", "cholesky", "subspace"), default="cg",
                   help="the solver of every trial and of the refit (default: cg)")
    g.add_argument("--validation-fraction", type=float, default=0.2, metavar="F",
                   help="the share of INPUT's interactions held out for scoring "
                        "(default: 0.2)")
    g.add_argument("--pruner", choices=("median", "halving", "none"), default="median",
                   help="stop trials trailing the others: median, successive halving, or "
                        "none (default: median)")
    g.add_argument("--item-confidence", action="store_true",
                   help="also search per-item confidence weights n_i^G (they won on "
                        "Last.fm's play counts; off by default)")
    g.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the split, the sampler and every fit (default: 0)")
    _add_output(tn, "the best model (.npz), refitted on all of INPUT, with the raw ids")
    g = tn.add_argument_group("reports")
    g.add_argument("--trials-csv", metavar="FILE", help="write every trial to a CSV file")
    g.add_argument("--plot", metavar="FILE",
                   help="draw the metric against time and the main parameters (a .png; "
                        "needs matplotlib)")
    _add_common(tn)
    tn.set_defaults(func=_tune, check=_check_tune)

    comp = _command(sub, "compile")
    comp.add_argument("--dtypes", default="float32,float64", metavar="LIST",
                      help="the factor dtypes to compile for: float32, float64 or both "
                           "(default: float32,float64)")
    comp.add_argument("--index-types", default="int32,int64", metavar="LIST",
                      help="the sparse index types to compile for: int32 (scipy's for "
                           "matrices under 2^31 entries), int64 or both (default: "
                           "int32,int64)")
    comp.add_argument("--quiet", action="store_true", help="no progress lines")
    comp.add_argument("--json", action="store_true",
                      help="print the summary as one JSON object on stdout")
    comp.set_defaults(func=_compile, check=_check_compile)

    info = _command(sub, "info")
    info.add_argument("model", help="a model file written by `fastwals fit`")
    info.add_argument("--json", action="store_true",
                      help="print it as one JSON object on stdout")
    info.set_defaults(func=_info, check=None)

    demo = _command(sub, "demo")
    for flag, kind, default, metavar, text in DEMO_OPTIONS:
        shown = "every core" if default is None else default
        demo.add_argument(flag, type=kind, default=default, metavar=metavar,
                          help=f"{text} (default: {shown})")
    demo.set_defaults(func=_demo, check=_check_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.started = time.perf_counter()
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
