/*
 * heap.c - the algorithms behind the entry points, for any heap state:
 * malloc (small bins, dv, tree bins, top, system), free with coalescing,
 * in-place resizing, aligned allocation, the independent_* family and bulk
 * free. Callers hold the heap's lock.
 */
#include "dl_internal.h"

/* ======================= malloc ======================= */

/* Splits nb bytes off the front of dv, which keeps the rest unless it is
 * too small to be a chunk. */
static void *take_from_dv(dl_state *m, size_t nb) {
    dl_chunk *p = m->dv;
    size_t rsize = m->dvsize - nb;
    if (rsize >= MIN_CHUNK_SIZE) {
        dl_chunk *r = m->dv = CHUNK_AT(p, nb);
        m->dvsize = rsize;
        set_size_and_pinuse_of_free_chunk(r, rsize);
        set_size_and_pinuse_of_inuse_chunk(m, p, nb);
    } else {
        size_t dvs = m->dvsize;
        m->dvsize = 0;
        m->dv = 0;
        set_inuse_and_pinuse(m, p, dvs);
    }
    DL_CHECK_INUSE(m, p);
    return CHUNK2MEM(p);
}

/* Splits nb bytes off the front of top (the caller checked nb < topsize). */
static void *take_from_top(dl_state *m, size_t nb) {
    dl_chunk *p = m->top;
    size_t rsize = m->topsize -= nb;
    dl_chunk *r = m->top = CHUNK_AT(p, nb);
    r->head = rsize | PINUSE_BIT;
    set_size_and_pinuse_of_inuse_chunk(m, p, nb);
    DL_CHECK_INUSE(m, p);
    return CHUNK2MEM(p);
}

/* Small request: an exact (or one-step larger) small bin, else dv when it
 * is big enough, else the next non-empty small bin or the trees. */
static void *small_malloc(dl_state *m, size_t nb, int *done) {
    unsigned idx = small_index(nb);
    dl_binmap bits = m->smallmap >> idx;
    *done = 1;
    if (bits & (1u | (1u << SMALLBIN_STEP))) {
        /* Exact fit, or one alignment step larger: too little left to split. */
        if (!(bits & 1u)) idx += SMALLBIN_STEP;
        dl_chunk *bin = BIN_AT(m, idx);
        dl_chunk *p = bin->fd;
        dl_chunk *f = p->fd;
        if (DL_UNLIKELY(f->bk != p)) DL_CORRUPTION("corrupted small bin: first chunk's successor does not link back");
        if (f == bin) m->smallmap &= ~bin_bit(idx);
        bin->fd = f;
        f->bk = bin;
        set_inuse_and_pinuse(m, p, small_index_size(idx));
        DL_CHECK_INUSE(m, p);
        return CHUNK2MEM(p);
    }
    if (nb > m->dvsize) {
        dl_binmap larger = m->smallmap & bins_above(idx);
        if (larger != 0) {
            unsigned i = lowest_bin(larger);
            dl_chunk *bin = BIN_AT(m, i);
            dl_chunk *p = bin->fd;
            size_t size = small_index_size(i);
            dl_unlink_chunk(m, p, size);
            size_t rsize = size - nb;
            if (rsize < MIN_CHUNK_SIZE) {
                set_inuse_and_pinuse(m, p, size);
            } else {
                dl_chunk *r = CHUNK_AT(p, nb);
                set_size_and_pinuse_of_inuse_chunk(m, p, nb);
                set_size_and_pinuse_of_free_chunk(r, rsize);
                dl_replace_dv(m, r, rsize);
            }
            DL_CHECK_INUSE(m, p);
            return CHUNK2MEM(p);
        }
        if (m->treemap != 0) {
            void *mem = dl_tmalloc_small(m, nb);
            if (mem != 0) return mem;
        }
    }
    *done = 0;
    return 0;
}

