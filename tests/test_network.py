"""The compiled :class:`~hpframe._core.network.Network`, checked as a whole.

Oracles: 4th-order central finite differences of the mean loss (float64), the
NumPy :class:`~hpframe.reference.ReferenceMLP` replaying the same shuffles and
dropout masks step by step, weight decay worked out by hand, tracemalloc, and
the same training run one after the other vs. in two threads.
"""
import threading
import tracemalloc

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from hpframe import reference as ref
from hpframe._core import _blas
from hpframe._core.network import Network
from hpframe._core.spec import NetworkSpec

from helpers import numerical_derivative

ACTIVATIONS = ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "identity"]
LOSSES = ["cross_entropy", "binary_cross_entropy", "mse", "mae", "huber"]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw"]
HIDDEN = [(), (5,), (4, 3)]

# parameters after a few epochs, core vs NumPy reference
TRAIN_TOL = {
    np.float32: dict(rtol=1e-4, atol=2e-5),
    np.float64: dict(rtol=1e-10, atol=1e-12),
}


def make_network(sizes, activation="relu", loss="cross_entropy", optimizer="adam",
                 dropout=0.0, weight_decay=0.0, capacity=4, dtype=np.float64, seed=0,
                 momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8, init_seed=1):
    """A Network with random (seeded) weights and biases; the core starts at zero."""
    net = Network(NetworkSpec(sizes, activation, loss, optimizer, dropout, momentum, beta_1,
                              beta_2, epsilon, weight_decay, capacity, dtype, seed))
    rng = np.random.default_rng(init_seed)
    for l in range(net.n_layers):
        n_in, n_out = net.weight(l).shape
        net.weight(l)[...] = rng.normal(scale=1.5 / np.sqrt(n_in), size=(n_in, n_out))
        net.bias(l)[...] = rng.normal(scale=0.3, size=n_out)
    return net


def reference_of(net, activation="relu", loss="cross_entropy", optimizer="adam", dropout=0.0,
                 weight_decay=0.0, seed=0, momentum=0.9, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8):
    """The NumPy twin of ``net``, starting from copies of its parameters."""
    return ref.ReferenceMLP([net.weight(l).copy() for l in range(net.n_layers)],
                            [net.bias(l).copy() for l in range(net.n_layers)],
                            activation, loss, optimizer, dropout, momentum, beta_1, beta_2,
                            epsilon, weight_decay, seed)


def core_targets(loss, y, n_outputs, dtype):
    """``(labels, targets)`` as ``Network`` takes them: one of the two is empty."""
    if loss == "cross_entropy":
        return np.ascontiguousarray(y, dtype=np.intc), np.zeros((0, n_outputs), dtype)
    return np.zeros(0, dtype=np.intc), np.ascontiguousarray(y, dtype=dtype)


