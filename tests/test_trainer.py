"""Trainer: the public training API, checked against independent oracles."""
import json
import re
import threading
import tracemalloc
import warnings

import numpy as np
import pytest

import hpframe as hp

from helpers import blobs


def fit_params(X, y, **fields):
    fields.setdefault("epochs", 3)
    t = hp.Trainer(**fields).fit(X, y, verbose=0)
    return t.params


# ---- construction ---------------------------------------------------------------

def test_three_ways_to_construct_are_equal():
    a = hp.Trainer(hp.HyperParams(learning_rate=0.01, hidden_layers=(8,)))
    b = hp.Trainer(learning_rate=0.01, hidden_layers=(8,))
    c = hp.Trainer({"learning_rate": 0.01, "hidden_layers": [8]})
    assert a.hparams == b.hparams == c.hparams
    with pytest.raises(TypeError, match="HyperParams"):
        hp.Trainer(42)
    with pytest.raises(ValueError, match="learning_rate"):
        hp.Trainer(learning_rate=-1)


def test_hparams_do_not_change_while_params_do():
    X, y = blobs()
    t = hp.Trainer(hidden_layers=(8,), epochs=2, seed=1).build(5, 3)
    before_h, before_p = t.hparams, t.params
    t.fit(X, y, verbose=0)
    assert t.hparams == before_h
    changed = [not np.array_equal(before_p[k], v) for k, v in t.params.items()]
    assert all(changed)


# ---- shapes, counts, build ------------------------------------------------------

def test_params_shapes_and_count_by_hand():
    t = hp.Trainer(hidden_layers=(7, 4)).build(5, 3)
    shapes = {k: v.shape for k, v in t.params.items()}
    assert shapes == {"dense_0.weight": (5, 7), "dense_0.bias": (7,),
                      "dense_1.weight": (7, 4), "dense_1.bias": (4,),
                      "dense_2.weight": (4, 3), "dense_2.bias": (3,)}
    assert t.n_params == 5 * 7 + 7 + 7 * 4 + 4 + 4 * 3 + 3
    assert list(t.classes_) == [0, 1, 2]
    text = t.summary()
    assert "5 -> 7" in text and "4 -> 3" in text and f"{t.n_params:,}" in text


def test_build_then_predict_without_fit():
    t = hp.Trainer(hidden_layers=(4,), seed=0).build(3, 5)
    pred = t.predict(np.ones((2, 3)))
    assert set(pred) <= set(range(5))
    np.testing.assert_allclose(t.predict_proba(np.ones((2, 3))).sum(axis=1), 1, rtol=1e-6)


def test_init_scales_by_hand():
    he = hp.Trainer(hidden_layers=(400,), activation="relu", seed=0).build(300, 2)
    std = he.params["dense_0.weight"].std()
    assert abs(std - np.sqrt(2 / 300)) < 0.05 * np.sqrt(2 / 300)
    gl = hp.Trainer(hidden_layers=(400,), activation="tanh", seed=0).build(300, 2)
    w = gl.params["dense_0.weight"]
    limit = np.sqrt(6 / 700)
    assert w.max() <= limit and w.min() >= -limit and w.max() > 0.95 * limit
    assert not gl.params["dense_0.bias"].any()


# ---- input handling -------------------------------------------------------------

def test_array_likes_convert_to_the_same_training():
    X, y = blobs()
    Xi = np.round(X * 4).astype(np.int64)
    ref = fit_params(Xi.astype(np.float64), y)
    for variant in (Xi, np.asfortranarray(Xi), Xi.tolist(),
                    np.ascontiguousarray(np.repeat(Xi, 2, axis=1)[:, ::2])):
        got = fit_params(variant, list(y))
        for k in ref:
            np.testing.assert_array_equal(got[k], ref[k])


def test_pandas_input():
    pd = pytest.importorskip("pandas")
    X, y = blobs()
    ref = fit_params(X, y)
    got = fit_params(pd.DataFrame(X), pd.Series(y))
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k])


def test_string_labels_come_back():
    X, y = blobs()
    names = np.array(["cat", "dog", "emu"])[y]
    t = hp.Trainer(hidden_layers=(16,), epochs=30, learning_rate=0.01).fit(X, names, verbose=0)
    assert list(t.classes_) == ["cat", "dog", "emu"]
    pred = t.predict(X)
    assert pred.dtype.kind == "U" and np.mean(pred == names) > 0.9
    assert t.evaluate(X, names)["accuracy"] == pytest.approx(np.mean(pred == names))


