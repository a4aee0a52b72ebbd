"""Command line for the pool-risk simulator: ``python -m stoploss pool``.

``add_pool_parser(subparsers)`` adds the ``pool`` command to the stop-loss command line and
``run_pool(args)`` runs it: a sweep of list sizes x attachments x budget formulas, written as a
table (CSV or Parquet), the smallest-size table and an HTML report.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

import _kit.random
from _kit.cli import OK, Parser, subcommand
from _kit.progress import compile_notice, say
from _kit.publish import Publication, write_csv, write_table, write_text
from _kit.validate import number
from stoploss.errors import StopLossError
from stoploss.pool import _kernels
from stoploss.pool.feeds import read_ibnr_error, read_risk_models, read_severity
from stoploss.pool.presets import PRESET_NAMES, Preset, preset
from stoploss.pool.sensitivity import sensitivity
from stoploss.pool.simulate import PoolAssumptions, crump_comparison, sweep
from stoploss.pool.report import pool_report_html

EXAMPLES = """  python -m stoploss pool --demo --out out/
  python -m stoploss pool --sizes 5000,20000,100000,500000 --attachments 50000,100000,none \\
      --risk-model age-sex=0.037 --risk-model diagnoses=0.126 --mix-cv 0.05 --years 100000 --out out/
  python -m stoploss pool --shock-cv 0.02 --ibnr-cv 0.01 --aggregate-attachment 1.1 --format parquet --out out/
  python -m stoploss pool --preset crump-1991 --out out/crump
  python -m stoploss pool --risk-models ra/validation.csv --ibnr-from nightly/2026-06/ --mix-cv 0.05 --out out/
  python -m stoploss pool --severity fitted/severity.json --out out/

presets (--preset): default, a whole commissioning budget (every assumption and its source in
stoploss/pool/PRESETS.md and the report); crump-1991, the 1991 general practice fund's 113 elective
procedures fitted to Crump et al.'s district figures (BMJ 1991;302:1582-4). A preset sets the cost
model and the default sizes, attachments and formulas; the flags override them.

--risk-models FILE: the validation.csv of `python -m riskadjust validate`, columns
  risk_model, r_squared, cpm, mape, n_members (one row per formula; other columns are ignored);
  each formula is simulated at its r_squared. Not with --risk-model.
--ibnr-from DIR: a nightly run's output directory; reads DIR/consortia.csv, columns
  consortium, paid, ibnr, ibnr_sd, ibnr_p75, ibnr_p95 (currency; other columns are ignored);
  the IBNR error CV is the median over consortia of ibnr_sd / (paid + ibnr). Not with --ibnr-cv.
--severity FILE: the severity.json of `python -m stoploss fit` ({"family": ..., "parameters": {...}}, the
  lowest-AIC fit; stoploss/pool/feeds.py): a patient's cost above the cost model's tail threshold
  (100,000 by default) is that severity's above it, the share of patients above it stays the cost
  model's. The family must have a generalised Pareto tail with 0 < xi < 0.5 (gpd or pareto).

