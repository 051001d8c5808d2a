r"""Asynchronous successive halving (ASHA) and Hyperband's brackets on top of it.

Synchronous successive halving (:func:`~hpframe.successive_halving`) waits for a
whole rung before promoting anyone, so a few slow trials hold every worker idle.
ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys
2020) decides each time a worker is free: going down from the highest rung, the
first trial that is among the best :math:`1/\eta` of the trials *finished so far*
in its rung, and not yet promoted, is promoted to the next rung; if there is none,
a new configuration starts at the bottom rung. No worker waits for a rung to fill.
With every trial finished, each rung has promoted its best
:math:`\lfloor n_k / \eta \rfloor` of its :math:`n_k` trials - and possibly a few
more: a promotion decided early, on part of the rung, is never taken back, even if
the trial later drops out of the rung's best. That is the price of never waiting.

``promotion="certain"`` keeps the asynchrony but not that price: a trial is promoted
as soon as it is *sure* to be among its rung's planned best - when even if every
trial of the rung still to finish did better, it would stay in. Near the end of each
rung the sure trials go on while its last trials still train, so no worker waits
for the slowest trial of a rung, and the promotions are exactly synchronous
halving's. Use ``"eager"`` when models trained to the end are wanted soonest, or the
search is cut by ``timeout``; use ``"certain"`` to get halving's result sooner.

Hyperband (Li et al., JMLR 2017) hedges the one choice halving leaves open - how
few epochs are enough to judge a trial - by running several *brackets*: bracket
:math:`s` starts :math:`\lceil (s_{max}+1)\,\eta^s/(s+1) \rceil` configurations at
:math:`max\_epochs \cdot \eta^{-s}` epochs and halves them from there; bracket 0 trains
its few configurations fully from the start. Here every bracket is an ASHA
bracket, all sharing the same workers.

With ``"eager"``, which trial a free worker gets depends on which trials have
finished, so the promotions - unlike every trial's training - depend on the order
in which trials finish when several run at once; serially (``n_jobs=1``) the order,
and so the result, is fixed by the seed. With ``"certain"`` they never do. The log records every trial at every rung; resuming
rebuilds the rungs from it and goes on with the same rule. With ``storage``,
several processes share the rungs through a database and each free worker
applies the same rule to the whole search (:mod:`hpframe.search.storage`).
"""
import math

from hpframe.hparams import HyperParams
from hpframe.search import spaces as S
from hpframe.search.runner import TaskSource
from hpframe.search.strategies import (_absorb, _check_base, _check_int, _check_rungs,
                                       _check_search, _configs, _held_out, _open_store,
                                       _run_shared, _Search, rung_epochs, rung_sizes)

__all__ = ["asha", "hyperband", "hyperband_brackets"]


class _Bracket:
    def __init__(self, numbers, first, rungs):
        self.numbers = list(numbers)     # its configurations, in start order
        self.first = first               # global index of its first rung
        self.rungs = list(rungs)         # total epochs at each of its rungs
        self.started = 0


