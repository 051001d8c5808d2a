"""hpframe.sklearn against scikit-learn's MLPClassifier/MLPRegressor: multi-label targets,
warm starts, early stopping by scikit-learn's names and fits that diverge.

The ideas of scikit-learn's own tests (sklearn/neural_network/tests/test_mlp.py) are
ported, not copied: where their numbers depend on scikit-learn's conventions
(lbfgs, a loss summed over labels, half the squared error), the hpframe setting
that means the same is used and said. Other oracles: scikit-learn's MLPClassifier
run beside ours, its metrics, a NumPy forward pass from the learned parameters, the
Trainer the estimators wrap, and the stopping rule replayed by hand on the recorded
curves.
"""
import math
import pickle
import re
import warnings

import numpy as np
import pytest
from scipy.special import expit
from sklearn.datasets import load_iris, make_multilabel_classification
from sklearn.metrics import accuracy_score, hamming_loss, r2_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import MinMaxScaler

import hpframe as hp
from hpframe.sklearn import HPClassifier, HPRegressor


# ---- helpers ---------------------------------------------------------------------

def multilabel(n=50):
    """scikit-learn's multi-label test problem (5 labels)."""
    return make_multilabel_classification(n_samples=n, random_state=0, return_indicator=True)


def iris():
    X, y = load_iris(return_X_y=True)
    return MinMaxScaler().fit_transform(X), y


def digits_binary(n=100):
    """The first ``n`` zeros and ones of the digits, scaled to [0, 1] (as scikit-learn's tests)."""
    X, y = hp.datasets.load_digits()
    keep = y < 2
    return X[keep][:n] / 16.0, y[keep][:n]


def numpy_logits(params, X, activation="relu"):
    """The network's outputs, recomputed in float64 from its learned parameters."""
    h = np.asarray(X, dtype=np.float64)
    n_layers = len(params) // 2
    for l in range(n_layers):
        h = h @ params[f"dense_{l}.weight"].astype(np.float64) + params[f"dense_{l}.bias"]
        if l < n_layers - 1:
            h = np.maximum(h, 0) if activation == "relu" else expit(h)
    return h


