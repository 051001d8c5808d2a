"""Does cutting products into pieces pay on this BLAS kernel, and at what size?

Times hpframe's own training epochs (one thread, one BLAS thread) for a range
of piece sizes - the measurement :mod:`hpframe._core._gemm_policy` makes once
per machine, with more candidates and repeats - and prints each piece size's
epoch time relative to one BLAS call per product (below 1: pieces help).
The workloads are one thread's share of a step: 784-128-10 at batch 64
(mnist-bs64), 784-512-512-10 at batch 64 and 784-1024-1024-10 at batch 128.

Run it once with the machine's own kernels and once pinned, e.g.::

    flock /tmp/hpframe-cpu.lock python benchmarks/bench_gemm_piece.py
    OPENBLAS_CORETYPE=Haswell flock /tmp/hpframe-cpu.lock python benchmarks/bench_gemm_piece.py

Results go to ``bench_gemm_piece.json`` next to this script, one entry per kernel.
Never a test: timings belong here.
"""
import argparse
import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
if os.path.isdir(os.path.join(SRC, "hpframe")) and SRC not in sys.path:
    sys.path.insert(0, SRC)
sys.path.insert(0, HERE)

CANDIDATES = (0, 125_000, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000)
WORKLOADS = (((784, 128, 10), 64, 4096), ((784, 512, 512, 10), 64, 1024),
             ((784, 1024, 1024, 10), 128, 512))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--json", default=os.path.join(HERE, "bench_gemm_piece.json"))
    args = ap.parse_args(argv)
    from _machine import describe, machine_info
    from hpframe._core import _gemm_policy as policy
    machine = machine_info()
    print(describe(machine))
    times = policy._time_candidates(CANDIDATES, WORKLOADS, args.repeats)
    piece, rel = policy.choose(times, CANDIDATES)
    header = "| workload | " + " | ".join(f"{c:,}" for c in CANDIDATES) + " |"
    lines = [header, "|---" * (len(CANDIDATES) + 1) + "|"]
    for name, t in times.items():
        one = policy.relative_times({name: t}, CANDIDATES)
        lines.append(f"| {name} (one call: {min(t[0]) * 1e3:.1f} ms) | "
                     + " | ".join(f"{one[c]:.3f}" for c in CANDIDATES) + " |")
    lines.append("| geometric mean | " + " | ".join(f"{rel[c]:.3f}" for c in CANDIDATES) + " |")
    table = "\n".join(lines)
    kernel = policy.blas_kernel()
    print(f"\nepoch time relative to one BLAS call per product, by piece size "
          f"(multiply-adds); kernel {kernel}; median over {args.repeats} repeats of the "
          f"ratio within a repeat (candidates interleaved)\n")
    print(table)
    print(f"\nthe policy's rule (>= {policy.MIN_GAIN:.0%} faster on the geometric mean) would "
          f"choose: {piece:,}" + (" (one call per product)" if piece == 0 else ""))
    record = {}
    if os.path.exists(args.json):
        with open(args.json) as f:
            record = json.load(f)
    record[kernel + (f" (OPENBLAS_CORETYPE={machine['pinned_kernel']})"
                     if machine["pinned_kernel"] else "")] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine,
        "repeats": args.repeats, "chosen": piece,
        "seconds": {w: {str(c): list(s) for c, s in t.items()} for w, t in times.items()},
        "relative": {str(c): r for c, r in rel.items()}, "markdown": table}
    from hpframe._atomic import atomic_open
    with atomic_open(args.json, "w") as f:
        json.dump(record, f, indent=1)
    print(f"saved {args.json}")


if __name__ == "__main__":
    sys.exit(main())
