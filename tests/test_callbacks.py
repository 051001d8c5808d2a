"""Callbacks, tested without training (STYLE item 14): a fake trainer is fed
scripted loss sequences, and the expected stopping epochs, best values and
printed lines are worked out by hand.
"""
import io
import json
import math
import re
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from hpframe.callbacks import Callback, EarlyStopping, History, ProgressBar


class FakeTrainer:
    """What a callback may touch: stop_training, params, load_params, hparams.

    Its single weight array holds the number of the epoch that produced it, so
    a restored copy tells which epoch it came from.
    """

    def __init__(self, epochs=10):
        self.stop_training = False
        self.hparams = SimpleNamespace(epochs=epochs)
        self.weight = np.zeros(3)
        self.n_loads = 0

    @property
    def params(self):
        return {"dense_0.weight": self.weight.copy()}

    def load_params(self, params):
        self.weight = params["dense_0.weight"].copy()
        self.n_loads += 1


def run(callback, values, monitor="val_loss", trainer=None, first_epoch=0):
    """Drive one fit: the trainer's weight becomes the epoch number each epoch.

    Returns the trainer and the list of epochs that ran.
    """
    trainer = trainer or FakeTrainer(epochs=len(values))
    trainer.stop_training = False
    callback.set_trainer(trainer)
    callback.on_train_begin()
    ran = []
    for i, value in enumerate(values):
        epoch = first_epoch + i
        callback.on_epoch_begin(epoch)
        trainer.weight[:] = epoch
        ran.append(epoch)
        callback.on_epoch_end(epoch, {"loss": 0.0, monitor: value} if monitor != "loss"
                              else {"loss": value})
        if trainer.stop_training:
            break
    callback.on_train_end()
    return trainer, ran


# -- Callback -----------------------------------------------------------------
def test_callback_base_hooks_are_no_ops():
    cb = Callback()
    assert cb.trainer is None
    t = FakeTrainer()
    cb.set_trainer(t)
    assert cb.trainer is t
    assert cb.on_train_begin() is None and cb.on_epoch_begin(0) is None
    assert cb.on_epoch_end(0, {"loss": 1.0}) is None and cb.on_train_end() is None
    assert t.stop_training is False


# -- EarlyStopping --------------------------------------------------------------
def test_early_stopping_stops_after_patience_and_restores_best():
    # best 0.8 at epoch 1; epochs 2, 3, 4 do not beat it -> stop at epoch 4.
    stop = EarlyStopping(patience=3)
    trainer, ran = run(stop, [1.0, 0.8, 0.9, 0.85, 0.95, 0.7, 0.6])
    assert ran == [0, 1, 2, 3, 4]
    assert trainer.stop_training is True
    assert (stop.stopped_epoch, stop.best, stop.best_epoch) == (4, 0.8, 1)
    assert trainer.n_loads == 1
    np.testing.assert_array_equal(trainer.weight, [1, 1, 1])


def test_early_stopping_without_restoring_keeps_last_weights():
    stop = EarlyStopping(patience=2, restore_best_weights=False)
    trainer, ran = run(stop, [1.0, 0.5, 0.6, 0.7, 0.1])
    assert ran == [0, 1, 2, 3] and stop.stopped_epoch == 3
    assert trainer.n_loads == 0 and stop.best_weights is None
    np.testing.assert_array_equal(trainer.weight, [3, 3, 3])


def test_early_stopping_does_not_fire_while_improving():
    stop = EarlyStopping(patience=1)
    trainer, ran = run(stop, [1.0, 0.9, 0.8, 0.7])
    assert ran == [0, 1, 2, 3] and not trainer.stop_training
    assert stop.stopped_epoch is None and stop.best_epoch == 3 and trainer.n_loads == 0


def test_min_delta_needs_more_than_delta():
    # Binary-exact numbers: 0.75 is better than 1.0 by exactly min_delta = 0.25,
    # which is *not* more than min_delta.
    stop = EarlyStopping(patience=2, min_delta=0.25)
    _, ran = run(stop, [1.0, 0.75, 0.5, 0.375, 0.25])
    # epoch 1: 0.75 not < 0.75 (wait 1); epoch 2: 0.5 < 0.75 improves (best 0.5);
    # epoch 3: 0.375 not < 0.25 (wait 1); epoch 4: 0.25 not < 0.25 (wait 2) -> stop.
    assert ran == [0, 1, 2, 3, 4]
    assert (stop.stopped_epoch, stop.best, stop.best_epoch) == (4, 0.5, 2)
    # the same sequence without min_delta improves every epoch
    stop0 = EarlyStopping(patience=2)
    trainer, _ = run(stop0, [1.0, 0.75, 0.5, 0.375, 0.25])
    assert not trainer.stop_training and stop0.best == 0.25


