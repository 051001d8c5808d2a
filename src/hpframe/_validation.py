"""Checking and converting what users pass in: the only place arrays are converted.

Every function raises an error that names the argument, the bad value and
what is allowed, and converts each array once (to C order, in the training
dtype) so the core can trust it.
"""
import math
import numbers
import os
import sys

import numpy as np

from hpframe._core import finite as _finite


def to_numpy(data, name):
    """Array-likes (lists, pandas objects, numpy arrays) to a numpy array, no copy if possible."""
    if data is None:
        raise TypeError(f"{name} is None; pass an array-like (a list, numpy array or "
                        "DataFrame)")
    if type(data).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} is a scipy.sparse {type(data).__name__}: sparse targets "
                        f"are not supported (sparse X is); pass a dense array "
                        f"({name}.toarray())")
    if hasattr(data, "to_numpy") and not isinstance(data, np.ndarray):   # pandas
        data = data.to_numpy()
    try:
        array = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like (a list, numpy array or DataFrame); "
                        f"could not convert {type(data).__name__}: {exc}") from None
    return array


def is_sparse(X):
    """True for any scipy.sparse matrix or array."""
    return type(X).__module__.startswith("scipy.sparse")


def n_rows(X):
    """Samples in ``X`` (``len`` is ambiguous for a scipy.sparse matrix)."""
    return X.shape[0] if hasattr(X, "shape") else len(X)


def check_sparse_features(X, dtype, n_features=None, name="X"):
    """A scipy.sparse ``X`` (CSR, CSC, COO, ..., matrix or array) as the CSR the core
    gathers rows from: ``data`` in ``dtype`` and finite, column indices sorted without
    duplicates (summed, as ``toarray()`` sums them), ``indices`` and ``indptr`` of one
    integer type (int32 or int64). Never dense: the copies made are of the nonzeros."""
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {X.shape})")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {X.shape})")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) or \
            np.iscomplexobj(X.data):
        raise TypeError(f"{name} must hold real numbers; got dtype {X.dtype}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but the model was built for "
                         f"{n_features}")
    X = X.tocsr(copy=False) if X.format != "csr" else X
    with np.errstate(over="ignore"):
        data = X.data.astype(dtype, copy=False)
    if not all_finite(data):
        j = int(np.argwhere(~np.isfinite(data))[0, 0])
        row = int(np.searchsorted(X.indptr, j, side="right") - 1)
        value = X.data[j]
        what = (f"values too large for {np.dtype(dtype).name} ({float(value)!r} became "
                "infinity); rescale the features or use dtype='float64'"
                if np.isfinite(value) else f"NaN or infinity ({value}); remove or impute them")
        raise ValueError(f"{name} has {what} (first at row {row}, column {X.indices[j]})")
    out = type(X)((data, X.indices, X.indptr), shape=X.shape)     # shares what it can
    if out.indices.dtype != out.indptr.dtype or out.indptr.dtype not in (np.int32, np.int64):
        out.indices, out.indptr = out.indices.astype(np.int64), out.indptr.astype(np.int64)
    if not out.has_canonical_format:
        out = out.copy()                # never sort or sum the user's own arrays
        out.sum_duplicates()            # sorted indices, duplicates summed
    return out


def _skips_finite(X, finite):
    """check_features' test for NaN and infinity is left to the caller (``finite``
    False) only for an array of more than ``SMALL`` numbers."""
    return not finite and X.size > SMALL


