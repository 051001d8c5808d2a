"""hpframe's compiled core.

Every module here but ``spec`` (plain Python: what a network is built from, and the
names of its functions) is Cython, compiled with one set of directives (see
``setup.py``). The loops check nothing, allocate nothing and run without the GIL;
the Python layer (:mod:`hpframe.ops`, :class:`hpframe.Trainer`) validates and
allocates.

Where each piece lives: ``dense.pxd`` the arithmetic of one dense layer;
``network.pyx`` the network that composes it, layer by layer; ``layout`` where
every number of its buffers lives; ``team.pxd`` (with ``_team.h``) a team of
threads sharing a step; ``_blas`` gemm and the policy of calling it;
``activations``, ``losses``, ``dropout`` and ``optimizers`` the functions, masks
and update rules; ``finite`` whether a small array holds NaN or infinity (the
Python layer's test of a row to predict).

The network is built twice: ``network`` for any x86-64 (or other) CPU and, on
x86-64, ``network_avx2`` with 8-wide vectors; both compute the same bits.
:data:`Network` is the fastest one this CPU can run (``HPFRAME_CPU=auto``, the
default); ``HPFRAME_CPU=baseline`` forces the portable one.
"""
import os

CORE_MODULES = ("_blas", "activations", "losses", "dropout", "optimizers", "layout",
                "network", "network_avx2", "finite")


def _pick_network():
    from hpframe._core import network
    choice = os.environ.get("HPFRAME_CPU", "").strip().lower()
    if choice not in ("", "auto", "baseline"):
        raise ValueError(f"HPFRAME_CPU={os.environ['HPFRAME_CPU']!r} is not allowed; use "
                         "'baseline' (the portable build) or 'auto' (or unset it)")
    if choice != "baseline" and network.cpu_has_avx2():
        try:
            from hpframe._core import network_avx2
            return network_avx2
        except ImportError:          # built without it (not x86-64, or MSVC)
            pass
    return network


network_module = _pick_network()
Network = network_module.Network
