"""Scenario discovery: PRIM (Friedman & Fisher 1999) boxes of the uncertain parameters where
a metric falls below (or above) a threshold, with coverage and density along the peeling
trajectory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from resonance.flows.analysis.select import cases, check
from resonance.flows.errors import ResonanceError


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


def prim(
    x: pd.DataFrame, interest: np.ndarray, alpha: float = 0.05, min_support: float = 0.05
) -> list[Box]:
    """PRIM peeling trajectory (Friedman & Fisher 1999), as in EMA Workbench's ``prim``.

    At each step every parameter may lose the ``alpha`` share of the remaining scenarios
    from its low or high end; the peel that leaves the highest density is taken, until
    the box holds less than ``min_support`` of all scenarios.
    """
    values = x.values
    y = interest.astype(np.float64)
    total = y.sum()
    inside = np.ones(len(y), bool)
    limits = {
        c: (float(values[:, k].min()), float(values[:, k].max())) for k, c in enumerate(x.columns)
    }

    def snapshot():
        n_in = inside.sum()
        return Box(
            dict(limits),
            float(y[inside].sum() / total) if total else 0.0,
            float(y[inside].mean()) if n_in else 0.0,
            float(n_in / len(y)),
        )

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
    return Box(
        dict(limits),
        float(interest[inside].sum() / max(interest.sum(), 1)),
        float(interest[inside].mean()) if n_in else 0.0,
        float(n_in / len(interest)),
    )


def drop_weak_restrictions(
    x: pd.DataFrame, interest: np.ndarray, box: Box, bounds: dict, tolerance: float = 0.02
) -> Box:
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


def discover(
    ds: xr.Dataset,
    metric: str,
    threshold: float,
    below: bool = True,
    quarter: int = -1,
    path: str = "baseline",
    density: float = 0.8,
    alpha: float = 0.05,
    min_support: float = 0.05,
) -> Discovery:
    """Boxes of uncertain parameters where ``metric`` is below (or above) ``threshold``.

    The chosen box is the first on the trajectory whose density reaches ``density`` (when
    none does, the one with the largest (density - base rate) x coverage); restrictions
    that barely matter are then released (:func:`drop_weak_restrictions`).
    """
    check(ds, metric)
    x, y = cases(ds, metric, path, quarter)  # a family of policies adds its drawn levers
    interest = (y < threshold) if below else (y > threshold)
    if not interest.any():
        raise ResonanceError(
            f"--{'below' if below else 'above'} {threshold}",
            f"no scenario has {metric} {'below' if below else 'above'} it",
            f"its range is [{y.min():.4g}, {y.max():.4g}]",
        )
    trajectory = prim(x, interest, alpha, min_support)
    reaching = [i for i, b in enumerate(trajectory) if b.density >= density]
    lift = [(b.density - interest.mean()) * b.coverage for b in trajectory]
    chosen = reaching[0] if reaching else int(np.argmax(lift))
    bounds = trajectory[0].limits
    trajectory[chosen] = drop_weak_restrictions(x, interest, trajectory[chosen], bounds)
    return Discovery(
        metric,
        path,
        threshold,
        below,
        float(ds.time[quarter]),
        float(interest.mean()),
        trajectory,
        chosen,
        bounds,
        x,
        interest,
    )
