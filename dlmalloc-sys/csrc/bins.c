/*
 * bins.c - where free chunks wait: exact-size small bins (circular lists),
 * large bins (segregated fit: lists of sizes within an eighth of each other,
 * found through a bitmap in constant time), the designated victim, and the
 * fit searches over the large bins.
 *
 * Invariants: a bin's bit in smallmap/largemap is set exactly when the bin
 * is non-empty; dv and top are never in a bin; every binned chunk is free
 * and its neighbours are in use (free chunks are always coalesced).
 */
#include "dl_internal.h"

/* ======================= small bins ======================= */

static void insert_small(dl_state *m, dl_chunk *p, size_t s) {
    unsigned i = small_index(s);
    dl_chunk *bin = BIN_AT(m, i);
    dl_chunk *first = bin;
    if (!(m->smallmap & bin_bit(i)))
        m->smallmap |= bin_bit(i);
    else if (DL_LIKELY(ok_address(m, bin->fd)))
        first = bin->fd;
    else
        DL_CORRUPTION("corrupted small bin: list head points outside the heap");
    bin->fd = p;
    first->bk = p;
    p->fd = first;
    p->bk = bin;
}

static void unlink_small(dl_state *m, dl_chunk *p, size_t s) {
    dl_chunk *f = p->fd;
    dl_chunk *b = p->bk;
    unsigned i = small_index(s);
    if (DL_UNLIKELY(f->bk != p || b->fd != p))
        DL_CORRUPTION("corrupted small bin: neighbours do not link back (overflow or double free)");
    if (f == b) m->smallmap &= ~bin_bit(i);
    f->bk = b;
    b->fd = f;
}

/* ======================= large bins ======================= */

DL_NOINLINE static void insert_large(dl_state *m, dl_chunk *p, size_t s) {
    unsigned i = large_index(s);
    dl_chunk *first = m->largebins[i];
    if (first == 0) {
        m->largemap[i / BINMAP_BITS] |= bin_bit(i % BINMAP_BITS);
    } else {
        if (DL_UNLIKELY(!ok_address(m, first)))
            DL_CORRUPTION("corrupted large bin: list head points outside the heap");
        first->bk = p;
    }
    m->largebins[i] = p;
    p->fd = first;
    p->bk = LARGE_SLOT_AT(m, i);
}

DL_NOINLINE static void unlink_large(dl_state *m, dl_chunk *p, size_t s) {
    dl_chunk *f = p->fd;
    dl_chunk *b = p->bk;
    if (DL_UNLIKELY(b->fd != p || (f != 0 && f->bk != p)))
        DL_CORRUPTION("corrupted large bin: neighbours do not link back (overflow or double free)");
    b->fd = f;
    if (f != 0) {
        f->bk = b;
    } else {
        unsigned i = large_index(s);
        if (m->largebins[i] == 0) m->largemap[i / BINMAP_BITS] &= ~bin_bit(i % BINMAP_BITS);
    }
}

/* The first non-empty large bin from bin i up, or NLARGEBINS. */
static unsigned next_large_bin(const dl_state *m, unsigned i) {
    unsigned w = i / BINMAP_BITS;
    dl_binmap bits = m->largemap[w] & ~(bin_bit(i % BINMAP_BITS) - 1);
    while (bits == 0) {
        if (++w == LARGEMAP_WORDS) return NLARGEBINS;
        bits = m->largemap[w];
    }
    return w * BINMAP_BITS + lowest_bin(bits);
}

/* ======================= shared entry points ======================= */

DL_INTERNAL DL_HOT_INLINE void dl_insert_chunk(dl_state *m, dl_chunk *p, size_t s) {
    if (is_small(s))
        insert_small(m, p, s);
    else
        insert_large(m, p, s);
    DL_CHECK_FREE(m, p);
}

DL_INTERNAL DL_HOT_INLINE void dl_unlink_chunk(dl_state *m, dl_chunk *p, size_t s) {
    if (is_small(s))
        unlink_small(m, p, s);
    else
        unlink_large(m, p, s);
}

