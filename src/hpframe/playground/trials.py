"""The "trial and error" tab: a small random search on the playground's data.

:func:`run_trials` calls :func:`hpframe.random_search` over the knobs the learner
ticks, then retrains each finished trial with its own hyperparameters and seed
(training is deterministic, so this is the very model the search scored) to draw
its decision boundary as a thumbnail.
"""
import math

import numpy as np

import hpframe as hp
from hpframe.playground.render import boundary_rgba, png_data_uri
from hpframe.playground.session import CORE_LOCK

__all__ = ["KNOBS", "MAX_TRIAL_EPOCHS", "space_for", "run_trials"]

#: the knobs a search may vary, and the ranges it draws them from
KNOBS = {
    "learning_rate": lambda: hp.LogUniform(1e-4, 1.0),
    "hidden_layers": lambda: hp.Choice([(), (4,), (8,), (16,), (8, 8), (16, 16)]),
    "activation": lambda: hp.Choice(["relu", "tanh", "sigmoid", "elu"]),
    "dropout": lambda: hp.Uniform(0.0, 0.5),
    "batch_size": lambda: hp.Choice([4, 16, 64]),
    "weight_decay": lambda: hp.Choice([0.0, 1e-4, 1e-3, 1e-2]),
    "optimizer": lambda: hp.Choice(["sgd", "momentum", "adam"]),
}
#: each trial trains at most this many epochs, so a search takes seconds
MAX_TRIAL_EPOCHS = 300
THUMB = 48


def space_for(knobs):
    """The search space over the chosen knobs (names from :data:`KNOBS`)."""
    unknown = [k for k in knobs if k not in KNOBS]
    if unknown or not knobs:
        raise ValueError(f"choose one or more knobs to search from {list(KNOBS)}; got "
                         f"{list(knobs)!r}")
    return {k: KNOBS[k]() for k in knobs}


def _describe(trial, knobs):
    parts = []
    for k in knobs:
        v = getattr(trial.hparams, k)
        parts.append(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(parts)


def run_trials(session, knobs, n_trials=8, seed=0, stop=None):
    """Run a random search on ``session``'s data and settings.

    Parameters
    ----------
    session : Session
        Its data set and settings are the search's base (epochs capped at
        :data:`MAX_TRIAL_EPOCHS`; a validation split of 0 becomes 0.2, since a
        search is scored on held-out data).
    knobs : list of str
    n_trials : int
    seed : int
    stop : threading.Event, optional
        Checked between retrainings; the search itself runs to its end.

    Returns
    -------
    list of dict
        One per trial, best first: ``rank``, ``number``, ``status``, ``value``
        (validation loss), ``val_accuracy``, ``knobs`` (text), ``thumbnail``
        (a data URI or ""), ``hparams``.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or not 1 <= n_trials <= 50:
        raise ValueError(f"n_trials must be a whole number from 1 to 50, got {n_trials!r}")
    space = space_for(knobs)
    with CORE_LOCK:                          # see hpframe.playground.session.CORE_LOCK
        return _run_trials(session, knobs, space, n_trials, seed, stop)


def _run_trials(session, knobs, space, n_trials, seed, stop):
    # read the session once: the learner may change its settings while this runs
    hparams, X, y, regression = session.hparams, session.X, session.y, session.regression
    base = hparams.replace(epochs=min(hparams.epochs, MAX_TRIAL_EPOCHS))
    if base.validation_split == 0:  # a search is scored on held-out data
        base = base.replace(validation_split=0.2)
    result = hp.random_search(X, y, space=space, n_trials=n_trials, base=base,
                              metric="val_loss", seed=seed, verbose=0)
    rows = []
    for trial in result.trials:
        value = trial.value if trial.status == "ok" else math.inf
        rows.append({"number": trial.number, "status": trial.status, "value": value,
                     "val_accuracy": (trial.history or {}).get("val_accuracy", [math.nan])[-1]
                     if isinstance(trial.history, dict) else math.nan,
                     "knobs": _describe(trial, knobs), "thumbnail": "",
                     "hparams": trial.hparams})
    rows.sort(key=lambda r: (not math.isfinite(r["value"]), r["value"], r["number"]))
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
        if stop is not None and stop.is_set():
            continue
        trainer = hp.Trainer(row["hparams"])
        try:
            trainer.fit(X, y, verbose=0)
        except Exception:                    # a failed trial keeps its row, without picture
            continue
        if isinstance(trainer.history.history.get("val_accuracy"), list) and \
                trainer.history.history["val_accuracy"]:
            row["val_accuracy"] = trainer.history.history["val_accuracy"][-1]
        if regression:
            continue
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], THUMB), np.linspace(lo[1], hi[1], THUMB))
        with np.errstate(all="ignore"):
            proba = trainer.predict_proba(np.column_stack([gx.ravel(), gy.ravel()]))
        row["thumbnail"] = png_data_uri(boundary_rgba(proba, (THUMB, THUMB)), (X, y),
                                        (lo[0], hi[0], lo[1], hi[1]))
    return rows
