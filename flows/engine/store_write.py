"""The one writer of a store: create, grow or trim it to its recorded size, write the
design's scenario inputs it is given, the bands and the convergence history.

The layout is ``layout.py``. A run first writes the template (metadata only,
``compute=False``) and the scenario inputs (a shard of about a million scenarios at a
time: nothing of size ``n_scenarios`` is held). The inputs are computed by the run's
driver (:class:`ScenarioInputs`, ``execute.DesignInputs``): the store runs no sampler and
no kernel, it writes what it is given. Then each task writes its own chunk
(``store_io.write_chunk``). The bands are written and the metadata consolidated last, with
the root attribute ``bands_scenarios`` saying how many scenarios they are of (readers and
the next run trust bands only when it equals ``n_scenarios``).

A grown store (``store_state.check`` says "extend") has every array resized along
``scenario``, keeps the finished chunks and loses only the shard of its last, partial one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import xarray as xr
import zarr
from zarr.core.sync import sync  # runs a coroutine on zarr's own I/O loop, as zarr's API does

from ...kernels.registry import METRICS, SNAPSHOT
from ..config import RunConfig
from ..errors import StoreError
from .layout import (
    CONVERGENCE,
    DRAWS,
    EVENTS,
    FIRMS,
    OUTCOME,
    SCENARIO_ATTRS,
    STORE_MARK,
    draws_template,
    firms_template,
    input_chunk,
    input_shard,
    metric_attrs,
    path_time_coords,
    provenance,
    snapshot_chunk,
    world_coordinates,
    world_values,
)
from .store_io import clear_done, consolidate, gather
from .store_lock import writer_lock
from .store_state import check, state_of


class ScenarioInputs(Protocol):
    """The design's scenario inputs of a range of scenarios, as the store records them,
    computed by the caller (``execute.DesignInputs``); any two calls for the same
    scenarios give the same values."""

    def parameters(self, start: int, stop: int) -> np.ndarray:
        """The uncertain parameters of scenarios [start, stop): float64 (s, d), columns in
        ``config.uncertain_names`` order, in the parameters' own units."""

    def events(self, parameters: np.ndarray, start: int, stop: int) -> dict[str, np.ndarray]:
        """The world events of scenarios [start, stop) whose uncertain parameters are
        ``parameters`` (s, d): one (s,) array per name of ``layout.EVENTS``, of its dtype."""


