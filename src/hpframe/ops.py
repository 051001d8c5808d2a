r"""Python-callable entry points to each kernel of hpframe's compiled core.

The core's loops check nothing and allocate nothing; they are built to run
inside :class:`hpframe.Trainer`'s training loop.  This module lets you call each
kernel on its own - to see what a dense layer, an activation, a loss, dropout
or an optimizer step does to an array, and to test the kernels one by one.
Every function here

* validates its arguments and raises a ``ValueError``/``TypeError`` naming the
  argument, the bad value or shape, and what is allowed;
* converts its inputs once - any array-like, C or Fortran order, strided views -
  to C-contiguous arrays.  The result has the input's floating dtype: float32
  stays float32, float64 stays float64, integers and bools become float64; with
  several inputs the wider floating dtype among them wins;
* allocates its output and calls the compiled kernel.  Nothing passed in is
  modified: the optimizer steps return new arrays.

:mod:`hpframe.reference` holds the pure-NumPy twins of these functions, with
the same names and signatures: read them for the math, compare against them
for the speed.

Examples
--------
>>> import numpy as np
>>> from hpframe import ops
>>> ops.activation(np.array([-1.0, 0.5]), "relu")
array([0. , 0.5])
>>> mean_loss, grad = ops.loss(np.array([[2.0, 0.0]]), np.array([0]), "cross_entropy")
"""
import numbers

import numpy as np

from hpframe._core import _blas
from hpframe._validation import check_int
from hpframe._core import activations as _activations
from hpframe._core import dropout as _dropout
from hpframe._core import losses as _losses
from hpframe._core import optimizers as _optimizers
from hpframe._core.spec import ACTIVATIONS, LOSSES

__all__ = [
    "ACTIVATIONS", "LOSSES",
    "dense_forward", "dense_backward",
    "activation", "activation_grad", "softmax", "loss",
    "dropout", "permutation",
    "sgd_step", "momentum_step", "adam_step",
]


# ---- argument checking -------------------------------------------------------

def _numbers(value, name):
    """``value`` as an ndarray of real numbers (no conversion of dtype yet)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like, could not convert "
                        f"{type(value).__name__}: {exc}") from None
    kind = array.dtype.kind
    if kind == "f" and array.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} has dtype {array.dtype}; allowed: float32, float64, "
                        "or integers/bools (converted to float64)")
    if kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (float32, float64, integers or "
                        f"bools), got dtype {array.dtype}")
    return array


def _float_dtype(*arrays):
    """float32 if every floating input is float32, else float64."""
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    if floats and all(d == np.float32 for d in floats):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _c(array, dtype):
    """One conversion to a C-contiguous array of ``dtype`` (no copy when it already is)."""
    return np.asarray(array, dtype=dtype, order="C")


def _check_ndim(array, name, ndim, what):
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {what}, got shape {array.shape}")


def _check_same_shape(array, name, other, other_name):
    if array.shape != other.shape:
        raise ValueError(f"{name} must have the shape of {other_name}, {other.shape}; "
                         f"got {array.shape}")


def _check_name(name, table, field):
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"{field} must be one of {', '.join(table)}; got {name!r}")
    return table[name]


def _check_real(value, name, low=None, high=None, low_open=False, high_open=False):
    """A finite real number in the given interval, returned as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or below or above:
        interval = (("(" if low_open else "[") + ("-inf" if low is None else f"{low:g}") + ", "
                    + ("inf)" if high is None else f"{high:g}" + (")" if high_open else "]")))
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


def _check_int(value, name, low):
    return check_int(name, value, low)


def _check_seed(seed):
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative integer or a numpy.random.SeedSequence, "
                        f"got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _gemm(trans_a, trans_b, alpha, a, b, beta, c):
    """``c = alpha*op(a)@op(b) + beta*c`` through the core's BLAS wrapper.

    BLAS rejects zero leading dimensions, so empty products are done here.
    """
    k = a.shape[0] if trans_a else a.shape[1]
    if c.size == 0:
        return
    if k == 0:                  # as BLAS: beta == 0 overwrites c (NaN in c stays out)
        if beta == 0:
            c[...] = 0
        else:
            c *= beta
        return
    _blas.gemm_memview(trans_a, trans_b, alpha, a, b, beta, c)   # dtype picks s/dgemm


