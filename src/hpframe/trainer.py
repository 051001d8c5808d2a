r"""The Trainer: hyperparameters in, learned parameters out.

A :class:`Trainer` holds two very different things:

* ``trainer.hparams`` - the *hyperparameters*, chosen by you before training
  and never changed by it (a frozen :class:`~hpframe.HyperParams`);
* ``trainer.params`` - the *model parameters* (weights and biases), learned
  by ``fit`` from the data.

It is also the only place user data is checked and converted: the compiled
core it drives (:class:`hpframe._core.network.Network`) trusts its inputs.
What the outputs mean (classes, probabilities, metrics) is asked of its task
(:mod:`hpframe.tasks`); files are :mod:`hpframe.io`'s job, and ``lr_find``,
``gradcheck`` and ``dead_units`` live in :mod:`hpframe.diagnostics`.
"""
import math
import re
import threading
import time
import warnings

import numpy as np

from hpframe import _validation as V
from hpframe import diagnostics, io, tasks
from hpframe._core import activations as _act
from hpframe._core import losses as _loss
from hpframe._core import Network
from hpframe._core.spec import NetworkSpec
from hpframe._layout import COL_B, COL_N_IN, COL_N_OUT, COL_W, EVAL_ROWS
from hpframe._text import Text
from hpframe._threads import blas_threads, team_size
from hpframe.callbacks import Callback, EarlyStopping, History, ProgressBar
from hpframe.callbacks import _LearningRateState
from hpframe.data import holdout_indices
from hpframe.diagnostics import LRFindResult, gradcheck
from hpframe.hparams import HyperParams
from hpframe.io import FORMAT_VERSION  # noqa: F401 (its old home)
from hpframe.tasks import BINARY, MULTICLASS, MULTILABEL, REGRESSION, REGRESSION_LOSSES

__all__ = ["Trainer", "DivergenceWarning", "NotFittedError", "LRFindResult", "gradcheck"]

LOSS_CODES = tasks.LOSS_CODES
RELU_FAMILY = ("relu", "leaky_relu", "elu", "gelu")
INIT_CHUNK = 1 << 16    # initial weights are drawn this many float64 values at a time
# fit tests an X of at least this many bytes for NaN and infinity while it trains
# (see _defers_finite_check)
DEFER_BYTES = 4 << 20
UNDO_SHARE = 8          # ... and at least this many times the bytes the undo copies


class NotFittedError(ValueError, AttributeError):
    """A trained (or built) model was needed: call ``fit`` (or ``build``) first.

    A ``ValueError`` like every refused input, and an ``AttributeError`` as
    scikit-learn's ``NotFittedError`` is.
    """


