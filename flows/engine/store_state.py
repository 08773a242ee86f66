"""What a run may do with a store, decided before anything is written: what is at the
path (absent, empty, a resonance store or something foreign), whose identity it has, how
many scenarios it holds, whether it may be created, resumed or grown (:func:`check`) and
whether the new part fits its file system.

A store grows: a run of its config with more scenarios (same ``identity_sha256``) keeps
the finished chunks and computes only the new ones and the last, partial one (``mc`` and
``sobol`` designs, whose first points do not change); ``store_write`` does the growing.
"""

from __future__ import annotations

from ..config import RunConfig
from ..errors import StoreError
from .layout import STORE_FORMAT, STORE_MARK, model_digest, store_bytes
from .store_io import open_root
from .store_lock import busy, current_writer


def state_of(store: str) -> tuple[str, dict]:
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
    group = open_root(store)
    attrs = dict(group.attrs) if group is not None else {}
    ours = STORE_MARK in attrs or (
        "config_sha256" in attrs and str(attrs.get("title", "")).startswith("resonance")
    )
    return ("resonance" if ours else "foreign"), attrs


def belongs_to(config: RunConfig, store: str) -> bool:
    """Whether ``store`` is a resonance store of ``config``'s identity (any scenario count)."""
    state, attrs = state_of(store)
    return state == "resonance" and _same_identity(config, attrs)


def _same_identity(config: RunConfig, attrs: dict) -> bool:
    if "identity_sha256" in attrs:
        return attrs["identity_sha256"] == config.identity
    return attrs.get("config_sha256") == config.sha256  # made before stores could grow


def held_scenarios(config: RunConfig, store: str) -> int | None:
    """How many scenarios ``store`` holds if it is a store of ``config``'s identity (one
    ``config`` with another scenario count may resume or grow), else None."""
    state, attrs = state_of(store)
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
        held = int(state_of(store)[1].get("n_scenarios", 0)) if mode == "extend" else 0
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
    state, attrs = state_of(store)
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
        raise busy(store, writer)
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
            f"run with --scenarios {held // config.replications} to resume it, or "
            "--overwrite to replace it",
        )
    if config.sampler in GROWS:
        raise StoreError(
            store,
            f"holds a {config.sampler} design of {held} scenarios, which cannot grow to {n}: "
            f"{GROWS[config.sampler]}",
            "run into another --out, or use sampler sobol or mc for a store that grows",
        )
    worlds = config.n_worlds
    if config.sampler == "sobol" and worlds & (worlds - 1):
        raise StoreError(
            store,
            f"a Sobol store grows to powers of two, not to {worlds} (its points stay balanced)",
            f"use --scenarios {1 << (worlds - 1).bit_length()}",
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