class _ASHA(_Search):
    """Asynchronous promotions on the shared engine."""

    def checkpoints_out(self, number, blob, rung):
        if blob is not None:
            self._checkpoints[number] = (rung, blob)

    def _done(self, task, outcome):
        self._running.discard((task.number, task.rung))
        super()._done(task, outcome)

    def _promotable(self, bracket):
        planned = rung_sizes(len(bracket.numbers), len(bracket.rungs), self._eta)
        size = len(bracket.numbers)         # trials rung 0 will hold (an upper bound above)
        firsts = []
        for local in range(len(bracket.rungs) - 1):
            k = bracket.first + local
            finished = [self.records[(n, k)] for n in bracket.numbers if (n, k) in self.records]
            ranked = sorted((t for t in finished if t.ok),
                            key=lambda t: (self.metric.sort_key(t.value), t.number))
            if self._promotion == "eager":
                allowed = len(finished) // self._eta
            else:   # only the trials no unfinished one can push out of the planned best
                allowed = planned[local + 1] - (size - len(finished))
            firsts.append((local, k, ranked[:max(0, allowed)]))
            # the next rung's size is known once this one has finished
            size = (min(planned[local + 1], len(ranked)) if len(finished) == size
                    else planned[local + 1])
        for local, k, best in reversed(firsts):             # highest rung first
            for trial in best:
                key = (trial.number, k + 1)
                if key not in self.records and key not in self._running:
                    return trial.number, local + 1
        return None

    def _task_at(self, bracket, number, local, pool):
        k = bracket.first + local
        increments = [bracket.rungs[0]] + [b - a for a, b in zip(bracket.rungs,
                                                                 bracket.rungs[1:])]
        saved = self._checkpoints.pop(number, None) if local > 0 else None
        blob = saved[1] if saved is not None and saved[0] == k - 1 else None
        prior = self.records[(number, k - 1)].train_time if local > 0 else 0.0
        fits = increments[local:local + 1] if blob is not None else increments[:local + 1]
        self._running.add((number, k))
        return self.task(number, fits, pool, rung=k, checkpoint=blob,
                         keep_state=local < len(bracket.rungs) - 1, prior_time=prior)

    def _next(self, pool):
        for bracket in self._brackets:                      # promotions first
            found = self._promotable(bracket)
            if found is not None:
                return self._task_at(bracket, found[0], found[1], pool)
        for bracket in self._brackets:                      # then a new configuration
            while bracket.started < len(bracket.numbers):
                number = bracket.numbers[bracket.started]
                bracket.started += 1
                if (number, bracket.first) in self.records:
                    continue                                # finished before a resume
                _, hparams = self.configs[number]
                if not isinstance(hparams, HyperParams):
                    self.finish(self._invalid(number, hparams, bracket.first))
                    continue
                return self._task_at(bracket, number, 0, pool)
        return None

    def optimise(self, brackets, eta, rungs, space, promotion, storage=None):
        self._checkpoints, self._running = {}, set()
        self._brackets, self._eta, self._promotion = brackets, eta, promotion
        total = sum(_bracket_trials(b, eta) for b in brackets)
        if storage is None:
            self.read_log()
            with self.session(total, list(self.records.values())) as pool:
                self.run_source(TaskSource(lambda: self._next(pool)), pool)
        else:
            self._shared(storage, total)
        result = self.result(space)
        result.rungs = rungs
        result.records = sorted(self.records.values(), key=lambda t: (t.rung, t.number))
        return result

    # -- many processes, one search (storage=) ------------------------------------
    def _shared(self, storage, total):
        """Run with the other processes of ``storage``: each free worker decides with
        ASHA's rule from the whole search - every process's finished trials and live
        claims - and claims its decision in the same transaction."""
        _open_store(self, storage)
        try:
            _absorb(self, [(n, b.first + k) for b in self._brackets for n in b.numbers
                           for k in range(len(b.rungs))])
            with self.session(total, list(self.records.values())) as pool:
                decided = {}

                def pick(view):
                    decided["task"] = task = self._decide(view, pool)
                    return None if task is None else (task.number, task.rung)
                _run_shared(self, pick, lambda number, rung: decided.pop("task"), pool)
        finally:
            self.store.close()
            self.store = None

    def _decide(self, view, pool):
        # Trials running anywhere (or finished but refused by this search's records,
        # e.g. a death to retry only in a log) are not this process's to start.
        self._running = view.live | (view.done - set(self.records))
        for bracket in self._brackets:      # new configurations: the first not yet begun
            bracket.started = next((i for i, n in enumerate(bracket.numbers)
                                    if (n, bracket.first) not in self.records
                                    and (n, bracket.first) not in self._running),
                                   len(bracket.numbers))
        return self._next(pool)


PROMOTIONS = ("eager", "certain")


def _check_promotion(promotion):
    if not isinstance(promotion, str) or promotion not in PROMOTIONS:
        raise ValueError(f"promotion must be one of {', '.join(map(repr, PROMOTIONS))}; "
                         f"got {promotion!r}")
    return promotion


def _header(header, promotion):
    # an eager search's log reads as before; a certain one's is not resumed as eager
    return header if promotion == "eager" else {**header, "promotion": promotion}


def _bracket_trials(bracket, eta):
    """Trials (one per configuration and rung) a bracket runs when it completes."""
    n, total = len(bracket.numbers), 0
    for _ in bracket.rungs:
        total += n
        n //= eta
    return total