# ---- dense layer ------------------------------------------------------------

def dense_forward(x, weight, bias):
    r"""Dense layer forward pass, through BLAS gemm.

    .. math:: Y = X W + b

    Parameters
    ----------
    x : array_like, shape (n, n_in)
    weight : array_like, shape (n_in, n_out)
    bias : array_like, shape (n_out,)

    Returns
    -------
    ndarray, shape (n, n_out)

    Raises
    ------
    ValueError
        If the shapes do not fit together.
    TypeError
        If an input does not hold real numbers.
    """
    x, weight, bias = _numbers(x, "x"), _numbers(weight, "weight"), _numbers(bias, "bias")
    _check_ndim(x, "x", 2, "(n_samples, n_in)")
    _check_ndim(weight, "weight", 2, "(n_in, n_out)")
    _check_ndim(bias, "bias", 1, "(n_out,)")
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight must have {x.shape[1]} rows (x has {x.shape[1]} columns), "
                         f"got shape {weight.shape}")
    if bias.shape[0] != weight.shape[1]:
        raise ValueError(f"bias must have {weight.shape[1]} elements (weight has "
                         f"{weight.shape[1]} columns), got shape {bias.shape}")
    dtype = _float_dtype(x, weight, bias)
    x, weight = _c(x, dtype), _c(weight, dtype)
    out = np.empty((x.shape[0], weight.shape[1]), dtype=dtype)
    out[...] = bias                       # Y = b, then Y += X @ W
    _gemm(False, False, 1.0, x, weight, 1.0, out)
    return out


def dense_backward(x, weight, grad_out):
    r"""Dense layer backward pass, through BLAS gemm.

    With :math:`G = \partial L / \partial Y`:

    .. math::

        \frac{\partial L}{\partial X} = G W^\top, \qquad
        \frac{\partial L}{\partial W} = X^\top G, \qquad
        \frac{\partial L}{\partial b} = \sum_i G_{i,:}

    Parameters
    ----------
    x : array_like, shape (n, n_in)
        The layer's input.
    weight : array_like, shape (n_in, n_out)
    grad_out : array_like, shape (n, n_out)

    Returns
    -------
    grad_x, grad_weight, grad_bias : ndarray
        Shapes ``(n, n_in)``, ``(n_in, n_out)`` and ``(n_out,)``.
    """
    x, weight = _numbers(x, "x"), _numbers(weight, "weight")
    grad_out = _numbers(grad_out, "grad_out")
    _check_ndim(x, "x", 2, "(n_samples, n_in)")
    _check_ndim(weight, "weight", 2, "(n_in, n_out)")
    _check_ndim(grad_out, "grad_out", 2, "(n_samples, n_out)")
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight must have {x.shape[1]} rows (x has {x.shape[1]} columns), "
                         f"got shape {weight.shape}")
    expected = (x.shape[0], weight.shape[1])
    if grad_out.shape != expected:
        raise ValueError(f"grad_out must have shape (n_samples, n_out) = {expected}, "
                         f"got {grad_out.shape}")
    dtype = _float_dtype(x, weight, grad_out)
    x, weight, grad_out = _c(x, dtype), _c(weight, dtype), _c(grad_out, dtype)
    grad_x = np.empty(x.shape, dtype=dtype)
    grad_weight = np.empty(weight.shape, dtype=dtype)
    _gemm(False, True, 1.0, grad_out, weight, 0.0, grad_x)        # G @ W^T
    _gemm(True, False, 1.0, x, grad_out, 0.0, grad_weight)        # X^T @ G
    # column sums as a product with a row of ones: 1^T G
    grad_bias = np.empty((1, weight.shape[1]), dtype=dtype)
    _gemm(False, False, 1.0, np.ones((1, x.shape[0]), dtype=dtype), grad_out, 0.0, grad_bias)
    return grad_x, grad_weight, grad_bias[0]