def make_data(sizes, loss, n, dtype, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    k = sizes[-1]
    if loss == "cross_entropy":
        y = rng.integers(0, k, size=n)
    elif loss == "binary_cross_entropy":
        y = (rng.random((n, k)) < 0.5).astype(dtype)
    else:
        y = rng.normal(size=(n, k)).astype(dtype)
    return X, y


def parameters(net):
    return [net.weight(l) for l in range(net.n_layers)] + \
           [net.bias(l) for l in range(net.n_layers)]


# ---- gradients of the whole network equal finite differences -----------------------

@pytest.mark.parametrize("hidden", HIDDEN, ids=["no-hidden", "one-hidden", "two-hidden"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_network_gradients_equal_finite_differences(activation, loss, hidden):
    sizes = (3, *hidden, 2)
    n = 5
    net = make_network(sizes, activation, loss, capacity=n)
    X, y = make_data(sizes, loss, n, np.float64)
    mlp = reference_of(net, activation, loss)
    # keep the finite differences off the kinks: relu-like units away from 0, and
    # mae/huber residuals away from 0 and +-1
    mlp.forward(X, training=False)
    pre_activations = np.concatenate([z.ravel() for _, z, _, _ in mlp._cache[:-1]] + [[1.0]])
    assert np.abs(pre_activations).min() > 1e-3, "choose another init_seed: a unit sits on a kink"
    if loss in ("mse", "mae", "huber"):
        residual = np.random.default_rng(3).uniform(0.2, 0.8, size=y.shape)
        residual += np.random.default_rng(4).integers(0, 2, size=y.shape)   # 0.2-0.8 or 1.2-1.8
        y = mlp.predict(X) - residual * np.sign(np.random.default_rng(5).normal(size=y.shape))
    labels, targets = core_targets(loss, y, sizes[-1], np.float64)

    mean_loss = net.gradients_into(X, labels, targets)
    analytic = net.grads.copy()
    ref_loss, _ = mlp.gradients(X, y, training=False)
    assert mean_loss == pytest.approx(ref_loss, rel=1e-12)

    def loss_at(i, value):
        saved = net.params[i]
        net.params[i] = value
        result = net.gradients_into(X, labels, targets)
        net.params[i] = saved
        return result

    numeric = np.array([numerical_derivative(lambda v: loss_at(i, v), net.params[i], 1e-5)
                        for i in range(net.n_params)])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


# ---- training equals the NumPy reference, step by step -------------------------------

def train_side_by_side(dtype, optimizer="adam", loss="cross_entropy", activation="relu",
                       dropout=0.25, weight_decay=0.01, hidden=(6, 5), lr=0.05, n=11,
                       batch_size=4, epochs=3, shuffle=True, seed=7, n_features=4,
                       n_threads=1, gemm_piece=None, gemm_kernel=None):
    """Train the core and the reference on the same data; compare after every epoch."""
    sizes = (n_features, *hidden, 3)
    kwargs = dict(activation=activation, loss=loss, optimizer=optimizer, dropout=dropout,
                  weight_decay=weight_decay, seed=seed)
    net = make_network(sizes, capacity=batch_size, dtype=dtype, **kwargs)
    if gemm_piece is not None:
        net.gemm_piece = gemm_piece
    if gemm_kernel is not None:
        net.gemm_kernel = gemm_kernel
    mlp = reference_of(net, **kwargs)
    X, y = make_data(sizes, loss, n, dtype)
    labels, targets = core_targets(loss, y, sizes[-1], dtype)
    per_sample = 1 if loss == "cross_entropy" else sizes[-1]
    n_steps = -(-n // batch_size)
    for epoch in range(epochs):
        with threadpool_limits(limits=1 if n_threads > 1 else None, user_api="blas"):
            loss_sum, n_correct, n_seen, steps, diverged = net.train_epoch(
                X, labels, targets, batch_size, lr, shuffle, n_threads)
        ref_mean = mlp.train_epoch(X, y, batch_size, lr, shuffle)
        assert (n_seen, steps, diverged) == (n, n_steps, False)
        assert net.step == mlp.step == (epoch + 1) * n_steps
        assert loss_sum / (n_seen * per_sample) == pytest.approx(
            ref_mean, rel=TRAIN_TOL[dtype]["rtol"])
        for got, expected in zip(parameters(net), mlp.weights + mlp.biases):
            np.testing.assert_allclose(got, expected, **TRAIN_TOL[dtype],
                                       err_msg=f"epoch {epoch}")
    return net, mlp


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_training_equals_reference_step_by_step(optimizer, dtype):
    # 11 rows in batches of 4: two full batches and a last batch of 3 per epoch,
    # shuffled, with dropout on both hidden layers and weight decay
    train_side_by_side(dtype, optimizer)


@pytest.mark.parametrize("loss", LOSSES)
def test_training_equals_reference_for_every_loss(loss):
    train_side_by_side(np.float64, "adam", loss, activation="tanh")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_training_equals_reference_for_every_activation(activation):
    train_side_by_side(np.float64, "nesterov", activation=activation, hidden=(5,))


def test_training_without_shuffle_or_dropout_or_hidden_layers():
    train_side_by_side(np.float64, "sgd", dropout=0.0, shuffle=False)
    train_side_by_side(np.float64, "momentum", hidden=(), dropout=0.0, batch_size=11)


def test_predict_equals_reference_in_chunks():
    # 10 rows through a capacity-4 network: chunks of 4, 4 and 2, and no dropout
    net = make_network((4, 6, 3), "gelu", dropout=0.5, capacity=4)
    X, _ = make_data((4, 6, 3), "mse", 10, np.float64)
    out = np.empty((10, 3))
    net.predict_into(X, out)
    np.testing.assert_allclose(out, reference_of(net, "gelu").predict(X), rtol=1e-12)


def test_same_seed_same_training_different_seed_different():
    a, _ = train_side_by_side(np.float64, seed=3)
    b, _ = train_side_by_side(np.float64, seed=3)
    c, _ = train_side_by_side(np.float64, seed=4)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.allclose(a.params, c.params)


# ---- a team of threads shares each step ---------------------------------------------
# Thread t of a team owns a share of every layer's units, in blocks of 16: with 37
# features and hidden layers of 40 and 20 units, teams of 2 and 3 get uneven shares
# and empty ones (20 units in blocks of 16 for three threads), every one of which
# must still give the reference's numbers.

TEAM = dict(n_features=37, hidden=(40, 20), n=50, batch_size=9)


@pytest.mark.parametrize("n_threads", [2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_team_training_equals_reference_step_by_step(optimizer, dtype, n_threads):
    train_side_by_side(dtype, optimizer, n_threads=n_threads, **TEAM)


@pytest.mark.parametrize("n_threads", [2, 3])
def test_team_training_at_batch_size_one_and_every_loss(n_threads):
    # batch 1 takes the fused outer-product update, split by rows of W
    train_side_by_side(np.float64, "adamw", n_threads=n_threads,
                       **{**TEAM, "batch_size": 1, "n": 13})
    for loss in LOSSES:
        train_side_by_side(np.float64, "adam", loss, "elu", lr=0.01, n_threads=n_threads, **TEAM)


def test_team_results_repeat_exactly_and_match_one_thread():
    one, _ = train_side_by_side(np.float64, n_threads=1, **TEAM)
    two, _ = train_side_by_side(np.float64, n_threads=2, **TEAM)
    again, _ = train_side_by_side(np.float64, n_threads=2, **TEAM)
    np.testing.assert_array_equal(two.params, again.params)
    np.testing.assert_allclose(two.params, one.params, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_a_team_stops_together_before_a_non_finite_loss_reaches_the_weights(n_threads):
    # Each thread adds up the team's loss sums itself (its rows of the output are
    # its own), so every thread must stop at the same step, before the update.
    sizes = (37, 40, 20, 3)
    net = make_network(sizes, capacity=9)
    X, y = make_data(sizes, "cross_entropy", 50, np.float64)
    X[20, 5] = np.inf                       # row 20 is in the third batch of 9
    labels, targets = core_targets("cross_entropy", y, 3, np.float64)
    with threadpool_limits(limits=1, user_api="blas"):
        loss_sum, n_correct, n_seen, steps, diverged = net.train_epoch(
            X, labels, targets, 9, 0.05, False, n_threads)
    assert (n_seen, steps, diverged, net.step) == (18, 2, True, 2)
    assert np.isfinite(net.params).all()
    # the same two steps as the reference takes on the first 18 rows
    fresh = make_network(sizes, capacity=9)
    twin = reference_of(fresh)
    twin.train_epoch(X[:18], y[:18], 9, 0.05, False)
    for got, expected in zip(parameters(net), twin.weights + twin.biases):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n_threads", [2, 3])
def test_team_predict_equals_reference_in_chunks(n_threads):
    net = make_network((37, 40, 20, 3), "gelu", dropout=0.5, capacity=8)
    X, _ = make_data((37, 40, 20, 3), "mse", 21, np.float64)
    out = np.empty((21, 3))
    with threadpool_limits(limits=1, user_api="blas"):
        net.predict_into(X, out, n_threads)
    np.testing.assert_allclose(out, reference_of(net, "gelu").predict(X), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predictions_of_every_length_match_the_reference_and_every_team(dtype):
    # The rows go in an even number of equal chunks of at most the capacity (8
    # here): every length from one row to past three capacities, on teams of one
    # to three, against the NumPy twin, and the teams against each other to the bit
    sizes = (37, 40, 20, 3)
    net = make_network(sizes, "gelu", capacity=8, dtype=dtype)
    X, _ = make_data(sizes, "mse", 27, dtype)
    expected = reference_of(net, "gelu").predict(X.astype(np.float64))
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    with threadpool_limits(limits=1, user_api="blas"):
        for n in range(1, 28):
            outs = []
            for n_threads in (1, 2, 3):
                out = np.full((n, 3), np.nan, dtype)
                net.predict_into(X[:n], out, n_threads)
                outs.append(out)
            np.testing.assert_allclose(outs[0], expected[:n], rtol=tolerance,
                                       atol=tolerance, err_msg=f"{n} rows")
            for other in outs[1:]:
                np.testing.assert_array_equal(other, outs[0], err_msg=f"{n} rows")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predictions_do_not_depend_on_the_team(dtype):
    # Each chunk of `capacity` rows is forwarded whole by one thread (threads
    # 1.. in their scratch areas, where the activation overwrites Z), so every
    # team gives the same bits as one thread - including a last, short chunk and
    # more threads than chunks - and the reference's numbers.
    sizes = (37, 40, 20, 3)
    net = make_network(sizes, "tanh", dropout=0.5, capacity=8, dtype=dtype)
    X, _ = make_data(sizes, "mse", 45, dtype)         # 5 full chunks of 8, one of 5
    outs = []
    with threadpool_limits(limits=1, user_api="blas"):
        for n_threads in (1, 2, 3, 8):
            out = np.full((45, 3), np.nan, dtype)
            net.predict_into(X, out, n_threads)
            outs.append(out)
    for n_threads, out in zip((2, 3, 8), outs[1:]):
        np.testing.assert_array_equal(out, outs[0], err_msg=f"a team of {n_threads}")
    tol = TRAIN_TOL[dtype]
    np.testing.assert_allclose(outs[0], reference_of(net, "tanh").predict(X), **tol)


# ---- products cut into pieces for BLAS's small-matrix kernel ------------------------
# With at most 6000 multiply-adds per call, TEAM's products are cut: layer 0's
# forward (9 x 37 @ 37 x 40) into 3 pieces along its 37 inputs, its weight
# gradient into blocks of 16 rows, layer 1's backward product into 2 pieces of
# 20 columns. 0 means one call per product (what every CPU without AVX-512 does).

@pytest.mark.parametrize("gemm_piece", [0, 6000])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_in_pieces_equal_reference_step_by_step(dtype, n_threads, gemm_piece):
    net, _ = train_side_by_side(dtype, "adam", n_threads=n_threads, gemm_piece=gemm_piece,
                                **TEAM)
    assert net.gemm_piece == gemm_piece


def test_predict_in_pieces_equals_reference():
    net = make_network((37, 40, 20, 3), "gelu", capacity=8)
    net.gemm_piece = 2000
    X, _ = make_data((37, 40, 20, 3), "mse", 21, np.float64)
    out = np.empty((21, 3))
    net.predict_into(X, out)
    np.testing.assert_allclose(out, reference_of(net, "gelu").predict(X), rtol=1e-12)


# ---- hpframe's own float32 product (_sgemm.h) -------------------------------------
# Blocks of 6 rows by 16 columns: TEAM's products (9 rows, 40/20/3 units, 37 inputs)
# and the sizes below have partial blocks of rows and columns, masked columns
# (3 and 20 units), and team shares of inputs that start inside a row.

needs_own = pytest.mark.skipif(not _blas.own_gemm_available(),
                               reason="hpframe's own product needs AVX2 and FMA")


@needs_own
@pytest.mark.parametrize("transpose_a", [False, True])
def test_own_product_equals_numpy_for_every_block_shape(transpose_a):
    rng = np.random.default_rng(3)
    for m in (1, 2, 5, 6, 7, 8, 13):
        for n in (1, 8, 10, 16, 17, 33, 70):
            for k in (0, 1, 9, 40):
                a = rng.normal(size=(k, m) if transpose_a else (m, k)).astype(np.float32)
                b = rng.normal(size=(k, n)).astype(np.float32)
                c = np.full((m, n), np.nan, np.float32)
                _blas.own_gemm_memview(a, b, c, transpose_a)
                expected = (a.T if transpose_a else a).astype(np.float64) @ b
                np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5 * np.sqrt(k),
                                           err_msg=f"{m} x {n}, k = {k}")


@needs_own
@pytest.mark.parametrize("transpose_a", [False, True])
def test_own_product_packs_many_rows_without_changing_a_bit(transpose_a):
    # From 128 rows on, B goes through a packed buffer in slices of at most 256
    # values of p (k = 600: three slices; n = 37: a masked strip). Every element
    # must still be the same sum in the same order: equal, bit for bit, to the
    # unpacked product of the same rows taken 7 at a time, and near numpy's.
    rng = np.random.default_rng(4)
    m, n, k = 200, 37, 600
    a = rng.normal(size=(k, m) if transpose_a else (m, k)).astype(np.float32)
    b = rng.normal(size=(k, n)).astype(np.float32)
    c = np.full((m, n), np.nan, np.float32)
    _blas.own_gemm_memview(a, b, c, transpose_a)
    rows = a.T if transpose_a else a
    expected = rows.astype(np.float64) @ b
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    for i in range(0, m, 7):
        part = np.ascontiguousarray(a[:, i:i + 7] if transpose_a else a[i:i + 7])
        few = np.full((len(rows[i:i + 7]), n), np.nan, np.float32)
        _blas.own_gemm_memview(part, b, few, transpose_a)
        np.testing.assert_array_equal(c[i:i + 7], few, err_msg=f"rows {i}:{i + 7}")


@needs_own
@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("batch_size", [1, 9])
def test_own_product_training_equals_reference_step_by_step(n_threads, batch_size):
    # float32 (the own product's only dtype): a smaller rate and two epochs keep
    # 100 steps of rounding differences within float32's tolerance
    net, _ = train_side_by_side(np.float32, "adam", n_threads=n_threads, lr=0.01, epochs=2,
                                gemm_kernel="own", **{**TEAM, "batch_size": batch_size})
    assert net.gemm_kernel == "own"


@needs_own
def test_own_product_leaves_wide_layers_to_blas_and_still_equals_reference():
    # 300 units: wider than the own product takes (256), so layer 0's forward and
    # weight gradient go to BLAS, layer 1's (3 units) to the own product
    train_side_by_side(np.float32, "adam", n_threads=2, lr=0.01, epochs=2, gemm_kernel="own",
                       n_features=37, hidden=(300,), n=30, batch_size=9)


@needs_own
def test_own_product_predicts_as_the_reference_and_blas_nearly():
    net = make_network((37, 40, 20, 3), "tanh", capacity=8, dtype=np.float32)
    net.gemm_kernel = "blas"
    X, _ = make_data((37, 40, 20, 3), "mse", 21, np.float32)
    outs = {}
    for kernel in ("blas", "own"):
        net.predict_kernel = kernel
        assert net.gemm_kernel == "blas", "prediction's choice leaves training's"
        outs[kernel] = np.empty((21, 3), np.float32)
        net.predict_into(X, outs[kernel], 2)
    np.testing.assert_allclose(outs["own"], reference_of(net, "tanh").predict(X),
                               **TRAIN_TOL[np.float32])
    np.testing.assert_allclose(outs["own"], outs["blas"], rtol=1e-5, atol=1e-6)



@needs_own
def test_own_product_predicts_each_row_as_it_predicts_them_all():
    # Oracle: the same rows predicted together (chunks of 256 -> the packed path,
    # 8 rows, 1 row). Each output is a sum in a fixed order whatever the number of
    # rows, so every way gives the same bits (BLAS's sums may depend on the count).
    net = make_network((37, 40, 20, 3), "relu", capacity=256, dtype=np.float32)
    net.predict_kernel = "own"
    X, _ = make_data((37, 40, 20, 3), "mse", 300, np.float32)
    together = np.empty((300, 3), np.float32)
    net.predict_into(X, together, 2)
    for size in (8, 1):
        parts = np.empty_like(together)
        for i in range(0, 300, size):
            net.predict_into(X[i:i + size], parts[i:i + size], 1)
        np.testing.assert_array_equal(parts, together, err_msg=f"{size} rows at a time")

def test_weights_packed_once_for_a_prediction_give_the_same_bits_and_never_go_stale():
    # A prediction of 128 rows or more packs each layer's W once for all chunks
    # (_pack_weights). Oracle: the same rows one at a time (nothing packed), for
    # an input wider than one slice of 256 (three slices) and a layer whose
    # columns end in a partial strip; then new weights, which must be used.
    if not _blas.own_gemm_available():
        pytest.skip("hpframe's own product needs AVX2 and FMA")
    sizes = (600, 40, 3)
    net = make_network(sizes, "relu", capacity=256, dtype=np.float32)
    net.predict_kernel = "own"
    X, _ = make_data(sizes, "mse", 700, np.float32)
    for change in range(2):
        together = np.empty((700, 3), np.float32)
        net.predict_into(X, together, 2)
        one = np.empty_like(together)
        for i in range(700):
            net.predict_into(X[i:i + 1], one[i:i + 1], 1)
        np.testing.assert_array_equal(together, one, err_msg=f"weights {change}")
        net.weight(0)[...] *= -0.5
        net.weight(1)[...] += 0.25


def test_gemm_kernel_is_checked_and_float64_keeps_blas():
    net = make_network((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="gemm_kernel must be 'blas' or 'own'; got 'mkl'"):
        net.gemm_kernel = "mkl"
    with pytest.raises(ValueError, match="predict_kernel must be 'blas' or 'own'; got 1"):
        net.predict_kernel = 1
    if _blas.own_gemm_available():
        wide = make_network((4, 3), dtype=np.float64)
        wide.gemm_kernel = "own"
        assert wide.gemm_kernel == "blas", "float64 products always go to BLAS"


def test_gemm_piece_must_not_be_negative():
    net = make_network((4, 3))
    with pytest.raises(ValueError, match="gemm_piece must be >= 0; got -1"):
        net.gemm_piece = -1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("capacity", [1, 9, 100])
def test_buffers_and_their_regions_start_on_cache_lines(dtype, capacity):
    # threads own shares of 16 units: with every region 64-byte aligned, two
    # threads' shares never meet inside one cache line
    net = make_network((37, 40, 20, 3), dropout=0.5, capacity=capacity, dtype=dtype)
    for name in ("params", "grads", "state_1", "state_2", "work"):
        assert getattr(net, name).ctypes.data % 64 == 0, name
    offsets = net.layout[:, 4:].ravel()              # Z, A, H, M, D of every layer
    assert all(o % 16 == 0 for o in offsets if o >= 0)
    item = np.dtype(dtype).itemsize
    assert all(o * item % 64 == 0 for o in offsets if o >= 0)


def _train_in_child(queue):
    net = make_network((37, 40, 20, 3), capacity=9)
    X, y = make_data((37, 40, 20, 3), "cross_entropy", 50, np.float64)
    labels, targets = core_targets("cross_entropy", y, 3, np.float64)
    net.train_epoch(X, labels, targets, 9, 1e-2, True, 2)
    queue.put(net.params.sum())


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork()")
def test_team_trains_in_a_forked_child_after_training_in_the_parent():
    # OpenMP's thread pool hangs a forked child; the team's threads are made per
    # call, so a child inherits nothing stale
    import multiprocessing as mp
    _, _ = train_side_by_side(np.float64, n_threads=2, **TEAM)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_train_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung and child.exitcode == 0
    assert np.isfinite(queue.get(timeout=5))


# ---- weight decay: weights only, never biases --------------------------------------

def decayed_by_hand(optimizer, w, lr, wd, steps, mu=0.9, b1=0.9, b2=0.999, eps=1e-8):
    """Weights after ``steps`` updates when the loss gradient is exactly zero,
    so only weight decay moves them (one scalar at a time, plain Python)."""
    v = m = 0.0
    for t in range(1, steps + 1):
        if optimizer == "sgd":
            w = w - lr * wd * w
        elif optimizer in ("momentum", "nesterov"):
            g = wd * w
            v = mu * v + g
            w = w - lr * (g + mu * v if optimizer == "nesterov" else v)
        elif optimizer == "adam":
            g = wd * w
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            w = w - lr / (1 - b1 ** t) * m / ((v / (1 - b2 ** t)) ** 0.5 + eps)
        else:                      # adamw: decoupled shrink; the Adam step of g = 0 is 0
            w = (1 - lr * wd) * w
    return w


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_weight_decay_never_touches_biases(optimizer):
    # Targets equal to the network's own outputs make every loss gradient exactly
    # zero, so in the first step the only force is weight decay: every layer's
    # weights follow the formula by hand, and no bias moves at all.
    sizes, n, lr, wd = (3, 4, 2), 6, 0.1, 0.5
    net = make_network(sizes, "tanh", "mse", optimizer, weight_decay=wd, capacity=n)
    X, _ = make_data(sizes, "mse", n, np.float64)
    out = np.empty((n, 2))
    net.predict_into(X, out)
    labels, targets = core_targets("mse", out, 2, np.float64)
    w0 = [net.weight(l).copy() for l in range(net.n_layers)]
    b0 = [net.bias(l).copy() for l in range(net.n_layers)]
    net.gradients_into(X, labels, targets)
    assert not net.grads.any()
    net.train_epoch(X, labels, targets, n, lr, False)          # one batch = one step
    for l in range(net.n_layers):
        expected = np.vectorize(lambda w: decayed_by_hand(optimizer, w, lr, wd, 1))(w0[l])
        np.testing.assert_allclose(net.weight(l), expected, rtol=1e-12)
        np.testing.assert_array_equal(net.bias(l), b0[l])


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_weight_decay_three_steps_on_a_linear_model(optimizer):
    # X = 0 keeps every gradient exactly zero for as long as we like: outputs are
    # the biases, equal to the targets, whatever the weights are.
    sizes, n, lr, wd = (3, 2), 4, 0.1, 0.5
    net = make_network(sizes, "identity", "mse", optimizer, weight_decay=wd, capacity=n)
    X = np.zeros((n, 3))
    labels, targets = core_targets("mse", np.tile(net.bias(0), (n, 1)), 2, np.float64)
    w0, b0 = net.weight(0).copy(), net.bias(0).copy()
    for step in (1, 2, 3):
        net.train_epoch(X, labels, targets, n, lr, True)
        expected = np.vectorize(lambda w: decayed_by_hand(optimizer, w, lr, wd, step))(w0)
        np.testing.assert_allclose(net.weight(0), expected, rtol=1e-12)
        np.testing.assert_array_equal(net.bias(0), b0)
    assert not np.allclose(net.weight(0), w0)         # decay really acted


# ---- the epoch loop allocates nothing; threads do not interfere ---------------------

@pytest.mark.parametrize("n_threads", [1, 2])
def test_epoch_loop_allocates_nothing_after_warm_up(n_threads):
    sizes, batch = (20, 64, 32, 5), 32

    def peak_growth(n):
        """Peak bytes allocated while training 5 epochs of n rows."""
        net = make_network(sizes, "relu", "cross_entropy", "adam", dropout=0.2,
                           capacity=batch, dtype=np.float32)
        X, y = make_data(sizes, "cross_entropy", n, np.float32)
        labels, targets = core_targets("cross_entropy", y, sizes[-1], np.float32)
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in range(2):                          # warm-up
                net.train_epoch(X, labels, targets, batch, 1e-3, True, n_threads)
            tracemalloc.start()
            try:
                before, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                for _ in range(5):
                    result = net.train_epoch(X, labels, targets, batch, 1e-3, True, n_threads)
                after, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        del result
        # (the last helper thread's bookkeeping in `threading` stays: ~600 bytes)
        assert after - before < (256 if n_threads == 1 else 1024), \
            f"memory grew by {after - before} bytes"
        return peak - before

    # Entering train_epoch wraps its ~10 buffers in typed memoryviews (about 2 KB,
    # freed on return, the same for any n; a team's helper threads add their own
    # per-call objects).  One batch's activations alone are 32 x 64 x 4 = 8 KB, so
    # any per-batch array would show, and a leak of a few bytes per step would too:
    # 13 steps per epoch here, 125 there.
    small, large = peak_growth(400), peak_growth(4000)
    assert small < (4096 if n_threads == 1 else 16384), f"peak grew by {small} bytes"
    assert abs(large - small) < 1024, f"peak grew by {small} and {large} bytes"


def test_two_networks_in_two_threads_equal_one_after_the_other():
    sizes, n, batch = (16, 48, 4), 3000, 32
    data = [make_data(sizes, "cross_entropy", n, np.float64, seed=s) for s in (10, 11)]

    def build(i):
        return make_network(sizes, "elu", "cross_entropy", ("adam", "nesterov")[i],
                            dropout=0.2, capacity=batch, seed=20 + i, init_seed=30 + i)

    def train(net, i):
        X, y = data[i]
        labels, targets = core_targets("cross_entropy", y, sizes[-1], np.float64)
        for _ in range(3):
            net.train_epoch(X, labels, targets, batch, 1e-2, True)

    # one BLAS thread per call, so each GEMM's summation order is fixed
    with threadpool_limits(limits=1, user_api="blas"):
        serial = [build(0), build(1)]
        for i, net in enumerate(serial):
            train(net, i)
        parallel = [build(0), build(1)]
        barrier = threading.Barrier(2)

        def run(i):
            barrier.wait()
            train(parallel[i], i)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a.params, b.params)
        assert a.step == b.step == 3 * (n // batch + 1)


# ---- the AVX2 build computes what the portable build computes ------------------------

def _avx2_module():
    from hpframe._core import network
    if not network.cpu_has_avx2():
        return None
    try:
        from hpframe._core import network_avx2
    except ImportError:
        return None
    return network_avx2


@pytest.mark.skipif(_avx2_module() is None, reason="no AVX2 build or CPU")
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer, activation, batch_size",
                         [("adam", "relu", 9), ("adamw", "gelu", 1), ("nesterov", "tanh", 9),
                          ("sgd", "elu", 50)])
def test_avx2_build_gives_the_portable_build_bit_for_bit(optimizer, activation, batch_size,
                                                          dtype, n_threads):
    # built with -mavx2 -ffp-contract=off: wider vectors, the same operations
    from hpframe._core import network
    sizes = (37, 40, 20, 3)
    X, y = make_data(sizes, "cross_entropy", 50, dtype)
    labels, targets = core_targets("cross_entropy", y, sizes[-1], dtype)
    results = []
    for module in (network, _avx2_module()):
        net = module.Network(NetworkSpec(sizes, activation, "cross_entropy", optimizer, 0.25,
                                         0.9, 0.9, 0.999, 1e-8, 0.01, batch_size, dtype, 5))
        rng = np.random.default_rng(1)
        net.params[...] = rng.normal(scale=0.3, size=net.n_params)
        out = np.empty((50, 3), dtype)
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in range(2):
                net.train_epoch(X, labels, targets, batch_size, 1e-2, True, n_threads)
            net.predict_into(X, out, n_threads)
        results.append((net.params.copy(), out))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_hpframe_cpu_baseline_picks_the_portable_build():
    import subprocess
    import sys
    code = "import hpframe._core as c; print(c.network_module.__name__)"
    env = {**__import__("os").environ, "HPFRAME_CPU": "baseline"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "hpframe._core.network"


def test_a_bad_hpframe_cpu_is_named():
    import subprocess
    import sys
    env = {**__import__("os").environ, "HPFRAME_CPU": "avx9000"}
    run = subprocess.run([sys.executable, "-c", "import hpframe"], env=env,
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "HPFRAME_CPU='avx9000' is not allowed; use 'baseline'" in run.stderr


# ---- one spec, one layout --------------------------------------------------------------

def test_network_takes_one_spec_and_names_a_bad_one():
    with pytest.raises(TypeError, match="Network takes a NetworkSpec; got tuple"):
        Network((4, 3))
    with pytest.raises(ValueError, match="optimizer='rmsprop' is not allowed; use one of sgd"):
        NetworkSpec((4, 3), optimizer="rmsprop")


@pytest.mark.parametrize("optimizer, n_state", [("sgd", 0), ("momentum", 1), ("nesterov", 1),
                                                ("adam", 2), ("adamw", 2)])
def test_the_spec_layout_is_what_the_network_allocates(optimizer, n_state):
    # counted by hand: 4*6 + 6*3 weights, 6 + 3 biases; state buffers per optimizer
    spec = NetworkSpec((4, 6, 3), "tanh", "mse", optimizer, dropout=0.5, capacity=5)
    net = Network(spec)
    lay = spec.layout()
    assert (lay.n_weights, lay.n_params) == (42, 51) == (net.n_weights, net.n_params)
    assert lay.n_state == n_state * 51
    assert len(net.state_1) + len(net.state_2) == n_state * 51
    assert len(net.work) == lay.work_size
    np.testing.assert_array_equal(net.layout, lay.table)


def test_spec_from_hparams_sizes_the_buffers_for_batch_and_evaluation():
    import hpframe as hp
    from hpframe._core.layout import EVAL_ROWS
    hparams = hp.HyperParams(hidden_layers=(7,), batch_size=512, optimizer="momentum",
                             dtype="float64")
    spec = NetworkSpec.from_hparams(hparams, 5, 3)
    assert (spec.sizes, spec.capacity, spec.optimizer, spec.dtype) == (
        (5, 7, 3), 512, "momentum", np.float64)
    assert NetworkSpec.from_hparams(hparams, 5, 3, n_train=100).capacity == EVAL_ROWS


@pytest.mark.parametrize("n_threads", [2, 3])
def test_a_team_wider_than_the_input_equals_reference(n_threads):
    # one feature, split evenly among 2 or 3 threads: thread 0 gets no input
    # column, so its partial sum of the first layer's product must count as 0
    # (stale values in work must not leak into Z)
    sizes = (1, 40, 3)
    net = make_network(sizes, "tanh", capacity=9)
    net.work[...] = 1e6
    X, _ = make_data(sizes, "mse", 21, np.float64)
    out = np.empty((21, 3))
    with threadpool_limits(limits=1, user_api="blas"):
        net.predict_into(X, out, n_threads)
    np.testing.assert_allclose(out, reference_of(net, "tanh").predict(X), rtol=1e-12)
    train_side_by_side(np.float64, "adam", n_threads=n_threads, n_features=1, hidden=(40, 20),
                       n=30, batch_size=9)
