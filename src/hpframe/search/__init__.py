"""Trial-and-error search over hyperparameters: random, grid and successive halving.

There are no right values for hyperparameters; you find good ones by trying
many. This package makes trying cheap, honest and safe:

* :mod:`~hpframe.search.spaces` - ``Uniform``, ``LogUniform``, ``IntUniform``,
  ``Choice``, checked against :class:`~hpframe.HyperParams`;
* :mod:`~hpframe.search.strategies` - :func:`random_search`,
  :func:`grid_search`, :func:`successive_halving`, :func:`tpe_search`
  (the model-based sampler, :mod:`~hpframe.search.tpe`), :func:`asha` and
  :func:`hyperband` (asynchronous halving, :mod:`~hpframe.search.asha`);
* :mod:`~hpframe.search.trial` - what one trial runs and records (:class:`Trial`);
* :mod:`~hpframe.search.runner` - serial, local worker processes, or any
  ``concurrent.futures`` executor (dask.distributed for a cluster);
* :mod:`~hpframe.search.log` - the JSON-lines log that lets a stopped search resume;
* :mod:`~hpframe.search.result` - :class:`SearchResult`: best trial, table, plot.

>>> import hpframe as hp
>>> X, y = hp.datasets.load_digits()
>>> result = hp.random_search(
...     X, y, space={"learning_rate": hp.LogUniform(1e-4, 1e-1)}, n_trials=4,
...     base=hp.HyperParams(hidden_layers=(32,), epochs=3), verbose=0)
>>> len(result.trials), result.best.status
(4, 'ok')
"""
from hpframe.search.result import SearchResult
from hpframe.search.spaces import Choice, IntUniform, LogUniform, Uniform
from hpframe.search.strategies import grid_search, random_search, successive_halving, \
    tpe_search
from hpframe.search.asha import asha, hyperband
from hpframe.search.trial import Metric, Trial

__all__ = ["random_search", "grid_search", "successive_halving", "tpe_search", "asha",
           "hyperband", "Uniform", "LogUniform",
           "IntUniform", "Choice", "SearchResult", "Trial", "Metric"]
