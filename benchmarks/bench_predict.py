"""Prediction speed of hpframe next to PyTorch, JAX, scikit-learn and ONNX Runtime.

The MNIST-sized network (784-128-10, ReLU, softmax; float32), the same weights in
every peer; a prediction is the class probabilities of the rows, returned as a
NumPy array (what a user's code gets back). Two measurements:

- **latency**: one row per call (batch 1), calls repeated for >= 0.3 s; the mean
  time of a call, in microseconds (lower is better);
- **throughput**: 10,000 rows in one call, repeated for >= 0.3 s; rows per second
  (higher is better).

The peers (each in its own worker process, ``threads`` threads each):

- ``hpframe``: ``Trainer.predict_proba`` (its input checks included), after
  ``load_params`` with the shared weights;
- ``hpframe-core``: ``Network.predict_into`` plus a NumPy softmax (no Python layer);
- ``pytorch``: ``nn.Sequential`` under ``torch.no_grad()`` (eager) and under
  ``torch.inference_mode()``; ``torch.from_numpy`` in, ``softmax(...).numpy()`` out;
- ``jax``: one ``jax.jit`` of the forward pass and softmax; ``np.asarray`` of the result;
- ``sklearn``: ``MLPClassifier.predict_proba`` with the shared weights in ``coefs_``;
- ``onnxruntime``: the same graph (MatMul, Add, Relu, MatMul, Add, Softmax) built with
  ``onnx.helper``, one ``InferenceSession.run`` per call (skipped if not installed).

Each worker checks its probabilities against a NumPy float64 forward pass (the
``agrees`` column: max abs difference < 1e-5). Rounds are interleaved (round 1 of
every peer, round 2, ..., order rotated); a cell is the median of the rounds.

Usage::

    flock /tmp/hpframe-cpu.lock python benchmarks/bench_predict.py      # writes bench_predict.json
    python benchmarks/bench_predict.py --quick                          # smoke run

Never a test: timings belong here, not in the test suite.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SRC = os.path.join(REPO, "src")
SIZES = (784, 128, 10)
BULK_ROWS = 10_000
MIN_SECONDS = 0.3
PEERS = ["hpframe", "hpframe-core", "pytorch-eager", "pytorch-inference", "jax", "sklearn",
         "onnxruntime"]
RATIO_PEERS = PEERS[2:]


def weights():
    rng = np.random.default_rng(0)
    W1 = (rng.standard_normal((784, 128)) * np.sqrt(2 / 784)).astype(np.float32)
    b1 = (rng.standard_normal(128) * 0.1).astype(np.float32)
    W2 = (rng.standard_normal((128, 10)) * np.sqrt(2 / 128)).astype(np.float32)
    b2 = (rng.standard_normal(10) * 0.1).astype(np.float32)
    X = rng.standard_normal((BULK_ROWS, 784), dtype=np.float32)
    return (W1, b1, W2, b2), X


def reference(params, X):
    W1, b1, W2, b2 = (p.astype(np.float64) for p in params)
    z = np.maximum(X.astype(np.float64) @ W1 + b1, 0) @ W2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax32(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def make_predictor(peer, params, threads):
    """``(version, predict)``: predict(X float32 (n, 784)) -> probabilities (n, 10)."""
    W1, b1, W2, b2 = params
    if peer == "hpframe":
        import hpframe as hp
        hp.set_num_threads(threads)
        rng = np.random.default_rng(1)
        trainer = hp.Trainer(hidden_layers=(128,), activation="relu", epochs=1,
                             validation_split=0.0, seed=0)
        trainer.fit(rng.standard_normal((64, 784), dtype=np.float32), np.arange(64) % 10,
                    verbose=0)
        by_shape = {a.shape: a for a in params}          # the four shapes differ
        trainer.load_params({k: by_shape[v.shape] for k, v in trainer.params.items()})
        return hp.__version__, trainer.predict_proba
    if peer == "hpframe-core":
        import hpframe as hp
        from hpframe._core import Network
        from hpframe._core.spec import NetworkSpec
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=1, user_api="blas")    # as the Trainer: a team, 1 BLAS thread each
        net = Network(NetworkSpec(SIZES, dtype=np.float32))
        net.weight(0)[...] = W1
        net.bias(0)[...] = b1
        net.weight(1)[...] = W2
        net.bias(1)[...] = b2
        out = np.empty((BULK_ROWS, 10), np.float32)

        def predict(X):
            o = out[:len(X)]
            net.predict_into(X, o, threads if len(X) >= 256 else 1)
            return softmax32(o)
        return hp.__version__, predict
    if peer.startswith("pytorch"):
        import torch
        torch.set_num_threads(threads)
        model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                    torch.nn.Linear(128, 10))
        with torch.no_grad():
            model[0].weight.copy_(torch.from_numpy(W1.T.copy()))
            model[0].bias.copy_(torch.from_numpy(b1))
            model[2].weight.copy_(torch.from_numpy(W2.T.copy()))
            model[2].bias.copy_(torch.from_numpy(b2))
        model.eval()
        context = torch.inference_mode if peer == "pytorch-inference" else torch.no_grad

        def predict(X):
            with context():
                return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy()
        return torch.__version__, predict
    if peer == "jax":
        import jax
        import jax.numpy as jnp
        p = [jnp.asarray(a) for a in params]

        @jax.jit
        def forward(p, X):
            W1, b1, W2, b2 = p
            return jax.nn.softmax(jax.nn.relu(X @ W1 + b1) @ W2 + b2, axis=1)
        return jax.__version__, lambda X: np.asarray(forward(p, X))
    if peer == "sklearn":
        import sklearn
        import warnings
        from sklearn.neural_network import MLPClassifier
        rng = np.random.default_rng(1)
        model = MLPClassifier(hidden_layer_sizes=(128,), max_iter=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(rng.standard_normal((64, 784), dtype=np.float32), np.arange(64) % 10)
        model.coefs_ = [W1, W2]
        model.intercepts_ = [b1, b2]
        return sklearn.__version__, model.predict_proba
    if peer == "onnxruntime":
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
        inits = [numpy_helper.from_array(a, n) for a, n in zip(params, ["W1", "b1", "W2", "b2"])]
        nodes = [helper.make_node("MatMul", ["X", "W1"], ["m1"]),
                 helper.make_node("Add", ["m1", "b1"], ["a1"]),
                 helper.make_node("Relu", ["a1"], ["h"]),
                 helper.make_node("MatMul", ["h", "W2"], ["m2"]),
                 helper.make_node("Add", ["m2", "b2"], ["z"]),
                 helper.make_node("Softmax", ["z"], ["P"], axis=1)]
        graph = helper.make_graph(
            nodes, "mlp", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 784])],
            [helper.make_tensor_value_info("P", TensorProto.FLOAT, [None, 10])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(model.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
        return f"{ort.__version__} (onnx {onnx.__version__})", \
            lambda X: sess.run(["P"], {"X": X})[0]
    raise ValueError(f"unknown peer {peer!r}")


def worker(peer, threads):
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    params, X = weights()
    try:
        version, predict = make_predictor(peer, params, threads)
        agree = float(np.abs(predict(X[:1000]) - reference(params, X[:1000])).max())
        predict(X[:1])                                   # warm-up (jit, first touch)
        predict(X)
    except Exception as exc:
        proto.write(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 1
    from _machine import machine_info
    proto.write(json.dumps({"ok": True, "version": version, "max_abs_diff": agree,
                            "machine": machine_info()}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        min_s = cmd["min_seconds"]
        # latency: one row per call, different rows
        calls, start = 0, time.perf_counter()
        while True:
            for i in range(100):
                predict(X[i:i + 1])
            calls += 100
            seconds = time.perf_counter() - start
            if seconds >= min_s:
                break
        latency = seconds / calls
        calls, start = 0, time.perf_counter()
        while True:
            predict(X)
            calls += 1
            seconds = time.perf_counter() - start
            if seconds >= min_s:
                break
        proto.write(json.dumps({"ok": True, "latency_us": latency * 1e6,
                                "rows_per_s": calls * len(X) / seconds}) + "\n")
    return 0


class Worker:
    def __init__(self, peer, threads):
        env = dict(os.environ)
        t = str(threads)
        env.update(OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t, MKL_NUM_THREADS=t,
                   JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2",
                   PYTHONPATH=os.pathsep.join([HERE, SRC, env.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                      peer, "--threads", t], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=env, cwd=REPO)

    def receive(self):
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {"ok": False, "error": "worker died"}

    def ask(self, **cmd):
        time.sleep(0.2)                      # let the previous peer's threads go idle
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.receive()

    def close(self):
        try:
            self.proc.stdin.write('{"cmd": "quit"}\n')
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--quick", action="store_true", help="1 round of 0.05 s: a smoke run")
    ap.add_argument("--json", default=os.path.join(HERE, "bench_predict.json"),
                    help="where the results go (default: bench_predict.json next to this)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.threads)
    sys.path.insert(0, HERE)
    from _machine import describe, machine_info
    rounds, min_s = (1, 0.05) if args.quick else (args.rounds, MIN_SECONDS)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    say = lambda m: print(m, flush=True)
    say(f"prediction benchmark: network {'-'.join(map(str, SIZES))} float32, {rounds} "
        f"round(s), {args.threads} thread(s) per peer")
    machine = machine_info()
    say(describe(machine))
    workers = {p: Worker(p, args.threads) for p in peers}
    info, live = {}, []
    for p, w in workers.items():
        info[p] = w.receive()
        if info[p]["ok"]:
            live.append(p)
            say(f"  {p:18s} {info[p]['version']}  max |p - numpy float64| = "
                f"{info[p]['max_abs_diff']:.1e}")
        else:
            say(f"  {p:18s} not available: {info[p]['error']}")
            w.close()
    res = {p: {"latency_us": [], "rows_per_s": []} for p in live}
    try:
        for r in range(rounds):
            for p in live[r % len(live):] + live[:r % len(live)]:
                out = workers[p].ask(cmd="round", min_seconds=min_s)
                if out["ok"]:
                    res[p]["latency_us"].append(out["latency_us"])
                    res[p]["rows_per_s"].append(out["rows_per_s"])
    finally:
        for p in live:
            workers[p].close()
    hp = "hpframe" if "hpframe" in live else "hpframe-core" if "hpframe-core" in live else None
    rows = []
    for p in live:
        lat = statistics.median(res[p]["latency_us"])
        thr = statistics.median(res[p]["rows_per_s"])
        res[p].update(median_latency_us=lat, median_rows_per_s=thr,
                      agrees=info[p]["max_abs_diff"] < 1e-5)
        rows.append(p)
    table = ["| peer | latency, batch 1 (us) | hpframe faster by | throughput, 10k rows "
             "(rows/s) | hpframe faster by | agrees |", "|---|---|---|---|---|---|"]
    for p in rows:
        r = res[p]
        if hp:
            # paired by round: both timed seconds apart
            lat_ratio = statistics.median(a / b for a, b in zip(r["latency_us"],
                                                                res[hp]["latency_us"]))
            thr_ratio = statistics.median(a / b for a, b in zip(res[hp]["rows_per_s"],
                                                                r["rows_per_s"]))
            r.update(hpframe_latency_speedup=lat_ratio, hpframe_throughput_speedup=thr_ratio)
        table.append(f"| {p} | {r['median_latency_us']:.1f} | "
                     f"{r.get('hpframe_latency_speedup', 0):.2f}x | "
                     f"{r['median_rows_per_s'] / 1e6:.2f}M | "
                     f"{r.get('hpframe_throughput_speedup', 0):.2f}x | "
                     f"{'yes' if r['agrees'] else 'NO'} |")
    say("")
    say("\n".join(table))
    say(f"\n'hpframe faster by': {hp}'s speed over the peer's, median over rounds of the "
        f"ratio within a round (> 1: hpframe is faster).")
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "machine": machine, "threads": args.threads, "rounds": rounds,
              "quick": args.quick, "network": list(SIZES), "bulk_rows": BULK_ROWS,
              "peers": {p: {k: v for k, v in i.items() if k != "ok"} for p, i in info.items()},
              "results": res, "hpframe_measured_as": hp, "markdown": "\n".join(table)}
    if args.json:
        from hpframe._atomic import atomic_open
        with atomic_open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        say(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    if os.path.isdir(os.path.join(SRC, "hpframe")) and SRC not in sys.path:
        sys.path.insert(0, SRC)
    sys.exit(main())
