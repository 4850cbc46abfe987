/*
 * sysmem.c - memory from and back to the platform: segments (growing top,
 * merging adjacent mappings, adding new segments), direct mappings for large
 * chunks (resized in place, or grown through the optional custom_mremap),
 * trimming top and releasing wholly free segments.
 *
 * Invariants: top lies in the newest segment (m->seg) and ends exactly
 * TOP_FOOT_SIZE bytes before that segment's end; every older segment ends
 * with its record chunk and a fencepost; footprint equals the bytes of all
 * segments plus all direct mappings.
 */
#include "dl_internal.h"

/* ======================= accounting ======================= */

DL_INTERNAL int dl_footprint_allows(const dl_state *m, size_t more) {
    size_t held = m->footprint;
    size_t limit = m->footprint_limit;
    if (dl_under_global_limit(m)) {
        /* The global heap and its attached heaps share the global limit. */
        held = dl_total_stat(offsetof(dl_state, footprint));
        limit = dl_read_stat(&dl_gm.footprint_limit);
    }
    size_t fp = held + more;
    return fp > held && fp <= limit;
}

/* Counts `more` new bytes of system memory, now starting at base. */
static void note_growth(dl_state *m, char *base, size_t more) {
    m->footprint += more;
    if (m->footprint > m->max_footprint) m->max_footprint = m->footprint;
    if (m->least_addr == 0 || base < m->least_addr) m->least_addr = base;
}

static void *map_pages(dl_state *m, size_t size) {
    if (!dl_footprint_allows(m, size)) return 0;
    void *base = dl_map_from(&m->source, size);
    if (base == 0) return 0;
    note_growth(m, (char *)base, size);
    return base;
}

/* Returns 1 if the platform released the range; on failure the caller keeps
 * using it. */
static int unmap_pages(dl_state *m, void *base, size_t size) {
    if (dl_unmap_from(&m->source, base, size) != 0) return 0;
    m->footprint -= size;
    return 1;
}

/* ======================= top and segments ======================= */

DL_INTERNAL void dl_init_top(dl_state *m, dl_chunk *p, size_t psize) {
    size_t offset = align_offset(CHUNK2MEM(p));
    p = CHUNK_AT(p, offset);
    psize -= offset;
    m->top = p;
    m->topsize = psize;
    p->head = psize | PINUSE_BIT;
    m->trim_check = dl_trim_threshold(m);
}

/* Splits nb bytes off the front of top; the caller checked nb < topsize, so
 * top keeps at least a minimal chunk. */
DL_INTERNAL void *dl_take_from_top(dl_state *m, size_t nb) {
    dl_chunk *p = m->top;
    size_t rsize = m->topsize -= nb;
    dl_chunk *r = m->top = CHUNK_AT(p, nb);
    r->head = rsize | PINUSE_BIT;
    set_size_and_pinuse_of_inuse_chunk(m, p, nb);
    DL_CHECK_INUSE(m, p);
    return CHUNK2MEM(p);
}

/* The first segment of a heap whose state lives elsewhere (the global heap). */
static void start_first_segment(dl_state *m, char *base, size_t size, size_t sflags) {
    m->seg.base = base;
    m->seg.size = size;
    m->seg.next = 0;
    m->seg.flags = sflags;
    dl_init_top(m, (dl_chunk *)(void *)base, size - TOP_FOOT_SIZE);
}

/* Makes [base, base+size) the newest segment. The old top is closed: its
 * tail becomes the old segment's record chunk plus a fencepost, and what is
 * left of it goes to a bin. */
static void add_segment(dl_state *m, char *base, size_t size, size_t sflags) {
    if (m->top == 0) {
        start_first_segment(m, base, size, sflags);
        return;
    }
    dl_chunk *old_top = m->top;
    size_t old_topsize = m->topsize;
    char *old_end = (char *)old_top + old_topsize + TOP_FOOT_SIZE;
    dl_chunk *rec = (dl_chunk *)(void *)(old_end - TOP_FOOT_SIZE);
    if (old_topsize < MIN_CHUNK_SIZE) rec = old_top; /* too small to free: swallow it */
    size_t recsize = (size_t)(old_end - MIN_CHUNK_SIZE - (char *)rec);
    dl_segment *record = (dl_segment *)CHUNK2MEM(rec);

    set_size_and_pinuse_of_inuse_chunk(m, rec, recsize);
    *record = m->seg;
    CHUNK_AT(rec, recsize)->head = FENCEPOST_HEAD;
    m->seg.base = base;
    m->seg.size = size;
    m->seg.next = record;
    m->seg.flags = sflags;
    dl_init_top(m, (dl_chunk *)(void *)base, size - TOP_FOOT_SIZE);
    if (rec != old_top) {
        set_free_with_pinuse(old_top, old_topsize, rec);
        dl_insert_chunk(m, old_top, old_topsize);
    }
}

