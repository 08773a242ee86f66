"""Firm attributes and the initial state (MODEL.md §2 and §4 "Initial state").

Dim letters: v = state variables (``registry.STATE``), i = firms, e = rows of the attribute
scratch (``E_*``, ``draw_firms``).

Attributes are drawn once per firm-scenario draw, from the ATTR_INIT streams, and shared
by every path. An entrant that replaces firm i in quarter t draws fresh attributes from
the ATTR_ENTRY streams with time word t, so entry too is the same on every path.
"""

from __future__ import annotations

import math

import numpy as np

from . import rng, vmath
from .registry import (
    A0_MEAN,
    A0_SD,
    ABSORB,
    ADOPTION,
    AGE_MEAN,
    BORN,
    BOUND,
    BROKE_THROUGH,
    CAPITAL,
    CAPITAL0,
    CHOKE_SEVERITY,
    CONVERSION_LAG,
    CONVERTED,
    DATA,
    DATA0,
    DEBT,
    DEPENDENCE,
    EFFICIENCY,
    ENTERED,
    ENTRANT_SHARE,
    GAIN,
    GATE_WIDTH,
    INTEGRATION,
    KEEP,
    LAG_PER_LAYER,
    LAYERS,
    LAYERS_MAX,
    LAYERS_MIN,
    LINE_SIZE,
    LOCK,
    LOG_KEEP,
    LOG_TFP,
    PARADIGM,
    PI0,
    PIPELINE,
    PROD_SD,
    PRODUCTIVITY,
    R_CRIT,
    RD,
    RISK,
    RISK_GATE,
    SHARE,
    SIZE_ALPHA,
    TALENT,
    TALENT0,
    TECH,
    WORLD_GAP,
    X0,
)

N_ATTRIBUTES = 10  # the attributes ``rng.ATTR_*`` (the NumPy reference's rows)

# Industry-level state of one scenario and path, ind[j]:
IND_INSTITUTIONS = 0  # Q, institutional level (log tech)
IND_TRUST = 1  # π, policy trust
IND_CONVERSION = 2  # κ̄, share-weighted conversion rate of the last quarter
IND_FACTOR = 3  # mean U_F of the last quarter
IND_TFP0 = 4  # share-weighted exp(A) before the first quarter
IND_WORLD = 5  # F_w, the world technology frontier (log tech, S4 §5.1)
IND_BREAKTHROUGH = 6  # share of firms that broke through last quarter (synergy, S4 §3.2)
IND_STRIKE = 7  # quarter the scenario's chokepoint strikes, -1 if never (S4 §5.2)
IND_RD0 = 8  # the industry's R&D intensity before the first quarter, sum of share0 rd0
IND_RD = 9  # the industry's R&D intensity of the last quarter, sum of share rd
N_INDUSTRY = 10


@rng.inline
def betas(fp, tables, b0, b1, b2, b3, c0, c2):
    """(rd0, absorb, risk, lock, layers, dep) of a founder or an entrant, float64 each, from
    the four uniforms of its ``rng.ATTR_BETAS`` block and words 0 and 2 of ``ATTR_COUNTS``.

    fp: firm parameters, shape (N_FIRM_PARAMETERS,); tables: the kernel's quantile tables
    (``simulate.quantile_tables``), whose Beta rows give rd0, absorb, risk and lock from
    one uniform each (deviation 4), and so does the key-technology dependence dep.
    """
    F = np.float64
    rd0 = rng.beta_quantile(tables[rng.TABLE_RD0], b0, F)
    absorb = rng.beta_quantile(tables[rng.TABLE_ABSORB], b1, F)
    risk = rng.beta_quantile(tables[rng.TABLE_RISK], b2, F)
    lock = rng.beta_quantile(tables[rng.TABLE_LOCK], b3, F)
    layers = rng.uniform_int(c0, fp[LAYERS_MIN], fp[LAYERS_MAX])
    dep = rng.beta_quantile(tables[rng.TABLE_DEP], c2, F)
    return rd0, absorb, risk, lock, layers, dep


