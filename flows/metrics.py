"""The metrics a person asks for by name: the headline set, direction, and one name check."""

from __future__ import annotations

from ..kernels.registry import METRICS
from .errors import ResonanceError

HEADLINE = (
    "innovation_efficiency",
    "new_paradigm_share",
    "new_quality_share",
    "coordination",
    "tfp",
)
LOWER_IS_BETTER = {"institutional_gap", "chokepoint_loss", "policy_cost"}


def check_metric(metric: str) -> str:
    """``metric`` if it is a metric of the registry; else a one-line error naming them."""
    if metric not in METRICS:
        raise ResonanceError(
            f"--metric {metric}", "unknown metric", f"expected one of: {', '.join(METRICS)}"
        )
    return metric
