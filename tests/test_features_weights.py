"""Sample and class weights (issue 16, item 1).

Oracles: repeating rows (an integer weight must equal that many copies of the row);
the NumPy twin :func:`hpframe.reference.loss` and ``ReferenceMLP`` with weights;
finite differences of the core's weighted loss; weights of 1 against no weights
(bit for bit); scikit-learn's own sample-weight check; class weights worked out by
hand (scikit-learn's definition of "balanced").
"""
import numpy as np
import pytest

import hpframe as hp
from hpframe import reference as R
from hpframe._core import losses as L
from hpframe.trainer import LOSS_CODES
from helpers import blobs, numerical_derivative

COUNTS = np.array([1, 2, 0, 1, 3, 1, 2, 1])


def _repeat(a):
    return np.repeat(a, COUNTS, axis=0)


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy", "mse", "mae",
                                  "huber"])
def test_core_weighted_loss_and_gradient_equal_the_numpy_twin(name):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(8, 3))
    w = COUNTS.astype(np.float64)
    if name == "cross_entropy":
        y = rng.integers(0, 3, size=8)
        grad = np.empty_like(z)
        total = L.cross_entropy_into(z.reshape(-1), y.astype(np.intc), 3, 1 / w.sum(),
                                     grad.reshape(-1), w)
        mean = total / w.sum()
    else:
        y = (rng.random((8, 3)) < 0.5).astype(float) if name == "binary_cross_entropy" \
            else rng.normal(size=(8, 3))
        grad = np.empty_like(z)
        total = L.elementwise_loss_into(LOSS_CODES[name], z.reshape(-1), y.reshape(-1),
                                        1 / (3 * w.sum()), grad.reshape(-1), w, 3)
        mean = total / (3 * w.sum())
    ref_mean, ref_grad = R.loss(z, y, name, weight=w)
    assert mean == pytest.approx(ref_mean, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    # the weighted mean is the plain mean over repeated rows
    rep_mean, rep_grad = R.loss(_repeat(z), _repeat(y), name)
    assert mean == pytest.approx(rep_mean, rel=1e-12)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "binary_cross_entropy"])
def test_trainer_weighted_gradient_equals_reference_and_finite_differences(loss):
    X, y = blobs(n=12, k=3, d=4)
    if loss == "mse":
        y = X @ np.array([0.5, -1.0, 0.3, 2.0])
    elif loss == "binary_cross_entropy":
        y = y == 0
    t = hp.Trainer(hidden_layers=(5,), activation="tanh", loss=loss, dtype="float64",
                   seed=4).fit(X, y, epochs=1, verbose=0)
    w = np.random.default_rng(5).uniform(0.0, 3.0, size=12)
    value, grads = t.gradients(X, y, sample_weight=w)
    mlp = R.ReferenceMLP([t.params[f"dense_{l}.weight"] for l in range(2)],
                         [t.params[f"dense_{l}.bias"] for l in range(2)],
                         activation="tanh", loss=loss)
    targets = y if loss != "binary_cross_entropy" else y.astype(float).reshape(-1, 1)
    if loss == "mse":
        targets = y.reshape(-1, 1)
    ref_value, (ref_w, ref_b) = mlp.gradients(X, targets, training=False, weight=w)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grads["dense_0.weight"], ref_w[0], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(grads["dense_1.bias"], ref_b[1], rtol=1e-9, atol=1e-13)
    # finite differences of the weighted loss in one weight and one bias
    for key, index in (("dense_0.weight", (1, 2)), ("dense_1.bias", (0,))):
        params = t.params

        def loss_at(v):
            changed = {k: a.copy() for k, a in params.items()}
            changed[key][index] = v
            t.load_params(changed)
            return t.gradients(X, y, sample_weight=w)[0]
        numeric = numerical_derivative(loss_at, params[key][index], 1e-5)
        t.load_params(params)
        assert grads[key][index] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", ["cross_entropy", "mse", "huber"])
def test_ops_loss_with_weights_matches_the_reference_and_names_bad_weights(name):
    from hpframe import ops
    rng = np.random.default_rng(2)
    z = rng.normal(size=(8, 3))
    y = rng.integers(0, 3, size=8) if name == "cross_entropy" else rng.normal(size=(8, 3))
    mean, grad = ops.loss(z, y, name, weight=COUNTS)
    ref_mean, ref_grad = R.loss(z, y, name, weight=COUNTS)
    assert mean == pytest.approx(ref_mean, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="weight must be finite and >= 0"):
        ops.loss(z, y, name, weight=-np.ones(8))
    with pytest.raises(ValueError, match=r"weight must hold one weight per sample: shape \(8,\)"):
        ops.loss(z, y, name, weight=np.ones(3))


