"""How the kernels are compiled: LLVM's vectoriser limit, the vector width on AVX-512 CPUs
and numba's cache directory.

All are process-wide settings, so nothing sets them at import (but the CPU features,
which ``vmath`` sets before numba's first decoration). :func:`configure` does,
once per process, before the jitted modules are imported: :func:`resonance.kernels.load`
calls it in the driver and in every Dask worker (the task body calls ``load``, and the
cluster's worker set-up calls ``configure``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

# LLVM vectorises a loop that writes several arrays only after run-time checks that they do
# not overlap, and gives up above 128 checks ("too many memory checks needed"). The firm
# loop reads and writes some thirty rows of the state, which took about 400; its rows are
# now views LLVM can tell apart (``rows.py``) and need none, but a loop over rows taken as
# ``state[ROW]`` still does, and the limit keeps such a loop vectorised. Compile-time only:
# code loaded from numba's cache was vectorised when it was compiled.
VECTORIZE_MEMORY_CHECKS = 1024

# LLVM tunes Intel's AVX-512 CPUs (Skylake-X to Sapphire Rapids) to prefer 256-bit vectors
# ("prefer-256-bit"), against the clock drop 512-bit instructions used to cause. The firm
# loops are long, arithmetic-bound and free of the short bursts that make the drop cost:
# at 16 float32 lanes the float32 kernel ran 1.34 times as fast (1.34-1.41 over five
# alternating pairs, 32 x 1,000 firms, one thread, on the Intel VM). A CPU without AVX-512
# is not changed.
WIDE_VECTORS = "-prefer-256-bit"

# With those 16 lanes LLVM also interleaves each vectorised firm loop four times (64 firms
# an iteration), so up to 63 firms of every loop fall to its slower remainder: at 100 firms
# that is a third of them. Twice instead: 10 % faster at 1,000 firms and 19 % at 100
# (``python -m benchmarks.profile``, two alternating pairs each on the Intel VM: 30.8-31.5
# against 34.0-34.4 ns, and 45.2-46.2 against 54.0-54.5 ns per firm-step). It reorders
# the reassociated sums over firms, as the vector width does; set with WIDE_VECTORS only.
VECTOR_INTERLEAVE = "-force-vector-interleave=2"
# What is left of a loop after its 32-firm iterations runs 4 lanes at a time, not one firm
# at a time: 12 % faster at 100 firms (39.4-40.6 against 45.3-45.7 ns per firm-step over
# two alternating pairs; 8 lanes or 2 gained nothing), no change at 1,000 (and no change
# of its bits there), the same cold compile (9.17 against 9.11 s). With WIDE_VECTORS only.
VECTOR_EPILOGUE = "-epilogue-vectorization-force-VF=4"

_configured = False
_configuring = threading.Lock()


def cache_dir() -> Path:
    """Numba's on-disk cache for these kernels: a directory named by a hash of numba's
    version and every ``kernels/*.py`` file.

    Numba invalidates a cached function when *its own* file changes, not when a function
    it calls (in another module) does; keying the directory on every source file makes an
    edit or an upgrade compile afresh. Node-local: ``~/.cache/resonance/numba/<hash>``.
    """
    import numba

    digest = hashlib.sha256(numba.__version__.encode())
    digest.update(source_digest().encode())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "resonance" / "numba" / digest.hexdigest()[:16]


def source_digest() -> str:
    """SHA-256 (hex) of every ``kernels/*.py`` file in name order: the kernels' code, the
    core of the model digest a store records (``flows/engine/layout.py: model_digest``)."""
    digest = hashlib.sha256()
    for file in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def cpu_features() -> str | None:
    """The CPU features numba compiles for: the host's, with 512-bit vectors preferred
    where the host has AVX-512 (``WIDE_VECTORS``); None (numba's default) elsewhere."""
    import llvmlite.binding as llvm

    host = llvm.get_host_cpu_features()
    if not host.get("avx512f", False):
        return None
    return f"{host.flatten()},{WIDE_VECTORS}"


def select_cpu_features() -> None:
    """Give numba ``cpu_features()`` unless the user set ``NUMBA_CPU_FEATURES``.

    Runs when ``vmath`` is imported, before its decorations: numba fixes its features
    when it creates its code generator, which the first ``@njit`` decoration does
    (``vmath``'s, on importing any jitted kernel module), so :func:`configure` would come
    too late for a process that imported a kernel module first.
    """
    import numba

    if not os.environ.get("NUMBA_CPU_FEATURES"):
        numba.config.CPU_FEATURES = cpu_features()


def configure() -> None:
    """Set LLVM's memory-check limit, the CPU features (``select_cpu_features``, again, in
    case numba was reset), with 512-bit vectors the loops' interleave and remainder
    (``VECTOR_INTERLEAVE``, ``VECTOR_EPILOGUE``), and numba's cache directory (unless the user set
    ``NUMBA_CACHE_DIR``); idempotent. Call before importing a jitted module: numba picks a
    function's cache location when it is decorated. numba keys its cache by the CPU
    features too, so code compiled with others is never loaded in their place."""
    global _configured
    with _configuring:  # LLVM's option parser is not thread-safe
        if _configured:
            return
        _configure()
        _configured = True


def _configure() -> None:
    import llvmlite.binding as llvm
    import numba

    llvm.set_option("", f"-vectorize-memory-check-threshold={VECTORIZE_MEMORY_CHECKS}")
    select_cpu_features()
    if numba.config.CPU_FEATURES and WIDE_VECTORS in numba.config.CPU_FEATURES.split(","):
        llvm.set_option("", VECTOR_INTERLEAVE)
        llvm.set_option("", VECTOR_EPILOGUE)
    if not os.environ.get("NUMBA_CACHE_DIR"):
        numba.config.CACHE_DIR = str(cache_dir())


def configured() -> bool:
    """Whether :func:`configure` has run in this process."""
    return _configured
