"""``resonance diff A B``: which statistics of two stores of the same shape (last night's
run and tonight's, say) moved beyond their Monte Carlo error.

Same shape: the same paths, quarters (``time``), metrics and band quantiles; the scenario
counts may differ. Anything else is refused in one line (ResonanceError, exit 2).

Statistics, per (metric, path, quarter), of each store's draws over its scenarios: the
bands' quantiles (numpy's "linear" quantiles at the store's levels, 0.05 ... 0.95, what
``resonance summary`` shows) and the mean, in the metric's units (``tfp_growth``: %/yr).

Monte Carlo standard errors, those of independent draws as in ``engine/converge.py``:

- a quantile Q(q) of n draws: h = sqrt(q (1 - q) / n) is the spread of its rank's
  fraction, and the sparsity 1/f(Q(q)) is read off the empirical quantile function,
  s = (Q(q + h) - Q(q - h)) / (2 h) (its arguments clipped to [0, 1], the divisor the
  clipped width); s.e. = h s. For the median this is converge.py's
  (Q(1/2 + 1/(2 sqrt n)) - Q(1/2 - 1/(2 sqrt n))) / 2.
- the mean: sd / sqrt(n) (ddof = 1).

Two stores *share worlds* when scenario s is the same world in both: the same seed,
sampler, firms per scenario, firm distributions, scenario ids and every scenario's
uncertain parameters (a config that differs only in its levers, or in a fixed model
parameter, draws the same random numbers). Then the difference is *paired*: its s.e. is
that of the per-scenario influence of the statistic, sd(psi_B - psi_A) / sqrt(n), with
psi = x - mean for the mean and psi = (q - 1{x <= Q(q)}) s for a quantile (Bahadur's
representation), so a path both stores simulate alike has Δ = 0 and s.e. 0. Otherwise
the stores are *independent*: s.e. = sqrt(se_A² + se_B²).

A quantile's move is also checked without any density: the share of draws at or below
the midpoint of Q_A and Q_B must differ between the stores by z* of its binomial s.e.
(``share_z``); the s.e. shown is the larger of the two that the checks imply. For a
smooth metric the two agree; for one with atoms (a rate over 20 firms moves in steps of
0.05) only the second is right.

With R > 1 replications per world (``sizes.replications``), the R scenarios of a world
share its parameters and are not independent: every s.e. above is multiplied by sqrt(R),
the largest design effect 1 + (R - 1) rho can reach (rho, the world's share of the
variance, at most 1): conservative, never narrower than the truth.

A statistic *moved* when |Δ| > z* s.e. (Δ = B - A; a Δ other than 0 with an s.e. of 0
moved too). z* is the larger of ``z_min`` (default 4) and the Bonferroni bound for a
familywise error rate ``fwer`` (default 1 %) over the m statistics compared,
Φ⁻¹(1 - fwer / (2 m)): two runs of one config with different seeds flag any statistic
with probability at most ``fwer`` (for normal estimates with known s.e.; the floor of 4
keeps a margin for s.e.s that are themselves estimated from a few hundred scenarios).

Dim letters: s = scenarios, p = paths, t = quarters compared, k = statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
import yaml
from scipy import stats

from ..errors import ResonanceError
from .effects import check_outcome, series, units
from .worlds import design_effect_bound, replications_of

# The outcomes of the run's closing table (tables.headline_table).
HEADLINE = ("tfp_growth", "coordination", "innovation_efficiency")
Z_MIN = 4.0
FWER = 0.01


def statistic_names(quantiles: Sequence[float]) -> list[str]:
    """``median``, ``p5``, ``p95``... for the quantile levels, then ``mean``."""
    return [("median" if q == 0.5 else f"p{100 * q:g}") for q in quantiles] + ["mean"]


def quantile_se(x: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantile ``q`` of x (s, ...) over axis 0, its Monte Carlo s.e. and the sparsity
    1/f at it (see the module docstring); three float64 arrays (...), in x's units
    (the sparsity in x's units per unit of probability)."""
    n = x.shape[0]
    h = np.sqrt(q * (1.0 - q) / n)
    lo, hi = max(q - h, 0.0), min(q + h, 1.0)
    value, q_lo, q_hi = np.quantile(x, [q, lo, hi], axis=0)
    sparsity = (q_hi - q_lo) / (hi - lo) if hi > lo else np.zeros_like(value)
    return value, h * sparsity, sparsity


