"""The nightly Prefect flow: tonight's run of a config, then which of its bands moved since
the previous night's, posted as a markdown artifact (prefect.yaml's ``nightly``).

Each night writes a dated store of its own under the results root,
``<results>/nightly/<config name>-<YYYYMMDD>.zarr`` (the night: the flow run's scheduled
day in UTC, or the ``night`` parameter), through the flow ``scenario-run`` as a subflow.
The *previous* store is the latest ``<config name>-<YYYYMMDD>.zarr`` there of an earlier
night. Every night runs the config with the config's own seed, so two nights share their
worlds and ``resonance diff`` pairs them scenario by scenario (``analysis/diff.py``): a
night whose model code and config are unchanged gives Δ = 0 on every statistic, and a
change of the model, a parameter or a lever shows against the small noise of a paired
difference, far below that of two independent samples. (Nights with different seeds
would be compared as independent samples and flag only moves beyond that larger Monte
Carlo error; a config whose seed changes is compared so.) The table is the
artifact ``resonance-nightly-diff``; the flow run completes whether or not a band moved
(the artifact and a warning in its log say which), and fails only when tonight's run does.
A second run on the same night resumes that night's store.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Failed

# Absolute imports: Prefect's worker loads this file by its path (see flow.py).
from resonance.flows.confine import confine, roots
from resonance.flows.errors import ResonanceError
from resonance.flows.flow import scenario_run

ARTIFACT = "resonance-nightly-diff"
NIGHT = re.compile(r"\d{8}")


def night_store(results: str, config_path: str, night: str) -> str:
    """Tonight's store: ``<results>/nightly/<config name>-<night>.zarr``."""
    name = f"nightly/{Path(config_path).stem}-{night}.zarr"
    return f"{results.rstrip('/')}/{name}" if "://" in results else str(Path(results) / name)


def previous_store(store: str) -> str | None:
    """The latest store of an earlier night of the same config beside ``store`` (a
    ``night_store``), or None on its config's first night."""
    import fsspec

    folder, _, name = store.rstrip("/").rpartition("/")
    config, night = name.removesuffix(".zarr").rsplit("-", 1)
    fs, path = fsspec.core.url_to_fs(folder)
    earlier = []
    for entry in fs.ls(path, detail=False) if fs.exists(path) else ():
        base = entry.rstrip("/").rpartition("/")[2]
        stem, _, day = base.removesuffix(".zarr").rpartition("-")
        if base.endswith(".zarr") and stem == config and NIGHT.fullmatch(day) and day < night:
            earlier.append((day, base))
    return f"{folder}/{max(earlier)[1]}" if earlier else None


def _night(night: str | None) -> str:
    """``night`` (YYYYMMDD, checked) or the flow run's scheduled day in UTC."""
    if night is not None:
        if not NIGHT.fullmatch(night):
            raise ResonanceError(f"night {night}", "is not a date", "give it as YYYYMMDD")
        return night
    from prefect.runtime import flow_run

    when = flow_run.scheduled_start_time or datetime.now(timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y%m%d")


def compare_nights(previous: str | None, tonight: str) -> tuple[str, int]:
    """The markdown of tonight's store against the previous night's (``resonance diff``'s
    table and summary) and how many statistics moved; a one-line note instead where there
    is no previous night or the two cannot be compared (other paths, quarters...)."""
    from resonance.flows.analysis.diff import diff, diff_markdown
    from resonance.flows.engine.store_read import open_draws

    if previous is None:
        return f"First night of this config ({tonight}): nothing to compare with yet.\n", 0
    try:
        result = diff(open_draws(previous), open_draws(tonight), previous, tonight)
    except ResonanceError as exc:
        return f"{tonight} cannot be compared with {previous}: {exc}\n", 0
    return diff_markdown(result), len(result.moved)


@flow(name="resonance-nightly", log_prints=True)
def nightly(
    config_path: str = "configs/default.yaml",
    overrides: dict | None = None,
    workers: int | None = None,
    cluster: str | None = None,
    night: str | None = None,
) -> str:
    """Run ``config_path`` (on the worker's checkout, with ``overrides``) into tonight's
    store, compare it with the previous night's and post the table as the artifact
    ``resonance-nightly-diff``; returns that markdown. ``night``: YYYYMMDD (default: the
    flow run's scheduled day, UTC)."""
    logger = get_run_logger()
    results = roots()[0]
    try:
        store = night_store(results, config_path, _night(night))
        confine(config_path, {**(overrides or {}), "store": store}, cluster)
    except ResonanceError as exc:
        logger.error("resonance: error: %s", exc)
        return Failed(message=f"resonance: error: {exc}")
    state = scenario_run(
        config_path=config_path,
        out=store,
        overrides=overrides,
        workers=workers,
        cluster=cluster,
        return_state=True,
    )
    if not state.is_completed():
        return state
    previous = previous_store(store)
    markdown, moved = compare_nights(previous, store)
    description = f"{Path(store).name} against {Path(previous).name if previous else 'nothing'}"
    create_markdown_artifact(key=ARTIFACT, markdown=markdown, description=description)
    if moved:
        logger.warning("%d statistics moved since %s (artifact %s)", moved, previous, ARTIFACT)
    else:
        logger.info("nothing moved since %s", previous or "(first night)")
    return markdown
