"""``python -m reserving nightly``: the nightly job from the command line.

Exit status (see :mod:`_kit.cli`): 0 every segment reserved and the outputs published; 2 some
segments failed (listed in ``segment_errors.csv`` and the report; the others are published);
1 bad input or a failed run, with one line on stderr and nothing published.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from _kit.cli import OK, PARTIAL, subcommand
from _kit.parse import AmountFormat
from reserving.bornhuetter_ferguson import METHODS
from reserving.errors import ReservingError
from reserving.nightly.claims import ClaimColumns
from reserving.nightly.job import run_nightly_job
from reserving.nightly.seasonal import DEFAULT as DEFAULT_SEASONALITY
from reserving.nightly.seasonal import SETTINGS as SEASONALITY
from reserving.nightly.large_claims import CHOICES as LARGE_CLAIMS
from reserving.nightly.large_claims import DEFAULT as DEFAULT_LARGE_CLAIMS

_EXAMPLES = """\
  python -m reserving nightly --demo --out out/demo
  python -m reserving nightly --claims extract/claims.parquet --out out/2024-12 \\
      --as-of 2024-12-31 --budget budget.csv --members members.csv --sims 10000
  python -m reserving nightly --claims 'extract/*.csv' --out out/ --db /data/reserving.duckdb \\
      --method chain_ladder --incurred-column date_of_service --paid-column payment_date
  python -m reserving nightly --claims finance_export.csv --out out/ --dayfirst --thousands , \
      --max-rejected 0.005"""

_CLAIM_COLUMNS = ("consortium", "service", "incurred_date", "paid_date", "amount", "claim_id", "patient_id")


def add_nightly_parser(subparsers):
    """Add the ``nightly`` subcommand to the subparsers of a :class:`_kit.cli.Parser`; returns it."""
    p = subcommand(subparsers, "nightly", help="claim lines to reserves, outturn, history and an HTML report",
                   description="The nightly job: claim lines to reserves, outturn against budget, run history and "
                               "a report.", examples=_EXAMPLES)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--claims", help="claim lines: CSV or Parquet file, directory or glob")
    src.add_argument("--demo", action="store_true", help="use the bundled sample claims, budget and members")
    p.add_argument("--out", help="output directory (default out/nightly-demo with --demo)")
    p.add_argument("--db", help="DuckDB history database (default OUT/history.duckdb)")
    p.add_argument("--as-of", help="valuation date, a month end (default: the last complete month end of the "
                                   "paid dates up to today)")
    p.add_argument("--sims", type=int, default=10_000, help="simulations of the ranges (default 10000)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="simulate on a Dask cluster: its scheduler's address, e.g. tcp://host:8786 (the same numbers "
                        "as on one machine; needs the dask extra)")
    p.add_argument("--independent", action="store_true",
                   help="ranges without the prior's shared consortium and incurred-month shocks: every segment "
                        "independent (default: shared, so sums over service lines and consortia are not "
                        "sums of independent ranges)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--budget", help="CSV/Parquet: consortium, month, budget; or `riskadjust allocate` output "
                                    "(group, allocation: the year's amount per consortium)")
    p.add_argument("--regimen", help="CSV/Parquet: the Board's rules on the forecast (rule, measure, threshold, "
                                     "runs, action; see reserving/nightly/regimen.py); default: red three runs "
                                     "running -> recovery plan, capital above 5%% of budget -> reinsurance review")
    p.add_argument("--budget-phasing", choices=["flat", "seasonal"], default="flat",
                   help="spread an annual allocation over the months equally or by the claims' seasonality")
    p.add_argument("--members", help="CSV/Parquet: consortium, [service,] month, members")
    p.add_argument("--cover", help="CSV/Parquet: stop-loss cover per consortium for the full-year forecast "
                                   "(columns in reserving/nightly/cover.py)")
    p.add_argument("--known-segments", help="CSV/Parquet of expected consortium and/or service values")
    p.add_argument("--method", choices=METHODS, default="blend",
                   help="blend: BF for immature months blended by completion (default); bf; chain_ladder (BF off)")
    p.add_argument("--bf-threshold", type=float, default=0.75,
                   help="completion at and above which the blend is pure chain-ladder (default 0.75)")
    p.add_argument("--average", default="volume", choices=["volume", "simple", "regression"])
    p.add_argument("--n-periods", type=int, help="chain-ladder averaging window in diagonals (default all)")
    p.add_argument("--selections", help="CSV/Parquet of the actuary's selections: segment, item, development, "
                                        "origin, value, by, reason (see reserving.selections)")
    p.add_argument("--large-claims", choices=LARGE_CLAIMS, default=DEFAULT_LARGE_CLAIMS,
                   help="develop the lines' excess over each service's 99.5%% quantile apart and load it back "
                        "(separate), or develop the claims as paid (in-triangle)")
    p.add_argument("--seasonality", choices=SEASONALITY, default=DEFAULT_SEASONALITY,
                   help="month: completion factors by calendar month of the incurred month, credibility-weighted; "
                        "month+paydays: also restate payments for the payment days of each month (--payment-days); "
                        f"off: the plain chain ladder (default {DEFAULT_SEASONALITY}: month cuts the newest months' "
                        "error by a fifth on claims paid more slowly in some months, but makes the chain ladder's "
                        "8%% worse on claims without such months; see README)")
    p.add_argument("--payment-days", metavar="DAYS",
                   help="with --seasonality month+paydays: business (Monday to Friday, the default), weekly-DAY "
                        "(e.g. weekly-FRI), or a CSV/Parquet calendar with columns month (YYYY-MM), payment_days "
                        "covering every month from the first incurred month to the as-of month")
    p.add_argument("--fy-start-month", type=int, default=4, help="first month of the financial year (default 4)")
    p.add_argument("--max-detail", type=int, default=12, help="consortia with their own report section")
    p.add_argument("--quiet", action="store_true", help="no progress bar or stage messages")
    read = p.add_argument_group("reading the claim lines (strict by default: nothing is guessed)")
    read.add_argument("--dayfirst", action="store_true",
                      help="dates may be DD/MM/YYYY as well as YYYY-MM-DD (MM/DD/YYYY is never accepted)")
    read.add_argument("--decimal", default=".", choices=[".", ","], help="decimal separator of amounts (default .)")
    read.add_argument("--thousands", default=None, choices=[",", ".", " ", "'"],
                      help="thousands separator of amounts, e.g. , for 1,234.56 (default none: such an amount is "
                           "rejected)")
    read.add_argument("--max-rejected", type=float, default=0.01,
                      help="fail, publishing nothing, when more than this share of the lines or of the spend is "
                           "rejected (default 0.01)")
    read.add_argument("--min-segment-lines", type=int, default=10,
                      help="without --known-segments, a segment with fewer usable lines is rejected as stray "
                           "(default 10)")
    cols = p.add_argument_group("input column names")
    for name in _CLAIM_COLUMNS:
        default = getattr(ClaimColumns(), name)
        cols.add_argument(f"--{name.split('_')[0] if name.endswith('_date') else name.replace('_', '-')}-column",
                          dest=f"{name}_column", default=default, help=f"(default {default})")
    p.set_defaults(func=run_nightly)
    return p


def sample_path(name: str) -> Path:
    """Path of a file bundled in ``reserving/data``."""
    return Path(str(resources.files("reserving") / "data" / name))


def run_nightly(args) -> int:
    """Run the ``nightly`` subcommand from parsed arguments; returns the exit status (OK or PARTIAL).

    Errors (:class:`~reserving.errors.ReservingError`) propagate to :func:`_kit.cli.main`, which
    prints them as one line and returns status 1.
    """
    columns = ClaimColumns(*(getattr(args, f"{name}_column") for name in _CLAIM_COLUMNS))
    if args.demo:
        claims, budget = sample_path("sample_claims.csv"), args.budget or sample_path("sample_budget.csv")
        members = args.members or sample_path("sample_members.csv")
        known = args.known_segments or sample_path("sample_segments.csv")
        out = args.out or "out/nightly-demo"
    else:
        if not args.out:
            raise ReservingError("--out is required (the output directory)")
        claims, budget, members, known, out = args.claims, args.budget, args.members, args.known_segments, args.out
    result = run_nightly_job(
        claims, out, db=args.db, as_of=args.as_of, n_sims=args.sims, seed=args.seed, budget=budget,
        members=members, known_segments=known, method=args.method, threshold=args.bf_threshold,
        average=args.average, n_periods=args.n_periods, columns=columns, fy_start_month=args.fy_start_month,
        max_detail=args.max_detail, progress=not args.quiet, dayfirst=args.dayfirst,
        amount_format=AmountFormat(args.decimal, args.thousands), max_rejected=args.max_rejected,
        min_segment_lines=args.min_segment_lines, cover=args.cover, budget_phasing=args.budget_phasing,
        regimen=args.regimen, selections=args.selections, dependence=not args.independent,
        scheduler=args.scheduler, seasonality=args.seasonality, payment_days=args.payment_days,
        large_claims=args.large_claims,
    )
    money = ["paid", "ibnr", "ultimate", "ibnr_sd", "ibnr_p75", "ibnr_p95"]
    print(result.consortium_summary.to_string(
        index=False, formatters={c: "{:,.0f}".format for c in money} | {"prob_overspend": "{:.0%}".format}))
    print(f"\nreport: {result.outputs['report']}\nestimates: {result.outputs['estimates_csv']}")
    if len(result.segment_errors):
        print(f"{len(result.segment_errors)} segment(s) failed: see {out}/segment_errors.csv", file=sys.stderr)
        return PARTIAL
    return OK
