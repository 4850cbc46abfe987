/*
 * heap.c - the algorithms behind the entry points, for any heap state:
 * malloc (small bins, dv, large bins, top, system), free with coalescing,
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

static inline int any_large(const dl_state *m) {
    dl_binmap any = 0;
    for (unsigned w = 0; w < LARGEMAP_WORDS; ++w) any |= m->largemap[w]; /* unrolled by the compiler */
    return any != 0;
}

/* Small request: an exact (or one-step larger) small bin, else (when dv
 * is too small) the next non-empty small bin or a large bin. NULL leaves the
 * request to dv, top or the system. */
static DL_HOT_INLINE void *small_malloc(dl_state *m, size_t nb) {
    unsigned idx = small_index(nb);
    dl_binmap bits = m->smallmap >> idx;
    if (bits & 3u) {
        /* Exact fit, or one alignment step larger: too little left to split. */
        if (!(bits & 1u)) idx += 1;
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
        if (any_large(m)) return dl_tmalloc_small(m, nb);
    }
    return 0;
}

/* malloc for any heap; may_map 0 keeps a large request out of a mapping of
 * its own (the caller will split the chunk). */
static DL_HOT_INLINE void *heap_malloc(dl_state *m, size_t bytes, int may_map) {
    size_t nb;
    if (bytes <= MAX_SMALL_REQUEST) {
        nb = REQUEST_TO_SIZE(bytes);
        void *mem = small_malloc(m, nb);
        if (mem != 0) return mem;
    } else if (bytes >= MAX_REQUEST) {
        return 0;
    } else {
        nb = PAD_REQUEST(bytes);
        if (any_large(m)) {
            void *mem = dl_tmalloc_large(m, nb, 0);
            if (mem != 0) return mem;
        }
    }
    if (nb <= m->dvsize) return take_from_dv(m, nb);
    if (nb < m->topsize) return dl_take_from_top(m, nb);
    /* Before the heap grows (or fails), a chunk deeper in nb's own bin
     * than the quick search looks may still fit. */
    if (!is_small(nb) && any_large(m)) {
        void *mem = dl_tmalloc_large(m, nb, 1);
        if (mem != 0) return mem;
    }
    return dl_sys_alloc(m, nb, may_map);
}

/* One copy out of line for every entry point but malloc's own. */
DL_NOINLINE static void *heap_malloc_outline(dl_state *m, size_t bytes, int may_map) {
    return heap_malloc(m, bytes, may_map);
}

DL_INTERNAL void *dl_heap_malloc(dl_state *m, size_t bytes) {
    return heap_malloc_outline(m, bytes, 1);
}

DL_INTERNAL void *dl_heap_malloc_placed(dl_state *m, size_t bytes, int may_map) {
    return heap_malloc_outline(m, bytes, may_map);
}

static DL_HOT_INLINE void *dl_heap_malloc_inline(dl_state *m, size_t bytes) {
    return heap_malloc(m, bytes, 1);
}

/* ======================= free ======================= */

/* Free space [p, p+psize), whose previous chunk is in use, joins whatever
 * follows it: top or dv grow down over it, a free binned neighbour is taken
 * out and merged, and the result is binned. Writes every header and
 * boundary tag involved, so p's own header may be stale. p must not be dv.
 * Returns the free chunk p became part of, or NULL when it joined top. */
static DL_HOT_INLINE dl_chunk *merge_with_next(dl_state *m, dl_chunk *p, size_t psize) {
    dl_chunk *next = CHUNK_AT(p, psize);
    if (cinuse(next)) {
        set_free_with_pinuse(p, psize, next);
    } else if (next == m->top) {
        m->topsize += psize;
        m->top = p;
        p->head = m->topsize | PINUSE_BIT;
        return 0;
    } else if (next == m->dv) {
        m->dvsize += psize;
        m->dv = p;
        set_size_and_pinuse_of_free_chunk(p, m->dvsize);
        return p;
    } else {
        size_t nsize = chunksize(next);
        /* An overflow out of p lands in next's header: check that next
         * looks like a real free chunk (a sane size, and a boundary tag
         * that agrees) before following its links. */
        if (DL_UNLIKELY(nsize < MIN_CHUNK_SIZE || nsize > m->footprint ||
                        CHUNK_AT(next, nsize)->prev_foot != nsize || pinuse(CHUNK_AT(next, nsize))))
            DL_CORRUPTION("free(): corrupted chunk (the next chunk's size or boundary tag is wrong: overflow?)");
        dl_unlink_chunk(m, next, nsize);
        psize += nsize;
        set_size_and_pinuse_of_free_chunk(p, psize);
    }
    dl_insert_chunk(m, p, psize);
    return p;
}

