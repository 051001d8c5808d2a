"""The Trainer's parts: tasks (one class per kind), io (files and bytes), diagnostics'
building blocks (train_on_batch, gradients) and the initialisation drawn in pieces.

Oracles: hand-computed decodes and probabilities (NumPy softmax and sigmoid), one SGD
step written out (w - lr * g), save to a path versus to bytes, and the generator's
whole-matrix draw.
"""
import io
import pickle
import warnings

import numpy as np
import pytest

import hpframe as hp
from hpframe import tasks

from helpers import blobs


# ---- public shapes -------------------------------------------------------------------

@pytest.mark.parametrize("loss, y_kind, n_outputs", [
    ("cross_entropy", "three", 3), ("binary_cross_entropy", "two", 1),
    ("binary_cross_entropy", "multilabel", 4), ("mse", "targets", 2)])
def test_n_features_in_and_n_outputs_are_public(loss, y_kind, n_outputs):
    X, labels = blobs()
    y = {"three": labels, "two": labels % 2,
         "multilabel": (np.arange(240)[:, None] >> np.arange(4)) % 2,
         "targets": np.column_stack([labels, -labels]).astype(float)}[y_kind]
    t = hp.Trainer(loss=loss, hidden_layers=(6,), epochs=1)
    with pytest.raises(hp.NotFittedError, match="n_features_in_"):
        t.n_features_in_
    t.fit(X, y, verbose=0)
    assert (t.n_features_in_, t.n_outputs_) == (5, n_outputs)
    assert t.params["dense_1.bias"].shape == (n_outputs,)


# ---- tasks ---------------------------------------------------------------------------

def test_each_task_decodes_and_gives_probabilities_by_hand():
    out = np.array([[2.0, -1.0, 0.5], [-3.0, 0.0, 4.0]])
    multi = tasks.Multiclass("cross_entropy", 3, np.array(["a", "b", "c"]), np.float64)
    assert multi.decode(out).tolist() == ["a", "c"]
    e = np.exp(out - out.max(axis=1, keepdims=True))
    np.testing.assert_allclose(multi.probabilities(out), e / e.sum(axis=1, keepdims=True))
    binary = tasks.Binary("binary_cross_entropy", 1, np.array([-5, 7]), np.float64)
    logit = out[:, :1]
    assert binary.decode(logit).tolist() == [7, -5]
    p = 1 / (1 + np.exp(-logit[:, 0]))
    np.testing.assert_allclose(binary.probabilities(logit), np.column_stack([1 - p, p]))
    multilabel = tasks.Multilabel("binary_cross_entropy", 3, np.arange(3), np.float64)
    assert multilabel.decode(out).tolist() == [[1, 0, 1], [0, 0, 1]]
    regression = tasks.Regression("mse", 1, None, np.float64)
    assert regression.decode(out[:, :1]).tolist() == [2.0, -3.0]
    with pytest.raises(ValueError, match="predict_proba is for classification"):
        regression.probabilities(out)


def test_task_metrics_by_hand():
    out = np.array([[1.0], [3.0], [2.0]])
    t = np.array([[1.0], [2.0], [4.0]])
    m = tasks.Regression("mse", 1, None, np.float64).metrics(out, None, t)
    assert m["loss"] == pytest.approx((0 + 1 + 4) / 3)
    assert m["mae"] == pytest.approx(1.0)
    assert m["r2"] == pytest.approx(1 - 5 / (((t - t.mean()) ** 2).sum()))


def test_infer_names_the_task_and_refuses_single_classes():
    assert tasks.infer("cross_entropy", np.array([3, 1, 3]), np.float32).classes.tolist() == [1, 3]
    assert tasks.infer("binary_cross_entropy", np.array(["n", "y"]), np.float32).name == "binary"
    with pytest.raises(ValueError, match=r"single class \(1\);"):
        tasks.infer("cross_entropy", np.array([1, 1]), np.float32)
    with pytest.raises(ValueError, match="task must be one of"):
        tasks.from_name("bogus", "mse", 1, None, np.float32)


def _label_forms(rng):
    """Labels in many forms: in range or with one outside it, in every place."""
    for dtype in (np.int32, np.int64, np.int16, np.uint8, np.uint64, ">i8", np.float64):
        for n in (0, 1, 7, 64):
            y = rng.integers(0, 5, n).astype(dtype)
            yield y
            yield y[::2]                                # not contiguous
            for j in range(n):
                for bad in (-1, 5, 2**33 if np.dtype(dtype).itemsize == 8 else 127):
                    if np.dtype(dtype).kind == "u" and bad < 0:
                        continue
                    b = y.copy()
                    b[j] = bad
                    yield b


