"""The size of a path's effect, not only its odds: every path against a reference path on
the same worlds (common random numbers: every path runs on the same scenarios).

For each path p and scenario s at one quarter, with v the outcome and c the cumulative
policy cost,

    d_s = v(p, s) - v(ref, s)          the paired difference, in the outcome's units
    e_s = c(p, s) - c(ref, s)          the extra cumulative cost, in years of R&D spending

and, over the n scenarios (95 % intervals):

- ``mean``: mean(d), with Student's t interval mean ± t(0.975, n - 1) · sd(d) / sqrt(n);
- ``median``: the median of d (numpy's "linear" quantile), with the distribution-free
  interval of order statistics [d_(k), d_(n-k+1)], k = binom.ppf(0.025, n, 1/2) (1-based):
  it covers the median difference with probability >= 95 % whatever d's distribution
  (NaN below 6 scenarios, where no pair of order statistics reaches 95 %);
- ``per_cost``: mean(d) / mean(e) (a ratio of means), with the delta-method interval
  r ± t · sqrt(var(d - r e) / n) / |mean(e)|; NaN where the store has no ``policy_cost``
  or mean(e) is 0 (the reference itself, or a path that costs what it does);
- ``p_better``: P(p beats ref on the same world), ties counting half, and its binomial
  standard error; the direction is the metric's (``flows/metrics.py`` LOWER_IS_BETTER).

With R > 1 replications per world (``sizes.replications``; ``flows/analysis/split.py``),
the R scenarios of a world share its parameters and are not independent draws: the
intervals and standard errors of ``mean``, ``per_cost`` and ``p_better`` are then
clustered by world (the same formulas on the W worlds' means of d, e and the win
indicator, t with W - 1 degrees of freedom), and the median's interval is the percentile
interval of a bootstrap over worlds (``BOOTSTRAP`` resamples, a fixed seed; NaN when the
differences do not fit in memory). The point estimates are those above.

Cumulative cost: the store's ``policy_cost`` (scenario, path, time) is the public cost per
year as a share of the industry's R&D spending; its sum over quarters 0..q of
policy_cost / 4 is the cost up to quarter q in "shares of one year's industry R&D
spending" (0 on the baseline, whose cost is 0).

Besides the stored metrics, the outcome may be ``tfp_growth``: the compound annual growth
rate of ``tfp`` (1 at t = 0) up to the quarter's time T in years, 100 · (tfp_T^(1/T) - 1),
in %/yr (its differences in percentage points per year).

The draws are read a few store chunks at a time (dim letters: s = scenarios of a block,
p = paths), so memory is flat in the number of scenarios: counts are exact, means and
co-moments are float64 sums merged block by block (Chan et al.'s pairwise update). The
quantiles are exact (numpy, in memory) when the differences fit ``bands.MEMORY_CAP``;
beyond it they come from the exact streaming histograms of ``flows/engine/bands.py``,
within the ``quantile_error`` attribute of the numpy value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import dask
import dask.array as da
import numpy as np
import xarray as xr
from scipy import stats

from ..engine import bands
from ..engine.layout import by_metric
from ..errors import ResonanceError
from ..metrics import LOWER_IS_BETTER
from .select import check
from .worlds import replications_of, whole_worlds

TFP_GROWTH = "tfp_growth"  # derived: compound annual growth rate of tfp, %/yr
DERIVED = {TFP_GROWTH: ("tfp", "%/yr", "aggregate TFP growth (compound annual rate)")}
COST = "policy_cost"  # public cost per year, share of the industry's R&D spending
COST_UNITS = "share of one year's industry R&D spending"
LEVEL = 0.95  # every interval's confidence level
# Read at most about this many bytes of draws per compute: a few store chunks at a time.
BLOCK_BYTES = 32 * 2**20
BOOTSTRAP = 400  # resamples of worlds for the median's interval when R > 1


def check_outcome(draws: xr.Dataset, metric: str, paths=()) -> None:
    """``check`` of ``select.py`` for a stored metric or a derived outcome (``DERIVED``)."""
    check(draws, DERIVED[metric][0] if metric in DERIVED else metric, paths)


def units(draws: xr.Dataset, metric: str) -> str:
    """The units of ``metric`` (a stored metric or a derived outcome)."""
    if metric in DERIVED:
        return DERIVED[metric][1]
    from ...kernels.registry import METRIC_INFO

    return str(draws[metric].attrs.get("units", METRIC_INFO[metric].units))


def series(draws: xr.Dataset, metric: str) -> xr.DataArray:
    """Lazy (scenario, path, time) float64 values of ``metric`` in the ``draws`` group (one
    variable per metric, ``layout.by_metric``): a stored metric as it is, ``tfp_growth``
    (%/yr) computed from ``tfp`` at every quarter's time (years since the start)."""
    if metric not in DERIVED:
        return draws[metric]
    tfp = draws[DERIVED[metric][0]]
    with np.errstate(invalid="ignore"):  # a non-positive tfp has no growth rate: NaN
        growth = 100.0 * (tfp ** (1.0 / tfp["time"]) - 1.0)
    return growth.assign_attrs(units=DERIVED[metric][1], long_name=DERIVED[metric][2])