class DivergenceWarning(RuntimeWarning):
    """Training diverged: the loss became NaN/inf or exploded. See ``history.message``."""


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
    lr_scale : float
        The factor callbacks put on the scheduled learning rate (1.0 until one
        changes it; see :attr:`lr_scale`). Training state, not a hyperparameter.
    classes_ : ndarray
        The class labels, for classification losses.
    n_features_in_, n_outputs_ : int
        Inputs per sample and output units of a built model.
    seed_ : int
        The seed actually used (drawn from fresh entropy when ``hparams.seed`` is None).

    Notes
    -----
    **Threads.** One trainer may be used from many threads at once:
    ``predict``, ``predict_proba``, ``decision_function``, ``evaluate``,
    ``params`` and ``save`` each take the model for the length of the call, so
    every caller gets exactly the answer it would get alone (concurrent calls
    wait for each other; nothing can deadlock, as a call holds one lock and never
    waits for another). ``fit`` takes the model one epoch at a time, so a
    prediction from another thread during training waits at most one epoch and
    sees the parameters between two epochs. A second ``fit`` (or ``reset``)
    while one is running in another thread is refused with a ``RuntimeError``.

    Examples
    --------
    >>> import hpframe as hp
    >>> X, y = hp.datasets.load_digits()
    >>> trainer = hp.Trainer(hidden_layers=(64,), epochs=20, seed=0)
    >>> trainer.fit(X, y, verbose=0).evaluate(X, y)["accuracy"] > 0.95
    True
    """

    def __init__(self, hparams=None, **fields):
        self._hparams = _as_hparams(hparams, fields)
        self.seed_ = self._hparams.seed if self._hparams.seed is not None else \
            int(np.random.SeedSequence().entropy)
        self._dtype = np.dtype(self._hparams.dtype)
        self._lock = threading.RLock()     # whoever uses the network's buffers holds it
        self._fitting = None               # the thread running fit, if any
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
        _refuse_while_fitting(self, "reset")
        with self._lock:
            self._net = None
            self._task = None
            self._n_features = None
            self.epoch_ = 0
            self._lr_scale = 1.0
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
    def n_features_in_(self):
        """Inputs per sample of the built model."""
        self._require_built("n_features_in_")
        return self._n_features

    @property
    def n_outputs_(self):
        """Output units of the built model (classes, 1 for binary, or targets)."""
        self._require_built("n_outputs_")
        return self._task.n_outputs

    @property
    def classes_(self):
        """The class labels (classification), or None."""
        return None if self._task is None else self._task.classes

    @classes_.setter
    def classes_(self, classes):              # e.g. the labels of a model made by build
        self._require_built("classes_")
        self._task.set_classes(classes)

    @property
    def n_params(self):
        """Number of learned parameters (weights and biases)."""
        self._require_built("n_params")
        return self._net.n_params

    @property
    def params(self):
        """The learned parameters, as a dict of copies (see the class docstring)."""
        self._require_built("params")
        with self._lock:
            return {key: a.copy() for key, a in per_layer(self._net, self._net.params).items()}

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
        return _load_params(self, params)

    # ---- the learning rate: training state that callbacks steer (hpframe.callbacks) ----
    lr_scale = _LearningRateState.lr_scale
    current_lr = _LearningRateState.current_lr
    set_lr = _LearningRateState.set_lr

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
        _check_counts(n_features=n_features, n_outputs=n_outputs)
        task = tasks.for_build(self._hparams.loss, int(n_outputs), self._dtype)
        self._allocate(int(n_features), task, EVAL_ROWS)
        return self

    def _seed_children(self):
        """Streams from ``seed_``: initial weights, shuffling/dropout, validation split."""
        return np.random.SeedSequence(self.seed_).spawn(3)

    def _allocate(self, n_features, task, capacity, initialise=True):
        """A network of ``capacity`` rows for ``task`` (:mod:`hpframe.io` loads through this)."""
        _allocate(self, n_features, task, capacity, initialise)

    # ---- training ------------------------------------------------------------
    def fit(self, X, y, validation_data=None, callbacks=None, verbose=1, epochs=None,
            sample_weight=None):
        """Learn the parameters from ``(X, y)``.

        Continues from the current parameters when the trainer is already built
        (call :meth:`reset` to start over).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            A sparse ``X`` (any format; taken as CSR) is never made dense whole: the
            core gathers each batch's rows into its dense batch buffer, with the
            same results as ``X.toarray()``, bit for bit.
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
        sample_weight : array-like of shape (n_samples,), optional
            How much each sample counts: finite weights >= 0, not all 0. A batch's
            loss (and its gradient) is the weighted mean ``sum(w_i l_i) / sum(w_i)``,
            so an integer weight counts as that many copies of the row; the
            recorded loss and accuracy are weighted the same way. With
            ``validation_split`` the held-out rows keep their weights for the
            validation metrics. ``hparams.class_weight`` multiplies in.

        Returns
        -------
        Trainer
            ``self``.

        Raises
        ------
        ValueError
            For a bad argument, naming it; for NaN or infinity in ``X``, naming
            the first such value. The model is then as it was before the call.
            (A model already built tests a dense ``X`` of 4 MB or more batch by
            batch while its first epoch trains, instead of in a pass of its own
            first: a batch with such a value undoes the epoch's steps before the
            error, so callbacks may have seen the epoch begin.)
        """
        return _fit(self, X, y, validation_data, callbacks, verbose, epochs, sample_weight)

    def train_on_batch(self, X, y, learning_rate=None):
        """One optimizer step on ``(X, y)`` as one batch (dropout on, rows in order); ``epoch_``
        and ``history`` stay as they are (the building block of :meth:`lr_find`).

        Parameters
        ----------
        X, y : array-like
            One batch, as for :meth:`fit`; the model must be built.
        learning_rate : float, optional
            A finite rate >= 0; default: :attr:`current_lr`, the rate the next
            epoch of ``fit`` would use.

        Returns
        -------
        float
            The batch's mean loss before the step (NaN if it was not finite).
        """
        return _train_on_batch(self, X, y, learning_rate)

    def gradients(self, X, y, sample_weight=None):
        """The mean loss on ``(X, y)`` as one batch, and its gradient (no update).

        Returns ``(loss, grads)``: a float and a dict shaped like :attr:`params`.
        ``X, y`` as for :meth:`fit`; the model must be built. With
        ``sample_weight`` (one weight >= 0 per row) the loss is the weighted mean
        ``sum(w_i l_i) / sum(w_i)`` (no class weights).
        """
        return _gradients(self, X, y, sample_weight)

    # ---- prediction ------------------------------------------------------------
    def decision_function(self, X):
        """Raw network outputs: logits for classification, predictions for regression.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
        """
        return _outputs(self, X)

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

        Warns
        -----
        DivergenceWarning
            The model's parameters are not finite (a diverged run): the warning
            names them, and the outputs are NaN. (``RuntimeWarning`` if the
            parameters are finite but the outputs overflowed.) The same holds for
            ``predict_proba`` and ``decision_function``.
        """
        out = _outputs(self, X)
        return self._task.decode(out)

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
        if self._task is not None and not self._task.classify:
            self._task.probabilities(None)              # raises: a regression model
        if self._task is not None and self._task.name == MULTICLASS:
            return _outputs(self, X, softmax=True)      # (the core's softmax, in cache)
        out = _outputs(self, X)
        return self._task.probabilities(out, overwrite=True)    # (out is ours alone)

    def evaluate(self, X, y, sample_weight=None):
        """Loss and metrics on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like
            Targets in the form ``fit`` takes.
        sample_weight : array-like of shape (n_samples,), optional
            Weighted means ``sum(w_i m_i) / sum(w_i)`` of the loss and accuracy (or
            mae), and scikit-learn's weighted r2.

        Returns
        -------
        dict
            ``{"loss", "accuracy"}`` for classification, ``{"loss", "mae", "r2"}`` for
            regression.
        """
        return _evaluate(self, X, y, sample_weight)

    # ---- inspection, files, learner tools -------------------------------------
    def summary(self):
        """A per-layer table: shapes, parameter counts and bytes, and the hyperparameters'
        cost, as printable text (shown as-is in a notebook)."""
        self._require_built("summary")
        return _summary(self)

    __getstate__ = io.pickle_state      # pickle, deepcopy: a built model as its file's bytes
    __setstate__ = io.restore_state

    def __repr__(self):
        return _repr(self)

    def save(self, path):
        """Save parameters, optimizer state, hyperparameters and history to one ``.npz`` file.

        The file holds arrays and JSON only (never pickle); :meth:`load` restores a
        trainer whose next ``fit`` continues exactly as if it had never been saved.
        A path is replaced atomically (see :func:`hpframe.io.save`): a crash or a full
        disk in the middle leaves the previous file intact.

        Parameters
        ----------
        path : str, path-like or binary file object
        """
        io.save(self, path)

    @classmethod
    def load(cls, path):
        """Load a trainer saved by :meth:`save` (arrays and JSON only; never executes code).

        Parameters
        ----------
        path : str, path-like or binary file object

        Returns
        -------
        Trainer
            (A ``ValueError`` naming the entry for anything that is not an intact
            hpframe model file; see :func:`hpframe.io.load`.)
        """
        return io.load(path, cls=cls)

    def lr_find(self, X, y, start_lr=1e-6, end_lr=1.0, n_steps=100, smoothing=0.9):
        """Learning-rate range test: train on mini-batches while raising the rate exponentially.

        Runs on a fresh copy with the same hyperparameters and initialisation (this
        trainer is not changed); the arguments and the :class:`LRFindResult` it
        returns are described in :func:`hpframe.diagnostics.lr_find`.
        """
        return diagnostics.lr_find(self, X, y, start_lr, end_lr, n_steps, smoothing)

    def dead_units(self, X):
        """Share of hidden ReLU units that output 0 for every row of ``X`` (None unless
        the hidden layers are ReLU); see :func:`hpframe.diagnostics.dead_units`."""
        self._require_built("dead_units")
        return diagnostics.dead_units(self, X)


