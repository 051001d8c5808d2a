r"""scikit-learn estimators: hpframe inside Pipelines, cross-validation and searches.

:class:`HPClassifier` and :class:`HPRegressor` wrap a :class:`~hpframe.Trainer`
in scikit-learn's estimator interface (``fit``, ``predict``, ``score``,
``get_params``/``set_params``), so an hpframe network drops into an existing
scikit-learn notebook: a :class:`~sklearn.pipeline.Pipeline` after a scaler,
:func:`~sklearn.model_selection.cross_val_score`,
:class:`~sklearn.model_selection.RandomizedSearchCV`, :func:`~sklearn.base.clone`.

>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> import hpframe as hp
>>> from hpframe.sklearn import HPClassifier
>>> X, y = hp.datasets.make_blobs(seed=0)
>>> model = make_pipeline(StandardScaler(), HPClassifier(epochs=20)).fit(X, y)
>>> model.score(X, y) > 0.9
True

One word, two meanings
----------------------
scikit-learn calls the constructor arguments of an estimator its
*parameters*: ``get_params()``, ``set_params()``, ``param_distributions`` and
``best_params_`` are about them. In hpframe (and in most of the deep-learning
literature) those are the **hyperparameters**: the knobs you choose *before*
training (learning rate, epochs, batch size, ...). The **model parameters** -
the weights and biases that training learns - are not in ``get_params()`` at
all; after ``fit`` they are in ``estimator.trainer_.params``.

=============================  =====================================================
scikit-learn says              hpframe means
=============================  =====================================================
``est.get_params()``           the hyperparameters (``est.trainer_.hparams`` after fit)
``RandomizedSearchCV``         a search over hyperparameters (``param_distributions``)
``est.trainer_.params``        the learned model parameters (weights and biases)
=============================  =====================================================

scikit-learn is needed only for this module (it is in hpframe's ``test`` extra,
not a runtime dependency): ``pip install scikit-learn``.
"""
import copy
import math
import numbers
import textwrap
import warnings

import numpy as np

try:
    from scipy.special import expit, log_expit, log_softmax, softmax
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import DataConversionWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:      # pragma: no cover - depends on the environment
    raise ImportError(
        "hpframe.sklearn needs scikit-learn >= 1.6, which is not installed (or too old): "
        "pip install scikit-learn") from exc

from hpframe import _validation as V
from hpframe import io as hpio
from hpframe.callbacks import EarlyStopping
from hpframe.data import holdout_indices
from hpframe.hparams import FIELDS, SPECS, HyperParams, _suggest, _FIELD_ALIASES
from hpframe.trainer import REGRESSION_LOSSES, Trainer, check_sample_weight

__all__ = ["HPClassifier", "HPRegressor"]

#: The HyperParams fields, in declared order: every one is a constructor argument.
FIELD_NAMES = tuple(SPECS)
CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")

#: scikit-learn's n_iter_no_change, used when early_stopping=True and n_iter_no_change=None.
SKLEARN_N_ITER_NO_CHANGE = 10
#: scipy.sparse input of any format is taken as CSR (never made dense whole: the
#: compiled core gathers each batch's rows into its dense batch buffer)
SPARSE_FORMATS = ("csr",)       # every other format is converted to CSR once
#: Hyperparameters a warm start cannot change: they decide the network's shape and task.
_ARCHITECTURE = ("hidden_layers", "loss")

# Where the estimators' defaults differ from HyperParams, and why.
_SKLEARN_DEFAULTS = {
    "epochs": (100, "scikit-learn's MLPClassifier trains up to 200 epochs by default, and "
                    "10 rarely suffice on the small data sets scikit-learn estimators "
                    "usually meet, where an epoch is only a few gradient steps"),
    "validation_split": (0.0, "scikit-learn users validate outside the estimator (a "
                              "train/test split, cross_val_score, a search), so by default "
                              "fit trains on all the data it is given"),
}


# --------------------------------------------------------------------------
# Docstrings: the Parameters section is written from hpframe.hparams.FIELDS,
# the same table that HyperParams.describe() and hp.explain() read.
# --------------------------------------------------------------------------
def _hp_default(name):
    return SPECS[name].default


def _field_doc(name, default):
    doc = FIELDS[name]
    hp_default = _hp_default(name)
    kind = SPECS[name].type_text
    text = f"{doc.summary} Allowed: {doc.allowed}."
    if name in _SKLEARN_DEFAULTS:
        text += (f" The default here differs from HyperParams' {hp_default!r}: "
                 f"{_SKLEARN_DEFAULTS[name][1]}.")
    if name == "seed":
        text += (" It plays the role of scikit-learn's ``random_state`` (an int or None, "
                 "not a RandomState).")
    return f"    {name} : {kind}, default={default!r}\n{_wrap(text)}"


def _wrap(text, width=80):
    return textwrap.fill(text, width=width, initial_indent=" " * 8, subsequent_indent=" " * 8)


def _parameters_doc(loss_default, loss_note):
    lines = []
    for name in FIELD_NAMES:
        if name == "loss":
            lines.append(f"    loss : str, default={loss_default!r}\n" + _wrap(loss_note))
        else:
            default = _SKLEARN_DEFAULTS[name][0] if name in _SKLEARN_DEFAULTS else \
                _hp_default(name)
            lines.append(_field_doc(name, default))
    lines.append("    verbose : {0, 1, 2}, default=0\n"
                 "        Not a hyperparameter: what ``fit`` prints. 0 silent (the default "
                 "here, as\n        in scikit-learn), 1 a progress bar over epochs, "
                 "2 one line per epoch.")
    for name, kind, default, text in _SKLEARN_OPTIONS_DOC:
        lines.append(f"    {name} : {kind}, default={default!r}\n" + _wrap(text))
    return "\n".join(lines)


