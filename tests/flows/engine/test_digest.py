"""The default config's store, bit for bit, against digests recorded on a known machine.

A change of layout or engine must not change one bit of what the default config stores;
a change of the model does, and then the digests are recorded anew. The draws' digests
were last recorded with the recalibration of issue 11 and the table-drawn attributes; the
bands' with the exact in-memory reduction of issue 14 (the draws did not change then).
Store format 2 (one sharded ``outcome`` array, the design made per chunk) changed no bit:
the rocketlake digests were recorded before it and pass after it.
Floating-point bits depend on the code LLVM generates for the host CPU (vector width, hence
the order of reassociated sums), so a set of digests holds for the CPU it was recorded
on: the test runs where numba's host CPU is one of ``RECORDED``'s and says so where it is
not.
"""

from __future__ import annotations

import hashlib

import llvmlite.binding as llvm
import numpy as np
import pytest
import xarray as xr

from resonance.flows.config import load_config
from resonance.flows.engine.execute import SequentialExecutor, run_plan
from resonance.flows.engine.layout import by_metric
from resonance.flows.engine.plan import make_plan
from tests.helpers import DEFAULT_CONFIG

RECORDED = {  # host CPU (LLVM's name) -> sampler -> digests of the draws and of the bands
    "rocketlake": {  # recorded before store format 2, and unchanged by it
        "sobol": (
            "348929993db3d1ff7b6577d35e1883b573a1c92f026055cb7408bd53de6fd7a7",
            "1ff2c7b9829c9ddc42cc99c8e0c8a62739d2d04364cfb187e940b1d73244a268",
        ),
        "mc": (
            "f8f0b94a5fc75965c348ffb6b947b59a0d9d351e05f7a366752b30d4a6a0e700",
            "0ad6d9e2293bca6abaf4b72168f442b2043cce2bc47b43094fbf77183f1e4ba1",
        ),
        "lhs": (
            "9754e8afce0949b30b68bf0313c9c226b64cfe63a8f8a23a5f83a5a7adaf70e4",
            "3d2898ccd233cb2c431f97e56ba0e6f7c02ea303374da6abcad1f1bdbd9e496a",
        ),
    },
    "znver4": {
        "sobol": (
            "b150dc0579764eeaf3eeac0b8b8dc6429745460b2376359fa7e8c4d567d71bdb",
            "e769319aeb2cd778b6bc22ec79359a07c82e5ec141ceb7a80f70de554a60909e",
        ),
        "mc": (
            "2432b18447c08fdf388694c1340d652695c00b84b57275c55e5e86fc4bbae738",
            "6347bd77eff512d9b8d2107bf8fb0c80ba4177dbc12febca5d96dfd11a10675c",
        ),
        "lhs": (
            "7302909e296afa9cd11384b7b05db2c015ecee594598bfbf0b9ee3890737401a",
            "0c1ba773b2d9d0afd1ca971c50f631e9dfc33dae6777936641895cc3a1d47eaf",
        ),
    },
}
HOST = llvm.get_host_cpu_name()


def digest(ds: xr.Dataset, skip=frozenset()) -> str:
    """SHA-256 of every data variable of ``ds`` but ``skip``, in name order, with dtypes."""
    h = hashlib.sha256()
    for name in sorted(str(v) for v in ds.data_vars if v not in skip):
        a = np.ascontiguousarray(ds[name].values)
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def store_digests(store: str) -> tuple[str, str]:
    """Digests of the draws group, a variable per metric (as store format 1 kept them,
    without its chunk_done marks), and of the root bands: everything a reader gets but the
    attributes."""
    draws = digest(by_metric(xr.open_zarr(store, group="draws")))
    return draws, digest(xr.open_zarr(store))


@pytest.mark.skipif(HOST not in RECORDED, reason=f"no digests recorded for CPU {HOST}")
@pytest.mark.parametrize("sampler", ["sobol", "mc", "lhs"])
def test_default_config_store_is_bit_identical_to_the_recorded_digest(tmp_path, sampler):
    store = str(tmp_path / "s.zarr")
    config = load_config(
        DEFAULT_CONFIG,
        {
            "sizes.scenarios": 64,
            "sizes.firms": 60,
            "sizes.quarters": 20,
            "chunk_scenarios": 16,
            "sampler": sampler,
            "store": store,
        },
    )
    run_plan(make_plan(config), SequentialExecutor())
    draws, bands = store_digests(store)
    assert draws == RECORDED[HOST][sampler][0], "the draws changed"
    assert bands == RECORDED[HOST][sampler][1], "the bands changed"