def mean_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of x (s, ...) over axis 0 and its s.e. sd / sqrt(n) (ddof = 1), float64."""
    n = x.shape[0]
    sd = x.std(axis=0, ddof=1) if n > 1 else np.full(x.shape[1:], np.inf)
    return x.mean(axis=0), sd / np.sqrt(n)


def share_z(
    xa: np.ndarray, xb: np.ndarray, va: np.ndarray, vb: np.ndarray, paired: bool
) -> np.ndarray:
    """The distribution-free check of a quantile's move from va to vb: the share of draws
    at or below the midpoint v = (va + vb) / 2 in A less that in B, over its s.e. (paired:
    of the per-scenario difference of the indicators; independent: the pooled two-sample
    binomial s.e.). float64 (...) in s.e.s, signed like vb - va; 0 where the shares are
    equal, ±inf where they differ with an s.e. of 0. xa (s_a, ...), xb (s_b, ...)."""
    v = 0.5 * (va + vb)
    below_a, below_b = (xa <= v).astype(np.float64), (xb <= v).astype(np.float64)
    fa, fb = below_a.mean(axis=0), below_b.mean(axis=0)
    na, nb = xa.shape[0], xb.shape[0]
    if paired:
        se = (below_a - below_b).std(axis=0, ddof=1) / np.sqrt(na)
    else:
        pooled = (fa * na + fb * nb) / (na + nb)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(fa == fb, 0.0, (fa - fb) / se)


def statistics(
    xa: np.ndarray, xb: np.ndarray, quantiles: Sequence[float], paired: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A's and B's statistics and the s.e. of B - A: three float64 arrays (k, ...), k the
    quantiles then the mean. xa (s_a, ...), xb (s_b, ...) float64; ``paired`` needs
    s_a == s_b, row i of both the same world.

    A quantile's s.e. is the order-statistic one (module docstring), or the larger one
    that the share check (``share_z``) implies, |Δ| / |z|: a metric with atoms (counts of
    a few firms) has a sample quantile that jumps from one atom to the next, which the
    order statistics next to it cannot see."""
    a, b, se = [], [], []
    for q in quantiles:
        va, sa, fa = quantile_se(xa, q)
        vb, sb, fb = quantile_se(xb, q)
        if paired:
            psi = (q - (xb <= vb)) * fb - (q - (xa <= va)) * fa  # (s, ...)
            s = psi.std(axis=0, ddof=1) / np.sqrt(xa.shape[0])
        else:
            s = np.hypot(sa, sb)
        delta = np.abs(vb - va)
        with np.errstate(divide="ignore", invalid="ignore"):
            implied = np.where(delta == 0, 0.0, delta / np.abs(share_z(xa, xb, va, vb, paired)))
        a.append(va), b.append(vb), se.append(np.fmax(s, implied))
    ma, sa = mean_se(xa)
    mb, sb = mean_se(xb)
    if paired:
        _, s = mean_se(xb - xa)
    else:
        s = np.hypot(sa, sb)
    a.append(ma), b.append(mb), se.append(s)
    return np.stack(a), np.stack(b), np.stack(se)


@dataclass
class Diff:
    """B against A. ``table``: dims (metric, path, time, statistic), variables ``a``, ``b``,
    ``delta`` (b - a), ``se`` (its Monte Carlo s.e.), ``z`` (delta / se), float64 in the
    metric's units (z in s.e.s), and ``moved`` (bool); the metric's ``units`` on
    ``metric``."""

    a: str
    b: str
    table: xr.Dataset
    paired: bool
    worlds: str  # why the comparison is paired or independent
    n_a: int
    n_b: int
    threshold: float  # z*
    z_min: float
    fwer: float
    comparisons: int  # m: statistics with a finite z

    @property
    def moved(self) -> list[tuple[str, str, float, str]]:
        """(metric, path, years, statistic) of every statistic that moved."""
        t = self.table.moved.stack(row=("metric", "path", "time", "statistic"))
        return [tuple(r) for r in t.row.values[t.values]]

    @property
    def fwer_bound(self) -> float:
        """Bonferroni's bound on the familywise error rate at the threshold used."""
        return min(1.0, self.comparisons * 2 * stats.norm.sf(self.threshold))


def _differs(where: str, what: str, seen, expected, a: str) -> ResonanceError:
    return ResonanceError(
        where,
        f"its {what} ({seen}) differ from {a}'s ({expected})",
        "diff compares stores of the same paths, quarters, metrics and quantiles; "
        "their scenario counts may differ",
    )


def _quantiles(draws: xr.Dataset) -> list[float]:
    config = yaml.safe_load(draws.attrs.get("config_effective", "")) or {}
    return [float(q) for q in config.get("quantiles", (0.05, 0.25, 0.5, 0.75, 0.95))]


