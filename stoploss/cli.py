"""Command line: ``python -m stoploss price|fit|pool``.

price  specific and aggregate stop-loss premiums for a table of groups
fit    severities fitted to claimant data (truncated and censored), with QQ and PP plots
pool   how large a group must be to hold a risk-bearing budget (simulated outturn against budget)
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from _kit.cli import OK, Parser, subcommand
from _kit.cli import main as run_command
from _kit.progress import say
from _kit.publish import Publication, write_csv, write_json, write_text
from _kit.tables import read_table
from _kit.validate import numeric_column, reject_unknown_columns, require_columns
from stoploss.errors import StopLossError
from stoploss.fit import FAMILIES, fit
from stoploss.fit_report import fit_report_html
from stoploss.pool.cli import add_pool_parser
from stoploss.pool.feeds import severity_record
from stoploss.pricing import covered_severity, price_groups, validate_groups
from stoploss.pricing_curves import retained_exceedance, specific_premium_curve
from stoploss.probability_plots import probability_plot
from stoploss.report import html_report

PRICE_EXAMPLES = """  python -m stoploss price --demo --out out/
  python -m stoploss price --groups groups.csv --out out/
  python -m stoploss price --groups groups.parquet --lasers lasers.csv --out out/ --no-html

groups file: one row per group with columns group, members, claimant_rate, mean_cost, cv,
specific_attachment and optionally specific_limit, aggregate_pct (1.25 = 125%), annual_trend,
trend_months, basis (incurred, 12/12, 12/15, 12/24), large_claim_threshold, large_claim_trend,
large_claim_lag_months (trend and payment by claim size), common_shock_cv, expense_pct, sd_multiple,
coc_rate, experience_pmpm, experience_member_years, credibility_k (see stoploss/pricing.py).
lasers file: group, member_key (pseudonymous; never written out), attachment.
writes DIR/priced.csv and DIR/priced.html (self-contained, one chart per group), both or neither."""


def sample_groups() -> pd.DataFrame:
    """The bundled sample of 12 groups (``stoploss/data/sample_groups.csv``).

    Examples
    --------
    >>> len(sample_groups())
    12
    """
    with resources.files("stoploss").joinpath("data/sample_groups.csv").open() as fh:
        return pd.read_csv(fh)


def sample_lasers() -> pd.DataFrame:
    """The bundled lasers of the sample groups (``stoploss/data/sample_lasers.csv``)."""
    with resources.files("stoploss").joinpath("data/sample_lasers.csv").open() as fh:
        return pd.read_csv(fh)


def _price(args) -> int:
    if args.demo and (args.groups or args.lasers):
        raise StopLossError("price: --demo prices the bundled sample groups; leave out --groups and --lasers.")
    if args.demo:
        groups, lasers = sample_groups(), sample_lasers()
        groups_source, lasers_source = "sample groups", "sample lasers"
    elif args.groups:
        groups_source, lasers_source = args.groups, args.lasers or "lasers table"
        groups = read_table(args.groups, "groups file", StopLossError)
        lasers = read_table(args.lasers, "lasers file", StopLossError) if args.lasers else None
    else:
        raise StopLossError("price: give --groups FILE or --demo.")
    table, results = price_groups(groups, lasers, threads=args.threads, keep_distributions=True,
                                  groups_source=groups_source, lasers_source=lasers_source)
    with Publication(args.out) as pub:
        write_csv(table, pub.path("priced.csv"))
        if not args.no_html:
            valid = validate_groups(groups, groups_source)
            severities = [(covered_severity(r), float(r.claimant_rate)) for r in valid.itertuples(index=False)]
            exceedance = [retained_exceedance(agg) for _, agg in results]
            curves = [specific_premium_curve(sev, spec, rate) for (spec, _), (sev, rate) in zip(results, severities)]
            write_text(html_report(table, exceedance, curves, currency=args.currency), pub.path("priced.html"))
        for path in pub.publish():
            say(f"wrote {path}")
    return OK


FIT_EXAMPLES = """  python -m stoploss fit --claims claimants.csv --truncation 25000 --limit 1000000 --out out/
  python -m stoploss fit --claims claimants.parquet --family lognormal --family gpd --out out/

