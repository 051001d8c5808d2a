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


cdef void apply_step(const Step* st, floating[::1] w, const floating[::1] g,
                     floating[::1] s1, floating[::1] s2) noexcept nogil

cdef void apply_step_outer(const Step* st, floating[::1] w,   # (n_in * n_out) row-major
                           const floating[::1] x,            # (n_in,)
                           const floating[::1] d,            # (n_out,): g = outer(x, d)
                           floating[::1] s1, floating[::1] s2) noexcept nogil
