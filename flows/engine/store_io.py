"""The Zarr I/O the store's modules share: the root group, consolidated metadata, several
writes in one round of I/O, and the draws' chunks: write one, read them back, which are done.

A chunk's region is exactly one Zarr shard of every variable it writes, so concurrent
writers never share a shard (zarr#3682, xarray#10831). Its firm snapshots are written
first and its ``outcome`` shard atomically and last, so the shard's presence is the
chunk's completion mark: a killed run leaves only absent shards, and a re-run skips the
present ones.
"""

from __future__ import annotations

import asyncio
import functools
import os
import warnings

import numpy as np
import zarr
from zarr.core.sync import sync  # runs a coroutine on zarr's own I/O loop, as zarr's API does

from ...kernels.registry import METRICS, SNAPSHOT
from ..errors import StoreError
from .layout import DRAWS, FIRMS, OUTCOME, SNAPSHOT_DTYPES


def consolidate(store: str) -> None:
    """Consolidate the store's metadata (what ``xr.open_zarr`` reads in one object)."""
    with warnings.catch_warnings():
        # Zarr 3 notes consolidated metadata is not yet in the v3 spec; xarray reads it.
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
        zarr.consolidate_metadata(store)


def open_root(store: str):
    """The store's root group, read-only, or None when there is no Zarr group there."""
    try:
        return zarr.open_group(store, mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError):
        return None


