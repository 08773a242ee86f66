"""Equal budgets (MODEL.md §10): scale a path's lever changes to a mean policy cost.

A path file may say ``budget: X`` (and a config ``budget: X`` for every path with levers
that gives none): X is the path's mean cost per year as a share of the industry's R&D
spending, the mean of the metric ``policy_cost`` over scenarios and quarters. The path's
lever changes are then scaled by one intensity t (every parameter's change from the
baseline x t, ``LeverArrays.with_intensity``) so that the mean cost equals X.

t is found on a pilot: the run's own first ``PILOT_SCENARIOS`` scenarios of its design,
with ``min(firms, PILOT_FIRMS)`` firms, the path alone.

- A path whose levers are all priced flat (no activity base) costs exactly t times its
  cost at t = 1 in every scenario and quarter, so t = X / cost(1) without simulating.
- Otherwise the cost depends on what the path does (R&D spending, failures,
  conversions): t is bisected on the pilot's simulated mean cost, on [0, t_hi] with t_hi
  doubled from 1 until it costs at least X (at most ``T_MAX``), to a relative error of
  ``TOLERANCE`` in the pilot's mean cost.

Either way the pilot's mean is the budget to that tolerance; the full design's mean
differs from it by the pilot's sampling error (docs/model.md §10 measures it on the
equal-budget config). A path that cannot reach its budget is refused in one line.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from resonance.flows.errors import ConfigError
from resonance.kernels.registry import COST_FLAT, M_POLICY_COST, N_PARAMETERS

PILOT_SCENARIOS = 64
PILOT_FIRMS = 250
T_MAX = 64.0
TOLERANCE = 1e-4


def budgets(config) -> list[float | None]:
    """Each path's budget: its own, else the config's for a path with levers, else None."""
    out = []
    for path in config.paths:
        has_levers = any(path.levers[lever] for lever in path.levers)
        out.append(
            path.budget
            if path.budget is not None
            else (config.schema.budget if has_levers else None)
        )
    return out


def solve_intensities(config) -> np.ndarray:
    """float64 (path,): the intensity of each path (1 where it has no budget)."""
    from resonance.flows.engine.plan import ChunkJob, draw_ids

    targets = budgets(config)
    intensity = np.ones(len(config.paths))
    if all(b is None for b in targets):
        return intensity
    n = min(PILOT_SCENARIOS, config.n_scenarios)
    base_job = dataclasses.replace(
        ChunkJob.of(config), n_firms=min(config.n_firms, PILOT_FIRMS), snapshots=0
    )
    theta = base_job.design.theta(0, n)
    ids = draw_ids(config.sampler, 0, n, config.saltelli_multiple)
    for p, budget in enumerate(targets):
        if budget is None:
            continue
        levers = config.levers.only(p)
        job = dataclasses.replace(base_job, levers=levers)
        params = job.params(theta, ids)  # (s, 1, N_INPUTS) at t = 1
        activity = params[:, 0, N_PARAMETERS:].copy()
        activity[:, COST_FLAT - N_PARAMETERS] = 0.0
        if not activity.any():  # flat costs only: exactly linear in t
            unit = float(params[:, 0, COST_FLAT].mean())
            intensity[p] = _checked(config, p, budget, budget / unit if unit > 0 else np.inf)
            continue

        def cost(t: float, job=job, levers=levers) -> float:
            scaled = dataclasses.replace(job, levers=levers.with_intensity([t]))
            out = scaled.simulate(0, n)[0]
            return float(out[:, 0, :, M_POLICY_COST].mean())

        low, high = 0.0, 1.0
        while cost(high) < budget:
            low, high = high, 2.0 * high
            if high > T_MAX:
                _checked(config, p, budget, np.inf)
        for _ in range(60):
            mid = 0.5 * (low + high)
            c = cost(mid)
            if abs(c - budget) <= TOLERANCE * budget:
                low = high = mid
                break
            low, high = (mid, high) if c < budget else (low, mid)
        intensity[p] = _checked(config, p, budget, 0.5 * (low + high))
    return intensity


def _checked(config, p: int, budget: float, t: float) -> float:
    if not np.isfinite(t) or t > T_MAX:
        raise ConfigError(
            f"paths.{config.paths[p].name}.budget",
            f"{budget:g} is out of reach",
            f"its levers cost less even at {T_MAX:g} times their size; lower the budget",
        )
    return float(t)
