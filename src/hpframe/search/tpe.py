r"""The Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio and Kégl, 2011).

Random search draws every trial from the same prior. TPE, once it has seen some
trials, draws where good trials were found. Its trick is to model :math:`p(x \mid y)`
instead of :math:`p(y \mid x)`: the finished trials are split at a quantile
:math:`y^*` of their metric into the *good* ones (the best fraction :math:`\gamma`)
and the rest, and each hyperparameter gets two densities,

.. math::

    \ell(x) = p(x \mid y < y^*), \qquad g(x) = p(x \mid y \ge y^*).

Bergstra et al. show that the expected improvement over :math:`y^*` grows with
:math:`\ell(x) / g(x)`, so TPE draws candidates from :math:`\ell` and keeps the one
with the largest ratio. Each hyperparameter is treated on its own (the "tree" is
the structure of a conditional space; here the list of dicts).

The densities, as written here from the paper's description:

* numbers (``Uniform``, ``LogUniform``, ``IntUniform``): a *Parzen estimator* - a
  mixture of Gaussians, one centred on each observed value (in log space for log
  distributions) plus one wide "prior" component centred in the middle of the range
  with the range as its width, each truncated to the range. A component's width is
  the larger distance to its neighbours among the sorted centres (so sparse regions
  get wide bumps), clipped between ``range / min(100, n + 1)`` and the range.
  Integers are modelled as the continuous values that round (or, with ``log=True``,
  floor) to them;
* options (``Choice``): the share of each option among the observations, plus one
  pseudo-count per option (the prior), so an option never tried keeps a chance.

The first ``n_startup_trials`` trials are random search's trials (the same draws),
since the densities need observations. After them, proposals come in fixed batches:
every trial of a batch is proposed from the trials finished before the batch, each
with its own generator (seeded by the search's seed and its number), so the result
never depends on which trial of a batch finished first.
"""
import math

import numpy as np
from scipy.special import ndtr, ndtri

from hpframe.search import spaces as S

__all__ = ["propose", "n_good", "ParzenEstimator"]

N_CANDIDATES = 24


def n_good(n):
    """How many of ``n`` finished trials form the good group: ``ceil(0.15 n)``,
    at least 1 and at most 25 (the paper's :math:`\\gamma = 0.15`, capped as Optuna's
    default so that with many trials :math:`\\ell` stays sharp)."""
    return max(1, min(25, math.ceil(0.15 * n)))


class ParzenEstimator:
    r"""A mixture of truncated Gaussians on ``[low, high]``: one per observation plus a
    prior component centred in the middle of the range.

    Parameters
    ----------
    points : array-like of float
        Observed values (in the model's coordinates: log for log distributions).
    low, high : float
        The range.
    """

    def __init__(self, points, low, high):
        points = np.asarray(points, dtype=float)
        span = high - low
        centres = np.append(points, 0.5 * (low + high))
        order = np.argsort(centres, kind="stable")
        ordered = centres[order]
        padded = np.concatenate([[low], ordered, [high]])
        gaps = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
        sigma = np.empty_like(centres)
        sigma[order] = gaps
        sigma[-1] = span                                # the prior is the whole range
        lower = span / min(100.0, len(points) + 1.0)
        self.mu = centres
        self.sigma = np.clip(sigma, lower, span)
        self.weight = np.full(len(centres), 1.0 / len(centres))
        self.low, self.high = low, high
        a, b = (low - self.mu) / self.sigma, (high - self.mu) / self.sigma
        self._cdf_low, self._mass = ndtr(a), ndtr(b) - ndtr(a)

    def sample(self, rng, size):
        """``size`` draws: a component by weight, then its Gaussian truncated to the range."""
        k = rng.choice(len(self.mu), size=size, p=self.weight)
        u = self._cdf_low[k] + rng.uniform(size=size) * self._mass[k]
        u = np.clip(u, 1e-300, 1 - 1e-16)
        return np.clip(self.mu[k] + self.sigma[k] * ndtri(u), self.low, self.high)

    def log_pdf(self, x):
        """Log density at each of ``x``."""
        x = np.asarray(x, dtype=float)[:, None]
        z = (x - self.mu) / self.sigma
        log_terms = (np.log(self.weight) - 0.5 * z ** 2 - np.log(self.sigma)
                     - 0.5 * math.log(2 * math.pi) - np.log(np.maximum(self._mass, 1e-300)))
        top = log_terms.max(axis=1, keepdims=True)
        return (top + np.log(np.exp(log_terms - top).sum(axis=1, keepdims=True)))[:, 0]


