/*
 * check.c - the heap walker: verifies every invariant of a heap and reports
 * each violation, and the per-chunk checks of the debug build.
 *
 * The walk is linear in the number of chunks: binned chunks are matched
 * against the segment walk by counting per bin, not by searching.
 */
#include "dl_internal.h"

typedef struct checker {
    dl_state *m;
    dl_check_report report;
    void *arg;
    size_t violations;
    size_t binned_small[NSMALLBINS]; /* free chunks seen in the walk, per bin */
    size_t binned_large[NLARGEBINS];
    size_t limit; /* bound on any list length: stops a corrupted cycle */
} checker;

static void violation(checker *c, const char *what, const void *where) {
    c->violations += 1;
    if (c->report != 0) c->report(what, where, c->arg);
}

#define EXPECT(c, cond, what, where) \
    do { \
        if (!(cond)) violation((c), (what), (where)); \
    } while (0)

static const dl_segment *segment_holding(const dl_state *m, const void *a) {
    for (const dl_segment *sp = &m->seg; sp != 0 && sp->base != 0; sp = sp->next)
        if ((const char *)a >= sp->base && (const char *)a < sp->base + sp->size) return sp;
    return 0;
}

/* ======================= segments ======================= */

static void check_inuse_footer(checker *c, const dl_chunk *q) {
#if DL_FOOTERS
    EXPECT(c, CHUNK_AT(q, chunksize(q))->prev_foot == dl_owner_tag(c->m),
           "in-use chunk's owner footer does not name this heap", q);
#else
    (void)c, (void)q;
#endif
}

/* Walks one segment chunk by chunk, counting free chunks per bin. */
static void check_segment(checker *c, const dl_segment *sp, int is_newest, int *top_seen) {
    dl_state *m = c->m;
    const char *end = sp->base + sp->size;
    EXPECT(c, sp->size > TOP_FOOT_SIZE, "segment smaller than its own bookkeeping", sp);
    EXPECT(c, (const char *)sp->base >= m->least_addr, "segment below the heap's least address", sp);
    dl_chunk *q = (dl_chunk *)(void *)(sp->base + align_offset(CHUNK2MEM(sp->base)));
    dl_chunk *last = 0;
    int prev_free = 0;
    while ((const char *)q < end && q != m->top && q->head != FENCEPOST_HEAD) {
        size_t sz = chunksize(q);
        if (sz < MIN_CHUNK_SIZE || (sz & ALIGN_MASK) != 0 || sz > (size_t)(end - (const char *)q)) {
            violation(c, "chunk size is invalid or runs past its segment", q);
            return;
        }
        EXPECT(c, pinuse(q) == !prev_free, "PINUSE flag disagrees with the previous chunk", q);
        EXPECT(c, !is_mmapped(q), "chunk inside a segment is marked directly mapped", q);
        if (!cinuse(q)) {
            EXPECT(c, !prev_free, "two adjacent free chunks (missed coalescing)", q);
            EXPECT(c, next_chunk(q)->prev_foot == sz, "free chunk's boundary tag differs from its size", q);
            if (q != m->dv) {
                if (is_small(sz))
                    c->binned_small[small_index(sz)] += 1;
                else
                    c->binned_large[large_index(sz)] += 1;
            }
        } else {
            check_inuse_footer(c, q);
        }
        prev_free = !cinuse(q);
        last = q;
        q = next_chunk(q);
    }
    if (q == m->top) {
        *top_seen += 1;
        EXPECT(c, is_newest, "top lies outside the newest segment", q);
        EXPECT(c, !prev_free, "a free chunk precedes top (missed coalescing)", q);
        EXPECT(c, pinuse(q), "top's PINUSE flag is clear", q);
        EXPECT(c, (const char *)q + m->topsize + TOP_FOOT_SIZE == end,
               "top does not end its segment's reserved foot", q);
    } else if ((const char *)q < end && q->head == FENCEPOST_HEAD) {
        EXPECT(c, !is_newest || m->top == 0, "newest segment ends in a fencepost instead of top", q);
        EXPECT(c, last != 0 && cinuse(last) && (const void *)CHUNK2MEM(last) == (const void *)sp,
               "segment's record is not the in-use chunk before its fencepost", sp);
    } else {
        violation(c, "segment walk ran off its end without meeting top or a fencepost", sp);
    }
}

