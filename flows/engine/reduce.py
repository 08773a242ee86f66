"""The bands of a store's draws, the one way every caller gets them (a run's last step,
reading an unfinished store, ``resonance verify``).

Each metric whose draws fit ``bands.MEMORY_CAP`` is read whole and reduced exactly in
memory (``bands.row_bands``), two metrics at a time; when they do not, all metrics
stream through the histogram passes of ``bands.compute_bands`` chunk by chunk (on the
workers, given a map-reduce), in memory O(groups x bins) whatever the number of scenarios.
Either way the result depends on the draws alone, not on the chunking, the worker count or
a resume.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...kernels.registry import METRICS
from ..config import RunConfig
from . import bands as B
from .store_io import StoredChunks, read_metric_rows

KEYS = ("quantiles", "mean", "std", "error")
THREADS = 2  # metrics in flight at once in memory


def in_memory(config: RunConfig, scenarios: int) -> bool:
    """Whether the bands of ``scenarios`` of ``config`` are reduced in memory."""
    return B.fits_in_memory(scenarios, len(config.path_names) * config.n_quarters)


METHODS = ("exact", "streaming")  # the store's attribute bands_method says which made them


def store_bands(
    store: str,
    config: RunConfig,
    chunks: list[tuple[int, int]],
    map_reduce: B.MapReduce | None = None,
    method: str | None = None,
) -> dict:
    """Bands of the draws of ``chunks`` ((start, stop) each) of ``store``, made by ``config``:
    ``quantiles`` (p, t, m, q), ``mean``, ``std``, ``error`` (p, t, m), float64, and
    ``method``, the one of METHODS that made them.

    map_reduce: how the streaming passes run over the chunks (``Executor.map_reduce``);
    default: in this process, one chunk at a time. method: force one (``resonance verify``
    recomputes a store's bands the way they were made); default: exact when they fit.
    """
    n = sum(b - a for a, b in chunks)
    if method is None:
        method = "exact" if in_memory(config, n) else "streaming"
    if method == "exact":
        shape = (len(config.path_names), config.n_quarters)
        local = threading.local()

        def one(metric: str) -> dict:
            if not hasattr(local, "rows"):  # one buffer per thread, its pages touched once
                local.rows = np.empty((shape[0] * shape[1], n))
            rows = read_metric_rows(store, config.sha256, chunks, metric, local.rows)
            return B.row_bands(rows, config.quantiles, shape)

        # One metric's read (zarr's I/O thread) overlaps another's reduction (numpy's sort
        # releases the GIL); memory: a metric per thread.
        with ThreadPoolExecutor(THREADS) as pool:
            per_metric = list(pool.map(one, METRICS))
        bands = {key: np.stack([r[key] for r in per_metric], axis=2) for key in KEYS}
        return {**bands, "method": method}
    if map_reduce is None:
        map_reduce = B.sequential_map_reduce(StoredChunks(store, config.sha256, chunks))
    shape = (len(config.path_names), config.n_quarters, len(METRICS))
    return {**B.compute_bands(map_reduce, shape, config.quantiles), "method": method}
