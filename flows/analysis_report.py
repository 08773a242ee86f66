"""Tables and figures of the analyses in ``flows/analysis.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from flows.analysis import Comparison, Discovery, Sensitivity


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    _pyplot().close(fig)
    return out


def comparison_table(c: Comparison) -> Table:
    better = "higher" if c.higher_is_better else "lower"
    table = Table(title=f"{c.metric}: {c.b} - {c.a} after {c.years:g} years, paired over "
                        f"{c.n} scenarios ({better} is better)")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for q, v in c.quantiles.items():
        table.add_row("median" if q == 0.5 else f"p{100 * q:g} of difference", f"{v:.4g}")
    table.add_row("mean difference", f"{c.mean:.4g} ± {c.mean_se:.2g} (MC s.e.)")
    table.add_row("std of difference", f"{c.std:.4g}")
    table.add_row(f"P({c.b} beats {c.a})", f"{c.p_better:.3f} ± {c.p_better_se:.3f}")
    return table


def comparison_chart(c: Comparison, out) -> Path:
    """Fan chart of the paired difference over time."""
    plt = _pyplot()
    q = c.over_time["quantile_of_difference"]
    years = c.over_time.time.values
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.fill_between(years, q.sel(quantile=0.05), q.sel(quantile=0.95), alpha=0.25,
                    color="tab:purple", lw=0, label="p5–p95")
    ax.fill_between(years, q.sel(quantile=0.25), q.sel(quantile=0.75), alpha=0.45,
                    color="tab:purple", lw=0, label="p25–p75")
    ax.plot(years, q.sel(quantile=0.5), color="tab:purple", label="median")
    ax.plot(years, c.over_time["mean_difference"], color="k", lw=1, ls="--", label="mean")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xlabel("years")
    ax.set_ylabel(f"Δ {c.metric}")
    ax.set_title(f"{c.b} − {c.a}, paired on the same scenarios "
                 f"(P(better) = {c.p_better:.2f} at {c.years:g} y)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, out)


def sensitivity_table(s: Sensitivity) -> Table:
    table = Table(title=f"What decides {s.metric} on {s.path} after {s.years:g} years")
    table.add_column("parameter")
    table.add_column("tree importance [95 % CI]", justify="right")
    if s.sobol is not None:
        table.add_column("S1 ± conf", justify="right")
        table.add_column("ST ± conf", justify="right")
    for name, row in s.ranking.iterrows():
        cells = [name, f"{row.importance:.3f} [{row.low:.3f}, {row.high:.3f}]"]
        if s.sobol is not None:
            sob = s.sobol.loc[name]
            cells += [f"{sob.S1:.3f} ± {sob.S1_conf:.3f}", f"{sob.ST:.3f} ± {sob.ST_conf:.3f}"]
        table.add_row(*cells)
    return table


def sensitivity_chart(s: Sensitivity, out) -> Path:
    """Tornado-style bars of the indices with their intervals."""
    plt = _pyplot()
    rank = s.ranking.iloc[::-1]
    panels = 2 if s.sobol is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    ax = axes[0, 0]
    ax.barh(rank.index, rank.importance,
            xerr=[np.clip(rank.importance - rank.low, 0, None),
                  np.clip(rank.high - rank.importance, 0, None)],
            color="tab:blue", alpha=0.8)
    ax.set_xlabel("extra-trees importance")
    ax.set_title(f"{s.metric} on {s.path}, {s.years:g} y", fontsize=9)
    if s.sobol is not None:
        sob = s.sobol.loc[rank.index]
        ax = axes[0, 1]
        y = np.arange(len(sob))
        ax.barh(y + 0.2, sob.ST, 0.4, xerr=sob.ST_conf, label="total ST", color="tab:orange")
        ax.barh(y - 0.2, sob.S1, 0.4, xerr=sob.S1_conf, label="first order S1",
                color="tab:green")
        ax.set_yticks(y, sob.index)
        ax.set_xlabel("Sobol index")
        ax.legend(fontsize=7)
    return _save(fig, out)


def discovery_table(d: Discovery) -> Table:
    box = d.box
    sign = "<" if d.below else ">"
    table = Table(title=f"PRIM: where {d.metric} {sign} {d.threshold:g} on {d.path} after "
                        f"{d.years:g} years (base rate {d.base_rate:.3f}); box "
                        f"{d.chosen} of {len(d.trajectory) - 1}: coverage {box.coverage:.3f}, "
                        f"density {box.density:.3f}, support {box.support:.3f}")
    table.add_column("parameter")
    table.add_column("box low", justify="right")
    table.add_column("box high", justify="right")
    table.add_column("full range", justify="right")
    for name, (lo, hi) in box.restricted(d.bounds).items():
        flo, fhi = d.bounds[name]
        table.add_row(name, f"{lo:.4g}", f"{hi:.4g}", f"[{flo:.4g}, {fhi:.4g}]")
    return table


def discovery_chart(d: Discovery, out) -> Path:
    """Scatter of the two most restricted parameters with the box, and the trajectory."""
    plt = _pyplot()
    restricted = d.box.restricted(d.bounds)
    shrink = {k: (hi - lo) / (d.bounds[k][1] - d.bounds[k][0] or 1.0)
              for k, (lo, hi) in restricted.items()}
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
