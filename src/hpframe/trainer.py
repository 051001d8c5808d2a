r"""The Trainer: hyperparameters in, learned parameters out.

A :class:`Trainer` holds two very different things:

* ``trainer.hparams`` - the *hyperparameters*, chosen by you before training
  and never changed by it (a frozen :class:`~hpframe.HyperParams`);
* ``trainer.params`` - the *model parameters* (weights and biases), learned
  by ``fit`` from the data.

It is also the only place user data is checked and converted: the compiled
core it drives (:class:`hpframe._core.network.Network`) trusts its inputs.
"""
import json
import math
import time
import warnings
import zipfile
from collections import namedtuple

import numpy as np

from hpframe import _validation as V
from hpframe._core import activations as _act
from hpframe._core import losses as _loss
from hpframe._core import Network
from hpframe._core.spec import LOSSES as LOSS_CODES, NetworkSpec
from hpframe._text import Text, pyplot
from hpframe._threads import blas_threads, team_size
from hpframe.callbacks import Callback, EarlyStopping, History, ProgressBar
from hpframe.data import holdout_indices
from hpframe.hparams import HyperParams

__all__ = ["Trainer", "DivergenceWarning", "NotFittedError", "LRFindResult", "gradcheck"]

FORMAT_VERSION = 2

RELU_FAMILY = ("relu", "leaky_relu", "elu", "gelu")
REGRESSION_LOSSES = ("mse", "mae", "huber")

# What the network's outputs mean:
#   multiclass  cross_entropy, one logit per class
#   binary      binary_cross_entropy, y of two classes -> one logit
#   multilabel  binary_cross_entropy, y (n, k) of 0/1 -> k independent logits
#   regression  mse / mae / huber
MULTICLASS, BINARY, MULTILABEL, REGRESSION = "multiclass", "binary", "multilabel", "regression"


class NotFittedError(ValueError, AttributeError):
    """A trained (or built) model was needed: call ``fit`` (or ``build``) first.

    A ``ValueError`` like every refused input, and an ``AttributeError`` as
    scikit-learn's ``NotFittedError`` is.
    """


class DivergenceWarning(RuntimeWarning):
    """Training diverged: the loss became NaN/inf or exploded. See ``history.message``."""


class LRFindResult(namedtuple("LRFindResult", ["learning_rates", "losses", "suggestion"])):
    """Result of :meth:`Trainer.lr_find`: unpacks as ``(learning_rates, losses, suggestion)``."""

    def plot(self, ax=None):
        """Plot loss against learning rate (log axis) and mark the suggestion.

        Returns
        -------
        matplotlib.axes.Axes
        """
        plt = pyplot("LRFindResult.plot()")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.learning_rates, self.losses, label="training loss")
        ax.axvline(self.suggestion, color="C3", linestyle="--",
                   label=f"suggestion {self.suggestion:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss (smoothed)")
        ax.set_title("Learning-rate range test")
        ax.legend()
        return ax


