"""What a search returns: every trial, the best one, a table and a plot."""
import csv
import math
import os

from hpframe._atomic import atomic_open
from hpframe._text import Text, pyplot
from hpframe.search.spaces import Choice, Distribution

__all__ = ["SearchResult", "Table"]


class Table(Text):
    """A ``str`` that shows as itself (not as a quoted repr) in a notebook."""

    __slots__ = ()


def _fmt_value(value):
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(str, value)) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def _fmt_param(trial, key):
    """A searched value, or "-" where a conditional space did not search it."""
    return _fmt_value(trial.params[key]) if key in trial.params else "-"


def _fmt_bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _last_line(text):
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


class SearchResult:
    """The outcome of a search: every trial, ranked by the metric.

    Attributes
    ----------
    trials : list of Trial
        Every finished trial, by number (including failed and diverged ones).
    metric : Metric
        What was optimised (``metric.name``, ``metric.mode``).
    space : dict
        The searched space (or grid).
    strategy : str
        ``random_search``, ``grid_search`` or ``successive_halving``.
    seed : int
    base : HyperParams
        The hyperparameters that were not searched.
    n_trials : int
        Trials the search was asked for (``len(trials)`` is smaller if it stopped early).
    interrupted : bool
        Ctrl-C (or an executor that broke) stopped the search early.
    timed_out : bool
        ``timeout`` stopped launching trials.
    rungs : list of int or None
        Successive halving: total epochs at each rung.
    records : list of Trial or None
        Successive halving: every trial at every rung it reached (``trials`` holds
        each trial at its last rung).
    """

    def __init__(self, trials, metric, space, strategy, seed, base, n_trials,
                 interrupted=False, timed_out=False):
        self.trials = list(trials)
        self.metric = metric
        self.space = space
        self.strategy = strategy
        self.seed = seed
        self.base = base
        self.n_trials = n_trials
        self.interrupted = bool(interrupted)
        self.timed_out = bool(timed_out)
        self.rungs = None
        self.records = None
        self.sampled_space = None

    # -- ranking ------------------------------------------------------------
    def _rank_key(self, trial):
        return (-trial.rung, self.metric.sort_key(trial.value), trial.number)

    def ranked(self):
        """Successful trials best first (highest rung first), then diverged, then failed.

        Returns
        -------
        list of Trial
        """
        ok = sorted((t for t in self.trials if t.ok), key=self._rank_key)
        diverged = [t for t in self.trials if t.status == "diverged"]
        failed = [t for t in self.trials if t.status == "failed"]
        return ok + diverged + failed

    @property
    def best(self):
        """The best successful trial (for successive halving: of the highest rung reached).

        Raises
        ------
        RuntimeError
            No trial succeeded; the message quotes the first trial's error.
        """
        ok = [t for t in self.trials if t.ok]
        if ok:
            return min(ok, key=self._rank_key)
        if not self.trials:
            raise RuntimeError("no trial finished: the search stopped before the first trial "
                               "ended")
        first = min(self.trials, key=lambda t: t.number)
        counts = ", ".join(f"{sum(t.status == s for t in self.trials)} {s}"
                           for s in ("failed", "diverged") if any(t.status == s
                                                                  for t in self.trials))
        raise RuntimeError(f"no trial succeeded ({counts} of {len(self.trials)}). The first "
                           f"one, trial {first.number} with {first.params}, ended "
                           f"{first.status}:\n{first.error}")

    @property
    def best_trial(self):
        """Alias of :attr:`best` (Optuna's name)."""
        return self.best

    @property
    def best_params(self):
        """The searched values of the best trial, as a dict (``base.replace(**best_params)``)."""
        return dict(self.best.params)

    @property
    def best_value(self):
        """The metric value of the best trial."""
        return self.best.value

    @property
    def complete(self):
        """True when every trial of the search has finished."""
        return not (self.interrupted or self.timed_out) and \
            len({t.number for t in self.trials}) == self.n_trials

    def objective_values(self, trial):
        """The trial's value for each objective (``[trial.value]`` for one objective)."""
        if trial.values is not None:
            return list(trial.values)
        return [trial.value]

    @property
    def pareto_front(self):
        r"""The successful trials that no other trial beats on every objective.

        Trial :math:`a` *dominates* :math:`b` when it is at least as good on every
        objective of ``metric`` and better on one; the front is every trial that no
        trial dominates - the best trade-offs, e.g. between ``val_loss`` and
        ``time``. With one objective it is the best trial (and any tie). For
        successive halving, each trial counts at the last rung it reached.

        Returns
        -------
        list of Trial
            Best first on the first objective (then by number).
        """
        ok = [t for t in self.trials if t.ok]
        values = {t.number: self.objective_values(t) for t in ok}
        front = [t for t in ok
                 if not any(self.metric.dominates(values[o.number], values[t.number])
                            for o in ok)]
        first = self.metric.objectives[0]
        return sorted(front, key=lambda t: (first.sort_key(values[t.number][0]), t.number))

    def importance(self, objective=None, seed=0):
        r"""Which knob mattered: the share of the metric's variance each hyperparameter
        explains on its own.

        The method is functional ANOVA (fANOVA; Hutter et al., 2014) on a
        random-forest model of the metric fitted to the successful trials (see
        :mod:`hpframe.search.importance`): hyperparameter :math:`i`'s share is the
        variance of the model averaged over every other hyperparameter, as a
        function of :math:`x_i` alone, over the variance of the model, both with
        every hyperparameter drawn from its search distribution. Shares add up to
        at most 1; the rest is interactions. Like any model fitted to a few dozen
        trials it is an estimate: a knob the search barely varied, or a metric
        with a lot of noise, gives uncertain shares.

        Parameters
        ----------
        objective : int or str, optional
            With several objectives, which one (index or name); default the first.
        seed : int, default 0
            Seeds the forest and the Monte Carlo draws.

        Returns
        -------
        dict of str to float
            Hyperparameter name -> share, largest first.

        Raises
        ------
        ImportError
            scikit-learn is not installed (``pip install scikit-learn``).
        ValueError
            Fewer than 4 successful trials, or an unknown objective.

        Examples
        --------
        >>> result.importance()                                 # doctest: +SKIP
        {'learning_rate': 0.81, 'dropout': 0.04, 'batch_size': 0.01}
        """
        from hpframe.search import importance as _importance
        j = self._objective_index(objective)
        trials = [t for t in (self.records or self.trials) if t.ok and t.rung == 0] \
            if self.rungs is not None else [t for t in self.trials if t.ok]
        if len(trials) < 4:
            raise ValueError(f"importance() needs at least 4 successful trials to fit its "
                             f"model; this search has {len(trials)}")
        space = self.sampled_space
        draw = None
        if space is not None and all(isinstance(d, Distribution) for part in
                                     (space if isinstance(space, list) else [space])
                                     for d in part.values()):
            def draw(rng):
                part = space[int(rng.integers(len(space)))] if isinstance(space, list) \
                    else space
                return {k: part[k].sample(rng) for k in sorted(part)}
        return _importance.importance(self.space, [t.params for t in trials],
                                      [self.objective_values(t)[j] for t in trials],
                                      seed=seed, draw=draw)

    def _objective_index(self, objective):
        names = self.metric.names
        if objective is None:
            return 0
        if isinstance(objective, int) and not isinstance(objective, bool) \
                and 0 <= objective < len(names):
            return objective
        if objective in names:
            return names.index(objective)
        raise ValueError(f"objective must be one of {names} or an index below "
                         f"{len(names)}; got {objective!r}")

    def plot_importance(self, objective=None, seed=0):
        """Bar chart of :meth:`importance`: each hyperparameter's share of the variance.

        Returns
        -------
        matplotlib.figure.Figure
        """
        plt = pyplot("SearchResult.plot_importance()")
        shares = self.importance(objective, seed)
        name = self.metric.names[self._objective_index(objective)]
        fig, ax = plt.subplots(figsize=(5.5, 0.5 + 0.45 * len(shares)))
        keys = list(shares)[::-1]
        ax.barh(keys, [shares[k] for k in keys], color="C0")
        for i, k in enumerate(keys):
            ax.text(shares[k], i, f" {shares[k]:.0%}", va="center", fontsize="small")
        rest = max(0.0, 1.0 - sum(shares.values()))
        ax.set_xlim(0, 1.1)
        ax.set_xlabel(f"share of the variance of {name} explained alone "
                      f"({rest:.0%} left to interactions)")
        ax.set_title(f"{self.strategy}: which knob mattered (fANOVA, random forest)",
                     fontsize="medium")
        fig.tight_layout()
        return fig

    def __len__(self):
        return len(self.trials)

    def __repr__(self):
        counts = {s: sum(t.status == s for t in self.trials) for s in ("ok", "diverged", "failed")}
        parts = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        text = f"<SearchResult {self.strategy}: {len(self.trials)} of {self.n_trials} trials"
        text += f" ({parts})" if parts else ""
        if counts["ok"]:
            best = self.best
            text += f"; best {self.metric.name} {best.value:.6g} (trial {best.number})"
        if self.interrupted:
            text += "; interrupted"
        if self.timed_out:
            text += "; timed out"
        return text + ">"

    # -- tables ---------------------------------------------------------------
    def to_records(self):
        """One flat dict per trial (what :meth:`to_dataframe` and :meth:`to_csv` hold).

        Columns: ``number``, ``status``, ``value`` (``value_sd`` with ``cv`` or
        ``repeats``), ``params_<name>`` for each searched
        hyperparameter, ``seed``, ``epochs``, ``rung``, ``train_time``, ``peak_memory``,
        ``memory_source``, every metric (final values and ``best_<name>``), ``error``.

        Returns
        -------
        list of dict
        """
        metric_keys = []
        for trial in self.trials:
            metric_keys += [k for k in trial.metrics if k not in metric_keys and k != "epochs"]
        rows = []
        for trial in self.trials:
            row = {"number": trial.number, "status": trial.status, "value": trial.value}
            if any(t.value_sd is not None for t in self.trials):
                row["value_sd"] = trial.value_sd
            for key in self.space:
                value = trial.params.get(key)
                row[f"params_{key}"] = str(value) if isinstance(value, tuple) else value
            row.update(seed=trial.seed, epochs=trial.epochs, rung=trial.rung,
                       train_time=trial.train_time, peak_memory=trial.peak_memory,
                       memory_source=trial.memory_source)
            for key in metric_keys:
                row[key] = trial.metrics.get(key)
            if self.metric.multi:
                for objective, value in zip(self.metric.objectives,
                                            trial.values or [None] * len(self.metric.names)):
                    row[f"value_{objective.name}"] = value
            row["error"] = trial.error
            rows.append(row)
        return rows

    def to_dataframe(self):
        """The trials as a pandas DataFrame, one row per trial (see :meth:`to_records`).

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ImportError
            pandas is not installed (``to_csv`` and ``to_records`` work without it).
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install pandas "
                              "(result.to_csv(path) and result.to_records() work without it)"
                              ) from None
        return pd.DataFrame(self.to_records())

    def to_csv(self, path):
        """Write the trials to a CSV file (no pandas needed).

        Parameters
        ----------
        path : str or path-like
            Replaced atomically: a crash or a full disk leaves the previous file.
        """
        rows = self.to_records()
        columns = list(rows[0]) if rows else ["number", "status", "value"]
        with atomic_open(os.fspath(path), "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})

    def summary(self, max_rows=None):
        """A ranked text table: the searched values, the metric, time, memory and status.

        Parameters
        ----------
        max_rows : int, optional
            Show only the best ``max_rows`` trials.

        Returns
        -------
        str
            Printable; shown as-is in a notebook. Memory marked ``~`` is an estimate
            (the trial shared its process), otherwise the measured peak.
        """
        ranked = self.ranked()
        shown = ranked if max_rows is None else ranked[:max_rows]
        keys = list(self.space)
        halving = self.rungs is not None
        # time and memory have their own columns
        shown_objectives = [j for j, o in enumerate(self.metric.objectives)
                            if not o.measured or j == 0]
        names = [self.metric.objectives[j].name for j in shown_objectives]
        head = ["rank", "trial"] + keys + names + \
            (["epochs"] if halving else []) + ["time", "memory", "status"]
        rows = []
        for rank, trial in enumerate(shown, start=1):
            memory = _fmt_bytes(trial.peak_memory)
            if trial.memory_source == "estimate":
                memory = "~" + memory
            rows.append([str(rank) if trial.ok else "-", str(trial.number)]
                        + [_fmt_param(trial, k) for k in keys]
                        + ([_fmt_value(self.objective_values(trial)[j])
                            + (f" ± {trial.value_sd:.2g}" if j == 0 and trial.value_sd
                               is not None else "")
                            for j in shown_objectives]
                           if trial.ok else ["-"] * len(names))
                        + ([str(trial.epochs)] if halving else [])
                        + [f"{trial.train_time:.2f}s", memory, trial.status])
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
        numeric = set(range(len(head))) - {head.index("status")} - \
            {2 + i for i, k in enumerate(keys)
             if not all(isinstance(t.params.get(k), (int, float))
                        and not isinstance(t.params.get(k), bool)
                        for t in shown if k in t.params)}

        def line(cells):
            return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        title = (f"{self.strategy}: {len(self.trials)} of {self.n_trials} trials, "
                 + ", ".join(f"{o.name} ({'lower' if o.mode == 'min' else 'higher'} is "
                             f"better)" for o in self.metric.objectives))
        if halving:
            title += f", rungs of {self.rungs} epochs"
        if self.interrupted:
            title += " - interrupted"
        if self.timed_out:
            title += " - timed out"
        rule = "  ".join("-" * w for w in widths)
        out = [title, rule, line(head), rule] + [line(r) for r in rows] + [rule]
        if len(shown) < len(ranked):
            out.append(f"... {len(ranked) - len(shown)} more trials")
        for trial in ranked:
            if not trial.ok:
                out.append(f"trial {trial.number} {trial.status}: {_last_line(trial.error)}")
        if self.metric.multi and any(t.ok for t in self.trials):
            out += [""] + self._front_summary()
        return Table("\n".join(out))

    def _front_summary(self):
        """The Pareto front, and what each point costs against the best on each objective."""
        front = self.pareto_front
        objectives = self.metric.objectives
        values = [self.objective_values(t) for t in front]
        best = [min((v[j] for v in values), key=o.sort_key) for j, o in enumerate(objectives)]
        head = ["trial"] + list(self.space) + [o.name for o in objectives] + ["costs"]
        rows = []
        for trial, vals in zip(front, values):
            costs = []
            for j, objective in enumerate(objectives):
                if vals[j] == best[j]:
                    costs.append(f"best {objective.name}")
                elif best[j] != 0:
                    change = (vals[j] - best[j]) / abs(best[j])
                    costs.append(f"{objective.name} {change:+.0%}")
                else:
                    costs.append(f"{objective.name} {vals[j] - best[j]:+.3g}")
            rows.append([str(trial.number)] + [_fmt_param(trial, k) for k in self.space]
                        + [_fmt_value(v) for v in vals] + [", ".join(costs)])
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

        def line(cells):
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
        rule = "  ".join("-" * w for w in widths)
        n_ok = sum(t.ok for t in self.trials)
        title = (f"Pareto front of {', '.join(self.metric.names)}: {len(front)} of {n_ok} "
                 f"successful trials (no other trial is as good on every objective and "
                 f"better on one); costs against the front's best on each objective")
        return [title, rule, line(head), rule] + [line(r) for r in rows] + [rule]

    # -- plot -------------------------------------------------------------------
    def plot(self):
        """Plot the metric against each searched hyperparameter, and best-so-far over trials.

        One panel per hyperparameter (a log axis for ``LogUniform`` and
        ``IntUniform(log=True)``, and for grids of positive values spanning at least
        two decades; categories for ``Choice``), the best trial marked, and a
        panel with every trial's value in order and the best value so far. For
        successive halving the points are coloured by rung, best-so-far is over
        rung 0 (where every trial had the same epochs), and a last panel follows
        each trial's value from rung to rung. With several objectives, a panel for
        each further objective comes first: every trial's first objective against
        it, the Pareto front (:attr:`pareto_front`) joined in red.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ImportError
            matplotlib is not installed.
        ValueError
            No trial succeeded: there is nothing to plot.
        """
        plt = pyplot("SearchResult.plot()")
        records = [t for t in (self.records or self.trials) if t.ok]
        if not records:
            raise ValueError("no trial succeeded: there is nothing to plot "
                             "(see result.summary() for the errors)")
        best = self.best
        keys = list(self.space)
        halving = self.rungs is not None
        n_front = len(self.metric.objectives) - 1
        n_panels = len(keys) + 1 + halving
        cols = min(3, n_panels + n_front)
        rows = math.ceil((n_panels + n_front) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
        axes = axes.ravel()
        for j in range(1, n_front + 1):
            self._plot_front(axes[j - 1], records, j)
        axes = axes[n_front:]
        groups = self._rung_groups(records)
        for ax, key in zip(axes, keys):
            categories = self._categories(key)
            index = None if categories is None else {repr(c): i for i, c in
                                                     enumerate(categories)}

            def x_of(trial):
                value = trial.params.get(key)
                return value if index is None else index[repr(value)]
            for label, color, group in groups:
                group = [t for t in group if key in t.params]    # conditional spaces
                ax.scatter([x_of(t) for t in group], [t.value for t in group], alpha=0.7,
                           color=color, label=label)
            if key in best.params:
                ax.scatter([x_of(best)], [best.value], marker="*", s=200, color="C3",
                           label="best", zorder=3)
            if categories is not None:
                ax.set_xticks(range(len(categories)))
                ax.set_xlim(-0.5, len(categories) - 0.5)       # every option, tried or not
                ax.set_xticklabels([_fmt_value(c) for c in categories],
                                   rotation=30 if len(categories) > 3 else 0)
            elif self._log_axis(key, [t.params[key] for t in records if key in t.params]):
                ax.set_xscale("log")
            ax.set_xlabel(key)
            ax.set_ylabel(self.metric.name)
        ax = axes[len(keys)]
        for label, color, group in groups:
            ax.scatter([t.number for t in group], [t.value for t in group], alpha=0.7,
                       color=color, label=label or "trial")
        first = sorted((t for t in records if t.rung == 0), key=lambda t: t.number)
        running, best_so_far = None, []
        for t in first:
            if running is None or self.metric.better(t.value, running):
                running = t.value
            best_so_far.append(running)
        ax.step([t.number for t in first], best_so_far, where="post", color="C3",
                label="best so far" + (" (rung 0)" if halving else ""))
        ax.set_xlabel("trial")
        ax.set_ylabel(self.metric.name)
        ax.legend(fontsize="small")
        if halving:
            ax = axes[len(keys) + 1]
            for number in sorted({t.number for t in records}):
                path = sorted((t for t in records if t.number == number), key=lambda t: t.rung)
                ax.plot([self.rungs[t.rung] for t in path], [t.value for t in path], "o-",
                        alpha=0.6, color="C3" if number == best.number else "C0")
            ax.set_xscale("log")
            ax.set_xticks(self.rungs)
            ax.set_xticklabels([str(r) for r in self.rungs])
            ax.set_xlabel("epochs (rungs)")
            ax.set_ylabel(self.metric.name)
            ax.set_title("promotions", fontsize="medium")
        for extra in axes[n_panels:]:
            extra.set_visible(False)
        fig.suptitle(f"{self.strategy}: " + ", ".join(
            f"{o.name} ({'lower' if o.mode == 'min' else 'higher'} is better)"
            for o in self.metric.objectives))
        fig.tight_layout()
        return fig

    def _plot_front(self, ax, records, j):
        """Objective ``j`` (x) against the first (y): every trial, the front joined."""
        first, other = self.metric.objectives[0], self.metric.objectives[j]
        points = [self.objective_values(t) for t in records if t.values is not None]
        ax.scatter([v[j] for v in points], [v[0] for v in points], alpha=0.5, color="C0",
                   label="trial")
        front = sorted((self.objective_values(t) for t in self.pareto_front),
                       key=lambda v: other.sort_key(v[j]))
        ax.step([v[j] for v in front], [v[0] for v in front], "o-", where="post",
                 color="C3", label="Pareto front")
        if other.measured == "peak_memory":
            other_label = "peak memory (bytes)"
        elif other.measured == "time":
            other_label = "training time (s)"
        else:
            other_label = other.name
        ax.set_xlabel(other_label)
        ax.set_ylabel(first.name)
        ax.set_title(f"trade-off: {first.name} against {other.name}", fontsize="medium")
        ax.legend(fontsize="small")

    def _rung_groups(self, records):
        """(label, colour, trials) per rung; one unlabelled group without rungs."""
        if self.rungs is None:
            return [(None, "C0", records)]
        colors = ["C0", "C1", "C2", "C4", "C5", "C6", "C8", "C9"]      # C3 marks the best
        return [(f"rung {k} ({epochs} epoch{'s' if epochs != 1 else ''})",
                 colors[k % len(colors)],
                 [t for t in records if t.rung == k])
                for k, epochs in enumerate(self.rungs) if any(t.rung == k for t in records)]

    def _categories(self, key):
        """The category order for a non-numeric axis, or None for a numeric one."""
        dist = self.space.get(key)
        if isinstance(dist, Choice):
            return list(dist.options)
        if isinstance(dist, Distribution):
            return None
        options = list(dist)                        # a grid's values
        numeric = all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in options)
        return None if numeric else options

    def _log_axis(self, key, xs):
        dist = self.space.get(key)
        if isinstance(dist, Distribution):
            return dist.log
        positive = [x for x in xs if isinstance(x, (int, float)) and x > 0]
        return len(positive) == len(xs) and max(positive) / min(positive) >= 100
