/*
 * registry.c - the list of live mspaces. The fork handlers (fork.c) walk it
 * to take every heap's lock, and with footers a free into the wrong heap is
 * told apart from a forged chunk by looking the owner up here.
 */
#include "dl_internal.h"

DL_INTERNAL void dl_register_mspace(dl_state *m) {
    acquire_lock(&dl_registry_lock);
    m->next_space = dl_live_mspaces;
    dl_live_mspaces = m;
    release_lock(&dl_registry_lock);
}

DL_INTERNAL void dl_unregister_mspace(dl_state *m) {
    acquire_lock(&dl_registry_lock);
    for (dl_state **link = &dl_live_mspaces; *link != 0; link = &(*link)->next_space) {
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
    for (const dl_state *m = dl_live_mspaces; m != 0; m = m->next_space)
        if (m == owner) return 1;
    return 0;
}
#endif
