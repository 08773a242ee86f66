"""The model's quarter in JAX (``jit`` + ``vmap``, on the CPU): the benchmark's JAX peer.

Written the way a JAX user would: one scenario and path as a pure function of arrays over
firms, ``lax.scan`` over quarters, ``vmap`` over scenarios, ``jax.random`` for draws
(split keys, so results differ from the kernel's by the draws, not by the equations), and
fixed shapes throughout: every firm draws a breakthrough size, a step and an entrant's
attributes each quarter, and ``jnp.where`` keeps the ones that happen.

As fast as its idiom allows, on the kernel's own terms: float32 (the kernel's build every
run uses), and the Beta attributes, the incremental step and the breakthrough size drawn
from one uniform each through the kernel's 4,096-cell quantile tables
(``kernels/rng.py``: ``beta_table``, ``lognormal_table``) rather than ``jax.random.beta``,
whose rejection sampler dominated an earlier float64 version (0.12 M firm-steps/s on 2
cores). It is an earlier version of the model (no idiosyncratic productivity or exit
hazard), so the ratio slightly favours it. Only the benchmark imports it
(``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import functools
import time

import jax  # noqa: I001  (ImportError here means: JAX not installed)
import jax.numpy as jnp
import numpy as np
from jax import lax

from resonance.kernels import registry as R
from resonance.kernels.rng import beta_table, lognormal_table

F = jnp.float32
TABLES = {  # name -> (first, second) firm parameter of its law
    "rd0": (R.RD0_A, R.RD0_B),
    "absorb": (R.ABSORB_A, R.ABSORB_B),
    "risk": (R.RISK_A, R.RISK_B),
    "lock": (R.LOCK_A, R.LOCK_B),
    "step": (R.STEP_A, R.STEP_B),
}


def tables_of(firm_params: np.ndarray) -> dict:
    """The quantile tables of a config's firm parameters, float32 (4,097,) each."""
    fp = np.asarray(firm_params, dtype=np.float64)
    out = {name: beta_table(fp[a], fp[b]) for name, (a, b) in TABLES.items()}
    out["jump"] = lognormal_table(fp[R.JUMP_SIGMA], fp[R.JUMP_CAP])
    return {name: jnp.asarray(t, dtype=F) for name, t in out.items()}


def _draw(table, u):
    """A variate from one uniform through a quantile table (kernels/rng.py beta_quantile)."""
    x = u * (table.shape[0] - 1)
    cell = jnp.floor(x)
    k = cell.astype(jnp.int32)
    lo = table[k]
    return lo + (x - cell) * (table[k + 1] - lo)


QUARTERS_PER_YEAR = 4.0


def _attributes(key, fp, tables, n):
    """(a0, rd0, absorb, risk, layers, lock, size0) of n firms."""
    k = jax.random.split(key, 3)
    a0 = fp[R.A0_MEAN] + fp[R.A0_SD] * jax.random.normal(k[0], (n,), dtype=F)
    u = jax.random.uniform(k[1], (5, n), dtype=F, minval=1e-7, maxval=1 - 1e-7)
    rd0 = _draw(tables["rd0"], u[0])
    absorb = _draw(tables["absorb"], u[1])
    risk = _draw(tables["risk"], u[2])
    layers = jnp.floor(fp[R.LAYERS_MIN] + u[3] * (fp[R.LAYERS_MAX] - fp[R.LAYERS_MIN] + 1.0))
    lock = _draw(tables["lock"], u[4])
    size0 = jax.random.uniform(k[2], (n,), dtype=F, minval=1e-7) ** (-1.0 / fp[R.SIZE_ALPHA])
    return a0, rd0, absorb, risk, layers, lock, size0


def _fresh(p, a0, rd0, absorb, risk, layers, lock, share):
    """A firm state dict for the given attributes (the initial state of MODEL.md §4)."""
    zeros = jnp.zeros_like(a0)
    return {
        "tech": a0,
        "pipeline": zeros,
        "paradigm": zeros,
        "debt": zeros,
        "adoption": zeros,
        "x": zeros + p[R.X0],
        "data": zeros + p[R.DATA0],
        "talent": zeros + p[R.TALENT0],
        "capital": zeros + p[R.CAPITAL0],
        "gain": zeros,
        "rd": rd0,
        "share": share,
        "absorb": absorb,
        "risk": risk,
        "layers": layers,
        "lock": lock,
        "gate": jax.nn.sigmoid((risk - p[R.R_CRIT]) / p[R.GATE_WIDTH]),
        "lag": 1.0 / (1.0 + p[R.LAG_PER_LAYER] * layers),
    }


