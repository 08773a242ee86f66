"""Analysis of stored draws: paired comparison, sensitivity, scenario discovery.

``import resonance.flows.analysis`` registers the ``.resonance`` accessor on datasets opened
with ``xr.open_zarr(store, group="draws")``::

    import xarray as xr
    import resonance.flows.analysis  # noqa: F401  registers ds.resonance

    draws = xr.open_zarr("runs/default.zarr", group="draws")
    draws.resonance.compare("baseline", "all_paths", "innovation_efficiency")

Every method selects one (path, quarter, metric) vector over scenarios, so it reads lazily
whatever the store's size; only that vector is computed.

- ``compare`` (compare.py): paired differences b - a on the same scenarios;
- ``sensitivity`` (sensitivity.py): Sobol indices and a tree-ensemble ranking;
- ``discover`` (discover.py): PRIM boxes;
- tables.py and figures.py: what the CLI prints and draws.
"""

from .accessor import ResonanceAccessor
from .compare import Comparison, compare
from .discover import Discovery, discover
from .sensitivity import Sensitivity, sensitivity

__all__ = [
    "Comparison",
    "Discovery",
    "ResonanceAccessor",
    "Sensitivity",
    "compare",
    "discover",
    "sensitivity",
]
