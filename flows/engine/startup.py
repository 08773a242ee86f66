"""A run's start-up: everything the run of a checked request waits for, started at once.

:func:`launch` prints the request's header, starts a local Dask cluster in a thread while
the engine is imported, loads (or compiles) the kernel here and then in every worker
process (a threaded local cluster's workers are this process's threads: nothing more), and
yields a :class:`Launched`: the request, its executor and its clock. The caller then runs
it here (:meth:`Launched.run`: ``--engine direct``, and a deployment's flow run) or starts
it ahead in a thread (:meth:`Launched.start`), so that ``resonance run`` imports Prefect's
client once the first chunk is on its way (:meth:`Launched.wait_until`) and the flow begins
while the chunks run (Prefect's temporary server was started before the run, and boots on
the core its start-up leaves idle); the flow's simulate task then joins that run with its
request (:meth:`Launched.join`). Nothing is kept in a module: the
handle goes to whoever needs it.

On the 2-core machine of ``docs/results.md`` the threaded local cluster is up 2.9 s after
the command, nearly all of it imports, and Prefect's flow begins at about 7 s.
This module imports only light modules at import; the engine comes in when needed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING

from . import cluster, console
from .timing import Clock

if TYPE_CHECKING:
    from ..request import RunRequest
    from .execute import DaskExecutor, RunReport
    from .plan import ChunkJob


def warm_workers(job: ChunkJob) -> None:
    """Task body on every worker: load the kernel of ``job``'s precision."""
    from ...kernels.compile import configure

    configure()
    job.warm()


class Launched:
    """A request whose cluster is up and whose kernel is loaded here and on every worker;
    with :meth:`start`, its run going on in a thread."""

    def __init__(self, request: RunRequest, executor: DaskExecutor, clock: Clock):
        self.request = request
        self.executor = executor
        self.clock = clock
        self._ahead: Future | None = None  # the run started by start(), until joined
        self._checked = True  # whether the request's store check still holds: until run

    def run(self, request: RunRequest | None = None) -> RunReport:
        """Run ``request`` (default: the launched one; a retry's, ``RunRequest.again``)
        here, on the launched cluster (``execute.run``). The launched request's store
        check holds for its first run only: a later one decides the store's use anew."""
        from .execute import run

        if request is None or request is self.request:
            request, checked, self._checked = self.request, self._checked, False
            if not checked:  # it has run: the store is not as the check found it
                request = request.again(request.options.overwrite)
        return run(request, self.executor, self.clock)

    def start(self) -> None:
        """Start the launched request's run in a thread now; :meth:`join` waits for it."""
        future: Future = Future()

        def body() -> None:
            try:
                future.set_result(self.run())
            except BaseException as exc:  # the joining caller raises it
                future.set_exception(exc)

        self._ahead = future
        threading.Thread(target=body, daemon=True, name="resonance-run").start()

    def join(self, request: RunRequest) -> RunReport | None:
        """Wait for the run started ahead, if any: its report (or its error) when it is the
        run of ``request`` (an equal request: the same options, config, cluster and
        store), else None, and the caller runs ``request`` itself, finding the store as
        that run left it. Once joined, a run is not joined again: a retry runs anew."""
        future, self._ahead = self._ahead, None
        if future is None:
            return None
        report = future.result()
        return report if request == self.request else None

    def wait_until(self, moment: str, timeout: float) -> None:
        """Return once the run started ahead has passed ``moment`` of its clock
        (``timing.Clock``), has ended, or ``timeout`` seconds have passed."""
        future, began = self._ahead, time.monotonic()
        while moment not in self.clock.moments and future is not None and not future.done():
            if time.monotonic() - began > timeout:
                return
            time.sleep(0.02)

    def raise_if_failed(self) -> None:
        """Raise the error of the run started ahead, if it has failed already."""
        future = self._ahead
        if future is not None and future.done() and future.exception() is not None:
            self._ahead = None
            raise future.exception()


@contextlib.contextmanager
def launch(request: RunRequest, clock: Clock | None = None) -> Iterator[Launched]:
    """Everything the run of ``request`` waits for before its first chunk, started at once:
    the header (the checks have passed), the cluster, this process's kernel and the
    workers' kernels. The cluster is closed on exit. ``clock`` gets the moments."""
    clock = clock or Clock()
    spec, options = request.cluster, request.options
    console.announce(request.config)  # at once: the cluster and the kernels take some seconds
    with contextlib.ExitStack() as stack:
        started = None
        if spec.kind == "local" and not options.scheduler:
            # A local cluster boots in its thread while the engine is imported (2 s); a
            # SLURM or existing one is reached once the kernel is loaded, below.
            import distributed  # noqa: F401  here, not by both threads at once

            clock.mark("cluster_begin")
            started = stack.enter_context(cluster.started(spec, options.workers))
        # Imported here first, so the run's thread and this one (importing Prefect) do not
        # import one cycle of modules at once, which can deadlock on the import locks.
        import distributed  # noqa: F401, F811
        import fsspec  # noqa: F401  (the store's first look at its path)

        from ...kernels.compile import cache_dir
        from .execute import DaskExecutor  # and through it the store_* modules: zarr, xarray
        from .plan import ChunkJob

        job = ChunkJob.of(request.config)
        # Here first: workers compiling a cold cache at once can crash (numba#4807).
        with console.waiting(f"compiling the kernels (once; cached in {cache_dir()})"):
            job.warm()
        if started is None:
            clock.mark("cluster_begin")
            started = stack.enter_context(cluster.started(spec, options.workers, options.scheduler))
        with console.waiting("starting the Dask cluster"):
            client = started.client()
            # threads of this process (a threaded local cluster) have the kernel loaded above
            if not cluster.in_process(spec, options.scheduler):
                client.run(warm_workers, job)
        clock.mark("cluster")
        yield Launched(request, DaskExecutor(client, spec.threads_per_worker), clock)
