"""The registry's integer constants point at their own names, and everything is documented."""

from __future__ import annotations

import resonance.kernels.registry as reg

# Written out by hand: a constant the registry unpacks in the wrong order fails here.
STATE_CONSTANTS = {
    "TECH": "tech_level",
    "PIPELINE": "pipeline",
    "PARADIGM": "paradigm",
    "DEBT": "transition_debt",
    "ADOPTION": "adoption",
    "INTEGRATION": "integration",
    "DATA": "data",
    "TALENT": "talent",
    "CAPITAL": "capital",
    "GAIN": "gain",
    "RD": "rd",
    "SHARE": "share",
    "ABSORB": "absorb",
    "RISK": "risk",
    "LAYERS": "layers",
    "LOCK": "lock",
    "EFFICIENCY": "efficiency",
    "CONVERTED": "converted",
    "BROKE_THROUGH": "broke_through",
    "COMPETITIVENESS": "competitiveness",
    "RISK_GATE": "risk_gate",
    "CONVERSION_LAG": "conversion_lag",
    "ENTERED": "entered",
    "PRODUCTIVITY": "productivity",
    "LOG_TFP": "log_tfp",
    "BOUND": "bound",
    "KEEP": "chokepoint_keep",
    "LOG_KEEP": "chokepoint_log_keep",
    "BORN": "born",
}
SNAPSHOT_CONSTANTS = {
    "S_LOG_TFP": "log_tfp",
    "S_SHARE": "market_share",
    "S_RD": "rd_intensity",
    "S_PARADIGM": "new_paradigm",
    "S_ENTERED": "entered",
    "S_BREAKTHROUGH": "breakthrough_value",
    "S_AGE": "age",
}
METRIC_CONSTANTS = {
    "M_EFFICIENCY": "innovation_efficiency",
    "M_TECH": "tech_efficiency",
    "M_FACTOR": "factor_efficiency",
    "M_INDUSTRY": "industry_efficiency",
    "M_COUPLING": "coupling",
    "M_COORDINATION": "coordination",
    "M_COUPLING_CORR": "coupling_corrected",
    "M_COORDINATION_CORR": "coordination_corrected",
    "M_NEW_QUALITY": "new_quality_share",
    "M_NEW_PARADIGM": "new_paradigm_share",
    "M_BREAKTHROUGH": "breakthrough_rate",
    "M_CONVERSION": "conversion_rate",
    "M_GAP": "institutional_gap",
    "M_TFP": "tfp",
    "M_DATA": "data_stock",
    "M_CHOKE_LOSS": "chokepoint_loss",
    "M_POLICY_COST": "policy_cost",
}


def test_every_parameter_constant_names_its_own_column():
    for names in (reg.PARAMETERS, reg.FIRM_PARAMETERS):
        for k, name in enumerate(names):
            assert getattr(reg, name.upper()) == k, name


def test_every_state_and_metric_constant_names_its_own_row():
    assert len(STATE_CONSTANTS) == reg.N_STATE == len(reg.STATE)
    for const, name in STATE_CONSTANTS.items():
        assert reg.STATE[getattr(reg, const)] == name, const
    assert len(METRIC_CONSTANTS) == reg.N_METRICS == len(reg.METRICS)
    for const, name in METRIC_CONSTANTS.items():
        assert reg.METRICS[getattr(reg, const)] == name, const
    assert len(SNAPSHOT_CONSTANTS) == reg.N_SNAPSHOT == len(reg.SNAPSHOT)
    for const, name in SNAPSHOT_CONSTANTS.items():
        assert reg.SNAPSHOT[getattr(reg, const)] == name, const


def test_world_events_are_parameters():
    assert set(reg.WORLD_EVENT) <= set(reg.PARAMETERS)


def test_names_are_unique_across_parameters_and_metrics():
    # a store holds parameters (draws group inputs) and metrics side by side
    names = [*reg.PARAMETERS, *reg.FIRM_PARAMETERS, *reg.METRICS]
    assert len(names) == len(set(names))


def test_every_parameter_and_metric_is_documented():
    for info in (*reg.PARAMETER_INFO.values(), *reg.FIRM_INFO.values(), *reg.METRIC_INFO.values()):
        assert info.long_name and info.description and info.units
        lo, hi = info.bounds
        assert lo < hi, info.name
