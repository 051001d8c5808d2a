"""Tests for hpframe.data: seeded, stratified hold-out and three-way splits."""
import numpy as np
import pytest

import hpframe.data as hd
from hpframe.data import holdout_indices, split


def expected_val_size(fraction, n):
    """The documented rule, written out independently."""
    size = round(fraction * n)
    if fraction > 0 and n >= 2 and size == 0:
        size = 1
    return min(size, n - 1)


def largest_remainder(counts, total):
    """Hamilton's method: floors, then the largest remainders get one more."""
    counts = np.asarray(counts)
    ideal = counts * total / counts.sum()
    out = np.floor(ideal).astype(int)
    extra = total - out.sum()
    out[np.argsort(-(ideal - out), kind="stable")[:extra]] += 1
    return out


def check_partition(parts, n):
    for idx in parts:
        assert idx.dtype == np.int64 and idx.ndim == 1
        assert np.all(np.diff(idx) > 0)          # sorted, no repeats
    allidx = np.concatenate(parts)
    assert np.array_equal(np.sort(allidx), np.arange(n))   # disjoint and complete


# ---------------------------------------------------------------------------
# holdout_indices
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 101, 1000])
@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.25, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("stratify", [True, False])
def test_holdout_sizes_exact(n, fraction, stratify):
    two_classes = n - expected_val_size(fraction, n) >= 2   # room for both in train
    y = np.arange(n) % 2 if two_classes else np.zeros(n, dtype=int)
    train, val = holdout_indices(y, fraction, seed=0, stratify=stratify)
    assert len(val) == expected_val_size(fraction, n)
    assert len(train) >= 1
    check_partition([train, val], n)


def test_holdout_fraction_zero_all_train():
    train, val = holdout_indices(np.arange(10) % 3, 0.0)
    np.testing.assert_array_equal(train, np.arange(10))
    assert val.shape == (0,) and val.dtype == np.int64


def test_holdout_single_sample_stays_in_train():
    train, val = holdout_indices([5], 0.5)
    assert train.tolist() == [0] and val.tolist() == []


def test_holdout_stratified_largest_remainder():
    # remainders here are all distinct, so largest-remainder rounding is unique
    counts = [50, 31, 13, 6]
    y = np.repeat(np.arange(4), counts)
    y = y[np.random.default_rng(0).permutation(len(y))]
    n_val = expected_val_size(0.23, len(y))
    for seed in range(5):
        train, val = holdout_indices(y, 0.23, seed=seed)
        got = np.bincount(y[val], minlength=4)
        np.testing.assert_array_equal(got, largest_remainder(counts, n_val))
        np.testing.assert_array_equal(np.bincount(y[train], minlength=4),
                                      np.array(counts) - got)


def test_holdout_stratified_within_one_sample_random_cases():
    rng = np.random.default_rng(123)
    for _ in range(200):
        counts = rng.integers(2, 40, size=rng.integers(2, 8))
        y = np.repeat(np.arange(counts.size), counts)
        fraction = rng.uniform(0.05, 0.6)
        train, val = holdout_indices(y, fraction, seed=int(rng.integers(1000)))
        n = len(y)
        n_val = len(val)
        ideal_val = counts * n_val / n
        assert np.all(np.abs(np.bincount(y[val], minlength=counts.size) - ideal_val) < 1)
        assert np.all(np.abs(np.bincount(y[train], minlength=counts.size)
                             - (counts - ideal_val)) < 1)


def test_holdout_every_class_keeps_a_training_sample():
    # ideal training share of the small classes is 0.2 samples: rounding alone
    # would leave them out of training
    y = np.array([0] * 2 + [1] * 2 + [2] * 96)
    for seed in range(10):
        train, val = holdout_indices(y, 0.9, seed=seed)
        assert len(val) == 90
        counts = np.bincount(y[train], minlength=3)
        assert counts[0] >= 1 and counts[1] >= 1
    # a singleton class may go either way, but the others keep one each
    y = np.array([0, 1, 1, 2, 2, 2, 2, 2, 2, 2])
    train, val = holdout_indices(y, 0.8, seed=0)
    assert {1, 2} <= set(y[train].tolist())


def test_holdout_too_few_training_samples_for_the_classes():
    y = np.repeat(np.arange(5), 2)
    with pytest.raises(ValueError, match="training part would hold 2 samples, fewer "
                                         "than the 5 classes.*stratify=False"):
        holdout_indices(y, 0.8)
    train, val = holdout_indices(y, 0.8, stratify=False)
    assert len(val) == 8


def test_holdout_deterministic_for_a_seed():
    y = np.arange(200) % 3
    a = holdout_indices(y, 0.3, seed=11)
    b = holdout_indices(y, 0.3, seed=11)
    c = holdout_indices(y, 0.3, seed=12)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    g1 = holdout_indices(y, 0.3, seed=np.random.default_rng(11))
    g2 = holdout_indices(y, 0.3, seed=np.random.default_rng(11))
    np.testing.assert_array_equal(g1[1], g2[1])          # a Generator is used as given
    assert len(holdout_indices(y, 0.3, seed=None)[1]) == 60


