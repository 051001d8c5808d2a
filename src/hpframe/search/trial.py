r"""One trial: train one configuration, measure it, never raise.

:func:`run_trial` is the function every worker runs - in this process, in a
thread, in a worker process or on a dask worker. It takes a :class:`Task`
(everything needed, picklable) and returns an outcome dict: the status
(``ok``, ``diverged`` or ``failed``), the value of the search metric, the
per-epoch history, the time and the memory it took. An exception inside a
trial is caught and returned as text; only ``KeyboardInterrupt`` (Ctrl-C)
passes, so that the search can stop.

Two things make a trial's result independent of where it runs:

* BLAS and the core run single-threaded during every trial (:func:`single_blas_thread`):
  a matrix product's last bits can change with the number of BLAS threads.
* The trial's hyperparameters and seed are fixed before it is sent
  (see :mod:`hpframe.search.spaces`).

Memory (``peak_memory``, bytes) is measured with :mod:`tracemalloc` when the
trial runs alone in its process - serially, in a worker process, or on a
dask worker with one thread: the peak of everything allocated during the
trial (the core's buffers are numpy arrays, which tracemalloc sees). When
other trials run in the same process at the same time (threads), their
allocations cannot be told apart, so the trial reports
:func:`hpframe.estimate_memory` instead. ``memory_source`` says which.
"""
import contextlib
import dataclasses
import math
import os
import threading
import time
import tracemalloc
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from hpframe import io as hpio
from hpframe._threads import single_threaded
from hpframe.callbacks import Callback
from hpframe.hparams import HyperParams
from hpframe.trainer import DivergenceWarning, Trainer

__all__ = ["Trial", "Metric", "Task", "Run", "run_trial", "single_blas_thread", "STATUSES"]

STATUSES = ("ok", "diverged", "failed")


# Direction of the metrics a History records (EarlyStopping's "auto" rule agrees).
_KNOWN_DIRECTIONS = {"loss": "min", "val_loss": "min", "mae": "min", "val_mae": "min",
                     "accuracy": "max", "val_accuracy": "max", "r2": "max", "val_r2": "max"}
_NOT_METRICS = ("lr", "time")


# --------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------
@dataclass
class Trial:
    """The record of one trial of a search.

    Attributes
    ----------
    number : int
        0-based position in the search; fixes the trial's hyperparameters and seed.
    hparams : HyperParams
        Every hyperparameter the trial trained with (``base`` plus the searched values).
    params : dict
        The searched hyperparameter values only, e.g. ``{"learning_rate": 0.003}``
        (Optuna's name, as in :attr:`SearchResult.best_params`; not the model
        parameters, which a search does not keep).
    seed : int
        The trial's training seed (``hparams.seed``).
    status : {"ok", "diverged", "failed"}
        ``diverged``: the loss blew up (``error`` holds the explanation);
        ``failed``: an exception (``error`` holds the traceback) or a worker that died.
    value : float or None
        The search metric for the model the trial ended with; None unless ``ok``.
    metrics : dict
        Final value of every recorded metric (``loss``, ``val_loss``, ...), the best
        value over the epochs as ``best_<name>`` (lowest loss, highest accuracy), and
        ``best_epoch`` (0-based) of the search metric.
    history : dict of str to list of float
        The full per-epoch history (``trainer.history.history``).
    train_time : float
        Seconds spent training (for successive halving: over all rungs reached).
    peak_memory : int or None
        Bytes; see ``memory_source``.
    error : str or None
        The traceback text of a failed trial, or the divergence report.
    memory_source : {"tracemalloc", "estimate"} or None
        ``tracemalloc``: measured peak of the allocations during the trial (it ran
        alone in its process); ``estimate``: :func:`hpframe.estimate_memory` (it
        shared its process with other trials).
    rung : int
        Successive halving: the last rung the trial reached (0 otherwise).
    epochs : int
        Epochs trained.
    values : list of float or None
        Several objectives (``metric=("val_loss", "time")``): the value of each, in
        order (``value`` is the first); None for a single objective.
    value_sd : float or None
        With ``cv`` or ``repeats``: the standard deviation (``ddof=1``) of the
        first objective over the trial's runs (``value`` is their mean); None for
        one run.
    scores : list of float or None
        With ``cv`` or ``repeats``: the first objective of each run (folds of
        repeat 0 first, then of repeat 1, ...).
    """

    number: int
    hparams: HyperParams
    params: dict
    seed: int
    status: str
    value: Optional[float] = None
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    train_time: float = 0.0
    peak_memory: Optional[int] = None
    error: Optional[str] = None
    memory_source: Optional[str] = None
    rung: int = 0
    epochs: int = 0
    values: Optional[list] = None
    value_sd: Optional[float] = None
    scores: Optional[list] = None

    @property
    def ok(self):
        """True when the trial finished with a finite metric value."""
        return self.status == "ok"

    def to_dict(self):
        """The record as plain data (``hparams`` as a dict); non-finite floats stay floats."""
        d = dataclasses.asdict(self)
        d["hparams"] = self.hparams.to_dict()
        return d

    @classmethod
    def from_dict(cls, d):
        """Rebuild a Trial from :meth:`to_dict` output."""
        d = dict(d)
        d["hparams"] = HyperParams.from_dict(d["hparams"])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def __repr__(self):
        value = "" if self.value is None else f", value={self.value:.6g}"
        return (f"Trial(number={self.number}, status={self.status!r}{value}, "
                f"params={self.params!r})")


