"""The network: every buffer allocated once, whole epochs run without the GIL.

Memory layout
-------------
All parameters live in one flat buffer ``params``: first every layer's weight
matrix ``W_l`` (``n_in x n_out``, row-major), then every bias ``b_l``.  The
optimizer therefore sees two segments - weights (decayed) and biases (never
decayed) - and needs no per-layer bookkeeping.  ``grads``, ``state_1`` and
``state_2`` (momentum / Adam's m and v) share that layout.

Every per-batch array lives in one flat ``work`` buffer, ``capacity`` rows
deep.  For layer ``l`` with ``n_out`` units:

* ``Z`` pre-activation ``X_l @ W_l + b_l``  (the logits, for the output layer)
* ``A`` activation ``f(Z)``; the same memory as ``Z`` for ``identity``
* ``H`` ``A * mask`` with dropout while training; else the same memory as ``A``
* ``M`` the dropout mask (0 or ``1/(1-p)``)
* ``D`` ``dL/dZ`` during backward

``layout[l]`` holds each offset (the columns are named by the ``COL_*``
constants).  :func:`hpframe._layout.network_layout` computes the layout (and
:func:`hpframe.estimate_memory` sums the same numbers); the loops only read it.

One training step (batch ``X0`` of ``B`` rows, ``L`` layers)::

    forward   Z_l = H_{l-1} @ W_l + b_l ; A_l = f(Z_l) ; H_l = A_l * M_l
    loss      D_L = d mean-loss / d Z_L          (softmax / sigmoid fused)
    backward  dW_l = H_{l-1}^T @ D_l ; db_l = sum_rows(D_l)
              D_{l-1} = (D_l @ W_l^T) * M_{l-1} * f'(Z_{l-1})
    update    the optimizer over the weight segment, then the bias segment
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport isfinite
from libc.stdint cimport uint64_t
from libc.string cimport memcpy
from numpy.random cimport bitgen_t

from hpframe._core._blas cimport gemm
from hpframe._core.activations cimport act_forward, act_grad, IDENTITY
from hpframe._core.losses cimport (cross_entropy, elementwise_loss, count_correct,
                                   CROSS_ENTROPY, BINARY_CROSS_ENTROPY)
from hpframe._core.dropout cimport Draws32, bitgen_of, draw32, drop_threshold, shuffle
from hpframe._core.optimizers cimport (Step, make_step, apply_step, apply_step_outer,
                                       SGD, ADAM, ADAMW)

cnp.import_array()

from hpframe._layout import network_layout

include "_buildinfo.pxi"

# columns of the layout table (kept equal to hpframe._layout.COL_*)
cpdef enum:
    COL_N_IN = 0
    COL_N_OUT = 1
    COL_W = 2          # offset of W_l in params
    COL_B = 3          # offset of b_l in params
    COL_Z = 4          # offsets into work ...
    COL_A = 5
    COL_H = 6
    COL_M = 7
    COL_D = 8
    N_COLS = 9


cdef struct Settings:
    # everything the nogil loops need besides the buffers
    int activation, loss, optimizer
    Py_ssize_t n_layers, n_features, n_outputs, n_weights, n_params
    Py_ssize_t x_off, t_off      # gathered input rows / float targets, in work
    double dropout, momentum, beta_1, beta_2, epsilon, weight_decay
    uint64_t drop_threshold


cdef struct EpochStats:
    double loss_sum              # sum of per-sample (cross entropy) or per-element losses
    Py_ssize_t n_correct, n_seen, n_steps
    bint diverged


cdef class Network:
    """A dense network's buffers and its compiled training/evaluation loops.

    Built by :class:`hpframe.Trainer`, which validates every argument; the
    layout and buffers are allocated here, once.

    Parameters
    ----------
    sizes : sequence of int
        ``(n_features, hidden..., n_outputs)``.
    activation, loss, optimizer : int
        Codes from :mod:`hpframe._core.activations`, ``losses``, ``optimizers``.
    dropout, momentum, beta_1, beta_2, epsilon, weight_decay : float
        The optimizer and regularisation hyperparameters.
    capacity : int
        Rows of the per-batch buffers: the batch size, or more for evaluation.
    dtype : {numpy.float32, numpy.float64}
    seed : int or numpy.random.SeedSequence
        Seeds the two bit generators: one shuffles, one draws dropout masks.
    """
    cdef Settings s
    cdef readonly object dtype
    cdef readonly Py_ssize_t capacity
    cdef readonly long step
    cdef public double first_loss
    cdef readonly object params, grads, state_1, state_2, work, layout
    cdef readonly object shuffle_rng, dropout_rng
    cdef object _labels, _index
    cdef bitgen_t* _shuffle_bitgen
    cdef bitgen_t* _dropout_bitgen

    def __init__(self, sizes, int activation, int loss, int optimizer, double dropout,
                 double momentum, double beta_1, double beta_2, double epsilon,
                 double weight_decay, Py_ssize_t capacity, dtype, seed):
        sizes = [int(n) for n in sizes]
        cdef Py_ssize_t n_layers = len(sizes) - 1, n
        self.dtype = np.dtype(dtype)
        self.capacity = capacity
        self.step = 0
        self.first_loss = float("nan")
        self.s.activation = activation
        self.s.loss = loss
        self.s.optimizer = optimizer
        self.s.n_layers = n_layers
        self.s.n_features = sizes[0]
        self.s.n_outputs = sizes[n_layers]
        self.s.dropout = dropout
        self.s.drop_threshold = drop_threshold(dropout)
        self.s.momentum = momentum
        self.s.beta_1 = beta_1
        self.s.beta_2 = beta_2
        self.s.epsilon = epsilon
        self.s.weight_decay = weight_decay

        lay = network_layout(sizes, identity=activation == IDENTITY, dropout=dropout,
                             cross_entropy=loss == CROSS_ENTROPY,
                             n_state_buffers={SGD: 0, ADAM: 2, ADAMW: 2}.get(optimizer, 1),
                             capacity=capacity)
        self.layout = lay.table
        self.s.n_weights = lay.n_weights
        self.s.n_params = lay.n_params
        self.s.x_off = lay.x_offset
        self.s.t_off = lay.t_offset
        pos = lay.work_size
        n = self.s.n_params
        self.params = np.zeros(n, dtype=self.dtype)
        self.grads = np.zeros(n, dtype=self.dtype)
        self.state_1 = np.zeros(n if lay.n_state >= n else 0, dtype=self.dtype)
        self.state_2 = np.zeros(n if lay.n_state >= 2 * n else 0, dtype=self.dtype)
        self.work = np.zeros(pos, dtype=self.dtype)
        self._labels = np.zeros(capacity, dtype=np.intc)
        self._index = np.zeros(0, dtype=np.intp)

        seeds = (seed if isinstance(seed, np.random.SeedSequence)
                 else np.random.SeedSequence(seed)).spawn(2)
        self.shuffle_rng = np.random.PCG64(seeds[0])
        self.dropout_rng = np.random.PCG64(seeds[1])
        self._shuffle_bitgen = bitgen_of(self.shuffle_rng)
        self._dropout_bitgen = bitgen_of(self.dropout_rng)

    # ---- views for the Python layer ------------------------------------------
    @property
    def n_layers(self):
        return self.s.n_layers

    @property
    def n_params(self):
        return self.s.n_params

    @property
    def n_weights(self):
        return self.s.n_weights

    def weight(self, Py_ssize_t l):
        """View (no copy) of layer ``l``'s weight matrix, shape ``(n_in, n_out)``."""
        n_in, n_out, off = self.layout[l, COL_N_IN], self.layout[l, COL_N_OUT], self.layout[l, COL_W]
        return self.params[off:off + n_in * n_out].reshape(n_in, n_out)

    def bias(self, Py_ssize_t l):
        """View (no copy) of layer ``l``'s bias, shape ``(n_out,)``."""
        off = self.layout[l, COL_B]
        return self.params[off:off + self.layout[l, COL_N_OUT]]

    def set_step(self, long step):
        """Restore the optimizer's step counter (after loading a saved model)."""
        self.step = step

    # ---- the compiled loops, entered from Python -----------------------------
    def train_epoch(self, X, labels, targets, Py_ssize_t batch_size, double lr, bint shuffle_rows):
        """Train one epoch over all rows of ``X``; return
        ``(loss_sum, n_correct, n_seen, n_steps, diverged)``.

        ``labels`` (int32, ``(n,)``) are used by cross entropy, ``targets``
        (``(n, n_outputs)``) by every other loss; pass an empty array for the
        other.  The caller guarantees shapes, dtypes and ``batch_size <= capacity``.
        """
        cdef Py_ssize_t n = X.shape[0]
        if self._index.shape[0] != n:
            self._index = np.empty(n, dtype=np.intp)
        cdef EpochStats stats
        if self.dtype == np.float32:
            _train_epoch[float](self, self.params, self.grads, self.state_1, self.state_2,
                                self.work, self.layout, X, labels, targets, self._index,
                                self._labels, batch_size, lr, shuffle_rows, &stats)
        else:
            _train_epoch[double](self, self.params, self.grads, self.state_1, self.state_2,
                                 self.work, self.layout, X, labels, targets, self._index,
                                 self._labels, batch_size, lr, shuffle_rows, &stats)
        return stats.loss_sum, stats.n_correct, stats.n_seen, stats.n_steps, bool(stats.diverged)

    def predict_into(self, X, out):
        """Write the output layer (logits / raw outputs) for every row of ``X`` into ``out``."""
        if self.dtype == np.float32:
            _predict[float](self, self.params, self.work, self.layout, X, out)
        else:
            _predict[double](self, self.params, self.work, self.layout, X, out)

    def gradients_into(self, X, labels, targets):
        """Forward and backward on ``X`` as one batch (no update): fill ``grads``
        and return the mean loss.  ``len(X) <= capacity``."""
        if self.dtype == np.float32:
            return _gradients[float](self, self.params, self.grads, self.work, self.layout,
                                     X, labels, targets, self._labels)
        return _gradients[double](self, self.params, self.grads, self.work, self.layout,
                                  X, labels, targets, self._labels)


