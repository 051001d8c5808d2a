"""Gradient clipping by global norm (issue 16, item 3): the ``clip_norm`` hyperparameter.

Oracles: the NumPy :class:`~hpframe.reference.ReferenceMLP` with ``clip_norm``
(its own :func:`~hpframe.reference.clip_by_global_norm`) replaying the same
shuffles and dropout masks step by step, for teams of 1 and 2 threads and
both dtypes; one sgd step worked out by hand (lr 1: the update is minus the
clipped gradient, whose norm is ``clip_norm``); an unclipped peer run (a
``clip_norm`` never reached trains as no clipping).
"""
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import hpframe as hp
from hpframe import reference as ref
from hpframe._core.network import Network
from hpframe._core.spec import NetworkSpec

from helpers import blobs

TOL = {
    np.float32: dict(rtol=1e-4, atol=2e-5),
    np.float64: dict(rtol=1e-10, atol=1e-12),
}


def make_pair(sizes, dtype, clip_norm, optimizer="adam", dropout=0.25, weight_decay=0.01,
              capacity=9, seed=7):
    """A core network with seeded random parameters and its NumPy twin."""
    net = Network(NetworkSpec(sizes, "relu", "cross_entropy", optimizer, dropout,
                              weight_decay=weight_decay, capacity=capacity, dtype=dtype,
                              seed=seed, clip_norm=clip_norm))
    rng = np.random.default_rng(1)
    for l in range(net.n_layers):
        n_in, n_out = net.weight(l).shape
        net.weight(l)[...] = rng.normal(scale=1.5 / np.sqrt(n_in), size=(n_in, n_out))
        net.bias(l)[...] = rng.normal(scale=0.3, size=n_out)
    twin = ref.ReferenceMLP([net.weight(l).copy() for l in range(net.n_layers)],
                            [net.bias(l).copy() for l in range(net.n_layers)],
                            "relu", "cross_entropy", optimizer, dropout,
                            weight_decay=weight_decay, seed=seed, clip_norm=clip_norm)
    return net, twin


def parameters(net):
    return [net.weight(l) for l in range(net.n_layers)] + \
           [net.bias(l) for l in range(net.n_layers)]


def data(sizes, n, dtype, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=n)
    return X, y


# 37 features, hidden layers of 40 and 20: a team of 2 gets uneven shares
SIZES = (37, 40, 20, 3)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
def test_clipped_training_equals_reference_step_by_step(optimizer, dtype, n_threads):
    clip_norm = 0.3
    net, twin = make_pair(SIZES, dtype, clip_norm, optimizer)
    X, y = data(SIZES, 50, dtype)
    labels = np.ascontiguousarray(y, dtype=np.intc)
    targets = np.zeros((0, 3), dtype)
    # the clip must bite: the first batch's gradient is longer than clip_norm
    _, (gw, gb) = twin.gradients(X[:9], y[:9], training=False)
    assert math.sqrt(sum(float(np.sum(g.astype(float) ** 2)) for g in gw + gb)) > 3 * clip_norm
    for epoch in range(3):
        with threadpool_limits(limits=1 if n_threads > 1 else None, user_api="blas"):
            loss_sum, _, n_seen, steps, diverged = net.train_epoch(
                X, labels, targets, 9, 0.05, True, n_threads)
        ref_mean = twin.train_epoch(X, y, 9, 0.05, True)
        assert (n_seen, steps, diverged) == (50, 6, False)
        assert loss_sum / n_seen == pytest.approx(ref_mean, rel=TOL[dtype]["rtol"])
        for got, expected in zip(parameters(net), twin.weights + twin.biases):
            np.testing.assert_allclose(got, expected, **TOL[dtype], err_msg=f"epoch {epoch}")
    # and clipping changed the run: the unclipped twin ends elsewhere
    _, plain = make_pair(SIZES, dtype, None, optimizer)
    for _ in range(3):
        plain.train_epoch(X, y, 9, 0.05, True)
    assert not np.allclose(plain.weights[0], twin.weights[0], **TOL[dtype])


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_clipped_sgd_step_has_norm_clip_norm(dtype, n_threads):
    # sgd at lr 1 without decay or dropout: the step is minus the clipped gradient,
    # c * g with c = clip_norm / (|g| + 1e-6), so its norm is clip_norm * |g| / (|g| + 1e-6)
    clip_norm = 0.25
    net, twin = make_pair(SIZES, dtype, clip_norm, "sgd", dropout=0.0, weight_decay=0.0)
    X, y = data(SIZES, 9, dtype)
    before = [p.astype(np.float64) for p in parameters(net)]
    _, (gw, gb) = twin.gradients(X, y, training=False)        # the unclipped gradient
    g = np.concatenate([a.astype(np.float64).ravel() for a in gw + gb])
    norm = np.linalg.norm(g)
    assert norm > 4 * clip_norm
    with threadpool_limits(limits=1 if n_threads > 1 else None, user_api="blas"):
        net.train_epoch(X, np.ascontiguousarray(y, dtype=np.intc), np.zeros((0, 3), dtype),
                        9, 1.0, False, n_threads)
    step = np.concatenate([(p.astype(np.float64) - b).ravel()
                           for p, b in zip(parameters(net), before)])
    rel = 1e-5 if dtype == np.float32 else 1e-9
    assert np.linalg.norm(step) == pytest.approx(clip_norm * norm / (norm + 1e-6), rel=rel)
    # the direction is the gradient's, reversed
    np.testing.assert_allclose(step, -g * (clip_norm / (norm + 1e-6)), rtol=rel * 10,
                               atol=rel * 1e-2)


def test_a_clip_norm_never_reached_trains_as_no_clipping():
    X, y = blobs()
    kw = dict(hidden_layers=(8,), optimizer="adam", learning_rate=0.01, seed=3, epochs=3,
              batch_size=16, dtype="float64")
    plain = hp.Trainer(**kw).fit(X, y, verbose=0)
    loose = hp.Trainer(**kw, clip_norm=1e6).fit(X, y, verbose=0)
    for key, value in plain.params.items():
        np.testing.assert_allclose(loose.params[key], value, rtol=1e-12, atol=1e-14)
    tight = hp.Trainer(**kw, clip_norm=1e-3).fit(X, y, verbose=0)
    assert not np.allclose(tight.params["dense_0.weight"], plain.params["dense_0.weight"],
                           rtol=1e-3)


@pytest.mark.parametrize("value", [0, 0.0, -1.0, float("nan"), float("inf"), "big", True])
def test_bad_clip_norm_is_refused_by_name(value):
    with pytest.raises((TypeError, ValueError), match="clip_norm"):
        hp.HyperParams(clip_norm=value)


def test_clip_norm_is_declared_explained_and_taken_by_the_estimators():
    assert hp.HyperParams().clip_norm is None
    assert hp.HyperParams(clip_norm=2).clip_norm == 2.0
    text = hp.explain("clip_norm")
    assert "too low" in text.lower() and "too high" in text.lower()
    from hpframe.sklearn import HPClassifier
    X, y = blobs(n=60)
    clf = HPClassifier(hidden_layers=(4,), epochs=2, clip_norm=0.5).fit(X, y)
    assert clf.get_params()["clip_norm"] == 0.5
    assert clf.trainer_.hparams.clip_norm == 0.5          # it reached the trainer
    with pytest.raises(ValueError, match="clip_norm"):
        HPClassifier(clip_norm=-1.0).fit(X, y)
