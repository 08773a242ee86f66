"""The seeds' mechanisms closed (MODEL.md §11, docs/model.md §3b): properties 17-22.

Each mechanism is checked where it acts, on shared draws: through the kernel's own step
(``Stepper``, float64, to 1e-12) where the equation can be recomputed, and on whole runs
(``run_variants``) where only its direction is the point.
"""

from __future__ import annotations

import numpy as np
import pytest

from resonance.flows.analysis.panel_facts import size_variance
from resonance.kernels.firms import IND_RD
from resonance.kernels.registry import (
    BORN,
    BOUND,
    BROKE_THROUGH,
    CHOKE_PROB,
    CHOKE_SEVERITY,
    COMPETITIVENESS,
    DATA_INTEGRATION,
    DATA_LIFT,
    DEMAND_EVENTS,
    DEMAND_VOL,
    FEEDBACK,
    LINE_SIZE,
    LOG_KEEP,
    METRICS,
    RD,
    RD_BURDEN,
    S_ENTERED,
    S_SHARE,
    SHARE,
    SUBSTITUTION,
    SUBSTITUTION_RATE,
    TALENT_POOL,
)
from resonance.kernels.simulate import simulate, trace
from tests.helpers import nominal_params
from tests.kernels.test_properties import Stepper, run_variants

TFP = METRICS.index("tfp")
INDUSTRY = METRICS.index("industry_efficiency")

# 17. Data lowers the cost of innovation: it moves technology (S0 §2.3 (2), §3.2) ---------


def test_data_lifts_tfp_through_technology(config):
    """Doubling data feedback raises TFP on the same draws, and more with the lift θ_D > 0
    than without it: data reaches technology (with θ_D = 0 it still does, a little, through
    U_F's share in the reinvestment signal; data's pull on integration is off here)."""
    double = 2.0 * nominal_params(config)[FEEDBACK]
    runs = run_variants(
        config,
        [
            {DATA_LIFT: 0.3, DATA_INTEGRATION: 0.0},
            {DATA_LIFT: 0.3, DATA_INTEGRATION: 0.0, FEEDBACK: double},
            {DATA_LIFT: 0.0, DATA_INTEGRATION: 0.0},
            {DATA_LIFT: 0.0, DATA_INTEGRATION: 0.0, FEEDBACK: double},
        ],
        scenarios=8,
        firms=100,
        quarters=32,
    )
    end = runs[:, :, -1, TFP]  # (variant, s)
    lifted = end[1] - end[0]
    unlifted = end[3] - end[2]
    assert (lifted > 0).mean() >= 0.75
    assert (lifted > unlifted).mean() >= 0.75 and np.median(lifted - unlifted) > 0.0


# 18. S2's data-network-activity loop closes: data pulls integration -----------------------


def test_data_pulls_integration_up(config):
    base, pulled, pulled_more_data = run_variants(
        config,
        [
            {DATA_INTEGRATION: 0.0},
            {DATA_INTEGRATION: 0.004},
            {DATA_INTEGRATION: 0.004, FEEDBACK: 2.0 * nominal_params(config)[FEEDBACK]},
        ],
        scenarios=6,
        firms=80,
        quarters=24,
    )
    x = (base[..., INDUSTRY], pulled[..., INDUSTRY], pulled_more_data[..., INDUSTRY])
    assert (x[1][:, -1] > x[0][:, -1]).all()  # data's pull raises U_I = X / (1 + Z)
    assert (x[2][:, -1] > x[1][:, -1]).all()  # and more data pulls harder


# 19. R&D is paid for: it comes out of competitiveness in the quarter ----------------------


def test_rd_spending_lowers_competitiveness_by_its_burden(config):
    """One quarter from the same state and draws: c_i with the burden is c_i without it
    times (1 - rd_burden rd_i), rd_i the intensity spent in the quarter."""
    comps = []
    for burden in (0.0, 1.0):
        params = nominal_params(config)
        params[RD_BURDEN] = burden
        stepper = Stepper(config, params, 200, 1)
        rd = stepper.state[RD].copy()  # the intensity the first quarter spends
        comps.append(stepper.quarter(0)[COMPETITIVENESS].copy())
    np.testing.assert_allclose(comps[1], comps[0] * (1.0 - rd), rtol=1e-12)
    assert (comps[1] < comps[0]).all()


# 20. The chokepoint yields only to substitution R&D (S4 §5.2, §7.3) ----------------------


def test_no_conversion_frees_a_bound_firm(config):
    params = nominal_params(config)
    params[CHOKE_PROB], params[CHOKE_SEVERITY] = 1.0, 0.4
    _, _, converted, history, _ = trace(
        params, config.firm_vector, 3, config.seed, 150, 40, "float64"
    )
    strike = int(np.argmax(history[:, BOUND].max(axis=1) > 0))
    assert (history[strike:, BOUND] == 1.0).all()  # every firm, every quarter after
    assert converted[strike + 1 :].sum() > 0  # although firms kept converting


