"""How the training loops cut their matrix products: chosen per BLAS kernel by
measurement, once per machine, and kept.

The loops may cut a product into pieces of at most ``gemm_piece`` multiply-adds
(``_blas.pxd``: products in pieces). Whether that pays depends on the BLAS
kernel: OpenBLAS multiplies small products in place and packs big ones into
panels first, and where that switch lies, and how fast each side is, differs
from one kernel set (SkylakeX, Haswell, Zen, ...) to the next. So the piece
size is not read off a list of kernel names: it is **measured** - a few epochs
of two small networks on one thread, for each candidate piece size - and the
fastest candidate is kept in a JSON file in the user's cache folder, one entry
per BLAS kernel (library, version, kernel set) and CPU.

One more candidate is not a piece size: ``"own"``, hpframe's own float32
product (``_sgemm.h``, AVX2 with FMA, where the CPU has them), which packs
nothing - BLAS packs both operands of every call, which the small products of
a training step pay for again and again. It is kept the same way: only if it
beats one BLAS call per product by the margin, and beats every piece size.

It is measured once: the cut changes the order in which a product's terms are
added, hence the last bits of the results, so a value once chosen must never
change behind the user's back. Every later process reads the file; no run
ever times anything to decide it. Where it comes from (in order):

1. ``HPFRAME_GEMM_PIECE`` - an integer >= 0 (0: one BLAS call per product) -
   and ``HPFRAME_GEMM_KERNEL`` - ``blas`` or ``own`` (either may be set alone);
2. the cache file ``$XDG_CACHE_HOME/hpframe/gemm_piece.json`` (by default
   ``~/.cache/hpframe/gemm_piece.json``), its entry for this kernel;
3. else measured now (about a second), and written there atomically
   (:func:`hpframe._atomic.atomic_open`; a lock file keeps two processes from
   measuring at once, so a pool of workers agrees).

A cache file that cannot be read as this module wrote it is an **error** naming
the file, not silently measured again: the value it held decided the last bits
of the user's earlier results, and a new measurement may choose differently.
Delete the file (or set ``HPFRAME_GEMM_PIECE``) to choose again.
"""
import json
import os
import sys
import threading
import time

import numpy as np

ENV_VAR = "HPFRAME_GEMM_PIECE"
KERNEL_ENV_VAR = "HPFRAME_GEMM_KERNEL"
OWN = "own"             # the candidate "hpframe's own float32 product" (no pieces)
CACHE_NAME = "gemm_piece.json"
FORMAT = 1
# The candidates: one call per product, or pieces of about 63^3, 100^3, 160^3.
CANDIDATES = (0, 250_000, 1_000_000, 4_000_000)
# A piece size is kept only if it beats one call per product by this much: the
# measurement's noise must not decide for pieces.
MIN_GAIN = 0.03
# (sizes, batch, rows): one thread's products of mnist-bs64 and of a wider net.
WORKLOADS = (((784, 128, 10), 64, 2048), ((784, 512, 512, 10), 64, 512))
REPEATS = 7

_lock = threading.RLock()
_policy = None
_measuring = False       # the measurement's own networks use no policy (0)


def cache_dir():
    """The folder of hpframe's cache: ``$XDG_CACHE_HOME/hpframe`` (Linux and other
    POSIX), ``~/Library/Caches/hpframe`` (macOS), ``%LOCALAPPDATA%\\hpframe\\cache``
    (Windows)."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return os.path.join(os.environ["LOCALAPPDATA"], "hpframe", "cache")
    if sys.platform == "darwin" and not os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.path.expanduser("~"), "Library", "Caches", "hpframe")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hpframe")


def cache_file():
    """The path of the cache file (it may not exist yet)."""
    return os.path.join(cache_dir(), CACHE_NAME)


def blas_kernel():
    """The key of this machine's BLAS kernel: library, version, kernel set (as
    ``threadpoolctl`` reports scipy's BLAS, the one the core calls) and the CPU."""
    from threadpoolctl import threadpool_info
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    # scipy's wheels bundle their BLAS in scipy.libs (numpy's is also named
    # libscipy_openblas*, but lives in numpy.libs); elsewhere both share one BLAS
    mine = [p for p in pools if "scipy.libs" in p.get("filepath", "")] or pools
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        import platform
        cpu = platform.processor() or platform.machine() or cpu
    if not mine:
        return f"unknown BLAS | {cpu}"
    p = mine[0]
    return f"{p.get('internal_api')} {p.get('version')} {p.get('architecture')} | {cpu}"


