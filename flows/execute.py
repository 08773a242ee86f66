"""Running a plan: simulate every unfinished chunk on Dask, then reduce the bands.

The recipe (``run_plan``): make or check the store, warm the kernel cache, submit one task
per unfinished chunk (each simulates its scenarios and writes its own region of the
store), then three map-reduce passes over the stored draws give the bands, which are
written last. A killed run loses only its unfinished chunks; the next run of the same
config skips the finished ones and ends with the same bits.

Executors: :class:`DaskExecutor` (a ``distributed.Client``) for real runs and
:class:`SequentialExecutor` (this process) for tests and tiny runs, behind one interface:
``map(fn, shared, items)`` yielding ``fn(shared, *args)`` as they complete, and
``map_reduce``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numba
import numpy as np

from flows import store as zstore
from flows.bands import compute_bands, sequential_map_reduce
from flows.paths import LeverArrays
from flows.plan import Plan, draw_ids, scenario_params
from kernels.registry import N_METRICS
from kernels.simulate import simulate


@dataclass(frozen=True)
class ChunkJob:
    """Everything a task needs besides its scenario range; small, and sent to the workers
    once (``DaskExecutor.map`` scatters it)."""

    store: str
    nominal: np.ndarray  # (k,)
    levers: LeverArrays
    firm_params: np.ndarray  # (N_FIRM_PARAMETERS,)
    seed: int
    n_firms: int
    n_quarters: int
    threads: int
    sampler: str
    config_sha256: str  # keys the workers' cache of open store arrays (store.draws_arrays)
    precision: str  # "float32" | "float64", the kernel build (kernels/simulate.py)


def simulate_chunk(job: ChunkJob, chunk: int, start: int, stop: int,
                   theta: np.ndarray) -> tuple[int, float]:
    """Task body: simulate scenarios [start, stop) with world parameters theta (s, d) and
    write them into the store; returns (chunk, seconds)."""
    began = time.perf_counter()
    numba.set_num_threads(max(1, min(job.threads, numba.config.NUMBA_NUM_THREADS)))
    params = scenario_params(job.nominal, job.levers, theta)
    outcomes = simulate(params, job.firm_params, draw_ids(job.sampler, start, stop),
                        job.seed, job.n_firms, job.n_quarters, job.precision)
    zstore.write_chunk(job.store, job.config_sha256, chunk, start, stop, outcomes)
    return chunk, time.perf_counter() - began


def _summarise_chunk(bounds: tuple[int, int], store: str, config_sha256: str,
                     summarise: Callable):
    return summarise(zstore.read_draws_chunk(store, config_sha256, *bounds))


class SequentialExecutor:
    """Runs everything in this process, in order."""

    threads = None  # numba's own setting
    dashboard_link = None

    def map(self, fn: Callable, shared, items: Iterable[tuple]) -> Iterator:
        """fn(shared, *args) for each args of items, in order."""
        for args in items:
            yield fn(shared, *args)

    def map_reduce(self, store: str, config_sha256: str, chunks: list[tuple[int, int]]):
        return sequential_map_reduce(_StoredChunks(store, config_sha256, chunks))


class _StoredChunks:
    """The stored draws chunk by chunk, read afresh on every pass (memory: one chunk)."""

    def __init__(self, store: str, config_sha256: str, chunks: list[tuple[int, int]]):
        self.store, self.config_sha256, self.chunks = store, config_sha256, chunks

    def __iter__(self):
        return (zstore.read_draws_chunk(self.store, self.config_sha256, *bounds)
                for bounds in self.chunks)


class DaskExecutor:
    """Runs tasks on a ``distributed.Client``; merges as a binary tree on the workers."""

    def __init__(self, client, threads: int = 1):
        self.client = client
        self.threads = threads
        self.dashboard_link = getattr(client, "dashboard_link", None)

    def map(self, fn: Callable, shared, items: Iterable[tuple]) -> Iterator:
        """fn(shared, *args) for each args of items, as they complete.

        ``shared`` is scattered to the workers once; at most a few tasks per worker are in
        flight, so a run of a million scenarios does not hold a million futures.
        """
        from distributed import as_completed

        items = iter(items)
        shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        window = 4 * max(1, len(self.client.scheduler_info().get("workers", {})))
        pending = as_completed()
        for args in items:
            pending.add(self.client.submit(fn, shared_future, *args, pure=False))
            if pending.count() >= window:
                break
        for future in pending:
            yield future.result()
            nxt = next(items, None)
            if nxt is not None:
                pending.add(self.client.submit(fn, shared_future, *nxt, pure=False))

    def map_reduce(self, store: str, config_sha256: str, chunks: list[tuple[int, int]]):
        def run(summarise, merge):
            level = self.client.map(_summarise_chunk, chunks, store=store,
                                    config_sha256=config_sha256, summarise=summarise,
                                    pure=False)
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
             np.uint64(plan.config.seed), 2, 1, plan.config.precision)


def prepare_store(plan: Plan, store: str, overwrite: bool = False) -> list[int]:
    """Create or check the store; the indices of the chunks still to compute."""
    zstore.open_or_create(plan.config, plan.theta, store, overwrite)
    finished = zstore.done_chunks(store)
    return [k for k in range(len(plan.chunks)) if not finished[k]]


def simulate_chunks(plan: Plan, store: str, executor, todo: list[int],
                    progress: Callable[[int, int], None] | None = None) -> list[float]:
    """Simulate and write the chunks ``todo``; the seconds each took.

    progress(done, total) is called after every finished chunk (done counts the chunks
    that were finished before).
    """
    total = len(plan.chunks)
    skipped = total - len(todo)
    if progress:
        progress(skipped, total)
    if not todo:
        return []
    config = plan.config
    warm_kernel_cache(plan)
    job = ChunkJob(store, config.nominal, config.levers, config.firm_vector, config.seed,
                   config.n_firms, config.n_quarters,
                   executor.threads or numba.get_num_threads(), config.sampler,
                   config.sha256, config.precision)
    items = ((k, *plan.chunks[k], plan.theta[slice(*plan.chunks[k])]) for k in todo)
    seconds = []
    for n_done, (_, secs) in enumerate(executor.map(simulate_chunk, job, items), start=1):
        seconds.append(secs)
        if progress:
            progress(skipped + n_done, total)
    return seconds


def finalise_bands(plan: Plan, store: str, executor) -> None:
    """Reduce the stored draws to bands and write them (the store's last write)."""
    config = plan.config
    shape = (len(config.path_names), config.n_quarters, N_METRICS)
    bands = compute_bands(executor.map_reduce(store, config.sha256, plan.chunks), shape,
                          config.quantiles)
    zstore.write_bands(store, config, bands)


def run_plan(plan: Plan, store: str, executor, overwrite: bool = False,
             progress: Callable[[int, int], None] | None = None) -> RunReport:
    """The whole recipe: prepare the store, simulate what is missing, write the bands."""
    began = time.perf_counter()
    todo = prepare_store(plan, store, overwrite)
    seconds = simulate_chunks(plan, store, executor, todo, progress)
    if todo or not zstore.has_bands(store):
        finalise_bands(plan, store, executor)
    return RunReport(store, len(todo), len(plan.chunks) - len(todo),
                     time.perf_counter() - began, seconds)
