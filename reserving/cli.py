"""Command line: ``python -m reserving <command>``.

Commands
--------
demo     reserve the bundled sample claims with chain ladder and Mack and print the table
nightly  claim lines to reserves, ranges, outturn against budget, run history and an HTML report
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from reserving.claims import read_claims
from reserving.mack import mack
from reserving.nightly import add_nightly_parser

_EXAMPLES = """examples:
  python -m reserving demo
  python -m reserving nightly --demo --out out/demo
  python -m reserving nightly --claims claims.parquet --out out/2024-12 --as-of 2024-12-31
  python -m reserving nightly --help
"""


def sample_path(name: str) -> Path:
    """Path of a file bundled in ``reserving/data``."""
    return Path(str(resources.files("reserving") / "data" / name))


def run_demo(args) -> int:
    """Reserve the bundled synthetic claims (monthly, by consortium x service) and print totals."""
    claims = read_claims(sample_path("sample_claims.csv"), known_segments=pd.read_csv(sample_path("sample_segments.csv")))
    tri = claims.triangles
    result = mack(tri, sigma=args.sigma, n_periods=args.n_periods)
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
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reserving", description=__doc__.split("\n\n")[0], epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="reserve the bundled sample claims and print the table")
    demo.add_argument("--sigma", choices=["log-linear", "mack"], default="log-linear")
    demo.add_argument("--n-periods", type=int, default=None, help="averaging window in diagonals (default all)")
    demo.set_defaults(func=run_demo)
    add_nightly_parser(commands)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
