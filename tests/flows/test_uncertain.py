"""The distributions of uncertain parameters: each maps the unit interval onto its law."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import stats

from resonance.flows.uncertain import Distribution, parse

ADAPTER = TypeAdapter(Distribution)
U = (np.arange(20_000) + 0.5) / 20_000  # a stratified sample of the unit interval

LAWS = {
    "uniform": ({"low": 2.0, "high": 12.0}, stats.uniform(2.0, 10.0)),
    "loguniform": ({"dist": "loguniform", "low": 0.02, "high": 0.15}, stats.loguniform(0.02, 0.15)),
    "triangular": (
        {"dist": "triangular", "low": 8.0, "mode": 12.0, "high": 28.0},
        stats.triang(0.2, loc=8.0, scale=20.0),
    ),
    "truncnormal": (
        {"dist": "truncnormal", "mean": 0.05, "sd": 0.02, "low": 0.01, "high": 0.12},
        stats.truncnorm(-2.0, 3.5, loc=0.05, scale=0.02),
    ),
}


@pytest.mark.parametrize("name", list(LAWS))
def test_each_distribution_follows_its_law(name):
    raw, law = LAWS[name]
    dist = ADAPTER.validate_python(parse(raw))
    x = dist.ppf(U)
    assert np.all(np.diff(x) >= 0)  # monotone in u, so designs keep their stratification
    lo, hi = dist.support
    assert x.min() >= lo and x.max() <= hi
    assert stats.kstest(x, law.cdf).statistic < 1e-3
    assert dist.attrs()["distribution"] == dist.dist


def test_integer_uniform_gives_each_whole_number_equally():
    dist = ADAPTER.validate_python({"dist": "integer", "low": 2, "high": 8})
    x = dist.ppf(np.append(U, 1.0))
    assert set(np.unique(x)) == set(range(2, 9))
    counts = np.bincount(x.astype(int))[2:]
    assert counts.max() - counts.min() <= 2


def test_a_pair_is_a_uniform_and_its_formula_is_the_one_of_earlier_stores():
    dist = ADAPTER.validate_python(parse([0.5, 2.0]))
    assert dist.dist == "uniform" and dist.nominal == 1.25
    # lo + u (hi - lo), the same floating-point operations as before distributions existed
    np.testing.assert_array_equal(dist.ppf(U), 0.5 + U * (2.0 - 0.5))


@pytest.mark.parametrize(
    "raw, message",
    [
        ([2.0, 1.0], "must be below high"),
        ([1.0], "two numbers"),
        ({"dist": "triangular", "low": 0, "mode": 2, "high": 1}, "mode 2 must lie"),
        ({"dist": "loguniform", "low": -1, "high": 1}, "above 0"),
        ({"dist": "truncnormal", "mean": 0, "sd": 0, "low": -1, "high": 1}, "greater than 0"),
        ({"dist": "integer", "low": 0.5, "high": 3}, "whole numbers"),
        ({"dist": "uniform", "low": 0, "high": 1, "mode": 0.5}, "extra"),
    ],
)
def test_impossible_parameters_are_refused(raw, message):
    with pytest.raises(Exception, match=message):
        ADAPTER.validate_python(parse(raw))
