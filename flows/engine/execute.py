"""The one run recipe and the executors it runs on.

:func:`run_plan` is the recipe: make or check the store, warm the kernel cache, simulate
every unfinished chunk (each task simulates its scenarios and writes its own region of the
store), then the stored draws are reduced to bands (``reduce.py``), which are written
last. A killed run loses only its unfinished chunks; the next run of the same config skips
the finished ones and ends with the same bits. :func:`run` runs a request on the cluster
``startup.launch`` started for it, with a progress bar; ``resonance run --engine direct``
and the Prefect flow's task both reach it through ``startup.Launched``.

Executors (the :class:`Executor` protocol): :class:`DaskExecutor` (a ``distributed.Client``
on a local, existing or SLURM cluster) for real runs, :class:`SequentialExecutor` (this
process) for tests and tiny runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numba
import numpy as np

from ...kernels import load
from ..config import RunConfig
from ..errors import StoreError
from . import console, converge
from .bands import MapReduce, sequential_map_reduce
from .plan import ChunkJob, Design, Plan, make_plan, world_events
from .reduce import store_bands
from .store_io import StoredChunks, done_chunks, read_draws_chunk, write_chunk
from .store_lock import clear_writer, record_writer, writer_lock
from .store_read import bands_current
from .store_state import check
from .store_write import (
    invalidate_bands,
    open_or_create,
    record_flow_run,
    write_bands,
    write_convergence,
)
from .timing import Clock

if TYPE_CHECKING:
    from ..request import RunRequest

Progress = Callable[[int, int], None]  # progress(chunks done, chunks in all)


class Executor(Protocol):
    """Where chunks run. ``threads``: numba threads per task (None: numba's own setting)."""

    threads: int | None
    dashboard_link: str | None

    def map(self, fn: Callable, shared, items: Iterable[tuple]) -> Iterator:
        """``fn(shared, *args)`` for each args of items, yielded as they complete."""

    def map_reduce(
        self, store: str, config_sha256: str, chunks: list[tuple[int, int]]
    ) -> MapReduce:
        """A map-reduce over the stored draws of ``chunks`` (bands.compute_bands' input)."""


@dataclass(frozen=True)
class ChunkTask:
    """What a worker needs to simulate and store a chunk: the job, where, how many threads."""

    job: ChunkJob
    store: str
    config_sha256: str  # keys the workers' cache of open store arrays (store_io.draws_arrays)
    threads: int


def run_chunk(task: ChunkTask, chunk: int, start: int, stop: int) -> tuple[int, float, float]:
    """Task body: simulate scenarios [start, stop) (their design points made here) and
    write them into the store; returns (chunk, kernel seconds, write seconds)."""
    load()  # configures numba in this process before the kernel is first used
    numba.set_num_threads(max(1, min(task.threads, numba.config.NUMBA_NUM_THREADS)))
    began = time.perf_counter()
    outcomes, snapshots = task.job.simulate(start, stop)
    simulated = time.perf_counter()
    write_chunk(task.store, task.config_sha256, start, stop, outcomes, snapshots)
    return chunk, simulated - began, time.perf_counter() - simulated


def _summarise_chunks(
    group: list[tuple[int, int]], store: str, config_sha256: str, summarise: Callable, merge
):
    """Summary of a group of chunks, read one at a time (memory: a chunk and a summary)."""
    result = None
    for bounds in group:
        part = summarise(read_draws_chunk(store, config_sha256, *bounds))
        result = part if result is None else merge(result, part)
    return result


LEAVES_PER_SLOT = 8  # summary tasks per task slot: enough to balance, few for the scheduler


class SequentialExecutor:
    """Runs everything in this process, in order."""

    threads = None
    dashboard_link = None

    def map(self, fn: Callable, shared, items: Iterable[tuple]) -> Iterator:
        for args in items:
            yield fn(shared, *args)

    def map_reduce(self, store: str, config_sha256: str, chunks: list[tuple[int, int]]):
        return sequential_map_reduce(StoredChunks(store, config_sha256, chunks))


class DaskExecutor:
    """Runs tasks on a ``distributed.Client``; merges as a binary tree on the workers."""

    def __init__(self, client, threads: int = 1):
        self.client = client
        self.threads = threads
        self.dashboard_link = getattr(client, "dashboard_link", None)

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    @property
    def slots(self) -> int:
        """Tasks that run at once: the workers' Dask threads together."""
        workers = self.client.scheduler_info().get("workers", {}).values()
        return max(1, sum(w.get("nthreads", 1) for w in workers))

    def map(self, fn: Callable, shared, items: Iterable[tuple]) -> Iterator:
        """``shared`` is scattered to the workers once; at most a few tasks per Dask thread
        are in flight, so a run of a million scenarios does not hold a million futures."""
        from distributed import as_completed

        items = iter(items)
        shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        window = 4 * self.slots  # tasks in flight: a few per thread
        pending = as_completed(loop=self.client.loop)
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
        """Summaries of groups of consecutive chunks, at most LEAVES_PER_SLOT per task slot
        (so a run of 10^6 chunks is not 10^6 tasks), merged as a binary tree. The merges
        are exact (counts, extremes, fixed-point sums), so the grouping changes no bit."""
        leaves = min(len(chunks), LEAVES_PER_SLOT * self.slots)
        edges = np.linspace(0, len(chunks), leaves + 1).astype(np.int64)
        groups = [list(chunks[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]

        def run(summarise, merge):
            level = self.client.map(
                _summarise_chunks,
                groups,
                store=store,
                config_sha256=config_sha256,
                summarise=summarise,
                merge=merge,
                pure=False,
            )
            while len(level) > 1:
                pairs = [level[i : i + 2] for i in range(0, len(level), 2)]
                level = [
                    self.client.submit(merge, *pair, pure=False) if len(pair) == 2 else pair[0]
                    for pair in pairs
                ]
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
    scenarios_computed: int = 0  # scenarios of the computed chunks (a grown store: the new)


def warm_kernel_cache(plan: Plan) -> None:
    """Compile (or load) the kernel once here before many workers reach for the cache at
    once (numba#4807); a cold compile says so after two seconds (console.waiting)."""
    from ...kernels.compile import cache_dir

    with console.waiting(f"compiling the kernels (once; cached in {cache_dir()})"):
        plan.job.warm()


@dataclass(frozen=True)
class DesignInputs:
    """The scenario inputs a store records (``store_write.ScenarioInputs``), made here on
    the driver from the run's design: the store itself runs no sampler and no kernel."""

    config: RunConfig
    design: Design

    @classmethod
    def of(cls, config: RunConfig) -> DesignInputs:
        return cls(config, Design.of(config))

    def parameters(self, start: int, stop: int) -> np.ndarray:
        """Uncertain parameters of scenarios [start, stop): float64 (s, d), own units."""
        return self.design.theta(start, stop)

    def events(self, parameters: np.ndarray, start: int, stop: int) -> dict[str, np.ndarray]:
        """The world events (``layout.EVENTS``) of scenarios [start, stop): (s,) each."""
        return world_events(self.config, parameters, start, stop)


def prepare_store(plan: Plan, overwrite: bool = False, mode: str | None = None) -> list[int]:
    """Create, grow or resume the plan's store; the indices of the chunks still to compute.
    ``mode``: what ``store_state.check`` decided for it, if the caller has asked already."""
    inputs = DesignInputs.of(plan.config)
    open_or_create(plan.config, plan.config.store, overwrite, inputs, mode)
    return np.flatnonzero(done_chunks(plan.config.store) == 0).tolist()


def simulate_chunks(
    plan: Plan,
    executor: Executor,
    todo: list[int],
    progress: Progress | None = None,
    clock: Clock | None = None,
    warm: bool = True,
) -> list[float]:
    """Simulate and write the chunks ``todo``; the seconds each took.

    progress(done, total) is called after every finished chunk (done counts the chunks
    that were finished before). ``clock`` gets the moments and the tasks' seconds.
    ``warm``: load the kernel here first; a caller that has (``startup.launch``) says not.
    """
    clock = clock or Clock()
    total = len(plan.chunks)
    skipped = total - len(todo)
    if progress:
        progress(skipped, total)
    if not todo:
        clock.mark("first_chunk")
        clock.mark("simulated")
        return []
    config = plan.config
    if warm:
        warm_kernel_cache(plan)
    task = ChunkTask(
        plan.job, config.store, config.sha256, executor.threads or numba.get_num_threads()
    )
    items = ((k, *plan.chunks[k]) for k in todo)
    seconds = []
    clock.mark("first_chunk")
    per_scenario = config.n_firms * config.n_quarters * len(config.path_names)
    for n_done, (k, kernel_s, write_s) in enumerate(executor.map(run_chunk, task, items), 1):
        seconds.append(kernel_s + write_s)
        clock.add("firm_steps", (plan.chunks[k][1] - plan.chunks[k][0]) * per_scenario)
        clock.add("kernel", kernel_s)
        clock.add("write", write_s)
        if progress:
            progress(skipped + n_done, total)
    clock.mark("simulated")
    return seconds


def finalise_bands(plan: Plan, executor: Executor, clock: Clock | None = None) -> None:
    """Reduce the stored draws to bands and write them (the store's last write)."""
    config = plan.config
    map_reduce = executor.map_reduce(config.store, config.sha256, plan.chunks)
    write_bands(config.store, config, store_bands(config.store, config, plan.chunks, map_reduce))
    (clock or Clock()).mark("bands")


def run_plan(
    plan: Plan,
    executor: Executor,
    overwrite: bool = False,
    progress: Progress | None = None,
    *,
    mode: str | None = None,
    clock: Clock | None = None,
    warm: bool = True,
    record: Mapping[str, str] | None = None,
) -> RunReport:
    """The whole recipe: prepare the store, simulate what is missing, write the bands.

    The store is ``plan.config.store``. ``overwrite`` replaces a resonance store of another
    config (never anything else: store_state.check). ``mode``: what that check decided,
    when the caller has made it (a run's request); else it is made here. ``clock`` and
    ``warm``: see :func:`simulate_chunks`. ``record``: the Prefect flow run the chunks are
    written by (``store_write.record_flow_run``), recorded when there are chunks to write.
    """
    began = time.perf_counter()
    store = plan.config.store
    if mode is None:
        mode = check(plan.config, store, overwrite)  # before the lock creates anything there
    with writer_lock(store):
        todo = prepare_store(plan, overwrite, mode)
        record_writer(store)
        if todo:
            record_flow_run(store, record or {})
            invalidate_bands(store)  # until the new ones are written
        try:
            seconds = simulate_chunks(plan, executor, todo, progress, clock, warm)
        except OSError as exc:
            if exc.errno is None:  # not the file system: a lost connection to a worker...
                raise
            raise write_failed(store, exc) from None
        if todo or not bands_current(store):
            finalise_bands(plan, executor, clock)
        clear_writer(store)
    return RunReport(
        store,
        len(todo),
        len(plan.chunks) - len(todo),
        time.perf_counter() - began,
        seconds,
        sum(plan.chunks[k][1] - plan.chunks[k][0] for k in todo),
    )


def write_failed(store: str, exc: OSError) -> StoreError:
    """The one line for a chunk that could not be written (a full or read-only file
    system, a lost mount): what failed, and that the finished chunks are kept."""
    done = int(done_chunks(store).sum())
    what = exc.strerror or str(exc)
    where = f" at {exc.filename}" if exc.filename else ""
    return StoreError(
        store,
        f"a write failed: {what}{where}; the {done} finished chunks are kept",
        "free space or fix the file system, then run the same command again to resume",
    )


def run(request: RunRequest, executor: DaskExecutor, clock: Clock | None = None) -> RunReport:
    """Run ``request`` on ``executor``, which ``startup.launch`` made for it (the kernel
    loaded here and on every worker, the first size's header printed): the cluster line,
    then per size a progress bar and a closing line.

    With ``until_se``, grow the store on the same cluster until the headline standard
    errors are at most that, or the next size would pass the request's ``cap``
    (converge.py); each new size is checked against its store and announced. The report is
    the last size's. ``clock`` gets the run's moments.
    """
    clock = clock or Clock()
    options, config = request.options, request.config
    overwrite, mode = options.overwrite, request.store
    clock.set_threads(executor.slots)  # a task's kernel seconds are wall seconds
    console.announce_cluster(executor.n_workers, executor.slots, executor.dashboard_link)
    while True:
        plan = make_plan(config)
        with console.progress_bar(options.progress, "simulating") as update:
            report = run_plan(
                plan,
                executor,
                overwrite,
                update,
                mode=mode,
                clock=clock,
                warm=False,
                record=request.record,
            )
        console.done(config, report)
        if options.until_se is None:
            return report
        step = converge.step_of(config, options.until_se)
        write_convergence(config.store, converge.history(step, config.store))
        grow_to = None if step.converged else converge.next_size(config, request.cap)
        console.convergence(step, grow_to, request.cap)
        if grow_to is None:
            return report
        config, overwrite, mode = config.with_scenarios(grow_to), False, None
        console.announce(config)