def _quarter(carry, key, p, fp, tables):
    st, q, trust, kappa, uf_mean = carry
    n = st["tech"].shape[0]
    keys = jax.random.split(key, 6)
    u = jax.random.uniform(keys[0], (4, n), dtype=F)
    mean_a = st["tech"].mean()
    frontier = st["tech"].max()
    net = st["x"].mean()
    q = q + (mean_a - q) / p[R.INST_LAG]
    gap = jnp.maximum(0.0, mean_a - q)
    damp = gap / (gap + p[R.G_HALF])
    trust = trust + p[R.ETA_PI] * (uf_mean - trust)
    sharing = p[R.DATA_SHARING] * (0.5 + trust)
    pool = sharing * st["data"].mean()
    patient = (
        p[R.H0]
        * (1 - jnp.exp(-QUARTERS_PER_YEAR * p[R.PATIENCE] / p[R.RETURN_Q]))
        * (1 - p[R.FLIGHT_SENSITIVITY] * (1 - kappa))
    )
    revenue_rd = st["rd"] * st["share"] * n

    waiting = st["pipeline"] > 0
    conv = waiting & (u[0] < p[R.LAMBDA0] * (1 + p[R.COOP]) * (1 - damp) * st["lag"])
    kappa = jnp.where(waiting, st["share"], 0).sum()
    kappa = jnp.where(kappa > 0, jnp.where(conv, st["share"], 0).sum() / kappa, 0.0)
    decay = jnp.where(waiting & ~conv, p[R.DELTA_P] * st["pipeline"], 0.0)
    adoption = st["adoption"] + jnp.where(
        conv, st["pipeline"] * (1 - st["lock"] * p[R.LOCK_W]), 0.0
    )
    talent = st["talent"] + p[R.PHI_FAIL] * decay
    debt = st["debt"] * (1 - 1 / p[R.Z_TAU]) + jnp.where(conv, p[R.Z_COST] * st["pipeline"], 0)
    pipeline = jnp.where(conv, 0.0, st["pipeline"] - decay)
    paradigm = jnp.where(conv, 1.0, st["paradigm"])

    p_d = (1 - jnp.exp(-p[R.OPPORTUNITY] * p[R.ZETA_D] * patient * revenue_rd)) * st["gate"]
    broke = u[1] < p_d
    # Truncated lognormal breakthrough size and Beta step through their quantile tables.
    u_draw = jax.random.uniform(keys[1], (2, n), dtype=F, minval=1e-7, maxval=1 - 1e-7)
    jump = _draw(tables["jump"], u_draw[0])
    pipeline = pipeline + jnp.where(broke, p[R.JUMP_SCALE] * jump, 0.0)
    p_c = 1 - jnp.exp(-p[R.INCREMENTAL] * p[R.ZETA_C] * (1 - patient) * revenue_rd)
    step = _draw(tables["step"], u_draw[1])
    cap = jnp.where(paradigm > 0, 0.0, jax.nn.sigmoid((st["tech"] - p[R.A_CAP]) / p[R.CAP_WIDTH]))
    gain = jnp.where(u[2] < p_c, p[R.INC_SCALE] * (1 - cap) * step, 0.0)
    gain += p[R.SPILLOVER] * st["absorb"] * st["x"] * jnp.maximum(0, frontier - st["tech"]) * u[3]
    adopt = adoption / p[R.ADOPTION_TAU]
    adoption = adoption - adopt
    gain = gain + adopt
    tech = st["tech"] + gain
    gain_s = p[R.SMOOTHING] * gain + (1 - p[R.SMOOTHING]) * st["gain"]

    activity = st["share"] * n * st["x"]
    data = st["data"] * (1 - p[R.DELTA_D]) + activity * (1 + p[R.NETWORK] * net) * p[R.FEEDBACK]
    talent = talent * (1 - p[R.TALENT_DECAY]) + p[R.TRAIN] * st["rd"]
    capital = st["capital"] * (1 - p[R.DELTA_K]) + patient * revenue_rd
    x = jnp.clip(st["x"] + p[R.NU] * (conv + p[R.SPILLOVER] * net) - p[R.DELTA_X] * st["x"], 0, 1)

    rd_div = jnp.maximum(st["rd"], p[R.RD_EPS])
    u_t = 1 - jnp.exp(-p[R.K_T] * gain_s / rd_div)
    u_f = jax.nn.sigmoid(
        p[R.W_D] * jnp.log1p(data + sharing * pool)
        + p[R.W_H] * talent
        + p[R.W_K] * capital
        - p[R.B_F]
    )
    u_i = x / (1 + debt)
    total = (u_t + u_f + u_i) / 3
    prod = u_t * u_f * u_i
    c = jnp.where(total > 0, jnp.minimum(1.0, jnp.cbrt(prod) / total), 0.0)
    u_max = jnp.maximum(u_t, jnp.maximum(u_f, u_i))
    spread = jnp.abs(u_t - u_f) + jnp.abs(u_t - u_i) + jnp.abs(u_f - u_i)
    c_star = jnp.where(
        u_max > 0,
        jnp.sqrt(jnp.maximum(0, 1 - spread / 3) * jnp.sqrt(prod / jnp.maximum(u_max, 1e-30) ** 3)),
        0.0,
    )
    d = jnp.sqrt(c * total)
    regime = (jnp.minimum(u_t, jnp.minimum(u_f, u_i)) >= p[R.THRESHOLD]).astype(F)
    e_trad = (gain_s - debt / p[R.Z_TAU]) / rd_div * (1 - damp)
    e = e_trad * (1 + p[R.RESONANCE] * d * regime)

    comp = jnp.maximum(
        0,
        jnp.exp(tech) / (1 + debt) * (1 + p[R.SHOCK_VOL] * jax.random.normal(keys[3], (n,), F)),
    )
    share = st["share"]
    mean_e = (share * e).sum()
    mean_c = (share * comp).sum()
    metrics = jnp.stack(
        [
            mean_e,
            (share * e_trad).sum(),
            u_t.mean(),
            u_f.mean(),
            u_i.mean(),
            c.mean(),
            d.mean(),
            c_star.mean(),
            jnp.sqrt(c_star * total).mean(),
            regime.mean(),
            paradigm.mean(),
            broke.mean(),
            kappa,
            gap,
            0.0,
            data.mean(),
        ]
    )
    rd = jnp.clip(st["rd"] + p[R.ETA_RE] * (e - mean_e) * st["rd"], p[R.RD_MIN], p[R.RD_MAX])
    share = jnp.where(mean_c > 0, share * (1 + p[R.CHI] * (comp - mean_c) / mean_c), share)
    share = share / share.sum()

    new = {
        **st,
        "tech": tech,
        "pipeline": pipeline,
        "paradigm": paradigm,
        "debt": debt,
        "adoption": adoption,
        "x": x,
        "data": data,
        "talent": talent,
        "capital": capital,
        "gain": gain_s,
        "rd": rd,
        "share": share,
    }
    exits = share < p[R.EXIT_SHARE] / n
    a0, rd0, ab, rk, ly, lk, _ = _attributes(keys[4], fp, tables, n)
    entrant = _fresh(
        p,
        jnp.full(n, mean_a - p[R.ENTRANT_GAP]),
        rd0,
        ab,
        rk,
        ly,
        lk,
        jnp.full(n, p[R.ENTRANT_SHARE] / n),
    )
    new = jax.tree_util.tree_map(lambda e_, o: jnp.where(exits, e_, o), entrant, new)
    new["share"] = new["share"] / new["share"].sum()
    metrics = metrics.at[R.M_TFP].set((new["share"] * jnp.exp(new["tech"])).sum())
    return (new, q, trust, kappa, u_f.mean()), metrics


