/*
 * fork.c - keeping heaps usable across fork(): a registry of the locked
 * mspaces, and the three handlers a hosted platform passes to
 * pthread_atfork. Prepare takes every heap lock (so no heap is caught
 * mid-operation), the parent releases them, the child re-initialises them
 * (only the forking thread survives; whoever else held a lock is gone).
 */
#include "dl_internal.h"

/* Locked mspaces, linked through their fork_next field; guarded by
 * dl_registry_lock, which params.c initialises with the global heap. */
static dl_state *locked_mspaces;

DL_INTERNAL void dl_register_locked(dl_state *m) {
    acquire_lock(&dl_registry_lock);
    m->fork_next = locked_mspaces;
    locked_mspaces = m;
    release_lock(&dl_registry_lock);
}

DL_INTERNAL void dl_unregister_locked(dl_state *m) {
    acquire_lock(&dl_registry_lock);
    for (dl_state **link = &locked_mspaces; *link != 0; link = &(*link)->fork_next) {
        if (*link == m) {
            *link = m->fork_next;
            break;
        }
    }
    release_lock(&dl_registry_lock);
}

DL_API void dlmalloc_atfork_prepare(void) {
    dl_ensure_initialized();
    acquire_lock(&dl_registry_lock);
    for (dl_state *m = locked_mspaces; m != 0; m = m->fork_next) acquire_lock(&m->mutex);
    dl_lock(&dl_gm);
}

DL_API void dlmalloc_atfork_parent(void) {
    dl_unlock(&dl_gm);
    for (dl_state *m = locked_mspaces; m != 0; m = m->fork_next) release_lock(&m->mutex);
    release_lock(&dl_registry_lock);
}

static void restart_lock(void **lock) {
    *lock = 0;
    init_lock(lock);
}

DL_API void dlmalloc_atfork_child(void) {
    if (dl_gm.flags & USE_LOCK_FLAG) restart_lock(&dl_gm.mutex);
    for (dl_state *m = locked_mspaces; m != 0; m = m->fork_next) restart_lock(&m->mutex);
    restart_lock(&dl_registry_lock);
}
