# The dense layer: the arithmetic of one layer, forward and backward.
#
# A dense layer l takes the batch's rows H_prev (b x n_in: the input X, or the
# layer below's output) through weights W (n_in x n_out) and biases b (n_out):
#
#     forward    Z = H_prev W + b        A = f(Z)        H = A * M
#     backward   dW = H_prev^T D         db = sum over rows of D
#                D_prev = (D W^T) * f'(Z_prev) * M_prev
#
# where D = dL/dZ, M is the dropout mask (0 or 1/(1-p); none without dropout)
# and f the activation. The output layer stops at Z: its activation (softmax,
# sigmoid) is fused into the loss, which gives its D.
#
# The kernels below work on a range of rows or units, so that the network
# (network.pyx) can share a layer among a team of threads (team.pxd) and call
# BLAS in the pieces its policy asks for (_blas.pxd). A layer's arrays are
# plain pointers to contiguous row-major memory (Dense); the kernels check
# nothing and allocate nothing. hpframe.reference.ReferenceMLP computes the
# same in NumPy.
from cython cimport floating

from hpframe._core._blas cimport (product_at, product_transposed, rows_per_block,
                                  OWN_MOST_COLUMNS)
from hpframe._core.activations cimport act_forward, act_forward_n, act_grad_mul_n, RELU
from hpframe._core.optimizers cimport Step, step_n, step_outer_n


cdef struct Dense:
    # One dense layer's arrays during a step: pointers into the network's
    # params, grads, state and work buffers, of its dtype (float or double).
    Py_ssize_t n_in, n_out      # W is n_in x n_out; the batch has b <= capacity rows
    int activation              # f, for a hidden layer
    bint hidden                 # not the output layer
    bint drop                   # a hidden layer with dropout (has a mask M)
    bint only_h                 # ReLU with dropout: keeps H alone (see dense_forward)
    void* x                     # H_prev (b x n_in): the batch, or the layer below's H
    void* w                     # W (n_in x n_out) and b (n_out), in params
    void* bias
    void* gw                    # their gradients, in grads
    void* gb
    void* s1w                   # their optimizer state (state_1, state_2); NULL if none
    void* s2w
    void* s1b
    void* s2b
    void* z                     # Z, A, H, M, D (b x n_out), in work; A, H may share
    void* a                     # Z's memory (identity, no dropout); mask is NULL
    void* h                     # without dropout
    void* mask
    void* d
    void* packed_w              # W as _sgemm.h's hp_pack_b packs it, while a
                                # prediction uses it (float32, own product); else NULL


cdef inline void dense_forward(const Dense* L, const floating* zw, Py_ssize_t i,
                               Py_ssize_t c0, Py_ssize_t m) noexcept nogil:
    """Units c0:c0+m of row i of the layer, given that row's product
    ``zw = (H_prev W)[i, c0:c0 + m]``::

        Z = zw + b        A = f(Z)        H = A * M

    The output layer computes Z only. Where A shares Z's memory (identity) f
    leaves it equal; without dropout H is A.

    ReLU with dropout (``only_h``) keeps H alone: ``relu(z) * mask`` is ``> 0``
    exactly where ``f'(z) * mask`` is the scale, which is all the backward pass
    needs (dense_backward), so Z and A are left untouched.
    """
    cdef Py_ssize_t j, k = i * L.n_out + c0
    cdef const floating* bias = <const floating*> L.bias + c0
    cdef floating* z = <floating*> L.z + k
    cdef floating* a
    cdef floating* h
    cdef const floating* mask
    if L.only_h:
        h = <floating*> L.h + k
        mask = <const floating*> L.mask + k
        for j in range(m):
            h[j] = zw[j] + bias[j]
        for j in range(m):
            h[j] = act_forward(RELU, h[j]) * mask[j]
        return
    for j in range(m):
        z[j] = zw[j] + bias[j]
    if L.hidden:
        a = <floating*> L.a + k
        act_forward_n(L.activation, z, a, m)
        if L.drop:
            h = <floating*> L.h + k
            mask = <const floating*> L.mask + k
            for j in range(m):
                h[j] = a[j] * mask[j]


