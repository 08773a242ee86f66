"""Estimators of the facts that no single parameter sets (MODEL.md §11): the firm panel's
size-variance scaling, up or out, the return to R&D, the size of entrants and net entry's
share of productivity growth.

Each takes the snapshots' arrays (s, p, y, i) and returns one float64 value per scenario
and path (s, p), NaN where the sample cannot measure the fact. ``facts.py`` holds the
registry of facts (ranges, sources) and calls these.

Conventions shared with ``facts.py``: a slot whose ``entered`` is 1 in year y was taken by
an entrant during year y, so its previous occupant exited in year y and the pair (y - 1, y)
is not one firm's; continuing firms are the slots with ``entered`` 0 in the later year.

Dim letters: s = scenarios, p = paths, y = years, i = firms (slots), n = firm-years.
"""

from __future__ import annotations

import numpy as np

SIZE_BINS = 10  # size-variance: equal-count bins (deciles) of log size
MIN_PER_BIN = 20  # fewer continuing firm-years per bin and the sd is too noisy: NaN
YOUNG_AGE = 2.0  # years: up or out compares firms aged <= 2 with older ones
MIN_PANEL_ROWS = 30  # return to R&D: fewer continuing firm-years and it is not measured


def size_variance(share: np.ndarray, entered: np.ndarray) -> np.ndarray:
    """β of sd(annual log growth) ∝ size^-β: share, entered (s, p, y, i) -> float64 (s, p).

    Size is the market share at the start of each consecutive-year pair, growth the log
    share change of continuing firms with a positive share in both years, demeaned per
    year pair (the shares' normalisation moves every firm alike). Firm-years are pooled
    over the year pairs of one scenario and path and cut into SIZE_BINS bins of equal count
    at the quantiles of log size: equal counts give every bin's sd the same precision,
    whereas equal widths in log size would leave the few largest firms, where the tail is
    thin, in bins of a handful. β is minus the OLS slope of log sd (ddof 1) on the bins' mean
    log size. NaN when a bin would hold fewer than MIN_PER_BIN firm-years or a bin's growth
    has no spread.
    """
    s, p = share.shape[:2]
    before, after = share[:, :, :-1], share[:, :, 1:]
    mask = (entered[:, :, 1:] == 0) & (before > 0) & (after > 0)  # (s, p, y - 1, i)
    log_size = np.log(np.where(mask, before, 1.0))  # 0 outside the mask, never log 0
    growth = np.where(mask, np.log(np.where(mask, after, 1.0)) - log_size, 0.0)
    count = np.maximum(mask.sum(axis=-1, keepdims=True), 1)
    growth = np.where(mask, growth - growth.sum(axis=-1, keepdims=True) / count, 0.0)
    out = np.full((s, p), np.nan)
    for j in range(s):
        for q in range(p):
            keep = mask[j, q]
            out[j, q] = _size_variance_slope(log_size[j, q][keep], growth[j, q][keep])
    return out


def _size_variance_slope(log_size: np.ndarray, growth: np.ndarray) -> float:
    """-slope of log sd(growth) on mean log size over equal-count size bins: (n,), (n,)."""
    n = log_size.size
    if n < SIZE_BINS * MIN_PER_BIN:
        return np.nan
    order = np.argsort(log_size, kind="stable")
    bins = np.array_split(order, SIZE_BINS)  # equal counts (deciles of log size)
    mean_size = np.array([log_size[b].mean() for b in bins])
    sd = np.array([growth[b].std(ddof=1) for b in bins])
    if not (sd > 0).all() or np.ptp(mean_size) == 0:
        return np.nan
    slope = np.polyfit(mean_size, np.log(sd), 1)[0]
    return float(-slope)


