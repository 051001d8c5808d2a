"""Where a training step's time goes: hpframe's core loop with parts switched off,
next to its matrix products alone.

For each workload of ``bench_training.py`` (same data, network and batch), the
compiled epoch loop (``Network.train_epoch``, as the ``hpframe-core`` peer runs
it) is timed as benchmarked (ReLU, dropout 0.2, Adam) and with one part changed
at a time, and the step's matrix products are timed alone:

- ``as benchmarked``: dropout 0.2, Adam, the team the Trainer picks;
- ``no dropout``: the difference is the masks (drawing and applying them);
- ``sgd``: plain SGD instead of Adam; the difference is Adam's extra arithmetic
  (two moment updates, a square root and a division per weight);
- ``one thread``: the same step on a team of one;
- ``numpy products``: only the step's products through ``numpy.matmul``, the
  GEMM-only bound of ``bench_training.py`` (best of 1 and all BLAS threads),
  timed after the variants above (see ``profile``);
- ``products at peak``: the step's multiply-adds divided by the team's
  threads times the best rate of hpframe's own float32 product on one thread
  (a 240 x 256 x 128 product that stays in cache) - about the fastest the
  products can run on this CPU, whoever computes them.

The step times are medians of interleaved repeats (one repeat of every variant,
then the next; a repeat is a warm-up epoch, then epochs adding up to at least
0.2 s), in microseconds per step; the share column is the fraction of
``as benchmarked``. Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE flock /tmp/hpframe-cpu.lock \\
        python benchmarks/profile_step.py --workloads digits-bs32,mnist-bs64
    OPENBLAS_CORETYPE=Haswell flock /tmp/hpframe-cpu.lock python benchmarks/profile_step.py

Never a test: timings belong here, not in the test suite.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
if os.path.isdir(os.path.join(SRC, "hpframe")) and SRC not in sys.path:
    sys.path.insert(0, SRC)       # profile the checkout this script lives in
sys.path.insert(0, HERE)

import _peers                                       # noqa: E402
from _machine import machine_info                   # noqa: E402
from bench_training import WORKLOADS, make_data     # noqa: E402

class Core(_peers.HpframeCore):
    """The ``hpframe-core`` peer with the dropout, optimizer and team chosen."""

    def __init__(self, dropout=_peers.DROPOUT, optimizer="adam", team=None):
        self.dropout, self.optimizer, self.fixed_team = dropout, optimizer, team

    def setup(self, X, y, hidden, batch_size):
        super().setup(X, y, hidden, batch_size)
        if self.fixed_team is not None:
            self.team = self.fixed_team


def multiply_adds(n_features, hidden, batch):
    """Multiply-adds of one step's products: forward and weight gradient of every
    layer, input gradient of every layer but the first."""
    sizes = (n_features, *hidden, _peers.N_CLASSES)
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return batch * (2 * sum(a * b for a, b in pairs) + sum(a * b for a, b in pairs[1:]))


def own_peak():
    """Best multiply-adds per second of the own float32 product on one thread, on
    a product that stays in cache (None where it cannot run)."""
    from hpframe._core import _blas
    if not _blas.own_gemm_available():
        return None
    rng = np.random.default_rng(0)
    a = rng.standard_normal((240, 256), dtype=np.float32)
    b = rng.standard_normal((256, 128), dtype=np.float32)
    c = np.empty((240, 128), np.float32)
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(200):
            _blas.own_gemm_memview(a, b, c)
        best = min(best, (time.perf_counter() - start) / 200)
    return 240 * 256 * 128 / best


def profile(workload, repeats):
    X, y = make_data(workload.n_samples, workload.n_features)
    runners = {"as benchmarked": Core(), "no dropout": Core(dropout=0.0),
               "sgd": Core(optimizer="sgd"), "one thread": Core(team=1)}
    times = {name: [] for name in runners}
    for r in runners.values():
        r.setup(X, y, workload.hidden, workload.batch_size)
        r.epoch()                                           # warm-up
    steps = -(-len(X) // workload.batch_size)
    for _ in range(repeats):
        for name, r in runners.items():
            time.sleep(0.3)                         # the previous variant's threads idle
            r.epoch()                               # (caches and clocks warm again)
            seconds = n_steps = 0
            while seconds < 0.2:                    # epochs adding up to >= 0.2 s
                s, _ = r.epoch()
                seconds, n_steps = seconds + s, n_steps + steps
            times[name].append(seconds / n_steps * 1e6)
    # numpy's products last, and each workload in a process of its own (main):
    # nothing measured here runs after BLAS has used every thread in the process
    # (in one session's runs the core's steps after them were 40% slower; a
    # later check, the same process before and after, could not reproduce it)
    bound = _peers.GemmBound()
    bound.setup(X, y, workload.hidden, workload.batch_size)
    bound.epoch()
    times["numpy products"] = [bound.epoch()[0] / steps * 1e6 for _ in range(repeats)]
    step = {name: statistics.median(t) for name, t in times.items()}
    return step, runners["as benchmarked"].team


def print_header():
    """The machine, the BLAS kernel and the products hpframe chose."""
    m = machine_info()
    kernel = os.environ.get("OPENBLAS_CORETYPE")
    print(f"CPU: {m['cpu']}, {m['cores']} cores; OpenBLAS kernel: "
          + (f"PINNED with OPENBLAS_CORETYPE={kernel}" if kernel else "its own choice"))
    from hpframe._core._gemm_policy import gemm_policy
    chosen = gemm_policy()
    print(f"hpframe's products: training {chosen['gemm_kernel']} (pieces of "
          f"{chosen['gemm_piece']:,} multiply-adds; 0: whole), prediction "
          f"{chosen['predict_kernel']} ({chosen['source']})")
    peak = own_peak()
    if peak:
        print(f"own float32 product, one thread, in cache: {peak * 2 / 1e9:.0f} GFLOP/s")
    print()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="digits-bs32,mnist-bs16,mnist-bs64,mnist-bs256",
                    help="comma-separated, from: " + ",".join(w.name for w in WORKLOADS))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = args.workloads.split(",")
    if not args.here:
        # one process per workload (see profile: numpy's products come last)
        print_header()
        for name in names:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--here",
                                  "--workloads", name, "--repeats", str(args.repeats)],
                                 capture_output=True, text=True, check=True).stdout
            print(out, end="")
        return
    known = {w.name: w for w in WORKLOADS}
    peak = own_peak()
    for name in names:
        w = known[name]
        step, team = profile(w, args.repeats)
        full = step["as benchmarked"]
        print(f"{w.name} ({w.n_features}-{'-'.join(map(str, w.hidden))}-10, batch "
              f"{w.batch_size}, team of {team}): us per step, median of {args.repeats}")
        rows = list(step.items())
        if peak:
            rows.append(("products at peak",
                         multiply_adds(w.n_features, w.hidden, w.batch_size) / peak / team
                         * 1e6))
        for label, us in rows:
            print(f"  {label:<16} {us:9.1f}  {us / full:6.2f}")
        print(f"  masks {full - step['no dropout']:.1f} us, Adam over SGD "
              f"{full - step['sgd']:.1f} us; the core step runs at "
              f"{step['numpy products'] / full:.2f} of the numpy products' speed\n")


if __name__ == "__main__":
    main()
