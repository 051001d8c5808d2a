"""The network: every buffer allocated once, whole epochs run without the GIL.

Memory layout
-------------
All parameters live in one flat buffer ``params``: first every layer's weight
matrix ``W_l`` (``n_in x n_out``, row-major), then every bias ``b_l``.
``grads``, ``state_1`` and ``state_2`` (momentum / Adam's m and v) share that
layout. ``gradients_into`` fills ``grads`` with a whole gradient; training uses
it only as scratch for one block of rows at a time.

Every per-batch array lives in one flat ``work`` buffer, ``capacity`` rows
deep.  For layer ``l`` with ``n_out`` units:

* ``Z`` pre-activation ``X_l @ W_l + b_l``  (the logits, for the output layer)
* ``A`` activation ``f(Z)``; the same memory as ``Z`` for ``identity``
* ``H`` ``A * mask`` with dropout while training; else the same memory as ``A``
* ``M`` the dropout mask (0 or ``1/(1-p)``)
* ``D`` ``dL/dZ`` during backward

``layout[l]`` holds each offset (the columns are named by the ``COL_*``
constants of ``layout.pxd``). :func:`hpframe._core.layout.network_layout` computes
the layout (and
:func:`hpframe.estimate_memory` sums the same numbers); the loops only read it.

One training step (batch ``X0`` of ``B`` rows, ``L`` layers)::

    forward   Z_l = H_{l-1} @ W_l + b_l ; A_l = f(Z_l) ; H_l = A_l * M_l
    loss      D_L = d mean-loss / d Z_L          (softmax / sigmoid fused)
    backward  dW_l = H_{l-1}^T @ D_l ; db_l = sum_rows(D_l)
              D_{l-1} = (D_l @ W_l^T) * M_{l-1} * f'(Z_{l-1})
    update    W_l (with weight decay) and b_l (without), as soon as dW_l and
              db_l are known, before moving down to layer l-1
"""
import threading

import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport isfinite
from libc.stdint cimport uint64_t
from libc.string cimport memcpy
from numpy.random cimport bitgen_t

from hpframe._core._blas cimport gemm
from hpframe._core.activations cimport act_forward, act_forward_n, act_grad_mul_n, IDENTITY, RELU
from hpframe._core.losses cimport (cross_entropy, elementwise_loss, count_correct,
                                   CROSS_ENTROPY, BINARY_CROSS_ENTROPY)
from hpframe._core.dropout cimport bitgen_of, drop_threshold, fill_mask, shuffle
from hpframe._core.layout cimport (COL_N_IN, COL_N_OUT, COL_W, COL_B, COL_Z, COL_A, COL_H,
                                   COL_M, COL_D)
from hpframe._core.optimizers cimport Step, make_step, step_n, step_outer_n

cnp.import_array()

from hpframe._core.layout import team_scratch_size, team_scratch_stride
from hpframe._core.spec import NetworkSpec

include "_buildinfo.pxi"

cdef struct Settings:
    # everything the nogil loops need besides the buffers
    int activation, loss, optimizer
    Py_ssize_t n_layers, n_features, n_outputs, n_weights, n_params
    Py_ssize_t x_off, t_off      # gathered input rows / float targets, in work
    double dropout, momentum, beta_1, beta_2, epsilon, weight_decay
    uint64_t drop_threshold
    Py_ssize_t gemm_piece        # most multiply-adds per gemm call; 0: no limit (_piece)


cdef struct EpochStats:
    double loss_sum              # sum of per-sample (cross entropy) or per-element losses
    Py_ssize_t n_correct, n_seen, n_steps
    bint diverged


cdef extern from "_team.h" nogil:
    ctypedef struct hp_barrier:
        int size                             # threads in the team
    void hp_barrier_init(hp_barrier* team, int size)
    void hp_barrier_wait(hp_barrier* team)
    ctypedef struct hp_counter:
        pass
    void hp_counter_reset(hp_counter* counter)
    long hp_claim(hp_counter* counter, long n)   # the first of the next n items
    int hp_team_max()                        # 1 where the barrier cannot be built


cdef extern from "_cpu.h" nogil:
    int hp_cpu_has_avx2()

# OpenBLAS (the BLAS of numpy's and scipy's wheels) multiplies products of at
# most 100^3 multiply-adds with a kernel that reads the operands in place, in
# its builds for AVX-512 CPUs; bigger ones are first copied into packed panels.
# At the sizes of a small network's step the in-place kernel is about 1.3x
# faster, so there the loops cut their products into such pieces (see _piece).
SMALL_KERNEL_CORES = ("skylakex", "cooperlake", "sapphirerapids")
_small_gemm = None


def small_gemm_piece():
    """The default :attr:`Network.gemm_piece`: 1,000,000 (100^3) multiply-adds where
    scipy's BLAS is OpenBLAS running a kernel set with the small-matrix path
    (``SMALL_KERNEL_CORES``, as ``threadpoolctl`` reports it), else 0 (no limit)."""
    global _small_gemm
    if _small_gemm is None:
        from threadpoolctl import threadpool_info
        _small_gemm = 0
        for pool in threadpool_info():
            if (pool.get("internal_api") == "openblas" and "scipy" in pool.get("filepath", "")
                    and str(pool.get("architecture")).lower() in SMALL_KERNEL_CORES):
                _small_gemm = 1000000
    return _small_gemm


