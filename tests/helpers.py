"""Helpers shared by several test modules (import them: ``from helpers import blobs``).

Fixtures live in ``conftest.py``; plain functions live here, so a test reads
as ordinary Python and the helper's definition is one import away.
"""
import numpy as np


def blobs(n=240, k=3, d=5, seed=0, spread=3.0):
    """``n`` samples in ``k`` Gaussian clusters in ``d`` dimensions, labels ``0..k-1``.

    The cluster centres are drawn with standard deviation ``spread`` (3: well
    separated; 2: some overlap) and each sample adds unit noise. Labels cycle
    ``0, 1, ..., k-1`` so every class has ``n // k`` or one more samples.
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, spread, size=(k, d))
    y = np.arange(n) % k
    return centers[y] + rng.normal(size=(n, d)), y


def numerical_derivative(f, x, h):
    """4th-order central difference of the scalar function ``f`` at ``x``."""
    return (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)
