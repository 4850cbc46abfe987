/*
 * fork.c - the registry of live mspaces, and keeping heaps usable across
 * fork(): the three handlers a hosted platform passes to pthread_atfork. Prepare takes every heap lock (so no heap is caught
 * mid-operation), the parent releases them, the child re-initialises them
 * (only the forking thread survives; whoever else held a lock is gone).
 */
#include "dl_internal.h"

/* Live mspaces, linked through their next_space field; guarded by
 * dl_registry_lock, which params.c initialises with the global heap. */
static dl_state *live_mspaces;

DL_INTERNAL void dl_register_mspace(dl_state *m) {
    acquire_lock(&dl_registry_lock);
    m->next_space = live_mspaces;
    live_mspaces = m;
    release_lock(&dl_registry_lock);
}

DL_INTERNAL void dl_unregister_mspace(dl_state *m) {
    acquire_lock(&dl_registry_lock);
    for (dl_state **link = &live_mspaces; *link != 0; link = &(*link)->next_space) {
        if (*link == m) {
            *link = m->next_space;
            break;
        }
    }
    release_lock(&dl_registry_lock);
}

#if DL_FOOTERS
/* Whether `owner` is a live heap. Used only on the way to an abort, with
 * the caller's heap lock held: it reads the list without the registry lock,
 * which could otherwise be taken in the opposite order by a fork. */
DL_INTERNAL int dl_is_live_heap(const dl_state *owner) {
    if (owner == &dl_gm) return 1;
    for (const dl_state *m = live_mspaces; m != 0; m = m->next_space)
        if (m == owner) return 1;
    return 0;
}
#endif

DL_API void dlmalloc_atfork_prepare(void) {
    dl_ensure_initialized();
    acquire_lock(&dl_registry_lock);
    for (dl_state *m = live_mspaces; m != 0; m = m->next_space) dl_lock(m);
    dl_lock(&dl_gm);
}

DL_API void dlmalloc_atfork_parent(void) {
    dl_unlock(&dl_gm);
    for (dl_state *m = live_mspaces; m != 0; m = m->next_space) dl_unlock(m);
    release_lock(&dl_registry_lock);
}

static void restart_lock(void **lock) {
    *lock = 0;
    init_lock(lock);
}

DL_API void dlmalloc_atfork_child(void) {
    if (dl_gm.flags & USE_LOCK_FLAG) restart_lock(&dl_gm.mutex);
    for (dl_state *m = live_mspaces; m != 0; m = m->next_space)
        if (m->flags & USE_LOCK_FLAG) restart_lock(&m->mutex);
    restart_lock(&dl_registry_lock);
}
