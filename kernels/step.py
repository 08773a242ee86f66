"""One quarter of the model for one scenario and path (MODEL.md §4, as built in docs/model.md).

Dim letters: v = state variables, i = firms, j = industry state, m = metrics.

``quarter`` reads the industry fields off the firms (the mean-field coupling: one
reduction over firms), updates every firm, applies selection and entry, and writes the
quarter's metrics (MODEL.md §6) into a caller-given row. Scalar loops over firms, no
allocation, every model number from the parameter vector ``p``.
"""

from __future__ import annotations

import math

import numpy as np

from kernels import rng
from kernels.firms import (
    IND_CONVERSION,
    IND_FACTOR,
    IND_INSTITUTIONS,
    IND_TFP0,
    IND_TRUST,
    draw_attributes,
    logistic,
    reset_firm,
)
from kernels.registry import (
    A_CAP,
    ABSORB,
    ADOPTION,
    ADOPTION_TAU,
    B_F,
    BROKE_THROUGH,
    CAP_WIDTH,
    CAPITAL,
    CHI,
    COMPETITIVENESS,
    CONVERSION_LAG,
    CONVERTED,
    COOP,
    DATA,
    DATA_SHARING,
    DEBT,
    DELTA_D,
    DELTA_K,
    DELTA_P,
    DELTA_X,
    EFFICIENCY,
    ENTRANT_GAP,
    ENTRANT_SHARE,
    ETA_PI,
    ETA_RE,
    EXIT_SHARE,
    FEEDBACK,
    FLIGHT_SENSITIVITY,
    G_HALF,
    GAIN,
    H0,
    INC_SCALE,
    INCREMENTAL,
    INST_LAG,
    INTEGRATION,
    JUMP_A,
    JUMP_B,
    JUMP_SCALE,
    K_T,
    LAMBDA0,
    LOCK,
    LOCK_W,
    M_BREAKTHROUGH,
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
    M_TECH,
    M_TFP,
    M_TRADITIONAL,
    NETWORK,
    NU,
    OPPORTUNITY,
    PARADIGM,
    PATIENCE,
    PHI_FAIL,
    PIPELINE,
    RD,
    RD_EPS,
    RD_MAX,
    RD_MIN,
    RESONANCE,
    RETURN_Q,
    RISK_GATE,
    SHARE,
    SHOCK_VOL,
    SMOOTHING,
    SPILLOVER,
    STEP_A,
    STEP_B,
    TALENT,
    TALENT_DECAY,
    TECH,
    THRESHOLD,
    TRAIN,
    W_D,
    W_H,
    W_K,
    Z_COST,
    Z_TAU,
    ZETA_C,
    ZETA_D,
)

QUARTERS_PER_YEAR = 4.0  # unit conversion of `patience` (years) to quarters


@rng.jit
def coupling(u_t, u_f, u_i):
    """Coupling degrees of three subsystems in [0, 1]: (C, C*, T).

    C  = [U_T U_F U_I / T^3]^(1/3) with T the mean (standard CCDM);
    C* = sqrt([1 - sum_{i>j} |U_i - U_j| / 3] * [prod U_i / max U]^(1/2)), the corrected
         form of Wang et al. (2021, J. Natural Resources 36(3):793), n = 3.
    """
    total = (u_t + u_f + u_i) / 3.0
    prod = u_t * u_f * u_i
    c = min(1.0, np.cbrt(prod) / total) if total > 0.0 else 0.0
    u_max = max(u_t, max(u_f, u_i))
    if u_max > 0.0:
        spread = abs(u_t - u_f) + abs(u_t - u_i) + abs(u_f - u_i)
        c_star = math.sqrt(max(0.0, 1.0 - spread / 3.0) * math.sqrt(prod / u_max**3))
    else:
        c_star = 0.0
    return c, c_star, total


