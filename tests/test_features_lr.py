"""The learning rate as training state (issue 16, item 2): ``Trainer.lr_scale``,
``set_lr``, ``lr_warmup_epochs`` and :class:`ReduceLROnPlateau`.

Oracles: rates and reduction epochs worked out by hand from scripted loss
sequences (no training, as Keras's own tests of ReduceLROnPlateau); a peer run
(training at ``lr_scale=0.5`` equals training with half the ``learning_rate``
hyperparameter, bit for bit); an uninterrupted run (save, load and fit equals
one fit, bit for bit).
"""
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

import hpframe as hp
from hpframe.callbacks import Callback, ReduceLROnPlateau
from helpers import blobs


class LRTrainer:
    """What ReduceLROnPlateau touches: lr_scale, current_lr, set_lr (a constant schedule
    of rate ``lr``, or ``schedule(epoch)``); ``epoch_`` counts finished epochs."""

    def __init__(self, lr=1.0, schedule=None):
        self.schedule = schedule or (lambda epoch: lr)
        self.lr_scale = 1.0
        self.epoch_ = 0
        self.stop_training = False
        self.hparams = SimpleNamespace(epochs=100)

    @property
    def current_lr(self):
        return self.lr_scale * self.schedule(self.epoch_)

    def set_lr(self, rate):
        self.lr_scale = rate / self.schedule(self.epoch_)


def drive(callback, values, trainer=None, monitor="val_loss"):
    """Feed ``values`` as the monitored metric; return the rate each epoch trained at."""
    trainer = trainer or LRTrainer()
    callback.set_trainer(trainer)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        rates.append(trainer.current_lr)
        trainer.epoch_ += 1                     # as fit: the epoch is counted first
        callback.on_epoch_end(epoch, {"loss": 0.0, monitor: value})
    callback.on_train_end()
    return rates


# ---- ReduceLROnPlateau, scripted ----------------------------------------------------

def test_reduces_after_patience_bad_epochs():
    cb = ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.0)
    # best 1.0, 0.9; 0.95 and 0.95 are two bad epochs -> halve after epoch 3;
    # 0.8 is best; 0.85 twice -> halve after epoch 6; again after epoch 8
    rates = drive(cb, [1.0, 0.9, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85])
    assert [e for e, _ in cb.reductions] == [3, 6, 8]
    assert rates == [1, 1, 1, 1, .5, .5, .5, .25, .25, .125]


def test_cooldown_counts_no_bad_epochs():
    cb = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_delta=0.0)
    # epoch 0 is best; 1 is bad -> reduce, cooldown 2; epoch 2 cools (1 left),
    # epoch 3 cools (0 left) and counts as bad -> reduce; 4 cools, 5 -> reduce
    drive(cb, [1.0] * 7)
    assert [e for e, _ in cb.reductions] == [1, 3, 5]


def test_min_lr_bounds_the_reduction_and_stops_further_ones():
    cb = ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05, min_delta=0.0)
    rates = drive(cb, [1.0] * 6)
    # 1 -> 0.1 -> 0.05 (max(0.01, 0.05)); at 0.05 = min_lr no more reductions
    assert rates[:2] == [1.0, 1.0]
    assert rates[2] == pytest.approx(0.1, rel=1e-15)
    assert rates[3:] == pytest.approx([0.05] * 3, rel=1e-15)
    assert len(cb.reductions) == 2


def test_min_delta_and_mode_max_and_nan():
    cb = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=2, min_delta=0.01)
    assert cb.mode == "max"
    # 0.5 best; +0.005 does not count (min_delta 0.01): bad, bad -> reduce at 2;
    # 0.6 best; NaN is never an improvement: bad, bad -> reduce at 5
    drive(cb, [0.5, 0.505, 0.509, 0.6, math.nan, math.nan], monitor="val_accuracy")
    assert [e for e, _ in cb.reductions] == [2, 5]
    assert cb.best == 0.6