# --------------------------------------------------------------------------
# The search metric
# --------------------------------------------------------------------------
class Metric:
    """What a search optimises, and in which direction: one objective or several.

    Parameters
    ----------
    metric : str, tuple or callable
        One objective:

        * ``"val_loss"`` (minimised), ``"val_accuracy"`` (maximised), or any of
          ``loss``, ``accuracy``, ``mae``, ``val_mae``, ``r2``, ``val_r2``
          (losses and errors minimised, accuracy and r2 maximised);
        * ``"time"`` (the trial's training time, :attr:`Trial.train_time`) or
          ``"peak_memory"`` (:attr:`Trial.peak_memory`), both minimised;
        * ``(key, "min")`` or ``(key, "max")`` for any other key of the history;
        * a callable ``f(trainer) -> float``, minimised, or ``(f, "max")``. It runs
          where the trial runs, with the trained :class:`~hpframe.Trainer`; for
          worker processes and executors it must be picklable (a module-level
          function).

        Several objectives: a tuple of the above, e.g. ``("val_loss", "time")`` or
        ``("val_accuracy", "peak_memory")``. The search then keeps the Pareto front
        (:attr:`SearchResult.pareto_front`); the first objective is the one that
        ranks trials (``best``, successive halving's promotions).

    Attributes
    ----------
    objectives : list of Metric
        The single objectives (one for a single-objective search).
    name, mode, key, func
        Those of the first objective.

    Examples
    --------
    >>> Metric("val_accuracy")
    Metric('val_accuracy', 'max')
    >>> Metric(("val_loss", "time")).objectives
    [Metric('val_loss', 'min'), Metric('time', 'min')]
    """

    def __init__(self, metric):
        if isinstance(metric, Metric):
            self.__dict__.update(metric.__dict__)
            return
        if isinstance(metric, (tuple, list)) and not _is_directed(metric):
            if len(metric) < 2:
                raise ValueError(f"metric as a tuple of objectives needs at least two, e.g. "
                                 f"('val_loss', 'time'); got {metric!r}")
            objectives = [Metric(m) for m in metric]
            for o in objectives:
                if o.multi:
                    raise ValueError(f"metric objectives cannot be nested; got {metric!r}")
            names = [o.name for o in objectives]
            if len(set(names)) < len(names):
                raise ValueError(f"metric objectives must differ; got {metric!r}")
            first = objectives[0]
            self.key, self.func, self.name, self.mode = first.key, first.func, first.name, \
                first.mode
            self.measured = first.measured
            self.objectives = objectives
            return
        direction = None
        if isinstance(metric, tuple):
            metric, direction = metric
        if callable(metric) and not isinstance(metric, str):
            self.key, self.func = None, metric
            name = getattr(metric, "__qualname__", None)
            module = getattr(metric, "__module__", None)
            self.name = (f"{module}.{name}" if module and name else name) or repr(metric)
            self.mode = direction or "min"
            self.measured = None
        elif isinstance(metric, str):
            self.measured = metric if metric in _MEASURED else None
            if direction is None:
                if metric not in _KNOWN_DIRECTIONS and not self.measured:
                    raise ValueError(
                        f"metric {metric!r} has no known direction; pass ({metric!r}, "
                        f"'min') or ({metric!r}, 'max'), or one of "
                        f"{', '.join(map(repr, (*_KNOWN_DIRECTIONS, *_MEASURED)))}")
                direction = _KNOWN_DIRECTIONS.get(metric, "min")
            self.key = None if self.measured else metric
            self.func, self.name, self.mode = None, metric, direction
        else:
            raise TypeError(f"metric must be a history key (str), 'time', 'peak_memory', a "
                            f"(key, 'min'|'max') tuple, a callable, or a tuple of these "
                            f"(several objectives); got {metric!r}")
        self.objectives = [self]

    @property
    def multi(self):
        """Whether there are several objectives."""
        return len(self.objectives) > 1

    @property
    def names(self):
        """The names of the objectives."""
        return [o.name for o in self.objectives]

    def to_json(self):
        """What a search log records about the metric."""
        if self.multi:
            return {"objectives": [o.to_json() for o in self.objectives]}
        return {"name": self.name, "mode": self.mode, "callable": self.func is not None}

    def sort_key(self, value):
        """A number that is smaller for better values (for sorting)."""
        return value if self.mode == "min" else -value

    def better(self, a, b):
        """Whether value ``a`` is strictly better than ``b``."""
        return a < b if self.mode == "min" else a > b

    def dominates(self, a, b):
        """Whether objective values ``a`` are at least as good as ``b`` everywhere and
        better somewhere (Pareto dominance)."""
        ka = [o.sort_key(v) for o, v in zip(self.objectives, a)]
        kb = [o.sort_key(v) for o, v in zip(self.objectives, b)]
        return all(x <= y for x, y in zip(ka, kb)) and any(x < y for x, y in zip(ka, kb))

    def __repr__(self):
        if self.multi:
            return f"Metric({tuple(self.objectives)!r})"
        return f"Metric({self.name!r}, {self.mode!r})"


