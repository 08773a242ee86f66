"""The one writer of a store: create or check it, write chunks and bands, read them back.

The layout is ``layout.py``. A run first writes the template (metadata only,
``compute=False``), then each task writes its own chunk-aligned region of every variable
(draws, and snapshots where the chunk holds any) and then its own ``chunk_done`` element
(chunk size 1), so concurrent writers never share a Zarr chunk, a killed run leaves only
unmarked chunks, and a re-run skips the marked ones. The bands are written and the metadata
consolidated last.
"""

from __future__ import annotations

import asyncio
import functools
import warnings

import numpy as np
import xarray as xr
import zarr
from zarr.core.sync import sync  # runs a coroutine on zarr's own I/O loop, as zarr's API does

from resonance.flows.config import RunConfig
from resonance.flows.engine.layout import (
    DRAWS,
    FIRMS,
    SNAPSHOT_DTYPES,
    STORE_MARK,
    draws_template,
    firms_template,
    metric_attrs,
    path_time_coords,
    provenance,
)
from resonance.flows.errors import StoreError
from resonance.kernels.registry import METRICS, SNAPSHOT


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


def belongs_to(config: RunConfig, store: str) -> bool:
    """Whether ``store`` is a resonance store made by ``config`` (same config digest)."""
    state, attrs = _state(store)
    return state == "resonance" and attrs.get("config_sha256") == config.sha256


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
    if existing is None:
        return
    if not existing.is_dir():
        if existing == path:
            return  # the store itself is a file: check() refuses it as not a store
        raise StoreError(
            store, f"lies under {existing}, which is a file", "choose an --out in a directory"
        )
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
    firms = firms_template(config)
    if firms is not None:
        shape = (
            config.chunk_scenarios,
            len(config.path_names),
            firms.sizes["year"],
            config.n_firms,
        )
        firms.to_zarr(
            store,
            group=FIRMS,
            mode="w",
            compute=False,
            consolidated=False,
            encoding={name: {"chunks": shape} for name in SNAPSHOT},
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


def clear_done(store: str, chunks) -> None:
    """Mark ``chunks`` unfinished, so the next run of the store's config recomputes them
    (``resonance verify --repair``)."""
    marks = zarr.open_array(store, path=f"{DRAWS}/chunk_done", mode="r+")
    for chunk in chunks:
        marks[int(chunk)] = 0


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
    arrays = {name: group[name] for name in (*METRICS, "chunk_done")}
    root = zarr.open_group(store, mode=mode)
    if FIRMS in root.group_keys():
        firms = root[FIRMS]
        arrays.update({f"{FIRMS}/{name}": firms[name] for name in SNAPSHOT})
    return arrays


def write_chunk(
    store: str,
    config_sha256: str,
    chunk: int,
    start: int,
    stop: int,
    outcomes: np.ndarray,
    snapshots: np.ndarray | None = None,
) -> None:
    """Write one chunk's outcomes (s, p, t, m) and, when it holds any of the first K
    scenarios, their firm snapshots (k, p, y, v, i) into its region; then mark it done.

    Called from Dask workers; the region is exactly one Zarr chunk of every variable, so
    writers never overlap (zarr#3682, xarray#10831).
    """
    arrays = draws_arrays(store, config_sha256, "r+")
    # Each variable is its own array: write them concurrently, then, only once all are
    # complete, the mark.
    region = slice(start, stop)
    writes = [
        arrays[metric].async_array.setitem(region, outcomes[..., m])
        for m, metric in enumerate(METRICS)
    ]
    if snapshots is not None and len(snapshots):
        rows = slice(start, start + snapshots.shape[0])
        writes += [
            arrays[f"{FIRMS}/{name}"].async_array.setitem(
                rows, snapshots[:, :, :, v, :].astype(SNAPSHOT_DTYPES[name])
            )
            for v, name in enumerate(SNAPSHOT)
        ]
    sync(_gather(writes))
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
        **path_time_coords(config),
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
            ("path", "time", "quantile"), bands["quantiles"][:, :, m, :], metric_attrs(metric)
        )
        for key, suffix in (("mean", "_mean"), ("std", "_std"), ("error", "_quantile_error")):
            data_vars[metric + suffix] = xr.Variable(
                ("path", "time"), bands[key][:, :, m], metric_attrs(metric, suffix)
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


def open_draws(store: str) -> xr.Dataset:
    """The ``draws`` group of a finished store, lazily (StoreError when it is not one)."""
    open_bands(store)
    return xr.open_zarr(store, group=DRAWS)


def open_firms(store: str) -> xr.Dataset:
    """The ``firms`` group of a finished store, lazily (StoreError when there is none)."""
    open_bands(store)
    if FIRMS not in zarr.open_group(store, mode="r").group_keys():
        raise StoreError(
            store,
            "keeps no firm snapshots",
            "run it with sizes.firm_snapshots > 0, or pass a config",
        )
    return xr.open_zarr(store, group=FIRMS)
