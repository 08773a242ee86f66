"""What every analysis selects from the ``draws`` group: one (path, quarter, metric) vector
over scenarios, read lazily, and the scenario inputs (uncertain parameters)."""

from __future__ import annotations

import fnmatch

import numpy as np
import pandas as pd
import xarray as xr

from resonance.flows.errors import ResonanceError
from resonance.flows.metrics import check_metric

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def check(ds: xr.Dataset, metric: str, paths=()) -> None:
    check_metric(metric)
    if metric not in ds:
        raise ResonanceError(f"--metric {metric}", "not in this store")
    known = [str(p) for p in ds.path.values]
    for path in paths:
        if path not in known:
            raise ResonanceError(
                f"path {path}", "not in this store", f"the store has: {', '.join(known)}"
            )


def inputs(ds: xr.Dataset) -> pd.DataFrame:
    """The uncertain parameters of every scenario, (scenario, parameter)."""
    return pd.DataFrame({name: ds[name].values for name in input_names(ds)})


def input_names(ds: xr.Dataset) -> list[str]:
    """The scenario inputs of a ``draws`` group: its variables on ``scenario`` alone (the
    uncertain parameters; each carries its ``distribution`` in its attributes), in the
    design's column order (the store's ``uncertain`` attribute; else the registry's), so
    order-dependent methods (PRIM's ties, the tree ensemble) see them as the run did."""
    from resonance.kernels.registry import PARAMETERS

    found = [str(n) for n, v in ds.data_vars.items() if v.dims == ("scenario",)]
    order = list(ds.attrs.get("uncertain", [])) or list(PARAMETERS)
    return sorted(found, key=lambda n: (order.index(n) if n in order else len(order), n))


def matching_paths(ds: xr.Dataset, pattern: str) -> list[str]:
    """The store's paths that ``pattern`` names: one path, or a shell pattern such as
    ``spillover_support/*`` (the policies of a path file with lever ranges)."""
    known = [str(p) for p in ds.path.values]
    found = [p for p in known if fnmatch.fnmatchcase(p, pattern)]
    if not found:
        raise ResonanceError(
            f"path {pattern}", "not in this store", f"the store has: {', '.join(known)}"
        )
    return found


def lever_names(ds: xr.Dataset, paths: list[str]) -> list[str]:
    """The drawn-lever coordinates (``lever_*``) that have a value on every one of ``paths``."""
    names = [str(c) for c in ds.coords if str(c).startswith("lever_") and ds[c].dims == ("path",)]
    return [c for c in names if np.isfinite(ds[c].sel(path=paths).values).all()]


def cases(
    ds: xr.Dataset, metric: str, pattern: str, quarter: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """The inputs and outcomes of every (scenario, path) that ``pattern`` names: x
    (case, input) and y float64 (case,). For one path the cases are its scenarios and the
    inputs the uncertain parameters; for several (a family of drawn policies), the cases
    are every scenario under every policy, scenario-major, and the inputs add the drawn
    levers, so that sensitivity and discovery can tell how much a lever must be pulled."""
    paths = matching_paths(ds, pattern)
    x = inputs(ds)
    if len(paths) == 1:
        return x, vector(ds, metric, paths[0], quarter)
    y = ds[metric].sel(path=paths).isel(time=quarter).transpose("scenario", "path").values
    n, p = y.shape
    columns = {c: np.repeat(x[c].values, p) for c in x.columns}
    for name in lever_names(ds, paths):
        columns[name] = np.tile(ds[name].sel(path=paths).values.astype(np.float64), n)
    return pd.DataFrame(columns), np.asarray(y, dtype=np.float64).reshape(-1)


def vector(ds: xr.Dataset, metric: str, path: str, quarter: int) -> np.ndarray:
    """float64 (scenario,): ``metric`` on ``path`` at ``quarter`` (index; -1 the last)."""
    return np.asarray(ds[metric].sel(path=path).isel(time=quarter).values, dtype=np.float64)
