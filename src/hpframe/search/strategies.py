r"""The three search strategies: random search, grid search and successive halving.

All three share one engine (:class:`_Search`): check the inputs, fix every
trial's hyperparameters and seed up front, read the finished trials back from
the log, run the missing ones (serially, in local worker processes or on an
executor), log each one the moment it finishes, and return a
:class:`~hpframe.search.result.SearchResult`.
"""
import contextlib
import hashlib
import math
import numbers
import os
import time
import warnings

import numpy as np

from hpframe import _validation as V
from hpframe.hparams import HyperParams
from hpframe.trainer import DivergenceWarning
from hpframe.search import spaces as S
from hpframe.search import tpe
from hpframe.search.log import SearchLog, decode_number, normalise
from hpframe.search.progress import Progress
from hpframe.search.result import SearchResult
from hpframe.search import runner as _runner
from hpframe.search.runner import check_n_jobs, execute, make_pool
from hpframe.search.trial import Metric, Run, Task, Trial, single_blas_thread

__all__ = ["random_search", "grid_search", "successive_halving", "tpe_search"]


# --------------------------------------------------------------------------
# Checking the common arguments
# --------------------------------------------------------------------------
def _check_base(base, held_out=False):
    if base is None:
        base = HyperParams()
    elif isinstance(base, dict):
        base = HyperParams.from_dict(base)
    elif not isinstance(base, HyperParams):
        raise TypeError(f"base must be a HyperParams or a dict of its fields; got "
                        f"{type(base).__name__}")
    if held_out:
        # validation_data or cv takes the place of the held-out split
        base = base.replace(validation_split=0.0)
    elif base.validation_split == 0:
        raise ValueError("a search compares trials on validation data, but "
                         "base.validation_split is 0 (no validation data); set it in (0, 1), "
                         "e.g. base=hp.HyperParams(validation_split=0.2), or pass "
                         "validation_data=(X_val, y_val) or cv=k")
    if base.seed is None:
        base = base.replace(seed=0)     # every trial gets its own seed anyway
    return base


def _check_int(name, value, low):
    return V.check_int(name, value, low)


def _check_common(seed, timeout, verbose):
    seed = _check_int("seed", seed, 0)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) \
                or not timeout > 0 or not math.isfinite(timeout):
            raise ValueError(f"timeout must be None or a number of seconds > 0; got {timeout!r}")
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (a line per "
                         f"trial); got {verbose!r}")
    return seed


def _check_data(X, y):
    X = V.check_features(X, None)
    y = V.to_numpy(y, "y")
    V.check_length(X, y)
    return X, y


def _fingerprint(X, y):
    """Shapes, dtypes and a SHA-256 of the data, so a log is never reused on other data."""
    digest = hashlib.sha256()
    for array in (X, y):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        if array.dtype.hasobject:
            digest.update(repr(array.tolist()).encode())
        else:
            digest.update(np.ascontiguousarray(array).tobytes())
    return {"X": list(X.shape), "y": list(y.shape), "sha256": digest.hexdigest()}


def _check_search(X, y, space, base, metric, seed, timeout, verbose, validation_data, cv,
                  repeats, check=S.check_space):
    """What every search checks after its ``base``: the metric, seed, timeout and
    verbosity, the space (or grid, with ``check=S.check_grid``) against ``base``, the
    data; and the scoring. Returns ``(X, y, space, metric, seed, scoring)``."""
    metric = Metric(metric)
    seed = _check_common(seed, timeout, verbose)
    space = check(space, base)
    _check_metric_fits(metric, base, space)
    X, y = _check_data(X, y)
    return X, y, space, metric, seed, _Scoring(X, y, base, space, validation_data, cv,
                                               repeats, seed)


def _check_metric_fits(metric, base, space):
    """Catch the obvious mismatch before any trial runs: accuracy of a regression."""
    for objective in metric.objectives:
        _check_objective_fits(objective, base, space)


def _check_objective_fits(metric, base, space):
    if metric.key not in ("accuracy", "val_accuracy"):
        return
    losses = []
    for part in (space if isinstance(space, list) else [space]):
        entry = part.get("loss")
        for loss in [base.loss] if entry is None else S._values(entry):
            if loss not in losses:
                losses.append(loss)
    if all(loss in ("mse", "mae", "huber") for loss in losses):
        where = f"base.loss is {base.loss!r}" if "loss" not in S.keys(space) else \
            f"every loss searched ({', '.join(map(repr, losses))}) is"
        raise ValueError(f"metric {metric.key!r} is for classification, but {where} "
                         f"(regression); use metric='val_loss' or ('val_r2', 'max')")


# --------------------------------------------------------------------------
# Scoring: validation data, cross-validation, repeats
# --------------------------------------------------------------------------
def _held_out(validation_data, cv):
    return validation_data is not None or cv is not None


