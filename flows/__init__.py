"""Everything around resonance's core: config, plan, Dask execution, store, flows, CLI."""

from flows import analysis as _analysis  # noqa: E402,F401  registers ds.resonance
