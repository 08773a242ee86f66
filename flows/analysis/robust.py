"""Robustness of every path across the stored worlds: regret, satisficing and the worst case.

Every path runs on the same scenarios (common random numbers), so in each world s the best
path is known exactly and a path's regret there is

    regret(p, s) = max_q v(q, s) - v(p, s)        (maximising; the mirror when minimising)

Per path, over the worlds at one quarter: regret's mean, 90th percentile and maximum; the
satisficing share P(v >= X) (v <= X when minimising) with its binomial standard error;
the worst case, the 10th percentile on the bad side, the mean and standard deviation of v;
and the rank of each path under each criterion (1 = best).

The draws are read a few store chunks at a time (``effects.blocks``; dim letters: s =
scenarios of a block, p = paths), so memory is flat in the number of scenarios. Counts,
minima and maxima are exact; means are float64 sums in block order; the two percentiles
come from the exact streaming histograms of the bands (``flows/engine/bands.py``), within
``quantile_error`` of the numpy value.

Beside the criteria, the size of each path's effect against a reference path (the
baseline) on the same worlds: the mean difference with its 95 % interval, the difference
per unit of policy cost and P(beats the reference) (``effects.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import stats

from ..engine import bands
from ..engine.layout import by_metric
from ..errors import ResonanceError
from ..metrics import LOWER_IS_BETTER
from .effects import blocks, check_outcome, effects, series
from .worlds import design_effect_bound, replications_of, whole_worlds

# criterion -> (label, higher is better for the path)
CRITERIA = {
    "regret_mean": ("mean regret", False),
    "regret_p90": ("90th-percentile regret", False),
    "regret_max": ("maximum regret", False),
    "satisficing": ("satisficing share", True),
    "worst": ("worst case", True),
    "tail_p10": ("10th percentile (bad side)", True),
    "mean": ("mean", True),
}


@dataclass
class Robustness:
    """The robustness table of one metric at one quarter: ``table`` has dim ``path`` with a
    variable per criterion (``CRITERIA``; ``satisficing`` and ``satisficing_se`` only with a
    threshold), ``std``, and ``rank`` (criterion, path); values are in the metric's units
    (worst and tail_p10 on the bad side: minima and 10th percentiles when maximising,
    maxima and 90th percentiles when minimising). Read ``table["mean"]`` and
    ``table["std"]`` by key: as attributes they are Dataset methods."""

    metric: str
    years: float
    n: int
    maximize: bool
    satisfice: float | None
    quantile_error: float  # bound on the error of regret_p90 and tail_p10
    table: xr.Dataset
    # every path against the reference (``effects.effects``, in the direction of
    # ``maximize``); None when the store has no path of that name
    effects: xr.Dataset | None = None


def robustness(
    ds: xr.Dataset,
    metric: str,
    quarter: int = -1,
    satisfice: float | None = None,
    maximize: bool | None = None,
    reference: str = "baseline",
) -> Robustness:
    """Robustness of every path of the ``draws`` group ``ds`` on ``metric`` (a metric of
    the store, or ``tfp_growth``) at ``quarter``.

    maximize: whether more of the metric is better; None takes the metric's own direction
    (all but ``institutional_gap`` and ``chokepoint_loss``). satisfice: the threshold X of
    the satisficing share. reference: the path every path's effect is measured against.
    """
    ds = by_metric(ds)  # a draws group as stored: a variable per metric
    ds = whole_worlds(ds)  # a stopped run's part of a world is left out (as effects does)
    check_outcome(ds, metric)
    if satisfice is not None and not np.isfinite(satisfice):
        raise ResonanceError("--satisfice", f"{satisfice}", "a finite threshold")
    if maximize is None:
        maximize = metric not in LOWER_IS_BETTER
    paths = [str(p) for p in ds.path.values]
    values = series(ds, metric).isel(time=quarter).transpose("scenario", "path")
    sign = 1.0 if maximize else -1.0  # work on u = sign * v, where more is always better

    def stacked(v):
        """(s, p, 1, 2): u and its regret, the layout the band passes read."""
        u = sign * v
        regret = u.max(axis=1, keepdims=True) - u
        return np.stack([u, regret], axis=-1)[:, :, None, :]

    class Stacked:  # re-iterable: every band pass reads the blocks afresh
        def __iter__(self):
            return (stacked(v) for (v,) in blocks([values]))

    chunks = Stacked()

    # One pass for exact counts, sums and extremes, then the band passes for the percentiles.
    n = 0
    sums = np.zeros((len(paths), 2))
    lo_u = np.full((len(paths), 2), np.inf)
    hi_u = np.full((len(paths), 2), -np.inf)
    satisfied = np.zeros(len(paths), dtype=np.int64)
    for block in chunks:
        x = block[:, :, 0, :]
        n += x.shape[0]
        sums += x.sum(axis=0)
        lo_u = np.minimum(lo_u, x.min(axis=0, initial=np.inf))
        hi_u = np.maximum(hi_u, x.max(axis=0, initial=-np.inf))
        if satisfice is not None:
            satisfied += (x[:, :, 0] >= sign * satisfice).sum(axis=0)
    if n == 0:
        raise ResonanceError("store", "holds no scenarios", "run it first")
    q = bands.compute_bands(bands.sequential_map_reduce(chunks), (len(paths), 1, 2), [0.1, 0.9])

    data = {
        "regret_mean": sums[:, 1] / n,
        "regret_p90": q["quantiles"][:, 0, 1, 1],
        "regret_max": hi_u[:, 1],
        "worst": sign * lo_u[:, 0],
        "tail_p10": sign * q["quantiles"][:, 0, 0, 0],
        "mean": sign * sums[:, 0] / n,
        "std": q["std"][:, 0, 0],
    }
    if satisfice is not None:
        share = satisfied / n
        data["satisficing"] = share
        data["satisficing_se"] = np.sqrt(share * (1.0 - share) / n) * design_effect_bound(
            replications_of(ds)
        )
    criteria = [c for c in CRITERIA if c in data]
    ranks = []
    for c in criteria:
        value = np.asarray(data[c], dtype=np.float64)
        if c.startswith("regret"):
            good = -value  # less regret is better
        elif c == "satisficing":
            good = value
        else:
            good = sign * value  # worst, tail and mean in the metric's units
        ranks.append(stats.rankdata(-good, method="min").astype(np.int64))  # ties share
    table = xr.Dataset(
        {name: ("path", np.asarray(value, dtype=np.float64)) for name, value in data.items()},
        coords={"path": paths, "criterion": criteria},
    )
    table["rank"] = (("criterion", "path"), np.array(ranks))
    paired = None
    if reference in paths:
        paired = effects(ds, metric, quarter, reference, higher_is_better=bool(maximize))
    return Robustness(
        metric,
        float(ds.time[quarter]),
        n,
        bool(maximize),
        satisfice,
        float(np.max(q["error"])),
        table,
        paired,
    )
