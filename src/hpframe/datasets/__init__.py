r"""Data sets for learning and practice: one small real set and six generators.

* :func:`load_digits` -- 1,797 handwritten digits as 8x8 images (UCI, CC BY 4.0),
  bundled so everything runs offline; :func:`describe` prints its story, source,
  licence and citation.
* :func:`make_spirals`, :func:`make_moons`, :func:`make_circles`, :func:`make_xor`,
  :func:`make_blobs` -- 2-D (or n-D) classification sets whose difficulty you
  control, for seeing what a hidden layer, dropout or a learning rate does.
* :func:`make_regression` -- a smooth nonlinear regression target.

Every generator is seeded (``seed=0`` by default, ``numpy.random.default_rng``), so
the same call gives the same data, and returns ``(X, y)`` with ``X`` float64 and,
for classification, ``y`` int64 labels ``0..n_classes-1`` in shuffled order.
"""
import io
import numbers
from importlib import resources

import numpy as np

from hpframe._validation import check_float, check_int, check_seed

__all__ = ["load_digits", "make_spirals", "make_moons", "make_circles", "make_xor",
           "make_blobs", "make_regression", "describe"]

_DESCRIPTIONS = ("digits",)


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------

def _check_int(name, value, minimum):
    return check_int(name, value, minimum)


def _check_real(name, value, minimum=0.0, strict=False):
    """A finite number >= minimum (> minimum when ``strict``)."""
    return check_float(name, value, float(minimum), low_open=strict)


def _rng(seed):
    return np.random.default_rng(check_seed(seed))


def _shuffled(X, y, rng):
    """``(X, y)`` with their rows in the order of a permutation drawn from ``rng``."""
    order = rng.permutation(len(y))
    return X[order], y[order]


