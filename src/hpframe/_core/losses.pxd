from cython cimport floating
from libc.math cimport log
from hpframe._core._fmath cimport f_exp
from hpframe._core.activations cimport exp_n

cpdef enum Loss:
    CROSS_ENTROPY = 0
    BINARY_CROSS_ENTROPY = 1
    MSE = 2
    MAE = 3
    HUBER = 4

cdef inline floating row_max(const floating* z, Py_ssize_t k) noexcept nogil:
    cdef floating zmax = z[0]
    cdef Py_ssize_t j
    for j in range(1, k):
        if z[j] > zmax:
            zmax = z[j]
    return zmax


# Inline, so the network's AVX2 build compiles its own 8-wide copy of the loss
# it calls at every step (one definition; the same operations, the same bits).
cdef inline double cross_entropy(const floating[::1] logits,   # IN  (n, k) row-major
                                 const int[::1] labels,        # IN  (n,) in 0..k-1
                                 const floating[::1] weight,   # IN  (n,) per row; empty: all 1
                                 Py_ssize_t k, double scale,
                                 floating[::1] grad            # OUT (n, k); empty: no gradient
                                 ) noexcept nogil:
    # loss_i = logsumexp(z_i) - z_i[y_i]; grad = softmax(z_i) - onehot(y_i).
    # logsumexp is computed as zmax + log(sum exp(z - zmax)): no overflow.
    cdef Py_ssize_t n = labels.shape[0], i, j, row
    cdef bint with_grad = grad.shape[0] > 0, weighted = weight.shape[0] > 0
    cdef floating zmax
    cdef double total, loss = 0, row_loss, g_scale = scale
    if with_grad and n > 0:
        # exp(z - zmax) of the whole batch into grad, in one loop over n * k
        # values that the compiler vectorises (each row's max first)
        for i in range(n):
            row = i * k
            zmax = row_max(&logits[row], k)
            for j in range(k):
                grad[row + j] = logits[row + j] - zmax
        exp_n(&grad[0], n * k)
    for i in range(n):
        row = i * k
        zmax = row_max(&logits[row], k)
        total = 0
        if with_grad:
            for j in range(k):
                total += grad[row + j]
        else:
            for j in range(k):
                total += f_exp(logits[row + j] - zmax)
        # Keep zmax out of any rounding: loss_i = (zmax - z_y) + log(total) and
        # softmax = exp(z - zmax) / total.  Rounding lse = zmax + log(total) to
        # float32 would cost up to ulp(zmax), more than the whole loss of a
        # confident prediction (logits 20 and 10: loss 4.5e-5, ulp(20) = 1.9e-6).
        row_loss = (zmax - logits[row + labels[i]]) + log(total)
        if weighted:
            g_scale = scale * weight[i]
            loss += weight[i] * row_loss
        else:
            loss += row_loss
        if with_grad:
            for j in range(k):
                grad[row + j] = <floating> (g_scale * grad[row + j] / total)
            grad[row + labels[i]] -= <floating> g_scale
    return loss


cdef double elementwise_loss(int code,
                             const floating[::1] output,   # IN  (n*k,)
                             const floating[::1] target,   # IN  (n*k,)
                             const floating[::1] weight,   # IN  (n,) per row; empty: all 1
                             Py_ssize_t k, double scale,
                             floating[::1] grad            # OUT (n*k,); empty: no gradient
                             ) noexcept nogil

cdef double count_correct(int code, const floating[::1] output, const int[::1] labels,
                          const floating[::1] target, const floating[::1] weight,
                          Py_ssize_t k) noexcept nogil
