"""Loss kernels: the loss *sum* (accumulated in double) and its gradient.

Every kernel returns the sum of the per-sample (cross_entropy) or per-element
(the others) losses, and writes ``scale * d(sum)/d(output)`` into ``grad``.
The caller passes ``scale = 1/n`` (cross_entropy) or ``1/(n*k)`` so that the
gradient is that of the *mean*, as PyTorch's ``reduction="mean"``.

With per-row weights ``w`` (``sample_weight``, ``class_weight``) the sum is
``sum_i w_i * l_i`` and the gradient ``scale * w_i * dl_i/d(output)``; the
caller passes ``scale = 1/sum(w)`` (or ``1/(k*sum(w))``), so a batch's loss is
the weighted mean ``sum(w_i l_i) / sum(w_i)`` and an integer weight counts as
that many copies of the row. An empty ``weight`` means every weight is 1, by
the very same operations as before weights existed (bit-identical results).

Both classification losses take logits: softmax and sigmoid are fused into the
loss, which is both cheaper and numerically stable.
"""
import numpy as np
from cython cimport floating
from hpframe._core._fmath cimport f_exp, f_log1p, f_abs
from hpframe._core.activations cimport sigmoid

include "_buildinfo.pxi"


cdef inline double bce_logit(floating z, floating t, floating* g) noexcept nogil:
    # -t*log(s(z)) - (1-t)*log(1-s(z)) = max(z, 0) - z*t + log(1 + e^-|z|):
    # the exp argument is never positive, so nothing overflows.
    g[0] = sigmoid(z) - t
    return (z if z > 0 else 0) - z * t + f_log1p(f_exp(-f_abs(z)))


cdef double elementwise_loss(int code, const floating[::1] output, const floating[::1] target,
                             const floating[::1] weight, Py_ssize_t k, double scale,
                             floating[::1] grad) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint with_grad = grad.shape[0] > 0, weighted = weight.shape[0] > 0
    cdef floating d, g
    cdef double loss = 0, ell, g_scale = scale
    for i in range(output.shape[0]):
        d = output[i] - target[i]
        if code == BINARY_CROSS_ENTROPY:
            ell = bce_logit(output[i], target[i], &g)
        elif code == MSE:
            ell = d * d
            g = 2 * d
        elif code == MAE:
            ell = f_abs(d)
            g = (d > 0) - (d < 0)          # sign(d), 0 at 0 like torch.sign
        else:                               # HUBER, delta = 1 (PyTorch's default)
            if f_abs(d) <= 1:
                ell = 0.5 * d * d
                g = d
            else:
                ell = f_abs(d) - 0.5
                g = 1 if d > 0 else -1
        if weighted:                        # element i belongs to row i // k
            g_scale = scale * weight[i // k]
            loss += weight[i // k] * ell
        else:
            loss += ell
        if with_grad:
            grad[i] = <floating> (g_scale * g)
    return loss


cdef double count_correct(int code, const floating[::1] output, const int[::1] labels,
                          const floating[::1] target, const floating[::1] weight,
                          Py_ssize_t k) noexcept nogil:
    """Correct predictions: argmax == label (cross_entropy) or, for binary cross
    entropy, elements where (logit > 0) == (target > 0.5); each counted with its
    row's weight (1 when ``weight`` is empty)."""
    cdef Py_ssize_t i, j, best
    cdef bint weighted = weight.shape[0] > 0
    cdef double correct = 0
    if code == CROSS_ENTROPY:
        for i in range(labels.shape[0]):
            best = 0
            for j in range(1, k):
                if output[i * k + j] > output[i * k + best]:
                    best = j
            if best == labels[i]:
                correct += weight[i] if weighted else 1
    elif code == BINARY_CROSS_ENTROPY:
        for i in range(output.shape[0]):
            if (output[i] > 0) == (target[i] > 0.5):
                correct += weight[i // k] if weighted else 1
    return correct


def cross_entropy_into(const floating[::1] logits, const int[::1] labels, Py_ssize_t k,
                       double scale, floating[::1] grad, const floating[::1] weight=None):
    """The weighted loss sum (``weight``: per row, ``None`` for all 1) and, unless
    ``grad`` is empty, ``scale`` times its gradient into ``grad``."""
    cdef double loss
    if weight is None:
        weight = logits[:0]
    with nogil:
        loss = cross_entropy(logits, labels, weight, k, scale, grad)
    return loss


def elementwise_loss_into(int code, const floating[::1] output, const floating[::1] target,
                          double scale, floating[::1] grad, const floating[::1] weight=None,
                          Py_ssize_t k=1):
    """As :func:`cross_entropy_into`; ``k`` elements per row share a weight."""
    cdef double loss
    if weight is None:
        weight = output[:0]
    with nogil:
        loss = elementwise_loss(code, output, target, weight, k, scale, grad)
    return loss


def count_correct_into(int code, const floating[::1] output, const int[::1] labels,
                       const floating[::1] target, Py_ssize_t k,
                       const floating[::1] weight=None):
    """Correct predictions, each counted with its row's weight (see count_correct)."""
    cdef double correct
    if weight is None:
        weight = output[:0]
    with nogil:
        correct = count_correct(code, output, labels, target, weight, k)
    return correct