def test_compiled_label_codes_agree_with_numpy():
    # Oracle: NumPy's range test and conversion; the compiled pass answers for
    # contiguous native int32/int64 only, and says None for anything else
    from hpframe._core import finite
    rng = np.random.default_rng(3)
    answered = set()
    for y in _label_forms(rng):
        codes = finite.label_codes(y, 5)
        direct = y.dtype in (np.int32, np.int64) and y.dtype.isnative and \
            y.flags.c_contiguous
        in_range = bool(((y >= 0) & (y < 5)).all())
        if direct and in_range:
            assert codes.dtype == np.intc and not np.shares_memory(codes, y)
            np.testing.assert_array_equal(codes, y.astype(np.intc))
        else:
            assert codes is None, (y.dtype, y)
        answered.add((direct, in_range))
    assert answered == {(True, True), (True, False), (False, True), (False, False)}


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int16, np.uint8, ">i8",
                                   np.float64, str])
def test_multiclass_codes_are_the_class_indices_in_every_label_form(dtype):
    # Oracle: the index of each label in classes_ by a Python loop; a label that is
    # not a class is refused with its value, whatever the path
    classes = np.array([0, 1, 2, 3]) if dtype is not str else np.array(["0", "1", "2", "3"])
    task = tasks.Multiclass("cross_entropy", 4, classes, np.float32)
    y = np.array([3, 0, 2, 2, 1, 0, 3]).astype(dtype)
    labels, _ = task.encode(y)
    assert labels.dtype == np.intc and labels.flags.c_contiguous
    assert labels.tolist() == [list(classes).index(v) for v in y.tolist()]
    assert not np.shares_memory(labels, y)
    bad = y.copy()
    bad[4] = 7 if dtype is not str else "7"
    with pytest.raises(ValueError, match=r"y has label '?7(\.0)?'?, which is not one of"):
        task.encode(bad)
    if np.dtype(dtype).kind == "i":
        bad[4] = -1
        with pytest.raises(ValueError, match="y has label -1, which is not one of"):
            task.encode(bad)


# ---- io: files and bytes ---------------------------------------------------------------

def test_bytes_path_and_file_object_hold_the_same_model(tmp_path):
    X, y = blobs()
    t = hp.Trainer(hidden_layers=(7,), epochs=2, dropout=0.2).fit(X, y, verbose=0)
    data = hp.io.to_bytes(t)
    t.save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == data
    buffer = io.BytesIO()
    hp.io.save(t, buffer)
    assert buffer.getvalue() == data
    for again in (hp.io.from_bytes(data), hp.Trainer.load(tmp_path / "m.npz"),
                  hp.io.load(io.BytesIO(data))):
        np.testing.assert_array_equal(again.predict_proba(X), t.predict_proba(X))
        # and training continues exactly as the original would
    a = hp.io.from_bytes(data).fit(X, y, verbose=0, epochs=1)
    b = t.fit(X, y, verbose=0, epochs=1)
    for key, value in a.params.items():
        np.testing.assert_array_equal(value, b.params[key])


def test_estimator_pickles_through_bytes_without_a_temporary_folder(monkeypatch):
    pytest.importorskip("sklearn")
    import tempfile
    from hpframe.sklearn import HPClassifier
    X, y = blobs()
    clf = HPClassifier(hidden_layers=(5,), epochs=2).fit(X, y)

    def refuse(*args, **kwargs):
        raise AssertionError("pickling used a temporary folder")
    monkeypatch.setattr(tempfile, "TemporaryDirectory", refuse)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


# ---- diagnostics' building blocks ----------------------------------------------------------

def test_train_on_batch_is_one_sgd_step_on_the_gradient():
    X, y = blobs(n=30)
    t = hp.Trainer(hidden_layers=(4,), optimizer="sgd", dtype="float64", seed=3).build(5, 3)
    before = t.params
    loss, grads = t.gradients(X, y)
    assert loss == pytest.approx(t.evaluate(X, y)["loss"], rel=1e-12)
    assert t.train_on_batch(X, y, learning_rate=0.5) == pytest.approx(loss, rel=1e-12)
    after = t.params
    for key in before:
        np.testing.assert_allclose(after[key], before[key] - 0.5 * grads[key], rtol=1e-12,
                                   atol=1e-15)
    assert t.epoch_ == 0 and len(t.history.epoch) == 0


@pytest.mark.parametrize("init, activation", [("he", "relu"), ("glorot", "tanh")])
def test_initialisation_in_pieces_is_the_whole_matrix_draw(init, activation):
    # 5000 x 30: the first layer is drawn in pieces of 2184 rows
    t = hp.Trainer(hidden_layers=(30,), init=init, activation=activation,
                   dtype="float64", seed=11).build(5000, 3)
    rng = np.random.default_rng(t._seed_children()[0])
    for l, (n_in, n_out) in enumerate([(5000, 30), (30, 3)]):
        if init == "he":
            expected = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
        else:
            limit = np.sqrt(6.0 / (n_in + n_out))
            expected = rng.uniform(-limit, limit, size=(n_in, n_out))
        np.testing.assert_array_equal(t.params[f"dense_{l}.weight"], expected)


