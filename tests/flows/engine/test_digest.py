"""The default config's store, bit for bit, against digests recorded before a refactor.

The digests were made with the code of commit f1c2352 (before the resonance namespace, the
one run recipe and uncertainty-as-data): a change of layout must not change one bit of what
the default config stores. Floating-point bits depend on the CPU's vector width, so they
hold for the x86-64 AVX2 machines this project runs CI on.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import xarray as xr

from resonance.flows.config import load_config
from resonance.flows.engine.execute import SequentialExecutor, run_plan
from resonance.flows.engine.plan import make_plan
from tests.helpers import DEFAULT_CONFIG

RECORDED = {
    "sobol": "381bf522d6e1f5279526e8a9a00f78157a924518c21de2f6b68d5bc4f0a053e6",
    "mc": "e1ddd28a2a8f7aeb6f459b2ae4fa589d1f76fb7271d29db98540097018409181",
    "lhs": "f42e7c0e4382d674ebe298029cf6698c7c4af6010345300102820ca1f6fe0c0f",
}


def store_digest(store: str) -> str:
    """SHA-256 of every data variable of the draws group (but chunk_done) and of the root
    bands, in name order, with their dtypes: everything a reader gets but the attributes."""
    h = hashlib.sha256()
    draws = xr.open_zarr(store, group="draws")
    bands = xr.open_zarr(store)
    for ds, skip in ((draws, {"chunk_done"}), (bands, set())):
        for name in sorted(str(v) for v in ds.data_vars if v not in skip):
            a = np.ascontiguousarray(ds[name].values)
            h.update(name.encode())
            h.update(str(a.dtype).encode())
            h.update(a.tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("sampler", list(RECORDED))
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
    assert store_digest(store) == RECORDED[sampler]
