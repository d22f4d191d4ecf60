/* kmc_unity.c - the C engine as one translation unit (what setup.py and .ci/fuzz compile).
 *
 * The engine is split by responsibility into files (kmc_engine_impl.h lists them), but
 * its hot loops call across them (the tree solver into the interactions, the event solver
 * into the tree, every solver into the rate law); compiled as one unit, with the files'
 * shared functions static (KMC_UNITY), they inline as they did when the engine was one
 * file, with no link-time optimisation needed. Every file still compiles on its own. */
#define KMC_UNITY 1
/* first: it includes kmc_engine_impl.h, whose feature macro must precede any system header */
#include "kmc_engine.c"
#include "kmc_build.c"
#include "kmc_interact.c"
#include "kmc_tree.c"
#include "kmc_events.c"
#include "kmc_count.c"
#include "kmc_uniform.c"
#include "kmc_sumtree.c"
