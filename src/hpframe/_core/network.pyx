r"""A dense network trained whole epochs at a time, without the GIL.

The math
--------
One training step on a batch ``X`` of ``B`` rows through ``L`` dense layers::

    forward   H_0 = X
              Z_l = H_{l-1} W_l + b_l ;  A_l = f(Z_l) ;  H_l = A_l * M_l    (l < L)
              Z_L = H_{L-1} W_L + b_L                      (the logits, or outputs)
    loss      D_L = d mean-loss / d Z_L                     (softmax / sigmoid fused)
    backward  dW_l = H_{l-1}^T D_l ;  db_l = sum over rows of D_l
              D_{l-1} = (D_l W_l^T) * f'(Z_{l-1}) * M_{l-1}
    update    W_l (with weight decay) and b_l (without), as soon as dW_l and
              db_l are known, before moving down to layer l-1

With ``clip_norm`` set the step has two phases instead: the backward pass
writes every layer's whole gradient into ``grads``; the team adds up its sum
of squares (each thread's share in double, the shares in thread order), the
global norm ``n = sqrt(sum of every dW_l**2 and db_l**2)``; then every
gradient is scaled by ``c = clip_norm / (n + 1e-6)`` if ``c < 1`` (PyTorch's
``clip_grad_norm_``) and the update pass applies the step.

where ``M_l`` is layer l's dropout mask (0 or ``1/(1-p)``; none without
dropout). :class:`hpframe.reference.ReferenceMLP` is the readable twin: the
same steps in NumPy, which the tests compare this module against step by step.

Where each piece lives
----------------------
* ``dense.pxd`` - the arithmetic of one layer: ``dense_forward`` (``Z = H W + b``,
  ``A = f(Z)``, ``H = A * M``) and ``dense_backward`` (``dW``, ``db``, ``D_prev``).
* ``layout.pxd`` / ``layout.pyx`` - where every number lives in the four
  parameter-shaped buffers ``params``, ``grads``, ``state_1``, ``state_2`` and
  the per-batch buffer ``work`` (the ``COL_*`` columns of ``layout``).
* ``team.pxd`` / ``_team.h`` - a team of threads sharing each step: their
  shares of each layer, partial sums, and the barrier they meet at.
* ``_blas.pxd`` / ``_blas.pyx`` - gemm, and the policy of calling it (products
  in pieces, rows per block of a weight gradient).
* ``activations``, ``losses``, ``dropout``, ``optimizers`` - the functions,
  their gradients, the masks and the update rules.

This module composes them: :func:`_forward` layer by layer, :func:`_loss_and_grad`,
:func:`_backward` layer by layer (which updates as it goes), in
:func:`_epoch_steps`. ``gradients_into`` fills ``grads`` with a whole gradient;
training uses it only as scratch for one block of rows at a time.
"""
import threading

import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport isfinite, sqrt
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset
from numpy.random cimport bitgen_t

from hpframe._core._blas cimport (product, hp_sgemm_available, hp_sgemm_packed, hp_pack_b,
                                   hp_packed_size, HP_PACK_ROWS, OWN_MOST_COLUMNS)
from hpframe._core.activations cimport RELU, softmax_n
from hpframe._core.dense cimport Dense, dense_forward, dense_backward
from hpframe._core.dropout cimport bitgen_of, drop_threshold, fill_mask, shuffle
from hpframe._core.dropout import pcg64_direct
from hpframe._core.finite cimport all_finite_n, all_finite_fast
from hpframe._core.layout cimport (COL_N_IN, COL_N_OUT, COL_W, COL_B, COL_Z, COL_A, COL_H,
                                   COL_M, COL_D)
from hpframe._core.losses cimport (cross_entropy, elementwise_loss, count_correct,
                                   CROSS_ENTROPY)
from hpframe._core.optimizers cimport Step, make_step, step_n
from hpframe._core.team cimport (Team, PART_STRIDE, hp_barrier_init, hp_barrier_wait,
                                 hp_counter, hp_counter_reset, hp_claim, hp_team_max,
                                 team_size, share, output_rows, input_share, partial_sum,
                                 add_partial_sums)

cnp.import_array()

from hpframe._core._blas import small_gemm_piece, small_gemm_kernel, small_predict_kernel
from hpframe._core.layout import team_scratch_size, team_scratch_stride
from hpframe._core.spec import NetworkSpec

include "_buildinfo.pxi"


cdef struct Settings:
    # everything the nogil loops need besides the buffers
    int activation, loss, optimizer
    Py_ssize_t n_layers, n_features, n_outputs, n_weights, n_params
    Py_ssize_t x_off, t_off      # gathered input rows / float targets, in work
    double dropout, momentum, beta_1, beta_2, epsilon, weight_decay
    double clip_norm             # the gradients' largest global L2 norm; 0: no clipping
    uint64_t drop_threshold
    Py_ssize_t gemm_piece        # most multiply-adds per gemm call; 0: no limit (_blas.pxd)
    bint direct_pcg64            # masks step the PCG64s in _pcg64.h (dropout.pcg64_direct)
    bint own_gemm                # float32 products by hpframe's own kernel (_sgemm.h)
    bint own_predict             # ... in prediction (measured on its own)
    Dense* layers                # each layer's arrays, as training sees them
    Dense* eval_layers           # ... and as evaluation does: no dropout


cdef enum:
    # turns of rows one thread's _gather keeps, to test them once all are copied
    GATHER_TURNS = 64


cdef struct EpochStats:
    double loss_sum              # sum of per-sample (cross entropy) or per-element losses
    double n_correct             # correct predictions (each counted with its row's weight)
    double weight_sum            # the rows' weights (their number, unweighted)
    Py_ssize_t n_seen, n_steps
    bint diverged
    bint rows_not_finite         # check_rows found a row of X with NaN or infinity


