r"""Pure-NumPy twins of hpframe's compiled kernels, written to be read as the math.

Every function here has the same name and signature as its compiled counterpart
in :mod:`hpframe.ops`, and computes the same thing the plain way: whole-array
NumPy expressions, no fusion, no tricks beyond the ones numerical stability needs.
The test suite uses them as the oracle for the core, and the benchmarks as the
"NumPy baseline".  Unlike :mod:`hpframe.ops` they do not validate their arguments.

Two more pieces let the tests replay a whole training run of the core:

* :class:`CoreRandom` reads a ``numpy.random.PCG64`` exactly the way the core's
  C code does, so shuffles and dropout masks come out bit for bit the same.
* :class:`ReferenceMLP` is a small dense network trained by these functions,
  step for step as :class:`hpframe._core.network.Network` trains.

Conventions (the same as the core, and as PyTorch): a dense layer is
``y = x @ W + b`` with ``W`` of shape ``(n_in, n_out)``; losses are means (cross
entropy over rows, the others over all elements); both classification losses
take logits.
"""
import math

import numpy as np
from scipy.special import erf

__all__ = [
    "ACTIVATIONS", "LOSSES",
    "dense_forward", "dense_backward",
    "activation", "activation_grad", "softmax", "loss",
    "dropout", "permutation",
    "sgd_step", "momentum_step", "adam_step", "clip_by_global_norm",
    "CoreRandom", "ReferenceMLP",
]

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "identity")
LOSSES = ("cross_entropy", "binary_cross_entropy", "mse", "mae", "huber")

# PyTorch's defaults, as in the core.
LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
HUBER_DELTA = 1.0


def _float(a):
    """``a`` as an array; float32/float64 kept, integers and bools made float64."""
    a = np.asarray(a)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


# ---- dense layer ------------------------------------------------------------

def dense_forward(x, weight, bias):
    r"""Dense layer forward pass.

    .. math:: Y = X W + b

    Parameters
    ----------
    x : array_like, shape (n, n_in)
    weight : array_like, shape (n_in, n_out)
    bias : array_like, shape (n_out,)

    Returns
    -------
    ndarray, shape (n, n_out)
    """
    return _float(x) @ _float(weight) + _float(bias)


def dense_backward(x, weight, grad_out):
    r"""Dense layer backward pass.

    With :math:`G = \partial L / \partial Y`:

    .. math::

        \frac{\partial L}{\partial X} = G W^\top, \qquad
        \frac{\partial L}{\partial W} = X^\top G, \qquad
        \frac{\partial L}{\partial b} = \sum_i G_{i,:}

    Parameters
    ----------
    x : array_like, shape (n, n_in)
    weight : array_like, shape (n_in, n_out)
    grad_out : array_like, shape (n, n_out)

    Returns
    -------
    grad_x, grad_weight, grad_bias : ndarray
        Shapes ``(n, n_in)``, ``(n_in, n_out)`` and ``(n_out,)``.
    """
    x, weight, grad_out = _float(x), _float(weight), _float(grad_out)
    return grad_out @ weight.T, x.T @ grad_out, grad_out.sum(axis=0)


# ---- activations ------------------------------------------------------------

def _sigmoid(z):
    # exp(-|z|) never overflows; the two branches are the same function.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


# Python floats (not numpy scalars), so float32 arrays stay float32.
SQRT_2 = math.sqrt(2)
SQRT_2PI = math.sqrt(2 * math.pi)


def _gelu(z):
    return 0.5 * z * (1 + erf(z / SQRT_2))


def _gelu_grad(z):
    # Phi(z) + z * phi(z): the normal cdf plus z times the normal pdf
    cdf = 0.5 * (1 + erf(z / SQRT_2))
    pdf = np.exp(-0.5 * z * z) / SQRT_2PI
    return cdf + z * pdf


# name -> f(z)
_FORWARD = {
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
    "elu": lambda z: np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0))),
    "gelu": _gelu,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "identity": lambda z: z,
}

