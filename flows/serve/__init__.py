"""``resonance serve``: a read-only web page over the stores under a results root.

- ``catalog.py``: which stores lie under the root, what each is (config, identity, sizes,
  state with k of K chunks, created, Prefect flow run), and the one gate every requested
  store name passes (:func:`catalog.resolve`: nothing outside the root is served);
- ``pages.py``: what one store's page shows, computed by the analyses the command line
  uses (bands, headline, compare, robust, convergence, facts), cached per store;
- ``app.py``: the FastAPI application (server-rendered HTML, matplotlib PNG figures) and
  :func:`app.serve`, which runs it under uvicorn on 127.0.0.1 unless told otherwise;
- ``templates/``: the Jinja2 pages.

Nothing here imports FastAPI, xarray or the analysis package at import time.
"""
