"""Where every number of a network lives: the one place that sizes its buffers.

The core (:class:`hpframe._core.network.Network`) allocates exactly what
:func:`network_layout` describes, and :func:`hpframe.estimate_memory` adds up
the same numbers, so the estimate and the allocation cannot drift apart.
"""
from dataclasses import dataclass

import numpy as np

# Columns of the per-layer table (the core reads them by these positions).
COL_N_IN, COL_N_OUT, COL_W, COL_B, COL_Z, COL_A, COL_H, COL_M, COL_D = range(9)
N_COLS = 9

# Evaluation runs in chunks of at least this many rows, so predicting with a
# network trained at batch size 1 still uses matrix-matrix products.
EVAL_ROWS = 256

# Every region of the work buffer starts at a multiple of ALIGN elements, and
# the core allocates its buffers at 64-byte boundaries (hpframe._core.network.
# zeros_aligned): a team's threads own shares of 16 units, so their shares then
# never share a cache line (which the two cores would pass back and forth).
ALIGN = 16


@dataclass(frozen=True)
class Layout:
    """Sizes (in elements) of a network's buffers and the per-layer offset table."""

    table: np.ndarray        # (n_layers, N_COLS) int offsets and sizes
    n_weights: int           # weights of every layer (the decayed segment)
    n_params: int            # weights + biases
    n_state: int             # optimizer state: 0 (sgd), 1x or 2x n_params
    work_size: int           # per-batch buffer, `capacity` rows deep
    x_offset: int            # gathered input rows, in the work buffer
    t_offset: int            # gathered float targets, in the work buffer


def network_layout(sizes, *, identity, dropout, cross_entropy, n_state_buffers, capacity):
    """Lay out a dense network's parameter and work buffers.

    Parameters
    ----------
    sizes : sequence of int
        ``(n_features, *hidden_layers, n_outputs)``.
    identity : bool
        The hidden activation is the identity (its output can share ``Z``).
    dropout : float
        Drop probability; > 0 adds a mask and a dropped-output buffer per hidden layer.
    cross_entropy : bool
        Targets are integer labels (no float target rows in the work buffer).
    n_state_buffers : int
        0 for sgd, 1 for (nesterov) momentum, 2 for adam/adamw.
    capacity : int
        Rows of every per-batch buffer.

    Returns
    -------
    Layout
    """
    n_layers = len(sizes) - 1
    table = np.zeros((n_layers, N_COLS), dtype=np.intp)
    n_weights = sum(sizes[l] * sizes[l + 1] for l in range(n_layers))
    w_off, b_off, pos = 0, n_weights, 0
    for l in range(n_layers):
        n_in, n_out = sizes[l], sizes[l + 1]
        hidden = l < n_layers - 1
        rows = capacity * n_out
        table[l, COL_N_IN], table[l, COL_N_OUT] = n_in, n_out
        table[l, COL_W], table[l, COL_B] = w_off, b_off
        w_off += n_in * n_out
        b_off += n_out
        rows = aligned(rows)
        table[l, COL_Z] = pos
        pos += rows
        if hidden and not identity:
            table[l, COL_A] = pos
            pos += rows
        else:
            table[l, COL_A] = table[l, COL_Z]
        if hidden and dropout > 0:
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
        pos += aligned(capacity * sizes[-1])
    return Layout(table, n_weights, b_off, n_state_buffers * b_off, pos, x_offset, t_offset)


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