# ---- the loops ---------------------------------------------------------------

cdef void _forward(Settings* s, floating[::1] P, floating[::1] W,
                   const Py_ssize_t[:, ::1] lay, const floating* x, Py_ssize_t b,
                   bitgen_t* rng, bint training) noexcept nogil:
    """Forward ``b`` rows starting at ``x`` through every layer, into ``work``."""
    cdef Py_ssize_t l, i, j, n_in, n_out, zo, ao, ho, mo, bo
    cdef const floating* inp = x
    cdef bint hidden, drop
    cdef floating z, a, m
    cdef Draws32 draws
    cdef floating scale = <floating> (1 / (1 - s.dropout))
    for l in range(s.n_layers):
        n_in = lay[l, COL_N_IN]
        n_out = lay[l, COL_N_OUT]
        zo, ao, ho, mo = lay[l, COL_Z], lay[l, COL_A], lay[l, COL_H], lay[l, COL_M]
        bo = lay[l, COL_B]
        gemm(False, False, <int> b, <int> n_out, <int> n_in, <floating> 1,
             inp, <int> n_in, &P[lay[l, COL_W]], <int> n_out, <floating> 0, &W[zo], <int> n_out)
        hidden = l < s.n_layers - 1
        drop = hidden and training and s.dropout > 0
        draws = Draws32(0, False)            # each layer's mask draws fresh words
        # one pass: bias, activation, dropout
        for i in range(b):
            for j in range(n_out):
                z = W[zo + i * n_out + j] + P[bo + j]
                W[zo + i * n_out + j] = z
                if hidden:
                    a = act_forward(s.activation, z)
                    W[ao + i * n_out + j] = a
                    if drop:
                        m = 0 if draw32(rng, &draws) < s.drop_threshold else scale
                        W[mo + i * n_out + j] = m
                        W[ho + i * n_out + j] = a * m
        inp = &W[ho] if drop else &W[ao]