# Rows of the attribute scratch, float64 (ENTRY_ROWS, firms): column j is a firm drawn in
# one call of ``draw_firms`` (a quarter's entrant j, or founder j). The caller writes
# E_FIRM, the firm's number (a whole number, exact); ``draw_firms`` the uniforms its later
# passes read (words 0-3 of ATTR_NORMALS, words 1 and 3 of ATTR_COUNTS) and the attributes.
E_FIRM = 0
E_N0, E_N1, E_N2, E_N3, E_C1, E_C3 = range(1, 7)  # uniforms
(E_Z_PROD, E_RD0, E_ABSORB, E_RISK, E_LOCK, E_LAYERS, E_DEP) = range(7, 14)  # attributes
(E_A0, E_SIZE, E_AGE) = range(14, 17)  # a founder's only
ENTRY_ROWS = 17


@rng.jit
def draw_firms(scratch, count, fp, tables, k0, k1, scenario, time, base):
    """The attributes of ``count`` firms, columns [0, count) of ``scratch`` (rows E_*), from
    the three blocks (``rng.ATTR_NORMALS``, ``ATTR_BETAS``, ``ATTR_COUNTS``) of ``base``:
    ``rng.ATTR_INIT`` for founders (time word 0), ``rng.ATTR_ENTRY`` for a quarter's
    entrants (time word t). Every firm draws z_prod and the ``betas``; a founder also a0,
    size0 and age (``base == rng.ATTR_INIT``).

    fp: firm parameters, shape (N_FIRM_PARAMETERS,); tables: the kernel's quantile tables
    (``simulate.quantile_tables``). z_prod is the Box-Muller normal of the ATTR_NORMALS
    block's words 2 and 3, which the path's prod_sd scales into the firm's starting
    idiosyncratic productivity; a0 = a0_mean + a0_sd z with z the normal of its words 0
    and 1; size0 the unnormalised Pareto weight (at least 1) of word 1 of ATTR_COUNTS; age
    the founder's age at t = 0 in quarters, Exponential(4 age_mean), of its word 3. An
    entrant imitates (its caller sets a0 from the industry's mean technology), takes the
    entrant share and starts at age 0.

    In passes over the firms: the Philox blocks and table lookups, then the Box-Muller
    normals in a loop of their own, which LLVM vectorises (``vmath``'s float64 log and cos;
    libm's, one firm at a time, were about 40 of the 150 ns an entrant cost). The blocks go
    through ``rng.uniforms`` (compiled once, for the chokepoint too) and stay scalar, as
    do the lookups: inlined and vectorised in passes of their own, they ran the kernel 4-5 %
    faster but took 0.7 s more of the cold compile, which must stay under 10 s.
    """
    for j in range(count):
        firm = np.int64(scratch[E_FIRM, j])
        n0, n1, n2, n3 = rng.uniforms(k0, k1, scenario, firm, time, base + rng.ATTR_NORMALS, 0)
        b0, b1, b2, b3 = rng.uniforms(k0, k1, scenario, firm, time, base + rng.ATTR_BETAS, 0)
        c0, c1, c2, c3 = rng.uniforms(k0, k1, scenario, firm, time, base + rng.ATTR_COUNTS, 0)
        scratch[E_N0, j] = n0
        scratch[E_N1, j] = n1
        scratch[E_N2, j] = n2
        scratch[E_N3, j] = n3
        scratch[E_C1, j] = c1
        scratch[E_C3, j] = c3
        rd0, absorb, risk, lock, layers, dep = betas(fp, tables, b0, b1, b2, b3, c0, c2)
        scratch[E_RD0, j] = rd0
        scratch[E_ABSORB, j] = absorb
        scratch[E_RISK, j] = risk
        scratch[E_LOCK, j] = lock
        scratch[E_LAYERS, j] = layers
        scratch[E_DEP, j] = dep
    for j in range(count):
        scratch[E_Z_PROD, j] = rng.box_muller(scratch[E_N2, j], scratch[E_N3, j])
    if base == rng.ATTR_INIT:
        for j in range(count):
            z_a0 = rng.box_muller(scratch[E_N0, j], scratch[E_N1, j])
            scratch[E_A0, j] = fp[A0_MEAN] + fp[A0_SD] * z_a0
            scratch[E_SIZE, j] = scratch[E_C1, j] ** (-1.0 / fp[SIZE_ALPHA])
            # uniforms lie in (0, 1): finite
            scratch[E_AGE, j] = -4.0 * fp[AGE_MEAN] * math.log(scratch[E_C3, j])