def _class_sizes(n_samples, n_classes):
    """Split n_samples as evenly as possible; the first classes get the extra ones."""
    sizes = np.full(n_classes, n_samples // n_classes)
    sizes[: n_samples % n_classes] += 1
    return sizes


# ---------------------------------------------------------------------------
# the bundled real data set
# ---------------------------------------------------------------------------

def describe(name):
    """Return the description of a bundled data set (source, licence, citation).

    Parameters
    ----------
    name : str
        The data set; currently only ``"digits"``.

    Returns
    -------
    str
        The description, in reStructuredText.

    Examples
    --------
    >>> from hpframe.datasets import describe
    >>> text = describe("digits")
    >>> "CC BY 4.0" in text and "10.24432/C50P49" in text
    True
    """
    if name not in _DESCRIPTIONS:
        raise ValueError(f"name must be one of {list(_DESCRIPTIONS)}, got {name!r}")
    return (resources.files(__name__) / "descr" / f"{name}.rst").read_text("utf-8")


def load_digits(scaled=True):
    """Load the UCI handwritten digits: 1,797 images of 8x8 pixels, 10 classes.

    The test set of *Optical Recognition of Handwritten Digits* by E. Alpaydin and
    C. Kaynak (UCI Machine Learning Repository, 1998,
    https://doi.org/10.24432/C50P49), licensed CC BY 4.0; the same images that
    scikit-learn's ``load_digits`` returns, bundled with hpframe so that no
    download (and no scikit-learn) is needed. ``describe("digits")`` gives the
    full description and citation.

    Parameters
    ----------
    scaled : bool, default=True
        Divide the pixel counts (integers 0..16) by 16, so that features lie in
        [0, 1]. ``False`` returns the raw counts (still float64).

    Returns
    -------
    X : ndarray of shape (1797, 64), float64
        One image per row, rows of the 8x8 image first (``X[i].reshape(8, 8)``).
    y : ndarray of shape (1797,), int64
        The digit, 0..9 (about 180 of each).

    Examples
    --------
    >>> from hpframe.datasets import load_digits
    >>> X, y = load_digits()
    >>> X.shape, y.shape, float(X.max()), int(y.max())
    ((1797, 64), (1797,), 1.0, 9)
    """
    if not isinstance(scaled, (bool, np.bool_)):
        raise TypeError(f"scaled must be True or False, got {scaled!r}")
    raw = (resources.files(__name__) / "data" / "digits.npz").read_bytes()
    with np.load(io.BytesIO(raw), allow_pickle=False) as f:
        X = f["data"].astype(np.float64)
        y = f["target"].astype(np.int64)
    if scaled:
        X /= 16.0
    return X, y


# ---------------------------------------------------------------------------
# synthetic generators
# ---------------------------------------------------------------------------

def make_spirals(n_samples=300, n_classes=3, noise=0.2, turns=1.0, seed=0):
    r"""Interleaved spiral arms, one per class: the classic set that needs a hidden layer.

    Class :math:`k` of :math:`K` has :math:`m_k` points (the classes share
    ``n_samples`` as evenly as possible). Its :math:`i`-th point
    (:math:`i = 0, \dots, m_k - 1`) lies at radius :math:`r` and angle
    :math:`\theta`:

    .. math::

        r = \frac{i + 1}{m_k}, \qquad
        \theta = 2\pi\left(\text{turns}\cdot r + \frac{k}{K}\right)
                 + \text{noise}\cdot\varepsilon, \qquad
        x = (r\cos\theta,\; r\sin\theta),

    with :math:`\varepsilon \sim N(0, 1)`. So the arms start near the origin, wind
    ``turns`` times around it as they grow to radius 1, and are rotated by
    :math:`2\pi/K` from each other. No straight line separates them.

    Parameters
    ----------
    n_samples : int, default=300
        Total number of points, >= 1.
    n_classes : int, default=3
        Number of arms (classes), >= 2.
    noise : float, default=0.2
        Standard deviation of the Gaussian noise on the angle, in radians (>= 0);
        larger values blur the arms into each other.
    turns : float, default=1.0
        How many full turns each arm makes (> 0); more turns are harder to learn.
    seed : int or None, default=0
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        Class labels 0..n_classes-1, rows in shuffled order.

    Examples
    --------
    >>> import numpy as np
    >>> from hpframe.datasets import make_spirals
    >>> X, y = make_spirals(n_samples=300, n_classes=3)
    >>> X.shape, [int(c) for c in np.bincount(y)]
    ((300, 2), [100, 100, 100])
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    n_classes = _check_int("n_classes", n_classes, 2)
    noise = _check_real("noise", noise)
    turns = _check_real("turns", turns, strict=True)
    rng = _rng(seed)
    sizes = _class_sizes(n_samples, n_classes)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), sizes)
    # position along the arm: (i + 1) / m_k for the i-th point of class k
    start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    r = (np.arange(n_samples) - start + 1) / sizes[y]
    theta = 2 * np.pi * (turns * r + y / n_classes) + noise * rng.standard_normal(n_samples)
    X = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    return _shuffled(X, y, rng)


def make_moons(n_samples=200, noise=0.1, seed=0):
    r"""Two interleaving half circles ("moons"), a two-class nonlinear problem.

    Class 0 is the upper half of the unit circle around :math:`(0, 0)`; class 1 the
    lower half of the unit circle around :math:`(1, \tfrac12)`:

    .. math::

        x_0(t) = (\cos t,\; \sin t), \qquad
        x_1(t) = (1 - \cos t,\; \tfrac12 - \sin t), \qquad t \in [0, \pi],

    with :math:`t` evenly spaced over each class's points, plus Gaussian noise of
    standard deviation ``noise`` on both coordinates.

    Parameters
    ----------
    n_samples : int, default=200
        Total number of points, >= 1; class 0 gets the odd one out.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to each coordinate (>= 0).
    seed : int or None, default=0
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        Labels 0 and 1, rows in shuffled order.

    Examples
    --------
    >>> from hpframe.datasets import make_moons
    >>> X, y = make_moons(n_samples=100, noise=0.0)
    >>> X.shape, int(y.sum())
    ((100, 2), 50)
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    noise = _check_real("noise", noise)
    rng = _rng(seed)
    n0, n1 = _class_sizes(n_samples, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.concatenate([np.column_stack([np.cos(t0), np.sin(t0)]),
                        np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])])
    X += noise * rng.standard_normal(X.shape)
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _shuffled(X, y, rng)


