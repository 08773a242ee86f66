"""The catalog's states of real stores: one being written by another process (it holds the
store's writer lock), one whose run was stopped, and the Prefect flow run a store records."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from resonance.flows.engine.store_io import clear_done
from resonance.flows.engine.store_write import invalidate_bands, record_flow_run
from resonance.flows.serve import catalog
from tests.browser import Running, get
from tests.helpers import ROOT

# Holds the store's writer lock as a run does (store_lock.writer_lock, then the root's
# ``writer``), says so, and waits to be killed.
HOLD = """
import sys, time
from resonance.flows.engine.store_lock import record_writer, writer_lock
with writer_lock(sys.argv[1]):
    record_writer(sys.argv[1])
    print("holding", flush=True)
    time.sleep(600)
"""


@pytest.fixture(scope="module")
def states(results, tmp_path_factory):
    """A results root with copies of ``tiny.zarr`` (4 chunks): ``stopped.zarr`` (chunk 1
    not finished, bands stale), ``writing.zarr`` (the same, its lock held by another
    process) and ``flow.zarr`` (complete, recording a flow run); a server over it."""
    root = tmp_path_factory.mktemp("states") / "runs"
    root.mkdir()
    for name in ("stopped", "writing", "flow"):
        shutil.copytree(results / "tiny.zarr", root / f"{name}.zarr")
    for name in ("stopped", "writing"):
        invalidate_bands(str(root / f"{name}.zarr"))
        clear_done(str(root / f"{name}.zarr"), [1])
    record_flow_run(
        str(root / "flow.zarr"),
        {
            "prefect_flow_run": "brisk-heron",
            "prefect_flow_run_id": "9715b792-6462-40ae-8dc6-75f01353c210",
            "prefect_flow_run_url": "http://127.0.0.1:4200/runs/flow-run/9715b792",
        },
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root / "writing.zarr")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        running = Running(root)
        yield root, running.url
        running.stop()
    finally:
        holder.kill()
        holder.wait()


def test_a_store_being_written_and_a_stopped_one_show_k_of_k_chunks(states):
    root, server = states
    writing = catalog.describe(root, "writing.zarr")
    assert writing.state == "being written" and writing.chunks == "3 of 4"
    assert writing.writer.startswith("pid ")
    stopped = catalog.describe(root, "stopped.zarr")
    assert (stopped.state, stopped.chunks, stopped.writer) == ("stopped", "3 of 4", "")
    status, _, page = get(server)
    assert status == 200
    assert page.count("3 of 4") == 2 and "being written (pid " in page and ">stopped<" in page
    status, _, page = get(server + "store?name=writing.zarr")
    assert status == 200 and "is being written (pid " in page
    assert "3 of 4 chunks are finished, 12 of 16 scenarios" in page


def test_the_catalog_links_the_flow_run_that_wrote_a_store(states, monkeypatch):
    root, server = states
    entry = catalog.describe(root, "flow.zarr")
    assert entry.flow_run == "brisk-heron"
    assert entry.flow_run_url == "http://127.0.0.1:4200/runs/flow-run/9715b792"
    _, _, page = get(server)
    assert '<a href="http://127.0.0.1:4200/runs/flow-run/9715b792">brisk-heron</a>' in page
    # This server's Prefect UI, where set, over the one recorded when the store was written.
    monkeypatch.setenv("PREFECT_UI_URL", "http://prefect.example:4200")
    entry = catalog.describe(root, "flow.zarr")
    assert entry.flow_run_url == (
        "http://prefect.example:4200/runs/flow-run/9715b792-6462-40ae-8dc6-75f01353c210"
    )
    assert catalog.describe(root, "stopped.zarr").flow_run_url == ""
    # A run without a flow run that writes chunks removes an earlier one's record.
    record_flow_run(str(root / "flow.zarr"), {})
    entry = catalog.describe(root, "flow.zarr")
    assert (entry.flow_run, entry.flow_run_url) == ("—", "")
