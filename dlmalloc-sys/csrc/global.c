/*
 * global.c - the dl* API: the global heap, set up on first use.
 */
#include "dl_internal.h"

static inline dl_state *gm(void) {
    dl_ensure_initialized();
    return &dl_gm;
}

DL_API void dlmalloc_init(void) { dl_ensure_initialized(); }
DL_API void *dlmalloc(size_t bytes) { return dl_op_malloc(gm(), bytes); }
DL_API void dlfree(void *mem) {
    if (mem != 0) dl_op_free(gm(), mem);
}
DL_API void *dlcalloc(size_t count, size_t elem_size) {
    return dl_op_calloc(gm(), count, elem_size);
}
DL_API void *dlrealloc(void *mem, size_t bytes) { return dl_op_realloc(gm(), mem, bytes); }
DL_API void *dlrealloc_in_place(void *mem, size_t bytes) {
    return dl_op_realloc_in_place(gm(), mem, bytes);
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
DL_API size_t dlbulk_free(void **array, size_t n) { return dl_op_bulk_free(gm(), array, n); }
DL_API size_t dlbulk_malloc(size_t bytes, void **array, size_t n) {
    return dl_op_bulk_malloc(gm(), bytes, array, n);
}

DL_API int dlmallopt(int param, int value) { return dl_op_mallopt(param, value); }
DL_API int dlmalloc_trim(size_t pad) { return dl_op_trim(gm(), pad); }
DL_API size_t dlmalloc_usable_size(const void *mem) { return mem == 0 ? 0 : dl_usable_size(mem); }
DL_API size_t dlmalloc_footprint(void) { return dl_read_stat(&gm()->footprint); }
DL_API size_t dlmalloc_max_footprint(void) { return dl_read_stat(&gm()->max_footprint); }
DL_API size_t dlmalloc_footprint_limit(void) { return dl_read_stat(&gm()->footprint_limit); }
DL_API size_t dlmalloc_set_footprint_limit(size_t bytes) {
    return dl_op_set_footprint_limit(gm(), bytes);
}
DL_API struct mallinfo dlmallinfo(void) { return dl_op_mallinfo(gm()); }
DL_API void dlmalloc_inspect_all(void (*handler)(void *, void *, size_t, void *), void *arg) {
    dl_op_inspect_all(gm(), handler, arg);
}
DL_API size_t dlmalloc_check(dl_check_report report, void *arg) {
    return dl_op_check(gm(), report, arg);
}
