"""Shared fixtures: the default config at small sizes, and its plan."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from flows.config import load_config
from flows.plan import make_plan

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"


def small_config(scenarios=8, firms=40, quarters=24, **overrides):
    """The default config shrunk to test size; extra overrides as dotted keys."""
    ov = {"sizes.scenarios": scenarios, "sizes.firms": firms, "sizes.quarters": quarters}
    ov.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_config(DEFAULT_CONFIG, ov)


@pytest.fixture(scope="session")
def config():
    return small_config()


@pytest.fixture(scope="session")
def plan(config):
    return make_plan(config)


@pytest.fixture(scope="session")
def outcomes(plan):
    """Kernel outcomes of the small default plan: (scenario, path, quarter, metric)."""
    return plan.simulate()


def path_index(config, name: str) -> int:
    return config.path_names.index(name)


def nominal_params(config) -> np.ndarray:
    """The nominal parameter vector (uncertain ones at mid-range), float64 (k,)."""
    return config.nominal.copy()


@pytest.fixture(scope="session")
def prefect_api():
    """One Prefect test harness (a real temporary API server) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
        # The harness logs its shutdown after pytest has closed the captured streams.
        logging.disable(logging.INFO)
    logging.disable(logging.NOTSET)


def pytest_sessionfinish(session, exitstatus):
    """Prefect stops its temporary API servers at interpreter exit and logs that to a
    stream pytest has already closed; nothing after the session needs logging."""
    logging.disable(logging.CRITICAL)
