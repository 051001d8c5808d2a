r"""What a network's outputs mean: one small class per kind of task.

* multiclass - ``cross_entropy``: one logit per class (softmax);
* binary - ``binary_cross_entropy``, ``y`` of two classes: one logit;
* multilabel - ``binary_cross_entropy``, ``y`` of shape ``(n, k)`` in 0/1: ``k``
  independent logits;
* regression - ``mse``, ``mae`` or ``huber``: one value per target column.

Each class answers the same five questions - which task ``y`` implies
(:func:`infer`), how targets reach the core (``encode``), what the outputs
predict (``decode``), their probabilities (``probabilities``) and the loss and
metrics of a batch (``metrics``) - so the :class:`~hpframe.Trainer` asks its task
instead of repeating an if-chain over the four kinds.

The core takes targets in one of two forms, and one of them is always empty:
integer class codes (``int32``, cross entropy) or float targets
(``(n, n_outputs)``, every other loss).
"""
import numpy as np

from hpframe import _validation as V
from hpframe._core import activations as _act
from hpframe._core import finite as _finite
from hpframe._core import losses as _loss
from hpframe._core.spec import LOSSES

__all__ = ["MULTICLASS", "BINARY", "MULTILABEL", "REGRESSION", "REGRESSION_LOSSES",
           "Task", "Multiclass", "Binary", "Multilabel", "Regression", "infer", "for_build",
           "from_name"]

MULTICLASS, BINARY, MULTILABEL, REGRESSION = "multiclass", "binary", "multilabel", "regression"
REGRESSION_LOSSES = ("mse", "mae", "huber")
LOSS_CODES = LOSSES                     # name -> the core's loss code (defined in the core)
# softmax_into's version for each dtype, picked here once: Cython's choice among a
# fused function's versions, made from the arguments, costs 0.13 us a call
_SOFTMAX = {np.dtype(np.float32): _act.softmax_into["float"],
            np.dtype(np.float64): _act.softmax_into["double"]}


class Task:
    """The common part: ``n_outputs`` outputs in ``dtype``; ``classes`` or None.

    Parameters
    ----------
    loss : str
        The loss hyperparameter.
    n_outputs : int
        Output units of the network.
    classes : ndarray or None
        The class labels (classification), in the order of the outputs.
    dtype : numpy.dtype
        The network's floating-point type.
    """

    name = None
    classify = True          # has classes and an accuracy
    stratify = True          # a validation split keeps class shares

    def __init__(self, loss, n_outputs, classes, dtype):
        self.loss = loss
        self.n_outputs = int(n_outputs)
        self.classes = classes
        self.dtype = np.dtype(dtype)

    def set_classes(self, classes):
        """Replace the labels (as many as before; regression has none)."""
        expected = None if self.classes is None else len(self.classes)
        classes = None if classes is None else np.asarray(classes)
        if (classes is None) != (expected is None) or \
                (classes is not None and (classes.ndim != 1 or len(classes) != expected)):
            raise ValueError(f"classes_ must hold {expected} labels for this model; "
                             f"got {classes!r}")
        self.classes = classes

    @property
    def elements(self):
        """Loss terms per sample (the core's loss sums are divided by samples x this)."""
        return self.n_outputs

    def _empty_labels(self):
        return np.zeros(0, dtype=np.intc)

    def _empty_targets(self):
        return np.zeros((0, self.n_outputs), dtype=self.dtype)

    def _codes(self, y, name):
        """Class codes 0..k-1 of the labels ``y`` (each checked against ``classes``),
        as a new array of C ints."""
        labels = V.check_labels(y, name)
        classes, n_classes = self.classes, len(self.classes)
        if labels.dtype.kind in "iu" and classes.dtype.kind in "iu" and \
                classes[0] == 0 and classes[-1] == n_classes - 1:     # 0, 1, ..., k-1
            # the labels are their own codes if each is in range: one compiled
            # pass for int32/int64 (1797 labels: NumPy's min, max and astype
            # took about 10 us of a fit)
            codes = _finite.label_codes(labels, n_classes)
            if codes is not None:
                return codes
            if len(labels) and labels.min() >= 0 and labels.max() < n_classes:
                return labels.astype(np.intc)
        codes = np.minimum(np.searchsorted(classes, labels), n_classes - 1)
        unknown = classes[codes] != labels
        if unknown.any():
            raise ValueError(f"{name} has label {labels[unknown][0].item()!r}, which is not one "
                             f"of the model's classes {classes.tolist()}")
        return codes.astype(np.intc)

    def _elementwise_loss(self, out, targets, weights=None):
        n, k = out.shape
        flat = out.reshape(-1)
        total = n if weights is None else float(np.sum(weights, dtype=np.float64))
        return _loss.elementwise_loss_into(LOSS_CODES[self.loss], flat, targets.reshape(-1),
                                           1.0, flat[:0], weights, k) / (total * k)

    def probabilities(self, out, overwrite=False):
        """The outputs ``out`` as probabilities (``overwrite``: ``out`` may be reused)."""
        raise ValueError(f"predict_proba is for classification; loss={self.loss!r} is a "
                         "regression loss (use predict)")