DL_INTERNAL void *dl_heap_malloc(dl_state *m, size_t bytes) {
    size_t nb;
    if (bytes <= MAX_SMALL_REQUEST) {
        nb = REQUEST_TO_SIZE(bytes);
        int done;
        void *mem = small_malloc(m, nb, &done);
        if (done) return mem;
    } else if (bytes >= MAX_REQUEST) {
        return 0;
    } else {
        nb = PAD_REQUEST(bytes);
        if (m->treemap != 0) {
            void *mem = dl_tmalloc_large(m, nb);
            if (mem != 0) return mem;
        }
    }
    if (nb <= m->dvsize) return take_from_dv(m, nb);
    if (nb < m->topsize) return take_from_top(m, nb);
    return dl_sys_alloc(m, nb);
}

/* ======================= free ======================= */

/* Frees chunk p of psize bytes whose header may be stale: coalesces with
 * free neighbours, folds into dv or top, or bins the result. Returns the
 * free chunk p ended up in, or NULL when it joined top. */
DL_INTERNAL dl_chunk *dl_dispose_chunk(dl_state *m, dl_chunk *p, size_t psize) {
    dl_chunk *next = CHUNK_AT(p, psize);
    if (!pinuse(p)) {
        size_t prevsize = p->prev_foot;
        dl_chunk *prev = CHUNK_BEFORE(p, prevsize);
        if (DL_UNLIKELY(!ok_address(m, prev) || prevsize < MIN_CHUNK_SIZE || chunksize(prev) != prevsize))
            DL_CORRUPTION("corrupted boundary tag: the free chunk before this one has a different size");
        p->head &= ~CINUSE_BIT; /* a second free of p is then recognised */
        p = prev;
        psize += prevsize;
        if (p != m->dv) {
            dl_unlink_chunk(m, p, prevsize);
        } else if ((next->head & INUSE_BITS) == INUSE_BITS) {
            m->dvsize = psize;
            set_free_with_pinuse(p, psize, next);
            return p;
        }
    }
    if (!cinuse(next)) {
        if (next == m->top) {
            size_t tsize = m->topsize += psize;
            m->top = p;
            p->head = tsize | PINUSE_BIT;
            if (p == m->dv) {
                m->dv = 0;
                m->dvsize = 0;
            }
            return 0;
        }
        if (next == m->dv) {
            size_t dsize = m->dvsize += psize;
            m->dv = p;
            set_size_and_pinuse_of_free_chunk(p, dsize);
            return p;
        }
        size_t nsize = chunksize(next);
        /* An overflow out of p lands in next's header: check that next
         * looks like a real free chunk (a sane size, and a boundary tag
         * that agrees) before following its links. */
        if (DL_UNLIKELY(nsize < MIN_CHUNK_SIZE || nsize > m->footprint ||
                        CHUNK_AT(next, nsize)->prev_foot != nsize || pinuse(CHUNK_AT(next, nsize))))
            DL_CORRUPTION("free(): corrupted chunk (the next chunk's size or boundary tag is wrong: overflow?)");
        psize += nsize;
        dl_unlink_chunk(m, next, nsize);
        set_size_and_pinuse_of_free_chunk(p, psize);
        if (p == m->dv) {
            m->dvsize = psize;
            return p;
        }
    } else {
        set_free_with_pinuse(p, psize, next);
    }
    dl_insert_chunk(m, p, psize);
    return p;
}