@pytest.mark.parametrize("X, y, match", [
    (np.array([[1.0, np.nan]] * 4), [0, 1, 0, 1], "NaN"),
    (np.array([[1.0, np.inf]] * 4), [0, 1, 0, 1], "NaN or infinity"),
    (np.ones(4), [0, 1, 0, 1], "2-D"),
    (np.ones((4, 2, 1)), [0, 1, 0, 1], "2-D"),
    (np.ones((4, 2)), [0, 1, 0], "different lengths"),
    (np.ones((0, 2)), [], "empty"),
    (np.ones((4, 2)), [1, 1, 1, 1], "single class"),
    (np.ones((4, 2)), [0.5, 1.5, 0.5, 1.5], "regression"),
    (np.ones((4, 2)), np.eye(4)[:, :2], "1-D class labels"),
    (np.ones((4, 2)), 3, "one target per sample"),
])
def test_bad_fit_input_is_refused(X, y, match):
    with pytest.raises(ValueError, match=match):
        hp.Trainer(epochs=1).fit(X, y, verbose=0)


def test_missing_y_is_named():
    with pytest.raises(TypeError, match="y is None"):
        hp.Trainer().fit(np.ones((4, 2)), None)


def test_bad_labels_for_binary_and_multilabel():
    X = np.ones((6, 2))
    with pytest.raises(ValueError, match="exactly two"):
        hp.Trainer(loss="binary_cross_entropy").fit(X, [0, 1, 2, 0, 1, 2], verbose=0)
    with pytest.raises(ValueError, match="only 0 and 1"):
        hp.Trainer(loss="binary_cross_entropy").fit(X, np.full((6, 2), 2.0), verbose=0)


def test_prediction_errors():
    t = hp.Trainer()
    with pytest.raises(ValueError, match="fit"):
        t.predict(np.ones((2, 3)))
    with pytest.raises(hp.NotFittedError):
        t.params
    X, y = blobs()
    t = hp.Trainer(epochs=1).fit(X, y, verbose=0)
    with pytest.raises(ValueError, match="5"):
        t.predict(np.ones((2, 4)))
    with pytest.raises(ValueError, match="not one of"):
        t.evaluate(X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="regression"):
        hp.Trainer(loss="mse", epochs=1).fit(X, X[:, 0], verbose=0).predict_proba(X)


def test_verbose_and_epochs_arguments_checked():
    X, y = blobs()
    with pytest.raises(ValueError, match="verbose"):
        hp.Trainer().fit(X, y, verbose=3)
    with pytest.raises(ValueError, match="epochs"):
        hp.Trainer().fit(X, y, epochs=0)


# ---- tasks ----------------------------------------------------------------------

def test_binary_with_two_labels_trains_one_logit():
    X, y = blobs(k=2)
    labels = np.where(y == 1, "yes", "no")
    t = hp.Trainer(loss="binary_cross_entropy", hidden_layers=(8,), epochs=30,
                   learning_rate=0.01).fit(X, labels, verbose=0)
    assert t.params["dense_1.weight"].shape == (8, 1)
    proba = t.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert np.mean(t.predict(X) == labels) > 0.95
    # predict agrees with the probabilities
    np.testing.assert_array_equal(t.predict(X), t.classes_[(proba[:, 1] > 0.5).astype(int)])


def test_multilabel_trains_k_logits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0]).astype(int)
    t = hp.Trainer(loss="binary_cross_entropy", hidden_layers=(16,), epochs=40,
                   learning_rate=0.01, validation_split=0).fit(X, Y, verbose=0)
    assert t.predict(X).shape == (300, 2)
    assert t.evaluate(X, Y)["accuracy"] > 0.9


def test_regression_metrics_by_hand():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = np.column_stack([X[:, 0] * 2, np.sin(X[:, 1])])
    t = hp.Trainer(loss="mse", hidden_layers=(32,), epochs=30, learning_rate=0.01,
                   dtype="float64").fit(X, Y, verbose=0)
    pred = t.predict(X)
    assert pred.shape == (200, 2)
    m = t.evaluate(X, Y)
    assert set(m) == {"loss", "mae", "r2"}
    assert m["loss"] == pytest.approx(np.mean((pred - Y) ** 2))
    assert m["mae"] == pytest.approx(np.mean(np.abs(pred - Y)))
    r2 = np.mean([1 - ((Y[:, j] - pred[:, j]) ** 2).sum() / ((Y[:, j] - Y[:, j].mean()) ** 2).sum()
                  for j in range(2)])
    assert m["r2"] == pytest.approx(r2) and r2 > 0.8
    one = hp.Trainer(loss="huber", epochs=2).fit(X, Y[:, 0], verbose=0)
    assert one.predict(X).shape == (200,)
    assert "accuracy" not in one.history.history