def _scenario(key, p, fp, tables, n_firms, n_quarters):
    """Metrics (t, m) of one scenario and path; tfp relative to its start."""
    k_attr, k_run = jax.random.split(key)
    a0, rd0, ab, rk, ly, lk, size = _attributes(k_attr, fp, tables, n_firms)
    st = _fresh(p, a0, rd0, ab, rk, ly, lk, size / size.sum())
    tfp0 = (st["share"] * jnp.exp(st["tech"])).sum()
    carry = (st, a0.mean(), p[R.PI0], F(0.0), p[R.PI0])
    _, metrics = lax.scan(
        lambda c, k: _quarter(c, k, p, fp, tables), carry, jax.random.split(k_run, n_quarters)
    )
    return metrics.at[:, R.M_TFP].divide(tfp0)


@functools.lru_cache(maxsize=8)
def simulator(n_firms: int, n_quarters: int):
    """jit(vmap over scenarios) of one path: (keys (s, 2), params (s, k), fp, tables) ->
    (s, t, m)."""
    one = lambda key, p, fp, tables: _scenario(key, p, fp, tables, n_firms, n_quarters)  # noqa: E731
    return jax.jit(jax.vmap(one, in_axes=(0, 0, None, None)))


def simulate(params, firm_params, seed, n_firms, n_quarters):
    """Outcomes (scenario, path, quarter, metric) as numpy, every path on the same keys."""
    run = simulator(n_firms, n_quarters)
    keys = jax.random.split(jax.random.PRNGKey(seed % 2**32), params.shape[0])
    fp = jnp.asarray(firm_params, dtype=F)
    tables = tables_of(firm_params)
    outs = [
        run(keys, jnp.asarray(params[:, path], dtype=F), fp, tables)
        for path in range(params.shape[1])
    ]
    return np.stack([np.asarray(o) for o in outs], axis=1)


def firm_steps_per_s(config, params, ids, n_firms, n_quarters, repeats=3) -> float:
    """Median throughput after one compiling call."""
    simulate(params, config.firm_vector, config.seed, n_firms, n_quarters)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = simulate(params, config.firm_vector, config.seed, n_firms, n_quarters)
        times.append(time.perf_counter() - start)
    assert np.isfinite(out).all()
    return params.shape[0] * params.shape[1] * n_firms * n_quarters / float(np.median(times))