def test_split_stream_is_not_a_data_generators_stream():
    # make_regression(seed=0) draws X from default_rng(0); a split with seed=0 must not
    # replay that stream (it would send exactly the largest-x rows to the test set).
    from hpframe.datasets import make_regression
    X, y = make_regression(n_samples=200, n_features=1, seed=0)
    _, _, (X_test, _) = split(X, y, val=0.0, test=0.2, seed=0, stratify=False)
    largest = np.sort(X[:, 0])[-len(X_test):]
    assert not np.array_equal(np.sort(X_test[:, 0]), largest)
    # and the test rows look like the rest: their mean is within 4 standard errors
    assert abs(X_test[:, 0].mean() - X[:, 0].mean()) < 4 * X[:, 0].std() / np.sqrt(len(X_test))


def test_holdout_selects_every_sample_sometimes():
    # no sample is systematically kept out of validation (a fair shuffle)
    y = np.arange(30) % 3
    seen = np.zeros(30, dtype=int)
    for seed in range(300):
        seen[holdout_indices(y, 0.2, seed=seed)[1]] += 1
    assert seen.min() > 30 and seen.max() < 100        # expected 60 each


@pytest.mark.parametrize("labels", [
    np.array(["cat", "dog", "bird"])[np.arange(90) % 3],
    np.array([True, False, False] * 30),
    np.array(["cat", "dog", "bird"] * 30, dtype=object),
    (np.arange(90) % 3).astype(np.float32),        # integral floats are labels
    list(np.arange(90) % 3 + 7),
])
def test_holdout_label_types(labels):
    train, val = holdout_indices(labels, 1 / 3, seed=0)
    y = np.asarray(labels)
    check_partition([train, val], 90)
    values, counts = np.unique(y[val], return_counts=True)
    ideal = {v: c / 3 for v, c in zip(*np.unique(y, return_counts=True))}
    for v, c in zip(values, counts):
        assert abs(c - ideal[v]) < 1


def test_holdout_two_dimensional_y_plain_shuffle():
    y = np.random.default_rng(0).normal(size=(50, 3))     # regression targets
    train, val = holdout_indices(y, 0.2, seed=4)
    assert len(val) == 10
    check_partition([train, val], 50)
    np.testing.assert_array_equal(val, holdout_indices(y, 0.2, seed=4,
                                                       stratify=False)[1])
    # a plain split ignores the values: any other 2-D y of the same length gives
    # the same indices, and they are not simply the first or last rows
    np.testing.assert_array_equal(val, holdout_indices(np.zeros((50, 1)), 0.2, seed=4)[1])
    assert not np.array_equal(val, np.arange(10))
    assert not np.array_equal(val, np.arange(40, 50))


def test_holdout_continuous_y_needs_stratify_false():
    y = np.linspace(0, 1, 20)
    with pytest.raises(ValueError, match="continuous values.*pass stratify=False"):
        holdout_indices(y, 0.2)
    with pytest.raises(ValueError, match="continuous"):
        holdout_indices(np.array([0.0, 1.0, np.nan, 1.0]), 0.5)
    train, val = holdout_indices(y, 0.2, stratify=False)
    assert len(val) == 4


@pytest.mark.parametrize("bad, error, message", [
    (1.0, ValueError, r"fraction must be in \[0, 1\), got 1.0"),
    (-0.1, ValueError, r"fraction must be in \[0, 1\), got -0.1"),
    (float("nan"), ValueError, r"fraction must be in \[0, 1\), got nan"),
    ("0.2", TypeError, r"fraction must be a number in \[0, 1\), got '0.2'"),
    (True, TypeError, r"fraction must be a number"),
])
def test_holdout_bad_fraction(bad, error, message):
    with pytest.raises(error, match=message):
        holdout_indices([0, 1, 0, 1], bad)


def test_holdout_bad_y_and_seed():
    with pytest.raises(ValueError, match="y must contain at least one sample, got 0"):
        holdout_indices([], 0.2)
    with pytest.raises(ValueError, match="y must be an array of samples"):
        holdout_indices(3, 0.2)
    with pytest.raises(ValueError, match="seed must be a non-negative int or None, "
                                         "got -1"):
        holdout_indices([0, 1], 0.5, seed=-1)
    with pytest.raises(TypeError, match="seed must be"):
        holdout_indices([0, 1], 0.5, seed=1.5)
    with pytest.raises(TypeError, match="comparable"):
        holdout_indices(np.array([1, "a", 2.5, None], dtype=object), 0.5)


# ---------------------------------------------------------------------------
# split
# ---------------------------------------------------------------------------

def row_ids(X_part):
    return X_part[:, 0].astype(int)


