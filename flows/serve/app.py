"""The web application of ``resonance serve``: FastAPI with server-rendered pages
(Jinja2) and matplotlib figures as PNG, over the stores under one results root.

Routes (all GET, all read-only):

- ``/``: the catalog (:func:`catalog.catalog`);
- ``/store?name=N&metric=M&a=A&b=B``: one store's page (:mod:`pages`), for the metric and
  the two paths chosen in its form;
- ``/figure?name=N&kind=K&metric=M&a=A&b=B``: one figure of that page, a PNG.

A store name that is not a store of the catalog (outside the root, ``..``, an absolute
path, a symlink out) is answered 404 with a page saying so; a foreign or damaged store is
a page with a one-line message; nothing is ever answered with a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from . import catalog as cat

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_METRIC = "innovation_efficiency"


def create_app(results: str | Path):
    """The FastAPI application serving the stores under ``results`` (a directory)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, Response
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    root = Path(results).resolve()
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    app = FastAPI(title="resonance", docs_url=None, redoc_url=None, openapi_url=None)

    def page(template: str, status: int = 200, **context) -> HTMLResponse:
        html = env.get_template(template).render(root=str(root), **context)
        return HTMLResponse(html, status_code=status)

    def refused(name: str) -> HTMLResponse:
        return page(
            "message.html",
            404,
            title="Not served",
            message=f"{name!r} is not a store under the results root; only those are served.",
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # never a traceback
        log.exception("resonance serve: %s", request.url.path)
        return page("message.html", 500, title="Error", message=f"{type(exc).__name__}: {exc}")

    @app.get("/", response_class=HTMLResponse)
    def index():
        return page("catalog.html", entries=cat.catalog(root))

    @app.get("/store", response_class=HTMLResponse)
    def store(name: str = "", metric: str = DEFAULT_METRIC, a: str = "", b: str = ""):
        try:
            path = cat.resolve(root, name)
        except cat.NotServed:
            return refused(name)
        entry = cat.describe(root, name)
        if not entry.ours:
            return page("message.html", title=name, message=f"{name}: {entry.problem}", entry=entry)
        view = _view(path, entry, metric, a, b)
        return page("store.html", entry=entry, **view)

    @app.get("/figure")
    def figure(
        name: str = "", kind: str = "fan", metric: str = DEFAULT_METRIC, a: str = "", b: str = ""
    ):
        from .pages import Store

        try:
            path = cat.resolve(root, name)
        except cat.NotServed:
            return refused(name)
        entry = cat.describe(root, name)
        if not entry.ours or kind not in ("fan", "compare", "robust", "convergence"):
            return page("message.html", 404, title="No figure", message="no such figure")
        store = Store(path, entry)
        try:
            metric, a, b, _ = _choose(store, metric, a, b)
            png = store.figure(kind, metric, a, b)
        except Exception as exc:  # the page says why in the figure's section
            return page("message.html", 404, title="No figure", message=f"{exc}")
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=60"})

    return app


def _choose(store, metric: str, a: str, b: str) -> tuple[str, str, str, list[str]]:
    """The metric and paths a, b to show (defaults where not chosen) and the problems of
    what was asked: a metric or path the store does not have."""
    from ...kernels.registry import METRICS

    problems = []
    paths = store.paths()
    if metric not in METRICS:
        problems.append(f"metric {metric!r} is not one of the store's; showing {DEFAULT_METRIC}")
        metric = DEFAULT_METRIC
    reference = store.reference()
    others = [p for p in paths if p != reference]
    for label, value in (("a", a), ("b", b)):
        if value and value not in paths:
            problems.append(f"path {label} {value!r} is not in this store")
    a = a if a in paths else reference
    b = b if b in paths else (others[0] if others else reference)
    return metric, a, b, problems


def _view(path: Path, entry: cat.Entry, metric: str, a: str, b: str) -> dict:
    """What store.html shows: the form's choices, the progress note and the sections."""
    from ...kernels.registry import METRICS
    from ..errors import ResonanceError
    from .pages import Store, store_sections

    store = Store(path, entry)
    try:
        bands = store.bands()
        metric, a, b, problems = _choose(store, metric, a, b)
    except ResonanceError as exc:
        return {"error": str(exc), "sections": [], "metrics": [], "paths": []}
    except Exception as exc:
        log.exception("resonance serve: %s", entry.name)
        return {"error": f"cannot be read: {type(exc).__name__}: {exc}", "sections": []}

    def figure_url(kind: str) -> str:
        query = {"name": entry.name, "kind": kind, "metric": metric, "a": a, "b": b}
        return "figure?" + urlencode(query)

    return {
        "error": "",
        "note": bands.attrs.get("progress", ""),
        "problems": problems,
        "metrics": list(METRICS),
        "paths": store.paths(),
        "metric": metric,
        "a": a,
        "b": b,
        "sections": store_sections(store, metric, a, b, figure_url),
    }


def serve(results: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the application under uvicorn until interrupted (``resonance serve``)."""
    import uvicorn

    from ..errors import ResonanceError

    if not Path(results).is_dir():
        raise ResonanceError(
            f"--results {results}", "is not a directory", "give the folder that holds the stores"
        )
    uvicorn.run(create_app(results), host=host, port=port, log_level="warning")
