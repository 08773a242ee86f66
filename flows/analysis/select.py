"""What every analysis selects from the ``draws`` group: one (path, quarter, metric) vector
over scenarios, read lazily, and the scenario inputs (uncertain parameters)."""

from __future__ import annotations

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


def vector(ds: xr.Dataset, metric: str, path: str, quarter: int) -> np.ndarray:
    """float64 (scenario,): ``metric`` on ``path`` at ``quarter`` (index; -1 the last)."""
    return np.asarray(ds[metric].sel(path=path).isel(time=quarter).values, dtype=np.float64)
