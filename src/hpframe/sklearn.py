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
import numbers
import textwrap

import numpy as np

try:
    from scipy.special import expit, log_expit, log_softmax, softmax
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:      # pragma: no cover - depends on the environment
    raise ImportError(
        "hpframe.sklearn needs scikit-learn >= 1.6, which is not installed (or too old): "
        "pip install scikit-learn") from exc

from hpframe import io as hpio
from hpframe.hparams import FIELDS, SPECS, HyperParams, _suggest, _FIELD_ALIASES
from hpframe.trainer import REGRESSION_LOSSES, Trainer

__all__ = ["HPClassifier", "HPRegressor"]

#: The HyperParams fields, in declared order: every one is a constructor argument.
FIELD_NAMES = tuple(SPECS)
CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")

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
    return "\n".join(lines)


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
    kind = numbers.Integral if spec.type == "int" else numbers.Real
    left = spec.low is not None and not spec.low_open          # an absent bound is open
    right = spec.high is not None and not spec.high_open
    closed = {(True, True): "both", (False, True): "right", (True, False): "left",
              (False, False): "neither"}[(left, right)]
    return [Interval(kind, spec.low, spec.high, closed=closed)] + none


def _constraints_for(losses):
    out = {name: _constraints(spec) for name, spec in SPECS.items()}
    from sklearn.utils._param_validation import StrOptions
    out["loss"] = [StrOptions(set(losses))]
    out["verbose"] = [numbers.Integral]
    return out


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

    # ---- fitted state -----------------------------------------------------------
    def _set_fitted(self, trainer):
        self.trainer_ = trainer
        self.history_ = trainer.history
        self.n_iter_ = trainer.epoch_

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.dtype(self.trainer_.hparams.dtype))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.seed is None
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
            self._set_fitted(hpio.from_bytes(data, cls=Trainer))


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
        Epochs trained (fewer than ``epochs`` after early stopping or divergence).
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
    ``fit`` always starts from a fresh initialisation (drawn from ``seed``):
    fitting twice with the same ``seed`` and data gives bit-identical model
    parameters (on the same machine and BLAS thread count). ``partial_fit``
    instead continues training, one epoch per call.

    Binary problems with ``loss='cross_entropy'`` use two logits;
    ``decision_function`` returns their difference (the log-odds of
    ``classes_[1]``). Multi-label targets (a 0/1 matrix ``y``) are not
    supported here; use :class:`~hpframe.Trainer` with
    ``loss='binary_cross_entropy'``.

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
        return tags

    def __init__(self, hidden_layers=(64,), activation="relu", loss="cross_entropy",
                 optimizer="adam", learning_rate=1e-3, momentum=0.9, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, weight_decay=0.0, batch_size=32, epochs=100,
                 dropout=0.0, validation_split=0.0, patience=None, lr_schedule="constant",
                 lr_step_size=10, lr_gamma=0.1, init="auto", dtype="float32", shuffle=True,
                 seed=0, verbose=0):
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
        self.batch_size = batch_size
        self.epochs = epochs
        self.dropout = dropout
        self.validation_split = validation_split
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.lr_step_size = lr_step_size
        self.lr_gamma = lr_gamma
        self.init = init
        self.dtype = dtype
        self.shuffle = shuffle
        self.seed = seed
        self.verbose = verbose

    def _check_classes(self, classes, loss, what="y"):
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in {what}; got "
                             f"{len(classes)} class: {classes.tolist()!r}")
        if loss == "binary_cross_entropy" and len(classes) > 2:
            raise ValueError(f"Only binary classification is supported with "
                             f"loss='binary_cross_entropy' (one logit); {what} has "
                             f"{len(classes)} classes. Use loss='cross_entropy' for more.")

    def fit(self, X, y):
        """Train a fresh network on ``(X, y)`` for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (numbers; a DataFrame is fine).
        y : array-like of shape (n_samples,)
            Class labels: ints, strings or bools, at least two classes.

        Returns
        -------
        self
        """
        hparams = self._hyperparams()
        X, y = validate_data(self, X, y, dtype=np.dtype(hparams.dtype))
        check_classification_targets(y)
        self._check_classes(np.unique(y), hparams.loss)
        trainer = Trainer(hparams).fit(X, y, verbose=self.verbose)
        self._set_fitted(trainer)
        self.classes_ = trainer.classes_
        return self

    def partial_fit(self, X, y, classes=None):
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
        y : array-like of shape (n_samples,)
            Its class labels, all in ``classes``.
        classes : array-like of shape (n_classes,), optional
            Every class label; required on the first call, and if given later,
            the same as ``classes_``.

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
        first = not hasattr(self, "trainer_")
        if first:
            hparams = self._hyperparams()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit "
                                 "(every class label, e.g. classes=np.unique(y_all)), so "
                                 "the network can be built with one output per class")
        X, y = validate_data(self, X, y, reset=first,
                             dtype=np.dtype(hparams.dtype if first else self.trainer_.hparams.dtype))
        check_classification_targets(y)
        if first:
            classes = np.unique(np.asarray(classes))
            self._check_classes(classes, hparams.loss, what="classes")
            trainer = Trainer(hparams)
            n_outputs = 1 if hparams.loss == "binary_cross_entropy" else len(classes)
            trainer.build(X.shape[1], n_outputs)
            trainer.classes_ = classes        # build() numbers them 0..k-1
        else:
            trainer = self.trainer_
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={np.asarray(classes).tolist()!r} differs from the "
                                 f"classes_ of the first call, {self.classes_.tolist()!r}")
        trainer.fit(X, y, verbose=self.verbose, epochs=1)
        self._set_fitted(trainer)
        self.classes_ = trainer.classes_
        return self

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
        """
        X = self._validate_X(X)
        z = self.trainer_.decision_function(X).astype(np.float64)
        if len(self.classes_) > 2:
            return z
        if z.shape[1] == 1:                 # binary_cross_entropy: one logit
            return z[:, 0]
        return z[:, 1] - z[:, 0]            # cross_entropy: two logits

    def predict(self, X):
        """Predict the class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        d = self.decision_function(X)
        index = d.argmax(axis=1) if d.ndim == 2 else (d > 0).astype(np.intp)
        return self.classes_[index]

    def predict_proba(self, X):
        r"""Class probabilities: the softmax (or, binary, the sigmoid) of the logits.

        .. math::

            p_k = \frac{e^{z_k}}{\sum_j e^{z_j}}, \qquad
            \text{binary: } p_1 = \sigma(d) = \frac{1}{1 + e^{-d}},\ p_0 = \sigma(-d)

        computed in float64 from :meth:`decision_function`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in ``classes_`` order; rows sum to 1.
        """
        d = self.decision_function(X)
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
        Epochs trained (fewer than ``epochs`` after early stopping or divergence).
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
    ``fit`` always starts from a fresh initialisation drawn from ``seed``;
    ``partial_fit`` continues training, one epoch per call.

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
                 beta_2=0.999, epsilon=1e-8, weight_decay=0.0, batch_size=32, epochs=100,
                 dropout=0.0, validation_split=0.0, patience=None, lr_schedule="constant",
                 lr_step_size=10, lr_gamma=0.1, init="auto", dtype="float32", shuffle=True,
                 seed=0, verbose=0):
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
        self.batch_size = batch_size
        self.epochs = epochs
        self.dropout = dropout
        self.validation_split = validation_split
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.lr_step_size = lr_step_size
        self.lr_gamma = lr_gamma
        self.init = init
        self.dtype = dtype
        self.shuffle = shuffle
        self.seed = seed
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _validate_Xy(self, X, y, reset, dtype):
        return validate_data(self, X, y, reset=reset, dtype=dtype, multi_output=True,
                             y_numeric=True)

    def fit(self, X, y):
        """Train a fresh network on ``(X, y)`` for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (numbers; a DataFrame is fine).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Real-valued targets.

        Returns
        -------
        self
        """
        hparams = self._hyperparams()
        X, y = self._validate_Xy(X, y, reset=True, dtype=np.dtype(hparams.dtype))
        trainer = Trainer(hparams).fit(X, y, verbose=self.verbose)
        self._set_fitted(trainer)
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        return self

    def partial_fit(self, X, y):
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
        trainer.fit(X, y, verbose=self.verbose, epochs=1)
        self._set_fitted(trainer)
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
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