def make_circles(n_samples=300, noise=0.1, factor=0.5, seed=0):
    r"""Two concentric rings: class 0 outside (radius 1), class 1 inside (radius ``factor``).

    Point :math:`i` of a class of :math:`m` points sits at angle
    :math:`2\pi i / m` on its ring, plus Gaussian noise of standard deviation
    ``noise`` on both coordinates. No straight line separates the classes.

    Parameters
    ----------
    n_samples : int, default=300
        Total number of points, >= 2; the outer ring gets the odd one out.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise (>= 0).
    factor : float, default=0.5
        Radius of the inner ring, in (0, 1).
    seed : int or None, default=0
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        Labels 0 and 1, rows in shuffled order.

    Examples
    --------
    >>> from hpframe.datasets import make_circles
    >>> import numpy as np
    >>> X, y = make_circles(100, noise=0.0)
    >>> np.round(np.hypot(X[:, 0], X[:, 1]), 6)[y == 1].max().item()
    0.5
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    noise = _check_real("noise", noise)
    factor = _check_real("factor", factor, 0.0, strict=True)
    if factor >= 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = _rng(seed)
    parts, labels = [], []
    for k, (m, radius) in enumerate(zip(_class_sizes(n_samples, 2), (1.0, factor))):
        t = 2 * np.pi * np.arange(m) / m
        parts.append(radius * np.column_stack([np.cos(t), np.sin(t)]))
        labels.append(np.full(m, k, dtype=np.int64))
    X, y = np.concatenate(parts), np.concatenate(labels)
    X += noise * rng.standard_normal(X.shape)
    return _shuffled(X, y, rng)


def make_xor(n_samples=300, noise=0.1, seed=0):
    r"""The XOR problem: class 1 where exactly one coordinate is positive.

    Points are uniform on :math:`[-1, 1]^2`, labelled :math:`[x_0 x_1 < 0]` from
    the noise-free point, then moved by Gaussian noise of standard deviation
    ``noise``. A network without a hidden layer cannot learn it.

    Parameters
    ----------
    n_samples : int, default=300
        Number of points, >= 2.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise (>= 0).
    seed : int or None, default=0
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        Labels 0 and 1.

    Examples
    --------
    >>> from hpframe.datasets import make_xor
    >>> import numpy as np
    >>> X, y = make_xor(200, noise=0.0)
    >>> bool(((X[:, 0] * X[:, 1] < 0) == (y == 1)).all())
    True
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    noise = _check_real("noise", noise)
    rng = _rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] < 0).astype(np.int64)
    X += noise * rng.standard_normal(X.shape)
    return X, y