/* ======================= bins ======================= */

static int is_heap_chunk(checker *c, const void *p) {
    return ok_address(c->m, p) && is_aligned(CHUNK2MEM(p)) && segment_holding(c->m, p) != 0;
}

static void check_free_for_bin(checker *c, const dl_chunk *p) {
    EXPECT(c, !cinuse(p), "binned chunk is marked in use", p);
    EXPECT(c, p != c->m->dv && p != c->m->top, "dv or top is in a bin", p);
    EXPECT(c, !pinuse(next_chunk(p)), "next chunk does not see the binned chunk as free", p);
}

static void check_small_bins(checker *c) {
    dl_state *m = c->m;
    for (unsigned i = 0; i < NSMALLBINS; ++i) {
        dl_chunk *bin = BIN_AT(m, i);
        int empty = bin->fd == bin;
        EXPECT(c, empty == !(m->smallmap & bin_bit(i)), "smallmap bit disagrees with its bin", bin);
        EXPECT(c, (bin->fd == bin) == (bin->bk == bin), "small bin head links are inconsistent", bin);
        size_t count = 0;
        for (dl_chunk *p = bin->fd; p != bin; p = p->fd) {
            if (!is_heap_chunk(c, p) || count > c->limit) {
                violation(c, "small bin list leaves the heap or does not end", bin);
                break;
            }
            EXPECT(c, p->fd->bk == p && p->bk->fd == p, "small bin links do not point back", p);
            EXPECT(c, chunksize(p) == small_index_size(i), "chunk in the wrong small bin", p);
            check_free_for_bin(c, p);
            count += 1;
        }
        EXPECT(c, count == c->binned_small[i], "small bin count differs from free chunks in the heap", bin);
    }
}

static void check_large_bins(checker *c) {
    dl_state *m = c->m;
    for (unsigned i = 0; i < NLARGEBINS; ++i) {
        dl_chunk *slot = LARGE_SLOT_AT(m, i);
        size_t lo = large_bin_min_size(i);
        size_t hi = i + 1 < NLARGEBINS ? large_bin_min_size(i + 1) : MAX_SIZE_T;
        int marked = (m->largemap[i / BINMAP_BITS] & bin_bit(i % BINMAP_BITS)) != 0;
        EXPECT(c, (m->largebins[i] != 0) == marked, "largemap bit disagrees with its bin",
               &m->largebins[i]);
        size_t count = 0;
        for (dl_chunk *p = m->largebins[i], *prev = slot; p != 0; prev = p, p = p->fd) {
            if (!is_heap_chunk(c, p) || count > c->limit) {
                violation(c, "large bin list leaves the heap or does not end", &m->largebins[i]);
                break;
            }
            EXPECT(c, p->bk == prev, "large bin links do not point back", p);
            size_t s = chunksize(p);
            EXPECT(c, s >= lo && s < hi, "chunk size outside its large bin's range", p);
            check_free_for_bin(c, p);
            count += 1;
        }
        EXPECT(c, count == c->binned_large[i], "large bin count differs from free chunks in the heap",
               &m->largebins[i]);
    }
}

/* ======================= direct mappings and totals ======================= */

static size_t check_mappings(checker *c) {
    dl_state *m = c->m;
    size_t bytes = 0, count = 0;
    for (dl_mapping *map = m->mappings.next; map != &m->mappings; map = map->next) {
        if (count > c->limit || !ok_address(m, map)) {
            violation(c, "mapping ring leaves the heap or does not end", map);
            break;
        }
        const dl_chunk *p = map->chunk;
        EXPECT(c, map->next->prev == map, "mapping ring links do not point back", map);
        EXPECT(c, (map->size & (dl_mparams.page_size - 1)) == 0, "mapping size is not whole pages", map);
        EXPECT(c, is_mmapped(p) && cinuse(p), "chunk of a mapping is not marked in use and mapped", p);
        EXPECT(c, (const char *)p - p->prev_foot == (const char *)map, "mapped chunk's offset does not lead to its mapping", p);
        EXPECT(c, p->prev_foot + chunksize(p) + MMAP_TAIL <= map->size, "mapped chunk runs past its mapping", p);
        EXPECT(c, next_chunk(p)->head == FENCEPOST_HEAD, "mapped chunk's fencepost is damaged", p);
        check_inuse_footer(c, p);
        bytes += map->size;
        count += 1;
    }
    EXPECT(c, bytes == m->mmapped_bytes, "mapped bytes differ from the sum of mappings", m);
    EXPECT(c, count == m->mmapped_count, "mapped chunk count differs from the mappings", m);
    return bytes;
}