def test_a_reduction_scales_the_schedule_from_then_on():
    # a step schedule 1, 1, 0.1, 0.1, ...: halving after epoch 0 halves every later rate
    trainer = LRTrainer(schedule=lambda e: 0.1 ** (e // 2))
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.0)
    rates = drive(cb, [1.0, 1.0, 0.5, 0.2], trainer=trainer)
    assert rates == pytest.approx([1.0, 1.0, 0.05, 0.05], rel=1e-15)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(factor=1.0), ValueError, "factor"), (dict(factor=0), ValueError, "factor"),
    (dict(factor=-0.5), ValueError, "factor"), (dict(factor="0.1"), TypeError, "factor"),
    (dict(patience=0), ValueError, "patience"), (dict(patience=1.5), TypeError, "patience"),
    (dict(min_lr=-1e-3), ValueError, "min_lr"), (dict(min_lr=math.inf), ValueError, "min_lr"),
    (dict(cooldown=-1), ValueError, "cooldown"), (dict(min_delta=-1), ValueError, "min_delta"),
    (dict(mode="down"), ValueError, "mode"), (dict(monitor=3), TypeError, "monitor"),
    (dict(verbose=2), ValueError, "verbose"),
])
def test_bad_arguments_are_refused_by_name(kwargs, error, words):
    with pytest.raises(error, match=words):
        ReduceLROnPlateau(**kwargs)


def test_a_missing_monitor_is_named():
    cb = ReduceLROnPlateau()
    cb.set_trainer(LRTrainer())
    with pytest.raises(ValueError, match="val_loss.*validation_split"):
        cb.on_epoch_end(0, {"loss": 1.0})


# ---- the rate as training state in real training -------------------------------------

class SetScaleAt(Callback):
    def __init__(self, epoch, scale):
        self.epoch, self.scale = epoch, scale

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.trainer.lr_scale = self.scale


KW = dict(hidden_layers=(8,), optimizer="sgd", learning_rate=0.1, seed=3, epochs=4,
          validation_split=0.25, batch_size=16)


def test_lr_scale_half_trains_like_half_the_learning_rate():
    X, y = blobs()
    assert 0.1 * 0.5 == 0.05                  # so the two runs see the same rate
    scaled = hp.Trainer(**KW).build(5, 3)
    scaled.lr_scale = 0.5
    scaled.fit(X, y, verbose=0)
    peer = hp.Trainer(**dict(KW, learning_rate=0.05)).fit(X, y, verbose=0)
    for key, value in peer.params.items():
        np.testing.assert_array_equal(scaled.params[key], value)
    assert scaled.history.history["lr"] == [0.05] * 4
    assert scaled.hparams.learning_rate == 0.1            # the hyperparameter is untouched


def test_history_records_the_rate_a_callback_set():
    X, y = blobs()
    t = hp.Trainer(**dict(KW, lr_schedule="step", lr_step_size=2, lr_gamma=0.5, epochs=5))
    t.fit(X, y, callbacks=[SetScaleAt(0, 0.25)], verbose=0)
    # schedule 0.1, 0.1, 0.05, 0.05, 0.025; from epoch 1 on a quarter of it
    assert t.history.history["lr"] == pytest.approx([0.1, 0.025, 0.0125, 0.0125, 0.00625],
                                                    rel=1e-15)
    assert t.current_lr == pytest.approx(0.25 * t.hparams.lr_at(5), rel=1e-15)


def test_reset_and_build_set_the_scale_back_to_one():
    t = hp.Trainer(**KW).build(5, 3)
    t.lr_scale = 0.5
    assert t.reset().lr_scale == 1.0
    t.lr_scale = 0.5
    assert t.build(5, 3).lr_scale == 1.0


def test_set_lr_sets_the_next_epochs_rate_and_refuses_what_it_cannot():
    t = hp.Trainer(learning_rate=0.1, lr_schedule="cosine", epochs=4).build(5, 3)
    t.epoch_ = 2                                             # schedule: 0.05
    t.set_lr(0.01)
    assert t.current_lr == pytest.approx(0.01, rel=1e-15)
    assert t.lr_scale == pytest.approx(0.2, rel=1e-15)
    t.epoch_ = 4                                             # the cosine has ended
    with pytest.raises(ValueError, match="set_lr.*is 0"):
        t.set_lr(0.01)
    with pytest.raises(ValueError, match="rate"):
        t.set_lr(-1.0)
    for bad, error in ((-0.5, ValueError), (math.nan, ValueError), ("1", TypeError),
                       (True, TypeError)):
        with pytest.raises(error, match="lr_scale"):
            t.lr_scale = bad


def test_save_load_fit_equals_one_uninterrupted_fit(tmp_path):
    X, y = blobs()
    kw = dict(KW, optimizer="adam", learning_rate=0.01, dropout=0.2, epochs=3)
    straight = hp.Trainer(**kw)
    straight.fit(X, y, callbacks=[SetScaleAt(1, 0.3)], verbose=0).fit(X, y, verbose=0)
    first = hp.Trainer(**kw).fit(X, y, callbacks=[SetScaleAt(1, 0.3)], verbose=0)
    first.save(tmp_path / "m.npz")
    loaded = hp.Trainer.load(tmp_path / "m.npz")
    assert loaded.lr_scale == 0.3
    loaded.fit(X, y, verbose=0)
    for key, value in straight.params.items():
        np.testing.assert_array_equal(loaded.params[key], value)
    assert loaded.history.history["lr"] == straight.history.history["lr"]
    assert loaded.history.history["lr"][2:] == [0.01 * 0.3] * 4
    import pickle
    assert pickle.loads(pickle.dumps(first)).lr_scale == 0.3


