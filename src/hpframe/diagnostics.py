r"""Tools for looking inside training: the learning-rate range test, a gradient
check against finite differences, and dead ReLU units.

They use the :class:`~hpframe.Trainer`'s public methods only (``build``,
``params``, ``load_params``, ``train_on_batch``, ``gradients``), on a copy of the
trainer where they train or perturb, so the trainer you pass is never changed.
"""
import math
from collections import namedtuple

import numpy as np

from hpframe import _validation as V
from hpframe import tasks
from hpframe._text import pyplot

__all__ = ["LRFindResult", "lr_find", "gradcheck", "dead_units", "divergence_message"]

# A feature whose |mean| + standard deviation exceeds this is far from standardised.
INPUT_SCALE = 5.0


class LRFindResult(namedtuple("LRFindResult", ["learning_rates", "losses", "suggestion"])):
    """Result of :meth:`~hpframe.Trainer.lr_find`: unpacks as ``(learning_rates, losses, suggestion)``."""

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


def _fresh_copy(trainer, X, y, **changes):
    """A new trainer with ``trainer``'s hyperparameters (plus ``changes``) and seed,
    built for ``(X, y)``: the same initial parameters ``fit`` would start from, or
    ``trainer``'s own parameters when it is built."""
    copy = type(trainer)(trainer.hparams.replace(**changes))
    copy.seed_ = trainer.seed_
    dtype = np.dtype(copy.hparams.dtype)
    if trainer.is_built:
        X = V.check_features(X, dtype, trainer.n_features_in_)
        copy.build(trainer.n_features_in_, trainer.n_outputs_)
        copy.classes_ = trainer.classes_
        copy.load_params(trainer.params)
        return copy, X
    X = V.check_features(X, dtype)
    y = V.to_numpy(y, "y")
    V.check_length(X, y)
    task = tasks.infer(copy.hparams.loss, y, dtype)
    copy.build(X.shape[1], task.n_outputs)
    copy.classes_ = task.classes
    return copy, X


