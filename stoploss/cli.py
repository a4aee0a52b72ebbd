"""Command line: ``python -m stoploss price|pool``.

price  specific and aggregate stop-loss premiums for a table of groups
pool   how large a group must be to hold a risk-bearing budget (simulated outturn against budget)
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

import pandas as pd

from stoploss._atomic import write_atomic
from stoploss.contract import covered_fraction, trend_factor
from stoploss.errors import StopLossError
from stoploss.pool_cli import add_pool_parser, run_pool
from stoploss.pricing import lognormal_from_mean_cv, price_groups, validate_groups
from stoploss.pricing_curves import retained_exceedance, specific_premium_curve
from stoploss.report import html_report

EPILOG = """examples:
  python -m stoploss price --demo --out out/
  python -m stoploss price --groups groups.csv --out out/
  python -m stoploss price --groups groups.parquet --lasers lasers.csv --out out/ --no-html

groups file: one row per group with columns group, members, claimant_rate, mean_cost, cv,
specific_attachment and optionally specific_limit, aggregate_pct (1.25 = 125%), annual_trend,
trend_months, basis (incurred, 12/12, 12/15, 12/24), common_shock_cv, expense_pct, sd_multiple,
coc_rate, experience_pmpm, experience_member_years, credibility_k (see stoploss/pricing.py).
lasers file: group, member_key (pseudonymous; never written out), attachment.
writes DIR/priced.csv and DIR/priced.html (self-contained, one chart per group).
"""


def sample_groups() -> pd.DataFrame:
    """The bundled sample of 12 groups (``stoploss/data/sample_groups.csv``)."""
    with resources.files("stoploss").joinpath("data/sample_groups.csv").open() as fh:
        return pd.read_csv(fh)


def sample_lasers() -> pd.DataFrame:
    with resources.files("stoploss").joinpath("data/sample_lasers.csv").open() as fh:
        return pd.read_csv(fh)


def _read(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.exists():
        raise StopLossError(f"{path}: file not found.")
    return pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)


def _price(args) -> int:
    if args.demo:
        groups, lasers = sample_groups(), sample_lasers()
    elif args.groups:
        groups = _read(args.groups)
        lasers = _read(args.lasers) if args.lasers else None
    else:
        raise StopLossError("price: give --groups FILE or --demo.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table, results = price_groups(groups, lasers, threads=args.threads, keep_distributions=True)
    write_atomic(out / "priced.csv", lambda p: table.to_csv(p, index=False))
    print(f"priced {len(table)} groups -> {out / 'priced.csv'}")
    if not args.no_html:
        valid = validate_groups(groups)
        severities = [(lognormal_from_mean_cv(r.mean_cost, r.cv).scaled(
            covered_fraction(str(r.basis)) * trend_factor(float(r.annual_trend), float(r.trend_months))),
            float(r.claimant_rate)) for r in valid.itertuples(index=False)]
        exceedance = [retained_exceedance(agg) for _, agg in results]
        curves = [specific_premium_curve(sev, spec, rate) for (spec, _), (sev, rate) in zip(results, severities)]
        page = html_report(table, exceedance, curves, currency=args.currency)
        write_atomic(out / "priced.html", lambda p: p.write_text(page, encoding="utf-8"))
        print(f"report -> {out / 'priced.html'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stoploss", description="Stop-loss pricing.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    price = sub.add_parser("price", help="price specific and aggregate stop-loss for a table of groups",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    price.add_argument("--groups", help="CSV or Parquet of groups")
    price.add_argument("--lasers", help="CSV or Parquet of lasers (group, member_key, attachment)")
    price.add_argument("--demo", action="store_true", help="price the bundled sample groups")
    price.add_argument("--out", required=True, help="output directory")
    price.add_argument("--threads", type=int, default=2, help="groups priced in parallel (default 2)")
    price.add_argument("--no-html", action="store_true", help="write only the CSV")
    price.add_argument("--currency", default="£", help="currency symbol or code shown in the report (default £)")
    add_pool_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "pool":
        return run_pool(args)
    try:
        return _price(args)
    except StopLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