/* The always-on checks on a pointer handed to free or realloc. */
DL_INTERNAL dl_chunk *dl_checked_chunk(dl_state *m, void *mem, dl_op op) {
    static const char *const misaligned[] = {
        "free(): invalid pointer (not aligned like any block this heap returns)",
        "realloc(): invalid pointer (not aligned like any block this heap returns)"};
    static const char *const foreign[] = {
        "free(): invalid pointer (below every address this heap owns)",
        "realloc(): invalid pointer (below every address this heap owns)"};
    static const char *const not_inuse[] = {
        "free(): double free or invalid pointer (the chunk is not in use)",
        "realloc(): pointer already freed or invalid (the chunk is not in use)"};
    static const char *const bad_next[] = {
        "free(): corrupted chunk (the next chunk does not see it in use: overflow or double free)",
        "realloc(): corrupted chunk (the next chunk does not see it in use: overflow or double free)"};
    dl_chunk *p = MEM2CHUNK(mem);
    if (DL_UNLIKELY(!is_aligned(mem))) DL_CORRUPTION(misaligned[op]);
    if (DL_UNLIKELY(!ok_address(m, p))) DL_CORRUPTION(foreign[op]);
    if (DL_UNLIKELY(!cinuse(p))) DL_CORRUPTION(not_inuse[op]);
    if (!is_mmapped(p)) {
        dl_chunk *next = next_chunk(p);
        if (DL_UNLIKELY(next <= p || !pinuse(next))) DL_CORRUPTION(bad_next[op]);
    }
#if DL_FOOTERS
    size_t tag = CHUNK_AT(p, chunksize(p))->prev_foot;
    if (DL_UNLIKELY(tag != dl_owner_tag(m))) {
        if (dl_is_live_heap((dl_state *)(tag ^ dl_mparams.magic)))
            DL_CORRUPTION("chunk freed into a heap (mspace) that does not own it");
        DL_CORRUPTION("forged or corrupted chunk: its owner footer is not valid");
    }
#endif
    return p;
}

/* Whether free chunk p reaches up to its segment's record: then the
 * segment may have just become wholly free, and is worth giving back now
 * rather than at the next trim (small frees alone never reach the periodic
 * release check). The record is the one in-use chunk followed by a
 * fencepost, a header no real chunk has. Cheap: two header reads. */
static int ends_a_segment(const dl_chunk *p) {
    const dl_chunk *next = next_chunk(p);
    return cinuse(next) && next_chunk(next)->head == FENCEPOST_HEAD;
}

DL_INTERNAL void dl_heap_free(dl_state *m, dl_chunk *p) {
    size_t psize = chunksize(p);
    if (is_mmapped(p)) {
        dl_unmap_chunk(m, p); /* checks the mapping header first */
        return;
    }
    DL_CHECK_INUSE(m, p);
    dl_chunk *freed = dl_dispose_chunk(m, p, psize);
    /* Segments are released early only while automatic trimming is on
     * (with M_TRIM_THRESHOLD -1 the program trims when it chooses). */
    if (m->topsize > m->trim_check)
        dl_sys_trim(m, 0);
    else if ((freed != 0 && dl_mparams.trim_threshold != MAX_SIZE_T && ends_a_segment(freed)) ||
             (!is_small(psize) && --m->release_checks == 0))
        dl_release_free_segments(m);
}

DL_INTERNAL size_t dl_usable_size(const void *mem) {
    const dl_chunk *p = MEM2CHUNK(mem);
    if (!cinuse(p)) return 0;
    return chunksize(p) - CHUNK_OVERHEAD;
}

/* ======================= resizing ======================= */

/* Resizes in-use chunk p to nb bytes; returns p, or NULL when the
 * neighbours leave no room. With can_move, a directly mapped chunk may come
 * back at a new place (moved by the optional custom_mremap hook), or NULL
 * when it would rather be moved by a copy. */
