"""Sparse X (scipy.sparse) in the Trainer and the estimators: the same numbers as the
dense X, bit for bit, without ever holding the whole matrix dense.

Oracles: the same fit on ``X.toarray()`` (every parameter, prediction and validation
loss must be equal, not close), scikit-learn's sparse estimator checks (in
test_sklearn*.py, now that the estimators declare sparse input), and tracemalloc's
peak against the dense matrix's size.
"""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import hpframe as hp
from hpframe.sklearn import HPClassifier, HPRegressor

FORMATS = [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array,
           sp.coo_array, sp.lil_array]


def sparse_problem(n=700, d=50, density=0.1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random(X.shape) > density] = 0
    y = (X[:, 0] + X[:, 1] - X[:, 2] > 0).astype(int)
    return X, y


def assert_same_params(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fields", [
    dict(),                                                  # adam, batch 32, split 0.2
    dict(dropout=0.3, batch_size=7, optimizer="nesterov", learning_rate=0.01),
    dict(loss="mse", dtype="float64", shuffle=False, batch_size=700),
])
def test_trainer_sparse_equals_dense_bit_for_bit(fmt, fields):
    X, y = sparse_problem()
    if fields.get("loss") == "mse":
        y = X[:, :3].sum(axis=1)
    dense = hp.Trainer(epochs=3, **fields).fit(X, y, verbose=0)
    sparse = hp.Trainer(epochs=3, **fields).fit(fmt(X), y, verbose=0)
    assert_same_params(sparse.params, dense.params)
    assert sparse.history.history["val_loss" if "val_loss" in dense.history.history
                                  else "loss"] == \
        dense.history.history["val_loss" if "val_loss" in dense.history.history else "loss"]
    # prediction: more rows than one chunk of the core (256), every one equal
    np.testing.assert_array_equal(sparse.decision_function(fmt(X)), dense.decision_function(X))
    np.testing.assert_array_equal(dense.predict(fmt(X)), dense.predict(X))
    assert sparse.evaluate(fmt(X), y) == dense.evaluate(X, y)


def test_duplicates_and_unsorted_indices_mean_what_toarray_means():
    # (0, 1) given twice sums to 3, as toarray() sums it; the user's arrays stay as given
    data, rows, cols = np.array([1.0, 2.0, 5.0, -1.0]), [0, 0, 1, 1], [1, 1, 3, 0]
    X = sp.coo_array((data, (rows, cols)), shape=(2, 4))
    csr = sp.csr_matrix((data, [1, 1, 3, 0], [0, 2, 4]), shape=(2, 4))   # unsorted, dup
    before = csr.indices.copy(), csr.data.copy()
    trainer = hp.Trainer(hidden_layers=(3,), loss="mse", dtype="float64").build(4, 1)
    expected = trainer.predict(X.toarray())
    np.testing.assert_array_equal(trainer.predict(X), expected)
    np.testing.assert_array_equal(trainer.predict(csr), expected)
    np.testing.assert_array_equal(csr.indices, before[0])
    np.testing.assert_array_equal(csr.data, before[1])


def test_the_core_gathers_int64_indexed_rows_too():
    # scipy keeps int64 indices for very large matrices; the core reads both widths.
    # One epoch of the compiled network on the dense rows and on int64-indexed CSR.
    X, y = sparse_problem(n=100)
    X = X.astype(np.float32)
    targets, no_labels = np.ascontiguousarray(y[:, None], np.float32), np.zeros(0, np.intc)
    wide = sp.csr_matrix(X)
    wide.indices, wide.indptr = wide.indices.astype(np.int64), wide.indptr.astype(np.int64)
    results = []
    for data in (X, wide):
        trainer = hp.Trainer(hidden_layers=(4,), loss="mse").build(50, 1)
        trainer._net.train_epoch(data, no_labels, targets, 16, 0.01, True, 1)
        results.append(trainer.params)
    assert wide.indptr.dtype == wide.indices.dtype == np.int64
    assert_same_params(results[1], results[0])


def test_sparse_errors_name_the_problem():
    X, y = sparse_problem(n=40)
    bad = sp.csr_matrix(X)
    bad.data[3] = np.nan
    row = int(np.searchsorted(bad.indptr, 3, side="right") - 1)
    with pytest.raises(ValueError, match=f"NaN or infinity .*row {row}, column {bad.indices[3]}"):
        hp.Trainer().fit(bad, y, verbose=0)
    trainer = hp.Trainer(epochs=1).fit(sp.csr_matrix(X), y, verbose=0)
    with pytest.raises(ValueError, match="has 49 features, but the model was built for 50"):
        trainer.predict(sp.csr_matrix(X[:, 1:]))
    with pytest.raises(ValueError, match="different lengths"):
        hp.Trainer().fit(sp.csr_matrix(X), y[:-1], verbose=0)
    with pytest.raises(TypeError, match="sparse"):           # y stays dense
        hp.Trainer().fit(X, sp.csr_matrix(y[:, None]), verbose=0)


@pytest.mark.parametrize("Estimator", [HPClassifier, HPRegressor])
def test_estimators_sparse_equals_dense(Estimator):
    # scikit-learn's test_sparse_matrices, on hpframe: fit on dense and on CSR, predict
    # both ways - here equal bit for bit, also with early stopping's held-out part.
    X, y = sparse_problem(n=300)
    if Estimator is HPRegressor:
        y = X[:, :3].sum(axis=1)
    for kwargs in (dict(), dict(early_stopping=True, n_iter_no_change=2)):
        dense = Estimator(hidden_layers=(15,), epochs=5, **kwargs).fit(X, y)
        sparse = Estimator(hidden_layers=(15,), epochs=5, **kwargs).fit(sp.csr_matrix(X), y)
        assert_same_params(sparse.trainer_.params, dense.trainer_.params)
        method = "predict_proba" if Estimator is HPClassifier else "predict"
        np.testing.assert_array_equal(getattr(sparse, method)(sp.csc_array(X)),
                                      getattr(dense, method)(X))
        assert sparse.score(sp.csr_matrix(X), y) == dense.score(X, y)


def test_fit_memory_stays_near_the_sparse_size():
    # 20,000 x 5,000 at 1%: 1e6 nonzeros, 8 MB of CSR in float32 (data + int32 indices);
    # the dense matrix would be 400 MB. Peak of everything fit and predict allocate.
    X = sp.random(20_000, 5_000, density=0.01, format="csr", dtype=np.float32,
                  random_state=np.random.default_rng(0))
    y = np.arange(X.shape[0]) % 2
    sparse_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    dense_bytes = X.shape[0] * X.shape[1] * 4
    clf = HPClassifier(hidden_layers=(16,), epochs=1, batch_size=256)
    tracemalloc.start()
    try:
        clf.fit(X, y)
        clf.predict(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * sparse_bytes + 30e6, (peak, sparse_bytes)
    assert peak < dense_bytes / 10, "never the whole matrix dense"