class _Scoring:
    """How each trial is scored: on ``base.validation_split``, on ``validation_data``,
    or by the mean over ``cv`` folds and/or ``repeats`` seeds."""

    def __init__(self, X, y, base, space, validation_data, cv, repeats, seed):
        self.repeats = _check_int("repeats", repeats, 1)
        if cv is not None:
            cv = _check_int("cv", cv, 2)
            if validation_data is not None:
                raise ValueError("pass validation_data or cv, not both: cv=k validates each "
                                 "model on a fold of X")
            if cv > len(X):
                raise ValueError(f"cv={cv} folds need at least {cv} samples; X has {len(X)}")
        self.cv = cv
        if _held_out(validation_data, cv) and "validation_split" in S.keys(space):
            raise ValueError("space searches validation_split, but validation_data or cv "
                             "takes its place; remove validation_split from the space")
        self.validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(f"validation_data must be a tuple (X_val, y_val); got "
                                f"{type(validation_data).__name__}")
            X_val = V.check_features(validation_data[0], None, name="X_val")
            y_val = V.to_numpy(validation_data[1], "y_val")
            V.check_length(X_val, y_val, "X_val", "y_val")
            if X_val.shape[1:] != X.shape[1:]:
                raise ValueError(f"validation_data: X_val has {X_val.shape[1]} features, X has "
                                 f"{X.shape[1]}")
            self.validation = (X_val, y_val)
        self.stratify = False
        self.folds = []                 # per repeat: list of (train, val) index arrays
        if cv is not None:
            losses = [base.loss] + [v for part in (space if isinstance(space, list)
                                                   else [space])
                                    for v in S._values(part.get("loss", [base.loss]))]
            self.stratify = y.ndim == 1 and not any(
                loss in ("mse", "mae", "huber") for loss in losses)
            self.folds = [kfold_indices(y, cv, seed, r, self.stratify)
                          for r in range(self.repeats)]

    @property
    def several(self):
        return self.cv is not None or self.repeats > 1

    def header(self):
        """What the log records (nothing for the default, so older logs still match)."""
        out = {}
        if self.validation is not None:
            out["validation_data"] = _fingerprint(*self.validation)
        if self.cv is not None:
            out["cv"] = {"folds": self.cv, "stratified": self.stratify}
        if self.repeats > 1:
            out["repeats"] = self.repeats
        return out

    def runs(self, trial_seed):
        """The runs of a trial whose own seed is ``trial_seed`` (None: one model)."""
        if not self.several:
            return None
        runs = []
        for r in range(self.repeats):
            seed = None if r == 0 else repeat_seed(trial_seed, r)
            if self.cv is None:
                runs.append(Run(seed=seed, repeat=r if self.repeats > 1 else None))
            else:
                for k, (train, val) in enumerate(self.folds[r]):
                    runs.append(Run(train=train, val=val, seed=seed, fold=k,
                                    repeat=r if self.repeats > 1 else None))
        return runs


def repeat_seed(trial_seed, repeat):
    """The training seed of repeat ``repeat`` (>= 1) of a trial whose seed is ``trial_seed``."""
    state = np.random.SeedSequence(trial_seed, spawn_key=(repeat,)).generate_state(1, np.uint32)
    return int(state[0])


