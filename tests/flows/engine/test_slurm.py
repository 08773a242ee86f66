"""The SLURM path for real: ``resonance run`` with a ``kind: slurm`` cluster file on a
single-node SLURM started on this machine (``tests/slurm.py``), whose Dask workers are
jobs ``sbatch`` started, stores the bits a LocalCluster stores; ``resonance cluster show``
prints the script dask-jobqueue submits."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml

from resonance.flows.cli import main
from resonance.flows.engine.cluster import (
    SCHEDULER_PLACEHOLDER,
    ClusterSpec,
    job_script,
    slurm_options,
)
from tests.flows.engine.test_digest import store_digests
from tests.helpers import DEFAULT_CONFIG, ROOT
from tests.slurm import PARTITION, SingleNodeSlurm, slurm_installed

SIZES = ["--scenarios", "16", "--firms", "60", "--quarters", "8", "--chunk", "4"]


def _run(out, cluster, env) -> subprocess.CompletedProcess:
    """``resonance run`` of the default config at SIZES into ``out`` on ``cluster`` (a
    name or file), two workers, in a process of its own with ``env``."""
    args = [*SIZES, "--workers", "2", "--cluster", cluster, "--out", out]
    return subprocess.run(
        [sys.executable, "-m", "resonance", "run", DEFAULT_CONFIG, *args]
        + ["--engine", "direct", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )


def _slurm_cluster_file(tmp_path):
    """A ``kind: slurm`` cluster file for the test's node: two jobs of one core, each one
    single-threaded worker that reaches the scheduler on loopback, with this interpreter;
    numba's cache node-local as docs/hpc.md has it (seeded from the driver's)."""
    from resonance.kernels.compile import cache_dir

    node = tmp_path / "node-local"
    driver_cache = cache_dir().parents[1]  # <cache home>/resonance
    spec = {
        "kind": "slurm",
        "jobs": 2,
        "threads_per_worker": 1,
        "cluster_options": {
            "cores": 1,
            "processes": 1,
            "memory": "1GB",
            "walltime": "00:20:00",
            "queue": PARTITION,
            "interface": "lo",
            "python": sys.executable,
            "local_directory": str(node / "dask"),
            "log_directory": str(tmp_path / "jobs"),
            "job_script_prologue": [
                f"export XDG_CACHE_HOME={node / 'cache'}",
                "mkdir -p $XDG_CACHE_HOME/resonance && "
                f"cp -rn {driver_cache}/. $XDG_CACHE_HOME/resonance/",
            ],
        },
    }
    file = tmp_path / "slurm-test.yaml"
    file.write_text(yaml.safe_dump(spec))
    return file, node, driver_cache


@pytest.fixture(scope="module")
def slurm():
    why = slurm_installed()
    if why:
        pytest.skip(why)
    with SingleNodeSlurm() as cluster:
        yield cluster


@pytest.mark.slow
def test_a_run_on_sbatch_workers_stores_the_local_clusters_bits(tmp_path, slurm):
    from resonance.kernels.compile import cache_dir

    file, node, driver_cache = _slurm_cluster_file(tmp_path)
    on_slurm, local = tmp_path / "slurm.zarr", tmp_path / "local.zarr"
    done = _run(on_slurm, file, slurm.env)
    assert done.returncode == 0, done.stderr[-3000:] + slurm.log("slurmctld")[-2000:]
    assert "Launching batch job" in slurm.log("slurmd")  # the workers were SLURM jobs
    outputs = [f.read_text() for f in (tmp_path / "jobs").glob("*.err")]
    assert sum("Registered to:" in text for text in outputs) >= 1, outputs
    assert list((node / "cache" / cache_dir().relative_to(driver_cache.parent)).rglob("*.nbi"))
    deadline = time.monotonic() + 30  # the run's end cancelled its jobs (they may be
    while slurm.jobs() and time.monotonic() < deadline:  # completing for a moment)
        time.sleep(0.2)
    assert slurm.jobs() == []
    done = _run(local, "local", os.environ)
    assert done.returncode == 0, done.stderr[-3000:]
    assert store_digests(str(on_slurm)) == store_digests(str(local))


def test_cluster_show_prints_the_script_dask_jobqueue_submits(capsys):
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    file = ROOT / "configs" / "clusters" / "slurm.yaml"
    assert main(["cluster", "show", str(file)]) == 0
    shown = capsys.readouterr().out
    spec = ClusterSpec.model_validate(yaml.safe_load(file.read_text()))
    assert shown.strip() == job_script(spec).strip()
    # The script of the cluster a run starts (on loopback here, to start on any machine).
    spec = spec.model_copy(update={"cluster_options": {**spec.cluster_options, "interface": "lo"}})
    with dask_jobqueue.SLURMCluster(**slurm_options(spec)) as cluster:
        submitted = cluster.job_script().replace(cluster.scheduler_address, SCHEDULER_PLACEHOLDER)
    assert submitted.replace("dummy-name", "dask-worker") == job_script(spec)
    assert "#SBATCH -p compute" in shown and "export NUMBA_NUM_THREADS=1" in shown
    assert "export XDG_CACHE_HOME=$TMPDIR/cache" in shown


def test_cluster_show_of_a_local_cluster_is_one_line(capsys):
    assert main(["cluster", "show", str(ROOT / "configs" / "clusters" / "local.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "resonance: error: cluster.kind: is local; only a slurm cluster has job scripts"


def test_a_slurm_cluster_leaves_ctrl_c_to_resonance():
    # dask-jobqueue 0.9.0 sets SIGINT's handler when imported, and fails to import in a
    # thread (where a run starts its cluster): neither may happen to a run.
    pytest.importorskip("dask_jobqueue")
    code = (
        "import signal, sys, threading\n"
        "from pathlib import Path\n"
        "from resonance.flows.engine.cluster import job_script, load_cluster\n"
        "spec = load_cluster('slurm', Path('configs/clusters'))\n"
        "shown = []\n"
        "thread = threading.Thread(target=lambda: shown.append(job_script(spec)))\n"
        "thread.start(); thread.join()\n"
        "assert shown and 'dask_jobqueue' in sys.modules\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
