"""The engine (``resonance.flows.engine``): plan (design and chunks), cluster (where chunks
run), execute (the one run recipe and its executors), store (the Zarr contract), bands
(exact streaming quantiles), console (what a run prints)."""
