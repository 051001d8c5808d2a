r"""Hyperparameters: every knob chosen *before* training, validated once.

A neural network has two kinds of numbers. Its **parameters** (the weights and
biases of every layer) are learned by training. Its **hyperparameters** (this
module) are chosen by you before training starts: the architecture, the
optimizer and its settings, and how training is run. :class:`HyperParams`
holds them and checks every value when it is created. Each hyperparameter is
declared once, in :data:`DECLARED` (its type, default, allowed values, kind
and explanation); the fields of :class:`HyperParams`, their checks, the
:data:`FIELDS` table, :meth:`HyperParams.describe`, :func:`explain` and the
documentation are all derived from it.

>>> import hpframe as hp
>>> h = hp.HyperParams(hidden_layers=[128, 64], learning_rate=0.01)
>>> h.hidden_layers
(128, 64)
>>> h.replace(dropout=0.2).dropout
0.2
>>> print(hp.explain("dropout"))
dropout  [model]  default: 0.0
  what:     During training, each hidden unit's output is set to zero with this
...
  allowed:  a float in [0, 1); 0 = off; typical 0.1 ... 0.5
...
"""
import dataclasses
import difflib
import functools
import json
import math
import textwrap
import types
from dataclasses import dataclass
from typing import Optional

import numpy as np

from hpframe import _validation as V
from hpframe._text import Text

__all__ = [
    "HyperParams", "FieldDoc", "FIELDS", "KINDS", "Explanation", "explain",
    "Hyperparameter", "DECLARED", "SPECS",
    "ACTIVATIONS", "LOSSES", "OPTIMIZERS", "LR_SCHEDULES", "INITS", "DTYPES",
]

# The allowed names, in the order of the public API.
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "identity")
LOSSES = ("cross_entropy", "binary_cross_entropy", "mse", "mae", "huber")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
LR_SCHEDULES = ("constant", "step", "cosine")
INITS = ("auto", "he", "glorot")
DTYPES = ("float32", "float64")

# Names people bring from other libraries.  Used only to *suggest* the right
# value in an error message, never to accept a value silently.
_VALUE_ALIASES = {
    "linear": "identity", "none": ("identity", "constant"), "lrelu": "leaky_relu",
    "leakyrelu": "leaky_relu", "logistic": "sigmoid", "swish": "gelu", "silu": "gelu",
    "crossentropy": "cross_entropy", "categorical_crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy", "ce": "cross_entropy",
    "nll": "cross_entropy", "log_loss": "cross_entropy",
    "binary_crossentropy": "binary_cross_entropy", "bce": "binary_cross_entropy",
    "mean_squared_error": "mse", "squared_error": "mse", "l2": "mse",
    "mean_absolute_error": "mae", "absolute_error": "mae", "l1": "mae",
    "smooth_l1": "huber", "huber_loss": "huber",
    "rmsprop": "adam", "adagrad": "adam", "nadam": "adam",
    "xavier": "glorot", "kaiming": "he",
    "single": "float32", "float": "float64", "double": "float64",
    "exponential": "step", "cos": "cosine", "fixed": "constant",
}
_FIELD_ALIASES = {
    "lr": "learning_rate", "learning_rate_init": "learning_rate", "eta": "learning_rate",
    "hidden_layer_sizes": "hidden_layers", "layers": "hidden_layers", "units": "hidden_layers",
    "n_epochs": "epochs", "max_iter": "epochs", "num_epochs": "epochs",
    "alpha": "weight_decay", "l2": "weight_decay", "decay": "weight_decay",
    "eps": "epsilon", "beta1": "beta_1", "beta2": "beta_2",
    "val_split": "validation_split", "validation_fraction": "validation_split",
    "random_state": "seed", "rng": "seed", "solver": "optimizer",
    "scheduler": "lr_schedule", "step_size": "lr_step_size", "gamma": "lr_gamma",
    "dropout_rate": "dropout", "n_iter_no_change": "patience",
    "early_stopping_patience": "patience", "kernel_initializer": "init",
    "precision": "dtype", "batch": "batch_size",
}


# --------------------------------------------------------------------------
# Text that displays well in a notebook
# --------------------------------------------------------------------------
class Explanation(Text):
    """A ``str`` whose ``repr`` is the text itself.

    Returned by :func:`explain` and :meth:`HyperParams.describe` so that a
    notebook cell shows readable lines instead of one quoted string with
    ``\\n`` escapes. It is still a ``str``: ``print()``, concatenation and the
    docs use it unchanged.
    """

    __slots__ = ()


# --------------------------------------------------------------------------
# The documentation table
# --------------------------------------------------------------------------
KINDS = {
    "model": "a hyperparameter of the model: what the model is (its layers, how its "
             "parameters start, their precision)",
    "optimizer": "a hyperparameter of the optimizer: how each gradient step moves the "
                 "parameters",
    "training": "a hyperparameter of the training procedure: the objective, how the data "
                "is split and fed, for how long",
}


@dataclass(frozen=True)
class FieldDoc:
    """The documentation of one hyperparameter (one row of :data:`FIELDS`).

    Attributes
    ----------
    kind : {"model", "optimizer", "training"}
        Whose hyperparameter it is (see :data:`KINDS`).
    summary : str
        What it controls.
    allowed : str
        The values accepted by :class:`HyperParams`.
    too_low, too_high : str or None
        What training looks like when a numeric value is too low / too high.
        ``None`` for a choice among names (see ``pitfalls``).
    cost : str
        What it costs in time and memory.
    pitfalls : str or None
        For a choice among names (or a switch): what a poor choice looks like.
    """

    kind: str
    summary: str
    allowed: str
    too_low: Optional[str]
    too_high: Optional[str]
    cost: str
    pitfalls: Optional[str] = None


def _names(options):
    return " | ".join(options)


_TYPE_WORDS = {"int": "int", "float": "float", "bool": "bool", "layers": "tuple of int",
               "class_weight": '"balanced", dict or None'}


