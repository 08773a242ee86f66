"""``resonance serve`` over HTTP: the catalog, a store's page, figures, and refusals."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from resonance.flows.serve import catalog
from tests.browser import get


def test_catalog_lists_every_store_under_the_root_but_not_a_symlink_out(results, server):
    status, kind, page = get(server)
    assert status == 200 and kind.startswith("text/html")
    assert "tiny.zarr" in page and "foreign.zarr" in page and "damaged.zarr" in page
    assert "link.zarr" not in page
    assert catalog.stores(results) == ["damaged.zarr", "foreign.zarr", "tiny.zarr"]


def test_catalog_describes_a_store(results):
    entry = catalog.describe(results, "tiny.zarr")
    assert (entry.config, entry.scenarios, entry.firms, entry.paths) == ("default", 16, 40, 3)
    assert entry.state == "complete" and entry.chunks == "4 of 4"
    assert len(entry.identity) == 12 and entry.created != "—"


def test_store_page_shows_every_section(server):
    status, _, page = get(
        server + "store?name=tiny.zarr&metric=tfp_growth&a=baseline&b=factor_reset"
    )
    assert status == 200
    for section in (
        "Fan chart of",
        "Headline table",
        "Comparison: factor_reset against baseline",
        "Robustness ranks of",
        "Convergence history",
        "Stylized facts",
    ):
        assert section in page
    assert "P(factor_reset beats baseline) = " in page
    assert "has no convergence history" in page
    assert "Traceback" not in page


@pytest.mark.parametrize("kind", ["fan", "compare", "robust"])
def test_figures_are_png(server, kind):
    status, content, body = get(
        server + f"figure?name=tiny.zarr&kind={kind}&a=baseline&b=factor_reset"
    )
    assert status == 200 and content == "image/png" and body.startswith("\x89PNG")


@pytest.mark.parametrize(
    "name",
    [
        "../outside.zarr",
        "/etc",
        "link.zarr",
        "tiny.zarr/../../outside.zarr",
        "tiny.zarr/draws",
        "nothing.zarr",
        "",
        "C:\\x",
    ],
)
def test_a_name_outside_the_catalog_is_refused(server, name):
    for route in ("store", "figure"):
        status, _, page = get(server + f"{route}?name={quote(name)}")
        assert status == 404, (route, name)
        assert "not a store under the results root" in page and "not served" not in page


@pytest.mark.parametrize(
    ("name", "says"),
    [("foreign.zarr", "not a resonance store"), ("damaged.zarr", "zarr.json is not JSON")],
)
def test_a_foreign_or_damaged_store_is_a_message(server, name, says):
    status, _, page = get(server + f"store?name={name}")
    assert status == 200 and says in page and "Traceback" not in page
    assert says in get(server)[2]


def test_an_unknown_metric_or_path_is_said_on_the_page(server):
    status, _, page = get(server + "store?name=tiny.zarr&metric=nope&a=nowhere")
    assert status == 200
    assert "metric &#39;nope&#39; is not one of the store&#39;s" in page
    assert "path a &#39;nowhere&#39; is not in this store" in page