def _rewrite_meta(path, out, change):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(out, **arrays)


def test_a_version_2_file_loads_with_scale_one_and_a_bad_scale_is_named(tmp_path):
    X, y = blobs()
    t = hp.Trainer(**KW).fit(X, y, verbose=0)
    t.save(tmp_path / "m.npz")

    def to_v2(meta):
        assert meta["format_version"] == 3
        meta["format_version"] = 2
        del meta["lr_scale"]
        for key in ("lr_warmup_epochs",):           # the hyperparameters of version 2
            del meta["hparams"][key]
    _rewrite_meta(tmp_path / "m.npz", tmp_path / "v2.npz", to_v2)
    old = hp.Trainer.load(tmp_path / "v2.npz")
    assert old.lr_scale == 1.0 and old.hparams == t.hparams
    for bad in (-1.0, "0.5", None, True):
        _rewrite_meta(tmp_path / "m.npz", tmp_path / "bad.npz",
                      lambda meta: meta.update(lr_scale=bad))
        with pytest.raises(ValueError, match="lr_scale"):
            hp.Trainer.load(tmp_path / "bad.npz")


def test_reduce_lr_on_plateau_in_training_drops_the_recorded_rate():
    X, y = hp.datasets.load_digits()
    cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    t = hp.Trainer(learning_rate=0.01, epochs=6, seed=0).fit(X, y, callbacks=[cb], verbose=0)
    rates = t.history.history["lr"]
    # min_delta=10: after the first epoch the loss never falls by 10, so every
    # epoch from the second on is bad and halves the rate of the next one
    assert [e for e, _ in cb.reductions] == [1, 2, 3, 4, 5]
    assert rates == [0.01, 0.01, 0.005, 0.0025, 0.00125, 0.000625]


# ---- warm-up -------------------------------------------------------------------------

def test_warmup_rates_by_hand():
    h = hp.HyperParams(learning_rate=0.1, lr_warmup_epochs=3)
    assert [h.lr_at(e) for e in range(5)] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1],
                                                           rel=1e-15)
    step = h.replace(lr_warmup_epochs=2, lr_schedule="step", lr_step_size=2, lr_gamma=0.5)
    assert [step.lr_at(e) for e in range(7)] == pytest.approx(
        [0.1 / 3, 0.2 / 3, 0.1, 0.1, 0.05, 0.05, 0.025], rel=1e-15)
    cosine = h.replace(lr_warmup_epochs=2, lr_schedule="cosine", epochs=6)
    # after the warm-up the cosine runs over the 4 remaining epochs
    assert [cosine.lr_at(e) for e in range(7)] == pytest.approx(
        [0.1 / 3, 0.2 / 3, 0.1, 0.05 * (1 + math.sqrt(0.5)), 0.05,
         0.05 * (1 - math.sqrt(0.5)), 0.0], rel=1e-12, abs=1e-17)


def test_warmup_in_training_is_what_history_records():
    X, y = blobs()
    t = hp.Trainer(**dict(KW, lr_warmup_epochs=3, epochs=5)).fit(X, y, verbose=0)
    assert t.history.history["lr"] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1], rel=1e-15)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), ("2", TypeError),
                                        (True, TypeError), (None, TypeError)])
def test_bad_warmup_is_refused_by_name(bad, error):
    with pytest.raises(error, match="lr_warmup_epochs"):
        hp.HyperParams(lr_warmup_epochs=bad)


def test_warmup_is_explained():
    text = hp.explain("lr_warmup_epochs")
    assert "[optimizer]" in text and "default: 0" in text
    assert "too low:" in text and "too high:" in text


def test_the_estimators_take_the_warmup():
    from hpframe.sklearn import HPClassifier
    X, y = blobs()
    est = HPClassifier(epochs=3, lr_warmup_epochs=2, learning_rate=0.03).fit(X, y)
    assert est.get_params()["lr_warmup_epochs"] == 2
    assert est.trainer_.history.history["lr"] == pytest.approx([0.01, 0.02, 0.03], rel=1e-15)
