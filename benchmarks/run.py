"""Run every benchmark workload, ours beside the anchor, and rewrite ``benchmarks/RESULTS.md``.

Usage::

    make bench                                   # all workloads
    python -m benchmarks.run --only reserving    # workloads whose module name contains a word

Each ``benchmarks/bench_*.py`` module exposes ``workloads() -> list[Workload]``.
Each module's figures are kept in ``benchmarks/results/<module>.json``, so a partial run with
``--only`` replaces its own rows and keeps the others. Files are written atomically.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
from pathlib import Path

from _kit.publish import write_text
from benchmarks._harness import measure

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}; {os.cpu_count()} cores; {mem_gb:.0f} GiB; "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}"
    )


def _fmt_side(r: dict | None) -> tuple[str, str, str]:
    if r is None:
        return "-", "-", "-"
    if "error" in r:
        return "error: " + " ".join(r["error"]), "-", "-"
    return f"{r['seconds']:.3g}", f"{r['first_s']:.3g}", f"{r['peak_mb']:.0f}"


def _ratio(a: float, b: float) -> str:
    if a <= 0:
        return "inf"
    return f"{b / a:.1f}x"


def _figures(r: dict | None) -> str:
    if not r or "figures" not in r:
        return ""
    return ", ".join(
        f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["figures"].items()
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--only", default="", help="run only modules whose name contains this")
    args = parser.parse_args(argv)

    modules = sorted(
        m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_") and args.only in m.name
    )
    for name in modules:
        module = importlib.import_module(f"benchmarks.{name}")
        records = []
        for w in module.workloads():
            print(f"[{name}] {w.name} ...", flush=True)
            ours = measure(w.ours, w.params)
            anchor = measure(w.anchor, w.params) if w.anchor else None
            records.append(
                {"name": w.name, "target": w.target, "anchor_label": w.anchor.label if w.anchor else "-",
                 "ours": ours, "anchor": anchor, "date": dt.date.today().isoformat(), "machine": _machine()}
            )
            print(f"    ours {_fmt_side(ours)}  anchor {_fmt_side(anchor)}", flush=True)
        write_text(json.dumps(records, indent=1, default=float), RESULTS / f"{name}.json")
    write_text(_report(), HERE / "RESULTS.md")
    print(f"wrote {HERE / 'RESULTS.md'}")


def _report() -> str:
    rows = []
    for path in sorted(RESULTS.glob("bench_*.json")):
        rows += [(path.stem, r) for r in json.loads(path.read_text())]
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks.run`); each row gives the machine and date it ran on.",
        "",
        "Each side runs in its own process. *time* is the best of the repeated calls; *first call* includes "
        "Numba's cache load or compile; *peak MB* is the peak resident memory the call added above the "
        "process after imports and input set-up. Ratios are anchor / ours (higher is better for us).",
        "",
        "| module | workload | date | machine | ours time s | ours first call s | ours peak MB | anchor | anchor time s "
        "| anchor peak MB | speed ratio | memory ratio | target | ours figures | anchor figures |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        ours, anchor = r["ours"], r["anchor"]
        o_t, o_first, o_mem = _fmt_side(ours)
        a_t, _, a_mem = _fmt_side(anchor)
        ok = "error" not in ours and anchor is not None and "error" not in anchor
        speed = _ratio(ours["seconds"], anchor["seconds"]) if ok else "-"
        memory = _ratio(max(ours["peak_mb"], 1.0), max(anchor["peak_mb"], 1.0)) if ok else "-"
        lines.append(
            f"| {name.removeprefix('bench_')} | {r['name']} | {r['date']} | {r['machine']} | {o_t} | {o_first} | "
            f"{o_mem} | {r['anchor_label']} | {a_t} | {a_mem} | {speed} | {memory} | {r['target']} | "
            f"{_figures(ours)} | {_figures(anchor)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
