"""``resonance verify STORE``: re-simulate chunks of a store from its own config, seed and
design and compare them bit for bit with what is stored, then recompute the bands from the
stored draws and compare them with the stored bands.

The config is rebuilt from the store's ``config_effective`` attribute (the validated
config with its overrides), read as if from the recorded ``config_file``, whose folder
holds the path and cluster files it names; its SHA-256 must equal the store's, so a path
file changed since the run is caught rather than reported as a difference of the model.
A chunk that cannot be read (a truncated or overwritten object) counts as a difference.
The scenario inputs of each chunk are compared with its design's points too. ``repair``
writes the inputs of chunks whose inputs differ again, and clears the done mark of every
chunk found different, so the next run of the config recomputes exactly those chunks and
the bands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import zarr

from ...kernels.registry import METRICS, SNAPSHOT
from ..config import RunConfig
from ..errors import StoreError
from .execute import DesignInputs
from .layout import DRAWS, EVENTS, OUTCOME, model_digest, package_versions
from .plan import make_plan, world_events
from .reduce import store_bands
from .store_io import clear_done, done_chunks, draws_arrays, read_draws_chunk
from .store_lock import writer_lock
from .store_read import bands_current, store_config
from .store_write import invalidate_bands, rewrite_inputs


@dataclass
class Difference:
    """The first place where the store and the re-simulation disagree."""

    chunk: int
    variable: str
    index: dict  # dim -> label (scenario, path, time / year, firm)
    stored: float | str
    recomputed: float | str

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.index.items())
        return (
            f"chunk {self.chunk}: {self.variable}[{where}] is {self.stored} in the store, "
            f"{self.recomputed} re-simulated"
        )


@dataclass
class Verification:
    checked: list[int]  # chunks re-simulated
    differences: list[Difference] = field(default_factory=list)  # the first of each chunk
    bands: Difference | None = None  # the first band that differs from the stored draws'
    warnings: list[str] = field(default_factory=list)  # package versions that differ
    model_changed: bool = False  # the store records another model digest than this code's

    @property
    def ok(self) -> bool:
        return not self.differences and self.bands is None


def _first_difference(stored: np.ndarray, fresh: np.ndarray) -> tuple | None:
    """Index of the first element whose bits differ (NaN equal to NaN), or None."""
    same = (stored == fresh) | (np.isnan(stored) & np.isnan(fresh))
    if same.all():
        return None
    return tuple(int(i) for i in np.argwhere(~same)[0])


def verify(store: str, chunks: int | None = 4, seed: int = 0) -> Verification:
    """Re-simulate ``chunks`` random finished chunks (None: all) and recompute the bands."""
    config = store_config(store)
    plan = make_plan(config)
    done = np.flatnonzero(done_chunks(store) == 1)
    if chunks is not None and chunks < len(done):
        done = np.sort(np.random.default_rng(seed).choice(done, chunks, replace=False))
    result = Verification([int(c) for c in done])
    recorded = dict(zarr.open_group(store, mode="r").attrs).get("versions", {})
    result.warnings = [
        f"{name} {recorded[name]} made the store, {now} is installed"
        for name, now in package_versions().items()
        if name in recorded and recorded[name] != now
    ]
    made = dict(zarr.open_group(store, mode="r").attrs).get("model_sha256")
    result.model_changed = made != model_digest()
    if result.model_changed:
        result.warnings.append(
            f"the store was made by model {str(made)[:12]}, this installation is "
            f"{model_digest()[:12]}: differences may be the model's change, not damage"
        )
    paths = list(config.path_names)
    kept_as = draws_arrays(store, config.sha256)[OUTCOME].dtype  # and a line if unreadable
    draws = zarr.open_group(store, path=DRAWS, mode="r")
    for chunk in result.checked:
        start, stop = plan.chunks[chunk]
        inputs = _input_difference(draws, config, plan, chunk)
        if inputs is not None:
            result.differences.append(inputs)
            continue
        fresh, snaps = plan.job.simulate(start, stop)
        try:
            stored = read_draws_chunk(store, config.sha256, start, stop)
        except Exception:  # a damaged object: zarr's codecs raise many kinds
            result.differences.append(_unreadable(store, chunk, start, stop))
            continue
        fresh = fresh.astype(kept_as).astype(np.float64)  # as the store keeps them
        at = _first_difference(stored, fresh)
        if at is not None:
            s, p, t, m = at
            result.differences.append(
                Difference(
                    chunk,
                    METRICS[m],
                    {"scenario": start + s, "path": paths[p], "time": t},
                    float(stored[at]),
                    float(fresh[at]),
                )
            )
            continue
        if snaps is not None:
            firms = zarr.open_group(store, path="firms", mode="r")
            for v, name in enumerate(SNAPSHOT):
                kept = firms[name][start : start + snaps.shape[0]]
                mine = snaps[:, :, :, v, :].astype(kept.dtype)
                hit = _first_difference(kept.astype(np.float64), mine.astype(np.float64))
                if hit is not None:
                    s, p, y, i = hit
                    result.differences.append(
                        Difference(
                            chunk,
                            f"firms/{name}",
                            {"scenario": start + s, "path": paths[p], "year": y + 1, "firm": i},
                            float(kept[hit]),
                            float(mine[hit]),
                        )
                    )
                    break
    if not result.differences and bands_current(store):
        result.bands = _check_bands(store, config, plan)
    return result


def _input_difference(draws, config: RunConfig, plan, chunk: int) -> Difference | None:
    """The first stored scenario input of ``chunk`` that is not the design's, or None: the
    uncertain parameters, then the world events (``layout.EVENTS``) the kernel simulated."""
    start, stop = plan.chunks[chunk]
    theta = plan.design.theta(start, stop)
    expected = {name: theta[:, d] for d, name in enumerate(config.uncertain_names)}
    if all(name in draws for name in EVENTS):  # stores before issue 15 have none
        expected.update(world_events(config, theta, start, stop))
    for name, values in expected.items():
        stored = draws[name][start:stop]
        at = _first_difference(stored, values)
        if at is not None:
            where = {"scenario": start + at[0]}
            return Difference(chunk, name, where, float(stored[at]), float(values[at[0]]))
    return None


def _unreadable(store: str, chunk: int, start: int, stop: int) -> Difference:
    """Which metric of a chunk that failed to read cannot be decoded."""
    outcome = zarr.open_group(store, path=DRAWS, mode="r")[OUTCOME]
    for m, metric in enumerate(METRICS):
        try:
            outcome[start:stop, ..., m]
        except Exception as exc:
            where = {"scenario": f"{start}..{stop - 1}"}
            return Difference(chunk, metric, where, f"unreadable ({exc})"[:120], "readable")
    return Difference(chunk, "draws", {}, "unreadable", "readable")


def _check_bands(store: str, config: RunConfig, plan) -> Difference | None:
    # Recomputed the way they were made: stores before bands_method streamed them.
    method = zarr.open_group(store, mode="r").attrs.get("bands_method", "streaming")
    bands = store_bands(store, config, plan.chunks, method=method)
    root = zarr.open_group(store, mode="r")
    paths = list(config.path_names)
    for m, metric in enumerate(METRICS):
        for suffix, fresh in (
            ("", bands["quantiles"][:, :, m, :]),
            ("_mean", bands["mean"][:, :, m]),
            ("_std", bands["std"][:, :, m]),
        ):
            kept = root[metric + suffix][...]
            at = _first_difference(kept, fresh)
            if at is not None:
                index = {"path": paths[at[0]], "time": at[1]}
                if len(at) == 3:
                    index["quantile"] = config.quantiles[at[2]]
                return Difference(-1, metric + suffix, index, float(kept[at]), float(fresh[at]))
    return None


def repair(store: str, differences: list[Difference]) -> list[int]:
    """Clear the done marks of the chunks found different; the next run recomputes them.
    Holds the store's writer lock (StoreError while a run writes it) and says the bands are
    no longer those of the draws, so the next run recomputes them too."""
    made = dict(zarr.open_group(store, mode="r").attrs).get("model_sha256")
    if made != model_digest():
        raise StoreError(
            store,
            "was made by another version of the model: its chunks cannot be repaired "
            "under this one",
            "run the config again with --overwrite to recompute it",
        )
    config = store_config(store)
    chunks = sorted({d.chunk for d in differences if d.chunk >= 0})
    if chunks or any(d.chunk < 0 for d in differences):
        rewritable = {*config.uncertain_names, *EVENTS}
        inputs = sorted({d.chunk for d in differences if d.variable in rewritable})
        with writer_lock(store):
            invalidate_bands(store)
            rewrite_inputs(config, store, inputs, DesignInputs.of(config))
            clear_done(store, chunks)  # the store's one writer
    return chunks