def zeros_aligned(n, dtype):
    """n zeros of dtype starting at a 64-byte boundary (a cache line): a view into
    a slightly larger array, since numpy only promises 16-byte alignment."""
    dtype = np.dtype(dtype)
    spare = 64 // dtype.itemsize
    base = np.zeros(n + spare, dtype=dtype)
    start = (-base.ctypes.data % 64) // dtype.itemsize
    return base[start:start + n]


def cpu_has_avx2():
    """True if this CPU (and its operating system) can run AVX2 code."""
    return bool(hp_cpu_has_avx2())


def max_team_size():
    """The largest team of threads this build can train with (1: single-threaded build)."""
    return hp_team_max()


cdef enum:
    PART_STRIDE = 8                      # doubles per thread in Team.parts: a cache line


cdef struct Team:
    # a team of threads: its barrier, and where threads 1.. put their partial
    # sums of each layer's product (two layers' worth, alternating)
    hp_barrier barrier
    hp_counter rows                      # the batch's rows still to be copied
    double* parts                        # per thread, a cache line apart: its rows'
                                         # loss sum and count of correct predictions
    void* scratch
    Py_ssize_t stride                    # elements of one thread's partial


cdef struct Epoch:
    # what the team shares; thread 0 writes the counters
    Settings* s
    bitgen_t** dropout_rngs              # one generator per hidden layer
    Py_ssize_t n, batch_size
    double lr
    long* step
    double* first_loss
    EpochStats totals
    Team team


