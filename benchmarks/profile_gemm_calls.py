"""The exact matrix products of one team thread's training step, through scipy's
OpenBLAS (which hpframe's core calls) and numpy's (which the GEMM-only bound calls).

Each product of a step of 784-128-10 at the given batch, as thread 0 of a team of
two makes it (its half of the inputs, rows 4 * batch at a time for the weight
gradient), with the same transposes and leading dimensions as the core's
``_blas.gemm``, called through ctypes (about 1 us of overhead per call) and timed
with ``time.thread_time`` (best of 5 x 300 calls) on one BLAS thread; then numpy's
whole products as the bound makes them. Used to find why OpenBLAS's Haswell kernels
lose (benchmarks/README.md, "Issue 20 (session of 2026-12-05)")::

    OPENBLAS_CORETYPE=Haswell flock /tmp/hpframe-cpu.lock python benchmarks/profile_gemm_calls.py 64

Only for OpenBLAS wheels of scipy and numpy on Linux (it finds their libraries next to
the packages). Never a test.
"""
import ctypes
import glob
import os
import sys
import time

import numpy as np
import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS)
from threadpoolctl import threadpool_limits

SITE = os.path.dirname(np.__path__[0])


def _sgemm(pattern, symbol, integer):
    lib = ctypes.CDLL(glob.glob(os.path.join(SITE, pattern))[0])
    f = getattr(lib, symbol)

    def call(ta, tb, m, n, k, a, lda, b, ldb, c, ldc):
        # row-major C = op(A) op(B): Fortran gemm with the operands swapped (_blas.pyx)
        one, zero = ctypes.c_float(1), ctypes.c_float(0)
        f(ctypes.byref(ctypes.c_char(b"T" if tb else b"N")),
          ctypes.byref(ctypes.c_char(b"T" if ta else b"N")),
          ctypes.byref(integer(n)), ctypes.byref(integer(m)), ctypes.byref(integer(k)),
          ctypes.byref(one), ctypes.c_void_p(b), ctypes.byref(integer(ldb)),
          ctypes.c_void_p(a), ctypes.byref(integer(lda)), ctypes.byref(zero),
          ctypes.c_void_p(c), ctypes.byref(integer(ldc)))
    return call


def best_us(f, args, n=300):
    best = float("inf")
    for _ in range(5):
        start = time.thread_time_ns()
        for _ in range(n):
            f(*args)
        best = min(best, (time.thread_time_ns() - start) / n / 1e3)
    return best


def main(b):
    libs = {"scipy": _sgemm("scipy.libs/libscipy_openblas-*.so", "scipy_sgemm_", ctypes.c_int),
            "numpy": _sgemm("numpy.libs/libscipy_openblas64_*.so", "scipy_sgemm_64_",
                            ctypes.c_int64)}
    rng = np.random.default_rng(0)
    n_in, n_hid, n_out = 784, 128, 10

    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    X, W0, W1 = arr(b, n_in), arr(n_in, n_hid), arr(n_hid, n_out)
    H, D0, D1, Z1, G = arr(b, n_hid), arr(b, n_hid), arr(b, n_out), arr(b, n_out), arr(n_in, n_hid)

    def p(a, offset=0):
        return a.ctypes.data + 4 * offset
    r1, h1, rows = n_in // 2, n_hid // 2, max(8192 // n_hid, 4 * b)
    calls = [(f"forward 0: {b} x {r1} @ {r1} x {n_hid}",
              (False, False, b, n_hid, r1, p(X), n_in, p(W0), n_hid, p(H), n_hid)),
             (f"forward 1: {b} x {h1} @ {h1} x {n_out}",
              (False, False, b, n_out, h1, p(H), n_hid, p(W1), n_out, p(Z1), n_out)),
             (f"input gradient 1: {b} x {n_out} @ ({h1} x {n_out})^T",
              (False, True, b, h1, n_out, p(D1), n_out, p(W1), n_out, p(D0), n_hid)),
             (f"weight gradient 1: ({b} x {h1})^T @ {b} x {n_out}",
              (True, False, h1, n_out, b, p(H), n_hid, p(D1), n_out, p(G), n_out))]
    for r in range(0, r1, rows):
        m = min(rows, r1 - r)
        calls.append((f"weight gradient 0: ({b} x {m})^T @ {b} x {n_hid}",
                      (True, False, m, n_hid, b, p(X, r), n_in, p(D0), n_hid, p(G), n_hid)))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _machine import describe, machine_info
    print(describe(machine_info()))
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, batch {b}, thread 0 of "
          "a team of 2, one BLAS thread; us per call (GFLOP/s)")
    totals = dict.fromkeys(libs, 0.0)
    with threadpool_limits(limits=1, user_api="blas"):
        for name, args in calls:
            m, n, k = args[2:5]
            cells = []
            for lib, f in libs.items():
                us = best_us(f, args)
                totals[lib] += us
                cells.append(f"{lib} {us:6.1f} ({2 * m * n * k / us / 1e3:5.1f})")
            print(f"  {name:44s} " + "   ".join(cells))
        print("  all of them: " + ", ".join(f"{lib} {t:.1f} us" for lib, t in totals.items()))
        Z0, dW0, dW1 = np.empty((b, n_hid), np.float32), np.empty_like(W0), np.empty_like(W1)
        whole = {"X @ W0": lambda: np.matmul(X, W0, out=Z0),
                 "X^T @ D0": lambda: np.matmul(X.T, D0, out=dW0),
                 "H^T @ D1": lambda: np.matmul(H.T, D1, out=dW1)}
        print("numpy's whole products, as the bound makes them (one thread): "
              + ", ".join(f"{k} {best_us(f, ()):.1f} us" for k, f in whole.items()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 64)