@pytest.mark.parametrize("monitor, mode", [
    ("val_loss", "min"), ("loss", "min"), ("val_mae", "min"), ("val_accuracy", "max"),
    ("accuracy", "max"), ("val_r2", "max"), ("r2", "max"),
])
def test_auto_mode(monitor, mode):
    assert EarlyStopping(monitor=monitor).mode == mode


def test_max_mode_on_accuracy():
    stop = EarlyStopping(monitor="val_accuracy", patience=2)
    trainer, ran = run(stop, [0.5, 0.625, 0.5625, 0.59375, 0.9], monitor="val_accuracy")
    assert ran == [0, 1, 2, 3]
    assert (stop.best, stop.best_epoch, stop.stopped_epoch) == (0.625, 1, 3)
    np.testing.assert_array_equal(trainer.weight, [1, 1, 1])


def test_explicit_mode_overrides_the_name():
    # mode="max" on a loss: rising values are improvements
    stop = EarlyStopping(monitor="loss", mode="max", patience=1)
    _, ran = run(stop, [1.0, 2.0, 3.0, 2.5, 4.0], monitor="loss")
    assert ran == [0, 1, 2, 3] and stop.best == 3.0


def test_nan_is_never_an_improvement():
    stop = EarlyStopping(patience=2)
    trainer, ran = run(stop, [1.0, math.nan, math.nan, 0.1])
    assert ran == [0, 1, 2] and stop.best == 1.0
    np.testing.assert_array_equal(trainer.weight, [0, 0, 0])


def test_state_resets_on_train_begin():
    stop = EarlyStopping(patience=2)
    run(stop, [0.1, 0.5, 0.5])
    assert stop.stopped_epoch == 2
    # a second fit, continuing the epoch count, starts from scratch
    trainer, ran = run(stop, [5.0, 4.0, 4.5, 4.5], first_epoch=3)
    assert ran == [3, 4, 5, 6]
    assert (stop.best, stop.best_epoch, stop.stopped_epoch) == (4.0, 4, 6)
    np.testing.assert_array_equal(trainer.weight, [4, 4, 4])


def test_missing_monitor_key_names_the_available_keys():
    stop = EarlyStopping()
    stop.set_trainer(FakeTrainer())
    stop.on_train_begin()
    with pytest.raises(ValueError) as exc:
        stop.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "lr": 0.01})
    msg = str(exc.value)
    for part in ("'val_loss'", "'loss'", "'accuracy'", "'lr'", "validation_split > 0",
                 "validation_data"):
        assert part in msg, msg
    stop = EarlyStopping(monitor="acuracy")
    stop.set_trainer(FakeTrainer())
    with pytest.raises(ValueError, match="did you mean 'accuracy'"):
        stop.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})


@pytest.mark.parametrize("kwargs, error", [
    (dict(mode="minimum"), ValueError), (dict(mode=None), ValueError),
    (dict(patience=0), ValueError), (dict(patience=-1), ValueError),
    (dict(patience=2.5), TypeError), (dict(patience=True), TypeError),
    (dict(min_delta=-0.1), ValueError), (dict(min_delta=math.nan), ValueError),
    (dict(min_delta="0"), TypeError), (dict(monitor=""), TypeError),
    (dict(restore_best_weights=1), TypeError),
])
def test_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error) as exc:
        EarlyStopping(**kwargs)
    name, value = next(iter(kwargs.items()))
    assert name in str(exc.value) and repr(value) in str(exc.value)


# -- History --------------------------------------------------------------------
def test_history_append_keeps_columns_aligned():
    h = History()
    h.append(0, {"loss": 1.0})
    h.append(1, {"loss": np.float32(0.5), "val_loss": np.float64(0.625)})
    h.append(2, {"val_loss": 0.25})
    assert h.epoch == [0, 1, 2] and len(h) == 3
    np.testing.assert_array_equal(h.history["loss"], [1.0, 0.5, np.nan])
    np.testing.assert_array_equal(h.history["val_loss"], [np.nan, 0.625, 0.25])
    assert all(type(v) is float for col in h.history.values() for v in col)
    assert list(h.history) == ["loss", "val_loss"]
    assert (h.stopped_early, h.diverged, h.message) == (False, False, None)
    assert "3 epochs" in repr(h) and "val_loss" in repr(h)


@pytest.mark.parametrize("loss, weighted", [("cross_entropy", False), ("cross_entropy", True),
                                            ("binary_cross_entropy", False), ("mse", True)])