def cumulative_cost(draws: xr.Dataset, quarter: int) -> xr.DataArray | None:
    """Lazy (scenario, path) cumulative policy cost up to ``quarter`` (index into time,
    0-based or negative): sum over quarters 0..quarter of ``policy_cost`` / 4, in shares of
    one year's industry R&D spending. None when the draws have no ``policy_cost``."""
    if COST not in draws:
        return None
    q = quarter % draws.sizes["time"]
    return draws[COST].isel(time=slice(0, q + 1)).sum("time") / 4.0


def blocks(arrays: list[xr.DataArray]) -> Iterator[list[np.ndarray]]:
    """Aligned float64 numpy blocks of lazy (scenario, path) arrays, a few store chunks of
    scenarios at a time (about BLOCK_BYTES): one list of (s, p) blocks per step."""
    data = [a.data for a in arrays]
    lazy = [x for x in data if isinstance(x, da.Array)]
    if not lazy:
        yield [np.asarray(x, dtype=np.float64) for x in data]
        return
    rows = lazy[0].chunks[0]
    data = [da.asarray(x).rechunk({0: rows}) for x in data]
    row_bytes = 8 * sum(int(np.prod(x.shape[1:])) for x in data)
    k = 0
    while k < len(rows):
        stop, size = k, 0
        while stop < len(rows) and (stop == k or (size + rows[stop]) * row_bytes <= BLOCK_BYTES):
            size += rows[stop]
            stop += 1
        parts = dask.compute(*(x.blocks[k:stop] for x in data))
        yield [np.asarray(x, dtype=np.float64) for x in parts]
        k = stop


class _Moments:
    """Running count, means and co-moments (p,) of the differences d and extra costs e,
    merged block by block (Chan, Golub & LeVeque 1979): float64, stable when the mean is
    large against the spread."""

    def __init__(self, p: int):
        self.n = 0
        self.mean_d = np.zeros(p)
        self.mean_e = np.zeros(p)
        self.m_dd = np.zeros(p)
        self.m_ee = np.zeros(p)
        self.m_de = np.zeros(p)

    def add(self, d: np.ndarray, e: np.ndarray) -> None:
        nb = d.shape[0]
        if nb == 0:
            return
        mb_d, mb_e = d.mean(axis=0), e.mean(axis=0)
        cd, ce = d - mb_d, e - mb_e
        n = self.n + nb
        delta_d, delta_e = mb_d - self.mean_d, mb_e - self.mean_e
        w = self.n * nb / n
        self.m_dd += (cd * cd).sum(axis=0) + delta_d * delta_d * w
        self.m_ee += (ce * ce).sum(axis=0) + delta_e * delta_e * w
        self.m_de += (cd * ce).sum(axis=0) + delta_d * delta_e * w
        self.mean_d += delta_d * nb / n
        self.mean_e += delta_e * nb / n
        self.n = n


