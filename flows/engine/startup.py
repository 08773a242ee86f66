"""A run's start-up: its inputs checked first, then everything it waits for started at once.

In the order of ``resonance run``: :func:`resolve` checks the inputs (nothing starts before
they pass); :func:`early_cluster` starts a local Dask cluster in a thread while the engine
is imported; :func:`ahead` loads (or compiles) the kernel here and in every worker and then
starts the run itself in a thread (:func:`run_ahead`), so that Prefect is imported and its
temporary server boots (:func:`prefect_api`) while the first chunks run; the flow's
simulate task then joins the run (``execute.run`` calls :func:`join_ahead`).

One after another, these take about 2 s (imports), 3 s (the cluster), 1 s (the workers'
kernel loads) and 6 s (Prefect's server) on the 2-core machine of ``docs/results.md``.
This module imports only light modules at import; the engine comes in when needed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import RunConfig, load_config
from ..errors import ResonanceError
from . import cluster, console, timing
from .cluster import (
    ClusterSpec,
    check_scheduler,
    load_cluster,
    scheduler_address,
)

if TYPE_CHECKING:
    from .execute import RunReport
    from .plan import ChunkJob


def resolve(
    config_path: str | Path,
    overrides: dict | None = None,
    cluster: str | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    grows: bool = False,
) -> tuple[RunConfig, ClusterSpec]:
    """Everything a run needs from its inputs, checked before any work starts: the config
    (with overrides), the cluster spec (``cluster`` or the config's), whether its store
    can be used and written, and whether a scheduler answers. Raises ResonanceError naming
    the first problem; writes nothing. ``grows`` (``--until-se``): the config is taken at
    the size its store has already grown to, if larger (``converge.resume_size``)."""
    config = load_config(config_path, overrides)
    if grows:
        from .converge import resume_size

        config = resume_size(config)
    spec = load_cluster(cluster or config.cluster, Path(config_path).parent / "clusters")
    if config.store not in _AHEAD:  # a run started ahead was checked before it began
        from .store_state import check

        check(config, config.store, overwrite)
    address = scheduler_address(spec, scheduler)
    if address:
        check_scheduler(address)
    return config, spec


_AHEAD: dict[str, tuple[tuple, Future]] = {}  # runs started by run_ahead, by store


def run_ahead(config: RunConfig, spec: ClusterSpec, **kwargs) -> None:
    """Start ``execute.run`` of these arguments in a thread now. The next ``run`` of the
    same store in this process waits for it and, given the same arguments, returns its
    report (or raises its error) instead of running again (:func:`join_ahead`)."""
    from .execute import run

    future: Future = Future()

    def body() -> None:
        try:
            future.set_result(run(config, spec, **kwargs, join=False))
        except BaseException as exc:  # the joining run raises it
            future.set_exception(exc)

    _AHEAD[config.store] = (_run_key(config, spec, **kwargs), future)
    threading.Thread(target=body, daemon=True, name="resonance-run").start()


def forget_ahead(store: str) -> None:
    """Drop a run of ``store`` started ahead that nobody joined (its cluster is closing)."""
    _AHEAD.pop(store, None)


def _run_key(
    config: RunConfig,
    spec: ClusterSpec,
    workers=None,
    scheduler=None,
    overwrite=False,
    progress=True,
    until_se=None,
    max_scenarios=None,
) -> tuple:
    """What makes two calls of ``execute.run`` the same run (a growing one: whatever size
    its config has reached)."""
    what = config.identity if until_se is not None else config.sha256
    where = (what, config.store, spec.model_dump_json())
    return (*where, workers, scheduler, overwrite, progress, until_se, max_scenarios)


def join_ahead(config: RunConfig, spec: ClusterSpec, *args) -> RunReport | None:
    """Wait for a run of ``config.store`` started ahead, if any: its report if it was
    started with these arguments (``execute.run``'s after config and spec), else None
    (the caller then runs, and finds the store as that run left it)."""
    started = _AHEAD.pop(config.store, None)
    if started is None:
        return None
    key, future = started
    report = future.result()
    return report if key == _run_key(config, spec, *args) else None


class PrefectUnavailable(ResonanceError):
    """Prefect's API could not be reached or started (the run itself may go on)."""


class PrefectServer:
    """Prefect's temporary API server for one ``resonance run``, started without importing
    Prefect's server code into this process.

    Prefect's own ephemeral mode (``SubprocessASGIServer``, Prefect 3) imports its whole
    server application into the client process first (4 s here) and then starts the same
    application in a subprocess. This starts that subprocess the way Prefect does (uvicorn,
    the app factory from Prefect's own directory, loopback, its ephemeral-mode flags, a new
    port when the chosen one was taken); :func:`prefect_api` points this process's client
    at it. The server reads the user's Prefect profile and environment as any Prefect
    process does. Like Prefect's, it is stopped at exit; a run killed with SIGKILL leaves it
    to the operating system.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self._start()

    def _start(self) -> None:
        import importlib.util

        prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",  # Prefect's flags of its ephemeral server
            "PREFECT__SERVER_FINAL": "1",
        }
        env.pop("PREFECT_API_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent), "--factory"]
            + ["prefect.server.api.server:create_app", "--host", "127.0.0.1"]
            + ["--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env=env,
        )

    def wait(self, abort=None) -> None:
        """Return once the server answers; PrefectUnavailable if it does not in time.
        ``abort()``, called while waiting, may raise to stop the wait (a failed run)."""
        began = time.monotonic()
        restarts = 0
        while time.monotonic() - began < self.timeout:
            if abort is not None:
                abort()
            code = self.process.poll()
            if code == 3 and restarts < 3:  # uvicorn could not bind: the port was taken
                restarts += 1
                self._start()
                continue
            if code is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        code = self.process.poll()
        raise PrefectUnavailable(
            "prefect",
            "its temporary API server did not start in time"
            + (f" (it exited with code {code})" if code is not None else ""),
            "raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or run without Prefect: "
            "--engine direct",
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_prefect_url(url: str, where: str = "PREFECT_API_URL") -> None:
    """PrefectUnavailable unless something answers HTTP at the Prefect API ``url`` (any
    status: a server that wants a key still answers)."""
    import urllib.error

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=5):
            pass
    except urllib.error.HTTPError:
        pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise PrefectUnavailable(
            where,
            f"no Prefect server answered at {url} ({reason})",
            "start it, unset PREFECT_API_URL for a temporary server, or --engine direct",
        ) from None


def raise_if_failed(store: str) -> None:
    """Raise the error of the run of ``store`` started ahead, if it has failed."""
    started = _AHEAD.get(store)
    if started is not None and started[1].done() and started[1].exception() is not None:
        _AHEAD.pop(store, None)
        raise started[1].exception()


@contextlib.contextmanager
def prefect_api(timeout: float, store: str | None = None) -> Iterator[None]:
    """Prefect's API for the block: the server Prefect's settings name, if any (checked to
    answer); else a temporary one of our own (:class:`PrefectServer`), stopped when the
    process exits. Call after :func:`ahead` has started the run: the server then boots
    while chunks run, and a run of ``store`` that fails meanwhile raises its own error.
    PrefectUnavailable when there is no API to be had."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        check_prefect_url(configured, "the Prefect profile's PREFECT_API_URL")
        yield
        return
    server = PrefectServer(timeout)
    # Stopped at exit, as Prefect stops its own: Prefect's log and event workers, which
    # start later and so are drained earlier at exit, still send to it at the end.
    atexit.register(server.stop)
    with console.waiting("starting Prefect's temporary server"):
        server.wait(abort=(lambda: raise_if_failed(store)) if store else None)
    with temporary_settings({PREFECT_API_URL: server.url}):
        yield


@contextlib.contextmanager
def early_cluster(spec: ClusterSpec, workers: int | None, scheduler: str | None) -> Iterator[None]:
    """Start a local cluster in a thread now, while the engine is imported (2 s): its
    workers boot meanwhile. Call after :func:`resolve`; a SLURM or existing cluster is
    reached later, by :func:`ahead`."""
    if spec.kind != "local" or scheduler:
        yield
        return
    # Imported here, not by both threads at once (see ahead).
    import distributed  # noqa: F401

    timing.mark("cluster_begin")
    with cluster.ahead(spec, workers):
        yield


def warm_workers(job: ChunkJob) -> None:
    """Task body on every worker: load the kernel of ``job``'s precision."""
    from ...kernels.compile import configure

    configure()
    job.warm()


@contextlib.contextmanager
def ahead(
    config: RunConfig,
    spec: ClusterSpec,
    workers: int | None = None,
    scheduler: str | None = None,
    run: dict | None = None,
) -> Iterator[None]:
    """Everything a run of ``config`` waits for before its first chunk: this process's
    kernel, the cluster and its workers' kernels; with ``run`` (the keyword arguments of
    ``execute.run`` besides config and spec), the run itself, in a thread, so the caller
    can start Prefect meanwhile. Inside the block, ``cluster.connect`` finds the cluster
    started and ``execute.run`` with the same arguments joins the run (:func:`join_ahead`)."""
    # Imported here first, so the run's thread and this one (importing Prefect) do not
    # import one cycle of modules at once, which can deadlock on the import locks.
    import distributed  # noqa: F401
    import fsspec  # noqa: F401  (the store's first look at its path)

    from ...kernels.compile import cache_dir
    from . import execute  # noqa: F401  (and through it the store_* modules: zarr, xarray)
    from .plan import ChunkJob

    job = ChunkJob.of(config)
    # Here first: workers compiling a cold cache at once can crash (numba#4807).
    with console.waiting(f"compiling the kernels (once; cached in {cache_dir()})"):
        job.warm()
    with contextlib.ExitStack() as stack:
        stack.enter_context(cluster.ahead(spec, workers, scheduler))  # started, if not yet
        with console.waiting("starting the Dask cluster"):
            client = stack.enter_context(cluster.connect(spec, workers, scheduler))
            client.run(warm_workers, job)
        timing.mark("cluster")
        if run is not None:
            stack.callback(forget_ahead, config.store)
            run_ahead(config, spec, workers=workers, scheduler=scheduler, **run)
        yield