/* New memory [base, base+size) lies just below segment sp, which grows
 * down over it. The request takes the new memory's first nb bytes; the rest
 * is free space in front of sp's old first chunk and is merged with it as
 * any freed chunk would be. */
static void *grow_segment_down(dl_state *m, char *base, size_t size, dl_segment *sp, size_t nb) {
    dl_chunk *p = (dl_chunk *)(void *)base;
    sp->base = base;
    sp->size += size;
    set_size_and_pinuse_of_inuse_chunk(m, p, nb);
    dl_merge_with_next(m, CHUNK_AT(p, nb), size - nb);
    DL_CHECK_INUSE(m, p);
    return CHUNK2MEM(p);
}

static dl_segment *segment_starting_at(dl_state *m, const char *addr) {
    for (dl_segment *sp = &m->seg; sp != 0; sp = sp->next)
        if (sp->base == addr) return sp;
    return 0;
}

/* ======================= direct mappings ======================= */

static void link_mapping(dl_state *m, dl_mapping *map) {
    map->next = m->mappings.next;
    map->prev = &m->mappings;
    m->mappings.next->prev = map;
    m->mappings.next = map;
    m->mmapped_bytes += map->size;
    m->mmapped_count += 1;
}

static void unlink_mapping(dl_state *m, dl_mapping *map) {
    if (DL_UNLIKELY(map->next->prev != map || map->prev->next != map))
        DL_CORRUPTION("corrupted mapping header of a large chunk");
    map->prev->next = map->next;
    map->next->prev = map->prev;
    m->mmapped_bytes -= map->size;
    m->mmapped_count -= 1;
}

static dl_mapping *mapping_of(const dl_chunk *p) {
    return (dl_mapping *)(void *)((char *)p - p->prev_foot);
}

/* Moves the start of directly mapped chunk p lead bytes forward and returns
 * the chunk there. Part of a page cannot be unmapped, so the skipped bytes
 * stay in the mapping, between its header and the chunk. */
DL_INTERNAL dl_chunk *dl_advance_mapped_chunk(dl_chunk *p, size_t lead) {
    dl_chunk *q = CHUNK_AT(p, lead);
    q->prev_foot = p->prev_foot + lead;
    q->head = (chunksize(p) - lead) | MMAPPED_BIT | INUSE_BITS;
    mapping_of(q)->chunk = q;
    return q;
}

static void *mmap_alloc(dl_state *m, size_t nb) {
    size_t mmsize = dl_page_align(nb + MAPPING_HEADER + MMAP_TAIL);
    if (mmsize <= nb) return 0;
    char *mm = (char *)map_pages(m, mmsize);
    if (mm == 0) return 0;
    dl_mapping *map = (dl_mapping *)(void *)mm;
    dl_chunk *p = (dl_chunk *)(void *)(mm + MAPPING_HEADER);
    size_t psize = mmsize - MAPPING_HEADER - MMAP_TAIL;
    map->size = mmsize;
    map->chunk = p;
    link_mapping(m, map);
    p->prev_foot = MAPPING_HEADER;
    p->head = psize | MMAPPED_BIT | INUSE_BITS;
    mark_owner(m, p, psize);
    CHUNK_AT(p, psize)->head = FENCEPOST_HEAD;
    DL_CHECK_INUSE(m, p);
    return CHUNK2MEM(p);
}

/* Frees a directly mapped chunk. If the platform refuses to unmap, the
 * mapping becomes an ordinary segment so its memory is still used. */
DL_INTERNAL void dl_unmap_chunk(dl_state *m, dl_chunk *p) {
    dl_mapping *map = mapping_of(p);
    if (DL_UNLIKELY(map->chunk != p || p->prev_foot < MAPPING_HEADER))
        DL_CORRUPTION("corrupted large chunk: its mapping header does not match");
    unlink_mapping(m, map);
    size_t size = map->size;
    if (!unmap_pages(m, map, size)) add_segment(m, (char *)map, size, 0);
}

