/*
 * mspace.c - independent heaps. An mspace's state lives in an in-use chunk
 * at the start of its first segment, so a heap is one pointer and costs no
 * memory outside itself. create_mspace maps that segment; create_mspace_with_base
 * builds the heap in caller memory, which is never given back to the system
 * (the heap may still grow with new mappings unless its footprint limit
 * forbids it); create_mspace_with_source gets every page of the heap from
 * the caller's own pair of functions instead of the platform's hooks.
 * destroy_mspace releases everything the heap mapped.
 */
#include "dl_internal.h"

#define STATE_CHUNK_SIZE PAD_REQUEST(sizeof(dl_state))
/* The least region a heap can live in: its state, a minimal chunk, top's foot. */
#define MIN_MSPACE_SIZE (STATE_CHUNK_SIZE + MIN_CHUNK_SIZE + TOP_FOOT_SIZE + DL_ALIGN)

/* Builds a heap in [base, base+size), whose end is DL_ALIGN aligned. */
static dl_state *init_user_state(char *base, size_t size, size_t sflags, int locked) {
    dl_chunk *sc = (dl_chunk *)(void *)(base + align_offset(CHUNK2MEM(base)));
    dl_state *m = (dl_state *)CHUNK2MEM(sc);
    dl_memset(m, 0, sizeof *m);
    dl_init_state(m, (locked ? USE_LOCK_FLAG : 0u) | USE_MMAP_FLAG);
    sc->head = STATE_CHUNK_SIZE | INUSE_BITS;
    mark_owner(m, sc, STATE_CHUNK_SIZE);
    m->seg.base = base;
    m->seg.size = size;
    m->seg.flags = sflags;
    m->least_addr = base;
    m->footprint = m->max_footprint = size;
    dl_chunk *first = CHUNK_AT(sc, STATE_CHUNK_SIZE);
    dl_init_top(m, first, (size_t)(base + size - (char *)first) - TOP_FOOT_SIZE);
    dl_register_mspace(m);
    return m;
}

/* The state behind an mspace handle, after a sanity check of the handle.
 * No set-up call: a valid handle comes from create_mspace*, which did the
 * set-up, and before it the process magic is a value no heap carries. */
static dl_state *ms(void *msp) {
    dl_state *m = (dl_state *)msp;
    if (DL_UNLIKELY(m == 0 || !is_aligned(m) || m->magic != dl_mparams.magic))
        DL_MISUSE("invalid mspace handle (null, destroyed or overwritten)");
    return m;
}

/* ======================= life cycle ======================= */

/* A heap in a fresh mapping from `source`, which it keeps using. */
static dl_state *create_from(size_t capacity, int locked, const dl_page_source *source) {
    dl_ensure_initialized();
    if (capacity >= MAX_REQUEST) return 0;
    size_t wanted = capacity == 0 ? dl_mparams.granularity : capacity + MIN_MSPACE_SIZE;
    size_t size = dl_granularity_align(wanted);
    if (size < wanted) return 0;
    char *base = (char *)dl_map_from(source, size);
    if (base == 0) return 0;
    dl_state *m = init_user_state(base, size, 0, locked);
    m->source = *source;
    return m;
}

DL_API void *create_mspace(size_t capacity, int locked) {
    static const dl_page_source platform = {0, 0, 0};
    return create_from(capacity, locked, &platform);
}

DL_API void *create_mspace_with_source(size_t capacity, int locked,
                                       void *(*map)(void *context, size_t length),
                                       int (*unmap)(void *context, void *base, size_t length),
                                       void *context) {
    if (map == 0 || unmap == 0) return 0;
    dl_page_source source = {map, unmap, context};
    return create_from(capacity, locked, &source);
}

DL_API void *create_mspace_with_base(void *base, size_t capacity, int locked) {
    dl_ensure_initialized();
    char *start = (char *)base;
    if (start == 0 || capacity < MIN_MSPACE_SIZE || capacity > MAX_SIZE_T - (size_t)start) return 0;
    /* Chunks end on DL_ALIGN boundaries, so drop a ragged tail. */
    size_t end = ((size_t)start + capacity) & ~ALIGN_MASK;
    return init_user_state(start, end - (size_t)start, SEG_EXTERN, locked);
}

