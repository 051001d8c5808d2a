"""Memory of training on a sparse X: a 100,000 x 20,000 CSR matrix at 1% density.

The dense float32 matrix would take 8 GB; hpframe never makes it: the compiled core
scatters each batch's rows into its dense batch buffer, and prediction densifies one
chunk of rows at a time. Reported: the CSR's own size, the dense size it would have,
and tracemalloc's peak of everything ``fit`` and ``predict`` allocate (the matrix is
made before the measurement starts), plus the process's peak RSS.

Run: flock /tmp/hpframe-cpu.lock python benchmarks/bench_sparse_memory.py
"""
import os
import resource
import sys
import tracemalloc

import numpy as np
import scipy.sparse as sp

from hpframe.sklearn import HPClassifier

N, D, DENSITY = 100_000, 20_000, 0.01


def main():
    rng = np.random.default_rng(0)
    X = sp.random(N, D, density=DENSITY, format="csr", dtype=np.float32, random_state=rng)
    y = (np.asarray(X[:, :200].sum(axis=1)).ravel() > 0).astype(int)
    sparse_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    dense_bytes = N * D * np.dtype(np.float32).itemsize
    clf = HPClassifier(hidden_layers=(32,), epochs=1, batch_size=256)
    tracemalloc.start()
    clf.fit(X, y)
    pred = clf.predict(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux: KiB
    mb = 1e6
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _machine import describe, machine_info
    print(describe(machine_info()))
    print(f"X: {N} x {D}, density {DENSITY}, nnz {X.nnz}")
    print(f"CSR size (data + indices + indptr): {sparse_bytes / mb:8.1f} MB")
    print(f"dense float32 size:                  {dense_bytes / mb:8.1f} MB")
    print(f"peak allocated by fit + predict:     {peak / mb:8.1f} MB "
          f"({peak / sparse_bytes:.2f} x the CSR, {peak / dense_bytes:.4f} x dense)")
    print(f"process peak RSS (matrix included):  {rss / mb:8.1f} MB")
    print(f"(1 epoch, then predict: training accuracy {np.mean(pred == y):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