def test_an_integer_weight_equals_repeating_the_row():
    X, y = blobs(n=8 * 10, k=3, d=4)
    counts = np.tile(COUNTS, 10)
    kw = dict(hidden_layers=(6,), optimizer="sgd", learning_rate=0.3, dtype="float64",
              validation_split=0.0, batch_size=10_000, epochs=5, seed=2)
    weighted = hp.Trainer(**kw).fit(X, y, sample_weight=counts, verbose=0)
    repeated = hp.Trainer(**kw).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts),
                                    verbose=0)
    for key, value in repeated.params.items():
        np.testing.assert_allclose(weighted.params[key], value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(weighted.history.history["loss"],
                               repeated.history.history["loss"], rtol=1e-12)
    np.testing.assert_allclose(weighted.history.history["accuracy"],
                               repeated.history.history["accuracy"], rtol=1e-12)
    got = weighted.evaluate(X, y, sample_weight=counts)
    want = weighted.evaluate(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("loss", ["cross_entropy", "huber", "binary_cross_entropy"])
def test_weights_of_one_change_no_bit(loss):
    X, y = blobs()
    if loss == "huber":
        y = X[:, 0] * 2.0
    elif loss == "binary_cross_entropy":
        y = y == 1
    kw = dict(hidden_layers=(8,), loss=loss, dropout=0.1, seed=3, epochs=3)
    plain = hp.Trainer(**kw).fit(X, y, verbose=0)
    ones = hp.Trainer(**kw).fit(X, y, sample_weight=np.ones(len(y)), verbose=0)
    for key, value in plain.params.items():
        np.testing.assert_array_equal(ones.params[key], value)
    assert ones.history.history == {**plain.history.history,
                                    "time": ones.history.history["time"]}


def test_balanced_class_weight_is_scikit_learns_definition():
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 30 + ["b"] * 10 + ["c"] * 5)
    X = rng.normal(size=(45, 3))
    kw = dict(hidden_layers=(4,), validation_split=0.0, epochs=2, seed=1, dtype="float64")
    balanced = hp.Trainer(**kw, class_weight="balanced").fit(X, y, verbose=0)
    by_hand = {"a": 45 / (3 * 30), "b": 45 / (3 * 10), "c": 45 / (3 * 5)}
    manual = hp.Trainer(**kw).fit(X, y, sample_weight=[by_hand[c] for c in y], verbose=0)
    for key, value in manual.params.items():
        np.testing.assert_array_equal(balanced.params[key], value)
    from sklearn.utils.class_weight import compute_class_weight
    assert np.allclose(compute_class_weight("balanced", classes=np.array(["a", "b", "c"]),
                                            y=y), list(by_hand.values()))
    as_dict = hp.Trainer(**kw, class_weight={"c": 3.0}).fit(X, y, verbose=0)
    manual = hp.Trainer(**kw).fit(X, y, sample_weight=np.where(y == "c", 3.0, 1.0), verbose=0)
    for key, value in manual.params.items():
        np.testing.assert_array_equal(as_dict.params[key], value)


def test_class_weight_is_stored_hashable_and_json_safe():
    h = hp.HyperParams(class_weight={2: 1.5, 0: 3})
    assert h.class_weight == ((0, 3.0), (2, 1.5))
    assert hash(h) == hash(hp.HyperParams(class_weight=[[0, 3], [2, 1.5]]))
    assert hp.HyperParams.from_json(h.to_json()) == h
    assert "balanced" in hp.explain("class_weight")


@pytest.mark.parametrize("bad, error, words", [
    ("balance", ValueError, "class_weight.*'balance'"), (3, TypeError, "class_weight"),
    ({0: -1.0}, ValueError, r"class_weight\[0\]"), ({0: float("nan")}, ValueError, "class_weight"),
    ({1.5: 2.0}, TypeError, "labels"), ({True: 2.0}, TypeError, "labels"),
    ({0: 1.0, "a": 2.0}, TypeError, "all ints or all strs"),
])
def test_bad_class_weights_are_refused_by_name(bad, error, words):
    with pytest.raises(error, match=words):
        hp.HyperParams(class_weight=bad)


def test_class_weight_problems_at_fit_are_named():
    X, y = blobs()
    with pytest.raises(ValueError, match="class_weight names class 7"):
        hp.Trainer(class_weight={7: 2.0}).fit(X, y, verbose=0)
    with pytest.raises(ValueError, match="regression model; use sample_weight"):
        hp.Trainer(loss="mse", class_weight="balanced").fit(X, X[:, 0], verbose=0)


@pytest.mark.parametrize("bad, error, words", [
    (np.ones(5), ValueError, r"shape \(240,\)"), (np.ones((240, 2)), ValueError, "shape"),
    (-np.ones(240), ValueError, ">= 0"), (np.full(240, np.nan), ValueError, "finite"),
    (np.zeros(240), ValueError, "all zero"), (np.array(["a"] * 240), TypeError, "numbers"),
])
def test_bad_sample_weights_are_refused_by_name(bad, error, words):
    X, y = blobs()
    with pytest.raises(error, match=words):
        hp.Trainer(epochs=1).fit(X, y, sample_weight=bad, verbose=0)
    t = hp.Trainer(epochs=1).fit(X, y, verbose=0)
    with pytest.raises(error, match=words):
        t.evaluate(X, y, sample_weight=bad)


@pytest.mark.parametrize("data", ["dense", "sparse"])
@pytest.mark.parametrize("Estimator", ["HPClassifier", "HPRegressor"])
def test_scikit_learns_sample_weight_check_passes_in_float64_with_one_batch(Estimator, data):
    from sklearn.utils import estimator_checks
    from hpframe import sklearn as hsk
    check = getattr(estimator_checks, f"check_sample_weight_equivalence_on_{data}_data")
    est = getattr(hsk, Estimator)(dtype="float64", batch_size=100_000, epochs=20)
    check(Estimator, est)


def test_the_estimators_take_sample_weight_and_class_weight():
    from hpframe.sklearn import HPClassifier, HPRegressor
    X, y = blobs()
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    est = HPClassifier(epochs=3, class_weight="balanced").fit(X, y, sample_weight=w)
    assert est.trainer_.hparams.class_weight == "balanced"
    assert est.score(X, y, sample_weight=w) == pytest.approx(
        np.average(est.predict(X) == y, weights=w))
    est.partial_fit(X, y, sample_weight=w)
    reg = HPRegressor(epochs=3).fit(X, X[:, 0], sample_weight=w)
    assert np.isfinite(reg.score(X, X[:, 0], sample_weight=w))