def _coordinates(dist):
    """(to model coordinates, from them, low, high) of a numeric distribution."""
    if isinstance(dist, S.IntUniform):
        if dist.log:
            return (lambda v: math.log(v + 0.5), lambda t: min(max(int(math.floor(
                math.exp(t))), dist.low), dist.high), math.log(dist.low),
                math.log(dist.high + 1))
        return (float, lambda t: min(max(int(round(t)), dist.low), dist.high),
                dist.low - 0.5, dist.high + 0.5)
    if dist.log:
        return (math.log, lambda t: min(max(math.exp(t), dist.low),
                                        float(np.nextafter(dist.high, dist.low))),
                math.log(dist.low), math.log(dist.high))
    return (float, lambda t: min(float(t), float(np.nextafter(dist.high, dist.low))),
            dist.low, dist.high)


def _propose_number(dist, good, bad, rng):
    to, back, low, high = _coordinates(dist)
    lo = ParzenEstimator([to(v) for v in good], low, high)
    hi = ParzenEstimator([to(v) for v in bad], low, high)
    candidates = lo.sample(rng, N_CANDIDATES)
    score = lo.log_pdf(candidates) - hi.log_pdf(candidates)
    return back(float(candidates[int(np.argmax(score))]))


def _propose_choice(options, good, bad, rng):
    index = {repr(o): i for i, o in enumerate(options)}

    def shares(values):
        counts = np.ones(len(options))                  # one pseudo-count per option
        for v in values:
            counts[index[repr(v)]] += 1
        return counts / counts.sum()
    lo, hi = shares(good), shares(bad)
    candidates = rng.choice(len(options), size=N_CANDIDATES, p=lo)
    score = np.log(lo[candidates]) - np.log(hi[candidates])
    return options[int(candidates[int(np.argmax(score))])]


def _propose_dict(space, good, bad, rng):
    values = {}
    for key in sorted(space):
        dist = space[key]
        g = [p[key] for p in good if key in p]
        b = [p[key] for p in bad if key in p]
        if isinstance(dist, S.Choice):
            values[key] = _propose_choice(dist.options, g, b, rng)
        else:
            values[key] = _propose_number(dist, g, b, rng)
    return values


def which_dict(space, params):
    """The index of the dict of a conditional space that ``params`` were drawn from."""
    for i, part in enumerate(space):
        if set(part) == set(params) and all(_in_support(part[k], params[k]) for k in part):
            return i
    return None


def _in_support(dist, value):
    if isinstance(dist, S.Choice):
        return any(repr(value) == repr(o) for o in dist.options)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return dist.low <= value <= dist.high


def propose(space, ranked, seed, number):
    """The values TPE proposes for trial ``number``.

    Parameters
    ----------
    space : dict or list of dict
        A checked space (``hpframe.search.spaces.check_space``).
    ranked : list of dict
        The searched values of the finished trials, best first (successful trials
        by the metric, then the others).
    seed : int
        The search's seed; with ``number`` it seeds the proposal's generator.
    number : int

    Returns
    -------
    dict
    """
    rng = S.trial_rng(seed, number)
    cut = n_good(len(ranked))
    good, bad = ranked[:cut], ranked[cut:]
    if not isinstance(space, list):
        return _propose_dict(space, good, bad, rng)
    # A conditional space: which dict is one more categorical choice, then that dict's
    # values from the trials that drew it.
    tags = [which_dict(space, p) for p in ranked]
    part = _propose_choice(list(range(len(space))),
                           [t for t in tags[:cut] if t is not None],
                           [t for t in tags[cut:] if t is not None], rng)
    return _propose_dict(space[part], [p for p, t in zip(good, tags[:cut]) if t == part],
                         [p for p, t in zip(bad, tags[cut:]) if t == part], rng)
