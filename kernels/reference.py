"""The model in plain NumPy, vectorised over scenarios and firms: the reference of the kernel.

Dim letters: s = scenarios, i = firms, p = paths, t = quarters, m = metrics, v = state.

Same equations, same order of updates and the same counter-based draws as
``kernels/simulate.py``, written the way a good NumPy programmer would: state as 2-D
(scenario, firm) arrays, every mechanism one whole-array expression, the rare draws
(breakthrough sizes, incremental steps, entrants) made only for the firms that need them.
The Beta size tables are the kernel's (``rng.beta_table``, scipy's inverse); the reference
interpolates in them with ``np.interp``, its own code.
Its Philox is a separate, vectorised implementation, so the tests compare two codes of
the generator as well as two codes of the model. It is the test oracle and the benchmark
baseline, never the fast path; the driver draws its few words per scenario with its
Philox (the ``mc`` design, the chokepoints a store records, the policy designs and unit
costs of ``flows``), where a compile would cost more than the draws.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import rng, vmath
from .firms import (
    IND_BREAKTHROUGH,
    IND_CONVERSION,
    IND_FACTOR,
    IND_INSTITUTIONS,
    IND_RD,
    IND_RD0,
    IND_STRIKE,
    IND_TFP0,
    IND_TRUST,
    IND_WORLD,
    N_ATTRIBUTES,
    N_INDUSTRY,
)
from .registry import (
    A0_MEAN,
    A0_SD,
    A_CAP,
    ABSORB,
    ABSORB_A,
    ABSORB_B,
    ADOPTION,
    ADOPTION_TAU,
    AGE_MEAN,
    B_F,
    BORN,
    BOUND,
    BROKE_THROUGH,
    CAP_WIDTH,
    CAPITAL,
    CAPITAL0,
    CHI,
    CHOKE_PROB,
    CHOKE_SEVERITY,
    COMPETITIVENESS,
    CONVERSION_CEILING,
    CONVERSION_LAG,
    CONVERTED,
    COOP,
    COST_CONVERSIONS,
    COST_FAILURES,
    COST_FLAT,
    COST_RD_SPENDING,
    DATA,
    DATA0,
    DATA_INTEGRATION,
    DATA_LIFT,
    DATA_SHARING,
    DEBT,
    DELTA_D,
    DELTA_K,
    DELTA_P,
    DELTA_X,
    DEMAND_EVENTS,
    DEMAND_VOL,
    DEP_A,
    DEP_B,
    DEPENDENCE,
    EFFICIENCY,
    ENTRANT_GAP,
    ENTRANT_SHARE,
    ETA_PI,
    ETA_RE,
    EXIT_HAZARD,
    EXIT_SHARE,
    FEEDBACK,
    FLIGHT_SENSITIVITY,
    G_HALF,
    GAIN,
    GATE_WIDTH,
    H0,
    INC_SCALE,
    INCREMENTAL,
    INST_LAG,
    INTEGRATION,
    JUMP_CAP,
    JUMP_SCALE,
    JUMP_SIGMA,
    K_T,
    KEEP,
    LAG_PER_LAYER,
    LAMBDA0,
    LAYERS,
    LAYERS_MAX,
    LAYERS_MIN,
    LINE_SIZE,
    LOCK,
    LOCK_A,
    LOCK_B,
    LOCK_W,
    LOG_KEEP,
    LOG_TFP,
    M_BREAKTHROUGH,
    M_CHOKE_LOSS,
    M_CONVERSION,
    M_COORDINATION,
    M_COORDINATION_CORR,
    M_COUPLING,
    M_COUPLING_CORR,
    M_DATA,
    M_EFFICIENCY,
    M_FACTOR,
    M_GAP,
    M_INDUSTRY,
    M_NEW_PARADIGM,
    M_NEW_QUALITY,
    M_POLICY_COST,
    M_TECH,
    M_TFP,
    N_METRICS,
    N_STATE,
    NETWORK,
    NU,
    OPENNESS,
    OPPORTUNITY,
    PARADIGM,
    PATIENCE,
    PHI_FAIL,
    PI0,
    PIPELINE,
    PROD_RHO,
    PROD_SD,
    PRODUCTIVITY,
    R_CRIT,
    RD,
    RD0_A,
    RD0_B,
    RD_BURDEN,
    RD_EPS,
    RD_MAX,
    RD_MIN,
    RESONANCE,
    RETURN_Q,
    RISK,
    RISK_A,
    RISK_B,
    RISK_GATE,
    SHARE,
    SHOCK_VOL,
    SIZE_ALPHA,
    SMOOTHING,
    SPILLOVER,
    STEP_A,
    STEP_B,
    SUBSTITUTION,
    SUBSTITUTION_RATE,
    SYNERGY,
    TALENT,
    TALENT0,
    TALENT_DECAY,
    TALENT_POOL,
    TALENT_STAR,
    TECH,
    THRESHOLD,
    TRAIN,
    W_D,
    W_H,
    W_K,
    WORLD_GAP,
    WORLD_GROWTH,
    WORLD_LEARNING,
    X0,
    Z_COST,
    Z_TAU,
    ZETA_C,
    ZETA_D,
)
from .step import DEMAND_FLOOR, QUARTERS_PER_YEAR

# ---------------------------------------------------------------------------------------
# Philox4x32-10 and its variates on arrays (uint64 words holding 32 bits).
# ---------------------------------------------------------------------------------------


def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on broadcastable uint64 arrays; returns four uint64 arrays."""
    c0, c1, c2, c3 = np.broadcast_arrays(
        *(np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    )
    k0 = np.uint64(k0)
    k1 = np.uint64(k1)
    for _ in range(rng.PHILOX_ROUNDS):
        p0 = rng.PHILOX_M0 * c0
        p1 = rng.PHILOX_M1 * c2
        c0, c1, c2, c3 = (
            (p1 >> rng.SHIFT32) ^ c1 ^ k0,
            p1 & rng.MASK32,
            (p0 >> rng.SHIFT32) ^ c3 ^ k1,
            p0 & rng.MASK32,
        )
        k0 = (k0 + rng.PHILOX_W0) & rng.MASK32
        k1 = (k1 + rng.PHILOX_W1) & rng.MASK32
    return c0, c1, c2, c3


def split_seed(seed):
    s = np.uint64(seed)
    return s & rng.MASK32, s >> rng.SHIFT32


def uniforms(key, scenario, firm, time, variate, call):
    """Four float64 arrays of U(0, 1) for broadcastable (scenario, firm, time) counters."""
    words = philox4x32(scenario, firm, time, np.uint64(variate * 256 + call), *key)
    return tuple((w.astype(np.float64) + 0.5) * rng.TWO_M32 for w in words)


def stream_uniforms(seed, scenario_ids, firm, time, variate, n):
    """The first n U(0, 1) of one stream per scenario: float64 (scenarios, n), word w of
    Philox call c in column 4 c + w, from the counters (scenario, firm, time, variate)."""
    key = split_seed(seed)
    ids = np.asarray(scenario_ids, dtype=np.uint64)
    out = np.empty((ids.size, n))
    for call in range((n + 3) // 4):
        block = uniforms(key, ids, firm, time, variate, call)
        for w in range(min(4, n - 4 * call)):
            out[:, 4 * call + w] = block[w]
    return out


def design_uniforms(seed, scenario_ids, n_dims):
    """The ``mc`` sampler's design: U(0, 1) of shape (scenarios, n_dims), float64.

    Uniform d of scenario s comes from the THETA stream of (s, firm word THETA_FIRM), so a
    scenario's world parameters do not depend on how many scenarios the run has. Drawn on
    the driver in this NumPy form: a few words per scenario, for which a compile would cost
    more than it saves.
    """
    return stream_uniforms(seed, scenario_ids, rng.THETA_FIRM, 0, rng.THETA, n_dims)


def chokepoint_quarters(seed, scenario_ids, prob, n_quarters):
    """The quarter in which each scenario's key-technology chokepoint strikes, -1 where it
    does not: int64 (s,), the event the kernel draws for itself (``rng.chokepoint_quarter``:
    the scenario's CHOKE stream; it strikes when u0 < prob, in quarter floor(u1 n_quarters)).
    The driver stores these beside the scenario's inputs, in this NumPy form: no compile.
    """
    u = uniforms(
        split_seed(seed), np.asarray(scenario_ids, dtype=np.uint64), rng.CHOKE_FIRM, 0, rng.CHOKE, 0
    )
    return np.where(u[0] < prob, np.floor(u[1] * n_quarters), -1).astype(np.int64)


def unit(words):
    """Words as the hot loop's 23-bit uniforms, float64: (top 23 bits + 1/2) / 2**23."""
    return ((words >> rng.UNIT_SHIFT).astype(np.float64) + 0.5) * rng.TWO_M23


def block(key, scenario, firm, time, variate):
    """The four words of call 0 of ``variate``: uint64 arrays."""
    return philox4x32(scenario, firm, time, np.uint64(variate * 256), *key)


def inverse_normal(u):
    """Φ⁻¹(u) by Giles' erfinv polynomials, as ``vmath.inverse_normal`` (float64 arrays)."""
    w = -np.log(4.0 * u * (1.0 - u))
    central = np.polynomial.polynomial.polyval(w - 2.5, vmath._GILES_CENTRAL[::-1])
    tail = np.polynomial.polynomial.polyval(np.sqrt(w) - 3.0, vmath._GILES_TAIL[::-1])
    return vmath.SQRT2 * np.where(w < 5.0, central, tail) * (2.0 * u - 1.0)


def draw_attributes(fp, draws, scenario, firm, time, base):
    """Attributes (a0, rd0, absorb, risk, layers, lock, size0, z_prod, dep, age) for
    broadcast counters: two normals, five Beta variates and three uniforms from ``draws``;
    age in quarters (founders only)."""
    z_a0, z_prod = draws.attribute_normals(scenario, firm, time, base)
    rd0, absorb, risk, lock = draws.attribute_betas(scenario, firm, time, base)
    u_layers, u_size, u_age = draws.attribute_uniforms(scenario, firm, time, base)
    dep = draws.dependence(scenario, firm, time, base)
    a0 = fp[A0_MEAN] + fp[A0_SD] * z_a0
    layers = np.floor(fp[LAYERS_MIN] + u_layers * (fp[LAYERS_MAX] - fp[LAYERS_MIN] + 1.0))
    size0 = u_size ** (-1.0 / fp[SIZE_ALPHA])
    age = -4.0 * fp[AGE_MEAN] * np.log(u_age)
    return a0, rd0, absorb, risk, layers, lock, size0, z_prod, dep, age


def box_muller(u0, u1):
    return np.sqrt(-2.0 * np.log(u0)) * np.cos(2.0 * np.pi * u1)


class CounterDraws:
    """The run's counter-based Philox streams: the same numbers as the kernel draws.

    fp: the firm parameters, for the shapes of the size distributions; their quantile
    tables are the kernel's (``rng.lognormal_table``, ``rng.beta_table``), interpolated
    here by ``np.interp``.
    """

    def __init__(self, seed, fp):
        self.seed, self.key = seed, split_seed(seed)
        self.jump_table = rng.lognormal_table(fp[JUMP_SIGMA], fp[JUMP_CAP])
        self.step_table = rng.beta_table(fp[STEP_A], fp[STEP_B])
        self.attribute_tables = [
            rng.beta_table(fp[a], fp[b])
            for a, b in ((RD0_A, RD0_B), (ABSORB_A, ABSORB_B), (RISK_A, RISK_B), (LOCK_A, LOCK_B))
        ]
        self.dependence_table = rng.beta_table(fp[DEP_A], fp[DEP_B])

    _KNOTS = np.linspace(0.0, 1.0, rng.BETA_KNOTS + 1)

    def events(self, scenario, firm, time):
        """(u_conversion, u_breakthrough, u_step, u_spillover) of every firm-quarter."""
        return tuple(unit(w) for w in block(self.key, scenario, firm, time, rng.EVENTS))

    def shock(self, scenario, firm, time):
        return inverse_normal(unit(block(self.key, scenario, firm, time, rng.SIZES)[0]))

    def jump(self, scenario, firm, time):
        u = unit(block(self.key, scenario, firm, time, rng.SIZES)[1])
        return np.interp(u, self._KNOTS, self.jump_table)

    def step(self, scenario, firm, time):
        u = unit(block(self.key, scenario, firm, time, rng.SIZES)[2])
        return np.interp(u, self._KNOTS, self.step_table)

    def productivity(self, scenario, firm, time):
        return inverse_normal(unit(block(self.key, scenario, firm, time, rng.SIZES)[3]))

    def exit(self, scenario, firm, time):
        return unit(block(self.key, scenario, firm, time, rng.FATE)[0])

    def world(self, scenario, firm, time):
        return unit(block(self.key, scenario, firm, time, rng.FATE)[1])

    def demand(self, scenario, firm, time):
        return unit(block(self.key, scenario, firm, time, rng.FATE)[2])

    def chokepoint(self, scenario, prob, n_quarters):
        """Quarter of each scenario's chokepoint, -1 where none: int64 (s,)."""
        return chokepoint_quarters(self.seed, scenario, prob, n_quarters)

    def dependence(self, scenario, firm, time, base):
        u = uniforms(self.key, scenario, firm, time, base + rng.ATTR_COUNTS, 0)[2]
        return np.interp(u, self._KNOTS, self.dependence_table)

    def attribute_normals(self, scenario, firm, time, base):
        u = uniforms(self.key, scenario, firm, time, base + rng.ATTR_NORMALS, 0)
        return box_muller(u[0], u[1]), box_muller(u[2], u[3])

    def attribute_betas(self, scenario, firm, time, base):
        u = uniforms(self.key, scenario, firm, time, base + rng.ATTR_BETAS, 0)
        return tuple(
            np.interp(x, self._KNOTS, table)
            for x, table in zip(u, self.attribute_tables, strict=True)
        )

    def attribute_uniforms(self, scenario, firm, time, base):
        u = uniforms(self.key, scenario, firm, time, base + rng.ATTR_COUNTS, 0)
        return u[0], u[1], u[3]  # u[2] is the dependence's


class GeneratorDraws:
    """NumPy's own Generator (PCG64), drawn in call order: the same distributions without
    counters, as a NumPy user would write it (benchmarks only; results differ from the
    kernel's by the draws, not by the model)."""

    def __init__(self, seed, fp):
        self.gen = np.random.default_rng(seed)
        sigma, cap = fp[JUMP_SIGMA], fp[JUMP_CAP]
        self.jump_law = (sigma, special.ndtr((np.log(cap) + 0.5 * sigma**2) / max(sigma, 1e-300)))
        self.step_shapes = (fp[STEP_A], fp[STEP_B])
        self.attribute_shapes = [
            (fp[a], fp[b])
            for a, b in ((RD0_A, RD0_B), (ABSORB_A, ABSORB_B), (RISK_A, RISK_B), (LOCK_A, LOCK_B))
        ]
        self.dependence_shapes = (fp[DEP_A], fp[DEP_B])

    @staticmethod
    def _shape(scenario, firm):
        return np.broadcast_shapes(np.shape(scenario), np.shape(firm))

    def attribute_normals(self, scenario, firm, time, base):
        return tuple(self.gen.standard_normal((2, *self._shape(scenario, firm))))

    def attribute_betas(self, scenario, firm, time, base):
        shape = self._shape(scenario, firm)
        return tuple(self.gen.beta(a, b, shape) for a, b in self.attribute_shapes)

    def attribute_uniforms(self, scenario, firm, time, base):
        return tuple(self.gen.random((3, *self._shape(scenario, firm))))

    def events(self, scenario, firm, time):
        return tuple(self.gen.random((4, *self._shape(scenario, firm))))

    def shock(self, scenario, firm, time):
        return self.gen.standard_normal(self._shape(scenario, firm))

    def jump(self, scenario, firm, time):
        sigma, top = self.jump_law  # the truncated lognormal by its inverse CDF
        u = self.gen.random(self._shape(scenario, firm)) * top
        return np.exp(sigma * special.ndtri(u) - 0.5 * sigma**2)

    def step(self, scenario, firm, time):
        return self.gen.beta(*self.step_shapes, self._shape(scenario, firm))

    def productivity(self, scenario, firm, time):
        return self.gen.standard_normal(self._shape(scenario, firm))

    def exit(self, scenario, firm, time):
        return self.gen.random(self._shape(scenario, firm))

    def world(self, scenario, firm, time):
        return self.gen.random(self._shape(scenario, firm))

    def demand(self, scenario, firm, time):
        return self.gen.random(self._shape(scenario, firm))

    def chokepoint(self, scenario, prob, n_quarters):
        u = self.gen.random((2, *np.shape(scenario)))
        return np.where(u[0] < prob, np.floor(u[1] * n_quarters), -1).astype(np.int64)

    def dependence(self, scenario, firm, time, base):
        return self.gen.beta(*self.dependence_shapes, self._shape(scenario, firm))


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------------
# The model.
# ---------------------------------------------------------------------------------------


def _reset(st, where, p, a0, rd0, absorb, risk, layers, lock, share, z_prod, dep, bound, born):
    """Initial state for the firms selected by boolean (s, i) ``where``; p is (s, 1, k)."""
    s_idx = np.nonzero(where)[0]
    # the stationary law at the firm's size: its shocks are the mean of its lines'
    lines = 1.0 + st.shape[2] * share / p[s_idx, 0, LINE_SIZE]
    omega = p[s_idx, 0, PROD_SD] / np.sqrt(lines) * z_prod
    # the share of efficiency a firm keeps while the chokepoint binds it (S4 §5.2)
    keep = 1.0 - p[s_idx, 0, CHOKE_SEVERITY] * np.minimum(1.0, p[s_idx, 0, DEPENDENCE] * dep)
    values = {
        TECH: a0,
        PRODUCTIVITY: omega,
        LOG_TFP: a0 + omega + np.where(bound > 0.0, np.log(keep), 0.0),
        PIPELINE: 0.0,
        PARADIGM: 0.0,
        DEBT: 0.0,
        ADOPTION: 0.0,
        INTEGRATION: p[s_idx, 0, X0],
        DATA: p[s_idx, 0, DATA0],
        TALENT: p[s_idx, 0, TALENT0],
        CAPITAL: p[s_idx, 0, CAPITAL0],
        GAIN: 0.0,
        RD: rd0,
        SHARE: share,
        ABSORB: absorb,
        RISK: risk,
        LAYERS: layers,
        LOCK: lock,
        EFFICIENCY: 0.0,
        CONVERTED: 0.0,
        BROKE_THROUGH: 0.0,
        COMPETITIVENESS: 0.0,
        RISK_GATE: logistic((risk - p[s_idx, 0, R_CRIT]) / p[s_idx, 0, GATE_WIDTH]),
        CONVERSION_LAG: 1.0 / (1.0 + p[s_idx, 0, LAG_PER_LAYER] * layers),
        BOUND: bound,
        BORN: born,
        KEEP: keep,
        LOG_KEEP: np.log(keep),
    }
    for v, value in values.items():
        st[v][where] = value


def _quarter(st, ind, p, fp, draws, scen, t, out):
    """One quarter for every scenario of one path. st (v, s, i); ind (j, s); p (s, 1, k)."""
    n = st.shape[2]
    firm = np.arange(n, dtype=np.uint64)[None, :]
    P = lambda k: p[:, :, k]  # noqa: E731 - (s, 1) column of parameter k
    tech, pipeline, paradigm, debt, adoption = (
        st[TECH],
        st[PIPELINE],
        st[PARADIGM],
        st[DEBT],
        st[ADOPTION],
    )
    integration, data, talent, capital = st[INTEGRATION], st[DATA], st[TALENT], st[CAPITAL]
    gain_s, rd, share = st[GAIN], st[RD], st[SHARE]

    mean_a = tech.mean(axis=1, keepdims=True)
    frontier = tech.max(axis=1, keepdims=True)
    net = integration.mean(axis=1, keepdims=True)
    q = ind[IND_INSTITUTIONS][:, None] + (mean_a - ind[IND_INSTITUTIONS][:, None]) / P(INST_LAG)
    gap = np.maximum(0.0, mean_a - q)
    damp = gap / (gap + P(G_HALF))
    trust = ind[IND_TRUST][:, None] + P(ETA_PI) * (
        ind[IND_FACTOR][:, None] - ind[IND_TRUST][:, None]
    )
    sharing = P(DATA_SHARING) * (0.5 + trust)
    pool = sharing * data.mean(axis=1, keepdims=True)
    patient = (
        P(H0)
        * (1.0 - np.exp(-QUARTERS_PER_YEAR * P(PATIENCE) / P(RETURN_Q)))
        * (1.0 - P(FLIGHT_SENSITIVITY) * (1.0 - ind[IND_CONVERSION][:, None]))
    )
    # The outside world (S4): world frontier, openness, chokepoint, synergy.
    world = ind[IND_WORLD][:, None] + P(WORLD_GROWTH)
    strike = ind[IND_STRIKE][:, None]
    struck = (strike >= 0.0) & (t >= strike)
    severity = np.where(struck, P(CHOKE_SEVERITY), 0.0)
    synergy = 1.0 + P(SYNERGY) * ind[IND_BREAKTHROUGH][:, None]
    bound = np.where(t == strike, 1.0, st[BOUND])
    # One pool of high-end talent, filled less as the industry's disruptive R&D rises.
    fill = 1.0 - np.exp(-P(TALENT_POOL) / np.maximum(patient * ind[IND_RD][:, None], 1e-30))

    u_conv, u_break, u_step, u_spill = draws.events(scen, firm, t)
    a_old = tech.copy()
    x_old = integration.copy()
    revenue_rd = rd * share * n
    # Substitution R&D: not available to innovation, shrinks the exposure to the chokepoint.
    innovating_rd = (1.0 - P(SUBSTITUTION)) * revenue_rd
    pace = np.minimum(1.0, P(SUBSTITUTION_RATE) * P(SUBSTITUTION) * revenue_rd)
    st[LOG_KEEP] *= 1.0 - pace
    st[KEEP] = np.exp(st[LOG_KEEP])

    # Valley of death.
    waiting = pipeline > 0.0
    # Hazards compose as rates (MODEL.md §10): p = 1 - exp(-λ Π multipliers); the
    # undelayed hazard saturates at its ceiling.
    undelayed = P(LAMBDA0) * (1.0 + P(COOP)) * (1.0 - damp)
    ceiling = P(CONVERSION_CEILING)
    rate = ceiling * (1.0 - np.exp(-undelayed / ceiling)) * st[CONVERSION_LAG]
    conv = waiting & (u_conv < 1.0 - np.exp(-rate))
    decays = waiting & ~conv
    conv_den = np.where(waiting, share, 0.0).sum(axis=1)
    conv_num = np.where(conv, share, 0.0).sum(axis=1)
    adoption += np.where(conv, pipeline * (1.0 - st[LOCK] * P(LOCK_W)), 0.0)
    new_debt = np.where(conv, P(Z_COST) * pipeline, 0.0)
    decay = np.where(decays, P(DELTA_P) * pipeline, 0.0)
    talent_gap = np.minimum(1.0, talent / P(TALENT_STAR)) * fill
    talent += P(PHI_FAIL) * decay
    pipeline[:] = np.where(conv, 0.0, pipeline - decay)
    paradigm[conv] = 1.0
    debt[:] = debt * (1.0 - 1.0 / P(Z_TAU)) + new_debt
    debt_service = debt / P(Z_TAU)

    # Breakthroughs: sizes drawn only for the firms that broke through.
    p_d = 1.0 - np.exp(
        -P(OPPORTUNITY) * P(ZETA_D) * patient * innovating_rd * st[RISK_GATE] * talent_gap * synergy
    )
    broke = u_break < p_d
    s_idx, i_idx = np.nonzero(broke)
    jump = draws.jump(scen[s_idx, 0], i_idx.astype(np.uint64), t)
    pipeline[s_idx, i_idx] += p[s_idx, 0, JUMP_SCALE] * jump

    # Factors: data first, its usable stock lifts the incremental step and integration.
    activity = share * n * x_old
    data[:] = data * (1.0 - P(DELTA_D)) + activity * (1.0 + P(NETWORK) * net) * P(FEEDBACK)
    log_usable = np.log(1.0 + data + sharing * pool)
    talent[:] = talent * (1.0 - P(TALENT_DECAY)) + P(TRAIN) * rd
    capital[:] = capital * (1.0 - P(DELTA_K)) + patient * revenue_rd

    # Incremental steps on the (saturating) old track, lifted by leveraged data.
    p_c = 1.0 - np.exp(-P(INCREMENTAL) * P(ZETA_C) * (1.0 - patient) * innovating_rd)
    stepped = u_step < p_c
    s_idx, i_idx = np.nonzero(stepped)
    step = draws.step(scen[s_idx, 0], i_idx.astype(np.uint64), t)
    cap = np.where(paradigm > 0.0, 0.0, logistic((a_old - P(A_CAP)) / P(CAP_WIDTH)))
    gain = np.zeros_like(tech)
    lift = 1.0 + P(DATA_LIFT) * P(W_D) * log_usable
    gain[s_idx, i_idx] = (
        p[s_idx, 0, INC_SCALE] * (1.0 - cap[s_idx, i_idx]) * step * lift[s_idx, i_idx]
    )

    gain += P(SPILLOVER) * st[ABSORB] * x_old * np.maximum(0.0, frontier - a_old) * u_spill
    world_pull = P(WORLD_LEARNING) * P(OPENNESS) * (1.0 - severity)
    gain += world_pull * st[ABSORB] * np.maximum(0.0, world - a_old) * draws.world(scen, firm, t)
    adopt = adoption / P(ADOPTION_TAU)
    adoption -= adopt
    gain += adopt
    tech[:] = a_old + gain
    gain_s[:] = P(SMOOTHING) * gain + (1.0 - P(SMOOTHING)) * gain_s

    # Integration, pulled up by data (S2's loop closed).
    x_pull = P(DATA_INTEGRATION) * log_usable * (1.0 - x_old)
    integration[:] = np.clip(
        x_old + P(NU) * (conv + P(SPILLOVER) * net) - P(DELTA_X) * x_old + x_pull, 0.0, 1.0
    )

    # Efficiency dimensions, coupling, threshold, efficiency.
    rd_div = np.maximum(rd, P(RD_EPS))
    u_t = 1.0 - np.exp(-P(K_T) * gain_s / rd_div)
    u_f = logistic(P(W_D) * log_usable + P(W_H) * talent + P(W_K) * capital - P(B_F))
    u_i = integration / (1.0 + debt)
    total = (u_t + u_f + u_i) / 3.0
    prod = u_t * u_f * u_i
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(total > 0.0, np.minimum(1.0, np.cbrt(prod) / total), 0.0)
        u_max = np.maximum(u_t, np.maximum(u_f, u_i))
        spread = np.abs(u_t - u_f) + np.abs(u_t - u_i) + np.abs(u_f - u_i)
        c_star = np.where(
            u_max > 0.0,
            np.sqrt(np.maximum(0.0, 1.0 - spread / 3.0) * np.sqrt(prod / u_max**3)),
            0.0,
        )
    d = np.sqrt(c * total)
    regime = (np.minimum(u_t, np.minimum(u_f, u_i)) >= P(THRESHOLD)).astype(np.float64)
    kept = np.where(bound > 0.0, st[KEEP], 1.0)
    loss = 1.0 - kept
    rd0 = ind[IND_RD0][:, None]
    net = (gain_s - debt_service) * kept
    e = net / rd0  # net gain per unit of starting R&D intensity
    # reinvestment only: the firm's own return on its R&D, damper and premium
    signal = net / rd_div * (1.0 - damp) * (1.0 + P(RESONANCE) * d * regime)
    st[EFFICIENCY] = signal
    st[CONVERTED] = conv
    st[BROKE_THROUGH] = broke

    # Idiosyncratic productivity: AR(1) ω plus the transitory shock ε, on top of A.
    # Both are the mean over the firm's 1 + N share / line_size product lines.
    per_sd = 1.0 / np.sqrt(1.0 + n / P(LINE_SIZE) * share)
    innovation = P(PROD_SD) * np.sqrt(1.0 - P(PROD_RHO) ** 2) * per_sd
    st[PRODUCTIVITY] = P(PROD_RHO) * st[PRODUCTIVITY] + innovation * draws.productivity(
        scen, firm, t
    )
    z = draws.shock(scen, firm, t)
    shock = P(SHOCK_VOL) * per_sd * z
    # in a quarter with a product event, the same shock moves demand
    event = draws.demand(scen, firm, t) < P(DEMAND_EVENTS)
    demand = np.maximum(DEMAND_FLOOR, 1.0 + np.where(event, P(DEMAND_VOL) * per_sd * z, 0.0))
    st[LOG_TFP] = tech + st[PRODUCTIVITY] + shock + np.where(bound > 0.0, st[LOG_KEEP], 0.0)
    st[BOUND] = bound
    # R&D is paid for: the quarter's R&D comes out of competitiveness.
    comp = np.exp(st[LOG_TFP]) / (1.0 + debt) * (1.0 - P(RD_BURDEN) * rd)
    st[COMPETITIVENESS] = comp
    mean_signal = (share * signal).sum(axis=1, keepdims=True)
    mean_comp = (share * comp).sum(axis=1, keepdims=True)
    out[:, M_EFFICIENCY] = QUARTERS_PER_YEAR * (share * e).sum(axis=1)
    out[:, M_TECH] = u_t.mean(axis=1)
    out[:, M_FACTOR] = u_f.mean(axis=1)
    out[:, M_INDUSTRY] = u_i.mean(axis=1)
    out[:, M_COUPLING] = c.mean(axis=1)
    out[:, M_COORDINATION] = d.mean(axis=1)
    out[:, M_COUPLING_CORR] = c_star.mean(axis=1)
    out[:, M_COORDINATION_CORR] = np.sqrt(c_star * total).mean(axis=1)
    out[:, M_NEW_QUALITY] = regime.mean(axis=1)
    out[:, M_NEW_PARADIGM] = paradigm.mean(axis=1)
    out[:, M_BREAKTHROUGH] = broke.mean(axis=1)
    out[:, M_DATA] = data.mean(axis=1)
    out[:, M_GAP] = gap[:, 0]
    out[:, M_CHOKE_LOSS] = (share * loss).sum(axis=1)

    # Reinvestment and replicator selection.
    spent = (share * rd).sum(axis=1)  # the quarter's R&D per revenue, before reinvestment
    rd_spending = spent / ind[IND_RD0]
    failures = conv_den - conv_num
    out[:, M_POLICY_COST] = (
        p[:, 0, COST_FLAT]
        + p[:, 0, COST_RD_SPENDING] * rd_spending
        + p[:, 0, COST_FAILURES] * failures
        + p[:, 0, COST_CONVERSIONS] * conv_num
    )
    rd[:] = np.clip(rd + P(ETA_RE) * (signal - mean_signal) * rd, P(RD_MIN), P(RD_MAX))
    with np.errstate(divide="ignore", invalid="ignore"):
        share[:] = (
            np.where(
                mean_comp > 0.0, share * (1.0 + P(CHI) * (comp - mean_comp) / mean_comp), share
            )
            * demand
        )
    share /= share.sum(axis=1, keepdims=True)

    # Exit and entry: attributes drawn only for the slots that turn over.
    u_exit = draws.exit(scen, firm, t)
    exits = (share < P(EXIT_SHARE) / n) | (u_exit * (1.0 + n * share) < 2.0 * P(EXIT_HAZARD))
    if exits.any():
        s_idx, i_idx = np.nonzero(exits)
        a0, rd0, ab, rk, ly, lk, _, zp, dp, _ = draw_attributes(
            fp, draws, scen[s_idx, 0], i_idx.astype(np.uint64), t, rng.ATTR_ENTRY
        )
        _reset(
            st,
            exits,
            p,
            mean_a[s_idx, 0] - p[s_idx, 0, ENTRANT_GAP],
            rd0,
            ab,
            rk,
            ly,
            lk,
            p[s_idx, 0, ENTRANT_SHARE] / n,
            zp,
            dp,
            np.where(struck[s_idx, 0], 1.0, 0.0),
            t + 1.0,
        )
        entered = exits.any(axis=1, keepdims=True)
        share[:] = np.where(entered, share / share.sum(axis=1, keepdims=True), share)
    tfp = (share * np.exp(st[LOG_TFP])).sum(axis=1)

    ind[IND_INSTITUTIONS] = q[:, 0]
    ind[IND_TRUST] = trust[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ind[IND_CONVERSION] = np.where(conv_den > 0.0, conv_num / conv_den, 0.0)
    ind[IND_FACTOR] = u_f.mean(axis=1)
    ind[IND_WORLD] = world[:, 0]
    ind[IND_BREAKTHROUGH] = broke.mean(axis=1)
    ind[IND_RD] = spent
    out[:, M_CONVERSION] = ind[IND_CONVERSION]
    out[:, M_TFP] = tfp / ind[IND_TFP0]


def simulate(params, firm_params, scenario_ids, seed, n_firms, n_quarters, draws=None):
    """Outcomes float64 (scenario, path, quarter, metric); same contract as the kernel's.

    draws: where random numbers come from, default :class:`CounterDraws` of ``seed`` (the
    kernel's bits); :class:`GeneratorDraws` is the benchmark's plain-Generator variant.
    """
    params = np.asarray(params, dtype=np.float64)
    fp = np.asarray(firm_params, dtype=np.float64)
    draws = draws or CounterDraws(seed, fp)
    n_scen, n_paths = params.shape[:2]
    scen = np.asarray(scenario_ids, dtype=np.uint64)[:, None]
    firm = np.arange(n_firms, dtype=np.uint64)[None, :]
    attrs = np.stack(draw_attributes(fp, draws, scen, firm, 0, rng.ATTR_INIT))
    assert attrs.shape[0] == N_ATTRIBUTES
    attrs[rng.ATTR_SIZE] /= attrs[rng.ATTR_SIZE].sum(axis=1, keepdims=True)
    out = np.empty((n_scen, n_paths, n_quarters, N_METRICS))
    # A world event: drawn once per scenario, the same on every path.
    strikes = draws.chokepoint(scen[:, 0], params[:, 0, CHOKE_PROB], n_quarters)
    for path in range(n_paths):
        p = params[:, path : path + 1, :]  # (s, 1, k)
        st = np.empty((N_STATE, n_scen, n_firms))
        *founding, age = (a.ravel() for a in attrs)
        _reset(st, np.ones((n_scen, n_firms), bool), p, *founding, 0.0, -age)
        ind = np.empty((N_INDUSTRY, n_scen))
        ind[IND_INSTITUTIONS] = attrs[rng.ATTR_A0].mean(axis=1)
        ind[IND_TRUST] = p[:, 0, PI0]
        ind[IND_CONVERSION] = 0.0
        ind[IND_FACTOR] = p[:, 0, PI0]
        omega0 = st[PRODUCTIVITY]  # the founders' stationary draws, set by _reset
        ind[IND_TFP0] = (attrs[rng.ATTR_SIZE] * np.exp(attrs[rng.ATTR_A0] + omega0)).sum(axis=1)
        ind[IND_WORLD] = attrs[rng.ATTR_A0].max(axis=1) + p[:, 0, WORLD_GAP]
        ind[IND_BREAKTHROUGH] = 0.0
        ind[IND_STRIKE] = strikes
        ind[IND_RD0] = (attrs[rng.ATTR_SIZE] * attrs[rng.ATTR_RD0]).sum(axis=1)
        ind[IND_RD] = ind[IND_RD0]
        for t in range(n_quarters):
            _quarter(st, ind, p, fp, draws, scen, t, out[:, path, t])
    return out