def check_features(X, dtype, n_features=None, name="X", finite=True):
    """Return ``X`` as a C-contiguous 2-D array of ``dtype`` with finite values (a
    scipy.sparse ``X``: as a checked CSR, see :func:`check_sparse_features`).

    With ``finite=False`` a dense ``X`` of more than ``SMALL`` numbers is not
    tested for NaN and infinity: the caller must call this again (with
    ``finite=True``) before it trusts any result computed from it. Prediction
    does, when the first layer's sums are not all finite (see
    ``Network.predict_into``); so does ``fit``, when a batch's rows are not
    (see ``trainer._defers_finite_check``)."""
    # The common case when predicting - a plain C-ordered array of the model's
    # (floating) dtype and width - passes every test below but the last by its
    # type alone, so it skips them (a 784-wide row: 3.5 us -> 0.5 us with
    # all_finite's compiled test); a non-finite one goes on to the full path,
    # which names the first bad value.
    if type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2 and \
            X.flags.c_contiguous and X.shape[0] > 0 and n_features is not None and \
            X.shape[1] == n_features > 0 and (_skips_finite(X, finite) or all_finite(X)):
        return X
    if is_sparse(X):
        return check_sparse_features(X, dtype, n_features, name)
    X = to_numpy(X, name)
    if X.ndim != 2:
        hint = (" (for a single feature use X.reshape(-1, 1); for a single sample "
                "X.reshape(1, -1))" if X.ndim == 1 else "")
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got an array "
                         f"of shape {X.shape}{hint}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {X.shape})")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {X.shape})")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers; got dtype {X.dtype}")
    if np.iscomplexobj(X):
        raise TypeError(f"{name} must hold real numbers; got dtype {X.dtype}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but the model was built for "
                         f"{n_features}")
    if X.dtype == dtype and X.flags.c_contiguous:
        original = X                     # nothing to convert (a row to predict: fast)
    else:
        with np.errstate(over="ignore"):     # reported below, naming the value
            original, X = X, np.ascontiguousarray(X, dtype=dtype)
    if not _skips_finite(X, finite) and not all_finite(X):
        bad = np.argwhere(~np.isfinite(X))[0]
        value = original[bad[0], bad[1]]
        if np.isfinite(value):         # finite before the conversion: out of dtype's range
            raise ValueError(
                f"{name} has values too large for {np.dtype(dtype).name} (first at row "
                f"{bad[0]}, column {bad[1]}: {float(value)!r}, beyond its largest "
                f"{np.finfo(dtype).max:.3g}), which became infinity when converted; "
                "rescale the features (e.g. standardise them) or use dtype='float64'")
        raise ValueError(f"{name} contains NaN or infinity (first at row {bad[0]}, "
                         f"column {bad[1]}: {X[bad[0], bad[1]]}); remove or impute them")
    return X


# An X of more than this many numbers may leave its NaN test to the core
# (_skips_finite): to predict_into's first product, or to fit's batches; all_finite's
# NumPy fallback finds a 0 byte in isfinite's output up to this size.
SMALL = 1 << 16


def all_finite(a):
    """True if no element is NaN or infinite.

    A C-contiguous float32 or float64 array is tested in C (``finite.pyx``: 8
    numbers at a time where the CPU has AVX2), without NumPy's temporary array
    or a BLAS call. On a 2-core AMD EPYC: a 784-wide row in 0.1 us, the
    digits' 1797 x 64 float32 in 4.5 us (``np.dot(x, x)``, the test before,
    took 7.7 us), 10,000 x 784 in 0.64 ms, as fast as memory delivers it.
    Anything else goes through ``np.isfinite``.
    """
    answer = _finite.all_finite(a)
    if answer is not None:
        return answer
    if a.size <= SMALL:
        # isfinite gives one byte per element, 0 where it is not finite: finding
        # a 0 byte (memchr) costs 0.1 us, ``.all()``'s Python-level wrapping 1 us
        return 0 not in np.isfinite(a).tobytes()
    return bool(np.isfinite(a).all())


def check_length(X, y, x_name="X", y_name="y"):
    if np.ndim(y) == 0:
        raise ValueError(f"{y_name} must hold one target per sample of {x_name}; got the "
                         f"single value {y!r}")
    if len(y) != n_rows(X):
        raise ValueError(f"{x_name} and {y_name} have different lengths: {n_rows(X)} samples "
                         f"in {x_name}, {len(y)} in {y_name}")


def check_targets(y, dtype, name="y"):
    """Regression targets: finite numbers, returned as a C-contiguous 2-D array."""
    y = to_numpy(y, name)
    if y.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_targets); "
                         f"got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers for a regression loss; got dtype {y.dtype}")
    with np.errstate(over="ignore"):     # reported below
        y2 = np.ascontiguousarray(y.reshape(len(y), -1), dtype=dtype)
    if not all_finite(y2):
        if np.isfinite(y).all():         # finite before the conversion: out of dtype's range
            raise ValueError(f"{name} has values too large for {np.dtype(dtype).name} "
                             f"(beyond its largest {np.finfo(dtype).max:.3g}), which became "
                             "infinity when converted; rescale the targets or use "
                             "dtype='float64'")
        raise ValueError(f"{name} contains NaN or infinity; remove or impute them")
    return y2


