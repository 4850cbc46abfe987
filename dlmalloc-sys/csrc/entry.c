/*
 * entry.c - each public operation once, for any heap: argument checks, the
 * heap's lock, a call into heap.c / sysmem.c / stats.c / check.c. The dl*
 * functions (global.c) and the mspace_* functions (mspace.c) are one-line
 * wrappers around these.
 */
#include "dl_internal.h"

static inline void enter(dl_state *m) {
    dl_lock(m);
}

static inline void leave(dl_state *m) {
    DL_CHECK_HEAP(m);
    dl_unlock(m);
}

/* ======================= allocation ======================= */

DL_INTERNAL DL_HOT_INLINE void *dl_op_malloc(dl_state *m, size_t bytes) {
    enter(m);
    void *mem = dl_heap_malloc_inline(m, bytes);
    leave(m);
    return mem;
}

DL_INTERNAL DL_HOT_INLINE void dl_op_free(dl_state *m, void *mem) {
    if (mem == 0) return;
    enter(m);
    dl_heap_free_inline(m, dl_checked_chunk(m, mem, DL_OP_FREE));
    leave(m);
}

DL_INTERNAL void *dl_op_calloc(dl_state *m, size_t count, size_t elem_size) {
    size_t bytes = 0;
    if (count != 0) {
        if (elem_size > MAX_REQUEST / count) return 0;
        bytes = count * elem_size;
    }
    enter(m);
    void *mem = dl_heap_malloc(m, bytes);
    size_t usable = mem != 0 ? dl_usable_size(mem) : 0; /* read under the lock */
    leave(m);
    if (mem != 0) dl_memset(mem, 0, usable);
    return mem;
}

/* Whether realloc may move a block that grows to `bytes` into a mapping of
 * its own. A block that grows tends to grow again (a vector doubling). A
 * mapping grows without a copy only through custom_mremap, while a chunk at
 * the heap's top grows in place, and its memory stays with the heap for the
 * next round once freed (up to the heap's trim threshold). So where heap m
 * cannot grow a mapping (no custom_mremap, as on Windows, or a heap with its
 * own page source), a growing block stays in the heap, unless it is larger
 * than any top a heap keeps. */
static int realloc_may_map(const dl_state *m, size_t bytes) {
    return dl_can_grow_mappings(m) || bytes > DL_MAX_TRIM_THRESHOLD;
}

DL_INTERNAL void *dl_op_realloc(dl_state *m, void *mem, size_t bytes) {
    if (mem == 0) return dl_op_malloc(m, bytes);
    if (bytes == 0) {
        dl_op_free(m, mem);
        return 0;
    }
    if (bytes >= MAX_REQUEST) return 0;
    size_t nb = REQUEST_TO_SIZE(bytes);
    enter(m);
    dl_chunk *p = dl_checked_chunk(m, mem, DL_OP_REALLOC);
    size_t old_usable = dl_usable_size(mem); /* before a resize that may move p */
    dl_chunk *resized = dl_resize_chunk(m, p, nb, 1);
    void *result = resized != 0 ? CHUNK2MEM(resized) : 0;
    if (result == 0) {
        /* Move, under the same lock hold (one acquisition, not three). The
         * old block stays intact if the new one cannot be had. */
        result = dl_heap_malloc_placed(m, bytes, bytes <= old_usable || realloc_may_map(m, bytes));
        if (result != 0) {
            dl_memcpy(result, mem, old_usable < bytes ? old_usable : bytes);
            dl_heap_free(m, p);
        } else if (bytes <= old_usable && dl_resize_chunk(m, p, nb, 0) != 0) {
            /* A mapped chunk shrinking below the mmap threshold prefers a
             * move (so a small block does not keep a mapping), but when
             * memory is too short for that, shrinking in place must still
             * succeed. */
            result = mem;
        }
    }
    leave(m);
    return result;
}

DL_INTERNAL void *dl_op_realloc_in_place(dl_state *m, void *mem, size_t bytes) {
    if (mem == 0 || bytes >= MAX_REQUEST) return 0;
    size_t nb = REQUEST_TO_SIZE(bytes);
    enter(m);
    dl_chunk *resized = dl_resize_chunk(m, dl_checked_chunk(m, mem, DL_OP_REALLOC), nb, 0);
    leave(m);
    return resized != 0 ? mem : 0;
}

DL_INTERNAL void *dl_op_memalign(dl_state *m, size_t alignment, size_t bytes) {
    enter(m);
    void *mem = dl_heap_memalign(m, alignment, bytes);
    leave(m);
    return mem;
}

DL_INTERNAL void **dl_op_ialloc(dl_state *m, size_t n, const size_t *sizes, size_t elem_size,
                                int zero, void **chunks) {
    enter(m);
    void **array = dl_heap_ialloc(m, n, sizes, elem_size, zero, chunks);
    leave(m);
    return array;
}

DL_INTERNAL size_t dl_op_bulk_malloc(dl_state *m, size_t bytes, void **array, size_t n) {
    size_t taken = 0;
    enter(m);
    while (taken < n) {
        void *mem = dl_heap_malloc(m, bytes);
        if (mem == 0) break;
        array[taken++] = mem;
    }
    leave(m);
    return taken;
}

DL_INTERNAL size_t dl_op_bulk_free(dl_state *m, void **array, size_t n) {
    enter(m);
    dl_heap_bulk_free(m, array, n);
    leave(m);
    return 0;
}

/* ======================= tuning and statistics ======================= */

DL_INTERNAL int dl_op_trim(dl_state *m, size_t pad) {
    enter(m);
    int released = dl_sys_trim(m, pad);
    leave(m);
    return released;
}

/* An unlocked read of one word: a statistic, exact when nothing else runs. */
DL_INTERNAL size_t dl_read_stat(const size_t *word) {
    return __atomic_load_n(word, __ATOMIC_RELAXED);
}

DL_INTERNAL size_t dl_op_set_footprint_limit(dl_state *m, size_t bytes) {
    enter(m);
    size_t limit = m->footprint_limit = dl_limit_from_request(bytes);
    leave(m);
    return limit;
}

DL_INTERNAL struct mallinfo dl_op_mallinfo(dl_state *m) {
    enter(m);
    struct mallinfo mi = dl_heap_mallinfo(m);
    leave(m);
    return mi;
}

DL_INTERNAL void dl_op_inspect_all(dl_state *m,
                                   void (*handler)(void *, void *, size_t, void *), void *arg) {
    if (handler == 0) return;
    enter(m);
    dl_heap_inspect(m, handler, arg);
    leave(m);
}

DL_INTERNAL size_t dl_op_check(dl_state *m, dl_check_report report, void *arg) {
    enter(m);
    size_t violations = dl_heap_check(m, report, arg);
    dl_unlock(m);
    return violations;
}

DL_INTERNAL int dl_op_mallopt(int param, int value) {
    dl_ensure_initialized();
    dl_lock(&dl_gm); /* the parameters are process-wide; one writer at a time */
    int ok = dl_set_param(param, value);
    dl_unlock(&dl_gm);
    return ok;
}
