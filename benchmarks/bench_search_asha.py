"""Asynchronous (ASHA) against synchronous successive halving: 2 workers, uneven trials.

Issue 15 asks for the wall time of ``hp.asha`` against ``hp.successive_halving``
with trials of uneven cost on 2 workers. Synchronous halving waits for the
slowest trial of a rung before it promotes anyone; ASHA gives a free worker the
next promotable trial, or a new configuration, at once. Three searches run over
the same 27 configurations of the bundled digits, rungs of 1, 3 and 9 epochs,
``eta=3``, ``n_jobs=2`` (threads; the core trains without the GIL):

* ``successive_halving`` - synchronous: a rung's promotions wait for the whole rung;
* ``asha`` (``promotion="eager"``, Li et al.) - promote when among the best third of
  the rung's trials finished *so far*;
* ``asha`` (``promotion="certain"``) - promote as soon as no unfinished trial of the
  rung can push the trial out of the rung's planned best: the same promotions as
  synchronous halving, without the wait.

The space makes costs uneven the way a real one does: two hidden layers of a width
drawn from 16 to 1024 (a step's work grows with the width squared, so trials differ
in cost by about 100x) and a log-uniform learning rate. For each search the script
prints the wall time (best of the repeats: other load only adds time), the time until
the first model trained to ``max_epochs`` is finished (median), the epochs trained in
all and the best validation loss. The time to the first full model comes from the
search's log, read while the search runs (the log gets a line as each trial ends).

Usage::

    flock /tmp/hpframe-cpu.lock python benchmarks/bench_search_asha.py
    python benchmarks/bench_search_asha.py --quick        # smoke run, seconds

Never a test: timings belong here. The last run's output is in
``bench_search_asha.json`` and ``benchmarks/README.md``.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SRC = os.path.join(REPO, "src")
if os.path.isdir(os.path.join(SRC, "hpframe")) and SRC not in sys.path:
    sys.path.insert(0, SRC)

import hpframe as hp  # noqa: E402

SEARCHES = {
    "successive_halving": lambda *a, **k: hp.successive_halving(*a, **k),
    "asha eager": lambda *a, **k: hp.asha(*a, promotion="eager", **k),
    "asha certain": lambda *a, **k: hp.asha(*a, promotion="certain", **k),
}


class _LogWatch(threading.Thread):
    """When the first trial of the top rung appears in a search log (polled)."""

    def __init__(self, path, top, start):
        super().__init__(daemon=True)
        self.path, self.top, self.origin = path, top, start
        self.first_full = None
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.005) and self.first_full is None:
            try:
                with open(self.path) as f:
                    lines = f.read().splitlines()[1:]
            except FileNotFoundError:
                continue
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue                    # a line still being written
                if record.get("rung") == self.top:
                    self.first_full = time.perf_counter() - self.origin
                    break


def one_run(fn, X, y, common, top):
    with tempfile.TemporaryDirectory() as folder:
        log = os.path.join(folder, "search.jsonl")
        start = time.perf_counter()
        watch = _LogWatch(log, top, start)
        watch.start()
        result = fn(X, y, log=log, **common)
        elapsed = time.perf_counter() - start
        watch.stop.set()
        watch.join()
    epochs = sum(t.epochs - (0 if t.rung == 0 else result.rungs[t.rung - 1])
                 for t in result.records)
    first_full = watch.first_full if watch.first_full is not None else elapsed
    return elapsed, first_full, epochs, result.best_value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=27)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=os.path.join(HERE, "bench_search_asha.json"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.repeats, args.json = 9, 1, None
    sys.path.insert(0, HERE)
    from _machine import describe, machine_info
    machine = machine_info()
    print(describe(machine))
    X, y = hp.datasets.load_digits()
    space = {"hidden_layers": hp.Choice([(w, w) for w in (16, 32, 64, 128, 256, 512, 1024)]),
             "learning_rate": hp.LogUniform(1e-4, 1e-1)}
    base = hp.HyperParams(validation_split=0.25, batch_size=32)
    common = dict(space=space, n_trials=args.trials, min_epochs=1, max_epochs=9, eta=3,
                  base=base, seed=0, n_jobs=2, verbose=0)
    top = 2                                         # rungs 1, 3, 9: the third is full
    runs = {name: [] for name in SEARCHES}
    for _ in range(args.repeats):                   # interleaved, so load hits all alike
        for name, fn in SEARCHES.items():
            runs[name].append(one_run(fn, X, y, common, top))
    rows = {}
    sha = min(r[0] for r in runs["successive_halving"])
    print(f"\n{args.trials} configurations, rungs 1/3/9 epochs, eta 3, n_jobs=2 (threads), "
          f"{args.repeats} repeats")
    print(f"{'search':20s} {'wall (best)':>11s} {'/ sync':>7s} {'first full model (median)':>26s}"
          f" {'epochs':>7s} {'best val_loss':>14s}")
    for name, values in runs.items():
        wall = min(v[0] for v in values)
        first = statistics.median(v[1] for v in values)
        epochs = statistics.median(v[2] for v in values)
        best = statistics.median(v[3] for v in values)
        rows[name] = {"wall_s": wall, "wall_over_sync": wall / sha, "first_full_s": first,
                      "epochs": epochs, "best_val_loss": best,
                      "all_runs": [list(v) for v in values]}
        print(f"{name:20s} {wall:9.2f} s {wall / sha:7.2f} {first:24.2f} s {epochs:7.0f} "
              f"{best:14.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "trials": args.trials, "repeats": args.repeats,
                       "command": " ".join(["python", "benchmarks/bench_search_asha.py"]
                                           + (argv if argv is not None else sys.argv[1:])),
                       "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "results": rows},
                      f, indent=1)


if __name__ == "__main__":
    main()
