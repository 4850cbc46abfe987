/*
 * api.c - the public dl* entry points of the global heap: argument checks,
 * the lock, and a call into heap.c / sysmem.c / stats.c / check.c.
 */
#include "dl_internal.h"

/* Takes the global heap's lock after making sure it exists. */
static inline dl_state *global_heap(void) {
    dl_ensure_initialized();
    dl_lock(&dl_gm);
    return &dl_gm;
}

static inline void release(dl_state *m) {
    DL_CHECK_HEAP(m);
    dl_unlock(m);
}

/* ======================= allocation ======================= */

DL_API void *dlmalloc(size_t bytes) {
    dl_state *m = global_heap();
    void *mem = dl_heap_malloc(m, bytes);
    release(m);
    return mem;
}

DL_API void dlfree(void *mem) {
    if (mem == 0) return;
    dl_state *m = global_heap();
    dl_chunk *p = dl_checked_chunk(m, mem, DL_OP_FREE);
    dl_heap_free(m, p);
    release(m);
}

DL_API void *dlcalloc(size_t count, size_t elem_size) {
    size_t bytes = 0;
    if (count != 0) {
        if (elem_size > MAX_REQUEST / count) return 0;
        bytes = count * elem_size;
    }
    void *mem = dlmalloc(bytes);
    if (mem != 0) memset(mem, 0, chunksize(MEM2CHUNK(mem)) - CHUNK_OVERHEAD);
    return mem;
}

DL_API void *dlrealloc(void *mem, size_t bytes) {
    if (mem == 0) return dlmalloc(bytes);
    if (bytes == 0) {
        dlfree(mem);
        return 0;
    }
    if (bytes >= MAX_REQUEST) return 0;
    size_t nb = REQUEST_TO_SIZE(bytes);
    dl_state *m = global_heap();
    dl_chunk *p = dl_checked_chunk(m, mem, DL_OP_REALLOC);
    dl_chunk *resized = dl_resize_chunk(m, p, nb, 1);
    release(m);
    if (resized != 0) return CHUNK2MEM(resized);
    /* Move: the old block stays intact if the new one cannot be had. */
    void *moved = dlmalloc(bytes);
    if (moved != 0) {
        size_t old_usable = chunksize(p) - CHUNK_OVERHEAD;
        memcpy(moved, mem, old_usable < bytes ? old_usable : bytes);
        dlfree(mem);
    }
    return moved;
}

DL_API void *dlrealloc_in_place(void *mem, size_t bytes) {
    if (mem == 0 || bytes >= MAX_REQUEST) return 0;
    size_t nb = REQUEST_TO_SIZE(bytes);
    dl_state *m = global_heap();
    dl_chunk *p = dl_checked_chunk(m, mem, DL_OP_REALLOC);
    dl_chunk *resized = dl_resize_chunk(m, p, nb, 0);
    release(m);
    return resized != 0 ? mem : 0;
}

DL_API void *dlmemalign(size_t alignment, size_t bytes) {
    dl_state *m = global_heap();
    void *mem = dl_heap_memalign(m, alignment, bytes);
    release(m);
    return mem;
}

DL_API int dlposix_memalign(void **pp, size_t alignment, size_t bytes) {
    if (alignment == 0 || alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0)
        return DL_EINVAL;
    if (alignment >= MAX_REQUEST || bytes >= MAX_REQUEST - alignment) return DL_ENOMEM;
    void *mem = dlmemalign(alignment, bytes);
    if (mem == 0) return DL_ENOMEM;
    *pp = mem;
    return 0;
}

DL_API void *dlvalloc(size_t bytes) {
    dl_ensure_initialized();
    return dlmemalign(dl_mparams.page_size, bytes);
}

DL_API void *dlpvalloc(size_t bytes) {
    dl_ensure_initialized();
    if (bytes >= MAX_REQUEST) return 0;
    return dlmemalign(dl_mparams.page_size, dl_page_align(bytes));
}

DL_API void **dlindependent_calloc(size_t n, size_t elem_size, void **chunks) {
    dl_state *m = global_heap();
    void **array = dl_heap_ialloc(m, n, 0, elem_size, 1, chunks);
    release(m);
    return array;
}

DL_API void **dlindependent_comalloc(size_t n, const size_t *sizes, void **chunks) {
    dl_state *m = global_heap();
    void **array = dl_heap_ialloc(m, n, sizes, 0, 0, chunks);
    release(m);
    return array;
}

DL_API size_t dlbulk_free(void **array, size_t n) {
    dl_state *m = global_heap();
    dl_heap_bulk_free(m, array, n);
    release(m);
    return 0;
}

/* ======================= tuning and statistics ======================= */

DL_API int dlmallopt(int param, int value) {
    dl_state *m = global_heap();
    int ok = dl_set_param(param, value);
    release(m);
    return ok;
}

DL_API int dlmalloc_trim(size_t pad) {
    dl_state *m = global_heap();
    int released = dl_sys_trim(m, pad);
    release(m);
    return released;
}

DL_API size_t dlmalloc_usable_size(const void *mem) {
    return mem == 0 ? 0 : dl_usable_size(mem);
}

DL_API size_t dlmalloc_footprint(void) {
    dl_ensure_initialized();
    return __atomic_load_n(&dl_gm.footprint, __ATOMIC_RELAXED);
}

DL_API size_t dlmalloc_max_footprint(void) {
    dl_ensure_initialized();
    return __atomic_load_n(&dl_gm.max_footprint, __ATOMIC_RELAXED);
}

DL_API size_t dlmalloc_footprint_limit(void) {
    dl_ensure_initialized();
    return __atomic_load_n(&dl_gm.footprint_limit, __ATOMIC_RELAXED);
}

DL_API size_t dlmalloc_set_footprint_limit(size_t bytes) {
    dl_state *m = global_heap();
    m->footprint_limit = dl_limit_from_request(bytes);
    size_t limit = m->footprint_limit;
    release(m);
    return limit;
}

DL_API struct mallinfo dlmallinfo(void) {
    dl_state *m = global_heap();
    struct mallinfo mi = dl_heap_mallinfo(m);
    release(m);
    return mi;
}

DL_API void dlmalloc_inspect_all(void (*handler)(void *, void *, size_t, void *), void *arg) {
    if (handler == 0) return;
    dl_state *m = global_heap();
    dl_heap_inspect(m, handler, arg);
    release(m);
}

DL_API size_t dlmalloc_check(dl_check_report report, void *arg) {
    dl_state *m = global_heap();
    size_t violations = dl_heap_check(m, report, arg);
    dl_unlock(m);
    return violations;
}
