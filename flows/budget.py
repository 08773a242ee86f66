"""Equal budgets (MODEL.md §10): scale a path's lever changes to a mean policy cost.

A path file may say ``budget: X`` (and a config ``budget: X`` for every path with levers
that gives none): X is the path's mean cost per year as a share of the industry's R&D
spending, the mean of the metric ``policy_cost`` over scenarios and quarters. The path's
lever changes are then scaled by one intensity t (every parameter's change from the
baseline x t, ``LeverArrays.with_intensity``) so that the mean cost equals X.

t is found on a pilot: ``PILOT_SCENARIOS`` worlds of the config's own distributions drawn
by its ``mc`` stream (the same whatever the run's sampler and size, so a store that grows
keeps its levers), with the run's own number of firms, the path alone.

- A path whose levers are all priced flat (no activity base) costs exactly t times its
  cost at t = 1 in every scenario and quarter, so t = X / cost(1) without simulating.
- Otherwise the cost depends on what the path does (R&D spending, failures,
  conversions): t is bisected on the pilot's simulated mean cost, on [0, t_hi] with t_hi
  doubled from 1 until it costs at least X, to a relative error of ``TOLERANCE`` in the
  pilot's mean cost; the cost moves in small steps (firms' events are discrete: a
  conversion, a product event, an exit flips between close intensities), so where no t
  meets that, the nearest within ``JUMP`` is taken, and a jump across X wider than that is
  refused in one line. ``JUMP`` (1 %) is a quarter of the pilot's own sampling error.

t never takes a parameter out of its valid range: a budget that the largest such t (at
most ``T_MAX``) cannot reach is refused in one line. The pilot's mean is the budget to the
tolerance; the run's mean differs from it by the pilot's sampling error, 64 worlds against
the run's (docs/model.md §10 measures it). Drawn policies (a path file's lever ranges) keep
their drawn levers: a config's budget does not scale them, and their file may not have one.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..kernels.registry import COST_FLAT, M_POLICY_COST, N_PARAMETERS
from .errors import ConfigError

PILOT_SCENARIOS = 64
T_MAX = 64.0
TOLERANCE = 1e-4
JUMP = 0.01  # relative: the widest step of the pilot's cost across the budget taken


def budgets(config) -> list[float | None]:
    """Each path's budget: its own, else the config's for a fixed path with levers, else
    None (the baseline, and drawn policies, whose levers are the design's)."""
    out = []
    for path in config.paths:
        has_levers = any(path.levers[lever] for lever in path.levers)
        out.append(
            path.budget
            if path.budget is not None
            else (config.schema.budget if has_levers and not path.family else None)
        )
    return out


def largest_intensity(config, p: int) -> float:
    """The largest t (at most T_MAX) that keeps every parameter of path ``p`` in its valid
    range at both corners of the world parameters (the change is linear in t)."""
    from ..kernels.registry import PARAMETER_INFO, PARAMETERS

    corners = config.corners()
    change = config.levers.only(p).apply(corners)[:, 0, :] - corners  # (2, k) at t = 1
    t = T_MAX
    for k, name in enumerate(PARAMETERS):
        lo, hi = PARAMETER_INFO[name].bounds
        for c in range(2):
            d = change[c, k]
            if d > 0:
                t = min(t, (hi - corners[c, k]) / d)
            elif d < 0:
                t = min(t, (lo - corners[c, k]) / d)
    return float(t)


def solve_intensities(config) -> np.ndarray:
    """float64 (path,): the intensity of each path (1 where it has no budget)."""
    from .engine.plan import ChunkJob

    targets = budgets(config)
    intensity = np.ones(len(config.paths))
    if all(b is None for b in targets):
        return intensity
    n = PILOT_SCENARIOS
    job = ChunkJob.of(config)
    pilot = dataclasses.replace(
        job, design=dataclasses.replace(job.design, sampler="mc", n=n, replications=1), snapshots=0
    )
    theta, ids = pilot.design.theta(0, n), np.arange(n, dtype=np.int64)
    for p, budget in enumerate(targets):
        if budget is None:
            continue
        levers = config.levers.only(p)
        path_job = dataclasses.replace(pilot, levers=levers)
        top = largest_intensity(config, p)

        def cost(t: float, path_job=path_job, levers=levers) -> float:
            """The pilot's mean policy cost a year at intensity t."""
            scaled = dataclasses.replace(path_job, levers=levers.with_intensity([t]))
            return float(scaled.simulate(0, n)[0][:, 0, :, M_POLICY_COST].mean())

        params = path_job.params(theta, ids)  # (s, 1, N_INPUTS) at t = 1
        if not _paid_on_activity(params):  # flat costs only: exactly linear in t
            unit = float(params[:, 0, COST_FLAT].mean())
            t = budget / unit if unit > 0 else np.inf
            if not t <= top:
                raise _out_of_reach(config, p, budget, top, unit * min(top, T_MAX))
            intensity[p] = t
            continue
        low, high = 0.0, min(1.0, top)
        while cost(high) < budget:
            if high >= top:
                raise _out_of_reach(config, p, budget, top, cost(top))
            low, high = high, min(2.0 * high, top)
        for _ in range(60):
            mid = 0.5 * (low + high)
            c = cost(mid)
            if abs(c - budget) <= TOLERANCE * budget:
                low = high = mid
                break
            low, high = (mid, high) if c < budget else (low, mid)
        t = 0.5 * (low + high)
        c = cost(t)
        if abs(c - budget) > JUMP * budget:
            raise ConfigError(
                f"paths.{config.paths[p].name}.budget",
                f"{budget:g} is not met within {JUMP:g} (the pilot's cost jumps from "
                f"below to {c:.6g} at t = {t:.6g})",
                "give a budget a little above or below",
            )
        intensity[p] = t
    return intensity


def _paid_on_activity(params: np.ndarray) -> bool:
    """Whether any price of the kernel parameters ``params`` (s, p, N_INPUTS) is paid on
    an activity (R&D spending, failures, conversions) rather than flat."""
    coefficients = np.delete(params[..., N_PARAMETERS:], COST_FLAT - N_PARAMETERS, axis=-1)
    return bool(coefficients.any())


def _out_of_reach(config, p: int, budget: float, top: float, reached: float) -> ConfigError:
    return ConfigError(
        f"paths.{config.paths[p].name}.budget",
        f"{budget:g} is out of reach",
        f"at the largest intensity its parameters allow (t = {top:.4g}) it costs "
        f"{reached:.4g} a year; lower the budget",
    )