# scikit-learn's names for warm starts and early stopping: not HyperParams fields, but
# options of how the estimator's fit drives the Trainer.
_SKLEARN_OPTIONS_DOC = (
    ("warm_start", "bool", False,
     "scikit-learn's meaning: True makes a second ``fit`` continue from the learned model "
     "parameters (for ``epochs`` more epochs) instead of a fresh initialisation. With the "
     "same hyperparameters it continues exactly where the last fit stopped (optimizer "
     "state included), so two warm fits of n epochs equal one fit of 2n. Changed "
     "hyperparameters (``set_params``) apply to the continued training, with a fresh "
     "optimizer state, as in scikit-learn; ``hidden_layers`` and ``loss`` cannot change. "
     "The classes (or targets) must be the same as in the previous fit."),
    ("early_stopping", "bool", False,
     "scikit-learn's meaning: hold out ``validation_fraction`` of the training data "
     "(stratified for single-label classes; it takes the place of ``validation_split``) "
     "and stop when the validation score (accuracy for HPClassifier - the subset "
     "accuracy for multi-label -, R^2 for HPRegressor) has not improved by at least "
     "``tol`` for ``n_iter_no_change`` epochs in a row (10 if None); the parameters of "
     "the epoch with the best score are restored at the end. Not for ``partial_fit``."),
    ("validation_fraction", "float", 0.1,
     "Share of the training data held out for ``early_stopping``, in (0, 1). Only used "
     "with ``early_stopping=True``."),
    ("n_iter_no_change", "int or None", None,
     "Epochs in a row without an improvement of at least ``tol`` after which training "
     "stops (scikit-learn: stops once the count exceeds it). With ``early_stopping=False`` "
     "the training loss is watched. None (the default here; scikit-learn's is 10): no "
     "tolerance-based stopping unless ``early_stopping=True`` (which then uses 10) - "
     "hpframe treats ``epochs`` as the learner's choice. ``numpy.inf`` never stops."),
    ("tol", "float", 1e-4,
     "The smallest improvement that counts, for ``n_iter_no_change``: the training loss "
     "must fall by ``tol`` (``early_stopping=False``) or the validation score rise by "
     "``tol`` (``early_stopping=True``). It is EarlyStopping's ``min_delta``; see "
     "``stopping_``."),
)


# --------------------------------------------------------------------------
# Parameter constraints, in scikit-learn's vocabulary, from the same declarations
# --------------------------------------------------------------------------
def _constraints(spec):
    """scikit-learn's ``_parameter_constraints`` entry for one declared hyperparameter.

    ``fit`` checks values by building a :class:`~hpframe.HyperParams` (whose
    messages name the closest valid choice); these entries state the same
    ranges for scikit-learn's own tools. They are a little looser where
    HyperParams converts (an int for ``hidden_layers``, ``8.0`` for an int).
    """
    from sklearn.utils._param_validation import Interval, StrOptions

    none = [None] if spec.none_ok else []
    if spec.type in ("choice", "dtype"):
        return [StrOptions(set(spec.choices))] + ([type] if spec.type == "dtype" else [])
    if spec.type == "bool":
        return ["boolean"]
    if spec.type == "layers":
        return [Interval(numbers.Integral, 1, None, closed="left"), "array-like"]
    if spec.type == "class_weight":
        return [StrOptions({"balanced"}), dict, tuple, list, None]
    kind = numbers.Integral if spec.type == "int" else numbers.Real
    left = spec.low is not None and not spec.low_open          # an absent bound is open
    right = spec.high is not None and not spec.high_open
    closed = {(True, True): "both", (False, True): "right", (True, False): "left",
              (False, False): "neither"}[(left, right)]
    return [Interval(kind, spec.low, spec.high, closed=closed)] + none


def _constraints_for(losses):
    out = {name: _constraints(spec) for name, spec in SPECS.items()}
    from sklearn.utils._param_validation import StrOptions
    from sklearn.utils._param_validation import Interval, Options
    out["loss"] = [StrOptions(set(losses))]
    out["verbose"] = [numbers.Integral]
    out["warm_start"] = ["boolean"]
    out["early_stopping"] = ["boolean"]
    out["validation_fraction"] = [Interval(numbers.Real, 0, 1, closed="neither")]
    out["n_iter_no_change"] = [Interval(numbers.Integral, 1, None, closed="left"),
                               Options(numbers.Real, {np.inf}), None]
    out["tol"] = [Interval(numbers.Real, 0, None, closed="left")]
    return out


def _check_options(est):
    """Check the scikit-learn options of ``est``, naming the bad value and what is allowed."""
    for name in ("warm_start", "early_stopping"):
        value = getattr(est, name)
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False; got {value!r}")
    fraction = est.validation_fraction
    if isinstance(fraction, (bool, np.bool_)) or not isinstance(fraction, numbers.Real) \
            or not 0 < fraction < 1:
        raise ValueError(f"validation_fraction must be a number in (0, 1); got {fraction!r}")
    n = est.n_iter_no_change
    if n is not None and not (n == math.inf and isinstance(n, numbers.Real)) and (
            isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n < 1):
        raise ValueError(f"n_iter_no_change must be None, an integer >= 1 or numpy.inf; "
                         f"got {n!r}")
    tol = est.tol
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, numbers.Real) or \
            not 0 <= tol < math.inf:
        raise ValueError(f"tol must be a finite number >= 0; got {tol!r}")


