"""Where the chunks run: a Dask client for a local, existing or SLURM cluster.

A cluster is named by ``configs/clusters/<name>.yaml`` (or a path to such a file) or by a
scheduler address given on the command line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError, config_error_from
from ..files import read_yaml_mapping


class ClusterSpec(BaseModel):
    """The schema of ``configs/clusters/*.yaml``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    kind: Literal["local", "scheduler", "slurm"] = "local"
    workers: int | None = Field(default=None, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)
    # local only. True: one worker process per worker (a nanny restarts one that dies).
    # False: the workers are threads of the run's own process (the kernels release the
    # GIL): nothing to spawn and the kernel loaded once, about 1.5 s sooner to the first
    # chunk and 2-5 s shorter on 2 cores (docs/results.md), but a crash of one is the
    # run's, and Dask enforces no memory_limit on threads.
    processes: bool = True
    memory_limit: str | float | int | None = "auto"
    # Loopback unless a cluster file says otherwise: the dashboard has no authentication.
    dashboard_address: str | None = "127.0.0.1:8787"
    host: str = "127.0.0.1"  # where the LocalCluster's scheduler and workers listen
    address: str | None = None
    jobs: int = Field(default=1, ge=1)
    cluster_options: dict = {}

    @model_validator(mode="after")
    def _threads_are_local(self):
        if not self.processes and self.kind != "local":
            raise ValueError(f"processes: false is for a local cluster, not kind: {self.kind}")
        return self


def in_process(spec: ClusterSpec, scheduler: str | None = None) -> bool:
    """Whether the cluster's workers are threads of this process (a local cluster with
    ``processes: false``, not replaced by a scheduler address)."""
    return spec.kind == "local" and not spec.processes and not scheduler


def cluster_file(ref: str, clusters_dir: Path) -> Path:
    """The file a cluster reference names: a YAML file path, or ``<ref>.yaml`` in
    ``clusters_dir``."""
    file = Path(ref)
    return file if file.suffix in (".yaml", ".yml") else clusters_dir / f"{ref}.yaml"


def load_cluster(ref: str, clusters_dir: Path) -> ClusterSpec:
    """The cluster spec of ``ref``: a name in ``clusters_dir`` or a YAML file path."""
    file = cluster_file(ref, clusters_dir)
    if not file.is_file():
        known = sorted(p.stem for p in clusters_dir.glob("*.yaml")) if clusters_dir.is_dir() else []
        raise ConfigError(
            f"cluster.{ref}",
            "unknown cluster",
            f"known clusters in {clusters_dir}: {', '.join(known) or 'none'}",
        )
    try:
        return ClusterSpec.model_validate(read_yaml_mapping(file, f"cluster.{ref}", "cluster file"))
    except ValidationError as exc:
        raise config_error_from(exc, f"cluster.{ref}") from exc


def scheduler_address(spec: ClusterSpec, scheduler: str | None) -> str | None:
    """The address of the existing scheduler a run uses (``--scheduler`` or a
    ``kind: scheduler`` cluster file), None for a cluster the run starts itself."""
    if not (scheduler or spec.kind == "scheduler"):
        return None
    address = scheduler or spec.address
    if not address:
        raise ConfigError("cluster.address", "missing", "give --scheduler ADDRESS")
    return address


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Raise ConfigError unless something accepts a TCP connection at a scheduler
    ``address`` (``tcp://HOST:PORT``) within ``timeout`` seconds: a cheap check made before
    any work starts, so a wrong address is one line, not a wait and a traceback."""
    import socket

    where = f"--scheduler {address}"
    hint = "start one with `dask scheduler`, or check the address (tcp://HOST:8786)"
    host_port = address.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(where, "is not a scheduler address", hint)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(
            where, f"no Dask scheduler answered ({exc.strerror or exc})", hint
        ) from None


def _kernel_setup_plugin():
    """A worker plugin that configures numba for the kernels when a worker starts (the
    settings are per process; resonance.kernels.compile)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class KernelSetup(WorkerPlugin):
        name = "resonance-kernel-setup"

        def setup(self, worker):
            from ...kernels.compile import configure

            configure()

    return KernelSetup()


def worker_env(spec: ClusterSpec) -> dict[str, str]:
    """The environment of every worker process: numba's threads per worker as the cluster
    file says, and one thread for OpenMP and OpenBLAS (the kernel's threads are numba's;
    Dask's nanny does not limit them)."""
    return {
        "NUMBA_NUM_THREADS": str(spec.threads_per_worker),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


def _slurm_cluster_class():
    """``dask_jobqueue.SLURMCluster``, imported without the side effect of importing it.

    dask-jobqueue 0.9.0 sets the process's SIGINT handler to ``sys.exit`` when imported
    (dask-jobqueue#696, fixed after 0.9.0): Ctrl-C would end a run silently instead of with
    "interrupted; finished chunks are kept", and the import fails outright in any thread
    but the main one (dask-jobqueue#667), where a cluster starts. Its ``signal.signal``
    call for SIGINT is skipped during the import; every other call goes through.
    """
    import signal
    import sys

    if "dask_jobqueue" not in sys.modules:
        real = signal.signal

        def keep_sigint(signum, handler):
            return signal.getsignal(signum) if signum == signal.SIGINT else real(signum, handler)

        signal.signal = keep_sigint
        try:
            import dask_jobqueue  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                "cluster.kind", "slurm needs dask-jobqueue", "pip install dask-jobqueue"
            ) from exc
        finally:
            signal.signal = real
    from dask_jobqueue import SLURMCluster

    return SLURMCluster


def slurm_options(spec: ClusterSpec) -> dict:
    """The keyword arguments of ``dask_jobqueue.SLURMCluster`` for a ``kind: slurm`` spec:
    its ``cluster_options``, with the job script's prologue (the site's own lines: module
    loads, ...) followed by the exports of :func:`worker_env`, and the scheduler's dashboard
    on ``spec.dashboard_address`` (loopback) unless ``scheduler_options`` says otherwise."""
    options = dict(spec.cluster_options)
    exports = [f"export {name}={value}" for name, value in worker_env(spec).items()]
    options["job_script_prologue"] = [*(options.get("job_script_prologue") or []), *exports]
    scheduler = dict(options.get("scheduler_options") or {})
    scheduler.setdefault("dashboard_address", spec.dashboard_address)
    options["scheduler_options"] = scheduler
    return options


# SLURMCluster's keywords that configure the cluster or its scheduler, not a job's script.
_CLUSTER_ONLY = frozenset(
    {"n_workers", "job_cls", "loop", "security", "shared_temp_directory", "silence_logs",
     "name", "asynchronous", "dashboard_address", "host", "scheduler_options", "scheduler_cls"}
)  # fmt: skip
SCHEDULER_PLACEHOLDER = "tcp://SCHEDULER:8786"  # the address a job script shows in its place


def job_script(spec: ClusterSpec) -> str:
    """The batch script ``dask-jobqueue`` submits with ``sbatch`` for each job of a
    ``kind: slurm`` spec, as :func:`connect` would submit it, with the scheduler's address
    (known once a run starts its scheduler) shown as SCHEDULER_PLACEHOLDER. Starts nothing."""
    if spec.kind != "slurm":
        raise ConfigError("cluster.kind", f"is {spec.kind}; only a slurm cluster has job scripts")
    job_class = _slurm_cluster_class().job_cls
    options = {k: v for k, v in slurm_options(spec).items() if k not in _CLUSTER_ONLY}
    try:
        job = job_class(SCHEDULER_PLACEHOLDER, name="dask-worker", **options)
    except (TypeError, ValueError) as exc:
        raise ConfigError("cluster.cluster_options", str(exc).splitlines()[0]) from None
    return job.job_script()


SCHEDULER_TIMEOUT = 10  # seconds to wait for an existing scheduler to answer


@contextlib.contextmanager
def connect(
    spec: ClusterSpec, workers: int | None = None, scheduler: str | None = None
) -> Iterator:
    """A ``distributed.Client`` for ``spec`` (or for ``scheduler`` when given); closed on exit.

    Every worker process configures numba for the kernels when it starts (a worker plugin;
    a threaded local cluster's workers share this process's configuration). A
    scheduler that does not answer within ``SCHEDULER_TIMEOUT`` seconds is a ConfigError.
    Shutting down is quiet: connections that close while the cluster stops are expected, and
    their log records would read as a failure of a run that succeeded.
    """
    import distributed  # noqa: F401  its first import sets its loggers' levels: before ours

    # Dask's start-up chatter is INFO; under Prefect's log handler it would flood the run.
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.WARNING)
    with contextlib.ExitStack() as stack:  # exits in reverse order
        stack.callback(log.setLevel, level)  # last, once everything is closed
        client = _client(spec, workers, scheduler, stack)
        if not in_process(spec, scheduler):  # threads of this process: configured by it
            client.register_plugin(_kernel_setup_plugin())
        stack.callback(log.setLevel, logging.CRITICAL)  # first: the shutdown is quiet
        yield client


CLOSE_TIMEOUT = 30  # seconds to wait for a cluster started in a thread to close


class StartedCluster:
    """A cluster started in a thread (:func:`started`) and held open there until
    :meth:`close`: the caller goes on meanwhile and asks for the client when it needs it."""

    def __init__(self, spec: ClusterSpec, workers: int | None, scheduler: str | None):
        self._ready: Future = Future()
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._hold, args=(spec, workers, scheduler), daemon=True, name="cluster"
        )
        self._thread.start()

    def _hold(self, spec, workers, scheduler) -> None:
        try:
            with connect(spec, workers, scheduler) as client:
                self._ready.set_result(client)
                self._closing.wait()
        except BaseException as exc:  # raised where the client is asked for
            if not self._ready.done():
                self._ready.set_exception(exc)

    def client(self):
        """The client, once the cluster is up (its start-up error, if it failed)."""
        return self._ready.result()

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close the cluster, waiting at most ``timeout`` seconds for it."""
        self._closing.set()
        self._thread.join(timeout)


@contextlib.contextmanager
def started(
    spec: ClusterSpec, workers: int | None = None, scheduler: str | None = None
) -> Iterator[StartedCluster]:
    """Start the cluster of ``spec`` (or reach ``scheduler``) now, in a thread, while this
    one goes on; the handle yielded gives its client (:meth:`StartedCluster.client`).
    Closed on exit."""
    cluster = StartedCluster(spec, workers, scheduler)
    try:
        yield cluster
    finally:
        cluster.close()


def _client(
    spec: ClusterSpec, workers: int | None, scheduler: str | None, stack: contextlib.ExitStack
):
    """Start (or reach) the cluster and a client of it; both are closed by ``stack``. The
    client is not made dask's default scheduler: the run submits to it by name, and a
    process-wide default would outlive a cluster closed in another thread."""
    from distributed import Client, LocalCluster

    address = scheduler_address(spec, scheduler)
    if address:
        try:
            return stack.enter_context(
                Client(address, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(
                f"--scheduler {address}",
                f"no Dask scheduler answered within {SCHEDULER_TIMEOUT} s",
                "start one with `dask scheduler`, or check the address (tcp://HOST:8786)",
            ) from exc
    if spec.kind == "slurm":
        cluster = stack.enter_context(_slurm_cluster_class()(**slurm_options(spec)))
        cluster.scale(jobs=workers or spec.jobs)
        return stack.enter_context(Client(cluster, set_as_default=False))
    n = workers or spec.workers or max(1, (os.cpu_count() or 1) // spec.threads_per_worker)
    if in_process(spec, scheduler):  # n Dask threads in this process
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=1,
                threads_per_worker=n,
                processes=False,
                # TCP on the cluster file's host, not the in-process transport: that one
                # names the machine's address in the dashboard's link and listens on all
                # interfaces
                protocol="tcp://",
                host=spec.host,
                memory_limit=spec.memory_limit,
                dashboard_address=spec.dashboard_address,
                silence_logs=logging.ERROR,
            )
        )
        return stack.enter_context(Client(cluster, set_as_default=False))
    env = worker_env(spec)
    cluster = stack.enter_context(
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            memory_limit=spec.memory_limit,
            dashboard_address=spec.dashboard_address,
            host=spec.host,
            env=env,
            silence_logs=logging.ERROR,
        )
    )
    return stack.enter_context(Client(cluster, set_as_default=False))
