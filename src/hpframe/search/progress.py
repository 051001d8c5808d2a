"""Progress of a search: a tqdm bar over trials, a line per trial, or silence."""
import math
import sys
import time

from hpframe.callbacks import _interactive

__all__ = ["Progress"]


def _fmt(value):
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


class Progress:
    """Show finished trials and the best value so far.

    Parameters
    ----------
    total : int
        Trials (for successive halving: trial-rungs) the search will run.
    metric : Metric
    verbose : {0, 1, 2}
        0 silent; 1 a tqdm bar (plain lines when the output is not a terminal);
        2 a line per trial.
    done : list of Trial
        Trials already finished (read from the log): counted, not shown.
    desc : str
        The bar's label.
    file : file-like, optional
        Default ``sys.stderr``, as tqdm.
    """

    def __init__(self, total, metric, verbose, done=(), desc="search", file=None):
        self.total, self.metric, self.verbose = total, metric, verbose
        self.stream = file if file is not None else sys.stderr
        self.count = len(done)
        self.initial = self.count
        self.best = None
        self.start = time.monotonic()
        for trial in done:
            self._consider(trial)
        self.bar = None
        if verbose == 1 and _interactive(self.stream):
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=self.count, desc=desc, unit="trial",
                            file=self.stream, dynamic_ncols=True)
            self._postfix()
        elif verbose and self.count:
            self._write(f"{desc}: {self.count} of {total} trials already in the log")

    def _consider(self, trial):
        if not trial.ok:
            return
        key = (-trial.rung, self.metric.sort_key(trial.value))
        if self.best is None or key < (-self.best.rung, self.metric.sort_key(self.best.value)):
            self.best = trial

    def _best_text(self):
        if self.best is None:
            return "no trial succeeded yet"
        return f"best {self.metric.name} {_fmt(self.best.value)} (trial {self.best.number})"

    def _postfix(self):
        if self.bar is not None:
            self.bar.set_postfix_str(self._best_text(), refresh=False)

    def _write(self, line):
        self.stream.write(line + "\n")
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            flush()

    def update(self, trial):
        """One more trial finished."""
        self.count += 1
        self._consider(trial)
        if self.verbose == 0:
            return
        if self.bar is not None:
            self._postfix()
            self.bar.update(1)
            return
        params = ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}"
                           for k, v in trial.params.items())
        value = (f"{self.metric.name} {_fmt(trial.value)}" if trial.ok
                 else trial.status.upper())
        rung = f" rung {trial.rung}" if trial.rung else ""
        ran = self.count - self.initial
        left = (time.monotonic() - self.start) / ran * (self.total - self.count)
        self._write(f"trial {trial.number}{rung} ({self.count}/{self.total}): {value} - "
                    f"{params} - {trial.train_time:.2f}s; {self._best_text()}; "
                    f"~{left:.0f}s left")

    def close(self, stopped=None):
        """Close the bar; say why the search stopped early, if it did."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.verbose and stopped:
            why = {"interrupted": "interrupted (Ctrl-C)", "timeout": "timeout reached",
                   "broken": "the executor broke"}[stopped]
            self._write(f"search stopped early: {why}; {self.count} of {self.total} trials "
                        "finished (with log=..., rerunning the same call resumes)")
