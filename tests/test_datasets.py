"""Tests for hpframe.datasets: the bundled digits and the seeded generators."""
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import hpframe
import hpframe.datasets as ds
from hpframe.datasets import (describe, load_digits, make_blobs, make_moons,
                              make_regression, make_spirals)

# Known facts about the UCI optdigits test set (1,797 images), per digit 0..9.
DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
DIGIT_PIXEL_SUM = 561718


def test_public_names():
    assert sorted(ds.__all__) == sorted(["load_digits", "make_spirals", "make_moons",
                                         "make_circles", "make_xor", "make_blobs",
                                         "make_regression", "describe"])


# ---------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------

def test_digits_shapes_dtypes_range():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    raw, y_raw = load_digits(scaled=False)
    assert raw.dtype == np.float64 and raw.min() == 0 and raw.max() == 16
    assert np.array_equal(raw, np.round(raw))             # pixel counts are integers
    np.testing.assert_array_equal(X * 16, raw)
    np.testing.assert_array_equal(y, y_raw)


def test_digits_class_counts_and_checksum():
    X, y = load_digits(scaled=False)
    assert np.bincount(y, minlength=10).tolist() == DIGIT_COUNTS
    assert len(y) == 1797
    assert int(X.sum()) == DIGIT_PIXEL_SUM


def test_digits_match_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets")
    theirs = datasets.load_digits()
    X, y = load_digits(scaled=False)
    np.testing.assert_array_equal(X, theirs.data)
    np.testing.assert_array_equal(y, theirs.target)
    assert X.sum() == theirs.data.sum()