def lr_find(trainer, X, y, start_lr=1e-6, end_lr=1.0, n_steps=100, smoothing=0.9):
    """Learning-rate range test: train on mini-batches while raising the rate exponentially.

    ``trainer`` itself is not changed: the test runs on a fresh copy with the
    same hyperparameters (and the same initialisation), one
    :meth:`~hpframe.Trainer.train_on_batch` per rate.

    Parameters
    ----------
    trainer : Trainer
        Gives the hyperparameters and the seed.
    X, y : array-like
        Training data, as for :meth:`~hpframe.Trainer.fit`.
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
    n_steps = V.check_int("n_steps", n_steps, 5)
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1); got {smoothing}")
    fresh = type(trainer)(trainer.hparams)
    fresh.seed_ = trainer.seed_
    probe, X = _fresh_copy(fresh, X, y, validation_split=0.0, patience=None)
    y = V.to_numpy(y, "y")
    V.check_length(X, y)
    batch = min(trainer.hparams.batch_size, V.n_rows(X))
    rng = np.random.default_rng(trainer.seed_)
    rates = np.geomspace(start_lr, end_lr, n_steps)
    recorded, losses, avg, best = [], [], 0.0, math.inf
    for i, lr in enumerate(rates):
        rows = rng.choice(V.n_rows(X), size=batch, replace=False)
        loss = probe.train_on_batch(X[rows], y[rows], learning_rate=float(lr))
        if not math.isfinite(loss):
            break
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


def _flat(arrays):
    return np.concatenate([a.reshape(-1) for a in arrays.values()])


def _unflat(flat, like):
    out, start = {}, 0
    for key, a in like.items():
        out[key] = flat[start:start + a.size].reshape(a.shape)
        start += a.size
    return out


def gradcheck(trainer, X, y, n_checks=200, eps=1e-4, seed=0):
    r"""Compare the core's analytic gradients with 4th-order central finite differences.

    Runs in float64 on a copy of the trainer's parameters, with dropout off,
    on (at most the first 64 rows of) ``(X, y)``: for up to ``n_checks``
    randomly chosen parameters :math:`\theta_i` and steps
    :math:`h \in \{\epsilon, \epsilon/10, \epsilon/100\}`,

    .. math::

        g_i^{h} = \frac{-L(\theta + 2h e_i) + 8L(\theta + h e_i)
                  - 8L(\theta - h e_i) + L(\theta - 2h e_i)}{12h},
        \qquad
        e_i = \min_h \frac{|g_i - g_i^{h}|}{\max(|g_i| + |g_i^{h}|,\ \tau_h)},
        \qquad
        \text{error} = \max_i e_i

    with :math:`\tau_h = \max(10^{-3} \lVert g \rVert_\infty,\
    10^{6}\, u\, |L| / h)`, :math:`u = 2^{-53}`. The floor :math:`\tau_h` measures
    small components against the scale of the whole gradient and of the
    differences' own rounding (:math:`u |L| / h`), so a gradient that is zero or
    tiny - an input column that is always 0 gives exact zeros - is not a false
    alarm; the smaller steps let a difference that straddles a ReLU kink be
    measured again on one side of it. A wrong gradient differs from every
    difference quotient alike, so the minimum over steps still shows it.

    Parameters
    ----------
    trainer : Trainer
        A built or trained trainer.
    X, y : array-like
        Data, as for :meth:`~hpframe.Trainer.fit`.
    n_checks : int
        How many parameters to check.
    eps : float
        The largest finite-difference step (the stencil's error shrinks as ``eps**4``).
    seed : int
        Chooses the parameters checked.

    Returns
    -------
    float
        The maximum error; below about 1e-6 means the gradients are right.
    """
    from hpframe.trainer import Trainer
    if not isinstance(trainer, Trainer):
        raise TypeError(f"gradcheck needs a Trainer; got {type(trainer).__name__}")
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1); got {eps!r}")
    check, X = _fresh_copy(trainer, X, y, dtype="float64", dropout=0.0,
                           validation_split=0.0, patience=None)
    y = V.to_numpy(y, "y")
    V.check_length(X, y)
    X, y = X[:64], y[:64]
    loss, grads = check.gradients(X, y)
    like = check.params
    theta, analytic = _flat(like), _flat(grads)
    scale = 1e-3 * float(np.abs(analytic).max())
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(theta), size=min(n_checks, len(theta)), replace=False)

    def loss_at(i, value):
        theta[i] = value
        check.load_params(_unflat(theta, like))
        return check.gradients(X, y)[0]

    worst = 0.0
    for i in chosen:
        saved, best = theta[i], math.inf
        for h in (eps, eps / 10, eps / 100):
            L = [loss_at(i, saved + step * h) for step in (2, 1, -1, -2)]
            numeric = (-L[0] + 8 * L[1] - 8 * L[2] + L[3]) / (12 * h)
            floor = max(scale, 1e6 * 2.0 ** -53 * abs(loss) / h)
            best = min(best, abs(analytic[i] - numeric) /
                       max(abs(analytic[i]) + abs(numeric), floor))
            if best < 1e-9:
                break
        theta[i] = saved
        worst = max(worst, best)
    check.load_params(_unflat(theta, like))
    return float(worst)


def dead_units(trainer, X):
    """Share of hidden ReLU units that output 0 for every row of ``X``.

    Parameters
    ----------
    trainer : Trainer
        A built or trained trainer.
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    float or None
        None when the model has no hidden layer or the activation is not ReLU
        (only ReLU units can be exactly dead).
    """
    params = trainer.params          # NotFittedError if not built
    if trainer.hparams.activation != "relu" or not trainer.hparams.hidden_layers:
        return None
    h = V.check_features(X, np.float64, trainer.n_features_in_)
    dead = total = 0
    with np.errstate(all="ignore"):
        for l in range(len(trainer.hparams.hidden_layers)):
            h = np.maximum(h @ params[f"dense_{l}.weight"] + params[f"dense_{l}.bias"], 0)
            alive = (h > 0).any(axis=0)
            dead += int((~alive).sum())
            total += h.shape[1]
    return dead / total


def divergence_message(trainer, loss, first, X_train, epoch, lr):
    """None while training is sound; else why it diverged, in words a learner understands.

    It diverged when the epoch's training ``loss`` is NaN/inf or more than 10x
    ``first``, the loss of the very first batch. The message names the likely cause (the learning
    rate), the share of dead ReLU units on (at most 2,048 rows of) ``X_train``, and
    the input scale when a feature's ``|mean| + std`` there exceeds ``INPUT_SCALE``.
    """
    if math.isfinite(loss) and not loss > 10 * first:
        return None
    what = ("became NaN or infinite" if not math.isfinite(loss) else
            f"rose to {loss:.4g}, more than 10x the first batch's loss ({first:.4g})")
    msg = (f"Training diverged in epoch {epoch + 1}: the training loss {what}. The most "
           f"likely cause is a learning rate that is too high (learning_rate={lr:.3g}); "
           f"try about 10x smaller, e.g. {lr / 10:.3g}, or run trainer.lr_find(X, y).")
    sample = X_train[:2048]
    dead = dead_units(trainer, sample)
    if dead:                            # None (not ReLU) or 0.0 (none dead): nothing to say
        msg += (f" {dead:.0%} of the hidden {trainer.hparams.activation} units are dead "
                "(output 0 for every training sample), so they no longer learn"
                + (" - a sign of too large updates." if dead > 0.2 else "."))
    with np.errstate(all="ignore"):
        spread = float(np.max(np.abs(sample.mean(axis=0)) + sample.std(axis=0)))
    if spread > INPUT_SCALE:
        msg += (f" The inputs are far from standardised (a feature's |mean| + std reaches "
                f"{spread:.3g}; the initialisation assumes about 1), which makes large "
                "updates too: standardise each feature (subtract its mean, divide by its "
                "standard deviation, both from the training set).")
    return msg
