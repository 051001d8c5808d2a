"""Activation kernels: forward, backward and softmax, over flat buffers.

Design: the math of each activation is a scalar ``cdef inline`` function in
``activations.pxd`` (so the fused network loop can inline it too); the loops
here apply it over contiguous memory; the ``*_into`` ``def`` functions are
thin entry points for :mod:`hpframe.ops`, which validates and allocates.
"""
import numpy as np
from cython cimport floating

include "_buildinfo.pxi"


cdef void activation_forward(int code, const floating[::1] z, floating[::1] a) noexcept nogil:
    if z.shape[0] > 0:
        act_forward_n(code, &z[0], &a[0], z.shape[0])


cdef void activation_backward(int code, const floating[::1] z, const floating[::1] a,
                              const floating[::1] grad_a, floating[::1] grad_z) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(z.shape[0]):
        grad_z[i] = grad_a[i]
    if z.shape[0] > 0:
        act_grad_mul_n(code, &z[0], &a[0], &grad_z[0], z.shape[0])


cdef void softmax_rows(const floating[:, ::1] z, floating[:, ::1] out) noexcept nogil:
    # softmax_n (activations.pxd) over every row; ``out`` may be ``z``
    if z.shape[0] > 0 and z.shape[1] > 0:
        softmax_n(&z[0, 0], &out[0, 0], z.shape[0], z.shape[1])


def forward_into(int code, const floating[::1] z, floating[::1] a):
    with nogil:
        activation_forward(code, z, a)


def backward_into(int code, const floating[::1] z, const floating[::1] a,
                  const floating[::1] grad_a, floating[::1] grad_z):
    with nogil:
        activation_backward(code, z, a, grad_a, grad_z)


def softmax_into(const floating[:, ::1] z, floating[:, ::1] out):
    with nogil:
        softmax_rows(z, out)


def exp_into(const floating[::1] x, floating[::1] out):
    """``out[i] = exp(x[i])`` by the core's own exp (float32: ``_fexp.h``; float64:
    the C library's), for the tests that measure its error."""
    cdef Py_ssize_t i
    if out.shape[0] != x.shape[0]:
        raise ValueError(f"out has {out.shape[0]} values; it must have x's {x.shape[0]}")
    with nogil:
        for i in range(x.shape[0]):
            out[i] = x[i]
        if x.shape[0] > 0:
            exp_n(&out[0], x.shape[0])
