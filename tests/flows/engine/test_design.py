"""The design made a chunk at a time (issue 14, item 8): the same points as the whole
design, bit for bit, whichever chunks ask; and nothing the size of the run held."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import qmc

from resonance.flows.config import load_config
from resonance.flows.engine.plan import Chunks, Design, make_plan, sobol_points
from resonance.flows.errors import ConfigError
from tests.helpers import DEFAULT_CONFIG


@pytest.mark.parametrize("d", [1, 6, 10])
def test_sobol_points_are_scipys_bit_for_bit_at_any_offset(d):
    with warnings.catch_warnings():  # n not a power of two
        warnings.simplefilter("ignore")
        whole = qmc.Sobol(d=d, scramble=True, rng=np.random.default_rng(11)).random(3000)
        deep = qmc.Sobol(d=d, scramble=True, rng=np.random.default_rng(11))
        far = deep.fast_forward(2_500_000).random(64)
    np.testing.assert_array_equal(sobol_points(11, d, 0, 3000), whole)
    np.testing.assert_array_equal(sobol_points(11, d, 1234, 2345), whole[1234:2345])
    np.testing.assert_array_equal(sobol_points(11, d, 2_500_000, 2_500_064), far)


@pytest.mark.parametrize("sampler", ["mc", "sobol", "lhs", "saltelli"])
def test_a_chunks_design_is_its_slice_of_the_whole_design(sampler):
    multiple = load_config(DEFAULT_CONFIG).saltelli_multiple  # d + 2
    n = 30 * multiple if sampler == "saltelli" else 500
    config = load_config(DEFAULT_CONFIG, {"sizes.scenarios": n, "sampler": sampler})
    design = Design.of(config)
    whole = design.theta(0, n)
    assert whole.shape == (n, len(config.uncertain_names)) and np.isfinite(whole).all()
    cuts = [0, 7, 96, 97, 333, n]
    parts = [design.theta(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    for d, dist in enumerate(config.distributions):  # each column inside its support
        low, high = dist.support
        assert (whole[:, d] >= low).all() and (whole[:, d] <= high).all()


def test_the_plan_of_two_billion_scenarios_holds_no_array_of_them():
    config = load_config(DEFAULT_CONFIG, {"sizes.scenarios": 2_000_000_000, "sampler": "mc"})
    plan = make_plan(config)
    cs = config.chunk_scenarios
    assert isinstance(plan.chunks, Chunks) and len(plan.chunks) == -(-2_000_000_000 // cs)
    assert plan.chunks[-1] == ((len(plan.chunks) - 1) * cs, 2_000_000_000)
    assert plan.chunks[3] == (3 * cs, 4 * cs)
    # the last chunk's points cost what the first's cost, and are the sequence's own
    a, b = plan.chunks[-1]
    theta = plan.design.theta(a, b)
    assert theta.shape == (b - a, len(config.uncertain_names)) and np.isfinite(theta).all()
    with pytest.raises(IndexError):
        plan.chunks[len(plan.chunks)]


@pytest.mark.parametrize(("sampler", "n"), [("sobol", 2**30 + 1), ("lhs", 2**24 + 1)])
def test_a_design_past_its_samplers_size_is_refused_in_one_line(sampler, n):
    with pytest.raises(ConfigError, match="sizes.scenarios") as caught:
        load_config(DEFAULT_CONFIG, {"sizes.scenarios": n, "sampler": sampler})
    assert "sampler: mc" in str(caught.value) and "\n" not in str(caught.value)