def _prepare(X, y, space, base, metric, seed, timeout, verbose, validation_data, cv, repeats,
             min_epochs, max_epochs, eta, who):
    base = _check_base(base, _held_out(validation_data, cv))
    min_epochs, max_epochs, eta = _check_rungs(base, space, min_epochs, max_epochs, eta, who)
    base = base.replace(epochs=max_epochs)
    X, y, space, metric, seed, scoring = _check_search(
        X, y, space, base, metric, seed, timeout, verbose, validation_data, cv, repeats)
    return X, y, space, base, metric, seed, scoring, min_epochs, max_epochs, eta


def asha(X, y, space, n_trials=27, min_epochs=1, max_epochs=None, eta=3, base=None,
         metric="val_loss", seed=0, n_jobs=1, executor=None, timeout=None, log=None,
         verbose=1, validation_data=None, cv=None, repeats=1, promotion="eager",
         storage=None):
    r"""Asynchronous successive halving: promote a trial as soon as its rung allows.

    Like :func:`successive_halving`, configurations start with ``min_epochs`` and
    the best :math:`1/\eta` of each rung continue (from where they stopped) to
    :math:`\eta` times the epochs, up to ``max_epochs``. Unlike it, nothing waits
    for a rung to fill: whenever a worker is free it gets the first trial that is
    in the best :math:`1/\eta` of the finished trials of its rung (highest rung
    first), or else a new configuration. See :mod:`hpframe.search.asha`.

    Parameters
    ----------
    X, y, space
        As for :func:`random_search`; configuration ``i`` draws the same values as
        trial ``i`` of a random search with the same ``seed``.
    n_trials : int, default 27
        Number of configurations.
    min_epochs, max_epochs, eta
        As for :func:`successive_halving`.
    base, metric, seed, n_jobs, executor, timeout, log, verbose, validation_data, cv, repeats
        As for :func:`random_search`.
    promotion : {"eager", "certain"}, default "eager"
        When a finished trial may be promoted.

        * ``"eager"`` - Li et al.'s rule: when it is among the best
          :math:`\lfloor f/\eta \rfloor` of the :math:`f` trials finished in its rung
          so far. Models trained to ``max_epochs`` come soonest, but a promotion decided
          on part of a rung is never taken back, so it trains more epochs in all than
          :func:`successive_halving` and which trials reach the top depends on the
          order trials finish in.
        * ``"certain"`` - only when no trial still to finish in its rung can push it
          out of the rung's planned best (``n_trials``, ``n_trials // eta``, ... as
          :func:`successive_halving` plans them): the same
          trials as :func:`successive_halving` reach each rung, with the same results
          whatever the order of finishing, but no worker waits for a whole rung - the
          surely-promoted trials go on while the rung's last trials still train.
    storage : str, optional
        ``"sqlite:///study.db"``, or any SQLAlchemy URL: several processes running
        this same call share one asynchronous search (see
        :mod:`hpframe.search.storage`). Whenever one of their workers is free, it
        decides with the ``promotion`` rule from the whole search - every process's
        finished trials at every rung and every trial running anywhere - and claims
        its decision in the same transaction, so no configuration runs twice at a
        rung. A promoted trial continues from its previous rung's model if this
        process trained it, else is retrained from its seed first (the same model).
        A dead process's claim is run again; with nothing to claim, a process waits
        while others run trials, and every process returns the whole search's
        result. Replaces ``log``; rerunning the call resumes.

    Returns
    -------
    SearchResult
        One trial per configuration at the last rung it reached (``trial.rung``,
        ``trial.epochs``); ``records`` holds every rung; ``best`` is the best trial
        of the highest rung reached.

    Notes
    -----
    A trial's training is bit-reproducible wherever it runs. With
    ``promotion="eager"``, *which* trials are promoted depends on the order in which
    trials finish when several run at once; serially the result is fixed by
    ``seed``. With ``promotion="certain"`` it never depends on that order. A dead worker's trial is rerun (see :mod:`hpframe.search.runner`);
    a stopped search resumes from its log, retraining lost models from their seed.
    """
    n_trials = _check_int("n_trials", n_trials, 1)
    promotion = _check_promotion(promotion)
    (X, y, space, base, metric, seed, scoring, min_epochs, max_epochs,
     eta) = _prepare(X, y, space, base, metric, seed, timeout, verbose, validation_data, cv,
                     repeats, min_epochs, max_epochs, eta, "asha")
    rungs = rung_epochs(min_epochs, max_epochs, eta)
    configs = _configs(base, seed, ((i, S.sample(space, seed, i)) for i in range(n_trials)))
    search = _ASHA("asha", X, y, S.space_to_json(space), configs, base, metric, seed,
                   n_jobs, executor, timeout, log, verbose,
                   extra_header=_header({"n_trials": n_trials, "rungs": rungs, "eta": eta},
                                        promotion),
                   scoring=scoring)
    return search.optimise([_Bracket(range(n_trials), 0, rungs)], eta, rungs, space,
                           promotion, storage)