DL_INTERNAL dl_chunk *dl_merge_with_next(dl_state *m, dl_chunk *p, size_t psize) {
    return merge_with_next(m, p, psize);
}

/* dv has grown over the chunk freed just after it and now spans size
 * bytes. It meets what follows like any free range, and stays the
 * designated victim unless it joined top. Rare enough that binning it for
 * a moment costs nothing worth a second copy of the merge. */
DL_NOINLINE static dl_chunk *extend_dv(dl_state *m, size_t size) {
    dl_chunk *dv = m->dv;
    m->dv = 0;
    m->dvsize = 0;
    if (dl_merge_with_next(m, dv, size) == 0) return 0;
    size = chunksize(dv);
    dl_unlink_chunk(m, dv, size);
    m->dv = dv;
    m->dvsize = size;
    return dv;
}

/* Frees chunk p of psize bytes whose header may be stale: joins a free
 * previous chunk, then whatever follows. Returns the free chunk p ended up
 * in, or NULL when it joined top. */
static DL_HOT_INLINE dl_chunk *dispose(dl_state *m, dl_chunk *p, size_t psize) {
    if (!pinuse(p)) {
        size_t prevsize = p->prev_foot;
        dl_chunk *prev = CHUNK_BEFORE(p, prevsize);
        if (DL_UNLIKELY(!ok_address(m, prev) || prevsize < MIN_CHUNK_SIZE || chunksize(prev) != prevsize))
            DL_CORRUPTION("corrupted boundary tag: the free chunk before this one has a different size");
        p->head &= ~CINUSE_BIT; /* a second free of p is then recognised */
        psize += prevsize;
        if (prev == m->dv) return extend_dv(m, psize);
        dl_unlink_chunk(m, prev, prevsize);
        p = prev;
    }
    return merge_with_next(m, p, psize);
}

DL_INTERNAL dl_chunk *dl_dispose_chunk(dl_state *m, dl_chunk *p, size_t psize) {
    return dispose(m, p, psize);
}

/* The always-on checks on a pointer handed to free or realloc. */
DL_INTERNAL DL_HOT_INLINE dl_chunk *dl_checked_chunk(dl_state *m, void *mem, dl_op op) {
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
    if (DL_UNLIKELY(!is_aligned(mem))) DL_MISUSE(misaligned[op]);
    if (DL_UNLIKELY(!ok_address(m, p))) DL_MISUSE(foreign[op]);
    if (DL_UNLIKELY(!cinuse(p))) DL_MISUSE(not_inuse[op]);
    if (!is_mmapped(p)) {
        dl_chunk *next = next_chunk(p);
        if (DL_UNLIKELY(next <= p || !pinuse(next))) DL_MISUSE(bad_next[op]);
    }
#if DL_FOOTERS
    size_t tag = CHUNK_AT(p, chunksize(p))->prev_foot;
    if (DL_UNLIKELY(tag != dl_owner_tag(m))) {
        if (dl_is_live_heap((dl_state *)(tag ^ dl_mparams.magic)))
            DL_MISUSE("chunk freed into a heap (mspace) that does not own it");
        DL_MISUSE("forged or corrupted chunk: its owner footer is not valid");
    }
#endif
    return p;
}

/* Whether free chunk p reaches up to its segment's record: then the
 * segment may have just become wholly free, and is worth giving back now
 * rather than at the next trim (small frees alone never reach the periodic
 * release check). The record is the one in-use chunk followed by a
 * fencepost, a header no real chunk has. A segment spans at least a page,
 * so a smaller chunk cannot be all of one: the size test spares most frees
 * the two header reads. */
static int ends_a_segment(const dl_chunk *p) {
    if (chunksize(p) + TOP_FOOT_SIZE + DL_ALIGN < dl_mparams.page_size) return 0;
    const dl_chunk *next = next_chunk(p);
    return cinuse(next) && next_chunk(next)->head == FENCEPOST_HEAD;
}

static DL_HOT_INLINE void dl_heap_free_inline(dl_state *m, dl_chunk *p) {
    size_t psize = chunksize(p);
    if (is_mmapped(p)) {
        dl_unmap_chunk(m, p); /* checks the mapping header first */
        return;
    }
    DL_CHECK_INUSE(m, p);
    dl_chunk *freed = dispose(m, p, psize);
    if (DL_NEVER_UNMAP) return;
    if (freed == 0) {
        /* Only a free that joins top can take it over the threshold. */
        if (m->topsize > m->trim_check) {
            if (dl_sys_trim(m, 0)) m->trimmed = 1;
            return;
        }
    } else if (ends_a_segment(freed) && dl_mparams.trim_threshold != MAX_SIZE_T) {
        /* Segments are released early only while automatic trimming is on
         * (with M_TRIM_THRESHOLD -1 the program trims when it chooses). */
        dl_release_free_segments(m);
        return;
    }
    if (!is_small(psize) && --m->release_checks == 0) dl_release_free_segments(m);
}

