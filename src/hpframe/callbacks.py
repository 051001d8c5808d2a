"""Callbacks: code that runs around each epoch of :meth:`Trainer.fit`.

The names follow Keras (``History.history``, ``EarlyStopping(monitor, min_delta,
patience, restore_best_weights)``) so that what you learn here transfers.

* :class:`Callback` -- the base class: four hooks that do nothing.
* :class:`History` -- the learning curves of a trainer (``trainer.history``).
* :class:`EarlyStopping` -- stop when a monitored value stops improving, and
  give back the parameters of the best epoch.
* :class:`ProgressBar` -- a tqdm bar, one line per epoch, or silence.
* :class:`ReduceLROnPlateau` -- divide the learning rate when a monitored value
  stops improving (Keras's rules).
* :class:`ModelCheckpoint` -- save the model (the best one, or every epoch), atomically.
* :class:`CSVLogger` -- the epoch logs as a CSV file: a header line, then one row per epoch.

Keras's ``TerminateOnNaN`` has no twin here because its job is always done: the
trainer stops as soon as the training loss is NaN or infinite (or exceeds 10x the
first batch's loss), sets ``history.diverged`` and explains the likely cause in
``history.message`` and a :class:`~hpframe.DivergenceWarning`. No callback sees a
diverged epoch.

A trainer that runs callbacks provides ``stop_training`` (a bool a callback sets
to stop after the current epoch), ``params`` (a dict name -> copy of each
parameter array), ``load_params(params)``, ``hparams``, ``save(path)`` and the
learning rate as training state: ``lr_scale`` (the factor on the scheduled
rate), ``current_lr`` (the rate of the next epoch) and ``set_lr(rate)``. Each
epoch it calls
``on_epoch_end(epoch, logs)`` with ``logs`` such as ``{"loss": 0.43,
"val_loss": 0.45, "accuracy": 0.87, "val_accuracy": 0.86, "lr": 0.001,
"time": 0.12}``.
"""
import csv
import difflib
import math
import os
import sys

import numpy as np

from hpframe._atomic import atomic_open
from hpframe._text import pyplot
from hpframe._validation import check_float, check_int

__all__ = ["Callback", "History", "EarlyStopping", "ProgressBar", "ReduceLROnPlateau",
           "ModelCheckpoint", "CSVLogger"]

# Display order of the metrics; other keys follow in the order they were logged.
_METRIC_ORDER = ("loss", "val_loss", "accuracy", "val_accuracy",
                 "mae", "val_mae", "r2", "val_r2")
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class Callback:
    """Base class of callbacks: override the hooks you need.

    Attributes
    ----------
    trainer : Trainer or None
        The trainer being fitted, set by :meth:`set_trainer` before training.

    Examples
    --------
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, logs["loss"])
    """

    trainer = None

    def set_trainer(self, trainer):
        """Attach the trainer whose training this callback follows.

        Parameters
        ----------
        trainer : Trainer
        """
        self.trainer = trainer

    def on_train_begin(self, logs=None):
        """Called once when ``fit`` starts, before the first epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of every epoch.

        Parameters
        ----------
        epoch : int
            0-based epoch number (counting on across repeated ``fit`` calls).
        logs : dict, optional
        """

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of every epoch with that epoch's metrics.

        Parameters
        ----------
        epoch : int
            0-based epoch number.
        logs : dict
            Metric name -> value, e.g. ``loss``, ``val_loss``, ``accuracy``,
            ``val_accuracy``, ``lr``, ``time``.
        """

    def on_train_end(self, logs=None):
        """Called once when ``fit`` ends (also after an early stop)."""


def _fmt(value):
    """Compact, fixed-width-ish number: 0.4312, 1234.5678, 1.234e-05, nan."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.3e}"


def _ordered_keys(logs):
    keys = [k for k in _METRIC_ORDER if k in logs]
    return keys + [k for k in logs if k not in keys]


def _json_number(value):
    return value if math.isfinite(value) else ("nan" if math.isnan(value) else
                                               ("inf" if value > 0 else "-inf"))


def _from_json_number(value):
    if isinstance(value, str):
        if value not in _NON_FINITE:
            raise ValueError(f"History.from_dict: expected a number or 'nan'/'inf'/'-inf', "
                             f"got {value!r}")
        return _NON_FINITE[value]
    return float(value)


