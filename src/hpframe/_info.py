"""What was built and what it runs on: versions, build mode, BLAS."""
import importlib
import platform
import sys

import numpy as np

from hpframe._core import CORE_MODULES


def build_info():
    """Versions, the compiled core modules with their build mode, and the BLAS in use.

    Returns
    -------
    dict
        ``hpframe``, ``python``, ``numpy``, ``scipy`` versions; ``modules``: name ->
        ``"checked"`` (bounds checking on, built with ``HPFRAME_CYTHON_DEBUG=1``) or
        ``"release"`` (a module not built for this platform is left out); ``mode``: the
        common mode (or ``"mixed"``); ``network``: the build of the network in use
        (``network_avx2`` on CPUs with AVX2); ``threads``: the most threads training
        uses (:func:`hpframe.get_num_threads`); ``gemm_piece``: the most multiply-adds
        one BLAS call of the training loops computes (0: no limit; see
        :doc:`/inside_the_core`), or None when the policy could not be read;
        ``gemm_policy``: that and the product in use (``gemm_kernel``: ``"blas"``
        or ``"own"``, hpframe's own float32 product), and where they came from
        (``source``: ``"environment"``
        - ``HPFRAME_GEMM_PIECE`` -, ``"cache"`` or ``"measured"``; ``kernel``,
        ``file``, ``entry`` with the measured times, ``summary``; or ``error``);
        ``blas``: the BLAS libraries loaded (library,
        version, threads).
    """
    import scipy
    import hpframe

    from hpframe._core import network_module
    from hpframe._core._gemm_policy import gemm_policy
    modules = {}
    for name in CORE_MODULES:
        try:
            module = importlib.import_module(f"hpframe._core.{name}")
        except ImportError:
            if name == "network_avx2":      # built on x86-64 only
                continue
            raise
        modules[name] = "checked" if module._checked_build() else "release"
    modes = set(modules.values())
    info = {
        "hpframe": hpframe.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "modules": modules,
        "mode": modes.pop() if len(modes) == 1 else "mixed",
        "network": network_module.__name__.rsplit(".", 1)[-1],
        "threads": hpframe.get_num_threads(),
        "gemm_piece": None,
        "gemm_policy": None,
        "blas": [],
    }
    try:
        policy = gemm_policy()
        info["gemm_piece"] = policy["gemm_piece"]
        info["gemm_policy"] = policy
    except ValueError as exc:            # a bad HPFRAME_GEMM_PIECE or a corrupt cache file
        info["gemm_policy"] = {"error": str(exc), "summary": f"cannot be chosen: {exc}"}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return info
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            owner = "scipy (used by hpframe's core)" if "scipy.libs" in pool["filepath"] \
                else "numpy" if "numpy" in pool["filepath"] else "other"
            info["blas"].append({"library": pool.get("internal_api"), "version": pool.get("version"),
                                 "threads": pool.get("num_threads"), "owner": owner,
                                 "architecture": pool.get("architecture")})
    return info


def show_config(file=None):
    """Print :func:`build_info` as readable lines (``python -m hpframe info``)."""
    info = build_info()
    out = file or sys.stdout
    print(f"hpframe {info['hpframe']}  (python {info['python']}, numpy {info['numpy']}, "
          f"scipy {info['scipy']})", file=out)
    print(f"platform: {info['platform']}", file=out)
    print(f"core build: {info['mode']}"
          + ("  (bounds/wraparound/initialized checks ON)" if info["mode"] == "checked" else ""),
          file=out)
    for name, mode in info["modules"].items():
        print(f"  hpframe._core.{name:<12} {mode}", file=out)
    print(f"network in use: hpframe._core.{info['network']}; training threads: up to "
          f"{info['threads']} (hpframe.set_num_threads)", file=out)
    policy = info["gemm_policy"] or {}
    if info["gemm_piece"] is None:
        print(f"products: ERROR - {policy.get('error')}", file=out)
    else:
        if policy.get("gemm_kernel") == "own":
            print("products: hpframe's own float32 product (AVX2, FMA), one call each, up "
                  "to 256 columns; BLAS for wider ones and for float64", file=out)
        else:
            print("products: " + (f"in pieces of at most {info['gemm_piece']:,} multiply-adds"
                                  if info["gemm_piece"] else "one BLAS call each"), file=out)
        print(f"  chosen: {policy['summary'].split(' (', 1)[1][:-1]}", file=out)
        print("  prediction: " + ("hpframe's own float32 product"
                                  if policy.get("predict_kernel") == "own"
                                  else "BLAS, as training"), file=out)
        entry = policy.get("entry") or {}
        if entry.get("relative_time"):
            print("  measured epoch time relative to one BLAS call per product, by piece "
                  "size (own: hpframe's own product): "
                  + ", ".join(f"{int(c):,}: {r:.3f}" if c.isdigit() else f"{c}: {r:.3f}"
                              for c, r in entry["relative_time"].items())
                  + f"; kernel {policy['kernel']}", file=out)
        if entry.get("predict_relative_time"):
            print("  measured prediction time relative to BLAS: "
                  + ", ".join(f"{c}: {r:.3f}" for c, r in entry["predict_relative_time"].items()),
                  file=out)
    for b in info["blas"]:
        print(f"BLAS: {b['library']} {b['version']} ({b['architecture']}), {b['threads']} "
              f"thread(s) - {b['owner']}", file=out)
    return None