# name -> f'(z), given z and a = f(z) (whichever is simpler)
_DERIVATIVE = {
    "relu": lambda z, a: (z > 0).astype(z.dtype),
    "leaky_relu": lambda z, a: np.where(z > 0, 1, LEAKY_SLOPE).astype(z.dtype),
    "elu": lambda z, a: np.where(z > 0, 1, a + ELU_ALPHA).astype(z.dtype),
    "gelu": lambda z, a: _gelu_grad(z),
    "sigmoid": lambda z, a: a * (1 - a),
    "tanh": lambda z, a: 1 - a * a,
    "identity": lambda z, a: np.ones_like(z),
}


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
    name : str
        One of :data:`ACTIVATIONS`.

    Returns
    -------
    ndarray, the shape of ``z``
    """
    return _FORWARD[name](_float(z))


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
        The activation's input.
    grad_out : array_like, the shape of ``z``
        :math:`g = \partial L / \partial f(z)`.
    name : str
        One of :data:`ACTIVATIONS`.

    Returns
    -------
    ndarray, the shape of ``z``
    """
    z, grad_out = _float(z), _float(grad_out)
    return grad_out * _DERIVATIVE[name](z, _FORWARD[name](z))


def softmax(z):
    r"""Softmax of each row.

    .. math:: \mathrm{softmax}(z)_j = \frac{e^{z_j - \max_i z_i}}{\sum_k e^{z_k - \max_i z_i}}

    Subtracting the row maximum changes nothing mathematically and keeps ``exp``
    from overflowing.

    Parameters
    ----------
    z : array_like, shape (n, k)

    Returns
    -------
    ndarray, shape (n, k)
    """
    z = _float(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


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

    With row weights :math:`w` the means are weighted: :math:`L = \sum_i w_i
    \ell_i / \sum_i w_i` (cross entropy; the other losses also divide by the
    :math:`k` elements of a row), and row :math:`i`'s gradient is multiplied by
    :math:`w_i / \sum_j w_j` instead of divided by :math:`n`.

    Parameters
    ----------
    output : array_like
        Logits ``(n, k)`` for cross entropy; logits for binary cross entropy;
        predictions for mse, mae and huber.
    target : array_like
        Integer labels ``(n,)`` for cross entropy, else the shape of ``output``
        (0/1 for binary cross entropy).
    name : str
        One of :data:`LOSSES`.
    weight : array_like of shape (n,), optional
        Row weights >= 0 (``sample_weight``); None: all 1.

    Returns
    -------
    mean_loss : float
    grad : ndarray, the shape of ``output``
    """
    z = _float(output)
    if weight is not None:
        w = np.asarray(weight, dtype=np.float64)
        plain, grad = loss(output, target, name)          # per-row terms, unweighted
        n = z.shape[0]
        if name == "cross_entropy":
            labels = np.asarray(target)
            shifted = z - z.max(axis=1, keepdims=True)
            per_row = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(n), labels]
        else:
            per_row = np.array([loss(z[i:i + 1], np.asarray(target)[i:i + 1], name)[0]
                                for i in range(n)])       # each row's mean over its k
        total = w.sum()
        mean = float((w * per_row).sum() / total)
        scale = (w * n / total).reshape((n,) + (1,) * (z.ndim - 1))
        return mean, (grad * scale).astype(grad.dtype)
    if name == "cross_entropy":
        labels = np.asarray(target)
        n = z.shape[0]
        rows = np.arange(n)
        shifted = z - z.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        per_row = log_sum_exp - shifted[rows, labels]
        grad = softmax(z)
        grad[rows, labels] -= 1
        return float(per_row.mean(dtype=np.float64)), grad / n
    t = np.asarray(target).astype(z.dtype)
    d = z - t
    if name == "binary_cross_entropy":
        per_element = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        grad = _sigmoid(z) - t
    elif name == "mse":
        per_element, grad = d * d, 2 * d
    elif name == "mae":
        per_element, grad = np.abs(d), np.sign(d)
    elif name == "huber":
        small = np.abs(d) <= HUBER_DELTA
        per_element = np.where(small, 0.5 * d * d, np.abs(d) - 0.5 * HUBER_DELTA)
        grad = np.clip(d, -HUBER_DELTA, HUBER_DELTA)
    else:
        raise ValueError(f"name must be one of {LOSSES}, got {name!r}")
    return float(per_element.mean(dtype=np.float64)), grad / d.size


# ---- randomness: the core's bit streams, replayed ----------------------------

class CoreRandom:
    """A ``numpy.random.PCG64`` read exactly the way hpframe's core reads it.

    The core draws from numpy's C bit generator.  Reproducing it in Python
    takes three facts:

    * a mask's 32-bit draws are the *low* then the *high* half of fresh 64-bit
      draws, each mask starting a new word (an odd-sized mask leaves one half unused);
    * a dropout mask element is 0 when its 32-bit draw ``u`` satisfies
      ``u < int(p * 2**32)``, else ``1 / (1 - p)``;
    * a random integer in ``[0, n)`` is Lemire's: with ``x`` a 64-bit draw,
      ``m = x * n`` (128 bits); reject and redraw while the low 64 bits of
      ``m`` are below ``2**64 mod n``; the answer is the high 64 bits.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        As for ``numpy.random.PCG64``.
    """

    def __init__(self, seed):
        self.bit_generator = np.random.PCG64(seed)

    def uint64(self):
        """One 64-bit draw, as a Python int."""
        return int(self.bit_generator.random_raw())

    def uint32(self, size):
        """``size`` 32-bit draws (uint64 array) for one mask: the low half, then the
        high half, of fresh 64-bit draws; an odd ``size`` leaves the last high half unused."""
        raw = self.bit_generator.random_raw((size + 1) // 2)
        halves = np.empty(2 * len(raw), dtype=np.uint64)
        halves[0::2] = raw & 0xFFFFFFFF
        halves[1::2] = raw >> np.uint64(32)
        return halves[:size]

    def below(self, n):
        """A uniform integer in ``[0, n)`` (Lemire's multiply-and-reject)."""
        m = self.uint64() * n
        if m % 2**64 < n:
            reject = (2**64 - n) % n
            while m % 2**64 < reject:
                m = self.uint64() * n
        return m >> 64

    def shuffle(self, index):
        """Fisher-Yates, from the last element down, in place."""
        for i in range(len(index) - 1, 0, -1):
            j = self.below(i + 1)
            index[i], index[j] = index[j], index[i]

    def dropout_mask(self, shape, p, dtype):
        """An inverted-dropout mask: 0 with probability ``p``, else ``1 / (1 - p)``."""
        u = self.uint32(int(np.prod(shape))).reshape(shape)
        scale = np.asarray(1.0 / (1.0 - p), dtype=dtype)
        return np.where(u < int(p * 2**32), 0, scale).astype(dtype)


def dropout(x, p, seed):
    r"""Inverted dropout with a mask drawn from ``numpy.random.PCG64(seed)``.

    .. math::

        m_i = \begin{cases} 0 & \text{with probability } p \\
                            1/(1-p) & \text{otherwise} \end{cases}, \qquad
        \text{out} = x \odot m, \qquad \mathbb{E}[\text{out}] = x

    Parameters
    ----------
    x : array_like
    p : float
        Drop probability in ``[0, 1)``.
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    out, mask : ndarray, the shape of ``x``
    """
    x = _float(x)
    mask = CoreRandom(seed).dropout_mask(x.shape, p, x.dtype)
    return x * mask, mask


def permutation(n, seed):
    """A permutation of ``0..n-1``: Fisher-Yates driven by ``numpy.random.PCG64(seed)``.

    Parameters
    ----------
    n : int
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    ndarray of intp, shape (n,)
    """
    index = np.arange(n, dtype=np.intp)
    CoreRandom(seed).shuffle(index)
    return index


# ---- optimizers (functional: inputs are never modified) ----------------------

def sgd_step(w, g, lr, weight_decay=0.0):
    r"""One step of stochastic gradient descent with L2 weight decay.

    .. math:: w \leftarrow w - \eta\,(g + \lambda w)

    Parameters
    ----------
    w, g : array_like
        Parameters and their gradient, one shape.
    lr : float
        Learning rate :math:`\eta`.
    weight_decay : float, default 0
        :math:`\lambda`.

    Returns
    -------
    ndarray
        The updated parameters.
    """
    w, g = _float(w), _float(g)
    return w - lr * (g + weight_decay * w)


def momentum_step(w, g, velocity, lr, momentum=0.9, weight_decay=0.0, nesterov=False):
    r"""One step of SGD with (Nesterov) momentum, as PyTorch's ``SGD``.

    .. math::

        g' &= g + \lambda w \\
        v &\leftarrow \mu v + g' \\
        w &\leftarrow w - \eta v \quad\text{or, Nesterov,}\quad w - \eta\,(g' + \mu v)

    Parameters
    ----------
    w, g, velocity : array_like
        Parameters, gradient and velocity, one shape.
    lr : float
    momentum : float, default 0.9
        :math:`\mu`.
    weight_decay : float, default 0
    nesterov : bool, default False

    Returns
    -------
    w, velocity : ndarray
    """
    w, g, velocity = _float(w), _float(g), _float(velocity)
    g = g + weight_decay * w
    velocity = momentum * velocity + g
    step = g + momentum * velocity if nesterov else velocity
    return w - lr * step, velocity


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

    The scalars (the shrink factor :math:`1 - \eta\lambda`, the step size
    :math:`\eta / (1 - \beta_1^t)` and :math:`1 / \sqrt{1 - \beta_2^t}`) are
    computed once in double precision; :math:`\sqrt{v}` is then *multiplied* by
    the last one. PyTorch's ``Adam`` divides by :math:`\sqrt{1 - \beta_2^t}`
    instead, which can differ in the last bit; the compiled kernel multiplies
    (one division per parameter is the update's slowest part), and this twin
    computes exactly what the kernel computes.

    Parameters
    ----------
    w, g, m, v : array_like
        Parameters, gradient, first and second moment, one shape.
    step : int
        :math:`t`, counting from 1.
    lr, beta_1, beta_2, epsilon, weight_decay : float
    decoupled : bool, default False
        True for AdamW's decoupled weight decay.

    Returns
    -------
    w, m, v : ndarray
    """
    w, g, m, v = _float(w), _float(g), _float(m), _float(v)
    if decoupled:
        w = (1 - lr * weight_decay) * w          # as PyTorch's AdamW: w.mul_(1 - lr * wd)
    else:
        g = g + weight_decay * w
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    step_size = lr / (1 - beta_1 ** step)
    inv_bc2_sqrt = 1 / math.sqrt(1 - beta_2 ** step)
    return w - step_size * m / (np.sqrt(v) * inv_bc2_sqrt + epsilon), m, v


# ---- a whole network ----------------------------------------------------------

def clip_by_global_norm(grads, clip_norm):
    r"""The gradients scaled so that their global L2 norm is at most ``clip_norm``.

    As PyTorch's ``clip_grad_norm_``:

    .. math::

        n = \sqrt{\textstyle\sum_k \sum_i g_{k,i}^2}, \qquad
        c = \frac{\text{clip\_norm}}{n + 10^{-6}}, \qquad
        g_k \leftarrow c \, g_k \ \text{ if } c < 1

    The norm is added up in float64 whatever the gradients' dtype; ``c`` is
    rounded to their dtype before multiplying.

    Parameters
    ----------
    grads : list of numpy.ndarray
        Every parameter's gradient (weights and biases).
    clip_norm : float
        The largest norm, > 0.

    Returns
    -------
    list of numpy.ndarray
        The same arrays when no clipping is needed, else scaled copies.
    """
    squares = sum(float(np.sum(np.square(g.astype(np.float64)))) for g in grads)
    c = clip_norm / (np.sqrt(squares) + 1e-6)
    if not c < 1:
        return list(grads)
    return [g * g.dtype.type(c) for g in grads]


class ReferenceMLP:
    """A dense network trained with the functions above, step for step as the core.

    Start it from the core's weights (``[net.weight(l).copy() for l in ...]``)
    and the core's seed, and after every :meth:`train_epoch` its parameters
    equal those of :meth:`hpframe._core.network.Network.train_epoch` up to
    rounding.  Like the core it

    * spawns one stream per layer from ``SeedSequence(seed)``: child 0 shuffles
      (a fresh Fisher-Yates of ``0..n-1`` every epoch), child 1 + l draws
      hidden layer l's dropout masks;
    * draws each hidden layer's mask during the forward pass, layer by layer,
      each mask in row-major order;
    * updates weights with weight decay and biases without;
    * with ``clip_norm``, first scales every gradient as :func:`clip_by_global_norm`.

    Parameters
    ----------
    weights, biases : list of array_like
        ``weights[l]`` has shape ``(n_in, n_out)``, ``biases[l]`` ``(n_out,)``; copied.
    activation : str
        Hidden layers' activation (the output layer has none: it returns logits).
    loss : str
    optimizer : {"sgd", "momentum", "nesterov", "adam", "adamw"}
    dropout, momentum, beta_1, beta_2, epsilon, weight_decay : float
    seed : int or numpy.random.SeedSequence
        As the core: child 0 of its SeedSequence shuffles, child 1 + l draws
        hidden layer l's dropout masks.
    clip_norm : float or None, default None
        Clip the gradients by their global norm before each step (None: never).
    """

    def __init__(self, weights, biases, activation="relu", loss="cross_entropy",
                 optimizer="adam", dropout=0.0, momentum=0.9, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, weight_decay=0.0, seed=0, clip_norm=None):
        self.weights = [np.array(w) for w in weights]
        self.biases = [np.array(b) for b in biases]
        self.activation, self.loss, self.optimizer = activation, loss, optimizer
        self.dropout = dropout
        self.momentum, self.beta_1, self.beta_2, self.epsilon = momentum, beta_1, beta_2, epsilon
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.step = 0
        params = self.weights + self.biases
        self.state_1 = [np.zeros_like(p) for p in params]     # velocity, or Adam's m
        self.state_2 = [np.zeros_like(p) for p in params]     # Adam's v
        if not isinstance(seed, np.random.SeedSequence):
            seed = np.random.SeedSequence(seed)
        seeds = seed.spawn(len(self.weights))
        self.shuffle_random = CoreRandom(seeds[0])
        self.dropout_randoms = [CoreRandom(s) for s in seeds[1:]]

    def forward(self, x, training=False):
        """Output-layer values (logits) for ``x``; with ``training``, apply dropout
        and keep what :meth:`backward` needs."""
        h = _float(x)
        self._cache = []           # per layer: (its input, z, a, mask)
        last = len(self.weights) - 1
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = dense_forward(h, w, b)
            if l == last:
                self._cache.append((h, z, z, None))
                return z
            a = activation(z, self.activation)
            mask = None
            if training and self.dropout > 0:
                mask = self.dropout_randoms[l].dropout_mask(a.shape, self.dropout, a.dtype)
            self._cache.append((h, z, a, mask))
            h = a if mask is None else a * mask

    def backward(self, grad_output):
        """Gradients ``(grad_weights, grad_biases)`` from dL/d(output), after :meth:`forward`."""
        grad_w, grad_b = [None] * len(self.weights), [None] * len(self.weights)
        d = grad_output
        for l in range(len(self.weights) - 1, -1, -1):
            h, _, _, _ = self._cache[l]
            grad_h, grad_w[l], grad_b[l] = dense_backward(h, self.weights[l], d)
            if l > 0:
                _, z, a, mask = self._cache[l - 1]
                if mask is not None:
                    grad_h = grad_h * mask
                d = activation_grad(z, grad_h, self.activation)
        return grad_w, grad_b

    def gradients(self, x, y, training=True, weight=None):
        """Mean loss on ``(x, y)`` as one batch (weighted by ``weight``, one per row),
        and its gradients ``(grad_w, grad_b)``."""
        mean_loss, grad_output = loss(self.forward(x, training), y, self.loss, weight)
        return mean_loss, self.backward(grad_output)

    def update(self, grad_w, grad_b, lr):
        """One optimizer step: weights with weight decay, biases without."""
        self.step += 1
        params = self.weights + self.biases
        grads = grad_w + grad_b
        if self.clip_norm is not None:
            grads = clip_by_global_norm(grads, self.clip_norm)
        n_weights = len(self.weights)
        for i, (p, g) in enumerate(zip(params, grads)):
            wd = self.weight_decay if i < n_weights else 0.0
            if self.optimizer == "sgd":
                new = sgd_step(p, g, lr, wd)
            elif self.optimizer in ("momentum", "nesterov"):
                new, self.state_1[i] = momentum_step(p, g, self.state_1[i], lr, self.momentum,
                                                     wd, self.optimizer == "nesterov")
            else:
                new, self.state_1[i], self.state_2[i] = adam_step(
                    p, g, self.state_1[i], self.state_2[i], self.step, lr, self.beta_1,
                    self.beta_2, self.epsilon, wd, self.optimizer == "adamw")
            params[i][...] = new

    def train_epoch(self, x, y, batch_size, lr, shuffle=True):
        """One epoch of minibatch training; return the mean training loss.

        ``y`` holds integer labels for cross entropy, else targets of the output's shape.
        """
        n = len(x)
        index = np.arange(n)
        if shuffle:
            self.shuffle_random.shuffle(index)
        total, count = 0.0, 0
        for start in range(0, n, batch_size):
            rows = index[start:start + batch_size]
            mean_loss, (grad_w, grad_b) = self.gradients(x[rows], y[rows])
            size = len(rows) if self.loss == "cross_entropy" else np.asarray(y[rows]).size
            total += mean_loss * size
            count += size
            self.update(grad_w, grad_b, lr)
        return total / count

    def predict(self, x):
        """Output-layer values (logits) without dropout."""
        return self.forward(x, training=False)
