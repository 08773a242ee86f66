"""Paired comparison of two paths on the same scenarios (common random numbers): the
differences b - a, their bands, the size of the effect (mean and median with 95 %
intervals, per unit of policy cost: ``effects.py``), P(b beats a) and Monte Carlo
standard errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..engine.layout import by_metric
from .effects import check_outcome, effects, series
from .select import QUANTILES


@dataclass
class Comparison:
    """b - a on the same scenarios, at one quarter (or over all quarters for ``over_time``).

    Differences are in ``units`` (the metric's; percentage points per year for
    ``tfp_growth``); ``cost`` in shares of one year's industry R&D spending, ``per_cost``
    in ``units`` per that share (NaN when the store has no ``policy_cost`` or b costs what
    a does); the ``*_low``/``*_high`` pairs are 95 % intervals (``effects.py``)."""

    a: str
    b: str
    metric: str
    years: float
    n: int
    quantiles: dict[float, float]
    mean: float
    std: float
    mean_se: float  # Monte Carlo standard error of the mean difference
    p_better: float  # probability that b beats a (ties count half)
    p_better_se: float
    higher_is_better: bool
    over_time: xr.Dataset  # quantiles (time, quantile) and mean (time) of b - a
    mean_low: float
    mean_high: float
    median: float
    median_low: float
    median_high: float
    cost: float  # mean extra cumulative policy cost of b over a
    per_cost: float
    per_cost_low: float
    per_cost_high: float
    units: str
    has_cost: bool


def compare(ds: xr.Dataset, a: str, b: str, metric: str, quarter: int = -1) -> Comparison:
    """Paired comparison of path b against path a on ``metric`` (a metric of the store, or
    ``tfp_growth``) at ``quarter`` (see the module docstring)."""
    ds = by_metric(ds)  # a draws group as stored: a variable per metric
    check_outcome(ds, metric, (a, b))
    e = effects(ds, metric, quarter, reference=a, paths=[b]).isel(path=0)
    values = series(ds, metric)
    diff = values.sel(path=b) - values.sel(path=a)  # lazy (scenario, time)
    d = np.asarray(diff.isel(time=quarter).values, dtype=np.float64)
    over_time = xr.Dataset(
        {
            "quantile_of_difference": diff.chunk({"scenario": -1}).quantile(
                list(QUANTILES), dim="scenario"
            ),
            "mean_difference": diff.mean("scenario"),
        }
    ).compute()

    def f(name: str) -> float:
        return float(e[name])

    return Comparison(
        a,
        b,
        metric,
        e.attrs["years"],
        int(e["n"]),
        dict(zip(QUANTILES, np.quantile(d, QUANTILES), strict=True)),
        f("mean"),
        f("std"),
        f("mean_se"),
        f("p_better"),
        f("p_better_se"),
        bool(e.attrs["higher_is_better"]),
        over_time,
        f("mean_low"),
        f("mean_high"),
        f("median"),
        f("median_low"),
        f("median_high"),
        f("cost"),
        f("per_cost"),
        f("per_cost_low"),
        f("per_cost_high"),
        e.attrs["difference_units"],
        bool(e.attrs["has_cost"]),
    )