class History:
    """The learning curves of a training run: one value per epoch and metric.

    ``trainer.history`` is a History; the trainer calls :meth:`append` after
    every epoch. Every list in :attr:`history` has one entry per recorded
    epoch: a metric missing in some epoch is stored as NaN there (e.g.
    ``val_loss`` of an epoch whose loss diverged).

    Attributes
    ----------
    history : dict of str to list of float
        Keys as logged: ``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``
        (classification), ``mae``, ``val_mae``, ``r2``, ``val_r2``
        (regression), ``lr`` and ``time`` (seconds).
    epoch : list of int
        The 0-based epoch number of each entry.
    stopped_early : bool
        Training was stopped by early stopping.
    diverged : bool
        Training stopped because the loss diverged (see :attr:`message`).
    message : str or None
        What went wrong and what to try, when training diverged.

    Examples
    --------
    >>> h = History()
    >>> h.append(0, {"loss": 0.9, "val_loss": 1.0})
    >>> h.append(1, {"loss": 0.5, "val_loss": 0.7})
    >>> h.history["val_loss"]
    [1.0, 0.7]
    >>> len(h)
    2
    """

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.stopped_early = False
        self.diverged = False
        self.message = None

    def append(self, epoch, logs):
        """Record the metrics of one epoch.

        Parameters
        ----------
        epoch : int
            0-based epoch number.
        logs : dict
            Metric name -> number. A key seen for the first time is back-filled
            with NaN for the earlier epochs; a known key missing from ``logs``
            gets NaN for this epoch.

        Raises
        ------
        TypeError
            ``epoch`` is not an integer, or a value is not a number.
        """
        check_int("epoch", epoch)
        values = {}
        for key, value in (logs or {}).items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)):
                raise TypeError(f"History logs must be numbers; {key!r} is {value!r}")
            values[str(key)] = float(value)
        self._record(int(epoch), values)

    def _record(self, epoch, values):
        """:meth:`append` of checked arguments: an int and {str: float} (what
        ``fit`` records, without checking each value again after every epoch)."""
        n = len(self.epoch)
        for key in values:
            if key not in self.history:
                self.history[key] = [math.nan] * n
        for key, column in self.history.items():
            column.append(values.get(key, math.nan))
        self.epoch.append(epoch)

    def __len__(self):
        return len(self.epoch)

    def __repr__(self):
        keys = ", ".join(self.history) or "no metrics"
        status = "; stopped early" if self.stopped_early else ""
        status += "; diverged" if self.diverged else ""
        return f"<History: {len(self)} epochs ({keys}){status}>"

    def to_dict(self):
        """Return a JSON-safe dict (see :meth:`from_dict`).

        Non-finite numbers (a NaN loss after divergence) are written as the
        strings ``"nan"``, ``"inf"`` and ``"-inf"``, so the result passes
        ``json.dumps(..., allow_nan=False)``.

        Returns
        -------
        dict
        """
        return {
            "history": {k: [_json_number(v) for v in col] for k, col in self.history.items()},
            "epoch": list(self.epoch),
            "stopped_early": bool(self.stopped_early),
            "diverged": bool(self.diverged),
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, d):
        """Rebuild a History from :meth:`to_dict` output.

        Parameters
        ----------
        d : dict

        Returns
        -------
        History

        Raises
        ------
        ValueError
            A malformed dict (missing ``history``/``epoch``, or lists whose
            lengths differ from the number of epochs).
        """
        if not isinstance(d, dict) or "history" not in d or "epoch" not in d:
            raise ValueError("History.from_dict needs a dict with 'history' and 'epoch' "
                             "keys, as written by History.to_dict()")
        h = cls()
        h.epoch = [int(e) for e in d["epoch"]]
        for key, column in d["history"].items():
            if len(column) != len(h.epoch):
                raise ValueError(f"History.from_dict: {key!r} has {len(column)} values for "
                                 f"{len(h.epoch)} epochs")
            h.history[str(key)] = [_from_json_number(v) for v in column]
        h.stopped_early = bool(d.get("stopped_early", False))
        h.diverged = bool(d.get("diverged", False))
        message = d.get("message")
        h.message = None if message is None else str(message)
        return h

    def plot(self, metrics=None, ax=None):
        """Plot learning curves: each metric and its ``val_`` twin against the epoch.

        Parameters
        ----------
        metrics : str or list of str, optional
            Metrics to plot, one panel each (``"loss"`` draws ``loss`` and
            ``val_loss``). By default ``loss``, plus ``accuracy`` in a second
            panel when it was recorded.
        ax : matplotlib Axes or sequence of Axes, optional
            Where to draw: one Axes per panel. By default a new figure.

        Returns
        -------
        matplotlib.axes.Axes or numpy.ndarray of Axes
            One Axes for one panel, else an array of them.

        Raises
        ------
        ImportError
            matplotlib is not installed (``pip install "hpframe[plot]"``).
        ValueError
            Nothing recorded yet, an unknown metric, or the wrong number of Axes.
        """
        if metrics is None:
            panels = [m for m in ("loss", "accuracy")
                      if m in self.history or "val_" + m in self.history]
        else:
            if isinstance(metrics, str):
                metrics = [metrics]
            panels = []
            for name in metrics:
                base = name[4:] if name.startswith("val_") else name
                if base not in self.history and "val_" + base not in self.history:
                    hint = difflib.get_close_matches(name, list(self.history), n=1)
                    hint = f" (did you mean {hint[0]!r}?)" if hint else ""
                    raise ValueError(f"History has no metric {name!r}{hint}; recorded: "
                                     f"{', '.join(self.history) or 'nothing'}")
                if base not in panels:
                    panels.append(base)
        if not self.epoch or not panels:
            raise ValueError("History is empty: there is nothing to plot yet; call fit() first")
        plt = pyplot("History.plot()")

        if ax is None:
            _, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5),
                                   squeeze=False)
            axes = axes[0]
        else:
            axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
            if len(axes) != len(panels):
                raise ValueError(f"plot needs {len(panels)} Axes for {panels}, got {len(axes)}")
        for axis, base in zip(axes, panels):
            for key, style in ((base, "-"), ("val_" + base, "--")):
                if key in self.history:
                    axis.plot(self.epoch, self.history[key], style, label=key)
            axis.set_xlabel("epoch")
            axis.set_ylabel(base)
            axis.legend()
        return axes[0] if len(axes) == 1 else axes