class _ToleranceStopping(EarlyStopping):
    """scikit-learn's MLP stopping rule, on hpframe's EarlyStopping.

    After every epoch the watched value - the training ``loss`` (``score=None``)
    or ``score(trainer)``, the validation score - is compared with the best so
    far: an epoch that does not improve it by at least ``min_delta`` (scikit-learn's
    ``tol``) adds one to ``wait``, any other sets it to 0; the best value (and, with
    a score, the best parameters) follow every strict improvement. Training stops
    when ``wait`` exceeds ``n_iter_no_change``, i.e. reaches ``patience =
    n_iter_no_change + 1``. With a score, the best parameters are loaded when
    training ends, stopped or not. The state carries over from one fit to the next
    (a warm start), as scikit-learn's does.
    """

    def __init__(self, n_iter_no_change, tol, score=None):
        finite = n_iter_no_change != math.inf
        super().__init__(monitor="loss" if score is None else "validation score",
                         min_delta=tol, patience=int(n_iter_no_change) + 1 if finite else 1,
                         restore_best_weights=score is not None,
                         mode="min" if score is None else "max")
        if not finite:
            self.patience = math.inf
        self.n_iter_no_change = n_iter_no_change
        self.score = score
        self.scores = []

    def on_train_begin(self, logs=None):
        """Keep the state of the previous fit (scikit-learn's warm start does)."""

    def on_epoch_end(self, epoch, logs=None):
        """Count the epochs without an improvement of ``min_delta``; stop past the limit."""
        trainer = self._trainer()
        if self.score is None:
            current = float(logs["loss"])
            enough = current <= self.best - self.min_delta
            better = current < self.best
        else:
            current = float(self.score(trainer))
            self.scores.append(current)
            enough = current >= self.best + self.min_delta
            better = current > self.best
        self.wait = 0 if enough else self.wait + 1
        if better:
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = dict(trainer.params)
        if self.wait >= self.patience:
            trainer.stop_training = True
            self.stopped_epoch = epoch

    def on_train_end(self, logs=None):
        """Load the best parameters (with a validation score), as scikit-learn does."""
        if self.restore_best_weights and self.best_weights is not None:
            self._trainer().load_params(self.best_weights)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["trainer"] = state["score"] = None     # re-attached by the next fit
        return state


# --------------------------------------------------------------------------
# Shared machinery
# --------------------------------------------------------------------------
def _trainer_to_bytes(trainer):
    """A trainer as the bytes of its ``.npz`` model file (arrays and JSON, no pickle)."""
    return hpio.to_bytes(trainer)


