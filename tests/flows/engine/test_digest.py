"""The default config's store, bit for bit, against digests recorded on a known machine.

A change of layout or engine must not change one bit of what the default config stores;
a change of the model does, and then the digests are recorded anew. The draws' digests
were last recorded with the recalibration of issue 11 and the table-drawn attributes; the
bands' with the exact in-memory reduction of issue 14 (the draws did not change then).
Store format 2 (one sharded ``outcome`` array, the design made per chunk) changed no bit:
the rocketlake digests were recorded before it and passed after it. Issue 15 changed the
model (S4's world frontier, chokepoint, talent gap and synergy; three more uncertain
parameters, so every design point moved) and the store (the chokepoint's variables): the
digests were recorded anew, on rocketlake only. Issue 24 changed the model again (hazards
composed as rates, the conversion ceiling, innovation efficiency redefined, the metric
policy_cost in place of traditional_efficiency): recorded anew, on rocketlake. Issue 25
changed it again (the seeds' mechanisms closed, product lines and events, firm age in the
snapshots, recalibrated defaults): recorded anew, on rocketlake. Issue 29 changed no
number of the model but the vector width: on AVX-512 CPUs the kernels are compiled for
512-bit vectors (``kernels/compile.py: WIDE_VECTORS``), which reorders the reassociated
sums over firms, so the last bits moved: recorded anew, on rocketlake (with 256-bit
vectors, ``NUMBA_CPU_FEATURES`` set to the host's, the issue's code gives the digests of
issue 25 bit for bit). Issue 29's second round halved the interleave of the vectorised
firm loops where the vectors are 512-bit (``kernels/compile.py: VECTOR_INTERLEAVE``) and
ran their remainders 4 lanes at a time (``VECTOR_EPILOGUE``), which reorders the same
sums again: recorded anew, on rocketlake. Its third round sorts each (path, quarter)'s
draws for the in-memory bands (``bands.row_bands``) and takes the mean and standard
deviation over the sorted rows: the draws and the quantiles kept every bit, the means and
standard deviations moved in their last bits, so the bands' digests were recorded anew;
and it keeps the draws at the kernel's precision (``layout.outcome_dtype``: the float32
kernel's outcomes rounded to float32, tested against the kernel), so both digests were
recorded anew. Its fourth round draws founders and entrants alike in passes over the
firms (``firms.draw_firms``), with ``vmath``'s float64 log and cos (fdlibm's, within one
ulp of numpy's) in their Box-Muller normals, and sums the founders' sizes and the shares
after entry in loops of their own, which the reassociation flag lets LLVM vectorise (a
different order of the same additions): no equation changed, but the normals and the
normalised sizes moved in their last bits, and with them the last bits of the draws (in a
float32 run of 16 scenarios of 200 firms, 95.2 % of the outcomes kept every bit and the
largest change was one float32 ulp): both digests were recorded anew, on rocketlake. Its
fifth round (the quarter's rows as views LLVM can tell apart, ``kernels/rows.py``; the
chokepoint drawn inside the chunk kernel) changed no bit: on an Emerald Rapids VM (LLVM:
``emeraldrapids``, the same 512-bit vectors) the code before and after it gives the
rocketlake digests bit for bit, so they are recorded for that CPU too.
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

# sampler -> digests of the draws and of the bands, recorded on rocketlake: 512-bit vectors
# (issue 29), the model of issue 25, vmath's float64 draws
WIDE_VECTORS = {
    "sobol": (
        "01d73bb48cbdfd987c2ba7c77737576c26c772ba819082154826d921103e9024",
        "355a05b1a3a48534a1a6ded3e922a5934bdad605523573291d094ce4aa99799c",
    ),
    "mc": (
        "113ada9157b078bddba0676dfe0e222124355dbfde23db2f1f8cfecd15b5886d",
        "a03f97d5a8c3201f3d6920dc192da539d88eec3cf742f543d8a8b15c82d83623",
    ),
    "lhs": (
        "72686c54481b33ec7644c10354a7bb3770656daf957501abd8ac11ec16636c12",
        "1d479607a827acef94d1f9583f02f4344d6b117a97b2517c211bea542a3b94f8",
    ),
}
RECORDED = {  # host CPU (LLVM's name) -> the digests that hold there
    "rocketlake": WIDE_VECTORS,
    "emeraldrapids": WIDE_VECTORS,  # measured: the same bits as rocketlake
    # znver4's digests (AMD EPYC) predate issues 15 and 24 and could not be recorded again
    # on an Intel machine: the test skips there until they are.
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
