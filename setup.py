"""Build hpframe's Cython core.

All Cython compiler directives live in ``COMPILER_DIRECTIVES`` below.  Set
``HPFRAME_CYTHON_DEBUG=1`` at build time for the *checked* build: bounds,
wraparound and initialized checks on.  Switching between the two modes forces a
fresh cythonize + compile (Cython and setuptools only look at timestamps, so a
directive change alone would otherwise be ignored).  ``HPFRAME_NATIVE=1`` adds
``-march=native`` for a build that only runs on this machine's CPU family.

A release build carries no debug information (``-g0``, and the linker strips
the symbol table), which would otherwise be most of a wheel's size; the
checked build keeps Python's ``-g``, for debuggers.
"""
import os
import platform
import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CHECKED = os.environ.get("HPFRAME_CYTHON_DEBUG", "0") == "1"
NATIVE = os.environ.get("HPFRAME_NATIVE", "0") == "1"
MODE = "checked" if CHECKED else "release"

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": CHECKED,
    "wraparound": CHECKED,
    "initializedcheck": CHECKED,
    "cdivision": True,
    "embedsignature": True,
}

# Safe for a wheel built on one x86-64 machine and run on another.
# -fno-math-errno lets sqrt/exp loops vectorise, -fno-trapping-math lets loops
# with a select vectorise (relu's gradient: g * (z > 0 ? 1 : 0)); neither changes
# a result, only whether errno and floating-point exception flags are kept exact.
# -ffp-contract=off: a multiply and an add are never fused into one rounding, so
# every build computes the same bits, -march=native too (GCC's default would fuse
# them wherever the CPU has FMA: ~690 places in optimizers.c alone).
CFLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"] + \
    (["-march=native"] if NATIVE else [])

# Release builds: no debug information (it changes no instruction, only the size).
NO_DEBUG_CFLAGS = [] if CHECKED or sys.platform == "win32" else ["-g0"]
NO_DEBUG_LDFLAGS = [] if CHECKED or sys.platform in ("win32", "darwin") else ["-s"]

CORE_MODULES = ["_blas", "activations", "losses", "dropout", "optimizers", "layout",
                "network", "finite"]

# network.pyx again, with 8-wide vectors for CPUs that have AVX2 (chosen at run
# time by hpframe._core); no FMA contraction (CFLAGS), so it computes the same bits.
AVX2 = platform.machine().lower() in ("x86_64", "amd64") and sys.platform != "win32"
AVX2_FLAGS = ["-mavx2"]

# Remember the mode of the last build; a change of mode forces a full rebuild.
_stamp = Path("build") / "hpframe-build-mode"
MODE_CHANGED = not _stamp.exists() or _stamp.read_text() != MODE


class BuildExt(build_ext):
    def run(self):
        if MODE_CHANGED:
            self.force = True
        super().run()
        _stamp.parent.mkdir(exist_ok=True)
        _stamp.write_text(MODE)


extensions = [
    Extension(
        f"hpframe._core.{name}",
        [f"src/hpframe/_core/{name}.pyx"],
        include_dirs=[np.get_include(), "src/hpframe/_core"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=CFLAGS + NO_DEBUG_CFLAGS,
        extra_link_args=NO_DEBUG_LDFLAGS,
    )
    for name in CORE_MODULES + (["network_avx2"] if AVX2 else [])
]
if AVX2:
    extensions[-1].extra_compile_args = CFLAGS + AVX2_FLAGS + NO_DEBUG_CFLAGS

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=COMPILER_DIRECTIVES,
        build_dir=f"build/cython-{MODE}",
        include_path=["src"],
        force=MODE_CHANGED,
    ),
    cmdclass={"build_ext": BuildExt},
)
