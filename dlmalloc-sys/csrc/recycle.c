/*
 * recycle.c - with DL_NEVER_UNMAP, the platform's pages that a heap gives
 * back (a destroyed mspace's segments) are kept here and handed to the next
 * heap that needs pages from the platform. Such a platform can never take
 * memory back (wasm32's memory only grows): without this, a program that
 * creates and drops mspaces in a loop would grow without bound.
 *
 * The list lives in the ranges themselves, so keeping it allocates
 * nothing: a range's first words hold its length and the next range.
 * Ranges are whole pages, sorted by address, and touching ones are merged,
 * so a destroyed heap's adjacent segments can serve one larger request.
 * A heap's own page source (mspace_with_source) is not involved: its
 * pages go back to it.
 */
#include "dl_internal.h"

#if DL_NEVER_UNMAP

typedef struct dl_range {
    size_t len;
    struct dl_range *next;
} dl_range;

DL_INTERNAL void *dl_recycle_lock; /* params.c initialises it */
static dl_range *recycled;         /* the lowest range, or NULL */

/* Set by the first dl_recycled_give: growth calls dl_recycled_take through
 * it, so a program that never destroys a heap links none of this file's
 * code (each function is its own section, and nothing else refers to
 * these), which keeps a wasm module ~150 bytes smaller. */
DL_INTERNAL void *(*dl_recycled_take)(size_t len);

static void *take(size_t len) {
    acquire_lock(&dl_recycle_lock);
    dl_range **link = &recycled;
    while (*link != 0 && (*link)->len < len) link = &(*link)->next;
    dl_range *r = *link;
    if (r != 0) {
        /* Lengths are page multiples: what is left is none or a page. */
        if (r->len == len) {
            *link = r->next;
        } else {
            dl_range *rest = (dl_range *)(void *)((char *)r + len);
            rest->len = r->len - len;
            rest->next = r->next;
            *link = rest;
        }
    }
    release_lock(&dl_recycle_lock);
    return r;
}

DL_INTERNAL void dl_recycled_give(void *base, size_t len) {
    dl_range *r = (dl_range *)base;
    acquire_lock(&dl_recycle_lock);
    __atomic_store_n(&dl_recycled_take, take, __ATOMIC_RELAXED);
    dl_range *before = 0;
    dl_range **link = &recycled;
    while (*link != 0 && *link < r) {
        before = *link;
        link = &before->next;
    }
    r->len = len;
    r->next = *link;
    if ((char *)r + len == (char *)r->next) { /* touches the range after it */
        r->len += r->next->len;
        r->next = r->next->next;
    }
    if (before != 0 && (char *)before + before->len == (char *)r) {
        before->len += r->len; /* ... and the one before */
        before->next = r->next;
    } else {
        *link = r;
    }
    release_lock(&dl_recycle_lock);
}

#endif /* DL_NEVER_UNMAP */
