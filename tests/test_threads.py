"""How many threads train: the user's setting, the size of a step, search trials.

Oracles: the documented rules (batch size 1 and small steps on one thread,
trials on one thread), the same training on one thread and on a team, and
repeated runs bit for bit.
"""
import os

import numpy as np
import pytest
import threadpoolctl

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


def test_a_bad_environment_variable_fails_the_smallest_fit(monkeypatch):
    # Oracle: the documented rule - training always reads the setting, while a
    # prediction too small for two threads runs on one without reading it
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    trainer = Trainer(hidden_layers=(2,), epochs=1, validation_split=0.0).fit(X, y, verbose=0)
    monkeypatch.setenv("HPFRAME_NUM_THREADS", "two")
    assert _threads.team_size(1, 10, training=False) == 1
    assert trainer.predict_proba(X[:1]).shape == (1, 2)
    with pytest.raises(ValueError, match="HPFRAME_NUM_THREADS='two'"):
        Trainer(hidden_layers=(2,), epochs=1, validation_split=0.0).fit(X, y, verbose=0)
    with pytest.raises(ValueError, match="HPFRAME_NUM_THREADS='two'"):
        _threads.team_size(10**6, 10**6, training=False)     # big enough to ask


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


# ---- checking a big array for NaN and infinity ---------------------------------------
# Oracle: numpy's elementwise np.isfinite(a).all(), on arrays past the small-array path
# (> 65,536 values), each dtype and memory order, with and without BLAS's threads.

@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("where, value", [(None, None), (5, np.nan), (-1, np.inf),
                                          (1_500_000, -np.inf), (2, "huge")])
@pytest.mark.parametrize("dtype, order", [(np.float32, "C"), (np.float64, "C"),
                                          (np.float32, "F")])
def test_all_finite_on_big_arrays(n_threads, where, value, dtype, order):
    from hpframe._validation import all_finite
    hpframe.set_num_threads(n_threads)
    a = np.random.default_rng(0).standard_normal((1000, 2100)).astype(dtype, order=order)
    if where is not None:
        flat = a.reshape(-1, order="A")      # a view, in memory order
        if value == "huge":                  # finite, but the sum of squares overflows
            flat[where:where + 2] = np.finfo(dtype).max / 2
        else:
            flat[where] = value
    with threadpoolctl.threadpool_limits(limits=n_threads, user_api="blas"):
        assert all_finite(a) == bool(np.isfinite(a).all())


# ---- one model, many threads ------------------------------------------------------------
# Oracle: the same call made serially on the same model, bit for bit.

def _digits_model():
    X, y = hpframe.datasets.load_digits()
    trainer = Trainer(hidden_layers=(128,), epochs=2, seed=3).fit(X, y, verbose=0)
    return trainer, X.astype(np.float32), y


def test_many_threads_on_one_model_get_the_serial_answers():
    import concurrent.futures
    hpframe.set_num_threads(2)                # predictions of >= 256 rows use a team
    trainer, X, y = _digits_model()
    rng = np.random.default_rng(0)
    slices = [slice(0, 7), slice(3, 300), slice(0, len(X)), slice(100, 1400), slice(5, 6)]
    calls = {"predict": trainer.predict, "predict_proba": trainer.predict_proba,
             "decision_function": trainer.decision_function,
             "evaluate": lambda Xs, ys: trainer.evaluate(Xs, ys)}
    serial = {}
    for name, call in calls.items():
        for i, s in enumerate(slices):
            serial[name, i] = call(X[s], y[s]) if name == "evaluate" else call(X[s])
    jobs = [(str(rng.choice(list(calls))), int(rng.integers(len(slices)))) for _ in range(400)]

    def run(job):
        name, i = job
        s = slices[i]
        return calls[name](X[s], y[s]) if name == "evaluate" else calls[name](X[s])

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(run, jobs, timeout=300))
    wrong = 0
    for job, answer in zip(jobs, answers):
        expected = serial[job]
        if isinstance(expected, dict):
            wrong += answer != expected
        else:
            wrong += not np.array_equal(answer, expected)
    assert wrong == 0, f"{wrong} of {len(jobs)} concurrent answers differ from the serial ones"