cdef double _loss_and_grad(Settings* s, floating[::1] W, const Py_ssize_t[:, ::1] lay,
                           const int[::1] labels, Py_ssize_t b, Py_ssize_t* n_correct) noexcept nogil:
    """Loss sum of the output layer against the gathered targets; dL/dZ into D."""
    cdef Py_ssize_t last = s.n_layers - 1, k = s.n_outputs
    cdef Py_ssize_t zo = lay[last, COL_Z], do = lay[last, COL_D]
    cdef double loss
    if s.loss == CROSS_ENTROPY:
        loss = cross_entropy(W[zo:zo + b * k], labels[:b], k, 1.0 / b, W[do:do + b * k])
    else:
        loss = elementwise_loss(s.loss, W[zo:zo + b * k], W[s.t_off:s.t_off + b * k],
                                1.0 / (b * k), W[do:do + b * k])
    n_correct[0] += count_correct(s.loss, W[zo:zo + b * k], labels[:b],
                                  W[s.t_off:s.t_off + b * k], k)
    return loss


cdef inline const floating* _layer_input(Settings* s, floating[::1] W, const Py_ssize_t[:, ::1] lay,
                                         Py_ssize_t l, bint drop) noexcept nogil:
    """What layer l multiplied in the forward pass: the batch, or the previous H."""
    if l == 0:
        return &W[s.x_off]
    return &W[lay[l - 1, COL_H] if drop else lay[l - 1, COL_A]]