def check_same_shape(da: xr.Dataset, db: xr.Dataset, a: str, b: str) -> None:
    """ResonanceError naming the first of paths, quarters, metrics and quantiles in which
    the ``draws`` groups of stores a and b differ."""
    shown = {
        "paths": lambda d: [str(p) for p in d.path.values],
        "quarters": lambda d: [float(t) for t in d.time.values],
        "metrics": lambda d: sorted(
            str(n) for n, v in d.data_vars.items() if v.dims == ("scenario", "path", "time")
        ),
        "quantiles": _quantiles,
    }
    for what, of in shown.items():
        sa, sb = of(da), of(db)
        if sa != sb:
            if what == "quarters":
                sa, sb = f"{len(sa)} to {sa[-1]:g} years", f"{len(sb)} to {sb[-1]:g} years"
            else:
                sa, sb = ",".join(map(str, sa)), ",".join(map(str, sb))
            raise _differs(b, what, sb, sa, a)


def shared_worlds(da: xr.Dataset, db: xr.Dataset) -> tuple[bool, str]:
    """Whether scenario s is the same world in both ``draws`` groups (see the module
    docstring), and why (a few words)."""
    attrs_a, attrs_b = da.attrs, db.attrs
    for key in ("seed", "sampler", "n_firms"):
        if str(attrs_a.get(key)) != str(attrs_b.get(key)):
            return False, f"{key} {attrs_a.get(key)} against {attrs_b.get(key)}"
    if da.sizes["scenario"] != db.sizes["scenario"]:
        return False, f"{da.sizes['scenario']} against {db.sizes['scenario']} scenarios"
    if not np.array_equal(da.scenario.values, db.scenario.values):
        return False, "other scenario ids"
    firms_a = (yaml.safe_load(attrs_a.get("config_effective", "")) or {}).get("firm_parameters")
    firms_b = (yaml.safe_load(attrs_b.get("config_effective", "")) or {}).get("firm_parameters")
    if firms_a != firms_b:
        return False, "other firm distributions"
    from .select import input_names

    names = input_names(da)
    if names != input_names(db):
        return False, "other uncertain parameters"
    for name in names:
        if not np.array_equal(da[name].values, db[name].values, equal_nan=True):
            return False, f"other draws of {name}"
    return True, (
        f"the same {da.sizes['scenario']:,} worlds (seed {attrs_a.get('seed')}, "
        f"{attrs_a.get('sampler')})"
    )


def diff(
    da: xr.Dataset,
    db: xr.Dataset,
    a: str = "A",
    b: str = "B",
    metrics: Sequence[str] | None = None,
    quarter: int | None = -1,
    z_min: float = Z_MIN,
    fwer: float = FWER,
) -> Diff:
    """B against A (see the module docstring): the ``draws`` groups of two stores (one
    variable per metric, ``layout.by_metric``), named a and b in messages.

    metrics: stored metrics or ``tfp_growth`` (default ``HEADLINE``); quarter: an index
    into ``time`` (-1 the last), or None for every quarter. Reads each metric's draws at
    those quarters into memory: (s, p, t) float64 per store."""
    check_same_shape(da, db, a, b)
    metrics = list(metrics or HEADLINE)
    for metric in metrics:
        check_outcome(da, metric)
    n_time = da.sizes["time"]
    if quarter is not None and not -n_time <= quarter < n_time:
        raise ResonanceError(
            f"--quarter {quarter}", f"out of range for {n_time} quarters", "or all"
        )
    times = slice(None) if quarter is None else [quarter % n_time]
    paired, worlds = shared_worlds(da, db)
    quantiles = _quantiles(da)
    values = {}  # metric -> (a, b, se) float64 (k, p, t)

    def read(ds: xr.Dataset, metric: str) -> np.ndarray:
        x = series(ds, metric).isel(time=times).transpose("scenario", "path", "time")
        return np.asarray(x.values, dtype=np.float64)  # (s, p, t)

    inflate = design_effect_bound(max(replications_of(da), replications_of(db)))
    for metric in metrics:
        va, vb, se = statistics(read(da, metric), read(db, metric), quantiles, paired)
        values[metric] = va, vb, se * inflate
    stacked = [np.stack([values[m][i] for m in metrics]) for i in range(3)]  # (m, k, p, t)
    va, vb, se = (np.moveaxis(x, 1, -1) for x in stacked)  # (metric, p, t, k)
    delta = vb - va
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(delta == 0, 0.0, delta / se)
    finite = np.isfinite(z)
    m = max(int(finite.sum()), 1)
    threshold = max(z_min, float(stats.norm.isf(fwer / (2 * m))))
    moved = (finite & (np.abs(z) > threshold)) | np.isinf(z)
    dims = ("metric", "path", "time", "statistic")
    table = xr.Dataset(
        {
            "a": (dims, va, {"long_name": f"statistic of {a}"}),
            "b": (dims, vb, {"long_name": f"statistic of {b}"}),
            "delta": (dims, delta, {"long_name": "b - a"}),
            "se": (dims, se, {"long_name": "Monte Carlo standard error of b - a"}),
            "z": (dims, z, {"long_name": "delta / se", "units": "standard errors"}),
            "moved": (dims, moved, {"long_name": f"|z| > {threshold:.3g}"}),
        },
        coords={
            "metric": np.array(metrics, dtype=object),
            "path": np.array([str(p) for p in da.path.values], dtype=object),
            "time": da.time.values[times],
            "statistic": np.array(statistic_names(quantiles), dtype=object),
            "units": ("metric", np.array([units(da, m) for m in metrics], dtype=object)),
        },
    )
    return Diff(
        a,
        b,
        table,
        paired,
        worlds,
        da.sizes["scenario"],
        db.sizes["scenario"],
        threshold,
        z_min,
        fwer,
        int(finite.sum()),
    )


