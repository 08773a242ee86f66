"""What every analysis selects from the ``draws`` group: one (path, quarter, metric) vector
over scenarios, read lazily, and the scenario inputs (uncertain parameters)."""

from __future__ import annotations

import fnmatch
import re

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import ResonanceError
from ..metrics import check_metric

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
    uncertain parameters; each carries its ``distribution`` in its attributes) but the
    world events (``layout.EVENTS``, outcomes of the draws rather than inputs), in the
    design's column order (the store's ``uncertain`` attribute; else the registry's), so
    order-dependent methods (PRIM's ties, the tree ensemble) see them as the run did."""
    from ...kernels.registry import PARAMETERS
    from ..engine.layout import EVENTS

    found = [str(n) for n, v in ds.data_vars.items() if v.dims == ("scenario",) and n not in EVENTS]
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


_WHERE = re.compile(
    r"^\s*(?P<neg>not\s+|!)?(?P<name>[A-Za-z_]\w*)\s*"
    r"(?:(?P<op><=|>=|==|!=|<|>)\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))?\s*$"
)
_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def where(ds: xr.Dataset, expr: str) -> xr.Dataset:
    """The scenarios of a ``draws`` group that ``expr`` selects: a 0/1 variable on
    ``scenario`` (``chokepoint``: where the chokepoint struck), its negation (``not
    chokepoint``), or a variable on ``scenario`` compared with a number
    (``choke_severity>0.3``, ``chokepoint_time<=5``; a NaN value is never selected, negated
    or not, so ``not chokepoint_time<=5`` is ``chokepoint_time>5``). Lazy: only the
    variable of ``expr`` is read. Raises ResonanceError for an expression it cannot read,
    a variable the store lacks and a selection of no scenario."""
    found = _WHERE.match(expr)
    if found is None:
        raise ResonanceError(
            f"--where {expr}",
            "cannot read it",
            "a variable on scenario (chokepoint), 'not chokepoint', or name<op>number",
        )
    name, op = found["name"], found["op"]
    on_scenario = [str(n) for n, v in ds.variables.items() if v.dims == ("scenario",)]
    if name not in on_scenario:
        hint = f"the store's variables on scenario: {', '.join(sorted(on_scenario))}"
        from ..engine.layout import EVENTS

        if name in EVENTS:
            hint = "a store made before the chokepoint (issue 15) has none; run it again"
        raise ResonanceError(f"--where {expr}", f"no variable {name} on scenario", hint)
    values = np.asarray(ds[name].values)
    if op is None:
        if not np.isin(values, (0, 1)).all():
            raise ResonanceError(
                f"--where {expr}", f"{name} is not a 0/1 mark", f"compare it: {name}>0.5"
            )
        mask = values == 1
        if found["neg"]:
            mask = ~mask
    else:
        x = values.astype(np.float64)
        mask = _OPS[op](x, float(found["value"]))
        if found["neg"]:
            mask = ~mask
        mask &= ~np.isnan(x)  # NaN (no strike: no chokepoint_time) is never selected
    if not mask.any():
        raise ResonanceError(f"--where {expr}", f"selects none of the {mask.size} scenarios")
    return ds.isel(scenario=np.flatnonzero(mask))