def _refuse_while_fitting(trainer, what):
    owner = trainer._fitting
    if owner is not None and owner != threading.get_ident():
        raise RuntimeError(f"{what} while this Trainer is being trained by fit in another "
                           "thread: wait for that fit to return (predict and evaluate may "
                           "run meanwhile)")


def _as_hparams(hparams, fields):
    """``Trainer(hparams, **fields)``'s hyperparameters: a HyperParams, a dict or None,
    with ``fields`` applied on top."""
    if hparams is None:
        hparams = HyperParams()
    elif isinstance(hparams, dict):
        hparams = HyperParams.from_dict(hparams)
    elif not isinstance(hparams, HyperParams):
        raise TypeError("Trainer(hparams) takes a HyperParams or a dict of its fields; "
                        f"got {type(hparams).__name__}")
    return hparams.replace(**fields) if fields else hparams


def _repr(trainer):
    """``Trainer(...)`` with the hyperparameters that differ from the defaults."""
    changed = {k: v for k, v in trainer.hparams.to_dict().items()
               if v != getattr(HyperParams(), k)}
    args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
    return f"Trainer({args})"


def _check_counts(**counts):
    """``build``'s sizes: integers >= 1 (bools refused), else a ValueError naming them."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")


def _network_for(trainer, n_features, n_outputs, capacity):
    """A new compiled network for ``trainer``'s hyperparameters (seeded from ``seed_``)."""
    hp = trainer.hparams
    return new_network(hp, (n_features, *hp.hidden_layers, n_outputs), capacity,
                       trainer._seed_children()[1])


def _ensure_capacity(trainer, rows):
    """Grow ``trainer``'s per-batch buffers to ``rows`` rows, keeping everything learned."""
    if rows > trainer._net.capacity:
        new = _network_for(trainer, trainer._n_features, trainer._task.n_outputs,
                           max(rows, EVAL_ROWS))
        trainer._net = copy_network(trainer._net, new)


def _load_params(trainer, params):
    """:meth:`Trainer.load_params`: nothing is written unless every array is right."""
    trainer._require_built("load_params")
    with trainer._lock:
        targets = per_layer(trainer._net, trainer._net.params)
        for key, array in checked_params(params, targets).items():
            targets[key][...] = array
    return trainer


