"""Where a run created through the Prefect API may read and write (DESIGN.md, "Bad input and
faults"): anyone who can create a flow run of a deployment chooses its parameters, so such
a run reads configs, path files and cluster files only under the project's config folder
and writes its store only under a results root.

Such a run without ``out`` writes the catalog's store of its config under the results root
(:func:`catalog_store`), so the same config is computed once and then resumed or grown.

The roots come from the environment of the worker (or the deployment's ``job_variables``):
``RESONANCE_RESULTS_ROOT`` (default ``runs`` in the working directory) and
``RESONANCE_CONFIG_ROOT`` (default ``configs`` there). Paths are compared after resolving
symbolic links and ``..``. A run started on the command line (``resonance run``) is the
user's own and is not confined. A parameter that points elsewhere fails the flow run with
one :class:`~resonance.flows.errors.ResonanceError` line before anything is read or written.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ResonanceError

RESULTS_ROOT = "RESONANCE_RESULTS_ROOT"
CONFIG_ROOT = "RESONANCE_CONFIG_ROOT"


def roots() -> tuple[str, Path]:
    """(results root, config root): the first may be a URL prefix (``s3://bucket/runs``)."""
    results = os.environ.get(RESULTS_ROOT, "runs")
    if "://" not in results:
        results = str(Path(results).resolve())
    return results, Path(os.environ.get(CONFIG_ROOT, "configs")).resolve()


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _check_file(where: str, value: str, root: Path) -> None:
    if "://" in value or not _inside(Path(value).resolve(), root):
        raise ResonanceError(
            where,
            f"{value} is outside the config folder {root}",
            f"runs created through Prefect read only there ({CONFIG_ROOT} sets it)",
        )


def check_store(store: str, results: str) -> None:
    """The store must lie under the results root (a URL under a URL root, a path under a
    local one, after resolving links and '..')."""
    if "://" in results or "://" in store:
        ok = store.startswith(results.rstrip("/") + "/")
    else:
        ok = _inside(Path(store).resolve(), Path(results)) and Path(store).resolve() != Path(
            results
        )
    if not ok:
        raise ResonanceError(
            "out",
            f"{store} is outside the results root {results}",
            f"runs created through Prefect write only under it ({RESULTS_ROOT} sets it)",
        )


def confine(
    config_path: str,
    overrides: dict,
    cluster: str | None,
    text: str | None = None,
    catalog: bool = False,
) -> None:
    """Refuse a deployment's flow run whose config, path files, cluster file or store lie
    outside the roots (see the module docstring). Only the config's YAML, once it is known
    to be inside the config folder, is read: the config itself is parsed and checked once,
    after this (``request.RunRequest.of``). ``text``: the config's text, sent as a
    parameter (``resonance submit``), read as if it were ``config_path``, which then need
    not exist. ``catalog``: the store is the one :func:`catalog_store` names under the
    results root, not the config's own."""
    from .config import Schema
    from .engine.cluster import cluster_file
    from .files import read_yaml_text, yaml_mapping
    from .paths import resolve_path_file

    results, configs = roots()
    _check_file("config_path", config_path, configs)
    if text is None:
        raw, _ = read_yaml_text(Path(config_path), "config_path", "config file")
    else:
        raw = yaml_mapping(text, "config_text")
    refs = overrides.get("paths") or raw.get("paths") or []
    base = Path(config_path).parent
    for ref in refs if isinstance(refs, list) else []:
        _check_file(f"paths.{ref}", str(resolve_path_file(str(ref), base / "paths")), configs)
    name = str(cluster or overrides.get("cluster") or raw.get("cluster") or "local")
    file = cluster_file(name, base / "clusters")  # as load_cluster resolves it
    _check_file(f"cluster {name}", str(file), configs)
    # The store a config names, as the config's loader takes it: an override, else the
    # file's, else the schema's default.
    if catalog and not overrides.get("store"):
        return
    store = overrides.get("store") or raw.get("store") or Schema.model_fields["store"].default
    check_store(str(store), results)


def catalog_store(results: str, config_path: str, identity: str) -> str:
    """Where a run created through the Prefect API without ``out`` writes: the store of its
    config's identity under the results root, ``<results>/<config name>-<identity[:12]>.zarr``
    (``default-1a2b3c4d5e6f.zarr``). The same config submitted again finds its store there
    and resumes or grows it instead of computing it twice; a config of another identity
    (another seed, parameter, path or lever) gets a store of its own."""
    name = f"{Path(config_path).stem}-{identity[:12]}.zarr"
    return f"{results.rstrip('/')}/{name}" if "://" in results else str(Path(results) / name)


def from_deployment() -> bool:
    """Whether the current flow run was created through a deployment (the Prefect API)."""
    from prefect.runtime import deployment

    return deployment.id is not None
