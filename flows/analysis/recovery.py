"""After a key-technology chokepoint: how much efficiency each path loses to it and how
fast it recovers (S4 §5.2; MODEL.md §9), on the scenarios where it struck.

Event time: k = quarters since the strike (k = 0 is the strike quarter). The loss is the
``chokepoint_loss`` metric, the share-weighted share of efficiency (and TFP) that the
chokepoint takes from the firms it binds; it falls as firms' substitution R&D aimed at the
key technology shrinks their exposure (docs/model.md §3b), as selection moves share away
from the most exposed, and as exits make room for entrants. A path's
recovery in a scenario is measured by the share of its loss at the strike that is left
``window`` quarters later (0: recovered, 1: none of it), and by its half-life: the first k
at which the loss is at most half its value at the strike. Only scenarios with a whole
window after the strike count, so every path and scenario is observed equally long; a
loss that has not halved within the window is censored at it (a median that lies beyond
shows as such).

Paths are paired on the same scenarios (common random numbers: every path sees the same
strike, severity and firms), so P(faster than the reference) compares each scenario's two
remaining shares (ties count half).

Dim letters: s = struck scenarios, p = paths, k = quarters since the strike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ..engine.layout import by_metric
from ..errors import ResonanceError
from .select import QUANTILES, check, where

LOSS = "chokepoint_loss"


@dataclass
class Recovery:
    """Loss and recovery after the chokepoint, per path (see the module docstring)."""

    reference: str
    window: int  # quarters after the strike every counted scenario has
    n: int  # struck scenarios with a whole window
    struck: int  # struck scenarios in the store
    scenarios: int  # scenarios in the store
    table: pd.DataFrame  # one row per path, columns as ``summarise`` names them
    event: xr.Dataset  # loss quantiles and mean (path, k, quantile), k = 0 .. window
    half_life: np.ndarray  # float64 (s, p): quarters, inf where censored
    remaining: np.ndarray  # float64 (s, p): share of the loss at the strike left after it

    def order(self) -> list[str]:
        """Paths from the fastest recovery (least of the loss left) to the slowest."""
        return list(self.table.sort_values(["remaining_median", "mean_loss_window"]).index)


def event_time(values: np.ndarray, strike: np.ndarray, window: int) -> np.ndarray:
    """(s, p, t) values at event times k = 0..window after each scenario's strike quarter
    ``strike`` (s,), which leaves ``window`` quarters inside the horizon: (s, p, window + 1)."""
    idx = strike[:, None] + np.arange(window + 1)[None, :]  # (s, k)
    return np.take_along_axis(values, idx[:, None, :], axis=2)


def remaining(loss: np.ndarray) -> np.ndarray:
    """Share of the loss (s, p, k) at the strike (k = 0) left at the last k: float64
    (s, p), 0 where nothing was lost."""
    at_strike = loss[:, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(at_strike > 0.0, loss[:, :, -1] / at_strike, 0.0)


def half_lives(loss: np.ndarray) -> np.ndarray:
    """Quarters until the loss (s, p, k) at event times is at most half of its value at the
    strike (k = 0): float64 (s, p); inf where it has not halved by the last k, 0 where
    nothing was lost."""
    at_strike = loss[:, :, 0]
    halved = loss <= 0.5 * at_strike[:, :, None]
    first = np.where(halved.any(axis=2), halved.argmax(axis=2), np.inf).astype(np.float64)
    first[at_strike <= 0.0] = 0.0
    return first


def recovery(ds: xr.Dataset, reference: str = "baseline", window: int = 12) -> Recovery:
    """Loss and recovery of every path of a ``draws`` group after the chokepoint."""
    ds = by_metric(ds)
    if LOSS not in ds:
        raise ResonanceError(
            "recovery", f"the store has no {LOSS}", "a store made before issue 15; run it again"
        )
    check(ds, LOSS, (reference,))
    if window < 1:
        raise ResonanceError(f"--window {window}", "must be at least 1 quarter")
    scenarios = ds.sizes["scenario"]
    hit = where(ds, "chokepoint")
    n_quarters = hit.sizes["time"]
    # the strike's quarter: chokepoint_time is that quarter's value of the time coordinate
    strike = np.searchsorted(hit.time.values, hit["chokepoint_time"].values)
    whole = strike + window <= n_quarters - 1
    if not whole.any():
        raise ResonanceError(
            f"--window {window}",
            f"no struck scenario has {window} quarters after the strike",
            f"the horizon is {n_quarters} quarters; try a shorter window",
        )
    keep = np.flatnonzero(whole)
    hit = hit.isel(scenario=keep)
    strike = strike[keep]
    paths = [str(p) for p in hit.path.values]
    values = np.asarray(hit[LOSS].transpose("scenario", "path", "time").values)
    loss = event_time(values, strike, window)
    at_strike = loss[:, :, 0]
    first = half_lives(loss)
    left = remaining(loss)
    ref = paths.index(reference)
    rows = []
    for j, path in enumerate(paths):
        h = first[:, j]
        faster = (left[:, j] < left[:, ref]) + 0.5 * (left[:, j] == left[:, ref])
        p = float(faster.mean())
        # empirical quantiles (no interpolation): a censored half-life is inf, sorts last
        q25, q50, q75 = np.quantile(h, (0.25, 0.5, 0.75), method="inverted_cdf")
        rows.append(
            {
                "path": path,
                "loss_at_strike": float(np.median(at_strike[:, j])),
                "remaining_median": float(np.median(left[:, j])),
                "remaining_p25": float(np.quantile(left[:, j], 0.25)),
                "remaining_p75": float(np.quantile(left[:, j], 0.75)),
                "half_life_median": float(q50),
                "half_life_p25": float(q25),
                "half_life_p75": float(q75),
                "halved_share": float(np.isfinite(h).mean()),
                "mean_loss_window": float(np.median(loss[:, j].mean(axis=1))),
                "p_faster": p,
                "p_faster_se": float(np.sqrt(p * (1 - p) / h.size)),
            }
        )
    table = pd.DataFrame(rows).set_index("path")
    k = np.arange(window + 1)
    event = xr.Dataset(
        {
            "loss_quantile": (
                ("quantile", "path", "k"),
                np.quantile(loss, QUANTILES, axis=0),
            ),
            "loss_mean": (("path", "k"), loss.mean(axis=0)),
        },
        coords={"quantile": list(QUANTILES), "path": paths, "k": k},
    )
    event["k"].attrs.update(long_name="quarters since the strike", units="quarters")
    return Recovery(
        reference, window, len(keep), int(whole.size), scenarios, table, event, first, left
    )
