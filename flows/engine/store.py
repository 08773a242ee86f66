"""The Zarr store: its layout, and the one writer of it (DESIGN.md, "The store").

Layout (``xr.open_zarr(store)`` and ``xr.open_zarr(store, group="draws")``):

- root: bands. ``<metric>`` (path, time, quantile), ``<metric>_mean`` and ``<metric>_std``
  (path, time), ``<metric>_quantile_error`` (path, time): the bound on the absolute error
  of that metric's quantiles (see ``flows/engine/bands.py``). Provenance in the root attributes.
- ``draws``: ``<metric>`` (scenario, path, time) chunked along ``scenario`` one chunk per
  task; each uncertain parameter of the config's ``uncertain:`` on ``scenario``, its
  distribution in the attributes (``distribution``, ``low``, ``high``, ...); ``chunk_done`` (chunk,)
  int8, 1 once that chunk's draws are completely written.

A run first writes the template (metadata only, ``compute=False``), then each task writes
its own chunk-aligned region and then its own ``chunk_done`` element (chunk size 1), so
concurrent writers never share a Zarr chunk, a killed run leaves only unmarked chunks, and
a re-run skips the marked ones. The bands are written and the metadata consolidated last.
"""

from __future__ import annotations

import asyncio
import functools
import warnings
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version

import dask.array as da
import numpy as np
import xarray as xr
import zarr
from zarr.core.sync import sync  # runs a coroutine on zarr's own I/O loop, as zarr's API does

from resonance.flows.config import RunConfig
from resonance.flows.errors import StoreError
from resonance.kernels.registry import METRIC_INFO, METRICS, PARAMETER_INFO

DRAWS = "draws"
PACKAGES = (
    "resonance",
    "numpy",
    "numba",
    "dask",
    "distributed",
    "xarray",
    "zarr",
    "prefect",
    "scipy",
)


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def provenance(config: RunConfig) -> dict:
    """Root attributes of a store made by ``config``."""
    return {
        "title": "resonance Monte Carlo uncertainty bands",
        STORE_MARK: 1,
        "config": config.text,
        "config_sha256": config.sha256,
        "seed": str(config.seed),  # a uint64 does not fit every JSON reader's integers
        "n_scenarios": config.n_scenarios,
        "n_firms": config.n_firms,
        "n_quarters": config.n_quarters,
        "n_firm_scenario_draws": config.n_scenarios * config.n_firms,
        "sampler": config.sampler,
        "precision": config.precision,
        "paths": list(config.path_names),
        "uncertain": list(config.uncertain_names),
        "chunk_scenarios": config.chunk_scenarios,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "Conventions": "CF-1.10",
    }


def time_coordinate(n_quarters: int) -> np.ndarray:
    """Years at the end of each quarter: 0.25, 0.5, ..., float64 (time,)."""
    return (np.arange(n_quarters) + 1.0) / 4.0


def _attrs(metric: str, suffix: str = "") -> dict:
    info = METRIC_INFO[metric]
    extra = {
        "": "",
        "_mean": " (mean over scenarios)",
        "_std": " (standard deviation over scenarios)",
        "_quantile_error": " (bound on the absolute error of its quantiles)",
    }
    return {
        "long_name": info.long_name + extra[suffix],
        "units": info.units,
        "description": info.description,
    }


def _coords(config: RunConfig) -> dict:
    time = xr.Variable(
        "time",
        time_coordinate(config.n_quarters),
        {
            "long_name": "time since start",
            "units": "years",
            "description": "End of each simulated quarter.",
        },
    )
    path = xr.Variable(
        "path",
        np.array(config.path_names, dtype=object),
        {
            "long_name": "policy path",
            "units": "1",
            "description": "Policy path of MODEL.md §5 (configs/paths).",
        },
    )
    return {"time": time, "path": path}