def hyperband_brackets(min_epochs, max_epochs, eta=3):
    r"""Hyperband's brackets: ``[(configurations, first rung index), ...]``.

    With the rungs ``rung_epochs(min_epochs, max_epochs, eta)`` (:math:`s_{max}+1`
    of them), bracket :math:`s = s_{max}, \dots, 0` starts
    :math:`\lceil (s_{max}+1)\,\eta^s / (s+1) \rceil` configurations at rung
    :math:`s_{max} - s`. E.g. ``(1, 9, 3)`` gives ``[(9, 0), (5, 1), (3, 2)]``.
    """
    s_max = len(rung_epochs(min_epochs, max_epochs, eta)) - 1
    return [(math.ceil((s_max + 1) * eta ** s / (s + 1)), s_max - s)
            for s in range(s_max, -1, -1)]


def hyperband(X, y, space, min_epochs=1, max_epochs=None, eta=3, base=None,
              metric="val_loss", seed=0, n_jobs=1, executor=None, timeout=None, log=None,
              verbose=1, validation_data=None, cv=None, repeats=1, promotion="eager",
              storage=None):
    r"""Hyperband: several brackets of asynchronous halving, from aggressive to none.

    Bracket :math:`s` starts many configurations with few epochs (the most
    aggressive, :math:`s = s_{max}`, with ``min_epochs``) or a few with many
    (:math:`s = 0`: ``max_epochs`` from the start, no halving), as
    :func:`~hpframe.search.asha.hyperband_brackets` lists; each bracket halves with ASHA's rule and all
    share the workers. Configurations are numbered bracket after bracket, each the
    draw of the random-search trial with its number.

    Parameters
    ----------
    X, y, space, min_epochs, max_epochs, eta, base, metric, seed, n_jobs, executor, timeout, log, verbose, validation_data, cv, repeats, promotion, storage
        As for :func:`asha`; with ``promotion="certain"`` each bracket promotes
        exactly as :func:`successive_halving` of its configurations would.

    Returns
    -------
    SearchResult
        As :func:`asha`'s; ``trial.rung`` is the rung of the full ladder
        ``rung_epochs(min_epochs, max_epochs, eta)``, whatever the bracket, so that
        trials rank by the epochs they reached.
    """
    promotion = _check_promotion(promotion)
    (X, y, space, base, metric, seed, scoring, min_epochs, max_epochs,
     eta) = _prepare(X, y, space, base, metric, seed, timeout, verbose, validation_data, cv,
                     repeats, min_epochs, max_epochs, eta, "hyperband")
    rungs = rung_epochs(min_epochs, max_epochs, eta)
    plan = hyperband_brackets(min_epochs, max_epochs, eta)
    brackets, start = [], 0
    for n, first in plan:
        brackets.append(_Bracket(range(start, start + n), first, rungs[first:]))
        start += n
    configs = _configs(base, seed, ((i, S.sample(space, seed, i)) for i in range(start)))
    search = _ASHA("hyperband", X, y, S.space_to_json(space), configs, base, metric, seed,
                   n_jobs, executor, timeout, log, verbose,
                   extra_header=_header({"brackets": plan, "rungs": rungs, "eta": eta},
                                        promotion),
                   scoring=scoring)
    return search.optimise(brackets, eta, rungs, space, promotion, storage)
