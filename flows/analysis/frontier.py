"""The cost-effect frontier (MODEL.md §10, "Equal budgets"): which policies buy the most.

For every path of a store (typically the policies ``name/000`` ... drawn from a path file's
lever ranges, each with its own cost) at one quarter:

- ``cost``: the path's mean policy cost per year, as a share of the industry's R&D
  spending (its mean extra cumulative cost over the reference, from ``effects``, divided by
  the years elapsed);
- ``effect``: the paired mean effect against the reference (``effects``' ``mean``, with its
  95 % interval), in the metric's units;
- ``regret``: the mean regret across the worlds (``robust``), in the metric's units.

A path is on the **effect frontier** when no other path costs no more and does at least as
well on the mean effect, one of the two strictly (the Pareto set of cost against effect);
on the **regret frontier** likewise for cost against mean regret (both minimised). The
reference itself (cost 0) is a point of both.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import ResonanceError
from .effects import effects
from .robust import robustness


def pareto(cost: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """bool (n,): the points not dominated when both ``cost`` and ``loss`` are minimised
    (float64 (n,) each; a NaN point is never on the front)."""
    ok = np.isfinite(cost) & np.isfinite(loss)
    front = np.zeros(cost.size, bool)
    for i in np.flatnonzero(ok):
        no_worse = ok & (cost <= cost[i]) & (loss <= loss[i])
        better = no_worse & ((cost < cost[i]) | (loss < loss[i]))
        front[i] = not better.any()
    return front


def frontier(
    draws: xr.Dataset, metric: str, quarter: int = -1, reference: str = "baseline"
) -> xr.Dataset:
    """The frontier table of ``metric`` at ``quarter`` (see the module docstring): a Dataset
    with dim ``path`` and variables cost, effect, effect_low, effect_high, per_cost,
    p_better, regret (float64), on_effect_frontier, on_regret_frontier (bool); the drawn
    levers' coordinates come along. Needs a store with ``policy_cost``."""
    eff = effects(draws, metric, quarter, reference)
    if not eff.attrs.get("has_cost"):
        raise ResonanceError(
            "policy_cost", "not in this store", "run it again with this version of resonance"
        )
    rob = robustness(draws, metric, quarter)
    years = float(eff.attrs["years"])
    sign = 1.0 if eff.attrs["higher_is_better"] else -1.0
    cost = eff["cost"].values / years  # the reference's extra cost is its own less itself: 0
    effect = eff["mean"].values
    regret = rob.table["regret_mean"].sel(path=eff.path).values
    table = xr.Dataset(
        {
            "cost": ("path", cost),
            "effect": ("path", effect),
            "effect_low": ("path", eff["mean_low"].values),
            "effect_high": ("path", eff["mean_high"].values),
            "per_cost": ("path", eff["per_cost"].values),
            "p_better": ("path", eff["p_better"].values),
            "regret": ("path", regret),
            "on_effect_frontier": ("path", pareto(cost, -sign * effect)),
            "on_regret_frontier": ("path", pareto(cost, regret)),
        },
        coords=eff.coords,
        attrs={
            "metric": metric,
            "reference": reference,
            "years": years,
            "units": eff.attrs.get("units", ""),
            "higher_is_better": bool(eff.attrs["higher_is_better"]),
        },
    )
    return table.sortby("cost")


def frontier_table(table: xr.Dataset, top: int = 30):
    """A rich Table of the frontier, cheapest first: every path on either frontier, and
    the rest up to ``top`` rows."""
    from rich.table import Table

    units = table.attrs["units"]
    out = Table(
        title=f"Cost-effect frontier: {table.attrs['metric']} against "
        f"{table.attrs['reference']} after {table.attrs['years']:g} years "
        f"(cost: mean policy cost per year, share of R&D spending)"
    )
    for name in (
        "path",
        "cost/yr",
        f"mean effect [95 % CI] ({units})",
        "per cost",
        "P(win)",
        "mean regret",
        "frontier",
    ):
        out.add_column(name, justify="left" if name in ("path", "frontier") else "right")
    on = table.on_effect_frontier.values | table.on_regret_frontier.values
    shown = 0
    for k, path in enumerate(table.path.values):
        if not on[k] and shown >= top:
            continue
        shown += 1
        marks = ", ".join(
            word
            for word, flag in (
                ("effect", table.on_effect_frontier.values[k]),
                ("regret", table.on_regret_frontier.values[k]),
            )
            if flag
        )
        out.add_row(
            str(path),
            f"{table.cost.values[k]:.3f}",
            f"{table.effect.values[k]:+.4g} [{table.effect_low.values[k]:+.3g}, "
            f"{table.effect_high.values[k]:+.3g}]",
            _num(table.per_cost.values[k]),
            f"{table.p_better.values[k]:.2f}",
            f"{table.regret.values[k]:.4g}",
            marks,
        )
    return out


def _num(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:+.3g}"


def frontier_chart(table: xr.Dataset, out: str) -> str:
    """Two panels, cost against mean effect and against mean regret, every path a point
    and each frontier a line; written to ``out`` (PNG), which is returned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    cost = table.cost.values
    for ax, (name, label, flag) in zip(
        axes,
        (
            ("effect", f"mean effect against {table.attrs['reference']}", "on_effect_frontier"),
            ("regret", "mean regret", "on_regret_frontier"),
        ),
        strict=True,
    ):
        y = table[name].values
        front = table[flag].values
        ax.scatter(cost[~front], y[~front], s=14, color="0.6", label="dominated")
        order = np.argsort(cost[front])
        ax.plot(cost[front][order], y[front][order], "o-", color="C3", label="frontier")
        for k in np.flatnonzero(front):
            ax.annotate(
                str(table.path.values[k]),
                (cost[k], y[k]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set_xlabel("mean policy cost per year (share of the industry's R&D spending)")
        ax.set_ylabel(f"{label} ({table.attrs['units']})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{table.attrs['metric']} after {table.attrs['years']:g} years: "
        "what each policy buys for its cost"
    )
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
