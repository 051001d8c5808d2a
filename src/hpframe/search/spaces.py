r"""Search spaces: where each hyperparameter's trial values come from.

A *space* is a dict ``{field name: distribution}``, e.g.
``{"learning_rate": LogUniform(1e-4, 1e-1), "batch_size": Choice([16, 64])}``.
A *grid* is a dict ``{field name: list of values}``. Both are checked against
the fields of :class:`~hpframe.HyperParams` before anything runs, and every
configuration drawn from them is validated as a ``HyperParams`` before it is
trained.

Every trial draws its values from its own generator, seeded by the search's
``seed`` and the trial's number alone (:func:`trial_rng`), so trial 7 is the
same whether the search asks for 10 trials or 100, runs serially or on a
cluster.
"""
import itertools
import json
import math

import numpy as np

from hpframe._validation import check_float, check_int
from hpframe.hparams import HyperParams

__all__ = ["Distribution", "Uniform", "LogUniform", "IntUniform", "Choice",
           "check_space", "check_grid", "sample", "grid_points", "trial_rng", "trial_seed",
           "space_to_json", "keys", "merged"]


def _number(name, value):
    return check_float(name, value)


def _integer(name, value):
    return check_int(name, value)


class Distribution:
    """Base class of the search distributions: draw one value from a generator."""

    def sample(self, rng):
        """Draw one value.

        Parameters
        ----------
        rng : numpy.random.Generator

        Returns
        -------
        object
            A plain Python value (float, int or one of the options).
        """
        raise NotImplementedError

    def to_dict(self):
        """The distribution as JSON-safe data (what a search log records)."""
        raise NotImplementedError

    def probes(self):
        """A few values in the support, validated against the field before a search runs."""
        raise NotImplementedError

    @property
    def log(self):
        """Whether the distribution is uniform in log space (plots use a log axis)."""
        return False

    def __eq__(self, other):
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=repr))


class Uniform(Distribution):
    r"""Floats drawn uniformly from :math:`[low, high)`.

    Parameters
    ----------
    low, high : float
        Finite bounds with ``low < high``.

    Examples
    --------
    >>> import hpframe as hp
    >>> hp.Uniform(0.0, 0.5)
    Uniform(0.0, 0.5)
    """

    def __init__(self, low, high):
        self.low = _number("Uniform low", low)
        self.high = _number("Uniform high", high)
        if not self.low < self.high:
            raise ValueError(f"Uniform needs low < high, got low={low!r}, high={high!r}")

    def sample(self, rng):
        return float(rng.uniform(self.low, self.high))

    def probes(self):
        return [self.low, float(np.nextafter(self.high, self.low))]

    def to_dict(self):
        return {"type": "Uniform", "low": self.low, "high": self.high}

    def __repr__(self):
        return f"Uniform({self.low!r}, {self.high!r})"


class LogUniform(Distribution):
    r"""Floats whose logarithm is uniform: :math:`\exp(U[\log low, \log high))`.

    Every power of ten between the bounds is equally likely to be sampled: the
    right prior for scale-like hyperparameters such as ``learning_rate`` and
    ``weight_decay``.

    Parameters
    ----------
    low, high : float
        Bounds with ``0 < low < high``.

    Examples
    --------
    >>> import hpframe as hp
    >>> hp.LogUniform(1e-4, 1e-1)
    LogUniform(0.0001, 0.1)
    """

    def __init__(self, low, high):
        self.low = _number("LogUniform low", low)
        self.high = _number("LogUniform high", high)
        if not self.low > 0:
            raise ValueError(f"LogUniform needs positive bounds (it samples the logarithm), "
                             f"got low={low!r}")
        if not self.low < self.high:
            raise ValueError(f"LogUniform needs low < high, got low={low!r}, high={high!r}")

    @property
    def log(self):
        return True

    def sample(self, rng):
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return min(max(value, self.low), float(np.nextafter(self.high, self.low)))

    def probes(self):
        return [self.low, float(np.nextafter(self.high, self.low))]

    def to_dict(self):
        return {"type": "LogUniform", "low": self.low, "high": self.high}

    def __repr__(self):
        return f"LogUniform({self.low!r}, {self.high!r})"


