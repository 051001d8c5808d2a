"""Optimizer update kernels, in place over flat parameter buffers.

The rules are PyTorch's (``torch.optim``), so results transfer:

* sgd:       ``w -= lr * g``
* momentum:  ``v = mu*v + g;  w -= lr * v``
* nesterov:  ``v = mu*v + g;  w -= lr * (g + mu*v)``
* adam:      ``m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;``
             ``w -= lr/(1-b1^t) * m / (sqrt(v) * (1/sqrt(1-b2^t)) + eps)``
* adamw:     ``w *= 1 - lr*wd`` first (decoupled weight decay), then the adam step.

Adam multiplies by ``1/sqrt(1-b2^t)``, computed once per step, where PyTorch
divides by ``sqrt(1-b2^t)``: the same number up to the last bit, and one
division per parameter fewer. ``hpframe.reference.adam_step`` computes it in
the same order, so the two agree bit for bit.

For the first four, weight decay is the L2 term ``g += wd * w``.  The network
calls these separately on its weight segment and its bias segment (wd = 0), so
biases are never decayed.

Design: the rule for one parameter is a scalar inline function in
``optimizers.pxd``; :func:`make_step` computes a step's constants once (bias
corrections in double); ``step_n`` (inline, in the ``.pxd``) runs the rule over a
flat buffer, and :func:`apply_step` is its entry point for memoryviews.
:func:`apply_step_outer` runs it over a weight matrix whose gradient is the
outer product ``x d^T`` (a batch of one sample), computing each ``g[i, j]``
on the fly: at batch size 1 that saves writing and re-reading the whole
gradient, which costs more memory traffic than the update itself.
"""
import numpy as np
from cython cimport floating
from libc.math cimport sqrt

include "_buildinfo.pxi"


cpdef int n_state_buffers(int optimizer) noexcept nogil:
    """How many buffers of state, each as large as the parameters, ``optimizer``
    keeps: 0 for sgd, 1 for momentum and nesterov (the velocity), 2 for adam and
    adamw (m and v)."""
    if optimizer == SGD:
        return 0
    if optimizer == MOMENTUM or optimizer == NESTEROV:
        return 1
    return 2


cdef Step make_step(int optimizer, double lr, double momentum, double beta_1, double beta_2,
                    double eps, double weight_decay, long t) noexcept nogil:
    cdef Step st
    st.optimizer = optimizer
    st.lr = lr
    st.mu = momentum
    st.beta_1 = beta_1
    st.beta_2 = beta_2
    st.eps = eps
    st.l2 = 0 if optimizer == ADAMW else weight_decay
    st.shrink = 1 - lr * weight_decay if optimizer == ADAMW else 1
    st.step_size = lr / (1 - beta_1 ** t) if t > 0 else lr
    st.inv_bc2_sqrt = 1 / sqrt(1 - beta_2 ** t) if t > 0 else 1
    return st


cdef void apply_step(const Step* st, floating[::1] w, const floating[::1] g,
                     floating[::1] s1, floating[::1] s2) noexcept nogil:
    # the state buffers are empty for optimizers without state (sgd, or s2 for momentum)
    if w.shape[0] > 0:
        step_n(st, &w[0], &g[0], &s1[0] if s1.shape[0] > 0 else NULL,
               &s2[0] if s2.shape[0] > 0 else NULL, w.shape[0])


cdef void apply_step_outer(const Step* st, floating[::1] w, const floating[::1] x,
                           const floating[::1] d, floating[::1] s1,
                           floating[::1] s2) noexcept nogil:
    if w.shape[0] > 0:
        step_outer_n(st, &w[0], &x[0], &d[0], &s1[0] if s1.shape[0] > 0 else NULL,
                     &s2[0] if s2.shape[0] > 0 else NULL, x.shape[0], d.shape[0])


def sgd_step(floating[::1] w, const floating[::1] g, double lr, double weight_decay):
    cdef Step st = make_step(SGD, lr, 0, 0, 0, 0, weight_decay, 1)
    with nogil:
        apply_step(&st, w, g, w[:0], w[:0])


def momentum_step(floating[::1] w, const floating[::1] g, floating[::1] velocity,
                  double lr, double momentum, double weight_decay, bint nesterov):
    cdef Step st = make_step(NESTEROV if nesterov else MOMENTUM, lr, momentum, 0, 0, 0,
                             weight_decay, 1)
    with nogil:
        apply_step(&st, w, g, velocity, w[:0])


def adam_step(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
              double lr, double beta_1, double beta_2, double eps, double weight_decay,
              bint decoupled, long step):
    cdef Step st = make_step(ADAMW if decoupled else ADAM, lr, 0, beta_1, beta_2, eps,
                             weight_decay, step)
    with nogil:
        apply_step(&st, w, g, m, v)


def step_outer(int optimizer, floating[::1] w, const floating[::1] x, const floating[::1] d,
               floating[::1] s1, floating[::1] s2, double lr, double momentum, double beta_1,
               double beta_2, double eps, double weight_decay, long step):
    """One update of a weight matrix (flat, row-major) whose gradient is ``outer(x, d)``."""
    cdef Step st = make_step(optimizer, lr, momentum, beta_1, beta_2, eps, weight_decay, step)
    with nogil:
        apply_step_outer(&st, w, x, d, s1, s2)