# ---- validation split and history -----------------------------------------------

def test_validation_split_is_stratified_and_overridable():
    X, y = blobs(n=300)
    t = hp.Trainer(epochs=2, validation_split=0.2).fit(X, y, verbose=0)
    h = t.history.history
    assert {"loss", "val_loss", "accuracy", "val_accuracy", "lr", "time"} <= set(h)
    assert len(h["loss"]) == 2 and all(v > 0 for v in h["time"])
    # validation_data overrides the split: val_loss is the loss on exactly that data
    t = hp.Trainer(epochs=1, validation_split=0.2).fit(X, y, validation_data=(X[:50], y[:50]),
                                                      verbose=0)
    assert t.history.history["val_loss"][-1] == pytest.approx(t.evaluate(X[:50], y[:50])["loss"],
                                                              rel=1e-5)
    t = hp.Trainer(epochs=1, validation_split=0.0).fit(X, y, verbose=0)
    assert "val_loss" not in t.history.history


def test_reported_loss_is_the_mean_over_samples():
    # one full batch, no shuffle/dropout: the epoch's loss is the loss before the update
    X, y = blobs(n=60)
    t = hp.Trainer(hidden_layers=(4,), batch_size=60, epochs=1, validation_split=0,
                   dtype="float64", seed=3).build(5, 3)
    before = t.evaluate(X, y)["loss"]
    t.fit(X, y, verbose=0)
    assert t.history.history["loss"][0] == pytest.approx(before, rel=1e-10)


@pytest.mark.parametrize("schedule, expected", [
    ("constant", [0.1] * 6),
    ("step", [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]),
    ("cosine", [0.1 * 0.5 * (1 + np.cos(np.pi * e / 6)) for e in range(6)]),
])
def test_lr_schedules_by_hand(schedule, expected):
    X, y = blobs()
    t = hp.Trainer(optimizer="sgd", learning_rate=0.1, lr_schedule=schedule, lr_step_size=2,
                   lr_gamma=0.5, epochs=6).fit(X, y, verbose=0)
    np.testing.assert_allclose(t.history.history["lr"], expected, rtol=1e-12)


def test_patience_stops_on_noise():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 20))
    y = rng.integers(0, 2, size=120)               # pure noise: val_loss must rise
    t = hp.Trainer(hidden_layers=(128,), learning_rate=0.01, epochs=200, patience=3,
                   validation_split=0.3).fit(X, y, verbose=0)
    h = t.history
    assert h.stopped_early and len(h.history["loss"]) < 200
    best = int(np.argmin(h.history["val_loss"]))
    assert len(h.history["val_loss"]) == best + 1 + 3
    # the best weights are restored: evaluating reproduces the best val_loss
    # (the same split is rebuilt from the seed)
    X_val_idx = hp.data.holdout_indices(y, 0.3, seed=int(np.random.SeedSequence(
        t.seed_).spawn(3)[2].generate_state(1)[0]), stratify=True)[1]
    assert t.evaluate(X[X_val_idx], y[X_val_idx])["loss"] == pytest.approx(
        h.history["val_loss"][best], rel=1e-5)


def test_patience_and_callback_whichever_first():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 20))
    y = rng.integers(0, 2, size=120)
    stop = hp.EarlyStopping(monitor="loss", patience=1, min_delta=10.0)   # fires at epoch 2
    t = hp.Trainer(hidden_layers=(64,), epochs=50, patience=20).fit(X, y, callbacks=[stop],
                                                                     verbose=0)
    assert len(t.history.history["loss"]) == 2 and t.history.stopped_early


# ---- divergence -----------------------------------------------------------------

def test_divergence_stops_with_a_warning_not_an_exception():
    X, y = blobs()
    t = hp.Trainer(optimizer="sgd", learning_rate=1e4, hidden_layers=(32,), epochs=20)
    with pytest.warns(hp.DivergenceWarning, match="learning rate"):
        t.fit(X * 100, y, verbose=0)
    assert t.history.diverged and len(t.history.history["loss"]) < 20
    assert "learning_rate" in t.history.message
    assert "dead" in t.history.message or "NaN" in t.history.message
    assert all(np.isfinite(v).all() for v in t.params.values())