# ---- activations ------------------------------------------------------------

def activation(z, name):
    r"""Apply an activation function elementwise.

    .. math::

        \mathrm{relu}(z) &= \max(z, 0) \\
        \mathrm{leaky\_relu}(z) &= z \text{ if } z > 0 \text{ else } 0.01 z \\
        \mathrm{elu}(z) &= z \text{ if } z > 0 \text{ else } e^z - 1 \\
        \mathrm{gelu}(z) &= z \, \Phi(z) = \tfrac{z}{2}\left(1 + \mathrm{erf}(z/\sqrt{2})\right) \\
        \mathrm{sigmoid}(z) &= 1 / (1 + e^{-z}) \\
        \mathrm{tanh}(z) &= \tanh z, \qquad \mathrm{identity}(z) = z

    Parameters
    ----------
    z : array_like
        Any shape.
    name : str
        relu, leaky_relu, elu, gelu, sigmoid, tanh or identity.

    Returns
    -------
    ndarray, the shape of ``z``
    """
    code = _check_name(name, ACTIVATIONS, "name")
    z = _numbers(z, "z")
    z = _c(z, _float_dtype(z))
    out = np.empty_like(z)
    _activations.forward_into(code, z.reshape(-1), out.reshape(-1))
    return out


def activation_grad(z, grad_out, name):
    r"""Backpropagate through an activation: :math:`\partial L/\partial z = g \, f'(z)`.

    .. math::

        \mathrm{relu}'(z) &= [z > 0], \qquad \mathrm{leaky\_relu}'(z) = 1 \text{ or } 0.01 \\
        \mathrm{elu}'(z) &= 1 \text{ if } z > 0 \text{ else } e^z = f(z) + 1 \\
        \mathrm{gelu}'(z) &= \Phi(z) + z\,\varphi(z) \\
        \mathrm{sigmoid}'(z) &= f(z)(1 - f(z)), \qquad \tanh'(z) = 1 - f(z)^2

    Parameters
    ----------
    z : array_like
        The activation's input, any shape.
    grad_out : array_like, the shape of ``z``
        :math:`g = \partial L / \partial f(z)`.
    name : str
        relu, leaky_relu, elu, gelu, sigmoid, tanh or identity.

    Returns
    -------
    ndarray, the shape of ``z``
    """
    code = _check_name(name, ACTIVATIONS, "name")
    z, grad_out = _numbers(z, "z"), _numbers(grad_out, "grad_out")
    _check_same_shape(grad_out, "grad_out", z, "z")
    dtype = _float_dtype(z, grad_out)
    z, grad_out = _c(z, dtype), _c(grad_out, dtype)
    a = np.empty_like(z)                  # the kernel reads f(z) as well as z
    _activations.forward_into(code, z.reshape(-1), a.reshape(-1))
    grad_z = np.empty_like(z)
    _activations.backward_into(code, z.reshape(-1), a.reshape(-1), grad_out.reshape(-1),
                               grad_z.reshape(-1))
    return grad_z


def softmax(z):
    r"""Softmax of each row, computed with the row maximum subtracted (no overflow).

    .. math:: \mathrm{softmax}(z)_j = \frac{e^{z_j - \max_i z_i}}{\sum_k e^{z_k - \max_i z_i}}

    Parameters
    ----------
    z : array_like, shape (n, k)

    Returns
    -------
    ndarray, shape (n, k)
    """
    z = _numbers(z, "z")
    _check_ndim(z, "z", 2, "(n_samples, n_classes)")
    if z.shape[1] == 0:
        raise ValueError(f"z must have at least one column, got shape {z.shape}")
    z = _c(z, _float_dtype(z))
    out = np.empty_like(z)
    _activations.softmax_into(z, out)
    return out


# ---- losses -----------------------------------------------------------------

