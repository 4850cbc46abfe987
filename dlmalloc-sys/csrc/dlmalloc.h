/*
 * dlmalloc.h - the public C API of the portable allocator core.
 *
 * Names, signatures and constants match the `portable-dlmalloc` crate so that
 * code written against it links unchanged. The platform hooks the core calls
 * (pages, locks, abort) are declared in dl_hooks.h.
 *
 * Every routine here is thread-safe when the platform's lock hooks are.
 */
#ifndef DLMALLOC_H
#define DLMALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* mallopt parameters. A value of -1 means "the maximum". */
#define M_TRIM_THRESHOLD (-1) /* free top space kept before trimming (unset: each heap
                                 adapts its own, see docs/DESIGN.md) */
#define M_GRANULARITY (-2)    /* unit of system memory requests, a power of two >= page */
#define M_MMAP_THRESHOLD (-3) /* requests at or above this that free heap memory cannot
                               serve get their own mapping */

/* Error numbers stored by the core (it has no errno): returned by
 * dlposix_memalign. They have the usual Linux values. */
#define DL_ENOMEM 12
#define DL_EINVAL 22

/* The classic mallinfo report; every field is a byte or chunk count. */
struct mallinfo {
    size_t arena;    /* bytes in segments (non-mmapped space) */
    size_t ordblks;  /* number of free chunks, top included */
    size_t smblks;   /* always 0 (no fastbins in this design) */
    size_t hblks;    /* number of directly mapped chunks */
    size_t hblkhd;   /* bytes in directly mapped chunks */
    size_t usmblks;  /* maximum footprint ever reached */
    size_t fsmblks;  /* always 0 */
    size_t uordblks; /* bytes in use: footprint minus free bytes */
    size_t fordblks; /* bytes free inside the footprint */
    size_t keepcost; /* size of the top chunk: what trim could release at most */
};

/* ---- the global heap ---------------------------------------------------- */

void *dlmalloc(size_t bytes);
void dlfree(void *mem);
void *dlcalloc(size_t count, size_t elem_size);
/* realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL.
 * On failure returns NULL and leaves the old block untouched. */
void *dlrealloc(void *mem, size_t bytes);
/* Resizes without moving: returns mem on success, NULL if it cannot. */
void *dlrealloc_in_place(void *mem, size_t bytes);
/* Any alignment; a non-power-of-two is rounded up to the next power. */
void *dlmemalign(size_t alignment, size_t bytes);
/* Returns 0, DL_EINVAL (alignment not a power-of-two multiple of
 * sizeof(void*)) or DL_ENOMEM; *pp is written only on success. */
int dlposix_memalign(void **pp, size_t alignment, size_t bytes);
void *dlvalloc(size_t bytes);  /* page aligned */
void *dlpvalloc(size_t bytes); /* page aligned, size rounded up to pages */
/* Returns 1 if the parameter was set, 0 if the value was refused. */
int dlmallopt(int param, int value);
/* Sets the allocator up now (page size, parameters, the global heap and its
 * lock, which is when a platform installs its fork handlers) instead of on
 * the first call. Idempotent and thread-safe; for wrappers whose own set-up
 * must come after the core's. */
void dlmalloc_init(void);
/* Gives unused top and wholly free segments back; returns 1 if it did. */
int dlmalloc_trim(size_t pad);
size_t dlmalloc_usable_size(const void *mem);
size_t dlmalloc_footprint(void);
size_t dlmalloc_max_footprint(void);
/* (size_t)-1 means "no limit". */
size_t dlmalloc_footprint_limit(void);
/* 0 or (size_t)-1 removes the limit; other values are rounded up to
 * pages. Returns the limit in force. */
size_t dlmalloc_set_footprint_limit(size_t bytes);
struct mallinfo dlmallinfo(void);
/* Calls handler(start, end, used_bytes, arg) for every chunk: in-use chunks
 * as their usable bytes [start, end = start + used_bytes)
 * (directly mapped ones included) with used_bytes > 0, free chunks with 0.
 * The heap lock is held: the handler must not call the allocator. */
void dlmalloc_inspect_all(void (*handler)(void *start, void *end, size_t used_bytes,
                                          void *arg),
                          void *arg);
/* n blocks of elem_size bytes each, zeroed, allocated next to each other.
 * If chunks is NULL the pointer array is allocated too (free it with dlfree
 * after the blocks). Returns the array, or NULL. */
void **dlindependent_calloc(size_t n, size_t elem_size, void **chunks);
/* Like dlindependent_calloc with a size per block and no zeroing. */
void **dlindependent_comalloc(size_t n, const size_t *sizes, void **chunks);
/* Frees the n pointers of array (NULL entries are skipped) and sets each
 * entry to NULL. Returns the number it could not free (0 here). */
size_t dlbulk_free(void **array, size_t n);
/* Allocates up to n separate blocks of bytes bytes each (as n dlmalloc
 * calls would) under one lock acquisition, storing them in array[0..k).
 * Returns k: fewer than n when memory runs out (0 for n == 0 or a size no
 * block can have). An extension of this project: a thread cache refills a
 * size class with it. */
size_t dlbulk_malloc(size_t bytes, void **array, size_t n);

