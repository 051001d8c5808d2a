r"""Which knob mattered: functional ANOVA on a random-forest surrogate.

The question "how much of the metric's variation does each hyperparameter explain"
has a precise form (Hutter, Hoos and Leyton-Brown, 2014, "An efficient approach for
assessing hyperparameter importance"): fit a model :math:`\hat f(x)` of the metric
over the space, then split its variance over the space into parts. The *main effect*
of hyperparameter :math:`i` is the average of :math:`\hat f` over every other
hyperparameter, as a function of :math:`x_i` alone,

.. math::

    \hat f_i(x_i) = \mathbb{E}_{x_{-i}}\left[\hat f(x_i, x_{-i})\right],

and its share of the variance is :math:`V_i / V = \mathrm{Var}[\hat f_i(x_i)] /
\mathrm{Var}[\hat f(x)]`, both taken with every hyperparameter drawn from its
search distribution. The shares add up to at most 1; what is left is explained by
interactions between hyperparameters.

Here the model is a random forest (scikit-learn's ``RandomForestRegressor``, an
optional dependency) fitted to the successful trials, and the expectations are
Monte Carlo averages over configurations drawn from the space: for each tree, the
main effect of :math:`x_i` is evaluated on a grid of its values (every option of a
``Choice``; 16 equal slices of a numeric range, in log space for log distributions),
each averaged over the same drawn configurations; the shares are averaged over the
trees, as fANOVA does.
"""
import math

import numpy as np

from hpframe.search import spaces as S

__all__ = ["importance"]

N_TREES = 64
N_REFERENCE = 256
N_GRID = 16


def _log_int(value):
    """An integer drawn by ``IntUniform(log=True)`` in log space: its slice's middle."""
    return math.log(value + 0.5)


def _encoders(space):
    """name -> (encode value, grid of encoded values) in the forest's coordinates."""
    out = {}
    for key, dist in space.items():
        if isinstance(dist, S.Choice):
            index = {repr(o): i for i, o in enumerate(dist.options)}
            out[key] = (lambda v, index=index: float(index[repr(v)]),
                        np.arange(len(dist.options), dtype=float))
        elif isinstance(dist, S.Distribution):
            if isinstance(dist, S.IntUniform) and dist.log:
                encode = _log_int
                low, high = math.log(dist.low), math.log(dist.high + 1)
            elif isinstance(dist, S.IntUniform):
                encode, low, high = float, dist.low - 0.5, dist.high + 0.5
            elif dist.log:
                encode, low, high = math.log, math.log(dist.low), math.log(dist.high)
            else:
                encode, low, high = float, dist.low, dist.high
            edges = np.linspace(low, high, N_GRID + 1)
            out[key] = (encode, 0.5 * (edges[1:] + edges[:-1]))
        else:                                   # a grid's values
            values = list(dist)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          for v in values)
            if numeric:
                out[key] = (float, np.array(sorted(set(float(v) for v in values))))
            else:
                index = {repr(v): i for i, v in enumerate(values)}
                out[key] = (lambda v, index=index: float(index[repr(v)]),
                            np.arange(len(values), dtype=float))
    return out


def importance(space, params, values, seed=0, draw=None):
    """Main-effect variance shares of each hyperparameter.

    Parameters
    ----------
    space : dict
        Name -> distribution (or a grid's values); one dict (a conditional space
        merged).
    params : list of dict
        The searched values of each trial.
    values : list of float
        The metric of each trial.
    seed : int
        Seeds the forest and the drawn configurations.
    draw : callable, optional
        ``draw(rng) -> dict`` of values, a configuration from the space; default
        the trials' own configurations (for grids).

    Returns
    -------
    dict of str to float
        Hyperparameter -> share of the variance it explains alone, largest first.
    """
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError:
        raise ImportError("importance() needs scikit-learn for its random-forest model: "
                          "pip install scikit-learn") from None
    keys = list(space)
    encoders = _encoders(space)
    missing = {k: float(encoders[k][1].min() - 1.0) for k in keys}   # not searched

    def encode(p):
        return [encoders[k][0](p[k]) if k in p else missing[k] for k in keys]
    features = np.array([encode(p) for p in params], dtype=float)
    target = np.asarray(values, dtype=float)
    forest = RandomForestRegressor(n_estimators=N_TREES, random_state=seed,
                                   min_samples_leaf=1)
    forest.fit(features, target)
    rng = np.random.default_rng(seed)
    if draw is not None:
        reference = np.array([encode(draw(rng)) for _ in range(N_REFERENCE)], dtype=float)
    else:
        reference = features[rng.integers(len(features), size=N_REFERENCE)]
    shares = {k: [] for k in keys}
    for tree in forest.estimators_:
        total = float(np.var(tree.predict(reference)))
        for j, key in enumerate(keys):
            if total <= 0:
                shares[key].append(0.0)
                continue
            grid = encoders[key][1]
            present = reference[:, j] != missing[key]
            rows = reference[present] if present.any() else reference
            effects = []
            for value in grid:
                probe = rows.copy()
                probe[:, j] = value
                effects.append(float(np.mean(tree.predict(probe))))
            shares[key].append(min(1.0, float(np.var(effects)) / total))
    mean = {k: float(np.mean(v)) for k, v in shares.items()}
    return dict(sorted(mean.items(), key=lambda kv: (-kv[1], kv[0])))
