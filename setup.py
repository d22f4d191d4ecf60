"""Build the C engine (csrc/) and its Cython wrapper (kmc/_engine.pyx)."""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    cflags = ["/fp:precise", "/O2"]
else:
    # Bit-reproducible trajectories: no fused multiply-add contraction, no fast-math.
    cflags = ["-std=c99", "-O2", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra"]

# Opt-in sanitizer build (.ci/sanitize): KMC_SANITIZE=1 adds AddressSanitizer and
# UndefinedBehaviorSanitizer (the later -O1 overrides -O2). Not on Windows.
ldflags, options = [], {}
if os.environ.get("KMC_SANITIZE") == "1" and sys.platform != "win32":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
           "-fno-sanitize-recover=undefined", "-O1", "-g"]
    cflags = cflags + san
    ldflags = san
    # its own build directory, so that neither build reuses the other's objects
    options = {"build": {"build_base": "build/asan"}}

# The C engine is one translation unit: csrc/kmc_unity.c includes every csrc/*.c, so that
# the solvers' calls into the shared parts inline (csrc/kmc_engine_impl.h). The other files
# are in the sdist (MANIFEST.in) but not compiled on their own; `depends` rebuilds on their
# changes.
ENGINE_FILES = sorted(os.path.join("csrc", f) for f in os.listdir("csrc") if f.endswith((".c", ".h")))

ext = Extension(
    "kmc._engine",
    sources=["kmc/_engine.pyx", "csrc/kmc_unity.c"],
    depends=ENGINE_FILES,
    include_dirs=["csrc"],
    extra_compile_args=cflags,
    extra_link_args=ldflags,
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

setup(options=options, ext_modules=cythonize([ext], language_level=3, compiler_directives={"embedsignature": True}))
