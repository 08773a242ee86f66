"""Figures a person looks at: fan charts of the bands and the analyses' charts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ...kernels.registry import METRIC_INFO
from ..metrics import check_metric
from .compare import Comparison
from .discover import Discovery
from .recovery import Recovery
from .robust import CRITERIA, Robustness
from .sensitivity import Sensitivity


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out, rect=(0, 0, 1, 1)) -> Path:
    """rect: the part of the figure the axes fill (room for a legend below them)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=rect)
    fig.savefig(out, dpi=120)
    _pyplot().close(fig)
    return out


def fan_chart(bands: xr.Dataset, metric: str, out: str | Path) -> Path:
    """Fan chart of ``metric``: one panel per path, median with 25-75 and 5-95 % bands."""
    plt = _pyplot()
    check_metric(metric)
    da = bands[metric].load()
    paths = list(da.path.values)
    cols = min(4, len(paths))
    rows = int(np.ceil(len(paths) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 2.8 * rows), sharex=True, sharey=True, squeeze=False
    )
    qs = list(da["quantile"].values)
    years = da.time.values
    for ax, path in zip(axes.flat, paths, strict=False):
        band = da.sel(path=path)
        lo, hi = qs[0], qs[-1]
        ax.fill_between(
            years,
            band.sel(quantile=lo),
            band.sel(quantile=hi),
            alpha=0.25,
            color="tab:blue",
            lw=0,
            label=f"p{100 * lo:g}–p{100 * hi:g}",
        )
        if len(qs) >= 4:
            ax.fill_between(
                years,
                band.sel(quantile=qs[1]),
                band.sel(quantile=qs[-2]),
                alpha=0.45,
                color="tab:blue",
                lw=0,
                label=f"p{100 * qs[1]:g}–p{100 * qs[-2]:g}",
            )
        mid = min(qs, key=lambda q: abs(q - 0.5))
        ax.plot(years, band.sel(quantile=mid), color="tab:blue", lw=1.5, label="median")
        if path != paths[0]:
            ax.plot(
                years,
                da.sel(path=paths[0], quantile=mid),
                color="0.4",
                lw=1,
                ls="--",
                label=f"{paths[0]} median",
            )
        ax.set_title(str(path).replace("_", " "), fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(paths) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("years")
    info = METRIC_INFO[metric]
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{metric} [{info.units}]", fontsize=8)
    axes.flat[min(1, len(paths) - 1)].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        f"{info.long_name}: uncertainty bands by policy path "
        f"({bands.attrs.get('n_scenarios')} scenarios x {bands.attrs.get('n_firms')} "
        "firms)",
        fontsize=10,
    )
    return _save(fig, out)


def comparison_chart(c: Comparison, out) -> Path:
    """Fan chart of the paired difference over time."""
    plt = _pyplot()
    q = c.over_time["quantile_of_difference"]
    years = c.over_time.time.values
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.fill_between(
        years,
        q.sel(quantile=0.05),
        q.sel(quantile=0.95),
        alpha=0.25,
        color="tab:purple",
        lw=0,
        label="p5–p95",
    )
    ax.fill_between(
        years,
        q.sel(quantile=0.25),
        q.sel(quantile=0.75),
        alpha=0.45,
        color="tab:purple",
        lw=0,
        label="p25–p75",
    )
    ax.plot(years, q.sel(quantile=0.5), color="tab:purple", label="median")
    ax.plot(years, c.over_time["mean_difference"], color="k", lw=1, ls="--", label="mean")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xlabel("years")
    ax.set_ylabel(f"Δ {c.metric}")
    ax.set_title(
        f"{c.b} − {c.a}, paired on the same scenarios "
        f"(P(better) = {c.p_better:.2f} at {c.years:g} y)",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, out)