cdef class Network:
    """A dense network's buffers and its compiled training/evaluation loops.

    Built by :class:`hpframe.Trainer`, which validates every hyperparameter; the
    layout and buffers are allocated here, once.

    Parameters
    ----------
    spec : hpframe._core.spec.NetworkSpec
        The sizes, functions, hyperparameters, buffer depth (``capacity``),
        dtype and seed of the network.
    """
    cdef Settings s
    cdef readonly object dtype
    cdef readonly Py_ssize_t capacity
    cdef readonly long step
    cdef public double first_loss
    cdef readonly object spec
    cdef readonly object params, grads, state_1, state_2, work, layout
    cdef readonly object shuffle_rng, dropout_rngs
    cdef object _labels, _index
    cdef bitgen_t* _shuffle_bitgen
    cdef object _dropout_bitgens       # their bitgen_t pointers (intp)
    cdef Epoch _epoch
    cdef Team _predict_team
    cdef object _scratch, _parts, _sizes

    def __init__(self, spec):
        if not isinstance(spec, NetworkSpec):
            raise TypeError(f"Network takes a NetworkSpec; got {type(spec).__name__}")
        self.spec = spec
        sizes = list(spec.sizes)
        self._sizes = sizes
        cdef Py_ssize_t n_layers = len(sizes) - 1, n
        cdef Py_ssize_t capacity = spec.capacity
        self.dtype = spec.dtype
        self.capacity = capacity
        self.step = 0
        self.first_loss = float("nan")
        self.s.activation = spec.activation_code
        self.s.loss = spec.loss_code
        self.s.optimizer = spec.optimizer_code
        self.s.n_layers = n_layers
        self.s.n_features = sizes[0]
        self.s.n_outputs = sizes[n_layers]
        self.s.dropout = spec.dropout
        self.s.drop_threshold = drop_threshold(spec.dropout)
        self.s.momentum = spec.momentum
        self.s.beta_1 = spec.beta_1
        self.s.beta_2 = spec.beta_2
        self.s.epsilon = spec.epsilon
        self.s.weight_decay = spec.weight_decay
        self.s.gemm_piece = small_gemm_piece()

        lay = spec.layout()
        self.layout = lay.table
        self.s.n_weights = lay.n_weights
        self.s.n_params = lay.n_params
        self.s.x_off = lay.x_offset
        self.s.t_off = lay.t_offset
        pos = lay.work_size
        n = self.s.n_params
        self.params = zeros_aligned(n, self.dtype)
        self.grads = zeros_aligned(n, self.dtype)
        self.state_1 = zeros_aligned(n if lay.n_state >= n else 0, self.dtype)
        self.state_2 = zeros_aligned(n if lay.n_state >= 2 * n else 0, self.dtype)
        self.work = zeros_aligned(pos, self.dtype)
        self._labels = np.zeros(capacity, dtype=np.intc)
        self._index = np.zeros(0, dtype=np.intp)

        # child 0 shuffles; child 1 + l draws hidden layer l's dropout masks, so
        # that a team's threads can draw different layers' masks at once
        seed = spec.seed
        seeds = (seed if isinstance(seed, np.random.SeedSequence)
                 else np.random.SeedSequence(seed)).spawn(n_layers)
        self.shuffle_rng = np.random.PCG64(seeds[0])
        self.dropout_rngs = tuple(np.random.PCG64(c) for c in seeds[1:n_layers])
        self._shuffle_bitgen = bitgen_of(self.shuffle_rng)
        self._dropout_bitgens = np.array(
            [<Py_ssize_t> bitgen_of(r) for r in self.dropout_rngs], dtype=np.intp)

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

    @property
    def gemm_piece(self):
        """The most multiply-adds one BLAS call of the loops computes (0: no limit);
        larger products are cut into pieces when they stay at least 16 wide."""
        return self.s.gemm_piece

    @gemm_piece.setter
    def gemm_piece(self, Py_ssize_t value):
        if value < 0:
            raise ValueError(f"gemm_piece must be >= 0; got {value}")
        self.s.gemm_piece = value

    def set_step(self, long step):
        """Restore the optimizer's step counter (after loading a saved model)."""
        self.step = step

    # ---- the compiled loops, entered from Python -----------------------------
    def train_epoch(self, X, labels, targets, Py_ssize_t batch_size, double lr,
                    bint shuffle_rows, int n_threads=1):
        """Train one epoch over all rows of ``X``; return
        ``(loss_sum, n_correct, n_seen, n_steps, diverged)``.

        ``labels`` (int32, ``(n,)``) are used by cross entropy, ``targets``
        (``(n, n_outputs)``) by every other loss; pass an empty array for the
        other.  The caller guarantees shapes, dtypes and ``batch_size <= capacity``.
        A team of ``n_threads`` threads shares every step; each calls BLAS, so
        with more than one, limit BLAS to one thread.
        """
        cdef Py_ssize_t n = X.shape[0]
        if self._index.shape[0] != n:
            self._index = np.empty(n, dtype=np.intp)
        cdef Epoch* e = &self._epoch
        e.s = &self.s
        e.dropout_rngs = <bitgen_t**> cnp.PyArray_DATA(self._dropout_bitgens)
        e.n = n
        e.batch_size = batch_size
        e.lr = lr
        e.step = &self.step
        e.first_loss = &self.first_loss
        e.totals.loss_sum = 0
        e.totals.n_correct = e.totals.n_seen = e.totals.n_steps = 0
        e.totals.diverged = False
        _new_order(self._shuffle_bitgen, self._index, shuffle_rows)
        self._prepare_team(&e.team, n_threads)
        self._run_team(e.team.barrier.size, self._train_member, (X, labels, targets))
        return (e.totals.loss_sum, e.totals.n_correct, e.totals.n_seen, e.totals.n_steps,
                bool(e.totals.diverged))

    def _train_member(self, int t, X, labels, targets):
        if self.dtype == np.float32:
            _epoch_member[float](self, self.params, self.grads, self.state_1, self.state_2,
                                 self.work, self.layout, X, labels, targets, self._index,
                                 self._labels, t)
        else:
            _epoch_member[double](self, self.params, self.grads, self.state_1, self.state_2,
                                  self.work, self.layout, X, labels, targets, self._index,
                                  self._labels, t)

    def predict_into(self, X, out, int n_threads=1):
        """Write the output layer (logits / raw outputs) for every row of ``X`` into
        ``out``, with a team of ``n_threads`` threads (see :meth:`train_epoch`)."""
        self._prepare_team(&self._predict_team, n_threads)
        self._run_team(self._predict_team.barrier.size, self._predict_member, (X, out))

    def _predict_member(self, int t, X, out):
        if self.dtype == np.float32:
            _predict_member[float](self, self.params, self.work, self.layout, X, out, t)
        else:
            _predict_member[double](self, self.params, self.work, self.layout, X, out, t)

    cdef void _prepare_team(self, Team* team, int n_threads) except *:
        """The team's barrier, where its threads leave their rows' losses, and
        scratch for the partial sums of threads 1.. (two layers' worth); buffers
        allocated once for the largest team used so far."""
        cdef int size = _team_size(n_threads)
        hp_barrier_init(&team.barrier, size)
        hp_counter_reset(&team.rows)
        if self._parts is None or self._parts.shape[0] < size * PART_STRIDE:
            self._parts = zeros_aligned(size * PART_STRIDE, np.float64)
        team.parts = <double*> cnp.PyArray_DATA(self._parts)
        team.stride = team_scratch_stride(self._sizes, self.capacity)
        team.scratch = NULL
        if size > 1:
            need = team_scratch_size(self._sizes, self.capacity, size)
            if self._scratch is None or self._scratch.shape[0] < need:
                self._scratch = zeros_aligned(need, self.dtype)
            team.scratch = cnp.PyArray_DATA(self._scratch)

    @staticmethod
    def _run_team(int size, member, args):
        """Run ``member(t, *args)`` for t = 0..size-1: t = 0 here, the others in
        helper threads. Each releases the GIL for its share; the barrier in the
        loops is all that synchronises them. (Fresh threads for every call: a
        forked child process inherits no stale thread pool.)"""
        helpers = [threading.Thread(target=member, args=(t, *args), daemon=True,
                                    name=f"hpframe-team-{t}") for t in range(1, size)]
        for h in helpers:
            h.start()
        member(0, *args)
        for h in helpers:
            h.join()

    def gradients_into(self, X, labels, targets):
        """Forward and backward on ``X`` as one batch (no update): fill ``grads``
        and return the mean loss.  ``len(X) <= capacity``."""
        if self.dtype == np.float32:
            return _gradients[float](self, self.params, self.grads, self.work, self.layout,
                                     X, labels, targets, self._labels)
        return _gradients[double](self, self.params, self.grads, self.work, self.layout,
                                  X, labels, targets, self._labels)