cdef void _backprop_delta(Settings* s, floating[::1] P, floating[::1] W,
                          const Py_ssize_t[:, ::1] lay, Py_ssize_t l, Py_ssize_t b,
                          bint drop) noexcept nogil:
    """D_{l-1} = (D_l @ W_l^T) * mask_{l-1} * f'(Z_{l-1}), for l >= 1."""
    cdef Py_ssize_t i, n_in = lay[l, COL_N_IN], n_out = lay[l, COL_N_OUT]
    cdef Py_ssize_t pzo = lay[l - 1, COL_Z], pao = lay[l - 1, COL_A]
    cdef Py_ssize_t pmo = lay[l - 1, COL_M], pdo = lay[l - 1, COL_D]
    cdef floating g
    gemm(False, True, <int> b, <int> n_in, <int> n_out, <floating> 1,
         &W[lay[l, COL_D]], <int> n_out, &P[lay[l, COL_W]], <int> n_out, <floating> 0,
         &W[pdo], <int> n_in)
    for i in range(b * n_in):
        g = W[pdo + i] * act_grad(s.activation, W[pzo + i], W[pao + i])
        if drop:
            g = g * W[pmo + i]
        W[pdo + i] = g


cdef void _backward(Settings* s, floating[::1] P, floating[::1] G, floating[::1] W,
                    const Py_ssize_t[:, ::1] lay, Py_ssize_t b, bint training) noexcept nogil:
    """Every layer's gradient into G (dW = input^T @ D, db = column sums of D)."""
    cdef Py_ssize_t l, i, j, n_in, n_out, do, bo
    cdef bint drop = training and s.dropout > 0
    for l in range(s.n_layers - 1, -1, -1):
        n_in = lay[l, COL_N_IN]
        n_out = lay[l, COL_N_OUT]
        do = lay[l, COL_D]
        gemm(True, False, <int> n_in, <int> n_out, <int> b, <floating> 1,
             _layer_input(s, W, lay, l, drop), <int> n_in, &W[do], <int> n_out,
             <floating> 0, &G[lay[l, COL_W]], <int> n_out)
        bo = lay[l, COL_B]
        for j in range(n_out):
            G[bo + j] = 0
        for i in range(b):
            for j in range(n_out):
                G[bo + j] += W[do + i * n_out + j]
        if l > 0:
            _backprop_delta(s, P, W, lay, l, b, drop)