def done_chunks(store: str) -> np.ndarray:
    """int8 (chunk,): 1 for chunks whose draws are completely written: those whose
    ``outcome`` shard is present (one listing of the array's directory), or, in a store of
    format 1, those marked in ``chunk_done``."""
    # An object store's file system caches what it lists (s3fs): shards written since by
    # other processes (the run's workers, another run) would be missed.
    remote = "://" in str(store) and not str(store).startswith("file://")
    fresh = {"storage_options": {"use_listings_cache": False}} if remote else {}
    draws = zarr.open_group(store, path=DRAWS, mode="r", use_consolidated=False, **fresh)
    if OUTCOME not in draws.array_keys():
        return draws["chunk_done"][:]
    outcome = draws[OUTCOME]
    cs = outcome.shards[0]
    done = np.zeros(-(-outcome.shape[0] // cs), dtype=np.int8)
    for k in sync(_shard_keys(outcome)):
        if k < done.size:
            done[k] = 1
    return done


async def _shard_keys(array) -> list[int]:
    """The chunk indices of ``array``'s present shards (keys ``c.<k>.0.0.0``). In a local
    store only files count (scandir tells them apart at no cost): a stray directory of that
    name is no shard."""
    path = array.async_array.store_path
    if isinstance(path.store, zarr.storage.LocalStore):
        with os.scandir(path.store.root / path.path) as entries:
            keys = [e.name for e in entries if e.is_file()]
    else:
        keys = [key async for key in path.store.list_dir(path.path)]
    return [int(key.split(".")[1]) for key in keys if key.startswith("c.")]


def _shard_key(array, chunk: int) -> str:
    return f"{array.async_array.store_path.path}/c.{chunk}" + ".0" * (array.ndim - 1)


def clear_done(store: str, chunks) -> None:
    """Mark ``chunks`` unfinished, so the next run of the store's config recomputes them
    (``resonance verify --repair``, a grown store's partial last chunk): their ``outcome``
    shards are deleted."""
    outcome = zarr.open_array(store, path=f"{DRAWS}/{OUTCOME}", mode="r+")
    backend = outcome.async_array.store_path.store
    sync(gather(backend.delete(_shard_key(outcome, int(k))) for k in chunks))


async def gather(coroutines) -> list:
    """Await the coroutines together (on zarr's loop, by ``sync``): several arrays or
    shards in one round of I/O instead of one after another."""
    return await asyncio.gather(*coroutines)


@functools.lru_cache(maxsize=16)
def draws_arrays(store: str, config_sha256: str, mode: str = "r") -> dict:
    """The draws' ``outcome`` array and the firm snapshots, opened once per process, store
    and config: opening reads each array's metadata, which otherwise dominates reading or
    writing a chunk.

    config_sha256: the hash of the config the caller's store was made by. It keys the
    cache, so a store replaced by another config is opened afresh; callers know it, and
    reading it from the store instead costs a root-group open per chunk.
    """
    group = zarr.open_group(store, path=DRAWS, mode=mode)
    if OUTCOME not in group.array_keys():
        raise StoreError(
            store,
            "was made with store format 1, whose draws this version does not read chunk by chunk",
            "run its config again into another --out",
        )
    arrays = {OUTCOME: group[OUTCOME]}
    root = zarr.open_group(store, mode=mode)
    if FIRMS in root.group_keys():
        firms = root[FIRMS]
        arrays.update({f"{FIRMS}/{name}": firms[name] for name in SNAPSHOT})
    # Every inner chunk is written, even one that equals the fill value: zarr's check for
    # that compares each, byte by byte, for a few bytes of disk it seldom saves.
    return {name: array.with_config({"write_empty_chunks": True}) for name, array in arrays.items()}


def write_chunk(
    store: str,
    config_sha256: str,
    start: int,
    stop: int,
    outcomes: np.ndarray,
    snapshots: np.ndarray | None = None,
) -> None:
    """Write one chunk's firm snapshots (k, p, y, v, i), when it holds any of the first K
    scenarios, and then its outcomes (s, p, t, m): one shard, whose presence marks the
    chunk done.

    Called from Dask workers; the region is exactly one Zarr shard (chunk) of every
    variable, so writers never overlap (zarr#3682, xarray#10831).
    """
    arrays = draws_arrays(store, config_sha256, "r+")
    if snapshots is not None and len(snapshots):
        rows = slice(start, start + snapshots.shape[0])
        sync(
            gather(
                arrays[f"{FIRMS}/{name}"].async_array.setitem(
                    rows, snapshots[:, :, :, v, :].astype(SNAPSHOT_DTYPES[name])
                )
                for v, name in enumerate(SNAPSHOT)
            )
        )
    outcome = arrays[OUTCOME]
    outcome[start:stop] = outcomes.astype(outcome.dtype, copy=False)  # last: the mark


def read_draws_chunk(store: str, config_sha256: str, start: int, stop: int) -> np.ndarray:
    """Outcomes of scenarios [start, stop) from the store: float64 (s, p, t, m), one read
    of their shard (the stored values, whatever the store's dtype)."""
    return draws_arrays(store, config_sha256)[OUTCOME][start:stop].astype(np.float64, copy=False)


def read_metric_rows(
    store: str,
    config_sha256: str,
    chunks: list[tuple[int, int]],
    metric: str,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One metric's draws of the scenarios of ``chunks`` ((start, stop) each) as rows:
    float64 (p * t, s), a row per (path, quarter) holding the scenarios in ``chunks``'
    order (the layout ``bands.row_bands`` sorts), into ``out`` when given (a reduction of
    many metrics reuses one). Only that metric's inner chunk of each shard is read,
    concurrently, a batch of chunks of at most READ_BATCH bytes at a time (memory: the
    result and one batch)."""
    array = draws_arrays(store, config_sha256)[OUTCOME]
    m = METRICS.index(metric)
    groups = int(np.prod(array.shape[1:3]))
    n = sum(b - a for a, b in chunks)
    out = np.empty((groups, n), dtype=np.float64) if out is None else out
    if out.shape != (groups, n):
        raise ValueError(f"out has shape {out.shape}, not {(groups, n)}")
    col, batch = 0, []
    for i, (a, b) in enumerate(chunks):
        batch.append((a, b))
        size = sum(y - x for x, y in batch) * groups * array.dtype.itemsize
        if size >= READ_BATCH or i == len(chunks) - 1:
            reads = (array.async_array.getitem((slice(x, y), ..., m)) for x, y in batch)
            for piece in sync(gather(reads)):
                k = piece.shape[0]
                out[:, col : col + k] = piece.reshape(k, groups).T
                col += k
            batch = []
    return out


READ_BATCH = 64 * 2**20  # bytes of draws read at once by read_metric_rows


class StoredChunks:
    """The stored draws of ``chunks`` one at a time, read afresh on every pass (memory: one
    chunk): the input of ``bands.sequential_map_reduce``."""

    def __init__(self, store: str, config_sha256: str, chunks: list[tuple[int, int]]):
        self.store, self.config_sha256, self.chunks = store, config_sha256, chunks

    def __iter__(self):
        return (read_draws_chunk(self.store, self.config_sha256, *b) for b in self.chunks)
