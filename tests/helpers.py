"""Helpers shared by the tests (imported by them; conftest.py holds only fixtures)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from resonance.flows.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"


def small_config(scenarios=8, firms=40, quarters=24, **overrides):
    """The default config shrunk to test size, read without any posterior it names (the
    mechanism tests run at the documented nominal values of ``parameters:``, not at one
    posterior draw); extra overrides as dotted keys."""
    ov = {"sizes.scenarios": scenarios, "sizes.firms": firms, "sizes.quarters": quarters}
    ov.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_config(DEFAULT_CONFIG, ov, without_posterior=True)


def write_config(tmp_path: Path, mutate, name: str = "config.yaml") -> Path:
    """The default config changed by ``mutate(raw_dict)``, written to ``tmp_path`` beside a
    copy of the path files and the costs file it names; a posterior it names (``uncertain:
    {from: posterior.zarr}``) is named by its path in configs/."""
    import yaml

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    posterior = raw["uncertain"].get("from")
    if posterior is not None:  # a posterior lies beside the default config, not in tmp_path
        raw["uncertain"]["from"] = str(DEFAULT_CONFIG.parent / posterior)
    mutate(raw)
    (tmp_path / "paths").mkdir(exist_ok=True)
    for f in (ROOT / "configs" / "paths").glob("*.yaml"):
        (tmp_path / "paths" / f.name).write_text(f.read_text())
    (tmp_path / "costs.yaml").write_text((ROOT / "configs" / "costs.yaml").read_text())
    file = tmp_path / name
    file.write_text(yaml.safe_dump(raw))
    return file


def resonance_cli(
    *args, timeout: float = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """``python -m resonance ARGS`` in a process of its own, from the repository root, with
    its output captured as text; ``env`` replaces the environment when given."""
    return subprocess.run(
        [sys.executable, "-m", "resonance", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def tiny_run(
    out, scenarios=4, firms=10, quarters=4, chunk=2, workers=1, engine="direct", paths="baseline"
) -> list[str]:
    """Arguments of ``resonance run`` (default config) for a run of seconds into ``out``,
    without a progress bar; ``engine=None`` leaves the engine at its default (Prefect)."""
    args = [
        "run",
        str(DEFAULT_CONFIG),
        "--scenarios",
        scenarios,
        "--firms",
        firms,
        "--quarters",
        quarters,
        "--paths",
        paths,
        "--chunk",
        chunk,
        "--workers",
        workers,
        "--out",
        out,
        "--no-progress",
    ]
    if engine:
        args += ["--engine", engine]
    return [str(a) for a in args]


def path_index(config, name: str) -> int:
    return config.path_names.index(name)


def nominal_params(config) -> np.ndarray:
    """The kernel's parameter vector at the nominal values (uncertain ones at mid-range)
    and without policy cost, float64 (N_INPUTS,)."""
    from resonance.kernels.registry import COST_COEFFICIENTS

    return np.concatenate([config.nominal, np.zeros(len(COST_COEFFICIENTS))])


def synthetic_posterior(values: dict, weights=None, low=None, high=None):
    """A posterior Dataset in the layout of ``resonance.flows.posterior`` with the given
    draws: ``values`` maps a parameter name to its draws (all of one length n); weights
    default to equal; prior bounds to the draws' min and max (or ``low``/``high`` dicts)."""
    import xarray as xr

    names = list(values)
    value = np.column_stack([np.asarray(values[n], dtype=np.float64) for n in names])
    n = value.shape[0]
    weight = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    low = low or {k: float(np.min(values[k])) for k in names}
    high = high or {k: float(np.max(values[k])) for k in names}
    return xr.Dataset(
        {
            "value": (("draw", "parameter"), value),
            "weight": ("draw", weight / weight.sum()),
            "facts": (("draw", "fact"), np.zeros((n, 1))),
            "prior_low": ("parameter", [low[k] for k in names]),
            "prior_high": ("parameter", [high[k] for k in names]),
            "epsilon": ("generation", [1.0]),
        },
        coords={"draw": np.arange(n), "parameter": names, "fact": ["tfp_growth"]},
        attrs={"seed": 1, "library": "test"},
    )


def small_calibration_file(folder: Path, **abc) -> Path:
    """A calibration file (configs/calibration.yaml's layout) of the default config small
    enough for a test: two model parameters and a firm parameter, a 12-quarter horizon, an
    ABC-SMC of 12 particles in two generations, checks on 5 draws; ``abc`` overrides the
    ``abc:`` section's entries."""
    import yaml

    raw = {
        "config": str(DEFAULT_CONFIG),
        "seed": 3,
        "fixed": {"sizes.quarters": 12},
        "search": {
            "parameters.inc_scale": [0.002, 0.012],
            "parameters.chi": [0.02, 0.12],
            "firm_parameters.jump_sigma": [1.2, 2.2],
        },
        "abc": {
            "particles": 12,
            "generations": 2,
            "scenarios": 4,
            "firms": 120,
            "scale_runs": 4,
            "simulations": 200,
            "check_draws": 5,
            "rank_scenarios": 8,
            "rank_firms": 20,
            **abc,
        },
    }
    file = folder / "calibration.yaml"
    file.write_text(yaml.safe_dump(raw))
    return file


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the OS's pick; a server started
    on it right away gets it, as the servers of the tests' fixtures do)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
