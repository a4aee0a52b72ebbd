"""Command line: ``python -m reserving <command>``.

Commands
--------
demo     reserve the bundled sample claims with chain ladder and Mack and print the table
nightly  claim lines to reserves, ranges, outturn against budget, run history and an HTML report
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from _kit.cli import OK, Parser, subcommand
from _kit.cli import main as run_command
from _kit.tables import read_table
from reserving.errors import ReservingError
from reserving.mack import mack
from reserving.nightly.claims import read_claims
from reserving.nightly.cli import add_nightly_parser, sample_path

_EXAMPLES = """\
  python -m reserving demo
  python -m reserving nightly --demo --out out/demo
  python -m reserving nightly --claims claims.parquet --out out/2024-12 --as-of 2024-12-31
  python -m reserving nightly --help"""


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


def parser() -> Parser:
    """The parser of ``python -m reserving`` with its subcommands."""
    p = Parser(prog="python -m reserving", description="IBNR reserving: a demo of the methods on the bundled "
               "sample, and the nightly job.", examples=_EXAMPLES)
    commands = p.add_subparsers(dest="command", required=True)
    demo = subcommand(commands, "demo", help="reserve the bundled sample claims and print the table",
                      examples="  python -m reserving demo --sigma mack")
    demo.add_argument("--sigma", choices=["log-linear", "mack"], default="log-linear")
    demo.add_argument("--n-periods", type=int, default=None, help="averaging window in diagonals (default all)")
    demo.set_defaults(func=run_demo)
    add_nightly_parser(commands)
    return p


def main(argv=None) -> int:
    """Run ``python -m reserving`` with ``argv``; returns the exit status (see ``--help``)."""
    return run_command(parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
