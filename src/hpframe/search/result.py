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

        Columns: ``number``, ``status``, ``value``, ``params_<name>`` for each searched
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
            for key in self.space:
                value = trial.params.get(key)
                row[f"params_{key}"] = str(value) if isinstance(value, tuple) else value
            row.update(seed=trial.seed, epochs=trial.epochs, rung=trial.rung,
                       train_time=trial.train_time, peak_memory=trial.peak_memory,
                       memory_source=trial.memory_source)
            for key in metric_keys:
                row[key] = trial.metrics.get(key)
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
        head = ["rank", "trial"] + keys + [self.metric.name] + \
            (["epochs"] if halving else []) + ["time", "memory", "status"]
        rows = []
        for rank, trial in enumerate(shown, start=1):
            memory = _fmt_bytes(trial.peak_memory)
            if trial.memory_source == "estimate":
                memory = "~" + memory
            rows.append([str(rank) if trial.ok else "-", str(trial.number)]
                        + [_fmt_value(trial.params.get(k)) for k in keys]
                        + [_fmt_value(trial.value) if trial.ok else "-"]
                        + ([str(trial.epochs)] if halving else [])
                        + [f"{trial.train_time:.2f}s", memory, trial.status])
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
        numeric = set(range(len(head))) - {head.index("status")} - \
            {2 + i for i, k in enumerate(keys)
             if not all(isinstance(t.params.get(k), (int, float))
                        and not isinstance(t.params.get(k), bool) for t in shown)}

        def line(cells):
            return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        direction = "lower" if self.metric.mode == "min" else "higher"
        title = (f"{self.strategy}: {len(self.trials)} of {self.n_trials} trials, "
                 f"{self.metric.name} ({direction} is better)")
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
        return Table("\n".join(out))

    # -- plot -------------------------------------------------------------------
    def plot(self):
        """Plot the metric against each searched hyperparameter, and best-so-far over trials.

        One panel per hyperparameter (a log axis for ``LogUniform`` and
        ``IntUniform(log=True)``, and for grids of positive values spanning at least
        two decades; categories for ``Choice``), the best trial marked, and a
        panel with every trial's value in order and the best value so far. For
        successive halving the points are coloured by rung, best-so-far is over
        rung 0 (where every trial had the same epochs), and a last panel follows
        each trial's value from rung to rung.

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
        n_panels = len(keys) + 1 + halving
        cols = min(3, n_panels)
        rows = math.ceil(n_panels / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
        axes = axes.ravel()
        groups = self._rung_groups(records)
        for ax, key in zip(axes, keys):
            categories = self._categories(key)
            index = None if categories is None else {repr(c): i for i, c in
                                                     enumerate(categories)}

            def x_of(trial):
                value = trial.params.get(key)
                return value if index is None else index[repr(value)]
            for label, color, group in groups:
                ax.scatter([x_of(t) for t in group], [t.value for t in group], alpha=0.7,
                           color=color, label=label)
            ax.scatter([x_of(best)], [best.value], marker="*", s=200, color="C3",
                       label="best", zorder=3)
            if categories is not None:
                ax.set_xticks(range(len(categories)))
                ax.set_xlim(-0.5, len(categories) - 0.5)       # every option, tried or not
                ax.set_xticklabels([_fmt_value(c) for c in categories],
                                   rotation=30 if len(categories) > 3 else 0)
            elif self._log_axis(key, [t.params.get(key) for t in records]):
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
        direction = "lower" if self.metric.mode == "min" else "higher"
        fig.suptitle(f"{self.strategy}: {self.metric.name} ({direction} is better)")
        fig.tight_layout()
        return fig

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
