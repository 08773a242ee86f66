"""The one writer of a store: create or check it, write chunks and bands, read them back.

The layout is ``layout.py``. A run first writes the template (metadata only,
``compute=False``) and the scenario inputs (a shard of about a million scenarios at a
time, from the design's own chunks: nothing of size ``n_scenarios`` is held). Then each
task writes its own region: the firm snapshots where its chunk holds any, then its one
shard of ``outcome``, whole. Concurrent writers never share a Zarr shard; the shard is
written atomically and last, so its presence is the chunk's completion mark: a killed run
leaves only absent shards, and a re-run skips the present ones. The bands are written
and the metadata consolidated last, with the root attribute ``bands_scenarios`` saying
how many scenarios they are of (readers and the next run trust bands only when it equals
``n_scenarios``).

A store grows: a run of its config with more scenarios (same ``identity_sha256``) resizes
every array along ``scenario``, keeps the finished chunks and recomputes only the new ones
and the last, partial one (``mc`` and ``sobol`` designs, whose first points do not change).
One run writes a store at a time: :func:`writer_lock` holds an OS lock on its directory,
which dies with the process that holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr
import zarr
from zarr.core.sync import sync  # runs a coroutine on zarr's own I/O loop, as zarr's API does

from ...kernels.registry import METRICS, SNAPSHOT
from ..config import RunConfig, config_from_text
from ..errors import StoreError
from .layout import (
    DRAWS,
    EVENTS,
    FIRMS,
    OUTCOME,
    SCENARIO_ATTRS,
    SNAPSHOT_DTYPES,
    STORE_FORMAT,
    STORE_MARK,
    by_metric,
    draws_template,
    firms_template,
    input_chunk,
    input_shard,
    metric_attrs,
    model_digest,
    path_time_coords,
    provenance,
    store_bytes,
)

_HELD: set[Path] = set()  # the store directories whose writer lock this process holds


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
    """Whether ``store`` is a resonance store of ``config``'s identity (any scenario count)."""
    state, attrs = _state(store)
    return state == "resonance" and _same_identity(config, attrs)


def _same_identity(config: RunConfig, attrs: dict) -> bool:
    if "identity_sha256" in attrs:
        return attrs["identity_sha256"] == config.identity
    return attrs.get("config_sha256") == config.sha256  # made before stores could grow


def held_scenarios(config: RunConfig, store: str) -> int | None:
    """How many scenarios ``store`` holds if it is a store of ``config``'s identity (one
    ``config`` with another scenario count may resume or grow), else None."""
    state, attrs = _state(store)
    if state != "resonance" or "n_scenarios" not in attrs or not _same_identity(config, attrs):
        return None
    return int(attrs["n_scenarios"])


GROWS = {
    "lhs": "a Latin hypercube is stratified for its size: the first points of a larger one "
    "are not these",
    "saltelli": "a Saltelli design interleaves its N base samples with their mixed rows: a "
    "larger N is another design",
}


def check(config: RunConfig, store: str, overwrite: bool) -> str:
    """What a run of ``config`` does with ``store``: "new" (create it, or replace it with
    ``overwrite``), "resume" (same identity and size) or "extend" (same identity, more
    scenarios); raises StoreError when it cannot be used. Writes nothing: the CLI calls it
    before any work starts.

    ``overwrite`` allows replacing a resonance store of another config; anything that is not
    a resonance store (a file, a directory of files, another tool's Zarr store) is never
    replaced, with or without it. A store another run is writing is refused either way, and
    so is a new store, or the new part of a grown one, that would not fit the free space of
    its file system (estimated by ``layout.store_bytes``).
    """
    mode = _mode(config, store, overwrite)
    if mode != "resume":
        held = int(_state(store)[1].get("n_scenarios", 0)) if mode == "extend" else 0
        _check_space(config, store, held)
    return mode