def loss(output, target, name, weight=None):
    r"""Mean loss and its gradient with respect to ``output``.

    .. math::

        \text{cross\_entropy:}\quad & L = \frac1n \sum_i \Big(\log \sum_j e^{z_{ij}} - z_{i y_i}\Big),
            & \frac{\partial L}{\partial z} = \frac1n (\mathrm{softmax}(z) - \mathrm{onehot}(y)) \\
        \text{binary\_cross\_entropy:}\quad & \ell = \max(z, 0) - z t + \log(1 + e^{-|z|}),
            & \frac{\partial \ell}{\partial z} = \sigma(z) - t \\
        \text{mse:}\quad & \ell = d^2, & 2 d \\
        \text{mae:}\quad & \ell = |d|, & \mathrm{sign}(d) \\
        \text{huber:}\quad & \ell = \tfrac12 d^2 \text{ if } |d| \le 1 \text{ else } |d| - \tfrac12,
            & \mathrm{clip}(d, -1, 1)

    with :math:`d = \text{output} - \text{target}`.  For every loss but cross
    entropy, :math:`L` is the mean of :math:`\ell` over all elements and the
    gradient is divided by the number of elements (PyTorch's ``reduction="mean"``).
    Sums are accumulated in float64. With row weights ``weight`` the means are
    weighted, :math:`\sum_i w_i \ell_i / \sum_i w_i` (see
    :func:`hpframe.reference.loss`).

    Parameters
    ----------
    output : array_like
        cross_entropy: logits ``(n, k)``; binary_cross_entropy: logits, any
        shape; mse, mae, huber: predictions, any shape.
    target : array_like
        cross_entropy: integer labels ``(n,)`` in ``0..k-1``; binary_cross_entropy:
        targets in ``[0, 1]`` of the shape of ``output``; otherwise numbers of the
        shape of ``output``.
    name : str
        cross_entropy, binary_cross_entropy, mse, mae or huber.
    weight : array_like of shape (n,), optional
        Row weights: finite, >= 0, not all 0. None: all 1.

    Returns
    -------
    mean_loss : float
    grad : ndarray, the shape of ``output``
        The gradient of ``mean_loss``.
    """
    code = _check_name(name, LOSSES, "name")
    output, target = _numbers(output, "output"), _numbers(target, "target")
    if name == "cross_entropy":
        _check_ndim(output, "output", 2, "logits (n_samples, n_classes) for cross_entropy")
        n, k = output.shape
        if n == 0 or k == 0:
            raise ValueError(f"output must have at least one row and one column, got shape "
                             f"{output.shape}")
        if target.dtype.kind not in "iu":
            raise TypeError(f"target must hold integer class labels for cross_entropy, got "
                            f"dtype {target.dtype}")
        if target.shape != (n,):
            raise ValueError(f"target must be 1-D labels of shape ({n},) for cross_entropy, "
                             f"got shape {target.shape}")
        if target.min() < 0 or target.max() >= k:
            bad = target[(target < 0) | (target >= k)][0]
            raise ValueError(f"target labels must be in 0..{k - 1} (output has {k} columns), "
                             f"got {bad}")
        output = _c(output, _float_dtype(output))
        labels = _c(target, np.intc)
        grad = np.empty_like(output)
        w, total_w = _row_weights(weight, n, output.dtype)
        total = _losses.cross_entropy_into(output.reshape(-1), labels, k, 1.0 / total_w,
                                           grad.reshape(-1), w)
        return total / total_w, grad
    _check_same_shape(target, "target", output, "output")
    if output.size == 0:
        raise ValueError(f"output is empty (shape {output.shape}); the mean needs at least "
                         "one element")
    dtype = _float_dtype(output, target)
    output, target = _c(output, dtype), _c(target, dtype)
    if name == "binary_cross_entropy" and not ((target >= 0) & (target <= 1)).all():
        bad = target[~((target >= 0) & (target <= 1))][0]
        raise ValueError(f"target must be in [0, 1] for binary_cross_entropy, got {bad}")
    grad = np.empty_like(output)
    if weight is None:
        total = _losses.elementwise_loss_into(code, output.reshape(-1), target.reshape(-1),
                                              1.0 / output.size, grad.reshape(-1))
        return total / output.size, grad
    n = output.shape[0] if output.ndim else 1
    k = output.size // n
    w, total_w = _row_weights(weight, n, output.dtype)
    total = _losses.elementwise_loss_into(code, output.reshape(-1), target.reshape(-1),
                                          1.0 / (total_w * k), grad.reshape(-1), w, k)
    return total / (total_w * k), grad


