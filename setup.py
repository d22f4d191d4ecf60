"""Build the C engine (csrc/) and its Cython wrapper (kmc/_engine.pyx)."""
import sys
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    cflags = ["/fp:precise", "/O2"]
else:
    # Bit-reproducible trajectories: no fused multiply-add contraction, no fast-math.
    cflags = ["-std=c99", "-O2", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra"]

ext = Extension(
    "kmc._engine",
    sources=["kmc/_engine.pyx", *sorted(glob("csrc/*.c"))],
    include_dirs=["csrc"],
    extra_compile_args=cflags,
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

setup(ext_modules=cythonize([ext], language_level=3, compiler_directives={"embedsignature": True}))
