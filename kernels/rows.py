"""Rows of a kernel's 2-D buffer as views whose addresses LLVM can compare.

Why this module exists: the firm loop (``step.quarter``) reads and writes some thirty rows
of the firm state and the quarter's draws. Taken as ``state[TECH]``, a row starts at the
buffer's address plus its index times the buffer's row stride, a number LLVM knows nothing
about, so before it runs the loop eight or sixteen firms at a time it checks that no row
it writes overlaps another it reads or writes: about 400 comparisons, once per call, which
at 100 firms took 14 % of the kernel's time (``perf`` on the Intel VM), a cost that does
not shrink with the firms. ``row(buffer, r, n)`` builds the view itself, ``r * n``
elements from the start, with n the row length zero-extended from 32 bits
(``row_length``): then LLVM's loop analysis sees that rows r1 != r2 are at least n
elements apart and that a loop over ``range(n)`` cannot reach from one to the other, and
it drops the checks. Same loads and stores, same bits.

Without the JIT (``NUMBA_DISABLE_JIT=1``) both are plain numpy.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array, populate_array

# vmath first, as in every jitted module: it sets numba's CPU features before any decoration
from .vmath import KERNEL_ONLY, kernel_function


@kernel_function(inline="always")
def row_length(buffer):
    """buffer.shape[1], int64, as a zero-extended 32-bit number: a length LLVM knows is not
    negative. The kernels' buffers hold one column per firm: fewer than 2**31 (the config's
    limit), and ``simulate`` refuses 2**32 or more."""
    return np.int64(np.uint32(buffer.shape[1]))


def row(buffer, r, n):
    """Row r of a C-contiguous 2-D ``buffer`` seen as rows of n elements: a 1-D view of
    elements [r n, (r + 1) n) of its data. With n = ``row_length(buffer)``, the buffer's
    own row r; the kernels call it so, and the two builds agree for any n."""
    return buffer.reshape(-1)[r * n : (r + 1) * n]


@intrinsic
def _row_view(typingctx, buffer, r, n):
    if not (isinstance(buffer, types.Array) and buffer.ndim == 2 and buffer.layout == "C"):
        return None
    if not (isinstance(r, types.Integer) and isinstance(n, types.Integer)):
        return None
    view = buffer.copy(ndim=1, layout="C")  # keeps the buffer's readonly and aligned flags

    def codegen(context, builder, signature, args):
        data, r, n = args
        source = make_array(signature.args[0])(context, builder, data)
        out = make_array(view)(context, builder)
        populate_array(
            out,
            data=builder.gep(source.data, [builder.mul(r, n)]),
            shape=[n],
            strides=[source.itemsize],
            itemsize=source.itemsize,
            meminfo=source.meminfo,
            parent=source.parent,
        )
        return impl_ret_borrowed(context, builder, view, out._getvalue())

    return view(buffer, types.intp, types.intp), codegen


@overload(row, inline="always", jit_options=dict(KERNEL_ONLY))
def _row(buffer, r, n):
    return lambda buffer, r, n: _row_view(buffer, r, n)
