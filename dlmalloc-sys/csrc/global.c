/*
 * global.c - the dl* API: the global heap, set up on first use, together
 * with the heaps attached to it (attached.c): a block goes back to the heap
 * it came from, and the statistics, trim, check and inspection cover all.
 */
#include "dl_internal.h"

static inline dl_state *gm(void) {
    dl_ensure_initialized();
    return &dl_gm;
}

DL_API void dlmalloc_init(void) { dl_ensure_initialized(); }
DL_API void *dlmalloc(size_t bytes) { return dl_op_malloc(gm(), bytes); }
static dl_state *heap_of(const void *mem) {
    dl_ensure_initialized();
    return dl_heap_of(mem);
}
DL_API void dlfree(void *mem) {
    if (mem != 0) dl_op_free(heap_of(mem), mem);
}
DL_API void *dlcalloc(size_t count, size_t elem_size) {
    return dl_op_calloc(gm(), count, elem_size);
}
DL_API void *dlrealloc(void *mem, size_t bytes) {
    return dl_op_realloc(heap_of(mem), mem, bytes);
}
DL_API void *dlrealloc_in_place(void *mem, size_t bytes) {
    return dl_op_realloc_in_place(heap_of(mem), mem, bytes);
}
DL_API void *dlmemalign(size_t alignment, size_t bytes) {
    return dl_op_memalign(gm(), alignment, bytes);
}

DL_API int dlposix_memalign(void **pp, size_t alignment, size_t bytes) {
    if (alignment == 0 || alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0)
        return DL_EINVAL;
    if (alignment >= MAX_REQUEST || bytes >= MAX_REQUEST - alignment) return DL_ENOMEM;
    void *mem = dl_op_memalign(gm(), alignment, bytes);
    if (mem == 0) return DL_ENOMEM;
    *pp = mem;
    return 0;
}

DL_API void *dlvalloc(size_t bytes) {
    dl_state *m = gm(); /* sets the page size up */
    return dl_op_memalign(m, dl_mparams.page_size, bytes);
}

DL_API void *dlpvalloc(size_t bytes) {
    dl_state *m = gm();
    if (bytes >= MAX_REQUEST) return 0;
    return dl_op_memalign(m, dl_mparams.page_size, dl_page_align(bytes));
}

DL_API void **dlindependent_calloc(size_t n, size_t elem_size, void **chunks) {
    return dl_op_ialloc(gm(), n, 0, elem_size, 1, chunks);
}
DL_API void **dlindependent_comalloc(size_t n, const size_t *sizes, void **chunks) {
    return dl_op_ialloc(gm(), n, sizes, 0, 0, chunks);
}
DL_API size_t dlbulk_free(void **array, size_t n) {
    dl_state *m = gm();
    if (dl_attached_count() != 0) {
        /* Blocks of attached heaps go to their heap one by one. */
        for (size_t i = 0; i < n; i++) {
            dl_state *owner = array[i] != 0 ? dl_heap_of(array[i]) : m;
            if (owner != m) {
                dl_op_free(owner, array[i]);
                array[i] = 0;
            }
        }
    }
    return dl_op_bulk_free(m, array, n);
}
DL_API size_t dlbulk_malloc(size_t bytes, void **array, size_t n) {
    return dl_op_bulk_malloc(gm(), bytes, array, n);
}

DL_API int dlmallopt(int param, int value) { return dl_op_mallopt(param, value); }
DL_API int dlmalloc_trim(size_t pad) {
    int released = dl_op_trim(gm(), pad);
    for (size_t i = 0; i < dl_attached_count(); i++) {
        dl_state *m = dl_attached(i);
        if (m != 0) released |= dl_op_trim(m, pad);
    }
    return released;
}
DL_API size_t dlmalloc_usable_size(const void *mem) { return mem == 0 ? 0 : dl_usable_size(mem); }

DL_API size_t dlmalloc_footprint(void) {
    gm();
    return dl_total_stat(offsetof(dl_state, footprint));
}
/* The sum of each heap's peak: a bound on the peak of the total. */
DL_API size_t dlmalloc_max_footprint(void) {
    gm();
    return dl_total_stat(offsetof(dl_state, max_footprint));
}
/* The limit bounds the global heap and its attached heaps together. */
DL_API size_t dlmalloc_footprint_limit(void) { return dl_read_stat(&gm()->footprint_limit); }
DL_API size_t dlmalloc_set_footprint_limit(size_t bytes) {
    return dl_op_set_footprint_limit(gm(), bytes);
}
DL_API struct mallinfo dlmallinfo(void) {
    struct mallinfo total = dl_op_mallinfo(gm());
    for (size_t i = 0; i < dl_attached_count(); i++) {
        dl_state *m = dl_attached(i);
        if (m == 0) continue;
        struct mallinfo mi = dl_op_mallinfo(m);
        total.arena += mi.arena;
        total.ordblks += mi.ordblks;
        total.smblks += mi.smblks;
        total.hblks += mi.hblks;
        total.hblkhd += mi.hblkhd;
        total.usmblks += mi.usmblks;
        total.fsmblks += mi.fsmblks;
        total.uordblks += mi.uordblks;
        total.fordblks += mi.fordblks;
        total.keepcost += mi.keepcost;
    }
    return total;
}
DL_API void dlmalloc_inspect_all(void (*handler)(void *, void *, size_t, void *), void *arg) {
    dl_op_inspect_all(gm(), handler, arg);
    for (size_t i = 0; i < dl_attached_count(); i++) {
        dl_state *m = dl_attached(i);
        if (m != 0) dl_op_inspect_all(m, handler, arg);
    }
}
DL_API size_t dlmalloc_check(dl_check_report report, void *arg) {
    size_t violations = dl_op_check(gm(), report, arg);
    for (size_t i = 0; i < dl_attached_count(); i++) {
        dl_state *m = dl_attached(i);
        if (m != 0) violations += dl_op_check(m, report, arg);
    }
    return violations;
}