class Trainer:
    r"""Train a dense neural network (a multilayer perceptron) with chosen hyperparameters.

    Parameters
    ----------
    hparams : HyperParams or dict, optional
        The hyperparameters. Instead, pass the fields as keywords:
        ``Trainer(hidden_layers=(32,), learning_rate=0.01)``.
    **fields
        :class:`~hpframe.HyperParams` fields, applied on top of ``hparams``.

    Attributes
    ----------
    hparams : HyperParams
        The hyperparameters: chosen before training, fixed during it.
    params : dict of str to ndarray
        The learned model parameters (copies): ``"dense_0.weight"`` of shape
        ``(n_in, n_out)``, ``"dense_0.bias"`` of shape ``(n_out,)``, ... output layer last.
    history : History
        Per-epoch ``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``, ``lr`` and ``time``.
    classes_ : ndarray
        The class labels, for classification losses.
    seed_ : int
        The seed actually used (drawn from fresh entropy when ``hparams.seed`` is None).

    Examples
    --------
    >>> import hpframe as hp
    >>> X, y = hp.datasets.load_digits()
    >>> trainer = hp.Trainer(hidden_layers=(64,), epochs=20, seed=0)
    >>> trainer.fit(X, y, verbose=0).evaluate(X, y)["accuracy"] > 0.95
    True
    """

    def __init__(self, hparams=None, **fields):
        if hparams is None:
            hparams = HyperParams()
        elif isinstance(hparams, dict):
            hparams = HyperParams.from_dict(hparams)
        elif not isinstance(hparams, HyperParams):
            raise TypeError("Trainer(hparams) takes a HyperParams or a dict of its fields; "
                            f"got {type(hparams).__name__}")
        self._hparams = hparams.replace(**fields) if fields else hparams
        self.seed_ = self._hparams.seed if self._hparams.seed is not None else \
            int(np.random.SeedSequence().entropy)
        self._dtype = np.dtype(self._hparams.dtype)
        self.reset()

    # ---- state ------------------------------------------------------------
    @property
    def hparams(self):
        """The hyperparameters (a frozen :class:`~hpframe.HyperParams`)."""
        return self._hparams

    def reset(self):
        """Forget everything learned: the next ``build``/``fit`` starts from a fresh initialisation.

        Returns
        -------
        Trainer
            ``self``.
        """
        self._net = None
        self._task = None
        self._n_features = self._n_outputs = None
        self.classes_ = None
        self.epoch_ = 0
        self.history = History()
        self.stop_training = False
        return self

    @property
    def is_built(self):
        """True once parameters exist (after ``build`` or ``fit``)."""
        return self._net is not None

    def _require_built(self, what):
        if self._net is None:
            raise NotFittedError(f"{what} needs a trained model: call fit(X, y) first "
                               "(or build(n_features, n_outputs) to initialise parameters)")

    @property
    def n_params(self):
        """Number of learned parameters (weights and biases)."""
        self._require_built("n_params")
        return self._net.n_params

    @property
    def params(self):
        """The learned parameters, as a dict of copies (see the class docstring)."""
        self._require_built("params")
        out = {}
        for l in range(self._net.n_layers):
            out[f"dense_{l}.weight"] = self._net.weight(l).copy()
            out[f"dense_{l}.bias"] = self._net.bias(l).copy()
        return out

    def load_params(self, params):
        """Set the learned parameters from a dict shaped like :attr:`params`.

        Parameters
        ----------
        params : dict of str to array-like
            Exactly the keys of :attr:`params`, with the same shapes; finite values.

        Returns
        -------
        Trainer
            ``self``.
        """
        self._require_built("load_params")
        expected = {f"dense_{l}.{kind}" for l in range(self._net.n_layers)
                    for kind in ("weight", "bias")}
        if not isinstance(params, dict) or set(params) != expected:
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(f"params must be a dict with keys {sorted(expected)}; got {got}")
        arrays = {}
        for key, value in params.items():
            l, kind = int(key.split(".")[0][6:]), key.split(".")[1]
            target = self._net.weight(l) if kind == "weight" else self._net.bias(l)
            array = np.asarray(value)
            if array.shape != target.shape:
                raise ValueError(f"params[{key!r}] must have shape {target.shape}; "
                                 f"got {array.shape}")
            if not np.issubdtype(array.dtype, np.floating):
                raise TypeError(f"params[{key!r}] must hold floats; got dtype {array.dtype}")
            if not np.isfinite(array).all():
                raise ValueError(f"params[{key!r}] contains NaN or infinity")
            arrays[key] = (target, array)
        for target, array in arrays.values():
            target[...] = array
        return self

    # ---- building ------------------------------------------------------------
    def build(self, n_features, n_outputs):
        """Allocate and initialise the parameters without training.

        Parameters
        ----------
        n_features : int
            Inputs per sample.
        n_outputs : int
            Output units: the number of classes for ``cross_entropy``; 1 for a
            binary ``binary_cross_entropy`` (more for multi-label); the number of
            targets for regression.

        Returns
        -------
        Trainer
            ``self``. For classification, ``classes_`` is ``0..n_outputs-1`` until
            ``fit`` sees labels.
        """
        for name, value in (("n_features", n_features), ("n_outputs", n_outputs)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        loss = self._hparams.loss
        if loss == "cross_entropy" and n_outputs < 2:
            raise ValueError(f"n_outputs must be >= 2 for loss='cross_entropy' (one per "
                             f"class); got {n_outputs}. For two classes with one output use "
                             "loss='binary_cross_entropy'")
        if loss == "cross_entropy":
            task = MULTICLASS
        elif loss == "binary_cross_entropy":
            task = BINARY if n_outputs == 1 else MULTILABEL
        else:
            task = REGRESSION
        classes = None if task == REGRESSION else np.arange(2 if task == BINARY else n_outputs)
        self._allocate(int(n_features), int(n_outputs), task, classes)
        return self

    def _seed_children(self):
        """Independent streams from ``seed_``: initial weights, the network's
        shuffling/dropout, the validation split."""
        return np.random.SeedSequence(self.seed_).spawn(3)

    def _allocate(self, n_features, n_outputs, task, classes, n_train=None):
        seeds = self._seed_children()
        self._net = Network(NetworkSpec.from_hparams(self._hparams, n_features, n_outputs,
                                                     n_train, seeds[1]))
        self._init_params(np.random.default_rng(seeds[0]))
        self._task, self._n_features, self._n_outputs = task, n_features, n_outputs
        self.classes_ = classes
        self.epoch_ = 0

    def _init_params(self, rng):
        r"""He (relu family) or Glorot initialisation of every weight; biases zero.

        He: :math:`W \sim N(0, 2/n_{in})`; Glorot:
        :math:`W \sim U(-a, a),\ a = \sqrt{6 / (n_{in} + n_{out})}`.
        """
        init = self._hparams.init
        if init == "auto":
            init = "he" if self._hparams.activation in RELU_FAMILY else "glorot"
        for l in range(self._net.n_layers):
            W = self._net.weight(l)
            n_in, n_out = W.shape
            if init == "he":
                W[...] = rng.normal(0.0, math.sqrt(2.0 / n_in), size=W.shape)
            else:
                limit = math.sqrt(6.0 / (n_in + n_out))
                W[...] = rng.uniform(-limit, limit, size=W.shape)
            self._net.bias(l)[...] = 0

    # ---- data ---------------------------------------------------------------
    def _infer_task(self, y):
        """Task, n_outputs and classes implied by the loss and the first y seen."""
        loss = self._hparams.loss
        if loss in REGRESSION_LOSSES:
            return REGRESSION, None, None
        if loss == "cross_entropy":
            labels = V.check_labels(y)
            classes = np.unique(labels)
            if len(classes) < 2:
                raise ValueError(f"y has a single class ({classes[0]!r}); classification "
                                 "needs at least two")
            return MULTICLASS, len(classes), classes
        y = V.to_numpy(y, "y")
        if y.ndim == 2 and y.shape[1] > 1:
            return MULTILABEL, y.shape[1], np.arange(y.shape[1])
        classes = np.unique(V.check_labels(y))
        if len(classes) != 2:
            raise ValueError(f"loss='binary_cross_entropy' with 1-D y needs exactly two "
                             f"classes; y has {len(classes)}: {classes[:10].tolist()}. For "
                             "more classes use loss='cross_entropy'")
        return BINARY, 1, classes

    def _encode(self, y, name="y"):
        """Targets in the core's form: (int32 labels, float targets) - one of them empty."""
        k = self._n_outputs
        empty_targets = np.zeros((0, k), dtype=self._dtype)
        empty_labels = np.zeros(0, dtype=np.intc)
        if self._task == REGRESSION:
            targets = V.check_targets(y, self._dtype, name)
            if targets.shape[1] != k:
                raise ValueError(f"{name} has {targets.shape[1]} target column(s), but the "
                                 f"model was built for {k}")
            return empty_labels, targets
        if self._task == MULTILABEL:
            targets = V.to_numpy(y, name)
            if targets.ndim != 2 or targets.shape[1] != k:
                raise ValueError(f"{name} must have shape (n_samples, {k}) of 0/1 for this "
                                 f"multi-label model; got {targets.shape}")
            if not np.isin(targets, (0, 1)).all():
                raise ValueError(f"{name} must hold only 0 and 1 for multi-label "
                                 "binary_cross_entropy")
            return empty_labels, np.ascontiguousarray(targets, dtype=self._dtype)
        labels = V.check_labels(y, name)
        classes, n_classes = self.classes_, len(self.classes_)
        if (labels.dtype.kind in "iu" and classes.dtype.kind in "iu" and len(labels)
                and classes[0] == 0 and classes[-1] == n_classes - 1   # 0, 1, ..., k-1
                and labels.min() >= 0 and labels.max() < n_classes):
            codes = labels                   # the labels are their own codes
        else:
            codes = np.searchsorted(classes, labels)
            codes = np.minimum(codes, n_classes - 1)
            unknown = classes[codes] != labels
            if unknown.any():
                raise ValueError(f"{name} has label {labels[unknown][0]!r}, which is not one "
                                 f"of the model's classes {classes.tolist()}")
        if self._task == BINARY:
            return empty_labels, np.ascontiguousarray(codes.reshape(-1, 1), dtype=self._dtype)
        return codes.astype(np.intc), empty_targets

    def _prepare_fit_data(self, X, y):
        """Check X and y; build on first use; return the encoded arrays."""
        X_arr = V.check_features(X, self._dtype,
                                 self._n_features if self._net is not None else None)
        y_arr = V.to_numpy(y, "y")
        V.check_length(X_arr, y_arr)
        if self._net is not None and self._task in (MULTICLASS, BINARY):
            # Continued training: the classes are known, and a batch may hold only
            # some of them; _encode checks every label against classes_.
            return X_arr, y_arr
        task, n_outputs, classes = self._infer_task(y_arr)
        if task == REGRESSION:
            n_outputs = V.check_targets(y_arr, self._dtype).shape[1]
        if self._net is None:
            self._allocate(X_arr.shape[1], n_outputs, task, classes, n_train=len(X_arr))
        elif task != self._task or (task == MULTILABEL and n_outputs != self._n_outputs):
            raise ValueError(f"y implies a {task} model with {n_outputs} outputs, but this "
                             f"trainer was built as {self._task} with {self._n_outputs}; "
                             "call reset() to train a new model")
        return X_arr, y_arr

    # ---- training ------------------------------------------------------------
    def fit(self, X, y, validation_data=None, callbacks=None, verbose=1, epochs=None):
        """Learn the parameters from ``(X, y)``.

        Continues from the current parameters when the trainer is already built
        (call :meth:`reset` to start over).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like
            Class labels ``(n_samples,)`` (any ints or strings) for
            ``cross_entropy``; two classes ``(n_samples,)`` or 0/1 ``(n_samples, k)``
            for ``binary_cross_entropy``; ``(n_samples,)`` or ``(n_samples, k)``
            targets for regression losses.
        validation_data : tuple (X_val, y_val), optional
            Overrides ``hparams.validation_split``.
        callbacks : list of Callback, optional
            E.g. :class:`~hpframe.EarlyStopping`.
        verbose : {0, 1, 2}
            0 silent, 1 a progress bar over epochs, 2 one line per epoch.
        epochs : int, optional
            Epochs to run in this call (default ``hparams.epochs``).

        Returns
        -------
        Trainer
            ``self``.
        """
        hp = self._hparams
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2; got {verbose!r}")
        if epochs is None:
            epochs = hp.epochs
        elif isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1; got {epochs!r}")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances; got {type(cb).__name__}")

        X_all, y_all = self._prepare_fit_data(X, y)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (X_val, y_val)")
            X_train, y_train = X_all, y_all
            X_val = V.check_features(validation_data[0], self._dtype, self._n_features, "X_val")
            y_val = V.to_numpy(validation_data[1], "y_val")
            V.check_length(X_val, y_val, "X_val", "y_val")
        elif hp.validation_split > 0:
            split_seed = int(self._seed_children()[2].generate_state(1)[0])
            try:
                train_idx, val_idx = holdout_indices(
                    y_all, hp.validation_split, seed=split_seed,
                    stratify=self._task in (MULTICLASS, BINARY))
            except ValueError as exc:
                raise ValueError(f"validation_split={hp.validation_split} cannot split these "
                                 f"{len(X_all)} samples: {exc}. Use a smaller "
                                 "validation_split or pass validation_data") from None
            if len(val_idx) == 0 or len(train_idx) == 0:
                raise ValueError(f"validation_split={hp.validation_split} of {len(X_all)} "
                                 "samples leaves an empty training or validation set")
            X_train, y_train = X_all[train_idx], y_all[train_idx]
            X_val, y_val = X_all[val_idx], y_all[val_idx]
        else:
            X_train, y_train, X_val, y_val = X_all, y_all, None, None
        labels, targets = self._encode(y_train)
        val = None
        if X_val is not None:
            val = (X_val, *self._encode(y_val, "y_val"),
                   np.empty((len(X_val), self._n_outputs), dtype=self._dtype))

        batch = min(hp.batch_size, len(X_train))
        if batch > self._net.capacity:
            raise ValueError(f"batch_size {batch} exceeds the buffers this model was built "
                             f"with ({self._net.capacity} rows); call reset() first")
        if hp.patience is not None:
            if val is None:
                raise ValueError(f"patience={hp.patience} stops training when val_loss stops "
                                 "improving, so it needs validation data: set "
                                 "validation_split > 0 or pass validation_data")
            callbacks.append(EarlyStopping(monitor="val_loss", patience=hp.patience,
                                           restore_best_weights=True))
        callbacks.append(ProgressBar(verbose=verbose, epochs=epochs))
        for cb in callbacks:
            cb.set_trainer(self)
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin()
        with blas_threads(1):           # the core's own team of threads shares each step
            self._train_epochs(epochs, callbacks, X_train, labels, targets, val, batch)
        for cb in callbacks:
            cb.on_train_end()
        return self

    def _train_epochs(self, epochs, callbacks, X_train, labels, targets, val, batch):
        hp = self._hparams
        elements = 1 if self._task == MULTICLASS else self._n_outputs
        classify = self._task != REGRESSION
        team = team_size(batch, self._net.n_weights)
        for _ in range(epochs):
            epoch = self.epoch_
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            lr = hp.lr_at(epoch)
            start = time.perf_counter()
            loss_sum, n_correct, n_seen, _, nan_loss = self._net.train_epoch(
                X_train, labels, targets, batch, lr, hp.shuffle, team)
            logs = {"loss": loss_sum / (n_seen * elements) if n_seen else math.nan}
            if classify:
                logs["accuracy"] = n_correct / (n_seen * elements) if n_seen else math.nan
            if nan_loss:
                logs["loss"] = math.nan
            elif val is not None:
                v = self._metrics(*val)
                for key, value in v.items():
                    logs[f"val_{key}"] = value
            logs["lr"] = lr
            logs["time"] = time.perf_counter() - start
            self.history.append(epoch, logs)
            self.epoch_ += 1
            if self._check_divergence(logs["loss"], X_train, epoch, lr):
                break
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                self.history.stopped_early = True
                break

    def _check_divergence(self, loss, X_train, epoch, lr):
        """Stop (without raising) if the loss is NaN/inf or > 10x the first batch's loss."""
        first = self._net.first_loss
        if math.isfinite(loss) and not loss > 10 * first:
            return False
        what = ("became NaN or infinite" if not math.isfinite(loss) else
                f"rose to {loss:.4g}, more than 10x the first batch's loss ({first:.4g})")
        msg = (f"Training diverged in epoch {epoch + 1}: the training loss {what}. The most "
               f"likely cause is a learning rate that is too high (learning_rate={lr:.3g}); "
               f"try about 10x smaller, e.g. {lr / 10:.3g}, or run trainer.lr_find(X, y).")
        dead = self.dead_units(X_train[:2048])
        if dead is not None:
            msg += (f" {dead:.0%} of the hidden {self._hparams.activation} units are dead "
                    "(output 0 for every training sample), so they no longer learn"
                    + (" - a sign of too large updates." if dead > 0.2 else "."))
        self.history.diverged = True
        self.history.message = msg
        warnings.warn(msg, DivergenceWarning, stacklevel=4)
        return True

    def dead_units(self, X):
        """Share of hidden ReLU units that output 0 for every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        float or None
            None when the model has no hidden layer or the activation is not ReLU
            (only ReLU units can be exactly dead).
        """
        self._require_built("dead_units")
        if self._hparams.activation != "relu" or not self._hparams.hidden_layers:
            return None
        h = V.check_features(X, np.float64, self._n_features)
        dead = total = 0
        with np.errstate(all="ignore"):
            for l in range(self._net.n_layers - 1):
                h = np.maximum(h @ self._net.weight(l) + self._net.bias(l), 0)
                alive = (h > 0).any(axis=0)
                dead += int((~alive).sum())
                total += h.shape[1]
        return dead / total

    # ---- prediction ------------------------------------------------------------
    def _outputs(self, X):
        self._require_built("prediction")
        X = V.check_features(X, self._dtype, self._n_features)
        out = np.empty((len(X), self._n_outputs), dtype=self._dtype)
        self._forward_into(X, out)
        return out

    def _forward_into(self, X, out):
        team = team_size(min(len(X), self._net.capacity), self._net.n_weights, training=False)
        with blas_threads(1 if team > 1 else None):
            self._net.predict_into(X, out, team)

    def decision_function(self, X):
        """Raw network outputs: logits for classification, predictions for regression.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
        """
        return self._outputs(X)

    def predict(self, X):
        """Predict class labels (classification) or values (regression).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray
            ``(n_samples,)`` original labels for classification, ``(n_samples, k)``
            0/1 for multi-label; ``(n_samples,)`` or ``(n_samples, k)`` for regression.
        """
        out = self._outputs(X)
        if self._task == MULTICLASS:
            return self.classes_[out.argmax(axis=1)]
        if self._task == BINARY:
            return self.classes_[(out[:, 0] > 0).astype(np.intp)]
        if self._task == MULTILABEL:
            return (out > 0).astype(np.int64)
        return out[:, 0].copy() if self._n_outputs == 1 else out

    def predict_proba(self, X):
        """Class probabilities (classification only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray
            ``(n_samples, n_classes)`` softmax probabilities, ``(n_samples, 2)`` for
            binary (columns in ``classes_`` order), or ``(n_samples, k)`` independent
            probabilities for multi-label.
        """
        if self._task == REGRESSION:
            raise ValueError(f"predict_proba is for classification; loss="
                             f"{self._hparams.loss!r} is a regression loss (use predict)")
        out = self._outputs(X)
        if self._task == MULTICLASS:
            proba = np.empty_like(out)
            _act.softmax_into(out, proba)
            return proba
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + np.exp(-out.astype(np.float64)))
        p = p.astype(self._dtype)
        return np.column_stack([1 - p[:, 0], p[:, 0]]) if self._task == BINARY else p

    def evaluate(self, X, y):
        """Loss and metrics on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like
            Targets in the form ``fit`` takes.

        Returns
        -------
        dict
            ``{"loss", "accuracy"}`` for classification, ``{"loss", "mae", "r2"}`` for
            regression.
        """
        self._require_built("evaluate")
        X = V.check_features(X, self._dtype, self._n_features)
        y = V.to_numpy(y, "y")
        V.check_length(X, y)
        labels, targets = self._encode(y)
        out = np.empty((len(X), self._n_outputs), dtype=self._dtype)
        return self._metrics(X, labels, targets, out)

    def _metrics(self, X, labels, targets, out):
        self._forward_into(X, out)
        n, k = out.shape
        flat = out.reshape(-1)
        if self._task == MULTICLASS:
            loss = _loss.cross_entropy_into(flat, labels, k, 1.0, flat[:0]) / n
            return {"loss": loss, "accuracy": float(np.mean(out.argmax(axis=1) == labels))}
        code = LOSS_CODES[self._hparams.loss]
        loss = _loss.elementwise_loss_into(code, flat, targets.reshape(-1), 1.0, flat[:0]) / (n * k)
        if self._task != REGRESSION:
            return {"loss": loss, "accuracy": float(np.mean((out > 0) == (targets > 0.5)))}
        t = targets.astype(np.float64)
        resid = ((t - out) ** 2).sum(axis=0)
        spread = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(spread > 0, 1 - resid / spread, 0.0)
        return {"loss": loss, "mae": float(np.abs(t - out).mean()), "r2": float(r2.mean())}

    # ---- inspection ------------------------------------------------------------
    def summary(self):
        """A per-layer table: shapes, parameter counts and bytes, and the hyperparameters' cost.

        Returns
        -------
        str
            Printable text (shown as-is in a notebook).
        """
        self._require_built("summary")
        from hpframe.memory import estimate_memory
        item = self._dtype.itemsize
        hp = self._hparams
        rows = [("layer", "shape (in -> out)", "activation", "parameters", "bytes")]
        for l in range(self._net.n_layers):
            n_in, n_out = self._net.weight(l).shape
            count = n_in * n_out + n_out
            act = hp.activation if l < self._net.n_layers - 1 else "(output)"
            rows.append((f"dense_{l}", f"{n_in} -> {n_out}", act, f"{count:,}",
                         _fmt_bytes(count * item)))
        rows.append(("total", "", "", f"{self.n_params:,}", _fmt_bytes(self.n_params * item)))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        line = "  ".join("-" * w for w in widths)
        text = [line]
        for i, r in enumerate(rows):
            text.append("  ".join(c.ljust(w) if j < 3 else c.rjust(w)
                                  for j, (c, w) in enumerate(zip(r, widths))))
            if i in (0, len(rows) - 2):
                text.append(line)
        text.append(line)
        mem = estimate_memory(hp, self._n_features, self._n_outputs, n_samples=0)
        text.append(f"optimizer state ({hp.optimizer}): {_fmt_bytes(mem['optimizer_state'])}; "
                    f"gradients: {_fmt_bytes(mem['gradients'])}; per-batch activations "
                    f"(batch_size={hp.batch_size}): {_fmt_bytes(mem['activations'])}")
        text.append(f"dtype {hp.dtype}; trained for {self.epoch_} epoch(s)")
        return Text("\n".join(text))

    def __repr__(self):
        changed = {k: v for k, v in self._hparams.to_dict().items()
                   if v != getattr(HyperParams(), k)}
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"Trainer({args})"

    # ---- files -----------------------------------------------------------------
    def save(self, path):
        """Save parameters, optimizer state, hyperparameters and history to one ``.npz`` file.

        The file holds arrays and JSON only (never pickle); :meth:`load` restores a
        trainer whose next ``fit`` continues exactly as if it had never been saved.

        Parameters
        ----------
        path : str, path-like or binary file object
        """
        self._require_built("save")
        net = self._net
        meta = {
            "format": "hpframe.Trainer", "format_version": FORMAT_VERSION,
            "hparams": self._hparams.to_dict(), "seed_": self.seed_, "task": self._task,
            "n_features": self._n_features, "n_outputs": self._n_outputs,
            "classes": None if self.classes_ is None else self.classes_.tolist(),
            "classes_kind": None if self.classes_ is None else self.classes_.dtype.kind,
            "epoch": self.epoch_, "step": net.step, "first_loss": net.first_loss,
            "shuffle_rng": net.shuffle_rng.state,
            "dropout_rngs": [r.state for r in net.dropout_rngs],
            "history": self.history.to_dict(),
        }
        arrays = dict(params=net.params, state_1=net.state_1, state_2=net.state_2,
                      meta=np.array(json.dumps(meta)))
        if hasattr(path, "write"):
            np.savez(path, **arrays)
        else:
            with open(path, "wb") as f:      # exactly this name: np.savez would add ".npz"
                np.savez(f, **arrays)

    @classmethod
    def load(cls, path):
        """Load a trainer saved by :meth:`save` (arrays and JSON only; never executes code).

        Parameters
        ----------
        path : str, path-like or binary file object

        Returns
        -------
        Trainer
        """
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (ValueError, EOFError, zipfile.BadZipFile) as exc:   # a missing file: OSError
            raise ValueError(f"{path} is not a readable hpframe model file: {exc}") from None
        if set(arrays) != {"params", "state_1", "state_2", "meta"}:
            raise ValueError(f"{path} is not an hpframe model file (arrays {sorted(arrays)})")
        try:
            meta = json.loads(str(arrays["meta"]))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: corrupt metadata: {exc}") from None
        if meta.get("format") != "hpframe.Trainer" or \
                meta.get("format_version") not in (1, FORMAT_VERSION):
            raise ValueError(f"{path}: unsupported format {meta.get('format')!r} version "
                             f"{meta.get('format_version')!r} (this hpframe reads versions "
                             f"1 to {FORMAT_VERSION})")
        # version 1 had one dropout generator for all hidden layers
        rng_key = "dropout_rngs" if meta["format_version"] >= 2 else "dropout_rng"
        missing = sorted({"hparams", "seed_", "classes", "classes_kind", "n_features",
                          "n_outputs", "task", "step", "first_loss", "shuffle_rng", rng_key,
                          "epoch", "history"} - set(meta))
        if missing:
            raise ValueError(f"{path}: corrupt metadata: no {', '.join(missing)}")
        trainer = cls(HyperParams.from_dict(meta["hparams"]))
        trainer.seed_ = meta["seed_"]
        classes = meta["classes"]
        if classes is not None:
            classes = np.asarray(classes, dtype=None if meta["classes_kind"] in "iufb" else str)
        trainer._allocate(meta["n_features"], meta["n_outputs"], meta["task"], classes)
        net = trainer._net
        for name in ("params", "state_1", "state_2"):
            target, saved = getattr(net, name), arrays[name]
            if saved.shape != target.shape or saved.dtype != target.dtype:
                raise ValueError(f"{path}: {name} has shape {saved.shape} and dtype "
                                 f"{saved.dtype}; expected {target.shape} {target.dtype}")
            target[...] = saved
        net.set_step(meta["step"])
        net.first_loss = meta["first_loss"]
        net.shuffle_rng.state = meta["shuffle_rng"]
        if rng_key == "dropout_rngs":
            states = meta["dropout_rngs"]
            if not isinstance(states, list) or len(states) != len(net.dropout_rngs):
                raise ValueError(f"{path}: dropout_rngs should hold {len(net.dropout_rngs)} "
                                 f"generator states, one per hidden layer; it holds "
                                 f"{len(states) if isinstance(states, list) else states!r}")
        else:
            # version 1's one generator becomes the first layer's (the same masks for
            # one hidden layer; deeper networks continue with fresh masks below it)
            states = [meta["dropout_rng"]]
        for rng, state in zip(net.dropout_rngs, states):
            rng.state = state
        trainer.epoch_ = meta["epoch"]
        trainer.history = History.from_dict(meta["history"])
        return trainer

    # ---- learner tools -----------------------------------------------------------
    def lr_find(self, X, y, start_lr=1e-6, end_lr=1.0, n_steps=100, smoothing=0.9):
        """Learning-rate range test: train on mini-batches while raising the rate exponentially.

        The trainer itself is not changed: the test runs on a fresh copy with the
        same hyperparameters (and the same initialisation).

        Parameters
        ----------
        X, y : array-like
            Training data, as for :meth:`fit`.
        start_lr, end_lr : float
            The sweep's first and last learning rate (``0 < start_lr < end_lr``).
        n_steps : int
            Mini-batches (one learning rate each); the sweep stops early once the loss
            exceeds 4x its minimum.
        smoothing : float
            Exponential smoothing of the recorded loss, in ``[0, 1)``.

        Returns
        -------
        LRFindResult
            ``(learning_rates, losses, suggestion)``; the suggestion is a tenth of the
            rate at the smoothed loss's minimum - a starting point to try, not an
            answer; ``.plot()`` draws the curve.
        """
        if not (0 < start_lr < end_lr) or not math.isfinite(end_lr):
            raise ValueError(f"need 0 < start_lr < end_lr; got start_lr={start_lr}, "
                             f"end_lr={end_lr}")
        if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 5:
            raise ValueError(f"n_steps must be an integer >= 5; got {n_steps!r}")
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1); got {smoothing}")
        probe = Trainer(self._hparams.replace(validation_split=0.0, patience=None))
        probe.seed_ = self.seed_
        X, y = probe._prepare_fit_data(X, y)
        labels, targets = probe._encode(y)
        batch = min(self._hparams.batch_size, len(X))
        rng = np.random.default_rng(self.seed_)
        rates = np.geomspace(start_lr, end_lr, n_steps)
        elements = 1 if probe._task == MULTICLASS else probe._n_outputs
        recorded, losses, avg, best = [], [], 0.0, math.inf
        for i, lr in enumerate(rates):
            rows = rng.choice(len(X), size=batch, replace=False)
            lab = labels[rows] if len(labels) else labels
            tar = targets[rows] if len(targets) else targets
            loss_sum, _, n_seen, _, nan_loss = probe._net.train_epoch(
                np.ascontiguousarray(X[rows]), lab, tar, batch, float(lr), False)
            if nan_loss:
                break
            loss = loss_sum / (n_seen * elements)
            avg = smoothing * avg + (1 - smoothing) * loss
            smoothed = avg / (1 - smoothing ** (i + 1))
            recorded.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            if smoothed > 4 * best:
                break
        rates, losses = np.array(recorded), np.array(losses)
        # A tenth of the rate at the loss minimum: past the minimum the loss is
        # already blowing up, and the steepest-slope point is easily fooled by noise.
        suggestion = float(rates[int(np.argmin(losses))] / 10) if len(losses) else float(start_lr)
        return LRFindResult(rates, losses, suggestion)


