r"""The playground's data sets: five 2-D classification sets and a 1-D regression.

Moons, circles, spirals, XOR and blobs come from :mod:`hpframe.datasets` (circles
and XOR are imported here too, where they were first defined); the 1-D curve is
generated here, seeded the same way (``numpy.random.default_rng``).
Every set is a pure function of ``(n_samples, noise, seed)``, so the code the
playground shows (:func:`code_lines`) rebuilds the very same arrays.

This module needs only NumPy: the shown code imports it without the web extra.
"""
import numpy as np

from hpframe import datasets as _hpdata
from hpframe.datasets import _check_int, _check_real, _rng, make_circles, make_xor

__all__ = ["NAMES", "CLASSIFICATION", "make_circles", "make_xor", "make_curve", "load",
           "code_lines"]

#: the data sets, in the order the playground lists them
NAMES = ("moons", "circles", "spirals", "xor", "blobs", "regression")
#: the classification sets (the rest are regression)
CLASSIFICATION = ("moons", "circles", "spirals", "xor", "blobs")


def make_curve(n_samples=200, noise=0.1, seed=0):
    r"""A 1-D regression: :math:`y = \sin(\pi x) + x^2/2 + \text{noise}\cdot\varepsilon`.

    :math:`x` is uniform on :math:`[-1.5, 1.5]` and :math:`\varepsilon \sim N(0, 1)`.

    Parameters
    ----------
    n_samples : int, default=200
        Number of points, >= 2.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise on ``y`` (>= 0).
    seed : int or None, default=0
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, 1), float64
    y : ndarray of shape (n_samples,), float64

    Examples
    --------
    >>> from hpframe.playground.datasets import make_curve
    >>> import numpy as np
    >>> X, y = make_curve(50, noise=0.0)
    >>> bool(np.allclose(y, np.sin(np.pi * X[:, 0]) + X[:, 0] ** 2 / 2))
    True
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    noise = _check_real("noise", noise)
    rng = _rng(seed)
    x = rng.uniform(-1.5, 1.5, size=n_samples)
    y = np.sin(np.pi * x) + x ** 2 / 2 + noise * rng.standard_normal(n_samples)
    return x.reshape(-1, 1), y


def _blobs(n_samples, noise, seed):
    # noise is the playground's single difficulty knob: for blobs it scales the
    # clusters' spread (cluster_std = 4 * noise, so the default 0.2 gives 0.8)
    return _hpdata.make_blobs(n_samples=n_samples, n_features=2, centers=3,
                              cluster_std=4 * noise, seed=seed)


def _calls(name, n_samples, noise, seed):
    """(callable, the Python that calls it) for one data set."""
    if name == "moons":
        return (lambda: _hpdata.make_moons(n_samples=n_samples, noise=noise, seed=seed),
                f"hp.datasets.make_moons(n_samples={n_samples}, noise={noise!r}, seed={seed})")
    if name == "spirals":
        return (lambda: _hpdata.make_spirals(n_samples=n_samples, n_classes=3, noise=noise,
                                             seed=seed),
                f"hp.datasets.make_spirals(n_samples={n_samples}, n_classes=3, "
                f"noise={noise!r}, seed={seed})")
    if name == "blobs":
        std = 4 * noise
        return (lambda: _blobs(n_samples, noise, seed),
                f"hp.datasets.make_blobs(n_samples={n_samples}, n_features=2, centers=3, "
                f"cluster_std={std!r}, seed={seed})")
    if name == "circles":
        return (lambda: make_circles(n_samples=n_samples, noise=noise, seed=seed),
                f"hp.datasets.make_circles(n_samples={n_samples}, noise={noise!r}, seed={seed})")
    if name == "xor":
        return (lambda: make_xor(n_samples=n_samples, noise=noise, seed=seed),
                f"hp.datasets.make_xor(n_samples={n_samples}, noise={noise!r}, seed={seed})")
    if name == "regression":
        return (lambda: make_curve(n_samples=n_samples, noise=noise, seed=seed),
                f"datasets.make_curve(n_samples={n_samples}, noise={noise!r}, seed={seed})")
    raise ValueError(f"dataset must be one of {list(NAMES)}, got {name!r}")


def load(name, n_samples=300, noise=0.2, seed=0):
    """Generate one of the playground's data sets.

    Parameters
    ----------
    name : {"moons", "circles", "spirals", "xor", "blobs", "regression"}
    n_samples : int, default=300
    noise : float, default=0.2
        The set's noise (for ``"blobs"``: a quarter of the clusters' standard deviation).
    seed : int, default=0

    Returns
    -------
    X, y : ndarray
        As the generator returns them.
    """
    return _calls(name, n_samples, noise, seed)[0]()


def code_lines(name, n_samples=300, noise=0.2, seed=0):
    """The import lines and the assignment ``X, y = ...`` that :func:`load` runs.

    Returns
    -------
    list of str
    """
    call = _calls(name, n_samples, noise, seed)[1]
    lines = ["import hpframe as hp"]
    if call.startswith("datasets."):
        lines.append("from hpframe.playground import datasets   # numpy only, no web extra")
    return lines + ["", f"X, y = {call}"]
