"""Paired comparison of two paths on the same scenarios (common random numbers): the
differences b - a, their bands, P(b beats a) and Monte Carlo standard errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from resonance.flows.analysis.select import QUANTILES, check
from resonance.flows.engine.layout import by_metric
from resonance.flows.metrics import LOWER_IS_BETTER


@dataclass
class Comparison:
    """b - a on the same scenarios, at one quarter (or over all quarters for ``over_time``)."""

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


def compare(ds: xr.Dataset, a: str, b: str, metric: str, quarter: int = -1) -> Comparison:
    """Paired comparison of path b against path a on ``metric`` (see the module docstring)."""
    ds = by_metric(ds)  # a draws group as stored: a variable per metric
    check(ds, metric, (a, b))
    diff = ds[metric].sel(path=b) - ds[metric].sel(path=a)  # lazy (scenario, time)
    d = np.asarray(diff.isel(time=quarter).values, dtype=np.float64)
    n = d.size
    higher = metric not in LOWER_IS_BETTER
    wins = (d > 0) if higher else (d < 0)
    p = (wins.sum() + 0.5 * (d == 0).sum()) / n
    over_time = xr.Dataset(
        {
            "quantile_of_difference": diff.chunk({"scenario": -1}).quantile(
                list(QUANTILES), dim="scenario"
            ),
            "mean_difference": diff.mean("scenario"),
        }
    ).compute()
    std = float(d.std(ddof=1)) if n > 1 else 0.0
    return Comparison(
        a,
        b,
        metric,
        float(ds.time[quarter]),
        n,
        dict(zip(QUANTILES, np.quantile(d, QUANTILES), strict=True)),
        float(d.mean()),
        std,
        std / np.sqrt(n),
        float(p),
        float(np.sqrt(p * (1 - p) / n)),
        higher,
        over_time,
    )