cdef void _update(Settings* s, floating[::1] P, floating[::1] G, floating[::1] S1,
                  floating[::1] S2, double lr, long step) noexcept nogil:
    """One optimizer step: weights with weight decay, then biases without."""
    cdef Py_ssize_t nw = s.n_weights, n = s.n_params
    cdef Step on_weights = make_step(s.optimizer, lr, s.momentum, s.beta_1, s.beta_2,
                                     s.epsilon, s.weight_decay, step)
    cdef Step on_biases = make_step(s.optimizer, lr, s.momentum, s.beta_1, s.beta_2,
                                    s.epsilon, 0.0, step)
    apply_step(&on_weights, P[:nw], G[:nw], S1[:nw], S2[:nw])
    apply_step(&on_biases, P[nw:n], G[nw:n], S1[nw:n], S2[nw:n])


cdef void _backward_update_one_sample(Settings* s, floating[::1] P, floating[::1] S1,
                                      floating[::1] S2, floating[::1] W,
                                      const Py_ssize_t[:, ::1] lay, double lr,
                                      long step) noexcept nogil:
    """Backward and update fused, for a batch of one sample.

    The weight gradient of layer l is the outer product input_l D_l^T; instead
    of writing it out and reading it back, the update computes each entry on
    the fly (``apply_step_outer``).  Going from the output down, D_{l-1} is
    computed from W_l before W_l is updated, so the result is that of
    ``_backward`` followed by ``_update``.
    """
    cdef Py_ssize_t l, n_in, n_out, do, wo, bo
    cdef bint drop = s.dropout > 0
    cdef Step on_weights = make_step(s.optimizer, lr, s.momentum, s.beta_1, s.beta_2,
                                     s.epsilon, s.weight_decay, step)
    cdef Step on_biases = make_step(s.optimizer, lr, s.momentum, s.beta_1, s.beta_2,
                                    s.epsilon, 0.0, step)
    cdef Py_ssize_t inp_off
    for l in range(s.n_layers - 1, -1, -1):
        n_in = lay[l, COL_N_IN]
        n_out = lay[l, COL_N_OUT]
        do, wo, bo = lay[l, COL_D], lay[l, COL_W], lay[l, COL_B]
        if l > 0:
            _backprop_delta(s, P, W, lay, l, 1, drop)
        inp_off = s.x_off if l == 0 else (lay[l - 1, COL_H] if drop else lay[l - 1, COL_A])
        apply_step_outer(&on_weights, P[wo:wo + n_in * n_out], W[inp_off:inp_off + n_in],
                         W[do:do + n_out], S1[wo:wo + n_in * n_out], S2[wo:wo + n_in * n_out])
        apply_step(&on_biases, P[bo:bo + n_out], W[do:do + n_out], S1[bo:bo + n_out],
                   S2[bo:bo + n_out])


cdef void _gather(Settings* s, floating[::1] W, const floating[:, ::1] X,
                  const int[::1] labels, const floating[:, ::1] targets,
                  const Py_ssize_t[::1] rows, int[::1] batch_labels) noexcept nogil:
    """Copy the batch's input rows and targets into the work buffer."""
    cdef Py_ssize_t r, src, f = s.n_features, k = s.n_outputs
    for r in range(rows.shape[0]):
        src = rows[r]
        memcpy(&W[s.x_off + r * f], &X[src, 0], f * sizeof(floating))
        if s.loss == CROSS_ENTROPY:
            batch_labels[r] = labels[src]
        else:
            memcpy(&W[s.t_off + r * k], &targets[src, 0], k * sizeof(floating))