writes DIR/pool_summary.csv (or .parquet): one row per (risk_model, attachment, n_patients) with the
distribution of (outturn - budget) / budget, P(overspend > 2%, 5%, 10%), 99.5% VaR and TVaR, premiums
and the expected number of groups of the national set overspending by 5%; DIR/pool_smallest.csv: the
smallest list size keeping P(overspend > 5%) below --level, with and without stop-loss; DIR/pool.html.
--demo runs the full grid (20 sizes x 10 attachments x 3 formulas) with a 5% between-group spread of
morbidity and 20,000 simulated years (add --years 100000 for the full precision)."""


def _numbers(text: str, what: str, allow_none: bool = False) -> list:
    out = []
    for item in text.split(","):
        item = item.strip().replace("_", "")
        if allow_none and item.lower() == "none":
            out.append(None)
            continue
        try:
            out.append(float(item))
        except ValueError:
            raise StopLossError(f"--{what}: {item!r} is not a number" + (" or 'none'" if allow_none else "")) from None
    return out


def _risk_models(items: list[str] | None, default: dict) -> dict:
    if not items:
        return dict(default)
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            raise StopLossError(f"--risk-model {item!r}: write NAME=R2, e.g. age-sex=0.037.")
        out[name] = _numbers(value, "risk-model")[0]
    return out


def priced_tail(chosen: Preset, severity, source) -> Preset:
    """The preset with its cost model's tail replaced by ``severity``'s (:meth:`CostModel.with_tail`),
    stated among its assumptions (the report's evidence table)."""
    cm = chosen.cost_model.with_tail(severity)
    row = (f"cost of a patient above {cm.tail_threshold:,.0f}",
           f"{severity!r} given X > {cm.tail_threshold:,.0f} (Pareto index {cm.tail_alpha:.3g}, shift "
           f"{cm.tail_shift:,.0f}); the share of patients above it is the cost model's",
           f"the priced severity: {source} (python -m stoploss fit)")
    return replace(chosen, cost_model=cm, evidence=tuple(chosen.evidence) + (row,))


def add_pool_parser(subparsers) -> Parser:
    """Add the ``pool`` command to the ``subparsers`` of a :class:`_kit.cli.Parser`; returns its parser.

    Examples
    --------
    >>> from _kit.cli import Parser
    >>> parser = Parser(prog="python -m stoploss")
    >>> pool = add_pool_parser(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["pool", "--out", "out", "--years", "2000"]).years
    2000
    """
    p = subcommand(subparsers, "pool", help="simulate a group's outturn against its budget by list size",
                   description="How large must a group be to hold a risk-bearing budget? Simulates a group's annual "
                               "outturn against its budget for each list size, specific stop-loss attachment and "
                               "budget formula.", examples=EXAMPLES)
    p.add_argument("--demo", action="store_true", help="the full grid with a 5%% group mix, 20,000 years")
    p.add_argument("--preset", choices=PRESET_NAMES, default="default",
                   help="the scope's cost model and defaults: default (a whole commissioning budget) or "
                        "crump-1991 (the 1991 fund's elective procedures)")
    p.add_argument("--risk-models", metavar="FILE", help="validation.csv of `riskadjust validate` (see below)")
    p.add_argument("--ibnr-from", metavar="DIR", help="a nightly run's output directory (see below)")
    p.add_argument("--severity", metavar="FILE", help="severity.json of `stoploss fit`: the cost above the "
                                                      "tail threshold (see below)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--sizes", help="comma-separated increasing list sizes (default: 20 from 5,000 to 1,000,000)")
    p.add_argument("--attachments", help="comma-separated specific attachments, 'none' for no cover "
                                         "(default: 25,000 ... 500,000 and none)")
    p.add_argument("--risk-model", action="append", metavar="NAME=R2",
                   help="a budget formula and its R-squared of individual cost; repeat for several "
                        "(default: per head 0, age-sex 0.037, age-sex + diagnoses 0.126)")
    p.add_argument("--years", type=int, help="simulated group-years (default 100,000; 20,000 with --demo)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--level", type=float, default=0.05, help="ceiling on P(overspend > 5%%) (default 0.05)")
    p.add_argument("--loading", type=float, default=0.0, help="specific stop-loss premium loading")
    p.add_argument("--aggregate-attachment", type=float, help="aggregate stop-loss at this multiple of budget")
    p.add_argument("--aggregate-loading", type=float, default=0.0, help="aggregate stop-loss premium loading")
    p.add_argument("--shock-cv", type=float, default=0.0, help="CV of a lognormal common year effect on costs")
    p.add_argument("--epidemic-probability", type=float, default=0.0, help="probability of an epidemic year")
    p.add_argument("--epidemic-uplift", type=float, default=0.0, help="rise in costs in an epidemic year")
    p.add_argument("--ibnr-cv", type=float, default=0.0, help="CV of the IBNR estimation error of outturn")
    p.add_argument("--mix-cv", type=float, help="CV between groups of expected cost per head from morbidity "
                                                "mix (default 0; 0.05 with --demo)")
    p.add_argument("--national-population", type=float, default=56_000_000.0,
                   help="population of the national set of groups (default 56 million)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="summary table format")
    p.add_argument("--no-html", action="store_true", help="skip the HTML report")
    p.add_argument("--currency", default="£", help="currency symbol or code shown in the report (default £)")
    p.set_defaults(func=run_pool)
    return p


def run_pool(args) -> int:
    """Run ``python -m stoploss pool`` from parsed arguments; returns the exit status (0).

    Bad input raises :class:`~stoploss.errors.StopLossError`, which the command line turns into one
    line on stderr and exit status 1; the outputs are published together only when all are written.
    """
    chosen = preset(args.preset)
    if args.risk_models and args.risk_model:
        raise StopLossError("give the budget formulas either as --risk-model NAME=R2 or from --risk-models FILE, "
                            "not both.")
    if args.ibnr_from and args.ibnr_cv:
        raise StopLossError("give the IBNR error either as --ibnr-cv or from --ibnr-from DIR, not both.")
    demo_mix = 0.05 if args.demo and chosen.name == "default" else chosen.mix_cv
    mix_cv = args.mix_cv if args.mix_cv is not None else demo_mix
    years = (20_000 if args.demo else 100_000) if args.years is None else int(
        number(args.years, "--years", StopLossError, low=1))
    sizes = chosen.sizes if not args.sizes else _numbers(args.sizes, "sizes")
    attachments = chosen.attachments if not args.attachments else _numbers(args.attachments, "attachments",
                                                                           allow_none=True)
    validation = ibnr = None
    if args.risk_models:
        models, validation = read_risk_models(args.risk_models)
        say(f"read {len(models)} budget formula(s) from {args.risk_models}")
    else:
        models = _risk_models(args.risk_model, chosen.risk_models)
    if args.severity:
        chosen = priced_tail(chosen, read_severity(args.severity), args.severity)
        cm = chosen.cost_model
        say(f"cost above {cm.tail_threshold:,.0f} from {args.severity}: Pareto index {cm.tail_alpha:.3g}, shift "
            f"{cm.tail_shift:,.0f}; {float(cm.population_share_above(cm.tail_threshold)):.2%} of patients above it")
    ibnr_cv = args.ibnr_cv
    if args.ibnr_from:
        ibnr = read_ibnr_error(args.ibnr_from)
        ibnr_cv = ibnr.cv
        say(f"IBNR error CV {ibnr_cv:.2%} (median of {len(ibnr.by_consortium)} consortia in {ibnr.source}"
            + (f"; {ibnr.without_figures} without figures left out" if ibnr.without_figures else "") + ")")
    assumptions = PoolAssumptions(cost_model=chosen.cost_model, loading=args.loading,
                                  aggregate_attachment=args.aggregate_attachment,
                                  aggregate_loading=args.aggregate_loading, shock_cv=args.shock_cv,
                                  epidemic_probability=args.epidemic_probability,
                                  epidemic_uplift=args.epidemic_uplift, ibnr_cv=ibnr_cv, mix_cv=mix_cv,
                                  national_population=args.national_population)
    compile_notice("the pool simulator's kernels (stoploss/pool/_kernels.py, _kit/random.py)", 40,
                   _kernels, _kit.random)
    say(f"simulating {len(sizes)} sizes x {len(attachments)} attachments x {len(models)} formulas, "
        f"{years:,} years ...")
    t0 = time.perf_counter()
    result = sweep(sizes, attachments, models, assumptions=assumptions, n_years=years, seed=args.seed,
                   level=args.level)
    say(f"done in {time.perf_counter() - t0:.1f} s")
    with Publication(args.out) as pub:
        write_table(result.summary, pub.path(f"pool_summary.{args.format}"))
        write_csv(result.totals.rename_axis("risk_model"), pub.path("pool_smallest.csv"), index=True)
        if not args.no_html:
            say("simulating the comparison with Crump et al. (1991) for the report ...")
            crump = crump_comparison(assumptions, n_years=years, seed=args.seed)
            formula = list(models.items())[-1]
            say(f"simulating how the smallest list size moves with each assumption ({formula[0]}, "
                f"{min(years, 10_000):,} years a point) ...")
            moves = sensitivity(chosen, assumptions, np.sort(result.summary["n_patients"].unique()), formula,
                                n_years=min(years, 10_000), seed=args.seed, level=args.level)
            write_text(pool_report_html(result, crump, currency=args.currency, preset=chosen, validation=validation,
                                        ibnr=ibnr, sensitivity=moves, sensitivity_formula=formula[0]),
                       pub.path("pool.html"))
        for path in pub.publish():
            say(f"wrote {path}")
    print(f"smallest list size with P(overspend > 5%) < {args.level:g}:\n{result.totals.to_string()}")
    return OK