@rng.inline
def place_entrants(state, entrants, count, p, a0, bound, born, level):
    """Put a quarter's ``count`` entrants, columns [0, count) of ``entrants`` (``draw_firms``
    of ``rng.ATTR_ENTRY``), in the slots of the firms they replace (rows E_FIRM), each with
    its ``terms`` on the path (p: its parameters), technology a0, the entrant share,
    ``bound`` and ``born`` (``put_firm``); its TFP level exp(log TFP) in level[i] (dtype of
    state)."""
    n = state.shape[1]
    share = p[ENTRANT_SHARE] / n
    for j in range(count):
        i = np.int64(entrants[E_FIRM, j])
        risk = entrants[E_RISK, j]
        layers = entrants[E_LAYERS, j]
        firm_terms = terms(p, share, n, entrants[E_Z_PROD, j], risk, layers, entrants[E_DEP, j])
        attrs = (entrants[E_RD0, j], entrants[E_ABSORB, j], risk, entrants[E_LOCK, j], layers)
        put_firm(state, i, p, a0, attrs, share, firm_terms, bound, born)
        level[i] = vmath.exp(state[LOG_TFP, i])


@rng.inline
def enter(state, entrants, leaving, p, fp, tables, k0, k1, scenario, t, a0, bound, level):
    """Quarter t's entry: an entrant takes the slot of each firm i with leaving[i] > 0,
    its attributes drawn (``draw_firms`` of ``rng.ATTR_ENTRY``, in ``entrants``) and placed
    with technology a0, ``bound``, born t + 1 (``place_entrants``), its TFP level in
    level[i]. The quarter's, and the profile's entry section, so that it times this code."""
    count = np.int64(0)  # not a literal 0: draw_firms compiles once
    for i in range(leaving.shape[0]):
        if leaving[i] > 0.0:
            entrants[E_FIRM, count] = i
            count += 1
    draw_firms(entrants, count, fp, tables, k0, k1, scenario, t, np.int64(rng.ATTR_ENTRY))
    place_entrants(state, entrants, count, p, a0, bound, t + 1.0, level)


@rng.jit
def draw_founders(attrs, fp, tables, k0, k1, scenario):
    """The founding firms' attributes: attrs, float64 (ENTRY_ROWS, firms), rows E_* of
    ``draw_firms`` (E_SIZE normalised to sum 1), from their ``rng.ATTR_INIT`` blocks."""
    n = attrs.shape[1]
    for i in range(n):
        attrs[E_FIRM, i] = i
    # np.int64, not the bare constants: numba compiles a callee once per signature, and a
    # constant argument makes a signature of its own (a literal type)
    draw_firms(attrs, n, fp, tables, k0, k1, scenario, np.int64(0), np.int64(rng.ATTR_INIT))
    total = 0.0
    for i in range(n):
        total += attrs[E_SIZE, i]
    for i in range(n):
        attrs[E_SIZE, i] /= total


@rng.inline
def logistic(x, F):
    """L(x) = 1 / (1 + exp(-x)) in float type F."""
    return F(1.0) / (F(1.0) + vmath.exp(-x))


@rng.inline
def stationary_sd(p, share, n):
    """Stationary sd of the idiosyncratic log productivity of a firm of this share among
    n firms: prod_sd / sqrt(lines), lines = 1 + n share / line_size (docs/model.md §3b)."""
    return p[PROD_SD] / math.sqrt(1.0 + n * share / p[LINE_SIZE])


@rng.inline
def terms(p, share, n, z_prod, risk, layers, dep):
    """What a firm of these attributes starts with on a path (p: its parameters), fixed
    for its life or its first quarter: (omega, keep, log_keep, gate, lag), float64 each.

    omega: its idiosyncratic productivity, in the stationary law of the AR(1) at its size,
    prod_sd z_prod / sqrt(1 + N share / line_size) (``stationary_sd``: a firm's shocks are
    the mean of its product lines', docs/model.md §3b); keep: the share of its efficiency
    and output it keeps once the chokepoint binds it (S4 §5.2), which its substitution
    effort wins back over time (step.py), and its log; gate: its risk gate (S0 §4.1 (3));
    lag: its conversion-lag factor (S0 §4.3 (1)).
    """
    omega = stationary_sd(p, share, n) * z_prod
    keep = 1.0 - p[CHOKE_SEVERITY] * min(1.0, p[DEPENDENCE] * dep)
    log_keep = math.log(keep)
    gate = 1.0 / (1.0 + math.exp((p[R_CRIT] - risk) / p[GATE_WIDTH]))  # logistic
    lag = 1.0 / (1.0 + p[LAG_PER_LAYER] * layers)
    return omega, keep, log_keep, gate, lag