def up_or_out(entered: np.ndarray, age: np.ndarray | None) -> np.ndarray:
    """Exit rate of firms aged <= YOUNG_AGE years over the exit rate of older firms:
    entered, age (s, p, y, i) -> float64 (s, p); age in years at each year's end.

    The occupant of a slot exits in year y when the slot is ``entered`` in year y; its age
    is the slot's age at year y - 1's snapshot. Firm-years are pooled over years 2..Y of
    one scenario and path. NaN where the ratio has an empty cell: no young or no older
    firms, or no exits among either (a ratio of 0 or infinity out of a handful of firms is
    not a measurement), and everywhere when ``age`` is None (stores from before the
    snapshots carried it).
    """
    s, p = entered.shape[:2]
    if age is None:
        return np.full((s, p), np.nan)
    exits = entered[:, :, 1:] == 1  # exits during years 2..Y
    young = age[:, :, :-1] <= YOUNG_AGE  # the exiting occupant's age a year before
    old = ~young & np.isfinite(age[:, :, :-1])
    n_young, n_old = young.sum(axis=(-1, -2)), old.sum(axis=(-1, -2))
    out_young, out_old = (exits & young).sum(axis=(-1, -2)), (exits & old).sum(axis=(-1, -2))
    measured = (out_young > 0) & (out_old > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (out_young / n_young) / (out_old / n_old)
    return np.where(measured, ratio, np.nan)


def rd_return(
    log_tfp: np.ndarray, rd: np.ndarray, entered: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ρ of Δ log TFP on last year's R&D intensity with year effects (the rate-of-return
    form, Hall, Mairesse & Mohnen 2010): log_tfp, rd (fraction of revenue), entered
    (s, p, y, i) -> ρ and its standard error, float64 (s, p) each, in log-TFP points per
    unit of R&D intensity.

    One statsmodels OLS per scenario and path on the continuing firm-years (y - 1, y):
    Δ log TFP_{i,y} = ρ rd_{i,y-1} + year dummies + e, standard errors clustered by firm
    (the slot's occupant: an entrant is a new firm). The dummies are built once for all
    scenarios and paths. NaN with fewer than MIN_PANEL_ROWS firm-years or no spread of R&D
    intensity within the years (ρ is then not identified).
    """
    s, p, years, firms = log_tfp.shape
    change = log_tfp[:, :, 1:] - log_tfp[:, :, :-1]  # (s, p, y - 1, i)
    last_rd = rd[:, :, :-1]
    mask = (entered[:, :, 1:] == 0) & np.isfinite(change) & np.isfinite(last_rd)
    # the occupant of each slot: a new id after every entry, (s, p, y - 1, i)
    occupant = np.cumsum(entered == 1, axis=2)[:, :, 1:] * firms + np.arange(firms)
    year = np.repeat(np.arange(years - 1), firms)  # the year pair of each pooled firm-year
    dummies = (year[:, None] == np.arange(years - 1)).astype(np.float64)  # (n, y - 1)
    rho, se = np.full((s, p), np.nan), np.full((s, p), np.nan)
    for j in range(s):
        for q in range(p):
            keep = mask[j, q].ravel()
            rho[j, q], se[j, q] = _rd_fit(
                change[j, q].ravel()[keep],
                last_rd[j, q].ravel()[keep],
                year[keep],
                dummies[keep],
                occupant[j, q].ravel()[keep],
            )
    return rho, se


def _rd_fit(change, last_rd, year, dummies, firm) -> tuple[float, float]:
    """(ρ, clustered s.e.) of one pooled panel: change, last_rd, year, firm (n,), dummies
    (n, y - 1)."""
    from statsmodels.regression.linear_model import OLS

    if change.size < MIN_PANEL_ROWS:
        return np.nan, np.nan
    used = dummies.sum(axis=0) > 0  # a year pair without continuing firms has no effect
    counts = np.bincount(year, minlength=used.size)
    year_mean = np.bincount(year, weights=last_rd, minlength=used.size) / np.maximum(counts, 1)
    within = last_rd - year_mean[year]
    if not (np.abs(within) > 1e-9 * max(np.abs(last_rd).max(), 1e-300)).any():
        return np.nan, np.nan
    model = OLS(change, np.column_stack([last_rd, dummies[:, used]]))
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": firm})
    return float(fit.params[0]), float(fit.bse[0])


def entrant_size(share: np.ndarray, entered: np.ndarray) -> np.ndarray:
    """Median entrant share over median incumbent share in the entry year: share,
    entered (s, p, y, i) -> float64 (s, p).

    Entrants are the slots ``entered`` in year y with their share at year y's snapshot,
    incumbents every other slot that year; both pooled over years 2..Y of one scenario and
    path (shares sum to one each year, so years compare). NaN without an entrant.
    """
    s, p = share.shape[:2]
    new = entered[:, :, 1:] == 1
    later = share[:, :, 1:]
    out = np.full((s, p), np.nan)
    for j in range(s):
        for q in range(p):
            entrants, incumbents = later[j, q][new[j, q]], later[j, q][~new[j, q]]
            if entrants.size and incumbents.size:
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[j, q] = np.median(entrants) / np.median(incumbents)
    return out


def net_entry(log_tfp: np.ndarray, share: np.ndarray, entered: np.ndarray) -> np.ndarray:
    """Net entry's share of the growth of share-weighted mean log TFP from the first to the
    last snapshot: log_tfp, share, entered (s, p, y, i) -> float64 (s, p).

    Foster, Haltiwanger & Krizan's (2001) decomposition over the whole window, the one the
    sources of the range use: with P_t = sum of s_it a_it over every slot (a = log TFP,
    s = market share, summing to 1), entrants N the last-year occupants of the slots an
    entrant took in years 1..Y and exiters X the first-year occupants of those slots,
    net entry = sum over N of s_i1 (a_i1 - P_0) - sum over X of s_i0 (a_i0 - P_0), and the
    fact is net entry / (P_1 - P_0). An entrant adds to growth when it ends above the
    initial aggregate, an exiter when it started below it. (Melitz & Polanec 2015, RAND J.
    Econ. 46, measure entrants against the survivors instead and find this credits entry
    and exit with up to 10 points of five-year growth too much.) NaN where no slot was
    replaced or the window's growth is not positive.
    """
    a0, a1 = log_tfp[:, :, 0], log_tfp[:, :, -1]
    s0, s1 = share[:, :, 0], share[:, :, -1]
    replaced = entered[:, :, 1:].max(axis=2) > 0  # (s, p, i)
    start = (s0 * a0).sum(axis=-1, keepdims=True)  # P_0 (s, p, 1)
    total = (s1 * a1).sum(axis=-1) - start[..., 0]
    entry = np.where(replaced, s1 * (a1 - start), 0.0).sum(axis=-1)
    exit_ = np.where(replaced, s0 * (a0 - start), 0.0).sum(axis=-1)
    ok = replaced.any(axis=-1) & (total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, (entry - exit_) / total, np.nan)
