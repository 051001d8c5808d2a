"""What a compiled network is: its sizes, its functions and its buffers' depth.

:class:`NetworkSpec` is everything :class:`~hpframe._core.network.Network` is
built from, in one object. :meth:`NetworkSpec.from_hparams` is the one place
that turns a :class:`~hpframe.HyperParams` and a dataset's shape into a spec,
for :class:`hpframe.Trainer` (which builds the network) and for
:func:`hpframe.estimate_memory` (which adds up what it would allocate:
:meth:`NetworkSpec.layout`).

The name-to-code tables of the core (:data:`ACTIVATIONS`, :data:`LOSSES`,
:data:`OPTIMIZERS`) are read off the compiled enums here, once; the nogil loops
dispatch on those integers.
"""
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpframe._core import activations as _activations
from hpframe._core import losses as _losses
from hpframe._core import optimizers as _optimizers
from hpframe._core.layout import EVAL_ROWS, network_layout

__all__ = ["ACTIVATIONS", "LOSSES", "OPTIMIZERS", "NetworkSpec"]

# name -> the core's integer code (the enums' member names, lower-cased)
ACTIVATIONS = {code.name.lower(): int(code) for code in _activations.Activation}
LOSSES = {code.name.lower(): int(code) for code in _losses.Loss}
OPTIMIZERS = {code.name.lower(): int(code) for code in _optimizers.Optimizer}


@dataclass(frozen=True)
class NetworkSpec:
    """Everything a :class:`~hpframe._core.network.Network` is built from.

    Nothing here is validated beyond the names: :class:`hpframe.HyperParams`
    and :class:`hpframe.Trainer` check the values first.

    Parameters
    ----------
    sizes : tuple of int
        ``(n_features, *hidden_layers, n_outputs)``.
    activation, loss, optimizer : str
        Keys of :data:`ACTIVATIONS`, :data:`LOSSES` and :data:`OPTIMIZERS`.
    dropout, momentum, beta_1, beta_2, epsilon, weight_decay : float
        The regularisation and optimizer hyperparameters.
    capacity : int
        Rows of the per-batch buffers: the batch size, or more for evaluation.
    dtype : {numpy.float32, numpy.float64}
    seed : int, numpy.random.SeedSequence or None
        Seeds the bit generators: child 0 of its SeedSequence shuffles, child
        1 + l draws hidden layer l's dropout masks.
    clip_norm : float or None
        The gradients' largest global L2 norm (None: no clipping); with it,
        every step keeps the whole gradient in ``grads`` before updating.
    """

    sizes: tuple
    activation: str = "relu"
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    dropout: float = 0.0
    momentum: float = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    weight_decay: float = 0.0
    capacity: int = EVAL_ROWS
    dtype: Any = np.float32
    seed: Any = None
    clip_norm: Any = None

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        for field, table in (("activation", ACTIVATIONS), ("loss", LOSSES),
                             ("optimizer", OPTIMIZERS)):
            if getattr(self, field) not in table:
                raise ValueError(f"{field}={getattr(self, field)!r} is not allowed; "
                                 f"use one of {', '.join(table)}")

    @classmethod
    def from_hparams(cls, hparams, n_features, n_outputs, n_train=None, seed=None,
                     capacity=None):
        """The network that training ``hparams`` on ``n_features`` inputs and
        ``n_outputs`` outputs builds.

        Parameters
        ----------
        hparams : hpframe.HyperParams
        n_features, n_outputs : int
        n_train : int or None
            Training rows, if known: a smaller dataset than ``batch_size``
            trains in one batch of them.
        seed : int, numpy.random.SeedSequence or None
            Seeds shuffling and dropout (see the class).
        capacity : int or None
            Rows of the per-batch buffers; by default ``max(batch, EVAL_ROWS)``,
            where ``batch`` is the batch size (or ``n_train``, if smaller).

        Returns
        -------
        NetworkSpec
        """
        hp = hparams
        if capacity is None:
            capacity = max(cls.batch_rows(hparams, n_train), EVAL_ROWS)
        return cls((n_features, *hp.hidden_layers, n_outputs), hp.activation, hp.loss,
                   hp.optimizer, hp.dropout, hp.momentum, hp.beta_1, hp.beta_2, hp.epsilon,
                   hp.weight_decay, capacity, hp.dtype, seed, hp.clip_norm)

    @staticmethod
    def batch_rows(hparams, n_train=None):
        """Rows of one training batch: ``batch_size``, or ``n_train`` if smaller."""
        if not n_train:
            return hparams.batch_size
        return min(hparams.batch_size, n_train)

    @property
    def activation_code(self):
        return ACTIVATIONS[self.activation]

    @property
    def loss_code(self):
        return LOSSES[self.loss]

    @property
    def optimizer_code(self):
        return OPTIMIZERS[self.optimizer]

    @property
    def n_weights(self):
        """Weights of every layer (biases not counted)."""
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    def layout(self):
        """Where every number of this network lives (:func:`~hpframe._core.layout.
        network_layout`): what ``Network(self)`` allocates."""
        return network_layout(self)