def test_fit_records_plain_floats_and_ints_as_append_would(loss, weighted):
    # fit records each epoch without append's checks (History._record): what it
    # records must be what append would have stored - Python floats and ints
    import hpframe as hp
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 5)).astype(np.float32)
    y = {"cross_entropy": rng.integers(0, 3, 80), "binary_cross_entropy": rng.integers(0, 2, 80),
         "mse": rng.standard_normal(80)}[loss]
    weights = rng.uniform(0.5, 2, 80) if weighted else None
    t = hp.Trainer(hidden_layers=(4,), loss=loss, epochs=3, batch_size=16,
                   validation_split=0.25, seed=0)
    t.fit(X, y, verbose=0, sample_weight=weights)
    h = t.history
    assert [type(e) for e in h.epoch] == [int] * 3 and h.epoch == [0, 1, 2]
    assert all(type(v) is float for col in h.history.values() for v in col), \
        {k: [type(v) for v in col] for k, col in h.history.items()}
    twin = History()
    for e in h.epoch:
        twin.append(e, {k: col[e] for k, col in h.history.items()})
    assert list(twin.history) == list(h.history)
    for key in h.history:
        np.testing.assert_array_equal(twin.history[key], h.history[key])


def test_history_append_refuses_non_numbers():
    h = History()
    with pytest.raises(TypeError, match="loss"):
        h.append(0, {"loss": "0.5"})
    with pytest.raises(TypeError, match="epoch"):
        h.append(1.5, {"loss": 0.5})


def _sample_history():
    h = History()
    losses = [(1.0, 1.25, 0.5, 0.25), (0.5, 0.75, 0.75, 0.5), (0.25, 0.5, 0.875, 0.75)]
    for epoch, (loss, val_loss, acc, val_acc) in enumerate(losses):
        h.append(epoch, {"loss": loss, "val_loss": val_loss, "accuracy": acc,
                         "val_accuracy": val_acc, "lr": 0.001, "time": 0.5})
    return h


def test_history_dict_round_trip_is_json_safe():
    h = _sample_history()
    h.append(3, {"loss": math.nan, "accuracy": math.inf, "lr": -math.inf})
    h.stopped_early, h.diverged, h.message = False, True, "Training diverged: lower the rate"
    d = h.to_dict()
    text = json.dumps(d, allow_nan=False)          # strict JSON
    h2 = History.from_dict(json.loads(text))
    assert h2.epoch == h.epoch and list(h2.history) == list(h.history)
    for key in h.history:
        np.testing.assert_array_equal(h2.history[key], h.history[key])
    assert (h2.stopped_early, h2.diverged, h2.message) == (False, True, h.message)
    assert h2.to_dict() == d
    assert math.isinf(h2.history["lr"][3]) and h2.history["lr"][3] < 0


def test_history_from_dict_rejects_malformed_input():
    with pytest.raises(ValueError):
        History.from_dict({"epoch": [0]})
    with pytest.raises(ValueError, match="'loss'"):
        History.from_dict({"history": {"loss": [1.0, 2.0]}, "epoch": [0]})
    with pytest.raises(ValueError):
        History.from_dict({"history": {"loss": ["oops"]}, "epoch": [0]})


# -- History.plot ------------------------------------------------------------
def _lines(ax):
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
            for line in ax.get_lines()}


def test_plot_loss_and_accuracy(plt):
    h = _sample_history()
    axes = h.plot()
    assert len(axes) == 2
    lines = _lines(axes[0])
    assert set(lines) == {"loss", "val_loss"}
    assert lines["loss"] == ([0, 1, 2], [1.0, 0.5, 0.25])
    assert lines["val_loss"] == ([0, 1, 2], [1.25, 0.75, 0.5])
    assert set(_lines(axes[1])) == {"accuracy", "val_accuracy"}
    assert axes[0].get_xlabel() == "epoch" and axes[1].get_ylabel() == "accuracy"
    assert axes[0].get_legend() is not None


def test_plot_regression_and_chosen_metrics(plt):
    h = History()
    for epoch, (loss, mae) in enumerate([(4.0, 1.5), (2.0, 1.0)]):
        h.append(epoch, {"loss": loss, "val_loss": loss + 1, "mae": mae, "val_mae": mae + 1})
    ax = h.plot()                                   # no accuracy: one panel
    assert set(_lines(ax)) == {"loss", "val_loss"}
    ax = h.plot(metrics="val_mae")
    assert _lines(ax)["val_mae"] == ([0, 1], [2.5, 2.0]) and set(_lines(ax)) == {"mae", "val_mae"}
    fig, given = plt.subplots(1, 2)
    axes = h.plot(metrics=["loss", "mae"], ax=given)
    assert axes[0] is given[0] and set(_lines(given[1])) == {"mae", "val_mae"}
    with pytest.raises(ValueError, match="2 Axes"):
        h.plot(metrics=["loss", "mae"], ax=given[0])
    with pytest.raises(ValueError, match="did you mean 'mae'"):
        h.plot(metrics="maae")


