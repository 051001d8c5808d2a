"""The benchmarks' machine record (benchmarks/_machine.py): what ``describe`` prints
next to every table, checked on hand-made records."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))
_machine = pytest.importorskip("_machine")


def record(pinned=None, l2=None):
    blas = [
        {"user_api": "blas", "internal_api": "openblas", "version": "0.3.30",
         "architecture": "SkylakeX", "num_threads": 2, "owner": "scipy"},
        {"user_api": "blas", "internal_api": "openblas", "version": "0.3.30",
         "architecture": "SkylakeX", "num_threads": 2, "owner": "scipy"},   # seen twice
        {"user_api": "openmp", "internal_api": "openmp", "version": None,
         "architecture": None, "num_threads": 2, "owner": "libgomp.so.1"},
    ]
    return {"cpu": "AMD EPYC", "cores": 2, "vector_features": ["avx2", "fma"], "blas": blas,
            "pinned_kernel": pinned,
            "kernel_env": {"OPENBLAS_CORETYPE": pinned, "OPENBLAS_L2_SIZE": l2},
            "thread_env": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": None}}


def test_describe_names_each_library_once_and_openmp_as_openmp():
    lines = _machine.describe(record()).splitlines()
    assert lines[0] == "CPU: AMD EPYC, 2 cores; vector features: avx2, fma"
    assert lines[1] == "BLAS (scipy): openblas 0.3.30 kernel SkylakeX, 2 thread(s)"
    assert lines[2] == "OpenMP (libgomp.so.1): openmp, 2 thread(s)"
    assert lines[3] == ("kernel: OpenBLAS's own choice for this CPU (OPENBLAS_CORETYPE unset, "
                        "OPENBLAS_L2_SIZE unset)")
    assert lines[4] == "thread settings: OMP_NUM_THREADS=1"
    assert len(lines) == 5


def test_describe_says_plainly_when_a_kernel_is_pinned():
    text = _machine.describe(record(pinned="Haswell", l2="1048576"))
    assert ("PINNED KERNEL: OPENBLAS_CORETYPE=Haswell (OpenBLAS runs Haswell's kernels, not "
            "the ones it picks for this CPU), OPENBLAS_L2_SIZE=1048576") in text.splitlines()