def draws_template(config: RunConfig, theta: np.ndarray) -> xr.Dataset:
    """The ``draws`` group as lazy NaN arrays plus the scenario inputs (written eagerly)."""
    n, p, t = config.n_scenarios, len(config.path_names), config.n_quarters
    cs = config.chunk_scenarios
    data_vars = {}
    for metric in METRICS:
        data_vars[metric] = xr.Variable(
            ("scenario", "path", "time"),
            da.full((n, p, t), np.nan, chunks=(cs, p, t)),
            _attrs(metric),
        )
    for d, (name, dist) in enumerate(
        zip(config.uncertain_names, config.distributions, strict=True)
    ):
        info = PARAMETER_INFO[name]
        data_vars[name] = xr.Variable(
            "scenario",
            theta[:, d],
            {
                "long_name": info.long_name,
                "units": info.units,
                "description": info.description,
                **dist.attrs(),
            },
        )
    n_chunks = -(-n // cs)
    data_vars["chunk_done"] = xr.Variable(
        "chunk",
        da.zeros(n_chunks, dtype=np.int8, chunks=1),
        {
            "long_name": "chunk complete",
            "units": "1",
            "description": f"1 once scenarios [k*{cs}, (k+1)*{cs}) are completely written.",
        },
    )
    coords = {
        **_coords(config),
        "scenario": xr.Variable(
            "scenario",
            np.arange(n),
            {
                "long_name": "scenario index",
                "units": "1",
                "description": "Global scenario index (the RNG counter).",
            },
        ),
    }
    return xr.Dataset(data_vars, coords)


STORE_MARK = "resonance_store"  # root attribute that tells a resonance store from anything else


def _state(store: str) -> tuple[str, dict]:
    """What is at ``store``: ("absent" | "empty" | "resonance" | "foreign", root attributes).

    Only a Zarr group whose root carries ``STORE_MARK`` (or, for stores written before the
    mark existed, ``config_sha256`` and the resonance title) is ours; an existing file, a
    directory holding anything, or another tool's Zarr store is "foreign".
    """
    import fsspec

    fs, path = fsspec.core.url_to_fs(store)
    if not fs.exists(path):
        return "absent", {}
    if not fs.isdir(path):
        return "foreign", {}
    if not fs.ls(path, detail=False):
        return "empty", {}
    group = _open_root(store)
    attrs = dict(group.attrs) if group is not None else {}
    ours = STORE_MARK in attrs or (
        "config_sha256" in attrs and str(attrs.get("title", "")).startswith("resonance")
    )
    return ("resonance" if ours else "foreign"), attrs


def check(config: RunConfig, store: str, overwrite: bool) -> bool:
    """Whether ``store`` already belongs to ``config`` (a resume); raises StoreError when it
    cannot be used. Writes nothing: the CLI calls it before any work starts.

    ``overwrite`` allows replacing a resonance store of another config; anything that is not
    a resonance store (a file, a directory of files, another tool's Zarr store) is never
    replaced, with or without it.
    """
    state, attrs = _state(store)
    _check_writable(store)
    if state in ("absent", "empty"):
        return False
    if state == "foreign":
        raise StoreError(
            store,
            "exists and is not a resonance store; refusing to write into or replace it",
            "choose another --out (an absent or empty directory)",
        )
    seen = attrs.get("config_sha256")
    if seen == config.sha256:
        return not overwrite
    if not overwrite:
        what = (
            "was written by another config"
            if seen
            else "is an unfinished resonance store of another run"
        )
        raise StoreError(store, what, "choose another --out, or pass --overwrite to replace it")
    return False


def _check_writable(store: str) -> None:
    """Raise StoreError when a local ``store`` could not be written: the nearest existing
    directory on its path must take a new file (probed with a temporary file, removed at
    once). Remote stores (``s3://``, ...) are left to their file system's own errors."""
    import tempfile
    from pathlib import Path

    if "://" in store and not store.startswith("file://"):
        return
    path = Path(store.removeprefix("file://")).absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        return  # a file in the way is refused by check() as "not a resonance store"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise StoreError(
            store,
            f"cannot write under {existing} ({exc.strerror or exc})",
            "choose an --out in a directory you can write to",
        ) from None


def open_or_create(config: RunConfig, theta: np.ndarray, store: str, overwrite: bool) -> None:
    """Make ``store`` ready for ``config``: create it, or check it was made by this config.

    Raises StoreError for a store of another config (unless ``overwrite``) and for anything
    that is not a resonance store (always: ``overwrite`` replaces only our own stores).
    """
    if check(config, store, overwrite):
        return
    if _state(store)[0] == "resonance":
        _remove(store)  # a resonance store of another config, replaced by --overwrite
    # The mark goes first, so even a template cut off half-way is recognised as ours.
    zarr.open_group(store, mode="a", zarr_format=3).attrs.update({STORE_MARK: 1})
    template = draws_template(config, theta)
    encoding = {
        m: {"chunks": (config.chunk_scenarios, len(config.path_names), config.n_quarters)}
        for m in METRICS
    }
    encoding["chunk_done"] = {"chunks": (1,)}
    template.to_zarr(
        store,
        group=DRAWS,
        mode="w",
        compute=False,
        consolidated=False,
        encoding=encoding,
        zarr_format=3,
    )
    attrs = provenance(config)
    zarr.open_group(store, path=DRAWS, mode="r+").attrs.update(attrs)
    # Written last: a store whose root carries the sha is a complete template.
    zarr.open_group(store, mode="r+").attrs.update(attrs)


