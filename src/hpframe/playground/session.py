"""One learner's run: settings -> data + Trainer, trained epoch by epoch in a thread.

Nothing here knows about the web page. The page (``app.py``) changes settings,
presses start / pause / step / reset, and reads :meth:`Session.snapshot` a few
times a second; a background thread runs the real compiled core, one
``Trainer.fit(X, y, epochs=1)`` per epoch (the core releases the GIL, so the
server's event loop stays free). Calling ``fit`` once per epoch continues
training exactly where it stopped, so the run equals one ``fit`` over all its
epochs bit for bit (``tests/test_playground.py`` checks it) and
:meth:`Session.code` can show the plain single call.

Thread rules: only the worker thread touches the trainer while it runs; every
other method first stops and joins it. At most one worker exists per session.
Training in the whole process (every tab's worker and the trial searches) takes
:data:`CORE_LOCK` around each ``fit``: ``fit`` limits BLAS to one thread for its
duration through a process-wide setting, and two overlapping ``fit`` calls in
different threads could otherwise end each other's limit early and change the
last bits of a run (then the shown code would not reproduce it exactly).
"""
import math
import re
import threading
import time

import numpy as np

import hpframe as hp
from hpframe.data import holdout_indices
from hpframe.playground import datasets

__all__ = ["DEFAULTS", "CHOICES", "CORE_LOCK", "Session", "parse_layers"]

#: held around every training call the playground makes (see the module docstring)
CORE_LOCK = threading.Lock()

#: the settings the page controls, with their starting values (``speed``, in epochs per
#: second, paces the run so that it can be watched; it changes no result)
DEFAULTS = {
    "dataset": "moons", "noise": 0.2, "n_samples": 300, "seed": 0,
    "hidden_layers": (8, 8), "activation": "tanh", "loss": "cross_entropy",
    "optimizer": "adam", "learning_rate": 0.032, "epochs": 200, "batch_size": 16,
    "dropout": 0.0, "validation_split": 0.2, "weight_decay": 0.0,
    "speed": 30,
}
#: options offered for the settings that are choices
CHOICES = {
    "dataset": datasets.NAMES,
    "activation": ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "identity"),
    "optimizer": ("sgd", "momentum", "nesterov", "adam", "adamw"),
    "classification_loss": ("cross_entropy", "binary_cross_entropy"),
    "regression_loss": ("mse", "mae", "huber"),
    "speed": (5, 10, 30, 100, 0),
}
#: the playground's own limits, to keep every epoch a few milliseconds
MAX_LAYERS, MAX_UNITS, MAX_SAMPLES, MAX_EPOCHS = 6, 128, 2000, 5000
GRID = 80                      # the decision-boundary image is GRID x GRID
SNAPSHOT_EVERY = 0.1           # seconds between two pictures while training
HPARAM_FIELDS = ("hidden_layers", "activation", "loss", "optimizer", "learning_rate",
                 "epochs", "batch_size", "dropout", "validation_split", "weight_decay",
                 "seed")


def parse_layers(text):
    """Parse the hidden-layers box: ``"8, 8"`` -> ``(8, 8)``; empty -> ``()``.

    Raises
    ------
    ValueError
        Naming the box, the text and what is allowed.
    """
    if isinstance(text, (tuple, list)):
        text = ", ".join(str(v) for v in text)
    if not isinstance(text, str):
        raise TypeError(f"hidden layers must be text such as '8, 8', got {text!r}")
    items = [t for t in re.split(r"[,\s]+", text.strip()) if t]
    bad = f"hidden layers must be up to {MAX_LAYERS} whole numbers from 1 to {MAX_UNITS} " \
          f"separated by commas, e.g. '8, 8' (empty: no hidden layer); got {text!r}"
    if len(items) > MAX_LAYERS or not all(t.isdigit() for t in items):
        raise ValueError(bad)
    layers = tuple(int(t) for t in items)
    if any(not 1 <= n <= MAX_UNITS for n in layers):
        raise ValueError(bad)
    return layers