def kfold_indices(y, k, seed, repeat=0, stratify=True):
    """``k`` folds of the rows of ``y``: a list of ``(train, val)`` index arrays.

    Rows are shuffled by a generator seeded by ``(seed, repeat)`` alone - every trial
    of a search sees the same folds - then dealt to the folds in turn. Stratified:
    each class's rows are shuffled and dealt in turn, one class after the other, so
    that every fold holds each class in the proportion of the whole (to one row)
    and fold sizes differ by at most one.

    Raises
    ------
    ValueError
        Stratified, and a class has fewer than ``k`` rows.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1 << 31, repeat)))
    n = len(y)
    if stratify:
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        if counts.min() < k:
            c = classes[int(np.argmin(counts))]
            c = c.item() if isinstance(c, np.generic) else c
            raise ValueError(f"cv={k} stratified folds need at least {k} samples of every "
                             f"class; class {c!r} has {counts.min()}. Use a smaller cv")
        order = np.concatenate([rng.permutation(np.flatnonzero(inverse.ravel() == c))
                                for c in range(len(classes))])
    else:
        order = rng.permutation(n)
    fold = np.empty(n, dtype=np.intp)
    fold[order] = np.arange(n) % k
    return [(np.flatnonzero(fold != i), np.flatnonzero(fold == i)) for i in range(k)]


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------
class _Search:
    """State shared by the strategies: data, configurations, log, pool, records."""

    def __init__(self, strategy, X, y, space_json, configs, base, metric, seed, n_jobs,
                 executor, timeout, log, verbose, extra_header=None, scoring=None):
        self.scoring = scoring
        self.strategy = strategy
        self.X, self.y = X, y
        self.base, self.metric, self.seed = base, metric, seed
        self.n_jobs = check_n_jobs(n_jobs)
        self.executor = executor
        self.timeout = timeout
        self.verbose = verbose
        self.configs = configs                  # number -> (values, HyperParams or error)
        self.header = {"strategy": strategy, "space": space_json,
                       "base": base.to_dict(), "seed": seed, "metric": metric.to_json(),
                       "data": _fingerprint(X, y), **(extra_header or {}),
                       **(scoring.header() if scoring is not None else {})}
        self.log = SearchLog(log, self.header) if log is not None else None
        self.store = None
        self.records = {}                       # (number, rung) -> Trial from the log
        self.trials = {}                        # number -> latest Trial
        self.stopped = None
        self.start = _runner._clock()
        self.deadline = None if timeout is None else self.start + timeout

    # -- building trials ----------------------------------------------------
    def _trial(self, number, outcome):
        values, hparams = self.configs[number]
        return Trial(number=number, hparams=hparams, params=dict(values),
                     seed=hparams.seed, status=outcome["status"], value=outcome["value"],
                     metrics=outcome["metrics"], history=outcome["history"],
                     train_time=outcome["train_time"], peak_memory=outcome["peak_memory"],
                     error=outcome["error"], memory_source=outcome["memory_source"],
                     rung=outcome["rung"], epochs=outcome["epochs"],
                     values=outcome.get("values"), value_sd=outcome.get("value_sd"),
                     scores=outcome.get("scores"))

    def _invalid(self, number, error, rung=0):
        """The record of a configuration HyperParams refused: failed without running."""
        values, _ = self.configs[number]
        hparams = self.base.replace(seed=S.trial_seed(self.seed, number))
        return Trial(number=number, hparams=hparams, params=dict(values), seed=hparams.seed,
                     status="failed", error=f"invalid configuration {values!r}: {error}",
                     rung=rung)

    # -- the log -------------------------------------------------------------
    def read_log(self):
        """Read the finished trials back from the log (and keep it open for appending)."""
        if self.log is None:
            return
        lines = self.log.open()
        try:
            self._take(lines)
        except BaseException:
            self.log.close()
            raise

    def _take(self, lines, where=None):
        where = where or (self.log.path if self.log is not None else "the log")
        for line, record in lines:
            number, rung = record.get("number"), record.get("rung", 0)
            if not isinstance(number, int) or number not in self.configs:
                continue                            # beyond this call's n_trials
            trial = _trial_from_record(record, where, line)
            if trial.status == "failed" and (trial.error or "").startswith(
                    _runner.UNCONFIRMED_DEATH):
                continue        # maybe a worker killed from outside: run the trial again
            values, hparams = self.configs[number]
            expected = {"params": dict(values), "hparams": hparams.to_dict()
                        if isinstance(hparams, HyperParams) else None}
            got = {"params": trial.params, "hparams": trial.hparams.to_dict()}
            if isinstance(hparams, HyperParams) and normalise(got) != normalise(expected):
                raise ValueError(
                    f"{where}, line {line}: trial {number} tried {trial.params}, but "
                    f"this search draws {dict(values)} for it; the log comes from a different "
                    "search. Pass a new log path, or delete the file to start over")
            self.records.setdefault((number, rung), trial)
            if number not in self.trials or self.trials[number].rung < rung:
                self.trials[number] = trial

    def finish(self, trial):
        """Record a finished trial: keep it, log it at once, show progress."""
        self.records[(trial.number, trial.rung)] = trial
        if trial.number not in self.trials or self.trials[trial.number].rung <= trial.rung:
            self.trials[trial.number] = trial
        if self.log is not None:
            self.log.append(trial.to_dict())
        if self.store is not None:
            self.store.finish(trial.to_dict())
        self.progress.update(trial)

    # -- running ---------------------------------------------------------------
    @contextlib.contextmanager
    def session(self, total, done):
        """The pool, progress display and log of one run; Ctrl-C anywhere inside ends
        the run cleanly (``stopped = "interrupted"``) instead of raising."""
        pool = None
        self.progress = Progress(total, self.metric, self.verbose, done=done,
                                 desc=self.strategy)
        try:
            pool = make_pool(self.n_jobs, self.executor)
            yield pool
        except KeyboardInterrupt:
            self.stopped = self.stopped or "interrupted"
            if pool is not None:
                pool.close(abandon=True)
        finally:
            if pool is not None:
                pool.close()
            self.progress.close(self.stopped)
            if self.log is not None:
                self.log.close()

    def run(self, tasks, pool):
        """Run tasks (Task objects; invalid configurations are recorded directly)."""
        runnable = []
        for task in tasks:
            _, hparams = self.configs[task.number]
            if isinstance(hparams, HyperParams):
                runnable.append(task)
            else:
                self.finish(self._invalid(task.number, hparams, task.rung))
        return self.run_source(runnable, pool)

    def run_source(self, runnable, pool):
        """Run a list of runnable tasks, or a :class:`~hpframe.search.runner.TaskSource`."""
        # One BLAS limit for the whole run: limiting and restoring around every trial
        # wakes OpenBLAS's thread pools in between, whose spinning threads then
        # compete with the trials for the cores.
        with warnings.catch_warnings(), single_blas_thread():
            if pool.shares_process:     # trials are threads: silence them all from here
                warnings.simplefilter("ignore", DivergenceWarning)
            stopped = execute(runnable, pool, lambda task, outcome: self._done(task, outcome),
                              self.deadline)
        if stopped and self.stopped is None:
            self.stopped = stopped
        return stopped

    def _done(self, task, outcome):
        trial = self._trial(task.number, outcome)
        self.checkpoints_out(task.number, outcome.get("checkpoint"), task.rung)
        self.finish(trial)

    def checkpoints_out(self, number, blob, rung):
        """Hook for successive halving, which keeps the trained models it may promote."""

    def task(self, number, fits, pool, rung=0, checkpoint=None, keep_state=False,
             prior_time=0.0):
        _, hparams = self.configs[number]
        hdict = hparams.to_dict() if isinstance(hparams, HyperParams) else None
        runs = validation = None
        if self.scoring is not None and hdict is not None:
            runs = self.scoring.runs(hdict["seed"])
            validation = self.scoring.validation
        return Task(number=number, hparams=hdict, data=(self.X, self.y), metric=self.metric,
                    runs=runs, validation=validation,
                    fits=list(fits), rung=rung, checkpoint=checkpoint,
                    keep_state=keep_state, prior_time=prior_time,
                    measure_memory=not pool.shares_process, quiet=not pool.shares_process,
                    stop=pool.stop, driver_pid=os.getpid())

    def result(self, space):
        result = self._result(space)
        result.sampled_space = space
        return result

    def _result(self, space):
        return SearchResult(
            trials=[self.trials[n] for n in sorted(self.trials)], metric=self.metric,
            space=S.merged(space), strategy=self.strategy, seed=self.seed, base=self.base,
            n_trials=len(self.configs),
            interrupted=self.stopped in ("interrupted", "broken"),
            timed_out=self.stopped == "timeout")


def _trial_from_record(record, path, line):
    try:
        record = dict(record)
        record["value"] = decode_number(record.get("value"))
        record["train_time"] = decode_number(record.get("train_time", 0.0))
        record["metrics"] = {k: decode_number(v) for k, v in record.get("metrics", {}).items()}
        record["history"] = {k: [decode_number(v) for v in col]
                             for k, col in record.get("history", {}).items()}
        record["params"] = {k: _untuple(v) for k, v in record.get("params", {}).items()}
        for key in ("values", "scores"):
            if record.get(key) is not None:
                record[key] = [decode_number(v) for v in record[key]]
        record["value_sd"] = decode_number(record.get("value_sd"))
        return Trial.from_dict(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}, line {line}: not a valid trial record ({exc})") from None


def _untuple(value):
    """JSON gives lists; searched values were tuples (hidden_layers) or scalars."""
    return tuple(_untuple(v) for v in value) if isinstance(value, list) else value


def _configs(base, seed, draws):
    """number -> (values, HyperParams, or the error text if HyperParams refuses them)."""
    configs = {}
    for number, values in draws:
        try:
            hparams = S.make_hparams(base, values, S.trial_seed(seed, number))
        except (TypeError, ValueError) as exc:
            hparams = str(exc)
        configs[number] = (values, hparams)
    return configs


def _run_plain(search, space_for_result, storage=None):
    """Random and grid search: one fit per trial, the missing trials only."""
    if storage is not None:
        return _run_stored(search, space_for_result, storage)
    search.read_log()
    missing = [n for n in sorted(search.configs) if (n, 0) not in search.records]
    done = [search.trials[n] for n in sorted(search.trials)]
    with search.session(len(search.configs), done) as pool:
        tasks = [search.task(n, [search.configs[n][1].epochs]
                             if isinstance(search.configs[n][1], HyperParams) else [1], pool)
                 for n in missing]
        search.run(tasks, pool)
    return search.result(space_for_result)


def _open_store(search, storage):
    from hpframe.search.storage import open_storage
    if search.log is not None:
        raise ValueError("pass log= or storage=, not both: the storage keeps every finished "
                         "trial, as the log would")
    search.store = open_storage(storage, search.header)
    return search.store


def _absorb(search, keys):
    """Take the trials ``(number, rung)`` of ``keys`` that other processes finished."""
    store = search.store
    wanted = {tuple(k) for k in keys}
    fresh = [(f"trial {n} rung {k}", r) for n, k, r in store.records()
             if (n, k) in wanted and (n, k) not in search.records]
    search._take(fresh, where=store.path)
    progress = getattr(search, "progress", None)
    for _, record in fresh:
        key = (record["number"], record.get("rung", 0))
        if progress is not None and key in search.records:
            progress.update(search.records[key])


def _plain_task(search, pool):
    def make(number, rung):
        return search.task(number, [search.configs[number][1].epochs], pool)
    return make


def _take_finished(search, view):
    """Take the trials that other processes finished, as ``view`` shows them."""
    fresh = view.records(sorted(k for k in view.done
                                if k not in search.records and k[0] in search.configs))
    search._take([(f"trial {n} rung {k}", r) for n, k, r in fresh], where=search.store.path)
    progress = getattr(search, "progress", None)
    for number, rung, _ in fresh:
        if progress is not None and (number, rung) in search.records:
            progress.update(search.records[(number, rung)])


def _run_shared(search, pick, make_task, pool):
    """Run trials with the other processes of ``search.store`` until none is left.

    A free worker claims the ``(number, rung)`` that ``pick(view)`` chooses from the
    search as the database shows it (every process's finished trials, taken into
    ``search.records`` first, and live claims); ``make_task(number, rung)`` builds
    its task (None: nothing to run, e.g. a configuration HyperParams refused and
    ``make_task`` recorded). When nothing can be claimed, the process waits while
    others run trials (one of them may make a trial claimable) and stops when no one
    does. Returns why it stopped early, or None.
    """
    from hpframe.search.storage import POLL_SECONDS
    store = search.store
    seen = {}

    def choose(view):
        _take_finished(search, view)
        seen["others"] = bool(view.live - store.mine)
        return pick(view)

    def next_task():
        while True:
            key = store.claim_with(choose)
            if key is None:
                return None
            task = make_task(*key)
            if task is not None:
                return task
    source = _runner.TaskSource(next_task, poll=POLL_SECONDS)
    while True:
        stopped = search.run_source(source, pool)
        if stopped or not seen.get("others"):
            return stopped
        time.sleep(POLL_SECONDS)


def _run_round(search, keys, pool, make_task):
    """Run the trials ``keys`` (``(number, rung)``) together with the other processes
    of ``search.store`` until every one is done; returns why it stopped early, or None.
    ``make_task(number, rung)`` builds the task of a claimed trial."""
    def pick(view):
        return next((k for k in keys if k not in search.records and view.free(k)), None)

    def make(number, rung):
        _, hparams = search.configs[number]
        if isinstance(hparams, HyperParams):
            return make_task(number, rung)
        search.finish(search._invalid(number, hparams, rung))
        return None
    return _run_shared(search, pick, make, pool)


def _run_stored(search, space, storage):
    """Random and grid search shared by many processes through ``storage``."""
    _open_store(search, storage)
    keys = [(n, 0) for n in sorted(search.configs)]
    try:
        _absorb(search, keys)
        done = [search.trials[n] for n in sorted(search.trials)]
        with search.session(len(keys), done) as pool:
            _run_round(search, keys, pool, _plain_task(search, pool))
    finally:
        search.store.close()
        search.store = None
    return search.result(space)


# --------------------------------------------------------------------------
# Public strategies
# --------------------------------------------------------------------------
def random_search(X, y, space, n_trials=20, base=None, metric="val_loss", seed=0, n_jobs=1,
                  executor=None, timeout=None, log=None, verbose=1, validation_data=None,
                  cv=None, repeats=1, storage=None):
    r"""Try ``n_trials`` random configurations and keep the best on validation data.

    Every trial trains a fresh :class:`~hpframe.Trainer` with ``base`` plus values
    drawn from ``space``, holds out ``base.validation_split`` of ``(X, y)`` for
    validation, and is scored by ``metric`` on that held-out part.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like
        Targets, as for :meth:`Trainer.fit`.
    space : dict of str to distribution, or list of such dicts
        Hyperparameter name -> :class:`Uniform`, :class:`LogUniform`,
        :class:`IntUniform` or :class:`Choice`. Names are checked against the
        fields of :class:`~hpframe.HyperParams` (a misspelt name is refused with the
        closest valid one), and so are the bounds and options. A list of dicts is a
        conditional space (as scikit-learn's ``param_distributions``): each trial
        picks one dict, each equally likely, then draws its values, e.g.
        ``[{"optimizer": Choice(["adam"])}, {"optimizer": Choice(["momentum"]),
        "momentum": Uniform(0.5, 0.99)}]`` searches momentum only with momentum.
    n_trials : int, default 20
        Number of configurations. Trial ``i`` is the same whatever ``n_trials`` is,
        so a larger ``n_trials`` only adds trials.
    base : HyperParams or dict, optional
        Everything not searched (default ``HyperParams()``). Needs
        ``validation_split > 0``. Its ``seed`` is replaced by each trial's own seed.
    metric : str, tuple or callable, default "val_loss"
        ``"val_loss"`` (minimised), ``"val_accuracy"`` (maximised), any history key
        with a direction as ``("val_r2", "max")``, or a callable ``f(trainer) ->
        float`` (minimised; ``(f, "max")`` to maximise) that runs where the trial
        runs. The value is read at the last epoch, or - when the ``patience``
        hyperparameter stopped training early and restored the best weights - at
        the epoch of those weights. ``"time"`` (the trial's training time) and
        ``"peak_memory"`` are objectives too. A tuple of objectives, e.g.
        ``("val_loss", "time")`` or ``("val_accuracy", "peak_memory")``, searches
        for the trade-off: ``result.pareto_front`` holds the trials no other beats
        on every objective; the first objective ranks the trials (``best``).
    seed : int, default 0
        Seeds everything: trial ``i``'s values and training seed come from
        ``(seed, i)`` alone.
    n_jobs : int, default 1
        Trials run at once on this machine, as threads of this process (the
        compiled core trains with the GIL released); ``-1``: one per core. Their
        memory is then estimated (:func:`hpframe.estimate_memory`), not measured.
        For trials isolated in worker processes (a crash or an out-of-memory kill
        takes only its own trial), pass ``executor=ProcessPoolExecutor(k)``.
    executor : concurrent.futures.Executor, optional
        Run trials there instead, e.g. ``ProcessPoolExecutor(4)`` or, for a dask
        cluster, ``distributed.Client(...).get_executor()``. Keeps as many trials in
        flight as the executor has workers (or ``n_jobs``, if > 1). The metric (if
        a callable) and the data are pickled to the workers.
    timeout : float, optional
        Seconds after which no new trial is launched; running trials finish.
    log : str or path-like, optional
        A JSON-lines file: a header, then one line per finished trial, written at
        once. Re-running the same call with the same log runs only the missing
        trials (failed ones are finished trials too: delete their lines to retry
        them); a log of another search (space, base, seed, metric, data) is refused.
    verbose : {0, 1, 2}, default 1
        0 silent; 1 a progress bar over trials with the best value so far and the
        time remaining (a line per trial when the output is not a terminal); 2 a
        line per trial.
    validation_data : tuple (X_val, y_val), optional
        Score every trial on this data instead of a held-out part of ``(X, y)``:
        trials train on all of ``X``. It takes the place of
        ``base.validation_split`` (set to 0 in every trial's hyperparameters; no
        error when it is 0).
    cv : int, optional
        ``k >= 2``: k-fold cross-validation. Each trial trains ``k`` models, each
        validated on one fold and trained on the others, and is scored by the mean
        of the ``k`` values (``trial.value_sd`` keeps their standard deviation,
        ``trial.scores`` each fold's value). Folds are stratified by class for
        classification (1-D labels, no regression loss searched), shuffled by
        ``seed`` alone, and the same for every trial. Takes the place of
        ``base.validation_split``, like ``validation_data``.
    repeats : int, default 1
        Train each configuration ``repeats`` times with different seeds (repeat 0
        with the trial's own seed) and score it by the mean, keeping the standard
        deviation, so that a small difference between trials is not read as a win.
        With ``cv``: repeated k-fold, each repeat with its own shuffle.
    storage : str, optional
        ``"sqlite:///study.db"``: several processes (terminals, a batch scheduler's
        array job) running this same call share the search through that SQLite
        file (Python's own ``sqlite3``). Any other SQLAlchemy URL, e.g.
        ``"postgresql://user@host/dbname"`` or ``"sqlite+pysqlite:///study.db"``,
        works the same through SQLAlchemy (``pip install sqlalchemy`` and the
        database's driver); a server's database holds one search. Each process
        claims trials nobody has (never two processes the same one), a dead
        process's claimed trial is claimed again, and every process returns the
        whole search's result once all trials are done - the same as one process
        alone would find. Replaces ``log`` (pass one or the other); rerunning the
        call resumes. See :mod:`hpframe.search.storage`.

    Returns
    -------
    SearchResult
        ``best``, ``best_params``, ``best_value``, ``trials``, ``interrupted``,
        ``summary()``, ``plot()``, ``to_dataframe()``, ``to_csv()``.

    Notes
    -----
    Results are bit-identical whether trials run serially, with ``n_jobs`` or on an
    executor: every trial runs BLAS single-threaded (a matrix product's last bits
    can depend on the number of threads). An executor's worker processes keep
    BLAS single-threaded after their first trial (dask workers start that way).

    Ctrl-C stops launching trials and returns the finished ones with
    ``interrupted=True``; the log keeps them. Trials running in threads stop
    after their current epoch and are dropped (they rerun on resume).

    ``trial.peak_memory`` is measured with :mod:`tracemalloc` when the trial ran
    alone in its process (serially, on a ``ProcessPoolExecutor`` or a dask worker
    with one thread), and :func:`hpframe.estimate_memory` otherwise (threads);
    ``trial.memory_source`` says which.

    On a dask cluster (``pip install "hpframe[dask]"``)::

        from distributed import Client
        client = Client("tcp://scheduler:8786")       # or Client() for a local one
        result = hp.random_search(X, y, space, n_trials=50, log="search.jsonl",
                                  executor=client.get_executor())

    Examples
    --------
    >>> import hpframe as hp
    >>> X, y = hp.datasets.load_digits()
    >>> space = {"learning_rate": hp.LogUniform(1e-4, 1e-1),
    ...          "hidden_layers": hp.Choice([(32,), (64,), (64, 64)])}
    >>> result = hp.random_search(X, y, space, n_trials=8, verbose=0,
    ...                           base=hp.HyperParams(epochs=5))       # doctest: +SKIP
    >>> result.best_params                                              # doctest: +SKIP
    {'hidden_layers': (64,), 'learning_rate': 0.0071...}
    """
    base = _check_base(base, _held_out(validation_data, cv))
    n_trials = _check_int("n_trials", n_trials, 1)
    X, y, space, metric, seed, scoring = _check_search(
        X, y, space, base, metric, seed, timeout, verbose, validation_data, cv, repeats)
    configs = _configs(base, seed, ((i, S.sample(space, seed, i)) for i in range(n_trials)))
    search = _Search("random_search", X, y, S.space_to_json(space), configs, base, metric,
                     seed, n_jobs, executor, timeout, log, verbose, scoring=scoring)
    return _run_plain(search, space, storage)


def grid_search(X, y, grid, base=None, metric="val_loss", seed=0, n_jobs=1, executor=None,
                timeout=None, log=None, verbose=1, validation_data=None, cv=None, repeats=1,
                storage=None):
    """Try every combination of the listed values.

    Parameters
    ----------
    X, y : array-like
        As for :func:`random_search`.
    grid : dict of str to list, or list of such dicts
        Hyperparameter name -> the values to try, e.g. ``{"learning_rate": [1e-3,
        1e-2], "batch_size": [16, 64]}`` (4 trials). Trials are numbered in
        ``itertools.product`` order, the last key varying fastest. A list of grids
        (as scikit-learn's ``ParameterGrid``): each grid's points in turn.
    base, metric, seed, n_jobs, executor, timeout, log, verbose, validation_data, cv, repeats, storage
        As for :func:`random_search`; ``seed`` gives each trial its training seed.

    Returns
    -------
    SearchResult
    """
    base = _check_base(base, _held_out(validation_data, cv))
    X, y, grid, metric, seed, scoring = _check_search(
        X, y, grid, base, metric, seed, timeout, verbose, validation_data, cv, repeats,
        check=S.check_grid)
    configs = _configs(base, seed, enumerate(S.grid_points(grid)))
    search = _Search("grid_search", X, y, S.space_to_json(grid), configs, base, metric,
                     seed, n_jobs, executor, timeout, log, verbose, scoring=scoring)
    return _run_plain(search, grid, storage)


def tpe_search(X, y, space, n_trials=20, base=None, metric="val_loss", seed=0, n_jobs=1,
               executor=None, timeout=None, log=None, verbose=1, validation_data=None,
               cv=None, repeats=1, n_startup_trials=10, batch=None, storage=None):
    r"""Search where good trials were found: the Tree-structured Parzen Estimator.

    The first ``n_startup_trials`` trials are random search's (the same draws).
    After them, every trial's values come from TPE (Bergstra et al., 2011; see
    :mod:`hpframe.search.tpe`): the finished trials are split into the best
    15% (at least 1, at most 25) and the rest, each hyperparameter gets a density
    :math:`\ell(x)` over the good trials' values and :math:`g(x)` over the others',
    and of 24 candidates drawn from :math:`\ell` the one with the largest
    :math:`\ell(x)/g(x)` is tried - the candidate with the largest expected
    improvement under the model.

    Parameters
    ----------
    X, y, space, n_trials, base, metric, seed, n_jobs, executor, timeout, log, verbose
        As for :func:`random_search`. ``space`` may be a list of dicts (which dict
        is then one more choice TPE learns). With several objectives, TPE ranks
        trials by the first.
    validation_data, cv, repeats, storage
        As for :func:`random_search`. With ``storage``, the processes share each
        batch's trials and wait for the batch to finish before proposing the next,
        so every process proposes, and returns, the same trials.
    n_startup_trials : int, default 10
        Random trials before TPE starts (its densities need observations).
    batch : int, optional
        Trials proposed at once after the start-up trials, each from the trials
        finished before its batch; the next batch waits for the whole batch.
        Default: the number of trials run at once (``n_jobs``, or the executor's
        workers), so that every worker is busy. The result depends on ``seed`` and
        ``batch`` only - never on which trial of a batch finished first - so pass
        the same ``batch`` to get the same trials serially, in threads, in
        processes or on dask.

    Returns
    -------
    SearchResult

    Notes
    -----
    Resuming from ``log`` proposes exactly the same trials again (a trial's
    proposal is a function of the finished trials before its batch, which are
    deterministic), checks the logged ones against them, and runs the missing
    ones. A larger ``n_trials`` only adds trials. A metric that measures time or
    memory is not deterministic, so neither are the proposals made from it.

    Examples
    --------
    >>> import hpframe as hp
    >>> X, y = hp.datasets.load_digits()
    >>> result = hp.tpe_search(X, y, {"learning_rate": hp.LogUniform(1e-4, 1e-1)},
    ...                        n_trials=20, base=hp.HyperParams(epochs=5),
    ...                        verbose=0)                             # doctest: +SKIP
    """
    base = _check_base(base, _held_out(validation_data, cv))
    n_trials = _check_int("n_trials", n_trials, 1)
    n_startup = _check_int("n_startup_trials", n_startup_trials, 1)
    X, y, space, metric, seed, scoring = _check_search(
        X, y, space, base, metric, seed, timeout, verbose, validation_data, cv, repeats)
    if batch is None:
        n = check_n_jobs(n_jobs)
        batch = n if executor is None or n > 1 else _runner._executor_width(executor)
    batch = _check_int("batch", batch, 1)
    search = _TPE("tpe_search", X, y, S.space_to_json(space), {}, base, metric, seed,
                  n_jobs, executor, timeout, log, verbose,
                  extra_header={"n_startup_trials": n_startup, "batch": batch},
                  scoring=scoring)
    return search.optimise(space, n_trials, n_startup, batch, storage)


class _TPE(_Search):
    """TPE on the shared engine: proposals batch by batch, each from the trials before."""

    def read_log(self):
        self._lines = []
        if self.log is None:
            return
        self._lines = self.log.open()

    def _where(self):
        return self.store.path if self.store is not None else \
            (self.log.path if self.log is not None else None)

    def _ranked_params(self, upto):
        """The searched values of trials 0..upto-1, best first (failed ones last)."""
        trials = [self.trials[n] for n in range(upto)]
        ok = sorted((t for t in trials if t.ok),
                    key=lambda t: (self.metric.sort_key(t.value), t.number))
        rest = [t for t in trials if not t.ok]
        return [t.params for t in ok + rest]

    def optimise(self, space, n_trials, n_startup, batch, storage=None):
        if storage is not None:
            _open_store(self, storage)
            self._lines = [(f"trial {n}", r) for n, _, r in self.store.records()]
            try:
                return self._optimise(space, n_trials, n_startup, batch)
            finally:
                self.store.close()
                self.store = None
        self.read_log()
        return self._optimise(space, n_trials, n_startup, batch)

    def _optimise(self, space, n_trials, n_startup, batch):
        done = {}
        for line, record in self._lines:
            number = record.get("number")
            if isinstance(number, int) and number < n_trials and number not in done:
                try:
                    done[number] = _trial_from_record(record, self._where(), line)
                except ValueError:
                    pass                    # reported when the trial's batch is checked
        try:
            with self.session(n_trials, list(done.values())) as pool:
                number = 0
                while number < n_trials:
                    end = min(n_trials, n_startup if number < n_startup else number + batch)
                    ranked = self._ranked_params(number) if number >= n_startup else None
                    draws = [(n, S.sample(space, self.seed, n) if n < n_startup
                              else tpe.propose(space, ranked, self.seed, n))
                             for n in range(number, end)]
                    self.configs.update(_configs(self.base, self.seed, draws))
                    numbers = set(range(number, end))
                    self._take([(line, r) for line, r in self._lines
                                if r.get("number") in numbers], where=self._where())
                    if self.store is not None:
                        stopped = _run_round(self, [(n, 0) for n in sorted(numbers)], pool,
                                             _plain_task(self, pool))
                    else:
                        tasks = [self.task(n, [self.configs[n][1].epochs]
                                           if isinstance(self.configs[n][1], HyperParams)
                                           else [1], pool)
                                 for n in range(number, end) if (n, 0) not in self.records]
                        stopped = self.run(tasks, pool)
                    if stopped or any(n not in self.trials for n in numbers):
                        break
                    number = end
        except BaseException:
            if self.log is not None:
                self.log.close()
            raise
        result = self.result(space)
        result.n_trials = n_trials
        return result


def _check_rungs(base, space, min_epochs, max_epochs, eta, who):
    """``(min_epochs, max_epochs, eta)`` of a halving search, checked (``max_epochs``
    None: ``base.epochs``); ``space`` must leave the epochs, the resource, alone."""
    if max_epochs is None:
        max_epochs = base.epochs
    min_epochs = _check_int("min_epochs", min_epochs, 1)
    max_epochs = _check_int("max_epochs", max_epochs, 1)
    if max_epochs < min_epochs:
        raise ValueError(f"max_epochs must be >= min_epochs; got max_epochs={max_epochs}, "
                         f"min_epochs={min_epochs}")
    eta = _check_int("eta", eta, 2)
    if "epochs" in S.keys(space):
        raise ValueError(f"space must not search 'epochs' in {who}: epochs are the resource "
                         "it allocates (set min_epochs and max_epochs)")
    return min_epochs, max_epochs, eta


def rung_epochs(min_epochs, max_epochs, eta):
    r"""Total epochs at each rung: ``min_epochs * eta**k``, the last one ``max_epochs``.

    With :math:`K = \lfloor \log_\eta(max/min) \rfloor` there are :math:`K + 1`
    rungs, e.g. ``(1, 9, 3) -> [1, 3, 9]`` and ``(1, 10, 3) -> [1, 3, 10]``.
    """
    rungs = [min_epochs]
    while rungs[-1] * eta <= max_epochs:
        rungs.append(rungs[-1] * eta)
    rungs[-1] = max_epochs
    return rungs


def successive_halving(X, y, space, n_trials=27, min_epochs=1, max_epochs=None, eta=3,
                       base=None, metric="val_loss", seed=0, n_jobs=1, executor=None,
                       timeout=None, log=None, verbose=1, validation_data=None, cv=None,
                       repeats=1, storage=None):
    r"""Successive halving: train many configurations briefly, continue only the best.

    Rung 0 trains all ``n_trials`` configurations for ``min_epochs`` epochs; each
    next rung keeps the best ``1/eta`` of the previous one (by ``metric``) and
    trains them further, to ``eta`` times as many epochs in total, until
    ``max_epochs``. A promoted trial *continues* training - parameters,
    optimizer state and random streams as they were - it does not restart.
    With ``eta=3``, ``n_trials=27``, ``min_epochs=1``, ``max_epochs=9``: 27 trials
    get 1 epoch, 9 of them reach 3, 3 reach 9; the budget is 27 + 18 + 18 = 63
    epochs instead of 27 * 9 = 243.

    Parameters
    ----------
    X, y, space
        As for :func:`random_search`; trial ``i`` draws the same values as trial
        ``i`` of a random search with the same ``seed``.
    n_trials : int, default 27
        Configurations in rung 0.
    min_epochs : int, default 1
        Epochs of rung 0.
    max_epochs : int, optional
        Epochs of the last rung (default ``base.epochs``). Every trial's
        ``hparams.epochs`` is set to it, so a cosine schedule spans the whole budget.
    eta : int, default 3
        The reduction factor (>= 2).
    base, metric, seed, n_jobs, executor, timeout, log, verbose, validation_data, cv, repeats, storage
        As for :func:`random_search`. Rungs run one after another; the trials of a
        rung run in parallel. With ``cv`` or ``repeats`` a promoted trial continues
        every one of its models. With ``storage`` the processes share every rung
        and wait for it to finish before promoting; a trial promoted in a process
        that did not train its previous rung is retrained there from its seed
        (the same model) before it continues.

    Returns
    -------
    SearchResult
        One trial per configuration, at the last rung it reached (``trial.rung``,
        ``trial.epochs``). ``best`` is the best trial of the highest rung reached.

    Notes
    -----
    The log holds one line per trial and rung. When a search resumes from its
    log, a promoted trial whose trained model was lost with the stopped process
    is retrained from its seed through the same earlier rungs, which gives exactly
    the same model (training is deterministic), before continuing.
    ``patience`` (early stopping) applies within each rung's training.
    """
    base = _check_base(base, _held_out(validation_data, cv))
    min_epochs, max_epochs, eta = _check_rungs(base, space, min_epochs, max_epochs, eta,
                                               "successive_halving")
    base = base.replace(epochs=max_epochs)
    n_trials = _check_int("n_trials", n_trials, 1)
    X, y, space, metric, seed, scoring = _check_search(
        X, y, space, base, metric, seed, timeout, verbose, validation_data, cv, repeats)
    rungs = rung_epochs(min_epochs, max_epochs, eta)
    configs = _configs(base, seed, ((i, S.sample(space, seed, i)) for i in range(n_trials)))
    search = _Halving("successive_halving", X, y, S.space_to_json(space), configs, base,
                      metric, seed, n_jobs, executor, timeout, log, verbose,
                      extra_header={"n_trials": n_trials, "rungs": rungs, "eta": eta},
                      scoring=scoring)
    return search.halve(rungs, eta, space, storage)


def rung_sizes(n_trials, n_rungs, eta):
    """Trials trained at each rung: ``n, n // eta, n // eta**2, ...``, at least 1."""
    sizes = [n_trials]
    for _ in range(n_rungs - 1):
        sizes.append(max(1, sizes[-1] // eta))
    return sizes


class _Halving(_Search):
    """Successive halving on top of the shared engine: rungs, promotions, checkpoints."""

    def checkpoints_out(self, number, blob, rung):
        if blob is not None:
            self._checkpoints[number] = (rung, blob)

    def halve(self, rungs, eta, space, storage=None):
        self._checkpoints = {}
        if storage is None:
            self.read_log()
            return self._halve(rungs, eta, space)
        _open_store(self, storage)
        try:
            _absorb(self, [(n, k) for n in self.configs for k in range(len(rungs))])
            return self._halve(rungs, eta, space)
        finally:
            self.store.close()
            self.store = None

    def _halve(self, rungs, eta, space):
        sizes = rung_sizes(len(self.configs), len(rungs), eta)
        increments = [rungs[0]] + [b - a for a, b in zip(rungs, rungs[1:])]
        with self.session(sum(sizes), list(self.records.values())) as pool:
            candidates = sorted(self.configs)
            for k, size in enumerate(sizes):
                if k > 0:
                    previous = [self.records[(n, k - 1)] for n in candidates
                                if (n, k - 1) in self.records]
                    if len(previous) < len(candidates):
                        break                   # the previous rung did not finish
                    ranked = sorted((t for t in previous if t.ok),
                                    key=lambda t: (self.metric.sort_key(t.value), t.number))
                    candidates = sorted(t.number for t in ranked[:size])
                    for n in list(self._checkpoints):
                        if n not in candidates:
                            del self._checkpoints[n]
                    if not candidates:
                        break
                def make(n, k, pool=pool):
                    # only a model of the rung just below continues (with other processes,
                    # this one may hold an older model of a trial someone else promoted)
                    saved = self._checkpoints.pop(n, None)
                    blob = saved[1] if saved is not None and saved[0] == k - 1 else None
                    prior = self.records[(n, k - 1)].train_time if k > 0 else 0.0
                    fits = increments[k:k + 1] if blob is not None else increments[:k + 1]
                    return self.task(n, fits, pool, rung=k, checkpoint=blob,
                                     keep_state=k < len(rungs) - 1, prior_time=prior)
                if self.store is not None:      # with other processes: whoever claims it
                    stopped = _run_round(self, [(n, k) for n in candidates], pool, make)
                else:
                    stopped = self.run([make(n, k) for n in candidates
                                        if (n, k) not in self.records], pool)
                if stopped:
                    break
        result = self.result(space)
        result.rungs = rungs
        result.records = sorted(self.records.values(), key=lambda t: (t.rung, t.number))
        return result