cdef extern from "_cpu.h" nogil:
    int hp_cpu_has_avx2()


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


def _own_asked(name, value):
    """True for "own", False for "blas"; anything else is an error naming ``name``."""
    if value not in ("blas", "own"):
        raise ValueError(f"{name} must be 'blas' or 'own'; got {value!r}")
    if value == "own" and not hp_sgemm_available():
        raise ValueError(f"{name}='own' needs a CPU with AVX2 and FMA (and an x86-64 build "
                         "by GCC or Clang); this one has not: use 'blas'")
    return value == "own"


cdef struct Csr:
    # a sparse X in compressed sparse rows (checked and normalised by the caller:
    # sorted, no duplicates, data in the network's dtype, indices and indptr both
    # int32 or both int64 - ``wide``); data is NULL for a dense X
    const void* data
    const void* indices
    const void* indptr
    bint wide


cdef struct Epoch:
    # what the team shares; thread 0 writes the counters
    Settings* s
    Csr csr                              # the rows of a sparse X (data NULL: dense)
    bitgen_t** dropout_rngs              # one generator per hidden layer
    Py_ssize_t n, batch_size
    double lr
    long* step
    double* first_loss
    bint check_rows                      # test each batch's rows for NaN and infinity
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
    cdef readonly double weight_sum    # the rows' weights of the last train_epoch
    cdef readonly bint rows_not_finite # the last train_epoch(check_rows=True) met NaN/inf
    cdef object _labels, _index, _weights
    cdef bitgen_t* _shuffle_bitgen
    cdef object _dropout_bitgens       # their bitgen_t pointers (intp)
    cdef object _dense                 # the memory of s.layers and s.eval_layers
    cdef Epoch _epoch
    cdef Team _predict_team
    cdef object _scratch, _parts, _sizes
    cdef object _packed                # the weights packed for a prediction (_pack_weights)
    cdef bint _softmax                 # this prediction ends with a softmax (predict_into)
    cdef Py_ssize_t _chunk             # rows a thread forwards at a time (predict_into)
    cdef Py_ssize_t _stride            # team_scratch_stride, computed once

    def __init__(self, spec):
        if not isinstance(spec, NetworkSpec):
            raise TypeError(f"Network takes a NetworkSpec; got {type(spec).__name__}")
        self.spec = spec
        sizes = list(spec.sizes)
        self._sizes = sizes
        self._stride = team_scratch_stride(sizes, spec.capacity)
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
        self.s.clip_norm = spec.clip_norm if spec.clip_norm is not None else 0.0
        self.s.gemm_piece = small_gemm_piece()
        self.s.direct_pcg64 = pcg64_direct()        # (the dropout generators are PCG64s)
        self.s.own_gemm = (small_gemm_kernel() == "own" and self.dtype == np.float32
                           and hp_sgemm_available())
        self.s.own_predict = (small_predict_kernel() == "own" and self.dtype == np.float32
                              and hp_sgemm_available())

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
        self._weights = np.zeros(capacity, dtype=self.dtype)    # a batch's row weights
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

        self._dense = np.zeros(2 * n_layers * sizeof(Dense), dtype=np.uint8)
        self.s.layers = <Dense*> cnp.PyArray_DATA(self._dense)
        self.s.eval_layers = self.s.layers + n_layers
        if self.dtype == np.float32:
            _describe_layers[float](&self.s, self.params, self.grads, self.state_1,
                                    self.state_2, self.work, self.layout)
        else:
            _describe_layers[double](&self.s, self.params, self.grads, self.state_1,
                                     self.state_2, self.work, self.layout)

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

    @property
    def gemm_kernel(self):
        """What multiplies the loops' products: ``"blas"``, or ``"own"`` - hpframe's
        own AVX2 product (float32 only; the policy chooses it where it was measured
        faster, :mod:`hpframe._core._gemm_policy`). A float64 network always uses
        BLAS."""
        return "own" if self.s.own_gemm else "blas"

    @gemm_kernel.setter
    def gemm_kernel(self, value):
        self.s.own_gemm = _own_asked("gemm_kernel", value) and self.dtype == np.float32

    @property
    def predict_kernel(self):
        """What multiplies prediction's products (``"blas"`` or ``"own"``, as
        :attr:`gemm_kernel`; measured on its own, since prediction's products are
        bigger and come without an optimizer step)."""
        return "own" if self.s.own_predict else "blas"

    @predict_kernel.setter
    def predict_kernel(self, value):
        self.s.own_predict = _own_asked("predict_kernel", value) and self.dtype == np.float32

    def set_step(self, long step):
        """Restore the optimizer's step counter (after loading a saved model)."""
        self.step = step

    # ---- the compiled loops, entered from Python -----------------------------
    def train_epoch(self, X, labels, targets, Py_ssize_t batch_size, double lr,
                    bint shuffle_rows, int n_threads=1, weights=None, bint check_rows=False):
        """Train one epoch over all rows of ``X``; return
        ``(loss_sum, n_correct, n_seen, n_steps, diverged)``.

        ``X`` is a C-ordered array, or a scipy.sparse CSR matrix whose rows each
        batch gathers into its dense buffer (``data`` in the network's dtype,
        ``indices`` int32 sorted without duplicates, ``indptr`` int64 - the
        caller normalises it): the same numbers as the dense ``X``, bit for bit.

        ``labels`` (int32, ``(n,)``) are used by cross entropy, ``targets``
        (``(n, n_outputs)``) by every other loss; pass an empty array for the
        other.  The caller guarantees shapes, dtypes and ``batch_size <= capacity``.
        A team of ``n_threads`` threads shares every step (its callers ask
        ``hpframe._threads.team_size`` how many); each calls BLAS, so with
        more than one, limit BLAS to one thread. ``weights`` (``(n,)``, the dtype
        of ``X``, >= 0) weight each row's loss: a batch's loss is then
        ``sum(w l) / sum(w)``, and ``weight_sum`` their sum over the epoch.

        With ``check_rows`` each batch's rows are tested for NaN and infinity
        once gathered (in cache: about 1 ms an epoch of 60,000 x 784 float32,
        against 5.6 ms for a pass over all of ``X`` in memory first); a batch
        with one stops the epoch before its update, and ``rows_not_finite``
        says so. The steps before it have been taken: the caller that asks
        for this keeps what it needs to undo them (the Trainer does).
        """
        cdef Py_ssize_t n = X.shape[0]
        if weights is None:                  # (X may be sparse: no view of it here)
            weights = np.empty(0, self.dtype)
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
        e.totals.loss_sum = e.totals.n_correct = e.totals.weight_sum = 0
        e.totals.n_seen = e.totals.n_steps = 0
        e.totals.diverged = e.totals.rows_not_finite = False
        e.check_rows = check_rows
        _new_order(self._shuffle_bitgen, self._index, shuffle_rows)
        self._prepare_team(&e.team, n_threads)
        X = _csr_view(&e.csr, X, self.s.n_features, self.dtype)
        try:
            self._run_team(e.team.barrier.size, self._train_member,
                           (X, labels, targets, weights))
        finally:
            e.csr.data = NULL
        self.weight_sum = e.totals.weight_sum
        self.rows_not_finite = e.totals.rows_not_finite
        return (e.totals.loss_sum, e.totals.n_correct, e.totals.n_seen, e.totals.n_steps,
                bool(e.totals.diverged))

    def _train_member(self, int t, X, labels, targets, weights):
        if self.dtype == np.float32:
            _epoch_member[float](self, self.work, self.layout, X, labels, targets, weights,
                                 self._index, self._labels, self._weights, t)
        else:
            _epoch_member[double](self, self.work, self.layout, X, labels, targets, weights,
                                  self._index, self._labels, self._weights, t)

    def predict_into(self, X, out, int n_threads=1, bint softmax=False):
        """Write the output layer (logits / raw outputs) for every row of ``X`` into
        ``out``, with a team of up to ``n_threads`` threads (see :meth:`train_epoch`);
        with ``softmax``, each row's softmax of them instead (the probabilities of
        cross entropy's classes: the same bits as ``softmax_into`` of the logits,
        computed by the thread that forwarded the rows, while they are in cache).

        The rows go in chunks of at most ``capacity`` rows, each forwarded by one
        thread: the outputs are the same for any ``n_threads``, bit for bit. The
        chunks are as many as ``capacity`` needs, made even (past one), and of
        equal size (the last one smaller), so that a team of two ends together:
        10,000 rows at a capacity of 256 go in 40 chunks of 250 rather than 39
        of 256 and one of 16, which left one thread most of a chunk alone at
        the end. Their sizes depend on ``X``'s rows and ``capacity`` alone,
        never on the team.

        Returns True if the first layer's product ``X W`` has a value that is
        not finite: then ``X`` may hold NaN or infinity (the caller checks it;
        else the weights are not finite or the sums overflowed). A NaN or an
        infinity in a row of ``X`` makes that row's every sum NaN or infinite,
        so ``X`` need not be checked before (a pass over memory as long as the
        product's reading of ``X``); the check of ``X W`` is done while a
        chunk's sums are in cache."""
        cdef int t
        cdef Py_ssize_t n = X.shape[0], chunks = max(1, (n + self.capacity - 1) // self.capacity)
        if chunks > 1 and chunks % 2:
            chunks += 1
        self._chunk = max(1, (n + chunks - 1) // chunks)     # (<= capacity)
        n_threads = max(1, min(n_threads, chunks))
        self._prepare_team(&self._predict_team, n_threads)
        cdef double* found = self._predict_team.parts    # each thread's finding
        for t in range(self._predict_team.barrier.size):
            found[t * PART_STRIDE] = 0
        self._pack_weights(self._chunk)
        self._softmax = softmax
        try:
            if n_threads == 1:               # (one row's latency: no thread machinery)
                self._predict_member(0, X, out)
            else:
                self._run_team(self._predict_team.barrier.size, self._predict_member,
                               (X, out))
        finally:
            for t in range(self.s.n_layers):
                self.s.eval_layers[t].packed_w = NULL      # (the weights may change)
        for t in range(self._predict_team.barrier.size):
            if found[t * PART_STRIDE] != 0:
                return True
        return False

    cdef void _pack_weights(self, Py_ssize_t rows) except *:
        """Before a prediction of ``rows`` rows through the own float32 product:
        pack each layer's W once (hp_pack_b) for every chunk to read, where a
        chunk would pack it itself (from HP_PACK_ROWS rows on) - packing it for
        each chunk of 256 rows took about 8% of the first product's time."""
        cdef Py_ssize_t l, at = 0, size = 0
        cdef Dense* E
        cdef float* packed
        if not self.s.own_predict or min(rows, self.capacity) < HP_PACK_ROWS:
            return
        for l in range(self.s.n_layers):
            E = &self.s.eval_layers[l]
            if E.n_out <= OWN_MOST_COLUMNS:
                size += hp_packed_size(E.n_out, E.n_in)
        if self._packed is None or self._packed.shape[0] < size:
            self._packed = zeros_aligned(size, np.float32)
        packed = <float*> cnp.PyArray_DATA(self._packed)
        with nogil:
            for l in range(self.s.n_layers):
                E = &self.s.eval_layers[l]
                if E.n_out <= OWN_MOST_COLUMNS:
                    hp_pack_b(E.n_out, E.n_in, <const float*> E.w, E.n_out, packed + at)
                    E.packed_w = packed + at
                    at += hp_packed_size(E.n_out, E.n_in)

    def _predict_member(self, int t, X, out):
        if self.dtype == np.float32:
            _predict_member[float](self, X, out, t)
        else:
            _predict_member[double](self, X, out, t)

    cdef void _prepare_team(self, Team* team, int n_threads) except *:
        """The team's barrier, where its threads leave their rows' losses, and
        scratch for the partial sums of threads 1.. (two layers' worth); buffers
        allocated once for the largest team used so far."""
        cdef int size = team_size(n_threads)
        hp_barrier_init(&team.barrier, size)
        hp_counter_reset(&team.rows)
        if self._parts is None or self._parts.shape[0] < size * PART_STRIDE:
            self._parts = zeros_aligned(size * PART_STRIDE, np.float64)
        team.parts = <double*> cnp.PyArray_DATA(self._parts)
        team.stride = self._stride
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

    def gradients_into(self, X, labels, targets, weights=None):
        """Forward and backward on ``X`` as one batch (no update): fill ``grads``
        and return the (weighted) mean loss.  ``len(X) <= capacity``."""
        if weights is None:
            weights = np.empty(0, self.dtype)
        if self.dtype == np.float32:
            return _gradients[float](self, self.work, self.layout, X, labels, targets,
                                     weights, self._labels, self._weights)
        return _gradients[double](self, self.work, self.layout, X, labels, targets,
                                  weights, self._labels, self._weights)


# ---- the layers' arrays --------------------------------------------------------------

cdef inline floating* _at(floating[::1] buffer, Py_ssize_t i) noexcept:
    """&buffer[i], or NULL for an optimizer without this state buffer (it is empty)."""
    return &buffer[i] if buffer.shape[0] > 0 else NULL


cdef void _describe_layers(Settings* s, floating[::1] params, floating[::1] grads,
                           floating[::1] state_1, floating[::1] state_2, floating[::1] work,
                           const Py_ssize_t[:, ::1] lay) noexcept:
    """Fill s.layers and s.eval_layers with pointers to each layer's arrays (see
    dense.pxd): the buffers are allocated once, so these never change."""
    cdef Py_ssize_t l, last = s.n_layers - 1
    cdef Dense* L
    cdef Dense* E
    for l in range(s.n_layers):
        L = &s.layers[l]
        L.n_in, L.n_out = lay[l, COL_N_IN], lay[l, COL_N_OUT]
        L.activation = s.activation
        L.hidden = l < last
        L.drop = L.hidden and s.dropout > 0
        L.only_h = L.drop and s.activation == RELU
        L.x = &work[s.x_off] if l == 0 else &work[lay[l - 1, COL_H]]
        L.w, L.bias = &params[lay[l, COL_W]], &params[lay[l, COL_B]]
        L.gw, L.gb = &grads[lay[l, COL_W]], &grads[lay[l, COL_B]]
        L.s1w, L.s1b = _at(state_1, lay[l, COL_W]), _at(state_1, lay[l, COL_B])
        L.s2w, L.s2b = _at(state_2, lay[l, COL_W]), _at(state_2, lay[l, COL_B])
        L.z, L.a, L.h = &work[lay[l, COL_Z]], &work[lay[l, COL_A]], &work[lay[l, COL_H]]
        L.mask = &work[lay[l, COL_M]] if L.drop else NULL
        L.d = &work[lay[l, COL_D]]
        L.packed_w = NULL
        # evaluation: no dropout; a hidden layer's output is A
        E = &s.eval_layers[l]
        E[0] = L[0]
        E.drop = E.only_h = False
        E.h, E.mask = E.a, NULL
        if l > 0:
            E.x = s.eval_layers[l - 1].a


# ---- the loops ---------------------------------------------------------------
#
# A team of threads shares each step (team.pxd): thread t owns a share of
# every layer's inputs - the rows of W it multiplies and updates - and the
# same share of every layer's units. Between layers the team meets at a barrier.

cdef void _draw_masks(Settings* s, floating[::1] work, const Py_ssize_t[:, ::1] lay,
                      Py_ssize_t b, bitgen_t** rngs, int t, int n_team) noexcept nogil:
    """Thread t's dropout masks for a batch of b rows (0 or 1/(1-p)): those of
    hidden layers t, t + n_team, ..., each from the layer's own generator - so
    the masks are the same whichever thread draws them."""
    cdef Py_ssize_t l = t
    cdef floating scale = <floating> (1 / (1 - s.dropout))
    while l < s.n_layers - 1:
        fill_mask(rngs[l], s.direct_pcg64, s.drop_threshold, scale, &work[lay[l, COL_M]],
                  b * lay[l, COL_N_OUT])
        l += n_team


cdef void _forward(Settings* s, const Dense* layers, const floating* x, Py_ssize_t b, int t,
                   Team* team) noexcept nogil:
    """Forward ``b`` rows starting at ``x`` through every layer (``layers``:
    as training or as evaluation sees them), into ``work``.

    Layer by layer, ``Z = H_prev W + b`` in two halves. First the product: thread
    ``t`` multiplies its share of the layer's inputs, ``H_prev[:, r0:r1] @
    W[r0:r1, :]`` - a partial sum of the product (thread 0's into Z, the others'
    into the team's scratch). After the barrier, each thread adds up the partial
    sums of its share of the layer's units, row by row, and finishes those units
    with dense_forward (+ b, f, dropout). Those units are the next layer's
    inputs it owns, so no barrier is needed before the next layer. The output
    layer is finished by rows instead, all its units for a share of the batch:
    the thread goes on to the loss of those rows without waiting for the others
    (callers meet at a barrier before using the whole output).
    """
    cdef Py_ssize_t l, i, r0, r1, c0, c1, i0, i1, k
    cdef int n_team = team.barrier.size
    cdef const Dense* L
    cdef const floating* h_prev
    cdef const floating* zw
    cdef floating* z
    cdef floating* out
    for l in range(s.n_layers):
        L = &layers[l]
        h_prev = x if l == 0 else <const floating*> L.x
        z = <floating*> L.z
        # this thread's partial sum of H_prev W: its inputs r0:r1
        input_share(l, L.n_in, t, n_team, &r0, &r1)
        if r1 > r0:
            product(s.gemm_piece, s.own_gemm, b, L.n_out, r1 - r0, h_prev + r0, L.n_in,
                    <const floating*> L.w + r0 * L.n_out, partial_sum(team, z, l, t))
        elif t == 0:
            # no inputs (a first layer narrower than the team): thread 0's partial
            # sum, which the others add to, is 0
            memset(z, 0, b * L.n_out * sizeof(floating))
        hp_barrier_wait(&team.barrier)       # every partial sum is there
        if L.hidden:
            share(L.n_out, t, n_team, &c0, &c1)      # its units, every row
            i0, i1 = 0, b
        else:
            c0, c1 = 0, L.n_out                      # the output: its rows, every unit
            output_rows(b, t, n_team, &i0, &i1)
        if c1 > c0:
            out = <floating*> L.h if L.only_h else z
            # row by row, while the row is in cache: the sum, then + b, f, dropout
            for i in range(i0, i1):
                k = i * L.n_out + c0
                zw = add_partial_sums(team, l, L.n_in, k, z + k, out + k, c1 - c0)
                dense_forward(L, zw, i, c0, c1 - c0)


cdef double _loss_and_grad(Settings* s, floating[::1] work, const Py_ssize_t[:, ::1] lay,
                           const int[::1] labels, const floating[::1] weights, bint weighted,
                           Py_ssize_t i0, Py_ssize_t i1, double weight_sum,
                           double* n_correct) noexcept nogil:
    """Loss sum of rows i0:i1 of the output layer (a batch whose rows weigh
    ``weight_sum`` in all: their number when unweighted) against the gathered
    targets; their dL/dZ into D. ``weights``: the batch's row weights, read when
    ``weighted`` (the kernels get an empty slice otherwise)."""
    cdef Py_ssize_t last = s.n_layers - 1, k = s.n_outputs
    cdef Py_ssize_t zo = lay[last, COL_Z] + i0 * k, do = lay[last, COL_D] + i0 * k
    cdef Py_ssize_t to = s.t_off + i0 * k, n = (i1 - i0) * k
    cdef const floating[::1] w = weights[i0:(i1 if weighted else i0)]
    cdef double loss
    if s.loss == CROSS_ENTROPY:
        loss = cross_entropy(work[zo:zo + n], labels[i0:i1], w, k, 1.0 / weight_sum,
                             work[do:do + n])
    else:
        loss = elementwise_loss(s.loss, work[zo:zo + n], work[to:to + n], w, k,
                                1.0 / (weight_sum * k), work[do:do + n])
    n_correct[0] += count_correct(s.loss, work[zo:zo + n], labels[i0:i1], work[to:to + n],
                                  w, k)
    return loss


cdef void _backward(Settings* s, floating scale, Py_ssize_t b, const Step* on_weights,
                    const Step* on_biases, int t, Team* team) noexcept nogil:
    """Every layer's gradient, from the output down; with steps, update too.

    Thread ``t`` takes rows r0:r1 of each W_l (the weights into its units of the
    layer below) and units c0:c1 of the layer (dense_backward); ``scale`` is the
    dropout's ``1/(1-p)``. The barrier after each layer: D_{l-1} is complete.
    """
    cdef Py_ssize_t l, r0, r1, c0, c1
    cdef const Dense* L
    for l in range(s.n_layers - 1, -1, -1):
        L = &s.layers[l]
        input_share(l, L.n_in, t, team.barrier.size, &r0, &r1)
        share(L.n_out, t, team.barrier.size, &c0, &c1)
        dense_backward(L, &s.layers[l - 1] if l > 0 else NULL, scale, on_weights, on_biases,
                       s.gemm_piece, s.own_gemm, b, r0, r1, c0, c1)
        hp_barrier_wait(&team.barrier)                # D_{l-1} is complete


cdef object _csr_view(Csr* csr, X, Py_ssize_t n_features, dtype):
    """Point ``csr`` at a sparse ``X``'s arrays and return an empty dense stand-in
    for the loops' ``X`` argument; a dense ``X`` is returned as it is."""
    if not hasattr(X, "indptr"):
        csr.data = NULL
        return X
    cdef cnp.ndarray data = X.data, indices = X.indices, indptr = X.indptr
    csr.data = cnp.PyArray_DATA(data)
    csr.indices = cnp.PyArray_DATA(indices)
    csr.indptr = cnp.PyArray_DATA(indptr)
    csr.wide = indptr.dtype == np.int64
    return np.empty((0, n_features), dtype=dtype)


cdef inline void _scatter_row(const Csr* csr, Py_ssize_t src, floating* row,
                              Py_ssize_t f) noexcept nogil:
    """Row ``src`` of the sparse X, dense, into ``row`` (its zeros included)."""
    cdef const floating* data = <const floating*> csr.data
    cdef const long long* wide_ptr = <const long long*> csr.indptr
    cdef const long long* wide_idx = <const long long*> csr.indices
    cdef const int* ptr = <const int*> csr.indptr
    cdef const int* idx = <const int*> csr.indices
    cdef long long j
    memset(row, 0, f * sizeof(floating))
    if csr.wide:
        for j in range(wide_ptr[src], wide_ptr[src + 1]):
            row[wide_idx[j]] = data[j]
    else:
        for j in range(ptr[src], ptr[src + 1]):
            row[idx[j]] = data[j]


cdef bint _gather(Settings* s, floating[::1] work, const floating[:, ::1] X,
                  const int[::1] labels, const floating[:, ::1] targets,
                  const floating[::1] weights, const Py_ssize_t* rows, Py_ssize_t b,
                  int[::1] batch_labels, floating[::1] batch_weights,
                  hp_counter* claims, const Csr* csr, bint check) noexcept nogil:
    """Copy the batch's input rows and targets into the work buffer.

    The rows are handed out in turns of about 16 KB: every thread of a team
    calls this and copies the rows it claims, so the copying is shared by
    whoever is free (a thread joins once it has drawn its dropout masks). With a
    sparse X (``csr.data`` not NULL) each row is scattered from its CSR entries
    into the zeroed row of the buffer: the same values a dense row would copy.

    With ``check``, returns False if a row this thread copied holds NaN or
    infinity. It tests them once all are copied, in its cache: a test after
    each turn would stall the copying, which waits on memory (60,000 rows of
    784 float32 in random order, one thread: 20 ms to copy, +1 ms tested at
    the end, +3.5 ms tested turn by turn). Always True without ``check``.
    """
    cdef Py_ssize_t r, r0, r_end, src, f = s.n_features, k = s.n_outputs, u, n_turns = 0
    cdef Py_ssize_t turn = max(1, 16384 // <Py_ssize_t> (f * sizeof(floating)))
    cdef Py_ssize_t starts[GATHER_TURNS]     # the turns this thread took, to test
    cdef bint weighted = weights.shape[0] > 0, ok = True
    r = hp_claim(claims, turn)
    while r < b:
        r0, r_end = r, min(b, r + turn)
        while r < r_end:
            src = rows[r]
            if csr.data != NULL:
                _scatter_row(csr, src, &work[s.x_off + r * f], f)
            else:
                memcpy(&work[s.x_off + r * f], &X[src, 0], f * sizeof(floating))
            if s.loss == CROSS_ENTROPY:
                batch_labels[r] = labels[src]
            else:
                memcpy(&work[s.t_off + r * k], &targets[src, 0], k * sizeof(floating))
            if weighted:
                batch_weights[r] = weights[src]
            r += 1
        if check:
            if n_turns < GATHER_TURNS:
                starts[n_turns] = r0
                n_turns += 1
            else:                            # (more turns than it keeps: test now)
                ok &= all_finite_fast(&work[s.x_off + r0 * f], (r_end - r0) * f)
        r = hp_claim(claims, turn)
    for u in range(n_turns):
        r0 = starts[u]
        ok &= all_finite_fast(&work[s.x_off + r0 * f], (min(b, r0 + turn) - r0) * f)
    return ok


cdef double _weight_sum(const floating[::1] batch_weights, bint weighted,
                        Py_ssize_t b) noexcept nogil:
    """The batch's rows' weights added up in row order (every thread of a team gets
    the same bits), or b when unweighted."""
    cdef Py_ssize_t i
    cdef double total = 0
    if not weighted:
        return b
    for i in range(b):
        total += batch_weights[i]
    return total


cdef inline bint _any_part(const Team* team, int k, int n_team) noexcept nogil:
    """True if a thread of the team set its value k of ``parts``."""
    cdef int u
    for u in range(n_team):
        if team.parts[u * PART_STRIDE + k] != 0:
            return True
    return False


cdef void _epoch_steps(Epoch* e, floating[::1] work, const Py_ssize_t[:, ::1] lay,
                       const floating[:, ::1] X, const int[::1] labels,
                       const floating[:, ::1] targets, const floating[::1] weights,
                       const Py_ssize_t[::1] index, int[::1] batch_labels,
                       floating[::1] batch_weights, int t) noexcept nogil:
    """Every step of one epoch, as thread ``t`` of the team does it: the batch,
    forward, loss, backward and update."""
    cdef Settings* s = e.s
    cdef Team* team = &e.team
    cdef Py_ssize_t start = 0, b, i0, i1
    cdef bint drop = s.dropout > 0, weighted = weights.shape[0] > 0
    cdef double loss, mean, n_correct, weight_sum, squares, clip
    cdef long step = e.step[0]               # each thread counts; thread 0 also records
    cdef int u, found, n_team = team.barrier.size
    cdef floating scale = <floating> (1 / (1 - s.dropout))
    cdef Step on_weights, on_biases
    while start < e.n:
        b = min(e.batch_size, e.n - start)
        # each thread draws its layers' masks (thread t: layers t, t + T, ...),
        # then helps copy the rows (the others start copying at once)
        if drop:
            _draw_masks(s, work, lay, b, e.dropout_rngs, t, n_team)
        # The team reads every thread's answer at the second barrier, before any
        # update. Batches alternate between two places for it: a thread may be
        # copying the next batch's rows while another still reads this answer.
        found = 3 + (start // e.batch_size) % 2
        team.parts[t * PART_STRIDE + found] = not _gather(
            s, work, X, labels, targets, weights, &index[start], b, batch_labels,
            batch_weights, &team.rows, &e.csr, e.check_rows)
        start += b
        hp_barrier_wait(&team.barrier)
        if t == 0:
            hp_counter_reset(&team.rows)     # nobody claims again before the next step
        output_rows(b, t, n_team, &i0, &i1)
        weight_sum = _weight_sum(batch_weights, weighted, b)
        _forward(s, s.layers, &work[s.x_off], b, t, team)
        # the loss of the output rows this thread finished; then every thread
        # adds up the team's sums in thread order, so all see the same loss
        n_correct = 0
        team.parts[t * PART_STRIDE] = _loss_and_grad(
            s, work, lay, batch_labels, batch_weights, weighted, i0, i1, weight_sum, &n_correct)
        team.parts[t * PART_STRIDE + 1] = n_correct
        hp_barrier_wait(&team.barrier)       # every row's loss and dL/dZ is there
        if e.check_rows and _any_part(team, found, n_team):
            if t == 0:
                e.totals.rows_not_finite = True
            break                            # before this batch reaches the parameters
        loss = 0
        for u in range(n_team):
            loss += team.parts[u * PART_STRIDE]
        mean = loss / weight_sum if s.loss == CROSS_ENTROPY else \
            loss / (weight_sum * s.n_outputs)
        if t == 0:
            for u in range(n_team):
                e.totals.n_correct += team.parts[u * PART_STRIDE + 1]
            if step == 0:
                e.first_loss[0] = mean       # the loss before any update
            if not isfinite(mean):
                e.totals.diverged = True
            else:
                e.totals.loss_sum += loss
                e.totals.weight_sum += weight_sum
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
        if s.clip_norm > 0:
            # two phases: every gradient, their global norm, then the update
            _backward(s, scale, b, NULL, NULL, t, team)
            team.parts[t * PART_STRIDE + 2] = _own_sum_of_squares(s, scale, t, n_team)
            hp_barrier_wait(&team.barrier)   # every thread's share is there
            squares = 0
            for u in range(n_team):
                squares += team.parts[u * PART_STRIDE + 2]
            clip = s.clip_norm / (sqrt(squares) + 1e-6)
            _update_own(s, &on_weights, &on_biases, <floating> clip, clip < 1, t,
                                  n_team)
        else:
            _backward(s, scale, b, &on_weights, &on_biases, t, team)


cdef void _own_shares(const Dense* L, Py_ssize_t l, int t, int n_team, Py_ssize_t* o,
                      Py_ssize_t* m, Py_ssize_t* c0, Py_ssize_t* c1) noexcept nogil:
    """Thread t's part of layer l's parameters, as _backward shares them: the
    ``m`` weights from ``o`` on (rows r0:r1 of W), and biases c0:c1."""
    cdef Py_ssize_t r0, r1
    input_share(l, L.n_in, t, n_team, &r0, &r1)
    share(L.n_out, t, n_team, c0, c1)
    o[0] = r0 * L.n_out
    m[0] = max(0, r1 - r0) * L.n_out


cdef double _own_sum_of_squares(Settings* s, floating like, int t,
                               int n_team) noexcept nogil:
    """The sum of squares, in double, of the gradient entries thread t computed
    (its rows of every dW_l and its units of every db_l), layer by layer.
    ``like``: any number of the network's dtype (it picks the specialisation)."""
    cdef Py_ssize_t l, i, o, m, c0, c1
    cdef const Dense* L
    cdef const floating* g
    cdef double total = 0, v
    for l in range(s.n_layers):
        L = &s.layers[l]
        _own_shares(L, l, t, n_team, &o, &m, &c0, &c1)
        g = <const floating*> L.gw + o
        for i in range(m):
            v = g[i]
            total += v * v
        g = <const floating*> L.gb
        for i in range(c0, c1):
            v = g[i]
            total += v * v
    return total


cdef void _update_own(Settings* s, const Step* on_weights, const Step* on_biases,
                      floating clip, bint clipping, int t, int n_team) noexcept nogil:
    """The update of thread t's parameters from their whole gradient in ``grads``,
    first scaled by ``clip`` when ``clipping``. No barrier is needed after it:
    the next step meets at one before any thread reads a parameter."""
    cdef Py_ssize_t l, i, o, m, c0, c1
    cdef const Dense* L
    cdef floating* g
    for l in range(s.n_layers):
        L = &s.layers[l]
        _own_shares(L, l, t, n_team, &o, &m, &c0, &c1)
        g = <floating*> L.gw + o
        if clipping:
            for i in range(m):
                g[i] = g[i] * clip
        if m > 0:
            step_n(on_weights, <floating*> L.w + o, g, _state_at(<floating*> L.s1w, o),
                   _state_at(<floating*> L.s2w, o), m)
        g = <floating*> L.gb + c0
        if clipping:
            for i in range(c1 - c0):
                g[i] = g[i] * clip
        if c1 > c0:
            step_n(on_biases, <floating*> L.bias + c0, g, _state_at(<floating*> L.s1b, c0),
                   _state_at(<floating*> L.s2b, c0), c1 - c0)


cdef inline floating* _state_at(floating* state, Py_ssize_t i) noexcept nogil:
    """state + i, or NULL for an optimizer without this state buffer."""
    return state + i if state != NULL else NULL


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


cdef void _epoch_member(Network net, floating[::1] work, const Py_ssize_t[:, ::1] lay,
                        const floating[:, ::1] X, const int[::1] labels,
                        const floating[:, ::1] targets, const floating[::1] weights,
                        const Py_ssize_t[::1] index, int[::1] batch_labels,
                        floating[::1] batch_weights, int t) noexcept:
    with nogil:
        _epoch_steps(&net._epoch, work, lay, X, labels, targets, weights, index,
                     batch_labels, batch_weights, t)


cdef void _predict_chunks(Settings* s, Py_ssize_t chunk, const floating[:, ::1] X,
                          floating[:, ::1] out, Team* team, int t,
                          bint softmax) noexcept nogil:
    """Forward rows of X in chunks of ``chunk`` rows (at most the capacity); their
    logits (with ``softmax``: each row's softmax of them) into ``out``.

    Each thread claims whole chunks in turns and forwards a chunk alone, through
    every layer (_forward_alone): thread 0 in the work buffer, thread u >= 1 in
    its two areas of the team's scratch. No barrier, no partial sums: a chunk is
    computed the same way whichever thread takes it, so predictions do not
    depend on the team's size (a team of 1 computes what it always did).
    """
    cdef Py_ssize_t n = X.shape[0], start, b, k = s.n_outputs
    cdef floating* area_0 = NULL
    cdef floating* area_1 = NULL
    cdef const floating* logits
    if t > 0:
        area_0 = partial_sum(team, <floating*> NULL, 0, t)
        area_1 = partial_sum(team, <floating*> NULL, 1, t)
    cdef bint first_sums_finite = True
    start = hp_claim(&team.rows, 1) * chunk
    while start < n:
        b = min(chunk, n - start)
        logits = _forward_alone(s, &X[start, 0], b, area_0, area_1, &first_sums_finite)
        if softmax:
            softmax_n(logits, &out[start, 0], b, k)
        else:
            memcpy(&out[start, 0], logits, b * k * sizeof(floating))
        start = hp_claim(&team.rows, 1) * chunk
    if not first_sums_finite:
        team.parts[t * PART_STRIDE] = 1      # (predict_into reads it after the team)


cdef const floating* _forward_alone(Settings* s, const floating* x, Py_ssize_t b,
                                    floating* area_0, floating* area_1,
                                    bint* first_sums_finite) noexcept nogil:
    """Evaluate ``b`` rows starting at ``x`` on one thread, through every layer, as
    a team of one does in _forward; return where the logits are. With
    ``area_0`` NULL in the work buffer (the evaluation layers' own arrays), else
    in the two areas (layers alternate; the activation then overwrites Z, the
    same numbers as in A's own array). Sets ``first_sums_finite[0]`` to False
    if a value of the first layer's product ``x W`` is not finite."""
    cdef Py_ssize_t l, i, n_out
    cdef Dense L
    cdef const floating* h_prev = x
    cdef const floating* logits = x
    for l in range(s.n_layers):
        L = s.eval_layers[l]
        n_out = L.n_out
        if area_0 != NULL:
            L.z = area_0 if l % 2 == 0 else area_1
            L.a = L.h = L.z
        if floating is float and L.packed_w != NULL:
            hp_sgemm_packed(b, n_out, L.n_in, h_prev, L.n_in, 1, <const float*> L.w, n_out,
                            <const float*> L.packed_w, <float*> L.z, n_out)
        else:
            product(s.gemm_piece, s.own_predict, b, n_out, L.n_in, h_prev, L.n_in,
                    <const floating*> L.w, <floating*> L.z)
        if l == 0 and not all_finite_n(<const floating*> L.z, b * n_out):
            first_sums_finite[0] = False
        for i in range(b):
            dense_forward(&L, <const floating*> L.z + i * n_out, i, 0, n_out)
        h_prev = <const floating*> L.h
        logits = <const floating*> L.z
    return logits


cdef void _predict_member(Network net, const floating[:, ::1] X, floating[:, ::1] out,
                          int t) noexcept:
    with nogil:
        _predict_chunks(&net.s, net._chunk, X, out, &net._predict_team, t, net._softmax)


cdef double _gradients(Network net, floating[::1] work, const Py_ssize_t[:, ::1] lay,
                       const floating[:, ::1] X, const int[::1] labels,
                       const floating[:, ::1] targets, const floating[::1] weights,
                       int[::1] batch_labels, floating[::1] batch_weights) noexcept:
    cdef Settings* s = &net.s
    cdef Py_ssize_t b = X.shape[0]
    cdef bint weighted = weights.shape[0] > 0
    cdef double loss, n_correct = 0, weight_sum
    cdef floating scale = <floating> (1 / (1 - s.dropout))
    cdef Team alone
    cdef Csr dense                       # one batch, always dense (the caller's job)
    cdef bitgen_t** rngs = <bitgen_t**> cnp.PyArray_DATA(net._dropout_bitgens)
    index = np.arange(b, dtype=np.intp)
    cdef Py_ssize_t[::1] rows = index
    dense.data = NULL
    with nogil:
        hp_barrier_init(&alone.barrier, 1)
        hp_counter_reset(&alone.rows)
        alone.scratch = NULL
        alone.parts = NULL
        if s.dropout > 0:
            _draw_masks(s, work, lay, b, rngs, 0, 1)
        _gather(s, work, X, labels, targets, weights, &rows[0], b, batch_labels,
                batch_weights, &alone.rows, &dense, False)
        weight_sum = _weight_sum(batch_weights, weighted, b)
        _forward(s, s.layers, &work[s.x_off], b, 0, &alone)
        loss = _loss_and_grad(s, work, lay, batch_labels, batch_weights, weighted, 0, b,
                              weight_sum, &n_correct)
        _backward(s, scale, b, NULL, NULL, 0, &alone)
    return loss / weight_sum if s.loss == CROSS_ENTROPY else loss / (weight_sum * s.n_outputs)