@dataclass(frozen=True)
class Hyperparameter:
    """The declaration of one hyperparameter; everything else about it is derived.

    From this one record come the field of :class:`HyperParams` (its name and
    default), its validation and error messages, the ``allowed`` text,
    :func:`explain`, :meth:`HyperParams.describe`, the Parameters section of
    :class:`HyperParams`' docstring, and the scikit-learn estimators' parameter
    checks. To add a hyperparameter, add one to :data:`DECLARED` (then teach
    the Trainer to use it).

    Attributes
    ----------
    name : str
        The field name.
    type : {"int", "float", "choice", "bool", "layers", "dtype"}
        How values are checked and converted.
    default : object
        The default value.
    kind : {"model", "optimizer", "training"}
        Whose hyperparameter it is (see :data:`KINDS`).
    summary, cost, too_low, too_high, pitfalls : str or None
        Its explanation, as in :class:`FieldDoc`.
    low, high : number or None
        Bounds of a number; ``low_open``/``high_open`` exclude them.
    none_ok : bool
        ``None`` is allowed too (it means "off" or "fresh entropy").
    choices : tuple of str
        The allowed names, for ``type="choice"`` and ``"dtype"``.
    note : str or None
        Advice appended to the ``allowed`` text (typical values).
    """

    name: str
    type: str
    default: object
    kind: str
    summary: str
    cost: str
    too_low: Optional[str] = None
    too_high: Optional[str] = None
    pitfalls: Optional[str] = None
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    none_ok: bool = False
    choices: tuple = ()
    note: Optional[str] = None

    @property
    def allowed(self):
        """The values accepted, in words (the ``allowed`` of :func:`explain`)."""
        if self.type in ("choice", "dtype"):
            text = _names(self.choices)
        elif self.type == "bool":
            text = "True | False"
        elif self.type == "layers":
            text = ("a tuple (or list) of ints >= 1, or one int for a single hidden layer; "
                    "() for none")
        elif self.type == "class_weight":
            text = ("None, 'balanced', or a dict {class label: weight >= 0} (stored as a "
                    "tuple of (label, weight) pairs sorted by label)")
        else:
            interval = V.range_text(self.low, self.high, self.low_open, self.high_open)
            if self.type == "int":
                text = f"an int {interval}"
            elif self.low is not None and self.high is not None:
                text = f"a float {interval}"
            else:
                text = f"a finite float {interval}"
            if self.none_ok:
                text = f"None, or {text}"
        return f"{text}; {self.note}" if self.note else text

    @property
    def doc(self):
        """This hyperparameter's :class:`FieldDoc` (one row of :data:`FIELDS`)."""
        return FieldDoc(kind=self.kind, summary=self.summary, allowed=self.allowed,
                        too_low=self.too_low, too_high=self.too_high, cost=self.cost,
                        pitfalls=self.pitfalls)

    @property
    def type_text(self):
        """The numpydoc type: ``"float"``, ``"int or None"``, ``'{"sgd", ...}'``."""
        if self.type in ("choice", "dtype"):
            return "{" + ", ".join(f'"{c}"' for c in self.choices) + "}"
        text = _TYPE_WORDS[self.type]
        return f"{text} or None" if self.none_ok else text

    def check(self, value):
        """``value`` checked and converted (``[8, 4]`` -> ``(8, 4)``), or an error.

        Raises
        ------
        TypeError, ValueError
            Naming the field, quoting the value and saying what is allowed.
        """
        if self.type == "int":
            return V.check_int(self.name, value, self.low, self.high, none_ok=self.none_ok,
                               integral_float=True, size=self.name != "seed")
        if self.type == "float":
            return V.check_float(self.name, value, self.low, self.high, low_open=self.low_open,
                                 high_open=self.high_open, none_ok=self.none_ok, decimal=True)
        if self.type == "choice":
            return _as_choice(self.name, value, self.choices)
        if self.type == "bool":
            return V.check_bool(self.name, value)
        if self.type == "layers":
            return _as_hidden_layers(value)
        if self.type == "class_weight":
            return _as_class_weight(value)
        return _as_dtype(value)


