"""resonance: a distributed Monte Carlo scenario service for the innovation efficiency of
high-tech firms.

One import name for the whole project. Installed, ``resonance.kernels`` is the repository's
``kernels/`` folder (the Numba core) and ``resonance.flows`` its ``flows/`` folder (config,
engine, store, analysis, Prefect flow, CLI): a package-dir mapping in ``pyproject.toml``.
This folder holds only the package's root: its version and ``python -m resonance``.
Importing it imports nothing else and changes no setting.
"""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "resonance-scenarios"  # the name on PyPI; "resonance" there is another project

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # run from a source tree that was not installed
    __version__ = "0+unknown"
