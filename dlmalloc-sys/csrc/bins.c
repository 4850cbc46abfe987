/*
 * bins.c - where free chunks wait: exact-size small bins (circular lists) and
 * tree bins (bitwise tries on the size bits), the designated victim, and the
 * best-fit searches over the trees.
 *
 * Invariants: a bin's bit in smallmap/treemap is set exactly when the bin is
 * non-empty; dv and top are never in a bin; every binned chunk is free and
 * its neighbours are in use (free chunks are always coalesced).
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

/* ======================= tree bins ======================= */

/* Tree bin i holds sizes in [min_size(i), min_size(i+1)): each power-of-two
 * range above 256 bytes is split in two halves; bin 31 takes the rest. */
DL_INTERNAL unsigned dl_tree_index(size_t s) {
    size_t x = s >> TREEBIN_SHIFT;
    if (x == 0) return 0;
    if (x > 0xFFFF) return NTREEBINS - 1;
    unsigned k = (unsigned)(sizeof(unsigned) * 8 - 1) - (unsigned)__builtin_clz((unsigned)x);
    return (k << 1) + (unsigned)((s >> (k + TREEBIN_SHIFT - 1)) & 1);
}

DL_INTERNAL size_t dl_treebin_min_size(unsigned i) {
    unsigned k = i >> 1;
    return ((size_t)1 << (k + TREEBIN_SHIFT)) | ((size_t)(i & 1) << (k + TREEBIN_SHIFT - 1));
}

/* Sizes in bin i agree on their top bits (which chose the bin); shifting a
 * size left by this puts the first bit that varies at the word's top. */
DL_INTERNAL unsigned dl_tree_leftshift(unsigned i) {
    if (i == NTREEBINS - 1) return 0;
    return (unsigned)(SIZE_T_BITS - 1) - ((i >> 1) + TREEBIN_SHIFT - 2);
}

static inline unsigned top_bit(size_t bits) { return (unsigned)(bits >> (SIZE_T_BITS - 1)); }

static inline dl_tchunk *leftmost_child(const dl_tchunk *t) {
    return t->child[0] ? t->child[0] : t->child[1];
}

DL_NOINLINE static void insert_large(dl_state *m, dl_tchunk *x, size_t s) {
    unsigned i = dl_tree_index(s);
    dl_tchunk **slot = &m->treebins[i];
    x->index = i;
    x->child[0] = x->child[1] = 0;
    if (!(m->treemap & bin_bit(i))) {
        m->treemap |= bin_bit(i);
        *slot = x;
        x->parent = (dl_tchunk *)(void *)slot;
        x->fd = x->bk = x;
        return;
    }
    dl_tchunk *t = *slot;
    size_t bits = s << dl_tree_leftshift(i);
    for (;;) {
        if (chunksize((dl_chunk *)t) == s) {
            /* Same size: join the ring behind the node; only nodes have parents. */
            dl_tchunk *f = t->fd;
            if (DL_UNLIKELY(!ok_address(m, t) || !ok_address(m, f)))
                DL_CORRUPTION("corrupted tree bin: node points outside the heap");
            t->fd = f->bk = x;
            x->fd = f;
            x->bk = t;
            x->parent = 0;
            return;
        }
        dl_tchunk **c = &t->child[top_bit(bits)];
        bits <<= 1;
        if (*c == 0) {
            *c = x;
            x->parent = t;
            x->fd = x->bk = x;
            return;
        }
        t = *c;
    }
}

/* Removes x. A ring member other than the node just leaves the ring. A node
 * is replaced by a ring member if it has one, else by its deepest rightmost
 * descendant leaf, which takes over the node's children. */
