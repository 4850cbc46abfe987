/*
 * fork.c - keeping heaps usable across fork(): the three handlers a hosted
 * platform passes to pthread_atfork. Prepare takes every heap lock (so no
 * heap is caught mid-operation), the parent releases them, the child
 * re-initialises them (only the forking thread survives; whoever else held
 * a lock is gone).
 */
#include "dl_internal.h"

DL_API void dlmalloc_atfork_prepare(void) {
    dl_ensure_initialized();
    acquire_lock(&dl_registry_lock);
    for (dl_state *m = dl_live_mspaces; m != 0; m = m->next_space) dl_lock(m);
    dl_lock(&dl_gm);
#if DL_NEVER_UNMAP
    acquire_lock(&dl_recycle_lock); /* taken inside heap operations: last */
#endif
}

DL_API void dlmalloc_atfork_parent(void) {
#if DL_NEVER_UNMAP
    release_lock(&dl_recycle_lock);
#endif
    dl_unlock(&dl_gm);
    for (dl_state *m = dl_live_mspaces; m != 0; m = m->next_space) dl_unlock(m);
    release_lock(&dl_registry_lock);
}

static void restart_lock(void **lock) {
    *lock = 0;
    init_lock(lock);
}

DL_API void dlmalloc_atfork_child(void) {
    if (dl_gm.flags & USE_LOCK_FLAG) restart_lock(&dl_gm.mutex);
    for (dl_state *m = dl_live_mspaces; m != 0; m = m->next_space)
        if (m->flags & USE_LOCK_FLAG) restart_lock(&m->mutex);
    restart_lock(&dl_registry_lock);
#if DL_NEVER_UNMAP
    restart_lock(&dl_recycle_lock);
#endif
}
