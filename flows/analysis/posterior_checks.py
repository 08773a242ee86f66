"""Checks of a calibration's posterior (MODEL.md §11, issue 26): the held-out facts on
posterior draws (a posterior predictive check) and how stable the ranking of the
calibrated config's paths is across the calibration's uncertainty.

Both run on the same K draws of the posterior (``abc.check_draws``), taken by weight:
systematic resampling, the draws at the cumulative weights (k + u) / K for k = 0..K-1,
u one Philox uniform of the calibration seed, so a draw of weight w appears K w times
(rounded up or down) and the choice is reproducible.

- **Held-out facts** (``facts.HELD_OUT``: up or out, the return to R&D). Each check draw's
  own simulation, the one the inference ran and accepted for those parameters (its seed is
  a hash of them, ``infer.simulation_seed``), measured again with the held-out facts by
  ``calibrate.measure``, so by the fact code of ``resonance facts``. Never fitted, so never
  a failure: reported as where each lands against its range.
- **Ranking.** Each check draw's model parameters set in the calibrated config (read
  without the posterior it may draw from), ``abc.rank_scenarios`` x ``abc.rank_firms`` of
  its world design (its own uncertain parameters, its sampler and seed: the same scenarios
  and firms for every draw and every path, common random numbers), every path of its
  ``paths:``. Each path's mean over scenarios of each headline outcome (``metrics.HEADLINE``)
  at the horizon is ranked, 1 the best (higher is better, lower for
  ``metrics.LOWER_IS_BETTER``; ties share the better rank). The reference ranking is that
  of each path's mean over the check draws (the posterior mean of its expected outcome); a
  pair *swaps* in a draw when its order there is the reverse of the reference's.
- **The paths' TFP growth against MODEL.md §8's cap.** On the same runs, each path's median
  over scenarios of aggregate TFP growth as ``resonance facts`` measures it (%/yr, the
  compound annual rate of share-weighted TFP from the end of the first year to the
  horizon, the years of the firm snapshots; ``effects.TFP_GROWTH`` counts from the start,
  a year more): the fact "every path <= 10 %/yr" is not fitted (calibration looks at the
  baseline only, §10), so a posterior whose worlds carry a path past it is reported, draw
  by draw, never tuned away.

``run_checks(spec, post)`` returns the posterior with the checks' variables added (the
layout of ``flows/posterior.py``): ``check_draw`` (check), ``heldout`` (check, held_out),
``heldout_low``/``heldout_high`` (held_out), ``rank_mean`` (check, outcome, path) and
``ranking`` (check, outcome, path), ``path_growth`` (check, path) float64 %/yr.
``heldout_table``, ``ranking_tables`` and ``growth_table`` print them.

Dim letters: c = check draws, h = held-out facts, o = outcomes, p = paths.
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr
from rich.table import Table

from ..metrics import HEADLINE, LOWER_IS_BETTER
from . import calibrate
from . import facts as stylized


def check_draws(post: xr.Dataset, k: int, seed: int) -> np.ndarray:
    """int64 (c,): ``k`` draws of the posterior by weight (systematic resampling, offset a
    Philox uniform of ``seed``), in the order of their draw index."""
    from ...kernels import reference  # the run's Philox, in its NumPy form

    u = float(reference.design_uniforms(seed, np.zeros(1, dtype=np.int64), 1)[0, 0])
    cumulative = np.cumsum(post.weight.values / post.weight.values.sum())
    cumulative[-1] = 1.0
    points = (np.arange(k) + u) / k
    return np.minimum(np.searchsorted(cumulative, points, side="right"), len(cumulative) - 1)


def _values(post: xr.Dataset, draw: int) -> dict[str, float]:
    """One posterior draw's parameters by registry name."""
    values = post.value.values[draw]
    return {str(n): float(v) for n, v in zip(post.parameter.values, values, strict=True)}


