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
from sklearn.utils.estimator_checks import parametrize_with_checks

import hpframe as hp
from hpframe.sklearn import HPClassifier, HPRegressor


# ---- scikit-learn's own estimator checks, with the new options on -------------------

PARTIAL_FIT_REFUSED = ("partial_fit refuses early_stopping=True, as scikit-learn's "
                       "MLPClassifier/MLPRegressor do (each call is one epoch on one batch)")
WARM_REFITS = ("the check fits one estimator twice with two representations of the same y "
               "and compares; with warm_start=True the second fit continues the first (as "
               "scikit-learn's MLP with warm_start does), so the predictions differ")


def expected_failures(est):
    if est.early_stopping:
        out = {name: PARTIAL_FIT_REFUSED for name in (
            "check_fit_score_takes_y", "check_n_features_in_after_fitting",
            "check_estimators_partial_fit_n_features")}
        for data in ("dense", "sparse"):
            out[f"check_sample_weight_equivalence_on_{data}_data"] = (
                "early_stopping holds out a random part of the rows, and repeating rows "
                "changes which are held out")
        if isinstance(est, HPClassifier):
            out["check_class_weight_classifiers"] = (
                "the check's extreme class weights ask for a model that predicts one class "
                "almost always; early_stopping keeps the parameters with the best "
                "validation accuracy, which no class weight touches (as scikit-learn's "
                "validation score), so it keeps an earlier, less skewed model")
        return out
    if est.warm_start:
        out = {"check_supervised_y_2d": WARM_REFITS}
        if isinstance(est, HPClassifier):
            out["check_classifiers_multilabel_representation_invariance"] = WARM_REFITS
        return out
    return {}