def _is_directed(metric):
    """``(key or callable, "min"|"max")``: one objective with its direction."""
    if not isinstance(metric, tuple) or len(metric) != 2:
        return False
    target, direction = metric
    if not (isinstance(target, str) or callable(target)) or not isinstance(direction, str):
        return False
    if direction in ("min", "max"):
        return True
    if direction in _KNOWN_DIRECTIONS or direction in _MEASURED:
        return False                    # two objectives, e.g. ("val_loss", "time")
    raise ValueError(f"metric direction must be 'min' or 'max'; got {direction!r} (for "
                     f"several objectives name known metrics, or give each a direction: "
                     f"(({target!r}, 'min'), ...))")


_MEASURED = ("time", "peak_memory")


def _direction(key):
    lowered = key.lower()
    return "max" if ("acc" in lowered or "r2" in lowered) else "min"


def _summarise(trainer, metric, value=True):
    """(value, metrics) of a trained trainer; raises ValueError for a missing metric.

    With ``value=False`` (a diverged trial) only the metrics are summarised: the
    search metric is not computed and a callable metric is not called.
    """
    history = trainer.history.history
    epochs = len(trainer.history)
    index = epochs - 1
    hp = trainer.hparams
    if trainer.history.stopped_early and hp.patience is not None and "val_loss" in history:
        # The patience callback restored the weights of the best val_loss epoch.
        index = int(np.nanargmin(history["val_loss"]))
    metrics = {}
    for key, column in history.items():
        if key in _NOT_METRICS:
            continue
        metrics[key] = column[index]
        values = np.asarray(column, dtype=float)
        if np.isnan(values).all():
            metrics["best_" + key] = math.nan
        else:
            best = np.nanmax(values) if _direction(key) == "max" else np.nanmin(values)
            metrics["best_" + key] = float(best)
    metrics["epochs"] = epochs
    if not value:
        return None, metrics
    values = []
    for k, objective in enumerate(metric.objectives):
        if objective.measured:
            values.append(None)             # time and memory: known after the trial
        elif objective.func is not None:
            values.append(float(objective.func(trainer)))
        else:
            if objective.key not in history:
                raise ValueError(_missing_metric(objective.key, trainer))
            values.append(float(history[objective.key][index]))
            column = np.asarray(history[objective.key], dtype=float)
            if k == 0 and not np.isnan(column).all():
                best = np.nanargmax(column) if objective.mode == "max" else \
                    np.nanargmin(column)
                metrics["best_epoch"] = int(best)
    return values, metrics


