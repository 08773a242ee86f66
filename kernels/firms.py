"""Firm attributes and the initial state (MODEL.md §2 and §4 "Initial state").

Dim letters: v = state variables (``registry.STATE``), i = firms, k = attributes (10).

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

N_ATTRIBUTES = 10

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
def attributes(fp, tables, n0, n1, n2, n3, b0, b1, b2, b3, c0, c2):
    """The attributes a founder and an entrant share: (a0, rd0, absorb, risk, layers,
    lock, z_prod, dep), float64 each, from ten U(0, 1) of the three attribute blocks (n:
    ``rng.ATTR_NORMALS``, b: ``ATTR_BETAS``, c: ``ATTR_COUNTS``; words 1 and 3 of the last
    are the founders' size and age).

    fp: firm parameters, shape (N_FIRM_PARAMETERS,); tables: the kernel's quantile tables
    (``simulate.quantile_tables``), whose Beta rows give rd0, absorb, risk and lock from
    one uniform each (deviation 4), and so does the key-technology dependence dep. z_prod
    is a standard normal, which the path's prod_sd scales into the firm's starting
    idiosyncratic productivity.
    """
    F = np.float64
    a0 = fp[A0_MEAN] + fp[A0_SD] * rng.box_muller(n0, n1)
    z_prod = rng.box_muller(n2, n3)
    rd0 = rng.beta_quantile(tables[rng.TABLE_RD0], b0, F)
    absorb = rng.beta_quantile(tables[rng.TABLE_ABSORB], b1, F)
    risk = rng.beta_quantile(tables[rng.TABLE_RISK], b2, F)
    lock = rng.beta_quantile(tables[rng.TABLE_LOCK], b3, F)
    layers = rng.uniform_int(c0, fp[LAYERS_MIN], fp[LAYERS_MAX])
    dep = rng.beta_quantile(tables[rng.TABLE_DEP], c2, F)
    return a0, rd0, absorb, risk, layers, lock, z_prod, dep


@rng.jit
def draw_attributes(fp, tables, k0, k1, scenario, firm):
    """Attributes of one founding firm: (a0, rd0, absorb, risk, layers, lock, size0,
    z_prod, dep, age), float64 each, from its three ``rng.ATTR_INIT`` blocks (time word 0)
    with no loop (``attributes``; entrants: ``draw_entrants``).

    size0 is the unnormalised Pareto weight (at least 1); age the founder's age at t = 0 in
    quarters, Exponential(4 age_mean).
    """
    base = rng.ATTR_INIT
    n0, n1, n2, n3 = rng.uniforms(k0, k1, scenario, firm, 0, base + rng.ATTR_NORMALS, 0)
    b0, b1, b2, b3 = rng.uniforms(k0, k1, scenario, firm, 0, base + rng.ATTR_BETAS, 0)
    c0, c1, c2, c3 = rng.uniforms(k0, k1, scenario, firm, 0, base + rng.ATTR_COUNTS, 0)
    a0, rd0, absorb, risk, layers, lock, z_prod, dep = attributes(
        fp, tables, n0, n1, n2, n3, b0, b1, b2, b3, c0, c2
    )
    size0 = c1 ** (-1.0 / fp[SIZE_ALPHA])
    age = -4.0 * fp[AGE_MEAN] * math.log(c3)  # uniforms lie in (0, 1): finite
    return a0, rd0, absorb, risk, layers, lock, size0, z_prod, dep, age


ENTRY_WORDS = 11  # rows of the entry scratch (``draw_entrants``): the firm, ten words


@rng.jit
def draw_entrants(words, count, k0, k1, scenario, time):
    """The Philox words of a quarter's ``count`` entrants, whose firm numbers the caller
    wrote in words[0, :count]: rows 1-4 the ATTR_NORMALS block, 5-8 ATTR_BETAS, 9 and 10
    words 0 and 2 of ATTR_COUNTS (those an entrant uses); words: uint32, shape
    (ENTRY_WORDS, firms). ``entrant_attributes`` turns column j into entrant j's attributes.

    One loop of nothing but Philox, which LLVM runs four entrants at a time: drawn one
    entrant at a time, beside its Box-Muller normals and table lookups, the three blocks
    were a third of entry's cost (45 of about 150 ns an entrant).
    """
    time_word = np.uint64(time)
    base = rng.ATTR_ENTRY
    for j in range(count):
        firm = np.uint64(words[0, j])
        x0, x1, x2, x3 = rng.block(k0, k1, scenario, firm, time_word, base + rng.ATTR_NORMALS)
        words[1, j] = x0
        words[2, j] = x1
        words[3, j] = x2
        words[4, j] = x3
        x0, x1, x2, x3 = rng.block(k0, k1, scenario, firm, time_word, base + rng.ATTR_BETAS)
        words[5, j] = x0
        words[6, j] = x1
        words[7, j] = x2
        words[8, j] = x3
        x0, _, x2, _ = rng.block(k0, k1, scenario, firm, time_word, base + rng.ATTR_COUNTS)
        words[9, j] = x0
        words[10, j] = x2


@rng.jit
def entrant_attributes(fp, tables, words, j):
    """(a0, rd0, absorb, risk, layers, lock, z_prod, dep) of entrant j from its words
    (``draw_entrants``), by a founder's transform of its ``rng.ATTR_ENTRY`` blocks."""
    u = rng.to_unit
    return attributes(
        fp,
        tables,
        u(words[1, j]),
        u(words[2, j]),
        u(words[3, j]),
        u(words[4, j]),
        u(words[5, j]),
        u(words[6, j]),
        u(words[7, j]),
        u(words[8, j]),
        u(words[9, j]),
        u(words[10, j]),
    )


@rng.jit
def draw_founders(attrs, fp, tables, k0, k1, scenario):
    """Fill attrs[k, i] with the founding firms' attributes; size0 normalised to sum 1."""
    n = attrs.shape[1]
    total = 0.0
    for i in range(n):
        a = draw_attributes(fp, tables, k0, k1, scenario, i)
        for k in range(N_ATTRIBUTES):
            attrs[k, i] = a[k]
        total += a[rng.ATTR_SIZE]
    for i in range(n):
        attrs[rng.ATTR_SIZE, i] /= total


@rng.inline
def logistic(x, F):
    """L(x) = 1 / (1 + exp(-x)) in float type F."""
    return F(1.0) / (F(1.0) + vmath.exp(-x))


@rng.jit
def stationary_sd(p, share, n):
    """Stationary sd of the idiosyncratic log productivity of a firm of this share among
    n firms: prod_sd / sqrt(lines), lines = 1 + n share / line_size (docs/model.md §3b)."""
    return p[PROD_SD] / math.sqrt(1.0 + n * share / p[LINE_SIZE])


@rng.jit
def reset_firm(state, i, p, a0, rd0, absorb, risk, layers, lock, share, z_prod, dep, bound, born):
    """Put firm i in its initial state with the given attributes (p: one path's params).

    Its idiosyncratic productivity starts in the stationary law of the AR(1) at its size,
    prod_sd z_prod / sqrt(1 + N share / line_size) (``stationary_sd``: a firm's shocks are the
    mean of its product lines', docs/model.md §3b);
    ``bound`` is 1 for an entrant after the chokepoint struck (it depends on the same
    foreign key technology), else 0; ``born`` the first quarter it lives through (an
    entrant of quarter t: t + 1; a founder: minus its age in quarters).
    """
    omega = stationary_sd(p, share, state.shape[1]) * z_prod
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
    # What a bound firm keeps of its efficiency and output (S4 §5.2), at entry: its
    # substitution effort wins it back over time (step.py).
    keep = 1.0 - p[CHOKE_SEVERITY] * min(1.0, p[DEPENDENCE] * dep)
    log_keep = math.log(keep)
    state[KEEP, i] = keep
    state[LOG_KEEP, i] = log_keep
    # a bound entrant's TFP bears the loss from its first quarter, as the firm loop's does
    state[LOG_TFP, i] = a0 + omega + (log_keep if bound > 0.0 else 0.0)
    # Fixed for the firm's life on this path: computed once here, not every quarter.
    state[RISK_GATE, i] = logistic((risk - p[R_CRIT]) / p[GATE_WIDTH], np.float64)  # S0 §4.1 (3)
    state[CONVERSION_LAG, i] = 1.0 / (1.0 + p[LAG_PER_LAYER] * layers)  # S0 §4.3 (1)


@rng.jit
def init_path(state, ind, attrs, p, strike):
    """Initial state[v, i] and industry state ind[j] of one path from attrs[k, i].

    Q starts at mean technology, trust at pi0, last quarter's mean U_F at pi0 (so trust
    does not move in the first quarter), κ̄ at 0 (MODEL.md §4, initial state); the world
    frontier world_gap above the best founder, last quarter's breakthrough rate at 0, and
    ``strike`` the scenario's chokepoint quarter (``rng.chokepoint_quarters``, -1: none).
    """
    n = attrs.shape[1]
    mean_a = 0.0
    best_a = -math.inf
    tfp0 = 0.0
    rd0 = 0.0
    for i in range(n):
        reset_firm(
            state,
            i,
            p,
            attrs[rng.ATTR_A0, i],
            attrs[rng.ATTR_RD0, i],
            attrs[rng.ATTR_ABSORB, i],
            attrs[rng.ATTR_RISK, i],
            attrs[rng.ATTR_LAYERS, i],
            attrs[rng.ATTR_LOCK, i],
            attrs[rng.ATTR_SIZE, i],
            attrs[rng.ATTR_PROD, i],
            attrs[rng.ATTR_DEP, i],
            0.0,
            -attrs[rng.ATTR_AGE, i],
        )
        state[ENTERED, i] = 0.0
        mean_a += attrs[rng.ATTR_A0, i]
        best_a = max(best_a, attrs[rng.ATTR_A0, i])
        rd0 += attrs[rng.ATTR_SIZE, i] * attrs[rng.ATTR_RD0, i]
        tfp0 += attrs[rng.ATTR_SIZE, i] * math.exp(
            attrs[rng.ATTR_A0, i]
            + stationary_sd(p, attrs[rng.ATTR_SIZE, i], n) * attrs[rng.ATTR_PROD, i]
        )
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