# float64: subset invariance holds (see test_sklearn.py); validation_fraction=0.3 so the
# checks' 10-sample data sets leave 2 or more for validation (scikit-learn needs 2 too)
@parametrize_with_checks(
    [HPClassifier(early_stopping=True, validation_fraction=0.3, dtype="float64"),
     HPRegressor(early_stopping=True, validation_fraction=0.3, dtype="float64"),
     HPClassifier(warm_start=True, n_iter_no_change=3, dtype="float64"),
     HPRegressor(warm_start=True, n_iter_no_change=3, dtype="float64")],
    expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks_with_scikit_learn_options(estimator, check):
    check(estimator)


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


# ---- 4. early stopping by scikit-learn's names ---------------------------------------

def replay_stop(values, n_iter_no_change, tol, higher_is_better):
    """scikit-learn's rule, replayed on a recorded curve: the number of epochs trained
    (len(values) if it never fires)."""
    best, count = (-math.inf if higher_is_better else math.inf), 0
    for epoch, v in enumerate(values):
        enough = v >= best + tol if higher_is_better else v <= best - tol
        count = 0 if enough else count + 1
        if (v > best) if higher_is_better else (v < best):
            best = v
        if count > n_iter_no_change:
            return epoch + 1
    return len(values)


@pytest.mark.parametrize("Estimator", [HPClassifier, HPRegressor])
def test_early_stopping_as_scikit_learn_tests_it(Estimator):
    X, y = digits_binary()
    tol = 0.2
    est = Estimator(tol=tol, epochs=3000, early_stopping=True).fit(X, y)
    assert est.n_iter_ < 3000
    assert est.best_loss_ is None
    assert isinstance(est.validation_scores_, list)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ == len(est.loss_curve_)
    assert max(scores) == est.best_validation_score_
    assert est.best_validation_score_ + tol > scores[-2]
    assert est.best_validation_score_ + tol > scores[-1]
    # the rule replayed by hand stops at the same epoch (n_iter_no_change None -> 10)
    assert est.stopping_.n_iter_no_change == 10
    assert est.n_iter_ == replay_stop(scores, 10, tol, higher_is_better=True) < 3000

    est = Estimator(tol=tol, epochs=30, early_stopping=False).fit(X, y)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.n_iter_ == 30                   # n_iter_no_change=None: no tol-stopping


@pytest.mark.parametrize("Estimator, metric, score",
                         [(HPClassifier, "val_accuracy", accuracy_score),
                          (HPRegressor, "val_r2", r2_score)])
def test_early_stopping_holds_out_the_validation_split_and_scores_it(Estimator, metric, score):
    # The held-out part is the one validation_split=validation_fraction makes: the
    # Trainer's own validation metrics (written independently of scikit-learn's
    # metrics) are the same curve as validation_scores_.
    X, y = digits_binary(200)
    est = Estimator(hidden_layers=(8,), epochs=40, early_stopping=True,
                    validation_fraction=0.25, n_iter_no_change=5, tol=0.0).fit(X, y)
    assert est.trainer_.hparams.validation_split == 0.25
    n = est.n_iter_
    split = Estimator(hidden_layers=(8,), epochs=n, validation_split=0.25).fit(X, y)
    assert split.history_.history["val_loss"] == est.history_.history["val_loss"]
    np.testing.assert_allclose(est.validation_scores_, split.history_.history[metric],
                               rtol=1e-6, atol=1e-9)
    # the best epoch's parameters are restored: a fit that ends there has them
    best = int(np.argmax(est.validation_scores_))
    assert est.stopping_.best_epoch == best
    again = Estimator(hidden_layers=(8,), epochs=best + 1, validation_split=0.25).fit(X, y)
    assert_same_params(est.trainer_.params, again.trainer_.params)


def test_validation_fraction_takes_the_place_of_validation_split():
    X, y = digits_binary(200)
    a = HPClassifier(epochs=3, early_stopping=True, validation_split=0.3).fit(X, y)
    b = HPClassifier(epochs=3, early_stopping=True).fit(X, y)
    assert a.trainer_.hparams.validation_split == 0.1
    assert_same_params(a.trainer_.params, b.trainer_.params)


def test_n_iter_no_change_on_the_training_loss():
    # scikit-learn's test_n_iter_no_change: early_stopping=False watches the loss.
    X, y = digits_binary()
    tol = 0.01
    for n in (2, 5, 10):
        clf = HPClassifier(tol=tol, epochs=3000, optimizer="sgd", learning_rate=0.1,
                           n_iter_no_change=n).fit(X, y)
        assert clf.n_iter_ < 3000
        assert clf.stopping_.wait == n + 1             # scikit-learn: _no_improvement_count
        assert clf.n_iter_ == replay_stop(clf.loss_curve_, n, tol, higher_is_better=False)
        assert clf.stopping_.monitor == "loss" and clf.stopping_.min_delta == tol
        assert clf.best_loss_ == min(clf.loss_curve_)


def test_n_iter_no_change_inf_never_stops():
    # scikit-learn's test_n_iter_no_change_inf: every epoch counts as no improvement
    # after the first, and training runs all its epochs.
    X, y = digits_binary()
    clf = HPClassifier(tol=1e9, epochs=60, n_iter_no_change=np.inf).fit(X, y)
    assert clf.n_iter_ == 60
    assert clf.stopping_.wait == clf.n_iter_ - 1


def test_early_stopping_stratified_split_needs_two_of_each_class():
    X = [[1, 2], [2, 3], [3, 4], [4, 5]]
    with pytest.raises(ValueError, match=r"only 1 member.*too few members are: \['1'\]"):
        HPClassifier(early_stopping=True, validation_fraction=0.5).fit(X, [0, 0, 0, 1])
    with pytest.raises(ValueError, match="validation set is too small"):
        HPClassifier(early_stopping=True).fit(X, [0, 0, 1, 1])


def test_early_stopping_with_string_labels_and_multilabel():
    X, y = iris()
    labels = np.array(["class_a", "class_b", "class_c"], dtype=object)[y]
    clf = HPClassifier(early_stopping=True, epochs=50, seed=42).fit(X, labels)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert np.isfinite(clf.validation_scores_).all()
    # multi-label: not stratified, scored by subset accuracy
    X, Y = multilabel(100)
    clf = HPClassifier(early_stopping=True, epochs=5, validation_fraction=0.2).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    split = HPClassifier(epochs=5, validation_split=0.2).fit(X, Y)
    assert split.history_.history["val_loss"] == clf.history_.history["val_loss"]


@pytest.mark.parametrize("Estimator", [HPClassifier, HPRegressor])
def test_warm_start_with_early_stopping_extends_the_scores(Estimator):
    X, y = iris()
    est = Estimator(epochs=10, seed=0, warm_start=True, early_stopping=True)
    est.fit(X, y)
    n_scores = len(est.validation_scores_)
    est.set_params(epochs=20).fit(X, y)
    assert len(est.validation_scores_) > n_scores
    assert len(est.validation_scores_) == len(est.loss_curve_)


@pytest.mark.parametrize("Estimator", [HPClassifier, HPRegressor])
def test_partial_fit_refuses_early_stopping(Estimator):
    X, y = iris()
    est = Estimator(early_stopping=True, epochs=3).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        est.partial_fit(X, y)


@pytest.mark.parametrize("kwargs, field", [
    ({"early_stopping": "yes"}, "early_stopping"),
    ({"warm_start": 1}, "warm_start"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"validation_fraction": 0}, "validation_fraction"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"n_iter_no_change": 2.5}, "n_iter_no_change"),
    ({"tol": -1.0}, "tol"),
    ({"tol": math.nan}, "tol"),
])
def test_bad_scikit_learn_options_are_named(kwargs, field):
    with pytest.raises(ValueError, match=field):
        HPClassifier(**kwargs).fit(*iris())


