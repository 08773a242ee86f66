"""The stores under a results root, what each one is, and the gate of every request.

A store is a directory under the root holding a Zarr group (``zarr.json``) or named
``*.zarr``; the catalog does not look inside a store for more. A request names a store by
its path relative to the root (``default.zarr``, ``nightly/x.zarr``): :func:`resolve` turns
that name into a directory under the root or refuses it (an absolute path, ``..``, a
symlink that leads out, anything that is not a store of the catalog).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEPTH = 3  # how deep under the root stores are looked for


class NotServed(Exception):
    """A requested store name that names nothing this server serves (the page says 404)."""


@dataclass(frozen=True)
class Entry:
    """One store of the catalog, as the catalog page shows it.

    ``state``: "complete", "being written", "stopped", "foreign" or "damaged"; ``chunks``:
    "k of K" finished chunks of a resonance store; ``problem``: why a foreign or damaged
    store cannot be shown (one line); the rest are the store's root attributes, "—" when
    it has none."""

    name: str  # path relative to the root, with "/"
    config: str = "—"
    identity: str = "—"  # the first 12 hex digits of identity_sha256
    scenarios: int | None = None
    firms: int | None = None
    paths: int | None = None
    state: str = "damaged"
    chunks: str = "—"
    created: str = "—"
    flow_run: str = "—"
    flow_run_url: str = ""  # its page in Prefect's UI, where known
    writer: str = ""
    problem: str = ""

    @property
    def ours(self) -> bool:
        return self.state in ("complete", "being written", "stopped")


def _is_store(path: Path) -> bool:
    return path.name.endswith(".zarr") or (path / "zarr.json").is_file()


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved: symlinks followed) lies strictly under ``root``."""
    real = path.resolve()
    return real != root and real.is_relative_to(root)


def stores(root: Path) -> list[str]:
    """The names (relative paths, "/"-separated) of the stores under ``root``, sorted;
    none that a symlink leads out of the root."""
    root = Path(root).resolve()
    found: list[str] = []
    if not root.is_dir():
        return found

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for child in children:
            path = Path(child.path)
            if child.name.startswith(".") or not path.is_dir() or not _inside(path, root):
                continue
            if _is_store(path):
                found.append(path.relative_to(root).as_posix())
            elif depth < DEPTH:
                walk(path, depth + 1)

    walk(root, 1)
    return found


def resolve(root: Path, name: str) -> Path:
    """The directory of the store ``name`` under ``root``, or :class:`NotServed`: an empty,
    absolute or ``..`` name, one that resolves (symlinks followed) outside the root, or
    one that is not a store of the catalog."""
    root = Path(root).resolve()
    parts = name.replace("\\", "/").split("/")
    if not name or name.startswith(("/", "\\")) or ".." in parts or ":" in name:
        raise NotServed(name)
    path = root.joinpath(*[p for p in parts if p not in ("", ".")])
    if not _inside(path, root) or not path.is_dir():
        raise NotServed(name)
    relative = path.relative_to(root).as_posix()
    if relative not in stores(root):
        raise NotServed(name)
    return path


def describe(root: Path, name: str) -> Entry:
    """What the store ``name`` under ``root`` is (never raises for a store's content: a
    foreign or damaged one is an Entry with its ``problem``)."""
    store = str(resolve(root, name))
    try:
        return _describe(name, store)
    except Exception as exc:  # a damaged store: say what broke, in one line
        return Entry(name, state="damaged", problem=_one_line(exc))


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _describe(name: str, store: str) -> Entry:
    from ..engine.store_io import done_chunks
    from ..engine.store_lock import current_writer
    from ..engine.store_state import state_of

    if (Path(store) / "zarr.json").is_file():
        import json

        try:
            json.loads((Path(store) / "zarr.json").read_text())
        except ValueError as exc:
            return Entry(name, state="damaged", problem=f"its zarr.json is not JSON ({exc})")
    state, attrs = state_of(store)
    if state != "resonance" or "config_sha256" not in attrs:
        what = {
            "empty": "an empty directory",
            "foreign": "not a resonance store (no Zarr group written by `resonance run`)",
        }.get(state, "not a resonance store")
        return Entry(name, state="foreign", problem=what)
    n = int(attrs["n_scenarios"])
    done = done_chunks(store)[: -(-n // int(attrs["chunk_scenarios"]))]
    k, total = int(done.sum()), int(done.size)
    writer = current_writer(store) or ""
    if writer:
        state = "being written"
    else:
        state = "complete" if k == total else "stopped"
    flow_run = attrs.get("prefect_flow_run")
    url = str(attrs.get("prefect_flow_run_url", ""))
    ui = os.environ.get("PREFECT_UI_URL")  # this server's Prefect UI, over the recorded one
    if flow_run and ui and attrs.get("prefect_flow_run_id"):
        url = f"{ui.rstrip('/')}/runs/flow-run/{attrs['prefect_flow_run_id']}"
    return Entry(
        name,
        config=Path(str(attrs.get("config_file", "—"))).stem,
        identity=str(attrs.get("identity_sha256", attrs["config_sha256"]))[:12],
        scenarios=n,
        firms=int(attrs.get("n_firms", 0)) or None,
        paths=len(attrs.get("paths", [])) or None,
        state=state,
        chunks=f"{k} of {total}",
        created=str(attrs.get("created", "—")),
        flow_run=str(flow_run) if flow_run else "—",
        flow_run_url=url if flow_run else "",
        writer=writer,
    )


def catalog(root: Path) -> list[Entry]:
    """Every store under ``root``, described (:func:`describe`), in name order."""
    return [describe(root, name) for name in stores(root)]
