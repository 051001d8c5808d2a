r"""Splitting data into training, validation and test sets.

A model's *parameters* are fitted on the training set; its *hyperparameters* are
chosen by comparing scores on the validation set; the test set is looked at once,
at the end, for an honest estimate of how the chosen model does on new data.

Both functions here are seeded and, for class labels, **stratified**: every class
keeps its share of the samples in every part, as nearly as whole samples allow.

How a stratified split is counted
---------------------------------
Let class :math:`c` have :math:`n_c` of the :math:`n` samples and part :math:`p`
(train, validation, test) have :math:`m_p` samples. The ideal count of class
:math:`c` in part :math:`p` is

.. math::

    a_{cp} = \frac{n_c \, m_p}{n}.

Each count is rounded down or up so that every row adds up to :math:`n_c` and every
column to :math:`m_p` (a *controlled rounding*, which always exists for such a
table). The largest fractional parts are rounded up first (largest-remainder
rounding, ties broken by the seed); when that greedy pass gets stuck, a short
augmenting-path search exchanges round-ups between classes. Finally, every class
with at least two samples keeps at least one in the training set, so the model sees
every class; this is the only rule that may move a count further than one sample
from its ideal, and only on tiny data.
"""

import numpy as np

from hpframe._validation import check_float, check_seed

__all__ = ["holdout_indices", "split"]


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------

def _check_fraction(name, value):
    return check_float(name, value, 0.0, 1.0, high_open=True)


_SPLIT_STREAM = 0x5EED5  # names the splitting stream of a seed


def _make_rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    seed = check_seed(seed)
    if seed is None:
        return np.random.default_rng()
    # A stream of its own: default_rng(seed) would replay the very numbers a data
    # generator drew with the same seed, so split(make_regression(seed=0), seed=0)
    # would send the rows with the largest x to the test set.
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SPLIT_STREAM,)))


def _as_labels(y):
    """Return ``y`` as an array with at least one dimension and one sample."""
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError(f"y must be an array of samples, got a scalar {y!r}")
    if y.shape[0] == 0:
        raise ValueError("y must contain at least one sample, got 0")
    return y


def _class_index(y):
    """Integer class codes 0..K-1 for 1-D labels ``y`` (classes sorted)."""
    if y.dtype.kind in "fc":
        bad = ~(np.isfinite(y) & (y == np.round(y)))
        if y.dtype.kind == "c" or bad.any():
            example = y[np.argmax(bad)].item()
            raise ValueError(
                "stratify=True needs class labels, but y holds continuous values "
                f"(dtype {y.dtype}, e.g. {example!r}); pass stratify=False for a "
                "regression target")
    try:
        _, codes = np.unique(y, return_inverse=True)
    except TypeError as exc:
        raise TypeError(
            "y labels must be comparable with each other (all numbers or all "
            f"strings) to be stratified; {exc}") from None
    return codes.reshape(-1)


def _part_size(fraction, n):
    """Samples in a part that holds ``fraction`` of ``n``: round(), at least 1."""
    size = round(fraction * n)
    if fraction > 0 and n >= 2:
        size = max(size, 1)
    return size


# ---------------------------------------------------------------------------
# the counting: how many samples of each class go to each part
# ---------------------------------------------------------------------------

def _augment(row, allowed, up, room):
    """Give ``row`` one more round-up by a chain of exchanges (BFS).

    ``up[c, p]`` marks the cells already rounded up and ``room[p]`` how many more
    round-ups part ``p`` may take. The chain is ``row`` takes part ``p1``; a row that
    held ``p1`` gives it up and takes ``p2``; ... until a part with room is reached.
    Returns False when no such chain exists.
    """
    n_parts = up.shape[1]
    came_from_row = {}              # part -> the row that wants to take it
    came_from_part = {row: None}    # row  -> the part it gives up (None: the start)
    queue = [row]
    while queue:
        r = queue.pop(0)
        for p in range(n_parts):
            if not allowed[r, p] or up[r, p] or p in came_from_row:
                continue
            came_from_row[p] = r
            if room[p] > 0:
                room[p] -= 1
                while p is not None:                # walk the chain back
                    r = came_from_row[p]
                    up[r, p] = True
                    p = came_from_part[r]
                    if p is not None:
                        up[r, p] = False
                return True
            for r2 in np.flatnonzero(up[:, p]):
                if r2 not in came_from_part:
                    came_from_part[r2] = p
                    queue.append(r2)
    return False


