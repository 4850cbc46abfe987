/*
 * dl_internal.h - what each source file provides to the others, grouped by
 * file, plus the platform hooks as the core calls them and the
 * header-writing helpers every file shares. global.c, mspace.c and fork.c
 * define only public API and share nothing.
 *
 * The sources are compiled as one unit (dl_all.c), so functions shared
 * between files are `DL_INTERNAL` (static) and the compiler can inline
 * across files; only the dl* API is visible outside.
 */
#ifndef DL_INTERNAL_H
#define DL_INTERNAL_H

#include "dl_types.h"
#include "dl_hooks.h"
#include "dlmalloc.h"

#define DL_INTERNAL static
#if defined(__GNUC__)
#define DL_API __attribute__((visibility("default")))
#define DL_LIKELY(x) __builtin_expect(!!(x), 1)
#define DL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define DL_API
#define DL_LIKELY(x) (x)
#define DL_UNLIKELY(x) (x)
#endif

/* Detected corruption or misuse: always on, whatever the debug level.
 * DL_INSECURE (Cargo feature `insecure`, never for shipping) compiles these
 * checks out so that benchmarks can measure what they cost: the compiler is
 * told the failing branch cannot happen and drops the test with it. Footers
 * and debug assertions keep their checks, so it only changes the default
 * build. */
#ifndef DL_INSECURE
#define DL_INSECURE 0
#endif
/* The common paths of malloc and free are inlined into their entry points,
 * so that they make no call but the lock's: four nested calls cost a
 * quarter of a small free. A size-optimised build (-Os, what embedded
 * users pick to save flash) leaves the choice to the compiler instead. */
#if defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
#define DL_HOT_INLINE inline __attribute__((always_inline))
#else
#define DL_HOT_INLINE inline
#endif
/* Kept out of line: the rarer branch of a function inlined everywhere. */
#if defined(__GNUC__)
#define DL_NOINLINE __attribute__((noinline))
#else
#define DL_NOINLINE
#endif

/* Copies and fills go through the compiler's builtins: -ffreestanding makes
 * plain memcpy an opaque call, but a builtin may become one instruction
 * (wasm's memory.copy and memory.fill with bulk memory, which spares a wasm
 * module a ~1 KB memcpy) or inline stores for a small constant size. Where
 * neither applies it is the same call to the memcpy and memset of
 * dl_hooks.h. */
#if defined(__GNUC__)
#define dl_memcpy __builtin_memcpy
#define dl_memset __builtin_memset
#else
#define dl_memcpy memcpy
#define dl_memset memset
#endif

/* Three kinds of failure, each with its own message at each check:
 *   DL_CORRUPTION  the heap's own structures are inconsistent;
 *   DL_MISUSE      a caller passed a pointer or handle the heap never gave
 *                  out, or gave back already (double free);
 *   DL_BAD_HOOK    a platform hook broke its contract.
 * DL_SHORT_MESSAGES (Cargo feature `short-messages`) passes one short text
 * per kind instead, for targets where ~1.5 KB of text matters (wasm
 * modules); the file and line still name the check. `sizeof` keeps the
 * long text (and the tables some checks pick it from) out of the build
 * without an unused-variable warning. */
#ifndef DL_SHORT_MESSAGES
#define DL_SHORT_MESSAGES 0
#endif
#if DL_INSECURE && !DL_FOOTERS && DL_DEBUG == 0 && defined(__GNUC__)
#define DL_FAIL(kind, msg) ((void)sizeof(msg), __builtin_unreachable())
#elif DL_SHORT_MESSAGES
#define DL_FAIL(kind, msg) ((void)sizeof(msg), custom_abort((kind), __FILE__, __LINE__))
#else
#define DL_FAIL(kind, msg) custom_abort((msg), __FILE__, __LINE__)
#endif
#define DL_CORRUPTION(msg) DL_FAIL("heap corruption detected (a write past a block?)", msg)
#define DL_MISUSE(msg) \
    DL_FAIL("invalid free or realloc (double free, or not a block of this heap)", msg)
#define DL_BAD_HOOK(msg) DL_FAIL("a platform hook broke its contract", msg)