@pytest.mark.parametrize("effort", [0.0, 0.1, 0.3])
def test_exposure_shrinks_at_the_pace_of_substitution_rd(config, effort):
    """log keep_i <- log keep_i (1 - min(1, κ_s σ_s rd_i share_i N)) each quarter, to 1e-12;
    with no effort it stays where entry set it."""
    params = nominal_params(config)
    params[SUBSTITUTION], params[SUBSTITUTION_RATE] = effort, 5.0
    params[CHOKE_SEVERITY] = 0.4
    stepper = Stepper(config, params, 120, 2)
    n = stepper.state.shape[1]
    for t in range(8):
        before = stepper.state.copy()
        state = stepper.quarter(t)
        stay = state[BORN] == before[BORN]  # slots no entrant took this quarter
        pace = np.minimum(1.0, 5.0 * effort * before[RD] * before[SHARE] * n)
        expected = before[LOG_KEEP] * (1.0 - pace)
        np.testing.assert_allclose(state[LOG_KEEP][stay], expected[stay], rtol=1e-12)
    if effort > 0.0:
        moved = state[LOG_KEEP][stay] - before[LOG_KEEP][stay]
        assert (moved >= 0.0).all() and (moved > 0.0).mean() > 0.9  # toward no loss


def test_substitution_costs_innovation_where_nothing_strikes(config):
    """Substitution R&D is not available to other innovation: without a chokepoint a
    larger effort lowers TFP on the same draws."""
    none, some = run_variants(
        config,
        [{SUBSTITUTION: 0.0, CHOKE_PROB: 0.0}, {SUBSTITUTION: 0.4, CHOKE_PROB: 0.0}],
        scenarios=8,
        firms=100,
        quarters=32,
    )
    assert np.median(some[:, -1, TFP] - none[:, -1, TFP]) < 0.0


# 21. One pool of high-end talent: one firm's hiring tightens the others' gap --------------


def test_the_industrys_rd_tightens_every_firms_talent_gap(config):
    """From the same state and draws, a higher industry R&D intensity last quarter (more
    demand on the pool) can only remove breakthroughs, never add one; a pool too large to
    bind gives the model without one."""
    params = nominal_params(config)
    params[TALENT_POOL] = 0.02
    stepper = Stepper(config, params, 400, 2)
    for t in range(4):
        stepper.quarter(t)
    saved = stepper.state.copy(), stepper.ind.copy()
    broke = []
    for demand in (0.05, 0.15):
        stepper.state[:], stepper.ind[:] = saved
        stepper.ind[IND_RD] = demand
        broke.append(stepper.quarter(4)[BROKE_THROUGH].copy())
    assert (broke[1] <= broke[0]).all() and broke[1].sum() < broke[0].sum()
    # an unbounded pool fills every firm's need whatever the demand
    params[TALENT_POOL] = 1e9
    rows = []
    for demand in (0.05, 0.15):
        stepper = Stepper(config, params, 400, 2)
        stepper.ind[IND_RD] = demand
        rows.append(stepper.quarter(0).copy())
    np.testing.assert_array_equal(rows[0], rows[1])


def test_the_industrys_rd_is_last_quarters_share_weighted_intensity(config):
    """The pool's demand, IND_RD, is Σ share_i rd_i of the quarter just spent (before the
    reinvestment and selection that end it)."""
    stepper = Stepper(config, nominal_params(config), 200, 2)
    for t in range(3):
        before = stepper.state.copy()
        stepper.quarter(t)
        assert stepper.ind[IND_RD] == pytest.approx((before[SHARE] * before[RD]).sum(), 1e-12)


# 22. Product lines and product events (docs/model.md §3b) ---------------------------------


def test_without_product_events_demand_is_left_alone(config):
    """π_D = 0 gives the bits of σ_D = 0: no event, no demand shock; with events it acts."""
    no_events, no_size, acting = run_variants(
        config, [{DEMAND_EVENTS: 0.0}, {DEMAND_VOL: 0.0}, {DEMAND_EVENTS: 0.25, DEMAND_VOL: 0.4}]
    )
    np.testing.assert_array_equal(no_events, no_size)
    assert not np.array_equal(no_events, acting)


def test_product_lines_make_large_firms_grow_steadier(config):
    """The size-variance exponent β (the facts' estimator) comes from the product lines:
    with lines of 0.3 of the average firm it is clearly positive, with one line per firm
    (line_size far above any share) it is not, on the same draws."""
    scenarios, firms = 6, 400
    params = np.repeat(nominal_params(config)[None, None, :], scenarios, axis=0)
    params = np.repeat(params, 2, axis=1)
    params[:, 0, LINE_SIZE] = 0.3
    params[:, 1, LINE_SIZE] = 1e6
    _, snap = simulate(
        params, config.firm_vector, np.arange(scenarios), config.seed, firms, 40, snapshots=6
    )
    beta = size_variance(
        snap[:, :, :, S_SHARE, :].astype(np.float64), snap[:, :, :, S_ENTERED, :]
    )  # (s, p)
    assert np.median(beta[:, 0]) > 0.1
    assert np.median(beta[:, 0]) > np.median(beta[:, 1]) + 0.05
