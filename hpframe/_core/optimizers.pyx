"""Optimizer update kernels, in place over flat parameter buffers.

The rules are PyTorch's (``torch.optim``), so results transfer:

* sgd:       ``w -= lr * g``
* momentum:  ``v = mu*v + g;  w -= lr * v``
* nesterov:  ``v = mu*v + g;  w -= lr * (g + mu*v)``
* adam:      ``m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;``
             ``w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)``
* adamw:     ``w -= lr*wd*w`` first (decoupled weight decay), then the adam step.

For the first four, weight decay is the L2 term ``g += wd * w``.  The network
calls these separately on its weight segment and its bias segment (wd = 0), so
biases are never decayed.
"""
import numpy as np
from cython cimport floating
from hpframe._core._fmath cimport f_sqrt

include "_buildinfo.pxi"


cdef void sgd_update(floating[::1] w, const floating[::1] g,
                     double lr, double weight_decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating lr_ = <floating> lr, wd = <floating> weight_decay
    for i in range(w.shape[0]):
        w[i] -= lr_ * (g[i] + wd * w[i])


cdef void momentum_update(floating[::1] w, const floating[::1] g, floating[::1] velocity,
                          double lr, double mu, double weight_decay,
                          bint nesterov) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating lr_ = <floating> lr, mu_ = <floating> mu, wd = <floating> weight_decay
    cdef floating gi, vi
    for i in range(w.shape[0]):
        gi = g[i] + wd * w[i]
        vi = mu_ * velocity[i] + gi
        velocity[i] = vi
        if nesterov:
            w[i] -= lr_ * (gi + mu_ * vi)
        else:
            w[i] -= lr_ * vi


cdef void adam_update(floating[::1] w, const floating[::1] g,
                      floating[::1] m, floating[::1] v,
                      double lr, double beta_1, double beta_2, double eps,
                      double weight_decay, bint decoupled, long step) noexcept nogil:
    # Bias corrections are folded into two scalars computed once per step, in
    # double: step_size = lr / (1 - b1^t) and 1 / sqrt(1 - b2^t).  eps is added
    # after the square root, as in PyTorch and the Adam paper.
    cdef Py_ssize_t i
    cdef floating b1 = <floating> beta_1, b2 = <floating> beta_2
    cdef floating c1 = <floating> (1 - beta_1), c2 = <floating> (1 - beta_2)
    cdef floating step_size = <floating> (lr / (1 - beta_1 ** step))
    cdef floating inv_bc2_sqrt = <floating> (1 / (1 - beta_2 ** step) ** 0.5)
    cdef floating eps_ = <floating> eps
    cdef floating l2 = 0 if decoupled else <floating> weight_decay
    cdef floating shrink = <floating> (1 - lr * weight_decay) if decoupled else 1
    cdef floating gi, mi, vi
    for i in range(w.shape[0]):
        gi = g[i] + l2 * w[i]
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        w[i] = shrink * w[i] - step_size * mi / (f_sqrt(vi) * inv_bc2_sqrt + eps_)


def sgd_step(floating[::1] w, const floating[::1] g, double lr, double weight_decay):
    with nogil:
        sgd_update(w, g, lr, weight_decay)


def momentum_step(floating[::1] w, const floating[::1] g, floating[::1] velocity,
                  double lr, double momentum, double weight_decay, bint nesterov):
    with nogil:
        momentum_update(w, g, velocity, lr, momentum, weight_decay, nesterov)


def adam_step(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
              double lr, double beta_1, double beta_2, double eps, double weight_decay,
              bint decoupled, long step):
    with nogil:
        adam_update(w, g, m, v, lr, beta_1, beta_2, eps, weight_decay, decoupled, step)