def check_labels(y, name="y"):
    """Class labels: a 1-D array of ints, strings or bools (a column vector is flattened)."""
    y = to_numpy(y, name)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels (n_samples,) for "
                         f"loss='cross_entropy'; got shape {y.shape}"
                         + (" (one-hot? pass y.argmax(axis=1))" if y.ndim == 2 else ""))
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{name} contains NaN or infinity")
        if not np.equal(np.mod(y, 1), 0).all():
            first = y[np.mod(y, 1) != 0][0].item()
            raise ValueError(f"{name} holds non-integer numbers ({first!r}), "
                             "which look like regression targets; use loss='mse', 'mae' or "
                             "'huber' for regression, or pass class labels")
    elif y.dtype.kind not in "iubUSO":
        raise TypeError(f"{name} must hold class labels (ints, strings or bools); got dtype "
                        f"{y.dtype}")
    if y.dtype.kind == "O":
        kinds = {type(v) for v in y}
        if not all(issubclass(k, (str, int, np.integer, bool, np.bool_)) for k in kinds):
            raise TypeError(f"{name} must hold class labels (ints, strings or bools); got "
                            f"values of types {sorted(k.__name__ for k in kinds)}")
        if len({issubclass(k, str) for k in kinds}) > 1:
            raise TypeError(f"{name} mixes strings and numbers as labels")
    return y


# --------------------------------------------------------------------------
# Scalar arguments: one helper per kind, one wording everywhere
# --------------------------------------------------------------------------
#: The largest count (of rows, units, epochs, ...) compiled code can take: a C ``Py_ssize_t``.
MAX_SIZE = sys.maxsize


def shown(value):
    """``repr(value)``, shortened for integers too long to read (``10**400``)."""
    text = repr(value)
    if len(text) > 40 and isinstance(value, numbers.Integral):
        digits = len(str(abs(int(value))))
        return f"{text[:8]}...{text[-4:]} (an integer of {digits} digits)"
    return text


def _number_text(x):
    return f"{x:g}" if isinstance(x, float) else str(x)


def range_text(low=None, high=None, low_open=False, high_open=False):
    """The allowed range in words: ``"in [0, 1)"``, ``"> 0"``, ``">= 1"`` or ``""``."""
    if low is not None and high is not None:
        return (f"in {'(' if low_open else '['}{_number_text(low)}, "
                f"{_number_text(high)}{')' if high_open else ']'}")
    if low is not None:
        return f"{'>' if low_open else '>='} {_number_text(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {_number_text(high)}"
    return ""


def int_text(low=None, high=None, none_ok=False):
    """What :func:`check_int` allows, in words: ``"an integer >= 1"``."""
    text = " ".join(filter(None, ["an integer", range_text(low, high)]))
    return f"None or {text}" if none_ok else text


def float_text(low=None, high=None, low_open=False, high_open=False, none_ok=False):
    """What :func:`check_float` allows, in words: ``"in [0, 1)"``, ``"a finite number > 0"``."""
    interval = range_text(low, high, low_open, high_open)
    if low is not None and high is not None:
        text = interval
    else:
        text = " ".join(filter(None, ["a finite number", interval]))
    return f"None or {text}" if none_ok else text


def _got(value):
    return shown(value)


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def check_int(name, value, low=None, high=None, *, none_ok=False, integral_float=False,
              size=True):
    """``value`` as a Python ``int`` in ``[low, high]``, or an error naming ``name``.

    Parameters
    ----------
    name : str
        The argument's name, as the user wrote it.
    value : object
        What the user passed. Bools are refused (``True`` is not a count).
    low, high : int, optional
        Inclusive bounds.
    none_ok : bool
        Accept and return ``None``.
    integral_float : bool
        Accept floats with an integral value (``8.0``), as a search may draw them.
    size : bool
        The value is a count that compiled code receives: at most :data:`MAX_SIZE`.

    Raises
    ------
    TypeError
        Not an integer.
    ValueError
        Out of range. Both messages name the argument, quote the value and say
        what is allowed.
    """
    if value is None and none_ok:
        return None

    def allowed():                   # in words, built only for an error
        return int_text(low, high, none_ok)

    if _is_bool(value):
        raise TypeError(f"{name} must be {allowed()}, got {_got(value)} of type "
                        f"{type(value).__name__}")
    if isinstance(value, numbers.Integral):
        result = int(value)
    elif integral_float and isinstance(value, (float, np.floating)) and \
            math.isfinite(value) and float(value).is_integer():
        result = int(value)
    else:
        kind = "" if isinstance(value, (float, np.floating)) else \
            f" of type {type(value).__name__}"
        raise TypeError(f"{name} must be {allowed()}, got {_got(value)}{kind}")
    if (low is not None and result < low) or (high is not None and result > high):
        raise ValueError(f"{name} must be {allowed()}, got {_got(value)}")
    if size and abs(result) > MAX_SIZE:
        raise ValueError(f"{name} must be {allowed()} and at most 2**63 - 1 (the largest "
                         f"count compiled code can hold), got {_got(value)}")
    return result


