/*
 * attached.c - heaps attached to the dl* API. A caller that spreads the
 * global heap's work over several mspaces (the safe crate's per-thread
 * arenas) places them in one address range split into equal regions and
 * attaches them here. From then on a block in region i belongs to heap i:
 * dlfree, dlrealloc, dlrealloc_in_place and dlbulk_free give it to that
 * heap (under its lock) instead of the global heap, so C code may free a
 * block that Rust's allocator handed out; and the global statistics, trim,
 * heap check and inspection take every attached heap in with the global
 * one, and the global footprint limit bounds them all together (two heaps
 * growing at the same moment may overshoot it by one growth). Finding a
 * block's heap is one subtraction and one comparison.
 *
 * DL_NO_ATTACHED_HEAPS (Cargo feature `no-attached-heaps`) leaves this out
 * for builds that never attach heaps (the safe crate's per-thread arenas
 * exist on Linux and Windows only): every block is the global heap's, and
 * attaching fails.
 */
#include "dl_internal.h"

#ifndef DL_NO_ATTACHED_HEAPS
#define DL_NO_ATTACHED_HEAPS 0
#endif

#if DL_NO_ATTACHED_HEAPS

DL_API int dlmalloc_attach_heaps(void *base, size_t count, unsigned shift, void *const *heaps) {
    (void)base, (void)count, (void)shift, (void)heaps;
    return -1;
}
DL_INTERNAL dl_state *dl_heap_of(const void *mem) {
    (void)mem;
    return &dl_gm;
}
DL_INTERNAL size_t dl_attached_count(void) { return 0; }
DL_INTERNAL dl_state *dl_attached(size_t i) {
    (void)i;
    return 0;
}
DL_INTERNAL size_t dl_total_stat(size_t offset) {
    return dl_read_stat((const size_t *)(const void *)((const char *)&dl_gm + offset));
}
DL_INTERNAL int dl_under_global_limit(const dl_state *m) {
    (void)m;
    return 0;
}

#else

static struct {
    size_t base;
    size_t span; /* count << shift; 0 while nothing is attached */
    unsigned shift;
    size_t count;
    void *const *heaps; /* the caller's array; NULL entries: no heap yet */
} attached;

DL_API int dlmalloc_attach_heaps(void *base, size_t count, unsigned shift, void *const *heaps) {
    dl_ensure_initialized();
    if (base == 0 || count == 0 || heaps == 0 || shift >= SIZE_T_BITS ||
        count > (MAX_SIZE_T >> shift) || (size_t)base > MAX_SIZE_T - (count << shift))
        return -1;
    acquire_lock(&dl_registry_lock);
    int done = -1;
    if (__atomic_load_n(&attached.span, __ATOMIC_RELAXED) == 0) {
        attached.base = (size_t)base;
        attached.shift = shift;
        attached.count = count;
        attached.heaps = heaps;
        __atomic_store_n(&attached.span, count << shift, __ATOMIC_RELEASE);
        done = 0;
    }
    release_lock(&dl_registry_lock);
    return done;
}

/* Attached heap i, or NULL if it has none yet. */
static dl_state *attached_heap(size_t i) {
    dl_state *m = (dl_state *)__atomic_load_n(&attached.heaps[i], __ATOMIC_ACQUIRE);
    if (m != 0 && DL_UNLIKELY(m->magic != dl_mparams.magic))
        DL_MISUSE("an attached heap is not a live mspace");
    return m;
}

DL_INTERNAL dl_state *dl_heap_of(const void *mem) {
    size_t offset = (size_t)mem - attached.base;
    if (DL_LIKELY(offset >= __atomic_load_n(&attached.span, __ATOMIC_ACQUIRE))) return &dl_gm;
    dl_state *m = attached_heap(offset >> attached.shift);
    if (DL_UNLIKELY(m == 0))
        DL_MISUSE("free or realloc of a block in an attached heap's region that has no heap");
    return m;
}

DL_INTERNAL size_t dl_attached_count(void) {
    return __atomic_load_n(&attached.span, __ATOMIC_ACQUIRE) == 0 ? 0 : attached.count;
}

DL_INTERNAL dl_state *dl_attached(size_t i) { return attached_heap(i); }

DL_INTERNAL size_t dl_total_stat(size_t offset) {
    size_t sum = dl_read_stat((const size_t *)(const void *)((const char *)&dl_gm + offset));
    for (size_t i = 0; i < dl_attached_count(); i++) {
        dl_state *m = dl_attached(i);
        if (m != 0) sum += dl_read_stat((const size_t *)(const void *)((const char *)m + offset));
    }
    return sum;
}

DL_INTERNAL int dl_under_global_limit(const dl_state *m) {
    size_t count = dl_attached_count();
    if (count == 0) return 0;
    if (m == &dl_gm) return 1;
    for (size_t i = 0; i < count; i++)
        if (__atomic_load_n(&attached.heaps[i], __ATOMIC_ACQUIRE) == (void *)m) return 1;
    return 0;
}

#endif /* DL_NO_ATTACHED_HEAPS */
