"""The core's kernels, one by one, through :mod:`hpframe.ops`.

Oracles: the NumPy twins in :mod:`hpframe.reference` (both dtypes; C, Fortran
and strided inputs), 4th-order central finite differences (float64), optimizer
updates computed by hand, binomial statistics for dropout, and values worked
out on paper for extreme inputs.
"""
import math
import sys

import numpy as np
import pytest

from hpframe import ops
from hpframe import reference as ref

from helpers import numerical_derivative

DTYPES = [np.float32, np.float64]
LAYOUTS = ["C", "F", "strided"]
ACTIVATIONS = ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "identity"]
LOSSES = ["cross_entropy", "binary_cross_entropy", "mse", "mae", "huber"]

# kernel vs NumPy twin, per dtype
TOL = {
    np.float32: dict(rtol=1e-5, atol=1e-6),
    np.float64: dict(rtol=1e-12, atol=1e-14),
}


def assert_close(actual, expected, dtype):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype == dtype
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, **TOL[dtype])


def in_layout(a, layout):
    """The values of ``a`` in C order, Fortran order, or as a non-contiguous view."""
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    fill = np.nan if a.dtype.kind == "f" else 0
    big = np.full(tuple(2 * s + 1 for s in a.shape), fill, dtype=a.dtype)
    view = big[tuple(slice(1, None, 2) for _ in a.shape)]
    view[...] = a
    assert a.ndim == 0 or not view.flags.c_contiguous
    return view


def away_from(values, points, margin):
    """Nudge values so that none lies within ``margin`` of a point (kinks)."""
    values = values.copy()
    for p in points:
        near = np.abs(values - p) < margin
        values[near] = p + np.where(values[near] >= p, margin, -margin)
    return values


# ---- kernels equal their NumPy twins ---------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_dense_matches_reference(dtype, layout):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5)).astype(dtype)
    w = rng.normal(size=(5, 3)).astype(dtype)
    b = rng.normal(size=3).astype(dtype)
    g = rng.normal(size=(7, 3)).astype(dtype)
    xl, wl, bl, gl = (in_layout(a, layout) for a in (x, w, b, g))
    assert_close(ops.dense_forward(xl, wl, bl), ref.dense_forward(x, w, b), dtype)
    for got, expected in zip(ops.dense_backward(xl, wl, gl), ref.dense_backward(x, w, g)):
        assert_close(got, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_empty_dimensions(dtype):
    # BLAS refuses zero-sized leading dimensions; ops must handle them itself.
    rng = np.random.default_rng(1)
    b = rng.normal(size=3).astype(dtype)
    out = ops.dense_forward(np.zeros((0, 4), dtype), np.ones((4, 3), dtype), b)
    assert out.shape == (0, 3) and out.dtype == dtype
    out = ops.dense_forward(np.zeros((2, 0), dtype), np.zeros((0, 3), dtype), b)
    assert_close(out, np.tile(b, (2, 1)), dtype)
    gx, gw, gb = ops.dense_backward(np.zeros((0, 4), dtype), np.ones((4, 3), dtype),
                                    np.zeros((0, 3), dtype))
    assert gx.shape == (0, 4)
    assert_close(gw, np.zeros((4, 3), dtype), dtype)
    assert_close(gb, np.zeros(3, dtype), dtype)


def activation_inputs(dtype):
    rng = np.random.default_rng(2)
    z = rng.normal(scale=3, size=(6, 7))
    z.flat[:6] = [-40.0, -1e-3, 0.0, 1e-3, 40.0, -5.0]
    return z.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_reference(name, layout, dtype):
    z = activation_inputs(dtype)
    g = np.random.default_rng(3).normal(size=z.shape).astype(dtype)
    assert_close(ops.activation(in_layout(z, layout), name), ref.activation(z, name), dtype)
    assert_close(ops.activation_grad(in_layout(z, layout), in_layout(g, layout), name),
                 ref.activation_grad(z, g, name), dtype)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_passes_nan_and_inf_on_as_its_twin_does(name):
    # NaN in, NaN out (np.maximum, PyTorch): an activation that turned NaN into 0
    # would hide a diverged layer from the loss. inf goes where the twin sends it.
    z = np.array([np.nan, np.inf, -np.inf, 1.0])
    with np.errstate(invalid="ignore", over="ignore"):
        np.testing.assert_allclose(ops.activation(z, name), ref.activation(z, name),
                                   rtol=1e-14)


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
def test_activation_keeps_any_shape(shape):
    z = np.random.default_rng(4).normal(size=shape)
    assert ops.activation(z, "tanh").shape == shape
    np.testing.assert_allclose(ops.activation(z, "tanh"), np.tanh(z), rtol=1e-15)
    assert ops.activation_grad(z, np.ones(shape), "tanh").shape == shape


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_matches_reference(layout, dtype):
    z = activation_inputs(dtype)
    got = ops.softmax(in_layout(z, layout))
    assert_close(got, ref.softmax(z), dtype)
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-6 if dtype == np.float32 else 1e-14)