def own_available():
    """True if hpframe's own float32 product can run on this CPU and build."""
    from hpframe._core._blas import own_gemm_available
    return own_gemm_available()


def candidates():
    """The candidates this machine can run: the piece sizes, and ``"own"``."""
    return CANDIDATES + ((OWN,) if own_available() else ())


def _kernel_from_env():
    raw = os.environ.get(KERNEL_ENV_VAR)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value not in ("blas", OWN):
        raise ValueError(f"{KERNEL_ENV_VAR}={raw!r} is not allowed; use 'blas' (BLAS "
                         "multiplies every product) or 'own' (hpframe's own float32 "
                         "product), or unset it to use the measured choice")
    if value == OWN and not own_available():
        raise ValueError(f"{KERNEL_ENV_VAR}={raw!r} is not allowed on this machine: "
                         "hpframe's own product needs a CPU with AVX2 and FMA (and an "
                         "x86-64 build by GCC or Clang); use 'blas' or unset it")
    return value


def _from_env():
    raw = os.environ.get(ENV_VAR)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{ENV_VAR}={raw!r} is not allowed; use an integer >= 0 (the most "
                         "multiply-adds one BLAS call of the training loops takes; 0: one "
                         "call per product), or unset it to use the measured choice")
    return value


def read_cache(path):
    """The cache file's entries ({kernel: entry}); {} if the file does not exist.

    Raises
    ------
    ValueError
        If the file exists but is not a cache this module wrote (naming the file).
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
        entries = data["kernels"]
        if data.get("format") != FORMAT or not isinstance(entries, dict):
            raise ValueError("unknown format")
        for entry in entries.values():
            piece = entry["gemm_piece"]
            if not isinstance(piece, int) or isinstance(piece, bool) or piece < 0:
                raise ValueError(f"gemm_piece {piece!r}")
            # (entries measured before the own product existed have no gemm_kernel:
            # BLAS, as they were measured)
            for name in ("gemm_kernel", "predict_kernel"):
                if entry.get(name, "blas") not in ("blas", OWN):
                    raise ValueError(f"{name} {entry[name]!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"the cache file {path} of hpframe's BLAS policy is corrupt ({exc}); delete it "
            f"to measure again, or set {ENV_VAR} to choose the piece size yourself") from None
    return entries


def _time_candidates(candidates=None, workloads=WORKLOADS, repeats=REPEATS):
    """Seconds of one epoch of each workload for each candidate piece size, a list of
    ``repeats`` (candidates interleaved, so repeat i of each was timed moments
    apart), on one thread with one BLAS thread."""
    from threadpoolctl import threadpool_limits
    from hpframe._core.network import Network
    from hpframe._core.spec import NetworkSpec
    candidates = globals()["candidates"]() if candidates is None else tuple(candidates)
    times = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for sizes, batch, rows in workloads:
            name = f"{'-'.join(map(str, sizes))} batch {batch}"
            rng = np.random.default_rng(0)
            X = rng.standard_normal((rows, sizes[0]), dtype=np.float32)
            labels = rng.integers(0, sizes[-1], rows).astype(np.intc)
            no_targets = np.empty((0, sizes[-1]), np.float32)
            nets = {}
            for c in candidates:
                net = Network(NetworkSpec(sizes, dropout=0.2, capacity=batch, seed=0,
                                          dtype=np.float32))
                net.gemm_piece = 0 if c == OWN else c
                net.gemm_kernel = OWN if c == OWN else "blas"
                for l in range(net.n_layers):
                    W = net.weight(l)
                    W[...] = rng.standard_normal(W.shape) * np.sqrt(2 / W.shape[0])
                net.train_epoch(X[:batch * 4], labels[:batch * 4], no_targets, batch, 1e-4,
                                True, 1)                               # warm-up
                nets[c] = net
            seconds = {c: [] for c in candidates}
            for i in range(repeats):
                for c in candidates[i % len(candidates):] + candidates[:i % len(candidates)]:
                    start = time.perf_counter()
                    nets[c].train_epoch(X, labels, no_targets, batch, 1e-4, True, 1)
                    seconds[c].append(time.perf_counter() - start)
            times[name] = seconds
    return times


def _time_predict(piece, repeats=REPEATS):
    """Seconds of one prediction (4,096 rows through 784-128-10 in chunks of 256, one
    thread) with BLAS in pieces of ``piece`` and with the own product, by repeat:
    ``{"blas": [...], "own": [...]}`` (interleaved)."""
    from threadpoolctl import threadpool_limits
    from hpframe._core.network import Network
    from hpframe._core.spec import NetworkSpec
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4096, 784), dtype=np.float32)
    out = np.empty((4096, 10), np.float32)
    net = Network(NetworkSpec((784, 128, 10), capacity=256, seed=0, dtype=np.float32))
    net.params[...] = rng.standard_normal(net.n_params).astype(np.float32) * 0.05
    net.gemm_piece = piece
    seconds = {"blas": [], OWN: []}
    with threadpool_limits(limits=1, user_api="blas"):
        for i in range(repeats + 1):
            for kernel in (("blas", OWN) if i % 2 == 0 else (OWN, "blas")):
                net.predict_kernel = kernel
                start = time.perf_counter()
                net.predict_into(X, out, 1)
                if i > 0:                                      # the first is a warm-up
                    seconds[kernel].append(time.perf_counter() - start)
    return seconds


def relative_times(times, candidates=CANDIDATES):
    """Each candidate's time relative to one call per product (0): per workload the
    median over repeats of the ratio within a repeat (timed moments apart, so a
    machine's drift cancels), then the geometric mean over the workloads.
    ``times``: {workload: {candidate: seconds or list of seconds by repeat}}."""
    def ratio(t, c):
        a, b = np.atleast_1d(t[c]), np.atleast_1d(t[0])
        return float(np.median(a / b))
    return {c: float(np.exp(np.mean([np.log(ratio(t, c)) for t in times.values()])))
            for c in candidates}


def choose(times, candidates=CANDIDATES, min_gain=MIN_GAIN):
    """The candidate with the smallest :func:`relative_times`, if that beats one call
    per product (0) by ``min_gain``; else 0. (A candidate is a piece size or
    ``"own"``.)"""
    rel = relative_times(times, candidates)
    best = min(candidates, key=lambda c: rel[c])
    return (best if rel[best] <= 1 - min_gain else 0), rel


def measure():
    """Measure now and return the cache entry (not written anywhere)."""
    global _measuring
    with _lock:
        _measuring = True
        try:
            times = _time_candidates()
        finally:
            _measuring = False
    cands = tuple(next(iter(times.values())))          # those timed, in their order
    best, rel = choose(times, cands)
    piece = 0 if best == OWN else best
    # prediction (bigger products, no optimizer) is measured on its own: BLAS in
    # the chosen pieces against the own product
    predict = {"blas": 1.0}
    if own_available():
        with _lock:
            _measuring = True
            try:
                seconds = _time_predict(piece)
            finally:
                _measuring = False
        predict[OWN] = float(np.median(np.array(seconds[OWN]) / np.array(seconds["blas"])))
    predict_kernel = OWN if predict.get(OWN, 1.0) <= 1 - MIN_GAIN else "blas"
    return {"gemm_piece": piece,
            "gemm_kernel": OWN if best == OWN else "blas",
            "predict_kernel": predict_kernel,
            "predict_relative_time": {k: round(v, 4) for k, v in predict.items()},
            "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "relative_time": {str(c): round(r, 4) for c, r in rel.items()},
            "seconds": {w: {str(c): [round(x, 6) for x in np.atleast_1d(s)]
                            for c, s in t.items()} for w, t in times.items()}}


def _locked(path):
    """An exclusive lock on ``path`` (a no-op context where fcntl is missing)."""
    import contextlib

    @contextlib.contextmanager
    def lock():
        try:
            import fcntl
        except ImportError:
            yield
            return
        with open(path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    return lock()


def _measure_and_keep(kernel):
    """Measure for ``kernel`` and add it to the cache file; return (entry, source)."""
    from hpframe._atomic import atomic_open
    folder, path = cache_dir(), cache_file()
    try:
        os.makedirs(folder, exist_ok=True)
        with _locked(os.path.join(folder, CACHE_NAME + ".lock")):
            entries = read_cache(path)          # another process may have measured
            if kernel in entries:
                return entries[kernel], "cache"
            entry = measure()
            entries[kernel] = entry
            with atomic_open(path, "w", encoding="utf-8") as f:
                json.dump({"format": FORMAT, "kernels": entries}, f, indent=1, sort_keys=True)
        return entry, "measured"
    except OSError as exc:                      # a read-only home: keep it for this process
        import warnings
        entry = measure()
        warnings.warn(f"hpframe could not save its BLAS policy to {path} ({exc}); it was "
                      f"measured for this process only (gemm_piece={entry['gemm_piece']}). "
                      f"Set {ENV_VAR} to fix it", RuntimeWarning, stacklevel=3)
        return entry, "measured (not saved)"


def gemm_policy(refresh=False):
    """The piece size and the product (BLAS or hpframe's own) the training loops
    use, and where they came from.

    Parameters
    ----------
    refresh : bool
        Look again (environment, cache, else measure) instead of returning this
        process's earlier answer.

    Returns
    -------
    dict
        ``gemm_piece`` (int, 0: one BLAS call per product), ``gemm_kernel``
        (``"blas"`` or ``"own"``: hpframe's own float32 product), ``predict_kernel``
        (the same, for prediction, measured on its own), ``source``
        (``"environment"``, ``"cache"``, ``"measured"``), ``kernel``, ``file``
        and ``entry`` (the cache entry with the measured times, if any) and
        ``summary`` (one readable line).

    Raises
    ------
    ValueError
        If ``HPFRAME_GEMM_PIECE`` is not an integer >= 0, ``HPFRAME_GEMM_KERNEL``
        not ``blas`` or ``own`` (or ``own`` where it cannot run), or the cache file is
        corrupt (the message names it).
    """
    global _policy
    with _lock:
        if _measuring:       # a network built by measure() itself: its piece is set after
            return {"gemm_piece": 0, "gemm_kernel": "blas", "predict_kernel": "blas",
                    "source": "measuring", "summary": "measuring"}
        if _policy is not None and not refresh:
            return _policy
        env = _from_env()
        env_kernel = _kernel_from_env()
        path = cache_file()
        if env is not None or env_kernel == OWN:
            # a piece size set by hand means BLAS in such pieces (unless the own
            # product is asked for too); the own product needs no piece size
            policy = {"gemm_piece": env or 0, "gemm_kernel": env_kernel or "blas",
                      "predict_kernel": env_kernel or "blas", "source": "environment",
                      "kernel": None, "file": None, "entry": None}
        else:
            kernel = blas_kernel()
            entries = read_cache(path)
            if kernel in entries:
                entry, source = entries[kernel], "cache"
            else:
                entry, source = _measure_and_keep(kernel)
            def usable(name):
                chosen = entry.get(name, "blas")
                return chosen if chosen != OWN or own_available() else "blas"
            policy = {"gemm_piece": entry["gemm_piece"], "gemm_kernel": usable("gemm_kernel"),
                      "predict_kernel": usable("predict_kernel"), "source": source,
                      "kernel": kernel, "file": path, "entry": entry}
            if env_kernel == "blas":         # BLAS asked for: the pieces measured for it
                policy["gemm_kernel"] = policy["predict_kernel"] = "blas"
                policy["source"] = "environment"
        piece = policy["gemm_piece"]
        what = (f"pieces of at most {piece:,} multiply-adds" if piece
                else "one BLAS call per product")
        if policy["gemm_kernel"] == OWN:
            what = ("hpframe's own float32 product, one call per product up to 256 columns; "
                    "BLAS for wider ones and for float64")
        shown = _home_relative(path)
        where = {"environment": f"set by {ENV_VAR} / {KERNEL_ENV_VAR}",
                 "cache": f"measured {(policy['entry'] or {}).get('measured', '?')} for "
                          f"this BLAS kernel, read from {shown}",
                 "measured": f"measured now for this BLAS kernel, saved to {shown}"}.get(
                     policy["source"], policy["source"])
        policy["summary"] = f"{what} ({where})"
        _policy = policy
        return policy


def forget():
    """Drop this process's answer, so the next :func:`gemm_policy` looks again (tests)."""
    global _policy
    with _lock:
        _policy = None


def _home_relative(path):
    """``path`` with the home folder shown as ``~`` (what a user types, and no
    build machine's home in printed output)."""
    home = os.path.expanduser("~")
    path = os.fspath(path)
    if home not in ("", "~", "/") and path.startswith(home + os.sep):
        return "~" + path[len(home):]
    return path