def held_out_facts(spec, post: xr.Dataset, draws: np.ndarray, progress=None) -> np.ndarray:
    """float64 (c, h): the held-out facts (``facts.HELD_OUT``) of each draw's own
    simulation (the inference's size and seed), each the median over its scenarios."""
    from .infer import simulator

    sim = simulator(spec)
    cache: dict[int, np.ndarray] = {}  # a draw taken twice is one simulation
    for draw in np.unique(draws):
        row = sim.measure(_values(post, int(draw)), held_out=True)
        cache[int(draw)] = np.array([row[f.name] for f in stylized.HELD_OUT])
        if progress is not None:
            progress(f"held-out facts of draw {int(draw)}")
    return np.stack([cache[int(d)] for d in draws])


def path_outcomes(spec, post: xr.Dataset, draws: np.ndarray, progress=None):
    """(float64 (c, o, p) each path's mean over scenarios of each headline outcome at the
    horizon, float64 (c, p) each path's median over scenarios of its TFP growth to the
    horizon in %/yr, path names): every path of the spec's config at each draw's
    parameters, on ``abc.rank_scenarios`` x ``abc.rank_firms`` of its world design."""
    from ...kernels.registry import METRICS
    from ..engine.plan import make_plan
    from .infer import MODEL_PREFIX

    abc = spec.abc or calibrate.Inference()
    columns = [METRICS.index(m) for m in HEADLINE]
    cache: dict[int, np.ndarray] = {}
    growth: dict[int, np.ndarray] = {}
    names: list[str] = []
    for draw in np.unique(draws):
        values = {f"{MODEL_PREFIX}{n}": v for n, v in _values(post, int(draw)).items()}
        config = calibrate.spec_config(
            spec,
            {
                **spec.fixed,
                **values,
                "sizes.scenarios": abc.rank_scenarios,
                "sizes.firms": abc.rank_firms,
                "sizes.firm_snapshots": 0,
            },
        )
        outcomes, _ = make_plan(config).job.simulate(0, config.n_scenarios)  # (s, p, t, m)
        cache[int(draw)] = outcomes[:, :, -1, columns].mean(axis=0).T  # (o, p)
        growth[int(draw)] = np.nanmedian(tfp_growth(outcomes, config.n_quarters), axis=0)
        names = config.path_names
        if progress is not None:
            progress(f"paths of draw {int(draw)}")
    return (
        np.stack([cache[int(d)] for d in draws]),
        np.stack([growth[int(d)] for d in draws]),
        names,
    )