def _check_monitor(monitor):
    if not isinstance(monitor, str) or not monitor:
        raise TypeError(f"monitor must be a metric name (str), got {monitor!r}")
    return monitor


def _check_mode(mode, monitor):
    """``"min"`` or ``"max"`` for ``mode`` (``"auto"``: max for names with acc or r2)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        lowered = monitor.lower()
        mode = "max" if ("acc" in lowered or "r2" in lowered) else "min"
    return mode


def _beats(current, best, mode, min_delta):
    """Whether ``current`` improves on ``best`` by more than ``min_delta`` ("min": lower
    is better, "max": higher); NaN never does."""
    if mode == "min":
        return current < best - min_delta
    return current > best + min_delta


class EarlyStopping(Callback):
    """Stop training when a monitored metric has stopped improving.

    At the end of every epoch the monitored value is compared with the best so
    far. It improves when it is better by more than ``min_delta`` (lower for
    ``mode="min"``, higher for ``"max"``). After ``patience`` epochs in a row
    without improvement the trainer is told to stop and, with
    ``restore_best_weights``, gets back the parameters of the best epoch.

    Parameters
    ----------
    monitor : str, default "val_loss"
        The key of the epoch logs to watch (``val_loss``, ``val_accuracy``,
        ``loss``, ...).
    min_delta : float, default 0.0
        Smallest change that counts as an improvement, >= 0.
    patience : int, default 5
        Epochs without improvement before stopping, >= 1.
    restore_best_weights : bool, default True
        When stopping, load the parameters of the best epoch. (Keras defaults
        to False; learners expect the best model back.) If training runs out
        of epochs without stopping, the last parameters are kept, as in Keras.
    mode : {"auto", "min", "max"}, default "auto"
        ``auto`` maximises names containing ``acc`` or ``r2`` and minimises
        everything else.

    Attributes
    ----------
    best : float
        Best monitored value so far (``inf``/``-inf`` before the first epoch).
    best_epoch : int or None
        Epoch of ``best``.
    stopped_epoch : int or None
        Epoch at which training was stopped, else None.
    wait : int
        Epochs since the last improvement.
    best_weights : dict or None
        Copy of the parameters at ``best_epoch`` (with ``restore_best_weights``).

    Raises
    ------
    ValueError
        A bad ``mode``, ``patience`` or ``min_delta`` (never silently replaced).

    Examples
    --------
    >>> stop = EarlyStopping(monitor="val_accuracy", patience=3)
    >>> stop.mode
    'max'
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=5,
                 restore_best_weights=True, mode="auto"):
        self.monitor = _check_monitor(monitor)
        self.min_delta = float(check_float("min_delta", min_delta, 0.0))
        if not isinstance(restore_best_weights, (bool, np.bool_)):
            raise TypeError(f"restore_best_weights must be True or False, got "
                            f"{restore_best_weights!r}")
        self.mode = _check_mode(mode, monitor)
        self.patience = check_int("patience", patience, 1)
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.stopped_epoch = None
        self.wait = 0
        self.best_weights = None

    def _improved(self, current):
        return _beats(current, self.best, self.mode, self.min_delta)

    def on_train_begin(self, logs=None):
        """Forget the previous run: best value, counters and saved weights."""
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        """Compare the monitored value with the best; stop after ``patience`` bad epochs.

        Raises
        ------
        ValueError
            The monitored key is not in ``logs``; the message lists the keys
            that are (and, for ``val_*``, how to get validation data).
        """
        logs = logs or {}
        if self.monitor not in logs:
            available = ", ".join(map(repr, logs)) or "none"
            hint = ""
            if self.monitor.startswith("val_"):
                hint = (f". {self.monitor} needs validation data: set validation_split > 0 "
                        "or pass validation_data=(X_val, y_val) to fit()")
            else:
                close = difflib.get_close_matches(self.monitor, list(logs), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, but epoch {epoch} "
                             f"logged only {available}{hint}")
        current = float(logs[self.monitor])
        if not math.isnan(current) and self._improved(current):
            self.best = current
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                # trainer.params returns copies, so later updates cannot touch them.
                self.best_weights = dict(self._trainer().params)
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer = self._trainer()
            trainer.stop_training = True
            self.stopped_epoch = epoch
            if self.restore_best_weights and self.best_weights is not None:
                trainer.load_params(self.best_weights)

    def _trainer(self):
        if self.trainer is None:
            raise RuntimeError("EarlyStopping is not attached to a trainer; pass it to "
                               "Trainer.fit(..., callbacks=[...])")
        return self.trainer

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, min_delta={self.min_delta!r}, "
                f"patience={self.patience!r}, restore_best_weights="
                f"{self.restore_best_weights!r}, mode={self.mode!r})")


