"""Firm snapshots: every firm at the end of every year, equal to the per-firm trace."""

from __future__ import annotations

import numpy as np

from resonance.flows.engine.plan import make_plan
from resonance.kernels import load
from resonance.kernels.registry import (
    BORN,
    BROKE_THROUGH,
    ENTERED,
    JUMP_SCALE,
    LOG_TFP,
    N_METRICS,
    PARADIGM,
    RD,
    S_AGE,
    S_BREAKTHROUGH,
    S_ENTERED,
    S_LOG_TFP,
    S_PARADIGM,
    S_RD,
    S_SHARE,
    SHARE,
)
from tests.helpers import small_config


def test_snapshots_equal_the_per_firm_trace():
    # A high exit share, so that entrants appear within three years.
    config = small_config(
        scenarios=6,
        firms=40,
        quarters=14,
        parameters__exit_share=0.6,
        paths=["baseline", "technological_transition"],
    )
    plan = make_plan(config)
    kernels = load()
    params = plan.params(0, 6)
    ids = np.arange(6)
    out, snap = kernels.simulate(params, config.firm_vector, ids, config.seed, 40, 14, snapshots=4)
    without = kernels.simulate(params, config.firm_vector, ids, config.seed, 40, 14)
    np.testing.assert_array_equal(out, without)  # snapshots change no outcome
    assert snap.shape == (4, 2, 3, 7, 40) and snap.dtype == np.float32
    entries = 0
    for j in range(4):
        for p in range(2):
            _, _, _, history, jumps = kernels.trace(
                params[j, p], config.firm_vector, ids[j], config.seed, 40, 14
            )
            for year in range(3):
                quarters = slice(4 * year, 4 * year + 4)
                end = history[4 * year + 3]
                got = snap[j, p, year]
                for row, var in (
                    (S_LOG_TFP, LOG_TFP),
                    (S_SHARE, SHARE),
                    (S_RD, RD),
                    (S_PARADIGM, PARADIGM),
                ):
                    np.testing.assert_array_equal(got[row], end[var].astype(np.float32))
                entered = history[quarters, ENTERED].max(axis=0)
                np.testing.assert_array_equal(got[S_ENTERED], entered)
                value = (history[quarters, BROKE_THROUGH] * jumps[quarters]).sum(axis=0)
                np.testing.assert_allclose(
                    got[S_BREAKTHROUGH], params[j, p, JUMP_SCALE] * value, rtol=1e-6
                )
                # age: years since the firm's first quarter, by the end of the year;
                # entrants of the year are younger than one, founders start older than 0
                age = (4 * year + 4 - end[BORN]) / 4
                np.testing.assert_allclose(got[S_AGE], age, rtol=1e-6)
                assert (got[S_AGE][entered > 0] < 1).all()
                entries += int(entered.sum())
    assert entries > 0  # the entry flag was exercised
    assert (snap[..., S_BREAKTHROUGH, :] > 0).any()
    assert (snap[:, :, 0, S_AGE, :] > 1).any()  # founders carry their age from t = 0


def test_no_snapshots_asked_none_made():
    config = small_config(scenarios=2, firms=10, quarters=4, paths=["baseline"])
    plan = make_plan(config)
    out = load().simulate(plan.params(0, 2), config.firm_vector, np.arange(2), config.seed, 10, 4)
    assert isinstance(out, np.ndarray) and out.shape == (2, 1, 4, N_METRICS)
