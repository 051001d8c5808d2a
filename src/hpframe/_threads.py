"""How many threads hpframe trains and predicts with.

A training step is shared by a *team* of threads (see
:mod:`hpframe._core.network`): each computes its share of every layer's units
and updates its share of the weights, calling BLAS single-threaded. One team
on the whole step beats letting OpenBLAS parallelise each matrix product
separately, because the elementwise passes and the optimizer run in parallel
too. Measured on 2 cores (784-128-10, ReLU, dropout 0.2, Adam; samples/s,
team of 1 vs 2, quiet machine, portable build): batch 16 73k vs 94k, batch 64 119k vs 190k,
batch 256 140k vs 240k; 784-1024-1024-10 at batch 256 7.2k vs 13k (OpenBLAS
alone on two threads: 10.4k).

A team only pays when each step has enough work: with the 1,797 x 64 digits
(64 hidden units, batch 32) the step is over in ~40 microseconds, and at batch
size 1 each thread would read weights the other just updated (10.7k vs 8.3k).
Those steps run on one thread. With another process busy on one of two cores
a team of two runs at 0.9-1.0x of one thread instead of faster (its barrier
stops spinning when waits get long, so it never collapses the way spinning
thread pools do).
"""
import os
import threading
from contextlib import contextmanager

# A team member needs this many floating-point operations per step (the three
# GEMMs of each layer: 6 x batch x weights) to pay for its barriers.
FLOPS_PER_THREAD = 4e6

_lock = threading.Lock()
_num_threads = None          # set_num_threads(); None: every CPU this process may use
_single_sections = 0         # search trials in progress: everything runs on one thread
_controller = None


def _available_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_num_threads(n):
    """Set the most threads hpframe trains and predicts with.

    Parameters
    ----------
    n : int or None
        At least 1. ``None`` restores the default: every CPU this process may
        run on (``os.sched_getaffinity``), or ``HPFRAME_NUM_THREADS`` if set.

    Notes
    -----
    Each training step is shared by a team of threads, up to this many; small
    steps (batch size 1, tiny networks) run on one. Results are bit-identical
    for the same seed *and the same number of threads*: a different team adds
    up some matrix products in a different order, which changes the last bits
    of float32 results. Search trials always run on one thread, so a search
    gives the same results serially, in threads, in processes or on a cluster.

    Examples
    --------
    >>> import hpframe
    >>> hpframe.set_num_threads(1)      # e.g. when other work shares the machine
    >>> hpframe.get_num_threads()
    1
    >>> hpframe.set_num_threads(None)
    """
    global _num_threads
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"set_num_threads: n={n!r} is not allowed; use an int >= 1, "
                             "or None for every available CPU")
    _num_threads = n


def get_num_threads():
    """The most threads hpframe trains and predicts with (see :func:`set_num_threads`).

    Returns
    -------
    int
    """
    if _num_threads is not None:
        return _num_threads
    env = os.environ.get("HPFRAME_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"HPFRAME_NUM_THREADS={env!r} is not allowed; use an int >= 1 "
                             "or unset it for every available CPU")
        return n
    return _available_cpus()


def team_size(batch_size, n_weights):
    """Threads for one step of ``batch_size`` rows through ``n_weights`` weights."""
    if _single_sections or batch_size <= 1:
        return 1
    by_work = int(6 * batch_size * n_weights // FLOPS_PER_THREAD)
    return max(1, min(get_num_threads(), by_work))


@contextmanager
def single_threaded():
    """Run every training and prediction on one thread while any caller is inside.

    Process-wide like BLAS's own limits, so trials running in threads share it.
    """
    global _single_sections
    with _lock:
        _single_sections += 1
    try:
        yield
    finally:
        with _lock:
            _single_sections -= 1


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
