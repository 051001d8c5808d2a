"""How many threads hpframe trains and predicts with.

A training step is shared by a *team* of threads (see
:mod:`hpframe._core.network`): each owns a share of every layer's inputs - the
rows of the weight matrix it multiplies and updates - so its weights and
optimizer state stay in its own core's cache, and it calls BLAS
single-threaded. One team on the whole step beats letting OpenBLAS parallelise
each matrix product separately, because the elementwise passes and the
optimizer run in parallel too. Measured on 2 cores (784-128-10, ReLU, dropout
0.2, Adam; samples/s, team of 1 vs 2, quiet machine, AVX2 build): batch 1 21k
vs 31k, batch 16 104k vs 218k, batch 64 141k vs 240k.

A team only pays when each step has enough work, in its products or in its
optimizer's pass over the weights: the 1,797 x 64 digits with 64 hidden units
(4,736 weights) train faster on one thread (1,045k vs 865k samples/s at batch
32; 208k vs 153k at batch 1), 784-16-10 (12,704 weights) already faster on two
at batch 1 (95k vs 119k).

With another process busy on one of two cores, a team of two is slower than
one thread - 0.85x at batch 16, 0.8x at batch 64, 0.45x at batch 1, whose
steps are shortest - but never collapses the way spinning thread pools do
(0.1x): its barrier stops spinning when waits get long. On a shared machine,
``set_num_threads(1)``.
"""
import ctypes
import itertools
import numbers
import os
import threading
from contextlib import contextmanager

import numpy as np

# A team member needs this many floating-point operations per step (the three
# GEMMs of each layer: 6 x batch x weights; 2 x rows x weights to predict) or
# this many weights to update per training step, to pay for its barriers.
FLOPS_PER_THREAD = 4e6
WEIGHTS_PER_THREAD = 6000
# More threads than any machine hpframe runs on: a bigger number is a mistake.
MAX_THREADS = 1024

_lock = threading.Lock()
_num_threads = None          # set_num_threads(); None: every CPU this process may use
_single_sections = 0         # search trials in progress: everything runs on one thread
_blas_users = 0              # callers inside a one-BLAS-thread section (any kind)
_blas_libs = None            # what sets each loaded BLAS library's threads (_blas_libraries)
_blas_before = []            # their thread counts before the first caller set 1
_max_team = None             # the core's max_team_size(), once known


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
        From 1 to 1024. ``None`` restores the default: every CPU this process
        may run on (``os.sched_getaffinity``), or ``HPFRAME_NUM_THREADS`` if set.

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
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"set_num_threads: n={n!r} is not allowed; use an int >= 1, "
                             "or None for every available CPU")
        if n > MAX_THREADS:
            raise ValueError(f"set_num_threads: n={n!r} is more than {MAX_THREADS} threads, "
                             f"the most hpframe accepts (this process may use "
                             f"{_available_cpus()} CPUs); use an int from 1 to {MAX_THREADS}, "
                             "or None for every available CPU")
    _num_threads = None if n is None else int(n)


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
        if not 1 <= n <= MAX_THREADS:
            raise ValueError(f"HPFRAME_NUM_THREADS={env!r} is not allowed; use an int from 1 "
                             f"to {MAX_THREADS}, or unset it for every available CPU")
        return n
    return _available_cpus()


def threads_allowed():
    """Threads hpframe's own loops may use now: 1 inside :func:`single_threaded`,
    else :func:`get_num_threads`."""
    return 1 if _single_sections else get_num_threads()


def team_size(rows, n_weights, training=True):
    """Threads for one training step of ``rows`` rows (or, with ``training=False``,
    one forward pass) through ``n_weights`` weights: the one place that decides
    how many threads a run uses (training, prediction and the memory estimate
    all ask here). At most :func:`threads_allowed`, and at most what this build
    of the core can run (1 where C11 atomics are missing)."""
    global _max_team
    if training:
        work = max(6 * rows * n_weights / FLOPS_PER_THREAD, n_weights / WEIGHTS_PER_THREAD)
    else:
        work = 2 * rows * n_weights / FLOPS_PER_THREAD
        if work < 2:
            # One thread's work (a row to predict) runs on one thread whatever the
            # setting, so it is not read: reading it (HPFRAME_NUM_THREADS, the CPU
            # affinity) cost 1.1 of the 10 us a row took. Training always reads it,
            # so a bad HPFRAME_NUM_THREADS still fails the first fit.
            return 1
    if _max_team is None:       # (imported once, not on every call: a row to predict)
        from hpframe._core.network import max_team_size
        _max_team = max_team_size()
    return max(1, min(threads_allowed(), int(work), _max_team))


