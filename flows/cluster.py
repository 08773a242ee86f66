"""Where the chunks run: a Dask client for a local, existing or SLURM cluster.

A cluster is named by ``configs/clusters/<name>.yaml`` (or a path to such a file) or by a
scheduler address given on the command line.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows.errors import ConfigError, config_error_from


class ClusterSpec(BaseModel):
    """The schema of ``configs/clusters/*.yaml``."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["local", "scheduler", "slurm"] = "local"
    workers: int | None = Field(default=None, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)
    memory_limit: str | float | int | None = "auto"
    dashboard_address: str | None = "127.0.0.1:8787"  # loopback unless a cluster file says otherwise
    host: str = "127.0.0.1"  # where the LocalCluster's scheduler and workers listen
    address: str | None = None
    jobs: int = Field(default=1, ge=1)
    cluster_options: dict = {}


def load_cluster(ref: str, clusters_dir: Path) -> ClusterSpec:
    """The cluster spec of ``ref``: a name in ``clusters_dir`` or a YAML file path."""
    file = Path(ref)
    if file.suffix not in (".yaml", ".yml"):
        file = clusters_dir / f"{ref}.yaml"
    if not file.is_file():
        known = sorted(p.stem for p in clusters_dir.glob("*.yaml")) if clusters_dir.is_dir() else []
        raise ConfigError(f"cluster.{ref}", "unknown cluster",
                          f"known clusters in {clusters_dir}: {', '.join(known) or 'none'}")
    try:
        return ClusterSpec.model_validate(yaml.safe_load(file.read_text()) or {})
    except ValidationError as exc:
        raise config_error_from(exc, f"cluster.{ref}") from exc


@contextlib.contextmanager
def connect(spec: ClusterSpec, workers: int | None = None,
            scheduler: str | None = None) -> Iterator:
    """A ``distributed.Client`` for ``spec`` (or for ``scheduler`` when given); closed on exit."""
    from distributed import Client, LocalCluster

    # Dask's start-up chatter is INFO; under Prefect's log handler it would flood the run.
    logging.getLogger("distributed").setLevel(logging.WARNING)

    if scheduler or spec.kind == "scheduler":
        address = scheduler or spec.address
        if not address:
            raise ConfigError("cluster.address", "missing", "give --scheduler ADDRESS")
        with Client(address) as client:
            yield client
        return
    if spec.kind == "slurm":
        try:
            from dask_jobqueue import SLURMCluster
        except ImportError as exc:
            raise ConfigError("cluster.kind", "slurm needs dask-jobqueue",
                              "pip install dask-jobqueue") from exc
        with SLURMCluster(**spec.cluster_options) as cluster:
            cluster.scale(jobs=workers or spec.jobs)
            with Client(cluster) as client:
                yield client
        return
    n = workers or spec.workers or max(1, (os.cpu_count() or 1) // spec.threads_per_worker)
    env = {"NUMBA_NUM_THREADS": str(spec.threads_per_worker),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      memory_limit=spec.memory_limit, dashboard_address=spec.dashboard_address,
                      host=spec.host,
                      env=env) as cluster, Client(cluster) as client:
        yield client