DL_NOINLINE static void unlink_large(dl_state *m, dl_tchunk *x) {
    dl_tchunk *xp = x->parent;
    dl_tchunk *r;
    if (x->bk != x) {
        dl_tchunk *f = x->fd;
        r = x->bk;
        if (DL_UNLIKELY(f->bk != x || r->fd != x))
            DL_CORRUPTION("corrupted tree bin: ring neighbours do not link back");
        f->bk = r;
        r->fd = f;
    } else {
        dl_tchunk **rp = &x->child[1];
        r = *rp;
        if (r == 0) {
            rp = &x->child[0];
            r = *rp;
        }
        if (r != 0) {
            for (;;) {
                dl_tchunk **cp = &r->child[1];
                if (*cp == 0) cp = &r->child[0];
                if (*cp == 0) break;
                rp = cp;
                r = *cp;
            }
            *rp = 0;
        }
    }
    if (xp == 0) return; /* x was a ring member, not a node */
    dl_tchunk **slot = &m->treebins[x->index];
    if (x == *slot) {
        *slot = r;
        if (r == 0) m->treemap &= ~bin_bit(x->index);
    } else if (xp->child[0] == x) {
        xp->child[0] = r;
    } else if (DL_LIKELY(xp->child[1] == x)) {
        xp->child[1] = r;
    } else {
        DL_CORRUPTION("corrupted tree bin: parent does not point to its child");
    }
    if (r != 0) {
        r->parent = xp;
        for (int k = 0; k < 2; ++k) {
            dl_tchunk *c = x->child[k];
            r->child[k] = c;
            if (c != 0) c->parent = r;
        }
    }
}

/* ======================= shared entry points ======================= */

DL_INTERNAL DL_HOT_INLINE void dl_insert_chunk(dl_state *m, dl_chunk *p, size_t s) {
    if (is_small(s))
        insert_small(m, p, s);
    else
        insert_large(m, (dl_tchunk *)p, s);
    DL_CHECK_FREE(m, p);
}

DL_INTERNAL DL_HOT_INLINE void dl_unlink_chunk(dl_state *m, dl_chunk *p, size_t s) {
    if (is_small(s))
        unlink_small(m, p, s);
    else
        unlink_large(m, (dl_tchunk *)p);
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

/* A small request that no small bin can serve: the smallest chunk of the
 * lowest non-empty tree bin. */
DL_INTERNAL void *dl_tmalloc_small(dl_state *m, size_t nb) {
    dl_tchunk *t = m->treebins[lowest_bin(m->treemap)];
    dl_tchunk *v = t;
    size_t best = chunksize((dl_chunk *)t);
    /* The minimum lies on the leftmost path: a left subtree holds only sizes
     * below the right one's. */
    while ((t = leftmost_child(t)) != 0) {
        size_t s = chunksize((dl_chunk *)t);
        if (s < best) {
            best = s;
            v = t;
        }
    }
    if (DL_UNLIKELY(!ok_address(m, v))) DL_CORRUPTION("corrupted tree bin: chunk outside the heap");
    unlink_large(m, v);
    return carve(m, (dl_chunk *)v, nb, 1);
}

/* Best fit for a large request: the smallest chunk of at least nb bytes, if
 * it fits more tightly than the designated victim. */
DL_INTERNAL void *dl_tmalloc_large(dl_state *m, size_t nb) {
    dl_tchunk *v = 0;
    size_t best_rest = MAX_SIZE_T; /* leftover bytes of v */
    unsigned i = dl_tree_index(nb);
    dl_tchunk *t = m->treebins[i];
    if (t != 0) {
        /* Walk down the path nb's bits select, remembering the best fit and
         * the last right subtree we did not enter: it holds the next larger
         * sizes if the path runs out. */
        size_t bits = nb << dl_tree_leftshift(i);
        dl_tchunk *untaken_right = 0;
        for (;;) {
            size_t s = chunksize((dl_chunk *)t);
            if (s >= nb && s - nb < best_rest) {
                v = t;
                best_rest = s - nb;
                if (best_rest == 0) {
                    t = 0; /* exact fit: nothing can beat it */
                    break;
                }
            }
            dl_tchunk *right = t->child[1];
            t = t->child[top_bit(bits)];
            if (right != 0 && right != t) untaken_right = right;
            if (t == 0) {
                t = untaken_right;
                break;
            }
            bits <<= 1;
        }
    }
    if (t == 0 && v == 0) {
        dl_binmap larger = m->treemap & bins_above(i);
        if (larger != 0) t = m->treebins[lowest_bin(larger)];
    }
    while (t != 0) { /* smallest chunk of subtree t */
        size_t s = chunksize((dl_chunk *)t);
        if (s >= nb && s - nb < best_rest) {
            v = t;
            best_rest = s - nb;
        }
        t = leftmost_child(t);
    }
    if (v == 0) return 0;
    if (m->dvsize >= nb && best_rest >= m->dvsize - nb) return 0; /* dv fits better */
    if (DL_UNLIKELY(!ok_address(m, v))) DL_CORRUPTION("corrupted tree bin: chunk outside the heap");
    unlink_large(m, v);
    return carve(m, (dl_chunk *)v, nb, 0);
}
