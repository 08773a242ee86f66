"""World or luck: how much of a band is the spread of the world's expected outcome, and
how much the firms' luck (a store run with ``sizes.replications`` R > 1).

Scenario s of such a store is replication r = s % R of world w = s // R: the R
replications share the world's uncertain parameters (its design point) and unit costs, and
each draws its own firms, shocks and events. For one outcome (metric, path, quarter),
Y[w, r] = m(w) + e[w, r], with m(w) = E[Y | w] the world's expected outcome and e the
luck of one draw of firms. The one-way random-effects analysis of variance splits the
variance of one scenario's Y into

- world (between worlds): Var m(w), estimated without bias as the variance of the
  replication means over worlds less the mean within-world variance / R, floored at 0;
- luck (within a world): E Var(Y | w), the within-world variance pooled over worlds
  (W (R - 1) degrees of freedom);

and each one's share of their sum. The band of the world's expected outcome is the
quantiles over worlds of the replication means (with R finite these still carry a luck
variance of luck / R: they are a little wider than the band of m(w) itself).

``split`` takes plain arrays; ``world_split`` reads a store's draws; ``world_means`` gives
a draws Dataset of one row per world (what ``sensitivity`` computes Sobol indices on).
Dim letters: w = worlds, r = replications, s = scenarios (w r of them, world-major).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..engine.layout import EVENTS, WORLD_COORDS, by_metric
from ..errors import ResonanceError
from ..metrics import HEADLINE
from .worlds import replications_of, whole_worlds

# The outcomes ``resonance summary`` splits: TFP growth (effects.TFP_GROWTH, %/yr) in place
# of the TFP level, then the other headline metrics.
SPLIT_OUTCOMES = ("tfp_growth", *(m for m in HEADLINE if m != "tfp"))


@dataclass(frozen=True)
class Split:
    """The variance of one scenario's outcome split into world and luck: float64 arrays of
    the outcome's shape without its scenario axis, in the outcome's units squared."""

    world: np.ndarray  # Var E[Y | w]: between worlds, unbiased, floored at 0
    luck: np.ndarray  # E Var(Y | w): within a world, pooled over worlds
    world_means: np.ndarray  # (w, ...): each world's mean over its replications

    @property
    def total(self) -> np.ndarray:
        """world + luck: the variance of one scenario's outcome."""
        return self.world + self.luck

    @property
    def world_share(self) -> np.ndarray:
        """world / total (NaN where the total is 0)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.world / self.total

    @property
    def luck_share(self) -> np.ndarray:
        """luck / total (NaN where the total is 0)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.luck / self.total