DL_INTERNAL dl_chunk *dl_resize_chunk(dl_state *m, dl_chunk *p, size_t nb, int can_move) {
    size_t oldsize = chunksize(p);
    if (is_mmapped(p)) return dl_mmap_resize(m, p, nb, can_move);
    dl_chunk *next = CHUNK_AT(p, oldsize);
    if (oldsize >= nb) {
        size_t rsize = oldsize - nb;
        if (rsize >= MIN_CHUNK_SIZE) {
            dl_chunk *r = CHUNK_AT(p, nb);
            set_inuse(m, p, nb);
            set_inuse(m, r, rsize);
            dl_dispose_chunk(m, r, rsize);
        }
        return p;
    }
    if (next == m->top) {
        if (oldsize + m->topsize <= nb) return 0;
        size_t newtopsize = oldsize + m->topsize - nb;
        dl_chunk *newtop = CHUNK_AT(p, nb);
        set_inuse(m, p, nb);
        newtop->head = newtopsize | PINUSE_BIT;
        m->top = newtop;
        m->topsize = newtopsize;
        return p;
    }
    if (next == m->dv) {
        if (oldsize + m->dvsize < nb) return 0;
        size_t dsize = oldsize + m->dvsize - nb;
        if (dsize >= MIN_CHUNK_SIZE) {
            dl_chunk *r = CHUNK_AT(p, nb);
            set_inuse(m, p, nb);
            set_size_and_pinuse_of_free_chunk(r, dsize);
            m->dv = r;
            m->dvsize = dsize;
        } else {
            set_inuse(m, p, oldsize + m->dvsize);
            m->dv = 0;
            m->dvsize = 0;
        }
        return p;
    }
    if (!cinuse(next)) {
        size_t nextsize = chunksize(next);
        if (oldsize + nextsize < nb) return 0;
        dl_unlink_chunk(m, next, nextsize);
        size_t rsize = oldsize + nextsize - nb;
        if (rsize < MIN_CHUNK_SIZE) {
            set_inuse(m, p, oldsize + nextsize);
        } else {
            dl_chunk *r = CHUNK_AT(p, nb);
            set_inuse(m, p, nb);
            set_inuse(m, r, rsize);
            dl_dispose_chunk(m, r, rsize);
        }
        return p;
    }
    return 0;
}

/* ======================= aligned allocation ======================= */

/* Over-allocates, then frees the lead before the first aligned position
 * that leaves room for a chunk, and the tail beyond the request. */
DL_INTERNAL void *dl_heap_memalign(dl_state *m, size_t alignment, size_t bytes) {
    if (alignment <= DL_ALIGN) return dl_heap_malloc(m, bytes);
    if (alignment >= MAX_REQUEST || bytes >= MAX_REQUEST - alignment) return 0;
    size_t a = MIN_CHUNK_SIZE;
    while (a < alignment) a <<= 1; /* any alignment: round up to a power of two */
    alignment = a;
    size_t nb = REQUEST_TO_SIZE(bytes);
    size_t req = nb + alignment + MIN_CHUNK_SIZE - CHUNK_OVERHEAD;
    char *mem = (char *)dl_heap_malloc(m, req);
    if (mem == 0) return 0;
    dl_chunk *p = MEM2CHUNK(mem);
    if (((size_t)mem & (alignment - 1)) != 0) {
        char *aligned_mem = (char *)(((size_t)mem + alignment - 1) & ~(alignment - 1));
        char *br = (char *)MEM2CHUNK(aligned_mem);
        if ((size_t)(br - (char *)p) < MIN_CHUNK_SIZE) br += alignment;
        dl_chunk *newp = (dl_chunk *)(void *)br;
        size_t leadsize = (size_t)(br - (char *)p);
        size_t newsize = chunksize(p) - leadsize;
        if (is_mmapped(p)) {
            newp->prev_foot = p->prev_foot + leadsize;
            newp->head = newsize | MMAPPED_BIT | INUSE_BITS;
            ((dl_mapping *)(void *)((char *)newp - newp->prev_foot))->chunk = newp;
        } else {
            set_size_and_pinuse_of_inuse_chunk(m, newp, newsize);
            set_inuse(m, p, leadsize);
            dl_dispose_chunk(m, p, leadsize);
        }
        p = newp;
    }
    if (!is_mmapped(p)) {
        size_t size = chunksize(p);
        if (size > nb + MIN_CHUNK_SIZE) {
            size_t rsize = size - nb;
            dl_chunk *r = CHUNK_AT(p, nb);
            set_inuse(m, p, nb);
            set_inuse(m, r, rsize);
            dl_dispose_chunk(m, r, rsize);
        }
    }
    DL_ASSERT(((size_t)CHUNK2MEM(p) & (alignment - 1)) == 0);
    DL_CHECK_INUSE(m, p);
    return CHUNK2MEM(p);
}