claims file: column amount (a claimant's annual cost, currency; censored ones at their limit) and
optionally threshold (the claim's reporting threshold) and limit (its policy limit), which replace
--truncation and --limit. writes DIR/fit.csv (one row per family: n, censored, log-likelihood, AIC,
Kolmogorov-Smirnov distance, the fitted severity), DIR/severity.json (the lowest-AIC fit as
{"family": ..., "parameters": {...}}, read by `pool --severity`) and DIR/fit.html (QQ and PP plots)."""


def _claims(args) -> tuple[np.ndarray, np.ndarray | float, np.ndarray | float | None]:
    frame = read_table(args.claims, "claims file", StopLossError)
    require_columns(frame, ["amount"], args.claims, StopLossError)
    reject_unknown_columns(frame, ["amount", "threshold", "limit"], args.claims, StopLossError)
    amount = numeric_column(frame, "amount", args.claims, StopLossError, low=0.0)
    for col, flag in (("threshold", args.truncation), ("limit", args.limit)):
        if col in frame and flag is not None:
            flag_name = "truncation" if col == "threshold" else "limit"
            raise StopLossError(f"fit: the claims file has a {col} column; leave out --{flag_name}.")
    threshold = (numeric_column(frame, "threshold", args.claims, StopLossError, low=0.0) if "threshold" in frame
                 else (args.truncation or 0.0))
    limit = numeric_column(frame, "limit", args.claims, StopLossError, low=0.0) if "limit" in frame else args.limit
    return amount, threshold, limit


def _fit(args) -> int:
    amount, threshold, limit = _claims(args)
    families = args.family or list(FAMILIES)
    fits = [fit(family, amount, truncation=threshold, censored=limit) for family in families]
    points = [probability_plot(f, amount, truncation=threshold, censored=limit) for f in fits]
    best = min(fits, key=lambda f: f.aic)
    with Publication(args.out) as pub:
        write_csv(pd.concat([f.summary for f in fits], ignore_index=True), pub.path("fit.csv"))
        write_json(severity_record(best.family, best.distribution), pub.path("severity.json"))
        if not args.no_html:
            write_text(fit_report_html(fits, points, source=str(args.claims), currency=args.currency),
                       pub.path("fit.html"))
        for path in pub.publish():
            say(f"wrote {path}")
    return OK


def build_parser() -> Parser:
    """The parser of ``python -m stoploss``: the ``price``, ``fit`` and ``pool`` commands."""
    parser = Parser(prog="python -m stoploss", description=__doc__,
                    examples="  python -m stoploss price --demo --out out/\n"
                             "  python -m stoploss fit --claims claimants.csv --truncation 25000 --out out/\n"
                             "  python -m stoploss pool --demo --out out/")
    sub = parser.add_subparsers(dest="command", required=True)
    price = subcommand(sub, "price", help="price specific and aggregate stop-loss for a table of groups",
                       examples=PRICE_EXAMPLES)
    price.add_argument("--groups", help="CSV or Parquet of groups")
    price.add_argument("--lasers", help="CSV or Parquet of lasers (group, member_key, attachment)")
    price.add_argument("--demo", action="store_true", help="price the bundled sample groups")
    price.add_argument("--out", required=True, help="output directory")
    price.add_argument("--threads", type=int, default=2, help="groups priced in parallel (default 2)")
    price.add_argument("--no-html", action="store_true", help="write only the CSV")
    price.add_argument("--currency", default="£", help="currency symbol or code shown in the report (default £)")
    price.set_defaults(func=_price)
    fit_p = subcommand(sub, "fit", help="fit severities to claimant data (truncated, censored) with QQ and PP plots",
                       examples=FIT_EXAMPLES)
    fit_p.add_argument("--claims", required=True, help="CSV or Parquet of claimants (column amount)")
    fit_p.add_argument("--family", action="append", choices=FAMILIES,
                       help="a family to fit; repeat for several (default: all five)")
    fit_p.add_argument("--truncation", type=float, help="reporting threshold of every claim (default 0)")
    fit_p.add_argument("--limit", type=float, help="policy limit of every claim; amounts at it are censored")
    fit_p.add_argument("--out", required=True, help="output directory")
    fit_p.add_argument("--no-html", action="store_true", help="write only the CSV")
    fit_p.add_argument("--currency", default="£", help="currency symbol or code shown in the report (default £)")
    fit_p.set_defaults(func=_fit)
    add_pool_parser(sub)
    return parser


def main(argv=None) -> int:
    """Run ``python -m stoploss`` with ``argv``; returns the exit status (0 ok, 1 bad input or failure).

    Examples
    --------
    >>> main(["price", "--groups", "no/such.csv", "--out", "/tmp/never"])
    1
    """
    return run_command(build_parser(), argv)
