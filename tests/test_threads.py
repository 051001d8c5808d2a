"""How many threads train: the user's setting, the size of a step, search trials.

Oracles: the documented rules (batch size 1 and small steps on one thread,
trials on one thread), the same training on one thread and on a team, and
repeated runs bit for bit.
"""
import os

import numpy as np
import pytest

import hpframe
from hpframe import Trainer, _threads
from hpframe.search.trial import single_blas_thread


@pytest.fixture(autouse=True)
def default_threads(monkeypatch):
    monkeypatch.delenv("HPFRAME_NUM_THREADS", raising=False)
    hpframe.set_num_threads(None)
    yield
    hpframe.set_num_threads(None)


def test_default_is_every_cpu_this_process_may_use():
    expected = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                else os.cpu_count())
    assert hpframe.get_num_threads() == expected


def test_set_num_threads_and_the_environment_variable(monkeypatch):
    hpframe.set_num_threads(3)
    assert hpframe.get_num_threads() == 3
    hpframe.set_num_threads(None)
    monkeypatch.setenv("HPFRAME_NUM_THREADS", "5")
    assert hpframe.get_num_threads() == 5
    hpframe.set_num_threads(1)                  # the call wins over the environment
    assert hpframe.get_num_threads() == 1
    hpframe.set_num_threads(np.int64(2))        # any integer type
    assert hpframe.get_num_threads() == 2 and type(hpframe.get_num_threads()) is int


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_set_num_threads_rejects_what_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match=rf"n={bad!r}.*int >= 1"):
        hpframe.set_num_threads(bad)


@pytest.mark.parametrize("bad", ["0", "two"])
def test_a_bad_environment_variable_is_named(monkeypatch, bad):
    monkeypatch.setenv("HPFRAME_NUM_THREADS", bad)
    with pytest.raises(ValueError, match=rf"HPFRAME_NUM_THREADS='{bad}'"):
        hpframe.get_num_threads()


def test_team_size_follows_the_work_per_step():
    hpframe.set_num_threads(8)
    digits = 64 * 64 + 64 * 10                      # 4,736 weights: one thread
    assert _threads.team_size(1, digits) == 1
    assert _threads.team_size(32, digits) == 1
    assert _threads.team_size(256, digits) == 1     # 6 x 256 x 4,736 = 7.3e6 flops
    assert _threads.team_size(1024, digits) == 7    # 2.9e7 flops
    mnist = 784 * 128 + 128 * 10                    # 101,632 weights to update
    assert _threads.team_size(1, mnist) == 8        # capped by the setting
    assert _threads.team_size(1, mnist, training=False) == 1   # one row to predict
    assert _threads.team_size(256, mnist, training=False) == 8
    hpframe.set_num_threads(1)
    assert _threads.team_size(256, mnist) == 1


def test_search_trials_run_on_one_thread():
    hpframe.set_num_threads(4)
    with single_blas_thread():
        assert _threads.team_size(256, 10**6) == 1
    assert _threads.team_size(256, 10**6) == 4


def _fit(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((1000, 64)).astype(np.float32)
    y = (X[:, :10].argmax(axis=1))
    # 6 x 256 x (64*128 + 128*10) flops per step: a team of two at most
    trainer = Trainer(hidden_layers=(128,), batch_size=256, epochs=3, dropout=0.2,
                      validation_split=0.2, seed=1, learning_rate=3e-3)
    trainer.fit(X, y)
    return trainer, X


def test_a_team_trains_what_one_thread_trains():
    hpframe.set_num_threads(1)
    one, X = _fit()
    hpframe.set_num_threads(2)
    assert _threads.team_size(256, one._net.n_weights) == 2
    two, _ = _fit()
    again, _ = _fit()
    for name, value in two.params.items():
        np.testing.assert_array_equal(value, again.params[name])   # a team repeats itself
        np.testing.assert_allclose(value, one.params[name], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(two.history.history["val_loss"], one.history.history["val_loss"],
                               rtol=1e-4)
    np.testing.assert_allclose(two.predict_proba(X), one.predict_proba(X), atol=1e-5)


# ---- checking a big training set for NaN and infinity, in pieces ---------------------
# Oracle: numpy's elementwise np.isfinite(a).all(), on arrays big enough (>= 2M values)
# to be summed in one piece per thread.

@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("where, value", [(None, None), (5, np.nan), (-1, np.inf),
                                          (1_500_000, -np.inf), (2, 3e38)])
def test_all_finite_on_big_arrays_in_pieces(n_threads, where, value):
    from hpframe._validation import all_finite
    hpframe.set_num_threads(n_threads)
    a = np.random.default_rng(0).standard_normal((1000, 2100), dtype=np.float32)
    if where is not None:
        a.reshape(-1)[where] = value
        if value == 3e38:                    # finite, but the sum overflows
            a.reshape(-1)[where + 1] = value
    assert all_finite(a) == bool(np.isfinite(a).all())
