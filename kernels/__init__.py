"""resonance's numerical core: Numba kernels of the model and a plain-NumPy reference.

Pure functions on arrays; imports numpy, numba and scipy (for the Beta tables). Entry points:

- :func:`kernels.simulate.simulate` — a chunk of scenarios x paths x quarters x metrics;
- :func:`kernels.simulate.trace` — one scenario and path with per-firm traces;
- :func:`kernels.reference.simulate` — the same model in vectorised NumPy;
- :mod:`kernels.registry` — the names and order of parameters, state and metrics;
- :mod:`kernels.rng` — the counter-based Philox4x32-10 generator.
"""

import hashlib
import os
from pathlib import Path

import llvmlite.binding as llvm
import numba

# LLVM vectorises a loop that writes several arrays only after run-time checks that they do
# not overlap, and gives up above 128 checks ("too many memory checks needed"). The firm
# loop reads and writes some twenty rows of the state, which needs more; the checks run
# once per loop, not per firm, so a higher limit costs nothing. Process-wide, compile-time
# only: code loaded from numba's cache was vectorised when it was compiled.
VECTORIZE_MEMORY_CHECKS = 1024
llvm.set_option("", f"-vectorize-memory-check-threshold={VECTORIZE_MEMORY_CHECKS}")


def _versioned_cache_dir() -> None:
    """Keep numba's on-disk cache in a directory named by a hash of the kernel sources.

    Numba invalidates a cached function when *its own* file changes, not when a function
    it calls (in another module) does; keying the directory on every kernels/*.py file
    makes an edit or an upgrade compile afresh. The directory is node-local
    (~/.cache/resonance/numba/<hash>) unless the user sets NUMBA_CACHE_DIR.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    digest = hashlib.sha256(numba.__version__.encode())
    for file in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(file.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    numba.config.CACHE_DIR = str(base / "resonance" / "numba" / digest.hexdigest()[:16])


_versioned_cache_dir()

from kernels.registry import FIRM_PARAMETERS, METRICS, PARAMETERS, UNCERTAIN  # noqa: E402
from kernels.simulate import simulate, trace  # noqa: E402

__all__ = ["FIRM_PARAMETERS", "METRICS", "PARAMETERS", "UNCERTAIN", "simulate", "trace"]