def _open_root(store: str):
    try:
        return zarr.open_group(store, mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError):
        return None


def _remove(store: str) -> None:
    """Delete a resonance store (callers have checked ``_state(store)`` says so)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(store)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def done_chunks(store: str) -> np.ndarray:
    """int8 (chunk,): 1 for chunks whose draws are completely written."""
    return zarr.open_array(store, path=f"{DRAWS}/chunk_done", mode="r")[:]


async def _gather(coroutines) -> list:
    """Await the coroutines together (on zarr's loop, by ``sync``): one chunk's 16 metric
    arrays in one round of I/O instead of 16 after each other."""
    return await asyncio.gather(*coroutines)


@functools.lru_cache(maxsize=16)
def draws_arrays(store: str, config_sha256: str, mode: str = "r") -> dict:
    """The draws group's arrays, opened once per process, store and config: opening reads
    each array's metadata, which otherwise dominates reading or writing a chunk.

    config_sha256: the hash of the config the caller's store was made by. It keys the
    cache, so a store replaced by another config is opened afresh; callers know it, and
    reading it from the store instead costs a root-group open per chunk.
    """
    group = zarr.open_group(store, path=DRAWS, mode=mode)
    return {name: group[name] for name in (*METRICS, "chunk_done")}


def write_chunk(
    store: str, config_sha256: str, chunk: int, start: int, stop: int, outcomes: np.ndarray
) -> None:
    """Write one chunk's outcomes (s, p, t, m) into its region, then mark it done.

    Called from Dask workers; the region is exactly one Zarr chunk of every variable, so
    writers never overlap (zarr#3682, xarray#10831).
    """
    arrays = draws_arrays(store, config_sha256, "r+")
    # Each metric is its own array: write them concurrently, then, only once all are
    # complete, the mark.
    region = slice(start, stop)
    sync(
        _gather(
            arrays[metric].async_array.setitem(region, outcomes[..., m])
            for m, metric in enumerate(METRICS)
        )
    )
    arrays["chunk_done"][chunk] = 1


def read_draws_chunk(store: str, config_sha256: str, start: int, stop: int) -> np.ndarray:
    """Outcomes of scenarios [start, stop) from the store: float64 (s, p, t, m).

    The metrics are read concurrently, as ``write_chunk`` writes them: one read costs
    about a millisecond of latency whatever its size.
    """
    arrays = draws_arrays(store, config_sha256)
    region = slice(start, stop)
    parts = sync(_gather(arrays[m].async_array.getitem(region) for m in METRICS))
    return np.stack(parts, axis=-1)


def write_bands(store: str, config: RunConfig, bands: dict[str, np.ndarray]) -> None:
    """Write the bands at the root and consolidate the metadata (the run's last write).

    bands: ``quantiles`` (p, t, m, q), ``mean``, ``std``, ``error`` (p, t, m), float64.
    """
    coords = {
        **_coords(config),
        "quantile": xr.Variable(
            "quantile",
            np.array(config.quantiles),
            {
                "long_name": "quantile over scenarios",
                "units": "1",
                "description": "Probability level of the band.",
            },
        ),
    }
    data_vars = {}
    for m, metric in enumerate(METRICS):
        data_vars[metric] = xr.Variable(
            ("path", "time", "quantile"), bands["quantiles"][:, :, m, :], _attrs(metric)
        )
        for key, suffix in (("mean", "_mean"), ("std", "_std"), ("error", "_quantile_error")):
            data_vars[metric + suffix] = xr.Variable(
                ("path", "time"), bands[key][:, :, m], _attrs(metric, suffix)
            )
    # xarray replaces the group's attributes with the dataset's: carry the provenance over.
    ds = xr.Dataset(data_vars, coords, attrs=dict(zarr.open_group(store, mode="r").attrs))
    ds.to_zarr(store, mode="a", consolidated=False, zarr_format=3)
    with warnings.catch_warnings():
        # Zarr 3 notes consolidated metadata is not yet in the v3 spec; xarray reads it.
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
        zarr.consolidate_metadata(store)


def has_bands(store: str) -> bool:
    group = _open_root(store)
    return group is not None and METRICS[0] in group.array_keys()


def open_bands(store: str) -> xr.Dataset:
    """The root bands as an xarray Dataset (raises StoreError when there are none)."""
    if not has_bands(store):
        raise StoreError(store, "holds no bands", "run `resonance run` into it first")
    return xr.open_zarr(store)