def test_split_sizes_and_rows():
    n = 103
    X = np.c_[np.arange(n), np.arange(n) * 2.0]
    y = np.arange(n) % 4
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = split(X, y, val=0.2, test=0.1, seed=0)
    assert (len(X_va), len(X_te), len(X_tr)) == (round(0.2 * n), round(0.1 * n),
                                                 n - 21 - 10)
    ids = [row_ids(X_tr), row_ids(X_va), row_ids(X_te)]
    check_partition([i.astype(np.int64) for i in ids], n)
    for Xp, yp, i in [(X_tr, y_tr, ids[0]), (X_va, y_va, ids[1]), (X_te, y_te, ids[2])]:
        np.testing.assert_array_equal(yp, y[i])              # rows stay paired
        np.testing.assert_array_equal(Xp[:, 1], 2.0 * i)


def test_split_stratified_within_one_sample_random_cases(monkeypatch):
    # also counts how often the greedy rounding needed the exchange-chain repair,
    # so that this test is known to exercise it
    calls = []
    original = hd._augment
    monkeypatch.setattr(hd, "_augment", lambda *a: calls.append(1) or original(*a))
    rng = np.random.default_rng(7)
    for _ in range(300):
        counts = rng.integers(1, 30, size=rng.integers(2, 9))
        y = np.repeat(np.arange(counts.size), counts)
        n = len(y)
        val, test = rng.uniform(0, 0.45, size=2)
        try:
            parts = split(np.zeros((n, 1)), y, val=val, test=test,
                          seed=int(rng.integers(1000)))
        except ValueError as exc:
            assert "training part would hold" in str(exc)
            continue
        sizes = np.array([len(p[1]) for p in parts])
        assert sizes.sum() == n
        assert sizes[1] == max(round(val * n), 1 if val > 0 else 0)
        assert sizes[2] == max(round(test * n), 1 if test > 0 else 0)
        table = np.array([np.bincount(p[1], minlength=counts.size) for p in parts]).T
        np.testing.assert_array_equal(table.sum(axis=1), counts)
        assert np.all(table[counts >= 2, 0] >= 1)
        ideal = np.outer(counts, sizes) / n
        if np.all(ideal[counts >= 2, 0] >= 1):   # the train rule never had to act
            assert np.all(np.abs(table - ideal) < 1), (counts, sizes, table)
    assert len(calls) > 0


def test_split_digit_like_proportions():
    y = np.repeat(np.arange(10), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    X = np.arange(len(y))[:, None]
    parts = split(X, y, val=0.15, test=0.15, seed=0)
    for (Xp, yp), share in zip(parts, [0.7, 0.15, 0.15]):
        ideal = np.bincount(y) * len(yp) / len(y)
        assert np.all(np.abs(np.bincount(yp, minlength=10) - ideal) < 1)


def test_split_empty_parts_keep_shape():
    X = np.ones((20, 3))
    y = np.ones((20, 2))
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = split(X, y, val=0.0, test=0.25,
                                                     stratify=False)
    assert X_va.shape == (0, 3) and y_va.shape == (0, 2)
    assert X_tr.shape == (15, 3) and X_te.shape == (5, 3)
    (_, _), (X_va, y_va), (X_te, y_te) = split(X, np.arange(20) % 2, val=0.1, test=0.0)
    assert X_te.shape == (0, 3) and y_te.shape == (0,) and X_va.shape == (2, 3)


def test_split_accepts_lists_and_strings():
    X = [[i, -i] for i in range(12)]
    y = ["a", "b", "c"] * 4
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = split(X, y, val=0.25, test=0.25)
    assert isinstance(X_tr, np.ndarray) and X_tr.shape == (6, 2)
    assert sorted(y_va.tolist()) == ["a", "b", "c"]
    assert sorted(y_te.tolist()) == ["a", "b", "c"]


def test_split_deterministic_for_a_seed():
    X = np.arange(100)[:, None]
    y = np.arange(100) % 5
    a = split(X, y, seed=1)
    b = split(X, y, seed=1)
    c = split(X, y, seed=2)
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa[0], pb[0])
    assert not np.array_equal(a[1][0], c[1][0])


def test_split_regression_needs_stratify_false():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 2)), rng.normal(size=40)
    with pytest.raises(ValueError, match="pass stratify=False"):
        split(X, y)
    parts = split(X, y, stratify=False)
    assert [len(p[0]) for p in parts] == [28, 6, 6]


def test_split_errors():
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="X and y must have the same number of samples, "
                                         "got 10 and 9"):
        split(X, y[:9])
    with pytest.raises(ValueError, match=r"val \+ test must be < 1, got 0.6 \+ 0.4"):
        split(X, y, val=0.6, test=0.4)
    with pytest.raises(ValueError, match=r"val must be in \[0, 1\), got 1.0"):
        split(X, y, val=1.0, test=0.0)
    with pytest.raises(ValueError, match=r"test must be in \[0, 1\), got -0.5"):
        split(X, y, test=-0.5)
    with pytest.raises(ValueError, match="not enough samples: 2 samples give 1 for "
                                         "validation and 1 for test"):
        split(np.zeros((2, 1)), [0, 1], val=0.1, test=0.1)
    with pytest.raises(ValueError, match="X must be an array of samples"):
        split(5, [1])
