"""A model that is already built tests a big X for NaN and infinity while it trains
(``trainer._defers_finite_check``): each batch's rows once gathered, in the core, and
a bad one undoes the epoch's steps before fit raises.

Oracle: the same fit with the test made first, in a pass of its own (as for a small
X), through ``DEFER_BYTES``: errors must match to the letter, and the model after a
failed fit - and every result after it - must match a model that never saw the bad X,
bit for bit.
"""
import warnings

import numpy as np
import pytest

import hpframe as hp
from hpframe import _validation as V
from hpframe import trainer as trainer_module
from hpframe._threads import team_size

N, D = 240, 12


def check_while_training(monkeypatch, deferred):
    """Make fit test every X while training (``deferred``) or none (before)."""
    monkeypatch.setattr(trainer_module, "DEFER_BYTES", 0 if deferred else 1 << 62)
    monkeypatch.setattr(trainer_module, "UNDO_SHARE", 0)
    monkeypatch.setattr(V, "SMALL", 0 if deferred else V.SMALL)   # (check_features' own limit)


@pytest.fixture(params=["deferred", "first"])
def how(request, monkeypatch):
    """Run each test both ways: the test while training, and the test first."""
    check_while_training(monkeypatch, request.param == "deferred")
    return request.param


def data(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(dtype)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def built(dtype="float32", n_threads=1, **hparams):
    """A trainer fitted for one epoch, whose steps a team of ``n_threads`` shares."""
    fields = dict(hidden_layers=(16,) if n_threads == 1 else (1024,), dropout=0.2,
                  optimizer="adam", batch_size=16, epochs=1, seed=3, validation_split=0.0,
                  dtype=dtype)
    fields.update(hparams)
    trainer = hp.Trainer(**fields)
    X, y = data(dtype=np.dtype(dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # (a run made to diverge)
        trainer.fit(X, y, verbose=0)
    assert team_size(fields["batch_size"], trainer._net.n_weights) == n_threads
    return trainer, X, y


def state(trainer):
    net = trainer._net
    return ([a.copy() for a in (net.params, net.state_1, net.state_2)], net.step,
            net.first_loss, net.shuffle_rng.state, [r.state for r in net.dropout_rngs],
            trainer.epoch_,
            {k: list(v) for k, v in trainer.history.history.items() if k != "time"})


def assert_same_state(a, b):
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)
    assert a[1:] == b[1:]


def test_small_arrays_and_first_fits_are_tested_first():
    hp.set_num_threads(1)
    trainer = hp.Trainer(hidden_layers=(4,), epochs=1)
    assert not trainer_module._defers_finite_check(trainer, np.zeros((10 ** 6, 8)))
    trainer, X, _ = built()
    assert not trainer_module._defers_finite_check(trainer, X)         # 11 KB
    big = np.zeros((1 << 17, D), np.float32)                           # 6 MB
    assert trainer_module._defers_finite_check(trainer, big)
    assert not trainer_module._defers_finite_check(trainer, big.tolist()[:2])
    # the undo's copy must cost at most an eighth of the pass it saves
    wide = hp.Trainer(hidden_layers=(4096,), epochs=1)
    wide.fit(big[:64], np.arange(64) % 3, verbose=0)
    assert not trainer_module._defers_finite_check(wide, big)
    hp.set_num_threads(None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("bad", [(0, 0), (17, 5), (N - 1, D - 1)], ids=str)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=str)
def test_a_bad_value_raises_as_before_and_changes_nothing(how, dtype, n_threads, bad, value):
    hp.set_num_threads(n_threads)
    try:
        trainer, X, y = built(dtype, n_threads)
        before = state(trainer)
        Xb = X.copy()
        Xb[bad] = value
        with pytest.raises(ValueError) as error:
            trainer.fit(Xb, y, verbose=0)
        assert str(error.value) == (f"X contains NaN or infinity (first at row {bad[0]}, "
                                    f"column {bad[1]}: {value}); remove or impute them")
        assert_same_state(state(trainer), before)
        # and it trains on exactly as a model that never saw the bad X
        twin, _, _ = built(dtype, n_threads)
        for t in (trainer, twin):
            t.fit(X, y, epochs=2, verbose=0)
        assert_same_state(state(trainer), state(twin))
    finally:
        hp.set_num_threads(None)


def test_a_value_too_large_for_float32_is_named(how):
    trainer, X, y = built()
    X64 = X.astype(np.float64)
    X64[9, 2] = 1e300
    before = state(trainer)
    with pytest.raises(ValueError, match=r"X has values too large for float32 \(first at "
                                         r"row 9, column 2: 1e\+300"):
        trainer.fit(X64, y, verbose=0)
    assert_same_state(state(trainer), before)


def test_bad_held_out_rows_raise_too(how):
    trainer, X, y = built(validation_split=0.25)
    held_out = trainer_module.split(trainer, X, y, None)[1][0]
    row = int(np.flatnonzero((X == held_out[0]).all(axis=1))[0])
    Xb = X.copy()
    Xb[row, 4] = np.nan
    before = state(trainer)
    with pytest.raises(ValueError, match=f"first at row {row}, column 4: nan"):
        trainer.fit(Xb, y, verbose=0)
    assert_same_state(state(trainer), before)


def test_a_diverging_fit_with_a_bad_row_it_never_reached_raises(how):
    # sgd at a huge rate diverges within the first batches: the epoch stops before
    # it reaches the last row, which the core therefore never tested
    trainer, X, y = built(optimizer="sgd", learning_rate=1e9, dropout=0.0, shuffle=False)
    Xb = X * 1e3
    Xb[N - 1, 0] = np.nan
    before = state(trainer)
    with pytest.raises(ValueError, match=f"first at row {N - 1}, column 0: nan"):
        trainer.fit(Xb, y, verbose=0)
    assert_same_state(state(trainer), before)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_finite_fits_are_the_same_either_way(monkeypatch, n_threads):
    # a run that diverges, one with sample weights, one with a held-out part: the
    # test while training changes no result, bit for bit
    runs = [dict(optimizer="sgd", learning_rate=1e9, dropout=0.0),
            dict(validation_split=0.2),
            dict()]
    hp.set_num_threads(n_threads)
    try:
        for fields in runs:
            results = []
            for deferred in (True, False):
                check_while_training(monkeypatch, deferred)
                trainer, X, y = built(n_threads=n_threads, **fields)
                weights = np.linspace(0.5, 2.0, N) if not fields else None
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")      # the divergence: alike both ways
                    for _ in range(3):
                        trainer.fit(X * (1e3 if fields.get("learning_rate") else 1), y,
                                    verbose=0, sample_weight=weights)
                results.append(state(trainer))
            assert_same_state(*results)
    finally:
        hp.set_num_threads(None)



# ---- the core's own test: Network.train_epoch(check_rows=True) ----------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
# a batch of rows is copied in turns of about 16 KB: one turn (12 features), a few
# (300), more than a thread keeps to test at the end (4096 features: a row a turn)
@pytest.mark.parametrize("n_features, batch", [(12, 16), (300, 16), (4096, 80)])
@pytest.mark.parametrize("row", [0, 37, N - 1])
@pytest.mark.parametrize("value", [np.nan, -np.inf], ids=str)
def test_the_core_stops_before_the_batch_with_the_bad_row(dtype, n_threads, n_features,
                                                          batch, row, value):
    # Oracle: a network that trains (no test) on the rows before that batch alone.
    from hpframe._core.network import Network
    from hpframe._core.spec import NetworkSpec

    def network():
        net = Network(NetworkSpec((n_features, 24, 3), "relu", "cross_entropy", "adam", 0.2,
                                  0.9, 0.9, 0.999, 1e-8, 0.0, batch, dtype, 5))
        rng = np.random.default_rng(1)
        for l in range(net.n_layers):
            net.weight(l)[...] = rng.normal(scale=0.3, size=net.weight(l).shape)
        # the bad feature's weights all positive: -inf makes every unit's sum -inf,
        # which ReLU makes 0, so the loss stays finite and only the test stops the step
        net.weight(0)[n_features // 2] = np.abs(net.weight(0)[n_features // 2])
        return net

    rng = np.random.default_rng(2)
    X = rng.normal(size=(N, n_features)).astype(dtype)
    labels = rng.integers(0, 3, N).astype(np.intc)
    no_targets = np.zeros((0, 3), dtype)
    X[row, n_features // 2] = value
    checked, plain = network(), network()
    result = checked.train_epoch(X, labels, no_targets, batch, 0.01, False, n_threads, None,
                                 True)
    before = row // batch * batch               # the rows of the batches before row's
    assert checked.rows_not_finite
    assert result[2:4] == (before, row // batch)    # rows seen, steps taken
    if before:
        plain.train_epoch(X[:before], labels[:before], no_targets, batch, 0.01, False,
                          n_threads)
    assert not plain.rows_not_finite
    for a, b in zip((checked.params, checked.state_1, checked.state_2, checked.step),
                    (plain.params, plain.state_1, plain.state_2, plain.step)):
        np.testing.assert_array_equal(a, b)
    # finite rows: the whole epoch, and the same numbers as without the test
    X[row, n_features // 2] = 0.5
    again, plain = network(), network()
    ours = again.train_epoch(X, labels, no_targets, batch, 0.01, False, n_threads, None, True)
    theirs = plain.train_epoch(X, labels, no_targets, batch, 0.01, False, n_threads)
    assert not again.rows_not_finite and ours == theirs
    np.testing.assert_array_equal(again.params, plain.params)
