"""Callbacks: code that runs around each epoch of :meth:`Trainer.fit`.

The names follow Keras (``History.history``, ``EarlyStopping(monitor, min_delta,
patience, restore_best_weights)``) so that what you learn here transfers.

* :class:`Callback` -- the base class: four hooks that do nothing.
* :class:`History` -- the learning curves of a trainer (``trainer.history``).
* :class:`EarlyStopping` -- stop when a monitored value stops improving, and
  give back the parameters of the best epoch.
* :class:`ProgressBar` -- a tqdm bar, one line per epoch, or silence.

A trainer that runs callbacks provides ``stop_training`` (a bool a callback sets
to stop after the current epoch), ``params`` (a dict name -> copy of each
parameter array), ``load_params(params)`` and ``hparams``. Each epoch it calls
``on_epoch_end(epoch, logs)`` with ``logs`` such as ``{"loss": 0.43,
"val_loss": 0.45, "accuracy": 0.87, "val_accuracy": 0.86, "lr": 0.001,
"time": 0.12}``.
"""
import difflib
import math
import sys

import numpy as np

from hpframe._text import pyplot
from hpframe._validation import check_float, check_int

__all__ = ["Callback", "History", "EarlyStopping", "ProgressBar"]

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
        n = len(self.epoch)
        for key in values:
            if key not in self.history:
                self.history[key] = [math.nan] * n
        for key, column in self.history.items():
            column.append(values.get(key, math.nan))
        self.epoch.append(int(epoch))

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


def _check_int(name, value, minimum):
    return check_int(name, value, minimum)


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
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be a metric name (str), got {monitor!r}")
        min_delta = check_float("min_delta", min_delta, 0.0)
        if not isinstance(restore_best_weights, (bool, np.bool_)):
            raise TypeError(f"restore_best_weights must be True or False, got "
                            f"{restore_best_weights!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.min_delta = float(min_delta)
        self.patience = _check_int("patience", patience, 1)
        self.restore_best_weights = bool(restore_best_weights)
        if mode == "auto":
            lowered = monitor.lower()
            mode = "max" if ("acc" in lowered or "r2" in lowered) else "min"
        self.mode = mode
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.stopped_epoch = None
        self.wait = 0
        self.best_weights = None

    def _improved(self, current):
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

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
        self.epochs = None if epochs is None else _check_int("epochs", epochs, 1)
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