class _Worlds:
    """The moments of the worlds' means of d, e and the win indicator (p,), fed scenario
    blocks in world-major order whose bounds need not fall on worlds: the rows of a world
    cut by a block wait for the next."""

    def __init__(self, p: int, replications: int):
        self.r = replications
        self.moments = _Moments(p)
        self.wins = _Moments(p)  # mean_d: mean win fraction; m_dd: its co-moment
        self.rest = np.empty((0, 3, p))

    def add(self, d: np.ndarray, e: np.ndarray, win: np.ndarray) -> None:
        rows = np.concatenate([self.rest, np.stack([d, e, win], axis=1)])
        whole = rows.shape[0] // self.r * self.r
        self.rest = rows[whole:]
        means = rows[:whole].reshape(whole // self.r, self.r, *rows.shape[1:]).mean(axis=1)
        self.moments.add(means[:, 0], means[:, 1])
        self.wins.add(means[:, 2], np.zeros_like(means[:, 2]))


def world_bootstrap(d: np.ndarray, replications: int, level: float = LEVEL):
    """Percentile interval (lo, hi) (p,) of the median of d (s, p), s = W R scenarios in
    world-major order, from ``BOOTSTRAP`` resamples of whole worlds (seed 0: the same
    interval every time it is asked)."""
    by_world = d.reshape(d.shape[0] // replications, replications, d.shape[1])
    rng = np.random.default_rng(0)
    n_worlds = by_world.shape[0]
    medians = np.empty((BOOTSTRAP, d.shape[1]))
    for b in range(BOOTSTRAP):
        pick = by_world[rng.integers(0, n_worlds, n_worlds)]
        medians[b] = np.median(pick.reshape(-1, d.shape[1]), axis=0)
    alpha = (1.0 - level) / 2.0
    return np.quantile(medians, alpha, axis=0), np.quantile(medians, 1.0 - alpha, axis=0)


def median_ranks(n: int, level: float = LEVEL) -> tuple[int, int] | None:
    """0-based ranks (lo, hi) of the order statistics that bound the median with
    probability >= ``level`` (binomial, distribution-free), or None when n is too small."""
    k = int(stats.binom.ppf((1.0 - level) / 2.0, n, 0.5))
    if k < 1:
        return None
    return k - 1, n - k


def effects(
    draws: xr.Dataset,
    metric: str,
    quarter: int = -1,
    reference: str = "baseline",
    paths: Sequence[str] | None = None,
    higher_is_better: bool | None = None,
    exact: bool | None = None,
) -> xr.Dataset:
    """Every path (or ``paths``) against ``reference`` on ``metric`` at ``quarter``, paired
    over the scenarios of the ``draws`` group (see the module docstring).

    metric: a metric of the store or ``tfp_growth``. quarter: index into ``time`` (-1 the
    last). higher_is_better: None takes the metric's direction. exact: None computes the
    quantiles in memory when the differences fit ``bands.MEMORY_CAP``, else streams them.

    Returns a Dataset with dim ``path`` and float64 variables, in the metric's units unless
    said: ``mean``, ``mean_low``, ``mean_high``, ``std``, ``mean_se`` (of d = path - ref);
    ``median``, ``median_low``, ``median_high`` (of d); ``cost`` (mean extra cumulative
    cost e, shares of one year's R&D spending; NaN without ``policy_cost``);
    ``per_cost``, ``per_cost_low``, ``per_cost_high`` (metric units per share of one
    year's R&D spending); ``p_better``, ``p_better_se`` (probabilities); ``value_mean``,
    ``value_median``, ``value_p5``, ``value_p95`` (the path's own outcome); ``n``
    (scenarios, int64). The draws' coordinates on ``path`` (drawn levers) come along;
    attributes: metric, reference, quarter, years, units, cost_units, level,
    higher_is_better, has_cost, exact, quantile_error.
    """
    draws = by_metric(draws)  # a draws group as stored: a variable per metric
    paths = [str(p) for p in draws.path.values] if paths is None else [str(p) for p in paths]
    check_outcome(draws, metric, (reference, *paths))
    replications = replications_of(draws)
    draws = whole_worlds(draws)  # a stopped run's part of a world is left out
    n_time = draws.sizes["time"]
    if not -n_time <= quarter < n_time:
        raise ResonanceError(
            f"--quarter {quarter}",
            f"out of range for {n_time} quarters",
            f"use -{n_time}..{n_time - 1}",
        )
    if higher_is_better is None:
        higher_is_better = metric not in LOWER_IS_BETTER
    needed = list(dict.fromkeys([reference, *paths]))  # the reference first, then the rest
    cols = np.array([needed.index(p) for p in paths])
    values = series(draws, metric).isel(time=quarter).sel(path=needed)
    values = values.transpose("scenario", "path")
    cost = cumulative_cost(draws, quarter)
    arrays = (
        [values] if cost is None else [values, cost.sel(path=needed).transpose("scenario", "path")]
    )

    n_scenarios = draws.sizes["scenario"]
    if exact is None:
        exact = bands.fits_in_memory(n_scenarios, 2 * len(paths))
    moments = _Moments(len(paths))
    worlds = _Worlds(len(paths), replications) if replications > 1 else None
    wins = np.zeros(len(paths), dtype=np.int64)
    ties = np.zeros(len(paths), dtype=np.int64)
    sums_v = np.zeros(len(paths))
    kept: list[np.ndarray] = []  # (s, p, 2) [value, d] blocks when exact

    def split(block):
        v = block[0]
        level = v[:, cols]
        d = level - v[:, :1]
        e = block[1][:, cols] - block[1][:, :1] if cost is not None else np.zeros_like(d)
        return level, d, e

    for block in blocks(arrays):
        level, d, e = split(block)
        moments.add(d, e)
        sums_v += level.sum(axis=0)
        win = (d > 0) if higher_is_better else (d < 0)
        wins += win.sum(axis=0)
        ties += (d == 0).sum(axis=0)
        if worlds is not None:
            worlds.add(d, e, win + 0.5 * (d == 0))
        if exact:
            kept.append(np.stack([level, d], axis=-1))
    n = moments.n
    if n == 0:
        raise ResonanceError("store", "holds no scenarios", "run it first")

    ranks = median_ranks(n)
    quantile_error = 0.0
    if exact:
        x = np.concatenate(kept)  # (s, p, 2)
        q = np.quantile(x, [0.05, 0.5, 0.95], axis=0)  # (3, p, 2)
        value_p5, value_median, value_p95 = q[0, :, 0], q[1, :, 0], q[2, :, 0]
        median = q[1, :, 1]
        if ranks is not None:
            ordered = np.partition(x[:, :, 1], list(ranks), axis=0)
            median_low, median_high = ordered[ranks[0]], ordered[ranks[1]]
    else:
        fractions = [0.05, 0.5, 0.95]
        if ranks is not None:
            fractions += [r / (n - 1) for r in ranks]

        class Stacked:  # re-iterable: every band pass reads the blocks afresh
            def __iter__(self):
                for block in blocks(arrays):
                    level, d, _ = split(block)
                    yield np.stack([level, d], axis=-1)[:, :, None, :]  # (s, p, 1, 2)

        b = bands.compute_bands(
            bands.sequential_map_reduce(Stacked()), (len(paths), 1, 2), fractions
        )
        q = b["quantiles"][:, 0]  # (p, 2, quantile)
        value_p5, value_median, value_p95 = q[:, 0, 0], q[:, 0, 1], q[:, 0, 2]
        median = q[:, 1, 1]
        if ranks is not None:
            median_low, median_high = q[:, 1, 3], q[:, 1, 4]
        quantile_error = float(np.max(b["error"]))
    if ranks is None or worlds is not None:
        median_low = median_high = np.full(len(paths), np.nan)
    if worlds is not None and exact and n // replications >= 2:
        median_low, median_high = world_bootstrap(x[:, :, 1], replications)

    var_d = moments.m_dd / (n - 1) if n > 1 else np.full(len(paths), np.nan)
    std = np.sqrt(var_d)
    mean = moments.mean_d
    mean_cost = moments.mean_e if cost is not None else np.full(len(paths), np.nan)
    p = (wins + 0.5 * ties) / n
    # The units the intervals count: scenarios, or with replications the worlds (clusters).
    units_n, unit_moments = (n, moments) if worlds is None else (worlds.moments.n, worlds.moments)
    t = float(stats.t.ppf(0.5 + LEVEL / 2.0, units_n - 1)) if units_n > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        if worlds is None:  # as before the clusters: the same bits on a store with R = 1
            mean_se = std / np.sqrt(n)
        else:
            mean_se = np.sqrt(unit_moments.m_dd / (units_n - 1) / units_n)
        costly = np.isfinite(mean_cost) & (mean_cost != 0)
        ratio = np.where(costly, mean / np.where(costly, mean_cost, 1.0), np.nan)
        r = np.where(costly, ratio, 0.0)
        m = unit_moments
        var_ratio = (m.m_dd - 2 * r * m.m_de + r * r * m.m_ee) / (units_n - 1)
        ratio_se = np.sqrt(np.maximum(var_ratio, 0.0) / units_n) / np.abs(mean_cost)
        if worlds is None:
            p_se = np.sqrt(p * (1.0 - p) / n)
        else:
            p_se = np.sqrt(worlds.wins.m_dd / (units_n - 1) / units_n)
    ratio_se = np.where(costly, ratio_se, np.nan)

    u = units(draws, metric)
    diff_units = "percentage points per year" if u == "%/yr" else u
    per_cost_units = f"{diff_units} per {COST_UNITS}"
    specs = {
        "mean": (mean, "mean difference", diff_units),
        "mean_low": (mean - t * mean_se, "lower 95 % limit of the mean difference", diff_units),
        "mean_high": (mean + t * mean_se, "upper 95 % limit of the mean difference", diff_units),
        "std": (std, "standard deviation of the difference", diff_units),
        "mean_se": (mean_se, "standard error of the mean difference", diff_units),
        "median": (median, "median difference", diff_units),
        "median_low": (median_low, "lower 95 % limit of the median difference", diff_units),
        "median_high": (median_high, "upper 95 % limit of the median difference", diff_units),
        "cost": (mean_cost, "mean extra cumulative policy cost", COST_UNITS),
        "per_cost": (ratio, "mean difference per unit of extra cost", per_cost_units),
        "per_cost_low": (ratio - t * ratio_se, "lower 95 % limit of per_cost", per_cost_units),
        "per_cost_high": (ratio + t * ratio_se, "upper 95 % limit of per_cost", per_cost_units),
        "p_better": (p, f"probability of beating {reference} on the same world", "1"),
        "p_better_se": (p_se, "standard error of p_better", "1"),
        "value_mean": (sums_v / n, "mean of the path's outcome", u),
        "value_median": (value_median, "median of the path's outcome", u),
        "value_p5": (value_p5, "5th percentile of the path's outcome", u),
        "value_p95": (value_p95, "95th percentile of the path's outcome", u),
    }
    coords = {"path": np.array(paths, dtype=object)}
    for name, c in draws.coords.items():
        if c.dims == ("path",) and name != "path":
            coords[name] = ("path", c.sel(path=paths).values, c.attrs)
    out = xr.Dataset(
        {
            name: ("path", np.asarray(value, dtype=np.float64), {"long_name": long, "units": un})
            for name, (value, long, un) in specs.items()
        },
        coords=coords,
    )
    out["n"] = ("path", np.full(len(paths), n, dtype=np.int64), {"long_name": "scenarios"})
    out.attrs = {
        "metric": metric,
        "reference": reference,
        "quarter": int(quarter % n_time),
        "years": float(draws.time[quarter]),
        "units": u,
        "difference_units": diff_units,
        "cost_units": COST_UNITS,
        "level": LEVEL,
        "higher_is_better": int(bool(higher_is_better)),
        "has_cost": int(cost is not None),
        "exact": int(bool(exact)),
        "quantile_error": quantile_error,
        "replications": replications,
        "worlds": n // replications,
    }
    return out
