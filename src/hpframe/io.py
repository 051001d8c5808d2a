"""Saving and loading trainers: one ``.npz`` file of arrays and JSON, never pickle.

A model file holds four arrays: ``params``, ``state_1`` and ``state_2`` (the
optimizer's state, possibly empty) and ``meta``, a JSON string with the
hyperparameters, the task, the shapes, the generators' states, the optimizer's
step, the learning-rate factor callbacks set (``lr_scale``, format version 3) and
the history - everything :func:`load` needs so that ``fit`` after
loading continues exactly as if the trainer had never been saved.

Writes to a path are atomic (``hpframe._atomic.atomic_open``): a crash, a
kill or a full disk in the middle of :func:`save` leaves the previous file as it
was. Loading never executes code: a file that is not an hpframe model, or whose
metadata does not agree with its arrays, is refused with a ``ValueError`` naming
the entry - before anything the metadata sizes is allocated.

Examples
--------
>>> import io, hpframe as hp
>>> trainer = hp.Trainer(hidden_layers=(4,)).build(3, 2)
>>> again = hp.io.from_bytes(hp.io.to_bytes(trainer))
>>> bool((again.params["dense_0.weight"] == trainer.params["dense_0.weight"]).all())
True
"""
import io
import json
import math
import numbers
import os
import threading
import zipfile

import numpy as np

from hpframe import tasks
from hpframe._atomic import atomic_open
from hpframe._layout import EVAL_ROWS
from hpframe.callbacks import History
from hpframe.hparams import HyperParams

__all__ = ["save", "load", "to_bytes", "from_bytes", "FORMAT_VERSION"]

FORMAT_VERSION = 3          # 3: lr_scale (the rate callbacks set); 2: a generator per layer
ARRAYS = ("params", "state_1", "state_2", "meta")
_NPZ_MAGIC = b"PK\x03\x04"        # a .npz file is a zip archive
_STATE_BUFFERS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "adamw": 2}


def save(trainer, file):
    """Save a built trainer: parameters, optimizer state, hyperparameters and history.

    Parameters
    ----------
    trainer : Trainer
        A built or trained trainer.
    file : str, path-like or binary file object
        A path is written atomically (temporary file, fsync, rename): the previous
        file survives a crash, a kill or a full disk. A file object is written as is.
    """
    trainer._require_built("save")
    with trainer._lock:                  # the arrays are written as they are, not copied
        arrays = _arrays(trainer)
        if hasattr(file, "write"):
            np.savez(file, **arrays)
        else:
            with atomic_open(file, "wb") as f:    # exactly this name: np.savez adds ".npz"
                np.savez(f, **arrays)


def _arrays(trainer):
    """The four arrays of ``trainer``'s model file (views: hold the trainer's lock)."""
    net, classes = trainer._net, trainer.classes_
    meta = {
        "format": "hpframe.Trainer", "format_version": FORMAT_VERSION,
        "hparams": trainer.hparams.to_dict(), "seed_": trainer.seed_,
        "task": trainer._task.name, "n_features": trainer.n_features_in_,
        "n_outputs": trainer.n_outputs_, "capacity": net.capacity,
        "classes": None if classes is None else classes.tolist(),
        "classes_kind": None if classes is None else classes.dtype.kind,
        "epoch": trainer.epoch_, "step": net.step, "first_loss": net.first_loss,
        "lr_scale": trainer.lr_scale,
        "shuffle_rng": net.shuffle_rng.state,
        "dropout_rngs": [r.state for r in net.dropout_rngs],
        "history": trainer.history.to_dict(),
    }
    return dict(params=net.params, state_1=net.state_1, state_2=net.state_2,
                meta=np.array(json.dumps(meta)))


def to_bytes(trainer):
    """The bytes of ``trainer``'s model file (see :func:`save`).

    Returns
    -------
    bytes
    """
    buffer = io.BytesIO()
    save(trainer, buffer)
    return buffer.getvalue()


