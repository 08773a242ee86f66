"""Tables a person reads: the bands of a store (rich and markdown) and the analyses'."""

from __future__ import annotations

import numpy as np
import xarray as xr
from rich.markup import escape
from rich.table import Table

from ...kernels.registry import METRICS
from ..metrics import check_metric
from .compare import Comparison
from .discover import Discovery
from .recovery import Recovery
from .robust import Robustness
from .sensitivity import Sensitivity


def summary_table(bands: xr.Dataset, metrics=None, quarter: int = -1) -> Table:
    """A rich table of one quarter's bands (default: the last) per metric and path."""
    metrics = [check_metric(m) for m in (metrics or METRICS)]
    years = float(bands.time[quarter])
    table = Table(
        title=f"Uncertainty bands after {years:g} years "
        f"({bands.attrs.get('n_scenarios')} scenarios x "
        f"{bands.attrs.get('n_firms')} firms)"
    )
    table.add_column("metric")
    table.add_column("path")
    for q in bands["quantile"].values:
        table.add_column("median" if q == 0.5 else f"p{100 * q:g}", justify="right")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    for metric in metrics:
        values = bands[metric].isel(time=quarter).values  # (path, quantile)
        mean = bands[f"{metric}_mean"].isel(time=quarter).values
        std = bands[f"{metric}_std"].isel(time=quarter).values
        for p, path in enumerate(bands.path.values):
            table.add_row(
                metric if p == 0 else "",
                str(path),
                *(f"{v:.4g}" for v in values[p]),
                f"{mean[p]:.4g}",
                f"{std[p]:.3g}",
                end_section=p == len(bands.path) - 1,
            )
    return table


def world_split_table(split: xr.Dataset) -> Table:
    """World or luck (``split.world_split``): per outcome and path, the band over every
    scenario, the band of the world's expected outcome (quantiles over worlds of the
    replication means), and the shares of one scenario's variance that are the world's
    and the firms' luck."""
    qs = [float(q) for q in split["quantile"].values]
    labels = ["median" if q == 0.5 else f"p{100 * q:g}" for q in qs]
    span = f"{labels[0]}, {labels[-1]}"
    table = Table(
        title=f"World or luck after {split.attrs['years']:g} years ({split.attrs['worlds']:,} "
        f"worlds x {split.attrs['replications']} replications)",
        caption=escape(
            f"band: median [{span}] over every scenario; world: the same over worlds of each "
            "world's mean over its replications; world %, luck %: shares of one scenario's "
            "variance between worlds (unbiased, one-way random effects) and within a world"
        ),
    )
    for column in ("outcome", "path", "band", "world", "world %", "luck %"):
        table.add_column(column, justify="left" if column in ("outcome", "path") else "right")
    mid = qs.index(0.5) if 0.5 in qs else len(qs) // 2

    def band(values) -> str:
        return f"{values[mid]:.3g} [{values[0]:.3g}, {values[-1]:.3g}]"

    for i, outcome in enumerate(str(o) for o in split.outcome.values):
        units = split.attrs["units"][i]
        for p, path in enumerate(str(x) for x in split.path.values):
            row = split.isel(outcome=i, path=p)
            share = float(row.world_share)
            table.add_row(
                f"{outcome}{_unit(units)}" if p == 0 else "",
                path,
                band(row.total_band.values),
                band(row.world_band.values),
                "—" if not np.isfinite(share) else f"{100 * share:.0f}",
                "—" if not np.isfinite(share) else f"{100 * float(row.luck_share):.0f}",
                end_section=p == split.sizes["path"] - 1,
            )
    return table