#: Every hyperparameter, declared once, in the order of :class:`HyperParams`' fields.
DECLARED = (
    Hyperparameter(
        "hidden_layers", type="layers", default=(64,),
        kind="model",
        summary="The sizes of the hidden dense layers, input side first: (128, 64) is "
                "two hidden layers of 128 and 64 units, then the output layer. () means "
                "no hidden layer: a linear model (linear, logistic or softmax regression). "
                "The weights and biases of these layers are the parameters training "
                "learns; this tuple only fixes how many there are.",
        too_low="Too few or too narrow layers underfit: training and validation loss "
                "both stay high, and the decision boundary stays too simple (a straight "
                "line or plane with ()).",
        too_high="Too many or too wide layers can overfit small data (training loss keeps "
                 "falling while val_loss rises) and take longer per epoch; deep stacks of "
                 "sigmoid or tanh layers also learn slowly (vanishing gradients).",
        cost="Parameters: the sum of (n_in + 1) * n_out over the layers, each stored with "
             "its gradient and its optimizer state (adam: two more copies). Time per "
             "sample grows with the number of weights (about 4 to 6 floating-point "
             "operations per weight per training step). Activation memory grows with "
             "batch_size * (sum of the layer widths).",
    ),
    Hyperparameter(
        "activation", type="choice", default="relu", choices=ACTIVATIONS,
        kind="model",
        summary="The non-linearity applied to the output of each hidden layer (the output "
                "layer has none: the loss decides how outputs are read). Without it, "
                "stacked layers collapse into one linear map. relu = max(0, x); "
                "leaky_relu keeps a slope of 0.01 for x < 0; elu = exp(x) - 1 for x < 0 "
                "(alpha 1.0); gelu = x * Phi(x), Phi the normal CDF (exact erf form); "
                "sigmoid and tanh squash into (0, 1) and (-1, 1); identity = none.",
        pitfalls="sigmoid and tanh saturate: in deep networks their gradients vanish and "
                 "training stalls. relu units can 'die' (output 0 for every input and stop "
                 "learning), most often after too high a learning rate; leaky_relu, elu "
                 "and gelu keep a gradient for negative inputs. identity makes the whole "
                 "network linear.",
        cost="Small next to the matrix products: one elementwise pass forward and one "
             "backward per hidden layer (elu, gelu, sigmoid and tanh evaluate exp or erf "
             "and are a little slower than relu). No parameters.",
    ),
    Hyperparameter(
        "loss", type="choice", default="cross_entropy", choices=LOSSES,
        kind="training",
        summary="What training minimises (a mean over the batch), and so how the outputs "
                "are read. cross_entropy: classification into k classes, one logit per "
                "class with the softmax fused in. binary_cross_entropy: two classes (one "
                "logit, sigmoid fused in) or multi-label targets (k independent 0/1 "
                "columns). mse, mae, huber: regression on real-valued targets (mean "
                "squared error, mean absolute error, and Huber: squared for errors below "
                "1, absolute above).",
        pitfalls="A classification loss needs class labels and a regression loss needs "
                 "numbers; mixing them up is refused or learns nothing useful. mse is "
                 "pulled hard by outliers; mae ignores their size but its gradient does "
                 "not shrink near the optimum; huber is a compromise between the two.",
        cost="Small: one pass over the outputs of each batch.",
    ),
    Hyperparameter(
        "optimizer", type="choice", default="adam", choices=OPTIMIZERS,
        kind="optimizer",
        summary="The rule that turns gradients into parameter updates (PyTorch's rules). "
                "sgd: w -= learning_rate * g. momentum: follows a running velocity of "
                "past gradients (see momentum); nesterov: momentum that looks one step "
                "ahead. adam: a step size per parameter from running averages of g and "
                "g**2 (see beta_1, beta_2, epsilon). adamw: adam with decoupled weight "
                "decay.",
        pitfalls="Each optimizer has its own good learning_rate range: adam and adamw "
                 "usually work near 1e-3, sgd often needs 1e-2 to 1e-1. Plain sgd is slow "
                 "when features have very different scales; adam is the forgiving default.",
        cost="Extra memory per parameter: sgd none; momentum and nesterov one buffer "
             "(the velocity); adam and adamw two (the two running averages). Time: one "
             "pass over all parameters per step, which matters at small batch sizes.",
    ),
    Hyperparameter(
        "learning_rate", type="float", default=1e-3, low=0.0, low_open=True,
        note="try powers of ten, e.g. 1e-4 ... 1e-1",
        kind="optimizer",
        summary="The step size of each update: how far the parameters move along the "
                "(optimizer-processed) gradient. Usually the most important "
                "hyperparameter. With an lr_schedule it is the starting rate.",
        too_low="The loss falls very slowly; training needs many more epochs and may "
                "look stuck.",
        too_high="The loss jumps around, rises or becomes NaN (hpframe then stops and "
                 "reports divergence); relu units may die.",
        cost="None by itself; a good value saves epochs, and so time. Trainer.lr_find() "
             "sweeps it in one short run.",
    ),
    Hyperparameter(
        "momentum", type="float", default=0.9, low=0.0, high=1.0, high_open=True,
        note="0 gives plain sgd",
        kind="optimizer",
        summary="Used by optimizer='momentum' and 'nesterov' only: the fraction of the "
                "previous velocity kept at each step, v = momentum * v + g; w -= "
                "learning_rate * v. It smooths noisy gradients and speeds travel along "
                "directions that stay the same; the effective step is about "
                "learning_rate / (1 - momentum).",
        too_low="Behaves like plain sgd: slow and noisy on badly scaled problems.",
        too_high="Close to 1 the velocity overshoots and oscillates; lower the learning "
                 "rate along with it.",
        cost="One velocity buffer per parameter (for momentum and nesterov, whatever the "
             "value).",
    ),
    Hyperparameter(
        "beta_1", type="float", default=0.9, low=0.0, high=1.0, high_open=True,
        note="0.9 is the usual choice",
        kind="optimizer",
        summary="Used by adam and adamw only: the decay rate of the running average of "
                "gradients (first moment), m = beta_1 * m + (1 - beta_1) * g. It plays "
                "the role of momentum.",
        too_low="Little averaging: noisier steps.",
        too_high="The average reacts slowly, so updates lag behind changes of the "
                 "gradient and overshoot.",
        cost="None beyond adam's two state buffers.",
    ),
    Hyperparameter(
        "beta_2", type="float", default=0.999, low=0.0, high=1.0, high_open=True,
        note="0.999 is the usual choice",
        kind="optimizer",
        summary="Used by adam and adamw only: the decay rate of the running average of "
                "squared gradients (second moment), v = beta_2 * v + (1 - beta_2) * g**2, "
                "which sets the step size of each parameter.",
        too_low="The scale estimate is noisy, so step sizes jump and training can become "
                "unstable.",
        too_high="The scale adapts slowly when gradients change size.",
        cost="None beyond adam's two state buffers.",
    ),
    Hyperparameter(
        "epsilon", type="float", default=1e-8, low=0.0, low_open=True,
        note="1e-8 is the usual choice",
        kind="optimizer",
        summary="Used by adam and adamw only: a small number added to the square root of "
                "the second moment, so the step m / (sqrt(v) + epsilon) never divides by "
                "zero.",
        too_low="Rarely a problem; parameters whose gradients are almost always zero can "
                "take relatively large steps.",
        too_high="(1e-3 and more) adam's per-parameter scaling fades and it behaves like "
                 "momentum sgd with a smaller step.",
        cost="None.",
    ),
    Hyperparameter(
        "weight_decay", type="float", default=0.0, low=0.0, note="0 = off; typical 1e-5 ... 1e-2",
        kind="optimizer",
        summary="Pulls the weights towards zero at every step, a regulariser against "
                "overfitting; biases are never decayed. For sgd, momentum, nesterov and "
                "adam it is an L2 penalty that adds weight_decay * w to the gradient "
                "(PyTorch's convention, not Keras's 2 * wd * w); for adamw it is "
                "decoupled: w -= learning_rate * weight_decay * w before the adam step.",
        too_low="No regularisation: on small data val_loss rises while the training loss "
                "keeps falling (overfitting).",
        too_high="The weights are pulled to zero faster than the data pushes them: both "
                 "losses stay high (underfitting).",
        cost="One extra multiply-add per weight per step; no extra memory.",
    ),
    Hyperparameter(
        "batch_size", type="int", default=32, low=1, note="often a power of two, 16 ... 512",
        kind="training",
        summary="How many training samples are averaged into each gradient step; an "
                "epoch makes ceil(n_train / batch_size) steps. Clipped to the number of "
                "training samples.",
        too_low="Noisy gradients and many small steps: each epoch takes longer (overhead "
                "per step, small matrix products), and a smaller learning_rate may be "
                "needed; the noise can help generalisation.",
        too_high="Few steps per epoch, so more epochs are needed for the same progress "
                 "unless the learning rate is raised; very large batches can generalise "
                 "slightly worse.",
        cost="Activation memory grows linearly with batch_size (each layer's outputs are "
             "kept for the backward pass). Time per epoch falls as the batch grows, until "
             "the matrix products run at full speed.",
    ),
    Hyperparameter(
        "epochs", type="int", default=10, low=1,
        kind="training",
        summary="How many full passes over the training set. Also the length of the "
                "cosine schedule.",
        too_low="Training ends while both losses are still falling (underfitting).",
        too_high="Wasted time, and after a point val_loss rises while the training loss "
                 "keeps falling (overfitting); early stopping (patience) stops at the "
                 "right time for you.",
        cost="Time grows linearly with epochs; memory does not change.",
    ),
    Hyperparameter(
        "dropout", type="float", default=0.0, low=0.0, high=1.0, high_open=True,
        note="0 = off; typical 0.1 ... 0.5",
        kind="model",
        summary="During training, each hidden unit's output is set to zero with this "
                "probability and the kept ones are scaled by 1 / (1 - dropout) (inverted "
                "dropout); at prediction time nothing is dropped. A regulariser: units "
                "cannot rely on particular partners.",
        too_low="No regularisation: large networks on small data overfit.",
        too_high="Too much noise: the network underfits, training loss stays high and "
                 "jumpy, and more epochs are needed. (The training loss is measured with "
                 "dropout, val_loss without, so the training loss can be the higher one.)",
        cost="Random numbers for a mask per hidden layer and batch: a little time, and "
             "two more activation-sized buffers per hidden layer.",
    ),
    Hyperparameter(
        "validation_split", type="float", default=0.2, low=0.0, high=1.0, high_open=True,
        note="0 = no validation set (no val_loss, no early stopping)",
        kind="training",
        summary="The fraction of the training data held out (seeded; stratified for "
                "classification) to measure val_loss and val_accuracy after each epoch. "
                "The model never trains on it, so it estimates how well the model does "
                "on new data; early stopping and hyperparameter search watch it. "
                "validation_data= in fit() overrides it.",
        too_low="A small validation set gives a noisy estimate: val_loss jumps from "
                "epoch to epoch, and comparing hyperparameters becomes luck.",
        too_high="Less data is left to learn from, so the model is worse than it could "
                 "be.",
        cost="One forward pass over the validation set per epoch (no backward pass), and "
             "a copy of the data when it is split.",
    ),
    Hyperparameter(
        "patience", type="int", default=None, low=1, none_ok=True,
        kind="training",
        summary="Early stopping: stop after this many epochs in a row without a better "
                "val_loss and keep the parameters of the best epoch. None = off: train "
                "for all epochs. Needs validation data. (The EarlyStopping callback has "
                "more options; with both, whichever fires first stops.)",
        too_low="Stops at the first random wobble of val_loss, before the model has "
                "finished learning.",
        too_high="Stops late or never, wasting epochs after the best point.",
        cost="Saves time when it fires; keeping the best parameters costs one copy of "
             "them.",
    ),
    Hyperparameter(
        "lr_schedule", type="choice", default="constant", choices=LR_SCHEDULES,
        kind="optimizer",
        summary="How the learning rate changes from epoch to epoch (set once per epoch). "
                "constant: always learning_rate. step: multiplied by lr_gamma every "
                "lr_step_size epochs. cosine: falls from learning_rate to 0 along half a "
                "cosine over `epochs`: learning_rate * (1 + cos(pi * epoch / epochs)) / 2.",
        pitfalls="A large constant rate keeps bouncing around the minimum at the end; "
                 "decaying it lets training settle. Decaying too early or too fast "
                 "freezes learning before it is done. History's 'lr' shows the rate of "
                 "each epoch.",
        cost="None.",
    ),
    Hyperparameter(
        "lr_step_size", type="int", default=10, low=1,
        kind="optimizer",
        summary="Used by lr_schedule='step' only: the number of epochs between two decays "
                "of the learning rate.",
        too_low="The rate decays (almost) every epoch and soon becomes too small to make "
                "progress.",
        too_high="The rate never decays within `epochs`: the same as 'constant'.",
        cost="None.",
    ),
    Hyperparameter(
        "lr_gamma", type="float", default=0.1, low=0.0, low_open=True,
        note="normally < 1 (above 1 the rate grows)",
        kind="optimizer",
        summary="Used by lr_schedule='step' only: the factor applied to the learning rate "
                "at each decay (0.1 = ten times smaller).",
        too_low="Each decay is drastic; learning may stop after the first one.",
        too_high="Close to 1 there is hardly any decay; above 1 the rate grows and "
                 "training can diverge.",
        cost="None.",
    ),
    Hyperparameter(
        "lr_warmup_epochs", type="int", default=0, low=0,
        note="0 = off; typical 1 ... 5",
        kind="optimizer",
        summary="Warm-up: during the first lr_warmup_epochs epochs the learning rate "
                "rises linearly from learning_rate / (lr_warmup_epochs + 1) towards "
                "learning_rate (epoch e < lr_warmup_epochs trains at learning_rate * "
                "(e + 1) / (lr_warmup_epochs + 1)); then lr_schedule starts from its "
                "beginning (step counts its steps, cosine its `epochs - "
                "lr_warmup_epochs` epochs, from the end of the warm-up). Small first steps "
                "keep a fresh network, and adam's still-noisy second moment, from being "
                "thrown far by large early gradients.",
        too_low="0 starts at the full rate: fine for small rates; with a high rate the "
                "first epochs can diverge or kill relu units.",
        too_high="The warm-up eats into training: the first epochs creep at a tiny rate "
                 "and (with cosine) little time is left at the full rate.",
        cost="None.",
    ),
    Hyperparameter(
        "init", type="choice", default="auto", choices=INITS,
        kind="model",
        summary="How the initial weights are drawn at random (biases start at 0). he: "
                "variance 2 / n_in, made for relu-like activations; glorot: variance "
                "2 / (n_in + n_out), made for sigmoid, tanh and identity. auto picks he "
                "for relu, leaky_relu, elu and gelu, glorot otherwise. The draw depends "
                "on seed.",
        pitfalls="A scale that does not suit the activation makes signals shrink or grow "
                 "layer after layer, so a deep network starts with vanishing or exploding "
                 "gradients and learns slowly or diverges. auto is the safe choice.",
        cost="None: done once, when the network is built.",
    ),
    Hyperparameter(
        "dtype", type="dtype", default="float32", choices=DTYPES,
        note="numpy.float32 / numpy.float64 are accepted too",
        kind="model",
        summary="The floating-point type of the parameters, the data and the computation. "
                "float32 (about 7 significant digits) is the usual choice for neural "
                "networks; float64 (about 16) is for gradient checks and numerical "
                "experiments. Loss sums and metrics are accumulated in float64 either way.",
        pitfalls="float32 and float64 results differ in the last digits; that is normal. "
                 "float64 rarely improves accuracy.",
        cost="float64 takes twice the memory (parameters, optimizer state, activations, "
             "data copies) and its matrix products run about half as fast.",
    ),
    Hyperparameter(
        "shuffle", type="bool", default=True,
        kind="training",
        summary="Whether the training samples are reshuffled (seeded) before every epoch, "
                "so the batches differ from epoch to epoch.",
        pitfalls="False with sorted data (say all of class 0 first) makes batches "
                 "unrepresentative and training erratic; keep True unless you need a "
                 "fixed order.",
        cost="A random permutation per epoch and gathering the rows of each batch: small.",
    ),
    Hyperparameter(
        "seed", type="int", default=0, low=0, none_ok=True,
        kind="training",
        summary="Seeds every random choice: the initial weights, the validation split, "
                "the shuffling and the dropout masks. The same seed, data, "
                "hyperparameters and BLAS thread count give bit-identical parameters. "
                "None draws fresh entropy (and the seed used is recorded).",
        pitfalls="Results change with the seed: a difference between two settings that is "
                 "smaller than the spread across seeds is noise. Try a few seeds before "
                 "drawing conclusions.",
        cost="None.",
    ),
    Hyperparameter(
        "class_weight", type="class_weight", default=None, none_ok=True,
        kind="training",
        summary="Classification only: how much each class's samples count in the loss, as "
                "scikit-learn defines it. A sample of class c weighs class_weight[c] "
                "(times its sample_weight, if fit is given one), and a batch's loss is the "
                "weighted mean sum(w * loss) / sum(w). 'balanced' gives class c the weight "
                "n_samples / (n_classes * count of c) in the training data, so every class "
                "counts as much in total; a dict sets chosen classes' weights (the others "
                "weigh 1). None: every sample weighs 1. Applied to the training loss; the "
                "validation metrics are not class-weighted (they use sample_weight, if "
                "given).",
        pitfalls="Up-weighting a rare class raises its recall at the cost of the other "
                 "classes' recall and of the plain accuracy, which a weighted loss no "
                 "longer maximises; judge it with per-class recall or balanced accuracy. "
                 "Very large weights act like a much larger learning rate on those samples.",
        cost="One weight per row gathered with the batch and one multiplication per loss "
             "term: negligible.",
    ),
    Hyperparameter(
        "clip_norm", type="float", default=None, low=0.0, low_open=True, none_ok=True,
        note="None = off; typical 0.5 ... 10",
        kind="optimizer",
        summary="Gradient clipping by global norm, PyTorch's rule: before "
                "each optimizer step, the L2 norm n of all gradients together (weights "
                "and biases) is computed, and if c = clip_norm / (n + 1e-6) is below 1 "
                "every gradient is multiplied by c, so the step's direction is kept and "
                "its gradient norm is at most clip_norm. It guards against a few huge "
                "gradients throwing the weights far away (a run that diverges).",
        too_low="Every step is clipped, so the gradient's size no longer matters: "
                "training behaves like sgd with a fixed step length and can be slow.",
        too_high="Never reached, so it does nothing: a run that diverges still diverges.",
        cost="The whole gradient is kept in memory until every layer's is known (the "
             "grads buffer, already allocated) and read once more for its norm; no "
             "extra memory.",
    ),
)