DL_API size_t destroy_mspace(void *msp) {
    dl_state *m = ms(msp);
    size_t freed = 0;
    dl_unregister_mspace(m);
    if (m->flags & USE_LOCK_FLAG) final_lock(&m->mutex);
    m->magic = 0; /* later use of the handle is caught where memory remains */
    for (dl_mapping *map = m->mappings.next; map != &m->mappings;) {
        dl_mapping *next = map->next;
        size_t size = map->size;
        if (dl_unmap_from(&m->source, map, size) == 0) freed += size;
        map = next;
    }
    /* Newest first: the state (in the oldest segment) is read to the end;
     * the source is copied out, since its last call unmaps the state. */
    dl_page_source source = m->source;
    dl_segment *sp = &m->seg;
    while (sp != 0) {
        char *seg_base = sp->base;
        size_t size = sp->size;
        size_t flags = sp->flags;
        sp = sp->next;
        if (!(flags & SEG_EXTERN) && dl_unmap_from(&source, seg_base, size) == 0) freed += size;
    }
    return freed;
}

DL_API int mspace_track_large_chunks(void *msp, int enable) {
    dl_state *m = ms(msp);
    dl_lock(m);
    int was_tracking = !(m->flags & USE_MMAP_FLAG);
    if (enable)
        m->flags &= ~USE_MMAP_FLAG;
    else
        m->flags |= USE_MMAP_FLAG;
    dl_unlock(m);
    return was_tracking;
}

/* ======================= the mspace_ twins of the dl* API ======================= */

DL_API void *mspace_malloc(void *msp, size_t bytes) { return dl_op_malloc(ms(msp), bytes); }
DL_API void mspace_free(void *msp, void *mem) {
    if (mem != 0) dl_op_free(ms(msp), mem);
}
DL_API void *mspace_calloc(void *msp, size_t count, size_t elem_size) {
    return dl_op_calloc(ms(msp), count, elem_size);
}
DL_API void *mspace_realloc(void *msp, void *mem, size_t bytes) {
    return dl_op_realloc(ms(msp), mem, bytes);
}
DL_API void *mspace_realloc_in_place(void *msp, void *mem, size_t bytes) {
    return dl_op_realloc_in_place(ms(msp), mem, bytes);
}
DL_API void *mspace_memalign(void *msp, size_t alignment, size_t bytes) {
    return dl_op_memalign(ms(msp), alignment, bytes);
}
DL_API void **mspace_independent_calloc(void *msp, size_t n, size_t elem_size, void **chunks) {
    return dl_op_ialloc(ms(msp), n, 0, elem_size, 1, chunks);
}
DL_API void **mspace_independent_comalloc(void *msp, size_t n, const size_t *sizes,
                                          void **chunks) {
    return dl_op_ialloc(ms(msp), n, sizes, 0, 0, chunks);
}
DL_API size_t mspace_bulk_free(void *msp, void **array, size_t n) {
    return dl_op_bulk_free(ms(msp), array, n);
}
DL_API size_t mspace_bulk_malloc(void *msp, size_t bytes, void **array, size_t n) {
    return dl_op_bulk_malloc(ms(msp), bytes, array, n);
}
DL_API int mspace_trim(void *msp, size_t pad) { return dl_op_trim(ms(msp), pad); }
DL_API size_t mspace_usable_size(const void *mem) { return mem == 0 ? 0 : dl_usable_size(mem); }
DL_API size_t mspace_footprint(void *msp) { return dl_read_stat(&ms(msp)->footprint); }
DL_API size_t mspace_max_footprint(void *msp) { return dl_read_stat(&ms(msp)->max_footprint); }
DL_API size_t mspace_footprint_limit(void *msp) { return dl_read_stat(&ms(msp)->footprint_limit); }
DL_API size_t mspace_set_footprint_limit(void *msp, size_t bytes) {
    return dl_op_set_footprint_limit(ms(msp), bytes);
}
DL_API struct mallinfo mspace_mallinfo(void *msp) { return dl_op_mallinfo(ms(msp)); }
DL_API int mspace_mallopt(int param, int value) { return dl_op_mallopt(param, value); }
DL_API void mspace_inspect_all(void *msp, void (*handler)(void *, void *, size_t, void *),
                               void *arg) {
    dl_op_inspect_all(ms(msp), handler, arg);
}
DL_API size_t mspace_check(void *msp, dl_check_report report, void *arg) {
    return dl_op_check(ms(msp), report, arg);
}