@rng.jit
def put_firm(state, i, p, a0, attrs, share, terms_, bound, born):
    """Put firm i in its initial state (p: one path's params).

    attrs: its (rd0, absorb, risk, lock, layers); terms_: its ``terms``; ``bound`` is 1 for
    an entrant after the chokepoint struck (it depends on the same foreign key
    technology), else 0; ``born`` the first quarter it lives through (an entrant of
    quarter t: t + 1; a founder: minus its age in quarters).
    """
    rd0, absorb, risk, lock, layers = attrs
    omega, keep, log_keep, gate, lag = terms_
    state[TECH, i] = a0
    state[PRODUCTIVITY, i] = omega
    state[PIPELINE, i] = 0.0
    state[PARADIGM, i] = 0.0
    state[DEBT, i] = 0.0
    state[ADOPTION, i] = 0.0
    state[INTEGRATION, i] = p[X0]
    state[DATA, i] = p[DATA0]
    state[TALENT, i] = p[TALENT0]
    state[CAPITAL, i] = p[CAPITAL0]
    state[GAIN, i] = 0.0
    state[RD, i] = rd0
    state[SHARE, i] = share
    state[ABSORB, i] = absorb
    state[RISK, i] = risk
    state[LAYERS, i] = layers
    state[LOCK, i] = lock
    state[EFFICIENCY, i] = 0.0
    state[CONVERTED, i] = 0.0
    state[BROKE_THROUGH, i] = 0.0
    state[ENTERED, i] = 1.0  # founders are cleared by init_path
    state[BOUND, i] = bound
    state[BORN, i] = born
    state[KEEP, i] = keep
    state[LOG_KEEP, i] = log_keep
    # a bound entrant's TFP bears the loss from its first quarter, as the firm loop's does
    state[LOG_TFP, i] = a0 + omega + (log_keep if bound > 0.0 else 0.0)
    state[RISK_GATE, i] = gate
    state[CONVERSION_LAG, i] = lag


@rng.jit
def init_path(state, ind, attrs, p, strike):
    """Initial state[v, i] and industry state ind[j] of one path from the founders'
    attributes attrs[E_*, i] (``draw_founders``).

    Q starts at mean technology, trust at pi0, last quarter's mean U_F at pi0 (so trust
    does not move in the first quarter), κ̄ at 0 (MODEL.md §4, initial state); the world
    frontier world_gap above the best founder, last quarter's breakthrough rate at 0, and
    ``strike`` the scenario's chokepoint quarter (``rng.chokepoint_quarter``, -1: none).
    """
    n = attrs.shape[1]
    mean_a = 0.0
    best_a = -math.inf
    tfp0 = 0.0
    rd0 = 0.0
    for i in range(n):
        a0 = attrs[E_A0, i]
        share = attrs[E_SIZE, i]
        risk = attrs[E_RISK, i]
        layers = attrs[E_LAYERS, i]
        firm_terms = terms(p, share, n, attrs[E_Z_PROD, i], risk, layers, attrs[E_DEP, i])
        firm_attrs = (attrs[E_RD0, i], attrs[E_ABSORB, i], risk, attrs[E_LOCK, i], layers)
        put_firm(state, i, p, a0, firm_attrs, share, firm_terms, 0.0, -attrs[E_AGE, i])
        state[ENTERED, i] = 0.0
        mean_a += a0
        best_a = max(best_a, a0)
        rd0 += share * attrs[E_RD0, i]
        tfp0 += share * math.exp(a0 + firm_terms[0])
    ind[IND_INSTITUTIONS] = mean_a / n
    ind[IND_TRUST] = p[PI0]
    ind[IND_CONVERSION] = 0.0
    ind[IND_FACTOR] = p[PI0]
    ind[IND_TFP0] = tfp0
    ind[IND_WORLD] = best_a + p[WORLD_GAP]
    ind[IND_BREAKTHROUGH] = 0.0
    ind[IND_STRIKE] = strike
    ind[IND_RD0] = rd0
    ind[IND_RD] = rd0