def test_fit_and_predict_together_neither_hang_nor_mix_up():
    import threading
    hpframe.set_num_threads(2)
    X, y = hpframe.datasets.load_digits()
    trainer = Trainer(hidden_layers=(64,), epochs=15, seed=4)
    twin = Trainer(hidden_layers=(64,), epochs=15, seed=4).fit(X, y, verbose=0)
    started, checked, errors, seen = threading.Event(), threading.Event(), [], []

    class Started(hpframe.Callback):              # holds fit after its first epoch
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                started.set()
                checked.wait(60)

    def train():
        try:
            trainer.fit(X, y, verbose=0, callbacks=[Started()])
        except Exception as exc:              # pragma: no cover - reported below
            errors.append(exc)

    fitter = threading.Thread(target=train)
    fitter.start()
    assert started.wait(timeout=120)
    with pytest.raises(RuntimeError, match="being trained by fit in another thread"):
        trainer.fit(X, y, verbose=0)          # a second fit at once is refused
    with pytest.raises(RuntimeError, match="another thread"):
        trainer.reset()
    checked.set()

    def predict():
        while True:
            seen.append(trainer.predict_proba(X[:50]))
            if not fitter.is_alive():
                break

    predictors = [threading.Thread(target=predict) for _ in range(2)]
    for p in predictors:
        p.start()
    fitter.join(timeout=300)
    for p in predictors:
        p.join(timeout=300)
    assert not fitter.is_alive() and not any(p.is_alive() for p in predictors), "hung"
    assert not errors, errors
    assert seen and all(p.shape == (50, 10) and np.isfinite(p).all() for p in seen)
    # predictions beside it changed nothing: training gave what it gives alone
    for name, value in twin.params.items():
        np.testing.assert_array_equal(trainer.params[name], value)
    np.testing.assert_array_equal(trainer.predict_proba(X), twin.predict_proba(X))


def test_the_blas_limit_is_counted_so_one_caller_never_hands_it_back(monkeypatch):
    # Oracle: the calls hpframe makes to a BLAS library's controller (a recording
    # stand-in for threadpoolctl's), in order
    import threading
    calls = []

    class Library:
        threads = 4

        def get_num_threads(self):
            return self.threads

        def set_num_threads(self, n):
            calls.append(f"set {n}")
            self.threads = n

    monkeypatch.setattr(_threads, "_blas_libs", [Library()])
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with _threads.blas_threads(1):
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with _threads.single_threaded():
            b_in.set()
            a_out.wait(10)
            seen["after a left"] = list(calls)
            seen["team"] = _threads.team_size(256, 10**6)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen["after a left"] == ["set 1"], "a's exit handed BLAS back"
    assert seen["team"] == 1
    assert calls == ["set 1", "set 4"]                 # and the last one out restored it
    assert _threads._blas_users == 0


def blas_limit():
    """The fewest threads any loaded BLAS may use now (threadpoolctl's reading)."""
    return min(info["num_threads"] for info in threadpoolctl.threadpool_info()
               if info["user_api"] == "blas")


def blas_limit_seen():
    """BLAS's own limit, skipping the test where a limit of one cannot be seen."""
    original = blas_limit()
    if original == 1:
        pytest.skip("BLAS runs one thread here: a limit of one cannot be seen")
    return original


def test_the_real_blas_limit_holds_until_the_last_user_leaves():
    import threading
    original = blas_limit_seen()
    with _threads.blas_threads(1):
        assert blas_limit() == 1

        def in_and_out():
            with _threads.single_threaded():
                pass
        other = threading.Thread(target=in_and_out)
        other.start()
        other.join(30)
        assert blas_limit() == 1, "another thread's exit gave BLAS its threads back"
    assert blas_limit() == original


def test_the_real_blas_limit_holds_in_any_thread_whichever_set_it_before():
    # threadpoolctl (3.8) lets only one Python thread - the first to set a limit -
    # change OpenBLAS's process-wide pool and silently ignores the others; hpframe
    # must still limit BLAS in a worker thread after the main thread has trained
    # (and restore it from whichever thread leaves last).
    import threading
    original = blas_limit_seen()
    X = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    Trainer(hidden_layers=(4,), epochs=1).fit(X, np.arange(64) % 2, verbose=0)
    seen = []
    inside, leave = threading.Event(), threading.Event()

    def worker():
        with _threads.blas_threads(1):
            seen.append(blas_limit())
            inside.set()
            leave.wait(10)
        seen.append(blas_limit())

    other = threading.Thread(target=worker)
    other.start()
    inside.wait(10)
    with _threads.single_threaded():                    # the main thread joins ...
        leave.set()
        other.join(30)                                  # ... and the worker leaves first
        seen.append(blas_limit())
    seen.append(blas_limit())
    assert seen == [1, 1, 1, original]


def test_each_openblas_is_set_through_its_own_functions_and_others_through_threadpoolctl():
    # Oracle: threadpoolctl's own reading of every loaded BLAS, before and after
    # hpframe's direct setter changed it; a library that is not an OpenBLAS with
    # its own threads keeps threadpoolctl's controller
    libs = threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers
    setters = _threads._blas_libraries()
    assert len(setters) == len(libs)
    for lib, setter in zip(libs, setters):
        direct = lib.internal_api == "openblas" and lib.threading_layer != "openmp"
        assert isinstance(setter, _threads._OpenBLAS) is direct, lib.info()
        assert setter.get_num_threads() == lib.get_num_threads()
        if direct:
            before = lib.get_num_threads()
            try:
                setter.set_num_threads(1)
                assert lib.get_num_threads() == 1
            finally:
                setter.set_num_threads(before)
            assert lib.get_num_threads() == before

    class Other:
        internal_api = "mkl"
    other = Other()
    assert _threads._openblas_functions(other) is None