class IntUniform(Distribution):
    r"""Integers drawn uniformly from ``low`` to ``high``, both included.

    Parameters
    ----------
    low, high : int
        Bounds with ``low < high``.
    log : bool, default False
        Draw uniformly in log space instead (needs ``low >= 1``): as likely
        to land in 8..16 as in 64..128, the right prior for layer widths or
        batch sizes.

    Examples
    --------
    >>> import hpframe as hp
    >>> hp.IntUniform(16, 256, log=True)
    IntUniform(16, 256, log=True)
    """

    def __init__(self, low, high, log=False):
        self.low = _integer("IntUniform low", low)
        self.high = _integer("IntUniform high", high)
        if not self.low < self.high:
            raise ValueError(f"IntUniform needs low < high, got low={low!r}, high={high!r}")
        if not isinstance(log, (bool, np.bool_)):
            raise TypeError(f"IntUniform log must be True or False, got {log!r}")
        if log and self.low < 1:
            raise ValueError(f"IntUniform(log=True) needs low >= 1 (it samples the "
                             f"logarithm), got low={low!r}")
        self._log = bool(log)

    @property
    def log(self):
        return self._log

    def sample(self, rng):
        if not self._log:
            return int(rng.integers(self.low, self.high, endpoint=True))
        # Uniform in log space over [low, high + 1), floored: each integer k gets the
        # probability mass of [log k, log(k + 1)).
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
        return min(max(int(math.floor(value)), self.low), self.high)

    def probes(self):
        return [self.low, self.high]

    def to_dict(self):
        return {"type": "IntUniform", "low": self.low, "high": self.high, "log": self._log}

    def __repr__(self):
        return f"IntUniform({self.low!r}, {self.high!r}{', log=True' if self._log else ''})"


class Choice(Distribution):
    """One of a list of options, each equally likely.

    Parameters
    ----------
    options : sequence
        The values, at least one, e.g. ``["relu", "tanh"]`` or
        ``[(32,), (64, 64)]`` for ``hidden_layers``.

    Examples
    --------
    >>> import hpframe as hp
    >>> hp.Choice([16, 32, 64])
    Choice([16, 32, 64])
    """

    def __init__(self, options):
        if isinstance(options, (str, bytes, dict)) or not hasattr(options, "__len__") \
                or not hasattr(options, "__getitem__"):
            raise TypeError(f"Choice needs a list of options, got {options!r}")
        self.options = tuple(_plain(o) for o in options)
        if not self.options:
            raise ValueError("Choice needs at least one option, got an empty list")

    def sample(self, rng):
        return self.options[int(rng.integers(len(self.options)))]

    def probes(self):
        return list(self.options)

    def to_dict(self):
        return {"type": "Choice", "options": [_jsonable(o) for o in self.options]}

    def __repr__(self):
        return f"Choice({list(self.options)!r})"