def test_digits_returns_fresh_arrays():
    X1, y1 = load_digits()
    X1[:] = -1
    y1[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0.0 and y2.min() == 0


def test_digits_nearest_centroid_is_useful():
    # An oracle of usefulness: a model with no hyperparameters at all already
    # separates the digits well, so the labels match the images.
    from hpframe.data import split
    X, y = load_digits()
    (X_tr, y_tr), _, (X_te, y_te) = split(X, y, val=0.0, test=0.3, seed=0)
    centroids = np.stack([X_tr[y_tr == k].mean(axis=0) for k in range(10)])
    dist = ((X_te[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    accuracy = np.mean(np.argmin(dist, axis=1) == y_te)
    assert accuracy > 0.85


def test_digits_image_layout():
    # rows of the 8x8 image come first: the first image (a zero) has blank
    # left and right borders and ink in the middle columns of its top row
    X, y = load_digits(scaled=False)
    assert y[0] == 0
    img = X[0].reshape(8, 8)
    assert img[:, 0].sum() == 0 and img[0, 2:6].sum() > 0


def test_digits_file_is_small_and_safe():
    path = resources.files("hpframe.datasets") / "data" / "digits.npz"
    data = path.read_bytes()
    assert len(data) < 300_000
    import io
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        assert sorted(f.files) == ["data", "target"]
        assert f["data"].dtype == np.uint8 and f["data"].shape == (1797, 64)


def test_digits_load_without_scikit_learn():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "from hpframe.datasets import load_digits\n"
            "X, y = load_digits(); assert X.shape == (1797, 64); print('ok')")
    # run next to the hpframe this test imported (the installed one in CI, not the
    # uncompiled source tree that the current folder may hold)
    root = Path(hpframe.__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root)
    assert out.stdout.strip() == "ok"


def test_describe_digits():
    text = describe("digits")
    for fact in ["1,797", "CC BY 4.0", "Alpaydin", "Kaynak", "10.24432/C50P49",
                 "archive.ics.uci.edu", "0 to 16"]:
        assert fact in text
    assert "describe" in load_digits.__doc__ and "CC BY 4.0" in load_digits.__doc__


def test_describe_unknown_name():
    with pytest.raises(ValueError, match=r"name must be one of \['digits'\], got 'iris'"):
        describe("iris")


def test_load_digits_bad_scaled():
    with pytest.raises(TypeError, match="scaled must be True or False"):
        load_digits(scaled="yes")


# ---------------------------------------------------------------------------
# generators: common behaviour
# ---------------------------------------------------------------------------

GENERATORS = [make_spirals, make_moons, make_blobs, make_regression]


@pytest.mark.parametrize("make", GENERATORS)
def test_same_seed_same_data_other_seed_other_data(make):
    X1, y1 = make(seed=3)
    X2, y2 = make(seed=3)
    X3, _ = make(seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)
    assert X1.dtype == np.float64 and np.all(np.isfinite(X1))
    X4, _ = make(seed=None)         # fresh entropy works too
    assert X4.shape == X1.shape


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("bad, error", [(0, ValueError), (-5, ValueError),
                                        (1.5, TypeError), (True, TypeError)])
def test_bad_n_samples(make, bad, error):
    with pytest.raises(error, match=f"n_samples must be an integer >= 1, got {bad!r}"):
        make(n_samples=bad)


@pytest.mark.parametrize("make", GENERATORS)
def test_bad_seed(make):
    with pytest.raises(ValueError, match="seed must be a non-negative int or None"):
        make(seed=-1)
    with pytest.raises(TypeError, match="seed must be a non-negative int or None"):
        make(seed="0")


@pytest.mark.parametrize("make", [make_spirals, make_moons, make_regression])
@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_noise(make, bad):
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        make(noise=bad)


# ---------------------------------------------------------------------------
# spirals
# ---------------------------------------------------------------------------

def test_spirals_shapes_and_balance():
    X, y = make_spirals(n_samples=301, n_classes=4)
    assert X.shape == (301, 2) and y.shape == (301,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [76, 75, 75, 75]
    assert len(np.unique(y[:20])) > 1            # rows are shuffled


@pytest.mark.parametrize("n_classes, turns", [(3, 1.0), (2, 1.5), (5, 0.5)])
def test_spirals_noise_free_geometry(n_classes, turns):
    X, y = make_spirals(n_samples=200, n_classes=n_classes, noise=0.0, turns=turns)
    r = np.hypot(X[:, 0], X[:, 1])
    theta = np.arctan2(X[:, 1], X[:, 0])
    for k in range(n_classes):
        rk = np.sort(r[y == k])
        m = rk.size
        # evenly spaced radii increasing along the arm, from 1/m out to 1
        np.testing.assert_allclose(rk, np.arange(1, m + 1) / m)
        # angle winds with radius: theta = 2 pi (turns r + k / K) (mod 2 pi)
        expected = 2 * np.pi * (turns * r[y == k] + k / n_classes)
        diff = np.angle(np.exp(1j * (theta[y == k] - expected)))
        np.testing.assert_allclose(diff, 0.0, atol=1e-9)


def test_spirals_noise_moves_the_angle_only():
    X0, y0 = make_spirals(noise=0.0, seed=5)
    X1, y1 = make_spirals(noise=0.3, seed=5)
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_allclose(np.hypot(*X0.T), np.hypot(*X1.T))
    dtheta = np.angle(np.exp(1j * (np.arctan2(X1[:, 1], X1[:, 0])
                                   - np.arctan2(X0[:, 1], X0[:, 0]))))
    assert abs(dtheta.std() - 0.3) < 0.05


def test_spirals_need_a_hidden_layer():
    # a linear least-squares classifier is near chance; 5-nearest neighbours is not
    X, y = make_spirals(n_samples=600, seed=1)
    A = np.c_[X, np.ones(len(X))]
    W = np.linalg.lstsq(A, np.eye(3)[y], rcond=None)[0]
    assert np.mean(np.argmax(A @ W, axis=1) == y) < 0.6
    tr, te = np.arange(0, 600, 2), np.arange(1, 600, 2)
    d = ((X[te, None, :] - X[None, tr, :]) ** 2).sum(-1)
    votes = y[tr][np.argsort(d, axis=1)[:, :5]]
    pred = np.array([np.bincount(v, minlength=3).argmax() for v in votes])
    assert np.mean(pred == y[te]) > 0.9


def test_spirals_errors():
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2, got 1"):
        make_spirals(n_classes=1)
    with pytest.raises(ValueError, match="turns must be a finite number > 0, got 0.0"):
        make_spirals(turns=0)
    with pytest.raises(TypeError, match="turns must be a number > 0"):
        make_spirals(turns="1")


# ---------------------------------------------------------------------------
# moons
# ---------------------------------------------------------------------------

def test_moons_shapes_and_balance():
    X, y = make_moons(n_samples=101)
    assert X.shape == (101, 2) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [51, 50]


def test_moons_noise_free_on_half_circles():
    X, y = make_moons(n_samples=200, noise=0.0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.all(upper[:, 1] >= -1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert np.all(lower[:, 1] <= 0.5 + 1e-12)
    # the ends of each arc are included
    assert np.isclose(upper[:, 0].min(), -1) and np.isclose(upper[:, 0].max(), 1)
    assert np.isclose(lower[:, 0].min(), 0) and np.isclose(lower[:, 0].max(), 2)


def test_moons_noise_standard_deviation():
    X0, y0 = make_moons(n_samples=2000, noise=0.0, seed=2)
    X1, y1 = make_moons(n_samples=2000, noise=0.1, seed=2)
    np.testing.assert_array_equal(y0, y1)
    assert abs((X1 - X0).std() - 0.1) < 0.005
    assert abs((X1 - X0).mean()) < 0.01


# ---------------------------------------------------------------------------
# blobs
# ---------------------------------------------------------------------------

def test_blobs_shapes_and_balance():
    X, y = make_blobs(n_samples=100, n_features=5, centers=3)
    assert X.shape == (100, 5) and y.shape == (100,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [34, 33, 33]


def test_blobs_given_centres_and_stds():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X, y = make_blobs(n_samples=30_000, centers=centers, cluster_std=[0.5, 1.0, 2.0],
                      seed=1)
    for k, std in enumerate([0.5, 1.0, 2.0]):
        pts = X[y == k]
        np.testing.assert_allclose(pts.mean(axis=0), centers[k], atol=0.1)
        np.testing.assert_allclose(pts.std(axis=0), std, rtol=0.05)


def test_blobs_random_centres_in_box():
    X, y = make_blobs(n_samples=40, n_features=3, centers=4, cluster_std=0.0)
    for k in range(4):
        pts = X[y == k]
        assert np.all(pts == pts[0])                  # std 0: every point is the centre
        assert np.all(np.abs(pts[0]) <= 10)


def test_blobs_errors():
    with pytest.raises(ValueError, match="centers has 3 columns but n_features=2; "
                                         "pass n_features=3"):
        make_blobs(centers=[[0, 0, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match="centers must be an integer >= 1"):
        make_blobs(centers=0)
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        make_blobs(centers=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="centers must be finite"):
        make_blobs(centers=[[0, np.nan], [1, 1]])
    with pytest.raises(ValueError, match="cluster_std must be a finite number >= 0"):
        make_blobs(cluster_std=-1.0)
    with pytest.raises(ValueError, match="cluster_std must be a number >= 0 or 3"):
        make_blobs(cluster_std=[1.0, 2.0])
    with pytest.raises(ValueError, match="n_features must be an integer >= 1, got 0"):
        make_blobs(n_features=0)


# ---------------------------------------------------------------------------
# regression
# ---------------------------------------------------------------------------

def test_regression_shapes():
    X, y = make_regression(n_samples=30, n_features=6)
    assert X.shape == (30, 6) and y.shape == (30,) and y.dtype == np.float64
    X, y = make_regression(n_samples=30, n_targets=3)
    assert X.shape == (30, 4) and y.shape == (30, 3)
    assert np.all(np.abs(X) <= 1)


def test_regression_one_feature_formula():
    # with one feature the unit directions are +-1: y = +-sin(pi x) + x^2
    X, y = make_regression(n_samples=100, n_features=1, noise=0.0, seed=7)
    x = X[:, 0]
    plus, minus = np.sin(np.pi * x) + x ** 2, -np.sin(np.pi * x) + x ** 2
    assert np.allclose(y, plus) or np.allclose(y, minus)


def test_regression_noise_is_added_last():
    X0, y0 = make_regression(n_samples=5000, noise=0.0, n_targets=2, seed=3)
    X1, y1 = make_regression(n_samples=5000, noise=0.5, n_targets=2, seed=3)
    np.testing.assert_array_equal(X0, X1)
    assert abs((y1 - y0).std() - 0.5) < 0.02


def _r2(y, pred):
    return 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)


def test_regression_is_nonlinear():
    # linear least squares explains little; 10-nearest neighbours explains most
    X, y = make_regression(n_samples=2000, noise=0.0, seed=0)
    tr, te = slice(0, 1500), slice(1500, None)
    A = np.c_[X, np.ones(len(X))]
    w = np.linalg.lstsq(A[tr], y[tr], rcond=None)[0]
    linear = _r2(y[te], A[te] @ w)
    d = ((X[te][:, None, :] - X[tr][None]) ** 2).sum(-1)
    knn = _r2(y[te], y[tr][np.argsort(d, axis=1)[:, :10]].mean(axis=1))
    assert linear < 0.5 and knn > 0.85


def test_regression_errors():
    with pytest.raises(ValueError, match="n_targets must be an integer >= 1, got 0"):
        make_regression(n_targets=0)
    with pytest.raises(TypeError, match="n_features must be an integer >= 1, got 2.0"):
        make_regression(n_features=2.0)
