from cython cimport floating

cpdef enum Optimizer:
    SGD = 0
    MOMENTUM = 1
    NESTEROV = 2
    ADAM = 3
    ADAMW = 4

# Each update works in place on one flat segment of parameters w with gradient g.
# weight_decay is PyTorch's L2 term (g += wd * w), except for adamw (decoupled).

cdef void sgd_update(floating[::1] w, const floating[::1] g,
                     double lr, double weight_decay) noexcept nogil

cdef void momentum_update(floating[::1] w, const floating[::1] g, floating[::1] velocity,
                          double lr, double mu, double weight_decay,
                          bint nesterov) noexcept nogil

cdef void adam_update(floating[::1] w, const floating[::1] g,
                      floating[::1] m, floating[::1] v,
                      double lr, double beta_1, double beta_2, double eps,
                      double weight_decay, bint decoupled, long step) noexcept nogil
