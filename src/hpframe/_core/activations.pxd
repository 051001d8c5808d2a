# Activation functions: one scalar forward and one scalar derivative each.
# The derivative takes both the input z and the output a = f(z), and uses
# whichever is cheaper (a for sigmoid/tanh/elu, z for gelu).
from cython cimport floating
from hpframe._core._fmath cimport f_exp, f_expm1, f_erf, f_tanh

cpdef enum Activation:
    RELU = 0
    LEAKY_RELU = 1
    ELU = 2
    GELU = 3
    SIGMOID = 4
    TANH = 5
    IDENTITY = 6

# Constants: PyTorch's defaults (leaky_relu slope 0.01, elu alpha 1), so results
# transfer; 1/sqrt(2) and 1/sqrt(2*pi) for the normal cdf and pdf in gelu.
cdef extern from *:
    """
    #define HPF_LEAKY_SLOPE 0.01
    #define HPF_ELU_ALPHA 1.0
    #define HPF_INV_SQRT2 0.70710678118654752440
    #define HPF_INV_SQRT_2PI 0.39894228040143267794
    """
    const double LEAKY_SLOPE "HPF_LEAKY_SLOPE"
    const double ELU_ALPHA "HPF_ELU_ALPHA"
    const double INV_SQRT2 "HPF_INV_SQRT2"
    const double INV_SQRT_2PI "HPF_INV_SQRT_2PI"


cdef inline void exp_n(floating* x, Py_ssize_t n) noexcept nogil:
    # x[i] = exp(x[i]): a loop of exps alone, which the compiler vectorises
    # (softmax and the cross-entropy gather their exps into one such loop)
    cdef Py_ssize_t i
    for i in range(n):
        x[i] = f_exp(x[i])


cdef inline void softmax_n(const floating* z, floating* out, Py_ssize_t n,
                           Py_ssize_t k) noexcept nogil:
    # The softmax of each of n rows of k values (row-major), into out (which may
    # be z). Each row's max is subtracted before exp: the result is unchanged
    # and exp never overflows. The row sum is accumulated in double and each
    # value divided by it there. Inline, so prediction's loops compile it with
    # their own instruction set (the same bits: no fused multiply-adds).
    cdef Py_ssize_t i, j
    cdef floating zmax
    cdef double total
    if n == 0 or k == 0:
        return
    for i in range(n):                          # z - max(z) of every row first,
        zmax = z[i * k]
        for j in range(1, k):
            if z[i * k + j] > zmax:
                zmax = z[i * k + j]
        for j in range(k):
            out[i * k + j] = z[i * k + j] - zmax
    exp_n(out, n * k)                           # then one loop of n * k exps
    for i in range(n):
        total = 0
        for j in range(k):
            total += out[i * k + j]
        for j in range(k):
            out[i * k + j] = <floating> (out[i * k + j] / total)


cdef inline floating sigmoid(floating z) noexcept nogil:
    # Never exp of a large positive number: for z < 0 use e^z / (1 + e^z).
    cdef floating e
    if z >= 0:
        return 1 / (1 + f_exp(-z))
    e = f_exp(z)
    return e / (1 + e)


cdef inline floating act_forward(int code, floating z) noexcept nogil:
    if code == RELU:
        return 0 if z <= 0 else z           # NaN stays NaN (as np.maximum, PyTorch)
    elif code == LEAKY_RELU:
        return z if z > 0 else <floating> LEAKY_SLOPE * z
    elif code == ELU:
        # expm1 keeps precision for small |z| where exp(z) - 1 would cancel.
        return z if z > 0 else <floating> ELU_ALPHA * f_expm1(z)
    elif code == GELU:
        # exact form, x * Phi(x), as PyTorch's default (approximate="none")
        return <floating> 0.5 * z * (1 + f_erf(z * <floating> INV_SQRT2))
    elif code == SIGMOID:
        return sigmoid(z)
    elif code == TANH:
        return f_tanh(z)
    return z


cdef inline floating act_grad(int code, floating z, floating a) noexcept nogil:
    """d f(z) / dz, given z and a = f(z)."""
    if code == RELU:
        return 1 if z > 0 else 0
    elif code == LEAKY_RELU:
        return 1 if z > 0 else <floating> LEAKY_SLOPE
    elif code == ELU:
        return 1 if z > 0 else a + <floating> ELU_ALPHA   # alpha * e^z = a + alpha
    elif code == GELU:
        # Phi(z) + z * phi(z)
        return (<floating> 0.5 * (1 + f_erf(z * <floating> INV_SQRT2))
                + z * <floating> INV_SQRT_2PI * f_exp(<floating> -0.5 * z * z))
    elif code == SIGMOID:
        return a * (1 - a)
    elif code == TANH:
        return 1 - a * a
    return 1


# The loops over n contiguous values: the switch sits outside, each branch's loop
# inlines one rule with a constant code, so the compiler can vectorise it.
cdef inline void act_forward_n(int code, const floating* z, floating* a,
                               Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    if code == RELU:
        for j in range(n):
            a[j] = act_forward(RELU, z[j])
    elif code == LEAKY_RELU:
        for j in range(n):
            a[j] = act_forward(LEAKY_RELU, z[j])
    elif code == ELU:
        for j in range(n):
            a[j] = act_forward(ELU, z[j])
    elif code == GELU:
        for j in range(n):
            a[j] = act_forward(GELU, z[j])
    elif code == SIGMOID:
        for j in range(n):
            a[j] = act_forward(SIGMOID, z[j])
    elif code == TANH:
        for j in range(n):
            a[j] = act_forward(TANH, z[j])
    else:
        for j in range(n):
            a[j] = z[j]


cdef inline void act_grad_mul_n(int code, const floating* z, const floating* a,
                                floating* g, Py_ssize_t n) noexcept nogil:
    """g *= f'(z), over n values (a = f(z))."""
    cdef Py_ssize_t j
    if code == RELU:
        for j in range(n):
            g[j] = g[j] * act_grad(RELU, z[j], a[j])
    elif code == LEAKY_RELU:
        for j in range(n):
            g[j] = g[j] * act_grad(LEAKY_RELU, z[j], a[j])
    elif code == ELU:
        for j in range(n):
            g[j] = g[j] * act_grad(ELU, z[j], a[j])
    elif code == GELU:
        for j in range(n):
            g[j] = g[j] * act_grad(GELU, z[j], a[j])
    elif code == SIGMOID:
        for j in range(n):
            g[j] = g[j] * act_grad(SIGMOID, z[j], a[j])
    elif code == TANH:
        for j in range(n):
            g[j] = g[j] * act_grad(TANH, z[j], a[j])
    # identity: f' = 1, g unchanged


cdef void activation_forward(int code, const floating[::1] z,   # IN
                             floating[::1] a                    # OUT
                             ) noexcept nogil

cdef void activation_backward(int code, const floating[::1] z,   # IN
                              const floating[::1] a,             # IN  f(z)
                              const floating[::1] grad_a,        # IN  dL/da
                              floating[::1] grad_z               # OUT dL/dz
                              ) noexcept nogil