def _rows(d: Diff):
    """(metric, path, years, statistic, cells) of every statistic, in the table's order;
    cells: a, b, Δ, s.e., z, moved as text."""
    t = d.table
    for metric in t.metric.values:
        for path in t.path.values:
            for time in t.time.values:
                for name in t.statistic.values:
                    r = t.sel(metric=metric, path=path, time=time, statistic=name)
                    z = float(r.z)
                    cells = [
                        f"{float(r.a):.4g}",
                        f"{float(r.b):.4g}",
                        f"{float(r.delta):+.3g}" if float(r.delta) else "0",
                        f"{float(r.se):.2g}",
                        "—" if np.isnan(z) else f"{z:+.1f}" if z else "0",
                        "yes" if bool(r.moved) else "",
                    ]
                    yield str(metric), str(path), float(time), str(name), cells


def summary(d: Diff) -> str:
    """What was compared, how, at which threshold, and what moved: a few lines."""
    how = (
        f"paired: {d.worlds}"
        if d.paired
        else f"independent ({d.worlds}): s.e. = sqrt(s.e. A² + s.e. B²)"
    )
    lines = [
        f"{d.b} against {d.a} ({d.n_b:,} and {d.n_a:,} scenarios), {how}.",
        f"moved: |Δ| > {d.threshold:.2f} s.e. (at least {d.z_min:g}; Bonferroni over "
        f"{d.comparisons} statistics at a familywise error rate of {100 * d.fwer:g} %; "
        f"the bound at this threshold: {d.fwer_bound:.2g}).",
    ]
    moved = d.moved
    if moved:
        paths = sorted({m[1] for m in moved})
        lines.append(
            f"{len(moved)} of {d.comparisons} statistics moved, on {', '.join(paths)}: "
            + "; ".join(f"{m} {p} {s} at {y:g} years" for m, p, y, s in moved[:8])
            + ("; ..." if len(moved) > 8 else "")
        )
    else:
        lines.append(f"none of {d.comparisons} statistics moved beyond its Monte Carlo error")
    return "\n".join(lines)


def diff_table(d: Diff):
    """A rich table of every statistic compared: metric, path, (years), statistic, A, B,
    Δ, s.e., z, moved."""
    from rich.markup import escape
    from rich.table import Table

    many = d.table.sizes["time"] > 1
    years = float(d.table.time.values[-1])
    table = Table(
        title=f"{d.b} against {d.a}"
        + ("" if many else f" after {years:g} years")
        + f" ({'paired' if d.paired else 'independent'})",
        caption=escape(
            f"Δ = B - A; s.e.: its Monte Carlo standard error; moved: |z| > {d.threshold:.2f}"
        ),
    )
    for name in ("metric", "path", *(["years"] if many else []), "statistic"):
        table.add_column(name)
    for name in ("A", "B", "Δ", "s.e.", "z", "moved"):
        table.add_column(name, justify="right")
    last = None
    for metric, path, time, name, cells in _rows(d):
        first = metric != last
        last = metric
        style = "bold red" if cells[-1] else None
        table.add_row(
            escape(metric) if first else "",
            escape(path),
            *([f"{time:g}"] if many else []),
            name,
            *cells,
            style=style,
        )
    return table


def diff_markdown(d: Diff) -> str:
    """The table and the summary as markdown (for a Prefect artifact)."""
    many = d.table.sizes["time"] > 1
    head = [
        "metric",
        "path",
        *(["years"] if many else []),
        "statistic",
        "A",
        "B",
        "Δ",
        "s.e.",
        "z",
        "moved",
    ]
    lines = [
        summary(d).replace("\n", "\n\n"),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for metric, path, time, name, cells in _rows(d):
        row = [metric, path, *([f"{time:g}"] if many else []), name, *cells]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
