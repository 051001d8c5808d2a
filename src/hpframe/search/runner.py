"""Running trials: serially, in local threads, or on any ``concurrent.futures`` executor.

:func:`execute` takes a list of :class:`~hpframe.search.trial.Task` and a
:class:`Pool`, keeps at most ``pool.width`` trials running, and hands every
outcome to a callback in the calling thread (which logs it at once). It
stops launching trials on Ctrl-C or when the deadline has passed, and it
survives workers that die:

* A trial that raises is caught inside :func:`~hpframe.search.trial.run_trial`.
* A worker *process* that dies (killed, out of memory, ``os._exit``) breaks a
  ``ProcessPoolExecutor`` and every trial in flight with it - and a worker
  killed from outside (an out-of-memory killer, an operator's ``kill``) looks
  exactly like a trial that kills its worker. So no trial is blamed for the
  first death: the runner replaces the pool and reruns every trial that was in
  flight, one at a time in the fresh pool. Only a death while a trial is the one
  trial in flight counts against it: one that kills its worker twice that way is
  recorded as failed; the
  others (the worker was killed, the trial was healthy) produce the same results
  as if nothing had happened (trials are deterministic). Nothing is logged for a
  trial whose worker died until its rerun ends, so a search stopped in between
  reruns it on resume.
* On dask, a dead worker's task is retried by the scheduler and ends in
  ``KilledWorker``; any exception a future raises fails its trial.

Local workers (``n_jobs > 1``) are threads. The compiled core trains with
the GIL released, so threads run trials side by side with no start-up cost,
no copies of the data and no pickling; ``benchmarks/bench_search.py``
measured them faster than worker processes for small models (2.0x the
serial speed on 2 cores, against 1.2-1.8x for a ProcessPoolExecutor). Processes isolate trials from each other's
crashes and measure each trial's memory: pass
``executor=ProcessPoolExecutor(k)`` for that.
"""
import collections
import concurrent.futures as cf
import os
import threading
import time
import traceback
import warnings

from hpframe.search import trial as _trial

__all__ = ["Pool", "execute", "make_pool", "TaskSource"]

# The clock the deadline is measured with (tests replace it with a fake one).
_clock = time.monotonic

_DIED = ("The worker process running this trial died twice (it was killed, ran out of "
         "memory, or the process exited): once, and again when the trial was retried alone "
         "in a fresh worker, so the trial itself kills its worker.")
# What hpframe before 0.2 recorded after a single death, which may have been a worker
# killed from outside: such a record is not trusted, and resuming reruns the trial.
UNCONFIRMED_DEATH = ("The worker process running this trial died (it was killed, ran out of "
                     "memory, or the process exited) while the trial ran alone in it")


class Pool:
    """Where trials run: this thread, local threads, or a user's executor.

    Parameters
    ----------
    kind : {"serial", "threads", "executor"}
    width : int
        Trials kept running at once.
    executor : concurrent.futures.Executor, optional
        The user's executor (``kind="executor"``).
    """

    def __init__(self, kind, width, executor=None):
        self.kind = kind
        self.width = width
        self._user = executor
        self._own = cf.ThreadPoolExecutor(width, thread_name_prefix="hpframe-trial") \
            if kind == "threads" else None
        # Set on Ctrl-C: trials running in this process's threads stop after their epoch.
        self.stop = threading.Event() if self.shares_process else None

    @property
    def executor(self):
        return self._own if self._own is not None else self._user

    @property
    def shares_process(self):
        """Trials run as threads of this process (their memory can only be estimated)."""
        return self.kind == "threads" or isinstance(self._user, cf.ThreadPoolExecutor)

    def submit(self, task):
        return self.executor.submit(_run, task)

    def can_renew(self):
        """A broken process pool can be replaced: a user's ProcessPoolExecutor (or ours)."""
        return isinstance(self.executor, cf.ProcessPoolExecutor)

    def renew(self):
        """Replace a broken process pool with a fresh one of the same width."""
        if self._own is None:
            warnings.warn("a worker process died and broke the ProcessPoolExecutor passed as "
                          "executor=; the search continues in a fresh local process pool "
                          f"of {self.width} workers", RuntimeWarning, stacklevel=4)
        else:
            self._own.shutdown(wait=True, cancel_futures=True)
        self._own = cf.ProcessPoolExecutor(self.width)

    def close(self, abandon=False):
        """Shut down what this pool owns; ``abandon`` (Ctrl-C) stops running trials too."""
        if abandon and self.stop is not None:
            self.stop.set()
        if self._own is not None:
            # Threads see the stop event and end within an epoch; worker processes of
            # a replacement pool cannot, so on Ctrl-C they are left to finish alone.
            self._own.shutdown(wait=not abandon or self.kind == "threads", cancel_futures=True)
            self._own = None