DL_INTERNAL size_t dl_heap_check(dl_state *m, dl_check_report report, void *arg) {
    checker c;
    dl_memset(&c, 0, sizeof c);
    c.m = m;
    c.report = report;
    c.arg = arg;
    c.limit = m->footprint / MIN_CHUNK_SIZE + 1;

    EXPECT(&c, m->magic == dl_mparams.magic, "heap state's magic is wrong (not a heap or overwritten)", m);
    size_t seg_bytes = 0;
    int top_seen = 0;
    int is_newest = 1;
    for (const dl_segment *sp = &m->seg; sp != 0 && sp->base != 0; sp = sp->next) {
        if (!is_newest && (seg_bytes > m->footprint || !ok_address(m, sp))) {
            violation(&c, "segment list leaves the heap or does not end", sp);
            break;
        }
        check_segment(&c, sp, is_newest, &top_seen);
        seg_bytes += sp->size;
        is_newest = 0;
    }
    EXPECT(&c, top_seen == (m->top != 0), "top was not found at the end of the newest segment", m->top);
    if (m->top != 0) EXPECT(&c, (m->topsize & ALIGN_MASK) == 0, "top size is not aligned", m->top);
    if (m->dv != 0) {
        EXPECT(&c, is_heap_chunk(&c, m->dv) && !cinuse(m->dv) && chunksize(m->dv) == m->dvsize,
               "designated victim is not a free chunk of dvsize bytes", m->dv);
    } else {
        EXPECT(&c, m->dvsize == 0, "dvsize is set without a designated victim", m);
    }
    check_small_bins(&c);
    check_large_bins(&c);
    size_t map_bytes = check_mappings(&c);
    EXPECT(&c, seg_bytes + map_bytes == m->footprint, "footprint differs from segments plus mappings", m);
    EXPECT(&c, m->max_footprint >= m->footprint, "max footprint is below the footprint", m);
    return c.violations;
}

/* ======================= debug-build chunk checks ======================= */

#if DL_DEBUG >= 2
DL_INTERNAL void dl_debug_check_inuse(dl_state *m, const dl_chunk *p) {
    DL_ASSERT(is_aligned(CHUNK2MEM(p)));
    DL_ASSERT(ok_address(m, p));
    DL_ASSERT(cinuse(p));
    DL_ASSERT(chunksize(p) >= MIN_CHUNK_SIZE);
    if (!is_mmapped(p)) {
        DL_ASSERT(pinuse(next_chunk(p)));
        DL_ASSERT(next_chunk(p) == m->top || next_chunk(p)->head == FENCEPOST_HEAD ||
                  chunksize(next_chunk(p)) >= MIN_CHUNK_SIZE);
        if (!pinuse(p)) DL_ASSERT(next_chunk(CHUNK_BEFORE(p, p->prev_foot)) == p);
    } else {
        DL_ASSERT(((const dl_mapping *)(const void *)((const char *)p - p->prev_foot))->chunk == p);
    }
}

DL_INTERNAL void dl_debug_check_free(dl_state *m, const dl_chunk *p) {
    DL_ASSERT(ok_address(m, p));
    DL_ASSERT(is_aligned(CHUNK2MEM(p)));
    DL_ASSERT(!cinuse(p));
    DL_ASSERT(!is_mmapped(p));
    DL_ASSERT(pinuse(p));
    DL_ASSERT(next_chunk(p)->prev_foot == chunksize(p));
    DL_ASSERT(!pinuse(next_chunk(p)));
    DL_ASSERT(p != m->top);
}
#endif