class _HPEstimator(BaseEstimator):
    """What HPClassifier and HPRegressor share: hyperparameters in, a Trainer out."""

    _kind = None              # "classifier" | "regressor"
    _losses = ()

    # ---- hyperparameters ------------------------------------------------------
    def _hyperparams(self):
        """Validate the constructor arguments by building a HyperParams from them."""
        hparams = HyperParams(**{name: getattr(self, name) for name in FIELD_NAMES})
        if hparams.loss not in self._losses:
            other = "HPRegressor" if self._kind == "classifier" else "HPClassifier"
            raise ValueError(
                f"loss must be one of {', '.join(map(repr, self._losses))} for "
                f"{type(self).__name__}, got {self.loss!r}; for this loss use {other}")
        return hparams

    def set_params(self, **params):
        """Set hyperparameters (and ``verbose``); see :meth:`get_params`.

        Parameters
        ----------
        **params
            Argument names of the constructor and their new values. Like every
            scikit-learn estimator, values are checked only by ``fit``.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            An unknown name; names from scikit-learn's MLP (``max_iter``,
            ``random_state``, ``alpha``, ...) get the matching hpframe name.
        """
        valid = self.get_params(deep=False)
        for key in params:
            if key not in valid:
                hint = _suggest(key, list(valid), _FIELD_ALIASES)
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}{hint}. "
                    f"Valid parameters are: {sorted(valid)!r}.")
        return super().set_params(**params)

    # ---- training ---------------------------------------------------------------
    def _warm(self):
        """True when this ``fit`` continues the fitted model (``warm_start``)."""
        _check_options(self)
        return bool(self.warm_start) and hasattr(self, "trainer_")

    def _warm_trainer(self, hparams):
        """The fitted trainer to continue: itself if only ``epochs`` changed, else a new
        trainer with ``hparams`` holding the learned parameters (fresh optimizer state,
        as scikit-learn's warm start)."""
        old = self.trainer_
        if old.hparams.replace(epochs=hparams.epochs) == hparams:
            return old
        for name in _ARCHITECTURE:
            if getattr(old.hparams, name) != getattr(hparams, name):
                raise ValueError(
                    f"warm_start=True continues the fitted network, but {name} changed from "
                    f"{getattr(old.hparams, name)!r} to {getattr(hparams, name)!r}, which "
                    "needs a new network: set warm_start=False to train one from scratch")
        trainer = Trainer(hparams).build(old.n_features_in_, old.n_outputs_)
        if old.classes_ is not None:
            trainer.classes_ = old.classes_
        return trainer.load_params(old.params)

    def _holdout(self, trainer, X, y, stratify):
        """``early_stopping``'s split: the one ``validation_split=validation_fraction``
        makes in the Trainer (same seed stream), done here so the score can be computed."""
        seed = int(trainer._seed_children()[2].generate_state(1)[0])
        fraction = self.validation_fraction
        try:
            train_idx, val_idx = holdout_indices(y, fraction, seed=seed, stratify=stratify)
        except ValueError as exc:
            raise ValueError(f"early_stopping=True holds out validation_fraction={fraction} "
                             f"of the {V.n_rows(X)} samples, which fails: {exc}") from None
        if stratify:
            missing = np.setdiff1d(np.unique(y), np.unique(y[train_idx]))
            if len(missing):
                labels, counts = np.unique(y, return_counts=True)
                raise ValueError(
                    f"early_stopping=True splits y stratified, but the least populated "
                    f"classes in y have only {counts.min()} member, too few to be in both "
                    f"the training and the validation part. Classes with too few members "
                    f"are: {[str(v) for v in labels[counts < 2]]}")
        if len(val_idx) < 2:
            raise ValueError(f"The validation set is too small for early_stopping=True: "
                             f"validation_fraction={fraction} of {V.n_rows(X)} samples leaves "
                             f"{len(val_idx)}; increase validation_fraction or use more data")
        self._holdout_rows = train_idx              # for sample_weight
        return X[train_idx], y[train_idx], X[val_idx], y[val_idx]

    def _stopping_for(self, warm, validation):
        """The scikit-learn-rule stopping callback for this fit, or None."""
        n = self.n_iter_no_change
        if not self.early_stopping and n is None:
            return None
        n = SKLEARN_N_ITER_NO_CHANGE if n is None else n
        score = None
        if self.early_stopping:
            X_val, y_val = validation
            score = lambda trainer: self._validation_score(trainer, X_val, y_val)  # noqa: E731
        previous = getattr(self, "stopping_", None) if warm else None
        if previous is not None and (previous.score is None) == (score is None):
            previous.n_iter_no_change, previous.min_delta = n, float(self.tol)
            previous.patience = n + 1 if n != math.inf else math.inf
            previous.score = score
            return previous
        return _ToleranceStopping(n, float(self.tol), score)

    def _train(self, X, y, hparams, warm, stratify, sample_weight=None):
        """``fit``'s work: a fresh or continued trainer, early stopping, checks."""
        if self.early_stopping:
            hparams = hparams.replace(validation_split=self.validation_fraction)
        trainer = self._warm_trainer(hparams) if warm else Trainer(hparams)
        sample_weight = check_sample_weight(sample_weight, X.shape[0], np.float64)
        start = len(trainer.history)
        validation = None
        if self.early_stopping:
            X, y, *validation = self._holdout(trainer, X, y, stratify)
            if sample_weight is not None:
                sample_weight = np.asarray(sample_weight)[self._holdout_rows]
        stopping = self._stopping_for(warm, validation)
        trainer.fit(X, y, validation_data=None if validation is None else tuple(validation),
                    callbacks=None if stopping is None else [stopping],
                    verbose=self.verbose, epochs=hparams.epochs, sample_weight=sample_weight)
        self._check_finite(trainer, "fit")
        self._set_fitted(trainer, start, warm, stopping)
        self.n_iter_ = len(trainer.history) - start
        return trainer

    def _check_finite(self, trainer, method):
        """Refuse a model whose parameters are NaN or infinite (scikit-learn raises too)."""
        bad = [key for key, a in trainer.params.items() if not np.isfinite(a).all()]
        if not bad:
            return
        if method == "fit":                  # no half-fitted estimator is left behind
            for name in ("trainer_", "history_", "n_iter_", "loss_curve_", "best_loss_",
                         "validation_scores_", "best_validation_score_", "stopping_",
                         "classes_", "n_outputs_", "n_features_in_", "feature_names_in_"):
                self.__dict__.pop(name, None)
        why = trainer.history.message or "the training loss became NaN or infinite"
        scale = "X (e.g. StandardScaler)" + (" and y" if self._kind == "regressor" else "")
        smaller = trainer.hparams.learning_rate / 10
        raise ValueError(
            f"{type(self).__name__}.{method} ended with model parameters that are not "
            f"finite (NaN or infinity in {', '.join(bad[:4])}), so the model would predict "
            f"NaN. {why} Try a smaller learning_rate (e.g. {smaller:.3g}), scale {scale}, "
            "or early_stopping=True to keep the best finite parameters.")

    # ---- fitted state -----------------------------------------------------------
    def _set_fitted(self, trainer, start=0, warm=False, stopping=None):
        """The fitted attributes from ``trainer``, whose epochs from ``start`` on are new."""
        self.trainer_ = trainer
        self.history_ = trainer.history
        self.n_iter_ = trainer.epoch_
        previous = list(getattr(self, "loss_curve_", [])) if warm else []
        self.loss_curve_ = previous + list(trainer.history.history.get("loss", [])[start:])
        self.stopping_ = stopping
        if stopping is not None and stopping.score is not None:
            self.validation_scores_ = list(stopping.scores)
            self.best_validation_score_ = stopping.best
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = min((v for v in self.loss_curve_ if not math.isnan(v)),
                                  default=math.inf)

    def _validate_X(self, X):
        check_is_fitted(self, "trainer_")
        return validate_data(self, X, reset=False, accept_sparse=SPARSE_FORMATS,
                             dtype=np.dtype(self.trainer_.hparams.dtype))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.seed is None
        tags.input_tags.sparse = True
        return tags

    # ---- pickling: the trainer travels as its .npz model file -------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        trainer = state.pop("trainer_", None)
        state.pop("history_", None)
        if trainer is not None:
            state["_trainer_npz"] = _trainer_to_bytes(trainer)
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_trainer_npz", None)
        super().__setstate__(state)
        if data is not None:
            self.trainer_ = hpio.from_bytes(data, cls=Trainer)
            self.history_ = self.trainer_.history
            if getattr(self, "stopping_", None) is not None:
                self.stopping_.set_trainer(self.trainer_)


