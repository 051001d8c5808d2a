"""The table of docs/coming_from_sklearn.rst, verified: scikit-learn's MLPRegressor and
MLPClassifier and hpframe, set as the table says, train from the same initial weights
to the same predictions.

How both start from the same weights, with public means only: hpframe builds the
network (``Trainer.build``) and its initial parameters ``W0`` are read
(``Trainer.params``); scikit-learn's estimator is fitted for one iteration (which
creates its attributes), its ``coefs_``/``intercepts_`` are set to ``W0``, and a
``warm_start`` fit trains from there with a fresh optimizer state, as ``Trainer.fit``
after ``build`` does. One batch holds all the samples and nothing is shuffled, so
both sum the same gradient in one step per epoch.
"""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

import hpframe as hp
from hpframe.sklearn import HPClassifier, HPRegressor

EPOCHS = 30
N = 60

# scikit-learn's solver arguments -> hpframe's optimizer (the table's rows)
OPTIMIZERS = {
    "sgd": dict(solver="sgd", momentum=0.0),
    "momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "adam": dict(solver="adam"),
}
# Adam: scikit-learn adds epsilon to sqrt(v) before the bias correction, PyTorch (and
# hpframe) after it, so the steps differ by a relative ~epsilon/sqrt(v): close, not equal.
ATOL = {"sgd": 1e-12, "momentum": 1e-12, "nesterov": 1e-12, "adam": 1e-4}


def problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 4))
    y = np.tanh(X @ rng.normal(size=4)) + 0.1 * rng.normal(size=N)
    return X, y


def sklearn_from(est, X, y, W0, epochs=EPOCHS):
    """Train scikit-learn's ``est`` for ``epochs`` from the parameters ``W0``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(max_iter=1, batch_size=len(X), shuffle=False,
                       n_iter_no_change=10**6).fit(X, y)
        layers = len(W0) // 2
        est.coefs_ = [W0[f"dense_{l}.weight"].copy() for l in range(layers)]
        est.intercepts_ = [W0[f"dense_{l}.bias"].copy() for l in range(layers)]
        return est.set_params(max_iter=epochs, warm_start=True).fit(X, y)


def hpframe_from_scratch(n_outputs, **fields):
    """An hpframe Trainer with the table's common settings, built (not trained)."""
    fields = dict(hidden_layers=(8,), batch_size=N, shuffle=False, dtype="float64",
                  validation_split=0.0, momentum=0.9, **fields)
    return hp.Trainer(**fields).build(4, n_outputs)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("activation, sk_activation", [("relu", "relu"),
                                                       ("identity", "identity")])
def test_regressor_equivalence(optimizer, activation, sk_activation):
    # MLPRegressor minimises half the mean squared error; hpframe's mse is the full
    # one, so its gradients are twice as large: the same steps need half the
    # learning rate (Adam divides the scale out). scikit-learn adds alpha * W /
    # batch to the gradient of its half-MSE: weight_decay = 2 * alpha / batch_size.
    X, y = problem()
    lr, alpha = 0.02, 1e-2
    trainer = hpframe_from_scratch(
        1, loss="mse", activation=activation, optimizer=optimizer,
        learning_rate=lr if optimizer == "adam" else lr / 2, weight_decay=2 * alpha / N)
    W0 = trainer.params
    trainer.fit(X, y, verbose=0, epochs=EPOCHS)
    theirs = sklearn_from(MLPRegressor(hidden_layer_sizes=(8,), activation=sk_activation,
                                       learning_rate_init=lr, alpha=alpha,
                                       **OPTIMIZERS[optimizer]), X, y, W0)
    np.testing.assert_allclose(trainer.predict(X), theirs.predict(X), rtol=0,
                               atol=ATOL[optimizer])
    # and it is the training that agrees: one epoch is far from thirty
    early = sklearn_from(MLPRegressor(hidden_layer_sizes=(8,), activation=sk_activation,
                                      learning_rate_init=lr, alpha=alpha,
                                      **OPTIMIZERS[optimizer]), X, y, W0, epochs=1)
    assert np.abs(early.predict(X) - theirs.predict(X)).max() > 100 * ATOL[optimizer]


def test_regressor_with_sklearns_learning_rate_steps_twice_as_far():
    # The same learning rate is not the same training: after one full-batch sgd step
    # from the same weights, hpframe's output layer bias moved exactly twice as far.
    X, y = problem()
    trainer = hpframe_from_scratch(1, loss="mse", optimizer="sgd", learning_rate=0.02)
    W0 = trainer.params
    trainer.fit(X, y, verbose=0, epochs=1)
    theirs = sklearn_from(MLPRegressor(hidden_layer_sizes=(8,), learning_rate_init=0.02,
                                       alpha=0.0, **OPTIMIZERS["sgd"]), X, y, W0, epochs=1)
    ours_step = trainer.params["dense_1.bias"] - W0["dense_1.bias"]
    their_step = theirs.intercepts_[1] - W0["dense_1.bias"]
    np.testing.assert_allclose(ours_step, 2 * their_step, rtol=1e-12)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("loss, n_classes", [("cross_entropy", 3),
                                             ("binary_cross_entropy", 2)])
