"""The registry's integer constants point at their own names."""

from __future__ import annotations

import resonance.kernels.registry as reg


def test_every_constant_names_its_own_column():
    for names in (reg.PARAMETERS, reg.FIRM_PARAMETERS):
        for k, name in enumerate(names):
            assert getattr(reg, name.upper()) == k, name
    assert reg.STATE[reg.TECH] == "tech_level" and reg.STATE[reg.SHARE] == "share"
    assert reg.STATE[reg.COMPETITIVENESS] == "competitiveness"
    metric_consts = [c for c in dir(reg) if c.startswith("M_")]
    assert sorted(getattr(reg, c) for c in metric_consts) == list(range(reg.N_METRICS))


def test_every_parameter_and_metric_is_documented():
    for info in (*reg.PARAMETER_INFO.values(), *reg.FIRM_INFO.values(), *reg.METRIC_INFO.values()):
        assert info.long_name and info.description and info.units