class Multiclass(Task):
    """``cross_entropy``: one logit per class; softmax probabilities."""

    name = MULTICLASS

    @property
    def elements(self):
        return 1

    def encode(self, y, name="y"):
        return self._codes(y, name), self._empty_targets()

    def decode(self, out):
        return self.classes[out.argmax(axis=1)]

    def probabilities(self, out, overwrite=False):
        proba = out if overwrite else np.empty_like(out)     # (softmax reads each z first)
        _SOFTMAX.get(out.dtype, _act.softmax_into)(out, proba)
        return proba

    def metrics(self, out, labels, targets, weights=None):
        n, k = out.shape
        flat = out.reshape(-1)
        if weights is None:
            loss = _loss.cross_entropy_into(flat, labels, k, 1.0, flat[:0]) / n
            return {"loss": loss, "accuracy": float(np.mean(out.argmax(axis=1) == labels))}
        total = float(np.sum(weights, dtype=np.float64))
        loss = _loss.cross_entropy_into(flat, labels, k, 1.0, flat[:0], weights) / total
        correct = out.argmax(axis=1) == labels
        return {"loss": loss, "accuracy": float(np.sum(weights[correct], dtype=np.float64))
                / total}


class _Sigmoid(Task):
    """Independent logits (binary and multi-label)."""

    def _sigmoid(self, out):
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + np.exp(-out.astype(np.float64)))
        return p.astype(self.dtype)

    def metrics(self, out, labels, targets, weights=None):
        right = (out > 0) == (targets > 0.5)
        accuracy = float(np.mean(right)) if weights is None else \
            float(np.average(right.mean(axis=1), weights=weights.astype(np.float64)))
        return {"loss": self._elementwise_loss(out, targets, weights), "accuracy": accuracy}


class Binary(_Sigmoid):
    """``binary_cross_entropy`` on two classes: one logit, ``classes[1]`` when positive."""

    name = BINARY

    def encode(self, y, name="y"):
        codes = self._codes(y, name)
        return self._empty_labels(), np.ascontiguousarray(codes.reshape(-1, 1), dtype=self.dtype)

    def decode(self, out):
        return self.classes[(out[:, 0] > 0).astype(np.intp)]

    def probabilities(self, out, overwrite=False):
        p = self._sigmoid(out)
        return np.column_stack([1 - p[:, 0], p[:, 0]])


class Multilabel(_Sigmoid):
    """``binary_cross_entropy`` on ``(n, k)`` of 0/1: ``k`` independent labels."""

    name = MULTILABEL
    stratify = False

    def encode(self, y, name="y"):
        k = self.n_outputs
        targets = V.to_numpy(y, name)
        if targets.ndim != 2 or targets.shape[1] != k:
            raise ValueError(f"{name} must have shape (n_samples, {k}) of 0/1 for this "
                             f"multi-label model; got {targets.shape}")
        if not np.isin(targets, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1 for multi-label "
                             "binary_cross_entropy")
        return self._empty_labels(), np.ascontiguousarray(targets, dtype=self.dtype)

    def decode(self, out):
        return (out > 0).astype(np.int64)

    def probabilities(self, out, overwrite=False):
        return self._sigmoid(out)