# ---- the promises the tutorial makes ----------------------------------------------------

def test_fit_epochs_trains_past_hparams_epochs_and_says_so():
    X, y = hp.datasets.load_digits()
    t = hp.Trainer(hidden_layers=(16,), epochs=2).fit(X, y, verbose=0)
    t.fit(X, y, verbose=0, epochs=3)
    assert t.epoch_ == 5 and t.history.epoch == [0, 1, 2, 3, 4]
    assert "trained for 5 epoch(s) (hparams.epochs=2; fit(epochs=...) trained past it)" \
        in t.summary()


def test_continuing_a_cosine_schedule_past_its_end_warns():
    X, y = hp.datasets.load_digits()
    t = hp.Trainer(hidden_layers=(16,), epochs=3, lr_schedule="cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t.fit(X, y, verbose=0)                           # within the schedule: silent
    before = t.params
    with pytest.warns(UserWarning, match=r"epochs 4 to 5 of this fit train at learning rate 0"):
        t.fit(X, y, verbose=0, epochs=2)
    assert t.history.history["lr"][3:] == [0.0, 0.0]
    for key, value in before.items():                    # what the warning says: no change
        np.testing.assert_array_equal(t.params[key], value)


@pytest.mark.parametrize("fields", [dict(), dict(activation="tanh"), dict(loss="mse"),
                                    dict(hidden_layers=(32, 16), activation="gelu")])
@pytest.mark.parametrize("trained", [False, True])
def test_gradcheck_passes_on_the_bundled_digits(fields, trained):
    # raw digits: constant-zero pixel columns give exactly-zero gradients, and many
    # others are tiny; ReLU networks have kinks a difference quotient can straddle
    X, y = hp.datasets.load_digits()
    if fields.get("loss") == "mse":
        y = y.astype(float)
    t = hp.Trainer(seed=0, **fields)
    if trained:
        t.fit(X, y, verbose=0, epochs=3)
    assert hp.gradcheck(t, X, y) < 1e-6


@pytest.mark.parametrize("wrong", ["scaled", "one sign", "layer swapped"])
def test_gradcheck_still_fails_on_a_wrong_gradient(monkeypatch, wrong):
    X, y = hp.datasets.load_digits()
    t = hp.Trainer(hidden_layers=(8,), seed=0)             # 610 parameters, all checked
    right = hp.Trainer.gradients

    def broken(self, X, y):
        loss, grads = right(self, X, y)
        if wrong == "scaled":
            grads = {k: 1.01 * g for k, g in grads.items()}
        elif wrong == "one sign":
            grads["dense_1.bias"] = -grads["dense_1.bias"]
        else:
            grads["dense_0.bias"] = grads["dense_0.bias"][::-1].copy()
        return loss, grads
    monkeypatch.setattr(hp.Trainer, "gradients", broken)
    assert hp.gradcheck(t, X, y, n_checks=610) > 1e-3


def test_the_divergence_warning_names_the_input_scale_only_when_it_is_far_off():
    X, y = hp.datasets.load_digits()
    with pytest.warns(hp.DivergenceWarning) as raw:
        hp.Trainer(learning_rate=5, epochs=2).fit(X * 10, y, verbose=0)
    assert "far from standardised" in str(raw[0].message)
    standard = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1)
    with pytest.warns(hp.DivergenceWarning) as scaled:
        hp.Trainer(learning_rate=50, epochs=2).fit(standard, y, verbose=0)
    assert "standardis" not in str(scaled[0].message)


@pytest.mark.parametrize("bad, error", [(-0.1, ValueError), (float("nan"), ValueError),
                                        ("0.1", TypeError), (True, TypeError)])
def test_train_on_batch_refuses_a_bad_learning_rate(bad, error):
    X, y = blobs(n=30)
    t = hp.Trainer(hidden_layers=(4,)).build(5, 3)
    before = t.params
    with pytest.raises(error, match="learning_rate"):
        t.train_on_batch(X, y, learning_rate=bad)
    for key, value in before.items():
        np.testing.assert_array_equal(t.params[key], value)


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
@pytest.mark.parametrize("state", ["unbuilt", "trained"])
def test_a_trainer_pickles_and_deep_copies_as_its_model_file(how, state):
    import copy
    X, y = blobs()
    t = hp.Trainer(hidden_layers=(6,), epochs=2, dropout=0.2, seed=4)
    if state == "trained":
        t.fit(X, y, verbose=0)
    t.note = "kept"
    twin = pickle.loads(pickle.dumps(t)) if how == "pickle" else copy.deepcopy(t)
    assert twin.note == "kept" and twin.is_built == t.is_built and twin.seed_ == t.seed_
    a, b = t.fit(X, y, verbose=0, epochs=1), twin.fit(X, y, verbose=0, epochs=1)
    for key, value in a.params.items():                  # the copy trains on exactly
        np.testing.assert_array_equal(b.params[key], value)
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
        assert b.history.history[key] == a.history.history[key]