def _missing_metric(key, trainer):
    """Why ``key`` is not in a trained trainer's history, in words."""
    history = trainer.history.history
    recorded = ", ".join(k for k in history if k not in _NOT_METRICS) or "nothing"
    loss = trainer.hparams.loss
    if "acc" in key.lower() and loss in ("mse", "mae", "huber"):
        return (f"metric {key!r} is for classification, but this trial is a regression "
                f"(loss={loss!r}), which records {recorded}; search on metric='val_loss', "
                f"or ('val_r2', 'max')")
    if key.startswith("val_") and not any(k.startswith("val_") for k in history):
        return (f"metric {key!r} is a validation metric, but the trial had no validation "
                f"data (validation_split={trainer.hparams.validation_split!r}); it "
                f"recorded {recorded}")
    return f"metric {key!r} is not in the trial's history; it recorded {recorded}"


# --------------------------------------------------------------------------
# Per-process guards: BLAS threads and memory measurement
# --------------------------------------------------------------------------
_guard_lock = threading.Lock()

# BLAS and hpframe's own loops run on one thread while any trial of this
# process is inside (one process-wide section, shared by trials in threads).
single_blas_thread = single_threaded


_held = []


def hold_single_blas_thread():
    """Keep BLAS single-threaded in this process for good (an executor's worker process)."""
    if not _held:
        guard = single_blas_thread()
        guard.__enter__()
        _held.append(guard)


_probes = set()


