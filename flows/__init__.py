"""Everything around resonance's core (``resonance.flows``), by concern:

- entry points: ``cli`` (the ``resonance`` command) and ``flow`` (the Prefect flow);
- input: ``config`` (the one config loader), ``paths`` (policy paths as data),
  ``uncertain`` (the distributions of uncertain parameters), ``errors`` (the one error type),
  ``metrics`` (metric names a person asks for);
- ``engine``: plan, cluster, execute (the one run recipe), store (the Zarr contract), bands,
  console;
- ``analysis``: compare, sensitivity, discover, the ``ds.resonance`` accessor (registered by
  importing ``resonance.flows.analysis``), tables and figures.

Importing this package imports nothing else.
"""