cdef inline void dense_backward(const Dense* L, const Dense* below, floating scale,
                                const Step* on_weights, const Step* on_biases,
                                Py_ssize_t gemm_piece, bint own, Py_ssize_t b, Py_ssize_t r0,
                                Py_ssize_t r1, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """The backward pass of the layer over rows r0:r1 of W and units c0:c1, given
    D = dL/dZ (b rows)::

        D_prev = (D W^T) * f'(Z_prev) * M_prev      columns r0:r1 (layer below)
        dW = H_prev^T D                             rows r0:r1
        db = sum over rows of D                     units c0:c1

    ``below`` is the layer below (NULL for the first layer: no D_prev) and
    ``scale`` its dropout's ``1/(1-p)``. With steps (not NULL), W and b are
    updated as soon as their gradient is known - after D_prev, which reads W.
    Rows r0:r1 of W are all that D_prev's columns r0:r1 read, so a team whose
    threads own different rows needs no barrier in between.
    """
    if r1 > r0:
        if below != NULL:
            dense_backward_input(L, below, scale, gemm_piece, b, r0, r1)
        dense_backward_weights(L, on_weights, gemm_piece, own, b, r0, r1,
                               <floating*> L.gw + r0 * L.n_out)
    if c1 > c0:
        dense_backward_bias(L, on_biases, b, <floating*> L.gb + c0, c0, c1)


cdef inline void dense_backward_input(const Dense* L, const Dense* below, floating scale,
                                      Py_ssize_t gemm_piece, Py_ssize_t b, Py_ssize_t r0,
                                      Py_ssize_t r1) noexcept nogil:
    """Columns r0:r1 of the layer below's D (they need only rows r0:r1 of W)::

        D_prev = (D W^T) * f'(Z_prev) * M_prev

    Where the layer below keeps only H (ReLU with dropout), ``f'(z) * mask`` is
    ``scale * (h > 0)``: the same products, bit for bit.
    """
    cdef Py_ssize_t i, j, k, m = r1 - r0, n_in = L.n_in, n_out = L.n_out
    cdef floating* dp
    cdef const floating* hp
    cdef const floating* mp
    product_transposed(gemm_piece, b, m, n_out, <const floating*> L.d,
                       <const floating*> L.w + r0 * n_out, <floating*> below.d + r0, n_in)
    for i in range(b):
        k = i * n_in + r0
        dp = <floating*> below.d + k
        if below.only_h:
            hp = <const floating*> below.h + k
            for j in range(m):
                dp[j] = dp[j] * (scale if hp[j] > 0 else 0)
        else:
            act_grad_mul_n(below.activation, <const floating*> below.z + k,
                           <const floating*> below.a + k, dp, m)
            if below.drop:
                mp = <const floating*> below.mask + k
                for j in range(m):
                    dp[j] = dp[j] * mp[j]


cdef inline void dense_backward_weights(const Dense* L, const Step* step, Py_ssize_t gemm_piece,
                                        bint own, Py_ssize_t b, Py_ssize_t r0, Py_ssize_t r1,
                                        floating* g) noexcept nogil:
    """The gradient of rows r0:r1 of W into ``g`` (their place in ``gw``) and,
    with a ``step``, their update::

        dW = H_prev^T D          W = step(W, dW)

    Without a step the gradient goes to ``g`` whole. With one, a block of
    rows at a time (rows_per_block): the block's gradient goes to the same
    small scratch - the start of ``g`` - and is used while in
    cache, so the whole gradient never goes through memory; only W and the
    optimizer's state do. At b == 1 the gradient is the outer product
    ``x d^T``: the update computes each entry on the fly (step_outer_n) and it
    is never written at all.
    """
    cdef Py_ssize_t n_in = L.n_in, n_out = L.n_out, m = r1 - r0, r, r_end, rows
    cdef Py_ssize_t o = r0 * n_out                   # these rows, in W and alike
    cdef const floating* x = <const floating*> L.x + r0
    cdef const floating* d = <const floating*> L.d
    cdef floating* w = <floating*> L.w + o
    cdef floating* s1 = _at(<floating*> L.s1w, o)
    cdef floating* s2 = _at(<floating*> L.s2w, o)
    if step == NULL:
        product_at(own, m, n_out, b, x, n_in, d, g)
    elif b == 1:
        step_outer_n(step, w, x, d, s1, s2, m, n_out)
    else:
        rows = rows_per_block(0 if own and n_out <= OWN_MOST_COLUMNS else gemm_piece, n_out, b)
        r = 0
        while r < m:
            r_end = min(m, r + rows)
            product_at(own, r_end - r, n_out, b, x + r, n_in, d, g)
            step_n(step, w + r * n_out, g, _at(s1, r * n_out), _at(s2, r * n_out),
                   (r_end - r) * n_out)
            r = r_end


cdef inline void dense_backward_bias(const Dense* L, const Step* step, Py_ssize_t b,
                                     floating* db, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """The gradient ``db`` of biases c0:c1 (it points at the first) and, with a
    ``step``, their update::

        db = sum over the b rows of D          b = step(b, db)
    """
    cdef Py_ssize_t i, j, m = c1 - c0, n_out = L.n_out
    cdef const floating* di
    for j in range(m):
        db[j] = 0
    for i in range(b):
        di = <const floating*> L.d + i * n_out + c0
        for j in range(m):
            db[j] = db[j] + di[j]
    if step != NULL:
        step_n(step, <floating*> L.bias + c0, db, _at(<floating*> L.s1b, c0),
               _at(<floating*> L.s2b, c0), m)


cdef inline floating* _at(floating* state, Py_ssize_t i) noexcept nogil:
    """state + i, or NULL for an optimizer without this state buffer."""
    return state + i if state != NULL else NULL