def _interactive(stream):
    """A terminal, or a Jupyter cell's output (which redraws a bar just as well)."""
    if "ipykernel" in sys.modules and stream in (sys.stdout, sys.stderr):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class ProgressBar(Callback):
    """Show training progress: a bar, a line per epoch, or nothing.

    Parameters
    ----------
    verbose : {0, 1, 2}, default 1
        0 silent; 1 a tqdm bar over epochs with the latest loss, val_loss,
        accuracy and val_accuracy; 2 one plain line per epoch::

            epoch 3/10 - loss 0.4312 - val_loss 0.4410 - accuracy 0.8720 - val_accuracy 0.8650 - 0.12s

        When the stream is not a terminal (a CI log, a file), ``verbose=1``
        prints plain lines for the first epoch and about 10 evenly spaced
        epochs, always including the last, instead of redrawing a bar.
    epochs : int, optional
        Epochs in this run; by default ``trainer.hparams.epochs``.
    file : file-like, optional
        Where to write; ``sys.stderr`` (as tqdm does) by default.
    """

    def __init__(self, verbose=1, epochs=None, file=None):
        if isinstance(verbose, (bool, np.bool_)):
            verbose = int(verbose)
        if verbose not in (0, 1, 2) or not isinstance(verbose, (int, np.integer)):
            raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (one line "
                             f"per epoch), got {verbose!r}")
        self.verbose = int(verbose)
        self.epochs = None if epochs is None else check_int("epochs", epochs, 1)
        self.file = file
        self._bar = None
        self._stream = None
        self._total = None
        self._seen = 0
        self._last_line = None
        self._last_printed = True

    # -- helpers ----------------------------------------------------------
    def _line(self, logs):
        head = f"epoch {self._seen}/{self._total}" if self._total else f"epoch {self._seen}"
        parts = [head] + [f"{k} {_fmt(logs[k])}" for k in _ordered_keys(logs)
                          if k not in ("lr", "time")]
        if "time" in logs:
            seconds = float(logs["time"])
            parts.append(f"{seconds:.2f}s" if seconds >= 0.1 else f"{seconds * 1000:.1f}ms")
        return " - ".join(parts)

    def _write(self, line):
        self._stream.write(line + "\n")
        flush = getattr(self._stream, "flush", None)
        if flush is not None:
            flush()

    def _selected(self, i):
        """Whether the i-th epoch (1-based) of this run gets a line in a non-terminal log."""
        if i == 1:
            return True
        if self._total is None:
            return i & (i - 1) == 0          # powers of two when the length is unknown
        return any(math.ceil(k * self._total / 10) == i for k in range(1, 11))

    # -- hooks ------------------------------------------------------------
    def on_train_begin(self, logs=None):
        """Open the bar (or prepare plain output) for this run."""
        self._stream = self.file if self.file is not None else sys.stderr
        self._total = self.epochs
        if self._total is None and self.trainer is not None:
            hparams = getattr(self.trainer, "hparams", None)
            self._total = getattr(hparams, "epochs", None)
        self._seen = 0
        self._last_line = None
        self._last_printed = True
        self._bar = None
        if self.verbose == 1 and _interactive(self._stream):
            from tqdm import tqdm
            self._bar = tqdm(total=self._total, file=self._stream, unit="epoch",
                             desc="fit", leave=True, dynamic_ncols=True)

    def on_epoch_end(self, epoch, logs=None):
        """Update the bar, or print this epoch's line."""
        if self.verbose == 0:
            return
        logs = logs or {}
        self._seen += 1
        if self._bar is not None:
            short = {"accuracy": "acc", "val_accuracy": "val_acc"}
            self._bar.set_postfix_str(", ".join(
                f"{short.get(k, k)}={_fmt(logs[k])}" for k in _ordered_keys(logs)
                if k in _METRIC_ORDER), refresh=False)
            self._bar.update(1)
            return
        line = self._line(logs)
        if self.verbose == 2 or self._selected(self._seen):
            self._write(line)
            self._last_printed = True
        else:
            self._last_line, self._last_printed = line, False

    def on_train_end(self, logs=None):
        """Close the bar; in a non-terminal log, print the last epoch if not yet shown."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif not self._last_printed and self._last_line is not None:
            self._write(self._last_line)
            self._last_printed = True


# ---------------------------------------------------------------------------
# Learning-rate control, checkpoints and CSV logs
# ---------------------------------------------------------------------------
def _monitored(who, monitor, epoch, logs):
    """``logs[monitor]`` as a float, or a ValueError listing what was logged."""
    if monitor not in logs:
        available = ", ".join(map(repr, logs)) or "none"
        if monitor.startswith("val_"):
            hint = (f". {monitor} needs validation data: set validation_split > 0 "
                    "or pass validation_data=(X_val, y_val) to fit()")
        else:
            close = difflib.get_close_matches(monitor, list(logs), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{who} monitors {monitor!r}, but epoch {epoch} logged only "
                         f"{available}{hint}")
    return float(logs[monitor])


def _attached(callback):
    if callback.trainer is None:
        raise RuntimeError(f"{type(callback).__name__} is not attached to a trainer; pass "
                           "it to Trainer.fit(..., callbacks=[...])")
    return callback.trainer


def _check_path(name, path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {path!r}")
    path = os.fspath(path)
    if isinstance(path, bytes) or not path:
        raise TypeError(f"{name} must be a non-empty str path, got {path!r}")
    return path


def _check_folder(name, path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{name}={path!r}: the folder {folder!r} does not exist; "
                         "create it before fit")


class _LearningRateState:
    """The learning rate as training state: the members ``lr_scale``, ``current_lr`` and
    ``set_lr`` of :class:`~hpframe.Trainer`, which takes them into its own body (so
    they are documented, and behave, as its own). The hyperparameters fix a schedule
    (``hparams.lr_at(epoch)``); callbacks steer the rate by a factor on it, kept on
    the trainer as ``_lr_scale`` (saved with the model) next to ``_hparams`` and
    ``epoch_``."""

    @property
    def lr_scale(self):
        r"""The factor on the scheduled learning rate, set by callbacks (training state).

        Epoch :math:`e` trains at ``lr_scale * hparams.lr_at(e)``: the
        hyperparameters stay what was chosen, and a callback that changes the rate
        (:class:`~hpframe.callbacks.ReduceLROnPlateau`, or your own through this
        property or :meth:`set_lr`) multiplies the scheduled rate from then on - a
        step or cosine schedule keeps its shape, scaled. 1.0 until a callback
        changes it; :meth:`reset` and :meth:`build` set it back to 1.0, a saved
        model keeps it (so training continues exactly after :meth:`load`), and
        ``history["lr"]`` records the rate each epoch actually used.

        Raises
        ------
        TypeError, ValueError
            When set to anything but a finite number >= 0.
        """
        return self._lr_scale

    @lr_scale.setter
    def lr_scale(self, value):
        self._lr_scale = check_float("lr_scale", value, 0.0)

    @property
    def current_lr(self):
        """The learning rate the next epoch will train at: ``lr_scale * hparams.lr_at(epoch_)``."""
        return self._lr_scale * self._hparams.lr_at(self.epoch_)

    def set_lr(self, rate):
        """Make the next epoch train at ``rate``, scaling the schedule from then on.

        Sets :attr:`lr_scale` to ``rate / hparams.lr_at(epoch_)``, so later epochs
        keep the schedule's shape at the new level (a callback calls this in
        ``on_epoch_end``, after ``epoch_`` has moved on to the next epoch).

        Parameters
        ----------
        rate : float
            A finite rate >= 0.

        Returns
        -------
        Trainer
            ``self``.

        Raises
        ------
        ValueError
            ``rate`` is negative or not finite, or the schedule's rate at the next
            epoch is 0 (a cosine schedule that has ended), which no factor can
            turn into ``rate``.
        """
        rate = check_float("rate", rate, 0.0)
        scheduled = self._hparams.lr_at(self.epoch_)
        if scheduled == 0:
            raise ValueError(f"set_lr({rate!r}): the schedule's rate at epoch {self.epoch_} "
                             f"is 0 (lr_schedule={self._hparams.lr_schedule!r} has ended), "
                             "and a factor on 0 stays 0; use a Trainer with more epochs "
                             "or another lr_schedule")
        self._lr_scale = rate / scheduled
        return self


class ReduceLROnPlateau(Callback):
    r"""Reduce the learning rate when a monitored metric has stopped improving.

    Keras's rules, epoch by epoch: the monitored value improves when it beats the
    best so far by more than ``min_delta``. After ``patience`` epochs in a row
    without improvement, the rate of the next epoch is multiplied by ``factor``
    (never below ``min_lr``, and only if it is above ``min_lr``); then for
    ``cooldown`` epochs nothing is counted, and the count starts again.

    The hyperparameters do not change: the callback multiplies the trainer's
    :attr:`~hpframe.Trainer.lr_scale`, the factor on the *scheduled* rate, so
    with ``lr_schedule="step"`` or ``"cosine"`` the schedule goes on at a lower
    level. ``history["lr"]`` records the rate each epoch used.

    Parameters
    ----------
    monitor : str, default "val_loss"
        The key of the epoch logs to watch.
    factor : float, default 0.1
        The rate is multiplied by this, in (0, 1).
    patience : int, default 10
        Epochs without improvement before a reduction, >= 1.
    min_lr : float, default 0.0
        Lower bound on the rate, >= 0: a reduction that would go below it sets
        the rate to ``min_lr``. (A decaying schedule may still take the rate
        lower afterwards: this bounds what the callback does.)
    cooldown : int, default 0
        Epochs after a reduction during which no bad epochs are counted, >= 0.
    min_delta : float, default 1e-4
        Smallest change that counts as an improvement, >= 0 (Keras's default).
    mode : {"auto", "min", "max"}, default "auto"
        ``auto`` maximises names containing ``acc`` or ``r2``, minimises the rest.
    verbose : {0, 1}, default 0
        1 prints a line at each reduction.

    Attributes
    ----------
    best : float
        Best monitored value so far.
    wait : int
        Bad epochs counted since the last improvement or reduction.
    cooldown_counter : int
        Epochs of cooldown left.
    reductions : list of (int, float)
        ``(epoch, new rate)`` of each reduction, in this fit.

    Raises
    ------
    TypeError, ValueError
        A bad argument, named with what is allowed.

    Examples
    --------
    >>> import hpframe as hp
    >>> X, y = hp.datasets.load_digits()
    >>> reduce = hp.callbacks.ReduceLROnPlateau(patience=2, factor=0.5)
    >>> t = hp.Trainer(learning_rate=0.01, epochs=12).fit(X, y, callbacks=[reduce], verbose=0)
    >>> rates = t.history.history["lr"]          # each epoch's rate, never rising
    >>> all(b <= a for a, b in zip(rates, rates[1:]))
    True
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, min_lr=0.0, cooldown=0,
                 min_delta=1e-4, mode="auto", verbose=0):
        self.monitor = _check_monitor(monitor)
        self.factor = check_float("factor", factor, 0.0, 1.0, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, 1)
        self.min_lr = check_float("min_lr", min_lr, 0.0)
        self.cooldown = check_int("cooldown", cooldown, 0)
        self.min_delta = check_float("min_delta", min_delta, 0.0)
        self.mode = _check_mode(mode, monitor)
        if isinstance(verbose, (bool, np.bool_)) or verbose not in (0, 1):
            raise ValueError(f"verbose must be 0 or 1, got {verbose!r}")
        self.verbose = int(verbose)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0
        self.reductions = []

    def _improved(self, current):
        return _beats(current, self.best, self.mode, self.min_delta)

    def on_train_begin(self, logs=None):
        """Forget the previous run's best value and counters (the rate stays as it is)."""
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        """Count a bad epoch, or reduce the rate after ``patience`` of them.

        Raises
        ------
        ValueError
            The monitored key is not in ``logs``.
        """
        current = _monitored("ReduceLROnPlateau", self.monitor, epoch, logs or {})
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):            # NaN never improves
            self.best = current
            self.wait = 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        trainer = _attached(self)
        old = trainer.current_lr
        if old > self.min_lr:
            if old * self.factor >= self.min_lr:
                trainer.lr_scale = trainer.lr_scale * self.factor
            else:
                trainer.set_lr(self.min_lr)
            new = trainer.current_lr
            self.reductions.append((epoch, new))
            self.cooldown_counter = self.cooldown
            self.wait = 0
            if self.verbose:
                print(f"epoch {epoch}: ReduceLROnPlateau: {self.monitor} has not improved "
                      f"for {self.patience} epochs; learning rate {old:.4g} -> {new:.4g}")

    def __repr__(self):
        return (f"ReduceLROnPlateau(monitor={self.monitor!r}, factor={self.factor!r}, "
                f"patience={self.patience!r}, min_lr={self.min_lr!r}, "
                f"cooldown={self.cooldown!r}, min_delta={self.min_delta!r}, "
                f"mode={self.mode!r})")


