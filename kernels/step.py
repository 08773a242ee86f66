"""One quarter of the model for one scenario and path (MODEL.md §4, as built in docs/model.md).

Dim letters: v = state variables, i = firms, j = industry state, m = metrics.

``quarter`` reads the industry fields off the firms (the mean-field coupling: one
reduction over firms), updates every firm, applies selection and entry, and writes the
quarter's metrics (MODEL.md §6) into a caller-given row. No allocation, every model
number from the parameter vector ``p``.

Written for the vectoriser. The firm update is one loop with no branch: every firm draws
its two Philox blocks whether or not an event happens, each "if" is a select between two
computed values, exp/log are ``vmath``'s polynomials in float32, and the sums over firms
may be reassociated (``vmath.FASTMATH``), so LLVM runs it eight firms at a time on AVX2.
Only entry (a rare exit) leaves the vector path, in a loop of its own.

Generic in the float type ``F`` (``np.float32``, the fast build, or ``np.float64``, the
build checked against the NumPy reference): state and tables are of dtype F, every
literal and parameter is cast to F, because a Python float would promote the arithmetic
to float64 (DESIGN.md, known pitfalls). Industry state and metrics stay float64.
"""

from __future__ import annotations

import math

import numpy as np

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
    enter,
    logistic,
)
from .registry import (
    A_CAP,
    ABSORB,
    ADOPTION,
    ADOPTION_TAU,
    B_F,
    BOUND,
    BROKE_THROUGH,
    CAP_WIDTH,
    CAPITAL,
    CHI,
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
    EFFICIENCY,
    ENTRANT_GAP,
    ETA_PI,
    ETA_RE,
    EXIT_HAZARD,
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
    JUMP_SCALE,
    K_T,
    KEEP,
    LAMBDA0,
    LINE_SIZE,
    LOCK,
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
    N_STATE,
    NETWORK,
    NU,
    OPENNESS,
    OPPORTUNITY,
    PARADIGM,
    PATIENCE,
    PHI_FAIL,
    PIPELINE,
    PROD_RHO,
    PROD_SD,
    PRODUCTIVITY,
    RD,
    RD_BURDEN,
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
    SUBSTITUTION,
    SUBSTITUTION_RATE,
    SYNERGY,
    TALENT,
    TALENT_DECAY,
    TALENT_POOL,
    TALENT_STAR,
    TECH,
    THRESHOLD,
    TRAIN,
    W_D,
    W_H,
    W_K,
    WORLD_GROWTH,
    WORLD_LEARNING,
    Z_COST,
    Z_TAU,
    ZETA_C,
    ZETA_D,
)
from .rows import row, row_length

QUARTERS_PER_YEAR = 4.0  # unit conversion of `patience` (years) to quarters
TINY = 1e-30  # floor of denominators that are zero only when their numerator is
# Floor of a product event's demand factor: a lost product leaves a firm at least this share
# of its demand (a floor of the linear factor, never reached unless σ_D z / sqrt(L) < -0.95).
DEMAND_FLOOR = 0.05

# The quarter's draws, rows of ``quarter``'s buffer below the firm state: the shock, the
# jump size, the step size, the productivity innovation, and the uniforms of exit, world
# learning and product events.
D_SHOCK, D_JUMP, D_STEP, D_PROD, D_EXIT, D_WORLD, D_DEMAND = range(N_STATE, N_STATE + 7)
N_ROWS = N_STATE + 7  # rows of the buffer


@rng.inline
def coupling(u_t, u_f, u_i, F):
    """Coupling degrees of three subsystems in [0, 1]: (C, C*, T), of float type F.

    C  = [U_T U_F U_I / T^3]^(1/3) with T the mean (standard CCDM);
    C* = sqrt([1 - sum_{i>j} |U_i - U_j| / 3] * [prod U_i / max U]^(1/2)), the corrected
         form of Wang et al. (2021, J. Natural Resources 36(3):793), n = 3.
    Both are 0 where every U is 0 (then the products are 0 and the floors of the
    denominators only keep 0/0 away).
    """
    total = (u_t + u_f + u_i) * F(1.0 / 3.0)
    prod = u_t * u_f * u_i
    c = min(F(1.0), vmath.cbrt_positive(prod, F) / max(total, F(TINY)))
    u_max = max(u_t, max(u_f, u_i))
    spread = abs(u_t - u_f) + abs(u_t - u_i) + abs(u_f - u_i)
    c_star = math.sqrt(
        max(F(0.0), F(1.0) - spread * F(1.0 / 3.0))
        * math.sqrt(prod / max(u_max * u_max * u_max, F(TINY)))
    )
    return c, c_star, total


