"""Running a plan: simulate every unfinished chunk on Dask, then reduce the bands.

The recipe (``run_plan``): make or check the store, warm the kernel cache, submit one task
per unfinished chunk (each simulates its scenarios and writes its own region of the
store), then three map-reduce passes over the stored draws give the bands, which are
written last. A killed run loses only its unfinished chunks; the next run of the same
config skips the finished ones and ends with the same bits.

Executors: :class:`DaskExecutor` (a ``distributed.Client``) for real runs and
:class:`SequentialExecutor` (this process) for tests and tiny runs, behind one interface:
``map(fn, items)`` yielding results as they complete, and ``map_reduce``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numba
import numpy as np

from flows import store as zstore
from flows.bands import compute_bands
from flows.plan import Plan
from kernels.registry import N_METRICS
from kernels.simulate import simulate


def simulate_chunk(store: str, chunk: int, start: int, stop: int, params: np.ndarray,
                   firm_params: np.ndarray, seed: int, n_firms: int, n_quarters: int,
                   threads: int) -> tuple[int, float]:
    """Task body: simulate scenarios [start, stop) and write them; returns (chunk, seconds)."""
    began = time.perf_counter()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    outcomes = simulate(params, firm_params, np.arange(start, stop, dtype=np.int64), seed,
                        n_firms, n_quarters)
    zstore.write_chunk(store, chunk, start, stop, outcomes)
    return chunk, time.perf_counter() - began


def _summarise_chunk(bounds: tuple[int, int], store: str, summarise: Callable):
    return summarise(zstore.read_draws_chunk(store, *bounds))


class SequentialExecutor:
    """Runs everything in this process, in order."""

    threads = None  # numba's own setting
    dashboard_link = None

    def map(self, fn: Callable, items: Iterable[tuple]) -> Iterator:
        for args in items:
            yield fn(*args)

    def map_reduce(self, store: str, chunks: list[tuple[int, int]]):
        def run(summarise, merge):
            result = None
            for bounds in chunks:
                part = _summarise_chunk(bounds, store, summarise)
                result = part if result is None else merge(result, part)
            return result
        return run


class DaskExecutor:
    """Runs tasks on a ``distributed.Client``; merges as a binary tree on the workers."""

    def __init__(self, client, threads: int = 1):
        self.client = client
        self.threads = threads
        self.dashboard_link = getattr(client, "dashboard_link", None)

    def map(self, fn: Callable, items: Iterable[tuple]) -> Iterator:
        from distributed import as_completed

        futures = [self.client.submit(fn, *args, pure=False) for args in items]
        for future in as_completed(futures):
            yield future.result()

    def map_reduce(self, store: str, chunks: list[tuple[int, int]]):
        def run(summarise, merge):
            level = self.client.map(_summarise_chunk, chunks, store=store,
                                    summarise=summarise, pure=False)
            while len(level) > 1:
                pairs = [level[i:i + 2] for i in range(0, len(level), 2)]
                level = [self.client.submit(merge, *pair, pure=False) if len(pair) == 2
                         else pair[0] for pair in pairs]
            return level[0].result()
        return run


@dataclass
class RunReport:
    """What a run did: chunks computed and skipped, seconds, the store."""

    store: str
    computed: int
    skipped: int
    seconds: float
    chunk_seconds: list[float]


def warm_kernel_cache(plan: Plan) -> None:
    """Compile (or load) the kernel once here before many workers reach for the cache at
    once (numba#4807): a one-scenario, two-firm, one-quarter call."""
    simulate(plan.params(0, 1), plan.config.firm_vector, np.zeros(1, dtype=np.int64),
             np.uint64(plan.config.seed), 2, 1)


def run_plan(plan: Plan, store: str, executor, overwrite: bool = False,
             progress: Callable[[int, int], None] | None = None) -> RunReport:
    """Simulate the unfinished chunks of ``plan`` into ``store`` and write its bands.

    progress(done, total) is called after every finished chunk (done counts skipped ones).
    """
    config = plan.config
    began = time.perf_counter()
    zstore.open_or_create(config, plan.theta, store, overwrite)
    finished = zstore.done_chunks(store)
    todo = [k for k in range(len(plan.chunks)) if not finished[k]]
    skipped = len(plan.chunks) - len(todo)
    if progress:
        progress(skipped, len(plan.chunks))
    seconds = []
    if todo:
        warm_kernel_cache(plan)
        threads = executor.threads or numba.get_num_threads()
        items = [(store, k, *plan.chunks[k], plan.params(*plan.chunks[k]), config.firm_vector,
                  config.seed, config.n_firms, config.n_quarters, threads) for k in todo]
        for n_done, (_, secs) in enumerate(executor.map(simulate_chunk, items), start=1):
            seconds.append(secs)
            if progress:
                progress(skipped + n_done, len(plan.chunks))
    if todo or not zstore.has_bands(store):
        shape = (len(config.path_names), config.n_quarters, N_METRICS)
        bands = compute_bands(executor.map_reduce(store, plan.chunks), shape, config.quantiles)
        zstore.write_bands(store, config, bands)
    return RunReport(store, len(todo), skipped, time.perf_counter() - began, seconds)