class Regression(Task):
    r"""``mse``, ``mae``, ``huber``: one value per target column.

    Metrics: the loss, the mean absolute error and :math:`R^2 = 1 - SS_{res}/SS_{tot}`
    per column, averaged (0 for a constant column).
    """

    name = REGRESSION
    classify = False
    stratify = False

    def encode(self, y, name="y"):
        targets = V.check_targets(y, self.dtype, name)
        if targets.shape[1] != self.n_outputs:
            raise ValueError(f"{name} has {targets.shape[1]} target column(s), but the "
                             f"model was built for {self.n_outputs}")
        return self._empty_labels(), targets

    def decode(self, out):
        return out[:, 0].copy() if self.n_outputs == 1 else out

    def metrics(self, out, labels, targets, weights=None):
        loss = self._elementwise_loss(out, targets, weights)
        t = targets.astype(np.float64)
        if weights is None:
            resid = ((t - out) ** 2).sum(axis=0)
            spread = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
            mae = float(np.abs(t - out).mean())
        else:                       # scikit-learn's weighted r2_score and MAE
            w = weights.astype(np.float64)[:, None]
            resid = (w * (t - out) ** 2).sum(axis=0)
            spread = (w * (t - np.average(t, axis=0, weights=w[:, 0])) ** 2).sum(axis=0)
            mae = float(np.average(np.abs(t - out).mean(axis=1), weights=w[:, 0]))
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(spread > 0, 1 - resid / spread, 0.0)
        return {"loss": loss, "mae": mae, "r2": float(r2.mean())}


_CLASSES = {cls.name: cls for cls in (Multiclass, Binary, Multilabel, Regression)}


def from_name(name, loss, n_outputs, classes, dtype):
    """The task called ``name`` (as saved in a model file); ValueError if unknown."""
    if name not in _CLASSES:
        raise ValueError(f"task must be one of {sorted(_CLASSES)}; got {name!r}")
    return _CLASSES[name](loss, n_outputs, classes, dtype)


def for_build(loss, n_outputs, dtype):
    """The task of a network built with ``n_outputs`` outputs for ``loss`` (no data seen:
    classes are ``0..k-1``)."""
    if loss == "cross_entropy":
        if n_outputs < 2:
            raise ValueError(f"n_outputs must be >= 2 for loss='cross_entropy' (one per "
                             f"class); got {n_outputs}. For two classes with one output use "
                             "loss='binary_cross_entropy'")
        return Multiclass(loss, n_outputs, np.arange(n_outputs), dtype)
    if loss == "binary_cross_entropy":
        if n_outputs == 1:
            return Binary(loss, 1, np.arange(2), dtype)
        return Multilabel(loss, n_outputs, np.arange(n_outputs), dtype)
    return Regression(loss, n_outputs, None, dtype)


def infer(loss, y, dtype):
    """The task, outputs and classes that ``loss`` and the first ``y`` seen imply.

    Parameters
    ----------
    loss : str
    y : ndarray
        Targets as given to ``fit``.
    dtype : numpy.dtype

    Returns
    -------
    Task
    """
    if loss in REGRESSION_LOSSES:
        return Regression(loss, V.check_targets(y, dtype).shape[1], None, dtype)
    if loss == "cross_entropy":
        classes = np.unique(V.check_labels(y))
        if len(classes) < 2:
            raise ValueError(f"y has a single class ({classes[0].item()!r}); classification "
                             "needs at least two")
        return Multiclass(loss, len(classes), classes, dtype)
    y = V.to_numpy(y, "y")
    if y.ndim == 2 and y.shape[1] > 1:
        return Multilabel(loss, y.shape[1], np.arange(y.shape[1]), dtype)
    classes = np.unique(V.check_labels(y))
    if len(classes) != 2:
        raise ValueError(f"loss='binary_cross_entropy' with 1-D y needs exactly two "
                         f"classes; y has {len(classes)}: {classes[:10].tolist()}. For "
                         "more classes use loss='cross_entropy'")
    return Binary(loss, 1, classes, dtype)
