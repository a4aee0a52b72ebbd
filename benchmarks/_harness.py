"""Measure one side of a workload in a fresh process: time and peak memory.

Every workload is run twice, ours and the anchor's, each in its own Python process so that
neither inherits the other's imports, caches or heap. Inside that process::

    data = setup(**params)          # build inputs; not timed
    baseline = peak RSS so far      # interpreter + imports + inputs
    first = time(run(data))         # first call: includes Numba cache load / compile
    steady = min(time(run(data)) for the remaining repeats)
    peak = peak RSS - baseline      # memory the method itself needed

``setup`` and ``run`` are named as ``"package.module:function"`` so the child can import them.
``run`` returns a small dict of figures (e.g. a total reserve) that the report prints beside the
timing, so a reader can see both sides computed the same thing.
"""

from __future__ import annotations

import importlib
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Side:
    """One implementation of a workload: who it is and which functions set up and run it."""

    label: str
    setup: str
    run: str
    repeats: int = 3


@dataclass(frozen=True)
class Workload:
    """A named workload, our side and (optionally) the anchor's, with shared parameters."""

    name: str
    ours: Side
    anchor: Side | None = None
    params: dict = field(default_factory=dict)
    target: str = ""


def _resolve(spec: str):
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure_in_this_process(side: Side, params: dict) -> dict:
    """Run one side here and return its figures (used by the child process)."""
    data = _resolve(side.setup)(**params)
    run = _resolve(side.run)
    baseline = _peak_rss_mb()
    t0 = time.perf_counter()
    figures = run(data)
    first = time.perf_counter() - t0
    times = []
    for _ in range(max(side.repeats - 1, 0)):
        t0 = time.perf_counter()
        figures = run(data)
        times.append(time.perf_counter() - t0)
    steady = min(times) if times else first
    return {
        "label": side.label,
        "first_s": first,
        "seconds": steady,
        "peak_mb": max(_peak_rss_mb() - baseline, 0.0),
        "total_peak_mb": _peak_rss_mb(),
        "figures": figures or {},
    }


def measure(side: Side, params: dict, timeout: float = 3600) -> dict:
    """Run one side in a fresh Python process and return its figures."""
    payload = json.dumps({"side": side.__dict__, "params": params})
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks._harness", payload],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        return {"label": side.label, "error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    result = measure_in_this_process(Side(**request["side"]), request["params"])
    print(json.dumps(result, default=float))
