"""resonance's numerical core (``resonance.kernels``): Numba kernels of the model and a
plain-NumPy reference. Pure functions on arrays; imports numpy and numba (and scipy, for
the Beta tables).

Importing this package, or its plain modules, compiles nothing and changes no setting.
Importing a jitted module changes one: numba's CPU features
(``compile.select_cpu_features``: 512-bit vectors on AVX-512 CPUs), which numba fixes at
its first ``@njit`` decoration, so ``vmath`` (which every jitted module imports first)
sets them before its own. Code
that runs kernels calls :func:`load` first: it configures numba for these kernels
(``compile.py``: LLVM's vectoriser limit, a cache directory keyed by the sources) and
returns the module of entry points:

- ``load().simulate`` — a chunk of scenarios x paths x quarters x metrics;
- ``load().trace`` — one scenario and path with per-firm traces.

The driver's own few draws per scenario (the ``mc`` design, the chokepoints it stores) are
the same Philox streams in NumPy form (``reference.design_uniforms``,
``reference.chokepoint_quarters``): nothing to compile.

Plain modules, importable as they are: ``registry`` (names, order, units of parameters,
state and metrics), ``reference`` (the same model in vectorised NumPy).
"""

from .registry import FIRM_PARAMETERS, METRICS, PARAMETERS


def load():
    """Configure numba for the kernels (once per process) and return
    ``resonance.kernels.simulate``, the module of entry points."""
    from .compile import configure

    configure()
    from . import simulate

    return simulate


__all__ = ["FIRM_PARAMETERS", "METRICS", "PARAMETERS", "load"]
