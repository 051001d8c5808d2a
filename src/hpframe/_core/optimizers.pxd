# Optimizer updates: the rule for ONE parameter is a scalar inline function
# (below); the loops in optimizers.pyx apply it over a flat buffer, or over an
# outer-product gradient g[i, j] = x[i] * d[j] without materialising g.
from cython cimport floating
from hpframe._core._fmath cimport f_sqrt

cpdef enum Optimizer:
    SGD = 0
    MOMENTUM = 1
    NESTEROV = 2
    ADAM = 3
    ADAMW = 4


cpdef int n_state_buffers(int optimizer) noexcept nogil   # 0 (sgd), 1 (momentum) or 2 (adam)


cdef struct Step:
    # one update's constants, computed once per step (in double)
    int optimizer
    double lr, l2           # l2: PyTorch's L2 term g += l2 * w (0 when decoupled)
    double mu               # momentum / nesterov
    double beta_1, beta_2, eps
    double step_size        # adam: lr / (1 - beta_1**t)
    double inv_bc2_sqrt     # adam: 1 / sqrt(1 - beta_2**t)
    double shrink           # adamw: 1 - lr * weight_decay (decoupled decay), else 1


cdef Step make_step(int optimizer, double lr, double momentum, double beta_1, double beta_2,
                    double eps, double weight_decay, long t) noexcept nogil


cdef inline void sgd_one(floating* w, floating g, floating lr, floating l2) noexcept nogil:
    w[0] -= lr * (g + l2 * w[0])


cdef inline void momentum_one(floating* w, floating* vel, floating g, floating lr,
                              floating mu, floating l2, bint nesterov) noexcept nogil:
    g = g + l2 * w[0]
    vel[0] = mu * vel[0] + g
    w[0] -= lr * (g + mu * vel[0]) if nesterov else lr * vel[0]


cdef inline void adam_one(floating* w, floating* m, floating* v, floating g,
                          floating b1, floating c1, floating b2, floating c2,
                          floating step_size, floating inv_bc2_sqrt,
                          floating eps, floating l2, floating shrink) noexcept nogil:
    # c1 = 1 - b1 and c2 = 1 - b2, rounded from double as PyTorch's scalars are.
    # eps is added after the square root, as in PyTorch and the Adam paper.
    g = g + l2 * w[0]
    m[0] = b1 * m[0] + c1 * g
    v[0] = b2 * v[0] + c2 * g * g
    w[0] = shrink * w[0] - step_size * m[0] / (f_sqrt(v[0]) * inv_bc2_sqrt + eps)


cdef inline void step_n(const Step* st, floating* w, const floating* g, floating* s1,
                        floating* s2, Py_ssize_t n) noexcept nogil:
    """One update of n parameters in place: the rule above, once per parameter.

    ``s1``/``s2`` are the optimizer's state (velocity; Adam's m and v), unused
    (may be NULL) where the optimizer has none. Inline, so the network's loops
    compile it with their own instruction set.
    """
    cdef Py_ssize_t i
    cdef floating lr = <floating> st.lr, l2 = <floating> st.l2, mu = <floating> st.mu
    cdef floating b1 = <floating> st.beta_1, b2 = <floating> st.beta_2
    cdef floating c1 = <floating> (1 - st.beta_1), c2 = <floating> (1 - st.beta_2)
    cdef floating step_size = <floating> st.step_size, ibc2 = <floating> st.inv_bc2_sqrt
    cdef floating eps = <floating> st.eps, shrink = <floating> st.shrink
    if st.optimizer == SGD:
        for i in range(n):
            sgd_one(&w[i], g[i], lr, l2)
    elif st.optimizer == MOMENTUM:
        for i in range(n):
            momentum_one(&w[i], &s1[i], g[i], lr, mu, l2, False)
    elif st.optimizer == NESTEROV:
        for i in range(n):
            momentum_one(&w[i], &s1[i], g[i], lr, mu, l2, True)
    else:
        for i in range(n):
            adam_one(&w[i], &s1[i], &s2[i], g[i], b1, c1, b2, c2, step_size, ibc2, eps, l2,
                     shrink)


cdef inline void step_outer_n(const Step* st, floating* w, const floating* x,
                              const floating* d, floating* s1, floating* s2,
                              Py_ssize_t n_in, Py_ssize_t n_out) noexcept nogil:
    """One update of the (n_in x n_out, row-major) weights w whose gradient is the
    outer product g[i, j] = x[i] * d[j], computing each g[i, j] on the fly."""
    cdef Py_ssize_t i, j, k
    cdef floating lr = <floating> st.lr, l2 = <floating> st.l2, mu = <floating> st.mu
    cdef floating b1 = <floating> st.beta_1, b2 = <floating> st.beta_2
    cdef floating c1 = <floating> (1 - st.beta_1), c2 = <floating> (1 - st.beta_2)
    cdef floating step_size = <floating> st.step_size, ibc2 = <floating> st.inv_bc2_sqrt
    cdef floating eps = <floating> st.eps, shrink = <floating> st.shrink
    cdef bint nesterov = st.optimizer == NESTEROV
    cdef floating xi
    for i in range(n_in):
        xi = x[i]
        k = i * n_out
        if st.optimizer == SGD:
            for j in range(n_out):
                sgd_one(&w[k + j], xi * d[j], lr, l2)
        elif st.optimizer == MOMENTUM or st.optimizer == NESTEROV:
            for j in range(n_out):
                momentum_one(&w[k + j], &s1[k + j], xi * d[j], lr, mu, l2, nesterov)
        else:
            for j in range(n_out):
                adam_one(&w[k + j], &s1[k + j], &s2[k + j], xi * d[j], b1, c1, b2, c2,
                         step_size, ibc2, eps, l2, shrink)


cdef void apply_step(const Step* st, floating[::1] w, const floating[::1] g,
                     floating[::1] s1, floating[::1] s2) noexcept nogil

cdef void apply_step_outer(const Step* st, floating[::1] w,   # (n_in * n_out) row-major
                           const floating[::1] x,            # (n_in,)
                           const floating[::1] d,            # (n_out,): g = outer(x, d)
                           floating[::1] s1, floating[::1] s2) noexcept nogil