# ---- the loops ---------------------------------------------------------------
#
# A team of threads shares each step. Thread t of T owns a contiguous share of
# every layer's inputs - the rows of W it multiplies in the forward pass and
# whose gradient and update it computes in the backward pass - and the same
# share of every layer's units (Z, A, H, M and D columns). No other thread
# touches its rows of W or their optimizer state, so they stay in its core's
# cache. Between layers the team meets at a barrier; with T = 1 (or where C11
# atomics are missing) the barriers do nothing and the same code runs.

cdef inline void _share(Py_ssize_t n, int t, int team, Py_ssize_t* lo,
                        Py_ssize_t* hi) noexcept nogil:
    """Thread t's share [lo, hi) of n units: contiguous, a multiple of 16 wide."""
    cdef Py_ssize_t chunk = (n + team - 1) // team
    if team > 1:
        chunk = (chunk + 15) // 16 * 16
    lo[0] = min(n, t * chunk)
    hi[0] = min(n, lo[0] + chunk)


cdef inline void _even_share(Py_ssize_t n, int t, int team, Py_ssize_t* lo,
                            Py_ssize_t* hi) noexcept nogil:
    """Thread t's share [lo, hi) of n items, split as evenly as can be."""
    lo[0] = n * t // team
    hi[0] = n * (t + 1) // team


cdef inline void _output_rows(Py_ssize_t b, int t, int team, Py_ssize_t* lo,
                              Py_ssize_t* hi) noexcept nogil:
    """The rows of a batch of b whose output layer thread t finishes (_forward)
    and whose loss it then computes (_epoch_steps)."""
    _even_share(b, t, team, lo, hi)


