"""What a benchmark ran on: CPU and its vector features, BLAS and its kernel, threads.

Every benchmark script records :func:`machine_info` in its JSON and prints
:func:`describe` next to its tables, so a number is never read without the
machine that produced it. A kernel pinned with ``OPENBLAS_CORETYPE`` (OpenBLAS
then runs that CPU's kernels, not the ones it would pick for this CPU) is said
plainly: such a run stands for another machine, e.g. ``Haswell`` for an AVX2
laptop.

Call it in the process that did the timing (the BLAS a process loaded, and its
thread count, are that process's own).
"""
import os
import platform

# the vector features that decide which kernels BLAS and the compilers use
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                "avx512_vnni", "avx512_bf16", "amx_tile", "neon", "asimd", "sve")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "HPFRAME_BENCH_THREADS")
KERNEL_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def cpu_info():
    """CPU model name and the vector features it reports (``/proc/cpuinfo``)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {"model": model, "vector_features": [f for f in VECTOR_FLAGS if f in flags]}


def blas_info():
    """The BLAS libraries loaded in this process: library, version, kernel, threads, owner."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    out = []
    for pool in threadpool_info():
        path = pool.get("filepath", "")
        owner = ("scipy" if "scipy.libs" in path else "numpy" if "numpy" in path
                 else "torch" if "torch" in path else os.path.basename(path))
        out.append({"user_api": pool.get("user_api"), "internal_api": pool.get("internal_api"),
                    "version": pool.get("version"), "architecture": pool.get("architecture"),
                    "threading_layer": pool.get("threading_layer"),
                    "num_threads": pool.get("num_threads"), "owner": owner})
    return out


def machine_info():
    """Everything above plus the pinned kernel (if any) and the thread settings.

    Returns
    -------
    dict
        ``cpu`` (model name), ``vector_features``, ``cores``, ``platform``,
        ``python``, ``blas`` (list of :func:`blas_info` rows), ``kernel_env``
        (``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` as set, or None),
        ``pinned_kernel`` (the ``OPENBLAS_CORETYPE`` value or None),
        ``thread_env`` and, where hpframe is importable, ``hpframe_gemm_piece``
        (its policy for cutting products, :func:`hpframe.build_info`).
    """
    cpu = cpu_info()
    info = {"cpu": cpu["model"], "vector_features": cpu["vector_features"],
            "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "blas": blas_info(),
            "kernel_env": {v: os.environ.get(v) for v in KERNEL_VARS},
            "pinned_kernel": os.environ.get("OPENBLAS_CORETYPE") or None,
            "thread_env": {v: os.environ.get(v) for v in THREAD_VARS}}
    try:
        import hpframe
        policy = hpframe.build_info().get("gemm_policy")
        if policy is not None:
            info["hpframe_gemm_piece"] = policy
    except Exception:                    # hpframe not importable here: a peer's process
        pass
    return info


def describe(info):
    """:func:`machine_info` as a few plain lines for a console or a Markdown note."""
    lines = [f"CPU: {info['cpu']}, {info['cores']} cores; vector features: "
             f"{', '.join(info['vector_features']) or 'none reported'}"]
    seen = set()
    for b in info["blas"]:
        key = (b["owner"], b["internal_api"], b["architecture"], b["num_threads"])
        if key in seen:
            continue
        seen.add(key)
        if b.get("user_api") == "openmp":       # a thread pool, not a BLAS: no kernel
            lines.append(f"OpenMP ({b['owner']}): {b['internal_api']}, "
                         f"{b['num_threads']} thread(s)")
            continue
        lines.append(f"BLAS ({b['owner']}): {b['internal_api']} {b['version'] or ''} kernel "
                     f"{b['architecture'] or '?'}, {b['num_threads']} thread(s)")
    pinned = info["pinned_kernel"]
    l2 = info["kernel_env"].get("OPENBLAS_L2_SIZE")
    if pinned:
        lines.append(f"PINNED KERNEL: OPENBLAS_CORETYPE={pinned} (OpenBLAS runs {pinned}'s "
                     f"kernels, not the ones it picks for this CPU)"
                     + (f", OPENBLAS_L2_SIZE={l2}" if l2 else ""))
    else:
        lines.append("kernel: OpenBLAS's own choice for this CPU (OPENBLAS_CORETYPE unset"
                     + (f"; OPENBLAS_L2_SIZE={l2}" if l2 else ", OPENBLAS_L2_SIZE unset") + ")")
    threads = ", ".join(f"{k}={v}" for k, v in info["thread_env"].items() if v is not None)
    lines.append("thread settings: " + (threads or "none set (libraries' defaults)"))
    policy = info.get("hpframe_gemm_piece")
    if policy:
        lines.append(f"hpframe products: {policy.get('summary', policy)}")
    return "\n".join(lines)