def _row_weights(weight, n, dtype):
    """``weight`` checked (``(n,)``, finite, >= 0, not all 0) as ``dtype``, and its sum;
    ``(None, n)`` without weights."""
    if weight is None:
        return None, n
    from hpframe.trainer import check_sample_weight
    try:
        w = check_sample_weight(weight, n, dtype)
    except (TypeError, ValueError) as exc:
        raise type(exc)(str(exc).replace("sample_weight", "weight")) from None
    return w, float(np.sum(w, dtype=np.float64))


# ---- randomness ---------------------------------------------------------------

def dropout(x, p, seed):
    r"""Inverted dropout, with the mask drawn by the core from ``numpy.random.PCG64(seed)``.

    .. math::

        m_i = \begin{cases} 0 & \text{with probability } p \\
                            1/(1-p) & \text{otherwise} \end{cases}, \qquad
        \text{out} = x \odot m, \qquad \mathbb{E}[\text{out}] = x

    Parameters
    ----------
    x : array_like
        Any shape.
    p : float
        Drop probability, in ``[0, 1)``.
    seed : int or numpy.random.SeedSequence
        The same seed gives the same mask.

    Returns
    -------
    out, mask : ndarray, the shape of ``x``
    """
    p = _check_real(p, "p", 0.0, 1.0, high_open=True)
    seed = _check_seed(seed)
    x = _numbers(x, "x")
    x = _c(x, _float_dtype(x))
    mask = np.empty_like(x)
    _dropout.mask_into(np.random.PCG64(seed), p, mask.reshape(-1))
    return x * mask, mask


def permutation(n, seed):
    """A random permutation of ``0..n-1``: the core's Fisher-Yates shuffle.

    Driven by ``numpy.random.PCG64(seed)``, with Lemire's unbiased bounded
    integers; the same seed gives the same permutation.

    Parameters
    ----------
    n : int
        Non-negative.
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    ndarray of intp, shape (n,)
    """
    n = _check_int(n, "n", 0)
    seed = _check_seed(seed)
    index = np.arange(n, dtype=np.intp)
    _dropout.shuffle_into(np.random.PCG64(seed), index)
    return index


# ---- optimizers (functional: inputs are never modified) ----------------------

def _optimizer_arrays(w, g, *states):
    """Check ``w``, ``g`` and the state arrays; return fresh C-contiguous copies
    of ``w`` and the states (updated in place by the kernel) and ``g``."""
    names = ("w", "g") + tuple(name for name, _ in states)
    arrays = [_numbers(w, "w"), _numbers(g, "g")] + [_numbers(s, name) for name, s in states]
    for name, array in zip(names[1:], arrays[1:]):
        _check_same_shape(array, name, arrays[0], "w")
    dtype = _float_dtype(*arrays)
    copies = [np.array(a, dtype=dtype, order="C", copy=True) for a in arrays]
    copies[1] = _c(arrays[1], dtype)          # g is only read
    return copies


def sgd_step(w, g, lr, weight_decay=0.0):
    r"""One step of stochastic gradient descent with L2 weight decay.

    .. math:: w \leftarrow w - \eta\,(g + \lambda w)

    Parameters
    ----------
    w, g : array_like
        Parameters and their gradient, one shape.
    lr : float
        Learning rate :math:`\eta \ge 0`.
    weight_decay : float, default 0
        :math:`\lambda \ge 0` (PyTorch's L2 term).

    Returns
    -------
    ndarray
        The updated parameters (a new array; ``w`` is not modified).
    """
    lr = _check_real(lr, "lr", 0.0)
    weight_decay = _check_real(weight_decay, "weight_decay", 0.0)
    w, g = _optimizer_arrays(w, g)
    _optimizers.sgd_step(w.reshape(-1), g.reshape(-1), lr, weight_decay)
    return w