def _check_settings(settings):
    """Validate a full settings dict; return (settings, HyperParams). Raises ValueError."""
    s = dict(settings)
    unknown = set(s) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; allowed: {sorted(DEFAULTS)}")
    if s["speed"] not in CHOICES["speed"]:
        raise ValueError(f"speed must be one of {list(CHOICES['speed'])} epochs per second "
                         f"(0: as fast as possible), got {s['speed']!r}")
    if s["dataset"] not in datasets.NAMES:
        raise ValueError(f"dataset must be one of {list(datasets.NAMES)}, got {s['dataset']!r}")
    s["hidden_layers"] = parse_layers(s["hidden_layers"])
    for name, lo, hi in (("n_samples", 20, MAX_SAMPLES), ("epochs", 1, MAX_EPOCHS),
                         ("seed", 0, 2**31 - 1), ("batch_size", 1, MAX_SAMPLES)):
        v = s[name]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {v!r}")
        s[name] = int(v)
    noise = s["noise"]
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or \
            not 0 <= noise <= 2:
        raise ValueError(f"noise must be a number from 0 to 2, got {noise!r}")
    regression = s["dataset"] not in datasets.CLASSIFICATION
    allowed = CHOICES["regression_loss" if regression else "classification_loss"]
    if s["dataset"] in ("spirals", "blobs"):
        allowed = ("cross_entropy",)          # three classes: one logit per class
    if s["loss"] not in allowed:
        raise ValueError(f"loss {s['loss']!r} does not fit the {s['dataset']} data set; "
                         f"allowed: {list(allowed)}")
    # HyperParams validates the rest and names the field in its message
    hparams = hp.HyperParams(**{k: s[k] for k in HPARAM_FIELDS})
    return s, hparams