cdef inline void _input_share(Py_ssize_t l, Py_ssize_t n_in, int t, int team,
                              Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Thread t's share [lo, hi) of layer l's inputs: the rows of W_l it owns.

    A hidden layer's inputs are the units the thread computed in the layer
    below (_share). The first layer's are the batch's columns, which no thread
    wrote, so they split evenly (784 inputs: 392 each, not 400 and 384).
    """
    if l > 0:
        _share(n_in, t, team, lo, hi)
    else:
        _even_share(n_in, t, team, lo, hi)


cdef void _draw_masks(Settings* s, floating[::1] W, const Py_ssize_t[:, ::1] lay,
                      Py_ssize_t b, bitgen_t** rngs, int t, int n_team) noexcept nogil:
    """Thread t's dropout masks for a batch of b rows (0 or 1/(1-p)): those of
    hidden layers t, t + n_team, ..., each from the layer's own generator - so
    the masks are the same whichever thread draws them."""
    cdef Py_ssize_t l = t
    cdef floating scale = <floating> (1 / (1 - s.dropout))
    while l < s.n_layers - 1:
        fill_mask(rngs[l], s.drop_threshold, scale, &W[lay[l, COL_M]], b * lay[l, COL_N_OUT])
        l += n_team


cdef inline bint _only_h(Settings* s, Py_ssize_t l, bint drop) noexcept nogil:
    """Whether hidden layer l keeps only H: ReLU with dropout, where h > 0
    exactly where z > 0 and the unit was kept, so f'(z) * mask = scale * (h > 0)."""
    return drop and s.activation == RELU and l < s.n_layers - 1


cdef void _forward(Settings* s, floating[::1] P, floating[::1] W,
                   const Py_ssize_t[:, ::1] lay, const floating* x, Py_ssize_t b,
                   bint drop, int t, Team* team) noexcept nogil:
    """Forward ``b`` rows starting at ``x`` through every layer, into ``work``.

    Thread ``t`` owns a share of each layer's inputs - the rows of W_l that it
    also updates in the backward pass - and multiplies only those:
    ``input[:, r0:r1] @ W_l[r0:r1, :]``, a partial sum of the layer's output
    (thread 0 writes it into Z, the others into the team's scratch). After the
    barrier, each thread adds up the partial sums for its share of the layer's
    units (in thread order, so the result never depends on timing), adds the
    bias, applies the activation and the dropout mask already drawn into M.
    Those units are the next layer's inputs it owns, so no barrier is needed
    before the next layer. Every thread touches only its own rows of W. The
    output layer is finished by rows instead, all its units for a share of the
    batch: the thread goes on to the loss of those rows without waiting for the
    others (callers meet at a barrier before using the whole output).

    ReLU with dropout keeps only H (the backward pass reads f'(z) * mask off
    it, see _backprop_delta): the sums go straight into H, and Z and A of that
    layer are left untouched.
    """
    cdef Py_ssize_t l, i, j, u, r0, r1, c0, c1, i0, i1, m, n_in, n_out, k, zo
    cdef int n_team = team.barrier.size
    cdef bint only_h
    cdef const floating* inp = x
    cdef const floating* bias
    cdef const floating* first
    cdef floating* z
    cdef floating* out
    cdef floating* a
    cdef floating* h
    cdef const floating* mask
    cdef floating* scratch = <floating*> team.scratch
    cdef floating* partial
    for l in range(s.n_layers):
        n_in = lay[l, COL_N_IN]
        n_out = lay[l, COL_N_OUT]
        zo = lay[l, COL_Z]
        _input_share(l, n_in, t, n_team, &r0, &r1)
        if r1 > r0:
            partial = &W[zo] if t == 0 else _partial(scratch, team, l, t)
            _product(s, b, n_out, r1 - r0, inp + r0, n_in, &P[lay[l, COL_W] + r0 * n_out],
                     partial)
        hp_barrier_wait(&team.barrier)       # every partial sum is there
        if l < s.n_layers - 1:
            _share(n_out, t, n_team, &c0, &c1)       # its units, every row
            i0, i1 = 0, b
        else:
            c0, c1 = 0, n_out                        # the output: its rows, every unit
            _output_rows(b, t, n_team, &i0, &i1)
        m = c1 - c0
        only_h = _only_h(s, l, drop)
        if m > 0:
            bias = &P[lay[l, COL_B] + c0]
            # row by row, while the row is in cache: sum, bias, activation, dropout
            for i in range(i0, i1):
                k = i * n_out + c0
                z = &W[zo + k]
                out = &W[lay[l, COL_H] + k] if only_h else z
                first = z                    # out = z + partial_1 + ... + bias
                for u in range(1, n_team):
                    _input_share(l, n_in, u, n_team, &r0, &r1)
                    if r1 > r0:
                        partial = _partial(scratch, team, l, u) + k
                        for j in range(m):
                            out[j] = first[j] + partial[j]
                        first = out
                for j in range(m):
                    out[j] = first[j] + bias[j]
                if only_h:
                    mask = &W[lay[l, COL_M] + k]
                    for j in range(m):
                        out[j] = act_forward(RELU, out[j]) * mask[j]
                elif l < s.n_layers - 1:
                    a = &W[lay[l, COL_A] + k]
                    act_forward_n(s.activation, z, a, m)
                    if drop:
                        h = &W[lay[l, COL_H] + k]
                        mask = &W[lay[l, COL_M] + k]
                        for j in range(m):
                            h[j] = a[j] * mask[j]
        inp = &W[lay[l, COL_H] if drop else lay[l, COL_A]]


cdef inline Py_ssize_t _most_per_call(Settings* s, Py_ssize_t cost) noexcept nogil:
    """How many rows (or inner terms) costing ``cost`` multiply-adds each one gemm
    call may take under s.gemm_piece; 0 for no limit - also when the pieces would
    be narrower than 16, which is not worth cutting a product for."""
    cdef Py_ssize_t most = s.gemm_piece // cost if s.gemm_piece > 0 else 0
    return most if most >= 16 else 0


cdef inline Py_ssize_t _piece(Settings* s, Py_ssize_t cost, Py_ssize_t n) noexcept nogil:
    """How many of n rows (or inner terms) one gemm call takes: all n, or equal
    pieces under _most_per_call."""
    cdef Py_ssize_t most = _most_per_call(s, cost), pieces
    if most == 0 or n <= most:
        return n
    pieces = (n + most - 1) // most
    return (n + pieces - 1) // pieces


cdef void _product(Settings* s, Py_ssize_t b, Py_ssize_t n_out, Py_ssize_t k,
                   const floating* x, Py_ssize_t ldx, const floating* w,
                   floating* out) noexcept nogil:
    """out (b x n_out) = x[:, :k] @ w[:k, :], in pieces along k (see _piece):
    the first piece writes out, the others add to it."""
    cdef Py_ssize_t k0 = 0, kk, step = _piece(s, b * n_out, k)
    while k0 < k:
        kk = min(step, k - k0)
        gemm(False, False, <int> b, <int> n_out, <int> kk, <floating> 1, x + k0, <int> ldx,
             w + k0 * n_out, <int> n_out, <floating> (1 if k0 > 0 else 0), out, <int> n_out)
        k0 += kk


cdef inline floating* _partial(floating* scratch, Team* team, Py_ssize_t l,
                               Py_ssize_t u) noexcept nogil:
    """Where thread u >= 1 puts its partial sum of layer l (layers alternate
    between two areas, so a slow thread still reading layer l's is safe)."""
    return scratch + ((l % 2) * (team.barrier.size - 1) + (u - 1)) * team.stride


cdef double _loss_and_grad(Settings* s, floating[::1] W, const Py_ssize_t[:, ::1] lay,
                           const int[::1] labels, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t b,
                           Py_ssize_t* n_correct) noexcept nogil:
    """Loss sum of rows i0:i1 of the output layer (a batch of b) against the
    gathered targets; their dL/dZ into D."""
    cdef Py_ssize_t last = s.n_layers - 1, k = s.n_outputs
    cdef Py_ssize_t zo = lay[last, COL_Z] + i0 * k, do = lay[last, COL_D] + i0 * k
    cdef Py_ssize_t to = s.t_off + i0 * k, n = (i1 - i0) * k
    cdef double loss
    if s.loss == CROSS_ENTROPY:
        loss = cross_entropy(W[zo:zo + n], labels[i0:i1], k, 1.0 / b, W[do:do + n])
    else:
        loss = elementwise_loss(s.loss, W[zo:zo + n], W[to:to + n], 1.0 / (b * k),
                                W[do:do + n])
    n_correct[0] += count_correct(s.loss, W[zo:zo + n], labels[i0:i1], W[to:to + n], k)
    return loss


cdef inline Py_ssize_t _input_offset(Settings* s, const Py_ssize_t[:, ::1] lay, Py_ssize_t l,
                                    bint drop) noexcept nogil:
    """Where in ``work`` is what layer l multiplied: the batch, or the previous H."""
    if l == 0:
        return s.x_off
    return lay[l - 1, COL_H] if drop else lay[l - 1, COL_A]


cdef void _backprop_delta(Settings* s, floating[::1] P, floating[::1] W,
                          const Py_ssize_t[:, ::1] lay, Py_ssize_t l, Py_ssize_t b,
                          bint drop, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    """Columns r0:r1 of D_{l-1} = (D_l @ W_l^T) * mask_{l-1} * f'(Z_{l-1}), for l >= 1.

    They need rows r0:r1 of W_l only. Where layer l-1 keeps only H (_only_h),
    ``mask * f'(z)`` is ``scale * (h > 0)``: the same products, bit for bit.
    """
    cdef Py_ssize_t i, j, k, m = r1 - r0, n_in = lay[l, COL_N_IN], n_out = lay[l, COL_N_OUT]
    cdef Py_ssize_t step = _piece(s, b * n_out, m)
    cdef floating scale = <floating> (1 / (1 - s.dropout))
    cdef floating* d
    cdef const floating* h
    cdef const floating* mask
    j = 0
    while j < m:                                 # in pieces of columns (see _piece)
        gemm(False, True, <int> b, <int> min(step, m - j), <int> n_out, <floating> 1,
             &W[lay[l, COL_D]], <int> n_out, &P[lay[l, COL_W] + (r0 + j) * n_out], <int> n_out,
             <floating> 0, &W[lay[l - 1, COL_D] + r0 + j], <int> n_in)
        j += step
    for i in range(b):
        k = i * n_in + r0
        d = &W[lay[l - 1, COL_D] + k]
        if _only_h(s, l - 1, drop):
            h = &W[lay[l - 1, COL_H] + k]
            for j in range(m):
                d[j] = d[j] * (scale if h[j] > 0 else 0)
        else:
            act_grad_mul_n(s.activation, &W[lay[l - 1, COL_Z] + k],
                           &W[lay[l - 1, COL_A] + k], d, m)
            if drop:
                mask = &W[lay[l - 1, COL_M] + k]
                for j in range(m):
                    d[j] = d[j] * mask[j]


cdef inline Py_ssize_t _rows_per_block(Settings* s, Py_ssize_t n_out,
                                       Py_ssize_t b) noexcept nogil:
    """Rows of a weight-gradient block: about 8192 values (32 KB in float32), but
    at least 4b: each block's gemm packs D_l (b x n_out) again, which must cost
    little next to the block's own products - and at most one piece (_piece),
    whose gemm packs nothing."""
    cdef Py_ssize_t rows = max(8192 // n_out, 4 * b, 1)
    cdef Py_ssize_t most = _most_per_call(s, n_out * b)
    return min(rows, most) if most > 0 else rows


cdef inline floating* _at(floating[::1] state, Py_ssize_t i) noexcept nogil:
    """&state[i], or NULL for an optimizer without this state buffer (it is empty)."""
    return &state[i] if state.shape[0] > 0 else NULL


cdef void _backward(Settings* s, floating[::1] P, floating[::1] G, floating[::1] S1,
                    floating[::1] S2, floating[::1] W, const Py_ssize_t[:, ::1] lay,
                    Py_ssize_t b, bint drop, const Step* on_weights, const Step* on_biases,
                    int t, Team* team) noexcept nogil:
    """Every layer's gradient into G, from the output down; with steps, update too.

    Thread ``t`` takes rows r0:r1 of each W_l (the weights into its units of
    the layer below): their gradient ``input[:, r0:r1]^T @ D_l``, the columns
    r0:r1 of D_{l-1} (which read only those rows of W_l) and then their
    update - no other thread reads them, so no barrier is needed in between.
    Its share of the output units c0:c1 gives the bias gradient (column sums
    of D_l) and update. At b == 1 the weight gradient is the outer product
    ``input D_l^T``: the update computes each entry on the fly
    (``step_outer_n``) and the gradient is never written out.
    """
    cdef Py_ssize_t l, i, j, k, n_in, n_out, do, wo, bo, r0, r1, c0, c1, xo, rb, re, rows
    cdef bint update = on_weights != NULL
    cdef floating* db
    cdef const floating* d
    for l in range(s.n_layers - 1, -1, -1):
        n_in = lay[l, COL_N_IN]
        n_out = lay[l, COL_N_OUT]
        do, wo, bo = lay[l, COL_D], lay[l, COL_W], lay[l, COL_B]
        xo = _input_offset(s, lay, l, drop)
        _input_share(l, n_in, t, team.barrier.size, &r0, &r1)
        if r1 > r0:
            if l > 0:
                _backprop_delta(s, P, W, lay, l, b, drop, r0, r1)
            wo = wo + r0 * n_out                 # this thread's rows of W_l from here
            if update and b == 1:
                step_outer_n(on_weights, &P[wo], &W[xo + r0], &W[do], _at(S1, wo),
                             _at(S2, wo), r1 - r0, n_out)
            elif update:
                # A block of rows at a time: its gradient is written to the same
                # small scratch block (the start of this thread's rows of G) and
                # used while in cache, so the whole gradient never goes through
                # memory; only W, m and v do.
                rows = _rows_per_block(s, n_out, b)
                rb = r0
                while rb < r1:
                    re = min(r1, rb + rows)
                    gemm(True, False, <int> (re - rb), <int> n_out, <int> b, <floating> 1,
                         &W[xo + rb], <int> n_in, &W[do], <int> n_out, <floating> 0,
                         &G[wo], <int> n_out)
                    k = wo + (rb - r0) * n_out
                    step_n(on_weights, &P[k], &G[wo], _at(S1, k), _at(S2, k),
                           (re - rb) * n_out)
                    rb = re
            else:
                gemm(True, False, <int> (r1 - r0), <int> n_out, <int> b, <floating> 1,
                     &W[xo + r0], <int> n_in, &W[do], <int> n_out, <floating> 0,
                     &G[wo], <int> n_out)
        _share(n_out, t, team.barrier.size, &c0, &c1)
        if c1 > c0:
            db = &G[bo + c0]
            for j in range(c1 - c0):
                db[j] = 0
            for i in range(b):
                d = &W[do + i * n_out + c0]
                for j in range(c1 - c0):
                    db[j] = db[j] + d[j]
            if update:
                step_n(on_biases, &P[bo + c0], db, _at(S1, bo + c0), _at(S2, bo + c0),
                       c1 - c0)
        hp_barrier_wait(&team.barrier)                # D_{l-1} is complete


cdef void _gather(Settings* s, floating[::1] W, const floating[:, ::1] X,
                  const int[::1] labels, const floating[:, ::1] targets,
                  const Py_ssize_t* rows, Py_ssize_t b, int[::1] batch_labels,
                  hp_counter* claims) noexcept nogil:
    """Copy the batch's input rows and targets into the work buffer.

    The rows are handed out in turns of about 16 KB: every thread of a team
    calls this and copies the rows it claims, so the copying is shared by
    whoever is free (a thread joins once it has drawn its dropout masks).
    """
    cdef Py_ssize_t r, r_end, src, f = s.n_features, k = s.n_outputs
    cdef Py_ssize_t turn = max(1, 16384 // <Py_ssize_t> (f * sizeof(floating)))
    r = hp_claim(claims, turn)
    while r < b:
        r_end = min(b, r + turn)
        while r < r_end:
            src = rows[r]
            memcpy(&W[s.x_off + r * f], &X[src, 0], f * sizeof(floating))
            if s.loss == CROSS_ENTROPY:
                batch_labels[r] = labels[src]
            else:
                memcpy(&W[s.t_off + r * k], &targets[src, 0], k * sizeof(floating))
            r += 1
        r = hp_claim(claims, turn)


cdef void _epoch_steps(Epoch* e, floating[::1] P, floating[::1] G, floating[::1] S1,
                       floating[::1] S2, floating[::1] W, const Py_ssize_t[:, ::1] lay,
                       const floating[:, ::1] X, const int[::1] labels,
                       const floating[:, ::1] targets, const Py_ssize_t[::1] index,
                       int[::1] batch_labels, int t) noexcept nogil:
    """Every step of one epoch, as thread ``t`` of the team does it."""
    cdef Settings* s = e.s
    cdef Team* team = &e.team
    cdef Py_ssize_t start = 0, b, i0, i1, n_correct
    cdef bint drop = s.dropout > 0
    cdef double loss, mean
    cdef long step = e.step[0]               # each thread counts; thread 0 also records
    cdef int u, n_team = team.barrier.size
    cdef Step on_weights, on_biases
    while start < e.n:
        b = min(e.batch_size, e.n - start)
        # each thread draws its layers' masks (thread t: layers t, t + T, ...),
        # then helps copy the rows (the others start copying at once)
        if drop:
            _draw_masks(s, W, lay, b, e.dropout_rngs, t, n_team)
        _gather(s, W, X, labels, targets, &index[start], b, batch_labels, &team.rows)
        start += b
        hp_barrier_wait(&team.barrier)
        if t == 0:
            hp_counter_reset(&team.rows)     # nobody claims again before the next step
        _forward(s, P, W, lay, &W[s.x_off], b, drop, t, team)
        # the loss of the output rows this thread finished; then every thread
        # adds up the team's sums in thread order, so all see the same loss
        _output_rows(b, t, n_team, &i0, &i1)
        n_correct = 0
        team.parts[t * PART_STRIDE] = _loss_and_grad(s, W, lay, batch_labels, i0, i1, b,
                                                     &n_correct)
        team.parts[t * PART_STRIDE + 1] = n_correct
        hp_barrier_wait(&team.barrier)       # every row's loss and dL/dZ is there
        loss = 0
        for u in range(n_team):
            loss += team.parts[u * PART_STRIDE]
        mean = loss / b if s.loss == CROSS_ENTROPY else loss / (b * s.n_outputs)
        if t == 0:
            for u in range(n_team):
                e.totals.n_correct += <Py_ssize_t> team.parts[u * PART_STRIDE + 1]
            if step == 0:
                e.first_loss[0] = mean       # the loss before any update
            if not isfinite(mean):
                e.totals.diverged = True
            else:
                e.totals.loss_sum += loss
                e.totals.n_seen += b
                e.totals.n_steps += 1
                e.step[0] = step + 1
        if not isfinite(mean):
            break                            # stop before NaN reaches the parameters
        step += 1
        on_weights = make_step(s.optimizer, e.lr, s.momentum, s.beta_1, s.beta_2,
                               s.epsilon, s.weight_decay, step)
        on_biases = make_step(s.optimizer, e.lr, s.momentum, s.beta_1, s.beta_2,
                              s.epsilon, 0.0, step)
        _backward(s, P, G, S1, S2, W, lay, b, drop, &on_weights, &on_biases, t, team)


cdef int _team_size(int n_threads) noexcept:
    return max(1, min(n_threads, hp_team_max()))


cdef void _new_order(bitgen_t* rng, Py_ssize_t[::1] index, bint shuffle_rows) noexcept:
    """0..n-1 into ``index``, shuffled. Each epoch permutes afresh: the order
    depends only on the seed and the epoch, so a saved and reloaded model
    shuffles as if never saved."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(index.shape[0]):
            index[i] = i
        if shuffle_rows:
            shuffle(rng, index)


cdef void _epoch_member(Network net, floating[::1] P, floating[::1] G, floating[::1] S1,
                        floating[::1] S2, floating[::1] W, const Py_ssize_t[:, ::1] lay,
                        const floating[:, ::1] X, const int[::1] labels,
                        const floating[:, ::1] targets, const Py_ssize_t[::1] index,
                        int[::1] batch_labels, int t) noexcept:
    with nogil:
        _epoch_steps(&net._epoch, P, G, S1, S2, W, lay, X, labels, targets, index,
                     batch_labels, t)


cdef void _predict_chunks(Settings* s, Py_ssize_t capacity, floating[::1] P, floating[::1] W,
                          const Py_ssize_t[:, ::1] lay, const floating[:, ::1] X,
                          floating[:, ::1] out, Team* team, int t) noexcept nogil:
    """Forward every row of X in chunks of ``capacity`` rows; the logits into ``out``."""
    cdef Py_ssize_t n = X.shape[0], start = 0, b, k = s.n_outputs
    cdef Py_ssize_t zo = lay[s.n_layers - 1, COL_Z]
    while start < n:
        b = min(capacity, n - start)
        _forward(s, P, W, lay, &X[start, 0], b, False, t, team)
        hp_barrier_wait(&team.barrier)                # every output row is there
        if t == 0:
            memcpy(&out[start, 0], &W[zo], b * k * sizeof(floating))
        hp_barrier_wait(&team.barrier)                # before the next chunk overwrites work
        start += b


cdef void _predict_member(Network net, floating[::1] P, floating[::1] W,
                          const Py_ssize_t[:, ::1] lay, const floating[:, ::1] X,
                          floating[:, ::1] out, int t) noexcept:
    with nogil:
        _predict_chunks(&net.s, net.capacity, P, W, lay, X, out, &net._predict_team, t)


cdef double _gradients(Network net, floating[::1] P, floating[::1] G, floating[::1] W,
                       const Py_ssize_t[:, ::1] lay, const floating[:, ::1] X,
                       const int[::1] labels, const floating[:, ::1] targets,
                       int[::1] batch_labels) noexcept:
    cdef Settings* s = &net.s
    cdef Py_ssize_t b = X.shape[0], n_correct = 0
    cdef double loss
    cdef bint drop = s.dropout > 0
    cdef Team alone
    cdef bitgen_t** rngs = <bitgen_t**> cnp.PyArray_DATA(net._dropout_bitgens)
    index = np.arange(b, dtype=np.intp)
    cdef Py_ssize_t[::1] rows = index
    with nogil:
        hp_barrier_init(&alone.barrier, 1)
        hp_counter_reset(&alone.rows)
        alone.scratch = NULL
        alone.parts = NULL
        if drop:
            _draw_masks(s, W, lay, b, rngs, 0, 1)
        _gather(s, W, X, labels, targets, &rows[0], b, batch_labels, &alone.rows)
        _forward(s, P, W, lay, &W[s.x_off], b, drop, 0, &alone)
        loss = _loss_and_grad(s, W, lay, batch_labels, 0, b, b, &n_correct)
        _backward(s, P, G, G[:0], G[:0], W, lay, b, drop, NULL, NULL, 0, &alone)
    return loss / b if s.loss == CROSS_ENTROPY else loss / (b * s.n_outputs)