def _hold_one_blas_thread():
    """Count one more user of the one-BLAS-thread limit (the first sets it).

    Through each loaded BLAS library's own thread-count functions, found once
    (:func:`_blas_libraries`): 3 us per ``fit`` for the enter and the exit
    after an epoch has cooled the caches, against 18 us through threadpoolctl's
    controllers (and 30 us through ``ThreadpoolController.limit``, which looks
    every library up again) - paid by every ``fit`` and most predictions.
    """
    global _blas_users, _blas_libs, _blas_before
    with _lock:
        if _blas_users == 0:
            if _blas_libs is None:
                _blas_libs = _blas_libraries()
            _blas_before = [lib.get_num_threads() for lib in _blas_libs]
            for lib in _blas_libs:
                lib.set_num_threads(1)
        _blas_users += 1


def _release_one_blas_thread():
    """One user fewer; the last one out restores BLAS's own limits."""
    global _blas_users
    with _lock:
        _blas_users -= 1
        if _blas_users == 0:
            for lib, n in zip(_blas_libs, _blas_before):
                lib.set_num_threads(n)


class _OpenBLAS:
    """An OpenBLAS with its own thread pool, set through its own functions.

    Its limit is process-wide, so any Python thread may set it. threadpoolctl
    (from 3.8) lets only one Python thread - the first to set a limit, usually
    the main thread - change such a pool, and silently ignores the others;
    hpframe's count is process-wide too, and the thread that sets the limit, or
    restores it, may be any. Called directly, the limit holds from every thread,
    and a user's own threadpoolctl limits keep their controlling thread.
    """

    def __init__(self, get, set_):
        self.get_num_threads, self.set_num_threads = get, set_


def _blas_libraries():
    """What sets each loaded BLAS library's thread count: an :class:`_OpenBLAS`
    for an OpenBLAS with its own threads, else threadpoolctl's controller (an
    OpenBLAS on OpenMP, MKL, BLIS: per-thread limits, or no controlling thread)."""
    from threadpoolctl import ThreadpoolController
    return [_openblas_functions(lib) or lib
            for lib in ThreadpoolController().select(user_api="blas").lib_controllers]


def _openblas_functions(lib):
    """An :class:`_OpenBLAS` for threadpoolctl's controller ``lib`` if it is an
    OpenBLAS threaded by itself (or not at all), else None."""
    if lib.internal_api != "openblas":
        return None
    dll = getattr(lib, "dynlib", None)
    try:
        dll = dll or ctypes.CDLL(lib.filepath, mode=getattr(os, "RTLD_NOLOAD", 0))
    except OSError:
        return None
    for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
        names = [f"{prefix}openblas_{what}{suffix}"
                 for what in ("get_num_threads", "set_num_threads", "get_parallel")]
        try:            # (fresh function objects: threadpoolctl's own stay as they are)
            get, set_, parallel = (dll[name] for name in names)
        except AttributeError:
            continue
        for f in (get, parallel):
            f.restype, f.argtypes = ctypes.c_int, []
        set_.restype, set_.argtypes = None, [ctypes.c_int]
        # 0: built without threads, 1: its own pthreads, 2: OpenMP (per-thread
        # limits, which threadpoolctl sets through omp_set_num_threads)
        return _OpenBLAS(get, set_) if parallel() in (0, 1) else None
    return None


@contextmanager
def single_threaded():
    """Run every training and prediction, and BLAS, on one thread while any
    caller is inside (search trials: see :mod:`hpframe.search.trial`).

    Process-wide, like BLAS's own limits, so trials running in threads share
    one section: the first caller in limits BLAS, the last one out restores
    it. (A per-thread enter/restore would let one thread's exit give the others
    their threads back in the middle of a run.)
    """
    global _single_sections
    _hold_one_blas_thread()
    with _lock:
        _single_sections += 1
    try:
        yield
    finally:
        with _lock:
            _single_sections -= 1
        _release_one_blas_thread()


class blas_threads:
    """Limit every loaded BLAS to one thread inside the ``with`` block (``n=None``:
    no change).

    The limit is process-wide and counted like :func:`single_threaded`'s (the two
    share one count): the first caller in sets it, the last one out restores
    BLAS's own limits, so one thread leaving never hands BLAS its threads back in
    the middle of another thread's call. (A class rather than a generator: every
    ``fit`` enters one, and ``contextmanager``'s generator costs about 2 us more.)
    """

    __slots__ = ("_hold",)

    def __init__(self, n):
        if n is not None and n != 1:
            raise ValueError(f"blas_threads: n={n!r}; only 1 (or None) is supported")
        self._hold = n is not None

    def __enter__(self):
        if self._hold:
            _hold_one_blas_thread()
        return self

    def __exit__(self, *exc):
        if self._hold:
            _release_one_blas_thread()