def _allocate(trainer, n_features, task, capacity, initialise=True):
    """A network of ``capacity`` rows for ``task`` (initialised from ``seed_`` unless
    ``initialise`` is False); ``trainer`` changes only once it is complete (a
    MemoryError leaves it as it was)."""
    net = _network_for(trainer, n_features, task.n_outputs, capacity)
    if initialise:
        init_weights(net, trainer.hparams, np.random.default_rng(trainer._seed_children()[0]))
    with trainer._lock:
        trainer._net, trainer._task, trainer._n_features = net, task, n_features
        trainer.epoch_ = 0
        trainer._lr_scale = 1.0


def _train_on_batch(trainer, X, y, learning_rate):
    """:meth:`Trainer.train_on_batch`: one step, rows in order, the batch's mean loss."""
    _refuse_while_fitting(trainer, "train_on_batch")
    lr = trainer.current_lr if learning_rate is None else \
        V.check_float("learning_rate", learning_rate, 0)
    with trainer._lock:
        batch = _batch(trainer, "train_on_batch", X, y)
        loss_sum, _, n_seen, _, nan_loss = trainer._net.train_epoch(
            *batch, len(batch[0]), lr, False)
    return math.nan if nan_loss else loss_sum / (n_seen * trainer._task.elements)


def _gradients(trainer, X, y, sample_weight):
    """:meth:`Trainer.gradients`: ``(loss, grads)`` on one batch, no update."""
    with trainer._lock:
        batch = _batch(trainer, "gradients", X, y)
        weights = check_sample_weight(sample_weight, len(batch[0]), trainer._dtype)
        loss = trainer._net.gradients_into(*batch, weights)
        net = trainer._net
        grads = {key: a.copy() for key, a in per_layer(net, net.grads).items()}
    return float(loss), grads


def _batch(trainer, what, X, y):
    """``(X, labels, targets)`` of one batch for a built model, buffers grown to fit."""
    trainer._require_built(what)
    X, y = prepare_fit_data(trainer, X, y)
    if V.is_sparse(X):
        X = X.toarray()             # one batch: dense at the boundary
    _ensure_capacity(trainer, len(X))
    return (X, *trainer._task.encode(y))


def _outputs(trainer, X, softmax=False):
    """The network's raw outputs on ``X`` (checked) - with ``softmax``, each row's
    softmax of them - warning when they are not finite."""
    trainer._require_built("prediction")
    given = X
    # A big X is checked for NaN and infinity by the forward pass itself (one
    # pass over memory less): only if its first sums are not all finite is X
    # checked as usual, which raises for the first bad value of X.
    X = V.check_features(X, trainer._dtype, trainer._n_features, finite=False)
    out = np.empty((X.shape[0], trainer._task.n_outputs), dtype=trainer._dtype)
    if _forward_into(trainer, X, out, softmax):
        V.check_features(given, trainer._dtype, trainer._n_features)
    if not V.all_finite(out):
        _warn_non_finite(trainer, out)
    return out


def _forward_into(trainer, X, out, softmax=False):
    """The forward pass on checked ``X`` (an ndarray or a CSR) into ``out`` (with
    ``softmax``, each row's softmax), holding the model's lock; True if the first
    layer's sums were not all finite (see ``Network.predict_into``)."""
    dense = isinstance(X, np.ndarray)
    with trainer._lock:
        net = trainer._net
        team = team_size(min(X.shape[0], net.capacity), net.n_weights, training=False)
        if team == 1 and dense:
            return net.predict_into(X, out, 1, softmax)   # (BLAS keeps its threads)
        with blas_threads(1 if team > 1 else None):
            if dense:
                return net.predict_into(X, out, team, softmax)
            # sparse: one chunk of the core's own size at a time made dense, so
            # each chunk is computed as the dense X's same rows are (bit for bit)
            chunk = net.capacity
            found = False
            for r0 in range(0, X.shape[0], chunk):
                r1 = min(r0 + chunk, X.shape[0])
                found |= net.predict_into(X[r0:r1].toarray(), out[r0:r1], team, softmax)
            return found


def _metrics(trainer, X, labels, targets, weights=None):
    """The task's loss and metrics on checked, encoded ``(X, labels, targets)``."""
    out = np.empty((V.n_rows(X), trainer._task.n_outputs), dtype=trainer._dtype)
    _forward_into(trainer, X, out)
    return trainer._task.metrics(out, labels, targets, weights)


def _evaluate(trainer, X, y, sample_weight):
    """:meth:`Trainer.evaluate`: check ``(X, y)`` and the weights, then the metrics."""
    trainer._require_built("evaluate")
    X = V.check_features(X, trainer._dtype, trainer._n_features)
    y = V.to_numpy(y, "y")
    V.check_length(X, y)
    labels, targets = trainer._task.encode(y)
    weights = check_sample_weight(sample_weight, V.n_rows(X), trainer._dtype)
    return _metrics(trainer, X, labels, targets, weights)