def robustness_chart(r: Robustness, out) -> Path:
    """Where the criteria agree: each path's rank (1 = best) under each criterion, one line
    per path across the criteria (a bump chart), with the value printed in each cell."""
    plt = _pyplot()
    criteria = [str(c) for c in r.table.criterion.values]
    paths = [str(p) for p in r.table.path.values]
    rank = r.table["rank"].values  # (criterion, path)
    fig, ax = plt.subplots(figsize=(1.35 * len(criteria) + 2.5, 0.42 * len(paths) + 1.6))
    im = ax.imshow(rank.T, cmap="RdYlGn_r", vmin=1, vmax=len(paths), aspect="auto")
    for i, c in enumerate(criteria):
        for j in range(len(paths)):
            value = float(r.table[c].values[j])
            ax.text(i, j, f"{rank[i, j]}\n{value:.3g}", ha="center", va="center", fontsize=7)
    ax.set_xticks(
        range(len(criteria)),
        [CRITERIA[c][0] for c in criteria],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    ax.set_yticks(range(len(paths)), paths, fontsize=8)
    goal = "higher" if r.maximize else "lower"
    at = "≥" if r.maximize else "≤"
    extra = f", satisficing: {at} {r.satisfice:g}" if r.satisfice is not None else ""
    ax.set_title(
        f"Rank of each path by criterion ({r.metric}, {goal} is better, {r.years:g} y, "
        f"{r.n:,} worlds{extra})",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, label="rank (1 = best)", shrink=0.8)
    return _save(fig, out)


def sensitivity_chart(s: Sensitivity, out) -> Path:
    """Tornado-style bars of the indices with their intervals."""
    plt = _pyplot()
    rank = s.ranking.iloc[::-1]
    panels = 2 if s.sobol is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    ax = axes[0, 0]
    ax.barh(
        rank.index,
        rank.importance,
        xerr=[
            np.clip(rank.importance - rank.low, 0, None),
            np.clip(rank.high - rank.importance, 0, None),
        ],
        color="tab:blue",
        alpha=0.8,
    )
    ax.set_xlabel("extra-trees importance")
    ax.set_title(f"{s.metric} on {s.path}, {s.years:g} y", fontsize=9)
    if s.sobol is not None:
        sob = s.sobol.loc[s.sobol_order(rank.index)]  # a posterior's parameters: one row
        ax = axes[0, 1]
        y = np.arange(len(sob))
        ax.barh(y + 0.2, sob.ST, 0.4, xerr=sob.ST_conf, label="total ST", color="tab:orange")
        ax.barh(y - 0.2, sob.S1, 0.4, xerr=sob.S1_conf, label="first order S1", color="tab:green")
        ax.set_yticks(y, sob.index)
        ax.set_xlabel("Sobol index")
        ax.legend(fontsize=7)
    return _save(fig, out)


def discovery_chart(d: Discovery, out) -> Path:
    """Scatter of the two most restricted parameters with the box, and the trajectory."""
    plt = _pyplot()
    restricted = d.box.restricted(d.bounds)
    shrink = {
        k: (hi - lo) / (d.bounds[k][1] - d.bounds[k][0] or 1.0)
        for k, (lo, hi) in restricted.items()
    }
    names = sorted(shrink, key=shrink.get)[:2]
    while len(names) < 2:
        names.append(next(c for c in d.inputs.columns if c not in names))
    fig, (ax, tr) = plt.subplots(1, 2, figsize=(10, 4))
    x, y = d.inputs[names[0]], d.inputs[names[1]]
    ax.scatter(x[~d.interest], y[~d.interest], s=5, c="0.7", label="other")
    ax.scatter(x[d.interest], y[d.interest], s=5, c="tab:red", label="of interest")
    (x0, x1), (y0, y1) = d.box.limits[names[0]], d.box.limits[names[1]]
    ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=2, ec="k"))
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"{d.metric} {'<' if d.below else '>'} {d.threshold:g}", fontsize=9)
    cov = [b.coverage for b in d.trajectory]
    den = [b.density for b in d.trajectory]
    tr.plot(cov, den, "-o", ms=3)
    tr.plot(cov[d.chosen], den[d.chosen], "o", ms=9, mfc="none", mec="k")
    tr.set_xlabel("coverage")
    tr.set_ylabel("density")
    tr.set_title("peeling trajectory (chosen box circled)", fontsize=9)
    tr.grid(alpha=0.3)
    return _save(fig, out)


def convergence_chart(history: xr.Dataset, out) -> Path:
    """Each path's statistic ± one standard error against the store's size (log 2)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    n = history.n_scenarios.values
    paths = [str(p) for p in history.path.values]
    labels = (
        f"median {history.attrs['metric']}, last quarter",
        f"P(beats {history.attrs['baseline']})",
    )
    for k, ax in enumerate(axes):
        for j, path in enumerate(paths):
            v = history.value.values[:, j, k]
            if np.isnan(v).all():
                continue
            e = history.standard_error.values[:, j, k]
            ax.errorbar(
                n * (1 + 0.03 * (j - len(paths) / 2)),  # side by side, not on top
                v,
                yerr=e,
                marker="o",
                ms=3,
                capsize=2,
                color=f"C{j % 10}",  # one colour per path in both panels
                label=path,
            )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("scenarios")
        ax.set_title(labels[k])
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"Monte Carlo convergence (bars: ±1 s.e.; target {history.attrs['target_se']:g})")
    return _save(fig, out, rect=(0, 0.12, 1, 1))


def recovery_chart(r: Recovery, out) -> Path:
    """The share of efficiency lost to the chokepoint by quarters since the strike: the
    median over the struck scenarios for every path, with the p25-p75 band of the
    reference and of the path that recovers fastest (least of its loss left)."""
    plt = _pyplot()
    q = r.event["loss_quantile"]
    k = r.event.k.values
    best = r.order()[0]
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, path in enumerate(r.table.index):
        color = colors[j % len(colors)]
        banded = path in (r.reference, best)
        if banded:
            ax.fill_between(
                k,
                100 * q.sel(quantile=0.25, path=path),
                100 * q.sel(quantile=0.75, path=path),
                color=color,
                alpha=0.2,
                lw=0,
            )
        ax.plot(
            k,
            100 * q.sel(quantile=0.5, path=path),
            color=color,
            lw=2.0 if banded else 1.0,
            label=path + (" (p25-p75 band)" if banded else ""),
        )
    ax.set_xlabel("quarters since the chokepoint struck")
    ax.set_ylabel("efficiency lost to it, % (median)")
    ax.set_title(
        f"Recovery after a key-technology chokepoint: {r.n} struck scenarios, paired across paths",
        fontsize=9,
    )
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return _save(fig, out)