def check_float(name, value, low=None, high=None, *, low_open=False, high_open=False,
                none_ok=False, decimal=False):
    """``value`` as a finite Python ``float`` in the given interval, or an error naming it.

    Parameters
    ----------
    name : str
        The argument's name.
    value : object
        What the user passed: any real number but a bool.
    low, high : float, optional
        Bounds; ``low_open``/``high_open`` exclude them.
    none_ok : bool
        Accept and return ``None``.
    decimal : bool
        Read a float32 as the decimal it prints as (``np.float32(0.01)`` means
        0.01, not 0.009999999776482582).

    Raises
    ------
    TypeError
        Not a real number.
    ValueError
        Not finite (including integers too large for a float), or out of range.
    """
    if value is None and none_ok:
        return None
    allowed = float_text(low, high, low_open, high_open, none_ok)
    if _is_bool(value) or not isinstance(value, numbers.Real):
        interval = range_text(low, high, low_open, high_open)
        wanted = " ".join(filter(None, ["a number", interval]))
        if none_ok:
            wanted = f"None or {wanted}"
        raise TypeError(f"{name} must be {wanted}, got {_got(value)} of type "
                        f"{type(value).__name__}")
    try:
        if decimal and isinstance(value, np.floating) and value.dtype.itemsize < 8:
            result = float(str(value))
        else:
            result = float(value)
    except OverflowError:           # an int beyond the float range, e.g. 10**400
        raise ValueError(f"{name} must be {allowed}, got {_got(value)}") from None
    below = low is not None and (result <= low if low_open else result < low)
    above = high is not None and (result >= high if high_open else result > high)
    if not math.isfinite(result) or below or above:
        raise ValueError(f"{name} must be {allowed}, got {result!r}")
    return result


def check_bool(name, value):
    """``value`` as a Python ``bool``; anything but ``True``/``False`` is a TypeError."""
    if not _is_bool(value):
        raise TypeError(f"{name} must be True or False, got {_got(value)} of type "
                        f"{type(value).__name__}")
    return bool(value)


# --------------------------------------------------------------------------
# Memory: refuse a network whose buffers cannot exist, before allocating it
# --------------------------------------------------------------------------
def physical_memory():
    """Bytes of physical memory of this computer, or None where it is not known."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):     # pragma: no cover - not POSIX
        return None


def format_bytes(n):
    """``n`` bytes in binary units: ``"3.0 KiB"``, ``"21.8 TiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def check_network_memory(hparams, sizes, capacity, limit=None):
    """Refuse (ValueError) a network that needs more memory than this computer has.

    ``sizes`` are the layer widths, input first; ``capacity`` the rows of the
    per-batch buffers. Counted with :func:`hpframe.estimate_memory`'s arithmetic
    in Python integers, so nothing is allocated and nothing overflows. The
    message blames ``hidden_layers`` when even the smallest per-batch buffers
    do not fit, else ``batch_size``, and says how much memory would be needed.
    """
    from hpframe._layout import EVAL_ROWS
    from hpframe.memory import estimate_memory

    limit = physical_memory() if limit is None else limit
    if limit is None:                                       # pragma: no cover
        return

    def needed(rows):
        model = hparams.replace(hidden_layers=tuple(sizes[1:-1]), batch_size=rows,
                                validation_split=0.0)
        return estimate_memory(model, sizes[0], sizes[-1], 0)

    mem = needed(capacity)
    if mem["total"] <= limit:
        return
    blame_layers = capacity <= EVAL_ROWS or needed(EVAL_ROWS)["total"] > limit
    learned = mem["parameters"] + mem["gradients"] + mem["optimizer_state"]
    need = (f"needs {format_bytes(mem['total'])} of memory (parameters, gradients and "
            f"{hparams.optimizer} state {format_bytes(learned)}; buffers for batches of "
            f"{capacity} rows {format_bytes(mem['activations'])}), more than this "
            f"computer's {format_bytes(limit)}")
    if blame_layers:
        raise ValueError(f"hidden_layers={shown(tuple(sizes[1:-1]))} with {sizes[0]} "
                         f"input(s) and {sizes[-1]} output(s) {need}; use fewer or "
                         "narrower hidden layers")
    raise ValueError(f"batch_size={shown(hparams.batch_size)} with layers up to "
                     f"{max(sizes)} wide {need}; use a smaller batch_size")


def check_seed(seed):
    """``seed`` as an int, or None; a TypeError/ValueError naming it otherwise."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative int or None, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    return int(seed)