def _fit(trainer, X, y, validation_data, callbacks, verbose, epochs, sample_weight=None):
    """:meth:`Trainer.fit`: check the arguments, build on first use, split, train."""
    hp = trainer.hparams
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
    end = trainer.epoch_ + epochs
    if hp.lr_schedule == "cosine" and end > hp.epochs:
        warnings.warn(f"lr_schedule='cosine' ends after epochs={hp.epochs}: epochs "
                      f"{max(trainer.epoch_, hp.epochs) + 1} to {end} of this fit train at "
                      "learning rate 0 and change nothing. To train on, use a Trainer with "
                      "more epochs (or another lr_schedule)", UserWarning, stacklevel=3)
    with trainer._lock:
        _refuse_while_fitting(trainer, "fit")
        outer, trainer._fitting = trainer._fitting, threading.get_ident()
    try:
        with trainer._lock:
            defer = _defers_finite_check(trainer, X)
            X_all, y_all = prepare_fit_data(trainer, X, y, finite=not defer)
            weights = check_sample_weight(sample_weight, V.n_rows(X_all), trainer._dtype)
            train, val = split(trainer, X_all, y_all, validation_data, weights)
            if defer and validation_data is None and val is not None and \
                    not V.all_finite(val[0]):
                _raise_not_finite(trainer, X)       # (split's held-out rows of X)
            batch = min(hp.batch_size, V.n_rows(train[0]))
            _ensure_capacity(trainer, batch)
            undo = _Undo(trainer, X) if defer else None
        callbacks = _with_own_callbacks(trainer, callbacks, val is not None, verbose, epochs)
        trainer.stop_training = False
        for cb in callbacks:
            cb.on_train_begin()
        with blas_threads(1):           # the core's own team of threads shares each step
            _run_epochs(trainer, epochs, callbacks, *train, val, batch, undo)
        for cb in callbacks:
            cb.on_train_end()
    finally:
        trainer._fitting = outer
    return trainer


def _run_epochs(trainer, epochs, callbacks, X_train, labels, targets, weights, val, batch,
                undo=None):
    """The fit loop: ``epochs`` epochs of ``trainer``, each taking the model's
    lock for its training and validation, callbacks and divergence checks between.

    With ``undo`` (an :class:`_Undo`) X was not tested for NaN and infinity
    before: the first epoch tests each batch's rows, and one that holds such a
    value undoes the epoch's steps and raises as the test before would have."""
    hp = trainer.hparams
    elements = trainer._task.elements
    for _ in range(epochs):
        epoch = trainer.epoch_
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        lr = hp._lr_at(epoch) * trainer._lr_scale    # a scale of 1.0 changes no bit
        start = time.perf_counter()
        with trainer._lock:
            team = team_size(batch, trainer._net.n_weights)
            loss_sum, n_correct, n_seen, _, nan_loss = trainer._net.train_epoch(
                X_train, labels, targets, batch, lr, hp.shuffle, team, weights,
                undo is not None)
            if undo is not None:
                # a diverged epoch stopped before testing every row: test them now
                if trainer._net.rows_not_finite or (nan_loss and not V.all_finite(X_train)):
                    undo.restore()
                    _raise_not_finite(trainer, undo.X)
                undo = None                 # every row is tested: the next epochs need not
            seen = n_seen if weights is None else trainer._net.weight_sum
            logs = {"loss": loss_sum / (seen * elements) if n_seen else math.nan}
            if trainer._task.classify:
                logs["accuracy"] = n_correct / (seen * elements) if n_seen else math.nan
            if nan_loss:
                logs["loss"] = math.nan
                if val is not None:         # the keys are there, as NaN (documented)
                    names = ("loss", "accuracy") if trainer._task.classify else \
                        ("loss", "mae", "r2")
                    logs.update({f"val_{key}": math.nan for key in names})
            elif val is not None:
                for key, value in _metrics(trainer, *val).items():
                    logs[f"val_{key}"] = value
        logs["lr"] = lr
        logs["time"] = time.perf_counter() - start
        trainer.history._record(epoch, logs)      # (ints and floats of our own)
        trainer.epoch_ += 1
        message = diagnostics.divergence_message(
            trainer, logs["loss"], trainer._net.first_loss, X_train, epoch, lr)
        if message:
            trainer.history.diverged, trainer.history.message = True, message
            warnings.warn(message, DivergenceWarning, stacklevel=4)
            break
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if trainer.stop_training:
            trainer.history.stopped_early = True
            break



def _warn_non_finite(trainer, out):
    """Say why a prediction holds NaN or infinity, naming the parameters at fault."""
    bad = [key for key, a in trainer.params.items() if not np.isfinite(a).all()]
    share = float(np.mean(~np.isfinite(out)))
    if bad:
        names = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        warnings.warn(
            f"The model's parameters are not finite (NaN or infinity in {names}), so "
            f"{share:.0%} of the predicted outputs are NaN or infinite. Training diverged"
            + (f": {trainer.history.message}" if trainer.history.message else
               " (see trainer.history)")
            + " Retrain (reset(), then fit) with a smaller learning_rate.",
            DivergenceWarning, stacklevel=4)
    else:
        warnings.warn(
            f"{share:.0%} of the predicted outputs are NaN or infinite although the "
            f"model's parameters are finite: the outputs overflowed {trainer._dtype.name} "
            "on these inputs. Rescale X as it was for training (e.g. standardise it) or "
            "use dtype='float64'.", RuntimeWarning, stacklevel=4)