# --------------------------------------------------------------------------
# Classifier
# --------------------------------------------------------------------------
class HPClassifier(ClassifierMixin, _HPEstimator):
    """A neural-network classifier (an MLP) trained by hpframe, as a scikit-learn estimator.

    Every :class:`~hpframe.HyperParams` field is a constructor argument, with the
    same default except where noted (``epochs``, ``validation_split``). Values
    are stored unchanged and checked by ``fit``, which builds a
    :class:`~hpframe.HyperParams` from them, so a bad value gets HyperParams'
    error naming the field.

    **Parameters or hyperparameters?** scikit-learn calls these constructor
    arguments the estimator's *parameters* (``get_params()``, ``set_params()``,
    ``best_params_`` of a search). They are the **hyperparameters**: chosen
    before training, never changed by it. The learned **model parameters**
    (weights and biases) are ``trainer_.params`` after ``fit``.

    Parameters
    ----------
%(parameters)s

    Attributes
    ----------
    trainer_ : Trainer
        The trained :class:`~hpframe.Trainer`: ``trainer_.params`` are the learned
        model parameters, ``trainer_.hparams`` the hyperparameters it used,
        ``trainer_.summary()`` a per-layer table.
    classes_ : ndarray of shape (n_classes,)
        The class labels (ints, strings or bools), sorted.
    history_ : History
        Per-epoch ``loss`` and ``accuracy`` (``val_loss``, ``val_accuracy`` with
        ``validation_split > 0``), ``lr`` and ``time``; ``history_.plot()``.
    n_iter_ : int
        Epochs trained by the last ``fit`` (fewer than ``epochs`` after early
        stopping or divergence); after ``partial_fit``, every epoch so far.
    loss_curve_ : list of float
        The training loss of every epoch, over warm-started fits and
        ``partial_fit`` calls (scikit-learn's ``loss_curve_``).
    best_loss_ : float or None
        The lowest training loss in ``loss_curve_``; None with ``early_stopping``.
    validation_scores_ : list of float or None
        With ``early_stopping``: the score on the held-out part after every epoch
        (accuracy; subset accuracy for multi-label), as scikit-learn's; else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_`` (its parameters are the ones kept).
    stopping_ : EarlyStopping or None
        The stopping rule used for ``n_iter_no_change``/``early_stopping``, an
        :class:`~hpframe.EarlyStopping` with scikit-learn's rule: its ``monitor``
        (``'loss'`` or ``'validation score'``), ``min_delta`` (= ``tol``),
        ``patience`` (= ``n_iter_no_change + 1``), ``best_epoch``, ``wait``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names, when ``fit`` was given a DataFrame with string column names.

    See Also
    --------
    HPRegressor : The same network for regression.
    hpframe.Trainer : The underlying trainer, with callbacks, ``lr_find`` and ``save``.

    Notes
    -----
    ``fit`` starts from a fresh initialisation (drawn from ``seed``) unless
    ``warm_start=True``: fitting twice with the same ``seed`` and data gives
    bit-identical model parameters (on the same machine and BLAS thread count).
    ``partial_fit`` instead continues training, one epoch per call.

    Binary problems with ``loss='cross_entropy'`` use two logits;
    ``decision_function`` returns their difference (the log-odds of
    ``classes_[1]``). Multi-label targets (a 0/1 indicator matrix ``y``) train
    one sigmoid per label with binary cross-entropy, averaged over samples *and*
    labels (scikit-learn sums over the labels, so its learning rate corresponds
    to one ``n_labels`` times larger here); ``classes_`` is then
    ``0, ..., n_labels - 1``.

    A fit whose parameters end NaN or infinite raises ``ValueError`` (as
    scikit-learn's does) instead of returning a model that predicts NaN; see
    :doc:`/coming_from_sklearn` for the settings that differ in meaning from
    scikit-learn's MLPClassifier.

    Examples
    --------
    >>> import hpframe as hp
    >>> from hpframe.sklearn import HPClassifier
    >>> X, y = hp.datasets.load_digits()
    >>> clf = HPClassifier(hidden_layers=(32,), epochs=20).fit(X, y)
    >>> clf.get_params()["learning_rate"]          # a hyperparameter (chosen)
    0.001
    >>> clf.trainer_.params["dense_0.weight"].shape   # model parameters (learned)
    (64, 32)
    """

    _kind = "classifier"
    _losses = CLASSIFICATION_LOSSES
    _parameter_constraints = _constraints_for(CLASSIFICATION_LOSSES)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = self.loss != "binary_cross_entropy"
        tags.classifier_tags.multi_label = True
        return tags

    def __init__(self, hidden_layers=(64,), activation="relu", loss="cross_entropy",
                 optimizer="adam", learning_rate=1e-3, momentum=0.9, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, weight_decay=0.0, clip_norm=None, batch_size=32,
                 epochs=100,
                 dropout=0.0, validation_split=0.0, patience=None, lr_schedule="constant",
                 lr_step_size=10, lr_gamma=0.1, lr_warmup_epochs=0, init="auto",
                 dtype="float32", shuffle=True, seed=0, class_weight=None, verbose=0,
                 warm_start=False, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=None, tol=1e-4):
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.batch_size = batch_size
        self.epochs = epochs
        self.dropout = dropout
        self.validation_split = validation_split
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.lr_step_size = lr_step_size
        self.lr_gamma = lr_gamma
        self.lr_warmup_epochs = lr_warmup_epochs
        self.init = init
        self.dtype = dtype
        self.shuffle = shuffle
        self.seed = seed
        self.class_weight = class_weight
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    def _targets(self, y):
        """``y`` checked as class labels; ``(y, multilabel)``, a 2-D 0/1 ``y`` being multi-label."""
        check_classification_targets(y)
        if type_of_target(y) == "multilabel-indicator":
            return np.asarray(y.toarray() if hasattr(y, "toarray") else y), True
        if y.ndim == 2:
            if y.shape[1] != 1:
                raise ValueError(
                    f"{type(self).__name__} takes class labels (a 1-D y) or a multi-label "
                    f"0/1 indicator matrix; got a {type_of_target(y)} y of shape {y.shape}")
            warnings.warn("A column-vector y was passed when a 1d array was expected: "
                          "it is used as y.ravel()", DataConversionWarning, stacklevel=3)
            y = y.ravel()
        return y, False

    @staticmethod
    def _multilabel_hyperparams(hparams):
        """Multi-label trains one sigmoid per label: the default loss becomes binary."""
        return hparams.replace(loss="binary_cross_entropy")

    @property
    def _multilabel(self):
        hparams = self.trainer_.hparams
        return hparams.loss == "binary_cross_entropy" and self.trainer_.n_outputs_ > 1

    def _check_classes(self, classes, loss, what="y"):
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in {what}; got "
                             f"{len(classes)} class: {classes.tolist()!r}")
        if loss == "binary_cross_entropy" and len(classes) > 2:
            raise ValueError(f"Only binary classification is supported with "
                             f"loss='binary_cross_entropy' (one logit); {what} has "
                             f"{len(classes)} classes. Use loss='cross_entropy' for more, or "
                             "a 0/1 indicator matrix y for multi-label.")

    def _check_warm_classes(self, y, multilabel):
        """scikit-learn's rule: a warm start needs the classes of the previous fit."""
        if multilabel != self._multilabel:
            kinds = {True: "a multi-label indicator matrix", False: "class labels"}
            raise ValueError(f"warm_start can only be used where y is of the same kind as in "
                             f"the previous call to fit: it was {kinds[self._multilabel]}, "
                             f"y is {kinds[multilabel]}")
        now = np.arange(y.shape[1]) if multilabel else np.unique(y)
        if len(now) != len(self.classes_) or not np.array_equal(now, self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as "
                             f"in the previous call to fit. Previously got {self.classes_}, "
                             f"`y` has {now}")

    def _validation_score(self, trainer, X_val, y_val):
        """The score ``early_stopping`` watches: accuracy (subset accuracy, multi-label)."""
        return accuracy_score(y_val, trainer.predict(X_val))

    def fit(self, X, y, sample_weight=None):
        """Train a fresh network on ``(X, y)`` for ``epochs`` epochs (or continue: ``warm_start``).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            Training data (numbers; a DataFrame is fine; sparse input is never made
            dense whole, with the same results as the dense ``X``, bit for bit).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (ints, strings or bools, at least two classes), or a 0/1
            indicator matrix for multi-label classification: one sigmoid output
            per label, trained with binary cross-entropy (also when ``loss`` is the
            default ``'cross_entropy'``), as scikit-learn's MLPClassifier does.
        sample_weight : array-like of shape (n_samples,), optional
            Weights >= 0 of the samples in the loss (see :meth:`Trainer.fit
            <hpframe.Trainer.fit>`); ``class_weight`` multiplies in.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            A bad hyperparameter or input; or the trained parameters are not
            finite (training diverged): the message says what to try.
        """
        hparams = self._hyperparams()
        warm = self._warm()
        X, y = validate_data(self, X, y, reset=not warm, dtype=np.dtype(hparams.dtype),
                             accept_sparse=SPARSE_FORMATS,
                             multi_output=True)
        y, multilabel = self._targets(y)
        if multilabel:
            hparams = self._multilabel_hyperparams(hparams)
        else:
            self._check_classes(np.unique(y), hparams.loss)
        if warm:
            self._check_warm_classes(y, multilabel)
        trainer = self._train(X, y, hparams, warm, stratify=not multilabel,
                              sample_weight=sample_weight)
        self.classes_ = trainer.classes_
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on ``(X, y)``, continuing from the current model parameters.

        The first call (on an unfitted estimator) builds the network, which is
        why it needs every class that will ever appear: pass them as
        ``classes``. Later calls continue training and may see any subset of
        the classes. The hyperparameters are read once, when the network is
        built; ``set_params`` takes effect at the next ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Its class labels, all in ``classes``; or a 0/1 indicator matrix
            (multi-label).
        classes : array-like of shape (n_classes,), optional
            Every class label; required on the first call, and if given later,
            the same as ``classes_``. Multi-label: the column indices
            ``0, ..., n_labels - 1``, as in scikit-learn.

        Returns
        -------
        self

        Notes
        -----
        ``partial_fit`` runs one epoch of ``fit``'s procedure on the batch:
        with ``validation_split > 0`` it holds out that share of every batch,
        so leave it at 0 here. ``patience`` and ``n_iter_no_change`` have no
        effect (each call is a single epoch) and ``early_stopping=True`` is
        refused, as in scikit-learn. ``epochs`` of these calls on the same data
        give the same model parameters as ``fit``. Unlike scikit-learn's,
        ``n_iter_`` counts every epoch trained so far.
        """
        _check_options(self)
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True (each call is "
                             "one epoch on one batch); set early_stopping=False")
        first = not hasattr(self, "trainer_")
        if first:
            hparams = self._hyperparams()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit "
                                 "(every class label, e.g. classes=np.unique(y_all)), so "
                                 "the network can be built with one output per class")
        dtype = hparams.dtype if first else self.trainer_.hparams.dtype
        X, y = validate_data(self, X, y, reset=first, multi_output=True, dtype=np.dtype(dtype),
                             accept_sparse=SPARSE_FORMATS)
        y, multilabel = self._targets(y)
        if first:
            classes = np.unique(np.asarray(classes))
            if multilabel:
                self._check_label_indices(classes, y.shape[1])
                trainer = Trainer(self._multilabel_hyperparams(hparams))
                trainer.build(X.shape[1], y.shape[1])
            else:
                self._check_classes(classes, hparams.loss, what="classes")
                trainer = Trainer(hparams)
                n_outputs = 1 if hparams.loss == "binary_cross_entropy" else len(classes)
                trainer.build(X.shape[1], n_outputs)
                trainer.classes_ = classes        # build() numbers them 0..k-1
        else:
            trainer = self.trainer_
            if multilabel != self._multilabel:
                kind = "multi-label" if self._multilabel else "single-label"
                raise ValueError(f"y {'is' if multilabel else 'is not'} a multi-label "
                                 f"indicator matrix, but the model was built {kind}")
            if classes is not None and multilabel:
                self._check_label_indices(np.unique(classes), y.shape[1])
            elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={np.asarray(classes).tolist()!r} differs from the "
                                 f"classes_ of the first call, {self.classes_.tolist()!r}")
        start = len(trainer.history)
        trainer.fit(X, y, verbose=self.verbose, epochs=1, sample_weight=sample_weight)
        self._set_fitted(trainer, start, warm=not first)
        self.classes_ = trainer.classes_
        self._check_finite(trainer, "partial_fit")
        return self

    @staticmethod
    def _check_label_indices(classes, k):
        if not np.array_equal(classes, np.arange(k)):
            raise ValueError(f"For a multi-label y with {k} columns, classes must be the "
                             f"column indices 0, ..., {k - 1} (as in scikit-learn); got "
                             f"{np.asarray(classes).tolist()!r}")

    def decision_function(self, X):
        """Confidence scores: the network's logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            Binary: one score per sample, positive for ``classes_[1]`` (its
            log-odds). More classes: one logit per class, in ``classes_`` order.
            Multi-label: one logit (log-odds) per label.
        """
        X = self._validate_X(X)
        z = self.trainer_.decision_function(X).astype(np.float64)
        if len(self.classes_) > 2 or self._multilabel:
            return z
        if z.shape[1] == 1:                 # binary_cross_entropy: one logit
            return z[:, 0]
        return z[:, 1] - z[:, 0]            # cross_entropy: two logits

    def predict(self, X):
        """Predict the class of each sample (multi-label: the set of labels).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``; multi-label: the 0/1 indicator matrix
            (label ``j`` where its logit is positive, i.e. its probability > 0.5).
        """
        d = self.decision_function(X)
        if self._multilabel:
            return (d > 0).astype(np.int64)
        index = d.argmax(axis=1) if d.ndim == 2 else (d > 0).astype(np.intp)
        return self.classes_[index]

    def predict_proba(self, X):
        r"""Class probabilities: the softmax (or, binary, the sigmoid) of the logits.

        .. math::

            p_k = \frac{e^{z_k}}{\sum_j e^{z_j}}, \qquad
            \text{binary: } p_1 = \sigma(d) = \frac{1}{1 + e^{-d}},\ p_0 = \sigma(-d)

        computed in float64 from :meth:`decision_function`. Multi-label: each
        label's own probability :math:`\sigma(z_j)` (rows need not sum to 1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in ``classes_`` order; rows sum to 1 (not for multi-label).
        """
        d = self.decision_function(X)
        if self._multilabel:
            return expit(d)
        if d.ndim == 2:
            return softmax(d, axis=1)
        return np.column_stack([expit(-d), expit(d)])

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably from the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        d = self.decision_function(X)
        if self._multilabel:
            return log_expit(d)
        if d.ndim == 2:
            return log_softmax(d, axis=1)
        return np.column_stack([log_expit(-d), log_expit(d)])


# --------------------------------------------------------------------------
# Regressor
# --------------------------------------------------------------------------
class HPRegressor(RegressorMixin, _HPEstimator):
    """A neural-network regressor (an MLP) trained by hpframe, as a scikit-learn estimator.

    Every :class:`~hpframe.HyperParams` field is a constructor argument, with the
    same default except where noted (``loss``, ``epochs``,
    ``validation_split``). Values are stored unchanged and checked by ``fit``,
    which builds a :class:`~hpframe.HyperParams` from them, so a bad value gets
    HyperParams' error naming the field.

    **Parameters or hyperparameters?** scikit-learn calls these constructor
    arguments the estimator's *parameters* (``get_params()``, ``set_params()``,
    ``best_params_`` of a search). They are the **hyperparameters**: chosen
    before training, never changed by it. The learned **model parameters**
    (weights and biases) are ``trainer_.params`` after ``fit``.

    Parameters
    ----------
