"""Where every number of a network lives: the one place that sizes its buffers.

:class:`~hpframe._core.network.Network` allocates exactly what
:func:`network_layout` describes, and :func:`hpframe.estimate_memory` adds up
the same numbers, so the estimate and the allocation cannot drift apart.

Four buffers have the parameters' layout: ``params``, ``grads``, ``state_1``
and ``state_2`` (the optimizer's state: momentum's velocity; Adam's m and v).
First every layer's weight matrix ``W_l`` (``n_in x n_out``, row-major), then
every bias ``b_l``. One buffer, ``work``, holds every per-batch array,
``capacity`` rows deep; for layer ``l`` with ``n_out`` units:

* ``Z`` the pre-activation ``H_{l-1} W_l + b_l`` (the logits, for the output layer)
* ``A`` the activation ``f(Z)``; the same memory as ``Z`` for ``identity``
  and for the output layer
* ``H`` ``A * M`` with dropout; else the same memory as ``A``
* ``M`` the dropout mask (0 or ``1/(1-p)``), hidden layers with dropout only
* ``D`` ``dL/dZ`` during backward

then the batch's gathered input rows (``x_offset``) and, for every loss but
cross entropy, its float targets (``t_offset``). The table's columns are the
``COL_*`` constants of ``layout.pxd``.
"""
import numpy as np

from hpframe._core.activations cimport IDENTITY
from hpframe._core.losses cimport CROSS_ENTROPY
from hpframe._core.optimizers cimport n_state_buffers

include "_buildinfo.pxi"

# Evaluation runs in chunks of at least this many rows, so predicting with a
# network trained at batch size 1 still uses matrix-matrix products.
EVAL_ROWS = 256

# Every region of the work buffer starts at a multiple of ALIGN elements, and
# the network allocates its buffers at 64-byte boundaries (zeros_aligned): a
# team's threads own shares of 16 units, so their shares then never share a
# cache line (which the two cores would pass back and forth).
ALIGN = 16


class Layout:
    """Sizes (in elements) of a network's buffers and the per-layer offset table.

    Attributes
    ----------
    table : numpy.ndarray of intp, shape (n_layers, N_COLS)
        Offsets and sizes, by the ``COL_*`` columns.
    n_weights : int
        Weights of every layer (the segment weight decay applies to).
    n_params : int
        Weights and biases.
    n_state : int
        Optimizer state: 0 (sgd), 1x or 2x ``n_params``.
    work_size : int
        The per-batch buffer, ``capacity`` rows deep.
    x_offset, t_offset : int
        Where the gathered input rows and float targets start in ``work``.
    """

    __slots__ = ("table", "n_weights", "n_params", "n_state", "work_size", "x_offset",
                 "t_offset")

    def __init__(self, table, n_weights, n_params, n_state, work_size, x_offset, t_offset):
        self.table = table
        self.n_weights = n_weights
        self.n_params = n_params
        self.n_state = n_state
        self.work_size = work_size
        self.x_offset = x_offset
        self.t_offset = t_offset


def network_layout(spec):
    """Lay out the parameter and work buffers of the network ``spec`` describes.

    Parameters
    ----------
    spec : hpframe._core.spec.NetworkSpec
        Reads its sizes, activation, loss, optimizer, dropout and capacity.

    Returns
    -------
    Layout
    """
    sizes, capacity = spec.sizes, spec.capacity
    identity = spec.activation_code == IDENTITY
    cross_entropy = spec.loss_code == CROSS_ENTROPY
    n_layers = len(sizes) - 1
    table = np.zeros((n_layers, N_COLS), dtype=np.intp)
    n_weights = sum(sizes[l] * sizes[l + 1] for l in range(n_layers))
    w_off, b_off, pos = 0, n_weights, 0
    for l in range(n_layers):
        n_in, n_out = sizes[l], sizes[l + 1]
        hidden = l < n_layers - 1
        table[l, COL_N_IN], table[l, COL_N_OUT] = n_in, n_out
        table[l, COL_W], table[l, COL_B] = w_off, b_off
        w_off += n_in * n_out
        b_off += n_out
        rows = aligned(capacity * n_out)
        table[l, COL_Z] = pos
        pos += rows
        if hidden and not identity:
            table[l, COL_A] = pos
            pos += rows
        else:
            table[l, COL_A] = table[l, COL_Z]
        if hidden and spec.dropout > 0:
            table[l, COL_H], table[l, COL_M] = pos, pos + rows
            pos += 2 * rows
        else:
            table[l, COL_H], table[l, COL_M] = table[l, COL_A], -1
        table[l, COL_D] = pos
        pos += rows
    x_offset = pos
    pos += aligned(capacity * sizes[0])
    t_offset = pos
    if not cross_entropy:
        pos += aligned(capacity * sizes[n_layers])
    n_state = n_state_buffers(spec.optimizer_code) * b_off
    return Layout(table, n_weights, b_off, n_state, pos, x_offset, t_offset)


def aligned(n):
    """n rounded up to a multiple of ALIGN elements."""
    return -(-n // ALIGN) * ALIGN


def team_scratch_stride(sizes, capacity):
    """Elements of one thread's partial sum of a layer's product: ``capacity``
    rows of the widest layer."""
    return aligned(capacity * max(sizes[1:]))


def team_scratch_size(sizes, capacity, team):
    """Elements of the scratch where threads 1.. of a team of ``team`` threads put
    their partial sums: two layers' worth each (the layers alternate)."""
    return 2 * (team - 1) * team_scratch_stride(sizes, capacity) if team > 1 else 0