def split(y: np.ndarray, replications: int) -> Split:
    """Split the variance of y (s, ...), s = W x R scenarios in world-major order
    (replication r of world w at s = w R + r), into world and luck (module docstring).
    Needs W >= 2 worlds and R >= 2 replications; a NaN outcome gives NaN."""
    y = np.asarray(y, dtype=np.float64)
    r = int(replications)
    if r < 2 or y.shape[0] % r or y.shape[0] // r < 2:
        raise ValueError(
            f"{y.shape[0]} scenarios are not W >= 2 worlds of R = {r} >= 2 replications"
        )
    by_world = y.reshape(y.shape[0] // r, r, *y.shape[1:])  # (w, r, ...)
    means = by_world.mean(axis=1)
    luck = by_world.var(axis=1, ddof=1).mean(axis=0)  # pooled: W (R - 1) df
    world = np.maximum(means.var(axis=0, ddof=1) - luck / r, 0.0)  # NaN stays NaN
    return Split(world, luck, means)


def world_split(
    draws: xr.Dataset,
    outcomes=SPLIT_OUTCOMES,
    quarter: int = -1,
    quantiles=(0.05, 0.5, 0.95),
) -> xr.Dataset:
    """The world/luck split of each of ``outcomes`` (stored metrics, or ``tfp_growth``) on
    every path at ``quarter``, from a store's ``draws`` group; ResonanceError when the store
    has no replications (R = 1) or fewer than two whole worlds.

    Returns dims (outcome, path) ``world_variance``, ``luck_variance`` (the outcome's units
    squared), ``world_share``, ``luck_share`` (1), and dims (outcome, path, quantile)
    ``world_band`` (quantiles over worlds of the replication means) and ``total_band``
    (quantiles over every scenario); attributes ``worlds``, ``replications``, ``years``
    and ``units`` (one per outcome).
    """
    from .effects import check_outcome, series, units

    draws = by_metric(draws)
    r = replications_of(draws)
    if r == 1:
        raise ResonanceError(
            "world split",
            "this store has one replication per world, so world and luck cannot be told apart",
            "run with --replications R (R >= 2)",
        )
    draws = whole_worlds(draws)
    worlds = draws.sizes["scenario"] // r
    if worlds < 2:
        raise ResonanceError("world split", f"needs two whole worlds, the store has {worlds}")
    outcomes = list(outcomes)
    for outcome in outcomes:
        check_outcome(draws, outcome)
    paths = [str(p) for p in draws.path.values]
    q = np.asarray(quantiles, dtype=np.float64)
    shape = (len(outcomes), len(paths))
    out = {
        k: np.empty(shape) for k in ("world_variance", "luck_variance", "world_share", "luck_share")
    }
    world_band, total_band = np.empty((*shape, q.size)), np.empty((*shape, q.size))
    for i, outcome in enumerate(outcomes):
        y = series(draws, outcome).isel(time=quarter).transpose("scenario", "path").values
        s = split(y, r)
        out["world_variance"][i], out["luck_variance"][i] = s.world, s.luck
        out["world_share"][i], out["luck_share"][i] = s.world_share, s.luck_share
        world_band[i] = np.quantile(s.world_means, q, axis=0).T
        total_band[i] = np.quantile(y, q, axis=0).T
    dims = ("outcome", "path")
    data = {k: (dims, v) for k, v in out.items()}
    data["world_band"] = ((*dims, "quantile"), world_band)
    data["total_band"] = ((*dims, "quantile"), total_band)
    return xr.Dataset(
        data,
        coords={"outcome": outcomes, "path": paths, "quantile": q},
        attrs={
            "worlds": worlds,
            "replications": r,
            "years": float(draws.time[quarter]),
            "units": [units(draws, o) for o in outcomes],
        },
    )


def world_means(draws: xr.Dataset) -> xr.Dataset:
    """A ``draws`` Dataset with one row on ``scenario`` per whole world: every outcome
    (scenario, path, time) averaged over the world's replications (the world's expected
    outcome, up to luck / R), the uncertain parameters as they are (the same in every
    replication); the world events, which each replication draws for itself, are left out.
    ``scenario`` is then the world's index and the attribute ``replications`` is 1, with
    ``world_means_of`` R. Lazy; a store with R = 1 is returned as it is."""
    draws = by_metric(draws)
    r = replications_of(draws)
    if r == 1:
        return draws
    draws = whole_worlds(draws)
    world = np.asarray(draws["world"].values[::r])  # the inputs of a world: its first row's
    draws = draws.drop_vars([n for n in (*EVENTS, *WORLD_COORDS) if n in draws.variables])
    outcome = [v for v, x in draws.data_vars.items() if "scenario" in x.dims and x.ndim > 1]
    other = [v for v in draws.data_vars if v not in outcome]
    first = draws[other].isel(scenario=slice(0, None, r))
    # chunks of whole worlds, about the store's size, so each world is averaged in one block
    size = draws[outcome[0]].chunksizes.get("scenario", (r,))[0] if outcome else r
    values = draws[outcome].drop_vars("scenario").chunk(scenario=max(r, size // r * r))
    means = values.coarsen(scenario=r).mean(keep_attrs=True)
    out = xr.merge([first.drop_vars("scenario"), means], compat="override", join="override")
    out = out.assign_coords(scenario=world)
    return out.assign_attrs({**draws.attrs, "replications": 1, "world_means_of": r})