def _with_own_callbacks(trainer, callbacks, has_val, verbose, epochs):
    """The user's callbacks, early stopping for the ``patience`` hyperparameter and the
    progress bar (none with ``verbose=0``: it would print nothing), each attached to
    ``trainer``."""
    patience = trainer.hparams.patience
    if patience is not None:
        if not has_val:
            raise ValueError(f"patience={patience} stops training when val_loss stops "
                             "improving, so it needs validation data: set "
                             "validation_split > 0 or pass validation_data")
        callbacks.append(EarlyStopping(monitor="val_loss", patience=patience,
                                       restore_best_weights=True))
    if verbose:
        callbacks.append(ProgressBar(verbose=verbose, epochs=epochs))
    for cb in callbacks:
        cb.set_trainer(trainer)
    return callbacks


def _defers_finite_check(trainer, X):
    """Whether ``fit`` tests ``X`` for NaN and infinity while it trains rather than in
    a pass of its own first.

    A pass over a big X runs at the speed of memory (5.6 ms for 60,000 x 784
    float32 on a 2-core AMD EPYC; 3% of an epoch at batch 64, paid by every
    ``fit(epochs=1)``), while the core tests each batch's rows in cache for
    about 1 ms an epoch (``Network.train_epoch(check_rows=True)``). A batch with
    such a value then stops the epoch, and fit undoes the steps before it
    (:class:`_Undo`) and raises the same error. Only for a model already built
    (a failed first fit leaves the trainer unbuilt) and a dense X of at least
    ``DEFER_BYTES`` bytes, ``UNDO_SHARE`` times what the undo copies at least.
    """
    net = trainer._net
    if net is None or type(X) is not np.ndarray or X.nbytes < DEFER_BYTES:
        return False
    kept = net.params.nbytes + net.state_1.nbytes + net.state_2.nbytes
    return UNDO_SHARE * kept <= X.nbytes


class _Undo:
    """What an epoch changes in ``trainer``'s network (parameters, optimizer state
    and step, generators), kept to undo it; and the ``X`` given to ``fit``."""

    def __init__(self, trainer, X):
        net = self.net = trainer._net
        self.X = X
        self.arrays = [a.copy() for a in (net.params, net.state_1, net.state_2)]
        self.step, self.first_loss = net.step, net.first_loss
        self.rngs = [rng.state for rng in (net.shuffle_rng, *net.dropout_rngs)]

    def restore(self):
        net = self.net
        for target, kept in zip((net.params, net.state_1, net.state_2), self.arrays):
            target[...] = kept
        net.set_step(self.step)
        net.first_loss = self.first_loss
        for rng, state in zip((net.shuffle_rng, *net.dropout_rngs), self.rngs):
            rng.state = state


def _raise_not_finite(trainer, X):
    """Raise the error ``fit``'s test of ``X`` raises for NaN or infinity (naming the
    first bad value), found later than usual (see _defers_finite_check)."""
    V.check_features(X, trainer._dtype, trainer._n_features)
    raise ValueError("X contains NaN or infinity; remove or impute them")  # (X changed)


def prepare_fit_data(trainer, X, y, finite=True):
    """``(X, y)`` checked, as arrays; builds ``trainer`` on first use (its shapes, task
    and classes from them). With ``finite=False`` a big X is not tested for NaN and
    infinity (see :func:`hpframe._validation.check_features`)."""
    X_arr = V.check_features(X, trainer._dtype,
                             trainer._n_features if trainer._net is not None else None,
                             finite=finite)
    y_arr = V.to_numpy(y, "y")
    V.check_length(X_arr, y_arr)
    if trainer._net is not None and trainer._task.name in (MULTICLASS, BINARY):
        # Continued training: the classes are known, and a batch may hold only
        # some of them; encode checks every label against classes_.
        return X_arr, y_arr
    task = tasks.infer(trainer.hparams.loss, y_arr, trainer._dtype)
    if trainer._net is None:
        rows = max(min(trainer.hparams.batch_size, V.n_rows(X_arr)), EVAL_ROWS)
        trainer._allocate(X_arr.shape[1], task, rows)
    elif task.name != trainer._task.name or \
            (task.name == MULTILABEL and task.n_outputs != trainer._task.n_outputs):
        raise ValueError(f"y implies a {task.name} model with {task.n_outputs} outputs, "
                         f"but this trainer was built as {trainer._task.name} with "
                         f"{trainer._task.n_outputs}; call reset() to train a new model")
    return X_arr, y_arr


