"""The `fastwals` command line (thin: parses arguments, calls the library)."""

import argparse
import sys


def _demo(args):
    from .demo import run
    run(n_users=args.users, n_items=args.items, n_draws=args.draws, factors=args.factors,
        iterations=args.iterations, regularization=args.regularization, alpha=args.alpha,
        K=args.k, random_state=args.seed, n_threads=args.threads)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastwals", description=__doc__.splitlines()[0])
    from . import __version__
    parser.add_argument("--version", action="version", version=f"fastwals {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

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
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as exc:
        print(f"fastwals {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
