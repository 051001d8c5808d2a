"""TPE, random search and successive halving at equal budget, several tasks and seeds.

Issue 15 asks that ``hp.tpe_search`` reach a better best value than
``hp.random_search`` on average, on several small tasks, several seeds, equal
budgets. This script runs both with the same space, the same budget of trials,
the same base hyperparameters and the same seeds (TPE's first
``--startup`` trials are exactly random search's first trials, so the two share
their start and differ only after it), and records for every (task, seed,
strategy) the best validation loss after each trial. Successive halving gets the
same budget in epochs - as many configurations as fit, from 1 epoch up to the
base's epochs with ``eta=3`` - and its best fully trained trial is recorded.

The result is written to ``bench_search_tpe.json`` next to this script; the
docs figure (:doc:`/trial_and_error`) is drawn from that committed file, never
recomputed while the docs build. Times are not measured: the comparison is of
values at equal numbers of trials.

Usage::

    python benchmarks/bench_search_tpe.py               # minutes; no times measured
    python benchmarks/bench_search_tpe.py --quick       # smoke run, not written

Never a test: this is a measurement.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SRC = os.path.join(REPO, "src")
if os.path.isdir(os.path.join(SRC, "hpframe")) and SRC not in sys.path:
    sys.path.insert(0, SRC)       # benchmark the checkout this script lives in

import numpy as np  # noqa: E402

import hpframe as hp  # noqa: E402

OUT = os.path.join(HERE, "bench_search_tpe.json")

SPACE = {
    "learning_rate": hp.LogUniform(1e-4, 1.0),
    "hidden_layers": hp.Choice([(8,), (32,), (64,), (32, 32)]),
    "activation": hp.Choice(["relu", "tanh", "elu"]),
    "dropout": hp.Uniform(0.0, 0.5),
    "batch_size": hp.Choice([16, 32, 64, 128]),
    "weight_decay": hp.LogUniform(1e-6, 1e-1),
}


def tasks():
    """name -> (X, y, base): small problems of different kinds."""
    X, y = hp.datasets.load_digits()
    rng = np.random.default_rng(0)
    keep = rng.permutation(len(X))[:600]
    classif = hp.HyperParams(epochs=15, validation_split=0.3)
    regress = classif.replace(loss="mse")
    return {
        "digits (600 of them)": (X[keep], y[keep], classif),
        "spirals": (*hp.datasets.make_spirals(n_samples=450, noise=0.25, seed=1), classif),
        "moons": (*hp.datasets.make_moons(n_samples=400, noise=0.3, seed=2), classif),
        "blobs (5-D, overlapping)": (*hp.datasets.make_blobs(
            n_samples=400, n_features=5, centers=4, cluster_std=6.0, seed=3), classif),
        "regression (4-D)": (*hp.datasets.make_regression(n_samples=400, noise=0.5, seed=4),
                             regress),
    }


def best_so_far(result):
    out, best = [], None
    for t in sorted(result.trials, key=lambda t: t.number):
        if t.ok and (best is None or t.value < best):
            best = t.value
        out.append(best)
    return out


def halving_trials(budget, max_epochs, eta=3):
    """The most configurations successive halving can start within ``budget`` epochs."""
    from hpframe.search.strategies import rung_epochs, rung_sizes
    rungs = rung_epochs(1, max_epochs, eta)

    def cost(n):
        sizes = rung_sizes(n, len(rungs), eta)
        return sum(size * (r - (rungs[k - 1] if k else 0))
                   for k, (size, r) in enumerate(zip(sizes, rungs)))
    n = 1
    while cost(n + 1) <= budget:
        n += 1
    return n, cost(n)


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--startup", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true",
                        help="1 task, 2 seeds, 12 trials; prints, writes nothing")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.seeds, args.startup = 12, 2, 6
    runs = []
    chosen = list(tasks().items())[:1] if args.quick else list(tasks().items())
    for name, (X, y, base) in chosen:
        for seed in range(args.seeds):
            common = dict(space=SPACE, n_trials=args.trials, base=base, seed=seed, verbose=0)
            rnd = hp.random_search(X, y, **common)
            tpe = hp.tpe_search(X, y, n_startup_trials=args.startup, batch=1, **common)
            for strategy, result in (("random", rnd), ("tpe", tpe)):
                curve = best_so_far(result)
                runs.append({"task": name, "seed": seed, "strategy": strategy,
                             "best_so_far": curve,
                             "failed": sum(not t.ok for t in result.trials)})
            n, used = halving_trials(args.trials * base.epochs, base.epochs)
            halving = hp.successive_halving(X, y, space=SPACE, n_trials=n, min_epochs=1,
                                            max_epochs=base.epochs, eta=3, base=base,
                                            seed=seed, verbose=0)
            assert halving.best.epochs == base.epochs
            runs.append({"task": name, "seed": seed, "strategy": "halving",
                         "best": halving.best_value, "configurations": n,
                         "epochs_used": used, "budget": args.trials * base.epochs,
                         "failed": sum(not t.ok for t in halving.records)})
            print(f"{name:26s} seed {seed}: best val_loss random {runs[-3]['best_so_far'][-1]:.4f}"
                  f"  tpe {runs[-2]['best_so_far'][-1]:.4f}  halving {halving.best_value:.4f}"
                  f" ({n} configurations, {used} epochs)", flush=True)
    print()
    print(f"{'task':26s} {'random (mean ± sd)':>20s} {'tpe (mean ± sd)':>20s}  tpe better"
          f"  {'halving (mean ± sd)':>20s}")
    wins = total = 0
    for name, _ in chosen:
        r = [x["best_so_far"][-1] for x in runs if x["task"] == name and x["strategy"] == "random"]
        t = [x["best_so_far"][-1] for x in runs if x["task"] == name and x["strategy"] == "tpe"]
        w = sum(a < b for a, b in zip(t, r))
        wins, total = wins + w, total + len(t)
        h = [x["best"] for x in runs if x["task"] == name and x["strategy"] == "halving"]
        print(f"{name:26s} {np.mean(r):10.4f} ± {np.std(r, ddof=1):7.4f} "
              f"{np.mean(t):10.4f} ± {np.std(t, ddof=1):7.4f}  {w} of {len(t)}"
              f"  {np.mean(h):10.4f} ± {np.std(h, ddof=1):7.4f}")
    print(f"TPE's best was lower in {wins} of {total} (task, seed) pairs")
    if args.quick:
        return
    sys.path.insert(0, HERE)
    from _machine import machine_info as _machine_info
    record = {
        "what": "best validation loss after each trial, TPE vs random search, equal budget; "
                "successive halving's best fully trained trial at the same budget in epochs",
        "command": "python benchmarks/bench_search_tpe.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "commit": commit(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform(), **_machine_info()},
        "trials": args.trials, "startup_trials": args.startup, "seeds": args.seeds,
        "space": {k: repr(v) for k, v in SPACE.items()},
        "runs": runs,
    }
    with open(OUT, "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