class ModelCheckpoint(Callback):
    """Save the model during training: the best one so far, or every epoch.

    Each save is a whole model file (:meth:`Trainer.save <hpframe.Trainer.save>`:
    parameters, optimizer state, learning-rate factor, history), written
    atomically - to a temporary file in the same folder, fsynced, then renamed
    over ``path`` - so a crash or a kill in the middle of a save leaves the
    previous checkpoint intact, never a broken file. ``Trainer.load(path)``
    gives back a trainer whose next ``fit`` continues exactly from that epoch.

    Parameters
    ----------
    path : str or path-like
        Where to save. It may name log keys and ``epoch`` (0-based, as in
        :attr:`History.epoch`) in ``str.format`` fields, e.g.
        ``"model-{epoch:03d}-{val_loss:.3f}.npz"``, for a file per save.
    monitor : str, default "val_loss"
        The key of the epoch logs that decides which model is best.
    save_best_only : bool, default True
        Save only when the monitored value improves on the best so far (Keras
        defaults to False); False saves after every epoch.
    mode : {"auto", "min", "max"}, default "auto"
        ``auto`` maximises names containing ``acc`` or ``r2``, minimises the rest.
    verbose : {0, 1}, default 0
        1 prints a line at each save.

    Attributes
    ----------
    best : float
        Best monitored value so far (with ``save_best_only``).
    best_epoch : int or None
        Epoch of the best model saved.
    saved : list of (int, str)
        ``(epoch, path)`` of every save in this fit.

    Notes
    -----
    Callbacks run in the order given, so put ``ModelCheckpoint`` last: a file
    saved before another callback changes the trainer (a new learning rate, the
    best weights restored) does not hold that change. Epochs whose loss diverged
    end training before any callback runs, so a diverged model is never saved.

    Examples
    --------
    >>> import os, tempfile, hpframe as hp
    >>> X, y = hp.datasets.load_digits()
    >>> path = os.path.join(tempfile.mkdtemp(), "best.npz")
    >>> best = hp.callbacks.ModelCheckpoint(path)
    >>> t = hp.Trainer(epochs=5).fit(X, y, callbacks=[best], verbose=0)
    >>> hp.Trainer.load(path).epoch_ == best.best_epoch + 1
    True
    """

    def __init__(self, path, monitor="val_loss", save_best_only=True, mode="auto", verbose=0):
        self.path = _check_path("path", path)
        self.monitor = _check_monitor(monitor)
        if not isinstance(save_best_only, (bool, np.bool_)):
            raise TypeError(f"save_best_only must be True or False, got {save_best_only!r}")
        self.save_best_only = bool(save_best_only)
        self.mode = _check_mode(mode, monitor)
        if isinstance(verbose, (bool, np.bool_)) or verbose not in (0, 1):
            raise ValueError(f"verbose must be 0 or 1, got {verbose!r}")
        self.verbose = int(verbose)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.saved = []

    def on_train_begin(self, logs=None):
        """Forget the previous run's best; refuse a folder that does not exist (before
        the first epoch, not after it)."""
        self._reset()
        _check_folder("ModelCheckpoint path", self.path)

    def _path_for(self, epoch, logs):
        try:
            return self.path.format(epoch=epoch, **logs)
        except KeyError as exc:
            raise ValueError(f"ModelCheckpoint path {self.path!r} names {exc.args[0]!r}, "
                             f"which epoch {epoch} did not log; it logged "
                             f"{', '.join(map(repr, logs))} (and 'epoch' is known)") from None
        except (ValueError, IndexError) as exc:
            raise ValueError(f"ModelCheckpoint path {self.path!r} is not a valid format "
                             f"string for the epoch logs: {exc}") from None

    def on_epoch_end(self, epoch, logs=None):
        """Save the model when it is the best so far (or always)."""
        logs = logs or {}
        if self.save_best_only:
            current = _monitored("ModelCheckpoint", self.monitor, epoch, logs)
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:                      # NaN never is
                return
            self.best, self.best_epoch = current, epoch
        path = self._path_for(epoch, logs)
        _attached(self).save(path)
        self.saved.append((epoch, path))
        if self.verbose:
            why = f" ({self.monitor} {_fmt(self.best)})" if self.save_best_only else ""
            print(f"epoch {epoch}: ModelCheckpoint saved {path}{why}")

    def __repr__(self):
        return (f"ModelCheckpoint({self.path!r}, monitor={self.monitor!r}, "
                f"save_best_only={self.save_best_only!r}, mode={self.mode!r})")


