"""Which uncertain parameters decide a metric: first-order and total Sobol indices (SALib,
for a run with ``sampler: saltelli``) and, for any design, an extra-trees ranking with
half-sample intervals (scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ..engine.layout import by_metric
from ..errors import ResonanceError
from .select import cases, check, input_names
from .split import world_means
from .worlds import replications_of

POSTERIOR_GROUP = "posterior"  # the Sobol row of the parameters drawn from a posterior


def sobol_indices(
    ds: xr.Dataset,
    y: np.ndarray,
    seed: int,
    resamples: int = 200,
) -> pd.DataFrame:
    """First-order and total Sobol indices of y over a Saltelli design (SALib), one row per
    input: each uncertain parameter, and the parameters drawn from a posterior as one
    group named ``posterior`` (they share one design column, the design's last, so they
    move together and only their joint effect is identified)."""
    from SALib.analyze import sobol

    names = input_names(ds)
    drawn = [n for n in names if ds[n].attrs.get("distribution") == "posterior"]
    names = [n for n in names if n not in drawn] + drawn  # the design's column order
    groups = [POSTERIOR_GROUP if n in drawn else n for n in names]
    inputs = list(dict.fromkeys(groups))
    bounds = [[float(ds[n].min()), float(ds[n].max())] for n in names]
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    if drawn:
        problem["groups"] = groups
    if y.size % (len(inputs) + 2):
        raise ResonanceError(
            "sensitivity",
            f"{y.size} scenarios are not a Saltelli design of {len(inputs)} inputs",
            "run with --sampler saltelli",
        )
    res = sobol.analyze(
        problem, y, calc_second_order=False, num_resamples=resamples, conf_level=0.95, seed=seed
    )
    return pd.DataFrame(
        {"S1": res["S1"], "S1_conf": res["S1_conf"], "ST": res["ST"], "ST_conf": res["ST_conf"]},
        index=pd.Index(inputs, name="parameter"),
    )


def tree_ranking(
    x: pd.DataFrame,
    y: np.ndarray,
    seed: int,
    bootstrap: int = 20,
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
        model = ExtraTreesRegressor(
            n_estimators=100, min_samples_leaf=5, random_state=seed, n_jobs=1
        )
        model.fit(x.values[rows], y[rows])
        return model.feature_importances_

    half = max(2, len(y) // 2)
    boot = np.array([importance(gen.choice(len(y), half, replace=False)) for _ in range(bootstrap)])
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    table = pd.DataFrame(
        {"importance": boot.mean(axis=0), "low": lo, "high": hi},
        index=pd.Index(x.columns, name="parameter"),
    )
    return table.sort_values("importance", ascending=False)


@dataclass
class Sensitivity:
    metric: str
    path: str
    years: float
    sobol: pd.DataFrame | None  # S1, S1_conf, ST, ST_conf per parameter (Saltelli runs)
    ranking: pd.DataFrame  # importance, low, high per parameter
    # R of the store: with R > 1, both are of the world's expected outcome (the mean over
    # its R replications, split.world_means), not of one draw of firms
    replications: int = 1

    def sobol_row(self, name: str) -> str:
        """The Sobol row of parameter ``name``: its own, or ``POSTERIOR_GROUP`` for a
        parameter drawn from a posterior (whose indices are the group's)."""
        return name if name in self.sobol.index else POSTERIOR_GROUP

    def sobol_order(self, names) -> list[str]:
        """The Sobol rows of ``names`` in their order, each once."""
        return list(dict.fromkeys(self.sobol_row(n) for n in names))


def sensitivity(
    ds: xr.Dataset,
    metric: str,
    quarter: int = -1,
    path: str = "baseline",
    seed: int = 0,
    bootstrap: int = 20,
) -> Sensitivity:
    """Which uncertain parameters decide ``metric`` on ``path`` (see the module docstring).

    ``path`` may name a family of drawn policies (``spillover_support/*``): the ranking
    then takes the drawn levers as inputs next to the uncertain parameters, over every
    scenario under every policy (``select.cases``); Sobol indices need one path. A store
    with R > 1 replications per world is analysed on its worlds' expected outcomes
    (``split.world_means``), a Saltelli design's points being its worlds.
    """
    ds = by_metric(ds)  # a draws group as stored: a variable per metric
    replications = replications_of(ds)
    # Of a store with replications, the world's expected outcome: the firms' luck, which
    # no parameter explains, then no longer dilutes the indices (split.py)
    ds = world_means(ds)
    check(ds, metric)
    x, y = cases(ds, metric, path, quarter)
    one_path = len(y) == ds.sizes["scenario"]
    saltelli = ds.attrs.get("sampler") == "saltelli" and one_path
    sobol = sobol_indices(ds, y, seed) if saltelli else None
    return Sensitivity(
        metric,
        path,
        float(ds.time[quarter]),
        sobol,
        tree_ranking(x, y, seed, bootstrap),
        replications,
    )
