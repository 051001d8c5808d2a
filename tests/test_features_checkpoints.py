"""ModelCheckpoint and CSVLogger (issue 16, item 4), and divergence detection doing
TerminateOnNaN's job.

Oracles: save epochs worked out by hand from scripted loss sequences; a loaded
checkpoint's own ``evaluate`` against the ``val_loss`` the run recorded for that
epoch (a file mixing two epochs would disagree); the trainer's History against
the CSV rows; a subprocess killed with SIGKILL in the middle of writes.
"""
import csv
import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import hpframe as hp
from hpframe.callbacks import Callback, CSVLogger, ModelCheckpoint
from helpers import blobs

# the child imports the hpframe these tests import (installed, or the source tree)
SRC = os.path.dirname(os.path.dirname(os.path.abspath(hp.__file__)))


class SavingTrainer:
    """Records what would be saved: the epoch the trainer was at."""

    def __init__(self):
        self.epoch_ = 0
        self.files = {}

    def save(self, path):
        self.files[path] = self.epoch_


def drive(callback, values, trainer=None, monitor="val_loss"):
    trainer = trainer or SavingTrainer()
    callback.set_trainer(trainer)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        trainer.epoch_ = epoch + 1
        callback.on_epoch_end(epoch, {"loss": 0.5, monitor: value})
    callback.on_train_end()
    return trainer


# ---- ModelCheckpoint ---------------------------------------------------------------

def test_save_best_only_saves_at_each_new_best(tmp_path):
    cb = ModelCheckpoint(tmp_path / "best.npz")
    drive(cb, [3.0, 2.0, 2.5, math.nan, 1.0, 1.5])
    assert [e for e, _ in cb.saved] == [0, 1, 4]          # NaN is never best
    assert cb.best == 1.0 and cb.best_epoch == 4


def test_mode_max_and_every_epoch_with_names_from_the_logs(tmp_path):
    cb = ModelCheckpoint(tmp_path / "m-{epoch:02d}-{val_accuracy:.2f}.npz",
                         monitor="val_accuracy")
    assert cb.mode == "max"
    trainer = drive(cb, [0.5, 0.7, 0.6], monitor="val_accuracy")
    assert sorted(os.path.basename(p) for p in trainer.files) == \
        ["m-00-0.50.npz", "m-01-0.70.npz"]
    every = ModelCheckpoint(tmp_path / "e{epoch}.npz", save_best_only=False)
    trainer = drive(every, [3.0, 2.0, 2.5])
    assert sorted(os.path.basename(p) for p in trainer.files) == \
        ["e0.npz", "e1.npz", "e2.npz"]


def test_a_checkpoint_holds_the_best_epoch_and_continues_exactly(tmp_path):
    X, y = blobs(spread=2.0)
    kw = dict(hidden_layers=(16,), learning_rate=0.05, epochs=12, seed=2, batch_size=16)
    path = tmp_path / "best.npz"
    cb = ModelCheckpoint(path)
    t = hp.Trainer(**kw).fit(X, y, callbacks=[cb], verbose=0)
    val_loss = t.history.history["val_loss"]
    best = int(np.nanargmin(val_loss))
    assert cb.best_epoch == best and cb.best == val_loss[best]
    loaded = hp.Trainer.load(path)
    assert loaded.epoch_ == best + 1
    # the file's parameters give back the val_loss recorded at that epoch
    X_val = X[loaded_val_rows(t, X, y)]
    y_val = y[loaded_val_rows(t, X, y)]
    assert loaded.evaluate(X_val, y_val)["loss"] == pytest.approx(val_loss[best], rel=1e-6)
    # and they are the parameters of the same run stopped after that epoch
    again = hp.Trainer(**kw).fit(X, y, epochs=best + 1, verbose=0)
    for key, value in again.params.items():
        np.testing.assert_array_equal(loaded.params[key], value)


def loaded_val_rows(trainer, X, y):
    """The rows the trainer held out (its seeded split), found from the data itself."""
    from hpframe.data import holdout_indices
    seed = int(trainer._seed_children()[2].generate_state(1)[0])
    _, val = holdout_indices(y, trainer.hparams.validation_split, seed=seed, stratify=True)
    return val


def test_path_problems_are_named(tmp_path):
    with pytest.raises(TypeError, match="path"):
        ModelCheckpoint(3)
    with pytest.raises(TypeError, match="save_best_only"):
        ModelCheckpoint(tmp_path / "m.npz", save_best_only="yes")
    with pytest.raises(ValueError, match="mode"):
        ModelCheckpoint(tmp_path / "m.npz", mode="best")
    cb = ModelCheckpoint(tmp_path / "missing" / "m.npz")
    cb.set_trainer(SavingTrainer())
    with pytest.raises(ValueError, match="does not exist"):
        cb.on_train_begin()
    cb = ModelCheckpoint(tmp_path / "m-{val_acc}.npz")
    with pytest.raises(ValueError, match="val_acc.*did not log"):
        drive(cb, [1.0])
    cb = ModelCheckpoint(tmp_path / "m.npz", monitor="val_accuracy")
    with pytest.raises(ValueError, match="val_accuracy"):
        drive(cb, [1.0])