/* ======================= independent_calloc / comalloc ======================= */

/* Allocates n blocks (sizes[i] bytes each, or elem_size when sizes is NULL)
 * from one chunk split in place, so they sit next to each other; the pointer
 * array follows them when the caller gave none. */
DL_INTERNAL void **dl_heap_ialloc(dl_state *m, size_t n, const size_t *sizes, size_t elem_size,
                                  int zero, void **chunks) {
    size_t array_size;
    if (chunks != 0) {
        if (n == 0) return chunks;
        array_size = 0;
    } else {
        if (n == 0) return (void **)dl_heap_malloc(m, 0);
        if (n > MAX_REQUEST / sizeof(void *)) return 0;
        array_size = REQUEST_TO_SIZE(n * sizeof(void *));
    }
    size_t element_size = 0;
    size_t contents_size = 0;
    if (sizes == 0) {
        if (elem_size >= MAX_REQUEST) return 0;
        element_size = REQUEST_TO_SIZE(elem_size);
        if (n > MAX_REQUEST / element_size) return 0;
        contents_size = n * element_size;
    } else {
        for (size_t i = 0; i < n; ++i) {
            if (sizes[i] >= MAX_REQUEST) return 0;
            contents_size += REQUEST_TO_SIZE(sizes[i]);
            if (contents_size >= MAX_REQUEST) return 0;
        }
    }
    size_t total = contents_size + array_size;
    if (total >= MAX_REQUEST) return 0;

    /* One chunk from the heap proper: a direct mapping could not be split. */
    unsigned was = m->flags;
    m->flags &= ~USE_MMAP_FLAG;
    char *mem = (char *)dl_heap_malloc(m, total - CHUNK_OVERHEAD);
    m->flags = was;
    if (mem == 0) return 0;

    dl_chunk *p = MEM2CHUNK(mem);
    size_t remainder = chunksize(p);
    void **marray = chunks;
    if (zero) memset(mem, 0, (marray == 0 ? contents_size : remainder) - CHUNK_OVERHEAD);
    if (marray == 0) {
        dl_chunk *array_chunk = CHUNK_AT(p, contents_size);
        set_size_and_pinuse_of_inuse_chunk(m, array_chunk, remainder - contents_size);
        marray = (void **)CHUNK2MEM(array_chunk);
        remainder = contents_size;
    }
    for (size_t i = 0;; ++i) {
        marray[i] = CHUNK2MEM(p);
        if (i == n - 1) {
            set_size_and_pinuse_of_inuse_chunk(m, p, remainder);
            break;
        }
        size_t size = sizes != 0 ? REQUEST_TO_SIZE(sizes[i]) : element_size;
        remainder -= size;
        set_size_and_pinuse_of_inuse_chunk(m, p, size);
        p = CHUNK_AT(p, size);
    }
    return marray;
}

/* ======================= bulk free ======================= */

/* Every pointer must belong to this heap (a foreign one is misuse, caught
 * like a bad free), so nothing is ever left unfreed. */
DL_INTERNAL void dl_heap_bulk_free(dl_state *m, void **array, size_t n) {
    void **fence = array + n;
    for (void **a = array; a != fence; ++a) {
        void *mem = *a;
        if (mem == 0) continue;
        dl_chunk *p = dl_checked_chunk(m, mem, DL_OP_FREE);
        *a = 0;
        if (!is_mmapped(p)) {
            /* The next entry being the very next chunk: free both as one. */
            dl_chunk *next = next_chunk(p);
            if (a + 1 != fence && a[1] == CHUNK2MEM(next) && cinuse(next) && !is_mmapped(next)) {
                set_inuse(m, p, chunksize(p) + chunksize(next));
                a[1] = mem;
                continue;
            }
        }
        dl_heap_free(m, p);
    }
}