def test_dead_units_by_hand():
    t = hp.Trainer(hidden_layers=(4,), activation="relu").build(2, 2)
    p = t.params
    p["dense_0.weight"][:] = [[1, -1, 1, -1], [1, -1, 0, 0]]
    p["dense_0.bias"][:] = [0, -5, 0, -5]
    t.load_params(p)
    X = np.abs(np.random.default_rng(0).normal(size=(50, 2)))     # positive inputs
    assert t.dead_units(X) == 0.5     # units 1 and 3 never fire
    assert hp.Trainer(activation="tanh").build(2, 2).dead_units(X) is None


# ---- reproducibility and threads ------------------------------------------------

def test_same_seed_bit_identical_and_seed_none_recorded():
    X, y = blobs()
    a = fit_params(X, y, seed=5, dropout=0.3)
    b = fit_params(X, y, seed=5, dropout=0.3)
    c = fit_params(X, y, seed=6, dropout=0.3)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    t = hp.Trainer(seed=None, epochs=2).fit(X, y, verbose=0)
    again = fit_params(X, y, seed=t.seed_, epochs=2)
    for k in again:
        np.testing.assert_array_equal(t.params[k], again[k])


def test_two_threads_match_serial():
    X, y = blobs(n=600)
    configs = [dict(seed=1, dropout=0.2), dict(seed=2, optimizer="momentum")]
    serial = [fit_params(X, y, epochs=4, **c) for c in configs]
    results = [None, None]

    def run(i):
        results[i] = fit_params(X, y, epochs=4, **configs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for got, ref in zip(results, serial):
        for k in ref:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-5, atol=1e-6)


# ---- continuing, reset, save/load ---------------------------------------------

def test_fit_continues_and_reset_restarts():
    X, y = blobs()
    kw = dict(hidden_layers=(8,), dropout=0.2, seed=4, lr_schedule="step", lr_step_size=2,
              lr_gamma=0.5)
    once = hp.Trainer(epochs=4, **kw).fit(X, y, verbose=0)
    twice = hp.Trainer(epochs=2, **kw).fit(X, y, verbose=0).fit(X, y, verbose=0)
    for k, v in once.params.items():
        np.testing.assert_array_equal(twice.params[k], v)
    assert twice.history.history["lr"] == once.history.history["lr"]
    fresh = hp.Trainer(epochs=2, **kw).fit(X, y, verbose=0)
    twice.reset().fit(X, y, verbose=0)
    for k, v in fresh.params.items():
        np.testing.assert_array_equal(twice.params[k], v)


@pytest.mark.parametrize("optimizer, hidden", [("adam", (8,)), ("nesterov", (8,)),
                                               ("adam", (8, 6)), ("adam", ())])
def test_save_load_continues_exactly(tmp_path, optimizer, hidden):
    # (8, 6): two hidden layers, two dropout generators saved and restored;
    # (): no hidden layer, no dropout generator
    X, y = blobs()
    labels = np.array(["a", "b", "c"])[y]
    kw = dict(hidden_layers=hidden, dropout=0.2, optimizer=optimizer, seed=7, epochs=2)
    straight = hp.Trainer(**kw).fit(X, labels, verbose=0).fit(X, labels, verbose=0)
    first = hp.Trainer(**kw).fit(X, labels, verbose=0)
    first.save(tmp_path / "model.npz")
    loaded = hp.Trainer.load(tmp_path / "model.npz")
    assert loaded.hparams == first.hparams and list(loaded.classes_) == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.predict_proba(X), first.predict_proba(X))
    assert loaded.history.history == first.history.history
    loaded.fit(X, labels, verbose=0)
    for k, v in straight.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("step"), "corrupt metadata: no step"),
    (lambda m: m.pop("dropout_rngs"), "corrupt metadata: no dropout_rngs"),
    (lambda m: m.update(dropout_rngs=m["dropout_rngs"][:1]),
     "dropout_rngs should hold 2 generator states, one per hidden layer; it holds 1"),
    (lambda m: m.update(dropout_rngs=None), "it holds None"),
])
def test_load_names_what_is_missing_or_wrong_in_the_metadata(tmp_path, change, message):
    X, y = blobs()
    hp.Trainer(hidden_layers=(8, 6), dropout=0.2, epochs=1).fit(X, y, verbose=0).save(
        tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz") as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=re.escape(message)):
        hp.Trainer.load(tmp_path / "bad.npz")


def test_load_reads_format_version_1(tmp_path):
    # version 1 saved one dropout generator ("dropout_rng"); with one hidden layer
    # it is that layer's, and training continues exactly
    X, y = blobs()
    kw = dict(hidden_layers=(8,), dropout=0.2, seed=7, epochs=2)
    straight = hp.Trainer(**kw).fit(X, y, verbose=0).fit(X, y, verbose=0)
    first = hp.Trainer(**kw).fit(X, y, verbose=0)
    first.save(tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz") as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    meta["format_version"] = 1
    meta["dropout_rng"] = meta.pop("dropout_rngs")[0]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "v1.npz", **arrays)
    loaded = hp.Trainer.load(tmp_path / "v1.npz").fit(X, y, verbose=0)
    for k, v in straight.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)


