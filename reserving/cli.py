"""Command line: ``python -m reserving <command>``.

Commands
--------
demo      reserve the bundled sample claims with chain ladder and Mack and print the table
nightly   claim lines to reserves, ranges, outturn against budget, run history and an HTML report
backtest  hold out the lower triangle of complete squares and test each method's ranges
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from _kit.cli import OK, Parser, subcommand
from _kit.cli import main as run_command
from _kit.progress import say
from _kit.publish import Publication, write_csv, write_json, write_text
from _kit.tables import read_table
from reserving.backtest import METHODS, backtest, read_squares
from reserving.backtest_report import render as render_backtest
from reserving.errors import ReservingError
from reserving.mack import mack
from reserving.nightly.claims import read_claims
from reserving.nightly.cli import add_nightly_parser, sample_path

_EXAMPLES = """\
  python -m reserving demo
  python -m reserving nightly --demo --out out/demo
  python -m reserving nightly --claims claims.parquet --out out/2024-12 --as-of 2024-12-31
  python -m reserving nightly --help
  python -m reserving backtest --squares ../shared/data/lrdb/comauto.csv --out out/backtest"""

_BACKTEST_EXAMPLES = """\
  python -m reserving backtest --squares comauto.csv --value CumulativePaid --out out/backtest
  python -m reserving backtest --squares squares.csv --group-column company --origin-column year \\
      --lag-column dev --premium-column none --method mack --method csr --out out/bt

Writes DIR/backtest.csv (one row per method and square: method, group, actual, mean, percentile of
the actual in the predictive distribution), DIR/summary.json (per method: n, ks_statistic,
ks_pvalue, inside_10_90, ...; and the squares left out by reason) and DIR/backtest.html (the PP plot)."""



def run_demo(args) -> int:
    """Reserve the bundled synthetic claims (monthly, by consortium x service) and print totals."""
    known = read_table(sample_path("sample_segments.csv"), "known segments file", error=ReservingError)
    claims = read_claims(sample_path("sample_claims.csv"), known_segments=known)
    tri = claims.triangles
    result = mack(tri, n_periods=args.n_periods, sigma=args.sigma)
    totals = result.totals[["latest", "ultimate", "ibnr", "std_err", "cv"]]
    national = totals[["latest", "ultimate", "ibnr"]].sum()
    national["std_err"] = np.nan
    national["cv"] = np.nan
    table = pd.concat([totals, national.to_frame(("all", "all")).T])
    money = {c: "{:,.0f}".format for c in ["latest", "ultimate", "ibnr", "std_err"]}
    print(f"{tri!r}\nChain ladder with Mack ({args.sigma}) standard errors; bundled synthetic claims.")
    print(f"{claims.lines_accepted:,} claim lines used, {claims.lines_rejected:,} rejected (bad dates, amounts, "
          "duplicates, unknown segments; `nightly` writes them to a rejects file).\n")
    print(table.to_string(formatters=money | {"cv": "{:.1%}".format}, na_rep=""))
    print("\nThe national row's standard error needs the segments' covariance: see `nightly` for ranges.")
    return OK


def run_backtest(args) -> int:
    """Back-test the chosen methods' ranges on complete squares and publish the three outputs."""
    premium = None if args.premium_column.lower() == "none" else args.premium_column
    squares = read_squares(args.squares, args.value, group=args.group_column, origin=args.origin_column,
                           lag=args.lag_column, premium=premium)
    methods = tuple(args.method or METHODS)
    say(f"back-testing {', '.join(methods)} on {len(squares)} squares ({args.sims:,} simulations each)", not args.quiet)
    result = backtest(squares, methods, n_sims=args.sims, seed=args.seed)
    summary = result.summary
    record = {"squares": str(args.squares), "value": args.value, "n_sims": args.sims, "seed": args.seed,
              "dropped": {k: int(v) for k, v in result.dropped.items()},
              "methods": {m: {k: (int(v) if k in ("n", "n_failed") else float(v)) for k, v in row.items()}
                          for m, row in summary.to_dict("index").items()}}
    with Publication(args.out) as pub:
        write_csv(result.table, pub.path("backtest.csv"))
        write_json(record, pub.path("summary.json"))
        write_text(render_backtest(result, source=str(args.squares), value=args.value, n_sims=args.sims,
                                   seed=args.seed), pub.path("backtest.html"))
        pub.publish()
    print(summary[["n", "ks_statistic", "ks_critical_5", "ks_pvalue", "inside_10_90", "below_5"]].to_string(
        float_format="{:.3f}".format))
    print(f"\nwrote {args.out}/backtest.csv, summary.json, backtest.html")
    return OK


def _add_backtest_parser(commands) -> None:
    p = subcommand(commands, "backtest", help="test each method's ranges on complete run-off squares",
                   description="Hold out the lower triangle of every usable square and place the actual "
                               "outcome in each method's predictive distribution.", examples=_BACKTEST_EXAMPLES)
    p.add_argument("--squares", required=True, help="CSV or Parquet, one row per group, origin and lag")
    p.add_argument("--value", default="CumulativePaid", help="column of cumulative amounts (default CumulativePaid)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--method", action="append", choices=list(METHODS),
                   help="a method to test; repeat for several (default: all, side by side)")
    p.add_argument("--group-column", default="GroupCode", help="(default GroupCode)")
    p.add_argument("--origin-column", default="AccidentYear", help="(default AccidentYear)")
    p.add_argument("--lag-column", default="Lag", help="(default Lag, counted from 1)")
    p.add_argument("--premium-column", default="NetEP",
                   help="premium by group and origin, used to leave out squares without premium; 'none' for no "
                        "such column (default NetEP)")
    p.add_argument("--sims", type=int, default=10_000, help="simulations per square (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no stage messages")
    p.set_defaults(func=run_backtest)


def parser() -> Parser:
    """The parser of ``python -m reserving`` with its subcommands."""
    p = Parser(prog="python -m reserving", description="IBNR reserving: a demo of the methods on the bundled "
               "sample, the nightly job, and a back-test of reserve ranges on complete run-off.", examples=_EXAMPLES)
    commands = p.add_subparsers(dest="command", required=True)
    demo = subcommand(commands, "demo", help="reserve the bundled sample claims and print the table",
                      examples="  python -m reserving demo --sigma mack")
    demo.add_argument("--sigma", choices=["log-linear", "mack"], default="log-linear")
    demo.add_argument("--n-periods", type=int, default=None, help="averaging window in diagonals (default all)")
    demo.set_defaults(func=run_demo)
    add_nightly_parser(commands)
    _add_backtest_parser(commands)
    return p


def main(argv=None) -> int:
    """Run ``python -m reserving`` with ``argv``; returns the exit status (see ``--help``)."""
    return run_command(parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
