/*
 * stats.c - read-only views of a heap: mallinfo, inspect_all, and the
 * footprint limit's rounding. Callers hold the heap's lock.
 */
#include "dl_internal.h"

/* The first chunk of a segment (segment bases are aligned, but a caller's
 * region may not be). */
static inline dl_chunk *segment_first(const dl_segment *sp) {
    return (dl_chunk *)(void *)(sp->base + align_offset(CHUNK2MEM(sp->base)));
}

/* Internal in-use chunks the user never saw: segment records (always just
 * before a fencepost) and a heap's own state. */
static inline int is_internal_chunk(const dl_state *m, const dl_chunk *q) {
    return next_chunk(q)->head == FENCEPOST_HEAD || CHUNK2MEM(q) == (const void *)m;
}

DL_INTERNAL struct mallinfo dl_heap_mallinfo(dl_state *m) {
    struct mallinfo mi = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    size_t free_bytes = m->topsize;
    size_t free_chunks = m->top != 0 ? 1 : 0;
    for (const dl_segment *sp = &m->seg; sp != 0 && sp->base != 0; sp = sp->next) {
        const char *end = sp->base + sp->size;
        for (dl_chunk *q = segment_first(sp);
             (char *)q < end && q != m->top && q->head != FENCEPOST_HEAD; q = next_chunk(q)) {
            if (!cinuse(q)) {
                free_bytes += chunksize(q);
                free_chunks += 1;
            }
        }
    }
    mi.arena = m->footprint - m->mmapped_bytes;
    mi.ordblks = free_chunks;
    mi.hblks = m->mmapped_count;
    mi.hblkhd = m->mmapped_bytes;
    mi.usmblks = m->max_footprint;
    mi.uordblks = m->footprint - free_bytes;
    mi.fordblks = free_bytes;
    mi.keepcost = m->topsize;
    return mi;
}

/* An in-use chunk is reported as its usable bytes: [mem, mem + usable). */
static void report_inuse(dl_chunk *q, void (*handler)(void *, void *, size_t, void *), void *arg) {
    size_t used = chunksize(q) - CHUNK_OVERHEAD;
    handler(CHUNK2MEM(q), (char *)CHUNK2MEM(q) + used, used, arg);
}

DL_INTERNAL void dl_heap_inspect(dl_state *m, void (*handler)(void *, void *, size_t, void *),
                                 void *arg) {
    for (const dl_segment *sp = &m->seg; sp != 0 && sp->base != 0; sp = sp->next) {
        const char *end = sp->base + sp->size;
        dl_chunk *q = segment_first(sp);
        for (; (char *)q < end && q != m->top && q->head != FENCEPOST_HEAD; q = next_chunk(q)) {
            dl_chunk *next = next_chunk(q);
            if (cinuse(q)) {
                if (!is_internal_chunk(m, q)) report_inuse(q, handler, arg);
            } else {
                /* A free chunk's links are in use; report the bytes after them. */
                char *start = (char *)q + sizeof(dl_chunk);
                if (start < (char *)next) handler(start, next, 0, arg);
            }
        }
        if (q == m->top) {
            char *start = (char *)q + sizeof(dl_chunk);
            char *top_end = (char *)q + m->topsize;
            if (start < top_end) handler(start, top_end, 0, arg);
        }
    }
    for (dl_mapping *map = m->mappings.next; map != &m->mappings; map = map->next) {
        report_inuse(map->chunk, handler, arg);
    }
}

/* The limit in force for a request: none for 0 or MAX_SIZE_T, else whole
 * pages. */
DL_INTERNAL size_t dl_limit_from_request(size_t bytes) {
    if (bytes == 0 || bytes > MAX_SIZE_T - dl_mparams.page_size) return MAX_SIZE_T;
    return dl_page_align(bytes);
}