#: Each declared hyperparameter by name.
SPECS = {h.name: h for h in DECLARED}

#: Every field of :class:`HyperParams`, in order, with its documentation (derived
#: from :data:`DECLARED`).
FIELDS = {h.name: h.doc for h in DECLARED}

_PARAMETERS_TEXT = """\
Model parameters vs hyperparameters

Model parameters are the numbers the network learns: the weight matrix and the
bias vector of every dense layer (trainer.params, e.g. "dense_0.weight" of shape
(n_in, n_out) and "dense_0.bias" of shape (n_out,)). Training sets them by
gradient descent on the loss; you never choose them by hand. How many there are
follows from the architecture (trainer.n_params).

Hyperparameters are what you choose before training starts (trainer.hparams, a
HyperParams): the model (hidden_layers, activation, dropout, init, dtype), the
optimizer (optimizer, learning_rate, momentum, beta_1, beta_2, epsilon,
weight_decay, lr_schedule, lr_step_size, lr_gamma, lr_warmup_epochs) and the
training procedure (loss, batch_size, epochs, validation_split, patience, shuffle,
seed). Training does not change them. No formula gives their best values: you
find them by trial and error, training with several settings and comparing the
results on validation data (hp.random_search, hp.grid_search), never on the test data.

HyperParams.describe() lists every hyperparameter; hp.explain(name) explains one."""


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------
def _suggest(value, options, aliases=None):
    """Return ``" (did you mean 'x'?)"`` for the closest option, or ``""``."""
    key = str(value).strip().lower()
    targets = (aliases or {}).get(key, ())
    for target in (targets,) if isinstance(targets, str) else targets:
        if target in options:
            return f" (did you mean {target!r}?)"
    match = difflib.get_close_matches(key, [o.lower() for o in options], n=1, cutoff=0.6)
    if match:
        original = next(o for o in options if o.lower() == match[0])
        return f" (did you mean {original!r}?)"
    return ""