/* Makes p (free, size s, boundary tag written) the designated victim; the
 * previous one goes to its bin. */
DL_INTERNAL void dl_replace_dv(dl_state *m, dl_chunk *p, size_t s) {
    if (m->dvsize != 0) dl_insert_chunk(m, m->dv, m->dvsize);
    m->dv = p;
    m->dvsize = s;
}

/* Takes chunk v (already unlinked) of which nb bytes are wanted. Remainders
 * too small to be a chunk stay with v. Small requests keep the remainder as
 * the designated victim; large ones bin it. */
static void *carve(dl_state *m, dl_chunk *v, size_t nb, int remainder_to_dv) {
    size_t rsize = chunksize(v) - nb;
    if (rsize < MIN_CHUNK_SIZE) {
        set_inuse_and_pinuse(m, v, rsize + nb);
    } else {
        dl_chunk *r = CHUNK_AT(v, nb);
        set_size_and_pinuse_of_inuse_chunk(m, v, nb);
        set_size_and_pinuse_of_free_chunk(r, rsize);
        if (remainder_to_dv)
            dl_replace_dv(m, r, rsize);
        else
            dl_insert_chunk(m, r, rsize);
    }
    return CHUNK2MEM(v);
}

/* A small request that no small bin can serve: the newest chunk of the
 * lowest non-empty large bin (all of it fits). */
DL_INTERNAL void *dl_tmalloc_small(dl_state *m, size_t nb) {
    dl_chunk *v = m->largebins[next_large_bin(m, 0)];
    if (DL_UNLIKELY(!ok_address(m, v))) DL_CORRUPTION("corrupted large bin: chunk outside the heap");
    unlink_large(m, v, chunksize(v));
    return carve(m, v, nb, 1);
}

/* The best fit for nb among the first `limit` chunks of bin i (the newest),
 * or NULL. */
static dl_chunk *best_in_bin(const dl_state *m, unsigned i, size_t nb, size_t limit) {
    dl_chunk *v = 0;
    size_t best_rest = MAX_SIZE_T;
    for (dl_chunk *p = m->largebins[i]; p != 0 && limit != 0; p = p->fd, --limit) {
        size_t s = chunksize(p);
        if (s >= nb && s - nb < best_rest) {
            v = p;
            best_rest = s - nb;
            if (best_rest == 0) break;
        }
    }
    return v;
}

/* How many of its own bin's chunks a large request compares before it
 * looks further: enough to find a tight fit among the chunks a bin usually
 * holds (in a large heap each one is likely a cache miss), and a bound on
 * the time when one bin holds many. */
#define LARGE_SCAN_LIMIT 8u

/* A fit for a large request: the best of the newest few chunks of nb's own
 * bin, else the newest chunk of the next non-empty bin, every chunk of
 * which fits. The last bin has no bin above it and few chunks, each larger
 * than any other bin's, so there the best fit of the whole list is taken;
 * `thorough` does the same for nb's own bin (before the heap grows or
 * fails). NULL when nothing fits, or when the designated victim fits more
 * tightly. */
DL_INTERNAL void *dl_tmalloc_large(dl_state *m, size_t nb, int thorough) {
    unsigned i = large_index(nb);
    int whole = thorough || i == NLARGEBINS - 1;
    dl_chunk *v = best_in_bin(m, i, nb, whole ? MAX_SIZE_T : LARGE_SCAN_LIMIT);
    if (v == 0 && i + 1 < NLARGEBINS) {
        unsigned j = next_large_bin(m, i + 1);
        if (j == NLARGEBINS) return 0;
        v = j == NLARGEBINS - 1 ? best_in_bin(m, j, nb, MAX_SIZE_T) : m->largebins[j];
    }
    if (v == 0) return 0;
    size_t best_rest = chunksize(v) - nb;
    if (m->dvsize >= nb && best_rest >= m->dvsize - nb) return 0; /* dv fits better */
    if (DL_UNLIKELY(!ok_address(m, v))) DL_CORRUPTION("corrupted large bin: chunk outside the heap");
    unlink_large(m, v, chunksize(v));
    return carve(m, v, nb, 0);
}
