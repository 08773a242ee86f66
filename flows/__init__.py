"""Everything around resonance's core: config, plan, Dask execution, store, flows, CLI."""
