"""The fast path of a prediction's input check (``_validation.check_features``): a
plain C-ordered array of the model's dtype and width skips the tests its type
settles; a small array's finiteness is found in compiled code
(``hpframe._core.finite``); ``predict_proba`` turns its own outputs into
probabilities in place.

Oracles: the same numbers in every other form (a list, Fortran order, the other
float dtype, a strided view, an ndarray subclass, scipy.sparse) take the general
path, so results must agree with them to the bit and errors to the letter; the
finiteness check against ``np.isfinite(a).all()``; the probabilities against
``ops.softmax`` (a new array) to the bit and a float64 NumPy softmax.
"""
import threading
import warnings

import numpy as np
import pytest

import hpframe as hp
from hpframe import _validation as V


class _Sub(np.ndarray):
    """An ndarray subclass: converted by the general path, never taken as it is."""


def _forms(X, dtype):
    """``X`` (float32 values) as the fast path's form first, then in other forms that
    hold the same numbers."""
    other = np.float64 if dtype == np.float32 else np.float32
    forms = {"fast": np.ascontiguousarray(X, dtype=dtype),
             "list": X.tolist(),
             "fortran": np.asfortranarray(X.astype(dtype)),
             "other dtype": X.astype(other),
             "strided view": np.repeat(X.astype(dtype), 2, axis=1)[:, ::2],
             "subclass": X.astype(dtype).view(_Sub)}
    assert not forms["strided view"].flags.c_contiguous
    return forms


def _trainer(loss, dtype, n_features=7):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, n_features)).astype(np.float32)
    y = {"cross_entropy": np.arange(60) % 3, "binary_cross_entropy": np.arange(60) % 2,
         "mse": X[:, 0] * 2.0}[loss]
    return hp.Trainer(loss=loss, hidden_layers=(5,), epochs=2, dtype=dtype,
                      validation_split=0.0, seed=0).fit(X, y, verbose=0)


@pytest.fixture
def spy(monkeypatch):
    """Count the calls of the general path (its first step, ``to_numpy``)."""
    calls = []
    real = V.to_numpy

    def to_numpy(data, name):
        calls.append(name)
        return real(data, name)
    monkeypatch.setattr(V, "to_numpy", to_numpy)
    return calls


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy", "mse"])
@pytest.mark.parametrize("rows", [1, 3])
def test_the_fast_path_predicts_what_the_general_path_predicts(spy, loss, dtype, rows):
    sparse = pytest.importorskip("scipy.sparse")
    t = _trainer(loss, dtype)
    X = np.random.default_rng(1).standard_normal((rows, 7)).astype(np.float32)
    forms = _forms(X, np.dtype(dtype))
    forms["sparse"] = sparse.csr_matrix(X)
    methods = ["predict", "decision_function"] + \
        (["predict_proba"] if loss != "mse" else [])
    for method in methods:
        spy.clear()
        fast = getattr(t, method)(forms["fast"])
        assert spy == [], "a C-ordered array of the model's dtype takes the fast path"
        for form, data in forms.items():
            spy.clear()
            got = getattr(t, method)(data)
            if form == "fortran" and rows == 1:
                assert spy == [], "one row in Fortran order is C-ordered too"
            elif form not in ("fast", "sparse"):
                assert spy == ["X"], f"{form} takes the general path"
            assert got.dtype == fast.dtype and got.shape == fast.shape
            np.testing.assert_array_equal(got, fast, err_msg=f"{method}, {form}")