class Session:
    """The state of one playground page: settings, data, a Trainer and its worker thread.

    Parameters
    ----------
    **settings
        Any of :data:`DEFAULTS`, overriding it.
    """

    def __init__(self, **settings):
        self._lock = threading.Lock()
        self._thread = None
        self._stop = threading.Event()
        self._target = 0                     # the worker trains until epoch_ reaches it
        self.version = 0                     # bumped whenever the snapshot changes
        self.error = ""
        s = dict(DEFAULTS)
        s.update(settings)
        self._apply(*_check_settings(s))

    # ---- settings ---------------------------------------------------------------
    @property
    def settings(self):
        """The current settings (a copy)."""
        return dict(self._settings)

    @property
    def hparams(self):
        """The :class:`~hpframe.HyperParams` the run uses."""
        return self._hparams

    def configure(self, **changes):
        """Change settings; stops the run and starts over from epoch 0.

        Raises
        ------
        ValueError
            For a bad value (the settings are then left as they were).
        """
        s = dict(self._settings)
        s.update(changes)
        checked = _check_settings(s)         # raises before anything changes
        if set(changes) <= {"speed"}:        # pacing only: the run goes on
            self._settings = checked[0]
            return
        self._join()
        self._apply(*checked)

    def _apply(self, settings, hparams):
        self._settings, self._hparams = settings, hparams
        self.X, self.y = datasets.load(settings["dataset"], settings["n_samples"],
                                       settings["noise"], settings["seed"])
        self.regression = settings["dataset"] not in datasets.CLASSIFICATION
        self.n_classes = 0 if self.regression else int(self.y.max()) + 1
        self._split()
        self._grid()
        self._new_trainer()

    def _split(self):
        """The training / validation rows exactly as ``Trainer.fit`` holds them out."""
        n = len(self.X)
        if self._hparams.validation_split > 0:
            probe = hp.Trainer(self._hparams)
            seed = int(probe._seed_children()[2].generate_state(1)[0])   # fit's split seed
            self.train_idx, self.val_idx = holdout_indices(
                self.y, self._hparams.validation_split, seed=seed, stratify=not self.regression)
        else:
            self.train_idx, self.val_idx = np.arange(n), np.arange(0)

    def _grid(self):
        X = self.X
        lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
        self.extent = (float(lo[0]), float(hi[0]), float(lo[-1]), float(hi[-1]))
        if self.regression:
            self.grid = np.linspace(lo[0], hi[0], 200).reshape(-1, 1)
        else:
            gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], GRID), np.linspace(lo[1], hi[1], GRID))
            self.grid = np.column_stack([gx.ravel(), gy.ravel()])

    def _new_trainer(self):
        self.trainer = hp.Trainer(self._hparams)
        self._target = 0
        n_out = 1 if self.regression or self._hparams.loss == "binary_cross_entropy" \
            else self.n_classes
        preview = hp.Trainer(self._hparams).build(self.X.shape[1], n_out)   # same initial weights
        self.n_params = preview.n_params
        self.param_bytes = self.n_params * np.dtype(self._hparams.dtype).itemsize
        self.memory = hp.estimate_memory(self._hparams, self.X.shape[1], n_out, len(self.X))
        with self._lock:
            self._snap = self._picture(preview, epoch=0, running=False)
            self.version += 1

    # ---- pictures ----------------------------------------------------------------
    def _picture(self, trainer, epoch, running):
        """Everything the page shows, computed from ``trainer`` (in the calling thread)."""
        history = {k: list(v) for k, v in trainer.history.history.items()}
        out = None
        with np.errstate(all="ignore"):
            if self.regression:
                out = trainer.predict(self.grid).reshape(-1)
            else:
                out = trainer.predict_proba(self.grid)
        times = history.get("time", [])
        return {
            "epoch": epoch, "epochs": self._hparams.epochs, "running": running,
            "history": history, "output": np.asarray(out, dtype=np.float64),
            "diverged": trainer.history.message if trainer.history.diverged else "",
            "time_per_epoch": times[-1] if times else math.nan,
            "mean_time_per_epoch": float(np.mean(times)) if times else math.nan,
        }

    def snapshot(self):
        """The latest picture (a dict; see ``_picture``), safe to call from any thread."""
        with self._lock:
            snap = dict(self._snap)
            snap["version"] = self.version
            snap["running"] = self._thread is not None and self._thread.is_alive() and \
                self._snap["running"]
        return snap

    # ---- controls ----------------------------------------------------------------
    @property
    def running(self):
        """True while the worker thread trains."""
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        """Train until ``epochs`` (continues a paused run; nothing after divergence)."""
        self._run_until(self._hparams.epochs)

    def step(self):
        """Train one more epoch."""
        if not self.running:
            self._run_until(self.trainer.epoch_ + 1)

    def pause(self):
        """Stop after the current epoch (returns once the worker has stopped)."""
        self._join()

    def reset(self):
        """Back to epoch 0: a fresh Trainer with the same settings (same initial weights)."""
        self._join()
        self._new_trainer()

    def close(self):
        """Stop the worker; the session may be dropped afterwards."""
        self._join()

    def _run_until(self, target):
        if self.running or self.trainer.history.diverged:
            return
        target = min(target, self._hparams.epochs)
        if self.trainer.epoch_ >= target:
            return
        self._target = target
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name="hpframe-playground-train",
                                        daemon=True)
        with self._lock:
            self._snap = dict(self._snap, running=True)
            self.version += 1
        self._thread.start()

    def _join(self):
        thread = self._thread
        if thread is not None:
            self._stop.set()
            thread.join()
            self._thread = None
            with self._lock:
                self._snap = dict(self._snap, running=False)
                self.version += 1

    def _work(self):
        t, last = self.trainer, 0.0
        try:
            while not self._stop.is_set() and t.epoch_ < self._target:
                began = time.perf_counter()
                while not CORE_LOCK.acquire(timeout=0.05):   # another tab or a search trains
                    if self._stop.is_set():
                        return
                try:
                    t.fit(self.X, self.y, epochs=1, verbose=0)
                finally:
                    CORE_LOCK.release()
                done = (t.epoch_ >= self._target or t.history.diverged or self._stop.is_set())
                now = time.perf_counter()
                if done or now - last >= SNAPSHOT_EVERY:
                    snap = self._picture(t, t.epoch_, running=not done)
                    with self._lock:
                        self._snap = snap
                        self.version += 1
                    last = now
                if t.history.diverged:
                    break
                speed = self._settings["speed"]      # epochs per second; 0 = no pause
                if speed and not done:
                    self._stop.wait(max(0.0, 1.0 / speed - (time.perf_counter() - began)))
        except Exception as exc:             # never let a thread die silently
            with self._lock:
                self.error = f"training stopped: {type(exc).__name__}: {exc}"
                self._snap = dict(self._snap, running=False)
                self.version += 1

    # ---- the code that reproduces the run ----------------------------------------
    def code(self, epoch=None):
        """Python that reproduces the run up to ``epoch`` (default: the shown one) bit for bit."""
        s, h = self._settings, self._hparams
        if epoch is None:
            epoch = self.snapshot()["epoch"]
        lines = datasets.code_lines(s["dataset"], s["n_samples"], s["noise"], s["seed"])
        lines += ["", "hparams = hp.HyperParams("]
        for name in HPARAM_FIELDS:
            lines.append(f"    {name}={getattr(h, name)!r},")
        lines += [")", "trainer = hp.Trainer(hparams)"]
        if epoch == 0:
            lines.append(f"trainer.fit(X, y, verbose=0)   # all {h.epochs} epochs "
                         "(press start in the playground to watch them)")
        else:
            lines.append(f"trainer.fit(X, y, epochs={epoch}, verbose=0)   "
                         f"# the {epoch} epoch(s) trained in the playground")
        lines += ["", "history = trainer.history.history"]
        keys = ["loss", "val_loss"] if h.validation_split > 0 else ["loss"]
        if not self.regression:
            keys += ["accuracy", "val_accuracy"] if h.validation_split > 0 else ["accuracy"]
        for key in keys:
            lines.append(f"print({key!r}, history[{key!r}][-1])")
        lines.append("if trainer.history.diverged:\n    print(trainer.history.message)")
        return "\n".join(lines) + "\n"
