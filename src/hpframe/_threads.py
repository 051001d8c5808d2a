"""How many threads BLAS may use while hpframe trains.

OpenBLAS parallelises every GEMM it is given. For the small matrices of a
small network or batch, waking its threads costs more than they save - and
on a busy two-core machine their spin-waiting makes training many times
slower. So a training step whose matrix products are small runs BLAS on one
thread; a large one keeps every thread.
"""
from contextlib import contextmanager

# Below this many floating-point operations per training step (forward +
# backward GEMMs), BLAS runs single-threaded. Measured on 2 cores (784-128-10,
# Adam, dropout 0.2; samples/s with 1 vs 2 OpenBLAS threads, quiet machine):
# batch 16 (1e7 flop/step) 74k vs 58k; batch 64 (4e7) 119k vs 128k; batch 256
# (1.6e8) 140k vs 170k; 784-1024-1024-10 at batch 256 (2.9e9) 6.6k vs 10.4k.
# With another process busy on one core, two threads fall 10x or more behind
# one at the smaller sizes, so the line sits above batch 64's small gain.
SINGLE_THREAD_BELOW_FLOPS = 1e8

_controller = None


def step_flops(batch_size, n_weights):
    """Multiply-adds x2 of one training step's three GEMMs per layer."""
    return 6 * batch_size * n_weights


def training_blas_threads(batch_size, n_weights):
    """1 for a small step; None (leave BLAS as configured) for a large one."""
    return 1 if step_flops(batch_size, n_weights) < SINGLE_THREAD_BELOW_FLOPS else None


@contextmanager
def blas_threads(n):
    """Limit every loaded BLAS to ``n`` threads inside the block (``None``: no change)."""
    global _controller
    if n is None:
        yield
        return
    from threadpoolctl import ThreadpoolController
    if _controller is None:
        _controller = ThreadpoolController()
    with _controller.limit(limits=n, user_api="blas"):
        yield