def _error(call):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    return type(info.value), str(info.value)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [(0, 0), (0, 6), (2, 3)])
def test_a_non_finite_row_is_refused_with_the_same_message_on_both_paths(dtype, bad, where):
    t = _trainer("cross_entropy", dtype)
    X = np.random.default_rng(2).standard_normal((3, 7)).astype(np.float32)
    X[where] = bad
    forms = _forms(X, np.dtype(dtype))
    for method in ("predict", "predict_proba", "decision_function"):
        expected = _error(lambda: getattr(t, method)(forms["fast"]))
        assert expected[0] is ValueError
        assert f"contains NaN or infinity (first at row {where[0]}, column {where[1]}: " \
            f"{bad})" in expected[1]
        for form, data in forms.items():
            assert _error(lambda: getattr(t, method)(data)) == expected, (method, form)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shapes_the_fast_path_does_not_take_keep_their_messages(dtype):
    t = _trainer("cross_entropy", dtype)
    row = np.ones((1, 7), dtype=dtype)
    cases = {"wide": (np.ones((1, 8), dtype), "X has 8 features, but the model was built for 7"),
             "1-D": (np.ones(7, dtype), "X must be 2-D (n_samples, n_features)"),
             "empty": (np.ones((0, 7), dtype), "X is empty: it has 0 samples"),
             "no features": (np.ones((1, 0), dtype), "X has 0 features"),
             "3-D": (np.ones((1, 7, 1), dtype), "X must be 2-D"),
             "complex": (row.astype(np.complex128), "X must hold real numbers")}
    for name, (X, message) in cases.items():
        # (a list of no rows or of empty rows loses the shape)
        for data in (X, X.tolist()) if name in ("wide", "1-D", "3-D") else (X,):
            kind, text = _error(lambda: t.predict_proba(data))
            assert message in text, (name, text)
    too_big = np.full((1, 7), 1e39)          # finite in float64, infinite in float32
    if dtype == "float32":
        assert "too large for float32" in _error(lambda: t.predict(too_big))[1]
    else:
        assert t.predict(too_big).shape == (1,)


def test_a_model_built_without_data_refuses_until_built():
    t = hp.Trainer(hidden_layers=(5,))
    with pytest.raises(hp.NotFittedError, match="prediction needs a trained model"):
        t.predict_proba(np.ones((1, 7), np.float32))


def test_non_finite_outputs_still_warn_on_the_fast_path():
    t = _trainer("cross_entropy", "float32")
    huge = np.full((1, 7), 3e38, np.float32)          # finite input, overflowing outputs
    with pytest.warns(RuntimeWarning, match="outputs overflowed float32"):
        t.decision_function(huge)
    t._net.weight(0)[0, 0] = np.nan         # as a diverged run leaves it (load_params refuses)
    with pytest.warns(hp.DivergenceWarning, match=r"NaN or infinity in dense_0\.weight"):
        t.predict_proba(np.ones((1, 7), np.float32))


def test_threads_predicting_one_row_each_get_what_one_thread_gets():
    t = _trainer("cross_entropy", "float32")
    X = np.random.default_rng(3).standard_normal((200, 7)).astype(np.float32)
    expected = np.concatenate([t.predict_proba(X[i:i + 1]) for i in range(len(X))])
    got = [None] * 4

    def run(k):
        got[k] = np.concatenate([t.predict_proba(X[i:i + 1]) for i in range(len(X))])
    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for g in got:
        np.testing.assert_array_equal(g, expected)


def _random_arrays(rng):
    """Arrays of many sizes, dtypes and layouts, some holding NaN or +-infinity."""
    for size in (0, 1, 2, 7, 10, 784, 1000, V.SMALL - 1, V.SMALL, V.SMALL + 1):
        for dtype in (np.float32, np.float64, np.float16):
            a = rng.standard_normal(size).astype(dtype)
            n_bad = rng.integers(0, 3) if size else 0
            for j in rng.integers(0, max(size, 1), n_bad):
                a[j] = rng.choice([np.nan, np.inf, -np.inf])
            yield a
            if size >= 4 and size % 2 == 0:
                yield a.reshape(2, -1)
                yield np.asfortranarray(a.reshape(2, -1))
                yield a[::2]                             # strided
    for dtype in (">f4", ">f8"):                        # not native: NumPy's path
        a = np.arange(6.0).astype(dtype)
        yield a
        a[3] = np.nan
        yield a
    yield np.float64(np.nan)                            # 0-d
    yield np.array(np.inf)
    yield np.array(1.5)
    yield np.arange(12)                                 # integers are always finite
    yield np.full(5, 3e38, np.float32) * np.float32(1)  # huge but finite


