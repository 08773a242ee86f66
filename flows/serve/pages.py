"""What one store's page shows, computed by the same analyses as the command line and
kept per store until the store changes.

Every section of a page (fan chart, headline table, comparison, robustness, convergence,
facts) is computed by the function the matching command uses (``commands/steps.py``,
``engine/console.show_bands``) and printed by the same table function
(``analysis/tables.py``), turned into HTML here (:func:`html_table`). A section that
cannot be computed for this store says why in one line; the rest of the page is shown.

Results are kept in memory keyed by the store's directory and its *signature* (the mtime
of its ``zarr.json`` and its finished chunks), so a store being written is recomputed
once more chunks are finished, and a finished store's pages are answered from memory.
One lock serialises the computations and the drawing (matplotlib's pyplot is not
thread-safe; the machine's cores are Dask's).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup, escape

from .catalog import Entry

log = logging.getLogger(__name__)

LOCK = threading.RLock()
KEEP = 512  # results kept in memory, across stores (oldest dropped first)
_memo: OrderedDict = OrderedDict()


def _signature(store: Path, entry: Entry) -> tuple:
    meta = store / "zarr.json"
    return (meta.stat().st_mtime_ns if meta.exists() else 0, entry.chunks, entry.scenarios)


def cached(store: Path, entry: Entry, what: str, make, *key):
    """``make()``, computed once per (store, its signature, what, key)."""
    full = (str(store), _signature(store, entry), what, key)
    with LOCK:
        if full in _memo:
            _memo.move_to_end(full)
            return _memo[full]
        value = make()
        _memo[full] = value
        while len(_memo) > KEEP:
            _memo.popitem(last=False)
        return value


def html_table(table) -> Markup:
    """A rich ``Table`` (what the command line prints) as an HTML table: its title,
    header, cells as plain text (markup removed), a rule after each section, caption."""
    from rich.text import Text

    def plain(cell) -> str:
        if isinstance(cell, Text):
            return cell.plain
        if isinstance(cell, str):
            return Text.from_markup(cell).plain
        return str(cell)

    columns = table.columns
    cells = [list(c.cells) for c in columns]
    out = ['<table class="data">']
    if table.title:
        out.append(f"<caption>{escape(plain(table.title))}</caption>")
    out.append("<thead><tr>")
    for c in columns:
        align = "num" if c.justify == "right" else ""
        out.append(f'<th class="{align}">{escape(plain(c.header))}</th>')
    out.append("</tr></thead><tbody>")
    for i in range(table.row_count):
        end = table.rows[i].end_section if i < len(table.rows) else False
        out.append(f'<tr class="{"end" if end else ""}">')
        for c, column in zip(cells, columns, strict=True):
            align = "num" if column.justify == "right" else ""
            out.append(f'<td class="{align}">{escape(plain(c[i]))}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    if table.caption:
        out.append(f'<p class="caption">{escape(plain(table.caption))}</p>')
    return Markup("".join(out))


@dataclass
class Section:
    """One part of a store's page: tables (HTML), a figure (its URL) or why there is none."""

    title: str
    key: str  # the HTML id
    tables: list[Markup] = field(default_factory=list)
    figure: str | None = None
    message: str = ""
    text: list[str] = field(default_factory=list)