def momentum_step(w, g, velocity, lr, momentum=0.9, weight_decay=0.0, nesterov=False):
    r"""One step of SGD with (Nesterov) momentum, as PyTorch's ``SGD``.

    .. math::

        g' &= g + \lambda w \\
        v &\leftarrow \mu v + g' \\
        w &\leftarrow w - \eta v \quad\text{or, Nesterov,}\quad w - \eta\,(g' + \mu v)

    Parameters
    ----------
    w, g, velocity : array_like
        Parameters, gradient and velocity (zeros before the first step), one shape.
    lr : float
        :math:`\eta \ge 0`.
    momentum : float, default 0.9
        :math:`\mu \in [0, 1)`.
    weight_decay : float, default 0
        :math:`\lambda \ge 0`.
    nesterov : bool, default False

    Returns
    -------
    w, velocity : ndarray
        New arrays; the inputs are not modified.
    """
    lr = _check_real(lr, "lr", 0.0)
    momentum = _check_real(momentum, "momentum", 0.0, 1.0, high_open=True)
    weight_decay = _check_real(weight_decay, "weight_decay", 0.0)
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
    w, g, velocity = _optimizer_arrays(w, g, ("velocity", velocity))
    _optimizers.momentum_step(w.reshape(-1), g.reshape(-1), velocity.reshape(-1), lr,
                              momentum, weight_decay, bool(nesterov))
    return w, velocity


def adam_step(w, g, m, v, step, lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
              weight_decay=0.0, decoupled=False):
    r"""One Adam (or AdamW) step, as PyTorch's ``Adam`` / ``AdamW``.

    .. math::

        g' &= g + \lambda w \quad\text{(Adam; AdamW instead shrinks } w \leftarrow (1 - \eta\lambda) w
              \text{ first)} \\
        m &\leftarrow \beta_1 m + (1 - \beta_1)\, g' \\
        v &\leftarrow \beta_2 v + (1 - \beta_2)\, g'^2 \\
        w &\leftarrow w - \frac{\eta}{1 - \beta_1^t}\,
              \frac{m}{\sqrt{v} / \sqrt{1 - \beta_2^t} + \epsilon}

    Parameters
    ----------
    w, g, m, v : array_like
        Parameters, gradient, first and second moment (zeros before the first
        step), one shape.
    step : int
        :math:`t \ge 1`, the number of this step.
    lr : float, default 1e-3
        :math:`\eta \ge 0`.
    beta_1, beta_2 : float, default 0.9, 0.999
        In ``[0, 1)``.
    epsilon : float, default 1e-8
        Added after the square root; > 0.
    weight_decay : float, default 0
        :math:`\lambda \ge 0`.
    decoupled : bool, default False
        True for AdamW's decoupled weight decay.

    Returns
    -------
    w, m, v : ndarray
        New arrays; the inputs are not modified.

    References
    ----------
    Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """
    step = _check_int(step, "step", 1)
    lr = _check_real(lr, "lr", 0.0)
    beta_1 = _check_real(beta_1, "beta_1", 0.0, 1.0, high_open=True)
    beta_2 = _check_real(beta_2, "beta_2", 0.0, 1.0, high_open=True)
    epsilon = _check_real(epsilon, "epsilon", 0.0, low_open=True)
    weight_decay = _check_real(weight_decay, "weight_decay", 0.0)
    if not isinstance(decoupled, (bool, np.bool_)):
        raise TypeError(f"decoupled must be True or False, got {decoupled!r}")
    w, g, m, v = _optimizer_arrays(w, g, ("m", m), ("v", v))
    _optimizers.adam_step(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), lr,
                          beta_1, beta_2, epsilon, weight_decay, bool(decoupled), step)
    return w, m, v