/* Attaches `count` mspaces to the dl* API: a block at address a with
 * base <= a < base + (count << shift) belongs to heaps[(a - base) >> shift],
 * a NULL entry meaning that region has no heap yet (the caller fills the
 * array as it creates them; it must outlive the process's use of the heap,
 * and an attached heap must never be destroyed).
 * dlfree, dlrealloc, dlrealloc_in_place and dlbulk_free then give such a
 * block to its own heap, and dlmallinfo, dlmalloc_footprint,
 * dlmalloc_max_footprint (the sum of each heap's peak), dlmalloc_trim,
 * dlmalloc_check and dlmalloc_inspect_all cover the attached heaps too, and
 * the global footprint limit bounds them all together (two heaps growing at
 * the same moment may overshoot it by one growth). One attachment per process:
 * returns 0, or -1 if the arguments are invalid or heaps are attached
 * already. The safe crate's per-thread arenas attach themselves so. */
int dlmalloc_attach_heaps(void *base, size_t count, unsigned shift, void *const *heaps);

/* ---- checking ----------------------------------------------------------- */

/* Called once per violation found by a heap check: `what` names the broken
 * invariant (static ASCII text), `where` is the chunk or record concerned.
 * Runs with the heap lock held: it must not call the allocator. */
typedef void (*dl_check_report)(const char *what, const void *where, void *arg);

/* Walks the whole global heap and verifies every invariant (boundary tags,
 * bins and their bitmaps, designated victim, top, segment records, directly
 * mapped chunks, footprint accounting). Returns the number of violations;
 * calls report (when not NULL) for each. */
size_t dlmalloc_check(dl_check_report report, void *arg);

/* ---- mspaces: independent heaps ------------------------------------------ */

/* An independent heap. Its state lives inside its own first segment. With
 * `locked` non-zero its operations take a lock (use from several threads);
 * otherwise the caller serialises them. */
typedef void *mspace;

/* A heap of at least `capacity` bytes (0: one granularity) in a fresh
 * mapping; it grows with more mappings. NULL on failure. */
mspace create_mspace(size_t capacity, int locked);
/* A heap inside caller memory [base, base+capacity). That memory is never
 * given to custom_munmap; the heap still grows with new mappings when full,
 * unless its footprint limit (mspace_set_footprint_limit) forbids it.
 * NULL if the region is too small to hold the heap's state. */
mspace create_mspace_with_base(void *base, size_t capacity, int locked);
/* Like create_mspace, but every page of the heap (its segments and its large
 * chunks' own mappings) comes from map(context, length) and goes back
 * through unmap(context, base, length) instead of the platform's
 * custom_mmap/custom_munmap, with the same contract (dl_hooks.h): map
 * returns page-aligned memory or NULL; unmap gets a whole mapping or a
 * page-aligned tail of one and returns 0 once it released the range (any
 * other value: the heap keeps using it, so nothing may change in it).
 * Both run with the heap's lock held and must not call into this heap.
 * custom_mremap is not used for such a heap. NULL if map or unmap is NULL,
 * or the first mapping fails. */
mspace create_mspace_with_source(size_t capacity, int locked,
                                 void *(*map)(void *context, size_t length),
                                 int (*unmap)(void *context, void *base, size_t length),
                                 void *context);
/* Releases every mapping the heap made (segments and large chunks) and
 * returns the bytes released. The handle and all its blocks die. */
size_t destroy_mspace(mspace msp);
/* With enable non-zero, large requests come from the heap's segments
 * instead of their own mappings. Returns the previous setting. */
int mspace_track_large_chunks(mspace msp, int enable);

/* The mspace_ twin of each dl* routine above: same contract, on msp. */
void *mspace_malloc(mspace msp, size_t bytes);
void mspace_free(mspace msp, void *mem);
void *mspace_calloc(mspace msp, size_t count, size_t elem_size);
void *mspace_realloc(mspace msp, void *mem, size_t bytes);
void *mspace_realloc_in_place(mspace msp, void *mem, size_t bytes);
void *mspace_memalign(mspace msp, size_t alignment, size_t bytes);
void **mspace_independent_calloc(mspace msp, size_t n, size_t elem_size, void **chunks);
void **mspace_independent_comalloc(mspace msp, size_t n, const size_t *sizes, void **chunks);
size_t mspace_bulk_free(mspace msp, void **array, size_t n);
size_t mspace_bulk_malloc(mspace msp, size_t bytes, void **array, size_t n);
int mspace_trim(mspace msp, size_t pad);
size_t mspace_usable_size(const void *mem);
size_t mspace_footprint(mspace msp);
size_t mspace_max_footprint(mspace msp);
size_t mspace_footprint_limit(mspace msp);
size_t mspace_set_footprint_limit(mspace msp, size_t bytes);
struct mallinfo mspace_mallinfo(mspace msp);
/* The parameters are process-wide: same as dlmallopt. */
int mspace_mallopt(int param, int value);
void mspace_inspect_all(mspace msp,
                        void (*handler)(void *start, void *end, size_t used_bytes, void *arg),
                        void *arg);
size_t mspace_check(mspace msp, dl_check_report report, void *arg);

/* ---- fork support --------------------------------------------------------- */

/* A hosted platform registers these with pthread_atfork: prepare takes the
 * locks of the global heap and of every locked mspace, parent releases them,
 * child re-initialises them so a child of a multi-threaded parent can
 * allocate. */
void dlmalloc_atfork_prepare(void);
void dlmalloc_atfork_parent(void);
void dlmalloc_atfork_child(void);

#ifdef __cplusplus
}
#endif
#endif /* DLMALLOC_H */