def _unknown_field_error(key, what="field"):
    valid = [f.name for f in dataclasses.fields(HyperParams)]
    hint = _suggest(key, valid, _FIELD_ALIASES)
    if not hint:
        hint = "; valid ones are " + ", ".join(valid)
    return ValueError(f"unknown hyperparameter {what} {key!r}{hint}")


def _as_choice(name, value, options):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {', '.join(map(repr, options))}; "
                        f"got {value!r} of type {type(value).__name__}")
    value = str(value)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; "
                         f"got {value!r}{_suggest(value, options, _VALUE_ALIASES)}")
    return value


def _as_hidden_layers(value):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"hidden_layers must be a tuple of ints, got the bool {value!r}")
    if isinstance(value, (int, np.integer)):
        if value < 1:
            raise ValueError(f"hidden_layers must be a tuple of layer sizes >= 1 (or one "
                             f"int >= 1), got {V.shown(value)}; use () for no hidden layer")
        sizes = (int(value),)
    elif isinstance(value, (str, bytes, dict, set, frozenset)) or not hasattr(value, "__iter__"):
        raise TypeError(f"hidden_layers must be a tuple of ints (or one int), got {value!r} "
                        f"of type {type(value).__name__}")
    elif isinstance(value, np.ndarray) and value.ndim != 1:
        raise TypeError(f"hidden_layers must be a flat sequence of ints, got an array of "
                        f"shape {value.shape}")
    else:
        sizes = []
        for item in value:
            try:
                size = V.check_int("hidden_layers", item, integral_float=True, size=False)
            except TypeError:
                raise TypeError(f"hidden_layers must contain ints, got {value!r} "
                                f"(bad item {item!r})") from None
            if size < 1:
                raise ValueError(f"hidden_layers sizes must be >= 1, got {value!r} "
                                 f"(bad item {item!r}); use () for no hidden layer")
            sizes.append(size)
        sizes = tuple(sizes)
    _check_addressable(sizes)
    return sizes