def tfp_growth(outcomes: np.ndarray, quarters: int) -> np.ndarray:
    """float64 (s, p): aggregate TFP growth as ``facts`` measures it, %/yr, of outcomes
    (s, p, t, m): the compound annual rate of ``tfp`` (the share-weighted sum of firm TFP,
    the facts' aggregate) from the end of year 1 to the end of the last year; NaN where it
    is not positive. Needs two years (8 quarters), as the facts do."""
    from ...kernels.registry import METRICS

    tfp = outcomes[:, :, :, METRICS.index("tfp")].astype(np.float64)
    first, last = tfp[:, :, 3], tfp[:, :, 4 * (quarters // 4) - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return stylized.annual_growth(first, last, quarters // 4 - 1)


def ranks(means: np.ndarray, outcomes=HEADLINE) -> np.ndarray:
    """int64, the shape of ``means`` (..., o, p): each path's rank on each outcome, 1 the
    best (higher is better but for ``LOWER_IS_BETTER``); equal values share the better rank."""
    sign = np.array([1.0 if o in LOWER_IS_BETTER else -1.0 for o in outcomes])[:, None]
    key = sign * means  # smaller is better
    # rank = 1 + how many paths are strictly better
    return 1 + (key[..., None, :] < key[..., :, None]).sum(axis=-1)


def run_checks(spec, post: xr.Dataset, progress=None) -> xr.Dataset:
    """The posterior ``post`` with the held-out check and the ranking on
    ``abc.check_draws`` draws added (see the module docstring)."""
    say = progress or (lambda message: None)
    abc = spec.abc or calibrate.Inference()
    started = time.perf_counter()
    draws = check_draws(post, abc.check_draws, spec.seed)
    held = held_out_facts(spec, post, draws)
    say(
        f"held-out facts of {len(draws)} posterior draws ({np.unique(draws).size} distinct) "
        f"in {time.perf_counter() - started:.0f} s"
    )
    mark = time.perf_counter()
    means, growth, paths = path_outcomes(spec, post, draws)
    say(
        f"{len(paths)} paths x {abc.rank_scenarios} scenarios x {abc.rank_firms} firms on each "
        f"draw in {time.perf_counter() - mark:.0f} s"
    )
    return (
        post.assign(
            check_draw=("check", draws.astype(np.int64)),
            heldout=(("check", "held_out"), held),
            heldout_low=("held_out", [f.low for f in stylized.HELD_OUT]),
            heldout_high=("held_out", [f.high for f in stylized.HELD_OUT]),
            rank_mean=(("check", "outcome", "path"), means),
            ranking=(("check", "outcome", "path"), ranks(means)),
            path_growth=(("check", "path"), growth),
        )
        .assign_coords(
            check=np.arange(len(draws)),
            held_out=[f.name for f in stylized.HELD_OUT],
            outcome=list(HEADLINE),
            path=paths,
        )
        .assign_attrs(
            check_seconds=float(time.perf_counter() - started),
            rank_scenarios=int(abc.rank_scenarios),
            rank_firms=int(abc.rank_firms),
        )
    )


def has_checks(post: xr.Dataset) -> bool:
    """Whether the posterior carries the checks (a calibration with ``--no-checks`` does not)."""
    return "heldout" in post and "ranking" in post


def heldout_table(post: xr.Dataset) -> Table:
    """The held-out facts over the check draws: median [p5, p95], range, share in range."""
    n = post.sizes["check"]
    table = Table(
        title="Held out, on the posterior",
        caption=f"{n} draws by weight, each its own simulation of "
        f"{post.attrs.get('scenarios')} scenarios x {post.attrs.get('firms')} firms; "
        "not fitted, so never a failure",
    )
    for label in ("fact", "range", "median", "p5", "p95", "in range"):
        table.add_column(label, justify="left" if label == "fact" else "right")
    for h, name in enumerate(post.held_out.values):
        values = post.heldout.values[:, h]
        low, high = float(post.heldout_low[h]), float(post.heldout_high[h])
        finite = values[np.isfinite(values)]
        cells = (
            [f"{v:.3g}" for v in np.quantile(finite, [0.5, 0.05, 0.95])]
            if finite.size
            else ["—"] * 3
        )
        inside = np.sum((finite >= low) & (finite <= high))
        table.add_row(str(name), f"[{low:.3g}, {high:.3g}]", *cells, f"{inside} of {n}")
    return table


def swaps(post: xr.Dataset) -> xr.DataArray:
    """float64 (outcome, first, second): the share of check draws in which path ``second``
    is strictly better than ``first``, for each pair the reference ranking (each path's mean
    over the draws) puts ``first`` strictly ahead; NaN for other pairs."""
    sign = np.array([1.0 if o in LOWER_IS_BETTER else -1.0 for o in post.outcome.values])
    key = sign[None, :, None] * post.rank_mean.values  # (c, o, p), smaller is better
    ref = key.mean(axis=0)  # (o, p)
    ahead = ref[:, :, None] < ref[:, None, :]  # (o, first, second): first ahead
    reversed_ = key[:, :, None, :] < key[:, :, :, None]  # second strictly better, per draw
    share = np.where(ahead, reversed_.mean(axis=0), np.nan)
    paths = [str(p) for p in post.path.values]
    return xr.DataArray(
        share,
        dims=("outcome", "first", "second"),
        coords={"outcome": post.outcome.values, "first": paths, "second": paths},
    )


def ranking_tables(post: xr.Dataset) -> list:
    """The ranking's stability: each path's rank per outcome (the reference's, then median
    and range over the draws), how often the whole order and the first place hold, and the
    pairs that swap, most often first."""
    n, outcomes = post.sizes["check"], [str(o) for o in post.outcome.values]
    rank = post.ranking.values  # (c, o, p)
    share = swaps(post)
    ref = ranks(post.rank_mean.values.mean(axis=0)[None], outcomes)[0]  # (o, p)
    table = Table(
        title=f"Ranking of the paths on {n} posterior draws: median rank (min-max), 1 the best",
        caption=f"{post.attrs.get('rank_scenarios')} scenarios x {post.attrs.get('rank_firms')} "
        f"firms at each draw, the same on every path; rows in the order of {outcomes[0]} at the "
        "posterior mean (each path's mean over the draws)",
    )
    table.add_column("path")
    for o in outcomes:
        table.add_column(o, justify="right")
    for p in np.argsort(ref[0], kind="stable"):
        cells = []
        for o in range(len(outcomes)):
            r = rank[:, o, p]
            cells.append(f"{np.median(r):g} ({r.min()}-{r.max()})")
        table.add_row(str(post.path.values[p]), *cells)
    pairs = len(post.path) * (len(post.path) - 1) // 2
    stable = Table(title="Is the ranking stable across the calibration's uncertainty?")
    for label in ("outcome", "same order", "same first", "pairs never swapped"):
        stable.add_column(label, justify="left" if label == "outcome" else "right")
    for o, name in enumerate(outcomes):
        same = int(np.sum(np.all(rank[:, o] == ref[o], axis=-1)))
        first = int(np.sum(rank[:, o, np.argmin(ref[o])] == 1))
        never = int(np.sum(share.values[o] == 0))
        stable.add_row(name, f"{same} of {n}", f"{first} of {n}", f"{never} of {pairs}")
    swapped = Table(title="Pairs that swap: share of draws in which the second is ahead")
    for label in ("outcome", "ahead at the posterior mean", "behind", "swapped"):
        swapped.add_column(label, justify="right" if label == "swapped" else "left")
    for o, name in enumerate(outcomes):
        s = share.values[o]
        firsts, seconds = np.nonzero(s > 0)
        for k in np.argsort(-s[firsts, seconds], kind="stable"):
            a, b = firsts[k], seconds[k]
            swapped.add_row(
                name,
                str(share.first.values[a]),
                str(share.second.values[b]),
                f"{s[a, b]:.0%}",
            )
    return [table, stable, swapped]


def has_growth(post: xr.Dataset) -> bool:
    """Whether the checks carry each path's TFP growth (posteriors before it do not)."""
    return "path_growth" in post


def draws_over_cap(post: xr.Dataset) -> np.ndarray:
    """int64 (p,): on how many check draws each path's median TFP growth passes MODEL.md
    §8's cap on every path."""
    return (post.path_growth.values > stylized.MAX_PATH_TFP_GROWTH).sum(axis=0)


def past_cap(post: xr.Dataset) -> list[tuple[str, int]]:
    """(path, draws) for each path whose median TFP growth passes MODEL.md §8's cap on at
    least one check draw, most draws first."""
    over = draws_over_cap(post)
    order = np.argsort(-over, kind="stable")
    return [(str(post.path.values[p]), int(over[p])) for p in order if over[p] > 0]


def growth_table(post: xr.Dataset) -> Table:
    """Each path's median TFP growth (over its scenarios) across the check draws: median
    [p5, p95] over the draws, and on how many it passes MODEL.md §8's cap on every path."""
    from .facts import MAX_PATH_TFP_GROWTH

    n = post.sizes["check"]
    over = draws_over_cap(post)
    table = Table(
        title=f"TFP growth of each path on {n} posterior draws, %/yr (MODEL.md §8: every "
        f"path at most {MAX_PATH_TFP_GROWTH:g})",
        caption="each draw: the path's median over the ranking's scenarios; not fitted "
        "(calibration looks at the baseline only), so reported, never tuned away",
    )
    for label in ("path", "median", "p5", "p95", f"past {MAX_PATH_TFP_GROWTH:g}"):
        table.add_column(label, justify="left" if label == "path" else "right")
    growth = post.path_growth.values  # (c, p)
    for p in np.argsort(-np.median(growth, axis=0), kind="stable"):
        g = growth[:, p]
        q = np.quantile(g, [0.5, 0.05, 0.95])
        table.add_row(str(post.path.values[p]), *(f"{v:.3g}" for v in q), f"{over[p]} of {n}")
    return table