@vmath.kernel_function(nogil=True, fastmath=vmath.FASTMATH | {"nnan"}, error_model="numpy")
def industry_sums(tech, integration, data):
    """(sum of A, max of A, sum of X, sum of D) over firms, float64.

    Compiled with "nnan" on top of the kernel's flags, without which LLVM would not
    vectorise the running maximum; on the Intel VM (LLVM 20, 512-bit vectors) it leaves
    the loop scalar all the same (``perf``), and a vectorised one would add the float64
    sums in another order, moving the last bits of every outcome. A NaN in A would still
    show, through the sum, in every metric.
    """
    sum_a = 0.0
    frontier = -math.inf
    sum_x = 0.0
    sum_d = 0.0
    for i in range(tech.shape[0]):
        a = np.float64(tech[i])
        sum_a += a
        frontier = max(frontier, a)
        sum_x += integration[i]
        sum_d += data[i]
    return sum_a, frontier, sum_x, sum_d


@rng.jit
def quarter(work, entrants, ind, p, fp, tables, k0, k1, scenario, t, out, F):
    """Advance one scenario and path by quarter t, in place.

    work:   the firm state then the quarter's draws, shape (N_ROWS, firms), C-contiguous,
            dtype F: rows registry.STATE, updated, then rows D_*, scratch (the exit row
            becomes the exit flags and the world-learning row the firms' TFP levels once
            spent). One buffer so that every row is a ``rows.row`` of it.
    entrants: scratch for the quarter's entrants (``firms.draw_firms``), shape
            (firms.ENTRY_ROWS, firms), float64.
    ind:    industry state, shape (N_INDUSTRY,), float64; updated.
    p:      model parameters of this scenario and path, then its cost coefficients,
            shape (N_INPUTS,), float64.
    fp:     firm-distribution parameters, shape (N_FIRM_PARAMETERS,), float64.
    tables: quantile tables (``simulate.quantile_tables``), shape (7, knots + 1), dtype F.
    k0, k1: Philox key (``rng.split_seed``); scenario: global scenario index; t: quarter.
    out:    this quarter's metrics, shape (N_METRICS,), float64; written.
    F:      the float type of the arithmetic, np.float32 or np.float64.
    """
    n = row_length(work)
    state = work[:N_STATE]
    # Every row as a view of rows.row, not work[TECH]: then LLVM can see that no two
    # overlap and the loops below need no run-time overlap checks (rows.py says why).
    tech = row(work, TECH, n)
    pipeline = row(work, PIPELINE, n)
    paradigm = row(work, PARADIGM, n)
    debt = row(work, DEBT, n)
    adoption = row(work, ADOPTION, n)
    integration = row(work, INTEGRATION, n)
    data = row(work, DATA, n)
    talent = row(work, TALENT, n)
    capital = row(work, CAPITAL, n)
    gain_s = row(work, GAIN, n)
    rd = row(work, RD, n)
    share = row(work, SHARE, n)
    absorb = row(work, ABSORB, n)
    lock = row(work, LOCK, n)
    efficiency = row(work, EFFICIENCY, n)
    converted = row(work, CONVERTED, n)
    broke = row(work, BROKE_THROUGH, n)
    comp = row(work, COMPETITIVENESS, n)
    gate = row(work, RISK_GATE, n)
    lag_factor = row(work, CONVERSION_LAG, n)
    shock_z = row(work, D_SHOCK, n)
    jump_size = row(work, D_JUMP, n)
    step_size = row(work, D_STEP, n)
    prod_z = row(work, D_PROD, n)
    u_exit = row(work, D_EXIT, n)
    u_world = row(work, D_WORLD, n)
    u_demand = row(work, D_DEMAND, n)
    productivity = row(work, PRODUCTIVITY, n)
    log_tfp = row(work, LOG_TFP, n)
    bound = row(work, BOUND, n)
    keep = row(work, KEEP, n)
    log_keep = row(work, LOG_KEEP, n)

    # Industry fields, read off the firms at the start of the quarter (mean-field coupling).
    sum_a, frontier, sum_x, sum_d = industry_sums(tech, integration, data)
    mean_a = sum_a / n  # Ā
    net = sum_x / n  # Net = mean X

    # Industry-level scalars in float64. Institutions: Q chases Ā with lag inst_lag; the
    # gap damps conversion and efficiency.
    q = ind[IND_INSTITUTIONS] + (mean_a - ind[IND_INSTITUTIONS]) / p[INST_LAG]
    gap = max(0.0, mean_a - q)  # G, system distance (S0 §2.4 (2))
    damp = gap / (gap + p[G_HALF])
    # Policy trust follows last quarter's factor efficiency (negative loop, S0 §4.4).
    trust = ind[IND_TRUST] + p[ETA_PI] * (ind[IND_FACTOR] - ind[IND_TRUST])
    sharing = p[DATA_SHARING] * (0.5 + trust)  # σ_eff
    pool = sharing * sum_d / n  # Pool = mean(σ_eff Dd)
    # Patient share of R&D; low conversion drives capital away (capital-flight loop, S0 §4.4).
    patient = (
        p[H0]
        * (1.0 - math.exp(-QUARTERS_PER_YEAR * p[PATIENCE] / p[RETURN_Q]))
        * (1.0 - p[FLIGHT_SENSITIVITY] * (1.0 - ind[IND_CONVERSION]))
    )
    # The outside world (S4, MODEL.md §9). The world frontier grows on its own; openness
    # lets firms learn from it, less the severity once the chokepoint has struck, which
    # binds every firm in its quarter (and later entrants) for good: only substitution R&D
    # shrinks what it takes (below).
    world = ind[IND_WORLD] + p[WORLD_GROWTH]
    strike = ind[IND_STRIKE]
    struck = (strike >= 0.0) & (t >= strike)
    severity = p[CHOKE_SEVERITY] if struck else 0.0
    # Synergy across fields: last quarter's breakthroughs raise this quarter's hazard.
    synergy = 1.0 + p[SYNERGY] * ind[IND_BREAKTHROUGH]
    # One pool of high-end talent per scenario (S0 §4.2 (2), S4 §5.2): its fill falls as
    # the industry's disruptive R&D (last quarter's) draws on it, so one firm's hiring
    # tightens every firm's talent gap.
    demand = patient * ind[IND_RD]
    fill = 1.0 - math.exp(-p[TALENT_POOL] / max(demand, TINY))

    # The firm loop's constants, in F.
    zero = F(0.0)
    one = F(1.0)
    n_f = F(n)
    frontier_f = F(frontier)
    # Hazards compose as rates (MODEL.md §10): p = 1 - exp(-λ Π multipliers), which no
    # stack of levers can push past 1; and the undelayed conversion hazard saturates at
    # its ceiling λ_max (a conversion takes time whatever the support). Negated:
    undelayed = p[LAMBDA0] * (1.0 + p[COOP]) * (1.0 - damp)
    ceiling = p[CONVERSION_CEILING]
    neg_conv_rate = F(-ceiling * (1.0 - math.exp(-undelayed / ceiling)))
    lock_w = F(p[LOCK_W])
    z_cost = F(p[Z_COST])
    delta_p = F(p[DELTA_P])
    phi_fail = F(p[PHI_FAIL])
    keep_z = F(1.0 - 1.0 / p[Z_TAU])
    per_z_tau = F(1.0 / p[Z_TAU])
    rate_d = F(-p[OPPORTUNITY] * p[ZETA_D] * patient)
    synergy_f = F(synergy)
    per_talent_star = F(fill / p[TALENT_STAR])
    fill_f = F(fill)
    world_f = F(world)
    world_pull = F(p[WORLD_LEARNING] * p[OPENNESS] * (1.0 - severity))
    binds_now = one if t == strike else zero

    jump_scale = F(p[JUMP_SCALE])
    rate_c = F(-p[INCREMENTAL] * p[ZETA_C] * (1.0 - patient))
    a_cap = F(p[A_CAP])
    per_cap_width = F(1.0 / p[CAP_WIDTH])
    inc_scale = F(p[INC_SCALE])
    spillover = F(p[SPILLOVER])
    per_adoption_tau = F(1.0 / p[ADOPTION_TAU])
    smoothing = F(p[SMOOTHING])
    keep_gain = F(1.0 - p[SMOOTHING])
    keep_d = F(1.0 - p[DELTA_D])
    data_gain = F((1.0 + p[NETWORK] * net) * p[FEEDBACK])
    shared = F(sharing * pool)
    keep_h = F(1.0 - p[TALENT_DECAY])
    train = F(p[TRAIN])
    keep_k = F(1.0 - p[DELTA_K])
    patient_f = F(patient)
    nu = F(p[NU])
    x_drift = F(p[NU] * p[SPILLOVER] * net)
    keep_x = F(1.0 - p[DELTA_X])
    rd_eps = F(p[RD_EPS])
    k_t = F(p[K_T])
    w_d = F(p[W_D])
    w_h = F(p[W_H])
    w_k = F(p[W_K])
    b_f = F(p[B_F])
    threshold = F(p[THRESHOLD])
    undamped = F(1.0 - damp)
    per_rd0 = F(1.0 / ind[IND_RD0])  # the industry's R&D intensity at t = 0, every path's
    data_lift = F(p[DATA_LIFT] * p[W_D])
    data_x = F(p[DATA_INTEGRATION])
    rd_burden = F(p[RD_BURDEN])
    innovating = F(1.0 - p[SUBSTITUTION])
    substitution_pace = F(p[SUBSTITUTION_RATE] * p[SUBSTITUTION])
    per_line = F(n / p[LINE_SIZE])
    demand_vol = F(p[DEMAND_VOL])
    demand_events = F(p[DEMAND_EVENTS])
    demand_floor = F(DEMAND_FLOOR)
    resonance = F(p[RESONANCE])
    shock_vol = F(p[SHOCK_VOL])
    prod_rho = F(p[PROD_RHO])
    prod_innovation = F(p[PROD_SD] * math.sqrt(1.0 - p[PROD_RHO] * p[PROD_RHO]))

    # This quarter's size and shock draws of every firm, in two passes of their own: the
    # Philox blocks and the inverse normal vectorise; the Beta table lookups gather at
    # data-dependent indices, which would hold the whole firm loop back to scalar speed.
    for i in range(n):
        v0, v1, v2, v3 = rng.block(k0, k1, scenario, i, t, rng.SIZES)
        shock_z[i] = vmath.inverse_normal(rng.unit(v0, F), F)
        jump_size[i] = rng.unit(v1, F)
        step_size[i] = rng.unit(v2, F)
        prod_z[i] = vmath.inverse_normal(rng.unit(v3, F), F)
        f0, f1, f2, _ = rng.block(k0, k1, scenario, i, t, rng.FATE)
        u_exit[i] = rng.unit(f0, F)
        u_world[i] = rng.unit(f1, F)
        u_demand[i] = rng.unit(f2, F)
    for i in range(n):
        jump_size[i] = rng.beta_quantile(tables[rng.TABLE_JUMP], jump_size[i], F)
        step_size[i] = rng.beta_quantile(tables[rng.TABLE_STEP], step_size[i], F)

    s_eff = zero
    s_signal = zero
    s_ut = zero
    s_uf = zero
    s_ui = zero
    s_c = zero
    s_d = zero
    s_cs = zero
    s_ds = zero
    s_r = zero
    s_g = zero
    s_bt = zero
    conv_num = zero
    conv_den = zero
    s_comp = zero
    s_data = zero
    for i in range(n):
        w0, w1, w2, w3 = rng.block(k0, k1, scenario, i, t, rng.EVENTS)
        u_conv = rng.unit(w0, F)
        u_break = rng.unit(w1, F)
        u_step = rng.unit(w2, F)
        u_spill = rng.unit(w3, F)
        # Every input is loaded here, unconditionally: a load inside a branch would keep
        # LLVM from turning the branch into a select.
        a_old = tech[i]
        x_old = integration[i]
        share_i = share[i]
        rd_i = rd[i]
        pipe = pipeline[i]
        lock_i = lock[i]
        lag_i = lag_factor[i]
        gate_i = gate[i]
        absorb_i = absorb[i]
        paradigm_i = paradigm[i]
        adoption_i = adoption[i]
        debt_i = debt[i]
        talent_i = talent[i]
        data_i = data[i]
        capital_i = capital[i]
        gain_i = gain_s[i]
        omega_i = productivity[i]
        bound_i = max(bound[i], binds_now)
        log_keep_i = log_keep[i]
        z_i = shock_z[i]
        u_demand_i = u_demand[i]
        revenue_rd = rd_i * share_i * n_f  # RD_i / R̄ = rd_i share_i market / (market / N)
        # The share σ_s of R&D aimed at the foreign key technology (S4 §5.2, §7.3) is not
        # available to incremental or disruptive work ...
        innovating_rd = innovating * revenue_rd
        # ... and shrinks the firm's exposure (its log loss) at a pace that grows with that
        # spending; nothing else loosens the binding, a conversion no longer frees it.
        log_keep_i *= one - min(one, substitution_pace * revenue_rd)
        keep_i = vmath.exp(log_keep_i)

        # Valley of death: a waiting pipeline converts or decays (S0 §4.1 (2), §5.1).
        waiting = pipe > zero
        p_conv = one - vmath.exp(neg_conv_rate * lag_i)
        hit = waiting & (u_conv < p_conv)
        conv = one if hit else zero
        decay = delta_p * pipe if waiting & (u_conv >= p_conv) else zero
        conv_den += share_i if waiting else zero
        conv_num += share_i if hit else zero
        adoption_i += pipe * (one - lock_i * lock_w) if hit else zero
        # Converting takes on transition debt: the breaking paradox (S0 §2.4 (1)).
        debt_i = debt_i * keep_z + (z_cost * pipe if hit else zero)
        pipe = zero if hit else pipe - decay
        paradigm_i = one if hit else paradigm_i
        # The high-end talent gap (S4 §5.2), with last quarter's talent (before failure
        # learning): a firm short of H* cannot attempt the hardest work as often.
        talent_gap = min(fill_f, talent_i * per_talent_star)
        talent_i += phi_fail * decay  # failure becomes knowledge

        # Disruptive breakthrough, gated by risk tolerance (S0 §3.1 path 1, §4.1 (3)),
        # the talent gap and the synergy of last quarter's breakthroughs (S4 §3.2).
        p_d = one - vmath.exp(rate_d * innovating_rd * gate_i * talent_gap * synergy_f)
        bt = u_break < p_d
        pipe += jump_scale * jump_size[i] if bt else zero

        # Factors (S0 §3.2, S2 §3.3): data-network-activity loop, talent, patient capital.
        data_i = data_i * keep_d + share_i * n_f * x_old * data_gain
        log_usable = vmath.log(one + data_i + shared)  # ln(1 + E_D): shared data is non-rival
        talent_i = talent_i * keep_h + train * rd_i
        capital_i = capital_i * keep_k + patient_f * revenue_rd

        # Incremental innovation; the old track saturates above a_cap (S0 §3.1, §4.1 (1)).
        # Data lowers the cost of innovation (S0 §2.3 (2), §3.2): leveraged data lifts the
        # step, so the §4.4 loop runs through technology.
        p_c = one - vmath.exp(rate_c * innovating_rd)
        cap = zero if paradigm_i > zero else logistic((a_old - a_cap) * per_cap_width, F)
        step = inc_scale * (one - cap) * step_size[i] * (one + data_lift * log_usable)
        gain = step if u_step < p_c else zero

        # Spillover and imitation of the frontier (S2 §3.2.2-3.2.3).
        gain += spillover * absorb_i * x_old * max(zero, frontier_f - a_old) * u_spill
        # Learning from the world frontier through openness (S4 §5.1, §6.3).
        gain += world_pull * absorb_i * max(zero, world_f - a_old) * u_world[i]

        # Adoption of converted technology (docs/model.md, deviation 1).
        adopt = adoption_i * per_adoption_tau
        adoption_i -= adopt
        gain += adopt
        tech_i = a_old + gain
        gain_i = smoothing * gain + keep_gain * gain_i  # ΔA

        # Industrial integration (S2 §4.2-4.3); data pulls it up, closing S2's loop (§3.3).
        x_pull = data_x * log_usable * (one - x_old)
        x_new = min(one, max(zero, x_old * keep_x + nu * conv + x_drift + x_pull))

        # The three efficiency dimensions in [0, 1] (S0 §1.2.2).
        per_rd = one / max(rd_i, rd_eps)
        per_debt = one / (one + debt_i)
        u_t = one - vmath.exp(-k_t * gain_i * per_rd)
        u_f = logistic(w_d * log_usable + w_h * talent_i + w_k * capital_i - b_f, F)
        u_i = x_new * per_debt  # X (1 - Z / (1 + Z))
        c, c_star, total = coupling(u_t, u_f, u_i, F)
        d = math.sqrt(c * total)
        regime = one if min(u_t, min(u_f, u_i)) >= threshold else zero  # threshold effect

        # Innovation efficiency (docs/model.md §3): the net technology gain per quarter
        # per unit of the industry's starting R&D intensity; a firm the chokepoint binds
        # loses the share 1 - keep_i of it (S4 §5.2): s_c min(1, dependence dep_i) at entry,
        # less what its substitution effort has won back.
        # The reinvestment signal is the firm's own return on its R&D, with the damper
        # and the resonance premium (S0 §2.3): they steer R&D between firms, but are no
        # part of the reported efficiency.
        kept = keep_i if bound_i > zero else one
        net = (gain_i - debt_i * per_z_tau) * kept
        e = net * per_rd0
        signal = net * per_rd * undamped * (one + resonance * d * regime)

        # Idiosyncratic productivity (deviation 8): a persistent AR(1) part ω and the
        # quarter's transitory shock ε on top of technology make the firm's log TFP. Both
        # are the mean of the shocks of the firm's 1 + N share / line_size product lines
        # (docs/model.md §3b): a large firm's luck averages out.
        per_sd = one / math.sqrt(one + per_line * share_i)
        omega_i = prod_rho * omega_i + prod_innovation * per_sd * prod_z[i]
        # The chokepoint's loss is a loss of output at given inputs: of TFP too.
        log_tfp_i = (
            tech_i + omega_i + shock_vol * per_sd * z_i + (log_keep_i if bound_i > zero else zero)
        )
        # Competitiveness c_i for niche selection: TFP, less the revenue debt takes and
        # the R&D spent this quarter (R&D is paid for, MODEL.md §11).
        level_i = vmath.exp(log_tfp_i)
        comp_i = level_i * per_debt * (one - rd_burden * rd_i)
        # In a quarter with a product event the same shock moves the firm's demand, averaged
        # over its lines (docs/model.md §3b); the factor is kept in the shock's row for the
        # selection loop.
        moved = demand_vol * per_sd * z_i if u_demand_i < demand_events else zero
        shock_z[i] = max(demand_floor, one + moved)
        # The world-learning uniform is spent: its row keeps the firm's TFP level for the
        # selection pass and entry, which would otherwise take every firm's exp again.
        u_world[i] = level_i

        tech[i] = tech_i
        pipeline[i] = pipe
        paradigm[i] = paradigm_i
        debt[i] = debt_i
        adoption[i] = adoption_i
        integration[i] = x_new
        data[i] = data_i
        talent[i] = talent_i
        capital[i] = capital_i
        gain_s[i] = gain_i
        productivity[i] = omega_i
        log_tfp[i] = log_tfp_i
        efficiency[i] = signal
        converted[i] = conv
        broke[i] = one if bt else zero
        comp[i] = comp_i
        bound[i] = bound_i
        keep[i] = keep_i
        log_keep[i] = log_keep_i

        s_comp += share_i * comp_i
        s_eff += share_i * e
        s_signal += share_i * signal
        s_ut += u_t
        s_uf += u_f
        s_ui += u_i
        s_c += c
        s_d += d
        s_cs += c_star
        s_ds += math.sqrt(c_star * total)
        s_r += regime
        s_g += paradigm_i
        s_bt += one if bt else zero
        s_data += data_i

    # Reinvestment (positive loop) and replicator selection (S0 §2.4 (3), S2 §4.2).
    mean_signal = s_signal  # shares sum to 1
    eta_re = F(p[ETA_RE])
    rd_min = F(p[RD_MIN])
    rd_max = F(p[RD_MAX])
    pull = F(p[CHI]) / s_comp if s_comp > zero else zero
    total_share = zero
    s_loss = zero
    s_rd = zero
    for i in range(n):
        s_rd += share[i] * rd[i]  # the quarter's R&D spending per unit of revenue
        rd[i] = min(rd_max, max(rd_min, rd[i] + eta_re * (efficiency[i] - mean_signal) * rd[i]))
        # The chokepoint's loss, summed here rather than in the firm loop: a seventeenth
        # running sum there cost 15 % of the kernel's speed (measured on the Intel VM,
        # 19.8 vs 23.1 M firm-steps/s per thread; the vectorised loop is that sensitive).
        s_loss += share[i] * (one - keep[i]) * bound[i]
        share_i = share[i] * (one + pull * (comp[i] - s_comp)) * shock_z[i]
        share[i] = share_i
        total_share += share_i

    # Exit below exit_share / N, or by the exogenous hazard that falls with size
    # (deviation 11); an imitating entrant takes the slot (N stays fixed).
    exit_below = F(p[EXIT_SHARE] / n)
    hazard = F(2.0 * p[EXIT_HAZARD])
    per_total = one / total_share
    exits = 0
    tfp = zero
    level = u_world  # each firm's TFP level, exp(log TFP), from the firm loop
    for i in range(n):
        share_i = share[i] * per_total
        share[i] = share_i
        leaves = (share_i < exit_below) | (u_exit[i] * (one + n_f * share_i) < hazard)
        u_exit[i] = one if leaves else zero  # now the exit flag of the entry loop
        exits += 1 if leaves else 0
        tfp += share_i * level[i]
    if exits > 0:  # a few firms a quarter: entrants take their slots, off the vector path
        # an entrant imitates: it starts at the industry's mean technology less a gap
        a0 = mean_a - p[ENTRANT_GAP]
        bound_in = 1.0 if struck else 0.0
        enter(state, entrants, u_exit, p, fp, tables, k0, k1, scenario, t, a0, bound_in, level)
        total_after = 0.0
        for i in range(n):
            total_after += share[i]
        per_total = F(1.0 / total_after)
        tfp = zero
        for i in range(n):
            share[i] *= per_total
            tfp += share[i] * level[i]

    ind[IND_INSTITUTIONS] = q
    ind[IND_TRUST] = trust
    ind[IND_CONVERSION] = conv_num / conv_den if conv_den > zero else 0.0
    ind[IND_FACTOR] = s_uf / n
    ind[IND_WORLD] = world
    ind[IND_BREAKTHROUGH] = s_bt / n
    ind[IND_RD] = s_rd

    out[M_EFFICIENCY] = QUARTERS_PER_YEAR * s_eff
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
    out[M_CHOKE_LOSS] = s_loss
    # The path's policy cost (MODEL.md §10): flat, and per unit of the activities the
    # levers pay for (R&D spending against its level at t = 0; the revenue shares of firms
    # whose breakthrough waits in the valley without converting, and that convert). All
    # four coefficients are exactly 0 on a path without levers, and so is the cost.
    out[M_POLICY_COST] = (
        p[COST_FLAT]
        + p[COST_RD_SPENDING] * (s_rd * per_rd0)
        + p[COST_FAILURES] * (conv_den - conv_num)
        + p[COST_CONVERSIONS] * conv_num
    )