def _check_addressable(sizes):
    """Refuse layers whose parameters cannot exist on any computer.

    Even with one input, one output and float32, the weights and biases and
    their gradients take ``2 * 4 * sum((n_in + 1) * n_out)`` bytes; beyond
    what a 64-bit address space holds, no build could ever succeed. (What
    does not fit in *this* computer's memory is refused when the Trainer
    builds the network, once the data's shape is known.)
    """
    widths = (1, *sizes, 1)
    n_params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    need = 2 * 4 * n_params
    if need > V.MAX_SIZE:
        raise ValueError(
            f"hidden_layers={V.shown(sizes)} would need at least {V.format_bytes(need)} for "
            "its parameters and their gradients (with one input, one output and float32), "
            "more than a 64-bit computer can address; use fewer or narrower layers")


def _as_class_weight(value):
    """None, "balanced", or ((label, weight), ...) sorted by label: hashable and JSON-safe
    (a dict, a list of pairs as JSON gives back, or such a tuple are accepted)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a dict {{label: "
                             f"weight}}; got {value!r}")
        return value
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, (tuple, list)) and all(
            isinstance(p, (tuple, list)) and len(p) == 2 for p in value):
        pairs = [tuple(p) for p in value]
    else:
        raise TypeError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}; "
                        f"got {value!r} of type {type(value).__name__}")
    checked = {}
    for label, weight in pairs:
        if isinstance(label, (np.integer, np.str_)):
            label = label.item()
        if isinstance(label, bool) or not isinstance(label, (int, str)):
            raise TypeError(f"class_weight labels must be ints or strs; got {label!r} of "
                            f"type {type(label).__name__}")
        if label in checked:
            raise ValueError(f"class_weight names class {label!r} twice")
        checked[label] = V.check_float(f"class_weight[{label!r}]", weight, 0.0, decimal=True)
    try:
        return tuple(sorted(checked.items()))
    except TypeError:
        raise TypeError(f"class_weight labels must be all ints or all strs; got "
                        f"{sorted(map(repr, checked))}") from None


def _as_dtype(value):
    if isinstance(value, str):
        return _as_choice("dtype", value, DTYPES)
    if value is None or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"dtype must be 'float32' or 'float64', got {value!r}")
    try:
        name = np.dtype(value).name
    except TypeError:
        raise TypeError(f"dtype must be 'float32' or 'float64' (or numpy.float32 / "
                        f"numpy.float64), got {value!r}") from None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {value!r} ({name})")
    return name


# --------------------------------------------------------------------------
# HyperParams
# --------------------------------------------------------------------------
class _class_or_instance_method:
    """Bind a method to the instance when called on one, else to the class."""

    def __init__(self, func):
        self.__func__ = func
        functools.update_wrapper(self, func)

    def __get__(self, instance, owner):
        return types.MethodType(self.__func__, owner if instance is None else instance)


def _declared_fields(cls):
    """Give ``cls`` one dataclass field per declared hyperparameter, and write the
    Parameters section of its docstring from the same declarations."""
    cls.__annotations__ = {h.name: Optional[_PY_TYPES[h.type]] if h.none_ok
                           else _PY_TYPES[h.type] for h in DECLARED}
    for h in DECLARED:
        setattr(cls, h.name, h.default)
    if cls.__doc__:            # None under python -OO
        cls.__doc__ = cls.__doc__.replace("%(parameters)s", parameters_section())
    return dataclass(frozen=True)(cls)


_PY_TYPES = {"int": int, "float": float, "choice": str, "bool": bool, "layers": tuple,
             "dtype": str, "class_weight": object}


def parameters_section(indent=4, width=84):
    """The numpydoc Parameters entries of every hyperparameter, from :data:`DECLARED`.

    Each entry is ``name : type, default value`` followed by what the field
    does and what is allowed: the same words as :func:`explain`.
    """
    pad = " " * indent
    entries = []
    for h in DECLARED:
        if h.type in ("choice", "bool", "dtype"):          # the type lists the values
            text = h.summary + (f" ({h.note}.)" if h.note else "")
        else:
            text = f"{h.summary} Allowed: {h.allowed}."
        body = textwrap.fill(text, width=width, initial_indent=pad + "    ",
                             subsequent_indent=pad + "    ")
        entries.append(f"{pad}{h.name} : {h.type_text}, default {h.default!r}\n{body}")
    return "\n".join(entries)


@_declared_fields
class HyperParams:
    r"""Every hyperparameter of a training run, validated when created.

    The values are chosen before training and never changed by it (compare
    :attr:`Trainer.params`, which training learns). Instances are immutable,
    comparable and hashable; use :meth:`replace` to derive a new setting. Run
    ``HyperParams.describe()`` or ``hp.explain(name)`` for what each field does,
    what too low and too high look like and what it costs.

    Parameters
    ----------