/* Grows the mapping of chunk p to hold nb bytes through the optional
 * custom_mremap hook: in place, or (can_move) wherever the platform puts it,
 * without copying. The header moves with the mapping, so its own ring links
 * stay right and only the neighbours' links to it change. Returns the chunk,
 * or NULL with the old mapping untouched. */
static dl_chunk *grow_mapping(dl_state *m, dl_chunk *p, size_t nb, int can_move) {
    if (!dl_can_grow_mappings(m)) return 0;
    dl_mapping *map = mapping_of(p);
    size_t offset = p->prev_foot;
    size_t oldmapsize = map->size;
    size_t newmapsize = dl_page_align(offset + nb + MMAP_TAIL);
    if (DL_UNLIKELY(map->chunk != p || map->next->prev != map || map->prev->next != map))
        DL_CORRUPTION("corrupted mapping header of a large chunk");
    size_t more = newmapsize - oldmapsize;
    if (!dl_footprint_allows(m, more)) return 0;
    char *mm = dl_remap(map, oldmapsize, newmapsize, can_move);
    if (mm == 0) return 0;
    map = (dl_mapping *)(void *)mm;
    map->prev->next = map;
    map->next->prev = map;
    map->size = newmapsize;
    m->mmapped_bytes += more;
    note_growth(m, mm, more);
    p = (dl_chunk *)(void *)(mm + offset);
    map->chunk = p;
    size_t psize = newmapsize - offset - MMAP_TAIL;
    p->head = psize | MMAPPED_BIT | INUSE_BITS;
    mark_owner(m, p, psize);
    CHUNK_AT(p, psize)->head = FENCEPOST_HEAD;
    DL_CHECK_INUSE(m, p);
    return p;
}

/* Resizes a directly mapped chunk. A grow goes through custom_mremap when
 * the platform has it (moving only if can_move); a shrink gives whole tail
 * pages back in place (when the platform can unmap a tail). A request that
 * now fits the heap better moves when it may. Returns the chunk, which has
 * moved only if can_move, or NULL: the caller then allocates and copies
 * (realloc) or fails (realloc_in_place). */
DL_INTERNAL dl_chunk *dl_mmap_resize(dl_state *m, dl_chunk *p, size_t nb, int can_move) {
    size_t oldsize = chunksize(p);
    if (can_move && nb < dl_mparams.mmap_threshold) return 0;
    if (nb > oldsize) return grow_mapping(m, p, nb, can_move);
    dl_mapping *map = mapping_of(p);
    size_t offset = p->prev_foot;
    size_t kept = dl_page_align(offset + nb + MMAP_TAIL);
    if (kept < map->size && unmap_pages(m, (char *)map + kept, map->size - kept)) {
        size_t psize = kept - offset - MMAP_TAIL;
        m->mmapped_bytes -= map->size - kept;
        map->size = kept;
        p->head = psize | MMAPPED_BIT | INUSE_BITS;
        mark_owner(m, p, psize);
        CHUNK_AT(p, psize)->head = FENCEPOST_HEAD;
    }
    return p;
}

/* ======================= growing the heap ======================= */

/* How many bytes to ask the system for when the heap must grow by `need`
 * (whole pages). A heap starts with small segments that double with its
 * size until they reach the granularity; from then on it grows in whole
 * granules. A small arena (a 64 KiB bare-metal heap) is so never asked for
 * a whole granule, and a large heap still makes few system calls. */
static size_t growth_size(const dl_state *m, size_t need) {
    size_t heap_bytes = m->footprint - m->mmapped_bytes;
    if (heap_bytes >= dl_mparams.granularity) return dl_granularity_align(need);
    size_t step = heap_bytes < DL_MIN_GROWTH ? DL_MIN_GROWTH : heap_bytes;
    return dl_page_align(step > need ? step : need);
}

/* Whether segment sp starts with the heap's own state (an mspace's first
 * segment). Memory prepended to it would lie below a chunk that is never
 * freed, so it could never be given back; it becomes a segment of its own
 * instead. */
static int holds_state(const dl_state *m, const dl_segment *sp) {
    const char *state = (const char *)m;
    return state >= sp->base && state < sp->base + sp->size;
}

/* The heap must grow again after an automatic trim gave memory back: that
 * memory went to the system only to be mapped, and faulted in, once more.
 * The heap doubles its own trim threshold (up to DL_MAX_TRIM_THRESHOLD), so
 * a program that keeps building up and tearing down a large structure
 * keeps the memory after a few rounds, while one whose heap shrinks for
 * good still gives it back. Peak footprint is unchanged: only memory the
 * heap already had is kept. */
