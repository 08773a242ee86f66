"""The readers of a store: its bands, draws, firm snapshots and convergence history as
xarray Datasets, the config that made it, and whether its bands are current.

A store whose run is still going or was stopped is read too: its finished chunks'
scenarios, and bands computed from them here exactly as a run would (``reduce.py``), with
the attribute ``progress`` saying how many (:attr:`Progress.note`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from ...kernels.registry import METRICS
from ..config import RunConfig, config_from_text
from ..errors import StoreError
from .layout import CONVERGENCE, DRAWS, FIRMS, by_metric
from .reduce import store_bands
from .store_io import done_chunks, open_root
from .store_lock import current_writer
from .store_state import state_of
from .store_write import bands_dataset


def bands_current(store: str) -> bool:
    """Whether the stored bands are those of all the store's scenarios."""
    group = open_root(store)
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
    state, attrs = state_of(store)
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


def open_convergence(store: str) -> xr.Dataset | None:
    """The ``convergence`` group, or None when the store has never grown until converged."""
    _check_ours(store)
    if CONVERGENCE not in zarr.open_group(store, mode="r", use_consolidated=False).group_keys():
        return None
    return xr.open_zarr(store, group=CONVERGENCE, consolidated=False)