%(parameters)s

    Raises
    ------
    TypeError
        A value of the wrong type (bools are not numbers; a non-integral float
        for an integer field).
    ValueError
        A value out of its allowed range or not among the allowed names, or
        hidden layers whose parameters no computer could hold (what does not
        fit in this computer's memory is refused when the network is built).
        The message names the field, quotes the value and says what is allowed.

    Notes
    -----
    ``HyperParams(**d)`` with a misspelt key raises Python's own ``TypeError``;
    :meth:`from_dict` and :meth:`replace` name the closest valid field instead.
    Numpy scalars are converted to Python scalars, so an instance always
    serialises to JSON.

    Examples
    --------
    >>> h = HyperParams(hidden_layers=[32, 16], optimizer="sgd", learning_rate=0.1)
    >>> h.hidden_layers
    (32, 16)
    >>> HyperParams.from_json(h.to_json()) == h
    True
    """

    # The fields (name, default) come from DECLARED, added by _declared_fields.

    def __post_init__(self):
        for spec in DECLARED:
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))

    # -- derived settings -------------------------------------------------
    def replace(self, **changes):
        """Return a copy with some fields changed, validated like a new instance.

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        HyperParams

        Raises
        ------
        ValueError
            An unknown field name (the message names the closest valid one), or
            an invalid value.
        TypeError
            A value of the wrong type.

        Examples
        --------
        >>> HyperParams().replace(learning_rate=0.01).learning_rate
        0.01
        """
        names = {f.name for f in dataclasses.fields(self)}
        for key in changes:
            if key not in names:
                raise _unknown_field_error(key)
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """Return the fields as a plain ``dict`` in their declared order.

        Every value is a Python ``int``, ``float``, ``str``, ``bool``, ``None``
        or (for ``hidden_layers``) a tuple of ints, so the dict is ready for
        ``json.dumps``.

        Returns
        -------
        dict
        """
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d):
        """Build from a mapping of field names to values; missing fields take defaults.

        Parameters
        ----------
        d : mapping
            For example the output of :meth:`to_dict` or a JSON object.

        Returns
        -------
        HyperParams

        Raises
        ------
        TypeError
            ``d`` is not a mapping, or a value has the wrong type.
        ValueError
            An unknown key (the message names the closest valid one), or an
            invalid value.
        """
        if not hasattr(d, "keys") or not hasattr(d, "__getitem__"):
            raise TypeError(f"HyperParams.from_dict needs a dict of field names to values, "
                            f"got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        for key in d.keys():
            if key not in names:
                raise _unknown_field_error(key, what="key")
        return cls(**{key: d[key] for key in d.keys()})

    def to_json(self, **kwargs):
        """Return the fields as a JSON object string (see :meth:`from_json`).

        Parameters
        ----------
        **kwargs
            Passed to :func:`json.dumps` (for instance ``indent=2``).

        Returns
        -------
        str
        """
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_json(cls, s):
        """Build from a JSON object string made by :meth:`to_json`.

        Parameters
        ----------
        s : str or bytes

        Returns
        -------
        HyperParams

        Raises
        ------
        ValueError
            ``s`` is not a JSON object, has an unknown key or an invalid value.
        """
        try:
            data = json.loads(s)
        except json.JSONDecodeError as exc:
            raise ValueError(f"HyperParams.from_json got text that is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"HyperParams.from_json needs a JSON object, got "
                             f"{type(data).__name__}")
        return cls.from_dict(data)

    def lr_at(self, epoch):
        r"""The learning rate used in epoch ``epoch`` (0-based) under ``lr_schedule``.

        .. math::

            \text{constant:}\quad & \eta_e = \eta \\
            \text{step:}\quad & \eta_e = \eta \, \gamma^{\lfloor e / s \rfloor} \\
            \text{cosine:}\quad & \eta_e = \eta \, \tfrac12 \left(1 + \cos(\pi e / E)\right)
            \ \text{for } e < E, \quad 0 \text{ for } e \ge E

        with :math:`\eta` = ``learning_rate``, :math:`\gamma` = ``lr_gamma``,
        :math:`s` = ``lr_step_size`` and :math:`E` = ``epochs``. Epoch 0 uses the
        full ``learning_rate``, unless there is a warm-up: with
        :math:`W` = ``lr_warmup_epochs`` > 0, epoch :math:`e < W` uses
        :math:`\eta \, (e + 1) / (W + 1)`, and epoch :math:`e \ge W` the schedule's
        rate above at epoch :math:`e - W`, with :math:`E - W` in place of :math:`E`
        for cosine.

        This is the scheduled rate. A callback may scale it during training (see
        :attr:`Trainer.lr_scale <hpframe.Trainer.lr_scale>`); ``history["lr"]``
        records the rate each epoch actually used.

        Parameters
        ----------
        epoch : int
            0-based epoch number, >= 0.

        Returns
        -------
        float

        Examples
        --------
        >>> h = HyperParams(learning_rate=0.1, lr_schedule="step", lr_step_size=2, lr_gamma=0.5)
        >>> [h.lr_at(e) for e in range(5)]
        [0.1, 0.1, 0.05, 0.05, 0.025]
        """
        return self._lr_at(V.check_int("epoch", epoch, 0, integral_float=True))

    def _lr_at(self, epoch):
        """:meth:`lr_at` of a checked ``epoch`` (an int >= 0): what ``fit`` asks
        before every epoch."""
        warmup = self.lr_warmup_epochs
        if epoch < warmup:
            return self.learning_rate * (epoch + 1) / (warmup + 1)
        epoch, length = epoch - warmup, self.epochs - warmup
        if self.lr_schedule == "constant":
            return self.learning_rate
        if self.lr_schedule == "step":
            return self.learning_rate * self.lr_gamma ** (epoch // self.lr_step_size)
        if epoch >= length:
            return 0.0
        return self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / length))

    @_class_or_instance_method
    def describe(self_or_cls):
        """Explain every hyperparameter: default, allowed values, what it does.

        Called on the class (``HyperParams.describe()``) it lists the defaults;
        called on an instance it also shows the current value of each field and
        marks the ones that differ from the default with ``*``.

        Returns
        -------
        Explanation
            A ``str`` that prints (and displays in a notebook) as readable text.
        """
        instance = None if isinstance(self_or_cls, type) else self_or_cls
        names = [f.name for f in dataclasses.fields(HyperParams)]
        if instance is None:
            first = (f"HyperParams: {len(names)} hyperparameters, chosen before training "
                     "(the model parameters are learned by it; see explain('parameters')).")
        else:
            changed = [n for n in names if getattr(instance, n) != _default(n)]
            verb = "differs" if len(changed) == 1 else "differ"
            first = (f"HyperParams: {len(names)} hyperparameters; {len(changed)} {verb} "
                     "from the default (marked *).")
        head = [first, "Each is one of three kinds:"]
        head += [f"  [{kind}]".ljust(14) + text for kind, text in KINDS.items()]
        blocks = ["\n".join(head)]
        blocks += [_field_text(n, instance) for n in names]
        return Explanation("\n\n".join(blocks))


def _default(name):
    return SPECS[name].default


def _wrap(label, text, width=88):
    return textwrap.fill(text, width=width, initial_indent=f"  {label:<10}",
                         subsequent_indent=" " * 12)


def _field_text(name, instance=None):
    doc = FIELDS[name]
    default = _default(name)
    line = f"{name}  [{doc.kind}]  default: {default!r}"
    if instance is not None:
        current = getattr(instance, name)
        line += f"  current: {current!r}" + ("  *" if current != default else "")
    parts = [line, _wrap("what:", doc.summary), _wrap("allowed:", doc.allowed)]
    if doc.too_low:
        parts.append(_wrap("too low:", doc.too_low))
    if doc.too_high:
        parts.append(_wrap("too high:", doc.too_high))
    if doc.pitfalls:
        parts.append(_wrap("watch:", doc.pitfalls))
    parts.append(_wrap("cost:", doc.cost))
    return "\n".join(parts)


def explain(name):
    """Explain one hyperparameter, or the idea of parameters vs hyperparameters.

    Parameters
    ----------
    name : str
        A field of :class:`HyperParams` (e.g. ``"dropout"``), or
        ``"parameters"`` / ``"hyperparameters"`` for what model parameters and
        hyperparameters are.

    Returns
    -------
    Explanation
        A ``str`` with the field's kind (model, optimizer or training
        procedure), default, allowed values, what it controls, what too low and
        too high look like, and its cost in time and memory.

    Raises
    ------
    ValueError
        An unknown name; the message names the closest valid one.

    Examples
    --------
    >>> print(explain("batch_size"))
    batch_size  [training]  default: 32
    ...
      allowed:  an int >= 1; often a power of two, 16 ... 512
    ...
    """
    if not isinstance(name, str):
        raise TypeError(f"explain() needs a hyperparameter name (str), got {name!r}")
    if name in ("parameters", "hyperparameters"):
        return Explanation(_PARAMETERS_TEXT)
    if name not in FIELDS:
        hint = _suggest(name, list(FIELDS) + ["parameters", "hyperparameters"], _FIELD_ALIASES)
        if not hint:
            hint = "; valid names are " + ", ".join(FIELDS) + ", parameters, hyperparameters"
        raise ValueError(f"explain() got unknown hyperparameter {name!r}{hint}")
    return Explanation(_field_text(name))