def open_or_create(
    config: RunConfig,
    store: str,
    overwrite: bool,
    inputs: ScenarioInputs,
    mode: str | None = None,
) -> None:
    """Make ``store`` ready for ``config``: create it, grow it to ``config``'s scenario count,
    or check it was made by this config.

    inputs: the design's scenario inputs, computed by the caller (``execute.DesignInputs``)
    and written here a shard at a time when the store is created or grown. ``mode``: what
    ``store_state.check`` decided for this store, config and ``overwrite`` (a run's
    request has); None: decide it here.
    Raises StoreError for a store of another config (unless ``overwrite``) and for anything
    that is not a resonance store (always: ``overwrite`` replaces only our own stores).
    """
    if mode is None:
        mode = check(config, store, overwrite)
    if mode == "resume":
        _trim(config, store)
        return
    if mode == "extend":
        _extend(config, store, inputs)
        return
    if state_of(store)[0] == "resonance":
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
    _write_inputs(config, draws, inputs, 0)
    firms = firms_template(config)
    if firms is not None:
        shape = (
            snapshot_chunk(config.chunk_scenarios, config.n_snapshots),
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


def _write_inputs(
    config: RunConfig, draws, inputs: ScenarioInputs, start: int, stop: int | None = None
) -> None:
    """Write the scenario inputs (each uncertain parameter, ``scenario``, the world
    events of ``layout.EVENTS`` and, with R > 1, ``world`` and ``replication``) of
    scenarios [start, stop or n_scenarios), a shard at a time, as ``inputs`` gives them
    for that shard (memory: one shard, 8 MB a parameter)."""
    n = config.n_scenarios if stop is None else stop
    big = input_shard(config.chunk_scenarios)
    a = start
    while a < n:
        b = min(n, (a // big + 1) * big)  # to the end of the shard that holds a
        theta = inputs.parameters(a, b)
        writes = [draws["scenario"].async_array.setitem(slice(a, b), np.arange(a, b))]
        writes += [
            draws[name].async_array.setitem(slice(a, b), theta[:, d])
            for d, name in enumerate(config.uncertain_names)
        ]
        events = inputs.events(theta, a, b)
        writes += [draws[name].async_array.setitem(slice(a, b), events[name]) for name in EVENTS]
        writes += [
            draws[name].async_array.setitem(
                slice(a, b), world_values(name, a, b, config.replications)
            )
            for name in world_coordinates(config)
        ]
        sync(gather(writes))
        del theta, writes, events  # before the next shard's are made
        a = b


def _extend(config: RunConfig, store: str, inputs: ScenarioInputs) -> None:
    """Grow a store of ``config``'s identity to ``config.n_scenarios``: every array on
    ``scenario`` is resized, the design's new points (``inputs``) written, and the shard of
    a last chunk that was partial removed, so that chunk is recomputed whole.

    Every step can be repeated, and the new size is recorded only at the end: a run killed
    half-way leaves a store of the old size that the next run grows again.
    """
    root = zarr.open_group(store, mode="r+", use_consolidated=False)
    held, n, cs = int(root.attrs["n_scenarios"]), config.n_scenarios, config.chunk_scenarios
    draws = root[DRAWS]
    first = min(held, input_shard(cs))  # the design's first shard stands for the rest
    kept = inputs.parameters(0, first)
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
    for name in (OUTCOME, *config.uncertain_names, "scenario", *EVENTS, *world_coordinates(config)):
        draws[name].resize((n, *draws[name].shape[1:]))
    _write_inputs(config, draws, inputs, held)
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
    consolidate(store)


def _trim(config: RunConfig, store: str) -> None:
    """Give a store the shape of the size it records: an extension killed after resizing
    its arrays, but before recording the new size, leaves them longer (with empty tails)
    than ``n_scenarios``; a run at the recorded size cuts them back, so readers never see
    the tails. Nothing that was recorded as finished is touched."""
    root = zarr.open_group(store, mode="r+", use_consolidated=False)
    held = int(root.attrs["n_scenarios"])
    names = (OUTCOME, *config.uncertain_names, "scenario", *EVENTS, *world_coordinates(config))
    shapes = {(DRAWS, name): held for name in names}
    if FIRMS in root.group_keys():  # config is at the recorded size (a resume)
        shapes.update({(FIRMS, name): config.n_snapshots for name in (*SNAPSHOT, "scenario")})
    longer = [(g, n) for (g, n), size in shapes.items() if root[g][n].shape[0] > size]
    if not longer:
        return
    for group, name in longer:
        array = root[group][name]
        array.resize((shapes[group, name], *array.shape[1:]))
    consolidate(store)


def _remove(store: str) -> None:
    """Delete a resonance store's contents (callers have checked ``state_of(store)`` says
    so), keeping its directory: the run replacing it holds its writer lock."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(store)
    if fs.exists(path):
        for child in fs.ls(path, detail=False):
            fs.rm(child, recursive=True)


def rewrite_inputs(config: RunConfig, store: str, chunks, inputs: ScenarioInputs) -> None:
    """Write the design's scenario inputs (``inputs``) of ``chunks`` again (``resonance
    verify --repair`` of a chunk whose stored inputs differ from its design)."""
    draws = zarr.open_group(store, path=DRAWS, mode="r+")
    cs, n = config.chunk_scenarios, config.n_scenarios
    for k in chunks:
        _write_inputs(config, draws, inputs, int(k) * cs, min(n, (int(k) + 1) * cs))


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


FLOW_RUN_ATTRS = ("prefect_flow_run", "prefect_flow_run_id", "prefect_flow_run_url")


def record_flow_run(store: str, record: Mapping[str, str]) -> None:
    """Say which Prefect flow run writes the store's chunks now: the root attributes
    ``prefect_flow_run`` (its name), ``prefect_flow_run_id`` and ``prefect_flow_run_url``
    (its page in Prefect's UI, "" when unknown) from ``record``; without one (a run not
    started by a flow run) an earlier run's are removed, so they never name a flow run
    that did not write the chunks. ``resonance serve``'s catalog shows them."""
    attrs = zarr.open_group(store, mode="r+").attrs
    if record:
        attrs.update({key: str(record.get(key, "")) for key in FLOW_RUN_ATTRS})
    else:
        for key in FLOW_RUN_ATTRS:
            if key in attrs:
                del attrs[key]


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
    consolidate(store)
    zarr.open_group(store, mode="r+").attrs.update({"bands_scenarios": config.n_scenarios})


def write_convergence(store: str, history: xr.Dataset) -> None:
    """Write the ``convergence`` group whole (``resonance run --until-se``; see
    ``converge.py``): value and standard_error (step, path, statistic), n_scenarios (step)."""
    with writer_lock(store):
        history.to_zarr(store, group=CONVERGENCE, mode="w", consolidated=False, zarr_format=3)
        consolidate(store)