def per_layer(net, flat):
    """Views of a flat buffer laid out like ``net.params``, by parameter name."""
    views = {}
    for l in range(net.n_layers):
        n_in, n_out, w, b = (int(net.layout[l, c]) for c in (COL_N_IN, COL_N_OUT, COL_W, COL_B))
        views[f"dense_{l}.weight"] = flat[w:w + n_in * n_out].reshape(n_in, n_out)
        views[f"dense_{l}.bias"] = flat[b:b + n_out]
    return views


def checked_params(params, targets):
    """``params`` as arrays after checking them against ``targets`` (names, shapes, finite
    floats): nothing is written unless everything is right."""
    if not isinstance(params, dict) or set(params) != set(targets):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with keys {sorted(targets)}; got {got}")
    arrays = {}
    for key, value in params.items():
        array = np.asarray(value)
        if array.shape != targets[key].shape:
            raise ValueError(f"params[{key!r}] must have shape {targets[key].shape}; "
                             f"got {array.shape}")
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"params[{key!r}] must hold floats; got dtype {array.dtype}")
        if not np.isfinite(array).all():
            raise ValueError(f"params[{key!r}] contains NaN or infinity")
        arrays[key] = array
    return arrays


def check_sample_weight(sample_weight, n, dtype):
    """``sample_weight`` as a contiguous ``(n,)`` array of ``dtype``, or None."""
    if sample_weight is None:
        return None
    w = V.to_numpy(sample_weight, "sample_weight")
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"sample_weight must hold one weight per sample: shape ({n},); "
                         f"got shape {w.shape}")
    if w.dtype.kind not in "iuf" or w.dtype == np.bool_:
        raise TypeError(f"sample_weight must hold numbers; got dtype {w.dtype}")
    w = w.astype(np.float64)
    if not np.isfinite(w).all() or (w < 0).any():
        bad = w[~np.isfinite(w) | (w < 0)][0]
        raise ValueError(f"sample_weight must be finite and >= 0; got {bad!r}")
    if not w.sum() > 0:
        raise ValueError("sample_weight must not be all zero: the weighted mean loss "
                         "sum(w * loss) / sum(w) would divide by 0")
    return np.ascontiguousarray(w, dtype=dtype)


def class_weights(trainer, labels, targets):
    """Per-row weights from ``hparams.class_weight`` for encoded training rows, or None."""
    cw, task = trainer.hparams.class_weight, trainer._task
    if cw is None:
        return None
    if task.name not in (MULTICLASS, BINARY):
        raise ValueError(f"class_weight={cw!r} weights classes, but this is a {task.name} "
                         "model; use sample_weight in fit instead")
    codes = labels if task.name == MULTICLASS else targets[:, 0].astype(np.intp)
    k = len(task.classes)
    if cw == "balanced":
        counts = np.bincount(codes, minlength=k).astype(np.float64)
        with np.errstate(divide="ignore"):
            per_class = np.where(counts > 0, len(codes) / (k * counts), 0.0)
    else:
        per_class = np.ones(k)
        known = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(task.classes)}
        for label, weight in cw:
            if label not in known:
                raise ValueError(f"class_weight names class {label!r}, which is not one of "
                                 f"the classes {task.classes.tolist()}")
            per_class[known[label]] = weight
    return per_class[codes]


def split(trainer, X_all, y_all, validation_data, weights=None):
    """``(X_train, labels, targets, weights)`` and the validation set (or None), encoded:
    from ``validation_data``, or a seeded (stratified for classes) ``validation_split``.
    ``weights`` (sample weights, or None) follow the rows; class weights multiply the
    training rows' weights."""
    w_train = w_val = weights
    hp, dtype, task = trainer.hparams, np.dtype(trainer.hparams.dtype), trainer._task
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a tuple (X_val, y_val)")
        X_train, y_train = X_all, y_all
        X_val = V.check_features(validation_data[0], dtype, trainer.n_features_in_, "X_val")
        y_val = V.to_numpy(validation_data[1], "y_val")
        V.check_length(X_val, y_val, "X_val", "y_val")
    elif hp.validation_split > 0:
        split_seed = int(trainer._seed_children()[2].generate_state(1)[0])
        try:
            train_idx, val_idx = holdout_indices(
                y_all, hp.validation_split, seed=split_seed, stratify=task.stratify)
        except ValueError as exc:
            # the splitter's own advice (pass stratify=False) is not an argument of fit
            reason = re.sub(r"[;,] (hold out less, or )?pass stratify=False[^;.]*", "", str(exc))
            raise ValueError(f"validation_split={hp.validation_split} cannot split these "
                             f"{V.n_rows(X_all)} samples: {reason}. Use a smaller "
                             "validation_split or pass validation_data") from None
        if len(val_idx) == 0 or len(train_idx) == 0:
            raise ValueError(f"validation_split={hp.validation_split} of {V.n_rows(X_all)} "
                             "samples leaves an empty training or validation set")
        X_train, y_train = X_all[train_idx], y_all[train_idx]
        X_val, y_val = X_all[val_idx], y_all[val_idx]
        if weights is not None:
            w_train, w_val = weights[train_idx], weights[val_idx]
            if not w_train.sum() > 0:
                raise ValueError("sample_weight is 0 on every training row left by "
                                 f"validation_split={hp.validation_split}")
    else:
        X_train, y_train, X_val, y_val = X_all, y_all, None, None
    if validation_data is not None:
        w_val = None                    # validation_data (X_val, y_val) is unweighted
    labels, targets = task.encode(y_train)
    per_class = class_weights(trainer, labels, targets)
    if per_class is not None:
        w_train = per_class if w_train is None else w_train * per_class
        if not w_train.sum() > 0:
            raise ValueError(f"class_weight={hp.class_weight!r} (times sample_weight) "
                             "gives every training row the weight 0")
        w_train = np.ascontiguousarray(w_train, dtype=dtype)
    train = (X_train, labels, targets, w_train)
    val = None if X_val is None else (X_val, *task.encode(y_val, "y_val"), w_val)
    return train, val