def summary_markdown(bands: xr.Dataset, metrics=None, store: str = "") -> str:
    """The final-quarter bands as a markdown table (for Prefect artifacts and docs)."""
    metrics = [check_metric(m) for m in (metrics or METRICS)]
    qs = [float(q) for q in bands["quantile"].values]
    head = ["metric", "path", *("median" if q == 0.5 else f"p{100 * q:g}" for q in qs), "mean"]
    lines = [
        f"Bands after {float(bands.time[-1]):g} years, {bands.attrs.get('n_scenarios')} "
        f"scenarios x {bands.attrs.get('n_firms')} firms"
        + (f", store `{store}`" if store else "")
        + ".",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for metric in metrics:
        values = bands[metric].isel(time=-1).values
        mean = bands[f"{metric}_mean"].isel(time=-1).values
        for p, path in enumerate(bands.path.values):
            cells = [metric, str(path), *(f"{v:.4g}" for v in values[p]), f"{mean[p]:.4g}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _decimals(lo: float, hi: float) -> int | None:
    """Decimals that show an interval's half-width to two significant digits (None for a
    point or an unknown interval)."""
    half = 0.5 * (hi - lo)
    if not np.isfinite(half) or half <= 0:
        return None
    return int(max(0, 1 - np.floor(np.log10(half))))


def estimate(
    value: float,
    low: float,
    high: float,
    sign: bool = True,
    sep: str = ", ",
    places: int | None = None,
) -> str:
    """``value [low, high]`` rounded to the interval's precision (two significant digits of
    its half-width), the value signed when ``sign``; "—" for NaN. ``places`` caps the
    decimals (what rounds to 0 shows as 0); without it, a half-width below 1e-5
    shows in exponent notation. ``sep=","`` keeps the interval in one piece where a narrow
    console wraps a table's cells."""
    if not np.isfinite(value):
        return "—"
    found = _decimals(low, high)
    if found is None or (places is None and found > 6):
        fmt = ".3g" if found is None else ".2g"
    else:
        found = found if places is None else min(found, places)
        fmt = f".{found}f"
        value, low, high = (round(x, found) + 0.0 for x in (value, low, high))  # no -0
    head = _signed(value, fmt) if sign else f"{value:{fmt}}"
    if np.isnan(low) or np.isnan(high):
        return head
    return f"{head} [{low:{fmt}}{sep}{high:{fmt}}]"


def chance(p: float, se: float) -> str:
    """A probability and its standard error in per cent: ``83 ± 1.2``, ``99 ± 0.2`` (s.e.
    to two significant digits above 1 %, one below); "—" for NaN."""
    if not np.isfinite(p):
        return "—"
    se = 100 * se
    return f"{100 * p:.0f} ± {se:.2g}" if se >= 1 else f"{100 * p:.0f} ± {se:.1g}"


def _signed(x: float, fmt: str = ".3g") -> str:
    """``x`` with its sign, + too (none for 0)."""
    return f"{x:+{fmt}}" if x != 0 else f"{x:{fmt}}"


def _unit(units: str) -> str:
    return "" if units in ("1", "") else f" {units}"


def comparison_table(c: Comparison) -> Table:
    """The paired differences b - a: their quantiles, mean and spread, then the size of the
    effect (mean and median with 95 % intervals, per unit of policy cost) and the odds."""
    better = "higher" if c.higher_is_better else "lower"
    median = estimate(c.median, c.median_low, c.median_high)
    title = (
        f"{c.metric}: {c.b} - {c.a} after {c.years:g} years, paired over "
        f"{c.n} scenarios ({better} is better)"
    )
    table = Table(
        title=title,
        min_width=len(title),  # the title on one line where the console is wide enough
        caption=escape(
            f"{c.b} beats {c.a} in {chance(c.p_better, c.p_better_se)} % of the worlds, "
            f"by a median of {median}{_unit(c.units)} (95 % intervals)"
        ),
    )
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for q, v in c.quantiles.items():
        table.add_row("median" if q == 0.5 else f"p{100 * q:g} of difference", f"{v:.4g}")
    table.add_row("mean difference", f"{c.mean:.4g} ± {c.mean_se:.2g} (MC s.e.)")
    table.add_row("std of difference", f"{c.std:.4g}")
    table.add_row(
        f"P({c.b} beats {c.a})", f"{c.p_better:.3f} ± {c.p_better_se:.3f}", end_section=True
    )
    table.add_row("effect: mean difference [95 % CI]", estimate(c.mean, c.mean_low, c.mean_high))
    table.add_row("effect: median difference [95 % CI]", median)
    if c.has_cost:
        cost = "—" if not np.isfinite(c.cost) else f"{c.cost:.3g}"
        table.add_row("extra cumulative policy cost (years of R&D spending)", cost)
        per_cost = estimate(c.per_cost, c.per_cost_low, c.per_cost_high)
    else:
        per_cost = "— (no policy_cost in this store)"
    table.add_row("effect per unit of cost [95 % CI]", per_cost)
    table.add_row(f"{c.b} wins, % of worlds (± s.e.)", chance(c.p_better, c.p_better_se))
    return table


def sensitivity_table(s: Sensitivity) -> Table:
    of = "the world's expected " if s.replications > 1 else ""
    table = Table(
        title=f"What decides {of}{s.metric} on {s.path} after {s.years:g} years",
        caption=(
            f"On each world's mean over its {s.replications} replications: the firms' luck "
            "is averaged out of the indices"
            if s.replications > 1
            else None
        ),
    )
    table.add_column("parameter")
    table.add_column("tree importance [95 % CI]", justify="right")
    if s.sobol is not None:
        table.add_column("S1 ± conf", justify="right")
        table.add_column("ST ± conf", justify="right")
    grouped = False
    for name, row in s.ranking.iterrows():
        cells = [name, f"{row.importance:.3f} [{row.low:.3f}, {row.high:.3f}]"]
        if s.sobol is not None:
            group = s.sobol_row(name)
            sob = s.sobol.loc[group]
            mark = " †" if group != name else ""
            grouped |= bool(mark)
            cells += [
                f"{sob.S1:.3f} ± {sob.S1_conf:.3f}{mark}",
                f"{sob.ST:.3f} ± {sob.ST_conf:.3f}{mark}",
            ]
        table.add_row(*cells)
    if grouped:
        note = "† drawn from the posterior: one design input, the Sobol indices of the group"
        table.caption = f"{table.caption}; {note}" if table.caption else note
    return table


def discovery_tables(d: Discovery, steps: int = 12) -> list[Table]:
    """The first box's peeling-and-pasting trajectory (about ``steps`` rows, the chosen one
    always), each box of the sequence with its restrictions (and resampling stability),
    and CART's densest leaves."""
    sign = "<" if d.below else ">"
    out = []
    first = d.found[0]
    traj = Table(
        title=f"PRIM peeling trajectory: {d.metric} {sign} {d.threshold:g} on {d.path} after "
        f"{d.years:g} years ({len(d.interest):,} cases, base rate {d.base_rate:.3f})",
        caption="* the chosen step (--box K chooses another)",
    )
    for column in ("step", "coverage", "density", "support", "restricted"):
        traj.add_column(column, justify="right")
    n = len(first.trajectory)
    shown = sorted({*range(0, n, max(1, n // steps)), n - 1, first.chosen})
    for i in shown:
        b = first.trajectory[i]
        mark = "*" if i == first.chosen else ""
        traj.add_row(
            f"{i}{mark}",
            f"{b.coverage:.3f}",
            f"{b.density:.3f}",
            f"{b.support:.3f}",
            str(len(b.restricted(d.bounds))),
        )
    out.append(traj)
    for k, found in enumerate(d.found):
        box = found.box
        table = Table(
            title=f"box {k + 1}: step {found.chosen} of {len(found.trajectory) - 1}, "
            f"coverage {box.coverage:.3f}, density {box.density:.3f}, support {box.support:.3f}"
        )
        table.add_column("input")
        table.add_column("box low", justify="right")
        table.add_column("box high", justify="right")
        table.add_column("full range", justify="right")
        if found.stability is not None:
            table.add_column("reproduce coverage %", justify="right")
            table.add_column("reproduce density %", justify="right")
        for name, (lo, hi) in box.restricted(d.bounds).items():
            flo, fhi = d.bounds[name]
            row = [name, f"{lo:.4g}", f"{hi:.4g}", f"[{flo:.4g}, {fhi:.4g}]"]
            if found.stability is not None:
                row += [f"{v:.0f}" for v in found.stability.loc[name].values]
            table.add_row(*row)
        out.append(table)
    if d.cart:
        cart = Table(title="CART: the densest leaves of a classification tree")
        for column in ("leaf", "coverage", "density", "support"):
            cart.add_column(column, justify="right")
        cart.add_column("restrictions")
        for i, b in enumerate(d.cart[:3]):
            limits = ", ".join(
                f"{name} in [{lo:.3g}, {hi:.3g}]"
                for name, (lo, hi) in b.restricted(d.bounds).items()
            )
            cart.add_row(
                str(i + 1), f"{b.coverage:.3f}", f"{b.density:.3f}", f"{b.support:.3f}", limits
            )
        out.append(cart)
    return out


def robustness_table(r: Robustness) -> Table:
    """Every path under every criterion, the rank (1 = best) beside each value (the size
    of each path's effect against the reference: :func:`effects_table`)."""
    goal = "higher" if r.maximize else "lower"
    title = (
        f"Robustness of {r.metric} after {r.years:g} years over {r.n:,} worlds "
        f"({goal} is better"
        + (
            f"; satisficing: {'≥' if r.maximize else '≤'} {r.satisfice:g}"
            if r.satisfice is not None
            else ""
        )
        + ")"
    )
    table = Table(
        title=title,
        caption="(rank): 1 = best under that criterion; tail p10 = 10th percentile on the bad side",
    )
    table.add_column("path", no_wrap=True)
    criteria = [str(c) for c in r.table.criterion.values]
    for c in criteria:
        table.add_column(c.replace("_", " "), justify="right", no_wrap=True)
    table.add_column("std", justify="right")
    for j, path in enumerate(str(p) for p in r.table.path.values):
        cells = [path]
        for i, c in enumerate(criteria):
            value = float(r.table[c].values[j])
            text = f"{value:.3g}"
            if c == "satisficing":
                text += f"±{float(r.table['satisficing_se'].values[j]):.1g}"
            cells.append(f"{text} ({int(r.table['rank'].values[i, j])})")
        cells.append(f"{float(r.table['std'].values[j]):.3g}")
        table.add_row(*cells)
    return table


def effects_table(e: xr.Dataset) -> Table:
    """The size of every path's effect against the reference (``effects.effects``), one row
    per path: mean difference [95 % CI], extra cumulative policy cost, difference per unit
    of that cost [95 % CI], and how often the path wins (P(beats the reference) in % ±
    s.e.)."""
    ref = e.attrs["reference"]
    unit = _unit(e.attrs["difference_units"])
    better = "higher" if e.attrs["higher_is_better"] else "lower"
    table = Table(
        title=escape(
            f"Effect on {e.attrs['metric']} against {ref} after {e.attrs['years']:g} years, "
            f"paired over {int(e['n'].values[0]):,} worlds ({better} is better)"
        ),
        caption=escape(
            f"Δ = path - {ref} on the same world{unit and f' ({unit.strip()})'}, 95 % "
            "intervals; cost: extra cumulative policy cost in years of industry R&D spending"
            + ("" if e.attrs["has_cost"] else " (this store has none)")
            + f"; per cost: mean Δ / mean cost; wins: P(beats {ref}) in % ± s.e."
        ),
    )
    table.add_column("path", no_wrap=True)
    for name in ("Δ mean [95 % CI]", "Δ median [95 % CI]", "cost", "Δ per cost [95 % CI]"):
        table.add_column(escape(name), justify="right")
    table.add_column("wins %", justify="right", no_wrap=True)
    for path in (str(p) for p in e.path.values):
        row = e.sel(path=path)
        if path == ref:
            table.add_row(path, "—", "—", "—", "—", "—")
            continue
        cost = float(row.cost)
        table.add_row(
            path,
            estimate(float(row["mean"]), float(row.mean_low), float(row.mean_high), sep=","),
            estimate(float(row["median"]), float(row.median_low), float(row.median_high), sep=","),
            "—" if not np.isfinite(cost) else f"{cost:.3g}",
            estimate(
                float(row.per_cost), float(row.per_cost_low), float(row.per_cost_high), sep=","
            ),
            chance(float(row.p_better), float(row.p_better_se)),
        )
    return table


BESIDE_GROWTH = {
    "coordination": "coordi-\nnation",
    "innovation_efficiency": "innovation\nefficiency",
}
"""The metrics whose medians the closing table shows beside TFP growth: their headers."""


def headline_table(growth: xr.Dataset, bands: xr.Dataset) -> Table:
    """The run's closing table: per path, the headline outcomes side by side (aggregate TFP
    growth, %/yr, median [p5, p95] over scenarios; the medians of the coupling
    coordination degree and of innovation efficiency, from the bands at the same quarter)
    and the path against the reference on TFP growth (mean difference in percentage points
    per year [95 % CI], per unit of extra cumulative policy cost, P(beats it) in per cent
    ± s.e.). About 120 columns; a narrower console wraps cells before their interval.

    growth: ``effects.effects(draws, "tfp_growth", ...)``; bands: the store's root group.
    """
    ref = growth.attrs["reference"]
    quarter = growth.attrs["quarter"]
    firms = bands.attrs.get("n_firms")
    caption = (
        "TFP growth: compound annual rate, median [p5, p95] over scenarios; coordination, "
        f"innovation efficiency: medians. Δ: the path's TFP growth - {ref}'s on the same "
        "world (percentage points a year), mean [95 % CI]; per cost: mean Δ per unit of "
        "extra cumulative policy cost (one year's industry R&D spending"
        + ("" if growth.attrs["has_cost"] else "; this store has none")
        + f"); wins: P(beats {ref}) in % ± s.e."
    )
    table = Table(
        title=f"Headline outcomes after {growth.attrs['years']:g} years "
        f"({int(growth['n'].values[0]):,} scenarios x "
        + (f"{firms:,}" if isinstance(firms, int) else str(firms))
        + " firms)",
        caption=escape(caption),
    )
    table.add_column("path", no_wrap=True)
    table.add_column("TFP growth\n%/yr", justify="right")
    for header in BESIDE_GROWTH.values():
        table.add_column(header, justify="right")
    table.add_column(f"Δ TFP growth\nvs {ref}", justify="right")
    table.add_column("Δ per\ncost", justify="right")
    table.add_column("wins\n%", justify="right")

    # each metric's medians at the quarter read at once (a lazy band's every read is a
    # dask compute)
    medians = {
        metric: bands[metric].sel(quantile=0.5).isel(time=quarter).load()
        for metric in BESIDE_GROWTH
        if metric in bands
    }

    def median(metric: str, path: str) -> str:
        if metric not in medians:
            return "—"
        return f"{float(medians[metric].sel(path=path)):#.3g}"

    for path in (str(p) for p in growth.path.values):
        row = growth.sel(path=path)
        level = (
            f"{float(row.value_median):.2f} [{float(row.value_p5):.2f},{float(row.value_p95):.2f}]"
        )
        if path == ref:
            paired = ["—", "—", "—"]
        else:
            per_cost = float(row.per_cost)
            paired = [
                # a thousandth of a point a year is no effect: at most three decimals
                estimate(
                    float(row["mean"]), float(row.mean_low), float(row.mean_high), sep=",", places=3
                ),
                # percentage points a year per year of R&D spending: two decimals
                "—" if not np.isfinite(per_cost) else _signed(round(per_cost, 2) + 0.0, ".2f"),
                chance(float(row.p_better), float(row.p_better_se)),
            ]
        table.add_row(
            path,
            level,
            *(median(metric, path) for metric in BESIDE_GROWTH),
            *paired,
        )
    return table


CALIBRATION_COLUMNS = (
    ("tfp_growth", "TFP %/yr"),
    ("size_tail_mid", "tail mid"),
    ("size_tail_end", "tail end"),
    ("growth_kurtosis", "kurtosis"),
    ("dispersion_end", "90:10"),
    ("persistence", "persist."),
    ("innovation_skew", "skew"),
    ("exit_rate", "exit %/yr"),
    ("new_paradigm_share", "paradigm"),
)


def calibration_table(ranking: xr.Dataset, top: int) -> Table:
    """The ``top`` best candidates of a calibration search: searched values, misses (0: every
    fact and target in range), score, and the baseline facts."""
    searched = list(ranking.attrs["searched"])
    table = Table(
        title=f"Calibration: best {min(top, ranking.sizes['candidate'])} of "
        f"{ranking.sizes['candidate']} candidates ({ranking.attrs['scenarios']} scenarios x "
        f"{ranking.attrs['firms']} firms each)"
    )
    for name in searched:
        table.add_column(name.split(".")[-1], justify="right")
    for label in ("misses", "score", *(label for _, label in CALIBRATION_COLUMNS)):
        table.add_column(label, justify="right")
    for k in range(min(top, ranking.sizes["candidate"])):
        row = ranking.isel(candidate=k)
        cells = [f"{float(row[n]):.4g}" for n in searched]
        cells += [f"{float(row.misses):.3g}", f"{float(row.score):.3g}"]
        cells += [f"{float(row[key]):.3g}" if key in row else "—" for key, _ in CALIBRATION_COLUMNS]
        table.add_row(*cells)
    return table


def posterior_tables(post: xr.Dataset) -> list[Table]:
    """A calibration's posterior (flows/posterior.py): each parameter's prior and weighted
    median [p5, p95] with the bound it piles against; each fitted fact's range, sampling
    sd and posterior predictive median [p5, p95]; the acceptance history."""
    from ..posterior import by_temperature, piled_against, weighted_quantiles

    q = weighted_quantiles(post)
    piled = {(name, side): share for name, side, share in piled_against(post)}
    w = post.weight.values / post.weight.values.sum()
    params = Table(
        title=f"Posterior of {post.sizes['parameter']} parameters: {post.sizes['draw']} draws "
        f"(effective sample size {1.0 / float(np.sum(w * w)):.0f}), "
        f"{post.attrs.get('total_simulations')} simulations of {post.attrs.get('scenarios')} "
        f"scenarios x {post.attrs.get('firms')} firms, {post.attrs.get('wall_seconds', 0):.0f} s"
    )
    for label in ("parameter", "prior", "median", "p5", "p95", "piles against"):
        params.add_column(label, justify="left" if label == "parameter" else "right")
    for k, name in enumerate(post.parameter.values):
        against = [
            f"{side} ({piled[name, side]:.0%})" for side in ("low", "high") if (name, side) in piled
        ]
        params.add_row(
            str(name),
            f"[{float(post.prior_low[k]):.4g}, {float(post.prior_high[k]):.4g}]",
            *(f"{float(q[j, k]):.4g}" for j in (1, 0, 2)),
            ", ".join(against) or "—",
        )
    facts = Table(title="Fitted facts: posterior predictive (each draw's own simulation)")
    for label in ("fact", "range", "observed as", "sampling sd", "median", "p5", "p95"):
        facts.add_column(label, justify="left" if label == "fact" else "right")
    weight = post.weight.values / post.weight.values.sum()
    for f, name in enumerate(post.fact.values):
        values = post.facts.values[:, f]
        finite = np.isfinite(values)
        order = np.argsort(np.where(finite, values, np.inf), kind="stable")[: finite.sum()]
        cum = np.cumsum(weight[order]) / max(weight[order].sum(), 1e-300)
        cells = (
            [
                f"{values[order][min(np.searchsorted(cum, p - 1e-12), len(cum) - 1)]:.3g}"
                for p in (0.5, 0.05, 0.95)
            ]
            if finite.any()
            else ["—"] * 3
        )
        facts.add_row(
            str(name),
            f"[{float(post.fact_low[f]):.3g}, {float(post.fact_high[f]):.3g}]",
            _observed_as(post, f),
            f"{float(post.fact_sd[f]):.3g}",
            *cells,
        )
    steps = Table(title="ABC-SMC acceptance history")
    tolerance = "temperature" if by_temperature(post) else "epsilon (sds)"
    for label in ("generation", tolerance, "simulations", "acceptance rate"):
        steps.add_column(label, justify="right")
    for g in range(post.sizes["generation"]):
        steps.add_row(
            str(int(post.generation[g])),
            f"{float(post.epsilon[g]):.3g}",
            str(int(post.simulations[g])),
            f"{float(post.acceptance_rate[g]):.3g}",
        )
    return [params, facts, steps]


def _observed_as(post: xr.Dataset, f: int) -> str:
    """How the inference saw fact f's real value: "2.9 -0.95/+1.55" (its centre and the
    observation sds below and above), "in range" for a bound alone, "—" for a posterior
    of the older range-only model."""
    from ..posterior import by_temperature

    if not by_temperature(post):
        return "—"
    centre = float(post.fact_centre[f])
    if not np.isfinite(centre):
        return "in range"
    below, above = float(post.fact_below[f]), float(post.fact_above[f])
    return f"{centre:.3g} -{below:.2g}/+{above:.2g}"


def facts_tables(table: xr.Dataset, where: str) -> list[Table]:
    """One rich table per path of the stylized facts (``analysis.facts.facts`` output).
    A held-out fact's label ends in "*" (a caption says what that means); its "ok" says
    whether it lands like any other's, in yellow when it does not (it is not fitted)."""
    out = []
    for path in table.path.values:
        t = table.sel(path=path)
        checked_any = bool(t.checked.any())
        title = f"Stylized facts, {path}: {where}"
        if not checked_any:
            title += " (ranges are for the baseline)"
        tab = Table(title=title)
        for column in ("fact", "definition", "median [p5, p95]", "range", "source", "ok"):
            tab.add_column(
                column,
                overflow="fold",
                justify="right" if column.startswith(("median", "range")) else "left",
            )
        for f in t.fact.values:
            row = t.sel(fact=f)
            held_out = "held_out" in row.coords and bool(row.held_out)
            units = str(row.units.values)
            unit = "" if units == "1" else f" {units}"
            low, high = float(row.low), float(row.high)
            if int(row.measured) == 0:
                span, ok = "—", "n/a"
            elif bool(row.checked):
                span = f"≤ {high:g}" if np.isnan(low) else f"{low:g}–{high:g}"
                miss = "[yellow]no[/]" if held_out else "[bold red]no[/]"
                ok = "yes" if bool(row.in_range) else miss
            else:
                span, ok = "—", ""
            tab.add_row(
                str(row.label.values) + ("*" if held_out else ""),
                str(row.definition.values),
                f"{float(row['median']):.3g} [{float(row.p5):.3g}, {float(row.p95):.3g}]{unit}",
                span + ("" if span == "—" else unit),
                str(row.source.values),
                ok,
            )
        captions = []
        if "held_out" in t.coords and bool(t.held_out.any()):
            captions.append(
                "* held out: measured and checked against its range, not fitted by the "
                "calibration, and not failing --check (MODEL.md §11)"
            )
        if "growth_kurtosis_by_year" in t:
            years = t.growth_kurtosis_by_year
            captions.append(
                "growth-rate kurtosis year by year (median over scenarios): "
                + ", ".join(
                    f"year {int(y)} {float(v):.2g}"
                    for y, v in zip(years.year.values, years.values, strict=True)
                )
            )
        if captions:
            tab.caption = "\n".join(captions)
        out.append(tab)
    return out


def convergence_table(history: xr.Dataset) -> Table:
    """A grown store's statistics by size: every path's median and P(beats baseline), each
    ± its Monte Carlo standard error, one row per path and size."""
    table = Table(
        title=f"Convergence of {history.attrs['metric']} at the last quarter "
        f"(target s.e. {history.attrs['target_se']:g})",
        caption=f"P: probability of beating {history.attrs['baseline']} on the same scenario",
    )
    for name in ("scenarios", "path", "median", "P(beats)", "largest s.e."):
        table.add_column(name, justify="left" if name == "path" else "right", no_wrap=True)
    paths = [str(p) for p in history.path.values]
    for k, n in enumerate(history.n_scenarios.values):
        value = history.value.values[k]
        se = history.standard_error.values[k]
        for j, path in enumerate(paths):
            p = "—" if np.isnan(value[j, 1]) else f"{value[j, 1]:.3f} ± {se[j, 1]:.3f}"
            table.add_row(
                f"{int(n):,}" if j == 0 else "",
                path,
                f"{value[j, 0]:.4g} ± {se[j, 0]:.2g}",
                p,
                f"{np.nanmax(se[j]):.2g}",
                end_section=j == len(paths) - 1,
            )
    return table


def recovery_table(r: Recovery) -> Table:
    """Loss and recovery after the chokepoint per path (``analysis.recovery.Recovery``),
    the path that keeps the least of its loss first."""
    table = Table(
        title=f"After the chokepoint: {r.n} of {r.struck} struck scenarios (of "
        f"{r.scenarios}) with {r.window} quarters after the strike, paired across paths"
    )
    for name, justify in (
        ("path", "left"),
        ("loss at strike", "right"),
        (f"left after {r.window} q: median [p25, p75]", "right"),
        ("half-life, quarters", "right"),
        ("mean loss over the window (median)", "right"),
        (f"P(recovers faster than {r.reference})", "right"),
    ):
        table.add_column(name, justify=justify)
    for path in r.order():
        row = r.table.loc[path]
        half = row.half_life_median
        table.add_row(
            path,
            f"{row.loss_at_strike:.1%}",
            f"{row.remaining_median:.0%} [{row.remaining_p25:.0%}, {row.remaining_p75:.0%}]",
            f">{r.window}" if not np.isfinite(half) else f"{half:g}",
            f"{row.mean_loss_window:.1%}",
            "—" if path == r.reference else f"{row.p_faster:.2f} ± {row.p_faster_se:.2f}",
        )
    return table
