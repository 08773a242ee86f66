"""The one registry of names the core and everything around it share.

Order matters: the position of a name in ``PARAMETERS`` is its column in the kernel's
parameter array, the position in ``METRICS`` its column in the outcome array, and so on.
The integer constants below are unpacked from the same tuples, so the two cannot drift;
``tests/kernels/test_registry.py`` checks each constant against its name.

This module is plain Python data: the kernels read the constants at compile time, ``flows``
reads the descriptions to build the store's attributes and the docs.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Entry(NamedTuple):
    """One named quantity: a parameter, a firm attribute or an outcome metric."""

    name: str
    units: str
    long_name: str
    description: str
    bounds: tuple[float, float] = (-math.inf, math.inf)  # closed interval of valid values


INF = math.inf


def E(name, units, *rest):  # noqa: N802 - short constructor keeps the tables one line each
    """Entry(name, units, [bounds,] long_name, description)."""
    if isinstance(rest[0], tuple):
        bounds, long_name, description = rest
        return Entry(name, units, long_name, description, bounds)
    long_name, description = rest
    return Entry(name, units, long_name, description)


# --------------------------------------------------------------------------------------
# Model parameters (MODEL.md §3 and §4). Every one is a column of params[s, p, :].
# A config fixes each one (``parameters:``) or gives it a distribution (``uncertain:``);
# the registry does not say which.
# --------------------------------------------------------------------------------------
_PARAMETERS = (
    E("opportunity", "1", (0.0, INF), "technological opportunity",
      "Base hazard multiplier of disruptive breakthroughs (S0 §3.1)."),
    E("incremental", "1", (0.0, INF), "incremental opportunity",
      "Base hazard multiplier of incremental innovation (S0 §3.1)."),
    E("shock_vol", "1", (0.0, 0.5), "shock volatility",
      "Standard deviation of the quarterly transitory productivity shock ε of a one-line "
      "firm (divided by sqrt(lines)); in a quarter with a product event the same shock moves "
      "its demand (demand_vol)."),
    E("data_sharing", "1", (0.0, 1.0), "data-sharing rate",
      "Baseline share of private data that enters the shared pool (S0 §4.2 (1))."),
    E("patience", "years", (0.0, INF), "capital patience",
      "Investment horizon of capital funding R&D (S0 §4.2 (3))."),
    E("inst_lag", "quarters", (1.0, INF), "institutional lag",
      "Time institutions take to adjust to the technology level (S0 §4.3 (3))."),
    E("talent_decay", "1/quarter", (0.0, 1.0), "talent depreciation",
      "Quarterly depreciation of talent knowledge (S0 §4.2 (2))."),
    E("spillover", "1", (0.0, 1.0), "knowledge spillover",
      "Strength of imitation of the frontier and of the network pull (S2 §3.2.2)."),
    E("network", "1", (0.0, INF), "network effect",
      "Strength of the data-network-activity loop (S2 §3.3.2)."),
    E("threshold", "1", (0.0, 1.0), "new-quality threshold",
      "Critical value every efficiency dimension must reach for the new-quality regime (S0 "
      "§1.2.2)."),
    E("g_half", "log tech", (1e-09, INF), "damper half gap",
      "Institutional gap at which the damper halves conversion and efficiency."),
    E("eta_pi", "1/quarter", (0.0, 1.0), "trust adjustment rate",
      "Speed at which policy trust follows mean factor efficiency (S0 §4.4)."),
    E("pi0", "1", (0.0, 1.0), "initial policy trust", "Policy trust at t = 0."),
    E("h0", "1", (0.0, 1.0), "patient share ceiling",
      "Largest share of R&D going to disruptive (hard-technology) projects."),
    E("return_q", "quarters", (1e-09, INF), "hard-technology payback time",
      "Quarters a hard-technology project needs to pay back (S0 §4.2 (3))."),
    E("flight_sensitivity", "1", (0.0, 1.0), "capital-flight sensitivity",
      "How strongly low conversion drives capital away from hard technology (S0 §4.4)."),
    E("r_crit", "1", (-1.0, 2.0), "critical risk tolerance",
      "Risk tolerance below which breakthroughs collapse (S0 §4.1 (3))."),
    E("gate_width", "1", (1e-09, INF), "risk gate width", "Width of the logistic risk gate."),
    E("zeta_d", "1", (0.0, INF), "disruptive productivity",
      "Breakthrough hazard per unit of disruptive R&D relative to mean revenue."),
    E("jump_scale", "log tech", (0.0, INF), "breakthrough size scale",
      "Scale of a breakthrough's size in log-technology units."),
    E("zeta_c", "1", (0.0, INF), "incremental productivity",
      "Incremental-innovation hazard per unit of incremental R&D relative to mean revenue."),
    E("inc_scale", "log tech", (0.0, INF), "incremental step scale",
      "Scale of an incremental step in log-technology units."),
    E("a_cap", "log tech", (-20.0, 20.0), "old-track ceiling",
      "Technology level at which the traditional track saturates (S0 §4.1 (1))."),
    E("cap_width", "log tech", (1e-09, INF), "old-track saturation width",
      "Width of the logistic saturation of the traditional track."),
    E("lambda0", "1/quarter", (0.0, INF), "base conversion rate",
      "Quarterly conversion hazard of a pipeline for a flat, undamped firm (S0 §4.1 (2))."),
    E("coop", "1", (0.0, INF), "cooperation lever",
      "Industry-university-research cooperation raising conversion (S0 §5.4)."),
    E("lag_per_layer", "1", (0.0, INF), "decision lag per layer",
      "Extra conversion lag each decision layer adds (S0 §4.3 (1))."),
    E("lock_w", "1", (0.0, 1.0), "lock-in weight",
      "Share of a conversion's value lost to sunk-cost lock-in (S0 §4.1 (1))."),
    E("z_cost", "1", (0.0, INF), "transition cost",
      "Transition debt per unit of converted pipeline (S0 §2.4 (1))."),
    E("z_tau", "quarters", (1.0, INF), "transition-debt time",
      "Time constant at which transition debt is paid off."),
    E("delta_p", "1/quarter", (0.0, 1.0), "pipeline decay",
      "Quarterly decay of an unconverted pipeline (valley of death)."),
    E("phi_fail", "1", (0.0, 1.0), "failure learning",
      "Share of a decaying pipeline that returns as talent (fault-tolerant culture)."),
    E("adoption_tau", "quarters", (1.0, INF), "adoption time",
      "Time constant at which a converted technology is absorbed into the technology level "
      "(docs/model.md, deviation 1)."),
    E("delta_d", "1/quarter", (0.0, 1.0), "data depreciation",
      "Quarterly depreciation of firm data."),
    E("feedback", "1", (0.0, INF), "data feedback",
      "Data produced per unit of activity (S2 §3.3.2)."),
    E("train", "1", (0.0, INF), "talent training", "Talent built per unit of R&D intensity."),
    E("delta_k", "1/quarter", (0.0, 1.0), "capital depreciation",
      "Quarterly depreciation of patient capital."),
    E("nu", "1", (0.0, INF), "integration speed",
      "Speed of industrial integration (scene opening)."),
    E("delta_x", "1/quarter", (0.0, 1.0), "integration decay", "Quarterly decay of integration."),
    E("x0", "1", (0.0, 1.0), "initial integration", "Integration X at t = 0 and for entrants."),
    E("data0", "1", (0.0, INF), "initial data", "Data stock Dd at t = 0 and for entrants."),
    E("talent0", "1", (0.0, INF), "initial talent", "Talent H at t = 0 and for entrants."),
    E("capital0", "1", (0.0, INF), "initial capital",
      "Patient capital K at t = 0 and for entrants."),
    E("smoothing", "1", (1e-09, 1.0), "gain smoothing",
      "Weight of the newest quarter in the smoothed technology gain."),
    E("k_t", "1", (0.0, INF), "technology-efficiency gain",
      "Slope of U_T in gain per R&D intensity."),
    E("w_d", "1", (0.0, INF), "data weight", "Weight of usable data in U_F (algorithm leverage)."),
    E("w_h", "1", (0.0, INF), "talent weight", "Weight of talent in U_F."),
    E("w_k", "1", (0.0, INF), "capital weight", "Weight of patient capital in U_F."),
    E("b_f", "1", (-50.0, 50.0), "factor bias", "Offset of the factor-allocation logistic."),
    E("resonance", "1", (0.0, INF), "resonance multiplier",
      "Premium of full coordination in the new-quality regime on the reinvestment signal: "
      "a firm whose every dimension clears the threshold draws R&D in proportion to "
      "(1 + resonance D) (S0 §2 intro, §2.3); not part of reported efficiency."),
    E("rd_eps", "1", (1e-06, 1.0), "R&D floor of U_T",
      "Smallest R&D intensity used as the divisor of technology efficiency U_T."),
    E("eta_re", "1", (0.0, 1.0), "reinvestment rate",
      "Response of R&D intensity to relative efficiency (positive loop)."),
    E("rd_min", "1", (1e-06, 1.0), "lowest R&D intensity", "Lower clip of R&D intensity."),
    E("rd_max", "1", (1e-06, 1.0), "highest R&D intensity", "Upper clip of R&D intensity."),
    E("chi", "1", (0.0, 1.0), "selection strength", "Replicator speed of market-share selection."),
    E("exit_share", "1", (0.0, 1.0), "exit share",
      "A firm exits when its share falls below exit_share / N."),
    E("exit_hazard", "1/quarter", (0.0, 0.5), "exogenous exit hazard",
      "Quarterly probability that a firm of average size exits for reasons outside the "
      "model (a firm of share s exits with 2 exit_hazard / (1 + N s)); docs/model.md, "
      "deviation 11."),
    E("entrant_gap", "log tech", (0.0, INF), "entrant technology gap",
      "An entrant starts this far below mean technology."),
    E("entrant_share", "1", (1e-06, 1.0), "entrant share",
      "An entrant starts with share entrant_share / N."),
    E("prod_rho", "1", (0.0, 0.999), "productivity persistence",
      "Quarterly AR(1) coefficient of a firm's idiosyncratic productivity (docs/model.md, "
      "deviation 8)."),
    E("prod_sd", "log TFP", (0.0, 2.0), "idiosyncratic productivity sd",
      "Stationary standard deviation of a one-line firm's idiosyncratic log productivity (a "
      "firm of L product lines: prod_sd / sqrt(L)); founders and entrants draw theirs from "
      "the stationary law at their size."),
    # The outside world of S4 (MODEL.md §9; docs/model.md, "The third seed").
    E("world_growth", "log tech/quarter", (0.0, 0.1), "world frontier growth",
      "Quarterly growth of the world technology frontier F_w (S4 §5.1)."),
    E("world_gap", "log tech", (0.0, 5.0), "world frontier lead",
      "Lead of F_w over the domestic frontier (the best founder) at t = 0 (S4 §5.1)."),
    E("world_learning", "1", (0.0, 1.0), "learning from the world",
      "κ_w: share of a fully open, fully absorptive firm's gap to F_w it can close in a "
      "quarter at most (S4 §5.1, §6.3)."),
    E("openness", "1", (0.0, 1.0), "openness",
      "International cooperation and exchange: how much of the world frontier's pull "
      "reaches domestic firms (S4 §5.1, §6.3); a chokepoint lowers it by its severity."),
    E("choke_prob", "1", (0.0, 1.0), "chokepoint probability",
      "Probability that a key-technology chokepoint strikes within the horizon (S4 §5.2); "
      "a world event, the same on every path."),
    E("choke_severity", "1", (0.0, 0.9), "chokepoint severity",
      "s_c: share by which openness drops when the chokepoint strikes, and the share of "
      "efficiency a fully dependent firm loses at entry, until its substitution R&D wins it "
      "back (S4 §5.2); a world event, the same on every path."),
    E("dependence", "1", (0.0, INF), "dependence on foreign key technology",
      "Multiplier of every firm's dependence dep_i at its founding or entry (S4 §5.2): a "
      "firm's share at risk starts at min(1, dependence dep_i) and shrinks only with its "
      "substitution effort."),
    E("talent_star", "1", (1e-09, INF), "high-end talent need",
      "H*: talent at which the disruptive hazard is no longer held back by the high-end "
      "talent gap, φ_H min(1, H / H*) with φ_H the fill of the scenario's talent pool "
      "(talent_pool; S4 §5.2)."),
    E("synergy", "1", (0.0, INF), "cross-field synergy",
      "σ_syn: the disruptive hazard is multiplied by 1 + σ_syn x last quarter's industry "
      "breakthrough rate (S4 §3.2)."),
    E("conversion_ceiling", "1/quarter", (1e-09, INF), "conversion hazard ceiling",
      "λ_max: the undelayed conversion hazard λ0 (1 + coop)(1 - damp) saturates at it, "
      "λ_max (1 - exp(-λ / λ_max)): crossing the valley of death takes time however much "
      "support it gets (1/quarter: a 90-day minimum viable product, S0 §5.3); MODEL.md §10."),
    # The seeds' mechanisms closed (MODEL.md §11; docs/model.md §3b).
    E("data_lift", "1", (0.0, 5.0), "data productivity of innovation",
      "θ_D: an incremental step is (1 + θ_D w_D ln(1 + E_D)) times as large, with E_D the "
      "firm's usable data and w_D its leverage: data lowers the cost of innovation (S0 §2.3 "
      "(2), §3.2), so the §4.4 loop runs through technology."),
    E("data_integration", "1/quarter", (0.0, 1.0), "data pull on integration",
      "ν_D: usable data pulls a firm's integration X up by ν_D ln(1 + E_D) (1 - X) a quarter, "
      "closing S2's data-network-activity loop (S2 §3.3): activity feeds data, data the "
      "network, the network activity."),
    E("rd_burden", "1", (0.0, 1.0), "short-run burden of R&D",
      "Share of R&D spending that comes out of the firm's competitiveness in the quarter it "
      "is spent, c_i x (1 - rd_burden rd_i): R&D is paid for (as in K+S models), so more R&D "
      "has a price in market share."),
    E("substitution", "1", (0.0, 0.9), "substitution effort",
      "σ_s: share of every firm's R&D aimed at substituting the foreign key technology "
      "(S4 §5.2, §7.3); it is not available to incremental or disruptive work."),
    E("substitution_rate", "1", (0.0, INF), "substitution productivity",
      "κ_s: a firm's exposure to the chokepoint (its log loss) shrinks by the share "
      "min(1, κ_s σ_s RD_i / R̄) a quarter; only this effort loosens the binding."),
    E("talent_pool", "1", (1e-09, INF), "high-end talent pool",
      "P_H: the scenario's pool of high-end talent, in units of the industry's disruptive R&D "
      "intensity it can staff; every firm draws on it, and the talent gap of the disruptive "
      "hazard is scaled by the pool's fill 1 - exp(-P_H / (h rd̄)) (S0 §4.2 (2), S4 §5.2)."),
    E("line_size", "1", (1e-06, INF), "product-line size",
      "Size of one product line relative to the average firm: a firm of share s runs "
      "1 + N s / line_size independent lines, and its idiosyncratic productivity shocks are "
      "their mean (Amaral et al. 1998; Sutton 2002): large firms grow less erratically."),
    E("demand_vol", "1", (0.0, 1.0), "product-event size",
      "σ_D: in a quarter when a firm launches or loses a product (probability demand_events) "
      "the quarter's shock z moves its demand: its share is multiplied by "
      "max(0.05, 1 + σ_D z / sqrt(lines)) before renormalisation (docs/model.md §3b)."),
    E("demand_events", "1/quarter", (0.0, 1.0), "product-event rate",
      "π_D: probability that a firm's demand moves by a product event in a quarter; rare "
      "events make growth rates fat-tailed (Bottazzi & Secchi 2006)."),
)

PARAMETERS: tuple[str, ...] = tuple(e.name for e in _PARAMETERS)
PARAMETER_INFO: dict[str, Entry] = {e.name: e for e in _PARAMETERS}

(
    OPPORTUNITY, INCREMENTAL, SHOCK_VOL, DATA_SHARING, PATIENCE, INST_LAG, TALENT_DECAY,
    SPILLOVER, NETWORK, THRESHOLD, G_HALF, ETA_PI, PI0, H0, RETURN_Q, FLIGHT_SENSITIVITY,
    R_CRIT, GATE_WIDTH, ZETA_D, JUMP_SCALE, ZETA_C, INC_SCALE, A_CAP, CAP_WIDTH, LAMBDA0,
    COOP, LAG_PER_LAYER, LOCK_W, Z_COST, Z_TAU, DELTA_P, PHI_FAIL, ADOPTION_TAU, DELTA_D,
    FEEDBACK, TRAIN, DELTA_K, NU, DELTA_X, X0, DATA0, TALENT0, CAPITAL0, SMOOTHING, K_T,
    W_D, W_H, W_K, B_F, RESONANCE, RD_EPS, ETA_RE, RD_MIN, RD_MAX, CHI, EXIT_SHARE,
    EXIT_HAZARD, ENTRANT_GAP, ENTRANT_SHARE, PROD_RHO, PROD_SD, WORLD_GROWTH, WORLD_GAP,
    WORLD_LEARNING, OPENNESS, CHOKE_PROB, CHOKE_SEVERITY, DEPENDENCE, TALENT_STAR, SYNERGY,
    CONVERSION_CEILING, DATA_LIFT, DATA_INTEGRATION, RD_BURDEN, SUBSTITUTION,
    SUBSTITUTION_RATE, TALENT_POOL, LINE_SIZE, DEMAND_VOL, DEMAND_EVENTS,
) = range(len(PARAMETERS))
N_PARAMETERS = len(PARAMETERS)
# The policy cost coefficients of a path (MODEL.md §10; flows/costs.py computes them from
# the costs file and the path's lever changes): columns N_PARAMETERS.. of the kernel's
# parameter vector, after the model's parameters. Each is a share of the industry's R&D
# spending per year, paid flat or per unit of an activity the kernel tracks (ACTIVITIES);
# a path without levers has all four exactly 0, and so a policy_cost of exactly 0.
ACTIVITIES: tuple[str, ...] = ("rd_spending", "failures", "conversions")
COST_COEFFICIENTS: tuple[str, ...] = ("cost_flat", *(f"cost_per_{a}" for a in ACTIVITIES))
COST_FLAT, COST_RD_SPENDING, COST_FAILURES, COST_CONVERSIONS = range(
    N_PARAMETERS, N_PARAMETERS + len(COST_COEFFICIENTS)
)
N_INPUTS = N_PARAMETERS + len(COST_COEFFICIENTS)  # length of the kernel's parameter vector
# Parameters of the world's events: every path of a scenario must see the same event
# (common random numbers), so a path file may not lever them (flows/paths.py).
WORLD_EVENT: tuple[str, ...] = ("choke_prob", "choke_severity")


# --------------------------------------------------------------------------------------
# Firm attribute distributions (MODEL.md §2) and the shapes of the jump draws. Drawn once
# per firm-scenario draw and shared by every path (common random numbers), so they are a
# separate vector that paths cannot lever. Beta shapes are integers (see kernels/rng.py).
# --------------------------------------------------------------------------------------
_FIRM = (
    E("a0_mean", "log tech", (-20.0, 20.0), "initial technology mean", "Mean of a0 ~ Normal."),
    E("a0_sd", "log tech", (0.0, 5.0), "initial technology sd",
      "Standard deviation of a0 ~ Normal."),
    E("rd0_a", "1", (1.0, 64.0), "R&D intensity shape a", "rd0 ~ Beta(a, b)."),
    E("rd0_b", "1", (1.0, 64.0), "R&D intensity shape b", "rd0 ~ Beta(a, b)."),
    E("absorb_a", "1", (1.0, 64.0), "absorptive capacity shape a", "absorb ~ Beta(a, b)."),
    E("absorb_b", "1", (1.0, 64.0), "absorptive capacity shape b", "absorb ~ Beta(a, b)."),
    E("risk_a", "1", (1.0, 64.0), "risk tolerance shape a", "risk ~ Beta(a, b)."),
    E("risk_b", "1", (1.0, 64.0), "risk tolerance shape b", "risk ~ Beta(a, b)."),
    E("layers_min", "1", (1.0, 100.0), "fewest decision layers", "layers ~ integer uniform."),
    E("layers_max", "1", (1.0, 100.0), "most decision layers", "layers ~ integer uniform."),
    E("lock_a", "1", (1.0, 64.0), "lock-in shape a", "lock ~ Beta(a, b)."),
    E("lock_b", "1", (1.0, 64.0), "lock-in shape b", "lock ~ Beta(a, b)."),
    E("size_alpha", "1", (1.01, 20.0), "founder size exponent",
      "size0 ~ Pareto(size_alpha) on [1, inf), normalised to shares (docs/model.md, "
      "deviation 10)."),
    E("jump_sigma", "1", (0.0, 4.0), "breakthrough size log-sd",
      "J / jump_scale ~ Lognormal(-sigma^2 / 2, sigma), truncated above at jump_cap."),
    E("jump_cap", "1", (1.0, 1e4), "largest breakthrough",
      "Upper truncation of J / jump_scale: the largest breakthrough, in multiples of the "
      "untruncated mean."),
    E("step_a", "1", (1.0, 64.0), "incremental step shape a", "step ~ Beta(a, b) * inc_scale."),
    E("step_b", "1", (1.0, 64.0), "incremental step shape b", "step ~ Beta(a, b) * inc_scale."),
    E("dep_a", "1", (1.0, 64.0), "key-technology dependence shape a",
      "dep ~ Beta(a, b): a firm's dependence on foreign key technology (S4 §5.2)."),
    E("dep_b", "1", (1.0, 64.0), "key-technology dependence shape b", "dep ~ Beta(a, b)."),
    E("age_mean", "years", (0.0, 100.0), "founders' mean age",
      "A founding firm's age at t = 0 ~ Exponential(mean age_mean); entrants start at 0."),
)
FIRM_PARAMETERS: tuple[str, ...] = tuple(e.name for e in _FIRM)
FIRM_INFO: dict[str, Entry] = {e.name: e for e in _FIRM}
(
    A0_MEAN, A0_SD, RD0_A, RD0_B, ABSORB_A, ABSORB_B, RISK_A, RISK_B, LAYERS_MIN,
    LAYERS_MAX, LOCK_A, LOCK_B, SIZE_ALPHA, JUMP_SIGMA, JUMP_CAP, STEP_A, STEP_B, DEP_A,
    DEP_B, AGE_MEAN,
) = range(len(FIRM_PARAMETERS))
N_FIRM_PARAMETERS = len(FIRM_PARAMETERS)


# --------------------------------------------------------------------------------------
# Firm state, structure of arrays: state[v, i] for state variable v of firm i.
# --------------------------------------------------------------------------------------
STATE = (
    "tech_level",  # A, log technology level
    "pipeline",  # P, breakthroughs waiting to cross the valley of death
    "paradigm",  # g, 1 once the firm is on the new paradigm
    "transition_debt",  # Z, breaking-paradox debt
    "adoption",  # W, converted technology not yet absorbed into A
    "integration",  # X, industrial integration in [0, 1]
    "data",  # Dd, private data stock
    "talent",  # H, talent knowledge
    "capital",  # K, patient capital
    "gain",  # ΔA, smoothed quarterly gain of A
    "rd",  # rd, R&D intensity
    "share",  # market share, sums to 1
    "absorb",  # absorptive capacity (attribute, renewed on entry)
    "risk",  # risk tolerance (attribute)
    "layers",  # decision layers (attribute)
    "lock",  # sunk-cost lock-in (attribute)
    "efficiency",  # the reinvestment signal of the last quarter (own return on R&D, step.py)
    "converted",  # 1 if the firm converted in the last quarter
    "broke_through",  # 1 if the firm had a breakthrough in the last quarter
    "competitiveness",  # c_i of the last quarter, for selection
    "risk_gate",  # L((risk - r_crit) / gate_width): fixed per firm and path, cached
    "conversion_lag",  # 1 / (1 + lag_per_layer * layers): fixed per firm and path, cached
    "entered",  # 1 once an entrant took the slot; cleared by whoever records it (snapshots)
    "productivity",  # ω, idiosyncratic log productivity, AR(1) (docs/model.md, deviation 8)
    "log_tfp",  # A + ω + ε + log(1 - loss): the firm's log TFP this quarter (ε the shock)
    "bound",  # 1 once a struck chokepoint binds the firm (for the rest of its life)
    # Share of efficiency a bound firm keeps, 1 - s_c min(1, dependence dep) at entry (dep:
    # its dependence on foreign key technology, S4 §5.2; s_c the scenario's severity), and
    # its log; the log shrinks toward 0 with the firm's substitution effort (step.py).
    "chokepoint_keep",
    "chokepoint_log_keep",
    "born",  # quarter the firm entered (founders: minus their age at t = 0, in quarters)
)
(
    TECH, PIPELINE, PARADIGM, DEBT, ADOPTION, INTEGRATION, DATA, TALENT, CAPITAL, GAIN, RD,
    SHARE, ABSORB, RISK, LAYERS, LOCK, EFFICIENCY, CONVERTED, BROKE_THROUGH,
    COMPETITIVENESS, RISK_GATE, CONVERSION_LAG, ENTERED, PRODUCTIVITY, LOG_TFP, BOUND, KEEP,
    LOG_KEEP, BORN,
) = range(len(STATE))
N_STATE = len(STATE)


# --------------------------------------------------------------------------------------
# Firm snapshots (the store's ``firms`` group): snap[s, p, y, v, i], every firm at the end
# of every year, for the first K scenarios of a run (sizes.firm_snapshots).
# --------------------------------------------------------------------------------------
_SNAPSHOT = (
    E("log_tfp", "log TFP", "firm log TFP",
      "The firm's log TFP at the end of the year: its technology level A plus its "
      "idiosyncratic productivity (persistent and transitory)."),
    E("market_share", "1", "market share", "The firm's market share at the end of the year."),
    E("rd_intensity", "1", "R&D intensity",
      "The firm's R&D spending over its revenue at the end of the year."),
    E("new_paradigm", "1", "on the new paradigm",
      "1 once the firm has converted a breakthrough (new paradigm), else 0."),
    E("entered", "1", "entrant",
      "1 where an entrant took the slot during the year (the previous firm exited), else 0."),
    E("breakthrough_value", "log tech", "breakthrough value",
      "Sum of the sizes of the firm's disruptive breakthroughs during the year (log-technology "
      "units added to its pipeline), 0 without one."),
    E("age", "years", "firm age",
      "Years since the firm took its slot, at the end of the year (founders start with an "
      "age drawn at t = 0; an entrant of this year is younger than 1)."),
)
SNAPSHOT: tuple[str, ...] = tuple(e.name for e in _SNAPSHOT)
SNAPSHOT_INFO: dict[str, Entry] = {e.name: e for e in _SNAPSHOT}
(
    S_LOG_TFP, S_SHARE, S_RD, S_PARADIGM, S_ENTERED, S_BREAKTHROUGH, S_AGE,
) = range(len(SNAPSHOT))
N_SNAPSHOT = len(SNAPSHOT)


# --------------------------------------------------------------------------------------
# Outcome metrics (MODEL.md §6): out[s, p, t, m], one value per scenario, path, quarter.
# --------------------------------------------------------------------------------------
_METRICS = (
    E("innovation_efficiency", "1/year", "innovation efficiency",
      "Net technology gain per year (log-technology points: the smoothed gain of the firms' "
      "technology less their transition-debt service and the chokepoint's loss, "
      "share-weighted) per unit of the industry's R&D intensity before the first quarter "
      "(the same on every path). 0.35 means: each percent of revenue the industry spent on "
      "R&D at the start buys 0.35 % of technology a year. No premium, damper or per-firm "
      "floor: a path raises it only by raising technology (docs/model.md §3)."),
    E("tech_efficiency", "1", "technological-revolution efficiency",
      "Mean of U_T over firms (S0 §1.2.2 (1))."),
    E("factor_efficiency", "1", "factor-allocation efficiency",
      "Mean of U_F over firms (S0 §1.2.2 (2))."),
    E("industry_efficiency", "1", "industrial-transition efficiency",
      "Mean of U_I over firms (S0 §1.2.2 (3))."),
    E("coupling", "1", "coupling degree", "Mean of the standard coupling degree C."),
    E("coordination", "1", "coupling coordination degree",
      "Mean of the coupling coordination degree D = sqrt(C * T)."),
    E("coupling_corrected", "1", "corrected coupling degree",
      "Mean of the corrected coupling degree C* of Wang et al. (2021)."),
    E("coordination_corrected", "1", "corrected coupling coordination degree",
      "Mean of D* = sqrt(C* * T)."),
    E("new_quality_share", "1", "new-quality share",
      "Share of firms whose every efficiency dimension clears the threshold."),
    E("new_paradigm_share", "1", "new-paradigm share",
      "Share of firms that have converted a breakthrough (on the new paradigm)."),
    E("breakthrough_rate", "1/quarter", "breakthrough rate",
      "Share of firms with a disruptive breakthrough in the quarter."),
    E("conversion_rate", "1/quarter", "conversion rate",
      "Share-weighted share of pipelines that converted in the quarter."),
    E("institutional_gap", "log tech", "institutional gap",
      "System distance G between technology and institutions (S0 §2.4 (2))."),
    E("tfp", "1", "total factor productivity",
      "Share-weighted mean of firm TFP exp(A + idiosyncratic productivity), relative to its "
      "value before the first quarter."),
    E("data_stock", "1", "mean data stock", "Mean private data stock Dd over firms."),
    E("chokepoint_loss", "1", "efficiency lost to the chokepoint",
      "Share-weighted mean share of efficiency (and of TFP) lost to the key-technology "
      "chokepoint over the firms it binds (S4 §5.2): s_c min(1, dependence dep_i) at a firm's "
      "entry, less what its substitution effort has won back since; 0 before it strikes and "
      "in scenarios where it does not."),
    E("policy_cost", "1/year", "policy cost",
      "Public cost of the path's levers per year, as a share of the industry's R&D spending "
      "(0.10 = a tenth of what the firms spend on R&D): flat costs plus costs paid per unit "
      "of R&D spending, failures and conversions (configs/costs.yaml; MODEL.md §10). "
      "Exactly 0 on a path without levers."),
)
METRICS: tuple[str, ...] = tuple(e.name for e in _METRICS)
METRIC_INFO: dict[str, Entry] = {e.name: e for e in _METRICS}
(
    M_EFFICIENCY, M_TECH, M_FACTOR, M_INDUSTRY, M_COUPLING, M_COORDINATION,
    M_COUPLING_CORR, M_COORDINATION_CORR, M_NEW_QUALITY, M_NEW_PARADIGM, M_BREAKTHROUGH,
    M_CONVERSION, M_GAP, M_TFP, M_DATA, M_CHOKE_LOSS, M_POLICY_COST,
) = range(len(METRICS))
N_METRICS = len(METRICS)