#if DL_DEBUG >= 1
#define DL_ASSERT(x) \
    ((x) ? (void)0 : custom_abort("internal assertion failed: " #x, __FILE__, __LINE__))
#else
#define DL_ASSERT(x) ((void)0)
#endif

/* ---- params.c: process-wide parameters, one-time set-up, mallopt -------- */

typedef struct dl_params {
    size_t magic;
    size_t page_size;
    size_t granularity;
    size_t mmap_threshold;
    size_t trim_threshold;
    int trim_threshold_set; /* by mallopt: every heap uses it, none adapts its own */
} dl_params;

DL_INTERNAL dl_params dl_mparams;
DL_INTERNAL dl_state dl_gm; /* the global heap */
DL_INTERNAL int dl_params_ready; /* 0 not set up, 1 being set up, 2 ready */

DL_INTERNAL void dl_init_slow(void);
/* Every public entry calls this first; after start-up it is one load. */
static inline void dl_ensure_initialized(void) {
    if (DL_UNLIKELY(__atomic_load_n(&dl_params_ready, __ATOMIC_ACQUIRE) != 2))
        dl_init_slow();
}
DL_INTERNAL void dl_init_state(dl_state *m, unsigned flags);
/* The size of top above which a free trims heap m: the program's
 * M_TRIM_THRESHOLD once it set one, else the heap's own, which adapts. */
static inline size_t dl_trim_threshold(const dl_state *m) {
    return dl_mparams.trim_threshold_set ? dl_mparams.trim_threshold : m->trim_threshold;
}
DL_INTERNAL int dl_set_param(int param, int value);
static inline size_t dl_page_align(size_t s) {
    return (s + dl_mparams.page_size - 1) & ~(dl_mparams.page_size - 1);
}
static inline size_t dl_granularity_align(size_t s) {
    return (s + dl_mparams.granularity - 1) & ~(dl_mparams.granularity - 1);
}

/* ---- the platform hooks, as the core calls them ----------------------------
 * dl_hooks.h states the contract and declares the hooks. Here is the core's
 * side of it: the attributes the compiler should know, the weak references
 * to the optional hooks, and the one place where the failure conventions
 * are decoded. The rest of the core calls these wrappers, never
 * custom_mmap, custom_mremap or custom_page_size directly. */

#if defined(__GNUC__)
#define DL_NORETURN __attribute__((noreturn))
#else
#define DL_NORETURN
#endif
DL_NORETURN void custom_abort(const char *msg, const char *file, unsigned line);

#if DL_NEVER_UNMAP
/* ---- recycle.c: the platform pages heaps gave back (never-unmap) ---------- */
DL_INTERNAL void *dl_recycle_lock; /* guards the list; params.c initialises it */
/* len bytes (whole pages) of recycled pages, or NULL; a null pointer until
 * anything was recycled. */
DL_INTERNAL void *(*dl_recycled_take)(size_t len);
/* Keeps [base, base + len) (whole pages) for dl_recycled_take. */
DL_INTERNAL void dl_recycled_give(void *base, size_t len);
#endif

/* DL_SINGLE_THREAD: no two threads can ever run the core (build.rs sets it
 * for wasm32 without the atomics feature: such a module has no shared
 * memory, so no threads). The lock hooks are then never called, which
 * spares every operation two calls the compiler cannot see into. */
#ifndef DL_SINGLE_THREAD
#define DL_SINGLE_THREAD 0
#endif
#if DL_SINGLE_THREAD
#define init_lock(lk) ((void)(lk))
#define final_lock(lk) ((void)(lk))
#define acquire_lock(lk) ((void)(lk))
#define release_lock(lk) ((void)(lk))
#endif

/* The failure value of custom_mmap and custom_mremap: (void*)-1. */
#define DL_MMAP_FAILED ((void *)~(size_t)0)

/* Optional hooks are weak references where build.rs says the target has
 * them (not COFF); elsewhere they are never referenced, so a platform
 * without them still links. */
#if DL_WEAK_HOOKS
size_t custom_page_size(void) __attribute__((weak));
#endif
#if DL_WEAK_MREMAP
void *custom_mremap(void *old, size_t old_len, size_t new_len, int may_move)
    __attribute__((weak));
#endif

static inline int dl_is_page_aligned(const void *p) {
    return ((size_t)p & (dl_mparams.page_size - 1)) == 0;
}

/* len bytes of fresh pages from the platform or from a heap's own source,
 * or NULL: both failure values end here. */
static inline void *dl_map_from(const dl_page_source *source, size_t len) {
#if DL_NEVER_UNMAP
    void *(*take)(size_t) = __atomic_load_n(&dl_recycled_take, __ATOMIC_RELAXED);
    if (source->map == 0 && take != 0) {
        void *recycled = take(len);
        if (recycled != 0) return recycled;
    }
#endif
    void *p = source->map != 0 ? source->map(source->context, len) : custom_mmap(len);
    if (p == DL_MMAP_FAILED || p == 0) return 0;
    if (DL_UNLIKELY(!dl_is_page_aligned(p)))
        DL_BAD_HOOK("custom_mmap (or an mspace's page source) returned memory that is not "
                      "page aligned");
    return p;
}
static inline void *dl_map(size_t len) {
    static const dl_page_source platform = {0, 0, 0};
    return dl_map_from(&platform, len);
}
/* 0 if the platform (or the heap's own source) released the range. The
 * platform's pages are recycled instead when it never unmaps. */
static inline int dl_unmap_from(const dl_page_source *source, void *base, size_t len) {
#if DL_NEVER_UNMAP
    if (source->unmap == 0) {
        dl_recycled_give(base, len);
        return 0;
    }
#endif
    return source->unmap != 0 ? source->unmap(source->context, base, len)
                              : custom_munmap(base, len);
}

/* The platform's page size, or DL_DEFAULT_PAGE_SIZE without the hook. */
static inline size_t dl_platform_page_size(void) {
#if DL_WEAK_HOOKS
    if (custom_page_size != 0) return custom_page_size();
#endif
    return DL_DEFAULT_PAGE_SIZE;
}

static inline int dl_can_remap(void) {
#if DL_WEAK_MREMAP
    return custom_mremap != 0;
#else
    return 0;
#endif
}

/* Whether heap m's directly mapped chunks can grow without a copy:
 * custom_mremap knows only the platform's mappings, not a page source's. */
static inline int dl_can_grow_mappings(const dl_state *m) {
    return dl_can_remap() && m->source.map == 0;
}

/* The mapping's new start, or NULL when the platform cannot grow it (the
 * old mapping is then intact). Call only when dl_can_remap(). */
static inline char *dl_remap(void *old, size_t old_len, size_t new_len, int may_move) {
#if DL_WEAK_MREMAP
    void *p = custom_mremap(old, old_len, new_len, may_move);
    if (p == DL_MMAP_FAILED || p == 0) return 0;
    if (DL_UNLIKELY(!dl_is_page_aligned(p)))
        DL_BAD_HOOK("custom_mremap returned memory that is not page aligned");
    if (DL_UNLIKELY(!may_move && p != old))
        DL_BAD_HOOK("custom_mremap moved a mapping it was asked to grow in place");
    return (char *)p;
#else
    (void)old, (void)old_len, (void)new_len, (void)may_move;
    return 0;
#endif
}

/* ---- header helpers shared by all files ------------------------------------- */

static inline void dl_lock(dl_state *m) {
    if (m->flags & USE_LOCK_FLAG) acquire_lock(&m->mutex);
}
static inline void dl_unlock(dl_state *m) {
    if (m->flags & USE_LOCK_FLAG) release_lock(&m->mutex);
}

/* The owner tag written after every in-use chunk when footers are on. */
static inline size_t dl_owner_tag(const dl_state *m) {
    return (size_t)m ^ dl_mparams.magic;
}
static inline void mark_owner(dl_state *m, dl_chunk *p, size_t s) {
#if DL_FOOTERS
    CHUNK_AT(p, s)->prev_foot = dl_owner_tag(m);
#else
    (void)m, (void)p, (void)s;
#endif
}
/* In use with size s, keeping p's own PINUSE; tells the next chunk. */
static inline void set_inuse(dl_state *m, dl_chunk *p, size_t s) {
    p->head = (p->head & PINUSE_BIT) | s | CINUSE_BIT;
    CHUNK_AT(p, s)->head |= PINUSE_BIT;
    mark_owner(m, p, s);
}
/* In use with size s and previous in use; tells the next chunk. */
static inline void set_inuse_and_pinuse(dl_state *m, dl_chunk *p, size_t s) {
    p->head = s | PINUSE_BIT | CINUSE_BIT;
    CHUNK_AT(p, s)->head |= PINUSE_BIT;
    mark_owner(m, p, s);
}
/* In use with size s and previous in use; the next chunk is written later. */
static inline void set_size_and_pinuse_of_inuse_chunk(dl_state *m, dl_chunk *p, size_t s) {
    p->head = s | PINUSE_BIT | CINUSE_BIT;
    mark_owner(m, p, s);
}
/* Free with size s and previous in use; writes the boundary tag. */
static inline void set_size_and_pinuse_of_free_chunk(dl_chunk *p, size_t s) {
    p->head = s | PINUSE_BIT;
    CHUNK_AT(p, s)->prev_foot = s;
}
/* Free with size s, previous in use, and next chunk n told it is free. */
static inline void set_free_with_pinuse(dl_chunk *p, size_t s, dl_chunk *n) {
    n->head &= ~PINUSE_BIT;
    set_size_and_pinuse_of_free_chunk(p, s);
}
static inline int ok_address(const dl_state *m, const void *a) {
    return (const char *)a >= m->least_addr;
}

/* ---- bins.c: small bins, large bins, fit search ------------------------------ */

/* Inline: a small bin's list takes a few instructions, a large bin a call. */
DL_INTERNAL DL_HOT_INLINE void dl_insert_chunk(dl_state *m, dl_chunk *p, size_t s);
DL_INTERNAL DL_HOT_INLINE void dl_unlink_chunk(dl_state *m, dl_chunk *p, size_t s);
DL_INTERNAL void dl_replace_dv(dl_state *m, dl_chunk *p, size_t s);
DL_INTERNAL void *dl_tmalloc_small(dl_state *m, size_t nb);
DL_INTERNAL void *dl_tmalloc_large(dl_state *m, size_t nb, int thorough);

/* ---- sysmem.c: segments, direct mappings, trimming ------------------------- */

DL_INTERNAL void *dl_sys_alloc(dl_state *m, size_t nb, int may_map);
DL_INTERNAL void *dl_take_from_top(dl_state *m, size_t nb);
DL_INTERNAL void dl_unmap_chunk(dl_state *m, dl_chunk *p);
DL_INTERNAL dl_chunk *dl_advance_mapped_chunk(dl_chunk *p, size_t lead);
DL_INTERNAL dl_chunk *dl_mmap_resize(dl_state *m, dl_chunk *p, size_t nb, int can_move);
DL_INTERNAL int dl_sys_trim(dl_state *m, size_t pad);
DL_INTERNAL size_t dl_release_free_segments(dl_state *m);
DL_INTERNAL void dl_init_top(dl_state *m, dl_chunk *p, size_t psize);
DL_INTERNAL int dl_footprint_allows(const dl_state *m, size_t more);

/* ---- heap.c: the algorithms behind every entry point (lock held) ------------- */

DL_INTERNAL void *dl_heap_malloc(dl_state *m, size_t bytes);
/* dl_heap_malloc, but with may_map 0 a large request stays in the heap
 * rather than getting a mapping of its own. */
DL_INTERNAL void *dl_heap_malloc_placed(dl_state *m, size_t bytes, int may_map);
DL_INTERNAL void dl_heap_free(dl_state *m, dl_chunk *p);
/* The same two, inlined: for malloc and free themselves (entry.c). */
static DL_HOT_INLINE void *dl_heap_malloc_inline(dl_state *m, size_t bytes);
static DL_HOT_INLINE void dl_heap_free_inline(dl_state *m, dl_chunk *p);
DL_INTERNAL dl_chunk *dl_merge_with_next(dl_state *m, dl_chunk *p, size_t psize);
DL_INTERNAL dl_chunk *dl_dispose_chunk(dl_state *m, dl_chunk *p, size_t psize);
DL_INTERNAL dl_chunk *dl_resize_chunk(dl_state *m, dl_chunk *p, size_t nb, int can_move);
DL_INTERNAL void *dl_heap_memalign(dl_state *m, size_t alignment, size_t bytes);
DL_INTERNAL void **dl_heap_ialloc(dl_state *m, size_t n, const size_t *sizes, size_t elem_size,
                                  int zero, void **chunks);
DL_INTERNAL void dl_heap_bulk_free(dl_state *m, void **array, size_t n);
/* Which entry point is validating a pointer: selects the abort messages. */
typedef enum { DL_OP_FREE, DL_OP_REALLOC } dl_op;
DL_INTERNAL DL_HOT_INLINE dl_chunk *dl_checked_chunk(dl_state *m, void *mem, dl_op op);
DL_INTERNAL size_t dl_usable_size(const void *mem);

/* ---- stats.c: mallinfo, inspect_all, footprint ------------------------------ */

DL_INTERNAL struct mallinfo dl_heap_mallinfo(dl_state *m);
DL_INTERNAL void dl_heap_inspect(dl_state *m,
                                 void (*handler)(void *, void *, size_t, void *), void *arg);
DL_INTERNAL size_t dl_limit_from_request(size_t bytes);

/* ---- registry.c: the list of live mspaces ------------------------------------ */

DL_INTERNAL void *dl_registry_lock; /* guards the list; params.c initialises it */
DL_INTERNAL dl_state *dl_live_mspaces; /* linked through next_space */
DL_INTERNAL void dl_register_mspace(dl_state *m);
DL_INTERNAL void dl_unregister_mspace(dl_state *m);
#if DL_FOOTERS
DL_INTERNAL int dl_is_live_heap(const dl_state *owner);
#endif

/* ---- attached.c: heaps attached to the dl* API ---------------------------------- */

/* The heap a block given to a dl* routine belongs to: an attached heap if
 * the block lies in its region, else the global heap. */
DL_INTERNAL dl_state *dl_heap_of(const void *mem);
/* How many attached heaps there are room for, and heap i (NULL: none yet). */
DL_INTERNAL size_t dl_attached_count(void);
DL_INTERNAL dl_state *dl_attached(size_t i);
/* The sum of one size_t field (at `offset` in dl_state) over the global
 * heap and the attached heaps, read without their locks. */
DL_INTERNAL size_t dl_total_stat(size_t offset);
/* Whether heap m's growth is bounded by the global limit over the total:
 * the global heap or an attached heap, once heaps are attached. */
DL_INTERNAL int dl_under_global_limit(const dl_state *m);

/* ---- entry.c: each public operation once, for any heap -------------------------
 * global.c (the dl* API on the global heap) and mspace.c (the mspace_* API)
 * are wrappers around these; each takes the heap's lock itself. */

DL_INTERNAL DL_HOT_INLINE void *dl_op_malloc(dl_state *m, size_t bytes);
DL_INTERNAL DL_HOT_INLINE void dl_op_free(dl_state *m, void *mem);
DL_INTERNAL void *dl_op_calloc(dl_state *m, size_t count, size_t elem_size);
DL_INTERNAL void *dl_op_realloc(dl_state *m, void *mem, size_t bytes);
DL_INTERNAL void *dl_op_realloc_in_place(dl_state *m, void *mem, size_t bytes);
DL_INTERNAL void *dl_op_memalign(dl_state *m, size_t alignment, size_t bytes);
DL_INTERNAL void **dl_op_ialloc(dl_state *m, size_t n, const size_t *sizes, size_t elem_size,
                                int zero, void **chunks);
DL_INTERNAL size_t dl_op_bulk_malloc(dl_state *m, size_t bytes, void **array, size_t n);
DL_INTERNAL size_t dl_op_bulk_free(dl_state *m, void **array, size_t n);
DL_INTERNAL int dl_op_trim(dl_state *m, size_t pad);
DL_INTERNAL size_t dl_op_set_footprint_limit(dl_state *m, size_t bytes);
DL_INTERNAL struct mallinfo dl_op_mallinfo(dl_state *m);
DL_INTERNAL void dl_op_inspect_all(dl_state *m,
                                   void (*handler)(void *, void *, size_t, void *), void *arg);
DL_INTERNAL size_t dl_op_check(dl_state *m, dl_check_report report, void *arg);
DL_INTERNAL int dl_op_mallopt(int param, int value);
/* A statistic read without the lock: exact when nothing else runs. */
DL_INTERNAL size_t dl_read_stat(const size_t *word);

/* ---- check.c: the heap walker and debug checks ------------------------------- */

DL_INTERNAL size_t dl_heap_check(dl_state *m, dl_check_report report, void *arg);

#if DL_DEBUG >= 2
DL_INTERNAL void dl_debug_check_inuse(dl_state *m, const dl_chunk *p);
DL_INTERNAL void dl_debug_check_free(dl_state *m, const dl_chunk *p);
#define DL_CHECK_INUSE(m, p) dl_debug_check_inuse((m), (p))
#define DL_CHECK_FREE(m, p) dl_debug_check_free((m), (p))
#else
#define DL_CHECK_INUSE(m, p) ((void)0)
#define DL_CHECK_FREE(m, p) ((void)0)
#endif
#if DL_DEBUG >= 3
#define DL_CHECK_HEAP(m) \
    (dl_heap_check((m), 0, 0) == 0 ? (void)0 : DL_CORRUPTION("heap check failed after an operation"))
#else
#define DL_CHECK_HEAP(m) ((void)0)
#endif

#endif /* DL_INTERNAL_H */