def test_all_finite_agrees_with_numpy_on_many_arrays():
    rng = np.random.default_rng(4)
    checked = set()
    for a in _random_arrays(rng):
        expected = bool(np.isfinite(a).all())
        assert V.all_finite(a) is expected, (a.shape, a.dtype, a.strides)
        checked.add(expected)
    assert checked == {True, False}
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # no overflow warning from a check
        assert V.all_finite(np.full((3, 3), 3e38, np.float32))


def test_the_compiled_test_answers_only_for_what_it_reads_directly():
    from hpframe._core import finite
    row = np.ones((1, 784), np.float32)
    assert finite.all_finite(row) is True
    for j in (0, 400, 783):                    # first, middle, last
        for bad in (np.nan, np.inf, -np.inf):
            r = row.copy()
            r[0, j] = bad
            assert finite.all_finite(r) is False
            assert finite.all_finite(r.astype(np.float64)) is False
    assert finite.all_finite(np.ones((0, 3))) is True
    for other in (row.tolist(), np.asfortranarray(np.ones((2, 3))), row[:, ::2],
                  row.astype(">f4"), row.astype(np.float16), np.arange(3)):
        assert finite.all_finite(other) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_compiled_test_finds_a_bad_value_in_every_place_of_the_vector_loop(dtype):
    # The AVX2 loop takes 32 float32 (16 float64) at a time in four accumulators,
    # then the rest one by one: every length up to 70 and every position of the
    # bad value meets each accumulator, lane and the tail. The largest finite
    # values, the smallest subnormal and -0.0 are finite. Oracle: np.isfinite.
    from hpframe._core import finite
    info = np.finfo(dtype)
    edges = np.array([info.max, -info.max, info.smallest_subnormal, -0.0], dtype)
    for n in range(71):
        a = np.resize(edges, n).astype(dtype)
        assert finite.all_finite(a) is True, n
        for j in range(n):
            for bad in (np.nan, np.inf, -np.inf):
                b = a.copy()
                b[j] = bad
                assert finite.all_finite(b) is False, (n, j, bad)
                assert bool(np.isfinite(b).all()) is False


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_probabilities_in_place_are_the_softmax_of_the_outputs_to_the_bit(dtype):
    # predict_proba turns its own outputs into probabilities in place; ops.softmax
    # writes a new array (and the task's probabilities, called alone, leave out as is)
    from hpframe import ops
    t = _trainer("cross_entropy", dtype)
    X = np.random.default_rng(5).standard_normal((40, 7)).astype(dtype) * 3
    logits = t.decision_function(X)
    expected = ops.softmax(logits)
    np.testing.assert_array_equal(t.predict_proba(X), expected)
    for i in range(len(X)):
        np.testing.assert_array_equal(t.predict_proba(X[i:i + 1]), expected[i:i + 1])
    kept = logits.copy()
    np.testing.assert_array_equal(t._task.probabilities(logits), expected)
    np.testing.assert_array_equal(logits, kept)
    e = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(expected, e / e.sum(axis=1, keepdims=True),
                               rtol=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_probabilities_of_a_big_x_are_the_softmax_of_the_outputs_to_the_bit(dtype):
    # predict_proba has the core apply the softmax to each chunk of 256 rows, in the
    # thread that forwarded it (the AVX2 build where the CPU has it); ops.softmax is
    # the base build's loop over the whole array at once
    import scipy.sparse as sp
    from hpframe import ops
    t = _trainer("cross_entropy", dtype)
    X = _big(dtype, rows=1000) * 30       # logits far apart: tiny exps, rows that sum to 1
    logits = t.decision_function(X)
    expected = ops.softmax(logits)
    assert (expected < 1e-30).any() and (expected == 1).any()
    np.testing.assert_array_equal(t.predict_proba(X), expected)
    np.testing.assert_array_equal(t.predict_proba(sp.csr_matrix(X)), expected)
    for n_threads in (1, 2, 3):                 # (a team: the chunks are shared)
        out = np.empty_like(logits)
        t._net.predict_into(X, out, n_threads, True)
        np.testing.assert_array_equal(out, expected)
        t._net.predict_into(X, out, n_threads)
        np.testing.assert_array_equal(out, logits)


# ---- a big X: its NaN and infinity are found by the forward pass ------------------------
# (more than V.SMALL numbers: the first layer's sums are checked while in cache,
# and only a sum that is not finite sends X through the usual check)

def _big(dtype, n_features=7, rows=None):
    rows = rows or V.SMALL // n_features + 700       # chunks of 256 rows; threads share them
    X = np.random.default_rng(5).standard_normal((rows, n_features))
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("row", [0, 5000, -1])
@pytest.mark.parametrize("hidden", [(5,), ()])
def test_a_big_x_with_nan_or_infinity_is_refused_naming_its_first_bad_value(
        dtype, bad, row, hidden, monkeypatch):
    X = _big(dtype)
    t = hp.Trainer(hidden_layers=hidden, epochs=1, dtype=dtype, seed=0).fit(
        X[:90], np.arange(90) % 3, verbose=0)
    row = row % len(X)
    X[row, 3] = bad
    X[-1, 6] = np.nan if row != len(X) - 1 else X[-1, 6]      # a later bad value too
    calls = []
    real = V.check_features
    monkeypatch.setattr(V, "check_features",
                        lambda *a, **k: calls.append(k.get("finite", True)) or real(*a, **k))
    for method in ("predict", "predict_proba", "decision_function"):
        kind, text = _error(lambda: getattr(t, method)(X))
        assert kind is ValueError
        assert f"X contains NaN or infinity (first at row {row}, column 3: " \
            f"{bad}); remove or impute them" in text, text
    # the forward pass found it, then the usual check named it
    assert calls == [False, True] * 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_every_thread_of_the_core_reports_a_bad_value_in_its_chunks(dtype, n_threads):
    X = _big(dtype, rows=3000)               # 12 chunks of 256 rows (the last one short)
    t = hp.Trainer(hidden_layers=(4,), epochs=1, dtype=dtype.__name__, seed=0).fit(
        X[:90], np.arange(90) % 3, verbose=0)
    net, out = t._net, np.empty((len(X), 3), dtype)
    assert net.capacity == 256
    assert net.predict_into(X, out, n_threads) is False
    for row in range(0, len(X), 250):        # every chunk, whichever thread takes it
        bad = X.copy()
        bad[row, row % 7] = np.inf
        assert net.predict_into(bad, out, n_threads) is True, row
        assert net.predict_into(X, out, n_threads) is False      # nothing left over


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_finite_big_x_is_checked_by_the_forward_pass_alone(dtype, monkeypatch):
    X = _big(dtype)
    t = hp.Trainer(hidden_layers=(5,), epochs=1, dtype=dtype, seed=0).fit(
        X[:90], np.arange(90) % 3, verbose=0)
    expected = t.predict_proba(X[:300])
    finite_calls = []
    monkeypatch.setattr(V, "all_finite", lambda a, real=V.all_finite:
                        finite_calls.append(a.shape) or real(a))
    got = t.predict_proba(X)
    np.testing.assert_array_equal(got[:300], expected)
    assert finite_calls == [(len(X), 3)]         # the outputs only, never X


def test_a_big_x_too_large_for_float32_is_refused_as_before():
    X = _big(np.float64)
    t = hp.Trainer(hidden_layers=(5,), epochs=1, dtype="float32", seed=0).fit(
        X[:90], np.arange(90) % 3, verbose=0)
    X[7000, 2] = 1e39                        # finite in float64, infinite in float32
    with pytest.raises(ValueError, match=r"X has values too large for float32 \(first at "
                                         r"row 7000, column 2: 1e\+39"):
        t.predict(X)


def test_a_big_finite_x_through_non_finite_weights_still_warns():
    X = _big(np.float32)
    t = hp.Trainer(hidden_layers=(5,), epochs=1, seed=0).fit(X[:90], np.arange(90) % 3,
                                                            verbose=0)
    huge = np.full_like(X, 3e38)             # finite, but its sums overflow
    with pytest.warns(RuntimeWarning, match="outputs overflowed float32"):
        t.decision_function(huge)
    t._net.weight(0)[0, 0] = np.nan
    with pytest.warns(hp.DivergenceWarning, match=r"NaN or infinity in dense_0\.weight"):
        assert np.isnan(t.predict_proba(X)).all()