@rng.jit
def quarter(state, ind, p, fp, k0, k1, scenario, t, out):
    """Advance one scenario and path by quarter t, in place.

    state: firm state, shape (N_STATE, firms), float64; updated.
    ind:   industry state, shape (N_INDUSTRY,), float64; updated.
    p:     model parameters of this scenario and path, shape (N_PARAMETERS,).
    fp:    firm-distribution parameters, shape (N_FIRM_PARAMETERS,).
    k0, k1: Philox key (``rng.split_seed``); scenario: global scenario index; t: quarter.
    out:   this quarter's metrics, shape (N_METRICS,), float64; written.
    """
    n = state.shape[1]
    tech = state[TECH]
    pipeline = state[PIPELINE]
    paradigm = state[PARADIGM]
    debt = state[DEBT]
    adoption = state[ADOPTION]
    integration = state[INTEGRATION]
    data = state[DATA]
    talent = state[TALENT]
    capital = state[CAPITAL]
    gain_s = state[GAIN]
    rd = state[RD]
    share = state[SHARE]
    absorb = state[ABSORB]
    lock = state[LOCK]
    efficiency = state[EFFICIENCY]
    converted = state[CONVERTED]
    broke = state[BROKE_THROUGH]
    comp = state[COMPETITIVENESS]
    gate = state[RISK_GATE]
    lag_factor = state[CONVERSION_LAG]

    # Industry fields, read off the firms at the start of the quarter (mean-field coupling).
    sum_a = 0.0
    frontier = -math.inf
    sum_x = 0.0
    sum_d = 0.0
    for i in range(n):
        sum_a += tech[i]
        frontier = max(frontier, tech[i])
        sum_x += integration[i]
        sum_d += data[i]
    mean_a = sum_a / n  # Ā
    net = sum_x / n  # Net = mean X

    # Institutions: Q chases Ā with lag inst_lag; the gap damps conversion and efficiency.
    q = ind[IND_INSTITUTIONS] + (mean_a - ind[IND_INSTITUTIONS]) / p[INST_LAG]
    gap = max(0.0, mean_a - q)  # G, system distance (S0 §2.4 (2))
    damp = gap / (gap + p[G_HALF])
    # Policy trust follows last quarter's factor efficiency (negative loop, S0 §4.4).
    trust = ind[IND_TRUST] + p[ETA_PI] * (ind[IND_FACTOR] - ind[IND_TRUST])
    sharing = p[DATA_SHARING] * (0.5 + trust)  # σ_eff
    pool = sharing * sum_d / n  # Pool = mean(σ_eff Dd)
    # Patient share of R&D; low conversion drives capital away (capital-flight loop, S0 §4.4).
    patient = (p[H0] * (1.0 - math.exp(-QUARTERS_PER_YEAR * p[PATIENCE] / p[RETURN_Q]))
               * (1.0 - p[FLIGHT_SENSITIVITY] * (1.0 - ind[IND_CONVERSION])))
    conv_rate = p[LAMBDA0] * (1.0 + p[COOP]) * (1.0 - damp)
    jump_a = int(fp[JUMP_A])
    jump_b = int(fp[JUMP_B])
    step_a = int(fp[STEP_A])
    step_b = int(fp[STEP_B])
    keep_z = 1.0 - 1.0 / p[Z_TAU]

    s_eff = 0.0
    s_trad = 0.0
    s_ut = 0.0
    s_uf = 0.0
    s_ui = 0.0
    s_c = 0.0
    s_d = 0.0
    s_cs = 0.0
    s_ds = 0.0
    s_r = 0.0
    s_g = 0.0
    s_bt = 0.0
    conv_num = 0.0
    conv_den = 0.0
    s_comp = 0.0
    s_data = 0.0
    for i in range(n):
        u_conv, u_break, u_step, u_spill = rng.uniforms(k0, k1, scenario, i, t, rng.EVENTS, 0)
        a_old = tech[i]
        x_old = integration[i]
        revenue_rd = rd[i] * share[i] * n  # RD_i / R̄ = rd_i share_i market / (market / N)
        gain = 0.0

        # Valley of death: a waiting pipeline converts or decays (S0 §4.1 (2), §5.1).
        conv = 0.0
        new_debt = 0.0
        if pipeline[i] > 0.0:
            conv_den += share[i]
            if u_conv < conv_rate * lag_factor[i]:
                conv = 1.0
                adoption[i] += pipeline[i] * (1.0 - lock[i] * p[LOCK_W])
                new_debt = p[Z_COST] * pipeline[i]  # breaking paradox (S0 §2.4 (1))
                pipeline[i] = 0.0
                paradigm[i] = 1.0
                conv_num += share[i]
            else:
                decay = p[DELTA_P] * pipeline[i]
                pipeline[i] -= decay
                talent[i] += p[PHI_FAIL] * decay  # failure becomes knowledge
        debt[i] = debt[i] * keep_z + new_debt
        debt_service = debt[i] / p[Z_TAU]

        # Disruptive breakthrough, gated by risk tolerance (S0 §3.1 path 1, §4.1 (3)).
        p_d = (1.0 - math.exp(-p[OPPORTUNITY] * p[ZETA_D] * patient * revenue_rd)) * gate[i]
        bt = 0.0
        if u_break < p_d:
            bt = 1.0
            pipeline[i] += p[JUMP_SCALE] * rng.beta_int(
                k0, k1, scenario, i, t, rng.JUMP, jump_a, jump_b)

        # Incremental innovation; the old track saturates above a_cap (S0 §3.1, §4.1 (1)).
        p_c = 1.0 - math.exp(-p[INCREMENTAL] * p[ZETA_C] * (1.0 - patient) * revenue_rd)
        if u_step < p_c:
            cap = 0.0 if paradigm[i] > 0.0 else logistic((a_old - p[A_CAP]) / p[CAP_WIDTH])
            gain += (p[INC_SCALE] * (1.0 - cap)
                     * rng.beta_int(k0, k1, scenario, i, t, rng.STEP, step_a, step_b))

        # Spillover and imitation of the frontier (S2 §3.2.2-3.2.3).
        gain += p[SPILLOVER] * absorb[i] * x_old * max(0.0, frontier - a_old) * u_spill

        # Adoption of converted technology (docs/model.md, deviation 1).
        adopt = adoption[i] / p[ADOPTION_TAU]
        adoption[i] -= adopt
        gain += adopt
        tech[i] = a_old + gain
        gain_s[i] = p[SMOOTHING] * gain + (1.0 - p[SMOOTHING]) * gain_s[i]  # ΔA

        # Factors (S0 §3.2, S2 §3.3): data-network-activity loop, talent, patient capital.
        activity = share[i] * n * x_old
        data[i] = (data[i] * (1.0 - p[DELTA_D])
                   + activity * (1.0 + p[NETWORK] * net) * p[FEEDBACK])
        usable = data[i] + sharing * pool  # E_D: shared data is non-rival
        talent[i] = talent[i] * (1.0 - p[TALENT_DECAY]) + p[TRAIN] * rd[i]
        capital[i] = capital[i] * (1.0 - p[DELTA_K]) + patient * revenue_rd

        # Industrial integration (S2 §4.2-4.3).
        x_new = x_old + p[NU] * (conv + p[SPILLOVER] * net) - p[DELTA_X] * x_old
        integration[i] = min(1.0, max(0.0, x_new))

        # The three efficiency dimensions in [0, 1] (S0 §1.2.2).
        rd_div = max(rd[i], p[RD_EPS])
        u_t = 1.0 - math.exp(-p[K_T] * gain_s[i] / rd_div)
        u_f = logistic(p[W_D] * math.log(1.0 + usable) + p[W_H] * talent[i]
                       + p[W_K] * capital[i] - p[B_F])
        u_i = integration[i] / (1.0 + debt[i])  # X (1 - Z / (1 + Z))
        c, c_star, total = coupling(u_t, u_f, u_i)
        d = math.sqrt(c * total)
        regime = 1.0 if min(u_t, min(u_f, u_i)) >= p[THRESHOLD] else 0.0  # threshold effect

        # Innovation efficiency: net gain per unit R&D, resonance premium, damper.
        e_trad = (gain_s[i] - debt_service) / rd_div * (1.0 - damp)
        e = e_trad * (1.0 + p[RESONANCE] * d * regime)
        efficiency[i] = e
        converted[i] = conv
        broke[i] = bt

        # Competitiveness c_i for niche selection: debt cuts revenue, shocks move demand.
        shock = p[SHOCK_VOL] * rng.normal(k0, k1, scenario, i, t, rng.SHOCK)
        comp[i] = max(0.0, math.exp(tech[i]) / (1.0 + debt[i]) * (1.0 + shock))
        s_comp += share[i] * comp[i]

        s_eff += share[i] * e
        s_trad += share[i] * e_trad
        s_ut += u_t
        s_uf += u_f
        s_ui += u_i
        s_c += c
        s_d += d
        s_cs += c_star
        s_ds += math.sqrt(c_star * total)
        s_r += regime
        s_g += paradigm[i]
        s_bt += bt
        s_data += data[i]

    mean_eff = s_eff  # shares sum to 1
    # Reinvestment (positive loop) and replicator selection (S0 §2.4 (3), S2 §4.2).
    total_share = 0.0
    for i in range(n):
        rd[i] = min(p[RD_MAX], max(p[RD_MIN], rd[i] + p[ETA_RE] * (efficiency[i] - mean_eff)
                                   * rd[i]))
        if s_comp > 0.0:
            share[i] *= 1.0 + p[CHI] * (comp[i] - s_comp) / s_comp
        total_share += share[i]

    # Exit below exit_share / N; an imitating entrant takes the slot (N stays fixed).
    exit_below = p[EXIT_SHARE] / n
    entered = False
    total_after = 0.0
    for i in range(n):
        share[i] /= total_share
        if share[i] < exit_below:
            a0, rd0, ab, rk, ly, lk, _ = draw_attributes(
                fp, k0, k1, scenario, i, t, rng.ATTR_ENTRY)
            reset_firm(state, i, p, mean_a - p[ENTRANT_GAP], rd0, ab, rk, ly, lk,
                       p[ENTRANT_SHARE] / n)
            entered = True
        total_after += share[i]
    tfp = 0.0
    for i in range(n):
        if entered:
            share[i] /= total_after
        tfp += share[i] * math.exp(tech[i])

    ind[IND_INSTITUTIONS] = q
    ind[IND_TRUST] = trust
    ind[IND_CONVERSION] = conv_num / conv_den if conv_den > 0.0 else 0.0
    ind[IND_FACTOR] = s_uf / n

    out[M_EFFICIENCY] = mean_eff
    out[M_TRADITIONAL] = s_trad
    out[M_TECH] = s_ut / n
    out[M_FACTOR] = s_uf / n
    out[M_INDUSTRY] = s_ui / n
    out[M_COUPLING] = s_c / n
    out[M_COORDINATION] = s_d / n
    out[M_COUPLING_CORR] = s_cs / n
    out[M_COORDINATION_CORR] = s_ds / n
    out[M_NEW_QUALITY] = s_r / n
    out[M_NEW_PARADIGM] = s_g / n
    out[M_BREAKTHROUGH] = s_bt / n
    out[M_CONVERSION] = ind[IND_CONVERSION]
    out[M_GAP] = gap
    out[M_TFP] = tfp / ind[IND_TFP0]
    out[M_DATA] = s_data / n