DL_INTERNAL void dl_heap_free(dl_state *m, dl_chunk *p) {
    dl_heap_free_inline(m, p);
}

DL_INTERNAL size_t dl_usable_size(const void *mem) {
    const dl_chunk *p = MEM2CHUNK(mem);
    if (!cinuse(p)) return 0;
    return chunksize(p) - CHUNK_OVERHEAD;
}

/* ======================= splitting in-use chunks ======================= */

/* Cuts in-use heap chunk p in two in-use chunks, the first of `at` bytes;
 * both parts must be at least MIN_CHUNK_SIZE. Returns the second. */
static dl_chunk *cut_inuse(dl_state *m, dl_chunk *p, size_t at) {
    size_t rest = chunksize(p) - at;
    dl_chunk *back = CHUNK_AT(p, at);
    set_inuse(m, p, at);
    set_inuse(m, back, rest);
    return back;
}

/* In-use heap chunk p keeps its first nb bytes (nb <= its size) and frees
 * the rest when that is at least min_tail bytes (MIN_CHUNK_SIZE or more);
 * a smaller rest stays with p. */
static void trim_tail(dl_state *m, dl_chunk *p, size_t nb, size_t min_tail) {
    if (chunksize(p) - nb >= min_tail) {
        dl_chunk *tail = cut_inuse(m, p, nb);
        dl_dispose_chunk(m, tail, chunksize(tail));
    }
}

/* In-use chunk p gives up its first `lead` bytes (0, or at least
 * MIN_CHUNK_SIZE); returns the in-use chunk that starts after them. */
static dl_chunk *trim_lead(dl_state *m, dl_chunk *p, size_t lead) {
    if (lead == 0) return p;
    if (is_mmapped(p)) return dl_advance_mapped_chunk(p, lead);
    dl_chunk *body = cut_inuse(m, p, lead);
    dl_dispose_chunk(m, p, lead);
    return body;
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
        trim_tail(m, p, nb, MIN_CHUNK_SIZE);
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
        set_inuse(m, p, oldsize + nextsize);
        trim_tail(m, p, nb, MIN_CHUNK_SIZE);
        return p;
    }
    return 0;
}

/* ======================= aligned allocation ======================= */

/* Bytes from mem to the first multiple of alignment that is either mem
 * itself or at least MIN_CHUNK_SIZE past it, so that the bytes skipped can
 * form a free chunk of their own. */
static size_t lead_to_alignment(const char *mem, size_t alignment) {
    size_t addr = (size_t)mem;
    if ((addr & (alignment - 1)) == 0) return 0;
    size_t target = (addr + MIN_CHUNK_SIZE + alignment - 1) & ~(alignment - 1);
    return target - addr;
}

/* Takes a block with room for an aligned chunk of the request wherever the
 * aligned position falls, then gives back what lies before and after it. */
DL_INTERNAL void *dl_heap_memalign(dl_state *m, size_t alignment, size_t bytes) {
    if (alignment <= DL_ALIGN) return dl_heap_malloc(m, bytes);
    if (alignment >= MAX_REQUEST || bytes >= MAX_REQUEST - alignment) return 0;
    size_t a = MIN_CHUNK_SIZE;
    while (a < alignment) a <<= 1; /* any alignment: round up to a power of two */
    alignment = a;
    size_t nb = REQUEST_TO_SIZE(bytes);
    /* The lead is below alignment + MIN_CHUNK_SIZE bytes (see
     * lead_to_alignment), so this much always leaves nb after it. */
    char *mem = (char *)dl_heap_malloc(m, nb + alignment + MIN_CHUNK_SIZE - CHUNK_OVERHEAD);
    if (mem == 0) return 0;
    dl_chunk *p = trim_lead(m, MEM2CHUNK(mem), lead_to_alignment(mem, alignment));
    /* memalign has always left a tail of exactly one minimal chunk with
     * the block; freeing it too would move later placements (footprints
     * included) for the sake of 4 words. */
    if (!is_mmapped(p)) trim_tail(m, p, nb, MIN_CHUNK_SIZE + DL_ALIGN);
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
    char *mem = (char *)heap_malloc_outline(m, total - CHUNK_OVERHEAD, 0);
    if (mem == 0) return 0;

    dl_chunk *p = MEM2CHUNK(mem);
    size_t remainder = chunksize(p);
    void **marray = chunks;
    if (zero) dl_memset(mem, 0, (marray == 0 ? contents_size : remainder) - CHUNK_OVERHEAD);
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
