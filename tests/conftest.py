"""Shared fixtures: the default config at small sizes, its plan, one Prefect harness."""

from __future__ import annotations

import logging

import pytest

from resonance.kernels.compile import configure

# Test modules import jitted kernel modules directly; numba fixes a function's cache
# location when it is decorated, so configure before any test module is collected.
configure()

from resonance.flows.engine.plan import make_plan  # noqa: E402
from tests.helpers import small_config  # noqa: E402


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