CHILD = """
    import sys
    import numpy as np, hpframe as hp
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 750)); y = np.arange(8) % 4
    t = hp.Trainer(hidden_layers=(1500,), seed=5, batch_size=8)
    cb = hp.callbacks.ModelCheckpoint(sys.argv[1], save_best_only=False)
    t.fit(X, y, validation_data=(X, y), callbacks=[cb], epochs=1, verbose=0)
    print("saved", flush=True)
    while True:
        t.fit(X, y, validation_data=(X, y), callbacks=[cb], epochs=1, verbose=0)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_a_checkpoint_killed_during_the_write_leaves_an_intact_model(tmp_path):
    path = tmp_path / "ckpt.npz"
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 750)), np.arange(8) % 4
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pick = random.Random(0)
    epochs = []
    for attempt in range(6):
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), str(path)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        assert child.stdout.readline().strip() == "saved", child.stderr.read()
        time.sleep(pick.uniform(0.05, 0.5))
        child.send_signal(signal.SIGKILL)
        child.communicate()
        loaded = hp.Trainer.load(path)           # intact: a damaged file raises here
        recorded = loaded.history.history["val_loss"][-1]
        # its parameters and its history come from the same epoch
        assert loaded.evaluate(X, y)["loss"] == pytest.approx(recorded, rel=1e-6), attempt
        epochs.append(loaded.epoch_)
    assert max(epochs) > 1, "no checkpoint after the first was ever complete"
    leftovers = list(tmp_path.glob(".ckpt.npz.*.tmp"))
    assert leftovers, "no kill landed in the middle of a write: the test tested nothing"


# ---- CSVLogger ---------------------------------------------------------------------

def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_the_csv_holds_a_header_and_the_history_row_by_row(tmp_path):
    X, y = blobs()
    path = tmp_path / "log.csv"
    t = hp.Trainer(hidden_layers=(8,), epochs=4, seed=1).fit(
        X, y, callbacks=[CSVLogger(path)], verbose=0)
    rows = read_rows(path)
    header, body = rows[0], rows[1:]
    assert header == ["epoch", *t.history.history]
    assert len(body) == 4
    for i, row in enumerate(body):
        assert int(row[0]) == t.history.epoch[i]
        for key, text in zip(header[1:], row[1:]):
            assert float(text) == t.history.history[key][i]     # exact: repr round-trips


def test_append_continues_the_file_of_an_earlier_fit(tmp_path):
    X, y = blobs()
    path = tmp_path / "log.csv"
    t = hp.Trainer(hidden_layers=(8,), epochs=2, seed=1)
    t.fit(X, y, callbacks=[CSVLogger(path)], verbose=0)
    t.save(tmp_path / "m.npz")
    loaded = hp.Trainer.load(tmp_path / "m.npz")
    loaded.fit(X, y, callbacks=[CSVLogger(path, append=True)], verbose=0)
    assert [int(r[0]) for r in read_rows(path)[1:]] == [0, 1, 2, 3]
    loaded.fit(X, y, callbacks=[CSVLogger(path)], verbose=0)           # afresh
    assert [int(r[0]) for r in read_rows(path)[1:]] == [4, 5]


def test_non_finite_and_late_keys(tmp_path):
    path = tmp_path / "log.csv"
    cb = CSVLogger(path, separator=";")
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": math.nan})
    cb.on_epoch_end(1, {"loss": math.inf, "lr": 0.5})
    assert open(path).read() == "epoch;loss;lr\n0;nan;\n1;inf;0.5\n"
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(path, sep=";")
    assert math.isnan(frame["loss"][0]) and frame["loss"][1] == math.inf


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "log.csv"
    cb = CSVLogger(path)
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 1.0})
    before = open(path).read()

    def fail(self, rows):
        raise OSError("disk full")
    monkeypatch.setattr(csv.DictWriter, "writerows", fail)
    with pytest.raises(OSError):
        cb.on_epoch_end(1, {"loss": 0.5})
    assert open(path).read() == before
    assert sorted(os.listdir(tmp_path)) == ["log.csv"]          # no temporary file left


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(path=3), TypeError, "path"), (dict(path=""), TypeError, "path"),
    (dict(path="x.csv", separator=",,"), ValueError, "separator"),
    (dict(path="x.csv", separator='"'), ValueError, "separator"),
    (dict(path="x.csv", append="yes"), TypeError, "append"),
])
def test_bad_csv_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        CSVLogger(**kwargs)


# ---- TerminateOnNaN's job ------------------------------------------------------------

def test_no_callback_ever_sees_a_diverged_epoch():
    seen = []

    class Record(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(logs["loss"])

    X, y = blobs()
    t = hp.Trainer(optimizer="sgd", learning_rate=1e6, epochs=20, seed=0)
    with pytest.warns(hp.DivergenceWarning):
        t.fit(X, y, callbacks=[Record()], verbose=0)
    assert t.history.diverged and len(t.history) < 20
    assert len(seen) == len(t.history) - 1 and all(math.isfinite(v) for v in seen)
