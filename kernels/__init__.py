"""resonance's numerical core: Numba kernels of the model and a plain-NumPy reference.

Pure functions on arrays; imports only numpy and numba. Entry points:

- :func:`kernels.simulate.simulate` — a chunk of scenarios x paths x quarters x metrics;
- :func:`kernels.simulate.trace` — one scenario and path with per-firm traces;
- :func:`kernels.reference.simulate` — the same model in vectorised NumPy;
- :mod:`kernels.registry` — the names and order of parameters, state and metrics;
- :mod:`kernels.rng` — the counter-based Philox4x32-10 generator.
"""

from kernels.registry import FIRM_PARAMETERS, METRICS, PARAMETERS, UNCERTAIN
from kernels.simulate import simulate, trace

__all__ = ["FIRM_PARAMETERS", "METRICS", "PARAMETERS", "UNCERTAIN", "simulate", "trace"]
