"""The layout of a store: groups, variables, dims, chunks, attributes (DESIGN.md, "The store").

- root: bands. ``<metric>`` (path, time, quantile), ``<metric>_mean`` and ``<metric>_std``
  (path, time), ``<metric>_quantile_error`` (path, time): the bound on the absolute error of
  that metric's quantiles (see ``bands.py``). Provenance in the root attributes.
- ``draws``: ``<metric>`` (scenario, path, time), chunked along ``scenario`` one chunk per
  task; each uncertain parameter of the config's ``uncertain:`` on ``scenario``, its
  distribution in the attributes (``distribution``, ``low``, ``high``, ...); ``chunk_done``
  (chunk,) int8, 1 once that chunk is completely written.
- ``firms``: snapshots of every firm at the end of every year for the first K scenarios
  (``sizes.firm_snapshots``): ``log_tfp``, ``market_share``, ``rd_intensity``,
  ``new_paradigm``, ``entered``, ``breakthrough_value`` with dims (scenario, path, year,
  firm), chunked along ``scenario`` as the draws are. Absent when K is 0.

``store.py`` writes what this module lays out.
"""

from __future__ import annotations

from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version

import dask.array as da
import numpy as np
import xarray as xr

from resonance.flows.config import RunConfig
from resonance.kernels.registry import (
    METRIC_INFO,
    METRICS,
    PARAMETER_INFO,
    SNAPSHOT,
    SNAPSHOT_INFO,
)

FIRMS = "firms"
STORE_MARK = "resonance_store"  # root attribute that tells a resonance store from anything else
# Flags are stored as bytes; the other snapshot variables as float32, as the kernel keeps them.
SNAPSHOT_DTYPES = {
    name: np.uint8 if name in ("new_paradigm", "entered") else np.float32 for name in SNAPSHOT
}
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


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


# zstd keeps about half of a draw's 8 bytes (measured: 0.50 on the default store, whose
# metrics are float64 of float32 arithmetic); the estimate below takes a little more.
DRAWS_KEPT = 0.55


def store_bytes(config: RunConfig, scenarios: int) -> int:
    """About how many bytes a store of ``config`` with ``scenarios`` scenarios takes on
    disk: the draws (compressed), the scenario inputs and the firm snapshots."""
    p, t = len(config.path_names), config.n_quarters
    per_scenario = p * t * len(METRICS) * 8 * DRAWS_KEPT + (len(config.uncertain_names) + 1) * 8
    k = min(config.n_snapshots, scenarios)
    firm_year = sum(np.dtype(d).itemsize for d in SNAPSHOT_DTYPES.values())
    snapshots = k * p * (t // 4) * config.n_firms * firm_year
    return int(scenarios * per_scenario + snapshots)


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
        # the validated config with its overrides, and where it was read: resonance verify
        # rebuilds the run from these
        "config_effective": config.canonical,
        "config_file": str(config.source),
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
    return {"time": time, "path": path_coordinate(config.path_names), **lever_coords(config)}


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


def draws_template(config: RunConfig, theta: np.ndarray) -> xr.Dataset:
    """The ``draws`` group as lazy NaN arrays plus the scenario inputs (written eagerly)."""
    n, p, t = config.n_scenarios, len(config.path_names), config.n_quarters
    cs = config.chunk_scenarios
    data_vars = {}
    for metric in METRICS:
        data_vars[metric] = xr.Variable(
            ("scenario", "path", "time"),
            da.full((n, p, t), np.nan, chunks=(cs, p, t)),
            metric_attrs(metric),
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
        **path_time_coords(config),
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


def firms_template(config: RunConfig) -> xr.Dataset | None:
    """The ``firms`` group as lazy zero arrays (None when the run keeps no snapshots)."""
    k, years = config.n_snapshots, config.n_quarters // 4
    if not k:  # n_snapshots is 0 without a whole year
        return None
    p, n, cs = len(config.path_names), config.n_firms, config.chunk_scenarios
    arrays = {
        name: da.zeros((k, p, years, n), dtype=SNAPSHOT_DTYPES[name], chunks=(cs, p, years, n))
        for name in SNAPSHOT
    }
    return firms_dataset(arrays, config.path_names, levers=lever_coords(config))


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