class CSVLogger(Callback):
    """Write the epoch logs to a CSV file: a header line, then one row per epoch.

    The columns are ``epoch`` (0-based) and every key logged (``loss``,
    ``val_loss``, ``accuracy``, ..., ``lr``, ``time``), in the order first seen; a
    value an epoch did not log is left empty, and non-finite values are written
    ``nan``/``inf``/``-inf`` (which pandas reads back as numbers).

    How it writes, and why: after every epoch the whole file is rewritten
    atomically (temporary file in the same folder, fsync, rename, as every file
    hpframe writes). The file therefore always holds the header and complete
    rows, whatever moment a crash or a kill hits - appending a row instead could
    leave half a line at the end of a killed run, which a reader then has to
    recognise. The price is rewriting the file each epoch: a few kilobytes per
    hundred epochs, small next to an epoch of training.

    Parameters
    ----------
    path : str or path-like
        The CSV file.
    separator : str, default ","
        One character between the fields.
    append : bool, default False
        Keep the rows already in the file (e.g. from an earlier ``fit`` of a
        loaded model) and add this run's after them; False starts the file
        afresh at the first epoch.

    Examples
    --------
    >>> import os, tempfile, hpframe as hp
    >>> X, y = hp.datasets.load_digits()
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> t = hp.Trainer(epochs=3).fit(X, y, callbacks=[hp.callbacks.CSVLogger(path)], verbose=0)
    >>> open(path).readline().strip()
    'epoch,loss,accuracy,val_loss,val_accuracy,lr,time'
    """

    def __init__(self, path, separator=",", append=False):
        self.path = _check_path("path", path)
        if not isinstance(separator, str) or len(separator) != 1 or separator in '"\r\n':
            raise ValueError(f"separator must be one character (not a quote or a line "
                             f"break), got {separator!r}")
        if not isinstance(append, (bool, np.bool_)):
            raise TypeError(f"append must be True or False, got {append!r}")
        self.separator = separator
        self.append = bool(append)
        self._columns = ["epoch"]
        self._rows = []

    def on_train_begin(self, logs=None):
        """Start afresh, or (``append``) read the rows already in the file."""
        _check_folder("CSVLogger path", self.path)
        self._columns, self._rows = ["epoch"], []
        if self.append and os.path.exists(self.path):
            with open(self.path, newline="") as f:
                reader = csv.DictReader(f, delimiter=self.separator)
                if reader.fieldnames:
                    self._columns = list(reader.fieldnames)
                self._rows = [dict(row) for row in reader]

    def on_epoch_end(self, epoch, logs=None):
        """Add this epoch's row and rewrite the file atomically."""
        row = {"epoch": str(int(epoch))}
        for key, value in (logs or {}).items():
            row[str(key)] = repr(float(value))       # shortest exact float text
            if str(key) not in self._columns:
                self._columns.append(str(key))
        self._rows.append(row)
        with atomic_open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, self._columns, restval="", delimiter=self.separator,
                                    lineterminator="\n")
            writer.writeheader()
            writer.writerows(self._rows)

    def __repr__(self):
        return (f"CSVLogger({self.path!r}, separator={self.separator!r}, "
                f"append={self.append!r})")
