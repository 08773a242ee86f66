"""How the kernels are compiled: LLVM's vectoriser limit and numba's cache directory.

Both are process-wide settings, so nothing sets them at import. :func:`configure` does,
once per process, before the jitted modules are imported: :func:`resonance.kernels.load`
calls it in the driver and in every Dask worker (the task body calls ``load``, and the
cluster's worker set-up calls ``configure``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# LLVM vectorises a loop that writes several arrays only after run-time checks that they do
# not overlap, and gives up above 128 checks ("too many memory checks needed"). The firm
# loop reads and writes some twenty rows of the state, which needs more; the checks run
# once per loop, not per firm, so a higher limit costs nothing. Compile-time only: code
# loaded from numba's cache was vectorised when it was compiled.
VECTORIZE_MEMORY_CHECKS = 1024

_configured = False


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


def configure() -> None:
    """Set LLVM's memory-check limit and numba's cache directory (unless the user set
    ``NUMBA_CACHE_DIR``); idempotent. Call before importing a jitted module: numba picks a
    function's cache location when it is decorated."""
    global _configured
    if _configured:
        return
    import llvmlite.binding as llvm
    import numba

    llvm.set_option("", f"-vectorize-memory-check-threshold={VECTORIZE_MEMORY_CHECKS}")
    if not os.environ.get("NUMBA_CACHE_DIR"):
        numba.config.CACHE_DIR = str(cache_dir())
    _configured = True


def configured() -> bool:
    """Whether :func:`configure` has run in this process."""
    return _configured
