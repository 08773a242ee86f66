"""The layout of a store: groups, variables, dims, chunks, attributes (DESIGN.md, "The store").

- root: bands. ``<metric>`` (path, time, quantile), ``<metric>_mean`` and ``<metric>_std``
  (path, time), ``<metric>_quantile_error`` (path, time): the bound on the absolute error of
  that metric's quantiles (see ``bands.py``). Provenance in the root attributes.
- ``draws`` (``store_format`` 2): ``outcome`` (scenario, path, time, metric), of the
  kernel's precision (float32 by default; ``outcome_dtype``), one
  Zarr v3 shard per chunk of scenarios (one task's, so one object: the store of a run of
  10^6 chunks has about 10^6 files, not 17 x 10^6), an inner chunk per metric (a reader
  of one metric reads only its part of each shard); its ``metric`` coordinate carries each
  metric's ``metric_long_name``, ``metric_units`` and ``metric_description``, and
  :func:`by_metric` turns it into one variable per metric with those as attributes. A
  chunk's shard is written last and whole (atomically: a file renamed into place, or one
  PUT), so it is also the chunk's completion mark. Each uncertain parameter of the
  config's ``uncertain:`` on ``scenario``, its distribution in the attributes
  (``distribution``, ``low``, ``high``, ...), and the ``scenario`` coordinate, in shards
  of INPUT_SHARD_SCENARIOS (written by the run's driver a shard at a time) of inner chunks
  of INPUT_CHUNK_SCENARIOS; beside them, each scenario's world events (``EVENTS``: whether,
  when and how hard the key-technology chokepoint strikes), sharded the same way.
  ``store_format`` 1 (before December 2026) had ``<metric>`` (scenario, path, time) and a
  ``chunk_done`` (chunk,) int8 mark: readable, not resumable.
- ``firms``: snapshots of every firm at the end of every year for the first K scenarios
  (``sizes.firm_snapshots``): ``log_tfp``, ``market_share``, ``rd_intensity``,
  ``new_paradigm``, ``entered``, ``breakthrough_value`` with dims (scenario, path, year,
  firm), chunked along ``scenario`` in divisors of the draws' chunks (``snapshot_chunk``),
  so each is written by one task. Absent when K is 0.

``store_write.py`` writes what this module lays out.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import dask.array as da
import numpy as np
import xarray as xr
from zarr.codecs import BloscCodec

from ... import DISTRIBUTION
from ...kernels.compile import source_digest
from ...kernels.registry import (
    METRIC_INFO,
    METRICS,
    PARAMETER_INFO,
    SNAPSHOT,
    SNAPSHOT_INFO,
)

if TYPE_CHECKING:  # a type only: the config solves budgets through plan, which reads this
    from ..config import RunConfig

FIRMS = "firms"
STORE_MARK = "resonance_store"  # root attribute that tells a resonance store from anything else
# Flags are stored as bytes; the other snapshot variables as float32, as the kernel keeps them.
SNAPSHOT_DTYPES = {
    name: np.uint8 if name in ("new_paradigm", "entered") else np.float32 for name in SNAPSHOT
}
DRAWS = "draws"
OUTCOME = "outcome"  # the draws' one array of every metric
CONVERGENCE = "convergence"  # the group of a run grown until converged (converge.py)
STORE_FORMAT = 2  # root attribute store_format; stores without it are format 1
# The scenario inputs are written by the driver, this many scenarios (rounded down to whole
# chunks) at a time: 8 MB a parameter, one object per parameter per shard.
INPUT_SHARD_SCENARIOS = 2**20
# Inside a shard, inputs are compressed in inner chunks of about this many scenarios: Zarr
# encodes each inner chunk on its own (0.1 ms apiece), so inner chunks of one task's 128
# would make writing 10^7 scenarios' inputs take a minute; a chunk's read decodes 128 KB.
INPUT_CHUNK_SCENARIOS = 2**14
# Chunk keys "c.<k>.0.0.0" side by side in one directory: listing it tells the finished
# chunks (store_io.done_chunks) without a directory per chunk.
FLAT_KEYS = {"name": "default", "separator": "."}
# The attributes every variable carries; the draws keep each metric's as coordinates.
FIELDS = ("long_name", "units", "description")
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


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(DISTRIBUTION if name == "resonance" else name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


# The draws' compressor: LZ4 after a byte shuffle (Blosc). On the default run's float32
# draws it keeps 0.714 of their bytes, where zarr's default (zstd at level 3) keeps 0.707,
# and compresses 3.2 times and decompresses 2.2 times as fast (one thread: 1,260 against
# 390 MB/s, 2,440 against 1,120): a run writes, and its bands read back, every draw.
DRAWS_CODEC = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
# What it keeps of a stored draw's bytes (``outcome_dtype``), measured on the default
# config: 0.714 of float32's 4, 0.771 of float64's 8 (zstd: 0.727); the estimate below
# takes a little more.
DRAWS_KEPT = {"float32": 0.75, "float64": 0.8}


def store_bytes(config: RunConfig, scenarios: int) -> int:
    """About how many bytes a store of ``config`` with ``scenarios`` scenarios takes on
    disk: the draws (compressed), the scenario inputs and the firm snapshots."""
    p, t = len(config.path_names), config.n_quarters
    draw = outcome_dtype(config).itemsize * DRAWS_KEPT[config.precision]
    per_scenario = p * t * len(METRICS) * draw + (len(config.uncertain_names) + 1) * 8
    per_scenario += sum(np.dtype(dtype).itemsize for dtype, _, _ in EVENTS.values())
    per_scenario += 8 * len(world_coordinates(config))
    k = min(config.n_snapshots, scenarios)
    firm_year = sum(np.dtype(d).itemsize for d in SNAPSHOT_DTYPES.values())
    snapshots = k * p * (t // 4) * config.n_firms * firm_year
    return int(scenarios * per_scenario + snapshots)


# The modules besides the kernels that make the kernel's inputs from a config: a change of
# any of them changes what a chunk computes as surely as a change of the kernels does.
INPUT_MODULES = ("paths.py", "costs.py", "budget.py", "uncertain.py", "engine/plan.py")


def model_digest() -> str:
    """SHA-256 (hex) of the model's code: every ``kernels/*.py`` and the ``INPUT_MODULES``
    of ``flows/``. A store records it, and a run refuses to resume or grow a store made
    under another (its chunks would mix two models); ``verify`` says so and ``--repair``
    refuses. Comments count too: a digest is cheap to refuse on and a store cheap to
    recompute, a silent mix is not."""
    digest = hashlib.sha256(source_digest().encode())
    flows = Path(__file__).resolve().parents[1]
    for name in INPUT_MODULES:
        digest.update(name.encode())
        digest.update((flows / name).read_bytes())
    return digest.hexdigest()


def provenance(config: RunConfig) -> dict:
    """Root attributes of a store made by ``config``."""
    return {
        "title": "resonance Monte Carlo uncertainty bands",
        STORE_MARK: 1,
        "config": config.text,
        "config_sha256": config.sha256,
        # what decides whether a later run may resume or grow this store: the config
        # without its scenario count, store and cluster (RunConfig.identity)
        "identity_sha256": config.identity,
        # the model's code (every kernels/*.py): a store made under another refuses to be
        # resumed or grown, so no store mixes chunks of two models
        "model_sha256": model_digest(),
        # the validated config with its overrides, and where it was read: resonance verify
        # rebuilds the run from these
        "config_effective": config.canonical,
        "config_file": str(config.source),
        "seed": str(config.seed),  # a uint64 does not fit every JSON reader's integers
        "n_scenarios": config.n_scenarios,
        # scenario s is replication s % R of world s // R (sizes.replications)
        "n_worlds": config.n_worlds,
        "replications": config.replications,
        "n_firms": config.n_firms,
        "n_quarters": config.n_quarters,
        "n_firm_scenario_draws": config.n_scenarios * config.n_firms,
        "sampler": config.sampler,
        "precision": config.precision,
        "paths": list(config.path_names),
        "uncertain": list(config.uncertain_names),
        "chunk_scenarios": config.chunk_scenarios,
        "store_format": STORE_FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "Conventions": "CF-1.10",
    }


def time_coordinate(n_quarters: int) -> np.ndarray:
    """Years at the end of each quarter: 0.25, 0.5, ..., float64 (time,)."""
    return (np.arange(n_quarters) + 1.0) / 4.0


def metric_attrs(metric: str, suffix: str = "") -> dict:
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


def path_time_coords(config: RunConfig) -> dict:
    time = xr.Variable(
        "time",
        time_coordinate(config.n_quarters),
        {
            "long_name": "time since start",
            "units": "years",
            "description": "End of each simulated quarter.",
        },
    )
    return {"time": time, "path": path_coordinate(config.path_names), **path_coords(config)}


LEVER_WORDS = {
    "set": "set to",
    "scale": "scaled by",
    "add": "raised by",
    "at_least": "raised at least to",
    "at_most": "lowered at most to",
}


def lever_coords(config: RunConfig) -> dict:
    """One coordinate on ``path`` per drawn lever (flows/paths.py, ``expand``): each
    policy's value, NaN on the paths of other files."""
    out = {}
    for key, values in config.lever_coords.items():
        lever, parameter = next(
            (lv, key[len(f"lever_{lv}_") :]) for lv in LEVER_WORDS if key.startswith(f"lever_{lv}_")
        )
        info = PARAMETER_INFO[parameter]
        out[key] = xr.Variable(
            "path",
            values,
            {
                "long_name": f"{parameter} {LEVER_WORDS[lever]} (drawn lever)",
                "units": "1" if lever == "scale" else info.units,
                "description": f"The policy's {lever} lever of {parameter}, drawn from its "
                "path file's range; NaN on paths without it.",
            },
        )
    return out