def loss_inputs(name, dtype, seed=5, shape=(6, 4)):
    """Outputs and targets for a loss; elementwise differences kept off the kinks."""
    rng = np.random.default_rng(seed)
    output = rng.normal(scale=2, size=shape)
    if name == "cross_entropy":
        target = rng.integers(0, shape[1], size=shape[0])
    elif name == "binary_cross_entropy":
        target = (rng.random(shape) < 0.5).astype(float)
    else:
        d = away_from(rng.normal(scale=1.5, size=shape), [-1.0, 0.0, 1.0], 0.05)
        target = output - d
    target = target if name == "cross_entropy" else target.astype(dtype)
    return output.astype(dtype), target


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", LOSSES)
def test_loss_matches_reference(name, layout, dtype):
    output, target = loss_inputs(name, dtype)
    mean, grad = ops.loss(in_layout(output, layout), in_layout(target, layout), name)
    ref_mean, ref_grad = ref.loss(output, target, name)
    assert isinstance(mean, float)
    assert mean == pytest.approx(ref_mean, rel=TOL[dtype]["rtol"])
    assert_close(grad, ref_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_optimizer_matches_reference(optimizer, layout, dtype):
    rng = np.random.default_rng(6)
    w, g, s1 = (rng.normal(size=(3, 4)).astype(dtype) for _ in range(3))
    s2 = rng.random(size=(3, 4)).astype(dtype)
    wl, gl, s1l, s2l = (in_layout(a, layout) for a in (w, g, s1, s2))
    if optimizer == "sgd":
        got, expected = [ops.sgd_step(wl, gl, 0.1, 0.01)], [ref.sgd_step(w, g, 0.1, 0.01)]
    elif optimizer in ("momentum", "nesterov"):
        nesterov = optimizer == "nesterov"
        got = ops.momentum_step(wl, gl, s1l, 0.1, 0.8, 0.01, nesterov)
        expected = ref.momentum_step(w, g, s1, 0.1, 0.8, 0.01, nesterov)
    else:
        decoupled = optimizer == "adamw"
        got = ops.adam_step(wl, gl, s1l, s2l, 3, 0.01, 0.8, 0.99, 1e-6, 0.05, decoupled)
        expected = ref.adam_step(w, g, s1, s2, 3, 0.01, 0.8, 0.99, 1e-6, 0.05, decoupled)
    for a, b in zip(got, expected):
        assert_close(a, b, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_optimizer_steps_equal_reference_bit_for_bit(optimizer, dtype):
    # The C loop and the whole-array NumPy twin round the same operations in the same
    # order, so a run of steps agrees to the last bit - for Adam too, whose bias
    # corrections change with every step (t up to 300 makes 1 - b2**t move a lot).
    rng = np.random.default_rng(16)
    w = rng.normal(size=1000).astype(dtype)
    ours, twins = (w, np.zeros_like(w), np.zeros_like(w)), (w, np.zeros_like(w),
                                                            np.zeros_like(w))
    for t in range(1, 301):
        g = rng.normal(scale=10.0 ** rng.uniform(-6, 1), size=w.size).astype(dtype)
        lr = float(10.0 ** rng.uniform(-4, -1))          # Python floats, as a user passes
        wd = float(rng.choice([0.0, 10.0 ** rng.uniform(-4, -1)]))
        if optimizer == "sgd":
            ours = (ops.sgd_step(ours[0], g, lr, wd),) + ours[1:]
            twins = (ref.sgd_step(twins[0], g, lr, wd),) + twins[1:]
        elif optimizer in ("momentum", "nesterov"):
            nesterov = optimizer == "nesterov"
            ours = ops.momentum_step(ours[0], g, ours[1], lr, 0.9, wd, nesterov) + ours[2:]
            twins = ref.momentum_step(twins[0], g, twins[1], lr, 0.9, wd, nesterov) + twins[2:]
        else:
            args = (t, lr, 0.9, 0.999, 1e-8, wd, optimizer == "adamw")
            ours = ops.adam_step(ours[0], g, ours[1], ours[2], *args)
            twins = ref.adam_step(twins[0], g, twins[1], twins[2], *args)
        for a, b in zip(ours, twins):
            assert a.dtype == b.dtype == dtype
            np.testing.assert_array_equal(a, b, err_msg=f"step {t}")
    assert not np.array_equal(ours[0], w)                 # it did move


def test_result_dtype_follows_inputs():
    ints = np.arange(6).reshape(2, 3)
    assert ops.activation(ints, "relu").dtype == np.float64
    assert ops.activation(ints.astype(np.float32), "relu").dtype == np.float32
    assert ops.activation([[1, 2]], "relu").dtype == np.float64
    w32 = np.ones((3, 2), np.float32)
    assert ops.dense_forward(ints.astype(np.float32), w32, np.zeros(2, np.float32)).dtype \
        == np.float32
    # integers adopt the floats' dtype; mixed float widths compute in float64
    assert ops.dense_forward(ints, w32, np.zeros(2, np.float32)).dtype == np.float32
    assert ops.dense_forward(ints.astype(np.float32), w32, np.zeros(2)).dtype == np.float64
    _, grad = ops.loss(np.zeros((2, 3), np.float32), np.array([0, 2]), "cross_entropy")
    assert grad.dtype == np.float32
    _, grad = ops.loss(np.zeros(3, np.float32), np.array([True, False, True]),
                       "binary_cross_entropy")
    assert grad.dtype == np.float32


def test_optimizers_never_modify_their_inputs():
    rng = np.random.default_rng(7)
    w, g, v = rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)
    m = rng.normal(size=4)
    copies = [a.copy() for a in (w, g, m, v)]
    new_w = ops.sgd_step(w, g, 0.1, 0.1)
    new_w2, new_v = ops.momentum_step(w, g, v, 0.1, nesterov=True)
    new_w3, new_m, new_v3 = ops.adam_step(w, g, m, np.abs(v), 1, weight_decay=0.1)
    for a, c in zip((w, g, m, v), copies):
        np.testing.assert_array_equal(a, c)
    assert not any(np.shares_memory(new, old) for new in (new_w, new_w2, new_v, new_w3, new_m,
                                                           new_v3) for old in (w, g, m, v))


# ---- analytic gradients equal finite differences (float64) ----------------------

@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_grad_equals_finite_differences(name):
    z = away_from(activation_inputs(np.float64), [0.0], 1e-2)
    g = np.random.default_rng(8).normal(size=z.shape)
    # elementwise: the derivative of f at every z at once
    fd = numerical_derivative(lambda t: ops.activation(t, name), z, 1e-5)
    np.testing.assert_allclose(ops.activation_grad(z, g, name), g * fd, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name", LOSSES)
def test_loss_grad_equals_finite_differences(name):
    output, target = loss_inputs(name, np.float64)
    _, grad = ops.loss(output, target, name)
    fd = np.empty_like(output)
    for i in np.ndindex(output.shape):
        def f(t):
            shifted = output.copy()
            shifted[i] = t
            return ops.loss(shifted, target, name)[0]
        fd[i] = numerical_derivative(f, output[i], 1e-4)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-11)


def test_softmax_jacobian_equals_finite_differences():
    z = np.random.default_rng(9).normal(size=(2, 4))
    s = ops.softmax(z)
    for r in range(2):
        jacobian = np.diag(s[r]) - np.outer(s[r], s[r])    # d s_j / d z_k
        for k in range(4):
            def f(t, r=r, k=k):
                shifted = z.copy()
                shifted[r, k] = t
                return ops.softmax(shifted)[r]
            np.testing.assert_allclose(jacobian[:, k], numerical_derivative(f, z[r, k], 1e-4),
                                       rtol=1e-8, atol=1e-12)


# ---- optimizers: the first three updates, computed by hand -----------------------

GRADS = [0.5, -0.25, 0.125]      # the gradient seen at steps 1, 2, 3 (given, not computed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_three_steps_by_hand(dtype):
    # w <- w - lr * (g + wd * w), lr = 0.1, wd = 0.01, w0 = 1:
    #   1 - 0.1 * (0.5 + 0.01)            = 0.949
    #   0.949 - 0.1 * (-0.25 + 0.00949)    = 0.973051
    #   0.973051 - 0.1 * (0.125 + 0.00973051) = 0.959577949
    expected = [0.949, 0.973051, 0.959577949]
    w = np.array([1.0], dtype)
    for g, e in zip(GRADS, expected):
        w = ops.sgd_step(w, np.array([g], dtype), 0.1, weight_decay=0.01)
        assert w.dtype == dtype
        assert w[0] == pytest.approx(e, rel=TOL[dtype]["rtol"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_momentum_three_steps_by_hand(dtype):
    # g' = g + 0.01 w;  v <- 0.9 v + g';  w <- w - 0.1 v
    #   step 1: g' = 0.51,        v = 0.51,       w = 0.949
    #   step 2: g' = -0.24051,    v = 0.21849,    w = 0.927151
    #   step 3: g' = 0.13427151,  v = 0.33091251, w = 0.894059749
    expected = [(0.949, 0.51), (0.927151, 0.21849), (0.894059749, 0.33091251)]
    w, v = np.array([1.0], dtype), np.array([0.0], dtype)
    for g, (ew, ev) in zip(GRADS, expected):
        w, v = ops.momentum_step(w, np.array([g], dtype), v, 0.1, momentum=0.9,
                                 weight_decay=0.01)
        assert (w[0], v[0]) == pytest.approx((ew, ev), rel=TOL[dtype]["rtol"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_nesterov_three_steps_by_hand(dtype):
    # g' = g + 0.01 w;  v <- 0.9 v + g';  w <- w - 0.1 (g' + 0.9 v)
    #   step 1: v = 0.51,          w = 1 - 0.1 * (0.51 + 0.459)            = 0.9031
    #   step 2: g' = -0.240969,    v = 0.218031,
    #           w = 0.9031 - 0.1 * (-0.240969 + 0.1962279)                  = 0.90757411
    #   step 3: g' = 0.1340757411, v = 0.3303036411,
    #           w = 0.90757411 - 0.1 * (0.1340757411 + 0.29727327699)      = 0.864439208191
    expected = [(0.9031, 0.51), (0.90757411, 0.218031), (0.864439208191, 0.3303036411)]
    w, v = np.array([1.0], dtype), np.array([0.0], dtype)
    for g, (ew, ev) in zip(GRADS, expected):
        w, v = ops.momentum_step(w, np.array([g], dtype), v, 0.1, momentum=0.9,
                                 weight_decay=0.01, nesterov=True)
        assert (w[0], v[0]) == pytest.approx((ew, ev), rel=TOL[dtype]["rtol"])


def adam_by_hand(w, grads, lr, b1, b2, eps, wd, decoupled):
    """Adam / AdamW on one scalar, written out with Python floats."""
    m = v = 0.0
    history = []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w - lr * wd * w
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        w = w - lr * m_hat / (math.sqrt(v_hat) + eps)
        history.append((w, m, v))
    return history


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decoupled", [False, True], ids=["adam", "adamw"])
def test_adam_three_steps_by_hand(decoupled, dtype):
    # eps = 1e-3 so that it visibly matters; w0 = 1, lr = 0.1, wd = 0.1.
    lr, b1, b2, eps, wd = 0.1, 0.9, 0.999, 1e-3, 0.1
    expected = adam_by_hand(1.0, GRADS, lr, b1, b2, eps, wd, decoupled)
    # Step 1 checked by a hand with pencil too: bias correction makes
    # m_hat = g', sqrt(v_hat) = |g'|, so w1 = w0 - lr * g' / (|g'| + eps).
    g1 = 0.5 if decoupled else 0.5 + wd * 1.0
    w0 = 1.0 - lr * wd if decoupled else 1.0
    assert expected[0][0] == pytest.approx(w0 - lr * g1 / (g1 + eps), rel=1e-15)
    w, m, v = (np.array([x], dtype) for x in (1.0, 0.0, 0.0))
    for t, (g, e) in enumerate(zip(GRADS, expected), start=1):
        w, m, v = ops.adam_step(w, np.array([g], dtype), m, v, t, lr, b1, b2, eps, wd,
                                decoupled)
        assert (w[0], m[0], v[0]) == pytest.approx(e, rel=10 * TOL[dtype]["rtol"])


def test_adamw_decay_is_decoupled_from_the_gradient():
    # With a zero gradient Adam's step is 0/(0 + eps) = 0: AdamW only shrinks w by
    # (1 - lr*wd) per step, while Adam's L2 term g = wd*w is normalised, moving w
    # by about lr per step whatever wd is.
    w = np.array([2.0, -4.0])
    adamw = adam = w
    m = v = m2 = v2 = np.zeros(2)
    for t in (1, 2, 3):
        adamw, m, v = ops.adam_step(adamw, np.zeros(2), m, v, t, lr=0.1, weight_decay=0.5,
                                    decoupled=True)
        np.testing.assert_allclose(adamw, w * 0.95 ** t, rtol=1e-15)
        adam, m2, v2 = ops.adam_step(adam, np.zeros(2), m2, v2, t, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(adam, w - 0.3 * np.sign(w), atol=1e-3)


# ---- dropout and permutation ------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_rate_and_expectation(p, dtype):
    n = 200_000
    x = np.full(n, 3.0, dtype)
    out, mask = ops.dropout(x, p, seed=11)
    assert out.dtype == mask.dtype == dtype
    dropped = mask == 0
    # the drop count is Binomial(n, p): within 5 standard deviations
    assert abs(dropped.mean() - p) <= 5 * math.sqrt(p * (1 - p) / n)
    # kept elements are scaled by exactly 1/(1-p) (inverted dropout) ...
    scale = dtype(1 / (1 - p))
    assert np.all(mask[~dropped] == scale)
    assert np.all(out[~dropped] == x[~dropped] * scale) and np.all(out[dropped] == 0)
    # ... so the expectation is preserved: mean(mask) = 1 with sd sqrt(p/(1-p)/n)
    assert abs(mask.mean(dtype=np.float64) - 1) <= 5 * math.sqrt(p / (1 - p) / n)
    assert abs(out.mean(dtype=np.float64) - 3) <= 3 * 5 * math.sqrt(p / (1 - p) / n)


def test_dropout_seeding():
    x = np.random.default_rng(12).normal(size=(40, 25))
    out_a, mask_a = ops.dropout(x, 0.3, seed=5)
    out_b, mask_b = ops.dropout(x, 0.3, seed=5)
    np.testing.assert_array_equal(mask_a, mask_b)
    np.testing.assert_array_equal(out_a, out_b)
    _, mask_c = ops.dropout(x, 0.3, seed=6)
    assert np.mean(mask_a != mask_c) > 0.2            # two independent masks differ a lot
    _, mask_d = ops.dropout(x, 0.3, seed=np.random.SeedSequence(5))
    assert mask_d.shape == x.shape


def test_dropout_p_zero_is_identity():
    x = np.random.default_rng(13).normal(size=(3, 4))
    out, mask = ops.dropout(x, 0.0, seed=0)
    np.testing.assert_array_equal(mask, 1.0)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (9,), (4, 5), (2, 3, 5)])
def test_dropout_bit_identical_to_reference(shape, dtype):
    x = np.random.default_rng(14).normal(size=shape).astype(dtype)
    for seed, p in [(0, 0.5), (1, 0.25), (2**40, 0.9)]:
        out, mask = ops.dropout(in_layout(x, "F"), p, seed)
        ref_out, ref_mask = ref.dropout(x, p, seed)
        np.testing.assert_array_equal(mask, ref_mask)
        np.testing.assert_array_equal(out, ref_out)
        assert mask.dtype == ref_mask.dtype == dtype


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 257, 5000])
def test_permutation_is_a_reproducible_permutation(n):
    perm = ops.permutation(n, seed=3)
    assert perm.dtype == np.intp and perm.shape == (n,)
    np.testing.assert_array_equal(np.sort(perm), np.arange(n))
    np.testing.assert_array_equal(ops.permutation(n, seed=3), perm)
    np.testing.assert_array_equal(ref.permutation(n, seed=3), perm)
    if n >= 10:
        assert not np.array_equal(ops.permutation(n, seed=4), perm)
        assert not np.array_equal(perm, np.arange(n))


def test_permutation_is_uniform():
    # all 6 orders of 3 items, each with probability 1/6 over 6000 seeds
    counts = {}
    for seed in range(6000):
        key = tuple(ops.permutation(3, seed))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6
    sd = math.sqrt(6000 * (1 / 6) * (5 / 6))
    assert all(abs(c - 1000) <= 5 * sd for c in counts.values()), counts


def test_core_random_replays_numpy_32_bit_draws():
    # Each mask fill takes fresh 64-bit words and hands out the low half, then the
    # high half, of each; an odd fill leaves its last high half unused.
    stream = ref.CoreRandom(17)
    draws = [stream.uint32(k) for k in (3, 1, 0, 5, 2)]
    raw = np.random.PCG64(17).random_raw(7)
    lo, hi = raw & 0xFFFFFFFF, raw >> np.uint64(32)
    expected = [[lo[0], hi[0], lo[1]], [lo[2]], [], [lo[3], hi[3], lo[4], hi[4], lo[5]],
                [lo[6], hi[6]]]
    for got, want in zip(draws, expected):
        np.testing.assert_array_equal(got, np.array(want, dtype=np.uint64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masks_step_numpys_pcg64_as_numpy_does(dtype):
    # The core steps a numpy PCG64 itself (_pcg64.h, four chains) when the check
    # at import found numpy's state laid out as expected. Oracle: numpy's own
    # words (random_raw) and numpy's state after drawing them - for fills of every
    # length around the four chains and the 512-draw chunks, and a generator
    # holding a buffered 32-bit half (which 64-bit words leave alone).
    import platform
    from hpframe._core.dropout import mask_into, pcg64_direct
    if platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64") and \
            sys.platform != "win32":
        assert pcg64_direct(), "numpy's PCG64 state is no longer laid out as _pcg64.h " \
            "expects (masks still draw numpy's words, through its function pointer)"
    p = 0.3
    for n in [*range(1, 20), 511, 512, 513, 1023, 1024, 1025, 2 * 512 + 7]:
        ours, twin = np.random.PCG64(n), np.random.PCG64(n)
        if n == 7:
            np.random.Generator(ours).integers(0, 2**32, dtype=np.uint32)
            np.random.Generator(twin).integers(0, 2**32, dtype=np.uint32)
        mask = np.empty(n, dtype)
        mask_into(ours, p, mask)
        words = twin.random_raw((n + 1) // 2)
        draws = np.stack([words & 0xFFFFFFFF, words >> np.uint64(32)], axis=1).ravel()[:n]
        kept = draws >= np.uint64(int(p * 2**32))
        np.testing.assert_array_equal(mask, np.where(kept, dtype(1 / (1 - p)), 0), str(n))
        assert ours.state == twin.state, n


# ---- the core's own float32 exp (_fexp.h) ---------------------------------------------

def ulps_from_exact_exp(x, got):
    """|got - e^x| in units in the last place of float32 at e^x (e^x in float64, whose
    error is 2^-29 of float32's unit: far below what is measured)."""
    exact = np.exp(x.astype(np.float64))
    unit = np.spacing(np.maximum(exact, 2.0 ** -126).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / unit


def test_own_float32_exp_is_within_one_unit_in_the_last_place():
    # Every float32 from -104 to 89 (2.2e9 values) was checked by a C harness once:
    # the largest error was 0.976 units, at x = -0x1.7714d4p+2. Here: that value,
    # 4 million evenly spread values, the range around each power of two of the
    # result (where 2^n switches), and the subnormal results (e^x < 2^-126).
    from hpframe._core.activations import exp_into
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(-104, 88.7, 4_000_001),
        np.arange(-150, 128)[:, None] * math.log(2) + rng.uniform(-1e-3, 1e-3, (278, 64)),
        rng.uniform(-103.97, -87.33, 100_000),
        [float.fromhex("-0x1.7714d4p+2"), 0.0, -0.0, 1e-30, -1e-30, 88.72, -87.33],
    ], axis=None).astype(np.float32)
    got = np.empty_like(x)
    exp_into(x, got)
    err = ulps_from_exact_exp(x, got)
    assert err.max() < 1.0, (x[err.argmax()], got[err.argmax()], err.max())
    assert err.max() > 0.9          # the harness's worst case is in the sample


def test_own_float32_exp_at_the_ends_of_its_range():
    from hpframe._core.activations import exp_into
    last, first_inf = float.fromhex("0x1.62e42ep+6"), float.fromhex("0x1.62e430p+6")
    x = np.array([np.nan, np.inf, -np.inf, last, first_inf, 89, 1e30, -103.972,
                  -103.973, -104, -1e30, 0], np.float32)
    got = np.empty_like(x)
    exp_into(x, got)
    # as exp rounded to float32: NaN stays NaN, overflow gives inf, underflow 0;
    # e^88.72283 (3.40280e38) is the last finite result, e^-103.972 rounds to 2^-149
    with np.errstate(over="ignore"):
        expected = np.exp(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(got, expected)
    assert np.isfinite(got[3]) and got[4] == np.inf and got[7] == 2.0 ** -149
    with pytest.raises(ValueError, match="out has 2 values; it must have x's 3"):
        exp_into(np.zeros(3, np.float32), np.zeros(2, np.float32))


# ---- numerical stability at extreme inputs ------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_with_huge_logits(dtype):
    z = np.array([[1000.0, -1000.0, 0.0],
                  [-1000.0, 1000.0, 0.0],
                  [1000.0, 1000.0, 1000.0]], dtype)
    labels = np.array([0, 0, 2])
    # row 0: right with certainty, loss 0; row 1: log-sum-exp 1000 minus -1000 = 2000;
    # row 2: three equal logits, loss log 3.
    mean, grad = ops.loss(z, labels, "cross_entropy")
    assert mean == pytest.approx((0 + 2000 + math.log(3)) / 3, rel=1e-6)
    expected = np.array([[0, 0, 0], [-1, 1, 0], [1 / 3, 1 / 3, -2 / 3]]) / 3
    np.testing.assert_allclose(grad, expected, atol=1e-7)
    ref_mean, ref_grad = ref.loss(z, labels, "cross_entropy")
    assert ref_mean == pytest.approx(mean, rel=1e-6)
    np.testing.assert_allclose(ref_grad, expected, atol=1e-7)
    np.testing.assert_allclose(ops.softmax(z), [[1, 0, 0], [0, 1, 0], [1 / 3] * 3], atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_keeps_the_small_loss_of_a_confident_prediction(dtype):
    # logits 20 and 10, right class first: loss log(1 + e^-10) = 4.54e-5, far below
    # float32's spacing near 20 (1.9e-6 would be a 4% error)
    z = np.array([[20.0, 10.0], [10.0, 20.0]], dtype)
    mean, grad = ops.loss(z, np.array([0, 0]), "cross_entropy")
    small = math.log1p(math.exp(-10))
    assert mean == pytest.approx((small + 10 + small) / 2, rel=1e-6)
    p = math.exp(-10) / (1 + math.exp(-10))           # the wrong class's probability
    # softmax - onehot at the right class is (1 - p) - 1: that cancellation costs
    # an absolute error of one rounding of 1, as in every framework
    atol = np.finfo(dtype).eps / 2
    np.testing.assert_allclose(grad, np.array([[-p, p], [-(1 - p), 1 - p]]) / 2, rtol=1e-5,
                               atol=atol)
    mean, _ = ops.loss(z[:1], np.array([0]), "cross_entropy")
    assert mean == pytest.approx(small, rel=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_bce_with_huge_logits(dtype):
    z = np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0], dtype)
    # right with certainty: loss 0, gradient 0; wrong: loss 1000, gradient +-1
    mean, grad = ops.loss(z, t, "binary_cross_entropy")
    assert mean == pytest.approx(2000 / 4, rel=1e-6)
    np.testing.assert_array_equal(grad, np.array([0, 0, 1, -1], dtype) / 4)
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # nor the twin
        ref_mean, ref_grad = ref.loss(z, t, "binary_cross_entropy")
        np.testing.assert_array_equal(ref.activation(z, "sigmoid"), [1, 0, 1, 0])
        np.testing.assert_array_equal(ref.activation(z, "elu"), [1000, -1, 1000, -1])
    assert ref_mean == pytest.approx(mean, rel=1e-6)
    np.testing.assert_array_equal(ref_grad, grad)
    np.testing.assert_array_equal(ops.activation(z, "sigmoid"), [1, 0, 1, 0])
    np.testing.assert_array_equal(ops.activation_grad(z, np.ones_like(z), "sigmoid"), 0)
    np.testing.assert_array_equal(ops.activation(z, "tanh"), [1, -1, 1, -1])
    np.testing.assert_array_equal(ops.activation(z, "elu"), [1000, -1, 1000, -1])
    assert np.isfinite(ops.activation_grad(z, np.ones_like(z), "gelu")).all()


# ---- argument checking ------------------------------------------------------------

X, W, B = np.ones((4, 3)), np.ones((3, 2)), np.zeros(2)

BAD_CALLS = [
    (lambda: ops.activation(X, "relux"), ValueError, "name must be one of relu, leaky_relu"),
    (lambda: ops.activation(X + 1j, "relu"), TypeError, "z must hold real numbers"),
    (lambda: ops.activation(X.astype(np.float16), "relu"), TypeError, "float16"),
    (lambda: ops.activation(["a", "b"], "relu"), TypeError, "z must hold real numbers"),
    (lambda: ops.activation_grad(X, X[:2], "relu"), ValueError,
     "grad_out must have the shape of z, (4, 3); got (2, 3)"),
    (lambda: ops.dense_forward(X[0], W, B), ValueError, "x must be 2-D"),
    (lambda: ops.dense_forward(X, W.T, B), ValueError, "weight must have 3 rows"),
    (lambda: ops.dense_forward(X, W, np.zeros(3)), ValueError, "bias must have 2 elements"),
    (lambda: ops.dense_backward(X, W, np.ones((4, 3))), ValueError,
     "grad_out must have shape (n_samples, n_out) = (4, 2), got (4, 3)"),
    (lambda: ops.softmax(np.ones(3)), ValueError, "z must be 2-D"),
    (lambda: ops.softmax(np.ones((2, 0))), ValueError, "at least one column"),
    (lambda: ops.loss(X, [0, 1, 2, 3], "cross_entropy"), ValueError,
     "target labels must be in 0..2 (output has 3 columns), got 3"),
    (lambda: ops.loss(X, [0, 1, -1, 0], "cross_entropy"), ValueError, "got -1"),
    (lambda: ops.loss(X, [0.0, 1.0, 2.0, 0.0], "cross_entropy"), TypeError,
     "integer class labels"),
    (lambda: ops.loss(X, [0, 1], "cross_entropy"), ValueError, "shape (4,)"),
    (lambda: ops.loss(X, X * 2, "binary_cross_entropy"), ValueError, "in [0, 1]"),
    (lambda: ops.loss(X, X[:2], "mse"), ValueError, "target must have the shape of output"),
    (lambda: ops.loss(np.ones(0), np.ones(0), "mae"), ValueError, "output is empty"),
    (lambda: ops.loss(X, X, "hinge"), ValueError, "name must be one of cross_entropy"),
    (lambda: ops.dropout(X, 1.0, 0), ValueError, "p must be in [0, 1), got 1.0"),
    (lambda: ops.dropout(X, -0.1, 0), ValueError, "p must be in [0, 1), got -0.1"),
    (lambda: ops.dropout(X, "half", 0), TypeError, "p must be a real number"),
    (lambda: ops.dropout(X, 0.5, -1), ValueError, "seed must be a non-negative integer"),
    (lambda: ops.dropout(X, 0.5, 1.5), TypeError, "seed must be a non-negative integer"),
    (lambda: ops.permutation(-1, 0), ValueError, "n must be an integer >= 0, got -1"),
    (lambda: ops.permutation(2.0, 0), TypeError, "n must be an integer"),
    (lambda: ops.sgd_step(B, B, -1.0), ValueError, "lr must be in [0, inf), got -1.0"),
    (lambda: ops.sgd_step(B, B, float("nan")), ValueError, "lr must be in [0, inf), got nan"),
    (lambda: ops.sgd_step(B, np.zeros(3), 0.1), ValueError, "g must have the shape of w"),
    (lambda: ops.sgd_step(B, B, 0.1, weight_decay=-1), ValueError, "weight_decay must be"),
    (lambda: ops.momentum_step(B, B, np.zeros(3), 0.1), ValueError,
     "velocity must have the shape of w"),
    (lambda: ops.momentum_step(B, B, B, 0.1, momentum=1.0), ValueError,
     "momentum must be in [0, 1), got 1.0"),
    (lambda: ops.momentum_step(B, B, B, 0.1, nesterov="yes"), TypeError, "nesterov must be"),
    (lambda: ops.adam_step(B, B, B, B, 0), ValueError, "step must be an integer >= 1, got 0"),
    (lambda: ops.adam_step(B, B, B, B, 1, beta_1=1.0), ValueError, "beta_1 must be in [0, 1)"),
    (lambda: ops.adam_step(B, B, B, B, 1, beta_2=-0.5), ValueError, "beta_2 must be in [0, 1)"),
    (lambda: ops.adam_step(B, B, B, B, 1, epsilon=0.0), ValueError,
     "epsilon must be in (0, inf), got 0.0"),
    (lambda: ops.adam_step(B, B, B, np.zeros(5), 1), ValueError, "v must have the shape of w"),
]


@pytest.mark.parametrize("call, error, message", BAD_CALLS,
                         ids=[f"bad{i}" for i in range(len(BAD_CALLS))])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_public_names_match_between_ops_and_reference():
    import inspect
    kernels = ["dense_forward", "dense_backward", "activation", "activation_grad", "softmax",
               "loss", "dropout", "permutation", "sgd_step", "momentum_step", "adam_step"]
    for name in kernels:
        assert name in ops.__all__ and name in ref.__all__
        assert inspect.signature(getattr(ops, name)) == inspect.signature(getattr(ref, name))
        assert getattr(ops, name).__doc__ and getattr(ref, name).__doc__