@pytest.mark.parametrize("activation, sk_activation", [("relu", "relu"),
                                                       ("sigmoid", "logistic")])
def test_classifier_equivalence(optimizer, loss, n_classes, activation, sk_activation):
    # MLPClassifier's log-loss is hpframe's cross-entropy (softmax, k classes) or,
    # for two classes, its binary cross-entropy (one logistic output): the same mean
    # over samples, so the same learning rate; weight_decay = alpha / batch_size.
    X, y = problem()
    y = np.digitize(y, [-0.5, 0.5]) if n_classes == 3 else (y > 0).astype(int)
    lr, alpha = 0.1, 1e-2
    trainer = hpframe_from_scratch(
        n_classes if loss == "cross_entropy" else 1, loss=loss, activation=activation,
        optimizer=optimizer, learning_rate=lr, weight_decay=alpha / N)
    W0 = trainer.params
    trainer.fit(X, y, verbose=0, epochs=EPOCHS)
    theirs = sklearn_from(MLPClassifier(hidden_layer_sizes=(8,), activation=sk_activation,
                                        learning_rate_init=lr, alpha=alpha,
                                        **OPTIMIZERS[optimizer]), X, y, W0)
    np.testing.assert_allclose(trainer.predict_proba(X), theirs.predict_proba(X), rtol=0,
                               atol=ATOL[optimizer])
    np.testing.assert_array_equal(trainer.predict(X), theirs.predict(X))


@pytest.mark.parametrize("Estimator, Theirs", [(HPRegressor, MLPRegressor),
                                               (HPClassifier, MLPClassifier)])
def test_the_estimators_agree_too(Estimator, Theirs):
    # The same through hpframe's estimators: build by a one-epoch fit, load W0 into
    # trainer_, then a warm-started fit (plain sgd keeps no optimizer state).
    X, y = problem()
    if Estimator is HPClassifier:
        y = np.digitize(y, [-0.5, 0.5])
    lr, alpha = 0.05, 1e-2
    half = Estimator is HPRegressor
    ours = Estimator(hidden_layers=(8,), optimizer="sgd",
                     learning_rate=lr / 2 if half else lr,
                     weight_decay=(2 if half else 1) * alpha / N, batch_size=N, shuffle=False,
                     dtype="float64", epochs=1, warm_start=True).fit(X, y)
    W0 = hpframe_from_scratch(3 if Estimator is HPClassifier else 1,
                              loss="cross_entropy" if Estimator is HPClassifier else "mse",
                              seed=7).params
    ours.trainer_.load_params(W0)
    ours.set_params(epochs=EPOCHS).fit(X, y)
    theirs = sklearn_from(Theirs(hidden_layer_sizes=(8,), learning_rate_init=lr,
                                 alpha=alpha, **OPTIMIZERS["sgd"]), X, y, W0)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.score(X, y), theirs.score(X, y), rtol=0, atol=1e-12)


def test_initial_weights_and_dtype_differ_by_default():
    # scikit-learn: Glorot uniform weights AND biases, bound sqrt(6 / (fan_in +
    # fan_out)) (sqrt(2 / ...) for logistic); hpframe: He normal for the relu family
    # (sd sqrt(2 / fan_in)), Glorot uniform otherwise, biases 0.
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(50, 400)), np.arange(50) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = MLPClassifier(hidden_layer_sizes=(200,), max_iter=1, solver="sgd",
                               learning_rate_init=1e-12, random_state=0).fit(X, y)
    W, b = theirs.coefs_[0], theirs.intercepts_[0]
    bound = np.sqrt(6 / (400 + 200))
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    np.testing.assert_allclose(W.std(), bound / np.sqrt(3), rtol=0.01)   # uniform's sd
    assert np.abs(b).max() > 0.5 * bound                                  # random biases
    ours = hp.Trainer(hidden_layers=(200,), loss="binary_cross_entropy").build(400, 1).params
    np.testing.assert_allclose(ours["dense_0.weight"].std(), np.sqrt(2 / 400), rtol=0.01)
    assert not ours["dense_0.bias"].any()
    # the sd ratio at this layer: He / Glorot = sqrt((400 + 200) / 400)
    ratio = ours["dense_0.weight"].std() / W.std()
    np.testing.assert_allclose(ratio, np.sqrt(600 / 400), rtol=0.02)
    # dtype: scikit-learn trains in X's float64, hpframe in float32 unless asked
    assert theirs.coefs_[0].dtype == np.float64
    fitted = HPClassifier(epochs=1).fit(X, y)
    assert fitted.trainer_.params["dense_0.weight"].dtype == np.float32
