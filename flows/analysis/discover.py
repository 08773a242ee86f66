"""Scenario discovery: where in the inputs (uncertain parameters and, for a family of drawn
policies, their levers) a metric falls below (or above) a threshold.

PRIM (Friedman & Fisher 1999) as the EMA Workbench implements it (``analysis.prim.Prim``
with the "original" objective, the density of the box): peel ``alpha`` of the box's
cases off the low or high end of one input at a time, taking the peel that leaves the
densest box (ties: the one that restricts fewer inputs), while the box keeps at least
``min_support`` of all cases; then paste back, one input's end at a time, while that
raises the density. ``tests/flows/analysis/test_discover.py`` checks, on the same data and
settings, that the trajectory equals EMA Workbench's step for step.

On top: the chosen box (the first that reaches ``density``, else the largest lift, or any
step by index), the resampling stability of each input (in how many PRIM runs on random
halves of the cases a box of similar coverage and density restricts it, as EMA
Workbench's ``PrimBox.resample``), several boxes in sequence (each on the cases the
earlier boxes left out), and CART (scikit-learn's decision tree) on the same question.

Dim letters: n = cases, k = inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from ..engine.layout import by_metric
from ..errors import ResonanceError
from .select import cases, check


@dataclass
class Box:
    """One box: limits per input, and its statistics over all cases."""

    limits: dict[str, tuple[float, float]]
    coverage: float  # share of all cases of interest inside the box
    density: float  # share of the box's cases that are of interest
    support: float  # share of all cases inside the box (EMA Workbench: mass)

    def restricted(self, bounds: dict[str, tuple[float, float]]) -> dict:
        return {k: v for k, v in self.limits.items() if v != bounds[k]}


@dataclass
class Found:
    """One PRIM box of a sequence: its peeling-and-pasting trajectory, the chosen step and
    the resampling stability of every input at that step (percent; None without resamples)."""

    trajectory: list[Box]
    chosen: int
    stability: pd.DataFrame | None = None

    @property
    def box(self) -> Box:
        return self.trajectory[self.chosen]


@dataclass
class Discovery:
    metric: str
    path: str
    threshold: float
    below: bool
    years: float
    base_rate: float  # share of cases of interest overall
    found: list[Found]
    bounds: dict[str, tuple[float, float]]
    inputs: pd.DataFrame
    interest: np.ndarray
    cart: list[Box] = field(default_factory=list)  # CART leaves, densest first

    @property
    def trajectory(self) -> list[Box]:
        return self.found[0].trajectory

    @property
    def chosen(self) -> int:
        return self.found[0].chosen

    @property
    def box(self) -> Box:
        return self.found[0].box


def sdtoolkit_quantile(data: np.ndarray, q: float) -> float:
    """The quantile PRIM peels at (sdtoolkit's, as EMA Workbench's ``get_quantile``): the
    midpoint of the two order statistics around (n - 1) q, moved outwards past ties so that
    a peel never splits equal values."""
    data = np.sort(data)
    i = (len(data) - 1) * q
    lo, hi = int(np.floor(i)), int(np.ceil(i))
    if q > 0.5:
        while data[lo] == data[hi] and lo > 0:
            lo -= 1
    else:
        while data[lo] == data[hi] and hi < len(data) - 1:
            hi += 1
    return float((data[lo] + data[hi]) / 2)


class _Prim:
    """One PRIM box over the cases ``remaining`` (bool (n,)) of x (n, k), y (n,) in {0, 1}."""

    def __init__(self, x: np.ndarray, y: np.ndarray, columns, alpha, paste_alpha, min_support):
        self.x, self.y, self.columns = x, y.astype(np.float64), list(columns)
        self.alpha, self.paste_alpha, self.min_support = alpha, paste_alpha, min_support
        self.n = len(y)
        self.total = self.y.sum()
        self.init = np.stack([x.min(axis=0), x.max(axis=0)])  # (2, k)

    def _stats(self, inside: np.ndarray, lims: np.ndarray) -> Box:
        n_in = inside.sum()
        return Box(
            {c: (float(lims[0, k]), float(lims[1, k])) for k, c in enumerate(self.columns)},
            float(self.y[inside].sum() / self.total) if self.total else 0.0,
            float(self.y[inside].mean()) if n_in else 0.0,
            float(n_in / self.n),
        )

    def _free(self, lims: np.ndarray) -> int:
        """Inputs the box does not restrict (EMA Workbench's tie-break: more is better)."""
        return int((lims == self.init).all(axis=0).sum())

    def _best(self, candidates):
        """The candidate (inside, lims) with the highest (density, free inputs); the first
        of equals, as a stable sort would keep it."""
        best, best_key = None, None
        for inside, lims in candidates:
            density = self.y[inside].mean() if inside.any() else -1.0
            key = (density, self._free(lims))
            if best_key is None or key > best_key:
                best, best_key = (inside, lims), key
        return best, best_key[0]

    def run(self, remaining: np.ndarray) -> list[Box]:
        inside = remaining.copy()
        lims = self.init.copy()
        trajectory = [self._stats(inside, lims)]
        # Peeling.
        while True:
            candidates = []
            for k in range(len(self.columns)):
                xk = self.x[inside, k]
                for side in (1, 0):  # upper first, as EMA Workbench orders them
                    cut = sdtoolkit_quantile(xk, 1 - self.alpha if side else self.alpha)
                    keep = inside & ((self.x[:, k] <= cut) if side else (self.x[:, k] >= cut))
                    new = lims.copy()
                    new[side, k] = cut
                    candidates.append((keep, new))
            if not candidates:
                break
            (keep, new), density = self._best(candidates)
            mass_new, mass_old = keep.sum() / self.n, inside.sum() / self.n
            if not (mass_new >= self.min_support and mass_new < mass_old and density > 0):
                break
            inside, lims = keep, new
            trajectory.append(self._stats(inside, lims))
        # Pasting: widen one restricted end at a time while the density rises.
        while True:
            restricted = [
                k for k in range(len(self.columns)) if (lims[:, k] != self.init[:, k]).any()
            ]
            if not restricted:
                break
            candidates = []
            for k in restricted:
                others = [j for j in restricted if j != k]
                for side in (0, 1):  # lower first, as EMA Workbench orders them
                    strip = lims.copy()
                    strip[:, k] = (
                        (self.init[0, k], lims[0, k])
                        if side == 0
                        else (lims[1, k], self.init[1, k])
                    )
                    in_strip = remaining & _in(self.x, strip, [*others, k])
                    data = self.x[in_strip, k]
                    if data.size:
                        value = sdtoolkit_quantile(
                            data, 1 - self.paste_alpha if side == 0 else self.paste_alpha
                        )
                    else:
                        value = self.init[side, k]
                    new = lims.copy()
                    new[side, k] = value
                    candidates.append((remaining & _in(self.x, new, restricted), new))
            (keep, new), density = self._best(candidates)
            mass_new, mass_old = keep.sum() / self.n, inside.sum() / self.n
            mean_old = self.y[inside].mean()
            if not (
                mass_new >= self.min_support
                and mass_new > mass_old
                and density > 0
                and density > mean_old
            ):
                break
            inside, lims = keep, new
            trajectory.append(self._stats(inside, lims))
        return trajectory


def _in(x: np.ndarray, lims: np.ndarray, columns: list[int]) -> np.ndarray:
    """Cases (n,) inside ``lims`` (2, k) on ``columns``."""
    inside = np.ones(x.shape[0], bool)
    for k in columns:
        inside &= (x[:, k] >= lims[0, k]) & (x[:, k] <= lims[1, k])
    return inside


def prim(
    x: pd.DataFrame,
    interest: np.ndarray,
    alpha: float = 0.05,
    min_support: float = 0.05,
    paste_alpha: float = 0.05,
    remaining: np.ndarray | None = None,
) -> list[Box]:
    """The PRIM peeling-and-pasting trajectory of one box (see the module docstring), over
    the cases ``remaining`` (default all); coverage and support are shares of all cases."""
    algo = _Prim(x.values.astype(np.float64), interest, x.columns, alpha, paste_alpha, min_support)
    return algo.run(np.ones(len(interest), bool) if remaining is None else remaining)


def _inside(x: pd.DataFrame, limits: dict) -> np.ndarray:
    inside = np.ones(len(x), bool)
    for name, (lo, hi) in limits.items():
        inside &= (x[name].values >= lo) & (x[name].values <= hi)
    return inside


def _box_stats(
    x: pd.DataFrame, interest: np.ndarray, limits: dict, remaining: np.ndarray | None = None
) -> Box:
    inside = _inside(x, limits) if remaining is None else _inside(x, limits) & remaining
    n_in = inside.sum()
    return Box(
        dict(limits),
        float(interest[inside].sum() / max(interest.sum(), 1)),
        float(interest[inside].mean()) if n_in else 0.0,
        float(n_in / len(interest)),
    )


def drop_weak_restrictions(
    x: pd.DataFrame,
    interest: np.ndarray,
    box: Box,
    bounds: dict,
    tolerance: float = 0.02,
    remaining: np.ndarray | None = None,
) -> Box:
    """Release every restriction whose removal costs less than ``tolerance`` of the box's
    density (weakest first), so the box names only the inputs that matter; over the cases
    ``remaining`` (default all), those a box of a sequence is found on."""
    current = box
    while True:
        candidates = []
        for name in current.restricted(bounds):
            trial = _box_stats(x, interest, {**current.limits, name: bounds[name]}, remaining)
            if trial.density >= current.density * (1 - tolerance):
                candidates.append((trial.density, trial))
        if not candidates:
            return current
        current = max(candidates, key=lambda c: c[0])[1]


def stability(
    x: pd.DataFrame,
    interest: np.ndarray,
    box: Box,
    bounds: dict,
    resamples: int,
    seed: int = 0,
    **settings,
) -> pd.DataFrame:
    """How often each input is restricted, in percent, by the step closest in coverage
    (``reproduce coverage``) and in density (``reproduce density``) to ``box`` on PRIM
    trajectories of ``resamples`` random halves of the cases (EMA Workbench's
    ``PrimBox.resample``, with this module's PRIM and a seeded generator)."""
    gen = np.random.default_rng(seed)
    counts = pd.DataFrame(0.0, index=x.columns, columns=["reproduce coverage", "reproduce density"])
    for _ in range(resamples):
        rows = np.sort(gen.choice(len(x), len(x) // 2, replace=False))
        sub = x.iloc[rows].reset_index(drop=True)
        trajectory = prim(sub, interest[rows], **settings)
        half_bounds = trajectory[0].limits
        for column, target in (
            ("reproduce coverage", "coverage"),
            ("reproduce density", "density"),
        ):
            near = min(trajectory, key=lambda b: abs(getattr(b, target) - getattr(box, target)))
            for name in near.restricted(half_bounds):
                counts.loc[name, column] += 100.0 / resamples
    counts.index.name = "input"
    return counts.sort_values(["reproduce coverage", "reproduce density"], ascending=False)


def cart_boxes(
    x: pd.DataFrame, interest: np.ndarray, min_support: float = 0.05, seed: int = 0
) -> list[Box]:
    """CART on the same question: the leaves of a classification tree (scikit-learn, every
    leaf at least ``min_support`` of the cases) as boxes, densest first."""
    from sklearn.tree import DecisionTreeClassifier

    leaf_min = max(1, int(np.ceil(min_support * len(x))))
    tree = DecisionTreeClassifier(min_samples_leaf=leaf_min, random_state=seed)
    tree.fit(x.values, interest.astype(int))
    t = tree.tree_
    bounds = {c: (float(x[c].min()), float(x[c].max())) for c in x.columns}
    boxes = []

    def walk(node, limits):
        if t.children_left[node] == -1:
            boxes.append(_box_stats(x, interest, limits))
            return
        name = x.columns[t.feature[node]]
        cut = float(t.threshold[node])
        lo, hi = limits[name]
        walk(t.children_left[node], {**limits, name: (lo, min(hi, cut))})  # x <= cut
        walk(t.children_right[node], {**limits, name: (max(lo, np.nextafter(cut, np.inf)), hi)})

    walk(0, bounds)
    return sorted(boxes, key=lambda b: (-b.density, -b.coverage))


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
    box: int | None = None,
    boxes: int = 1,
    resamples: int = 0,
    seed: int = 0,
) -> Discovery:
    """Boxes of the inputs where ``metric`` is below (or above) ``threshold``.

    For each of ``boxes`` boxes in sequence (each on the cases the earlier boxes left out),
    the chosen step is ``box`` (an index on the first box's trajectory) or, by default, the
    first whose density reaches ``density`` (when none does, the one with the largest
    (density - base rate) x coverage), after which restrictions that barely matter are
    released (:func:`drop_weak_restrictions`). ``resamples`` > 0 adds each chosen box's
    resampling stability; CART's leaves come with every result.
    """
    ds = by_metric(ds)  # a draws group as stored: a variable per metric
    check(ds, metric)
    x, y = cases(ds, metric, path, quarter)  # a family of policies adds its drawn levers
    interest = (y < threshold) if below else (y > threshold)
    if not interest.any():
        raise ResonanceError(
            f"--{'below' if below else 'above'} {threshold}",
            f"no scenario has {metric} {'below' if below else 'above'} it",
            f"its range is [{y.min():.4g}, {y.max():.4g}]",
        )
    settings = dict(alpha=alpha, min_support=min_support, paste_alpha=alpha)
    remaining = np.ones(len(y), bool)
    found = []
    bounds = None
    for b in range(boxes):
        if not (interest & remaining).any():
            break
        trajectory = prim(x, interest, remaining=remaining, **settings)
        if bounds is None:
            bounds = trajectory[0].limits
        if b == 0 and box is not None:
            if not 0 <= box < len(trajectory):
                raise ResonanceError(
                    f"--box {box}", "not on the trajectory", f"choose 0..{len(trajectory) - 1}"
                )
            chosen = box
        else:
            reaching = [i for i, s in enumerate(trajectory) if s.density >= density]
            lift = [(s.density - interest.mean()) * s.coverage for s in trajectory]
            chosen = reaching[0] if reaching else int(np.argmax(lift))
            trajectory[chosen] = drop_weak_restrictions(
                x, interest, trajectory[chosen], bounds, remaining=remaining
            )
        picked = trajectory[chosen]
        table = None
        if resamples:  # on the cases this box was found on, its statistics taken there
            left = x[remaining].reset_index(drop=True)
            here = _box_stats(left, interest[remaining], picked.limits)
            table = stability(left, interest[remaining], here, bounds, resamples, seed, **settings)
        found.append(Found(trajectory, chosen, table))
        remaining &= ~_inside(x, picked.limits)
    return Discovery(
        metric,
        path,
        threshold,
        below,
        float(ds.time[quarter]),
        float(interest.mean()),
        found,
        bounds,
        x,
        interest,
        cart_boxes(x, interest, min_support, seed),
    )