class _MemoryProbe:
    """Peak bytes allocated during a trial, if it ran alone in this process."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.owner = False
        self.alone = False
        self.peak = None

    def __enter__(self):
        with _guard_lock:
            if self.enabled and not _probes and not tracemalloc.is_tracing():
                tracemalloc.start()
                self.owner = self.alone = True
            for other in _probes:
                other.alone = False
            _probes.add(self)
        return self

    def __exit__(self, *exc):
        with _guard_lock:
            _probes.discard(self)
            if self.owner:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                if self.alone:
                    self.peak = int(peak)
        return False


# --------------------------------------------------------------------------
# The worker function
# --------------------------------------------------------------------------
@dataclass
class Task:
    """Everything a worker needs to run one trial (or one rung of one).

    Attributes
    ----------
    number, rung : int
        The trial and (successive halving) rung.
    hparams : dict
        ``HyperParams.to_dict()`` of the configuration (validated by the caller).
    data : tuple (X, y)
        The data.
    metric : Metric
    fits : list of int
        Epochs of each ``fit`` call: one call for a plain trial; for a promoted trial
        without ``checkpoint``, the calls of the earlier rungs are replayed first
        (deterministically, to the same state), and only the last is new work.
    checkpoint : bytes or None
        A saved trainer (``Trainer.save``) to continue from; then ``fits`` has one entry.
    keep_state : bool
        Return the trained trainer as ``checkpoint`` bytes (to be promoted later).
    prior_time : float
        Training seconds already spent on this trial in earlier rungs.
    measure_memory : bool
        Try tracemalloc (False when the caller knows trials share the process).
    stop : threading.Event or None
        For trials run as threads of the search's process: set on Ctrl-C, it ends
        the trial after its current epoch (its result is then discarded).
    driver_pid : int or None
        The search's process. A trial running in another process (an executor's
        worker) leaves BLAS single-threaded there after it ends: restoring the
        thread count between trials wakes BLAS thread pools whose spinning threads
        slow down the trials running next to them.
    runs : list of Run or None
        Several models per trial (``cv`` folds, ``repeats`` seeds), scored by their
        mean; then ``checkpoint`` is a list, one per run. None: one model.
    validation : tuple (X_val, y_val) or None
        The search's ``validation_data``.
    quiet : bool
        Silence the trainer's ``DivergenceWarning`` during the trial: the status and
        ``error`` record the divergence, once. False when trials run as threads of
        one process: ``warnings.catch_warnings`` is not thread-safe, so the search
        silences them around the whole run instead.
    """

    number: int
    hparams: dict
    data: Any
    metric: Metric
    fits: list
    rung: int = 0
    checkpoint: Optional[bytes] = None
    keep_state: bool = False
    prior_time: float = 0.0
    measure_memory: bool = True
    stop: Any = None
    driver_pid: Optional[int] = None
    quiet: bool = True
    runs: Optional[list] = None
    validation: Any = None


@dataclass
class Run:
    """One model of a trial: a cross-validation fold and/or a repeat's seed.

    Attributes
    ----------
    train, val : ndarray of int or None
        Rows of ``X`` to train on and to validate on (a fold); None: all of ``X``,
        validated as the trial says (``validation_data`` or ``validation_split``).
    seed : int or None
        The training seed (None: the trial's own).
    fold, repeat : int or None
        Where the run comes from, for messages.
    """

    train: Any = None
    val: Any = None
    seed: Optional[int] = None
    fold: Optional[int] = None
    repeat: Optional[int] = None

    def data(self, X, y, validation):
        """``(X_train, y_train, validation_data)`` of this run."""
        if self.train is None:
            return X, y, validation
        return X[self.train], y[self.train], (X[self.val], y[self.val])

    def describe(self):
        parts = []
        if self.fold is not None:
            parts.append(f"fold {self.fold}")
        if self.repeat is not None:
            parts.append(f"repeat {self.repeat}")
        return ", ".join(parts) or "the run"


class _Stop(Callback):
    """Ends a trial after the current epoch once ``event`` is set (Ctrl-C in threads)."""

    def __init__(self, event):
        self.event = event

    def on_epoch_end(self, epoch, logs=None):
        if self.event.is_set():
            self.trainer.stop_training = True


def _dump_trainer(trainer):
    return hpio.to_bytes(trainer)


def _load_trainer(blob):
    return hpio.from_bytes(blob, cls=Trainer)


def _estimate(trainer, n_samples):
    from hpframe.memory import estimate_memory
    if not trainer.is_built:
        return None
    return int(estimate_memory(trainer.hparams, trainer.n_features_in_, trainer.n_outputs_,
                               n_samples)["total"])


def run_trial(task):
    """Train one trial and describe the outcome; never raises (except on Ctrl-C).

    A trial with several runs (``cv`` folds, ``repeats`` seeds) trains one model
    per run and is scored by the mean over the runs; ``value_sd`` keeps their
    standard deviation and ``scores`` each run's value.

    Parameters
    ----------
    task : Task

    Returns
    -------
    dict
        ``number``, ``rung``, ``status``, ``value``, ``values``, ``value_sd``,
        ``scores``, ``metrics``, ``history``, ``train_time``, ``peak_memory``,
        ``memory_source``, ``error``, ``epochs`` and ``checkpoint`` (bytes, a list
        of bytes for several runs, or None).
    """
    X, y = task.data
    if task.driver_pid is not None and task.driver_pid != os.getpid():
        hold_single_blas_thread()
    callbacks = [_Stop(task.stop)] if task.stop is not None else None
    outcome = {"number": task.number, "rung": task.rung, "status": "failed", "value": None,
               "metrics": {}, "history": {}, "train_time": task.prior_time,
               "peak_memory": None, "memory_source": None, "error": None, "epochs": 0,
               "checkpoint": None, "values": None, "value_sd": None, "scores": None}
    runs = task.runs or [Run()]
    checkpoints = task.checkpoint if isinstance(task.checkpoint, list) else [task.checkpoint]
    trainer = None
    per_run = []                              # (values, metrics) of each finished run
    blobs = []
    quiet = warnings.catch_warnings() if task.quiet else contextlib.nullcontext()
    with single_blas_thread(), _MemoryProbe(task.measure_memory) as probe, quiet:
        if task.quiet:
            warnings.simplefilter("ignore", DivergenceWarning)
        try:
            spent = 0.0
            for r, run in enumerate(runs):
                X_fit, y_fit, validation = run.data(X, y, task.validation)
                blob = checkpoints[r] if r < len(checkpoints) else None
                if blob is not None:
                    trainer = _load_trainer(blob)
                else:
                    hparams = dict(task.hparams)
                    if run.seed is not None:
                        hparams["seed"] = run.seed
                    trainer = Trainer(HyperParams.from_dict(hparams))
                *replay, new = task.fits
                for epochs in replay:
                    trainer.fit(X_fit, y_fit, validation_data=validation, verbose=0,
                                epochs=epochs, callbacks=callbacks)
                start = time.perf_counter()
                if not trainer.history.diverged:
                    trainer.fit(X_fit, y_fit, validation_data=validation, verbose=0,
                                epochs=new, callbacks=callbacks)
                spent += time.perf_counter() - start
                if r == 0:
                    outcome["history"] = {k: list(v)
                                          for k, v in trainer.history.history.items()}
                    outcome["epochs"] = trainer.epoch_
                if trainer.history.diverged:
                    outcome["status"] = "diverged"
                    where = f"(run {r + 1} of {len(runs)}: {run.describe()}) " \
                        if len(runs) > 1 else ""
                    outcome["error"] = where + trainer.history.message
                    _, outcome["metrics"] = _summarise(trainer, task.metric, value=False)
                    break
                per_run.append(_summarise(trainer, task.metric))
                if task.keep_state:
                    blobs.append(_dump_trainer(trainer))
            outcome["train_time"] = task.prior_time + spent
            if task.keep_state and len(blobs) == len(runs):
                outcome["checkpoint"] = blobs if task.runs else blobs[0]
        except Exception:
            outcome["status"] = "failed"
            outcome["error"] = traceback.format_exc()
            per_run = []
    if probe.peak is not None:
        outcome["peak_memory"], outcome["memory_source"] = probe.peak, "tracemalloc"
    elif trainer is not None:
        try:
            outcome["peak_memory"] = _estimate(trainer, len(X))
        except Exception:           # a trial that failed before its model existed
            outcome["peak_memory"] = None
        if outcome["peak_memory"] is not None:
            outcome["memory_source"] = "estimate"
    if per_run and len(per_run) == len(runs) and outcome["status"] == "failed" \
            and outcome["error"] is None:
        _score(outcome, task.metric, per_run)
    if outcome["status"] != "ok":
        outcome["checkpoint"] = None
    return outcome


def _score(outcome, metric, per_run):
    """Set ``value`` (and ``values``, ``value_sd``, ``scores``) and the status ``ok``
    when every objective is finite: the mean over the runs of each objective."""
    measured = {"time": outcome["train_time"], "peak_memory": outcome["peak_memory"]}
    rows = [[measured[o.measured] if o.measured else v
             for o, v in zip(metric.objectives, values)] for values, _ in per_run]
    for row in rows:
        for objective, value in zip(metric.objectives, row):
            if value is None or not math.isfinite(value):
                outcome["error"] = (f"the metric {objective.name!r} is {value} (not a finite "
                                    "number)")
                return
    means = [float(np.mean([float(row[j]) for row in rows]))
             for j in range(len(metric.objectives))]
    outcome["status"], outcome["value"] = "ok", means[0]
    if metric.multi:
        outcome["values"] = means
    metrics = dict(per_run[0][1])
    if len(rows) > 1:
        first = [float(row[0]) for row in rows]
        outcome["scores"] = first
        outcome["value_sd"] = float(np.std(first, ddof=1))
        for key, value in metrics.items():
            if key not in ("epochs", "best_epoch") and isinstance(value, float):
                metrics[key] = float(np.mean([m[key] for _, m in per_run]))
    outcome["metrics"] = metrics
