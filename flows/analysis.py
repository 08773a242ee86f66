"""Analysis of stored draws: paired comparison, sensitivity, scenario discovery.

Importing ``flows`` registers the ``.resonance`` accessor on datasets opened with
``xr.open_zarr(store, group="draws")``. Every method selects one (path, quarter, metric)
slice, a vector over scenarios, so it reads lazily whatever the store's size; only that
vector is computed.

- ``compare(a, b, metric)``: paired differences b - a on the same scenarios (common random
  numbers), their bands, the probability that b beats a, Monte Carlo standard errors.
- ``sensitivity(metric)``: first-order and total Sobol indices (SALib, when the run used
  ``sampler: saltelli``) and, for any design, a tree-ensemble ranking of the uncertain
  parameters (scikit-learn), each with bootstrap confidence intervals.
- ``discover(metric, threshold)``: PRIM (Friedman & Fisher 1999) boxes of the uncertain
  parameters where the metric falls below (or above) the threshold, with coverage and
  density along the peeling trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from flows.errors import ResonanceError
from flows.report import check_metric
from kernels.registry import UNCERTAIN

LOWER_IS_BETTER = {"institutional_gap"}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _check(ds: xr.Dataset, metric: str, paths=()) -> None:
    check_metric(metric)
    if metric not in ds:
        raise ResonanceError(f"--metric {metric}", "not in this store")
    known = [str(p) for p in ds.path.values]
    for path in paths:
        if path not in known:
            raise ResonanceError(f"path {path}", "not in this store",
                                 f"the store has: {', '.join(known)}")


def _inputs(ds: xr.Dataset) -> pd.DataFrame:
    """The uncertain parameters of every scenario, (scenario, parameter)."""
    return pd.DataFrame({name: ds[name].values for name in UNCERTAIN if name in ds})


def _vector(ds: xr.Dataset, metric: str, path: str, quarter: int) -> np.ndarray:
    return np.asarray(ds[metric].sel(path=path).isel(time=quarter).values, dtype=np.float64)


# ---------------------------------------------------------------------------------------
# Paired comparison
# ---------------------------------------------------------------------------------------

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
    """Paired comparison of path b against path a on ``metric`` (see module docstring)."""
    _check(ds, metric, (a, b))
    diff = ds[metric].sel(path=b) - ds[metric].sel(path=a)  # lazy (scenario, time)
    d = np.asarray(diff.isel(time=quarter).values, dtype=np.float64)
    n = d.size
    higher = metric not in LOWER_IS_BETTER
    wins = (d > 0) if higher else (d < 0)
    p = (wins.sum() + 0.5 * (d == 0).sum()) / n
    over_time = xr.Dataset({
        "quantile_of_difference": diff.chunk({"scenario": -1}).quantile(
            list(QUANTILES), dim="scenario"),
        "mean_difference": diff.mean("scenario"),
    }).compute()
    std = float(d.std(ddof=1)) if n > 1 else 0.0
    return Comparison(a, b, metric, float(ds.time[quarter]), n,
                      dict(zip(QUANTILES, np.quantile(d, QUANTILES), strict=True)),
                      float(d.mean()), std, std / np.sqrt(n), float(p),
                      float(np.sqrt(p * (1 - p) / n)), higher, over_time)


# ---------------------------------------------------------------------------------------
# Sensitivity
# ---------------------------------------------------------------------------------------

def sobol_indices(ds: xr.Dataset, y: np.ndarray, seed: int, resamples: int = 200,
                  ) -> pd.DataFrame:
    """First-order and total Sobol indices of y over a Saltelli design (SALib)."""
    from SALib.analyze import sobol

    names = [n for n in UNCERTAIN if n in ds]
    bounds = [[float(ds[n].min()), float(ds[n].max())] for n in names]
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    if y.size % (len(names) + 2):
        raise ResonanceError("sensitivity", f"{y.size} scenarios are not a Saltelli design "
                             f"of {len(names)} parameters", "run with --sampler saltelli")
    res = sobol.analyze(problem, y, calc_second_order=False, num_resamples=resamples,
                        conf_level=0.95, seed=seed)
    return pd.DataFrame({"S1": res["S1"], "S1_conf": res["S1_conf"], "ST": res["ST"],
                         "ST_conf": res["ST_conf"]}, index=pd.Index(names, name="parameter"))


def tree_ranking(x: pd.DataFrame, y: np.ndarray, seed: int, bootstrap: int = 20,
                 ) -> pd.DataFrame:
    """Extra-trees feature importances with 95 % intervals from half-sample subsampling.

    Design-free (any sampler): the share of the ensemble's variance reduction each
    uncertain parameter accounts for, normalised to sum 1. The estimate is the mean over
    ``bootstrap`` fits on random halves of the scenarios (drawn without replacement:
    resampling with replacement duplicates scenarios, which biases impurity importances),
    the interval their 2.5-97.5 percentiles.
    """
    from sklearn.ensemble import ExtraTreesRegressor

    gen = np.random.default_rng(seed)

    def importance(rows):
        model = ExtraTreesRegressor(n_estimators=100, min_samples_leaf=5, random_state=seed,
                                    n_jobs=1)
        model.fit(x.values[rows], y[rows])
        return model.feature_importances_

    half = max(2, len(y) // 2)
    boot = np.array([importance(gen.choice(len(y), half, replace=False))
                     for _ in range(bootstrap)])
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    table = pd.DataFrame({"importance": boot.mean(axis=0), "low": lo, "high": hi},
                         index=pd.Index(x.columns, name="parameter"))
    return table.sort_values("importance", ascending=False)


@dataclass
class Sensitivity:
    metric: str
    path: str
    years: float
    sobol: pd.DataFrame | None  # S1, S1_conf, ST, ST_conf per parameter (Saltelli runs)
    ranking: pd.DataFrame  # importance, low, high per parameter


def sensitivity(ds: xr.Dataset, metric: str, quarter: int = -1, path: str = "baseline",
                seed: int = 0, bootstrap: int = 20) -> Sensitivity:
    """Which uncertain parameters decide ``metric`` on ``path`` (see module docstring)."""
    _check(ds, metric, (path,))
    y = _vector(ds, metric, path, quarter)
    x = _inputs(ds)
    sobol = (sobol_indices(ds, y, seed) if ds.attrs.get("sampler") == "saltelli" else None)
    return Sensitivity(metric, path, float(ds.time[quarter]), sobol,
                       tree_ranking(x, y, seed, bootstrap))


# ---------------------------------------------------------------------------------------
# Scenario discovery (PRIM)
# ---------------------------------------------------------------------------------------

@dataclass
class Box:
    """One box of the peeling trajectory: limits per parameter, and its statistics."""

    limits: dict[str, tuple[float, float]]
    coverage: float  # share of all cases of interest inside the box
    density: float  # share of the box's scenarios that are cases of interest
    support: float  # share of all scenarios inside the box

    def restricted(self, bounds: dict[str, tuple[float, float]]) -> dict:
        return {k: v for k, v in self.limits.items() if v != bounds[k]}


@dataclass
class Discovery:
    metric: str
    path: str
    threshold: float
    below: bool
    years: float
    base_rate: float  # share of scenarios of interest overall
    trajectory: list[Box]
    chosen: int
    bounds: dict[str, tuple[float, float]]
    inputs: pd.DataFrame
    interest: np.ndarray

    @property
    def box(self) -> Box:
        return self.trajectory[self.chosen]


def prim(x: pd.DataFrame, interest: np.ndarray, alpha: float = 0.05,
         min_support: float = 0.05) -> list[Box]:
    """PRIM peeling trajectory (Friedman & Fisher 1999), as in EMA Workbench's ``prim``.

    At each step every parameter may lose the ``alpha`` share of the remaining scenarios
    from its low or high end; the peel that leaves the highest density is taken, until
    the box holds less than ``min_support`` of all scenarios.
    """
    values = x.values
    y = interest.astype(np.float64)
    total = y.sum()
    inside = np.ones(len(y), bool)
    limits = {c: (float(values[:, k].min()), float(values[:, k].max()))
              for k, c in enumerate(x.columns)}

    def snapshot():
        n_in = inside.sum()
        return Box(dict(limits), float(y[inside].sum() / total) if total else 0.0,
                   float(y[inside].mean()) if n_in else 0.0, float(n_in / len(y)))

    trajectory = [snapshot()]
    while inside.mean() > min_support:
        best = None
        for k, col in enumerate(x.columns):
            v = values[inside, k]
            for side, cut in (("low", np.quantile(v, alpha)), ("high", np.quantile(v, 1 - alpha))):
                keep = (values[:, k] >= cut) if side == "low" else (values[:, k] <= cut)
                keep &= inside
                if keep.sum() == inside.sum() or keep.sum() == 0:
                    continue
                density = y[keep].mean()
                if best is None or density > best[0]:
                    best = (density, keep, col, side, cut)
        if best is None:
            break
        _, keep, col, side, cut = best
        if keep.mean() < min_support:
            break
        inside = keep
        lo, hi = limits[col]
        limits[col] = (float(cut), hi) if side == "low" else (lo, float(cut))
        trajectory.append(snapshot())
    return trajectory


def _box_stats(x: pd.DataFrame, interest: np.ndarray, limits: dict) -> Box:
    inside = np.ones(len(interest), bool)
    for name, (lo, hi) in limits.items():
        inside &= (x[name].values >= lo) & (x[name].values <= hi)
    n_in = inside.sum()
    return Box(dict(limits), float(interest[inside].sum() / max(interest.sum(), 1)),
               float(interest[inside].mean()) if n_in else 0.0, float(n_in / len(interest)))


def drop_weak_restrictions(x: pd.DataFrame, interest: np.ndarray, box: Box, bounds: dict,
                           tolerance: float = 0.02) -> Box:
    """Release every restriction whose removal costs less than ``tolerance`` of the box's
    density (weakest first), so the box names only the parameters that matter."""
    current = box
    while True:
        candidates = []
        for name in current.restricted(bounds):
            trial = _box_stats(x, interest, {**current.limits, name: bounds[name]})
            if trial.density >= current.density * (1 - tolerance):
                candidates.append((trial.density, trial))
        if not candidates:
            return current
        current = max(candidates, key=lambda c: c[0])[1]


def discover(ds: xr.Dataset, metric: str, threshold: float, below: bool = True,
             quarter: int = -1, path: str = "baseline", density: float = 0.8,
             alpha: float = 0.05, min_support: float = 0.05) -> Discovery:
    """Boxes of uncertain parameters where ``metric`` is below (or above) ``threshold``.

    The chosen box is the first on the trajectory whose density reaches ``density`` (when
    none does, the one with the largest (density - base rate) x coverage); restrictions
    that barely matter are then released (:func:`drop_weak_restrictions`).
    """
    _check(ds, metric, (path,))
    y = _vector(ds, metric, path, quarter)
    interest = (y < threshold) if below else (y > threshold)
    x = _inputs(ds)
    if not interest.any():
        raise ResonanceError(f"--{'below' if below else 'above'} {threshold}",
                             f"no scenario has {metric} {'below' if below else 'above'} it",
                             f"its range is [{y.min():.4g}, {y.max():.4g}]")
    trajectory = prim(x, interest, alpha, min_support)
    reaching = [i for i, b in enumerate(trajectory) if b.density >= density]
    lift = [(b.density - interest.mean()) * b.coverage for b in trajectory]
    chosen = reaching[0] if reaching else int(np.argmax(lift))
    bounds = trajectory[0].limits
    trajectory[chosen] = drop_weak_restrictions(x, interest, trajectory[chosen], bounds)
    return Discovery(metric, path, threshold, below, float(ds.time[quarter]),
                     float(interest.mean()), trajectory, chosen, bounds, x, interest)


# ---------------------------------------------------------------------------------------
# The accessor
# ---------------------------------------------------------------------------------------

@xr.register_dataset_accessor("resonance")
class ResonanceAccessor:
    """``ds.resonance.compare / sensitivity / discover`` on the ``draws`` group."""

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def compare(self, a: str, b: str, metric: str, quarter: int = -1) -> Comparison:
        return compare(self._ds, a, b, metric, quarter)

    def sensitivity(self, metric: str, quarter: int = -1, path: str = "baseline",
                    **kwargs) -> Sensitivity:
        return sensitivity(self._ds, metric, quarter, path, **kwargs)

    def discover(self, metric: str, threshold: float, below: bool = True, **kwargs
                 ) -> Discovery:
        return discover(self._ds, metric, threshold, below, **kwargs)