def new_network(hp, sizes, capacity, seed):
    """The compiled network for ``hp`` with layer ``sizes`` and ``capacity`` rows."""
    V.check_network_memory(hp, sizes, capacity)      # a ValueError, before allocating
    return Network(NetworkSpec.from_hparams(hp, sizes[0], sizes[-1], seed=seed,
                                            capacity=capacity))


def copy_network(old, new):
    """Everything learned in ``old`` (parameters, optimizer state and step, generators)
    copied into ``new``, a network of the same layers; returns ``new``."""
    for name in ("params", "state_1", "state_2"):
        getattr(new, name)[...] = getattr(old, name)
    new.set_step(old.step)
    new.first_loss = old.first_loss
    new.gemm_piece = old.gemm_piece
    new.gemm_kernel = old.gemm_kernel
    new.predict_kernel = old.predict_kernel
    new.shuffle_rng.state = old.shuffle_rng.state
    for new_rng, old_rng in zip(new.dropout_rngs, old.dropout_rngs):
        new_rng.state = old_rng.state
    return new


def init_weights(net, hp, rng):
    r"""He (relu family) or Glorot initialisation of every weight; biases zero.

    He: :math:`W \sim N(0, 2/n_{in})`; Glorot:
    :math:`W \sim U(-a, a),\ a = \sqrt{6 / (n_{in} + n_{out})}`. Drawn a few rows at
    a time - the generator's stream gives the same values in pieces - so no float64
    copy of a whole weight matrix is ever made.
    """
    init = hp.init
    if init == "auto":
        init = "he" if hp.activation in RELU_FAMILY else "glorot"
    for l in range(net.n_layers):
        W = net.weight(l)
        n_in, n_out = W.shape
        step = max(1, INIT_CHUNK // n_out)
        for r in range(0, n_in, step):
            size = (min(step, n_in - r), n_out)
            if init == "he":
                W[r:r + step] = rng.normal(0.0, math.sqrt(2.0 / n_in), size=size)
            else:
                limit = math.sqrt(6.0 / (n_in + n_out))
                W[r:r + step] = rng.uniform(-limit, limit, size=size)
        net.bias(l)[...] = 0


def _summary(trainer):
    from hpframe.memory import estimate_memory
    hp, item = trainer.hparams, np.dtype(trainer.hparams.dtype).itemsize
    params = trainer.params
    n_layers = len(params) // 2
    rows = [("layer", "shape (in -> out)", "activation", "parameters", "bytes")]
    for l in range(n_layers):
        n_in, n_out = params[f"dense_{l}.weight"].shape
        count = n_in * n_out + n_out
        act = hp.activation if l < n_layers - 1 else "(output)"
        rows.append((f"dense_{l}", f"{n_in} -> {n_out}", act, f"{count:,}",
                     _fmt_bytes(count * item)))
    rows.append(("total", "", "", f"{trainer.n_params:,}", _fmt_bytes(trainer.n_params * item)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    line = "  ".join("-" * w for w in widths)
    text = [line]
    for i, r in enumerate(rows):
        text.append("  ".join(c.ljust(w) if j < 3 else c.rjust(w)
                              for j, (c, w) in enumerate(zip(r, widths))))
        if i in (0, len(rows) - 2):
            text.append(line)
    text.append(line)
    mem = estimate_memory(hp, trainer.n_features_in_, trainer.n_outputs_, n_samples=0)
    text.append(f"optimizer state ({hp.optimizer}): {_fmt_bytes(mem['optimizer_state'])}; "
                f"gradients: {_fmt_bytes(mem['gradients'])}; per-batch activations "
                f"(batch_size={hp.batch_size}): {_fmt_bytes(mem['activations'])}")
    past = (f" (hparams.epochs={hp.epochs}; fit(epochs=...) trained past it)"
            if trainer.epoch_ > hp.epochs else "")
    text.append(f"dtype {hp.dtype}; trained for {trainer.epoch_} epoch(s){past}")
    return Text("\n".join(text))


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