def gradcheck(trainer, X, y, n_checks=200, eps=1e-4, seed=0):
    r"""Compare the core's analytic gradients with 4th-order central finite differences.

    Runs in float64 on a copy of the trainer's parameters, with dropout off,
    on (at most the first 64 rows of) ``(X, y)``: for up to ``n_checks``
    randomly chosen parameters :math:`\theta_i`,

    .. math::

        g_i^{num} = \frac{-L(\theta + 2\epsilon e_i) + 8L(\theta + \epsilon e_i)
                    - 8L(\theta - \epsilon e_i) + L(\theta - 2\epsilon e_i)}{12\epsilon},
        \qquad
        \text{error} = \max_i \frac{|g_i - g_i^{num}|}{\max(|g_i| + |g_i^{num}|, 10^{-8})}

    Parameters
    ----------
    trainer : Trainer
        A built or trained trainer.
    X, y : array-like
        Data, as for :meth:`Trainer.fit`.
    n_checks : int
        How many parameters to check.
    eps : float
        Finite-difference step (the stencil's error shrinks as ``eps**4``).
    seed : int
        Chooses the parameters checked.

    Returns
    -------
    float
        The maximum relative error; below about 1e-6 means the gradients are right.
    """
    if not isinstance(trainer, Trainer):
        raise TypeError(f"gradcheck needs a Trainer; got {type(trainer).__name__}")
    hp = trainer.hparams.replace(dtype="float64", dropout=0.0, validation_split=0.0,
                                 patience=None)
    check = Trainer(hp)
    check.seed_ = trainer.seed_
    if trainer.is_built:
        check._allocate(trainer._n_features, trainer._n_outputs, trainer._task, trainer.classes_)
        check.load_params(trainer.params)
    X, y = check._prepare_fit_data(X, y)
    X, y = X[:64], y[:64]
    if len(X) > check._net.capacity:
        X, y = X[:check._net.capacity], y[:check._net.capacity]
    labels, targets = check._encode(y)
    net = check._net
    net.gradients_into(X, labels, targets)
    analytic = net.grads.copy()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(net.n_params, size=min(n_checks, net.n_params), replace=False)
    worst = 0.0
    for i in chosen:
        saved = net.params[i]
        losses = []
        for step in (2, 1, -1, -2):
            net.params[i] = saved + step * eps
            losses.append(net.gradients_into(X, labels, targets))
        net.params[i] = saved
        numeric = (-losses[0] + 8 * losses[1] - 8 * losses[2] + losses[3]) / (12 * eps)
        err = abs(analytic[i] - numeric) / max(abs(analytic[i]) + abs(numeric), 1e-8)
        worst = max(worst, err)
    return float(worst)


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