def test_load_refuses_other_files(tmp_path):
    bad = tmp_path / "pickled.npz"
    np.savez(bad, params=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="hpframe model file"):
        hp.Trainer.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.ones(3))
    with pytest.raises(ValueError, match="not an hpframe model"):
        hp.Trainer.load(other)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError):
        hp.Trainer.load(text)
    with pytest.raises(FileNotFoundError):
        hp.Trainer.load(tmp_path / "missing.npz")
    meta = tmp_path / "version.npz"
    np.savez(meta, params=np.ones(1), state_1=np.ones(1), state_2=np.ones(1),
             meta=np.array(json.dumps({"format": "hpframe.Trainer", "format_version": 99})))
    with pytest.raises(ValueError, match="version"):
        hp.Trainer.load(meta)


def test_load_params_checks():
    t = hp.Trainer(hidden_layers=(3,)).build(2, 2)
    p = t.params
    p["dense_0.weight"] = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        t.load_params(p)
    with pytest.raises(ValueError, match="keys"):
        t.load_params({"dense_0.weight": np.zeros((2, 3))})
    p = t.params
    p["dense_1.bias"] = np.array([np.nan, 0])
    with pytest.raises(ValueError, match="NaN"):
        t.load_params(p)


# ---- memory, gradients, learning-rate finder ----------------------------------

@pytest.mark.parametrize("fields", [
    dict(hidden_layers=(256, 128), batch_size=64, optimizer="adam", validation_split=0.2),
    dict(hidden_layers=(512,), batch_size=512, optimizer="sgd", dropout=0.5,
         validation_split=0.0, dtype="float64"),
])
def test_estimate_memory_matches_tracemalloc(fields):
    rng = np.random.default_rng(0)
    hparams = hp.HyperParams(epochs=1, **fields)
    X = rng.normal(size=(4000, 100)).astype(hparams.dtype)
    y = rng.integers(0, 10, size=4000)
    est = hp.estimate_memory(hparams, 100, 10, 4000)
    assert est["total"] == sum(v for k, v in est.items() if k != "total")
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    hp.Trainer(hparams).fit(X, y, verbose=0)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert 0.75 * peak <= est["total"] <= 1.25 * peak, (est, peak)


@pytest.mark.parametrize("activation, loss", [("tanh", "cross_entropy"), ("gelu", "mse"),
                                              ("sigmoid", "binary_cross_entropy"),
                                              ("elu", "huber")])
def test_gradcheck_passes(activation, loss):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    y = (X[:, 0] > 0).astype(int) if "entropy" in loss else X[:, :2]
    t = hp.Trainer(hidden_layers=(6, 5), activation=activation, loss=loss, epochs=2)
    t.fit(X, y, verbose=0)
    assert hp.gradcheck(t, X, y) < 1e-6


def test_lr_find_shape_and_suggestion():
    X, y = hp.datasets.load_digits()
    t = hp.Trainer(hidden_layers=(32,), optimizer="sgd", batch_size=32, seed=0)
    lrs, losses, suggestion = t.lr_find(X, y, start_lr=1e-4, end_lr=100, n_steps=80)
    assert len(lrs) == len(losses) and np.all(np.diff(lrs) > 0)
    assert 1e-3 <= suggestion <= 10          # sgd on scaled digits learns around 0.01-1
    assert not t.is_built                   # the trainer itself is untouched
    with pytest.raises(ValueError, match="start_lr"):
        t.lr_find(X, y, start_lr=1, end_lr=0.1)


def test_digits_reach_96_percent():
    X, y = hp.datasets.load_digits()
    (Xtr, ytr), _, (Xte, yte) = hp.data.split(X, y, val=0.0, test=0.2, seed=0)
    t = hp.Trainer(hidden_layers=(64,), epochs=30, learning_rate=3e-3, seed=0)
    t.fit(Xtr, ytr, verbose=0)
    assert t.evaluate(Xte, yte)["accuracy"] >= 0.96


def test_history_plot(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    X, y = blobs()
    t = hp.Trainer(epochs=3).fit(X, y, verbose=0)
    t.history.plot()
    res = t.lr_find(X, y, n_steps=10)
    assert res.plot().get_xscale() == "log"