def from_bytes(data, cls=None):
    """A trainer from the bytes :func:`to_bytes` made (see :func:`load`).

    Returns
    -------
    Trainer
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"from_bytes needs bytes; got {type(data).__name__}")
    return load(io.BytesIO(data), cls=cls, _name="the model bytes")


# What a model file holds of a trainer; everything else in its __dict__ is pickled as is.
_IN_THE_FILE = ("_hparams", "_dtype", "seed_", "_net", "_task", "_n_features", "epoch_",
                "_lr_scale", "history")


def pickle_state(trainer):
    """``trainer.__getstate__``: a built trainer travels as its model file's bytes (arrays
    and JSON); the lock and the running-fit marker never travel."""
    state = {k: v for k, v in trainer.__dict__.items() if k not in ("_lock", "_fitting")}
    if trainer.is_built:
        state = {k: v for k, v in state.items() if k not in _IN_THE_FILE}
        state["_model_file"] = to_bytes(trainer)
    return state


def restore_state(trainer, state):
    """``trainer.__setstate__``: the inverse of :func:`pickle_state`."""
    state = dict(state)
    data = state.pop("_model_file", None)
    if data is not None:
        trainer.__dict__.update(from_bytes(data, cls=type(trainer)).__dict__)
    else:
        trainer.__dict__.update(_lock=threading.RLock(), _fitting=None)
    trainer.__dict__.update(state)


def _describe(file):
    if hasattr(file, "read"):
        return getattr(file, "name", None) or "the model file object"
    return os.fspath(file)


def _head(file):
    """The first 4 bytes of ``file`` (its position unchanged)."""
    if hasattr(file, "read"):
        start = file.tell()
        head = file.read(4)
        file.seek(start)
        return head
    with open(file, "rb") as f:
        return f.read(4)


class _Archive:
    """A model file's members, read one at a time: each member's header (shape and
    dtype) can be checked before its data is read - and so allocated.

    Every member must be stored uncompressed, as :func:`save` writes them: its bytes
    are then really in the file, so no header can ask for more memory than the file
    holds (a compressed member could inflate to any size).
    """

    def __init__(self, file, name):
        self.name = name
        if _head(file) != _NPZ_MAGIC:
            raise ValueError(f"{name} is not an hpframe model file (it is not an .npz "
                             "archive; save one with Trainer.save)")
        try:
            self.zip = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            self._damaged(exc)
        members = sorted(self.zip.namelist())
        if members != sorted(f"{k}.npy" for k in ARRAYS):
            self.zip.close()
            raise ValueError(f"{name} is not an hpframe model file (it holds "
                             f"{[m.removesuffix('.npy') for m in members]}; a model file "
                             f"holds {sorted(ARRAYS)})")

    def _damaged(self, exc):
        raise ValueError(f"{self.name} is not a readable hpframe model file (damaged or "
                         f"truncated: {exc})") from None

    def header(self, key):
        """``(shape, dtype)`` of member ``key``, from its header alone."""
        info = self.zip.getinfo(f"{key}.npy")
        try:
            with self.zip.open(info) as f:
                major, _ = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if major == 1 else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
                data_start = f.tell()
        except (ValueError, EOFError, OSError, zipfile.BadZipFile) as exc:
            self._damaged(exc)
        if dtype.hasobject:
            raise ValueError(f"{self.name} is not an hpframe model file ({key} holds Python "
                             "objects, which hpframe never loads)")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{self.name} is not an hpframe model file ({key} is stored "
                             "compressed; hpframe writes, and reads, uncompressed members)")
        if data_start + dtype.itemsize * math.prod(shape) != info.file_size:
            raise ValueError(f"{self.name} is not a readable hpframe model file ({key}'s "
                             f"header says {shape} {dtype}, which is not the "
                             f"{info.file_size - data_start} bytes the file holds)")
        return shape, dtype

    def read(self, key):
        """Member ``key``'s array (check its :meth:`header` first)."""
        try:
            with self.zip.open(f"{key}.npy") as f:
                return np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, EOFError, OSError, zipfile.BadZipFile) as exc:
            self._damaged(exc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()


def _read_meta(archive, name):
    shape, dtype = archive.header("meta")
    if shape != () or dtype.kind != "U":
        raise ValueError(f"{name}: corrupt metadata: 'meta' must be one JSON string; got "
                         f"an array of shape {shape} and dtype {dtype}")
    try:
        meta = json.loads(str(archive.read("meta")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: corrupt metadata: {exc}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{name}: corrupt metadata: not a JSON object")
    if meta.get("format") != "hpframe.Trainer" or \
            meta.get("format_version") not in range(1, FORMAT_VERSION + 1):
        raise ValueError(f"{name}: unsupported format {meta.get('format')!r} version "
                         f"{meta.get('format_version')!r} (this hpframe reads versions "
                         f"1 to {FORMAT_VERSION})")
    # version 1 had one dropout generator for all hidden layers
    rng_key = "dropout_rngs" if meta["format_version"] >= 2 else "dropout_rng"
    missing = sorted({"hparams", "seed_", "classes", "classes_kind", "n_features",
                      "n_outputs", "task", "step", "first_loss", "shuffle_rng", rng_key,
                      "epoch", "history"} - set(meta))
    if missing:
        raise ValueError(f"{name}: corrupt metadata: no {', '.join(missing)}")
    return meta, rng_key


def _integer(meta, key, name, low, high=None):
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low or \
            (high is not None and value > high):
        allowed = f"an integer >= {low}" + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"{name}: corrupt metadata: {key}={value!r}; must be {allowed}")
    return value


def _hparams(meta, name):
    try:
        return HyperParams.from_dict(meta["hparams"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: corrupt metadata: hparams: {exc}") from None


def _task(meta, hparams, n_outputs, dtype, name):
    """The task the file names, checked against its loss, outputs and classes."""
    classes, kind = meta["classes"], meta["classes_kind"]
    try:
        expected = tasks.for_build(hparams.loss, n_outputs, dtype).name
    except ValueError as exc:
        raise ValueError(f"{name}: corrupt metadata: n_outputs: {exc}") from None
    if meta["task"] != expected:
        raise ValueError(f"{name}: corrupt metadata: task={meta['task']!r}; a model with "
                         f"loss={hparams.loss!r} and {n_outputs} output(s) is {expected!r}")
    if expected == tasks.REGRESSION:
        if classes is not None:
            raise ValueError(f"{name}: corrupt metadata: classes must be null for regression")
        return tasks.from_name(expected, hparams.loss, n_outputs, None, dtype)
    n_classes = 2 if expected == tasks.BINARY else n_outputs
    if not isinstance(classes, list) or len(classes) != n_classes or \
            not all(isinstance(c, (int, float, str)) for c in classes):
        raise ValueError(f"{name}: corrupt metadata: classes must be a list of "
                         f"{n_classes} labels; got {classes!r}")
    if kind not in ("i", "u", "f", "b", "U", "S", "O"):
        raise ValueError(f"{name}: corrupt metadata: classes_kind={kind!r}")
    classes = np.asarray(classes, dtype=None if kind in "iufb" else str)
    if len(np.unique(classes)) != n_classes or not (np.sort(classes) == classes).all():
        raise ValueError(f"{name}: corrupt metadata: classes must be distinct and sorted; "
                         f"got {classes.tolist()!r}")
    return tasks.from_name(expected, hparams.loss, n_outputs, classes, dtype)


def _check_headers(archive, hparams, sizes, name):
    """Each array's header against the shapes in the metadata (Python ints: nothing
    is read, so nothing is allocated, yet)."""
    n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    n_state = _STATE_BUFFERS[hparams.optimizer]
    dtype = np.dtype(hparams.dtype)
    for key, n in (("params", n_params), ("state_1", n_params if n_state >= 1 else 0),
                   ("state_2", n_params if n_state >= 2 else 0)):
        shape, saved_dtype = archive.header(key)
        if shape != (n,) or saved_dtype != dtype:
            raise ValueError(f"{name}: {key} has shape {shape} and dtype {saved_dtype}; "
                             f"layers {list(sizes)} with optimizer={hparams.optimizer!r} need "
                             f"({n},) {dtype}")


def _read_arrays(archive, name, diverged):
    """The parameter and state arrays (headers checked); finite unless training diverged."""
    arrays = {}
    for key in ("params", "state_1", "state_2"):
        arrays[key] = archive.read(key)
        if not diverged and not np.isfinite(arrays[key]).all():
            raise ValueError(f"{name}: {key} contains NaN or infinity, and the history "
                             "records no divergence")
    return arrays


def _rng_state(rng, state, key, name):
    try:
        rng.state = state
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise ValueError(f"{name}: corrupt metadata: {key} is not a PCG64 generator "
                         f"state ({type(exc).__name__}: {exc})") from None


def load(file, cls=None, _name=None):
    """Load a trainer saved by :func:`save` (arrays and JSON only; never executes code).

    Parameters
    ----------
    file : str, path-like or binary file object
    cls : type, optional
        The Trainer class to build (default :class:`hpframe.Trainer`).

    Returns
    -------
    Trainer

    Raises
    ------
    ValueError
        Not an hpframe model file, or metadata that disagrees with the arrays or
        holds an impossible value (the message names the entry).
    """
    if cls is None:
        from hpframe.trainer import Trainer as cls
    name = _name or _describe(file)
    with _Archive(file, name) as archive:
        return _load(archive, cls, name)


def _load(archive, cls, name):
    meta, rng_key = _read_meta(archive, name)
    hparams = _hparams(meta, name)
    n_features = _integer(meta, "n_features", name, 1)
    n_outputs = _integer(meta, "n_outputs", name, 1)
    sizes = (n_features, *hparams.hidden_layers, n_outputs)
    try:
        history = History.from_dict(meta["history"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{name}: corrupt metadata: history: {exc}") from None
    _check_headers(archive, hparams, sizes, name)
    task = _task(meta, hparams, n_outputs, np.dtype(hparams.dtype), name)
    seed = _integer(meta, "seed_", name, 0)
    step = _integer(meta, "step", name, 0)
    epoch = _integer(meta, "epoch", name, 0)
    first_loss = meta["first_loss"]
    if first_loss is None:                 # json writes NaN as NaN; older files may hold null
        first_loss = math.nan
    if isinstance(first_loss, bool) or not isinstance(first_loss, numbers.Real):
        raise ValueError(f"{name}: corrupt metadata: first_loss={first_loss!r}; must be a number")
    lr_scale = meta.get("lr_scale", 1.0)          # versions 1 and 2: no callback could set it
    if isinstance(lr_scale, bool) or not isinstance(lr_scale, numbers.Real) or \
            not 0 <= lr_scale < math.inf:
        raise ValueError(f"{name}: corrupt metadata: lr_scale={lr_scale!r}; must be a "
                         "finite number >= 0")
    # The buffers' rows: what training used (clipped batch, at least EVAL_ROWS), never
    # the raw batch_size; older files did not record it, and fit grows it when needed.
    capacity = EVAL_ROWS
    if "capacity" in meta:
        capacity = _integer(meta, "capacity", name, 1, max(hparams.batch_size, EVAL_ROWS))
    if rng_key == "dropout_rngs":
        states = meta["dropout_rngs"]
        n_hidden = len(hparams.hidden_layers)
        if not isinstance(states, list) or len(states) != n_hidden:
            raise ValueError(f"{name}: dropout_rngs should hold {n_hidden} generator states, "
                             "one per hidden layer; it holds "
                             f"{len(states) if isinstance(states, list) else states!r}")
    else:
        # version 1's one generator becomes the first layer's (the same masks for
        # one hidden layer; deeper networks continue with fresh masks below it)
        states = [meta["dropout_rng"]]

    arrays = _read_arrays(archive, name, diverged=history.diverged)
    trainer = cls(hparams)
    trainer.seed_ = seed
    trainer._allocate(n_features, task, capacity, initialise=False)
    net = trainer._net
    for key in ("params", "state_1", "state_2"):
        getattr(net, key)[...] = arrays[key]
    net.set_step(step)
    net.first_loss = float(first_loss)
    _rng_state(net.shuffle_rng, meta["shuffle_rng"], "shuffle_rng", name)
    for l, (rng, state) in enumerate(zip(net.dropout_rngs, states)):
        _rng_state(rng, state, f"{rng_key}[{l}]", name)
    trainer.epoch_ = epoch
    trainer.lr_scale = float(lr_scale)
    trainer.history = history
    return trainer
