"""The calibration: the default config meets every fact and target; the search ranks its
candidates by the score it reports; a bad calibration file is refused in one line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from resonance.flows.analysis import calibrate
from resonance.flows.analysis import facts as stylized
from resonance.flows.cli import main
from resonance.flows.config import load_config
from tests.helpers import DEFAULT_CONFIG, ROOT


@pytest.fixture(scope="module")
def default_row():
    """The default config on its facts sample: 16 scenarios x 1,000 firms, every path."""
    config = load_config(DEFAULT_CONFIG, {"sizes.scenarios": 16, "sizes.firm_snapshots": 16})
    return calibrate.evaluate(config)


def test_default_config_puts_every_baseline_fact_in_its_range(default_row):
    for fact in stylized.FACTS:
        assert fact.low <= default_row[fact.name] <= fact.high, (fact.name, default_row[fact.name])


def test_default_config_keeps_every_path_below_ten_percent_and_all_paths_on_top(default_row):
    growth = {k: v for k, v in default_row.items() if k.startswith("tfp_growth[")}
    assert len(growth) == 10  # every path of the default config
    assert max(growth.values()) <= stylized.MAX_PATH_TFP_GROWTH
    assert max(growth, key=growth.get) == "tfp_growth[all_paths]"


def test_default_config_meets_the_calibration_targets(default_row):
    assert calibrate.PARADIGM_RANGE[0] <= default_row["new_paradigm_share"]
    assert default_row["new_paradigm_share"] <= calibrate.PARADIGM_RANGE[1]
    for path in calibrate.TARGETS:
        assert default_row[f"moves[{path}]"] > 0, path
    assert default_row["efficiency_lead"] > 0  # all_paths beats every single path
    assert default_row["misses"] == 0


def test_growth_rate_shape_is_in_range_every_year(default_row):
    kurt = stylized.FACTS[stylized.FACT_NAMES.index("growth_kurtosis")]
    for key in ("growth_kurtosis_first", "growth_kurtosis_last"):
        assert kurt.low <= default_row[key] <= kurt.high, key


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3.0, 0.0), (1.0, 0.0), (6.0, 0.0), (0.0, 0.2), (11.0, 1.0), (math.nan, 1.0)],
)
def test_a_miss_is_the_distance_outside_the_range_in_widths(value, expected):
    assert calibrate._outside(value, 1.0, 6.0) == pytest.approx(expected)


def _spec_file(tmp_path, **changes):
    raw = {
        "config": str(DEFAULT_CONFIG),
        "scenarios": 4,
        "firms": 150,
        "candidates": 4,
        "seed": 3,
        "fixed": {"sizes.quarters": 12, "paths": ["baseline", "all_paths"]},
        "search": {"parameters.inc_scale": [0.004, 0.02], "parameters.chi": [0.02, 0.06]},
        "confirm": {"top": 2, "seed": 5, "scenarios": 4},
    }
    raw.update(changes)
    file = tmp_path / "calibration.yaml"
    file.write_text(yaml.safe_dump(raw))
    return file


def test_search_ranks_confirmed_candidates_first_by_their_summed_score(tmp_path):
    spec = calibrate.load_spec(_spec_file(tmp_path))
    ranking = calibrate.search(spec)
    assert ranking.sizes["candidate"] == 4
    confirmed = ranking.confirmed.values
    np.testing.assert_array_equal(confirmed, [1, 1, 0, 0])
    scores = ranking.score.values
    assert scores[0] <= scores[1] and scores[2] <= scores[3]
    for name, (low, high) in spec.search.items():
        assert np.all((ranking[name] >= low) & (ranking[name] <= high))
    # The design is the spec's: the same file gives the same candidates and numbers.
    again = calibrate.search(spec)
    np.testing.assert_array_equal(again.score.values, scores)


def test_the_repository_calibration_file_loads(tmp_path):
    spec = calibrate.load_spec(ROOT / "configs" / "calibration.yaml")
    assert spec.config == DEFAULT_CONFIG.resolve() and spec.candidates >= 64


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"search": {"parameters.inc_scale": [0.02, 0.01]}}, "search.parameters.inc_scale"),
        ({"search": {"parameters.no_such": [0.0, 1.0]}}, "no_such"),
        ({"candidates": 0}, "candidates"),
        ({"speed": 3}, "speed"),
    ],
)
def test_a_bad_calibration_file_is_refused_in_one_line(tmp_path, capsys, changes, where):
    assert main(["calibrate", str(_spec_file(tmp_path, **changes))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err and "Traceback" not in err