def _plain(value):
    """numpy scalars to Python scalars, lists to tuples (so options hash and compare)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


# --------------------------------------------------------------------------
# Checking spaces and grids against HyperParams
# --------------------------------------------------------------------------
def _check_key(key, base):
    if not isinstance(key, str):
        raise TypeError(f"search space keys must be hyperparameter names (str), got {key!r}")
    try:
        base.replace(**{key: getattr(base, key, None)})
    except ValueError as exc:
        raise ValueError(f"search space: {exc}") from None


def _check_value(key, value, base, where):
    try:
        checked = base.replace(**{key: value})
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    if key == "validation_split" and checked.validation_split == 0:
        raise ValueError(f"{where}: validation_split 0 leaves no validation data, and a "
                         "search compares trials on validation data; use values in (0, 1)")


def check_space(space, base):
    """Validate a search space against ``base``'s fields.

    Parameters
    ----------
    space : dict of str to Distribution, or list of such dicts
        A list is a *conditional* space, as scikit-learn's ``param_distributions``
        takes: each trial first picks one of the dicts (each equally likely), then
        draws its values from it - e.g. ``momentum`` only with ``optimizer="momentum"``.
    base : HyperParams

    Returns
    -------
    dict or list of dict
        The space, keys sorted (sampling order does not depend on dict order).

    Raises
    ------
    ValueError
        An unknown key (the message names the closest field), an empty space,
        or bounds / options that the field does not accept.
    TypeError
        A value that is not a distribution.
    """
    if isinstance(space, (list, tuple)):
        return _check_parts(space, "space", "distribution", check_space, base)
    if not isinstance(space, dict):
        raise TypeError(f"space must be a dict of hyperparameter name -> distribution (or a "
                        f"list of such dicts), got {type(space).__name__}")
    if not space:
        raise ValueError("space is empty: give at least one hyperparameter to search, e.g. "
                         "{'learning_rate': hp.LogUniform(1e-4, 1e-1)}")
    for key, dist in space.items():
        _check_key(key, base)
        if not isinstance(dist, Distribution):
            raise TypeError(f"space[{key!r}] must be Uniform, LogUniform, IntUniform or "
                            f"Choice, got {dist!r} (to fix a value, set it in base=)")
        for probe in dist.probes():
            _check_value(key, probe, base, f"space[{key!r}] = {dist!r}")
    return {key: space[key] for key in sorted(space)}


def _check_parts(parts, name, what, check, base):
    """A list of dicts (a conditional space or grid), each checked by ``check``; an
    error names the part it is in."""
    if not parts:
        raise ValueError(f"{name} is an empty list: give at least one dict of "
                         f"hyperparameter name -> {what}")
    out = []
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            raise TypeError(f"{name}[{i}] must be a dict of hyperparameter name -> {what}, "
                            f"got {type(part).__name__}")
        try:
            out.append(check(part, base))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}[{i}]: {exc}") from None
    return out


def check_grid(grid, base):
    """Validate a grid: each key a field, each value a non-empty list of valid values.

    Parameters
    ----------
    grid : dict of str to list, or list of such dicts
        A list: the points of each grid, one grid after the other (as
        scikit-learn's ``ParameterGrid`` takes a list of dicts).
    base : HyperParams

    Returns
    -------
    dict of str to tuple, or list of such dicts
        The grid, in the given key order (the grid's own order is kept).
    """
    if isinstance(grid, (list, tuple)):
        return _check_parts(grid, "grid", "list of values", check_grid, base)
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict of hyperparameter name -> list of values (or a "
                        f"list of such dicts), got {type(grid).__name__}")
    if not grid:
        raise ValueError("grid is empty: give at least one hyperparameter, e.g. "
                         "{'learning_rate': [1e-3, 1e-2]}")
    out = {}
    for key, values in grid.items():
        _check_key(key, base)
        if isinstance(values, Choice):
            values = values.options
        if isinstance(values, Distribution):
            raise TypeError(f"grid[{key!r}] must be a list of values, got {values!r} "
                            "(distributions are for random_search)")
        if isinstance(values, (list, tuple)):
            if not values:
                raise ValueError(f"grid[{key!r}] is an empty list; give at least one value")
            values = tuple(_plain(v) for v in values)
        else:
            raise TypeError(f"grid[{key!r}] must be a list of values, got {values!r} "
                            f"(for a single value write [{values!r}])")
        for value in values:
            _check_value(key, value, base, f"grid[{key!r}]")
        out[key] = values
    return out


def space_to_json(space):
    """JSON-safe description of a space (distributions) or a grid (tuples of values)."""
    if isinstance(space, list):
        return [space_to_json(part) for part in space]
    return {key: value.to_dict() if isinstance(value, Distribution)
            else [_jsonable(v) for v in value] for key, value in space.items()}


# --------------------------------------------------------------------------
# Drawing trials
# --------------------------------------------------------------------------
def trial_rng(seed, number):
    """The generator of trial ``number``'s hyperparameters: a function of ``seed`` and it alone.

    ``SeedSequence(seed, spawn_key=(number,))`` is the ``number``-th child that
    ``SeedSequence(seed).spawn`` would make, so trials are independent streams
    and trial ``number`` never depends on how many trials are run.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(number, 0)))


def trial_seed(seed, number):
    """The training seed (``HyperParams.seed``) of trial ``number``: a 32-bit int."""
    state = np.random.SeedSequence(seed, spawn_key=(number, 1)).generate_state(1, np.uint32)
    return int(state[0])


def sample(space, seed, number):
    """The values trial ``number`` tries: one draw per key, in sorted key order.

    A conditional space (a list of dicts) first draws which dict, then its values.
    """
    rng = trial_rng(seed, number)
    if isinstance(space, list):
        space = space[int(rng.integers(len(space)))]
    return {key: space[key].sample(rng) for key in sorted(space)}


def keys(space):
    """Every hyperparameter name of a space or grid (of a list: in order of appearance)."""
    parts = space if isinstance(space, list) else [space]
    names = []
    for part in parts:
        names += [k for k in part if k not in names]
    return names


def merged(space):
    """One dict of a conditional space or grid: each name's distribution (a Choice of
    every option when the dicts differ), or its grid values, all lists merged."""
    if not isinstance(space, list):
        return space
    out = {}
    for part in space:
        for key, value in part.items():
            if key not in out:
                out[key] = value
            elif out[key] != value:
                options = []
                for v in _values(out[key]) + _values(value):
                    if v not in options:
                        options.append(v)
                dists = [v for v in options if isinstance(v, Distribution)]
                if isinstance(value, Distribution):
                    out[key] = dists[0] if dists else Choice(options)
                else:
                    out[key] = tuple(options)
    return out


def _values(entry):
    """A Choice's options, another distribution as itself, a grid's values."""
    if isinstance(entry, Choice):
        return list(entry.options)
    if isinstance(entry, Distribution):
        return [entry]
    return list(entry)


def grid_points(grid):
    """Every combination of the grid, the last key varying fastest (of a list of grids:
    each grid's points, one grid after the other)."""
    if isinstance(grid, list):
        return [point for part in grid for point in grid_points(part)]
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]


def make_hparams(base, values, seed):
    """``base`` with ``values`` and the trial seed (unless the space searches ``seed``)."""
    changes = dict(values)
    changes.setdefault("seed", seed)
    return HyperParams.replace(base, **changes)
