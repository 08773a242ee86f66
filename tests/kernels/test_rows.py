"""``rows.row``: views of a buffer's rows that LLVM can prove apart (kernels/rows.py)."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from resonance.kernels import load

load()  # numba configured as the kernels are (the vectoriser's memory-check limit)

from resonance.kernels.rows import row, row_length  # noqa: E402


@njit(fastmath={"reassoc"}, inline="always")
def update(a, b, c, d, n):
    """A loop of the firm loop's shape: rows read and written in place."""
    s = np.float32(0.0)
    for i in range(n):
        v = a[i] * np.float32(2.0) + b[i]
        b[i] = v
        c[i] = c[i] * v
        d[i] = v * a[i]
        s += v
    return s


@njit(fastmath={"reassoc"})
def by_rows(work):
    n = row_length(work)
    return update(row(work, 0, n), row(work, 1, n), row(work, 2, n), row(work, 3, n), n)


@njit(fastmath={"reassoc"})
def by_index(work):
    return update(work[0], work[1], work[2], work[3], work.shape[1])


def test_a_row_is_the_buffers_row_and_writes_through():
    work = np.arange(4 * 37, dtype=np.float32).reshape(4, 37)
    expected = work.copy()
    v = expected[0] * 2 + expected[1]
    expected[1], expected[2], expected[3] = v, expected[2] * v, v * expected[0]
    assert by_rows(work) == pytest.approx(float(v.sum()), rel=1e-6)
    np.testing.assert_array_equal(work, expected)


def test_rows_need_no_overlap_check_where_indexing_does():
    work = np.ones((4, 100), np.float32)
    for f in (by_rows, by_index):
        f(work)
    ir = {f: f.inspect_llvm(f.signatures[0]) for f in (by_rows, by_index)}
    assert all("vector.body:" in code for code in ir.values())  # both loops vectorised
    assert ir[by_index].count("vector.memcheck:") > 0  # the control: rows LLVM can't tell apart
    assert ir[by_rows].count("vector.memcheck:") == 0


@njit
def jitted_row(work, r, n):
    return row(work, r, n).copy()


def test_both_builds_see_the_buffer_as_rows_of_n():
    work = np.arange(24.0).reshape(3, 8)
    for r, n in ((0, 8), (2, 8), (1, 5), (3, 4)):
        np.testing.assert_array_equal(jitted_row(work, r, n), row(work, r, n))
        np.testing.assert_array_equal(row(work, r, n), work.reshape(-1)[r * n : (r + 1) * n])


def test_rows_are_plain_numpy_without_the_jit():
    # called from Python: what every kernel calls under NUMBA_DISABLE_JIT=1
    work = np.arange(12.0).reshape(3, 4)
    assert row_length(work) == 4
    view = row(work, 1, 4)
    np.testing.assert_array_equal(view, work[1])
    view[0] = -1.0
    assert work[1, 0] == -1.0