def make_blobs(n_samples=300, n_features=2, centers=3, cluster_std=1.0, seed=0):
    r"""Gaussian blobs around a few centres: the easy, (nearly) linearly separable case.

    Point :math:`i` of class :math:`k` is :math:`x = c_k + \sigma_k \varepsilon` with
    :math:`\varepsilon \sim N(0, I)`; the classes share ``n_samples`` as evenly as
    possible.

    Parameters
    ----------
    n_samples : int, default=300
        Total number of points, >= 1.
    n_features : int, default=2
        Dimension of each point, >= 1.
    centers : int or array-like of shape (n_centers, n_features), default=3
        The number of centres, drawn uniformly from the box
        :math:`[-10, 10]^{n\_features}`, or the centres themselves (their width must
        equal ``n_features``).
    cluster_std : float or array-like of shape (n_centers,), default=1.0
        Standard deviation of each blob (>= 0), one for all or one per centre.
    seed : int or None, default=0
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64
        The index of each point's centre, rows in shuffled order.

    Examples
    --------
    >>> from hpframe.datasets import make_blobs
    >>> X, y = make_blobs(n_samples=4, centers=[[0.0, 0.0], [5.0, 5.0]], cluster_std=0.0)
    >>> X[y == 1].tolist()
    [[5.0, 5.0], [5.0, 5.0]]
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    n_features = _check_int("n_features", n_features, 1)
    rng = _rng(seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, (bool, np.bool_)):
        n_centers = _check_int("centers", centers, 1)
        centers = rng.uniform(-10.0, 10.0, size=(n_centers, n_features))
    else:
        try:
            centers = np.array(centers, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("centers must be an int >= 1 or an array of shape "
                            f"(n_centers, n_features), got {centers!r}") from None
        if centers.ndim != 2 or centers.shape[0] < 1:
            raise ValueError("centers must be an int >= 1 or an array of shape "
                             f"(n_centers, n_features), got shape {centers.shape}")
        if centers.shape[1] != n_features:
            raise ValueError(f"centers has {centers.shape[1]} columns but "
                             f"n_features={n_features}; pass n_features="
                             f"{centers.shape[1]}")
        if not np.all(np.isfinite(centers)):
            raise ValueError("centers must be finite, got NaN or inf")
    n_centers = centers.shape[0]
    if np.ndim(cluster_std) == 0:
        std = np.full(n_centers, _check_real("cluster_std", cluster_std))
    else:
        std = np.asarray(cluster_std, dtype=np.float64)
        if std.shape != (n_centers,) or not np.all(np.isfinite(std) & (std >= 0)):
            raise ValueError(f"cluster_std must be a number >= 0 or {n_centers} such "
                             f"numbers (one per centre), got {cluster_std!r}")
    y = np.repeat(np.arange(n_centers, dtype=np.int64), _class_sizes(n_samples, n_centers))
    X = centers[y] + std[y, None] * rng.standard_normal((n_samples, n_features))
    return _shuffled(X, y, rng)


def make_regression(n_samples=200, n_features=4, noise=0.1, n_targets=1, seed=0):
    r"""A smooth nonlinear regression problem, where an MLP beats a linear model.

    Features are uniform, :math:`X_{ij} \sim U(-1, 1)`. Each target :math:`j` has two
    random unit directions :math:`a_j, b_j \in \mathbb{R}^{n\_features}` (normalised
    Gaussian vectors, drawn from the seed) and is

    .. math::

        y_j = \sin\!\left(\pi\, a_j^\top x\right) + \left(b_j^\top x\right)^2
              + \text{noise}\cdot\varepsilon_j, \qquad \varepsilon_j \sim N(0, 1).

    The sine is only partly captured by a straight line and the square not at all,
    so a linear model leaves much of the variance unexplained while a network with
    a hidden layer can fit it down to the noise. With one feature this is simply
    :math:`\pm\sin(\pi x) + x^2`. The noise is drawn last, so the same seed with a
    different ``noise`` gives the same ``X`` and the same noise-free targets.

    Parameters
    ----------
    n_samples : int, default=200
        Number of samples, >= 1.
    n_features : int, default=4
        Number of features, >= 1.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to each target (>= 0).
    n_targets : int, default=1
        Number of targets, >= 1.
    seed : int or None, default=0
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,) if n_targets == 1, else (n_samples, n_targets)
        float64.

    Examples
    --------
    >>> from hpframe.datasets import make_regression
    >>> X, y = make_regression(n_samples=50, n_features=3)
    >>> X.shape, y.shape
    ((50, 3), (50,))
    >>> make_regression(n_samples=50, n_targets=2)[1].shape
    (50, 2)
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    n_features = _check_int("n_features", n_features, 1)
    noise = _check_real("noise", noise)
    n_targets = _check_int("n_targets", n_targets, 1)
    rng = _rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, n_features))
    a = rng.standard_normal((n_features, n_targets))
    b = rng.standard_normal((n_features, n_targets))
    a /= np.linalg.norm(a, axis=0)
    b /= np.linalg.norm(b, axis=0)
    y = np.sin(np.pi * (X @ a)) + (X @ b) ** 2
    y += noise * rng.standard_normal(y.shape)
    return X, (y[:, 0] if n_targets == 1 else y)