def _run(task):
    # A module-level function, so that executors can pickle it by reference.
    return _trial.run_trial(task)


def make_pool(n_jobs, executor):
    """The :class:`Pool` for ``n_jobs`` / ``executor`` (see :func:`random_search`)."""
    if executor is not None:
        if not isinstance(executor, cf.Executor):
            raise TypeError(f"executor must be a concurrent.futures.Executor (e.g. "
                            f"ProcessPoolExecutor, or dask's Client.get_executor()); got "
                            f"{type(executor).__name__}")
        width = n_jobs if n_jobs > 1 else _executor_width(executor)
        return Pool("executor", width, executor=executor)
    if n_jobs == 1:
        return Pool("serial", 1)
    return Pool("threads", n_jobs)


def _executor_width(executor):
    """How many trials to keep in flight on a user's executor: its number of workers."""
    width = getattr(executor, "_max_workers", None)
    client = getattr(executor, "_client", None)           # dask.distributed ClientExecutor
    if width is None and client is not None:
        try:
            width = sum(client.nthreads().values())
        except Exception:
            width = None
    return max(1, int(width or os.cpu_count() or 1))


def check_n_jobs(n_jobs):
    """Validate ``n_jobs``: an int >= 1, or -1 for every core."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or not (n_jobs >= 1 or n_jobs == -1):
        raise ValueError(f"n_jobs must be an integer >= 1 (or -1 for all cores); got {n_jobs!r}")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def _failed(task, text):
    return {"number": task.number, "rung": task.rung, "status": "failed", "value": None,
            "metrics": {}, "history": {}, "train_time": task.prior_time, "peak_memory": None,
            "memory_source": None, "error": text, "epochs": 0, "checkpoint": None,
            "values": None, "value_sd": None, "scores": None}


def execute(tasks, pool, on_outcome, deadline=None):
    """Run ``tasks`` on ``pool``; call ``on_outcome(task, outcome)`` as each finishes.

    Parameters
    ----------
    tasks : list of Task, or TaskSource
        Launched in this order (a :class:`TaskSource` decides each when a worker
        is free).
    pool : Pool
    on_outcome : callable
        Called in this thread, once per finished trial, in order of completion.
    deadline : float, optional
        ``runner._clock()`` (``time.monotonic``) after which no trial is launched.

    Returns
    -------
    str or None
        Why launching stopped early: ``"interrupted"`` (Ctrl-C), ``"timeout"``,
        ``"broken"`` (an executor that can no longer run anything), or None when
        every task ran.
    """
    if pool.kind == "serial":
        return _execute_serial(tasks, on_outcome, deadline)
    return _execute_pool(tasks, pool, on_outcome, deadline)


class TaskSource:
    """Tasks decided one at a time, as workers free up (asynchronous halving).

    ``next_task()`` returns the task to launch now, or None when nothing can be
    launched until a running trial finishes; it is called in the search's thread,
    after every finished trial has been handed to ``on_outcome``. With ``poll``
    (seconds), a free worker asks again that often even while no trial of this
    process finishes (other processes' trials may make one launchable).
    """

    def __init__(self, next_task, poll=None):
        self._next = next_task
        self._back = collections.deque()
        self.poll = poll

    def __bool__(self):
        if not self._back:
            task = self._next()
            if task is not None:
                self._back.append(task)
        return bool(self._back)

    def popleft(self):
        return self._back.popleft()

    def appendleft(self, task):
        self._back.appendleft(task)

    def __iter__(self):
        while self:
            yield self.popleft()


def _execute_serial(tasks, on_outcome, deadline):
    for task in tasks:
        if deadline is not None and _clock() >= deadline:
            return "timeout"
        try:
            outcome = _run(task)
        except KeyboardInterrupt:
            return "interrupted"
        on_outcome(task, outcome)
    return None


def _execute_pool(tasks, pool, on_outcome, deadline):
    pending = tasks if isinstance(tasks, TaskSource) else collections.deque(tasks)
    suspects = collections.deque()         # in flight when a process pool broke
    deaths = collections.Counter()         # trial number -> pools it broke
    running = {}                           # future -> task
    stopped = None
    try:
        while True:
            # -- launch -----------------------------------------------------------
            while stopped is None:
                if deadline is not None and _clock() >= deadline:
                    stopped = "timeout"
                    break
                if suspects:
                    if running:
                        break                       # a suspect runs alone
                    queue = suspects
                elif len(running) < pool.width and pending:
                    queue = pending
                else:
                    break
                task = queue.popleft()
                try:
                    future = pool.submit(task)
                except cf.BrokenExecutor as exc:
                    queue.appendleft(task)
                    if not pool.can_renew():
                        stopped = _stop_broken(exc)
                        break
                    pool.renew()
                    continue
                running[future] = task
                if queue is suspects:
                    break
            if not running:
                break
            # -- collect ----------------------------------------------------------
            poll = getattr(pending, "poll", None) if len(running) < pool.width else None
            done, _ = cf.wait(running, timeout=poll, return_when=cf.FIRST_COMPLETED)
            broken = _collect(done, running, on_outcome)
            if broken:
                # Every other trial in flight goes down with the pool: collect
                # what finished, then find out whether a trial killed its worker
                # or the worker was killed: rerun each one alone in a fresh pool.
                cf.wait(running)
                broken += _collect(list(running), running, on_outcome)
                # A death counts against a trial only when it was the one trial in
                # flight: a trial that merely shared a pool with the culprit (or with
                # a worker killed from outside) is not blamed for it.
                alone = len(broken) == 1
                retry = []
                for task, exc in broken:
                    deaths[task.number] += alone
                    if deaths[task.number] >= 2:     # it died alone twice: the culprit
                        on_outcome(task, _failed(task, f"{_DIED}\n{type(exc).__name__}: "
                                                       f"{exc}"))
                    else:
                        retry.append(task)
                suspects.extend(sorted(retry, key=lambda t: t.number))
                if pool.can_renew():
                    pool.renew()
                elif stopped is None:
                    stopped = _stop_broken(broken[0][1])
    except KeyboardInterrupt:
        for future in running:
            future.cancel()
        pool.close(abandon=True)
        return "interrupted"
    return stopped


def _stop_broken(exc):
    warnings.warn(f"a worker died and the executor can no longer run trials ({exc}); the "
                  "search stops here (rerun it with the same log to resume)", RuntimeWarning,
                  stacklevel=4)
    return "broken"


def _collect(futures, running, on_outcome):
    """Report the outcome of each finished future; return [(task, exc)] of broken ones."""
    broken = []
    for future in futures:
        task = running.pop(future)
        try:
            outcome = future.result()
        except cf.CancelledError:
            continue
        except cf.BrokenExecutor as exc:
            broken.append((task, exc))
            continue
        except KeyboardInterrupt:
            raise
        except BaseException as exc:     # e.g. dask's KilledWorker, an unpicklable metric
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            outcome = _failed(task, f"The trial could not run on the executor:\n{text}")
        on_outcome(task, outcome)
    return broken