def test_plot_empty_history(plt):
    with pytest.raises(ValueError, match="empty"):
        History().plot()


def test_plot_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=re.escape('pip install "hpframe[plot]"')):
        _sample_history().plot()


# -- ProgressBar -----------------------------------------------------------------
def feed(bar, logs_per_epoch, trainer=None, first_epoch=0):
    bar.set_trainer(trainer or FakeTrainer(epochs=len(logs_per_epoch)))
    bar.on_train_begin()
    for i, logs in enumerate(logs_per_epoch):
        bar.on_epoch_begin(first_epoch + i)
        bar.on_epoch_end(first_epoch + i, logs)
    bar.on_train_end()


def _logs(i):
    return {"loss": 1.0 / (i + 1), "val_loss": 1.0 / (i + 1) + 0.01, "lr": 0.001, "time": 0.25}


def test_verbose_2_prints_one_line_per_epoch():
    out = io.StringIO()
    logs = [_logs(i) for i in range(10)]
    logs[2] = {"loss": 0.4312, "val_loss": 0.4410, "accuracy": 0.872, "val_accuracy": 0.865,
               "lr": 0.001, "time": 0.1234}
    feed(ProgressBar(verbose=2, file=out), logs)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[2] == ("epoch 3/10 - loss 0.4312 - val_loss 0.4410 - accuracy 0.8720 - "
                        "val_accuracy 0.8650 - 0.12s")
    assert lines[0] == "epoch 1/10 - loss 1.0000 - val_loss 1.0100 - 0.25s"


def test_verbose_2_counts_epochs_of_this_run():
    out = io.StringIO()
    feed(ProgressBar(verbose=2, epochs=3, file=out), [_logs(i) for i in range(3)],
         first_epoch=10)                                   # a second fit() call
    assert [l.split(" - ")[0] for l in out.getvalue().splitlines()] == [
        "epoch 1/3", "epoch 2/3", "epoch 3/3"]


def test_compact_number_formatting():
    out = io.StringIO()
    feed(ProgressBar(verbose=2, epochs=1, file=out),
         [{"loss": 1.5e-5, "val_loss": math.nan, "mae": 123456.0}])
    assert out.getvalue() == "epoch 1/1 - loss 1.500e-05 - val_loss nan - mae 1.235e+05\n"


def _printed_epochs(text):
    return [int(re.match(r"epoch (\d+)/", line).group(1)) for line in text.splitlines()]


def test_verbose_1_in_a_log_file_does_not_flood():
    out = io.StringIO()                                     # not a terminal
    feed(ProgressBar(verbose=1, epochs=100, file=out), [_logs(i) for i in range(100)])
    assert _printed_epochs(out.getvalue()) == [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


def test_verbose_1_log_shows_the_last_epoch_of_an_early_stop():
    out = io.StringIO()
    bar = ProgressBar(verbose=1, file=out)                  # total from trainer.hparams
    bar.set_trainer(FakeTrainer(epochs=100))
    bar.on_train_begin()
    for epoch in range(37):
        bar.on_epoch_end(epoch, _logs(epoch))
    bar.on_train_end()
    assert _printed_epochs(out.getvalue()) == [1, 10, 20, 30, 37]
    assert out.getvalue().splitlines()[0].startswith("epoch 1/100 - ")


def test_verbose_1_short_runs_print_every_epoch():
    out = io.StringIO()
    feed(ProgressBar(verbose=1, file=out), [_logs(i) for i in range(5)])
    assert _printed_epochs(out.getvalue()) == [1, 2, 3, 4, 5]


def test_verbose_0_is_silent():
    out = io.StringIO()
    feed(ProgressBar(verbose=0, file=out), [_logs(i) for i in range(5)])
    assert out.getvalue() == ""


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_1_on_a_terminal_draws_a_bar():
    out = FakeTerminal()
    feed(ProgressBar(verbose=1, file=out), [_logs(i) for i in range(4)])
    text = out.getvalue()
    assert "4/4" in text and "loss=0.2500" in text and "val_loss=0.2600" in text
    assert "epoch 1/4 - " not in text                      # no plain lines


def test_default_stream_is_stderr(capsys):
    feed(ProgressBar(verbose=2), [_logs(0)])
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("epoch 1/1 - loss 1.0000")


@pytest.mark.parametrize("verbose", [3, -1, "1", 1.0, None])
def test_bad_verbose(verbose):
    with pytest.raises(ValueError, match="verbose"):
        ProgressBar(verbose=verbose)
