"""hpframe: learn what hyperparameters do to a neural network.

*Parameters* (weights and biases) are learned by training; *hyperparameters*
(learning rate, epochs, batch size, activation, loss, dropout, validation
split, optimizer, ...) are chosen before it and found by trial and error.

>>> import hpframe as hp
>>> X, y = hp.datasets.load_digits()
>>> trainer = hp.Trainer(hidden_layers=(64,), epochs=20).fit(X, y, verbose=0)
>>> trainer.hparams.learning_rate, trainer.n_params      # chosen vs learned
(0.001, 4810)
"""
__version__ = "0.1.0"

from hpframe import data, datasets, io, ops, reference
from hpframe.callbacks import (Callback, CSVLogger, EarlyStopping, History, ModelCheckpoint,
                               ProgressBar, ReduceLROnPlateau)
from hpframe.hparams import HyperParams, explain
from hpframe.memory import estimate_memory
from hpframe.trainer import DivergenceWarning, LRFindResult, NotFittedError, Trainer, gradcheck
from hpframe._info import build_info, show_config
from hpframe._threads import get_num_threads, set_num_threads
from hpframe.search import (Choice, IntUniform, LogUniform, Uniform, grid_search,
                            random_search, successive_halving, tpe_search, asha, hyperband)
from hpframe.search import SearchResult, Trial
# hp.playground(): the package is callable and imports its web framework on first use
from hpframe import playground

__all__ = [
    "HyperParams", "explain", "Trainer", "gradcheck", "estimate_memory",
    "Callback", "EarlyStopping", "History", "ProgressBar", "DivergenceWarning", "NotFittedError",
    "ReduceLROnPlateau", "ModelCheckpoint", "CSVLogger",
    "LRFindResult", "data", "datasets", "io", "ops", "reference", "build_info", "show_config",
    "set_num_threads", "get_num_threads",
    "random_search", "grid_search", "successive_halving", "tpe_search", "asha", "hyperband",
    "Uniform", "LogUniform",
    "IntUniform", "Choice", "__version__",
    "SearchResult", "Trial", "playground",
]
