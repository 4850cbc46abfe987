/*
 * dl_all.c - the unity build: every source of the core in one translation
 * unit, so the compiler inlines across files while each file stays about one
 * concern. build.rs compiles only this file; adding a source means adding a
 * line here and nowhere else.
 */
#include "params.c"
#include "bins.c"
#include "sysmem.c"
#include "recycle.c"
#include "heap.c"
#include "stats.c"
#include "check.c"
#include "registry.c"
#include "fork.c"
#include "attached.c"
#include "entry.c"
#include "global.c"
#include "mspace.c"