class Store:
    """The analyses of one resonance store, each computed once (:func:`cached`)."""

    def __init__(self, path: Path, entry: Entry):
        self.path, self.entry, self.store = path, entry, str(path)

    def _c(self, what, make, *key):
        return cached(self.path, self.entry, what, make, *key)

    def bands(self):
        from ..engine.store_read import open_bands

        return self._c("bands", lambda: open_bands(self.store).load())

    def draws(self):
        from ..engine.store_read import open_draws

        return self._c("draws", lambda: open_draws(self.store))

    def paths(self) -> list[str]:
        return self._c("paths", lambda: [str(p) for p in self.bands().path.values])

    def reference(self) -> str:
        paths = self.paths()
        return "baseline" if "baseline" in paths else paths[0]

    def headline(self) -> Markup:
        def make():
            from ..analysis.effects import TFP_GROWTH, effects
            from ..analysis.tables import headline_table

            growth = effects(self.draws(), TFP_GROWTH, reference=self.reference())
            return html_table(headline_table(growth, self.bands()))

        return self._c("headline", make)

    def summary(self, metric: str) -> Markup:
        from ..analysis.tables import summary_table

        return self._c("summary", lambda: html_table(summary_table(self.bands(), [metric])), metric)

    def comparison(self, metric: str, a: str, b: str):
        from ..analysis.compare import compare

        return self._c("compare", lambda: compare(self.draws(), a, b, metric), metric, a, b)

    def robustness(self, metric: str):
        from ..analysis.robust import robustness

        return self._c("robust", lambda: robustness(self.draws(), metric), metric)

    def convergence(self):
        from ..engine.store_read import open_convergence

        def make():
            history = open_convergence(self.store)
            return None if history is None else history.load()

        return self._c("convergence", make)

    def facts(self):
        """(facts tables as HTML, lines under them) of the store's firm snapshots."""

        def make():
            from ..analysis import facts as stylized
            from ..analysis.tables import facts_tables
            from ..engine.store_read import open_firms

            snapshots = open_firms(self.store)
            where = (
                f"{self.entry.name} ({snapshots.sizes['scenario']} scenarios x "
                f"{snapshots.sizes['firm']} firms, {snapshots.sizes['year']} years)"
            )
            table = stylized.facts(snapshots, self.reference())
            return [html_table(t) for t in facts_tables(table, where)]

        return self._c("facts", make)

    def figure(self, kind: str, metric: str, a: str, b: str) -> bytes:
        """The PNG of a figure of the page: "fan", "compare", "robust" or "convergence"."""

        def make():
            from ..analysis import figures

            draw = {
                "fan": lambda out: figures.fan_chart(self.bands(), metric, out),
                "compare": lambda out: figures.comparison_chart(self.comparison(metric, a, b), out),
                "robust": lambda out: figures.robustness_chart(self.robustness(metric), out),
                "convergence": lambda out: figures.convergence_chart(self.convergence(), out),
            }[kind]
            with tempfile.TemporaryDirectory(prefix="resonance-serve-") as tmp:
                return Path(draw(Path(tmp) / f"{kind}.png")).read_bytes()

        key = {"fan": (metric,), "compare": (metric, a, b), "robust": (metric,)}.get(kind, ())
        return self._c(f"figure-{kind}", make, *key)


def _section(title: str, key: str, fill) -> Section:
    """A section filled by ``fill(section)``; a failure is its one-line message."""
    from ..errors import ResonanceError

    section = Section(title, key)
    try:
        fill(section)
    except ResonanceError as exc:
        section.message = str(exc)
    except Exception as exc:  # never a traceback on the page: say what broke
        log.exception("resonance serve: %s of a store", key)
        section.message = f"could not be computed: {type(exc).__name__}: {exc}"
    return section


def store_sections(store: Store, metric: str, a: str, b: str, figure_url) -> list[Section]:
    """The sections of one store's page for the chosen metric and paths a, b (checked by
    the caller); ``figure_url(kind)`` is where the page fetches a figure."""
    from ..analysis.tables import comparison_table, effects_table, estimate, robustness_table

    def fan(s):
        s.tables.append(store.summary(metric))
        s.figure = figure_url("fan")

    def headline(s):
        s.tables.append(store.headline())

    def compare(s):
        if a == b:
            s.message = "choose two different paths to compare"
            return
        c = store.comparison(metric, a, b)
        units = "" if c.units in ("1", "") else f" {c.units}"
        s.text.append(
            f"{b} against {a} on {metric} after {c.years:g} years: mean effect "
            f"{estimate(c.mean, c.mean_low, c.mean_high)}{units} [95 % CI]; "
            f"P({b} beats {a}) = {c.p_better:.3f} ± {c.p_better_se:.3f}; n = {c.n:,}"
        )
        s.tables.append(
            store._c("compare-table", lambda: html_table(comparison_table(c)), metric, a, b)
        )
        s.figure = figure_url("compare")

    def robust(s):
        r = store.robustness(metric)
        s.tables.append(store._c("robust-table", lambda: html_table(robustness_table(r)), metric))
        if r.effects is not None:
            s.tables.append(
                store._c("effects-table", lambda: html_table(effects_table(r.effects)), metric)
            )
        s.figure = figure_url("robust")

    def convergence(s):
        from ..analysis.tables import convergence_table

        history = store.convergence()
        if history is None:
            s.message = (
                "this store has no convergence history (it was not grown with "
                "`resonance run --until-se X`)"
            )
            return
        s.tables.append(
            store._c("convergence-table", lambda: html_table(convergence_table(history)))
        )
        s.figure = figure_url("convergence")

    def facts(s):
        s.tables.extend(store.facts())

    return [
        _section(f"Fan chart of {metric} by path", "fan", fan),
        _section("Headline table", "headline", headline),
        _section(f"Comparison: {b} against {a}", "compare", compare),
        _section(f"Robustness ranks of {metric}", "robust", robust),
        _section("Convergence history", "convergence", convergence),
        _section("Stylized facts", "facts", facts),
    ]