# ---- 5. no silent NaN model -----------------------------------------------------------

def regression(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, X @ rng.normal(size=5)


@pytest.mark.parametrize("Estimator", [HPClassifier, HPRegressor])
def test_a_fit_ending_with_non_finite_parameters_raises(Estimator):
    X, y = iris() if Estimator is HPClassifier else regression()
    est = Estimator(learning_rate=1e38, batch_size=8)
    with pytest.warns(hp.DivergenceWarning):
        with pytest.raises(ValueError, match=r"not finite \(NaN or infinity in dense_0") as info:
            est.fit(X, y)
    message = str(info.value)
    assert "diverged" in message and "smaller learning_rate (e.g. 1e+37)" in message
    # the Trainer the estimator ran has such parameters: the error is about them
    trainer = hp.Trainer(learning_rate=1e38, batch_size=8, epochs=100, validation_split=0.0,
                         loss="cross_entropy" if Estimator is HPClassifier else "mse")
    with pytest.warns(hp.DivergenceWarning):
        trainer.fit(X, y, verbose=0)
    assert not all(np.isfinite(a).all() for a in trainer.params.values())
    # no half-fitted estimator is left behind
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        est.predict(X)
    # partial_fit raises too
    with pytest.warns(hp.DivergenceWarning), pytest.raises(ValueError, match="partial_fit"):
        if Estimator is HPClassifier:
            Estimator(learning_rate=1e38, batch_size=8).partial_fit(X, y, classes=[0, 1, 2])
        else:
            Estimator(learning_rate=1e38, batch_size=8).partial_fit(X, y)


def test_a_diverged_run_that_restored_finite_best_parameters_does_not_raise():
    X, y = iris()
    clf = HPClassifier(hidden_layers=(8,), epochs=5, early_stopping=True, warm_start=True,
                       batch_size=8).fit(X, y)
    best = clf.trainer_.params
    with pytest.warns(hp.DivergenceWarning):
        clf.set_params(learning_rate=1e38).fit(X, y)       # diverges in its first epoch
    assert clf.history_.diverged
    assert all(np.isfinite(a).all() for a in clf.trainer_.params.values())
    assert_same_params(clf.trainer_.params, best)          # the best epoch's, restored
    assert np.isfinite(clf.predict_proba(X)).all()


def test_trainer_predict_on_non_finite_parameters_warns_by_name():
    X, y = regression()
    trainer = hp.Trainer(loss="mse", learning_rate=1e38, batch_size=8, validation_split=0.0)
    with pytest.warns(hp.DivergenceWarning):
        trainer.fit(X, y, verbose=0)
    with pytest.warns(hp.DivergenceWarning, match=r"not finite \(NaN or infinity in dense_0"):
        out = trainer.predict(X)
    assert not np.isfinite(out).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # a sound model: no warning
        hp.Trainer(loss="mse", validation_split=0.0).fit(X, y, verbose=0).predict(X)


def test_trainer_predict_warns_when_outputs_overflow_with_finite_parameters():
    trainer = hp.Trainer(hidden_layers=(), loss="mse").build(2, 1)
    trainer.load_params({"dense_0.weight": np.full((2, 1), 1e30), "dense_0.bias": np.zeros(1)})
    X = np.array([[1.0, 1.0], [1e20, 1e20]])
    with pytest.warns(RuntimeWarning, match="overflowed float32") as record:
        out = trainer.predict(X)
    assert not any(isinstance(w.message, hp.DivergenceWarning) for w in record)
    assert np.isfinite(out[0]) and not np.isfinite(out[1])     # 2e30 fits, 2e50 does not


@pytest.mark.parametrize("loss, y_kind", [("cross_entropy", "labels"), ("mse", "values")])
def test_history_of_a_first_epoch_divergence_keeps_its_val_keys(loss, y_kind):
    X, y = regression()
    if y_kind == "labels":
        y = (y > 0).astype(int)
    trainer = hp.Trainer(loss=loss, learning_rate=1e38, batch_size=8, validation_split=0.2)
    with pytest.warns(hp.DivergenceWarning):
        trainer.fit(X, y, verbose=0)
    h = trainer.history
    assert h.diverged and len(h) == 1
    expected = {"val_loss", "val_accuracy"} if y_kind == "labels" else \
        {"val_loss", "val_mae", "val_r2"}
    assert {k for k in h.history if k.startswith("val_")} == expected
    assert all(math.isnan(h.history[k][0]) for k in expected)