def _check_space(config: RunConfig, store: str, held: int) -> None:
    """StoreError when growing a local ``store`` from ``held`` scenarios to the config's
    would take more than the free space of its file system."""
    import shutil

    found = _nearest_existing(store)
    if found is None or not found[1].is_dir():
        return  # a remote store, or a file: check() refuses the latter
    existing = found[1]
    need = store_bytes(config, config.n_scenarios) - store_bytes(config, held)
    free = shutil.disk_usage(existing).free
    if need > free:
        raise StoreError(
            store,
            f"would need about {_size(need)} for {config.n_scenarios - held:,} scenarios, and "
            f"its file system has {_size(free)} free",
            "free space, run fewer --scenarios, or choose another --out",
        )


def _size(n: float) -> str:
    """Bytes as a person reads them: 12.3 GB."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:,.0f} B" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000


def _mode(config: RunConfig, store: str, overwrite: bool) -> str:
    state, attrs = _state(store)
    _check_writable(store)
    if state in ("absent", "empty"):
        return "new"
    if state == "foreign":
        raise StoreError(
            store,
            "exists and is not a resonance store; refusing to write into or replace it",
            "choose another --out (an absent or empty directory)",
        )
    writer = current_writer(store)
    if writer:
        raise _busy(store, writer)
    seen = attrs.get("config_sha256")
    if not seen or not _same_identity(config, attrs):
        if overwrite:
            return "new"
        what = "was written by another config" if seen else "is an unfinished resonance store"
        raise StoreError(store, what, "choose another --out, or pass --overwrite to replace it")
    if overwrite:
        return "new"
    if int(attrs.get("store_format", 1)) != STORE_FORMAT:
        raise StoreError(
            store,
            f"was made with store format {attrs.get('store_format', 1)}, which this version "
            f"reads but does not resume or grow (it writes format {STORE_FORMAT})",
            "pass --overwrite to replace it, or run into another --out",
        )
    model = model_digest()
    if attrs.get("model_sha256") != model:
        made = attrs.get("model_sha256")
        what = (
            f"was made by another version of the model (kernels {made[:12]}, this "
            f"installation's {model[:12]}): resuming or growing it would mix chunks of two "
            "models"
            if made
            else "records no model digest (made before stores did): it may hold another "
            "model's chunks"
        )
        raise StoreError(
            store,
            what,
            "pass --overwrite to recompute it under this model, or run into another --out",
        )
    held, n = int(attrs["n_scenarios"]), config.n_scenarios
    if n == held:
        return "resume"
    if n < held:
        raise StoreError(
            store,
            f"holds {held} scenarios, more than this run's {n}; a store does not shrink",
            f"run with --scenarios {held} to resume it, or --overwrite to replace it",
        )
    if config.sampler in GROWS:
        raise StoreError(
            store,
            f"holds a {config.sampler} design of {held} scenarios, which cannot grow to {n}: "
            f"{GROWS[config.sampler]}",
            "run into another --out, or use sampler sobol or mc for a store that grows",
        )
    if config.sampler == "sobol" and n & (n - 1):
        raise StoreError(
            store,
            f"a Sobol store grows to powers of two, not to {n} (its points stay balanced)",
            f"use --scenarios {1 << (n - 1).bit_length()}",
        )
    return "extend"


def _nearest_existing(store: str):
    """(the store's absolute path, the nearest existing path on it: itself or a parent) of
    a local ``store``; None for a remote one (``s3://``, ...) or a path with nothing of it."""
    from pathlib import Path

    if "://" in store and not store.startswith("file://"):
        return None
    path = Path(store.removeprefix("file://")).absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    return None if existing is None else (path, existing)


def _check_writable(store: str) -> None:
    """Raise StoreError when a local ``store`` could not be written: the nearest existing
    directory on its path must take a new file (probed with a temporary file, removed at
    once). Remote stores (``s3://``, ...) are left to their file system's own errors."""
    import tempfile

    found = _nearest_existing(store)
    if found is None:
        return
    path, existing = found
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


def _lock_path(store: str) -> Path | None:
    """The directory of a local store (None for object stores, which have no OS locks)."""
    if "://" in store and not store.startswith("file://"):
        return None
    return Path(store.removeprefix("file://")).absolute()


LOCK_TRIES = 10  # x 50 ms: how long a starting writer waits out a reader's probe


@contextlib.contextmanager
def writer_lock(store: str) -> Iterator[None]:
    """Hold ``store``'s writer lock for the body, or raise StoreError at once naming the
    run that holds it.

    An exclusive ``flock`` on the store's directory (created when absent): the kernel drops
    it when the holding process ends, however it ends, so a killed run never leaves the
    store locked, and it adds no file that Zarr would not recognise. Who holds it is told
    by the root attribute ``writer`` (:func:`record_writer`). Object stores (``s3://`` ...)
    have no such lock; one writer there is the user's to keep.
    """
    import fcntl

    path = _lock_path(store)
    if path is None or path in _HELD:
        yield
        return
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        # A reader's probe (current_writer) holds a shared lock for a moment: try again
        # for a little while before calling the store busy.
        for attempt in range(LOCK_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == LOCK_TRIES - 1:
                    raise _busy(store, _holder(store)) from None
                time.sleep(0.05)
        _HELD.add(path)
        try:
            yield
        finally:
            _HELD.discard(path)
    finally:
        os.close(fd)  # releases the lock


def record_writer(store: str) -> None:
    """Say in the root attribute ``writer`` which process writes the store (for the line
    that refuses a second run; the lock, not this attribute, decides)."""
    holder = (
        f"pid {os.getpid()} on {socket.gethostname()}, since "
        f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}"
    )
    zarr.open_group(store, mode="r+").attrs.update({"writer": holder})


def _busy(store: str, holder: str) -> StoreError:
    return StoreError(
        store,
        f"is being written by another run ({holder})",
        "wait for it to finish, or stop it; a stopped run leaves no lock behind",
    )


def clear_writer(store: str) -> None:
    """Remove the ``writer`` attribute at the end of a run, so a finished store's
    attributes are those of its content alone."""
    attrs = zarr.open_group(store, mode="r+").attrs
    if "writer" in attrs:
        del attrs["writer"]


def _holder(store: str) -> str:
    group = _open_root(store)
    writer = group.attrs.get("writer") if group is not None else None
    return str(writer) if writer else "a process that holds its lock"


def current_writer(store: str) -> str | None:
    """Who holds ``store``'s writer lock ("pid ... on ..., since ..."), or None: nobody,
    this process itself, or a store without OS locks."""
    import fcntl

    path = _lock_path(store)
    if path is None or path in _HELD or not path.is_dir():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(store)
    finally:
        os.close(fd)
    return None


def open_or_create(config: RunConfig, store: str, overwrite: bool) -> None:
    """Make ``store`` ready for ``config``: create it, grow it to ``config``'s scenario count,
    or check it was made by this config.

    Raises StoreError for a store of another config (unless ``overwrite``) and for anything
    that is not a resonance store (always: ``overwrite`` replaces only our own stores).
    """
    mode = check(config, store, overwrite)
    if mode == "resume":
        _trim(config, store)
        return
    if mode == "extend":
        _extend(config, store)
        return
    if _state(store)[0] == "resonance":
        _remove(store)  # a resonance store of another config, replaced by --overwrite
    # The mark goes first, so even a template cut off half-way is recognised as ours.
    zarr.open_group(store, mode="a", zarr_format=3).attrs.update({STORE_MARK: 1})
    template, encoding = draws_template(config)
    template.to_zarr(
        store,
        group=DRAWS,
        mode="w",
        compute=False,
        consolidated=False,
        encoding=encoding,
        zarr_format=3,
    )
    draws = zarr.open_group(store, path=DRAWS, mode="r+")
    draws.create_array(
        "scenario",
        shape=(config.n_scenarios,),
        dtype="int64",
        chunks=(input_chunk(config.chunk_scenarios),),
        shards=(input_shard(config.chunk_scenarios),),
        fill_value=-1,
        dimension_names=["scenario"],
        attributes=SCENARIO_ATTRS,
    )
    for name, (dtype, fill, attributes) in EVENTS.items():
        draws.create_array(
            name,
            shape=(config.n_scenarios,),
            dtype=dtype,
            chunks=(input_chunk(config.chunk_scenarios),),
            shards=(input_shard(config.chunk_scenarios),),
            fill_value=fill,
            dimension_names=["scenario"],
            attributes=attributes,
        )
    _write_inputs(config, draws, 0)
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
    draws.attrs.update(attrs)
    # Written last: a store whose root carries the sha is a complete template.
    zarr.open_group(store, mode="r+").attrs.update(attrs)


def _write_inputs(config: RunConfig, draws, start: int, stop: int | None = None) -> None:
    """Write the scenario inputs (each uncertain parameter, ``scenario`` and the world
    events of ``layout.EVENTS``) of scenarios [start, stop or n_scenarios), a shard at a
    time, from the design's points of that shard (memory: one shard, 8 MB a parameter)."""
    from .plan import Design, world_events

    design, n = Design.of(config), config.n_scenarios if stop is None else stop
    big = input_shard(config.chunk_scenarios)
    a = start
    while a < n:
        b = min(n, (a // big + 1) * big)  # to the end of the shard that holds a
        theta = design.theta(a, b)
        writes = [draws["scenario"].async_array.setitem(slice(a, b), np.arange(a, b))]
        writes += [
            draws[name].async_array.setitem(slice(a, b), theta[:, d])
            for d, name in enumerate(config.uncertain_names)
        ]
        events = world_events(config, theta, a, b)
        writes += [draws[name].async_array.setitem(slice(a, b), events[name]) for name in EVENTS]
        sync(_gather(writes))
        del theta, writes, events  # before the next shard's are made
        a = b


def _extend(config: RunConfig, store: str) -> None:
    """Grow a store of ``config``'s identity to ``config.n_scenarios``: every array on
    ``scenario`` is resized, the design's new points written, and the shard of a last
    chunk that was partial removed, so that chunk is recomputed whole.

    Every step can be repeated, and the new size is recorded only at the end: a run killed
    half-way leaves a store of the old size that the next run grows again.
    """
    from .plan import Design

    root = zarr.open_group(store, mode="r+", use_consolidated=False)
    held, n, cs = int(root.attrs["n_scenarios"]), config.n_scenarios, config.chunk_scenarios
    draws = root[DRAWS]
    first = min(held, input_shard(cs))  # the design's first shard stands for the rest
    kept = Design.of(config).theta(0, first)
    for d, name in enumerate(config.uncertain_names):
        if not np.array_equal(draws[name][:first], kept[:, d]):
            raise StoreError(
                store,
                f"its design's {name} differs from this run's in its first {first} points",
                "scipy or the config's distributions changed since it was made; run into "
                "another --out",
            )
    if held % cs:
        clear_done(store, [held // cs])  # first: a finished chunk is never a partial one
    for name in (OUTCOME, *config.uncertain_names, "scenario", *EVENTS):
        draws[name].resize((n, *draws[name].shape[1:]))
    _write_inputs(config, draws, held)
    k = config.n_snapshots
    if FIRMS in root.group_keys():
        firms = root[FIRMS]
        for name in (*SNAPSHOT, "scenario"):  # each, so a step cut off half-way is redone
            if firms[name].shape[0] < k:
                firms[name].resize((k, *firms[name].shape[1:]))
        firms["scenario"][:] = np.arange(k)
    attrs = provenance(config)
    now, attrs["created"] = attrs["created"], root.attrs.get("created", attrs["created"])
    attrs["extended"] = f"from {held} to {n} scenarios at {now}"
    draws.attrs.update(attrs)
    root.attrs.update(attrs)  # the commit: the store now says it holds n scenarios
    _consolidate(store)


def _trim(config: RunConfig, store: str) -> None:
    """Give a store the shape of the size it records: an extension killed after resizing
    its arrays, but before recording the new size, leaves them longer (with empty tails)
    than ``n_scenarios``; a run at the recorded size cuts them back, so readers never see
    the tails. Nothing that was recorded as finished is touched."""
    root = zarr.open_group(store, mode="r+", use_consolidated=False)
    held = int(root.attrs["n_scenarios"])
    names = (OUTCOME, *config.uncertain_names, "scenario", *EVENTS)
    shapes = {(DRAWS, name): held for name in names}
    if FIRMS in root.group_keys():  # config is at the recorded size (a resume)
        shapes.update({(FIRMS, name): config.n_snapshots for name in (*SNAPSHOT, "scenario")})
    longer = [(g, n) for (g, n), size in shapes.items() if root[g][n].shape[0] > size]
    if not longer:
        return
    for group, name in longer:
        array = root[group][name]
        array.resize((shapes[group, name], *array.shape[1:]))
    _consolidate(store)


def _consolidate(store: str) -> None:
    with warnings.catch_warnings():
        # Zarr 3 notes consolidated metadata is not yet in the v3 spec; xarray reads it.
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
        zarr.consolidate_metadata(store)


def _open_root(store: str):
    try:
        return zarr.open_group(store, mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError):
        return None


def _remove(store: str) -> None:
    """Delete a resonance store's contents (callers have checked ``_state(store)`` says
    so), keeping its directory: the run replacing it holds its writer lock."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(store)
    if fs.exists(path):
        for child in fs.ls(path, detail=False):
            fs.rm(child, recursive=True)


def done_chunks(store: str) -> np.ndarray:
    """int8 (chunk,): 1 for chunks whose draws are completely written: those whose
    ``outcome`` shard is present (one listing of the array's directory), or, in a store of
    format 1, those marked in ``chunk_done``."""
    draws = zarr.open_group(store, path=DRAWS, mode="r", use_consolidated=False)
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
    sync(_gather(backend.delete(_shard_key(outcome, int(k))) for k in chunks))


def rewrite_inputs(config: RunConfig, store: str, chunks) -> None:
    """Write the design's scenario inputs of ``chunks`` again (``resonance verify --repair``
    of a chunk whose stored inputs differ from its design)."""
    draws = zarr.open_group(store, path=DRAWS, mode="r+")
    cs, n = config.chunk_scenarios, config.n_scenarios
    for k in chunks:
        _write_inputs(config, draws, int(k) * cs, min(n, (int(k) + 1) * cs))


async def _gather(coroutines) -> list:
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
    return arrays


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
            _gather(
                arrays[f"{FIRMS}/{name}"].async_array.setitem(
                    rows, snapshots[:, :, :, v, :].astype(SNAPSHOT_DTYPES[name])
                )
                for v, name in enumerate(SNAPSHOT)
            )
        )
    arrays[OUTCOME][start:stop] = outcomes  # last: the mark


def read_draws_chunk(store: str, config_sha256: str, start: int, stop: int) -> np.ndarray:
    """Outcomes of scenarios [start, stop) from the store: float64 (s, p, t, m), one read
    of their shard."""
    return draws_arrays(store, config_sha256)[OUTCOME][start:stop]


def read_draws(
    store: str, config_sha256: str, chunks: list[tuple[int, int]], metric: str
) -> np.ndarray:
    """One metric's draws of the scenarios of ``chunks`` ((start, stop) each), in their
    order: float64 (s, p, t). Only that metric's inner chunk of each shard is read,
    concurrently, a batch of chunks of at most READ_BATCH bytes at a time, into one array
    (memory: the result and one batch)."""
    array = draws_arrays(store, config_sha256)[OUTCOME]
    m = METRICS.index(metric)
    shape = array.shape[1:3]
    per_scenario = int(np.prod(shape)) * array.dtype.itemsize
    out = np.empty((sum(b - a for a, b in chunks), *shape), dtype=array.dtype)
    row, batch = 0, []
    for i, (a, b) in enumerate(chunks):
        batch.append((a, b))
        rows = sum(y - x for x, y in batch)
        if rows * per_scenario >= READ_BATCH or i == len(chunks) - 1:
            reads = (array.async_array.getitem((slice(x, y), ..., m)) for x, y in batch)
            out[row : row + rows] = np.concatenate(sync(_gather(reads)), axis=0)
            row, batch = row + rows, []
    return out


READ_BATCH = 64 * 2**20  # bytes of draws read at once by read_draws


class StoredChunks:
    """The stored draws of ``chunks`` one at a time, read afresh on every pass (memory: one
    chunk): the input of ``bands.sequential_map_reduce``."""

    def __init__(self, store: str, config_sha256: str, chunks: list[tuple[int, int]]):
        self.store, self.config_sha256, self.chunks = store, config_sha256, chunks

    def __iter__(self):
        return (read_draws_chunk(self.store, self.config_sha256, *b) for b in self.chunks)


def bands_dataset(config: RunConfig, bands: dict[str, np.ndarray], attrs: dict) -> xr.Dataset:
    """The root group's Dataset of ``bands`` (see :func:`write_bands`) with ``attrs``."""
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
    return xr.Dataset(data_vars, coords, attrs=attrs)


def invalidate_bands(store: str) -> None:
    """Say the stored bands are not those of the draws (a run is about to change them)."""
    zarr.open_group(store, mode="r+").attrs.update({"bands_scenarios": 0})


def write_bands(store: str, config: RunConfig, bands: dict[str, np.ndarray]) -> None:
    """Write the bands at the root and consolidate the metadata (the run's last write).

    bands: ``quantiles`` (p, t, m, q), ``mean``, ``std``, ``error`` (p, t, m), float64, and
    ``method`` (reduce.METHODS), kept as the attribute ``bands_method``.
    ``bands_scenarios`` is set to the scenario count only once they are all written.
    """
    # xarray replaces the group's attributes with the dataset's: carry the provenance over.
    attrs = {**zarr.open_group(store, mode="r").attrs, "bands_scenarios": 0}
    attrs["bands_method"] = bands.get("method", "streaming")
    bands_dataset(config, bands, attrs).to_zarr(store, mode="a", consolidated=False, zarr_format=3)
    # consolidated first: a run killed between the two finds the bands not yet current
    _consolidate(store)
    zarr.open_group(store, mode="r+").attrs.update({"bands_scenarios": config.n_scenarios})


def bands_current(store: str) -> bool:
    """Whether the stored bands are those of all the store's scenarios."""
    group = _open_root(store)
    if group is None or METRICS[0] not in group.array_keys():
        return False
    attrs = group.attrs
    if "bands_scenarios" not in attrs:  # made before the mark: bands come after all chunks
        return bool(done_chunks(store).all())
    return attrs["bands_scenarios"] == attrs.get("n_scenarios")


def store_config(store: str) -> RunConfig:
    """The config that made ``store``, rebuilt from its ``config_effective`` attribute as if
    read from its ``config_file`` and checked against its SHA-256."""
    attrs = dict(zarr.open_group(store, mode="r").attrs)
    text = attrs.get("config_effective")
    if text is None:
        raise StoreError(store, "does not record its effective config", "it predates verify")
    source = Path(attrs.get("config_file", "configs/store.yaml"))
    config = config_from_text(text, source)
    if config.sha256 != attrs.get("config_sha256"):
        raise StoreError(
            store,
            "its config no longer rebuilds to the same run",
            f"a path or cluster file in {source.parent} changed since it was made",
        )
    return config


@dataclass(frozen=True)
class Progress:
    """How far a store's run has come: finished chunks out of all, and in scenarios."""

    chunks_done: int
    chunks: int
    scenarios_done: int
    scenarios: int
    writer: str | None  # the run writing it now ("pid ... on ..."), None when stopped

    @property
    def state(self) -> str:
        return f"is being written ({self.writer})" if self.writer else "was stopped"

    @property
    def note(self) -> str:
        return (
            f"its run {self.state}: {self.chunks_done} of {self.chunks} chunks are finished, "
            f"{self.scenarios_done} of {self.scenarios} scenarios; these figures are of those "
            f"{self.scenarios_done}"
        )


def _finished(store: str) -> tuple[np.ndarray, Progress]:
    """Scenario ids of the finished chunks, int64 (s,), and the store's progress."""
    attrs = zarr.open_group(store, mode="r").attrs
    n, cs = int(attrs["n_scenarios"]), int(attrs["chunk_scenarios"])
    done = done_chunks(store)[: -(-n // cs)].astype(bool)
    ids = np.flatnonzero(np.repeat(done, cs)[:n])
    progress = Progress(int(done.sum()), done.size, ids.size, n, current_writer(store))
    if not ids.size:
        raise StoreError(store, f"has no finished chunk yet (its run {progress.state})")
    return ids, progress


def _check_ours(store: str) -> None:
    state, attrs = _state(store)
    if state != "resonance" or "config_sha256" not in attrs:
        raise StoreError(store, "is not a resonance store", "run `resonance run` into it first")


def open_bands(store: str) -> xr.Dataset:
    """The root bands as an xarray Dataset.

    A store whose run is still going or was stopped has no current bands: they are then
    computed here from its finished chunks (exactly as a run would, of fewer scenarios),
    and the Dataset's attribute ``progress`` says how many (:attr:`Progress.note`).
    """
    _check_ours(store)
    if bands_current(store):
        return xr.open_zarr(store)
    ids, progress = _finished(store)
    config = store_config(store)
    cs = config.chunk_scenarios
    starts = np.unique(ids // cs) * cs
    chunks = [(int(a), min(int(a) + cs, config.n_scenarios)) for a in starts]
    from .reduce import store_bands  # it reads through this module

    bands = store_bands(store, config, chunks)
    attrs = dict(zarr.open_group(store, mode="r").attrs)
    attrs.update(
        n_scenarios=progress.scenarios_done, progress=progress.note, bands_method=bands["method"]
    )
    return bands_dataset(config, bands, attrs)


def open_draws(store: str) -> xr.Dataset:
    """The ``draws`` group of a store, lazily, one variable per metric (``layout.by_metric``;
    StoreError when it is not one).

    Of a store whose run is still going or was stopped, only the finished chunks'
    scenarios, with the attribute ``progress`` saying how many (:attr:`Progress.note`).
    """
    _check_ours(store)
    if bands_current(store):
        return by_metric(xr.open_zarr(store, group=DRAWS))
    ids, progress = _finished(store)
    ds = xr.open_zarr(store, group=DRAWS, consolidated=False).isel(scenario=ids)
    ds.attrs.update(n_scenarios=progress.scenarios_done, progress=progress.note)
    return by_metric(ds)


def open_firms(store: str) -> xr.Dataset:
    """The ``firms`` group of a store, lazily (StoreError when there is none)."""
    _check_ours(store)
    if FIRMS not in zarr.open_group(store, mode="r").group_keys():
        raise StoreError(
            store,
            "keeps no firm snapshots",
            "run it with sizes.firm_snapshots > 0, or pass a config",
        )
    return xr.open_zarr(store, group=FIRMS, consolidated=None)


CONVERGENCE = "convergence"


def write_convergence(store: str, history: xr.Dataset) -> None:
    """Write the ``convergence`` group whole (``resonance run --until-se``; see
    ``converge.py``): value and standard_error (step, path, statistic), n_scenarios (step)."""
    with writer_lock(store):
        history.to_zarr(store, group=CONVERGENCE, mode="w", consolidated=False, zarr_format=3)
        _consolidate(store)


def open_convergence(store: str) -> xr.Dataset | None:
    """The ``convergence`` group, or None when the store has never grown until converged."""
    _check_ours(store)
    if CONVERGENCE not in zarr.open_group(store, mode="r", use_consolidated=False).group_keys():
        return None
    return xr.open_zarr(store, group=CONVERGENCE, consolidated=False)