cdef void _train_epoch(Network net, floating[::1] P, floating[::1] G, floating[::1] S1,
                       floating[::1] S2, floating[::1] W, const Py_ssize_t[:, ::1] lay,
                       const floating[:, ::1] X, const int[::1] labels,
                       const floating[:, ::1] targets, Py_ssize_t[::1] index,
                       int[::1] batch_labels, Py_ssize_t batch_size, double lr,
                       bint shuffle_rows, EpochStats* stats) noexcept:
    cdef Settings* s = &net.s
    cdef Py_ssize_t n = X.shape[0], start, b, i
    cdef double loss, mean
    stats.loss_sum = 0
    stats.n_correct = stats.n_seen = stats.n_steps = 0
    stats.diverged = False
    with nogil:
        # Each epoch permutes 0..n-1 afresh: the order depends only on the seed
        # and the epoch, so a saved and reloaded model shuffles as if never saved.
        for i in range(n):
            index[i] = i
        if shuffle_rows:
            shuffle(net._shuffle_bitgen, index)
        start = 0
        while start < n:
            b = min(batch_size, n - start)
            start += b
            _gather(s, W, X, labels, targets, index[start - b:start], batch_labels)
            _forward(s, P, W, lay, &W[s.x_off], b, net._dropout_bitgen, True)
            loss = _loss_and_grad(s, W, lay, batch_labels, b, &stats.n_correct)
            mean = loss / b if s.loss == CROSS_ENTROPY else loss / (b * s.n_outputs)
            if net.step == 0:
                net.first_loss = mean        # the loss before any update
            if not isfinite(mean):
                stats.diverged = True        # stop before NaN reaches the parameters
                break
            stats.loss_sum += loss
            stats.n_seen += b
            net.step += 1
            stats.n_steps += 1
            if b == 1:
                _backward_update_one_sample(s, P, S1, S2, W, lay, lr, net.step)
            else:
                _backward(s, P, G, W, lay, b, True)
                _update(s, P, G, S1, S2, lr, net.step)


cdef void _predict(Network net, floating[::1] P, floating[::1] W, const Py_ssize_t[:, ::1] lay,
                   const floating[:, ::1] X, floating[:, ::1] out) noexcept:
    cdef Settings* s = &net.s
    cdef Py_ssize_t n = X.shape[0], start, b, k = s.n_outputs
    cdef Py_ssize_t zo = lay[s.n_layers - 1, COL_Z]
    with nogil:
        start = 0
        while start < n:
            b = min(net.capacity, n - start)
            _forward(s, P, W, lay, &X[start, 0], b, NULL, False)
            memcpy(&out[start, 0], &W[zo], b * k * sizeof(floating))
            start += b


cdef double _gradients(Network net, floating[::1] P, floating[::1] G, floating[::1] W,
                       const Py_ssize_t[:, ::1] lay, const floating[:, ::1] X,
                       const int[::1] labels, const floating[:, ::1] targets,
                       int[::1] batch_labels) noexcept:
    cdef Settings* s = &net.s
    cdef Py_ssize_t b = X.shape[0], n_correct = 0
    cdef double loss
    index = np.arange(b, dtype=np.intp)
    cdef Py_ssize_t[::1] rows = index
    with nogil:
        _gather(s, W, X, labels, targets, rows, batch_labels)
        _forward(s, P, W, lay, &W[s.x_off], b, net._dropout_bitgen, True)
        loss = _loss_and_grad(s, W, lay, batch_labels, b, &n_correct)
        _backward(s, P, G, W, lay, b, True)
    return loss / b if s.loss == CROSS_ENTROPY else loss / (b * s.n_outputs)