def path_coords(config: RunConfig) -> dict:
    """Every coordinate on ``path`` but its names: the drawn levers (``lever_coords``) and,
    where budgets scaled the paths, each path's intensity (flows/budget.py)."""
    out = lever_coords(config)
    if config.budget_intensity is not None:
        out["budget_intensity"] = xr.Variable(
            "path",
            config.budget_intensity,
            {
                "long_name": "budget intensity",
                "units": "1",
                "description": "The factor t every lever change of the path is scaled by so "
                "that its mean policy cost equals its budget (1: the levers as written; "
                "flows/budget.py).",
            },
        )
    return out


def path_coordinate(names) -> xr.Variable:
    return xr.Variable(
        "path",
        np.array(list(names), dtype=object),
        {
            "long_name": "policy path",
            "units": "1",
            "description": "Policy path of MODEL.md §5 (configs/paths).",
        },
    )


def input_shard(chunk_scenarios: int) -> int:
    """Scenarios per shard of the scenario inputs: whole chunks, about INPUT_SHARD_SCENARIOS."""
    return chunk_scenarios * max(1, INPUT_SHARD_SCENARIOS // chunk_scenarios)


def input_chunk(chunk_scenarios: int) -> int:
    """Scenarios per inner chunk of the scenario inputs: whole chunks that divide the shard,
    at most INPUT_CHUNK_SCENARIOS (or one chunk, if that is more)."""
    per_shard = input_shard(chunk_scenarios) // chunk_scenarios
    fit = max(1, INPUT_CHUNK_SCENARIOS // chunk_scenarios)
    return chunk_scenarios * max(g for g in range(1, fit + 1) if per_shard % g == 0)


def snapshot_chunk(chunk_scenarios: int, snapshots: int) -> int:
    """Scenarios per Zarr chunk of the firm snapshots: the largest divisor of the run's
    chunk that is at most ``snapshots`` (K), so a snapshot chunk never straddles two tasks,
    also after a store grows K. A chunk of the run's size holding only K < it rows would
    make the one write of them a partial chunk's: zarr fills, compares and compresses the
    whole chunk (2.1 s in the main job's first task against 0.15 s)."""
    if snapshots >= chunk_scenarios:
        return chunk_scenarios
    return max(d for d in range(1, max(1, snapshots) + 1) if chunk_scenarios % d == 0)


def outcome_dtype(config: RunConfig) -> np.dtype:
    """The dtype of the stored draws: the kernel's precision. The float32 kernel's metrics
    are, but for a few industry ratios, float32 sums over firms of float32 values divided
    in float64 (``kernels/step.py``), so float32 keeps what they know; rounding to it moves
    a value by at most 6e-8 of itself, and two paths whose values differ by less may tie.
    Kept as float32 they take half the bytes to compress, write, read back for the bands
    and read for analysis (the scenario-heavy job: its writes 5.1 ->
    2.7-3.0 s, its bands 4.3 -> 3.8-3.9 s, its draws 483 -> 359 MB on disk). Readers get
    float64 from :func:`by_metric`, the opener analysis uses."""
    return np.dtype(config.precision)


def draws_template(config: RunConfig) -> tuple[xr.Dataset, dict]:
    """The ``draws`` group as lazy NaN arrays, and its Zarr encoding: (dataset, encoding).

    Written with ``compute=False`` (metadata only). The lazy arrays are cut in shards of
    inputs (``input_shard``), so the template's graph has a task per million scenarios,
    not one per chunk; the ``scenario`` coordinate is not in it (it would be materialised
    as an index): ``store_write.py`` writes it, with the inputs, a shard at a time.
    """
    n, p, t, m = config.n_scenarios, len(config.path_names), config.n_quarters, len(METRICS)
    cs = config.chunk_scenarios
    big = input_shard(cs)
    outcome = xr.Variable(
        ("scenario", "path", "time", "metric"),
        da.full((n, p, t, m), np.nan, chunks=(big, p, t, m), dtype=outcome_dtype(config)),
        {
            "long_name": "outcome of a scenario on a path",
            "units": "see metric_units",
            "description": "Every metric of MODEL.md §6 per scenario, path and quarter; "
            "resonance.open_draws (or layout.by_metric) gives one variable per metric.",
        },
    )
    data_vars = {OUTCOME: outcome}
    encoding = {
        OUTCOME: {
            "chunks": (cs, p, t, 1),
            "shards": (cs, p, t, m),
            "chunk_key_encoding": FLAT_KEYS,
            "write_empty_chunks": True,  # a chunk's shard is its completion mark
            "compressors": (DRAWS_CODEC,),
        }
    }
    for name, dist in zip(config.uncertain_names, config.distributions, strict=True):
        info = PARAMETER_INFO[name]
        data_vars[name] = xr.Variable(
            "scenario",
            da.full(n, np.nan, chunks=big),
            {
                "long_name": info.long_name,
                "units": info.units,
                "description": info.description,
                **dist.attrs(),
            },
        )
        encoding[name] = {"chunks": (input_chunk(cs),), "shards": (big,)}
    # world and replication (R > 1): coordinates on scenario, written with the inputs
    scenario_coords = {
        name: xr.Variable("scenario", da.full(n, -1, dtype=np.int64, chunks=big), attrs)
        for name, attrs in world_coordinates(config).items()
    }
    for name in scenario_coords:
        encoding[name] = {"chunks": (input_chunk(cs),), "shards": (big,)}
    metric_coords = {
        "metric": xr.Variable(
            "metric",
            np.array(METRICS, dtype=object),
            {"long_name": "metric", "units": "1", "description": "Outcome of MODEL.md §6."},
        )
    }
    for field in FIELDS:
        metric_coords[f"metric_{field}"] = xr.Variable(
            "metric",
            np.array([getattr(METRIC_INFO[k], field) for k in METRICS], dtype=object),
            {
                "long_name": f"{field.replace('_', ' ')} of the metric",
                "units": "1",
                "description": f"The {field} attribute of the metric's variable in the bands.",
            },
        )
    coords = {**path_time_coords(config), **metric_coords, **scenario_coords}
    return xr.Dataset(data_vars, coords), encoding


# The world's events of each scenario, stored beside its inputs (the driver writes them
# with the inputs, from plan.world_events): name -> (dtype, fill value, attributes).
EVENTS = {
    "chokepoint": (
        "int8",
        -1,
        {
            "long_name": "chokepoint struck",
            "units": "1",
            "description": "1 where a key-technology chokepoint strikes within the horizon "
            "(S4 §5.2), the same on every path of the scenario; else 0.",
        },
    ),
    "chokepoint_time": (
        "float64",
        float("nan"),
        {
            "long_name": "chokepoint time",
            "units": "years",
            "description": "The time coordinate of the quarter in which the chokepoint "
            "strikes (it binds firms from that quarter on); NaN where it does not strike.",
        },
    ),
    "chokepoint_severity": (
        "float64",
        float("nan"),
        {
            "long_name": "chokepoint severity",
            "units": "1",
            "description": "Its severity s_c: the share of openness lost and of a fully "
            "dependent firm's efficiency while the firm is bound; 0 where it does not strike.",
        },
    ),
}

SCENARIO_ATTRS = {
    "long_name": "scenario index",
    "units": "1",
    "description": "Global scenario index (the RNG counter).",
}

# Coordinates on ``scenario`` of a store with sizes.replications R > 1 (absent when R = 1,
# so such a store is laid out as before them): name -> attributes; int64, fill -1.
WORLD_COORDS = {
    "world": {
        "long_name": "world",
        "units": "1",
        "description": "The world (design point) of the scenario, s // R: its R "
        "replications share its uncertain parameters and unit costs.",
    },
    "replication": {
        "long_name": "replication",
        "units": "1",
        "description": "The scenario's replication of its world, s % R: each draws its own "
        "firms, shocks and events.",
    },
}


def world_coordinates(config: RunConfig) -> dict:
    """``WORLD_COORDS`` where the config has R > 1 replications, else {}."""
    return WORLD_COORDS if config.replications > 1 else {}


def world_values(name: str, start: int, stop: int, replications: int) -> np.ndarray:
    """Values of coordinate ``name`` (``WORLD_COORDS``) of scenarios [start, stop): int64."""
    ids = np.arange(start, stop, dtype=np.int64)
    return ids // replications if name == "world" else ids % replications


def by_metric(draws: xr.Dataset) -> xr.Dataset:
    """The ``draws`` group with one variable per metric (scenario, path, time), float64,
    each with its ``long_name``, ``units`` and ``description``, instead of the stacked
    ``outcome``: lazy, nothing is read. A dataset without ``outcome`` (store_format 1, or
    one already turned) is returned as it is."""
    if OUTCOME not in draws.data_vars:
        return draws
    stacked = draws[OUTCOME]
    out = draws.drop_vars([OUTCOME, "metric", *(f"metric_{f}" for f in FIELDS)])
    # each field's values read once (a lazy coordinate's ``.values`` is one dask compute)
    fields = {f: draws[f"metric_{f}"].values for f in FIELDS}
    for i, name in enumerate(draws["metric"].values.tolist()):
        attrs = {f: str(values[i]) for f, values in fields.items()}
        # float64 whatever the store keeps (``outcome_dtype``): sums and powers of a
        # metric keep float64's precision (exact: every float32 is a float64)
        out[name] = stacked.isel(metric=i, drop=True).astype(np.float64).assign_attrs(attrs)
    return out.assign_attrs(draws.attrs)


def firms_template(config: RunConfig) -> xr.Dataset | None:
    """The ``firms`` group as lazy zero arrays (None when the run keeps no snapshots)."""
    k, years = config.n_snapshots, config.n_quarters // 4
    if not k:  # n_snapshots is 0 without a whole year
        return None
    p, n, cs = len(config.path_names), config.n_firms, snapshot_chunk(config.chunk_scenarios, k)
    arrays = {
        name: da.zeros((k, p, years, n), dtype=SNAPSHOT_DTYPES[name], chunks=(cs, p, years, n))
        for name in SNAPSHOT
    }
    return firms_dataset(arrays, config.path_names, levers=path_coords(config))


def firms_dataset(arrays: dict, paths, first_scenario: int = 0, levers=None) -> xr.Dataset:
    """The ``firms`` group's Dataset of ``arrays``: snapshot name -> array (scenario, path,
    year, firm) of that variable's dtype, with every attribute and coordinate."""
    k, _, years, n = arrays[SNAPSHOT[0]].shape
    dims = ("scenario", "path", "year", "firm")
    data_vars = {
        name: xr.Variable(
            dims,
            arrays[name],
            {
                "long_name": SNAPSHOT_INFO[name].long_name,
                "units": SNAPSHOT_INFO[name].units,
                "description": SNAPSHOT_INFO[name].description,
            },
        )
        for name in SNAPSHOT
    }
    coords = {
        "path": path_coordinate(paths),
        **(levers or {}),
        "scenario": xr.Variable(
            "scenario",
            np.arange(first_scenario, first_scenario + k),
            {
                "long_name": "scenario index",
                "units": "1",
                "description": "Global scenario index: the first K scenarios of the draws.",
            },
        ),
        "year": xr.Variable(
            "year",
            np.arange(1, years + 1),
            {
                "long_name": "end of year",
                "units": "years",
                "description": "Snapshot taken at the end of this year (its fourth quarter).",
            },
        ),
        "firm": xr.Variable(
            "firm",
            np.arange(n),
            {
                "long_name": "firm slot",
                "units": "1",
                "description": "Firm slot; an entrant takes the slot of the firm that exited.",
            },
        ),
    }
    return xr.Dataset(data_vars, coords)