def _allocate(counts, sizes, rng):
    """Table ``t[c, p]``: samples of class ``c`` in part ``p`` (part 0 is train).

    Row sums are ``counts``, column sums are ``sizes``; each entry is the ideal
    ``counts[c] * sizes[p] / n`` rounded down or up (see the module docstring),
    except where a class with two or more samples must be given one training sample.
    """
    counts = np.asarray(counts, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    n = int(counts.sum())
    n_classes, n_parts = counts.size, sizes.size
    # Exact integer arithmetic: ideal = num / n, so floor and remainder are exact.
    num = np.outer(counts, sizes)
    table = num // n
    remainder = num % n
    row_need = counts - table.sum(axis=1)   # how many round-ups each class gets
    room = sizes - table.sum(axis=0)        # how many round-ups each part takes
    allowed = remainder > 0
    up = np.zeros((n_classes, n_parts), dtype=bool)

    # Greedy: largest remainders first; the seed breaks ties.
    cells = np.flatnonzero(allowed)
    order = cells[np.lexsort((rng.random(cells.size), -remainder.flat[cells]))]
    for cell in order:
        c, p = divmod(int(cell), n_parts)
        if row_need[c] > 0 and room[p] > 0:
            up[c, p] = True
            row_need[c] -= 1
            room[p] -= 1
    # Repair: the fractional table is a feasible flow, so an exchange chain exists.
    for c in np.flatnonzero(row_need):
        for _ in range(row_need[c]):
            if not _augment(c, allowed, up, room):    # pragma: no cover
                raise RuntimeError("controlled rounding failed; please report this")
    table = table + up

    # Every class with >= 2 samples keeps one training sample. The caller has
    # checked sizes[0] >= the number of such classes, so a donor always exists:
    # a class with a spare training sample gives one up to the part we take from.
    excess = table * n - num                # n * (count - ideal)
    for c in np.flatnonzero((table[:, 0] == 0) & (counts >= 2)):
        p = 1 + int(np.argmax(np.where(table[c, 1:] > 0, excess[c, 1:], -np.inf)))
        spare = table[:, 0] - (counts >= 2)
        spare[c] = 0
        score = np.where(spare > 0, excess[:, 0] - excess[:, p], -np.inf)
        d = int(np.argmax(score))
        table[c, 0] += 1
        table[c, p] -= 1
        table[d, 0] -= 1
        table[d, p] += 1
        excess = table * n - num
    return table


def _partition(y, sizes, rng, stratify):
    """Split ``range(len(y))`` into parts of ``sizes`` (part 0 is train)."""
    n = y.shape[0]
    if stratify and y.ndim == 1:
        codes = _class_index(y)
        counts = np.bincount(codes)
        need = int(np.count_nonzero(counts >= 2))
        if sizes[0] < need:
            raise ValueError(
                f"the training part would hold {sizes[0]} samples, fewer than the "
                f"{need} classes that must each keep one; hold out less, or pass "
                "stratify=False")
    else:
        codes = np.zeros(n, dtype=np.int64)
        counts = np.array([n])
    table = _allocate(counts, sizes, rng)
    # Samples grouped by class, in random order within each class; the first
    # table[c, 0] of class c go to train, the next table[c, 1] to part 1, ...
    order = np.lexsort((rng.random(n), codes))
    part_of = np.empty(n, dtype=np.int64)
    part_of[order] = np.repeat(np.tile(np.arange(len(sizes)), len(counts)),
                               table.ravel())
    return [np.flatnonzero(part_of == p).astype(np.int64) for p in range(len(sizes))]


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------

def holdout_indices(y, fraction, seed=0, stratify=True):
    r"""Indices of a seeded (stratified) training / validation hold-out.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets. A 1-D array of class labels (ints, strings or bools) can be
        stratified; a 2-D array (multi-label or regression targets) is always split
        by plain shuffling.
    fraction : float in [0, 1)
        Share of the samples held out for validation. The validation part has
        ``round(fraction * n_samples)`` samples (Python's ``round``, ties to even),
        at least 1 when ``fraction > 0`` and ``n_samples >= 2``, and the training
        part keeps at least one. ``0`` puts everything in training.
    seed : int or None, default=0
        Seed of the split's own random stream; the same seed gives the same split.
        ``None`` draws fresh entropy. A ``numpy.random.Generator`` is used as is.
    stratify : bool, default=True
        Keep every class's proportion in both parts (largest-remainder rounding)
        and at least one sample of every class with two or more samples in the
        training part. Applies to 1-D ``y`` only. Continuous (non-integral float)
        ``y`` with ``stratify=True`` raises ``ValueError``.

    Returns
    -------
    train_idx, val_idx : ndarray of int64
        Disjoint index arrays, each sorted ascending, together covering
        ``range(n_samples)``.

    Raises
    ------
    ValueError
        If ``fraction`` is outside [0, 1), ``y`` is empty, ``y`` is continuous while
        ``stratify=True``, or the training part would be smaller than the number of
        classes.

    Examples
    --------
    >>> from hpframe.data import holdout_indices
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    >>> train_idx, val_idx = holdout_indices(y, 0.5, seed=0)
    >>> len(train_idx), len(val_idx)
    (5, 5)
    >>> sorted(int(y[i]) for i in val_idx)
    [0, 0, 0, 1, 1]
    """
    y = _as_labels(y)
    fraction = _check_fraction("fraction", fraction)
    rng = _make_rng(seed)
    n = y.shape[0]
    n_val = min(_part_size(fraction, n), n - 1)
    train_idx, val_idx = _partition(y, [n - n_val, n_val], rng, stratify)
    return train_idx, val_idx


def split(X, y, val=0.15, test=0.15, seed=0, stratify=True):
    r"""Split data into training, validation and test sets.

    The training set fits the parameters (weights and biases); the validation set
    compares hyperparameter choices; the test set is kept aside for a final,
    unbiased score.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Features.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets: class labels (stratified) or regression / multi-label targets
        (pass ``stratify=False`` for continuous targets; 2-D targets are never
        stratified).
    val, test : float in [0, 1), default=0.15
        Shares of the samples in the validation and test sets, with
        ``val + test < 1``. Each part has ``round(share * n_samples)`` samples, at
        least 1 when its share is positive; a share of 0 gives an empty part.
    seed : int or None, default=0
        Seed of the split's own random stream (``None``: fresh entropy).
    stratify : bool, default=True
        Keep each class's proportion in all three parts (each count within one
        sample of its ideal, except that every class with two or more samples keeps
        one training sample).

    Returns
    -------
    (X_train, y_train), (X_val, y_val), (X_test, y_test) : tuples of ndarray
        Rows in their original order within each part. Empty parts keep the
        trailing shape, e.g. ``(0, n_features)``.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length, a share is outside [0, 1),
        ``val + test >= 1``, there are too few samples to leave one for training,
        or ``y`` is continuous while ``stratify=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from hpframe.data import split
    >>> X = np.arange(40.0).reshape(20, 2)
    >>> y = np.array([0] * 10 + [1] * 10)
    >>> (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = split(X, y, val=0.2, test=0.2)
    >>> X_tr.shape, X_va.shape, X_te.shape
    ((12, 2), (4, 2), (4, 2))
    >>> np.bincount(y_va).tolist(), np.bincount(y_te).tolist()
    ([2, 2], [2, 2])
    """
    X = np.asarray(X)
    y = _as_labels(y)
    if X.ndim == 0:
        raise ValueError(f"X must be an array of samples, got a scalar {X!r}")
    if X.shape[0] != y.shape[0]:
        raise ValueError("X and y must have the same number of samples, got "
                         f"{X.shape[0]} and {y.shape[0]}")
    val = _check_fraction("val", val)
    test = _check_fraction("test", test)
    if val + test >= 1:
        raise ValueError(f"val + test must be < 1, got {val} + {test} = {val + test}")
    rng = _make_rng(seed)
    n = y.shape[0]
    n_val, n_test = _part_size(val, n), _part_size(test, n)
    if n - n_val - n_test < 1:
        raise ValueError(
            f"not enough samples: {n} samples give {n_val} for validation and "
            f"{n_test} for test, leaving none for training; use more data or "
            "smaller val/test")
    parts = _partition(y, [n - n_val - n_test, n_val, n_test], rng, stratify)
    return tuple((X[idx], y[idx]) for idx in parts)
