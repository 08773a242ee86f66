"""The ``ds.resonance`` accessor on datasets opened with ``xr.open_zarr(store, group="draws")``.

Registered when ``resonance.flows.analysis`` is imported (xarray's accessors are a
process-wide registry, so nothing else registers it). Each method delegates to the function
of the same name.
"""

from __future__ import annotations

import xarray as xr

from ..engine.layout import by_metric
from .compare import Comparison, compare
from .discover import Discovery, discover
from .robust import Robustness, robustness
from .sensitivity import Sensitivity, sensitivity


@xr.register_dataset_accessor("resonance")
class ResonanceAccessor:
    """``ds.resonance.compare / robustness / sensitivity / discover`` on the ``draws``
    group."""

    def __init__(self, ds: xr.Dataset):
        self._ds = by_metric(ds)  # as stored: one outcome array; here a variable per metric

    def compare(self, a: str, b: str, metric: str, quarter: int = -1) -> Comparison:
        return compare(self._ds, a, b, metric, quarter)

    def robustness(
        self,
        metric: str,
        quarter: int = -1,
        satisfice: float | None = None,
        maximize: bool | None = None,
    ) -> Robustness:
        return robustness(self._ds, metric, quarter, satisfice, maximize)

    def sensitivity(
        self, metric: str, quarter: int = -1, path: str = "baseline", **kwargs
    ) -> Sensitivity:
        return sensitivity(self._ds, metric, quarter, path, **kwargs)

    def discover(self, metric: str, threshold: float, below: bool = True, **kwargs) -> Discovery:
        return discover(self._ds, metric, threshold, below, **kwargs)
