"""Run a per-segment method on a Dask cluster: split the segments, run the same call on each part.

The user sets up the cluster and passes its ``dask.distributed.Client``. Segments are cut into
contiguous parts (two per worker, for balance), each part is sent to a worker that calls the
method locally with the same options, and the parts come back in order. Methods whose random
streams are keyed by segment label (as :func:`reserving.bootstrap_odp`) give results identical
to a local run.
"""

from __future__ import annotations

import numpy as np

from reserving.triangle import TriangleSet


def map_segments(client, method, tri: TriangleSet, options: dict, sliced=(), parts_per_worker: int = 2) -> list:
    """``[method(part, **options) for part in parts of tri]``, computed on the client's workers.

    Parameters
    ----------
    client : dask.distributed.Client
    method : callable
        A function ``method(tri, **options)`` importable on the workers.
    tri : TriangleSet
    options : dict
        Keyword arguments of ``method``; must not contain ``client``.
    sliced : sequence of str
        Options that are per-segment arrays (segments on the first axis), cut like ``tri``.
    parts_per_worker : int
        Parts per worker.

    Returns
    -------
    list
        The results of the parts, in segment order.
    """
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    n_parts = max(1, min(tri.n_segments, n_workers * parts_per_worker))
    bounds = np.linspace(0, tri.n_segments, n_parts + 1).astype(int)
    futures = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        part = {k: (v[lo:hi] if k in sliced else v) for k, v in options.items()}
        futures.append(client.submit(method, tri[np.arange(lo, hi)], pure=False, **part))
    return client.gather(futures)