%(parameters)s

    Attributes
    ----------
    trainer_ : Trainer
        The trained :class:`~hpframe.Trainer`: ``trainer_.params`` are the learned
        model parameters, ``trainer_.hparams`` the hyperparameters it used.
    history_ : History
        Per-epoch ``loss`` (``val_loss`` with ``validation_split > 0``), ``lr``
        and ``time``; ``history_.plot()``.
    n_iter_ : int
        Epochs trained by the last ``fit`` (fewer than ``epochs`` after early
        stopping or divergence); after ``partial_fit``, every epoch so far.
    loss_curve_ : list of float
        The training loss of every epoch, over warm-started fits and
        ``partial_fit`` calls (scikit-learn's ``loss_curve_``).
    best_loss_ : float or None
        The lowest training loss in ``loss_curve_``; None with ``early_stopping``.
    validation_scores_ : list of float or None
        With ``early_stopping``: the score on the held-out part after every epoch
        (R^2), as scikit-learn's; else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_`` (its parameters are the ones kept).
    stopping_ : EarlyStopping or None
        The stopping rule used for ``n_iter_no_change``/``early_stopping``, an
        :class:`~hpframe.EarlyStopping` with scikit-learn's rule: its ``monitor``
        (``'loss'`` or ``'validation score'``), ``min_delta`` (= ``tol``),
        ``patience`` (= ``n_iter_no_change + 1``), ``best_epoch``, ``wait``.
    n_outputs_ : int
        Number of targets (columns of ``y``; 1 for a 1-D ``y``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names, when ``fit`` was given a DataFrame with string column names.

    See Also
    --------
    HPClassifier : The same network for classification.
    hpframe.Trainer : The underlying trainer, with callbacks, ``lr_find`` and ``save``.

    Notes
    -----
    The network's output layer has no activation, and the losses are means
    over all elements, so targets far from unit scale make the default
    learning rate too small or too large: scale ``y`` (e.g. with
    :class:`~sklearn.compose.TransformedTargetRegressor`) as you scale ``X``.
    ``fit`` starts from a fresh initialisation drawn from ``seed`` unless
    ``warm_start=True``; ``partial_fit`` continues training, one epoch per call.
    A fit whose parameters end NaN or infinite raises ``ValueError``.
    ``loss='mse'`` is the full mean squared error, scikit-learn's MLPRegressor
    minimises half of it: see :doc:`/coming_from_sklearn`.

    Examples
    --------
    >>> import hpframe as hp
    >>> from hpframe.sklearn import HPRegressor
    >>> X, y = hp.datasets.make_regression(n_samples=200, noise=0.1, seed=0)
    >>> reg = HPRegressor(learning_rate=0.01).fit(X, y)
    >>> reg.score(X, y) > 0.9                  # R^2 on the training data
    True
    """

    _kind = "regressor"
    _losses = REGRESSION_LOSSES
    _parameter_constraints = _constraints_for(REGRESSION_LOSSES)

    def __init__(self, hidden_layers=(64,), activation="relu", loss="mse",
                 optimizer="adam", learning_rate=1e-3, momentum=0.9, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, weight_decay=0.0, clip_norm=None, batch_size=32,
                 epochs=100,
                 dropout=0.0, validation_split=0.0, patience=None, lr_schedule="constant",
                 lr_step_size=10, lr_gamma=0.1, lr_warmup_epochs=0, init="auto",
                 dtype="float32", shuffle=True, seed=0, class_weight=None, verbose=0,
                 warm_start=False, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=None, tol=1e-4):
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.batch_size = batch_size
        self.epochs = epochs
        self.dropout = dropout
        self.validation_split = validation_split
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.lr_step_size = lr_step_size
        self.lr_gamma = lr_gamma
        self.lr_warmup_epochs = lr_warmup_epochs
        self.init = init
        self.dtype = dtype
        self.shuffle = shuffle
        self.seed = seed
        self.class_weight = class_weight
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _validate_Xy(self, X, y, reset, dtype):
        return validate_data(self, X, y, reset=reset, dtype=dtype, multi_output=True,
                             accept_sparse=SPARSE_FORMATS,
                             y_numeric=True)

    def fit(self, X, y, sample_weight=None):
        """Train a fresh network on ``(X, y)`` for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            Training data (numbers; a DataFrame is fine; sparse input is never made
            dense whole, with the same results as the dense ``X``, bit for bit).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Real-valued targets.
        sample_weight : array-like of shape (n_samples,), optional
            Weights >= 0 of the samples in the loss (see :meth:`Trainer.fit
            <hpframe.Trainer.fit>`).

        Returns
        -------
        self
        """
        hparams = self._hyperparams()
        warm = self._warm()
        X, y = self._validate_Xy(X, y, reset=not warm, dtype=np.dtype(hparams.dtype))
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if warm and n_outputs != self.n_outputs_:
            raise ValueError(f"warm_start can only be used where y has the same number of "
                             f"targets as in the previous call to fit: {self.n_outputs_}, "
                             f"y has {n_outputs}")
        self._train(X, y, hparams, warm, stratify=False, sample_weight=sample_weight)
        self.n_outputs_ = n_outputs
        return self

    def _validation_score(self, trainer, X_val, y_val):
        """The score ``early_stopping`` watches: R^2, as scikit-learn's ``score``."""
        return r2_score(y_val, trainer.predict(X_val).astype(np.float64))

    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on ``(X, y)``, continuing from the current model parameters.

        The first call (on an unfitted estimator) builds the network. The
        hyperparameters are read once, then; ``set_params`` takes effect at the
        next ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Its targets (always the same number of targets).

        Returns
        -------
        self

        Notes
        -----
        ``partial_fit`` runs one epoch of ``fit``'s procedure on the batch:
        with ``validation_split > 0`` it holds out that share of every batch,
        so leave it at 0 here. ``patience`` has no effect (each call is a
        single epoch). ``epochs`` of these calls on the same data give the
        same model parameters as ``fit``.
        """
        _check_options(self)
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True (each call is "
                             "one epoch on one batch); set early_stopping=False")
        first = not hasattr(self, "trainer_")
        if first:
            hparams = self._hyperparams()
            X, y = self._validate_Xy(X, y, reset=True, dtype=np.dtype(hparams.dtype))
            trainer = Trainer(hparams)
            trainer.build(X.shape[1], 1 if y.ndim == 1 else y.shape[1])
        else:
            trainer = self.trainer_
            X, y = self._validate_Xy(X, y, reset=False, dtype=np.dtype(trainer.hparams.dtype))
            n_outputs = 1 if y.ndim == 1 else y.shape[1]
            if n_outputs != self.n_outputs_:
                raise ValueError(f"y has {n_outputs} target column(s), but "
                                 f"{type(self).__name__} was fitted with {self.n_outputs_}")
        start = len(trainer.history)
        trainer.fit(X, y, verbose=self.verbose, epochs=1, sample_weight=sample_weight)
        self._set_fitted(trainer, start, warm=not first)
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self._check_finite(trainer, "partial_fit")
        return self

    def predict(self, X):
        """Predict the target(s) of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, ``n_outputs_``)
            float64; 1-D when the model has a single output (like scikit-learn's
            MLPRegressor).
        """
        X = self._validate_X(X)
        return self.trainer_.predict(X).astype(np.float64)


_LOSS_NOTE = {
    "classifier": "What training minimises. 'cross_entropy' (the default): one logit per "
                  "class, softmax fused in; works for two or more classes and any labels. "
                  "'binary_cross_entropy': two classes only, one logit with the sigmoid "
                  "fused in. Regression losses are refused: use HPRegressor.",
    "regressor": "What training minimises: 'mse' (the default; HyperParams' default is "
                 "'cross_entropy', a classification loss), 'mae' or 'huber' (see "
                 "hpframe.explain('loss')). Classification losses are refused: use "
                 "HPClassifier.",
}
if HPClassifier.__doc__:        # None under python -OO
    HPClassifier.__doc__ %= {
        "parameters": _parameters_doc("cross_entropy", _LOSS_NOTE["classifier"])}
    HPRegressor.__doc__ %= {"parameters": _parameters_doc("mse", _LOSS_NOTE["regressor"])}