def assert_same_params(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# ---- 1. multi-label ---------------------------------------------------------------

def test_multilabel_trains_binary_cross_entropy_per_label_with_the_default_loss():
    X, Y = multilabel()
    clf = HPClassifier(hidden_layers=(16,), epochs=30, learning_rate=0.01).fit(X, Y)
    assert clf.loss == "cross_entropy"                       # the hyperparameter as given
    assert clf.trainer_.hparams.loss == "binary_cross_entropy"   # what was trained
    # the same as the Trainer with binary cross-entropy on the indicator matrix
    trainer = hp.Trainer(clf.trainer_.hparams).fit(X, Y, verbose=0)
    assert_same_params(clf.trainer_.params, trainer.params)
    np.testing.assert_array_equal(clf.classes_, np.arange(5))
    # outputs: one independent sigmoid per label, from the learned parameters
    z = numpy_logits(clf.trainer_.params, X)
    np.testing.assert_allclose(clf.decision_function(X), z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(clf.predict_proba(X), expit(z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(expit(z)), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), (z > 0).astype(int))


def test_multilabel_score_is_subset_accuracy():
    X, Y = multilabel()
    clf = HPClassifier(hidden_layers=(4,), epochs=5, learning_rate=0.01).fit(X, Y)
    pred = clf.predict(X)
    by_hand = np.mean([(pred[i] == Y[i]).all() for i in range(len(Y))])
    assert clf.score(X, Y) == by_hand
    # a short fit gets some labels wrong; the score is not the per-label accuracy
    assert by_hand != 1 - hamming_loss(Y, pred)


def test_multilabel_output_format_matches_mlpclassifier():
    X, Y = multilabel()
    ours = HPClassifier(epochs=5).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = MLPClassifier(max_iter=5, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    for method in ("predict", "predict_proba", "predict_log_proba"):
        a, b = getattr(ours, method)(X), getattr(theirs, method)(X)
        assert a.shape == b.shape and a.dtype.kind == b.dtype.kind, method
    assert set(np.unique(ours.predict(X))) <= {0, 1}


def test_multilabel_classification_as_scikit_learn_tests_it():
    # scikit-learn: lbfgs, 50 logistic units, 150 iterations -> training score > 0.97;
    # then 100 partial_fit calls of sgd (lr 0.2, nesterov momentum 0.9, all 50 samples
    # a batch) -> > 0.9. scikit-learn sums the binary cross-entropy over the 5 labels,
    # hpframe averages it, so the same steps need a learning rate 5x larger here.
    X, Y = multilabel()
    clf = HPClassifier(hidden_layers=(50,), activation="sigmoid", learning_rate=0.01,
                       epochs=150, seed=0).fit(X, Y)
    assert clf.score(X, Y) > 0.97
    online = HPClassifier(hidden_layers=(50,), activation="sigmoid", optimizer="nesterov",
                          momentum=0.9, learning_rate=5 * 0.2, batch_size=200, seed=0)
    for _ in range(100):
        online.partial_fit(X, Y, classes=[0, 1, 2, 3, 4])
    assert online.score(X, Y) > 0.9
    assert online.n_iter_ == 100


def test_predict_proba_multilabel_as_scikit_learn_tests_it():
    X, Y = multilabel()
    clf = HPClassifier(hidden_layers=(30,), learning_rate=0.01, epochs=200, seed=0).fit(X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape
    np.testing.assert_array_equal(proba > 0.5, Y)      # it has learned the training set
    assert ((proba.sum(axis=1) - 1) ** 2).sum() > 1e-10  # not a softmax: rows need not sum to 1
    log_proba = clf.predict_log_proba(X)
    np.testing.assert_array_equal(proba.argmax(axis=1), log_proba.argmax(axis=1))
    # log_expit is exact where log(1 - tiny) rounds: equal up to float64 rounding of p
    np.testing.assert_allclose(log_proba, np.log(proba), rtol=1e-10, atol=1e-15)


def test_multilabel_partial_fit_equals_fit_epoch_by_epoch():
    X, Y = multilabel()
    fitted = HPClassifier(hidden_layers=(8,), epochs=4, seed=3).fit(X, Y)
    online = HPClassifier(hidden_layers=(8,), epochs=4, seed=3)
    for epoch in range(4):
        online.partial_fit(X, Y, classes=np.arange(5) if epoch == 0 else None)
    assert_same_params(online.trainer_.params, fitted.trainer_.params)
    assert online.loss_curve_ == fitted.loss_curve_


def test_multilabel_partial_fit_checks_classes_and_kind():
    X, Y = multilabel()
    with pytest.raises(ValueError, match=r"column indices 0, \.\.\., 4"):
        HPClassifier().partial_fit(X, Y, classes=[0, 1, 2])
    clf = HPClassifier(hidden_layers=(4,)).partial_fit(X, Y, classes=range(5))
    with pytest.raises(ValueError, match="multi-label"):
        clf.partial_fit(X, Y[:, 0])
    single = HPClassifier(hidden_layers=(4,)).partial_fit(X, Y[:, 0], classes=[0, 1])
    with pytest.raises(ValueError, match="multi-label"):
        single.partial_fit(X, Y)


def test_multilabel_with_explicit_binary_cross_entropy_and_refusals():
    X, Y = multilabel()
    a = HPClassifier(hidden_layers=(8,), epochs=3).fit(X, Y)
    b = HPClassifier(hidden_layers=(8,), epochs=3, loss="binary_cross_entropy").fit(X, Y)
    assert_same_params(a.trainer_.params, b.trainer_.params)
    with pytest.raises(ValueError, match="multiclass-multioutput"):
        HPClassifier().fit(X, np.column_stack([Y[:, 0], 2 * Y[:, 1]]))


# ---- 3. warm_start ------------------------------------------------------------------

def test_warm_start_accepts_the_same_classes_only():
    # scikit-learn's test_warm_start, on hpframe: any y with the classes of the first
    # fit continues (whatever their counts); other classes are refused, naming both.
    X, y = iris()
    y_3classes = np.array([0] * 40 + [1] * 40 + [2] * 70)
    clf = HPClassifier(hidden_layers=(2,), warm_start=True, seed=42, epochs=5).fit(X, y)
    clf.fit(X, y)
    clf.fit(X, y_3classes)
    assert clf.n_iter_ == 5
    for y_other in (np.array([0] * 75 + [1] * 75),
                    np.array([0] * 50 + [1] * 50 + [3] * 50),
                    np.array([0] * 37 + [1] * 37 + [2] * 38 + [3] * 38),
                    np.array([0] * 30 + [1] * 30 + [2] * 30 + [3] * 30 + [4] * 30)):
        clf = HPClassifier(hidden_layers=(2,), warm_start=True, seed=42, epochs=5).fit(X, y)
        message = ("warm_start can only be used where `y` has the same classes as in the "
                   f"previous call to fit. Previously got [0 1 2], `y` has {np.unique(y_other)}")
        with pytest.raises(ValueError, match=re.escape(message)):
            clf.fit(X, y_other)


@pytest.mark.parametrize("Estimator", [HPClassifier, HPRegressor])
def test_warm_start_runs_epochs_every_fit(Estimator):
    # scikit-learn's test_warm_start_full_iteration and _no_convergence: each warm fit
    # trains its full `epochs` (n_iter_ counts this fit's), also after set_params.
    X, y = iris()
    est = Estimator(hidden_layers=(2,), warm_start=True, epochs=3, n_iter_no_change=np.inf)
    est.fit(X, y)
    assert est.n_iter_ == 3
    est.fit(X, y)
    assert est.n_iter_ == 3
    est.set_params(epochs=20).fit(X, y)
    assert est.n_iter_ == 20
    assert len(est.loss_curve_) == 26 and est.trainer_.epoch_ == 26


@pytest.mark.parametrize("Estimator", [HPClassifier, HPRegressor])
def test_warm_fits_continue_exactly_where_the_last_stopped(Estimator):
    # Two warm fits of 4 epochs are one fit of 8: parameters, optimizer state and
    # shuffling all continue (the Trainer's own continuation is the oracle).
    X, y = iris()
    warm = Estimator(hidden_layers=(8,), epochs=4, warm_start=True, dropout=0.1, seed=1)
    warm.fit(X, y).fit(X, y)
    once = Estimator(hidden_layers=(8,), epochs=8, dropout=0.1, seed=1).fit(X, y)
    assert_same_params(warm.trainer_.params, once.trainer_.params)
    assert warm.loss_curve_ == once.loss_curve_
    # without warm_start a second fit starts over: the same as the first
    cold = Estimator(hidden_layers=(8,), epochs=4, dropout=0.1, seed=1).fit(X, y)
    first = cold.trainer_.params
    cold.fit(X, y)
    assert_same_params(cold.trainer_.params, first)
    assert len(cold.loss_curve_) == 4


def test_warm_start_with_changed_hyperparameters_continues_the_parameters():
    # As scikit-learn: the learned parameters carry over, the new hyperparameters
    # apply, the optimizer starts afresh. Oracle: a Trainer built with the new
    # hyperparameters, given the first fit's parameters, trained by hand.
    X, y = iris()
    clf = HPClassifier(hidden_layers=(8,), epochs=3, warm_start=True, seed=2).fit(X, y)
    first = clf.trainer_.params
    clf.set_params(learning_rate=0.05, optimizer="momentum").fit(X, y)
    hparams = hp.HyperParams(hidden_layers=(8,), epochs=3, seed=2, learning_rate=0.05,
                             optimizer="momentum", validation_split=0.0)
    by_hand = hp.Trainer(hparams).build(4, 3).load_params(first).fit(X, y, verbose=0)
    assert clf.trainer_.hparams == hparams
    assert_same_params(clf.trainer_.params, by_hand.params)
    assert len(clf.loss_curve_) == 6
    with pytest.raises(ValueError, match="hidden_layers changed from \\(8,\\) to \\(4,\\)"):
        clf.set_params(hidden_layers=(4,)).fit(X, y)


def test_warm_start_regressor_needs_the_same_targets():
    X, y = iris()
    reg = HPRegressor(hidden_layers=(4,), epochs=2, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="same number of targets"):
        reg.fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="4 features"):
        reg.fit(X[:, :3], y)


def test_warm_start_after_pickling_continues_the_same():
    X, y = iris()
    clf = HPClassifier(hidden_layers=(8,), epochs=3, warm_start=True, seed=3).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    clf.fit(X, y)
    copy.fit(X, y)
    assert_same_params(copy.trainer_.params, clf.trainer_.params)
    assert copy.loss_curve_ == clf.loss_curve_