static void adapt_trim_threshold(dl_state *m) {
    m->trimmed = 0;
    size_t t = m->trim_threshold;
    if (t < DL_MAX_TRIM_THRESHOLD)
        m->trim_threshold = t <= DL_MAX_TRIM_THRESHOLD / 2 ? 2 * t : DL_MAX_TRIM_THRESHOLD;
}

/* Gets system memory for a request of nb bytes (chunk size) that no bin,
 * dv or top could serve; a large one gets a mapping of its own unless the
 * caller or the heap forbids it (may_map 0, or no USE_MMAP_FLAG). Returns
 * the user pointer or NULL. */
DL_INTERNAL void *dl_sys_alloc(dl_state *m, size_t nb, int may_map) {
    if (!DL_NEVER_UNMAP && may_map && (m->flags & USE_MMAP_FLAG) &&
        nb >= dl_mparams.mmap_threshold) {
        void *mem = mmap_alloc(m, nb);
        if (mem != 0) return mem;
    }
    size_t need = dl_page_align(nb + TOP_FOOT_SIZE + MIN_CHUNK_SIZE);
    size_t asize = growth_size(m, need);
    char *base = (char *)map_pages(m, asize);
    if (base == 0 && asize > need) base = (char *)map_pages(m, asize = need);
    if (base == 0) return 0;
    if (m->trimmed) adapt_trim_threshold(m);

    if (m->top != 0 && !(m->seg.flags & SEG_EXTERN) && m->seg.base + m->seg.size == base) {
        /* Right after the newest segment: top simply grows. */
        m->seg.size += asize;
        dl_init_top(m, m->top, m->topsize + asize);
    } else {
        dl_segment *below = segment_starting_at(m, base + asize);
        if (m->top != 0 && below != 0 && !(below->flags & SEG_EXTERN) && !holds_state(m, below))
            return grow_segment_down(m, base, asize, below, nb);
        add_segment(m, base, asize, 0);
    }
    return nb < m->topsize ? dl_take_from_top(m, nb) : 0;
}

/* ======================= giving memory back ======================= */

/* Unmaps every older segment that is one free chunk from base to record. */
DL_INTERNAL size_t dl_release_free_segments(dl_state *m) {
    m->release_checks = DL_RELEASE_CHECK_RATE;
    if (DL_NEVER_UNMAP) return 0;
    size_t released = 0;
    dl_segment *pred = &m->seg;
    dl_segment *sp = pred->next;
    while (sp != 0) {
        dl_segment *next = sp->next;
        char *base = sp->base;
        size_t size = sp->size;
        dl_chunk *first = (dl_chunk *)(void *)base;
        dl_chunk *rec = MEM2CHUNK(sp);
        if (!(sp->flags & SEG_EXTERN) && !cinuse(first) &&
            CHUNK_AT(first, chunksize(first)) == rec) {
            size_t fsize = chunksize(first);
            int was_dv = first == m->dv;
            if (was_dv) {
                m->dv = 0;
                m->dvsize = 0;
            } else {
                dl_unlink_chunk(m, first, fsize);
            }
            if (unmap_pages(m, base, size)) {
                released += size;
                pred->next = next;
                sp = next;
                continue;
            }
            if (was_dv)
                dl_replace_dv(m, first, fsize);
            else
                dl_insert_chunk(m, first, fsize);
        }
        pred = sp;
        sp = next;
    }
    return released;
}

/* Gives back the top chunk's memory beyond pad bytes (in whole pages) and
 * every wholly free segment. Returns 1 if anything was released. */
DL_INTERNAL int dl_sys_trim(dl_state *m, size_t pad) {
    if (DL_NEVER_UNMAP) return 0;
    size_t released = 0;
    if (pad < MAX_REQUEST && m->top != 0) {
        size_t keep = pad + MIN_CHUNK_SIZE;
        if (!(m->seg.flags & SEG_EXTERN) && m->topsize > keep) {
            size_t extra = (m->topsize - keep) & ~(dl_mparams.page_size - 1);
            char *end = m->seg.base + m->seg.size;
            if (extra != 0 && unmap_pages(m, end - extra, extra)) {
                m->seg.size -= extra;
                released = extra;
                dl_init_top(m, m->top, m->topsize - extra);
            }
        }
        released += dl_release_free_segments(m);
        if (released == 0 && m->topsize > m->trim_check) m->trim_check = MAX_SIZE_T;
    }
    return released != 0;
}
